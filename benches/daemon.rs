//! End-to-end figures for smsqd through its real socket, with the simulator at zero latency
//! on a real pty (a throughput harness, not a timed test). Run: `cargo bench --bench daemon`.
//!
//! 1. Messages per second from submission to "accepted by the modem" (+CMGS), with median
//!    and 99th-percentile latency per message.
//! 2. Durable submissions per second with batched `send` requests (each message committed
//!    before the answer), with no modem sending meanwhile.
//! 3. Time from `+CMTI` to the "received" event reaching a subscriber.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smsq::api::client::Client;
use smsq::api::{Op, Recipients, SendRequest, ServerLine};
use smsq::daemon::{Daemon, Settings, spawn_tasks};
use smsq::modem::{ModemConfig, ModemHandle, ModemState, profile};
use smsq::sim::{self, Simulator};
use smsq::store::Store;
use tokio::sync::watch;

struct Rig {
    sim: Simulator,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
    _daemon: Arc<Daemon>,
}

async fn start(registered: bool) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let sim = Simulator::start(&sim::profile::SIMCOM, &link, |d| {
        d.auto_status_reports = false;
        d.capacity = 250;
    })
    .await
    .unwrap();
    let mut config = ModemConfig::new("modem0", &link, &profile::SIMCOM);
    config.registration_wait = Duration::from_millis(500);
    let modem = ModemHandle::spawn(config);
    assert!(
        modem
            .wait_for(Duration::from_secs(10), |s| s.state == ModemState::Ready)
            .await
    );
    if !registered {
        sim.set_registered(false);
        assert!(
            modem
                .wait_for(Duration::from_secs(5), |s| !s.is_registered())
                .await
        );
    }
    let store = Store::open(&dir.path().join("smsq.db")).unwrap();
    let settings = Settings {
        send_gap: Duration::ZERO,
        status_reports: false,
        ..Settings::default()
    };
    let (stop, stop_rx) = watch::channel(false);
    let d = Daemon::new(store, vec![modem], settings, stop_rx);
    let socket = dir.path().join("smsq.sock");
    let listener = smsq::api::server::bind(&socket).unwrap();
    spawn_tasks(&d, listener);
    Rig {
        sim,
        socket,
        _dir: dir,
        _stop: stop,
        _daemon: d,
    }
}

fn send(to: Vec<String>, text: &str) -> Op {
    Op::Send(SendRequest {
        to: Recipients::Many(to),
        text: text.into(),
        encoding: None,
        priority: None,
        not_before: None,
        not_after: None,
        client_ref: None,
        idempotency_key: None,
        report: Some(false),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn end_to_end(n: usize) {
    let rig = start(true).await;
    let mut watcher = Client::connect(&rig.socket).await.unwrap();
    watcher.call(Op::Subscribe { since: None }).await.unwrap();
    let collector = tokio::spawn(async move {
        let mut sent_at = HashMap::new();
        while sent_at.len() < n {
            if let Ok(ServerLine::Event { event }) = watcher.next_line().await
                && event["kind"] == "sent"
            {
                sent_at.insert(event["message_id"].as_i64().unwrap(), Instant::now());
            }
        }
        sent_at
    });
    let mut client = Client::connect(&rig.socket).await.unwrap();
    let mut submitted = HashMap::new();
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let r = client
            .call(send(
                vec![format!("+6391712{:05}", i)],
                "Your order is ready for pickup at Cafe Net.",
            ))
            .await
            .unwrap();
        submitted.insert(r["messages"][0]["id"].as_i64().unwrap(), t);
    }
    let sent_at = tokio::time::timeout(Duration::from_secs(120), collector)
        .await
        .unwrap()
        .unwrap();
    let elapsed = sent_at.values().max().unwrap().duration_since(start);
    let mut latencies: Vec<Duration> = submitted
        .iter()
        .map(|(id, t)| sent_at[id].duration_since(*t))
        .collect();
    latencies.sort();
    println!(
        "end to end: {n} messages in {:.2} s = {:.0} messages/s; latency submission -> +CMGS: median {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    assert_eq!(rig.sim.sent().len(), n);
}

async fn durable_submissions(batches: usize, per_batch: usize) {
    let rig = start(false).await;
    let mut client = Client::connect(&rig.socket).await.unwrap();
    let start = Instant::now();
    for b in 0..batches {
        let to: Vec<String> = (0..per_batch)
            .map(|i| format!("+639{:02}{:07}", b % 100, i))
            .collect();
        let r = client
            .call(send(to, "Promo: 15% off everything this weekend."))
            .await
            .unwrap();
        assert_eq!(r["messages"].as_array().unwrap().len(), per_batch);
    }
    let elapsed = start.elapsed();
    let n = batches * per_batch;
    println!(
        "durable submissions: {n} messages in {batches} batched sends in {:.2} s = {:.0} submissions/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

async fn cmti_to_subscriber(n: usize) {
    let rig = start(true).await;
    let mut watcher = Client::connect(&rig.socket).await.unwrap();
    watcher.call(Op::Subscribe { since: None }).await.unwrap();
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        rig.sim
            .deliver_text("+639171234567", &format!("Reply number {i}"), 0);
        loop {
            if let Ok(ServerLine::Event { event }) = watcher.next_line().await
                && event["kind"] == "received"
            {
                latencies.push(t.elapsed());
                break;
            }
        }
    }
    latencies.sort();
    println!(
        "+CMTI to subscriber: {n} messages; median {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo test --benches` runs every bench binary: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if quick {
            end_to_end(20).await;
            durable_submissions(2, 10).await;
            cmti_to_subscriber(5).await;
        } else {
            end_to_end(2000).await;
            durable_submissions(50, 200).await;
            cmti_to_subscriber(200).await;
        }
    });
}
