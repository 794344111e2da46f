//! The AT layer: framing modem output into lines, parsing each line (nom), the `+CMS`/`+CME`
//! code tables, and commands as data. Pure: no I/O, no clock, no panics on any input.
//!
//! | file | owns |
//! |---|---|
//! | [`framer`] | bytes to lines and the `> ` prompt; stray bytes dropped and counted |
//! | [`parse`] | final result codes, information responses, unsolicited result codes |
//! | [`codes`] | TS 27.005 §3.2.5 / TS 27.007 §9.2 error codes and their retry class |
//! | [`command`] | command builders with timeouts and response expectations |

pub mod codes;
pub mod command;
pub mod framer;
pub mod parse;

pub use codes::{CmeError, CmsError, ErrorClass};
pub use command::{Command, Expect, Pin, UssdString};
pub use framer::{Frame, Framer};
pub use parse::{Final, Urc};
