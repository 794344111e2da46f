//! Figures for the HTTP interfaces of the real `smsqd` binary, over loopback (a throughput
//! harness, not a timed test). Run: `cargo bench --bench http` (five rounds, medians last).
//!
//! 1. Kannel `sendsms` requests per second through to the commit: 16 clients on keep-alive
//!    connections, one recipient per request, each answered only after its message is
//!    committed; the modem is off the network, so nothing is sent meanwhile (the answers are
//!    `3: Queued for later delivery`). smsqd's CPU per request from /proc.
//! 2. The web page's first load: a new connection fetching the Outbox page (300 messages
//!    listed) and then its stylesheet and script, as a browser's first visit does; and the
//!    Send page alone. Medians and 95th percentiles of 50 loads.

use std::time::{Duration, Instant};

#[path = "../tests/common/smsqd.rs"]
mod smsqd;
use smsqd::{ExternalModem, Smsqd, cpu_time};

const PASSWORD: &str = "bench password 2026";
const CLIENTS: usize = 16;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(modem: &ExternalModem, extra: &str) -> Smsqd {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        format!(
            "country = \"PH\"\nsend_gap = \"0s\"\n[[modem]]\nid = \"globe\"\ndevice = \"{}\"\nprofile = \"simcom\"\n{extra}",
            modem.link.display()
        ),
    )
    .unwrap();
    let db = dir.path().join("smsq.db");
    Smsqd::start_with_db(dir, db, &["--config", config.to_str().unwrap()])
}

async fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no listener on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p95(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * 0.95).round() as usize]
}

/// One round of `sendsms`: (requests per second, smsqd CPU µs per request).
async fn sendsms_round(requests: usize) -> (f64, f64) {
    let modem = ExternalModem::start(|d| d.registered = false).await;
    let port = free_port();
    let hash = smsq::http::auth::hash_password(PASSWORD).unwrap();
    let d = start(
        &modem,
        &format!(
            "[care]\nbulk_limit = 100000\n[kannel]\nlisten = \"127.0.0.1:{port}\"\n[[kannel.user]]\nusername = \"bench\"\npassword_hash = \"{hash}\"\n"
        ),
    );
    wait_port(port).await;
    let client = smsq::http::callbacks::client().unwrap();
    let base = format!(
        "http://127.0.0.1:{port}/cgi-bin/sendsms?username=bench&password={}&text=Your+order+is+ready",
        smsq::http::escapes::encode(PASSWORD)
    );
    // Warm up: the first request verifies the password (Argon2) and opens the statements.
    let r = client
        .get(format!("{base}&to=%2B639170000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let pid = d.child.as_ref().unwrap().id();
    let cpu0 = cpu_time(pid);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, base) = (client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..requests).step_by(CLIENTS) {
                let to = format!("%2B63917{:07}", i);
                let r = client.get(format!("{base}&to={to}")).send().await.unwrap();
                assert_eq!(r.status(), 202);
                let body = r.text().await.unwrap();
                assert_eq!(body, "3: Queued for later delivery");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wall = t0.elapsed();
    let cpu = cpu_time(pid) - cpu0;
    drop(d);
    (
        requests as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / requests as f64,
    )
}

/// One round of page loads: (outbox first load ms samples, send page ms samples).
async fn web_round(loads: usize) -> (Vec<f64>, Vec<f64>) {
    let modem = ExternalModem::start(|d| d.registered = false).await;
    let port = free_port();
    let d = start(&modem, &format!("[web]\nlisten = \"127.0.0.1:{port}\"\n"));
    wait_port(port).await;
    // The owner, through the setup link in the log.
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        let log = d.log();
        if let Some(at) = log.find("setup?token=") {
            break log[at + 12..at + 12 + 64].to_string();
        }
        assert!(Instant::now() < deadline, "no setup link");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    smsq::http::callbacks::client().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let site = format!("http://127.0.0.1:{port}");
    let r = client
        .post(format!("{site}/setup"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={token}&name=owner&password={0}&password2={0}",
            smsq::http::escapes::encode(PASSWORD)
        ))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("smsq_session="))
        .expect("a session");
    // 300 messages to list.
    let mut c = d.client().await;
    for chunk in (0..300).collect::<Vec<_>>().chunks(50) {
        let to = chunk.iter().map(|i| format!("+63917{:07}", i)).collect();
        let mut req = smsq::api::SendRequest::new(to, "Hi, your documents are ready for pickup.");
        req.confirm_bulk = true;
        c.call(req).await.unwrap();
    }
    let get = |path: &str, cookie: &str| {
        let url = format!("{site}{path}");
        let cookie = cookie.to_string();
        async move {
            // A new connection per load: a first visit.
            let fresh = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let r = fresh
                .get(url)
                .header("Cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().len()
        }
    };
    let (mut outbox, mut send) = (Vec::new(), Vec::new());
    for _ in 0..loads {
        let t0 = Instant::now();
        let html = get("/outbox", &cookie).await;
        assert!(html > 300 * 100, "the 300 messages are listed");
        get("/static/app.css", &cookie).await;
        get("/static/app.js", &cookie).await;
        outbox.push(t0.elapsed().as_secs_f64() * 1e3);
        let t0 = Instant::now();
        get("/send", &cookie).await;
        send.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    drop(d);
    (outbox, send)
}

fn main() {
    // `cargo test --benches` runs every bench binary: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    let (rounds, requests, loads) = if quick { (1, 400, 5) } else { (5, 20_000, 50) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut rates, mut cpus) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (rate, cpu) = rt.block_on(sendsms_round(requests));
        println!("sendsms round {round}: {rate:.0} requests/s, {cpu:.0} µs smsqd CPU per request");
        rates.push(rate);
        cpus.push(cpu);
    }
    let (mut outbox, mut send) = (Vec::new(), Vec::new());
    for _ in 1..=rounds.min(2) {
        let (o, s) = rt.block_on(web_round(loads));
        outbox.extend(o);
        send.extend(s);
    }
    println!();
    println!(
        "sendsms through to the commit: median {:.0} requests/s, {:.0} µs smsqd CPU per request ({CLIENTS} clients, {requests} requests per round)",
        median(&mut rates),
        median(&mut cpus)
    );
    println!(
        "web first load (Outbox with 300 messages + stylesheet + script, new connections): median {:.1} ms, p95 {:.1} ms",
        median(&mut outbox),
        p95(&mut outbox)
    );
    println!(
        "web Send page: median {:.1} ms, p95 {:.1} ms",
        median(&mut send),
        p95(&mut send)
    );
}
