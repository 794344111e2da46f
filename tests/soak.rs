//! Soak: a long send run with inbound traffic, smsqd killed with SIGKILL at random moments and
//! started again, then an accounting of every message a client was told was queued and every
//! reply a customer sent: lost, sent twice, left unknown.
//!
//! Minutes long, so not part of `cargo test`; run it with
//!
//! ```sh
//! SOAK_MESSAGES=2000 SOAK_KILLS=30 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! The modem is a simulator in this process that smsqd opens with `--device`, so it lives on
//! across kills as a real modem does (its prompt, storage and sent messages included), with a
//! small network delay so that kills land mid-send. `SOAK_KEEP_DB=/tmp/soak.db` keeps a copy
//! of the database for a closer look; `SOAK_SEED` repeats a run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use smsq::api::client::Client;
use smsq::api::{Get, ListRequest, Listing, Mailbox};
use smsq::sim::{self, Simulator};

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::{Smsqd, send};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), seeded from SOAK_SEED, so a failing run can be
/// repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

async fn connect(d: &Smsqd) -> Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(c) = Client::connect(&d.socket).await {
            return c;
        }
        assert!(Instant::now() < deadline, "smsqd did not come back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: run by hand (see the module docs)"]
async fn kill_9_during_a_long_run_loses_and_duplicates_nothing() {
    let total = env("SOAK_MESSAGES", 500);
    let kills = env("SOAK_KILLS", 10);
    let mut rng = Rng(env("SOAK_SEED", 0x5eed_1234_abcd_ef01) | 1);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB-soak");
    let sim = Simulator::start(&sim::profile::SIMCOM, &link, |d| d.capacity = 50)
        .await
        .unwrap();
    let network = Duration::from_millis(env("SOAK_NETWORK_MS", 100));
    sim.faults().network_delay = network;
    let device = ["--device", link.to_str().unwrap(), "--profile", "simcom"];
    let mut d = Smsqd::start(&device);
    let started = Instant::now();

    // What clients were told was queued (id -> text), and what customers sent.
    let mut acknowledged: BTreeMap<i64, String> = BTreeMap::new();
    let mut replies: Vec<String> = Vec::new();
    let mut refused_while_down = 0u64;
    let mut kills_done = 0;
    // Kill points spread over the run, at random message counts.
    let mut kill_at: Vec<u64> = (0..kills).map(|_| rng.below(total)).collect();
    kill_at.sort_unstable();
    let mut c = connect(&d).await;
    for n in 0..total {
        let text = format!("soak message {n:05}");
        match c.call(send(&["09171234567"], &text)).await {
            Ok(r) => {
                let id = r.messages[0].id;
                acknowledged.insert(id, text);
            }
            // The connection died with smsqd: not acknowledged, so not owed.
            Err(_) => {
                refused_while_down += 1;
                c = connect(&d).await;
            }
        }
        // Submissions keep pace with the modem, so the kills below spread over the whole
        // run and land while parts are with the modem, not before the first send.
        tokio::time::sleep(network).await;
        if rng.below(10) == 0 {
            let reply = format!("soak reply {:05}", replies.len());
            sim.deliver_text("+639175550123", &reply, (replies.len() % 250) as u8);
            replies.push(reply);
        }
        while kill_at.first() == Some(&n) {
            kill_at.remove(0);
            // Somewhere inside a send, a read or a commit.
            tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
            d.signal("-KILL");
            kills_done += 1;
            d.spawn(&device);
            c = connect(&d).await;
        }
    }

    // Let the queue drain: every acknowledged message reaches a state nothing will move.
    let deadline = Instant::now() + Duration::from_secs(120 + total / 20);
    let states = loop {
        let mut states: HashMap<i64, String> = HashMap::new();
        let mut before = None;
        loop {
            let r = c
                .call(ListRequest {
                    limit: Some(1000),
                    before,
                    ..ListRequest::new(Mailbox::Outbox)
                })
                .await
                .unwrap();
            let Listing::Outbox(rows) = r else {
                panic!("{r:?}")
            };
            if rows.is_empty() {
                break;
            }
            for m in &rows {
                states.insert(m.id, m.state.as_str().to_string());
            }
            before = rows.last().map(|m| m.id);
        }
        let pending = states
            .values()
            .filter(|s| matches!(s.as_str(), "queued" | "sending"))
            .count();
        if pending == 0 || Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Replies: give the last ones a moment to be read and committed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut inbox: Vec<String> = Vec::new();
    let mut before = None;
    loop {
        let r = c
            .call(ListRequest {
                limit: Some(1000),
                before,
                ..ListRequest::new(Mailbox::Inbox)
            })
            .await
            .unwrap();
        let Listing::Inbox(rows) = r else {
            panic!("{r:?}")
        };
        if rows.is_empty() {
            break;
        }
        inbox.extend(rows.iter().map(|m| m.text.clone().unwrap_or_default()));
        before = rows.last().map(|m| m.id);
    }

    // SOAK_KEEP_DB=path keeps a copy of the database for a closer look.
    if let Ok(keep) = std::env::var("SOAK_KEEP_DB") {
        for suffix in ["", "-wal", "-shm"] {
            let from = format!("{}{suffix}", d.db.display());
            let _ = std::fs::copy(&from, format!("{keep}{suffix}"));
        }
    }

    // The accounting.
    let mut sent_count: HashMap<String, usize> = HashMap::new();
    for s in sim.sent() {
        *sent_count.entry(s.text).or_default() += 1;
    }
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let (mut lost, mut duplicated, mut silent) = (Vec::new(), Vec::new(), Vec::new());
    for (id, text) in &acknowledged {
        let state = states.get(id).cloned().unwrap_or_else(|| "missing".into());
        *by_state.entry(state.clone()).or_default() += 1;
        let times = sent_count.get(text).copied().unwrap_or(0);
        match state.as_str() {
            "missing" | "queued" | "sending" => lost.push(*id),
            "sent" | "delivered" if times == 0 => lost.push(*id),
            _ => {}
        }
        if times > 1 {
            duplicated.push(*id);
        }
        if times > 0 && matches!(state.as_str(), "failed" | "cancelled" | "expired") {
            silent.push(*id);
        }
    }
    let mut reply_seen: HashMap<&str, usize> = HashMap::new();
    for text in &inbox {
        *reply_seen.entry(text.as_str()).or_default() += 1;
    }
    let replies_lost = replies
        .iter()
        .filter(|r| !reply_seen.contains_key(r.as_str()))
        .count();
    let replies_duplicated = reply_seen.values().filter(|&&n| n > 1).count();
    let unknown = by_state.get("unknown").copied().unwrap_or(0);
    // Parts a kill left `sending`: unknown at the next start, then settled by their report.
    let mut settled_after_unknown = 0;
    for id in acknowledged.keys() {
        let m = c.call(Get { message: *id }).await.unwrap();
        let was_unknown = m.history.iter().any(|e| e.kind == "outcome_unknown");
        if was_unknown && m.state != smsq::store::MessageState::Unknown {
            settled_after_unknown += 1;
        }
    }
    println!(
        "soak: {total} submissions ({} acknowledged, {refused_while_down} cut off by a kill), \
         {kills_done} kill -9, {} replies injected, {:.0} s",
        acknowledged.len(),
        replies.len(),
        started.elapsed().as_secs_f64()
    );
    println!("soak: final states {by_state:?}");
    println!(
        "soak: lost {}, sent twice {}, sent but recorded failed {}, left unknown {unknown} \
         (and {settled_after_unknown} unknown until their report settled them); replies lost \
         {replies_lost}, replies duplicated {replies_duplicated}",
        lost.len(),
        duplicated.len(),
        silent.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(duplicated.is_empty(), "sent twice: {duplicated:?}");
    assert!(
        silent.is_empty(),
        "sent but recorded as not sent: {silent:?}"
    );
    assert_eq!(replies_lost, 0, "replies lost");
    assert_eq!(replies_duplicated, 0, "replies stored twice");
    assert!(
        unknown <= kills_done as usize,
        "more unknown ({unknown}) than kills ({kills_done})"
    );
}
