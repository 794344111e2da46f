//! `smsq template`, `campaign`, `threads`, `thread`, `reply`, `scheduled`, `edit` and
//! `export`: the shop's everyday work on top of the queue.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use clap::{Args, Subcommand};

use super::CommandError;
use super::care::csv_cell;
use super::daemon::{failure, for_terminal, local_time, opt, print_json};
use crate::api::client::Client;
use crate::api::{
    CampaignCancel, CampaignInfo, CampaignReport, CampaignRequest, Campaigns, Edit, ExportRequest,
    Listing, PreviewCampaign, ReplyRequest, Scheduled, StartCampaign, SurveyResultsRequest,
    SurveySave, TemplateGet, TemplateRemove, TemplateSave, Templates, ThreadRequest,
    ThreadStateRequest, ThreadsRequest,
};

fn field(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "write a field as NAME=VALUE".into())
}

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCommand {
    /// Save a template (replacing one of the same name): `Hi {{name|there}}, ...`.
    Add {
        name: String,
        /// The text, with {{field}} and {{field|default}} placeholders.
        text: String,
        /// transactional (default), reply, marketing or survey.
        #[arg(long, value_parser = ["transactional", "reply", "marketing", "survey"])]
        class: Option<String>,
        #[arg(long)]
        topic: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// How the template comes out for the contacts with every --tag or in --group: parts,
    /// encodings, refusals, cost.
    Preview {
        name: String,
        #[command(flatten)]
        audience: Audience,
        #[arg(long)]
        json: bool,
    },
    Remove {
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct Audience {
    /// Contacts with this tag (repeatable: all of them).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A saved group.
    #[arg(long)]
    group: Option<String>,
    /// A value for a placeholder, NAME=VALUE (repeatable).
    #[arg(long = "field", value_parser = field)]
    fields: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub(crate) struct CampaignArgs {
    /// The campaign's name, for its report.
    name: String,
    /// A saved template...
    #[arg(long, conflicts_with = "text")]
    template: Option<String>,
    /// ...or a text.
    #[arg(long)]
    text: Option<String>,
    /// With --text: marketing (default), survey, transactional or reply.
    #[arg(long, value_parser = ["transactional", "reply", "marketing", "survey"])]
    class: Option<String>,
    #[arg(long)]
    topic: Option<String>,
    #[command(flatten)]
    audience: Audience,
    /// Confirm a link in a text to Philippine numbers.
    #[arg(long)]
    allow_links: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CampaignCommand {
    /// What it would do: recipients, refusals and why, quiet-hours holds, parts, cost.
    Preview {
        #[command(flatten)]
        campaign: CampaignArgs,
        #[arg(long)]
        json: bool,
    },
    /// Preview, then queue it: asks first on a terminal; --yes confirms without asking.
    Start {
        #[command(flatten)]
        campaign: CampaignArgs,
        #[arg(long)]
        yes: bool,
        /// Return once queued, without following its progress.
        #[arg(long)]
        no_follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Campaigns, or one with its counts; --follow shows its progress until nothing waits.
    Status {
        id: Option<i64>,
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// Cancel every message of a campaign that has not started.
    Cancel { id: i64 },
}

pub(crate) async fn template(
    client: &mut Client,
    cmd: TemplateCommand,
) -> Result<(), CommandError> {
    match cmd {
        TemplateCommand::Add {
            name,
            text,
            class,
            topic,
        } => {
            let text = super::text_arg(&text)?;
            let t = client
                .call(TemplateSave {
                    name,
                    text,
                    class,
                    topic,
                })
                .await
                .map_err(failure)?;
            println!(
                "template {} saved ({}; fields: {})",
                for_terminal(&t.name),
                t.class,
                for_terminal(&t.fields.join(", "))
            );
        }
        TemplateCommand::List { json } => {
            let r = client.call(Templates {}).await.map_err(failure)?;
            if json {
                return print_json(&r);
            }
            println!("{:<20} {:<13} {:<10} TEXT", "NAME", "CLASS", "TOPIC");
            for t in &r.templates {
                println!(
                    "{:<20} {:<13} {:<10} {}",
                    for_terminal(&t.name),
                    t.class,
                    opt(t.topic.as_deref()),
                    for_terminal(&t.text)
                );
            }
        }
        TemplateCommand::Show { name, json } => {
            let t = client.call(TemplateGet { name }).await.map_err(failure)?;
            if json {
                return print_json(&t);
            }
            println!(
                "template {}  class {}  topic {}",
                for_terminal(&t.name),
                t.class,
                opt(t.topic.as_deref())
            );
            println!("{}", for_terminal(&t.text));
            println!("fields: {}", for_terminal(&t.fields.join(", ")));
        }
        TemplateCommand::Preview {
            name,
            audience,
            json,
        } => {
            let r = client
                .call(PreviewCampaign(CampaignRequest {
                    name: format!("preview of {name}"),
                    template: Some(name),
                    tags: audience.tags,
                    group: audience.group,
                    fields: audience.fields.into_iter().collect(),
                    ..CampaignRequest::default()
                }))
                .await
                .map_err(failure)?;
            if json {
                return print_json(&r);
            }
            print_report(&r);
        }
        TemplateCommand::Remove { name } => {
            client
                .call(TemplateRemove { name: name.clone() })
                .await
                .map_err(failure)?;
            println!("template {} removed", for_terminal(&name));
        }
    }
    Ok(())
}

fn campaign_request(a: CampaignArgs) -> CampaignRequest {
    CampaignRequest {
        name: a.name,
        template: a.template,
        text: a.text,
        class: a.class,
        topic: a.topic,
        tags: a.audience.tags,
        group: a.audience.group,
        fields: a.audience.fields.into_iter().collect::<BTreeMap<_, _>>(),
        confirm: false,
        allow_links: a.allow_links,
        survey: None,
    }
}

fn print_report(r: &CampaignReport) {
    println!(
        "to {}: {} recipient(s)",
        for_terminal(&r.audience),
        r.recipients
    );
    println!("  would go now:        {}", r.sending);
    println!("  held (quiet hours):  {}", r.held);
    for (code, numbers) in &r.refused {
        let shown: Vec<String> = numbers
            .iter()
            .take(10)
            .map(|n| for_terminal(n).into_owned())
            .collect();
        println!(
            "  refused ({code}): {}{}",
            numbers.len(),
            if shown.is_empty() {
                String::new()
            } else {
                format!(
                    "  {}{}",
                    shown.join(" "),
                    if numbers.len() > 10 { " ..." } else { "" }
                )
            }
        );
    }
    for m in &r.missing_fields {
        println!(
            "  cannot write the text for {}: {{{{{}}}}} has no value",
            for_terminal(&m.number),
            for_terminal(&m.field)
        );
    }
    let encodings: Vec<String> = r
        .encodings
        .iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect();
    println!(
        "  parts: {} in all, at most {} per message ({})",
        r.parts,
        r.max_parts,
        encodings.join(", ")
    );
    if !r.forcing_ucs2.is_empty() {
        println!(
            "  UCS-2 because of: {} (each part holds 70 characters instead of 160)",
            for_terminal(&r.forcing_ucs2.join(" "))
        );
    }
    if !r.folding.is_empty() {
        let f: Vec<String> = r
            .folding
            .iter()
            .map(|(c, to)| format!("{c}→{to}"))
            .collect();
        println!("  gsm7-fold would change: {}", for_terminal(&f.join(" ")));
    }
    if let Some(cost) = r.cost {
        println!("  cost: {cost:.2} at the configured price per part");
    }
}

/// One line of progress: the counts of a campaign's messages.
fn progress_line(c: &CampaignInfo) -> (String, bool) {
    let n = |s: &str| c.counts.get(s).copied().unwrap_or(0);
    let done = n("sent")
        + n("delivered")
        + n("failed")
        + n("refused")
        + n("expired")
        + n("cancelled")
        + n("unknown");
    let waiting = n("queued") + n("sending");
    let line = format!(
        "{done}/{} done: {} delivered, {} sent, {} failed, {} refused, {} held, {} replies",
        c.messages,
        n("delivered"),
        n("sent"),
        n("failed") + n("unknown") + n("expired"),
        n("refused"),
        n("held"),
        c.replies
    );
    (line, waiting == 0)
}

async fn follow(client: &mut Client, id: i64) -> Result<(), CommandError> {
    let terminal = std::io::stderr().is_terminal();
    let mut last = String::new();
    loop {
        let r = client
            .call(Campaigns { campaign: Some(id) })
            .await
            .map_err(failure)?;
        let Some(c) = r.campaigns.first() else {
            return Ok(());
        };
        let (line, finished) = progress_line(c);
        if terminal {
            let n = |s: &str| c.counts.get(s).copied().unwrap_or(0);
            let waiting = n("queued") + n("sending") + n("held");
            let total = c.messages.max(1);
            let filled = ((total - waiting) * 30 / total) as usize;
            eprint!(
                "\r[{}{}] {line}",
                "#".repeat(filled),
                ".".repeat(30 - filled)
            );
        } else if line != last {
            eprintln!("campaign {id}: {line}");
        }
        last = line;
        if finished || c.state != "active" {
            if terminal {
                eprintln!();
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

pub(crate) async fn campaign(
    client: &mut Client,
    cmd: CampaignCommand,
) -> Result<(), CommandError> {
    match cmd {
        CampaignCommand::Preview { campaign, json } => {
            let r = client
                .call(PreviewCampaign(campaign_request(campaign)))
                .await
                .map_err(failure)?;
            if json {
                return print_json(&r);
            }
            print_report(&r);
        }
        CampaignCommand::Start {
            campaign,
            yes,
            no_follow,
            json,
        } => {
            let mut req = campaign_request(campaign);
            let preview = client
                .call(PreviewCampaign(req.clone()))
                .await
                .map_err(failure)?;
            if !json {
                print_report(&preview);
            }
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(CommandError::new(
                        "confirmation_needed",
                        "not started: confirm with --yes (nothing was queued)",
                    ));
                }
                eprint!(
                    "Send to {} customer(s)? [y/N] ",
                    preview.sending + preview.held
                );
                let mut answer = String::new();
                std::io::stdin()
                    .read_line(&mut answer)
                    .map_err(|e| CommandError::new("stdin", e.to_string()))?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    return Err(CommandError::new("cancelled", "not started"));
                }
            }
            req.confirm = true;
            let r = client.call(StartCampaign(req)).await.map_err(failure)?;
            let id = r.id.unwrap_or_default();
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "campaign {id} started: {} queued, {} held, {} refused",
                    r.sending,
                    r.held,
                    r.refused.values().map(Vec::len).sum::<usize>()
                );
            }
            if !no_follow && !json {
                follow(client, id).await?;
            }
        }
        CampaignCommand::Status {
            id,
            follow: following,
            json,
        } => {
            if following {
                let id =
                    id.ok_or_else(|| CommandError::new("usage", "--follow needs a campaign id"))?;
                return follow(client, id).await;
            }
            let r = client
                .call(Campaigns { campaign: id })
                .await
                .map_err(failure)?;
            if json {
                return print_json(&r);
            }
            for c in &r.campaigns {
                println!(
                    "{:>4}  {}  {:<9} {}  ({}; {})",
                    c.id,
                    local_time(&c.created_at),
                    c.state,
                    for_terminal(&c.name),
                    for_terminal(&c.audience),
                    c.class
                );
                println!("      {}", progress_line(c).0);
            }
        }
        CampaignCommand::Cancel { id } => {
            let r = client
                .call(CampaignCancel { campaign: id })
                .await
                .map_err(failure)?;
            println!("campaign {id}: {} message(s) cancelled", r.cancelled);
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum SurveyCommand {
    /// Save a one-question survey (replacing one of the same name).
    Add {
        name: String,
        /// The question, as the customer reads it ("How was your visit? Reply 1 to 5").
        #[arg(long)]
        question: String,
        /// Answers 1 to N.
        #[arg(long, group = "kind")]
        rating: Option<i64>,
        #[arg(long, group = "kind")]
        yes_no: bool,
        /// The options, comma-separated; customers answer with one or its number.
        #[arg(long, group = "kind", value_delimiter = ',')]
        choices: Option<Vec<String>>,
        #[arg(long, group = "kind")]
        free: bool,
        /// How long it stays open (default 3d).
        #[arg(long)]
        expiry: Option<String>,
        /// Sent once to a reply that does not answer it.
        #[arg(long)]
        invalid_reply: Option<String>,
        #[arg(long)]
        thanks: Option<String>,
    },
    /// Ask it: a campaign to the contacts with every --tag or in --group (class survey:
    /// consent, quiet hours and caps apply).
    Send {
        name: String,
        #[command(flatten)]
        audience: Audience,
        #[arg(long)]
        yes: bool,
    },
    /// Who answered what: counts, the average of a rating, every answer (--csv for a sheet).
    Results {
        name: String,
        #[arg(long)]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn survey(client: &mut Client, cmd: SurveyCommand) -> Result<(), CommandError> {
    match cmd {
        SurveyCommand::Add {
            name,
            question,
            rating,
            yes_no,
            choices,
            free,
            expiry,
            invalid_reply,
            thanks,
        } => {
            let kind = match (rating, yes_no, &choices, free) {
                (Some(_), ..) => "rating",
                (_, true, ..) => "yes_no",
                (_, _, Some(_), _) => "choice",
                _ => "free",
            };
            let s = client
                .call(SurveySave {
                    name,
                    question,
                    kind: kind.into(),
                    scale: rating,
                    choices: choices.unwrap_or_default(),
                    expiry,
                    invalid_reply,
                    thanks,
                })
                .await
                .map_err(failure)?;
            println!(
                "survey {} saved ({}, open {} h)",
                for_terminal(&s.name),
                s.kind,
                s.expiry_hours
            );
        }
        SurveyCommand::Send {
            name,
            audience,
            yes,
        } => {
            let request = CampaignRequest {
                name: format!("survey {name}"),
                survey: Some(name),
                tags: audience.tags,
                group: audience.group,
                fields: audience.fields.into_iter().collect(),
                ..CampaignRequest::default()
            };
            let preview = client
                .call(PreviewCampaign(request.clone()))
                .await
                .map_err(failure)?;
            print_report(&preview);
            if !yes {
                return Err(CommandError::new(
                    "confirmation_needed",
                    "not sent: confirm with --yes (nothing was queued)",
                ));
            }
            let r = client
                .call(StartCampaign(CampaignRequest {
                    confirm: true,
                    ..request
                }))
                .await
                .map_err(failure)?;
            println!(
                "survey sent as campaign {}: {} queued, {} held, {} refused",
                r.id.unwrap_or_default(),
                r.sending,
                r.held,
                r.refused.values().map(Vec::len).sum::<usize>()
            );
        }
        SurveyCommand::Results { name, csv, json } => {
            let r = client
                .call(SurveyResultsRequest { name })
                .await
                .map_err(failure)?;
            if json {
                return print_json(&r);
            }
            if csv {
                let mut out = String::from("number,answer,answered_at\r\n");
                for a in &r.answers {
                    let cells = [
                        csv_cell(&a.number),
                        csv_cell(a.answer.as_deref().unwrap_or("")),
                        csv_cell(a.answered_at.as_deref().unwrap_or("")),
                    ];
                    out.push_str(&cells.join(","));
                    out.push_str("\r\n");
                }
                print!("{out}");
                return Ok(());
            }
            println!(
                "{}: asked {}, answered {}{}",
                for_terminal(&r.survey.question),
                r.asked,
                r.answered,
                r.average
                    .map(|a| format!(", average {a:.2}"))
                    .unwrap_or_default()
            );
            for (answer, n) in &r.counts {
                println!("  {:<20} {n}", for_terminal(answer));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct ThreadArgs {
    number: String,
    /// Mark the conversation resolved.
    #[arg(long, conflicts_with = "reopen")]
    resolve: bool,
    /// Open it again.
    #[arg(long)]
    reopen: bool,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn threads(
    client: &mut Client,
    all: bool,
    json: bool,
) -> Result<(), CommandError> {
    let r = client
        .call(ThreadsRequest { all, limit: None })
        .await
        .map_err(failure)?;
    if json {
        return print_json(&r);
    }
    println!(
        "{:<16} {:<8} {:<9} {:<20} {:>10}  LAST TEXT",
        "NUMBER", "MODEM", "STATE", "LAST RECEIVED", "WAITING"
    );
    for t in &r.threads {
        println!(
            "{:<16} {:<8} {:<9} {:<20} {:>10}  {}",
            for_terminal(&t.number),
            for_terminal(&t.modem),
            t.state,
            t.last_received_at.as_deref().map_or("-".into(), local_time),
            t.unanswered_minutes
                .map_or("-".into(), |m| format!("{m} min")),
            opt(t.last_text.as_deref())
        );
    }
    Ok(())
}

pub(crate) async fn thread(client: &mut Client, a: ThreadArgs) -> Result<(), CommandError> {
    if a.resolve || a.reopen {
        let r = client
            .call(ThreadStateRequest {
                number: a.number,
                open: a.reopen,
            })
            .await
            .map_err(failure)?;
        println!("{}: {}", for_terminal(&r.number), r.state);
        return Ok(());
    }
    let r = client
        .call(ThreadRequest {
            number: a.number,
            limit: None,
        })
        .await
        .map_err(failure)?;
    if a.json {
        return print_json(&r);
    }
    println!("conversation with {}", for_terminal(&r.number));
    for e in &r.entries {
        let text = opt(e.text.as_deref());
        if e.direction == "in" {
            println!(
                "{}  ← {}{}",
                local_time(&e.at),
                text,
                e.in_reply_to
                    .map(|m| format!("   (reply to {m}?)"))
                    .unwrap_or_default()
            );
        } else {
            println!(
                "{}  → {}   [{} {} #{}]",
                local_time(&e.at),
                text,
                e.class.as_deref().unwrap_or(""),
                e.state.as_deref().unwrap_or(""),
                e.id
            );
        }
    }
    Ok(())
}

pub(crate) async fn reply(
    client: &mut Client,
    number: String,
    text: String,
) -> Result<(), CommandError> {
    let text = super::text_arg(&text)?;
    let m = client
        .call(ReplyRequest { to: number, text })
        .await
        .map_err(failure)?;
    println!("reply {} queued to {}", m.id, for_terminal(&m.to));
    if let Some(note) = &m.warning {
        eprintln!("smsq: warning: {}", for_terminal(note));
    }
    Ok(())
}

pub(crate) async fn scheduled(client: &mut Client, json: bool) -> Result<(), CommandError> {
    let r = client
        .call(Scheduled { limit: None })
        .await
        .map_err(failure)?;
    if json {
        return print_json(&r);
    }
    let Listing::Outbox(messages) = r else {
        return Ok(());
    };
    println!(
        "{:>5}  {:<20} {:<16} {:<7} {:<13} TEXT",
        "ID", "GOES AT", "TO", "STATE", "CLASS"
    );
    for m in &messages {
        println!(
            "{:>5}  {:<20} {:<16} {:<7} {:<13} {}",
            m.id,
            m.not_before
                .as_deref()
                .map_or("when due".into(), local_time),
            for_terminal(&m.to),
            m.state.as_str(),
            m.class,
            for_terminal(&m.text)
        );
    }
    Ok(())
}

pub(crate) async fn edit(
    client: &mut Client,
    id: i64,
    text: Option<String>,
    at: Option<String>,
) -> Result<(), CommandError> {
    let text = text.map(|t| super::text_arg(&t)).transpose()?;
    let r = client
        .call(Edit {
            message: id,
            text,
            not_before: at,
        })
        .await
        .map_err(failure)?;
    println!("message {id} changed ({})", r.state);
    Ok(())
}

pub(crate) async fn export(
    client: &mut Client,
    from: String,
    to: String,
    number: Option<String>,
    csv: bool,
) -> Result<(), CommandError> {
    let r = client
        .call(ExportRequest { from, to, number })
        .await
        .map_err(failure)?;
    if !csv {
        // JSON lines: one object per message or consent entry, exact.
        for m in &r.sent {
            print_json(&serde_json::json!({"kind": "sent", "message": m}))?;
        }
        for m in &r.received {
            print_json(&serde_json::json!({"kind": "received", "message": m}))?;
        }
        for e in &r.consent {
            print_json(&serde_json::json!({"kind": "consent", "entry": e}))?;
        }
        return Ok(());
    }
    let header = [
        "kind",
        "id",
        "time",
        "number",
        "direction",
        "state",
        "class",
        "topic",
        "template",
        "campaign",
        "operator",
        "in_reply_to",
        "text",
    ];
    let mut out = String::new();
    let mut row = |cells: &[String]| {
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    row(&header.map(String::from));
    let s = |v: Option<String>| v.unwrap_or_default();
    for m in &r.sent {
        row(&[
            "message".into(),
            m.id.to_string(),
            m.created_at.clone(),
            m.to.clone(),
            "out".into(),
            m.state.to_string(),
            m.class.clone(),
            s(m.topic.clone()),
            s(m.template.clone()),
            s(m.campaign.map(|c| c.to_string())),
            s(m.operator.map(|u| format!("uid {u}"))),
            String::new(),
            m.text.clone(),
        ]);
    }
    for m in &r.received {
        row(&[
            "message".into(),
            m.id.to_string(),
            m.received_at.clone(),
            m.from.clone(),
            "in".into(),
            if m.complete { "received" } else { "incomplete" }.into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            s(m.in_reply_to.map(|i| i.to_string())),
            s(m.text.clone()),
        ]);
    }
    for e in &r.consent {
        row(&[
            "consent".into(),
            e.id.to_string(),
            e.at.clone(),
            e.number.clone(),
            String::new(),
            e.state.clone(),
            e.source.clone(),
            s(e.topic.clone()),
            String::new(),
            String::new(),
            s(e.actor.clone()),
            String::new(),
            s(e.text_shown.clone()),
        ]);
    }
    print!("{out}");
    Ok(())
}
