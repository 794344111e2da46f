//! The real `smsqd` binary as a test drives it: started with a temporary database and socket,
//! signalled, restarted, and spoken to through its socket and through `smsq`.
#![allow(dead_code)]

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smsq::api::client::Client;
use smsq::api::{Get, MessageDetail, SendRequest};
use smsq::sim::{self, Simulator};
use smsq::store::MessageState;

pub struct Smsqd {
    pub child: Option<Child>,
    pub socket: PathBuf,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Smsqd {
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("smsq.db");
        Self::start_with_db(dir, db, extra)
    }

    /// Like `start`, with the database at `db` (on a file system the test controls).
    pub fn start_with_db(dir: tempfile::TempDir, db: PathBuf, extra: &[&str]) -> Self {
        let socket = dir.path().join("smsq.sock");
        let mut s = Self {
            child: None,
            socket,
            db,
            dir,
        };
        s.spawn(extra);
        s
    }

    pub fn spawn(&mut self, extra: &[&str]) {
        let mut args = vec!["--simulate", "--send-gap", "0s", "--country", "PH"];
        if extra.contains(&"--config") {
            args.clear();
        }
        if extra.contains(&"--device") {
            args.remove(0);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_smsqd"))
            // Simulator links in the test's own directory, gone with it.
            .env("TMPDIR", self.dir.path())
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .arg("--socket")
            .arg(&self.socket)
            .args(extra)
            .stdout(Stdio::null())
            // The log, for tests that read what smsqd said (appended across restarts).
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("smsqd.log"))
                    .unwrap(),
            )
            .spawn()
            .expect("smsqd starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while StdUnixStream::connect(&self.socket).is_err() {
            assert!(Instant::now() < deadline, "smsqd did not open its socket");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&mut self, sig: &str) -> std::process::ExitStatus {
        let child = self.child.as_mut().unwrap();
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "smsqd did not exit after {sig}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.unwrap()
    }

    /// What smsqd has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smsqd.log")).unwrap_or_default()
    }

    pub fn smsq(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_smsq"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Smsqd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn send(to: &[&str], text: &str) -> SendRequest {
    SendRequest::new(to.iter().map(|s| s.to_string()).collect(), text)
}

/// Waits until message `id` is in one of `states`.
pub async fn wait_state(c: &mut Client, id: i64, states: &[MessageState]) -> MessageDetail {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let m = c.call(Get { message: id }).await.unwrap();
        if states.contains(&m.state) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} stuck in {}",
            m.state
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A simulated modem kept in the test process, on a pty that smsqd opens with `--device`:
/// it outlives smsqd (kill -9, restarts) and the test controls its faults.
pub struct ExternalModem {
    pub sim: Simulator,
    pub link: std::path::PathBuf,
    pub _dir: tempfile::TempDir,
}

impl ExternalModem {
    pub async fn start(setup: impl FnOnce(&mut sim::Device)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("ttyUSB-sim");
        let sim = Simulator::start(&sim::profile::SIMCOM, &link, setup)
            .await
            .unwrap();
        Self {
            sim,
            link,
            _dir: dir,
        }
    }

    /// smsqd's arguments for this modem.
    pub fn args(&self) -> Vec<&str> {
        vec![
            "--device",
            self.link.to_str().unwrap(),
            "--profile",
            "simcom",
        ]
    }
}

/// CPU time (user + system, every thread) the process `pid` has used so far, from /proc.
pub fn cpu_time(pid: u32) -> Duration {
    let (user, system) = cpu_times(pid);
    user + system
}

/// The user and the system (kernel) parts of [`cpu_time`].
pub fn cpu_times(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    // The command name is in parentheses and may hold spaces: count fields after it.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let time = |field: &str| {
        Duration::from_nanos(field.parse::<u64>().unwrap() * 1_000_000_000 / per_second)
    };
    (time(fields[11]), time(fields[12]))
}

pub const ANA: &str = "+639171234567";
pub const BEN: &str = "+639171234568";
pub const KASIA: &str = "+48601234567";

/// smsqd on `modem` with a `[care]` section, in Manila, with a settable clock.
pub fn start(modem: &ExternalModem, care: &str) -> Smsqd {
    start_with(modem, "", care)
}

/// Like `start`, with more keys in the modem's section.
pub fn start_with(modem: &ExternalModem, modem_keys: &str, care: &str) -> Smsqd {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        format!(
            r#"
country = "PH"
time_zone = "Asia/Manila"
send_gap = "0s"
retry_base = "1s"
[[modem]]
id = "globe"
device = "{}"
profile = "simcom"
{modem_keys}
[care]
shop_name = "Ana's Print"
topics = ["promo"]
{care}
"#,
            modem.link.display()
        ),
    )
    .unwrap();
    let db = dir.path().join("smsq.db");
    Smsqd::start_with_db(
        dir,
        db,
        &["--config", config.to_str().unwrap(), "--test-clock"],
    )
}

pub async fn set_clock(c: &mut Client, now: &str) {
    c.call(smsq::api::SetClock { now: now.into() })
        .await
        .unwrap();
}

/// Waits for `what` to hold, up to 15 s.
pub async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The texts the network accepted for `number`, in order.
pub fn sent_to(modem: &ExternalModem, number: &str) -> Vec<String> {
    modem
        .sim
        .sent()
        .into_iter()
        .filter(|m| m.recipient == number)
        .map(|m| m.text)
        .collect()
}

/// The code of a refused request.
pub fn refusal(e: smsq::api::client::ClientError) -> String {
    match e {
        smsq::api::client::ClientError::Api(api) => api.code.as_str().to_string(),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Records a grant (in store, with the words shown) or a revocation for `number`.
pub async fn consent(c: &mut Client, number: &str, grant: bool) {
    c.call(smsq::api::ConsentRecordRequest {
        number: number.into(),
        action: if grant { "grant" } else { "revoke" }.into(),
        topic: None,
        source: Some("in_store".into()),
        evidence: None,
        text_shown: grant.then(|| "Yes to offers".to_string()),
        actor: None,
    })
    .await
    .unwrap();
}
