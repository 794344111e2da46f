//! End-to-end figures for the real `smsqd` binary through its socket, with the simulator at
//! zero latency on a real pty kept in this process (a throughput harness, not a timed test).
//! Run: `cargo bench --bench daemon` (five rounds, each on a fresh smsqd; medians last).
//!
//! The CPU figures are smsqd's own (user + system time of its process from
//! `/proc/<pid>/stat`, every thread counted), so the simulator and this client do not count:
//! the cost a shop PC or a Raspberry Pi pays per message. Each round first sends one
//! message that is not counted: the first after start loads what the later ones reuse (its
//! cost is printed apart); end to end, the kernel's share (flushes, the socket, the pty) is
//! printed too.
//!
//! 1. Messages per second from submission to "accepted by the modem" (+CMGS) and the
//!    "sent" event at a subscriber, latency per message, CPU per message.
//! 2. Durable submissions per second with batched `send` requests (each message committed
//!    before the answer), with no modem sending meanwhile; CPU per message.
//! 3. Time from `+CMTI` to the "received" event reaching a subscriber; CPU per message.
//!
//! 4. For scale, what this machine's disk makes the floor: the CPU of two flushed commits
//!    of 13 pages each, what every message needs at the least (its submission answered, its
//!    first part committed `sending` before the modem gets it), measured outside SQLite.
//!
//! A word after `--` runs only the figures whose name contains it (`end_to_end`,
//! `submissions`, `receipts`), for profiling one path.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smsq::api::client::Client;
use smsq::api::{Event, ModemList, Modems, Pushed, SendRequest, ServerLine, Subscribe};

#[path = "../tests/common/smsqd.rs"]
mod smsqd;
use smsqd::{ExternalModem, Smsqd, cpu_time, cpu_times};

struct Rig {
    modem: ExternalModem,
    daemon: Smsqd,
}

impl Rig {
    async fn start(registered: bool) -> Self {
        let modem = ExternalModem::start(|d| {
            d.auto_status_reports = false;
            d.capacity = 250;
        })
        .await;
        let mut args = modem.args();
        args.push("--no-reports");
        let daemon = Smsqd::start(&args);
        let rig = Self { modem, daemon };
        // Ready (and registered, when it should be) before anything is measured.
        let mut c = rig.daemon.client().await;
        let ready = |m: &ModemList| m.modems[0].state == "ready";
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ready(&c.call(Modems {}).await.unwrap()) {
            assert!(Instant::now() < deadline, "modem not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !registered {
            rig.modem.sim.set_registered(false);
        }
        loop {
            let m = c.call(Modems {}).await.unwrap();
            if ready(&m) && m.modems[0].registered == registered {
                break;
            }
            assert!(Instant::now() < deadline, "modem not ready: {m:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rig
    }

    fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    fn pid(&self) -> u32 {
        self.daemon.child.as_ref().unwrap().id()
    }

    /// Sends one message and waits for its `sent` event, and returns smsqd's CPU for it. The
    /// first message after start loads what the later ones reuse (libphonenumber's numbering
    /// plans, SQLite's compiled statements): a daemon runs for weeks, so the figures are for
    /// the messages after it, and this one is printed apart.
    async fn warm_up(&self) -> Duration {
        let mut watcher = self.daemon.client().await;
        watcher.call(Subscribe { since: None }).await.unwrap();
        let before = self.cpu();
        let mut client = self.daemon.client().await;
        let id = client
            .call(send(vec!["+639170000000".into()], "Warming up."))
            .await
            .unwrap()
            .messages[0]
            .id;
        while next_event(&mut watcher, "sent").await.message_id != Some(id) {}
        self.cpu() - before
    }
}

/// The next event of `kind` a subscriber hears (other lines skipped). A subscription that
/// ends stops the bench rather than leaving it reading a closed socket forever.
async fn next_event(watcher: &mut Client, kind: &str) -> Event {
    loop {
        match watcher.next_line().await {
            Ok(ServerLine::Event {
                event: Pushed::Event(event),
            }) if event.kind == kind => return event,
            Ok(_) => {}
            Err(e) => panic!("the subscription ended: {e:?}"),
        }
    }
}

fn send(to: Vec<String>, text: &str) -> SendRequest {
    SendRequest {
        report: Some(false),
        // Batches are bulk sends by design (the shop confirms them).
        confirm_bulk: true,
        ..SendRequest::new(to, text)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn end_to_end(n: usize) -> f64 {
    let rig = Rig::start(true).await;
    let first = rig.warm_up().await;
    let mut watcher = rig.daemon.client().await;
    watcher.call(Subscribe { since: None }).await.unwrap();
    let collector = tokio::spawn(async move {
        let mut sent_at = HashMap::new();
        while sent_at.len() < n {
            let event = next_event(&mut watcher, "sent").await;
            sent_at.insert(event.message_id.unwrap(), Instant::now());
        }
        sent_at
    });
    let mut client = rig.daemon.client().await;
    let mut submitted = HashMap::new();
    let (user_before, kernel_before) = cpu_times(rig.pid());
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
        submitted.insert(r.messages[0].id, t);
    }
    let sent_at = tokio::time::timeout(Duration::from_secs(300), collector)
        .await
        .unwrap()
        .unwrap();
    let (user, kernel) = cpu_times(rig.pid());
    let (user, kernel) = (user - user_before, kernel - kernel_before);
    let cpu = user + kernel;
    let elapsed = sent_at.values().max().unwrap().duration_since(start);
    let mut latencies: Vec<Duration> = submitted
        .iter()
        .map(|(id, t)| sent_at[id].duration_since(*t))
        .collect();
    latencies.sort();
    println!(
        "end to end: {n} messages in {:.2} s = {:.0} messages/s; latency submission -> sent event: median {:.2} ms, p99 {:.2} ms; smsqd CPU {:.3} ms per message ({:.3} in the kernel); the first message after start {:.1} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(cpu) / n as f64,
        ms(kernel) / n as f64,
        ms(first),
    );
    assert_eq!(rig.modem.sim.sent().len(), n + 1);
    ms(cpu) / n as f64
}

async fn durable_submissions(batches: usize, per_batch: usize) -> f64 {
    let rig = Rig::start(false).await;
    let mut client = rig.daemon.client().await;
    // The first submission loads the numbering plans (see `Rig::warm_up`).
    client
        .call(send(vec!["+639170000000".into()], "Warming up."))
        .await
        .unwrap();
    let cpu_before = rig.cpu();
    let start = Instant::now();
    for b in 0..batches {
        let to: Vec<String> = (0..per_batch)
            .map(|i| format!("+639{:02}{:07}", 17 + b % 10, i))
            .collect();
        let r = client
            .call(send(to, "Promo: 15% off everything this weekend."))
            .await
            .unwrap();
        assert_eq!(r.messages.len(), per_batch);
    }
    let elapsed = start.elapsed();
    let cpu = rig.cpu() - cpu_before;
    let n = batches * per_batch;
    println!(
        "durable submissions: {n} messages in {batches} batched sends in {:.2} s = {:.0} submissions/s; smsqd CPU {:.3} ms per message",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        ms(cpu) / n as f64,
    );
    ms(cpu) / n as f64
}

async fn cmti_to_subscriber(n: usize) -> f64 {
    let rig = Rig::start(true).await;
    let mut watcher = rig.daemon.client().await;
    watcher.call(Subscribe { since: None }).await.unwrap();
    let mut latencies = Vec::with_capacity(n);
    let mut cpu_before = Duration::ZERO;
    // The first text warms up (see `Rig::warm_up`) and is not counted.
    for i in 0..=n {
        if i == 1 {
            cpu_before = rig.cpu();
            latencies.clear();
        }
        let t = Instant::now();
        rig.modem
            .sim
            .deliver_text("+639171234567", &format!("Reply number {i}"), 0);
        next_event(&mut watcher, "received").await;
        latencies.push(t.elapsed());
    }
    let cpu = rig.cpu() - cpu_before;
    latencies.sort();
    println!(
        "+CMTI to subscriber: {n} messages; median {:.2} ms, p99 {:.2} ms; smsqd CPU {:.3} ms per message",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(cpu) / n as f64,
    );
    ms(cpu) / n as f64
}

/// CPU of this thread so far (user + system), to the microsecond.
fn thread_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_THREAD is this thread's.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The flush floor (see the module docs): CPU per message of two commits that write 13 WAL
/// frames each and flush them, on the disk of the temporary directory.
fn flush_floor() -> f64 {
    use std::os::unix::fs::FileExt;
    const COMMITS: u32 = 500;
    const FRAMES: u64 = 13;
    let path = std::env::temp_dir().join(format!("smsq-flush-floor-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let (header, page) = ([0u8; 24], [0x5au8; 4096]);
    let before = thread_cpu();
    for commit in 0..u64::from(COMMITS) {
        for frame in 0..FRAMES {
            // A WAL frame: its header, then its page (SQLite writes them apart).
            let at = ((commit * FRAMES + frame) % 1000) * (4096 + 24);
            file.write_all_at(&header, at).unwrap();
            file.write_all_at(&page, at + 24).unwrap();
        }
        file.sync_all().unwrap();
    }
    let per_commit = (thread_cpu() - before) / COMMITS;
    std::fs::remove_file(&path).unwrap();
    let floor = ms(per_commit * 2);
    println!(
        "flush floor on this disk: {:.3} ms CPU per flushed 13-page commit, {floor:.3} ms per message (two of them)",
        ms(per_commit)
    );
    floor
}

/// The median of `rounds` runs' CPU per message, each run on a fresh smsqd and database.
fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

fn main() {
    // `cargo test --benches` runs every bench binary: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|w| name.contains(w.as_str()));
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
            return;
        }
        const ROUNDS: usize = 5;
        let (mut sends, mut submissions, mut receipts) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            if wanted("end_to_end") {
                sends.push(end_to_end(3000).await);
            }
            if wanted("submissions") {
                submissions.push(durable_submissions(50, 200).await);
            }
            if wanted("receipts") {
                receipts.push(cmti_to_subscriber(300).await);
            }
        }
        let floor = flush_floor();
        let figure = |name: &str, figures: Vec<f64>| {
            (!figures.is_empty()).then(|| format!("{name} {:.3} ms", median(figures)))
        };
        let figures: Vec<String> = [
            figure("end to end", sends),
            figure("durable submission", submissions),
            figure("+CMTI to subscriber", receipts),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!(
            "median of {ROUNDS} rounds, smsqd CPU per message: {}; the flush floor {floor:.3} ms",
            figures.join(", ")
        );
    });
}
