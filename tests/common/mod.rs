//! Shared set-up for tests that run modem actors against the simulator.

use std::path::Path;
use std::time::Duration;

use smsq::modem::{ModemConfig, ModemHandle, ModemState, profile};
use smsq::sim::{self, Simulator};

/// A simulated SIMCom-like modem at `dir/name` and a ready actor for it, with short timings;
/// `configure` adjusts the actor's configuration first.
pub async fn simulated_modem(
    dir: &Path,
    name: &str,
    configure: impl FnOnce(&mut ModemConfig),
) -> (Simulator, ModemHandle) {
    let link = dir.join(name);
    let sim = Simulator::start(&sim::profile::SIMCOM, &link, |_| {})
        .await
        .unwrap();
    let mut config = ModemConfig::new(name, &link, &profile::SIMCOM);
    config.registration_wait = Duration::from_millis(500);
    config.reopen_backoff = (Duration::from_millis(50), Duration::from_millis(200));
    configure(&mut config);
    let modem = ModemHandle::spawn(config);
    assert!(
        modem
            .wait_for(Duration::from_secs(10), |s| s.state == ModemState::Ready)
            .await,
        "simulated modem {name} not ready"
    );
    (sim, modem)
}
