//! The real `smsqd` binary on its built-in simulator (a real pty), with a temporary database
//! and socket, driven through the socket protocol and through `smsq`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use smsq::api::{
    Cancel, Get, ListRequest, Listing, Mailbox, Modems, Pushed, Retry, ServerLine, Subscribe,
};
use smsq::store::{MessageState as S, PartState};

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::{Smsqd, send, wait_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_single_and_multipart_until_delivered() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "Your documents are ready."))
        .await
        .unwrap();
    let single = r.messages[0].id;
    assert_eq!(
        r.messages[0].to, "+639171234567",
        "normalised with the default country"
    );
    let long = "Reminder: your appointment at Boutique Mila is tomorrow at 10:00. ".repeat(4);
    let r = c.call(send(&["+48601234567"], &long)).await.unwrap();
    let multi = r.messages[0].id;
    assert_eq!(r.messages[0].parts, 2);
    let m = wait_state(&mut c, single, &[S::Delivered]).await;
    assert_eq!(m.parts[0].state, PartState::Delivered);
    let m = wait_state(&mut c, multi, &[S::Delivered]).await;
    assert_eq!(m.parts.len(), 2);
    assert!(m.parts.iter().all(|p| p.state == PartState::Delivered));
    let kinds: Vec<&str> = m.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"queued"));
    assert_eq!(kinds.last(), Some(&"delivered"));

    // The same through the CLI.
    let out = d.smsq(&["outbox", "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outbox"].as_array().unwrap().len(), 2);
    let out = d.smsq(&["send", "--to", "0917 765 4321", "Second visit reminder"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("to +639177654321 (1 part)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_received_reassembled_and_pushed_to_subscribers() {
    let d = Smsqd::start(&["--sim-inbound-every", "1"]);
    let mut watcher = d.client().await;
    watcher.call(Subscribe { since: Some(0) }).await.unwrap();
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.len() < 5 {
        assert!(Instant::now() < deadline, "got {received:?}");
        if let Ok(Ok(ServerLine::Event {
            event: Pushed::Event(event),
        })) = tokio::time::timeout(Duration::from_secs(5), watcher.next_line()).await
            && event.kind == "received"
        {
            received.push((event.from.unwrap(), event.text.unwrap()));
        }
    }
    assert_eq!(received[0].1, "Thanks! I'll pick it up at 5pm.");
    assert_eq!(received[2].1, "Dziękuję, do zobaczenia jutro! 🙂");
    assert!(
        received[4].1.starts_with("Can I move my appointment"),
        "the two-part message arrives whole"
    );
    let mut c = d.client().await;
    let inbox = c
        .call(ListRequest {
            limit: Some(10),
            ..ListRequest::new(Mailbox::Inbox)
        })
        .await
        .unwrap();
    let Listing::Inbox(rows) = inbox else {
        panic!("{inbox:?}")
    };
    assert!(rows.len() >= 5);
    assert!(rows.iter().any(|r| r.parts == 2 && r.complete));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_the_connection_survives() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let mut s = StdUnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ask = |line: &str| -> Value {
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let mut answer = String::new();
        r.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    };
    let v = ask("this is not json");
    assert_eq!(
        (v["ok"].clone(), v["error"]["code"].clone()),
        (json!(false), json!("bad_request"))
    );
    let v = ask(r#"{"id":7,"op":"fly"}"#);
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(7), json!("bad_request"))
    );
    let v = ask(&"x".repeat(70_000));
    assert_eq!(v["error"]["code"], "line_too_long");
    let v = ask(r#"{"id":8,"op":"send","to":"12ab","text":"hi"}"#);
    assert_eq!(v["error"]["code"], "invalid_number");
    let v = ask(r#"{"id":9,"op":"send","to":"09171234567","text":""}"#);
    assert_eq!(v["error"]["code"], "empty_text");
    let v = ask(r#"{"id":10,"op":"send","to":"09171234567","text":"Zażółć","encoding":"gsm7"}"#);
    assert_eq!(v["error"]["code"], "not_gsm7");
    let v = ask(r#"{"id":11,"op":"get","message":999}"#);
    assert_eq!(v["error"]["code"], "not_found");
    // Still the same connection, still answering.
    let v = ask(r#"{"id":12,"op":"estimate","text":"hello"}"#);
    assert_eq!(
        (
            v["id"].clone(),
            v["ok"].clone(),
            v["result"]["parts"].clone()
        ),
        (json!(12), json!(true), json!(1))
    );
    // The CLI: refused requests exit 1, a missing daemon exits 3.
    let out = d.smsq(&["send", "--to", "12ab", "hi"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid number"));
    let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .args(["--socket", "/nonexistent/smsq.sock", "outbox"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("smsqd is not running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_cancel_and_a_subscriber_that_never_reads() {
    let d = Smsqd::start(&["--sim-inbound-every", "0", "--sim-network-delay", "300ms"]);
    // A subscriber that never reads must not slow anything down.
    let mut lazy = StdUnixStream::connect(&d.socket).unwrap();
    lazy.write_all(b"{\"id\":1,\"op\":\"subscribe\"}\n")
        .unwrap();
    let mut c = d.client().await;
    let mut op = send(&["09171234567"], "Order 4411 is ready");
    op.idempotency_key = Some("order-4411".into());
    let a = c.call(op.clone()).await.unwrap();
    let b = c.call(op).await.unwrap();
    assert_eq!(a.messages[0].id, b.messages[0].id);
    assert!(!b.messages[0].new);
    // Queue many; cancel the last before it starts.
    let mut last = 0;
    for i in 0..30 {
        let r = c
            .call(send(&["09171234567"], &format!("Promo {i}: 15% off today")))
            .await
            .unwrap();
        last = r.messages[0].id;
    }
    let r = c.call(Cancel { message: last }).await.unwrap();
    assert_eq!(r.state, S::Cancelled);
    // Every request is answered promptly while the modem comes up and sends.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let started = Instant::now();
        let m = c.call(Modems {}).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a stuck subscriber does not block requests"
        );
        if m.modems[0].state == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "modem not ready: {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(lazy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_the_queue_and_kill_mid_send_is_unknown_not_resent() {
    let mut d = Smsqd::start(&["--sim-inbound-every", "0", "--sim-network-delay", "3s"]);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "First, will be mid-send"))
        .await
        .unwrap();
    let first = r.messages[0].id;
    let r = c
        .call(send(&["09171234567", "09177654321"], "Queued behind it"))
        .await
        .unwrap();
    let queued: Vec<i64> = r.messages.iter().map(|m| m.id).collect();
    wait_state(&mut c, first, &[S::Sending]).await;
    drop(c);
    // The power goes out while the first part is with the modem.
    let status = d.signal("-KILL");
    assert!(!status.success());
    d.spawn(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    let m = c.call(Get { message: first }).await.unwrap();
    assert_eq!(m.state, S::Unknown, "documented rule: unknown, not resent");
    assert!(m.last_error.as_deref().unwrap().contains("not resent"));
    for id in queued {
        wait_state(&mut c, id, &[S::Delivered, S::Sent]).await;
    }
    let m = c.call(Get { message: first }).await.unwrap();
    assert_eq!(
        m.state,
        S::Unknown,
        "still not resent after the queue drained"
    );
    // Resending is a decision.
    c.call(Retry { message: first }).await.unwrap();
    wait_state(&mut c, first, &[S::Delivered, S::Sent]).await;
    // SIGTERM: a clean exit.
    drop(c);
    let status = d.signal("-TERM");
    assert!(status.success(), "{status:?}");
    assert!(!Path::new(&d.socket).exists(), "socket removed on exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_send_lets_it_finish() {
    let mut d = Smsqd::start(&["--sim-inbound-every", "0", "--sim-network-delay", "1500ms"]);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "Sent while stopping"))
        .await
        .unwrap();
    let id = r.messages[0].id;
    wait_state(&mut c, id, &[S::Sending]).await;
    drop(c);
    let started = Instant::now();
    let status = d.signal("-TERM");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "exits within a few seconds"
    );
    d.spawn(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    let m = c.call(Get { message: id }).await.unwrap();
    // Finished before the exit (its status report may even have come in meanwhile).
    assert!(m.state == S::Sent || m.state == S::Delivered, "{m:?}");
    assert_eq!(m.parts[0].message_ref, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_file_with_two_modems_routes_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        "country = \"PH\"\nsend_gap = \"0s\"\n\
         [[modem]]\nid = \"globe\"\nsimulate = \"huawei\"\nprefixes = [\"+63917\"]\n\
         [[modem]]\nid = \"smart\"\nsimulate = \"simcom\"\nprefixes = [\"+63918\"]\n",
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(check.status.success());
    assert!(
        String::from_utf8_lossy(&check.stdout).contains(
            "2 modem(s): globe (SIMULATED: messages go nowhere), smart (SIMULATED: messages go nowhere)"
        ),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[modem]]\nsimulate = \"simcom\"\ndaily_cap = 0\n").unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .arg("--config")
        .arg(&bad)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(!check.status.success());
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("modem[0].daily_cap"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let config = config.to_string_lossy().to_string();
    let d = Smsqd::start(&["--config", &config, "--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    // Both modems up first: a message routed while one is still starting would (rightly)
    // fail over to the other.
    let deadline = Instant::now() + Duration::from_secs(15);
    let m = loop {
        let m = c.call(Modems {}).await.unwrap();
        if m.modems.iter().all(|m| m.state == "ready" && m.registered) {
            break m;
        }
        assert!(Instant::now() < deadline, "modems not ready: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ids: Vec<&str> = m.modems.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, vec!["globe", "smart"]);
    let r = c
        .call(send(&["09171234567", "09181234567"], "Routed by prefix"))
        .await
        .unwrap();
    let globe = r.messages[0].id;
    let smart = r.messages[1].id;
    assert_eq!(
        wait_state(&mut c, globe, &[S::Sent, S::Delivered])
            .await
            .modem
            .as_deref(),
        Some("globe")
    );
    assert_eq!(
        wait_state(&mut c, smart, &[S::Sent, S::Delivered])
            .await
            .modem
            .as_deref(),
        Some("smart")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_belongs_to_the_configured_group() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    // A group this test can give files to: the one its own files get.
    let gid = std::fs::metadata(dir.path()).unwrap().gid();
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let Some(name) = groups.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == gid.to_string()).then(|| f[0].to_string())
    }) else {
        eprintln!("no /etc/group entry for gid {gid}: not exercised");
        return;
    };
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        format!("socket_group = \"{name}\"\n[[modem]]\nsimulate = \"simcom\"\n"),
    )
    .unwrap();
    let config = config.to_string_lossy().to_string();
    let d = Smsqd::start(&["--config", &config, "--sim-inbound-every", "0"]);
    let meta = std::fs::metadata(&d.socket).unwrap();
    assert_eq!(meta.gid(), gid);
    assert_eq!(meta.mode() & 0o777, 0o660);
}

/// A promo to 5,000 customers from the command line: every message is queued (in batches,
/// each one request under the line limit), and a single request over the limit gets an
/// answer the client understands instead of a wait without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_five_thousand_numbers_completes() {
    let d = Smsqd::start(&["--sim-inbound-every", "0", "--sim-network-delay", "1s"]);
    let numbers: Vec<String> = (0..5000)
        .map(|i| format!("0917{:07}", 1_000_000 + i))
        .collect();
    let mut args = vec!["send".to_string()];
    for n in &numbers {
        args.push("--to".into());
        args.push(n.clone());
    }
    args.push("Weekend promo: 20% off".into());
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    // More than 50 recipients needs the sender's explicit confirmation (CC-2.5).
    let out = d.smsq(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confirm-bulk"));
    args.insert(1, "--confirm-bulk");
    let started = Instant::now();
    let out = d.smsq(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("queued ")).count(),
        5000
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );

    let mut c = d.client().await;
    let mut over = send(
        &numbers.iter().map(String::as_str).collect::<Vec<_>>(),
        "one request over 64 KiB",
    );
    over.confirm_bulk = true;
    let r = tokio::time::timeout(Duration::from_secs(10), c.call(over))
        .await
        .expect("an answer, not a wait without end");
    match r {
        Err(smsq::api::client::ClientError::Api(e)) => assert_eq!(e.code, "line_too_long"),
        other => panic!("{other:?}"),
    }
}

/// `SMSQ_SOCKET` points smsq at a daemon without `--socket` on every command.
#[test]
fn the_socket_can_come_from_the_environment() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .env("SMSQ_SOCKET", &d.socket)
        .args(["modems", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["modems"][0]["id"], "modem0");
}

/// A simulator directory left by an smsqd killed with SIGKILL is removed at the next start.
#[test]
fn leftovers_of_a_killed_smsqd_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    // A process id that is not running.
    let dead = (4_000_000..4_100_000)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let stale = dir.path().join(format!("smsqd-sim-{dead}"));
    std::fs::create_dir(&stale).unwrap();
    let db = dir.path().join("smsq.db");
    let mut d = Smsqd::start_with_db(dir, db, &["--sim-inbound-every", "0"]);
    assert!(!stale.exists(), "stale simulator directory removed");
    let own = d
        .dir
        .path()
        .join(format!("smsqd-sim-{}", d.child.as_ref().unwrap().id()));
    assert!(own.exists());
    d.signal("-KILL");
    d.spawn(&["--sim-inbound-every", "0"]);
    assert!(
        !own.exists(),
        "the killed run's directory removed by the next"
    );
}

/// Filters say what is wrong with them instead of showing an empty list; every option of
/// every command says what it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_checked_and_every_option_is_explained() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let out = d.smsq(&["outbox", "--state", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("delivered"));
    let out = d.smsq(&["inbox", "--state", "delivered"]);
    assert_eq!(out.status.code(), Some(2), "the inbox has no states");
    let out = d.smsq(&["outbox", "--state", "delivered"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = d.client().await;
    let r = c
        .call(ListRequest {
            state: Some("bogus".into()),
            ..ListRequest::new(Mailbox::Outbox)
        })
        .await;
    match r {
        Err(smsq::api::client::ClientError::Api(e)) => assert_eq!(e.code, "invalid_state"),
        other => panic!("{other:?}"),
    }

    for command in [
        "send", "status", "outbox", "inbox", "failed", "watch", "cancel", "retry", "modems",
        "stats", "ussd", "estimate",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let flag = line.trim_start();
            if !(flag.starts_with("--") || flag.starts_with("-h,") || flag.starts_with('<')) {
                continue;
            }
            // Clap puts the text after the flag, or on the next line for long help.
            let same_line = flag.split("  ").filter(|s| !s.trim().is_empty()).count() > 1;
            let next_line = lines
                .get(i + 1)
                .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
            assert!(
                same_line || next_line,
                "smsq {command}: {flag:?} has no help"
            );
        }
    }
}

/// A wrong device path is said, with what to do, in `smsq modems` (and at warning level in
/// the log), not left as a bare "absent".
#[test]
fn a_missing_device_says_why() {
    let d = Smsqd::start(&[
        "--device",
        "/dev/serial/by-id/no-such-dongle",
        "--profile",
        "huawei",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = d.smsq(&["modems", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(reason) = v["modems"][0]["reason"].as_str() {
            assert_eq!(v["modems"][0]["state"], "absent");
            assert!(
                reason.contains("no device at /dev/serial/by-id/no-such-dongle"),
                "{reason}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no reason given: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = d.smsq(&["modems"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unplugged, or the path is wrong"));
}

/// The simulator's customers text different things from different numbers, every text is
/// stored (none dropped as a duplicate of an earlier round), and a simulated modem is said
/// to be one.
#[test]
fn the_demo_is_believable_and_says_it_is_a_demo() {
    let d = Smsqd::start(&["--sim-inbound-every", "1"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let out = d.smsq(&["inbox", "--json", "--limit", "100"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = v["inbox"].as_array().unwrap().clone();
        if rows.len() >= 4 {
            break rows;
        }
        assert!(Instant::now() < deadline, "only {} replies", rows.len());
        std::thread::sleep(Duration::from_millis(200));
    };
    let senders: std::collections::HashSet<&str> =
        rows.iter().map(|m| m["from"].as_str().unwrap()).collect();
    let texts: std::collections::HashSet<&str> =
        rows.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(senders.len() >= 3, "{senders:?}");
    assert_eq!(texts.len(), rows.len(), "every reply different: {texts:?}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sim.toml");
    std::fs::write(&config, "[[modem]]\nid = \"demo\"\nsimulate = \"simcom\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .arg("--config")
        .arg(&config)
        .arg("--check-config")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("demo (SIMULATED: messages go nowhere)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Numbers are checked against the country's numbering plan: one digit short, or a
/// landline, is refused with the reason, and nothing is queued.
#[test]
fn wrong_numbers_are_refused_with_the_reason() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    for (number, reason) in [
        ("0917123456", "not a valid PH number"),
        ("0281234567", "landline"),
        ("+4822123456", "not a valid international number"),
    ] {
        let out = d.smsq(&["send", "--to", number, "hello"]);
        assert_eq!(out.status.code(), Some(1), "{number}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{number}: {err}");
    }
    let out = d.smsq(&["outbox", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["outbox"].as_array().unwrap().is_empty(), "{v}");
}

/// Times are written as people write them and read in the shop's time zone; dates that do
/// not exist are refused; tables show local time, `--json` RFC 3339.
#[test]
fn times_as_people_write_and_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        "country = \"PH\"\ntime_zone = \"Asia/Manila\"\n[[modem]]\nid = \"m\"\nsimulate = \"simcom\"\n",
    )
    .unwrap();
    let d = Smsqd::start(&[
        "--config",
        config.to_str().unwrap(),
        "--sim-inbound-every",
        "0",
    ]);
    let smsq = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_smsq"))
            .env("TZ", "Asia/Manila")
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .output()
            .unwrap()
    };
    let out = smsq(&[
        "send",
        "--to",
        "09171234567",
        "--not-before",
        "2030-01-02 09:00",
        "--json",
        "later",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["messages"][0]["id"].as_i64().unwrap().to_string();
    let out = smsq(&["status", &id, "--json"]);
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        m["next_attempt_at"], "2030-01-02T01:00:00Z",
        "09:00 in Manila is 01:00 UTC"
    );
    let out = smsq(&[
        "send",
        "--to",
        "09171234567",
        "--not-before",
        "2027-02-31 09:00",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a date and time"));
    // The outbox shows the creation time in Manila time, not UTC.
    let created = m["created_at"].as_str().unwrap();
    let utc_hour: u32 = created[11..13].parse().unwrap();
    let local_hour = format!("{:02}:", (utc_hour + 8) % 24);
    let table = String::from_utf8_lossy(&smsq(&["outbox"]).stdout).to_string();
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with(&id))
        .unwrap()
        .to_string();
    assert!(
        row.contains(&format!(" {local_hour}")),
        "{row} vs {created}"
    );
    assert!(!row.contains('Z'), "{row}");
}
