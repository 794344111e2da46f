//! Submission: a text and its recipients checked, planned, encoded and queued, all or
//! nothing, each message acknowledged only after its commit.

use tracing::info;

use super::{Daemon, Error, Peer};
use crate::pdu::{
    self, Address, EncodingChoice, PlanOptions, SubmitEncoder, SubmitOptions, SubmitPdus,
};
use crate::phone;
use crate::store::NewMessage;
use crate::time::now_ms;

/// A text to queue, as an interface hands it to the core (times already read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub recipients: Vec<String>,
    pub text: String,
    /// auto, gsm7, ucs2 or gsm7-fold.
    pub encoding: String,
    pub priority: i64,
    /// Unix ms.
    pub not_before: Option<i64>,
    /// Unix ms.
    pub not_after: Option<i64>,
    pub client_ref: Option<String>,
    pub idempotency_key: Option<String>,
    /// `None`: the configured default.
    pub report: Option<bool>,
}

impl Submission {
    /// `text` to `recipients` with every option at its default.
    pub fn new(recipients: Vec<String>, text: impl Into<String>) -> Self {
        Self {
            recipients,
            text: text.into(),
            encoding: "auto".into(),
            priority: 0,
            not_before: None,
            not_after: None,
            client_ref: None,
            idempotency_key: None,
            report: None,
        }
    }
}

/// One queued message (one per recipient, in the order given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: i64,
    /// E.164.
    pub to: String,
    pub parts: usize,
    /// `false` when the idempotency key named a message queued before.
    pub new: bool,
}

/// Control characters are refused in a text, except line feed and carriage return: a NUL,
/// a tab or an escape code has no place in an SMS (GSM 7-bit has none of them, so each would
/// silently force UCS-2 and halve the part size), a phone shows them as boxes or not at
/// all, and they would reach terminals and logs that display the text later.
fn check_text(text: &str) -> Result<(), Error> {
    let bad = text
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && c != '\n' && c != '\r');
    match bad {
        None => Ok(()),
        Some((i, c)) => {
            let hint = if c == '\t' { "; use spaces" } else { "" };
            Err(Error::InvalidText(format!(
                "the text holds the control character U+{:04X} at position {}{hint}; only line breaks are allowed",
                c as u32,
                i + 1
            )))
        }
    }
}

/// The encoding a submission names.
pub fn encoding_choice(name: &str) -> Result<EncodingChoice, Error> {
    EncodingChoice::from_name(name).ok_or_else(|| {
        Error::InvalidEncoding(format!(
            "unknown encoding {name:?}: use auto, gsm7, ucs2 or gsm7-fold"
        ))
    })
}

impl Daemon {
    /// Checks, plans and queues one message per recipient. Nothing is queued unless every
    /// recipient and the text are acceptable; the messages are returned only after their
    /// commit.
    pub async fn submit(&self, s: Submission, peer: Peer) -> Result<Vec<Queued>, Error> {
        check_text(&s.text)?;
        if s.recipients.is_empty() {
            return Err(Error::InvalidNumber("no recipient".into()));
        }
        // One snapshot for the whole request, so a reload midway cannot mix two settings.
        let settings = self.settings();
        let mut numbers = Vec::with_capacity(s.recipients.len());
        for r in &s.recipients {
            let n = phone::normalize(r, settings.default_country)
                .map_err(|e| Error::InvalidNumber(e.to_string()))?;
            numbers.push(n);
        }
        let encoding = encoding_choice(&s.encoding)?;
        if let Some(t) = s.not_after
            && t <= now_ms()
        {
            return Err(Error::InvalidTime(
                "not_after is already past: the message could never be sent".into(),
            ));
        }
        if let (Some(a), Some(b)) = (s.not_before, s.not_after)
            && b <= a
        {
            return Err(Error::InvalidTime(
                "not_after must be later than not_before".into(),
            ));
        }
        let report = s.report.unwrap_or(settings.status_reports);
        let base = self.concat_refs(numbers.len()).await?;
        let mut encoder = SubmitEncoder::new();
        let mut out = SubmitPdus::new();
        let mut messages = Vec::with_capacity(numbers.len());
        for (i, number) in numbers.iter().enumerate() {
            let concat_ref = base.wrapping_add(i as u8);
            let address =
                Address::parse(number).map_err(|e| Error::InvalidNumber(e.to_string()))?;
            let mut opts = SubmitOptions::new(address);
            opts.status_report = report;
            opts.plan = PlanOptions {
                encoding,
                concat: pdu::ConcatRef::Ref8(concat_ref),
                max_parts: settings.max_parts,
                ..PlanOptions::default()
            };
            encoder
                .encode_text(&s.text, &opts, &mut out)
                .map_err(|e| Error::Unencodable {
                    code: e.code(),
                    message: e.to_string(),
                })?;
            messages.push(NewMessage {
                recipient: number.clone(),
                body: s.text.clone(),
                encoding: s.encoding.clone(),
                alphabet: out.alphabet().map_or("gsm7", |a| a.name()).to_string(),
                concat_ref: u16::from(concat_ref),
                status_report: report,
                priority: s.priority,
                client_ref: s.client_ref.clone(),
                // One key per recipient, so a multi-recipient send is idempotent as a whole.
                idempotency_key: s.idempotency_key.as_ref().map(|k| {
                    if i == 0 {
                        k.clone()
                    } else {
                        format!("{k}#{i}")
                    }
                }),
                not_before: s.not_before,
                not_after: s.not_after,
                peer_uid: peer.uid,
                peer_pid: peer.pid,
                parts: out
                    .iter()
                    .map(|p| (p.tpdu_len, p.hex.to_string()))
                    .collect(),
            });
        }
        // All recipients in one transaction: the answer comes only after the commit.
        let now = now_ms();
        let counts: Vec<usize> = messages.iter().map(|m| m.parts.len()).collect();
        let ids = self
            .store
            .call(move |db| db.enqueue_many(&messages, now))
            .await?;
        let mut queued = Vec::with_capacity(ids.len());
        for ((number, done), parts) in numbers.into_iter().zip(ids).zip(counts) {
            let (id, new) = (done.id, done.new);
            info!(event = "queued", message_id = id, to = %phone::mask(&number), parts, uid = ?peer.uid, "message queued");
            queued.push(Queued {
                id,
                to: number,
                parts,
                new,
            });
        }
        self.wake();
        Ok(queued)
    }
}
