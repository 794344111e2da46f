//! The socket protocol as types: one enum of requests ([`Request`]), one typed reply per
//! request (the [`Call`] trait ties them together), one error type with stable codes
//! ([`ErrorCode`]), and what is pushed to subscribers ([`Pushed`]). The server and the client
//! (and later the HTTP interfaces) use these definitions and nothing else, so the two sides
//! cannot drift; the JSON on the wire is the README's (see the module docs of `api`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{MessageState, PartState};

/// Longest request line the server reads.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// A request and the reply it gets: `Client::call(req)` returns `Ok(req's Reply)`.
pub trait Call: Into<Request> {
    type Reply: Serialize + DeserializeOwned;
}

/// Every request a client can make, tagged by `op` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Send(SendRequest),
    Get(Get),
    List(ListRequest),
    Cancel(Cancel),
    Retry(Retry),
    Modems(Modems),
    /// Database size, rows per table and retention.
    Stats(Stats),
    /// The hosts sharing the database, their modems and leases.
    Hosts(Hosts),
    Ussd(Ussd),
    Estimate(Estimate),
    Subscribe(Subscribe),
    /// Add or change a contact.
    ContactSave(ContactSave),
    Contact(ContactGet),
    Contacts(ContactsRequest),
    ContactRemove(ContactRemove),
    /// Save a group: the contacts having every one of its tags.
    GroupSave(GroupSave),
    /// A number's consent history and current state.
    Consent(ConsentGet),
    /// Append a grant or a revocation to the consent ledger.
    ConsentRecord(ConsentRecordRequest),
    /// Everything kept about a number (contact, consent, messages both ways).
    SubjectExport(SubjectExport),
    /// Erase what is kept about a number; it stays suppressed.
    SubjectErase(SubjectErase),
    /// Set the daemon's clock (only `smsqd --test-clock`).
    SetClock(SetClock),
    WebSetup(WebSetup),
    TemplateSave(TemplateSave),
    Template(TemplateGet),
    Templates(Templates),
    TemplateRemove(TemplateRemove),
    /// What a campaign (or a template sent to a tag or group) would do; nothing is queued.
    CampaignPreview(CampaignRequest),
    /// Queue a campaign (`confirm: true`).
    CampaignStart(CampaignRequest),
    Campaigns(Campaigns),
    CampaignCancel(CampaignCancel),
    /// Conversations, open ones first.
    Threads(ThreadsRequest),
    /// Everything exchanged with one customer, in order.
    Thread(ThreadRequest),
    /// A person's answer to a customer (class reply).
    Reply(ReplyRequest),
    /// Resolve a conversation, or open it again.
    ThreadState(ThreadStateRequest),
    /// Scheduled and held messages.
    Scheduled(Scheduled),
    /// Change the text or time of a scheduled or held message.
    Edit(Edit),
    /// Every message both ways and every consent entry in a period.
    Export(ExportRequest),
    /// Add or update contacts from a file's rows (a CSV import, sent in chunks).
    ContactsImport(ContactsImport),
    SurveySave(SurveySave),
    /// Who was asked a survey, who answered what, counts and average.
    SurveyResults(SurveyResultsRequest),
}

impl Request {
    /// The `op` of the request as clients write it, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send(_) => "send",
            Self::Get(_) => "get",
            Self::List(_) => "list",
            Self::Cancel(_) => "cancel",
            Self::Retry(_) => "retry",
            Self::Modems(_) => "modems",
            Self::Stats(_) => "stats",
            Self::Hosts(_) => "hosts",
            Self::Ussd(_) => "ussd",
            Self::Estimate(_) => "estimate",
            Self::Subscribe(_) => "subscribe",
            Self::ContactSave(_) => "contact_save",
            Self::Contact(_) => "contact",
            Self::Contacts(_) => "contacts",
            Self::ContactRemove(_) => "contact_remove",
            Self::GroupSave(_) => "group_save",
            Self::Consent(_) => "consent",
            Self::ConsentRecord(_) => "consent_record",
            Self::SubjectExport(_) => "subject_export",
            Self::SubjectErase(_) => "subject_erase",
            Self::SetClock(_) => "set_clock",
            Self::WebSetup(_) => "web_setup",
            Self::TemplateSave(_) => "template_save",
            Self::Template(_) => "template",
            Self::Templates(_) => "templates",
            Self::TemplateRemove(_) => "template_remove",
            Self::CampaignPreview(_) => "campaign_preview",
            Self::CampaignStart(_) => "campaign_start",
            Self::Campaigns(_) => "campaigns",
            Self::CampaignCancel(_) => "campaign_cancel",
            Self::Threads(_) => "threads",
            Self::Thread(_) => "thread",
            Self::Reply(_) => "reply",
            Self::ThreadState(_) => "thread_state",
            Self::Scheduled(_) => "scheduled",
            Self::Edit(_) => "edit",
            Self::Export(_) => "export",
            Self::ContactsImport(_) => "contacts_import",
            Self::SurveySave(_) => "survey_save",
            Self::SurveyResults(_) => "survey_results",
        }
    }
}

macro_rules! calls {
    ($($request:ident => $variant:ident, $reply:ty;)*) => {$(
        impl From<$request> for Request {
            fn from(r: $request) -> Self {
                Self::$variant(r)
            }
        }
        impl Call for $request {
            type Reply = $reply;
        }
    )*};
}

calls! {
    SendRequest => Send, Queued;
    Get => Get, MessageDetail;
    ListRequest => List, Listing;
    Cancel => Cancel, StateChanged;
    Retry => Retry, StateChanged;
    Modems => Modems, ModemList;
    Stats => Stats, StatsReply;
    Hosts => Hosts, HostList;
    Ussd => Ussd, UssdReply;
    Estimate => Estimate, EstimateReply;
    Subscribe => Subscribe, Subscribed;
    ContactSave => ContactSave, ContactInfo;
    ContactGet => Contact, ContactInfo;
    ContactsRequest => Contacts, ContactListing;
    ContactRemove => ContactRemove, Removed;
    GroupSave => GroupSave, GroupSaved;
    ConsentGet => Consent, ConsentReply;
    ConsentRecordRequest => ConsentRecord, ConsentEntryInfo;
    SubjectExport => SubjectExport, SubjectReply;
    SubjectErase => SubjectErase, Erased;
    SetClock => SetClock, ClockSet;
    WebSetup => WebSetup, SetupLinkReply;
    TemplateSave => TemplateSave, TemplateInfo;
    TemplateGet => Template, TemplateInfo;
    Templates => Templates, TemplateList;
    TemplateRemove => TemplateRemove, Removed;
    Campaigns => Campaigns, CampaignList;
    CampaignCancel => CampaignCancel, CampaignCancelled;
    ThreadsRequest => Threads, ThreadList;
    ThreadRequest => Thread, Conversation;
    ReplyRequest => Reply, QueuedMessage;
    ThreadStateRequest => ThreadState, ThreadStateChanged;
    Scheduled => Scheduled, Listing;
    Edit => Edit, StateChanged;
    ExportRequest => Export, AuditReply;
    ContactsImport => ContactsImport, ImportReply;
    SurveySave => SurveySave, SurveyInfo;
    SurveyResultsRequest => SurveyResults, SurveyResultsReply;
}

/// `campaign_preview` and `campaign_start` take the same request: `Client::call` needs one
/// reply type per request type, so these two name which one they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewCampaign(pub CampaignRequest);
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCampaign(pub CampaignRequest);

impl From<PreviewCampaign> for Request {
    fn from(r: PreviewCampaign) -> Self {
        Self::CampaignPreview(r.0)
    }
}
impl Call for PreviewCampaign {
    type Reply = CampaignReport;
}
impl From<StartCampaign> for Request {
    fn from(r: StartCampaign) -> Self {
        Self::CampaignStart(r.0)
    }
}
impl Call for StartCampaign {
    type Reply = CampaignReport;
}

/// `to` takes one number or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    pub fn list(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// Queue a text for one or more recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub to: Recipients,
    /// The text (not needed with a `template`).
    #[serde(default)]
    pub text: String,
    /// auto (default), gsm7, ucs2, gsm7-fold.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Higher goes first; default 0.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Not sent before this time: RFC 3339, or a date and time in the shop's time zone.
    #[serde(default)]
    pub not_before: Option<String>,
    /// Given up (state `expired`) if not sent by then; written like `not_before`.
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub client_ref: Option<String>,
    /// A second `send` with the same key returns the first one's ids instead of queueing again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Ask for a delivery report (default from the daemon's configuration).
    #[serde(default)]
    pub report: Option<bool>,
    /// transactional (default), reply, marketing or survey.
    #[serde(default)]
    pub class: Option<String>,
    /// A configured topic customers can opt out of on its own (`STOP PROMO`).
    #[serde(default)]
    pub topic: Option<String>,
    /// Needed for more recipients than the configured bulk limit (default 50).
    #[serde(default)]
    pub confirm_bulk: bool,
    /// Needed for a text with a link to Philippine numbers.
    #[serde(default)]
    pub allow_links: bool,
    /// A saved template instead of `text` (its class and topic apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Values for the template's placeholders (beside each contact's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl SendRequest {
    /// A text to `to` with every option at its default.
    pub fn new(to: Vec<String>, text: impl Into<String>) -> Self {
        Self {
            to: Recipients::Many(to),
            text: text.into(),
            encoding: None,
            priority: None,
            not_before: None,
            not_after: None,
            client_ref: None,
            idempotency_key: None,
            report: None,
            class: None,
            topic: None,
            confirm_bulk: false,
            allow_links: false,
            template: None,
            fields: BTreeMap::new(),
        }
    }
}

/// One message: state, parts, history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Get {
    pub message: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mailbox {
    Outbox,
    Inbox,
    /// Outgoing messages that failed, expired or whose outcome is unknown.
    Failed,
}

/// A page of a mailbox, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {
    #[serde(rename = "box")]
    pub mailbox: Mailbox,
    #[serde(default)]
    pub limit: Option<i64>,
    /// Paging cursor: only entries with a smaller id.
    #[serde(default)]
    pub before: Option<i64>,
    /// Outbox only: only messages in this state.
    #[serde(default)]
    pub state: Option<String>,
}

impl ListRequest {
    pub fn new(mailbox: Mailbox) -> Self {
        Self {
            mailbox,
            limit: None,
            before: None,
            state: None,
        }
    }
}

/// Cancel a queued message nothing of which went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    pub message: i64,
}

/// Queue a failed, expired or unknown message again (a deliberate resend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub message: i64,
}

/// The modems and their queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modems {}

/// The database's size, rows and retention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {}

/// The hosts sharing the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hosts {}

/// The hosts that have used the database, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostList {
    /// The host that answered.
    pub this_host: String,
    pub hosts: Vec<HostInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub name: String,
    pub version: String,
    /// `alive` (its lease runs), `stopped` (it stopped cleanly) or `lost` (its lease ran out
    /// and another host settled its work).
    pub state: String,
    pub started_at: String,
    /// Time since its last heartbeat.
    pub heartbeat_age_ms: i64,
    /// Time its lease still runs (0 when it has run out).
    pub lease_left_ms: i64,
    pub modems: Vec<HostModemInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostModemInfo {
    pub id: String,
    /// Ready and registered, as its host last said.
    pub healthy: bool,
    pub prefixes: Vec<String>,
}

/// A USSD code (a balance check) through a modem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ussd {
    pub code: String,
    #[serde(default)]
    pub modem: Option<String>,
}

/// How a text would travel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    pub text: String,
    #[serde(default)]
    pub encoding: Option<String>,
    /// marketing and survey texts are counted with the shop's name and the opt-out footer.
    #[serde(default)]
    pub class: Option<String>,
}

/// A contact to add (`create`) or change. Absent values stay as they are; an empty string
/// clears one; a field set to "" is removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactSave {
    pub number: String,
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactGet {
    pub number: String,
}

/// Contacts with every one of `tags`, and of `group`'s tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactsRequest {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRemove {
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSave {
    pub name: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentGet {
    pub number: String,
}

/// A grant or a revocation to append to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecordRequest {
    pub number: String,
    /// grant or revoke.
    pub action: String,
    /// A configured topic; absent: every topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// in_store, web_form, import, operator (default) or api.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub evidence: Option<String>,
    /// The exact words the customer agreed to (required for a grant).
    #[serde(default)]
    pub text_shown: Option<String>,
    /// Who records it (default: the client's user id).
    #[serde(default)]
    pub actor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectExport {
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectErase {
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSave {
    pub name: String,
    /// With `{{field}}` and `{{field|default}}` placeholders.
    pub text: String,
    /// transactional (default), reply, marketing or survey.
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateGet {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Templates {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRemove {
    pub name: String,
}

/// A campaign: a template or a text, to the contacts with every one of `tags` and in
/// `group`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRequest {
    pub name: String,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// With a text: marketing (default), survey, transactional or reply.
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// A saved survey to ask instead of a text (class survey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<String>,
    /// Needed to start it.
    #[serde(default)]
    pub confirm: bool,
    #[serde(default)]
    pub allow_links: bool,
}

/// Every campaign, or one (`campaign`: its id; a request's `id` is the client's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaigns {
    #[serde(default)]
    pub campaign: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCancel {
    pub campaign: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadsRequest {
    /// Resolved ones too.
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRequest {
    pub number: String,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRequest {
    pub to: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadStateRequest {
    pub number: String,
    /// `false`: resolved; `true`: open again.
    pub open: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub message: i64,
    #[serde(default)]
    pub text: Option<String>,
    /// The new time (RFC 3339, or a local time in the shop's zone).
    #[serde(default)]
    pub not_before: Option<String>,
}

/// A period (times as in `send`), optionally one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub number: Option<String>,
}

/// Rows of a customer list. A grant comes only from a row whose `consent` is true, with
/// `text_shown` (the exact words the customers agreed to) and a `source` (default import).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactsImport {
    pub rows: Vec<ImportRowWire>,
    /// A tag given to every imported contact.
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub text_shown: Option<String>,
    /// What identifies the file (its name and size).
    #[serde(default)]
    pub evidence: Option<String>,
    /// Report what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowWire {
    /// The row's line in the file.
    pub line: usize,
    pub number: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub consent: Option<bool>,
}

/// A one-question survey; sent to customers as a campaign with `survey`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveySave {
    pub name: String,
    pub question: String,
    /// rating (1..scale), yes_no, choice (choices) or free.
    pub kind: String,
    #[serde(default)]
    pub scale: Option<i64>,
    #[serde(default)]
    pub choices: Vec<String>,
    /// How long it stays open (`3d` by default).
    #[serde(default)]
    pub expiry: Option<String>,
    /// Sent once to a reply that does not answer the question.
    #[serde(default)]
    pub invalid_reply: Option<String>,
    #[serde(default)]
    pub thanks: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyResultsRequest {
    pub name: String,
}

/// The time the daemon should believe it is (RFC 3339, or a local time in the shop's zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetClock {
    pub now: String,
}

/// A new one-time link that creates an owner of the web page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSetup {}

/// Events from now on (or from after event `since`), pushed as [`Pushed`] lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    #[serde(default)]
    pub since: Option<i64>,
}

/// What `send` queued, one entry per recipient, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub messages: Vec<QueuedMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub id: i64,
    /// The number as it will be dialled (E.164).
    pub to: String,
    pub parts: usize,
    /// `false` when an idempotency key named a message queued before.
    pub new: bool,
    /// queued, held (until `held_until`, the recipient's quiet hours) or refused (see
    /// `refused`: recorded, never sent).
    #[serde(default = "queued_state", with = "message_state")]
    pub state: MessageState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<ApiError>,
    /// Sent now although it is outside the recipient's usual hours (their local time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

fn queued_state() -> MessageState {
    MessageState::Queued
}

/// A message with its parts and history (`get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDetail {
    pub id: i64,
    pub to: String,
    pub text: String,
    pub encoding: String,
    #[serde(with = "message_state")]
    pub state: MessageState,
    pub parts_total: i64,
    pub attempts: i64,
    pub priority: i64,
    pub client_ref: Option<String>,
    pub last_error: Option<String>,
    pub modem: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub next_attempt_at: String,
    /// transactional, reply, marketing, survey or system.
    #[serde(default = "transactional")]
    pub class: String,
    #[serde(default)]
    pub topic: Option<String>,
    pub parts: Vec<PartDetail>,
    pub history: Vec<Event>,
}

fn transactional() -> String {
    "transactional".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartDetail {
    pub part: i64,
    #[serde(with = "part_state")]
    pub state: PartState,
    pub message_ref: Option<i64>,
    pub modem: Option<String>,
    pub sent_at: Option<String>,
    pub report_status: Option<i64>,
}

/// A page of one mailbox: `{"inbox": [...]}` or `{"outbox": [...]}` (also for `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listing {
    Inbox(Vec<InboxEntry>),
    Outbox(Vec<OutboxEntry>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub id: i64,
    pub from: String,
    /// `None` for 8-bit data (see `data_hex`) or a text erased by retention.
    pub text: Option<String>,
    pub data_hex: Option<String>,
    pub parts: i64,
    /// `false` when parts never came (the message was closed after waiting for them).
    pub complete: bool,
    pub modem: Option<String>,
    /// The sender's time stamp as the network gave it.
    pub sent_at: Option<String>,
    pub received_at: String,
    /// The outgoing message this probably answers (a guess: see `reply_guess`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_guess: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub to: String,
    pub text: String,
    #[serde(with = "message_state")]
    pub state: MessageState,
    pub parts: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub modem: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default = "transactional")]
    pub class: String,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<i64>,
    /// When it was asked not to go before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// The sender's uid (who queued it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<u32>,
}

/// What `cancel` and `retry` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChanged {
    pub id: i64,
    #[serde(with = "message_state")]
    pub state: MessageState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModemList {
    pub modems: Vec<ModemInfo>,
}

/// One modem as `smsq modems` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModemInfo {
    pub id: String,
    /// absent, initializing, needs_pin, ready, failed...
    pub state: String,
    /// Why it is absent, needs a PIN or failed.
    pub reason: Option<String>,
    pub operator: Option<String>,
    pub signal_dbm: Option<i32>,
    pub registration: Option<String>,
    pub registered: bool,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub iccid: Option<String>,
    pub smsc: Option<String>,
    pub storage: Option<Storage>,
    /// Messages waiting or being sent (all modems).
    pub queue_depth: i64,
    /// Parts this modem sent since midnight UTC.
    pub sent_today: i64,
    /// The database write that failed and holds up this modem's sending, while it fails.
    pub store_error: Option<String>,
    pub pin_attempts_left: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Storage {
    pub used: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReply {
    pub database: DatabaseInfo,
    /// Rows per table.
    pub rows: BTreeMap<String, i64>,
    pub retention: Retention,
    /// Delivery reports, pushes and webhooks still to make, and given up.
    #[serde(default)]
    pub callbacks: CallbackInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackInfo {
    pub pending: i64,
    pub given_up: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub size_bytes: i64,
    /// Freed by deletions, not yet given back to the file system.
    pub free_bytes: i64,
    pub schema: i64,
}

/// How long each kind of data is kept (`30d`), `None` for forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub texts: Option<String>,
    pub messages: Option<String>,
    pub events: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UssdReply {
    pub modem: String,
    pub answer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimateReply {
    /// gsm7, ucs2 or 8bit.
    pub encoding: String,
    pub parts: usize,
    pub units: usize,
    pub units_per_part: usize,
    pub units_left: usize,
    /// The characters that made the text UCS-2.
    pub forced_ucs2_by: Vec<CharacterAt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterAt {
    pub character: String,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub subscribed: bool,
    /// With `since`: how many past events follow before the live ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<usize>,
}

/// One committed event: history in `get`, and what subscribers receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    /// queued, part_sent, sent, delivered, failed, retry, requeued, expired, cancelled,
    /// outcome_unknown, status_report, received, received_incomplete, part_received,
    /// modem_state, quarantined, report_unmatched, pin_refused, retry_requested, held,
    /// released, refused, opted_out, opted_in, consent_pending, flagged, erased.
    pub kind: String,
    pub message_id: Option<i64>,
    pub inbox_id: Option<i64>,
    pub detail: String,
    /// For a received message still in the inbox: its sender, text and completeness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// A contact (`contact_save`, `contact`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    pub number: String,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub language: Option<String>,
    pub notes: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactListing {
    pub contacts: Vec<ContactInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub removed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSaved {
    pub group: String,
    pub tags: Vec<String>,
}

/// One entry of the consent ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntryInfo {
    pub id: i64,
    pub number: String,
    /// `null`: every topic.
    pub topic: Option<String>,
    /// granted, pending (double opt-in) or revoked.
    pub state: String,
    pub source: String,
    pub evidence: Option<String>,
    pub text_shown: Option<String>,
    pub actor: Option<String>,
    pub at: String,
    pub double_opt_in_confirmed_at: Option<String>,
}

/// A number's consent: where it stands now per topic, and the history it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentReply {
    pub number: String,
    /// Said STOP (and not START since).
    pub opted_out: bool,
    /// Per topic (`*` for every topic): granted, pending or revoked.
    pub current: BTreeMap<String, String>,
    pub history: Vec<ConsentEntryInfo>,
}

/// Everything kept about a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectReply {
    pub number: String,
    /// Erased on request: kept only so that it is never texted again.
    pub suppressed: bool,
    pub contact: Option<ContactInfo>,
    pub consent: Vec<ConsentEntryInfo>,
    pub sent: Vec<OutboxEntry>,
    pub received: Vec<InboxEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    pub erased: String,
    pub rows_changed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSet {
    pub now: String,
}

/// A setup link and when it stops working (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLinkReply {
    pub url: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    pub text: String,
    pub class: String,
    pub topic: Option<String>,
    /// The placeholders it uses.
    pub fields: Vec<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateList {
    pub templates: Vec<TemplateInfo>,
}

/// What a campaign would do (preview) or did (start, with its `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    #[serde(default)]
    pub id: Option<i64>,
    pub audience: String,
    pub text: String,
    pub class: String,
    pub topic: Option<String>,
    pub recipients: usize,
    pub sending: usize,
    /// Waiting for the recipients' quiet hours.
    pub held: usize,
    /// Refused, by code (`opted_out`, `no_consent`, `frequency_cap`), with the numbers.
    pub refused: BTreeMap<String, Vec<String>>,
    /// Recipients whose text cannot be written, and the field without a value.
    pub missing_fields: Vec<MissingFieldInfo>,
    pub parts: usize,
    pub max_parts: usize,
    /// How many recipients' texts take 1, 2, 3... parts.
    #[serde(default)]
    pub parts_per_recipient: BTreeMap<usize, usize>,
    pub encodings: BTreeMap<String, usize>,
    /// Characters that make a text UCS-2.
    pub forcing_ucs2: Vec<String>,
    /// What gsm7-fold would change: character → replacement.
    pub folding: BTreeMap<String, String>,
    /// Parts at the configured price per part.
    pub cost: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingFieldInfo {
    pub number: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignList {
    pub campaigns: Vec<CampaignInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInfo {
    pub id: i64,
    pub name: String,
    /// active, done or cancelled.
    pub state: String,
    pub audience: String,
    pub template: Option<String>,
    pub text: String,
    pub class: String,
    pub topic: Option<String>,
    pub created_at: String,
    pub messages: i64,
    /// Messages per state.
    pub counts: BTreeMap<String, i64>,
    pub replies: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignCancelled {
    pub id: i64,
    pub cancelled: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadList {
    pub threads: Vec<ThreadInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadInfo {
    pub modem: String,
    pub number: String,
    /// open or resolved.
    pub state: String,
    pub last_received_at: Option<String>,
    pub last_sent_at: Option<String>,
    pub last_text: Option<String>,
    /// Minutes since the customer's latest text, when nothing was sent to them after it.
    pub unanswered_minutes: Option<i64>,
}

/// A conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub number: String,
    pub entries: Vec<ConversationEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEntry {
    /// `in` (from the customer) or `out`.
    pub direction: String,
    /// The message's id in its box.
    pub id: i64,
    pub at: String,
    pub text: Option<String>,
    /// Outgoing: its state and class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Incoming: the outgoing message it probably answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadStateChanged {
    pub number: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyInfo {
    pub name: String,
    pub question: String,
    pub kind: String,
    pub scale: Option<i64>,
    pub choices: Vec<String>,
    pub expiry_hours: i64,
    pub invalid_reply: String,
    pub thanks: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyResultsReply {
    pub survey: SurveyInfo,
    pub asked: usize,
    pub answered: usize,
    /// Answers by value.
    pub counts: BTreeMap<String, i64>,
    /// For a rating.
    pub average: Option<f64>,
    pub answers: Vec<SurveyAnswerInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyAnswerInfo {
    pub number: String,
    pub message_id: i64,
    pub answer: Option<String>,
    pub answered_at: Option<String>,
    /// Whether it can still be answered.
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReply {
    pub rows: Vec<ImportRowResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRowResult {
    pub line: usize,
    pub number: Option<String>,
    /// added, updated, skipped_suppressed or invalid.
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// granted, pending (double opt-in) or none.
    pub consent: String,
}

/// Everything exchanged and agreed in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReply {
    pub sent: Vec<OutboxEntry>,
    pub received: Vec<InboxEntry>,
    pub consent: Vec<ConsentEntryInfo>,
}

/// A subscriber that read too slowly missed events; it resumes with `since: resume_from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagged {
    /// Always "lagged".
    pub kind: String,
    pub missed: u64,
    pub resume_from: i64,
}

/// What a subscription pushes: `{"event": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pushed {
    Lagged(Lagged),
    Event(Event),
}

/// Why a request was refused: a stable code for programs, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

macro_rules! error_codes {
    ($($variant:ident = $code:literal,)*) => {
        /// The stable codes of refused requests. A code this client does not know (from a
        /// newer smsqd) is kept as it came.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
            Other(String),
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }

            pub fn parse(code: &str) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }
    };
}

error_codes! {
    BadRequest = "bad_request",
    LineTooLong = "line_too_long",
    TooManyConnections = "too_many_connections",
    InvalidNumber = "invalid_number",
    InvalidText = "invalid_text",
    InvalidEncoding = "invalid_encoding",
    InvalidTime = "invalid_time",
    InvalidState = "invalid_state",
    InvalidUssd = "invalid_ussd",
    NotGsm7 = "not_gsm7",
    TooLong = "too_long",
    EmptyText = "empty_text",
    InvalidAddress = "invalid_address",
    NotFound = "not_found",
    NotCancellable = "not_cancellable",
    NotRetryable = "not_retryable",
    NoModem = "no_modem",
    ModemError = "modem_error",
    StoreError = "store_error",
    InvalidClass = "invalid_class",
    InvalidContact = "invalid_contact",
    OptedOut = "opted_out",
    NoConsent = "no_consent",
    FrequencyCap = "frequency_cap",
    BulkConfirmationNeeded = "bulk_confirmation_needed",
    LinksBlockedPh = "links_blocked_ph",
    Forbidden = "forbidden",
    NeedsConfirmation = "confirmation_needed",
    InvalidTemplate = "invalid_template",
    MissingField = "missing_field",
    InvalidCampaign = "invalid_campaign",
    Unavailable = "unavailable",
}

/// Codes compare with the names programs match on (`e.code == "invalid_number"`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|code| Self::parse(&code))
    }
}

/// The answer line to one request: `{"id", "ok": true, "result"}` or `{"id", "ok": false,
/// "error"}`; `id` is the client's, echoed (null when the line could not be read at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Reply<T> {
    pub id: Value,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl<T> Reply<T> {
    pub fn new(id: Value, outcome: Result<T, ApiError>) -> Self {
        match outcome {
            Ok(result) => Self {
                id,
                ok: true,
                result: Some(result),
                error: None,
            },
            Err(error) => Self {
                id,
                ok: false,
                result: None,
                error: Some(error),
            },
        }
    }
}

/// A request line: the client's `id` and the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLine {
    #[serde(default)]
    pub id: Value,
    #[serde(flatten)]
    pub request: Request,
}

/// One line from the daemon, as a client reads it: a pushed event or the reply to a request
/// (its result still to be read as the request's reply type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServerLine {
    Event { event: Pushed },
    Reply(Reply<Value>),
}

/// States travel by their names.
mod message_state {
    use super::MessageState;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(state: &MessageState, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(state.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MessageState, D::Error> {
        let name = String::deserialize(d)?;
        MessageState::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown message state {name:?}")))
    }
}

mod part_state {
    use super::PartState;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(state: &PartState, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(state.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PartState, D::Error> {
        let name = String::deserialize(d)?;
        PartState::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown part state {name:?}")))
    }
}
