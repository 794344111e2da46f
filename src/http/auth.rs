//! Passwords and who may try them: Argon2id hashes (the configuration holds only those),
//! a memory of pairs already verified so that a busy client does not pay Argon2's cost on
//! every request, and a throttle on failed attempts per client address.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Passwords that ship in samples and tutorials (Kannel's, Kalkun's, common ones): an
/// account whose hash matches one is refused at start.
pub const SAMPLE_PASSWORDS: &[&str] = &[
    "", "kannel", "tester", "foobar", "bar", "password", "admin", "kalkun", "secret", "123456",
    "changeme", "smsq",
];

/// A hash no password matches, verified for unknown account names so that a wrong name
/// takes as long as a wrong password (Argon2id of a random password, default parameters).
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c21zcS1kdW1teS1zYWx0$2cFhY6f0d8z7bCq1yN3cY3m5oS8Wc5Yk2h8s0v7e1Ak";

/// The Argon2id hash (PHC string) of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `hash` is a PHC string this build can verify.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash)
        .map_err(|e| format!("not a password hash ({e}); make one with `smsqd --hash-password`"))?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!(
            "the hash uses {}; smsqd takes Argon2 hashes (`smsqd --hash-password`)",
            parsed.algorithm
        ));
    }
    Ok(())
}

/// Whether `password` matches `hash` (slow by design: Argon2).
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The sample password `hash` was made from, if it was made from one.
pub fn sample_password(hash: &str) -> Option<&'static str> {
    SAMPLE_PASSWORDS.iter().copied().find(|p| verify(hash, p))
}

/// Remembers (account, password) pairs that verified, as keyed digests: the password
/// itself is never kept, and the key is drawn at start, so the memory is useless outside
/// this process. A changed configuration (new hash) starts a new memory.
pub struct Verified {
    key: [u8; 32],
    /// Without the system's random source there is no key, and no memory.
    usable: bool,
    seen: Mutex<HashSet<[u8; 32]>>,
}

impl Default for Verified {
    fn default() -> Self {
        Self::new()
    }
}

impl Verified {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        let usable = getrandom::fill(&mut key).is_ok();
        Self {
            key,
            usable,
            seen: Mutex::new(HashSet::new()),
        }
    }

    fn digest(&self, hash: &str, account: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        for part in [hash, account, password] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether this pair verified before (fast: no Argon2).
    pub fn remembers(&self, hash: &str, account: &str, password: &str) -> bool {
        self.usable
            && self
                .seen
                .lock()
                .expect("verified memory")
                .contains(&self.digest(hash, account, password))
    }

    /// Whether `password` is `account`'s (whose hash is `hash`).
    pub fn check(&self, hash: &str, account: &str, password: &str) -> bool {
        if !self.usable {
            return verify(hash, password);
        }
        let digest = self.digest(hash, account, password);
        if self.seen.lock().expect("verified memory").contains(&digest) {
            return true;
        }
        if !verify(hash, password) {
            return false;
        }
        let mut seen = self.seen.lock().expect("verified memory");
        // A bounded memory: a client cycling through passwords cannot grow it.
        if seen.len() >= 1024 {
            seen.clear();
        }
        seen.insert(digest);
        true
    }
}

/// Failed attempts per client address: after `limit` in `window`, the address is refused
/// without a check until the window has passed.
pub struct Throttle {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` may try now.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let mut failures = self.failures.lock().expect("throttle");
        match failures.get(&ip) {
            Some(&(count, since)) if since.elapsed() < self.window => count < self.limit,
            Some(_) => {
                failures.remove(&ip);
                true
            }
            None => true,
        }
    }

    /// Counts a failed attempt from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().expect("throttle");
        if failures.len() > 10_000 {
            let window = self.window;
            failures.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// What a login attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Granted,
    Refused,
    /// Too many failures from the address lately: not even checked.
    Throttled,
}

/// The password checks of one listener: pairs that verified are remembered, failures are
/// throttled per address, and Argon2 runs off the async threads (it takes tens of
/// milliseconds of CPU, and smsqd's runtime also drives the modems).
pub struct Logins {
    verified: Verified,
    throttle: Throttle,
}

impl Logins {
    /// At most `limit` failures per address in `window`.
    pub fn new(limit: u32, window: Duration) -> Arc<Self> {
        Arc::new(Self {
            verified: Verified::new(),
            throttle: Throttle::new(limit, window),
        })
    }

    /// Checks `password` from `ip` against `hash`, the hash of `account`'s password;
    /// `None` when there is no such account (or it may not log in from `ip`): checked all
    /// the same against a dummy hash, so that a wrong name takes as long as a wrong password.
    pub async fn check(
        self: &Arc<Self>,
        ip: IpAddr,
        account: &str,
        hash: Option<&str>,
        password: &str,
    ) -> Login {
        if !self.throttle.allows(ip) {
            return Login::Throttled;
        }
        let granted = match hash {
            Some(h) if self.verified.remembers(h, account, password) => true,
            _ => {
                let (me, account, hash, password) = (
                    self.clone(),
                    account.to_string(),
                    hash.map(str::to_string),
                    password.to_string(),
                );
                tokio::task::spawn_blocking(move || match &hash {
                    Some(h) => me.verified.check(h, &account, &password),
                    None => {
                        // As slow as a wrong password: names cannot be told apart by time.
                        verify(DUMMY_HASH, &password);
                        false
                    }
                })
                .await
                // Argon2 does not panic on any input; were it to, the login fails.
                .unwrap_or(false)
            }
        };
        if granted {
            Login::Granted
        } else {
            self.throttle.failed(ip);
            Login::Refused
        }
    }
}

/// An address or a network (`192.168.1.0/24`) a client may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRule {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or network (like 192.168.1.0/24)"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { net, prefix })
    }
}

impl IpRule {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        check_hash(&hash).unwrap();
        assert!(verify(&hash, "correct horse"));
        assert!(!verify(&hash, "correct horse "));
        assert!(!verify("not a hash", "x"));
        let v = Verified::new();
        assert!(v.check(&hash, "shop", "correct horse"));
        assert!(v.check(&hash, "shop", "correct horse"), "remembered");
        assert!(!v.check(&hash, "shop", "wrong"));
        assert!(!v.check(&hash, "other", "wrong"));
    }

    #[test]
    fn sample_passwords_are_recognised_in_their_hashes() {
        assert_eq!(
            sample_password(&hash_password("kannel").unwrap()),
            Some("kannel")
        );
        assert_eq!(
            sample_password(&hash_password("n0t-a-sample").unwrap()),
            None
        );
        assert!(check_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
    }

    #[test]
    fn the_throttle_refuses_after_the_limit_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_millis(200));
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..3 {
            assert!(t.allows(ip));
            t.failed(ip);
        }
        assert!(!t.allows(ip));
        assert!(t.allows("10.0.0.8".parse().unwrap()));
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.allows(ip));
    }

    #[tokio::test]
    async fn logins_grant_refuse_and_throttle() {
        let logins = Logins::new(2, Duration::from_secs(60));
        let hash = hash_password("right pass").unwrap();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let check = |account: &str, hash: Option<&str>, pw: &str| {
            let (l, a, h, p) = (
                logins.clone(),
                account.to_string(),
                hash.map(str::to_string),
                pw.to_string(),
            );
            async move { l.check(ip, &a, h.as_deref(), &p).await }
        };
        assert_eq!(
            check("shop", Some(&hash), "right pass").await,
            Login::Granted
        );
        assert_eq!(
            check("shop", Some(&hash), "right pass").await,
            Login::Granted,
            "remembered"
        );
        assert_eq!(check("nobody", None, "right pass").await, Login::Refused);
        assert_eq!(check("shop", Some(&hash), "wrong").await, Login::Refused);
        assert_eq!(
            check("shop", Some(&hash), "right pass").await,
            Login::Throttled
        );
    }

    #[test]
    fn ip_rules_match_addresses_and_networks() {
        let lan: IpRule = "192.168.1.0/24".parse().unwrap();
        assert!(lan.contains("192.168.1.77".parse().unwrap()));
        assert!(lan.contains("::ffff:192.168.1.77".parse().unwrap()));
        assert!(!lan.contains("192.168.2.1".parse().unwrap()));
        let one: IpRule = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let any: IpRule = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRule>().is_err());
        assert!("localhost".parse::<IpRule>().is_err());
    }
}
