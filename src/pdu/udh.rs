//! The user-data header (TS 23.040 §9.2.3.24): concatenation, application ports, national
//! language shifts, and every other information element kept as it came.

use super::error::{DecodeError, DecodeErrorKind, Warning};

/// IEI of concatenated short messages with an 8-bit reference (§9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of application port addressing, 8-bit ports (§9.2.3.24.3).
pub const IEI_PORTS_8: u8 = 0x04;
/// IEI of application port addressing, 16-bit ports (§9.2.3.24.4).
pub const IEI_PORTS_16: u8 = 0x05;
/// IEI of concatenated short messages with a 16-bit reference (§9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;
/// IEI of the national language single shift (§9.2.3.24.15).
pub const IEI_SINGLE_SHIFT: u8 = 0x24;
/// IEI of the national language locking shift (§9.2.3.24.16).
pub const IEI_LOCKING_SHIFT: u8 = 0x25;

/// Which part of which concatenated message this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    /// 8 or 16: the width of the reference.
    pub reference_bits: u8,
    pub total: u8,
    /// 1-based part number.
    pub part: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub destination: u16,
    pub source: u16,
    /// 8 or 16.
    pub bits: u8,
}

/// An information element smsq does not interpret, kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformationElement {
    pub iei: u8,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Udh {
    pub concat: Option<Concat>,
    pub ports: Option<Ports>,
    /// National language identifier of the single shift table.
    pub single_shift: Option<u8>,
    /// National language identifier of the locking shift table.
    pub locking_shift: Option<u8>,
    pub other: Vec<InformationElement>,
}

impl Udh {
    /// Parses the header's elements (`elements` is what follows TP-UDHL). `base` is the offset
    /// of `elements[0]` in the PDU, for error positions.
    pub fn parse(
        elements: &[u8],
        base: usize,
        warnings: &mut Vec<Warning>,
    ) -> Result<Self, DecodeError> {
        let mut udh = Self::default();
        let mut seen = [false; 256];
        let mut i = 0;
        while i < elements.len() {
            let iei = elements[i];
            let Some(&len) = elements.get(i + 1) else {
                return Err(DecodeError::new(
                    base + i,
                    DecodeErrorKind::Truncated {
                        field: "user data header element",
                        needed: 2,
                        available: 1,
                    },
                ));
            };
            let len = len as usize;
            let data = elements.get(i + 2..i + 2 + len).ok_or_else(|| {
                DecodeError::new(
                    base + i + 1,
                    DecodeErrorKind::LengthOutOfRange {
                        field: "information element length",
                        value: len,
                        max: elements.len() - i - 2,
                    },
                )
            })?;
            if std::mem::replace(&mut seen[iei as usize], true) && understood(iei) {
                warnings.push(Warning::RepeatedElement { iei });
            }
            match (iei, data) {
                (IEI_CONCAT_8, &[reference, total, part]) => {
                    udh.concat =
                        concat(u16::from(reference), 8, total, part, warnings).or(udh.concat);
                }
                (IEI_CONCAT_16, &[hi, lo, total, part]) => {
                    udh.concat = concat(u16::from_be_bytes([hi, lo]), 16, total, part, warnings)
                        .or(udh.concat);
                }
                (IEI_PORTS_8, &[destination, source]) => {
                    udh.ports = Some(Ports {
                        destination: u16::from(destination),
                        source: u16::from(source),
                        bits: 8,
                    });
                }
                (IEI_PORTS_16, &[d_hi, d_lo, s_hi, s_lo]) => {
                    udh.ports = Some(Ports {
                        destination: u16::from_be_bytes([d_hi, d_lo]),
                        source: u16::from_be_bytes([s_hi, s_lo]),
                        bits: 16,
                    });
                }
                (IEI_SINGLE_SHIFT, &[lang]) => udh.single_shift = Some(lang),
                (IEI_LOCKING_SHIFT, &[lang]) => udh.locking_shift = Some(lang),
                // A known IEI with the wrong length is kept raw rather than guessed at.
                _ => {
                    if understood(iei) {
                        warnings.push(Warning::MalformedElement { iei, len });
                    }
                    udh.other.push(InformationElement {
                        iei,
                        data: data.to_vec(),
                    })
                }
            }
            i += 2 + len;
        }
        Ok(udh)
    }
}

/// The elements smsq reads rather than keeps raw.
fn understood(iei: u8) -> bool {
    matches!(
        iei,
        IEI_CONCAT_8
            | IEI_CONCAT_16
            | IEI_PORTS_8
            | IEI_PORTS_16
            | IEI_SINGLE_SHIFT
            | IEI_LOCKING_SHIFT
    )
}

fn concat(
    reference: u16,
    reference_bits: u8,
    total: u8,
    part: u8,
    warnings: &mut Vec<Warning>,
) -> Option<Concat> {
    // §9.2.3.24.1: total 0, part 0 or part > total make the receiver ignore the element.
    if total == 0 || part == 0 || part > total {
        warnings.push(Warning::InvalidConcatenation { total, part });
        return None;
    }
    Some(Concat {
        reference,
        reference_bits,
        total,
        part,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(elements: &[u8]) -> (Result<Udh, DecodeError>, Vec<Warning>) {
        let mut w = Vec::new();
        (Udh::parse(elements, 10, &mut w), w)
    }

    #[test]
    fn concatenation_both_widths() {
        let (udh, w) = parse(&[0x00, 0x03, 0x2A, 0x03, 0x02]);
        assert!(w.is_empty());
        assert_eq!(
            udh.unwrap().concat,
            Some(Concat {
                reference: 0x2A,
                reference_bits: 8,
                total: 3,
                part: 2
            })
        );
        let (udh, _) = parse(&[0x08, 0x04, 0x12, 0x34, 0x02, 0x01]);
        assert_eq!(udh.unwrap().concat.unwrap().reference, 0x1234);
    }

    #[test]
    fn ports_languages_and_unknown_elements() {
        let (udh, _) = parse(&[
            0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x24, 0x01, 0x01, 0x25, 0x01, 0x03, 0x70, 0x02,
            0xAA, 0xBB,
        ]);
        let udh = udh.unwrap();
        assert_eq!(
            udh.ports,
            Some(Ports {
                destination: 2948,
                source: 9200,
                bits: 16
            })
        );
        assert_eq!((udh.single_shift, udh.locking_shift), (Some(1), Some(3)));
        assert_eq!(
            udh.other,
            vec![InformationElement {
                iei: 0x70,
                data: vec![0xAA, 0xBB]
            }]
        );
    }

    #[test]
    fn invalid_concatenation_is_ignored_with_a_warning() {
        let (udh, w) = parse(&[0x00, 0x03, 0x01, 0x02, 0x03]);
        assert_eq!(udh.unwrap().concat, None);
        assert_eq!(w, vec![Warning::InvalidConcatenation { total: 2, part: 3 }]);
    }

    #[test]
    fn element_running_past_the_header_is_an_error() {
        let (udh, _) = parse(&[0x00, 0x05, 0x01, 0x02]);
        let err = udh.unwrap_err();
        assert_eq!(err.offset, 11);
        let (udh, _) = parse(&[0x00]);
        assert_eq!(udh.unwrap_err().offset, 10);
    }
}
