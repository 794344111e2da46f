//! Moving a shop's SQLite database to PostgreSQL (`smsqd migrate --to postgres://…`), when it
//! grows to several hosts: every row of every table, with its id, in one PostgreSQL
//! transaction, from one consistent read of the SQLite file. The target must be empty; a
//! failure leaves it as it was.

use std::path::Path;

use super::db::*;
use super::sql::{Cell, Val};

/// The tables, parents before children (foreign keys), and whether each has an `id` that
/// PostgreSQL numbers.
const TABLES: &[(&str, bool)] = &[
    ("campaigns", true),
    ("outbox", true),
    ("outbox_parts", false),
    ("inbox", true),
    ("inbox_parts", true),
    ("quarantine", true),
    ("status_reports", true),
    ("events", true),
    ("pin_refusals", false),
    ("contacts", false),
    ("contact_fields", false),
    ("contact_tags", false),
    ("contact_groups", false),
    ("suppressions", false),
    ("consent_events", true),
    ("templates", false),
    ("surveys", false),
    ("survey_sends", false),
    ("threads", false),
    ("delivery_watches", false),
    ("callbacks", true),
    ("cursors", false),
    ("webhooks", false),
    ("web_users", false),
    ("web_sessions", false),
    ("web_setup", false),
    ("hosts", false),
    ("host_modems", false),
];

/// Rows copied, per table, in copy order.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies the SQLite database at `from` (brought to the current schema first) into the
/// empty PostgreSQL database `to` (whose schema is created).
pub fn sqlite_to_postgres(from: &Path, to: &str, now: i64) -> Result<Copied> {
    if !from.exists() {
        return Err(StoreError::Migration(format!(
            "{} does not exist",
            from.display()
        )));
    }
    // Opening migrates the file to this smsqd's schema, as a start would.
    drop(Db::open(from)?);
    let mut source =
        rusqlite::Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let running: Option<(String, i64)> = source
        .query_row(
            "SELECT name, heartbeat_at FROM hosts WHERE stopped_at IS NULL AND lease_until > ?1
             ORDER BY heartbeat_at DESC LIMIT 1",
            [now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    if let Some((host, beat)) = running {
        return Err(StoreError::Migration(format!(
            "smsqd ({host}) is running on {} (heartbeat {} s ago): stop it first",
            from.display(),
            (now - beat) / 1000
        )));
    }
    drop(Db::open_postgres(to)?);
    let mut target = super::postgres::connect(to)?;
    let pg = |e: postgres::Error| StoreError::Database(SqlError::Postgres(e));
    // One read of the file: what other programs write meanwhile is not half copied.
    let snapshot = source.transaction()?;
    let mut tx = target.transaction().map_err(pg)?;
    for table in ["outbox", "inbox", "events", "contacts", "consent_events"] {
        let rows: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .map_err(pg)?
            .get(0);
        if rows > 0 {
            return Err(StoreError::Migration(format!(
                "the PostgreSQL database already holds data ({rows} rows in {table}): migrate into an empty one"
            )));
        }
    }
    let mut copied = Vec::with_capacity(TABLES.len());
    for &(table, numbered) in TABLES {
        let mut st = snapshot.prepare(&format!("SELECT * FROM {table}"))?;
        let columns: Vec<String> = st.column_names().map(|c| format!("\"{c}\"")).collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            ))
            .map_err(pg)?;
        let mut rows = st.query([])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            let cells: Vec<Cell<'_>> = (0..columns.len())
                .map(|i| row.get_ref(i).map(super::sql::lite_cell))
                .collect::<rusqlite::Result<_>>()?;
            let values: Vec<Val<'_>> = cells.iter().map(|c| c.as_value()).collect();
            let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
                .iter()
                .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                .collect();
            tx.execute(&insert, &refs).map_err(pg)?;
            n += 1;
        }
        if numbered {
            // New rows are numbered after the copied ones.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                ),
                &[],
            )
            .map_err(pg)?;
        }
        copied.push((table, n));
    }
    tx.commit().map_err(pg)?;
    drop(snapshot);
    Ok(copied)
}
