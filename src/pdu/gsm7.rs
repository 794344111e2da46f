//! GSM 7-bit alphabets (3GPP TS 23.038 §6.2.1, §6.2.1.1 and Annex A) and septet packing
//! (TS 23.040 §9.2.3.24, "fill bits").
//!
//! The tables are written out as 16-character rows, so a row's position in the source is its
//! high nibble: the reader can check them against the spec's tables column by column. They are
//! turned into `[char; 128]` arrays at compile time, and the hot encode path uses a 256-entry
//! byte table for U+0000..=U+00FF, so no character costs more than an array index and, for the
//! eleven Greek letters and the euro sign, one `match`.

use super::simd;

/// Septets in the longest user data the decoder accepts (256 octets, with slack for junk).
pub(crate) const MAX_PACKED_SEPTETS: usize = 256 * 8 / 7 + 1;

/// The escape septet: the next septet is read from the single-shift (extension) table.
pub const ESCAPE: u8 = 0x1B;

/// Marker in the encode table for "not in this alphabet".
const NONE: u8 = 0xFF;
/// Marker bit in the encode table for "reached through the escape".
const EXT: u8 = 0x80;

/// Stands in the 128-character rows at 0x1B, which is the escape, not a character.
const ESC_SLOT: char = '\u{1B}';
/// Stands in single-shift tables for "no character at this code".
const UNMAPPED: char = '\0';

/// TS 23.038 §6.2.1, the default alphabet.
pub(crate) static DEFAULT: [char; 128] = chars128(concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
));

/// TS 23.038 Annex A.3.1, Turkish locking shift table.
static TURKISH_LOCKING: [char; 128] = chars128(concat!(
    "@£$¥€éùıòÇ\nĞğ\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ\u{1B}ŞşßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "İABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "çabcdefghijklmno",
    "pqrstuvwxyzäöñüà",
));

/// TS 23.038 Annex A.3.3, Portuguese locking shift table.
static PORTUGUESE_LOCKING: [char; 128] = chars128(concat!(
    "@£$¥êéúíóç\nÔô\rÁá",
    "Δ_ªÇÀ∞^\\€Ó|\u{1B}ÂâÊÉ",
    " !\"#º%&'()*+,-./",
    "0123456789:;<=>?",
    "ÍABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÃÕÚÜ§",
    "~abcdefghijklmno",
    "pqrstuvwxyzãõ`üà",
));

/// TS 23.038 §6.2.1.1, the default extension table (reached with the escape).
/// 0x0D (CR2) and 0x1B (SS2) are control codes with no character.
static DEFAULT_SHIFT: [char; 128] = shift_table(&[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
]);

/// TS 23.038 Annex A.2.1, Turkish single shift table.
static TURKISH_SHIFT: [char; 128] = shift_table(&[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
]);

/// TS 23.038 Annex A.2.2, Spanish single shift table.
static SPANISH_SHIFT: [char; 128] = shift_table(&[
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
]);

/// TS 23.038 Annex A.2.3, Portuguese single shift table.
static PORTUGUESE_SHIFT: [char; 128] = shift_table(&[
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, 'Φ'),
    (0x13, 'Γ'),
    (0x14, '^'),
    (0x15, 'Ω'),
    (0x16, 'Π'),
    (0x17, 'Ψ'),
    (0x18, 'Σ'),
    (0x19, 'Θ'),
    (0x1F, 'Ê'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
]);

/// Encode table for U+0000..=U+00FF through the default alphabet and its extension table:
/// a code (< 0x80), `EXT | code` for an escape pair, or `NONE`.
static DEFAULT_ENCODE_LATIN1: [u8; 256] = latin1_encode_table();

/// National language identifiers of TS 23.038 §6.2.1.2.4 that smsq implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalLanguage {
    Turkish = 1,
    Spanish = 2,
    Portuguese = 3,
}

impl NationalLanguage {
    /// The language for a national language identifier, if smsq has its tables.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Turkish),
            2 => Some(Self::Spanish),
            3 => Some(Self::Portuguese),
            _ => None,
        }
    }

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Turkish => "turkish",
            Self::Spanish => "spanish",
            Self::Portuguese => "portuguese",
        }
    }

    /// Parses the names the CLI and configuration accept.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "turkish" | "tr" => Some(Self::Turkish),
            "spanish" | "es" => Some(Self::Spanish),
            "portuguese" | "pt" => Some(Self::Portuguese),
            _ => None,
        }
    }

    /// Whether TS 23.038 Annex A defines a locking shift table for the language.
    /// Spanish has only a single shift table; a locking shift to it means the default alphabet.
    pub fn has_locking_table(self) -> bool {
        !matches!(self, Self::Spanish)
    }

    fn locking(self) -> &'static [char; 128] {
        match self {
            Self::Turkish => &TURKISH_LOCKING,
            Self::Spanish => &DEFAULT,
            Self::Portuguese => &PORTUGUESE_LOCKING,
        }
    }

    fn single(self) -> &'static [char; 128] {
        match self {
            Self::Turkish => &TURKISH_SHIFT,
            Self::Spanish => &SPANISH_SHIFT,
            Self::Portuguese => &PORTUGUESE_SHIFT,
        }
    }
}

/// Which tables a GSM-7 text is read or written with: the locking shift replaces the
/// default alphabet, the single shift replaces the extension table (TS 23.038 §6.2.1.2.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Gsm7Tables {
    pub locking: Option<NationalLanguage>,
    pub single: Option<NationalLanguage>,
}

impl Gsm7Tables {
    pub const DEFAULT: Self = Self {
        locking: None,
        single: None,
    };

    pub fn is_default(&self) -> bool {
        self.locking.is_none() && self.single.is_none()
    }

    fn locking_table(&self) -> &'static [char; 128] {
        self.locking.map_or(&DEFAULT, NationalLanguage::locking)
    }

    fn single_table(&self) -> &'static [char; 128] {
        self.single.map_or(&DEFAULT_SHIFT, NationalLanguage::single)
    }

    /// The septets for one character: `Some((code, false))` for a one-septet character,
    /// `Some((code, true))` for an escape pair (`ESCAPE`, code), `None` when it does not fit.
    #[inline]
    pub fn encode_char(&self, c: char) -> Option<(u8, bool)> {
        if self.is_default() {
            return match default_lookup(c) {
                NONE => None,
                v if v & EXT != 0 => Some((v & !EXT, true)),
                v => Some((v, false)),
            };
        }
        // National tables are opt-in and rare: a scan of 128 entries is plenty fast.
        let position = |table: &[char; 128]| {
            table
                .iter()
                .enumerate()
                .find(|&(code, &t)| t == c && code != ESCAPE as usize && t != UNMAPPED)
                .map(|(code, _)| code as u8)
        };
        position(self.locking_table())
            .map(|code| (code, false))
            .or_else(|| position(self.single_table()).map(|code| (code, true)))
    }

    /// Appends the text of `count` septets packed from `bit_offset` bits into `data` to `out`
    /// ([`Gsm7Tables::decode_into`] of [`unpack_septets`]), and returns how many septets were
    /// there: fewer than `count` when the data runs out.
    pub fn decode_packed(
        &self,
        data: &[u8],
        bit_offset: usize,
        count: usize,
        out: &mut String,
    ) -> usize {
        if self.is_default() {
            return decode_packed_default(data, bit_offset, count, out);
        }
        let mut septets = [0u8; MAX_PACKED_SEPTETS];
        let got = unpack_septets(data, bit_offset, count, &mut septets);
        self.decode_into(&septets[..got], out);
        got
    }

    /// Appends the text of `septets` to `out`.
    ///
    /// An escape followed by a code the single-shift table does not define is read as that
    /// code in the locking (or default) table, as TS 23.038 §6.2.1.1 asks of a receiver; an
    /// escape at the very end, or escape-escape, shows as a space.
    pub fn decode_into(&self, septets: &[u8], out: &mut String) {
        if self.is_default() {
            return decode_default(septets, out);
        }
        let locking = self.locking_table();
        let single = self.single_table();
        out.reserve(septets.len());
        let mut iter = septets.iter();
        while let Some(&s) = iter.next() {
            let s = s & 0x7F;
            if s != ESCAPE {
                out.push(locking[s as usize]);
                continue;
            }
            match iter.next() {
                None => out.push(' '),
                Some(&next) => {
                    let next = next & 0x7F;
                    match single[next as usize] {
                        UNMAPPED if next == ESCAPE => out.push(' '),
                        UNMAPPED => out.push(locking[next as usize]),
                        c => out.push(c),
                    }
                }
            }
        }
    }
}

/// [`Gsm7Tables::decode_packed`] for the default tables: unpacking and finding the characters
/// that are their own ASCII codes happen in one pass over a block of 32 septets, and a block
/// of nothing else is appended whole.
fn decode_packed_default(data: &[u8], bit_offset: usize, count: usize, out: &mut String) -> usize {
    out.reserve(count.min(data.len() * 8 / 7));
    // An escape that ended the previous block: its character comes from this one.
    let mut escaped = false;
    let got = unpack_blocks(data, bit_offset, count, |block, n, identity| {
        let counted = u32::MAX >> (BLOCK - n);
        let identity = identity & counted;
        // A block of nothing else (the last one perhaps shorter): a fixed-size copy, then a
        // cut to the septets that count.
        if identity == counted && !escaped {
            let end = out.len() + n;
            debug_assert!(block.iter().all(|&septet| septet < 0x80));
            // SAFETY: unpacked septets are below 0x80 (every kernel masks each lane with
            // 0x7F), so the block is ASCII; the cut keeps only the `n` identity characters.
            let bytes = unsafe { out.as_mut_vec() };
            bytes.extend_from_slice(block);
            bytes.truncate(end);
            return;
        }
        let mut i = 0;
        while i < n {
            if escaped {
                escaped = false;
                out.push(extension_or_default(block[i]));
                i += 1;
                continue;
            }
            let run = (identity >> i).trailing_ones() as usize;
            if run > 0 {
                push_identity_run(out, &block[i..i + run]);
                i += run;
                continue;
            }
            match block[i] {
                ESCAPE => escaped = true,
                s => out.push(DEFAULT[usize::from(s & 0x7F)]),
            }
            i += 1;
        }
    });
    if escaped {
        out.push(' ');
    }
    got
}

/// The character of the septet after an escape (TS 23.038 §6.2.1.1): from the extension table,
/// else the default table's; escape-escape shows as a space.
#[inline]
fn extension_or_default(next: u8) -> char {
    let next = next & 0x7F;
    match DEFAULT_SHIFT[usize::from(next)] {
        UNMAPPED if next == ESCAPE => ' ',
        UNMAPPED => DEFAULT[usize::from(next)],
        c => c,
    }
}

/// [`Gsm7Tables::decode_into`] for the default tables, the case of nearly every message.
fn decode_default(septets: &[u8], out: &mut String) {
    out.reserve(septets.len());
    let mut i = 0;
    while i < septets.len() {
        // Runs of septets whose codes are their own ASCII values go in as they are.
        let run = identity_run(&septets[i..]);
        if run > 0 {
            push_identity_run(out, &septets[i..i + run]);
            i += run;
            continue;
        }
        let s = septets[i] & 0x7F;
        i += 1;
        let c = if s != ESCAPE {
            DEFAULT[s as usize]
        } else {
            match septets.get(i) {
                None => ' ',
                Some(&next) => {
                    i += 1;
                    extension_or_default(next)
                }
            }
        };
        out.push(c);
    }
}

#[inline]
fn default_lookup(c: char) -> u8 {
    let u = c as u32;
    if u < 256 {
        return DEFAULT_ENCODE_LATIN1[u as usize];
    }
    match c {
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        '€' => EXT | 0x65,
        _ => NONE,
    }
}

/// Encodes `text` through the default alphabet into `out` (cleared first), the hot path of
/// every GSM 7-bit message. Returns `false`, with `out` in an unspecified state, as soon as a
/// character does not fit; the caller then takes the slow path that reports positions.
pub fn encode_default_fast(text: &str, out: &mut Vec<u8>) -> bool {
    out.clear();
    // At most two septets per character, and every character takes at least one byte.
    out.reserve(text.len() * 2);
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        // Letters, digits, space, most punctuation and line breaks have the same value in
        // ASCII and in the default alphabet: whole runs of them are copied as they are.
        let run = identity_run(&bytes[i..]);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        // A run ends at an ASCII byte or at the start of a character, so `i` is a boundary.
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            return true;
        };
        match default_lookup(c) {
            NONE => return false,
            v if v & EXT != 0 => out.extend_from_slice(&[ESCAPE, v & !EXT]),
            v => out.push(v),
        }
        i += c.len_utf8();
    }
}

/// Octets (or septets) whose ASCII value is also their code in the default alphabet: LF, CR,
/// ' '..'#', '%'..'?', 'A'..'Z', 'a'..'z' (TS 23.038 §6.2.1; '$', '@', '_' and the brackets
/// differ). Derived from the table itself, so it cannot drift from it.
static IDENTITY: [bool; 256] = {
    let mut t = [false; 256];
    let mut code = 0;
    while code < 128 {
        t[code] = code != ESCAPE as usize && DEFAULT[code] as u32 == code as u32;
        code += 1;
    }
    t
};

/// Appends a run that [`identity_run`] measured. Those octets are their own ASCII characters
/// by definition, so checking them again, as `str::from_utf8` or `is_ascii` would, costs as
/// much as finding them did.
#[inline]
fn push_identity_run(out: &mut String, run: &[u8]) {
    debug_assert!(run.iter().all(|&b| is_identity(b)));
    // SAFETY: identity octets are all below 0x80 (IDENTITY is built true only for codes under
    // 128, and the vector kernel is tested equal to it on every octet value in every lane),
    // and ASCII octets are valid UTF-8 one by one.
    unsafe { out.as_mut_vec() }.extend_from_slice(run);
}

#[inline]
pub(super) fn is_identity(b: u8) -> bool {
    IDENTITY[usize::from(b)]
}

/// How many leading octets of `bytes` are [`IDENTITY`] characters: sixteen at a time through
/// the vector kernel, then one at a time.
#[inline]
fn identity_run(bytes: &[u8]) -> usize {
    let mut blocks = bytes.chunks_exact(16);
    let mut n = 0;
    for block in &mut blocks {
        let mask = simd::gsm7_identity_mask(block.try_into().unwrap_or(&[0; 16]));
        if mask != 0xFFFF {
            return n + mask.trailing_ones() as usize;
        }
        n += 16;
    }
    n + blocks
        .remainder()
        .iter()
        .take_while(|&&b| is_identity(b))
        .count()
}

/// How many septets `c` takes in the default alphabet (1 or 2), or `None`.
#[inline]
pub fn default_septets(c: char) -> Option<u8> {
    match default_lookup(c) {
        NONE => None,
        v if v & EXT != 0 => Some(2),
        _ => Some(1),
    }
}

/// Packs `septets` into `out` starting `fill_bits` (0..=6) bits into `out[0]`, least
/// significant bit first (TS 23.038 §6.1.2.1.1). Returns the number of octets written.
///
/// Sixteen septets at a time become two 56-bit values, so the inner loop has no per-bit work.
/// The caller sizes `out` to at least `(fill_bits + 7 * septets.len()).div_ceil(8)` octets;
/// where `out` has room, one octet past the returned length may be overwritten.
pub fn pack_septets(septets: &[u8], fill_bits: u8, out: &mut [u8]) -> usize {
    // Bits not yet written, always `nbits` of them; after each whole 56-bit word the count is
    // back to `fill_bits`.
    let mut acc: u64 = 0;
    let mut nbits = u32::from(fill_bits);
    let mut written = 0;
    let mut blocks = septets.chunks_exact(16);
    for block in &mut blocks {
        for word in simd::pack_16(block.try_into().unwrap_or(&[0; 16])) {
            let bits = acc | word << nbits;
            let octets = bits.to_le_bytes();
            // One 8-octet store where there is room (its last octet is rewritten later).
            match out.get_mut(written..written + 8) {
                Some(dst) => dst.copy_from_slice(&octets),
                None => out[written..written + 7].copy_from_slice(&octets[..7]),
            }
            written += 7;
            acc = bits >> 56;
        }
    }
    for &s in blocks.remainder() {
        acc |= u64::from(s & 0x7F) << nbits;
        nbits += 7;
        while nbits >= 8 {
            out[written] = acc as u8;
            written += 1;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out[written] = acc as u8;
        written += 1;
    }
    written
}

/// Eight septets in the eight byte lanes of `x` to one 56-bit value, septet 0 lowest:
/// close the one-bit gaps between bytes, then the two-bit gaps between 14-bit pairs, then the
/// four-bit gap between 28-bit halves.
#[cfg(any(
    test,
    smsq_scalar,
    not(all(target_arch = "x86_64", target_feature = "sse2"))
))]
#[inline]
pub(super) fn compress_septets(x: u64) -> u64 {
    let x = x & 0x7F7F_7F7F_7F7F_7F7F;
    let x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1);
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2);
    (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
}

/// The inverse of [`compress_septets`]: 56 bits to eight septets in byte lanes.
#[cfg(any(
    test,
    smsq_scalar,
    not(all(target_arch = "x86_64", target_feature = "sse2"))
))]
#[inline]
pub(super) fn spread_septets(x: u64) -> u64 {
    let x = (x & 0x0000_0000_0FFF_FFFF) | ((x << 4) & 0x0FFF_FFFF_0000_0000);
    let x = (x & 0x0000_3FFF_0000_3FFF) | ((x << 2) & 0x3FFF_0000_3FFF_0000);
    (x & 0x007F_007F_007F_007F) | ((x << 1) & 0x7F00_7F00_7F00_7F00)
}

/// Unpacks up to `count` septets that start `bit_offset` bits into `data` into `out`, and
/// returns how many it wrote: fewer when `data` or `out` runs out, so a user-data length
/// longer than the data is survivable.
pub fn unpack_septets(data: &[u8], bit_offset: usize, count: usize, out: &mut [u8]) -> usize {
    let mut i = 0;
    unpack_blocks(data, bit_offset, count.min(out.len()), |septets, n, _| {
        // A fixed-size copy is a single store; only the last block needs a variable one.
        if n == BLOCK {
            out[i..i + BLOCK].copy_from_slice(septets);
        } else {
            out[i..i + n].copy_from_slice(&septets[..n]);
        }
        i += n;
    })
}

/// Septets per block of [`unpack_blocks`]: 224 bits, exactly 28 octets, so every block starts
/// at the same bit within its first octet and a 29-octet window (the shift is at most 7)
/// covers it.
const BLOCK: usize = 32;
const BLOCK_OCTETS: usize = 28;
const WINDOW: usize = 29;

/// Hands `each` the septets that start `bit_offset` bits into `data`, [`BLOCK`] at a time,
/// with the number that count (all but the last block: all) and the mask of those that are
/// [`IDENTITY`] characters; returns how many there were: `count`, or fewer when `data` runs
/// out.
#[inline]
fn unpack_blocks(
    data: &[u8],
    bit_offset: usize,
    count: usize,
    mut each: impl FnMut(&[u8; BLOCK], usize, u32),
) -> usize {
    let available = (data.len() * 8).saturating_sub(bit_offset) / 7;
    let count = count.min(available);
    let shift = (bit_offset % 8) as u32;
    let mut at = bit_offset / 8;
    let mut done = 0;
    let mut septets = [0u8; BLOCK];
    while done < count {
        // The last window may run past the data: it is padded with zeros, which only ever
        // fill septets beyond `count`.
        let identity = match data.get(at..at + WINDOW) {
            Some(window) => simd::unpack_32(
                window.try_into().unwrap_or(&[0; WINDOW]),
                shift,
                &mut septets,
            ),
            None => {
                let mut padded = [0u8; WINDOW];
                let rest = data.get(at..).unwrap_or_default();
                let n = rest.len().min(WINDOW);
                padded[..n].copy_from_slice(&rest[..n]);
                simd::unpack_32(&padded, shift, &mut septets)
            }
        };
        let n = (count - done).min(BLOCK);
        each(&septets, n, identity);
        done += n;
        at += BLOCK_OCTETS;
    }
    count
}

/// Septets that `octets` of user-data header occupy, fill bits included (TS 23.040 §9.2.3.24).
pub fn header_septets(header_octets: usize) -> usize {
    (header_octets * 8).div_ceil(7)
}

/// Fill bits between a user-data header of `header_octets` and the first septet.
pub fn fill_bits(header_octets: usize) -> u8 {
    ((7 - (header_octets * 8) % 7) % 7) as u8
}

const fn chars128(s: &str) -> [char; 128] {
    let bytes = s.as_bytes();
    let mut out = [UNMAPPED; 128];
    let mut i = 0;
    let mut n = 0;
    while i < bytes.len() {
        let b0 = bytes[i] as u32;
        let (cp, len) = if b0 < 0x80 {
            (b0, 1)
        } else if b0 < 0xE0 {
            (((b0 & 0x1F) << 6) | (bytes[i + 1] as u32 & 0x3F), 2)
        } else if b0 < 0xF0 {
            (
                ((b0 & 0x0F) << 12)
                    | ((bytes[i + 1] as u32 & 0x3F) << 6)
                    | (bytes[i + 2] as u32 & 0x3F),
                3,
            )
        } else {
            panic!("GSM tables hold only BMP characters");
        };
        out[n] = match char::from_u32(cp) {
            Some(c) => c,
            None => panic!("invalid table character"),
        };
        n += 1;
        i += len;
    }
    assert!(n == 128, "a GSM table has exactly 128 entries");
    assert!(out[ESCAPE as usize] == ESC_SLOT, "0x1B is the escape");
    out
}

const fn shift_table(entries: &[(u8, char)]) -> [char; 128] {
    let mut out = [UNMAPPED; 128];
    let mut i = 0;
    while i < entries.len() {
        out[entries[i].0 as usize] = entries[i].1;
        i += 1;
    }
    out
}

const fn latin1_encode_table() -> [u8; 256] {
    let mut out = [NONE; 256];
    let mut code = 0;
    while code < 128 {
        let c = DEFAULT[code] as u32;
        if code != ESCAPE as usize && c < 256 {
            out[c as usize] = code as u8;
        }
        let e = DEFAULT_SHIFT[code] as u32;
        if e != 0 && e < 256 {
            out[e as usize] = EXT | code as u8;
        }
        code += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_default(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for c in text.chars() {
            let (code, escaped) = Gsm7Tables::DEFAULT.encode_char(c).expect("fits GSM-7");
            if escaped {
                out.push(ESCAPE);
            }
            out.push(code);
        }
        out
    }

    fn decode(tables: Gsm7Tables, septets: &[u8]) -> String {
        let mut s = String::new();
        tables.decode_into(septets, &mut s);
        s
    }

    #[test]
    fn spec_code_points_of_the_default_alphabet() {
        // Spot checks against TS 23.038 §6.2.1 that a mis-typed row would break.
        let cases = [
            ('@', 0x00),
            ('£', 0x01),
            ('$', 0x02),
            ('Ç', 0x09),
            ('\n', 0x0A),
            ('\r', 0x0D),
            ('Δ', 0x10),
            ('_', 0x11),
            ('Ξ', 0x1A),
            ('É', 0x1F),
            (' ', 0x20),
            ('¤', 0x24),
            ('¡', 0x40),
            ('§', 0x5F),
            ('¿', 0x60),
            ('à', 0x7F),
        ];
        for (c, code) in cases {
            assert_eq!(
                Gsm7Tables::DEFAULT.encode_char(c),
                Some((code, false)),
                "{c:?}"
            );
            assert_eq!(DEFAULT[code as usize], c);
        }
    }

    #[test]
    fn extension_characters_are_escape_pairs() {
        assert_eq!(
            encode_default("^{}\\[~]|€\u{0C}"),
            [
                0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D, 0x1B, 0x3E,
                0x1B, 0x40, 0x1B, 0x65, 0x1B, 0x0A
            ]
        );
    }

    #[test]
    fn every_default_character_round_trips() {
        for code in 0..128u8 {
            if code == ESCAPE {
                continue;
            }
            let c = DEFAULT[code as usize];
            assert_eq!(Gsm7Tables::DEFAULT.encode_char(c), Some((code, false)));
            assert_eq!(decode(Gsm7Tables::DEFAULT, &[code]), c.to_string());
        }
    }

    #[test]
    fn characters_outside_the_alphabet_do_not_fit() {
        for c in ['ą', 'ç', 'È', '😀', '\u{1B}', '`'] {
            assert_eq!(Gsm7Tables::DEFAULT.encode_char(c), None, "{c:?}");
        }
    }

    #[test]
    fn unknown_escape_falls_back_to_the_default_character() {
        // ESC 0x41 is not in the extension table: the receiver shows 'A'.
        assert_eq!(decode(Gsm7Tables::DEFAULT, &[0x1B, 0x41]), "A");
        assert_eq!(decode(Gsm7Tables::DEFAULT, &[0x41, 0x1B]), "A ");
        assert_eq!(decode(Gsm7Tables::DEFAULT, &[0x1B, 0x1B]), " ");
    }

    #[test]
    fn national_tables_decode() {
        let turkish = Gsm7Tables {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        // Locking: 0x07 ı, 0x0B Ğ, 0x1C Ş, 0x40 İ, 0x60 ç; single: ESC 0x73 ş, ESC 0x65 €.
        assert_eq!(
            decode(
                turkish,
                &[0x07, 0x0B, 0x1C, 0x40, 0x60, 0x1B, 0x73, 0x1B, 0x65]
            ),
            "ıĞŞİçş€"
        );
        let spanish = Gsm7Tables {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        };
        assert_eq!(
            decode(spanish, &[0x1B, 0x41, 0x1B, 0x75, 0x1B, 0x09]),
            "Áúç"
        );
        let portuguese = Gsm7Tables {
            locking: Some(NationalLanguage::Portuguese),
            single: Some(NationalLanguage::Portuguese),
        };
        assert_eq!(
            decode(
                portuguese,
                &[0x04, 0x15, 0x60, 0x7D, 0x1B, 0x7F, 0x1B, 0x12]
            ),
            "ê∞~`âΦ"
        );
    }

    #[test]
    fn national_tables_encode_when_asked() {
        let portuguese = Gsm7Tables {
            locking: Some(NationalLanguage::Portuguese),
            single: Some(NationalLanguage::Portuguese),
        };
        assert_eq!(portuguese.encode_char('ã'), Some((0x7B, false)));
        assert_eq!(portuguese.encode_char('Ê'), Some((0x1E, false)));
        assert_eq!(portuguese.encode_char('â'), Some((0x1D, false)));
        assert_eq!(portuguese.encode_char('{'), Some((0x28, true)));
        assert_eq!(portuguese.encode_char('è'), None);
        let spanish_single = Gsm7Tables {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        };
        assert_eq!(spanish_single.encode_char('á'), Some((0x61, true)));
        assert_eq!(spanish_single.encode_char('é'), Some((0x05, false)));
    }

    #[test]
    fn packing_matches_the_spec_example() {
        // "hellohello" packs to E8329BFD4697D9EC37 (TS 23.038 §6.1.2.1.1 worked example style).
        let septets = encode_default("hellohello");
        let mut out = [0u8; 16];
        let n = pack_septets(&septets, 0, &mut out);
        assert_eq!(
            &out[..n],
            &[0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        let mut back = [0u8; 16];
        let got = unpack_septets(&out[..n], 0, septets.len(), &mut back);
        assert_eq!(&back[..got], &septets[..]);
    }

    #[test]
    fn packing_with_fill_bits_round_trips() {
        let septets: Vec<u8> = (0..40u32).map(|i| ((i * 37) & 0x7F) as u8).collect();
        for fill in 0..7u8 {
            for len in 0..septets.len() {
                // Bit by bit, as TS 23.038 §6.1.2.1.1 describes it.
                let size = (usize::from(fill) + 7 * len).div_ceil(8);
                let mut expected = vec![0u8; size];
                for (k, &septet) in septets[..len].iter().enumerate() {
                    for j in 0..7 {
                        let bit = usize::from(fill) + 7 * k + j;
                        expected[bit / 8] |= ((septet >> j) & 1) << (bit % 8);
                    }
                }
                // An output of exactly the needed size, and one with room to spare.
                let mut exact = vec![0u8; size];
                assert_eq!(pack_septets(&septets[..len], fill, &mut exact), size);
                assert_eq!(exact, expected, "fill {fill} len {len}");
                let mut out = [0u8; 64];
                let n = pack_septets(&septets[..len], fill, &mut out);
                assert_eq!(&out[..n], &expected[..]);
                assert_eq!(out[0] & ((1u8 << fill) - 1), 0, "fill bits are zero");
                let mut back = [0u8; 64];
                let got = unpack_septets(&out[..n], usize::from(fill), len, &mut back);
                assert_eq!(&back[..got], &septets[..len], "fill {fill} len {len}");
            }
        }
    }

    #[test]
    fn packed_decoding_matches_unpacking_then_decoding() {
        // Identity runs broken by every other kind of septet, escapes (also doubled, and at
        // the end) landing on each side of the 16-septet blocks, at every bit offset.
        let pieces: [&[u8]; 9] = [
            b"Hello, world ",
            &[ESCAPE, 0x28],
            &[0x00, 0x02],
            &[ESCAPE],
            &[ESCAPE, ESCAPE],
            &[ESCAPE, 0x41],
            b"\n\r0123456789",
            &[0x11, 0x7F, 0x24],
            b"abcdefghijklmnopqrstuvwxyz",
        ];
        let mut septets = Vec::new();
        for i in 0..60 {
            septets.extend_from_slice(pieces[(i * 7 + i / 9) % pieces.len()]);
        }
        for bit_offset in 0..8 {
            for len in (0..80).chain([septets.len()]) {
                let mut packed = vec![0u8; 400];
                let n = pack_septets(&septets[..len], bit_offset as u8, &mut packed);
                // Exactly the packed octets, and the same with a declared count past them.
                for count in [len, len + 9] {
                    let mut expected = String::new();
                    let mut codes = vec![0u8; count];
                    let want = unpack_septets(&packed[..n], bit_offset, count, &mut codes);
                    Gsm7Tables::DEFAULT.decode_into(&codes[..want], &mut expected);
                    let mut got = String::new();
                    let decoded = Gsm7Tables::DEFAULT.decode_packed(
                        &packed[..n],
                        bit_offset,
                        count,
                        &mut got,
                    );
                    assert_eq!(
                        (decoded, &got),
                        (want, &expected),
                        "offset {bit_offset} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn identity_characters_are_their_own_codes() {
        for b in 0..=255u8 {
            let same = b < 0x80 && b != ESCAPE && DEFAULT_ENCODE_LATIN1[b as usize] == b;
            assert_eq!(is_identity(b), same, "byte 0x{b:02X}");
        }
        assert!("\n\r !\"#%?AZaz09".bytes().all(is_identity));
        assert!(!"$@_[]{}`~\x1B\x7F".bytes().any(is_identity));
    }

    #[test]
    fn identity_runs_stop_at_the_first_other_character() {
        let line = "Your order #12 is ready, pick it up at 5pm. Thanks!\nCafe Net\r\n";
        for len in 0..=line.len() {
            for odd in ["@", "$", "é", "€", "_"] {
                let text = format!("{}{odd}{}", &line[..len], &line[len..]);
                assert_eq!(identity_run(text.as_bytes()), len, "{text:?}");
            }
            assert_eq!(identity_run(&line.as_bytes()[..len]), len);
        }
    }

    #[test]
    fn unpacking_at_every_offset_and_length_matches_bit_by_bit() {
        let data: Vec<u8> = (0..60u32).map(|i| (i * 151 + 7) as u8).collect();
        for bit_offset in 0..16 {
            for count in 0..60 {
                let mut fast = [0u8; 80];
                let got = unpack_septets(&data, bit_offset, count, &mut fast);
                let expected: Vec<u8> = (0..(data.len() * 8 - bit_offset) / 7)
                    .take(count)
                    .map(|k| {
                        (0..7).fold(0u8, |septet, j| {
                            let bit = bit_offset + 7 * k + j;
                            septet | ((data[bit / 8] >> (bit % 8)) & 1) << j
                        })
                    })
                    .collect();
                assert_eq!(
                    &fast[..got],
                    &expected[..],
                    "offset {bit_offset} count {count}"
                );
            }
        }
    }

    #[test]
    fn swar_septet_shuffles_invert_each_other() {
        for seed in 0..1000u64 {
            let lanes = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0x7F7F_7F7F_7F7F_7F7F;
            let packed = compress_septets(lanes);
            assert!(packed < 1 << 56);
            assert_eq!(spread_septets(packed), lanes);
            let mut bytes = [0u8; 8];
            pack_septets(&lanes.to_le_bytes(), 0, &mut bytes);
            assert_eq!(u64::from_le_bytes(bytes), packed);
        }
    }

    #[test]
    fn header_sizes() {
        // 6-octet concatenation header: 7 septets, 1 fill bit; 7 octets: 8 septets, 0 fill.
        assert_eq!((header_septets(6), fill_bits(6)), (7, 1));
        assert_eq!((header_septets(7), fill_bits(7)), (8, 0));
        assert_eq!((header_septets(4), fill_bits(4)), (5, 3));
    }
}
