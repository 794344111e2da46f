//! The shop's everyday workflows around the queue: templates, conversations (threads and
//! replies), scheduled and held messages (list, edit), and the audit export.

use super::{Daemon, Error, Peer, Queued, Submission};
use crate::pdu::{EncodingChoice, PlanOptions, SubmitEncoder, SubmitOptions, SubmitPdus};
use crate::store::{
    Class, ConsentEntry, InboxRow, MessageRow, MessageState, Template, ThreadEntry, ThreadRow,
};
use crate::time::now_ms;

/// Everything exchanged in a period, for an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditData {
    pub sent: Vec<MessageRow>,
    pub received: Vec<InboxRow>,
    pub consent: Vec<ConsentEntry>,
}

impl Daemon {
    /// Saves (or replaces) a template after checking its placeholders.
    pub async fn save_template(
        &self,
        name: &str,
        body: &str,
        class: Class,
        topic: Option<String>,
    ) -> Result<(Template, Vec<String>), Error> {
        let name = super::customers::word("template", name)?;
        if class == Class::System {
            return Err(Error::InvalidClass("class system is smsq's own".into()));
        }
        if let Some(t) = &topic
            && !self.settings().care.topics.contains(t)
        {
            return Err(Error::InvalidClass(format!(
                "unknown topic {t:?}: configure it first ([care] topics)"
            )));
        }
        if body.trim().is_empty() {
            return Err(Error::Template("the template has no text".into()));
        }
        super::submit::check_text(body)?;
        let fields = super::templates::check(body)?;
        let now = now_ms();
        let template = Template {
            name,
            body: body.to_string(),
            class,
            topic,
            created_at: now,
            updated_at: now,
        };
        let saved = template.clone();
        self.store
            .call(move |db| db.save_template(&saved, now))
            .await?;
        Ok((template, fields))
    }

    pub async fn template(&self, name: &str) -> Result<Template, Error> {
        let key = name.to_string();
        self.store
            .call(move |db| db.template(&key))
            .await?
            .ok_or_else(|| Error::Template(format!("no template {name:?}")))
    }

    pub async fn templates(&self) -> Result<Vec<Template>, Error> {
        Ok(self.store.call(|db| db.templates()).await?)
    }

    pub async fn remove_template(&self, name: &str) -> Result<(), Error> {
        let key = name.to_string();
        if self.store.call(move |db| db.remove_template(&key)).await? {
            Ok(())
        } else {
            Err(Error::Template(format!("no template {name:?}")))
        }
    }

    /// Conversations, open ones (or all), most recent first.
    pub async fn threads(&self, all: bool, limit: i64) -> Result<Vec<ThreadRow>, Error> {
        Ok(self
            .store
            .call(move |db| db.threads(all, limit.clamp(1, 1000)))
            .await?)
    }

    /// Everything exchanged with one customer, in order.
    pub async fn conversation(
        &self,
        number: &str,
        limit: i64,
    ) -> Result<(String, Vec<ThreadEntry>), Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        let entries = self
            .store
            .call(move |db| db.conversation(&key, limit.clamp(1, 10_000)))
            .await?;
        Ok((number, entries))
    }

    /// A person's answer to a customer (class `reply`, through the gate like everything).
    pub async fn reply(&self, number: &str, text: &str, peer: Peer) -> Result<Queued, Error> {
        let mut s = Submission::new(vec![number.to_string()], text);
        s.class = Class::Reply;
        let mut queued = self.submit(s, peer).await?;
        Ok(queued.remove(0))
    }

    /// Marks the conversation with `number` resolved (or open again).
    pub async fn set_thread_state(&self, number: &str, open: bool) -> Result<String, Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        let now = now_ms();
        if self
            .store
            .call(move |db| db.set_thread_state(&key, open, now))
            .await?
        {
            Ok(number)
        } else {
            Err(Error::InvalidContact(format!(
                "no conversation with {number}"
            )))
        }
    }

    /// Messages waiting for their time or their recipient's window: scheduled (queued with a
    /// `not_before` still ahead) and held.
    pub async fn scheduled(&self, limit: i64) -> Result<Vec<MessageRow>, Error> {
        let now = now_ms();
        let rows = self
            .outbox(vec![MessageState::Queued, MessageState::Held], None, limit)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|m| m.state == MessageState::Held || m.not_before.is_some_and(|t| t > now))
            .collect())
    }

    /// Changes the text and/or the time of a queued or held message nothing of which went
    /// out; the gate decides again when it comes due.
    pub async fn edit_message(
        &self,
        id: i64,
        text: Option<String>,
        not_before: Option<i64>,
    ) -> Result<(), Error> {
        if text.is_none() && not_before.is_none() {
            return Err(Error::InvalidText("give a new text or a new time".into()));
        }
        let settings = self.settings();
        let detail = self.message(id).await?;
        let m = detail.message;
        let body = match text {
            None => None,
            Some(t) => {
                super::submit::check_text(&t)?;
                let t = if m.class.is_promotional() {
                    settings.care.promotional_text(&t)
                } else {
                    t
                };
                let address = crate::pdu::Address::parse(&m.recipient)
                    .map_err(|e| Error::InvalidNumber(e.to_string()))?;
                let mut opts = SubmitOptions::new(address);
                opts.plan = PlanOptions {
                    encoding: EncodingChoice::Auto,
                    concat: crate::pdu::ConcatRef::Ref8(self.concat_refs(1).await?),
                    max_parts: settings.max_parts,
                    ..PlanOptions::default()
                };
                let mut out = SubmitPdus::new();
                SubmitEncoder::new()
                    .encode_text(&t, &opts, &mut out)
                    .map_err(|e| Error::Unencodable {
                        code: e.code(),
                        message: e.to_string(),
                    })?;
                let parts: Vec<(usize, String)> = out
                    .iter()
                    .map(|p| (p.tpdu_len, p.hex.to_string()))
                    .collect();
                let alphabet = out.alphabet().map_or("gsm7", |a| a.name()).to_string();
                Some((t, alphabet, parts))
            }
        };
        if let Some(t) = not_before
            && t < now_ms() - 60_000
        {
            return Err(Error::InvalidTime("the new time is already past".into()));
        }
        let now = now_ms();
        let edited = self
            .store
            .call(move |db| {
                let body = body.as_ref().map(|(t, a, p)| crate::store::NewText {
                    body: t,
                    alphabet: a,
                    parts: p,
                });
                db.edit_message(id, body, not_before, now)
            })
            .await?;
        self.wake();
        if edited {
            Ok(())
        } else {
            Err(Error::NotCancellable(id))
        }
    }

    /// Everything exchanged and agreed in `[from, to)`, optionally with one number.
    pub async fn audit(
        &self,
        from: i64,
        to: i64,
        number: Option<&str>,
    ) -> Result<AuditData, Error> {
        let number = number.map(|n| self.customer_number(n)).transpose()?;
        Ok(self
            .store
            .call(move |db| {
                let n = number.as_deref();
                Ok(AuditData {
                    sent: db.outbox_between(from, to, n)?,
                    received: db.inbox_between(from, to, n)?,
                    consent: db.consent_between(from, to, n)?,
                })
            })
            .await?)
    }
}

/// A survey as a client defines it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SurveyPlan {
    pub name: String,
    pub question: String,
    /// `rating` (with `scale`), `yes_no`, `choice` (with `choices`) or `free`.
    pub kind: String,
    pub scale: Option<i64>,
    pub choices: Vec<String>,
    pub expiry: Option<std::time::Duration>,
    pub invalid_reply: Option<String>,
    pub thanks: Option<String>,
}

/// A survey's results.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyResults {
    pub survey: crate::store::Survey,
    pub answers: Vec<crate::store::SurveyAnswerRow>,
    /// Answers by value, in order.
    pub counts: Vec<(String, i64)>,
    /// For a rating.
    pub average: Option<f64>,
}

impl Daemon {
    /// Saves (or replaces) a survey after checking it.
    pub async fn save_survey(&self, p: SurveyPlan) -> Result<crate::store::Survey, Error> {
        let name = super::customers::word("survey", &p.name)?;
        let bad = |why: String| Error::Template(why);
        match p.kind.as_str() {
            "rating" => {
                if !(2..=10).contains(&p.scale.unwrap_or(5)) {
                    return Err(bad("a rating goes from 1 to 2..10".into()));
                }
            }
            "choice" => {
                if !(2..=9).contains(&p.choices.len()) {
                    return Err(bad("a choice needs 2 to 9 options".into()));
                }
            }
            "yes_no" | "free" => {}
            other => {
                return Err(bad(format!(
                    "{other:?}: a survey is rating, yes_no, choice or free"
                )));
            }
        }
        for t in [&p.question]
            .into_iter()
            .chain(p.invalid_reply.as_ref())
            .chain(p.thanks.as_ref())
        {
            super::submit::check_text(t)?;
        }
        if p.question.trim().is_empty() {
            return Err(bad("the survey has no question".into()));
        }
        let expiry = p
            .expiry
            .unwrap_or(std::time::Duration::from_secs(3 * 86_400));
        if expiry < std::time::Duration::from_secs(3600)
            || expiry > std::time::Duration::from_secs(30 * 86_400)
        {
            return Err(bad("a survey stays open between 1h and 30d".into()));
        }
        let survey = crate::store::Survey {
            name,
            question: p.question,
            scale: (p.kind == "rating").then(|| p.scale.unwrap_or(5)),
            choices: if p.kind == "choice" {
                p.choices
            } else {
                Vec::new()
            },
            invalid_reply: p
                .invalid_reply
                .unwrap_or_else(|| "Sorry, we did not understand your answer.".into()),
            thanks: p
                .thanks
                .unwrap_or_else(|| "Thank you for your answer!".into()),
            kind: p.kind,
            expiry_ms: expiry.as_millis() as i64,
        };
        let saved = survey.clone();
        let now = now_ms();
        self.store
            .call(move |db| db.save_survey(&saved, now))
            .await?;
        Ok(survey)
    }

    /// Who was asked, who answered what, the counts and the average.
    pub async fn survey_results(&self, name: &str) -> Result<SurveyResults, Error> {
        let key = name.to_string();
        let (survey, answers) = self
            .store
            .call(move |db| Ok((db.survey(&key)?, db.survey_answers(&key)?)))
            .await?;
        let survey = survey.ok_or_else(|| Error::Template(format!("no survey {name:?}")))?;
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for a in answers.iter().filter_map(|a| a.answer.as_ref()) {
            *counts.entry(a.clone()).or_default() += 1;
        }
        let numeric: Vec<f64> = answers
            .iter()
            .filter_map(|a| a.answer.as_ref()?.parse::<f64>().ok())
            .collect();
        let average = (survey.kind == "rating" && !numeric.is_empty())
            .then(|| numeric.iter().sum::<f64>() / numeric.len() as f64);
        Ok(SurveyResults {
            survey,
            answers,
            counts: counts.into_iter().collect(),
            average,
        })
    }
}
