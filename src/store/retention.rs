//! Retention (erasing texts, deleting old records and history in small batches) and the
//! database's statistics.

use super::sql::params;

use super::db::*;

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
    /// Calls to other programs still to make, and given up.
    pub callbacks: super::CallbackCounts,
}

impl Db {
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
        // Every state but queued, held and sending (the term of the retention indexes: a list of
        // three, which SQLite tests without building a table for each row it updates).
        const FINISHED: &str = "state NOT IN ('queued', 'held', 'sending')";
        let tx = self.conn.savepoint()?;
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
                    .collect::<SqlResult<_>>()?
            };
            for id in &doomed {
                exec(
                    &tx,
                    "DELETE FROM status_reports WHERE message_id = ?1",
                    params![id],
                )?;
                exec(&tx, "DELETE FROM events WHERE message_id = ?1", params![id])?;
                exec(
                    &tx,
                    "DELETE FROM delivery_watches WHERE message_id = ?1",
                    params![id],
                )?;
                exec(
                    &tx,
                    "DELETE FROM outbox_parts WHERE message_id = ?1",
                    params![id],
                )?;
                changed += exec(&tx, "DELETE FROM outbox WHERE id = ?1", params![id])?;
            }
            let inbox: Vec<i64> = {
                let mut st =
                    tx.prepare_cached("SELECT id FROM inbox WHERE received_at < ?1 LIMIT ?2")?;
                st.query_map(params![before, batch], |r| r.get(0))?
                    .collect::<SqlResult<_>>()?
            };
            for id in &inbox {
                exec(&tx, "DELETE FROM events WHERE inbox_id = ?1", params![id])?;
                exec(
                    &tx,
                    "DELETE FROM inbox_parts WHERE message_id = ?1",
                    params![id],
                )?;
                changed += exec(&tx, "DELETE FROM inbox WHERE id = ?1", params![id])?;
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
            // A finished callback is history too.
            changed += exec(
                &tx,
                "DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks
                   WHERE state != 'pending' AND done_at < ?1 LIMIT ?2)",
                params![before, batch],
            )?;
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
            if let Some(lite) = self.conn.lite() {
                lite.execute_batch("PRAGMA incremental_vacuum(256)")?;
            }
        }
        Ok(changed)
    }

    /// Rows per table and the database's size, for `smsq stats`.
    pub fn stats(&self) -> Result<Stats> {
        let count = |table: &str| -> SqlResult<i64> {
            row(
                &self.conn,
                &format!("SELECT COUNT(*) FROM {table}"),
                params![],
                |r| r.get(0),
            )
        };
        // PostgreSQL's pages: its blocks, the whole database's (nothing is kept free for
        // reuse the way SQLite's free list is).
        let pragma = |name: &str| -> SqlResult<i64> {
            match self.conn.lite() {
                Some(lite) => Ok(lite.pragma_query_value(None, name, |r| r.get(0))?),
                None => {
                    let sql = match name {
                        "page_size" => "SELECT current_setting('block_size')::bigint",
                        "page_count" => {
                            "SELECT pg_database_size(current_database()) / current_setting('block_size')::bigint"
                        }
                        "user_version" => "SELECT MAX(version) FROM schema_version",
                        _ => "SELECT 0::bigint",
                    };
                    row(&self.conn, sql, params![], |r| r.get(0))
                }
            }
        };
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
            callbacks: self.callback_counts()?,
        })
    }
}
