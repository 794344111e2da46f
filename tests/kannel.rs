//! Kannel's `sendsms` interface through the real binaries: `smsqd` on a simulated modem over
//! a pty, spoken to over HTTP with the exact requests playSMS and RapidPro's courier send
//! (from their public source), answered with Kannel's exact bytes; delivery reports and
//! pushed messages received by a local HTTP server. Each test names the requirement of
//! ../shared/customer-care.md it checks.

#[path = "common/http.rs"]
mod http;
#[path = "common/smsqd.rs"]
mod smsqd;

use std::time::Duration;

use http::{Receiver, free_port, get, post, raw};
use smsq::store::MessageState;
use smsqd::{ANA, BEN, ExternalModem, Smsqd, sent_to, start, until, wait_state};

const PASSWORD: &str = "Ana's-shop 2026";

/// smsqd with the Kannel interface on `port`: one account `playsms` (more keys in `user`),
/// more `[kannel]` keys or tables in `extra`.
fn start_kannel(modem: &ExternalModem, port: u16, user: &str, extra: &str) -> Smsqd {
    let hash = smsq::http::auth::hash_password(PASSWORD).unwrap();
    let d = start(
        modem,
        &format!(
            r#"
[kannel]
listen = "127.0.0.1:{port}"
retry_first = "300ms"
[[kannel.user]]
username = "playsms"
password_hash = "{hash}"
{user}
{extra}
"#
        ),
    );
    http::wait_listening(port, "the Kannel listener");
    d
}

async fn ready(d: &Smsqd) {
    let mut c = d.client().await;
    until("the modem registered", async || {
        c.call(smsq::api::Modems {}).await.unwrap().modems[0].registered
    })
    .await;
}

fn enc(s: &str) -> String {
    smsq::http::escapes::encode(s)
}

/// The answer's exact bytes and Kannel's headers.
fn assert_kannel(answer: &http::RawAnswer, status: u16, body: &str) {
    assert_eq!(answer.status(), status, "{answer:?}");
    assert_eq!(answer.body, body.as_bytes(), "no line end, nothing more");
    assert_eq!(answer.header("content-type"), Some("text/html"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    assert_eq!(answer.header("cache-control"), Some("no-cache"));
}

/// playSMS's request, byte for byte as `kannel_hook_sendsms` builds it (playsms/playsms
/// web/plugin/gateway/kannel/fn.php): HTTP/1.0 on a bare socket with no Host header,
/// `dlr-mask=31`, `mclass=1`, a UCS-2BE text with `charset=UTF-16BE&coding=2`, and
/// `smsc=default`.
fn playsms_request(dlr_port: u16, to: &str, text: &str) -> Vec<u8> {
    let dlr_url = format!(
        "http://127.0.0.1:{dlr_port}/playsms/index.php?app=call&cat=gateway&plugin=kannel&access=dlr&type=%d&slid=12&uid=1"
    );
    let ucs2: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let text = percent_encoding::percent_encode(&ucs2, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "GET /cgi-bin/sendsms?username=playsms&password={}&from={}&to={}&dlr-mask=31&dlr-url={}&mclass=1&charset=UTF-16BE&coding=2&text={text}&smsc=default HTTP/1.0\r\n\r\n",
        enc(PASSWORD),
        enc("+639000000001"),
        enc(to),
        enc(&dlr_url),
    )
    .into_bytes()
}

/// CC-4.2, CC-4.3, CC-4.4: playSMS's request is accepted with Kannel's exact reply (which
/// playSMS's line compare accepts), the text arrives as sent (UCS-2), and its reports come
/// back: accepted by the network (8), then delivered (1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playsms_sends_and_hears_its_reports() {
    let modem = ExternalModem::start(|_| {}).await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;

    let text = "Zółw: your documents are ready ✓";
    let answer = raw(port, &playsms_request(receiver.port, ANA, text));
    assert_kannel(&answer, 202, "0: Accepted for delivery");
    assert!(
        answer.status_line.starts_with("HTTP/1.0 202"),
        "{}",
        answer.status_line
    );

    until("the text sent", async || sent_to(&modem, ANA).len() == 1).await;
    assert_eq!(sent_to(&modem, ANA), vec![text.to_string()]);
    let calls = receiver.wait_calls(2, 15).await;
    let types: Vec<String> = calls.iter().map(|c| c.query("type").unwrap()).collect();
    assert_eq!(types, ["8", "1"]);
    for c in &calls {
        assert_eq!(c.method, "GET");
        assert_eq!(c.query("slid").as_deref(), Some("12"));
        assert_eq!(c.query("access").as_deref(), Some("dlr"));
    }
    // Nothing more: each outcome is told once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.calls().len(), 2);

    // The journal has the account and the count, never the password or the text.
    let log = d.log();
    assert!(log.contains("kannel_accepted"), "{log}");
    assert!(
        !log.contains(&enc(PASSWORD)) && !log.contains(PASSWORD),
        "{log}"
    );
    assert!(!log.contains("documents"), "{log}");
}

/// CC-4.3: RapidPro courier's request (Go's url.Values.Encode: keys sorted, HTTP/1.1 with a
/// Host header), `coding=2&charset=utf8&dlr-mask=27&priority=1`; its status URL gets
/// `status=8` and `status=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapidpro_courier_sends_and_hears_its_statuses() {
    let modem = ExternalModem::start(|_| {}).await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let dlr_url = format!(
        "http://127.0.0.1:{}/c/kn/8eb2a5a8-0000-4000-8000-000000000001/status?uuid=0b4c4a4e-1111-4222-8333-444455556666&status=%d",
        receiver.port
    );
    let query = format!(
        "charset=utf8&coding=2&dlr-mask=27&dlr-url={}&from={}&password={}&priority=1&text={}&to={}&username=playsms",
        enc(&dlr_url),
        enc("+639000000001"),
        enc(PASSWORD),
        enc("Your order #77 is ready — see you!"),
        enc(BEN),
    );
    let answer = get(port, &format!("/cgi-bin/sendsms?{query}"), "");
    assert_kannel(&answer, 202, "0: Accepted for delivery");
    until("the text sent", async || sent_to(&modem, BEN).len() == 1).await;
    assert_eq!(sent_to(&modem, BEN), ["Your order #77 is ready — see you!"]);
    let calls = receiver.wait_calls(2, 15).await;
    let statuses: Vec<String> = calls.iter().map(|c| c.query("status").unwrap()).collect();
    assert_eq!(statuses, ["8", "1"]);
    assert_eq!(
        calls[0].query("uuid").as_deref(),
        Some("0b4c4a4e-1111-4222-8333-444455556666")
    );
    drop(d);
}

/// CC-4.2: every refusal in Kannel's words and status, byte for byte; a failed login does
/// not tell a wrong name from a wrong password; an opted-out customer is never texted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_kannels_own_lines() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let base = format!(
        "/cgi-bin/sendsms?username=playsms&password={}",
        enc(PASSWORD)
    );
    let cases: &[(&str, u16, &str)] = &[
        (
            "&to=%2B639171234567&text=hi&dlr-mask=99",
            400,
            "DLR-Mask field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&mclass=7",
            400,
            "MClass field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&coding=1",
            400,
            "Coding field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&priority=9",
            400,
            "Priority field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&validity=x",
            400,
            "Validity field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&deferred=-1",
            400,
            "Deferred field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&udh=%06%05%04%0B%84%23%F0",
            400,
            "UDH field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&dlr-mask=1&dlr-url=ftp%3A%2F%2Fx",
            400,
            "DLR-URL field misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=hi&dlr-mask=1&dlr-url=http%3A%2F%2Fh%2Fa%0D%0AHost%3A+evil",
            400,
            "DLR-URL field misformed, rejected",
        ),
        ("&text=hi", 400, "Missing receiver number, rejected"),
        (
            "&to=+&text=hi",
            400,
            "Empty receiver number not allowed, rejected",
        ),
        (
            "&to=%2B639171234567&text=caf%E9",
            400,
            "Charset or body misformed, rejected",
        ),
        (
            "&to=%2B639171234567&text=x&class=system",
            400,
            "Class field misformed, rejected",
        ),
        (
            "&to=%2B63abc&text=hi",
            400,
            "Number(s) has/have been denied by white- and/or black-lists.",
        ),
    ];
    for (rest, status, body) in cases {
        let answer = get(port, &format!("{base}{rest}"), "");
        assert_eq!(answer.status(), *status, "{rest}");
        assert_kannel(&answer, *status, body);
    }
    for creds in [
        format!("username=playsms&password={}x", enc(PASSWORD)),
        format!("username=nobody&password={}", enc(PASSWORD)),
        "to=%2B639171234567&text=hi".to_string(),
    ] {
        let answer = get(
            port,
            &format!("/cgi-bin/sendsms?{creds}&to=%2B639171234567&text=hi"),
            "",
        );
        assert_kannel(&answer, 403, "Authorization failed for sendsms");
    }
    let answer = get(port, "/cgi-bin/other", "");
    assert_kannel(&answer, 404, "Unknown request.");
    let answer = post(port, "/cgi-bin/sendsms", "text/xml", "", b"<message/>");
    assert_kannel(&answer, 400, "Invalid content-type");

    // An opted-out customer: Kannel's list refusal, and nothing reaches the modem.
    let mut c = d.client().await;
    modem.sim.deliver_text(ANA, "STOP", 1);
    until("the opt-out", async || {
        c.call(smsq::api::ConsentGet { number: ANA.into() })
            .await
            .unwrap()
            .opted_out
    })
    .await;
    until("the confirmation", async || sent_to(&modem, ANA).len() == 1).await;
    let answer = get(
        port,
        &format!("{base}&to=%2B639171234567&text=Promo&priority=3"),
        "",
    );
    assert_kannel(
        &answer,
        400,
        "Number(s) has/have been denied by white- and/or black-lists.",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent_to(&modem, ANA).len(), 1, "only the STOP confirmation");
}

/// CC-4.7: a browser page on another site cannot use the interface (Origin, Referer, or a
/// rebound host name), and failed logins from one address are throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_and_password_guessing_are_refused() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let ok = format!(
        "/cgi-bin/sendsms?username=playsms&password={}&to=%2B639171234567&text=hi",
        enc(PASSWORD)
    );
    for header in [
        "Origin: http://evil.example\r\n",
        "Referer: http://evil.example/page.html\r\n",
    ] {
        let answer = get(port, &ok, header);
        assert_eq!(answer.status(), 403, "{header}");
    }
    let rebound = raw(
        port,
        format!("GET {ok} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(rebound.status(), 403);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sent_to(&modem, ANA).is_empty(), "nothing was sent");

    // Same-origin requests pass.
    let answer = get(port, &ok, &format!("Origin: http://localhost:{port}\r\n"));
    assert_kannel(&answer, 202, "0: Accepted for delivery");

    // Ten wrong passwords, then even the right one is refused for a while.
    for _ in 0..10 {
        let answer = get(
            port,
            "/cgi-bin/sendsms?username=playsms&password=guess&to=%2B639171234567&text=hi",
            "",
        );
        assert_eq!(answer.status(), 403);
    }
    let answer = get(port, &ok, "");
    assert_kannel(&answer, 403, "Authorization failed for sendsms");
    assert!(d.log().contains("kannel_throttled"));
    assert!(!d.log().contains("guess"), "no password in the log");
}

/// CC-4.3: Kannel's POST form (text as the body, the rest in `X-Kannel-*` headers) and the
/// form-encoded body that clients use to keep credentials out of access logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_forms_are_accepted() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let headers = format!(
        "X-Kannel-Username: playsms\r\nX-Kannel-Password: {PASSWORD}\r\nX-Kannel-To: {ANA} {BEN}\r\nX-Kannel-MClass: 0\r\n"
    );
    let answer = post(
        port,
        "/cgi-bin/sendsms",
        "text/plain; charset=ISO-8859-1",
        &headers,
        b"Gr\xfc\xdfe from the shop",
    );
    assert_kannel(&answer, 202, "0: Accepted for delivery");
    let body = format!(
        "username=playsms&password={}&to={}&text={}",
        enc(PASSWORD),
        enc("09171234568"),
        enc("Your login code is 482913")
    );
    let answer = post(
        port,
        "/cgi-bin/sendsms",
        "application/x-www-form-urlencoded",
        "",
        body.as_bytes(),
    );
    assert_kannel(&answer, 202, "0: Accepted for delivery");
    until("three texts", async || modem.sim.sent().len() == 3).await;
    assert_eq!(sent_to(&modem, ANA), ["Grüße from the shop"]);
    assert_eq!(
        sent_to(&modem, BEN),
        ["Grüße from the shop", "Your login code is 482913"]
    );
    // `mclass=0` is a flash message (DCS class 0); without it, none.
    let class_of = |text: &str| {
        let sent = modem.sim.sent();
        let m = sent.iter().find(|m| m.text == text).unwrap();
        let opts = smsq::pdu::DecodeOptions {
            has_smsc: true,
            kind: smsq::pdu::TpduKind::Submit,
        };
        match smsq::pdu::decode_hex(&m.pdu_hex, opts).unwrap().tpdu {
            smsq::pdu::Tpdu::Submit(s) => s.dcs.class,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(class_of("Grüße from the shop"), Some(0));
    assert_eq!(class_of("Your login code is 482913"), None);
    drop(d);
}

/// CC-4.2: with no modem on the network, the message is kept and Kannel's "queued for
/// later" is the answer; it goes when the modem is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_network_messages_are_queued_for_later() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    modem.sim.set_registered(false);
    let mut c = d.client().await;
    until("the modem off the network", async || {
        !c.call(smsq::api::Modems {}).await.unwrap().modems[0].registered
    })
    .await;
    let answer = get(
        port,
        &format!(
            "/cgi-bin/sendsms?user=playsms&pass={}&to={}&text=Back+soon",
            enc(PASSWORD),
            enc(ANA)
        ),
        "",
    );
    assert_kannel(&answer, 202, "3: Queued for later delivery");
    modem.sim.set_registered(true);
    until("the text sent", async || sent_to(&modem, ANA).len() == 1).await;
}

/// CC-4.4: each mask bit fires alone and once: 9 gives 8 then 1; 1 gives only 1; 16 fires
/// for a message the network refused; 2 for one reported undeliverable; 4 for a report that
/// says the network is still trying. Every escape code of the report is filled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mask_bit_fires_alone_and_once() {
    let modem = ExternalModem::start(|dev| {
        // +CMS 21: short message transfer rejected, for this one number.
        dev.fail_for.push(("+639171110001".into(), 21));
    })
    .await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let send = |to: &str, mask: u32, tag: &str| {
        let url = format!(
            "http://127.0.0.1:{}/dlr?tag={tag}&type=%d&A=%A&F=%F&p=%p&P=%P&t=%t&T=%T&i=%i&I=%I&n=%n&b=%b&c=%c&o=%o&R=%R&D=%D",
            receiver.port
        );
        let answer = get(
            port,
            &format!(
                "/cgi-bin/sendsms?username=playsms&password={}&to={}&text={}&dlr-mask={mask}&dlr-url={}&account=till-2&meta-data=%3Fsmpp%3Ftill%3D2",
                enc(PASSWORD),
                enc(to),
                enc(&format!("Order {tag} & more")),
                enc(&url)
            ),
            "",
        );
        assert_eq!(answer.status(), 202, "{answer:?}");
    };
    send(ANA, 9, "nine");
    until("both reports", async || receiver.calls().len() == 2).await;
    send(BEN, 1, "one");
    until("its report", async || receiver.calls().len() == 3).await;
    send("+639171110001", 16 | 8, "rejected");
    until("its report", async || receiver.calls().len() == 4).await;
    modem.sim.device().report_status.push_back(0x41); // incompatible destination: permanent
    send("+639171110002", 2 | 4, "undeliverable");
    until("its report", async || receiver.calls().len() == 5).await;
    modem.sim.device().report_status.push_back(0x21); // busy: still trying
    send("+639171110003", 4 | 2, "buffered");
    until("its report", async || receiver.calls().len() == 6).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let calls = receiver.calls();
    let seen: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.query("tag").unwrap(), c.query("type").unwrap()))
        .collect();
    let want = [
        ("nine", "8"),
        ("nine", "1"),
        ("one", "1"),
        ("rejected", "16"),
        ("undeliverable", "2"),
        ("buffered", "4"),
    ];
    assert_eq!(
        seen,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "{calls:#?}"
    );
    let first = &calls[0];
    assert_eq!(first.query("p").as_deref(), Some(ANA), "%p is the customer");
    assert_eq!(first.query("P").as_deref(), Some(""));
    assert_eq!(first.query("A").as_deref(), Some("ACK/"));
    assert!(first.query("F").unwrap().parse::<u8>().is_ok());
    assert_eq!(first.query("i").as_deref(), Some("globe"));
    assert!(first.query("I").unwrap().parse::<i64>().is_ok());
    assert_eq!(first.query("n").as_deref(), Some("playsms"));
    assert_eq!(first.query("b").as_deref(), Some("Order nine & more"));
    assert_eq!(
        first.raw_query("b").as_deref(),
        Some("Order%20nine%20%26%20more")
    );
    assert_eq!(first.query("c").as_deref(), Some("0"));
    assert_eq!(first.query("o").as_deref(), Some("till-2"));
    assert_eq!(first.query("D").as_deref(), Some("?smpp?till=2"));
    assert!(first.query("R").unwrap().contains("/dlr?tag=nine"));
    let t = first.query("t").unwrap();
    assert_eq!(t.len(), "2026-12-01 10:00".len(), "{t}");
    let unix: i64 = first.query("T").unwrap().parse().unwrap();
    assert!((unix - (smsq::time::now_ms() / 1000)).abs() < 120);
    assert!(calls[3].query("A").unwrap().starts_with("NACK/"));
    drop(d);
}

/// CC-4.4: reports survive a restart. The client's server is down when the outcomes
/// happen; smsqd is stopped and started again; the reports arrive once the server is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_wait_for_the_client_across_a_restart() {
    let modem = ExternalModem::start(|_| {}).await;
    let port = free_port();
    let dlr_port = free_port();
    let mut d = start_kannel(&modem, port, "", "");
    ready(&d).await;
    let url = format!("http://127.0.0.1:{dlr_port}/dlr?type=%d&id=%I");
    let answer = get(
        port,
        &format!(
            "/cgi-bin/sendsms?username=playsms&password={}&to={}&text=Ready&dlr-mask=9&dlr-url={}",
            enc(PASSWORD),
            enc(ANA),
            enc(&url)
        ),
        "",
    );
    assert_kannel(&answer, 202, "0: Accepted for delivery");
    let mut c = d.client().await;
    wait_state(&mut c, 1, &[MessageState::Delivered]).await;
    until("attempts that failed", async || {
        d.log().matches("callback_retry").count() >= 2
    })
    .await;
    // The operator sees them waiting.
    let out = d.smsq(&["stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        stats["callbacks"]["pending"].as_i64().unwrap() >= 1,
        "{stats}"
    );
    assert!(String::from_utf8_lossy(&d.smsq(&["stats"]).stdout).contains("callbacks: "));
    drop(c);
    assert!(d.signal("-TERM").success());
    d.spawn(&[
        "--config",
        d.dir.path().join("smsqd.toml").to_str().unwrap(),
        "--test-clock",
    ]);
    let receiver = Receiver::start_on(dlr_port).await;
    let calls = receiver.wait_calls(2, 20).await;
    let types: Vec<String> = calls.iter().map(|c| c.query("type").unwrap()).collect();
    assert_eq!(types, ["8", "1"]);
    assert_eq!(calls[0].query("id").as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.calls().len(), 2, "each once");
}

/// CC-4.5: a received message is pushed to playSMS's get-url with every code it uses
/// (`t`, `q`, `a`, `Q`, `smsc`); STOP is handled by smsqd and not pushed; a push that
/// answers with a text (KannelRails style, `reply_from_body`) has it sent back as a reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_messages_are_pushed_kannel_style() {
    let modem = ExternalModem::start(|_| {}).await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let extra = format!(
        r#"
[[kannel.mo_push]]
name = "rails"
keyword = "order"
url = "http://127.0.0.1:{p}/receive_message?api_secret=s3&from=%p&text=%a"
reply_from_body = true
[[kannel.mo_push]]
url = "http://127.0.0.1:{p}/playsms/index.php?app=call&cat=gateway&plugin=kannel&access=geturl&t=%t&q=%q&a=%a&Q=%Q&smsc=%i&k=%k&s=%s&r=%r&n=%n&I=%I&T=%T&b=%b&p=%p&P=%P&S=%S&c=%c&C=%C&e=%e&f=%f&pct=%%25"
"#,
        p = receiver.port
    );
    let d = start_kannel(&modem, port, "", &extra);
    ready(&d).await;
    modem
        .sim
        .deliver_text(BEN, "Is my laptop fixed? 100% sure?", 1);
    let calls = receiver.wait_calls(1, 15).await;
    let c = &calls[0];
    assert!(c.target.starts_with("/playsms/index.php?"), "{}", c.target);
    assert_eq!(c.query("q").as_deref(), Some(BEN), "%q is the sender");
    assert_eq!(c.query("Q").as_deref(), Some(""));
    assert_eq!(
        c.raw_query("a").as_deref(),
        Some("Is+my+laptop+fixed%3F+100%25+sure%3F"),
        "words URL-encoded and joined by +"
    );
    assert_eq!(
        c.query("a").as_deref(),
        Some("Is my laptop fixed? 100% sure?")
    );
    assert_eq!(c.query("smsc").as_deref(), Some("globe"));
    assert_eq!(c.query("k").as_deref(), Some("Is"));
    assert_eq!(c.query("s").as_deref(), Some("my"));
    assert_eq!(c.query("r").as_deref(), Some("laptop fixed? 100% sure?"));
    assert_eq!(c.query("n").as_deref(), Some("push2"));
    assert!(c.query("I").unwrap().parse::<i64>().is_ok());
    assert!(c.query("T").unwrap().parse::<i64>().is_ok());
    let t = c.query("t").unwrap();
    assert!(t.len() == 16 && t.as_bytes()[10] == b' ', "{t}");
    assert_eq!(
        c.query("b").as_deref(),
        Some("Is my laptop fixed? 100% sure?")
    );

    // STOP is smsqd's to answer; the shop's system is not asked.
    modem.sim.deliver_text(ANA, "STOP", 2);
    until("the confirmation", async || sent_to(&modem, ANA).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.calls().len(), 1);

    // The keyword push's answer becomes the reply.
    receiver.answer(200, "<p>Thanks!  Your order\n is noted.</p>");
    modem.sim.deliver_text(BEN, "ORDER 2 pizza", 3);
    let calls = receiver.wait_calls(2, 15).await;
    assert!(
        calls[1]
            .target
            .starts_with("/receive_message?api_secret=s3&from=%2B639171234568&text=ORDER+2+pizza"),
        "{}",
        calls[1].target
    );
    until("the reply", async || sent_to(&modem, BEN).len() == 1).await;
    assert_eq!(sent_to(&modem, BEN), ["Thanks! Your order is noted."]);
    let mut cl = d.client().await;
    let outbox = match cl
        .call(smsq::api::ListRequest::new(smsq::api::Mailbox::Outbox))
        .await
        .unwrap()
    {
        smsq::api::Listing::Outbox(m) => m,
        smsq::api::Listing::Inbox(_) => unreachable!(),
    };
    let reply = outbox.iter().find(|m| m.to == BEN).unwrap();
    assert_eq!(reply.class, "reply");
}

/// CC-4.1: no default or sample credentials, and no password in the file.
#[test]
fn sample_and_plain_passwords_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    let check = |kannel: &str| {
        std::fs::write(
            &config,
            format!("[[modem]]\nid = \"globe\"\nsimulate = \"simcom\"\n[kannel]\n{kannel}"),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsqd"))
            .args(["--config", config.to_str().unwrap(), "--check-config"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = check("[[kannel.user]]\nusername = \"playsms\"\npassword = \"kannel\"\n");
    assert!(!ok);
    assert!(
        err.contains("kannel.user[0].password") && err.contains("password_hash"),
        "{err}"
    );
    let sample = smsq::http::auth::hash_password("kannel").unwrap();
    let (ok, err) = check(&format!(
        "[[kannel.user]]\nusername = \"playsms\"\npassword_hash = \"{sample}\"\n"
    ));
    assert!(!ok);
    assert!(err.contains("\"kannel\""), "{err}");
    let (ok, err) = check("listen = \"127.0.0.1:13013\"\n");
    assert!(!ok);
    assert!(err.contains("no account"), "{err}");
    let good = smsq::http::auth::hash_password(PASSWORD).unwrap();
    let (ok, err) = check(&format!(
        "[[kannel.user]]\nusername = \"playsms\"\npassword_hash = \"{good}\"\n"
    ));
    assert!(ok, "{err}");

    // `smsqd --hash-password` makes the hash, and will not hash a sample.
    let hash = |pw: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smsqd"))
            .arg("--hash-password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = hash(PASSWORD);
    assert!(out.status.success());
    let made = String::from_utf8(out.stdout).unwrap();
    assert!(smsq::http::auth::verify(made.trim(), PASSWORD));
    assert!(!hash("kannel").status.success());
}
