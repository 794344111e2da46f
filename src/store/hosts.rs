//! The hosts that share one database (several smsqd on one PostgreSQL; on SQLite, the one
//! smsqd), the modems each owns, and their leases.
//!
//! A host owns its modems for as long as its lease runs; it renews the lease with each
//! heartbeat. What its modems were doing is settled by whoever finds the lease run out — the
//! host itself when it starts again, or any other host's heartbeat when it does not come
//! back — exactly as after a crash on one PC: a part that was `sending` becomes `unknown`
//! (never resent silently), and a message claimed but not started returns to the queue for
//! any modem. A host that stops cleanly lets go at once ([`Db::leave`]).
//!
//! Routing reads the other hosts' modems from here ([`Db::remote_modems`]): a message for a
//! Globe number goes to whichever host has a healthy Globe SIM.

use super::db::*;
use super::events::*;

/// A modem as its host publishes it for routing on every host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostModem {
    pub modem: String,
    /// Ready and registered on the network.
    pub healthy: bool,
    /// The number prefixes it is meant for (none: any number).
    pub prefixes: Vec<String>,
    pub daily_cap: Option<i64>,
    pub hourly_cap: Option<i64>,
}

/// One host, as `smsq hosts` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    pub name: String,
    pub version: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub lease_until: i64,
    /// When it stopped cleanly, if it did.
    pub stopped_at: Option<i64>,
    /// When another host found its lease run out and settled its work, if one did.
    pub reaped_at: Option<i64>,
    pub modems: Vec<HostModem>,
}

impl HostRow {
    /// Whether it holds its modems now.
    pub fn alive(&self, now: i64) -> bool {
        self.stopped_at.is_none() && self.lease_until > now
    }
}

/// Messages of modems that nobody holds any more: claims not started are let go, and the
/// messages with a part `sending` are returned (for [`mark_interrupted`]). `whose` is a
/// condition on `{modem}` naming the modems concerned, its values in `values` (`?1`, ...).
fn settle(tx: &Connection, whose: &str, values: Params<'_>) -> Result<Vec<i64>> {
    // `state IN (...)` first: the live queue's index, not a scan of all history.
    let released = format!(
        "UPDATE outbox SET modem = NULL
         WHERE state IN ('queued', 'held', 'sending') AND state = 'queued'
           AND modem IS NOT NULL AND {}
           AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = outbox.id
                           AND p.state != 'pending')",
        whose.replace("{modem}", "outbox.modem")
    );
    exec(tx, &released, values)?;
    let interrupted = format!(
        "SELECT o.id FROM outbox o WHERE o.state IN ('queued', 'held', 'sending')
           AND EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = o.id
                       AND p.state = 'sending' AND {})",
        whose.replace("{modem}", "p.modem")
    );
    let mut ids: Vec<i64> = tx
        .prepare_cached(&interrupted)?
        .query_map(values, |r| r.get(0))?
        .collect::<SqlResult<_>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Marks the `sending` parts of messages `ids` and the messages `unknown`, each with its
/// history.
fn mark_interrupted(tx: &Connection, ids: &[i64], why: &str, now: i64) -> Result<()> {
    for id in ids {
        exec(
            tx,
            "UPDATE outbox_parts SET state = 'unknown' WHERE message_id = ?1 AND state = 'sending'",
            params![id],
        )?;
        exec(
            tx,
            "UPDATE outbox SET state = 'unknown', last_error = ?3, updated_at = ?2 WHERE id = ?1",
            params![id, now, why],
        )?;
        event(
            tx,
            now,
            "outcome_unknown",
            Some(*id),
            None,
            "stopped mid-send",
        )?;
    }
    Ok(())
}

/// The condition "no other host holds `{modem}` now" (`?1` is now, `?2` this host).
const NOT_HELD_ELSEWHERE: &str =
    "NOT EXISTS (SELECT 1 FROM host_modems m JOIN hosts h ON h.name = m.host
                    WHERE m.modem = {modem} AND h.name != ?2 AND h.stopped_at IS NULL
                      AND h.lease_until > ?1)";

/// What a previous run left mid-send on the modems no live host but `host` holds, settled
/// by the unknown-outcome rule; the messages marked `unknown`.
fn settle_unheld(tx: &Connection, host: &str, now: i64) -> Result<Vec<i64>> {
    let ids = settle(tx, NOT_HELD_ELSEWHERE, params![now, host])?;
    mark_interrupted(
        tx,
        &ids,
        "smsqd stopped while a part was with the modem; not resent automatically",
        now,
    )?;
    Ok(ids)
}

/// The condition "`{modem}` belongs to host `?1`".
const OWNED_BY: &str = "{modem} IN (SELECT modem FROM host_modems WHERE host = ?1)";

impl Db {
    /// Applies the unknown-outcome rule to what a previous run left mid-send on modems no
    /// other live host holds: its `sending` parts become `unknown`, never resent; its claims
    /// not started go back to the queue. Returns the messages marked `unknown`.
    pub fn reconcile_after_restart(&mut self, now: i64) -> Result<Vec<i64>> {
        let tx = self.conn.savepoint()?;
        let ids = settle_unheld(&tx, "", now)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Host `host` starts with `modems` for `lease_ms`: what its previous run (and any modem
    /// nobody holds) left mid-send is settled as [`Db::reconcile_after_restart`] does, and its
    /// modems are its own until the lease runs out. Refused, changing nothing, when another
    /// live host holds one of the modems. Returns the messages marked `unknown`.
    pub fn join(
        &mut self,
        host: &str,
        version: &str,
        modems: &[HostModem],
        lease_ms: i64,
        now: i64,
    ) -> Result<Vec<i64>> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "INSERT INTO hosts (name, version, started_at, heartbeat_at, lease_until)
             VALUES (?1, ?2, ?3, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version,
                started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                lease_until = excluded.lease_until, stopped_at = NULL, reaped_at = NULL",
            params![host, version, now, now + lease_ms],
        )?;
        // This host's previous run, and modems nobody holds, before the modems are taken.
        let ids = settle_unheld(&tx, host, now)?;
        exec(
            &tx,
            "DELETE FROM host_modems WHERE host = ?1",
            params![host],
        )?;
        for m in modems {
            // Taken only from nobody or from a host no longer alive, decided on the locked
            // row: of two hosts starting with the same modem at once, the second waits for
            // the first's commit and then finds it held.
            let taken = exec(
                &tx,
                "INSERT INTO host_modems (modem, host, healthy, prefixes, daily_cap, hourly_cap, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (modem) DO UPDATE SET host = excluded.host, healthy = excluded.healthy,
                    prefixes = excluded.prefixes, daily_cap = excluded.daily_cap,
                    hourly_cap = excluded.hourly_cap, updated_at = excluded.updated_at
                 WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.name = host_modems.host
                                   AND h.name != excluded.host AND h.stopped_at IS NULL
                                   AND h.lease_until > excluded.updated_at)",
                params![
                    m.modem,
                    host,
                    m.healthy,
                    m.prefixes.join(" "),
                    m.daily_cap,
                    m.hourly_cap,
                    now
                ],
            )?;
            if taken == 0 {
                let (other, until): (String, i64) = row(
                    &tx,
                    "SELECT h.name, h.lease_until FROM host_modems m JOIN hosts h ON h.name = m.host
                     WHERE m.modem = ?1",
                    params![m.modem],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                // Dropping the savepoint undoes this host's registration too.
                return Err(StoreError::Held(format!(
                    "modem {} belongs to host {other}, whose lease runs {} s more; give each host its own modem ids",
                    m.modem,
                    (until - now).div_euclid(1000) + 1
                )));
            }
        }
        event(&tx, now, "host_joined", None, None, host)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Host `host` is alive: its lease runs `lease_ms` from now and its modems' health is
    /// as `modems` says. Then any host whose lease ran out without a clean stop is settled
    /// (once, by whichever host finds it first). Returns those hosts' names.
    pub fn heartbeat(
        &mut self,
        host: &str,
        modems: &[HostModem],
        lease_ms: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        let tx = self.conn.savepoint()?;
        let renewed = exec(
            &tx,
            "UPDATE hosts SET heartbeat_at = ?2, lease_until = ?3, reaped_at = NULL
             WHERE name = ?1 AND stopped_at IS NULL",
            params![host, now, now + lease_ms],
        )?;
        if renewed == 0 {
            return Err(StoreError::Held(format!(
                "host {host} is not registered (it stopped); start it again"
            )));
        }
        for m in modems {
            exec(
                &tx,
                "UPDATE host_modems SET healthy = ?3, updated_at = ?4 WHERE modem = ?1 AND host = ?2",
                params![m.modem, host, m.healthy, now],
            )?;
        }
        let lost: Vec<String> = tx
            .prepare_cached(
                "UPDATE hosts SET reaped_at = ?1
                 WHERE lease_until <= ?1 AND stopped_at IS NULL AND reaped_at IS NULL
                 RETURNING name",
            )?
            .query_map(params![now], |r| r.get(0))?
            .collect::<SqlResult<_>>()?;
        for other in &lost {
            let ids = settle(&tx, OWNED_BY, params![other])?;
            mark_interrupted(
                &tx,
                &ids,
                &format!(
                    "host {other} stopped answering while a part was with its modem; not resent automatically"
                ),
                now,
            )?;
            exec(
                &tx,
                "UPDATE host_modems SET healthy = 0, updated_at = ?2 WHERE host = ?1",
                params![other, now],
            )?;
            event(&tx, now, "host_lost", None, None, other)?;
        }
        tx.commit()?;
        Ok(lost)
    }

    /// Host `host` stops cleanly: its claims not started go back to the queue at once, and
    /// its modems are free for another host.
    pub fn leave(&mut self, host: &str, now: i64) -> Result<()> {
        self.durable()?;
        let tx = self.conn.savepoint()?;
        exec(
            &tx,
            "UPDATE outbox SET modem = NULL
             WHERE state IN ('queued', 'held', 'sending') AND state = 'queued'
               AND modem IN (SELECT modem FROM host_modems WHERE host = ?1)
               AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.message_id = outbox.id
                               AND p.state != 'pending')",
            params![host],
        )?;
        exec(
            &tx,
            "UPDATE host_modems SET healthy = 0, updated_at = ?2 WHERE host = ?1",
            params![host, now],
        )?;
        exec(
            &tx,
            "UPDATE hosts SET stopped_at = ?2, lease_until = ?2 WHERE name = ?1",
            params![host, now],
        )?;
        event(&tx, now, "host_left", None, None, host)?;
        Ok(tx.commit()?)
    }

    /// Every host that has used the database, by name, with its modems.
    pub fn hosts(&self) -> Result<Vec<HostRow>> {
        let mut hosts: Vec<HostRow> = self
            .conn
            .prepare_cached(
                "SELECT name, version, started_at, heartbeat_at, lease_until, stopped_at, reaped_at
                 FROM hosts ORDER BY name",
            )?
            .query_map(params![], |r| {
                Ok(HostRow {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    started_at: r.get(2)?,
                    heartbeat_at: r.get(3)?,
                    lease_until: r.get(4)?,
                    stopped_at: r.get(5)?,
                    reaped_at: r.get(6)?,
                    modems: Vec::new(),
                })
            })?
            .collect::<SqlResult<_>>()?;
        let modems: Vec<(String, HostModem)> = self
            .conn
            .prepare_cached(
                "SELECT host, modem, healthy, prefixes, daily_cap, hourly_cap FROM host_modems
                 ORDER BY host, modem",
            )?
            .query_map(params![], |r| Ok((r.get(0)?, modem_row(r, 1)?)))?
            .collect::<SqlResult<_>>()?;
        for (host, modem) in modems {
            if let Some(h) = hosts.iter_mut().find(|h| h.name == host) {
                h.modems.push(modem);
            }
        }
        Ok(hosts)
    }

    /// The modems of the other hosts whose lease runs now, for routing.
    pub fn remote_modems(&self, host: &str, now: i64) -> Result<Vec<HostModem>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT m.modem, m.healthy, m.prefixes, m.daily_cap, m.hourly_cap
                 FROM host_modems m JOIN hosts h ON h.name = m.host
                 WHERE h.name != ?1 AND h.stopped_at IS NULL AND h.lease_until > ?2
                 ORDER BY m.modem",
            )?
            .query_map(params![host, now], |r| modem_row(r, 0))?
            .collect::<SqlResult<_>>()?)
    }
}

fn modem_row(r: &super::sql::Row<'_>, at: usize) -> SqlResult<HostModem> {
    let prefixes: String = r.get(at + 2)?;
    Ok(HostModem {
        modem: r.get(at)?,
        healthy: r.get(at + 1)?,
        prefixes: prefixes.split_whitespace().map(str::to_owned).collect(),
        daily_cap: r.get(at + 3)?,
        hourly_cap: r.get(at + 4)?,
    })
}
