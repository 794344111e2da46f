//! The local API: newline-delimited JSON over a Unix socket. These are the daemon's only
//! serde types; the `smsq` client uses the same ones, so the two cannot drift.
//!
//! One request object per line, with a client-chosen `id` echoed in its response:
//!
//! ```text
//! → {"id":1,"op":"send","to":["09171234567"],"text":"Your documents are ready."}
//! ← {"id":1,"ok":true,"result":{"messages":[{"id":12,"to":"+639171234567","parts":1}]}}
//! → {"id":2,"op":"get","message":12}
//! ← {"id":2,"ok":true,"result":{"id":12,"state":"delivered","parts":[...],"history":[...]}}
//! → {"id":3,"op":"list","box":"inbox","limit":20}
//! → {"id":4,"op":"cancel","message":13}
//! → {"id":5,"op":"retry","message":14}
//! → {"id":6,"op":"modems"}
//! → {"id":7,"op":"ussd","code":"*143#"}
//! → {"id":8,"op":"estimate","text":"Cześć!"}
//! → {"id":9,"op":"subscribe","since":120}
//! ← {"event":{"id":121,"kind":"received","inbox_id":4,"from":"+639171234567","text":"Thanks!",...}}
//! ← {"id":10,"ok":false,"error":{"code":"invalid_number","message":"..."}}
//! ```
//!
//! Errors carry a stable `code`. A malformed line gets an error response (with `id` null)
//! and the connection stays open; lines over [`MAX_LINE`] bytes are refused. A subscriber
//! that reads too slowly gets `{"event":{"kind":"lagged","resume_from":N}}` and can
//! subscribe again with `since: N`; it never slows the daemon down.

pub mod client;
pub mod server;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest request line accepted.
pub const MAX_LINE: usize = 64 * 1024;

/// The states an outgoing message can be in (the README's table), for `list` filters: the
/// store's own names ([`crate::store::MessageState`]).
pub const MESSAGE_STATES: [&str; 8] = {
    let mut names = [""; 8];
    let mut i = 0;
    while i < names.len() {
        names[i] = crate::store::MessageState::ALL[i].as_str();
        i += 1;
    }
    names
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub id: Value,
    #[serde(flatten)]
    pub op: Op,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Send(SendRequest),
    Get {
        message: i64,
    },
    List(ListRequest),
    Cancel {
        message: i64,
    },
    Retry {
        message: i64,
    },
    Modems,
    /// Database size, rows per table and retention.
    Stats,
    Ussd {
        code: String,
        #[serde(default)]
        modem: Option<String>,
    },
    Estimate {
        text: String,
        #[serde(default)]
        encoding: Option<String>,
    },
    Subscribe {
        #[serde(default)]
        since: Option<i64>,
    },
}

impl Op {
    /// The `op` of the request as clients write it, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send(_) => "send",
            Self::Get { .. } => "get",
            Self::List(_) => "list",
            Self::Cancel { .. } => "cancel",
            Self::Retry { .. } => "retry",
            Self::Modems => "modems",
            Self::Stats => "stats",
            Self::Ussd { .. } => "ussd",
            Self::Estimate { .. } => "estimate",
            Self::Subscribe { .. } => "subscribe",
        }
    }
}

/// `to` takes one number or a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    pub fn list(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendRequest {
    pub to: Recipients,
    pub text: String,
    /// auto (default), gsm7, ucs2, gsm7-fold.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Higher goes first; default 0.
    #[serde(default)]
    pub priority: Option<i64>,
    /// RFC 3339: not sent before this time.
    #[serde(default)]
    pub not_before: Option<String>,
    /// RFC 3339: given up (state `expired`) if not sent by then.
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub client_ref: Option<String>,
    /// A second `send` with the same key returns the first one's ids instead of queueing again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Ask for a delivery report (default from the daemon's configuration).
    #[serde(default)]
    pub report: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mailbox {
    Outbox,
    Inbox,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListRequest {
    #[serde(rename = "box")]
    pub mailbox: Mailbox,
    #[serde(default)]
    pub limit: Option<i64>,
    /// Paging cursor: only entries with a smaller id.
    #[serde(default)]
    pub before: Option<i64>,
    /// Outbox only: filter by state (queued, sending, sent, delivered, failed, unknown...).
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    pub id: Value,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// One line from the daemon: a response or a pushed event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerLine {
    Event { event: Value },
    Response(Response),
}

/// Where the socket lives when `--socket` is not given: `$RUNTIME_DIRECTORY/smsq.sock`
/// (systemd), else `$XDG_RUNTIME_DIR/smsq/smsq.sock`, else `/tmp/smsq-<uid>/smsq.sock`.
pub fn default_socket_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("RUNTIME_DIRECTORY") {
        return d.join("smsq.sock");
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        return d.join("smsq").join("smsq.sock");
    }
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    PathBuf::from(format!("/tmp/smsq-{uid}")).join("smsq.sock")
}

/// A committed event as subscribers and `get`'s history receive it.
pub fn event_json(e: &crate::store::EventRow) -> Value {
    let mut v = serde_json::json!({
        "id": e.id, "at": crate::time::rfc3339(e.at), "kind": e.kind,
        "message_id": e.message_id, "inbox_id": e.inbox_id, "detail": e.detail,
    });
    if let Some(r) = &e.received {
        v["from"] = r.from.clone().into();
        v["text"] = r.text.clone().into();
        v["complete"] = r.complete.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_are_what_clients_write() {
        for line in [
            r#"{"op":"send","to":"+639171234567","text":"hi"}"#,
            r#"{"op":"get","message":1}"#,
            r#"{"op":"list","box":"outbox"}"#,
            r#"{"op":"cancel","message":1}"#,
            r#"{"op":"retry","message":1}"#,
            r#"{"op":"modems"}"#,
            r#"{"op":"ussd","code":"*143#"}"#,
            r#"{"op":"estimate","text":"hi"}"#,
            r#"{"op":"subscribe"}"#,
        ] {
            let op: Op = serde_json::from_str(line).unwrap();
            let written: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(op.name(), written["op"], "{line}");
        }
    }

    #[test]
    fn requests_parse_in_their_documented_shapes() {
        let r: Request = serde_json::from_str(
            r#"{"id":1,"op":"send","to":"09171234567","text":"hi","priority":2}"#,
        )
        .unwrap();
        let Op::Send(s) = r.op else { panic!() };
        assert_eq!(s.to.list(), vec!["09171234567"]);
        let r: Request =
            serde_json::from_str(r#"{"id":"x","op":"list","box":"inbox","limit":5}"#).unwrap();
        assert!(matches!(
            r.op,
            Op::List(ListRequest {
                mailbox: Mailbox::Inbox,
                limit: Some(5),
                ..
            })
        ));
        let r: Request = serde_json::from_str(r#"{"id":3,"op":"modems"}"#).unwrap();
        assert!(matches!(r.op, Op::Modems));
        assert!(serde_json::from_str::<Request>(r#"{"id":4,"op":"explode"}"#).is_err());
    }
}
