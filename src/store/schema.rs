//! The schema and its migrations, one version at a time (`PRAGMA user_version`).

use rusqlite::OptionalExtension;

use super::db::*;

/// Current schema version (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 7;

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

/// Version 4: customer care. Every outgoing message has a class (transactional, reply,
/// marketing, survey, system) and an optional topic; two states join the machine: `held`
/// (waiting for the recipient's quiet hours to end) and `refused` (the gate said no: never
/// sent). The outbox is rebuilt for its new CHECK constraints, as in version 3. New tables:
/// contacts with their fields and tags, saved groups, the consent ledger (append-only: its
/// triggers refuse updates, and deletions except of a number erased at the customer's
/// request) and the suppression list of erased numbers. The promotional index serves the
/// per-customer caps; the system index finds the confirmation sent in the last day.
pub(crate) const SCHEMA_V4: &str = r#"
CREATE TABLE outbox_v4 (
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
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'held', 'sending', 'sent',
                                                      'delivered', 'failed', 'expired',
                                                      'cancelled', 'unknown', 'refused')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    not_before      INTEGER,
    not_after       INTEGER,
    last_error      TEXT,
    modem           TEXT,
    peer_uid        INTEGER,
    peer_pid        INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    class           TEXT    NOT NULL DEFAULT 'transactional'
                            CHECK (class IN ('transactional', 'reply', 'marketing', 'survey',
                                             'system')),
    topic           TEXT
);
INSERT INTO outbox_v4 (id, recipient, body, encoding, alphabet, parts, concat_ref,
    status_report, priority, client_ref, idempotency_key, state, attempts, next_attempt_at,
    not_before, not_after, last_error, modem, peer_uid, peer_pid, created_at, updated_at)
  SELECT id, recipient, body, encoding, alphabet, parts, concat_ref, status_report, priority,
    client_ref, idempotency_key, state, attempts, next_attempt_at, not_before, not_after,
    last_error, modem, peer_uid, peer_pid, created_at, updated_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
CREATE UNIQUE INDEX outbox_idempotency ON outbox (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_queue ON outbox (priority DESC, created_at, id)
    WHERE state IN ('queued', 'held', 'sending');
CREATE INDEX outbox_next ON outbox (next_attempt_at) WHERE state IN ('queued', 'held', 'sending');
CREATE INDEX outbox_finished ON outbox (updated_at)
    WHERE state NOT IN ('queued', 'held', 'sending');
CREATE INDEX outbox_bodies ON outbox (updated_at)
    WHERE body != '' AND state NOT IN ('queued', 'held', 'sending');
CREATE INDEX outbox_promotional ON outbox (recipient, created_at)
    WHERE class IN ('marketing', 'survey');
CREATE INDEX outbox_system ON outbox (recipient, topic, created_at) WHERE class = 'system';

CREATE TABLE contacts (
    number     TEXT PRIMARY KEY,
    name       TEXT,
    time_zone  TEXT,
    language   TEXT,
    notes      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE contact_fields (
    number TEXT NOT NULL REFERENCES contacts (number) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (number, name)
) WITHOUT ROWID;
CREATE TABLE contact_tags (
    number TEXT NOT NULL REFERENCES contacts (number) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (number, tag)
) WITHOUT ROWID;
CREATE INDEX contact_tags_tag ON contact_tags (tag, number);
CREATE TABLE contact_groups (
    name TEXT PRIMARY KEY,
    tags TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE consent_events (
    id         INTEGER PRIMARY KEY,
    number     TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action IN ('grant', 'revoke')),
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
    source     TEXT    NOT NULL CHECK (source IN ('keyword', 'in_store', 'web_form', 'import',
                                                  'operator', 'api')),
    evidence   TEXT,
    text_shown TEXT,
    actor      TEXT,
    at         INTEGER NOT NULL,
    double_opt_in_confirmed_at INTEGER
);
CREATE INDEX consent_current ON consent_events (number, topic, id);
CREATE TABLE suppressions (
    number TEXT PRIMARY KEY,
    reason TEXT    NOT NULL,
    at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER consent_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consent_kept BEFORE DELETE ON consent_events
    WHEN NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.number = OLD.number)
BEGIN
    SELECT RAISE(ABORT, 'consent history is deleted only when its number is erased');
END;
"#;

/// Version 5: the shop's workflows. Templates; surveys and who was asked; campaigns (a message knows its campaign and
/// template); conversations: each received message's best guess of the text it answers
/// (`in_reply_to`, with the rule that made the guess) and a thread per (modem, customer)
/// that is open until someone resolves it. The recipient and sender indexes serve the
/// guess, a thread's history and exports.
pub(crate) const SCHEMA_V5: &str = r#"
CREATE TABLE templates (
    name       TEXT PRIMARY KEY,
    body       TEXT    NOT NULL,
    class      TEXT    NOT NULL CHECK (class IN ('transactional', 'reply', 'marketing', 'survey')),
    topic      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    template   TEXT,
    body       TEXT    NOT NULL,
    class      TEXT    NOT NULL,
    topic      TEXT,
    audience   TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('active', 'done', 'cancelled')),
    created_at INTEGER NOT NULL,
    peer_uid   INTEGER,
    progress   TEXT
);
ALTER TABLE outbox ADD COLUMN template TEXT;
ALTER TABLE outbox ADD COLUMN campaign INTEGER REFERENCES campaigns (id);
CREATE INDEX outbox_campaign ON outbox (campaign) WHERE campaign IS NOT NULL;
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
ALTER TABLE inbox ADD COLUMN in_reply_to INTEGER;
ALTER TABLE inbox ADD COLUMN reply_guess TEXT;
CREATE INDEX inbox_sender ON inbox (sender, received_at);
CREATE INDEX inbox_replies ON inbox (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE TABLE surveys (
    name          TEXT PRIMARY KEY,
    question      TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('rating', 'yes_no', 'choice', 'free')),
    scale         INTEGER,
    choices       TEXT,
    expiry_ms     INTEGER NOT NULL,
    invalid_reply TEXT    NOT NULL,
    thanks        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE survey_sends (
    message_id      INTEGER PRIMARY KEY REFERENCES outbox (id),
    survey          TEXT    NOT NULL,
    number          TEXT    NOT NULL,
    expires_at      INTEGER NOT NULL,
    answer          TEXT,
    answered_at     INTEGER,
    inbox_id        INTEGER,
    invalid_replies INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX survey_open ON survey_sends (number, expires_at) WHERE answer IS NULL;
CREATE INDEX survey_results ON survey_sends (survey);
CREATE TABLE threads (
    modem      TEXT    NOT NULL,
    number     TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('open', 'resolved')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (modem, number)
) WITHOUT ROWID;
"#;

/// Version 6: what the HTTP interfaces promised to tell other programs (see
/// `store::callbacks`): per message the outcomes a client asked to hear about, the webhooks
/// clients registered, the calls still to make, and how far each planner has read; and the
/// one modem a message must go through when its client named one (`via`); the web page's
/// users, sessions and one-time setup token.
pub(crate) const SCHEMA_V6: &str = r#"
ALTER TABLE outbox ADD COLUMN via TEXT;
CREATE TABLE delivery_watches (
    message_id INTEGER PRIMARY KEY REFERENCES outbox (id),
    interface  TEXT    NOT NULL,
    mask       INTEGER NOT NULL,
    target     TEXT    NOT NULL,
    account    TEXT,
    meta       TEXT,
    told       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX delivery_watches_target ON delivery_watches (interface, target);
CREATE TABLE callbacks (
    id           INTEGER PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    purpose      TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    message_id   INTEGER,
    inbox_id     INTEGER,
    method       TEXT    NOT NULL CHECK (method IN ('GET', 'POST')),
    url          TEXT    NOT NULL,
    body         TEXT,
    content_type TEXT,
    sign         INTEGER NOT NULL,
    reply        INTEGER NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'given_up')),
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    next_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    done_at      INTEGER,
    last_error   TEXT
);
CREATE INDEX callbacks_due ON callbacks (next_at) WHERE state = 'pending';
CREATE INDEX callbacks_queue ON callbacks (queue, id) WHERE state = 'pending';
CREATE INDEX callbacks_done ON callbacks (done_at) WHERE state != 'pending';
CREATE TABLE cursors (
    name     TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    url        TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE web_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'staff', 'viewer')),
    created_at    INTEGER NOT NULL
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user       TEXT    NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE web_setup (
    token_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Version 7: the hosts that share the database and the modems each owns, with its lease
/// (see `store::hosts`). On SQLite there is one host; the same records say what it was
/// doing when it stopped.
pub(crate) const SCHEMA_V7: &str = r#"
CREATE TABLE hosts (
    name         TEXT PRIMARY KEY,
    version      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL,
    stopped_at   INTEGER,
    reaped_at    INTEGER
) WITHOUT ROWID;
CREATE TABLE host_modems (
    modem      TEXT PRIMARY KEY,
    host       TEXT    NOT NULL REFERENCES hosts (name),
    healthy    INTEGER NOT NULL,
    prefixes   TEXT    NOT NULL,
    daily_cap  INTEGER,
    hourly_cap INTEGER,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX host_modems_host ON host_modems (host);
"#;

/// Brings a SQLite database to [`SCHEMA_VERSION`] in one transaction.
pub(super) fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let tx = conn.transaction()?;
        if version < 1 {
            tx.execute_batch(SCHEMA_V1)?;
        }
        if version < 2 {
            tx.execute_batch(SCHEMA_V2)?;
        }
        if version < 3 {
            tx.execute_batch(SCHEMA_V3)?;
        }
        if version < 4 {
            tx.execute_batch(SCHEMA_V4)?;
        }
        if version < 5 {
            tx.execute_batch(SCHEMA_V5)?;
        }
        if version < 6 {
            tx.execute_batch(SCHEMA_V6)?;
        }
        if version < 7 {
            tx.execute_batch(SCHEMA_V7)?;
        }
        // The rebuilt tables run with foreign keys off: check them before committing.
        let broken: Option<String> = tx
            .prepare("PRAGMA foreign_key_check")?
            .query_row([], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(StoreError::Migration(format!(
                "rows in {table} would be left without their parent"
            )));
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(tx.commit()?)
    }
}
