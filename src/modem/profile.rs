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
}

const CNMI_DEFAULT: &[[u8; 5]] = &[
    [2, 1, 0, 2, 0],
    [2, 1, 0, 1, 0],
    [1, 1, 0, 2, 0],
    [1, 1, 0, 1, 0],
    [2, 1, 0, 0, 0],
    [1, 1, 0, 0, 0],
];

pub static GENERIC: Profile = Profile {
    name: "generic",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+CCID", "+CCID"),
    reset: &["ATZ"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
};

/// Huawei sticks in stick (not HiLink) mode: `AT^ICCID?`, packed-hex USSD answers; several
/// refuse `<ds>=2`, so the fallbacks matter.
pub static HUAWEI: Profile = Profile {
    name: "huawei",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT^ICCID?", "^ICCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::PackedHex,
    hang_up: "ATH",
};

pub static SIMCOM: Profile = Profile {
    name: "simcom",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+CCID", "+CCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
};

pub static QUECTEL: Profile = Profile {
    name: "quectel",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+QCCID", "+QCCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
};

/// ZTE MF-series sticks: like Huawei's in most ways, `AT+ZGETICCID` for the ICCID.
pub static ZTE: Profile = Profile {
    name: "zte",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+ZGETICCID", "+ZGETICCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::PackedHex,
    hang_up: "ATH",
};

/// Wavecom / Sierra Fastrack: `AT+CCID`, `AT+CFUN=1` resets.
pub static WAVECOM: Profile = Profile {
    name: "wavecom",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+CCID", "+CCID"),
    reset: &["ATZ", "AT+CFUN=1"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
};

/// Telit modules (GE/HE/LE/ME series): the ICCID comes from `AT#CCID`.
pub static TELIT: Profile = Profile {
    name: "telit",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT#CCID", "#CCID"),
    reset: &["ATZ", "AT#REBOOT"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
};

/// Fibocom G510 and kin: `AT+CCID`.
pub static FIBOCOM: Profile = Profile {
    name: "fibocom",
    cnmi: CNMI_DEFAULT,
    storage: ["SM", "SM", "SM"],
    iccid: ("AT+CCID", "+CCID"),
    reset: &["ATZ", "AT+CFUN=1,1"],
    ussd_style: UssdStyle::Plain,
    hang_up: "ATH",
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
