//! smsq: an SMS gateway for a small shop's GSM dongle.
//!
//! # Code map
//!
//! From the bottom floor up; each module uses only those above it in this list
//! (`tests/architecture.rs` holds them to it), so data flows one way.
//!
//! - [`pdu`]: the codec. GSM 7-bit and UCS-2 text, segmentation, SMS-SUBMIT encoding,
//!   SMS-DELIVER / STATUS-REPORT decoding, joining the texts of concatenated parts. Pure.
//! - [`at`]: AT framing, nom parsers of responses and unsolicited codes, `+CMS`/`+CME`
//!   tables, command builders. Pure.
//! - [`phone`]: E.164 numbers with a default country; masking for logs. [`time`]: the
//!   clock, RFC 3339, dates as people type them, durations.
//! - [`sheet`]: the shop's customer lists as CSV files, read as text only (for `smsq`, the
//!   web page and the core's imports). Pure.
//! - [`modem`]: the exchange router (pure), the actor that alone owns one serial port, and
//!   the guard that keeps a refused PIN from being entered again ([`modem::pin`]).
//! - [`sim`]: the modem simulator on a pty, for tests, benchmarks and `--simulate`.
//! - [`store`]: the only code that holds a database connection, on its own thread: SQLite
//!   (the default) or PostgreSQL shared by several hosts, behind one SQL layer; schema and
//!   migrations of both, every state change in one transaction, the states and their legal
//!   changes ([`store::state`]), reassembly of received parts, the hosts and their leases,
//!   and the events it hands to subscribers right after each commit (and, on a shared
//!   database, those other hosts committed).
//! - [`daemon`]: the domain core. Submission, dispatch, receiving, routing, housekeeping,
//!   the shop's customers (contacts, consent, imports, export and erasure), customer care
//!   ([`daemon::care`]: the send gate, quiet hours, keyword replies, automatic answers and
//!   survey answers), templates, campaigns, conversations and the receive hook
//!   ([`daemon::hooks`]); it takes and returns
//!   its own types ([`daemon::Submission`], [`daemon::Error`], store rows) and never sees an
//!   interface's wire format.
//! - [`api`]: the socket interface. [`api::protocol`] defines every request, reply, error
//!   code and event as types shared by the server and the client; [`api::handlers`] turns
//!   each request into a call of the core; [`api::server`] and [`api::client`] own the socket.
//! - [`http`]: the HTTP interfaces beside the socket, each off until configured: Kannel's
//!   `sendsms` ([`http::kannel`]), SMS Gateway for Android's REST API ([`http::android`]),
//!   the shop's web page ([`http::web`]), and the calls smsqd makes back to other programs
//!   ([`http::callbacks`]: delivery reports, pushed messages, webhooks), planned from the
//!   committed history so that none is lost across a restart.
//! - [`cli`]: the `smsq` command line (`src/bin/smsq.rs` only calls it), a client of the API.
//! - [`smsqd`]: `smsqd`'s command line, configuration, logging, systemd notification and
//!   start-up: the one place where the core, its interfaces and the modems are put together.
//!
//! # Architecture invariants
//!
//! - Only the store holds a database connection, and only the modem actor (and the
//!   simulator, on its side of the pty) touches a serial port. With several hosts, a modem
//!   belongs to one live host; a host whose lease ran out has its work settled once, by the
//!   same unknown-outcome rule as a crash.
//! - Nothing is acknowledged before its commit: a `send` is answered after its messages are
//!   committed; a part is committed `sending` before its modem gets it and `sent` after; a
//!   received message is deleted from the SIM (or acknowledged with `+CNMA`) only after it is
//!   committed. A part whose fate is unknown is never resent automatically.
//! - `pdu` and `at` do no I/O, spawn nothing, read no clock and draw no random numbers: the
//!   concatenation reference and every time are inputs.
//! - Neither the PIN nor PDU hex (which carries numbers and texts) is ever logged.
//! - No input, from a modem or a client, can panic the codec: malformed PDUs are values
//!   (`DecodeError`), odd-but-readable ones carry `Warning`s.
//! - Serde types live at the edges (the socket protocol, the CLI's JSON views), never in
//!   the codec, the store or the core.
//! - Every outgoing message passes one gate ([`daemon::care::gate::may_send`]) twice: in
//!   the transaction that queues it and in the one that hands its first part to a modem, so
//!   a STOP committed in between is obeyed; only smsq's own confirmations (class `system`,
//!   which no client may use) pass an opted-out number. A reply's keyword, its ledger entry
//!   and its one confirmation commit with the reply.
//! - Every client value that reaches an AT command is a checked type ([`at::UssdString`],
//!   [`at::Pin`]): no value can end a quoted string or a command line.

pub mod api;
pub mod at;
pub mod cli;
pub mod daemon;
pub mod http;
pub mod modem;
pub mod pdu;
pub mod phone;
pub mod sheet;
pub mod sim;
pub mod smsqd;
pub mod store;
pub mod time;
