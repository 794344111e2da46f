//! Encoding the network-to-phone PDUs: SMS-DELIVER (TS 23.040 §9.2.2.1) and SMS-STATUS-REPORT
//! (§9.2.2.3). smsq never sends these over the air; the modem simulator, the fixtures and the
//! tests need them, and building them with the same planner keeps them exact.

use super::address::Address;
use super::dcs::{Alphabet, Dcs};
use super::error::EncodeError;
use super::gsm7;
use super::hex;
use super::plan::{ConcatRef, PlanOptions, Planner};
use super::scts::Timestamp;
use super::udh::{IEI_CONCAT_8, IEI_CONCAT_16};

/// One incoming message to build.
#[derive(Debug, Clone)]
pub struct DeliverSpec<'a> {
    pub smsc: Option<&'a Address>,
    pub sender: &'a Address,
    pub timestamp: Timestamp,
    pub text: &'a str,
    pub plan: PlanOptions,
    pub flash: bool,
}

/// The SMS-DELIVER PDUs (SMSC octets first, hex) of `spec`, one per part, with the TPDU length.
pub fn encode_deliver(spec: &DeliverSpec<'_>) -> Result<Vec<(usize, String)>, EncodeError> {
    let mut planner = Planner::new();
    let layout = planner.plan_text(spec.text, &spec.plan)?;
    let total = planner.cuts.len();
    let mut out = Vec::with_capacity(total);
    let mut start = 0;
    for (i, &end) in planner.cuts.iter().enumerate() {
        let mut buf = Vec::with_capacity(176);
        match spec.smsc {
            Some(a) => {
                let mut tmp = [0u8; 12];
                let n = a.write_smsc(&mut tmp);
                buf.extend_from_slice(&tmp[..n]);
            }
            None => buf.push(0),
        }
        let smsc_len = buf.len();
        let mut udh = Vec::new();
        if total > 1 {
            match spec.plan.concat {
                ConcatRef::Ref8(r) => {
                    udh.extend_from_slice(&[IEI_CONCAT_8, 3, r, total as u8, (i + 1) as u8])
                }
                ConcatRef::Ref16(r) => {
                    let [hi, lo] = r.to_be_bytes();
                    udh.extend_from_slice(&[IEI_CONCAT_16, 4, hi, lo, total as u8, (i + 1) as u8]);
                }
            }
        }
        if layout.alphabet == Alphabet::Gsm7 {
            if let Some(l) = spec.plan.tables.single {
                udh.extend_from_slice(&[0x24, 1, l.id()]);
            }
            if let Some(l) = spec.plan.tables.locking {
                udh.extend_from_slice(&[0x25, 1, l.id()]);
            }
        }
        // TP-MTI 00, TP-MMS set (no more messages), TP-UDHI when a header is present.
        buf.push(if udh.is_empty() { 0x04 } else { 0x44 });
        let mut addr = [0u8; 12];
        let n = spec.sender.write_tp(&mut addr);
        buf.extend_from_slice(&addr[..n]);
        buf.push(0x00);
        buf.push(Dcs::for_submit(layout.alphabet, spec.flash));
        buf.extend_from_slice(&spec.timestamp.to_octets());
        let header_octets = if udh.is_empty() { 0 } else { udh.len() + 1 };
        let mut ud = Vec::new();
        if header_octets > 0 {
            ud.push(udh.len() as u8);
            ud.extend_from_slice(&udh);
        }
        let udl = match layout.alphabet {
            Alphabet::Gsm7 => {
                let septets = &planner.septets[start..end];
                let mut packed = [0u8; 160];
                let n = gsm7::pack_septets(septets, gsm7::fill_bits(header_octets), &mut packed);
                ud.extend_from_slice(&packed[..n]);
                gsm7::header_septets(header_octets) + septets.len()
            }
            _ => {
                for u in &planner.utf16[start..end] {
                    ud.extend_from_slice(&u.to_be_bytes());
                }
                ud.len()
            }
        };
        buf.push(udl as u8);
        buf.extend_from_slice(&ud);
        out.push((buf.len() - smsc_len, hex::encode(&buf)));
        start = end;
    }
    Ok(out)
}

/// An SMS-STATUS-REPORT for message reference `mr` sent to `recipient` (SMSC octets `00`).
pub fn encode_status_report(
    mr: u8,
    recipient: &Address,
    submitted: Timestamp,
    discharged: Timestamp,
    status: u8,
) -> (usize, String) {
    let mut buf = vec![0x00, 0x06, mr];
    let mut addr = [0u8; 12];
    let n = recipient.write_tp(&mut addr);
    buf.extend_from_slice(&addr[..n]);
    buf.extend_from_slice(&submitted.to_octets());
    buf.extend_from_slice(&discharged.to_octets());
    buf.push(status);
    (buf.len() - 1, hex::encode(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::{DecodeOptions, Tpdu, decode_hex};

    fn ts() -> Timestamp {
        Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]).unwrap()
    }

    #[test]
    fn deliver_round_trips_through_the_decoder() {
        let sender = Address::parse("+639171234567").unwrap();
        let text = "Salamat po! ".repeat(20);
        let parts = encode_deliver(&DeliverSpec {
            smsc: None,
            sender: &sender,
            timestamp: ts(),
            text: &text,
            plan: PlanOptions {
                concat: ConcatRef::Ref8(9),
                ..PlanOptions::default()
            },
            flash: false,
        })
        .unwrap();
        assert_eq!(parts.len(), 2);
        let mut joined = String::new();
        for (len, hex) in &parts {
            assert_eq!(*len, hex.len() / 2 - 1);
            let pdu = decode_hex(hex, DecodeOptions::default()).unwrap();
            assert!(pdu.warnings.is_empty());
            let Tpdu::Deliver(d) = pdu.tpdu else { panic!() };
            assert_eq!(d.sender, sender);
            assert_eq!(d.timestamp, Some(ts()));
            assert_eq!(
                d.user_data
                    .header
                    .as_ref()
                    .unwrap()
                    .concat
                    .unwrap()
                    .reference,
                9
            );
            joined.push_str(d.user_data.text().unwrap());
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn status_report_round_trips() {
        let to = Address::parse("+639171234567").unwrap();
        let (len, hex) = encode_status_report(42, &to, ts(), ts(), 0x00);
        assert_eq!(len, hex.len() / 2 - 1);
        let pdu = decode_hex(&hex, DecodeOptions::default()).unwrap();
        let Tpdu::StatusReport(r) = pdu.tpdu else {
            panic!()
        };
        assert_eq!((r.message_ref, r.recipient, r.status), (42, to, 0));
    }
}
