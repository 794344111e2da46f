//! The modem driver against the built-in simulator, end to end over a real pty: bring-up,
//! send a message, receive a reply. `cargo run --example simulated_modem [huawei|simcom|quectel]`.
//! (The daemon, `smsqd --simulate`, builds on exactly this.)

use std::time::Duration;

use smsq::modem::{ModemConfig, ModemEvent, ModemHandle, ModemState, UrcEvent, profile};
use smsq::pdu::{self, Address, DecodeOptions, SubmitOptions, Tpdu};
use smsq::sim::{self, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let family = std::env::args().nth(1).unwrap_or_else(|| "simcom".into());
    let sim_profile = sim::profile::by_name(&family).ok_or("use huawei, simcom or quectel")?;
    let driver = profile::by_name(&family).unwrap_or(&profile::GENERIC);
    let dir = std::env::temp_dir().join(format!("smsq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let link = dir.join("modem");

    let sim = Simulator::start(sim_profile, &link, |_| {}).await?;
    println!("simulated {} modem at {}", sim_profile.name, link.display());
    let mut config = ModemConfig::new("demo", &link, driver);
    config.registration_wait = Duration::from_secs(5);
    let modem = ModemHandle::spawn(config);
    let mut events = modem.subscribe();
    if !modem
        .wait_for(Duration::from_secs(15), |s| s.state == ModemState::Ready)
        .await
    {
        return Err(format!("modem not ready: {:?}", modem.status().state).into());
    }
    let s = modem.status();
    println!(
        "ready: {} {} on {}, {} dBm, SMSC {}",
        s.identity.manufacturer.unwrap_or_default(),
        s.identity.model.unwrap_or_default(),
        s.operator.unwrap_or_default(),
        s.signal_dbm.unwrap_or_default(),
        s.smsc.unwrap_or_default()
    );

    let to = Address::parse("+639171234567")?;
    let mut opts = SubmitOptions::new(to);
    opts.status_report = true;
    let text = "Hi Ana, your documents are ready for pickup at Cafe Net. Reply STOP to opt out.";
    for part in pdu::encode_submit(text, &opts)?.iter() {
        let mr = modem.send_pdu(part.tpdu_len, part.hex).await?;
        println!(
            "sent part {} (AT+CMGS={}), message reference {mr}",
            part.part, part.tpdu_len
        );
    }
    for sent in sim.sent() {
        println!("the network got: to {} \"{}\"", sent.recipient, sent.text);
    }

    sim.deliver_text("+639171234567", "Thanks! I'll be there at 5pm.", 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got_reply = false;
    let mut got_report = false;
    while !(got_reply && got_report) {
        let event = tokio::time::timeout_at(deadline, events.recv()).await??;
        let ModemEvent::Urc(UrcEvent::Line(urc)) = event else {
            continue;
        };
        let index = match urc {
            smsq::at::Urc::NewMessage { index, .. }
            | smsq::at::Urc::NewStatusReport { index, .. } => index,
            _ => continue,
        };
        let Some(stored) = modem.read(index).await? else {
            continue;
        };
        match pdu::decode_hex(&stored.pdu_hex, DecodeOptions::default())?.tpdu {
            Tpdu::Deliver(d) => {
                println!(
                    "received from {}: \"{}\"",
                    d.sender,
                    d.user_data.text().unwrap_or("")
                );
                got_reply = true;
            }
            Tpdu::StatusReport(r) => {
                println!(
                    "status report for reference {}: {}",
                    r.message_ref,
                    pdu::status_text(r.status)
                );
                got_report = true;
            }
            Tpdu::Submit(_) => {}
        }
        modem.delete(index).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
