//! Who may open the shop's web page: the one-time setup links that create an owner (at the
//! first start, or on the local administrator's request when the owner's password is lost),
//! and the tokens behind them and behind sessions. Only a hash of a token is ever stored.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Daemon, Error};
use crate::time::now_ms;

/// How long a setup link works.
pub const SETUP_VALID: Duration = Duration::from_secs(24 * 3600);

/// 32 random bytes in hex.
pub fn random_token() -> Result<String, Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Store(format!("no random source: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// What the database keeps of a token.
pub fn token_hash(t: &str) -> String {
    Sha256::digest(t.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A setup link and when it stops working (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLink {
    pub url: String,
    pub expires_at: i64,
}

impl Daemon {
    /// A new one-time setup link (the one before it stops working): it creates one owner.
    pub async fn issue_setup_link(&self) -> Result<SetupLink, Error> {
        let Some(address) = self.settings().web_address else {
            return Err(Error::Unavailable(
                "the web page is off: add a [web] section to the configuration".into(),
            ));
        };
        let token = random_token()?;
        let (hash, expires_at) = (
            token_hash(&token),
            now_ms() + SETUP_VALID.as_millis() as i64,
        );
        self.store
            .call(move |db| db.set_web_setup(&hash, expires_at))
            .await?;
        let host = match address.ip() {
            ip if ip.is_unspecified() || ip.is_loopback() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        Ok(SetupLink {
            url: format!("http://{host}:{}/setup?token={token}", address.port()),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_fixed_length() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
