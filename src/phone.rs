//! Phone numbers as a shop types them, normalised to E.164 with a default country.
//!
//! `09171234567` in the Philippines and `601234567` in Poland both become international
//! numbers (`+639171234567`, `+48601234567`); `+...` input is checked and kept; short codes
//! (up to 6 digits, e.g. `2910`, `*143#`) are kept as they are, since carriers route them
//! without a country. Anything else is refused with a reason, before it reaches the queue.

use std::fmt;

/// What a country's national numbers look like (ITU-T E.164 national plans, simplified to the
/// calling code, the trunk prefix dialled before national numbers, and the usual lengths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub iso: &'static str,
    pub calling_code: &'static str,
    /// The trunk prefix ("0" in most of Europe and Asia, "1" in NANP, none in Poland).
    pub trunk_prefix: &'static str,
    /// Allowed lengths of the national significant number (without trunk prefix).
    pub national_lengths: &'static [usize],
}

/// Countries smsq knows. Others can still send to `+` numbers and short codes.
pub static COUNTRIES: &[Country] = &[
    Country {
        iso: "PH",
        calling_code: "63",
        trunk_prefix: "0",
        national_lengths: &[10],
    },
    Country {
        iso: "PL",
        calling_code: "48",
        trunk_prefix: "",
        national_lengths: &[9],
    },
    Country {
        iso: "ID",
        calling_code: "62",
        trunk_prefix: "0",
        national_lengths: &[9, 10, 11, 12],
    },
    Country {
        iso: "MY",
        calling_code: "60",
        trunk_prefix: "0",
        national_lengths: &[9, 10],
    },
    Country {
        iso: "IN",
        calling_code: "91",
        trunk_prefix: "0",
        national_lengths: &[10],
    },
    Country {
        iso: "NG",
        calling_code: "234",
        trunk_prefix: "0",
        national_lengths: &[10],
    },
    Country {
        iso: "KE",
        calling_code: "254",
        trunk_prefix: "0",
        national_lengths: &[9],
    },
    Country {
        iso: "ZA",
        calling_code: "27",
        trunk_prefix: "0",
        national_lengths: &[9],
    },
    Country {
        iso: "GB",
        calling_code: "44",
        trunk_prefix: "0",
        national_lengths: &[10],
    },
    Country {
        iso: "DE",
        calling_code: "49",
        trunk_prefix: "0",
        national_lengths: &[10, 11],
    },
    Country {
        iso: "FR",
        calling_code: "33",
        trunk_prefix: "0",
        national_lengths: &[9],
    },
    Country {
        iso: "ES",
        calling_code: "34",
        trunk_prefix: "",
        national_lengths: &[9],
    },
    Country {
        iso: "IT",
        calling_code: "39",
        trunk_prefix: "",
        national_lengths: &[9, 10],
    },
    Country {
        iso: "PT",
        calling_code: "351",
        trunk_prefix: "",
        national_lengths: &[9],
    },
    Country {
        iso: "TR",
        calling_code: "90",
        trunk_prefix: "0",
        national_lengths: &[10],
    },
    Country {
        iso: "BR",
        calling_code: "55",
        trunk_prefix: "0",
        national_lengths: &[10, 11],
    },
    Country {
        iso: "MX",
        calling_code: "52",
        trunk_prefix: "",
        national_lengths: &[10],
    },
    Country {
        iso: "US",
        calling_code: "1",
        trunk_prefix: "1",
        national_lengths: &[10],
    },
    Country {
        iso: "CA",
        calling_code: "1",
        trunk_prefix: "1",
        national_lengths: &[10],
    },
];

pub fn country(iso: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.iso.eq_ignore_ascii_case(iso))
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
    if plus {
        if !(8..=15).contains(&digits.len()) {
            return Err(err(format!(
                "an international number has 8 to 15 digits, this one {}",
                digits.len()
            )));
        }
        if digits.starts_with('0') {
            return Err(err("country codes never start with 0".into()));
        }
        return Ok(format!("+{digits}"));
    }
    if digits.len() <= SHORT_CODE_MAX || digits.contains(['*', '#']) {
        return Ok(digits);
    }
    let Some(country) = default else {
        return Err(err(
            "a national number needs a default country (or write it with +country code)".into(),
        ));
    };
    let national = digits
        .strip_prefix(country.trunk_prefix)
        .filter(|n| !country.trunk_prefix.is_empty() && country.national_lengths.contains(&n.len()))
        .or_else(|| {
            // A number already in international form without '+': "639171234567".
            digits
                .strip_prefix(country.calling_code)
                .filter(|n| country.national_lengths.contains(&n.len()))
        })
        .or_else(|| {
            country
                .national_lengths
                .contains(&digits.len())
                .then_some(digits.as_str())
        });
    match national {
        Some(n) => Ok(format!("+{}{}", country.calling_code, n)),
        None => Err(err(format!(
            "not a {} number: expected {} digits after the trunk prefix {:?}",
            country.iso,
            country
                .national_lengths
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            country.trunk_prefix
        ))),
    }
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
    }

    #[test]
    fn masking_keeps_the_last_three_digits() {
        assert_eq!(mask("+639171234567"), "+*********567");
        assert_eq!(mask("2910"), "****");
        assert_eq!(mask("09171234567"), "********567");
    }
}
