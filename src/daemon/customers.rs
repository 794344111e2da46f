//! The shop's customers: contacts, groups, the consent ledger, and the data-subject rights
//! (export, erase). Every value a client gives is checked here before it is stored: numbers
//! normalised, tags and field names as words, time zones that exist, no control characters.

use std::collections::BTreeMap;

use super::{Daemon, Error};
use crate::phone;
use crate::store::{
    ConsentEntry, ConsentSource, ConsentState, Contact, ContactChange, InboxRow, MessageRow,
    NewConsent,
};
use crate::time::now_ms;

/// A contact to add or change, as an interface hands it to the core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactEdit {
    pub number: String,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub notes: Option<String>,
    /// Fields to set; an empty value removes one.
    pub fields: BTreeMap<String, String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
}

/// A consent entry an operator or a program records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub number: String,
    /// `None`: every topic.
    pub topic: Option<String>,
    pub grant: bool,
    pub source: ConsentSource,
    pub evidence: Option<String>,
    /// The exact words the customer saw (required for a grant).
    pub text_shown: Option<String>,
    pub actor: Option<String>,
}

/// Everything kept about one number (CC-1.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectData {
    pub number: String,
    pub contact: Option<Contact>,
    pub consent: Vec<ConsentEntry>,
    pub sent: Vec<MessageRow>,
    pub received: Vec<InboxRow>,
    /// Erased on request: only the suppression remains.
    pub suppressed: bool,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidContact(why.into())
}

/// A tag or field name: lower-case letters, digits, `-` and `_`, 1 to 32 of them.
pub fn word(kind: &str, text: &str) -> Result<String, Error> {
    let w = text.trim().to_lowercase();
    if w.is_empty()
        || w.len() > 32
        || !w
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(invalid(format!(
            "{kind} {:?}: use 1 to 32 letters, digits, - or _",
            text.chars().take(40).collect::<String>()
        )));
    }
    Ok(w)
}

/// Free text a person typed: no control characters but line breaks, at most `max` chars.
fn free_text(what: &str, text: &str, max: usize) -> Result<String, Error> {
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\r')
    {
        return Err(invalid(format!(
            "{what} holds the control character U+{:04X}",
            c as u32
        )));
    }
    if text.chars().count() > max {
        return Err(invalid(format!("{what} is longer than {max} characters")));
    }
    Ok(text.to_string())
}

impl Daemon {
    /// A contact's new values, each checked where it enters.
    fn checked_change(&self, edit: ContactEdit) -> Result<ContactChange, Error> {
        let optional = |what: &str, value: Option<String>, max: usize| {
            value
                .map(|v| {
                    let v = free_text(what, v.trim(), max)?;
                    Ok::<_, Error>(if v.is_empty() { None } else { Some(v) })
                })
                .transpose()
        };
        let mut change = ContactChange {
            name: optional("the name", edit.name, 200)?,
            notes: optional("the notes", edit.notes, 2000)?,
            ..ContactChange::default()
        };
        if let Some(zone) = edit.time_zone {
            change.time_zone = Some(if zone.trim().is_empty() {
                None
            } else {
                let zone = zone.trim();
                jiff::tz::TimeZone::get(zone).map_err(|_| {
                    invalid(format!(
                        "no time zone {zone:?}: use an IANA name such as Asia/Manila"
                    ))
                })?;
                Some(zone.to_string())
            });
        }
        if let Some(language) = edit.language {
            let l = language.trim().to_lowercase();
            change.language = Some(if l.is_empty() {
                None
            } else if (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase()) {
                Some(l)
            } else {
                return Err(invalid(format!(
                    "language {:?}: use a two- or three-letter code (en, fil, pl)",
                    language.chars().take(20).collect::<String>()
                )));
            });
        }
        for (name, value) in edit.fields {
            change
                .fields
                .insert(word("field", &name)?, free_text("a field", &value, 500)?);
        }
        change.add_tags = edit
            .add_tags
            .iter()
            .map(|t| word("tag", t))
            .collect::<Result<_, _>>()?;
        change.remove_tags = edit
            .remove_tags
            .iter()
            .map(|t| word("tag", t))
            .collect::<Result<_, _>>()?;
        Ok(change)
    }

    /// A number as the shop typed it, in E.164.
    pub fn customer_number(&self, text: &str) -> Result<String, Error> {
        phone::normalize(text, self.settings().default_country)
            .map_err(|e| Error::InvalidNumber(e.to_string()))
    }

    /// Adds a contact (`must_be_new`: refused if it exists) or changes an existing one.
    pub async fn save_contact(
        &self,
        edit: ContactEdit,
        must_be_new: bool,
    ) -> Result<Contact, Error> {
        let number = self.customer_number(&edit.number)?;
        let change = self.checked_change(edit)?;
        let now = now_ms();
        let key = number.clone();
        let saved = self
            .store
            .call(move |db| db.save_contact(&key, &change, must_be_new, now))
            .await?;
        saved.ok_or_else(|| {
            invalid(if must_be_new {
                format!("{number} is already a contact: use edit")
            } else {
                format!("no contact {number}: use add")
            })
        })
    }

    pub async fn contact(&self, number: &str) -> Result<Contact, Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        self.store
            .call(move |db| db.contact(&key))
            .await?
            .ok_or_else(|| invalid(format!("no contact {number}")))
    }

    /// Contacts with every one of `tags`, or in group `group`.
    pub async fn contacts(
        &self,
        tags: Vec<String>,
        group: Option<String>,
        limit: i64,
    ) -> Result<Vec<Contact>, Error> {
        let mut tags: Vec<String> = tags
            .iter()
            .map(|t| word("tag", t))
            .collect::<Result<_, _>>()?;
        if let Some(group) = group {
            let name = word("group", &group)?;
            let key = name.clone();
            let saved = self
                .store
                .call(move |db| db.group(&key))
                .await?
                .ok_or_else(|| invalid(format!("no group {name}")))?;
            tags.extend(saved);
        }
        Ok(self
            .store
            .call(move |db| db.contacts(&tags, limit.clamp(1, 100_000)))
            .await?)
    }

    pub async fn remove_contact(&self, number: &str) -> Result<(), Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        if self.store.call(move |db| db.remove_contact(&key)).await? {
            Ok(())
        } else {
            Err(invalid(format!("no contact {number}")))
        }
    }

    /// Saves group `name`: the contacts having every one of `tags`.
    pub async fn save_group(&self, name: &str, tags: Vec<String>) -> Result<Vec<String>, Error> {
        let name = word("group", name)?;
        let tags: Vec<String> = tags
            .iter()
            .map(|t| word("tag", t))
            .collect::<Result<_, _>>()?;
        if tags.is_empty() {
            return Err(invalid("a group needs at least one tag"));
        }
        let saved = tags.clone();
        self.store
            .call(move |db| db.save_group(&name, &saved))
            .await?;
        Ok(tags)
    }

    /// The ledger of one number, oldest first.
    pub async fn consent_history(
        &self,
        number: &str,
    ) -> Result<(String, Vec<ConsentEntry>), Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        let history = self.store.call(move |db| db.consent_history(&key)).await?;
        Ok((number, history))
    }

    /// Records a grant or a revocation. A grant needs the words the customer saw; a web-form
    /// or imported grant of a double-opt-in topic stays pending until the customer's YES; an
    /// erased number cannot be granted again.
    pub async fn record_consent(&self, r: ConsentRecord) -> Result<ConsentEntry, Error> {
        let number = self.customer_number(&r.number)?;
        let care = self.settings().care;
        let topic = match &r.topic {
            None => String::new(),
            Some(t) => {
                let t = word("topic", t)?;
                if !care.topics.contains(&t) {
                    return Err(Error::InvalidClass(format!(
                        "unknown topic {t:?}: configure it first ([care] topics)"
                    )));
                }
                t
            }
        };
        if r.source == ConsentSource::Keyword {
            return Err(invalid(
                "source keyword is recorded by smsq itself when a customer texts STOP or START",
            ));
        }
        let text_shown = r
            .text_shown
            .map(|t| free_text("text_shown", t.trim(), 1000))
            .transpose()?
            .filter(|t| !t.is_empty());
        if r.grant && text_shown.is_none() {
            return Err(invalid(
                "a grant needs the exact words the customer agreed to (text_shown)",
            ));
        }
        let state = if !r.grant {
            ConsentState::Revoked
        } else if matches!(r.source, ConsentSource::WebForm | ConsentSource::Import)
            && care
                .double_opt_in
                .iter()
                .any(|t| *t == topic || topic.is_empty())
        {
            ConsentState::Pending
        } else {
            ConsentState::Granted
        };
        let entry = NewConsent {
            number: number.clone(),
            topic,
            state,
            source: r.source,
            evidence: r
                .evidence
                .map(|e| free_text("evidence", &e, 500))
                .transpose()?,
            text_shown,
            actor: r.actor.map(|a| free_text("actor", &a, 100)).transpose()?,
            double_opt_in_confirmed_at: None,
        };
        let now = now_ms();
        let recorded = entry.clone();
        let id = self
            .store
            .call(move |db| {
                if entry.state != ConsentState::Revoked && db.is_suppressed(&entry.number)? {
                    return Ok(None);
                }
                db.record_consent(std::slice::from_ref(&entry), now)
                    .map(Some)
            })
            .await?;
        let Some(ids) = id else {
            return Err(Error::Refused {
                code: "opted_out",
                message: format!(
                    "{number} was erased at the customer's request; it cannot be signed up again"
                ),
            });
        };
        self.wake();
        Ok(ConsentEntry {
            id: ids[0],
            number: recorded.number,
            topic: recorded.topic,
            state: recorded.state,
            source: recorded.source.as_str().to_string(),
            evidence: recorded.evidence,
            text_shown: recorded.text_shown,
            actor: recorded.actor,
            at: now,
            double_opt_in_confirmed_at: recorded.double_opt_in_confirmed_at,
        })
    }

    /// Everything kept about `number`.
    pub async fn subject_export(&self, number: &str) -> Result<SubjectData, Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        Ok(self
            .store
            .call(move |db| {
                Ok(SubjectData {
                    contact: db.contact(&key)?,
                    consent: db.consent_history(&key)?,
                    sent: db.outbox_for(&key)?,
                    received: db.inbox_for(&key)?,
                    suppressed: db.is_suppressed(&key)?,
                    number: key,
                })
            })
            .await?)
    }

    /// Erases what is kept about `number`, keeping it suppressed; returns rows changed.
    pub async fn subject_erase(&self, number: &str) -> Result<(String, usize), Error> {
        let number = self.customer_number(number)?;
        let key = number.clone();
        let now = now_ms();
        let changed = self
            .store
            .call(move |db| db.erase_subject(&key, now))
            .await?;
        tracing::info!(event = "erased", number = %phone::mask(&number), rows = changed, "a customer's data was erased on request");
        Ok((number, changed))
    }
}

/// One row of a contacts import, as the file gave it (read by [`crate::sheet`], or sent
/// row by row by a client).
pub type ImportInput = crate::sheet::SheetRow;

/// How a file's consent column is to be read: where it came from and what customers saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportConsent {
    pub source: Option<ConsentSource>,
    pub text_shown: Option<String>,
    pub evidence: Option<String>,
    pub actor: Option<String>,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResult {
    pub line: usize,
    /// E.164 when it could be read.
    pub number: Option<String>,
    /// `added`, `updated`, `skipped_suppressed` or `invalid`.
    pub outcome: &'static str,
    pub reason: Option<String>,
    /// `granted`, `pending` (double opt-in) or `none`.
    pub consent: &'static str,
}

impl Daemon {
    /// Imports contacts: every cell is text; a number erased on request is skipped and said
    /// so; a row's consent becomes a grant only with a stated source and the words shown.
    /// With `dry_run`, reports what would happen and changes nothing.
    pub async fn import_contacts(
        &self,
        rows: Vec<ImportInput>,
        tag: Option<String>,
        consent: ImportConsent,
        dry_run: bool,
    ) -> Result<Vec<ImportResult>, Error> {
        let tag = tag.map(|t| word("tag", &t)).transpose()?;
        let grants = rows.iter().any(|r| r.consent == Some(true));
        let text_shown = consent
            .text_shown
            .as_deref()
            .map(|t| free_text("text_shown", t.trim(), 1000))
            .transpose()?
            .filter(|t| !t.is_empty());
        let source = consent.source.unwrap_or(ConsentSource::Import);
        if grants && text_shown.is_none() {
            return Err(invalid(
                "the file says some customers agreed: give the exact words they agreed to \
                 (text_shown) before their consent is recorded",
            ));
        }
        if source == ConsentSource::Keyword {
            return Err(invalid("source keyword is recorded by smsq itself"));
        }
        let care = self.settings().care;
        let pending = matches!(source, ConsentSource::WebForm | ConsentSource::Import)
            && !care.double_opt_in.is_empty();
        let mut results = Vec::with_capacity(rows.len());
        let mut valid = Vec::new();
        for r in rows {
            let line = r.line;
            let checked = (|| {
                let edit = ContactEdit {
                    number: r.number.clone(),
                    name: r.name.clone(),
                    time_zone: r.time_zone.clone(),
                    language: r.language.clone(),
                    notes: r.notes.clone(),
                    fields: r.fields.clone(),
                    add_tags: r.tags.iter().cloned().chain(tag.clone()).collect(),
                    remove_tags: Vec::new(),
                };
                let number = self.customer_number(&edit.number)?;
                let change = self.checked_change(edit)?;
                Ok::<_, Error>((number, change))
            })();
            match checked {
                Err(e) => results.push(ImportResult {
                    line,
                    number: None,
                    outcome: "invalid",
                    reason: Some(e.to_string()),
                    consent: "none",
                }),
                Ok((number, change)) => {
                    let entry = (r.consent == Some(true)).then(|| NewConsent {
                        number: number.clone(),
                        topic: String::new(),
                        state: if pending {
                            ConsentState::Pending
                        } else {
                            ConsentState::Granted
                        },
                        source,
                        evidence: consent
                            .evidence
                            .clone()
                            .map(|e| format!("{e}, line {line}")),
                        text_shown: text_shown.clone(),
                        actor: consent.actor.clone(),
                        double_opt_in_confirmed_at: None,
                    });
                    valid.push((
                        line,
                        crate::store::ImportRow {
                            number,
                            change,
                            consent: entry,
                        },
                    ));
                }
            }
        }
        let now = now_ms();
        let store_rows: Vec<crate::store::ImportRow> =
            valid.iter().map(|(_, r)| r.clone()).collect();
        let outcomes = self
            .store
            .call(move |db| db.import_contacts(&store_rows, dry_run, now))
            .await?;
        for ((line, row), outcome) in valid.into_iter().zip(outcomes) {
            let (outcome, reason) = match outcome {
                crate::store::ImportOutcome::Added => ("added", None),
                crate::store::ImportOutcome::Updated => ("updated", None),
                crate::store::ImportOutcome::Suppressed => (
                    "skipped_suppressed",
                    Some("erased at the customer's request: never added again".to_string()),
                ),
            };
            let consent = match (&row.consent, outcome) {
                (Some(c), "added" | "updated") if c.state == ConsentState::Pending => "pending",
                (Some(_), "added" | "updated") => "granted",
                _ => "none",
            };
            results.push(ImportResult {
                line,
                number: Some(row.number),
                outcome,
                reason,
                consent,
            });
        }
        results.sort_by_key(|r| r.line);
        if !dry_run {
            self.wake();
        }
        Ok(results)
    }
}
