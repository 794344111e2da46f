//! The REST interface of SMS Gateway for Android (capcom6/android-sms-gateway, local server,
//! v1.68 shapes), so that its client libraries and the programs built on them drive smsq as
//! they would drive a phone: messages (`POST /messages`, `GET /messages[/{id}]`,
//! `DELETE /messages/{id}`), received messages (`GET /inbox`), webhooks (`GET/POST
//! /webhooks`, `DELETE /webhooks/{id}`) and `/health`, with HTTP Basic credentials; the
//! singular paths (`/message`, `/webhook`) and the cloud prefix `/3rdparty/v1` answer too.
//!
//! States map as the Android app names them: queued or held `Pending`, being handed to the
//! modem `Processed`, `Sent`, `Delivered`, and `Failed` for failed, refused (the gate),
//! expired or unknown; `Cancelled`. Every message goes through [`Daemon::submit`], so the
//! send gate: a priority over 99 goes first in the queue but never past an opt-out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::auth::{Login, Logins};
use crate::daemon::{Class, Daemon, Error, Peer, Submission, Watch};
use crate::store::{MessageDetail, MessageState, WebhookRow};
use crate::time::{now_ms, rfc3339};

/// The interface name its messages' watches carry.
pub const INTERFACE: &str = "android";

/// The events smsqd can tell (of the app's list, those an SMS modem has).
pub const EVENTS: &[&str] = &["sms:received", "sms:sent", "sms:delivered", "sms:failed"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub allowed_hosts: Vec<String>,
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// The key webhooks are signed with (`X-Signature`), if any.
    pub signing_key: Option<String>,
    /// `deviceId` in answers and webhooks.
    pub device_id: String,
}

pub struct Android {
    pub daemon: Arc<Daemon>,
    pub settings: Settings,
    logins: Arc<Logins>,
}

impl Android {
    pub fn new(daemon: Arc<Daemon>, settings: Settings) -> Self {
        Self {
            daemon,
            settings,
            logins: Logins::new(10, Duration::from_secs(60)),
        }
    }
}

/// An error as the app answers it: a status and `{"message": …}`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }
}

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    fail(status, message).into_response()
}

pub fn router(a: Arc<Android>) -> axum::Router {
    use axum::routing::{delete, get};
    let api = axum::Router::new()
        .route("/messages", get(list).post(send))
        .route("/message", get(list).post(send))
        .route("/messages/{id}", get(one).delete(cancel))
        .route("/message/{id}", get(one).delete(cancel))
        .route("/inbox", get(inbox))
        .route("/webhooks", get(webhooks).post(add_webhook))
        .route("/webhook", get(webhooks).post(add_webhook))
        .route("/webhooks/{id}", delete(remove_webhook))
        .route("/webhook/{id}", delete(remove_webhook))
        .route_layer(axum::middleware::from_fn_with_state(a.clone(), basic_auth));
    let guard = super::Guard::new(a.settings.listen, &a.settings.allowed_hosts, true);
    axum::Router::new()
        .merge(api.clone())
        .nest("/3rdparty/v1", api)
        .route("/health", get(health))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .with_state(a)
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            super::guard,
        ))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "pass", "version": env!("CARGO_PKG_VERSION") }))
}

/// HTTP Basic against the configured account; failures throttled per address.
async fn basic_auth(
    State(a): State<Arc<Android>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let ip: IpAddr = peer.ip();
    let refuse = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"smsq\"")],
            Json(json!({ "message": "unauthorized" })),
        )
            .into_response()
    };
    let (user, password) = credentials(req.headers()).unwrap_or_default();
    let hash = (user == a.settings.username).then_some(a.settings.password_hash.as_str());
    match a.logins.check(ip, &user, hash, &password).await {
        Login::Granted => {}
        Login::Throttled => {
            warn!(event = "android_throttled", client = %ip, "too many failed logins from this address; refused for a minute");
            return refuse();
        }
        Login::Refused => {
            warn!(event = "android_auth_failed", client = %ip, "REST request refused: wrong credentials");
            return refuse();
        }
    }
    next.run(req).await
}

fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBody {
    id: Option<String>,
    #[serde(default)]
    phone_numbers: Vec<String>,
    text_message: Option<TextMessage>,
    /// The deprecated form of `textMessage.text`.
    message: Option<String>,
    data_message: Option<Value>,
    mms_message: Option<Value>,
    sim_number: Option<i64>,
    with_delivery_report: Option<bool>,
    #[serde(default)]
    is_encrypted: bool,
    ttl: Option<i64>,
    valid_until: Option<String>,
    schedule_at: Option<String>,
    priority: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct TextMessage {
    text: String,
}

/// A client's id: what the app takes (a short printable word), so that it is safe in a
/// path, a log and a page.
fn check_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A fresh id, as the app makes them (21 characters of a URL-safe alphabet).
fn new_id() -> Result<String, Failure> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
    let mut bytes = [0u8; 21];
    getrandom::fill(&mut bytes)
        .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "no random source"))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
        .collect())
}

fn timestamp(field: &str, value: &str) -> Result<i64, Failure> {
    value
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            fail(
                StatusCode::BAD_REQUEST,
                format!("{field}: {value:?} is not an RFC 3339 time"),
            )
        })
}

async fn send(
    State(a): State<Arc<Android>>,
    body: Result<Json<SendBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match send_inner(&a, body).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn send_inner(a: &Android, b: SendBody) -> Result<Response, Failure> {
    let bad = |m: &str| fail(StatusCode::BAD_REQUEST, m);
    if b.data_message.is_some() || b.mms_message.is_some() {
        return Err(bad("smsq sends text messages only (textMessage)"));
    }
    if b.is_encrypted {
        return Err(bad(
            "encrypted messages are not supported: smsq must read a text to apply the shop's rules",
        ));
    }
    let text = match (b.text_message, b.message) {
        (Some(t), _) => t.text,
        (None, Some(m)) => m,
        (None, None) => return Err(bad("textMessage.text is required")),
    };
    if b.phone_numbers.is_empty() {
        return Err(bad("phoneNumbers is required"));
    }
    if b.ttl.is_some() && b.valid_until.is_some() {
        return Err(bad("give ttl or validUntil, not both"));
    }
    let id = match b.id {
        Some(id) if check_id(&id) => id,
        Some(_) => {
            return Err(bad("id: at most 64 letters, digits, '-', '_' or '.'"));
        }
        None => new_id()?,
    };
    let d = &a.daemon;
    if !d
        .watched(INTERFACE, &id)
        .await
        .map_err(internal)?
        .is_empty()
    {
        return Err(fail(
            StatusCode::CONFLICT,
            format!("a message with id {id} exists"),
        ));
    }
    let now = now_ms();
    let mut s = Submission::new(b.phone_numbers, text);
    s.not_before = b
        .schedule_at
        .as_deref()
        .map(|t| timestamp("scheduleAt", t))
        .transpose()?;
    s.not_after = match (b.ttl, b.valid_until.as_deref()) {
        (Some(ttl), _) if ttl < 5 => return Err(bad("ttl: at least 5 seconds")),
        (Some(ttl), _) => Some(s.not_before.unwrap_or(now) + ttl * 1000),
        (None, Some(t)) => Some(timestamp("validUntil", t)?),
        (None, None) => None,
    };
    let priority = b.priority.unwrap_or(0);
    if !(-128..=127).contains(&priority) {
        return Err(bad("priority: -128 to 127"));
    }
    s.priority = priority;
    s.class = Class::Transactional;
    s.report = b.with_delivery_report.or(Some(true));
    if let Some(n) = b.sim_number {
        let modem = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|k| d.modems.get(k))
            .ok_or_else(|| {
                bad(&format!(
                    "simNumber {n}: there are {} modems",
                    d.modems.len()
                ))
            })?;
        s.via = Some(modem.id().to_string());
    }
    s.watch = Some(Watch {
        interface: INTERFACE.into(),
        mask: 0,
        target: id.clone(),
        account: Some(a.settings.username.clone()),
        meta: None,
    });
    let count = s.recipients.len();
    match d.submit(s, Peer::default()).await {
        Ok(_) => {}
        // Every recipient refused by the gate: recorded all the same, and answered as the
        // app answers a message that failed, with the reason per recipient.
        Err(Error::Refused { .. }) => {}
        Err(e) => {
            info!(event = "android_refused", recipients = count, error = %e, "REST send refused");
            return Err(core_failure(&e));
        }
    }
    let messages = d.watched(INTERFACE, &id).await.map_err(internal)?;
    info!(event = "android_accepted", recipients = count, messages = ?messages.iter().map(|m| m.message.id).collect::<Vec<_>>(), "REST send accepted");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/messages/{id}"))],
        Json(state_json(&id, &a.settings.device_id, &messages)),
    )
        .into_response())
}

fn internal(e: Error) -> Failure {
    core_failure(&e)
}

fn core_error(e: &Error) -> Response {
    core_failure(e).into_response()
}

fn core_failure(e: &Error) -> Failure {
    let status = match e {
        Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Modem(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    fail(status, e.to_string())
}

/// The app's name for a message state.
fn state_name(s: MessageState) -> &'static str {
    match s {
        MessageState::Queued | MessageState::Held => "Pending",
        MessageState::Sending => "Processed",
        MessageState::Sent => "Sent",
        MessageState::Delivered => "Delivered",
        MessageState::Cancelled => "Cancelled",
        _ => "Failed",
    }
}

/// The whole message's state: the least advanced of its recipients', failed only when
/// none is still on its way.
fn overall(states: &[&'static str]) -> &'static str {
    for s in ["Pending", "Processed", "Sent"] {
        if states.contains(&s) {
            return s;
        }
    }
    if states.iter().all(|s| *s == "Delivered") {
        "Delivered"
    } else if states.contains(&"Failed") {
        "Failed"
    } else if states.contains(&"Delivered") {
        "Delivered"
    } else {
        "Cancelled"
    }
}

/// A message as the app shows it (`MessageState`).
fn state_json(id: &str, device: &str, messages: &[MessageDetail]) -> Value {
    let names: Vec<&'static str> = messages
        .iter()
        .map(|m| state_name(m.message.state))
        .collect();
    let mut states = serde_json::Map::new();
    for m in messages {
        for e in &m.history {
            let name = match e.kind.as_str() {
                "queued" => "Pending",
                "part_sent" => "Processed",
                "sent" => "Sent",
                "delivered" => "Delivered",
                "failed" | "refused" | "expired" | "outcome_unknown" => "Failed",
                "cancelled" => "Cancelled",
                _ => continue,
            };
            states
                .entry(name)
                .or_insert_with(|| Value::String(rfc3339(e.at)));
        }
    }
    json!({
        "id": id,
        "deviceId": device,
        "state": overall(&names),
        "isHashed": false,
        "isEncrypted": false,
        "recipients": messages.iter().zip(&names).map(|(m, s)| {
            let mut r = json!({ "phoneNumber": m.message.recipient, "state": s });
            if *s == "Failed" {
                r["error"] = m.message.last_error.clone().unwrap_or_else(|| m.message.state.to_string()).into();
            }
            r
        }).collect::<Vec<_>>(),
        "states": states,
        "createdAt": messages.first().map(|m| rfc3339(m.message.created_at)),
    })
}

async fn one(State(a): State<Arc<Android>>, Path(id): Path<String>) -> Response {
    if !check_id(&id) {
        return error(StatusCode::NOT_FOUND, "no such message");
    }
    match a.daemon.watched(INTERFACE, &id).await {
        Ok(m) if m.is_empty() => error(StatusCode::NOT_FOUND, "no such message"),
        Ok(m) => Json(state_json(&id, &a.settings.device_id, &m)).into_response(),
        Err(e) => core_error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list(State(a): State<Arc<Android>>, Query(q): Query<ListQuery>) -> Response {
    let recent = a
        .daemon
        .watched_recent(INTERFACE, q.limit.unwrap_or(50), q.offset.unwrap_or(0))
        .await;
    match recent {
        Ok(recent) => Json(Value::Array(
            recent
                .iter()
                .map(|(id, m)| state_json(id, &a.settings.device_id, m))
                .filter(|v| q.state.as_deref().is_none_or(|s| v["state"] == s))
                .collect(),
        ))
        .into_response(),
        Err(e) => core_error(&e),
    }
}

async fn cancel(State(a): State<Arc<Android>>, Path(id): Path<String>) -> Response {
    let d = &a.daemon;
    let messages = match d.watched(INTERFACE, &id).await {
        Ok(m) if m.is_empty() || !check_id(&id) => {
            return error(StatusCode::NOT_FOUND, "no such message");
        }
        Ok(m) => m,
        Err(e) => return core_error(&e),
    };
    let mut cancelled = 0;
    for m in &messages {
        match d.cancel(m.message.id).await {
            Ok(()) => cancelled += 1,
            Err(Error::NotCancellable(_)) => {}
            Err(e) => return core_error(&e),
        }
    }
    if cancelled == 0 {
        return error(StatusCode::CONFLICT, "nothing of it is still pending");
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    limit: Option<i64>,
}

async fn inbox(State(a): State<Arc<Android>>, Query(q): Query<InboxQuery>) -> Response {
    let modems: Vec<String> = a.daemon.modems.iter().map(|m| m.id().to_string()).collect();
    match a.daemon.inbox(None, q.limit.unwrap_or(50)).await {
        Ok(rows) => Json(
            rows.iter()
                .filter_map(|r| {
                    let text = r.body.as_ref()?;
                    let sim = r
                        .modem
                        .as_ref()
                        .and_then(|m| modems.iter().position(|x| x == m))
                        .map(|k| k + 1);
                    Some(json!({
                        "id": format!("in-{}", r.id),
                        "type": "SMS",
                        "message": text,
                        "phoneNumber": r.sender,
                        "simNumber": sim,
                        "receivedAt": rfc3339(r.received_at),
                    }))
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => core_error(&e),
    }
}

fn webhook_json(h: &WebhookRow, device: &str) -> Value {
    json!({ "id": h.id, "url": h.url, "event": h.event, "deviceId": device })
}

async fn webhooks(State(a): State<Arc<Android>>) -> Response {
    match a.daemon.webhooks().await {
        Ok(hooks) => Json(
            hooks
                .iter()
                .map(|h| webhook_json(h, &a.settings.device_id))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => core_error(&e),
    }
}

#[derive(Debug, Deserialize)]
struct WebhookBody {
    id: Option<String>,
    url: String,
    event: String,
}

/// A webhook target: HTTPS, or plain HTTP to this machine's loopback only (as the app).
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the url must be one line of at most 2048 characters".into());
    }
    let host = super::escapes::host_of(url);
    let loopback = matches!(super::strip_port(host), "127.0.0.1" | "localhost" | "::1");
    if url.starts_with("https://") && !host.is_empty() {
        return Ok(());
    }
    if url.starts_with("http://") && loopback {
        return Ok(());
    }
    Err("the url must be https://, or http:// to 127.0.0.1, localhost or [::1]".into())
}

async fn add_webhook(
    State(a): State<Arc<Android>>,
    body: Result<Json<WebhookBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if let Err(e) = check_webhook_url(&b.url) {
        return error(StatusCode::BAD_REQUEST, e);
    }
    if !EVENTS.contains(&b.event.as_str()) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("event: one of {}", EVENTS.join(", ")),
        );
    }
    let id = match b.id {
        Some(id) if check_id(&id) => id,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "id: at most 64 letters, digits, '-', '_' or '.'",
            );
        }
        None => match new_id() {
            Ok(id) => id,
            Err(f) => return f.into_response(),
        },
    };
    let hook = WebhookRow {
        id,
        url: b.url,
        event: b.event,
        created_at: now_ms(),
    };
    match a.daemon.put_webhook(hook.clone()).await {
        Ok(_) => {
            info!(event = "webhook_registered", webhook = %hook.id, host = %super::escapes::host_of(&hook.url), kind = %hook.event, "webhook registered");
            (
                StatusCode::CREATED,
                Json(webhook_json(&hook, &a.settings.device_id)),
            )
                .into_response()
        }
        Err(e) => core_error(&e),
    }
}

async fn remove_webhook(State(a): State<Arc<Android>>, Path(id): Path<String>) -> Response {
    match a.daemon.delete_webhook(&id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such webhook"),
        Err(e) => core_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_targets_are_https_or_loopback() {
        assert!(check_webhook_url("https://hooks.example.com/sms").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/sms").is_ok());
        assert!(check_webhook_url("http://localhost/sms").is_ok());
        assert!(check_webhook_url("http://[::1]:9000/x").is_ok());
        assert!(check_webhook_url("http://192.168.1.9/sms").is_err());
        assert!(check_webhook_url("http://127.0.0.1.evil.example/sms").is_err());
        assert!(check_webhook_url("http://user@127.0.0.1.evil.example/").is_err());
        assert!(check_webhook_url("ftp://127.0.0.1/").is_err());
        assert!(check_webhook_url("https://x/\nInjected: 1").is_err());
    }

    #[test]
    fn states_read_as_the_app_names_them() {
        assert_eq!(overall(&["Pending", "Delivered"]), "Pending");
        assert_eq!(overall(&["Sent", "Delivered"]), "Sent");
        assert_eq!(overall(&["Delivered", "Delivered"]), "Delivered");
        assert_eq!(overall(&["Delivered", "Failed"]), "Failed");
        assert_eq!(overall(&["Cancelled"]), "Cancelled");
        assert_eq!(state_name(MessageState::Held), "Pending");
        assert_eq!(state_name(MessageState::Refused), "Failed");
    }

    #[test]
    fn ids_are_safe_words() {
        assert!(check_id("order-4411_a.b"));
        assert!(!check_id("../x"));
        assert!(!check_id("a b"));
        assert!(!check_id(""));
        let id = new_id().unwrap();
        assert_eq!(id.len(), 21);
        assert!(check_id(&id));
    }
}
