//! Times and durations as smsq reads and writes them, shared by the daemon, the socket
//! protocol, the configuration and the command line: the clock (Unix milliseconds), RFC 3339
//! in UTC for programs, dates and times as people type them (read in the shop's time zone),
//! and durations like `30m` or `1d12h`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (the store's unit of time): the system clock, moved by the
/// offset a test set ([`set_test_offset`]; zero otherwise).
pub fn now_ms() -> i64 {
    let system = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    system + TEST_OFFSET.load(std::sync::atomic::Ordering::Relaxed)
}

static TEST_OFFSET: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Moves this process's clock so that [`now_ms`] reads `now` (Unix ms) from here on. Only
/// `smsqd --test-clock` lets a client do this: tests of quiet hours and caps set the time of
/// day instead of waiting for it.
pub fn set_test_offset(now: i64) {
    let system = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    TEST_OFFSET.store(now - system, std::sync::atomic::Ordering::Relaxed);
}

/// The start of the day `ms` falls in, in `zone`: the shop's day, which a SIM's daily cap
/// and its "sent today" count. Midnight UTC only if the zone cannot place `ms`.
pub fn day_start(ms: i64, zone: &jiff::tz::TimeZone) -> i64 {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .and_then(|t| t.to_zoned_datetime(zone.clone()).start_of_day().ok())
        .map_or(ms - ms.rem_euclid(86_400_000), |day| {
            day.timestamp().as_millisecond()
        })
}

/// Unix milliseconds to RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time as a person or a program writes it, to Unix ms: RFC 3339 with an offset
/// (`2026-12-02T09:00:00+08:00`, `...Z`), or a date and time without one (`2026-12-02 09:00`,
/// `2026-12-02T09:00:30`), or a date alone (midnight), both read in `zone` (the shop's).
/// Dates that do not exist (`2027-02-31`) are refused, and so is a local time that a
/// daylight-saving change skips.
pub fn parse_time(text: &str, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.at(0, 0, 0, 0)));
    let civil = civil.map_err(|_| {
        format!(
            "{text:?} is not a date and time: write it like 2026-12-02 09:00 (the shop's time \
             zone) or 2026-12-02T09:00:00+08:00"
        )
    })?;
    zone.to_ambiguous_timestamp(civil)
        .unambiguous()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            format!(
                "{text:?} is skipped or repeated by a clock change in the shop's time zone: \
                 write it with an offset (2026-03-29T03:30:00+02:00)"
            )
        })
}

/// Parses `90s`, `30m`, `6h`, `1d`, `2w` and sums like `1d12h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("{s:?}: unknown unit {c:?} (use s, m, h, d or w)")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{s:?}: a number must come before {c:?}"))?;
        total = total.saturating_add(n.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(format!("{s:?}: expected a duration like 30m, 6h, 1d or 2w"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_the_shops_midnight() {
        let manila = jiff::tz::TimeZone::get("Asia/Manila").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        let after_midnight = parse_time("2026-12-03T00:00:30+08:00", &utc).unwrap();
        assert_eq!(
            rfc3339(day_start(after_midnight, &manila)),
            "2026-12-02T16:00:00Z"
        );
        assert_eq!(
            rfc3339(day_start(after_midnight, &utc)),
            "2026-12-02T00:00:00Z"
        );
        // The day a clock goes forward is 23 hours long and still starts at midnight.
        let warsaw = jiff::tz::TimeZone::get("Europe/Warsaw").unwrap();
        let spring = parse_time("2026-03-29T12:00:00+02:00", &utc).unwrap();
        assert_eq!(rfc3339(day_start(spring, &warsaw)), "2026-03-28T23:00:00Z");
    }

    #[test]
    fn times_as_people_write_them() {
        let manila = jiff::tz::TimeZone::get("Asia/Manila").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        let ms = parse_time("2026-11-23T10:15:00+08:00", &utc).unwrap();
        assert_eq!(rfc3339(ms), "2026-11-23T02:15:00Z");
        assert_eq!(parse_time("2026-11-23T02:15:00Z", &manila), Ok(ms));
        assert_eq!(
            parse_time("2026-11-23T02:15:00.123Z", &manila),
            Ok(ms + 123)
        );
        // Without an offset: the shop's time zone.
        assert_eq!(parse_time("2026-11-23 10:15", &manila), Ok(ms));
        assert_eq!(parse_time("2026-11-23T10:15:00", &manila), Ok(ms));
        assert_eq!(
            parse_time("2026-11-23", &manila),
            parse_time("2026-11-23 00:00", &manila)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z", &utc), Ok(0));
        for bad in [
            "2027-02-31 09:00",
            "2026-13-01T00:00:00Z",
            "tomorrow",
            "09:00",
            "",
        ] {
            assert!(parse_time(bad, &manila).is_err(), "{bad:?}");
        }
        // A time a daylight-saving change skips does not exist.
        let warsaw = jiff::tz::TimeZone::get("Europe/Warsaw").unwrap();
        assert!(parse_time("2026-03-29 02:30", &warsaw).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("0m").is_err());
    }
}
