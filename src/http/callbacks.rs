//! Calls smsqd makes to other programs: delivery reports (Kannel `dlr-url`), received
//! messages pushed Kannel `sms-service` style, and Android-gateway webhooks.
//!
//! Two tasks. The *planner* reads the committed event history from its cursor and turns
//! each event into the calls it causes, committing them with the cursor (see
//! `store::callbacks`): an event is planned once, even across a crash or restart. The
//! *deliverer* makes the calls that are due, each with a 10 s timeout, and records every
//! attempt: a call that fails for a reason that may pass (a timeout, a refused
//! connection, a 5xx answer) is tried again with a doubling delay until its time is up; one
//! that cannot succeed (a 4xx answer to a report) is given up at once. Every call given up
//! leaves a `callback_failed` event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::escapes::{self, Values};
use crate::daemon::care::keywords::Keyword;
use crate::daemon::{Class, Daemon, Peer, Submission};
use crate::pdu::StatusKind;
use crate::store::{
    Attempt, CallbackRow, Db, EventRow, InboxRow, MessageDetail, NewCallback, WatchRow,
};
use crate::time::{now_ms, rfc3339};

/// The planner's name for its cursor.
const CURSOR: &str = "http-callbacks";

/// Kannel's `dlr-mask` bits (user's guide, "Delivery reports").
pub mod dlr {
    pub const DELIVERED: u32 = 1;
    pub const UNDELIVERABLE: u32 = 2;
    pub const BUFFERED: u32 = 4;
    pub const SMSC_ACCEPTED: u32 = 8;
    pub const SMSC_REJECTED: u32 = 16;
}

/// How received messages are pushed Kannel `sms-service` style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoPush {
    /// For `%n` and the logs.
    pub name: String,
    /// A URL template with escape codes.
    pub url: String,
    pub post: bool,
    /// The first word that selects this push (case-insensitive); `None`: every message.
    pub keyword: Option<String>,
    /// The answer's body goes back to the sender as a reply (through the gate).
    pub reply_from_body: bool,
    /// Most parts a reply from the body may take.
    pub max_messages: u8,
    /// STOP, START, HELP and the like are handled by smsqd; they are pushed too only if set.
    pub forward_keywords: bool,
}

/// What the planner is to plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub kannel_push: Vec<MoPush>,
    /// The Android-gateway interface's device id, when it is on (webhooks are planned).
    pub android_device: Option<String>,
    /// How long a Kannel report or push is tried.
    pub kannel_retry_for: Duration,
    /// Attempts of a webhook (Android-gateway default: 15).
    pub webhook_attempts: i64,
    /// The modems' ids in order: a webhook's `simNumber` is the position (from 1).
    pub modems: Vec<String>,
    /// The first delay after a failed attempt (it doubles with each, up to an hour).
    pub retry_first: Duration,
}

impl Plan {
    fn sim_number(&self, modem: Option<&str>) -> Option<usize> {
        let modem = modem?;
        self.modems.iter().position(|m| m == modem).map(|k| k + 1)
    }
}

/// Reads the history and plans calls until smsqd stops.
pub async fn run_planner(d: Arc<Daemon>, plan: Arc<Plan>, planned: Arc<Notify>) {
    let mut events = d.subscribe();
    let mut shutdown = d.shutdown.clone();
    loop {
        let (plan2, care) = (plan.clone(), d.settings().care.clone());
        let result = d
            .store
            .call(move |db| plan_batch(db, &plan2, &care.keywords, now_ms()))
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => {
                debug!(calls = n, "callbacks planned");
                planned.notify_one();
                continue;
            }
            Err(e) => {
                warn!(event = "store_error", error = %e, "cannot plan callbacks; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        }
        // Up to date: wait for the next committed event (a lagging receiver only means
        // there is more to read, and the history has it).
        tokio::select! {
            got = events.recv() => {
                if matches!(got, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Plans the calls of the events after the cursor (up to a batch); returns how many calls
/// it planned, or 1 when it only moved the cursor past events that cause none (so that the
/// caller reads on).
fn plan_batch(
    db: &mut Db,
    plan: &Plan,
    keywords: &crate::daemon::care::keywords::Keywords,
    now: i64,
) -> crate::store::Result<usize> {
    let Some(cursor) = db.cursor(CURSOR)? else {
        // The first start with an HTTP interface: history before it asked for nothing.
        let last = db.last_event_id()?;
        db.plan_callbacks(CURSOR, None, last, &[], &[], now)?;
        return Ok(0);
    };
    let events = db.events_since(cursor, 256)?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    let hooks = if plan.android_device.is_some() {
        db.webhooks()?
    } else {
        Vec::new()
    };
    let mut calls = Vec::new();
    let mut told: HashMap<i64, u32> = HashMap::new();
    // An event older than the time its call would be tried for is history (an interface
    // switched off for a while, then on again): its moment is past, nobody is waiting.
    let oldest = now - plan.kannel_retry_for.as_millis() as i64;
    for e in events.iter().filter(|e| e.at >= oldest) {
        if let Some(id) = e.message_id
            && let Some(watch) = db.watch(id)?
        {
            let already = watch.told | told.get(&id).copied().unwrap_or(0);
            let Some(detail) = db.message(id)? else {
                continue;
            };
            match watch.watch.interface.as_str() {
                "kannel" => {
                    if let Some(bit) = kannel_bit(e, &detail)
                        && watch.watch.mask & bit != 0
                        && already & bit == 0
                    {
                        calls.push(dlr_call(e, &watch, &detail, bit, plan, now));
                        *told.entry(id).or_default() |= bit;
                    }
                }
                "android" => {
                    if let Some((bit, name)) = android_event(e)
                        && already & bit == 0
                    {
                        *told.entry(id).or_default() |= bit;
                        for hook in hooks.iter().filter(|h| h.event == name) {
                            let sim = plan.sim_number(detail.message.modem.as_deref());
                            let payload = android_payload(e, &watch, &detail, name, sim);
                            calls.push(webhook_call(e, hook, name, plan, payload, now));
                        }
                    }
                }
                _ => {}
            }
        }
        if e.kind == "received"
            && let Some(inbox_id) = e.inbox_id
            && let Some(row) = db.inbox_message(inbox_id)?
        {
            if let Some(push) = choose_push(&plan.kannel_push, &row, keywords) {
                calls.push(push_call(push, &row, plan, now));
            }
            for hook in hooks.iter().filter(|h| h.event == "sms:received") {
                if let Some(text) = &row.body {
                    let payload = serde_json::json!({
                        "messageId": format!("in-{}", row.id),
                        "message": text,
                        "phoneNumber": row.sender,
                        "sender": row.sender,
                        "simNumber": plan.sim_number(row.modem.as_deref()),
                        "receivedAt": rfc3339(row.received_at),
                    });
                    calls.push(webhook_call(e, hook, "sms:received", plan, payload, now));
                }
            }
        }
    }
    let told: Vec<(i64, u32)> = told.into_iter().collect();
    if !db.plan_callbacks(CURSOR, Some(cursor), last, &calls, &told, now)? {
        // Another host planned these events first (a shared database): read on from there.
        return Ok(1);
    }
    Ok(calls.len().max(1))
}

/// The `dlr-mask` bit an event of a watched message stands for.
fn kannel_bit(e: &EventRow, detail: &MessageDetail) -> Option<u32> {
    match e.kind.as_str() {
        "sent" => Some(dlr::SMSC_ACCEPTED),
        "delivered" => Some(dlr::DELIVERED),
        // The network took it and then reported it undeliverable, or it never got there.
        "failed" if detail.parts.iter().any(|p| p.report_status.is_some()) => {
            Some(dlr::UNDELIVERABLE)
        }
        "failed" | "refused" | "expired" | "cancelled" => Some(dlr::SMSC_REJECTED),
        "status_report"
            if detail.parts.iter().any(|p| {
                p.report_status
                    .is_some_and(|s| StatusKind::of(s as u8) == StatusKind::Trying)
            }) =>
        {
            Some(dlr::BUFFERED)
        }
        _ => None,
    }
}

fn dlr_text(bit: u32, e: &EventRow) -> String {
    match bit {
        dlr::SMSC_ACCEPTED => "ACK/".into(),
        dlr::SMSC_REJECTED => format!("NACK/{}", e.detail),
        _ => e.detail.clone(),
    }
}

fn dlr_call(
    e: &EventRow,
    watch: &WatchRow,
    detail: &MessageDetail,
    bit: u32,
    plan: &Plan,
    now: i64,
) -> NewCallback {
    let m = &detail.message;
    let values = Values {
        dlr: Some(bit),
        dlr_text: dlr_text(bit, e),
        foreign_id: detail
            .parts
            .first()
            .and_then(|p| p.mr)
            .map(|mr| mr.to_string())
            .unwrap_or_default(),
        handset: m.recipient.clone(),
        at_ms: e.at,
        modem: m.modem.clone().unwrap_or_default(),
        id: m.id.to_string(),
        account_name: watch.watch.account.clone().unwrap_or_default(),
        text: m.body.clone(),
        coding: if m.alphabet == "ucs2" { 2 } else { 0 },
        account_tag: m.client_ref.clone().unwrap_or_default(),
        meta_data: watch.watch.meta.clone().unwrap_or_default(),
        dlr_url: watch.watch.target.clone(),
        ..Values::default()
    };
    NewCallback {
        purpose: "dlr".into(),
        queue: format!("dlr:{}", m.id),
        message_id: Some(m.id),
        inbox_id: None,
        method: "GET".into(),
        url: escapes::expand(&watch.watch.target, &values),
        body: None,
        content_type: None,
        sign: false,
        reply_parts: 0,
        max_attempts: i64::MAX,
        expires_at: now + plan.kannel_retry_for.as_millis() as i64,
    }
}

/// The push a received message goes to: the first whose keyword is its first word, else
/// the first without a keyword. STOP and the other keywords smsqd answers itself are not
/// pushed unless the push asks for them.
fn choose_push<'a>(
    pushes: &'a [MoPush],
    row: &InboxRow,
    keywords: &crate::daemon::care::keywords::Keywords,
) -> Option<&'a MoPush> {
    let text = row.body.as_deref()?;
    let is_keyword = !matches!(
        keywords.classify(text),
        Keyword::Text | Keyword::PossibleOptOut
    );
    let first = text.split_whitespace().next().unwrap_or("");
    pushes
        .iter()
        .filter(|p| {
            p.keyword
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(first))
        })
        .chain(pushes.iter().filter(|p| p.keyword.is_none()))
        .find(|p| p.forward_keywords || !is_keyword)
}

fn push_call(push: &MoPush, row: &InboxRow, plan: &Plan, now: i64) -> NewCallback {
    let text = row.body.clone().unwrap_or_default();
    let values = Values {
        handset: row.sender.clone(),
        at_ms: row.received_at,
        modem: row.modem.clone().unwrap_or_default(),
        id: row.id.to_string(),
        account_name: push.name.clone(),
        text: text.clone(),
        ..Values::default()
    };
    NewCallback {
        purpose: "mo".into(),
        queue: format!("mo:{}", row.id),
        message_id: None,
        inbox_id: Some(row.id),
        method: if push.post { "POST" } else { "GET" }.into(),
        url: escapes::expand(&push.url, &values),
        body: push.post.then_some(text),
        content_type: push.post.then(|| "text/plain; charset=UTF-8".into()),
        sign: false,
        reply_parts: if push.reply_from_body {
            push.max_messages
        } else {
            0
        },
        max_attempts: i64::MAX,
        expires_at: now + plan.kannel_retry_for.as_millis() as i64,
    }
}

/// The Android-gateway event an event of a watched message stands for, with the bit that
/// keeps it from being told twice.
fn android_event(e: &EventRow) -> Option<(u32, &'static str)> {
    match e.kind.as_str() {
        "sent" => Some((dlr::SMSC_ACCEPTED, "sms:sent")),
        "delivered" => Some((dlr::DELIVERED, "sms:delivered")),
        "failed" | "refused" | "expired" => Some((dlr::UNDELIVERABLE, "sms:failed")),
        _ => None,
    }
}

fn android_payload(
    e: &EventRow,
    watch: &WatchRow,
    detail: &MessageDetail,
    name: &str,
    sim: Option<usize>,
) -> serde_json::Value {
    let m = &detail.message;
    let mut payload = serde_json::json!({
        "messageId": watch.watch.target,
        "phoneNumber": m.recipient,
        "recipient": m.recipient,
        "simNumber": sim,
    });
    let at = rfc3339(e.at);
    match name {
        "sms:sent" => payload["sentAt"] = at.into(),
        "sms:delivered" => payload["deliveredAt"] = at.into(),
        _ => {
            payload["failedAt"] = at.into();
            payload["reason"] = e.detail.clone().into();
        }
    }
    payload
}

fn webhook_call(
    e: &EventRow,
    hook: &crate::store::WebhookRow,
    name: &str,
    plan: &Plan,
    payload: serde_json::Value,
    now: i64,
) -> NewCallback {
    let body = serde_json::json!({
        "id": format!("{}-{}", e.id, hook.id),
        "webhookId": hook.id,
        "event": name,
        "deviceId": plan.android_device.clone().unwrap_or_default(),
        "payload": payload,
    });
    NewCallback {
        purpose: "webhook".into(),
        queue: format!(
            "hook:{}:{}",
            hook.id,
            e.message_id
                .map_or(format!("in{}", e.inbox_id.unwrap_or(0)), |m| m.to_string())
        ),
        message_id: e.message_id,
        inbox_id: e.inbox_id,
        method: "POST".into(),
        url: hook.url.clone(),
        body: Some(body.to_string()),
        content_type: Some("application/json".into()),
        sign: true,
        reply_parts: 0,
        max_attempts: plan.webhook_attempts,
        // Fifteen doubling delays from 10 s, capped at an hour: about half a day.
        expires_at: now + 7 * 86_400_000,
    }
}

/// `X-Signature`: hex HMAC-SHA256 over the body followed by the `X-Timestamp` value, as
/// SMS Gateway for Android signs its webhooks.
pub fn signature(key: &[u8], body: &[u8], timestamp: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Delay before attempt `attempts + 1`: `first` doubling, at most an hour.
fn backoff(first: Duration, attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 16) as u32;
    (first.as_millis() as i64)
        .saturating_mul(1 << exp)
        .min(3_600_000)
}

/// How long one attempt may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of every call: 10 s per attempt, no redirects followed (a report goes
/// where the client said, not where a server sends it), TLS by rustls with the system's
/// certificate authorities.
pub fn client() -> Result<reqwest::Client, String> {
    // Once per process; a second call finds it installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("smsqd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// Makes the calls that are due until smsqd stops.
pub async fn run_deliverer(
    d: Arc<Daemon>,
    plan: Arc<Plan>,
    client: reqwest::Client,
    signing_key: Option<Arc<Vec<u8>>>,
    planned: Arc<Notify>,
) {
    let mut shutdown = d.shutdown.clone();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while let Some(done) = running.try_join_next() {
            if let Err(e) = done {
                warn!(event = "callback_task_failed", error = %e, "a callback attempt ended abnormally");
            }
        }
        let now = now_ms();
        // Held for longer than an attempt can take (its timeout), so that no other host
        // makes the same call meanwhile.
        let hold_until = now + 2 * CALL_TIMEOUT.as_millis() as i64;
        let due = d
            .store
            .call(move |db| db.claim_callbacks(now, 16, hold_until))
            .await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                warn!(event = "store_error", error = %e, "cannot read the callbacks due; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let busy = !due.is_empty();
        for call in due {
            let (d, client, key) = (d.clone(), client.clone(), signing_key.clone());
            let first = plan.retry_first;
            running.spawn(async move {
                attempt(&d, &client, key.as_deref().map(Vec::as_slice), first, call).await
            });
        }
        if busy {
            // Let this round's attempts record their outcome before reading again.
            while running.join_next().await.is_some() {}
            continue;
        }
        let next = d
            .store
            .call(|db| db.next_callback_at())
            .await
            .ok()
            .flatten();
        let wait = next.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64)
        });
        tokio::select! {
            _ = planned.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One attempt of `call`, recorded.
async fn attempt(
    d: &Daemon,
    client: &reqwest::Client,
    key: Option<&[u8]>,
    retry_first: Duration,
    row: CallbackRow,
) {
    let call = &row.planned;
    let host = escapes::host_of(&call.url).to_string();
    let mut request = if call.method == "POST" {
        client.post(&call.url)
    } else {
        client.get(&call.url)
    };
    if let Some(ct) = &call.content_type {
        request = request.header("Content-Type", ct);
    }
    if let Some(body) = &call.body {
        if call.sign
            && let Some(key) = key
        {
            let timestamp = (now_ms() / 1000).to_string();
            request = request
                .header("X-Signature", signature(key, body.as_bytes(), &timestamp))
                .header("X-Timestamp", timestamp);
        }
        request = request.body(body.clone());
    }
    let outcome = match request.send().await {
        Ok(response) if response.status().is_success() => {
            if call.reply_parts > 0 {
                let body = read_capped(response, 64 * 1024).await;
                reply_from_body(d, &row, &body).await;
            }
            Attempt::Done
        }
        Ok(response) => {
            let status = response.status();
            let error = format!("HTTP {}", status.as_u16());
            if status.is_server_error() || call.purpose == "webhook" {
                retry(&row, retry_first, error)
            } else {
                Attempt::GiveUp { error }
            }
        }
        Err(e) => retry(&row, retry_first, describe(e)),
    };
    match &outcome {
        Attempt::Done => {
            info!(event = "callback_done", callback = row.id, purpose = %call.purpose, host = %host, attempts = row.attempts + 1, "callback made")
        }
        Attempt::Retry { error, .. } => {
            info!(event = "callback_retry", callback = row.id, purpose = %call.purpose, host = %host, error = %error, "callback failed; it will be tried again")
        }
        Attempt::GiveUp { error } => {
            warn!(event = "callback_failed", callback = row.id, purpose = %call.purpose, host = %host, error = %error, "callback given up")
        }
    }
    let (id, now) = (row.id, now_ms());
    if let Err(e) = d
        .store
        .call(move |db| db.record_attempt(id, &host, &outcome, now))
        .await
    {
        warn!(event = "store_error", callback = id, error = %e, "cannot record a callback attempt; it will be made again");
    }
}

/// At most `cap` bytes of an answer's body, as text: a reply is a few hundred characters,
/// and a server must not make smsqd hold more.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

fn retry(row: &CallbackRow, first: Duration, error: String) -> Attempt {
    let at = now_ms() + backoff(first, row.attempts);
    if row.attempts + 1 >= row.planned.max_attempts || at > row.planned.expires_at {
        Attempt::GiveUp { error }
    } else {
        Attempt::Retry { at, error }
    }
}

/// A client error without the URL (reqwest puts it in its messages; it may carry secrets).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.without_url().to_string()
    }
}

/// Sends the text of a push's answer back to the sender of the pushed message, as Kannel
/// `sms-service` does: markup removed, blanks squeezed, through the gate like any reply.
async fn reply_from_body(d: &Daemon, row: &CallbackRow, body: &str) {
    let text = squeeze(&strip_tags(body));
    let Some(inbox_id) = row.planned.inbox_id else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let message = match d.store.call(move |db| db.inbox_message(inbox_id)).await {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            warn!(event = "store_error", callback = row.id, error = %e, "cannot read the pushed message; its reply is not sent");
            return;
        }
    };
    let mut s = Submission::new(vec![message.sender], text);
    s.class = Class::Reply;
    // A repeated attempt (smsqd stopped before recording this one) queues nothing twice.
    s.idempotency_key = Some(format!("mo-push-reply-{}", row.id));
    s.via = message.modem;
    s.max_parts = Some(row.planned.reply_parts);
    match d.submit(s, Peer::default()).await {
        Ok(queued) => {
            info!(event = "push_reply_queued", callback = row.id, messages = ?queued.iter().map(|q| q.id).collect::<Vec<_>>(), "the push's answer is queued as a reply")
        }
        Err(e) => {
            warn!(event = "push_reply_refused", callback = row.id, error = %e, "the push's answer was not queued")
        }
    }
}

pub(super) fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewMessage, Watch};

    fn plan() -> Plan {
        Plan {
            kannel_retry_for: Duration::from_secs(86_400),
            webhook_attempts: 15,
            modems: vec!["globe".into()],
            retry_first: Duration::from_secs(10),
            ..Plan::default()
        }
    }

    /// A message to +639171234567 watched with `mask`, sent at `at` (Unix ms).
    fn sent_message(db: &mut Db, mask: u32, at: i64) -> i64 {
        let m = NewMessage {
            watch: Some(Watch {
                interface: "kannel".into(),
                mask,
                target: "http://h/dlr?type=%d&to=%p&id=%I".into(),
                account: Some("shop".into()),
                meta: None,
            }),
            ..NewMessage::new("+639171234567", "Ready", vec![(20, "00PDU".into())])
        };
        let id = db.enqueue(&m, at).unwrap().id;
        db.mark_sending(id, 1, "globe", at).unwrap();
        db.mark_sent(id, 1, 7, at).unwrap();
        id
    }

    #[test]
    fn the_planner_starts_at_the_end_and_plans_each_masked_outcome_once() {
        let mut db = Db::open_in_memory().unwrap();
        let keywords = crate::daemon::care::CareSettings::default().keywords;
        let t = 1_767_225_600_000;
        // History before the first plan asks for nothing.
        sent_message(&mut db, 8, t);
        assert_eq!(plan_batch(&mut db, &plan(), &keywords, t).unwrap(), 0);
        assert!(db.due_callbacks(t + 1, 10).unwrap().is_empty());
        // From then on: the masked bit once, URL filled in.
        let id = sent_message(&mut db, 8 | 1, t + 1000);
        assert!(plan_batch(&mut db, &plan(), &keywords, t + 1000).unwrap() >= 1);
        let due = db.due_callbacks(t + 2000, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            due[0].planned.url,
            format!("http://h/dlr?type=8&to=%2B639171234567&id={id}")
        );
        assert_eq!(db.watch(id).unwrap().unwrap().told, 8);
        assert_eq!(
            plan_batch(&mut db, &plan(), &keywords, t + 3000).unwrap(),
            0,
            "read up"
        );
        assert_eq!(
            db.due_callbacks(t + 4000, 10).unwrap().len(),
            1,
            "nothing twice"
        );
    }

    #[test]
    fn events_older_than_the_retry_window_cause_no_call() {
        let mut db = Db::open_in_memory().unwrap();
        let keywords = crate::daemon::care::CareSettings::default().keywords;
        let t = 1_767_225_600_000;
        plan_batch(&mut db, &plan(), &keywords, t).unwrap();
        sent_message(&mut db, 8, t + 1000);
        // The interface was off for two days: the report's moment has passed.
        let later = t + 2 * 86_400_000;
        assert!(plan_batch(&mut db, &plan(), &keywords, later).unwrap() >= 1);
        assert!(db.due_callbacks(later, 10).unwrap().is_empty());
        assert_eq!(
            db.cursor(CURSOR).unwrap(),
            Some(db.last_event_id().unwrap())
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_body_then_timestamp() {
        // RFC 4231 test case 2 ("what do ya want for nothing?" keyed "Jefe"), split between
        // body and timestamp.
        assert_eq!(
            signature(b"Jefe", b"what do ya want ", "for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        let first = Duration::from_secs(10);
        assert_eq!(backoff(first, 0), 10_000);
        assert_eq!(backoff(first, 1), 20_000);
        assert_eq!(backoff(first, 5), 320_000);
        assert_eq!(backoff(first, 40), 3_600_000);
    }

    #[test]
    fn answers_become_plain_text() {
        assert_eq!(
            squeeze(&strip_tags("<html><b>Thanks</b>,\n  see   you!</html>\n")),
            "Thanks, see you!"
        );
    }
}
