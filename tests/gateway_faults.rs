//! Faults found from outside, each reproduced against the real `smsqd` binary (or, where the
//! test must hold the far end of the serial line, against a simulator in this process that the
//! binary opens with `--device`): the gateway recovers by itself, cannot be turned against its
//! own modem, and keeps its files private.

use smsq::api::Op;
use smsq::api::client::ClientError;

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::{Smsqd, send, wait_state};

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
            .call(Op::Ussd {
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
    let id = r["messages"][0]["id"].as_i64().unwrap();
    let m = wait_state(&mut c, id, &["delivered"]).await;
    assert_eq!(m["attempts"], 0, "{m}");
    let r = c
        .call(Op::Ussd {
            code: "*143#".into(),
            modem: None,
        })
        .await
        .unwrap();
    assert!(r["answer"].as_str().unwrap().contains("balance"), "{r}");

    // The CLI says why, names the character, and exits 1 (refused).
    let out = d.smsq(&["ussd", "*143#\";AT+CMGF=1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'\"' at position 6"), "{err}");
}
