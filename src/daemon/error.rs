//! What the daemon core refuses or fails at, in its own words. Interfaces turn these into
//! their wire errors (the socket's codes in `api::handlers`); the core never sees those.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A recipient is not a number smsq can text (the reason in words).
    InvalidNumber(String),
    /// The text holds something no SMS may carry.
    InvalidText(String),
    /// An encoding name smsq does not know.
    InvalidEncoding(String),
    /// A time that cannot be used (already past, or in the wrong order).
    InvalidTime(String),
    /// The codec cannot carry the text as asked: `code` is its stable code (`not_gsm7`,
    /// `too_long`, `empty_text`, `invalid_address`).
    Unencodable {
        code: &'static str,
        message: String,
    },
    NotFound(i64),
    /// Not queued, or a part already went out.
    NotCancellable(i64),
    /// Not failed, expired or unknown (or its text was erased by retention).
    NotRetryable(i64),
    /// No modem can do this now.
    NoModem(String),
    /// The modem refused or failed (the AT command's words).
    Modem(String),
    /// The database failed; nothing was changed.
    Store(String),
    /// A class or topic the request may not use (`system` is smsq's own; a topic must be
    /// configured so that customers can opt out of it).
    InvalidClass(String),
    /// The customer-care gate refused every recipient: `code` is `opted_out`, `no_consent`
    /// or `frequency_cap`.
    Refused {
        code: &'static str,
        message: String,
    },
    /// The request needs an explicit confirmation first: `code` is `bulk_confirmation_needed`
    /// or `links_blocked_ph`.
    NeedsConfirmation {
        code: &'static str,
        message: String,
    },
    /// A contact or consent entry that cannot be recorded as given.
    InvalidContact(String),
    /// A template that cannot be saved or used (its syntax, or no such template).
    Template(String),
    /// A template's placeholder has no value for a recipient and no default.
    MissingField(String),
    /// No such campaign, or it cannot do that now.
    Campaign(String),
    /// What was asked for is not configured (the reason says what to add).
    Unavailable(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidNumber(why)
            | Self::InvalidText(why)
            | Self::InvalidEncoding(why)
            | Self::InvalidTime(why)
            | Self::NoModem(why)
            | Self::Modem(why)
            | Self::Store(why)
            | Self::InvalidClass(why)
            | Self::InvalidContact(why)
            | Self::Template(why)
            | Self::Campaign(why)
            | Self::Unavailable(why) => f.write_str(why),
            Self::MissingField(name) => write!(
                f,
                "the template's {{{{{name}}}}} has no value for a recipient and no default \
                 (write {{{{{name}|...}}}} to give one)"
            ),
            Self::Unencodable { message, .. }
            | Self::Refused { message, .. }
            | Self::NeedsConfirmation { message, .. } => f.write_str(message),
            Self::NotFound(id) => write!(f, "no message {id}"),
            Self::NotCancellable(id) => {
                write!(f, "message {id} is not queued or has already started")
            }
            Self::NotRetryable(id) => write!(f, "message {id} is not failed, expired or unknown"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(e.to_string())
    }
}
