//! The modem driver: the only code that touches a serial port.
//!
//! | file | owns |
//! |---|---|
//! | [`exchange`] | pure: which line belongs to which command; URCs whenever they arrive |
//! | [`profile`] | per-family quirks as data |
//! | [`actor`] | the task that owns one port: bring-up, requests, health, reconnects |
//! | [`pin`] | which PINs a SIM refused, asked of the daemon's memory before any PIN is entered |

pub mod actor;
pub mod exchange;
pub mod pin;
pub mod profile;

pub use actor::{
    Identity, ModemConfig, ModemError, ModemEvent, ModemHandle, ModemState, ModemStatus,
};
pub use exchange::{Response, StoredPdu, UrcEvent};
pub use pin::PinMemory;
pub use profile::Profile;
