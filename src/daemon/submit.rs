//! Submission: a text and its recipients checked, planned, encoded and queued, all or
//! nothing, each message acknowledged only after its commit.

use tracing::info;

use super::{Daemon, Error, Peer};
use crate::pdu::{
    self, Address, EncodingChoice, PlanOptions, SubmitEncoder, SubmitOptions, SubmitPdus,
};
use crate::phone;
use crate::store::{Class, Decision, MessageState, NewMessage, Watch};
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
    /// What kind of text this is (default transactional); `system` is smsq's own.
    pub class: Class,
    /// A configured topic customers can opt out of on its own.
    pub topic: Option<String>,
    /// The sender confirmed a request to more recipients than the bulk limit.
    pub confirm_bulk: bool,
    /// The sender confirmed a link in a text to Philippine numbers.
    pub allow_links: bool,
    /// A saved template to render for each recipient instead of `text` (its class and
    /// topic apply).
    pub template: Option<String>,
    /// Values for the template's placeholders, beside each contact's own.
    pub fields: std::collections::BTreeMap<String, String>,
    /// The outcomes the client asked to hear about (an HTTP interface's delivery reports),
    /// kept with each message in the transaction that queues it.
    pub watch: Option<Watch>,
    /// The one modem to send through (its id), when the client must choose.
    pub via: Option<String>,
    /// Class 0: shown at once by the handset, not stored (Kannel's `mclass=0`).
    pub flash: bool,
    /// Most parts a message may take, below the configured most (an account's limit).
    pub max_parts: Option<u8>,
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
            class: Class::Transactional,
            topic: None,
            confirm_bulk: false,
            allow_links: false,
            template: None,
            fields: Default::default(),
            watch: None,
            via: None,
            flash: false,
            max_parts: None,
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
    /// Queued, held for the recipient's quiet hours, or refused by the gate.
    pub state: MessageState,
    /// When a held message's window opens (Unix ms).
    pub held_until: Option<i64>,
    /// Why the gate refused it: its stable code and the reason in words.
    pub refusal: Option<(&'static str, String)>,
    /// For the sender: the text goes now although it is late or early for the recipient.
    pub warning: Option<String>,
}

/// Control characters are refused in a text, except line feed and carriage return: a NUL,
/// a tab or an escape code has no place in an SMS (GSM 7-bit has none of them, so each would
/// silently force UCS-2 and halve the part size), a phone shows them as boxes or not at
/// all, and they would reach terminals and logs that display the text later.
pub(super) fn check_text(text: &str) -> Result<(), Error> {
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

/// What every message of one request shares, for planning.
pub(super) struct Shared<'a> {
    pub encoding_name: &'a str,
    pub encoding: EncodingChoice,
    pub report: bool,
    pub priority: i64,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub client_ref: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub peer: Peer,
    pub class: Class,
    pub topic: Option<&'a str>,
    pub template: Option<&'a str>,
    pub max_parts: u8,
    pub watch: Option<&'a Watch>,
    pub via: Option<&'a str>,
    pub flash: bool,
}

/// Plans and encodes one message per (number, text), with consecutive concatenation
/// references from `base`.
pub(super) fn plan_messages(
    items: &[(String, String)],
    shared: &Shared<'_>,
    base: u8,
) -> Result<Vec<NewMessage>, Error> {
    let mut encoder = SubmitEncoder::new();
    let mut out = SubmitPdus::new();
    let mut messages = Vec::with_capacity(items.len());
    for (i, (number, text)) in items.iter().enumerate() {
        let concat_ref = base.wrapping_add(i as u8);
        let address = Address::parse(number).map_err(|e| Error::InvalidNumber(e.to_string()))?;
        let mut opts = SubmitOptions::new(address);
        opts.status_report = shared.report;
        opts.flash = shared.flash;
        opts.plan = PlanOptions {
            encoding: shared.encoding,
            concat: pdu::ConcatRef::Ref8(concat_ref),
            max_parts: shared.max_parts,
            ..PlanOptions::default()
        };
        encoder
            .encode_text(text, &opts, &mut out)
            .map_err(|e| Error::Unencodable {
                code: e.code(),
                message: e.to_string(),
            })?;
        messages.push(NewMessage {
            recipient: number.clone(),
            body: text.clone(),
            encoding: shared.encoding_name.to_string(),
            alphabet: out.alphabet().map_or("gsm7", |a| a.name()).to_string(),
            concat_ref: u16::from(concat_ref),
            status_report: shared.report,
            priority: shared.priority,
            client_ref: shared.client_ref.map(str::to_string),
            // One key per recipient, so a multi-recipient send is idempotent as a whole.
            idempotency_key: shared.idempotency_key.map(|k| {
                if i == 0 {
                    k.to_string()
                } else {
                    format!("{k}#{i}")
                }
            }),
            not_before: shared.not_before,
            not_after: shared.not_after,
            peer_uid: shared.peer.uid,
            peer_pid: shared.peer.pid,
            class: shared.class,
            topic: shared.topic.map(str::to_string),
            template: shared.template.map(str::to_string),
            campaign: None,
            watch: shared.watch.cloned(),
            via: shared.via.map(str::to_string),
            parts: out
                .iter()
                .map(|p| (p.tpdu_len, p.hex.to_string()))
                .collect(),
        });
    }
    Ok(messages)
}

/// Times a request may use: `not_after` in the future and after `not_before`.
fn check_times(not_before: Option<i64>, not_after: Option<i64>) -> Result<(), Error> {
    if let Some(t) = not_after
        && t <= now_ms()
    {
        return Err(Error::InvalidTime(
            "not_after is already past: the message could never be sent".into(),
        ));
    }
    if let (Some(a), Some(b)) = (not_before, not_after)
        && b <= a
    {
        return Err(Error::InvalidTime(
            "not_after must be later than not_before".into(),
        ));
    }
    Ok(())
}

/// What the gate would say of one recipient if a request were sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// E.164.
    pub to: String,
    pub decision: Decision,
    /// The text would go now, but late or early for the recipient.
    pub late_note: Option<String>,
}

impl Daemon {
    /// The answer [`Daemon::submit`] would give `s` now, without queuing anything: the
    /// request's own faults as errors (numbers, text, class, topic, bulk, links), and per
    /// recipient the gate's decision and any late-hour note. A template's text is checked
    /// when sent, not here.
    pub async fn preview_send(&self, s: &Submission) -> Result<Vec<Preview>, Error> {
        if s.recipients.is_empty() {
            return Err(Error::InvalidNumber("no recipient".into()));
        }
        let settings = self.settings();
        let numbers = s
            .recipients
            .iter()
            .map(|r| {
                phone::normalize(r, settings.default_country)
                    .map_err(|e| Error::InvalidNumber(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let care = settings.care.clone();
        check_care(s, &numbers, &care)?;
        if s.template.is_none() {
            check_text(&s.text)?;
            let text = if s.class.is_promotional() {
                care.promotional_text(&s.text)
            } else {
                s.text.clone()
            };
            let items: Vec<(String, String)> =
                numbers.iter().map(|n| (n.clone(), text.clone())).collect();
            check_links(&items, s.allow_links)?;
        }
        check_times(s.not_before, s.not_after)?;
        let (class, topic) = (s.class, s.topic.clone());
        let now = s.not_before.unwrap_or_else(now_ms).max(now_ms());
        let scheduled = s.not_before.is_some();
        Ok(self
            .store
            .call(move |db| {
                numbers
                    .into_iter()
                    .map(|to| {
                        let facts = db.facts(&to, class, topic.as_deref(), now)?;
                        let decision = super::care::gate::may_send(&care.policy, &facts, now);
                        let late_note = (decision == Decision::Send && !scheduled)
                            .then(|| {
                                care.policy
                                    .late_hour_note(&to, facts.contact_zone.as_deref(), now)
                            })
                            .flatten();
                        Ok(Preview {
                            to,
                            decision,
                            late_note,
                        })
                    })
                    .collect()
            })
            .await?)
    }

    /// Checks, plans and queues one message per recipient. Nothing is queued unless every
    /// recipient and the text are acceptable; the messages are returned only after their
    /// commit.
    pub async fn submit(&self, mut s: Submission, peer: Peer) -> Result<Vec<Queued>, Error> {
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
        let care = settings.care.clone();
        // A template brings its text, class and topic; each recipient's text is rendered
        // from their contact and the request's fields.
        let texts: Vec<String> = match s.template.clone() {
            None => vec![s.text.clone(); numbers.len()],
            Some(name) => {
                let lookup = (name.clone(), numbers.clone());
                let (template, contacts) = self
                    .store
                    .call(move |db| {
                        let t = db.template(&lookup.0)?;
                        let contacts: Vec<_> = lookup
                            .1
                            .iter()
                            .map(|n| db.contact(n))
                            .collect::<crate::store::Result<_>>()?;
                        Ok((t, contacts))
                    })
                    .await?;
                let template =
                    template.ok_or_else(|| Error::Template(format!("no template {name:?}")))?;
                s.class = template.class;
                s.topic = template.topic.clone();
                s.text = template.body.clone();
                numbers
                    .iter()
                    .zip(&contacts)
                    .map(|(n, c)| {
                        let values = super::templates::values(n, c.as_ref(), &s.fields);
                        super::templates::render(&template.body, &values)
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        for text in &texts {
            check_text(text)?;
        }
        check_care(&s, &numbers, &care)?;
        if let Some(via) = &s.via
            && !self.modems.iter().any(|m| m.id() == via)
        {
            return Err(Error::NoModem(format!("there is no modem {via:?}")));
        }
        check_times(s.not_before, s.not_after)?;
        let items: Vec<(String, String)> = numbers
            .iter()
            .cloned()
            .zip(texts.into_iter().map(|t: String| {
                if s.class.is_promotional() {
                    care.promotional_text(&t)
                } else {
                    t
                }
            }))
            .collect();
        check_links(&items, s.allow_links)?;
        let shared = Shared {
            encoding_name: &s.encoding,
            encoding,
            report: s.report.unwrap_or(settings.status_reports),
            priority: s.priority,
            not_before: s.not_before,
            not_after: s.not_after,
            client_ref: s.client_ref.as_deref(),
            idempotency_key: s.idempotency_key.as_deref(),
            peer,
            class: s.class,
            topic: s.topic.as_deref(),
            template: s.template.as_deref(),
            max_parts: s
                .max_parts
                .map_or(settings.max_parts, |m| m.min(settings.max_parts)),
            watch: s.watch.as_ref(),
            via: s.via.as_deref(),
            flash: s.flash,
        };
        let base = self.concat_refs(numbers.len()).await?;
        let messages = plan_messages(&items, &shared, base)?;
        // All recipients in one transaction: the answer comes only after the commit.
        let now = now_ms();
        let counts: Vec<usize> = messages.iter().map(|m| m.parts.len()).collect();
        // The gate decides each recipient inside the transaction that queues it.
        let policy = care.policy.clone();
        let scheduled = s.not_before.is_some_and(|t| t > now);
        let (ids, mut notes) = self
            .store
            .call(move |db| {
                let mut notes = std::collections::HashMap::new();
                let ids = db.enqueue_gated(&messages, now, &mut |facts| {
                    let decision = super::care::gate::may_send(&policy, facts, now);
                    if decision == Decision::Send
                        && !scheduled
                        && facts.class != Class::System
                        && let Some(note) = policy.late_hour_note(
                            &facts.recipient,
                            facts.contact_zone.as_deref(),
                            now,
                        )
                    {
                        notes.insert(facts.recipient.clone(), note);
                    }
                    decision
                })?;
                Ok((ids, notes))
            })
            .await?;
        let mut queued = Vec::with_capacity(ids.len());
        for ((number, done), parts) in numbers.into_iter().zip(ids).zip(counts) {
            let (id, new) = (done.id, done.new);
            let (state, held_until, refusal) = match done.decision {
                Decision::Send => (MessageState::Queued, None, None),
                Decision::Hold { until } => (MessageState::Held, Some(until), None),
                Decision::Refuse { code, reason } => {
                    (MessageState::Refused, None, Some((code, reason)))
                }
            };
            match &refusal {
                None => {
                    info!(event = "queued", message_id = id, to = %phone::mask(&number), parts, class = %s.class, state = %state, uid = ?peer.uid, "message queued")
                }
                Some((code, _)) => {
                    info!(event = "refused", message_id = id, to = %phone::mask(&number), class = %s.class, code, uid = ?peer.uid, "refused by the customer-care gate; recorded, never sent")
                }
            }
            queued.push(Queued {
                id,
                warning: notes.remove(&number),
                to: number,
                parts,
                new,
                state,
                held_until,
                refusal,
            });
        }
        self.wake();
        // A request the gate refused for every recipient fails with the (first) reason, so
        // a one-recipient send to an opted-out number is an error with its code.
        if let Some(Queued {
            refusal: Some((code, reason)),
            ..
        }) = queued.first()
            && queued.iter().all(|q| q.refusal.is_some())
        {
            return Err(Error::Refused {
                code,
                message: format!("not sent: {reason} (recorded as refused)"),
            });
        }
        Ok(queued)
    }
}

/// A text with a link to a Philippine number needs the sender's explicit allow: the
/// carriers there block such texts (CC-2.6). `items` are (number, text) as they will go.
pub(super) fn check_links(items: &[(String, String)], allow_links: bool) -> Result<(), Error> {
    if !allow_links
        && items
            .iter()
            .any(|(n, t)| super::care::has_link(t) && phone::country_of(n).as_deref() == Some("PH"))
    {
        return Err(Error::NeedsConfirmation {
            code: "links_blocked_ph",
            message: "the text holds a link and goes to Philippine numbers, whose carriers \
                      block texts with links: remove it, or confirm (--allow-links, or \
                      allow_links: true)"
                .into(),
        });
    }
    Ok(())
}

/// What customer care asks of a request before anything is planned: a class and topic
/// clients may use, an explicit confirmation for bulk sends (CC-2.5).
fn check_care(
    s: &Submission,
    numbers: &[String],
    care: &super::care::CareSettings,
) -> Result<(), Error> {
    if s.class == Class::System {
        return Err(Error::InvalidClass(
            "class system is smsq's own (confirmations of STOP and START); use transactional, \
             reply, marketing or survey"
                .into(),
        ));
    }
    if let Some(topic) = &s.topic
        && !care.topics.iter().any(|t| t == topic)
    {
        return Err(Error::InvalidClass(format!(
            "unknown topic {topic:?}: configure it first ([care] topics), so that customers can \
             opt out of it with STOP {}",
            topic.to_uppercase()
        )));
    }
    if numbers.len() > care.bulk_limit && !s.confirm_bulk {
        return Err(Error::NeedsConfirmation {
            code: "bulk_confirmation_needed",
            message: format!(
                "{} recipients is more than {} in one request: confirm the bulk send \
                 (--confirm-bulk, or confirm_bulk: true)",
                numbers.len(),
                care.bulk_limit
            ),
        });
    }
    Ok(())
}
