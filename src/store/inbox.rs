//! Received messages: each part kept once per (modem, PDU), reassembly of concatenated
//! messages in the database (so nothing waits in memory across a restart), incomplete ones
//! closed after a timeout, and undecodable PDUs quarantined with their hex.

use super::sql::{Connection, params};

use super::care::{
    Class, ConsentState, Decision, NewConsent, SendFacts, append_consent, send_facts,
};
use super::db::*;
use super::events::*;
use super::outbox::NewMessage;
use crate::pdu::{SplitSurrogates, join_text_parts};

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
    /// The outgoing message this probably answers: the latest to the sender within the
    /// reply window when it arrived (a guess, see `reply_guess`).
    pub in_reply_to: Option<i64>,
    /// The rule that made the guess, in words.
    pub reply_guess: Option<String>,
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

/// What the store knows when a received text is complete, for deciding what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundFacts {
    pub inbox_id: i64,
    pub sender: String,
    /// `None` for 8-bit data.
    pub text: Option<String>,
    /// The latest entry for every topic is a revocation (the sender said STOP).
    pub opted_out: bool,
    /// Topics with a grant waiting for this sender's confirmation (double opt-in).
    pub pending_topics: Vec<String>,
    /// The topics (kinds) of smsq's own texts to this sender in the last 24 hours
    /// (`stop_confirmation`, `start_confirmation`, `help`).
    pub recent_confirmations: Vec<String>,
    /// A concatenation reference for an answer.
    pub concat_ref: u8,
    /// Erased at the customer's request.
    pub suppressed: bool,
    /// Automatic replies sent to this sender in the last 24 hours: (rule, when).
    pub recent_auto_replies: Vec<(String, i64)>,
    /// The saved groups the sender's contact belongs to.
    pub groups: Vec<String>,
    /// A survey the sender was asked, not yet answered and still open.
    pub open_survey: Option<super::workflows::OpenSurvey>,
}

/// What a received text makes the store do, in the transaction that stores it: entries for
/// the consent ledger, smsq's own answers to queue, and a note for a person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaction {
    pub consent: Vec<NewConsent>,
    pub send: Vec<NewMessage>,
    /// Why a person should read it (a possible opt-out).
    pub flag: Option<String>,
    /// The auto-reply rule that answered it.
    pub auto_reply: Option<String>,
    /// What it did to the sender's open survey: `Some(answer)`, or `None` for an invalid
    /// reply (with the survey's message id).
    pub survey: Option<(i64, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The same PDU from the same modem was already stored (a re-read during a sweep).
    Duplicate,
    /// Stored; `Some` when it completed a message.
    Stored(Option<i64>),
}

/// One stored part of a concatenation group.
#[derive(Debug, Clone)]
pub(super) struct GroupPart {
    id: i64,
    part: i64,
    body: Option<String>,
    data_hex: Option<String>,
    sent_at: Option<String>,
    split: SplitSurrogates,
}

/// The parts of a group not yet in a message, ordered by part number. With `only`, just
/// that row (a message without concatenation is a group of its own).
/// On a database several hosts share, holds the parts of one multipart message to this
/// transaction until it commits: two hosts storing its last two parts at once (the network
/// sent them to different SIMs) would each miss the other's, uncommitted, and neither
/// would join them; and two hosts closing an incomplete message would close it twice. The
/// second waits and then sees the first's parts. SQLite has one writer: nothing to do.
fn lock_group(
    tx: &Connection,
    sender: &str,
    reference: Option<i64>,
    bits: Option<i64>,
    total: i64,
) -> Result<()> {
    if tx.is_postgres() {
        let key = format!("inbox {sender} {reference:?} {bits:?} {total}");
        exec(
            tx,
            "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))",
            params![key],
        )?;
    }
    Ok(())
}

pub(super) fn group_parts(
    tx: &Connection,
    sender: &str,
    reference: Option<i64>,
    bits: Option<i64>,
    total: i64,
    only: Option<i64>,
) -> Result<Vec<GroupPart>> {
    let mut st = tx.prepare_cached(
        "SELECT id, part, body, data_hex, sent_at, split_low, split_high FROM inbox_parts
         WHERE sender = ?1 AND concat_ref IS NOT DISTINCT FROM ?2 AND concat_bits IS NOT DISTINCT FROM ?3 AND total = ?4 AND message_id IS NULL
           AND (id = ?5 OR ?5 IS NULL)
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
    .collect::<SqlResult<_>>()
    .map_err(StoreError::from)
}

impl Db {
    /// Stores a received part without reacting to what it says (tests of the store).
    pub fn store_inbound(&mut self, p: &InboundPart, now: i64) -> Result<Inbound> {
        self.store_inbound_reacting(p, now, &mut |_| Reaction::default(), &mut |_| {
            Decision::Send
        })
    }

    /// Stores a received part; completes the message when its last part arrives, and then
    /// applies what `react` makes of it (a STOP's ledger entry and its one confirmation) in
    /// the same transaction: nothing is stored without its consequences, or the reverse.
    /// The texts it queues pass `gate` like every other message.
    pub fn store_inbound_reacting(
        &mut self,
        p: &InboundPart,
        now: i64,
        react: &mut dyn FnMut(&InboundFacts) -> Reaction,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<Inbound> {
        self.durable()?;
        let window = self.reply_window;
        let tx = self.conn.savepoint()?;
        let (reference, bits, total, part) = match p.concat {
            Some((r, b, t, n)) => (
                Some(i64::from(r)),
                Some(i64::from(b)),
                i64::from(t),
                i64::from(n),
            ),
            None => (None, None, 1, 1),
        };
        let Some(part_id) = row(&tx,
            "INSERT INTO inbox_parts (modem, pdu, sender, concat_ref, concat_bits, total, part, body, data_hex, sent_at, received_at, split_low, split_high)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING RETURNING id",
            params![p.modem, p.pdu, p.sender, reference, bits, total, part, p.body, p.data_hex, p.sent_at, now, p.split.leading_low, p.split.trailing_high],
            |r| r.get::<_, i64>(0),
        ).optional()? else {
            return Ok(Inbound::Duplicate);
        };
        // The group's parts not yet in a message; a part number seen twice (the same part
        // kept by two modems) counts once.
        let only = reference.is_none().then_some(part_id);
        if reference.is_some() {
            lock_group(&tx, &p.sender, reference, bits, total)?;
        }
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
        let id = Self::create_inbox(&tx, &p.sender, &p.modem, &rows, total, true, now, window)?;
        Self::react_in(&tx, id, &p.sender, now, react, gate)?;
        tx.commit()?;
        Ok(Inbound::Stored(Some(id)))
    }

    fn react_in(
        tx: &Connection,
        inbox_id: i64,
        sender: &str,
        now: i64,
        react: &mut dyn FnMut(&InboundFacts) -> Reaction,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<()> {
        let text: Option<String> = row(
            tx,
            "SELECT body FROM inbox WHERE id = ?1",
            params![inbox_id],
            |r| r.get(0),
        )?;
        // The gate's own reading of the sender: STOP given, erased.
        let reading = send_facts(tx, sender, Class::Reply, None, now, None)?;
        // smsq's own texts to the sender in the last day: confirmations by kind, automatic
        // answers by rule.
        let (mut recent_confirmations, mut recent_auto_replies) = (Vec::new(), Vec::new());
        {
            let mut st = tx.prepare_cached(
                "SELECT class, topic, template, created_at FROM outbox
                 WHERE recipient = ?1 AND created_at >= ?2
                   AND (class = 'system' OR template LIKE 'auto:%')",
            )?;
            let rows = st.query_map(params![sender, now - 86_400_000], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            for r in rows {
                let (class, topic, template, at): (Class, Option<String>, Option<String>, i64) = r?;
                if class == Class::System
                    && let Some(kind) = topic
                    && !recent_confirmations.contains(&kind)
                {
                    recent_confirmations.push(kind);
                }
                if let Some(rule) = template.as_deref().and_then(|t| t.strip_prefix("auto:")) {
                    recent_auto_replies.push((rule.to_string(), at));
                }
            }
        }
        let groups = {
            let mut st = tx.prepare_cached("SELECT tag FROM contact_tags WHERE number = ?1")?;
            let tags: Vec<String> = st
                .query_map(params![sender], |r| r.get(0))?
                .collect::<SqlResult<_>>()?;
            if tags.is_empty() {
                Vec::new()
            } else {
                // The shop's saved groups: a handful, read whole.
                let mut st = tx.prepare_cached("SELECT name, tags FROM contact_groups")?;
                let all: Vec<(String, String)> = st
                    .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<SqlResult<_>>()?;
                all.into_iter()
                    .filter(|(_, g)| {
                        g.split(' ')
                            .filter(|t| !t.is_empty())
                            .all(|t| tags.iter().any(|x| x == t))
                    })
                    .map(|(name, _)| name)
                    .collect()
            }
        };
        let facts = InboundFacts {
            inbox_id,
            sender: sender.to_string(),
            text,
            opted_out: reading.everything == Some(ConsentState::Revoked),
            pending_topics: Self::pending_topics(tx, sender)?,
            recent_confirmations,
            concat_ref: super::outbox::next_concat_ref_in(tx)?,
            suppressed: reading.suppressed,
            recent_auto_replies,
            groups,
            open_survey: super::workflows::open_survey(tx, sender, now)?,
        };
        let reaction = react(&facts);
        for c in &reaction.consent {
            append_consent(tx, c, now)?;
        }
        for m in &reaction.send {
            Self::enqueue_in(tx, m, now, gate)?;
        }
        if let Some(why) = &reaction.flag {
            event(tx, now, "flagged", None, Some(inbox_id), why)?;
        }
        if let Some((message_id, answer)) = &reaction.survey {
            super::workflows::record_survey_reply(
                tx,
                *message_id,
                inbox_id,
                answer.as_deref(),
                now,
            )?;
        }
        if let Some(rule) = &reaction.auto_reply {
            event(
                tx,
                now,
                "auto_replied",
                None,
                Some(inbox_id),
                &format!("rule {rule}"),
            )?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn create_inbox(
        tx: &Connection,
        sender: &str,
        modem: &str,
        rows: &[GroupPart],
        parts: i64,
        complete: bool,
        now: i64,
        reply_window: i64,
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
        let id: i64 = row(
            tx,
            "INSERT INTO inbox (sender, body, data_hex, parts, complete, modem, sent_at, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             RETURNING id",
            params![sender, body, data, parts, complete, modem, sent_at, now],
            |r| r.get(0),
        )?;
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
        super::workflows::link_reply(tx, id, sender, modem, now, reply_window)?;
        Ok(id)
    }

    /// Turns part groups whose first part is older than `max_age_ms` into incomplete inbox
    /// messages (clearly flagged), so nothing waits forever. Returns their ids.
    pub fn expire_incomplete(&mut self, now: i64, max_age_ms: i64) -> Result<Vec<i64>> {
        let window = self.reply_window;
        let tx = self.conn.savepoint()?;
        type GroupKey = (String, String, Option<i64>, Option<i64>, i64);
        let groups: Vec<GroupKey> = {
            let mut st = tx.prepare_cached(
                "SELECT sender, MIN(modem), concat_ref, concat_bits, total FROM inbox_parts WHERE message_id IS NULL
                 GROUP BY sender, concat_ref, concat_bits, total HAVING MIN(received_at) <= ?1",
            )?;
            st.query_map(params![now - max_age_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<SqlResult<_>>()?
        };
        let mut ids = Vec::new();
        for (sender, modem, reference, bits, total) in groups {
            lock_group(&tx, &sender, reference, bits, total)?;
            let rows = group_parts(&tx, &sender, reference, bits, total, None)?;
            if rows.is_empty() {
                // Another host closed it meanwhile.
                continue;
            }
            ids.push(Self::create_inbox(
                &tx, &sender, &modem, &rows, total, false, now, window,
            )?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Keeps an undecodable PDU with its error; `false` if it was already quarantined.
    pub fn quarantine(&mut self, modem: &str, pdu: &str, error: &str, now: i64) -> Result<bool> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let n = exec(
            &tx,
            "INSERT INTO quarantine (modem, pdu, error, received_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![modem, pdu, error, now],
        )?;
        if n == 1 {
            event(&tx, now, "quarantined", None, None, error)?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    pub fn list_inbox(&self, before: Option<i64>, limit: i64) -> Result<Vec<InboxRow>> {
        self.inbox_rows(
            "WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            params![before.unwrap_or(i64::MAX), limit],
        )
    }

    /// Every message received from `sender`, oldest first (a data-subject export).
    pub fn inbox_for(&self, sender: &str) -> Result<Vec<InboxRow>> {
        self.inbox_rows("WHERE sender = ?1 ORDER BY id", params![sender])
    }

    pub(super) fn inbox_rows(
        &self,
        filter: &str,
        args: super::sql::Params<'_>,
    ) -> Result<Vec<InboxRow>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, sender, body, data_hex, parts, complete, modem, sent_at, received_at, in_reply_to, reply_guess FROM inbox {filter}"
        ))?;
        st.query_map(args, |r| {
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
                in_reply_to: r.get(9)?,
                reply_guess: r.get(10)?,
            })
        })?
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
    }

    /// One received message.
    pub fn inbox_message(&self, id: i64) -> Result<Option<InboxRow>> {
        Ok(self.inbox_rows("WHERE id = ?1", params![id])?.pop())
    }
}
