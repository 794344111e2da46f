//! `+CMS ERROR` codes (3GPP TS 27.005 §3.2.5, which takes 0..=127 from TS 24.011 Annex E-2
//! RP-cause and 128..=255 from TS 23.040 §9.2.3.22 TP-FCS) and `+CME ERROR` codes (TS 27.007
//! §9.2), with the spec's wording and the class the retry policy acts on.
//!
//! Each table is one macro invocation, so a code, its variant, its words and its class cannot
//! drift apart. Verbose modems (`AT+CMEE=2`) print the words instead of the number; they are
//! mapped back case-insensitively.

use std::fmt;

/// What a failure means for the message or the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Worth retrying later: network timeout, congestion, SMSC busy, storage full.
    Temporary,
    /// Retrying cannot help: bad number, barred, unknown SMSC, unsupported content.
    Permanent,
    /// The modem or SIM is not ready (SIM missing or busy, PIN needed, settings lost, no
    /// service centre): not the message's fault. The modem is brought up again and the
    /// message retried, counted and backed off like a temporary failure, so it can neither
    /// loop nor hold up the messages behind it.
    ModemSide,
}

impl ErrorClass {
    pub fn name(self) -> &'static str {
        match self {
            Self::Temporary => "temporary",
            Self::Permanent => "permanent",
            Self::ModemSide => "modem",
        }
    }
}

macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $name:ident, $prefix:literal, default $default:ident;
        $($variant:ident = $code:literal, $text:literal, $class:ident;)*
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A code this table does not name (manufacturer-specific ones among them).
            Other(u16),
            /// A verbose error whose words this table does not know.
            Text(String),
        }

        impl $name {
            pub fn from_code(code: u16) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Other(other),
                }
            }

            /// Maps the verbose form back to the code (case and surrounding space ignored).
            pub fn from_text(text: &str) -> Self {
                let t = text.trim();
                $(if t.eq_ignore_ascii_case($text) {
                    return Self::$variant;
                })*
                Self::Text(t.to_string())
            }

            pub fn code(&self) -> Option<u16> {
                match self {
                    $(Self::$variant => Some($code),)*
                    Self::Other(c) => Some(*c),
                    Self::Text(_) => None,
                }
            }

            /// The spec's words.
            pub fn text(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(_) => "unlisted error",
                    Self::Text(t) => t,
                }
            }

            pub fn class(&self) -> ErrorClass {
                match self {
                    $(Self::$variant => ErrorClass::$class,)*
                    Self::Other(c) => Self::class_of_unlisted(*c),
                    Self::Text(_) => ErrorClass::$default,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.code() {
                    Some(code) => write!(f, "{} {} ({})", $prefix, code, self.text()),
                    None => write!(f, "{} {}", $prefix, self.text()),
                }
            }
        }
    };
}

code_table! {
    /// `+CMS ERROR: <err>`: why the modem or network refused an SMS operation.
    CmsError, "+CMS ERROR", default Temporary;
    // TS 24.011 Annex E-2, RP-cause values.
    UnassignedNumber = 1, "unassigned (unallocated) number", Permanent;
    OperatorDeterminedBarring = 8, "operator determined barring", Permanent;
    CallBarred = 10, "call barred", Permanent;
    TransferRejected = 21, "short message transfer rejected", Permanent;
    DestinationOutOfService = 27, "destination out of service", Temporary;
    UnidentifiedSubscriber = 28, "unidentified subscriber", Permanent;
    FacilityRejected = 29, "facility rejected", Permanent;
    UnknownSubscriber = 30, "unknown subscriber", Permanent;
    NetworkOutOfOrder = 38, "network out of order", Temporary;
    TemporaryFailure = 41, "temporary failure", Temporary;
    Congestion = 42, "congestion", Temporary;
    ResourcesUnavailable = 47, "resources unavailable, unspecified", Temporary;
    FacilityNotSubscribed = 50, "requested facility not subscribed", Permanent;
    FacilityNotImplemented = 69, "requested facility not implemented", Permanent;
    InvalidTransferReference = 81, "invalid short message transfer reference value", Temporary;
    InvalidMessage = 95, "invalid message, unspecified", Permanent;
    InvalidMandatoryInformation = 96, "invalid mandatory information", Permanent;
    MessageTypeNonExistent = 97, "message type non-existent or not implemented", Permanent;
    MessageNotCompatible = 98, "message not compatible with short message protocol state", Temporary;
    InformationElementNonExistent = 99, "information element non-existent or not implemented", Permanent;
    ProtocolError = 111, "protocol error, unspecified", Temporary;
    Interworking = 127, "interworking, unspecified", Temporary;
    // TS 23.040 §9.2.3.22, TP-Failure-Cause values.
    TelematicInterworkingNotSupported = 128, "telematic interworking not supported", Permanent;
    Type0NotSupported = 129, "short message type 0 not supported", Permanent;
    CannotReplace = 130, "cannot replace short message", Permanent;
    UnspecifiedPidError = 143, "unspecified TP-PID error", Permanent;
    DcsNotSupported = 144, "data coding scheme (alphabet) not supported", Permanent;
    ClassNotSupported = 145, "message class not supported", Permanent;
    UnspecifiedDcsError = 159, "unspecified TP-DCS error", Permanent;
    CommandCannotBeActioned = 160, "command cannot be actioned", Permanent;
    CommandUnsupported = 161, "command unsupported", Permanent;
    UnspecifiedCommandError = 175, "unspecified TP-Command error", Permanent;
    TpduNotSupported = 176, "TPDU not supported", Permanent;
    ScBusy = 192, "SC busy", Temporary;
    // The SIM's subscription, not the message: another SIM may send it.
    NoScSubscription = 193, "no SC subscription", ModemSide;
    ScSystemFailure = 194, "SC system failure", Temporary;
    InvalidSmeAddress = 195, "invalid SME address", Permanent;
    DestinationSmeBarred = 196, "destination SME barred", Permanent;
    DuplicateRejected = 197, "SM rejected-duplicate SM", Permanent;
    VpfNotSupported = 198, "TP-VPF not supported", Permanent;
    VpNotSupported = 199, "TP-VP not supported", Permanent;
    SimStorageFull = 208, "(U)SIM SMS storage full", Temporary;
    NoSimStorage = 209, "no SMS storage capability in (U)SIM", Permanent;
    ErrorInMs = 210, "error in MS", Temporary;
    MemoryCapacityExceeded = 211, "memory capacity exceeded", Temporary;
    SimToolkitBusy = 212, "(U)SIM application toolkit busy", Temporary;
    SimDataDownloadError = 213, "(U)SIM data download error", Temporary;
    UnspecifiedFailure = 255, "unspecified error cause", Temporary;
    // TS 27.005 §3.2.5, ME/TA errors.
    MeFailure = 300, "ME failure", ModemSide;
    SmsServiceReserved = 301, "SMS service of ME reserved", ModemSide;
    OperationNotAllowed = 302, "operation not allowed", ModemSide;
    OperationNotSupported = 303, "operation not supported", ModemSide;
    // A PDU damaged on the serial line draws 304 as surely as a bad one: a few counted tries.
    InvalidPduModeParameter = 304, "invalid PDU mode parameter", Temporary;
    // Seen in PDU mode only when the modem fell back to text mode: bring it up again.
    InvalidTextModeParameter = 305, "invalid text mode parameter", ModemSide;
    SimNotInserted = 310, "(U)SIM not inserted", ModemSide;
    SimPinRequired = 311, "(U)SIM PIN required", ModemSide;
    PhSimPinRequired = 312, "PH-(U)SIM PIN required", ModemSide;
    SimFailure = 313, "(U)SIM failure", ModemSide;
    SimBusy = 314, "(U)SIM busy", ModemSide;
    SimWrong = 315, "(U)SIM wrong", ModemSide;
    SimPukRequired = 316, "(U)SIM PUK required", ModemSide;
    SimPin2Required = 317, "(U)SIM PIN2 required", ModemSide;
    SimPuk2Required = 318, "(U)SIM PUK2 required", ModemSide;
    MemoryFailure = 320, "memory failure", ModemSide;
    InvalidMemoryIndex = 321, "invalid memory index", Permanent;
    MemoryFull = 322, "memory full", Temporary;
    // The SIM lacks a service centre: every message through it would fail, none is to blame.
    SmscAddressUnknown = 330, "SMSC address unknown", ModemSide;
    NoNetworkService = 331, "no network service", Temporary;
    NetworkTimeout = 332, "network timeout", Temporary;
    NoCnmaExpected = 340, "no +CNMA acknowledgement expected", ModemSide;
    UnknownError = 500, "unknown error", Temporary;
}

impl CmsError {
    /// Codes in the spec's reserved ranges (and manufacturer-specific ones from 512 on): TS
    /// 24.011 tells a receiver to read an unknown RP-cause as "protocol error, unspecified",
    /// which is worth a retry; an unknown TP-FCS or ME code likewise.
    fn class_of_unlisted(_code: u16) -> ErrorClass {
        ErrorClass::Temporary
    }
}

code_table! {
    /// `+CME ERROR: <err>`: a general modem or SIM error.
    CmeError, "+CME ERROR", default ModemSide;
    PhoneFailure = 0, "phone failure", ModemSide;
    NoConnectionToPhone = 1, "no connection to phone", ModemSide;
    AdaptorLinkReserved = 2, "phone-adaptor link reserved", ModemSide;
    OperationNotAllowed = 3, "operation not allowed", ModemSide;
    OperationNotSupported = 4, "operation not supported", ModemSide;
    PhSimPinRequired = 5, "PH-SIM PIN required", ModemSide;
    PhFsimPinRequired = 6, "PH-FSIM PIN required", ModemSide;
    PhFsimPukRequired = 7, "PH-FSIM PUK required", ModemSide;
    SimNotInserted = 10, "SIM not inserted", ModemSide;
    SimPinRequired = 11, "SIM PIN required", ModemSide;
    SimPukRequired = 12, "SIM PUK required", ModemSide;
    SimFailure = 13, "SIM failure", ModemSide;
    SimBusy = 14, "SIM busy", ModemSide;
    SimWrong = 15, "SIM wrong", ModemSide;
    IncorrectPassword = 16, "incorrect password", ModemSide;
    SimPin2Required = 17, "SIM PIN2 required", ModemSide;
    SimPuk2Required = 18, "SIM PUK2 required", ModemSide;
    MemoryFull = 20, "memory full", Temporary;
    InvalidIndex = 21, "invalid index", Permanent;
    NotFound = 22, "not found", Permanent;
    MemoryFailure = 23, "memory failure", ModemSide;
    TextTooLong = 24, "text string too long", Permanent;
    InvalidCharactersInText = 25, "invalid characters in text string", Permanent;
    DialStringTooLong = 26, "dial string too long", Permanent;
    InvalidCharactersInDialString = 27, "invalid characters in dial string", Permanent;
    NoNetworkService = 30, "no network service", Temporary;
    NetworkTimeout = 31, "network timeout", Temporary;
    EmergencyCallsOnly = 32, "network not allowed - emergency calls only", Temporary;
    NetworkPersonalizationPin = 40, "network personalization PIN required", ModemSide;
    NetworkPersonalizationPuk = 41, "network personalization PUK required", ModemSide;
    Unknown = 100, "unknown", Temporary;
}

impl CmeError {
    fn class_of_unlisted(_code: u16) -> ErrorClass {
        ErrorClass::ModemSide
    }

    /// Whether the SIM waits for a PIN or PUK (the daemon must not guess one).
    pub fn needs_pin(&self) -> bool {
        matches!(
            self,
            Self::SimPinRequired
                | Self::SimPukRequired
                | Self::SimPin2Required
                | Self::SimPuk2Required
                | Self::PhSimPinRequired
                | Self::IncorrectPassword
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_words_and_classes() {
        let e = CmsError::from_code(332);
        assert_eq!(e, CmsError::NetworkTimeout);
        assert_eq!(e.class(), ErrorClass::Temporary);
        assert_eq!(e.to_string(), "+CMS ERROR 332 (network timeout)");
        assert_eq!(CmsError::from_code(1).class(), ErrorClass::Permanent);
        assert_eq!(CmsError::from_code(330).class(), ErrorClass::ModemSide);
        assert_eq!(CmsError::from_code(310).class(), ErrorClass::ModemSide);
        assert_eq!(CmsError::from_code(192).text(), "SC busy");
        assert_eq!(CmsError::from_code(999), CmsError::Other(999));
        assert_eq!(CmsError::from_code(999).class(), ErrorClass::Temporary);
        assert_eq!(CmeError::from_code(11).class(), ErrorClass::ModemSide);
        assert!(CmeError::from_code(12).needs_pin());
        assert!(!CmeError::from_code(10).needs_pin());
    }

    #[test]
    fn verbose_forms_map_back() {
        assert_eq!(
            CmeError::from_text("SIM not inserted"),
            CmeError::SimNotInserted
        );
        assert_eq!(
            CmeError::from_text(" sim pin required "),
            CmeError::SimPinRequired
        );
        assert_eq!(CmsError::from_text("(U)SIM busy"), CmsError::SimBusy);
        let odd = CmsError::from_text("Something vendor specific");
        assert_eq!(odd.code(), None);
        assert_eq!(odd.to_string(), "+CMS ERROR Something vendor specific");
    }

    /// The whole table, class by class, as the dispatcher acts on it: the message's fault
    /// (permanent), the network's moment (temporary) or the modem's state (modem-side).
    #[test]
    fn every_send_error_has_the_class_the_policy_needs() {
        let permanent = [
            1, 8, 10, 21, 28, 29, 30, 50, 69, 95, 96, 97, 99, 128, 129, 130, 143, 144, 145, 159,
            160, 161, 175, 176, 195, 196, 197, 198, 199, 209, 321,
        ];
        let temporary = [
            27, 38, 41, 42, 47, 81, 98, 111, 127, 192, 194, 208, 210, 211, 212, 213, 255, 304, 322,
            331, 332, 500, 0, 2, 200, 511, 512, 999,
        ];
        let modem = [
            193, 300, 301, 302, 303, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 320, 330,
            340,
        ];
        for (codes, class) in [
            (&permanent[..], ErrorClass::Permanent),
            (&temporary[..], ErrorClass::Temporary),
            (&modem[..], ErrorClass::ModemSide),
        ] {
            for &code in codes {
                assert_eq!(
                    CmsError::from_code(code).class(),
                    class,
                    "+CMS ERROR: {code}"
                );
            }
        }
        for (code, class) in [
            (3, ErrorClass::ModemSide),
            (10, ErrorClass::ModemSide),
            (14, ErrorClass::ModemSide),
            (20, ErrorClass::Temporary),
            (21, ErrorClass::Permanent),
            (30, ErrorClass::Temporary),
            (31, ErrorClass::Temporary),
            (100, ErrorClass::Temporary),
            (777, ErrorClass::ModemSide),
        ] {
            assert_eq!(
                CmeError::from_code(code).class(),
                class,
                "+CME ERROR: {code}"
            );
        }
    }
}
