//! The shop's web page in a real browser: Debian's headless Chromium, driven over WebDriver,
//! against `smsqd` on a simulated modem over a pty. A shop owner's first hour: the setup
//! link from the log, a text sent and watched to `delivered`, a customer's reply read and
//! answered, a contact opted out and the next send refused; and the attacks the requirements
//! name (CSRF, XSS, a viewer's view). Screenshots of each page land in target/screenshots.
//! Each test names the requirement of ../shared/customer-care.md it checks.

#[path = "common/http.rs"]
mod http;
#[path = "common/smsqd.rs"]
mod smsqd;
#[path = "common/tools.rs"]
mod tools;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use http::{free_port, raw};
use smsqd::{ANA, BEN, ExternalModem, Smsqd, sent_to, start, until};
use webdriver::Browser;

const OWNER_PASSWORD: &str = "ana's shop 2026";

fn start_web(modem: &ExternalModem, port: u16) -> Smsqd {
    let d = start(modem, &format!("\n[web]\nlisten = \"127.0.0.1:{port}\"\n"));
    http::wait_listening(port, "the web listener");
    d
}

/// The one-time setup link smsqd logged.
async fn setup_link(d: &Smsqd) -> String {
    let mut link = String::new();
    until("the setup link in the log", async || {
        let log = d.log();
        match log.find("/setup?token=") {
            Some(at) => {
                let start = log[..at].rfind("http://").unwrap();
                let end = log[at..]
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .map_or(log.len(), |e| at + e);
                link = log[start..end].to_string();
                true
            }
            None => false,
        }
    })
    .await;
    link
}

async fn sign_in(b: &Browser, port: u16, name: &str, password: &str) {
    b.goto(&format!("http://127.0.0.1:{port}/login")).await;
    b.type_into("input[name=name]", name).await;
    b.type_into("input[name=password]", password).await;
    b.click("button[type=submit]").await;
    b.wait_text("header", name, 10, false).await;
}

/// CC-5.2, CC-5.5, CC-5.6: the first hour, page by page, in Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_owner_sets_up_sends_answers_and_opts_out() {
    if !Browser::available()
        && tools::missing(
            "Chromium and chromedriver",
            "apt-get install chromium chromium-driver",
        )
    {
        return;
    }
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_web(&modem, port);
    // Mid-morning in Manila, whenever the test runs.
    let mut socket = d.client().await;
    smsqd::set_clock(&mut socket, "2026-12-02T10:00:00+08:00").await;
    let b = Browser::start(1100, 900).await;
    let site = format!("http://127.0.0.1:{port}");

    // No account, no default password: the sign-in page says where the setup link is.
    b.goto(&format!("{site}/send")).await;
    assert!(b.url().await.ends_with("/login"));
    assert!(b.text("main").await.contains("setup link"));
    b.screenshot("01-login-before-setup").await;

    // The setup link creates the owner and signs her in; it works once.
    let link = setup_link(&d).await;
    b.goto(&link).await;
    b.type_into("input[name=name]", "ana").await;
    b.type_into("input[name=password]", OWNER_PASSWORD).await;
    b.type_into("input[name=password2]", OWNER_PASSWORD).await;
    b.screenshot("02-setup").await;
    b.click("button[type=submit]").await;
    b.wait_text("h1", "Send", 10, false).await;

    // The live counter: parts and encoding as typed, and the character that forces UCS-2.
    b.type_into("input[name=to]", "0917 123 4567").await;
    b.type_into("#text", "Hi Ana, your documents are ready.")
        .await;
    let c = b.wait_text("#counter", "33 characters", 10, false).await;
    assert!(c.contains("1 part · gsm7"), "{c}");
    b.type_into("#text", " Zółw").await;
    let c = b.wait_text("#counter", "ucs2", 10, false).await;
    assert!(c.contains("UCS-2 because of: ó ł"), "{c}");
    b.screenshot("03-send-counter").await;
    b.clear("#text").await;
    b.type_into("#text", "Hi Ana, your documents are ready.")
        .await;

    // Check first: what the gate would say, before anything is sent.
    b.click("button[formaction='/send/check']").await;
    b.wait_text("main", "1 recipient(s) can be texted now.", 10, false)
        .await;
    assert!(sent_to(&modem, ANA).is_empty(), "checking sends nothing");
    b.click("#send").await;
    b.wait_text("main", "Queued", 10, false).await;
    b.wait_text("#outbox tbody tr:first-child .state", "delivered", 20, true)
        .await;
    assert_eq!(sent_to(&modem, ANA), ["Hi Ana, your documents are ready."]);
    b.screenshot("04-outbox-delivered").await;

    // A reply arrives: the conversation shows it waiting, and the answer goes out.
    modem.sim.deliver_text(ANA, "Thanks! Can I come at 5?", 1);
    b.goto(&format!("{site}/threads")).await;
    b.wait_text("#threads", "Thanks! Can I come at 5?", 15, true)
        .await;
    assert!(
        b.text("#threads").await.contains("min") || b.text("#threads").await.contains("just now")
    );
    b.screenshot("05-conversations").await;
    b.click("#threads a").await;
    b.wait_text("#conversation", "Can I come at 5?", 10, false)
        .await;
    b.type_into("#text", "Yes, see you at 5.").await;
    b.click("button[type=submit]:not(.plain)").await;
    b.wait_text("main", "Reply queued", 10, false).await;
    until("the reply sent", async || sent_to(&modem, ANA).len() == 2).await;
    assert_eq!(sent_to(&modem, ANA)[1], "Yes, see you at 5.");
    b.screenshot("06-conversation").await;
    b.click("#resolve button").await;
    b.wait_text("main", "Marked resolved.", 10, false).await;
    assert!(
        !b.text("main").await.contains("Can I come at 5?"),
        "resolved: off the list"
    );

    // A contact whose name is markup, and a reply that is markup: shown as text, inert.
    b.goto(&format!("{site}/contacts")).await;
    b.type_into("#add-contact input[name=number]", BEN).await;
    b.type_into(
        "#add-contact input[name=name]",
        "<script>window.pwned=1</script>Ben",
    )
    .await;
    b.type_into("#add-contact input[name=tags]", "vip").await;
    b.click("#add-contact button").await;
    b.wait_text("#contacts", "<script>window.pwned=1</script>Ben", 10, false)
        .await;
    modem
        .sim
        .deliver_text(BEN, "<img src=x onerror=\"window.pwned=2\"> hi", 2);
    b.goto(&format!("{site}/threads")).await;
    b.wait_text(
        "#threads",
        "<img src=x onerror=\"window.pwned=2\"> hi",
        15,
        true,
    )
    .await;
    assert_eq!(b.exec("return typeof window.pwned").await, "undefined");
    b.goto(&format!("{site}/contacts")).await;
    assert_eq!(b.exec("return typeof window.pwned").await, "undefined");
    assert_eq!(
        b.exec("return document.querySelectorAll('#contacts script').length")
            .await,
        0
    );
    b.screenshot("07-contacts").await;

    // CC-3.3 from the page: a customer list, first as a dry run with its report.
    b.exec(
        "document.getElementById('csv').value = 'number,name,tags\\n09171234569,Carla,repair\\nabc,Bad,x\\n'",
    )
    .await;
    b.click("form[action='/contacts/import'] button").await;
    let report = b.wait_text("#import", "invalid", 10, false).await;
    assert!(report.contains("added"), "{report}");
    assert!(b.text("main").await.contains("Dry run"));
    b.screenshot("07b-import-dry-run").await;
    assert!(
        !b.text("#contacts").await.contains("Carla"),
        "a dry run changes nothing"
    );

    // Ben is opted out at the counter (a note is required); a send to him is refused.
    b.goto(&format!("{site}/optouts")).await;
    b.type_into("#opt-out input[name=number]", BEN).await;
    b.type_into("#opt-out input[name=note]", "asked at the counter")
        .await;
    b.click("#opt-out button").await;
    b.wait_text("main", "Opted out", 10, false).await;
    b.wait_text("#optouts", "asked at the counter", 10, false)
        .await;
    b.screenshot("08-optouts").await;
    b.goto(&format!("{site}/send")).await;
    b.type_into("input[name=to]", "#vip").await;
    b.type_into("#text", "Your laptop is ready.").await;
    b.click("#send").await;
    b.wait_text("main", "opted_out", 10, false).await;
    b.screenshot("09-send-refused").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sent_to(&modem, BEN).is_empty(),
        "nothing reached the opted-out customer"
    );

    // Modems.
    b.goto(&format!("{site}/modems")).await;
    b.wait_text("#modems", "ready", 10, false).await;
    b.type_into("input[name=code]", "*143#").await;
    b.click("form[action='/modems/ussd'] button").await;
    b.wait_text("main", "Your balance is P10.50", 20, false)
        .await;
    b.screenshot("10-modems").await;

    // CC-5.3: the session's cookie alone does not make a form: no token, no change; a form
    // from another site is refused; no GET changes anything.
    let cookie = b.cookie("smsq_session").await.expect("a session cookie");
    let form = |extra: &str, body: &str| {
        format!(
            "POST /optouts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let body = "action=out&number=%2B639171234567&note=forged";
    let answer = raw(port, form("", body).as_bytes());
    assert_eq!(answer.status(), 403, "no CSRF token");
    let token = b
        .exec("return document.querySelector('input[name=csrf]').value")
        .await;
    let with_token = format!("{body}&csrf={}", token.as_str().unwrap());
    let answer = raw(
        port,
        form("Origin: http://evil.example\r\n", &with_token).as_bytes(),
    );
    assert_eq!(answer.status(), 403, "another site's form");
    let answer = raw(
        port,
        format!("GET /logout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(answer.status(), 405, "signing out is a POST");
    let ana = socket
        .call(smsq::api::ConsentGet { number: ANA.into() })
        .await
        .unwrap();
    assert!(!ana.opted_out, "no forged opt-out");
    let rebound = raw(
        port,
        format!("GET /outbox HTTP/1.1\r\nHost: evil.example:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(rebound.status(), 403, "DNS rebinding");

    // CC-5.6: a viewer reads, with numbers masked, and cannot send.
    b.goto(&format!("{site}/users")).await;
    b.type_into("#add-user input[name=name]", "vic").await;
    b.exec("document.querySelector('#add-user select[name=role]').value = 'viewer'")
        .await;
    b.type_into("#add-user input[name=password]", "viewer pass 2026")
        .await;
    b.click("#add-user button").await;
    b.wait_text("#users", "vic", 10, false).await;
    b.screenshot("11-users").await;
    b.click("header button").await;
    sign_in(&b, port, "vic", "viewer pass 2026").await;
    b.goto(&format!("{site}/outbox")).await;
    let outbox = b.wait_text("#outbox", "+*********567", 10, false).await;
    assert!(!outbox.contains(ANA), "{outbox}");
    assert!(
        b.all("#outbox button").await.is_empty(),
        "no actions for a viewer"
    );
    b.screenshot("12-viewer-outbox").await;
    b.goto(&format!("{site}/send")).await;
    assert!(b.text("main").await.contains("does not allow"));

    // The setup link is spent.
    b.goto(&link).await;
    assert!(b.text("h1").await.contains("not valid"));

    // Readable on a phone.
    drop(b);
    let phone = Browser::start(390, 844).await;
    sign_in(&phone, port, "ana", OWNER_PASSWORD).await;
    phone.wait_text("h1", "Send", 10, false).await;
    let overflow = phone
        .exec("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(overflow, true, "the Send page fits a phone's width");
    phone.screenshot("13-phone-send").await;
    phone.goto(&format!("{site}/outbox")).await;
    phone.screenshot("14-phone-outbox").await;
    assert!(!d.log().contains(OWNER_PASSWORD));
}

/// CC-5.2: wrong passwords are refused alike for unknown names, and a burst of them from
/// one address is throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_guessing_is_throttled() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let _d = start_web(&modem, port);
    let login = || {
        let page = raw(
            port,
            format!("GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        let cookie = page
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = cookie.split_once('=').unwrap().1.to_string();
        (cookie, token)
    };
    let attempt = |name: &str| {
        let (cookie, token) = login();
        let body = format!("login={token}&name={name}&password=guess-123456");
        raw(
            port,
            format!(
                "POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    for _ in 0..5 {
        let a = attempt("nobody");
        assert_eq!(a.status(), 401);
        assert!(a.text().contains("Wrong name or password."));
    }
    let a = attempt("nobody");
    assert!(a.text().contains("Too many attempts"), "{}", a.text());
    // Without the form's cookie the sign-in form is refused outright.
    let body = "login=x&name=a&password=b";
    let a = raw(
        port,
        format!("POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes(),
    );
    assert_eq!(a.status(), 403);
}

/// CC-5.2: a lost owner password is not the end: the local administrator asks `smsq
/// web-setup` (the socket's permissions decide who may) for a new one-time link, which
/// creates another owner once; the link before it stops working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_setup_link_from_smsq_creates_an_owner_once() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_web(&modem, port);
    let first = setup_link(&d).await;
    let out = d.smsq(&["web-setup"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/setup?token=")),
        "{link}"
    );
    assert_ne!(link, first);
    let path = |l: &str| l[l.find("/setup").unwrap()..].to_string();
    let get = |p: &str| {
        raw(
            port,
            format!("GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
    };
    assert_eq!(
        get(&path(&first)).status(),
        403,
        "the earlier link stopped working"
    );
    assert_eq!(get(&path(&link)).status(), 200);
    let token = link.split_once("token=").unwrap().1;
    let create = |name: &str| {
        let body = format!(
            "token={token}&name={name}&password=another+owner+pw&password2=another+owner+pw"
        );
        raw(
            port,
            format!(
                "POST /setup HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    let made = create("ana2");
    assert_eq!(made.status(), 303, "{}", made.text());
    assert!(
        made.header("set-cookie")
            .unwrap()
            .starts_with("smsq_session=")
    );
    assert_eq!(create("ana3").status(), 403, "the link works once");

    // Without a web page there is nothing to link to.
    let plain = Smsqd::start(&[]);
    let out = plain.smsq(&["--json-errors", "web-setup"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unavailable"));
}
