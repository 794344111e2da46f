//! Putting concatenated messages back together.
//!
//! Pure: the caller says when each part arrived (any monotonic or wall-clock number, in
//! seconds) and asks about age with its own "now". The daemon persists parts in its store and
//! rebuilds a [`Reassembler`] from them after a restart; it also decides when a group has waited
//! long enough and takes it out with [`Reassembler::take_incomplete`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::decode::{Body, SplitSurrogates};

/// The identity of a concatenated message: TS 23.040 §9.2.3.24.1 makes the reference unique
/// per originator, and a reference may come back with a different part count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConcatKey {
    /// The sender as displayed (`+` for international numbers).
    pub sender: String,
    pub reference: u16,
    pub reference_bits: u8,
    pub total: u8,
}

/// A message whose parts are all here (or, from `take_incomplete`, all that came).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    pub key: ConcatKey,
    /// The parts' text joined in order; `None` when no part held text.
    pub text: Option<String>,
    /// The parts' 8-bit data joined in order, when they held data.
    pub data: Option<Vec<u8>>,
    /// Arrival of the first part to arrive.
    pub first_received: u64,
    /// Part numbers (1-based) that never came; empty for a complete message.
    pub missing: Vec<u8>,
}

/// What adding a part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// The last missing part arrived.
    Complete(Reassembled),
    /// Still waiting for these parts (1-based).
    Pending { missing: Vec<u8> },
    /// This part number was already here; the first copy is kept.
    Duplicate,
}

#[derive(Debug, Clone)]
struct Group {
    parts: Vec<Option<(Body, SplitSurrogates)>>,
    first_received: u64,
    received: usize,
}

impl Group {
    fn missing(&self) -> Vec<u8> {
        self.parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_none())
            .map(|(i, _)| (i + 1) as u8)
            .collect()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Reassembler {
    groups: HashMap<ConcatKey, Group>,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds part `part` (1-based) of the message `key`, with the surrogate halves its
    /// decoding found at its edges (`UserData::split`). A part number outside 1..=total is
    /// ignored as a duplicate would be; the decoder never produces one.
    pub fn offer(
        &mut self,
        key: ConcatKey,
        part: u8,
        body: Body,
        split: SplitSurrogates,
        received_at: u64,
    ) -> Offer {
        let total = usize::from(key.total);
        let index = usize::from(part);
        if index == 0 || index > total {
            return Offer::Duplicate;
        }
        let group = match self.groups.entry(key.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(Group {
                parts: vec![None; total],
                first_received: received_at,
                received: 0,
            }),
        };
        let slot = &mut group.parts[index - 1];
        if slot.is_some() {
            return Offer::Duplicate;
        }
        *slot = Some((body, split));
        group.received += 1;
        group.first_received = group.first_received.min(received_at);
        if group.received < total {
            return Offer::Pending {
                missing: group.missing(),
            };
        }
        match self.groups.remove(&key) {
            Some(group) => Offer::Complete(join(key, group)),
            // Unreachable: the group was updated just above.
            None => Offer::Duplicate,
        }
    }

    /// Missing part numbers of a message still waiting, `None` if none is waiting.
    pub fn missing(&self, key: &ConcatKey) -> Option<Vec<u8>> {
        self.groups.get(key).map(Group::missing)
    }

    /// Seconds since the first part of `key` arrived.
    pub fn oldest_age(&self, key: &ConcatKey, now: u64) -> Option<u64> {
        self.groups
            .get(key)
            .map(|g| now.saturating_sub(g.first_received))
    }

    /// Messages still waiting, with their missing parts and age, oldest first.
    pub fn waiting(&self, now: u64) -> Vec<(ConcatKey, Vec<u8>, u64)> {
        let mut v: Vec<_> = self
            .groups
            .iter()
            .map(|(k, g)| (k.clone(), g.missing(), now.saturating_sub(g.first_received)))
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// Removes and returns every message whose first part is at least `max_age` old, joined
    /// from the parts that did come, with `missing` listing the rest.
    pub fn take_incomplete(&mut self, now: u64, max_age: u64) -> Vec<Reassembled> {
        let expired: Vec<ConcatKey> = self
            .groups
            .iter()
            .filter(|(_, g)| now.saturating_sub(g.first_received) >= max_age)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<Reassembled> = expired
            .into_iter()
            .filter_map(|k| self.groups.remove(&k).map(|g| join(k, g)))
            .collect();
        out.sort_by(|a, b| {
            a.first_received
                .cmp(&b.first_received)
                .then_with(|| a.key.cmp(&b.key))
        });
        out
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

fn join(key: ConcatKey, group: Group) -> Reassembled {
    let missing = group.missing();
    let mut texts = Vec::new();
    let mut data: Option<Vec<u8>> = None;
    for (body, split) in group.parts.into_iter().flatten() {
        match body {
            Body::Text(t) => texts.push((t, split)),
            Body::Data(d) | Body::Compressed(d) => {
                data.get_or_insert_with(Vec::new).extend_from_slice(&d)
            }
        }
    }
    let text = (!texts.is_empty())
        .then(|| join_text_parts(texts.iter().map(|(t, split)| (t.as_str(), *split))));
    Reassembled {
        key,
        text,
        data,
        first_received: group.first_received,
        missing,
    }
}

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

    fn key(total: u8) -> ConcatKey {
        ConcatKey {
            sender: "+639171234567".into(),
            reference: 7,
            reference_bits: 8,
            total,
        }
    }

    fn text(s: &str) -> Body {
        Body::Text(s.into())
    }

    #[test]
    fn out_of_order_with_a_duplicate() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.offer(key(3), 3, text("c"), SplitSurrogates::default(), 10),
            Offer::Pending {
                missing: vec![1, 2]
            }
        );
        assert_eq!(
            r.offer(key(3), 3, text("X"), SplitSurrogates::default(), 11),
            Offer::Duplicate
        );
        assert_eq!(
            r.offer(key(3), 1, text("a"), SplitSurrogates::default(), 12),
            Offer::Pending { missing: vec![2] }
        );
        assert_eq!(r.missing(&key(3)), Some(vec![2]));
        assert_eq!(r.oldest_age(&key(3), 40), Some(30));
        let Offer::Complete(m) = r.offer(key(3), 2, text("b"), SplitSurrogates::default(), 13)
        else {
            panic!("should complete")
        };
        assert_eq!(m.text.as_deref(), Some("abc"));
        assert_eq!(m.first_received, 10);
        assert!(m.missing.is_empty());
        assert!(r.is_empty());
    }

    #[test]
    fn same_reference_from_another_sender_is_another_message() {
        let mut r = Reassembler::new();
        let mut other = key(2);
        other.sender = "+48601234567".into();
        r.offer(key(2), 1, text("a"), SplitSurrogates::default(), 0);
        r.offer(other.clone(), 2, text("y"), SplitSurrogates::default(), 0);
        assert_eq!(r.len(), 2);
        assert!(
            matches!(r.offer(other, 1, text("x"), SplitSurrogates::default(), 1), Offer::Complete(m) if m.text.as_deref() == Some("xy"))
        );
    }

    #[test]
    fn incomplete_messages_time_out_with_what_came() {
        let mut r = Reassembler::new();
        r.offer(key(3), 1, text("a"), SplitSurrogates::default(), 100);
        r.offer(key(3), 3, text("c"), SplitSurrogates::default(), 200);
        assert!(r.take_incomplete(150, 86_400).is_empty());
        assert_eq!(r.waiting(1000), vec![(key(3), vec![2], 900)]);
        let gone = r.take_incomplete(100 + 86_400, 86_400);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].text.as_deref(), Some("ac"));
        assert_eq!(gone[0].missing, vec![2]);
        assert!(r.is_empty());
    }

    #[test]
    fn out_of_range_part_numbers_are_ignored() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.offer(key(2), 0, text("a"), SplitSurrogates::default(), 0),
            Offer::Duplicate
        );
        assert_eq!(
            r.offer(key(2), 3, text("a"), SplitSurrogates::default(), 0),
            Offer::Duplicate
        );
        assert!(r.is_empty());
    }
}
