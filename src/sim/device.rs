//! The simulated modem itself: an AT interpreter with a SIM store, a PIN, a network and an
//! outbox. Pure: bytes in, [`Output`] out; the pty shell in `sim/mod.rs` adds time and faults.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::at::codes::{CmeError, CmsError};
use crate::at::parse::UssdStyle;
use crate::pdu::{
    self, Address, DecodeOptions, DeliverSpec, PlanOptions, Timestamp, Tpdu, TpduKind,
};

use super::profile::SimProfile;

/// What the device wants written, now or later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Now(Vec<u8>),
    /// The answer to `AT+CMGS`, which waits for the simulated network.
    AfterNetwork(Vec<u8>),
    /// Something that happens later on its own.
    Later(Duration, Deferred),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    StatusReport {
        mr: u8,
        recipient: String,
        status: u8,
    },
    UssdAnswer {
        text: String,
    },
    Reboot,
}

/// A message the simulated network accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub mr: u8,
    pub recipient: String,
    /// The part's text (or hex of 8-bit data).
    pub text: String,
    pub concat: Option<(u16, u8, u8)>,
    pub status_report_requested: bool,
    pub pdu_hex: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub stat: u8,
    pub pdu_hex: String,
    pub tpdu_len: usize,
}

/// How noise on the line damages the answer to one `AT+CMGS` (the message itself is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDamage {
    /// `OK` arrives as `0K`.
    Final,
    /// `+CMGS: <mr>` arrives as `+CMG$: <mr>`.
    Reference,
    /// Both.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    Ready,
    NeedsPin,
    NeedsPuk,
}

/// Timings the device asks the shell for.
#[derive(Debug, Clone)]
pub struct Timings {
    pub status_report_delay: Duration,
    pub ussd_delay: Duration,
    pub reboot_delay: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            status_report_delay: Duration::from_millis(300),
            ussd_delay: Duration::from_millis(200),
            reboot_delay: Duration::from_millis(300),
        }
    }
}

#[derive(Debug)]
pub struct Device {
    pub profile: &'static SimProfile,
    pub timings: Timings,
    // Modem settings, reset at boot.
    echo: bool,
    cmee: u8,
    pdu_mode: bool,
    cnmi: [u8; 5],
    creg_urc: u8,
    // SIM.
    pub sim_present: bool,
    pub pin: Option<String>,
    pub pin_status: PinStatus,
    pub pin_attempts_left: u8,
    pub imsi: String,
    pub iccid: String,
    // Network.
    pub registered: bool,
    pub operator: String,
    pub rssi: u8,
    pub smsc: String,
    /// Status reports for sends that asked for one, after `timings.status_report_delay`.
    pub auto_status_reports: bool,
    /// TP-ST of the next automatic status reports (default 0x00, delivered).
    pub report_status: VecDeque<u8>,
    // Storage and traffic.
    pub storage: BTreeMap<u32, StoredMessage>,
    pub capacity: u32,
    first_index: u32,
    /// Inbound messages waiting because storage was full.
    pub network_queue: VecDeque<(usize, String)>,
    pub sent: Vec<SentMessage>,
    next_mr: u8,
    /// `+CMS ERROR` codes for the next sends, in order.
    pub fail_sends: VecDeque<u16>,
    /// `+CMS ERROR` codes for sends to one recipient: the first matching entry is used up.
    pub fail_for: Vec<(String, u16)>,
    pub ussd_answer: String,
    /// The next this many `AT+CMGR`/`AT+CMGL` answers carry a PDU damaged on the line (cut
    /// short), as noise on a serial line does.
    pub damaged_reads: u32,
    /// The next this many `AT+CMGR` answers are lost on the line entirely.
    pub lost_reads: u32,
    /// Damage to the answers of the next sends, in order.
    pub damaged_send_answers: VecDeque<SendDamage>,
    /// Status reports issued so far (each gets its own time stamp).
    reports_sent: u32,
    /// Texts delivered so far by `deliver_text` (each gets its own time stamp).
    texts_delivered: u32,
    // Input state.
    input: Vec<u8>,
    awaiting_pdu: Option<usize>,
}

impl Device {
    pub fn new(profile: &'static SimProfile) -> Self {
        let mut d = Self {
            profile,
            timings: Timings::default(),
            echo: true,
            cmee: 0,
            pdu_mode: false,
            cnmi: [0; 5],
            creg_urc: 0,
            sim_present: true,
            pin: None,
            pin_status: PinStatus::Ready,
            pin_attempts_left: 3,
            imsi: "515021234567890".into(),
            iccid: "8963021234567890123".into(),
            registered: true,
            operator: "Globe Telecom".into(),
            rssi: 21,
            smsc: "+639180000100".into(),
            auto_status_reports: true,
            report_status: VecDeque::new(),
            storage: BTreeMap::new(),
            capacity: 30,
            first_index: if profile.name == "huawei" { 0 } else { 1 },
            network_queue: VecDeque::new(),
            sent: Vec::new(),
            next_mr: 1,
            fail_sends: VecDeque::new(),
            fail_for: Vec::new(),
            ussd_answer: "Your balance is P10.50, valid until 31/12.".into(),
            damaged_reads: 0,
            lost_reads: 0,
            damaged_send_answers: VecDeque::new(),
            reports_sent: 0,
            texts_delivered: 0,
            input: Vec::new(),
            awaiting_pdu: None,
        };
        d.reset_settings();
        d
    }

    /// Whether the device is taking PDU text after `AT+CMGS` (its `> ` prompt is open).
    pub fn at_prompt(&self) -> bool {
        self.awaiting_pdu.is_some()
    }

    /// The modem loses its settings without a banner (a brown-out, a firmware watchdog):
    /// text mode again, echo on, no new-message routing.
    pub fn forget_settings(&mut self) {
        self.reset_settings();
    }

    /// A SIM that asks for `pin` at power-up.
    pub fn require_pin(&mut self, pin: &str) {
        self.pin = Some(pin.to_string());
        self.pin_status = PinStatus::NeedsPin;
        self.pin_attempts_left = 3;
    }

    fn reset_settings(&mut self) {
        self.echo = true;
        self.cmee = 0;
        self.pdu_mode = false;
        self.cnmi = [0; 5];
        self.creg_urc = 0;
        self.input.clear();
        self.awaiting_pdu = None;
    }

    /// Power-up or reset: settings back to defaults, banners out. A SIM with a PIN locks again.
    pub fn boot(&mut self) -> Vec<u8> {
        self.reset_settings();
        if self.pin.is_some() && self.pin_status == PinStatus::Ready {
            self.pin_status = PinStatus::NeedsPin;
        }
        let mut out = Vec::new();
        for banner in self.profile.boot_banners {
            if banner.starts_with("+CPIN") && self.pin_status != PinStatus::Ready {
                out.extend_from_slice(b"\r\n+CPIN: SIM PIN\r\n");
                continue;
            }
            out.extend_from_slice(format!("\r\n{banner}\r\n").as_bytes());
        }
        out
    }

    /// Bytes from the host.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Output> {
        let mut outputs = Vec::new();
        for &b in bytes {
            if let Some(len) = self.awaiting_pdu {
                match b {
                    0x1A => {
                        self.awaiting_pdu = None;
                        let pdu = String::from_utf8_lossy(&self.input).trim().to_string();
                        self.input.clear();
                        outputs.extend(self.submit(len, &pdu));
                    }
                    0x1B => {
                        // Abandoned: nothing is sent, nothing is answered but OK.
                        self.awaiting_pdu = None;
                        self.input.clear();
                        outputs.push(Output::Now(b"\r\nOK\r\n".to_vec()));
                    }
                    b'\r' | b'\n' => {}
                    // A real modem's input buffer is finite; what overflows is lost.
                    _ if self.input.len() < 1024 => self.input.push(b),
                    _ => {}
                }
                continue;
            }
            match b {
                b'\r' => {
                    let line = String::from_utf8_lossy(&self.input).trim().to_string();
                    self.input.clear();
                    if line.is_empty() {
                        continue;
                    }
                    if self.echo {
                        outputs.push(Output::Now(format!("{line}\r").into_bytes()));
                    }
                    outputs.extend(self.command(&line));
                }
                b'\n' => {}
                // ESC in command mode abandons the partial line, silently.
                0x1B => self.input.clear(),
                _ if self.input.len() < 1024 => self.input.push(b),
                _ => {}
            }
        }
        outputs
    }

    fn ok() -> Output {
        Output::Now(b"\r\nOK\r\n".to_vec())
    }

    fn lines(lines: &[String]) -> Output {
        let mut v = Vec::new();
        for l in lines {
            v.extend_from_slice(format!("\r\n{l}\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\nOK\r\n");
        Output::Now(v)
    }

    fn cms(&self, code: u16) -> Output {
        let text = match self.cmee {
            0 => "ERROR".to_string(),
            1 => format!("+CMS ERROR: {code}"),
            _ => format!("+CMS ERROR: {}", CmsError::from_code(code).text()),
        };
        Output::Now(format!("\r\n{text}\r\n").into_bytes())
    }

    fn cme(&self, code: u16) -> Output {
        let text = match self.cmee {
            0 => "ERROR".to_string(),
            1 => format!("+CME ERROR: {code}"),
            _ => format!("+CME ERROR: {}", CmeError::from_code(code).text()),
        };
        Output::Now(format!("\r\n{text}\r\n").into_bytes())
    }

    fn error(&self) -> Output {
        Output::Now(format!("\r\n{}\r\n", self.profile.unknown_command).into_bytes())
    }

    /// SIM state check for commands that need an unlocked SIM.
    fn sim_block(&self, sms: bool) -> Option<Output> {
        let code = if !self.sim_present {
            Some(if sms { 310 } else { 10 })
        } else {
            match self.pin_status {
                PinStatus::Ready => None,
                PinStatus::NeedsPin => Some(if sms { 311 } else { 11 }),
                PinStatus::NeedsPuk => Some(if sms { 316 } else { 12 }),
            }
        };
        code.map(|c| if sms { self.cms(c) } else { self.cme(c) })
    }

    fn command(&mut self, line: &str) -> Vec<Output> {
        let upper = line.to_ascii_uppercase();
        let (name, arg) = match upper.find(['=', '?']) {
            Some(i) => (&upper[..i], &line[i..]),
            None => (upper.as_str(), ""),
        };
        let value = arg.strip_prefix('=').unwrap_or("");
        let query = arg == "?";
        let nums =
            |s: &str| -> Vec<u8> { s.split(',').filter_map(|x| x.trim().parse().ok()).collect() };
        let out = match name {
            "AT" => Self::ok(),
            "ATE0" => {
                self.echo = false;
                Self::ok()
            }
            "ATE1" | "ATE" => {
                self.echo = true;
                Self::ok()
            }
            "ATZ" => {
                self.reset_settings();
                Self::ok()
            }
            "AT+CFUN" if value.replace(' ', "") == "1,1" => {
                return vec![
                    Self::ok(),
                    Output::Later(self.timings.reboot_delay, Deferred::Reboot),
                ];
            }
            "AT+CFUN" if query => Self::lines(&["+CFUN: 1".into()]),
            "AT+CFUN" => Self::ok(),
            "AT+CMEE" => {
                self.cmee = nums(value).first().copied().unwrap_or(0);
                Self::ok()
            }
            "AT+CMGF" => match value.trim() {
                "0" => {
                    self.pdu_mode = true;
                    Self::ok()
                }
                "1" => {
                    self.pdu_mode = false;
                    Self::ok()
                }
                _ => self.cms(304),
            },
            "AT+CPIN" if query => {
                if !self.sim_present {
                    self.cme(10)
                } else {
                    let state = match self.pin_status {
                        PinStatus::Ready => "READY",
                        PinStatus::NeedsPin => "SIM PIN",
                        PinStatus::NeedsPuk => "SIM PUK",
                    };
                    Self::lines(&[format!("+CPIN: {state}")])
                }
            }
            "AT+CPIN" => self.enter_pin(value.trim().trim_matches('"')),
            // PIN attempts left: the standard form and each family's own (TS 27.007 §8.65;
            // Huawei ^CPIN, SIMCom +SPIC, Quectel +QPINC).
            "AT+CPINR" if self.sim_present => {
                Self::lines(&[format!("+CPINR: \"SIM PIN\",{},3", self.pin_attempts_left)])
            }
            "AT^CPIN" if query && self.sim_present && self.profile.name == "huawei" => {
                let code = match self.pin_status {
                    PinStatus::Ready => "READY",
                    PinStatus::NeedsPin => "SIM PIN",
                    PinStatus::NeedsPuk => "SIM PUK",
                };
                Self::lines(&[format!("^CPIN: {code},,10,{},10,3", self.pin_attempts_left)])
            }
            "AT+SPIC" if self.sim_present && self.profile.name == "simcom" => {
                Self::lines(&[format!("+SPIC: {},3,10,10", self.pin_attempts_left)])
            }
            "AT+QPINC" if self.sim_present && self.profile.name == "quectel" => {
                Self::lines(&[format!("+QPINC: \"SC\",{},10", self.pin_attempts_left)])
            }
            "AT+CSMS" => Self::lines(&["+CSMS: 0,1,1,1".into()]),
            "AT+CPMS" => match self.sim_block(true) {
                Some(block) => block,
                None => {
                    let used = self.storage.len();
                    let cap = self.capacity;
                    if query {
                        Self::lines(&[format!(
                            "+CPMS: \"SM\",{used},{cap},\"SM\",{used},{cap},\"SM\",{used},{cap}"
                        )])
                    } else if value.to_ascii_uppercase().contains("\"SM\"")
                        || value.to_ascii_uppercase().contains("\"ME\"")
                        || value.to_ascii_uppercase().contains("\"MT\"")
                    {
                        Self::lines(&[format!("+CPMS: {used},{cap},{used},{cap},{used},{cap}")])
                    } else {
                        self.cms(302)
                    }
                }
            },
            "AT+CNMI" if query => {
                let v: Vec<String> = self.cnmi.iter().map(u8::to_string).collect();
                Self::lines(&[format!("+CNMI: {}", v.join(","))])
            }
            "AT+CNMI" => {
                let v = nums(value);
                let mut cnmi = [0u8; 5];
                for (slot, x) in cnmi.iter_mut().zip(&v) {
                    *slot = *x;
                }
                if v.is_empty() || self.profile.refused_cnmi.contains(&cnmi) {
                    self.cms(303)
                } else {
                    self.cnmi = cnmi;
                    Self::ok()
                }
            }
            "AT+CSCA" if query => Self::lines(&[format!("+CSCA: \"{}\",145", self.smsc)]),
            "AT+CGMI" => Self::lines(&[self.profile.manufacturer.into()]),
            "AT+CGMM" => Self::lines(&[self.profile.model.into()]),
            "AT+CGMR" => Self::lines(&[self.profile.revision.into()]),
            "AT+CGSN" => Self::lines(&["866123456789012".into()]),
            "AT+CIMI" => match self.sim_block(false) {
                Some(block) => block,
                None => Self::lines(std::slice::from_ref(&self.imsi)),
            },
            // EF-ICCID may always be read, PIN or not (TS 31.102 §4.1.1, TS 51.011 §10.1.1).
            _ if line.eq_ignore_ascii_case(self.profile.iccid_command)
                || name == self.profile.iccid_command.trim_end_matches('?') =>
            {
                match (!self.sim_present).then(|| self.cme(10)) {
                    Some(block) => block,
                    None if self.profile.iccid_prefix.is_empty() => {
                        Self::lines(std::slice::from_ref(&self.iccid))
                    }
                    None => {
                        Self::lines(&[format!("{}: {}", self.profile.iccid_prefix, self.iccid)])
                    }
                }
            }
            "AT+CREG" if query => {
                let stat = self.creg_stat();
                Self::lines(&[format!("+CREG: {},{stat}", self.creg_urc)])
            }
            "AT+CREG" => {
                self.creg_urc = nums(value).first().copied().unwrap_or(0);
                Self::ok()
            }
            "AT+CSQ" => Self::lines(&[format!(
                "+CSQ: {},99",
                if self.registered { self.rssi } else { 99 }
            )]),
            "AT+COPS" if query => {
                if self.registered {
                    Self::lines(&[format!("+COPS: 0,0,\"{}\",2", self.operator)])
                } else {
                    Self::lines(&["+COPS: 0".into()])
                }
            }
            "AT+COPS" => Self::ok(),
            "AT+CMGS" => return self.begin_submit(value),
            "AT+CMGR" => self.read(value),
            "AT+CMGL" => self.list(),
            "AT+CMGD" => match self.sim_block(true) {
                Some(block) => block,
                None => {
                    let index = value.split(',').next().and_then(|x| x.trim().parse().ok());
                    match index {
                        Some(i)
                            if i >= self.first_index && i < self.first_index + self.capacity =>
                        {
                            self.storage.remove(&i);
                            let mut out = vec![Self::ok()];
                            out.extend(self.drain_network_queue());
                            return out;
                        }
                        _ => self.cms(321),
                    }
                }
            },
            "AT+CNMA" => {
                if self.cnmi[1] == 2 || self.cnmi[3] == 1 {
                    Self::ok()
                } else {
                    self.cms(340)
                }
            }
            "AT+CUSD" => return self.ussd(value),
            "ATH" | "AT+CHUP" => Self::ok(),
            _ => self.error(),
        };
        vec![out]
    }

    fn creg_stat(&self) -> u8 {
        if !self.registered { 2 } else { 1 }
    }

    fn enter_pin(&mut self, pin: &str) -> Output {
        match self.pin_status {
            PinStatus::Ready => self.cme(3),
            PinStatus::NeedsPuk => self.cme(12),
            PinStatus::NeedsPin => {
                if self.pin.as_deref() == Some(pin) {
                    self.pin_status = PinStatus::Ready;
                    self.pin_attempts_left = 3;
                    Self::ok()
                } else {
                    self.pin_attempts_left = self.pin_attempts_left.saturating_sub(1);
                    if self.pin_attempts_left == 0 {
                        self.pin_status = PinStatus::NeedsPuk;
                    }
                    self.cme(16)
                }
            }
        }
    }

    fn begin_submit(&mut self, value: &str) -> Vec<Output> {
        if let Some(block) = self.sim_block(true) {
            return vec![block];
        }
        if !self.pdu_mode {
            return vec![self.cms(302)];
        }
        match value.trim().parse::<usize>() {
            Ok(len) if (7..=164).contains(&len) => {
                self.awaiting_pdu = Some(len);
                vec![Output::Now(b"\r\n> ".to_vec())]
            }
            _ => vec![self.cms(304)],
        }
    }

    fn submit(&mut self, tpdu_len: usize, pdu_hex: &str) -> Vec<Output> {
        let decoded = pdu::decode_hex(
            pdu_hex,
            DecodeOptions {
                has_smsc: true,
                kind: TpduKind::Submit,
            },
        );
        let smsc_len = pdu::hex::decode(pdu_hex)
            .ok()
            .and_then(|b| b.first().map(|&l| usize::from(l) + 1));
        let (Ok(pdu), Some(smsc_len)) = (decoded, smsc_len) else {
            return vec![self.cms(304)];
        };
        if pdu_hex.len() / 2 != smsc_len + tpdu_len {
            return vec![self.cms(304)];
        }
        let Tpdu::Submit(submit) = pdu.tpdu else {
            return vec![self.cms(304)];
        };
        let recipient_failure = self
            .fail_for
            .iter()
            .position(|(to, _)| *to == submit.recipient.to_string())
            .map(|i| self.fail_for.remove(i).1);
        if let Some(code) = recipient_failure.or_else(|| self.fail_sends.pop_front()) {
            let out = self.cms(code);
            let Output::Now(bytes) = out else {
                return vec![out];
            };
            return vec![Output::AfterNetwork(bytes)];
        }
        if !self.registered {
            return vec![self.cms(331)];
        }
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        let text = match &submit.user_data.body {
            pdu::Body::Text(t) => t.clone(),
            pdu::Body::Data(d) | pdu::Body::Compressed(d) => pdu::hex::encode(d),
        };
        let recipient = submit.recipient.to_string();
        self.sent.push(SentMessage {
            mr,
            recipient: recipient.clone(),
            text,
            concat: submit
                .user_data
                .header
                .as_ref()
                .and_then(|h| h.concat)
                .map(|c| (c.reference, c.total, c.part)),
            status_report_requested: submit.status_report_request,
            pdu_hex: pdu_hex.to_string(),
        });
        let (answer, fin) = match self.damaged_send_answers.pop_front() {
            None => ("+CMGS", "OK"),
            Some(SendDamage::Final) => ("+CMGS", "0K"),
            Some(SendDamage::Reference) => ("+CMG$", "OK"),
            Some(SendDamage::Both) => ("+CMG$", "0K"),
        };
        let mut out = vec![Output::AfterNetwork(
            format!("\r\n{answer}: {mr}\r\n\r\n{fin}\r\n").into_bytes(),
        )];
        if submit.status_report_request && self.auto_status_reports {
            let status = self.report_status.pop_front().unwrap_or(0x00);
            out.push(Output::Later(
                self.timings.status_report_delay,
                Deferred::StatusReport {
                    mr,
                    recipient,
                    status,
                },
            ));
        }
        out
    }

    fn read(&mut self, value: &str) -> Output {
        if let Some(block) = self.sim_block(true) {
            return block;
        }
        let Some(index) = value.trim().parse::<u32>().ok() else {
            return self.cms(321);
        };
        if index < self.first_index || index >= self.first_index + self.capacity {
            return self.cms(321);
        }
        if self.lost_reads > 0 {
            self.lost_reads -= 1;
            if let Some(m) = self.storage.get_mut(&index) {
                m.stat = m.stat.max(1);
            }
            return Output::Now(Vec::new());
        }
        match self.storage.get_mut(&index) {
            None => Self::ok(),
            Some(m) => {
                let line = format!("+CMGR: {},,{}", m.stat, m.tpdu_len);
                if m.stat == 0 {
                    m.stat = 1;
                }
                let pdu = m.pdu_hex.clone();
                let pdu = self.maybe_damaged(pdu);
                Self::lines(&[line, pdu])
            }
        }
    }

    fn list(&mut self) -> Output {
        if let Some(block) = self.sim_block(true) {
            return block;
        }
        let mut lines = Vec::new();
        let mut pdus = Vec::new();
        for (i, m) in self.storage.iter_mut() {
            lines.push(format!("+CMGL: {i},{},,{}", m.stat, m.tpdu_len));
            pdus.push(m.pdu_hex.clone());
            if m.stat == 0 {
                m.stat = 1;
            }
        }
        let mut out = Vec::new();
        for (header, pdu) in lines.into_iter().zip(pdus) {
            out.push(header);
            out.push(self.maybe_damaged(pdu));
        }
        Self::lines(&out)
    }

    /// The PDU as the line delivers it: cut short while `damaged_reads` lasts.
    fn maybe_damaged(&mut self, pdu: String) -> String {
        if self.damaged_reads == 0 {
            return pdu;
        }
        self.damaged_reads -= 1;
        pdu[..pdu.len() / 2].to_string()
    }

    fn ussd(&mut self, value: &str) -> Vec<Output> {
        if let Some(block) = self.sim_block(false) {
            return vec![block];
        }
        if !self.registered {
            return vec![self.cme(30)];
        }
        if value.trim_start().starts_with('2') {
            return vec![Self::ok()];
        }
        vec![
            Self::ok(),
            Output::Later(
                self.timings.ussd_delay,
                Deferred::UssdAnswer {
                    text: self.ussd_answer.clone(),
                },
            ),
        ]
    }

    /// Runs something that was deferred; returns the bytes to write.
    pub fn fire(&mut self, deferred: Deferred) -> Vec<u8> {
        match deferred {
            Deferred::Reboot => self.boot(),
            Deferred::UssdAnswer { text } => {
                let body = match self.profile.ussd_style {
                    UssdStyle::Plain => text,
                    UssdStyle::PackedHex => {
                        let septets: Vec<u8> = text
                            .chars()
                            .filter_map(|c| pdu::Gsm7Tables::DEFAULT.encode_char(c))
                            .map(|(code, _)| code)
                            .collect();
                        let mut septets = septets;
                        // 7 spare bits at the end are filled with CR (TS 23.038 §6.1.2.3.1).
                        if septets.len() % 8 == 7 {
                            septets.push(0x0D);
                        }
                        let mut packed = vec![0u8; septets.len()];
                        let n = pdu::gsm7::pack_septets(&septets, 0, &mut packed);
                        pdu::hex::encode(&packed[..n])
                    }
                };
                format!("\r\n+CUSD: 0,\"{body}\",15\r\n").into_bytes()
            }
            Deferred::StatusReport {
                mr,
                recipient,
                status,
            } => {
                let Ok(to) = Address::parse(&recipient) else {
                    return Vec::new();
                };
                // Each report a second later than the one before: two reports for the same
                // reference (after it wraps at 256) differ, as the network's do.
                self.reports_sent += 1;
                let now = sim_time_plus(self.reports_sent);
                let (len, hex) = pdu::encode_status_report(mr, &to, now, now, status);
                self.route_status_report(len, hex)
            }
        }
    }

    fn route_status_report(&mut self, len: usize, hex: String) -> Vec<u8> {
        match self.cnmi[3] {
            1 => format!("\r\n+CDS: {len}\r\n{hex}\r\n").into_bytes(),
            2 => match self.store(len, hex, 0) {
                Some(i) => format!("\r\n+CDSI: \"SM\",{i}\r\n").into_bytes(),
                None => Vec::new(),
            },
            // Not configured (after a reset, before +CNMI is set again): kept in storage
            // without a word, as modems do with <ds>=0, for a sweep to find.
            _ => {
                self.store(len, hex, 0);
                Vec::new()
            }
        }
    }

    fn store(&mut self, tpdu_len: usize, pdu_hex: String, stat: u8) -> Option<u32> {
        let index = (self.first_index..self.first_index + self.capacity)
            .find(|i| !self.storage.contains_key(i))?;
        self.storage.insert(
            index,
            StoredMessage {
                stat,
                pdu_hex,
                tpdu_len,
            },
        );
        Some(index)
    }

    /// A message arrives from the network: routed per `+CNMI` (stored with `+CMTI`, or
    /// `+CMT` directly). With storage full it waits in the network, as an SMSC would retry.
    pub fn deliver_pdu(&mut self, tpdu_len: usize, pdu_hex: String) -> Vec<u8> {
        if self.cnmi[1] == 2 {
            return format!("\r\n+CMT: ,{tpdu_len}\r\n{pdu_hex}\r\n").into_bytes();
        }
        match self.store(tpdu_len, pdu_hex.clone(), 0) {
            Some(i) if self.cnmi[1] == 1 => format!("\r\n+CMTI: \"SM\",{i}\r\n").into_bytes(),
            Some(_) => Vec::new(),
            None => {
                self.network_queue.push_back((tpdu_len, pdu_hex));
                Vec::new()
            }
        }
    }

    fn drain_network_queue(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while self.storage.len() < self.capacity as usize {
            let Some((len, hex)) = self.network_queue.pop_front() else {
                break;
            };
            out.push(Output::Now(self.deliver_pdu(len, hex)));
        }
        out
    }

    /// A text from `sender`, cut into parts as a phone would (reference `reference`).
    pub fn deliver_text(&mut self, sender: &str, text: &str, reference: u8) -> Vec<Vec<u8>> {
        let Ok(from) = Address::parse(sender) else {
            return Vec::new();
        };
        // Each text a second after the one before: the same words sent twice are two
        // messages, as on a network.
        self.texts_delivered += 1;
        let spec = DeliverSpec {
            smsc: None,
            sender: &from,
            timestamp: sim_time_plus(self.texts_delivered),
            text,
            plan: PlanOptions {
                concat: pdu::ConcatRef::Ref8(reference),
                ..PlanOptions::default()
            },
            flash: false,
        };
        let Ok(parts) = pdu::encode_deliver(&spec) else {
            return Vec::new();
        };
        parts
            .into_iter()
            .map(|(len, hex)| self.deliver_pdu(len, hex))
            .collect()
    }

    /// A ringing call, as `RING` and `+CLIP`.
    pub fn ring(&self, caller: &str) -> Vec<u8> {
        format!("\r\nRING\r\n\r\n+CLIP: \"{caller}\",145,,,,0\r\n").into_bytes()
    }

    /// Registration changes, announced when `AT+CREG=1` or 2 asked for it.
    pub fn set_registered(&mut self, registered: bool) -> Vec<u8> {
        self.registered = registered;
        if self.creg_urc > 0 {
            format!("\r\n+CREG: {}\r\n", self.creg_stat()).into_bytes()
        } else {
            Vec::new()
        }
    }
}

/// `sim_time()` plus `seconds` (up to a day), still reproducible.
fn sim_time_plus(seconds: u32) -> Timestamp {
    let base = sim_time();
    let total = u32::from(base.second)
        + 60 * u32::from(base.minute)
        + 3600 * u32::from(base.hour)
        + seconds % 36_000;
    Timestamp {
        hour: ((total / 3600) % 24) as u8,
        minute: ((total / 60) % 60) as u8,
        second: (total % 60) as u8,
        ..base
    }
}

/// The simulator's clock for time stamps: fixed, so transcripts and tests are reproducible.
fn sim_time() -> Timestamp {
    Timestamp::from_octets([0x62, 0x11, 0x32, 0x01, 0x51, 0x03, 0x23]).unwrap_or(Timestamp {
        year: 2026,
        month: 11,
        day: 23,
        hour: 10,
        minute: 15,
        second: 30,
        offset_minutes: 480,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::profile;

    fn run(d: &mut Device, input: &str) -> String {
        let mut s = String::new();
        for o in d.feed(input.as_bytes()) {
            match o {
                Output::Now(b) | Output::AfterNetwork(b) => {
                    s.push_str(&String::from_utf8_lossy(&b))
                }
                Output::Later(..) => s.push_str("<later>"),
            }
        }
        s
    }

    #[test]
    fn bring_up_dialogue() {
        let mut d = Device::new(&profile::SIMCOM);
        assert_eq!(run(&mut d, "AT\r"), "AT\r\r\nOK\r\n");
        assert_eq!(run(&mut d, "ATE0\r"), "ATE0\r\r\nOK\r\n");
        assert_eq!(run(&mut d, "AT+CMEE=1\r"), "\r\nOK\r\n");
        assert_eq!(run(&mut d, "AT+CPIN?\r"), "\r\n+CPIN: READY\r\n\r\nOK\r\n");
        assert_eq!(run(&mut d, "AT+CMGF=0\r"), "\r\nOK\r\n");
        assert_eq!(run(&mut d, "AT+CNMI=2,1,0,2,0\r"), "\r\nOK\r\n");
        assert_eq!(run(&mut d, "AT+FOO\r"), "\r\nERROR\r\n");
        let mut h = Device::new(&profile::HUAWEI);
        run(&mut h, "ATE0\rAT+CMEE=1\r");
        assert_eq!(
            run(&mut h, "AT+CNMI=2,1,0,2,0\r"),
            "\r\n+CMS ERROR: 303\r\n"
        );
        assert_eq!(run(&mut h, "AT+FOO\r"), "\r\nCOMMAND NOT SUPPORT\r\n");
    }

    #[test]
    fn send_receive_and_store() {
        let mut d = Device::new(&profile::QUECTEL);
        run(&mut d, "ATE0\rAT+CMEE=1\rAT+CMGF=0\rAT+CNMI=2,1,0,2,0\r");
        let opts = pdu::SubmitOptions {
            status_report: true,
            ..pdu::SubmitOptions::new(Address::parse("+639171234567").unwrap())
        };
        let pdus = pdu::encode_submit("Ready for pickup", &opts).unwrap();
        let part = pdus.iter().next().unwrap();
        assert_eq!(
            run(&mut d, &format!("AT+CMGS={}\r", part.tpdu_len)),
            "\r\n> "
        );
        let out = d.feed(format!("{}\x1A", part.hex).as_bytes());
        assert_eq!(
            out[0],
            Output::AfterNetwork(b"\r\n+CMGS: 1\r\n\r\nOK\r\n".to_vec())
        );
        assert!(matches!(
            out[1],
            Output::Later(_, Deferred::StatusReport { mr: 1, .. })
        ));
        assert_eq!(d.sent[0].text, "Ready for pickup");
        assert_eq!(d.sent[0].recipient, "+639171234567");
        // A wrong length is refused.
        run(&mut d, &format!("AT+CMGS={}\r", part.tpdu_len + 1));
        assert_eq!(
            run(&mut d, &format!("{}\x1A", part.hex)),
            "\r\n+CMS ERROR: 304\r\n"
        );
        // Inbound: stored and announced, read, deleted.
        let urcs = d.deliver_text("+639170000001", "Thanks!", 1);
        assert_eq!(String::from_utf8_lossy(&urcs[0]), "\r\n+CMTI: \"SM\",1\r\n");
        let read = run(&mut d, "AT+CMGR=1\r");
        assert!(read.starts_with("\r\n+CMGR: 0,,"), "{read}");
        assert!(run(&mut d, "AT+CMGL=4\r").contains("+CMGL: 1,1,,"));
        assert_eq!(run(&mut d, "AT+CMGD=1\r"), "\r\nOK\r\n");
        assert!(d.storage.is_empty());
    }

    #[test]
    fn pin_is_checked_and_locks_after_three_wrong_tries() {
        let mut d = Device::new(&profile::SIMCOM);
        d.require_pin("1234");
        run(&mut d, "ATE0\rAT+CMEE=1\r");
        assert_eq!(
            run(&mut d, "AT+CPIN?\r"),
            "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
        );
        assert_eq!(run(&mut d, "AT+CMGL=4\r"), "\r\n+CMS ERROR: 311\r\n");
        for _ in 0..3 {
            assert_eq!(run(&mut d, "AT+CPIN=\"0000\"\r"), "\r\n+CME ERROR: 16\r\n");
        }
        assert_eq!(d.pin_status, PinStatus::NeedsPuk);
        let mut d = Device::new(&profile::SIMCOM);
        d.require_pin("1234");
        assert!(run(&mut d, "AT+CPIN=\"1234\"\r").ends_with("OK\r\n"));
        assert_eq!(d.pin_status, PinStatus::Ready);
    }

    #[test]
    fn failures_and_escape() {
        let mut d = Device::new(&profile::SIMCOM);
        run(&mut d, "ATE0\rAT+CMEE=1\rAT+CMGF=0\r");
        d.fail_sends.push_back(332);
        let opts = pdu::SubmitOptions::new(Address::parse("+639171234567").unwrap());
        let pdus = pdu::encode_submit("Hi", &opts).unwrap();
        let part = pdus.iter().next().unwrap();
        run(&mut d, &format!("AT+CMGS={}\r", part.tpdu_len));
        let out = d.feed(format!("{}\x1A", part.hex).as_bytes());
        assert_eq!(
            out,
            vec![Output::AfterNetwork(b"\r\n+CMS ERROR: 332\r\n".to_vec())]
        );
        run(&mut d, "AT+CMGS=18\r");
        assert_eq!(run(&mut d, "0001\x1B"), "\r\nOK\r\n");
        assert!(d.sent.is_empty());
    }
}
