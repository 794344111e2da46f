//! Status reports: matched to the part they are about (by reference and recipient, or for a
//! part whose reference was lost, by what the modem would have numbered it), and what they
//! settle.

use super::sql::{Connection, OptionalExtension, params};

use super::db::*;
use super::events::*;

/// A decoded status report, as the receive path hands it over.
#[derive(Debug, Clone)]
pub struct ReportIn {
    pub modem: String,
    pub mr: u8,
    pub recipient: String,
    pub status: u8,
    pub pdu: String,
}

/// What a status report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutcome {
    pub message_id: i64,
    pub part: i64,
    /// The message's state afterwards.
    pub message_state: String,
}

/// How long before its `+CMGS` answer is recorded a part's status report may have been.
pub(super) const EARLY_REPORT_MS: i64 = 10 * 60 * 1000;

/// Settles part `part` of `message_id` by status report `report_id` (reference `mr`, TP-ST
/// `status`): the part's state, its message's state, and the history. Returns the message's
/// state.
pub(super) fn apply_report(
    tx: &Connection,
    report_id: i64,
    message_id: i64,
    part: i64,
    mr: u8,
    status: u8,
    now: i64,
) -> Result<String> {
    exec(
        tx,
        "UPDATE status_reports SET message_id = ?2, part = ?3 WHERE id = ?1",
        params![report_id, message_id, part],
    )?;
    // Some(true) delivered, Some(false) failed, None still trying.
    let final_kind = match crate::pdu::StatusKind::of(status) {
        crate::pdu::StatusKind::Delivered => Some(true),
        crate::pdu::StatusKind::Trying => None,
        crate::pdu::StatusKind::Failed | crate::pdu::StatusKind::GaveUp => Some(false),
    };
    let part_state = match final_kind {
        Some(true) => "delivered",
        Some(false) => "failed",
        None => "sent",
    };
    // A part matched without a reference (outcome unknown) learns it from the report.
    exec(tx,
        "UPDATE outbox_parts SET state = ?3, report_status = ?4, report_at = ?5, mr = COALESCE(mr, ?6)
         WHERE message_id = ?1 AND part = ?2",
        params![message_id, part, part_state, i64::from(status), now, i64::from(mr)],
    )?;
    let (total, delivered, failed): (i64, i64, i64) = row(
        tx,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'delivered'), COUNT(*) FILTER (WHERE state = 'failed') FROM outbox_parts WHERE message_id = ?1",
        params![message_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let current: String = row(
        tx,
        "SELECT state FROM outbox WHERE id = ?1",
        params![message_id],
        |r| r.get(0),
    )?;
    let message_state = if failed > 0 {
        "failed".to_string()
    } else if delivered == total {
        "delivered".to_string()
    } else {
        current
    };
    exec(
        tx,
        "UPDATE outbox SET state = ?2, updated_at = ?3, last_error = CASE WHEN ?2 = 'failed' THEN ?4 ELSE last_error END WHERE id = ?1",
        params![
            message_id,
            message_state,
            now,
            format!("status report: {}", crate::pdu::status_text(status))
        ],
    )?;
    event(
        tx,
        now,
        "status_report",
        Some(message_id),
        None,
        &format!(
            "part {part}: {} (0x{status:02X})",
            crate::pdu::status_text(status)
        ),
    )?;
    if message_state == "delivered" || (message_state == "failed" && final_kind == Some(false)) {
        event(
            tx,
            now,
            &message_state,
            Some(message_id),
            None,
            "per status reports",
        )?;
    }
    Ok(message_state)
}

/// A status report whose reference matches no accepted part may be for a part whose
/// `+CMGS` answer was lost (smsqd killed, a timeout or unplug after the hand-over): such a
/// part is `unknown`, has no reference, and was handed to the same modem, for the same
/// recipient, within the window. One candidate is taken as it is. Among several, the one
/// whose reference the modem would have given next is taken: modems number submissions one
/// after another (TS 23.040 §9.2.3.6), so it is the reference of the last part that same
/// modem had accepted before plus one. Anything still ambiguous stays unmatched rather than
/// settle the wrong message. `must_predict`: an accepted part holds this reference too (it
/// wrapped), so only a candidate handed over after it whose predicted reference is this one
/// may take the report from it.
pub(super) fn match_unknown_part(
    tx: &Connection,
    modem: &str,
    mr: u8,
    recipient: &str,
    since: i64,
    now: i64,
    must_predict: bool,
) -> Result<Option<(i64, i64)>> {
    let mut st = tx.prepare_cached(
        "SELECT p.message_id, p.part, p.handed_at FROM outbox_parts p JOIN outbox o ON o.id = p.message_id
         WHERE p.state = 'unknown' AND p.mr IS NULL AND p.modem = ?1 AND o.recipient = ?2
           AND p.handed_at BETWEEN ?3 AND ?4
         ORDER BY p.handed_at",
    )?;
    let candidates: Vec<(i64, i64, i64)> = st
        .query_map(params![modem, recipient, since, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<SqlResult<_>>()?;
    if candidates.len() <= 1 && !must_predict {
        return Ok(candidates.first().map(|&(m, p, _)| (m, p)));
    }
    // The part handed to this modem just before, whose reference is known (from its answer,
    // or from its own report when its answer was lost too).
    let mut previous = tx.prepare_cached(
        "SELECT mr FROM outbox_parts WHERE modem = ?1 AND handed_at < ?2 AND mr IS NOT NULL
         ORDER BY handed_at DESC LIMIT 1",
    )?;
    let mut predicted = Vec::new();
    for &(message_id, part, handed_at) in &candidates {
        let last: Option<i64> = previous
            .query_row(params![modem, handed_at], |r| r.get(0))
            .optional()?;
        if last.is_some_and(|last| (last + 1) % 256 == i64::from(mr)) {
            predicted.push((message_id, part));
        }
    }
    Ok(match predicted.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

impl Db {
    /// Matches a status report to the most recent part sent to `recipient` with reference
    /// `mr` within `window_ms` (references wrap at 255, so older parts are not candidates).
    pub fn record_status_report(
        &mut self,
        r: &ReportIn,
        window_ms: i64,
        now: i64,
    ) -> Result<Option<ReportOutcome>> {
        self.durable()?;
        let (modem, mr, recipient, status, pdu) = (
            r.modem.as_str(),
            r.mr,
            r.recipient.as_str(),
            r.status,
            r.pdu.as_str(),
        );
        let tx = self.conn.savepoint()?;
        let Some(report_id) = row(
            &tx,
            "INSERT INTO status_reports (modem, mr, recipient, status, pdu, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING RETURNING id",
            params![modem, i64::from(mr), recipient, i64::from(status), pdu, now],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        else {
            return Ok(None);
        };
        let by_reference: Option<(i64, i64, i64)> = row(&tx,
                "SELECT p.message_id, p.part, p.sent_at FROM outbox_parts p JOIN outbox o ON o.id = p.message_id
                 WHERE p.mr = ?1 AND o.recipient = ?2 AND p.sent_at >= ?3 AND p.state IN ('sent', 'unknown', 'delivered', 'failed')
                 ORDER BY p.sent_at DESC LIMIT 1",
                params![i64::from(mr), recipient, now - window_ms],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        // References wrap after 256 sends through a modem: a part whose answer was lost
        // after the one that last had this reference may be the report's, if the modem
        // would have given it this reference.
        let since = by_reference.map_or(now - window_ms, |(_, _, sent_at)| sent_at + 1);
        let lost = match_unknown_part(
            &tx,
            modem,
            mr,
            recipient,
            since,
            now,
            by_reference.is_some(),
        )?;
        let found = lost.or(by_reference.map(|(message_id, part, _)| (message_id, part)));
        let Some((message_id, part)) = found else {
            event(
                &tx,
                now,
                "report_unmatched",
                None,
                None,
                &format!("mr {mr} status 0x{status:02X}"),
            )?;
            tx.commit()?;
            return Ok(None);
        };
        let message_state = apply_report(&tx, report_id, message_id, part, mr, status, now)?;
        tx.commit()?;
        Ok(Some(ReportOutcome {
            message_id,
            part,
            message_state,
        }))
    }
}
