//! Per-family modem differences as data: the bring-up in `actor.rs` is one sequence that
//! reads these fields, never a branch on a family name.

use crate::at::parse::UssdStyle;

#[derive(Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// `AT+CNMI` settings to try, most wanted first (TS 27.005 §3.4.1). The first stores
    /// new messages and status reports and announces them (`+CMTI`, `+CDSI`), so nothing is
    /// lost if the daemon is busy; the fallbacks trade that for what the modem accepts.
    pub cnmi: &'static [[u8; 5]],
    /// `AT+CPMS` storages (read, write, receive); "SM" is the SIM.
    pub storage: [&'static str; 3],
    /// The ICCID command and its answer prefix.
    pub iccid: (&'static str, &'static str),
    /// Commands that reset a modem that stopped answering, in order.
    pub reset: &'static [&'static str],
    pub ussd_style: UssdStyle,
    /// Hangs up an incoming call.
    pub hang_up: &'static str,
    /// Commands that tell how many PIN attempts the SIM has left, with their answer prefix,
    /// tried in order (see `parse::parse_pin_retries`).
    pub pin_retries: &'static [(&'static str, &'static str)],
}

/// TS 27.007 §8.65, which newer modules of every family answer.
const CPINR: (&str, &str) = ("AT+CPINR=\"SIM PIN\"", "+CPINR");

const CNMI_DEFAULT: &[[u8; 5]] = &[
    [2, 1, 0, 2, 0],
    [2, 1, 0, 1, 0],
    [1, 1, 0, 2, 0],
    [1, 1, 0, 1, 0],
    [2, 1, 0, 0, 0],
    [1, 1, 0, 0, 0],
];

/// What most modems do; the family profiles below say only how they differ.
const BASE: Profile = Profile {
    name: "generic",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+CCID", "+CCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
    pin_retries: &[CPINR],
};

/// Resets with `ATZ` only: some modules take `AT+CFUN=1,1` as "power off".
pub static GENERIC: Profile = Profile {
    reset: &["ATZ"],
    ..BASE
};

/// Huawei sticks in stick (not HiLink) mode: `AT^ICCID?`, packed-hex USSD answers; several
/// refuse `<ds>=2`, so the fallbacks matter.
pub static HUAWEI: Profile = Profile {
    name: "huawei",
    iccid: ("AT^ICCID?", "^ICCID"),
    ussd_style: UssdStyle::PackedHex,
    pin_retries: &[("AT^CPIN?", "^CPIN"), CPINR],
    ..BASE
};

pub static SIMCOM: Profile = Profile {
    name: "simcom",
    pin_retries: &[("AT+SPIC", "+SPIC"), CPINR],
    ..BASE
};

pub static QUECTEL: Profile = Profile {
    name: "quectel",
    iccid: ("AT+QCCID", "+QCCID"),
    pin_retries: &[("AT+QPINC=\"SC\"", "+QPINC"), CPINR],
    ..BASE
};

/// ZTE MF-series sticks: like Huawei's in most ways, `AT+ZGETICCID` for the ICCID.
pub static ZTE: Profile = Profile {
    name: "zte",
    iccid: ("AT+ZGETICCID", "+ZGETICCID"),
    ussd_style: UssdStyle::PackedHex,
    ..BASE
};

/// Wavecom / Sierra Fastrack: `AT+CCID`, `AT+CFUN=1` resets.
pub static WAVECOM: Profile = Profile {
    name: "wavecom",
    reset: &["ATZ", "AT+CFUN=1"],
    ..BASE
};

/// Telit modules (GE/HE/LE/ME series): the ICCID comes from `AT#CCID`.
pub static TELIT: Profile = Profile {
    name: "telit",
    iccid: ("AT#CCID", "#CCID"),
    reset: &["ATZ", "AT#REBOOT"],
    ..BASE
};

/// Fibocom G510 and kin: `AT+CCID`.
pub static FIBOCOM: Profile = Profile {
    name: "fibocom",
    ..BASE
};

pub static PROFILES: &[&Profile] = &[
    &GENERIC, &HUAWEI, &SIMCOM, &QUECTEL, &ZTE, &WAVECOM, &TELIT, &FIBOCOM,
];

pub fn by_name(name: &str) -> Option<&'static Profile> {
    PROFILES
        .iter()
        .copied()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}
