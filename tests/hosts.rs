//! Several smsqd hosts on one PostgreSQL database (a throwaway server this test starts), each
//! with its own simulated modems kept in the test process, so that what reached the network
//! is counted from the simulators even when a host is killed.

#[path = "common/http.rs"]
mod http;
#[path = "common/smsqd.rs"]
mod smsqd;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smsq::api::client::Client;
use smsq::api::{Hosts, ListRequest, Listing, Mailbox, OutboxEntry};
use smsq::store::MessageState as S;
use smsq::store::throwaway;
use smsqd::{ExternalModem, Smsqd, consent, refusal, send, set_clock, wait_state};

/// One host: its name and its modems (id, simulator, prefixes).
fn start_host(
    url: &str,
    name: &str,
    modems: &[(&str, &ExternalModem, &[&str])],
    lease: &str,
) -> Smsqd {
    start_host_with(url, name, modems, lease, "")
}

/// Like `start_host`, with more tables at the end of the configuration.
fn start_host_with(
    url: &str,
    name: &str,
    modems: &[(&str, &ExternalModem, &[&str])],
    lease: &str,
    extra: &str,
) -> Smsqd {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    let mut text = format!(
        "country = \"PH\"\ntime_zone = \"Asia/Manila\"\nsend_gap = \"0s\"\nretry_base = \"1s\"\nhost = \"{name}\"\nlease = \"{lease}\"\n"
    );
    for (id, modem, prefixes) in modems {
        let prefixes: Vec<String> = prefixes.iter().map(|p| format!("\"{p}\"")).collect();
        text.push_str(&format!(
            "[[modem]]\nid = \"{id}\"\ndevice = \"{}\"\nprofile = \"simcom\"\nprefixes = [{}]\n",
            modem.link.display(),
            prefixes.join(", ")
        ));
    }
    text.push_str(extra);
    std::fs::write(&config, &text).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_smsqd"))
        .args(["--config", config.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Tests may set each daemon's clock (quiet hours and caps).
    Smsqd::start_with_db(
        dir,
        url.into(),
        &["--config", config.to_str().unwrap(), "--test-clock"],
    )
}

/// Every entry of `mailbox`, newest first, page by page.
async fn everything(c: &mut Client, mailbox: Mailbox) -> Listing {
    let (mut inbox, mut outbox) = (Vec::new(), Vec::new());
    let mut before = None;
    loop {
        let page = c
            .call(ListRequest {
                limit: Some(500),
                before,
                ..ListRequest::new(mailbox)
            })
            .await
            .unwrap();
        before = match page {
            Listing::Inbox(page) => page.last().map(|m| m.id).inspect(|_| inbox.extend(page)),
            Listing::Outbox(page) => page.last().map(|m| m.id).inspect(|_| outbox.extend(page)),
        };
        if before.is_none() {
            return match mailbox {
                Mailbox::Inbox => Listing::Inbox(inbox),
                _ => Listing::Outbox(outbox),
            };
        }
    }
}

async fn outbox(c: &mut Client) -> Vec<OutboxEntry> {
    match everything(c, Mailbox::Outbox).await {
        Listing::Outbox(all) => all,
        Listing::Inbox(_) => panic!("an outbox listing"),
    }
}

async fn inbox_texts(c: &mut Client) -> Vec<String> {
    match everything(c, Mailbox::Inbox).await {
        Listing::Inbox(all) => all.into_iter().filter_map(|m| m.text).collect(),
        Listing::Outbox(_) => panic!("an inbox listing"),
    }
}

/// These tests each run several daemons and time what they see (a STOP obeyed within a
/// second): one at a time, so that one's load is not another's delay.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until the host `c` talks to sees `modems` healthy modems over every host, then
/// one heartbeat more (a sixth of the 5 s lease): each host reads the others' modems then.
async fn every_modem_up(c: &mut Client, modems: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while c
        .call(Hosts {})
        .await
        .unwrap()
        .hosts
        .iter()
        .flat_map(|h| &h.modems)
        .filter(|m| m.healthy)
        .count()
        < modems
    {
        assert!(Instant::now() < deadline, "the modems never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// The test's turn and a new database on the throwaway server; `None` (skipped) on a
/// machine without PostgreSQL outside CI.
async fn shared_database() -> Option<(tokio::sync::MutexGuard<'static, ()>, String)> {
    let turn = ONE_AT_A_TIME.lock().await;
    let url = tokio::task::spawn_blocking(throwaway::database_or_skip)
        .await
        .unwrap()?;
    Some((turn, url))
}

fn number(i: usize) -> String {
    format!("+63917{:07}", 1_000_000 + i)
}

/// Three hosts with two modems each share one queue: thousands of messages submitted to two
/// of them, customers' texts arriving at every SIM, and one host killed (-9) midway. Every
/// message ends once in a final state or `unknown`; no text reaches the network twice; the
/// killed host's part mid-send is `unknown`; its queued work goes to the others; restarted,
/// it joins again and reads what its SIMs kept meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_share_the_queue_and_a_killed_host_loses_and_repeats_nothing() {
    let Some((_alone, url)) = shared_database().await else {
        return;
    };
    let total: usize = std::env::var("SMSQ_HOSTS_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let mut sims = Vec::new();
    for _ in 0..6 {
        let sim = ExternalModem::start(|_| {}).await;
        sim.sim.faults().network_delay = Duration::from_millis(2);
        sims.push(sim);
    }
    let names = ["h1", "h2", "h3"];
    let start = |k: usize| {
        let (a, b) = (format!("{}a", names[k]), format!("{}b", names[k]));
        let modems: [(&str, &ExternalModem, &[&str]); 2] =
            [(&a, &sims[2 * k], &[]), (&b, &sims[2 * k + 1], &[])];
        start_host(&url, names[k], &modems, "2s")
    };
    let mut hosts: Vec<Smsqd> = (0..3).map(start).collect();

    // Customers write to every SIM while the queue drains.
    let inbound: Vec<String> = (0..60)
        .map(|i| format!("reply {i} from a customer"))
        .collect();
    for (i, text) in inbound.iter().enumerate() {
        sims[i % 6]
            .sim
            .deliver_text(&number(90_000 + i), text, (i % 250) as u8);
    }

    // Submitted to h1 and h2 from several clients at once.
    let mut submitters = Vec::new();
    for s in 0..4 {
        let socket = hosts[s % 2].socket.clone();
        submitters.push(tokio::spawn(async move {
            let mut c = Client::connect(&socket).await.unwrap();
            let mut ids = Vec::new();
            for i in (s..total).step_by(4) {
                let r = c
                    .call(send(&[&number(i)], &format!("order {i} is ready")))
                    .await
                    .unwrap();
                ids.push((i, r.messages[0].id));
            }
            ids
        }));
    }

    // Host h3 is killed once a good part of the queue went out.
    let sent = |sims: &[ExternalModem]| sims.iter().map(|s| s.sim.sent().len()).sum::<usize>();
    let deadline = Instant::now() + Duration::from_secs(120);
    while sent(&sims) < total * 2 / 5 {
        assert!(Instant::now() < deadline, "only {} sent", sent(&sims));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its modems turn slow, so that each has a part handed over and unanswered when it dies.
    for sim in &sims[4..] {
        sim.sim.faults().network_delay = Duration::from_secs(3);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    hosts[2].signal("-KILL");
    let killed_at = Instant::now();
    let mut ids = Vec::new();
    for s in submitters {
        ids.extend(s.await.unwrap());
    }
    assert_eq!(ids.len(), total);

    // The others drain the queue; h3's lease runs out and its work is settled.
    let mut c = hosts[0].client().await;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let open = outbox(&mut c)
            .await
            .into_iter()
            .filter(|m| matches!(m.state, S::Queued | S::Sending | S::Held))
            .count();
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} messages still open");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hosts_now = c.call(Hosts {}).await.unwrap();
    let h3 = hosts_now.hosts.iter().find(|h| h.name == "h3").unwrap();
    assert_eq!(h3.state, "lost", "{hosts_now:?}");
    assert!(killed_at.elapsed() > Duration::from_secs(2));

    // Restarted, h3 joins again and reads what its SIMs kept while it was down.
    let restarted = start(2);
    hosts[2] = restarted;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let texts = inbox_texts(&mut c).await;
        let missing: Vec<&String> = inbound.iter().filter(|t| !texts.contains(t)).collect();
        if missing.is_empty() {
            assert_eq!(texts.len(), inbound.len(), "each customer text stored once");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inbound never stored: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alive = c.call(Hosts {}).await.unwrap();
    assert!(alive.hosts.iter().all(|h| h.state == "alive"), "{alive:?}");

    // What the network got, counted at the simulators.
    let mut at_network: HashMap<String, usize> = HashMap::new();
    let mut per_sim = Vec::new();
    for s in &sims {
        let sent = s.sim.sent();
        per_sim.push(sent.len());
        for m in sent {
            *at_network.entry(m.text).or_default() += 1;
        }
    }
    let states: HashMap<i64, S> = outbox(&mut c)
        .await
        .into_iter()
        .map(|m| (m.id, m.state))
        .collect();
    let mut unknown = 0;
    for (i, id) in &ids {
        let text = format!("order {i} is ready");
        let times = at_network.get(&text).copied().unwrap_or(0);
        let state = states[id];
        match state {
            S::Sent | S::Delivered => {
                assert_eq!(times, 1, "message {id} ({state}) sent {times} times")
            }
            S::Unknown => {
                assert!(times <= 1, "message {id} sent {times} times");
                unknown += 1;
            }
            other => panic!("message {id} ended {other}"),
        }
    }
    eprintln!(
        "{total} messages over 3 hosts (h3 killed -9 midway): per SIM {per_sim:?}, {unknown} unknown"
    );
    assert!(
        (1..=2).contains(&unknown),
        "the kill leaves each of h3's two modems' part in flight unknown, nothing else: {unknown}"
    );
    assert!(
        per_sim.iter().all(|&n| n > 0),
        "every host's modems took a share: {per_sim:?}"
    );
}

/// A STOP received on one host refuses a send submitted on another within a second; and a
/// message for a number routed to the other host's SIM goes through that SIM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_on_one_host_refuses_sends_on_another_and_routing_crosses_hosts() {
    let Some((_alone, url)) = shared_database().await else {
        return;
    };
    let globe = ExternalModem::start(|_| {}).await;
    let smart = ExternalModem::start(|_| {}).await;
    let a = start_host(&url, "counter", &[("globe", &globe, &["+63917"])], "5s");
    let b = start_host(&url, "branch", &[("smart", &smart, &["+63918"])], "5s");
    let (mut ca, mut cb) = (a.client().await, b.client().await);

    // Submitted at the counter, for a Smart number: the branch's Smart SIM sends it.
    let smart_customer = "+639181234567";
    every_modem_up(&mut ca, 2).await;
    // A program following the counter's events hears of what the branch does.
    let mut watcher = a.client().await;
    watcher
        .call(smsq::api::Subscribe { since: None })
        .await
        .unwrap();
    let id = ca
        .call(send(&[smart_customer], "your phone is repaired"))
        .await
        .unwrap()
        .messages[0]
        .id;
    let m = wait_state(&mut ca, id, &[S::Sent, S::Delivered]).await;
    assert_eq!(m.modem.as_deref(), Some("smart"));
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(smsq::api::ServerLine::Event {
                event: smsq::api::Pushed::Event(e),
            }) = watcher.next_line().await
                && e.message_id == Some(id)
                && e.kind == "sent"
            {
                return e;
            }
        }
    })
    .await
    .expect("the counter's subscriber hears that the branch sent it");
    assert_eq!(heard.kind, "sent");
    assert_eq!(smart.sim.sent().len(), 1);
    assert!(globe.sim.sent().is_empty());

    // A customer texts STOP to the counter's SIM; the branch refuses the next send.
    let customer = "+639171234567";
    cb.call(send(&[customer], "before the STOP")).await.unwrap();
    globe.sim.deliver_text(customer, "STOP", 7);
    let stopped = Instant::now();
    loop {
        match cb.call(send(&[customer], "after the STOP")).await {
            Err(e) => {
                assert_eq!(refusal(e), "opted_out");
                break;
            }
            Ok(_) => {
                assert!(
                    stopped.elapsed() < Duration::from_secs(1),
                    "the branch still sends a second after the STOP"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let took = stopped.elapsed();
    eprintln!("a STOP at one host refused sends at the other after {took:?}");
    assert!(took < Duration::from_secs(1));
    drop(b);
    drop(a);
}

/// Kannel's interface on two hosts: a client sends through one, the messages go out through
/// both hosts' SIMs, and each delivery report it asked for is called once — not once per
/// host planning from the shared history, nor once per host delivering the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_reports_are_called_once_whichever_host_sends() {
    let Some((_alone, url)) = shared_database().await else {
        return;
    };
    const PASSWORD: &str = "Ana's-shop 2026";
    let hash = smsq::http::auth::hash_password(PASSWORD).unwrap();
    let receiver = http::Receiver::start().await;
    let (one, two) = (
        ExternalModem::start(|_| {}).await,
        ExternalModem::start(|_| {}).await,
    );
    // Slow enough that the counter's modem alone cannot empty the queue before the branch
    // hears of it (other hosts' work is seen within a poll, a tenth of a second).
    for sim in [&one, &two] {
        sim.sim.faults().network_delay = Duration::from_millis(100);
    }
    let ports = [http::free_port(), http::free_port()];
    let kannel = |port: u16| {
        format!(
            "[kannel]\nlisten = \"127.0.0.1:{port}\"\nretry_first = \"300ms\"\n[[kannel.user]]\nusername = \"playsms\"\npassword_hash = \"{hash}\"\n"
        )
    };
    let a = start_host_with(
        &url,
        "counter",
        &[("m1", &one, &[])],
        "5s",
        &kannel(ports[0]),
    );
    let b = start_host_with(
        &url,
        "branch",
        &[("m2", &two, &[])],
        "5s",
        &kannel(ports[1]),
    );
    for port in ports {
        http::wait_listening(port, "the Kannel listener");
    }
    let mut c = a.client().await;
    every_modem_up(&mut c, 2).await;
    const MESSAGES: usize = 20;
    for i in 0..MESSAGES {
        let dlr = format!("http://127.0.0.1:{}/dlr?n={i}&type=%d", receiver.port);
        let answer = http::get(
            ports[0],
            &format!(
                "/cgi-bin/sendsms?username=playsms&password={}&to={}&text=order+{i}&dlr-mask=9&dlr-url={}",
                smsq::http::escapes::encode(PASSWORD),
                smsq::http::escapes::encode(&number(i)),
                smsq::http::escapes::encode(&dlr)
            ),
            "",
        );
        assert_eq!(answer.status(), 202, "{answer:?}");
    }
    // Accepted by the network (8) and delivered (1): two calls per message.
    receiver.wait_calls(2 * MESSAGES, 30).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for call in receiver.calls() {
        *seen
            .entry((call.query("n").unwrap(), call.query("type").unwrap()))
            .or_default() += 1;
    }
    assert_eq!(seen.len(), 2 * MESSAGES, "{seen:?}");
    assert!(
        seen.values().all(|&n| n == 1),
        "a report called twice: {seen:?}"
    );
    assert!(
        !one.sim.sent().is_empty() && !two.sim.sent().is_empty(),
        "both hosts sent: {} and {}",
        one.sim.sent().len(),
        two.sim.sent().len()
    );
    drop((a, b));
}

/// A customer's caps count over every host: the day's one promotion sent from the counter
/// means the branch's is refused, while an order text from the branch still goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_customer_caps_count_over_every_host() {
    let Some((_alone, url)) = shared_database().await else {
        return;
    };
    let (one, two) = (
        ExternalModem::start(|_| {}).await,
        ExternalModem::start(|_| {}).await,
    );
    let care = "[care]\nshop_name = \"Ana's Print\"\n";
    let a = start_host_with(&url, "counter", &[("m1", &one, &[])], "5s", care);
    let b = start_host_with(&url, "branch", &[("m2", &two, &[])], "5s", care);
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    for c in [&mut ca, &mut cb] {
        set_clock(c, "2026-12-02T10:00:00+08:00").await;
    }
    let customer = "+639171234567";
    consent(&mut ca, customer, true).await;
    let mut promo = send(&[customer], "This week: 2-for-1 photo prints.");
    promo.class = Some("marketing".into());
    let first = ca.call(promo.clone()).await.unwrap().messages.remove(0);
    assert_eq!(first.state, S::Queued);
    let e = cb.call(promo).await.unwrap_err();
    assert_eq!(
        refusal(e),
        "frequency_cap",
        "the day's promotion went from the counter"
    );
    cb.call(send(&[customer], "Your prints are ready."))
        .await
        .unwrap();
    drop((a, b));
}
