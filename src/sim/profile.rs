//! How simulated modem families differ, as data. Each profile says where its facts come from;
//! the transcripts in `modem-fixtures/` show the same behaviour line by line.

use crate::at::parse::UssdStyle;

#[derive(Debug)]
pub struct SimProfile {
    pub name: &'static str,
    pub manufacturer: &'static str,
    pub model: &'static str,
    pub revision: &'static str,
    /// Lines printed after power-up or a reset, before the modem is usable.
    pub boot_banners: &'static [&'static str],
    /// The ICCID command and its answer prefix ("" for a bare line).
    pub iccid_command: &'static str,
    pub iccid_prefix: &'static str,
    /// What an unknown command gets: `ERROR` or `COMMAND NOT SUPPORT`.
    pub unknown_command: &'static str,
    /// `AT+CNMI` values the family refuses (answers `+CMS ERROR: 303`).
    pub refused_cnmi: &'static [[u8; 5]],
    pub ussd_style: UssdStyle,
    /// Vendor status lines the family prints now and then (sent on `Fault::Noise`).
    pub noise: &'static [&'static str],
}

/// Huawei E173-style USB stick: no boot banner on the AT port, `^RSSI`/`^MODE`/`^DSFLOWRPT`
/// noise, `COMMAND NOT SUPPORT`, `AT^ICCID?`, USSD answers as packed GSM-7 hex, and a refusal
/// of `+CNMI` with `<ds>=2` (Huawei "HSPA USB Stick AT Command Interface Specification";
/// the refusal as reported in public gammu/smstools logs).
pub static HUAWEI: SimProfile = SimProfile {
    name: "huawei",
    manufacturer: "huawei",
    model: "E173",
    revision: "11.126.85.00.209",
    boot_banners: &["^BOOT:20315942,0,0,0,72", "^SYSSTART"],
    iccid_command: "AT^ICCID?",
    iccid_prefix: "^ICCID",
    unknown_command: "COMMAND NOT SUPPORT",
    refused_cnmi: &[[2, 1, 0, 2, 0]],
    ussd_style: UssdStyle::PackedHex,
    noise: &[
        "^RSSI: 17",
        "^MODE: 5,4",
        "^SRVST: 2",
        "^DSFLOWRPT: 0000001E,00000000,00000000,0000000000000D8C,00000000000016D1,0003E800,0003E800",
    ],
};

/// SIMCom SIM800-style module: `RDY`, `+CFUN: 1`, `+CPIN: READY`, `Call Ready`, `SMS Ready`
/// after boot, `AT+CCID` with a bare answer (SIMCom "SIM800 Series AT Command Manual" V1.09,
/// §3.2.23 and the boot sequence in §1.4).
pub static SIMCOM: SimProfile = SimProfile {
    name: "simcom",
    manufacturer: "SIMCOM_Ltd",
    model: "SIMCOM_SIM800L",
    revision: "Revision:1418B04SIM800L24",
    boot_banners: &["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"],
    iccid_command: "AT+CCID",
    iccid_prefix: "",
    unknown_command: "ERROR",
    refused_cnmi: &[],
    ussd_style: UssdStyle::Plain,
    noise: &["+CIEV: 10,\"51502\",\"Globe\",\"Globe\", 0, 0"],
};

/// Quectel EC25-style module: `RDY`, `+CFUN: 1`, `+CPIN: READY`, `+QUSIM: 1`,
/// `+QIND: SMS DONE`, `+QIND: PB DONE`; `AT+QCCID` (Quectel "EC2x&EG9x&EM05 AT Commands
/// Manual" V2.0, §5.6 and the URC list of §12).
pub static QUECTEL: SimProfile = SimProfile {
    name: "quectel",
    manufacturer: "Quectel",
    model: "EC25",
    revision: "EC25EFAR06A03M4G",
    boot_banners: &[
        "RDY",
        "+CFUN: 1",
        "+CPIN: READY",
        "+QUSIM: 1",
        "+QIND: SMS DONE",
        "+QIND: PB DONE",
    ],
    iccid_command: "AT+QCCID",
    iccid_prefix: "+QCCID",
    unknown_command: "ERROR",
    refused_cnmi: &[],
    ussd_style: UssdStyle::Plain,
    noise: &["+QIND: \"csq\",20,99"],
};

pub static PROFILES: &[&SimProfile] = &[&HUAWEI, &SIMCOM, &QUECTEL];

pub fn by_name(name: &str) -> Option<&'static SimProfile> {
    PROFILES
        .iter()
        .copied()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}
