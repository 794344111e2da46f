//! Quiet hours: the hours of the recipient's own day in which marketing and surveys may
//! arrive, and when the next such hour begins.
//!
//! The recipient's time zone is the contact's, else the one of the number's country (where a
//! country has one zone), else the shop's: never "unknown, so no quiet hours".

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Which days a window is open on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    Every,
    /// Monday to Friday, and not on a configured holiday.
    Working,
}

/// The hours texts may arrive, from `start` to `end` local time; `end` before `start` wraps
/// past midnight (22:00–06:00 is a night shift's window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Time,
    pub end: Time,
    pub days: Days,
}

impl Window {
    /// `"07:00-21:00"`, then optionally `daily` or `weekdays`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let range = words.next().ok_or("empty window")?;
        let (a, b) = range
            .split_once('-')
            .ok_or_else(|| format!("{range:?}: write the hours as HH:MM-HH:MM"))?;
        let time = |t: &str| {
            Time::strptime("%H:%M", t.trim())
                .map_err(|_| format!("{t:?} is not a time of day (HH:MM)"))
        };
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(format!("{range:?}: the window is empty"));
        }
        let days = match words.next() {
            None | Some("daily") => Days::Every,
            Some("weekdays") => Days::Working,
            Some(other) => return Err(format!("{other:?}: use daily or weekdays")),
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected {extra:?}"));
        }
        Ok(Self { start, end, days })
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{} {}",
            self.start.strftime("%H:%M"),
            self.end.strftime("%H:%M"),
            match self.days {
                Days::Every => "daily",
                Days::Working => "weekdays",
            }
        )
    }
}

/// The windows in force: per country (ISO code), a default, and the holidays of the
/// working-days rule.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietHours {
    pub by_country: Vec<(String, Window)>,
    pub default: Window,
    pub holidays: Vec<Date>,
}

impl Default for QuietHours {
    /// The Philippines 07:00–21:00 every day (NTC); Poland 08:00–20:00 on working days;
    /// elsewhere 08:00–20:00.
    fn default() -> Self {
        let w = |s: &str| Window::parse(s).expect("built-in windows parse");
        Self {
            by_country: vec![
                ("PH".into(), w("07:00-21:00 daily")),
                ("PL".into(), w("08:00-20:00 weekdays")),
            ],
            default: w("08:00-20:00 daily"),
            holidays: Vec::new(),
        }
    }
}

/// The zone of countries that have one (IANA names); others use the shop's.
const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("PH", "Asia/Manila"),
    ("PL", "Europe/Warsaw"),
    ("MY", "Asia/Kuala_Lumpur"),
    ("IN", "Asia/Kolkata"),
    ("NG", "Africa/Lagos"),
    ("KE", "Africa/Nairobi"),
    ("ZA", "Africa/Johannesburg"),
    ("GB", "Europe/London"),
    ("DE", "Europe/Berlin"),
    ("FR", "Europe/Paris"),
    ("IT", "Europe/Rome"),
    ("TR", "Europe/Istanbul"),
];

/// The recipient's zone: the contact's (an IANA name), else its country's, else the shop's.
pub fn recipient_zone(
    contact_zone: Option<&str>,
    country: Option<&str>,
    shop: &TimeZone,
) -> TimeZone {
    if let Some(zone) = contact_zone.and_then(|z| TimeZone::get(z).ok()) {
        return zone;
    }
    country
        .and_then(|c| COUNTRY_ZONES.iter().find(|(iso, _)| *iso == c))
        .and_then(|(_, name)| TimeZone::get(name).ok())
        .unwrap_or_else(|| shop.clone())
}

impl QuietHours {
    pub fn window(&self, country: Option<&str>) -> Window {
        country
            .and_then(|c| self.by_country.iter().find(|(iso, _)| iso == c))
            .map_or(self.default, |(_, w)| *w)
    }

    fn open_on(&self, window: &Window, day: Date) -> bool {
        match window.days {
            Days::Every => true,
            Days::Working => {
                use jiff::civil::Weekday::*;
                !matches!(day.weekday(), Saturday | Sunday) && !self.holidays.contains(&day)
            }
        }
    }

    /// `None` when `now_ms` is inside the window in `zone`; otherwise when it next opens
    /// (Unix ms).
    pub fn next_open(&self, window: &Window, zone: &TimeZone, now_ms: i64) -> Option<i64> {
        let now = Timestamp::from_millisecond(now_ms).ok()?;
        let today = now.to_zoned_datetime(zone.clone()).date();
        let wraps = window.end < window.start;
        let at = |day: Date, time: Time| -> Option<Timestamp> {
            day.to_datetime(time)
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp())
        };
        // A window belongs to the day it opens: yesterday's may still be open after midnight.
        // Three weeks cover any run of holidays a shop configures between two working days.
        for offset in -1..21i32 {
            let Ok(day) = today.checked_add(offset.days()) else {
                continue;
            };
            if !self.open_on(window, day) {
                continue;
            }
            let end_day = if wraps { day.tomorrow().ok()? } else { day };
            let (Some(open), Some(close)) = (at(day, window.start), at(end_day, window.end)) else {
                continue;
            };
            if now >= open && now < close {
                return None;
            }
            if open > now {
                return Some(open.as_millisecond());
            }
        }
        // No open day in three weeks (every day a holiday): try again in a day rather than
        // ever sending in the night.
        Some(now_ms + 86_400_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn manila() -> TimeZone {
        TimeZone::get("Asia/Manila").unwrap()
    }

    #[test]
    fn manila_evening_waits_for_seven_in_the_morning() {
        let q = QuietHours::default();
        let w = q.window(Some("PH"));
        // 21:05 Manila is 13:05 UTC.
        let held = q.next_open(&w, &manila(), ms("2026-12-01T13:05:00Z"));
        assert_eq!(held, Some(ms("2026-12-01T23:00:00Z")), "07:00 Manila");
        assert_eq!(
            q.next_open(&w, &manila(), ms("2026-12-01T12:59:00Z")),
            None,
            "20:59"
        );
        assert_eq!(
            q.next_open(&w, &manila(), ms("2026-12-01T23:00:00Z")),
            None,
            "07:00"
        );
        // 03:00 Manila: the same morning.
        assert_eq!(
            q.next_open(&w, &manila(), ms("2026-12-01T19:00:00Z")),
            Some(ms("2026-12-01T23:00:00Z"))
        );
    }

    #[test]
    fn a_window_across_midnight() {
        let q = QuietHours::default();
        let w = Window::parse("22:00-06:00").unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(q.next_open(&w, &utc, ms("2026-12-01T23:30:00Z")), None);
        assert_eq!(q.next_open(&w, &utc, ms("2026-12-02T05:59:00Z")), None);
        assert_eq!(
            q.next_open(&w, &utc, ms("2026-12-02T06:00:00Z")),
            Some(ms("2026-12-02T22:00:00Z"))
        );
        assert_eq!(
            q.next_open(&w, &utc, ms("2026-12-02T12:00:00Z")),
            Some(ms("2026-12-02T22:00:00Z"))
        );
    }

    /// CC-2.2: a Polish number while the shop is in Manila, winter and summer time.
    #[test]
    fn a_polish_number_is_read_in_warsaw_time_across_a_dst_change() {
        let q = QuietHours::default();
        let shop = manila();
        let zone = recipient_zone(None, Some("PL"), &shop);
        let w = q.window(Some("PL"));
        // Winter (CET, UTC+1): 13:00 Manila is 06:00 Warsaw → held until 08:00 Warsaw.
        assert_eq!(
            q.next_open(&w, &zone, ms("2026-12-02T05:00:00Z")),
            Some(ms("2026-12-02T07:00:00Z"))
        );
        // 17:00 Manila on a Wednesday is 10:00 Warsaw: open.
        assert_eq!(q.next_open(&w, &zone, ms("2026-12-02T09:00:00Z")), None);
        // Summer (CEST, UTC+2): 13:00 Manila is 07:00 Warsaw → held until 08:00 CEST.
        assert_eq!(
            q.next_open(&w, &zone, ms("2026-06-03T05:00:00Z")),
            Some(ms("2026-06-03T06:00:00Z"))
        );
        // The night of the change (Sunday 29 March 2026, 02:00 → 03:00): a text queued on
        // Saturday evening opens on Monday at 08:00 CEST, 06:00 UTC.
        assert_eq!(
            q.next_open(&w, &zone, ms("2026-03-28T20:00:00Z")),
            Some(ms("2026-03-30T06:00:00Z"))
        );
    }

    #[test]
    fn polish_weekends_and_holidays_wait_for_the_next_working_day() {
        let mut q = QuietHours::default();
        let zone = TimeZone::get("Europe/Warsaw").unwrap();
        let w = q.window(Some("PL"));
        // Saturday 5 December 2026, 12:00 Warsaw → Monday 08:00.
        assert_eq!(
            q.next_open(&w, &zone, ms("2026-12-05T11:00:00Z")),
            Some(ms("2026-12-07T07:00:00Z"))
        );
        q.holidays = vec!["2026-12-07".parse().unwrap()];
        assert_eq!(
            q.next_open(&w, &zone, ms("2026-12-05T11:00:00Z")),
            Some(ms("2026-12-08T07:00:00Z"))
        );
    }

    #[test]
    fn zones_fall_back_from_contact_to_country_to_shop() {
        let shop = manila();
        let z = recipient_zone(Some("Europe/Warsaw"), Some("PH"), &shop);
        assert_eq!(z.iana_name(), Some("Europe/Warsaw"));
        let z = recipient_zone(Some("Not/AZone"), Some("PH"), &shop);
        assert_eq!(z.iana_name(), Some("Asia/Manila"));
        let z = recipient_zone(None, Some("US"), &TimeZone::get("Europe/Warsaw").unwrap());
        assert_eq!(
            z.iana_name(),
            Some("Europe/Warsaw"),
            "several zones: the shop's"
        );
    }

    #[test]
    fn windows_parse_and_refuse_nonsense() {
        assert_eq!(
            Window::parse("08:00-20:00 weekdays").unwrap().to_string(),
            "08:00-20:00 weekdays"
        );
        assert!(Window::parse("8-20").is_err());
        assert!(Window::parse("08:00-08:00").is_err());
        assert!(Window::parse("08:00-25:00").is_err());
        assert!(Window::parse("08:00-20:00 sundays").is_err());
    }
}
