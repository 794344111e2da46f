//! Receiving: what a modem announces (`+CMTI`, `+CDSI`) is read, stored and only then deleted
//! from the SIM; what it routes directly (`+CMT`, `+CDS`) is stored and then acknowledged.
//! A sweep of everything stored runs when a modem becomes ready (start-up, reconnect, after a
//! reboot), periodically, and when events were missed; it is idempotent because the store
//! keeps each (modem, PDU) once. Undecodable PDUs are quarantined with their hex, never lost.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use super::{Daemon, now_ms};
use crate::at::Urc;
use crate::modem::{ModemEvent, ModemHandle, ModemState, UrcEvent};
use crate::pdu::{self, Body, DecodeOptions, Tpdu};
use crate::phone;
use crate::store::{InboundPart, ReportIn};

pub async fn run(d: Arc<Daemon>, modem: ModemHandle) {
    let mut events = modem.subscribe();
    // The state the modem is already in belongs in the history as much as later changes.
    let initial = modem.status().state;
    note_state(&d, &modem, &initial).await;
    if initial == ModemState::Ready {
        sweep(&d, &modem).await;
    }
    loop {
        match events.recv().await {
            Ok(ModemEvent::State(state)) => {
                note_state(&d, &modem, &state).await;
                d.wake();
                if state == ModemState::Ready {
                    sweep(&d, &modem).await;
                }
            }
            Ok(ModemEvent::Urc(UrcEvent::Line(Urc::NewMessage { index, .. })))
            | Ok(ModemEvent::Urc(UrcEvent::Line(Urc::NewStatusReport { index, .. }))) => {
                read_and_delete(&d, &modem, index).await;
            }
            Ok(ModemEvent::Urc(UrcEvent::Message { pdu_hex, .. }))
            | Ok(ModemEvent::Urc(UrcEvent::StatusReport { pdu_hex })) => {
                if process(&d, modem.id(), &pdu_hex).await {
                    // Acknowledged only after the commit; modems that need no +CNMA say so.
                    if let Err(e) = modem.acknowledge().await {
                        debug!(modem = %modem.id(), error = %e, "no +CNMA needed or accepted");
                    }
                }
            }
            Ok(ModemEvent::Urc(UrcEvent::Line(Urc::Registration(_)))) => d.wake(),
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                warn!(modem = %modem.id(), missed, "missed modem events; sweeping storage");
                sweep(&d, &modem).await;
            }
            Err(RecvError::Closed) => return,
        }
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
    let _ = d
        .store
        .call(move |db| db.note("modem_state", &detail, now))
        .await;
    d.changed.notify_one();
}

async fn read_and_delete(d: &Daemon, modem: &ModemHandle, index: u32) {
    match modem.read(index).await {
        Ok(Some(stored)) => {
            if process(d, modem.id(), &stored.pdu_hex).await
                && let Err(e) = modem.delete(index).await
            {
                warn!(modem = %modem.id(), index, error = %e, "cannot delete a stored message; the next sweep retries");
            }
        }
        Ok(None) => debug!(modem = %modem.id(), index, "announced slot is empty"),
        Err(e) => {
            warn!(modem = %modem.id(), index, error = %e, "cannot read a stored message; the next sweep retries")
        }
    }
}

/// Reads everything the modem holds, stores it and deletes what was stored.
pub async fn sweep(d: &Daemon, modem: &ModemHandle) {
    let stored = match modem.list().await {
        Ok(s) => s,
        Err(e) => {
            debug!(modem = %modem.id(), error = %e, "sweep skipped");
            return;
        }
    };
    if let Some((used, total)) = modem.status().storage
        && total > 0
        && used * 10 >= total * 8
    {
        warn!(event = "storage_nearly_full", modem = %modem.id(), used, total, "SIM storage nearly full");
    }
    for entry in stored {
        // Messages the SIM keeps as drafts or sent copies (stat 2, 3) are not ours to take.
        if entry.header.stat >= 2 {
            continue;
        }
        if process(d, modem.id(), &entry.pdu_hex).await
            && let Some(index) = entry.header.index
            && let Err(e) = modem.delete(index).await
        {
            warn!(modem = %modem.id(), index, error = %e, "cannot delete after a sweep");
        }
    }
}

/// Decodes and stores one PDU. `true` once it is committed (or already was), so the caller
/// may delete or acknowledge it.
pub async fn process(d: &Daemon, modem: &str, pdu_hex: &str) -> bool {
    let modem = modem.to_string();
    let pdu_hex = pdu_hex.trim().to_string();
    let now = now_ms();
    let decoded = pdu::decode_hex(&pdu_hex, DecodeOptions::default());
    let stored = match decoded {
        Err(e) => {
            warn!(event = "quarantined", modem = %modem, error = %e, "undecodable PDU quarantined");
            let error = e.to_string();
            d.store
                .call(move |db| db.quarantine(&modem, &pdu_hex, &error, now).map(|_| ()))
                .await
        }
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
                info!(event = "received", modem = %modem, from = %phone::mask(&sender), part = ?concat.map(|c| c.3), "message received");
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
                d.store
                    .call(move |db| db.store_inbound(&part, now).map(|_| ()))
                    .await
            }
            Tpdu::StatusReport(r) => {
                let outcome = match r.status_kind {
                    pdu::StatusKind::Delivered => Some(true),
                    pdu::StatusKind::Trying => None,
                    pdu::StatusKind::Failed | pdu::StatusKind::GaveUp => Some(false),
                };
                let report = ReportIn {
                    modem,
                    mr: r.message_ref,
                    recipient: r.recipient.to_string(),
                    status: r.status,
                    outcome,
                    pdu: pdu_hex,
                };
                let window = d.settings().report_window.as_millis() as i64;
                d.store
                    .call(move |db| db.record_status_report(&report, window, now).map(|_| ()))
                    .await
            }
            // An SMS-SUBMIT in the inbox area is someone's draft: leave it where it is.
            Tpdu::Submit(_) => return false,
        },
    };
    d.changed.notify_one();
    match stored {
        Ok(()) => true,
        Err(e) => {
            warn!(error = %e, "could not store a received PDU; it stays on the SIM");
            false
        }
    }
}
