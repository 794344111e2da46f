//! Faults found from outside, each reproduced against the real `smsqd` binary (or, where the
//! test must hold the far end of the serial line, against a simulator in this process that the
//! binary opens with `--device`): the gateway recovers by itself, cannot be turned against its
//! own modem, and keeps its files private.

use std::time::{Duration, Instant};

use serde_json::Value;
use smsq::api::client::Client;
use smsq::api::client::ClientError;
use smsq::api::{Get, InboxEntry, ListRequest, Listing, Mailbox, Modems, OutboxEntry, Ussd};
use smsq::sim;
use smsq::store::MessageState as S;

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::{ExternalModem, Smsqd, cpu_time, send, wait_state};

async fn inbox(c: &mut Client) -> Vec<InboxEntry> {
    match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap() {
        Listing::Inbox(rows) => rows,
        other => panic!("{other:?}"),
    }
}

async fn outbox(c: &mut Client) -> Vec<OutboxEntry> {
    match c.call(ListRequest::new(Mailbox::Outbox)).await.unwrap() {
        Listing::Outbox(rows) => rows,
        other => panic!("{other:?}"),
    }
}

/// The newest message in the inbox, once there is one (15 s at most).
async fn first_received(c: &mut Client) -> InboxEntry {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(m) = inbox(c).await.first() {
            return m.clone();
        }
        assert!(Instant::now() < deadline, "nothing received");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A USSD code travels inside `AT+CUSD=1,"…",15`. Every shape that could close the quoted
/// string, end the command line or start another command is refused at the socket with a
/// clear error, and the modem stays as it was: the next message still goes out in PDU mode
/// through the right service centre and is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_codes_cannot_inject_at_commands() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    for code in [
        "*143#\",15\rAT+CMGF=1\r",
        "*143#\";+CMGF=1",
        "*143#\r\nAT+CSCA=\"+10000\",145\r",
        "*143#\nAT+CMGF=1",
        "*143#\u{1a}",
        "*143#\u{1b}AT+CMGF=1\r",
        "*143#\u{0}",
        "*143#\u{85}",
    ] {
        match c
            .call(Ussd {
                code: code.into(),
                modem: None,
            })
            .await
        {
            Err(ClientError::Api(e)) => {
                assert_eq!(e.code, "invalid_ussd", "{code:?}");
                assert!(e.message.contains("not allowed"), "{}", e.message);
            }
            other => panic!("{code:?} was not refused: {other:?}"),
        }
    }
    let r = c
        .call(send(&["09171234567"], "Your documents are ready."))
        .await
        .unwrap();
    let id = r.messages[0].id;
    let m = wait_state(&mut c, id, &[S::Delivered]).await;
    assert_eq!(m.attempts, 0, "{m:?}");
    let r = c
        .call(Ussd {
            code: "*143#".into(),
            modem: None,
        })
        .await
        .unwrap();
    assert!(r.answer.contains("balance"), "{r:?}");

    // The CLI says why, names the character, and exits 1 (refused).
    let out = d.smsq(&["ussd", "*143#\";AT+CMGF=1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'\"' at position 6"), "{err}");
}

/// smsqd is killed (kill -9) after `AT+CMGS=<n>` and before the PDU: the modem, which lives
/// on (here a simulator in this process, opened by smsqd with `--device`), still waits for
/// PDU text. The next smsqd closes the prompt and is sending again within seconds; the
/// message that was mid-send is `unknown`, never resent blindly, and no stray SMS went out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_the_prompt_does_not_wedge_the_modem() {
    let modem = ExternalModem::start(|_| {}).await;
    let sim = &modem.sim;
    sim.faults().withhold_prompt = true;
    let device = modem.args();
    let mut d = Smsqd::start(&device);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "mid-send when smsqd dies"))
        .await
        .unwrap();
    let first = r.messages[0].id;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !sim.device().at_prompt() {
        assert!(Instant::now() < deadline, "smsqd never sent AT+CMGS");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.signal("-KILL");
    sim.faults().withhold_prompt = false;
    assert!(sim.device().at_prompt());

    let started = Instant::now();
    d.spawn(&device);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "after the restart"))
        .await
        .unwrap();
    let second = r.messages[0].id;
    wait_state(&mut c, second, &[S::Delivered, S::Sent]).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "recovery took {:?}",
        started.elapsed()
    );
    let m = c.call(Get { message: first }).await.unwrap();
    assert_eq!(m.state, S::Unknown, "{m:?}");
    let sent: Vec<String> = sim.sent().into_iter().map(|s| s.text).collect();
    assert_eq!(sent, vec!["after the restart".to_string()]);
}

/// Run by hand with a permissive umask, smsqd still keeps the customers' numbers and texts
/// to its own user: a new state directory is 0700 and the database, its WAL and shared
/// memory files are 0600; a database an older version left 0644 is narrowed.
#[test]
fn the_database_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state").join("smsq");
    let db = state.join("smsq.db");
    let socket = dir.path().join("smsq.sock");
    let start = |db: &std::path::Path| {
        let child = std::process::Command::new("sh")
            .env("TMPDIR", dir.path())
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_smsqd"))
            .args(["--simulate", "--sim-inbound-every", "0", "--country", "PH"])
            .arg("--db")
            .arg(db)
            .arg("--socket")
            .arg(&socket)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "smsqd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut child = start(&db);
    assert_eq!(mode(&state), 0o700, "state directory");
    for suffix in ["", "-wal", "-shm"] {
        let f = state.join(format!("smsq.db{suffix}"));
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // An existing world-readable database is narrowed on the next start.
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut child = start(&old);
    assert_eq!(mode(&old), 0o600);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Control characters in a text are refused at submission, naming the character and its
/// position; line breaks are kept. Nothing refused is queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_a_text_are_refused() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    for (text, shown) in [
        ("pickup\u{0}code", "U+0000 at position 7"),
        ("a\tb", "U+0009 at position 2; use spaces"),
        ("\u{1b}[2Jcleared", "U+001B at position 1"),
        ("rub\u{7f}", "U+007F at position 4"),
        ("c1\u{9b}31m", "U+009B at position 3"),
    ] {
        match c.call(send(&["09171234567"], text)).await {
            Err(ClientError::Api(e)) => {
                assert_eq!(e.code, "invalid_text", "{text:?}");
                assert!(e.message.contains(shown), "{}", e.message);
            }
            other => panic!("{text:?} was not refused: {other:?}"),
        }
    }
    let outbox = outbox(&mut c).await;
    assert!(outbox.is_empty(), "{outbox:?}");
    let r = c
        .call(send(&["09171234567"], "Line one\nLine two\r\nLine three"))
        .await
        .unwrap();
    let id = r.messages[0].id;
    let m = wait_state(&mut c, id, &[S::Delivered]).await;
    assert_eq!(m.text, "Line one\nLine two\r\nLine three");
    assert_eq!(m.encoding, "gsm7");

    let out = d.smsq(&["send", "--to", "09171234567", "tab\there"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("U+0009"));
}

/// smsqd is killed after the modem took the PDU and before its `+CMGS` answer: the part is
/// `unknown` at the next start, with no message reference. The status report the network
/// sends for it (waiting in the SIM's storage) still settles it: delivered, not resent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_a_part_whose_answer_was_lost_settles_it() {
    let modem = ExternalModem::start(|_| {}).await;
    let sim = &modem.sim;
    sim.faults().network_delay = Duration::from_secs(3);
    let device = modem.args();
    let mut d = Smsqd::start(&device);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "the answer to this one is lost"))
        .await
        .unwrap();
    let id = r.messages[0].id;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sim.sent().is_empty() {
        assert!(Instant::now() < deadline, "the PDU never reached the modem");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.signal("-KILL");
    sim.faults().network_delay = Duration::ZERO;
    d.spawn(&device);
    let mut c = d.client().await;
    let m = wait_state(&mut c, id, &[S::Delivered]).await;
    assert_eq!(m.parts[0].message_ref, Some(1), "{m:?}");
    let kinds: Vec<&str> = m.history.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"outcome_unknown"), "{kinds:?}");
    assert_eq!(sim.sent().len(), 1, "not resent");
}

fn config_with(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("smsqd.toml");
    std::fs::write(
        &path,
        format!(
            "country = \"PH\"\nsend_gap = \"0s\"\n{extra}\n[[modem]]\nid = \"modem0\"\nsimulate = \"simcom\"\n"
        ),
    )
    .unwrap();
    path
}

fn read_line(stream: &std::os::unix::net::UnixStream) -> String {
    use std::io::BufRead;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .unwrap();
    line
}

/// Connects and asks for the modems: the connection if served, `None` if turned away for
/// too many connections. smsqd writes its refusal and closes at once, so a client that asks
/// after that finds the connection closed (a broken pipe): turned away too.
fn served(socket: &std::path::Path) -> Option<std::os::unix::net::UnixStream> {
    use std::io::Write;
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    match s.write_all(b"{\"id\":1,\"op\":\"modems\"}\n") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return None,
        Err(e) => panic!("cannot ask: {e}"),
    }
    let line = read_line(&s);
    if line.contains("\"ok\":true") {
        Some(s)
    } else {
        assert!(line.contains("too_many_connections"), "{line}");
        None
    }
}

/// Past `max_connections`, a client hears why it is turned away and is closed; those served
/// keep working, and a new client is served as soon as one leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_told_and_closed() {
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "max_connections = 20");
    let d = Smsqd::start(&["--config", config.to_str().unwrap()]);
    // Twenty clients served and kept open (each asked once, so each is known to be served:
    // the start-up probe's connection may still count for a moment).
    let mut held: Vec<UnixStream> = Vec::new();
    while held.len() < 20 {
        match served(&d.socket) {
            Some(s) => held.push(s),
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    for _ in 0..30 {
        let extra = UnixStream::connect(&d.socket).unwrap();
        let line = read_line(&extra);
        assert!(line.contains("too_many_connections"), "{line}");
        assert!(line.contains("at most 20"), "{line}");
    }
    held.truncate(19);
    let mut c = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.is_none() {
        c = served(&d.socket);
        assert!(Instant::now() < deadline, "no room after a client left");
    }
}

/// With its descriptors exhausted (a low limit and a flood of connections held open),
/// `accept` fails: smsqd backs off instead of spinning, logs the failure a few times rather
/// than a flood of lines, and serves again once the flood is gone.
#[test]
fn an_accept_flood_backs_off_and_recovers() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), "max_connections = 10000");
    let socket = dir.path().join("smsq.sock");
    let log = dir.path().join("stderr.log");
    let mut child = std::process::Command::new("sh")
        .env("TMPDIR", dir.path())
        .arg("-c")
        .arg("ulimit -n 64; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_smsqd"))
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        .arg("--socket")
        .arg(&socket)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "smsqd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let flood: Vec<UnixStream> = (0..200)
        .filter_map(|_| UnixStream::connect(&socket).ok())
        .collect();
    assert!(flood.len() > 100, "the flood connected: {}", flood.len());
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_time(child.id()).as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(child.id()).as_secs_f64() - before;
    assert!(used < 0.5, "smsqd spun on accept: {used} s of CPU in 2 s");
    // The flood came while smsqd was still starting (it connects as soon as the socket
    // exists): what smsqd sets up after that must not have failed for want of descriptors.
    assert!(
        child.try_wait().unwrap().is_none(),
        "smsqd stopped during the flood: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    drop(flood);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.write_all(b"{\"id\":3,\"op\":\"modems\"}\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        let _ = std::io::BufReader::new(&s).read_line(&mut line);
        if line.contains("\"ok\":true") {
            break;
        }
        assert!(Instant::now() < deadline, "smsqd did not recover: {line:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.matches("cannot accept").count();
    println!("accept flood: {used:.2} s of CPU in 2 s, {lines} log line(s)");
    assert!((1..=3).contains(&lines), "{lines} accept lines:\n{text}");
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` where mounting is not permitted (not root): the caller says it skipped.
    fn mount(at: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_path_buf()))
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The disk fills up after the modem took a PDU and before smsqd could record the network's
/// answer. smsqd keeps the answer, pauses that modem, says so in `smsq modems`, refuses new
/// messages with a clear error, and once there is room again records the part as sent,
/// resumes, and sends the next message: nothing lost, nothing sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_sending_and_loses_nothing() {
    // Declared first, so it is removed after the file system on it is unmounted.
    let mount_point = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(mount_point.path(), "4m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let modem = ExternalModem::start(|_| {}).await;
    let sim = &modem.sim;
    sim.faults().network_delay = Duration::from_millis(1500);
    let device = modem.args();
    let db = disk.0.join("smsq.db");
    let d = Smsqd::start_with_db(tempfile::tempdir().unwrap(), db, &device);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09171234567"], "recorded after the disk has room"))
        .await
        .unwrap();
    let first = r.messages[0].id;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sim.sent().is_empty() {
        assert!(Instant::now() < deadline, "the PDU never reached the modem");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let filler = disk.fill();

    // The answer comes; it cannot be written: sending pauses, visibly.
    let deadline = Instant::now() + Duration::from_secs(15);
    let fault = loop {
        let m = c.call(Modems {}).await.unwrap();
        if let Some(e) = m.modems[0].store_error.as_deref() {
            break e.to_string();
        }
        assert!(Instant::now() < deadline, "no store error shown: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(fault.contains("full"), "{fault}");
    let out = d.smsq(&["modems"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sending paused"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    match c
        .call(send(&["09171234567"], "while the disk is full"))
        .await
    {
        Err(ClientError::Api(e)) => assert_eq!(e.code, "store_error", "{e:?}"),
        other => panic!("accepted while the disk is full: {other:?}"),
    }

    // Room again: the part is recorded as sent (not resent), the fault clears, and the next
    // message goes out.
    std::fs::remove_file(filler).unwrap();
    let m = wait_state(&mut c, first, &[S::Sent, S::Delivered]).await;
    assert_eq!(m.parts[0].message_ref, Some(1), "{m:?}");
    let m = c.call(Modems {}).await.unwrap();
    assert!(m.modems[0].store_error.is_none(), "{m:?}");
    let r = c
        .call(send(&["09171234567"], "after the disk has room"))
        .await
        .unwrap();
    let next = r.messages[0].id;
    wait_state(&mut c, next, &[S::Sent, S::Delivered]).await;
    let texts: Vec<String> = sim.sent().into_iter().map(|s| s.text).collect();
    assert_eq!(
        texts,
        [
            "recorded after the disk has room",
            "after the disk has room"
        ]
    );
    drop(d);
}

/// smsqd with a wrong PIN in a crash loop (kill -9 and start again, as systemd's restarts
/// do): the SIM refuses the PIN once, and no later start enters it again, so the SIM keeps
/// two attempts and never needs its PUK. `smsq modems` says why the modem waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_with_a_wrong_pin_never_locks_the_sim() {
    let modem = ExternalModem::start(|d| d.require_pin("1234")).await;
    let sim = &modem.sim;
    let mut device = modem.args();
    device.extend(["--pin", "9999"]);
    let mut d = Smsqd::start(&device);
    for start in 0..4 {
        let mut c = d.client().await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let m = c.call(Modems {}).await.unwrap();
            if m.modems[0].state == "needs_pin" {
                let reason = m.modems[0].reason.clone().unwrap();
                assert!(reason.contains("refused the configured PIN"), "{reason}");
                assert!(reason.contains("2 attempt(s) left"), "{reason}");
                assert_eq!(m.modems[0].pin_attempts_left, Some(2));
                break;
            }
            assert!(Instant::now() < deadline, "start {start}: {m:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(sim.device().pin_attempts_left, 2, "start {start}");
        if start < 3 {
            d.signal("-KILL");
            d.spawn(&device);
        }
    }
    let out = d.smsq(&["modems"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("needs_pin"), "{text}");
    assert!(
        text.contains("will not enter it again until `pin` is changed"),
        "{text}"
    );
}

/// A device modem in a configuration file, with fast retries, for the scenarios below.
fn device_config(dir: &std::path::Path, link: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("device.toml");
    std::fs::write(
        &path,
        format!(
            "country = \"PH\"\nsend_gap = \"0s\"\nmax_attempts = 3\nretry_base = \"200ms\"\n\
             [[modem]]\nid = \"modem0\"\ndevice = \"{}\"\nprofile = \"simcom\"\n",
            link.display()
        ),
    )
    .unwrap();
    path
}

/// Through the real binary: a message the modem keeps answering `+CMS ERROR: 302` is tried
/// three times with back-off and failed, and the message behind it goes out meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modem_side_error_neither_loops_nor_blocks_the_queue() {
    let modem = ExternalModem::start(|d| {
        d.fail_for
            .extend((0..50).map(|_| ("+639170000001".to_string(), 302)));
    })
    .await;
    let sim = &modem.sim;
    let config = device_config(modem._dir.path(), &modem.link);
    let d = Smsqd::start(&["--config", config.to_str().unwrap()]);
    let mut c = d.client().await;
    let r = c
        .call(send(&["09170000001"], "meets operation not allowed"))
        .await
        .unwrap();
    let stuck = r.messages[0].id;
    let r = c
        .call(send(&["09171234567"], "your order is ready"))
        .await
        .unwrap();
    let good = r.messages[0].id;
    wait_state(&mut c, good, &[S::Sent, S::Delivered]).await;
    let m = wait_state(&mut c, stuck, &[S::Failed]).await;
    assert!(
        m.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{m:?}"
    );
    let used = 50 - sim.device().fail_for.len();
    assert_eq!(used, 3, "three sends tried, not hundreds");
}

/// Through the real binary: an emoji a phone split between two UCS-2 parts arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emoji_split_between_parts_arrives_whole_through_smsqd() {
    let modem = ExternalModem::start(|_| {}).await;
    let sim = &modem.sim;
    let device = modem.args();
    let d = Smsqd::start(&device);
    let mut c = d.client().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.call(Modems {}).await.unwrap().modems[0].state != "ready" {
        assert!(Instant::now() < deadline, "modem not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = "Thank you! 👍 See you at 5";
    let units: Vec<u16> = text.encode_utf16().collect();
    let cut = units
        .iter()
        .position(|&u| (0xD800..0xDC00).contains(&u))
        .unwrap()
        + 1;
    // SMS-DELIVER parts built by hand (TS 23.040 §9.2.2.1): UCS-2, 8-bit concatenation.
    let part = |units: &[u16], n: u8| {
        let mut pdu = vec![0x00, 0x44, 0x0C, 0x91, 0x36, 0x19, 0x57, 0x55, 0x10, 0x32];
        pdu.extend([0x00, 0x08, 0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]);
        pdu.push((6 + units.len() * 2) as u8);
        pdu.extend([0x05, 0x00, 0x03, 0x2A, 2, n]);
        for u in units {
            pdu.extend(u.to_be_bytes());
        }
        (pdu.len() - 1, smsq::pdu::hex::encode(&pdu))
    };
    let (len, hex) = part(&units[..cut], 1);
    sim.deliver_pdu(len, &hex);
    let (len, hex) = part(&units[cut..], 2);
    sim.deliver_pdu(len, &hex);
    assert_eq!(first_received(&mut c).await.text.as_deref(), Some(text));
}

/// Through the real binary, noise on the serial line: a damaged `OK` after `+CMGS` costs
/// seconds, not the 60 s send timeout, and the part keeps its reference; a damaged read of
/// a reply is read again rather than quarantined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_lines_cost_seconds_and_lose_nothing_through_smsqd() {
    let modem = ExternalModem::start(|d| {
        d.damaged_send_answers.push_back(sim::SendDamage::Final);
    })
    .await;
    let sim = &modem.sim;
    let device = modem.args();
    let d = Smsqd::start(&device);
    let mut c = d.client().await;
    let started = Instant::now();
    let r = c
        .call(send(&["09171234567"], "answered through noise"))
        .await
        .unwrap();
    let id = r.messages[0].id;
    let m = wait_state(&mut c, id, &[S::Sent, S::Delivered]).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(m.parts[0].message_ref, Some(1), "{m:?}");

    sim.device().damaged_reads = 1;
    sim.deliver_text("+639175550123", "Is my laptop ready?", 9);
    assert_eq!(
        first_received(&mut c).await.text.as_deref(),
        Some("Is my laptop ready?")
    );
    assert!(sim.stored().is_empty(), "deleted after the commit");
}

/// A customer's reply carrying a carriage return and escape sequences (retitle the window,
/// clear the screen) is shown with visible escapes by `smsq inbox`, `smsq watch` and
/// `smsq status`; `--json` keeps the exact text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_text_cannot_take_over_the_terminal() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = Smsqd::start(&modem.args());
    let mut c = d.client().await;
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\rYour order is cancelled";
    modem.sim.deliver_text("+639175550123", hostile, 7);
    assert_eq!(first_received(&mut c).await.text.as_deref(), Some(hostile));
    for args in [&["inbox"][..], &["watch", "--since", "0"][..]] {
        let out = if args[0] == "watch" {
            // watch runs until stopped: give it a moment, then stop it.
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_smsq"))
                .arg("--socket")
                .arg(&d.socket)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(800));
            let _ = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            child.wait_with_output().unwrap().stdout
        } else {
            d.smsq(args).stdout
        };
        let shown = String::from_utf8_lossy(&out);
        assert!(
            !out.iter().any(|&b| b == 0x1b || b == b'\r' || b == 0x07),
            "{args:?} printed control bytes: {shown:?}"
        );
        assert!(
            shown.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\rYour order is cancelled"),
            "{args:?}: {shown}"
        );
    }
    let out = d.smsq(&["inbox", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inbox"][0]["text"], hostile, "--json stays exact");
}
