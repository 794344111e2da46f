//! Addresses: TP-OA / TP-DA / TP-RA (TS 23.040 §9.1.2.5) and the SMSC address that `+CMGR`
//! puts in front of the TPDU (TS 24.011 §8.2.5.1, as TS 27.005 §3.1 describes it).

use std::fmt;

use super::error::{DecodeError, DecodeErrorKind, EncodeError, Warning};
use super::gsm7::{self, Gsm7Tables};

/// Type of number, bits 6..4 of the type-of-address octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeOfNumber {
    Unknown,
    International,
    National,
    NetworkSpecific,
    Subscriber,
    Alphanumeric,
    Abbreviated,
    Reserved,
}

impl TypeOfNumber {
    fn from_bits(b: u8) -> Self {
        match b & 0x07 {
            0 => Self::Unknown,
            1 => Self::International,
            2 => Self::National,
            3 => Self::NetworkSpecific,
            4 => Self::Subscriber,
            5 => Self::Alphanumeric,
            6 => Self::Abbreviated,
            _ => Self::Reserved,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::International => 1,
            Self::National => 2,
            Self::NetworkSpecific => 3,
            Self::Subscriber => 4,
            Self::Alphanumeric => 5,
            Self::Abbreviated => 6,
            Self::Reserved => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::International => "international",
            Self::National => "national",
            Self::NetworkSpecific => "network_specific",
            Self::Subscriber => "subscriber",
            Self::Alphanumeric => "alphanumeric",
            Self::Abbreviated => "abbreviated",
            Self::Reserved => "reserved",
        }
    }
}

/// A phone number or an alphanumeric sender name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub ton: TypeOfNumber,
    /// Numbering plan identification, bits 3..0 (1 = ISDN/telephone, E.164).
    pub npi: u8,
    /// The digits (`0-9 * # a b c`), or the text of an alphanumeric address. No `+`.
    pub value: String,
}

/// Longest address in semi-octets (TS 23.040 §9.1.2.5: 2 to 12 octets with length and type).
pub const MAX_DIGITS: usize = 20;

impl Address {
    /// Parses a destination as a person types it: `+` and digits for an international number,
    /// digits alone for a national or short number. Spaces, dashes, dots and parentheses are
    /// dropped as visual separators.
    pub fn parse(input: &str) -> Result<Self, EncodeError> {
        let invalid = |reason| EncodeError::InvalidAddress {
            input: input.to_string(),
            reason,
        };
        let trimmed = input.trim();
        let (international, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut value = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' | '*' | '#' => value.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                '+' => return Err(invalid("'+' may only lead the number")),
                _ => {
                    return Err(invalid(
                        "only digits, '*', '#' and a leading '+' are allowed",
                    ));
                }
            }
        }
        if value.is_empty() {
            return Err(invalid("no digits"));
        }
        if value.len() > MAX_DIGITS {
            return Err(invalid("more than 20 digits"));
        }
        Ok(Self {
            ton: if international {
                TypeOfNumber::International
            } else {
                TypeOfNumber::Unknown
            },
            npi: 1,
            value,
        })
    }

    pub fn is_international(&self) -> bool {
        self.ton == TypeOfNumber::International
    }

    fn type_octet(&self) -> u8 {
        0x80 | (self.ton.bits() << 4) | (self.npi & 0x0F)
    }

    /// Writes the address in TP-DA form (length in digits, type, BCD). Returns octets written.
    /// Only numeric addresses are ever sent, so this does not encode alphanumeric ones.
    pub(crate) fn write_tp(&self, out: &mut [u8]) -> usize {
        out[0] = self.value.len() as u8;
        out[1] = self.type_octet();
        2 + write_bcd(&self.value, &mut out[2..])
    }

    /// Writes the address in SMSC form (length in octets including the type octet).
    pub(crate) fn write_smsc(&self, out: &mut [u8]) -> usize {
        out[1] = self.type_octet();
        let n = write_bcd(&self.value, &mut out[2..]);
        out[0] = (n + 1) as u8;
        n + 2
    }

    /// No address yet: the shape a decode fills in.
    pub(crate) fn empty() -> Self {
        Self {
            ton: TypeOfNumber::Unknown,
            npi: 0,
            value: String::new(),
        }
    }

    /// Reads a TP-OA / TP-DA / TP-RA at `data[0..]`; `base` is its offset in the whole PDU.
    #[cfg(test)]
    pub(crate) fn read_tp(
        data: &[u8],
        base: usize,
        field: &'static str,
    ) -> Result<(Self, usize), DecodeError> {
        let mut address = Self::empty();
        let used = Self::read_tp_into(data, base, field, &mut address, &mut Vec::new())?;
        Ok((address, used))
    }

    /// [`Address::read_tp`] into `out`, whose value the caller has emptied; returns the octets
    /// it took.
    pub(crate) fn read_tp_into(
        data: &[u8],
        base: usize,
        field: &'static str,
        out: &mut Self,
        warnings: &mut Vec<Warning>,
    ) -> Result<usize, DecodeError> {
        let need = |needed: usize, available: usize, at: usize| {
            DecodeError::new(
                base + at,
                DecodeErrorKind::Truncated {
                    field,
                    needed,
                    available,
                },
            )
        };
        let digits = *data.first().ok_or_else(|| need(2, 0, 0))? as usize;
        let toa = *data.get(1).ok_or_else(|| need(1, 0, 1))?;
        if digits > MAX_DIGITS {
            return Err(DecodeError::new(
                base,
                DecodeErrorKind::LengthOutOfRange {
                    field,
                    value: digits,
                    max: MAX_DIGITS,
                },
            ));
        }
        let octets = digits.div_ceil(2);
        let body = data
            .get(2..2 + octets)
            .ok_or_else(|| need(octets, data.len() - 2, 2))?;
        // The length counts semi-octets; of packed GSM 7-bit text for a name (§9.1.2.5).
        out.fill(toa, body, digits * 4 / 7, digits, field, warnings);
        Ok(2 + octets)
    }

    /// Type of address `toa` and the value in `body`: `name_septets` of packed GSM 7-bit text
    /// when the type says alphanumeric, else `digits` semi-octets.
    fn fill(
        &mut self,
        toa: u8,
        body: &[u8],
        name_septets: usize,
        digits: usize,
        field: &'static str,
        warnings: &mut Vec<Warning>,
    ) {
        self.ton = TypeOfNumber::from_bits((toa >> 4) & 0x07);
        self.npi = toa & 0x0F;
        if toa & 0x80 == 0 {
            warnings.push(Warning::AddressTypeBit { field, toa });
        }
        if body.len() <= 1 {
            warnings.push(Warning::ShortAddress {
                field,
                octets: body.len(),
            });
        }
        if self.ton == TypeOfNumber::Alphanumeric {
            read_alphanumeric(body, name_septets, &mut self.value);
        } else if read_bcd(body, digits, &mut self.value) {
            warnings.push(Warning::FillerInNumber { field });
        }
    }

    /// Reads the SMSC prefix: `None` for the `00` the SIM's own SMSC stands for.
    #[cfg(test)]
    pub(crate) fn read_smsc(data: &[u8]) -> Result<(Option<Self>, usize), DecodeError> {
        let mut smsc = Self::empty();
        let (present, used) = Self::read_smsc_into(data, &mut smsc, &mut Vec::new())?;
        Ok((present.then_some(smsc), used))
    }

    /// [`Address::read_smsc`] into `out`, whose value the caller has emptied: whether there
    /// was an address (`out` is untouched when not), and the octets taken.
    pub(crate) fn read_smsc_into(
        data: &[u8],
        out: &mut Self,
        warnings: &mut Vec<Warning>,
    ) -> Result<(bool, usize), DecodeError> {
        let len = *data
            .first()
            .ok_or_else(|| DecodeError::new(0, DecodeErrorKind::Empty))? as usize;
        if len == 0 {
            return Ok((false, 1));
        }
        if len > 11 {
            return Err(DecodeError::new(
                0,
                DecodeErrorKind::LengthOutOfRange {
                    field: "SMSC address length",
                    value: len,
                    max: 11,
                },
            ));
        }
        let body = data.get(1..1 + len).ok_or_else(|| {
            DecodeError::new(
                1,
                DecodeErrorKind::Truncated {
                    field: "SMSC address",
                    needed: len,
                    available: data.len() - 1,
                },
            )
        })?;
        let value = &body[1..];
        out.fill(
            body[0],
            value,
            value.len() * 8 / 7,
            value.len() * 2,
            "SMSC address",
            warnings,
        );
        Ok((true, 1 + len))
    }
}

impl fmt::Display for Address {
    /// International numbers with a leading `+`, everything else as it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_international() {
            write!(f, "+{}", self.value)
        } else {
            f.write_str(&self.value)
        }
    }
}

/// Semi-octet digits of TS 23.040 §9.1.2.3; 0xF is the filler of an odd-length number.
const BCD: [u8; 16] = *b"0123456789*#abc?";
const FILLER: u8 = BCD[0xF];

/// Each octet's two digits, low semi-octet first as they are read.
static BCD_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [BCD[i & 0x0F], BCD[i >> 4]];
        i += 1;
    }
    t
};

/// Appends the number's digits; `true` when a filler semi-octet stood inside it.
fn read_bcd(body: &[u8], digits: usize, value: &mut String) -> bool {
    let mut buf = [0u8; MAX_DIGITS];
    for (pair, &octet) in buf.chunks_exact_mut(2).zip(body) {
        pair.copy_from_slice(&BCD_PAIRS[usize::from(octet)]);
    }
    let mut n = digits.min(2 * body.len()).min(MAX_DIGITS);
    // The filler of an odd-length number (0xF) lies beyond `n`; one inside a number is not a
    // digit either, and is squeezed out (rare enough for a second pass).
    // A fold rather than `contains`: for a dozen octets, memchr's setup costs more.
    // The SMSC address counts octets, not digits: its last semi-octet may be the filler.
    if n > 0 && n == 2 * body.len() && buf[n - 1] == FILLER {
        n -= 1;
    }
    let filler_inside = buf[..n].iter().fold(false, |seen, &d| seen | (d == FILLER));
    if filler_inside {
        let mut kept = 0;
        for i in 0..n {
            if buf[i] != FILLER {
                buf[kept] = buf[i];
                kept += 1;
            }
        }
        n = kept;
    }
    let start = value.len();
    // SAFETY: every octet of `buf` is zero or comes from BCD, both ASCII (checked at compile
    // time below), so the string stays UTF-8. A fixed-size copy then a cut is cheaper than a
    // copy of `n` octets.
    let bytes = unsafe { value.as_mut_vec() };
    bytes.extend_from_slice(&buf);
    bytes.truncate(start + n);
    filler_inside
}

const _: () = assert!(BCD.is_ascii(), "BCD digits are ASCII");

fn write_bcd(digits: &str, out: &mut [u8]) -> usize {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'*' => 0x0A,
        b'#' => 0x0B,
        b'a' => 0x0C,
        b'b' => 0x0D,
        b'c' => 0x0E,
        _ => 0x0F,
    };
    let bytes = digits.as_bytes();
    let mut n = 0;
    for pair in bytes.chunks(2) {
        let lo = nibble(pair[0]);
        let hi = pair.get(1).map_or(0x0F, |&c| nibble(c));
        out[n] = (hi << 4) | lo;
        n += 1;
    }
    n
}

fn read_alphanumeric(body: &[u8], septets: usize, value: &mut String) {
    let mut buf = [0u8; 24];
    let got = gsm7::unpack_septets(body, 0, septets, &mut buf);
    let mut codes = &buf[..got];
    // A length that counts the padding of the last octet as useful yields one more septet of
    // zero bits, which would read as '@'. No sender name ends in '@', so drop it.
    if codes.len() > 1 && codes.last() == Some(&0) && septets * 7 > body.len() * 8 - 7 {
        codes = &codes[..codes.len() - 1];
    }
    Gsm7Tables::DEFAULT.decode_into(codes, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_destination_is_bcd_with_filler() {
        let a = Address::parse("+63 917-123-4567").unwrap();
        let mut out = [0u8; 12];
        let n = a.write_tp(&mut out);
        // 12 digits, type 0x91, 36 19 17 32 54 76 (digit pairs with nibbles swapped).
        assert_eq!(&out[..n], &[0x0C, 0x91, 0x36, 0x19, 0x17, 0x32, 0x54, 0x76]);
        let odd = Address::parse("12345").unwrap();
        let n = odd.write_tp(&mut out);
        assert_eq!(&out[..n], &[0x05, 0x81, 0x21, 0x43, 0xF5]);
        let (back, used) = Address::read_tp(&out[..n], 0, "TP-DA").unwrap();
        assert_eq!((back.to_string(), used), ("12345".to_string(), 5));
    }

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        for bad in ["", "+", "12a4", "1+2", &"1".repeat(21)] {
            let err = Address::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_address", "{bad:?}");
        }
    }

    #[test]
    fn alphanumeric_sender() {
        // "Globe" packed: 47 F6 5B 5C 06, 5 octets = 10 semi-octets, type 0xD0 (TON 5).
        let data = [0x0A, 0xD0, 0x47, 0xF6, 0x5B, 0x5C, 0x06];
        let (a, used) = Address::read_tp(&data, 0, "TP-OA").unwrap();
        assert_eq!(a.ton, TypeOfNumber::Alphanumeric);
        assert_eq!(a.value, "Globe");
        assert_eq!(used, 7);
        // "ABCDEFG": 7 octets; a length of 14 semi-octets counts the padding as an 8th septet.
        let data = [0x0E, 0xD0, 0x41, 0xE1, 0x90, 0x58, 0x34, 0x1E, 0x01];
        let (a, _) = Address::read_tp(&data, 0, "TP-OA").unwrap();
        assert_eq!(a.value, "ABCDEFG");
    }

    #[test]
    fn smsc_forms() {
        assert_eq!(Address::read_smsc(&[0x00]).unwrap(), (None, 1));
        let (smsc, used) =
            Address::read_smsc(&[0x07, 0x91, 0x36, 0x19, 0x08, 0x00, 0x10, 0x00]).unwrap();
        assert_eq!(smsc.unwrap().to_string(), "+639180000100");
        assert_eq!(used, 8);
        let mut out = [0u8; 12];
        let a = Address::parse("+639180000100").unwrap();
        let n = a.write_smsc(&mut out);
        assert_eq!(&out[..n], &[0x07, 0x91, 0x36, 0x19, 0x08, 0x00, 0x10, 0x00]);
        // An odd number of digits ends in the 0xF filler, which is not a digit.
        let (smsc, _) = Address::read_smsc(&[0x06, 0x91, 0x36, 0x19, 0x08, 0x00, 0xF1]).unwrap();
        assert_eq!(smsc.unwrap().to_string(), "+639180001");
        assert!(Address::read_smsc(&[0x07, 0x91]).is_err());
        // A filler inside a number is skipped too; the other semi-octet values are * # a b c.
        let (a, used) =
            Address::read_tp(&[0x08, 0x81, 0x21, 0xF3, 0xBA, 0xDC], 0, "TP-OA").unwrap();
        assert_eq!((a.value.as_str(), used), ("123*#ab", 6));
        let (a, _) = Address::read_tp(&[0x07, 0x81, 0x21, 0xF3, 0xBA, 0x0C], 0, "TP-OA").unwrap();
        assert_eq!(
            a.value, "123*#a",
            "the length counts the filler, and stops before 0"
        );
    }

    #[test]
    fn truncated_addresses_are_errors_with_offsets() {
        let err = Address::read_tp(&[0x0B, 0x91, 0x36], 3, "TP-OA").unwrap_err();
        assert_eq!(err.offset, 5);
        let err = Address::read_tp(&[0x30, 0x91], 3, "TP-OA").unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::LengthOutOfRange { value: 48, .. }
        ));
    }
}
