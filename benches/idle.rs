//! What an idle smsqd costs: `smsqd --simulate` with nothing to do for a while (60 s by
//! default, `SMSQ_IDLE_SECS` to change), measured from /proc: CPU time used, context switches
//! per second over all its threads (each is a wake-up), and resident memory.
//! Run: `cargo bench --bench idle`. (The simulator runs inside the same process, so the
//! figures include it.)

use std::process::{Command, Stdio};
use std::time::Duration;

fn proc_stat(pid: u32) -> (f64, u64) {
    // utime + stime in clock ticks (fields 14 and 15), and RSS in pages (field 24).
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let rss_pages = f[21].parse::<u64>().unwrap();
    (ticks as f64 / 100.0, rss_pages * 4096)
}

fn context_switches(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let secs: u64 = if quick {
        2
    } else {
        std::env::var("SMSQ_IDLE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .args([
            "--simulate",
            "--sim-inbound-every",
            "0",
            "--log-level",
            "warn",
        ])
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        .arg("--socket")
        .arg(dir.path().join("smsq.sock"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Let bring-up and the first sweep finish before measuring.
    std::thread::sleep(Duration::from_secs(8));
    let (cpu0, _) = proc_stat(pid);
    let cs0 = context_switches(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let (cpu1, rss) = proc_stat(pid);
    let cs1 = context_switches(pid);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "idle {secs} s: CPU {:.2} s ({:.3} %), {:.2} wake-ups/s (context switches, all threads), resident {:.1} MB",
        cpu1 - cpu0,
        (cpu1 - cpu0) / secs as f64 * 100.0,
        (cs1 - cs0) as f64 / secs as f64,
        rss as f64 / 1_048_576.0
    );
}
