//! smsqd as a systemd service: the unit files say what the service issue asks, and the daemon
//! speaks the notification protocol in the right order (to a socket this test owns).

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// section -> key -> every value given (keys like DeviceAllow= repeat).
fn unit(path: &str) -> HashMap<String, HashMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    let mut out: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{path}: not key=value: {line}"));
        out.entry(section.clone())
            .or_default()
            .entry(k.trim().into())
            .or_default()
            .push(v.trim().into());
    }
    out
}

#[test]
fn the_service_unit() {
    let u = unit("systemd/smsqd.service");
    let s = &u["Service"];
    let one = |k: &str| s.get(k).map(|v| v.last().unwrap().as_str());
    assert_eq!(one("Type"), Some("notify"));
    assert!(one("WatchdogSec").is_some());
    assert_eq!(one("User"), Some("smsq"));
    assert_eq!(one("SupplementaryGroups"), Some("dialout"));
    assert_eq!(one("StateDirectory"), Some("smsq"));
    assert_eq!(one("StateDirectoryMode"), Some("0700"));
    assert_eq!(one("LimitNOFILE"), Some("4096"));
    assert_eq!(one("RuntimeDirectory"), Some("smsq"));
    assert_eq!(one("ConfigurationDirectory"), Some("smsq"));
    assert_eq!(one("DevicePolicy"), Some("closed"));
    let allowed = &s["DeviceAllow"];
    assert!(allowed.contains(&"char-ttyUSB rw".to_string()));
    assert!(allowed.contains(&"char-ttyACM rw".to_string()));
    // These would cut the daemon off from its modem.
    assert!(one("PrivateDevices").is_none_or(|v| v == "no"));
    assert!(one("PrivateUsers").is_none_or(|v| v == "no"));
    assert_eq!(one("NoNewPrivileges"), Some("yes"));
    assert_eq!(one("ProtectSystem"), Some("strict"));
    assert_eq!(one("RestrictAddressFamilies"), Some("AF_UNIX"));
    assert_eq!(one("CapabilityBoundingSet"), Some(""));
    assert!(
        u["Unit"]["After"]
            .iter()
            .any(|a| a.contains("systemd-modules-load.service"))
    );
}

/// The HTTP interfaces' drop-in opens the network only as far as they need: the service's
/// other hardening stays, and addresses beyond loopback need a line of the shop's own.
#[test]
fn the_http_drop_in_opens_loopback_only() {
    // The unit's IPAddressDeny=any stays: only loopback is allowed.
    network_drop_in("systemd/smsqd-http.conf", &[]);
}

/// A drop-in that opens the hardened unit's network to loopback (and what its comments
/// tell the shop to add) and relaxes nothing but `also`.
fn network_drop_in(path: &str, also: &[(&str, &str)]) {
    let u = unit(path);
    let s = &u["Service"];
    let one = |k: &str| s.get(k).map(|v| v.last().unwrap().as_str());
    assert_eq!(one("PrivateNetwork"), Some("no"));
    assert_eq!(
        one("RestrictAddressFamilies"),
        Some("AF_UNIX AF_INET AF_INET6")
    );
    assert_eq!(one("IPAddressAllow"), Some("localhost"));
    for (key, value) in also {
        assert_eq!(one(key), Some(*value));
    }
    assert!(s.get("IPAddressDeny").is_none());
    assert_eq!(u.len(), 1, "only [Service] settings");
    assert_eq!(s.len(), 3 + also.len(), "nothing else is relaxed");
}

/// The shared database's drop-in opens the network to one server: the unit's other
/// hardening stays.
#[test]
fn the_postgres_drop_in_opens_the_way_to_the_database_only() {
    network_drop_in(
        "systemd/smsqd-postgres.conf",
        &[("ReadWritePaths", "-/run/postgresql")],
    );
}

#[test]
fn the_socket_unit_and_users() {
    let u = unit("systemd/smsqd.socket");
    let s = &u["Socket"];
    assert_eq!(s["ListenStream"], vec!["/run/smsq/smsq.sock"]);
    assert_eq!(s["SocketMode"], vec!["0660"]);
    assert_eq!(s["SocketGroup"], vec!["smsq"]);
    let sysusers = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/smsq.sysusers.conf"),
    )
    .unwrap();
    assert!(sysusers.lines().any(|l| l.starts_with("u smsq ")));
    assert!(sysusers.lines().any(|l| l.trim() == "m smsq dialout"));
}

#[test]
fn notifications_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let listener = UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .args(["--simulate", "--sim-inbound-every", "0"])
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        .arg("--socket")
        .arg(dir.path().join("smsq.sock"))
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "2000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let mut collect = |until: Instant, seen: &mut Vec<String>| {
        while Instant::now() < until {
            if let Ok(n) = listener.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
            }
        }
    };
    collect(Instant::now() + Duration::from_secs(4), &mut seen);
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    collect(Instant::now() + Duration::from_secs(2), &mut seen);
    assert!(child.wait().unwrap().success());
    let first = |needle: &str| {
        seen.iter()
            .position(|m| m.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {seen:?}"))
    };
    let ready = first("READY=1");
    let watchdog = first("WATCHDOG=1");
    let stopping = first("STOPPING=1");
    assert!(ready < watchdog && watchdog < stopping, "{seen:?}");
    assert!(seen[ready].contains("STATUS=1 modem: modem0"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|m| m.contains("modem0 ready registered -71 dBm Globe Telecom; 0 queued")),
        "{seen:?}"
    );
}

#[test]
fn the_udev_rule_names_the_port_and_keeps_modemmanager_away() {
    let rule = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/77-smsq-modem.rules"),
    )
    .unwrap();
    let joined = rule
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let active: Vec<&str> = joined.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(active.len(), 1, "one rule: {active:?}");
    for needle in [
        "SUBSYSTEM==\"tty\"",
        "ENV{ID_VENDOR_ID}==",
        "ENV{ID_MODEL_ID}==",
        "ENV{ID_USB_INTERFACE_NUM}==",
        "SYMLINK+=\"smsq-modem0\"",
        "ENV{ID_MM_DEVICE_IGNORE}=\"1\"",
        "GROUP=\"dialout\"",
    ] {
        assert!(active[0].contains(needle), "{needle} missing");
    }
}

#[test]
fn logs_fall_back_to_readable_stderr_and_keep_numbers_and_texts_out() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("smsq.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .args(["--simulate", "--sim-inbound-every", "0", "--send-gap", "0s"])
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        .arg("--socket")
        .arg(&socket)
        // A journal stream that is not our stderr (as when a parent process left it set).
        .env("JOURNAL_STREAM", "8:12345")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_listening(&socket);
    let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .arg("--socket")
        .arg(&socket)
        .args(["send", "--to", "+639171234567", "Secret pickup code 4411"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(1500));
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("smsqd ready"), "{log}");
    assert!(log.contains("part sent"), "{log}");
    assert!(log.contains("+*********567"), "numbers masked: {log}");
    assert!(!log.contains("+639171234567"), "no full number: {log}");
    assert!(!log.contains("+6391"), "only the last three digits: {log}");
    assert!(
        !log.contains("Secret pickup code"),
        "no message text: {log}"
    );
    assert!(
        !log.contains("\u{1b}["),
        "no colour codes when not a terminal"
    );
}

#[test]
fn socket_activation_uses_the_socket_systemd_passes() {
    if Command::new("systemd-socket-activate")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("systemd-socket-activate not installed: socket activation not exercised here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .arg(env!("CARGO_BIN_EXE_smsqd"))
        .args(["--simulate", "--sim-inbound-every", "0"])
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        // A different path: if smsqd ignored the passed socket it would bind this one instead.
        .arg("--socket")
        .arg(dir.path().join("not-used.sock"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "systemd-socket-activate did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The first connection starts smsqd, which must answer on the passed socket.
    let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .arg("--socket")
        .arg(&socket)
        .args(["modems", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("modem0"));
    assert!(
        !dir.path().join("not-used.sock").exists(),
        "smsqd bound its own socket"
    );
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("using the socket systemd passed"));
}

#[test]
fn sighup_reloads_what_it_can_and_says_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    let socket = dir.path().join("smsq.sock");
    let write = |text: &str| std::fs::write(&config, text).unwrap();
    write(
        "send_gap = \"0s\"\n[[modem]]\nid = \"m\"\nsimulate = \"simcom\"\nprefixes = [\"+63917\"]\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .arg("--config")
        .arg(&config)
        .args(["--sim-inbound-every", "0"])
        .arg("--db")
        .arg(dir.path().join("smsq.db"))
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_listening(&socket);
    let hup = || {
        Command::new("kill")
            .arg("-HUP")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
    };
    write(
        "send_gap = \"2s\"\n[[modem]]\nid = \"m\"\nsimulate = \"huawei\"\nprefixes = [\"+63918\"]\ndaily_cap = 50\n",
    );
    hup();
    write("send_gap = \"soon\"\n[[modem]]\nid = \"m\"\nsimulate = \"simcom\"\n");
    hup();
    // Still running and answering after a bad reload.
    let out = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .arg("--socket")
        .arg(&socket)
        .arg("modems")
        .output()
        .unwrap();
    assert!(out.status.success());
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("send_gap: 0ns -> 2s"), "{log}");
    assert!(
        log.contains("modem[0].prefixes: [\"+63917\"] -> [\"+63918\"]"),
        "{log}"
    );
    assert!(
        log.contains("modem[0].daily_cap: None -> Some(50)"),
        "{log}"
    );
    assert!(log.contains("need a restart"), "{log}");
    assert!(
        log.contains("modem[0].device: simulate simcom -> simulate huawei"),
        "{log}"
    );
    assert!(log.contains("configuration not reloaded"), "{log}");
    // The refusal names the key and the bad value.
    assert!(
        log.contains("send_gap: \"soon\" is not a duration"),
        "{log}"
    );
}

/// Waits (up to 10 s) until smsqd accepts connections on `socket`.
fn wait_until_listening(socket: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "smsqd not listening on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
