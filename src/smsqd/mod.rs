//! `smsqd`'s command line and start-up: open the store (applying the unknown-outcome rule
//! to anything a previous run left mid-send), start the modem (a real device or the
//! simulator), the dispatcher, the receiver, housekeeping, the event pump and the socket;
//! stop cleanly on SIGTERM/SIGINT.

mod care_config;
pub mod config;
mod http_config;
pub mod logging;
pub mod notify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::at::command::Pin;

use clap::Parser;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::daemon::{Daemon, ModemRules, Settings};
use crate::modem::{ModemConfig, ModemHandle, profile};
use crate::sim::{self, Simulator};
use crate::store::Store;
use config::{Config, ModemSetup, ModemSource};
use notify::Notifier;

#[derive(Debug, Parser)]
#[command(
    name = "smsqd",
    version,
    about = "SMS gateway daemon: owns a GSM modem, queues and receives SMS"
)]
struct Args {
    /// Configuration file (TOML): modems, routing, pacing, caps, retries; see the README.
    #[arg(long, conflicts_with_all = ["simulate", "device"])]
    config: Option<PathBuf>,
    /// Validate the configuration file and exit.
    #[arg(long, requires = "config")]
    check_config: bool,
    /// Run against the built-in modem simulator instead of a device.
    #[arg(long, conflicts_with = "device")]
    simulate: bool,
    /// Simulated modem family: simcom, huawei or quectel.
    #[arg(long, default_value = "simcom")]
    sim_profile: String,
    /// Lets clients set the daemon's clock (the `set_clock` request), for tests of quiet
    /// hours and caps. Never in production.
    #[arg(long, hide = true)]
    test_clock: bool,
    /// With --simulate, a simulated customer texts back every this many seconds (0: never).
    #[arg(long, default_value_t = 45)]
    sim_inbound_every: u64,
    /// With --simulate, how long the simulated network takes to accept each SMS (e.g. 2s).
    #[arg(long, value_parser = parse_gap, default_value = "0s")]
    sim_network_delay: Duration,
    /// The modem's serial device, e.g. /dev/ttyUSB2 or a /dev/serial/by-path link.
    #[arg(long)]
    device: Option<PathBuf>,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Modem family quirks: generic, huawei, simcom, quectel, zte, wavecom, telit, fibocom.
    #[arg(long, default_value = "generic")]
    profile: String,
    /// SIM PIN, entered at most once per start (prefer the configuration file to the
    /// command line, which other users can see).
    #[arg(long, env = "SMSQ_PIN", hide_env_values = true)]
    pin: Option<String>,
    /// Database file [default: $STATE_DIRECTORY/smsq.db, $XDG_STATE_HOME/smsq/smsq.db, ~/.local/state/smsq/smsq.db], or a PostgreSQL database shared by several hosts (postgres://user@host/dbname).
    #[arg(long, value_name = "PATH|URL")]
    db: Option<String>,
    /// Socket path [default: $RUNTIME_DIRECTORY/smsq.sock, $XDG_RUNTIME_DIR/smsq/smsq.sock, /tmp/smsq-<uid>/smsq.sock].
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Default country for national numbers (ISO code: PH, PL, GB...).
    #[arg(long)]
    country: Option<String>,
    /// Least time between the starts of two sends, e.g. 3s, 500ms.
    #[arg(long, default_value = "3s", value_parser = parse_gap)]
    send_gap: Duration,
    /// Do not ask for delivery reports by default.
    #[arg(long)]
    no_reports: bool,
    /// Log level (error, warn, info, debug, trace) or a RUST_LOG-style filter [default: the
    /// configuration's log_level, else info].
    #[arg(long)]
    log_level: Option<String>,
    /// Read a password from standard input, print its Argon2id hash for the configuration's
    /// password_hash, and exit.
    #[arg(long, exclusive = true)]
    hash_password: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Copy the SQLite database (--db, the configuration's, or the default) into an empty
    /// PostgreSQL database, for several hosts sharing one store; stop smsqd first. The
    /// SQLite file is left as it was.
    Migrate {
        /// The PostgreSQL database: postgres://user@host/dbname (TLS: ?sslmode=require).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

fn parse_gap(s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|e| e.to_string());
    }
    crate::time::parse_duration(s).or_else(|e| {
        if s == "0" || s == "0s" {
            Ok(Duration::ZERO)
        } else {
            Err(e)
        }
    })
}

/// smsqd's command line, for generated documentation (man page, completions).
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

pub fn main() -> ExitCode {
    // Before any thread exists: taking a socket-activated listener clears the environment.
    let activated = match crate::api::server::from_systemd() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("smsqd: socket activation: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args = Args::parse();
    if args.hash_password {
        return hash_password();
    }
    if let Some(Command::Migrate { to }) = &args.command {
        return migrate(&args, to);
    }
    let sink = logging::init(args.log_level.as_deref().unwrap_or("info"));
    tracing::debug!(sink, "logging");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, activated)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            eprintln!("smsqd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `smsqd --hash-password`: one line from standard input (a terminal shows no prompt of
/// ours, so that the output is the hash alone and can be piped).
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("smsqd: cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if let Some(sample) = crate::http::auth::SAMPLE_PASSWORDS
        .iter()
        .find(|s| **s == password)
    {
        eprintln!("smsqd: {sample:?} is a sample password anyone would try; choose another");
        return ExitCode::FAILURE;
    }
    match crate::http::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smsqd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `smsqd migrate --to URL`: the SQLite database into an empty PostgreSQL one.
fn migrate(args: &Args, to: &str) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("smsqd: {e}");
        ExitCode::FAILURE
    };
    let target = crate::store::Location::parse(to);
    if !matches!(target, crate::store::Location::Postgres(_)) {
        return fail(&format!("--to {to}: a postgres:// URL"));
    }
    let configured = match &args.config {
        Some(path) => match config::load(path) {
            Ok(c) => c.database,
            Err(e) => return fail(&format!("{}: {e}", path.display())),
        },
        None => None,
    };
    let source = args
        .db
        .as_deref()
        .map(crate::store::Location::parse)
        .or(configured)
        .unwrap_or_else(|| crate::store::Location::File(crate::store::default_path()));
    let crate::store::Location::File(path) = &source else {
        return fail(&format!(
            "the database to copy is {source}: already PostgreSQL"
        ));
    };
    match crate::store::migrate::sqlite_to_postgres(path, to, crate::time::now_ms()) {
        Ok(copied) => {
            for (table, rows) in &copied {
                println!("{table:<18} {rows:>10}");
            }
            let total: u64 = copied.iter().map(|(_, n)| n).sum();
            println!(
                "copied {total} rows from {} to {target}; set database = \"{target}\" (with its password) on every host",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("cannot copy {} to {target}: {e}", path.display())),
    }
}

/// The configuration from `--config`, or from the command-line flags (one modem).
fn configuration(args: &Args) -> Result<Config, String> {
    if let Some(path) = &args.config {
        return config::load(path).map_err(|e| format!("{}: {e}", path.display()));
    }
    let country = match &args.country {
        Some(c) => Some(crate::phone::country(c).ok_or_else(|| format!("unknown country {c:?}"))?),
        None => None,
    };
    let settings = Settings {
        default_country: country,
        status_reports: !args.no_reports,
        send_gap: args.send_gap,
        ..Settings::default()
    };
    let (source, profile) = if args.simulate {
        let sim_profile = sim::profile::by_name(&args.sim_profile)
            .ok_or_else(|| format!("unknown simulator profile {:?}", args.sim_profile))?;
        let driver = profile::by_name(sim_profile.name).unwrap_or(&profile::GENERIC);
        (ModemSource::Simulated(sim_profile), driver)
    } else {
        let device = args.device.clone().ok_or(
            "give --device PATH, --config FILE, or --simulate to try smsq without a modem",
        )?;
        let driver = profile::by_name(&args.profile)
            .ok_or_else(|| format!("unknown modem profile {:?}", args.profile))?;
        (ModemSource::Device(device), driver)
    };
    Ok(Config {
        settings,
        reject_calls: true,
        log_sensitive: false,
        log_level: None,
        database: None,
        socket: None,
        socket_group: None,
        kannel: None,
        android: None,
        web: None,
        modems: vec![ModemSetup {
            modem: {
                let path = match &source {
                    ModemSource::Device(path) => path.clone(),
                    ModemSource::Simulated(_) => PathBuf::new(),
                };
                let mut modem = ModemConfig::new("modem0", path, profile);
                modem.baud = args.baud;
                modem.pin = args
                    .pin
                    .as_deref()
                    .map(Pin::parse)
                    .transpose()
                    .map_err(|e| format!("--pin: {e}"))?;
                modem
            },
            source,
            rules: ModemRules::default(),
        }],
    })
}

async fn run(
    args: Args,
    activated: Option<std::os::unix::net::UnixListener>,
) -> Result<(), String> {
    let mut config = configuration(&args)?;
    config.settings.test_clock = args.test_clock;
    crate::phone::show_numbers_in_logs(config.log_sensitive);
    if args.check_config {
        println!(
            "configuration OK: {} modem(s): {}",
            config.modems.len(),
            config
                .modems
                .iter()
                .map(|m| match m.source {
                    ModemSource::Simulated(_) => {
                        format!("{} (SIMULATED: messages go nowhere)", m.id())
                    }
                    ModemSource::Device(_) => m.id().to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    // Before anything accepts connections: a flood of clients could otherwise take every
    // descriptor the watcher needs, leaving a daemon that stops at once or cannot be stopped.
    let mut signals = watch_signals()?;
    let database = args
        .db
        .as_deref()
        .map(crate::store::Location::parse)
        .or(config.database.clone())
        .unwrap_or_else(|| crate::store::Location::File(crate::store::default_path()));
    let store = Store::open_at(&database)
        .map_err(|e| format!("cannot open the database {database}: {e}"))?;

    // The modems: devices, or simulators behind ptys (in a directory of this process).
    remove_stale_sim_dirs();
    let sim_dir = std::env::temp_dir().join(format!("{SIM_DIR_PREFIX}{}", std::process::id()));
    let mut simulators: Vec<Arc<Simulator>> = Vec::new();
    let mut handles = Vec::new();
    let mut rules = Vec::new();
    for setup in &config.modems {
        let mut modem = setup.modem.clone();
        if let ModemSource::Simulated(sim_profile) = &setup.source {
            std::fs::create_dir_all(&sim_dir).map_err(|e| format!("simulator: {e}"))?;
            let link = sim_dir.join(setup.id());
            let sim = Simulator::start(sim_profile, &link, |_| {})
                .await
                .map_err(|e| format!("simulator: {e}"))?;
            sim.faults().network_delay = args.sim_network_delay;
            warn!(modem = %setup.id(), path = %link.display(), profile = sim_profile.name, "this modem is SIMULATED: nothing sent through it reaches a phone");
            simulators.push(Arc::new(sim));
            modem.path = link;
            modem.registration_wait = Duration::from_secs(5);
        }
        modem.pin_memory = Some(Arc::new(crate::daemon::StorePinMemory(store.clone())));
        modem.reject_calls = config.reject_calls;
        handles.push(ModemHandle::spawn(modem));
        rules.push(setup.rules.clone());
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let d = Daemon::with_rules(store, handles, rules, config.settings.clone(), stop_rx);
    // This host's modems are its own from here; what its previous run (or a host that
    // stopped answering) left mid-send is settled first.
    let unknown = d.join_hosts().await.map_err(|e| format!("database: {e}"))?;
    if !unknown.is_empty() {
        warn!(messages = ?unknown, "messages were mid-send when smsqd last stopped: marked unknown, not resent");
    }
    if let Some(level) = &config.log_level
        && args.log_level.is_none()
        && let Err(e) = logging::set_level(level)
    {
        warn!(error = %e, "log level from the configuration not applied");
    }
    let socket_path = args
        .socket
        .clone()
        .or(config.socket.clone())
        .unwrap_or_else(crate::api::default_socket_path);
    let listener = match activated {
        Some(listener) => {
            info!("using the socket systemd passed");
            tokio::net::UnixListener::from_std(listener)
                .map_err(|e| format!("socket activation: {e}"))?
        }
        None => {
            let listener = crate::api::server::bind(&socket_path)
                .map_err(|e| format!("cannot listen on {}: {e}", socket_path.display()))?;
            if let Some((name, gid)) = &config.socket_group {
                std::os::unix::fs::chown(&socket_path, None, Some(*gid)).map_err(|e| {
                    format!("cannot give {} to group {name}: {e}", socket_path.display())
                })?;
            }
            listener
        }
    };
    info!(socket = %socket_path.display(), db = %database, host = %d.settings().host, modems = d.modems.len(), "smsqd ready");

    d.apply_reply_window()
        .await
        .map_err(|e| format!("cannot configure the store: {e}"))?;
    let http = bind_http(&config).await?;
    let Tasks { dispatcher, server } = spawn_tasks(&d, listener);
    tokio::spawn(d.clone().keep_lease());
    if d.store.shared() {
        tokio::spawn(d.clone().follow_other_hosts());
    }
    start_http(&d, &config, http).await?;
    // READY only now: the store is open and the socket bound.
    let notifier = Arc::new(Notifier::from_env());
    notifier.notify(&format!("READY=1\nSTATUS={}", d.status_line().await));
    tokio::spawn(supervise(d.clone(), notifier.clone()));
    if let Some(sim) = simulators.first()
        && args.sim_inbound_every > 0
    {
        tokio::spawn(simulated_customers(
            sim.clone(),
            Duration::from_secs(args.sim_inbound_every),
        ));
    }

    let mut current = config;
    while let Some(sig) = signals.recv().await {
        if sig == signal_hook::consts::SIGHUP {
            match &args.config {
                Some(path) => {
                    reload(path, &d, &mut current);
                    if let Err(e) = d.apply_reply_window().await {
                        warn!(event = "store_error", error = %e, "the reply window stays as it was");
                    }
                }
                None => info!("SIGHUP: no --config file to reload"),
            }
            continue;
        }
        info!(signal = sig, "signal received");
        break;
    }
    notifier.notify("STOPPING=1");
    info!("stopping: no new requests; letting the send in progress finish");
    let _ = stop_tx.send(true);
    d.wake();
    let _ = server.await;
    // An AT+CMGS in flight gets a few seconds; after that the part stays "sending" and the
    // next start applies the unknown-outcome rule.
    if tokio::time::timeout(Duration::from_secs(5), dispatcher)
        .await
        .is_err()
    {
        warn!("a send was still in progress; it will be reconciled at the next start");
    }
    d.leave_hosts().await;
    let _ = std::fs::remove_file(&socket_path);
    for sim in &simulators {
        sim.disconnect().await;
    }
    let _ = std::fs::remove_dir_all(&sim_dir);
    info!("smsqd stopped");
    Ok(())
}

/// The running daemon's tasks; `dispatcher` and `server` are awaited on shutdown.
pub struct Tasks {
    pub dispatcher: tokio::task::JoinHandle<()>,
    pub server: tokio::task::JoinHandle<()>,
}

/// Starts dispatch and receiving for every modem, housekeeping and the socket server for `d`:
/// the one place where the core and its interfaces are put together.
pub fn spawn_tasks(d: &Arc<Daemon>, listener: tokio::net::UnixListener) -> Tasks {
    let dispatchers: Vec<_> = (0..d.modems.len())
        .map(|k| tokio::spawn(crate::daemon::dispatch::run(d.clone(), k)))
        .collect();
    let dispatcher = tokio::spawn(async move {
        for task in dispatchers {
            if let Err(e) = task.await {
                error!(event = "dispatcher_failed", error = %e, "a dispatcher ended abnormally; its modem sends nothing until smsqd restarts");
            }
        }
    });
    for modem in &d.modems {
        tokio::spawn(crate::daemon::receive::run(d.clone(), modem.clone()));
    }
    tokio::spawn(d.clone().housekeeping());
    tokio::spawn(d.clone().watch_campaigns());
    d.start_hooks();
    let server = tokio::spawn(crate::api::server::serve(listener, d.clone()));
    Tasks { dispatcher, server }
}

/// The HTTP interfaces' listeners, bound before READY so that a port in use stops the
/// start with a clear message.
struct HttpListeners {
    kannel: Option<tokio::net::TcpListener>,
    android: Option<tokio::net::TcpListener>,
    web: Option<tokio::net::TcpListener>,
}

async fn bind_one(
    key: &str,
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{key}: cannot listen on {addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        warn!(address = %addr, interface = key, "an HTTP interface listens beyond this machine: keep its accounts narrow and put TLS in front of it");
    }
    Ok(listener)
}

async fn bind_http(config: &Config) -> Result<HttpListeners, String> {
    let mut out = HttpListeners {
        kannel: None,
        android: None,
        web: None,
    };
    if let Some(k) = &config.kannel {
        out.kannel = Some(bind_one("kannel.listen", k.settings.listen).await?);
        info!(address = %k.settings.listen, path = %k.settings.path, accounts = k.settings.users.len(), "Kannel sendsms interface listening");
    }
    if let Some(a) = &config.android {
        out.android = Some(bind_one("android.listen", a.settings.listen).await?);
        info!(address = %a.settings.listen, "Android-gateway REST interface listening");
    }
    if let Some(w) = &config.web {
        out.web = Some(bind_one("web.listen", w.listen).await?);
        info!(address = %w.listen, "web page listening");
    }
    Ok(out)
}

/// Starts the HTTP interfaces and, when one is on, the callbacks' planner and deliverer.
async fn start_http(d: &Arc<Daemon>, config: &Config, http: HttpListeners) -> Result<(), String> {
    if let (Some(settings), Some(listener)) = (&config.web, http.web) {
        let web = Arc::new(crate::http::web::Web::new(d.clone(), settings.clone()));
        crate::http::web::announce_setup(&web)
            .await
            .map_err(|e| format!("web page: {e}"))?;
        tokio::spawn(crate::http::serve(
            listener,
            crate::http::web::router(web),
            d.shutdown.clone(),
        ));
    }
    if config.kannel.is_none() && config.android.is_none() {
        return Ok(());
    }
    if let (Some(k), Some(listener)) = (&config.kannel, http.kannel) {
        let kannel = Arc::new(crate::http::kannel::Kannel::new(
            d.clone(),
            k.settings.clone(),
        ));
        tokio::spawn(crate::http::serve(
            listener,
            crate::http::kannel::router(kannel),
            d.shutdown.clone(),
        ));
    }
    if let (Some(a), Some(listener)) = (&config.android, http.android) {
        let android = Arc::new(crate::http::android::Android::new(
            d.clone(),
            a.settings.clone(),
        ));
        tokio::spawn(crate::http::serve(
            listener,
            crate::http::android::router(android),
            d.shutdown.clone(),
        ));
    }
    let plan = Arc::new(crate::http::callbacks::Plan {
        kannel_push: config
            .kannel
            .as_ref()
            .map(|k| k.push.clone())
            .unwrap_or_default(),
        android_device: config
            .android
            .as_ref()
            .map(|a| a.settings.device_id.clone()),
        kannel_retry_for: config
            .kannel
            .as_ref()
            .map_or(Duration::from_secs(86_400), |k| k.retry_for),
        webhook_attempts: config.android.as_ref().map_or(15, |a| a.webhook_attempts),
        modems: d.modems.iter().map(|m| m.id().to_string()).collect(),
        // One deliverer for both: the shorter first delay serves both.
        retry_first: config
            .kannel
            .iter()
            .map(|k| k.retry_first)
            .chain(config.android.iter().map(|a| a.retry_first))
            .min()
            .unwrap_or(Duration::from_secs(10)),
    });
    let signing_key = config
        .android
        .as_ref()
        .and_then(|a| a.settings.signing_key.clone())
        .map(|k| Arc::new(k.into_bytes()));
    let client = crate::http::callbacks::client()?;
    let planned = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(crate::http::callbacks::run_planner(
        d.clone(),
        plan.clone(),
        planned.clone(),
    ));
    tokio::spawn(crate::http::callbacks::run_deliverer(
        d.clone(),
        plan,
        client,
        signing_key,
        planned,
    ));
    Ok(())
}

/// The simulated modems' links live in `$TMPDIR/smsqd-sim-<pid>`.
const SIM_DIR_PREFIX: &str = "smsqd-sim-";

/// Removes simulator directories left by an smsqd that was killed (its process is gone), so
/// that runs killed with SIGKILL do not pile up in the temporary directory.
fn remove_stale_sim_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SIM_DIR_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists()
            && let Err(e) = std::fs::remove_dir_all(entry.path())
        {
            tracing::debug!(path = %entry.path().display(), error = %e, "cannot remove a stale simulator directory");
        }
    }
}

/// Keeps systemd informed: `STATUS=` when the modems or the queue change, and `WATCHDOG=1`
/// only while the store thread answers (a daemon whose store is stuck stops pinging, and
/// systemd restarts it).
async fn supervise(d: Arc<Daemon>, notifier: Arc<Notifier>) {
    if !notifier.is_active() {
        return;
    }
    let watchdog = Notifier::watchdog_interval();
    let period = watchdog.map_or(Duration::from_secs(5), |w| w.min(Duration::from_secs(5)));
    let mut last_status = String::new();
    loop {
        tokio::time::sleep(period).await;
        let alive = tokio::time::timeout(
            Duration::from_secs(10),
            d.store.call(|db| db.last_event_id()),
        )
        .await
        .is_ok_and(|r| r.is_ok());
        if !alive {
            warn!("the store does not answer; not pinging the watchdog");
            continue;
        }
        if watchdog.is_some() {
            notifier.notify("WATCHDOG=1");
        }
        let status = d.status_line().await;
        if status != last_status {
            notifier.notify(&format!("STATUS={status}"));
            last_status = status;
        }
    }
}

/// SIGTERM/SIGINT/SIGHUP through signal-hook on a plain thread, forwarded into the runtime.
fn watch_signals() -> Result<tokio::sync::mpsc::UnboundedReceiver<i32>, String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("cannot watch signals (SIGTERM, SIGINT, SIGHUP): {e}"))?;
    std::thread::Builder::new()
        .name("smsq-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send(sig).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot watch signals: {e}"))?;
    Ok(rx)
}

/// Re-reads the configuration on SIGHUP: applies what can change without reopening devices
/// (pacing, retries, routing, caps, country, logging) and says what needs a restart.
fn reload(path: &std::path::Path, d: &Daemon, current: &mut Config) {
    let new = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            error!(event = "config_reload_failed", error = %e, "configuration not reloaded; the running one stays");
            return;
        }
    };
    let (applied, restart) = config::diff(current, &new);
    if let Some(level) = &new.log_level
        && let Err(e) = logging::set_level(level)
    {
        warn!(error = %e, "log level unchanged");
    }
    crate::phone::show_numbers_in_logs(new.log_sensitive);
    let mut settings = new.settings.clone();
    settings.housekeeping_interval = current.settings.housekeeping_interval;
    settings.test_clock = current.settings.test_clock;
    d.replace_settings(
        settings,
        new.modems.iter().map(|m| m.rules.clone()).collect(),
    );
    if applied.is_empty() && restart.is_empty() {
        info!(
            event = "config_reloaded",
            "configuration reloaded: nothing changed"
        );
    } else if !applied.is_empty() {
        info!(event = "config_reloaded", changed = %applied.join("; "), "configuration reloaded");
    }
    if !restart.is_empty() {
        warn!(event = "config_needs_restart", keys = %restart.join("; "), "these changes need a restart of smsqd");
    }
    // Keep the running modems' own settings: only what was applied becomes current.
    let modems = std::mem::take(&mut current.modems);
    *current = Config { modems, ..new };
    for (m, n) in current.modems.iter_mut().zip(d.rules()) {
        m.rules = n;
    }
}

/// With `--simulate`, customers text the shop now and then, so a newcomer sees messages
/// come in as well as go out (status reports for sent messages come from the simulated
/// network on their own).
async fn simulated_customers(sim: Arc<Simulator>, every: Duration) {
    const CUSTOMERS: &[&str] = &[
        "+639171234567",
        "+639209876543",
        "+639175550123",
        "+639189990001",
        "+48601234567",
        "+639151112233",
        "+639278887766",
    ];
    const REPLIES: &[&str] = &[
        "Thanks! I'll pick it up at 5pm.",
        "Is my laptop ready? The one with the broken hinge.",
        "Dziękuję, do zobaczenia jutro! 🙂",
        "STOP",
        "Can I move my appointment to Friday morning? Tuesday no longer works for me because \
         of a family event, sorry for the short notice. Also, could you check whether the \
         blue dress is back in my size?",
        "Salamat po! Pwede po bang bukas na lang?",
        "How much for printing 20 pages in colour?",
        "YES",
        "Are you open on Sunday?",
        "Got it, thank you 👍",
        "Magkano po ang ID photo?",
    ];
    let mut reference: u8 = 0;
    // Customers and texts walk at different strides, so the pairs vary for a long while.
    for round in 0usize.. {
        tokio::time::sleep(every).await;
        reference = reference.wrapping_add(1);
        let from = CUSTOMERS[(round * 3) % CUSTOMERS.len()];
        let text = REPLIES[round % REPLIES.len()];
        sim.deliver_text(from, text, reference);
    }
}
