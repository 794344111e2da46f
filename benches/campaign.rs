//! A campaign to 10,000 customers through the real `smsqd`: the preview (every recipient's
//! text rendered and planned, the gate asked for each) and the start (every message planned,
//! encoded and queued through the gate in one transaction), wall time and smsqd's CPU, median
//! of five rounds on fresh daemons. The modem is off the network meanwhile, so nothing is sent:
//! this measures the campaign, not the radio. Run: `cargo bench --bench campaign`.

use std::time::{Duration, Instant};

use smsq::api::{CampaignRequest, ModemList, Modems, PreviewCampaign, StartCampaign};
use smsq::store::{ConsentSource, ConsentState, ContactChange, Db, ImportRow, NewConsent};

#[path = "../tests/common/smsqd.rs"]
mod smsqd;
use smsqd::{ExternalModem, Smsqd, cpu_time};

/// A database holding `n` contacts tagged `regulars`, each with a grant of marketing.
fn customers(path: &std::path::Path, n: usize) {
    let mut db = Db::open(path).expect("database");
    let rows: Vec<ImportRow> = (0..n)
        .map(|i| {
            let number = format!("+63917{:07}", 1_000_000 + i);
            ImportRow {
                change: ContactChange {
                    name: Some(Some(format!("Customer {i}"))),
                    add_tags: vec!["regulars".into()],
                    ..ContactChange::default()
                },
                consent: Some(NewConsent {
                    number: number.clone(),
                    topic: String::new(),
                    state: ConsentState::Granted,
                    source: ConsentSource::InStore,
                    evidence: None,
                    text_shown: Some("Yes to offers".into()),
                    actor: None,
                    double_opt_in_confirmed_at: None,
                }),
                number,
            }
        })
        .collect();
    db.import_contacts(&rows, false, 0).expect("import");
}

async fn round(n: usize) -> (Duration, Duration, f64) {
    let modem = ExternalModem::start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("smsq.db");
    customers(&db, n);
    let daemon = Smsqd::start_with_db(dir, db, &modem.args());
    let mut c = daemon.client().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let ready = |m: &ModemList| m.modems[0].state == "ready";
    while !ready(&c.call(Modems {}).await.unwrap()) {
        assert!(Instant::now() < deadline, "modem not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    modem.sim.set_registered(false);
    while c.call(Modems {}).await.unwrap().modems[0].registered {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = CampaignRequest {
        name: "bench".into(),
        text: Some("Hi {{first_name}}, 20% off all prints this week at Ana's.".into()),
        tags: vec!["regulars".into()],
        ..CampaignRequest::default()
    };
    let pid = daemon.child.as_ref().unwrap().id();
    let cpu_before = cpu_time(pid);
    let t = Instant::now();
    let preview = c.call(PreviewCampaign(request.clone())).await.unwrap();
    let preview_time = t.elapsed();
    assert_eq!(preview.recipients, n);
    let mut start = request;
    start.confirm = true;
    let t = Instant::now();
    let started = c.call(StartCampaign(start)).await.unwrap();
    let start_time = t.elapsed();
    assert_eq!(
        started.sending + started.held,
        n,
        "{:?}",
        started.refused.keys()
    );
    let cpu = cpu_time(pid) - cpu_before;
    println!(
        "campaign to {n}: preview {:.0} ms, start (queued through the gate) {:.0} ms; smsqd CPU {:.1} µs per recipient",
        preview_time.as_secs_f64() * 1000.0,
        start_time.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1e6 / n as f64
    );
    (preview_time, start_time, cpu.as_secs_f64() * 1e6 / n as f64)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if quick {
            round(50).await;
            return;
        }
        let mut rounds = Vec::new();
        for _ in 0..5 {
            rounds.push(round(10_000).await);
        }
        let mut previews: Vec<Duration> = rounds.iter().map(|r| r.0).collect();
        let mut starts: Vec<Duration> = rounds.iter().map(|r| r.1).collect();
        let mut cpus: Vec<f64> = rounds.iter().map(|r| r.2).collect();
        previews.sort();
        starts.sort();
        cpus.sort_by(f64::total_cmp);
        println!(
            "median of 5 rounds, 10,000 recipients: preview {:.0} ms, start {:.0} ms, smsqd CPU {:.1} µs per recipient",
            previews[2].as_secs_f64() * 1000.0,
            starts[2].as_secs_f64() * 1000.0,
            cpus[2]
        );
    });
}
