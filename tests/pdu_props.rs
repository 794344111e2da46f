//! Property tests of the codec: what is encoded decodes to the same text, part by part and
//! reassembled in any order (by the store, as smsqd reassembles); no part exceeds its limit
//! or splits a pair; no input panics.

use proptest::prelude::*;
use smsq::pdu::{
    Address, Alphabet, Body, ConcatRef, DecodeOptions, EncodingChoice, Gsm7Tables,
    NationalLanguage, PlanOptions, Planner, SplitSurrogates, SubmitEncoder, SubmitOptions,
    SubmitPdus, Tpdu, TpduKind, decode, decode_hex,
};
use smsq::store::{Db, Inbound, InboundPart};

/// Hands one received part to the store's reassembly (the one smsqd runs), as the receive
/// path does; `Some(text)` when it completed a message. `pdu` identifies the copy: the same
/// `pdu` again is the same part read twice.
fn receive(
    db: &mut Db,
    pdu: &str,
    concat: Option<(u16, u8, u8)>,
    body: &Body,
    split: SplitSurrogates,
) -> Option<String> {
    let part = InboundPart {
        modem: "modem0".into(),
        pdu: pdu.into(),
        sender: "+639171234567".into(),
        concat: concat.map(|(reference, total, part)| (reference, 8, total, part)),
        body: match body {
            Body::Text(t) => Some(t.clone()),
            _ => None,
        },
        data_hex: None,
        sent_at: None,
        split,
    };
    match db.store_inbound(&part, 0).expect("stored") {
        Inbound::Stored(Some(id)) => {
            let inbox = db.list_inbox(None, 1000).expect("inbox");
            inbox.into_iter().find(|m| m.id == id).and_then(|m| m.body)
        }
        Inbound::Stored(None) | Inbound::Duplicate => None,
    }
}

/// A UCS-2 SMS-SUBMIT part built by hand (TS 23.040 §9.2.2.2: no SMSC, TP-UDHI set, an 8-bit
/// concatenation element), so a test can cut the UTF-16 units anywhere, as some phones do.
fn ucs2_part_hex(units: &[u16], reference: u8, total: u8, part: u8) -> String {
    let mut pdu = vec![
        0x00, 0x41, 0x00, 0x0C, 0x91, 0x36, 0x19, 0x71, 0x32, 0x54, 0x76,
    ];
    pdu.extend([0x00, 0x08]);
    pdu.push((6 + units.len() * 2) as u8);
    pdu.extend([0x05, 0x00, 0x03, reference, total, part]);
    for u in units {
        pdu.extend(u.to_be_bytes());
    }
    pdu.iter().map(|b| format!("{b:02X}")).collect()
}

/// Every character of the default alphabet and its extension table.
fn gsm7_char() -> impl Strategy<Value = char> {
    const CHARS: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà\
                         ^{}\\[~]|€\u{0C}";
    let chars: Vec<char> = CHARS.chars().collect();
    prop::sample::select(chars)
}

/// Lengths that sit on and around every boundary of one, two and three parts.
fn boundary_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..400,
        prop::sample::select(vec![
            1, 69, 70, 71, 133, 134, 135, 152, 153, 154, 159, 160, 161, 199, 200, 201, 305, 306,
            307, 459, 460
        ]),
    ]
}

fn gsm7_text() -> impl Strategy<Value = String> {
    boundary_len()
        .prop_flat_map(|n| prop::collection::vec(gsm7_char(), n.max(1)))
        .prop_map(|v| v.into_iter().collect())
}

fn unicode_text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => gsm7_char(),
        2 => any::<char>(),
        1 => prop::sample::select(vec!['😀', '👍', '🇵', '🇭', 'ą', 'ł', '中', '\u{FFFD}']),
    ];
    boundary_len()
        .prop_flat_map(move |n| prop::collection::vec(ch.clone(), n.max(1)))
        .prop_map(|v| v.into_iter().collect())
}

struct Decoded {
    alphabet: Alphabet,
    udl: usize,
    text: String,
    concat: Option<(u16, u8, u8)>,
}

fn decode_parts(pdus: &SubmitPdus) -> Vec<Decoded> {
    pdus.iter()
        .map(|p| {
            let pdu = decode_hex(p.hex, DecodeOptions::default()).expect("own PDU decodes");
            assert!(pdu.warnings.is_empty(), "{:?}", pdu.warnings);
            let Tpdu::Submit(s) = pdu.tpdu else {
                panic!("not a submit")
            };
            // The TPDU length is the hex minus the one SMSC octet ("00").
            assert_eq!(p.tpdu_len, p.hex.len() / 2 - 1);
            let ud_octets = p.hex.len() / 2 - (1 + 2 + 2 + s.recipient.value.len().div_ceil(2) + 3);
            let udl = match s.dcs.alphabet {
                Alphabet::Gsm7 => ud_octets * 8 / 7,
                _ => ud_octets,
            };
            Decoded {
                alphabet: s.dcs.alphabet,
                udl,
                text: s.user_data.text().expect("text").to_string(),
                concat: s
                    .user_data
                    .header
                    .and_then(|h| h.concat)
                    .map(|c| (c.reference, c.total, c.part)),
            }
        })
        .collect()
}

fn encode(text: &str, plan: PlanOptions) -> SubmitPdus {
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").unwrap());
    opts.plan = plan;
    let mut out = SubmitPdus::new();
    SubmitEncoder::new()
        .encode_text(text, &opts, &mut out)
        .expect("encodes");
    out
}

fn check_round_trip(text: &str, plan: PlanOptions, expect: Alphabet) -> Vec<Decoded> {
    let pdus = encode(text, plan);
    let parts = decode_parts(&pdus);
    let joined: String = parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        joined, text,
        "each part decodes alone, so no pair was split"
    );
    for p in &parts {
        assert_eq!(p.alphabet, expect);
        let limit = match p.alphabet {
            Alphabet::Gsm7 => 160,
            _ => 140,
        };
        assert!(p.udl <= limit, "part of {} units", p.udl);
    }
    if parts.len() > 1 {
        for (i, p) in parts.iter().enumerate() {
            let (_, total, part) = p.concat.expect("multipart parts carry concatenation");
            assert_eq!(
                (usize::from(total), usize::from(part)),
                (parts.len(), i + 1)
            );
        }
    }
    // The estimate agrees with what was encoded.
    let estimate = Planner::new().estimate(text, &plan).unwrap();
    assert_eq!(estimate.parts, parts.len());
    parts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn gsm7_text_round_trips(text in gsm7_text(), ref16 in any::<bool>()) {
        let concat = if ref16 { ConcatRef::Ref16(0xABCD) } else { ConcatRef::Ref8(0x42) };
        let plan = PlanOptions { encoding: EncodingChoice::Gsm7, concat, ..PlanOptions::default() };
        check_round_trip(&text, plan, Alphabet::Gsm7);
    }

    #[test]
    fn any_unicode_text_round_trips(text in unicode_text()) {
        let fits = text.chars().all(|c| Gsm7Tables::DEFAULT.encode_char(c).is_some());
        let expect = if fits { Alphabet::Gsm7 } else { Alphabet::Ucs2 };
        check_round_trip(&text, PlanOptions::default(), expect);
        check_round_trip(&text, PlanOptions { encoding: EncodingChoice::Ucs2, ..PlanOptions::default() }, Alphabet::Ucs2);
    }

    #[test]
    fn national_tables_round_trip(text in prop::collection::vec(
        prop::sample::select("ıİşŞğĞçÇ€{}abc ".chars().collect::<Vec<_>>()), 1..400)
        .prop_map(|v| v.into_iter().collect::<String>()))
    {
        let tables = Gsm7Tables {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        let plan = PlanOptions { encoding: EncodingChoice::Gsm7, tables, ..PlanOptions::default() };
        check_round_trip(&text, plan, Alphabet::Gsm7);
    }

    #[test]
    fn reassembly_in_any_order_gives_the_text_back(
        (text, order) in unicode_text().prop_flat_map(|t| {
            let n = encode(&t, PlanOptions::default()).len();
            (Just(t), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        }),
        duplicate in any::<prop::sample::Index>(),
    ) {
        let pdus = encode(&text, PlanOptions::default());
        let parts = decode_parts(&pdus);
        let mut db = Db::open_in_memory().unwrap();
        let mut complete = None;
        let mut order = order;
        // Deliver one part twice: duplicates must not disturb the result.
        order.insert(duplicate.index(order.len()), order[duplicate.index(order.len())]);
        for &i in &order {
            let p = &parts[i];
            let body = Body::Text(p.text.clone());
            let concat = p.concat;
            if let Some(joined) = receive(&mut db, pdus.iter().nth(i).unwrap().hex, concat, &body, SplitSurrogates::default()) {
                prop_assert!(complete.is_none(), "completes once");
                complete = Some(joined);
            }
        }
        prop_assert_eq!(complete.as_deref(), Some(text.as_str()));
    }

    /// Phones that cut a UCS-2 text by code units split emoji between parts. However the
    /// cuts fall and in whatever order the parts come, the joined text is the original.
    #[test]
    fn emoji_split_between_parts_survive_reassembly(
        text in prop::collection::vec(
            prop_oneof![Just('a'), Just('é'), Just('😀'), Just('👍'), Just('𝄞'), Just('中')],
            2..200,
        ).prop_map(|v| v.into_iter().collect::<String>()),
        cuts in prop::collection::vec(1usize..67, 1..8),
        shuffle in any::<u64>(),
    ) {
        let units: Vec<u16> = text.encode_utf16().collect();
        let mut chunks = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().cycle() {
            if at >= units.len() {
                break;
            }
            let end = (at + c).min(units.len());
            chunks.push(&units[at..end]);
            at = end;
        }
        prop_assume!(chunks.len() <= 255 && chunks.len() >= 2);
        let total = chunks.len() as u8;
        let mut order: Vec<usize> = (0..chunks.len()).collect();
        order.rotate_left((shuffle % chunks.len() as u64) as usize);
        let mut db = Db::open_in_memory().unwrap();
        let mut joined = None;
        for &i in &order {
            let hex = ucs2_part_hex(chunks[i], 9, total, i as u8 + 1);
            let pdu = decode_hex(&hex, DecodeOptions { has_smsc: true, kind: TpduKind::Submit }).unwrap();
            let Tpdu::Submit(s) = pdu.tpdu else { panic!("not a submit") };
            if let Some(text) = receive(&mut db, &hex, Some((9, total, i as u8 + 1)), &s.user_data.body, s.user_data.split) {
                joined = Some(text);
            }
        }
        prop_assert_eq!(joined.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for has_smsc in [true, false] {
            for kind in [TpduKind::Auto, TpduKind::Deliver, TpduKind::Submit, TpduKind::StatusReport] {
                let _ = decode(&bytes, DecodeOptions { has_smsc, kind });
            }
        }
    }

    #[test]
    fn plausible_pdus_never_panic(
        mti in 0u8..4, udhi in any::<bool>(), dcs in any::<u8>(), udl in any::<u8>(),
        tail in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        // A well-formed head followed by random user data reaches the deep decoding paths
        // (UDH parsing, septet unpacking, UCS-2) far more often than random bytes do.
        let mut b = vec![0x00, mti | if udhi { 0x40 } else { 0 }];
        if mti == 2 { b.push(0x2A); }
        b.extend_from_slice(&[0x0C, 0x91, 0x36, 0x19, 0x17, 0x32, 0x54, 0x76]);
        if mti == 2 {
            b.extend_from_slice(&[0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]);
            b.extend_from_slice(&[0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23, 0x00, 0x07, 0x00]);
        } else {
            b.push(0x00);
        }
        b.push(dcs);
        if mti == 0 { b.extend_from_slice(&[0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]); }
        b.push(udl);
        b.extend_from_slice(&tail);
        let _ = decode(&b, DecodeOptions::default());
    }

    #[test]
    fn arbitrary_strings_never_panic_the_hex_decoder(s in ".{0,80}") {
        let _ = decode_hex(&s, DecodeOptions::default());
    }
}
