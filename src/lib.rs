//! smsq: an SMS gateway for a small shop's GSM dongle.
//!
//! # Code map
//!
//! - [`pdu`]: the codec. GSM 7-bit and UCS-2 text, segmentation, SMS-SUBMIT encoding,
//!   SMS-DELIVER / STATUS-REPORT decoding, reassembly. Pure.
//! - [`at`]: AT framing, nom parsers of responses and unsolicited codes, `+CMS`/`+CME`
//!   tables, command builders. Pure.
//! - [`modem`]: the exchange router (pure), the actor that owns one serial port, and the
//!   guard that keeps a refused PIN from being entered again ([`modem::pin`]).
//! - [`sim`]: the modem simulator on a pty, for tests, benchmarks and `--simulate`.
//! - [`store`]: the only code that holds the SQLite database, on its own thread.
//! - [`daemon`]: submission, dispatch, receiving, routing, configuration and `smsqd`'s start-up.
//! - [`api`]: the socket protocol's types, the server and the client.
//! - [`phone`]: E.164 numbers with a default country; masking for logs.
//! - [`cli`]: the `smsq` command line (`src/bin/smsq.rs` only calls it).
//!
//! # Architecture invariants
//!
//! - `pdu` and `at` do no I/O, spawn nothing, read no clock and draw no random numbers: the
//!   concatenation reference and every time are inputs.
//! - Only the modem actor (and the simulator, on its side of the pty) touches a serial port.
//! - Neither the PIN nor PDU hex (which carries numbers and texts) is ever logged.
//! - No input, from a modem or a client, can panic the codec: malformed PDUs are values
//!   (`DecodeError`), odd-but-readable ones carry `Warning`s.
//! - Serde types live at the edges (the CLI's JSON views), never in the codec.
//! - Every client value that reaches an AT command is a checked type ([`at::UssdString`],
//!   [`at::Pin`]): no value can end a quoted string or a command line.

pub mod api;
pub mod at;
pub mod cli;
pub mod daemon;
pub mod modem;
pub mod pdu;
pub mod phone;
pub mod sim;
pub mod smsqd;
pub mod store;
pub mod time;
