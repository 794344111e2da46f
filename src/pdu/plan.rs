//! Choosing an encoding and cutting a text into parts (TS 23.040 §9.2.3.24.1, TS 23.038 §6).
//!
//! A text becomes a sequence of *units*: septets for GSM 7-bit (an extension character is two:
//! the escape and its code), UTF-16 code units for UCS-2 (a character outside the BMP is a
//! surrogate pair), octets for 8-bit data. Parts are cut greedily at each part's capacity, one
//! unit earlier when the cut would separate an escape from its code or a high surrogate from
//! its low one, so every part decodes on its own.
//!
//! The concatenation reference is the caller's: the daemon draws it from its store, so a
//! resend after a crash reuses it and tests are deterministic.

use super::error::{CharAt, EncodeError};
use super::fold::fold_char;
use super::gsm7::{self, ESCAPE, Gsm7Tables};

pub use super::dcs::Alphabet;

/// What the caller wants the text sent as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EncodingChoice {
    /// GSM 7-bit when every character fits, else UCS-2.
    #[default]
    Auto,
    /// GSM 7-bit or an error naming each character that does not fit.
    Gsm7,
    Ucs2,
    /// GSM 7-bit after an explicit, reported transliteration (see [`super::fold`]).
    Gsm7Fold,
}

impl EncodingChoice {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Self::Auto),
            "gsm7" => Some(Self::Gsm7),
            "ucs2" => Some(Self::Ucs2),
            "gsm7-fold" => Some(Self::Gsm7Fold),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Gsm7 => "gsm7",
            Self::Ucs2 => "ucs2",
            Self::Gsm7Fold => "gsm7-fold",
        }
    }
}

/// The concatenation reference of a multipart message, and its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcatRef {
    /// IEI 0x00: 6 header octets, 153 septets / 67 UTF-16 units / 134 octets per part.
    Ref8(u8),
    /// IEI 0x08: 7 header octets, 152 / 66 / 133 per part.
    Ref16(u16),
}

impl Default for ConcatRef {
    fn default() -> Self {
        Self::Ref8(0)
    }
}

impl ConcatRef {
    fn element_octets(self) -> usize {
        match self {
            Self::Ref8(_) => 5,
            Self::Ref16(_) => 6,
        }
    }
}

/// Everything that decides how a text is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub encoding: EncodingChoice,
    /// National language tables for GSM 7-bit; only used when set (never chosen automatically).
    pub tables: Gsm7Tables,
    pub concat: ConcatRef,
    /// Most parts the caller accepts (1..=255).
    pub max_parts: u8,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            encoding: EncodingChoice::Auto,
            tables: Gsm7Tables::DEFAULT,
            concat: ConcatRef::default(),
            max_parts: 255,
        }
    }
}

/// A character the fold replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub at: CharAt,
    pub replacement: &'static str,
}

/// User data octets in one SMS (TS 23.040 §9.2.3.16).
const UD_OCTETS: usize = 140;

/// How a text will travel: the answer behind `smsq estimate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub alphabet: Alphabet,
    pub parts: usize,
    /// Units of the whole text (septets, UTF-16 units or octets).
    pub units: usize,
    /// Units one part holds at most (160/153/152, 70/67/66, 140/134/133 without national IEs).
    pub units_per_part: usize,
    /// Units still free in the last part.
    pub units_left: usize,
    /// With `auto`, the characters that made the text UCS-2.
    pub forced_ucs2_by: Vec<CharAt>,
    /// With `gsm7-fold`, what was replaced.
    pub folded: Vec<Folded>,
}

/// Scratch buffers for planning. Reused across messages, so the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct Planner {
    pub(crate) septets: Vec<u8>,
    pub(crate) utf16: Vec<u16>,
    /// Exclusive end (in units) of each part.
    pub(crate) cuts: Vec<usize>,
    pub(crate) folded: Vec<Folded>,
    pub(crate) forced_ucs2_by: Vec<CharAt>,
}

/// The shape of a planned message; the units and cuts stay in the [`Planner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub alphabet: Alphabet,
    pub units: usize,
    /// Octets of the user-data header of every part, TP-UDHL included; 0 for none.
    pub udh_octets: usize,
    pub capacity: usize,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts without encoding PDUs.
    pub fn estimate(&mut self, text: &str, opts: &PlanOptions) -> Result<Estimate, EncodeError> {
        let layout = self.plan_text(text, opts)?;
        Ok(self.estimate_of(layout))
    }

    /// Counts 8-bit data of `len` octets.
    pub fn estimate_binary(
        &mut self,
        len: usize,
        opts: &PlanOptions,
    ) -> Result<Estimate, EncodeError> {
        let layout = self.plan_binary(len, opts)?;
        Ok(self.estimate_of(layout))
    }

    fn estimate_of(&self, layout: Layout) -> Estimate {
        let last_start = self.cuts.iter().rev().nth(1).copied().unwrap_or(0);
        let last_len = self.cuts.last().map_or(0, |&end| end - last_start);
        Estimate {
            alphabet: layout.alphabet,
            parts: self.cuts.len().max(1),
            units: layout.units,
            units_per_part: layout.capacity,
            units_left: layout.capacity - last_len,
            forced_ucs2_by: self.forced_ucs2_by.clone(),
            folded: self.folded.clone(),
        }
    }

    /// Fills the unit buffer and the cuts for `text`, and under `auto` the list of characters
    /// that forced UCS-2 (what `smsq estimate` shows).
    pub(crate) fn plan_text(
        &mut self,
        text: &str,
        opts: &PlanOptions,
    ) -> Result<Layout, EncodeError> {
        self.plan(text, opts, Reasons::Collect)
    }

    /// [`Planner::plan_text`] for sending: under `auto`, the first character that does not fit
    /// GSM 7-bit settles the matter, and nobody reads the list of the others.
    pub(crate) fn plan_text_to_send(
        &mut self,
        text: &str,
        opts: &PlanOptions,
    ) -> Result<Layout, EncodeError> {
        self.plan(text, opts, Reasons::Skip)
    }

    fn plan(
        &mut self,
        text: &str,
        opts: &PlanOptions,
        reasons: Reasons,
    ) -> Result<Layout, EncodeError> {
        self.folded.clear();
        self.forced_ucs2_by.clear();
        let alphabet = match opts.encoding {
            EncodingChoice::Ucs2 => Alphabet::Ucs2,
            EncodingChoice::Gsm7 | EncodingChoice::Gsm7Fold => {
                let fold = opts.encoding == EncodingChoice::Gsm7Fold;
                if !self.encode_septets(text, opts.tables, fold, Reasons::Collect) {
                    // Only an error hands the list out; in steady state it is reused.
                    return Err(EncodeError::NotGsm7 {
                        unencodable: std::mem::take(&mut self.forced_ucs2_by),
                    });
                }
                Alphabet::Gsm7
            }
            EncodingChoice::Auto => {
                if self.encode_septets(text, opts.tables, false, reasons) {
                    Alphabet::Gsm7
                } else {
                    Alphabet::Ucs2
                }
            }
        };
        let units = if alphabet == Alphabet::Ucs2 {
            self.utf16.clear();
            self.utf16.reserve(text.len());
            for c in text.chars() {
                match u16::try_from(u32::from(c)) {
                    Ok(unit) => self.utf16.push(unit),
                    // Beyond the BMP: a surrogate pair.
                    Err(_) => {
                        let mut pair = [0u16; 2];
                        for &unit in c.encode_utf16(&mut pair).iter() {
                            self.utf16.push(unit);
                        }
                    }
                }
            }
            self.utf16.len()
        } else {
            self.septets.len()
        };
        let national_octets = national_ie_octets(alphabet, opts.tables);
        let layout = self.cut(alphabet, units, national_octets, opts)?;
        Ok(layout)
    }

    pub(crate) fn plan_binary(
        &mut self,
        len: usize,
        opts: &PlanOptions,
    ) -> Result<Layout, EncodeError> {
        self.folded.clear();
        self.forced_ucs2_by.clear();
        self.cut(Alphabet::EightBit, len, 0, opts)
    }

    fn cut(
        &mut self,
        alphabet: Alphabet,
        units: usize,
        national_octets: usize,
        opts: &PlanOptions,
    ) -> Result<Layout, EncodeError> {
        self.cuts.clear();
        let single_udh = if national_octets == 0 {
            0
        } else {
            1 + national_octets
        };
        let single_capacity = capacity(alphabet, single_udh);
        if units <= single_capacity {
            self.cuts.push(units);
            return Ok(Layout {
                alphabet,
                units,
                udh_octets: single_udh,
                capacity: single_capacity,
            });
        }
        let udh_octets = 1 + opts.concat.element_octets() + national_octets;
        let cap = capacity(alphabet, udh_octets);
        let max_parts = usize::from(opts.max_parts.max(1));
        let mut start = 0;
        while start < units {
            let mut end = (start + cap).min(units);
            if end < units && self.is_pair_lead(alphabet, end - 1) {
                end -= 1;
            }
            self.cuts.push(end);
            start = end;
        }
        if self.cuts.len() > max_parts {
            return Err(EncodeError::TooManyParts {
                needed: self.cuts.len(),
                max: max_parts,
            });
        }
        Ok(Layout {
            alphabet,
            units,
            udh_octets,
            capacity: cap,
        })
    }

    fn is_pair_lead(&self, alphabet: Alphabet, i: usize) -> bool {
        match alphabet {
            // The code after an escape is never the escape itself, so any escape is a lead.
            Alphabet::Gsm7 => self.septets[i] == ESCAPE,
            Alphabet::Ucs2 => (0xD800..0xDC00).contains(&self.utf16[i]),
            Alphabet::EightBit => false,
        }
    }

    /// Encodes `text` as septets into `self.septets`. Returns `false` when a character does
    /// not fit (after folding, if asked), with every such character in `self.forced_ucs2_by`
    /// when `reasons` asks for them, else as soon as the first one is found.
    fn encode_septets(
        &mut self,
        text: &str,
        tables: Gsm7Tables,
        fold: bool,
        reasons: Reasons,
    ) -> bool {
        if tables.is_default() && gsm7::encode_default_fast(text, &mut self.septets) {
            return true;
        }
        // The fast path fails only on a character outside the default tables.
        if tables.is_default() && !fold && reasons == Reasons::Skip {
            return false;
        }
        self.septets.clear();
        self.septets.reserve(text.len());
        let push = |septets: &mut Vec<u8>, c: char| match tables.encode_char(c) {
            Some((code, escaped)) => {
                if escaped {
                    septets.push(ESCAPE);
                }
                septets.push(code);
                true
            }
            None => false,
        };
        for (i, c) in text.chars().enumerate() {
            if push(&mut self.septets, c) {
                continue;
            }
            if !fold && reasons == Reasons::Skip {
                return false;
            }
            let at = CharAt {
                position: i + 1,
                character: c,
            };
            match fold.then(|| fold_char(c)).flatten() {
                Some(replacement) => {
                    // Replacements are GSM-7 by construction (a test checks every one); a
                    // national table could still lack one, so do not assume.
                    if !replacement.chars().all(|rc| push(&mut self.septets, rc)) {
                        self.forced_ucs2_by.push(at);
                    }
                    self.folded.push(Folded { at, replacement });
                }
                None => self.forced_ucs2_by.push(at),
            }
        }
        self.forced_ucs2_by.is_empty()
    }
}

/// Whether planning lists every character that keeps a text out of GSM 7-bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reasons {
    Collect,
    Skip,
}

/// Units that fit in one part next to a user-data header of `udh_octets` (0 = no header).
pub(crate) fn capacity(alphabet: Alphabet, udh_octets: usize) -> usize {
    match alphabet {
        Alphabet::Gsm7 => 160 - gsm7::header_septets(udh_octets),
        Alphabet::Ucs2 => (UD_OCTETS - udh_octets) / 2,
        Alphabet::EightBit => UD_OCTETS - udh_octets,
    }
}

/// Octets of the national language shift elements (3 each: IEI, length, language).
pub(crate) fn national_ie_octets(alphabet: Alphabet, tables: Gsm7Tables) -> usize {
    if alphabet != Alphabet::Gsm7 {
        return 0;
    }
    3 * (usize::from(tables.locking.is_some()) + usize::from(tables.single.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::gsm7::NationalLanguage;

    fn estimate(text: &str, encoding: EncodingChoice) -> Estimate {
        Planner::new()
            .estimate(
                text,
                &PlanOptions {
                    encoding,
                    ..PlanOptions::default()
                },
            )
            .unwrap()
    }

    #[test]
    fn single_part_limits() {
        let e = estimate(&"a".repeat(160), EncodingChoice::Auto);
        assert_eq!(
            (e.alphabet, e.parts, e.units, e.units_left),
            (Alphabet::Gsm7, 1, 160, 0)
        );
        let e = estimate(&"a".repeat(161), EncodingChoice::Auto);
        assert_eq!(
            (e.parts, e.units_per_part, e.units_left),
            (2, 153, 153 * 2 - 161)
        );
        let e = estimate(&"ą".repeat(70), EncodingChoice::Auto);
        assert_eq!((e.alphabet, e.parts, e.units_left), (Alphabet::Ucs2, 1, 0));
        let e = estimate(&"ą".repeat(71), EncodingChoice::Auto);
        assert_eq!((e.parts, e.units_per_part), (2, 67));
        let e = estimate("", EncodingChoice::Auto);
        assert_eq!((e.parts, e.units, e.units_left), (1, 0, 160));
    }

    #[test]
    fn extension_characters_cost_two_septets() {
        let e = estimate(&"€".repeat(80), EncodingChoice::Auto);
        assert_eq!((e.units, e.parts), (160, 1));
        let e = estimate(&"€".repeat(81), EncodingChoice::Auto);
        // 153 would split the 77th escape pair: 152 + 10.
        assert_eq!((e.units, e.parts, e.units_left), (162, 2, 153 - 10));
    }

    #[test]
    fn cut_never_splits_an_escape_pair() {
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let mut p = Planner::new();
        p.plan_text(&text, &PlanOptions::default()).unwrap();
        assert_eq!(p.cuts, vec![152, 174]);
    }

    #[test]
    fn cut_never_splits_a_surrogate_pair() {
        let text = format!("{}😀{}", "ą".repeat(66), "b".repeat(10));
        let mut p = Planner::new();
        p.plan_text(&text, &PlanOptions::default()).unwrap();
        assert_eq!(p.cuts, vec![66, 78]);
    }

    #[test]
    fn sixteen_bit_reference_has_smaller_parts() {
        let mut p = Planner::new();
        let opts = PlanOptions {
            concat: ConcatRef::Ref16(0x1234),
            ..PlanOptions::default()
        };
        let e = p.estimate(&"a".repeat(400), &opts).unwrap();
        assert_eq!((e.units_per_part, e.parts), (152, 3));
        let e = p.estimate(&"ą".repeat(140), &opts).unwrap();
        assert_eq!((e.units_per_part, e.parts), (66, 3));
        let e = p.estimate_binary(300, &opts).unwrap();
        assert_eq!((e.units_per_part, e.parts), (133, 3));
        let e = p.estimate_binary(140, &opts).unwrap();
        assert_eq!(e.parts, 1);
        let e = p.estimate_binary(141, &PlanOptions::default()).unwrap();
        assert_eq!((e.units_per_part, e.parts), (134, 2));
    }

    #[test]
    fn strict_gsm7_names_each_bad_character() {
        let err = Planner::new()
            .estimate(
                "Zażółć ok",
                &PlanOptions {
                    encoding: EncodingChoice::Gsm7,
                    ..PlanOptions::default()
                },
            )
            .unwrap_err();
        let EncodeError::NotGsm7 { unencodable } = err else {
            panic!("{err:?}")
        };
        let got: Vec<(usize, char)> = unencodable
            .iter()
            .map(|c| (c.position, c.character))
            .collect();
        assert_eq!(got, vec![(3, 'ż'), (4, 'ó'), (5, 'ł'), (6, 'ć')]);
    }

    #[test]
    fn auto_reports_what_forced_ucs2() {
        let e = estimate("Cześć!", EncodingChoice::Auto);
        assert_eq!(e.alphabet, Alphabet::Ucs2);
        let forced: Vec<char> = e.forced_ucs2_by.iter().map(|c| c.character).collect();
        assert_eq!(forced, vec!['ś', 'ć']);
    }

    #[test]
    fn fold_is_explicit_and_reported() {
        let e = estimate("Zażółć “gęślą” — jaźń", EncodingChoice::Gsm7Fold);
        assert_eq!(e.alphabet, Alphabet::Gsm7);
        let replaced: String = e.folded.iter().map(|f| f.replacement).collect();
        assert_eq!(replaced, "zolc\"esa\"-zn");
        assert_eq!(e.folded[0].at.position, 3);
        let err = Planner::new()
            .estimate(
                "ok 😀",
                &PlanOptions {
                    encoding: EncodingChoice::Gsm7Fold,
                    ..PlanOptions::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.code(), "not_gsm7");
    }

    #[test]
    fn part_cap_is_enforced() {
        let err = Planner::new()
            .estimate(
                &"a".repeat(1000),
                &PlanOptions {
                    max_parts: 3,
                    ..PlanOptions::default()
                },
            )
            .unwrap_err();
        assert_eq!(err, EncodeError::TooManyParts { needed: 7, max: 3 });
        let err = Planner::new()
            .estimate(&"a".repeat(153 * 255 + 1), &PlanOptions::default())
            .unwrap_err();
        assert_eq!(
            err,
            EncodeError::TooManyParts {
                needed: 256,
                max: 255
            }
        );
    }

    #[test]
    fn national_tables_change_capacity() {
        let opts = PlanOptions {
            encoding: EncodingChoice::Gsm7,
            tables: Gsm7Tables {
                locking: Some(NationalLanguage::Turkish),
                single: Some(NationalLanguage::Turkish),
            },
            ..PlanOptions::default()
        };
        let mut p = Planner::new();
        // One part: UDH of 1 + 3 + 3 octets = 8 septets.
        let e = p.estimate("Günaydın, ışık şöyle", &opts).unwrap();
        assert_eq!((e.units_per_part, e.parts), (152, 1));
        // Several parts: 1 + 5 + 6 = 12 octets = 14 septets.
        let e = p.estimate(&"ı".repeat(300), &opts).unwrap();
        assert_eq!((e.units_per_part, e.parts), (146, 3));
    }
}
