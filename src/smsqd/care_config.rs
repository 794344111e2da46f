//! The `[care]` section of the configuration: the shop's name and texts, topics, keyword
//! languages, quiet hours, holidays and caps, validated into [`CareSettings`].
//!
//! ```toml
//! [care]
//! shop_name = "Ana's Print Shop"
//! topics = ["promo", "events"]        # STOP PROMO opts out of promo only
//! double_opt_in = ["promo"]           # web-form and imported sign-ups wait for a YES
//! keyword_languages = ["en"]          # en; fil and pl ship empty (see the README)
//! hold_transactional = false
//! marketing_per_day = 1
//! marketing_per_30_days = 4
//! bulk_limit = 50
//! holidays = ["2026-12-25"]
//! [care.quiet_hours]
//! PH = "07:00-21:00 daily"
//! PL = "08:00-20:00 weekdays"
//! default = "08:00-20:00 daily"
//! [care.keywords]
//! opt_out = ["TIGIL"]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::config::{ConfigError, duration, err};
use crate::daemon::care::keywords::{self, KeywordList, Keywords};
use crate::daemon::care::quiet::{QuietHours, Window};
use crate::daemon::care::{CareSettings, Policy};
use crate::pdu::{PlanOptions, Planner};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCare {
    shop_name: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    double_opt_in: Vec<String>,
    keyword_languages: Option<Vec<String>>,
    hold_transactional: Option<bool>,
    marketing_per_day: Option<i64>,
    marketing_per_30_days: Option<i64>,
    bulk_limit: Option<usize>,
    confirmation_window: Option<String>,
    price_per_part: Option<f64>,
    reply_window: Option<String>,
    footer: Option<String>,
    stop_text: Option<String>,
    start_text: Option<String>,
    help_text: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    quiet_hours: BTreeMap<String, String>,
    keywords: Option<RawKeywords>,
    business_hours: Option<String>,
    auto_reply_countries: Option<Vec<String>>,
    #[serde(default)]
    auto_reply: Vec<RawAutoReply>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAutoReply {
    name: String,
    /// exact (default), starts_with or contains.
    #[serde(rename = "match")]
    matching: Option<String>,
    #[serde(default)]
    keyword: String,
    text: String,
    group: Option<String>,
    /// open or closed.
    hours: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeywords {
    #[serde(default)]
    opt_out: Vec<String>,
    #[serde(default)]
    opt_in: Vec<String>,
    #[serde(default)]
    help: Vec<String>,
}

/// A configured answer must reach every phone as one plain part: GSM 7-bit, 160 characters
/// with the shop's name in it.
fn one_gsm7_part(key: &str, text: &str) -> Result<(), ConfigError> {
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(err(key, "holds a control character"));
    }
    let e = Planner::new()
        .estimate(text, &PlanOptions::default())
        .map_err(|e| err(key, e.to_string()))?;
    if e.alphabet.name() != "gsm7" || e.parts != 1 {
        return Err(err(
            key,
            format!(
                "must fit one plain text message (GSM 7-bit, 160 characters) with the shop's \
                 name; it takes {} part(s) in {}",
                e.parts,
                e.alphabet.name()
            ),
        ));
    }
    Ok(())
}

fn topic_word(key: &str, t: &str) -> Result<String, ConfigError> {
    let w = t.trim().to_lowercase();
    if w.is_empty()
        || w.len() > 32
        || !w
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(err(
            key,
            format!("{t:?}: a topic is one word (letters, digits, - or _)"),
        ));
    }
    Ok(w)
}

/// Validates `[care]` (absent: the defaults) with the shop's time zone.
pub(super) fn care(
    raw: Option<&RawCare>,
    shop_zone: &jiff::tz::TimeZone,
    shop_country: Option<&crate::phone::Country>,
) -> Result<CareSettings, ConfigError> {
    let empty = RawCare::default();
    let raw = raw.unwrap_or(&empty);
    let defaults = CareSettings::default();
    let shop_name = raw.shop_name.clone().unwrap_or(defaults.shop_name.clone());
    if shop_name.trim().is_empty() || shop_name.chars().count() > 40 {
        return Err(err(
            "care.shop_name",
            "give the shop's name, 1 to 40 characters",
        ));
    }
    let mut topics = Vec::new();
    for t in &raw.topics {
        topics.push(topic_word("care.topics", t)?);
    }
    let mut double_opt_in = Vec::new();
    for t in &raw.double_opt_in {
        let t = topic_word("care.double_opt_in", t)?;
        if !topics.contains(&t) {
            return Err(err(
                "care.double_opt_in",
                format!("{t:?} is not one of care.topics"),
            ));
        }
        double_opt_in.push(t);
    }
    let mut lists = Vec::new();
    for code in raw
        .keyword_languages
        .clone()
        .unwrap_or_else(|| vec!["en".into()])
    {
        lists.push(keywords::language(&code).ok_or_else(|| {
            err(
                "care.keyword_languages",
                format!("{code:?}: smsq has keyword lists for en, fil and pl"),
            )
        })?);
    }
    if let Some(k) = &raw.keywords {
        for (name, words) in [
            ("opt_out", &k.opt_out),
            ("opt_in", &k.opt_in),
            ("help", &k.help),
        ] {
            if words.iter().any(|w| keywords::normalise(w).is_empty()) {
                return Err(err(
                    format!("care.keywords.{name}"),
                    "an entry has no letters or digits",
                ));
            }
        }
        lists.push(KeywordList {
            opt_out: k.opt_out.clone(),
            opt_in: k.opt_in.clone(),
            guarded_opt_in: Vec::new(),
            help: k.help.clone(),
        });
    }
    let mut quiet = QuietHours::default();
    for (country, window) in &raw.quiet_hours {
        let key = format!("care.quiet_hours.{country}");
        let w = Window::parse(window).map_err(|e| err(&key, e))?;
        if country == "default" {
            quiet.default = w;
            continue;
        }
        let iso = country.to_uppercase();
        if crate::phone::country(&iso).is_none() {
            return Err(err(&key, "not a country code smsq knows (PH, PL, GB...)"));
        }
        quiet.by_country.retain(|(c, _)| *c != iso);
        quiet.by_country.push((iso, w));
    }
    for day in &raw.holidays {
        quiet.holidays.push(day.parse().map_err(|_| {
            err(
                "care.holidays",
                format!("{day:?} is not a date (YYYY-MM-DD)"),
            )
        })?);
    }
    let cap = |key: &str, value: Option<i64>, default: i64| match value {
        None => Ok(default),
        Some(v) if (0..=1000).contains(&v) => Ok(v),
        Some(_) => Err(err(key, "must be between 0 and 1000")),
    };
    let policy = Policy {
        quiet_hours: quiet,
        hold_transactional: raw.hold_transactional.unwrap_or(false),
        cap_per_day: cap("care.marketing_per_day", raw.marketing_per_day, 1)?,
        cap_per_30_days: cap("care.marketing_per_30_days", raw.marketing_per_30_days, 4)?,
        shop_zone: shop_zone.clone(),
    };
    let mut auto_replies = Vec::new();
    for (i, r) in raw.auto_reply.iter().enumerate() {
        let key = |k: &str| format!("care.auto_reply[{i}].{k}");
        use crate::daemon::care::reactions::{AutoReply, Hours, Matching};
        let name = topic_word(&key("name"), &r.name)?;
        if auto_replies.iter().any(|a: &AutoReply| a.name == name) {
            return Err(err(
                key("name"),
                format!("{name:?} is used by another rule"),
            ));
        }
        let matching = match r.matching.as_deref() {
            None | Some("exact") => Matching::Exact,
            Some("starts_with") => Matching::StartsWith,
            Some("contains") => Matching::Contains,
            Some(other) => {
                return Err(err(
                    key("match"),
                    format!("{other:?}: use exact, starts_with or contains"),
                ));
            }
        };
        let keyword = keywords::normalise(&r.keyword);
        if keyword.is_empty() && matching != Matching::Contains {
            return Err(err(
                key("keyword"),
                "give the word to answer (an empty one needs match = \"contains\")",
            ));
        }
        let hours = match r.hours.as_deref() {
            None => None,
            Some("open") => Some(Hours::Open),
            Some("closed") => Some(Hours::Closed),
            Some(other) => return Err(err(key("hours"), format!("{other:?}: use open or closed"))),
        };
        one_gsm7_part(&key("text"), &r.text.replace("{shop}", &shop_name)).or_else(|e| {
            // Longer answers are allowed; only control characters and encoding errors are not.
            if e.problem.starts_with("must fit") {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        auto_replies.push(AutoReply {
            name,
            matching,
            keyword,
            text: r.text.clone(),
            group: r.group.as_ref().map(|g| g.trim().to_lowercase()),
            hours,
        });
    }
    let business_hours = match &raw.business_hours {
        None => defaults.business_hours,
        Some(w) => Window::parse(w).map_err(|e| err("care.business_hours", e))?,
    };
    let auto_reply_countries = match &raw.auto_reply_countries {
        Some(list) => {
            let mut out = Vec::new();
            for c in list {
                let iso = c.trim().to_uppercase();
                if crate::phone::country(&iso).is_none() {
                    return Err(err(
                        "care.auto_reply_countries",
                        format!("{c:?} is not a country code"),
                    ));
                }
                out.push(iso);
            }
            out
        }
        None => shop_country
            .map(|c| vec![c.iso.to_string()])
            .unwrap_or_default(),
    };
    let care = CareSettings {
        auto_replies,
        business_hours,
        auto_reply_countries,
        keywords: Keywords::new(&lists, &topics),
        topics,
        double_opt_in,
        policy,
        stop_text: raw.stop_text.clone().unwrap_or(defaults.stop_text.clone()),
        start_text: raw
            .start_text
            .clone()
            .unwrap_or(defaults.start_text.clone()),
        help_text: raw.help_text.clone().unwrap_or(defaults.help_text.clone()),
        footer: raw.footer.clone().unwrap_or(defaults.footer.clone()),
        bulk_limit: match raw.bulk_limit {
            Some(0) => return Err(err("care.bulk_limit", "must be at least 1")),
            Some(n) => n,
            None => defaults.bulk_limit,
        },
        confirmation_window: duration(
            "care.confirmation_window",
            &raw.confirmation_window,
            defaults.confirmation_window,
        )?,
        price_per_part: match raw.price_per_part {
            Some(p) if !(0.0..=1000.0).contains(&p) || p.is_nan() => {
                return Err(err("care.price_per_part", "must be between 0 and 1000"));
            }
            other => other,
        },
        reply_window: duration(
            "care.reply_window",
            &raw.reply_window,
            defaults.reply_window,
        )?,
        shop_name,
    };
    if care.reply_window < Duration::from_secs(60)
        || care.reply_window > Duration::from_secs(90 * 86_400)
    {
        return Err(err("care.reply_window", "give it between 1m and 90d"));
    }
    if care.confirmation_window < Duration::from_secs(30) {
        return Err(err("care.confirmation_window", "give it at least 30s"));
    }
    for (key, text) in [
        ("care.stop_text", &care.stop_text),
        ("care.start_text", &care.start_text),
        ("care.help_text", &care.help_text),
    ] {
        one_gsm7_part(key, &care.words(text))?;
    }
    // The topic confirmation is built from the shop's name and the longest topic.
    for t in &care.topics {
        one_gsm7_part(
            "care.topics",
            &format!(
                "{}: you will get no more {t} texts from us.",
                care.shop_name
            ),
        )?;
    }
    let footer_check = Planner::new()
        .estimate(&care.footer, &PlanOptions::default())
        .map_err(|e| err("care.footer", e.to_string()))?;
    if footer_check.alphabet.name() != "gsm7" || care.footer.chars().count() > 60 {
        return Err(err(
            "care.footer",
            "keep it short and plain (GSM 7-bit, 60 characters at most)",
        ));
    }
    Ok(care)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CareSettings, ConfigError> {
        let raw: RawCare = toml::from_str(text).unwrap();
        care(
            Some(&raw),
            &jiff::tz::TimeZone::get("Asia/Manila").unwrap(),
            crate::phone::country("PH"),
        )
    }

    #[test]
    fn a_full_section_is_read() {
        let c = parse(
            r#"
            shop_name = "Ana's Print"
            topics = ["promo", "Events"]
            double_opt_in = ["promo"]
            keyword_languages = ["en", "fil"]
            marketing_per_30_days = 2
            holidays = ["2026-12-25"]
            [quiet_hours]
            PL = "09:00-18:00 weekdays"
            default = "09:00-19:00"
            [keywords]
            opt_out = ["Tigil"]
            "#,
        )
        .unwrap();
        assert_eq!(c.topics, ["promo", "events"]);
        assert_eq!(c.policy.cap_per_30_days, 2);
        assert_eq!(
            c.policy.quiet_hours.window(Some("PL")).to_string(),
            "09:00-18:00 weekdays"
        );
        assert_eq!(
            c.policy.quiet_hours.window(Some("PH")).to_string(),
            "07:00-21:00 daily"
        );
        assert_eq!(
            c.policy.quiet_hours.window(Some("GB")).to_string(),
            "09:00-19:00 daily"
        );
        assert_eq!(
            c.keywords.classify("tigil"),
            crate::daemon::care::keywords::Keyword::OptOut(None)
        );
        assert_eq!(
            c.keywords.classify("stop events"),
            crate::daemon::care::keywords::Keyword::OptOut(Some("events".into()))
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        for (text, key) in [
            ("double_opt_in = [\"promo\"]", "care.double_opt_in"),
            ("keyword_languages = [\"xx\"]", "care.keyword_languages"),
            (
                "stop_text = \"{shop}: Zatrzymano wysyłkę ąę\"",
                "care.stop_text",
            ),
            ("[quiet_hours]\nPH = \"7-21\"", "care.quiet_hours.PH"),
            ("[quiet_hours]\nXX = \"07:00-21:00\"", "care.quiet_hours.XX"),
            ("holidays = [\"25.12.2026\"]", "care.holidays"),
            ("marketing_per_day = -1", "care.marketing_per_day"),
            ("topics = [\"two words\"]", "care.topics"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
        let long = format!("stop_text = \"{}\"", "x".repeat(170));
        assert_eq!(parse(&long).unwrap_err().key, "care.stop_text");
    }
}
