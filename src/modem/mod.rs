//! The modem driver: the only code that touches a serial port.
//!
//! | file | owns |
//! |---|---|
//! | [`exchange`] | pure: which line belongs to which command; URCs whenever they arrive |
//! | [`profile`] | per-family quirks as data |
//! | [`actor`] | the task that owns one port: bring-up, requests, health, reconnects |

pub mod actor;
pub mod exchange;
pub mod profile;

pub use actor::{
    Identity, ModemConfig, ModemError, ModemEvent, ModemHandle, ModemState, ModemStatus,
};
pub use exchange::{Response, StoredPdu, UrcEvent};
pub use profile::Profile;
