//! smsq: an SMS gateway for a small shop's GSM dongle.
//!
//! # Code map
//!
//! - [`pdu`]: the codec. GSM 7-bit and UCS-2 text, segmentation, SMS-SUBMIT encoding,
//!   SMS-DELIVER / STATUS-REPORT decoding, reassembly. Pure.
//! - [`cli`]: the `smsq` command line (`src/bin/smsq.rs` only calls it).
//!
//! The modem driver, store, dispatch and socket API arrive with their issues; the design they
//! follow is in the README's architecture section.
//!
//! # Architecture invariants
//!
//! - `pdu` does no I/O, spawns nothing, reads no clock and draws no random numbers: the
//!   concatenation reference and every time are inputs.
//! - No input, from a modem or a client, can panic the codec: malformed PDUs are values
//!   (`DecodeError`), odd-but-readable ones carry `Warning`s.
//! - Serde types live at the edges (the CLI's JSON views), never in the codec.

pub mod at;
pub mod cli;
pub mod modem;
pub mod pdu;
pub mod sim;
