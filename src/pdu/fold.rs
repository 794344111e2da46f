//! The `gsm7-fold` transliteration: an explicit, lossy map from characters outside the GSM
//! 7-bit alphabet to ones inside it. It runs only when the caller asks for it, and every change
//! it makes is reported, so a shop knows that "Łódź" went out as "Lodz".

/// The GSM 7-bit replacement for `c`, or `None` when there is no sensible one (emoji, CJK...).
/// An empty string means the character is dropped (zero-width and soft-hyphen characters).
pub fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        // Polish, the case the owner asked about first.
        'ą' => "a",
        'ć' => "c",
        'ę' => "e",
        'ł' => "l",
        'ń' => "n",
        'ó' => "o",
        'ś' => "s",
        'ź' | 'ż' => "z",
        'Ą' => "A",
        'Ć' => "C",
        'Ę' => "E",
        'Ł' => "L",
        'Ń' => "N",
        'Ó' => "O",
        'Ś' => "S",
        'Ź' | 'Ż' => "Z",
        // Latin-1 letters the GSM alphabet lacks (it has Ä Å Æ Ç É Ñ Ö Ø Ü ß à ä å æ è é ì ñ ò
        // ö ø ù ü).
        'À' | 'Á' | 'Â' | 'Ã' => "A",
        'È' | 'Ê' | 'Ë' => "E",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'Ð' => "D",
        'Ò' | 'Ô' | 'Õ' => "O",
        'Ù' | 'Ú' | 'Û' => "U",
        'Ý' => "Y",
        'Þ' => "Th",
        'á' | 'â' | 'ã' => "a",
        'ç' => "c",
        'ê' | 'ë' => "e",
        'í' | 'î' | 'ï' => "i",
        'ð' => "d",
        'ô' | 'õ' => "o",
        'ú' | 'û' => "u",
        'ý' | 'ÿ' => "y",
        'þ' => "th",
        // Latin Extended-A: Czech, Slovak, Romanian, Turkish, Baltic, Hungarian...
        'Ā' | 'Ă' => "A",
        'ā' | 'ă' => "a",
        'Č' | 'Ĉ' | 'Ċ' => "C",
        'č' | 'ĉ' | 'ċ' => "c",
        'Ď' | 'Đ' => "D",
        'ď' | 'đ' => "d",
        'Ē' | 'Ĕ' | 'Ė' | 'Ě' => "E",
        'ē' | 'ĕ' | 'ė' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' => "l",
        'Ņ' | 'Ň' => "N",
        'ņ' | 'ň' => "n",
        'Ō' | 'Ŏ' | 'Ő' => "O",
        'ō' | 'ŏ' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ŷ' | 'Ÿ' => "Y",
        'ŷ' => "y",
        'Ž' => "Z",
        'ž' => "z",
        // Typography that word processors and phones insert.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{B4}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}' | '\u{BB}' => {
            "\""
        }
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' => "-",
        '\u{2026}' => "...",
        // The Philippine peso sign, written "P" in front of a price as shops in the
        // Philippines write it by hand ("P150.00"); GSM 7-bit has no peso sign.
        '\u{20B1}' => "P",
        '\u{2022}' | '\u{00B7}' => "-",
        '\u{A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\t' => " ",
        '\u{AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => "",
        '\u{2122}' => "TM",
        '\u{A9}' => "(c)",
        '\u{AE}' => "(R)",
        '\u{D7}' => "x",
        '\u{F7}' => "/",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::gsm7::Gsm7Tables;

    #[test]
    fn every_replacement_is_gsm7() {
        for cp in 0..0x3100u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if let Some(r) = fold_char(c) {
                assert!(
                    Gsm7Tables::DEFAULT.encode_char(c).is_none(),
                    "{c:?} is GSM-7 already and must not be folded"
                );
                for rc in r.chars() {
                    assert!(
                        Gsm7Tables::DEFAULT.encode_char(rc).is_some(),
                        "{c:?} -> {rc:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_peso_sign_folds_to_p() {
        assert_eq!(fold_char('₱'), Some("P"));
    }
}
