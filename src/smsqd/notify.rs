//! The systemd notification protocol (sd_notify(3)): `READY=1` once the store is open and the
//! socket bound, `STATUS=` text that follows the modems, `WATCHDOG=1` from a loop that stops
//! when the daemon is stuck, `STOPPING=1` on the way out. A datagram per message to
//! `$NOTIFY_SOCKET` (a path, or an abstract name starting with `@`); without the variable
//! (not under systemd) every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

pub struct Notifier {
    target: Option<(UnixDatagram, String)>,
}

impl Notifier {
    pub fn from_env() -> Self {
        let target = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|addr| UnixDatagram::unbound().ok().map(|s| (s, addr)));
        Self { target }
    }

    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Sends `state` (e.g. `READY=1`, `STATUS=...`). Failures are ignored: systemd going away
    /// must not stop the shop's messages.
    pub fn notify(&self, state: &str) {
        let Some((socket, addr)) = &self.target else {
            return;
        };
        let _ = match addr.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .and_then(|a| socket.send_to_addr(state.as_bytes(), &a))
            }
            None => socket.send_to(state.as_bytes(), addr),
        };
    }

    /// How often to ping the watchdog: half of `$WATCHDOG_USEC`, when it is meant for us.
    pub fn watchdog_interval() -> Option<Duration> {
        if let Ok(pid) = std::env::var("WATCHDOG_PID")
            && pid.trim() != std::process::id().to_string()
        {
            return None;
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some((
                UnixDatagram::unbound().unwrap(),
                path.to_string_lossy().into(),
            )),
        };
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
        // Without NOTIFY_SOCKET nothing happens.
        Notifier { target: None }.notify("READY=1");
    }
}
