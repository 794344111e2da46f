//! Retention through the real smsqd: old finished messages are deleted in the background,
//! live ones stay, and `smsq stats` shows the database and the policy.

use std::time::{Duration, Instant};

use smsq::store::{Db, NewMessage};

#[path = "common/smsqd.rs"]
mod smsqd;
use smsqd::Smsqd;

fn message(to: &str) -> NewMessage {
    NewMessage::new(to, "Your order from last year", vec![(20, "00PDU".into())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_messages_go_and_stats_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("smsq.db");
    {
        // A history from 2024: forty delivered messages.
        let mut db = Db::open(&db_path).unwrap();
        let long_ago = 1_710_000_000_000;
        for i in 0..40 {
            let id = db
                .enqueue(&message("+639171234567"), long_ago + i)
                .unwrap()
                .id;
            db.mark_sending(id, 1, "modem0", long_ago + i).unwrap();
            db.mark_sent(id, 1, i as u8, long_ago + i).unwrap();
        }
    }
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        "country = \"PH\"\nsend_gap = \"0s\"\nkeep_texts = \"90d\"\nkeep_messages = \"365d\"\n\
         keep_events = \"30d\"\n[[modem]]\nid = \"modem0\"\nsimulate = \"simcom\"\n",
    )
    .unwrap();
    let d = Smsqd::start_with_db(
        tempfile::tempdir().unwrap(),
        db_path,
        &[
            "--config",
            config.to_str().unwrap(),
            "--sim-inbound-every",
            "0",
        ],
    );
    let out = d.smsq(&["send", "--to", "09171234567", "today's message"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let stats = loop {
        let out = d.smsq(&["stats", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["rows"]["outbox"] == 1 {
            break v;
        }
        assert!(Instant::now() < deadline, "old messages not deleted: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats["rows"]["outbox_parts"], 1, "{stats}");
    assert!(stats["database"]["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(stats["retention"]["messages"], "365d");
    let out = d.smsq(&["stats"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("retention: texts 90d, messages 365d, events 30d"),
        "{text}"
    );
    assert!(text.contains("outbox"), "{text}");
}
