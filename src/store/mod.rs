//! Persistence: the only code that holds a SQLite connection. [`Db`] is the synchronous
//! database (schema, migrations, one transaction per state change); [`Store`] runs it on its
//! own thread behind an async handle, so the daemon's tasks never block on disk.
//!
//! Three promises hold for every caller: a call's result arrives only after what it changed
//! is committed; a change that something irreversible follows (an answer to a client, a PDU
//! handed to the modem, a message deleted from the SIM) is flushed to the disk before the
//! result arrives (`Db::durable`); and subscribers get each committed event once, in commit
//! order, from the store's thread. Calls that queue up meanwhile share one transaction and
//! one flush ([`Store::spawn`]).
//!
//! Default location: `$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/smsq`, else
//! `~/.local/state/smsq`; the file is `smsq.db`.

mod callbacks;
mod care;
mod db;
mod events;
mod hosts;
mod inbox;
pub mod migrate;
mod outbox;
mod postgres;
mod reports;
mod retention;
mod schema;
mod sql;
pub mod state;
#[doc(hidden)]
pub mod throwaway;
mod web;
mod workflows;

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::mpsc::RecvTimeoutError;

use tokio::sync::{broadcast, oneshot};

pub use callbacks::{
    Attempt, CallbackCounts, CallbackRow, NewCallback, Watch, WatchRow, WebhookRow,
};
pub use care::{
    Class, ConsentEntry, ConsentSource, ConsentState, Contact, ContactChange, Decision,
    ImportOutcome, ImportRow, NewConsent, SendFacts,
};
pub use db::{Db, Result, StoreError};
pub use events::{EventRow, ReceivedSummary};
pub use hosts::{HostModem, HostRow};
pub use inbox::{Inbound, InboundFacts, InboundPart, InboxRow, Reaction};
pub use outbox::{
    Candidate, Due, DuePart, Enqueued, MessageDetail, MessageRow, NewMessage, PartRow, QueueCounts,
    Start,
};
pub use postgres::{Location, POSTGRES_SCHEMA_VERSION, hide_password, is_postgres_url};
pub use reports::{ReportIn, ReportOutcome};
pub use retention::Stats;
pub use schema::SCHEMA_VERSION;
pub use state::{MessageState, PartState};
pub use web::{WebSession, WebUser};
pub use workflows::{
    CampaignRow, NewText, OpenSurvey, Survey, SurveyAnswerRow, Template, ThreadEntry, ThreadRow,
};

/// One call's work on the database thread. It returns how to hand its result over, which
/// happens only once the transaction it ran in has committed (see [`Store::spawn`]).
type Job = Box<dyn FnOnce(&mut Db) -> Handover + Send>;

/// Gives a job's result to its caller; `Some` when the commit it waited for failed, so the
/// result must not be believed.
type Handover = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// Most calls committed together.
const GROUP_MAX: usize = 64;

/// Why the database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Its directory or files could not be created or made private.
    Files(std::io::Error),
    Database(StoreError),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Files(e) => write!(f, "{e}"),
            Self::Database(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// The database holds every customer's number and every text: its directory is created
/// 0700 and its files are 0600, whatever the umask of whoever started smsqd. The file is
/// created before SQLite opens it because SQLite gives the `-wal` and `-shm` files the mode
/// of the database file; files left wider by an older smsqd are narrowed. A directory that
/// already exists is not changed (it may be the shop's working directory).
fn make_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        match std::fs::metadata(file) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(file, Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A cloneable async handle to the database thread.
#[derive(Clone)]
pub struct Store {
    jobs: std::sync::mpsc::Sender<Job>,
    events: broadcast::Sender<Arc<EventRow>>,
    /// Other hosts write to the database too.
    shared: bool,
}

/// How often a host on a shared database looks for other hosts' events while idle.
const EVENT_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Events a subscriber may fall behind by before it is told it lagged.
const EVENT_BACKLOG: usize = 4096;

impl Store {
    /// Opens (creating and migrating) the store at `location` on a thread of its own.
    pub fn open_at(location: &Location) -> std::result::Result<Self, OpenError> {
        match location {
            Location::File(path) => Self::open(path),
            Location::Postgres(url) => {
                // The client blocks on a runtime of its own, which may not start inside the
                // caller's (smsqd's): it connects on a thread of its own.
                let db = std::thread::scope(|s| {
                    s.spawn(|| Db::open_postgres(url))
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .map_err(OpenError::Database)?;
                Ok(Self::spawn(db))
            }
        }
    }

    /// Opens (creating and migrating) the database at `path` on a thread of its own.
    pub fn open(path: &Path) -> std::result::Result<Self, OpenError> {
        make_private(path).map_err(OpenError::Files)?;
        let db = Db::open(path).map_err(OpenError::Database)?;
        Ok(Self::spawn(db))
    }

    /// Runs `db` on a thread of its own. Calls that queue up while the thread is busy (most
    /// often while it waits for the disk) run together in one transaction, each in a
    /// savepoint of its own, and their callers hear back only after that transaction
    /// committed: one WAL write and one flush serve several changes (group commit), and
    /// nothing is acknowledged before its commit. A call that fails rolls back its own
    /// savepoint only. If the commit fails, or SQLite rolled the whole transaction back on
    /// an error (a full disk), every call in it is told it failed, and the calls not yet run
    /// then run alone.
    pub fn spawn(mut db: Db) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let publish = events.clone();
        // On a shared database other hosts write events too: look for them this often when
        // nothing happens here.
        let shared = db.shared();
        let poll = shared.then_some(EVENT_POLL);
        std::thread::Builder::new()
            .name("smsq-store".into())
            .spawn(move || {
                let mut waiting: std::collections::VecDeque<Job> = Default::default();
                loop {
                    if waiting.is_empty() {
                        let next = match poll {
                            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                            Some(every) => rx.recv_timeout(every),
                        };
                        match next {
                            Ok(job) => waiting.push_back(job),
                            Err(RecvTimeoutError::Timeout) => {
                                publish_polled_events(&mut db, &publish);
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    while waiting.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(job) => waiting.push_back(job),
                            Err(_) => break,
                        }
                    }
                    run_group(&mut db, &mut waiting);
                    publish_new_events(&mut db, &publish);
                }
            })
            .expect("the store thread starts");
        Self {
            jobs: tx,
            events,
            shared,
        }
    }

    /// Whether other hosts share the database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// Every event committed from now on, in commit order (the history in the database
    /// has the earlier ones: [`Db::events_since`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.events.subscribe()
    }

    /// Runs `f` on the database thread and returns its result once what it changed is
    /// committed.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let result = f(db);
            Box::new(move |commit_failed: Option<&StoreError>| {
                let result = match commit_failed {
                    Some(e) => Err(StoreError::Commit(e.to_string())),
                    None => result,
                };
                // A caller that stopped waiting needs no answer.
                let _ = tx.send(result);
            })
        });
        self.jobs.send(job).expect("the store thread is alive");
        rx.await.expect("the store thread answers")
    }
}

/// Runs the jobs at the front of `waiting`: one alone, in its own transactions, or several in
/// one shared transaction. Jobs left in `waiting` (the shared transaction was lost midway)
/// run at the next turn.
fn run_group(db: &mut Db, waiting: &mut std::collections::VecDeque<Job>) {
    if waiting.len() == 1 || db.begin_group().is_err() {
        if let Some(job) = waiting.pop_front() {
            let handover = job(db);
            db.relax();
            handover(None);
        }
        return;
    }
    let mut handovers = Vec::with_capacity(waiting.len());
    let mut lost = None;
    while let Some(job) = waiting.pop_front() {
        handovers.push(job(db));
        if !db.in_group() {
            // SQLite rolled the whole transaction back (a full disk, an I/O error): what
            // ran in it is gone; the rest runs on its own.
            lost = Some(StoreError::Commit(
                "the transaction was rolled back by an error".into(),
            ));
            break;
        }
    }
    let failed = match lost {
        Some(e) => Some(e),
        None => db.commit_group().err(),
    };
    db.relax();
    if let Some(e) = &failed {
        tracing::warn!(event = "store_error", error = %e, calls = handovers.len(), "a shared commit failed; every change in it is reported failed");
    }
    for handover in handovers {
        handover(failed.as_ref());
    }
}

/// Hands every event committed since the last call to subscribers, on the store's thread,
/// right after the commit: they see exactly what was committed, in commit order, without
/// reading it back later.
fn publish_new_events(db: &mut Db, publish: &broadcast::Sender<Arc<EventRow>>) {
    match db.take_new_events() {
        Ok(new) => {
            for event in new {
                // Nobody listening is fine: the history keeps it.
                let _ = publish.send(Arc::new(event));
            }
        }
        Err(e) => {
            tracing::warn!(event = "store_error", error = %e, "cannot read the new history; subscribers get it after the next change")
        }
    }
}

/// Hands other hosts' events committed since the last look to subscribers.
fn publish_polled_events(db: &mut Db, publish: &broadcast::Sender<Arc<EventRow>>) {
    match db.poll_new_events() {
        Ok(new) => {
            for event in new {
                // Nobody listening is fine: the history keeps it.
                let _ = publish.send(Arc::new(event));
            }
        }
        Err(e) => {
            tracing::warn!(event = "store_error", error = %e, "cannot read other hosts' events; trying again")
        }
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
