//! The Unix-socket server: one task per connection, a bounded writer queue per connection,
//! subscriptions fed from the daemon's broadcast (a slow reader lags, it never blocks).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tracing::{Instrument, debug, info, warn};

use super::handlers;
use super::protocol::{
    ApiError, ErrorCode, Lagged, MAX_REQUEST_LINE, Pushed, Reply, Request, RequestLine, Subscribed,
};
use crate::daemon::{Daemon, Peer};

/// The listening socket systemd passed (socket activation, sd_listen_fds(3)), if any.
///
/// Must be called before any other thread exists (it clears the activation variables, and
/// changing the environment is only sound while single-threaded): `smsqd` calls it first
/// thing in `main`, before the runtime starts.
pub fn from_systemd() -> std::io::Result<Option<std::os::unix::net::UnixListener>> {
    const SD_LISTEN_FDS_START: i32 = 3;
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .is_some_and(|pid| pid.trim() == std::process::id().to_string());
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    if !ours || count < 1 {
        return Ok(None);
    }
    // SAFETY: called while the process is single-threaded (see above); no other code reads
    // the environment concurrently. Clearing makes sure nothing wraps the fd twice.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    use std::os::fd::FromRawFd;
    // SAFETY: per sd_listen_fds(3), with LISTEN_PID naming this process, fd 3 is an open
    // listening socket systemd handed over and nothing else in this process owns; it is
    // wrapped exactly once (the variables are gone now).
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(SD_LISTEN_FDS_START) };
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// Binds the socket at `path` (mode 0660), replacing a stale one but never a live one.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use: is another smsqd running?", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Accepts connections until shutdown. At most `max_connections` (live setting) are served
/// at once; a further client gets one `too_many_connections` line and is closed, so a flood
/// cannot take the descriptors smsqd needs for its database and modems. When `accept` itself
/// fails (descriptors exhausted all the same, memory), the loop backs off instead of spinning,
/// and the failure is logged at most once per [`ACCEPT_LOG_EVERY`] with a count.
pub async fn serve(listener: UnixListener, d: Arc<Daemon>) {
    let mut shutdown = d.shutdown.clone();
    let active = Arc::new(AtomicUsize::new(0));
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    let limit = d.settings().max_connections;
                    if active.load(Ordering::Relaxed) >= limit {
                        refuse_busy(stream, limit);
                        continue;
                    }
                    let guard = ActiveConnection::new(&active);
                    let d = d.clone();
                    tokio::spawn(async move {
                        connection(stream, d).await;
                        drop(guard);
                    });
                }
                Err(e) => {
                    let pause = backoff.failed(&e, std::time::Instant::now());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {
                            info!("no longer accepting requests");
                            return;
                        }
                    }
                }
            },
            _ = shutdown.changed() => {
                info!("no longer accepting requests");
                return;
            }
        }
    }
}

/// How often a persisting `accept` failure is logged.
pub const ACCEPT_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The pause after each failed `accept` (doubling from 10 ms to 1 s, back to nothing after
/// a success) and the rate limit on its log line.
#[derive(Debug, Default)]
struct AcceptBackoff {
    pause: std::time::Duration,
    last_logged: Option<std::time::Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    fn failed(&mut self, e: &std::io::Error, now: std::time::Instant) -> std::time::Duration {
        self.pause = (self.pause * 2).clamp(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_secs(1),
        );
        if self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_LOG_EVERY)
        {
            warn!(event = "accept_failed", error = %e, suppressed = self.suppressed, retry_in_ms = self.pause.as_millis() as u64, "cannot accept socket connections; backing off");
            self.last_logged = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        self.pause
    }

    fn succeeded(&mut self) {
        self.pause = std::time::Duration::ZERO;
    }
}

/// Counts a served connection for as long as it lives.
struct ActiveConnection(Arc<AtomicUsize>);

impl ActiveConnection {
    fn new(active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::Relaxed);
        Self(active.clone())
    }
}

impl Drop for ActiveConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Tells a client over the limit why it is turned away, without waiting on it: the line
/// fits in the socket buffer of a new connection, and a client that is not reading loses
/// nothing it asked for.
fn refuse_busy(stream: UnixStream, limit: usize) {
    debug!(limit, "connection refused: too many at once");
    let error = ApiError::new(
        ErrorCode::TooManyConnections,
        format!("smsqd serves at most {limit} connections at once; close one or try again"),
    );
    let mut line = reply::<()>(Value::Null, Err(error));
    line.push('\n');
    // One non-blocking write straight to the socket: tokio's `try_write` would answer
    // WouldBlock until its reactor had seen the new socket become writable.
    let written = stream
        .into_std()
        .and_then(|mut s| std::io::Write::write(&mut s, line.as_bytes()));
    if let Err(e) = written {
        debug!(error = %e, "could not tell a refused client why");
    }
}

async fn connection(stream: UnixStream, d: Arc<Daemon>) {
    let peer = stream
        .peer_cred()
        .map(|c| Peer {
            uid: Some(c.uid()),
            pid: c.pid(),
        })
        .unwrap_or_default();
    let (mut reader, mut writer) = stream.into_split();
    // Responses and events for this client; bounded, so a client that never reads costs a
    // fixed amount of memory.
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let write_task = tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            if writer.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut discarding = false;
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &chunk[..n] {
            if b == b'\n' {
                if discarding {
                    discarding = false;
                } else {
                    let line = std::mem::take(&mut buf);
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        handle_line(&line, &d, peer, &tx).await;
                    }
                }
                buf.clear();
                continue;
            }
            if discarding {
                continue;
            }
            buf.push(b);
            if buf.len() > MAX_REQUEST_LINE {
                buf.clear();
                discarding = true;
                let refusal = ApiError::new(
                    ErrorCode::LineTooLong,
                    format!("request lines are limited to {MAX_REQUEST_LINE} bytes"),
                );
                if tx
                    .send(reply::<()>(Value::Null, Err(refusal)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = write_task.await;
}

/// One answer line. Serialising these types cannot fail (no maps with non-string keys, no
/// floats that JSON lacks); if it ever did, the client still gets an error it understands.
fn reply<T: Serialize>(id: Value, outcome: Result<T, ApiError>) -> String {
    serde_json::to_string(&Reply::new(id.clone(), outcome)).unwrap_or_else(|e| {
        let error = ApiError::new(
            ErrorCode::StoreError,
            format!("cannot encode the answer: {e}"),
        );
        serde_json::to_string(&Reply::<()>::new(id, Err(error))).unwrap_or_default()
    })
}

/// A pushed event line.
fn pushed(event: Pushed) -> String {
    #[derive(Serialize)]
    struct Line {
        event: Pushed,
    }
    serde_json::to_string(&Line { event }).unwrap_or_default()
}

async fn handle_line(line: &[u8], d: &Arc<Daemon>, peer: Peer, tx: &mpsc::Sender<String>) {
    let request: RequestLine = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            // Still echo the id when the line is JSON with one.
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            let refusal = ApiError::new(ErrorCode::BadRequest, e.to_string());
            // A client that went away needs no answer.
            let _ = tx.send(reply::<()>(id, Err(refusal))).await;
            return;
        }
    };
    let span = tracing::info_span!("request", op = request.request.name(), uid = ?peer.uid, pid = ?peer.pid);
    handle_request(request, d, peer, tx).instrument(span).await;
}

/// Runs one request through its handler and queues the answer (a client that went away
/// needs none: a failed send to its writer is not an error).
async fn handle_request(line: RequestLine, d: &Arc<Daemon>, peer: Peer, tx: &mpsc::Sender<String>) {
    debug!("request");
    let id = line.id;
    let answer = match line.request {
        Request::Send(r) => reply(id, handlers::send(d, r, peer).await),
        Request::Get(r) => reply(id, handlers::get(d, r).await),
        Request::List(r) => reply(id, handlers::list(d, r).await),
        Request::Cancel(r) => reply(id, handlers::cancel(d, r).await),
        Request::Retry(r) => reply(id, handlers::retry(d, r).await),
        Request::Modems(r) => reply(id, handlers::modems(d, r).await),
        Request::Stats(r) => reply(id, handlers::stats(d, r).await),
        Request::Hosts(r) => reply(id, handlers::hosts(d, r).await),
        Request::Estimate(r) => reply(id, handlers::estimate(d, r)),
        Request::ContactSave(r) => reply(id, handlers::contact_save(d, r).await),
        Request::Contact(r) => reply(id, handlers::contact(d, r).await),
        Request::Contacts(r) => reply(id, handlers::contacts(d, r).await),
        Request::ContactRemove(r) => reply(id, handlers::contact_remove(d, r).await),
        Request::GroupSave(r) => reply(id, handlers::group_save(d, r).await),
        Request::Consent(r) => reply(id, handlers::consent(d, r).await),
        Request::ConsentRecord(r) => reply(id, handlers::consent_record(d, r, peer).await),
        Request::SubjectExport(r) => reply(id, handlers::subject_export(d, r).await),
        Request::SubjectErase(r) => reply(id, handlers::subject_erase(d, r).await),
        Request::SetClock(r) => reply(id, handlers::set_clock(d, r)),
        Request::WebSetup(r) => reply(id, handlers::web_setup(d, r).await),
        Request::TemplateSave(r) => reply(id, handlers::template_save(d, r).await),
        Request::Template(r) => reply(id, handlers::template(d, r).await),
        Request::Templates(r) => reply(id, handlers::templates(d, r).await),
        Request::TemplateRemove(r) => reply(id, handlers::template_remove(d, r).await),
        Request::CampaignPreview(r) => reply(id, handlers::campaign_preview(d, r).await),
        Request::CampaignStart(r) => reply(id, handlers::campaign_start(d, r, peer).await),
        Request::Campaigns(r) => reply(id, handlers::campaigns(d, r).await),
        Request::CampaignCancel(r) => reply(id, handlers::campaign_cancel(d, r).await),
        Request::Threads(r) => reply(id, handlers::threads(d, r).await),
        Request::Thread(r) => reply(id, handlers::thread(d, r).await),
        Request::Reply(r) => reply(id, handlers::reply(d, r, peer).await),
        Request::ThreadState(r) => reply(id, handlers::thread_state(d, r).await),
        Request::Scheduled(r) => reply(id, handlers::scheduled(d, r).await),
        Request::Edit(r) => reply(id, handlers::edit(d, r).await),
        Request::Export(r) => reply(id, handlers::export(d, r).await),
        Request::ContactsImport(r) => reply(id, handlers::contacts_import(d, r, peer).await),
        Request::SurveySave(r) => reply(id, handlers::survey_save(d, r).await),
        Request::SurveyResults(r) => reply(id, handlers::survey_results(d, r).await),
        Request::Ussd(r) => {
            let code = match handlers::ussd_code(&r) {
                Ok(code) => code,
                Err(e) => {
                    let _ = tx.send(reply::<()>(id, Err(e))).await;
                    return;
                }
            };
            // USSD can take tens of seconds: answer from a task so other requests go on.
            let (d, tx) = (d.clone(), tx.clone());
            tokio::spawn(async move {
                let answer = reply(id, handlers::ussd(&d, code, r.modem).await);
                let _ = tx.send(answer).await;
            });
            return;
        }
        Request::Subscribe(r) => {
            subscribe(d.clone(), id, r.since, tx.clone()).await;
            return;
        }
    };
    let _ = tx.send(answer).await;
}

async fn subscribe(d: Arc<Daemon>, id: Value, since: Option<i64>, tx: mpsc::Sender<String>) {
    // Subscribe to live events first, then replay history, so nothing falls in between;
    // duplicates are filtered by event id.
    let mut live = d.subscribe();
    let mut last = match since {
        Some(since) => {
            let backlog = match d.history_since(since).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(reply::<()>(id, Err(handlers::api_error(e)))).await;
                    return;
                }
            };
            let subscribed = Subscribed {
                subscribed: true,
                replayed: Some(backlog.len()),
            };
            if tx.send(reply(id, Ok(subscribed))).await.is_err() {
                return;
            }
            let mut last = since;
            for event in backlog {
                last = event.id;
                if tx
                    .send(pushed(Pushed::Event(handlers::event(&event))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            last
        }
        None => {
            let subscribed = Subscribed {
                subscribed: true,
                replayed: None,
            };
            if tx.send(reply(id, Ok(subscribed))).await.is_err() {
                return;
            }
            0
        }
    };
    tokio::spawn(async move {
        loop {
            match live.recv().await {
                Ok(event) => {
                    if event.id <= last {
                        continue;
                    }
                    last = event.id;
                    if tx
                        .send(pushed(Pushed::Event(handlers::event(&event))))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let notice = Pushed::Lagged(Lagged {
                        kind: "lagged".into(),
                        missed,
                        resume_from: last,
                    });
                    if tx.send(pushed(notice)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
