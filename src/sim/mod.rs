//! The modem simulator: the far end of a pseudo-terminal, speaking the same AT dialect as a
//! real modem, so the driver's real serial path is what tests, benchmarks and
//! `smsqd --simulate` exercise.
//!
//! The device opens a pty pair and publishes the slave under a stable symlink (like the
//! `/dev/serial/by-id` links of real dongles). Unplugging closes the pty and removes the link;
//! plugging in again makes a new pty behind the same link and prints the family's boot banners.
//!
//! | file | owns |
//! |---|---|
//! | [`device`] | the AT interpreter: SIM store, PIN, network, outbox (pure) |
//! | [`profile`] | per-family differences as data |
//! | this file | the pty, time (latency, network delay, deferred events) and fault injection |

pub mod device;
pub mod profile;

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_serial::{SerialPort, SerialStream};

pub use device::{Deferred, Device, Output, PinStatus, SendDamage, SentMessage, StoredMessage};
pub use profile::SimProfile;

/// Faults the simulator can be told to commit.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Delay before every response.
    pub latency: Duration,
    /// Extra delay before the answer to `AT+CMGS` (the network taking its time).
    pub network_delay: Duration,
    /// Swallow this many of the next responses.
    pub drop_responses: u32,
    /// Stop answering anything (a hung modem) while set.
    pub hung: bool,
    /// After `AT+CMGS=<n>`, wait for the PDU without showing the `> ` prompt (a modem slow
    /// to prompt): a host that dies meanwhile leaves the modem waiting for PDU text.
    pub withhold_prompt: bool,
    /// The modem has its own power supply (a serial modem behind a USB-serial adapter):
    /// unplugging and replugging the adapter neither reboots it nor closes an open prompt.
    pub own_power: bool,
}

/// What the device writes when it is ready for PDU text.
const PROMPT: &[u8] = b"\r\n> ";

enum Control {
    Write(Vec<u8>),
    Fire(Deferred),
    Disconnect(oneshot::Sender<()>),
    Reconnect(oneshot::Sender<io::Result<()>>),
}

/// A running simulated modem. Dropping it unplugs the device.
pub struct Simulator {
    path: PathBuf,
    device: Arc<Mutex<Device>>,
    faults: Arc<Mutex<Faults>>,
    control: mpsc::UnboundedSender<Control>,
}

impl Simulator {
    /// Starts a simulated modem of `profile` reachable at `link` (a path the caller owns; it
    /// is replaced). `setup` configures the device (PIN, stored messages...) before power-up.
    pub async fn start(
        profile: &'static SimProfile,
        link: &Path,
        setup: impl FnOnce(&mut Device),
    ) -> io::Result<Self> {
        let mut device = Device::new(profile);
        setup(&mut device);
        let banners = device.boot();
        let device = Arc::new(Mutex::new(device));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let pty = Pty::open(link)?;
        let runner = Runner {
            link: link.to_path_buf(),
            device: device.clone(),
            faults: faults.clone(),
            control: tx.clone(),
        };
        tokio::spawn(runner.run(pty, rx, banners));
        Ok(Self {
            path: link.to_path_buf(),
            device,
            faults,
            control: tx,
        })
    }

    /// The stable path to open, as a real dongle's by-id link.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The device, to inspect or change its state (sent messages, storage, SIM, network).
    pub fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            let _ = self.control.send(Control::Write(bytes));
        }
    }

    /// A text arrives from `sender` (split into parts with concatenation reference `reference`).
    pub fn deliver_text(&self, sender: &str, text: &str, reference: u8) {
        let urcs = self.device().deliver_text(sender, text, reference);
        for bytes in urcs {
            self.write(bytes);
        }
    }

    /// A ready-made SMS-DELIVER PDU arrives.
    pub fn deliver_pdu(&self, tpdu_len: usize, pdu_hex: &str) {
        let bytes = self.device().deliver_pdu(tpdu_len, pdu_hex.to_string());
        self.write(bytes);
    }

    /// Someone calls.
    pub fn ring(&self, caller: &str) {
        let bytes = self.device().ring(caller);
        self.write(bytes);
    }

    pub fn set_registered(&self, registered: bool) {
        let bytes = self.device().set_registered(registered);
        self.write(bytes);
    }

    /// Raw bytes on the line (garbage, a banner, a URC).
    pub fn send_raw(&self, bytes: &[u8]) {
        self.write(bytes.to_vec());
    }

    /// Messages the network accepted so far.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.device().sent.clone()
    }

    pub fn stored(&self) -> BTreeMap<u32, StoredMessage> {
        self.device().storage.clone()
    }

    /// Reboots in place: banners, settings back to defaults (the port stays).
    pub fn reboot(&self) {
        let _ = self.control.send(Control::Fire(Deferred::Reboot));
    }

    /// Unplugs: the pty closes and the path vanishes.
    pub async fn disconnect(&self) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Disconnect(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Plugs back in: a new pty behind the same path, boot banners, settings reset.
    pub async fn reconnect(&self) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Reconnect(tx))
            .map_err(|_| io::Error::other("simulator stopped"))?;
        rx.await
            .map_err(|_| io::Error::other("simulator stopped"))?
    }
}

/// One pty: the master the simulator talks through, and a parked slave handle that keeps
/// the master readable while no client has the slave open.
struct Pty {
    master: SerialStream,
    _parked: SerialStream,
}

impl Pty {
    fn open(link: &Path) -> io::Result<Self> {
        let (master, slave) = SerialStream::pair().map_err(io::Error::other)?;
        // Not inherited by programs started later (smsqd started by a test): a copy of the
        // master held elsewhere would keep the pty alive after an unplug.
        for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
            // SAFETY: `fd` is open and owned by `master` or `slave` for this whole call;
            // F_SETFD only changes the descriptor's close-on-exec flag.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        let name = slave
            .name()
            .ok_or_else(|| io::Error::other("pty without a name"))?;
        // Replace the link atomically, so a client never sees it missing while re-plugging.
        let tmp = link.with_extension("new");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp)?;
        std::fs::rename(&tmp, link)?;
        Ok(Self {
            master,
            _parked: slave,
        })
    }
}

struct Runner {
    link: PathBuf,
    device: Arc<Mutex<Device>>,
    faults: Arc<Mutex<Faults>>,
    control: mpsc::UnboundedSender<Control>,
}

impl Runner {
    fn device(&self) -> MutexGuard<'_, Device> {
        self.device.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn run(self, pty: Pty, mut rx: mpsc::UnboundedReceiver<Control>, banners: Vec<u8>) {
        let mut pty = Some(pty);
        if let Some(p) = pty.as_mut() {
            let _ = p.master.write_all(&banners).await;
        }
        let mut buf = [0u8; 1024];
        loop {
            let read = async {
                match pty.as_mut() {
                    Some(p) => p.master.read(&mut buf).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = read => match r {
                    Ok(n) if n > 0 => {
                        let input = buf[..n].to_vec();
                        self.handle_input(&input, &mut pty).await;
                    }
                    // No client on the slave yet, or it went away: wait and read again.
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                },
                control = rx.recv() => match control {
                    None => break,
                    Some(Control::Write(bytes)) => self.write(&mut pty, &bytes, false).await,
                    Some(Control::Fire(deferred)) => {
                        let bytes = self.device().fire(deferred);
                        self.write(&mut pty, &bytes, false).await;
                    }
                    Some(Control::Disconnect(done)) => {
                        pty = None;
                        let _ = std::fs::remove_file(&self.link);
                        let _ = done.send(());
                    }
                    Some(Control::Reconnect(done)) => {
                        match Pty::open(&self.link) {
                            Ok(p) => {
                                pty = Some(p);
                                let banners = if self.faults().own_power {
                                    Vec::new()
                                } else {
                                    self.device().boot()
                                };
                                self.write(&mut pty, &banners, false).await;
                                let _ = done.send(Ok(()));
                            }
                            Err(e) => {
                                let _ = done.send(Err(e));
                            }
                        }
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&self.link);
    }

    async fn handle_input(&self, input: &[u8], pty: &mut Option<Pty>) {
        if self.faults().hung {
            return;
        }
        let outputs = self.device().feed(input);
        for output in outputs {
            match output {
                Output::Now(bytes) if bytes == PROMPT && self.faults().withhold_prompt => {}
                Output::Now(bytes) => self.write(pty, &bytes, true).await,
                Output::AfterNetwork(bytes) => {
                    let delay = self.faults().network_delay;
                    if delay.is_zero() {
                        self.write(pty, &bytes, true).await;
                    } else {
                        let tx = self.control.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = tx.send(Control::Write(bytes));
                        });
                    }
                }
                Output::Later(delay, deferred) => {
                    let tx = self.control.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(Control::Fire(deferred));
                    });
                }
            }
        }
    }

    /// Writes a response (subject to latency and dropping) or an unsolicited line.
    async fn write(&self, pty: &mut Option<Pty>, bytes: &[u8], response: bool) {
        if bytes.is_empty() {
            return;
        }
        if response {
            let faults = self.faults();
            if !faults.latency.is_zero() {
                tokio::time::sleep(faults.latency).await;
            }
            let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
            if f.drop_responses > 0 {
                f.drop_responses -= 1;
                return;
            }
        }
        if let Some(p) = pty.as_mut() {
            let _ = p.master.write_all(bytes).await;
        }
    }
}
