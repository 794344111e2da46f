//! What the shop's workflows keep: templates, campaigns (a set of queued messages sent and
//! reported on together), conversations (a thread per modem and customer, each reply's best
//! guess of the text it answers), editing of scheduled and held messages, and the audit
//! export's reads.

use super::sql::{Connection, OptionalExtension, params};

use super::care::{Class, Decision, SendFacts};
use super::db::*;
use super::events::*;
use super::inbox::InboxRow;
use super::outbox::{Enqueued, MessageRow, NewMessage};

/// A message's new text as edited: the text, its alphabet and its encoded parts (TPDU
/// length, PDU hex).
#[derive(Debug, Clone, Copy)]
pub struct NewText<'a> {
    pub body: &'a str,
    pub alphabet: &'a str,
    pub parts: &'a [(usize, String)],
}

/// A named text with `{{field}}` placeholders, its class and topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub body: String,
    pub class: Class,
    pub topic: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A campaign and where its messages stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub template: Option<String>,
    pub body: String,
    pub class: Class,
    pub topic: Option<String>,
    /// Who it went to, in words (`tag vip`, `group best`).
    pub audience: String,
    /// `active`, `done` (nothing of it waits any more) or `cancelled`.
    pub state: String,
    pub created_at: i64,
    /// Messages per state (`queued`, `sent`, `refused`...).
    pub counts: Vec<(String, i64)>,
    /// Replies linked to its messages.
    pub replies: i64,
}

/// A conversation with one customer through one modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    pub modem: String,
    pub number: String,
    /// `open` or `resolved`.
    pub state: String,
    pub last_received_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    /// The latest received text.
    pub last_text: Option<String>,
}

/// One entry of a conversation, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadEntry {
    Sent(MessageRow),
    Received(InboxRow),
}

impl ThreadEntry {
    pub fn at(&self) -> i64 {
        match self {
            Self::Sent(m) => m.created_at,
            Self::Received(m) => m.received_at,
        }
    }
}

/// Links received message `inbox_id` to the latest text sent to `sender` within the reply
/// window (a guess, recorded as one), and opens its thread (this modem, this customer).
pub(super) fn link_reply(
    tx: &Connection,
    inbox_id: i64,
    sender: &str,
    modem: &str,
    now: i64,
    window: i64,
) -> Result<()> {
    let latest: Option<i64> = row(
        tx,
        "SELECT id FROM outbox WHERE recipient = ?1 AND created_at >= ?2 AND created_at <= ?3
           AND state NOT IN ('refused', 'cancelled')
         ORDER BY created_at DESC, id DESC LIMIT 1",
        params![sender, now - window, now],
        |r| r.get(0),
    )
    .optional()?;
    if let Some(message) = latest {
        let guess = format!(
            "the latest text to this number within {} h",
            window / 3_600_000
        );
        exec(
            tx,
            "UPDATE inbox SET in_reply_to = ?2, reply_guess = ?3 WHERE id = ?1",
            params![inbox_id, message, guess],
        )?;
        event(
            tx,
            now,
            "reply_linked",
            Some(message),
            Some(inbox_id),
            &format!("probably a reply to message {message} ({guess})"),
        )?;
    }
    exec(
        tx,
        "INSERT INTO threads (modem, number, state, updated_at) VALUES (?1, ?2, 'open', ?3)
         ON CONFLICT (modem, number) DO UPDATE SET state = 'open', updated_at = excluded.updated_at",
        params![modem, sender, now],
    )?;
    Ok(())
}

fn template_row(r: &super::sql::Row<'_>) -> SqlResult<Template> {
    Ok(Template {
        name: r.get(0)?,
        body: r.get(1)?,
        class: r.get(2)?,
        topic: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

impl Db {
    /// How far back a received message looks for the text it answers.
    pub fn set_reply_window(&mut self, ms: i64) {
        self.reply_window = ms;
    }

    pub fn save_template(&mut self, t: &Template, now: i64) -> Result<()> {
        self.durable()?;
        exec(
            &self.conn,
            "INSERT INTO templates (name, body, class, topic, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, class = excluded.class,
                 topic = excluded.topic, updated_at = excluded.updated_at",
            params![t.name, t.body, t.class.as_str(), t.topic, now],
        )?;
        Ok(())
    }

    pub fn template(&self, name: &str) -> Result<Option<Template>> {
        Ok(row(
            &self.conn,
            "SELECT name, body, class, topic, created_at, updated_at FROM templates WHERE name = ?1",
            params![name],
            template_row,
        )
        .optional()?)
    }

    pub fn templates(&self) -> Result<Vec<Template>> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, body, class, topic, created_at, updated_at FROM templates ORDER BY name",
        )?;
        st.query_map(params![], template_row)?
            .collect::<SqlResult<_>>()
            .map_err(StoreError::from)
    }

    pub fn remove_template(&mut self, name: &str) -> Result<bool> {
        self.durable()?;
        Ok(exec(
            &self.conn,
            "DELETE FROM templates WHERE name = ?1",
            params![name],
        )? == 1)
    }

    /// The gate's facts for many recipients at once (a campaign's preview).
    pub fn facts_for(
        &self,
        recipients: &[String],
        class: Class,
        topic: Option<&str>,
        now: i64,
    ) -> Result<Vec<SendFacts>> {
        recipients
            .iter()
            .map(|r| self.facts(r, class, topic, now))
            .collect()
    }

    /// Records a campaign and queues its messages (each through `gate`) in one transaction:
    /// all or none, so a campaign never half exists. Returns its id and each message's fate.
    pub fn start_campaign(
        &mut self,
        campaign: &CampaignRow,
        messages: &[NewMessage],
        now: i64,
        peer_uid: Option<u32>,
        survey: Option<(&str, i64)>,
        gate: &mut dyn FnMut(&SendFacts) -> Decision,
    ) -> Result<(i64, Vec<Enqueued>)> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let id: i64 = row(
            &tx,
            "INSERT INTO campaigns (name, template, body, class, topic, audience, state, created_at, peer_uid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8) RETURNING id",
            params![
                campaign.name,
                campaign.template,
                campaign.body,
                campaign.class.as_str(),
                campaign.topic,
                campaign.audience,
                now,
                peer_uid
            ],
            |r| r.get(0),
        )?;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let mut m = m.clone();
            m.campaign = Some(id);
            let queued = Self::enqueue_in(&tx, &m, now, gate)?;
            // Who is asked a survey is recorded with the question, so an answer is never
            // taken for an ordinary reply.
            if let Some((name, expires_at)) = survey
                && !matches!(queued.decision, Decision::Refuse { .. })
            {
                exec(
                    &tx,
                    "INSERT INTO survey_sends (message_id, survey, number, expires_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![queued.id, name, m.recipient, expires_at],
                )?;
            }
            out.push(queued);
        }
        event(
            &tx,
            now,
            "campaign_started",
            None,
            None,
            &format!(
                "campaign {id} ({}): {} message(s)",
                campaign.name,
                messages.len()
            ),
        )?;
        tx.commit()?;
        Ok((id, out))
    }

    /// One campaign with its counts, or every campaign (newest first) when `id` is `None`.
    pub fn campaigns(&self, id: Option<i64>) -> Result<Vec<CampaignRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, template, body, class, topic, audience, state, created_at
             FROM campaigns WHERE ?1 IS NULL OR id = ?1 ORDER BY id DESC LIMIT 200",
        )?;
        let mut rows: Vec<CampaignRow> = st
            .query_map(params![id], |r| {
                Ok(CampaignRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    template: r.get(2)?,
                    body: r.get(3)?,
                    class: r.get(4)?,
                    topic: r.get(5)?,
                    audience: r.get(6)?,
                    state: r.get(7)?,
                    created_at: r.get(8)?,
                    counts: Vec::new(),
                    replies: 0,
                })
            })?
            .collect::<SqlResult<_>>()?;
        for c in &mut rows {
            let mut st = self.conn.prepare_cached(
                "SELECT state, COUNT(*) FROM outbox WHERE campaign = ?1 GROUP BY state ORDER BY state",
            )?;
            c.counts = st
                .query_map(params![c.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<SqlResult<_>>()?;
            c.replies = row(
                &self.conn,
                "SELECT COUNT(*) FROM inbox WHERE in_reply_to IN
                   (SELECT id FROM outbox WHERE campaign = ?1)",
                params![c.id],
                |r| r.get(0),
            )?;
        }
        Ok(rows)
    }

    /// Cancels every message of campaign `id` that has not started; returns how many.
    pub fn cancel_campaign(&mut self, id: i64, now: i64) -> Result<Option<usize>> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let exists = exec(
            &tx,
            "UPDATE campaigns SET state = 'cancelled' WHERE id = ?1 AND state != 'done'",
            params![id],
        )? == 1;
        if !exists {
            return Ok(None);
        }
        let ids: Vec<i64> = {
            let mut st = tx.prepare_cached(
                "SELECT id FROM outbox WHERE campaign = ?1 AND state IN ('queued', 'held')
                   AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = outbox.id
                                   AND p.state != 'pending')",
            )?;
            st.query_map(params![id], |r| r.get(0))?
                .collect::<SqlResult<_>>()?
        };
        for &m in &ids {
            exec(
                &tx,
                "UPDATE outbox SET state = 'cancelled', updated_at = ?2 WHERE id = ?1",
                params![m, now],
            )?;
            exec(
                &tx,
                "UPDATE outbox_parts SET state = 'cancelled' WHERE message_id = ?1",
                params![m],
            )?;
            event(
                &tx,
                now,
                "cancelled",
                Some(m),
                None,
                &format!("campaign {id} cancelled"),
            )?;
        }
        tx.commit()?;
        Ok(Some(ids.len()))
    }

    /// Writes a `campaign_progress` event for each active campaign whose counts changed since
    /// the last one, and closes (`done`, with `campaign_done`) those with nothing waiting.
    /// Returns how many are still active.
    pub fn campaign_progress(&mut self, now: i64) -> Result<usize> {
        let tx = self.conn.savepoint()?;
        let active: Vec<(i64, Option<String>)> = {
            let mut st = tx.prepare_cached(
                "SELECT id, progress FROM campaigns WHERE state = 'active' ORDER BY id",
            )?;
            st.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<SqlResult<_>>()?
        };
        let mut still_active = 0;
        for (id, last) in active {
            let counts: Vec<(String, i64)> = {
                let mut st = tx.prepare_cached(
                    "SELECT state, COUNT(*) FROM outbox WHERE campaign = ?1 GROUP BY state ORDER BY state",
                )?;
                st.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<SqlResult<_>>()?
            };
            let total: i64 = counts.iter().map(|(_, n)| n).sum();
            let progress = counts
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let waiting: i64 = counts
                .iter()
                .filter(|(s, _)| matches!(s.as_str(), "queued" | "held" | "sending"))
                .map(|(_, n)| n)
                .sum();
            // Conditional: another host sharing the database may have told it already.
            if last.as_deref() != Some(progress.as_str())
                && exec(
                    &tx,
                    "UPDATE campaigns SET progress = ?2 WHERE id = ?1 AND progress IS DISTINCT FROM ?2",
                    params![id, progress],
                )? == 1
            {
                event(
                    &tx,
                    now,
                    "campaign_progress",
                    None,
                    None,
                    &format!("campaign {id}: {progress} (of {total})"),
                )?;
            }
            if waiting == 0 {
                let done = exec(
                    &tx,
                    "UPDATE campaigns SET state = 'done' WHERE id = ?1 AND state = 'active'",
                    params![id],
                )?;
                if done == 1 {
                    event(
                        &tx,
                        now,
                        "campaign_done",
                        None,
                        None,
                        &format!("campaign {id}: {progress}"),
                    )?;
                }
            } else {
                still_active += 1;
            }
        }
        tx.commit()?;
        Ok(still_active)
    }

    /// Conversations, the ones awaiting an answer first, then by their latest message.
    pub fn threads(&self, include_resolved: bool, limit: i64) -> Result<Vec<ThreadRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT t.modem, t.number, t.state,
                    (SELECT MAX(received_at) FROM inbox WHERE sender = t.number AND modem = t.modem),
                    (SELECT MAX(created_at) FROM outbox WHERE recipient = t.number
                       AND state NOT IN ('refused', 'cancelled')),
                    (SELECT body FROM inbox WHERE sender = t.number AND modem = t.modem
                       ORDER BY received_at DESC, id DESC LIMIT 1)
             FROM threads t WHERE ?1 OR t.state = 'open'
             ORDER BY t.updated_at DESC LIMIT ?2",
        )?;
        st.query_map(params![include_resolved, limit], |r| {
            Ok(ThreadRow {
                modem: r.get(0)?,
                number: r.get(1)?,
                state: r.get(2)?,
                last_received_at: r.get(3)?,
                last_sent_at: r.get(4)?,
                last_text: r.get(5)?,
            })
        })?
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
    }

    /// Everything exchanged with `number`, both ways, oldest first (at most `limit` of the
    /// latest).
    pub fn conversation(&self, number: &str, limit: i64) -> Result<Vec<ThreadEntry>> {
        let sent = self.messages(
            "WHERE recipient = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2",
            params![number, limit],
        )?;
        let received = self.inbox_rows(
            "WHERE sender = ?1 ORDER BY received_at DESC, id DESC LIMIT ?2",
            params![number, limit],
        )?;
        let mut all: Vec<ThreadEntry> = sent
            .into_iter()
            .map(ThreadEntry::Sent)
            .chain(received.into_iter().map(ThreadEntry::Received))
            .collect();
        all.sort_by_key(|e| e.at());
        let skip = all.len().saturating_sub(limit as usize);
        Ok(all.split_off(skip))
    }

    /// Marks the conversations with `number` resolved (or open again); `false` if none.
    pub fn set_thread_state(&mut self, number: &str, open: bool, now: i64) -> Result<bool> {
        self.durable()?;
        let n = exec(
            &self.conn,
            "UPDATE threads SET state = ?2, updated_at = ?3 WHERE number = ?1",
            params![number, if open { "open" } else { "resolved" }, now],
        )?;
        if n > 0 {
            event(
                &self.conn,
                now,
                if open {
                    "thread_reopened"
                } else {
                    "thread_resolved"
                },
                None,
                None,
                number,
            )?;
        }
        Ok(n > 0)
    }

    /// Replaces the text (already planned and encoded: `parts`) and the time of a message
    /// nothing of which went out yet, queued or held. `false` if it already started or is
    /// finished.
    pub fn edit_message(
        &mut self,
        id: i64,
        body: Option<NewText<'_>>,
        not_before: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        let editable: bool = row(
            &tx,
            "SELECT state IN ('queued', 'held') AND NOT EXISTS (SELECT 1 FROM outbox_parts p
                 WHERE p.message_id = ?1 AND p.state != 'pending')
             FROM outbox WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
        if !editable {
            return Ok(false);
        }
        let mut what = Vec::new();
        if let Some(NewText {
            body: text,
            alphabet,
            parts,
        }) = body
        {
            exec(
                &tx,
                "UPDATE outbox SET body = ?2, alphabet = ?3, parts = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, text, alphabet, parts.len() as i64, now],
            )?;
            exec(
                &tx,
                "DELETE FROM outbox_parts WHERE message_id = ?1",
                params![id],
            )?;
            for (i, (len, pdu)) in parts.iter().enumerate() {
                exec(
                    &tx,
                    "INSERT INTO outbox_parts (message_id, part, tpdu_len, pdu, state) VALUES (?1, ?2, ?3, ?4, 'pending')",
                    params![id, (i + 1) as i64, *len as i64, pdu],
                )?;
            }
            what.push(format!("text ({} part(s))", parts.len()));
        }
        if let Some(at) = not_before {
            // Back to the queue at the new time; the gate decides again then.
            exec(
                &tx,
                "UPDATE outbox SET not_before = ?2, next_attempt_at = ?2, state = 'queued',
                     modem = NULL, updated_at = ?3 WHERE id = ?1",
                params![id, at, now],
            )?;
            what.push("time".into());
        }
        event(
            &tx,
            now,
            "edited",
            Some(id),
            None,
            &format!("{} changed", what.join(" and ")),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Outgoing messages created in `[from, to)`, optionally to one number, oldest first.
    pub fn outbox_between(
        &self,
        from: i64,
        to: i64,
        number: Option<&str>,
    ) -> Result<Vec<MessageRow>> {
        self.messages(
            "WHERE created_at >= ?1 AND created_at < ?2 AND (?3 IS NULL OR recipient = ?3)
             ORDER BY created_at, id",
            params![from, to, number],
        )
    }

    /// Received messages in `[from, to)`, optionally from one number, oldest first.
    pub fn inbox_between(&self, from: i64, to: i64, number: Option<&str>) -> Result<Vec<InboxRow>> {
        self.inbox_rows(
            "WHERE received_at >= ?1 AND received_at < ?2 AND (?3 IS NULL OR sender = ?3)
             ORDER BY received_at, id",
            params![from, to, number],
        )
    }

    /// Consent entries recorded in `[from, to)`, optionally for one number.
    pub fn consent_between(
        &self,
        from: i64,
        to: i64,
        number: Option<&str>,
    ) -> Result<Vec<super::care::ConsentEntry>> {
        super::care::consent_rows(
            &self.conn,
            "WHERE at >= ?1 AND at < ?2 AND (?3 IS NULL OR number = ?3) ORDER BY id",
            params![from, to, number],
        )
    }
}

/// A one-question survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub name: String,
    pub question: String,
    /// `rating`, `yes_no`, `choice` or `free`.
    pub kind: String,
    /// For a rating: answers 1 to `scale`.
    pub scale: Option<i64>,
    /// For a choice: the options, in order.
    pub choices: Vec<String>,
    pub expiry_ms: i64,
    pub invalid_reply: String,
    pub thanks: String,
}

/// A survey the sender was asked and has not answered, still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSurvey {
    pub message_id: i64,
    pub survey: Survey,
    pub invalid_replies: i64,
}

/// One answer (or an open question) of a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyAnswerRow {
    pub number: String,
    pub message_id: i64,
    pub answer: Option<String>,
    pub answered_at: Option<i64>,
    pub expires_at: i64,
}

fn survey_row(r: &super::sql::Row<'_>) -> SqlResult<Survey> {
    let choices: Option<String> = r.get(4)?;
    Ok(Survey {
        name: r.get(0)?,
        question: r.get(1)?,
        kind: r.get(2)?,
        scale: r.get(3)?,
        choices: choices
            .map(|c| c.split('\n').map(str::to_string).collect())
            .unwrap_or_default(),
        expiry_ms: r.get(5)?,
        invalid_reply: r.get(6)?,
        thanks: r.get(7)?,
    })
}

const SURVEY_COLUMNS: &str =
    "name, question, kind, scale, choices, expiry_ms, invalid_reply, thanks";

/// The survey `number` was asked most recently and has not answered, if still open at `now`
/// and the question really went out.
pub(super) fn open_survey(tx: &Connection, number: &str, now: i64) -> Result<Option<OpenSurvey>> {
    let open: Option<(i64, String, i64)> = row(
        tx,
        "SELECT s.message_id, s.survey, s.invalid_replies FROM survey_sends s
           JOIN outbox o ON o.id = s.message_id
         WHERE s.number = ?1 AND s.answer IS NULL AND s.expires_at > ?2
           AND o.state IN ('sending', 'sent', 'delivered', 'unknown')
         ORDER BY s.message_id DESC LIMIT 1",
        params![number, now],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()?;
    let Some((message_id, name, invalid_replies)) = open else {
        return Ok(None);
    };
    let survey = row(
        tx,
        &format!("SELECT {SURVEY_COLUMNS} FROM surveys WHERE name = ?1"),
        params![name],
        survey_row,
    )
    .optional()?;
    Ok(survey.map(|survey| OpenSurvey {
        message_id,
        survey,
        invalid_replies,
    }))
}

/// Records what a reply did to an open survey: an answer, or one more invalid reply.
pub(super) fn record_survey_reply(
    tx: &Connection,
    message_id: i64,
    inbox_id: i64,
    answer: Option<&str>,
    now: i64,
) -> Result<()> {
    match answer {
        Some(a) => {
            exec(
                tx,
                "UPDATE survey_sends SET answer = ?2, answered_at = ?3, inbox_id = ?4 WHERE message_id = ?1",
                params![message_id, a, now, inbox_id],
            )?;
            event(
                tx,
                now,
                "survey_answer",
                Some(message_id),
                Some(inbox_id),
                &format!("answer {a}"),
            )
        }
        None => {
            exec(
                tx,
                "UPDATE survey_sends SET invalid_replies = invalid_replies + 1 WHERE message_id = ?1",
                params![message_id],
            )?;
            event(
                tx,
                now,
                "survey_invalid_answer",
                Some(message_id),
                Some(inbox_id),
                "not an answer to the question",
            )
        }
    }
}

impl Db {
    pub fn save_survey(&mut self, s: &Survey, now: i64) -> Result<()> {
        self.durable()?;
        exec(
            &self.conn,
            "INSERT INTO surveys (name, question, kind, scale, choices, expiry_ms, invalid_reply, thanks, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (name) DO UPDATE SET question = excluded.question, kind = excluded.kind,
                 scale = excluded.scale, choices = excluded.choices, expiry_ms = excluded.expiry_ms,
                 invalid_reply = excluded.invalid_reply, thanks = excluded.thanks",
            params![
                s.name,
                s.question,
                s.kind,
                s.scale,
                (!s.choices.is_empty()).then(|| s.choices.join("\n")),
                s.expiry_ms,
                s.invalid_reply,
                s.thanks,
                now
            ],
        )?;
        Ok(())
    }

    pub fn survey(&self, name: &str) -> Result<Option<Survey>> {
        Ok(row(
            &self.conn,
            &format!("SELECT {SURVEY_COLUMNS} FROM surveys WHERE name = ?1"),
            params![name],
            survey_row,
        )
        .optional()?)
    }

    /// Everyone asked survey `name`, with their answers.
    pub fn survey_answers(&self, name: &str) -> Result<Vec<SurveyAnswerRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT number, message_id, answer, answered_at, expires_at FROM survey_sends
             WHERE survey = ?1 ORDER BY message_id",
        )?;
        st.query_map(params![name], |r| {
            Ok(SurveyAnswerRow {
                number: r.get(0)?,
                message_id: r.get(1)?,
                answer: r.get(2)?,
                answered_at: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })?
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
    }
}
