//! The history: one event per state change, written in the change's own transaction, and
//! read back for subscribers (right after each commit, by the store's thread) and resumers.

use super::sql::{Connection, params};

use super::db::*;

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

/// How long a change on a shared database may take between writing an event and
/// committing it (see [`Db::events_since`]); the hosts' clocks must agree far better.
pub const IN_FLIGHT_MS: i64 = 5_000;

pub(super) fn event(
    tx: &Connection,
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

impl Db {
    pub(super) fn events(
        &self,
        filter: &str,
        args: super::sql::Params<'_>,
    ) -> Result<Vec<EventRow>> {
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
        .collect::<SqlResult<_>>()
        .map_err(StoreError::from)
    }

    /// History after event `since`, oldest first: what a subscriber resuming missed.
    ///
    /// On a database several hosts share, event ids are drawn when an event is written but
    /// become visible when its transaction commits, so a later id can be seen first. The
    /// history read stops before a missing id, until the change that drew it has had five
    /// seconds (`IN_FLIGHT_MS`) to commit, judged by the time of the next event seen; after
    /// that it was rolled back and is passed over. Readers thus get every event once, in id
    /// order.
    pub fn events_since(&self, since: i64, limit: i64) -> Result<Vec<EventRow>> {
        let mut events = self.events(
            "WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
            params![since, limit],
        )?;
        if self.conn.is_postgres() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let settled = now - IN_FLIGHT_MS;
            let mut expected = since + 1;
            let complete = events
                .iter()
                .position(|e| {
                    let wait = e.id != expected && e.at > settled;
                    expected = e.id + 1;
                    wait
                })
                .unwrap_or(events.len());
            events.truncate(complete);
        }
        Ok(events)
    }

    /// The events committed since the last call, oldest first, for the store's thread to
    /// hand to subscribers right after each change: in commit order, each once. Cheap when
    /// nothing changed (no statement runs).
    pub fn take_new_events(&mut self) -> Result<Vec<EventRow>> {
        let changes = self.conn.total_changes();
        if changes == self.changes_seen {
            return Ok(Vec::new());
        }
        self.changes_seen = changes;
        self.read_new_events()
    }

    /// Whether other programs write to the database too (other hosts on PostgreSQL), so
    /// that new events must be looked for even when this host changed nothing.
    pub fn shared(&self) -> bool {
        self.conn.is_postgres()
    }

    /// The events committed since the last call by anyone (other hosts included), oldest
    /// first, each once (see [`Db::events_since`]).
    pub fn poll_new_events(&mut self) -> Result<Vec<EventRow>> {
        self.changes_seen = self.conn.total_changes();
        self.read_new_events()
    }

    fn read_new_events(&mut self) -> Result<Vec<EventRow>> {
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
        Ok(out)
    }

    pub fn last_event_id(&self) -> Result<i64> {
        row(
            &self.conn,
            "SELECT COALESCE(MAX(id), 0) FROM events",
            params![],
            |r| r.get(0),
        )
        .map_err(StoreError::from)
    }

    /// Records something that is not about one message (a modem's state changing).
    pub fn note(&mut self, kind: &str, detail: &str, now: i64) -> Result<()> {
        let tx = self.conn.savepoint()?;
        event(&tx, now, kind, None, None, detail)?;
        Ok(tx.commit()?)
    }
}
