//! One handler per request: each reads its request's wire values (times, names, codes) into
//! the core's types, calls the daemon core, and turns what the core returns into the
//! request's typed reply. This is the only place where the socket protocol meets the core.

use super::protocol::*;
use crate::at::command::UssdString;
use crate::daemon::{self, Class, ConsentRecord, ContactEdit, Daemon, Peer, Submission};
use crate::store::{
    ConsentEntry, ConsentSource, ConsentState, Contact, EventRow, InboxRow, MessageRow,
    MessageState,
};
use crate::time::rfc3339;

/// The socket's words for what the core refused.
pub fn api_error(e: daemon::Error) -> ApiError {
    use daemon::Error as E;
    let code = match &e {
        E::InvalidNumber(_) => ErrorCode::InvalidNumber,
        E::InvalidText(_) => ErrorCode::InvalidText,
        E::InvalidEncoding(_) => ErrorCode::InvalidEncoding,
        E::InvalidTime(_) => ErrorCode::InvalidTime,
        E::Unencodable { code, .. } => ErrorCode::parse(code),
        E::NotFound(_) => ErrorCode::NotFound,
        E::NotCancellable(_) => ErrorCode::NotCancellable,
        E::NotRetryable(_) => ErrorCode::NotRetryable,
        E::NoModem(_) => ErrorCode::NoModem,
        E::Modem(_) => ErrorCode::ModemError,
        E::Store(_) => ErrorCode::StoreError,
        E::InvalidClass(_) => ErrorCode::InvalidClass,
        E::InvalidContact(_) => ErrorCode::InvalidContact,
        E::Refused { code, .. } | E::NeedsConfirmation { code, .. } => ErrorCode::parse(code),
        E::Template(_) => ErrorCode::InvalidTemplate,
        E::MissingField(_) => ErrorCode::MissingField,
        E::Campaign(_) => ErrorCode::InvalidCampaign,
        E::Unavailable(_) => ErrorCode::Unavailable,
    };
    ApiError::new(code, e.to_string())
}

/// A time as the client wrote it, read in the shop's time zone.
fn time(
    zone: &jiff::tz::TimeZone,
    text: Option<&str>,
    what: &str,
) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        crate::time::parse_time(t, zone)
            .map_err(|e| ApiError::new(ErrorCode::InvalidTime, format!("{what}: {e}")))
    })
    .transpose()
}

/// A class a client names.
fn class(name: Option<&str>) -> Result<Class, ApiError> {
    match name {
        None => Ok(Class::Transactional),
        Some(n) => Class::parse(n).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidClass,
                format!(
                    "no class {:?}; use transactional, reply, marketing or survey",
                    n.chars().take(40).collect::<String>()
                ),
            )
        }),
    }
}

pub async fn send(d: &Daemon, req: SendRequest, peer: Peer) -> Result<Queued, ApiError> {
    let zone = d.settings().time_zone;
    let submission = Submission {
        class: class(req.class.as_deref())?,
        topic: req.topic.map(|t| t.trim().to_lowercase()),
        confirm_bulk: req.confirm_bulk,
        allow_links: req.allow_links,
        template: req.template,
        fields: req.fields,
        recipients: req.to.list(),
        not_before: time(&zone, req.not_before.as_deref(), "not_before")?,
        not_after: time(&zone, req.not_after.as_deref(), "not_after")?,
        text: req.text,
        encoding: req.encoding.unwrap_or_else(|| "auto".into()),
        priority: req.priority.unwrap_or(0),
        client_ref: req.client_ref,
        idempotency_key: req.idempotency_key,
        report: req.report,
        watch: None,
        via: None,
        flash: false,
        max_parts: None,
    };
    let queued = d.submit(submission, peer).await.map_err(api_error)?;
    Ok(Queued {
        messages: queued
            .into_iter()
            .map(|q| QueuedMessage {
                id: q.id,
                to: q.to,
                parts: q.parts,
                new: q.new,
                state: q.state,
                held_until: q.held_until.map(rfc3339),
                refused: q
                    .refusal
                    .map(|(code, reason)| ApiError::new(ErrorCode::parse(code), reason)),
                warning: q.warning,
            })
            .collect(),
    })
}

pub fn event(e: &EventRow) -> Event {
    let received = e.received.as_ref();
    Event {
        id: e.id,
        at: rfc3339(e.at),
        kind: e.kind.clone(),
        message_id: e.message_id,
        inbox_id: e.inbox_id,
        detail: e.detail.clone(),
        from: received.map(|r| r.from.clone()),
        text: received.and_then(|r| r.text.clone()),
        complete: received.map(|r| r.complete),
    }
}

pub async fn get(d: &Daemon, req: Get) -> Result<MessageDetail, ApiError> {
    let detail = d.message(req.message).await.map_err(api_error)?;
    let m = detail.message;
    Ok(MessageDetail {
        id: m.id,
        to: m.recipient,
        text: m.body,
        encoding: m.alphabet,
        state: m.state,
        parts_total: m.parts,
        attempts: m.attempts,
        priority: m.priority,
        client_ref: m.client_ref,
        last_error: m.last_error,
        modem: m.modem,
        created_at: rfc3339(m.created_at),
        updated_at: rfc3339(m.updated_at),
        next_attempt_at: rfc3339(m.next_attempt_at),
        class: m.class.as_str().to_string(),
        topic: m.topic,
        parts: detail
            .parts
            .into_iter()
            .map(|p| PartDetail {
                part: p.part,
                state: p.state,
                message_ref: p.mr,
                modem: p.modem,
                sent_at: p.sent_at.map(rfc3339),
                report_status: p.report_status,
            })
            .collect(),
        history: detail.history.iter().map(event).collect(),
    })
}

pub async fn list(d: &Daemon, req: ListRequest) -> Result<Listing, ApiError> {
    let limit = req.limit.unwrap_or(50);
    // A filter that cannot match is a mistake to say, not an empty list to show.
    let state = match &req.state {
        None => None,
        Some(_) if req.mailbox != Mailbox::Outbox => {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                "only the outbox can be filtered by state",
            ));
        }
        Some(name) => Some(MessageState::parse(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidState,
                format!(
                    "no state {:?}; use one of {}",
                    name.chars().take(40).collect::<String>(),
                    super::MESSAGE_STATES.join(", ")
                ),
            )
        })?),
    };
    match req.mailbox {
        Mailbox::Inbox => {
            let rows = d.inbox(req.before, limit).await.map_err(api_error)?;
            Ok(Listing::Inbox(rows.into_iter().map(inbox_entry).collect()))
        }
        Mailbox::Outbox | Mailbox::Failed => {
            let states = match (req.mailbox, state) {
                (Mailbox::Failed, _) => vec![
                    MessageState::Failed,
                    MessageState::Expired,
                    MessageState::Unknown,
                ],
                (_, Some(s)) => vec![s],
                _ => Vec::new(),
            };
            let rows = d
                .outbox(states, req.before, limit)
                .await
                .map_err(api_error)?;
            Ok(Listing::Outbox(
                rows.into_iter().map(outbox_entry).collect(),
            ))
        }
    }
}

fn inbox_entry(r: InboxRow) -> InboxEntry {
    InboxEntry {
        id: r.id,
        from: r.sender,
        text: r.body,
        data_hex: r.data_hex,
        parts: r.parts,
        complete: r.complete,
        modem: r.modem,
        sent_at: r.sent_at,
        received_at: rfc3339(r.received_at),
        in_reply_to: r.in_reply_to,
        reply_guess: r.reply_guess,
    }
}

fn outbox_entry(m: MessageRow) -> OutboxEntry {
    OutboxEntry {
        id: m.id,
        to: m.recipient,
        text: m.body,
        state: m.state,
        parts: m.parts,
        attempts: m.attempts,
        last_error: m.last_error,
        modem: m.modem,
        created_at: rfc3339(m.created_at),
        updated_at: rfc3339(m.updated_at),
        class: m.class.as_str().to_string(),
        topic: m.topic,
        template: m.template,
        campaign: m.campaign,
        not_before: m.not_before.map(rfc3339),
        operator: m.peer_uid,
    }
}

pub async fn cancel(d: &Daemon, req: Cancel) -> Result<StateChanged, ApiError> {
    d.cancel(req.message).await.map_err(api_error)?;
    Ok(StateChanged {
        id: req.message,
        state: MessageState::Cancelled,
    })
}

pub async fn retry(d: &Daemon, req: Retry) -> Result<StateChanged, ApiError> {
    d.retry(req.message).await.map_err(api_error)?;
    Ok(StateChanged {
        id: req.message,
        state: MessageState::Queued,
    })
}

pub async fn modems(d: &Daemon, _: Modems) -> Result<ModemList, ApiError> {
    let reports = d.modems().await.map_err(api_error)?;
    let modems = reports
        .into_iter()
        .map(|r| {
            let s = r.status;
            let reason = match &s.state {
                crate::modem::ModemState::NeedsPin(w) | crate::modem::ModemState::Failed(w) => {
                    Some(w.clone())
                }
                crate::modem::ModemState::Absent => s.absent_reason.clone(),
                _ => None,
            };
            ModemInfo {
                id: r.id,
                state: s.state.name().to_string(),
                reason,
                registration: s.registration.as_ref().map(|x| x.stat_name().to_string()),
                registered: s.is_registered(),
                operator: s.operator,
                signal_dbm: s.signal_dbm,
                manufacturer: s.identity.manufacturer,
                model: s.identity.model,
                imei: s.identity.imei,
                imsi: s.identity.imsi,
                iccid: s.identity.iccid,
                smsc: s.smsc,
                storage: s.storage.map(|(used, total)| Storage { used, total }),
                queue_depth: r.queue_depth,
                sent_today: r.sent_today,
                store_error: r.store_error,
                pin_attempts_left: s.pin_attempts_left,
            }
        })
        .collect();
    Ok(ModemList { modems })
}

pub async fn stats(d: &Daemon, _: Stats) -> Result<StatsReply, ApiError> {
    let (stats, settings) = d.stats().await.map_err(api_error)?;
    let keep = |d: Option<std::time::Duration>| d.map(|d| format!("{}d", d.as_secs() / 86_400));
    Ok(StatsReply {
        database: DatabaseInfo {
            size_bytes: stats.pages * stats.page_size,
            free_bytes: stats.free_pages * stats.page_size,
            schema: stats.schema,
        },
        rows: stats
            .tables
            .iter()
            .map(|(table, n)| (table.to_string(), *n))
            .collect(),
        retention: Retention {
            texts: keep(settings.keep_texts),
            messages: keep(settings.keep_messages),
            events: keep(settings.keep_events),
        },
        callbacks: CallbackInfo {
            pending: stats.callbacks.pending,
            given_up: stats.callbacks.given_up,
        },
    })
}

pub async fn hosts(d: &Daemon, _: Hosts) -> Result<HostList, ApiError> {
    let rows = d.hosts().await.map_err(api_error)?;
    let now = crate::time::now_ms();
    Ok(HostList {
        this_host: d.settings().host.clone(),
        hosts: rows
            .into_iter()
            .map(|h| HostInfo {
                state: if h.alive(now) {
                    "alive"
                } else if h.stopped_at.is_some() {
                    "stopped"
                } else {
                    "lost"
                }
                .into(),
                started_at: crate::time::rfc3339(h.started_at),
                heartbeat_age_ms: (now - h.heartbeat_at).max(0),
                lease_left_ms: (h.lease_until - now).max(0),
                modems: h
                    .modems
                    .into_iter()
                    .map(|m| HostModemInfo {
                        id: m.modem,
                        healthy: m.healthy,
                        prefixes: m.prefixes,
                    })
                    .collect(),
                name: h.name,
                version: h.version,
            })
            .collect(),
    })
}

/// Reads the code where it enters (it goes into an AT command line), before the slow part.
pub fn ussd_code(req: &Ussd) -> Result<UssdString, ApiError> {
    UssdString::parse(&req.code).map_err(|e| ApiError::new(ErrorCode::InvalidUssd, e.to_string()))
}

pub async fn ussd(
    d: &Daemon,
    code: UssdString,
    modem: Option<String>,
) -> Result<UssdReply, ApiError> {
    let (modem, answer) = d.ussd(&code, modem.as_deref()).await.map_err(api_error)?;
    Ok(UssdReply { modem, answer })
}

pub fn estimate(d: &Daemon, req: Estimate) -> Result<EstimateReply, ApiError> {
    let class = class(req.class.as_deref())?;
    let text = if class.is_promotional() {
        d.settings().care.promotional_text(&req.text)
    } else {
        req.text
    };
    let e = d
        .estimate(&text, req.encoding.as_deref().unwrap_or("auto"))
        .map_err(api_error)?;
    Ok(EstimateReply {
        encoding: e.alphabet.name().to_string(),
        parts: e.parts,
        units: e.units,
        units_per_part: e.units_per_part,
        units_left: e.units_left,
        forced_ucs2_by: e
            .forced_ucs2_by
            .iter()
            .map(|c| CharacterAt {
                character: c.character.to_string(),
                position: c.position,
            })
            .collect(),
    })
}

fn contact_info(c: Contact) -> ContactInfo {
    ContactInfo {
        number: c.number,
        name: c.name,
        time_zone: c.time_zone,
        language: c.language,
        notes: c.notes,
        fields: c.fields,
        tags: c.tags,
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

pub async fn contact_save(d: &Daemon, req: ContactSave) -> Result<ContactInfo, ApiError> {
    let edit = ContactEdit {
        number: req.number,
        name: req.name,
        time_zone: req.time_zone,
        language: req.language,
        notes: req.notes,
        fields: req.fields,
        add_tags: req.add_tags,
        remove_tags: req.remove_tags,
    };
    let c = d.save_contact(edit, req.create).await.map_err(api_error)?;
    Ok(contact_info(c))
}

pub async fn contact(d: &Daemon, req: ContactGet) -> Result<ContactInfo, ApiError> {
    Ok(contact_info(
        d.contact(&req.number).await.map_err(api_error)?,
    ))
}

pub async fn contacts(d: &Daemon, req: ContactsRequest) -> Result<ContactListing, ApiError> {
    let list = d
        .contacts(req.tags, req.group, req.limit.unwrap_or(1000))
        .await
        .map_err(api_error)?;
    Ok(ContactListing {
        contacts: list.into_iter().map(contact_info).collect(),
    })
}

pub async fn contact_remove(d: &Daemon, req: ContactRemove) -> Result<Removed, ApiError> {
    let number = d.customer_number(&req.number).map_err(api_error)?;
    d.remove_contact(&number).await.map_err(api_error)?;
    Ok(Removed { removed: number })
}

pub async fn group_save(d: &Daemon, req: GroupSave) -> Result<GroupSaved, ApiError> {
    let tags = d.save_group(&req.name, req.tags).await.map_err(api_error)?;
    Ok(GroupSaved {
        group: req.name.trim().to_lowercase(),
        tags,
    })
}

fn consent_state_name(s: ConsentState) -> &'static str {
    match s {
        ConsentState::Granted => "granted",
        ConsentState::Pending => "pending",
        ConsentState::Revoked => "revoked",
    }
}

fn consent_entry(e: ConsentEntry) -> ConsentEntryInfo {
    ConsentEntryInfo {
        id: e.id,
        number: e.number,
        topic: (!e.topic.is_empty()).then_some(e.topic),
        state: consent_state_name(e.state).to_string(),
        source: e.source,
        evidence: e.evidence,
        text_shown: e.text_shown,
        actor: e.actor,
        at: rfc3339(e.at),
        double_opt_in_confirmed_at: e.double_opt_in_confirmed_at.map(rfc3339),
    }
}

/// Where each topic stands: its latest entry (`*` for every topic).
fn current_consent(history: &[ConsentEntry]) -> (bool, std::collections::BTreeMap<String, String>) {
    let mut current = std::collections::BTreeMap::new();
    for e in history {
        let topic = if e.topic.is_empty() {
            "*"
        } else {
            e.topic.as_str()
        };
        current.insert(topic.to_string(), consent_state_name(e.state).to_string());
    }
    let opted_out = current.get("*").is_some_and(|s| s == "revoked");
    (opted_out, current)
}

pub async fn consent(d: &Daemon, req: ConsentGet) -> Result<ConsentReply, ApiError> {
    let (number, history) = d.consent_history(&req.number).await.map_err(api_error)?;
    let (opted_out, current) = current_consent(&history);
    Ok(ConsentReply {
        number,
        opted_out,
        current,
        history: history.into_iter().map(consent_entry).collect(),
    })
}

pub async fn consent_record(
    d: &Daemon,
    req: ConsentRecordRequest,
    peer: Peer,
) -> Result<ConsentEntryInfo, ApiError> {
    let grant = match req.action.as_str() {
        "grant" => true,
        "revoke" => false,
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "action {:?}: use grant or revoke",
                    other.chars().take(20).collect::<String>()
                ),
            ));
        }
    };
    let source = match req.source.as_deref() {
        None => ConsentSource::Operator,
        Some(name) => ConsentSource::parse(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidContact,
                format!(
                    "source {:?}: use in_store, web_form, import, operator or api",
                    name.chars().take(20).collect::<String>()
                ),
            )
        })?,
    };
    let actor = req
        .actor
        .or_else(|| peer.uid.map(|uid| format!("uid {uid}")));
    let entry = d
        .record_consent(ConsentRecord {
            number: req.number,
            topic: req.topic.filter(|t| !t.is_empty() && t != "*"),
            grant,
            source,
            evidence: req.evidence,
            text_shown: req.text_shown,
            actor,
        })
        .await
        .map_err(api_error)?;
    Ok(consent_entry(entry))
}

pub async fn subject_export(d: &Daemon, req: SubjectExport) -> Result<SubjectReply, ApiError> {
    let data = d.subject_export(&req.number).await.map_err(api_error)?;
    Ok(SubjectReply {
        number: data.number,
        suppressed: data.suppressed,
        contact: data.contact.map(contact_info),
        consent: data.consent.into_iter().map(consent_entry).collect(),
        sent: data.sent.into_iter().map(outbox_entry).collect(),
        received: data.received.into_iter().map(inbox_entry).collect(),
    })
}

pub async fn subject_erase(d: &Daemon, req: SubjectErase) -> Result<Erased, ApiError> {
    let (number, rows_changed) = d.subject_erase(&req.number).await.map_err(api_error)?;
    Ok(Erased {
        erased: number,
        rows_changed,
    })
}

/// A new one-time link that creates an owner of the web page (the socket's permissions
/// decide who may ask: the shop's administrator).
pub async fn web_setup(d: &Daemon, _: WebSetup) -> Result<SetupLinkReply, ApiError> {
    let link = d.issue_setup_link().await.map_err(api_error)?;
    Ok(SetupLinkReply {
        url: link.url,
        expires_at: rfc3339(link.expires_at),
    })
}

/// Only a daemon started with `--test-clock` lets a client move its clock.
pub fn set_clock(d: &Daemon, req: SetClock) -> Result<ClockSet, ApiError> {
    if !d.settings().test_clock {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the clock can be set only when smsqd runs with --test-clock",
        ));
    }
    let zone = d.settings().time_zone;
    let now = time(&zone, Some(&req.now), "now")?.unwrap_or_default();
    crate::time::set_test_offset(now);
    d.wake();
    Ok(ClockSet { now: rfc3339(now) })
}

fn template_info(t: crate::store::Template) -> TemplateInfo {
    TemplateInfo {
        fields: crate::daemon::templates::check(&t.body).unwrap_or_default(),
        name: t.name,
        text: t.body,
        class: t.class.as_str().to_string(),
        topic: t.topic,
        updated_at: rfc3339(t.updated_at),
    }
}

pub async fn template_save(d: &Daemon, req: TemplateSave) -> Result<TemplateInfo, ApiError> {
    let class = class(req.class.as_deref())?;
    let topic = req.topic.map(|t| t.trim().to_lowercase());
    let (t, _) = d
        .save_template(&req.name, &req.text, class, topic)
        .await
        .map_err(api_error)?;
    Ok(template_info(t))
}

pub async fn template(d: &Daemon, req: TemplateGet) -> Result<TemplateInfo, ApiError> {
    Ok(template_info(
        d.template(&req.name).await.map_err(api_error)?,
    ))
}

pub async fn templates(d: &Daemon, _: Templates) -> Result<TemplateList, ApiError> {
    let list = d.templates().await.map_err(api_error)?;
    Ok(TemplateList {
        templates: list.into_iter().map(template_info).collect(),
    })
}

pub async fn template_remove(d: &Daemon, req: TemplateRemove) -> Result<Removed, ApiError> {
    d.remove_template(&req.name).await.map_err(api_error)?;
    Ok(Removed { removed: req.name })
}

fn campaign_plan(req: CampaignRequest) -> Result<daemon::CampaignPlan, ApiError> {
    Ok(daemon::CampaignPlan {
        class: req.class.as_deref().map(|c| class(Some(c))).transpose()?,
        name: req.name,
        template: req.template,
        text: req.text,
        topic: req.topic.map(|t| t.trim().to_lowercase()),
        tags: req.tags,
        group: req.group,
        fields: req.fields,
        allow_links: req.allow_links,
        survey: req.survey,
    })
}

fn campaign_report(p: daemon::CampaignPreview) -> CampaignReport {
    CampaignReport {
        id: p.id,
        audience: p.audience,
        text: p.text,
        class: p.class.map_or("marketing", |c| c.as_str()).to_string(),
        topic: p.topic,
        recipients: p.recipients,
        sending: p.sending,
        held: p.held,
        refused: p.refused,
        missing_fields: p
            .missing
            .into_iter()
            .map(|(number, field)| MissingFieldInfo { number, field })
            .collect(),
        parts: p.parts,
        max_parts: p.max_parts,
        parts_per_recipient: p.parts_per_recipient,
        encodings: p.encodings,
        forcing_ucs2: p.forcing_ucs2.iter().map(|c| c.to_string()).collect(),
        folding: p
            .folding
            .into_iter()
            .map(|(c, r)| (c.to_string(), r))
            .collect(),
        cost: p.cost,
    }
}

pub async fn campaign_preview(
    d: &Daemon,
    req: CampaignRequest,
) -> Result<CampaignReport, ApiError> {
    let plan = campaign_plan(req)?;
    Ok(campaign_report(
        d.campaign_preview(&plan).await.map_err(api_error)?,
    ))
}

pub async fn campaign_start(
    d: &Daemon,
    req: CampaignRequest,
    peer: Peer,
) -> Result<CampaignReport, ApiError> {
    if !req.confirm {
        return Err(ApiError::new(
            ErrorCode::NeedsConfirmation,
            "a campaign starts only when confirmed (confirm: true, or smsq campaign start --yes) after its preview",
        ));
    }
    let plan = campaign_plan(req)?;
    Ok(campaign_report(
        d.campaign_start(&plan, peer).await.map_err(api_error)?,
    ))
}

pub async fn campaigns(d: &Daemon, req: Campaigns) -> Result<CampaignList, ApiError> {
    let rows = d.campaigns(req.campaign).await.map_err(api_error)?;
    Ok(CampaignList {
        campaigns: rows
            .into_iter()
            .map(|c| CampaignInfo {
                id: c.id,
                name: c.name,
                state: c.state,
                audience: c.audience,
                template: c.template,
                text: c.body,
                class: c.class.as_str().to_string(),
                topic: c.topic,
                created_at: rfc3339(c.created_at),
                messages: c.counts.iter().map(|(_, n)| n).sum(),
                counts: c.counts.into_iter().collect(),
                replies: c.replies,
            })
            .collect(),
    })
}

pub async fn campaign_cancel(
    d: &Daemon,
    req: CampaignCancel,
) -> Result<CampaignCancelled, ApiError> {
    let cancelled = d.cancel_campaign(req.campaign).await.map_err(api_error)?;
    Ok(CampaignCancelled {
        id: req.campaign,
        cancelled,
    })
}

pub async fn threads(d: &Daemon, req: ThreadsRequest) -> Result<ThreadList, ApiError> {
    let now = crate::time::now_ms();
    let rows = d
        .threads(req.all, req.limit.unwrap_or(100))
        .await
        .map_err(api_error)?;
    Ok(ThreadList {
        threads: rows
            .into_iter()
            .map(|t| ThreadInfo {
                unanswered_minutes: match (t.last_received_at, t.last_sent_at) {
                    (Some(r), sent) if sent.is_none_or(|s| s < r) && t.state == "open" => {
                        Some((now - r).max(0) / 60_000)
                    }
                    _ => None,
                },
                modem: t.modem,
                number: t.number,
                state: t.state,
                last_received_at: t.last_received_at.map(rfc3339),
                last_sent_at: t.last_sent_at.map(rfc3339),
                last_text: t.last_text,
            })
            .collect(),
    })
}

pub async fn thread(d: &Daemon, req: ThreadRequest) -> Result<Conversation, ApiError> {
    let (number, entries) = d
        .conversation(&req.number, req.limit.unwrap_or(200))
        .await
        .map_err(api_error)?;
    Ok(Conversation {
        number,
        entries: entries
            .into_iter()
            .map(|e| match e {
                crate::store::ThreadEntry::Sent(m) => ConversationEntry {
                    direction: "out".into(),
                    id: m.id,
                    at: rfc3339(m.created_at),
                    text: Some(m.body),
                    state: Some(m.state.as_str().to_string()),
                    class: Some(m.class.as_str().to_string()),
                    in_reply_to: None,
                },
                crate::store::ThreadEntry::Received(m) => ConversationEntry {
                    direction: "in".into(),
                    id: m.id,
                    at: rfc3339(m.received_at),
                    text: m.body,
                    state: None,
                    class: None,
                    in_reply_to: m.in_reply_to,
                },
            })
            .collect(),
    })
}

pub async fn reply(d: &Daemon, req: ReplyRequest, peer: Peer) -> Result<QueuedMessage, ApiError> {
    let q = d.reply(&req.to, &req.text, peer).await.map_err(api_error)?;
    Ok(QueuedMessage {
        id: q.id,
        to: q.to,
        parts: q.parts,
        new: q.new,
        state: q.state,
        held_until: q.held_until.map(rfc3339),
        refused: q
            .refusal
            .map(|(code, reason)| ApiError::new(ErrorCode::parse(code), reason)),
        warning: q.warning,
    })
}

pub async fn thread_state(
    d: &Daemon,
    req: ThreadStateRequest,
) -> Result<ThreadStateChanged, ApiError> {
    let number = d
        .set_thread_state(&req.number, req.open)
        .await
        .map_err(api_error)?;
    Ok(ThreadStateChanged {
        number,
        state: if req.open { "open" } else { "resolved" }.into(),
    })
}

pub async fn scheduled(d: &Daemon, req: Scheduled) -> Result<Listing, ApiError> {
    let rows = d
        .scheduled(req.limit.unwrap_or(200).clamp(1, 1000))
        .await
        .map_err(api_error)?;
    Ok(Listing::Outbox(
        rows.into_iter().map(outbox_entry).collect(),
    ))
}

pub async fn edit(d: &Daemon, req: Edit) -> Result<StateChanged, ApiError> {
    let zone = d.settings().time_zone;
    let not_before = time(&zone, req.not_before.as_deref(), "not_before")?;
    d.edit_message(req.message, req.text, not_before)
        .await
        .map_err(api_error)?;
    let m = d.message(req.message).await.map_err(api_error)?;
    Ok(StateChanged {
        id: req.message,
        state: m.message.state,
    })
}

pub async fn export(d: &Daemon, req: ExportRequest) -> Result<AuditReply, ApiError> {
    let zone = d.settings().time_zone;
    let from = time(&zone, Some(&req.from), "from")?.unwrap_or_default();
    let to = time(&zone, Some(&req.to), "to")?.unwrap_or_default();
    if to <= from {
        return Err(ApiError::new(
            ErrorCode::InvalidTime,
            "to must be later than from",
        ));
    }
    let data = d
        .audit(from, to, req.number.as_deref())
        .await
        .map_err(api_error)?;
    Ok(AuditReply {
        sent: data.sent.into_iter().map(outbox_entry).collect(),
        received: data.received.into_iter().map(inbox_entry).collect(),
        consent: data.consent.into_iter().map(consent_entry).collect(),
    })
}

pub async fn contacts_import(
    d: &Daemon,
    req: ContactsImport,
    peer: Peer,
) -> Result<ImportReply, ApiError> {
    let source = req
        .source
        .as_deref()
        .map(|name| {
            ConsentSource::parse(name).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidContact,
                    format!(
                        "source {:?}: use import, in_store, web_form, operator or api",
                        name.chars().take(20).collect::<String>()
                    ),
                )
            })
        })
        .transpose()?;
    let rows = req
        .rows
        .into_iter()
        .map(|r| daemon::ImportInput {
            line: r.line,
            number: r.number,
            name: r.name,
            time_zone: r.time_zone,
            language: r.language,
            notes: r.notes,
            tags: r.tags,
            fields: r.fields,
            consent: r.consent,
        })
        .collect();
    let consent = daemon::ImportConsent {
        source,
        text_shown: req.text_shown,
        evidence: req.evidence,
        actor: peer.uid.map(|uid| format!("uid {uid}")),
    };
    let results = d
        .import_contacts(rows, req.tag, consent, req.dry_run)
        .await
        .map_err(api_error)?;
    Ok(ImportReply {
        rows: results
            .into_iter()
            .map(|r| ImportRowResult {
                line: r.line,
                number: r.number,
                outcome: r.outcome.to_string(),
                reason: r.reason,
                consent: r.consent.to_string(),
            })
            .collect(),
    })
}

fn survey_info(s: crate::store::Survey) -> SurveyInfo {
    SurveyInfo {
        name: s.name,
        question: s.question,
        kind: s.kind,
        scale: s.scale,
        choices: s.choices,
        expiry_hours: s.expiry_ms / 3_600_000,
        invalid_reply: s.invalid_reply,
        thanks: s.thanks,
    }
}

pub async fn survey_save(d: &Daemon, req: SurveySave) -> Result<SurveyInfo, ApiError> {
    let expiry = req
        .expiry
        .as_deref()
        .map(|e| {
            crate::time::parse_duration(e).map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidTime,
                    format!("expiry {e:?}: write it like 3d or 12h"),
                )
            })
        })
        .transpose()?;
    let s = d
        .save_survey(daemon::SurveyPlan {
            name: req.name,
            question: req.question,
            kind: req.kind,
            scale: req.scale,
            choices: req.choices,
            expiry,
            invalid_reply: req.invalid_reply,
            thanks: req.thanks,
        })
        .await
        .map_err(api_error)?;
    Ok(survey_info(s))
}

pub async fn survey_results(
    d: &Daemon,
    req: SurveyResultsRequest,
) -> Result<SurveyResultsReply, ApiError> {
    let r = d.survey_results(&req.name).await.map_err(api_error)?;
    let now = crate::time::now_ms();
    Ok(SurveyResultsReply {
        asked: r.answers.len(),
        answered: r.answers.iter().filter(|a| a.answer.is_some()).count(),
        counts: r.counts.into_iter().collect(),
        average: r.average,
        answers: r
            .answers
            .into_iter()
            .map(|a| SurveyAnswerInfo {
                open: a.answer.is_none() && a.expires_at > now,
                number: a.number,
                message_id: a.message_id,
                answer: a.answer,
                answered_at: a.answered_at.map(rfc3339),
            })
            .collect(),
        survey: survey_info(r.survey),
    })
}
