//! Where smsqd's logs go: native journald fields when stderr is the journal (systemd sets
//! `JOURNAL_STREAM` to the device and inode of that stream), readable text on stderr
//! otherwise, or when the journal cannot be reached.
//!
//! Fields keep their names under an `SMSQ_` prefix (not the library's `F_`), so operators
//! can filter: `journalctl -u smsqd SMSQ_MESSAGE_ID=12`, `SMSQ_MODEM=globe`,
//! `SMSQ_EVENT=send_failed`. Priorities: routine sends and receipts are info, a failed or
//! retried send a warning, a lost or unusable modem an error.

use std::os::unix::fs::MetadataExt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether stderr is the stream `JOURNAL_STREAM` names (`"<device>:<inode>"`).
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.trim().split_once(':') else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(meta.dev()) && ino.parse::<u64>().ok() == Some(meta.ino())
}

type FilterHandle = tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>;

/// Lets a SIGHUP change the log level without restarting.
static FILTER: std::sync::OnceLock<FilterHandle> = std::sync::OnceLock::new();

/// Installs the global subscriber. Returns where logs go, for the first log line.
pub fn init(level: &str) -> &'static str {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let _ = FILTER.set(handle);
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal()
        && let Ok(layer) = tracing_journald::layer()
    {
        let layer = layer
            .with_field_prefix(Some("SMSQ".into()))
            .with_syslog_identifier("smsqd".into());
        registry.with(layer).init();
        return "journald";
    }
    registry
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a person at a terminal who did not ask for none
                // (https://no-color.org).
                .with_ansi(
                    std::io::IsTerminal::is_terminal(&std::io::stderr())
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                )
                .with_target(false),
        )
        .init();
    "stderr"
}

/// Changes the log level (or RUST_LOG-style filter) of the running daemon.
pub fn set_level(level: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(level).map_err(|e| format!("log_level {level:?}: {e}"))?;
    FILTER
        .get()
        .ok_or("logging is not initialised")?
        .reload(filter)
        .map_err(|e| e.to_string())
}
