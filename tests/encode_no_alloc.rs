//! The encode path allocates nothing once the encoder and the output buffer are warm: the
//! daemon encodes every outgoing part, and the codec issue asks for this. A counting global
//! allocator (this test binary only) makes it an assertion rather than a benchmark column.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use smsq::pdu::{Address, EncodingChoice, SubmitEncoder, SubmitOptions, SubmitPdus};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_encoding_allocates_nothing() {
    let texts = [
        include_str!("../benches/corpus/gsm7_20.txt"),
        include_str!("../benches/corpus/gsm7_160.txt"),
        include_str!("../benches/corpus/gsm7_612_ext.txt"),
        include_str!("../benches/corpus/ucs2_polish_70.txt"),
        include_str!("../benches/corpus/emoji_300.txt"),
    ];
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
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..10 {
            for text in texts {
                encoder.encode_text(text, &opts, &mut out).unwrap();
                assert!(!out.is_empty());
            }
        }
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        assert_eq!(
            after - before,
            0,
            "{encoding:?}: allocations in steady state"
        );
    }
}
