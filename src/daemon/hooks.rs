//! The receive hook (`on_receive`), for shops moving from gammu-smsd's RunOnReceive: a
//! program run for every received message, one at a time, after the message is committed.
//!
//! It is started directly with the configured argv, never through a shell, and the message
//! reaches it only in environment variables, so no text a customer sends can become a
//! command (`; rm -rf ~` is just a text). gammu's variables are set too, for drop-in scripts.
//! It gets a time limit (default 2 minutes, like gammu) and is killed past it; its exit
//! status and the start of its output go to the history (`hook_ran`, `hook_failed`) and the
//! log.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Daemon;
use crate::phone;
use crate::time::now_ms;

/// The configured program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The program and its arguments, as given (no shell).
    pub argv: Vec<String>,
    pub timeout: Duration,
}

/// Received messages waiting for the hook, at most this many (a burst beyond it is logged and
/// recorded, not run: the messages themselves are stored either way).
const QUEUE: usize = 1000;

/// Most output kept from one run.
const OUTPUT_KEPT: usize = 2000;

/// Starts the runner; the returned sender takes the ids of received messages.
pub fn spawn(d: Arc<Daemon>) -> mpsc::Sender<i64> {
    let (tx, mut rx) = mpsc::channel::<i64>(QUEUE);
    tokio::spawn(async move {
        while let Some(inbox_id) = rx.recv().await {
            let Some(hook) = d.settings().on_receive.clone() else {
                continue;
            };
            run_one(&d, &hook, inbox_id).await;
        }
    });
    tx
}

async fn run_one(d: &Daemon, hook: &Hook, inbox_id: i64) {
    let message = match d.store.call(move |db| db.inbox_message(inbox_id)).await {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            warn!(event = "store_error", inbox_id, error = %e, "cannot read a received message for the hook");
            return;
        }
    };
    let text = message.body.clone().unwrap_or_default();
    let modem = message.modem.clone().unwrap_or_default();
    let mut command = tokio::process::Command::new(&hook.argv[0]);
    command
        .args(&hook.argv[1..])
        .env("SMSQ_NUMBER", &message.sender)
        .env("SMSQ_TEXT", &text)
        .env("SMSQ_MESSAGE_ID", inbox_id.to_string())
        .env("SMSQ_THREAD_ID", format!("{modem}:{}", message.sender))
        .env("SMSQ_MODEM", &modem)
        .env("SMSQ_COMPLETE", if message.complete { "1" } else { "0" })
        .env("SMS_MESSAGES", "1")
        .env("SMS_1_NUMBER", &message.sender)
        .env("SMS_1_TEXT", &text)
        .env("SMS_1_CLASS", "-1")
        .env("SMS_1_REFERENCE", "0")
        .env("DECODED_PARTS", "1")
        .env("DECODED_1_TEXT", &text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let outcome = match command.spawn() {
        Err(e) => Err(format!("cannot start {}: {e}", hook.argv[0])),
        Ok(mut child) => {
            let mut stdout = child.stdout.take();
            let mut stderr = child.stderr.take();
            // Both pipes at once: a program filling one while the other is read would wait
            // for ever.
            let read_all = async {
                let (out, err) = tokio::join!(drain(stdout.as_mut()), drain(stderr.as_mut()));
                let status = child.wait().await;
                (status, out, err)
            };
            match tokio::time::timeout(hook.timeout, read_all).await {
                Err(_) => Err(format!(
                    "killed after {} s (its time limit)",
                    hook.timeout.as_secs()
                )),
                Ok((Err(e), _, _)) => Err(format!("cannot wait for it: {e}")),
                Ok((Ok(status), out, err)) => {
                    let output: String = format!("{out}{err}").chars().take(OUTPUT_KEPT).collect();
                    Ok((status, output))
                }
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let (kind, detail) = match &outcome {
        Ok((status, output)) if status.success() => (
            "hook_ran",
            format!("exit 0 in {seconds:.1} s: {}", output.trim()),
        ),
        Ok((status, output)) => (
            "hook_failed",
            format!("{status} in {seconds:.1} s: {}", output.trim()),
        ),
        Err(why) => ("hook_failed", why.clone()),
    };
    if kind == "hook_ran" {
        info!(event = "hook_ran", inbox_id, from = %phone::mask(&message.sender), seconds, "receive hook ran");
    } else {
        warn!(event = "hook_failed", inbox_id, from = %phone::mask(&message.sender), detail = %detail, "receive hook failed");
    }
    let now = now_ms();
    let note = format!("message {inbox_id}: {detail}");
    if let Err(e) = d.store.call(move |db| db.note(kind, &note, now)).await {
        warn!(event = "store_error", error = %e, "cannot record the hook's outcome");
    }
}

/// Everything a pipe of the program gives, as text; a read that fails says so in the text.
async fn drain<R: tokio::io::AsyncRead + Unpin>(pipe: Option<&mut R>) -> String {
    let Some(pipe) = pipe else {
        return String::new();
    };
    let mut bytes = Vec::new();
    match pipe.read_to_end(&mut bytes).await {
        Ok(_) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!(
            "{}(output unreadable: {e})",
            String::from_utf8_lossy(&bytes)
        ),
    }
}
