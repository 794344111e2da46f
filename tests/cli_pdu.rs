//! The `smsq pdu` and `smsq estimate` commands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn smsq(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smsq runs");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("write stdin");
        }
    }
    child.wait_with_output().expect("smsq finishes")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn decode_deliver_prints_the_documented_fields() {
    let v = json(&smsq(
        &[
            "pdu",
            "decode",
            "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        ],
        None,
    ));
    assert_eq!(v["type"], "deliver");
    assert_eq!(v["smsc"], "+27381000015");
    assert_eq!(
        v["sender"], "27838890001",
        "TON 4 is not international: no '+'"
    );
    assert_eq!(v["timestamp"], "1999-03-29T15:16:59+02:00");
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["text"], "hellohello");
    assert_eq!(v["class"], Value::Null);
    assert_eq!(v["udh"], Value::Null);
    assert!(v.get("recipient").is_none());
}

#[test]
fn decode_concatenated_ucs2_from_stdin() {
    let hex = "00440C913619173254760008621132015103231605000307020100430\
               07A0065015B01070020D83DDE00\n";
    let v = json(&smsq(&["pdu", "decode", "-"], Some(hex)));
    assert_eq!(v["sender"], "+639171234567");
    assert_eq!(v["encoding"], "ucs2");
    assert_eq!(v["text"], "Cześć 😀");
    assert_eq!(v["udh"]["concat_ref"], 7);
    assert_eq!(v["udh"]["concat_ref_bits"], 8);
    assert_eq!(v["udh"]["total"], 2);
    assert_eq!(v["udh"]["part"], 1);
}

#[test]
fn decode_status_report_and_eight_bit() {
    let hex = "00062A0C913619173254766211320151032362113201520329".to_owned() + "46";
    let v = json(&smsq(&["pdu", "decode", &hex], None));
    assert_eq!(v["type"], "status_report");
    assert_eq!(v["recipient"], "+639171234567");
    assert_eq!(v["message_ref"], 42);
    assert_eq!(v["status"], 0x46);
    assert_eq!(v["status_kind"], "failed");
    assert_eq!(v["discharge_time"], "2026-11-23T10:25:30-03:00");

    let v = json(&smsq(
        &[
            "pdu",
            "decode",
            "00400C91361917325476000462113201510323090605040B8423F0CAFE",
        ],
        None,
    ));
    assert_eq!(v["encoding"], "8bit");
    assert_eq!(v["text"], Value::Null);
    assert_eq!(v["data_hex"], "CAFE");
    assert_eq!(v["udh"]["destination_port"], 2948);
}

#[test]
fn encode_then_decode_through_the_cli() {
    let out = smsq(
        &[
            "pdu",
            "encode",
            "--to",
            "+639171234567",
            "--report",
            "--validity",
            "1d",
            "--ref",
            "9",
            "-",
        ],
        Some(&"Your order #1234 is ready for pickup. ".repeat(5)),
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "190 septets need two parts");
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        let (len, hex) = line.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), hex.len() / 2 - 1);
        let v = json(&smsq(&["pdu", "decode", hex], None));
        assert_eq!(v["type"], "submit");
        assert_eq!(v["recipient"], "+639171234567");
        assert_eq!(v["validity"], "1d");
        assert_eq!(v["status_report_requested"], true);
        assert_eq!(v["udh"]["concat_ref"], 9);
        assert_eq!(v["udh"]["part"], i + 1);
        text.push_str(v["text"].as_str().unwrap());
    }
    assert_eq!(text, "Your order #1234 is ready for pickup. ".repeat(5));
}

#[test]
fn encode_json_and_bare_tpdu_with_forced_kind() {
    let v = json(&smsq(
        &["pdu", "encode", "--to", "12345", "--flash", "--json", "Hi"],
        None,
    ));
    assert_eq!(v["encoding"], "gsm7");
    let pdu = v["parts"][0]["pdu"].as_str().unwrap();
    assert_eq!(v["parts"][0]["tpdu_length"], pdu.len() / 2 - 1);
    // Strip the "00" SMSC octet and read the rest as a bare mobile-originated TPDU.
    let d = json(&smsq(
        &["pdu", "decode", "--tpdu", "--kind", "submit", &pdu[2..]],
        None,
    ));
    assert_eq!(d["smsc"], Value::Null);
    assert_eq!(d["recipient"], "12345");
    assert_eq!(d["class"], 0);
    assert_eq!(d["text"], "Hi");
}

#[test]
fn malformed_input_exits_1_with_a_one_line_error() {
    let out = smsq(&["pdu", "decode", "00040C9136"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("truncated"), "{err}");
    assert!(out.stdout.is_empty());

    let out = smsq(&["--json-errors", "pdu", "decode", "00040C9136"], None);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "truncated");
    assert_eq!(v["error"]["offset"], 4);
}

#[test]
fn strict_gsm7_names_characters_and_fold_reports_changes() {
    let out = smsq(
        &[
            "--json-errors",
            "pdu",
            "encode",
            "--to",
            "+48601234567",
            "--encoding",
            "gsm7",
            "Łódź",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "not_gsm7");
    assert_eq!(v["error"]["characters"][0]["character"], "Ł");
    assert_eq!(v["error"]["characters"][0]["position"], 1);
    assert_eq!(v["error"]["characters"].as_array().unwrap().len(), 3);

    let out = smsq(
        &[
            "pdu",
            "encode",
            "--to",
            "+48601234567",
            "--encoding",
            "gsm7-fold",
            "Łódź",
        ],
        None,
    );
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("folded \"Ł\" at position 1 to \"L\""), "{err}");
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.split_whitespace().nth(1).unwrap();
    let v = json(&smsq(&["pdu", "decode", hex], None));
    assert_eq!(v["text"], "Lodz");
}

#[test]
fn estimate_tells_encoding_parts_and_culprits() {
    let v = json(&smsq(&["estimate", "--json", &"a".repeat(161)], None));
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["parts"], 2);
    assert_eq!(v["units"], 161);
    assert_eq!(v["units_per_part"], 153);
    assert_eq!(v["units_left"], 145);

    let v = json(&smsq(
        &["estimate", "--json", "Price: 5€, see you 🙂"],
        None,
    ));
    assert_eq!(v["encoding"], "ucs2");
    assert_eq!(v["forced_ucs2_by"][0]["character"], "🙂");
    assert_eq!(v["forced_ucs2_by"][0]["position"], 20);

    let out = smsq(&["estimate", "-"], Some("Hello\n"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("used:     5 septets"), "{text}");
}

/// A reader that stops early (`smsq pdu encode … | head`) ends smsq quietly, by SIGPIPE as
/// with other Unix tools, not with a panic and exit code 101.
#[test]
fn a_closed_pipe_ends_smsq_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let text = "Shop promo, 20% off everything this weekend only. ".repeat(600);
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsq"))
        .args(["pdu", "encode", "--to", "+639171234567", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads: the output (some 70 KB) fills the pipe and meets a closed reader.
    drop(child.stdout.take());
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101));
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}
