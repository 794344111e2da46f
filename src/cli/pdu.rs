//! `smsq pdu decode`, `smsq pdu encode` and `smsq estimate`: the codec from the shell.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{CommandError, text_arg};
use crate::pdu::{
    self, Address, Alphabet, Body, CharAt, ConcatRef, DecodeOptions, EncodeError, EncodingChoice,
    Gsm7Tables, NationalLanguage, PlanOptions, Planner, RelativeValidity, SubmitEncoder,
    SubmitOptions, SubmitPdus, Timestamp, Tpdu, TpduKind, Udh, UserData, Validity,
};

#[derive(Debug, Subcommand)]
pub(crate) enum PduCommand {
    /// Decode a PDU as `+CMGR`/`+CMGL`/`+CMT`/`+CDS` print it and show it as JSON.
    Decode(DecodeArgs),
    /// Encode a text as SMS-SUBMIT PDUs: one line per part, `<tpdu_length> <hex>`.
    Encode(EncodeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Deliver,
    Submit,
    StatusReport,
}

#[derive(Debug, Args)]
pub(crate) struct DecodeArgs {
    /// The PDU in hex, or `-` to read it from standard input.
    hex: String,
    /// The input is a bare TPDU, without the SMSC octets in front.
    #[arg(long)]
    tpdu: bool,
    /// Read the TPDU as this kind instead of going by its TP-MTI (e.g. `submit` for a
    /// mobile-originated PDU).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EncodingArg {
    Auto,
    Gsm7,
    Ucs2,
    #[value(name = "gsm7-fold")]
    Gsm7Fold,
}

impl From<EncodingArg> for EncodingChoice {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Auto => Self::Auto,
            EncodingArg::Gsm7 => Self::Gsm7,
            EncodingArg::Ucs2 => Self::Ucs2,
            EncodingArg::Gsm7Fold => Self::Gsm7Fold,
        }
    }
}

/// Options that shape the parts, shared by `encode` and `estimate`.
#[derive(Debug, Args)]
struct PlanArgs {
    /// auto: GSM 7-bit when every character fits, else UCS-2. gsm7-fold transliterates
    /// (ł→l, “→") and reports each change.
    #[arg(long, value_enum, default_value = "auto")]
    encoding: EncodingArg,
    /// Use a 16-bit concatenation reference (152 septets / 66 UCS-2 units per part).
    #[arg(long)]
    ref16: bool,
    /// Refuse texts that need more parts than this.
    #[arg(long, default_value_t = 255, value_parser = clap::value_parser!(u8).range(1..))]
    max_parts: u8,
    /// GSM 7-bit national single shift table: turkish, spanish or portuguese.
    #[arg(long, value_parser = parse_language)]
    single_shift: Option<NationalLanguage>,
    /// GSM 7-bit national locking shift table: turkish or portuguese.
    #[arg(long, value_parser = parse_language)]
    locking_shift: Option<NationalLanguage>,
}

#[derive(Debug, Args)]
pub(crate) struct EncodeArgs {
    /// Recipient: +<country><number> for international, digits otherwise.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    plan: PlanArgs,
    /// Ask for a delivery (status) report.
    #[arg(long)]
    report: bool,
    /// Validity period, e.g. 30m, 6h, 1d, 2w (rounded up to what TP-VP can express).
    #[arg(long, value_parser = crate::time::parse_duration)]
    validity: Option<Duration>,
    /// Class 0: shown at once, not stored by the handset.
    #[arg(long)]
    flash: bool,
    /// Ask the service centre to reject a duplicate (TP-RD).
    #[arg(long)]
    reject_duplicates: bool,
    /// Concatenation reference (0-255, or 0-65535 with --ref16).
    #[arg(long = "ref", default_value_t = 0)]
    reference: u16,
    /// TP-MR; 0 lets the modem assign one.
    #[arg(long, default_value_t = 0)]
    message_ref: u8,
    /// Service centre number; by default the SIM's (`00`).
    #[arg(long)]
    smsc: Option<String>,
    /// Print JSON instead of `<tpdu_length> <hex>` lines.
    #[arg(long)]
    json: bool,
    /// The text, or `-` to read it from standard input.
    text: String,
}

#[derive(Debug, Args)]
pub(crate) struct EstimateArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The text, or `-` to read it from standard input.
    text: String,
}

fn parse_language(s: &str) -> Result<NationalLanguage, String> {
    NationalLanguage::from_name(s)
        .ok_or_else(|| format!("unknown language {s:?}: use turkish, spanish or portuguese"))
}

impl PlanArgs {
    fn options(&self, reference: u16) -> Result<PlanOptions, CommandError> {
        let concat = if self.ref16 {
            ConcatRef::Ref16(reference)
        } else {
            ConcatRef::Ref8(u8::try_from(reference).map_err(|_| {
                CommandError::new(
                    "invalid_reference",
                    format!("--ref {reference} needs --ref16 (8-bit references are 0-255)"),
                )
            })?)
        };
        if let Some(lang) = self.locking_shift
            && !lang.has_locking_table()
        {
            return Err(CommandError::new(
                "invalid_language",
                format!("{} has no locking shift table", lang.name()),
            ));
        }
        Ok(PlanOptions {
            encoding: self.encoding.into(),
            tables: Gsm7Tables {
                locking: self.locking_shift,
                single: self.single_shift,
            },
            concat,
            max_parts: self.max_parts,
        })
    }
}

pub(crate) fn run(cmd: PduCommand) -> Result<(), CommandError> {
    match cmd {
        PduCommand::Decode(args) => decode(args),
        PduCommand::Encode(args) => encode(args),
    }
}

fn decode(args: DecodeArgs) -> Result<(), CommandError> {
    let hex = text_arg(&args.hex)?;
    let opts = DecodeOptions {
        has_smsc: !args.tpdu,
        kind: match args.kind {
            None => TpduKind::Auto,
            Some(KindArg::Deliver) => TpduKind::Deliver,
            Some(KindArg::Submit) => TpduKind::Submit,
            Some(KindArg::StatusReport) => TpduKind::StatusReport,
        },
    };
    let pdu = pdu::decode_hex(&hex, opts).map_err(|e| {
        CommandError::new(e.code(), format!("cannot decode PDU: {e}")).with("offset", e.offset)
    })?;
    let view = PduView::from(&pdu);
    println!(
        "{}",
        serde_json::to_string_pretty(&view).expect("plain data serializes")
    );
    Ok(())
}

fn encode(args: EncodeArgs) -> Result<(), CommandError> {
    let text = text_arg(&args.text)?;
    let recipient = Address::parse(&args.to).map_err(encode_failure)?;
    let smsc = args
        .smsc
        .as_deref()
        .map(Address::parse)
        .transpose()
        .map_err(encode_failure)?;
    let opts = SubmitOptions {
        recipient,
        smsc,
        message_ref: args.message_ref,
        validity: args.validity.map(RelativeValidity::from_duration),
        status_report: args.report,
        reject_duplicates: args.reject_duplicates,
        flash: args.flash,
        plan: args.plan.options(args.reference)?,
    };
    let mut out = SubmitPdus::new();
    SubmitEncoder::new()
        .encode_text(&text, &opts, &mut out)
        .map_err(encode_failure)?;
    let folded: Vec<FoldView> = out.folded().iter().map(FoldView::from).collect();
    if args.json {
        let view = EncodeView {
            encoding: out.alphabet().map_or("gsm7", Alphabet::name),
            parts: out
                .iter()
                .map(|p| PartView {
                    part: p.part,
                    tpdu_length: p.tpdu_len,
                    pdu: p.hex,
                })
                .collect(),
            folded,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&view).expect("plain data serializes")
        );
    } else {
        for f in &folded {
            eprintln!(
                "smsq: folded {:?} at position {} to {:?}",
                f.character, f.position, f.replacement
            );
        }
        for p in out.iter() {
            println!("{} {}", p.tpdu_len, p.hex);
        }
    }
    Ok(())
}

pub(crate) fn estimate(args: EstimateArgs) -> Result<(), CommandError> {
    let text = text_arg(&args.text)?;
    let plan = args.plan.options(0)?;
    let e = Planner::new()
        .estimate(&text, &plan)
        .map_err(encode_failure)?;
    let unit = match e.alphabet {
        Alphabet::Gsm7 => "septets",
        Alphabet::Ucs2 => "UTF-16 units",
        Alphabet::EightBit => "octets",
    };
    let view = EstimateView {
        encoding: e.alphabet.name(),
        parts: e.parts,
        units: e.units,
        unit,
        units_per_part: e.units_per_part,
        units_left: e.units_left,
        forced_ucs2_by: e.forced_ucs2_by.iter().map(CharView::from).collect(),
        folded: e.folded.iter().map(FoldView::from).collect(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&view).expect("plain data serializes")
        );
        return Ok(());
    }
    println!("encoding: {}", view.encoding);
    println!("parts:    {}", view.parts);
    println!(
        "used:     {} {unit} ({} per part)",
        view.units, view.units_per_part
    );
    println!("left:     {} {unit} in the last part", view.units_left);
    if !view.forced_ucs2_by.is_empty() {
        let list: Vec<String> = e.forced_ucs2_by.iter().map(CharAt::to_string).collect();
        println!("ucs2 because of: {}", list.join(", "));
    }
    for f in &view.folded {
        println!(
            "folded:   {:?} at position {} -> {:?}",
            f.character, f.position, f.replacement
        );
    }
    Ok(())
}

fn encode_failure(e: EncodeError) -> CommandError {
    let mut f = CommandError::new(e.code(), e.to_string());
    if let EncodeError::NotGsm7 { unencodable } = &e {
        let chars: Vec<CharView> = unencodable.iter().map(CharView::from).collect();
        f = f.with(
            "characters",
            serde_json::to_value(chars).expect("plain data serializes"),
        );
    }
    f
}

#[derive(Serialize)]
struct EncodeView<'a> {
    encoding: &'static str,
    parts: Vec<PartView<'a>>,
    folded: Vec<FoldView>,
}

#[derive(Serialize)]
struct PartView<'a> {
    part: usize,
    tpdu_length: usize,
    pdu: &'a str,
}

#[derive(Serialize)]
struct EstimateView {
    encoding: &'static str,
    parts: usize,
    units: usize,
    unit: &'static str,
    units_per_part: usize,
    units_left: usize,
    forced_ucs2_by: Vec<CharView>,
    folded: Vec<FoldView>,
}

#[derive(Serialize)]
struct CharView {
    character: String,
    codepoint: String,
    /// 1-based, in characters.
    position: usize,
}

impl From<&CharAt> for CharView {
    fn from(c: &CharAt) -> Self {
        Self {
            character: c.character.to_string(),
            codepoint: format!("U+{:04X}", c.character as u32),
            position: c.position,
        }
    }
}

#[derive(Serialize)]
struct FoldView {
    character: String,
    position: usize,
    replacement: &'static str,
}

impl From<&pdu::Folded> for FoldView {
    fn from(f: &pdu::Folded) -> Self {
        Self {
            character: f.at.character.to_string(),
            position: f.at.position,
            replacement: f.replacement,
        }
    }
}

/// The JSON shape of a decoded PDU (documented in the README). Keys that belong to one kind
/// of TPDU only appear for that kind; the rest are always present, `null` when absent.
#[derive(Serialize)]
struct PduView {
    #[serde(rename = "type")]
    kind: &'static str,
    smsc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discharge_time: Option<Option<String>>,
    encoding: Option<&'static str>,
    class: Option<u8>,
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_hex: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    compressed: bool,
    udh: Option<UdhView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ref: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_text: Option<&'static str>,
    pid: Option<u8>,
    dcs: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    validity: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_report_requested: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    more_messages: Option<bool>,
    warnings: Vec<WarningView>,
}

#[derive(Serialize)]
struct UdhView {
    concat_ref: Option<u16>,
    concat_ref_bits: Option<u8>,
    total: Option<u8>,
    part: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    single_shift: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    locking_shift: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other: Vec<ElementView>,
}

#[derive(Serialize)]
struct ElementView {
    iei: u8,
    data_hex: String,
}

#[derive(Serialize)]
struct WarningView {
    code: &'static str,
    message: String,
}

fn language_name(id: u8) -> String {
    NationalLanguage::from_id(id).map_or_else(|| format!("unknown ({id})"), |l| l.name().into())
}

impl From<&Udh> for UdhView {
    fn from(u: &Udh) -> Self {
        Self {
            concat_ref: u.concat.map(|c| c.reference),
            concat_ref_bits: u.concat.map(|c| c.reference_bits),
            total: u.concat.map(|c| c.total),
            part: u.concat.map(|c| c.part),
            destination_port: u.ports.map(|p| p.destination),
            source_port: u.ports.map(|p| p.source),
            single_shift: u.single_shift.map(language_name),
            locking_shift: u.locking_shift.map(language_name),
            other: u
                .other
                .iter()
                .map(|e| ElementView {
                    iei: e.iei,
                    data_hex: pdu::hex::encode(&e.data),
                })
                .collect(),
        }
    }
}

impl PduView {
    fn empty(kind: &'static str, smsc: Option<String>) -> Self {
        Self {
            kind,
            smsc,
            sender: None,
            recipient: None,
            timestamp: None,
            discharge_time: None,
            encoding: None,
            class: None,
            text: None,
            data_hex: None,
            compressed: false,
            udh: None,
            message_ref: None,
            status: None,
            status_kind: None,
            status_text: None,
            pid: None,
            dcs: None,
            validity: None,
            status_report_requested: None,
            more_messages: None,
            warnings: Vec::new(),
        }
    }

    fn set_user_data(&mut self, dcs: &pdu::Dcs, ud: &UserData) {
        self.encoding = Some(dcs.alphabet.name());
        self.class = dcs.class;
        self.dcs = Some(dcs.raw);
        self.udh = ud.header.as_ref().map(UdhView::from);
        match &ud.body {
            Body::Text(t) => self.text = Some(t.clone()),
            Body::Data(d) => self.data_hex = Some(pdu::hex::encode(d)),
            Body::Compressed(d) => {
                self.compressed = true;
                self.data_hex = Some(pdu::hex::encode(d));
            }
        }
    }
}

fn rfc3339(t: &Option<Timestamp>) -> Option<String> {
    t.as_ref().map(Timestamp::to_string)
}

impl From<&pdu::Pdu> for PduView {
    fn from(pdu: &pdu::Pdu) -> Self {
        let smsc = pdu.smsc.as_ref().map(Address::to_string);
        let mut v = match &pdu.tpdu {
            Tpdu::Deliver(d) => {
                let mut v = Self::empty("deliver", smsc);
                v.sender = Some(d.sender.to_string());
                v.timestamp = Some(rfc3339(&d.timestamp));
                v.pid = Some(d.pid);
                v.status_report_requested = Some(d.status_report_indication);
                v.more_messages = Some(d.more_messages);
                v.set_user_data(&d.dcs, &d.user_data);
                v
            }
            Tpdu::Submit(s) => {
                let mut v = Self::empty("submit", smsc);
                v.recipient = Some(s.recipient.to_string());
                v.message_ref = Some(s.message_ref);
                v.pid = Some(s.pid);
                v.status_report_requested = Some(s.status_report_request);
                v.validity = Some(s.validity.map(|vp| match vp {
                    Validity::Relative(r) => humanize(r.duration()),
                    Validity::Absolute(t) => {
                        rfc3339(&t).unwrap_or_else(|| "invalid absolute time".into())
                    }
                    Validity::Enhanced(raw) => format!("enhanced:{}", pdu::hex::encode(&raw)),
                }));
                v.set_user_data(&s.dcs, &s.user_data);
                v
            }
            Tpdu::StatusReport(r) => {
                let mut v = Self::empty("status_report", smsc);
                v.recipient = Some(r.recipient.to_string());
                v.timestamp = Some(rfc3339(&r.timestamp));
                v.discharge_time = Some(rfc3339(&r.discharge_time));
                v.message_ref = Some(r.message_ref);
                v.status = Some(r.status);
                v.status_kind = Some(r.status_kind.name());
                v.status_text = Some(pdu::status_text(r.status));
                v.pid = r.pid;
                v.more_messages = Some(r.more_messages);
                if let Some(ud) = &r.user_data {
                    v.set_user_data(&r.dcs.unwrap_or(pdu::Dcs::from_octet(0)), ud);
                } else {
                    v.dcs = r.dcs.map(|d| d.raw);
                }
                v
            }
        };
        v.warnings = pdu
            .warnings
            .iter()
            .map(|w| WarningView {
                code: w.code(),
                message: w.to_string(),
            })
            .collect();
        v
    }
}

/// A validity period as people write it: `1d`, `6h`, `1d12h`, `30m`.
fn humanize(d: Duration) -> String {
    let mut secs = d.as_secs();
    let mut s = String::new();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size {
            s.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if s.is_empty() {
        s = format!("{secs}s");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_typed() {
        assert_eq!(humanize(Duration::from_secs(129_600)), "1d12h");
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
    }

    #[test]
    fn references_beyond_eight_bits_need_ref16() {
        let args = PlanArgs {
            encoding: EncodingArg::Auto,
            ref16: false,
            max_parts: 255,
            single_shift: None,
            locking_shift: None,
        };
        assert_eq!(args.options(256).unwrap_err().code, "invalid_reference");
        assert!(args.options(255).is_ok());
    }
}
