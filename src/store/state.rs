//! The states of an outgoing message and of each of its parts, and the only changes between
//! them that the store may make. The database holds the same lists as CHECK constraints
//! (schemas v3 and v4), and `store::tests::every_state_change_the_store_makes_is_legal` records what
//! the store's operations really do and holds them to [`MessageState::may_become`] and
//! [`PartState::may_become`].

use std::fmt;

/// An outgoing message, as `smsq outbox` and the socket show it (the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Waiting for its time, a modem or a retry.
    Queued,
    /// Waiting for the recipient's quiet hours to end (marketing and surveys): it goes out
    /// when the window opens, never earlier, and is never dropped for it.
    Held,
    /// A part is with the modem, or some parts went and others wait.
    Sending,
    /// Every part was accepted by the network.
    Sent,
    /// Status reports say every part arrived.
    Delivered,
    /// Refused for good, given up after retries, or a report said it failed.
    Failed,
    /// Not sent before its `not_after` time.
    Expired,
    /// Cancelled before any part went out.
    Cancelled,
    /// A part went to the modem and nobody knows whether the network took it: never resent
    /// automatically.
    Unknown,
    /// The customer-care gate refused it (opted out, no consent, over a cap): nothing of it
    /// ever reached a modem.
    Refused,
}

impl MessageState {
    pub const ALL: [Self; 10] = [
        Self::Queued,
        Self::Held,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
        Self::Unknown,
        Self::Refused,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Held => "held",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
            Self::Refused => "refused",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Still on its way: the dispatcher may work on it. The others are finished (retention
    /// may erase and delete them).
    pub const fn is_pending(self) -> bool {
        matches!(self, Self::Queued | Self::Held | Self::Sending)
    }

    /// Whether the store may move a message from `self` to `to`. Staying is always allowed
    /// (a retry counted, a report that settles nothing yet).
    pub fn may_become(self, to: Self) -> bool {
        use MessageState::*;
        self == to
            || matches!(
                (self, to),
                // Taken by a modem; cancelled or expired before anything went; given up.
                (Queued, Sending | Cancelled | Expired | Failed)
                // The gate, asked again just before a modem would take it: wait for the
                // recipient's window, or refused; a held message goes out when it opens.
                | (Queued | Held, Held | Refused)
                | (Held, Sending | Cancelled | Expired)
                // The outcomes of a send: accepted, waiting again, refused, unknown.
                | (Sending, Sent | Queued | Failed | Unknown)
                // A report for one part can settle the whole message before the last part
                // was accepted (a failed part), or just after it (early reports).
                | (Sending, Delivered)
                // Status reports.
                | (Sent, Delivered | Failed)
                | (Delivered, Failed)
                | (Unknown, Delivered | Failed)
                // `smsq retry`: a deliberate resend.
                | (Failed | Unknown | Expired, Queued)
            )
    }
}

/// One part of an outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartState {
    /// Not yet handed to a modem.
    Pending,
    /// Committed before the modem got it; settled when it answers (or at the next start).
    Sending,
    Sent,
    Delivered,
    Failed,
    Cancelled,
    Unknown,
}

impl PartState {
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Failed,
        Self::Cancelled,
        Self::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the store may move a part from `self` to `to`. A part reaches the modem only
    /// through `Sending`, and a part whose fate is unknown goes back to `Pending` only by a
    /// deliberate retry.
    pub fn may_become(self, to: Self) -> bool {
        use PartState::*;
        self == to
            || matches!(
                (self, to),
                (Pending, Sending | Failed | Cancelled)
                | (Sending, Sent | Pending | Failed | Unknown)
                // Status reports (a report that is still trying leaves a part sent; a late
                // report may overrule an earlier one).
                | (Sent, Delivered | Failed)
                | (Delivered, Failed | Sent)
                | (Failed, Delivered | Sent)
                | (Unknown, Sent | Delivered | Failed)
                // `smsq retry`.
                | (Failed | Unknown, Pending)
            )
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PartState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_schema() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()), Some(s));
            assert!(
                super::super::schema::SCHEMA_V4.contains(&format!("'{s}'")),
                "{s} missing from the CHECK"
            );
        }
        for s in PartState::ALL {
            assert_eq!(PartState::parse(s.as_str()), Some(s));
        }
        assert_eq!(MessageState::parse("lost"), None);
        assert_eq!(PartState::parse("Pending"), None);
    }

    #[test]
    fn what_nothing_may_do() {
        use MessageState::*;
        // Nothing comes back from cancelled; nothing skips the modem to be sent or delivered;
        // an unknown outcome is never queued again by itself... except by `retry`, which is
        // the only way out of unknown other than a report.
        for to in MessageState::ALL {
            assert_eq!(
                Cancelled.may_become(to),
                to == Cancelled,
                "cancelled -> {to}"
            );
        }
        for bad in [
            (Queued, Sent),
            (Queued, Delivered),
            (Queued, Unknown),
            (Sent, Queued),
            (Delivered, Queued),
            (Expired, Sending),
            (Unknown, Sending),
            (Failed, Sent),
            (Held, Sent),
            (Refused, Queued),
            (Refused, Sending),
        ] {
            assert!(!bad.0.may_become(bad.1), "{} -> {}", bad.0, bad.1);
        }
        use PartState as P;
        for bad in [
            (P::Pending, P::Sent),
            (P::Pending, P::Unknown),
            (P::Pending, P::Delivered),
            (P::Unknown, P::Sending),
            (P::Sent, P::Pending),
            (P::Cancelled, P::Pending),
            (P::Delivered, P::Pending),
        ] {
            assert!(!bad.0.may_become(bad.1), "{} -> {}", bad.0, bad.1);
        }
        // Counted: every other pair is listed on purpose.
        let legal_messages = MessageState::ALL
            .iter()
            .flat_map(|a| MessageState::ALL.iter().map(move |b| a.may_become(*b)))
            .filter(|&ok| ok)
            .count();
        assert_eq!(legal_messages, 10 + 17 + 6);
        let legal_parts = PartState::ALL
            .iter()
            .flat_map(|a| PartState::ALL.iter().map(move |b| a.may_become(*b)))
            .filter(|&ok| ok)
            .count();
        assert_eq!(legal_parts, 7 + 18);
    }
}
