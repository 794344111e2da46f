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

/// The states an outgoing message can be in (the README's table), for `list` filters.
pub const MESSAGE_STATES: [&str; 8] = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "expired",
    "cancelled",
    "unknown",
];

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
        "id": e.id, "at": rfc3339(e.at), "kind": e.kind,
        "message_id": e.message_id, "inbox_id": e.inbox_id, "detail": e.detail,
    });
    if let Some(r) = &e.received {
        v["from"] = r.from.clone().into();
        v["text"] = r.text.clone().into();
        v["complete"] = r.complete.into();
    }
    v
}

/// Unix milliseconds to RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time as a person or a program writes it, to Unix ms: RFC 3339 with an offset
/// (`2026-12-02T09:00:00+08:00`, `...Z`), or a date and time without one (`2026-12-02 09:00`,
/// `2026-12-02T09:00:30`), or a date alone (midnight), both read in `zone` (the shop's).
/// Dates that do not exist (`2027-02-31`) are refused, and so is a local time that a
/// daylight-saving change skips.
pub fn parse_time(text: &str, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.at(0, 0, 0, 0)));
    let civil = civil.map_err(|_| {
        format!(
            "{text:?} is not a date and time: write it like 2026-12-02 09:00 (the shop's time \
             zone) or 2026-12-02T09:00:00+08:00"
        )
    })?;
    zone.to_ambiguous_timestamp(civil)
        .unambiguous()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            format!(
                "{text:?} is skipped or repeated by a clock change in the shop's time zone: \
                 write it with an offset (2026-03-29T03:30:00+02:00)"
            )
        })
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

    #[test]
    fn times_as_people_write_them() {
        let manila = jiff::tz::TimeZone::get("Asia/Manila").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        let ms = parse_time("2026-11-23T10:15:00+08:00", &utc).unwrap();
        assert_eq!(rfc3339(ms), "2026-11-23T02:15:00Z");
        assert_eq!(parse_time("2026-11-23T02:15:00Z", &manila), Ok(ms));
        assert_eq!(
            parse_time("2026-11-23T02:15:00.123Z", &manila),
            Ok(ms + 123)
        );
        // Without an offset: the shop's time zone.
        assert_eq!(parse_time("2026-11-23 10:15", &manila), Ok(ms));
        assert_eq!(parse_time("2026-11-23T10:15:00", &manila), Ok(ms));
        assert_eq!(
            parse_time("2026-11-23", &manila),
            parse_time("2026-11-23 00:00", &manila)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z", &utc), Ok(0));
        for bad in [
            "2027-02-31 09:00",
            "2026-13-01T00:00:00Z",
            "tomorrow",
            "09:00",
            "",
        ] {
            assert!(parse_time(bad, &manila).is_err(), "{bad:?}");
        }
        // A time a daylight-saving change skips does not exist.
        let warsaw = jiff::tz::TimeZone::get("Europe/Warsaw").unwrap();
        assert!(parse_time("2026-03-29 02:30", &warsaw).is_err());
    }
}
