//! Parsers for single lines of modem output (nom 8, `complete` input: a line is whole).
//!
//! A line is classified in a fixed order by the exchange in progress (see `modem::exchange`):
//! a final result code ends a command; a line with the prefix the command expects is its
//! response; any other line that parses as an unsolicited result code is one; what is left is
//! a plain response line (an IMEI, a model name) or, between commands, an unknown URC.
//! Unknown lines are values, never errors.
//!
//! The information-response grammar is one tokenizer ([`info`]): a `+NAME:` or `^NAME:` prefix
//! and comma-separated fields, quoted or bare, with any spacing. Typed readers take fields from
//! it, so missing or extra quotes, extra spaces and odd storage names all parse the same way.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_till, take_while1};
use nom::character::complete::{char, digit1, space0};
use nom::combinator::{all_consuming, map, map_res, opt, rest};
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded, terminated};
use nom::{IResult, Parser};

use super::codes::{CmeError, CmsError};

/// A final result code: the end of a command's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Ok,
    Error,
    Cme(CmeError),
    Cms(CmsError),
    NoCarrier,
    Busy,
    NoAnswer,
    NoDialtone,
    /// Some modems (SIMCom, ZTE) answer an unknown command with this instead of `ERROR`.
    CommandNotSupported,
}

impl Final {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }
}

type Res<'a, T> = IResult<&'a str, T>;

fn number(input: &str) -> Res<'_, u16> {
    map_res(digit1, str::parse::<u16>).parse(input)
}

/// Parses a final result code, or `None` for any other line.
pub fn parse_final(line: &str) -> Option<Final> {
    let line = line.trim();
    let error_detail = |input| -> Res<'_, Result<u16, &str>> {
        preceded(
            space0,
            alt((
                map(all_consuming(terminated(number, space0)), Ok),
                map(rest, |t: &str| Err(t.trim())),
            )),
        )
        .parse(input)
    };
    let mut parser = alt((
        map(all_consuming(tag_no_case("OK")), |_| Final::Ok),
        map(all_consuming(tag_no_case("ERROR")), |_| Final::Error),
        map(preceded(tag_no_case("+CME ERROR:"), error_detail), |d| {
            Final::Cme(d.map_or_else(CmeError::from_text, CmeError::from_code))
        }),
        map(preceded(tag_no_case("+CMS ERROR:"), error_detail), |d| {
            Final::Cms(d.map_or_else(CmsError::from_text, CmsError::from_code))
        }),
        map(all_consuming(tag_no_case("NO CARRIER")), |_| {
            Final::NoCarrier
        }),
        map(all_consuming(tag_no_case("BUSY")), |_| Final::Busy),
        map(all_consuming(tag_no_case("NO ANSWER")), |_| Final::NoAnswer),
        map(all_consuming(tag_no_case("NO DIALTONE")), |_| {
            Final::NoDialtone
        }),
        map(all_consuming(tag_no_case("COMMAND NOT SUPPORT")), |_| {
            Final::CommandNotSupported
        }),
    ));
    parser.parse(line).ok().map(|(_, f)| f)
}

/// One field of an information response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub quoted: bool,
}

impl Field {
    pub fn num(&self) -> Option<i64> {
        self.text.trim().parse().ok()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn opt_string(&self) -> Option<String> {
        (!self.text.is_empty()).then(|| self.text.clone())
    }
}

fn prefix(input: &str) -> Res<'_, &str> {
    terminated(
        nom::combinator::recognize((
            // '+' standard, '^' Huawei, '#' Telit, '*' SIMCom/Telit vendor extensions.
            alt((char('+'), char('^'), char('#'), char('*'))),
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_'),
        )),
        (space0, char(':'), space0),
    )
    .parse(input)
}

fn quoted(input: &str) -> Res<'_, Field> {
    map(
        delimited(char('"'), take_till(|c| c == '"'), opt(char('"'))),
        |t: &str| Field {
            text: t.to_string(),
            quoted: true,
        },
    )
    .parse(input)
}

fn bare(input: &str) -> Res<'_, Field> {
    map(take_till(|c| c == ','), |t: &str| Field {
        // A stray quote inside a bare field (`"SM,3` style damage) is dropped.
        text: t.trim().trim_matches('"').to_string(),
        quoted: false,
    })
    .parse(input)
}

fn field(input: &str) -> Res<'_, Field> {
    delimited(space0, alt((quoted, bare)), space0).parse(input)
}

/// Splits `+NAME: a,"b",,c` into the prefix (`+NAME`, case kept; `^`, `#` and `*` vendor
/// prefixes too) and its fields.
pub fn info(line: &str) -> Option<(&str, Vec<Field>)> {
    let (rest, name) = prefix(line.trim()).ok()?;
    if rest.trim().is_empty() {
        return Some((name, Vec::new()));
    }
    let (rest, fields) = separated_list0(tag(","), field).parse(rest).ok()?;
    rest.trim().is_empty().then_some((name, fields))
}

/// The fields of `line` when its prefix is `name` (case-insensitive).
pub fn fields_of(line: &str, name: &str) -> Option<Vec<Field>> {
    let (p, fields) = info(line)?;
    p.eq_ignore_ascii_case(name).then_some(fields)
}

fn num_at(fields: &[Field], i: usize) -> Option<i64> {
    fields.get(i)?.num()
}

fn u8_at(fields: &[Field], i: usize) -> Option<u8> {
    u8::try_from(num_at(fields, i)?).ok()
}

/// `+CMGS: <mr>`: the message reference the network will quote in the status report.
pub fn parse_cmgs(line: &str) -> Option<u8> {
    u8_at(&fields_of(line, "+CMGS")?, 0)
}

/// `+CMGR: <stat>,[<alpha>],<length>` (PDU mode; the PDU is on the next line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeader {
    /// `+CMGL` only.
    pub index: Option<u32>,
    /// 0 received unread, 1 received read, 2 stored unsent, 3 stored sent.
    pub stat: u8,
    pub alpha: Option<String>,
    /// TPDU length in octets (without the SMSC).
    pub length: usize,
}

pub fn parse_cmgr(line: &str) -> Option<StoredHeader> {
    let f = fields_of(line, "+CMGR")?;
    Some(StoredHeader {
        index: None,
        stat: u8_at(&f, 0)?,
        alpha: if f.len() >= 3 {
            f[1].opt_string()
        } else {
            None
        },
        length: usize::try_from(num_at(&f, f.len().checked_sub(1)?)?).ok()?,
    })
}

/// `+CMGL: <index>,<stat>,[<alpha>],<length>`.
pub fn parse_cmgl(line: &str) -> Option<StoredHeader> {
    let f = fields_of(line, "+CMGL")?;
    Some(StoredHeader {
        index: Some(u32::try_from(num_at(&f, 0)?).ok()?),
        stat: u8_at(&f, 1)?,
        alpha: if f.len() >= 4 {
            f[2].opt_string()
        } else {
            None
        },
        length: usize::try_from(num_at(&f, f.len().checked_sub(1)?)?).ok()?,
    })
}

/// `+CSQ: <rssi>,<ber>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalQuality {
    pub rssi: u8,
    pub ber: u8,
}

impl SignalQuality {
    /// RSSI in dBm per TS 27.007 §8.5: 0 is -113 or less, 31 is -51 or more, 99 unknown.
    pub fn dbm(&self) -> Option<i32> {
        (self.rssi <= 31).then(|| -113 + 2 * i32::from(self.rssi))
    }
}

pub fn parse_csq(line: &str) -> Option<SignalQuality> {
    let f = fields_of(line, "+CSQ")?;
    Some(SignalQuality {
        rssi: u8_at(&f, 0)?,
        ber: u8_at(&f, 1).unwrap_or(99),
    })
}

/// Which registration a `+CREG`-style line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationKind {
    /// `+CREG`: circuit-switched, which SMS over the air uses on 2G/3G.
    Cs,
    /// `+CGREG`: GPRS.
    Ps,
    /// `+CEREG`: LTE.
    Eps,
}

impl RegistrationKind {
    fn from_prefix(p: &str) -> Option<Self> {
        match p.to_ascii_uppercase().as_str() {
            "+CREG" => Some(Self::Cs),
            "+CGREG" => Some(Self::Ps),
            "+CEREG" => Some(Self::Eps),
            _ => None,
        }
    }
}

/// Registration state, TS 27.007 §7.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub kind: RegistrationKind,
    /// 0 not registered, 1 home, 2 searching, 3 denied, 4 unknown, 5 roaming.
    pub stat: u8,
    pub lac: Option<String>,
    pub ci: Option<String>,
    pub act: Option<u8>,
}

impl Registration {
    pub fn is_registered(&self) -> bool {
        matches!(self.stat, 1 | 5)
    }

    pub fn stat_name(&self) -> &'static str {
        match self.stat {
            0 => "not registered",
            1 => "registered (home)",
            2 => "searching",
            3 => "registration denied",
            5 => "registered (roaming)",
            _ => "unknown",
        }
    }
}

fn registration(kind: RegistrationKind, f: &[Field]) -> Option<Registration> {
    Some(Registration {
        kind,
        stat: u8_at(f, 0)?,
        lac: f.get(1).and_then(Field::opt_string),
        ci: f.get(2).and_then(Field::opt_string),
        act: u8_at(f, 3),
    })
}

/// The answer to `AT+CREG?` (`+CREG: <n>,<stat>[,...]`) and its `+CGREG`/`+CEREG` siblings.
pub fn parse_registration_response(line: &str) -> Option<Registration> {
    let (p, f) = info(line)?;
    let kind = RegistrationKind::from_prefix(p)?;
    registration(kind, f.get(1..)?)
}

/// The unsolicited form, `+CREG: <stat>[,<lac>,<ci>[,<act>]]`.
pub fn parse_registration_urc(line: &str) -> Option<Registration> {
    let (p, f) = info(line)?;
    let kind = RegistrationKind::from_prefix(p)?;
    registration(kind, &f)
}

/// `+COPS: <mode>[,<format>,<oper>[,<act>]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub mode: u8,
    pub name: Option<String>,
    pub act: Option<u8>,
}

pub fn parse_cops(line: &str) -> Option<Operator> {
    let f = fields_of(line, "+COPS")?;
    Some(Operator {
        mode: u8_at(&f, 0)?,
        name: f.get(2).and_then(Field::opt_string),
        act: u8_at(&f, 3),
    })
}

/// SIM state from `+CPIN: <code>` (TS 27.007 §8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    Ready,
    SimPin,
    SimPuk,
    SimPin2,
    SimPuk2,
    PhSimPin,
    /// "NOT INSERTED", "NOT READY" and anything else, as the modem said it.
    Other(String),
}

pub fn parse_cpin(line: &str) -> Option<PinState> {
    let f = fields_of(line, "+CPIN")?;
    let code = f.first()?.text.trim().to_ascii_uppercase();
    Some(match code.as_str() {
        "READY" => PinState::Ready,
        "SIM PIN" => PinState::SimPin,
        "SIM PUK" => PinState::SimPuk,
        "SIM PIN2" => PinState::SimPin2,
        "SIM PUK2" => PinState::SimPuk2,
        "PH-SIM PIN" => PinState::PhSimPin,
        _ => PinState::Other(code),
    })
}

/// PIN attempts the SIM has left, from whichever form the modem answers in:
/// `+CPINR: "SIM PIN",<retries>[,<default>]` (TS 27.007 §8.65), Huawei
/// `^CPIN: <code>,[<times>],<puk_times>,<pin_times>,...`, SIMCom `+SPIC: <pin1>,...`
/// (SIM800 series manual), Quectel `+QPINC: "SC",<pin_counter>,<puk_counter>`.
pub fn parse_pin_retries(line: &str) -> Option<u8> {
    if let Some(f) = fields_of(line, "+CPINR") {
        return f
            .first()?
            .text
            .trim()
            .eq_ignore_ascii_case("SIM PIN")
            .then(|| u8_at(&f, 1))
            .flatten();
    }
    if let Some(f) = fields_of(line, "^CPIN") {
        return u8_at(&f, 3);
    }
    if let Some(f) = fields_of(line, "+SPIC") {
        return u8_at(&f, 0);
    }
    let f = fields_of(line, "+QPINC")?;
    f.first()?
        .text
        .trim()
        .eq_ignore_ascii_case("SC")
        .then(|| u8_at(&f, 1))
        .flatten()
}

/// Storage use from `+CPMS`: (used, total) for read/delete, write/send and receive storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUse {
    pub names: Vec<String>,
    pub counts: Vec<(u32, u32)>,
}

impl StorageUse {
    /// Use of the storage where new messages land (the third, else the first).
    pub fn receive(&self) -> Option<(u32, u32)> {
        self.counts.get(2).or(self.counts.first()).copied()
    }
}

/// Both `+CPMS: "SM",3,30,"SM",3,30,...` (query) and `+CPMS: 3,30,3,30,...` (set).
pub fn parse_cpms(line: &str) -> Option<StorageUse> {
    let f = fields_of(line, "+CPMS")?;
    let mut names = Vec::new();
    let mut numbers = Vec::new();
    for field in &f {
        match field.num() {
            Some(n) if !field.quoted => numbers.push(u32::try_from(n).ok()?),
            _ => names.push(field.text.clone()),
        }
    }
    if numbers.is_empty() || numbers.len() % 2 != 0 {
        return None;
    }
    Some(StorageUse {
        names,
        counts: numbers.chunks(2).map(|p| (p[0], p[1])).collect(),
    })
}

/// `+CSCA: <sca>,<tosca>`: the service centre the SIM uses.
pub fn parse_csca(line: &str) -> Option<(String, Option<u8>)> {
    let f = fields_of(line, "+CSCA")?;
    Some((f.first()?.text.clone(), u8_at(&f, 1)))
}

/// `+CUSD: <m>[,<str>[,<dcs>]]` (TS 27.007 §7.15), before decoding the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cusd {
    /// 0 no further action, 1 further action required, 2 terminated by network, 4 not
    /// supported, 5 network timeout.
    pub status: u8,
    pub text: Option<String>,
    pub dcs: Option<u8>,
}

pub fn parse_cusd(line: &str) -> Option<Cusd> {
    let f = fields_of(line, "+CUSD")?;
    Some(Cusd {
        status: u8_at(&f, 0)?,
        text: f.get(1).map(|x| x.text.clone()),
        dcs: u8_at(&f, 2),
    })
}

/// `+CSMS: [<service>,]<mt>,<mo>,<bm>`: whether the modem supports receiving, sending and
/// broadcast messages.
pub fn parse_csms(line: &str) -> Option<(bool, bool, bool)> {
    let f = fields_of(line, "+CSMS")?;
    let n = f.len();
    let flag = |i: usize| num_at(&f, i).map(|v| v == 1);
    (n >= 3).then_some(())?;
    Some((flag(n - 3)?, flag(n - 2)?, flag(n - 1)?))
}

/// `+CNMI: <mode>,<mt>,<bm>,<ds>,<bfr>`.
pub fn parse_cnmi(line: &str) -> Option<Vec<u8>> {
    fields_of(line, "+CNMI")?
        .iter()
        .map(|f| u8::try_from(f.num()?).ok())
        .collect()
}

/// An identity line: IMEI, IMSI, ICCID, manufacturer, model or revision. Modems print them
/// bare (`862...`) or behind a prefix (`+CGSN: 862...`, `^ICCID: 8963...`, `Revision: ...`),
/// quoted or not. Returns the value without prefix and quotes.
pub fn parse_identity(line: &str) -> Option<String> {
    let line = line.trim();
    let value = match info(line) {
        Some((_, fields)) => fields
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join(","),
        None => match line.split_once(':') {
            // "Manufacturer: QUALCOMM INCORPORATED", "Revision: EC25EFAR06A03M4G".
            Some((label, v)) if label.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') => {
                v.trim().to_string()
            }
            _ => line.to_string(),
        },
    };
    let value = value.trim().trim_matches('"').trim().to_string();
    (!value.is_empty()).then_some(value)
}

/// Unsolicited result codes and the vendors' status noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: <mem>,<index>`: a message was stored.
    NewMessage {
        storage: String,
        index: u32,
    },
    /// `+CDSI: <mem>,<index>`: a status report was stored.
    NewStatusReport {
        storage: String,
        index: u32,
    },
    /// `+CMT: [<alpha>],<length>`: a message follows on the next line, not stored.
    MessageFollows {
        alpha: Option<String>,
        length: usize,
    },
    /// `+CDS: <length>`: a status report follows on the next line.
    StatusReportFollows {
        length: usize,
    },
    Ussd(Cusd),
    Ring,
    /// `+CLIP: <number>,<type>,...`: the caller of a ringing call.
    CallerId {
        number: String,
    },
    Registration(Registration),
    /// `+CIEV: <ind>,<value>`.
    Indicator {
        index: u32,
        value: i64,
    },
    /// Huawei `^RSSI: <rssi>`.
    Rssi(u8),
    /// A start-up banner: the modem (re)booted or finished booting.
    Banner(String),
    /// Vendor status lines that need no action (`^MODE`, `^SRVST`, `^HCSQ`, `^DSFLOWRPT`,
    /// `+QIND`...), kept for logging.
    Vendor {
        prefix: String,
        text: String,
    },
    /// Anything else.
    Unknown(String),
}

impl Urc {
    /// Whether the next line is this URC's PDU (`+CMT`, `+CDS`).
    pub fn pdu_follows(&self) -> bool {
        matches!(
            self,
            Self::MessageFollows { .. } | Self::StatusReportFollows { .. }
        )
    }
}

/// Banners that mean the modem has just started: SIMCom `RDY`, `Call Ready`, `SMS Ready`,
/// `+CFUN: 1`, `+CPIN: READY` after boot; Huawei `^SYSSTART`; Quectel `+QIND: PB DONE` etc.
/// arrive later and are `Vendor` noise.
const BANNERS: &[&str] = &["RDY", "CALL READY", "SMS READY", "^SYSSTART", "+PBREADY"];

const VENDOR_PREFIXES: &[&str] = &[
    "^BOOT",
    "^MODE",
    "^SRVST",
    "^SIMST",
    "^HCSQ",
    "^DSFLOWRPT",
    "^STIN",
    "^RFSWITCH",
    "^NWTIME",
    "^CEND",
    "^ORIG",
    "^CONF",
    "^CONN",
    "+QIND",
    "+QUSIM",
    "+CPIN",
    "+CFUN",
    "+PACSP",
    "+CTZV",
    "+CTZE",
    "+CGEV",
    "+CUSATP",
    "+QSTK",
    "+STIN",
    "+CSQN",
    "*PSUTTZ",
    "DST",
];

/// Parses an unsolicited line; `Urc::Unknown` when nothing else fits. `None` only for final
/// result codes, which are never unsolicited.
pub fn parse_urc(line: &str) -> Option<Urc> {
    let line = line.trim();
    if parse_final(line).is_some() {
        return None;
    }
    let upper = line.to_ascii_uppercase();
    if BANNERS.contains(&upper.as_str()) {
        return Some(Urc::Banner(line.to_string()));
    }
    if upper == "RING" {
        return Some(Urc::Ring);
    }
    let Some((prefix, f)) = info(line) else {
        return Some(Urc::Unknown(line.to_string()));
    };
    let p = prefix.to_ascii_uppercase();
    let stored = |f: &[Field]| -> Option<(String, u32)> {
        Some((f.first()?.text.clone(), u32::try_from(num_at(f, 1)?).ok()?))
    };
    let parsed = match p.as_str() {
        "+CMTI" => stored(&f).map(|(storage, index)| Urc::NewMessage { storage, index }),
        "+CDSI" => stored(&f).map(|(storage, index)| Urc::NewStatusReport { storage, index }),
        "+CMT" => {
            let length = usize::try_from(num_at(&f, f.len().checked_sub(1)?)?).ok();
            length.map(|length| Urc::MessageFollows {
                alpha: if f.len() >= 2 {
                    f[0].opt_string()
                } else {
                    None
                },
                length,
            })
        }
        "+CDS" if f.len() == 1 => usize::try_from(num_at(&f, 0)?)
            .ok()
            .map(|length| Urc::StatusReportFollows { length }),
        "+CUSD" => parse_cusd(line).map(Urc::Ussd),
        "+CLIP" => f.first().map(|n| Urc::CallerId {
            number: n.text.clone(),
        }),
        "+CREG" | "+CGREG" | "+CEREG" => parse_registration_urc(line).map(Urc::Registration),
        "+CIEV" => Some(Urc::Indicator {
            index: u32::try_from(num_at(&f, 0)?).ok()?,
            value: num_at(&f, 1)?,
        }),
        "^RSSI" => u8_at(&f, 0).map(Urc::Rssi),
        "+CFUN" if num_at(&f, 0) == Some(1) => Some(Urc::Banner(line.to_string())),
        _ if VENDOR_PREFIXES.contains(&p.as_str()) => Some(Urc::Vendor {
            prefix: prefix.to_string(),
            text: line.to_string(),
        }),
        _ => None,
    };
    Some(parsed.unwrap_or_else(|| Urc::Unknown(line.to_string())))
}

/// How a modem family hands over USSD strings with a GSM 7-bit DCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UssdStyle {
    /// The string is text (most modems, after `AT+CSCS="GSM"` or "IRA").
    Plain,
    /// The string is the packed septets in hex (Huawei sticks).
    PackedHex,
}

/// Decodes a `+CUSD` string: UCS-2 hex when the DCS says UCS-2 (TS 23.038 §5: 0x48 or group
/// 0100xx10 / 0001 0001), packed GSM 7-bit hex for `PackedHex` modems, else the text as it is.
/// Anything that does not decode as claimed comes back unchanged, never lost.
pub fn decode_ussd(text: &str, dcs: Option<u8>, style: UssdStyle) -> String {
    let ucs2 =
        matches!(dcs, Some(d) if d == 0x11 || d == 0x48 || (d & 0xF0 == 0x40 && d & 0x0C == 0x08));
    let Ok(bytes) = crate::pdu::hex::decode(text) else {
        return text.to_string();
    };
    if ucs2 {
        if bytes.len() % 2 != 0 {
            return text.to_string();
        }
        let units = bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        return char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
    }
    if style == UssdStyle::PackedHex {
        let count = bytes.len() * 8 / 7;
        let mut septets = vec![0u8; count];
        let n = crate::pdu::gsm7::unpack_septets(&bytes, 0, count, &mut septets);
        septets.truncate(n);
        // When 7 bits are left over, TS 23.038 §6.1.2.3.1 fills them with CR so that they
        // do not read as '@'; some networks leave them zero. Either way it is padding.
        if bytes.len() % 7 == 0 && matches!(septets.last(), Some(&0x0D) | Some(&0x00)) {
            septets.pop();
        }
        let mut s = String::new();
        crate::pdu::Gsm7Tables::DEFAULT.decode_into(&septets, &mut s);
        return s;
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finals_in_all_their_forms() {
        let cases: &[(&str, Option<Final>)] = &[
            ("OK", Some(Final::Ok)),
            ("ok", Some(Final::Ok)),
            ("ERROR", Some(Final::Error)),
            ("+CMS ERROR: 500", Some(Final::Cms(CmsError::UnknownError))),
            ("+CMS ERROR:332", Some(Final::Cms(CmsError::NetworkTimeout))),
            ("+CME ERROR: 10", Some(Final::Cme(CmeError::SimNotInserted))),
            (
                "+CME ERROR: SIM PIN required",
                Some(Final::Cme(CmeError::SimPinRequired)),
            ),
            (
                "+CMS ERROR: Unknown error",
                Some(Final::Cms(CmsError::UnknownError)),
            ),
            ("+CME ERROR: 1234", Some(Final::Cme(CmeError::Other(1234)))),
            ("NO CARRIER", Some(Final::NoCarrier)),
            ("BUSY", Some(Final::Busy)),
            ("NO ANSWER", Some(Final::NoAnswer)),
            ("COMMAND NOT SUPPORT", Some(Final::CommandNotSupported)),
            ("OKAY", None),
            ("+CMTI: \"SM\",1", None),
            ("", None),
        ];
        for (line, expected) in cases {
            assert_eq!(&parse_final(line), expected, "{line:?}");
        }
    }

    #[test]
    fn tokenizer_tolerates_real_world_damage() {
        let (p, f) = info("+CMTI: \"SM\",3").unwrap();
        assert_eq!(
            (p, f[0].text.as_str(), f[1].num()),
            ("+CMTI", "SM", Some(3))
        );
        let (_, f) = info("+CMTI:SM, 3").unwrap();
        assert_eq!((f[0].text.as_str(), f[1].num()), ("SM", Some(3)));
        let (_, f) = info("+CMTI:  \"ME\" , 12 ").unwrap();
        assert_eq!((f[0].text.as_str(), f[1].num()), ("ME", Some(12)));
        let (_, f) = info("+CMGR: 0,,24").unwrap();
        assert!(f[1].is_empty());
        let (_, f) = info("+CUSD: 0,\"Bal: 10.50, valid\",15").unwrap();
        assert_eq!(f[1].text, "Bal: 10.50, valid");
        assert_eq!(info("no prefix here"), None);
    }

    #[test]
    fn information_responses() {
        assert_eq!(parse_cmgs("+CMGS: 42"), Some(42));
        assert_eq!(parse_cmgs("+CMGS: 300"), None);
        assert_eq!(
            parse_cmgr("+CMGR: 1,,26"),
            Some(StoredHeader {
                index: None,
                stat: 1,
                alpha: None,
                length: 26
            })
        );
        assert_eq!(parse_cmgr("+CMGR: 0,24").unwrap().length, 24);
        let h = parse_cmgl("+CMGL: 7,0,\"Mom\",30").unwrap();
        assert_eq!(
            (h.index, h.alpha.as_deref(), h.length),
            (Some(7), Some("Mom"), 30)
        );
        assert_eq!(parse_cmgl("+CMGL: 3,1,,22").unwrap().index, Some(3));
        let q = parse_csq("+CSQ: 21,99").unwrap();
        assert_eq!(q.dbm(), Some(-71));
        assert_eq!(parse_csq("+CSQ: 99,99").unwrap().dbm(), None);
        let r = parse_registration_response("+CREG: 2,1,\"1A2B\",\"0000C3D4\",7").unwrap();
        assert_eq!(
            (r.stat, r.lac.as_deref(), r.act),
            (1, Some("1A2B"), Some(7))
        );
        assert!(r.is_registered());
        let r = parse_registration_urc("+CEREG: 5").unwrap();
        assert_eq!((r.kind, r.stat), (RegistrationKind::Eps, 5));
        let o = parse_cops("+COPS: 0,0,\"Globe Telecom\",2").unwrap();
        assert_eq!(o.name.as_deref(), Some("Globe Telecom"));
        assert_eq!(parse_cops("+COPS: 0").unwrap().name, None);
        assert_eq!(parse_cpin("+CPIN: READY"), Some(PinState::Ready));
        assert_eq!(parse_cpin("+CPIN: \"SIM PIN\""), Some(PinState::SimPin));
        assert_eq!(
            parse_cpin("+CPIN: NOT INSERTED"),
            Some(PinState::Other("NOT INSERTED".into()))
        );
        let s = parse_cpms("+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30").unwrap();
        assert_eq!((s.names.len(), s.receive()), (3, Some((3, 30))));
        assert_eq!(
            parse_cpms("+CPMS: 0,50,0,50,2,50").unwrap().receive(),
            Some((2, 50))
        );
        assert_eq!(
            parse_csca("+CSCA: \"+639180000100\",145"),
            Some(("+639180000100".into(), Some(145)))
        );
        assert_eq!(parse_csms("+CSMS: 1,1,1"), Some((true, true, true)));
        assert_eq!(parse_csms("+CSMS: 0,1,1,0"), Some((true, true, false)));
        assert_eq!(parse_cnmi("+CNMI: 2,1,0,2,0"), Some(vec![2, 1, 0, 2, 0]));
    }

    #[test]
    fn identity_lines() {
        for (line, want) in [
            ("866123456789012", "866123456789012"),
            ("+CGSN: 866123456789012", "866123456789012"),
            ("+CGSN: \"866123456789012\"", "866123456789012"),
            ("^ICCID: 89630123456789012345", "89630123456789012345"),
            ("#CCID: 89390100001234567890", "89390100001234567890"),
            ("+CCID: \"8963012345678901234F\"", "8963012345678901234F"),
            (
                "Manufacturer: QUALCOMM INCORPORATED",
                "QUALCOMM INCORPORATED",
            ),
            ("Revision: EC25EFAR06A03M4G", "EC25EFAR06A03M4G"),
            ("+CGMM: \"SIMCOM_SIM800L\"", "SIMCOM_SIM800L"),
            ("E173", "E173"),
        ] {
            assert_eq!(parse_identity(line).as_deref(), Some(want), "{line:?}");
        }
    }

    #[test]
    fn unsolicited_codes() {
        assert_eq!(
            parse_urc("+CMTI: \"SM\",5"),
            Some(Urc::NewMessage {
                storage: "SM".into(),
                index: 5
            })
        );
        assert_eq!(
            parse_urc("+CMTI: \"MT\",12"),
            Some(Urc::NewMessage {
                storage: "MT".into(),
                index: 12
            })
        );
        assert_eq!(
            parse_urc("+CDSI: \"SR\",0"),
            Some(Urc::NewStatusReport {
                storage: "SR".into(),
                index: 0
            })
        );
        let cmt = parse_urc("+CMT: ,24").unwrap();
        assert!(cmt.pdu_follows());
        assert_eq!(
            cmt,
            Urc::MessageFollows {
                alpha: None,
                length: 24
            }
        );
        assert_eq!(
            parse_urc("+CMT: \"\",24"),
            Some(Urc::MessageFollows {
                alpha: None,
                length: 24
            })
        );
        assert_eq!(
            parse_urc("+CDS: 25"),
            Some(Urc::StatusReportFollows { length: 25 })
        );
        assert_eq!(parse_urc("RING"), Some(Urc::Ring));
        assert_eq!(
            parse_urc("+CLIP: \"+639171234567\",145,,,,0"),
            Some(Urc::CallerId {
                number: "+639171234567".into()
            })
        );
        assert!(
            matches!(parse_urc("+CREG: 1,\"1A2B\",\"C3D4\""), Some(Urc::Registration(r)) if r.stat == 1)
        );
        assert_eq!(
            parse_urc("+CIEV: 2,3"),
            Some(Urc::Indicator { index: 2, value: 3 })
        );
        assert_eq!(parse_urc("^RSSI: 17"), Some(Urc::Rssi(17)));
        for banner in ["RDY", "Call Ready", "SMS Ready", "+CFUN: 1", "^SYSSTART"] {
            assert!(
                matches!(parse_urc(banner), Some(Urc::Banner(_))),
                "{banner}"
            );
        }
        for noise in [
            "^MODE: 5,4",
            "^SRVST: 2",
            "^SIMST: 1",
            "^HCSQ: \"WCDMA\",30,30,58",
            "^DSFLOWRPT: 0000001E,00000000,00000000,0000000000000D8C,00000000000016D1,0003E800,0003E800",
            "^BOOT: 12345678,0,0,0,72",
            "+QIND: SMS DONE",
            "+CPIN: READY",
        ] {
            assert!(
                matches!(parse_urc(noise), Some(Urc::Vendor { .. })),
                "{noise}"
            );
        }
        assert_eq!(
            parse_urc("something odd"),
            Some(Urc::Unknown("something odd".into()))
        );
        assert_eq!(parse_urc("OK"), None);
        assert!(matches!(parse_urc("+CMTI: \"SM\""), Some(Urc::Unknown(_))));
    }

    #[test]
    fn ussd_answers_in_three_forms() {
        let c = parse_cusd("+CUSD: 0,\"Your balance is P10.50\",15").unwrap();
        assert_eq!(
            decode_ussd(c.text.as_deref().unwrap(), c.dcs, UssdStyle::Plain),
            "Your balance is P10.50"
        );
        // Huawei: "Balance" packed: C2 30 3B 2C 7E 97 CB... computed from the septets.
        let mut packed = [0u8; 16];
        let septets: Vec<u8> = "Balance 5".bytes().collect();
        let n = crate::pdu::gsm7::pack_septets(&septets, 0, &mut packed);
        let hex = crate::pdu::hex::encode(&packed[..n]);
        assert_eq!(
            decode_ussd(&hex, Some(15), UssdStyle::PackedHex),
            "Balance 5"
        );
        // UCS-2: "Saldo: 5 zł".
        let ucs2 = "00530061006C0064006F003A002000350020007A0142";
        assert_eq!(decode_ussd(ucs2, Some(72), UssdStyle::Plain), "Saldo: 5 zł");
        // Not what the DCS claims: returned unchanged.
        assert_eq!(decode_ussd("ABC", Some(72), UssdStyle::Plain), "ABC");
        assert_eq!(
            parse_cusd("+CUSD: 4"),
            Some(Cusd {
                status: 4,
                text: None,
                dcs: None
            })
        );
    }

    #[test]
    fn pin_retries_in_every_vendor_form() {
        assert_eq!(parse_pin_retries("+CPINR: \"SIM PIN\",2,3"), Some(2));
        assert_eq!(parse_pin_retries("+CPINR: SIM PIN,1"), Some(1));
        assert_eq!(parse_pin_retries("+CPINR: \"SIM PUK\",10,10"), None);
        assert_eq!(parse_pin_retries("^CPIN: SIM PIN,3,10,3,10,3"), Some(3));
        assert_eq!(parse_pin_retries("^CPIN: READY,,10,2,10,3"), Some(2));
        assert_eq!(parse_pin_retries("+SPIC: 1,3,10,10"), Some(1));
        assert_eq!(parse_pin_retries("+QPINC: \"SC\",2,10"), Some(2));
        assert_eq!(parse_pin_retries("+QPINC: \"P2\",3,10"), None);
        assert_eq!(parse_pin_retries("+CPIN: SIM PIN"), None);
    }
}
