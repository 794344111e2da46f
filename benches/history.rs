//! Does a message cost more as the history grows? The store's share of one message on the
//! daemon's paths (queue it, find it due, read the day's counts, claim it and hand it over,
//! record the network's answer, match its status report, each change's events read for
//! subscribers), on a fresh database and on one
//! that already holds 1,000,000 older messages with their parts, events and reports (built
//! with bulk SQL in seconds). Run: `cargo bench --bench history`.
//!
//! Each of these statements uses an index (`store::tests::the_daemons_paths_never_scan_a_
//! growing_table` holds them to it); this measures what that buys.

use divan::Bencher;
use smsq::store::{Db, NewMessage, ReportIn, Start};

fn main() {
    divan::main();
}

/// A database at `dir` with `n` delivered messages from long ago.
fn with_history(dir: &std::path::Path, n: u64) -> Db {
    let path = dir.join("history.db");
    drop(Db::open(&path).expect("schema"));
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO outbox (id, recipient, body, encoding, alphabet, parts, concat_ref,
                             status_report, priority, state, attempts, next_attempt_at, modem,
                             created_at, updated_at)
           SELECT i, '+63917' || (1000000 + i % 100000), 'Your order is ready for pickup.',
                  'auto', 'gsm7', 1, i % 256, 1, 0, 'delivered', 0, i, 'm0', i, i FROM n;
         INSERT INTO outbox_parts (message_id, part, tpdu_len, pdu, state, mr, modem, sent_at,
                                   handed_at, report_status, report_at)
           SELECT id, 1, 30, '0011000C9136197132547600', 'delivered', id % 256, 'm0',
                  created_at, created_at, 0, created_at FROM outbox;
         INSERT INTO status_reports (modem, mr, recipient, status, pdu, message_id, part,
                                     received_at)
           SELECT 'm0', id % 256, recipient, 0, 'R' || id, id, 1, created_at FROM outbox;
         INSERT INTO events (at, kind, message_id, inbox_id, detail)
           SELECT created_at, 'delivered', id, NULL, 'per status reports' FROM outbox;
         COMMIT;"
    ))
    .expect("history");
    drop(conn);
    Db::open(&path).expect("reopen")
}

fn message() -> NewMessage {
    NewMessage::new(
        "+639171234567",
        "Hi Ana, your documents are ready.",
        vec![(30, "0011000C9136197132547600".into())],
    )
}

#[divan::bench(args = [0, 1_000_000], sample_count = 200, sample_size = 10)]
fn one_message_through_the_store(bencher: Bencher, older_messages: u64) {
    let dir = tempfile::tempdir().expect("dir");
    let mut db = with_history(dir.path(), older_messages);
    let message = message();
    // Today, long after the history.
    let mut now: i64 = 1_800_000_000_000;
    let day_start = now - now.rem_euclid(86_400_000);
    bencher.bench_local(|| {
        now += 1;
        let id = db.enqueue(&message, now).expect("enqueue").id;
        divan::black_box(db.take_new_events().expect("events"));
        db.relax();
        let due = db.due_candidates(now, 200).expect("due");
        assert!(due.iter().any(|d| d.id == id));
        divan::black_box(db.modem_load(day_start).expect("load"));
        let started = db.start(id, "m0", now).expect("start");
        assert!(matches!(started, Start::Sending(_)), "{started:?}");
        divan::black_box(db.take_new_events().expect("events"));
        db.relax();
        let mr = (id % 256) as u8;
        db.mark_sent(id, 1, mr, now).expect("sent");
        divan::black_box(db.take_new_events().expect("events"));
        db.relax();
        let report = ReportIn {
            modem: "m0".into(),
            mr,
            recipient: message.recipient.clone(),
            status: 0,
            pdu: format!("today {id}"),
        };
        let settled = db
            .record_status_report(&report, 3 * 86_400_000, now)
            .expect("report");
        assert!(settled.is_some());
        divan::black_box(db.take_new_events().expect("events"));
        db.relax();
    });
}
