//! The store on PostgreSQL: connecting, and bringing the schema to this smsqd's version.
//! Several smsqd hosts may start at once against one database; the first to take the
//! migration lock creates or upgrades the schema, the others wait for it and find it done.

use super::db::*;

/// The PostgreSQL schema's versions, in order; the last is this smsqd's.
const MIGRATIONS: &[&str] = &[include_str!("schema_postgres.sql")];

/// The version this smsqd writes on PostgreSQL.
pub const POSTGRES_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Any number that the hosts of one database agree on: the advisory lock held while the
/// schema is created or upgraded ("smsq" in ASCII).
const MIGRATION_LOCK: i64 = 0x736d_7371;

/// Whether `database` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://")
        || database.starts_with("postgresql://")
        || database.starts_with("host=")
}

/// Connects to the PostgreSQL database `url` (a `postgres://` URL or `key=value` pairs).
/// The password, if any, never appears in an error.
pub(super) fn connect(url: &str) -> Result<postgres::Client> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StoreError::Database(SqlError::Postgres(e)))?;
    let mut client = config
        .connect(postgres::NoTls)
        .map_err(|e| StoreError::Database(SqlError::Postgres(e)))?;
    // Times and text as the store writes them, whatever the server's defaults are.
    client
        .batch_execute("SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'")
        .map_err(|e| StoreError::Database(SqlError::Postgres(e)))?;
    Ok(client)
}

/// Creates or upgrades the schema in one transaction, under the migration lock.
pub(super) fn migrate(client: &mut postgres::Client, now: i64) -> Result<()> {
    let pg = |e: postgres::Error| StoreError::Database(SqlError::Postgres(e));
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .map_err(pg)?
        .get(0);
    let version: i64 = if exists {
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(pg)?
            .get(0)
    } else {
        0
    };
    if version > POSTGRES_SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: POSTGRES_SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(pg)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
            &[&(i as i64 + 1), &now],
        )
        .map_err(pg)?;
    }
    tx.commit().map_err(pg)
}

impl Db {
    /// Opens the store on the PostgreSQL database `url`, creating or upgrading its schema.
    pub fn open_postgres(url: &str) -> Result<Self> {
        let mut client = connect(url)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        migrate(&mut client, now)?;
        Self::with_connection(Connection::postgres(client))
    }
}
