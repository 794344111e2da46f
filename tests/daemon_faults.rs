//! The daemon's policies under faults, in process (store, dispatcher, receiver and modem actor
//! over a real pty to the simulator), where the test controls the simulated modem directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
#[path = "common/smsqd.rs"]
mod smsqd;

use std::path::{Path, PathBuf};

use smsq::api::client::Client;
use smsq::api::{
    Event, Get, InboxEntry, ListRequest, Listing, Mailbox, MessageDetail, Modems, Pushed,
    SendRequest, ServerLine, Subscribe,
};
use smsq::daemon::{Daemon, Settings};
use smsq::modem::ModemState;
use smsq::pdu::{self, Address, DeliverSpec, PlanOptions, Timestamp};
use smsq::sim::Simulator;
use smsq::smsqd::spawn_tasks;
use smsq::store::Store;
use smsq::store::{MessageState as S, PartState};
use tokio::sync::watch;

struct Rig {
    sim: Simulator,
    /// The daemon's socket: tests drive it as a client would.
    sock: PathBuf,
    /// Kept alive for the test's duration; tests talk to it through `sock`, and read what
    /// systemd would be told from it.
    daemon: Arc<Daemon>,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn rig(settings: Settings) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (sim, modem) = common::simulated_modem(dir.path(), "modem0", |_| {}).await;
    let store = Store::open(&dir.path().join("smsq.db")).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let d = Daemon::new(store, vec![modem], settings, stop_rx);
    let sock = dir.path().join("smsq.sock");
    spawn_tasks(&d, smsq::api::server::bind(&sock).unwrap());
    Rig {
        sim,
        sock,
        daemon: d,
        _stop: stop,
        _dir: dir,
    }
}

fn fast() -> Settings {
    Settings {
        send_gap: Duration::ZERO,
        retry_base: Duration::from_millis(200),
        housekeeping_interval: Duration::from_millis(100),
        ..Settings::default()
    }
}

async fn client(sock: &Path) -> Client {
    Client::connect(sock).await.unwrap()
}

async fn submit(sock: &Path, to: &str, text: &str) -> i64 {
    let r = client(sock)
        .await
        .call(SendRequest::new(vec![to.into()], text))
        .await
        .unwrap();
    r.messages[0].id
}

async fn get(sock: &Path, id: i64) -> MessageDetail {
    client(sock).await.call(Get { message: id }).await.unwrap()
}

async fn wait_state(sock: &Path, id: i64, states: &[S]) -> MessageDetail {
    smsqd::wait_state(&mut client(sock).await, id, states).await
}

fn kinds(m: &MessageDetail) -> Vec<&str> {
    m.history.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_then_permanent_error_and_the_queue_keeps_moving() {
    let r = rig(fast()).await;
    // The first message meets a network timeout, then an unassigned number.
    r.sim.device().fail_for.extend([
        ("+639170000001".to_string(), 332),
        ("+639170000001".to_string(), 1),
    ]);
    let bad = submit(&r.sock, "+639170000001", "for a number that does not exist").await;
    let good = submit(&r.sock, "+639171234567", "your order is ready").await;
    let m = wait_state(&r.sock, bad, &[S::Failed]).await;
    assert_eq!(
        m.attempts, 1,
        "one temporary failure counted before the permanent one"
    );
    assert!(
        m.last_error.as_deref().unwrap().contains("unassigned"),
        "{m:?}"
    );
    let kinds = kinds(&m);
    assert_eq!(kinds, vec!["queued", "retry", "failed"]);
    // The good one went out while the bad one waited for its retry.
    let g = wait_state(&r.sock, good, &[S::Delivered, S::Sent]).await;
    let sent_good = r
        .sim
        .sent()
        .iter()
        .position(|s| s.recipient == "+639171234567")
        .unwrap();
    assert_eq!(
        sent_good, 0,
        "the message behind the failing one was not blocked"
    );
    assert_eq!(g.attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_errors_give_up_after_the_attempt_limit() {
    let r = rig(Settings {
        max_attempts: 3,
        ..fast()
    })
    .await;
    r.sim.device().fail_sends.extend([332, 332, 332]);
    let id = submit(&r.sock, "+639171234567", "busy network").await;
    let m = wait_state(&r.sock, id, &[S::Failed]).await;
    assert!(
        m.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{m:?}"
    );
}

/// `+CMS ERROR: 302` (and every other modem-side code) used to put the message straight back
/// at the head of the queue: hundreds of resubmissions, never failed, and the good messages
/// behind it never sent. Now each such answer counts, backs off, and reinitializes the modem;
/// the message fails after the attempt limit and the queue behind it moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modem_side_errors_count_back_off_and_never_block_the_queue() {
    let r = rig(Settings {
        max_attempts: 3,
        ..fast()
    })
    .await;
    r.sim
        .device()
        .fail_for
        .extend((0..50).map(|_| ("+639170000001".to_string(), 302)));
    let stuck = submit(&r.sock, "+639170000001", "meets operation not allowed").await;
    let good = submit(&r.sock, "+639171234567", "your order is ready").await;
    wait_state(&r.sock, good, &[S::Delivered, S::Sent]).await;
    let m = wait_state(&r.sock, stuck, &[S::Failed]).await;
    let error = m.last_error.as_deref().unwrap();
    assert!(error.contains("operation not allowed"), "{m:?}");
    assert!(error.contains("gave up after 3 attempts"), "{m:?}");
    let left = r
        .sim
        .device()
        .fail_for
        .iter()
        .filter(|(to, _)| to == "+639170000001")
        .count();
    assert_eq!(50 - left, 3, "exactly three sends were tried");
}

/// A modem that loses its settings without a banner (text mode again) answers 302 to
/// `AT+CMGS`: it is brought up again and the message goes out on its next attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_that_lost_its_settings_is_brought_up_again() {
    let r = rig(fast()).await;
    r.sim.device().forget_settings();
    let id = submit(&r.sock, "+639171234567", "after a brown-out").await;
    let m = wait_state(&r.sock, id, &[S::Delivered, S::Sent, S::Failed]).await;
    assert_eq!(m.attempts, 1, "{m:?}");
    assert_eq!(r.sim.sent().len(), 1);
    let kinds = kinds(&m);
    assert_eq!(kinds[..2], ["queued", "retry"], "{kinds:?}");
}

/// Noise damages the modem's answers to two sends: the first keeps its reference (only the
/// final OK was hit) and is `sent`; the second lost both and is `unknown`, never resent; each
/// costs seconds, not the 60 s send timeout, and the queue goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_send_answers_cost_seconds_and_keep_the_rules() {
    let r = rig(fast()).await;
    r.sim
        .device()
        .damaged_send_answers
        .extend([smsq::sim::SendDamage::Final, smsq::sim::SendDamage::Both]);
    let started = Instant::now();
    let a = submit(&r.sock, "+639171234567", "first").await;
    let b = submit(&r.sock, "+639171234568", "second").await;
    let c = submit(&r.sock, "+639171234569", "third").await;
    let m = wait_state(&r.sock, a, &[S::Sent, S::Delivered]).await;
    assert_eq!(m.parts[0].message_ref, Some(1));
    let m = wait_state(&r.sock, b, &[S::Unknown, S::Delivered]).await;
    assert_eq!(m.attempts, 0, "{m:?}");
    wait_state(&r.sock, c, &[S::Sent, S::Delivered]).await;
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.sim.sent().len(), 3, "nothing resent");
}

/// The modem resets right after a send, and the status report arrives before smsqd has set
/// `+CNMI` again: the modem keeps it in storage without a word, and the sweep after the
/// bring-up finds it, so the message is still delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_arrives_before_the_modem_is_configured_again_is_found() {
    let r = rig(fast()).await;
    r.sim.device().timings.status_report_delay = Duration::from_millis(100);
    r.sim.device().timings.reboot_delay = Duration::from_millis(10);
    let id = submit(&r.sock, "+639171234567", "reported during a reset").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.sim.sent().is_empty() {
        assert!(Instant::now() < deadline, "not sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r.sim.reboot();
    let m = wait_state(&r.sock, id, &[S::Delivered]).await;
    assert_eq!(m.parts[0].state, PartState::Delivered, "{m:?}");
}

/// What `systemctl status` shows (the sd_notify STATUS line) names a modem whose sending is
/// paused by a store fault, and stops naming it once the fault clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_status_names_a_store_fault() {
    let r = rig(fast()).await;
    r.daemon
        .set_store_fault(0, Some("database or disk is full".into()));
    let line = r.daemon.status_line().await;
    assert!(
        line.contains(
            "modem0 ready (sending paused: database write failed: database or disk is full)"
        ),
        "{line}"
    );
    let m = client(&r.sock).await.call(Modems {}).await.unwrap();
    assert_eq!(
        m.modems[0].store_error.as_deref(),
        Some("database or disk is full")
    );
    r.daemon.set_store_fault(0, None);
    assert!(!r.daemon.status_line().await.contains("paused"));
}

/// A message whose `not_after` passes while it waits for the modem is not sent: the time is
/// checked again just before the send, not only by the periodic expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_past_its_time_is_not_sent() {
    let r = rig(Settings {
        housekeeping_interval: Duration::from_secs(3600),
        ..fast()
    })
    .await;
    r.sim.faults().network_delay = Duration::from_millis(2500);
    let first = submit(&r.sock, "+639171234567", "takes the modem for 2.5 s").await;
    // RFC 3339 here has whole seconds: this is 0.5 to 1.5 s from now.
    let soon = smsq::time::rfc3339(smsq::time::now_ms() + 1500);
    let request = SendRequest {
        not_after: Some(soon),
        ..SendRequest::new(
            vec!["+639171234568".into()],
            "only worth sending for a second",
        )
    };
    let late = client(&r.sock).await.call(request).await.unwrap().messages[0].id;
    wait_state(&r.sock, first, &[S::Sent, S::Delivered]).await;
    let m = wait_state(&r.sock, late, &[S::Expired]).await;
    assert_eq!(m.parts[0].state, PartState::Failed, "{m:?}");
    assert_eq!(r.sim.sent().len(), 1, "only the first went out");

    // And one already past is refused at once.
    let request = SendRequest {
        not_after: Some("2020-01-01T00:00:00Z".into()),
        ..SendRequest::new(vec!["+639171234568".into()], "too late")
    };
    match client(&r.sock).await.call(request).await {
        Err(smsq::api::client::ClientError::Api(e)) => {
            assert_eq!(e.code, smsq::api::ErrorCode::InvalidTime);
            assert!(e.message.contains("already past"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modem_unplugged_and_back_mid_queue() {
    let r = rig(Settings {
        send_gap: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            submit(
                &r.sock,
                "+639171234567",
                &format!("appointment reminder {i}"),
            )
            .await,
        );
    }
    wait_state(&r.sock, ids[0], &[S::Sent, S::Delivered]).await;
    // Unplugged during the pause between two sends.
    r.sim.disconnect().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    r.sim.reconnect().await.unwrap();
    for id in &ids {
        let m = wait_state(&r.sock, *id, &[S::Sent, S::Delivered, S::Unknown]).await;
        assert_ne!(m.state, S::Unknown, "nothing was in flight at the unplug");
        assert_eq!(
            m.attempts, 0,
            "a missing modem does not count as an attempt"
        );
    }
    assert_eq!(r.sim.sent().len(), 4);
}

fn deliver_parts(text: &str, reference: u8) -> Vec<(usize, String)> {
    let from = Address::parse("+639175550123").unwrap();
    pdu::encode_deliver(&DeliverSpec {
        smsc: None,
        sender: &from,
        timestamp: Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]).unwrap(),
        text,
        plan: PlanOptions {
            concat: pdu::ConcatRef::Ref8(reference),
            ..PlanOptions::default()
        },
        flash: false,
    })
    .unwrap()
}

/// Every event so far, as a subscriber replaying from the start sees them.
async fn history_of(sock: &Path) -> Vec<Event> {
    let mut c = client(sock).await;
    let ack = c.call(Subscribe { since: Some(0) }).await.unwrap();
    let n = ack.replayed.unwrap();
    let mut events = Vec::new();
    while events.len() < n {
        if let ServerLine::Event {
            event: Pushed::Event(event),
        } = c.next_line().await.unwrap()
        {
            events.push(event);
        }
    }
    events
}

async fn inbox(sock: &Path) -> Vec<InboxEntry> {
    let listing = client(sock)
        .await
        .call(ListRequest::new(Mailbox::Inbox))
        .await
        .unwrap();
    let Listing::Inbox(rows) = listing else {
        panic!("{listing:?}")
    };
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_out_of_order_and_a_missing_part_until_the_timeout() {
    let r = rig(Settings {
        multipart_timeout: Duration::from_secs(2),
        ..fast()
    })
    .await;
    let text = "Hello! I'd like to book a fitting for the blue dress next week. ".repeat(6);
    let parts = deliver_parts(&text, 33);
    assert_eq!(parts.len(), 3);
    for i in [2, 0, 1] {
        r.sim.deliver_pdu(parts[i].0, &parts[i].1);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while inbox(&r.sock).await.is_empty() {
        assert!(Instant::now() < deadline, "message not reassembled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = inbox(&r.sock).await;
    assert_eq!(rows[0].text.as_deref(), Some(text.as_str()));
    assert!(rows[0].complete);
    assert!(
        r.sim.stored().is_empty(),
        "deleted from the SIM after the commit"
    );

    // Part 2 of another message never comes.
    let other = deliver_parts(
        &"Second question about opening hours on Sunday? ".repeat(8),
        34,
    );
    assert_eq!(other.len(), 3);
    r.sim.deliver_pdu(other[0].0, &other[0].1);
    r.sim.deliver_pdu(other[2].0, &other[2].1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        inbox(&r.sock).await.len(),
        1,
        "still waiting for the missing part"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = inbox(&r.sock).await;
        if rows.len() == 2 {
            assert!(!rows[0].complete, "flagged incomplete");
            assert_eq!(rows[0].parts, 3);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "incomplete message never surfaced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A UCS-2 SMS-DELIVER part built by hand (TS 23.040 §9.2.2.1), so the UTF-16 units can be
/// cut where a phone cuts them: in the middle of an emoji.
fn ucs2_deliver_part(units: &[u16], reference: u8, total: u8, part: u8) -> (usize, String) {
    let mut pdu = vec![
        0x00, 0x44, 0x0C, 0x91, 0x36, 0x19, 0x57, 0x55, 0x10, 0x32, 0x00, 0x08,
    ];
    pdu.extend([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]);
    pdu.push((6 + units.len() * 2) as u8);
    pdu.extend([0x05, 0x00, 0x03, reference, total, part]);
    for u in units {
        pdu.extend(u.to_be_bytes());
    }
    (pdu.len() - 1, pdu::hex::encode(&pdu))
}

/// Some phones cut a UCS-2 text by code units, so an emoji's two halves land in two parts.
/// Each part alone holds half a character; the message in the inbox has the emoji whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emoji_split_between_two_parts_arrives_whole() {
    let r = rig(fast()).await;
    let text = "Salamat po! 😀 See you at 5";
    let units: Vec<u16> = text.encode_utf16().collect();
    let cut = units
        .iter()
        .position(|&u| (0xD800..0xDC00).contains(&u))
        .unwrap()
        + 1;
    let second = ucs2_deliver_part(&units[cut..], 41, 2, 2);
    let first = ucs2_deliver_part(&units[..cut], 41, 2, 1);
    r.sim.deliver_pdu(second.0, &second.1);
    r.sim.deliver_pdu(first.0, &first.1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while inbox(&r.sock).await.is_empty() {
        assert!(Instant::now() < deadline, "message not reassembled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(inbox(&r.sock).await[0].text.as_deref(), Some(text));
}

async fn wait_inbox(sock: &Path, n: usize) -> Vec<InboxEntry> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = inbox(sock).await;
        if rows.len() >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "inbox has {} of {n}", rows.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A read damaged on the serial line is read again before anything is decided: the second,
/// clean copy is stored and only then deleted; nothing is quarantined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_read_is_read_again_before_quarantine() {
    let r = rig(fast()).await;
    // Let the sweep at start-up finish, so the message comes through +CMTI and AT+CMGR.
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.sim.device().damaged_reads = 1;
    r.sim
        .deliver_text("+639175550123", "Is my laptop ready?", 3);
    let rows = wait_inbox(&r.sock, 1).await;
    assert_eq!(rows[0].text.as_deref(), Some("Is my laptop ready?"));
    sim_copy_deleted(&r.sim).await;
    let history = history_of(&r.sock).await;
    assert!(
        !history.iter().any(|e| e.kind == "quarantined"),
        "{history:?}"
    );
    // Damaged on both readings: the raw copy is quarantined, then the SIM's copy goes.
    r.sim.device().damaged_reads = 2;
    r.sim.deliver_text("+639175550123", "second", 4);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !history_of(&r.sock)
        .await
        .iter()
        .any(|e| e.kind == "quarantined")
    {
        assert!(Instant::now() < deadline, "not quarantined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sim_copy_deleted(&r.sim).await;
}

/// The SIM's copy is deleted only after what was read is committed (stored or
/// quarantined): waits the moment the `AT+CMGD` takes after that commit.
async fn sim_copy_deleted(sim: &Simulator) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.stored().is_empty() {
        assert!(Instant::now() < deadline, "the SIM's copy was not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A read whose answer is lost is retried within seconds, not at the next periodic sweep
/// (ten minutes by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_is_retried_soon() {
    let r = rig(fast()).await;
    // Let the sweep at start-up finish, so the message comes through +CMTI and AT+CMGR.
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.sim.device().lost_reads = 1;
    r.sim
        .deliver_text("+639175550123", "Are you open on Sunday?", 5);
    let rows = wait_inbox(&r.sock, 1).await;
    assert_eq!(rows[0].text.as_deref(), Some("Are you open on Sunday?"));
    assert_eq!(r.sim.device().lost_reads, 0, "the first read was lost");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !r.sim.stored().is_empty() {
        assert!(Instant::now() < deadline, "not deleted after the commit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_pdus_are_quarantined_and_deleted() {
    let r = rig(fast()).await;
    r.sim.deliver_pdu(10, "0004FFFFFFFF");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r.sim.stored().is_empty() {
        assert!(
            Instant::now() < deadline,
            "quarantined PDU not removed from the SIM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = history_of(&r.sock).await;
    assert!(
        history.iter().any(|e| e.kind == "quarantined"),
        "{history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_modems_prefix_routing_failover_and_daily_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut sims = Vec::new();
    let mut handles = Vec::new();
    for name in ["globe", "smart"] {
        let (sim, modem) = common::simulated_modem(dir.path(), name, |_| {}).await;
        sims.push(sim);
        handles.push(modem);
    }
    let rules = vec![
        smsq::daemon::ModemRules {
            prefixes: vec!["+63917".into()],
            daily_cap: Some(3),
            ..Default::default()
        },
        smsq::daemon::ModemRules {
            prefixes: vec!["+63918".into()],
            ..Default::default()
        },
    ];
    let store = Store::open(&dir.path().join("smsq.db")).unwrap();
    let (_stop, stop_rx) = watch::channel(false);
    let d = Daemon::with_rules(store, handles, rules, fast(), stop_rx);
    let sock = dir.path().join("smsq.sock");
    spawn_tasks(&d, smsq::api::server::bind(&sock).unwrap());
    let sent_to =
        |i: usize| -> Vec<String> { sims[i].sent().iter().map(|s| s.recipient.clone()).collect() };

    // Each carrier's numbers from its own SIM.
    let a = submit(&sock, "+639171111111", "from the Globe SIM").await;
    let b = submit(&sock, "+639181111111", "from the Smart SIM").await;
    wait_state(&sock, a, &[S::Sent, S::Delivered]).await;
    wait_state(&sock, b, &[S::Sent, S::Delivered]).await;
    assert_eq!(sent_to(0), vec!["+639171111111"]);
    assert_eq!(sent_to(1), vec!["+639181111111"]);
    assert_eq!(get(&sock, a).await.modem.as_deref(), Some("globe"));

    // Globe unplugged: its numbers fail over to Smart rather than wait.
    sims[0].disconnect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.modems[0].status().state == ModemState::Ready {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = submit(&sock, "+639172222222", "while Globe is away").await;
    assert_eq!(
        wait_state(&sock, c, &[S::Sent, S::Delivered])
            .await
            .modem
            .as_deref(),
        Some("smart")
    );
    sims[0].reconnect().await.unwrap();
    assert!(
        d.modems[0]
            .wait_for(Duration::from_secs(10), |s| s.state == ModemState::Ready)
            .await
    );

    // Globe's cap of 3 parts a day: two more fit, the next one goes through Smart.
    let mut via = Vec::new();
    for i in 0..3 {
        let id = submit(&sock, &format!("+63917333333{i}"), "capped").await;
        via.push(
            wait_state(&sock, id, &[S::Sent, S::Delivered])
                .await
                .modem
                .unwrap(),
        );
    }
    assert_eq!(via, vec!["globe", "globe", "smart"]);
    assert_eq!(sent_to(0).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_received_message_completes_after_a_restart_and_modem_changes_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("smsq.db");
    let text = "Hello! I'd like to book a fitting for the blue dress next week. ".repeat(4);
    let parts = deliver_parts(&text, 77);
    assert_eq!(parts.len(), 2);
    let start = |name: &'static str| {
        let dir = dir.path().to_path_buf();
        let db = db.clone();
        async move {
            let (sim, modem) = common::simulated_modem(&dir, name, |_| {}).await;
            let (stop, stop_rx) = watch::channel(false);
            let d = Daemon::new(Store::open(&db).unwrap(), vec![modem], fast(), stop_rx);
            let sock = dir.join(format!("{name}.sock"));
            spawn_tasks(&d, smsq::api::server::bind(&sock).unwrap());
            (sim, d, stop, sock)
        }
    };
    // The first run receives part 1 only, then stops.
    let (sim1, _d1, stop1, sock1) = start("first").await;
    sim1.deliver_pdu(parts[0].0, &parts[0].1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sim1.stored().is_empty() {
        assert!(Instant::now() < deadline, "part 1 not taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        inbox(&sock1).await.is_empty(),
        "half a message is not an inbox message"
    );
    let _ = stop1.send(true);
    sim1.disconnect().await;
    // The next run gets part 2: the message completes from the stored part 1.
    let (sim2, _d2, _stop2, sock2) = start("second").await;
    sim2.deliver_pdu(parts[1].0, &parts[1].1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = inbox(&sock2).await;
        if let Some(m) = rows.first() {
            assert_eq!(m.text.as_deref(), Some(text.as_str()));
            assert!(m.complete);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not reassembled across the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first modem going away and the second coming up are in the history.
    let history = history_of(&sock2).await;
    let modem_events: Vec<&str> = history
        .iter()
        .filter(|e| e.kind == "modem_state")
        .map(|e| e.detail.as_str())
        .collect();
    assert!(modem_events.contains(&"first: absent"), "{modem_events:?}");
    assert!(modem_events.contains(&"second: ready"), "{modem_events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modems_own_send_gap_paces_its_sends() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, modem) = common::simulated_modem(dir.path(), "slow", |_| {}).await;
    let rules = vec![smsq::daemon::ModemRules {
        send_gap: Some(Duration::from_millis(800)),
        ..Default::default()
    }];
    let (_stop, stop_rx) = watch::channel(false);
    // The global gap is zero: only the modem's own setting can space the sends.
    let d = Daemon::with_rules(
        Store::open(&dir.path().join("smsq.db")).unwrap(),
        vec![modem],
        rules,
        fast(),
        stop_rx,
    );
    let sock = dir.path().join("smsq.sock");
    spawn_tasks(&d, smsq::api::server::bind(&sock).unwrap());
    let started = Instant::now();
    let a = submit(&sock, "+639171234567", "first").await;
    let b = submit(&sock, "+639171234567", "second").await;
    wait_state(&sock, a, &[S::Sent, S::Delivered]).await;
    wait_state(&sock, b, &[S::Sent, S::Delivered]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.sent().len(), 2);
}
