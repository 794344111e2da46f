//! Which PINs a SIM refused, remembered across restarts, so that no run of restarts, replugs
//! or a crash loop under systemd can spend the SIM's three attempts and lock it (PUK).
//!
//! The actor asks a [`PinMemory`] before it enters a PIN and tells it when a SIM refuses
//! one; the daemon keeps the answers in its database. Only a fingerprint is kept, and only of
//! PINs a SIM refused: wrong PINs. A four-digit PIN cannot be hidden from someone who holds
//! the fingerprint (there are 10,000 of them), so what is stored is never a correct one.

use std::future::Future;
use std::pin::Pin as Pinned;

use crate::at::command::Pin;

pub type BoxFuture<T> = Pinned<Box<dyn Future<Output = T> + Send>>;

/// Where refused PINs are remembered. `sim` is the SIM's identity (its ICCID where the modem
/// reads it, else the modem's name).
pub trait PinMemory: Send + Sync {
    /// Whether `sim` refused the PIN with `fingerprint` before.
    fn was_refused(&self, sim: &str, fingerprint: &str) -> BoxFuture<Result<bool, String>>;
    /// Remembers that `sim` refused the PIN with `fingerprint`.
    fn remember_refusal(&self, sim: &str, fingerprint: &str) -> BoxFuture<Result<(), String>>;
}

impl std::fmt::Debug for dyn PinMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinMemory")
    }
}

/// The fingerprint of `pin` for `sim`: FNV-1a (64 bits) over both, as hex. Stable across
/// versions and platforms, which a refusal remembered in a database needs.
pub fn fingerprint(sim: &str, pin: &Pin) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in sim.bytes().chain([0]).chain(pin.as_str().bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_per_sim_and_pin_and_never_show_the_pin() {
        let a = Pin::parse("1234").unwrap();
        let b = Pin::parse("1243").unwrap();
        let f = fingerprint("8963021234567890123", &a);
        assert_eq!(f, fingerprint("8963021234567890123", &a));
        assert_ne!(f, fingerprint("8963021234567890123", &b));
        assert_ne!(f, fingerprint("8963020000000000000", &a));
        assert!(!f.contains("1234"));
        assert_eq!(f.len(), 16);
    }
}
