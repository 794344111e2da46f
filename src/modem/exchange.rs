//! The pure core of talking to a modem: which line belongs to which command.
//!
//! A [`Router`] sees every frame from the port. At most one command is in flight; its
//! `Exchange` goes idle → (awaiting prompt →) awaiting final → done. Each line is classified
//! in a fixed order:
//!
//! 1. the PDU line owed to a `+CMT:`/`+CDS:` header or to a `+CMGR:`/`+CMGL:` header;
//! 2. a final result code, which completes the command (or, when idle, is stale and dropped);
//! 3. the command's echo;
//! 4. a line with the prefix the command collects;
//! 5. an unsolicited result code (emitted at once, also mid-response or before the prompt);
//! 6. a bare line, which a command collecting plain lines takes and an idle router reports as
//!    an unknown URC.
//!
//! Time is the caller's: it calls [`Router::on_timeout`] when the command's deadline passes.

use super::super::at::command::{Command, ESC, Expect};
use super::super::at::framer::{Frame, is_echo};
use super::super::at::parse::{self, Final, StoredHeader, Urc};

/// A message or status report that the modem stored, as `+CMGR`/`+CMGL` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPdu {
    pub header: StoredHeader,
    pub pdu_hex: String,
}

/// What a successful command returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Lines the command collected (prefixed or plain), in order.
    pub lines: Vec<String>,
    /// `+CMGR`/`+CMGL` entries.
    pub stored: Vec<StoredPdu>,
}

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The modem answered with an error result code.
    Rejected(Final),
    /// No final result code in time. `outcome_unknown` is true when a payload (an SMS) had
    /// been handed over: the network may or may not have taken it.
    Timeout { outcome_unknown: bool },
}

/// Something the router asks of, or tells, its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes to the port.
    Write(Vec<u8>),
    Urc(UrcEvent),
    /// The command in flight finished.
    Completed(Result<Response, Failure>),
}

/// A URC, with the PDU line of the two-line ones attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrcEvent {
    Line(Urc),
    /// `+CMT:` and the PDU after it.
    Message {
        alpha: Option<String>,
        pdu_hex: String,
    },
    /// `+CDS:` and the PDU after it.
    StatusReport {
        pdu_hex: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    AwaitingPrompt,
    AwaitingFinal { payload_sent: bool },
}

#[derive(Debug)]
struct Exchange {
    command: Command,
    stage: Stage,
    response: Response,
    /// A `+CMGR:`/`+CMGL:` header waiting for its PDU line.
    header: Option<StoredHeader>,
    /// After the payload: the modem has answered (its `+CMGS:` line, or a line nobody knows,
    /// which is that answer damaged on the line); the final result code should follow at once.
    answered: bool,
}

/// Routes frames between the command in flight and the URC stream.
#[derive(Debug, Default)]
pub struct Router {
    exchange: Option<Exchange>,
    /// A `+CMT:`/`+CDS:` header waiting for its PDU line.
    urc_header: Option<Urc>,
    stale_finals: u64,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_busy(&self) -> bool {
        self.exchange.is_some()
    }

    /// Whether the command in flight waits for the `> ` prompt (the actor then also accepts a
    /// bare `>` from the framer).
    pub fn awaits_prompt(&self) -> bool {
        matches!(
            self.exchange.as_ref().map(|e| e.stage),
            Some(Stage::AwaitingPrompt)
        )
    }

    /// Final result codes that arrived with no command in flight (late answers after a
    /// timeout), dropped.
    pub fn stale_finals(&self) -> u64 {
        self.stale_finals
    }

    /// Starts `command`; returns the bytes to write. The caller must not start a command
    /// while one is in flight.
    pub fn start(&mut self, command: Command) -> Vec<u8> {
        debug_assert!(self.exchange.is_none(), "one command at a time");
        let bytes = command.line_bytes();
        let stage = if command.payload.is_some() {
            Stage::AwaitingPrompt
        } else {
            Stage::AwaitingFinal {
                payload_sent: false,
            }
        };
        self.exchange = Some(Exchange {
            command,
            stage,
            response: Response::default(),
            header: None,
            answered: false,
        });
        bytes
    }

    /// Feeds one frame.
    pub fn on_frame(&mut self, frame: Frame) -> Vec<Event> {
        let mut events = Vec::new();
        match frame {
            Frame::Prompt => self.on_prompt(&mut events),
            Frame::Line(line) => self.on_line(line, &mut events),
        }
        events
    }

    /// The deadline of the command in flight passed. A command waiting for its prompt is
    /// abandoned with ESC, and nothing was sent; one whose payload went out is reported as
    /// "outcome unknown".
    pub fn on_timeout(&mut self) -> Vec<Event> {
        let Some(exchange) = self.exchange.take() else {
            return Vec::new();
        };
        let outcome_unknown = matches!(exchange.stage, Stage::AwaitingFinal { payload_sent: true });
        // The modem's own answer line came (`+CMGS: <mr>`) and only the final result code was
        // damaged or lost: the network accepted the message, under that reference.
        if outcome_unknown && exchange.answered && !exchange.response.lines.is_empty() {
            return vec![Event::Completed(Ok(exchange.response))];
        }
        let mut events = Vec::new();
        if exchange.command.payload.is_some() {
            events.push(Event::Write(vec![ESC]));
        }
        events.push(Event::Completed(Err(Failure::Timeout { outcome_unknown })));
        events
    }

    /// Whether the modem has answered the payload in flight (its `+CMGS:` line, or a line no
    /// parser knows: the answer damaged on the line) without a final result code yet. The
    /// caller then waits only a short settle time for the rest, not the whole send timeout,
    /// before calling [`on_timeout`](Self::on_timeout): that completes with the reference
    /// when it came, and as outcome unknown otherwise.
    pub fn answered(&self) -> bool {
        self.exchange.as_ref().is_some_and(|e| {
            e.answered && matches!(e.stage, Stage::AwaitingFinal { payload_sent: true })
        })
    }

    /// Whether the command in flight has handed its payload (an SMS) to the modem.
    pub fn payload_sent(&self) -> bool {
        matches!(
            self.exchange.as_ref().map(|e| e.stage),
            Some(Stage::AwaitingFinal { payload_sent: true })
        )
    }

    /// The port went away: the command in flight (if any) is returned so the caller can fail
    /// it, and half-received state is forgotten.
    pub fn on_disconnect(&mut self) -> Option<Command> {
        self.urc_header = None;
        self.exchange.take().map(|e| e.command)
    }

    fn on_prompt(&mut self, events: &mut Vec<Event>) {
        let Some(exchange) = self.exchange.as_mut() else {
            return;
        };
        if exchange.stage != Stage::AwaitingPrompt {
            return;
        }
        if let Some(bytes) = exchange.command.payload_bytes() {
            events.push(Event::Write(bytes));
        }
        exchange.stage = Stage::AwaitingFinal { payload_sent: true };
    }

    fn on_line(&mut self, line: String, events: &mut Vec<Event>) {
        // 1. PDU lines owed to a header.
        if let Some(header) = self.urc_header.take() {
            match header {
                Urc::MessageFollows { alpha, .. } => events.push(Event::Urc(UrcEvent::Message {
                    alpha,
                    pdu_hex: line,
                })),
                _ => events.push(Event::Urc(UrcEvent::StatusReport { pdu_hex: line })),
            }
            return;
        }
        if let Some(exchange) = self.exchange.as_mut()
            && let Some(header) = exchange.header.take()
        {
            exchange.response.stored.push(StoredPdu {
                header,
                pdu_hex: line,
            });
            return;
        }

        // 2. Final result codes.
        if let Some(fin) = parse::parse_final(&line) {
            match self.exchange.take() {
                Some(exchange) => {
                    let result = if fin.is_ok() {
                        Ok(exchange.response)
                    } else {
                        Err(Failure::Rejected(fin))
                    };
                    events.push(Event::Completed(result));
                }
                None => self.stale_finals += 1,
            }
            return;
        }

        // 3-4. Echo and the command's own lines.
        if let Some(exchange) = self.exchange.as_mut() {
            if is_echo(&line, &exchange.command.text) {
                return;
            }
            let has_prefix = |p: &str| {
                line.len() >= p.len()
                    && line.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                    && line[p.len()..].trim_start().starts_with(':')
            };
            match exchange.command.expect {
                Expect::Prefixed(p) | Expect::Plain(p) if has_prefix(p) => {
                    exchange.response.lines.push(line);
                    // The answer to a payload is one line then the final code: from here on
                    // a damaged or missing final costs only the settle time.
                    if exchange.stage == (Stage::AwaitingFinal { payload_sent: true }) {
                        exchange.answered = true;
                    }
                    return;
                }
                Expect::StoredPdus(p) if has_prefix(p) => {
                    let header = if p.eq_ignore_ascii_case("+CMGL") {
                        parse::parse_cmgl(&line)
                    } else {
                        parse::parse_cmgr(&line)
                    };
                    match header {
                        Some(h) => exchange.header = Some(h),
                        None => exchange.response.lines.push(line),
                    }
                    return;
                }
                _ => {}
            }
        }

        // 5. Unsolicited result codes.
        let urc = parse::parse_urc(&line).unwrap_or(Urc::Unknown(line.clone()));
        if let Urc::Unknown(_) = urc
            && let Some(exchange) = self.exchange.as_mut()
            && exchange.stage == (Stage::AwaitingFinal { payload_sent: true })
            // Some modems echo the PDU text back even with ATE0: that is no answer.
            && !exchange
                .command
                .payload
                .as_deref()
                .is_some_and(|p| line.trim().eq_ignore_ascii_case(p.trim()))
        {
            // After a payload the modem says one thing: its answer. A line nobody knows is
            // that answer, damaged.
            exchange.answered = true;
        }
        if let Urc::Unknown(_) = urc
            && let Some(exchange) = self.exchange.as_mut()
            && matches!(exchange.command.expect, Expect::Plain(_))
        {
            // 6. A bare line belongs to a command that collects plain lines.
            exchange.response.lines.push(line);
            return;
        }
        if urc.pdu_follows() {
            self.urc_header = Some(urc);
        } else {
            events.push(Event::Urc(UrcEvent::Line(urc)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at::codes::CmsError;

    fn lines(router: &mut Router, input: &[&str]) -> Vec<Event> {
        input
            .iter()
            .flat_map(|l| {
                let frame = if *l == "> " {
                    Frame::Prompt
                } else {
                    Frame::Line(l.to_string())
                };
                router.on_frame(frame)
            })
            .collect()
    }

    fn completed(events: &[Event]) -> Option<&Result<Response, Failure>> {
        events.iter().find_map(|e| match e {
            Event::Completed(r) => Some(r),
            _ => None,
        })
    }

    #[test]
    fn send_with_prompt_and_urc_before_the_prompt() {
        let mut r = Router::new();
        let bytes = r.start(Command::send_pdu(18, "00AA"));
        assert_eq!(bytes, b"AT+CMGS=18\r");
        assert!(r.awaits_prompt());
        let ev = lines(&mut r, &["AT+CMGS=18", "+CMTI: \"SM\",4", "> "]);
        assert_eq!(
            ev,
            vec![
                Event::Urc(UrcEvent::Line(Urc::NewMessage {
                    storage: "SM".into(),
                    index: 4
                })),
                Event::Write(b"00AA\x1A".to_vec()),
            ]
        );
        let ev = lines(&mut r, &["+CMTI: \"SM\",5", "+CMGS: 77", "OK"]);
        assert_eq!(ev.len(), 2, "the URC and the completion");
        let resp = completed(&ev).unwrap().as_ref().unwrap();
        assert_eq!(resp.lines, vec!["+CMGS: 77"]);
        assert!(!r.is_busy());
    }

    #[test]
    fn rejection_before_the_prompt() {
        let mut r = Router::new();
        r.start(Command::send_pdu(18, "00AA"));
        let ev = lines(&mut r, &["+CMS ERROR: 330"]);
        assert_eq!(
            completed(&ev),
            Some(&Err(Failure::Rejected(Final::Cms(
                CmsError::SmscAddressUnknown
            ))))
        );
    }

    /// After the payload, the modem's answer may come damaged. The `+CMGS` line with a lost
    /// or damaged final still gives the reference; a damaged answer line alone is outcome
    /// unknown; an echo of the PDU is no answer at all.
    #[test]
    fn damaged_answers_to_a_send() {
        let send = |r: &mut Router| {
            r.start(Command::send_pdu(18, "00AA"));
            lines(r, &["> "]);
        };
        let mut r = Router::new();
        send(&mut r);
        assert!(!r.answered());
        assert!(
            completed(&lines(&mut r, &["00AA"])).is_none(),
            "an echo of the PDU"
        );
        assert!(!r.answered());
        lines(&mut r, &["+CMGS: 12", "0K"]);
        assert!(r.answered());
        let ev = r.on_timeout();
        let resp = completed(&ev).unwrap().as_ref().unwrap();
        assert_eq!(resp.lines, vec!["+CMGS: 12"]);

        let mut r = Router::new();
        send(&mut r);
        lines(&mut r, &["+CMG$: 12", "0K"]);
        assert!(r.answered());
        assert_eq!(
            completed(&r.on_timeout()),
            Some(&Err(Failure::Timeout {
                outcome_unknown: true
            }))
        );

        // A damaged reference with a good final: completes at once, without a reference.
        let mut r = Router::new();
        send(&mut r);
        let ev = lines(&mut r, &["+CMG$: 12", "OK"]);
        assert!(completed(&ev).unwrap().as_ref().unwrap().lines.is_empty());
    }

    #[test]
    fn timeouts_tell_whether_the_sms_may_have_gone() {
        let mut r = Router::new();
        r.start(Command::send_pdu(18, "00AA"));
        assert_eq!(
            r.on_timeout(),
            vec![
                Event::Write(vec![ESC]),
                Event::Completed(Err(Failure::Timeout {
                    outcome_unknown: false
                }))
            ]
        );
        r.start(Command::send_pdu(18, "00AA"));
        lines(&mut r, &["> "]);
        let ev = r.on_timeout();
        assert_eq!(
            completed(&ev),
            Some(&Err(Failure::Timeout {
                outcome_unknown: true
            }))
        );
        // The late OK is stale and does not complete the next command.
        r.start(Command::at());
        let ev = lines(&mut r, &["+CMGS: 9"]);
        assert!(completed(&ev).is_none());
    }

    #[test]
    fn stored_pdus_and_an_interleaved_cmt() {
        let mut r = Router::new();
        r.start(Command::list_messages());
        let ev = lines(
            &mut r,
            &[
                "+CMGL: 1,0,,24",
                "0791AABB",
                "+CMT: ,20",
                "07912233",
                "+CMGL: 4,1,,22",
                "0791CCDD",
                "OK",
            ],
        );
        assert_eq!(
            ev[0],
            Event::Urc(UrcEvent::Message {
                alpha: None,
                pdu_hex: "07912233".into()
            })
        );
        let resp = completed(&ev).unwrap().as_ref().unwrap();
        assert_eq!(resp.stored.len(), 2);
        assert_eq!(resp.stored[0].header.index, Some(1));
        assert_eq!(resp.stored[1].pdu_hex, "0791CCDD");
    }

    #[test]
    fn plain_lines_and_idle_urcs() {
        let mut r = Router::new();
        r.start(Command::imei());
        let ev = lines(&mut r, &["AT+CGSN", "866123456789012", "OK"]);
        assert_eq!(
            completed(&ev).unwrap().as_ref().unwrap().lines,
            vec!["866123456789012"]
        );
        let ev = lines(&mut r, &["+CDS: 25", "0006AB", "RING", "OK", "gibberish"]);
        assert_eq!(
            ev,
            vec![
                Event::Urc(UrcEvent::StatusReport {
                    pdu_hex: "0006AB".into()
                }),
                Event::Urc(UrcEvent::Line(Urc::Ring)),
                Event::Urc(UrcEvent::Line(Urc::Unknown("gibberish".into()))),
            ]
        );
        assert_eq!(r.stale_finals(), 1);
    }

    #[test]
    fn prefixed_queries_leave_other_lines_as_urcs() {
        let mut r = Router::new();
        r.start(Command::registration_query());
        let ev = lines(&mut r, &["+CREG: 0,1", "+CREG: 5", "OK"]);
        // The query answer is the command's; a "+CREG:" arriving in between is also taken as
        // the answer: the prefix decides, as it must for commands that answer several lines.
        let resp = completed(&ev).unwrap().as_ref().unwrap();
        assert_eq!(resp.lines.len(), 2);
        let ev = lines(&mut r, &["+CREG: 5"]);
        assert!(matches!(
            &ev[0],
            Event::Urc(UrcEvent::Line(Urc::Registration(_)))
        ));
    }

    #[test]
    fn disconnect_hands_back_the_command() {
        let mut r = Router::new();
        r.start(Command::at());
        assert_eq!(r.on_disconnect(), Some(Command::at()));
        assert!(!r.is_busy());
    }
}
