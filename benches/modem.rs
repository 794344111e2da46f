//! Round trips through the modem actor against the simulator over a real pty, with zero
//! simulated latency: `AT` commands per second and `AT+CMGS` sends per second (a 160-character
//! GSM-7 part each). This measures the driver's own overhead (framing, routing, the actor's
//! channel hops and the pty), which bounds how fast dispatch can ever push messages.
//! Run: `cargo bench --bench modem`.

use std::time::Duration;

use divan::Bencher;
use smsq::at::Command;
use smsq::modem::{ModemConfig, ModemHandle, ModemState, profile};
use smsq::pdu::{Address, SubmitOptions, encode_submit};
use smsq::sim::{self, Simulator};

fn main() {
    divan::main();
}

struct Rig {
    runtime: tokio::runtime::Runtime,
    modem: ModemHandle,
    _sim: Simulator,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("modem");
    let (sim, modem) = runtime.block_on(async {
        let sim = Simulator::start(&sim::profile::SIMCOM, &link, |d| {
            // Sends in a benchmark should not queue thousands of status reports.
            d.auto_status_reports = false;
        })
        .await
        .expect("simulator");
        let mut config = ModemConfig::new("bench", &link, &profile::SIMCOM);
        config.registration_wait = Duration::from_secs(1);
        config.health_interval = Duration::from_secs(3600);
        let modem = ModemHandle::spawn(config);
        assert!(
            modem
                .wait_for(Duration::from_secs(10), |s| s.state == ModemState::Ready)
                .await
        );
        (sim, modem)
    });
    Rig {
        runtime,
        modem,
        _sim: sim,
        _dir: dir,
    }
}

#[divan::bench(sample_count = 30, sample_size = 50)]
fn at_round_trip(bencher: Bencher) {
    let rig = rig();
    bencher.bench_local(|| {
        rig.runtime
            .block_on(rig.modem.run(Command::at()))
            .expect("AT answered");
    });
}

#[divan::bench(sample_count = 30, sample_size = 20)]
fn cmgs_send(bencher: Bencher) {
    let rig = rig();
    let text: String = "Your order #4411 is ready for pickup at Cafe Net, 12 Rizal St. "
        .chars()
        .cycle()
        .take(160)
        .collect();
    let opts = SubmitOptions::new(Address::parse("+639171234567").expect("valid"));
    let pdus = encode_submit(&text, &opts).expect("encodes");
    let part = pdus.iter().next().expect("one part");
    let (len, hex) = (part.tpdu_len, part.hex.to_string());
    bencher.bench_local(|| {
        rig.runtime
            .block_on(rig.modem.send_pdu(len, &hex))
            .expect("sent");
    });
}
