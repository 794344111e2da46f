// smsq's web page: the little JavaScript it has. Every page works without it; with it, the
// Send page counts characters and parts as the text is typed (the server counts, with the
// same codec that will encode the message), a chosen CSV file fills the import box, and
// buttons that change something ask first.
"use strict";
(function () {
  var text = document.getElementById("text");
  var out = document.getElementById("counter");
  if (text && out) {
    var timer = null;
    var show = function () {
      var q = new URLSearchParams({ text: text.value });
      var enc = document.getElementById("encoding");
      if (enc) q.set("encoding", enc.value);
      fetch("/api/estimate?" + q.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (e) {
          out.textContent = "";
          if (e.error) { out.textContent = e.error; return; }
          out.append(e.chars + " characters · " + e.parts + (e.parts === 1 ? " part" : " parts") +
            " · " + e.alphabet + " · " + e.left + " left in this part");
          if (e.forced && e.forced.length) {
            var f = document.createElement("span");
            f.className = "forced";
            f.textContent = " · UCS-2 because of: " + e.forced.join(" ");
            out.append(f);
          }
        })
        .catch(function () {});
    };
    text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(show, 150); });
    show();
  }
  var file = document.getElementById("csv-file");
  var csv = document.getElementById("csv");
  if (file && csv) {
    file.addEventListener("change", function () {
      if (file.files.length) file.files[0].text().then(function (t) { csv.value = t; });
    });
  }
  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (ev) {
      if (!window.confirm(b.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
})();
