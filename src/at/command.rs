//! AT commands as data: the text, an optional payload sent after the `> ` prompt, how long
//! to wait, and which response lines belong to the command. The exchange state machine
//! (`modem::exchange`) runs them; nothing here does I/O.

use std::time::Duration;

/// Ctrl-Z ends the PDU after the prompt (TS 27.005 §3.5.1).
pub const CTRL_Z: u8 = 0x1A;
/// ESC abandons the PDU after the prompt without sending.
pub const ESC: u8 = 0x1B;

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
    pub fn pin_enter(pin: &str) -> Self {
        Self::new(format!("AT+CPIN=\"{pin}\""), 10_000, Expect::Nothing)
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
    pub fn ussd(request: &str) -> Self {
        Self::new(
            format!("AT+CUSD=1,\"{request}\",15"),
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
        assert_eq!(Command::ussd("*143#").timeout, Duration::from_secs(30));
        assert_eq!(Command::ussd("*143#").text, "AT+CUSD=1,\"*143#\",15");
        assert_eq!(
            Command::new_message_indication(&[2, 1, 0, 2, 0]).text,
            "AT+CNMI=2,1,0,2,0"
        );
    }
}
