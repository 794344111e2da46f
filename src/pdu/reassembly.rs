//! Joining the texts of a concatenated message's parts. Grouping the parts, waiting for the
//! missing ones and giving up on them is the store's (`store::Db::store_inbound`, which
//! keeps the parts in the database so that nothing waits in memory across a restart); this
//! is the pure step it ends with.

use super::decode::SplitSurrogates;

/// Joins the texts of consecutive parts in order, mending a character a sender split
/// between two of them (see [`SplitSurrogates`]): the U+FFFD ending one part and the U+FFFD
/// starting the next become that character again. A half without its other half (a part
/// missing between them) stays U+FFFD.
pub fn join_text_parts<'a>(parts: impl IntoIterator<Item = (&'a str, SplitSurrogates)>) -> String {
    const HALF: char = char::REPLACEMENT_CHARACTER;
    let mut out = String::new();
    let mut open_high: Option<u16> = None;
    for (text, split) in parts {
        let mut rest = text;
        if let (Some(high), Some(low)) = (open_high, split.leading_low)
            && out.ends_with(HALF)
            && let Some(after) = rest.strip_prefix(HALF)
        {
            let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
            out.pop();
            out.push(char::from_u32(code).unwrap_or(HALF));
            rest = after;
        }
        out.push_str(rest);
        open_high = split.trailing_high;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_character_is_mended_and_a_lone_half_stays_a_replacement() {
        // 😀 is D83D DE00: part 1 ends with the high half, part 2 starts with the low half.
        let high = SplitSurrogates {
            leading_low: None,
            trailing_high: Some(0xD83D),
        };
        let low = SplitSurrogates {
            leading_low: Some(0xDE00),
            trailing_high: None,
        };
        assert_eq!(
            join_text_parts([("Hi \u{FFFD}", high), ("\u{FFFD}!", low)]),
            "Hi 😀!"
        );
        // The part between them is missing: nothing to mend.
        assert_eq!(
            join_text_parts([("Hi \u{FFFD}", high), ("more", SplitSurrogates::default())]),
            "Hi \u{FFFD}more"
        );
    }
}
