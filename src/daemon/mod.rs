//! `smsqd`'s moving parts around the store and the modem actors: submission, dispatch,
//! receiving, housekeeping and the event stream that feeds subscribers.
//!
//! Every state change goes through the store first; the store's thread hands each committed
//! event to subscribers right after the commit, so they see exactly what was committed, in
//! order.

pub mod access;
mod campaigns;
pub mod care;
mod customers;
pub mod dispatch;
mod error;
pub mod hooks;
mod hosts;
pub mod receive;
pub mod routing;
mod submit;
pub mod templates;
mod watches;
mod workflows;

pub use crate::store::{Class, Watch};
pub use campaigns::{CampaignPlan, CampaignPreview};
pub use customers::{
    ConsentRecord, ContactEdit, ImportConsent, ImportInput, ImportResult, SubjectData,
};
pub use error::Error;
pub use submit::{Preview, Queued, Submission};
pub use workflows::{AuditData, SurveyPlan, SurveyResults};

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast, watch};
use tracing::{info, warn};

use crate::at::command::UssdString;
use crate::modem::{ModemHandle, ModemState, ModemStatus};
use crate::pdu::{self, PlanOptions, Planner};
use crate::phone::Country;
use crate::store::{EventRow, InboxRow, MessageDetail, MessageRow, MessageState, Stats, Store};
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
    /// Consent, keywords, quiet hours, caps and the shop's own texts.
    pub care: Arc<care::CareSettings>,
    /// Clients may set the clock (`smsqd --test-clock`, for tests of quiet hours and caps).
    pub test_clock: bool,
    /// The program run for every received message (`on_receive`), if any.
    pub on_receive: Option<hooks::Hook>,
    /// Where the shop's web page listens, when it is on (for its setup links).
    pub web_address: Option<std::net::SocketAddr>,
    /// This host's name among the hosts sharing the database (`host`; the machine's name).
    pub host: String,
    /// How long this host holds its modems without a heartbeat (`lease`): after that,
    /// another host settles what they were doing.
    pub lease: Duration,
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
            care: Arc::new(care::CareSettings::default()),
            test_clock: false,
            on_receive: None,
            web_address: None,
            host: hosts::machine_name(),
            lease: Duration::from_secs(30),
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
    /// Parts this SIM may send per day (the shop's day, from midnight in `time_zone`); `None`
    /// for no cap.
    pub daily_cap: Option<i64>,
    /// Parts this SIM may send in any hour; `None` for no cap.
    pub hourly_cap: Option<i64>,
    /// This modem's least time between the starts of two sends; `None`: the global `send_gap`.
    pub send_gap: Option<Duration>,
    /// With a gap: each gap is drawn between it and this, so that the sends do not tick
    /// like a machine's (carriers' flood rules look for regular beats).
    pub send_gap_max: Option<Duration>,
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
    /// Received messages for the receive hook's runner (started with the daemon's tasks).
    hook_queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<i64>>,
    /// Wakes the campaign watcher when a campaign starts.
    campaign_started: Notify,
    /// The other hosts' modems as the last heartbeat read them, for routing.
    remote_modems: std::sync::RwLock<Vec<crate::store::HostModem>>,
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
            hook_queue: std::sync::OnceLock::new(),
            campaign_started: Notify::new(),
            remote_modems: std::sync::RwLock::new(Vec::new()),
        })
    }

    /// `count` consecutive concatenation references (wrapping at 256): the first of them.
    /// Consecutive messages get consecutive references, so two long texts to the same
    /// customer never share one; the start survives restarts (it comes from the store).
    async fn concat_refs(&self, count: usize) -> crate::store::Result<u8> {
        let counter = self
            .next_concat_ref
            .get_or_try_init(|| async {
                let first = self.store.call(|db| db.next_concat_ref()).await?;
                Ok::<_, crate::store::StoreError>(std::sync::atomic::AtomicU8::new(first))
            })
            .await?;
        Ok(counter.fetch_add(count as u8, std::sync::atomic::Ordering::Relaxed))
    }

    /// Starts the receive hook's runner (once).
    pub fn start_hooks(self: &Arc<Self>) {
        self.hook_queue.get_or_init(|| hooks::spawn(self.clone()));
    }

    /// Hands a received message to the receive hook, if one is configured.
    pub(crate) async fn queue_hook(&self, inbox_id: i64) {
        if self.settings().on_receive.is_none() {
            return;
        }
        let Some(queue) = self.hook_queue.get() else {
            return;
        };
        if let Err(e) = queue.try_send(inbox_id) {
            warn!(event = "hook_skipped", inbox_id, error = %e, "the receive hook is behind; not run for this message");
            let now = now_ms();
            let note = format!("message {inbox_id}: not run, {e}");
            if let Err(e) = self
                .store
                .call(move |db| db.note("hook_skipped", &note, now))
                .await
            {
                warn!(event = "store_error", error = %e, "cannot record a skipped hook");
            }
        }
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

    /// The time between two sends through modem `k`: its own gap, else the global one; with
    /// a `send_gap_max`, a random time between the two.
    pub fn send_gap(&self, k: usize) -> Duration {
        let (own, max) = self
            .rules
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .map_or((None, None), |r| (r.send_gap, r.send_gap_max));
        let gap = own.unwrap_or_else(|| self.settings().send_gap);
        gap_between(gap, max, dispatch::random_seed())
    }

    /// Tells the store how far back a reply looks for the text it answers (at start and
    /// after a reload).
    pub async fn apply_reply_window(&self) -> Result<(), Error> {
        let ms = self.settings().care.reply_window.as_millis() as i64;
        Ok(self
            .store
            .call(move |db| {
                db.set_reply_window(ms);
                Ok(())
            })
            .await?)
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

    /// A message with its parts and history.
    pub async fn message(&self, id: i64) -> Result<MessageDetail, Error> {
        self.store
            .call(move |db| db.message(id))
            .await?
            .ok_or(Error::NotFound(id))
    }

    /// Received messages, newest first, older than `before` (paging).
    pub async fn inbox(&self, before: Option<i64>, limit: i64) -> Result<Vec<InboxRow>, Error> {
        Ok(self
            .store
            .call(move |db| db.list_inbox(before, limit.clamp(1, 1000)))
            .await?)
    }

    /// Outgoing messages, newest first, in any of `states` (all when empty).
    pub async fn outbox(
        &self,
        states: Vec<MessageState>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<MessageRow>, Error> {
        Ok(self
            .store
            .call(move |db| db.list_outbox(&states, before, limit.clamp(1, 1000)))
            .await?)
    }

    /// Cancels a queued message nothing of which went out.
    pub async fn cancel(&self, id: i64) -> Result<(), Error> {
        let now = now_ms();
        if self.store.call(move |db| db.cancel(id, now)).await? {
            Ok(())
        } else {
            Err(Error::NotCancellable(id))
        }
    }

    /// Queues a failed, expired or unknown message again, on purpose.
    pub async fn retry(&self, id: i64) -> Result<(), Error> {
        let now = now_ms();
        let queued = self.store.call(move |db| db.retry_now(id, now)).await?;
        self.wake();
        if queued {
            Ok(())
        } else {
            Err(Error::NotRetryable(id))
        }
    }

    /// Every modem as it is now, with the queue and what it sent today.
    pub async fn modems(&self) -> Result<Vec<ModemReport>, Error> {
        let day_start = crate::time::day_start(now_ms(), &self.settings().time_zone);
        let mut out = Vec::with_capacity(self.modems.len());
        for (k, m) in self.modems.iter().enumerate() {
            let id = m.id().to_string();
            let counts = self.store.call(move |db| db.counts(&id, day_start)).await?;
            out.push(ModemReport {
                id: m.id().to_string(),
                status: m.status(),
                queue_depth: counts.queued,
                sent_today: counts.sent_since,
                store_error: self.store_fault(k),
            });
        }
        Ok(out)
    }

    /// Runs a USSD code through modem `modem` (by id), or the first ready one; returns the
    /// modem's id and the network's answer.
    pub async fn ussd(
        &self,
        code: &UssdString,
        modem: Option<&str>,
    ) -> Result<(String, String), Error> {
        let handle = match modem {
            Some(name) => self.modems.iter().find(|m| m.id() == name),
            None => self
                .modems
                .iter()
                .find(|m| m.status().state == ModemState::Ready),
        }
        .ok_or_else(|| Error::NoModem("no ready modem for USSD".into()))?;
        let answer = handle
            .ussd(code)
            .await
            .map_err(|e| Error::Modem(e.to_string()))?;
        Ok((handle.id().to_string(), answer))
    }

    /// How `text` would travel in `encoding` (a name, as in a submission).
    pub fn estimate(&self, text: &str, encoding: &str) -> Result<pdu::Estimate, Error> {
        let encoding = submit::encoding_choice(encoding)?;
        Planner::new()
            .estimate(
                text,
                &PlanOptions {
                    encoding,
                    ..PlanOptions::default()
                },
            )
            .map_err(|e| Error::Unencodable {
                code: e.code(),
                message: e.to_string(),
            })
    }

    /// Events committed after `since`, for a subscriber resuming.
    pub async fn history_since(&self, since: i64) -> Result<Vec<EventRow>, Error> {
        Ok(self
            .store
            .call(move |db| db.events_since(since, 10_000))
            .await?)
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

    /// Rows per table, the database's size, and the retention in force.
    pub async fn stats(&self) -> Result<(Stats, Settings), Error> {
        let stats = self.store.call(|db| db.stats()).await?;
        Ok((stats, self.settings()))
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
            .call(|db| db.counts("", 0).map(|c| c.queued))
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

/// A gap drawn from `seed` between `gap` and `max` (to the millisecond), or `gap` itself.
fn gap_between(gap: Duration, max: Option<Duration>, seed: u64) -> Duration {
    match max {
        Some(max) if max > gap => {
            let spread = (max - gap).as_millis() as u64;
            gap + Duration::from_millis(seed % (spread + 1))
        }
        _ => gap,
    }
}

#[cfg(test)]
mod gap_tests {
    use super::*;

    #[test]
    fn gaps_are_drawn_within_their_range() {
        let (gap, max) = (Duration::from_secs(3), Duration::from_secs(9));
        let drawn: Vec<Duration> = (0..2000u64)
            .map(|i| gap_between(gap, Some(max), i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        assert!(drawn.iter().all(|d| *d >= gap && *d <= max));
        let spread = drawn
            .iter()
            .max()
            .unwrap()
            .saturating_sub(*drawn.iter().min().unwrap());
        assert!(spread > Duration::from_secs(5), "they vary: {spread:?}");
        assert_eq!(gap_between(gap, None, 7), gap);
        assert_eq!(gap_between(gap, Some(Duration::from_secs(1)), 7), gap);
    }
}

/// A modem as `smsq modems` reports it.
#[derive(Debug, Clone)]
pub struct ModemReport {
    pub id: String,
    pub status: ModemStatus,
    /// Messages waiting or being sent (all modems).
    pub queue_depth: i64,
    /// Parts sent through this modem since midnight UTC.
    pub sent_today: i64,
    /// The store write that holds up its sending, while it fails.
    pub store_error: Option<String>,
}

impl Daemon {
    /// Whether a modem (`via`, or any) is ready and registered now, so that a message queued
    /// now can go at once; `false` tells an interface to say "queued for later".
    pub fn can_send_now(&self, via: Option<&str>) -> bool {
        self.modems
            .iter()
            .filter(|m| via.is_none_or(|v| m.id() == v))
            .any(|m| m.status().can_send())
    }
}
