//! Replays every transcript in `modem-fixtures/` against the modem actor over a real pty (see
//! `modem-fixtures/README.md` for the format). A player answers the actor from the
//! transcript; the test drives the actor's API per `op` line and checks each `expect` line.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smsq::at::codes::CmsError;
use smsq::at::parse::{Final, Urc};
use smsq::modem::{
    ModemConfig, ModemError, ModemEvent, ModemHandle, ModemState, UrcEvent, profile,
};
use smsq::pdu::{self, DecodeOptions, Tpdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};
use tokio_serial::{SerialPort, SerialStream};

#[derive(Debug, Clone, Default)]
struct Exchange {
    command: String,
    replies: Vec<u8>,
    prompt: bool,
    payload: Option<(String, Vec<u8>)>,
    used: bool,
}

#[derive(Debug)]
struct Step {
    op: String,
    urc: Vec<u8>,
    expect: Option<String>,
}

#[derive(Debug, Default)]
struct Transcript {
    profile: String,
    banner: Vec<u8>,
    exchanges: Vec<Exchange>,
    steps: Vec<Step>,
}

fn unescape(s: &str) -> Vec<u8> {
    s.replace("\\r", "\r")
        .replace("\\n", "\n")
        .replace("\\x1A", "\x1A")
        .into_bytes()
}

fn parse(text: &str) -> Transcript {
    let mut t = Transcript::default();
    // Where "<" lines go: the banner, an exchange's replies, its payload replies, or a step.
    enum Target {
        Banner,
        Exchange,
        Payload,
        Step,
    }
    let mut target = Target::Banner;
    let mut has_source = false;
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            has_source |= comment.trim_start().starts_with("source:");
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let push = |t: &mut Transcript, target: &Target, bytes: Vec<u8>| match target {
            Target::Banner => t.banner.extend(bytes),
            Target::Exchange => t.exchanges.last_mut().unwrap().replies.extend(bytes),
            Target::Payload => t
                .exchanges
                .last_mut()
                .unwrap()
                .payload
                .as_mut()
                .unwrap()
                .1
                .extend(bytes),
            Target::Step => t.steps.last_mut().unwrap().urc.extend(bytes),
        };
        if let Some(p) = line.strip_prefix("profile ") {
            t.profile = p.trim().to_string();
        } else if let Some(cmd) = line.strip_prefix("> ") {
            if let Some(pdu) = cmd.strip_suffix("^Z") {
                let e = t.exchanges.last_mut().expect("payload after a command");
                assert!(e.prompt, "payload needs a prompt: {line}");
                e.payload = Some((pdu.to_string(), Vec::new()));
                target = Target::Payload;
            } else {
                t.exchanges.push(Exchange {
                    command: cmd.to_string(),
                    ..Exchange::default()
                });
                target = Target::Exchange;
            }
        } else if line == "<prompt" {
            t.exchanges.last_mut().unwrap().prompt = true;
            push(&mut t, &target, b"\r\n> ".to_vec());
        } else if let Some(raw) = line.strip_prefix("<raw ") {
            push(&mut t, &target, unescape(raw));
        } else if let Some(reply) = line.strip_prefix("< ") {
            push(&mut t, &target, format!("\r\n{reply}\r\n").into_bytes());
        } else if let Some(op) = line.strip_prefix("op ") {
            t.steps.push(Step {
                op: op.to_string(),
                urc: Vec::new(),
                expect: None,
            });
            target = Target::Step;
        } else if let Some(expect) = line.strip_prefix("expect ") {
            t.steps.last_mut().expect("expect after op").expect = Some(expect.to_string());
        } else {
            panic!("unknown transcript line: {line:?}");
        }
    }
    assert!(has_source, "every transcript names its public source");
    assert!(
        !t.profile.is_empty(),
        "every transcript names a driver profile"
    );
    t
}

/// The modem side: answers commands from the transcript, prints URC blocks on request.
async fn play(
    mut master: SerialStream,
    banner: Vec<u8>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    unmatched: Arc<Mutex<Vec<String>>>,
    mut urcs: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let _ = master.write_all(&banner).await;
    let mut input = Vec::new();
    let mut awaiting: Option<usize> = None;
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            urc = urcs.recv() => match urc {
                Some(bytes) => { let _ = master.write_all(&bytes).await; }
                None => return,
            },
            read = master.read(&mut buf) => {
                let Ok(n) = read else { return };
                if n == 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                for &b in &buf[..n] {
                    let mut out = Vec::new();
                    match (awaiting, b) {
                        (Some(i), 0x1A) => {
                            awaiting = None;
                            let got = String::from_utf8_lossy(&input).trim().to_string();
                            input.clear();
                            let mut ex = exchanges.lock().unwrap();
                            let (want, replies) = ex[i].payload.clone().unwrap_or_default();
                            if got.eq_ignore_ascii_case(&want) {
                                out = replies;
                            } else {
                                unmatched.lock().unwrap().push(format!("payload {got}"));
                                out = b"\r\n+CMS ERROR: 304\r\n".to_vec();
                            }
                            ex[i].used = true;
                        }
                        (Some(_), 0x1B) => {
                            awaiting = None;
                            input.clear();
                        }
                        (None, b'\r') => {
                            let command = String::from_utf8_lossy(&input).trim().to_string();
                            input.clear();
                            if command.is_empty() {
                                continue;
                            }
                            let mut ex = exchanges.lock().unwrap();
                            match ex.iter().position(|e| !e.used && e.command.eq_ignore_ascii_case(&command)) {
                                Some(i) => {
                                    out = ex[i].replies.clone();
                                    if ex[i].prompt {
                                        awaiting = Some(i);
                                    } else {
                                        ex[i].used = true;
                                    }
                                }
                                None => {
                                    unmatched.lock().unwrap().push(command);
                                    out = b"\r\nERROR\r\n".to_vec();
                                }
                            }
                        }
                        // ESC in command mode abandons a partial line; nothing is answered.
                        (None, 0x1B) => input.clear(),
                        (_, b'\n') => {}
                        _ => input.push(b),
                    }
                    if !out.is_empty() {
                        let _ = master.write_all(&out).await;
                    }
                }
            }
        }
    }
}

fn describe_pdu(hex: &str) -> String {
    match pdu::decode_hex(hex, DecodeOptions::default()) {
        Ok(p) => match p.tpdu {
            Tpdu::Deliver(d) => format!(
                "deliver {} {}",
                d.sender,
                d.user_data.text().unwrap_or("<data>")
            ),
            Tpdu::StatusReport(r) => {
                format!("status_report {} {}", r.message_ref, r.status_kind.name())
            }
            Tpdu::Submit(s) => format!("submit {}", s.recipient),
        },
        Err(e) => format!("undecodable {e}"),
    }
}

fn describe_error(e: &ModemError) -> String {
    match e {
        ModemError::Rejected(Final::Cms(c)) => {
            format!("cms {} {}", c.code().unwrap_or(0), c.class().name())
        }
        ModemError::NotReady(_) => "error modem not ready".into(),
        other => format!("error {other}"),
    }
}

fn describe_urc(u: &UrcEvent) -> Option<String> {
    Some(match u {
        UrcEvent::Line(Urc::NewMessage { storage, index }) => {
            format!("new_message {storage} {index}")
        }
        UrcEvent::Line(Urc::NewStatusReport { storage, index }) => {
            format!("new_status_report {storage} {index}")
        }
        UrcEvent::Line(Urc::Registration(r)) => format!("registration {}", r.stat),
        UrcEvent::Message { pdu_hex, .. } => {
            describe_pdu(pdu_hex).replacen("deliver", "message", 1)
        }
        UrcEvent::StatusReport { pdu_hex } => describe_pdu(pdu_hex),
        // Vendor noise, signal reports and the like are not what a step waits for.
        _ => return None,
    })
}

async fn perform(
    step: &Step,
    modem: &ModemHandle,
    events: &mut broadcast::Receiver<ModemEvent>,
    urc_tx: &mpsc::UnboundedSender<Vec<u8>>,
) -> String {
    let mut words = step.op.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let arg1 = words.next().unwrap_or_default();
    let arg2 = words.next().unwrap_or_default();
    let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    match verb {
        "state" => {
            modem
                .wait_for(Duration::from_secs(10), |s| {
                    !matches!(s.state, ModemState::Initializing | ModemState::Absent)
                })
                .await;
            format!("state {}", modem.status().state.name())
        }
        "status" => {
            let s = modem.status();
            let registered = if s.is_registered() { "yes" } else { "no" };
            format!(
                "model {} operator {} signal {} registered {} iccid {}",
                dash(s.identity.model),
                dash(s.operator),
                dash(s.signal_dbm.map(|d| d.to_string())),
                registered,
                dash(s.identity.iccid),
            )
        }
        "send" => match modem.send_pdu(arg1.parse().unwrap(), arg2).await {
            Ok(mr) => format!("mr {mr}"),
            Err(e) => describe_error(&e),
        },
        "read" => match modem.read(arg1.parse().unwrap()).await {
            Ok(Some(p)) => describe_pdu(&p.pdu_hex),
            Ok(None) => "empty".into(),
            Err(e) => describe_error(&e),
        },
        "list" => match modem.list().await {
            Ok(v) => {
                let indices: Vec<String> = v
                    .iter()
                    .map(|p| dash(p.header.index.map(|i| i.to_string())))
                    .collect();
                let mut senders = Vec::new();
                let mut parts = Vec::new();
                for p in &v {
                    let pdu = pdu::decode_hex(&p.pdu_hex, DecodeOptions::default()).unwrap();
                    let Tpdu::Deliver(d) = pdu.tpdu else {
                        panic!("not a deliver")
                    };
                    senders.push(d.sender.to_string());
                    parts.push(dash(
                        d.user_data
                            .header
                            .and_then(|h| h.concat)
                            .map(|c| format!("{}/{}", c.part, c.total)),
                    ));
                }
                format!(
                    "count {} indices {} senders {} parts {}",
                    v.len(),
                    indices.join(","),
                    senders.join(","),
                    parts.join(",")
                )
            }
            Err(e) => describe_error(&e),
        },
        "delete" => match modem.delete(arg1.parse().unwrap()).await {
            Ok(()) => "ok".into(),
            Err(e) => describe_error(&e),
        },
        "ack" => match modem.acknowledge().await {
            Ok(()) => "ok".into(),
            Err(e) => describe_error(&e),
        },
        "run" => match modem
            .run(smsq::at::Command::raw(step.op.trim_start_matches("run ")))
            .await
        {
            Ok(_) => "ok".into(),
            Err(e) => describe_error(&e),
        },
        "ussd" => match modem
            .ussd(&smsq::at::command::UssdString::parse(arg1).expect("a valid USSD code"))
            .await
        {
            Ok(text) => format!("text {text}"),
            Err(e) => describe_error(&e),
        },
        "urc" => {
            urc_tx.send(step.urc.clone()).unwrap();
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    if let Ok(ModemEvent::Urc(u)) = events.recv().await
                        && let Some(d) = describe_urc(&u)
                    {
                        return d;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| "no event".into())
        }
        other => panic!("unknown op {other}"),
    }
}

async fn replay(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let t = parse(&text);
    let driver = profile::by_name(&t.profile).unwrap_or_else(|| panic!("profile {}", t.profile));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let (master, slave) = SerialStream::pair().unwrap();
    std::os::unix::fs::symlink(slave.name().unwrap(), &link).unwrap();
    let exchanges = Arc::new(Mutex::new(t.exchanges.clone()));
    let unmatched = Arc::new(Mutex::new(Vec::new()));
    let (urc_tx, urc_rx) = mpsc::unbounded_channel();
    let player = tokio::spawn(play(
        master,
        t.banner.clone(),
        exchanges.clone(),
        unmatched.clone(),
        urc_rx,
    ));

    let mut config = ModemConfig::new("fixture", &link, driver);
    config.registration_wait = Duration::from_millis(300);
    config.wake_attempts = 3;
    config.health_interval = Duration::from_secs(600);
    config.send_timeout = Duration::from_secs(5);
    let modem = ModemHandle::spawn(config);
    let mut events = modem.subscribe();

    let name = path.file_name().unwrap().to_string_lossy().to_string();
    for step in &t.steps {
        let got = perform(step, &modem, &mut events, &urc_tx).await;
        if let Some(want) = &step.expect {
            assert_eq!(&got, want, "{name}: op {}", step.op);
        }
    }
    let unused: Vec<String> = exchanges
        .lock()
        .unwrap()
        .iter()
        .filter(|e| !e.used)
        .map(|e| e.command.clone())
        .collect();
    assert!(
        unused.is_empty(),
        "{name}: exchanges never used: {unused:?}"
    );
    let bad_payloads: Vec<String> = unmatched
        .lock()
        .unwrap()
        .iter()
        .filter(|u| u.starts_with("payload"))
        .cloned()
        .collect();
    assert!(bad_payloads.is_empty(), "{name}: {bad_payloads:?}");
    player.abort();
    drop(slave);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transcript_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("modem-fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let families: std::collections::BTreeSet<String> = files
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .split('-')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(families.len() >= 5, "at least five families: {families:?}");
    for file in &files {
        replay(file).await;
    }
}

#[test]
fn cms_words_used_by_the_transcripts() {
    // The transcripts' expectations lean on these classes; keep them pinned.
    assert_eq!(CmsError::from_code(21).class().name(), "permanent");
    assert_eq!(CmsError::from_code(331).class().name(), "temporary");
}
