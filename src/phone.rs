//! Phone numbers as a shop types them, normalised to E.164 with a default country.
//!
//! `09171234567` in the Philippines and `601234567` in Poland both become international
//! numbers (`+639171234567`, `+48601234567`); short codes (up to 6 digits, e.g. `2910`,
//! `*143#`) are kept as they are, since carriers route them without a country. Every other
//! number is checked against its country's numbering plan (libphonenumber's metadata, through
//! the `phonenumber` crate): a digit too many or too few, a range that does not exist, or a
//! landline (which cannot receive a text) is refused with the reason, before it reaches the
//! queue.

use std::fmt;

/// A country a shop may set as its own: national numbers are read in its numbering plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub iso: &'static str,
    pub calling_code: &'static str,
}

/// Countries named here need no lookup; `country` finds every other the numbering plans know.
pub static COUNTRIES: &[Country] = &[
    Country {
        iso: "PH",
        calling_code: "63",
    },
    Country {
        iso: "PL",
        calling_code: "48",
    },
    Country {
        iso: "ID",
        calling_code: "62",
    },
    Country {
        iso: "MY",
        calling_code: "60",
    },
    Country {
        iso: "IN",
        calling_code: "91",
    },
    Country {
        iso: "NG",
        calling_code: "234",
    },
    Country {
        iso: "KE",
        calling_code: "254",
    },
    Country {
        iso: "ZA",
        calling_code: "27",
    },
    Country {
        iso: "GB",
        calling_code: "44",
    },
    Country {
        iso: "DE",
        calling_code: "49",
    },
    Country {
        iso: "FR",
        calling_code: "33",
    },
    Country {
        iso: "ES",
        calling_code: "34",
    },
    Country {
        iso: "IT",
        calling_code: "39",
    },
    Country {
        iso: "PT",
        calling_code: "351",
    },
    Country {
        iso: "TR",
        calling_code: "90",
    },
    Country {
        iso: "BR",
        calling_code: "55",
    },
    Country {
        iso: "MX",
        calling_code: "52",
    },
    Country {
        iso: "US",
        calling_code: "1",
    },
    Country {
        iso: "CA",
        calling_code: "1",
    },
];

impl Country {
    /// The country in the numbering-plan metadata (libphonenumber's, via `phonenumber`).
    pub fn id(&self) -> phonenumber::country::Id {
        // Every entry of COUNTRIES is an ISO code the metadata knows (a test holds them).
        self.iso.parse().unwrap_or(phonenumber::country::Id::PH)
    }
}

/// The country with ISO code `iso` (any case): one of `COUNTRIES`, or any other the numbering
/// plans know (made once and kept for the life of the process, as a shop has one or two).
pub fn country(iso: &str) -> Option<&'static Country> {
    if let Some(known) = COUNTRIES.iter().find(|c| c.iso.eq_ignore_ascii_case(iso)) {
        return Some(known);
    }
    let iso = iso.trim().to_ascii_uppercase();
    iso.parse::<phonenumber::country::Id>().ok()?;
    let metadata = phonenumber::metadata::DATABASE.by_id(iso.as_str())?;
    static MADE: std::sync::Mutex<Vec<&'static Country>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = made.iter().find(|c| c.iso == iso) {
        return Some(c);
    }
    let country: &'static Country = Box::leak(Box::new(Country {
        iso: Box::leak(iso.into_boxed_str()),
        calling_code: Box::leak(metadata.country_code().to_string().into_boxed_str()),
    }));
    made.push(country);
    Some(country)
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberError {
    pub input: String,
    pub reason: String,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid number {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for NumberError {}

/// Longest short code kept without a country.
const SHORT_CODE_MAX: usize = 6;

/// Normalises `input` for sending with `default` as the shop's country.
pub fn normalize(input: &str, default: Option<&Country>) -> Result<String, NumberError> {
    let err = |reason: String| NumberError {
        input: input.to_string(),
        reason,
    };
    let trimmed = input.trim();
    let mut digits = String::new();
    let mut plus = false;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '+' if i == 0 => plus = true,
            '0'..='9' => digits.push(c),
            '*' | '#' if !plus => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(err(format!("unexpected character {c:?}"))),
        }
    }
    // "00" is the international prefix in most countries.
    if !plus && digits.starts_with("00") && digits.len() > 8 {
        digits.drain(..2);
        plus = true;
    }
    if digits.is_empty() {
        return Err(err("no digits".into()));
    }
    if !plus && (digits.len() <= SHORT_CODE_MAX || digits.contains(['*', '#'])) {
        return Ok(digits);
    }
    if plus && digits.starts_with('0') {
        return Err(err("country codes never start with 0".into()));
    }
    let region = match (plus, default) {
        (true, _) => None,
        (false, Some(country)) => Some(country.id()),
        (false, None) => {
            return Err(err(
                "a national number needs a default country (or write it with +country code)".into(),
            ));
        }
    };
    let parsed = |text: &str, region| {
        phonenumber::parse(region, text)
            .ok()
            .filter(phonenumber::is_valid)
    };
    let number = if plus {
        parsed(&format!("+{digits}"), None)
    } else {
        // National as dialled ("09171234567"), or international without its '+'
        // ("639171234567").
        parsed(&digits, region).or_else(|| {
            default
                .filter(|c| digits.starts_with(c.calling_code))
                .and_then(|_| parsed(&format!("+{digits}"), None))
        })
    };
    let Some(number) = number else {
        return Err(err(match (plus, default) {
            (false, Some(country)) => format!(
                "not a valid {} number: a digit too many or too few, or a range that does not \
                 exist (write other countries' numbers with +)",
                country.iso
            ),
            _ => "not a valid international number: a digit too many or too few, or no such \
                  country code or range"
                .into(),
        }));
    };
    use phonenumber::Type;
    match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Voip => {}
        Type::FixedLine => {
            return Err(err(
                "a landline number: it cannot receive text messages".into()
            ));
        }
        other => {
            return Err(err(format!(
                "a {} number, which cannot receive text messages",
                match other {
                    Type::TollFree => "toll-free",
                    Type::PremiumRate => "premium-rate",
                    Type::SharedCost => "shared-cost",
                    Type::Pager => "pager",
                    Type::Voicemail => "voicemail",
                    _ => "service",
                }
            )));
        }
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The country (ISO code) of an E.164 number, for its time zone and quiet hours: by calling
/// code for the countries in [`COUNTRIES`] (no parsing on the hot path), else from the
/// numbering plans. `None` for short codes and numbers no plan places (`+1` is shared by the
/// US and Canada: the numbering plans tell them apart).
pub fn country_of(number: &str) -> Option<String> {
    let digits = number.strip_prefix('+')?;
    let mut by_code = COUNTRIES
        .iter()
        .filter(|c| c.calling_code != "1" && digits.starts_with(c.calling_code));
    if let Some(c) = by_code.next() {
        return Some(c.iso.to_string());
    }
    let parsed = phonenumber::parse(None, number).ok()?;
    parsed.country().id().map(|id| id.as_ref().to_string())
}

static SHOW_NUMBERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Shows numbers in full in logs (the `log_sensitive` debugging switch); off by default.
pub fn show_numbers_in_logs(on: bool) {
    SHOW_NUMBERS.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// The number with all but its last three digits hidden, for logs: `+*********567`, as the
/// README promises (the leading `+` and the length stay, so an operator can tell an
/// international number from a short code). In full when `log_sensitive` is on.
pub fn mask(number: &str) -> String {
    if SHOW_NUMBERS.load(std::sync::atomic::Ordering::Relaxed) {
        return number.to_string();
    }
    hide(number)
}

/// The number with all but its last three digits hidden, whatever the log switch says (for
/// people who may see that a customer wrote, not who).
pub fn hide(number: &str) -> String {
    let count = number.chars().count();
    if count <= 4 {
        return "*".repeat(count);
    }
    number
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            '+' if i == 0 => '+',
            _ if i >= count - 3 => c,
            _ => '*',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philippines_and_poland() {
        let ph = country("PH");
        assert_eq!(normalize("09171234567", ph).unwrap(), "+639171234567");
        assert_eq!(normalize("0917 123 4567", ph).unwrap(), "+639171234567");
        assert_eq!(normalize("639171234567", ph).unwrap(), "+639171234567");
        assert_eq!(normalize("+63 917 123 4567", ph).unwrap(), "+639171234567");
        let pl = country("pl");
        assert_eq!(normalize("601234567", pl).unwrap(), "+48601234567");
        assert_eq!(normalize("601-234-567", pl).unwrap(), "+48601234567");
        assert_eq!(normalize("0048601234567", pl).unwrap(), "+48601234567");
    }

    #[test]
    fn short_codes_stay() {
        assert_eq!(normalize("2910", country("PH")).unwrap(), "2910");
        assert_eq!(normalize("*143#", None).unwrap(), "*143#");
    }

    #[test]
    fn bad_numbers_are_refused_with_reasons() {
        let ph = country("PH");
        for bad in [
            "",
            "abc",
            "0917123",
            "091712345678",
            "+0123456789",
            "+12",
            "12a45678",
            // One digit short, and a Manila landline: both used to be queued.
            "0917123456",
            "0281234567",
        ] {
            let e = normalize(bad, ph).unwrap_err();
            assert!(!e.reason.is_empty(), "{bad:?}");
        }
        assert!(
            normalize("09171234567", None)
                .unwrap_err()
                .reason
                .contains("default country")
        );
        assert!(
            normalize("0917123456", ph)
                .unwrap_err()
                .reason
                .contains("not a valid PH number")
        );
        assert!(
            normalize("0281234567", ph)
                .unwrap_err()
                .reason
                .contains("landline")
        );
        assert!(
            normalize("+48221234567", None)
                .unwrap_err()
                .reason
                .contains("landline")
        );
    }

    #[test]
    fn any_country_of_the_numbering_plans_can_be_the_shops() {
        let jp = country("jp").unwrap();
        assert_eq!((jp.iso, jp.calling_code), ("JP", "81"));
        assert!(std::ptr::eq(jp, country("JP").unwrap()), "made once");
        assert_eq!(
            normalize("090-1234-5678", Some(jp)).unwrap(),
            "+819012345678"
        );
        assert!(country("XX").is_none());
        assert!(country("").is_none());
    }

    #[test]
    fn every_known_country_is_in_the_numbering_plans() {
        for c in COUNTRIES {
            assert_eq!(
                c.iso.parse::<phonenumber::country::Id>().ok(),
                Some(c.id()),
                "{}",
                c.iso
            );
        }
    }

    #[test]
    fn masking_keeps_the_last_three_digits() {
        assert_eq!(mask("+639171234567"), "+*********567");
        assert_eq!(mask("2910"), "****");
        assert_eq!(mask("09171234567"), "********567");
    }
}

#[cfg(test)]
mod country_tests {
    use super::*;

    #[test]
    fn numbers_tell_their_country() {
        assert_eq!(country_of("+639171234567").as_deref(), Some("PH"));
        assert_eq!(country_of("+48601234567").as_deref(), Some("PL"));
        assert_eq!(country_of("+14155552671").as_deref(), Some("US"));
        assert_eq!(country_of("+16135550123").as_deref(), Some("CA"));
        assert_eq!(country_of("+8613812345678").as_deref(), Some("CN"));
        assert_eq!(country_of("2910"), None);
    }
}
