//! Persistence: the only code that holds a SQLite connection. [`Db`] is the synchronous
//! database (schema, migrations, one transaction per state change); [`Store`] runs it on its
//! own thread behind an async handle, so the daemon's tasks never block on disk.
//!
//! Default location: `$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/smsq`, else
//! `~/.local/state/smsq`; the file is `smsq.db`.

pub mod db;

use std::path::{Path, PathBuf};

use tokio::sync::oneshot;

pub use db::{
    Db, Due, EventRow, Inbound, InboundPart, InboxRow, MessageRow, NewMessage, PartRow, ReportIn,
    ReportOutcome,
};

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A cloneable async handle to the database thread.
#[derive(Clone)]
pub struct Store {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Store {
    /// Opens (creating and migrating) the database at `path` on a thread of its own.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let db = Db::open(path)?;
        Ok(Self::spawn(db))
    }

    pub fn spawn(mut db: Db) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("smsq-store".into())
            .spawn(move || {
                for job in rx {
                    job(&mut db);
                }
            })
            .expect("the store thread starts");
        Self { jobs: tx }
    }

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = tx.send(f(db));
        });
        self.jobs.send(job).expect("the store thread is alive");
        rx.await.expect("the store thread answers")
    }
}

/// Where the database lives when `--db` is not given.
pub fn default_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("STATE_DIRECTORY")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("smsq")))
        .or_else(|| env("HOME").map(|h| h.join(".local/state/smsq")))
        .unwrap_or_else(|| PathBuf::from("."));
    dir.join("smsq.db")
}

#[cfg(test)]
mod tests;
