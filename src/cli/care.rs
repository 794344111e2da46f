//! `smsq contacts`, `smsq consent` and `smsq subject`: the shop's customers, what each agreed
//! to, and their data-subject rights.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use super::CommandError;
use super::daemon::{failure, for_terminal, local_time, opt, print_json};
use crate::api::client::Client;
use crate::api::{
    ConsentEntryInfo, ConsentGet, ConsentRecordRequest, ContactGet, ContactInfo, ContactRemove,
    ContactSave, ContactsImport, ContactsRequest, GroupSave, ImportRowWire, SubjectErase,
    SubjectExport,
};

#[derive(Debug, Subcommand)]
pub(crate) enum ContactsCommand {
    /// Add a contact.
    Add(ContactArgs),
    /// Change a contact (only what is given changes; an empty value clears it).
    Edit(ContactArgs),
    /// Contacts, by number; only those with every --tag, or in --group.
    List {
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[arg(long)]
        group: Option<String>,
        /// Print JSON (exact values, for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One contact.
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Add tags to a contact (or remove them with --remove).
    Tag {
        number: String,
        #[arg(required = true)]
        tags: Vec<String>,
        #[arg(long)]
        remove: bool,
    },
    /// Delete a contact (its consent history and messages stay: see `smsq subject erase`).
    Remove { number: String },
    /// Save a group: the contacts having every one of TAGS.
    Group {
        name: String,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Add or update contacts from a CSV file (UTF-8, a header row with a `number` column;
    /// name, time_zone, language, notes, tags and consent are read as such, any other
    /// column becomes a field). Every cell is text. Numbers erased on request are skipped.
    Import {
        file: std::path::PathBuf,
        /// Tag every imported contact.
        #[arg(long)]
        tag: Option<String>,
        /// With a consent column: the exact words the customers agreed to (required then).
        #[arg(long)]
        text_shown: Option<String>,
        /// Where the consent was given: import (default), in_store, web_form.
        #[arg(long)]
        source: Option<String>,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The rows of a customer list, read as text only (see [`crate::sheet`]).
fn read_customer_list(path: &std::path::Path) -> Result<(Vec<ImportRowWire>, bool), CommandError> {
    let bad = |msg: String| CommandError::new("invalid_file", msg);
    let meta =
        std::fs::metadata(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > crate::sheet::MAX_BYTES as u64 {
        return Err(bad(format!(
            "{} is {} MB: the limit is 10 MB (split it)",
            path.display(),
            meta.len() / 1_000_000
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let (rows, has_consent) =
        crate::sheet::read(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    let rows = rows
        .into_iter()
        .map(|r| ImportRowWire {
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
    Ok((rows, has_consent))
}

#[derive(Debug, Args)]
pub(crate) struct ContactArgs {
    /// The number (national numbers use the daemon's default country).
    number: String,
    #[arg(long)]
    name: Option<String>,
    /// IANA time zone (Europe/Warsaw); default: the number's country's, else the shop's.
    #[arg(long = "tz")]
    time_zone: Option<String>,
    /// Language code (en, fil, pl).
    #[arg(long = "lang")]
    language: Option<String>,
    #[arg(long)]
    notes: Option<String>,
    /// A custom field, NAME=VALUE (repeatable; an empty value removes it).
    #[arg(long = "field", value_parser = field)]
    fields: Vec<(String, String)>,
    /// A tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// A tag to take off (repeatable).
    #[arg(long = "untag")]
    untag: Vec<String>,
}

fn field(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "write a field as NAME=VALUE".into())
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConsentCommand {
    /// What a number agreed to, now and over time, with the exact words shown.
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Record that a customer agreed to marketing texts (or one topic).
    Grant {
        number: String,
        /// A configured topic; default: every topic.
        #[arg(long)]
        topic: Option<String>,
        /// The exact words the customer agreed to.
        #[arg(long = "text-shown", required = true)]
        text_shown: String,
        /// in_store, web_form, import, operator (default) or api.
        #[arg(long)]
        source: Option<String>,
        /// What proves it (a form's id, a paper slip's number).
        #[arg(long)]
        evidence: Option<String>,
    },
    /// Record that a customer withdrew (every topic, or one).
    Revoke {
        number: String,
        #[arg(long)]
        topic: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        evidence: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubjectCommand {
    /// Everything kept about a number: contact, consent history, every message both ways.
    Export {
        number: String,
        /// CSV (one row per item, spreadsheet-safe) instead of JSON.
        #[arg(long)]
        csv: bool,
    },
    /// Erase a number's contact, texts and consent history; it stays on the suppression
    /// list so that it is never texted again.
    Erase {
        number: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub(crate) async fn contacts(
    client: &mut Client,
    cmd: ContactsCommand,
) -> Result<(), CommandError> {
    match cmd {
        ContactsCommand::Add(a) => {
            let c = client.call(save_request(a, true)).await.map_err(failure)?;
            print_contact(&c);
        }
        ContactsCommand::Edit(a) => {
            let c = client.call(save_request(a, false)).await.map_err(failure)?;
            print_contact(&c);
        }
        ContactsCommand::List { tags, group, json } => {
            let r = client
                .call(ContactsRequest {
                    tags,
                    group,
                    limit: None,
                })
                .await
                .map_err(failure)?;
            if json {
                return print_json(&r);
            }
            println!("{:<16} {:<24} {:<16} TAGS", "NUMBER", "NAME", "ZONE");
            for c in &r.contacts {
                println!(
                    "{:<16} {:<24} {:<16} {}",
                    for_terminal(&c.number),
                    opt(c.name.as_deref()),
                    opt(c.time_zone.as_deref()),
                    for_terminal(&c.tags.join(" "))
                );
            }
        }
        ContactsCommand::Show { number, json } => {
            let c = client.call(ContactGet { number }).await.map_err(failure)?;
            if json {
                return print_json(&c);
            }
            print_contact(&c);
        }
        ContactsCommand::Tag {
            number,
            tags,
            remove,
        } => {
            let (add_tags, remove_tags) = if remove {
                (Vec::new(), tags)
            } else {
                (tags, Vec::new())
            };
            let c = client
                .call(ContactSave {
                    number,
                    add_tags,
                    remove_tags,
                    ..ContactSave::default()
                })
                .await
                .map_err(failure)?;
            print_contact(&c);
        }
        ContactsCommand::Remove { number } => {
            let r = client
                .call(ContactRemove { number })
                .await
                .map_err(failure)?;
            println!("removed {}", for_terminal(&r.removed));
        }
        ContactsCommand::Import {
            file,
            tag,
            text_shown,
            source,
            dry_run,
            json,
        } => {
            let (rows, has_consent) = read_customer_list(&file)?;
            if has_consent && text_shown.is_none() {
                return Err(CommandError::new(
                    "confirmation_needed",
                    "the file has a consent column: give the exact words the customers agreed \
                     to (--text-shown \"...\") so that their consent can be recorded; nothing \
                     was imported",
                ));
            }
            let evidence = format!(
                "import of {} ({} bytes)",
                file.file_name()
                    .map_or("the file".into(), |n| n.to_string_lossy()),
                std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0)
            );
            // Requests stay under the 64 KiB line limit: rows go in chunks.
            let mut results = Vec::new();
            let mut chunk: Vec<ImportRowWire> = Vec::new();
            let mut size = 0;
            let total = rows.len();
            for (i, row) in rows.into_iter().enumerate() {
                size += serde_json::to_string(&row).map_or(0, |s| s.len());
                chunk.push(row);
                if size > 40_000 || i + 1 == total {
                    let r = client
                        .call(ContactsImport {
                            rows: std::mem::take(&mut chunk),
                            tag: tag.clone(),
                            source: source.clone(),
                            text_shown: text_shown.clone(),
                            evidence: Some(evidence.clone()),
                            dry_run,
                        })
                        .await
                        .map_err(failure)?;
                    results.extend(r.rows);
                    size = 0;
                }
            }
            if json {
                return print_json(&crate::api::ImportReply { rows: results });
            }
            let count = |o: &str| results.iter().filter(|r| r.outcome == o).count();
            let consents = |c: &str| results.iter().filter(|r| r.consent == c).count();
            println!(
                "{}{} added, {} updated, {} skipped (erased on request), {} invalid; consent: {} granted, {} pending confirmation",
                if dry_run {
                    "dry run, nothing changed: would be "
                } else {
                    ""
                },
                count("added"),
                count("updated"),
                count("skipped_suppressed"),
                count("invalid"),
                consents("granted"),
                consents("pending")
            );
            for r in results
                .iter()
                .filter(|r| r.outcome != "added" && r.outcome != "updated")
            {
                println!(
                    "  line {}: {} {}",
                    r.line,
                    opt(r.number.as_deref()),
                    for_terminal(r.reason.as_deref().unwrap_or(&r.outcome))
                );
            }
        }
        ContactsCommand::Group { name, tags } => {
            let r = client
                .call(GroupSave { name, tags })
                .await
                .map_err(failure)?;
            println!(
                "group {}: contacts tagged {}",
                for_terminal(&r.group),
                for_terminal(&r.tags.join(" and "))
            );
        }
    }
    Ok(())
}

fn save_request(a: ContactArgs, create: bool) -> ContactSave {
    ContactSave {
        number: a.number,
        create,
        name: a.name,
        time_zone: a.time_zone,
        language: a.language,
        notes: a.notes,
        fields: a.fields.into_iter().collect::<BTreeMap<_, _>>(),
        add_tags: a.tags,
        remove_tags: a.untag,
    }
}

fn print_contact(c: &ContactInfo) {
    println!("number:    {}", for_terminal(&c.number));
    println!("name:      {}", opt(c.name.as_deref()));
    println!("time zone: {}", opt(c.time_zone.as_deref()));
    println!("language:  {}", opt(c.language.as_deref()));
    println!("tags:      {}", for_terminal(&c.tags.join(" ")));
    for (k, v) in &c.fields {
        println!(
            "{:<10} {}",
            format!("{}:", for_terminal(k)),
            for_terminal(v)
        );
    }
    if let Some(notes) = &c.notes {
        println!("notes:     {}", for_terminal(notes));
    }
}

pub(crate) async fn consent(client: &mut Client, cmd: ConsentCommand) -> Result<(), CommandError> {
    match cmd {
        ConsentCommand::Show { number, json } => {
            let r = client.call(ConsentGet { number }).await.map_err(failure)?;
            if json {
                return print_json(&r);
            }
            println!(
                "{}: {}",
                for_terminal(&r.number),
                if r.opted_out {
                    "opted out (replied STOP): gets no texts"
                } else {
                    "not opted out"
                }
            );
            for (topic, state) in &r.current {
                let topic = if topic == "*" { "every topic" } else { topic };
                println!("  {}: {state}", for_terminal(topic));
            }
            println!("history:");
            for e in &r.history {
                print_entry(e);
            }
        }
        ConsentCommand::Grant {
            number,
            topic,
            text_shown,
            source,
            evidence,
        } => {
            let e = client
                .call(ConsentRecordRequest {
                    number,
                    action: "grant".into(),
                    topic,
                    source,
                    evidence,
                    text_shown: Some(text_shown),
                    actor: user(),
                })
                .await
                .map_err(failure)?;
            print_entry(&e);
        }
        ConsentCommand::Revoke {
            number,
            topic,
            source,
            evidence,
        } => {
            let e = client
                .call(ConsentRecordRequest {
                    number,
                    action: "revoke".into(),
                    topic,
                    source,
                    evidence,
                    text_shown: None,
                    actor: user(),
                })
                .await
                .map_err(failure)?;
            print_entry(&e);
        }
    }
    Ok(())
}

/// Who is recording: the login name, for the ledger's `actor`.
fn user() -> Option<String> {
    std::env::var("USER").ok().filter(|u| !u.is_empty())
}

fn print_entry(e: &ConsentEntryInfo) {
    println!(
        "  {}  {:<8} {:<12} {:<9} by {}{}",
        local_time(&e.at),
        e.state,
        opt(e.topic.as_deref().or(Some("every topic"))),
        for_terminal(&e.source),
        opt(e.actor.as_deref()),
        e.evidence
            .as_deref()
            .map(|v| format!("  ({})", for_terminal(v)))
            .unwrap_or_default()
    );
    if let Some(t) = &e.text_shown {
        println!("      shown: \"{}\"", for_terminal(t));
    }
    if let Some(at) = &e.double_opt_in_confirmed_at {
        println!("      confirmed by the customer at {}", local_time(at));
    }
}

pub(crate) async fn subject(client: &mut Client, cmd: SubjectCommand) -> Result<(), CommandError> {
    match cmd {
        SubjectCommand::Export { number, csv } => {
            let r = client
                .call(SubjectExport { number })
                .await
                .map_err(failure)?;
            if !csv {
                return print_json(&r);
            }
            let mut rows: Vec<[String; 8]> = vec![
                [
                    "kind", "id", "time", "number", "state", "class", "topic", "text",
                ]
                .map(String::from),
            ];
            if let Some(c) = &r.contact {
                let fields: Vec<String> =
                    c.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                rows.push([
                    "contact".into(),
                    String::new(),
                    c.updated_at.clone(),
                    c.number.clone(),
                    String::new(),
                    String::new(),
                    c.tags.join(" "),
                    format!(
                        "{}; {}",
                        c.name.clone().unwrap_or_default(),
                        fields.join("; ")
                    ),
                ]);
            }
            for e in &r.consent {
                rows.push([
                    "consent".into(),
                    e.id.to_string(),
                    e.at.clone(),
                    e.number.clone(),
                    e.state.clone(),
                    e.source.clone(),
                    e.topic.clone().unwrap_or_default(),
                    e.text_shown.clone().unwrap_or_default(),
                ]);
            }
            for m in &r.sent {
                rows.push([
                    "sent".into(),
                    m.id.to_string(),
                    m.created_at.clone(),
                    m.to.clone(),
                    m.state.to_string(),
                    m.class.clone(),
                    m.topic.clone().unwrap_or_default(),
                    m.text.clone(),
                ]);
            }
            for m in &r.received {
                rows.push([
                    "received".into(),
                    m.id.to_string(),
                    m.received_at.clone(),
                    m.from.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    m.text.clone().unwrap_or_default(),
                ]);
            }
            if r.suppressed {
                rows.push([
                    "suppressed".into(),
                    String::new(),
                    String::new(),
                    r.number.clone(),
                    "erased".into(),
                    String::new(),
                    String::new(),
                    "erased at the customer's request; never texted again".into(),
                ]);
            }
            for row in rows {
                let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
                print!("{}\r\n", cells.join(","));
            }
        }
        SubjectCommand::Erase { number, yes } => {
            if !yes {
                return Err(CommandError::new(
                    "confirmation_needed",
                    "erasing cannot be undone: add --yes",
                ));
            }
            let r = client
                .call(SubjectErase { number })
                .await
                .map_err(failure)?;
            println!(
                "erased {} ({} rows); the number stays suppressed and is never texted again",
                for_terminal(&r.erased),
                r.rows_changed
            );
        }
    }
    Ok(())
}

/// One CSV cell, safe in a spreadsheet: a cell a spreadsheet would read as a formula (one
/// starting with `=`, `+`, `-`, `@`, a tab, a carriage return or NUL) gets a leading `'`
/// (OWASP ASVS 1.2.10), and every cell holding a comma, a quote or a line break is quoted
/// with its quotes doubled (RFC 4180).
pub(crate) fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r', '\0']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_cannot_become_formulas_or_break_rows() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("+63917"), "'+63917");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("plain"), "plain");
    }
}
