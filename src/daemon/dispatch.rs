//! Sending: one dispatcher per modem; each, when idle, takes the first due message routing
//! (`routing.rs`) lets it send, claims it in the store (exclusively: no two modems send the
//! same message, and an idle modem never waits for a busy one), and sends its parts in
//! order, paced by `send_gap` (the least time between the starts of two sends). Each outcome maps to one store transition:
//!
//! | modem says | message becomes |
//! |---|---|
//! | `+CMGS: <mr>` | part `sent` (message `sent` when all are) |
//! | `+CMS ERROR` temporary | queued again after exponential back-off with jitter; `failed` after `max_attempts` |
//! | `+CMS`/`+CME ERROR` modem-side (302, SIM busy, no SMSC...) | as temporary, and the modem is brought up again |
//! | modem not ready, or no `> ` prompt in time | as temporary |
//! | `+CMS ERROR` permanent | `failed`, the reason in words |
//! | modem absent or unplugged before the PDU | queued again, no attempt counted (its dispatcher waits for it) |
//! | timeout or unplug after the PDU was handed over | `unknown`, never resent automatically |
//!
//! A message that fails or waits never blocks the ones behind it: it leaves the head of the
//! queue with a later `next_attempt_at` or a final state.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{Instrument, error, info, warn};

use super::Daemon;
use super::routing::{self, ModemView};
use crate::at::codes::ErrorClass;
use crate::at::parse::Final;
use crate::modem::{ModemError, ModemHandle};
use crate::phone;
use crate::store::{Candidate, Db, Due, HostModem, Start, StoreError};
use crate::time::now_ms;

/// Delay before attempt `attempts + 1`: base × 2^attempts, capped at an hour, ±20 % jitter so
/// that many messages failing together do not retry together.
pub fn backoff(base: Duration, attempts: i64, jitter_seed: u64) -> Duration {
    let exp = base.as_millis() as f64 * 2f64.powi(attempts.clamp(0, 20) as i32);
    let capped = exp.min(3_600_000.0);
    let unit = (jitter_seed % 10_000) as f64 / 10_000.0; // 0..1
    Duration::from_millis((capped * (0.8 + 0.4 * unit)) as u64)
}

pub(crate) fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// What routing sees of every modem now: this host's first (in order, so that modem `k`
/// is view `k`), then the other hosts' modems sharing the database.
fn modems(d: &Daemon) -> Vec<HostModem> {
    let mut modems = d.published_modems();
    modems.extend(d.remote_modems());
    modems
}

/// The routing views of `modems`, with the load their caps need read from the store (today
/// is the shop's day, in `zone`).
fn views_in(
    db: &Db,
    modems: Vec<HostModem>,
    now: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<Vec<ModemView>, StoreError> {
    // Today's load matters only to a capped SIM: without caps it is not read at all.
    let load = if modems.iter().any(|m| m.daily_cap.is_some()) {
        db.modem_load(crate::time::day_start(now, zone))?
    } else {
        Default::default()
    };
    let hour = if modems.iter().any(|m| m.hourly_cap.is_some()) {
        db.modem_load(now - 3_600_000)?
    } else {
        Default::default()
    };
    Ok(modems
        .into_iter()
        .map(|m| ModemView {
            sent_today: load.get(&m.modem).copied().unwrap_or(0),
            sent_last_hour: hour.get(&m.modem).copied().unwrap_or(0),
            id: m.modem,
            healthy: m.healthy,
            prefixes: m.prefixes,
            daily_cap: m.daily_cap,
            hourly_cap: m.hourly_cap,
        })
        .collect())
}

/// What the dispatcher of modem `k` found: the message it may take, if any; otherwise how
/// long nothing can change without a wake-up.
enum Choice {
    Take(i64),
    Wait(Duration),
}

/// Reads the queue for modem `k`. The head of the queue is nearly always this modem's to
/// take: a few rows first, a longer look only when routing passes over all of them.
fn choose_in(
    db: &Db,
    k: usize,
    views: &[ModemView],
    spread: u64,
    now: i64,
) -> Result<Choice, StoreError> {
    if !views.get(k).is_some_and(ModemView::usable) {
        // Absent, unregistered or capped: only a change of state can help, and it wakes
        // every dispatcher.
        return Ok(Choice::Wait(Duration::from_secs(60)));
    }
    let usable = views.iter().filter(|v| v.usable()).count();
    for limit in [CANDIDATES_FIRST, CANDIDATES_MORE] {
        let candidates = db.due_candidates(now, limit)?;
        let eligible: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| routing::may_send(k, &c.recipient, c.owner.as_deref(), views))
            .collect();
        if let Some(c) = pick(&eligible, spread, usable) {
            return Ok(Choice::Take(c.id));
        }
        if candidates.is_empty() {
            // Nothing due yet: sleep until the earliest retry or scheduled time.
            let next = db.earliest_due()?;
            return Ok(Choice::Wait(next.map_or(Duration::from_secs(60), |t| {
                Duration::from_millis((t - now).clamp(50, 60_000) as u64)
            })));
        }
        if (candidates.len() as i64) < limit {
            break;
        }
    }
    // Due work routed elsewhere: wait to be woken, never spin.
    Ok(Choice::Wait(Duration::from_secs(60)))
}

/// Which of the messages this modem may send it takes: one it owns first (the next part of
/// a text it started); else the oldest of the most urgent. When other modems (here or on
/// other hosts) compete for the same queue, each takes its own pick (`spread`, drawn anew at
/// every look) among the most urgent, instead of all racing for the first and all but one
/// finding it taken. A lone modem keeps the queue's order exactly.
fn pick<'c>(
    eligible: &[&'c Candidate],
    spread: u64,
    usable_modems: usize,
) -> Option<&'c Candidate> {
    let first = *eligible.first()?;
    if first.owner.is_some() || usable_modems <= 1 {
        return Some(first);
    }
    let urgent: Vec<&Candidate> = eligible
        .iter()
        .copied()
        .take_while(|c| c.priority == first.priority && c.owner.is_none())
        .take(usable_modems)
        .collect();
    Some(urgent[(spread % urgent.len() as u64) as usize])
}

/// Due messages a dispatcher looks at first, and when routing passed over all of those.
const CANDIDATES_FIRST: i64 = 16;
const CANDIDATES_MORE: i64 = 500;

/// A part the modem accepted, not yet recorded: it is recorded with the dispatcher's next
/// store call, in the transaction that starts the next part or message (one commit and one
/// flush where there were two). Nothing waits on it meanwhile: the next call follows at
/// once, or, when the pacing gap makes the dispatcher wait, it is recorded before the wait.
#[derive(Debug, Clone, Copy)]
struct Accepted {
    id: i64,
    part: i64,
    mr: u8,
    at: i64,
}

impl Accepted {
    fn record(self, db: &mut Db) -> Result<(), StoreError> {
        db.mark_sent(self.id, self.part, self.mr, self.at).map(drop)
    }
}

/// Records `accepted` on its own, retried until it commits (see [`persist`]).
async fn record_accepted(d: &Daemon, k: usize, accepted: Accepted) {
    persist(d, k, move |db| accepted.record(db)).await;
    // A daily cap may just have been reached: let the other dispatchers re-route.
    d.wake();
}

/// Runs `next` in one store call and one flushed commit with the record of `accepted`, if
/// any. The outer error means nothing of it was kept, and `accepted` has then been recorded
/// on its own; the inner one is `next`'s own (the record is kept).
async fn recording_then<T: Send + 'static>(
    d: &Daemon,
    k: usize,
    accepted: Option<Accepted>,
    next: impl FnOnce(&mut Db) -> Result<T, StoreError> + Send + 'static,
) -> Result<Result<T, StoreError>, StoreError> {
    let result = d
        .store
        .call(move |db| {
            db.together(|db| {
                if let Some(a) = accepted {
                    a.record(db)?;
                }
                Ok(next(db))
            })
        })
        .await;
    if let Some(a) = accepted {
        match result {
            Ok(_) => {
                d.set_store_fault(k, None);
                // A daily cap may just have been reached: let the other dispatchers re-route.
                d.wake();
            }
            Err(_) => record_accepted(d, k, a).await,
        }
    }
    result
}

/// Waits out the pacing gap from the start of the last send; a part waiting to be recorded
/// is recorded first, so that pacing never delays it.
async fn pace(d: &Daemon, k: usize, last_send: Option<Instant>, accepted: &mut Option<Accepted>) {
    let Some(t) = last_send else { return };
    let gap = d.send_gap(k).saturating_sub(t.elapsed());
    if !gap.is_zero() {
        if let Some(a) = accepted.take() {
            record_accepted(d, k, a).await;
        }
        tokio::time::sleep(gap).await;
    }
}

/// What one look at the queue gave modem `k`: a message taken (and what the claim made of
/// it), or how long to wait.
enum Step {
    Took(i64, Start),
    Wait(Duration),
}

/// The dispatcher of modem `k`: sends what routing gives it, paced, one message at a time.
/// In the steady state each message costs one store call: the outcome of the part sent last,
/// the look at the queue, the customer-care gate and the claim of the next message with its
/// first part `sending` share one transaction.
pub async fn run(d: Arc<Daemon>, k: usize) {
    let modem = d.modems[k].clone();
    let mut last_send: Option<Instant> = None;
    let mut store_pause = STORE_PAUSE_FIRST;
    let mut accepted: Option<Accepted> = None;
    // Set while the store fault shown for this modem came from looking at the queue.
    let mut look_failed = false;
    loop {
        if d.is_stopping() {
            if let Some(a) = accepted.take() {
                record_accepted(&d, k, a).await;
            }
            return;
        }
        // The gap counts from the start of one send to the start of the next, as carriers'
        // volume rules count messages: a slow network does not add to it.
        pace(&d, k, last_send, &mut accepted).await;
        let now = now_ms();
        let (modems, spread, modem_id) = (modems(&d), random_seed(), modem.id().to_string());
        let settings = d.settings();
        let (care, zone) = (settings.care, settings.time_zone);
        let recording = accepted.take();
        let step = recording_then(&d, k, recording, move |db| {
            // The claim re-checks expiry and asks the customer-care gate again (a STOP may
            // have come since it was queued; its quiet hours may have begun) before its
            // first part is committed `sending`.
            let views = views_in(db, modems, now, &zone)?;
            Ok(match choose_in(db, k, &views, spread, now)? {
                Choice::Wait(wait) => Step::Wait(wait),
                Choice::Take(id) => Step::Took(
                    id,
                    db.start_gated(id, &modem_id, now, &mut |facts| {
                        super::care::gate::may_send(&care.policy, facts, now)
                    })?,
                ),
            })
        })
        .await;
        let step = match step {
            Ok(step) => step,
            Err(e) => {
                // Nothing of it committed. With a part to record, that part was recorded on
                // its own meanwhile and the store took it: look again at once.
                if recording.is_none() {
                    look_failed = true;
                    wait_for_store(&d, k, &e, &mut store_pause).await;
                }
                continue;
            }
        };
        let (id, start) = match step {
            Ok(Step::Took(id, start)) => (id, start),
            Ok(Step::Wait(wait)) => {
                if look_failed {
                    // The queue can be read again: the fault its reading showed is over.
                    look_failed = false;
                    d.set_store_fault(k, None);
                    store_pause = STORE_PAUSE_FIRST;
                }
                tokio::select! {
                    _ = d.work.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            Err(e) => {
                look_failed = true;
                wait_for_store(&d, k, &e, &mut store_pause).await;
                continue;
            }
        };
        look_failed = false;
        d.set_store_fault(k, None);
        store_pause = STORE_PAUSE_FIRST;
        let due = match start {
            Start::Sending(due) => due,
            Start::Taken => continue,
            Start::Held { until } => {
                info!(event = "held", message_id = id, until = %crate::time::rfc3339(until), "held until the recipient's window opens");
                continue;
            }
            Start::Refused { code, .. } => {
                info!(
                    event = "refused",
                    message_id = id,
                    code,
                    "refused by the customer-care gate just before sending; never sent"
                );
                continue;
            }
            Start::Expired => {
                info!(
                    event = "expired",
                    message_id = id,
                    "not sent: its not_after time passed"
                );
                continue;
            }
            Start::NothingLeft => {
                // Every part was accepted but the message was left "sending" (a crash between
                // parts is turned into "unknown" at start-up; this is the defensive fallback).
                persist(&d, k, move |db| {
                    db.fail(id, "no part left to send", now_ms())
                })
                .await;
                continue;
            }
        };
        // Other dispatchers may find work this one passed over.
        d.wake();
        let span = tracing::info_span!("message", message_id = due.id, modem = %modem.id());
        accepted = send_parts(&d, k, &due, &mut last_send, &mut store_pause)
            .instrument(span)
            .await;
    }
}

/// Sends the unsent parts of one started message (its first part already committed
/// `sending`), paced; stops at the first failure. Returns the last part when the modem
/// accepted it, for the dispatcher to record with its next call; every other outcome is
/// recorded here.
async fn send_parts(
    d: &Daemon,
    k: usize,
    due: &Due,
    last_send: &mut Option<Instant>,
    store_pause: &mut Duration,
) -> Option<Accepted> {
    let modem = &d.modems[k];
    let mut accepted: Option<Accepted> = None;
    for (n, part) in due.parts.iter().enumerate() {
        if n > 0 {
            pace(d, k, *last_send, &mut accepted).await;
            // The part before is recorded `sent` in the transaction that commits this one
            // `sending`.
            let (id, number, modem_id) = (due.id, part.part, modem.id().to_string());
            let sending = recording_then(d, k, accepted.take(), move |db| {
                db.mark_sending(id, number, &modem_id, now_ms())
            })
            .await;
            if let Err(e) | Ok(Err(e)) = sending {
                // Nothing reached the modem: not sending is all it takes; wait for the store.
                wait_for_store(d, k, &e, store_pause).await;
                return None;
            }
            d.set_store_fault(k, None);
            *store_pause = STORE_PAUSE_FIRST;
        }
        *last_send = Some(Instant::now());
        let result = modem.send_pdu(part.tpdu_len, &part.pdu).await;
        match record(d, k, modem, due, part.part, result).await {
            Some(a) => accepted = Some(a),
            None => {
                // A daily cap may just have been reached: let the other dispatchers re-route.
                d.wake();
                return None;
            }
        }
    }
    accepted
}

/// Stores the outcome of one part, unless the modem accepted it: that one is returned, to be
/// recorded with the next store call. `None` when the rest of the message must wait.
async fn record(
    d: &Daemon,
    k: usize,
    modem: &ModemHandle,
    due: &Due,
    part: i64,
    result: Result<u8, ModemError>,
) -> Option<Accepted> {
    let id = due.id;
    let now = now_ms();
    let to = phone::mask(&due.recipient);
    match result {
        Ok(mr) => {
            info!(event = "part_sent", message_id = id, part, modem = %modem.id(), to = %to, mr, "part sent");
            Some(Accepted {
                id,
                part,
                mr,
                at: now,
            })
        }
        Err(ModemError::Rejected(fin)) => {
            let (class, words) = match &fin {
                Final::Cms(e) => (e.class(), e.to_string()),
                Final::Cme(e) => (e.class(), e.to_string()),
                // Bring-up asked for numeric codes (AT+CMEE=1): a bare ERROR means the
                // modem lost its settings, so it is treated as the modem's state.
                other => (ErrorClass::ModemSide, format!("modem answered {other:?}")),
            };
            if class == ErrorClass::Permanent {
                warn!(event = "send_failed", message_id = id, part, to = %to, error = %words, "send rejected for good");
                persist(d, k, move |db| db.fail(id, &words, now)).await;
                return None;
            }
            if class == ErrorClass::ModemSide {
                // The modem's state, not the message: bring it up again (settings, SIM) while
                // the message waits its back-off; routing passes it to another modem if one
                // is usable sooner.
                warn!(event = "modem_side_error", message_id = id, part, modem = %modem.id(), error = %words, "the modem refused the send; bringing it up again");
                if let Err(e) = modem.reinitialize().await {
                    warn!(modem = %modem.id(), error = %e, "cannot ask the modem to reinitialize");
                }
            }
            retry_or_give_up(d, k, due, part, words, now).await;
            None
        }
        Err(e) if e.outcome_unknown() => {
            warn!(event = "outcome_unknown", message_id = id, part, error = %e, "outcome unknown; not resending automatically");
            let why = e.to_string();
            persist(d, k, move |db| db.mark_unknown(id, part, &why, now)).await;
            None
        }
        Err(ModemError::BadResponse(what)) => {
            // The modem said OK without a reference: it probably sent it. Unknown, not resent.
            let why = format!("modem accepted the PDU without a message reference ({what})");
            persist(d, k, move |db| db.mark_unknown(id, part, &why, now)).await;
            None
        }
        // The device went away before the PDU did: the message did nothing wrong, and the
        // dispatcher takes no work for this modem until it is back, so this cannot loop.
        Err(e @ (ModemError::Absent | ModemError::Disconnected { .. } | ModemError::Stopped)) => {
            info!(event = "requeued", message_id = id, part, error = %e, "modem unavailable; message back in the queue");
            let why = e.to_string();
            persist(d, k, move |db| db.requeue(id, part, &why, now)).await;
            None
        }
        // Not ready, or no prompt in time: the modem is there but misbehaving. Counted and
        // backed off, so a modem that keeps failing this way cannot spin on one message.
        Err(e) => {
            retry_or_give_up(d, k, due, part, e.to_string(), now).await;
            None
        }
    }
}

const STORE_PAUSE_FIRST: Duration = Duration::from_millis(100);
const STORE_PAUSE_LONGEST: Duration = Duration::from_secs(5);

/// The store failed before anything reached the modem (reading the queue, a claim,
/// `sending`): the fault is shown for this modem and the dispatcher waits, doubling the
/// pause, so a full disk or a broken database costs no CPU; the next call that succeeds
/// clears it.
async fn wait_for_store(d: &Daemon, k: usize, e: &StoreError, pause: &mut Duration) {
    d.set_store_fault(k, Some(e.to_string()));
    tokio::time::sleep(*pause).await;
    *pause = (*pause * 2).min(STORE_PAUSE_LONGEST);
}

/// Records what the modem already did (a part accepted, refused, of unknown fate). The modem
/// cannot take it back, so the write is retried until it commits: meanwhile this modem sends
/// nothing more, and the fault shows in `smsq modems`, the service status and the log. Nothing
/// is lost or sent twice: if smsqd stops first, the part is still `sending` in the database
/// and becomes `unknown` at the next start.
async fn persist<T, W>(d: &Daemon, k: usize, write: W) -> Option<T>
where
    T: Send + 'static,
    W: Fn(&mut Db) -> crate::store::Result<T> + Clone + Send + 'static,
{
    let mut pause = STORE_PAUSE_FIRST;
    loop {
        let attempt = write.clone();
        match d.store.call(move |db| attempt(db)).await {
            Ok(value) => {
                d.set_store_fault(k, None);
                return Some(value);
            }
            Err(e) => {
                d.set_store_fault(k, Some(e.to_string()));
                if d.is_stopping() {
                    error!(event = "store_error", modem = %d.modems[k].id(), error = %e, "stopping before an outcome was recorded; the part stays sending and becomes unknown at the next start");
                    return None;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(STORE_PAUSE_LONGEST);
            }
        }
    }
}

/// One more attempt counted: back in the queue after the back-off, or `failed` once
/// `max_attempts` is reached.
async fn retry_or_give_up(d: &Daemon, k: usize, due: &Due, part: i64, words: String, now: i64) {
    let id = due.id;
    let settings = d.settings();
    if due.attempts + 1 >= settings.max_attempts {
        warn!(event = "send_failed", message_id = id, part, error = %words, "giving up after too many attempts");
        let reason = format!("{words}; gave up after {} attempts", due.attempts + 1);
        persist(d, k, move |db| db.fail(id, &reason, now)).await;
    } else {
        let wait = backoff(settings.retry_base, due.attempts, random_seed());
        warn!(event = "retry", message_id = id, part, error = %words, retry_in_s = wait.as_secs(), "send failed, will retry");
        let next = now + wait.as_millis() as i64;
        persist(d, k, move |db| db.retry_later(id, part, &words, next, now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: i64, priority: i64, owner: Option<&str>) -> Candidate {
        Candidate {
            id,
            recipient: "+639171234567".into(),
            priority,
            owner: owner.map(str::to_owned),
        }
    }

    #[test]
    fn competing_modems_spread_over_the_most_urgent_and_a_lone_one_keeps_the_order() {
        let queue = [
            candidate(1, 5, None),
            candidate(2, 5, None),
            candidate(3, 5, None),
            candidate(4, 0, None),
        ];
        let eligible: Vec<&Candidate> = queue.iter().collect();
        let picks = |modems: usize| -> Vec<i64> {
            (0..64)
                .map(|spread| pick(&eligible, spread, modems).unwrap().id)
                .collect()
        };
        assert!(picks(1).iter().all(|&id| id == 1), "a lone modem: FIFO");
        let two = picks(2);
        assert!(two.contains(&1) && two.contains(&2));
        assert!(two.iter().all(|&id| id <= 2), "among as many as compete");
        let eight = picks(8);
        assert!(
            eight.iter().all(|&id| id <= 3),
            "never a less urgent message before a more urgent one"
        );
        // The next part of a text this modem started goes first, always.
        let owned = [candidate(9, 0, Some("m0")), candidate(1, 5, None)];
        let owned: Vec<&Candidate> = owned.iter().collect();
        assert!((0..8).all(|s| pick(&owned, s, 4).unwrap().id == 9));
        assert!(pick(&[], 0, 2).is_none());
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        let base = Duration::from_secs(30);
        for (attempts, expected) in [
            (0, 30_000.0),
            (1, 60_000.0),
            (3, 240_000.0),
            (20, 3_600_000.0),
        ] {
            for seed in [0, 5_000, 9_999] {
                let ms = backoff(base, attempts, seed).as_millis() as f64;
                assert!(
                    ms >= expected * 0.8 - 1.0 && ms <= expected * 1.2 + 1.0,
                    "{attempts} {seed} {ms}"
                );
            }
        }
    }
}
