//! The configuration file: parsed raw (serde, unknown keys refused so typos surface), then
//! validated into what the daemon runs with, with errors that name the key and the problem.
//!
//! ```toml
//! country = "PH"                 # default country for national numbers
//! delivery_reports = true
//! send_gap = "3s"                # per modem, between the starts of two sends
//! max_attempts = 5
//! retry_base = "30s"
//! multipart_timeout = "24h"
//! max_parts = 10
//! reject_calls = true
//! # database = "/var/lib/smsq/smsq.db"   # or "postgres://smsq@db.shop.lan/smsq" (several hosts)
//! # host = "branch-2"              # this host's name on a shared database (the machine's name)
//! # lease = "30s"                  # without a heartbeat that long, other hosts take over
//! # socket = "/run/smsq/smsq.sock"
//!
//! [[modem]]
//! id = "globe"
//! device = "/dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.2-port0"   # or: simulate = "simcom"
//! profile = "huawei"
//! baud = 115200
//! pin = "1234"
//! prefixes = ["+63917", "+63905"]
//! daily_cap = 500
//! send_timeout = "60s"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::at::command::Pin;
use crate::daemon::{ModemRules, Settings};
use crate::modem::ModemConfig;
use crate::modem::profile;
use crate::phone;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    country: Option<String>,
    delivery_reports: Option<bool>,
    send_gap: Option<String>,
    max_attempts: Option<i64>,
    retry_base: Option<String>,
    multipart_timeout: Option<String>,
    max_parts: Option<u8>,
    reject_calls: Option<bool>,
    log_sensitive: Option<bool>,
    log_level: Option<String>,
    database: Option<String>,
    host: Option<String>,
    lease: Option<String>,
    socket: Option<PathBuf>,
    socket_group: Option<String>,
    max_connections: Option<usize>,
    keep_texts: Option<String>,
    keep_messages: Option<String>,
    keep_events: Option<String>,
    time_zone: Option<String>,
    care: Option<super::care_config::RawCare>,
    kannel: Option<super::http_config::RawKannel>,
    android: Option<super::http_config::RawAndroid>,
    web: Option<super::http_config::RawWeb>,
    on_receive: Option<Vec<String>>,
    on_receive_timeout: Option<String>,
    #[serde(default)]
    modem: Vec<RawModem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModem {
    id: Option<String>,
    device: Option<PathBuf>,
    simulate: Option<String>,
    profile: Option<String>,
    baud: Option<u32>,
    pin: Option<String>,
    #[serde(default)]
    prefixes: Vec<String>,
    daily_cap: Option<i64>,
    hourly_cap: Option<i64>,
    send_gap: Option<String>,
    send_gap_max: Option<String>,
    send_timeout: Option<String>,
}

/// Where a modem is.
#[derive(Debug, Clone)]
pub enum ModemSource {
    Device(PathBuf),
    /// The built-in simulator, of this family.
    Simulated(&'static crate::sim::SimProfile),
}

/// One `[[modem]]` section: where the modem is, how its actor drives it (the actor's own
/// [`ModemConfig`], not a copy of its fields), and how it takes part in routing.
#[derive(Debug, Clone)]
pub struct ModemSetup {
    pub source: ModemSource,
    /// The actor's configuration; for a simulated modem, `path` is set at start-up, where
    /// its pty is made.
    pub modem: ModemConfig,
    pub rules: ModemRules,
}

impl ModemSetup {
    pub fn id(&self) -> &str {
        &self.modem.id
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub reject_calls: bool,
    /// Full phone numbers in logs, for debugging (off: only the last three digits).
    pub log_sensitive: bool,
    /// Log level or RUST_LOG-style filter (`None`: the command line's).
    pub log_level: Option<String>,
    pub database: Option<crate::store::Location>,
    pub socket: Option<PathBuf>,
    /// Group of the socket smsqd creates itself (socket activation sets it in the unit).
    pub socket_group: Option<(String, u32)>,
    pub modems: Vec<ModemSetup>,
    /// Kannel's `sendsms` interface, when configured.
    pub kannel: Option<super::http_config::KannelConfig>,
    /// The Android-gateway REST interface, when configured.
    pub android: Option<super::http_config::AndroidConfig>,
    /// The shop's web page, when configured.
    pub web: Option<crate::http::web::Settings>,
}

/// A configuration mistake: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.key, self.problem)
        }
    }
}

pub(super) fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

pub(super) fn duration(
    key: &str,
    value: &Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if v.trim() == "0" || v.trim() == "0s" => Ok(Duration::ZERO),
        Some(v) => match v.trim().strip_suffix("ms") {
            Some(ms) => ms.parse().map(Duration::from_millis).map_err(|_| {
                err(
                    key,
                    format!("{v:?} is not a duration (like 500ms, 30s, 5m, 24h)"),
                )
            }),
            None => crate::time::parse_duration(v).map_err(|_| {
                err(
                    key,
                    format!("{v:?} is not a duration (like 500ms, 30s, 5m, 24h)"),
                )
            }),
        },
    }
}

/// The id of group `name`, from /etc/group.
fn group_id(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|line| {
            let mut f = line.split(':');
            (f.next()? == name).then_some(())?;
            f.nth(1)?.parse().ok()
        })
}

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err("", format!("cannot read {}: {e}", path.display())))?;
    parse(&text)
}

/// Validates configuration text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        // toml names the line and the key; keep its first line, which says both.
        let message = e.to_string();
        err(
            "",
            message
                .lines()
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string(),
        )
    })?;
    let defaults = Settings::default();
    let country = match &raw.country {
        None => None,
        Some(c) => Some(phone::country(c).ok_or_else(|| {
            err(
                "country",
                format!("{c:?} is not a country smsq knows; use an ISO code such as PH, PL, GB"),
            )
        })?),
    };
    let max_attempts = raw.max_attempts.unwrap_or(defaults.max_attempts);
    if !(1..=100).contains(&max_attempts) {
        return Err(err("max_attempts", "must be between 1 and 100"));
    }
    let max_parts = raw.max_parts.unwrap_or(defaults.max_parts);
    if max_parts == 0 {
        return Err(err("max_parts", "must be at least 1 (255 at most)"));
    }
    let max_connections = raw.max_connections.unwrap_or(defaults.max_connections);
    if !(1..=100_000).contains(&max_connections) {
        return Err(err("max_connections", "must be between 1 and 100000"));
    }
    let host = match &raw.host {
        None => defaults.host.clone(),
        Some(name) => {
            let ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(err(
                    "host",
                    "1 to 64 letters, digits, '-', '_' or '.' (e.g. \"branch-2\")",
                ));
            }
            name.clone()
        }
    };
    let lease = duration("lease", &raw.lease, defaults.lease)?;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&lease) {
        return Err(err("lease", "between 1s and 1h (30s suits most shops)"));
    }
    let keep = |key: &str, value: &Option<String>| -> Result<Option<Duration>, ConfigError> {
        value
            .as_ref()
            .map(|_| duration(key, value, Duration::ZERO))
            .transpose()?
            .map(|d| {
                if d < Duration::from_secs(86_400) {
                    Err(err(key, "keep at least a day (1d)"))
                } else {
                    Ok(d)
                }
            })
            .transpose()
    };
    let settings = Settings {
        default_country: country,
        status_reports: raw.delivery_reports.unwrap_or(defaults.status_reports),
        send_gap: duration("send_gap", &raw.send_gap, defaults.send_gap)?,
        max_attempts,
        retry_base: duration("retry_base", &raw.retry_base, defaults.retry_base)?,
        multipart_timeout: duration(
            "multipart_timeout",
            &raw.multipart_timeout,
            defaults.multipart_timeout,
        )?,
        max_parts,
        max_connections,
        host,
        lease,
        keep_texts: keep("keep_texts", &raw.keep_texts)?,
        keep_messages: keep("keep_messages", &raw.keep_messages)?,
        keep_events: keep("keep_events", &raw.keep_events)?,
        time_zone: match &raw.time_zone {
            None => defaults.time_zone,
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                err(
                    "time_zone",
                    format!("{name:?} is not a time zone this system knows (e.g. Asia/Manila)"),
                )
            })?,
        },
        ..defaults
    };
    let care = super::care_config::care(
        raw.care.as_ref(),
        &settings.time_zone,
        settings.default_country,
    )?;
    let on_receive = match &raw.on_receive {
        None => None,
        Some(argv) if argv.is_empty() || argv[0].trim().is_empty() => {
            return Err(err(
                "on_receive",
                "give the program's path and its arguments as a list",
            ));
        }
        Some(argv) => {
            if !Path::new(&argv[0]).is_absolute() {
                return Err(err(
                    "on_receive",
                    format!(
                        "{:?}: give the program's absolute path (it runs without a shell or PATH lookup surprises)",
                        argv[0]
                    ),
                ));
            }
            let timeout = duration(
                "on_receive_timeout",
                &raw.on_receive_timeout,
                Duration::from_secs(120),
            )?;
            if timeout.is_zero() || timeout > Duration::from_secs(3600) {
                return Err(err("on_receive_timeout", "give it between 1s and 1h"));
            }
            Some(crate::daemon::hooks::Hook {
                argv: argv.clone(),
                timeout,
            })
        }
    };
    let settings = Settings {
        care: std::sync::Arc::new(care),
        on_receive,
        ..settings
    };
    if raw.modem.is_empty() {
        return Err(err(
            "modem",
            "no [[modem]] section: configure at least one modem",
        ));
    }
    let mut modems = Vec::new();
    for (i, m) in raw.modem.iter().enumerate() {
        let key = |k: &str| format!("modem[{i}].{k}");
        let id = m.id.clone().unwrap_or_else(|| format!("modem{i}"));
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err(key("id"), "use letters, digits, '-' and '_' only"));
        }
        if modems.iter().any(|x: &ModemSetup| x.id() == id) {
            return Err(err(key("id"), format!("{id:?} is used by another modem")));
        }
        let source = match (&m.device, &m.simulate) {
            (Some(d), None) => ModemSource::Device(d.clone()),
            (None, Some(family)) => {
                ModemSource::Simulated(crate::sim::profile::by_name(family).ok_or_else(|| {
                    err(
                        key("simulate"),
                        format!(
                            "{family:?} is not a simulated family; use simcom, huawei or quectel"
                        ),
                    )
                })?)
            }
            (Some(_), Some(_)) => {
                return Err(err(
                    key("device"),
                    "give either device or simulate, not both",
                ));
            }
            (None, None) => {
                return Err(err(
                    key("device"),
                    "missing: the modem's serial device (or simulate = \"simcom\")",
                ));
            }
        };
        let profile_name = m.profile.clone().unwrap_or_else(|| match &source {
            ModemSource::Simulated(p) => p.name.to_string(),
            ModemSource::Device(_) => "generic".into(),
        });
        let profile = profile::by_name(&profile_name).ok_or_else(|| {
            let names: Vec<&str> = profile::PROFILES.iter().map(|p| p.name).collect();
            err(
                key("profile"),
                format!(
                    "{profile_name:?} is unknown; use one of {}",
                    names.join(", ")
                ),
            )
        })?;
        let baud = m.baud.unwrap_or(115_200);
        if ![
            9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600,
        ]
        .contains(&baud)
        {
            return Err(err(
                key("baud"),
                format!("{baud} is not a standard serial speed"),
            ));
        }
        let pin = m
            .pin
            .as_deref()
            .map(Pin::parse)
            .transpose()
            .map_err(|e| err(key("pin"), e.to_string()))?;
        for p in &m.prefixes {
            if !p.starts_with('+') || p.len() < 2 || !p[1..].chars().all(|c| c.is_ascii_digit()) {
                return Err(err(
                    key("prefixes"),
                    format!("{p:?} is not an international prefix like \"+63917\""),
                ));
            }
        }
        for (name, cap) in [("daily_cap", m.daily_cap), ("hourly_cap", m.hourly_cap)] {
            if let Some(cap) = cap
                && cap < 1
            {
                return Err(err(
                    key(name),
                    "must be at least 1 (leave it out for no cap)",
                ));
            }
        }
        let path = match &source {
            ModemSource::Device(path) => path.clone(),
            ModemSource::Simulated(_) => PathBuf::new(),
        };
        let mut modem = ModemConfig::new(id, path, profile);
        modem.baud = baud;
        modem.pin = pin;
        modem.send_timeout = duration(
            &key("send_timeout"),
            &m.send_timeout,
            Duration::from_secs(60),
        )?;
        modems.push(ModemSetup {
            source,
            modem,
            rules: ModemRules {
                prefixes: m.prefixes.clone(),
                daily_cap: m.daily_cap,
                hourly_cap: m.hourly_cap,
                send_gap: match &m.send_gap {
                    None => None,
                    Some(_) => Some(duration(&key("send_gap"), &m.send_gap, Duration::ZERO)?),
                },
                send_gap_max: match &m.send_gap_max {
                    None => None,
                    Some(_) => {
                        let max = duration(&key("send_gap_max"), &m.send_gap_max, Duration::ZERO)?;
                        let gap = match &m.send_gap {
                            None => settings.send_gap,
                            Some(_) => duration(&key("send_gap"), &m.send_gap, Duration::ZERO)?,
                        };
                        if max < gap {
                            return Err(err(
                                key("send_gap_max"),
                                "must not be shorter than send_gap (the gaps are drawn between the two)",
                            ));
                        }
                        Some(max)
                    }
                },
            },
        });
    }
    let modem_ids: Vec<String> = modems.iter().map(|m| m.id().to_string()).collect();
    let kannel =
        super::http_config::kannel(raw.kannel.as_ref(), &settings.care.topics, &modem_ids)?;
    let android = super::http_config::android(raw.android.as_ref())?;
    let web = super::http_config::web(raw.web.as_ref())?;
    let listeners: Vec<(&str, std::net::SocketAddr)> = kannel
        .iter()
        .map(|k| ("kannel.listen", k.settings.listen))
        .chain(
            android
                .iter()
                .map(|a| ("android.listen", a.settings.listen)),
        )
        .chain(web.iter().map(|w| ("web.listen", w.listen)))
        .collect();
    for (i, (key, addr)) in listeners.iter().enumerate() {
        if listeners[..i].iter().any(|(_, other)| other == addr) {
            return Err(err(*key, "each HTTP interface needs a listener of its own"));
        }
    }
    let settings = Settings {
        web_address: web.as_ref().map(|w| w.listen),
        ..settings
    };
    Ok(Config {
        kannel,
        android,
        web,
        settings,
        reject_calls: raw.reject_calls.unwrap_or(true),
        log_sensitive: raw.log_sensitive.unwrap_or(false),
        log_level: raw.log_level,
        database: raw.database.as_deref().map(crate::store::Location::parse),
        socket: raw.socket,
        socket_group: match raw.socket_group {
            None => None,
            Some(name) => {
                let gid = group_id(&name).ok_or_else(|| {
                    err("socket_group", format!("no group {name:?} on this system"))
                })?;
                Some((name, gid))
            }
        },
        modems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        country = "PH"
        send_gap = "2s"
        max_attempts = 4
        multipart_timeout = "12h"
        [[modem]]
        id = "globe"
        device = "/dev/ttyUSB2"
        profile = "huawei"
        pin = "1234"
        prefixes = ["+63917", "+63905"]
        daily_cap = 300
        send_gap = "5s"
        [[modem]]
        id = "smart"
        simulate = "simcom"
    "#;

    #[test]
    fn a_full_file() {
        let c = parse(FULL).unwrap();
        assert_eq!(c.settings.default_country.unwrap().iso, "PH");
        assert_eq!(c.settings.send_gap, Duration::from_secs(2));
        assert_eq!(c.settings.max_attempts, 4);
        assert_eq!(c.settings.multipart_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(c.modems.len(), 2);
        assert_eq!(c.modems[0].modem.profile.name, "huawei");
        assert_eq!(c.modems[0].rules.daily_cap, Some(300));
        assert_eq!(c.modems[0].rules.send_gap, Some(Duration::from_secs(5)));
        assert_eq!(c.modems[1].rules.send_gap, None);
        assert_eq!(c.modems[1].modem.profile.name, "simcom");
        assert!(matches!(c.modems[1].source, ModemSource::Simulated(_)));
        assert!(c.reject_calls);
    }

    #[test]
    fn each_kind_of_mistake_names_its_key() {
        let bad = |text: &str| parse(text).unwrap_err().to_string();
        let modem = "[[modem]]\ndevice = \"/dev/ttyUSB0\"\n";
        assert!(bad("").contains("modem: no [[modem]] section"));
        assert!(
            bad(&format!("contry = \"PH\"\n{modem}")).contains("contry"),
            "typos surface"
        );
        assert!(bad(&format!("country = \"XX\"\n{modem}")).starts_with("country:"));
        assert!(bad(&format!("send_gap = \"soon\"\n{modem}")).starts_with("send_gap:"));
        assert!(bad(&format!("max_attempts = 0\n{modem}")).starts_with("max_attempts:"));
        assert!(bad(&format!("max_connections = 0\n{modem}")).starts_with("max_connections:"));
        assert!(bad(&format!("keep_texts = \"2h\"\n{modem}")).starts_with("keep_texts:"));
        assert!(bad(&format!("keep_events = \"soon\"\n{modem}")).starts_with("keep_events:"));
        assert!(bad(&format!("time_zone = \"Mars/Olympus\"\n{modem}")).starts_with("time_zone:"));
        assert!(
            bad(&format!("send_gap = 3\n{modem}")).contains("send_gap"),
            "wrong type"
        );
        assert!(bad("[[modem]]\nid = \"a\"\n").starts_with("modem[0].device: missing"));
        assert!(
            bad("[[modem]]\ndevice = \"/dev/x\"\nsimulate = \"simcom\"\n").contains("not both")
        );
        assert!(bad("[[modem]]\nsimulate = \"nokia\"\n").starts_with("modem[0].simulate:"));
        assert!(bad(&format!("{modem}profile = \"acme\"\n")).starts_with("modem[0].profile:"));
        assert!(bad(&format!("{modem}pin = \"12\"\n")).starts_with("modem[0].pin:"));
        assert!(bad(&format!("{modem}baud = 1234\n")).starts_with("modem[0].baud:"));
        assert!(bad(&format!("{modem}prefixes = [\"0917\"]\n")).starts_with("modem[0].prefixes:"));
        assert!(bad(&format!("{modem}daily_cap = 0\n")).starts_with("modem[0].daily_cap:"));
        assert!(bad(&format!("{modem}send_gap = \"later\"\n")).starts_with("modem[0].send_gap:"));
        assert!(
            bad(&format!("socket_group = \"no-such-group-xyz\"\n{modem}"))
                .starts_with("socket_group:")
        );
        assert!(
            bad(&format!("{modem}id = \"x\"\n{modem}id = \"x\"\n")).starts_with("modem[1].id:")
        );
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../systemd/smsqd.example.toml");
        let c = super::parse(text).expect("systemd/smsqd.example.toml parses");
        let defaults = crate::daemon::Settings::default();
        // The example states the defaults; keep them in step with the code.
        assert_eq!(c.settings.send_gap, defaults.send_gap);
        assert_eq!(c.settings.max_attempts, defaults.max_attempts);
        assert_eq!(c.settings.retry_base, defaults.retry_base);
        assert_eq!(c.settings.multipart_timeout, defaults.multipart_timeout);
        assert_eq!(c.settings.max_parts, defaults.max_parts);
        assert_eq!(c.settings.max_connections, defaults.max_connections);
        assert_eq!(
            c.settings.keep_texts, None,
            "retention is off unless asked for"
        );
        assert_eq!(c.modems.len(), 1);
    }
}

/// Whether a changed key takes effect on SIGHUP or needs a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reload {
    Live,
    Restart,
}

/// Every top-level key a reload compares: its name, when a change applies, and how it reads.
/// A key as the log names it, when a change applies, and how its value reads.
type Key<T> = (&'static str, Reload, fn(&T) -> String);

const KEYS: &[Key<Config>] = &[
    ("country", Reload::Live, |c| {
        format!("{:?}", c.settings.default_country.map(|c| c.iso))
    }),
    ("delivery_reports", Reload::Live, |c| {
        c.settings.status_reports.to_string()
    }),
    ("send_gap", Reload::Live, |c| {
        format!("{:?}", c.settings.send_gap)
    }),
    ("max_attempts", Reload::Live, |c| {
        c.settings.max_attempts.to_string()
    }),
    ("retry_base", Reload::Live, |c| {
        format!("{:?}", c.settings.retry_base)
    }),
    ("multipart_timeout", Reload::Live, |c| {
        format!("{:?}", c.settings.multipart_timeout)
    }),
    ("time_zone", Reload::Live, |c| {
        format!("{:?}", c.settings.time_zone.iana_name())
    }),
    ("keep_texts", Reload::Live, |c| {
        format!("{:?}", c.settings.keep_texts)
    }),
    ("keep_messages", Reload::Live, |c| {
        format!("{:?}", c.settings.keep_messages)
    }),
    ("keep_events", Reload::Live, |c| {
        format!("{:?}", c.settings.keep_events)
    }),
    ("max_connections", Reload::Live, |c| {
        c.settings.max_connections.to_string()
    }),
    ("max_parts", Reload::Live, |c| {
        c.settings.max_parts.to_string()
    }),
    ("log_sensitive", Reload::Live, |c| {
        c.log_sensitive.to_string()
    }),
    ("log_level", Reload::Live, |c| format!("{:?}", c.log_level)),
    ("reject_calls", Reload::Restart, |c| {
        c.reject_calls.to_string()
    }),
    ("database", Reload::Restart, |c| format!("{:?}", c.database)),
    ("host", Reload::Restart, |c| c.settings.host.clone()),
    ("lease", Reload::Live, |c| format!("{:?}", c.settings.lease)),
    ("socket", Reload::Restart, |c| format!("{:?}", c.socket)),
    ("socket_group", Reload::Restart, |c| {
        format!("{:?}", c.socket_group)
    }),
    ("care.shop_name", Reload::Live, |c| {
        c.settings.care.shop_name.clone()
    }),
    ("care.topics", Reload::Live, |c| {
        format!(
            "{:?} (double opt-in {:?})",
            c.settings.care.topics, c.settings.care.double_opt_in
        )
    }),
    ("care.quiet_hours", Reload::Live, |c| {
        let q = &c.settings.care.policy.quiet_hours;
        let countries: Vec<String> = q
            .by_country
            .iter()
            .map(|(c, w)| format!("{c} {w}"))
            .collect();
        format!(
            "{}, default {}, {} holiday(s), hold_transactional {}",
            countries.join(", "),
            q.default,
            q.holidays.len(),
            c.settings.care.policy.hold_transactional
        )
    }),
    ("care.caps", Reload::Live, |c| {
        let care = &c.settings.care;
        format!(
            "{}/day {}/30 days, bulk over {}",
            care.policy.cap_per_day, care.policy.cap_per_30_days, care.bulk_limit
        )
    }),
    ("care.auto_reply", Reload::Live, |c| {
        let care = &c.settings.care;
        format!(
            "{:?}, business hours {}, countries {:?}",
            care.auto_replies, care.business_hours, care.auto_reply_countries
        )
    }),
    ("care.keywords", Reload::Live, |c| {
        format!("{:?}", c.settings.care.keywords)
    }),
    // The HTTP interfaces are bound at start: their changes need a restart. Summaries leave
    // out hashes, keys and URLs' queries (this goes to the log).
    ("kannel", Reload::Restart, |c| match &c.kannel {
        None => "off".into(),
        Some(k) => format!(
            "{} {} users {:?} pushes to {:?}",
            k.settings.listen,
            k.settings.path,
            k.settings.users.iter().map(|u| &u.name).collect::<Vec<_>>(),
            k.push
                .iter()
                .map(|p| crate::http::escapes::host_of(&p.url))
                .collect::<Vec<_>>()
        ),
    }),
    ("android", Reload::Restart, |c| match &c.android {
        None => "off".into(),
        Some(a) => format!(
            "{} user {} signing {}",
            a.settings.listen,
            a.settings.username,
            if a.settings.signing_key.is_some() {
                "on"
            } else {
                "off"
            }
        ),
    }),
    ("web", Reload::Restart, |c| match &c.web {
        None => "off".into(),
        Some(w) => format!("{} hosts {:?}", w.listen, w.allowed_hosts),
    }),
    ("care.texts", Reload::Live, |c| {
        let care = &c.settings.care;
        format!(
            "{:?} {:?} {:?} {:?} {:?}",
            care.stop_text, care.start_text, care.help_text, care.footer, care.confirmation_window
        )
    }),
];

/// Every key of a `[[modem]]` section a reload compares.
const MODEM_KEYS: &[Key<ModemSetup>] = &[
    ("device", Reload::Restart, |m| match &m.source {
        ModemSource::Device(p) => p.display().to_string(),
        ModemSource::Simulated(p) => format!("simulate {}", p.name),
    }),
    ("profile", Reload::Restart, |m| m.modem.profile.name.into()),
    ("baud", Reload::Restart, |m| m.modem.baud.to_string()),
    // Whether one is set, never the PIN itself: this goes to the log.
    ("pin", Reload::Restart, |m| {
        m.modem.pin.as_ref().map_or("none", |_| "set").into()
    }),
    ("send_timeout", Reload::Restart, |m| {
        format!("{:?}", m.modem.send_timeout)
    }),
    ("prefixes", Reload::Live, |m| {
        format!("{:?}", m.rules.prefixes)
    }),
    ("daily_cap", Reload::Live, |m| {
        format!("{:?}", m.rules.daily_cap)
    }),
    ("send_gap", Reload::Live, |m| {
        format!("{:?}", m.rules.send_gap)
    }),
    ("hourly_cap", Reload::Live, |m| {
        format!("{:?}", m.rules.hourly_cap)
    }),
    ("send_gap_max", Reload::Live, |m| {
        format!("{:?}", m.rules.send_gap_max)
    }),
];

/// What a reload changes: the keys applied now, and the keys that need a restart
/// (`key: old -> new` each).
pub fn diff(old: &Config, new: &Config) -> (Vec<String>, Vec<String>) {
    let mut applied = Vec::new();
    let mut restart = Vec::new();
    let mut note = |key: &str, reload: Reload, a: String, b: String| {
        if a != b {
            let line = format!("{key}: {a} -> {b}");
            match reload {
                Reload::Live => applied.push(line),
                Reload::Restart => restart.push(line),
            }
        }
    };
    for (key, reload, show) in KEYS {
        note(key, *reload, show(old), show(new));
    }
    let ids = |c: &Config| {
        c.modems
            .iter()
            .map(|m| m.id().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if ids(old) != ids(new) {
        note("modem", Reload::Restart, ids(old), ids(new));
        return (applied, restart);
    }
    for (i, (a, b)) in old.modems.iter().zip(&new.modems).enumerate() {
        for (key, reload, show) in MODEM_KEYS {
            note(&format!("modem[{i}].{key}"), *reload, show(a), show(b));
        }
    }
    (applied, restart)
}

#[cfg(test)]
mod reload_tests {
    #[test]
    fn diff_separates_live_changes_from_restarts() {
        let a = super::parse("send_gap = \"3s\"\n[[modem]]\nid = \"g\"\nsimulate = \"simcom\"\nprefixes = [\"+63917\"]\n").unwrap();
        let b = super::parse("send_gap = \"5s\"\n[[modem]]\nid = \"g\"\nsimulate = \"huawei\"\nprefixes = [\"+63918\"]\ndaily_cap = 9\n").unwrap();
        let (applied, restart) = super::diff(&a, &b);
        assert_eq!(
            applied,
            vec![
                "send_gap: 3s -> 5s".to_string(),
                "modem[0].prefixes: [\"+63917\"] -> [\"+63918\"]".into(),
                "modem[0].daily_cap: None -> Some(9)".into(),
            ]
        );
        assert_eq!(
            restart,
            vec![
                "modem[0].device: simulate simcom -> simulate huawei".to_string(),
                "modem[0].profile: simcom -> huawei".into(),
            ]
        );
    }

    #[test]
    fn customer_care_and_pacing_changes_apply_live() {
        let modem = "[[modem]]\nid = \"g\"\nsimulate = \"simcom\"\n";
        let a = super::parse(&format!("{modem}[care]\nshop_name = \"Ana\"\n")).unwrap();
        let b = super::parse(&format!(
            "{modem}hourly_cap = 60\nsend_gap_max = \"9s\"\n[care]\nshop_name = \"Ana's\"\nmarketing_per_30_days = 2\n[care.quiet_hours]\nPH = \"08:00-20:00\"\n"
        ))
        .unwrap();
        let (applied, restart) = super::diff(&a, &b);
        assert!(restart.is_empty(), "{restart:?}");
        let keys: Vec<&str> = applied
            .iter()
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "care.shop_name",
                "care.quiet_hours",
                "care.caps",
                "modem[0].hourly_cap",
                "modem[0].send_gap_max"
            ],
            "{applied:?}"
        );
        let c = super::parse(&format!("{modem}send_gap_max = \"1s\"\n")).unwrap_err();
        assert_eq!(c.key, "modem[0].send_gap_max");
    }
}
