//! Hex as modems print PDUs: upper case out, either case in.

use super::error::{DecodeError, DecodeErrorKind};
use super::simd;

const DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Each octet's two upper-case hex digits, so encoding is one load per octet.
static PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 0xF]];
        i += 1;
    }
    t
};

/// Appends the upper-case hex of `bytes` to `out`, sixteen octets at a time through the
/// vector kernel, straight into the string's buffer.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    // SAFETY: the bytes appended below are '0' fill, then the output of `hex_encode_16` and
    // `PAIRS`, which are ASCII hex digits for every input (tested exhaustively); ASCII is
    // valid UTF-8, so the string stays valid even if a panic stopped this midway.
    let buf = unsafe { out.as_mut_vec() };
    let start = buf.len();
    buf.resize(start + 2 * bytes.len(), b'0');
    let digits = &mut buf[start..];
    let mut blocks = bytes.chunks_exact(16);
    let mut digit_blocks = digits.chunks_exact_mut(32);
    for (block, dst) in (&mut blocks).zip(&mut digit_blocks) {
        dst.copy_from_slice(&simd::hex_encode_16(block.try_into().unwrap_or(&[0; 16])));
    }
    let tail = digit_blocks.into_remainder();
    for (&b, dst) in blocks.remainder().iter().zip(tail.chunks_exact_mut(2)) {
        dst.copy_from_slice(&PAIRS[b as usize]);
    }
}

pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

/// Decodes `input` (surrounding ASCII whitespace ignored) into `out`; returns the octets written.
/// An input longer than `out` is refused as [`DecodeErrorKind::TooLong`].
pub fn decode_to_slice(input: &str, out: &mut [u8]) -> Result<usize, DecodeError> {
    // Modems end lines with ASCII CR LF; other whitespace is not theirs and counts as a bad digit.
    let lead = input.len() - input.as_bytes().trim_ascii_start().len();
    let digits = input.as_bytes().trim_ascii();
    if digits.len() % 2 != 0 {
        // A bad digit is the more precise complaint than the odd length it may cause.
        return Err(
            first_bad_digit(input, lead, digits).unwrap_or(DecodeError::new(
                digits.len() / 2,
                DecodeErrorKind::OddHexLength {
                    digits: digits.len(),
                },
            )),
        );
    }
    let n = digits.len() / 2;
    if n > out.len() {
        return Err(DecodeError::new(0, DecodeErrorKind::TooLong { octets: n }));
    }
    let bad_digit = || {
        first_bad_digit(input, lead, digits).unwrap_or(DecodeError::new(0, DecodeErrorKind::Empty))
    };
    let mut blocks = digits.chunks_exact(64);
    let mut octet_blocks = out[..n].chunks_exact_mut(32);
    for (block, octets) in (&mut blocks).zip(&mut octet_blocks) {
        let (Ok(block), Ok(octets)) = (block.try_into(), octets.try_into()) else {
            break;
        };
        if !simd::hex_decode_64(block, octets) {
            return Err(bad_digit());
        }
    }
    // The last digits, padded with zeros to a whole block.
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let mut padded = [b'0'; 64];
        padded[..rest.len()].copy_from_slice(rest);
        let mut octets = [0u8; 32];
        if !simd::hex_decode_64(&padded, &mut octets) {
            return Err(bad_digit());
        }
        octet_blocks
            .into_remainder()
            .copy_from_slice(&octets[..rest.len() / 2]);
    }
    Ok(n)
}

pub fn decode(input: &str) -> Result<Vec<u8>, DecodeError> {
    let mut v = vec![0; input.as_bytes().trim_ascii().len() / 2];
    let n = decode_to_slice(input, &mut v)?;
    v.truncate(n);
    Ok(v)
}

fn first_bad_digit(input: &str, lead: usize, digits: &[u8]) -> Option<DecodeError> {
    let i = digits.iter().position(|b| !b.is_ascii_hexdigit())?;
    // The offending byte may start a multi-byte character: report the whole character.
    let byte_pos = lead + i;
    let character = input[byte_pos..].chars().next().unwrap_or('?');
    let position = input[..byte_pos].chars().count();
    Some(DecodeError::new(
        i / 2,
        DecodeErrorKind::InvalidHexDigit {
            position,
            character,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_paths_agree_with_the_tables() {
        // Every octet value, at every position of a word, both cases.
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let upper = encode(&bytes);
        let slow: String = bytes
            .iter()
            .flat_map(|&b| PAIRS[b as usize])
            .map(char::from)
            .collect();
        assert_eq!(upper, slow);
        assert_eq!(decode(&upper).unwrap(), bytes);
        assert_eq!(decode(&upper.to_lowercase()).unwrap(), bytes);
        // A bad digit anywhere in a word is found and placed.
        for bad in ['G', 'g', '/', ':', '@', '`', '\u{7F}', 'é'] {
            for pos in 0..16 {
                let mut s: Vec<char> = "0123456789abcdef".chars().collect();
                s[pos] = bad;
                let s: String = s.into_iter().collect();
                let e = decode(&s).unwrap_err();
                assert_eq!(
                    e.kind,
                    DecodeErrorKind::InvalidHexDigit {
                        position: pos,
                        character: bad
                    },
                    "{s:?}"
                );
            }
        }
        // Whitespace is trimmed at the ends only; inside, it is a bad digit.
        assert_eq!(decode(" 0011\r\n").unwrap(), [0x00, 0x11]);
        assert_eq!(
            decode("00 11").unwrap_err().kind,
            DecodeErrorKind::InvalidHexDigit {
                position: 2,
                character: ' '
            }
        );
    }

    #[test]
    fn round_trip_and_case() {
        assert_eq!(encode(&[0x00, 0x9F, 0xAB, 0xFF]), "009FABFF");
        assert_eq!(decode("009fAbFF").unwrap(), [0x00, 0x9F, 0xAB, 0xFF]);
        assert_eq!(decode("  0A\r\n").unwrap(), [0x0A]);
    }

    #[test]
    fn errors_name_the_place() {
        let e = decode("00G1").unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::InvalidHexDigit {
                position: 2,
                character: 'G'
            }
        );
        assert_eq!(e.offset, 1);
        let e = decode("001").unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::OddHexLength { digits: 3 });
        let e = decode("0ą").unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::InvalidHexDigit {
                position: 1,
                character: 'ą'
            }
        );
    }
}
