//! This host among the hosts sharing the database: it joins with its modems at start,
//! renews its lease while it runs (publishing its modems' health for the others' routing,
//! and settling the work of hosts whose lease ran out), and lets go when it stops.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::Daemon;
use crate::store::{HostModem, HostRow, StoreError};
use crate::time::now_ms;

/// The machine's name, for a host not named in the configuration.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "smsqd".to_owned())
}

impl Daemon {
    /// This host's modems as routing sees them, here and on the other hosts.
    pub(super) fn published_modems(&self) -> Vec<HostModem> {
        let rules = self.rules();
        self.modems
            .iter()
            .zip(rules)
            .map(|(m, rules)| HostModem {
                modem: m.id().to_string(),
                healthy: m.status().can_send(),
                prefixes: rules.prefixes.clone(),
                daily_cap: rules.daily_cap,
                hourly_cap: rules.hourly_cap,
            })
            .collect()
    }

    /// The other hosts' modems, as the last heartbeat read them.
    pub fn remote_modems(&self) -> Vec<HostModem> {
        self.remote_modems
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Joins the hosts sharing the database with this host's modems; what its previous run
    /// left mid-send is settled. Returns the messages marked `unknown`.
    pub async fn join_hosts(&self) -> Result<Vec<i64>, StoreError> {
        let settings = self.settings();
        let (host, lease) = (settings.host.clone(), settings.lease.as_millis() as i64);
        let modems = self.published_modems();
        let now = now_ms();
        let unknown = self
            .store
            .call(move |db| db.join(&host, env!("CARGO_PKG_VERSION"), &modems, lease, now))
            .await?;
        self.refresh_remote_modems().await?;
        Ok(unknown)
    }

    async fn refresh_remote_modems(&self) -> Result<(), StoreError> {
        let host = self.settings().host.clone();
        let now = now_ms();
        let remote = self
            .store
            .call(move |db| db.remote_modems(&host, now))
            .await?;
        *self
            .remote_modems
            .write()
            .unwrap_or_else(|e| e.into_inner()) = remote;
        Ok(())
    }

    /// Renews the lease every sixth of it until shutdown. A heartbeat that cannot be
    /// written is retried at the next beat; the lease covers several.
    pub async fn keep_lease(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        loop {
            let lease = self.settings().lease;
            let every = (lease / 6).max(Duration::from_millis(100));
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            let host = self.settings().host.clone();
            let modems = self.published_modems();
            let (lease_ms, now) = (lease.as_millis() as i64, now_ms());
            let beat = self
                .store
                .call(move |db| db.heartbeat(&host, &modems, lease_ms, now))
                .await;
            match beat {
                Ok(lost) if !lost.is_empty() => {
                    warn!(event = "hosts_lost", hosts = ?lost, "hosts stopped answering: their messages mid-send are marked unknown, their queued ones go to any modem");
                    self.wake();
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(event = "store_error", error = %e, "cannot renew this host's lease; trying again");
                    continue;
                }
            }
            if let Err(e) = self.refresh_remote_modems().await {
                warn!(event = "store_error", error = %e, "cannot read the other hosts' modems");
            }
        }
    }

    /// Wakes this host's dispatchers when another host queues or puts back work (their own
    /// submissions wake them directly): on a shared database, new messages arrive through
    /// any host.
    pub async fn follow_other_hosts(self: Arc<Self>) {
        let mut events = self.store.subscribe();
        let mut shutdown = self.shutdown.clone();
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = shutdown.changed() => return,
            };
            match event {
                Ok(e) => {
                    if matches!(
                        e.kind.as_str(),
                        "queued"
                            | "requeued"
                            | "retry"
                            | "released"
                            | "held"
                            | "host_left"
                            | "host_lost"
                    ) {
                        self.wake();
                    }
                }
                // Fell behind: whatever it missed may have been work.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.wake(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Lets go of this host's modems at a clean stop: its claims not started return to the
    /// queue at once, for the other hosts.
    pub async fn leave_hosts(&self) {
        let host = self.settings().host.clone();
        let now = now_ms();
        match self.store.call(move |db| db.leave(&host, now)).await {
            Ok(()) => info!("this host's modems and claims are released"),
            Err(e) => {
                warn!(event = "store_error", error = %e, "cannot release this host's claims; they return when its lease runs out")
            }
        }
    }

    /// Every host that has used the database.
    pub async fn hosts(&self) -> Result<Vec<HostRow>, super::Error> {
        Ok(self.store.call(|db| db.hosts()).await?)
    }
}
