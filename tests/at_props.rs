//! Property tests of the AT layer: any bytes, in any chunking, frame the same way; no line
//! panics any parser.

use proptest::prelude::*;
use smsq::at::framer::{Frame, Framer};
use smsq::at::parse;

fn frames(chunks: &[&[u8]]) -> (Vec<Frame>, u64) {
    let mut f = Framer::new();
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(frame) = f.next_frame() {
            out.push(frame);
        }
    }
    (out, f.dropped())
}

/// Bytes that look like modem output: real lines, line endings, prompts and junk.
fn modem_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"OK".to_vec()),
        Just(b"> ".to_vec()),
        Just(b"+CMTI: \"SM\",3".to_vec()),
        Just(b"+CMGS: 12".to_vec()),
        Just(b"\x00\xFF".to_vec()),
        prop::collection::vec(any::<u8>(), 0..20),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn chunking_never_changes_the_frames(bytes in modem_bytes(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let whole = frames(&[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&bytes[start..p]);
            start = p;
        }
        chunks.push(&bytes[start..]);
        prop_assert_eq!(frames(&chunks), whole);
    }

    #[test]
    fn no_line_panics_a_parser(line in prop_oneof![
        ".{0,120}",
        "[+^][A-Z]{1,6}: ?[0-9\",A-Za-z ]{0,40}",
    ]) {
        let _ = parse::parse_final(&line);
        let _ = parse::parse_urc(&line);
        let _ = parse::info(&line);
        let _ = parse::parse_cmgr(&line);
        let _ = parse::parse_cmgl(&line);
        let _ = parse::parse_cmgs(&line);
        let _ = parse::parse_csq(&line);
        let _ = parse::parse_cpms(&line);
        let _ = parse::parse_cops(&line);
        let _ = parse::parse_cpin(&line);
        let _ = parse::parse_csms(&line);
        let _ = parse::parse_cusd(&line);
        let _ = parse::parse_identity(&line);
        let _ = parse::parse_registration_response(&line);
        let _ = parse::decode_ussd(&line, Some(72), parse::UssdStyle::PackedHex);
        let _ = parse::decode_ussd(&line, Some(15), parse::UssdStyle::PackedHex);
    }

    #[test]
    fn framer_never_panics_on_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (lines, _) = frames(&[&bytes]);
        for f in lines {
            if let Frame::Line(l) = f {
                prop_assert!(!l.is_empty());
                let _ = parse::parse_urc(&l);
            }
        }
    }
}
