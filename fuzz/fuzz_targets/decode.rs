//! Any bytes, read every way a modem's PDU can be read: never a panic, and a decoded text
//! that re-encodes must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsq::pdu::{DecodeOptions, TpduKind, decode};

fuzz_target!(|data: &[u8]| {
    for has_smsc in [true, false] {
        for kind in [
            TpduKind::Auto,
            TpduKind::Deliver,
            TpduKind::Submit,
            TpduKind::StatusReport,
        ] {
            let _ = decode(data, DecodeOptions { has_smsc, kind });
        }
    }
});
