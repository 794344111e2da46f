//! Vector kernels for the codec's byte-parallel inner loops: hex in both directions, the GSM-7
//! "same code as ASCII" test, and septet packing and unpacking. Every x86_64 CPU has SSE2, so
//! on that architecture the SSE2 kernels always run, and hex decoding and septet unpacking
//! switch to AVX2 where the CPU has it (checked at run time). Elsewhere the [`scalar`]
//! versions stand in, and the tests hold all of them equal. Building with
//! `RUSTFLAGS="--cfg smsq_scalar"` makes x86_64 use the scalar versions too, so the whole codec
//! can be tested as other targets run it (CI does).
//!
//! The kernels take and return fixed-size arrays, so every access is in bounds by type. The
//! `unsafe` here is of two kinds, each with its reason beside it: calls into
//! `#[target_feature]` functions (SSE2 ones sound because these modules exist only when the
//! build target enables SSE2, AVX2 ones made only after `is_x86_feature_detected!`), and
//! unaligned vector loads and stores through references to arrays of exactly their width.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[cfg_attr(smsq_scalar, allow(dead_code))]
pub(crate) mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8,
        _mm_cvtsi128_si64, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_packus_epi16, _mm_set_epi64x, _mm_set1_epi8, _mm_set1_epi16, _mm_set1_epi64x,
        _mm_slli_epi16, _mm_slli_epi64, _mm_srl_epi64, _mm_srli_epi16, _mm_srli_epi64,
        _mm_storeu_si128, _mm_sub_epi8, _mm_unpackhi_epi8, _mm_unpackhi_epi64, _mm_unpacklo_epi8,
    };

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(bytes: &[u8; 16]) -> __m128i {
        // SAFETY: `bytes` is sixteen readable octets; the load has no alignment requirement.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn store(v: __m128i, out: &mut [u8; 16]) {
        // SAFETY: `out` is sixteen writable octets; the store has no alignment requirement.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) }
    }

    /// Sixteen octets to thirty-two upper-case hex digits.
    #[inline]
    pub fn hex_encode_16(bytes: &[u8; 16]) -> [u8; 32] {
        // SAFETY: this module is compiled only when the target enables SSE2.
        unsafe { hex_encode_16_sse2(bytes) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn hex_encode_16_sse2(bytes: &[u8; 16]) -> [u8; 32] {
        let v = load(bytes);
        let low_nibble = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(v, low_nibble);
        let hi = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibble);
        // A nibble above 9 skips the seven characters between '9' and 'A'.
        let digits = |n: __m128i| {
            let letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8(7));
            _mm_add_epi8(n, _mm_add_epi8(_mm_set1_epi8(b'0' as i8), letter))
        };
        let mut out = [0u8; 32];
        let (first, second) = out.split_at_mut(16);
        store(
            digits(_mm_unpacklo_epi8(hi, lo)),
            first.try_into().unwrap_or(&mut [0; 16]),
        );
        store(
            digits(_mm_unpackhi_epi8(hi, lo)),
            second.try_into().unwrap_or(&mut [0; 16]),
        );
        out
    }

    /// Sixty-four hex digits of either case to thirty-two octets in `out`; `false` if any is
    /// not a digit. Uses AVX2 where the CPU has it (nearly every x86_64 made since 2013): it
    /// halves the instructions of the decoder's largest stage.
    #[inline]
    pub fn hex_decode_64(digits: &[u8; 64], out: &mut [u8; 32]) -> bool {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been seen to support AVX2.
            return unsafe { super::avx2::hex_decode_64(digits, out) };
        }
        let (a, b) = digits.split_at(32);
        let (Some(a), Some(b)) = (
            hex_decode_32(a.try_into().unwrap_or(&[0; 32])),
            hex_decode_32(b.try_into().unwrap_or(&[0; 32])),
        ) else {
            return false;
        };
        out[..16].copy_from_slice(&a);
        out[16..].copy_from_slice(&b);
        true
    }

    /// Thirty-two hex digits of either case to sixteen octets; `None` if any is not a digit.
    #[inline]
    pub fn hex_decode_32(digits: &[u8; 32]) -> Option<[u8; 16]> {
        // SAFETY: this module is compiled only when the target enables SSE2.
        unsafe { hex_decode_32_sse2(digits) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn hex_decode_32_sse2(digits: &[u8; 32]) -> Option<[u8; 16]> {
        let (a, b) = digits.split_at(16);
        let (a_values, a_valid) = nibbles(load(a.try_into().unwrap_or(&[0; 16])));
        let (b_values, b_valid) = nibbles(load(b.try_into().unwrap_or(&[0; 16])));
        if _mm_movemask_epi8(_mm_and_si128(a_valid, b_valid)) != 0xFFFF {
            return None;
        }
        // In 16-bit lanes the first digit of a pair is the low byte: (low << 4) | high.
        let octets = |n: __m128i| {
            let high = _mm_and_si128(_mm_slli_epi16(n, 4), _mm_set1_epi16(0xF0));
            _mm_or_si128(high, _mm_srli_epi16(n, 8))
        };
        let mut out = [0u8; 16];
        store(
            _mm_packus_epi16(octets(a_values), octets(b_values)),
            &mut out,
        );
        Some(out)
    }

    /// Each lane's nibble value, and a mask of the lanes that held a hex digit.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn nibbles(v: __m128i) -> (__m128i, __m128i) {
        // Unsigned "x <= k" as min(x, k) == x; wrapping subtraction sends smaller bytes high.
        let at_most = |x: __m128i, k: i8| _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(k)), x);
        let digit = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let is_digit = at_most(digit, 9);
        // OR 0x20 folds 'A'..'F' onto 'a'..'f' and maps nothing else there.
        let letter = _mm_sub_epi8(
            _mm_or_si128(v, _mm_set1_epi8(0x20)),
            _mm_set1_epi8(b'a' as i8),
        );
        let is_letter = at_most(letter, 5);
        let values = _mm_or_si128(
            _mm_and_si128(is_digit, digit),
            _mm_and_si128(is_letter, _mm_add_epi8(letter, _mm_set1_epi8(10))),
        );
        (values, _mm_or_si128(is_digit, is_letter))
    }

    /// Bit `i` set when byte `i` is a character whose ASCII value is also its GSM 7-bit
    /// default-alphabet code (see `gsm7::IDENTITY`).
    #[inline]
    pub fn gsm7_identity_mask(bytes: &[u8; 16]) -> u32 {
        // SAFETY: this module is compiled only when the target enables SSE2.
        unsafe { gsm7_identity_mask_sse2(bytes) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn gsm7_identity_mask_sse2(bytes: &[u8; 16]) -> u32 {
        let v = load(bytes);
        // Signed compares: bytes 0x80..=0xFF are negative, so never "at least" a positive k.
        let at_least = |k: u8| _mm_cmpgt_epi8(v, _mm_set1_epi8(k as i8 - 1));
        let below = |k: u8| _mm_cmpgt_epi8(_mm_set1_epi8(k as i8), v);
        let is = |k: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(k as i8));
        let printable = _mm_and_si128(at_least(0x20), below(0x7B));
        let differs = _mm_or_si128(
            _mm_or_si128(is(b'$'), is(b'@')),
            _mm_and_si128(at_least(b'['), below(b'a')),
        );
        let line_break = _mm_or_si128(is(b'\n'), is(b'\r'));
        let same = _mm_or_si128(_mm_andnot_si128(differs, printable), line_break);
        _mm_movemask_epi8(same) as u32
    }

    /// Sixteen septets (one per octet, high bit ignored) to two 56-bit values, eight septets
    /// each, first septet lowest.
    #[inline]
    pub fn pack_16(septets: &[u8; 16]) -> [u64; 2] {
        // SAFETY: this module is compiled only when the target enables SSE2.
        unsafe { pack_16_sse2(septets) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn pack_16_sse2(septets: &[u8; 16]) -> [u64; 2] {
        let m = |k: u64| _mm_set1_epi64x(k as i64);
        // Per 64-bit lane, the same three steps as `gsm7::compress_septets`.
        let step = |x: __m128i, keep: u64, moved: __m128i, mask: u64| {
            _mm_or_si128(_mm_and_si128(x, m(keep)), _mm_and_si128(moved, m(mask)))
        };
        let x = _mm_and_si128(load(septets), m(0x7F7F_7F7F_7F7F_7F7F));
        let x = step(
            x,
            0x007F_007F_007F_007F,
            _mm_srli_epi64(x, 1),
            0x3F80_3F80_3F80_3F80,
        );
        let x = step(
            x,
            0x0000_3FFF_0000_3FFF,
            _mm_srli_epi64(x, 2),
            0x0FFF_C000_0FFF_C000,
        );
        let x = step(
            x,
            0x0000_0000_0FFF_FFFF,
            _mm_srli_epi64(x, 4),
            0x00FF_FFFF_F000_0000,
        );
        [
            _mm_cvtsi128_si64(x) as u64,
            _mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x)) as u64,
        ]
    }

    /// Thirty-two septets from the 224 bits that start `shift` (0..=7) bits into `window`,
    /// into `out`; returns the mask of those that are GSM-7 identity characters (bit `i` for
    /// septet `i`). AVX2 does it in one pass where the CPU has it.
    #[inline]
    pub fn unpack_32(window: &[u8; 29], shift: u32, out: &mut [u8; 32]) -> u32 {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been seen to support AVX2.
            return unsafe { super::avx2::unpack_32(window, shift, out) };
        }
        let (first, second) = (&window[..15], &window[14..]);
        let first = unpack_16(first.try_into().unwrap_or(&[0; 15]), shift);
        let second = unpack_16(second.try_into().unwrap_or(&[0; 15]), shift);
        out[..16].copy_from_slice(&first);
        out[16..].copy_from_slice(&second);
        gsm7_identity_mask(&first) | gsm7_identity_mask(&second) << 16
    }

    /// Sixteen septets from the 112 bits that start `shift` (0..=7) bits into `window`'s
    /// first octet; the 7 or 8 octets of each half-window are read from `window[0..8]` and
    /// `window[7..15]`.
    #[inline]
    pub fn unpack_16(window: &[u8; 15], shift: u32) -> [u8; 16] {
        // SAFETY: this module is compiled only when the target enables SSE2.
        unsafe { unpack_16_sse2(window, shift) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn unpack_16_sse2(window: &[u8; 15], shift: u32) -> [u8; 16] {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&window[at..at + 8]);
            i64::from_le_bytes(w)
        };
        let x = _mm_set_epi64x(word(7), word(0));
        let x = _mm_srl_epi64(x, _mm_set_epi64x(0, i64::from(shift)));
        // Per 64-bit lane, the same three steps as `gsm7::spread_septets`.
        let m = |k: u64| _mm_set1_epi64x(k as i64);
        let step = |x: __m128i, keep: u64, moved: __m128i, mask: u64| {
            _mm_or_si128(_mm_and_si128(x, m(keep)), _mm_and_si128(moved, m(mask)))
        };
        let x = step(
            x,
            0x0000_0000_0FFF_FFFF,
            _mm_slli_epi64(x, 4),
            0x0FFF_FFFF_0000_0000,
        );
        let x = step(
            x,
            0x0000_3FFF_0000_3FFF,
            _mm_slli_epi64(x, 2),
            0x3FFF_0000_3FFF_0000,
        );
        let x = step(
            x,
            0x007F_007F_007F_007F,
            _mm_slli_epi64(x, 1),
            0x7F00_7F00_7F00_7F00,
        );
        let mut out = [0u8; 16];
        store(x, &mut out);
        out
    }
}

/// Kernels for CPUs with AVX2, reached only after a runtime check.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[cfg_attr(smsq_scalar, allow(dead_code))]
pub(crate) mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm_cvtsi32_si128, _mm256_add_epi8, _mm256_and_si256, _mm256_andnot_si256,
        _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_maddubs_epi16,
        _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_packus_epi16,
        _mm256_permute4x64_epi64, _mm256_set_epi64x, _mm256_set1_epi8, _mm256_set1_epi16,
        _mm256_set1_epi64x, _mm256_slli_epi64, _mm256_srl_epi64, _mm256_storeu_si256,
        _mm256_sub_epi8,
    };

    /// [`super::sse2::hex_decode_64`] for CPUs with AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn hex_decode_64(digits: &[u8; 64], out: &mut [u8; 32]) -> bool {
        let (a, b) = digits.split_at(32);
        // SAFETY: each half is thirty-two readable octets; no alignment is required.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(a.as_ptr().cast()),
                _mm256_loadu_si256(b.as_ptr().cast()),
            )
        };
        let (a_values, a_valid) = nibbles(a);
        let (b_values, b_valid) = nibbles(b);
        if _mm256_movemask_epi8(_mm256_and_si256(a_valid, b_valid)) != -1 {
            return false;
        }
        // Each pair of digits to one octet: first x 16 + second, in 16-bit lanes.
        let weights = _mm256_set1_epi16(0x0110);
        let packed = _mm256_packus_epi16(
            _mm256_maddubs_epi16(a_values, weights),
            _mm256_maddubs_epi16(b_values, weights),
        );
        // Packing works within 128-bit halves: put the four 8-octet quarters back in order.
        let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(packed);
        // SAFETY: `out` is thirty-two writable octets; no alignment is required.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), ordered) };
        true
    }

    /// [`super::sse2::unpack_32`] for CPUs with AVX2: four 56-bit groups, one per 64-bit lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub fn unpack_32(window: &[u8; 29], shift: u32, out: &mut [u8; 32]) -> u32 {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&window[at..at + 8]);
            i64::from_le_bytes(w)
        };
        let x = _mm256_set_epi64x(word(21), word(14), word(7), word(0));
        let x = _mm256_srl_epi64(x, _mm_cvtsi32_si128(shift as i32));
        // Per 64-bit lane, the same three steps as `gsm7::spread_septets`.
        let m = |k: u64| _mm256_set1_epi64x(k as i64);
        let step = |x: __m256i, keep: u64, moved: __m256i, mask: u64| {
            _mm256_or_si256(
                _mm256_and_si256(x, m(keep)),
                _mm256_and_si256(moved, m(mask)),
            )
        };
        let x = step(
            x,
            0x0000_0000_0FFF_FFFF,
            _mm256_slli_epi64(x, 4),
            0x0FFF_FFFF_0000_0000,
        );
        let x = step(
            x,
            0x0000_3FFF_0000_3FFF,
            _mm256_slli_epi64(x, 2),
            0x3FFF_0000_3FFF_0000,
        );
        let x = step(
            x,
            0x007F_007F_007F_007F,
            _mm256_slli_epi64(x, 1),
            0x7F00_7F00_7F00_7F00,
        );
        // SAFETY: `out` is thirty-two writable octets; no alignment is required.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), x) };
        // The identity test of `super::sse2::gsm7_identity_mask`; septets are below 0x80.
        let at_least = |k: u8| _mm256_cmpgt_epi8(x, _mm256_set1_epi8(k as i8 - 1));
        let below = |k: u8| _mm256_cmpgt_epi8(_mm256_set1_epi8(k as i8), x);
        let is = |k: u8| _mm256_cmpeq_epi8(x, _mm256_set1_epi8(k as i8));
        let printable = _mm256_and_si256(at_least(0x20), below(0x7B));
        let differs = _mm256_or_si256(
            _mm256_or_si256(is(b'$'), is(b'@')),
            _mm256_and_si256(at_least(b'['), below(b'a')),
        );
        let line_break = _mm256_or_si256(is(b'\n'), is(b'\r'));
        let same = _mm256_or_si256(_mm256_andnot_si256(differs, printable), line_break);
        _mm256_movemask_epi8(same) as u32
    }

    /// Each lane's nibble value, and a mask of the lanes that held a hex digit.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn nibbles(v: __m256i) -> (__m256i, __m256i) {
        let at_most =
            |x: __m256i, k: i8| _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(k)), x);
        let digit = _mm256_sub_epi8(v, _mm256_set1_epi8(b'0' as i8));
        let is_digit = at_most(digit, 9);
        let letter = _mm256_sub_epi8(
            _mm256_or_si256(v, _mm256_set1_epi8(0x20)),
            _mm256_set1_epi8(b'a' as i8),
        );
        let is_letter = at_most(letter, 5);
        let values = _mm256_or_si256(
            _mm256_and_si256(is_digit, digit),
            _mm256_and_si256(is_letter, _mm256_add_epi8(letter, _mm256_set1_epi8(10))),
        );
        (values, _mm256_or_si256(is_digit, is_letter))
    }
}

/// The same kernels, one octet at a time: what other targets run, and what the tests hold the
/// vector kernels equal to.
#[cfg(any(
    test,
    smsq_scalar,
    not(all(target_arch = "x86_64", target_feature = "sse2"))
))]
pub(crate) mod scalar {
    use super::super::gsm7;

    pub fn hex_encode_16(bytes: &[u8; 16]) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [0u8; 32];
        for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0F)];
        }
        out
    }

    pub fn hex_decode_32(digits: &[u8; 32]) -> Option<[u8; 16]> {
        let nibble = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 16];
        for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            *slot = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(out)
    }

    pub fn hex_decode_64(digits: &[u8; 64], out: &mut [u8; 32]) -> bool {
        for (half, block) in out.chunks_exact_mut(16).zip(digits.chunks_exact(32)) {
            match hex_decode_32(block.try_into().unwrap_or(&[0; 32])) {
                Some(octets) => half.copy_from_slice(&octets),
                None => return false,
            }
        }
        true
    }

    pub fn gsm7_identity_mask(bytes: &[u8; 16]) -> u32 {
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| gsm7::is_identity(b))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    pub fn pack_16(septets: &[u8; 16]) -> [u64; 2] {
        let half = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&septets[at..at + 8]);
            gsm7::compress_septets(u64::from_le_bytes(w))
        };
        [half(0), half(8)]
    }

    pub fn unpack_32(window: &[u8; 29], shift: u32, out: &mut [u8; 32]) -> u32 {
        let first = unpack_16(window[..15].try_into().unwrap_or(&[0; 15]), shift);
        let second = unpack_16(window[14..].try_into().unwrap_or(&[0; 15]), shift);
        out[..16].copy_from_slice(&first);
        out[16..].copy_from_slice(&second);
        gsm7_identity_mask(&first) | gsm7_identity_mask(&second) << 16
    }

    pub fn unpack_16(window: &[u8; 15], shift: u32) -> [u8; 16] {
        let half = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&window[at..at + 8]);
            gsm7::spread_septets((u64::from_le_bytes(w) >> shift) & 0x00FF_FFFF_FFFF_FFFF)
        };
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&half(0).to_le_bytes());
        out[8..].copy_from_slice(&half(7).to_le_bytes());
        out
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(smsq_scalar)))]
pub(crate) use sse2::{gsm7_identity_mask, hex_decode_64, hex_encode_16, pack_16, unpack_32};

#[cfg(any(smsq_scalar, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
pub(crate) use scalar::{gsm7_identity_mask, hex_decode_64, hex_encode_16, pack_16, unpack_32};

#[cfg(all(test, target_arch = "x86_64", target_feature = "sse2"))]
mod tests {
    use super::{scalar, sse2};
    use proptest::prelude::*;

    /// The signature every 32-septet unpacking kernel shares.
    trait UnpackKernel: Fn(&[u8; 29], u32, &mut [u8; 32]) -> u32 {}
    impl<F: Fn(&[u8; 29], u32, &mut [u8; 32]) -> u32> UnpackKernel for F {}

    /// Every octet value in every lane, next to neighbours that vary too.
    fn blocks_with_every_value_in_every_lane<const N: usize>() -> impl Iterator<Item = [u8; N]> {
        (0..N).flat_map(|lane| {
            (0..=255u8).map(move |v| {
                let mut block = [0u8; N];
                for (i, slot) in block.iter_mut().enumerate() {
                    *slot = (i as u8).wrapping_mul(37).wrapping_add(v);
                }
                block[lane] = v;
                block
            })
        })
    }

    #[test]
    fn hex_encoding_agrees_on_every_octet() {
        for block in blocks_with_every_value_in_every_lane::<16>() {
            assert_eq!(sse2::hex_encode_16(&block), scalar::hex_encode_16(&block));
        }
    }

    #[test]
    fn hex_decoding_agrees_on_every_character() {
        let digits = b"0123456789abcdefABCDEF";
        for lane in 0..32 {
            for v in 0..=255u8 {
                let mut block = [0u8; 32];
                for (i, slot) in block.iter_mut().enumerate() {
                    *slot = digits[(i * 7 + usize::from(v)) % digits.len()];
                }
                block[lane] = v;
                assert_eq!(
                    sse2::hex_decode_32(&block),
                    scalar::hex_decode_32(&block),
                    "{v:#04x} at {lane}"
                );
            }
        }
    }

    #[test]
    fn wide_hex_decoding_agrees_on_every_character() {
        // Whichever path this CPU takes, and the AVX2 one directly where it exists.
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let digits = b"0123456789abcdefABCDEF";
        for lane in 0..64 {
            for v in 0..=255u8 {
                let mut block = [0u8; 64];
                for (i, slot) in block.iter_mut().enumerate() {
                    *slot = digits[(i * 5 + usize::from(v)) % digits.len()];
                }
                block[lane] = v;
                let decode = |kernel: &dyn Fn(&[u8; 64], &mut [u8; 32]) -> bool| {
                    let mut out = [0u8; 32];
                    kernel(&block, &mut out).then_some(out)
                };
                let expected = decode(&scalar::hex_decode_64);
                assert_eq!(decode(&sse2::hex_decode_64), expected, "{v:#04x} at {lane}");
                if avx2 {
                    // SAFETY: the CPU supports AVX2.
                    let got = decode(&|d, o| unsafe { super::avx2::hex_decode_64(d, o) });
                    assert_eq!(got, expected, "{v:#04x} at {lane}");
                }
            }
        }
    }

    #[test]
    fn wide_unpacking_agrees_on_every_septet_in_every_lane() {
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        for shift in 0..8u32 {
            for v in 0..128usize {
                let septets: Vec<u8> = (0..32).map(|i| ((v + i * 5) % 128) as u8).collect();
                let mut window = [0u8; 29];
                crate::pdu::gsm7::pack_septets(&septets, shift as u8, &mut window);
                let run = |kernel: &dyn UnpackKernel| {
                    let mut out = [0u8; 32];
                    let mask = kernel(&window, shift, &mut out);
                    (out.to_vec(), mask)
                };
                let expected = run(&scalar::unpack_32);
                assert_eq!(expected.0, septets);
                assert_eq!(run(&sse2::unpack_32), expected);
                if avx2 {
                    // SAFETY: the CPU supports AVX2.
                    let got = run(&|w, s, o| unsafe { super::avx2::unpack_32(w, s, o) });
                    assert_eq!(got, expected, "shift {shift}, first septet {v}");
                }
            }
        }
    }

    #[test]
    fn identity_mask_agrees_on_every_octet() {
        for block in blocks_with_every_value_in_every_lane::<16>() {
            assert_eq!(
                sse2::gsm7_identity_mask(&block),
                scalar::gsm7_identity_mask(&block),
                "{block:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in any::<[u8; 16]>(), lower in any::<bool>()) {
            let mut digits = sse2::hex_encode_16(&bytes);
            if lower {
                digits.make_ascii_lowercase();
            }
            prop_assert_eq!(sse2::hex_decode_32(&digits), Some(bytes));
        }

        #[test]
        fn packing_agrees(septets in any::<[u8; 16]>()) {
            prop_assert_eq!(sse2::pack_16(&septets), scalar::pack_16(&septets));
        }

        #[test]
        fn unpacking_agrees(window in any::<[u8; 15]>(), shift in 0u32..8) {
            prop_assert_eq!(sse2::unpack_16(&window, shift), scalar::unpack_16(&window, shift));
        }

        #[test]
        fn wide_unpacking_and_its_identity_mask_agree(
            window in any::<[u8; 29]>(),
            shift in 0u32..8,
        ) {
            let run = |kernel: &dyn UnpackKernel| {
                let mut out = [0u8; 32];
                let mask = kernel(&window, shift, &mut out);
                (out, mask)
            };
            let expected = run(&scalar::unpack_32);
            prop_assert_eq!(run(&sse2::unpack_32), expected);
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2.
                let avx2 = run(&|w, s, o| unsafe { super::avx2::unpack_32(w, s, o) });
                prop_assert_eq!(avx2, expected);
            }
        }
    }
}
