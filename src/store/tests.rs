use super::care::{Decision, SendFacts};
use super::db::*;
use super::schema::SCHEMA_V1;
use super::*;

/// Runs each behaviour test on a fresh database of both backends: in memory on SQLite, and
/// a new database on a throwaway PostgreSQL server (`store::throwaway`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(super::Db::open_in_memory().unwrap())
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(url) = crate::store::throwaway::database_or_skip() {
                        super::$name(super::Db::open_postgres(&url).unwrap())
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    web_accounts_and_sessions_are_kept_once,
    hosts_hold_their_modems_and_a_lost_hosts_work_is_settled,
    the_consent_ledger_cannot_be_rewritten,
    priority_then_age_and_idempotency,
    multipart_is_sent_in_order_and_completes,
    report_matching_respects_recipient_window_and_wrap,
    failures_retries_requeues_and_cancel,
    unknown_outcome_after_a_crash_is_never_resent_automatically,
    expiry_and_scheduling,
    inbound_reassembly_out_of_order_with_duplicates_and_timeout,
    quarantine_keeps_raw_pdus_once,
    reports_settle_parts_whose_reference_was_lost,
    among_several_lost_references_the_modems_next_one_decides,
    a_report_stored_before_its_answer_settles_the_part,
    a_wrapped_reference_goes_to_the_lost_part_the_modem_gave_it_to,
    retention_erases_then_deletes_in_batches_and_spares_live_messages,
    the_same_reference_from_two_senders_makes_two_messages,
    the_gate_reads_the_latest_entry_and_counts_promotions,
    a_reply_and_what_it_causes_commit_together,
    an_idempotent_resend_reports_the_first_decision,
    watches_keep_their_told_outcomes_and_callbacks_go_in_queue_order,
    webhooks_are_registered_replaced_and_removed,
);

fn report(mr: u8, recipient: &str, status: u8, pdu: &str) -> ReportIn {
    ReportIn {
        modem: "m0".into(),
        mr,
        recipient: recipient.into(),
        status,
        pdu: pdu.into(),
    }
}

fn msg(to: &str, parts: usize) -> NewMessage {
    NewMessage {
        peer_uid: Some(1000),
        peer_pid: Some(42),
        ..NewMessage::new(
            to,
            "hello",
            (0..parts).map(|i| (20, format!("00PDU{i}"))).collect(),
        )
    }
}

fn priority_then_age_and_idempotency(mut db: Db) {
    let a = db.enqueue(&msg("+1", 1), 100).unwrap().id;
    let mut urgent = msg("+2", 1);
    urgent.priority = 5;
    let b = db.enqueue(&urgent, 200).unwrap().id;
    assert_eq!(db.next_due(300).unwrap().unwrap().id, b);
    db.mark_sending(b, 1, "m0", 300).unwrap();
    db.mark_sent(b, 1, 7, 301).unwrap();
    assert_eq!(db.next_due(302).unwrap().unwrap().id, a);
    let mut keyed = msg("+3", 1);
    keyed.idempotency_key = Some("order-4411".into());
    let first = db.enqueue(&keyed, 400).unwrap();
    assert!(first.new);
    assert_eq!(
        db.enqueue(&keyed, 401).unwrap(),
        Enqueued {
            id: first.id,
            new: false,
            decision: crate::store::Decision::Send,
        }
    );
}

fn multipart_is_sent_in_order_and_completes(mut db: Db) {
    let id = db.enqueue(&msg("+1", 3), 0).unwrap().id;
    let due = db.next_due(0).unwrap().unwrap();
    assert_eq!(
        due.parts.iter().map(|p| p.part).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for part in 1..=3 {
        db.mark_sending(id, part, "m0", 10).unwrap();
        let state = db.mark_sent(id, part, part as u8, 11).unwrap();
        assert_eq!(state, if part == 3 { "sent" } else { "sending" });
    }
    assert!(db.next_due(20).unwrap().is_none());
    // Reports: delivered only when every part is.
    for part in 1..=3u8 {
        let out = db
            .record_status_report(&report(part, "+1", 0, &format!("R{part}")), 86_400_000, 30)
            .unwrap()
            .unwrap();
        assert_eq!(out.part, i64::from(part));
        assert_eq!(
            out.message_state,
            if part == 3 { "delivered" } else { "sent" }
        );
    }
    // The same report again (a sweep re-read) changes nothing.
    assert_eq!(
        db.record_status_report(&report(1, "+1", 0, "R1"), 86_400_000, 40)
            .unwrap(),
        None
    );
}

fn report_matching_respects_recipient_window_and_wrap(mut db: Db) {
    let old = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(old, 1, "m0", 0).unwrap();
    db.mark_sent(old, 1, 9, 0).unwrap();
    let new = db.enqueue(&msg("+1", 1), 1000).unwrap().id;
    db.mark_sending(new, 1, "m0", 1000).unwrap();
    db.mark_sent(new, 1, 9, 1000).unwrap();
    // MR 9 to +1 twice: the newest wins.
    let out = db
        .record_status_report(&report(9, "+1", 0x46, "A"), 10_000, 2000)
        .unwrap()
        .unwrap();
    assert_eq!(
        (out.message_id, out.message_state.as_str()),
        (new, "failed")
    );
    // Wrong recipient: unmatched.
    assert_eq!(
        db.record_status_report(&report(9, "+2", 0, "B"), 10_000, 2000)
            .unwrap(),
        None
    );
    // Outside the window: unmatched.
    let (_, _) = (old, ());
    assert_eq!(
        db.record_status_report(&report(9, "+1", 0, "C"), 500, 5000)
            .unwrap(),
        None
    );
}

fn failures_retries_requeues_and_cancel(mut db: Db) {
    let id = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(id, 1, "m0", 0).unwrap();
    db.retry_later(id, 1, "+CMS ERROR 332 (network timeout)", 5000, 1)
        .unwrap();
    assert!(db.next_due(4999).unwrap().is_none());
    assert_eq!(db.next_due(5000).unwrap().unwrap().attempts, 1);
    db.mark_sending(id, 1, "m0", 5000).unwrap();
    db.requeue(id, 1, "modem absent", 5001).unwrap();
    assert_eq!(
        db.next_due(5002).unwrap().unwrap().attempts,
        1,
        "no attempt counted"
    );
    db.fail(id, "+CMS ERROR 1 (unassigned number)", 6000)
        .unwrap();
    let MessageDetail {
        message: m,
        parts,
        history,
    } = db.message(id).unwrap().unwrap();
    assert_eq!(m.state.as_str(), "failed");
    assert_eq!(parts[0].state.as_str(), "failed");
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["queued", "retry", "requeued", "failed"]);
    // Cancel: only before anything reached the modem.
    let c = db.enqueue(&msg("+2", 2), 0).unwrap().id;
    assert!(db.cancel(c, 1).unwrap());
    assert!(db.next_due(2).unwrap().is_none());
    let d = db.enqueue(&msg("+3", 2), 0).unwrap().id;
    db.mark_sending(d, 1, "m0", 1).unwrap();
    assert!(!db.cancel(d, 2).unwrap());
}

fn unknown_outcome_after_a_crash_is_never_resent_automatically(mut db: Db) {
    let id = db.enqueue(&msg("+1", 2), 0).unwrap().id;
    db.mark_sending(id, 1, "m0", 1).unwrap();
    db.mark_sent(id, 1, 3, 2).unwrap();
    db.mark_sending(id, 2, "m0", 3).unwrap();
    // The daemon dies here. On restart:
    assert_eq!(db.reconcile_after_restart(10).unwrap(), vec![id]);
    assert!(
        db.next_due(11).unwrap().is_none(),
        "not resent automatically"
    );
    let MessageDetail {
        message: m,
        parts,
        history: _,
    } = db.message(id).unwrap().unwrap();
    assert_eq!(m.state.as_str(), "unknown");
    assert_eq!(parts[1].state.as_str(), "unknown");
    // A late report still settles it.
    let out = db
        .record_status_report(&report(3, "+1", 0, "R"), 1000, 12)
        .unwrap();
    assert!(out.is_some());
    // Resending is a decision: only the unknown part goes again.
    assert!(db.retry_now(id, 20).unwrap());
    let due = db.next_due(20).unwrap().unwrap();
    assert_eq!(
        due.parts.iter().map(|p| p.part).collect::<Vec<_>>(),
        vec![2]
    );
}

fn expiry_and_scheduling(mut db: Db) {
    let mut later = msg("+1", 1);
    later.not_before = Some(1000);
    later.not_after = Some(2000);
    let id = db.enqueue(&later, 0).unwrap().id;
    assert!(db.next_due(999).unwrap().is_none());
    assert_eq!(db.earliest_due().unwrap(), Some(1000));
    assert_eq!(db.expire(2001).unwrap(), vec![id]);
    assert_eq!(
        db.message(id).unwrap().unwrap().message.state.as_str(),
        "expired"
    );
}

fn part(pdu: &str, sender: &str, concat: Option<(u16, u8, u8, u8)>, body: &str) -> InboundPart {
    InboundPart {
        modem: "m0".into(),
        pdu: pdu.into(),
        sender: sender.into(),
        concat,
        body: Some(body.into()),
        data_hex: None,
        sent_at: None,
        split: crate::pdu::SplitSurrogates::default(),
    }
}

fn inbound_reassembly_out_of_order_with_duplicates_and_timeout(mut db: Db) {
    assert_eq!(
        db.store_inbound(&part("P1", "+1", None, "hi"), 0).unwrap(),
        Inbound::Stored(Some(1))
    );
    assert_eq!(
        db.store_inbound(&part("P1", "+1", None, "hi"), 1).unwrap(),
        Inbound::Duplicate
    );
    let c = |n| Some((7u16, 8u8, 3u8, n));
    assert_eq!(
        db.store_inbound(&part("A3", "+2", c(3), "c"), 10).unwrap(),
        Inbound::Stored(None)
    );
    assert_eq!(
        db.store_inbound(&part("A1", "+2", c(1), "a"), 11).unwrap(),
        Inbound::Stored(None)
    );
    let Inbound::Stored(Some(id)) = db.store_inbound(&part("A2", "+2", c(2), "b"), 12).unwrap()
    else {
        panic!()
    };
    let m = db.inbox_message(id).unwrap().unwrap();
    assert_eq!(
        (m.body.as_deref(), m.complete, m.parts),
        (Some("abc"), true, 3)
    );
    // One part missing until the timeout: an incomplete message, flagged.
    let d = |n| Some((9u16, 8u8, 2u8, n));
    db.store_inbound(&part("B1", "+3", d(1), "first half"), 100)
        .unwrap();
    assert!(db.expire_incomplete(1000, 5000).unwrap().is_empty());
    let ids = db.expire_incomplete(5100, 5000).unwrap();
    let m = db.inbox_message(ids[0]).unwrap().unwrap();
    assert_eq!((m.body.as_deref(), m.complete), (Some("first half"), false));
    let kinds: Vec<String> = db
        .events_since(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"received_incomplete".to_string()));
}

fn quarantine_keeps_raw_pdus_once(mut db: Db) {
    assert!(db.quarantine("m0", "00ZZ", "invalid hex", 0).unwrap());
    assert!(!db.quarantine("m0", "00ZZ", "invalid hex", 1).unwrap());
}

#[test]
fn schema_survives_reopen_and_refuses_newer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    {
        let mut db = Db::open(&path).unwrap();
        db.enqueue(&msg("+1", 1), 0).unwrap();
    }
    let mut db = Db::open(&path).unwrap();
    assert!(db.next_due(0).unwrap().is_some());
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(Db::open(&path).is_err());
}

fn reports_settle_parts_whose_reference_was_lost(mut db: Db) {
    // Accepted earlier with reference 40; then a part handed over whose answer was lost.
    let before = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(before, 1, "m0", 0).unwrap();
    db.mark_sent(before, 1, 40, 10).unwrap();
    let lost = db.enqueue(&msg("+1", 1), 20).unwrap().id;
    db.mark_sending(lost, 1, "m0", 30).unwrap();
    assert_eq!(db.reconcile_after_restart(100).unwrap(), vec![lost]);
    // Another modem's or another recipient's report does not settle it.
    let mut other_modem = report(41, "+1", 0, "X");
    other_modem.modem = "m1".into();
    assert_eq!(
        db.record_status_report(&other_modem, 10_000, 200).unwrap(),
        None
    );
    assert_eq!(
        db.record_status_report(&report(41, "+2", 0, "Y"), 10_000, 200)
            .unwrap(),
        None
    );
    let out = db
        .record_status_report(&report(41, "+1", 0, "Z"), 10_000, 200)
        .unwrap()
        .unwrap();
    assert_eq!(
        (out.message_id, out.message_state.as_str()),
        (lost, "delivered")
    );
    let MessageDetail {
        message: _,
        parts,
        history: _,
    } = db.message(lost).unwrap().unwrap();
    assert_eq!(parts[0].mr, Some(41), "the part learns its reference");
}

fn among_several_lost_references_the_modems_next_one_decides(mut db: Db) {
    let a = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(a, 1, "m0", 0).unwrap();
    db.mark_sent(a, 1, 7, 10).unwrap();
    let b = db.enqueue(&msg("+1", 1), 20).unwrap().id;
    db.mark_sending(b, 1, "m0", 20).unwrap();
    db.mark_unknown(b, 1, "timeout after hand-over", 25)
        .unwrap();
    let c = db.enqueue(&msg("+1", 1), 30).unwrap().id;
    db.mark_sending(c, 1, "m0", 30).unwrap();
    db.mark_sent(c, 1, 9, 35).unwrap();
    let d = db.enqueue(&msg("+1", 1), 40).unwrap().id;
    db.mark_sending(d, 1, "m0", 40).unwrap();
    db.mark_unknown(d, 1, "unplugged after hand-over", 45)
        .unwrap();
    // b came after reference 7 (so it had 8); d after 9 (so 10).
    let out = db
        .record_status_report(&report(10, "+1", 0, "R10"), 10_000, 100)
        .unwrap()
        .unwrap();
    assert_eq!(out.message_id, d);
    let out = db
        .record_status_report(&report(8, "+1", 0x41, "R8"), 10_000, 100)
        .unwrap()
        .unwrap();
    assert_eq!((out.message_id, out.message_state.as_str()), (b, "failed"));
    // Two candidates and no reference that tells them apart: left unmatched.
    let e = db.enqueue(&msg("+3", 1), 50).unwrap().id;
    db.mark_sending(e, 1, "m0", 50).unwrap();
    db.mark_unknown(e, 1, "x", 51).unwrap();
    let f = db.enqueue(&msg("+3", 1), 52).unwrap().id;
    db.mark_sending(f, 1, "m0", 52).unwrap();
    db.mark_unknown(f, 1, "x", 53).unwrap();
    assert_eq!(
        db.record_status_report(&report(77, "+3", 0, "R77"), 10_000, 100)
            .unwrap(),
        None
    );
}

#[test]
fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    // A database as version 1 made it, with a message queued and one received.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    conn.execute_batch(
        "INSERT INTO outbox (id, recipient, body, encoding, alphabet, parts, concat_ref,
            status_report, state, next_attempt_at, created_at, updated_at)
         VALUES (7, '+1', 'hi', 'auto', 'gsm7', 1, 7, 1, 'queued', 0, 0, 0);
         INSERT INTO outbox_parts (message_id, part, tpdu_len, pdu, state)
         VALUES (7, 1, 10, '0011', 'pending');
         INSERT INTO inbox (sender, body, parts, complete, received_at)
         VALUES ('+2', 'thanks', 1, 1, 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let mut db = Db::open(&path).unwrap();
    let id = 7;
    assert_eq!(
        db.list_inbox(None, 10).unwrap()[0].body.as_deref(),
        Some("thanks")
    );
    db.mark_sending(id, 1, "m0", 5).unwrap();
    assert_eq!(db.reconcile_after_restart(6).unwrap(), vec![id]);
    let out = db
        .record_status_report(&report(1, "+1", 0, "R"), 10_000, 7)
        .unwrap();
    assert_eq!(out.map(|o| o.message_id), Some(id));
    // The migrated tables refuse a state the state machine does not know.
    let bad = db
        .connection()
        .execute("UPDATE outbox SET state = 'lost' WHERE id = 7", []);
    assert!(bad.is_err(), "{bad:?}");
    let bad = db.connection().execute(
        "UPDATE outbox_parts SET state = 'gone' WHERE message_id = 7",
        [],
    );
    assert!(bad.is_err(), "{bad:?}");
}

/// A phone cut 😀 (U+1F600, D83D DE00) between two parts: each part alone shows U+FFFD,
/// the message joined from the store has the emoji, whichever part arrives first.
#[test]
fn an_emoji_split_between_parts_is_whole_in_the_inbox() {
    use crate::pdu::SplitSurrogates;
    for first in [1u8, 2] {
        let mut db = Db::open_in_memory().unwrap();
        let mut one = part("P1", "+1", Some((5, 8, 2, 1)), "See you \u{FFFD}");
        one.split = SplitSurrogates {
            leading_low: None,
            trailing_high: Some(0xD83D),
        };
        let mut two = part("P2", "+1", Some((5, 8, 2, 2)), "\u{FFFD} at 5");
        two.split = SplitSurrogates {
            leading_low: Some(0xDE00),
            trailing_high: None,
        };
        let (a, b) = if first == 1 { (one, two) } else { (two, one) };
        db.store_inbound(&a, 0).unwrap();
        let Inbound::Stored(Some(id)) = db.store_inbound(&b, 1).unwrap() else {
            panic!("not completed")
        };
        let row = db.inbox_message(id).unwrap().unwrap();
        assert_eq!(row.body.as_deref(), Some("See you 😀 at 5"));
    }
}

#[test]
fn refused_pins_are_remembered_per_sim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pins.db");
    {
        let mut db = Db::open(&path).unwrap();
        assert!(!db.pin_refused("8963", "aa").unwrap());
        db.record_pin_refusal("8963", "aa", 1).unwrap();
        db.record_pin_refusal("8963", "aa", 2).unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert!(db.pin_refused("8963", "aa").unwrap(), "across a restart");
    assert!(!db.pin_refused("8963", "bb").unwrap(), "another PIN");
    assert!(!db.pin_refused("8964", "aa").unwrap(), "another SIM");
}

/// The status report may be committed before the answer it came after (the receiver and the
/// dispatcher reach the store separately): recording the answer then settles the part.
fn a_report_stored_before_its_answer_settles_the_part(mut db: Db) {
    let id = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(id, 1, "m0", 10).unwrap();
    assert_eq!(
        db.record_status_report(&report(33, "+1", 0, "EARLY"), 10_000, 20)
            .unwrap(),
        None
    );
    assert_eq!(db.mark_sent(id, 1, 33, 25).unwrap(), "delivered");
    let MessageDetail {
        message: m,
        parts,
        history: _,
    } = db.message(id).unwrap().unwrap();
    assert_eq!(
        (m.state.as_str(), parts[0].state.as_str()),
        ("delivered", "delivered")
    );
    // Another recipient's or another reference's early report is not taken.
    let other = db.enqueue(&msg("+2", 1), 30).unwrap().id;
    db.mark_sending(other, 1, "m0", 31).unwrap();
    db.record_status_report(&report(40, "+2", 0, "OTHER"), 10_000, 32)
        .unwrap();
    assert_eq!(db.mark_sent(other, 1, 41, 33).unwrap(), "sent");
}

/// References wrap after 256 sends through a modem: a report whose reference an older,
/// settled part also had belongs to the newer part whose answer was lost, when the modem
/// would have given that part this reference; not when it would not.
fn a_wrapped_reference_goes_to_the_lost_part_the_modem_gave_it_to(mut db: Db) {
    let old = db.enqueue(&msg("+1", 1), 0).unwrap().id;
    db.mark_sending(old, 1, "m0", 0).unwrap();
    db.mark_sent(old, 1, 7, 1).unwrap();
    db.record_status_report(&report(7, "+1", 0, "OLD"), 10_000, 2)
        .unwrap()
        .unwrap();
    // 255 sends later the modem is at 6 again; the next part's answer is lost (it had 7).
    let before = db.enqueue(&msg("+1", 1), 100).unwrap().id;
    db.mark_sending(before, 1, "m0", 100).unwrap();
    db.mark_sent(before, 1, 6, 101).unwrap();
    let lost = db.enqueue(&msg("+1", 1), 102).unwrap().id;
    db.mark_sending(lost, 1, "m0", 102).unwrap();
    db.mark_unknown(lost, 1, "timeout after hand-over", 103)
        .unwrap();
    let out = db
        .record_status_report(&report(7, "+1", 0, "NEW"), 10_000, 110)
        .unwrap()
        .unwrap();
    assert_eq!(out.message_id, lost);
    // A report for a part that was accepted is not taken by a lost part the modem would
    // have numbered differently.
    let sent = db.enqueue(&msg("+1", 1), 200).unwrap().id;
    db.mark_sending(sent, 1, "m0", 200).unwrap();
    db.mark_sent(sent, 1, 8, 201).unwrap();
    let lost2 = db.enqueue(&msg("+1", 1), 202).unwrap().id;
    db.mark_sending(lost2, 1, "m0", 202).unwrap();
    db.mark_unknown(lost2, 1, "unplugged", 203).unwrap();
    let out = db
        .record_status_report(&report(8, "+1", 0, "FOR-SENT"), 10_000, 210)
        .unwrap()
        .unwrap();
    assert_eq!(out.message_id, sent);
}

/// Every statement on the dispatch, receive and report paths finds its rows through an
/// index, so a message costs the same on day 1 and day 1,000: the test runs those paths,
/// records each statement, and asks SQLite for its plan; a full scan of a table that grows
/// with history fails it.
#[test]
fn the_daemons_paths_never_scan_a_growing_table() {
    let mut db = Db::open_in_memory().unwrap();
    // Some history, so the plans are those of a used database.
    for i in 0..50 {
        let id = db.enqueue(&msg(&format!("+{i}"), 2), i).unwrap().id;
        db.mark_sending(id, 1, "m0", i).unwrap();
        db.mark_sent(id, 1, (i % 256) as u8, i).unwrap();
    }
    let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = recorded.clone();
    db.connection()
        .trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(stmt, sql) = event {
                    let text = stmt.expanded_sql().unwrap_or_else(|| sql.to_string());
                    sink.lock().unwrap().push(text);
                }
            }),
        )
        .unwrap();
    // Dispatch.
    let id = db.enqueue(&msg("+1", 2), 1000).unwrap().id;
    db.due_candidates(1001, 200).unwrap();
    db.earliest_due().unwrap();
    db.modem_load(0).unwrap();
    assert!(matches!(
        db.start(id, "m0", 1001).unwrap(),
        Start::Sending(_)
    ));
    db.due(id).unwrap();
    db.mark_sending(id, 1, "m0", 1002).unwrap();
    db.mark_sent(id, 1, 9, 1003).unwrap();
    db.mark_sending(id, 2, "m0", 1004).unwrap();
    db.retry_later(id, 2, "network timeout", 1005, 1005)
        .unwrap();
    db.mark_sending(id, 2, "m0", 1006).unwrap();
    db.requeue(id, 2, "modem absent", 1007).unwrap();
    db.mark_sending(id, 2, "m0", 1008).unwrap();
    db.mark_unknown(id, 2, "timeout after hand-over", 1009)
        .unwrap();
    let other = db.enqueue(&msg("+2", 1), 1010).unwrap().id;
    db.fail(other, "unassigned number", 1011).unwrap();
    db.expire(1012).unwrap();
    db.reconcile_after_restart(1013).unwrap();
    // Reports: by reference, for a lost answer, and before the answer.
    db.record_status_report(&report(9, "+1", 0, "R1"), 10_000, 1014)
        .unwrap();
    db.record_status_report(&report(10, "+1", 0, "R2"), 10_000, 1015)
        .unwrap();
    // Receiving: parts of a concatenated message, a single one, quarantine, expiry.
    db.store_inbound(&part("P1", "+5", Some((1, 8, 2, 1)), "a"), 1016)
        .unwrap();
    db.store_inbound(&part("P2", "+5", Some((1, 8, 2, 2)), "b"), 1017)
        .unwrap();
    db.store_inbound(&part("P3", "+5", None, "c"), 1018)
        .unwrap();
    db.quarantine("m0", "00FF", "truncated", 1019).unwrap();
    db.expire_incomplete(1020, 10).unwrap();
    // Retention, in the background.
    db.apply_retention(Some(1015), Some(10), Some(1012), 100)
        .unwrap();
    db.connection()
        .trace_v2(
            rusqlite::trace::TraceEventCodes::empty(),
            None::<fn(rusqlite::trace::TraceEvent<'_>)>,
        )
        .unwrap();

    let statements = std::mem::take(&mut *recorded.lock().unwrap());
    let mut scans = Vec::new();
    let mut checked = 0;
    for sql in &statements {
        let head = sql.trim_start().to_ascii_uppercase();
        if !["SELECT", "UPDATE", "INSERT", "DELETE", "WITH"]
            .iter()
            .any(|k| head.starts_with(k))
        {
            continue;
        }
        checked += 1;
        let mut st = db
            .connection()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let details: Vec<String> = st
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for d in details {
            // A search on the modem alone reads every row of that modem: a scan all the same
            // (but for the one row of a modem in host_modems, whose key it is).
            let modem_only = (d.ends_with("(modem=?)") || d.ends_with("(modem>?)"))
                && !d.contains("USING PRIMARY KEY");
            // The queue's own indexes hold only messages still to send, never history.
            let queue_only =
                d.ends_with("USING INDEX outbox_queue") || d.ends_with("USING INDEX outbox_next");
            if (d.starts_with("SCAN ") && !d.starts_with("SCAN CONSTANT") && !queue_only)
                || modem_only
            {
                scans.push(format!(
                    "{d}  <-  {}",
                    sql.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
        }
    }
    assert!(checked > 30, "only {checked} statements recorded");
    // "Sent today" reads today's parts, not every part that has a modem.
    let plan: String = db
        .connection()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT modem, COUNT(*) FROM outbox_parts INDEXED BY parts_sent
             WHERE sent_at >= 5 AND modem IS NOT NULL GROUP BY modem",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("(sent_at>?)"), "{plan}");
    assert!(scans.is_empty(), "full scans:\n{}", scans.join("\n"));
}

/// Retention erases texts, then deletes whole records, then old history, in batches, and
/// never touches a message still on its way; a message whose text is gone cannot be retried.
fn retention_erases_then_deletes_in_batches_and_spares_live_messages(mut db: Db) {
    let mut old = Vec::new();
    for i in 0..5 {
        let id = db.enqueue(&msg("+1", 1), i).unwrap().id;
        db.mark_sending(id, 1, "m0", i).unwrap();
        db.mark_unknown(id, 1, "lost", 10 + i).unwrap();
        old.push(id);
    }
    let queued = db.enqueue(&msg("+2", 1), 0).unwrap().id;
    db.store_inbound(&part("P1", "+5", None, "old reply"), 5)
        .unwrap();
    // Texts older than 100, two at a time.
    assert!(db.apply_retention(Some(100), None, None, 2).unwrap() > 0);
    let erased = |db: &Db| {
        old.iter()
            .filter(|&&id| db.message(id).unwrap().unwrap().message.body.is_empty())
            .count()
    };
    assert_eq!(erased(&db), 2);
    while db.apply_retention(Some(100), None, None, 2).unwrap() > 0 {}
    assert_eq!(erased(&db), 5);
    assert_eq!(
        db.message(queued).unwrap().unwrap().message.body,
        "hello",
        "still queued"
    );
    let inbox = db.list_inbox(None, 10).unwrap();
    assert_eq!(inbox[0].body, None, "reply text erased");
    assert!(!db.retry_now(old[0], 200).unwrap(), "nothing left to send");
    // Whole records older than 100: the finished ones go, with their history.
    while db.apply_retention(None, Some(100), None, 2).unwrap() > 0 {}
    assert!(db.message(old[0]).unwrap().is_none());
    assert!(db.message(queued).unwrap().is_some());
    assert!(db.list_inbox(None, 10).unwrap().is_empty());
    let stats = db.stats().unwrap();
    let rows = |t: &str| stats.tables.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!(rows("outbox"), 1);
    assert_eq!(rows("outbox_parts"), 1);
    assert_eq!(rows("inbox_parts"), 0);
    // Events older than 1,000,000: all but none newer.
    while db
        .apply_retention(None, None, Some(1_000_000), 100)
        .unwrap()
        > 0
    {}
    assert_eq!(
        db.stats()
            .unwrap()
            .tables
            .iter()
            .find(|(n, _)| *n == "events")
            .unwrap()
            .1,
        0
    );
}

/// A reference is unique per sender (TS 23.040 §9.2.3.24.1): two customers' long texts that
/// happen to share one never mix.
fn the_same_reference_from_two_senders_makes_two_messages(mut db: Db) {
    db.store_inbound(&part("A1", "+1", Some((5, 8, 2, 1)), "Ana 1 "), 1)
        .unwrap();
    db.store_inbound(&part("B2", "+2", Some((5, 8, 2, 2)), "Ben 2"), 2)
        .unwrap();
    assert!(db.list_inbox(None, 10).unwrap().is_empty());
    db.store_inbound(&part("A2", "+1", Some((5, 8, 2, 2)), "Ana 2"), 3)
        .unwrap();
    db.store_inbound(&part("B1", "+2", Some((5, 8, 2, 1)), "Ben 1 "), 4)
        .unwrap();
    let mut texts: Vec<(String, String)> = db
        .list_inbox(None, 10)
        .unwrap()
        .into_iter()
        .map(|m| (m.sender, m.body.unwrap()))
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        vec![
            ("+1".to_string(), "Ana 1 Ana 2".to_string()),
            ("+2".to_string(), "Ben 1 Ben 2".to_string())
        ]
    );
}

/// Every state change the store's operations make, recorded by triggers while a message
/// goes through each of them (sent, reported, retried, requeued, unknown, failed, expired,
/// cancelled, resent on purpose, a crash mid-send), is one the state machine allows.
#[test]
fn every_state_change_the_store_makes_is_legal() {
    use super::state::{MessageState, PartState};
    let mut db = Db::open_in_memory().unwrap();
    db.connection()
        .execute_batch(
            "CREATE TEMP TABLE changes (what TEXT, old TEXT, new TEXT);
             CREATE TEMP TRIGGER message_changes AFTER UPDATE OF state ON outbox
               BEGIN INSERT INTO changes VALUES ('message', old.state, new.state); END;
             CREATE TEMP TRIGGER part_changes AFTER UPDATE OF state ON outbox_parts
               BEGIN INSERT INTO changes VALUES ('part', old.state, new.state); END;",
        )
        .unwrap();
    let rep = |mr: u8, status: u8, pdu: &str| report(mr, "+1", status, pdu);
    // Sent in two parts, one retried and requeued on the way, then delivered.
    let a = db.enqueue(&msg("+1", 2), 10).unwrap().id;
    assert!(matches!(db.start(a, "m0", 11).unwrap(), Start::Sending(_)));
    db.mark_sent(a, 1, 1, 12).unwrap();
    db.mark_sending(a, 2, "m0", 13).unwrap();
    db.retry_later(a, 2, "timeout", 14, 14).unwrap();
    db.mark_sending(a, 2, "m0", 15).unwrap();
    db.requeue(a, 2, "modem gone", 16).unwrap();
    db.mark_sending(a, 2, "m0", 17).unwrap();
    db.mark_sent(a, 2, 2, 18).unwrap();
    db.record_status_report(&rep(1, 0x20, "R1"), 10_000, 19)
        .unwrap();
    db.record_status_report(&rep(1, 0, "R2"), 10_000, 20)
        .unwrap();
    db.record_status_report(&rep(2, 0, "R3"), 10_000, 21)
        .unwrap();
    // Unknown, settled by a report; unknown again, resent on purpose; failed for good.
    let b = db.enqueue(&msg("+1", 1), 30).unwrap().id;
    assert!(matches!(db.start(b, "m0", 31).unwrap(), Start::Sending(_)));
    db.mark_unknown(b, 1, "timeout after hand-over", 32)
        .unwrap();
    db.record_status_report(&rep(3, 0x41, "R4"), 10_000, 33)
        .unwrap();
    assert!(db.retry_now(b, 34).unwrap());
    assert!(matches!(db.start(b, "m0", 35).unwrap(), Start::Sending(_)));
    db.fail(b, "unassigned number", 36).unwrap();
    // Expired before it went; expired at the moment it was started; cancelled; a crash.
    let mut late = msg("+1", 1);
    late.not_after = Some(45);
    let c = db.enqueue(&late, 40).unwrap().id;
    db.expire(50).unwrap();
    assert!(db.retry_now(c, 51).unwrap());
    let mut later = msg("+1", 1);
    later.not_after = Some(55);
    let d = db.enqueue(&later, 52).unwrap().id;
    assert_eq!(db.start(d, "m0", 56).unwrap(), Start::Expired);
    let e = db.enqueue(&msg("+1", 1), 60).unwrap().id;
    assert!(db.cancel(e, 61).unwrap());
    let f = db.enqueue(&msg("+1", 1), 70).unwrap().id;
    assert!(matches!(db.start(f, "m0", 71).unwrap(), Start::Sending(_)));
    assert_eq!(
        db.reconcile_after_restart(72).unwrap(),
        vec![c, f]
            .into_iter()
            .filter(|&x| x == f)
            .collect::<Vec<_>>()
    );
    // The customer-care gate: held, held again, released; cancelled or expired while held;
    // refused when it comes due.
    let hold = |until| move |_: &SendFacts| Decision::Hold { until };
    let mut refuse = |_: &SendFacts| Decision::Refuse {
        code: "opted_out",
        reason: "STOP".into(),
    };
    let g = db
        .enqueue_gated(&[msg("+1", 1)], 80, &mut hold(90))
        .unwrap()[0]
        .id;
    assert_eq!(
        db.start_gated(g, "m0", 90, &mut hold(95)).unwrap(),
        Start::Held { until: 95 }
    );
    assert!(matches!(
        db.start_gated(g, "m0", 95, &mut |_| Decision::Send)
            .unwrap(),
        Start::Sending(_)
    ));
    db.mark_sent(g, 1, 9, 96).unwrap();
    let h = db
        .enqueue_gated(&[msg("+1", 1)], 100, &mut hold(200))
        .unwrap()[0]
        .id;
    assert!(db.cancel(h, 101).unwrap());
    let mut short = msg("+1", 1);
    short.not_after = Some(150);
    let i = db.enqueue_gated(&[short], 100, &mut hold(200)).unwrap()[0].id;
    assert!(db.expire(160).unwrap().contains(&i));
    let j = db.enqueue(&msg("+1", 1), 170).unwrap().id;
    assert!(matches!(
        db.start_gated(j, "m0", 171, &mut refuse).unwrap(),
        Start::Refused {
            code: "opted_out",
            ..
        }
    ));
    let k = db
        .enqueue_gated(&[msg("+1", 1)], 180, &mut hold(190))
        .unwrap()[0]
        .id;
    assert!(matches!(
        db.start_gated(k, "m0", 190, &mut refuse).unwrap(),
        Start::Refused { .. }
    ));
    assert!(
        !db.retry_now(k, 191).unwrap(),
        "a refused message is never resent"
    );

    let mut st = db
        .connection()
        .prepare("SELECT what, old, new FROM changes")
        .unwrap();
    let changes: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(changes.len() > 30, "{changes:?}");
    let mut seen = std::collections::BTreeSet::new();
    for (what, old, new) in &changes {
        let legal = if what == "message" {
            MessageState::parse(old)
                .unwrap()
                .may_become(MessageState::parse(new).unwrap())
        } else {
            PartState::parse(old)
                .unwrap()
                .may_become(PartState::parse(new).unwrap())
        };
        assert!(legal, "the store moved a {what} from {old} to {new}");
        seen.insert(format!("{what} {old}->{new}"));
    }
    // The scenario does reach the changes that matter most.
    for expected in [
        "message queued->sending",
        "message sending->sent",
        "message sent->delivered",
        "message sending->unknown",
        "message unknown->failed",
        "message failed->queued",
        "message queued->expired",
        "message expired->queued",
        "message held->held",
        "message held->sending",
        "message held->cancelled",
        "message held->expired",
        "message queued->refused",
        "message held->refused",
        "part pending->cancelled",
        "message queued->cancelled",
        "part pending->sending",
        "part sending->unknown",
        "part unknown->failed",
    ] {
        assert!(
            seen.contains(expected),
            "{expected} not exercised: {seen:?}"
        );
    }
}

/// Every change followed by something that cannot be taken back (an answer to a client, a
/// PDU handed to the modem, a message deleted from the SIM, a PIN not to be tried again)
/// commits with a flush to the disk; the outcomes that fall back to a safe state on a power
/// cut do not pay for one.
#[test]
fn irreversible_steps_are_flushed_to_the_disk_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("smsq.db")).unwrap();
    let level = |db: &mut Db| -> i64 {
        db.connection()
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    };
    const NORMAL: i64 = 1;
    const FULL: i64 = 2;
    assert_eq!(level(&mut db), NORMAL);
    let check = |db: &mut Db, what: &str, expected: i64| {
        assert_eq!(level(db), expected, "{what}");
        db.relax();
        assert_eq!(level(db), NORMAL, "relaxed after {what}");
    };
    let id = db.enqueue(&msg("+1", 2), 10).unwrap().id;
    check(&mut db, "enqueue", FULL);
    assert!(matches!(db.start(id, "m0", 11).unwrap(), Start::Sending(_)));
    check(&mut db, "start", FULL);
    db.mark_sent(id, 1, 1, 12).unwrap();
    check(&mut db, "mark_sent", NORMAL);
    db.mark_sending(id, 2, "m0", 13).unwrap();
    check(&mut db, "mark_sending", FULL);
    db.mark_unknown(id, 2, "timeout", 14).unwrap();
    check(&mut db, "mark_unknown", NORMAL);
    assert!(db.retry_now(id, 15).unwrap());
    check(&mut db, "retry_now", FULL);
    let other = db.enqueue(&msg("+2", 1), 16).unwrap().id;
    db.relax();
    assert!(db.cancel(other, 17).unwrap());
    check(&mut db, "cancel", FULL);
    db.store_inbound(&part("P1", "+5", None, "hi"), 18).unwrap();
    check(&mut db, "store_inbound", FULL);
    db.record_status_report(&report(1, "+1", 0, "R1"), 10_000, 19)
        .unwrap();
    check(&mut db, "record_status_report", FULL);
    db.quarantine("m0", "00FF", "truncated", 20).unwrap();
    check(&mut db, "quarantine", FULL);
    db.record_pin_refusal("8963", "fp", 21).unwrap();
    check(&mut db, "record_pin_refusal", FULL);
    db.expire(22).unwrap();
    check(&mut db, "expire", NORMAL);
}

#[test]
fn what_a_transaction_may_undo_is_kept_in_memory_not_in_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("smsq.db")).unwrap();
    // Bigger than SQLite's 64 KiB spill threshold for statement journals.
    db.together(|db| {
        for i in 0..300 {
            db.enqueue(&msg(&format!("+1555{i:07}"), 3), 10)?;
        }
        Ok(())
    })
    .unwrap();
    let temp_store: i64 = db
        .connection()
        .pragma_query_value(None, "temp_store", |r| r.get(0))
        .unwrap();
    assert_eq!(temp_store, 2, "temp_store = MEMORY");
    assert_eq!(db.due_candidates(10, 1000).unwrap().len(), 300);
}

/// A dispatcher records the part its modem accepted and starts the next message in one
/// flushed commit; when the second step fails, the first is not kept either, so the caller
/// may record it again on its own without recording it twice.
#[test]
fn changes_made_together_commit_as_one_flushed_change_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Db::open(&dir.path().join("smsq.db")).unwrap();
    let first = db.enqueue(&msg("+1", 1), 10).unwrap().id;
    let second = db.enqueue(&msg("+2", 1), 10).unwrap().id;
    assert!(matches!(
        db.start(first, "m0", 11).unwrap(),
        Start::Sending(_)
    ));
    db.relax();
    let started = db
        .together(|db| {
            db.mark_sent(first, 1, 7, 12)?;
            db.start(second, "m0", 12)
        })
        .unwrap();
    assert!(matches!(started, Start::Sending(_)));
    let synchronous: i64 = db
        .connection()
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(synchronous, 2, "the commit is flushed (FULL)");
    db.relax();
    assert_eq!(
        db.message(first).unwrap().unwrap().message.state,
        MessageState::Sent
    );
    assert_eq!(
        db.message(second).unwrap().unwrap().message.state,
        MessageState::Sending
    );
    let third = db.enqueue(&msg("+3", 1), 13).unwrap().id;
    db.relax();
    let failed = db.together(|db| {
        db.mark_sent(second, 1, 8, 14)?;
        db.connection()
            .execute_batch("SELECT * FROM no_such_table")?;
        db.start(third, "m0", 14)
    });
    assert!(failed.is_err());
    assert_eq!(
        db.message(second).unwrap().unwrap().message.state,
        MessageState::Sending,
        "nothing of a failed change is kept"
    );
    assert_eq!(
        db.message(third).unwrap().unwrap().message.state,
        MessageState::Queued
    );
    assert!(db.connection().is_autocommit(), "no transaction left open");
    db.mark_sent(second, 1, 8, 15).unwrap();
    let detail = db.message(second).unwrap().unwrap();
    assert_eq!(detail.message.state, MessageState::Sent);
    let sent_events = detail.history.iter().filter(|e| e.kind == "sent").count();
    assert_eq!(sent_events, 1, "recorded once: {:?}", detail.history);
}

/// Calls that arrive together share one transaction; each still gets its own result, only
/// after the commit, and the events of all of them reach a subscriber once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_arrive_together_commit_together_and_each_gets_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = super::Store::open(&dir.path().join("smsq.db")).unwrap();
    let mut events = store.subscribe();
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let m = msg(&format!("+63917{i:07}"), 1);
                store.call(move |db| db.enqueue(&m, 1000 + i)).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for call in calls {
        ids.push(call.await.unwrap().unwrap().id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "each call got its own message");
    // One call in a group that fails does not take the others with it.
    let failing = store.call(|db| {
        db.connection()
            .execute("UPDATE outbox SET state = 'lost'", [])
            .map(|_| ())
            .map_err(StoreError::from)
    });
    let fine = store.call(|db| db.enqueue(&msg("+1", 1), 5000));
    let (failing, fine) = tokio::join!(failing, fine);
    assert!(failing.is_err(), "the CHECK refuses an unknown state");
    fine.unwrap();
    let count = store
        .call(|db| Ok(db.list_outbox(&[], None, 1000)?.len()))
        .await
        .unwrap();
    assert_eq!(count, 201);
    let mut seen = Vec::new();
    while let Ok(Ok(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()).await
    {
        seen.push(event.id);
    }
    assert_eq!(seen.len(), 201, "one queued event per message");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in commit order");
}

fn grant(number: &str, topic: &str, state: ConsentState) -> NewConsent {
    NewConsent {
        number: number.into(),
        topic: topic.into(),
        state,
        source: ConsentSource::InStore,
        evidence: Some("slip 1".into()),
        text_shown: Some("Offers by text, at most 4 a month".into()),
        actor: Some("ana".into()),
        double_opt_in_confirmed_at: None,
    }
}

/// The ledger is append-only: SQL that tries to rewrite or delete history is refused by the
/// database itself, except the deletion an erasure makes once the number is suppressed.
fn the_consent_ledger_cannot_be_rewritten(mut db: Db) {
    db.record_consent(&[grant("+1", "", ConsentState::Granted)], 1)
        .unwrap();
    db.record_consent(&[grant("+1", "", ConsentState::Revoked)], 2)
        .unwrap();
    db.record_consent(&[grant("+1", "", ConsentState::Granted)], 3)
        .unwrap();
    let history = db.consent_history("+1").unwrap();
    assert_eq!(history.len(), 3, "grant, revoke, grant: three rows");
    let update = exec(
        &db.conn,
        "UPDATE consent_events SET action = 'grant' WHERE id = 2",
        params![],
    );
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = exec(&db.conn, "DELETE FROM consent_events", params![]);
    assert!(delete.unwrap_err().to_string().contains("erased"));
    db.erase_subject("+1", 4).unwrap();
    assert!(db.consent_history("+1").unwrap().is_empty());
    assert!(db.is_suppressed("+1").unwrap());
}

/// What the gate reads: the latest entry for every topic and for the message's topic,
/// promotions counted over a day and 30 days (refused ones not counted), the contact's zone.
fn the_gate_reads_the_latest_entry_and_counts_promotions(mut db: Db) {
    let day = 86_400_000;
    let f = db
        .facts("+1", Class::Marketing, Some("promo"), 40 * day)
        .unwrap();
    assert_eq!((f.everything, f.topic_state), (None, None));
    db.record_consent(&[grant("+1", "", ConsentState::Granted)], day)
        .unwrap();
    db.record_consent(&[grant("+1", "promo", ConsentState::Revoked)], 2 * day)
        .unwrap();
    let f = db
        .facts("+1", Class::Marketing, Some("promo"), 40 * day)
        .unwrap();
    assert_eq!(f.topic_state, Some(ConsentState::Revoked));
    let f = db
        .facts("+1", Class::Marketing, Some("events"), 40 * day)
        .unwrap();
    assert_eq!(f.topic_state, Some(ConsentState::Granted));
    let f = db
        .facts("+1", Class::Transactional, None, 40 * day)
        .unwrap();
    assert_eq!(
        (f.everything, f.topic_state),
        (Some(ConsentState::Granted), None)
    );
    for (at, decision) in [
        (5 * day, Decision::Send),
        (20 * day, Decision::Send),
        (39 * day + 1, Decision::Send),
        (
            39 * day + 2,
            Decision::Refuse {
                code: "frequency_cap",
                reason: "cap".into(),
            },
        ),
    ] {
        let mut m = msg("+1", 1);
        m.class = Class::Marketing;
        db.enqueue_gated(&[m], at, &mut |_| decision.clone())
            .unwrap();
    }
    let f = db.facts("+1", Class::Survey, None, 40 * day).unwrap();
    assert_eq!((f.promotional_last_day, f.promotional_last_30_days), (1, 2));
    db.save_contact(
        "+1",
        &ContactChange {
            time_zone: Some(Some("Europe/Warsaw".into())),
            ..ContactChange::default()
        },
        true,
        0,
    )
    .unwrap();
    let f = db.facts("+1", Class::Transactional, None, 0).unwrap();
    assert_eq!(f.contact_zone.as_deref(), Some("Europe/Warsaw"));
}

/// A STOP, its ledger entry and its confirmation commit together with the reply.
fn a_reply_and_what_it_causes_commit_together(mut db: Db) {
    let part = InboundPart {
        modem: "m0".into(),
        pdu: "P1".into(),
        sender: "+1".into(),
        concat: None,
        body: Some("STOP".into()),
        data_hex: None,
        sent_at: None,
        split: Default::default(),
    };
    let mut seen = None;
    let mut send = |_: &SendFacts| Decision::Send;
    db.store_inbound_reacting(
        &part,
        5,
        &mut |facts| {
            seen = Some(facts.clone());
            let mut confirmation = msg("+1", 1);
            confirmation.class = Class::System;
            confirmation.topic = Some("stop_confirmation".into());
            Reaction {
                consent: vec![grant("+1", "", ConsentState::Revoked)],
                send: vec![confirmation],
                flag: None,
                auto_reply: None,
                survey: None,
            }
        },
        &mut send,
    )
    .unwrap();
    let facts = seen.unwrap();
    assert_eq!(
        (facts.text.as_deref(), facts.opted_out),
        (Some("STOP"), false)
    );
    assert_eq!(db.consent_history("+1").unwrap().len(), 1);
    let queued = db.list_outbox(&[], None, 10).unwrap();
    assert_eq!(queued[0].class, Class::System);
    // The next reply sees the opt-out and the confirmation of the last day.
    let mut again = part.clone();
    again.pdu = "P2".into();
    db.store_inbound_reacting(
        &again,
        6,
        &mut |facts| {
            assert!(facts.opted_out);
            assert_eq!(facts.recent_confirmations, ["stop_confirmation"]);
            Reaction::default()
        },
        &mut send,
    )
    .unwrap();
}

/// Every statement the connection holds, with how often SQLite had to compile it again.
fn reprepared(db: &mut Db) -> Vec<(String, i32)> {
    use rusqlite::ffi;
    let mut out = Vec::new();
    // SAFETY: the handle is this open connection's; statements are only read (their SQL
    // and a counter), on this thread, while the connection is alive and not in use.
    unsafe {
        let handle = db.connection().handle();
        let mut stmt = ffi::sqlite3_next_stmt(handle, std::ptr::null_mut());
        while !stmt.is_null() {
            let sql = std::ffi::CStr::from_ptr(ffi::sqlite3_sql(stmt))
                .to_string_lossy()
                .into_owned();
            let n = ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
            out.push((sql, n));
            stmt = ffi::sqlite3_next_stmt(handle, stmt);
        }
    }
    out
}

/// The statements the daemon runs for every message are compiled once and reused. The
/// bundled SQLite (STAT4) compiles a statement again whenever a value its plan looked at is
/// bound anew, which was nearly every statement at every call, a third of the store's CPU.
#[test]
fn no_statement_on_the_daemons_paths_is_compiled_at_every_call() {
    let mut db = Db::open_in_memory().unwrap();
    db.record_consent(&[grant("+2", "", ConsentState::Granted)], 1)
        .unwrap();
    for round in 0..4i64 {
        let now = 10 + round * 100;
        for to in ["+1", "+2", "+3"] {
            let mut m = msg(to, 2);
            if to == "+2" {
                m.class = Class::Marketing;
            }
            let id = db
                .enqueue_gated(&[m], now, &mut |_| Decision::Send)
                .unwrap()[0]
                .id;
            db.due_candidates(now + 1, 16).unwrap();
            db.earliest_due().unwrap();
            db.modem_load(0).unwrap();
            let Start::Sending(due) = db
                .start_gated(id, "m0", now + 2, &mut |_| Decision::Send)
                .unwrap()
            else {
                panic!("not started");
            };
            db.mark_sent(id, due.parts[0].part, 1, now + 3).unwrap();
            db.mark_sending(id, 2, "m0", now + 4).unwrap();
            db.mark_sent(id, 2, 2, now + 5).unwrap();
            db.take_new_events().unwrap();
        }
        let mut part = InboundPart {
            modem: "m0".into(),
            pdu: format!("P{round}"),
            sender: "+1".into(),
            concat: None,
            body: Some("Thanks!".into()),
            data_hex: None,
            sent_at: None,
            split: Default::default(),
        };
        db.store_inbound_reacting(&part, now + 6, &mut |_| Reaction::default(), &mut |_| {
            Decision::Send
        })
        .unwrap();
        part.pdu = format!("Q{round}");
        db.store_inbound_reacting(&part, now + 7, &mut |_| Reaction::default(), &mut |_| {
            Decision::Send
        })
        .unwrap();
        db.record_status_report(&report(1, "+1", 0, &format!("R{round}")), 10_000, now + 8)
            .unwrap();
    }
    let again: Vec<(String, i32)> = reprepared(&mut db)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(again.is_empty(), "compiled again at every call: {again:#?}");
}

/// A resend with the same idempotency key reports what the gate decided the first time.
fn an_idempotent_resend_reports_the_first_decision(mut db: Db) {
    let mut keyed = msg("+1", 1);
    keyed.idempotency_key = Some("promo-7".into());
    let refuse = Decision::Refuse {
        code: "frequency_cap",
        reason: "cap of 4 reached".into(),
    };
    let first = db
        .enqueue_gated(std::slice::from_ref(&keyed), 1, &mut |_| refuse.clone())
        .unwrap();
    let again = db
        .enqueue_gated(&[keyed], 2, &mut |_| Decision::Send)
        .unwrap();
    assert_eq!((again[0].id, again[0].new), (first[0].id, false));
    assert_eq!(again[0].decision, refuse);
}

fn call(queue: &str, url: &str) -> NewCallback {
    NewCallback {
        purpose: "dlr".into(),
        queue: queue.into(),
        message_id: None,
        inbox_id: None,
        method: "GET".into(),
        url: url.into(),
        body: None,
        content_type: None,
        sign: false,
        reply_parts: 0,
        max_attempts: 3,
        expires_at: 1_000_000,
    }
}

fn watches_keep_their_told_outcomes_and_callbacks_go_in_queue_order(mut db: Db) {
    let mut m = msg("+639171234567", 1);
    m.watch = Some(Watch {
        interface: "kannel".into(),
        mask: 9,
        target: "http://h/dlr?type=%d".into(),
        account: Some("playsms".into()),
        meta: Some("?orig?till=2".into()),
    });
    let id = db.enqueue(&m, 100).unwrap().id;
    let w = db.watch(id).unwrap().unwrap();
    assert_eq!((w.watch.mask, w.told), (9, 0));
    assert_eq!(w.watch.meta.as_deref(), Some("?orig?till=2"));
    assert_eq!(
        db.watched_by_target("kannel", "http://h/dlr?type=%d")
            .unwrap()
            .len(),
        1
    );

    // No cursor before the first plan; the plan, the outcomes told and the cursor commit
    // together.
    assert_eq!(db.cursor("c").unwrap(), None);
    let calls = [
        call("dlr:1", "http://h/1"),
        call("dlr:1", "http://h/2"),
        call("dlr:2", "http://h/3"),
    ];
    assert!(
        db.plan_callbacks("c", None, 42, &calls, &[(id, 8)], 200)
            .unwrap()
    );
    // A second planner that read the same cursor (another host) plans nothing.
    assert!(
        !db.plan_callbacks("c", None, 42, &calls, &[(id, 8)], 200)
            .unwrap()
    );
    assert!(
        !db.plan_callbacks("c", Some(7), 50, &calls, &[], 200)
            .unwrap()
    );
    assert_eq!(db.cursor("c").unwrap(), Some(42));
    assert_eq!(db.watch(id).unwrap().unwrap().told, 8);

    // Of each queue only the first pending call is due; the second waits for it.
    let due: Vec<String> = db
        .due_callbacks(300, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.planned.url)
        .collect();
    assert_eq!(due, ["http://h/1", "http://h/3"]);
    let first = db.due_callbacks(300, 10).unwrap()[0].id;
    db.record_attempt(
        first,
        "h",
        &Attempt::Retry {
            at: 500,
            error: "HTTP 503".into(),
        },
        300,
    )
    .unwrap();
    let due: Vec<String> = db
        .due_callbacks(400, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.planned.url)
        .collect();
    assert_eq!(due, ["http://h/3"], "a retry holds its queue");
    assert_eq!(
        db.next_callback_at().unwrap(),
        Some(200),
        "the other queue's call"
    );
    db.record_attempt(
        first,
        "h",
        &Attempt::GiveUp {
            error: "HTTP 404".into(),
        },
        600,
    )
    .unwrap();
    let due: Vec<String> = db
        .due_callbacks(600, 10)
        .unwrap()
        .into_iter()
        .map(|c| c.planned.url)
        .collect();
    assert_eq!(due, ["http://h/2", "http://h/3"], "given up, the next goes");
    let counts = db.callback_counts().unwrap();
    assert_eq!((counts.pending, counts.given_up), (2, 1));
    let events = db.events_since(0, 100).unwrap();
    let failed = events.iter().find(|e| e.kind == "callback_failed").unwrap();
    assert!(
        failed.detail.contains("to h given up: HTTP 404"),
        "{}",
        failed.detail
    );
}

fn webhooks_are_registered_replaced_and_removed(mut db: Db) {
    let hook = |id: &str, url: &str| WebhookRow {
        id: id.into(),
        url: url.into(),
        event: "sms:received".into(),
        created_at: 1,
    };
    assert!(db.put_webhook(&hook("a", "https://x/1")).unwrap());
    assert!(!db.put_webhook(&hook("a", "https://x/2")).unwrap());
    assert_eq!(db.webhooks().unwrap(), [hook("a", "https://x/2")]);
    assert!(db.delete_webhook("a").unwrap());
    assert!(!db.delete_webhook("a").unwrap());
}

fn modem_of(id: &str) -> HostModem {
    HostModem {
        modem: id.into(),
        healthy: true,
        prefixes: vec!["+63917".into()],
        daily_cap: None,
        hourly_cap: None,
    }
}

/// Two hosts on one database: each holds its own modems; a host whose lease runs out is
/// settled by the other (its part mid-send `unknown`, never resent; its claim not started
/// back in the queue); a clean stop lets go at once.
fn hosts_hold_their_modems_and_a_lost_hosts_work_is_settled(mut db: Db) {
    let lease = 1_000;
    assert!(
        db.join("a", "1", &[modem_of("ga")], lease, 0)
            .unwrap()
            .is_empty()
    );
    db.join("b", "1", &[modem_of("gb")], lease, 0).unwrap();
    // A modem id already held by a live host is refused, changing nothing.
    let refused = db.join("c", "1", &[modem_of("ga")], lease, 10).unwrap_err();
    assert!(
        refused.to_string().contains("belongs to host a"),
        "{refused}"
    );
    assert_eq!(
        db.remote_modems("b", 10).unwrap(),
        vec![modem_of("ga")],
        "b routes with a's modem in view"
    );

    // Host a sends part 1 of a two-part message through its modem, then goes silent.
    let sending = db.enqueue(&msg("+639171234567", 2), 0).unwrap().id;
    assert!(matches!(
        db.start(sending, "ga", 10).unwrap(),
        Start::Sending(_)
    ));
    db.heartbeat("b", &[modem_of("gb")], lease, 500).unwrap();
    // Before a's lease runs out nothing of a's is touched.
    assert_eq!(
        db.message(sending).unwrap().unwrap().message.state,
        MessageState::Sending
    );
    let lost = db.heartbeat("b", &[modem_of("gb")], lease, 1_500).unwrap();
    assert_eq!(lost, vec!["a".to_string()]);
    let m = db.message(sending).unwrap().unwrap();
    assert_eq!(
        m.message.state,
        MessageState::Unknown,
        "never resent silently"
    );
    assert!(m.history.iter().any(|e| e.kind == "outcome_unknown"));
    assert!(db.remote_modems("b", 1_500).unwrap().is_empty());
    // Settled once: the next heartbeat finds nothing more to do.
    assert!(
        db.heartbeat("b", &[modem_of("gb")], lease, 1_600)
            .unwrap()
            .is_empty()
    );
    let hosts = db.hosts().unwrap();
    let a = hosts.iter().find(|h| h.name == "a").unwrap();
    assert!(!a.alive(1_600) && a.reaped_at == Some(1_500) && a.stopped_at.is_none());

    // Its modem is free now: another host may take it.
    db.join("c", "1", &[modem_of("ga")], lease, 1_700).unwrap();
    assert_eq!(db.hosts().unwrap().len(), 3);

    // A clean stop lets go of claims not started at once.
    let queued = db.enqueue(&msg("+639171234568", 1), 1_800).unwrap().id;
    exec(
        &db.conn,
        "UPDATE outbox SET modem = 'gb' WHERE id = ?1",
        params![queued],
    )
    .unwrap();
    db.leave("b", 1_900).unwrap();
    assert_eq!(db.due(queued).unwrap().unwrap().modem, None);
    let b = db
        .hosts()
        .unwrap()
        .into_iter()
        .find(|h| h.name == "b")
        .unwrap();
    assert_eq!(b.stopped_at, Some(1_900));
    assert!(
        db.heartbeat("b", &[], lease, 2_000).is_err(),
        "a stopped host must join again"
    );
}

/// `smsqd migrate --to postgres://…`: every row moves with its id, what reads it reads the
/// same on PostgreSQL, new rows are numbered after the copied ones, and a database in use
/// or a target holding data is refused.
#[test]
fn a_sqlite_database_moves_to_postgres_whole() {
    let Some(url) = crate::store::throwaway::database_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let (sent, queued) = {
        let mut db = Db::open(&path).unwrap();
        db.join("shop-pc", "1", &[modem_of("m0")], 30_000, 1)
            .unwrap();
        let sent = db.enqueue(&msg("+1", 2), 10).unwrap().id;
        db.mark_sending(sent, 1, "m0", 11).unwrap();
        db.mark_sent(sent, 1, 7, 12).unwrap();
        let queued = db.enqueue(&msg("+2", 1), 13).unwrap().id;
        db.store_inbound(&part("P1", "+1", None, "thanks!"), 14)
            .unwrap();
        db.record_consent(&[grant("+2", "", ConsentState::Granted)], 15)
            .unwrap();
        (sent, queued)
    };
    // The SQLite host's lease still runs: smsqd may be running on the file.
    let busy = super::migrate::sqlite_to_postgres(&path, &url, 100).unwrap_err();
    assert!(busy.to_string().contains("stop it first"), "{busy}");
    Db::open(&path).unwrap().leave("shop-pc", 200).unwrap();

    let copied = super::migrate::sqlite_to_postgres(&path, &url, 300).unwrap();
    let rows = |t: &str| copied.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!(
        (rows("outbox"), rows("outbox_parts"), rows("inbox")),
        (2, 3, 1)
    );
    assert_eq!(rows("consent_events"), 1);

    let lite = Db::open(&path).unwrap();
    let mut pg = Db::open_postgres(&url).unwrap();
    for id in [sent, queued] {
        assert_eq!(pg.message(id).unwrap(), lite.message(id).unwrap());
    }
    assert_eq!(
        pg.list_inbox(None, 10).unwrap(),
        lite.list_inbox(None, 10).unwrap()
    );
    assert_eq!(
        pg.consent_history("+2").unwrap(),
        lite.consent_history("+2").unwrap()
    );
    assert_eq!(pg.hosts().unwrap(), lite.hosts().unwrap());
    let next = pg.enqueue(&msg("+3", 1), 400).unwrap().id;
    assert_eq!(next, queued + 1, "numbered after the copied rows");
    assert!(pg.last_event_id().unwrap() > lite.last_event_id().unwrap());

    let again = super::migrate::sqlite_to_postgres(&path, &url, 500).unwrap_err();
    assert!(again.to_string().contains("already holds data"), "{again}");
}

/// The two parts of each of many replies arrive at once at two hosts' SIMs (the network
/// split them): every reply is joined exactly once, complete, whichever host stored its
/// last part; and two hosts closing the same incomplete reply close it once.
#[test]
fn parts_stored_by_two_hosts_at_once_are_joined_once() {
    let Some(url) = crate::store::throwaway::database_or_skip() else {
        return;
    };
    const REPLIES: u16 = 150;
    drop(Db::open_postgres(&url).unwrap());
    let barrier = std::sync::Barrier::new(2);
    let completed: Vec<Vec<i64>> = std::thread::scope(|s| {
        let hosts: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|n| {
                let (url, barrier) = (&url, &barrier);
                s.spawn(move || {
                    let mut db = Db::open_postgres(url).unwrap();
                    barrier.wait();
                    let mut done = Vec::new();
                    for r in 0..REPLIES {
                        let mut p = part(
                            &format!("P{r}-{n}"),
                            &format!("+63917{:07}", r),
                            Some((r, 8, 2, n)),
                            &format!("half {n} of {r} "),
                        );
                        p.modem = format!("host{n}");
                        if let Inbound::Stored(Some(id)) = db.store_inbound(&p, 10).unwrap() {
                            done.push(id);
                        }
                    }
                    done
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut db = Db::open_postgres(&url).unwrap();
    let all: Vec<i64> = completed.concat();
    assert_eq!(all.len(), REPLIES as usize, "each reply joined once");
    let inbox = db.list_inbox(None, 1000).unwrap();
    assert_eq!(inbox.len(), REPLIES as usize);
    assert!(inbox.iter().all(|m| m.complete && m.parts == 2));

    // An incomplete one, closed by two hosts at the same moment: closed once.
    let mut lone = part("LONE", "+639170000001", Some((7, 8, 3, 1)), "only part 1");
    lone.modem = "host1".into();
    db.store_inbound(&lone, 20).unwrap();
    let closed: Vec<Vec<i64>> = std::thread::scope(|s| {
        let hosts: Vec<_> = (0..2)
            .map(|_| {
                let url = &url;
                s.spawn(move || {
                    Db::open_postgres(url)
                        .unwrap()
                        .expire_incomplete(1_000_000, 1_000)
                        .unwrap()
                })
            })
            .collect();
        hosts.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(closed.concat().len(), 1, "{closed:?}");
    assert_eq!(
        db.list_inbox(None, 1000).unwrap().len(),
        REPLIES as usize + 1
    );
}

/// Hosts reach a PostgreSQL server on another machine over TLS, and only when its
/// certificate is one they trust: signed by the shop's CA given as `sslrootcert`.
#[test]
fn hosts_reach_the_database_over_verified_tls() {
    if crate::store::throwaway::database_or_skip().is_none() {
        return;
    }
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Ana's Print CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    crate::store::throwaway::tls_server(crate::store::throwaway::Tls {
        cert_pem: &server.pem(),
        key_pem: &server_key.serialize_pem(),
        port,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("shop-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let url =
        |extra: &str| format!("postgres://smsq@127.0.0.1:{port}/postgres?sslmode=require{extra}");

    let db = Db::open_postgres(&url(&format!("&sslrootcert={}", ca_file.display()))).unwrap();
    let encrypted: bool = row(
        &db.conn,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        params![],
        |r| r.get(0),
    )
    .unwrap();
    assert!(encrypted, "the connection is TLS");
    // Without the shop's CA the server's certificate is not trusted: no connection.
    let refused = Db::open_postgres(&url("")).err().expect("refused");
    assert!(
        format!("{refused:?}")
            .to_lowercase()
            .contains("certificate"),
        "{refused:?}"
    );
}

/// The connection to PostgreSQL is cut (the server restarted, the network dropped): the
/// change under way fails, visibly, and the next one connects again by itself.
#[test]
fn a_lost_database_connection_is_made_again() {
    let Some(url) = crate::store::throwaway::database_or_skip() else {
        return;
    };
    let mut db = Db::open_postgres(&url).unwrap();
    let first = db.enqueue(&msg("+1", 1), 1).unwrap().id;
    let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    // The cut shows as an error of the call that meets it, never as a silent success...
    let mut outcome = db.enqueue(&msg("+2", 1), 2);
    if outcome.is_err() {
        // ...and the next call finds the database again.
        outcome = db.enqueue(&msg("+2", 1), 3);
    }
    let second = outcome.unwrap().id;
    assert!(second > first);
    assert_eq!(db.message(first).unwrap().unwrap().message.recipient, "+1");
    assert_eq!(db.message(second).unwrap().unwrap().message.recipient, "+2");
}

/// The web page's accounts, on any host: the one-time setup token makes the first owner
/// once, a session is found by its token's hash until it expires or closes, removing a
/// user ends its sessions, and the opt-out list reads the ledger.
fn web_accounts_and_sessions_are_kept_once(mut db: Db) {
    let owner = WebUser {
        name: "ana".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role: "owner".into(),
        created_at: 1,
    };
    db.set_web_setup("setup-hash", 100).unwrap();
    assert!(db.web_setup_valid("setup-hash", 50).unwrap());
    assert!(db.complete_web_setup("setup-hash", &owner, 60).unwrap());
    assert!(
        !db.complete_web_setup("setup-hash", &owner, 61).unwrap(),
        "once"
    );
    let staff = WebUser {
        name: "ben".into(),
        role: "staff".into(),
        ..owner.clone()
    };
    assert!(db.add_web_user(&staff).unwrap());
    assert!(!db.add_web_user(&staff).unwrap(), "a name is taken once");
    assert_eq!(db.web_users().unwrap().len(), 2);

    db.open_web_session("token-hash", "ben", "csrf-1", 100, 1_000)
        .unwrap();
    let session = db.web_session("token-hash", 500).unwrap().unwrap();
    assert_eq!(
        (session.user.name.as_str(), session.csrf.as_str()),
        ("ben", "csrf-1")
    );
    assert!(
        db.web_session("token-hash", 1_001).unwrap().is_none(),
        "expired"
    );
    assert!(db.remove_web_user("ben").unwrap());
    assert!(
        db.web_session("token-hash", 500).unwrap().is_none(),
        "gone with its user"
    );

    db.record_consent(&[grant("+1", "", ConsentState::Revoked)], 5)
        .unwrap();
    assert_eq!(db.opted_out(10).unwrap().len(), 1);
    assert_eq!(
        db.consent_now(&["+1".into(), "+2".into()]).unwrap(),
        vec![Some(ConsentState::Revoked), None]
    );
}
