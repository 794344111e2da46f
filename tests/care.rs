//! Customer care through the real binaries: `smsqd` on a simulated modem over a pty (the
//! modem lives in the test, so replies are typed by "customers" and every text the network
//! accepted can be counted), spoken to through its socket and through `smsq`; its clock is
//! set by the test (`--test-clock`) for quiet hours, caps and confirmation windows.
//! Each test names the requirement of ../shared/customer-care.md it checks.

#[path = "common/smsqd.rs"]
mod smsqd;

use std::time::Duration;

use smsq::api::client::Client;
use smsq::api::{
    ConsentGet, ConsentRecordRequest, ContactSave, ContactsRequest, ListRequest, Listing, Mailbox,
    Pushed, ServerLine, SetClock, SubjectErase, SubjectExport, Subscribe,
};
use smsq::store::MessageState;
use smsqd::{
    ANA, BEN, ExternalModem, KASIA, Smsqd, consent, refusal, send, sent_to, set_clock, start,
    start_with, until, wait_state,
};

async fn opted_out(c: &mut Client, number: &str) -> bool {
    c.call(ConsentGet {
        number: number.into(),
    })
    .await
    .unwrap()
    .opted_out
}

async fn grant(c: &mut Client, number: &str) {
    consent(c, number, true).await;
}

async fn registered(c: &mut Client) -> bool {
    c.call(smsq::api::Modems {}).await.unwrap().modems[0].registered
}

async fn outbox(c: &mut Client) -> Vec<smsq::api::OutboxEntry> {
    match c.call(ListRequest::new(Mailbox::Outbox)).await.unwrap() {
        Listing::Outbox(m) => m,
        Listing::Inbox(_) => unreachable!(),
    }
}

async fn inbox_len(c: &mut Client) -> usize {
    match c.call(ListRequest::new(Mailbox::Inbox)).await.unwrap() {
        Listing::Inbox(m) => m.len(),
        Listing::Outbox(_) => unreachable!(),
    }
}

/// CC-1.1, CC-1.4: STOP opts out at once; exactly one confirmation, even for a second STOP;
/// afterwards every path (the socket, `smsq send`, a message queued before the STOP) is
/// refused with `opted_out` and nothing more reaches the modem.
#[tokio::test]
async fn stop_is_obeyed_on_every_path_with_exactly_one_confirmation() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    // A reminder queued for tomorrow, before the customer says STOP.
    let mut early = send(&[ANA], "Reminder: your appointment is tomorrow at 10:00.");
    early.not_before = Some("2026-12-03T09:00:00+08:00".into());
    let early = c.call(early).await.unwrap().messages[0].id;

    modem.sim.deliver_text(ANA, " Stop.\n", 1);
    until("the opt-out", async || opted_out(&mut c, ANA).await).await;
    until("the confirmation", async || sent_to(&modem, ANA).len() == 1).await;
    let confirmation = &sent_to(&modem, ANA)[0];
    assert!(confirmation.starts_with("Ana's Print: "), "{confirmation}");
    assert!(confirmation.contains("START"), "{confirmation}");

    // A second STOP: stored, nothing sent.
    modem.sim.deliver_text(ANA, "STOP", 2);
    until("the second STOP stored", async || {
        inbox_len(&mut c).await == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sent_to(&modem, ANA).len(), 1, "one confirmation only");

    // Every path is refused with the same code.
    let e = c
        .call(send(&[ANA], "Your documents are ready."))
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "opted_out");
    let out = d.smsq(&[
        "--json-errors",
        "send",
        "--to",
        "09171234567",
        "Your documents are ready.",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"opted_out\""));
    // The message queued before the STOP is refused when it comes due.
    set_clock(&mut c, "2026-12-03T09:00:01+08:00").await;
    let m = wait_state(&mut c, early, &[MessageState::Refused]).await;
    assert!(m.last_error.unwrap().starts_with("opted_out"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sent_to(&modem, ANA).len(),
        1,
        "nothing refused reached the modem"
    );

    // START opts back in, with its own confirmation; texts go again.
    modem.sim.deliver_text(ANA, "start", 3);
    until("the opt-in", async || !opted_out(&mut c, ANA).await).await;
    until("the START confirmation", async || {
        sent_to(&modem, ANA).len() == 2
    })
    .await;
    let id = c
        .call(send(&[ANA], "Your documents are ready."))
        .await
        .unwrap()
        .messages[0]
        .id;
    wait_state(&mut c, id, &[MessageState::Sent, MessageState::Delivered]).await;
    // The ledger keeps every step, with the words the customer was shown.
    let consent = c.call(ConsentGet { number: ANA.into() }).await.unwrap();
    let states: Vec<&str> = consent.history.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["revoked", "granted"]);
    assert!(consent.history.iter().all(|e| {
        e.source == "keyword"
            && e.text_shown
                .as_deref()
                .is_some_and(|t| t.starts_with("Ana's Print"))
    }));
}

/// CC-1.4: the confirmation is sent within its window or never: a modem that is away for
/// ten minutes does not send it late.
#[tokio::test]
async fn a_confirmation_that_missed_its_window_expires_unsent() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    until("the modem ready", async || registered(&mut c).await).await;
    modem.sim.set_registered(false);
    until("the modem off the network", async || {
        !registered(&mut c).await
    })
    .await;
    modem.sim.deliver_text(ANA, "STOP", 1);
    until("the opt-out", async || opted_out(&mut c, ANA).await).await;
    set_clock(&mut c, "2026-12-02T10:10:00+08:00").await;
    modem.sim.set_registered(true);
    until("the confirmation expired", async || {
        outbox(&mut c)
            .await
            .iter()
            .any(|m| m.class == "system" && m.state == MessageState::Expired)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sent_to(&modem, ANA).is_empty());
}

/// CC-2.1, CC-1.8, CC-1.11: a promotion at 21:05 Manila waits for 07:00 and then goes, with
/// the shop's name and the opt-out footer; an order-ready text at 23:00 goes at once; a
/// promotion without consent is refused.
#[tokio::test]
async fn a_late_promotion_waits_for_the_morning_and_an_order_ready_text_does_not() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T21:05:00+08:00").await;
    let mut promo = send(&[ANA], "20% off all prints tomorrow!");
    promo.class = Some("marketing".into());
    assert_eq!(
        refusal(c.call(promo.clone()).await.unwrap_err()),
        "no_consent"
    );
    grant(&mut c, ANA).await;
    let q = c.call(promo).await.unwrap().messages.remove(0);
    assert_eq!(q.state, MessageState::Held);
    assert_eq!(
        q.held_until.as_deref(),
        Some("2026-12-02T23:00:00Z"),
        "07:00 Manila"
    );

    set_clock(&mut c, "2026-12-02T23:00:00+08:00").await;
    let order = c.call(send(&[BEN], "Your laptop is ready.")).await.unwrap();
    // CC-2.7: it goes, and the sender is told what time it is for the customer.
    let note = order.messages[0].warning.as_deref().unwrap();
    assert!(note.starts_with("it is Wed 23:00 (Asia/Manila)"), "{note}");
    let out = d.smsq(&["send", "--to", "09171234569", "Your phone is repaired."]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: +639171234569: it is Wed 23:00")
    );
    let order = order.messages[0].id;
    wait_state(
        &mut c,
        order,
        &[MessageState::Sent, MessageState::Delivered],
    )
    .await;

    set_clock(&mut c, "2026-12-03T06:59:00+08:00").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(sent_to(&modem, ANA).is_empty(), "not a minute early");
    set_clock(&mut c, "2026-12-03T07:00:01+08:00").await;
    let m = wait_state(&mut c, q.id, &[MessageState::Sent, MessageState::Delivered]).await;
    assert_eq!(m.class, "marketing");
    let kinds: Vec<&str> = m.history.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"held") && kinds.contains(&"released"),
        "{kinds:?}"
    );
    let text = &sent_to(&modem, ANA)[0];
    assert_eq!(
        text,
        "Ana's Print: 20% off all prints tomorrow!\nReply STOP to opt out"
    );
}

/// CC-2.2: a Polish number is read in Warsaw time while the shop is in Manila, and on
/// working days only.
#[tokio::test]
async fn a_polish_customer_gets_promotions_in_warsaw_working_hours() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    grant(&mut c, KASIA).await;
    let mut promo = send(&[KASIA], "Nowe wzory kartek!");
    promo.class = Some("marketing".into());
    // 13:00 Manila on a Wednesday is 06:00 in Warsaw: held until 08:00 Warsaw.
    set_clock(&mut c, "2026-12-02T13:00:00+08:00").await;
    let q = c.call(promo.clone()).await.unwrap().messages.remove(0);
    assert_eq!(q.held_until.as_deref(), Some("2026-12-02T07:00:00Z"));
    // Saturday noon in Warsaw: held until Monday 08:00.
    set_clock(&mut c, "2026-12-05T19:00:00+08:00").await;
    let mut other = promo.clone();
    other.to = smsq::api::Recipients::One("+48601234568".into());
    grant(&mut c, "+48601234568").await;
    let q = c.call(other).await.unwrap().messages.remove(0);
    assert_eq!(q.held_until.as_deref(), Some("2026-12-07T07:00:00Z"));
}

/// CC-2.4: at most one promotion a day and four in 30 days; the fifth is refused while an
/// order-ready text still goes.
#[tokio::test]
async fn the_fifth_promotion_in_thirty_days_is_refused_and_order_texts_still_go() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    grant(&mut c, ANA).await;
    let mut promo = send(&[ANA], "This week: 2-for-1 photo prints.");
    promo.class = Some("marketing".into());
    for day in 1..=4 {
        set_clock(&mut c, &format!("2026-12-{:02}T10:00:00+08:00", day * 3)).await;
        let q = c.call(promo.clone()).await.unwrap().messages.remove(0);
        assert_eq!(q.state, MessageState::Queued, "promotion {day}");
        wait_state(&mut c, q.id, &[MessageState::Sent, MessageState::Delivered]).await;
        if day == 1 {
            let e = c.call(promo.clone()).await.unwrap_err();
            assert_eq!(refusal(e), "frequency_cap", "a second one the same day");
        }
    }
    set_clock(&mut c, "2026-12-20T10:00:00+08:00").await;
    assert_eq!(
        refusal(c.call(promo.clone()).await.unwrap_err()),
        "frequency_cap"
    );
    let order = c
        .call(send(&[ANA], "Your prints are ready."))
        .await
        .unwrap();
    wait_state(
        &mut c,
        order.messages[0].id,
        &[MessageState::Sent, MessageState::Delivered],
    )
    .await;
    // A month after the first, there is room again.
    set_clock(&mut c, "2027-01-04T10:00:00+08:00").await;
    assert_eq!(
        c.call(promo).await.unwrap().messages[0].state,
        MessageState::Queued
    );
}

/// CC-1.5, CC-1.2: HELP is answered once for a subscribed number and not at all for an
/// opted-out one; a text that only mentions stopping is flagged for a person and changes
/// nothing; a STOP for one topic stops that topic only.
#[tokio::test]
async fn help_is_answered_and_ambiguous_texts_are_left_to_a_person() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    modem.sim.deliver_text(ANA, "HELP", 1);
    until("the help answer", async || sent_to(&modem, ANA).len() == 1).await;
    assert!(sent_to(&modem, ANA)[0].contains("STOP"));

    let mut watcher = d.client().await;
    watcher.call(Subscribe { since: None }).await.unwrap();
    modem.sim.deliver_text(BEN, "please stop texting me", 2);
    let flagged = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let ServerLine::Event {
                event: Pushed::Event(e),
            } = watcher.next_line().await.unwrap()
                && e.kind == "flagged"
            {
                return e;
            }
        }
    })
    .await
    .expect("a flagged event");
    assert_eq!(flagged.from.as_deref(), Some(BEN));
    assert_eq!(flagged.text.as_deref(), Some("please stop texting me"));
    assert!(
        !opted_out(&mut c, BEN).await,
        "never acted on automatically"
    );
    assert!(sent_to(&modem, BEN).is_empty());

    // STOP PROMO: promotions refused, order texts still go.
    grant(&mut c, BEN).await;
    modem.sim.deliver_text(BEN, "STOP PROMO", 3);
    until("the topic opt-out", async || {
        let r = c.call(ConsentGet { number: BEN.into() }).await.unwrap();
        r.current.get("promo").is_some_and(|s| s == "revoked")
    })
    .await;
    let mut promo = send(&[BEN], "Promo!");
    promo.class = Some("marketing".into());
    promo.topic = Some("promo".into());
    assert_eq!(refusal(c.call(promo).await.unwrap_err()), "opted_out");
    let order = c.call(send(&[BEN], "Your laptop is ready.")).await.unwrap();
    assert_eq!(order.messages[0].state, MessageState::Queued);

    // HELP from an opted-out number: no answer.
    modem.sim.deliver_text(KASIA, "STOP", 4);
    until("Kasia's opt-out", async || opted_out(&mut c, KASIA).await).await;
    until("her confirmation", async || {
        sent_to(&modem, KASIA).len() == 1
    })
    .await;
    modem.sim.deliver_text(KASIA, "help", 5);
    until("her HELP stored", async || inbox_len(&mut c).await == 5).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sent_to(&modem, KASIA).len(), 1);
}

/// CC-1.10: erasing a customer leaves only the suppression row; a later grant (an import)
/// does not bring marketing back, and nothing is sent to the number again.
#[tokio::test]
async fn an_erased_customer_is_never_texted_again() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    c.call(ContactSave {
        number: "09171234567".into(),
        create: true,
        name: Some("Ana Santos".into()),
        add_tags: vec!["vip".into()],
        ..ContactSave::default()
    })
    .await
    .unwrap();
    grant(&mut c, ANA).await;
    let id = c
        .call(send(&[ANA], "Your documents are ready."))
        .await
        .unwrap();
    wait_state(
        &mut c,
        id.messages[0].id,
        &[MessageState::Sent, MessageState::Delivered],
    )
    .await;
    modem.sim.deliver_text(ANA, "Thank you!", 1);
    until("the reply", async || inbox_len(&mut c).await == 1).await;

    let before = c.call(SubjectExport { number: ANA.into() }).await.unwrap();
    assert_eq!(before.contact.unwrap().name.as_deref(), Some("Ana Santos"));
    assert_eq!(
        (
            before.sent.len(),
            before.received.len(),
            before.consent.len()
        ),
        (1, 1, 1)
    );

    c.call(SubjectErase { number: ANA.into() }).await.unwrap();
    let after = c.call(SubjectExport { number: ANA.into() }).await.unwrap();
    assert!(after.suppressed);
    assert!(after.contact.is_none() && after.consent.is_empty());
    assert!(after.sent.iter().all(|m| m.text.is_empty()));
    assert!(after.received.iter().all(|m| m.text.is_none()));
    let contacts = c.call(ContactsRequest::default()).await.unwrap();
    assert!(contacts.contacts.is_empty());

    let mut import = ConsentRecordRequest {
        number: ANA.into(),
        action: "grant".into(),
        topic: None,
        source: Some("import".into()),
        evidence: Some("sha256 of customers.csv".into()),
        text_shown: Some("Sign up for offers".into()),
        actor: None,
    };
    assert_eq!(
        refusal(c.call(import.clone()).await.unwrap_err()),
        "opted_out"
    );
    import.source = Some("operator".into());
    assert_eq!(refusal(c.call(import).await.unwrap_err()), "opted_out");
    assert_eq!(
        refusal(c.call(send(&[ANA], "Hello again")).await.unwrap_err()),
        "opted_out"
    );
    assert_eq!(sent_to(&modem, ANA).len(), 1);
}

/// CC-1.9: a web-form sign-up for a double-opt-in topic waits for the customer's YES; until
/// then promotions are refused `no_consent`.
#[tokio::test]
async fn a_web_form_sign_up_waits_for_the_customers_yes() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "double_opt_in = [\"promo\"]");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let entry = c
        .call(ConsentRecordRequest {
            number: BEN.into(),
            action: "grant".into(),
            topic: Some("promo".into()),
            source: Some("web_form".into()),
            evidence: Some("form 88".into()),
            text_shown: Some("Send me promos (reply YES to confirm)".into()),
            actor: None,
        })
        .await
        .unwrap();
    assert_eq!(entry.state, "pending");
    let mut promo = send(&[BEN], "New arrivals!");
    promo.class = Some("marketing".into());
    promo.topic = Some("promo".into());
    assert_eq!(
        refusal(c.call(promo.clone()).await.unwrap_err()),
        "no_consent"
    );
    modem.sim.deliver_text(BEN, "Yes", 1);
    until("the confirmation of the sign-up", async || {
        let r = c.call(ConsentGet { number: BEN.into() }).await.unwrap();
        r.current.get("promo").is_some_and(|s| s == "granted")
    })
    .await;
    let r = c.call(ConsentGet { number: BEN.into() }).await.unwrap();
    assert!(
        r.history
            .last()
            .unwrap()
            .double_opt_in_confirmed_at
            .is_some()
    );
    assert_eq!(
        c.call(promo).await.unwrap().messages[0].state,
        MessageState::Queued
    );
}

/// The command line: contacts with tags and groups, the ledger with the words shown, and an
/// export whose CSV no spreadsheet reads as a formula (CC-3.8's rule) while JSON keeps the
/// text exact; client values that could break out of SQL or a terminal are refused or
/// escaped.
#[tokio::test]
async fn the_shop_works_from_the_command_line() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
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
        "contacts",
        "add",
        "09171234567",
        "--name",
        "Ana Santos",
        "--tag",
        "vip",
        "--field",
        "city=Cebu",
    ]);
    ok(&[
        "contacts",
        "add",
        "09171234568",
        "--name",
        "Ben",
        "--tag",
        "regular",
    ]);
    ok(&["contacts", "tag", "09171234568", "vip", "walk-in"]);
    ok(&["contacts", "group", "best", "vip", "walk-in"]);
    let vip = ok(&["contacts", "list", "--tag", "vip"]);
    assert!(vip.contains("Ana Santos") && vip.contains("Ben"), "{vip}");
    let best = ok(&["contacts", "list", "--group", "best"]);
    assert!(
        !best.contains("Ana Santos") && best.contains("Ben"),
        "{best}"
    );
    let shown = ok(&["contacts", "show", "+639171234567"]);
    assert!(shown.contains("city:") && shown.contains("Cebu"), "{shown}");

    let out = d.smsq(&[
        "--json-errors",
        "contacts",
        "tag",
        "09171234567",
        "vip'); DROP TABLE contacts;--",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid_contact"));
    let out = d.smsq(&[
        "--json-errors",
        "contacts",
        "edit",
        "09171234567",
        "--tz",
        "Mars/Olympus",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid_contact"));
    let out = d.smsq(&[
        "--json-errors",
        "contacts",
        "edit",
        "09171234567",
        "--name",
        "Ana\u{1b}[2J",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid_contact"));

    ok(&[
        "consent",
        "grant",
        "09171234567",
        "--text-shown",
        "Yes to offers, max 4 a month",
        "--source",
        "in_store",
    ]);
    ok(&["consent", "revoke", "09171234567"]);
    ok(&[
        "consent",
        "grant",
        "09171234567",
        "--text-shown",
        "Yes again",
    ]);
    let history = ok(&["consent", "show", "09171234567"]);
    assert_eq!(history.matches("shown: \"").count(), 2, "{history}");
    assert!(history.contains("revoked") && history.contains("Yes to offers, max 4 a month"));

    modem.sim.deliver_text(ANA, "=1+1", 1);
    let mut c = d.client().await;
    until("the reply", async || inbox_len(&mut c).await == 1).await;
    let csv = ok(&["subject", "export", "09171234567", "--csv"]);
    assert!(csv.contains(",'=1+1\r\n"), "{csv}");
    let json = ok(&["subject", "export", "09171234567"]);
    assert!(json.contains("\"text\":\"=1+1\""), "{json}");
    let out = d.smsq(&["subject", "erase", "09171234567"]);
    assert_eq!(out.status.code(), Some(1), "erasing needs --yes");
    ok(&["subject", "erase", "09171234567", "--yes"]);
    let csv = ok(&["subject", "export", "09171234567", "--csv"]);
    assert!(
        csv.contains("suppressed") && !csv.contains("Ana Santos"),
        "{csv}"
    );
}

/// Only a daemon started for tests lets a client move its clock.
#[tokio::test]
async fn the_clock_is_not_settable_in_production() {
    let d = Smsqd::start(&["--sim-inbound-every", "0"]);
    let mut c = d.client().await;
    let e = c
        .call(SetClock {
            now: "2030-01-01T00:00:00Z".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "forbidden");
}

/// CC-2.6, CC-1.11 and the classes a client may use: a link to a Philippine number needs an
/// explicit allow (a Polish one does not); an estimate of a marketing text counts the shop's
/// name and the footer; `system` and unconfigured topics are refused.
#[tokio::test]
async fn links_classes_and_estimates() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start(&modem, "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let linked = send(&[ANA], "Order status: see shop.ph/orders");
    assert_eq!(
        refusal(c.call(linked.clone()).await.unwrap_err()),
        "links_blocked_ph"
    );
    let mut allowed = linked;
    allowed.allow_links = true;
    assert_eq!(
        c.call(allowed).await.unwrap().messages[0].state,
        MessageState::Queued
    );
    let to_poland = send(&[KASIA], "Status zamówienia: shop.ph/orders");
    assert_eq!(
        c.call(to_poland).await.unwrap().messages[0].state,
        MessageState::Queued
    );

    let estimate = |class: Option<&str>| smsq::api::Estimate {
        text: "x".repeat(140),
        encoding: None,
        class: class.map(str::to_string),
    };
    let plain = c.call(estimate(None)).await.unwrap();
    let promo = c.call(estimate(Some("marketing"))).await.unwrap();
    assert_eq!(
        (plain.parts, promo.parts),
        (1, 2),
        "prefix and footer counted"
    );

    let mut system = send(&[ANA], "Fake confirmation");
    system.class = Some("system".into());
    assert_eq!(refusal(c.call(system).await.unwrap_err()), "invalid_class");
    let mut topic = send(&[ANA], "Promo");
    topic.class = Some("marketing".into());
    topic.topic = Some("lottery".into());
    assert_eq!(refusal(c.call(topic).await.unwrap_err()), "invalid_class");
}

/// A SIM's daily cap counts the shop's day: it opens again at midnight in the shop's time
/// zone (Manila: 16:00 UTC), not at midnight UTC.
#[tokio::test]
async fn a_daily_cap_opens_again_at_the_shops_midnight() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start_with(&modem, "daily_cap = 2", "");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T23:50:00+08:00").await;
    let to = ["+639171234501", "+639171234502", "+639171234503"];
    c.call(send(&to, "Your order is ready.")).await.unwrap();
    until("the day's two", async || modem.sim.sent().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(modem.sim.sent().len(), 2, "the cap holds within the day");
    // Still 2 December in UTC.
    set_clock(&mut c, "2026-12-03T00:00:30+08:00").await;
    until("the third, after the shop's midnight", async || {
        modem.sim.sent().len() == 3
    })
    .await;
    let modems = c.call(smsq::api::Modems {}).await.unwrap();
    assert_eq!(modems.modems[0].sent_today, 1, "{modems:?}");
}

/// CC-2.5: a SIM's hourly cap spreads a bulk send so that no hour exceeds it; the rest wait
/// (and are not lost) until the hour has passed.
#[tokio::test]
async fn an_hourly_cap_spreads_a_bulk_send() {
    let modem = ExternalModem::start(|_| {}).await;
    let d = start_with(&modem, "hourly_cap = 5", "bulk_limit = 10");
    let mut c = d.client().await;
    set_clock(&mut c, "2026-12-02T10:00:00+08:00").await;
    let to: Vec<String> = (0..12).map(|i| format!("+6391712345{i:02}")).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let mut bulk = send(&to, "Your orders are ready.");
    assert_eq!(
        refusal(c.call(bulk.clone()).await.unwrap_err()),
        "bulk_confirmation_needed"
    );
    bulk.confirm_bulk = true;
    c.call(bulk).await.unwrap();
    until("the first hour's five", async || {
        modem.sim.sent().len() == 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(modem.sim.sent().len(), 5, "the cap holds within the hour");
    // The cap counts the last hour, and the clock ran on while the five went out (up to
    // 15 s on a loaded machine): an hour past the last of them, not past the first.
    set_clock(&mut c, "2026-12-02T11:00:20+08:00").await;
    until("the second hour's five", async || {
        modem.sim.sent().len() == 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(modem.sim.sent().len(), 10);
    set_clock(&mut c, "2026-12-02T12:00:40+08:00").await;
    until("the last two", async || modem.sim.sent().len() == 12).await;
}
