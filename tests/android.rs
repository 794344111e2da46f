//! The Android-gateway REST interface through the real binaries: `smsqd` on a simulated
//! modem over a pty, driven by the upstream Python client library of SMS Gateway for
//! Android (as a program written for a phone would drive it) and by plain HTTP; webhooks
//! received by a local server, their signatures checked by an independent implementation
//! (Python's hmac). Each test names the requirement of ../shared/customer-care.md it checks.

#[path = "common/http.rs"]
mod http;
#[path = "common/smsqd.rs"]
mod smsqd;
#[path = "common/tools.rs"]
mod tools;

use std::time::{Duration, Instant};

use http::{Receiver, free_port, raw};
use serde_json::Value;
use smsqd::{ANA, BEN, ExternalModem, Smsqd, sent_to, start, until};

const USER: &str = "sms";
const PASSWORD: &str = "front-desk 2026!";
const KEY: &str = "0123456789abcdef-signing";

fn start_android(modem: &ExternalModem, port: u16) -> Smsqd {
    let hash = smsq::http::auth::hash_password(PASSWORD).unwrap();
    let d = start(
        modem,
        &format!(
            r#"
[android]
listen = "127.0.0.1:{port}"
username = "{USER}"
password_hash = "{hash}"
signing_key = "{KEY}"
retry_first = "300ms"
"#
        ),
    );
    http::wait_listening(port, "the REST listener");
    d
}

async fn ready(d: &Smsqd) {
    let mut c = d.client().await;
    until("the modem registered", async || {
        c.call(smsq::api::Modems {}).await.unwrap().modems[0].registered
    })
    .await;
}

/// The upstream client's answer to `action`.
fn client(port: u16, args: &[&str]) -> Result<Value, String> {
    let dir = tools::android_client().expect("checked by the caller");
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/android_gateway.py"
        ))
        .arg(format!("http://127.0.0.1:{port}"))
        .args([USER, PASSWORD])
        .args(args)
        .env("PYTHONPATH", dir)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn basic() -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    format!("Authorization: Basic {token}\r\n")
}

fn json_request(port: u16, method: &str, path: &str, auth: &str, body: &str) -> http::RawAnswer {
    raw(
        port,
        format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// HMAC-SHA256 of body then timestamp, in hex, by Python's standard library.
fn python_signature(key: &str, body: &[u8], timestamp: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; key, ts = sys.argv[1].encode(), sys.argv[2].encode(); \
             body = sys.stdin.buffer.read(); \
             print(hmac.new(key, body + ts, hashlib.sha256).hexdigest())",
            key,
            timestamp,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(body)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// CC-4.6: the upstream client sends, reads the state until Delivered, lists messages,
/// registers webhooks; every webhook (sent, delivered, received) arrives signed as the app
/// signs them, and Python's hmac agrees with the signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_client_sends_and_webhooks_arrive_signed() {
    if tools::android_client().is_none()
        && tools::missing(
            "the SMS Gateway for Android Python client",
            tools::ANDROID_CLIENT_INSTALL,
        )
    {
        return;
    }
    let modem = ExternalModem::start(|_| {}).await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let d = start_android(&modem, port);
    ready(&d).await;
    assert_eq!(client(port, &["health"]).unwrap()["status"], "pass");
    for event in ["sms:sent", "sms:delivered", "sms:received"] {
        let url = format!("http://127.0.0.1:{}/hook/{event}", receiver.port);
        let hook = client(port, &["webhook", &url, event]).unwrap();
        assert_eq!(hook["event"], event);
        assert!(!hook["id"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        client(port, &["webhooks"])
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let state = client(port, &["send", "repair-77", ANA, "Your phone is repaired."]).unwrap();
    assert_eq!(state["id"], "repair-77");
    assert_eq!(state["recipients"][0]["phoneNumber"], ANA);
    until("the text sent", async || sent_to(&modem, ANA).len() == 1).await;
    assert_eq!(sent_to(&modem, ANA), ["Your phone is repaired."]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = client(port, &["state", "repair-77"]).unwrap();
        if s["state"] == "Delivered" {
            assert_eq!(s["recipients"][0]["state"], "Delivered");
            for name in ["Pending", "Sent", "Delivered"] {
                assert!(s["states"][name].is_string(), "{s}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = client(port, &["list"]).unwrap();
    assert_eq!(listed[0]["id"], "repair-77");
    // The same id again: the app's 409.
    let again = client(port, &["send", "repair-77", ANA, "Twice?"]).unwrap_err();
    assert!(
        again.contains("409") || again.to_lowercase().contains("conflict"),
        "{again}"
    );

    modem.sim.deliver_text(BEN, "Can I pick it up at 5?", 1);
    let calls = receiver.wait_calls(3, 15).await;
    let mut seen = Vec::new();
    for c in &calls {
        assert_eq!(c.method, "POST");
        assert_eq!(c.header("content-type"), Some("application/json"));
        let ts = c.header("x-timestamp").expect("signed");
        let now = smsq::time::now_ms() / 1000;
        assert!((ts.parse::<i64>().unwrap() - now).abs() < 60);
        assert_eq!(
            c.header("x-signature").unwrap(),
            python_signature(KEY, &c.body, ts),
            "the signature verifies"
        );
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(body["deviceId"], "smsq");
        assert!(c.target.ends_with(body["event"].as_str().unwrap()));
        seen.push(body);
    }
    let by = |e: &str| seen.iter().find(|b| b["event"] == e).unwrap().clone();
    assert_eq!(by("sms:sent")["payload"]["messageId"], "repair-77");
    assert_eq!(by("sms:sent")["payload"]["phoneNumber"], ANA);
    assert!(by("sms:sent")["payload"]["sentAt"].is_string());
    assert!(by("sms:delivered")["payload"]["deliveredAt"].is_string());
    let received = by("sms:received");
    assert_eq!(received["payload"]["message"], "Can I pick it up at 5?");
    assert_eq!(received["payload"]["phoneNumber"], BEN);
    assert_eq!(received["payload"]["simNumber"], 1);
}

/// CC-4.6: REST details the client library hides: credentials, a refusal by the gate
/// (recorded, answered as the app answers a failed message, never sent even at priority
/// 127), cancelling a scheduled message, webhook targets that are neither HTTPS nor
/// loopback refused, a webhook retried until its receiver takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_interface_keeps_the_shops_rules() {
    if tools::python().is_none() && tools::missing("python3", "apt-get install python3") {
        return;
    }
    let modem = ExternalModem::start(|_| {}).await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let d = start_android(&modem, port);
    ready(&d).await;
    let auth = basic();

    // No or wrong credentials.
    let answer = json_request(port, "GET", "/messages", "", "");
    assert_eq!(answer.status(), 401);
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Basic realm=\"smsq\"")
    );
    let answer = json_request(
        port,
        "GET",
        "/messages",
        "Authorization: Basic c21zOndyb25n\r\n",
        "",
    );
    assert_eq!(answer.status(), 401);
    // The cloud prefix and the singular path answer too.
    let answer = json_request(port, "GET", "/3rdparty/v1/messages", &auth, "");
    assert_eq!(answer.status(), 200, "{}", answer.text());

    // An opted-out customer: recorded, Failed with the reason, never sent.
    modem.sim.deliver_text(ANA, "STOP", 1);
    until("the confirmation", async || sent_to(&modem, ANA).len() == 1).await;
    let answer = json_request(
        port,
        "POST",
        "/message",
        &auth,
        &format!(
            r#"{{"id":"promo-1","phoneNumbers":["{ANA}"],"textMessage":{{"text":"Sale!"}},"priority":127}}"#
        ),
    );
    assert_eq!(answer.status(), 202, "{}", answer.text());
    assert_eq!(answer.header("location"), Some("/messages/promo-1"));
    let state: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(state["state"], "Failed");
    assert!(
        state["recipients"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("opted_out"),
        "{state}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent_to(&modem, ANA).len(), 1, "only the STOP confirmation");

    // A scheduled message is cancelled before it goes.
    let answer = json_request(
        port,
        "POST",
        "/messages",
        &auth,
        &format!(
            r#"{{"id":"later-1","phoneNumbers":["{BEN}"],"textMessage":{{"text":"Tomorrow"}},"scheduleAt":"2099-01-01T10:00:00+08:00"}}"#
        ),
    );
    assert_eq!(answer.status(), 202, "{}", answer.text());
    let answer = json_request(port, "DELETE", "/messages/later-1", &auth, "");
    assert_eq!(answer.status(), 204);
    let answer = json_request(port, "GET", "/messages/later-1", &auth, "");
    let state: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(state["state"], "Cancelled");
    let answer = json_request(port, "GET", "/messages/nothing-here", &auth, "");
    assert_eq!(answer.status(), 404);

    // Bad requests say why.
    for (body, says) in [
        (r#"{"phoneNumbers":["+639171234568"]}"#, "textMessage"),
        (
            r#"{"phoneNumbers":[],"textMessage":{"text":"x"}}"#,
            "phoneNumbers",
        ),
        (
            r#"{"phoneNumbers":["+639171234568"],"textMessage":{"text":"x"},"ttl":60,"validUntil":"2099-01-01T00:00:00Z"}"#,
            "ttl",
        ),
        (
            r#"{"phoneNumbers":["+639171234568"],"textMessage":{"text":"x"},"isEncrypted":true}"#,
            "encrypted",
        ),
        (
            r#"{"phoneNumbers":["+639171234568"],"dataMessage":{"data":"AA==","port":53739}}"#,
            "text messages only",
        ),
        (
            r#"{"phoneNumbers":["+639171234568"],"textMessage":{"text":"x"},"simNumber":3}"#,
            "simNumber",
        ),
        (
            r#"{"id":"../../x","phoneNumbers":["+639171234568"],"textMessage":{"text":"x"}}"#,
            "id",
        ),
        (r#"not json"#, ""),
    ] {
        let answer = json_request(port, "POST", "/messages", &auth, body);
        assert_eq!(answer.status(), 400, "{body}: {}", answer.text());
        assert!(answer.text().contains(says), "{body}: {}", answer.text());
    }

    // Webhook targets: HTTPS or loopback only; known events only.
    for (url, event) in [
        ("http://192.168.1.20/hook", "sms:received"),
        ("http://127.0.0.1.evil.example/hook", "sms:received"),
        ("https://hooks.example/x", "system:ping"),
    ] {
        let answer = json_request(
            port,
            "POST",
            "/webhooks",
            &auth,
            &format!(r#"{{"url":"{url}","event":"{event}"}}"#),
        );
        assert_eq!(answer.status(), 400, "{url} {event}");
    }

    // A receiver that fails twice gets the webhook on the third attempt.
    receiver.answer(500, "busy");
    receiver.answer(503, "busy");
    let answer = json_request(
        port,
        "POST",
        "/webhooks",
        &auth,
        &format!(
            r#"{{"id":"in","url":"http://127.0.0.1:{}/in","event":"sms:received"}}"#,
            receiver.port
        ),
    );
    assert_eq!(answer.status(), 201, "{}", answer.text());
    modem.sim.deliver_text(BEN, "Thanks", 2);
    let calls = receiver.wait_calls(3, 15).await;
    assert!(
        calls.iter().all(|c| c.body == calls[0].body),
        "the same event each time"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.calls().len(), 3, "taken on the third: no more");
    let answer = json_request(port, "DELETE", "/webhooks/in", &auth, "");
    assert_eq!(answer.status(), 204);
    let answer = json_request(port, "GET", "/inbox", &auth, "");
    let inbox: Value = serde_json::from_slice(&answer.body).unwrap();
    assert!(
        inbox
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["message"] == "Thanks")
    );
    assert!(!d.log().contains(PASSWORD));
}
