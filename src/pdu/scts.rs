//! Time stamps: TP-SCTS and TP-DT (TS 23.040 §9.2.3.11), seven semi-octet pairs with the time
//! zone in quarter hours and its sign in bit 3 of the zone's first digit.

use std::fmt;

const NOT_DECIMAL: u8 = 0xFF;

/// Each octet read as two decimal semi-octets, low one first (so 0x21 is 12), or
/// [`NOT_DECIMAL`]: one lookup per field instead of two nibble checks.
static SEMI_OCTET_PAIRS: [u8; 256] = {
    let mut t = [NOT_DECIMAL; 256];
    let mut i = 0;
    while i < 256 {
        let (lo, hi) = ((i & 0x0F) as u8, (i >> 4) as u8);
        if lo <= 9 && hi <= 9 {
            t[i] = lo * 10 + hi;
        }
        i += 1;
    }
    t
};

/// A time stamp as the service centre wrote it, in its own zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in minutes (a multiple of 15; negative west of Greenwich).
    pub offset_minutes: i16,
}

impl Timestamp {
    /// Reads the seven octets; `None` when a digit is not decimal or the date does not exist.
    pub fn from_octets(raw: [u8; 7]) -> Option<Self> {
        let digit_pair = |b: u8| match SEMI_OCTET_PAIRS[usize::from(b)] {
            NOT_DECIMAL => None,
            v => Some(v),
        };
        // Two-digit years: 90..=99 are the 1990s (SMS began in 1992), the rest this century.
        let yy = u16::from(digit_pair(raw[0])?);
        let year = if yy >= 90 { 1900 + yy } else { 2000 + yy };
        let month = digit_pair(raw[1])?;
        let day = digit_pair(raw[2])?;
        let hour = digit_pair(raw[3])?;
        let minute = digit_pair(raw[4])?;
        let second = digit_pair(raw[5])?;
        let negative = raw[6] & 0x08 != 0;
        let quarters = digit_pair(raw[6] & 0xF7)?;
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let minutes = i16::from(quarters) * 15;
        Some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            offset_minutes: if negative { -minutes } else { minutes },
        })
    }

    /// The seven octets, for building PDUs in tests and in the simulator.
    pub fn to_octets(&self) -> [u8; 7] {
        let pair = |v: u8| ((v % 10) << 4) | (v / 10);
        let quarters = (self.offset_minutes.unsigned_abs() / 15).min(79) as u8;
        let mut tz = pair(quarters);
        if self.offset_minutes < 0 {
            tz |= 0x08;
        }
        [
            pair((self.year % 100) as u8),
            pair(self.month),
            pair(self.day),
            pair(self.hour),
            pair(self.minute),
            pair(self.second),
            tz,
        ]
    }

    /// Seconds since the Unix epoch of this instant (the offset applied).
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with the service centre's own offset, e.g. `2026-11-23T10:15:00+08:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            off / 60,
            off % 60
        )
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's civil-from-days inverse).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_and_negative_zones() {
        // 2026-11-23 10:15:30 +08:00: 62 11 32 01 51 03 23 (32 quarters, swapped).
        let t = Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]).unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:15:30+08:00");
        // -03:00 is 12 quarters: digits "12" swapped = 0x21, sign bit 0x08 = 0x29.
        let t = Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x29]).unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:15:30-03:00");
        assert_eq!(t.offset_minutes, -180);
        // +05:45 (Nepal) is 23 quarters.
        let t = Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x32]).unwrap();
        assert_eq!(t.to_string(), "2026-11-23T10:15:30+05:45");
        assert_eq!(Timestamp::from_octets(t.to_octets()), Some(t));
    }

    #[test]
    fn impossible_dates_are_none() {
        assert_eq!(Timestamp::from_octets([0x62, 0x31, 0x32, 0, 0, 0, 0]), None); // month 13
        assert_eq!(Timestamp::from_octets([0x62, 0x20, 0x03, 0, 0, 0, 0]), None); // 30 Feb
        assert_eq!(Timestamp::from_octets([0x6A, 0x11, 0x32, 0, 0, 0, 0]), None); // digit A
        assert!(Timestamp::from_octets([0x42, 0x20, 0x92, 0, 0, 0, 0]).is_some()); // 29 Feb 2024
    }

    #[test]
    fn unix_seconds_apply_the_offset() {
        // Year "07" is the semi-octet pair 0x70; 2007-01-01T00:00:00Z.
        let t = Timestamp::from_octets([0x70, 0x10, 0x10, 0x00, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(t.unix_seconds(), 1_167_609_600);
        let plus8 = Timestamp::from_octets([0x70, 0x10, 0x10, 0x80, 0x00, 0x00, 0x23]).unwrap();
        assert_eq!(plus8.to_string(), "2007-01-01T08:00:00+08:00");
        assert_eq!(plus8.unix_seconds(), 1_167_609_600);
    }
}
