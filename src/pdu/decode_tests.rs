//! Decoder vectors, annotated octet by octet. Unless a test names another source, each PDU was
//! built by hand from the field layouts of TS 23.040 §9.2.2 and checked by the septet arithmetic
//! in the comments.

use super::*;

fn deliver(hex: &str) -> (Pdu, Deliver) {
    let pdu = decode_hex(hex, DecodeOptions::default()).expect("decodes");
    let Tpdu::Deliver(d) = pdu.tpdu.clone() else {
        panic!("not a deliver: {pdu:?}")
    };
    (pdu, d)
}

fn report(hex: impl AsRef<str>) -> (Pdu, StatusReport) {
    let pdu = decode_hex(hex.as_ref(), DecodeOptions::default()).expect("decodes");
    let Tpdu::StatusReport(r) = pdu.tpdu.clone() else {
        panic!("not a status report: {pdu:?}")
    };
    (pdu, r)
}

#[test]
fn classic_deliver_example() {
    // The SMS-DELIVER example of the widely copied "SMS and the PDU format" tutorial:
    // 07 917283010010F5   SMSC +27381000015
    // 04                  SMS-DELIVER, no more messages
    // 0B C8 7238880900F1  11 digits, TON 4 (subscriber), NPI 8: 27838890001
    // 00 00               PID, DCS
    // 99309251619580      1999-03-29 15:16:59, zone 08 quarters = +02:00
    // 0A E8329BFD4697D9EC37   10 septets: "hellohello"
    let (pdu, d) =
        deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37");
    assert_eq!(pdu.smsc.unwrap().to_string(), "+27381000015");
    assert_eq!(d.sender.value, "27838890001");
    assert_eq!(d.sender.ton, TypeOfNumber::Subscriber);
    assert_eq!(
        d.timestamp.unwrap().to_string(),
        "1999-03-29T15:16:59+02:00"
    );
    assert_eq!(d.user_data.text(), Some("hellohello"));
    assert!(!d.more_messages);
    assert!(pdu.warnings.is_empty());
}

#[test]
fn ucs2_part_with_emoji_and_concatenation() {
    // 00                    no SMSC
    // 44                    SMS-DELIVER, UDHI, no more messages
    // 0C 91 361917325476    +639171234567
    // 00 08                 PID, DCS UCS-2
    // 62113201510323        2026-11-23 10:15:30 +08:00
    // 16                    22 octets
    // 05 00 03 07 02 01     concatenation: ref 7, 2 parts, part 1
    // 0043 007A 0065 015B 0107 0020 D83D DE00   "Cześć 😀"
    let (pdu, d) = deliver(
        "00440C913619173254760008621132015103231605000307020100430\
         07A0065015B01070020D83DDE00",
    );
    assert!(pdu.smsc.is_none());
    assert_eq!(d.sender.to_string(), "+639171234567");
    assert_eq!(d.dcs.alphabet, Alphabet::Ucs2);
    assert_eq!(d.user_data.text(), Some("Cześć 😀"));
    assert_eq!(
        d.user_data.header.unwrap().concat,
        Some(Concat {
            reference: 7,
            reference_bits: 8,
            total: 2,
            part: 1
        })
    );
    assert_eq!(
        d.timestamp.unwrap().to_string(),
        "2026-11-23T10:15:30+08:00"
    );
}

#[test]
fn alphanumeric_sender_negative_zone_and_turkish_tables() {
    // 00 44                 no SMSC; DELIVER with UDHI
    // 0A D0 47F65B5C06      alphanumeric "Globe"
    // 00 00                 PID, DCS GSM 7-bit
    // 62113201510329        zone 0x29: sign bit 0x08, 12 quarters = -03:00
    // 0D                    13 septets = 8 header septets + 5
    // 06 24 01 01 25 01 01  single shift Turkish, locking shift Turkish (7 octets, no fill)
    // 87CDFCB006            septets 07 1B 73 07 6B: ı, ESC ş, ı, k
    let (pdu, d) = deliver("00440AD047F65B5C060000621132015103290D0624010125010187CDFCB006");
    assert_eq!(d.sender.ton, TypeOfNumber::Alphanumeric);
    assert_eq!(d.sender.to_string(), "Globe");
    assert_eq!(
        d.timestamp.unwrap().to_string(),
        "2026-11-23T10:15:30-03:00"
    );
    assert_eq!(d.user_data.text(), Some("ışık"));
    let udh = d.user_data.header.unwrap();
    assert_eq!((udh.single_shift, udh.locking_shift), (Some(1), Some(1)));
    assert!(pdu.warnings.is_empty());
}

#[test]
fn eight_bit_data_with_ports_is_bytes() {
    // 00 40 0C91361917325476 00 04 <scts> 09 06 05 04 0B84 23F0 CAFE
    let (_, d) = deliver("00400C91361917325476000462113201510323090605040B8423F0CAFE");
    assert_eq!(d.user_data.body, Body::Data(vec![0xCA, 0xFE]));
    assert_eq!(
        d.user_data.header.unwrap().ports,
        Some(Ports {
            destination: 2948,
            source: 9200,
            bits: 16
        })
    );
    assert!(d.more_messages, "TP-MMS 0 means more messages wait");
}

#[test]
fn compressed_text_is_reported_not_decoded() {
    let (_, d) = deliver("00040C91361917325476002062113201510323031234AB");
    assert!(d.dcs.compressed);
    assert_eq!(d.user_data.body, Body::Compressed(vec![0x12, 0x34, 0xAB]));
}

#[test]
fn class_zero_and_message_waiting() {
    let (_, d) = deliver("00040C9136191732547600106211320151032305C8329BFD06");
    assert_eq!((d.dcs.class, d.user_data.text()), (Some(0), Some("Hello")));
    let (_, d) = deliver("00040C9136191732547600C86211320151032305C8329BFD06");
    assert!(d.dcs.message_waiting.unwrap().active);
}

#[test]
fn status_reports_and_their_kinds() {
    // 00 06 2A 0C91361917325476 <scts> <dt> ST
    let base = "00062A0C91361917325476621132015103236211320152032";
    let cases = [
        ("300", 0x00, StatusKind::Delivered),
        ("321", 0x21, StatusKind::Trying),
        ("346", 0x46, StatusKind::Failed),
        ("362", 0x62, StatusKind::GaveUp),
    ];
    for (tail, st, kind) in cases {
        let (pdu, r) = report(format!("{base}{tail}"));
        assert_eq!((r.status, r.status_kind), (st, kind));
        assert_eq!(r.message_ref, 0x2A);
        assert_eq!(r.recipient.to_string(), "+639171234567");
        assert_eq!(
            r.discharge_time.unwrap().to_string(),
            "2026-11-23T10:25:30+08:00"
        );
        assert!(pdu.warnings.is_empty());
    }
    let (pdu, r) = report(format!("{base}3F0"));
    assert_eq!(r.status_kind, StatusKind::GaveUp);
    assert_eq!(pdu.warnings, vec![Warning::ReservedStatus { status: 0xF0 }]);
    assert_eq!(status_text(0x46), "validity period expired");
}

#[test]
fn status_report_with_parameter_indicator() {
    // ... ST 00, PI 03 (PID and DCS present), PID 00, DCS 00.
    let (_, r) = report("00062A0C91361917325476621132015103236211320152032300030000");
    assert_eq!((r.pid, r.dcs.map(|d| d.raw)), (Some(0), Some(0)));
    assert!(r.user_data.is_none());
    // TP-PI 0x46 announces DCS and user data that are not there: the outcome still counts.
    let (pdu, r) = report("00062A0C913619173254766211320151032362113201520323".to_owned() + "0046");
    assert_eq!(r.status_kind, StatusKind::Delivered);
    assert_eq!(
        pdu.warnings,
        vec![Warning::MissingOptionalFields { pi: 0x46 }]
    );
}

#[test]
fn submit_read_back_from_the_outbox() {
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").unwrap());
    opts.validity = Some(RelativeValidity(167));
    opts.status_report = true;
    let pdus = encode_submit("Hi {name}", &opts).unwrap();
    let hex = pdus.iter().next().unwrap().hex.to_string();
    let pdu = decode_hex(&hex, DecodeOptions::default()).unwrap();
    let Tpdu::Submit(s) = pdu.tpdu else {
        panic!("{pdu:?}")
    };
    assert_eq!(s.user_data.text(), Some("Hi {name}"));
    assert!(s.status_report_request);
    assert_eq!(s.validity, Some(Validity::Relative(RelativeValidity(167))));
}

#[test]
fn lenient_user_data_length() {
    // UDL says 20 septets but only "Hello" (5 septets, 5 octets) is there.
    let (pdu, d) = deliver("00040C9136191732547600006211320151032314C8329BFD06");
    assert_eq!(d.user_data.text(), Some("Hello"));
    assert_eq!(
        pdu.warnings,
        vec![Warning::UserDataShort {
            declared: 20,
            decoded: 5
        }]
    );
    // Junk after the user data is flagged and ignored.
    let (pdu, d) = deliver("00040C9136191732547600006211320151032305C8329BFD06FFFF");
    assert_eq!(d.user_data.text(), Some("Hello"));
    assert_eq!(pdu.warnings, vec![Warning::TrailingOctets { count: 2 }]);
}

#[test]
fn invalid_timestamp_keeps_the_text() {
    let (pdu, d) = deliver("00040C913619173254760000FF1132015103230548329BFD06");
    assert!(d.timestamp.is_none());
    assert_eq!(pdu.warnings[0].code(), "invalid_timestamp");
    assert!(d.user_data.text().is_some());
}

#[test]
fn errors_carry_offsets() {
    let err = |hex: &str| decode_hex(hex, DecodeOptions::default()).unwrap_err();
    assert_eq!(err("").kind, DecodeErrorKind::Empty);
    assert_eq!(err("0").code(), "odd_hex_length");
    assert_eq!(err("00ZZ").code(), "invalid_hex");
    // Reserved TP-MTI 11 at octet 1.
    let e = err("0003");
    assert_eq!((e.code(), e.offset), ("reserved_value", 1));
    // Truncated inside the originating address at octet 4.
    let e = err("00040C9136");
    assert_eq!((e.code(), e.offset), ("truncated", 4));
    // Truncated before TP-SCTS.
    let e = err("00040C91361917325476000062");
    assert_eq!(e.code(), "truncated");
    // UDHL 0x20 (at octet 20, where the user data starts) is longer than the user data.
    let e = err("00440C913619173254760000621132015103230520000307");
    assert_eq!((e.code(), e.offset), ("length_out_of_range", 20));
    let e = err(&"00".repeat(300));
    assert_eq!(e.code(), "too_long");
}

#[test]
fn forced_kind_and_missing_smsc() {
    // A bare TPDU (no SMSC octets) read as a SUBMIT even though we force it.
    let tpdu = "0100".to_string() + "0C91361917325476" + "0000" + "05C8329BFD06";
    let pdu = decode_hex(
        &tpdu,
        DecodeOptions {
            has_smsc: false,
            kind: TpduKind::Submit,
        },
    )
    .unwrap();
    assert!(matches!(pdu.tpdu, Tpdu::Submit(ref s) if s.user_data.text() == Some("Hello")));
}

#[test]
fn a_reusing_decoder_gives_what_one_shot_decoding_gives() {
    // Every kind of body and address, long after short and short after long, with failures in
    // between: nothing of one message may show through in the next.
    let long_text = encode_submit(
        include_str!("../../benches/corpus/gsm7_160.txt"),
        &SubmitOptions::new(Address::parse("+639171234567").unwrap()),
    )
    .unwrap()
    .iter()
    .next()
    .unwrap()
    .hex
    .to_string();
    let inputs = [
        "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37",
        "00440C91361917325476000862113201510323160500030702010043007A0065015B01070020D83DDE00",
        "00440AD047F65B5C060000621132015103290D0624010125010187CDFCB006",
        "00400C91361917325476000462113201510323090605040B8423F0CAFE",
        "00040C91361917325476002062113201510323031234AB",
        "00062A0C91361917325476621132015103236211320152032300030000",
        // A status report whose TP-PI announces user data: "hi".
        "00062A0C913619173254766211320151032362113201520323000402E834",
        long_text.as_str(),
        "00040C9136191732547600006211320151032305C8329BFD06FFFF",
        "00040C913619173254760000FF1132015103230548329BFD06",
        "0004ZZ",
        "00040C9136",
        "",
    ];
    let mut decoder = Decoder::new();
    for round in 0..inputs.len() {
        for (i, input) in inputs
            .iter()
            .cycle()
            .skip(round)
            .take(inputs.len())
            .enumerate()
        {
            let opts = DecodeOptions::default();
            let expected = decode_hex(input, opts);
            let got = decoder.decode_hex(input, opts).cloned();
            assert_eq!(got, expected, "round {round}, input {i}: {input}");
        }
    }
    assert!(decoder.take().is_none(), "the last input failed");
}

#[test]
fn ucs2_decoding_matches_the_standard_library_on_every_surrogate_arrangement() {
    // Every sequence of up to four units drawn from the edges of each range: ASCII, two- and
    // three-byte UTF-8, high and low surrogates in every order, lone or paired, at the end.
    let edges: [u16; 12] = [
        0x0041, 0x007F, 0x0080, 0x07FF, 0x0800, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000,
        0xFFFF,
    ];
    let mut sequences: Vec<Vec<u16>> = vec![vec![]];
    for _ in 0..4 {
        let longer: Vec<Vec<u16>> = sequences
            .iter()
            .filter(|s| s.len() == sequences.last().map_or(0, Vec::len))
            .flat_map(|s| {
                edges.iter().map(move |&u| {
                    let mut next = s.clone();
                    next.push(u);
                    next
                })
            })
            .collect();
        sequences.extend(longer);
    }
    for units in sequences {
        let payload: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        let expected: String = char::decode_utf16(units.iter().copied())
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        let mut warnings = Vec::new();
        let mut got = String::new();
        super::decode::decode_ucs2(&payload, &mut warnings, &mut got);
        assert_eq!(got, expected, "{units:04X?}");
        assert_eq!(
            warnings.contains(&Warning::LoneSurrogate),
            expected.contains(char::REPLACEMENT_CHARACTER),
            "{units:04X?}"
        );
    }
}

/// Odd but readable PDUs decode, each with a warning naming what was odd (the decoder's
/// lenient style): nothing is accepted silently.
#[test]
fn odd_fields_are_flagged() {
    const SMSC: &str = "07917283010010F5";
    const TAIL: &str = "0000993092516195800AE8329BFD4697D9EC37";
    let codes = |hex: &str| -> Vec<&'static str> {
        let pdu = decode_hex(hex, DecodeOptions::default()).unwrap();
        pdu.warnings.iter().map(Warning::code).collect()
    };
    // TP-UDL of 161 septets (one part holds 160).
    let long = format!("{SMSC}040BC87238880900F1000099309251619580A1E8329BFD4697D9EC37");
    assert!(
        codes(&long).contains(&"user_data_too_long"),
        "{:?}",
        codes(&long)
    );
    // 8-bit data of 141 octets.
    let long8 = format!(
        "{SMSC}040BC87238880900F1000499309251619580{:02X}{}",
        141,
        "00".repeat(141)
    );
    assert!(codes(&long8).contains(&"user_data_too_long"));
    // Type of address 0x48: bit 8 clear.
    let toa = format!("{SMSC}040B487238880900F1{TAIL}");
    assert_eq!(codes(&toa), vec!["address_type_bit"]);
    // No digits at all; one octet of digits.
    let empty = format!("{SMSC}040091{TAIL}");
    assert_eq!(codes(&empty), vec!["short_address"]);
    let one = format!("{SMSC}04029121{TAIL}");
    assert_eq!(codes(&one), vec!["short_address"]);
    // 1 2 F 4: a filler inside the number, left out.
    let filler = format!("{SMSC}040491214F{TAIL}");
    let pdu = decode_hex(&filler, DecodeOptions::default()).unwrap();
    let Tpdu::Deliver(d) = &pdu.tpdu else {
        panic!()
    };
    assert_eq!(d.sender.value, "124");
    assert_eq!(codes(&filler), vec!["filler_in_number"]);
    // A concatenation element of length 4 (8-bit references take 3).
    let udh = format!("{SMSC}440BC87238880900F1000899309251619580080600040102030400");
    assert!(
        codes(&udh).contains(&"malformed_element"),
        "{:?}",
        codes(&udh)
    );
    // The classic example stays clean.
    assert!(codes(&format!("{SMSC}040BC87238880900F1{TAIL}")).is_empty());
}
