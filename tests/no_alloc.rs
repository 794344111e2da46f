//! The codec's hot paths allocate nothing once warm: encoding with a reused encoder and output
//! buffer (the daemon encodes every outgoing part, and the codec issue asks for this), and
//! decoding with a reused [`Decoder`]. A counting global allocator (this test binary only)
//! makes it an assertion rather than a benchmark column.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use smsq::pdu::{
    Address, DecodeOptions, Decoder, DeliverSpec, EncodingChoice, PlanOptions, SubmitEncoder,
    SubmitOptions, SubmitPdus, Timestamp, encode_deliver, encode_status_report,
};

struct Counting;

thread_local! {
    // Per thread, so tests running side by side do not count each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TEXTS: [&str; 5] = [
    include_str!("../benches/corpus/gsm7_20.txt"),
    include_str!("../benches/corpus/gsm7_160.txt"),
    include_str!("../benches/corpus/gsm7_612_ext.txt"),
    include_str!("../benches/corpus/ucs2_polish_70.txt"),
    include_str!("../benches/corpus/emoji_300.txt"),
];

#[test]
fn steady_state_encoding_allocates_nothing() {
    let texts = TEXTS;
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").unwrap());
    opts.status_report = true;
    let mut encoder = SubmitEncoder::new();
    let mut out = SubmitPdus::new();
    for encoding in [EncodingChoice::Auto, EncodingChoice::Ucs2] {
        opts.plan.encoding = encoding;
        // Warm up with every text so each buffer reaches its largest size.
        for text in texts {
            encoder.encode_text(text, &opts, &mut out).unwrap();
        }
        let before = allocations();
        for _ in 0..10 {
            for text in texts {
                encoder.encode_text(text, &opts, &mut out).unwrap();
                assert!(!out.is_empty());
            }
        }
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "{encoding:?}: allocations in steady state"
        );
    }
}

#[test]
fn steady_state_decoding_allocates_nothing() {
    // Every corpus text as the DELIVER parts a modem would list, from a number and through an
    // SMSC, plus a status report: GSM 7-bit, UCS-2, concatenated and not.
    let smsc = Address::parse("+639170000130").unwrap();
    let sender = Address::parse("+639171234567").unwrap();
    let timestamp = Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]).unwrap();
    let mut pdus: Vec<String> = Vec::new();
    for text in TEXTS {
        for smsc in [None, Some(&smsc)] {
            let spec = DeliverSpec {
                smsc,
                sender: &sender,
                timestamp,
                text,
                plan: PlanOptions::default(),
                flash: false,
            };
            pdus.extend(
                encode_deliver(&spec)
                    .unwrap()
                    .into_iter()
                    .map(|(_, hex)| hex),
            );
        }
    }
    pdus.push(encode_status_report(7, &sender, timestamp, timestamp, 0).1);

    let mut decoder = Decoder::new();
    let decode_all = |decoder: &mut Decoder| {
        for hex in &pdus {
            decoder.decode_hex(hex, DecodeOptions::default()).unwrap();
        }
    };
    // Warm up so each buffer has held its largest content.
    decode_all(&mut decoder);
    let before = allocations();
    for _ in 0..10 {
        decode_all(&mut decoder);
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations in steady state");
}
