//! The codec's errors and warnings.
//!
//! A decode *error* means the PDU's structure cannot be walked (bad hex, a field that runs past
//! the data, a message type that is reserved). A *warning* means a value was bad or unusual but
//! the rest of the message still stands, so the text is delivered and the oddity reported
//! (TS 23.040 asks receivers to be lenient in several places; the docs of each warning say which).

use std::fmt;

/// A PDU that cannot be decoded, with the octet offset where decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset in octets from the start of the input (the SMSC octets included when present).
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input is empty.
    Empty,
    /// A character that is not a hex digit, at `position` (0-based, in characters).
    InvalidHexDigit { position: usize, character: char },
    /// An odd number of hex digits.
    OddHexLength { digits: usize },
    /// The input is longer than any SMS PDU can be.
    TooLong { octets: usize },
    /// The PDU ended inside `field`.
    Truncated {
        field: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length field announces more than the PDU or the spec allows.
    LengthOutOfRange {
        field: &'static str,
        value: usize,
        max: usize,
    },
    /// A field holds a value the spec reserves and which cannot be interpreted.
    Reserved { field: &'static str, value: u8 },
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        Self { offset, kind }
    }

    /// A stable machine-readable name of the error kind.
    pub fn code(&self) -> &'static str {
        match self.kind {
            DecodeErrorKind::Empty => "empty",
            DecodeErrorKind::InvalidHexDigit { .. } => "invalid_hex",
            DecodeErrorKind::OddHexLength { .. } => "odd_hex_length",
            DecodeErrorKind::TooLong { .. } => "too_long",
            DecodeErrorKind::Truncated { .. } => "truncated",
            DecodeErrorKind::LengthOutOfRange { .. } => "length_out_of_range",
            DecodeErrorKind::Reserved { .. } => "reserved_value",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Empty => write!(f, "empty PDU"),
            DecodeErrorKind::InvalidHexDigit {
                position,
                character,
            } => write!(
                f,
                "invalid hex digit {character:?} at character {position} (octet {})",
                self.offset
            ),
            DecodeErrorKind::OddHexLength { digits } => {
                write!(
                    f,
                    "odd number of hex digits ({digits}): the PDU is cut short"
                )
            }
            DecodeErrorKind::TooLong { octets } => write!(
                f,
                "{octets} octets is longer than any SMS PDU (at most 176 with the SMSC)"
            ),
            DecodeErrorKind::Truncated {
                field,
                needed,
                available,
            } => write!(
                f,
                "PDU truncated in {field} at octet {}: needs {needed} octet(s), {available} left",
                self.offset
            ),
            DecodeErrorKind::LengthOutOfRange { field, value, max } => write!(
                f,
                "{field} at octet {} is {value}, more than the {max} allowed",
                self.offset
            ),
            DecodeErrorKind::Reserved { field, value } => write!(
                f,
                "{field} at octet {} has reserved value 0x{value:02X}",
                self.offset
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Something unusual in a PDU that was decoded anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// TP-UDL announces more user data than the PDU holds; what is present was decoded.
    UserDataShort { declared: usize, decoded: usize },
    /// Octets after the user data, ignored.
    TrailingOctets { count: usize },
    /// TP-DCS uses a reserved coding group or alphabet; read as the GSM 7-bit default alphabet,
    /// as TS 23.038 §4 tells a receiver to.
    ReservedDcs { dcs: u8 },
    /// UCS-2 user data with an odd number of octets; the last octet was dropped.
    OddUcs2Length,
    /// UCS-2 data held a lone surrogate, shown as U+FFFD.
    LoneSurrogate,
    /// A concatenation element with part 0, total 0 or part > total; TS 23.040 §9.2.3.24.1
    /// says to ignore the element, so the part is treated as a message of its own.
    InvalidConcatenation { total: u8, part: u8 },
    /// A national language shift smsq has no tables for; the default tables were used.
    UnsupportedLanguage { id: u8 },
    /// The service-centre time stamp (or discharge time) is not a valid date; left out.
    InvalidTimestamp { field: &'static str, raw: [u8; 7] },
    /// TP-ST holds a reserved value, treated as "service rejected" (0x63) per TS 23.040 §9.2.3.15.
    ReservedStatus { status: u8 },
    /// An information element appears more than once; the last one counts (TS 23.040 §9.2.3.24).
    RepeatedElement { iei: u8 },
    /// A status report's TP-PI announces fields the PDU does not hold; the report stands.
    MissingOptionalFields { pi: u8 },
    /// TP-UDL beyond what one part may hold (160 septets, 140 octets: TS 23.040 §9.2.3.16);
    /// what the PDU holds was decoded.
    UserDataTooLong { declared: usize, max: usize },
    /// A type-of-address octet with bit 8 clear, which TS 23.040 §9.1.2.5 sets always.
    AddressTypeBit { field: &'static str, toa: u8 },
    /// An address without digits, or with one octet of them: not a number anyone can reply to.
    ShortAddress { field: &'static str, octets: usize },
    /// The 0xF filler semi-octet inside a number rather than at its end; left out.
    FillerInNumber { field: &'static str },
    /// A known information element (concatenation, ports, language shift) with a length
    /// its definition does not allow; kept raw, not used.
    MalformedElement { iei: u8, len: usize },
}

impl Warning {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UserDataShort { .. } => "user_data_short",
            Self::TrailingOctets { .. } => "trailing_octets",
            Self::ReservedDcs { .. } => "reserved_dcs",
            Self::OddUcs2Length => "odd_ucs2_length",
            Self::LoneSurrogate => "lone_surrogate",
            Self::InvalidConcatenation { .. } => "invalid_concatenation",
            Self::UnsupportedLanguage { .. } => "unsupported_language",
            Self::InvalidTimestamp { .. } => "invalid_timestamp",
            Self::ReservedStatus { .. } => "reserved_status",
            Self::RepeatedElement { .. } => "repeated_element",
            Self::MissingOptionalFields { .. } => "missing_optional_fields",
            Self::UserDataTooLong { .. } => "user_data_too_long",
            Self::AddressTypeBit { .. } => "address_type_bit",
            Self::ShortAddress { .. } => "short_address",
            Self::FillerInNumber { .. } => "filler_in_number",
            Self::MalformedElement { .. } => "malformed_element",
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserDataShort { declared, decoded } => write!(
                f,
                "user data length says {declared} but only {decoded} unit(s) are present"
            ),
            Self::TrailingOctets { count } => {
                write!(f, "{count} octet(s) after the user data ignored")
            }
            Self::ReservedDcs { dcs } => {
                write!(
                    f,
                    "reserved data coding scheme 0x{dcs:02X} read as GSM 7-bit"
                )
            }
            Self::OddUcs2Length => write!(f, "odd UCS-2 length: last octet dropped"),
            Self::LoneSurrogate => write!(f, "lone UTF-16 surrogate replaced by U+FFFD"),
            Self::InvalidConcatenation { total, part } => write!(
                f,
                "concatenation element part {part} of {total} is invalid and was ignored"
            ),
            Self::UnsupportedLanguage { id } => write!(
                f,
                "national language {id} is not supported; default tables used"
            ),
            Self::InvalidTimestamp { field, raw } => {
                write!(f, "{field} is not a valid date: ")?;
                for b in raw {
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
            Self::ReservedStatus { status } => write!(
                f,
                "reserved TP-ST 0x{status:02X} treated as 'service rejected'"
            ),
            Self::RepeatedElement { iei } => {
                write!(f, "information element 0x{iei:02X} repeated; last one used")
            }
            Self::MissingOptionalFields { pi } => write!(
                f,
                "TP-PI 0x{pi:02X} announces fields that are missing; they were left out"
            ),
            Self::UserDataTooLong { declared, max } => write!(
                f,
                "user data length {declared} is beyond the {max} one part may hold"
            ),
            Self::AddressTypeBit { field, toa } => {
                write!(f, "{field} type of address 0x{toa:02X} has bit 8 clear")
            }
            Self::ShortAddress { field, octets } => {
                write!(f, "{field} has {octets} octet(s) of digits")
            }
            Self::FillerInNumber { field } => {
                write!(
                    f,
                    "{field} has a filler semi-octet inside the number; left out"
                )
            }
            Self::MalformedElement { iei, len } => write!(
                f,
                "information element 0x{iei:02X} with length {len} is malformed and was ignored"
            ),
        }
    }
}

/// Why a text or an address cannot be encoded for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Characters that are not in the GSM 7-bit alphabet (with `gsm7`) or that have no
    /// GSM 7-bit replacement (with `gsm7-fold`).
    NotGsm7 { unencodable: Vec<CharAt> },
    /// The text needs more parts than allowed.
    TooManyParts { needed: usize, max: usize },
    /// The message is empty. An empty SMS is legal, but never what a shop means to send.
    EmptyText,
    /// The destination or SMSC number is not usable.
    InvalidAddress { input: String, reason: &'static str },
}

/// A character and its 1-based position (in characters) in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharAt {
    pub position: usize,
    pub character: char,
}

impl fmt::Display for CharAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (U+{:04X}) at position {}",
            self.character, self.character as u32, self.position
        )
    }
}

impl EncodeError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotGsm7 { .. } => "not_gsm7",
            Self::TooManyParts { .. } => "too_long",
            Self::EmptyText => "empty_text",
            Self::InvalidAddress { .. } => "invalid_address",
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotGsm7 { unencodable } => {
                write!(f, "not in the GSM 7-bit alphabet: ")?;
                for (i, c) in unencodable.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            Self::TooManyParts { needed, max } => write!(
                f,
                "the text needs {needed} parts, more than the {max} allowed"
            ),
            Self::EmptyText => write!(f, "the text is empty"),
            Self::InvalidAddress { input, reason } => {
                write!(f, "invalid number {input:?}: {reason}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
