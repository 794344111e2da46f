//! `smsq` subcommands that talk to a running `smsqd` over its socket.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{CommandError, text_arg};
use crate::api::client::{Client, ClientError};
use crate::api::{
    Cancel, Event, Get, Hosts, ListRequest, Listing, Mailbox, Modems, Pushed, Recipients, Retry,
    SendRequest, ServerLine, Stats, Subscribe, Ussd, WebSetup,
};

#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// The daemon's socket [default: smsqd's own default for this user if it is there,
    /// else the system service's /run/smsq/smsq.sock].
    #[arg(long, global = true, env = "SMSQ_SOCKET")]
    socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Queue a message for one or more recipients.
    Send(SendArgs),
    /// A message's state, parts and history.
    Status {
        /// The message's id (as `smsq send` or `smsq outbox` shows it).
        id: i64,
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Outgoing messages, newest first.
    Outbox(OutboxArgs),
    /// Received messages, newest first.
    Inbox(ListArgs),
    /// Messages that failed, expired or whose outcome is unknown.
    Failed(ListArgs),
    /// Follow events (received messages, deliveries, failures) as they happen.
    Watch {
        /// Replay events after this event id first.
        #[arg(long)]
        since: Option<i64>,
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued message that has not started.
    Cancel {
        /// The message's id.
        id: i64,
    },
    /// Queue a failed, expired or unknown message again (a deliberate resend).
    Retry {
        /// The message's id.
        id: i64,
    },
    /// Modems: state, operator, signal, SIM, queue.
    Modems {
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A one-time link (24 hours) that creates an owner of the web page: the first one, or a
    /// new one when the owner's password is lost. The link before it stops working.
    WebSetup {
        #[arg(long)]
        json: bool,
    },
    /// The hosts sharing the database (several smsqd on one PostgreSQL): each one's state,
    /// last heartbeat, lease and modems.
    Hosts {
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The database: size, rows per table, retention.
    Stats {
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a USSD code (balance checks such as *143#).
    Ussd {
        /// The code, such as *143# (digits, * # and + only).
        code: String,
        /// The modem to ask (its id); default: the first ready one.
        #[arg(long)]
        modem: Option<String>,
    },
    /// The shop's customers: add, edit, list, show, tag, remove, group, import (CSV).
    #[command(subcommand)]
    Contacts(super::care::ContactsCommand),
    /// What customers agreed to: show, grant, revoke.
    #[command(subcommand)]
    Consent(super::care::ConsentCommand),
    /// A customer's data: export it, or erase it on request.
    #[command(subcommand)]
    Subject(super::care::SubjectCommand),
    /// Templates with {{field}} placeholders: add, list, show, preview, remove.
    #[command(subcommand)]
    Template(super::workflows::TemplateCommand),
    /// Send to the contacts with a tag or in a group: preview, start, status, cancel.
    #[command(subcommand)]
    Campaign(super::workflows::CampaignCommand),
    /// One-question surveys: add, send, results.
    #[command(subcommand)]
    Survey(super::workflows::SurveyCommand),
    /// Conversations with customers, the ones waiting for an answer first.
    Threads {
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One conversation, both ways, in order (or --resolve / --reopen it).
    Thread(super::workflows::ThreadArgs),
    /// Answer a customer (class reply).
    Reply {
        number: String,
        /// The text, or `-` for standard input.
        text: String,
    },
    /// Scheduled messages and those held for quiet hours.
    Scheduled {
        #[arg(long)]
        json: bool,
    },
    /// Change the text or the time of a scheduled or held message.
    Edit {
        id: i64,
        #[arg(long)]
        text: Option<String>,
        /// The new time (`2026-12-02 09:00` in the shop's zone, or RFC 3339).
        #[arg(long)]
        at: Option<String>,
    },
    /// Every message both ways and every consent entry in a period: JSON lines, or --csv.
    Export {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        number: Option<String>,
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Recipient (repeatable). National numbers use the daemon's default country.
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    /// auto, gsm7, ucs2 or gsm7-fold.
    #[arg(long)]
    encoding: Option<String>,
    /// Higher goes first (default 0; a reminder might be 1, a promo -1).
    #[arg(long)]
    priority: Option<i64>,
    /// RFC 3339 time before which the message is not sent.
    #[arg(long)]
    not_before: Option<String>,
    /// RFC 3339 time after which an unsent message expires.
    #[arg(long)]
    not_after: Option<String>,
    /// Your own reference (an order number), kept with the message and shown back.
    #[arg(long)]
    client_ref: Option<String>,
    /// Sending again with the same key does not queue the message twice.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Do not ask for a delivery report.
    #[arg(long)]
    no_report: bool,
    /// transactional (an order ready, an appointment; the default), reply, marketing or
    /// survey. Marketing and surveys need the customer's consent, wait for decent hours and
    /// count toward the per-customer caps.
    #[arg(long, value_parser = ["transactional", "reply", "marketing", "survey"])]
    class: Option<String>,
    /// A configured topic (promo, events) the customer can opt out of on its own.
    #[arg(long)]
    topic: Option<String>,
    /// Confirm a send to more recipients than the bulk limit (default 50).
    #[arg(long)]
    confirm_bulk: bool,
    /// Confirm a link in a text to Philippine numbers (their carriers block links).
    #[arg(long)]
    allow_links: bool,
    /// A saved template instead of TEXT (give `-` or any TEXT; it is not used).
    #[arg(long)]
    template: Option<String>,
    /// A value for a template's placeholder, NAME=VALUE (repeatable).
    #[arg(long = "field", value_parser = field_arg)]
    fields: Vec<(String, String)>,
    /// Print JSON (exact values, for scripts) instead of a table.
    #[arg(long)]
    json: bool,
    /// The text, or `-` for standard input (not needed with --template).
    #[arg(required_unless_present = "template")]
    text: Option<String>,
}

fn field_arg(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "write a field as NAME=VALUE".into())
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// How many entries, newest first (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
    limit: i64,
    /// Only entries older than this id (paging).
    #[arg(long)]
    before: Option<i64>,
    /// Print JSON (exact values, for scripts) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OutboxArgs {
    #[command(flatten)]
    list: ListArgs,
    /// Only messages in this state.
    #[arg(long, value_parser = crate::api::MESSAGE_STATES)]
    state: Option<String>,
}

/// Exit code when the daemon cannot be reached.
pub(crate) const NO_DAEMON: u8 = 3;

pub(crate) fn failure(e: ClientError) -> CommandError {
    match e {
        ClientError::Api(api) => CommandError::new(api.code.as_str(), api.message),
        ClientError::Connect(..) => CommandError::new("no_daemon", e.to_string()).exit(NO_DAEMON),
        other => CommandError::new("connection", other.to_string()).exit(NO_DAEMON),
    }
}

/// Prints a reply exactly as smsqd sent it, for scripts.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), CommandError> {
    let line = serde_json::to_string(value)
        .map_err(|e| CommandError::new("internal", format!("cannot print JSON: {e}")))?;
    println!("{line}");
    Ok(())
}

pub(crate) async fn run(conn: Connection, cmd: DaemonCommand) -> Result<(), CommandError> {
    let path = conn.socket.unwrap_or_else(client_socket_path);
    let mut client = Client::connect(&path).await.map_err(failure)?;
    match cmd {
        DaemonCommand::Send(a) => {
            let text = match (&a.template, &a.text) {
                (Some(_), _) => String::new(),
                (None, Some(t)) => text_arg(t)?,
                (None, None) => String::new(),
            };
            // A request line holds at most 64 KiB: recipients go in batches of a thousand
            // (each batch queued in one transaction), with progress on a terminal.
            let total = a.to.len();
            let batches: Vec<&[String]> = a.to.chunks(SEND_BATCH).collect();
            let progress = batches.len() > 1 && std::io::stderr().is_terminal();
            let mut queued = Vec::new();
            for (b, batch) in batches.iter().enumerate() {
                // Keys stay distinct across batches, and the same on a rerun of the command.
                let key = a.idempotency_key.as_ref().map(|k| {
                    if b == 0 {
                        k.clone()
                    } else {
                        format!("{k}@{b}")
                    }
                });
                let r = client
                    .call(SendRequest {
                        to: Recipients::Many(batch.to_vec()),
                        text: text.clone(),
                        encoding: a.encoding.clone(),
                        priority: a.priority,
                        not_before: a.not_before.clone(),
                        not_after: a.not_after.clone(),
                        client_ref: a.client_ref.clone(),
                        idempotency_key: key,
                        report: a.no_report.then_some(false),
                        class: a.class.clone(),
                        topic: a.topic.clone(),
                        confirm_bulk: a.confirm_bulk,
                        allow_links: a.allow_links,
                        template: a.template.clone(),
                        fields: a.fields.iter().cloned().collect(),
                    })
                    .await
                    .map_err(|e| {
                        if progress {
                            eprintln!();
                        }
                        if !queued.is_empty() {
                            eprintln!(
                                "smsq: {} of {total} messages were queued before this error; \
                                 the rest were not",
                                queued.len()
                            );
                        }
                        failure(e)
                    })?;
                queued.extend(r.messages);
                if progress {
                    eprint!("\rqueued {} of {total}", queued.len());
                }
            }
            if progress {
                eprintln!();
            }
            if a.json {
                print_json(&crate::api::Queued { messages: queued })?;
            } else {
                for m in &queued {
                    let parts = format!("{} part{}", m.parts, if m.parts == 1 { "" } else { "s" });
                    match (&m.refused, &m.held_until) {
                        (Some(why), _) => println!(
                            "refused {} to {}: {} ({}); recorded, not sent",
                            m.id,
                            for_terminal(&m.to),
                            for_terminal(&why.message),
                            why.code
                        ),
                        (None, Some(until)) => println!(
                            "held {} to {} ({parts}) until {}: the recipient's quiet hours",
                            m.id,
                            for_terminal(&m.to),
                            local_time(until)
                        ),
                        (None, None) => {
                            println!("queued {} to {} ({parts})", m.id, for_terminal(&m.to))
                        }
                    }
                    if let Some(note) = &m.warning {
                        eprintln!(
                            "smsq: warning: {}: {}",
                            for_terminal(&m.to),
                            for_terminal(note)
                        );
                    }
                }
            }
        }
        DaemonCommand::Status { id, json } => {
            let r = client.call(Get { message: id }).await.map_err(failure)?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "message {}  to {}  state {}  class {}{}",
                    r.id,
                    for_terminal(&r.to),
                    r.state,
                    for_terminal(&r.class),
                    r.topic
                        .as_deref()
                        .map(|t| format!(" ({})", for_terminal(t)))
                        .unwrap_or_default()
                );
                println!("text: {}", for_terminal(&r.text));
                if let Some(error) = &r.last_error {
                    println!("last error: {}", for_terminal(error));
                }
                for p in &r.parts {
                    println!(
                        "  part {}: {}  ref {}  sent {}",
                        p.part,
                        p.state,
                        p.message_ref.map_or("-".into(), |m| m.to_string()),
                        p.sent_at.as_deref().map_or("-".into(), local_time)
                    );
                }
                println!("history:");
                for e in &r.history {
                    println!(
                        "  {}  {:<16} {}",
                        local_time(&e.at),
                        for_terminal(&e.kind),
                        for_terminal(&e.detail)
                    );
                }
            }
        }
        DaemonCommand::Outbox(a) => list(&mut client, Mailbox::Outbox, a.list, a.state).await?,
        DaemonCommand::Inbox(a) => list(&mut client, Mailbox::Inbox, a, None).await?,
        DaemonCommand::Failed(a) => list(&mut client, Mailbox::Failed, a, None).await?,
        DaemonCommand::Watch { since, json } => {
            client.call(Subscribe { since }).await.map_err(failure)?;
            loop {
                let line = client.next_line().await.map_err(failure)?;
                let ServerLine::Event { event } = line else {
                    continue;
                };
                if json {
                    print_json(&event)?;
                } else {
                    print_event(&event);
                }
            }
        }
        DaemonCommand::Cancel { id } => {
            client.call(Cancel { message: id }).await.map_err(failure)?;
            println!("cancelled {id}");
        }
        DaemonCommand::Retry { id } => {
            client.call(Retry { message: id }).await.map_err(failure)?;
            println!("queued {id} again");
        }
        DaemonCommand::WebSetup { json } => {
            let r = client.call(WebSetup {}).await.map_err(failure)?;
            if json {
                print_json(&r)?;
            } else {
                println!("{}", for_terminal(&r.url));
                eprintln!(
                    "Open it within 24 hours (until {}) to create an owner; it works once.",
                    for_terminal(&r.expires_at)
                );
            }
        }
        DaemonCommand::Hosts { json } => {
            let r = client.call(Hosts {}).await.map_err(failure)?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{:<20} {:<8} {:>10} {:>10}  MODEMS",
                    "HOST", "STATE", "HEARTBEAT", "LEASE"
                );
                for h in &r.hosts {
                    let me = if h.name == r.this_host {
                        " (this host)"
                    } else {
                        ""
                    };
                    let modems: Vec<String> = h
                        .modems
                        .iter()
                        .map(|m| {
                            let health = if m.healthy { "" } else { " (not ready)" };
                            format!("{}{health}", for_terminal(&m.id))
                        })
                        .collect();
                    println!(
                        "{:<20} {:<8} {:>9}s {:>9}s  {}{me}",
                        for_terminal(&h.name),
                        h.state,
                        h.heartbeat_age_ms / 1000,
                        h.lease_left_ms / 1000,
                        modems.join(", ")
                    );
                }
            }
        }
        DaemonCommand::Stats { json } => {
            let r = client.call(Stats {}).await.map_err(failure)?;
            if json {
                print_json(&r)?;
            } else {
                let mb = |bytes: i64| bytes as f64 / 1_048_576.0;
                println!(
                    "database: {:.1} MiB ({:.1} MiB free for reuse), schema {}",
                    mb(r.database.size_bytes),
                    mb(r.database.free_bytes),
                    r.database.schema
                );
                for (table, n) in &r.rows {
                    println!("{:<16} {n:>10}", for_terminal(table));
                }
                let keep = |v: &Option<String>| v.clone().unwrap_or_else(|| "forever".into());
                println!(
                    "retention: texts {}, messages {}, events {}",
                    keep(&r.retention.texts),
                    keep(&r.retention.messages),
                    keep(&r.retention.events)
                );
                println!(
                    "callbacks: {} waiting, {} given up",
                    r.callbacks.pending, r.callbacks.given_up
                );
            }
        }
        DaemonCommand::Modems { json } => {
            let r = client.call(Modems {}).await.map_err(failure)?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{:<8} {:<13} {:<16} {:>7} {:<22} {:>6} {:>5}",
                    "MODEM", "STATE", "OPERATOR", "SIGNAL", "REGISTRATION", "QUEUED", "TODAY"
                );
                for m in &r.modems {
                    println!(
                        "{:<8} {:<13} {:<16} {:>7} {:<22} {:>6} {:>5}",
                        for_terminal(&m.id),
                        for_terminal(&m.state),
                        opt(m.operator.as_deref()),
                        m.signal_dbm.map_or("-".into(), |d| format!("{d} dBm")),
                        opt(m.registration.as_deref()),
                        m.queue_depth,
                        m.sent_today
                    );
                    if let Some(reason) = &m.reason {
                        println!("         {}", for_terminal(reason));
                    }
                    if let Some(error) = &m.store_error {
                        println!(
                            "         sending paused: the database cannot be written ({}); retrying",
                            for_terminal(error)
                        );
                    }
                }
            }
        }
        DaemonCommand::Ussd { code, modem } => {
            let r = client.call(Ussd { code, modem }).await.map_err(failure)?;
            println!("{}", for_terminal(&r.answer));
        }
        DaemonCommand::Contacts(cmd) => super::care::contacts(&mut client, cmd).await?,
        DaemonCommand::Consent(cmd) => super::care::consent(&mut client, cmd).await?,
        DaemonCommand::Subject(cmd) => super::care::subject(&mut client, cmd).await?,
        DaemonCommand::Template(cmd) => super::workflows::template(&mut client, cmd).await?,
        DaemonCommand::Campaign(cmd) => super::workflows::campaign(&mut client, cmd).await?,
        DaemonCommand::Survey(cmd) => super::workflows::survey(&mut client, cmd).await?,
        DaemonCommand::Threads { all, json } => {
            super::workflows::threads(&mut client, all, json).await?
        }
        DaemonCommand::Thread(a) => super::workflows::thread(&mut client, a).await?,
        DaemonCommand::Reply { number, text } => {
            super::workflows::reply(&mut client, number, text).await?
        }
        DaemonCommand::Scheduled { json } => super::workflows::scheduled(&mut client, json).await?,
        DaemonCommand::Edit { id, text, at } => {
            super::workflows::edit(&mut client, id, text, at).await?
        }
        DaemonCommand::Export {
            from,
            to,
            number,
            csv,
        } => super::workflows::export(&mut client, from, to, number, csv).await?,
    }
    Ok(())
}

async fn list(
    client: &mut Client,
    mailbox: Mailbox,
    a: ListArgs,
    state: Option<String>,
) -> Result<(), CommandError> {
    let r = client
        .call(ListRequest {
            mailbox,
            limit: Some(a.limit),
            before: a.before,
            state,
        })
        .await
        .map_err(failure)?;
    if a.json {
        return print_json(&r);
    }
    match r {
        Listing::Inbox(messages) => {
            println!("{:>5}  {:<20} {:<16}  TEXT", "ID", "RECEIVED", "FROM");
            for m in &messages {
                let mut text = match (&m.text, &m.data_hex) {
                    (Some(t), _) => for_terminal(t).into_owned(),
                    (None, Some(hex)) => format!("[data: {}]", for_terminal(hex)),
                    (None, None) => String::new(),
                };
                if !m.complete {
                    text.push_str("  [incomplete: parts missing]");
                }
                println!(
                    "{:>5}  {:<20} {:<16}  {}",
                    m.id,
                    local_time(&m.received_at),
                    for_terminal(&m.from),
                    text
                );
            }
        }
        Listing::Outbox(messages) => {
            println!(
                "{:>5}  {:<20} {:<16} {:<10} {:<13} {:>5}  TEXT",
                "ID", "CREATED", "TO", "STATE", "CLASS", "PARTS"
            );
            for m in &messages {
                println!(
                    "{:>5}  {:<20} {:<16} {:<10} {:<13} {:>5}  {}",
                    m.id,
                    local_time(&m.created_at),
                    for_terminal(&m.to),
                    m.state.as_str(),
                    for_terminal(&m.class),
                    m.parts,
                    for_terminal(&m.text)
                );
                if let Some(err) = &m.last_error {
                    println!("       {}", for_terminal(err));
                }
            }
        }
    }
    Ok(())
}

fn print_event(pushed: &Pushed) {
    let e: &Event = match pushed {
        Pushed::Lagged(l) => {
            println!(
                "(missed {} events; resume with --since {})",
                l.missed, l.resume_from
            );
            return;
        }
        Pushed::Event(e) => e,
    };
    match e.kind.as_str() {
        "received" | "received_incomplete" => println!(
            "{}  received from {}: {}{}",
            local_time(&e.at),
            opt(e.from.as_deref()),
            for_terminal(e.text.as_deref().unwrap_or("")),
            if e.kind == "received_incomplete" {
                "  [incomplete]"
            } else {
                ""
            }
        ),
        "flagged" => println!(
            "{}  flagged for you to read: from {}: {}",
            local_time(&e.at),
            opt(e.from.as_deref()),
            for_terminal(e.text.as_deref().unwrap_or(""))
        ),
        kind => println!(
            "{}  {:<16} message {}  {}",
            local_time(&e.at),
            for_terminal(kind),
            e.message_id.map_or("-".into(), |id| id.to_string()),
            for_terminal(&e.detail)
        ),
    }
}

/// Where a client finds smsqd without `--socket`: the default of an smsqd this user runs,
/// if its socket is there; else the system service's; else (for the error message) the
/// user's default again.
fn client_socket_path() -> PathBuf {
    let own = crate::api::default_socket_path();
    let system = PathBuf::from(SYSTEM_SOCKET);
    if !own.exists() && system.exists() {
        system
    } else {
        own
    }
}

/// The socket of smsqd running as the system service (`systemd/smsqd.socket`).
const SYSTEM_SOCKET: &str = "/run/smsq/smsq.sock";

/// A time from smsqd (RFC 3339, UTC) as a person at this computer reads it: in the local
/// time zone (the system's, or `TZ`), to the second. `--json` keeps RFC 3339.
pub(crate) fn local_time(text: &str) -> String {
    match text.parse::<jiff::Timestamp>() {
        Ok(t) => jiff::tz::TimeZone::system()
            .to_datetime(t)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => for_terminal(text).into_owned(),
    }
}

/// Recipients per `send` request: a thousand numbers keep a request well under the 64 KiB
/// line limit, with room for the longest text.
const SEND_BATCH: usize = 1000;

/// An optional value from outside for a table: `-` when absent.
pub(crate) fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "-".into(), |v| for_terminal(v).into_owned())
}

/// Text from outside (a customer's SMS, a number, a modem's words) as a terminal may show
/// it: CR, ESC and every other control character (C0, DEL, C1), and the bidirectional
/// controls that reorder what is displayed, become visible escapes (`\r`, `\n`, `\t`,
/// `\u{1b}`), so no text can move the cursor, rewrite a line, retitle the window or clear
/// the screen. Everything else is shown as it is; `--json` output stays exact.
pub(crate) fn for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::for_terminal;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(for_terminal("Salamat po! 😀"), "Salamat po! 😀");
        assert_eq!(
            for_terminal("\u{1b}]0;pwned\u{7}\u{1b}[2J\rok\nnext\u{9b}x\u{202e}cba"),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\rok\\nnext\\u{9b}x\\u{202e}cba"
        );
    }
}
