//! AT commands as data: the text, an optional payload sent after the `> ` prompt, how long
//! to wait, and which response lines belong to the command. The exchange state machine
//! (`modem::exchange`) runs them; nothing here does I/O.

use std::time::Duration;

/// Ctrl-Z ends the PDU after the prompt (TS 27.005 §3.5.1).
pub const CTRL_Z: u8 = 0x1A;
/// ESC abandons the PDU after the prompt without sending.
pub const ESC: u8 = 0x1B;

/// The longest USSD string a request may carry: 160 octets of packed GSM 7-bit hold 182
/// characters (TS 23.038 §6.1.2.3; TS 24.080 USSD-String).
pub const USSD_MAX_LEN: usize = 182;

/// A USSD string a client asked for (`*143#`, `*100*2#`, or `1` to answer a menu), checked so
/// that it can stand inside `AT+CUSD=1,"…"` without ending the quoted string or the command
/// line: digits, `*`, `#` and `+` only (the characters of TS 22.030 service codes and of
/// menu answers), 1 to [`USSD_MAX_LEN`] of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdString(String);

impl UssdString {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        check_chars(
            text,
            "a USSD code",
            USSD_MAX_LEN,
            |c| c.is_ascii_digit() || matches!(c, '*' | '#' | '+'),
            "digits, * # and +",
        )?;
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SIM PIN: 4 to 8 digits (TS 31.101 §9.4.x: PIN values are 4 to 8 decimal digits).
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if !(4..=8).contains(&text.len()) {
            return Err(ValueError(format!(
                "a SIM PIN has 4 to 8 digits, not {}",
                text.chars().count()
            )));
        }
        check_chars(text, "a SIM PIN", 8, |c| c.is_ascii_digit(), "digits")?;
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never shows the digits, so a PIN inside a config or a status cannot leak through `{:?}`.
impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<hidden>)")
    }
}

/// Why a value cannot go into an AT command, in words for the person who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

fn check_chars(
    text: &str,
    what: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    allowed_words: &str,
) -> Result<(), ValueError> {
    if text.is_empty() {
        return Err(ValueError(format!("{what} cannot be empty")));
    }
    if let Some((i, c)) = text.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        // The character is shown escaped: it may be a control character from a client.
        return Err(ValueError(format!(
            "{what} may hold only {allowed_words}; {:?} at position {} is not allowed",
            c,
            i + 1
        )));
    }
    let n = text.chars().count();
    if n > max {
        return Err(ValueError(format!(
            "{what} is {n} characters long; at most {max} fit"
        )));
    }
    Ok(())
}

/// Which lines a command collects as its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Only the final result code.
    Nothing,
    /// Lines with this prefix (`+CSQ`, `+CPIN`...). Other `+`/`^` lines are URCs.
    Prefixed(&'static str),
    /// Lines without a prefix (IMEI, model) and lines with this prefix when the modem adds one.
    Plain(&'static str),
    /// `+CMGR` / `+CMGL`: a header line with this prefix, then the PDU on the next line.
    StoredPdus(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Without the trailing CR.
    pub text: String,
    /// Sent after the `> ` prompt, followed by Ctrl-Z.
    pub payload: Option<String>,
    pub timeout: Duration,
    pub expect: Expect,
}

impl Command {
    fn new(text: impl Into<String>, timeout_ms: u64, expect: Expect) -> Self {
        Self {
            text: text.into(),
            payload: None,
            timeout: Duration::from_millis(timeout_ms),
            expect,
        }
    }

    /// The bytes written for the command line.
    pub fn line_bytes(&self) -> Vec<u8> {
        let mut v = self.text.as_bytes().to_vec();
        v.push(b'\r');
        v
    }

    /// The bytes written after the prompt.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        self.payload.as_ref().map(|p| {
            let mut v = p.as_bytes().to_vec();
            v.push(CTRL_Z);
            v
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A command that answers with a final result code only (5 s).
    pub fn raw(text: impl Into<String>) -> Self {
        Self::new(text, 5_000, Expect::Nothing)
    }

    /// `AT`: is anybody there.
    pub fn at() -> Self {
        Self::new("AT", 2_000, Expect::Nothing)
    }
    pub fn echo_off() -> Self {
        Self::new("ATE0", 2_000, Expect::Nothing)
    }
    /// `AT+CMEE=<n>`: 1 numeric error codes, 2 verbose.
    pub fn cmee(n: u8) -> Self {
        Self::new(format!("AT+CMEE={n}"), 2_000, Expect::Nothing)
    }
    pub fn reset() -> Self {
        Self::new("ATZ", 5_000, Expect::Nothing)
    }
    /// `AT+CFUN=1,1`: full functionality with a reset, where the family supports it.
    pub fn cfun_reset() -> Self {
        Self::new("AT+CFUN=1,1", 15_000, Expect::Nothing)
    }
    pub fn pin_query() -> Self {
        Self::new("AT+CPIN?", 5_000, Expect::Prefixed("+CPIN"))
    }
    /// Enters the PIN. The text holds the PIN: callers must never log a `Command` built here.
    pub fn pin_enter(pin: &Pin) -> Self {
        Self::new(
            format!("AT+CPIN=\"{}\"", pin.as_str()),
            10_000,
            Expect::Nothing,
        )
    }
    /// A question about the SIM's PIN attempts left, in a family's own words.
    pub fn pin_retries(command: &'static str, prefix: &'static str) -> Self {
        Self::new(command, 2_000, Expect::Prefixed(prefix))
    }
    /// `AT+CMGF=0`: PDU mode.
    pub fn pdu_mode() -> Self {
        Self::new("AT+CMGF=0", 2_000, Expect::Nothing)
    }
    pub fn csms_query() -> Self {
        Self::new("AT+CSMS?", 2_000, Expect::Prefixed("+CSMS"))
    }
    /// `AT+CPMS="a","b","c"`: preferred storage for reading, writing and receiving.
    pub fn storage(read: &str, write: &str, receive: &str) -> Self {
        Self::new(
            format!("AT+CPMS=\"{read}\",\"{write}\",\"{receive}\""),
            5_000,
            Expect::Prefixed("+CPMS"),
        )
    }
    pub fn storage_query() -> Self {
        Self::new("AT+CPMS?", 5_000, Expect::Prefixed("+CPMS"))
    }
    /// `AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>`.
    pub fn new_message_indication(values: &[u8]) -> Self {
        let v: Vec<String> = values.iter().map(u8::to_string).collect();
        Self::new(format!("AT+CNMI={}", v.join(",")), 2_000, Expect::Nothing)
    }
    pub fn smsc_query() -> Self {
        Self::new("AT+CSCA?", 2_000, Expect::Prefixed("+CSCA"))
    }
    pub fn manufacturer() -> Self {
        Self::new("AT+CGMI", 2_000, Expect::Plain("+CGMI"))
    }
    pub fn model() -> Self {
        Self::new("AT+CGMM", 2_000, Expect::Plain("+CGMM"))
    }
    pub fn revision() -> Self {
        Self::new("AT+CGMR", 2_000, Expect::Plain("+CGMR"))
    }
    pub fn imei() -> Self {
        Self::new("AT+CGSN", 2_000, Expect::Plain("+CGSN"))
    }
    pub fn imsi() -> Self {
        Self::new("AT+CIMI", 2_000, Expect::Plain("+CIMI"))
    }
    /// The ICCID command differs per family (`AT+CCID`, `AT^ICCID?`, `AT+QCCID`).
    pub fn iccid(command: &'static str, prefix: &'static str) -> Self {
        Self::new(command, 2_000, Expect::Plain(prefix))
    }
    pub fn registration_query() -> Self {
        Self::new("AT+CREG?", 2_000, Expect::Prefixed("+CREG"))
    }
    pub fn signal_query() -> Self {
        Self::new("AT+CSQ", 2_000, Expect::Prefixed("+CSQ"))
    }
    /// `AT+COPS?` can take seconds while the modem scans.
    pub fn operator_query() -> Self {
        Self::new("AT+COPS?", 10_000, Expect::Prefixed("+COPS"))
    }
    /// `AT+CMGS=<tpdu length>`, then the PDU hex after the prompt. The network may take tens
    /// of seconds to answer; the default of 60 s is configurable by the caller.
    pub fn send_pdu(tpdu_len: usize, pdu_hex: &str) -> Self {
        let mut c = Self::new(
            format!("AT+CMGS={tpdu_len}"),
            60_000,
            Expect::Prefixed("+CMGS"),
        );
        c.payload = Some(pdu_hex.to_string());
        c
    }
    pub fn read_message(index: u32) -> Self {
        Self::new(
            format!("AT+CMGR={index}"),
            5_000,
            Expect::StoredPdus("+CMGR"),
        )
    }
    /// `AT+CMGL=4`: every stored message, in PDU mode.
    pub fn list_messages() -> Self {
        Self::new("AT+CMGL=4", 30_000, Expect::StoredPdus("+CMGL"))
    }
    pub fn delete_message(index: u32) -> Self {
        Self::new(format!("AT+CMGD={index}"), 5_000, Expect::Nothing)
    }
    /// `AT+CNMA`: acknowledges a `+CMT`/`+CDS` routed directly, for modems that require it.
    pub fn ack_message() -> Self {
        Self::new("AT+CNMA", 2_000, Expect::Nothing)
    }
    /// `AT+CUSD=1,"<code>",15`: the answer arrives as a `+CUSD` line, usually after the OK,
    /// so it is always taken as an unsolicited code, whichever side of the OK it lands on.
    /// The timeout is for the whole wait, answer included.
    pub fn ussd(request: &UssdString) -> Self {
        Self::new(
            format!("AT+CUSD=1,\"{}\",15", request.as_str()),
            30_000,
            Expect::Nothing,
        )
    }
    /// Hangs up a ringing call (`ATH`; `AT+CHUP` on some families).
    pub fn hang_up(command: &'static str) -> Self {
        Self::new(command, 5_000, Expect::Nothing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_pdu_carries_its_payload_and_timeout() {
        let c = Command::send_pdu(18, "0001000C91");
        assert_eq!(c.line_bytes(), b"AT+CMGS=18\r");
        assert_eq!(c.payload_bytes().unwrap(), b"0001000C91\x1A");
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.expect, Expect::Prefixed("+CMGS"));
        let c = c.with_timeout(Duration::from_secs(20));
        assert_eq!(c.timeout, Duration::from_secs(20));
    }

    #[test]
    fn timeouts_per_command() {
        assert_eq!(Command::at().timeout, Duration::from_secs(2));
        let code = UssdString::parse("*143#").unwrap();
        assert_eq!(Command::ussd(&code).timeout, Duration::from_secs(30));
        assert_eq!(Command::ussd(&code).text, "AT+CUSD=1,\"*143#\",15");
        assert_eq!(
            Command::new_message_indication(&[2, 1, 0, 2, 0]).text,
            "AT+CNMI=2,1,0,2,0"
        );
    }

    /// Every shape that could end the quoted string or the command line, or start a second
    /// command, is refused before any command is built.
    #[test]
    fn ussd_values_cannot_break_out_of_the_command() {
        for bad in [
            "*143#\",15\rAT+CMGF=1\r",
            "*143#\"",
            "*143#;+CMGF=1",
            "*143#\r\nAT+CSCA=\"+10000\"",
            "*143#\n",
            "*143#\x1a",
            "*143#\x1b",
            "*143#\0",
            "*143# ",
            "AT",
            "*１４３#",
            "",
        ] {
            assert!(UssdString::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = "1".repeat(USSD_MAX_LEN + 1);
        assert!(
            UssdString::parse(&long)
                .unwrap_err()
                .0
                .contains("at most 182")
        );
        let e = UssdString::parse("*143#\"").unwrap_err().0;
        assert!(e.contains("'\"' at position 6"), "{e}");
        for good in ["*143#", "*100*2#", "1", "#123#", "+63917"] {
            let code = UssdString::parse(good).unwrap();
            let line = Command::ussd(&code).line_bytes();
            // One command line: a single CR at the end and exactly two quotes.
            assert_eq!(line.iter().filter(|&&b| b == b'\r').count(), 1);
            assert_eq!(line.iter().filter(|&&b| b == b'"').count(), 2);
        }
    }

    #[test]
    fn pins_are_digits_and_never_shown() {
        for bad in ["123", "123456789", "12a4", "1234\"", "12\r4", "１２３４"] {
            assert!(Pin::parse(bad).is_err(), "{bad:?} accepted");
        }
        let pin = Pin::parse("0000").unwrap();
        assert_eq!(Command::pin_enter(&pin).text, "AT+CPIN=\"0000\"");
        assert!(!format!("{pin:?}").contains("0000"));
    }
}
