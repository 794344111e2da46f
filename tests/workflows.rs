//! The shop's workflows through the real binaries (smsqd on a simulated modem kept in the
//! test, its clock set by the test): templates, campaigns, conversations, scheduled
//! messages and the audit export. Each test names the requirement of
//! ../shared/customer-care.md (CC-3) it checks.

#[path = "common/smsqd.rs"]
mod smsqd;

use std::time::Duration;

use smsq::api::client::Client;
use smsq::api::{
    CampaignRequest, Campaigns, ContactSave, Edit, Get, ListRequest, Listing, Mailbox,
    PreviewCampaign, ReplyRequest, Scheduled, StartCampaign, TemplateSave, ThreadRequest,
    ThreadStateRequest, ThreadsRequest,
};
use smsq::store::MessageState;
use smsqd::{
    ANA, BEN, ExternalModem, consent, refusal, send, sent_to, set_clock, start, until, wait_state,
};

async fn contact(c: &mut Client, number: &str, name: Option<&str>, tags: &[&str]) {
    c.call(ContactSave {
        number: number.into(),
        create: true,
        name: name.map(str::to_string),
        add_tags: tags.iter().map(|t| t.to_string()).collect(),
        ..ContactSave::default()
    })
    .await
    .unwrap();
}

/// CC-3.1: a template fills each customer's fields, falls back to its defaults, and refuses
/// (naming the field) rather than send a blank.
#[tokio::test]
async fn templates_fill_fields_and_refuse_blanks() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let t = c
        .call(TemplateSave {
            name: "ready".into(),
            text: "Hi {{first_name}}, your {{item|order}} is ready for pickup.".into(),
            class: None,
            topic: None,
        })
        .await
        .unwrap();
    assert_eq!(t.fields, ["first_name", "item"]);
    let bad = TemplateSave {
        name: "broken".into(),
        text: "Hi {{name".into(),
        class: None,
        topic: None,
    };
    assert_eq!(refusal(c.call(bad).await.unwrap_err()), "invalid_template");

    contact(&mut c, ANA, Some("Ana Santos"), &[]).await;
    let mut s = send(&[ANA], "");
    s.template = Some("ready".into());
    s.fields.insert("item".into(), "laptop".into());
    let id = c.call(s).await.unwrap().messages[0].id;
    wait_state(&mut c, id, &[MessageState::Sent, MessageState::Delivered]).await;
    assert_eq!(
        sent_to(&modem, ANA),
        ["Hi Ana, your laptop is ready for pickup."]
    );
    let m = c.call(Get { message: id }).await.unwrap();
    assert_eq!(m.class, "transactional");

    // No contact, so no first name: refused, naming the field; nothing queued.
    let mut s = send(&[BEN], "");
    s.template = Some("ready".into());
    let e = c.call(s).await.unwrap_err();
    let message = format!("{e}");
    assert_eq!(refusal(e), "missing_field");
    assert!(message.contains("first_name"), "{message}");
    assert!(sent_to(&modem, BEN).is_empty());

    // The command line: a preview over a tag, and a send.
    contact(&mut c, BEN, Some("Ben"), &["vip"]).await;
    let out = d.smsq(&["template", "preview", "ready", "--tag", "vip"]);
    let preview = String::from_utf8_lossy(&out.stdout);
    assert!(
        preview.contains("1 recipient(s)") && preview.contains("1 gsm7"),
        "{preview}"
    );
}

/// CC-2.5 and the campaign workflow: 200 customers, 3 of whom opted out, are shown in the
/// preview; the campaign needs a confirmation, sends to the rest, and reports its progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_previews_confirms_sends_and_reports() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "price_per_part = 0.5");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let numbers: Vec<String> = (0..200).map(|i| format!("+6391755{i:05}")).collect();
    for (i, n) in numbers.iter().enumerate() {
        contact(&mut c, n, Some(&format!("Customer {i}")), &["regulars"]).await;
        consent(&mut c, n, true).await;
    }
    for n in &numbers[..3] {
        consent(&mut c, n, false).await;
    }
    let request = CampaignRequest {
        name: "December promo".into(),
        text: Some("Hi {{first_name}}, 20% off all prints this week.".into()),
        tags: vec!["regulars".into()],
        ..CampaignRequest::default()
    };
    let preview = c.call(PreviewCampaign(request.clone())).await.unwrap();
    assert_eq!(preview.recipients, 200);
    assert_eq!(preview.sending, 197);
    assert_eq!(preview.refused["opted_out"].len(), 3);
    assert!(preview.refused["opted_out"].contains(&numbers[0]));
    assert_eq!(preview.parts, 197);
    assert_eq!(preview.parts_per_recipient[&1], 197);
    assert_eq!(preview.cost, Some(98.5));
    assert!(modem.sim.sent().is_empty(), "a preview sends nothing");

    let e = c.call(StartCampaign(request.clone())).await.unwrap_err();
    assert_eq!(refusal(e), "confirmation_needed");
    let mut confirmed = request;
    confirmed.confirm = true;
    let started = c.call(StartCampaign(confirmed)).await.unwrap();
    let id = started.id.unwrap();
    assert_eq!(
        (started.sending, started.refused["opted_out"].len()),
        (197, 3)
    );
    until("the campaign sent", async || modem.sim.sent().len() == 197).await;
    assert!(sent_to(&modem, &numbers[0]).is_empty());
    assert_eq!(
        sent_to(&modem, &numbers[5]),
        ["Ana's Print: Hi Customer, 20% off all prints this week.\nReply STOP to opt out"]
    );
    until("the campaign done", async || {
        let r = c.call(Campaigns { campaign: Some(id) }).await.unwrap();
        r.campaigns[0].state == "done"
    })
    .await;
    let r = c.call(Campaigns { campaign: Some(id) }).await.unwrap();
    let info = &r.campaigns[0];
    assert_eq!(info.counts["refused"], 3);
    assert_eq!(
        info.counts.get("sent").unwrap_or(&0) + info.counts.get("delivered").unwrap_or(&0),
        197
    );
    // A reply to one of its messages counts in its report.
    modem
        .sim
        .deliver_text(&numbers[7], "Reserve two for me!", 1);
    until("the reply counted", async || {
        c.call(Campaigns { campaign: Some(id) })
            .await
            .unwrap()
            .campaigns[0]
            .replies
            == 1
    })
    .await;
    let out = d.smsq(&["campaign", "status", &id.to_string()]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains("December promo")
            && status.contains("3 refused")
            && status.contains("1 replies"),
        "{status}"
    );
}

/// `smsq campaign start --yes` off a terminal: plain progress lines, then it returns; a
/// second campaign is cancelled as a whole while its messages wait. (Two workers: `smsq`
/// blocks one while the simulated modem, in this process, keeps answering on the other.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_follows_and_cancels_campaigns() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    for n in [ANA, BEN] {
        contact(&mut c, n, Some("Ana"), &["walk-in"]).await;
    }
    let out = d.smsq(&[
        "campaign",
        "start",
        "Pickup",
        "--text",
        "Your prints are ready.",
        "--class",
        "transactional",
        "--tag",
        "walk-in",
    ]);
    assert_eq!(out.status.code(), Some(1), "off a terminal it needs --yes");
    assert!(modem.sim.sent().is_empty());
    let out = d.smsq(&[
        "campaign",
        "start",
        "Pickup",
        "--text",
        "Your prints are ready.",
        "--class",
        "transactional",
        "--tag",
        "walk-in",
        "--yes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(progress.contains("campaign 1: 2/2 done"), "{progress}");
    assert!(!progress.contains('\r'), "plain lines off a terminal");

    // Held until the morning, then cancelled as a whole.
    set_clock(&mut c, "2026-12-02T22:00:00+08:00").await;
    let held = CampaignRequest {
        name: "Late promo".into(),
        text: Some("Sale!".into()),
        tags: vec!["walk-in".into()],
        confirm: true,
        ..CampaignRequest::default()
    };
    for n in [ANA, BEN] {
        consent(&mut c, n, true).await;
    }
    let r = c.call(StartCampaign(held)).await.unwrap();
    assert_eq!(r.held, 2);
    let out = d.smsq(&["campaign", "cancel", &r.id.unwrap().to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 message(s) cancelled"));
    set_clock(&mut c, "2026-12-03T08:00:00+08:00").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        modem.sim.sent().len(),
        2,
        "nothing of the cancelled campaign went"
    );
}

/// CC-3.4: a reply an hour after a text is linked to it (a guess, said so); four days later
/// it is not; the conversation reads both ways in order; a reply closes the wait.
#[tokio::test]
async fn replies_are_linked_and_conversations_read_both_ways() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let id = c
        .call(send(&[ANA], "Your laptop is ready."))
        .await
        .unwrap()
        .messages[0]
        .id;
    wait_state(&mut c, id, &[MessageState::Sent, MessageState::Delivered]).await;
    set_clock(&mut c, "2026-12-02T11:00:00+08:00").await;
    modem
        .sim
        .deliver_text(ANA, "Great, can I pick it up at 5?", 1);
    let inbox = async |c: &mut Client| match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap()
    {
        Listing::Inbox(m) => m,
        Listing::Outbox(_) => unreachable!(),
    };
    until("the reply", async || inbox(&mut c).await.len() == 1).await;
    let reply = &inbox(&mut c).await[0];
    assert_eq!(reply.in_reply_to, Some(id));
    assert!(reply.reply_guess.as_deref().unwrap().contains("72 h"));

    set_clock(&mut c, "2026-12-02T11:30:30+08:00").await;
    let threads = c.call(ThreadsRequest::default()).await.unwrap();
    assert_eq!(threads.threads[0].number, ANA);
    assert_eq!(threads.threads[0].unanswered_minutes, Some(30));
    let answer = c
        .call(ReplyRequest {
            to: "09171234567".into(),
            text: "Yes, see you at 5.".into(),
        })
        .await
        .unwrap();
    let m = c.call(Get { message: answer.id }).await.unwrap();
    assert_eq!(m.class, "reply");
    let threads = c.call(ThreadsRequest::default()).await.unwrap();
    assert_eq!(threads.threads[0].unanswered_minutes, None);

    set_clock(&mut c, "2026-12-06T12:00:00+08:00").await;
    modem.sim.deliver_text(ANA, "Thanks again!", 2);
    until("the late reply", async || inbox(&mut c).await.len() == 2).await;
    assert_eq!(
        inbox(&mut c).await[0].in_reply_to,
        None,
        "four days on: not linked"
    );

    let conversation = c
        .call(ThreadRequest {
            number: ANA.into(),
            limit: None,
        })
        .await
        .unwrap();
    let directions: Vec<&str> = conversation
        .entries
        .iter()
        .map(|e| e.direction.as_str())
        .collect();
    assert_eq!(directions, ["out", "in", "out", "in"]);
    let out = d.smsq(&["thread", "09171234567"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("← Great, can I pick it up at 5?   (reply to"),
        "{text}"
    );
    c.call(ThreadStateRequest {
        number: ANA.into(),
        open: false,
    })
    .await
    .unwrap();
    assert!(
        c.call(ThreadsRequest::default())
            .await
            .unwrap()
            .threads
            .is_empty()
    );
}

/// CC-3.7: scheduled and held messages are listed, edited (text, time) and cancelled.
#[tokio::test]
async fn scheduled_messages_are_listed_edited_and_cancelled() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let mut later = send(&[ANA], "Reminder: your appointment is tomorrow.");
    later.not_before = Some("2026-12-03 09:00".into());
    let a = c.call(later.clone()).await.unwrap().messages[0].id;
    later.to = smsq::api::Recipients::One(BEN.into());
    let b = c.call(later).await.unwrap().messages[0].id;
    let Listing::Outbox(list) = c.call(Scheduled::default()).await.unwrap() else {
        panic!()
    };
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].not_before.as_deref(), Some("2026-12-03T01:00:00Z"));
    c.call(Edit {
        message: a,
        text: Some("Reminder: your appointment is tomorrow at 10:30 (moved).".into()),
        not_before: Some("2026-12-03 08:00".into()),
    })
    .await
    .unwrap();
    let out = d.smsq(&["cancel", &b.to_string()]);
    assert!(out.status.success());
    set_clock(&mut c, "2026-12-03T08:00:01+08:00").await;
    wait_state(&mut c, a, &[MessageState::Sent, MessageState::Delivered]).await;
    assert_eq!(
        sent_to(&modem, ANA),
        ["Reminder: your appointment is tomorrow at 10:30 (moved)."]
    );
    let e = c
        .call(Edit {
            message: a,
            text: Some("too late".into()),
            not_before: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "not_cancellable");
    assert!(sent_to(&modem, BEN).is_empty());
}

/// CC-3.8: the audit export has both directions and the consent entries; in CSV a text a
/// spreadsheet would run as a formula is written as text, in JSON it stays exact.
#[tokio::test]
async fn the_audit_export_is_complete_and_spreadsheet_safe() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    consent(&mut c, ANA, true).await;
    let id = c
        .call(send(&[ANA], "Your order is ready."))
        .await
        .unwrap()
        .messages[0]
        .id;
    wait_state(&mut c, id, &[MessageState::Sent, MessageState::Delivered]).await;
    modem
        .sim
        .deliver_text(ANA, "=HYPERLINK(\"http://x.example\",\"click\")", 1);
    modem.sim.deliver_text(BEN, "=1+1", 2);
    until("two replies", async || {
        match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap() {
            Listing::Inbox(m) => m.len() == 2,
            Listing::Outbox(_) => false,
        }
    })
    .await;
    let window = ["--from", "2026-12-01", "--to", "2026-12-31"];
    let csv = d.smsq(&[
        "export", window[0], window[1], window[2], window[3], "--csv",
    ]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.contains(",'=1+1\r\n"), "{csv}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x.example\"\",\"\"click\"\")\""),
        "{csv}"
    );
    assert!(
        csv.contains("consent,") && csv.contains("Yes to offers"),
        "{csv}"
    );
    assert!(csv.contains(",out,") && csv.contains(",in,"), "{csv}");
    let json = d.smsq(&[
        "export",
        window[0],
        window[1],
        window[2],
        window[3],
        "--number",
        "09171234568",
    ]);
    let json = String::from_utf8_lossy(&json.stdout);
    assert_eq!(json.lines().count(), 1, "{json}");
    assert!(json.contains("\"text\":\"=1+1\""), "{json}");
}

/// CC-3.9: the receive hook runs without a shell, sees the text verbatim in its environment
/// (gammu's variables too), and a text with shell metacharacters runs nothing; a hook past
/// its time limit is killed and the failure recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receive_hook_gets_the_text_and_runs_nothing_it_holds() {
    use std::os::unix::fs::PermissionsExt;
    let modem = ExternalModem::start(|_| {}).await;
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("on-receive.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncd \"$(dirname \"$0\")\"\n[ \"$SMSQ_TEXT\" = slow ] && sleep 30\n\
         printf '%s' \"$SMSQ_TEXT\" > seen.txt\nprintf '%s|%s|%s' \"$SMS_1_NUMBER\" \"$SMS_MESSAGES\" \"$SMSQ_MESSAGE_ID\" > env.txt\necho handled\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smsqd.toml");
    std::fs::write(
        &config,
        format!(
            "country = \"PH\"\nsend_gap = \"0s\"\non_receive = [{:?}]\non_receive_timeout = \"1s\"\n\
             [[modem]]\nid = \"globe\"\ndevice = {:?}\nprofile = \"simcom\"\n",
            script.to_str().unwrap(),
            modem.link.to_str().unwrap()
        ),
    )
    .unwrap();
    let db = dir.path().join("smsq.db");
    let d = smsqd::Smsqd::start_with_db(dir, db, &["--config", config.to_str().unwrap()]);
    let hostile = "; touch pwned $(touch pwned2) `touch pwned3` && echo x > pwned4";
    modem.sim.deliver_text(ANA, hostile, 1);
    let seen = work.path().join("seen.txt");
    until("the hook", async || seen.exists()).await;
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), hostile);
    let env = std::fs::read_to_string(work.path().join("env.txt")).unwrap();
    assert!(env.starts_with(&format!("{ANA}|1|")), "{env}");
    for name in ["pwned", "pwned2", "pwned3", "pwned4"] {
        assert!(!work.path().join(name).exists(), "{name}");
        assert!(
            !std::path::Path::new(name).exists(),
            "{name} in smsqd's directory"
        );
    }
    let history = async |c: &mut Client| {
        c.call(smsq::api::Subscribe { since: Some(0) })
            .await
            .unwrap();
        let mut kinds = Vec::new();
        while let Ok(Ok(line)) =
            tokio::time::timeout(Duration::from_millis(300), c.next_line()).await
        {
            if let smsq::api::ServerLine::Event {
                event: smsq::api::Pushed::Event(e),
            } = line
            {
                kinds.push((e.kind, e.detail));
            }
        }
        kinds
    };
    let mut watcher = d.client().await;
    let events = history(&mut watcher).await;
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "hook_ran" && d.contains("handled")),
        "{events:?}"
    );
    modem.sim.deliver_text(ANA, "slow", 2);
    until("the slow hook killed", async || {
        let mut w = d.client().await;
        history(&mut w)
            .await
            .iter()
            .any(|(k, d)| k == "hook_failed" && d.contains("killed after 1 s"))
    })
    .await;
}

/// CC-3.3: a customer list is imported as text only: a formula stays a formula's text, a
/// number erased on request is skipped and reported, consent is recorded only with the
/// words shown, a dry run changes nothing, and a file that is too big or not UTF-8 is
/// refused clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_list_is_imported_safely() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    // Erased on request before the import.
    contact(&mut c, BEN, Some("Ben"), &[]).await;
    c.call(smsq::api::SubjectErase { number: BEN.into() })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(
        &file,
        "number,name,consent,city\r\n\
         09171234567,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",yes,Cebu\r\n\
         09171234568,Ben,yes,Manila\r\n\
         12ab,Nobody,no,Davao\r\n\
         +48601234567,Kasia,no,Kraków\r\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = d.smsq(&["contacts", "import", path]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a consent column needs --text-shown"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--text-shown"));

    let args = [
        "contacts",
        "import",
        path,
        "--tag",
        "imported",
        "--text-shown",
        "Yes, text me offers",
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = d.smsq(&dry);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.starts_with("dry run, nothing changed: would be 2 added, 0 updated, 1 skipped"),
        "{report}"
    );
    assert!(
        c.call(smsq::api::ContactsRequest::default())
            .await
            .unwrap()
            .contacts
            .is_empty()
    );

    let out = d.smsq(&args);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.starts_with(
            "2 added, 0 updated, 1 skipped (erased on request), 1 invalid; consent: 1 granted"
        ),
        "{report}"
    );
    assert!(
        report.contains("line 3: +639171234568 erased at the customer's request"),
        "{report}"
    );
    assert!(report.contains("line 4:"), "{report}");
    let ana = c
        .call(smsq::api::ContactGet { number: ANA.into() })
        .await
        .unwrap();
    assert_eq!(
        ana.name.as_deref(),
        Some("=HYPERLINK(\"http://evil.example\",\"x\")")
    );
    assert_eq!(ana.fields["city"], "Cebu");
    assert_eq!(ana.tags, ["imported"]);
    let consent = c
        .call(smsq::api::ConsentGet { number: ANA.into() })
        .await
        .unwrap();
    assert_eq!(consent.history[0].source, "import");
    assert_eq!(
        consent.history[0].text_shown.as_deref(),
        Some("Yes, text me offers")
    );
    assert!(
        c.call(smsq::api::ContactGet { number: BEN.into() })
            .await
            .is_err()
    );

    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"number,name\n09171234567,Jos\xe9\n").unwrap();
    let out = d.smsq(&["contacts", "import", latin1.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8 (line 2"));
    let big = dir.path().join("big.csv");
    std::fs::write(&big, vec![b'x'; 11 * 1024 * 1024]).unwrap();
    let out = d.smsq(&["contacts", "import", big.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the limit is 10 MB"));
}

/// CC-3.5: "HOURS" gets the opening hours once a day per customer; an alphanumeric sender
/// (a carrier's robot) gets nothing; out of hours any other text gets one acknowledgement;
/// numbers outside the configured countries get nothing.
#[tokio::test]
async fn auto_replies_answer_once_and_never_a_robot() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(
        &modem,
        r#"business_hours = "09:00-18:00 daily"
[[care.auto_reply]]
name = "hours"
keyword = "HOURS"
text = "{shop} is open 9:00-18:00 every day."
[[care.auto_reply]]
name = "after-hours"
match = "contains"
keyword = ""
hours = "closed"
text = "Thanks! We are closed now and will answer after 9:00."
"#,
    );
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    // "HOURS" from GLOBE, an alphanumeric sender (SMS-DELIVER built per TS 23.040).
    modem
        .sim
        .deliver_pdu(23, "00040AD047E653580400006221102100000005C867553A05");
    modem.sim.deliver_text(ANA, "Hours?", 1);
    until("the answer", async || sent_to(&modem, ANA).len() == 1).await;
    assert_eq!(
        sent_to(&modem, ANA)[0],
        "Ana's Print is open 9:00-18:00 every day."
    );
    modem.sim.deliver_text(ANA, "HOURS", 2);
    let inbox = async |c: &mut Client| match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap()
    {
        Listing::Inbox(m) => m.len(),
        Listing::Outbox(_) => 0,
    };
    until("three texts stored", async || inbox(&mut c).await == 3).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sent_to(&modem, ANA).len(),
        1,
        "two matching texts in an hour: one answer"
    );
    assert_eq!(modem.sim.sent().len(), 1, "nothing to GLOBE");

    // Out of hours: one acknowledgement, not one per text; a Polish number none.
    set_clock(&mut c, "2026-12-02T20:00:00+08:00").await;
    modem.sim.deliver_text(BEN, "Is my phone fixed?", 3);
    modem
        .sim
        .deliver_text("+48601234567", "Czy jest otwarte?", 4);
    until("the acknowledgement", async || {
        sent_to(&modem, BEN).len() == 1
    })
    .await;
    modem.sim.deliver_text(BEN, "Hello?", 5);
    until("six texts stored", async || inbox(&mut c).await == 6).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sent_to(&modem, BEN).len(), 1);
    assert!(sent_to(&modem, "+48601234567").is_empty());
    let m = c.call(Get { message: 2 }).await.unwrap();
    assert_eq!(m.class, "reply");
}

/// CC-3.6: a rating survey: "7" to a 1–5 question gets one invalid-answer reply and a second
/// "7" nothing; "4" is the answer, thanked once; results count it; a reply after the survey
/// closed is an ordinary reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_takes_answers_once_and_reports_them() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    for n in [ANA, BEN] {
        contact(&mut c, n, Some("Ana"), &["visited"]).await;
        consent(&mut c, n, true).await;
    }
    let ok = |args: &[&str]| {
        let out = d.smsq(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&[
        "survey",
        "add",
        "visit",
        "--question",
        "How was your visit today? Reply 1 to 5.",
        "--rating",
        "5",
        "--invalid-reply",
        "Please reply with a number from 1 to 5.",
        "--thanks",
        "Thank you for your answer!",
    ]);
    let sent = ok(&["survey", "send", "visit", "--tag", "visited", "--yes"]);
    assert!(sent.contains("2 queued"), "{sent}");
    until("both asked", async || modem.sim.sent().len() == 2).await;
    assert!(sent_to(&modem, ANA)[0].contains("Reply 1 to 5."));

    modem.sim.deliver_text(ANA, "7", 1);
    until("the invalid-answer reply", async || {
        sent_to(&modem, ANA).len() == 2
    })
    .await;
    assert!(sent_to(&modem, ANA)[1].contains("Please reply with a number from 1 to 5."));
    modem.sim.deliver_text(ANA, "7", 2);
    modem.sim.deliver_text(ANA, "4!", 3);
    until("the thanks", async || sent_to(&modem, ANA).len() == 3).await;
    assert!(sent_to(&modem, ANA)[2].contains("Thank you for your answer!"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent_to(&modem, ANA).len(), 3, "no reply to the second 7");

    let results = ok(&["survey", "results", "visit"]);
    assert!(
        results.contains("asked 2, answered 1, average 4.00"),
        "{results}"
    );
    let csv = ok(&["survey", "results", "visit", "--csv"]);
    assert!(csv.contains("'+639171234567,4,"), "{csv}");

    // Three days later the survey is closed: "5" is an ordinary reply, not an answer.
    set_clock(&mut c, "2026-12-05T11:00:00+08:00").await;
    modem.sim.deliver_text(BEN, "5", 4);
    until("Ben's late reply", async || {
        match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap() {
            Listing::Inbox(m) => m.len() == 4,
            Listing::Outbox(_) => false,
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sent_to(&modem, BEN).len(),
        1,
        "no thanks for a closed survey"
    );
    let results = ok(&["survey", "results", "visit"]);
    assert!(results.contains("answered 1"), "{results}");
}

/// A campaign survives a restart: its messages wait in the database while smsqd is down
/// and go out when it is back, and the campaign then closes as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_resumes_after_a_restart() {
    let modem = ExternalModem::start(|_| {}).await;
    let mut d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    for i in 0..5 {
        contact(
            &mut c,
            &format!("+63917555{i:04}"),
            Some("Ana"),
            &["pickup"],
        )
        .await;
    }
    modem.sim.set_registered(false);
    until("off the network", async || {
        !c.call(smsq::api::Modems {}).await.unwrap().modems[0].registered
    })
    .await;
    let r = c
        .call(StartCampaign(CampaignRequest {
            name: "Pickup".into(),
            text: Some("Your prints are ready.".into()),
            class: Some("transactional".into()),
            tags: vec!["pickup".into()],
            confirm: true,
            ..CampaignRequest::default()
        }))
        .await
        .unwrap();
    let id = r.id.unwrap();
    drop(c);
    assert!(d.signal("-TERM").success());
    assert!(modem.sim.sent().is_empty());
    modem.sim.set_registered(true);
    let args = [
        "--config",
        d.dir.path().join("smsqd.toml").to_str().unwrap(),
        "--test-clock",
    ]
    .map(String::from);
    d.spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:05:00+08:00").await;
    until("the campaign sent", async || modem.sim.sent().len() == 5).await;
    until("the campaign done", async || {
        c.call(Campaigns { campaign: Some(id) })
            .await
            .unwrap()
            .campaigns[0]
            .state
            == "done"
    })
    .await;
}
