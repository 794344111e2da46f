//! Campaigns: one text (or template) to the contacts with some tags or in a saved group. A
//! preview says what would happen to each recipient (sent, held for their quiet hours,
//! refused and why, a placeholder without a value), what it costs in parts, and how the
//! text travels; starting it queues every message through the gate in one transaction,
//! recorded as a campaign that can be followed, reported on and cancelled as a whole.

use std::collections::{BTreeMap, BTreeSet};

use super::care::gate::may_send;
use super::submit::{Shared, plan_messages};
use super::{Daemon, Error, Peer};
use crate::pdu::{EncodingChoice, PlanOptions, Planner};
use crate::store::{CampaignRow, Class, Contact, Decision};
use crate::time::now_ms;

/// What a campaign sends, and to whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignPlan {
    pub name: String,
    /// A saved template (its class and topic apply), or `text`.
    pub template: Option<String>,
    pub text: Option<String>,
    pub class: Option<Class>,
    pub topic: Option<String>,
    /// Contacts having every one of these tags...
    pub tags: Vec<String>,
    /// ...and of this group's.
    pub group: Option<String>,
    /// Values for placeholders, beside each contact's own.
    pub fields: BTreeMap<String, String>,
    pub allow_links: bool,
    /// A saved survey to ask (its question is the text; class survey).
    pub survey: Option<String>,
}

/// What a campaign would do (or did, when started).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignPreview {
    pub recipients: usize,
    /// Would go now.
    pub sending: usize,
    /// Would wait for the recipient's quiet hours.
    pub held: usize,
    /// Refused, by code, with the numbers.
    pub refused: BTreeMap<String, Vec<String>>,
    /// Recipients whose text cannot be written: the field that has no value.
    pub missing: Vec<(String, String)>,
    /// Parts of the messages that would go or wait.
    pub parts: usize,
    pub max_parts: usize,
    /// How many recipients' texts take 1, 2, 3... parts.
    pub parts_per_recipient: BTreeMap<usize, usize>,
    /// How many texts would travel as gsm7 and as ucs2.
    pub encodings: BTreeMap<String, usize>,
    /// Characters that make a text UCS-2 (halving what a part holds).
    pub forcing_ucs2: Vec<char>,
    /// What `gsm7-fold` would change (character → replacement).
    pub folding: Vec<(char, String)>,
    /// `parts` at the configured price per part.
    pub cost: Option<f64>,
    pub text: String,
    pub class: Option<Class>,
    pub topic: Option<String>,
    pub audience: String,
    /// The campaign's id once started.
    pub id: Option<i64>,
}

/// The recipients' texts, rendered (or the field that is missing).
struct Rendered {
    body: String,
    class: Class,
    topic: Option<String>,
    template: Option<String>,
    audience: String,
    items: Vec<(String, Result<String, String>)>,
}

impl Daemon {
    async fn render_campaign(&self, plan: &CampaignPlan) -> Result<Rendered, Error> {
        if plan.name.trim().is_empty() || plan.name.chars().count() > 100 {
            return Err(Error::Campaign(
                "give the campaign a name (1 to 100 characters)".into(),
            ));
        }
        let (body, class, topic) = match (&plan.template, &plan.text) {
            _ if plan.survey.is_some() => {
                let name = plan.survey.clone().unwrap_or_default();
                let key = name.clone();
                let s = self
                    .store
                    .call(move |db| db.survey(&key))
                    .await?
                    .ok_or_else(|| Error::Campaign(format!("no survey {name:?}")))?;
                (s.question, Class::Survey, plan.topic.clone())
            }
            (Some(name), None) => {
                let key = name.clone();
                let t = self
                    .store
                    .call(move |db| db.template(&key))
                    .await?
                    .ok_or_else(|| Error::Template(format!("no template {name:?}")))?;
                (t.body, t.class, t.topic)
            }
            (None, Some(text)) => (
                text.clone(),
                plan.class.unwrap_or(Class::Marketing),
                plan.topic.clone(),
            ),
            _ => {
                return Err(Error::Campaign("give either a template or a text".into()));
            }
        };
        if class == Class::System {
            return Err(Error::InvalidClass("class system is smsq's own".into()));
        }
        super::templates::check(&body)?;
        if plan.tags.is_empty() && plan.group.is_none() {
            return Err(Error::Campaign(
                "say who it goes to: a tag or a group".into(),
            ));
        }
        let contacts: Vec<Contact> = self
            .contacts(plan.tags.clone(), plan.group.clone(), 100_000)
            .await?;
        let mut audience = Vec::new();
        if !plan.tags.is_empty() {
            audience.push(format!("tag {}", plan.tags.join(" and ")));
        }
        if let Some(g) = &plan.group {
            audience.push(format!("group {g}"));
        }
        let care = self.settings().care;
        let items = contacts
            .iter()
            .map(|c| {
                let values = super::templates::values(&c.number, Some(c), &plan.fields);
                let text = match super::templates::render(&body, &values) {
                    Ok(t) if class.is_promotional() => Ok(care.promotional_text(&t)),
                    Ok(t) => Ok(t),
                    Err(Error::MissingField(f)) => Err(f),
                    Err(e) => Err(e.to_string()),
                };
                (c.number.clone(), text)
            })
            .collect();
        Ok(Rendered {
            body,
            class,
            topic,
            template: plan.template.clone(),
            audience: audience.join(", "),
            items,
        })
    }

    /// What the campaign would do now, without queueing anything.
    pub async fn campaign_preview(&self, plan: &CampaignPlan) -> Result<CampaignPreview, Error> {
        let r = self.render_campaign(plan).await?;
        let now = now_ms();
        let numbers: Vec<String> = r.items.iter().map(|(n, _)| n.clone()).collect();
        let (class, topic) = (r.class, r.topic.clone());
        let facts = self
            .store
            .call(move |db| db.facts_for(&numbers, class, topic.as_deref(), now))
            .await?;
        let settings = self.settings();
        let mut p = CampaignPreview {
            recipients: r.items.len(),
            text: r.body.clone(),
            class: Some(r.class),
            topic: r.topic.clone(),
            audience: r.audience.clone(),
            ..CampaignPreview::default()
        };
        let mut planner = Planner::new();
        let (mut forcing, mut folding) = (BTreeSet::new(), BTreeMap::new());
        for ((number, text), f) in r.items.iter().zip(&facts) {
            let text = match text {
                Ok(t) => t,
                Err(field) => {
                    p.missing.push((number.clone(), field.clone()));
                    continue;
                }
            };
            match may_send(&settings.care.policy, f, now) {
                Decision::Refuse { code, .. } => {
                    p.refused
                        .entry(code.to_string())
                        .or_default()
                        .push(number.clone());
                    continue;
                }
                Decision::Hold { .. } => p.held += 1,
                Decision::Send => p.sending += 1,
            }
            let e = planner
                .estimate(text, &PlanOptions::default())
                .map_err(|e| Error::Unencodable {
                    code: e.code(),
                    message: e.to_string(),
                })?;
            p.parts += e.parts;
            p.max_parts = p.max_parts.max(e.parts);
            *p.parts_per_recipient.entry(e.parts).or_default() += 1;
            *p.encodings
                .entry(e.alphabet.name().to_string())
                .or_default() += 1;
            forcing.extend(e.forced_ucs2_by.iter().map(|c| c.character));
            if e.alphabet.name() == "ucs2" {
                let opts = PlanOptions {
                    encoding: EncodingChoice::Gsm7Fold,
                    ..PlanOptions::default()
                };
                if let Ok(folded) = planner.estimate(text, &opts) {
                    for f in folded.folded {
                        folding.insert(f.at.character, f.replacement.to_string());
                    }
                }
            }
        }
        p.forcing_ucs2 = forcing.into_iter().collect();
        p.folding = folding.into_iter().collect();
        p.cost = settings
            .care
            .price_per_part
            .map(|price| price * p.parts as f64);
        Ok(p)
    }

    /// Starts the campaign: every message queued through the gate in one transaction. A
    /// recipient whose text cannot be written stops it before anything is queued.
    pub async fn campaign_start(
        &self,
        plan: &CampaignPlan,
        peer: Peer,
    ) -> Result<CampaignPreview, Error> {
        let r = self.render_campaign(plan).await?;
        if let Some((number, field)) = r
            .items
            .iter()
            .find_map(|(n, t)| t.as_ref().err().map(|f| (n, f)))
        {
            return Err(Error::MissingField(format!(
                "{field} (for {number}, among others)"
            )));
        }
        let settings = self.settings();
        let items: Vec<(String, String)> = r
            .items
            .iter()
            .map(|(n, t)| (n.clone(), t.clone().unwrap_or_default()))
            .collect();
        for (_, text) in &items {
            super::submit::check_text(text)?;
        }
        super::submit::check_links(&items, plan.allow_links)?;
        let shared = Shared {
            encoding_name: "auto",
            encoding: EncodingChoice::Auto,
            report: settings.status_reports,
            priority: -1,
            not_before: None,
            not_after: None,
            client_ref: None,
            idempotency_key: None,
            peer,
            class: r.class,
            topic: r.topic.as_deref(),
            template: r.template.as_deref(),
            max_parts: settings.max_parts,
            watch: None,
            via: None,
            flash: false,
        };
        let base = self.concat_refs(items.len()).await?;
        let messages = plan_messages(&items, &shared, base)?;
        let row = CampaignRow {
            id: 0,
            name: plan.name.trim().to_string(),
            template: r.template.clone(),
            body: r.body.clone(),
            class: r.class,
            topic: r.topic.clone(),
            audience: r.audience.clone(),
            state: "active".into(),
            created_at: 0,
            counts: Vec::new(),
            replies: 0,
        };
        let now = now_ms();
        let policy = settings.care.policy.clone();
        let parts: Vec<usize> = messages.iter().map(|m| m.parts.len()).collect();
        let survey = match &plan.survey {
            None => None,
            Some(name) => {
                let key = name.clone();
                let s = self.store.call(move |db| db.survey(&key)).await?;
                s.map(|s| (s.name, now + s.expiry_ms))
            }
        };
        let (id, outcomes) = self
            .store
            .call(move |db| {
                let survey = survey.as_ref().map(|(n, at)| (n.as_str(), *at));
                db.start_campaign(&row, &messages, now, peer.uid, survey, &mut |facts| {
                    may_send(&policy, facts, now)
                })
            })
            .await?;
        self.wake();
        self.campaign_started.notify_one();
        let mut p = CampaignPreview {
            id: Some(id),
            recipients: items.len(),
            text: r.body,
            class: Some(r.class),
            topic: r.topic,
            audience: r.audience,
            ..CampaignPreview::default()
        };
        for ((number, _), (outcome, n)) in items.iter().zip(outcomes.iter().zip(parts)) {
            match &outcome.decision {
                Decision::Refuse { code, .. } => p
                    .refused
                    .entry(code.to_string())
                    .or_default()
                    .push(number.clone()),
                Decision::Hold { .. } => {
                    p.held += 1;
                    p.parts += n;
                }
                Decision::Send => {
                    p.sending += 1;
                    p.parts += n;
                }
            }
        }
        p.cost = settings
            .care
            .price_per_part
            .map(|price| price * p.parts as f64);
        tracing::info!(
            event = "campaign_started",
            campaign = id,
            recipients = p.recipients,
            sending = p.sending,
            held = p.held,
            refused = p.refused.values().map(Vec::len).sum::<usize>(),
            "campaign started"
        );
        Ok(p)
    }

    /// One campaign, or all of them (newest first).
    pub async fn campaigns(&self, id: Option<i64>) -> Result<Vec<CampaignRow>, Error> {
        let rows = self.store.call(move |db| db.campaigns(id)).await?;
        if id.is_some() && rows.is_empty() {
            return Err(Error::Campaign(format!("no campaign {}", id.unwrap_or(0))));
        }
        Ok(rows)
    }

    /// Cancels every message of the campaign not yet started; returns how many.
    pub async fn cancel_campaign(&self, id: i64) -> Result<usize, Error> {
        let now = now_ms();
        self.store
            .call(move |db| db.cancel_campaign(id, now))
            .await?
            .ok_or_else(|| Error::Campaign(format!("no campaign {id} still sending")))
    }

    /// Every two seconds while campaigns run: a `campaign_progress` event when their counts
    /// change, `campaign_done` when nothing of one waits any more. With none running it
    /// sleeps until one starts (an idle smsqd wakes for nothing).
    pub async fn watch_campaigns(self: std::sync::Arc<Self>) {
        loop {
            let now = now_ms();
            let active = match self.store.call(move |db| db.campaign_progress(now)).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(event = "store_error", error = %e, "cannot record campaign progress; trying again");
                    1
                }
            };
            if active == 0 {
                self.campaign_started.notified().await;
            } else {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        }
    }
}
