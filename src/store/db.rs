//! The SQLite database: schema, migrations and every state change, each in one transaction.
//!
//! Times are Unix milliseconds, supplied by the caller (tests pass their own).
//!
//! # The rule for parts whose outcome is unknown
//!
//! A part is marked `sending` and committed *before* it is handed to the modem. If the daemon
//! dies, or the modem times out or vanishes after taking the PDU, nobody knows whether the
//! network accepted it. Such a part becomes `unknown` (at start-up for `sending` leftovers, or
//! at once for a timeout/unplug after hand-over) and its message stops in state `unknown`: it
//! is **never resent automatically**, so a customer never gets the same text twice without
//! someone deciding so. A later status report for it still moves it to delivered or failed:
//! the part's reference never came back, so the report is matched by modem, recipient and
//! hand-over time (and, among several such parts, by the reference the modem would have given
//! next); see `match_unknown_part`.
//! `smsq retry ID` (or the `retry` request) puts it back in the queue on purpose.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::state::{MessageState, PartState};
use crate::pdu::{SplitSurrogates, join_text_parts};

impl rusqlite::types::FromSql for MessageState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown message state {name:?}").into())
        })
    }
}

impl rusqlite::types::FromSql for PartState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let name = value.as_str()?;
        Self::parse(name).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown part state {name:?}").into())
        })
    }
}

/// Current schema version (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 3;

pub(crate) const SCHEMA_V1: &str = r#"
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    encoding        TEXT    NOT NULL,
    alphabet        TEXT    NOT NULL,
    parts           INTEGER NOT NULL,
    concat_ref      INTEGER NOT NULL,
    status_report   INTEGER NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    client_ref      TEXT,
    idempotency_key TEXT UNIQUE,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    not_before      INTEGER,
    not_after       INTEGER,
    last_error      TEXT,
    modem           TEXT,
    peer_uid        INTEGER,
    peer_pid        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, priority DESC, created_at);

CREATE TABLE outbox_parts (
    message_id    INTEGER NOT NULL REFERENCES outbox (id),
    part          INTEGER NOT NULL,
    tpdu_len      INTEGER NOT NULL,
    pdu           TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    mr            INTEGER,
    modem         TEXT,
    sent_at       INTEGER,
    report_status INTEGER,
    report_at     INTEGER,
    PRIMARY KEY (message_id, part)
);
CREATE INDEX parts_mr ON outbox_parts (mr, sent_at);

CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    sender      TEXT    NOT NULL,
    body        TEXT,
    data_hex    TEXT,
    parts       INTEGER NOT NULL,
    complete    INTEGER NOT NULL,
    modem       TEXT,
    sent_at     TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX inbox_received ON inbox (received_at);

CREATE TABLE inbox_parts (
    id          INTEGER PRIMARY KEY,
    modem       TEXT    NOT NULL,
    pdu         TEXT    NOT NULL,
    sender      TEXT    NOT NULL,
    concat_ref  INTEGER,
    concat_bits INTEGER,
    total       INTEGER NOT NULL,
    part        INTEGER NOT NULL,
    body        TEXT,
    data_hex    TEXT,
    sent_at     TEXT,
    received_at INTEGER NOT NULL,
    message_id  INTEGER REFERENCES inbox (id),
    UNIQUE (modem, pdu)
);
CREATE INDEX inbox_parts_group ON inbox_parts (sender, concat_ref, concat_bits, total, message_id);

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    modem       TEXT    NOT NULL,
    pdu         TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (modem, pdu)
);

CREATE TABLE status_reports (
    id          INTEGER PRIMARY KEY,
    modem       TEXT    NOT NULL,
    mr          INTEGER NOT NULL,
    recipient   TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    pdu         TEXT    NOT NULL,
    message_id  INTEGER,
    part        INTEGER,
    received_at INTEGER NOT NULL,
    UNIQUE (modem, pdu)
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    message_id INTEGER,
    inbox_id   INTEGER,
    detail     TEXT    NOT NULL
);
CREATE INDEX events_message ON events (message_id);
"#;

/// Version 2: when each part was handed to the modem, so a status report for a part whose
/// `+CMGS` answer was lost (no message reference known) can still be matched to it; and the
/// halves of a character a sender split between two received UCS-2 parts, so joining the
/// parts mends it; the PINs each SIM refused (see `modem::pin`), so none is tried twice; and
/// indexes so that no statement on the dispatch, receive and report paths reads the whole
/// history (`store::tests::the_daemons_paths_never_scan_a_growing_table`).
pub(crate) const SCHEMA_V2: &str = r#"
ALTER TABLE outbox_parts ADD COLUMN handed_at INTEGER;
CREATE INDEX parts_unknown ON outbox_parts (modem, handed_at) WHERE state = 'unknown';
CREATE INDEX parts_handed ON outbox_parts (modem, handed_at);
CREATE INDEX parts_sent ON outbox_parts (sent_at, modem);
CREATE INDEX parts_state ON outbox_parts (state, message_id);
CREATE INDEX inbox_parts_open ON inbox_parts (message_id, sender, concat_ref, concat_bits, total);
CREATE INDEX reports_unmatched ON status_reports (mr, received_at) WHERE message_id IS NULL;
CREATE INDEX reports_message ON status_reports (message_id);
CREATE INDEX reports_received ON status_reports (received_at);
CREATE INDEX outbox_updated ON outbox (updated_at);
CREATE INDEX outbox_bodies ON outbox (updated_at) WHERE body != '';
CREATE INDEX inbox_bodies ON inbox (received_at) WHERE body IS NOT NULL OR data_hex IS NOT NULL;
CREATE INDEX inbox_parts_bodies ON inbox_parts (received_at)
    WHERE message_id IS NOT NULL AND pdu NOT LIKE 'erased %';
CREATE INDEX events_inbox ON events (inbox_id);
CREATE INDEX events_at ON events (at);
CREATE INDEX quarantine_received ON quarantine (received_at);
ALTER TABLE inbox_parts ADD COLUMN split_low INTEGER;
ALTER TABLE inbox_parts ADD COLUMN split_high INTEGER;
CREATE TABLE pin_refusals (
    sim         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    refused_at  INTEGER NOT NULL,
    PRIMARY KEY (sim, fingerprint)
);
"#;

/// Version 3: the states of messages and parts are constrained to the ones the state
/// machine knows (`store::state`), so no bug or hand edit can store another; SQLite cannot
/// add a CHECK to a table, so both tables are rebuilt (the procedure of
/// <https://sqlite.org/lang_altertable.html#otheralter>, foreign keys off meanwhile).
///
/// The indexes are rebuilt for what each commit costs: every b-tree a statement touches is
/// one more page written to the WAL, and those writes were most of the daemon's CPU per
/// message. So the parts are keyed by (message, part) alone (WITHOUT ROWID: no separate
/// key index), and indexes hold only the rows their queries look for: the queue's own
/// (priority order, next due time) only queued and sending messages; retention's only
/// finished ones; the report and load indexes only parts that were handed over, sent or
/// given a reference; idempotency keys only when there is one. Picking the next message and
/// the next due time cost the same with ten messages queued as with ten thousand.
pub(crate) const SCHEMA_V3: &str = r#"
CREATE TABLE outbox_v3 (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    encoding        TEXT    NOT NULL,
    alphabet        TEXT    NOT NULL,
    parts           INTEGER NOT NULL,
    concat_ref      INTEGER NOT NULL,
    status_report   INTEGER NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    client_ref      TEXT,
    idempotency_key TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'delivered',
                                                      'failed', 'expired', 'cancelled', 'unknown')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    not_before      INTEGER,
    not_after       INTEGER,
    last_error      TEXT,
    modem           TEXT,
    peer_uid        INTEGER,
    peer_pid        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
INSERT INTO outbox_v3 SELECT * FROM outbox;
CREATE TABLE outbox_parts_v3 (
    message_id    INTEGER NOT NULL REFERENCES outbox (id),
    part          INTEGER NOT NULL,
    tpdu_len      INTEGER NOT NULL,
    pdu           TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'delivered',
                                                    'failed', 'cancelled', 'unknown')),
    mr            INTEGER,
    modem         TEXT,
    sent_at       INTEGER,
    report_status INTEGER,
    report_at     INTEGER,
    handed_at     INTEGER,
    PRIMARY KEY (message_id, part)
);
INSERT INTO outbox_parts_v3 SELECT * FROM outbox_parts;
DROP TABLE outbox_parts;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
ALTER TABLE outbox_parts_v3 RENAME TO outbox_parts;
CREATE UNIQUE INDEX outbox_idempotency ON outbox (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_queue ON outbox (priority DESC, created_at, id)
    WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_next ON outbox (next_attempt_at) WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_finished ON outbox (updated_at) WHERE state NOT IN ('queued', 'sending');
CREATE INDEX outbox_bodies ON outbox (updated_at)
    WHERE body != '' AND state NOT IN ('queued', 'sending');
CREATE INDEX parts_mr ON outbox_parts (mr, sent_at) WHERE mr IS NOT NULL;
CREATE INDEX parts_unknown ON outbox_parts (modem, handed_at) WHERE state = 'unknown';
CREATE INDEX parts_handed ON outbox_parts (modem, handed_at) WHERE handed_at IS NOT NULL;
CREATE INDEX parts_sent ON outbox_parts (sent_at, modem) WHERE sent_at IS NOT NULL;
DROP INDEX events_inbox;
CREATE INDEX events_inbox ON events (inbox_id) WHERE inbox_id IS NOT NULL;
"#;

/// What `Db::stats` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// (table, rows).
    pub tables: Vec<(&'static str, i64)>,
    pub page_size: i64,
    pub pages: i64,
    /// Pages freed by deletions and not yet given back to the file system.
    pub free_pages: i64,
    pub schema: i64,
}

/// A message to queue, already planned and encoded.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub recipient: String,
    pub body: String,
    pub encoding: String,
    pub alphabet: String,
    pub concat_ref: u16,
    pub status_report: bool,
    pub priority: i64,
    pub client_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub peer_uid: Option<u32>,
    pub peer_pid: Option<i32>,
    /// (TPDU length, PDU hex) per part.
    pub parts: Vec<(usize, String)>,
}

impl NewMessage {
    /// A GSM 7-bit message to `recipient` with status reports, no scheduling and no client
    /// details: `parts` are (TPDU length, PDU hex). The other fields keep their defaults and
    /// can be set with struct update syntax.
    pub fn new(recipient: &str, body: &str, parts: Vec<(usize, String)>) -> Self {
        Self {
            recipient: recipient.into(),
            body: body.into(),
            encoding: "auto".into(),
            alphabet: "gsm7".into(),
            concat_ref: 1,
            status_report: true,
            priority: 0,
            client_ref: None,
            idempotency_key: None,
            not_before: None,
            not_after: None,
            peer_uid: None,
            peer_pid: None,
            parts,
        }
    }
}

/// A message the dispatcher should work on now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: i64,
    pub recipient: String,
    pub attempts: i64,
    pub not_after: Option<i64>,
    pub modem: Option<String>,
    /// The message's state when it was read.
    pub state: String,
    /// Parts still to send, in order: (part, tpdu_len, pdu).
    pub parts: Vec<(i64, usize, String)>,
}

/// One row of history, with what a subscriber wants to see of a received message (so that
/// nobody reads the store again to show it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub message_id: Option<i64>,
    pub inbox_id: Option<i64>,
    pub detail: String,
    /// For an event about a received message still in the inbox: who sent it, its text
    /// (`None` for data or an erased text) and whether every part arrived.
    pub received: Option<ReceivedSummary>,
}

/// A received message as its event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSummary {
    pub from: String,
    pub text: Option<String>,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRow {
    pub part: i64,
    pub state: PartState,
    pub mr: Option<i64>,
    pub modem: Option<String>,
    pub sent_at: Option<i64>,
    pub report_status: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub recipient: String,
    pub body: String,
    pub alphabet: String,
    pub parts: i64,
    pub state: MessageState,
    pub attempts: i64,
    pub priority: i64,
    pub client_ref: Option<String>,
    pub last_error: Option<String>,
    pub modem: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub next_attempt_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub id: i64,
    pub sender: String,
    pub body: Option<String>,
    pub data_hex: Option<String>,
    pub parts: i64,
    pub complete: bool,
    pub modem: Option<String>,
    pub sent_at: Option<String>,
    pub received_at: i64,
}

/// A message with its parts and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    pub message: MessageRow,
    pub parts: Vec<PartRow>,
    pub history: Vec<EventRow>,
}

/// A received part, decoded by the caller.
#[derive(Debug, Clone)]
pub struct InboundPart {
    pub modem: String,
    pub pdu: String,
    pub sender: String,
    /// (reference, reference bits, total, part) for concatenated messages.
    pub concat: Option<(u16, u8, u8, u8)>,
    pub body: Option<String>,
    pub data_hex: Option<String>,
    pub sent_at: Option<String>,
    /// Surrogate halves at the edges of a UCS-2 part (see [`SplitSurrogates`]).
    pub split: SplitSurrogates,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The same PDU from the same modem was already stored (a re-read during a sweep).
    Duplicate,
    /// Stored; `Some` when it completed a message.
    Stored(Option<i64>),
}

/// A decoded status report, as the receive path hands it over.
#[derive(Debug, Clone)]
pub struct ReportIn {
    pub modem: String,
    pub mr: u8,
    pub recipient: String,
    pub status: u8,
    pub pdu: String,
}

/// One stored part of a concatenation group.
#[derive(Debug, Clone)]
struct GroupPart {
    id: i64,
    part: i64,
    body: Option<String>,
    data_hex: Option<String>,
    sent_at: Option<String>,
    split: SplitSurrogates,
}

/// The parts of a group not yet in a message, ordered by part number. With `only`, just
/// that row (a message without concatenation is a group of its own).
fn group_parts(
    tx: &Transaction<'_>,
    sender: &str,
    reference: Option<i64>,
    bits: Option<i64>,
    total: i64,
    only: Option<i64>,
) -> Result<Vec<GroupPart>> {
    let mut st = tx.prepare_cached(
        "SELECT id, part, body, data_hex, sent_at, split_low, split_high FROM inbox_parts
         WHERE sender = ?1 AND concat_ref IS ?2 AND concat_bits IS ?3 AND total = ?4 AND message_id IS NULL
           AND (?5 IS NULL OR id = ?5)
         ORDER BY part, id",
    )?;
    st.query_map(params![sender, reference, bits, total, only], |r| {
        Ok(GroupPart {
            id: r.get(0)?,
            part: r.get(1)?,
            body: r.get(2)?,
            data_hex: r.get(3)?,
            sent_at: r.get(4)?,
            split: SplitSurrogates {
                leading_low: r.get(5)?,
                trailing_high: r.get(6)?,
            },
        })
    })?
    .collect()
}

/// What a status report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    pub message_id: i64,
    pub part: i64,
    /// The message's state afterwards.
    pub message_state: String,
}

pub type Result<T> = rusqlite::Result<T>;

/// Runs one statement through the connection's statement cache: the daemon runs the same
/// few statements for every message, and parsing them again each time cost more than
/// running them.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// One row of a cached statement (see [`exec`]).
fn row<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

pub struct Db {
    conn: Connection,
    /// The last event handed to subscribers by [`Db::take_new_events`].
    published: i64,
    /// `total_changes` when events were last looked for: unchanged, there is nothing new.
    changes_seen: u64,
}

fn event(
    tx: &Transaction<'_>,
    at: i64,
    kind: &str,
    message_id: Option<i64>,
    inbox_id: Option<i64>,
    detail: &str,
) -> Result<()> {
    exec(
        tx,
        "INSERT INTO events (at, kind, message_id, inbox_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![at, kind, message_id, inbox_id, detail],
    )?;
    Ok(())
}

/// Lets go of the claim on message `id` when none of its parts has left the queue, so that
/// another modem may send it; a started message stays with its modem (one sender for all
/// the parts of a concatenated message).
fn release_if_unstarted(tx: &Transaction<'_>, id: i64) -> Result<()> {
    exec(
        tx,
        "UPDATE outbox SET modem = NULL WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = ?1
                           AND p.state != 'pending')",
        [id],
    )?;
    Ok(())
}

/// Message `id` was not sent before its `not_after` time: given up, with its history.
fn expire_one(tx: &Transaction<'_>, id: i64, now: i64) -> Result<()> {
    exec(
        tx,
        "UPDATE outbox SET state = 'expired', last_error = 'not sent before its not_after time', updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    exec(
        tx,
        "UPDATE outbox_parts SET state = 'failed' WHERE message_id = ?1 AND state = 'pending'",
        [id],
    )?;
    event(
        tx,
        now,
        "expired",
        Some(id),
        None,
        "not sent before not_after",
    )
}

/// What [`Db::start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Its first unsent part is committed `sending`: hand it to the modem.
    Sending(Due),
    /// Another modem has it, or it is no longer due.
    Taken,
    /// Its `not_after` time passed: it is `expired` now.
    Expired,
    /// No part is left to send (a defensive case: start-up settles such messages).
    NothingLeft,
}

/// How long before its `+CMGS` answer is recorded a part's status report may have been.
const EARLY_REPORT_MS: i64 = 10 * 60 * 1000;

/// Settles part `part` of `message_id` by status report `report_id` (reference `mr`, TP-ST
/// `status`): the part's state, its message's state, and the history. Returns the message's
/// state.
fn apply_report(
    tx: &Transaction<'_>,
    report_id: i64,
    message_id: i64,
    part: i64,
    mr: u8,
    status: u8,
    now: i64,
) -> Result<String> {
    exec(
        tx,
        "UPDATE status_reports SET message_id = ?2, part = ?3 WHERE id = ?1",
        params![report_id, message_id, part],
    )?;
    // Some(true) delivered, Some(false) failed, None still trying.
    let final_kind = match crate::pdu::StatusKind::of(status) {
        crate::pdu::StatusKind::Delivered => Some(true),
        crate::pdu::StatusKind::Trying => None,
        crate::pdu::StatusKind::Failed | crate::pdu::StatusKind::GaveUp => Some(false),
    };
    let part_state = match final_kind {
        Some(true) => "delivered",
        Some(false) => "failed",
        None => "sent",
    };
    // A part matched without a reference (outcome unknown) learns it from the report.
    exec(tx,
        "UPDATE outbox_parts SET state = ?3, report_status = ?4, report_at = ?5, mr = COALESCE(mr, ?6)
         WHERE message_id = ?1 AND part = ?2",
        params![message_id, part, part_state, i64::from(status), now, i64::from(mr)],
    )?;
    let (total, delivered, failed): (i64, i64, i64) = row(
        tx,
        "SELECT COUNT(*), SUM(state = 'delivered'), SUM(state = 'failed') FROM outbox_parts WHERE message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let current: String = row(
        tx,
        "SELECT state FROM outbox WHERE id = ?1",
        [message_id],
        |r| r.get(0),
    )?;
    let message_state = if failed > 0 {
        "failed".to_string()
    } else if delivered == total {
        "delivered".to_string()
    } else {
        current
    };
    exec(
        tx,
        "UPDATE outbox SET state = ?2, updated_at = ?3, last_error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE last_error END WHERE id = ?1",
        params![
            message_id,
            message_state,
            now,
            format!("status report: {}", crate::pdu::status_text(status))
        ],
    )?;
    event(
        tx,
        now,
        "status_report",
        Some(message_id),
        None,
        &format!(
            "part {part}: {} (0x{status:02X})",
            crate::pdu::status_text(status)
        ),
    )?;
    if message_state == "delivered" || (message_state == "failed" && final_kind == Some(false)) {
        event(
            tx,
            now,
            &message_state,
            Some(message_id),
            None,
            "per status reports",
        )?;
    }
    Ok(message_state)
}

/// A status report whose reference matches no accepted part may be for a part whose
/// `+CMGS` answer was lost (smsqd killed, a timeout or unplug after the hand-over): such a
/// part is `unknown`, has no reference, and was handed to the same modem, for the same
/// recipient, within the window. One candidate is taken as it is. Among several, the one
/// whose reference the modem would have given next is taken: modems number submissions one
/// after another (TS 23.040 §9.2.3.6), so it is the reference of the last part that same
/// modem had accepted before plus one. Anything still ambiguous stays unmatched rather than
/// settle the wrong message. `must_predict`: an accepted part holds this reference too (it
/// wrapped), so only a candidate handed over after it whose predicted reference is this one
/// may take the report from it.
fn match_unknown_part(
    tx: &Transaction<'_>,
    modem: &str,
    mr: u8,
    recipient: &str,
    since: i64,
    now: i64,
    must_predict: bool,
) -> Result<Option<(i64, i64)>> {
    let mut st = tx.prepare_cached(
        "SELECT p.message_id, p.part, p.handed_at FROM outbox_parts p JOIN outbox o ON o.id = p.message_id
         WHERE p.state = 'unknown' AND p.mr IS NULL AND p.modem = ?1 AND o.recipient = ?2
           AND p.handed_at BETWEEN ?3 AND ?4
         ORDER BY p.handed_at",
    )?;
    let candidates: Vec<(i64, i64, i64)> = st
        .query_map(params![modem, recipient, since, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_>>()?;
    if candidates.len() <= 1 && !must_predict {
        return Ok(candidates.first().map(|&(m, p, _)| (m, p)));
    }
    // The part handed to this modem just before, whose reference is known (from its answer,
    // or from its own report when its answer was lost too).
    let mut previous = tx.prepare_cached(
        "SELECT mr FROM outbox_parts WHERE modem = ?1 AND handed_at < ?2 AND mr IS NOT NULL
         ORDER BY handed_at DESC LIMIT 1",
    )?;
    let mut predicted = Vec::new();
    for &(message_id, part, handed_at) in &candidates {
        let last: Option<i64> = previous
            .query_row(params![modem, handed_at], |r| r.get(0))
            .optional()?;
        if last.is_some_and(|last| (last + 1) % 256 == i64::from(mr)) {
            predicted.push((message_id, part));
        }
    }
    Ok(match predicted.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

impl Db {
    /// The connection, for tests that look at how SQLite runs the store's statements.
    #[cfg(test)]
    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn open(path: &Path) -> Result<Self> {
        Self::setup(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Self> {
        // WAL keeps readers and the single writer apart and survives power loss with
        // synchronous=NORMAL; a busy timeout covers a backup tool holding a read lock.
        // A new file gives pages freed by retention back bit by bit (incremental_vacuum);
        // an existing one keeps its setting (changing it needs a full VACUUM).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(128);
        // Off while migrating (SQLite as bundled turns them on by default).
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let mut db = Self {
            conn,
            published: 0,
            changes_seen: 0,
        };
        // Migrations rebuild tables, which foreign keys would forbid; they check the keys
        // themselves before committing.
        db.migrate()?;
        db.conn.pragma_update(None, "foreign_keys", "ON")?;
        db.published = db.last_event_id()?;
        db.changes_seen = db.conn.total_changes();
        Ok(db)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "database schema {version} is newer than this smsqd ({SCHEMA_VERSION}); upgrade smsqd"
            )));
        }
        let tx = self.conn.transaction()?;
        if version < 1 {
            tx.execute_batch(SCHEMA_V1)?;
        }
        if version < 2 {
            tx.execute_batch(SCHEMA_V2)?;
        }
        if version < 3 {
            tx.execute_batch(SCHEMA_V3)?;
        }
        // The rebuilt tables run with foreign keys off: check them before committing.
        let broken: Option<String> = tx
            .prepare("PRAGMA foreign_key_check")?
            .query_row([], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "migration left rows in {table} without their parent; database not changed"
            )));
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()
    }

    /// Whether `sim` refused the PIN with `fingerprint` before.
    pub fn pin_refused(&self, sim: &str, fingerprint: &str) -> Result<bool> {
        row(
            &self.conn,
            "SELECT 1 FROM pin_refusals WHERE sim = ?1 AND fingerprint = ?2",
            params![sim, fingerprint],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
    }

    /// Remembers that `sim` refused the PIN with `fingerprint`.
    pub fn record_pin_refusal(&mut self, sim: &str, fingerprint: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "INSERT OR IGNORE INTO pin_refusals (sim, fingerprint, refused_at) VALUES (?1, ?2, ?3)",
            params![sim, fingerprint, now],
        )?;
        event(
            &tx,
            now,
            "pin_refused",
            None,
            None,
            "a SIM refused the configured PIN; it will not be entered again",
        )?;
        tx.commit()
    }

    /// One batch of retention (each step touches at most `batch` rows, so sending is never
    /// held up for long): message texts and PDUs of finished messages older than
    /// `bodies_before` are erased (the record stays: who, when, what happened); finished
    /// messages, received messages, reports and quarantined PDUs older than `rows_before`
    /// are deleted with their parts and history; events older than `events_before` are
    /// deleted. A `None` keeps that kind forever. Returns how many rows changed.
    pub fn apply_retention(
        &mut self,
        bodies_before: Option<i64>,
        rows_before: Option<i64>,
        events_before: Option<i64>,
        batch: i64,
    ) -> Result<usize> {
        // Every state but queued and sending (the term of the retention indexes: a list of
        // two, which SQLite tests without building a table for each row it updates).
        const FINISHED: &str = "state NOT IN ('queued', 'sending')";
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        if let Some(before) = bodies_before {
            let ids = format!(
                "SELECT id FROM outbox WHERE updated_at < ?1 AND body != '' AND {FINISHED} LIMIT ?2"
            );
            changed += exec(
                &tx,
                &format!(
                    "UPDATE outbox_parts SET pdu = '' WHERE pdu != '' AND message_id IN ({ids})"
                ),
                params![before, batch],
            )?;
            changed += exec(
                &tx,
                &format!("UPDATE outbox SET body = '' WHERE id IN ({ids})"),
                params![before, batch],
            )?;
            changed += exec(
                &tx,
                "UPDATE inbox SET body = NULL, data_hex = NULL WHERE id IN (
                   SELECT id FROM inbox WHERE received_at < ?1
                     AND (body IS NOT NULL OR data_hex IS NOT NULL) LIMIT ?2)",
                params![before, batch],
            )?;
            changed += exec(
                &tx,
                "UPDATE inbox_parts SET body = NULL, data_hex = NULL, pdu = 'erased ' || id
                 WHERE id IN (SELECT id FROM inbox_parts WHERE received_at < ?1
                                AND message_id IS NOT NULL AND pdu NOT LIKE 'erased %' LIMIT ?2)",
                params![before, batch],
            )?;
        }
        if let Some(before) = rows_before {
            let ids =
                format!("SELECT id FROM outbox WHERE updated_at < ?1 AND {FINISHED} LIMIT ?2");
            let doomed: Vec<i64> = {
                let mut st = tx.prepare_cached(&ids)?;
                st.query_map(params![before, batch], |r| r.get(0))?
                    .collect::<Result<_>>()?
            };
            for id in &doomed {
                exec(
                    &tx,
                    "DELETE FROM status_reports WHERE message_id = ?1",
                    [id],
                )?;
                exec(&tx, "DELETE FROM events WHERE message_id = ?1", [id])?;
                exec(&tx, "DELETE FROM outbox_parts WHERE message_id = ?1", [id])?;
                changed += exec(&tx, "DELETE FROM outbox WHERE id = ?1", [id])?;
            }
            let inbox: Vec<i64> = {
                let mut st =
                    tx.prepare_cached("SELECT id FROM inbox WHERE received_at < ?1 LIMIT ?2")?;
                st.query_map(params![before, batch], |r| r.get(0))?
                    .collect::<Result<_>>()?
            };
            for id in &inbox {
                exec(&tx, "DELETE FROM events WHERE inbox_id = ?1", [id])?;
                exec(&tx, "DELETE FROM inbox_parts WHERE message_id = ?1", [id])?;
                changed += exec(&tx, "DELETE FROM inbox WHERE id = ?1", [id])?;
            }
            changed += exec(
                &tx,
                "DELETE FROM status_reports WHERE id IN (SELECT id FROM status_reports
                   WHERE message_id IS NULL AND received_at < ?1 LIMIT ?2)",
                params![before, batch],
            )?;
            changed += exec(
                &tx,
                "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine
                   WHERE received_at < ?1 LIMIT ?2)",
                params![before, batch],
            )?;
        }
        if let Some(before) = events_before {
            changed += exec(
                &tx,
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?1 LIMIT ?2)",
                params![before, batch],
            )?;
        }
        tx.commit()?;
        if changed > 0 {
            // Give freed pages back to the file system a little at a time (the database is
            // created with auto_vacuum = INCREMENTAL; on an older file this does nothing).
            self.conn.execute_batch("PRAGMA incremental_vacuum(256)")?;
        }
        Ok(changed)
    }

    /// Rows per table and the database's size, for `smsq stats`.
    pub fn stats(&self) -> Result<Stats> {
        let count = |table: &str| -> Result<i64> {
            row(
                &self.conn,
                &format!("SELECT COUNT(*) FROM {table}"),
                [],
                |r| r.get(0),
            )
        };
        let pragma =
            |name: &str| -> Result<i64> { self.conn.pragma_query_value(None, name, |r| r.get(0)) };
        Ok(Stats {
            tables: vec![
                ("outbox", count("outbox")?),
                ("outbox_parts", count("outbox_parts")?),
                ("inbox", count("inbox")?),
                ("inbox_parts", count("inbox_parts")?),
                ("status_reports", count("status_reports")?),
                ("quarantine", count("quarantine")?),
                ("events", count("events")?),
            ],
            page_size: pragma("page_size")?,
            pages: pragma("page_count")?,
            free_pages: pragma("freelist_count")?,
            schema: pragma("user_version")?,
        })
    }

    /// Applies the unknown-outcome rule to parts left `sending` by a previous run.
    pub fn reconcile_after_restart(&mut self, now: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        // Claims of the previous run that never reached a modem: any modem may take them.
        exec(
            &tx,
            "UPDATE outbox SET modem = NULL
             WHERE state IN ('queued', 'sending') AND state = 'queued' AND modem IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = outbox.id
                               AND p.state != 'pending')",
            [],
        )?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT o.id FROM outbox o WHERE o.state IN ('queued', 'sending')
                   AND EXISTS (SELECT 1 FROM outbox_parts p
                               WHERE p.message_id = o.id AND p.state = 'sending')",
            )?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_>>()?
        };
        for id in &ids {
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'unknown' WHERE message_id = ?1 AND state = 'sending'",
                [id],
            )?;
            exec(
                &tx,
                "UPDATE outbox SET state = 'unknown', last_error = 'smsqd stopped while a part was with the modem; not resent automatically', updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            event(
                &tx,
                now,
                "outcome_unknown",
                Some(*id),
                None,
                "stopped mid-send",
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Queues a message; with an idempotency key already used, returns the existing id and
    /// `false`.
    pub fn enqueue(&mut self, m: &NewMessage, now: i64) -> Result<(i64, bool)> {
        Ok(self.enqueue_many(std::slice::from_ref(m), now)?[0])
    }

    /// Queues several messages in one transaction (a batched `send`): all or none.
    pub fn enqueue_many(&mut self, messages: &[NewMessage], now: i64) -> Result<Vec<(i64, bool)>> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(Self::enqueue_in(&tx, m, now)?);
        }
        tx.commit()?;
        Ok(out)
    }

    fn enqueue_in(tx: &Transaction<'_>, m: &NewMessage, now: i64) -> Result<(i64, bool)> {
        if let Some(key) = &m.idempotency_key {
            let existing: Option<i64> = tx
                .prepare_cached("SELECT id FROM outbox WHERE idempotency_key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()?;
            if let Some(id) = existing {
                return Ok((id, false));
            }
        }
        tx.prepare_cached(
            "INSERT INTO outbox (recipient, body, encoding, alphabet, parts, concat_ref, status_report,
                priority, client_ref, idempotency_key, state, next_attempt_at, not_before, not_after,
                peer_uid, peer_pid, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'queued', ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
        )?
        .execute(params![
            m.recipient,
            m.body,
            m.encoding,
            m.alphabet,
            m.parts.len() as i64,
            i64::from(m.concat_ref),
            m.status_report,
            m.priority,
            m.client_ref,
            m.idempotency_key,
            m.not_before.unwrap_or(now).max(now),
            m.not_before,
            m.not_after,
            m.peer_uid,
            m.peer_pid,
            now
        ])?;
        let id = tx.last_insert_rowid();
        let mut part_insert = tx.prepare_cached(
            "INSERT INTO outbox_parts (message_id, part, tpdu_len, pdu, state) VALUES (?1, ?2, ?3, ?4, 'pending')",
        )?;
        for (i, (len, pdu)) in m.parts.iter().enumerate() {
            part_insert.execute(params![id, (i + 1) as i64, *len as i64, pdu])?;
        }
        event(
            tx,
            now,
            "queued",
            Some(id),
            None,
            &format!("{} part(s)", m.parts.len()),
        )?;
        Ok((id, true))
    }

    /// The most urgent message that may be worked on now: priority, then age.
    pub fn next_due(&mut self, now: i64) -> Result<Option<Due>> {
        match self.due_candidates(now, 1)?.first() {
            Some(&(id, ..)) => self.due(id),
            None => Ok(None),
        }
    }

    /// Due messages in dispatch order, with the modem that owns each (claimed it, or sent a
    /// part of it); `None` while it may go to any modem.
    pub fn due_candidates(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.id, o.recipient, o.modem
             FROM outbox o
             WHERE o.state IN ('queued', 'sending') AND o.next_attempt_at <= ?1
             ORDER BY o.priority DESC, o.created_at, o.id LIMIT ?2",
        )?;
        st.query_map(params![now, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect()
    }

    /// Takes message `id` for `modem` unless another modem has it. `true` if taken. The claim
    /// is exclusive from this commit on: `outbox.modem` names the owner, and only the owner
    /// claims it again. It is let go (back to NULL) when the message returns to the queue
    /// before any part went out (`release_if_unstarted`), and at start-up.
    pub fn claim(&mut self, id: i64, modem: &str, now: i64) -> Result<bool> {
        let n = exec(
            &self.conn,
            "UPDATE outbox SET modem = ?2, updated_at = ?3
             WHERE id = ?1 AND state IN ('queued', 'sending') AND next_attempt_at <= ?3
               AND (modem IS NULL OR modem = ?2)",
            params![id, modem, now],
        )?;
        Ok(n == 1)
    }

    /// The unsent parts of message `id`, for the modem that claimed it.
    pub fn due(&self, id: i64) -> Result<Option<Due>> {
        Self::due_in(&self.conn, id)
    }

    fn due_in(conn: &Connection, id: i64) -> Result<Option<Due>> {
        let head = row(
            conn,
            "SELECT recipient, attempts, not_after, modem, state FROM outbox WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
        let Some((recipient, attempts, not_after, modem, state)) = head else {
            return Ok(None);
        };
        let mut st = conn.prepare_cached(
            "SELECT part, tpdu_len, pdu FROM outbox_parts WHERE message_id = ?1 AND state = 'pending' ORDER BY part",
        )?;
        let parts = st
            .query_map([id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as usize, r.get(2)?))
            })?
            .collect::<Result<_>>()?;
        Ok(Some(Due {
            id,
            recipient,
            attempts,
            not_after,
            modem,
            state,
            parts,
        }))
    }

    /// Per modem: parts sent since `since` (for daily caps).
    pub fn modem_load(&self, since: i64) -> Result<std::collections::HashMap<String, i64>> {
        let mut st = self.conn.prepare_cached(
            // Today's parts through the time index: the modem index would read every part
            // ever sent.
            "SELECT modem, COUNT(*) FROM outbox_parts INDEXED BY parts_sent
             WHERE sent_at >= ?1 AND modem IS NOT NULL GROUP BY modem",
        )?;
        st.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// When the next queued message becomes due, if any.
    pub fn earliest_due(&self) -> Result<Option<i64>> {
        row(
            &self.conn,
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('queued', 'sending')",
            [],
            |r| r.get(0),
        )
    }

    /// Committed before the PDU goes to the modem (see the module docs).
    pub fn mark_sending(&mut self, id: i64, part: i64, modem: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        Self::sending_in(&tx, id, part, modem, now)?;
        tx.commit()
    }

    fn sending_in(tx: &Transaction<'_>, id: i64, part: i64, modem: &str, now: i64) -> Result<()> {
        exec(
            tx,
            "UPDATE outbox_parts SET state = 'sending', modem = ?3, handed_at = ?4 WHERE message_id = ?1 AND part = ?2",
            params![id, part, modem, now],
        )?;
        exec(
            tx,
            "UPDATE outbox SET state = 'sending', modem = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, modem, now],
        )?;
        Ok(())
    }

    /// The network accepted part `part` with reference `mr`. Returns the message's state.
    pub fn mark_sent(&mut self, id: i64, part: i64, mr: u8, now: i64) -> Result<String> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'sent', mr = ?3, sent_at = ?4 WHERE message_id = ?1 AND part = ?2",
            params![id, part, i64::from(mr), now],
        )?;
        let pending: i64 = row(
            &tx,
            "SELECT COUNT(*) FROM outbox_parts WHERE message_id = ?1 AND state IN ('pending', 'sending')",
            [id],
            |r| r.get(0),
        )?;
        let state = if pending == 0 { "sent" } else { "sending" };
        exec(
            &tx,
            "UPDATE outbox SET state = ?2, last_error = NULL, updated_at = ?3 WHERE id = ?1",
            params![id, state, now],
        )?;
        event(
            &tx,
            now,
            "part_sent",
            Some(id),
            None,
            &format!("part {part} mr {mr}"),
        )?;
        if state == "sent" {
            event(
                &tx,
                now,
                "sent",
                Some(id),
                None,
                "all parts accepted by the network",
            )?;
        }
        // The modem may hand over the status report before the daemon has recorded the
        // answer it came after (both reach this thread from different tasks): a report for
        // this reference and recipient, through the same modem, that arrived moments ago
        // and matched nothing is this part's.
        let early: Option<(i64, u8)> = row(
            &tx,
            "SELECT r.id, r.status FROM status_reports r INDEXED BY reports_unmatched,
                        outbox o, outbox_parts p
                 WHERE o.id = ?1 AND p.message_id = ?1 AND p.part = ?2
                   AND r.message_id IS NULL AND r.mr = ?3 AND r.recipient = o.recipient
                   AND r.modem = p.modem AND r.received_at >= ?4
                 ORDER BY r.received_at DESC LIMIT 1",
            params![id, part, i64::from(mr), now - EARLY_REPORT_MS],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
        let state = match early {
            Some((report_id, status)) => apply_report(&tx, report_id, id, part, mr, status, now)?,
            None => state.to_string(),
        };
        tx.commit()?;
        Ok(state)
    }

    /// A temporary failure: try again at `next_at`, one more attempt counted. Until a part
    /// went out, the next attempt may be through any modem.
    pub fn retry_later(
        &mut self,
        id: i64,
        part: i64,
        error: &str,
        next_at: i64,
        now: i64,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'pending' WHERE message_id = ?1 AND part = ?2",
            params![id, part],
        )?;
        exec(
            &tx,
            "UPDATE outbox SET state = 'queued', attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, error, next_at, now],
        )?;
        release_if_unstarted(&tx, id)?;
        event(&tx, now, "retry", Some(id), None, error)?;
        tx.commit()
    }

    /// The modem went away or was not ready: back to the queue, no attempt counted.
    pub fn requeue(&mut self, id: i64, part: i64, why: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'pending', modem = NULL WHERE message_id = ?1 AND part = ?2 AND state = 'sending'",
            params![id, part],
        )?;
        exec(
            &tx,
            "UPDATE outbox SET state = 'queued', last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, why, now],
        )?;
        release_if_unstarted(&tx, id)?;
        event(&tx, now, "requeued", Some(id), None, why)?;
        tx.commit()
    }

    /// A permanent failure, or a message that cannot be sent at all.
    pub fn fail(&mut self, id: i64, reason: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'failed' WHERE message_id = ?1 AND state IN ('pending', 'sending')",
            [id],
        )?;
        exec(
            &tx,
            "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, reason, now],
        )?;
        event(&tx, now, "failed", Some(id), None, reason)?;
        tx.commit()
    }

    /// The part went to the modem but its fate is unknown (see the module docs).
    pub fn mark_unknown(&mut self, id: i64, part: i64, why: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'unknown' WHERE message_id = ?1 AND part = ?2",
            params![id, part],
        )?;
        exec(
            &tx,
            "UPDATE outbox SET state = 'unknown', last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, why, now],
        )?;
        event(&tx, now, "outcome_unknown", Some(id), None, why)?;
        tx.commit()
    }

    /// Cancels a message nothing of which has reached the modem. `false` if too late.
    pub fn cancel(&mut self, id: i64, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let started: i64 = row(
            &tx,
            "SELECT COUNT(*) FROM outbox_parts WHERE message_id = ?1 AND state != 'pending'",
            [id],
            |r| r.get(0),
        )?;
        let n = if started == 0 {
            exec(
                &tx,
                "UPDATE outbox SET state = 'cancelled', updated_at = ?2 WHERE id = ?1 AND state = 'queued'",
                params![id, now],
            )?
        } else {
            0
        };
        if n == 1 {
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'cancelled' WHERE message_id = ?1",
                [id],
            )?;
            event(
                &tx,
                now,
                "cancelled",
                Some(id),
                None,
                "cancelled by request",
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Puts a failed or unknown message back in the queue on purpose: unsent parts and
    /// unknown parts go again; parts already accepted do not.
    pub fn retry_now(&mut self, id: i64, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let n = exec(
            &tx,
            // A message whose text retention erased has nothing left to send.
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, updated_at = ?2
             WHERE id = ?1 AND state IN ('failed', 'unknown', 'expired') AND body != ''",
            params![id, now],
        )?;
        if n == 1 {
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'pending' WHERE message_id = ?1 AND state IN ('failed', 'unknown', 'pending')",
                [id],
            )?;
            event(
                &tx,
                now,
                "retry_requested",
                Some(id),
                None,
                "queued again by request",
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Marks queued messages whose `not_after` passed as expired; returns their ids.
    pub fn expire(&mut self, now: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare_cached(
                // The first term picks the queue's own index (outbox_queue): the queue, not
                // the history, is read.
                "SELECT id FROM outbox WHERE state IN ('queued', 'sending') AND state = 'queued'
                   AND not_after IS NOT NULL AND not_after < ?1",
            )?;
            st.query_map([now], |r| r.get(0))?.collect::<Result<_>>()?
        };
        for &id in &ids {
            expire_one(&tx, id, now)?;
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Takes message `id` for `modem` and commits its first unsent part `sending`, in one
    /// transaction, unless another modem has it (see [`Db::claim`]) or its `not_after` time
    /// passed (then it expires here, just before the modem would have had it).
    pub fn start(&mut self, id: i64, modem: &str, now: i64) -> Result<Start> {
        let tx = self.conn.transaction()?;
        let claimed = exec(
            &tx,
            "UPDATE outbox SET modem = ?2, updated_at = ?3
             WHERE id = ?1 AND state IN ('queued', 'sending') AND next_attempt_at <= ?3
               AND (modem IS NULL OR modem = ?2)",
            params![id, modem, now],
        )? == 1;
        if !claimed {
            return Ok(Start::Taken);
        }
        let Some(due) = Self::due_in(&tx, id)? else {
            return Ok(Start::Taken);
        };
        let outcome = if due.not_after.is_some_and(|t| t <= now) && due.state == "queued" {
            expire_one(&tx, id, now)?;
            Start::Expired
        } else if let Some(&(part, ..)) = due.parts.first() {
            Self::sending_in(&tx, id, part, modem, now)?;
            Start::Sending(due)
        } else {
            Start::NothingLeft
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Matches a status report to the most recent part sent to `recipient` with reference
    /// `mr` within `window_ms` (references wrap at 255, so older parts are not candidates).
    pub fn record_status_report(
        &mut self,
        r: &ReportIn,
        window_ms: i64,
        now: i64,
    ) -> Result<Option<ReportOutcome>> {
        let (modem, mr, recipient, status, pdu) = (
            r.modem.as_str(),
            r.mr,
            r.recipient.as_str(),
            r.status,
            r.pdu.as_str(),
        );
        let tx = self.conn.transaction()?;
        let inserted = exec(
            &tx,
            "INSERT OR IGNORE INTO status_reports (modem, mr, recipient, status, pdu, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![modem, i64::from(mr), recipient, i64::from(status), pdu, now],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let report_id = tx.last_insert_rowid();
        let by_reference: Option<(i64, i64, i64)> = row(&tx,
                "SELECT p.message_id, p.part, p.sent_at FROM outbox_parts p JOIN outbox o ON o.id = p.message_id
                 WHERE p.mr = ?1 AND o.recipient = ?2 AND p.sent_at >= ?3 AND p.state IN ('sent', 'unknown', 'delivered', 'failed')
                 ORDER BY p.sent_at DESC LIMIT 1",
                params![i64::from(mr), recipient, now - window_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        // References wrap after 256 sends through a modem: a part whose answer was lost
        // after the one that last had this reference may be the report's, if the modem
        // would have given it this reference.
        let since = by_reference.map_or(now - window_ms, |(_, _, sent_at)| sent_at + 1);
        let lost = match_unknown_part(
            &tx,
            modem,
            mr,
            recipient,
            since,
            now,
            by_reference.is_some(),
        )?;
        let found = lost.or(by_reference.map(|(message_id, part, _)| (message_id, part)));
        let Some((message_id, part)) = found else {
            event(
                &tx,
                now,
                "report_unmatched",
                None,
                None,
                &format!("mr {mr} status 0x{status:02X}"),
            )?;
            tx.commit()?;
            return Ok(None);
        };
        let message_state = apply_report(&tx, report_id, message_id, part, mr, status, now)?;
        tx.commit()?;
        Ok(Some(ReportOutcome {
            message_id,
            part,
            message_state,
        }))
    }

    /// Stores a received part; completes the message when its last part arrives.
    pub fn store_inbound(&mut self, p: &InboundPart, now: i64) -> Result<Inbound> {
        let tx = self.conn.transaction()?;
        let (reference, bits, total, part) = match p.concat {
            Some((r, b, t, n)) => (
                Some(i64::from(r)),
                Some(i64::from(b)),
                i64::from(t),
                i64::from(n),
            ),
            None => (None, None, 1, 1),
        };
        let inserted = exec(&tx,
            "INSERT OR IGNORE INTO inbox_parts (modem, pdu, sender, concat_ref, concat_bits, total, part, body, data_hex, sent_at, received_at, split_low, split_high)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![p.modem, p.pdu, p.sender, reference, bits, total, part, p.body, p.data_hex, p.sent_at, now, p.split.leading_low, p.split.trailing_high],
        )?;
        if inserted == 0 {
            return Ok(Inbound::Duplicate);
        }
        // The group's parts not yet in a message; a part number seen twice (the same part
        // kept by two modems) counts once.
        let only = reference.is_none().then(|| tx.last_insert_rowid());
        let rows = group_parts(&tx, &p.sender, reference, bits, total, only)?;
        let mut distinct: Vec<i64> = rows.iter().map(|r| r.part).collect();
        distinct.dedup();
        if distinct.len() as i64 != total {
            event(
                &tx,
                now,
                "part_received",
                None,
                None,
                &format!("part {part} of {total}"),
            )?;
            tx.commit()?;
            return Ok(Inbound::Stored(None));
        }
        let id = Self::create_inbox(&tx, &p.sender, &p.modem, &rows, total, true, now)?;
        tx.commit()?;
        Ok(Inbound::Stored(Some(id)))
    }

    fn create_inbox(
        tx: &Transaction<'_>,
        sender: &str,
        modem: &str,
        rows: &[GroupPart],
        parts: i64,
        complete: bool,
        now: i64,
    ) -> Result<i64> {
        let mut texts = Vec::new();
        let mut data: Option<String> = None;
        let mut last_part = 0;
        for row in rows {
            if row.part == last_part {
                continue;
            }
            last_part = row.part;
            if let Some(b) = &row.body {
                texts.push((b.as_str(), row.split));
            }
            if let Some(d) = &row.data_hex {
                data.get_or_insert_with(String::new).push_str(d);
            }
        }
        let body = (!texts.is_empty()).then(|| join_text_parts(texts));
        let sent_at = rows.first().and_then(|r| r.sent_at.clone());
        exec(
            tx,
            "INSERT INTO inbox (sender, body, data_hex, parts, complete, modem, sent_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![sender, body, data, parts, complete, modem, sent_at, now],
        )?;
        let id = tx.last_insert_rowid();
        for row in rows {
            exec(
                tx,
                "UPDATE inbox_parts SET message_id = ?2 WHERE id = ?1",
                params![row.id, id],
            )?;
        }
        let kind = if complete {
            "received"
        } else {
            "received_incomplete"
        };
        event(tx, now, kind, None, Some(id), &format!("{parts} part(s)"))?;
        Ok(id)
    }

    /// Turns part groups whose first part is older than `max_age_ms` into incomplete inbox
    /// messages (clearly flagged), so nothing waits forever. Returns their ids.
    pub fn expire_incomplete(&mut self, now: i64, max_age_ms: i64) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        type GroupKey = (String, String, Option<i64>, Option<i64>, i64);
        let groups: Vec<GroupKey> = {
            let mut st = tx.prepare_cached(
                "SELECT sender, modem, concat_ref, concat_bits, total FROM inbox_parts WHERE message_id IS NULL
                 GROUP BY sender, concat_ref, concat_bits, total HAVING MIN(received_at) <= ?1",
            )?;
            st.query_map([now - max_age_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_>>()?
        };
        let mut ids = Vec::new();
        for (sender, modem, reference, bits, total) in groups {
            let rows = group_parts(&tx, &sender, reference, bits, total, None)?;
            ids.push(Self::create_inbox(
                &tx, &sender, &modem, &rows, total, false, now,
            )?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Records something that is not about one message (a modem's state changing).
    pub fn note(&mut self, kind: &str, detail: &str, now: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        event(&tx, now, kind, None, None, detail)?;
        tx.commit()
    }

    /// Keeps an undecodable PDU with its error; `false` if it was already quarantined.
    pub fn quarantine(&mut self, modem: &str, pdu: &str, error: &str, now: i64) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let n = exec(
            &tx,
            "INSERT OR IGNORE INTO quarantine (modem, pdu, error, received_at) VALUES (?1, ?2, ?3, ?4)",
            params![modem, pdu, error, now],
        )?;
        if n == 1 {
            event(&tx, now, "quarantined", None, None, error)?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    pub fn message(&self, id: i64) -> Result<Option<MessageDetail>> {
        let Some(m) = self.messages("WHERE id = ?1", params![id])?.pop() else {
            return Ok(None);
        };
        let mut st = self.conn.prepare_cached(
            "SELECT part, state, mr, modem, sent_at, report_status FROM outbox_parts WHERE message_id = ?1 ORDER BY part",
        )?;
        let parts = st
            .query_map([id], |r| {
                Ok(PartRow {
                    part: r.get(0)?,
                    state: r.get(1)?,
                    mr: r.get(2)?,
                    modem: r.get(3)?,
                    sent_at: r.get(4)?,
                    report_status: r.get(5)?,
                })
            })?
            .collect::<Result<_>>()?;
        let history = self.events("WHERE e.message_id = ?1 ORDER BY e.id", params![id])?;
        Ok(Some(MessageDetail {
            message: m,
            parts,
            history,
        }))
    }

    fn messages(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT id, recipient, body, alphabet, parts, state, attempts, priority, client_ref, last_error, modem, created_at, updated_at, next_attempt_at FROM outbox {filter}"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_map(args, |r| {
            Ok(MessageRow {
                id: r.get(0)?,
                recipient: r.get(1)?,
                body: r.get(2)?,
                alphabet: r.get(3)?,
                parts: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                priority: r.get(7)?,
                client_ref: r.get(8)?,
                last_error: r.get(9)?,
                modem: r.get(10)?,
                created_at: r.get(11)?,
                updated_at: r.get(12)?,
                next_attempt_at: r.get(13)?,
            })
        })?
        .collect()
    }

    /// Outgoing messages, newest first, optionally of some states, before an id (paging).
    pub fn list_outbox(
        &self,
        states: &[MessageState],
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MessageRow>> {
        // The names are the state machine's own constants, never a client's text.
        let states_sql = if states.is_empty() {
            String::from("1")
        } else {
            let quoted: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            format!("state IN ({})", quoted.join(","))
        };
        self.messages(
            &format!("WHERE {states_sql} AND id < ?1 ORDER BY id DESC LIMIT ?2"),
            params![before.unwrap_or(i64::MAX), limit],
        )
    }

    pub fn list_inbox(&self, before: Option<i64>, limit: i64) -> Result<Vec<InboxRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, sender, body, data_hex, parts, complete, modem, sent_at, received_at FROM inbox WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        st.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
            Ok(InboxRow {
                id: r.get(0)?,
                sender: r.get(1)?,
                body: r.get(2)?,
                data_hex: r.get(3)?,
                parts: r.get(4)?,
                complete: r.get(5)?,
                modem: r.get(6)?,
                sent_at: r.get(7)?,
                received_at: r.get(8)?,
            })
        })?
        .collect()
    }

    pub fn inbox_message(&self, id: i64) -> Result<Option<InboxRow>> {
        Ok(self
            .list_inbox(Some(id + 1), 1)?
            .into_iter()
            .find(|r| r.id == id))
    }

    fn events(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT e.id, e.at, e.kind, e.message_id, e.inbox_id, e.detail, i.sender, i.body, i.complete
             FROM events e LEFT JOIN inbox i ON i.id = e.inbox_id {filter}"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        st.query_map(args, |r| {
            let from: Option<String> = r.get(6)?;
            Ok(EventRow {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                message_id: r.get(3)?,
                inbox_id: r.get(4)?,
                detail: r.get(5)?,
                received: match from {
                    Some(from) => Some(ReceivedSummary {
                        from,
                        text: r.get(7)?,
                        complete: r.get(8)?,
                    }),
                    None => None,
                },
            })
        })?
        .collect()
    }

    /// History after event `since`, oldest first: what a subscriber resuming missed.
    pub fn events_since(&self, since: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.events(
            "WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
            params![since, limit],
        )
    }

    /// The events committed since the last call, oldest first, for the store's thread to
    /// hand to subscribers right after each change: in commit order, each once. Cheap when
    /// nothing changed (no statement runs).
    pub fn take_new_events(&mut self) -> Result<Vec<EventRow>> {
        let changes = self.conn.total_changes();
        if changes == self.changes_seen {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        loop {
            let batch = self.events_since(self.published, 1000)?;
            let Some(last) = batch.last() else { break };
            self.published = last.id;
            let full = batch.len() == 1000;
            out.extend(batch);
            if !full {
                break;
            }
        }
        self.changes_seen = changes;
        Ok(out)
    }

    pub fn last_event_id(&self) -> Result<i64> {
        row(
            &self.conn,
            "SELECT COALESCE(MAX(id), 0) FROM events",
            [],
            |r| r.get(0),
        )
    }

    /// Queued (not yet finished) messages, and parts sent since `since` through `modem`.
    pub fn counts(&self, modem: &str, since: i64) -> Result<(i64, i64)> {
        let queued = row(
            &self.conn,
            "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')",
            [],
            |r| r.get(0),
        )?;
        let sent = row(
            &self.conn,
            "SELECT COUNT(*) FROM outbox_parts WHERE modem = ?1 AND sent_at >= ?2",
            params![modem, since],
            |r| r.get(0),
        )?;
        Ok((queued, sent))
    }

    /// The next free concatenation reference (8-bit), from the store so that it survives
    /// restarts and differs between consecutive messages to the same recipient.
    pub fn next_concat_ref(&self) -> Result<u8> {
        let last: i64 = row(
            &self.conn,
            "SELECT COALESCE(MAX(id), 0) FROM outbox",
            [],
            |r| r.get(0),
        )?;
        Ok(((last + 1) % 256) as u8)
    }
}
