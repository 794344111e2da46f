//! Outgoing messages and their parts: queueing, dispatch (claim, start, the outcome of each
//! part), cancel and retry, expiry, and what is read back for people.
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
//! next); see `reports::match_unknown_part`.
//! `smsq retry ID` (or the `retry` request) puts it back in the queue on purpose.

use super::sql::{Connection, OptionalExtension, params};

use super::care::{Class, Decision, SendFacts, send_facts};
use super::db::*;
use super::events::*;
use super::reports::*;
use super::state::{MessageState, PartState};

/// A message to queue, already planned and encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub class: Class,
    /// The topic a customer can opt out of on its own (`STOP PROMO`).
    pub topic: Option<String>,
    /// The template it was written from, if any.
    pub template: Option<String>,
    /// The campaign it belongs to, if any.
    pub campaign: Option<i64>,
    /// The outcomes a client asked to hear about (HTTP interfaces), kept with the message.
    pub watch: Option<super::Watch>,
    /// The one modem it must go through, if its client named one.
    pub via: Option<String>,
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
            class: Class::Transactional,
            topic: None,
            template: None,
            campaign: None,
            watch: None,
            via: None,
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
    pub class: Class,
    pub topic: Option<String>,
    /// Parts the message has in all.
    pub total_parts: i64,
    /// Parts still to send, in order.
    pub parts: Vec<DuePart>,
}

impl Due {
    /// Whether a part of it already went to a modem (the gate is not asked again then: a
    /// concatenated text is never cut in half).
    pub fn started(&self) -> bool {
        (self.parts.len() as i64) < self.total_parts
    }
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
    pub class: Class,
    pub topic: Option<String>,
    pub template: Option<String>,
    pub campaign: Option<i64>,
    /// When it was asked not to go before, if it was.
    pub not_before: Option<i64>,
    /// Who queued it (the client's uid).
    pub peer_uid: Option<u32>,
}

/// A message with its parts and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    pub message: MessageRow,
    pub parts: Vec<PartRow>,
    pub history: Vec<EventRow>,
}

/// Lets go of the claim on message `id` when none of its parts has left the queue, so that
/// another modem may send it; a started message stays with its modem (one sender for all
/// the parts of a concatenated message).
pub(super) fn release_if_unstarted(tx: &Connection, id: i64) -> Result<()> {
    exec(
        tx,
        "UPDATE outbox SET modem = NULL WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = ?1
                           AND p.state != 'pending')",
        params![id],
    )?;
    Ok(())
}

/// Message `id`, still waiting, was not sent before its `not_after` time: given up, with its
/// history. `false` when it was no longer waiting (another host expired or started it).
pub(super) fn expire_one(tx: &Connection, id: i64, now: i64) -> Result<bool> {
    let expired = exec(
        tx,
        "UPDATE outbox SET state = 'expired', last_error = 'not sent before its not_after time', updated_at = ?2
         WHERE id = ?1 AND state IN ('queued', 'held')",
        params![id, now],
    )?;
    if expired == 0 {
        return Ok(false);
    }
    exec(
        tx,
        "UPDATE outbox_parts SET state = 'failed' WHERE message_id = ?1 AND state = 'pending'",
        params![id],
    )?;
    event(
        tx,
        now,
        "expired",
        Some(id),
        None,
        "not sent before not_after",
    )?;
    Ok(true)
}

/// Message `id`, nothing of which went out, refused by the gate: never sent.
pub(super) fn refuse_in(
    tx: &Connection,
    id: i64,
    code: &str,
    reason: &str,
    now: i64,
) -> Result<()> {
    exec(
        tx,
        "UPDATE outbox SET state = 'refused', modem = NULL, last_error = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, format!("{code}: {reason}"), now],
    )?;
    exec(
        tx,
        "UPDATE outbox_parts SET state = 'cancelled' WHERE message_id = ?1 AND state = 'pending'",
        params![id],
    )?;
    event(
        tx,
        now,
        "refused",
        Some(id),
        None,
        &format!("{code}: {reason}"),
    )
}

/// What the gate decided for a message queued earlier (an idempotent resend reports it).
fn earlier_decision(tx: &Connection, id: i64) -> Result<Decision> {
    let (state, next, error): (MessageState, i64, Option<String>) = row(
        tx,
        "SELECT state, next_attempt_at, last_error FROM outbox WHERE id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(match state {
        MessageState::Held => Decision::Hold { until: next },
        MessageState::Refused => {
            let error = error.unwrap_or_default();
            let (code, reason) = error.split_once(": ").unwrap_or(("opted_out", &error));
            Decision::Refuse {
                code: ["no_consent", "frequency_cap"]
                    .into_iter()
                    .find(|c| *c == code)
                    .unwrap_or("opted_out"),
                reason: reason.to_string(),
            }
        }
        _ => Decision::Send,
    })
}

/// Message `id` waits for its recipient's window to open at `until`.
pub(super) fn hold_in(tx: &Connection, id: i64, until: i64, now: i64) -> Result<()> {
    exec(
        tx,
        "UPDATE outbox SET state = 'held', modem = NULL, next_attempt_at = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, until, now],
    )?;
    event(
        tx,
        now,
        "held",
        Some(id),
        None,
        &format!("quiet_hours: waits for the recipient's window, until {until}"),
    )
}

/// A due message as the dispatcher chooses among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub recipient: String,
    pub priority: i64,
    /// The modem that owns it (claimed it, sent a part of it, or its client named it);
    /// `None`: any modem.
    pub owner: Option<String>,
}

/// One part still to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePart {
    /// 1-based.
    pub part: i64,
    /// The TPDU's length, as `AT+CMGS` wants it.
    pub tpdu_len: usize,
    pub pdu: String,
}

/// A message `enqueue` recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    /// `false` when its idempotency key named a message queued before (whose id this is).
    pub new: bool,
    /// What the gate decided: queued (`Send`), held, or refused (recorded, never sent).
    pub decision: Decision,
}

/// The queue, and one modem's recent sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages queued or being sent (all modems).
    pub queued: i64,
    /// Parts the modem sent since the time asked about.
    pub sent_since: i64,
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
    /// The gate held it for the recipient's quiet hours, until this time.
    Held { until: i64 },
    /// The gate refused it: `refused` now, never sent.
    Refused { code: &'static str, reason: String },
    /// No part is left to send (a defensive case: start-up settles such messages).
    NothingLeft,
}

impl Db {
    /// Queues a message without asking a gate, for tests and benchmarks of the store; the
    /// daemon always passes its gate ([`Db::enqueue_gated`]).
    pub fn enqueue(&mut self, m: &NewMessage, now: i64) -> Result<Enqueued> {
        Ok(self
            .enqueue_gated(std::slice::from_ref(m), now, &mut |_| Decision::Send)?
            .remove(0))
    }

    /// Queues several messages in one transaction (a batched `send`): all or none. `gate`
    /// decides each one from the facts read in this same transaction (so a STOP committed
    /// before is seen): queued, held until the recipient's window opens, or refused (recorded
    /// with its reason, never sent).
    pub fn enqueue_gated(
        &mut self,
        messages: &[NewMessage],
        now: i64,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<Vec<Enqueued>> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(Self::enqueue_in(&tx, m, now, gate)?);
        }
        tx.commit()?;
        Ok(out)
    }

    pub(super) fn enqueue_in(
        tx: &Connection,
        m: &NewMessage,
        now: i64,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<Enqueued> {
        if let Some(key) = &m.idempotency_key {
            let existing: Option<i64> = tx
                .prepare_cached("SELECT id FROM outbox WHERE idempotency_key = ?1")?
                .query_row(params![key], |r| r.get(0))
                .optional()?;
            if let Some(id) = existing {
                return Ok(Enqueued {
                    id,
                    new: false,
                    decision: earlier_decision(tx, id)?,
                });
            }
        }
        let facts = send_facts(tx, &m.recipient, m.class, m.topic.as_deref(), now, None)?;
        let decision = gate(&facts);
        let id = tx.prepare_cached(
            "INSERT INTO outbox (recipient, body, encoding, alphabet, parts, concat_ref, status_report,
                priority, client_ref, idempotency_key, state, next_attempt_at, not_before, not_after,
                peer_uid, peer_pid, created_at, updated_at, class, topic, template, campaign, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'queued', ?11, ?12, ?13, ?14, ?15, ?16, ?16, ?17, ?18, ?19, ?20, ?21)
             RETURNING id",
        )?
        .query_row(params![
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
            now,
            m.class.as_str(),
            m.topic,
            m.template,
            m.campaign,
            m.via
        ], |r| r.get::<_, i64>(0))?;
        let mut part_insert = tx.prepare_cached(
            "INSERT INTO outbox_parts (message_id, part, tpdu_len, pdu, state) VALUES (?1, ?2, ?3, ?4, 'pending')",
        )?;
        for (i, (len, pdu)) in m.parts.iter().enumerate() {
            part_insert.execute(params![id, (i + 1) as i64, *len as i64, pdu])?;
        }
        if let Some(watch) = &m.watch {
            super::callbacks::add_watch(tx, id, watch)?;
        }
        event(
            tx,
            now,
            "queued",
            Some(id),
            None,
            &format!("{} part(s), {}", m.parts.len(), m.class),
        )?;
        match &decision {
            Decision::Send => {}
            Decision::Hold { until } => {
                // A later `not_before` than the window's opening stands.
                hold_in(tx, id, (*until).max(m.not_before.unwrap_or(0)), now)?
            }
            Decision::Refuse { code, reason } => refuse_in(tx, id, code, reason, now)?,
        }
        Ok(Enqueued {
            id,
            new: true,
            decision,
        })
    }

    /// The most urgent message that may be worked on now: priority, then age (for tests of
    /// the queue's order; the dispatcher chooses among `due_candidates`).
    #[cfg(test)]
    pub(crate) fn next_due(&mut self, now: i64) -> Result<Option<Due>> {
        match self.due_candidates(now, 1)?.first() {
            Some(c) => self.due(c.id),
            None => Ok(None),
        }
    }

    /// Due messages in dispatch order, with the modem that owns each (claimed it, or sent a
    /// part of it); `None` while it may go to any modem.
    pub fn due_candidates(&self, now: i64, limit: i64) -> Result<Vec<Candidate>> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.id, o.recipient, COALESCE(o.modem, o.via), o.priority
             FROM outbox o
             WHERE o.state IN ('queued', 'held', 'sending') AND o.next_attempt_at <= ?1
             ORDER BY o.priority DESC, o.created_at, o.id LIMIT ?2",
        )?;
        st.query_map(params![now, limit], |r| {
            Ok(Candidate {
                id: r.get(0)?,
                recipient: r.get(1)?,
                owner: r.get(2)?,
                priority: r.get(3)?,
            })
        })?
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
    }

    /// The unsent parts of message `id`, for the modem that claimed it.
    pub fn due(&self, id: i64) -> Result<Option<Due>> {
        Self::due_in(&self.conn, id)
    }

    pub(super) fn due_in(conn: &Connection, id: i64) -> Result<Option<Due>> {
        let head = row(
            conn,
            "SELECT recipient, attempts, not_after, modem, state, class, topic, parts FROM outbox WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                    (r.get(5)?, r.get(6)?, r.get(7)?),
                ))
            },
        )
        .optional()?;
        let Some(((recipient, attempts, not_after, modem, state), (class, topic, total_parts))) =
            head
        else {
            return Ok(None);
        };
        let mut st = conn.prepare_cached(
            "SELECT part, tpdu_len, pdu FROM outbox_parts WHERE message_id = ?1 AND state = 'pending' ORDER BY part",
        )?;
        let parts = st
            .query_map(params![id], |r| {
                Ok(DuePart {
                    part: r.get(0)?,
                    tpdu_len: r.get::<_, i64>(1)? as usize,
                    pdu: r.get(2)?,
                })
            })?
            .collect::<SqlResult<_>>()?;
        Ok(Some(Due {
            id,
            recipient,
            attempts,
            not_after,
            modem,
            state,
            class,
            topic,
            total_parts,
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
        st.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<SqlResult<_>>()
            .map_err(StoreError::from)
    }

    /// When the next queued message becomes due, if any.
    pub fn earliest_due(&self) -> Result<Option<i64>> {
        row(
            &self.conn,
            "SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('queued', 'held', 'sending')",
            params![],
            |r| r.get(0),
        )
        .map_err(StoreError::from)
    }

    /// Committed before the PDU goes to the modem (see the module docs).
    pub fn mark_sending(&mut self, id: i64, part: i64, modem: &str, now: i64) -> Result<()> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        Self::sending_in(&tx, id, part, modem, now)?;
        Ok(tx.commit()?)
    }

    pub(super) fn sending_in(
        tx: &Connection,
        id: i64,
        part: i64,
        modem: &str,
        now: i64,
    ) -> Result<()> {
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
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'sent', mr = ?3, sent_at = ?4 WHERE message_id = ?1 AND part = ?2",
            params![id, part, i64::from(mr), now],
        )?;
        let pending: i64 = row(
            &tx,
            "SELECT COUNT(*) FROM outbox_parts WHERE message_id = ?1 AND state IN ('pending', 'sending')",
            params![id],
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
        let tx = self.conn.savepoint()?;
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
        Ok(tx.commit()?)
    }

    /// The modem went away or was not ready: back to the queue, no attempt counted.
    pub fn requeue(&mut self, id: i64, part: i64, why: &str, now: i64) -> Result<()> {
        let tx = self.conn.savepoint()?;
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
        Ok(tx.commit()?)
    }

    /// A permanent failure, or a message that cannot be sent at all.
    pub fn fail(&mut self, id: i64, reason: &str, now: i64) -> Result<()> {
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "UPDATE outbox_parts SET state = 'failed' WHERE message_id = ?1 AND state IN ('pending', 'sending')",
            params![id],
        )?;
        exec(
            &tx,
            "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, reason, now],
        )?;
        event(&tx, now, "failed", Some(id), None, reason)?;
        Ok(tx.commit()?)
    }

    /// The part went to the modem but its fate is unknown (see the module docs).
    pub fn mark_unknown(&mut self, id: i64, part: i64, why: &str, now: i64) -> Result<()> {
        let tx = self.conn.savepoint()?;
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
        Ok(tx.commit()?)
    }

    /// Cancels a message nothing of which has reached the modem. `false` if too late.
    pub fn cancel(&mut self, id: i64, now: i64) -> Result<bool> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let started: i64 = row(
            &tx,
            "SELECT COUNT(*) FROM outbox_parts WHERE message_id = ?1 AND state != 'pending'",
            params![id],
            |r| r.get(0),
        )?;
        let n = if started == 0 {
            exec(
                &tx,
                "UPDATE outbox SET state = 'cancelled', updated_at = ?2 WHERE id = ?1 AND state IN ('queued', 'held')",
                params![id, now],
            )?
        } else {
            0
        };
        if n == 1 {
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'cancelled' WHERE message_id = ?1",
                params![id],
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
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let n = exec(
            &tx,
            // A message whose text retention erased has nothing left to send; a confirmation
            // (class system) is sent within minutes of what it confirms or never.
            "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, updated_at = ?2
             WHERE id = ?1 AND state IN ('failed', 'unknown', 'expired') AND body != ''
               AND class != 'system'",
            params![id, now],
        )?;
        if n == 1 {
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'pending' WHERE message_id = ?1 AND state IN ('failed', 'unknown', 'pending')",
                params![id],
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
        let tx = self.conn.savepoint()?;
        let ids: Vec<i64> = {
            let mut st = tx.prepare_cached(
                // The first term picks the queue's own index (outbox_queue): the queue, not
                // the history, is read.
                "SELECT id FROM outbox WHERE state IN ('queued', 'held', 'sending')
                   AND state IN ('queued', 'held') AND not_after IS NOT NULL AND not_after < ?1",
            )?;
            st.query_map(params![now], |r| r.get(0))?
                .collect::<SqlResult<_>>()?
        };
        let mut expired = Vec::with_capacity(ids.len());
        for id in ids {
            if expire_one(&tx, id, now)? {
                expired.push(id);
            }
        }
        tx.commit()?;
        Ok(expired)
    }

    /// Takes message `id` for `modem` and commits its first unsent part `sending`, in one
    /// transaction, unless another modem has it or its `not_after` time passed (then it
    /// expires here, just before the modem would have had it). The claim is exclusive from
    /// this commit on: `outbox.modem` names the owner, and only the owner takes it again.
    /// It is let go (back to NULL) when the message returns to the queue before any part
    /// went out (`release_if_unstarted`), and at start-up.
    /// Without a gate, for tests and benchmarks of the store; the daemon always passes its
    /// gate ([`Db::start_gated`]).
    pub fn start(&mut self, id: i64, modem: &str, now: i64) -> Result<Start> {
        self.start_gated(id, modem, now, &mut |_| Decision::Send)
    }

    /// [`Db::start`], asking `gate` first, in the same transaction, about a message nothing of
    /// which went out yet: a STOP, an erasure or a cap reached since it was queued refuses
    /// it; the recipient's quiet hours hold it (again); a held message whose window opened
    /// is released.
    pub fn start_gated(
        &mut self,
        id: i64,
        modem: &str,
        now: i64,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<Start> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        // On a shared database another host may be claiming the same message this moment:
        // its row lock is skipped, not waited for (this host takes the next message).
        let claim = if tx.is_postgres() {
            "UPDATE outbox SET modem = ?2, updated_at = ?3
             WHERE id = (SELECT id FROM outbox WHERE id = ?1
                           AND state IN ('queued', 'held', 'sending') AND next_attempt_at <= ?3
                           AND (modem IS NULL OR modem = ?2)
                         FOR UPDATE SKIP LOCKED)"
        } else {
            "UPDATE outbox SET modem = ?2, updated_at = ?3
             WHERE id = ?1 AND state IN ('queued', 'held', 'sending') AND next_attempt_at <= ?3
               AND (modem IS NULL OR modem = ?2)"
        };
        let claimed = exec(&tx, claim, params![id, modem, now])? == 1;
        if !claimed {
            return Ok(Start::Taken);
        }
        let Some(due) = Self::due_in(&tx, id)? else {
            return Ok(Start::Taken);
        };
        let waiting = due.state == "queued" || due.state == "held";
        let decision = if waiting && !due.started() {
            let facts = send_facts(
                &tx,
                &due.recipient,
                due.class,
                due.topic.as_deref(),
                now,
                Some(id),
            )?;
            gate(&facts)
        } else {
            Decision::Send
        };
        let outcome = if due.not_after.is_some_and(|t| t <= now) && waiting {
            expire_one(&tx, id, now)?;
            Start::Expired
        } else if let Decision::Refuse { code, reason } = decision {
            refuse_in(&tx, id, code, &reason, now)?;
            Start::Refused { code, reason }
        } else if let Decision::Hold { until } = decision {
            hold_in(&tx, id, until, now)?;
            Start::Held { until }
        } else if let Some(first) = due.parts.first() {
            if due.state == "held" {
                event(
                    &tx,
                    now,
                    "released",
                    Some(id),
                    None,
                    "the recipient's window opened",
                )?;
            }
            Self::sending_in(&tx, id, first.part, modem, now)?;
            Start::Sending(due)
        } else {
            Start::NothingLeft
        };
        tx.commit()?;
        Ok(outcome)
    }

    pub fn message(&self, id: i64) -> Result<Option<MessageDetail>> {
        let Some(m) = self.messages("WHERE id = ?1", params![id])?.pop() else {
            return Ok(None);
        };
        let mut st = self.conn.prepare_cached(
            "SELECT part, state, mr, modem, sent_at, report_status FROM outbox_parts WHERE message_id = ?1 ORDER BY part",
        )?;
        let parts = st
            .query_map(params![id], |r| {
                Ok(PartRow {
                    part: r.get(0)?,
                    state: r.get(1)?,
                    mr: r.get(2)?,
                    modem: r.get(3)?,
                    sent_at: r.get(4)?,
                    report_status: r.get(5)?,
                })
            })?
            .collect::<SqlResult<_>>()?;
        let history = self.events("WHERE e.message_id = ?1 ORDER BY e.id", params![id])?;
        Ok(Some(MessageDetail {
            message: m,
            parts,
            history,
        }))
    }

    pub(super) fn messages(
        &self,
        filter: &str,
        args: super::sql::Params<'_>,
    ) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT id, recipient, body, alphabet, parts, state, attempts, priority, client_ref, last_error, modem, created_at, updated_at, next_attempt_at, class, topic, template, campaign, not_before, peer_uid FROM outbox {filter}"
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
                class: r.get(14)?,
                topic: r.get(15)?,
                template: r.get(16)?,
                campaign: r.get(17)?,
                not_before: r.get(18)?,
                peer_uid: r.get(19)?,
            })
        })?
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
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
            String::from("TRUE")
        } else {
            let quoted: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            format!("state IN ({})", quoted.join(","))
        };
        self.messages(
            &format!("WHERE {states_sql} AND id < ?1 ORDER BY id DESC LIMIT ?2"),
            params![before.unwrap_or(i64::MAX), limit],
        )
    }

    /// Every message to `recipient`, oldest first (a data-subject export).
    pub fn outbox_for(&self, recipient: &str) -> Result<Vec<MessageRow>> {
        self.messages("WHERE recipient = ?1 ORDER BY id", params![recipient])
    }

    /// Queued (not yet finished) messages, and parts sent since `since` through `modem`.
    pub fn counts(&self, modem: &str, since: i64) -> Result<QueueCounts> {
        let queued = row(
            &self.conn,
            "SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'held', 'sending')",
            params![],
            |r| r.get(0),
        )?;
        let sent = row(
            &self.conn,
            "SELECT COUNT(*) FROM outbox_parts WHERE modem = ?1 AND sent_at >= ?2",
            params![modem, since],
            |r| r.get(0),
        )?;
        Ok(QueueCounts {
            queued,
            sent_since: sent,
        })
    }

    /// The next free concatenation reference (8-bit), from the store so that it survives
    /// restarts and differs between consecutive messages to the same recipient.
    pub fn next_concat_ref(&self) -> Result<u8> {
        next_concat_ref_in(&self.conn)
    }
}

/// The concatenation reference after the newest message's (see [`Db::next_concat_ref`]).
pub(super) fn next_concat_ref_in(conn: &Connection) -> Result<u8> {
    let last: i64 = row(
        conn,
        "SELECT COALESCE(MAX(id), 0) FROM outbox",
        params![],
        |r| r.get(0),
    )?;
    Ok(((last + 1) % 256) as u8)
}
