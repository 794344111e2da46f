//! Receiving: what a modem announces (`+CMTI`, `+CDSI`) is read, stored and only then deleted
//! from the SIM; what it routes directly (`+CMT`, `+CDS`) is stored and then acknowledged.
//! A sweep of everything stored runs when a modem becomes ready (start-up, reconnect, after a
//! reboot), periodically, and when events were missed; it is idempotent because the store
//! keeps each (modem, PDU) once. Undecodable PDUs are quarantined with their hex, never lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use super::Daemon;
use crate::at::Urc;
use crate::modem::{ModemError, ModemEvent, ModemHandle, ModemState, UrcEvent};
use crate::pdu::{self, Body, DecodeOptions, Tpdu};
use crate::phone;
use crate::store::{Inbound, InboundPart, ReportIn};
use crate::time::now_ms;

pub async fn run(d: Arc<Daemon>, modem: ModemHandle) {
    let mut events = modem.subscribe();
    // Set when something could not be read or stored: a sweep then runs again soon (doubling
    // from RETRY_FIRST to RETRY_LONGEST), not at the next periodic sweep.
    let mut retry: Option<(Instant, Duration)> = None;
    // The state the modem is already in belongs in the history as much as later changes.
    let initial = modem.status().state;
    note_state(&d, &modem, &initial).await;
    if initial == ModemState::Ready {
        let done = sweep(&d, &modem).await;
        schedule(&mut retry, done);
    }
    loop {
        let retry_at = retry.map(|(at, _)| at);
        let event = tokio::select! {
            event = events.recv() => event,
            _ = sleep_until_some(retry_at) => {
                let pause = retry.take().map(|(_, pause)| pause);
                if !sweep(&d, &modem).await {
                    let pause = pause.map_or(RETRY_FIRST, |p| (p * 2).min(RETRY_LONGEST));
                    retry = Some((Instant::now() + pause, pause));
                }
                continue;
            }
        };
        let done = match event {
            Ok(ModemEvent::State(state)) => {
                note_state(&d, &modem, &state).await;
                d.wake();
                state != ModemState::Ready || sweep(&d, &modem).await
            }
            Ok(ModemEvent::Urc(UrcEvent::Line(Urc::NewMessage { index, .. })))
            | Ok(ModemEvent::Urc(UrcEvent::Line(Urc::NewStatusReport { index, .. }))) => {
                read_and_delete(&d, &modem, index).await
            }
            Ok(ModemEvent::Urc(UrcEvent::Message { pdu_hex, .. }))
            | Ok(ModemEvent::Urc(UrcEvent::StatusReport { pdu_hex })) => {
                // Routed directly: there is no stored copy to read again, so an undecodable
                // PDU is quarantined at once. Acknowledged only after the commit; modems that
                // need no +CNMA say so. Unacknowledged, the network sends it again.
                let committed = match store_pdu(&d, modem.id(), &pdu_hex).await {
                    Stored::Committed | Stored::NotOurs => true,
                    Stored::Undecodable(e) => quarantine(&d, modem.id(), &pdu_hex, &e).await,
                    Stored::Failed => false,
                };
                if committed && let Err(e) = modem.acknowledge().await {
                    debug!(modem = %modem.id(), error = %e, "no +CNMA needed or accepted");
                }
                committed
            }
            Ok(ModemEvent::Urc(UrcEvent::Line(Urc::Registration(_)))) => {
                d.wake();
                true
            }
            Ok(_) => true,
            Err(RecvError::Lagged(missed)) => {
                warn!(modem = %modem.id(), missed, "missed modem events; sweeping storage");
                sweep(&d, &modem).await
            }
            Err(RecvError::Closed) => return,
        };
        schedule(&mut retry, done);
    }
}

const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_LONGEST: Duration = Duration::from_secs(60);

/// After a step that left something on the SIM (`done` false), a sweep is due soon unless
/// one already is; only the retry sweep itself lengthens the pause or clears it.
fn schedule(retry: &mut Option<(Instant, Duration)>, done: bool) {
    if !done && retry.is_none() {
        *retry = Some((Instant::now() + RETRY_FIRST, RETRY_FIRST));
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Puts a modem's state into the history, so subscribers (and later readers) see it.
async fn note_state(d: &Daemon, modem: &ModemHandle, state: &ModemState) {
    let detail = match state {
        ModemState::NeedsPin(why) | ModemState::Failed(why) => {
            format!("{}: {} ({why})", modem.id(), state.name())
        }
        _ => format!("{}: {}", modem.id(), state.name()),
    };
    let now = now_ms();
    if let Err(e) = d
        .store
        .call(move |db| db.note("modem_state", &detail, now))
        .await
    {
        warn!(event = "store_error", modem = %modem.id(), error = %e, "cannot record the modem's state in the history");
    }
}

/// Reads slot `index`, stores what it holds, then deletes it. A PDU that does not decode is
/// read a second time first (a line can be damaged on the way in); only if that copy fails
/// too is the raw text quarantined, and it is deleted only once a copy is committed.
/// `false` when something stays on the SIM for a later retry.
async fn read_and_delete(d: &Daemon, modem: &ModemHandle, index: u32) -> bool {
    let stored = match modem.read(index).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            debug!(modem = %modem.id(), index, "announced slot is empty");
            return true;
        }
        Err(e) => {
            warn!(modem = %modem.id(), index, error = %e, "cannot read a stored message; retrying soon");
            return false;
        }
    };
    let committed = match store_pdu(d, modem.id(), &stored.pdu_hex).await {
        Stored::Committed => true,
        Stored::NotOurs => return true,
        Stored::Failed => false,
        Stored::Undecodable(first_error) => match modem.read(index).await {
            Ok(Some(again)) => match store_pdu(d, modem.id(), &again.pdu_hex).await {
                Stored::NotOurs => return true,
                Stored::Committed => {
                    info!(modem = %modem.id(), index, "a damaged read decoded on the second reading");
                    true
                }
                Stored::Failed => false,
                Stored::Undecodable(e) => quarantine(d, modem.id(), &again.pdu_hex, &e).await,
            },
            Ok(None) => quarantine(d, modem.id(), &stored.pdu_hex, &first_error).await,
            Err(e) => {
                warn!(modem = %modem.id(), index, error = %e, "cannot read an undecodable message again; retrying soon");
                false
            }
        },
    };
    if !committed {
        return false;
    }
    match modem.delete(index).await {
        Ok(()) => true,
        Err(e) => {
            warn!(modem = %modem.id(), index, error = %e, "cannot delete a stored message; retrying soon");
            false
        }
    }
}

/// Reads everything the modem holds, stores it and deletes what was stored. `false` when
/// something stays on the SIM for a later retry.
pub async fn sweep(d: &Daemon, modem: &ModemHandle) -> bool {
    let stored = match modem.list().await {
        Ok(s) => s,
        Err(e) => {
            debug!(modem = %modem.id(), error = %e, "sweep skipped");
            // Not ready or absent: the sweep at the next ready state covers it.
            return !matches!(e, ModemError::Rejected(_) | ModemError::Timeout { .. });
        }
    };
    if let Some((used, total)) = modem.status().storage
        && total > 0
        && used * 10 >= total * 8
    {
        warn!(event = "storage_nearly_full", modem = %modem.id(), used, total, "SIM storage nearly full");
    }
    let mut done = true;
    for entry in stored {
        // Messages the SIM keeps as drafts or sent copies (stat 2, 3) are not ours to take.
        if entry.header.stat >= 2 {
            continue;
        }
        let Some(index) = entry.header.index else {
            continue;
        };
        done &= match store_pdu(d, modem.id(), &entry.pdu_hex).await {
            Stored::Committed => match modem.delete(index).await {
                Ok(()) => true,
                Err(e) => {
                    warn!(modem = %modem.id(), index, error = %e, "cannot delete after a sweep");
                    false
                }
            },
            Stored::NotOurs => true,
            // Read it again on its own before deciding it is damaged for good.
            Stored::Undecodable(_) => read_and_delete(d, modem, index).await,
            Stored::Failed => false,
        };
    }
    done
}

/// Keeps the raw PDU of a message that cannot be decoded, with the reason; `true` once
/// committed (so the SIM's copy may go).
async fn quarantine(d: &Daemon, modem: &str, pdu_hex: &str, error: &pdu::DecodeError) -> bool {
    warn!(event = "quarantined", modem = %modem, error = %error, "undecodable PDU quarantined");
    let (modem, pdu_hex, error, now) = (
        modem.to_string(),
        pdu_hex.trim().to_string(),
        error.to_string(),
        now_ms(),
    );
    let stored = d
        .store
        .call(move |db| db.quarantine(&modem, &pdu_hex, &error, now))
        .await;
    match stored {
        Ok(_) => true,
        Err(e) => {
            warn!(event = "store_error", error = %e, "could not quarantine a PDU; it stays on the SIM");
            false
        }
    }
}

/// What became of one PDU.
pub enum Stored {
    /// In the database (or already was): the SIM's copy may go.
    Committed,
    /// Not a message for smsq (someone's draft): left where it is.
    NotOurs,
    /// It does not decode; nothing was stored.
    Undecodable(pdu::DecodeError),
    /// The database refused the write; it stays on the SIM.
    Failed,
}

/// Decodes and stores one PDU (quarantine is the caller's decision).
pub async fn store_pdu(d: &Daemon, modem: &str, pdu_hex: &str) -> Stored {
    let modem_id = modem.to_string();
    let modem = modem.to_string();
    let pdu_hex = pdu_hex.trim().to_string();
    let now = now_ms();
    let decoded = pdu::decode_hex(&pdu_hex, DecodeOptions::default());
    let stored = match decoded {
        Err(e) => return Stored::Undecodable(e),
        Ok(p) => match p.tpdu {
            Tpdu::Deliver(msg) => {
                let sender = msg.sender.to_string();
                let concat = msg
                    .user_data
                    .header
                    .as_ref()
                    .and_then(|h| h.concat)
                    .map(|c| (c.reference, c.reference_bits, c.total, c.part));
                let (body, data_hex) = match &msg.user_data.body {
                    Body::Text(t) => (Some(t.clone()), None),
                    Body::Data(b) | Body::Compressed(b) => (None, Some(pdu::hex::encode(b))),
                };
                let (masked, part_no) = (phone::mask(&sender), concat.map(|c| c.3));
                let part = InboundPart {
                    modem,
                    pdu: pdu_hex,
                    sender,
                    concat,
                    body,
                    data_hex,
                    sent_at: msg.timestamp.map(|t| t.to_string()),
                    split: msg.user_data.split,
                };
                let settings = d.settings();
                let (care, reports) = (settings.care, settings.status_reports);
                // What the reply caused, taken on the store's thread and logged only once it
                // is committed.
                let caused = std::sync::Arc::new(std::sync::Mutex::new(None));
                let taken = caused.clone();
                let stored = d
                    .store
                    .call(move |db| {
                        db.store_inbound_reacting(
                            &part,
                            now,
                            &mut |facts| {
                                let reaction =
                                    super::care::reactions::react(&care, facts, reports, now);
                                *taken.lock().unwrap_or_else(|e| e.into_inner()) =
                                    Some((facts.inbox_id, reaction.clone()));
                                reaction
                            },
                            // smsq's answers pass the gate like every text.
                            &mut |facts| super::care::gate::may_send(&care.policy, facts, now),
                        )
                    })
                    .await;
                let caused = caused.lock().unwrap_or_else(|e| e.into_inner()).take();
                if stored.is_ok()
                    && let Some((inbox_id, reaction)) = caused
                {
                    if let Some(flag) = &reaction.flag {
                        info!(event = "flagged", inbox_id, from = %masked, why = %flag, "a reply for a person to read");
                    }
                    for c in &reaction.consent {
                        info!(event = c.state.event_name(), from = %masked, topic = %c.topic, "consent changed by the customer's reply");
                    }
                    if let Some(rule) = &reaction.auto_reply {
                        info!(event = "auto_replied", inbox_id, from = %masked, rule = %rule, "answered automatically");
                    }
                    if !reaction.send.is_empty() {
                        // A confirmation or an answer was queued: it goes at once.
                        d.wake();
                    }
                }
                if let Ok(Inbound::Stored(Some(inbox_id))) = &stored {
                    d.queue_hook(*inbox_id).await;
                }
                // Logged for what it is: a new message, or a copy already stored (a re-read).
                match &stored {
                    Ok(Inbound::Duplicate) => {
                        debug!(modem = %modem_id, from = %masked, part = ?part_no, "already stored")
                    }
                    Ok(_) => {
                        info!(event = "received", modem = %modem_id, from = %masked, part = ?part_no, "message received")
                    }
                    Err(_) => {}
                }
                stored.map(|_| ())
            }
            Tpdu::StatusReport(r) => {
                let report = ReportIn {
                    modem,
                    mr: r.message_ref,
                    recipient: r.recipient.to_string(),
                    status: r.status,
                    pdu: pdu_hex,
                };
                let window = d.settings().report_window.as_millis() as i64;
                d.store
                    .call(move |db| db.record_status_report(&report, window, now).map(|_| ()))
                    .await
            }
            // An SMS-SUBMIT in the inbox area is someone's draft: leave it where it is.
            Tpdu::Submit(_) => return Stored::NotOurs,
        },
    };
    match stored {
        Ok(()) => Stored::Committed,
        Err(e) => {
            warn!(event = "store_error", error = %e, "could not store a received PDU; it stays on the SIM and is retried soon");
            Stored::Failed
        }
    }
}
