//! The modem actor against the simulator over a real pty: bring-up per family, sending,
//! receiving, status reports, USSD, and each fault the driver must survive.

use std::time::Duration;

use smsq::at::UssdString;
use smsq::at::codes::{CmsError, ErrorClass};
use smsq::at::parse::{Final, Urc};
use smsq::modem::{
    ModemConfig, ModemError, ModemEvent, ModemHandle, ModemState, UrcEvent, profile,
};
use smsq::pdu::{self, Address, DecodeOptions, SubmitOptions, Tpdu};
use smsq::sim::{self, Simulator, device::Device};
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(10);

struct Rig {
    sim: Simulator,
    modem: ModemHandle,
    events: broadcast::Receiver<ModemEvent>,
    _dir: tempfile::TempDir,
}

async fn rig_with(
    sim_profile: &'static sim::SimProfile,
    driver: &'static smsq::modem::Profile,
    setup: impl FnOnce(&mut Device),
    configure: impl FnOnce(&mut ModemConfig),
) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let sim = Simulator::start(sim_profile, &link, setup).await.unwrap();
    let mut config = ModemConfig::new("test", &link, driver);
    config.registration_wait = Duration::from_secs(2);
    config.reopen_backoff = (Duration::from_millis(50), Duration::from_millis(200));
    config.send_timeout = Duration::from_secs(5);
    config.health_interval = Duration::from_secs(600);
    configure(&mut config);
    let modem = ModemHandle::spawn(config);
    let events = modem.subscribe();
    Rig {
        sim,
        modem,
        events,
        _dir: dir,
    }
}

async fn ready_rig(
    sim_profile: &'static sim::SimProfile,
    driver: &'static smsq::modem::Profile,
) -> Rig {
    let rig = rig_with(sim_profile, driver, |_| {}, |_| {}).await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await,
        "not ready: {:?}",
        rig.modem.status()
    );
    rig
}

async fn next_urc(
    events: &mut broadcast::Receiver<ModemEvent>,
    pred: impl Fn(&UrcEvent) -> bool,
) -> UrcEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ModemEvent::Urc(u)) = events.recv().await
                && pred(&u)
            {
                return u;
            }
        }
    })
    .await
    .expect("URC in time")
}

fn submit_parts(text: &str, report: bool) -> Vec<(usize, String)> {
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").unwrap());
    opts.status_report = report;
    opts.plan.concat = pdu::ConcatRef::Ref8(7);
    pdu::encode_submit(text, &opts)
        .unwrap()
        .iter()
        .map(|p| (p.tpdu_len, p.hex.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bring_up_for_each_family() {
    for (sim_profile, driver, model, cnmi) in [
        (
            &sim::profile::HUAWEI,
            &profile::HUAWEI,
            "E173",
            [2, 1, 0, 1, 0],
        ),
        (
            &sim::profile::SIMCOM,
            &profile::SIMCOM,
            "SIMCOM_SIM800L",
            [2, 1, 0, 2, 0],
        ),
        (
            &sim::profile::QUECTEL,
            &profile::QUECTEL,
            "EC25",
            [2, 1, 0, 2, 0],
        ),
    ] {
        let rig = ready_rig(sim_profile, driver).await;
        let s = rig.modem.status();
        assert_eq!(s.identity.model.as_deref(), Some(model));
        assert_eq!(s.identity.imei.as_deref(), Some("866123456789012"));
        assert_eq!(
            s.identity.iccid.as_deref(),
            Some("8963021234567890123"),
            "{}",
            driver.name
        );
        assert_eq!(s.identity.imsi.as_deref(), Some("515021234567890"));
        assert_eq!(
            s.cnmi,
            Some(cnmi),
            "{} falls back when refused",
            driver.name
        );
        assert_eq!(s.operator.as_deref(), Some("Globe Telecom"));
        assert_eq!(s.signal_dbm, Some(-71));
        assert_eq!(s.smsc.as_deref(), Some("+639180000100"));
        assert!(s.is_registered());
        assert_eq!(s.storage, Some((0, 30)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_single_and_multipart() {
    let rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    let (len, hex) = &submit_parts("Your documents are ready.", false)[0];
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
    let text = "Appointment reminder: ".repeat(10);
    let parts = submit_parts(&text, false);
    assert_eq!(parts.len(), 2);
    let mut mrs = Vec::new();
    for (len, hex) in &parts {
        mrs.push(rig.modem.send_pdu(*len, hex).await.unwrap());
    }
    assert_eq!(mrs, vec![2, 3]);
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].text, "Your documents are ready.");
    let joined: String = sent[1..].iter().map(|s| s.text.as_str()).collect();
    assert_eq!(joined, text);
    assert_eq!(sent[2].concat, Some((7, 2, 2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_via_cmti_read_and_delete() {
    let mut rig = ready_rig(&sim::profile::QUECTEL, &profile::QUECTEL).await;
    rig.sim
        .deliver_text("+639170000001", "Is my phone fixed?", 1);
    let urc = next_urc(&mut rig.events, |u| {
        matches!(u, UrcEvent::Line(Urc::NewMessage { .. }))
    })
    .await;
    let UrcEvent::Line(Urc::NewMessage { storage, index }) = urc else {
        unreachable!()
    };
    assert_eq!((storage.as_str(), index), ("SM", 1));
    let stored = rig.modem.read(index).await.unwrap().expect("stored");
    let pdu = pdu::decode_hex(&stored.pdu_hex, DecodeOptions::default()).unwrap();
    let Tpdu::Deliver(d) = pdu.tpdu else { panic!() };
    assert_eq!(d.sender.to_string(), "+639170000001");
    assert_eq!(d.user_data.text(), Some("Is my phone fixed?"));
    assert_eq!(rig.modem.list().await.unwrap().len(), 1);
    rig.modem.delete(index).await.unwrap();
    assert!(rig.modem.list().await.unwrap().is_empty());
    assert_eq!(rig.modem.read(index).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_via_cmt_directly() {
    let mut rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    rig.modem
        .run(smsq::at::Command::new_message_indication(&[2, 2, 0, 1, 0]))
        .await
        .unwrap();
    rig.sim.deliver_text("+48601234567", "Dzień dobry 🙂", 2);
    let urc = next_urc(&mut rig.events, |u| matches!(u, UrcEvent::Message { .. })).await;
    let UrcEvent::Message { pdu_hex, .. } = urc else {
        unreachable!()
    };
    let pdu = pdu::decode_hex(&pdu_hex, DecodeOptions::default()).unwrap();
    let Tpdu::Deliver(d) = pdu.tpdu else { panic!() };
    assert_eq!(d.user_data.text(), Some("Dzień dobry 🙂"));
    rig.modem.acknowledge().await.unwrap();
    assert!(rig.sim.stored().is_empty(), "+CMT messages are not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_report_via_cdsi() {
    let mut rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    let (len, hex) = &submit_parts("Promo: 15% off today", true)[0];
    let mr = rig.modem.send_pdu(*len, hex).await.unwrap();
    let urc = next_urc(&mut rig.events, |u| {
        matches!(u, UrcEvent::Line(Urc::NewStatusReport { .. }))
    })
    .await;
    let UrcEvent::Line(Urc::NewStatusReport { index, .. }) = urc else {
        unreachable!()
    };
    let stored = rig.modem.read(index).await.unwrap().unwrap();
    let pdu = pdu::decode_hex(&stored.pdu_hex, DecodeOptions::default()).unwrap();
    let Tpdu::StatusReport(r) = pdu.tpdu else {
        panic!("{pdu:?}")
    };
    assert_eq!(r.message_ref, mr);
    assert_eq!(r.recipient.to_string(), "+639171234567");
    assert_eq!(r.status_kind, pdu::StatusKind::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ussd_plain_and_packed() {
    let rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    assert_eq!(
        rig.modem
            .ussd(&UssdString::parse("*143#").unwrap())
            .await
            .unwrap(),
        "Your balance is P10.50, valid until 31/12."
    );
    let rig = ready_rig(&sim::profile::HUAWEI, &profile::HUAWEI).await;
    assert_eq!(
        rig.modem
            .ussd(&UssdString::parse("*143#").unwrap())
            .await
            .unwrap(),
        "Your balance is P10.50, valid until 31/12."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cms_errors_are_classified() {
    let rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    rig.sim.device().fail_sends.extend([332, 1]);
    let (len, hex) = &submit_parts("x", false)[0];
    let err = rig.modem.send_pdu(*len, hex).await.unwrap_err();
    assert_eq!(
        err,
        ModemError::Rejected(Final::Cms(CmsError::NetworkTimeout))
    );
    let ModemError::Rejected(Final::Cms(e)) = err else {
        unreachable!()
    };
    assert_eq!(e.class(), ErrorClass::Temporary);
    let err = rig.modem.send_pdu(*len, hex).await.unwrap_err();
    let ModemError::Rejected(Final::Cms(e)) = err else {
        panic!()
    };
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(!err_outcome_unknown(&ModemError::Rejected(Final::Cms(e))));
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
}

fn err_outcome_unknown(e: &ModemError) -> bool {
    e.outcome_unknown()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_send_is_outcome_unknown_and_the_link_recovers() {
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |_| {},
        |c| {
            c.send_timeout = Duration::from_millis(600);
        },
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    rig.sim.faults().network_delay = Duration::from_millis(1500);
    let (len, hex) = &submit_parts("slow network", false)[0];
    let err = rig.modem.send_pdu(*len, hex).await.unwrap_err();
    assert_eq!(
        err,
        ModemError::Timeout {
            outcome_unknown: true
        }
    );
    assert!(err.outcome_unknown());
    rig.sim.faults().network_delay = Duration::ZERO;
    // The late "+CMGS: 1 / OK" must not be taken for the next command's answer.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(2));
    assert_eq!(
        rig.sim.sent().len(),
        2,
        "the network did take the first one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_prompt_is_a_clean_abort() {
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |_| {},
        |c| {
            c.send_timeout = Duration::from_millis(500);
        },
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    rig.sim.faults().drop_responses = 1;
    let (len, hex) = &submit_parts("never prompted", false)[0];
    let err = rig.modem.send_pdu(*len, hex).await.unwrap_err();
    assert_eq!(
        err,
        ModemError::Timeout {
            outcome_unknown: false
        }
    );
    assert!(rig.sim.sent().is_empty());
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urc_in_the_middle_of_a_send() {
    let mut rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    rig.sim.faults().network_delay = Duration::from_millis(400);
    let (len, hex) = submit_parts("racing", false)[0].clone();
    let modem = rig.modem.clone();
    let send = tokio::spawn(async move { modem.send_pdu(len, &hex).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    rig.sim.deliver_text("+639170000002", "meanwhile", 3);
    assert!(matches!(
        next_urc(&mut rig.events, |u| matches!(
            u,
            UrcEvent::Line(Urc::NewMessage { .. })
        ))
        .await,
        UrcEvent::Line(Urc::NewMessage { .. })
    ));
    assert_eq!(send.await.unwrap(), Ok(1));
}

/// Noise damages the modem's answer to a send. A damaged final result code after
/// `+CMGS: <mr>` costs seconds, not the 60 s send timeout, and the reference is kept; a
/// damaged answer line with a damaged final is outcome unknown, also within seconds; the
/// modem goes on sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_answers_to_a_send_cost_seconds() {
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |d| {
            d.damaged_send_answers
                .extend([sim::SendDamage::Final, sim::SendDamage::Both]);
        },
        |c| c.send_timeout = Duration::from_secs(60),
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    let (len, hex) = &submit_parts("damaged OK", false)[0];
    let started = std::time::Instant::now();
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    assert_eq!(
        rig.modem.send_pdu(*len, hex).await,
        Err(ModemError::Timeout {
            outcome_unknown: true
        })
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_and_replug() {
    let rig = ready_rig(&sim::profile::HUAWEI, &profile::HUAWEI).await;
    rig.sim.disconnect().await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Absent)
            .await
    );
    let (len, hex) = &submit_parts("while absent", false)[0];
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Err(ModemError::Absent));
    rig.sim.reconnect().await.unwrap();
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    assert_eq!(rig.modem.status().connections, 2);
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
}

/// A serial modem with its own power behind a USB-serial adapter: the adapter is unplugged
/// while the modem waits for PDU text after `AT+CMGS`. Replugging the adapter does not reset
/// the modem, so its prompt is still open; bring-up closes it with ESC and the modem is ready
/// within seconds, with nothing sent by accident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_left_open_across_a_replug_is_closed_at_bring_up() {
    let rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    {
        let mut f = rig.sim.faults();
        f.own_power = true;
        f.withhold_prompt = true;
    }
    let (len, hex) = submit_parts("left at the prompt", false)[0].clone();
    let modem = rig.modem.clone();
    let send = tokio::spawn(async move { modem.send_pdu(len, &hex).await });
    let deadline = std::time::Instant::now() + WAIT;
    while !rig.sim.device().at_prompt() {
        assert!(
            std::time::Instant::now() < deadline,
            "no AT+CMGS reached the modem"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.sim.disconnect().await;
    assert_eq!(
        send.await.unwrap(),
        Err(ModemError::Disconnected {
            outcome_unknown: false
        })
    );
    rig.sim.faults().withhold_prompt = false;
    rig.sim.reconnect().await.unwrap();
    assert!(
        rig.sim.device().at_prompt(),
        "the replug kept the prompt open"
    );
    let started = std::time::Instant::now();
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.connections == 2 && s.state == ModemState::Ready)
            .await,
        "not ready after the replug: {:?}",
        rig.modem.status().state
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!rig.sim.device().at_prompt());
    let (len, hex) = &submit_parts("after the replug", false)[0];
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
    let sent = rig.sim.sent();
    assert_eq!(
        sent.len(),
        1,
        "only the message sent after the replug went out"
    );
    assert_eq!(sent[0].text, "after the replug");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_banner_triggers_reinitialisation() {
    let mut rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    rig.sim.reboot();
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.connections == 2 && s.state == ModemState::Ready)
            .await
    );
    // The reboot reset +CNMI in the modem; bring-up set it again, so +CMTI still arrives.
    rig.sim.deliver_text("+639170000003", "after reboot", 4);
    next_urc(&mut rig.events, |u| {
        matches!(u, UrcEvent::Line(Urc::NewMessage { .. }))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_modem_is_detected_and_recovered() {
    // The generic profile resets with ATZ only, which keeps the test short: two AT probes of
    // 2 s, one ATZ of 5 s, then the modem is declared hung.
    let rig = rig_with(
        &sim::profile::QUECTEL,
        &profile::GENERIC,
        |_| {},
        |c| {
            c.health_interval = Duration::from_millis(300);
            c.wake_attempts = 2;
        },
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    rig.sim.faults().hung = true;
    assert!(
        rig.modem
            .wait_for(Duration::from_secs(30), |s| matches!(
                s.state,
                ModemState::Failed(_)
            ))
            .await,
        "{:?}",
        rig.modem.status()
    );
    rig.sim.faults().hung = false;
    assert!(
        rig.modem
            .wait_for(Duration::from_secs(30), |s| s.state == ModemState::Ready)
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_paths() {
    // No PIN configured: reported, never guessed.
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |d| d.require_pin("1234"),
        |_| {},
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| matches!(s.state, ModemState::NeedsPin(_)))
            .await
    );
    assert_eq!(rig.sim.device().pin_attempts_left, 3);
    let (len, hex) = &submit_parts("x", false)[0];
    assert!(matches!(
        rig.modem.send_pdu(*len, hex).await,
        Err(ModemError::NotReady(_))
    ));

    // The right PIN: entered once, ready.
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |d| d.require_pin("1234"),
        |c| {
            c.pin = Some(smsq::at::Pin::parse("1234").unwrap());
        },
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );

    // A wrong PIN: one attempt only, then a clear state; the SIM keeps two tries.
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |d| d.require_pin("1234"),
        |c| {
            c.pin = Some(smsq::at::Pin::parse("9999").unwrap());
        },
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| matches!(s.state, ModemState::NeedsPin(_)))
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.sim.device().pin_attempts_left, 2);
    // Even after a restart of the modem, the actor does not try again.
    rig.sim.reboot();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rig.sim.device().pin_attempts_left, 2);
    assert!(matches!(rig.modem.status().state, ModemState::NeedsPin(_)));
}

/// A correct PIN is entered again whenever the SIM asks: after a modem reset and after a
/// replug, the modem is ready again without anyone acting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_pin_is_entered_again_after_a_reset_and_a_replug() {
    let rig = rig_with(
        &sim::profile::SIMCOM,
        &profile::SIMCOM,
        |d| d.require_pin("1234"),
        |c| c.pin = Some(smsq::at::Pin::parse("1234").unwrap()),
    )
    .await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.state == ModemState::Ready)
            .await
    );
    rig.sim.reboot();
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.connections == 2 && s.state == ModemState::Ready)
            .await,
        "after a reset: {:?}",
        rig.modem.status().state
    );
    rig.sim.disconnect().await;
    rig.sim.reconnect().await.unwrap();
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.connections == 3 && s.state == ModemState::Ready)
            .await,
        "after a replug: {:?}",
        rig.modem.status().state
    );
    assert_eq!(rig.sim.device().pin_attempts_left, 3);
    let (len, hex) = &submit_parts("after the replug", false)[0];
    assert!(rig.modem.send_pdu(*len, hex).await.is_ok());
}

/// A refused PIN is remembered in the database: a restarted actor (smsqd restarted, or in a
/// crash loop) does not enter it again, so the SIM keeps its attempts; a changed PIN is tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_pin_is_never_entered_again_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = smsq::store::Store::open(&dir.path().join("smsq.db")).unwrap();
    let link = dir.path().join("modem");
    let sim = Simulator::start(&sim::profile::QUECTEL, &link, |d| d.require_pin("1234"))
        .await
        .unwrap();
    let actor = |pin: &str| {
        let mut c = ModemConfig::new("test", &link, &profile::QUECTEL);
        c.pin = Some(smsq::at::Pin::parse(pin).unwrap());
        c.pin_memory = Some(std::sync::Arc::new(smsq::daemon::StorePinMemory(
            store.clone(),
        )));
        c.registration_wait = Duration::from_secs(1);
        c.reopen_backoff = (Duration::from_millis(50), Duration::from_millis(200));
        ModemHandle::spawn(c)
    };
    let reason = |m: &ModemHandle| match m.status().state {
        ModemState::NeedsPin(why) => why,
        other => panic!("not needs_pin: {other:?}"),
    };
    let needs_pin = |s: &smsq::modem::ModemStatus| matches!(s.state, ModemState::NeedsPin(_));
    for restart in 0..3 {
        let m = actor("9999");
        assert!(m.wait_for(WAIT, needs_pin).await, "restart {restart}");
        let why = reason(&m);
        if restart == 0 {
            assert!(why.contains("refused the configured PIN"), "{why}");
        } else {
            assert!(why.contains("refused the configured PIN before"), "{why}");
        }
        assert!(why.contains("2 attempt(s) left"), "{why}");
        assert_eq!(m.status().pin_attempts_left, Some(2));
        assert_eq!(sim.device().pin_attempts_left, 2, "restart {restart}");
        drop(m);
        // The actor lets go of the port once its last handle is gone.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let m = actor("1234");
    assert!(m.wait_for(WAIT, |s| s.state == ModemState::Ready).await);
    assert_eq!(sim.device().pin_attempts_left, 3);
}

/// With one attempt left (some earlier tool spent two), no PIN is entered at all, right or
/// wrong: spending the last attempt wrongly would lock the SIM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_pin_attempt_is_never_spent() {
    for (sim_profile, driver) in [
        (&sim::profile::SIMCOM, &profile::SIMCOM),
        (&sim::profile::HUAWEI, &profile::HUAWEI),
        (&sim::profile::QUECTEL, &profile::QUECTEL),
    ] {
        let rig = rig_with(
            sim_profile,
            driver,
            |d| {
                d.require_pin("1234");
                d.pin_attempts_left = 1;
            },
            |c| c.pin = Some(smsq::at::Pin::parse("1234").unwrap()),
        )
        .await;
        assert!(
            rig.modem
                .wait_for(WAIT, |s| matches!(s.state, ModemState::NeedsPin(_)))
                .await,
            "{}",
            sim_profile.name
        );
        let ModemState::NeedsPin(why) = rig.modem.status().state else {
            unreachable!()
        };
        assert!(why.contains("only 1 PIN attempt left"), "{why}");
        assert_eq!(rig.modem.status().pin_attempts_left, Some(1));
        assert_eq!(
            rig.sim.device().pin_attempts_left,
            1,
            "{}",
            sim_profile.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_calls_do_not_disturb() {
    let mut rig = ready_rig(&sim::profile::HUAWEI, &profile::HUAWEI).await;
    rig.sim.send_raw(b"\x00\xFF\xFE garbage\r\n^RSSI: 25\r\n");
    rig.sim.ring("+639171111111");
    next_urc(&mut rig.events, |u| matches!(u, UrcEvent::Line(Urc::Ring))).await;
    assert!(
        rig.modem
            .wait_for(WAIT, |s| s.signal_dbm == Some(-63))
            .await
    );
    let (len, hex) = &submit_parts("still fine", false)[0];
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_modem_still_works() {
    let rig = ready_rig(&sim::profile::SIMCOM, &profile::SIMCOM).await;
    rig.sim.faults().latency = Duration::from_millis(300);
    let (len, hex) = &submit_parts("patience", false)[0];
    let started = std::time::Instant::now();
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "prompt and answer both waited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_network_is_seen_and_sends_fail_temporarily() {
    let rig = ready_rig(&sim::profile::QUECTEL, &profile::QUECTEL).await;
    rig.sim.set_registered(false);
    assert!(rig.modem.wait_for(WAIT, |s| !s.is_registered()).await);
    let (len, hex) = &submit_parts("no bars", false)[0];
    let err = rig.modem.send_pdu(*len, hex).await.unwrap_err();
    let ModemError::Rejected(Final::Cms(e)) = err else {
        panic!("{err:?}")
    };
    assert_eq!((e.code(), e.class()), (Some(331), ErrorClass::Temporary));
    rig.sim.set_registered(true);
    assert!(rig.modem.wait_for(WAIT, |s| s.is_registered()).await);
    assert_eq!(rig.modem.send_pdu(*len, hex).await, Ok(1));
}
