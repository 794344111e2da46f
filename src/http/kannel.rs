//! Kannel's `sendsms` interface, for the programs shops already run (playSMS, RapidPro,
//! booking and POS plugins, two-factor providers): Kannel's parameters, its POST forms and
//! its replies byte for byte (Kannel 1.4.5 user's guide, "Sending SMS"; replies as smsbox
//! writes them: no line end, `Content-Type: text/html`, no caching).
//!
//! Every message goes through [`Daemon::submit`], so through the same send gate as the
//! socket: an account can never text an opted-out customer. The answer comes only after
//! the commit. Query strings carry passwords and texts: nothing here logs them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tracing::{debug, info, warn};

use super::auth::{IpRule, Login, Logins};
use crate::daemon::{Class, Daemon, Error, Peer, Submission, Watch};
use crate::store::MessageState;
use crate::time::now_ms;

/// One `sendsms` account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Where it may connect from; empty: anywhere the listener is reachable.
    pub allow_ip: Vec<IpRule>,
    /// The classes it may send (the first is its default).
    pub classes: Vec<Class>,
    pub default_topic: Option<String>,
    /// The modems it may send through (the first is its default); empty: any, by routing.
    pub modems: Vec<String>,
    /// Most parts one message may take.
    pub max_messages: u8,
    /// Its report URL when a request gives a mask but no URL (Kannel's per-user `dlr-url`).
    pub dlr_url: Option<String>,
    /// Its requests may hold links to Philippine numbers (smsq's link rule).
    pub allow_links: bool,
    /// Its requests may name more recipients than the bulk limit.
    pub bulk: bool,
}

/// The Kannel interface's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `sendsms-url` (default `/cgi-bin/sendsms`).
    pub path: String,
    /// Host names the listener answers to besides loopback and its own address.
    pub allowed_hosts: Vec<String>,
    pub users: Vec<User>,
}

/// The interface's running state.
pub struct Kannel {
    pub daemon: Arc<Daemon>,
    pub settings: Settings,
    logins: Arc<Logins>,
}

impl Kannel {
    pub fn new(daemon: Arc<Daemon>, settings: Settings) -> Self {
        Self {
            daemon,
            settings,
            logins: Logins::new(10, Duration::from_secs(60)),
        }
    }
}

/// The router: `sendsms` at its path, Kannel's 404 line elsewhere.
pub fn router(k: Arc<Kannel>) -> axum::Router {
    let path = k.settings.path.clone();
    let guard = super::Guard::new(k.settings.listen, &k.settings.allowed_hosts, true);
    axum::Router::new()
        .route(&path, axum::routing::get(sendsms).post(sendsms))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, "Unknown request.") })
        .with_state(k)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            super::guard,
        ))
}

/// A reply as Kannel's smsbox writes it: a status and one of its fixed lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    body: &'static str,
}

fn reply(status: StatusCode, body: &'static str) -> Answer {
    Answer { status, body }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [
                (header::CONTENT_TYPE, "text/html"),
                (header::PRAGMA, "no-cache"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            self.body,
        )
            .into_response()
    }
}

const ACCEPTED: &str = "0: Accepted for delivery";
const QUEUED: &str = "3: Queued for later delivery";
const AUTH_FAILED: &str = "Authorization failed for sendsms";
const DENIED: &str = "Number(s) has/have been denied by white- and/or black-lists.";
const BODY_MISFORMED: &str = "Charset or body misformed, rejected";
const NOT_ROUTABLE: &str = "Not routable. Do not try again.";
const TEMPORARY: &str = "Temporal failure, try again later.";

/// The request's variables: name and raw (percent-decoded) bytes, in order.
#[derive(Debug, Default)]
struct Params(Vec<(String, Vec<u8>)>);

impl Params {
    /// `application/x-www-form-urlencoded` (a query string or a form body), kept as bytes:
    /// `text` may be UTF-16 or Latin-1.
    fn parse_into(&mut self, raw: &[u8]) {
        for pair in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = String::from_utf8_lossy(&form_decode(name)).into_owned();
            self.0.push((name, form_decode(value)));
        }
    }

    /// The first of `names` given.
    fn bytes(&self, names: &[&str]) -> Option<&[u8]> {
        names.iter().find_map(|n| {
            self.0
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_slice())
        })
    }

    fn text(&self, names: &[&str]) -> Option<String> {
        self.bytes(names)
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
    }

    /// A number field: absent, or `field misformed`.
    fn number(
        &self,
        names: &[&str],
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ()> {
        match self.text(names) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or(()),
        }
    }
}

/// `+` is a space; `%XX` a byte; anything else itself (a stray `%` included, as PHP does).
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The POST forms' headers (`X-Kannel-Username` …) as variables.
const HEADER_NAMES: &[(&str, &str)] = &[
    ("x-kannel-username", "username"),
    ("x-kannel-password", "password"),
    ("x-kannel-from", "from"),
    ("x-kannel-to", "to"),
    ("x-kannel-udh", "udh"),
    ("x-kannel-smsc", "smsc"),
    ("x-kannel-mclass", "mclass"),
    ("x-kannel-mwi", "mwi"),
    ("x-kannel-compress", "compress"),
    ("x-kannel-coding", "coding"),
    ("x-kannel-validity", "validity"),
    ("x-kannel-deferred", "deferred"),
    ("x-kannel-dlr-mask", "dlr-mask"),
    ("x-kannel-dlr-url", "dlr-url"),
    ("x-kannel-account", "account"),
    ("x-kannel-pid", "pid"),
    ("x-kannel-alt-dcs", "alt-dcs"),
    ("x-kannel-binfo", "binfo"),
    ("x-kannel-rpi", "rpi"),
    ("x-kannel-priority", "priority"),
    ("x-kannel-meta-data", "meta-data"),
];

/// Reads the request into variables, or Kannel's refusal of its form.
fn params(method: &Method, headers: &HeaderMap, uri: &Uri, body: &Bytes) -> Result<Params, Answer> {
    let mut p = Params::default();
    if let Some(q) = uri.query() {
        p.parse_into(q.as_bytes());
    }
    if method != Method::POST {
        return Ok(p);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        // Not Kannel's, but what clients that keep credentials out of access logs send
        // (the Nextcloud two-factor provider).
        "application/x-www-form-urlencoded" => p.parse_into(body),
        "text/plain" | "application/octet-stream" | "text/html" | "text/vnd.wap.wml" => {
            for (header, name) in HEADER_NAMES {
                if let Some(v) = headers.get(*header) {
                    p.0.push((name.to_string(), v.as_bytes().to_vec()));
                }
            }
            let text = if mime == "text/plain" || mime == "application/octet-stream" {
                body.to_vec()
            } else {
                super::callbacks::strip_tags(&String::from_utf8_lossy(body)).into_bytes()
            };
            p.0.push(("text".into(), text));
            if let Some(charset) = content_type
                .split(';')
                .skip(1)
                .find_map(|part| part.trim().strip_prefix("charset="))
            {
                p.0.push((
                    "charset".into(),
                    charset.trim_matches('"').as_bytes().to_vec(),
                ));
            }
        }
        _ => return Err(reply(StatusCode::BAD_REQUEST, "Invalid content-type")),
    }
    Ok(p)
}

/// `text` in `charset` (Kannel's default: UTF-8 for 7-bit, UTF-16BE for UCS-2).
fn decode_text(raw: &[u8], charset: Option<&str>, ucs2: bool) -> Option<String> {
    let charset = charset.map(|c| c.trim().to_ascii_lowercase());
    let label = charset
        .as_deref()
        .unwrap_or(if ucs2 { "utf-16be" } else { "utf-8" });
    match label {
        "utf-8" | "utf8" => String::from_utf8(raw.to_vec()).ok(),
        "utf-16be" | "ucs-2be" | "ucs-2" | "ucs2" | "utf-16" => {
            if raw.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // Latin-1 is the first 256 code points.
        "iso-8859-1" | "latin1" | "iso8859-1" => Some(raw.iter().map(|&b| char::from(b)).collect()),
        "windows-1252" | "cp1252" => {
            let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(raw);
            (!bad).then(|| text.into_owned())
        }
        _ => None,
    }
}

/// Why a field was refused, as Kannel words it.
fn misformed(field: &'static str) -> Answer {
    let body: &'static str = match field {
        "DLR-Mask" => "DLR-Mask field misformed, rejected",
        "DLR-URL" => "DLR-URL field misformed, rejected",
        "MClass" => "MClass field misformed, rejected",
        "Coding" => "Coding field misformed, rejected",
        "Validity" => "Validity field misformed, rejected",
        "Deferred" => "Deferred field misformed, rejected",
        "Priority" => "Priority field misformed, rejected",
        "PID" => "PID field misformed, rejected",
        "RPI" => "RPI field misformed, rejected",
        "Alt-DCS" => "Alt-DCS field misformed, rejected",
        "MWI" => "MWI field misformed, rejected",
        "Compress" => "Compress field misformed, rejected",
        "Account" => "Account field misformed, rejected",
        "UDH" => "UDH field misformed, rejected",
        "Class" => "Class field misformed, rejected",
        _ => BODY_MISFORMED,
    };
    reply(StatusCode::BAD_REQUEST, body)
}

async fn sendsms(
    State(k): State<Arc<Kannel>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let p = match params(&method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let Some(user) = authenticate(&k, &p, peer.ip()).await else {
        return reply(StatusCode::FORBIDDEN, AUTH_FAILED);
    };
    match send(&k, user, &p).await {
        Ok(answer) | Err(answer) => answer,
    }
}

/// The account the request's credentials name, if they are right and it may connect from
/// `ip`. Failures are counted per address; an address over the limit is not even checked.
async fn authenticate<'a>(k: &'a Kannel, p: &Params, ip: IpAddr) -> Option<&'a User> {
    let name = p.text(&["username", "user"]).unwrap_or_default();
    let password = p
        .bytes(&["password", "pass"])
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let user = k.settings.users.iter().find(|u| {
        u.name == name && (u.allow_ip.is_empty() || u.allow_ip.iter().any(|r| r.contains(ip)))
    });
    let hash = user.map(|u| u.password_hash.as_str());
    match k.logins.check(ip, &name, hash, &password).await {
        Login::Granted => user,
        Login::Throttled => {
            warn!(event = "kannel_throttled", client = %ip, "too many failed sendsms logins from this address; refused for a minute");
            None
        }
        Login::Refused => {
            warn!(event = "kannel_auth_failed", user = %super::printable(&name), client = %ip, "sendsms refused: wrong credentials or address");
            None
        }
    }
}

async fn send(k: &Kannel, user: &User, p: &Params) -> Result<Answer, Answer> {
    let Some(to) = p.text(&["to"]) else {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            "Missing receiver number, rejected",
        ));
    };
    let recipients: Vec<String> = to.split_whitespace().map(str::to_string).collect();
    if recipients.is_empty() {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            "Empty receiver number not allowed, rejected",
        ));
    }
    let mask = p
        .number(&["dlr-mask", "dlrmask"], 0..=31)
        .map_err(|()| misformed("DLR-Mask"))?
        .unwrap_or(0) as u32;
    let dlr_url = p.text(&["dlr-url", "dlrurl"]).filter(|u| !u.is_empty());
    // A URL smsqd can call later: http(s), one line, no spaces (clients send it encoded).
    if let Some(url) = &dlr_url
        && (!(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() > 2048
            || url.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(misformed("DLR-URL"));
    }
    let mclass = p
        .number(&["mclass"], 0..=3)
        .map_err(|()| misformed("MClass"))?;
    let coding = p
        .number(&["coding"], 0..=2)
        .map_err(|()| misformed("Coding"))?;
    if coding == Some(1) {
        // 8-bit data has no text to check or to show; smsq sends texts.
        return Err(misformed("Coding"));
    }
    if p.bytes(&["udh"]).is_some_and(|u| !u.is_empty()) {
        // smsq splits long texts itself; a client's own headers would clash with it.
        return Err(misformed("UDH"));
    }
    let validity = p
        .number(&["validity"], 1..=60 * 24 * 365)
        .map_err(|()| misformed("Validity"))?;
    let deferred = p
        .number(&["deferred"], 0..=60 * 24 * 365)
        .map_err(|()| misformed("Deferred"))?;
    let priority = p
        .number(&["priority"], 0..=3)
        .map_err(|()| misformed("Priority"))?
        .unwrap_or(0);
    for (names, field, range) in [
        (&["pid"][..], "PID", 0..=255),
        (&["rpi"][..], "RPI", 0..=2),
        (&["alt-dcs"][..], "Alt-DCS", 0..=1),
        (&["mwi"][..], "MWI", 0..=7),
        (&["compress"][..], "Compress", 0..=1),
    ] {
        if p.number(names, range)
            .map_err(|()| misformed(field))?
            .is_some()
        {
            debug!(
                field,
                "a sendsms field that a GSM modem cannot honour was ignored"
            );
        }
    }
    let account = p.text(&["account"]).filter(|a| !a.is_empty());
    if account
        .as_deref()
        .is_some_and(|a| a.len() > 64 || a.chars().any(char::is_control))
    {
        return Err(misformed("Account"));
    }
    // Handed back in reports (`%D`); a line of text, like `account`.
    let meta_data = p.text(&["meta-data"]).filter(|m| !m.is_empty());
    if meta_data
        .as_deref()
        .is_some_and(|m| m.len() > 1024 || m.chars().any(char::is_control))
    {
        return Err(reply(
            StatusCode::BAD_REQUEST,
            "Meta-Data field misformed, rejected",
        ));
    }
    let class = match p.text(&["class"]) {
        // The configuration gives every account at least one class.
        None => user
            .classes
            .first()
            .copied()
            .unwrap_or(Class::Transactional),
        Some(c) => Class::parse(&c)
            .filter(|c| user.classes.contains(c))
            .ok_or_else(|| misformed("Class"))?,
    };
    let charset = p.text(&["charset"]);
    let text = p.bytes(&["text"]).unwrap_or_default();
    let Some(text) = decode_text(text, charset.as_deref(), coding == Some(2)) else {
        return Err(reply(StatusCode::BAD_REQUEST, BODY_MISFORMED));
    };
    // `smsc` (playSMS always sends `smsc=default`) and `from` choose a modem only when they
    // name one this account may use.
    let named = [p.text(&["smsc"]), p.text(&["from"])]
        .into_iter()
        .flatten()
        .find(|m| {
            k.daemon.modems.iter().any(|h| h.id() == m)
                && (user.modems.is_empty() || user.modems.contains(m))
        });
    let via = named.or_else(|| user.modems.first().cloned());

    let now = now_ms();
    let mut s = Submission::new(recipients, text);
    s.encoding = if coding == Some(2) { "ucs2" } else { "auto" }.into();
    s.priority = priority;
    s.not_before = deferred.filter(|d| *d > 0).map(|d| now + d * 60_000);
    s.not_after = validity.map(|v| s.not_before.unwrap_or(now) + v * 60_000);
    s.client_ref = account;
    s.class = class;
    s.topic = user.default_topic.clone();
    s.flash = mclass == Some(0);
    s.via = via.clone();
    s.allow_links = user.allow_links;
    s.confirm_bulk = user.bulk;
    s.max_parts = Some(user.max_messages);
    if mask
        & (super::callbacks::dlr::DELIVERED
            | super::callbacks::dlr::UNDELIVERABLE
            | super::callbacks::dlr::BUFFERED)
        != 0
    {
        s.report = Some(true);
    }
    if mask != 0
        && let Some(url) = dlr_url.or_else(|| user.dlr_url.clone())
    {
        s.watch = Some(Watch {
            interface: "kannel".into(),
            mask,
            target: url,
            account: Some(user.name.clone()),
            meta: meta_data,
        });
    }
    let count = s.recipients.len();
    let queued = match k.daemon.submit(s, Peer::default()).await {
        Ok(queued) => queued,
        Err(e) => {
            let (status, body) = refusal(&e);
            info!(event = "kannel_refused", user = %user.name, recipients = count, error = %e, "sendsms refused");
            return Err(reply(status, body));
        }
    };
    let ids: Vec<i64> = queued.iter().map(|q| q.id).collect();
    let all_held = queued.iter().all(|q| q.state == MessageState::Held);
    let answer = if all_held || !k.daemon.can_send_now(via.as_deref()) {
        QUEUED
    } else {
        ACCEPTED
    };
    info!(event = "kannel_accepted", user = %user.name, recipients = count, messages = ?ids, answer, "sendsms accepted");
    Ok(reply(StatusCode::ACCEPTED, answer))
}

/// Kannel's answer for what the core refused.
fn refusal(e: &Error) -> (StatusCode, &'static str) {
    match e {
        // Every recipient refused by the gate, or a number that cannot be texted: Kannel's
        // white- and black-list refusal is what its clients know for "not to this number".
        Error::Refused { .. } | Error::InvalidNumber(_) => (StatusCode::BAD_REQUEST, DENIED),
        Error::InvalidText(_) | Error::InvalidEncoding(_) | Error::Unencodable { .. } => {
            (StatusCode::BAD_REQUEST, BODY_MISFORMED)
        }
        Error::InvalidTime(_) => (
            StatusCode::BAD_REQUEST,
            "Validity field misformed, rejected",
        ),
        Error::InvalidClass(_) => (StatusCode::BAD_REQUEST, "Class field misformed, rejected"),
        Error::NeedsConfirmation { .. } | Error::NoModem(_) => {
            (StatusCode::FORBIDDEN, NOT_ROUTABLE)
        }
        Error::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, TEMPORARY),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Sending failed."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_keeps_bytes() {
        assert_eq!(form_decode(b"a+b%2Bc%00%ff"), b"a b+c\0\xff");
        assert_eq!(form_decode(b"100%"), b"100%");
        assert_eq!(form_decode(b"%zz%4"), b"%zz%4");
    }

    #[test]
    fn texts_decode_in_every_charset_kannel_clients_use() {
        assert_eq!(decode_text(b"caf\xc3\xa9", None, false).unwrap(), "café");
        assert_eq!(
            decode_text(b"caf\xc3\xa9", Some("utf8"), true).unwrap(),
            "café"
        );
        // playSMS: UCS-2BE bytes with charset=UTF-16BE&coding=2.
        assert_eq!(
            decode_text(
                &[0x00, 0x5A, 0x00, 0xF3, 0x01, 0x42, 0x00, 0x77],
                Some("UTF-16BE"),
                true
            )
            .unwrap(),
            "Zółw"
        );
        assert_eq!(decode_text(&[0x00, 0x41], None, true).unwrap(), "A");
        assert_eq!(
            decode_text(b"caf\xe9", Some("ISO-8859-1"), false).unwrap(),
            "café"
        );
        assert_eq!(
            decode_text(b"\x80 5", Some("WINDOWS-1252"), false).unwrap(),
            "€ 5"
        );
        assert!(decode_text(b"caf\xe9", None, false).is_none());
        assert!(decode_text(&[0x00], Some("UTF-16BE"), true).is_none());
        assert!(decode_text(&[0xD8, 0x00], Some("UTF-16BE"), true).is_none());
        assert!(decode_text(b"x", Some("klingon"), false).is_none());
    }

    #[test]
    fn variables_come_from_the_query_and_form_bodies() {
        let mut p = Params::default();
        p.parse_into(b"user=shop&to=%2B639171234567+09171234568&text=Hi+there%21&dlr-mask=9&&bare");
        assert_eq!(p.text(&["username", "user"]).unwrap(), "shop");
        assert_eq!(p.text(&["to"]).unwrap(), "+639171234567 09171234568");
        assert_eq!(p.bytes(&["text"]).unwrap(), b"Hi there!");
        assert_eq!(p.number(&["dlr-mask"], 0..=31), Ok(Some(9)));
        assert_eq!(p.number(&["priority"], 0..=3), Ok(None));
        assert_eq!(p.bytes(&["bare"]).unwrap(), b"");
        let mut bad = Params::default();
        bad.parse_into(b"dlr-mask=32&mclass=x");
        assert!(bad.number(&["dlr-mask"], 0..=31).is_err());
        assert!(bad.number(&["mclass"], 0..=3).is_err());
    }
}
