//! SMS-SUBMIT encoding (TS 23.040 §9.2.2.2), one PDU per planned part, in the hex form that
//! `AT+CMGS` takes in PDU mode (TS 27.005 §3.5.1): SMSC octets first, then the TPDU, whose
//! length alone goes into `AT+CMGS=<length>`.
//!
//! Hot path: the [`SubmitEncoder`] keeps its planning buffers and the caller keeps a
//! [`SubmitPdus`]; after the first message of a given size neither allocates again.

use std::time::Duration;

use super::address::Address;
use super::dcs::{Alphabet, Dcs};
use super::error::EncodeError;
use super::gsm7;
use super::hex;
use super::plan::{ConcatRef, Folded, Layout, PlanOptions, Planner};
use super::udh::{IEI_CONCAT_8, IEI_CONCAT_16, IEI_LOCKING_SHIFT, IEI_SINGLE_SHIFT};

/// TP-VP in the relative format (TS 23.040 §9.2.3.12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelativeValidity(pub u8);

impl RelativeValidity {
    /// The shortest period the format can express that is not shorter than `d` (so a message
    /// never expires earlier than asked), capped at the format's maximum of 63 weeks.
    pub fn from_duration(d: Duration) -> Self {
        let minutes = d.as_secs().div_ceil(60);
        let v = if minutes <= 12 * 60 {
            // 0..=143: (VP + 1) x 5 minutes.
            minutes.div_ceil(5).max(1) - 1
        } else if minutes <= 24 * 60 {
            // 144..=167: 12 hours + (VP - 143) x 30 minutes.
            143 + (minutes - 12 * 60).div_ceil(30)
        } else if minutes <= 30 * 24 * 60 {
            // 168..=196: (VP - 166) days.
            166 + minutes.div_ceil(24 * 60)
        } else {
            // 197..=255: (VP - 192) weeks.
            (192 + minutes.div_ceil(7 * 24 * 60)).min(255)
        };
        Self(v as u8)
    }

    pub fn duration(self) -> Duration {
        let v = u64::from(self.0);
        let minutes = match v {
            0..=143 => (v + 1) * 5,
            144..=167 => 12 * 60 + (v - 143) * 30,
            168..=196 => (v - 166) * 24 * 60,
            _ => (v - 192) * 7 * 24 * 60,
        };
        Duration::from_secs(minutes * 60)
    }
}

/// Everything about one outgoing message except its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    pub recipient: Address,
    /// `None` writes the empty SMSC (`00`): the modem uses the SIM's service centre.
    pub smsc: Option<Address>,
    /// TP-MR; 0 lets the modem assign one (it reports it in `+CMGS: <mr>`).
    pub message_ref: u8,
    pub validity: Option<RelativeValidity>,
    /// TP-SRR: ask the network for a status report.
    pub status_report: bool,
    /// TP-RD: ask the service centre to reject a duplicate of a message it still holds.
    pub reject_duplicates: bool,
    /// Class 0: the handset shows the text at once and need not store it.
    pub flash: bool,
    pub plan: PlanOptions,
}

impl SubmitOptions {
    pub fn new(recipient: Address) -> Self {
        Self {
            recipient,
            smsc: None,
            message_ref: 0,
            validity: None,
            status_report: false,
            reject_duplicates: false,
            flash: false,
            plan: PlanOptions::default(),
        }
    }
}

/// One part, ready for the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedPart<'a> {
    /// 1-based part number.
    pub part: usize,
    /// Octets of the TPDU (without the SMSC octets): the `<length>` of `AT+CMGS`.
    pub tpdu_len: usize,
    /// The whole PDU, SMSC octets included, in upper-case hex.
    pub hex: &'a str,
}

/// The encoded parts of one message. Reusable: `encode_*` clears it first.
#[derive(Debug, Default, Clone)]
pub struct SubmitPdus {
    hex: String,
    /// (end of this part's hex in `hex`, TPDU length)
    parts: Vec<(usize, usize)>,
    alphabet: Option<Alphabet>,
    folded: Vec<Folded>,
}

impl SubmitPdus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The alphabet the message was encoded in (`None` before the first encode).
    pub fn alphabet(&self) -> Option<Alphabet> {
        self.alphabet
    }

    /// What `gsm7-fold` replaced.
    pub fn folded(&self) -> &[Folded] {
        &self.folded
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = EncodedPart<'_>> + '_ {
        self.parts
            .iter()
            .enumerate()
            .map(move |(i, &(end, tpdu_len))| {
                let start = if i == 0 { 0 } else { self.parts[i - 1].0 };
                EncodedPart {
                    part: i + 1,
                    tpdu_len,
                    hex: &self.hex[start..end],
                }
            })
    }

    fn clear(&mut self) {
        self.hex.clear();
        self.parts.clear();
        self.alphabet = None;
        self.folded.clear();
    }
}

/// Longest PDU: 12 SMSC octets + TPDU header (at most 1+1+12+1+1+1+1) + 140 user data octets.
const MAX_PDU: usize = 176;

/// Encodes SMS-SUBMIT PDUs, reusing its buffers across messages.
#[derive(Debug, Default)]
pub struct SubmitEncoder {
    planner: Planner,
}

impl SubmitEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Plans `text` and writes one PDU per part into `out`.
    pub fn encode_text(
        &mut self,
        text: &str,
        opts: &SubmitOptions,
        out: &mut SubmitPdus,
    ) -> Result<(), EncodeError> {
        out.clear();
        if text.is_empty() {
            return Err(EncodeError::EmptyText);
        }
        let layout = self.planner.plan_text_to_send(text, &opts.plan)?;
        out.folded.extend_from_slice(&self.planner.folded);
        self.write_parts(layout, None, opts, out);
        Ok(())
    }

    /// Writes 8-bit data (DCS 0x04, or 0x14 when flash) as one or more parts.
    pub fn encode_binary(
        &mut self,
        data: &[u8],
        opts: &SubmitOptions,
        out: &mut SubmitPdus,
    ) -> Result<(), EncodeError> {
        out.clear();
        if data.is_empty() {
            return Err(EncodeError::EmptyText);
        }
        let layout = self.planner.plan_binary(data.len(), &opts.plan)?;
        self.write_parts(layout, Some(data), opts, out);
        Ok(())
    }

    fn write_parts(
        &self,
        layout: Layout,
        binary: Option<&[u8]>,
        opts: &SubmitOptions,
        out: &mut SubmitPdus,
    ) {
        out.alphabet = Some(layout.alphabet);
        let total = self.planner.cuts.len();
        let multipart = total > 1;

        // Everything before TP-UDL is the same for every part except the UDHI bit.
        let mut head = [0u8; 32];
        let mut smsc_len = 1;
        match &opts.smsc {
            Some(smsc) => smsc_len = smsc.write_smsc(&mut head),
            None => head[0] = 0,
        }
        let fo_at = smsc_len;
        let mut fo = 0x01; // TP-MTI = SMS-SUBMIT
        if opts.reject_duplicates {
            fo |= 0x04;
        }
        if opts.validity.is_some() {
            fo |= 0x10; // TP-VPF = relative
        }
        if opts.status_report {
            fo |= 0x20;
        }
        if layout.udh_octets > 0 {
            fo |= 0x40;
        }
        head[fo_at] = fo;
        head[fo_at + 1] = opts.message_ref;
        let mut n = fo_at + 2;
        n += opts.recipient.write_tp(&mut head[n..]);
        head[n] = 0x00; // TP-PID: plain short message
        head[n + 1] = Dcs::for_submit(layout.alphabet, opts.flash);
        n += 2;
        if let Some(vp) = opts.validity {
            head[n] = vp.0;
            n += 1;
        }
        let head = &head[..n];

        let mut udh = [0u8; 16];
        let mut buf = [0u8; MAX_PDU];
        out.hex.reserve(total * MAX_PDU * 2);
        let mut start = 0;
        for (i, &end) in self.planner.cuts.iter().enumerate() {
            let udh = write_udh(&mut udh, layout, opts.plan, multipart, total, i + 1);
            buf[..head.len()].copy_from_slice(head);
            let udl_at = head.len();
            let ud_at = udl_at + 1;
            buf[ud_at..ud_at + udh.len()].copy_from_slice(udh);
            let body_at = ud_at + udh.len();
            let (udl, body_len) = match layout.alphabet {
                Alphabet::Gsm7 => {
                    let septets = &self.planner.septets[start..end];
                    let fill = gsm7::fill_bits(udh.len());
                    let written = gsm7::pack_septets(septets, fill, &mut buf[body_at..]);
                    (gsm7::header_septets(udh.len()) + septets.len(), written)
                }
                Alphabet::Ucs2 => {
                    let units = &self.planner.utf16[start..end];
                    for (j, u) in units.iter().enumerate() {
                        buf[body_at + 2 * j..body_at + 2 * j + 2].copy_from_slice(&u.to_be_bytes());
                    }
                    (udh.len() + 2 * units.len(), 2 * units.len())
                }
                Alphabet::EightBit => {
                    let data = &binary.unwrap_or_default()[start..end];
                    buf[body_at..body_at + data.len()].copy_from_slice(data);
                    (udh.len() + data.len(), data.len())
                }
            };
            buf[udl_at] = udl as u8;
            let pdu_len = body_at + body_len;
            hex::encode_into(&buf[..pdu_len], &mut out.hex);
            out.parts.push((out.hex.len(), pdu_len - smsc_len));
            start = end;
        }
    }
}

/// The user-data header of part `part` of `total`: TP-UDHL, then concatenation (when there are
/// several parts) and the national language shifts (when the plan uses them).
fn write_udh(
    buf: &mut [u8; 16],
    layout: Layout,
    plan: PlanOptions,
    multipart: bool,
    total: usize,
    part: usize,
) -> &[u8] {
    if layout.udh_octets == 0 {
        return &[];
    }
    let mut n = 1;
    if multipart {
        match plan.concat {
            ConcatRef::Ref8(r) => {
                buf[n..n + 5].copy_from_slice(&[IEI_CONCAT_8, 3, r, total as u8, part as u8]);
                n += 5;
            }
            ConcatRef::Ref16(r) => {
                let [hi, lo] = r.to_be_bytes();
                buf[n..n + 6].copy_from_slice(&[IEI_CONCAT_16, 4, hi, lo, total as u8, part as u8]);
                n += 6;
            }
        }
    }
    if layout.alphabet == Alphabet::Gsm7 {
        if let Some(lang) = plan.tables.single {
            buf[n..n + 3].copy_from_slice(&[IEI_SINGLE_SHIFT, 1, lang.id()]);
            n += 3;
        }
        if let Some(lang) = plan.tables.locking {
            buf[n..n + 3].copy_from_slice(&[IEI_LOCKING_SHIFT, 1, lang.id()]);
            n += 3;
        }
    }
    buf[0] = (n - 1) as u8;
    &buf[..n]
}

/// Convenience for callers that encode one message now and then.
pub fn encode_submit(text: &str, opts: &SubmitOptions) -> Result<SubmitPdus, EncodeError> {
    let mut out = SubmitPdus::new();
    SubmitEncoder::new().encode_text(text, opts, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::plan::EncodingChoice;

    fn opts(to: &str) -> SubmitOptions {
        SubmitOptions::new(Address::parse(to).unwrap())
    }

    fn parts(text: &str, o: &SubmitOptions) -> Vec<(usize, String)> {
        encode_submit(text, o)
            .unwrap()
            .iter()
            .map(|p| (p.tpdu_len, p.hex.to_string()))
            .collect()
    }

    #[test]
    fn hello_to_an_international_number() {
        // 00        SMSC: use the SIM's
        // 01        SMS-SUBMIT, no VP, no SRR, no UDH
        // 00        TP-MR 0 (modem assigns)
        // 0C 91 361917325476   +639171234567
        // 00 00     PID, DCS GSM 7-bit
        // 05 C8329BFD06        "Hello" (5 septets)
        assert_eq!(
            parts("Hello", &opts("+639171234567")),
            vec![(18, "0001000C91361917325476000005C8329BFD06".to_string())]
        );
    }

    #[test]
    fn flags_validity_and_smsc() {
        let mut o = opts("09171234567");
        o.smsc = Some(Address::parse("+639180000100").unwrap());
        o.validity = Some(RelativeValidity::from_duration(Duration::from_secs(86_400)));
        o.status_report = true;
        o.reject_duplicates = true;
        o.flash = true;
        o.message_ref = 7;
        // 07 91 361908001000    SMSC +639180000100
        // 35  SUBMIT | RD | VPF relative | SRR
        // 07  MR
        // 0B 81 9071214365F7    09171234567, TON unknown
        // 00 10 A7              PID, DCS class 0, VP 167 = 24 h
        // 02 C939               "Is": 'I' 0x49 | low bit of 's' 0x73 << 7, then 0x73 >> 1
        assert_eq!(
            parts("Is", &o),
            vec![(
                16,
                "07913619080010003507".to_string() + "0B819071214365F7" + "0010A7" + "02C939"
            )]
        );
    }

    #[test]
    fn validity_rounds_up_to_what_the_format_can_say() {
        let vp = |secs| RelativeValidity::from_duration(Duration::from_secs(secs)).0;
        assert_eq!(vp(30 * 60), 5);
        assert_eq!(vp(6 * 3600), 71);
        assert_eq!(vp(86_400), 167);
        assert_eq!(vp(2 * 86_400), 168);
        assert_eq!(vp(7 * 86_400), 173);
        assert_eq!(vp(60), 0);
        assert_eq!(vp(10 * 365 * 86_400), 255);
        for v in 0..=255u8 {
            let d = RelativeValidity(v).duration();
            assert_eq!(RelativeValidity::from_duration(d).0, v, "VP {v} round trip");
        }
    }

    #[test]
    fn multipart_headers_and_lengths() {
        let text = "a".repeat(200);
        let o = SubmitOptions {
            plan: PlanOptions {
                concat: ConcatRef::Ref8(0x42),
                ..PlanOptions::default()
            },
            ..opts("+48601234567")
        };
        let got = parts(&text, &o);
        assert_eq!(got.len(), 2);
        // Header: 00 41 00 0B 91 8406214365F7 00 00, then UDL 0xA0 (160 septets) and
        // UDH 05 00 03 42 02 01; the first septet starts after 1 fill bit: 'a'<<1 = C2.
        assert!(
            got[0]
                .1
                .starts_with("0041000B918406214365F70000A0050003420201C2"),
            "{}",
            got[0].1
        );
        assert_eq!(got[0].0, 13 + 140);
        // Part 2: 47 septets + 7 header septets = 54 = 0x36.
        assert!(
            got[1]
                .1
                .starts_with("0041000B918406214365F7000036050003420202")
        );
    }

    #[test]
    fn ucs2_and_sixteen_bit_reference() {
        let o = SubmitOptions {
            plan: PlanOptions {
                concat: ConcatRef::Ref16(0xBEEF),
                ..PlanOptions::default()
            },
            ..opts("+48601234567")
        };
        assert_eq!(
            parts("Zażółć", &o),
            vec![(
                25,
                "0001000B918406214365F70008".to_string() + "0C" + "005A0061017C00F30142" + "0107"
            )]
        );
        let text = "ż".repeat(70) + "😀";
        let got = parts(&text, &o);
        assert_eq!(got.len(), 2);
        // UDL 0x8B = 7 header octets + 66 x 2; UDHL 06: 08 04 BEEF 02 01.
        assert!(got[0].1.contains("8B060804BEEF0201"), "{}", got[0].1);
        assert!(got[1].1.ends_with("D83DDE00"), "{}", got[1].1);
    }

    #[test]
    fn national_single_shift_single_part() {
        let o = SubmitOptions {
            plan: PlanOptions {
                encoding: EncodingChoice::Gsm7,
                tables: gsm7::Gsm7Tables {
                    locking: None,
                    single: Some(gsm7::NationalLanguage::Spanish),
                },
                ..PlanOptions::default()
            },
            ..opts("+34600000000")
        };
        let got = parts("á", &o);
        // UDHI set (0x41); UDL = 5 header septets + 2; UDH 03 24 01 02; fill 3 bits:
        // ESC 0x1B << 3 = D8, then 0x61 << 2 = 0x184 spills into 84 and 01.
        assert_eq!(
            got[0].1,
            "0041000B914306000000F00000".to_string() + "07" + "03240102" + "D88401"
        );
    }

    #[test]
    fn empty_text_is_refused() {
        let mut out = SubmitPdus::new();
        let err = SubmitEncoder::new()
            .encode_text("", &opts("+1555"), &mut out)
            .unwrap_err();
        assert_eq!(err, EncodeError::EmptyText);
    }

    #[test]
    fn binary_data() {
        let mut out = SubmitPdus::new();
        SubmitEncoder::new()
            .encode_binary(&[0xCA, 0xFE], &opts("+1555"), &mut out)
            .unwrap();
        let p: Vec<_> = out.iter().collect();
        assert_eq!(p[0].hex, "00010004915155000402CAFE");
        assert_eq!(p[0].tpdu_len, 11);
    }
}
