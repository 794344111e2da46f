//! The HTTP interfaces' sections of the configuration, validated: `[kannel]` with its
//! `[[kannel.user]]` accounts and `[[kannel.mo_push]]` pushes, `[android]` (the REST
//! interface of SMS Gateway for Android) and `[web]` (the shop's web page).
//!
//! ```toml
//! [kannel]
//! listen = "127.0.0.1:13013"        # loopback unless the LAN must reach it
//! # allowed_hosts = ["shop-pc.lan"] # host names it is reached by, besides loopback
//! [[kannel.user]]
//! username = "playsms"
//! password_hash = "$argon2id$v=19$..."  # smsqd hash-password
//! allow_ip = ["127.0.0.1"]
//! classes = ["transactional", "reply"]  # the first is the default
//! # modems = ["globe"]                  # the first is the default; none: routing decides
//! max_messages = 3
//! [[kannel.mo_push]]
//! url = "http://127.0.0.1/playsms/index.php?app=call&cat=gateway&plugin=kannel&access=geturl&t=%t&q=%q&a=%a&Q=%Q&smsc=%i"
//!
//! [android]
//! listen = "127.0.0.1:8080"
//! username = "sms"
//! password_hash = "$argon2id$v=19$..."
//! signing_key = "a long random string"   # webhooks' X-Signature
//!
//! [web]
//! listen = "127.0.0.1:8025"
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::config::{ConfigError, err};
use crate::daemon::Class;
use crate::http::auth;
use crate::http::callbacks::MoPush;
use crate::http::{android, kannel, web};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKannel {
    listen: Option<String>,
    path: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    retry_for: Option<String>,
    retry_first: Option<String>,
    #[serde(default)]
    user: Vec<RawUser>,
    #[serde(default)]
    mo_push: Vec<RawPush>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Option<String>,
    password_hash: Option<String>,
    /// Refused with a pointer to `password_hash`: a password never sits in the file.
    password: Option<String>,
    #[serde(default)]
    allow_ip: Vec<String>,
    classes: Option<Vec<String>>,
    default_topic: Option<String>,
    #[serde(default)]
    modems: Vec<String>,
    max_messages: Option<u8>,
    dlr_url: Option<String>,
    allow_links: Option<bool>,
    bulk: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPush {
    name: Option<String>,
    url: Option<String>,
    method: Option<String>,
    keyword: Option<String>,
    reply_from_body: Option<bool>,
    max_messages: Option<u8>,
    forward_keywords: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAndroid {
    listen: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    username: Option<String>,
    password_hash: Option<String>,
    password: Option<String>,
    signing_key: Option<String>,
    device_id: Option<String>,
    webhook_attempts: Option<i64>,
    retry_first: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    listen: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    session: Option<String>,
}

pub(super) fn web(raw: Option<&RawWeb>) -> Result<Option<web::Settings>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let listen = listen_address("web.listen", raw.listen.as_deref(), "127.0.0.1:8025")?;
    let session =
        super::config::duration("web.session", &raw.session, Duration::from_secs(12 * 3600))?;
    if session < Duration::from_secs(300) || session > Duration::from_secs(30 * 86_400) {
        return Err(err("web.session", "between 5m and 30d"));
    }
    for h in &raw.allowed_hosts {
        if h.is_empty() || h.contains(['/', ' ', ':']) {
            return Err(err(
                "web.allowed_hosts",
                format!("{h:?} is not a host name"),
            ));
        }
    }
    Ok(Some(web::Settings {
        listen,
        allowed_hosts: raw.allowed_hosts.clone(),
        session,
    }))
}

/// The Android-gateway interface as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidConfig {
    pub settings: android::Settings,
    /// Attempts of each webhook call (the app's `retry_count`, 15).
    pub webhook_attempts: i64,
    /// The first delay after a failed attempt (doubling, up to an hour).
    pub retry_first: Duration,
}

/// A password hash under `key`: present, Argon2, not a sample's; a plain password refused.
fn password_hash(
    key: impl Fn(&str) -> String,
    hash: Option<&String>,
    plain: Option<&String>,
) -> Result<String, ConfigError> {
    if plain.is_some() {
        return Err(err(
            key("password"),
            "passwords are not kept in the configuration: write its hash as password_hash \
             (make one with `smsqd --hash-password`)",
        ));
    }
    let hash = hash.cloned().ok_or_else(|| {
        err(
            key("password_hash"),
            "a password_hash is needed (make one with `smsqd --hash-password`); there is no default password",
        )
    })?;
    auth::check_hash(&hash).map_err(|e| err(key("password_hash"), e))?;
    if let Some(sample) = auth::sample_password(&hash) {
        return Err(err(
            key("password_hash"),
            format!(
                "this is the hash of {sample:?}, a password from samples and tutorials that \
                 anyone would try: choose another"
            ),
        ));
    }
    Ok(hash)
}

fn retry_first(key: &str, value: &Option<String>) -> Result<Duration, ConfigError> {
    let d = super::config::duration(key, value, Duration::from_secs(10))?;
    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
        return Err(err(key, "between 100ms and 1h"));
    }
    Ok(d)
}

pub(super) fn android(raw: Option<&RawAndroid>) -> Result<Option<AndroidConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let key = |k: &str| format!("android.{k}");
    let listen = listen_address(&key("listen"), raw.listen.as_deref(), "127.0.0.1:8080")?;
    let username = raw
        .username
        .clone()
        .filter(|u| !u.trim().is_empty() && !u.contains([':', ' ']) && u.len() <= 64)
        .ok_or_else(|| err(key("username"), "a word of at most 64 characters, no ':'"))?;
    let password_hash = password_hash(key, raw.password_hash.as_ref(), raw.password.as_ref())?;
    if let Some(k) = &raw.signing_key
        && k.len() < 16
    {
        return Err(err(
            key("signing_key"),
            "at least 16 characters (a guessable key signs nothing)",
        ));
    }
    let device_id = raw.device_id.clone().unwrap_or_else(|| "smsq".into());
    if device_id.is_empty()
        || device_id.len() > 64
        || !device_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(err(key("device_id"), "letters, digits, '-' and '_'"));
    }
    let webhook_attempts = raw.webhook_attempts.unwrap_or(15);
    if !(1..=100).contains(&webhook_attempts) {
        return Err(err(key("webhook_attempts"), "between 1 and 100"));
    }
    let retry_first = retry_first(&key("retry_first"), &raw.retry_first)?;
    Ok(Some(AndroidConfig {
        retry_first,
        settings: android::Settings {
            listen,
            allowed_hosts: raw.allowed_hosts.clone(),
            username,
            password_hash,
            signing_key: raw.signing_key.clone(),
            device_id,
        },
        webhook_attempts,
    }))
}

/// The Kannel interface as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KannelConfig {
    pub settings: kannel::Settings,
    pub push: Vec<MoPush>,
    /// How long a report or push is tried.
    pub retry_for: Duration,
    /// The first delay after a failed attempt (doubling, up to an hour).
    pub retry_first: Duration,
}

fn listen_address(
    key: &str,
    value: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let value = value.unwrap_or(default);
    value.parse().map_err(|_| {
        err(
            key,
            format!("{value:?} is not an address and port (like 127.0.0.1:13013)"),
        )
    })
}

fn http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(err(
            key,
            format!("{url:?} is not an http:// or https:// URL"),
        ));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(err(key, "a URL holds no spaces or control characters"));
    }
    Ok(())
}

pub(super) fn kannel(
    raw: Option<&RawKannel>,
    topics: &[String],
    modems: &[String],
) -> Result<Option<KannelConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let listen = listen_address("kannel.listen", raw.listen.as_deref(), "127.0.0.1:13013")?;
    let path = raw
        .path
        .clone()
        .unwrap_or_else(|| "/cgi-bin/sendsms".into());
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(err("kannel.path", "a path such as /cgi-bin/sendsms"));
    }
    let retry_for = super::config::duration(
        "kannel.retry_for",
        &raw.retry_for,
        Duration::from_secs(86_400),
    )?;
    let retry_first = retry_first("kannel.retry_first", &raw.retry_first)?;
    if raw.user.is_empty() {
        return Err(err(
            "kannel.user",
            "the interface has no account: add a [[kannel.user]] with a username and a password_hash",
        ));
    }
    let mut users: Vec<kannel::User> = Vec::new();
    for (i, u) in raw.user.iter().enumerate() {
        let key = |k: &str| format!("kannel.user[{i}].{k}");
        let name = u
            .username
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| err(key("username"), "every account needs a username"))?;
        if name.chars().any(|c| c.is_control() || c.is_whitespace()) || name.len() > 64 {
            return Err(err(key("username"), "a word of at most 64 characters"));
        }
        if users.iter().any(|x| x.name == name) {
            return Err(err(key("username"), format!("{name:?} is there twice")));
        }
        let hash = password_hash(key, u.password_hash.as_ref(), u.password.as_ref())?;
        let allow_ip = u
            .allow_ip
            .iter()
            .map(|r| r.parse().map_err(|e: String| err(key("allow_ip"), e)))
            .collect::<Result<Vec<_>, _>>()?;
        let classes = match &u.classes {
            None => vec![Class::Transactional],
            Some(list) if list.is_empty() => {
                return Err(err(key("classes"), "give at least one class"));
            }
            Some(list) => list
                .iter()
                .map(|c| match Class::parse(c) {
                    Some(Class::System) | None => Err(err(
                        key("classes"),
                        format!("{c:?}: use transactional, reply, marketing or survey"),
                    )),
                    Some(class) => Ok(class),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if let Some(t) = &u.default_topic
            && !topics.contains(t)
        {
            return Err(err(
                key("default_topic"),
                format!("{t:?} is not one of [care] topics"),
            ));
        }
        for m in &u.modems {
            if !modems.contains(m) {
                return Err(err(key("modems"), format!("there is no modem {m:?}")));
            }
        }
        if let Some(url) = &u.dlr_url {
            http_url(&key("dlr_url"), url)?;
        }
        let max_messages = u.max_messages.unwrap_or(10);
        if max_messages == 0 {
            return Err(err(key("max_messages"), "at least 1"));
        }
        users.push(kannel::User {
            name,
            password_hash: hash,
            allow_ip,
            classes,
            default_topic: u.default_topic.clone(),
            modems: u.modems.clone(),
            max_messages,
            dlr_url: u.dlr_url.clone(),
            allow_links: u.allow_links.unwrap_or(false),
            bulk: u.bulk.unwrap_or(false),
        });
    }
    let mut push = Vec::new();
    for (i, p) in raw.mo_push.iter().enumerate() {
        let key = |k: &str| format!("kannel.mo_push[{i}].{k}");
        let url = p
            .url
            .clone()
            .ok_or_else(|| err(key("url"), "every push needs a url"))?;
        http_url(&key("url"), &url)?;
        let post = match p.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("GET") => false,
            Some("POST") => true,
            Some(other) => return Err(err(key("method"), format!("{other:?}: GET or POST"))),
        };
        if let Some(k) = &p.keyword
            && (k.trim().is_empty() || k.contains(char::is_whitespace))
        {
            return Err(err(key("keyword"), "one word"));
        }
        push.push(MoPush {
            name: p.name.clone().unwrap_or_else(|| format!("push{}", i + 1)),
            url,
            post,
            keyword: p.keyword.clone(),
            reply_from_body: p.reply_from_body.unwrap_or(false),
            max_messages: p.max_messages.unwrap_or(1).max(1),
            forward_keywords: p.forward_keywords.unwrap_or(false),
        });
    }
    Ok(Some(KannelConfig {
        settings: kannel::Settings {
            listen,
            path,
            allowed_hosts: raw.allowed_hosts.clone(),
            users,
        },
        push,
        retry_for,
        retry_first,
    }))
}
