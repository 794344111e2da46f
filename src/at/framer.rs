//! Bytes from a modem to lines and prompts.
//!
//! Input is whatever the serial port returned (one byte or a burst); output is complete lines
//! without their endings (CR LF, bare CR or bare LF; blank lines skipped) and the `> ` prompt
//! of `AT+CMGS`, which has no line ending. Bytes that cannot be part of a line (NUL, 0xFF, other
//! control codes, an overlong line such as garbage after a reset) are dropped and counted,
//! never an error. Feeding the same bytes in any chunking gives the same frames.

use std::collections::VecDeque;

/// One unit of modem output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, line ending removed, never empty. Invalid UTF-8 is replaced (U+FFFD).
    Line(String),
    /// The `> ` that asks for the PDU after `AT+CMGS=<length>`.
    Prompt,
}

/// Longest line kept. Real responses stay far below (a `+CMGL` PDU line is at most ~360
/// characters); anything longer is noise and is dropped.
pub const MAX_LINE: usize = 2048;

#[derive(Debug, Default)]
pub struct Framer {
    line: Vec<u8>,
    frames: VecDeque<Frame>,
    /// Set while the rest of an overlong line is being discarded.
    discarding: bool,
    dropped: u64,
}

impl Framer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes `bytes`; complete frames are then available from [`Framer::next_frame`].
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\r' | b'\n' => self.end_line(),
                // Control codes and 0xFF are never part of an AT line; a tab is kept as space.
                b'\t' => self.keep(b' '),
                0x00..=0x1F | 0x7F | 0xFF => self.dropped += 1,
                _ => self.keep(b),
            }
            // The prompt has no line end: recognise it as soon as it is complete.
            if self.line == b"> " {
                self.line.clear();
                self.frames.push_back(Frame::Prompt);
            }
        }
    }

    pub fn next_frame(&mut self) -> Option<Frame> {
        self.frames.pop_front()
    }

    /// Bytes dropped so far (control codes, overlong lines).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets a partial line, e.g. after the port was re-opened.
    pub fn reset(&mut self) {
        self.dropped += self.line.len() as u64;
        self.line.clear();
        self.discarding = false;
    }

    /// The partial line, for modems that end a prompt without the space (`>`); the exchange
    /// decides whether it may treat it as one.
    pub fn pending(&self) -> &[u8] {
        &self.line
    }

    /// Takes a pending bare `>` as the prompt.
    pub fn take_bare_prompt(&mut self) -> bool {
        if self.line == b">" {
            self.line.clear();
            return true;
        }
        false
    }

    fn keep(&mut self, b: u8) {
        if self.discarding {
            self.dropped += 1;
            return;
        }
        if self.line.len() >= MAX_LINE {
            self.dropped += self.line.len() as u64 + 1;
            self.line.clear();
            self.discarding = true;
            return;
        }
        self.line.push(b);
    }

    fn end_line(&mut self) {
        if self.discarding {
            self.discarding = false;
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let trimmed = text.trim();
        if !trimmed.is_empty() {
            self.frames.push_back(Frame::Line(trimmed.to_string()));
        }
        self.line.clear();
    }
}

/// Whether `line` is the modem echoing `command` back (echo on, before `ATE0` took effect).
pub fn is_echo(line: &str, command: &str) -> bool {
    line.eq_ignore_ascii_case(command.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `input` whole, byte by byte, and in a few uneven chunkings; all must agree.
    fn check(input: &[u8], expected: &[Frame]) {
        let run = |chunks: &mut dyn Iterator<Item = &[u8]>| {
            let mut f = Framer::new();
            let mut out = Vec::new();
            for c in chunks {
                f.push(c);
                while let Some(frame) = f.next_frame() {
                    out.push(frame);
                }
            }
            (out, f.dropped())
        };
        let whole = run(&mut std::iter::once(input));
        assert_eq!(
            whole.0,
            expected,
            "whole input {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(run(&mut input.chunks(1)), whole, "byte by byte");
        for size in [2, 3, 5, 7, 13] {
            assert_eq!(run(&mut input.chunks(size)), whole, "chunks of {size}");
        }
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.to_string())
    }

    #[test]
    fn line_endings_and_blank_lines() {
        check(
            b"\r\nOK\r\n\r\n+CSQ: 20,99\r\n\nERROR\rRING\n",
            &[line("OK"), line("+CSQ: 20,99"), line("ERROR"), line("RING")],
        );
    }

    #[test]
    fn prompt_without_line_end() {
        check(b"AT+CMGS=18\r\r\n> ", &[line("AT+CMGS=18"), Frame::Prompt]);
        // A URC can arrive just before the prompt.
        check(
            b"\r\n+CMTI: \"SM\",3\r\n> ",
            &[line("+CMTI: \"SM\",3"), Frame::Prompt],
        );
    }

    #[test]
    fn stray_bytes_are_dropped_and_counted() {
        let mut f = Framer::new();
        f.push(b"\x00\xFFO\x00K\r\n\x1A");
        assert_eq!(f.next_frame(), Some(line("OK")));
        assert_eq!(f.dropped(), 4);
        check(b"\x00\x00\xFF\xFF\r\nOK\r\n", &[line("OK")]);
    }

    #[test]
    fn overlong_garbage_is_dropped() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\r\nOK\r\n");
        check(&input, &[line("OK")]);
        let mut f = Framer::new();
        f.push(&input);
        assert_eq!(f.dropped(), MAX_LINE as u64 + 10);
    }

    #[test]
    fn bare_prompt_is_only_taken_on_request() {
        let mut f = Framer::new();
        f.push(b"\r\n>");
        assert_eq!(f.next_frame(), None);
        assert_eq!(f.pending(), b">");
        assert!(f.take_bare_prompt());
        assert!(f.pending().is_empty());
    }

    #[test]
    fn echo() {
        assert!(is_echo("AT+CMGF=0", "AT+CMGF=0\r"));
        assert!(is_echo("at+csq", "AT+CSQ"));
        assert!(!is_echo("+CSQ: 1,2", "AT+CSQ"));
    }
}
