//! With the only modem unplugged and a message waiting, the dispatcher waits to be woken: it
//! must not poll the store in a tight loop (no CPU burnt while the modem is absent). Its own
//! test binary, so no other test adds to the process's CPU time.

mod common;

use std::time::Duration;

use smsq::daemon::{Daemon, Settings, Submission};
use smsq::modem::ModemState;
use smsq::smsqd::spawn_tasks;

use smsq::store::Store;
use tokio::sync::watch;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absent_modem_with_work_waiting_costs_no_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, modem) = common::simulated_modem(dir.path(), "modem0", |c| {
        c.reopen_backoff = (Duration::from_secs(5), Duration::from_secs(30));
    })
    .await;
    let (_stop, stop_rx) = watch::channel(false);
    let d = Daemon::new(
        Store::open(&dir.path().join("smsq.db")).unwrap(),
        vec![modem],
        Settings::default(),
        stop_rx,
    );
    spawn_tasks(
        &d,
        smsq::api::server::bind(&dir.path().join("smsq.sock")).unwrap(),
    );
    sim.disconnect().await;
    assert!(
        d.modems[0]
            .wait_for(Duration::from_secs(5), |s| s.state == ModemState::Absent)
            .await
    );
    let waiting = Submission::new(vec!["+639171234567".into()], "waiting");
    d.submit(waiting, smsq::daemon::Peer::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_seconds() - before;
    // Measured: 0.00 s waiting to be woken; 0.08 s when it polled every 10 ms (the bug this
    // test guards). /proc counts in 10 ms ticks.
    assert!(
        used < 0.03,
        "{used:.2} s of CPU in 2 s while waiting for an absent modem"
    );
}
