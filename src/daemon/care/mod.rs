//! Customer care: the rules every outgoing text obeys and what a customer's reply asks for.
//!
//! - [`gate`]: the one gate ([`gate::may_send`]), its classes, refusals and holds.
//! - [`quiet`]: quiet hours in the recipient's own time zone.
//! - [`keywords`]: STOP, START, HELP and the texts a person should read.

pub mod gate;
pub mod keywords;
pub mod quiet;
