//! The task that owns one serial port.
//!
//! Lifecycle: open the path (backing off while it is absent) → bring-up (wait for `AT`, echo
//! off, numeric errors, SIM and PIN, PDU mode, storage, new-message routing, service centre,
//! identity, registration, signal) → serve requests one at a time, emitting URCs whenever
//! they arrive → on unplug, reboot banner or a modem that stopped answering, start over.
//!
//! Others talk to it through a [`ModemHandle`]: requests with a oneshot reply, a broadcast
//! of [`ModemEvent`]s, and a watch of the [`ModemStatus`] snapshot.
//!
//! The PIN from the configuration is entered whenever the SIM asks for it (after a replug or a
//! modem reset too), but never a PIN the SIM refused before (remembered across restarts by
//! the [`PinMemory`]), and never when the modem says only one attempt is left: no run of
//! restarts can lock the SIM.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_serial::{SerialPortBuilderExt, SerialStream};
use tracing::{Instrument, debug, error, info, warn};

use super::exchange::{Event, Failure, Response, Router, StoredPdu, UrcEvent};
use super::pin::{self, PinMemory};
use super::profile::Profile;
use crate::at::codes::CmeError;
use crate::at::command::ESC;
use crate::at::command::{Command, Pin, UssdString};
use crate::at::framer::{Frame, Framer};
use crate::at::parse::{self, Final, PinState, Registration, Urc};

/// How long the rest of a send's answer may take once its first line came (see
/// `Router::answered`): a damaged final result code costs this, not the send timeout.
const ANSWER_SETTLE: Duration = Duration::from_secs(5);

/// How long the modem may take to answer an ESC sent to close a `> ` prompt.
const PROMPT_SETTLE: Duration = Duration::from_millis(300);

/// How one modem is driven.
#[derive(Debug, Clone)]
pub struct ModemConfig {
    /// A short name for logs and routing ("globe", "modem0").
    pub id: String,
    pub path: PathBuf,
    pub baud: u32,
    pub pin: Option<Pin>,
    pub profile: &'static Profile,
    /// How long `AT+CMGS` may take before the outcome is declared unknown.
    pub send_timeout: Duration,
    /// Idle time after which the modem is checked with `AT` and its status refreshed.
    pub health_interval: Duration,
    /// How long bring-up waits for network registration before declaring the modem ready
    /// but unregistered.
    pub registration_wait: Duration,
    /// Hang up incoming voice calls.
    pub reject_calls: bool,
    /// Re-open back-off: first and longest wait while the device is absent.
    pub reopen_backoff: (Duration, Duration),
    /// How many one-second `AT` probes bring-up makes before giving up on a silent modem.
    pub wake_attempts: u32,
    /// Where PINs a SIM refused are remembered across restarts (the daemon's database);
    /// without one, only for the life of this actor.
    pub pin_memory: Option<Arc<dyn PinMemory>>,
}

impl ModemConfig {
    pub fn new(id: impl Into<String>, path: impl Into<PathBuf>, profile: &'static Profile) -> Self {
        Self {
            id: id.into(),
            path: path.into(),
            baud: 115_200,
            pin: None,
            profile,
            send_timeout: Duration::from_secs(60),
            health_interval: Duration::from_secs(30),
            registration_wait: Duration::from_secs(60),
            reject_calls: true,
            reopen_backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            wake_attempts: 20,
            pin_memory: None,
        }
    }
}

/// Where the modem is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemState {
    /// The device path is missing or cannot be opened.
    Absent,
    Initializing,
    Ready,
    /// The SIM needs a PIN or PUK that smsq will not (or may not) enter; the reason says
    /// what to do.
    NeedsPin(String),
    /// Bring-up failed for another reason (no SIM, no PDU mode, not answering).
    Failed(String),
}

impl ModemState {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Initializing => "initializing",
            Self::Ready => "ready",
            Self::NeedsPin(_) => "needs_pin",
            Self::Failed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub revision: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
}

/// A snapshot of what is known about the modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemStatus {
    pub state: ModemState,
    pub identity: Identity,
    pub operator: Option<String>,
    pub registration: Option<Registration>,
    pub signal_dbm: Option<i32>,
    /// (used, total) of the storage where new messages land.
    pub storage: Option<(u32, u32)>,
    pub smsc: Option<String>,
    /// The `+CNMI` setting the modem accepted.
    pub cnmi: Option<[u8; 5]>,
    /// Times the port was (re)opened and brought up.
    pub connections: u64,
    /// PIN attempts the SIM has left, where the modem says (read when a PIN is asked for).
    pub pin_attempts_left: Option<u8>,
    /// Why the device could not be opened, while it cannot.
    pub absent_reason: Option<String>,
}

impl Default for ModemStatus {
    fn default() -> Self {
        Self {
            state: ModemState::Absent,
            identity: Identity::default(),
            operator: None,
            registration: None,
            signal_dbm: None,
            storage: None,
            smsc: None,
            cnmi: None,
            connections: 0,
            pin_attempts_left: None,
            absent_reason: None,
        }
    }
}

impl ModemStatus {
    pub fn is_registered(&self) -> bool {
        self.registration
            .as_ref()
            .is_some_and(Registration::is_registered)
    }

    /// Ready and registered on the network: a text handed to it now can go.
    pub fn can_send(&self) -> bool {
        self.state == ModemState::Ready && self.is_registered()
    }
}

/// What subscribers hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemEvent {
    State(ModemState),
    Urc(UrcEvent),
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemError {
    /// The device is not there (unplugged, path missing).
    Absent,
    /// The modem is there but not usable (PIN, no SIM, still starting).
    NotReady(String),
    /// The modem answered with an error code.
    Rejected(Final),
    /// No answer in time. `outcome_unknown`: an SMS was handed over and may have been sent.
    Timeout { outcome_unknown: bool },
    /// The device went away during the operation. `outcome_unknown` as above.
    Disconnected { outcome_unknown: bool },
    /// The answer did not have the expected shape.
    BadResponse(String),
    /// The actor has stopped.
    Stopped,
}

impl ModemError {
    /// Whether an SMS handed over may have been sent (never resend it blindly).
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Timeout {
                outcome_unknown: true
            } | Self::Disconnected {
                outcome_unknown: true
            }
        )
    }
}

impl std::fmt::Display for ModemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent => write!(f, "modem absent"),
            Self::NotReady(why) => write!(f, "modem not ready: {why}"),
            Self::Rejected(Final::Cms(e)) => write!(f, "{e}"),
            Self::Rejected(Final::Cme(e)) => write!(f, "{e}"),
            Self::Rejected(other) => write!(f, "modem answered {other:?}"),
            Self::Timeout { outcome_unknown } => write!(
                f,
                "no answer in time{}",
                if *outcome_unknown {
                    " (the SMS may have been sent)"
                } else {
                    ""
                }
            ),
            Self::Disconnected { outcome_unknown } => write!(
                f,
                "modem disconnected{}",
                if *outcome_unknown {
                    " (the SMS may have been sent)"
                } else {
                    ""
                }
            ),
            Self::BadResponse(what) => write!(f, "unexpected answer: {what}"),
            Self::Stopped => write!(f, "modem actor stopped"),
        }
    }
}

impl std::error::Error for ModemError {}

enum Request {
    Run(Command, oneshot::Sender<Result<Response, ModemError>>),
    Ussd(UssdString, oneshot::Sender<Result<String, ModemError>>),
    /// Bring the modem up again (its settings may be lost: text mode, no `+CNMI`).
    Reinitialize,
}

impl Request {
    /// Answers the request with `error` without running it.
    fn fail(self, error: ModemError) {
        // A caller that stopped waiting is no longer interested: nothing to do.
        let _ = match self {
            Self::Run(_, reply) => reply.send(Err(error)).map_err(drop),
            Self::Ussd(_, reply) => reply.send(Err(error)).map_err(drop),
            // Not up: bring-up runs anyway once the modem is back.
            Self::Reinitialize => Ok(()),
        };
    }
}

/// A cloneable handle to a running modem actor.
#[derive(Clone)]
pub struct ModemHandle {
    id: String,
    send_timeout: Duration,
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<ModemEvent>,
    status: watch::Receiver<ModemStatus>,
}

impl ModemHandle {
    /// Starts the actor for `config` on the current tokio runtime.
    pub fn spawn(config: ModemConfig) -> Self {
        let (req_tx, req_rx) = mpsc::channel(64);
        let (ev_tx, _) = broadcast::channel(256);
        let (st_tx, st_rx) = watch::channel(ModemStatus::default());
        let handle = Self {
            id: config.id.clone(),
            send_timeout: config.send_timeout,
            requests: req_tx,
            events: ev_tx.clone(),
            status: st_rx,
        };
        let ctx = Ctx {
            config,
            events: ev_tx,
            status: st_tx,
        };
        tokio::spawn(run_actor(ctx, req_rx));
        handle
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ModemEvent> {
        self.events.subscribe()
    }

    pub fn status(&self) -> ModemStatus {
        self.status.borrow().clone()
    }

    /// Waits until the state satisfies `pred`, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&ModemStatus) -> bool) -> bool {
        let mut rx = self.status.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| pred(s)))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Runs a raw command.
    pub async fn run(&self, command: Command) -> Result<Response, ModemError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Run(command, tx))
            .await
            .map_err(|_| ModemError::Stopped)?;
        rx.await.map_err(|_| ModemError::Stopped)?
    }

    /// Sends one SMS-SUBMIT PDU; returns the message reference the network assigned.
    pub async fn send_pdu(&self, tpdu_len: usize, pdu_hex: &str) -> Result<u8, ModemError> {
        let command = Command::send_pdu(tpdu_len, pdu_hex).with_timeout(self.send_timeout);
        let response = self.run(command).await?;
        response
            .lines
            .iter()
            .find_map(|l| parse::parse_cmgs(l))
            .ok_or_else(|| ModemError::BadResponse("no +CMGS reference".into()))
    }

    /// Reads the message stored at `index`; `None` for an empty slot.
    pub async fn read(&self, index: u32) -> Result<Option<StoredPdu>, ModemError> {
        let mut response = self.run(Command::read_message(index)).await?;
        Ok(response.stored.pop().map(|mut s| {
            s.header.index = Some(index);
            s
        }))
    }

    /// Every stored message and status report.
    pub async fn list(&self) -> Result<Vec<StoredPdu>, ModemError> {
        Ok(self.run(Command::list_messages()).await?.stored)
    }

    pub async fn delete(&self, index: u32) -> Result<(), ModemError> {
        self.run(Command::delete_message(index)).await.map(|_| ())
    }

    /// Acknowledges a message routed directly (`+CMT`) once it is safely stored.
    pub async fn acknowledge(&self) -> Result<(), ModemError> {
        self.run(Command::ack_message()).await.map(|_| ())
    }

    /// Asks the actor to bring the modem up again, as after a reboot: for answers that
    /// say its state is not what bring-up left (`+CMS ERROR: 302` after it fell back to
    /// text mode, a SIM that wants its PIN again). Returns once the request is queued.
    pub async fn reinitialize(&self) -> Result<(), ModemError> {
        self.requests
            .send(Request::Reinitialize)
            .await
            .map_err(|_| ModemError::Stopped)
    }

    /// A USSD request (`*143#`); returns the network's answer, decoded.
    pub async fn ussd(&self, code: &UssdString) -> Result<String, ModemError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Ussd(code.clone(), tx))
            .await
            .map_err(|_| ModemError::Stopped)?;
        rx.await.map_err(|_| ModemError::Stopped)?
    }
}

struct Ctx {
    config: ModemConfig,
    events: broadcast::Sender<ModemEvent>,
    status: watch::Sender<ModemStatus>,
}

impl Ctx {
    fn set_state(&self, state: ModemState) {
        let changed = self.status.send_if_modified(|s| {
            if s.state == state {
                return false;
            }
            s.state = state.clone();
            true
        });
        if changed {
            match &state {
                ModemState::Ready => {
                    info!(event = "modem_state", modem = %self.config.id, "modem ready")
                }
                ModemState::Absent => {
                    error!(event = "modem_state", modem = %self.config.id, "modem absent")
                }
                ModemState::NeedsPin(why) | ModemState::Failed(why) => {
                    error!(event = "modem_state", modem = %self.config.id, state = state.name(), reason = %why, "modem not usable")
                }
                ModemState::Initializing => {
                    info!(event = "modem_state", modem = %self.config.id, "initializing modem")
                }
            }
            let _ = self.events.send(ModemEvent::State(state));
        }
    }

    fn update(&self, f: impl FnOnce(&mut ModemStatus)) {
        self.status.send_modify(f);
    }
}

/// How a connection ended.
enum End {
    Gone,
    Reboot,
    Hung,
    Stopped,
}

/// Why a command on the link did not complete normally.
enum LinkError {
    Failure(Failure),
    Gone { payload_sent: bool },
}

fn to_modem_error(e: LinkError) -> ModemError {
    match e {
        LinkError::Failure(Failure::Rejected(f)) => ModemError::Rejected(f),
        LinkError::Failure(Failure::Timeout { outcome_unknown }) => {
            ModemError::Timeout { outcome_unknown }
        }
        LinkError::Gone { payload_sent } => ModemError::Disconnected {
            outcome_unknown: payload_sent,
        },
    }
}

/// The open port and the pure state that reads it.
struct Link {
    port: SerialStream,
    framer: Framer,
    router: Router,
    buf: [u8; 1024],
    /// A banner arrived after bring-up: the modem restarted.
    reboot_seen: bool,
    /// A call is ringing and should be hung up when idle.
    hang_up: bool,
    /// A `+CUSD` answer, kept until a USSD request collects it.
    ussd: Option<parse::Cusd>,
    /// After a timeout, a stale final result code may still come; sync with `AT` first.
    needs_sync: bool,
    /// `router.stale_finals()` when the timeout happened: one more means the late answer came.
    stale_mark: u64,
    ready: bool,
}

impl Link {
    fn new(port: SerialStream) -> Self {
        Self {
            port,
            framer: Framer::new(),
            router: Router::new(),
            buf: [0; 1024],
            reboot_seen: false,
            hang_up: false,
            ussd: None,
            needs_sync: false,
            stale_mark: 0,
            ready: false,
        }
    }

    /// Handles frames already read; returns a completion if the command in flight finished.
    async fn drain_frames(
        &mut self,
        ctx: &Ctx,
    ) -> Result<Option<Result<Response, Failure>>, LinkError> {
        if self.router.awaits_prompt() && self.framer.take_bare_prompt() {
            let events = self.router.on_frame(Frame::Prompt);
            if let Some(done) = self.apply(ctx, events).await? {
                return Ok(Some(done));
            }
        }
        while let Some(frame) = self.framer.next_frame() {
            let events = self.router.on_frame(frame);
            if let Some(done) = self.apply(ctx, events).await? {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    async fn apply(
        &mut self,
        ctx: &Ctx,
        events: Vec<Event>,
    ) -> Result<Option<Result<Response, Failure>>, LinkError> {
        let mut done = None;
        for event in events {
            match event {
                Event::Write(bytes) => self.write(&bytes).await?,
                Event::Urc(urc) => self.on_urc(ctx, urc),
                Event::Completed(result) => done = Some(result),
            }
        }
        Ok(done)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let payload_sent = self.router.payload_sent();
        self.port
            .write_all(bytes)
            .await
            .map_err(|_| LinkError::Gone { payload_sent })
    }

    fn on_urc(&mut self, ctx: &Ctx, urc: UrcEvent) {
        if let UrcEvent::Line(line) = &urc {
            match line {
                Urc::Banner(text) if self.ready => {
                    warn!(event = "modem_restarted", modem = %ctx.config.id, banner = %text, "modem restarted");
                    self.reboot_seen = true;
                }
                Urc::Registration(r) => {
                    let r = r.clone();
                    ctx.update(|s| s.registration = Some(r));
                }
                Urc::Rssi(rssi) => {
                    let q = parse::SignalQuality {
                        rssi: *rssi,
                        ber: 99,
                    };
                    ctx.update(|s| s.signal_dbm = q.dbm());
                }
                Urc::Ring if ctx.config.reject_calls => self.hang_up = true,
                Urc::Ussd(cusd) => self.ussd = Some(cusd.clone()),
                Urc::Unknown(text) | Urc::Vendor { text, .. } => {
                    debug!(modem = %ctx.config.id, line = %text, "unsolicited line")
                }
                _ => {}
            }
        }
        let _ = ctx.events.send(ModemEvent::Urc(urc));
    }

    /// Runs one command to completion, handling URCs meanwhile (one span per exchange).
    async fn execute(&mut self, ctx: &Ctx, command: Command) -> Result<Response, LinkError> {
        // Never log what a command carries: the PIN, or a PDU with number and text.
        let shown = if command.text.starts_with("AT+CPIN=") {
            "AT+CPIN=<hidden>".to_string()
        } else {
            command.text.clone()
        };
        let span = tracing::debug_span!("exchange", modem = %ctx.config.id, command = %shown);
        self.execute_inner(ctx, command).instrument(span).await
    }

    async fn execute_inner(&mut self, ctx: &Ctx, command: Command) -> Result<Response, LinkError> {
        debug!("AT command");
        let timeout_at = Instant::now() + command.timeout;
        let mut deadline = timeout_at;
        let bytes = self.router.start(command);
        self.write(&bytes).await?;
        loop {
            tokio::select! {
                read = self.port.read(&mut self.buf) => match read {
                    Ok(n) if n > 0 => {
                        self.framer.push(&self.buf[..n]);
                        if let Some(done) = self.drain_frames(ctx).await? {
                            // Lines that came in the same read after the final result code are
                            // unsolicited (a +CUSD answer right after OK): handle them now, not
                            // whenever the next byte happens to arrive.
                            self.drain_frames(ctx).await?;
                            return done.map_err(LinkError::Failure);
                        }
                        if self.router.answered() {
                            // The answer to a send came, damaged or without its final code:
                            // what is left of it follows at once or never.
                            deadline = timeout_at.min(Instant::now() + ANSWER_SETTLE);
                        }
                    }
                    _ => {
                        let payload_sent = self.router.payload_sent();
                        self.router.on_disconnect();
                        return Err(LinkError::Gone { payload_sent });
                    }
                },
                _ = sleep_until(deadline) => {
                    let events = self.router.on_timeout();
                    if let Some(Event::Completed(Ok(_))) = events.first() {
                        warn!(modem = %ctx.config.id, "the final result code after a send was damaged or lost; the reference came");
                    } else {
                        self.needs_sync = true;
                        self.stale_mark = self.router.stale_finals();
                    }
                    if let Some(done) = self.apply(ctx, events).await? {
                        return done.map_err(LinkError::Failure);
                    }
                    return Err(LinkError::Failure(Failure::Timeout { outcome_unknown: false }));
                }
            }
        }
    }

    /// Closes a `> ` prompt the modem may have been left at. A modem whose host died after
    /// `AT+CMGS=<n>` (kill -9, power cut on the PC's side, a serial modem with its own power
    /// behind a replugged USB adapter) takes every later byte as PDU text, `AT` probes
    /// included, until Ctrl-Z or ESC. ESC abandons that PDU without sending it (TS 27.005
    /// §3.5.1); whatever the modem says in answer (OK, an error, echoed text) is read for a
    /// short settle time and dropped, with any partial line. Harmless in command mode, where
    /// modems ignore a lone ESC.
    async fn clear_pending_prompt(&mut self, ctx: &Ctx) -> Result<(), End> {
        self.port.write_all(&[ESC]).await.map_err(|_| End::Gone)?;
        self.pump(ctx, PROMPT_SETTLE).await?;
        self.framer.reset();
        Ok(())
    }

    /// After a timeout the modem may still answer the abandoned command; that late final
    /// result code must not complete the next command. Wait (briefly) until it has come and
    /// been dropped as stale, then make sure the modem answers `AT`.
    async fn resync(&mut self, ctx: &Ctx) -> Result<(), End> {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.router.stale_finals() == self.stale_mark && Instant::now() < deadline {
            self.pump(ctx, Duration::from_millis(50)).await?;
        }
        self.needs_sync = false;
        match self.execute(ctx, Command::at()).await {
            Err(LinkError::Gone { .. }) => Err(End::Gone),
            _ => Ok(()),
        }
    }

    /// Runs a command for bring-up or status, tolerating failure.
    async fn try_lines(&mut self, ctx: &Ctx, command: Command) -> Result<Option<Vec<String>>, End> {
        match self.execute(ctx, command).await {
            Ok(r) => Ok(Some(r.lines)),
            Err(LinkError::Gone { .. }) => Err(End::Gone),
            Err(LinkError::Failure(_)) => Ok(None),
        }
    }

    /// Handles the outcome of a read while no command is in flight.
    async fn on_read(&mut self, ctx: &Ctx, read: std::io::Result<usize>) -> Result<(), End> {
        match read {
            Ok(n) if n > 0 => {
                self.framer.push(&self.buf[..n]);
                self.drain_frames(ctx)
                    .await
                    .map(|_| ())
                    .map_err(|_| End::Gone)
            }
            // 0 bytes or an error: the device went away (unplugged, pty closed).
            _ => Err(End::Gone),
        }
    }

    /// Reads what arrives for up to `duration`, handling URCs (used while idle-waiting).
    async fn pump(&mut self, ctx: &Ctx, duration: Duration) -> Result<(), End> {
        let deadline = Instant::now() + duration;
        loop {
            tokio::select! {
                read = self.port.read(&mut self.buf) => self.on_read(ctx, read).await?,
                _ = sleep_until(deadline) => return Ok(()),
            }
        }
    }
}

async fn run_actor(ctx: Ctx, mut requests: mpsc::Receiver<Request>) {
    // (SIM, PIN fingerprint) refused while this actor ran: the guard that holds even when
    // the PinMemory cannot be written.
    let mut refused: HashSet<(String, String)> = HashSet::new();
    let (first, longest) = ctx.config.reopen_backoff;
    let mut backoff = first;
    loop {
        let port = tokio_serial::new(ctx.config.path.to_string_lossy(), ctx.config.baud)
            .timeout(Duration::from_millis(100))
            .open_native_async();
        let port = match port {
            Ok(p) => p,
            Err(e) => {
                // Said once per cause at warning level (not at every retry), with the fix.
                let why = open_failure(&ctx.config.path, &e);
                let changed = ctx.status.send_if_modified(|s| {
                    let new = s.absent_reason.as_deref() != Some(why.as_str());
                    s.absent_reason = Some(why.clone());
                    new
                });
                if changed {
                    warn!(event = "device_unavailable", modem = %ctx.config.id, path = %ctx.config.path.display(), reason = %why, "cannot open the modem's device");
                }
                ctx.set_state(ModemState::Absent);
                if !refuse_while(&mut requests, backoff, ModemError::Absent).await {
                    return;
                }
                backoff = (backoff * 2).min(longest);
                continue;
            }
        };
        let mut link = Link::new(port);
        ctx.update(|s| {
            s.connections += 1;
            s.absent_reason = None;
        });
        let end = match bring_up(&ctx, &mut link, &mut refused).await {
            Ok(()) => {
                backoff = first;
                link.ready = true;
                ctx.set_state(ModemState::Ready);
                serve(&ctx, &mut link, &mut requests).await
            }
            Err(Ok(state)) => {
                // Usable no further until someone acts: keep the port, answer requests with
                // the reason, and notice an unplug or restart.
                ctx.set_state(state.clone());
                link.ready = true;
                let why = match state {
                    ModemState::NeedsPin(w) | ModemState::Failed(w) => w,
                    other => other.name().to_string(),
                };
                hold_not_ready(&ctx, &mut link, &mut requests, &why).await
            }
            Err(Err(end)) => end,
        };
        drop(link);
        match end {
            End::Stopped => return,
            End::Reboot => {
                // Give the modem a moment to finish booting; bring-up then waits for `AT`.
                ctx.set_state(ModemState::Initializing);
                sleep(Duration::from_millis(200)).await;
            }
            End::Gone => {
                ctx.set_state(ModemState::Absent);
                if !refuse_while(&mut requests, backoff, ModemError::Absent).await {
                    return;
                }
                backoff = (backoff * 2).min(longest);
            }
            End::Hung => {
                ctx.set_state(ModemState::Failed("modem stopped answering".into()));
                if !refuse_while(
                    &mut requests,
                    backoff,
                    ModemError::NotReady("modem stopped answering".into()),
                )
                .await
                {
                    return;
                }
                backoff = (backoff * 2).min(longest);
            }
        }
    }
}

/// Why `path` could not be opened, in words that say what to do.
fn open_failure(path: &std::path::Path, e: &tokio_serial::Error) -> String {
    let shown = path.display();
    let io = match e.kind {
        tokio_serial::ErrorKind::Io(kind) => Some(kind),
        tokio_serial::ErrorKind::NoDevice => Some(std::io::ErrorKind::NotFound),
        _ => None,
    };
    match io {
        Some(std::io::ErrorKind::NotFound) if !path.exists() => format!(
            "no device at {shown}: the modem is unplugged, or the path is wrong (see ls -l \
             /dev/serial/by-id/)"
        ),
        Some(std::io::ErrorKind::PermissionDenied) => format!(
            "permission denied on {shown}: add the user smsqd runs as to the dialout group \
             (sudo usermod -aG dialout USER, then log in again)"
        ),
        Some(std::io::ErrorKind::ResourceBusy) => format!(
            "{shown} is busy: {} has it open (ModemManager often takes dongles: see the udev \
             rule in systemd/77-smsq-modem.rules)",
            holders(path).unwrap_or_else(|| "another program".into())
        ),
        _ if e.description.to_ascii_lowercase().contains("busy") => format!(
            "{shown} is busy: {} has it open (ModemManager often takes dongles: see the udev \
             rule in systemd/77-smsq-modem.rules)",
            holders(path).unwrap_or_else(|| "another program".into())
        ),
        _ => format!("cannot open {shown}: {}", e.description),
    }
}

/// The processes that hold `path` open ("ModemManager (pid 812)"), from /proc, where this
/// user may look.
fn holders(path: &std::path::Path) -> Option<String> {
    let target = std::fs::canonicalize(path).ok()?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == target))
        {
            let name = std::fs::read_to_string(entry.path().join("comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            found.push(format!("{name} (pid {pid})"));
        }
    }
    (!found.is_empty()).then(|| found.join(", "))
}

/// Answers requests with `error` for `duration`; `false` if every handle is gone.
async fn refuse_while(
    requests: &mut mpsc::Receiver<Request>,
    duration: Duration,
    error: ModemError,
) -> bool {
    let deadline = Instant::now() + duration;
    loop {
        tokio::select! {
            req = requests.recv() => match req {
                None => return false,
                Some(req) => req.fail(error.clone()),
            },
            _ = sleep_until(deadline) => return true,
        }
    }
}

async fn hold_not_ready(
    ctx: &Ctx,
    link: &mut Link,
    requests: &mut mpsc::Receiver<Request>,
    why: &str,
) -> End {
    loop {
        if link.reboot_seen {
            return End::Reboot;
        }
        tokio::select! {
            req = requests.recv() => match req {
                None => return End::Stopped,
                Some(req) => req.fail(ModemError::NotReady(why.into())),
            },
            read = link.port.read(&mut link.buf) => {
                if let Err(end) = link.on_read(ctx, read).await {
                    return end;
                }
            }
        }
    }
}

/// Brings the modem up. `Err(Ok(state))`: the modem is there but not usable; `Err(Err(end))`:
/// the connection ended.
async fn bring_up(
    ctx: &Ctx,
    link: &mut Link,
    refused: &mut HashSet<(String, String)>,
) -> Result<(), Result<ModemState, End>> {
    let cfg = &ctx.config;
    ctx.set_state(ModemState::Initializing);
    // 1. Wait until the modem answers; it may still be booting, or still be waiting at a
    //    `> ` prompt for a PDU that will never come.
    link.clear_pending_prompt(ctx).await.map_err(Err)?;
    let mut answered = false;
    for attempt in 0..cfg.wake_attempts.max(1) {
        if attempt > 0 {
            link.clear_pending_prompt(ctx).await.map_err(Err)?;
        }
        match link
            .execute(ctx, Command::at().with_timeout(Duration::from_secs(1)))
            .await
        {
            Ok(_) => {
                answered = true;
                break;
            }
            Err(LinkError::Gone { .. }) => return Err(Err(End::Gone)),
            Err(LinkError::Failure(Failure::Rejected(_))) => {
                answered = true;
                break;
            }
            Err(LinkError::Failure(Failure::Timeout { .. })) => continue,
        }
    }
    if !answered {
        return Err(Err(End::Hung));
    }
    link.needs_sync = false;
    let step = |r: Result<Option<Vec<String>>, End>| r.map_err(Err);
    step(link.try_lines(ctx, Command::echo_off()).await)?;
    step(link.try_lines(ctx, Command::cmee(1)).await)?;

    // 2. The SIM.
    check_sim(ctx, link, refused).await?;

    // 3. PDU mode is not optional.
    if step(link.try_lines(ctx, Command::pdu_mode()).await)?.is_none() {
        return Err(Ok(ModemState::Failed(
            "the modem refuses PDU mode (AT+CMGF=0)".into(),
        )));
    }

    // 4. Storage.
    let [r, w, s] = cfg.profile.storage;
    let storage = match step(link.try_lines(ctx, Command::storage(r, w, s)).await)? {
        Some(lines) => Some(lines),
        None => step(
            link.try_lines(ctx, Command::storage("SM", "SM", "SM"))
                .await,
        )?,
    };
    if let Some(use_) = storage
        .as_ref()
        .and_then(|l| l.iter().find_map(|x| parse::parse_cpms(x)))
    {
        ctx.update(|st| st.storage = use_.receive());
    }

    // 5. New-message routing: the first setting the modem accepts.
    let mut accepted = None;
    for values in cfg.profile.cnmi {
        if step(
            link.try_lines(ctx, Command::new_message_indication(values))
                .await,
        )?
        .is_some()
        {
            accepted = Some(*values);
            break;
        }
    }
    match accepted {
        Some(v) => ctx.update(|s| s.cnmi = Some(v)),
        None => warn!(modem = %cfg.id, "modem accepts no +CNMI setting; relying on storage sweeps"),
    }

    // 6. Service centre and identity.
    let smsc = step(link.try_lines(ctx, Command::smsc_query()).await)?
        .and_then(|l| l.iter().find_map(|x| parse::parse_csca(x)))
        .map(|(n, _)| n)
        .filter(|n| !n.is_empty());
    if smsc.is_none() {
        warn!(modem = %cfg.id, "no service centre address on the SIM; sending will fail (+CMS 330)");
    }
    let mut identity = Identity::default();
    let first =
        |l: Option<Vec<String>>| l.and_then(|v| v.iter().find_map(|x| parse::parse_identity(x)));
    identity.manufacturer = first(step(link.try_lines(ctx, Command::manufacturer()).await)?);
    identity.model = first(step(link.try_lines(ctx, Command::model()).await)?);
    identity.revision = first(step(link.try_lines(ctx, Command::revision()).await)?);
    identity.imei = first(step(link.try_lines(ctx, Command::imei()).await)?);
    identity.imsi = first(step(link.try_lines(ctx, Command::imsi()).await)?);
    let (iccid_cmd, iccid_prefix) = cfg.profile.iccid;
    identity.iccid = first(step(
        link.try_lines(ctx, Command::iccid(iccid_cmd, iccid_prefix))
            .await,
    )?);
    info!(
        modem = %cfg.id,
        manufacturer = identity.manufacturer.as_deref().unwrap_or("?"),
        model = identity.model.as_deref().unwrap_or("?"),
        "modem identified"
    );
    ctx.update(|s| {
        s.smsc = smsc;
        s.identity = identity;
    });

    // 7. Registration: ask for URCs, then wait a while for the network.
    step(link.try_lines(ctx, Command::raw("AT+CREG=1")).await)?;
    let deadline = Instant::now() + cfg.registration_wait;
    loop {
        if let Some(r) = step(link.try_lines(ctx, Command::registration_query()).await)?
            .and_then(|l| l.iter().find_map(|x| parse::parse_registration_response(x)))
        {
            let registered = r.is_registered();
            ctx.update(|s| s.registration = Some(r));
            if registered {
                break;
            }
        }
        if Instant::now() >= deadline {
            warn!(modem = %cfg.id, "not registered on a network yet");
            break;
        }
        link.pump(ctx, Duration::from_secs(1)).await.map_err(Err)?;
    }
    refresh_status(ctx, link).await.map_err(Err)?;
    Ok(())
}

async fn check_sim(
    ctx: &Ctx,
    link: &mut Link,
    refused: &mut HashSet<(String, String)>,
) -> Result<(), Result<ModemState, End>> {
    let mut entered = false;
    for _ in 0..15 {
        let state = match link.execute(ctx, Command::pin_query()).await {
            Ok(r) => r.lines.iter().find_map(|l| parse::parse_cpin(l)),
            Err(LinkError::Gone { .. }) => return Err(Err(End::Gone)),
            Err(LinkError::Failure(Failure::Rejected(Final::Cme(e)))) => match e {
                CmeError::SimNotInserted => {
                    return Err(Ok(ModemState::Failed("no SIM card inserted".into())));
                }
                CmeError::SimBusy | CmeError::SimFailure => None,
                other if other.needs_pin() => Some(PinState::Other(other.text().to_string())),
                _ => None,
            },
            Err(LinkError::Failure(_)) => None,
        };
        match state {
            Some(PinState::Ready) => return Ok(()),
            Some(PinState::SimPin) => {
                if entered {
                    return Err(Ok(ModemState::NeedsPin(
                        "the SIM still asks for its PIN after accepting it; not entering it \
                         again (check the SIM in a phone)"
                            .into(),
                    )));
                }
                enter_pin(ctx, link, refused).await?;
                entered = true;
                // The SIM takes a moment to become ready after the PIN.
                link.pump(ctx, Duration::from_millis(500))
                    .await
                    .map_err(Err)?;
            }
            Some(PinState::SimPuk) | Some(PinState::SimPuk2) => {
                return Err(Ok(ModemState::NeedsPin(
                    "the SIM is locked and needs its PUK; unlock it in a phone".into(),
                )));
            }
            Some(PinState::Other(what)) if what.contains("NOT INSERTED") => {
                return Err(Ok(ModemState::Failed("no SIM card inserted".into())));
            }
            Some(PinState::Other(what)) if what.contains("PIN") || what.contains("PUK") => {
                return Err(Ok(ModemState::NeedsPin(format!(
                    "the SIM asks for {what}; smsq does not enter it"
                ))));
            }
            // Busy, not ready yet, or no answer: wait and ask again.
            _ => link.pump(ctx, Duration::from_secs(1)).await.map_err(Err)?,
        }
    }
    Err(Ok(ModemState::Failed("the SIM never became ready".into())))
}

/// Enters the configured PIN, unless the SIM refused it before or has one attempt left.
/// `Ok` once the SIM accepted it.
async fn enter_pin(
    ctx: &Ctx,
    link: &mut Link,
    refused: &mut HashSet<(String, String)>,
) -> Result<(), Result<ModemState, End>> {
    let Some(pin) = ctx.config.pin.clone() else {
        return Err(Ok(ModemState::NeedsPin(
            "the SIM asks for its PIN; set `pin` in the modem's configuration".into(),
        )));
    };
    let sim = sim_identity(ctx, link).await.map_err(Err)?;
    let fingerprint = pin::fingerprint(&sim, &pin);
    let key = (sim.clone(), fingerprint.clone());
    let left = pin_attempts_left(ctx, link).await.map_err(Err)?;
    let left_words = left.map_or(String::new(), |n| format!("; {n} attempt(s) left"));
    let remembered = match &ctx.config.pin_memory {
        None => Ok(false),
        Some(memory) => memory.was_refused(&sim, &fingerprint).await,
    };
    let refused_before = match remembered {
        Ok(known) => known || refused.contains(&key),
        Err(e) => {
            error!(event = "pin_memory_error", modem = %ctx.config.id, error = %e, "cannot tell whether this PIN was refused before; not entering it");
            return Err(Ok(ModemState::NeedsPin(format!(
                "cannot read the record of refused PINs ({e}); not entering the PIN{left_words}"
            ))));
        }
    };
    if refused_before {
        return Err(Ok(ModemState::NeedsPin(format!(
            "this SIM refused the configured PIN before; smsq will not enter it again until \
             `pin` is changed in the configuration{left_words}"
        ))));
    }
    if let Some(n) = left
        && n <= 1
    {
        return Err(Ok(ModemState::NeedsPin(format!(
            "only {n} PIN attempt left before the SIM locks and needs its PUK; smsq will not \
             use it: check `pin`, then enter the PIN in a phone"
        ))));
    }
    info!(modem = %ctx.config.id, attempts_left = ?left, "entering the SIM PIN");
    match link.execute(ctx, Command::pin_enter(&pin)).await {
        Ok(_) => Ok(()),
        Err(LinkError::Gone { .. }) => Err(Err(End::Gone)),
        Err(LinkError::Failure(failure)) => {
            refused.insert(key);
            // Remembered for good only when the SIM said the PIN is wrong; another failure
            // (a timeout, "not allowed") keeps it from being tried again until a restart.
            let wrong = matches!(
                failure,
                Failure::Rejected(Final::Cme(
                    CmeError::IncorrectPassword | CmeError::SimPukRequired
                ))
            );
            if wrong
                && let Some(memory) = &ctx.config.pin_memory
                && let Err(e) = memory.remember_refusal(&sim, &fingerprint).await
            {
                error!(event = "pin_memory_error", modem = %ctx.config.id, error = %e, "cannot record the refused PIN; it stays refused until smsqd restarts");
            }
            let left = pin_attempts_left(ctx, link).await.map_err(Err)?;
            let left_words = left.map_or(String::new(), |n| format!("; {n} attempt(s) left"));
            warn!(event = "pin_refused", modem = %ctx.config.id, answer = ?failure, attempts_left = ?left, "the SIM refused the configured PIN");
            Err(Ok(ModemState::NeedsPin(format!(
                "the SIM refused the configured PIN; smsq will not enter it again until `pin` \
                 is changed in the configuration{left_words}"
            ))))
        }
    }
}

/// The SIM's ICCID where the modem reads it without the PIN (most do), else the modem's
/// name: the key under which a refused PIN is remembered.
async fn sim_identity(ctx: &Ctx, link: &mut Link) -> Result<String, End> {
    let (command, prefix) = ctx.config.profile.iccid;
    let iccid = link
        .try_lines(ctx, Command::iccid(command, prefix))
        .await?
        .and_then(|l| l.iter().find_map(|x| parse::parse_identity(x)))
        .filter(|i| i.len() >= 10 && i.chars().all(|c| c.is_ascii_alphanumeric()));
    Ok(iccid.unwrap_or_else(|| format!("modem {}", ctx.config.id)))
}

/// PIN attempts the SIM has left, asked in the family's words then the standard ones;
/// `None` where the modem does not say.
async fn pin_attempts_left(ctx: &Ctx, link: &mut Link) -> Result<Option<u8>, End> {
    for (command, prefix) in ctx.config.profile.pin_retries {
        if let Some(n) = link
            .try_lines(ctx, Command::pin_retries(command, prefix))
            .await?
            .and_then(|l| l.iter().find_map(|x| parse::parse_pin_retries(x)))
        {
            ctx.update(|s| s.pin_attempts_left = Some(n));
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// Signal, operator, registration and storage use.
async fn refresh_status(ctx: &Ctx, link: &mut Link) -> Result<(), End> {
    if let Some(q) = link
        .try_lines(ctx, Command::signal_query())
        .await?
        .and_then(|l| l.iter().find_map(|x| parse::parse_csq(x)))
    {
        ctx.update(|s| s.signal_dbm = q.dbm());
    }
    link.try_lines(ctx, Command::raw("AT+COPS=3,0")).await?;
    if let Some(o) = link
        .try_lines(ctx, Command::operator_query())
        .await?
        .and_then(|l| l.iter().find_map(|x| parse::parse_cops(x)))
    {
        ctx.update(|s| s.operator = o.name);
    }
    if let Some(r) = link
        .try_lines(ctx, Command::registration_query())
        .await?
        .and_then(|l| l.iter().find_map(|x| parse::parse_registration_response(x)))
    {
        ctx.update(|s| s.registration = Some(r));
    }
    if let Some(u) = link
        .try_lines(ctx, Command::storage_query())
        .await?
        .and_then(|l| l.iter().find_map(|x| parse::parse_cpms(x)))
    {
        ctx.update(|s| s.storage = u.receive());
    }
    Ok(())
}

async fn serve(ctx: &Ctx, link: &mut Link, requests: &mut mpsc::Receiver<Request>) -> End {
    let mut last_activity = Instant::now();
    loop {
        if link.reboot_seen {
            return End::Reboot;
        }
        if link.hang_up {
            link.hang_up = false;
            info!(modem = %ctx.config.id, "rejecting an incoming call");
            if let Err(End::Gone) = link
                .try_lines(ctx, Command::hang_up(ctx.config.profile.hang_up))
                .await
            {
                return End::Gone;
            }
        }
        let health_at = last_activity + ctx.config.health_interval;
        tokio::select! {
            req = requests.recv() => {
                let Some(req) = req else { return End::Stopped };
                if matches!(req, Request::Reinitialize) {
                    warn!(event = "modem_reinitialize", modem = %ctx.config.id, "the modem's state is not what bring-up left; bringing it up again");
                    return End::Reboot;
                }
                if link.needs_sync && link.resync(ctx).await.is_err() {
                    req.fail(ModemError::Disconnected { outcome_unknown: false });
                    return End::Gone;
                }
                let gone = handle_request(ctx, link, req).await;
                last_activity = Instant::now();
                if gone {
                    return End::Gone;
                }
            }
            read = link.port.read(&mut link.buf) => {
                if let Err(end) = link.on_read(ctx, read).await {
                    return end;
                }
            }
            _ = sleep_until(health_at) => {
                last_activity = Instant::now();
                match health_check(ctx, link).await {
                    Ok(()) => {}
                    Err(end) => return end,
                }
            }
        }
    }
}

/// Runs one request; `true` if the device went away meanwhile.
async fn handle_request(ctx: &Ctx, link: &mut Link, req: Request) -> bool {
    match req {
        Request::Run(command, reply) => {
            let result = link.execute(ctx, command).await;
            let gone = matches!(result, Err(LinkError::Gone { .. }));
            let _ = reply.send(result.map_err(to_modem_error));
            gone
        }
        // Taken in `serve` before a request reaches here.
        Request::Reinitialize => false,
        Request::Ussd(code, reply) => {
            link.ussd = None;
            let command = Command::ussd(&code);
            let timeout = command.timeout;
            if let Err(e) = link.execute(ctx, command).await {
                let gone = matches!(e, LinkError::Gone { .. });
                let _ = reply.send(Err(to_modem_error(e)));
                return gone;
            }
            // The answer comes as a +CUSD line, usually after the OK.
            let deadline = Instant::now() + timeout;
            while link.ussd.is_none() && Instant::now() < deadline {
                if link.pump(ctx, Duration::from_millis(50)).await.is_err() {
                    let _ = reply.send(Err(ModemError::Disconnected {
                        outcome_unknown: false,
                    }));
                    return true;
                }
            }
            let result = match link.ussd.take() {
                Some(cusd) if cusd.status <= 1 => Ok(cusd
                    .text
                    .map(|t| parse::decode_ussd(&t, cusd.dcs, ctx.config.profile.ussd_style))
                    .unwrap_or_default()),
                Some(cusd) => Err(ModemError::BadResponse(format!(
                    "USSD ended by the network (status {})",
                    cusd.status
                ))),
                None => Err(ModemError::Timeout {
                    outcome_unknown: false,
                }),
            };
            let _ = reply.send(result);
            false
        }
    }
}

/// `AT`, twice if needed; then the profile's resets; then status refresh.
async fn health_check(ctx: &Ctx, link: &mut Link) -> Result<(), End> {
    for attempt in 0..2 {
        match link.execute(ctx, Command::at()).await {
            Ok(_) | Err(LinkError::Failure(Failure::Rejected(_))) => {
                link.needs_sync = false;
                return refresh_status(ctx, link).await;
            }
            Err(LinkError::Gone { .. }) => return Err(End::Gone),
            Err(LinkError::Failure(Failure::Timeout { .. })) => {
                warn!(modem = %ctx.config.id, attempt, "modem did not answer AT");
                // Silence can be a prompt left open by a PDU whose Ctrl-Z and ESC were lost.
                link.clear_pending_prompt(ctx).await?;
            }
        }
    }
    for reset in ctx.config.profile.reset {
        warn!(modem = %ctx.config.id, command = %reset, "resetting a modem that stopped answering");
        let command = match *reset {
            "ATZ" => Command::reset(),
            "AT+CFUN=1,1" => Command::cfun_reset(),
            other => Command::raw(other),
        };
        match link.execute(ctx, command).await {
            Ok(_) => return Err(End::Reboot),
            Err(LinkError::Gone { .. }) => return Err(End::Gone),
            Err(_) => continue,
        }
    }
    Err(End::Hung)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy device names who holds it, so the shop knows what to stop.
    #[test]
    fn a_busy_device_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttyUSB0");
        let _held = std::fs::File::create(&path).unwrap();
        let busy = tokio_serial::Error::new(
            tokio_serial::ErrorKind::Io(std::io::ErrorKind::ResourceBusy),
            "Device or resource busy",
        );
        let why = open_failure(&path, &busy);
        assert!(why.contains("is busy"), "{why}");
        assert!(
            why.contains(&format!("(pid {})", std::process::id())),
            "the holder is named: {why}"
        );
        let denied = tokio_serial::Error::new(
            tokio_serial::ErrorKind::Io(std::io::ErrorKind::PermissionDenied),
            "Permission denied",
        );
        assert!(open_failure(&path, &denied).contains("dialout"));
    }
}
