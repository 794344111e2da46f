//! Codec throughput on the fixed corpus in `benches/corpus/`.
//!
//! - `encode`: plan + SMS-SUBMIT PDUs in hex, with a reused encoder and output buffer (the
//!   daemon's steady state). The allocation profiler's columns show it allocates nothing.
//! - `decode`: SMS-DELIVER hex (as `+CMGR` gives it) to text with a reused [`Decoder`], the
//!   receive path's steady state (no allocation, as the profiler's columns show).
//! - `decode_one_shot`: the same through `decode_hex`, which allocates the result's strings.
//!
//! Counters are parts, so divan's throughput column reads as parts per second.
//! Run: `cargo bench --bench codec`.

use divan::counter::ItemsCount;
use divan::{AllocProfiler, Bencher, black_box};
use smsq::pdu::{
    Address, DecodeOptions, Decoder, SubmitEncoder, SubmitOptions, SubmitPdus, decode_hex,
    encode_submit,
};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const CORPUS: &[(&str, &str)] = &[
    ("gsm7_20", include_str!("corpus/gsm7_20.txt")),
    ("gsm7_160", include_str!("corpus/gsm7_160.txt")),
    ("gsm7_612_ext", include_str!("corpus/gsm7_612_ext.txt")),
    ("ucs2_polish_70", include_str!("corpus/ucs2_polish_70.txt")),
    ("emoji_300", include_str!("corpus/emoji_300.txt")),
];

const NAMES: &[&str] = &[
    "gsm7_20",
    "gsm7_160",
    "gsm7_612_ext",
    "ucs2_polish_70",
    "emoji_300",
];

fn text(name: &str) -> &'static str {
    CORPUS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("corpus entry")
}

fn options() -> SubmitOptions {
    let mut opts = SubmitOptions::new(Address::parse("+639171234567").expect("valid"));
    opts.status_report = true;
    opts
}

/// Turns each SMS-SUBMIT part into the SMS-DELIVER a recipient's modem would show: same user
/// data, the recipient as originator, a service-centre time stamp instead of TP-MR and TP-VP.
fn deliver_parts(text: &str) -> Vec<String> {
    let pdus = encode_submit(text, &options()).expect("corpus encodes");
    pdus.iter()
        .map(|p| {
            let h = p.hex;
            // 00 | FO | MR | 0C 91 <6 octets> | PID | DCS | UDL UD...
            let fo = u8::from_str_radix(&h[2..4], 16).expect("hex");
            let address = &h[6..22];
            let dcs = &h[24..26];
            let rest = &h[26..];
            let deliver_fo = if fo & 0x40 != 0 { "44" } else { "04" };
            format!("00{deliver_fo}{address}00{dcs}62113201510323{rest}")
        })
        .collect()
}

fn main() {
    divan::main();
}

#[divan::bench(args = NAMES)]
fn encode(bencher: Bencher, name: &str) {
    let text = text(name);
    let opts = options();
    let mut encoder = SubmitEncoder::new();
    let mut out = SubmitPdus::new();
    encoder.encode_text(text, &opts, &mut out).expect("encodes");
    let parts = out.len();
    bencher
        .counter(ItemsCount::new(parts))
        .bench_local(move || {
            encoder
                .encode_text(black_box(text), &opts, &mut out)
                .expect("encodes");
            black_box(out.len());
        });
}

#[divan::bench(args = NAMES)]
fn decode(bencher: Bencher, name: &str) {
    let parts = deliver_parts(text(name));
    let count = parts.len();
    let mut decoder = Decoder::new();
    bencher
        .counter(ItemsCount::new(count))
        .bench_local(move || {
            for hex in &parts {
                let pdu = decoder
                    .decode_hex(black_box(hex), DecodeOptions::default())
                    .expect("decodes");
                black_box(pdu);
            }
        });
}

#[divan::bench(args = NAMES)]
fn decode_one_shot(bencher: Bencher, name: &str) {
    let parts = deliver_parts(text(name));
    let count = parts.len();
    bencher.counter(ItemsCount::new(count)).bench(|| {
        for hex in &parts {
            black_box(decode_hex(black_box(hex), DecodeOptions::default()).expect("decodes"));
        }
    });
}
