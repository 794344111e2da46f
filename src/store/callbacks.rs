//! What the HTTP interfaces promised to tell other programs, kept so that a restart loses
//! none of it: per message, the outcomes a client asked to hear about (a *watch*: Kannel's
//! `dlr-mask` and `dlr-url`, or an Android-gateway message id), the webhooks clients
//! registered, the HTTP calls still to make (*callbacks*: planned from committed events,
//! retried until they succeed or their time is up), and how far through the event history
//! each planner has read (its *cursor*).
//!
//! The planner reads events after its cursor, decides the calls, and commits them with the
//! cursor's new position and the outcomes now told in one transaction: each event is
//! planned exactly once, whether smsqd stops before or after.

use super::sql::{Connection, OptionalExtension, params};

use super::db::*;

/// The outcomes of a message a client asked to hear about, as the interface that took the
/// message understands them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The interface that took the message (`kannel`, `android`).
    pub interface: String,
    /// Which outcomes to tell (the interface's own bits).
    pub mask: u32,
    /// Where or how to tell them: a URL template, or the client's id of the message.
    pub target: String,
    /// The account that sent the message.
    pub account: Option<String>,
    /// What the client asked to have handed back with each outcome (Kannel's `meta-data`).
    pub meta: Option<String>,
}

/// A watch with the outcomes already told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRow {
    pub message_id: i64,
    pub watch: Watch,
    /// Outcomes already planned (bits of `mask`): each is told once.
    pub told: u32,
}

/// An HTTP call to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    /// Why: `dlr`, `mo` or `webhook`, for the operator.
    pub purpose: String,
    /// Calls in one queue are made in order, each after the one before it succeeded or was
    /// given up (a message's reports to one URL: "delivered" never overtakes "accepted").
    pub queue: String,
    pub message_id: Option<i64>,
    pub inbox_id: Option<i64>,
    /// GET or POST.
    pub method: String,
    pub url: String,
    pub body: Option<String>,
    pub content_type: Option<String>,
    /// Signed (HMAC of body and time) at each attempt, with the interface's key (webhooks).
    pub sign: bool,
    /// The answer's body is a reply to the message's sender (Kannel `sms-service`) of at
    /// most this many parts; 0: the answer is not a reply.
    pub reply_parts: u8,
    /// Attempts after which it is given up.
    pub max_attempts: i64,
    /// Unix ms after which it is given up.
    pub expires_at: i64,
}

/// A callback due now: the call as planned, and its record so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRow {
    pub id: i64,
    pub attempts: i64,
    pub created_at: i64,
    /// When it was due when read.
    pub next_at: i64,
    pub planned: NewCallback,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Done,
    /// Try again at this time (Unix ms).
    Retry {
        at: i64,
        error: String,
    },
    /// No more tries: the error stays on record with an event.
    GiveUp {
        error: String,
    },
}

/// A webhook a client registered (Android-gateway style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub event: String,
    pub created_at: i64,
}

/// Counts of callbacks by state, for `smsq status` and the modems page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    pub pending: i64,
    pub given_up: i64,
}

pub(super) fn add_watch(tx: &Connection, message_id: i64, w: &Watch) -> SqlResult<()> {
    exec(
        tx,
        "INSERT INTO delivery_watches (message_id, interface, mask, target, account, meta) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![message_id, w.interface, w.mask, w.target, w.account, w.meta],
    )?;
    Ok(())
}

fn watch_row(r: &super::sql::Row<'_>) -> SqlResult<WatchRow> {
    Ok(WatchRow {
        message_id: r.get(0)?,
        watch: Watch {
            interface: r.get(1)?,
            mask: r.get(2)?,
            target: r.get(3)?,
            account: r.get(4)?,
            meta: r.get(6)?,
        },
        told: r.get(5)?,
    })
}

fn callback_row(r: &super::sql::Row<'_>) -> SqlResult<CallbackRow> {
    Ok(CallbackRow {
        id: r.get(0)?,
        attempts: r.get(10)?,
        created_at: r.get(13)?,
        next_at: r.get(15)?,
        planned: NewCallback {
            purpose: r.get(1)?,
            message_id: r.get(2)?,
            inbox_id: r.get(3)?,
            method: r.get(4)?,
            url: r.get(5)?,
            body: r.get(6)?,
            content_type: r.get(7)?,
            sign: r.get(8)?,
            reply_parts: r.get(9)?,
            max_attempts: r.get(11)?,
            expires_at: r.get(12)?,
            queue: r.get(14)?,
        },
    })
}

const CALLBACK_COLUMNS: &str = "id, purpose, message_id, inbox_id, method, url, body, content_type, sign, reply, attempts, max_attempts, expires_at, created_at, queue, next_at";

impl Db {
    /// The watch on message `id`, if a client asked to hear about it.
    pub fn watch(&self, message_id: i64) -> Result<Option<WatchRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT message_id, interface, mask, target, account, told, meta FROM delivery_watches WHERE message_id = ?1",
            )?
            .query_row(params![message_id], watch_row)
            .optional()?)
    }

    /// The messages an interface's client knows by `target` (an Android-gateway message id
    /// names one message per recipient), in the order they were queued.
    pub fn watched_by_target(&self, interface: &str, target: &str) -> Result<Vec<WatchRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT message_id, interface, mask, target, account, told, meta FROM delivery_watches
             WHERE interface = ?1 AND target = ?2 ORDER BY message_id",
        )?;
        Ok(st
            .query_map(params![interface, target], watch_row)?
            .collect::<SqlResult<_>>()?)
    }

    /// The messages an interface's client knows as `target`, whole, in the order queued.
    pub fn watched_messages(
        &self,
        interface: &str,
        target: &str,
    ) -> Result<Vec<super::MessageDetail>> {
        let mut out = Vec::new();
        for w in self.watched_by_target(interface, target)? {
            if let Some(m) = self.message(w.message_id)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The ids an interface's clients gave their messages, newest first.
    pub fn watched_targets(&self, interface: &str, limit: i64, offset: i64) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT target FROM delivery_watches WHERE interface = ?1
             GROUP BY target ORDER BY MAX(message_id) DESC LIMIT ?2 OFFSET ?3",
        )?;
        Ok(st
            .query_map(params![interface, limit, offset], |r| r.get(0))?
            .collect::<SqlResult<_>>()?)
    }

    /// The last event a planner has read, or `None` before its first run.
    pub fn cursor(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT event_id FROM cursors WHERE name = ?1")?
            .query_row(params![name], |r| r.get(0))
            .optional()?)
    }

    /// Commits what a planner decided from the events after `from` (`None`: before its
    /// first run) up to `cursor`: the calls to make and the outcomes now told, with the
    /// cursor's new position, together. `false`, changing nothing, when the cursor is no
    /// longer at `from`: another host planned those events first.
    pub fn plan_callbacks(
        &mut self,
        name: &str,
        from: Option<i64>,
        cursor: i64,
        calls: &[NewCallback],
        told: &[(i64, u32)],
        now: i64,
    ) -> Result<bool> {
        // The calls go out right after: planned, they must not be planned again. A cursor
        // moved past events that cause no call may be undone by a power cut harmlessly.
        if !calls.is_empty() {
            self.durable()?;
        }
        let tx = self.conn.savepoint()?;
        // The cursor moves first: of two hosts planning the same events, the second waits
        // for the first's commit here, then finds the cursor moved and plans nothing.
        let moved = match from {
            Some(from) => exec(
                &tx,
                "UPDATE cursors SET event_id = ?3 WHERE name = ?1 AND event_id = ?2",
                params![name, from, cursor],
            )?,
            None => exec(
                &tx,
                "INSERT INTO cursors (name, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![name, cursor],
            )?,
        };
        if moved == 0 {
            return Ok(false);
        }
        for c in calls {
            exec(
                &tx,
                "INSERT INTO callbacks (created_at, purpose, message_id, inbox_id, method, url, body, content_type,
                    sign, reply, state, attempts, max_attempts, next_at, expires_at, queue)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', 0, ?11, ?1, ?12, ?13)",
                params![
                    now,
                    c.purpose,
                    c.message_id,
                    c.inbox_id,
                    c.method,
                    c.url,
                    c.body,
                    c.content_type,
                    c.sign,
                    c.reply_parts,
                    c.max_attempts,
                    c.expires_at,
                    c.queue
                ],
            )?;
        }
        for (message_id, bits) in told {
            exec(
                &tx,
                "UPDATE delivery_watches SET told = told | ?2 WHERE message_id = ?1",
                params![message_id, bits],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Takes the callbacks due at `now` (as [`Db::due_callbacks`]) for one attempt by this
    /// host: each is put off until `hold_until`, so that no other host makes the same call
    /// meanwhile; the attempt's outcome ([`Db::record_attempt`]) sets its real next time. If
    /// this host dies mid-call, another makes it after `hold_until`.
    pub fn claim_callbacks(
        &mut self,
        now: i64,
        limit: i64,
        hold_until: i64,
    ) -> Result<Vec<CallbackRow>> {
        let due = self.due_callbacks(now, limit)?;
        let tx = self.conn.savepoint()?;
        let mut claimed = Vec::with_capacity(due.len());
        for call in due {
            let took = exec(
                &tx,
                "UPDATE callbacks SET next_at = ?3 WHERE id = ?1 AND state = 'pending' AND next_at = ?2",
                params![call.id, call.next_at, hold_until],
            )?;
            if took == 1 {
                claimed.push(call);
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Callbacks due at `now`, oldest first: of each queue, only the first still pending.
    pub fn due_callbacks(&self, now: i64, limit: i64) -> Result<Vec<CallbackRow>> {
        let sql = format!(
            "SELECT {CALLBACK_COLUMNS} FROM callbacks c WHERE state = 'pending' AND next_at <= ?1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.state = 'pending'
                               AND e.queue = c.queue AND e.id < c.id)
             ORDER BY next_at, id LIMIT ?2"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        Ok(st
            .query_map(params![now, limit], callback_row)?
            .collect::<SqlResult<_>>()?)
    }

    /// When the next callback is due, if any is: of each queue only the first counts (the
    /// others wait for it, whatever their own time).
    pub fn next_callback_at(&self) -> Result<Option<i64>> {
        Ok(row(
            &self.conn,
            "SELECT MIN(next_at) FROM callbacks c WHERE state = 'pending'
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.state = 'pending'
                               AND e.queue = c.queue AND e.id < c.id)",
            params![],
            |r| r.get(0),
        )?)
    }

    /// Records an attempt of callback `id`. A callback given up leaves an event saying
    /// which, and why (the URL's host only: its query may hold a client's secrets).
    pub fn record_attempt(
        &mut self,
        id: i64,
        host: &str,
        outcome: &Attempt,
        now: i64,
    ) -> Result<()> {
        let tx = self.conn.savepoint()?;
        match outcome {
            Attempt::Done => {
                exec(
                    &tx,
                    "UPDATE callbacks SET state = 'done', attempts = attempts + 1, done_at = ?2, last_error = NULL WHERE id = ?1",
                    params![id, now],
                )?;
            }
            Attempt::Retry { at, error } => {
                exec(
                    &tx,
                    "UPDATE callbacks SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                    params![id, at, error],
                )?;
            }
            Attempt::GiveUp { error } => {
                exec(
                    &tx,
                    "UPDATE callbacks SET state = 'given_up', attempts = attempts + 1, done_at = ?2, last_error = ?3 WHERE id = ?1",
                    params![id, now, error],
                )?;
                let (message_id, inbox_id, purpose): (Option<i64>, Option<i64>, String) = row(
                    &tx,
                    "SELECT message_id, inbox_id, purpose FROM callbacks WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                super::events::event(
                    &tx,
                    now,
                    "callback_failed",
                    message_id,
                    inbox_id,
                    &format!("{purpose} callback {id} to {host} given up: {error}"),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Callbacks waiting and given up.
    pub fn callback_counts(&self) -> Result<CallbackCounts> {
        Ok(row(
            &self.conn,
            "SELECT COUNT(*) FILTER (WHERE state = 'pending'), COUNT(*) FILTER (WHERE state = 'given_up') FROM callbacks",
            params![],
            |r| {
                Ok(CallbackCounts {
                    pending: r.get(0)?,
                    given_up: r.get(1)?,
                })
            },
        )?)
    }

    /// Registers a webhook; `false` when one with this id exists (it is replaced).
    pub fn put_webhook(&mut self, hook: &WebhookRow) -> Result<bool> {
        let tx = self.conn.savepoint()?;
        let replaced = exec(&tx, "DELETE FROM webhooks WHERE id = ?1", params![&hook.id])? > 0;
        exec(
            &tx,
            "INSERT INTO webhooks (id, url, event, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![hook.id, hook.url, hook.event, hook.created_at],
        )?;
        tx.commit()?;
        Ok(!replaced)
    }

    /// Every registered webhook, oldest first.
    pub fn webhooks(&self) -> Result<Vec<WebhookRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, url, event, created_at FROM webhooks ORDER BY created_at, id",
        )?;
        Ok(st
            .query_map(params![], |r| {
                Ok(WebhookRow {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    event: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect::<SqlResult<_>>()?)
    }

    /// Removes a webhook; `false` when there was none with this id.
    pub fn delete_webhook(&mut self, id: &str) -> Result<bool> {
        Ok(exec(
            &self.conn,
            "DELETE FROM webhooks WHERE id = ?1",
            params![id],
        )? > 0)
    }
}
