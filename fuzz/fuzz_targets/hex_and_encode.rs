//! Any string as hex input, and as text to plan and encode with every encoding choice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsq::pdu::{
    Address, DecodeOptions, EncodingChoice, Planner, SubmitEncoder, SubmitOptions, SubmitPdus,
    decode_hex,
};

fuzz_target!(|text: &str| {
    let _ = decode_hex(text, DecodeOptions::default());
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").expect("valid"));
    let mut encoder = SubmitEncoder::new();
    let mut out = SubmitPdus::new();
    for encoding in [
        EncodingChoice::Auto,
        EncodingChoice::Gsm7,
        EncodingChoice::Ucs2,
        EncodingChoice::Gsm7Fold,
    ] {
        opts.plan.encoding = encoding;
        let _ = Planner::new().estimate(text, &opts.plan);
        if encoder.encode_text(text, &opts, &mut out).is_ok() {
            for part in out.iter() {
                decode_hex(part.hex, DecodeOptions::default()).expect("own PDUs decode");
            }
        }
    }
});
