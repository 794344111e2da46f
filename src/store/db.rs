//! The database handle: the connection, how it is opened (WAL, statement cache, migrations
//! before foreign keys are enforced), and the helpers every part of the store uses. Times
//! are Unix milliseconds, supplied by the caller (tests pass their own).

use std::path::Path;

use super::events::*;
pub(super) use super::sql::{
    Connection, OptionalExtension, Params, SqlError, SqlResult, exec, named_column, params, row,
};
use super::state::{MessageState, PartState};

named_column!(MessageState, "message state");
named_column!(PartState, "part state");

/// Why the store could not do what it was asked. Nothing was changed: every change is one
/// transaction, rolled back on any error.
#[derive(Debug)]
pub enum StoreError {
    /// The database refused or failed (disk full, I/O error, a constraint, a locked file, a
    /// lost connection).
    Database(SqlError),
    /// The database was written by a newer smsqd, whose schema this one does not know.
    NewerSchema { found: i64, supported: i64 },
    /// A migration would have left the database inconsistent, so it was not committed.
    Migration(String),
    /// Another host holds what this one asked for (a modem), or this host's registration
    /// is gone; in words.
    Held(String),
    /// The change was made, but the transaction it shared with others did not commit (the
    /// reason in words): it is not in the database.
    Commit(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "{e}"),
            Self::NewerSchema { found, supported } => write!(
                f,
                "database schema {found} is newer than this smsqd ({supported}); upgrade smsqd"
            ),
            Self::Migration(why) => write!(f, "cannot migrate the database: {why}"),
            Self::Held(why) => f.write_str(why),
            Self::Commit(why) => write!(f, "not committed: {why}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> Self {
        Self::Database(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.into())
    }
}

/// What the store's operations return.
pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Db {
    pub(super) conn: Connection,
    /// The last event handed to subscribers by [`Db::take_new_events`].
    pub(super) published: i64,
    /// `total_changes` when events were last looked for: unchanged, there is nothing new.
    pub(super) changes_seen: u64,
    /// Whether commits are flushed to the disk now (`synchronous = FULL`).
    flushing: bool,
    /// How far back a received message looks for the text it answers (ms).
    pub(super) reply_window: i64,
}

impl Db {
    /// The connection, for tests that look at how SQLite runs the store's statements.
    #[cfg(test)]
    pub(crate) fn connection(&mut self) -> &mut rusqlite::Connection {
        self.conn.lite_mut().expect("a SQLite store")
    }

    /// Makes the coming commit reach the disk before it returns. Called first by every
    /// change that is followed by something that cannot be taken back: an answer to a
    /// client (queued, cancelled, queued again), a PDU handed to the modem, a message
    /// deleted from the SIM. Other changes commit without a flush (`synchronous = NORMAL`
    /// in WAL mode): a power cut may undo them, and each falls back to a safe state (a part
    /// left `sending` becomes `unknown` at the next start, never resent). Inside a shared
    /// transaction the group commit already flushes.
    pub(super) fn durable(&mut self) -> Result<()> {
        // PostgreSQL flushes every commit (synchronous_commit, its default).
        if let Some(lite) = self.conn.lite()
            && !self.flushing
            && lite.is_autocommit()
        {
            lite.pragma_update(None, "synchronous", "FULL")?;
            self.flushing = true;
        }
        Ok(())
    }

    /// Back to commits without a flush once a durable change committed (the store's thread
    /// calls it after every call; code that drives a `Db` directly does the same).
    pub fn relax(&mut self) {
        if let Some(lite) = self.conn.lite()
            && self.flushing
            && lite.is_autocommit()
        {
            match lite.pragma_update(None, "synchronous", "NORMAL") {
                Ok(()) => self.flushing = false,
                // Flushing more than needed is safe: it stays FULL and tries again later.
                Err(e) => {
                    tracing::warn!(event = "store_error", error = %e, "cannot set synchronous back to NORMAL")
                }
            }
        }
    }

    /// Starts a transaction that several calls share (see `Store::spawn`); each call's own
    /// transaction becomes a savepoint inside it. Its commit is flushed to the disk: one
    /// flush for all of them.
    pub(super) fn begin_group(&mut self) -> Result<()> {
        if let Some(lite) = self.conn.lite()
            && !self.flushing
        {
            lite.pragma_update(None, "synchronous", "FULL")?;
            self.flushing = true;
        }
        Ok(self.conn.begin()?)
    }

    /// Runs several changes as one, under one commit flushed to the disk: a dispatcher
    /// records what its modem just did and starts the next part or message with one commit
    /// and one flush instead of two. If `f` fails, none of its changes is kept. Inside the
    /// store's shared transaction it is a savepoint there (that transaction's commit
    /// flushes).
    pub fn together<T>(&mut self, f: impl FnOnce(&mut Db) -> Result<T>) -> Result<T> {
        self.durable()?;
        let mark = self.conn.open_savepoint()?;
        let result = f(self);
        match &result {
            Ok(_) => self.conn.release_savepoint(mark)?,
            Err(_) => self.conn.undo_savepoint(mark),
        }
        result
    }

    /// Whether the shared transaction is still open (SQLite rolls it back by itself after
    /// some errors).
    pub(super) fn in_group(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Commits the shared transaction; on failure, rolls back what is left of it.
    pub(super) fn commit_group(&mut self) -> Result<()> {
        match self.conn.commit() {
            Ok(()) => Ok(()),
            Err(e) => {
                if !self.conn.is_autocommit()
                    && let Err(rollback) = self.conn.rollback()
                {
                    tracing::error!(event = "store_error", error = %rollback, "cannot roll back a failed group commit");
                }
                Err(e.into())
            }
        }
    }

    pub fn open(path: &Path) -> Result<Self> {
        Self::setup(rusqlite::Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::setup(rusqlite::Connection::open_in_memory()?)
    }

    pub(super) fn setup(conn: rusqlite::Connection) -> Result<Self> {
        // WAL keeps readers and the single writer apart. synchronous=NORMAL never corrupts
        // the file on power loss but may undo the last commits: changes that something
        // irreversible follows flush first (`durable`). A busy timeout covers a backup tool
        // holding a read lock.
        // A new file gives pages freed by retention back bit by bit (incremental_vacuum);
        // an existing one keeps its setting (changing it needs a full VACUUM).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // What a transaction must be able to undo (its savepoints, and the statement
        // journal of a change that may fail half-way) stays in memory: by default SQLite
        // spills it to a temporary file past 64 KiB, which the store's shared transaction
        // reaches, and each spill is a file created, written and deleted (writes an SD card
        // does not need). It holds at most the pages one transaction changes.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(128);
        // The bundled SQLite is built with STAT4, whose planner peeks at the values bound to
        // a statement and so recompiles it whenever they change: every call, for most of the
        // store's statements. Without ANALYZE there are no statistics to gain from it; the
        // query-planner stability guarantee keeps each compiled plan
        // (`store::tests::no_statement_on_the_daemons_paths_is_compiled_at_every_call`).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // Off while migrating (SQLite as bundled turns them on by default).
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        // Migrations rebuild tables, which foreign keys would forbid; they check the keys
        // themselves before committing.
        let mut conn = conn;
        super::schema::migrate_sqlite(&mut conn)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Self::with_connection(Connection::sqlite(conn))
    }

    /// The store on a connection whose schema is current.
    pub(super) fn with_connection(conn: Connection) -> Result<Self> {
        let mut db = Self {
            conn,
            published: 0,
            changes_seen: 0,
            flushing: false,
            reply_window: 72 * 3_600_000,
        };
        db.published = db.last_event_id()?;
        db.changes_seen = db.conn.total_changes();
        Ok(db)
    }

    /// Whether `sim` refused the PIN with `fingerprint` before.
    pub fn pin_refused(&self, sim: &str, fingerprint: &str) -> Result<bool> {
        row(
            &self.conn,
            "SELECT 1 FROM pin_refusals WHERE sim = ?1 AND fingerprint = ?2",
            params![sim, fingerprint],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
        .map_err(StoreError::from)
    }

    /// Remembers that `sim` refused the PIN with `fingerprint`.
    pub fn record_pin_refusal(&mut self, sim: &str, fingerprint: &str, now: i64) -> Result<()> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "INSERT INTO pin_refusals (sim, fingerprint, refused_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![sim, fingerprint, now],
        )?;
        event(
            &tx,
            now,
            "pin_refused",
            None,
            None,
            "a SIM refused the configured PIN; it will not be entered again",
        )?;
        Ok(tx.commit()?)
    }
}
