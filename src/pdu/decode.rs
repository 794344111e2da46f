//! Decoding what modems hand over: SMS-DELIVER (TS 23.040 §9.2.2.1), SMS-STATUS-REPORT
//! (§9.2.2.3) and, for messages read back from the SIM's outbox, SMS-SUBMIT (§9.2.2.2).
//!
//! Every read is bounds-checked through `Reader`, so arbitrary input yields a value or a
//! [`DecodeError`] with the octet offset, never a panic.

use super::address::Address;
use super::dcs::{Alphabet, Dcs};
use super::error::{DecodeError, DecodeErrorKind, Warning};
use super::gsm7::{self, Gsm7Tables, NationalLanguage};
use super::hex;
use super::scts::Timestamp;
use super::udh::Udh;

/// Which TPDU layout to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TpduKind {
    /// From TP-MTI, as a modem's storage holds them: 00 deliver, 01 submit, 10 status report.
    #[default]
    Auto,
    Deliver,
    Submit,
    StatusReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The input starts with the SMSC address, as `+CMGR`, `+CMGL`, `+CMT` and `+CDS` give it
    /// (TS 27.005 §3.1 `<pdu>`).
    pub has_smsc: bool,
    pub kind: TpduKind,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            has_smsc: true,
            kind: TpduKind::Auto,
        }
    }
}

/// A decoded PDU.
#[derive(Debug, Clone, PartialEq)]
pub struct Pdu {
    pub smsc: Option<Address>,
    pub tpdu: Tpdu,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tpdu {
    Deliver(Deliver),
    Submit(Submit),
    StatusReport(StatusReport),
}

/// What a user data field held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Text(String),
    /// 8-bit data: bytes, never guessed text.
    Data(Vec<u8>),
    /// Compressed text (TS 23.042), which smsq does not decompress: the raw octets.
    Compressed(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub header: Option<Udh>,
    pub body: Body,
    /// Halves of a character a sender split between two parts (UCS-2 only). Each half is
    /// shown as U+FFFD in this part's text; joining the parts mends them
    /// ([`join_text_parts`](super::join_text_parts)).
    pub split: SplitSurrogates,
}

/// The raw UTF-16 code units at the edges of a UCS-2 part when a phone cut a surrogate pair
/// (an emoji) between two parts, as some do: a high surrogate as the last unit, a low one
/// as the first. TS 23.040 §9.2.3.24.1 asks senders not to, but peers' phones do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitSurrogates {
    /// A low surrogate (0xDC00..=0xDFFF) this part starts with, unpaired.
    pub leading_low: Option<u16>,
    /// A high surrogate (0xD800..=0xDBFF) this part ends with, unpaired.
    pub trailing_high: Option<u16>,
}

impl UserData {
    pub fn text(&self) -> Option<&str> {
        match &self.body {
            Body::Text(t) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deliver {
    /// TP-MMS is 0 when more messages are waiting at the service centre.
    pub more_messages: bool,
    pub reply_path: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    pub sender: Address,
    pub pid: u8,
    pub dcs: Dcs,
    /// `None` with a warning when the service centre sent an impossible date.
    pub timestamp: Option<Timestamp>,
    pub user_data: UserData,
}

/// TP-VP in any of its three formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Relative(super::submit::RelativeValidity),
    Absolute(Option<Timestamp>),
    /// The enhanced format (§9.2.3.12.3), kept raw.
    Enhanced([u8; 7]),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Submit {
    pub reject_duplicates: bool,
    pub status_report_request: bool,
    pub reply_path: bool,
    pub message_ref: u8,
    pub recipient: Address,
    pub pid: u8,
    pub dcs: Dcs,
    pub validity: Option<Validity>,
    pub user_data: UserData,
}

/// How a status report ends (or does not end) the story of a sent part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// 0x00..=0x1F: the transaction completed (delivered, forwarded, replaced).
    Delivered,
    /// 0x20..=0x3F: a temporary error; the service centre is still trying.
    Trying,
    /// 0x40..=0x5F: a permanent error; the service centre gave up.
    Failed,
    /// 0x60..=0x7F: a temporary error, but the service centre stopped trying.
    GaveUp,
}

impl StatusKind {
    /// Reserved values are treated as 0x63 "service rejected" (TS 23.040 §9.2.3.15).
    pub fn of(status: u8) -> Self {
        match effective_status(status) {
            0x00..=0x1F => Self::Delivered,
            0x20..=0x3F => Self::Trying,
            0x40..=0x5F => Self::Failed,
            _ => Self::GaveUp,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Trying => "trying",
            Self::Failed => "failed",
            Self::GaveUp => "gave_up",
        }
    }

    /// Whether no later report will change the outcome.
    pub fn is_final(self) -> bool {
        self != Self::Trying
    }
}

fn is_reserved_status(s: u8) -> bool {
    matches!(s, 0x03..=0x0F | 0x26..=0x2F | 0x4A..=0x4F | 0x66..=0x6F | 0x80..=0xFF)
}

fn effective_status(s: u8) -> u8 {
    if is_reserved_status(s) { 0x63 } else { s }
}

/// TP-ST in words (TS 23.040 §9.2.3.15), for history and logs.
pub fn status_text(status: u8) -> &'static str {
    match effective_status(status) {
        0x00 => "received by the recipient",
        0x01 => "forwarded, delivery not confirmed",
        0x02 => "replaced by the service centre",
        0x10..=0x1F => "completed (service-centre specific)",
        0x20 | 0x60 => "congestion",
        0x21 | 0x61 => "recipient busy",
        0x22 | 0x62 => "no response from recipient",
        0x23 | 0x63 => "service rejected",
        0x24 | 0x44 | 0x64 => "quality of service not available",
        0x25 | 0x65 => "error in recipient",
        0x30..=0x3F | 0x50..=0x5F | 0x70..=0x7F => "service-centre specific error",
        0x40 => "remote procedure error",
        0x41 => "incompatible destination",
        0x42 => "connection rejected by recipient",
        0x43 => "not obtainable",
        0x45 => "no interworking available",
        0x46 => "validity period expired",
        0x47 => "deleted by the sender",
        0x48 => "deleted by the service centre",
        0x49 => "message does not exist",
        _ => "service rejected",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub more_messages: bool,
    /// TP-SRQ: the report is about an SMS-COMMAND rather than an SMS-SUBMIT.
    pub for_command: bool,
    pub message_ref: u8,
    pub recipient: Address,
    pub timestamp: Option<Timestamp>,
    pub discharge_time: Option<Timestamp>,
    pub status: u8,
    pub status_kind: StatusKind,
    pub pid: Option<u8>,
    pub dcs: Option<Dcs>,
    pub user_data: Option<UserData>,
}

/// Longest input accepted: any real PDU is at most 176 octets; a little slack for junk after it.
const MAX_INPUT: usize = 256;

/// Decodes a PDU given in hex, as modems print it.
pub fn decode_hex(input: &str, opts: DecodeOptions) -> Result<Pdu, DecodeError> {
    let mut buf = [0u8; MAX_INPUT];
    let n = hex::decode_to_slice(input, &mut buf)?;
    decode(&buf[..n], opts)
}

/// Decodes a PDU from octets.
pub fn decode(bytes: &[u8], opts: DecodeOptions) -> Result<Pdu, DecodeError> {
    let mut pdu = Pdu::empty();
    decode_in_place(bytes, opts, &mut pdu, &mut Pool::default())?;
    Ok(pdu)
}

/// Decodes one PDU after another into the same [`Pdu`], reusing its strings and buffers, so
/// that once warm (a `+CMGL` listing, a burst of `+CMT`) decoding allocates nothing. Writing
/// each field where it stays, rather than building the message and moving it out, is also
/// what makes it fast: a decoded message is a few hundred octets.
///
/// ```
/// use smsq::pdu::{DecodeOptions, Decoder, Tpdu};
///
/// let mut decoder = Decoder::new();
/// // SMSC 00, then an SMS-DELIVER from +639171234567 in GSM 7-bit: "hi".
/// for _ in 0..3 {
///     let pdu = decoder
///         .decode_hex("00040C9136191732547600006211320151032302E834", DecodeOptions::default())
///         .unwrap();
///     let Tpdu::Deliver(deliver) = &pdu.tpdu else { panic!("a DELIVER") };
///     assert_eq!(deliver.sender.to_string(), "+639171234567");
///     assert_eq!(deliver.user_data.text(), Some("hi"));
/// }
/// ```
#[derive(Debug)]
pub struct Decoder {
    pdu: Pdu,
    /// Whether `pdu` holds a whole message (a failed decode leaves part of one).
    valid: bool,
    pool: Pool,
    /// The octets of the input, kept to spare zeroing a new buffer for every PDU.
    octets: [u8; MAX_INPUT],
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            pdu: Pdu::empty(),
            valid: false,
            pool: Pool::default(),
            octets: [0; MAX_INPUT],
        }
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `input`. The result is borrowed until the next call; [`Decoder::take`] keeps it.
    pub fn decode_hex(&mut self, input: &str, opts: DecodeOptions) -> Result<&Pdu, DecodeError> {
        self.valid = false;
        let n = hex::decode_to_slice(input, &mut self.octets)?;
        decode_in_place(&self.octets[..n], opts, &mut self.pdu, &mut self.pool)?;
        self.valid = true;
        Ok(&self.pdu)
    }

    /// The last message decoded, taken out of the decoder (which then allocates afresh);
    /// `None` when the last decode failed.
    pub fn take(&mut self) -> Option<Pdu> {
        std::mem::take(&mut self.valid).then(|| std::mem::replace(&mut self.pdu, Pdu::empty()))
    }
}

impl Pdu {
    /// Nothing yet: the shape a decode fills in.
    fn empty() -> Self {
        Self {
            smsc: None,
            tpdu: Tpdu::Deliver(Deliver {
                more_messages: false,
                reply_path: false,
                status_report_indication: false,
                sender: Address::empty(),
                pid: 0,
                dcs: Dcs::from_octet(0),
                timestamp: None,
                user_data: UserData::empty(),
            }),
            warnings: Vec::new(),
        }
    }
}

impl UserData {
    fn empty() -> Self {
        Self {
            header: None,
            body: Body::Text(String::new()),
            split: SplitSurrogates::default(),
        }
    }
}

/// Strings and buffers of parts an earlier message had and the current one has not (an SMSC
/// address, a TPDU of another kind, 8-bit data instead of text), kept for a later message.
/// Addresses and texts are kept apart so that a short string is not handed out for a long
/// text, which would then have to grow.
#[derive(Debug, Default)]
struct Pool {
    addresses: Vec<String>,
    texts: Vec<String>,
    data: Vec<Vec<u8>>,
}

/// Bounds each list: a message holds at most two addresses, one text and one buffer.
const POOL_LIMIT: usize = 4;

impl Pool {
    fn keep_address(&mut self, s: String) {
        if s.capacity() > 0 && self.addresses.len() < POOL_LIMIT {
            self.addresses.push(s);
        }
    }

    fn keep_text(&mut self, s: String) {
        if s.capacity() > 0 && self.texts.len() < POOL_LIMIT {
            self.texts.push(s);
        }
    }

    fn keep_data(&mut self, d: Vec<u8>) {
        if d.capacity() > 0 && self.data.len() < POOL_LIMIT {
            self.data.push(d);
        }
    }

    fn keep_user_data(&mut self, ud: UserData) {
        match ud.body {
            Body::Text(text) => self.keep_text(text),
            Body::Data(data) | Body::Compressed(data) => self.keep_data(data),
        }
    }

    /// Empties `s` for reuse, giving it the room of a string kept in `kept` if it has none.
    fn reuse(s: &mut String, kept: &mut Vec<String>) {
        if s.capacity() == 0
            && let Some(room) = kept.pop()
        {
            *s = room;
        }
        s.clear();
    }

    /// The string of `body` to write text into, emptied: its own if it held text, else a
    /// kept one. The caller puts it back as `Body::Text`.
    fn take_text(&mut self, body: &mut Body) -> String {
        let mut text = match std::mem::replace(body, Body::Text(String::new())) {
            Body::Text(t) => t,
            Body::Data(d) | Body::Compressed(d) => {
                self.keep_data(d);
                String::new()
            }
        };
        Self::reuse(&mut text, &mut self.texts);
        text
    }

    /// `body` as 8-bit data (or compressed text) holding `content`.
    fn data(&mut self, body: &mut Body, content: &[u8], compressed: bool) {
        let mut buf = match std::mem::replace(body, Body::Data(Vec::new())) {
            Body::Data(d) | Body::Compressed(d) => d,
            Body::Text(t) => {
                self.keep_text(t);
                self.data.pop().unwrap_or_default()
            }
        };
        buf.clear();
        buf.extend_from_slice(content);
        *body = if compressed {
            Body::Compressed(buf)
        } else {
            Body::Data(buf)
        };
    }

    /// Makes `tpdu` the kind `kind`, keeping the strings of what it was.
    fn shape(&mut self, tpdu: &mut Tpdu, kind: TpduKind) {
        let same = matches!(
            (kind, &*tpdu),
            (TpduKind::Deliver | TpduKind::Auto, Tpdu::Deliver(_))
                | (TpduKind::Submit, Tpdu::Submit(_))
                | (TpduKind::StatusReport, Tpdu::StatusReport(_))
        );
        if same {
            return;
        }
        let empty_dcs = Dcs::from_octet(0);
        let fresh = match kind {
            TpduKind::Deliver | TpduKind::Auto => Pdu::empty().tpdu,
            TpduKind::Submit => Tpdu::Submit(Submit {
                reject_duplicates: false,
                status_report_request: false,
                reply_path: false,
                message_ref: 0,
                recipient: Address::empty(),
                pid: 0,
                dcs: empty_dcs,
                validity: None,
                user_data: UserData::empty(),
            }),
            TpduKind::StatusReport => Tpdu::StatusReport(StatusReport {
                more_messages: false,
                for_command: false,
                message_ref: 0,
                recipient: Address::empty(),
                timestamp: None,
                discharge_time: None,
                status: 0,
                status_kind: StatusKind::Delivered,
                pid: None,
                dcs: None,
                user_data: None,
            }),
        };
        match std::mem::replace(tpdu, fresh) {
            Tpdu::Deliver(d) => {
                self.keep_address(d.sender.value);
                self.keep_user_data(d.user_data);
            }
            Tpdu::Submit(s) => {
                self.keep_address(s.recipient.value);
                self.keep_user_data(s.user_data);
            }
            Tpdu::StatusReport(r) => {
                self.keep_address(r.recipient.value);
                if let Some(ud) = r.user_data {
                    self.keep_user_data(ud);
                }
            }
        }
    }
}

/// Decodes `bytes` into `pdu`, reusing its strings and buffers (and the pool's, for parts the
/// previous message lacked). On error `pdu` holds part of a message.
fn decode_in_place(
    bytes: &[u8],
    opts: DecodeOptions,
    pdu: &mut Pdu,
    pool: &mut Pool,
) -> Result<(), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::new(0, DecodeErrorKind::Empty));
    }
    pdu.warnings.clear();
    // The SMSC address reuses the previous one's string, or a kept one; without one, its
    // string is kept for later.
    let mut smsc = pdu.smsc.take().unwrap_or_else(Address::empty);
    Pool::reuse(&mut smsc.value, &mut pool.addresses);
    let (present, start) = if opts.has_smsc {
        Address::read_smsc_into(bytes, &mut smsc, &mut pdu.warnings)?
    } else {
        (false, 0)
    };
    if present {
        pdu.smsc = Some(smsc);
    } else {
        pool.keep_address(smsc.value);
    }
    let mut r = Reader {
        data: bytes,
        pos: start,
        pool,
    };
    let fo = r.u8("TP-MTI (first octet)")?;
    let kind = match opts.kind {
        TpduKind::Auto => match fo & 0x03 {
            0 => TpduKind::Deliver,
            1 => TpduKind::Submit,
            2 => TpduKind::StatusReport,
            _ => {
                return Err(DecodeError::new(
                    start,
                    DecodeErrorKind::Reserved {
                        field: "TP-MTI",
                        value: fo & 0x03,
                    },
                ));
            }
        },
        k => k,
    };
    r.pool.shape(&mut pdu.tpdu, kind);
    let warnings = &mut pdu.warnings;
    match &mut pdu.tpdu {
        Tpdu::Deliver(d) => read_deliver(fo, &mut r, d, warnings),
        Tpdu::Submit(s) => read_submit(fo, &mut r, s, warnings),
        Tpdu::StatusReport(report) => read_status_report(fo, &mut r, report, warnings),
    }
}

fn read_deliver(
    fo: u8,
    r: &mut Reader<'_, '_>,
    d: &mut Deliver,
    warnings: &mut Vec<Warning>,
) -> Result<(), DecodeError> {
    d.more_messages = fo & 0x04 == 0;
    d.reply_path = fo & 0x80 != 0;
    d.status_report_indication = fo & 0x20 != 0;
    r.address("TP-OA", &mut d.sender, warnings)?;
    d.pid = r.u8("TP-PID")?;
    d.dcs = Dcs::from_octet(r.u8("TP-DCS")?);
    d.timestamp = r.timestamp("TP-SCTS", warnings)?;
    r.user_data(fo & 0x40 != 0, &d.dcs, &mut d.user_data, warnings)
}

fn read_submit(
    fo: u8,
    r: &mut Reader<'_, '_>,
    s: &mut Submit,
    warnings: &mut Vec<Warning>,
) -> Result<(), DecodeError> {
    s.reject_duplicates = fo & 0x04 != 0;
    s.status_report_request = fo & 0x20 != 0;
    s.reply_path = fo & 0x80 != 0;
    s.message_ref = r.u8("TP-MR")?;
    r.address("TP-DA", &mut s.recipient, warnings)?;
    s.pid = r.u8("TP-PID")?;
    s.dcs = Dcs::from_octet(r.u8("TP-DCS")?);
    s.validity = match (fo >> 3) & 0x03 {
        0 => None,
        2 => Some(Validity::Relative(super::submit::RelativeValidity(
            r.u8("TP-VP")?,
        ))),
        1 => Some(Validity::Enhanced(r.array7("TP-VP")?)),
        _ => Some(Validity::Absolute(r.timestamp("TP-VP", warnings)?)),
    };
    r.user_data(fo & 0x40 != 0, &s.dcs, &mut s.user_data, warnings)
}

fn read_status_report(
    fo: u8,
    r: &mut Reader<'_, '_>,
    report: &mut StatusReport,
    warnings: &mut Vec<Warning>,
) -> Result<(), DecodeError> {
    report.more_messages = fo & 0x04 == 0;
    report.for_command = fo & 0x20 != 0;
    report.message_ref = r.u8("TP-MR")?;
    r.address("TP-RA", &mut report.recipient, warnings)?;
    report.timestamp = r.timestamp("TP-SCTS", warnings)?;
    report.discharge_time = r.timestamp("TP-DT", warnings)?;
    let status = r.u8("TP-ST")?;
    if is_reserved_status(status) {
        warnings.push(Warning::ReservedStatus { status });
    }
    report.status = status;
    report.status_kind = StatusKind::of(status);
    report.pid = None;
    report.dcs = None;
    // Filled below only if TP-PI announces user data; otherwise its buffers are kept.
    let user_data = report.user_data.take();
    match read_report_extras(r, report, warnings) {
        Some(dcs) => {
            let mut ud = user_data.unwrap_or_else(UserData::empty);
            let filled = r.user_data(fo & 0x40 != 0, &dcs, &mut ud, warnings);
            report.user_data = Some(ud);
            filled
        }
        None => {
            if let Some(ud) = user_data {
                r.pool.keep_user_data(ud);
            }
            Ok(())
        }
    }
}

/// TP-PI and the TP-PID and TP-DCS it announces (TS 23.040 §9.2.2.3); returns the DCS for
/// the user data when TP-PI announces user data that is there.
fn read_report_extras(
    r: &mut Reader<'_, '_>,
    report: &mut StatusReport,
    warnings: &mut Vec<Warning>,
) -> Option<Dcs> {
    // TP-PI and what it announces are optional; many service centres stop at TP-ST.
    // Extension octets (bit 7) are skipped; their meaning is reserved.
    let mut pi = r.opt_u8()?;
    let first_pi = pi;
    while pi & 0x80 != 0 {
        pi = r.opt_u8()?;
    }
    // What TP-PI announces is an extra: a report cut short there still tells the outcome, so
    // the missing fields are left out with a warning instead of failing the whole report.
    let missing = Warning::MissingOptionalFields { pi: first_pi };
    if first_pi & 0x01 != 0 {
        match r.opt_u8() {
            Some(pid) => report.pid = Some(pid),
            None => {
                warnings.push(missing);
                return None;
            }
        }
    }
    if first_pi & 0x02 != 0 {
        match r.opt_u8() {
            Some(dcs) => report.dcs = Some(Dcs::from_octet(dcs)),
            None => {
                warnings.push(missing);
                return None;
            }
        }
    }
    if first_pi & 0x04 == 0 {
        return None;
    }
    if r.pos >= r.data.len() {
        warnings.push(missing);
        return None;
    }
    Some(report.dcs.unwrap_or(Dcs::from_octet(0)))
}

struct Reader<'a, 'p> {
    data: &'a [u8],
    pos: usize,
    pool: &'p mut Pool,
}

impl Reader<'_, '_> {
    fn truncated(&self, field: &'static str, needed: usize) -> DecodeError {
        DecodeError::new(
            self.pos,
            DecodeErrorKind::Truncated {
                field,
                needed,
                available: self.data.len().saturating_sub(self.pos),
            },
        )
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| self.truncated(field, 1))?;
        self.pos += 1;
        Ok(b)
    }

    fn opt_u8(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied()?;
        self.pos += 1;
        Some(b)
    }

    fn array7(&mut self, field: &'static str) -> Result<[u8; 7], DecodeError> {
        let s = self
            .data
            .get(self.pos..self.pos + 7)
            .ok_or_else(|| self.truncated(field, 7))?;
        self.pos += 7;
        let mut a = [0u8; 7];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn timestamp(
        &mut self,
        field: &'static str,
        warnings: &mut Vec<Warning>,
    ) -> Result<Option<Timestamp>, DecodeError> {
        let raw = self.array7(field)?;
        let t = Timestamp::from_octets(raw);
        if t.is_none() {
            warnings.push(Warning::InvalidTimestamp { field, raw });
        }
        Ok(t)
    }

    fn address(
        &mut self,
        field: &'static str,
        out: &mut Address,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), DecodeError> {
        Pool::reuse(&mut out.value, &mut self.pool.addresses);
        let used = Address::read_tp_into(&self.data[self.pos..], self.pos, field, out, warnings)?;
        self.pos += used;
        Ok(())
    }

    /// TP-UDL and TP-UD into `out`. Lenient where TS 23.040 allows it: a length longer than
    /// the data decodes what is there, with a warning.
    fn user_data(
        &mut self,
        udhi: bool,
        dcs: &Dcs,
        out: &mut UserData,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), DecodeError> {
        let udl = usize::from(self.u8("TP-UDL")?);
        let ud_at = self.pos;
        let ud = &self.data[ud_at..];
        self.pos = self.data.len();
        let septets = dcs.alphabet == Alphabet::Gsm7 && !dcs.compressed;
        let max = if septets { 160 } else { 140 };
        if udl > max {
            warnings.push(Warning::UserDataTooLong { declared: udl, max });
        }
        let ud_octets = if septets { (udl * 7).div_ceil(8) } else { udl };
        if ud.len() > ud_octets {
            warnings.push(Warning::TrailingOctets {
                count: ud.len() - ud_octets,
            });
        }
        if dcs.reserved {
            warnings.push(Warning::ReservedDcs { dcs: dcs.raw });
        }

        out.header = None;
        out.split = SplitSurrogates::default();
        let header_octets = if udhi && udl > 0 {
            let udhl = usize::from(*ud.first().ok_or_else(|| {
                DecodeError::new(
                    ud_at,
                    DecodeErrorKind::Truncated {
                        field: "TP-UDHL",
                        needed: 1,
                        available: 0,
                    },
                )
            })?);
            let limit = ud.len().min(ud_octets);
            if 1 + udhl > limit {
                return Err(DecodeError::new(
                    ud_at,
                    DecodeErrorKind::LengthOutOfRange {
                        field: "TP-UDHL",
                        value: udhl,
                        max: limit.saturating_sub(1),
                    },
                ));
            }
            out.header = Some(Udh::parse(&ud[1..1 + udhl], ud_at + 1, warnings)?);
            1 + udhl
        } else {
            0
        };

        if septets {
            let skip = gsm7::header_septets(header_octets);
            let wanted = udl.saturating_sub(skip);
            let tables = tables_for(out.header.as_ref(), warnings);
            let mut text = self.pool.take_text(&mut out.body);
            let got = tables.decode_packed(ud, skip * 7, wanted, &mut text);
            out.body = Body::Text(text);
            if got < wanted {
                warnings.push(Warning::UserDataShort {
                    declared: wanted,
                    decoded: got,
                });
            }
        } else {
            let end = ud_octets.min(ud.len());
            let payload = ud.get(header_octets..end).unwrap_or_default();
            if ud_octets > ud.len() {
                warnings.push(Warning::UserDataShort {
                    declared: ud_octets - header_octets.min(ud_octets),
                    decoded: payload.len(),
                });
            }
            if dcs.alphabet == Alphabet::Ucs2 && !dcs.compressed {
                let mut text = self.pool.take_text(&mut out.body);
                out.split = decode_ucs2(payload, warnings, &mut text);
                out.body = Body::Text(text);
            } else {
                self.pool.data(&mut out.body, payload, dcs.compressed);
            }
        }
        Ok(())
    }
}

fn tables_for(header: Option<&Udh>, warnings: &mut Vec<Warning>) -> Gsm7Tables {
    let Some(udh) = header else {
        return Gsm7Tables::DEFAULT;
    };
    let mut lang = |id: Option<u8>| {
        let id = id?;
        let l = NationalLanguage::from_id(id);
        if l.is_none() {
            warnings.push(Warning::UnsupportedLanguage { id });
        }
        l
    };
    Gsm7Tables {
        locking: lang(udh.locking_shift),
        single: lang(udh.single_shift),
    }
}

/// Appends the text of UCS-2 `payload` to `s`; returns the surrogate halves it starts or
/// ends with (each also shown as U+FFFD), so that joining parts can mend them.
pub(super) fn decode_ucs2(
    payload: &[u8],
    warnings: &mut Vec<Warning>,
    s: &mut String,
) -> SplitSurrogates {
    let unit_at = |i: usize| {
        payload
            .get(2 * i..2 * i + 2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
    };
    let last = (payload.len() / 2).checked_sub(1).and_then(unit_at);
    let split = SplitSurrogates {
        leading_low: unit_at(0).filter(|u| (0xDC00..=0xDFFF).contains(u)),
        // Nothing follows the last unit, so a high surrogate there is unpaired.
        trailing_high: last.filter(|u| (0xD800..0xDC00).contains(u)),
    };
    if payload.len() % 2 != 0 {
        warnings.push(Warning::OddUcs2Length);
    }
    s.reserve(payload.len() * 3 / 2);
    let mut lone = false;
    let mut units = payload
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]));
    // By hand rather than `char::decode_utf16`: nearly every unit is a character of its own,
    // and that case is one comparison here.
    while let Some(unit) = units.next() {
        if let Some(c) = char::from_u32(u32::from(unit)) {
            s.push(c);
            continue;
        }
        // A surrogate: a high one followed by a low one is a character beyond the BMP.
        let c = if (0xD800..0xDC00).contains(&unit) {
            let mut ahead = units.clone();
            match ahead.next() {
                Some(low @ 0xDC00..=0xDFFF) => {
                    units = ahead;
                    let high = u32::from(unit - 0xD800);
                    let low = u32::from(low - 0xDC00);
                    char::from_u32(0x10000 + (high << 10) + low)
                }
                _ => None,
            }
        } else {
            None
        };
        s.push(c.unwrap_or_else(|| {
            lone = true;
            char::REPLACEMENT_CHARACTER
        }));
    }
    if lone {
        warnings.push(Warning::LoneSurrogate);
    }
    split
}
