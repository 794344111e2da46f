//! The Unix-socket server: one task per connection, a bounded writer queue per connection,
//! subscriptions fed from the daemon's broadcast (a slow reader lags, it never blocks).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tracing::{Instrument, debug, info, warn};

use super::{ApiError, MAX_LINE, Op, Request, Response};
use crate::at::command::UssdString;
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

pub async fn serve(listener: UnixListener, d: Arc<Daemon>) {
    let mut shutdown = d.shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, d.clone()));
                }
                Err(e) => warn!(error = %e, "accept failed"),
            },
            _ = shutdown.changed() => {
                info!("no longer accepting requests");
                return;
            }
        }
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
            if buf.len() > MAX_LINE {
                buf.clear();
                discarding = true;
                let _ = tx
                    .send(reply(
                        Value::Null,
                        Err(ApiError::new(
                            "line_too_long",
                            format!("request lines are limited to {MAX_LINE} bytes"),
                        )),
                    ))
                    .await;
            }
        }
    }
    drop(tx);
    let _ = write_task.await;
}

fn reply(id: Value, result: Result<Value, ApiError>) -> String {
    let response = match result {
        Ok(v) => Response {
            id,
            ok: true,
            result: Some(v),
            error: None,
        },
        Err(e) => Response {
            id,
            ok: false,
            result: None,
            error: Some(e),
        },
    };
    serde_json::to_string(&response).unwrap_or_default()
}

async fn handle_line(line: &[u8], d: &Arc<Daemon>, peer: Peer, tx: &mpsc::Sender<String>) {
    let request: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            // Still echo the id when the line is JSON with one.
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            let _ = tx
                .send(reply(id, Err(ApiError::new("bad_request", e.to_string()))))
                .await;
            return;
        }
    };
    let span =
        tracing::info_span!("request", op = request.op.name(), uid = ?peer.uid, pid = ?peer.pid);
    handle_request(request, d, peer, tx).instrument(span).await;
}

async fn handle_request(request: Request, d: &Arc<Daemon>, peer: Peer, tx: &mpsc::Sender<String>) {
    debug!("request");
    let id = request.id.clone();
    let result = match request.op {
        Op::Send(s) => d.submit(s, peer).await,
        Op::Get { message } => d.get(message).await,
        Op::List(l) => d.list(l).await,
        Op::Cancel { message } => d.cancel(message).await,
        Op::Retry { message } => d.retry(message).await,
        Op::Modems => d.modems().await,
        Op::Estimate { text, encoding } => d.estimate(&text, encoding.as_deref()),
        Op::Ussd { code, modem } => {
            // The code goes into an AT command line: checked here, where it enters.
            let code = match UssdString::parse(&code) {
                Ok(code) => code,
                Err(e) => {
                    let e = ApiError::new("invalid_ussd", e.to_string());
                    let _ = tx.send(reply(id, Err(e))).await;
                    return;
                }
            };
            // USSD can take tens of seconds: answer from a task so other requests go on.
            let (d, tx, id) = (d.clone(), tx.clone(), id.clone());
            tokio::spawn(async move {
                let r = d.ussd(&code, modem.as_deref()).await;
                let _ = tx.send(reply(id, r)).await;
            });
            return;
        }
        Op::Subscribe { since } => {
            subscribe(d.clone(), id, since, tx.clone()).await;
            return;
        }
    };
    let _ = tx.send(reply(id, result)).await;
}

async fn subscribe(d: Arc<Daemon>, id: Value, since: Option<i64>, tx: mpsc::Sender<String>) {
    // Subscribe to live events first, then replay history, so nothing falls in between;
    // duplicates are filtered by event id.
    let mut live = d.events.subscribe();
    let mut last = match since {
        Some(since) => {
            let backlog = match d.history_since(since).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(reply(id, Err(e))).await;
                    return;
                }
            };
            let _ = tx
                .send(reply(
                    id,
                    Ok(json!({"subscribed": true, "replayed": backlog.len()})),
                ))
                .await;
            let mut last = since;
            for event in backlog {
                last = event["id"].as_i64().unwrap_or(last);
                if tx.send(json!({"event": event}).to_string()).await.is_err() {
                    return;
                }
            }
            last
        }
        None => {
            let _ = tx.send(reply(id, Ok(json!({"subscribed": true})))).await;
            0
        }
    };
    tokio::spawn(async move {
        loop {
            match live.recv().await {
                Ok(event) => {
                    let event_id = event["id"].as_i64().unwrap_or(0);
                    if event_id <= last {
                        continue;
                    }
                    last = event_id;
                    if tx.send(json!({"event": event}).to_string()).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let notice =
                        json!({"event": {"kind": "lagged", "missed": missed, "resume_from": last}});
                    if tx.send(notice.to_string()).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
