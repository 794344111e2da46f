//! TP-Data-Coding-Scheme (TS 23.038 §4): alphabet, message class, compression, message waiting.

/// How the user data is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    Gsm7,
    EightBit,
    Ucs2,
}

impl Alphabet {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gsm7 => "gsm7",
            Self::EightBit => "8bit",
            Self::Ucs2 => "ucs2",
        }
    }
}

/// What a message-waiting indication (coding groups 1100..1110) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageWaiting {
    /// Group 1100: the handset may discard the text after updating the indicator.
    pub discard: bool,
    pub active: bool,
    /// 0 voicemail, 1 fax, 2 e-mail, 3 other.
    pub kind: u8,
}

/// A decoded TP-DCS octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dcs {
    pub raw: u8,
    pub alphabet: Alphabet,
    /// Message class 0..=3 when the octet gives one (0 is "flash", shown at once).
    pub class: Option<u8>,
    /// The text is compressed (TS 23.042), which smsq does not decompress.
    pub compressed: bool,
    /// Coding group 01xx: "marked for automatic deletion".
    pub auto_delete: bool,
    pub message_waiting: Option<MessageWaiting>,
    /// A reserved group or alphabet, read as GSM 7-bit as TS 23.038 §4 asks.
    pub reserved: bool,
}

impl Dcs {
    pub fn from_octet(raw: u8) -> Self {
        let mut dcs = Self {
            raw,
            alphabet: Alphabet::Gsm7,
            class: None,
            compressed: false,
            auto_delete: false,
            message_waiting: None,
            reserved: false,
        };
        match raw >> 4 {
            // General data coding (00xx) and automatic deletion (01xx): bit 5 compressed,
            // bit 4 "class present", bits 3..2 alphabet, bits 1..0 class.
            0x0..=0x7 => {
                dcs.auto_delete = raw & 0x40 != 0;
                dcs.compressed = raw & 0x20 != 0;
                if raw & 0x10 != 0 {
                    dcs.class = Some(raw & 0x03);
                }
                dcs.alphabet = match (raw >> 2) & 0x03 {
                    0 => Alphabet::Gsm7,
                    1 => Alphabet::EightBit,
                    2 => Alphabet::Ucs2,
                    _ => {
                        dcs.reserved = true;
                        Alphabet::Gsm7
                    }
                };
            }
            0x8..=0xB => dcs.reserved = true,
            0xC..=0xE => {
                dcs.alphabet = if raw >> 4 == 0xE {
                    Alphabet::Ucs2
                } else {
                    Alphabet::Gsm7
                };
                dcs.message_waiting = Some(MessageWaiting {
                    discard: raw >> 4 == 0xC,
                    active: raw & 0x08 != 0,
                    kind: raw & 0x03,
                });
            }
            _ => {
                // 1111: bit 2 alphabet (GSM 7-bit or 8-bit data), bits 1..0 class.
                dcs.alphabet = if raw & 0x04 != 0 {
                    Alphabet::EightBit
                } else {
                    Alphabet::Gsm7
                };
                dcs.class = Some(raw & 0x03);
            }
        }
        dcs
    }

    /// The octet for an outgoing message: general coding group, class 0 when `flash`.
    pub fn for_submit(alphabet: Alphabet, flash: bool) -> u8 {
        let alphabet_bits = match alphabet {
            Alphabet::Gsm7 => 0x00,
            Alphabet::EightBit => 0x04,
            Alphabet::Ucs2 => 0x08,
        };
        // 0x10 = "class present" with class 0 in bits 1..0.
        alphabet_bits | if flash { 0x10 } else { 0x00 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coding_groups() {
        let check = |raw: u8, alphabet, class, compressed, reserved| {
            let d = Dcs::from_octet(raw);
            assert_eq!(
                (d.alphabet, d.class, d.compressed, d.reserved),
                (alphabet, class, compressed, reserved),
                "0x{raw:02X}"
            );
        };
        check(0x00, Alphabet::Gsm7, None, false, false);
        check(0x08, Alphabet::Ucs2, None, false, false);
        check(0x04, Alphabet::EightBit, None, false, false);
        check(0x10, Alphabet::Gsm7, Some(0), false, false);
        check(0x18, Alphabet::Ucs2, Some(0), false, false);
        check(0x11, Alphabet::Gsm7, Some(1), false, false);
        check(0x20, Alphabet::Gsm7, None, true, false);
        check(0x0C, Alphabet::Gsm7, None, false, true);
        check(0x48, Alphabet::Ucs2, None, false, false);
        check(0x80, Alphabet::Gsm7, None, false, true);
        check(0xF0, Alphabet::Gsm7, Some(0), false, false);
        check(0xF6, Alphabet::EightBit, Some(2), false, false);
        assert!(Dcs::from_octet(0x48).auto_delete);
    }

    #[test]
    fn message_waiting_groups() {
        let d = Dcs::from_octet(0xC8);
        assert_eq!(
            d.message_waiting,
            Some(MessageWaiting {
                discard: true,
                active: true,
                kind: 0
            })
        );
        let d = Dcs::from_octet(0xE1);
        assert_eq!(d.alphabet, Alphabet::Ucs2);
        assert!(!d.message_waiting.unwrap().active);
    }

    #[test]
    fn submit_octets() {
        assert_eq!(Dcs::for_submit(Alphabet::Gsm7, false), 0x00);
        assert_eq!(Dcs::for_submit(Alphabet::Ucs2, false), 0x08);
        assert_eq!(Dcs::for_submit(Alphabet::Gsm7, true), 0x10);
        assert_eq!(Dcs::for_submit(Alphabet::Ucs2, true), 0x18);
    }
}
