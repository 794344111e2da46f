//! `smsqd`'s moving parts around the store and the modem actors: submission, dispatch,
//! receiving, housekeeping and the event stream that feeds subscribers.
//!
//! Every state change goes through the store first; the store's thread hands each committed
//! event to subscribers right after the commit, so they see exactly what was committed, in
//! order.

pub mod dispatch;
pub mod receive;
pub mod routing;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast, watch};
use tracing::{info, warn};

use crate::api::{self, ApiError, Mailbox, SendRequest};
use crate::at::command::UssdString;
use crate::modem::{ModemHandle, ModemState};
use crate::pdu::{
    self, Address, EncodingChoice, PlanOptions, Planner, SubmitEncoder, SubmitOptions, SubmitPdus,
};
use crate::phone::{self, Country};
use crate::store::{EventRow, NewMessage, Store};
use crate::time::now_ms;

/// Behaviour that the configuration decides.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default_country: Option<&'static Country>,
    /// Ask for delivery reports unless a request says otherwise.
    pub status_reports: bool,
    /// Least time between the starts of two sends through one modem.
    pub send_gap: Duration,
    /// Attempts before a temporarily failing message is given up.
    pub max_attempts: i64,
    /// First retry delay; doubles per attempt (with ±20 % jitter), capped at an hour.
    pub retry_base: Duration,
    /// How far back a status report may match a sent part.
    pub report_window: Duration,
    /// How long the parts of an incomplete message are waited for.
    pub multipart_timeout: Duration,
    /// Periodic sweep of the modems' storage.
    pub sweep_interval: Duration,
    /// Most parts one message may take.
    pub max_parts: u8,
    /// How often expiry and incomplete-message checks run.
    pub housekeeping_interval: Duration,
    /// Socket connections served at once; more are told so and closed.
    pub max_connections: usize,
    /// Retention: texts of finished messages erased after this age; `None` keeps them.
    pub keep_texts: Option<Duration>,
    /// Retention: finished messages, replies and reports deleted after this age.
    pub keep_messages: Option<Duration>,
    /// Retention: history events deleted after this age.
    pub keep_events: Option<Duration>,
    /// The shop's time zone: times written without an offset are read in it.
    pub time_zone: jiff::tz::TimeZone,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_country: None,
            status_reports: true,
            send_gap: Duration::from_secs(3),
            max_attempts: 5,
            retry_base: Duration::from_secs(30),
            report_window: Duration::from_secs(3 * 86_400),
            multipart_timeout: Duration::from_secs(24 * 3600),
            sweep_interval: Duration::from_secs(600),
            max_parts: 10,
            housekeeping_interval: Duration::from_secs(30),
            max_connections: 256,
            keep_texts: None,
            keep_messages: None,
            keep_events: None,
            time_zone: jiff::tz::TimeZone::system(),
        }
    }
}

/// The modems' record of refused PINs, kept in the database (see `modem::pin`).
pub struct StorePinMemory(pub Store);

impl crate::modem::PinMemory for StorePinMemory {
    fn was_refused(
        &self,
        sim: &str,
        fingerprint: &str,
    ) -> crate::modem::pin::BoxFuture<Result<bool, String>> {
        let (store, sim, fingerprint) = (self.0.clone(), sim.to_string(), fingerprint.to_string());
        Box::pin(async move {
            store
                .call(move |db| db.pin_refused(&sim, &fingerprint))
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn remember_refusal(
        &self,
        sim: &str,
        fingerprint: &str,
    ) -> crate::modem::pin::BoxFuture<Result<(), String>> {
        let (store, sim, fingerprint) = (self.0.clone(), sim.to_string(), fingerprint.to_string());
        Box::pin(async move {
            store
                .call(move |db| db.record_pin_refusal(&sim, &fingerprint, now_ms()))
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Control characters are refused in a text, except line feed and carriage return: a NUL,
/// a tab or an escape code has no place in an SMS (GSM 7-bit has none of them, so each would
/// silently force UCS-2 and halve the part size), a phone shows them as boxes or not at
/// all, and they would reach terminals and logs that display the text later.
fn check_text(text: &str) -> Result<(), ApiError> {
    let bad = text
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && c != '\n' && c != '\r');
    match bad {
        None => Ok(()),
        Some((i, c)) => {
            let hint = if c == '\t' { "; use spaces" } else { "" };
            Err(ApiError::new(
                "invalid_text",
                format!(
                    "the text holds the control character U+{:04X} at position {}{hint}; only line breaks are allowed",
                    c as u32,
                    i + 1
                ),
            ))
        }
    }
}

/// Who sent a request (from SO_PEERCRED).
#[derive(Debug, Clone, Copy, Default)]
pub struct Peer {
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

/// How one modem takes part in routing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModemRules {
    /// Recipient prefixes this modem is preferred for (`+63917`).
    pub prefixes: Vec<String>,
    /// Parts this SIM may send per day (UTC); `None` for no cap.
    pub daily_cap: Option<i64>,
    /// This modem's least time between the starts of two sends; `None`: the global `send_gap`.
    pub send_gap: Option<Duration>,
}

/// The shared state of a running daemon.
pub struct Daemon {
    pub store: Store,
    pub modems: Vec<ModemHandle>,
    /// Routing rules, one per entry of `modems` (replaced on SIGHUP).
    rules: std::sync::RwLock<Vec<ModemRules>>,
    /// Replaced on SIGHUP; read through [`Daemon::settings`].
    settings: std::sync::RwLock<Settings>,
    /// Wakes the dispatcher (new message, modem back, retry time).
    pub work: Notify,
    pub shutdown: watch::Receiver<bool>,
    /// Per modem: the store write that failed and holds up its sending, until one commits.
    store_faults: std::sync::Mutex<Vec<Option<String>>>,
    /// The next concatenation reference: read from the store once, then counted here.
    next_concat_ref: tokio::sync::OnceCell<std::sync::atomic::AtomicU8>,
}

impl Daemon {
    pub fn new(
        store: Store,
        modems: Vec<ModemHandle>,
        settings: Settings,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let rules = vec![ModemRules::default(); modems.len()];
        Self::with_rules(store, modems, rules, settings, shutdown)
    }

    /// A daemon whose modems route by `rules` (one entry per modem).
    pub fn with_rules(
        store: Store,
        modems: Vec<ModemHandle>,
        rules: Vec<ModemRules>,
        settings: Settings,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        assert_eq!(modems.len(), rules.len(), "one routing rule set per modem");
        let n = modems.len();
        Arc::new(Self {
            store,
            modems,
            rules: std::sync::RwLock::new(rules),
            settings: std::sync::RwLock::new(settings),
            work: Notify::new(),
            shutdown,
            store_faults: std::sync::Mutex::new(vec![None; n]),
            next_concat_ref: tokio::sync::OnceCell::new(),
        })
    }

    /// `count` consecutive concatenation references (wrapping at 256): the first of them.
    /// Consecutive messages get consecutive references, so two long texts to the same
    /// customer never share one; the start survives restarts (it comes from the store).
    async fn concat_refs(&self, count: usize) -> rusqlite::Result<u8> {
        let counter = self
            .next_concat_ref
            .get_or_try_init(|| async {
                let first = self.store.call(|db| db.next_concat_ref()).await?;
                Ok::<_, rusqlite::Error>(std::sync::atomic::AtomicU8::new(first))
            })
            .await?;
        Ok(counter.fetch_add(count as u8, std::sync::atomic::Ordering::Relaxed))
    }

    /// Why modem `k` is not sending because the store cannot record what it does, if so.
    pub fn store_fault(&self, k: usize) -> Option<String> {
        self.store_faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .cloned()
            .flatten()
    }

    /// Records (`Some`) or clears (`None`) modem `k`'s store fault; logs each change once.
    pub fn set_store_fault(&self, k: usize, fault: Option<String>) {
        let mut faults = self.store_faults.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = faults.get_mut(k) else {
            return;
        };
        let modem = self.modems.get(k).map_or("", |m| m.id());
        match (&*slot, &fault) {
            (None, Some(error)) => {
                tracing::error!(event = "store_error", modem = %modem, error = %error, "cannot write to the database; this modem sends nothing until it can")
            }
            (Some(_), None) => {
                info!(event = "store_recovered", modem = %modem, "the database takes writes again; sending resumes")
            }
            _ => {}
        }
        *slot = fault;
    }

    /// The settings in force now (a copy: a reload may replace them at any time).
    pub fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The routing rules in force now, one per modem.
    pub fn rules(&self) -> Vec<ModemRules> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The minimum time between two sends through modem `k`: its own, else the global one.
    pub fn send_gap(&self, k: usize) -> Duration {
        let own = self
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .and_then(|r| r.send_gap);
        own.unwrap_or_else(|| self.settings().send_gap)
    }

    /// Applies reloaded settings and rules (SIGHUP); takes effect from the next decision.
    pub fn replace_settings(&self, settings: Settings, rules: Vec<ModemRules>) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
        if rules.len() == self.modems.len() {
            *self.rules.write().unwrap_or_else(|e| e.into_inner()) = rules;
        }
        self.wake();
    }

    /// Wakes every dispatcher: each decides whether the new work is routed to it. The stored
    /// permit covers a dispatcher that is between its check and its wait.
    pub fn wake(&self) {
        self.work.notify_waiters();
        self.work.notify_one();
    }

    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Validates, plans and queues one message per recipient. Nothing is queued unless every
    /// recipient and the text are acceptable; each message is told only after its commit.
    pub async fn submit(&self, req: SendRequest, peer: Peer) -> Result<Value, ApiError> {
        check_text(&req.text)?;
        let recipients = req.to.list();
        if recipients.is_empty() {
            return Err(ApiError::new("invalid_number", "no recipient"));
        }
        // One snapshot for the whole request, so a reload midway cannot mix two settings.
        let settings = self.settings();
        let mut numbers = Vec::with_capacity(recipients.len());
        for r in &recipients {
            let n = phone::normalize(r, settings.default_country)
                .map_err(|e| ApiError::new("invalid_number", e.to_string()))?;
            numbers.push(n);
        }
        let encoding_name = req.encoding.clone().unwrap_or_else(|| "auto".into());
        let encoding = EncodingChoice::from_name(&encoding_name).ok_or_else(|| {
            ApiError::new(
                "invalid_encoding",
                format!("unknown encoding {encoding_name:?}: use auto, gsm7, ucs2 or gsm7-fold"),
            )
        })?;
        let time = |s: &Option<String>, what: &str| -> Result<Option<i64>, ApiError> {
            s.as_deref()
                .map(|t| {
                    crate::time::parse_time(t, &settings.time_zone)
                        .map_err(|e| ApiError::new("invalid_time", format!("{what}: {e}")))
                })
                .transpose()
        };
        let not_before = time(&req.not_before, "not_before")?;
        let not_after = time(&req.not_after, "not_after")?;
        if let Some(t) = not_after
            && t <= now_ms()
        {
            return Err(ApiError::new(
                "invalid_time",
                "not_after is already past: the message could never be sent",
            ));
        }
        if let (Some(a), Some(b)) = (not_before, not_after)
            && b <= a
        {
            return Err(ApiError::new(
                "invalid_time",
                "not_after must be later than not_before",
            ));
        }
        let report = req.report.unwrap_or(settings.status_reports);
        // One reference base per request; consecutive messages get consecutive references,
        // so two long texts to the same customer never share one.
        let base = self.concat_refs(numbers.len()).await.map_err(internal)?;
        let mut encoder = SubmitEncoder::new();
        let mut out = SubmitPdus::new();
        let mut messages = Vec::with_capacity(numbers.len());
        for (i, number) in numbers.iter().enumerate() {
            let concat_ref = base.wrapping_add(i as u8);
            let address = Address::parse(number)
                .map_err(|e| ApiError::new("invalid_number", e.to_string()))?;
            let mut opts = SubmitOptions::new(address);
            opts.status_report = report;
            opts.plan = PlanOptions {
                encoding,
                concat: pdu::ConcatRef::Ref8(concat_ref),
                max_parts: settings.max_parts,
                ..PlanOptions::default()
            };
            encoder
                .encode_text(&req.text, &opts, &mut out)
                .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
            messages.push(NewMessage {
                recipient: number.clone(),
                body: req.text.clone(),
                encoding: encoding_name.clone(),
                alphabet: out.alphabet().map_or("gsm7", |a| a.name()).to_string(),
                concat_ref: u16::from(concat_ref),
                status_report: report,
                priority: req.priority.unwrap_or(0),
                client_ref: req.client_ref.clone(),
                // One key per recipient, so a multi-recipient send is idempotent as a whole.
                idempotency_key: req.idempotency_key.as_ref().map(|k| {
                    if i == 0 {
                        k.clone()
                    } else {
                        format!("{k}#{i}")
                    }
                }),
                not_before,
                not_after,
                peer_uid: peer.uid,
                peer_pid: peer.pid,
                parts: out
                    .iter()
                    .map(|p| (p.tpdu_len, p.hex.to_string()))
                    .collect(),
            });
        }
        // All recipients in one transaction: the answer comes only after the commit.
        let now = now_ms();
        let counts: Vec<usize> = messages.iter().map(|m| m.parts.len()).collect();
        let ids = self
            .store
            .call(move |db| db.enqueue_many(&messages, now))
            .await
            .map_err(internal)?;
        let mut results = Vec::with_capacity(ids.len());
        for ((number, (id, new)), parts) in numbers.iter().zip(ids).zip(counts) {
            info!(event = "queued", message_id = id, to = %phone::mask(number), parts, uid = ?peer.uid, "message queued");
            results.push(json!({"id": id, "to": number, "parts": parts, "new": new}));
        }
        self.wake();
        Ok(json!({ "messages": results }))
    }

    pub async fn get(&self, id: i64) -> Result<Value, ApiError> {
        let detail = self
            .store
            .call(move |db| db.message(id))
            .await
            .map_err(internal)?;
        let Some((m, parts, history)) = detail else {
            return Err(ApiError::new("not_found", format!("no message {id}")));
        };
        Ok(json!({
            "id": m.id, "to": m.recipient, "text": m.body, "encoding": m.alphabet, "state": m.state,
            "parts_total": m.parts, "attempts": m.attempts, "priority": m.priority,
            "client_ref": m.client_ref, "last_error": m.last_error, "modem": m.modem,
            "created_at": crate::time::rfc3339(m.created_at), "updated_at": crate::time::rfc3339(m.updated_at),
            "next_attempt_at": crate::time::rfc3339(m.next_attempt_at),
            "parts": parts.iter().map(|p| json!({
                "part": p.part, "state": p.state, "message_ref": p.mr, "modem": p.modem,
                "sent_at": p.sent_at.map(crate::time::rfc3339), "report_status": p.report_status,
            })).collect::<Vec<_>>(),
            "history": history.iter().map(api::event_json).collect::<Vec<_>>(),
        }))
    }

    pub async fn list(&self, req: api::ListRequest) -> Result<Value, ApiError> {
        let limit = req.limit.unwrap_or(50).clamp(1, 1000);
        let before = req.before;
        // A filter that cannot match is a mistake to say, not an empty list to show.
        if let Some(state) = &req.state {
            const STATES: [&str; 8] = api::MESSAGE_STATES;
            if req.mailbox != Mailbox::Outbox {
                return Err(ApiError::new(
                    "invalid_state",
                    "only the outbox can be filtered by state",
                ));
            }
            if !STATES.contains(&state.as_str()) {
                return Err(ApiError::new(
                    "invalid_state",
                    format!(
                        "no state {:?}; use one of {}",
                        state.chars().take(40).collect::<String>(),
                        STATES.join(", ")
                    ),
                ));
            }
        }
        match req.mailbox {
            Mailbox::Inbox => {
                let rows = self
                    .store
                    .call(move |db| db.list_inbox(before, limit))
                    .await
                    .map_err(internal)?;
                Ok(json!({"inbox": rows.iter().map(|r| json!({
                    "id": r.id, "from": r.sender, "text": r.body, "data_hex": r.data_hex,
                    "parts": r.parts, "complete": r.complete, "modem": r.modem,
                    "sent_at": r.sent_at, "received_at": crate::time::rfc3339(r.received_at),
                })).collect::<Vec<_>>()}))
            }
            Mailbox::Outbox | Mailbox::Failed => {
                let states: Vec<String> = match (req.mailbox, req.state) {
                    (Mailbox::Failed, _) => {
                        vec!["failed".into(), "expired".into(), "unknown".into()]
                    }
                    (_, Some(s)) => vec![s],
                    _ => Vec::new(),
                };
                let rows = self
                    .store
                    .call(move |db| {
                        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
                        db.list_outbox(&refs, before, limit)
                    })
                    .await
                    .map_err(internal)?;
                Ok(json!({"outbox": rows.iter().map(|m| json!({
                    "id": m.id, "to": m.recipient, "text": m.body, "state": m.state, "parts": m.parts,
                    "attempts": m.attempts, "last_error": m.last_error, "modem": m.modem,
                    "created_at": crate::time::rfc3339(m.created_at), "updated_at": crate::time::rfc3339(m.updated_at),
                })).collect::<Vec<_>>()}))
            }
        }
    }

    pub async fn cancel(&self, id: i64) -> Result<Value, ApiError> {
        let now = now_ms();
        let ok = self
            .store
            .call(move |db| db.cancel(id, now))
            .await
            .map_err(internal)?;
        if ok {
            Ok(json!({"id": id, "state": "cancelled"}))
        } else {
            Err(ApiError::new(
                "not_cancellable",
                format!("message {id} is not queued or has already started"),
            ))
        }
    }

    pub async fn retry(&self, id: i64) -> Result<Value, ApiError> {
        let now = now_ms();
        let ok = self
            .store
            .call(move |db| db.retry_now(id, now))
            .await
            .map_err(internal)?;
        self.wake();
        if ok {
            Ok(json!({"id": id, "state": "queued"}))
        } else {
            Err(ApiError::new(
                "not_retryable",
                format!("message {id} is not failed, expired or unknown"),
            ))
        }
    }

    pub async fn modems(&self) -> Result<Value, ApiError> {
        let day_start = now_ms() - now_ms().rem_euclid(86_400_000);
        let mut out = Vec::new();
        for (k, m) in self.modems.iter().enumerate() {
            let s = m.status();
            let id = m.id().to_string();
            let (queued, sent_today) = self
                .store
                .call(move |db| db.counts(&id, day_start))
                .await
                .map_err(internal)?;
            let reason = match &s.state {
                ModemState::NeedsPin(w) | ModemState::Failed(w) => Some(w.clone()),
                ModemState::Absent => s.absent_reason.clone(),
                _ => None,
            };
            out.push(json!({
                "id": m.id(), "state": s.state.name(), "reason": reason,
                "operator": s.operator, "signal_dbm": s.signal_dbm,
                "registration": s.registration.as_ref().map(|r| r.stat_name()),
                "registered": s.is_registered(),
                "manufacturer": s.identity.manufacturer, "model": s.identity.model,
                "imei": s.identity.imei, "imsi": s.identity.imsi, "iccid": s.identity.iccid,
                "smsc": s.smsc, "storage": s.storage.map(|(u, t)| json!({"used": u, "total": t})),
                "queue_depth": queued, "sent_today": sent_today,
                "store_error": self.store_fault(k),
                "pin_attempts_left": s.pin_attempts_left,
            }));
        }
        Ok(json!({ "modems": out }))
    }

    pub async fn ussd(&self, code: &UssdString, modem: Option<&str>) -> Result<Value, ApiError> {
        let handle = match modem {
            Some(name) => self.modems.iter().find(|m| m.id() == name),
            None => self
                .modems
                .iter()
                .find(|m| m.status().state == ModemState::Ready),
        }
        .ok_or_else(|| ApiError::new("no_modem", "no ready modem for USSD"))?;
        let answer = handle
            .ussd(code)
            .await
            .map_err(|e| ApiError::new("modem_error", e.to_string()))?;
        Ok(json!({"modem": handle.id(), "answer": answer}))
    }

    pub fn estimate(&self, text: &str, encoding: Option<&str>) -> Result<Value, ApiError> {
        let name = encoding.unwrap_or("auto");
        let encoding = EncodingChoice::from_name(name).ok_or_else(|| {
            ApiError::new("invalid_encoding", format!("unknown encoding {name:?}"))
        })?;
        let e = Planner::new()
            .estimate(
                text,
                &PlanOptions {
                    encoding,
                    ..PlanOptions::default()
                },
            )
            .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
        Ok(json!({
            "encoding": e.alphabet.name(), "parts": e.parts, "units": e.units,
            "units_per_part": e.units_per_part, "units_left": e.units_left,
            "forced_ucs2_by": e.forced_ucs2_by.iter().map(|c| json!({"character": c.character.to_string(), "position": c.position})).collect::<Vec<_>>(),
        }))
    }

    /// Events committed after `since`, for a subscriber resuming.
    pub async fn history_since(&self, since: i64) -> Result<Vec<EventRow>, ApiError> {
        self.store
            .call(move |db| db.events_since(since, 10_000))
            .await
            .map_err(internal)
    }

    /// Every event committed from now on, in order, as the store commits it.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.store.subscribe()
    }

    /// One round of retention: batches of at most 500 rows, a pause between them so that
    /// sends and receipts interleave, at most 20 batches a round.
    async fn retention(&self, now: i64) {
        let settings = self.settings();
        let before = |keep: Option<Duration>| keep.map(|k| now - k.as_millis() as i64);
        let (texts, rows, events) = (
            before(settings.keep_texts),
            before(settings.keep_messages),
            before(settings.keep_events),
        );
        if texts.is_none() && rows.is_none() && events.is_none() {
            return;
        }
        for _ in 0..20 {
            match self
                .store
                .call(move |db| db.apply_retention(texts, rows, events, 500))
                .await
            {
                Ok(0) => return,
                Ok(changed) => {
                    tracing::debug!(event = "retention", changed, "old data erased or deleted")
                }
                Err(e) => {
                    warn!(event = "store_error", error = %e, "retention failed; trying again at the next tick");
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rows per table, database size and retention, for `smsq stats`.
    pub async fn stats(&self) -> Result<Value, ApiError> {
        let stats = self.store.call(|db| db.stats()).await.map_err(internal)?;
        let settings = self.settings();
        let keep = |d: Option<Duration>| d.map(|d| format!("{}d", d.as_secs() / 86_400));
        let rows: serde_json::Map<String, Value> = stats
            .tables
            .iter()
            .map(|(table, n)| (table.to_string(), json!(n)))
            .collect();
        Ok(json!({
            "database": {
                "size_bytes": stats.pages * stats.page_size,
                "free_bytes": stats.free_pages * stats.page_size,
                "schema": stats.schema,
            },
            "rows": rows,
            "retention": {
                "texts": keep(settings.keep_texts),
                "messages": keep(settings.keep_messages),
                "events": keep(settings.keep_events),
            },
        }))
    }

    /// Expiry, incomplete multipart messages and periodic sweeps.
    pub async fn housekeeping(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.settings().housekeeping_interval);
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            let now = now_ms();
            let timeout = self.settings().multipart_timeout.as_millis() as i64;
            if let Err(e) = self.store.call(move |db| db.expire(now)).await {
                warn!(event = "store_error", error = %e, "cannot expire messages; trying again at the next tick");
            }
            if let Err(e) = self
                .store
                .call(move |db| db.expire_incomplete(now, timeout))
                .await
            {
                warn!(event = "store_error", error = %e, "cannot close incomplete messages; trying again at the next tick");
            }
            self.retention(now).await;
            if last_sweep.elapsed() >= self.settings().sweep_interval {
                last_sweep = tokio::time::Instant::now();
                for modem in &self.modems {
                    receive::sweep(&self, modem).await;
                }
            }
        }
    }
}

/// The running daemon's tasks; `dispatcher` and `server` are awaited on shutdown.
pub struct Tasks {
    pub dispatcher: tokio::task::JoinHandle<()>,
    pub server: tokio::task::JoinHandle<()>,
}

/// Starts dispatch, receiving for every modem, housekeeping, the event pump and the socket
/// server for `d`.
pub fn spawn_tasks(d: &Arc<Daemon>, listener: tokio::net::UnixListener) -> Tasks {
    let dispatchers: Vec<_> = (0..d.modems.len())
        .map(|k| tokio::spawn(dispatch::run(d.clone(), k)))
        .collect();
    let dispatcher = tokio::spawn(async move {
        for task in dispatchers {
            let _ = task.await;
        }
    });
    for modem in &d.modems {
        tokio::spawn(receive::run(d.clone(), modem.clone()));
    }
    tokio::spawn(d.clone().housekeeping());
    let server = tokio::spawn(crate::api::server::serve(listener, d.clone()));
    Tasks { dispatcher, server }
}

impl Daemon {
    /// One line for `systemctl status`: each modem's state, then the queue.
    pub async fn status_line(&self) -> String {
        let mut parts = Vec::new();
        for (k, m) in self.modems.iter().enumerate() {
            let s = m.status();
            let mut line = format!("{} {}", m.id(), s.state.name());
            if let Some(error) = self.store_fault(k) {
                line.push_str(&format!(
                    " (sending paused: database write failed: {error})"
                ));
            }
            if s.state == ModemState::Ready {
                line.push_str(if s.is_registered() {
                    " registered"
                } else {
                    " unregistered"
                });
                if let Some(dbm) = s.signal_dbm {
                    line.push_str(&format!(" {dbm} dBm"));
                }
                if let Some(op) = &s.operator {
                    line.push_str(&format!(" {op}"));
                }
            }
            parts.push(line);
        }
        let queued = self
            .store
            .call(|db| db.counts("", 0).map(|(q, _)| q))
            .await
            .unwrap_or(0);
        format!(
            "{} modem{}: {}; {queued} queued",
            self.modems.len(),
            if self.modems.len() == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }
}

fn internal(e: rusqlite::Error) -> ApiError {
    ApiError::new("store_error", e.to_string())
}
