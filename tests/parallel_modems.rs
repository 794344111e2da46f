//! Several modems send at the same time: through the real smsqd with simulated modems whose
//! network takes a while to accept each SMS, N modems without prefixes send N times what one
//! modem sends in the same time, each message once and through one modem.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smsq::api::Modems;
use smsq::store::MessageState as S;

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::{Smsqd, send, wait_state};

/// How long the simulated network takes to accept each SMS.
const NETWORK: &str = "400ms";
/// Messages per modem.
const PER_MODEM: usize = 8;

/// Sends `PER_MODEM` messages per modem through `modems` simulated modems; returns the time
/// from the first submission until every message is sent, and how many each modem sent.
async fn run(modems: usize) -> (Duration, HashMap<String, usize>) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    let mut text = String::from("country = \"PH\"\nsend_gap = \"0s\"\ndelivery_reports = false\n");
    for i in 0..modems {
        text.push_str(&format!(
            "[[modem]]\nid = \"m{i}\"\nsimulate = \"simcom\"\n"
        ));
    }
    std::fs::write(&config, text).unwrap();
    let d = Smsqd::start(&[
        "--config",
        config.to_str().unwrap(),
        "--sim-network-delay",
        NETWORK,
        "--sim-inbound-every",
        "0",
    ]);
    let mut c = d.client().await;
    // Every modem ready before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = c.call(Modems {}).await.unwrap();
        let ready = m.modems.iter().filter(|m| m.state == "ready").count();
        if ready == modems {
            break;
        }
        assert!(Instant::now() < deadline, "modems not ready: {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let mut ids = Vec::new();
    for n in 0..modems * PER_MODEM {
        let r = c
            .call(send(&["09171234567"], &format!("parallel {n}")))
            .await
            .unwrap();
        ids.push(r.messages[0].id);
    }
    let mut by_modem: HashMap<String, usize> = HashMap::new();
    for id in ids {
        let m = wait_state(&mut c, id, &[S::Sent]).await;
        let sends = m.history.iter().filter(|e| e.kind == "part_sent").count();
        assert_eq!(sends, 1, "message {id} sent once: {m:?}");
        *by_modem
            .entry(m.parts[0].modem.clone().unwrap())
            .or_default() += 1;
    }
    (started.elapsed(), by_modem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_modems_send_four_times_what_one_sends() {
    let (one, _) = run(1).await;
    let (four, by_modem) = run(4).await;
    println!(
        "{PER_MODEM} messages per modem at {NETWORK} each: 1 modem {:.2} s, 4 modems {:.2} s; \
         per modem {by_modem:?}",
        one.as_secs_f64(),
        four.as_secs_f64()
    );
    assert_eq!(by_modem.len(), 4, "every modem sent: {by_modem:?}");
    assert!(
        four.as_secs_f64() <= one.as_secs_f64() * 1.1,
        "4 modems took {four:?} for 4x the messages, 1 modem {one:?}"
    );
}

/// The scaling figures for 1, 2, 4 and 8 modems (run by hand:
/// `cargo test --release --test parallel_modems -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn scaling_from_one_to_eight_modems() {
    let (one, _) = run(1).await;
    for n in [1, 2, 4, 8] {
        let (took, by_modem) = run(n).await;
        let rate = (n * PER_MODEM) as f64 / took.as_secs_f64();
        println!(
            "{n} modem(s): {} messages in {:.2} s = {rate:.2}/s, {:.2}x one modem; per modem {:?}",
            n * PER_MODEM,
            took.as_secs_f64(),
            n as f64 * one.as_secs_f64() / took.as_secs_f64(),
            by_modem.values().collect::<Vec<_>>()
        );
    }
}

/// Two modems (simulated in this process, so the test can unplug one) share a run; one is
/// unplugged mid-run. Its part in flight is `unknown` at worst, its queued work moves to the
/// other modem, and no message goes out twice or through both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_unplugged_mid_run_hands_its_work_over() {
    use smsq::sim::{self, Simulator};
    let dir = tempfile::tempdir().unwrap();
    let mut sims = Vec::new();
    let mut text = String::from("country = \"PH\"\nsend_gap = \"0s\"\ndelivery_reports = false\n");
    for name in ["a", "b"] {
        let link = dir.path().join(format!("ttyUSB-{name}"));
        let sim = Simulator::start(&sim::profile::SIMCOM, &link, |_| {})
            .await
            .unwrap();
        sim.faults().network_delay = Duration::from_millis(200);
        text.push_str(&format!(
            "[[modem]]\nid = \"{name}\"\ndevice = \"{}\"\nprofile = \"simcom\"\n",
            link.display()
        ));
        sims.push(sim);
    }
    let config = dir.path().join("smsqd.toml");
    std::fs::write(&config, text).unwrap();
    let d = Smsqd::start(&["--config", config.to_str().unwrap()]);
    let mut c = d.client().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while c
        .call(Modems {})
        .await
        .unwrap()
        .modems
        .iter()
        .any(|m| m.state != "ready")
    {
        assert!(Instant::now() < deadline, "modems not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ids = Vec::new();
    for n in 0..30 {
        let r = c
            .call(send(&["09171234567"], &format!("handover {n:02}")))
            .await
            .unwrap();
        ids.push(r.messages[0].id);
    }
    // Let both modems get going, then pull the first one out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sims[0].sent().len() < 3 {
        assert!(Instant::now() < deadline, "modem a sends nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sims[0].disconnect().await;
    let mut unknown = 0;
    for id in &ids {
        let m = wait_state(&mut c, *id, &[S::Sent, S::Unknown]).await;
        if m.state == S::Unknown {
            unknown += 1;
        }
    }
    let a: Vec<String> = sims[0].sent().into_iter().map(|s| s.text).collect();
    let b: Vec<String> = sims[1].sent().into_iter().map(|s| s.text).collect();
    assert!(
        unknown <= 1,
        "{unknown} unknown: only the part in flight may be"
    );
    assert!(
        a.iter().all(|t| !b.contains(t)),
        "a message went through both modems"
    );
    let mut all: Vec<&String> = a.iter().chain(&b).collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "a message went out twice");
    assert!(all.len() >= 29, "{} of 30 went out", all.len());
    assert!(
        b.len() > a.len(),
        "the work moved to b: a {}, b {}",
        a.len(),
        b.len()
    );
}
