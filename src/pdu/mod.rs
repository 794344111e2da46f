//! The SMS PDU codec: everything between a text and the hex a modem sends or receives.
//!
//! Pure functions and plain data: no I/O, no clock, no randomness, no panics on any input.
//! Decoding returns [`DecodeError`] (with the octet offset) when a PDU's structure cannot be
//! walked, and [`Warning`]s when it can but a value was odd.
//!
//! | file | owns |
//! |---|---|
//! | [`gsm7`] | GSM 7-bit tables (TS 23.038 §6.2.1, Annex A) and septet packing |
//! | [`fold`] | the explicit `gsm7-fold` transliteration |
//! | [`plan`] | encoding choice, segmentation, the estimate behind `smsq estimate` |
//! | [`submit`] | SMS-SUBMIT encoding (TS 23.040 §9.2.2.2) |
//! | [`decode`](mod@decode) | SMS-DELIVER / SMS-SUBMIT / SMS-STATUS-REPORT decoding, one-shot or into a reused [`Decoder`] |
//! | [`deliver`] | SMS-DELIVER / STATUS-REPORT encoding, for the simulator and tests |
//! | [`reassembly`] | joining the texts of concatenated parts (the store groups them) |
//! | [`address`], [`scts`], [`dcs`], [`udh`], [`hex`] | the fields they are named after |
//! | `simd` | SSE2 / AVX2 kernels of the hot loops (hex, septets), each with a scalar twin |
//!
//! Sending, in one call:
//!
//! ```
//! use smsq::pdu::{Address, SubmitOptions, encode_submit};
//! let opts = SubmitOptions::new(Address::parse("+639171234567").unwrap());
//! let pdus = encode_submit("Your documents are ready.", &opts).unwrap();
//! let part = pdus.iter().next().unwrap();
//! // AT+CMGS=<part.tpdu_len>, then part.hex and Ctrl-Z.
//! // 13 header octets + 25 septets packed into 22 octets.
//! assert_eq!(part.tpdu_len, 35);
//! ```

pub mod address;
pub mod dcs;
pub mod decode;
pub mod deliver;
pub mod error;
pub mod fold;
pub mod gsm7;
pub mod hex;
pub mod plan;
pub mod reassembly;
pub mod scts;
mod simd;
pub mod submit;
pub mod udh;

#[cfg(test)]
mod decode_tests;

pub use address::{Address, TypeOfNumber};
pub use dcs::{Alphabet, Dcs};
pub use decode::{
    Body, DecodeOptions, Decoder, Deliver, Pdu, SplitSurrogates, StatusKind, StatusReport, Submit,
    Tpdu, TpduKind, UserData, Validity, decode, decode_hex, status_text,
};
pub use deliver::{DeliverSpec, encode_deliver, encode_status_report};
pub use error::{CharAt, DecodeError, DecodeErrorKind, EncodeError, Warning};
pub use gsm7::{Gsm7Tables, NationalLanguage};
pub use plan::{ConcatRef, EncodingChoice, Estimate, Folded, PlanOptions, Planner};
pub use reassembly::join_text_parts;
pub use scts::Timestamp;
pub use submit::{
    EncodedPart, RelativeValidity, SubmitEncoder, SubmitOptions, SubmitPdus, encode_submit,
};
pub use udh::{Concat, InformationElement, Ports, Udh};
