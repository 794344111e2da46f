//! Several smsqd hosts on one PostgreSQL (a throwaway server this harness starts), each with
//! two simulated modems at zero latency kept in this process. A throughput harness, not a
//! timed test. Run: `cargo bench --bench hosts` (three rounds per size; medians).
//!
//! 1. Throughput with 1, 2 and 4 hosts: the queue is filled while no SIM is on the network,
//!    then every SIM registers at once; messages per second until the simulators accepted
//!    them all. CPU per message: the smsqd processes' and the PostgreSQL server's (every
//!    `postgres` process), from `/proc`.
//! 2. Claim latency (alone: `cargo bench --bench hosts -- claims`): one store connection per claimer taking due messages as the
//!    dispatchers do (`due_candidates`, then `start` with `FOR UPDATE SKIP LOCKED`), 1, 2
//!    and 4 claimers on one queue; median and p99 of one claim, and how often another
//!    claimer got there first.

use std::time::{Duration, Instant};

use smsq::api::{ModemList, Modems};
use smsq::store::{Db, NewMessage, Start, throwaway};

#[path = "../tests/common/smsqd.rs"]
mod smsqd;
use smsqd::{ExternalModem, Smsqd, cpu_time};

/// CPU time of every PostgreSQL server process now running.
fn postgres_cpu() -> Duration {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            // A process may end between listing and reading.
            if std::fs::metadata(format!("/proc/{pid}/stat")).is_ok() {
                total += std::panic::catch_unwind(|| cpu_time(pid)).unwrap_or_default();
            }
        }
    }
    total
}

fn start_host(url: &str, k: usize, sims: &[ExternalModem]) -> Smsqd {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    let mut text =
        format!("country = \"PH\"\nsend_gap = \"0s\"\ndelivery_reports = false\nhost = \"h{k}\"\n");
    for (j, sim) in sims.iter().enumerate() {
        text.push_str(&format!(
            "[[modem]]\nid = \"h{k}m{j}\"\ndevice = \"{}\"\nprofile = \"simcom\"\n",
            sim.link.display()
        ));
    }
    std::fs::write(&config, text).unwrap();
    Smsqd::start_with_db(dir, url.into(), &["--config", config.to_str().unwrap()])
}

async fn throughput(hosts: usize, messages: usize) -> (f64, f64, f64) {
    let url = tokio::task::spawn_blocking(|| throwaway::database().unwrap())
        .await
        .unwrap();
    let mut sims = Vec::new();
    for _ in 0..2 * hosts {
        let sim = ExternalModem::start(|d| {
            d.auto_status_reports = false;
            d.capacity = 250;
        })
        .await;
        sims.push(sim);
    }
    let daemons: Vec<Smsqd> = (0..hosts)
        .map(|k| start_host(&url, k, &sims[2 * k..2 * k + 2]))
        .collect();
    // Every modem up, then off the network while the queue fills.
    for d in &daemons {
        let mut c = d.client().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m: ModemList = c.call(Modems {}).await.unwrap();
            if m.modems.iter().all(|m| m.state == "ready" && m.registered) {
                break;
            }
            assert!(Instant::now() < deadline, "modems not ready: {m:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for s in &sims {
        s.sim.set_registered(false);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = daemons[0].client().await;
    for batch in 0..messages / 50 {
        let to = (0..50)
            .map(|i| format!("+6391712{:05}", batch * 50 + i))
            .collect();
        let mut request = smsq::api::SendRequest::new(to, "Your order is ready at Cafe Net.");
        request.report = Some(false);
        request.confirm_bulk = true;
        c.call(request).await.unwrap();
    }
    let cpu_before: Duration = daemons
        .iter()
        .map(|d| cpu_time(d.child.as_ref().unwrap().id()))
        .sum::<Duration>();
    let pg_before = postgres_cpu();
    let start = Instant::now();
    for s in &sims {
        s.sim.set_registered(true);
    }
    let total = messages / 50 * 50;
    let deadline = Instant::now() + Duration::from_secs(600);
    while sims.iter().map(|s| s.sim.sent().len()).sum::<usize>() < total {
        assert!(Instant::now() < deadline, "not all sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let cpu: Duration = daemons
        .iter()
        .map(|d| cpu_time(d.child.as_ref().unwrap().id()))
        .sum::<Duration>()
        - cpu_before;
    let pg = postgres_cpu().saturating_sub(pg_before);
    let rate = total as f64 / elapsed.as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e3 / total as f64;
    println!(
        "{hosts} host(s) x 2 modems: {total} messages in {:.2} s = {rate:.0} messages/s; CPU per message: smsqd {:.3} ms, PostgreSQL {:.3} ms",
        elapsed.as_secs_f64(),
        per(cpu),
        per(pg)
    );
    (rate, per(cpu), per(pg))
}

/// One claimer's claims: the latency of each `start` that took its message, and of each
/// that found it taken by another claimer first.
type Claims = (Vec<Duration>, Vec<Duration>);

fn claim_all(url: &str, me: usize, stop_after: usize) -> Claims {
    let mut db = Db::open_postgres(url).unwrap();
    let modem = format!("m{me}");
    let (mut latencies, mut lost) = (Vec::new(), Vec::new());
    while latencies.len() < stop_after {
        let now = 1_000_000;
        let candidates = db.due_candidates(now, 16).unwrap();
        let Some(c) = candidates.iter().find(|c| c.owner.is_none()) else {
            break;
        };
        let t = Instant::now();
        let outcome = db.start(c.id, &modem, now).unwrap();
        let took = t.elapsed();
        match outcome {
            Start::Sending(due) => {
                latencies.push(took);
                db.mark_sent(due.id, due.parts[0].part, 1, now).unwrap();
            }
            _ => lost.push(took),
        }
    }
    (latencies, lost)
}

fn claims(claimers: usize, messages: usize) -> (f64, f64) {
    let url = throwaway::database().unwrap();
    {
        let mut db = Db::open_postgres(&url).unwrap();
        for i in 0..messages {
            db.enqueue(
                &NewMessage::new(&format!("+6391712{i:05}"), "hi", vec![(20, "00PDU".into())]),
                0,
            )
            .unwrap();
        }
    }
    let per_claimer = messages / claimers;
    let results: Vec<Claims> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..claimers)
            .map(|k| {
                let url = url.clone();
                s.spawn(move || claim_all(&url, k, per_claimer))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sorted = |pick: fn(&Claims) -> &Vec<Duration>| {
        let mut all: Vec<Duration> = results.iter().flat_map(|r| pick(r).clone()).collect();
        all.sort();
        all
    };
    let (won, lost) = (sorted(|r| &r.0), sorted(|r| &r.1));
    let at = |all: &[Duration], p: f64| {
        all.get(((all.len().max(1) - 1) as f64 * p) as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "claims, {claimers} claimer(s) racing for the head of one queue: {} taken, median {:.3} ms, p99 {:.3} ms; {} found taken by another (skipped, not waited for), median {:.3} ms",
        won.len(),
        at(&won, 0.5),
        at(&won, 0.99),
        lost.len(),
        at(&lost, 0.5)
    );
    (at(&won, 0.5), at(&won, 0.99))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if throwaway::server_programs().is_none() {
        eprintln!(
            "PostgreSQL's server programs are missing ({}): nothing measured",
            throwaway::INSTALL
        );
        return;
    }
    // `cargo test --benches` runs every bench binary: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rounds, messages) = if quick { (1, 100) } else { (3, 3000) };
    // `cargo bench --bench hosts -- claims`: the claim latencies only.
    let only_claims = std::env::args().any(|a| a == "claims");
    let mut summary = Vec::new();
    for hosts in [1, 2, 4].into_iter().filter(|_| !only_claims) {
        let mut rates = Vec::new();
        let (mut cpu, mut pg) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (r, c, p) = runtime.block_on(throughput(hosts, messages));
            rates.push(r);
            cpu.push(c);
            pg.push(p);
        }
        summary.push((hosts, median(rates), median(cpu), median(pg)));
    }
    let one = summary.first().map_or(1.0, |s| s.1);
    println!("medians:");
    for (hosts, rate, cpu, pg) in &summary {
        println!(
            "  {hosts} host(s): {rate:.0} messages/s ({:.0} % of {hosts} x one host), CPU per message smsqd {cpu:.3} ms + PostgreSQL {pg:.3} ms",
            100.0 * rate / (one * *hosts as f64)
        );
    }
    let claim_messages = if quick { 40 } else { 2000 };
    for claimers in [1, 2, 4] {
        claims(claimers, claim_messages);
    }
}
