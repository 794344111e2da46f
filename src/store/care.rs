//! What customer care keeps: contacts (fields, tags, saved groups), the consent ledger
//! (append-only; the current state is its latest entry), the suppression list of erased
//! numbers, and the facts the send gate reads about a recipient inside the transaction that
//! queues or starts a message.

use std::collections::BTreeMap;

use super::sql::{Connection, OptionalExtension, params};

use super::db::*;
use super::events::*;

/// What kind of text a message is; it decides which customer-care rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Something the customer is waiting for: an order ready, an appointment.
    Transactional,
    /// A person answering a customer.
    Reply,
    /// A promotion: needs consent, waits for decent hours, counts toward the caps.
    Marketing,
    /// A survey: treated like marketing.
    Survey,
    /// smsq's own confirmations (of STOP, START, HELP). Clients cannot send this class.
    System,
}

impl Class {
    pub const ALL: [Self; 5] = [
        Self::Transactional,
        Self::Reply,
        Self::Marketing,
        Self::Survey,
        Self::System,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transactional => "transactional",
            Self::Reply => "reply",
            Self::Marketing => "marketing",
            Self::Survey => "survey",
            Self::System => "system",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Marketing and surveys: consent, quiet hours, caps, the shop's name and the opt-out
    /// footer.
    pub const fn is_promotional(self) -> bool {
        matches!(self, Self::Marketing | Self::Survey)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

named_column!(Class, "message class");

/// Where a consent entry came from (CC-1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// The customer texted a keyword (STOP, START, YES).
    Keyword,
    /// Given at the counter.
    InStore,
    WebForm,
    Import,
    /// Recorded by someone at the shop (`smsq consent grant`).
    Operator,
    /// Recorded by a program on the socket.
    Api,
}

impl ConsentSource {
    pub const ALL: [Self; 6] = [
        Self::Keyword,
        Self::InStore,
        Self::WebForm,
        Self::Import,
        Self::Operator,
        Self::Api,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Keyword => "keyword",
            Self::InStore => "in_store",
            Self::WebForm => "web_form",
            Self::Import => "import",
            Self::Operator => "operator",
            Self::Api => "api",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// The latest entry that decides a consent question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    Granted,
    /// Granted, waiting for the customer's confirmation (double opt-in).
    Pending,
    Revoked,
}

impl ConsentState {
    /// The event a change to this state is recorded as.
    pub const fn event_name(self) -> &'static str {
        match self {
            Self::Granted => "opted_in",
            Self::Pending => "consent_pending",
            Self::Revoked => "opted_out",
        }
    }
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEntry {
    pub id: i64,
    pub number: String,
    /// `""`: every topic (STOP and START, or a general grant of marketing).
    pub topic: String,
    pub state: ConsentState,
    pub source: String,
    /// What proves it: the received message, the form, the imported file's hash.
    pub evidence: Option<String>,
    /// The exact words the customer saw when agreeing or being confirmed.
    pub text_shown: Option<String>,
    /// Who recorded it: `customer`, a user name, a program.
    pub actor: Option<String>,
    pub at: i64,
    pub double_opt_in_confirmed_at: Option<i64>,
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsent {
    pub number: String,
    pub topic: String,
    pub state: ConsentState,
    pub source: ConsentSource,
    pub evidence: Option<String>,
    pub text_shown: Option<String>,
    pub actor: Option<String>,
    pub double_opt_in_confirmed_at: Option<i64>,
}

/// What the gate reads about a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFacts {
    pub recipient: String,
    pub class: Class,
    pub topic: Option<String>,
    /// Erased at the customer's request.
    pub suppressed: bool,
    /// The latest entry for every topic (`""`).
    pub everything: Option<ConsentState>,
    /// The latest entry for the message's topic or for every topic, whichever is later
    /// (promotional classes only; `None` otherwise).
    pub topic_state: Option<ConsentState>,
    /// Marketing and survey texts to the number queued, held or sent in the last 24 hours
    /// and 30 days (this message not counted; promotional classes only).
    pub promotional_last_day: i64,
    pub promotional_last_30_days: i64,
    pub contact_zone: Option<String>,
}

/// The gate's answer, as the store applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send,
    /// Kept `held` until this time (Unix ms).
    Hold {
        until: i64,
    },
    /// Never sent: `code` is the gate's stable code.
    Refuse {
        code: &'static str,
        reason: String,
    },
}

/// A contact as the shop keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// E.164, the key.
    pub number: String,
    pub name: Option<String>,
    /// IANA name (`Europe/Warsaw`).
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub notes: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One row of a contacts import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// E.164.
    pub number: String,
    pub change: ContactChange,
    /// The consent entry the row brings, if it has one.
    pub consent: Option<NewConsent>,
}

/// What an import did (or would do) with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Added,
    Updated,
    /// The number was erased at the customer's request: skipped, never added again.
    Suppressed,
}

/// A change to a contact: `None` leaves a value as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactChange {
    pub name: Option<Option<String>>,
    pub time_zone: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    /// Fields to set (an empty value removes the field).
    pub fields: BTreeMap<String, String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

const MS_PER_DAY: i64 = 86_400_000;

/// What the gate reads about every recipient, in one statement run for every message.
const RECIPIENT_FACTS: &str = "SELECT (SELECT 1 FROM suppressions WHERE number = ?1),
            (SELECT action || pending FROM consent_events WHERE number = ?1 AND topic = ''
             ORDER BY id DESC LIMIT 1),
            (SELECT time_zone FROM contacts WHERE number = ?1)";

/// `grant0`, `grant1` (pending), `revoke0`: an entry's action and pending flag together.
fn latest_state(latest: &str) -> ConsentState {
    state_of(latest.trim_end_matches(['0', '1']), latest.ends_with('1'))
}

fn state_of(action: &str, pending: bool) -> ConsentState {
    match (action, pending) {
        ("revoke", _) => ConsentState::Revoked,
        (_, true) => ConsentState::Pending,
        _ => ConsentState::Granted,
    }
}

/// The facts the gate needs about `recipient`, read inside the caller's transaction.
/// `exclude` is the message being decided (not counted toward the caps).
pub(super) fn send_facts(
    tx: &Connection,
    recipient: &str,
    class: Class,
    topic: Option<&str>,
    now: i64,
    exclude: Option<i64>,
) -> Result<SendFacts> {
    let (suppressed, everything, contact_zone) =
        row(tx, RECIPIENT_FACTS, params![recipient], |r| {
            let latest: Option<String> = r.get(1)?;
            Ok((
                r.get::<_, Option<i64>>(0)?.is_some(),
                latest.as_deref().map(latest_state),
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
    let mut facts = SendFacts {
        recipient: recipient.to_string(),
        class,
        topic: topic.map(str::to_string),
        suppressed,
        everything,
        topic_state: None,
        promotional_last_day: 0,
        promotional_last_30_days: 0,
        contact_zone,
    };
    if !class.is_promotional() {
        return Ok(facts);
    }
    facts.topic_state = row(
        tx,
        "SELECT action, pending FROM consent_events
         WHERE number = ?1 AND topic IN ('', ?2) ORDER BY id DESC LIMIT 1",
        params![recipient, topic.unwrap_or("")],
        |r| Ok(state_of(&r.get::<_, String>(0)?, r.get(1)?)),
    )
    .optional()?;
    let (day, month) = row(
        tx,
        "SELECT COUNT(*) FILTER (WHERE created_at >= ?2), COUNT(*) FROM outbox
         WHERE recipient = ?1 AND class IN ('marketing', 'survey') AND created_at >= ?3
           AND state NOT IN ('refused', 'cancelled', 'expired', 'failed') AND id IS DISTINCT FROM ?4",
        params![recipient, now - MS_PER_DAY, now - 30 * MS_PER_DAY, exclude],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    facts.promotional_last_day = day;
    facts.promotional_last_30_days = month;
    Ok(facts)
}

/// Appends one entry to the ledger, with its event (`opted_out`, `opted_in`, `consent`).
pub(super) fn append_consent(tx: &Connection, c: &NewConsent, now: i64) -> Result<i64> {
    let (action, pending) = match c.state {
        ConsentState::Granted => ("grant", false),
        ConsentState::Pending => ("grant", true),
        ConsentState::Revoked => ("revoke", false),
    };
    let id: i64 = row(
        tx,
        "INSERT INTO consent_events (number, topic, action, pending, source, evidence,
             text_shown, actor, at, double_opt_in_confirmed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            c.number,
            c.topic,
            action,
            pending,
            c.source.as_str(),
            c.evidence,
            c.text_shown,
            c.actor,
            now,
            c.double_opt_in_confirmed_at
        ],
        |r| r.get(0),
    )?;
    let topic = if c.topic.is_empty() {
        "all texts".to_string()
    } else {
        format!("topic {}", c.topic)
    };
    let what = match c.state {
        ConsentState::Revoked => "opted out of",
        ConsentState::Granted => "agreed to",
        ConsentState::Pending => "signed up (awaiting confirmation) for",
    };
    let kind = c.state.event_name();
    event(
        tx,
        now,
        kind,
        None,
        None,
        &format!("{} {what} {topic} ({})", c.number, c.source.as_str()),
    )?;
    Ok(id)
}

/// Ledger entries matching `filter` (a WHERE clause of the caller's own, values bound).
pub(super) fn consent_rows(
    conn: &Connection,
    filter: &str,
    args: super::sql::Params<'_>,
) -> Result<Vec<ConsentEntry>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, number, topic, action, pending, source, evidence, text_shown, actor, at,
                double_opt_in_confirmed_at
         FROM consent_events {filter}"
    ))?;
    st.query_map(args, |r| {
        Ok(ConsentEntry {
            id: r.get(0)?,
            number: r.get(1)?,
            topic: r.get(2)?,
            state: state_of(&r.get::<_, String>(3)?, r.get(4)?),
            source: r.get(5)?,
            evidence: r.get(6)?,
            text_shown: r.get(7)?,
            actor: r.get(8)?,
            at: r.get(9)?,
            double_opt_in_confirmed_at: r.get(10)?,
        })
    })?
    .collect::<SqlResult<_>>()
    .map_err(StoreError::from)
}

impl Db {
    /// Appends consent entries in one transaction.
    pub fn record_consent(&mut self, entries: &[NewConsent], now: i64) -> Result<Vec<i64>> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            ids.push(append_consent(&tx, e, now)?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The ledger of one number, oldest first.
    pub fn consent_history(&self, number: &str) -> Result<Vec<ConsentEntry>> {
        consent_rows(&self.conn, "WHERE number = ?1 ORDER BY id", params![number])
    }

    /// Topics with a grant waiting for the customer's confirmation.
    pub(super) fn pending_topics(tx: &Connection, number: &str) -> Result<Vec<String>> {
        let mut st = tx.prepare_cached(
            "SELECT topic FROM consent_events c WHERE number = ?1 AND pending = 1
               AND id = (SELECT MAX(id) FROM consent_events WHERE number = ?1 AND topic = c.topic)",
        )?;
        st.query_map(params![number], |r| r.get(0))?
            .collect::<SqlResult<_>>()
            .map_err(StoreError::from)
    }

    /// The facts the gate would read about `recipient` now (for previews and tests).
    pub fn facts(
        &self,
        recipient: &str,
        class: Class,
        topic: Option<&str>,
        now: i64,
    ) -> Result<SendFacts> {
        send_facts(&self.conn, recipient, class, topic, now, None)
    }

    /// Whether the number was erased and is kept only to be suppressed.
    pub fn is_suppressed(&self, number: &str) -> Result<bool> {
        suppressed(&self.conn, number)
    }

    /// Adds a contact (`must_be_new`) or changes an existing one; `None` when it exists
    /// (adding) or does not (changing).
    pub fn save_contact(
        &mut self,
        number: &str,
        change: &ContactChange,
        must_be_new: bool,
        now: i64,
    ) -> Result<Option<Contact>> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let exists = contact_exists(&tx, number)?;
        if exists == must_be_new {
            return Ok(None);
        }
        save_contact_in(&tx, number, change, exists, now)?;
        let contact = contact_in(&tx, number)?;
        tx.commit()?;
        Ok(contact)
    }

    /// Imports contacts (a CSV file's rows) in one transaction: each row added or updated,
    /// a number erased on request skipped, and a consent entry appended where the row gives
    /// one. With `dry_run`, says what would happen and changes nothing.
    pub fn import_contacts(
        &mut self,
        rows: &[ImportRow],
        dry_run: bool,
        now: i64,
    ) -> Result<Vec<ImportOutcome>> {
        if !dry_run {
            self.durable()?;
        }
        let tx = self.conn.savepoint()?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if suppressed(&tx, &r.number)? {
                out.push(ImportOutcome::Suppressed);
                continue;
            }
            let exists = contact_exists(&tx, &r.number)?;
            if !dry_run {
                save_contact_in(&tx, &r.number, &r.change, exists, now)?;
                if let Some(c) = &r.consent {
                    append_consent(&tx, c, now)?;
                }
            }
            out.push(if exists {
                ImportOutcome::Updated
            } else {
                ImportOutcome::Added
            });
        }
        if dry_run {
            // Nothing is kept: the savepoint rolls back when dropped.
            return Ok(out);
        }
        tx.commit()?;
        Ok(out)
    }

    pub fn contact(&self, number: &str) -> Result<Option<Contact>> {
        contact_in(&self.conn, number)
    }

    /// Contacts having every tag of `tags` (all contacts when empty), by number. Tags are
    /// words checked at the edge (letters, digits, `-`, `_`); each is bound as a parameter.
    pub fn contacts(&self, tags: &[String], limit: i64) -> Result<Vec<Contact>> {
        let placeholders = vec!["?"; tags.len()].join(", ");
        let sql = if tags.is_empty() {
            "SELECT number FROM contacts ORDER BY number LIMIT ?".to_string()
        } else {
            format!(
                "SELECT number FROM contact_tags WHERE tag IN ({placeholders})
                 GROUP BY number HAVING COUNT(DISTINCT tag) = {} ORDER BY number LIMIT ?",
                tags.len()
            )
        };
        let numbers: Vec<String> = {
            let mut values: Vec<&dyn super::sql::ToValue> =
                tags.iter().map(|t| t as &dyn super::sql::ToValue).collect();
            values.push(&limit);
            self.conn
                .prepare_cached(&sql)?
                .query_map(&values, |r| r.get(0))?
                .collect::<SqlResult<_>>()?
        };
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            if let Some(c) = contact_in(&self.conn, &n)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Deletes a contact (its fields and tags); its consent history and messages stay (the
    /// record of what was agreed and sent). `false` if there was none.
    pub fn remove_contact(&mut self, number: &str) -> Result<bool> {
        self.durable()?;
        Ok(exec(
            &self.conn,
            "DELETE FROM contacts WHERE number = ?1",
            params![number],
        )? == 1)
    }

    /// Saves a group: the contacts having every one of `tags` (words without spaces).
    pub fn save_group(&mut self, name: &str, tags: &[String]) -> Result<()> {
        self.durable()?;
        exec(
            &self.conn,
            "INSERT INTO contact_groups (name, tags) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET tags = excluded.tags",
            params![name, tags.join(" ")],
        )?;
        Ok(())
    }

    /// The tags of group `name`, if it exists.
    pub fn group(&self, name: &str) -> Result<Option<Vec<String>>> {
        let tags: Option<String> = row(
            &self.conn,
            "SELECT tags FROM contact_groups WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?;
        Ok(tags.map(|t| {
            t.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        }))
    }

    /// Erases what is kept about `number` (CC-1.10): the contact, the texts of every message
    /// both ways, the consent history; keeps one suppression row so that the number is never
    /// texted again by mistake (a later import or grant does not bring it back). Queued and
    /// held messages to it are refused. Returns how many rows changed.
    pub fn erase_subject(&mut self, number: &str, now: i64) -> Result<usize> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let mut changed = exec(
            &tx,
            "INSERT INTO suppressions (number, reason, at) VALUES (?1, 'erased at the customer''s request', ?2)
             ON CONFLICT (number) DO NOTHING",
            params![number, now],
        )?;
        let pending: Vec<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT id FROM outbox WHERE recipient = ?1 AND state IN ('queued', 'held')
                   AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = outbox.id
                                   AND p.state != 'pending')",
            )?;
            st.query_map(params![number], |r| r.get(0))?
                .collect::<SqlResult<_>>()?
        };
        for id in pending {
            super::outbox::refuse_in(&tx, id, "opted_out", "the number was erased", now)?;
        }
        changed += exec(
            &tx,
            "DELETE FROM contacts WHERE number = ?1",
            params![number],
        )?;
        changed += exec(
            &tx,
            "DELETE FROM consent_events WHERE number = ?1",
            params![number],
        )?;
        changed += exec(
            &tx,
            "UPDATE outbox_parts SET pdu = '' WHERE message_id IN
               (SELECT id FROM outbox WHERE recipient = ?1) AND pdu != ''",
            params![number],
        )?;
        // Calls to other programs carry the number and the text in their URLs and bodies.
        changed += exec(
            &tx,
            "DELETE FROM callbacks WHERE message_id IN (SELECT id FROM outbox WHERE recipient = ?1)
                OR inbox_id IN (SELECT id FROM inbox WHERE sender = ?1)",
            params![number],
        )?;
        changed += exec(
            &tx,
            "UPDATE outbox SET body = '', client_ref = NULL WHERE recipient = ?1",
            params![number],
        )?;
        changed += exec(
            &tx,
            "UPDATE inbox SET body = NULL, data_hex = NULL WHERE sender = ?1",
            params![number],
        )?;
        changed += exec(
            &tx,
            "UPDATE inbox_parts SET body = NULL, data_hex = NULL, pdu = 'erased ' || id
             WHERE sender = ?1 AND pdu NOT LIKE 'erased %'",
            params![number],
        )?;
        changed += exec(
            &tx,
            "UPDATE events SET detail = 'erased' WHERE kind IN ('opted_out', 'opted_in',
                 'consent_pending', 'refused', 'flagged') AND replace(detail, ?1, '') <> detail",
            params![number],
        )?;
        event(
            &tx,
            now,
            "erased",
            None,
            None,
            "a customer's data was erased on request",
        )?;
        tx.commit()?;
        Ok(changed)
    }
}

/// Whether `number` was erased at the customer's request.
fn suppressed(conn: &Connection, number: &str) -> Result<bool> {
    Ok(row(
        conn,
        "SELECT EXISTS (SELECT 1 FROM suppressions WHERE number = ?1)",
        params![number],
        |r| r.get(0),
    )?)
}

fn contact_exists(tx: &Connection, number: &str) -> Result<bool> {
    Ok(row(
        tx,
        "SELECT EXISTS (SELECT 1 FROM contacts WHERE number = ?1)",
        params![number],
        |r| r.get(0),
    )?)
}

/// Writes `change` to the contact `number` (created first unless it `exists`).
fn save_contact_in(
    tx: &Connection,
    number: &str,
    change: &ContactChange,
    exists: bool,
    now: i64,
) -> Result<()> {
    if !exists {
        exec(
            tx,
            "INSERT INTO contacts (number, created_at, updated_at) VALUES (?1, ?2, ?2)",
            params![number, now],
        )?;
    }
    for (column, value) in [
        ("name", &change.name),
        ("time_zone", &change.time_zone),
        ("language", &change.language),
        ("notes", &change.notes),
    ] {
        if let Some(value) = value {
            // The column names are this function's constants, never a client's text.
            exec(
                tx,
                &format!("UPDATE contacts SET {column} = ?2 WHERE number = ?1"),
                params![number, value],
            )?;
        }
    }
    for (name, value) in &change.fields {
        if value.is_empty() {
            exec(
                tx,
                "DELETE FROM contact_fields WHERE number = ?1 AND name = ?2",
                params![number, name],
            )?;
        } else {
            exec(
                tx,
                "INSERT INTO contact_fields (number, name, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (number, name) DO UPDATE SET value = excluded.value",
                params![number, name, value],
            )?;
        }
    }
    for tag in &change.add_tags {
        exec(
            tx,
            "INSERT INTO contact_tags (number, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![number, tag],
        )?;
    }
    for tag in &change.remove_tags {
        exec(
            tx,
            "DELETE FROM contact_tags WHERE number = ?1 AND tag = ?2",
            params![number, tag],
        )?;
    }
    exec(
        tx,
        "UPDATE contacts SET updated_at = ?2 WHERE number = ?1",
        params![number, now],
    )?;
    Ok(())
}

fn contact_in(conn: &Connection, number: &str) -> Result<Option<Contact>> {
    let head = row(
        conn,
        "SELECT name, time_zone, language, notes, created_at, updated_at FROM contacts WHERE number = ?1",
        params![number],
        |r| {
            Ok(Contact {
                number: number.to_string(),
                name: r.get(0)?,
                time_zone: r.get(1)?,
                language: r.get(2)?,
                notes: r.get(3)?,
                created_at: r.get(4)?,
                updated_at: r.get(5)?,
                ..Contact::default()
            })
        },
    )
    .optional()?;
    let Some(mut contact) = head else {
        return Ok(None);
    };
    let mut st = conn
        .prepare_cached("SELECT name, value FROM contact_fields WHERE number = ?1 ORDER BY name")?;
    contact.fields = st
        .query_map(params![number], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<SqlResult<_>>()?;
    let mut st =
        conn.prepare_cached("SELECT tag FROM contact_tags WHERE number = ?1 ORDER BY tag")?;
    contact.tags = st
        .query_map(params![number], |r| r.get(0))?
        .collect::<SqlResult<_>>()?;
    Ok(Some(contact))
}
