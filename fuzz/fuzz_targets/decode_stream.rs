//! Any bytes, cut into a stream of PDUs and decoded one after another by one reusing
//! `Decoder`: each result must equal what one-shot decoding of the same PDU gives, so nothing
//! of one message shows through in the next, whatever kinds and failures come in between.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smsq::pdu::{DecodeOptions, Decoder, TpduKind, decode_hex, hex};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new();
    // Each PDU is one length octet then that many octets; the options come from the length.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len >> 2).min(tail.len());
        let (pdu, next) = tail.split_at(take);
        rest = next;
        let opts = DecodeOptions {
            has_smsc: len & 1 == 0,
            kind: if len & 2 == 0 {
                TpduKind::Auto
            } else {
                TpduKind::StatusReport
            },
        };
        let text = hex::encode(pdu);
        let expected = decode_hex(&text, opts);
        let got = decoder.decode_hex(&text, opts).cloned();
        assert_eq!(got, expected);
    }
});
