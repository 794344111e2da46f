//! The typed protocol against its wire form: every request and reply survives a round trip,
//! the requests and complete replies the README shows parse as typed values, and the error
//! codes the README lists are the ones the server can send.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;
use crate::store::{MessageState, PartState};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) -> Value {
    let wire = serde_json::to_value(&value).unwrap();
    let back: T = serde_json::from_value(wire.clone()).unwrap();
    assert_eq!(back, value, "{wire}");
    wire
}

#[test]
fn every_request_round_trips_with_its_op() {
    let requests: Vec<Request> = vec![
        SendRequest {
            priority: Some(2),
            not_after: Some("2026-12-02 09:00".into()),
            idempotency_key: Some("order-4411".into()),
            ..SendRequest::new(vec!["09171234567".into()], "hi")
        }
        .into(),
        Get { message: 12 }.into(),
        ListRequest {
            state: Some("failed".into()),
            limit: Some(20),
            ..ListRequest::new(Mailbox::Outbox)
        }
        .into(),
        Cancel { message: 13 }.into(),
        Retry { message: 9 }.into(),
        Modems {}.into(),
        Stats {}.into(),
        Hosts {}.into(),
        Ussd {
            code: "*143#".into(),
            modem: Some("globe".into()),
        }
        .into(),
        Estimate {
            text: "Cześć!".into(),
            encoding: None,
            class: Some("marketing".into()),
        }
        .into(),
        Subscribe { since: Some(120) }.into(),
        ContactSave {
            number: "09171234567".into(),
            create: true,
            add_tags: vec!["vip".into()],
            ..ContactSave::default()
        }
        .into(),
        ContactGet {
            number: "09171234567".into(),
        }
        .into(),
        ContactsRequest {
            tags: vec!["vip".into()],
            group: None,
            limit: Some(10),
        }
        .into(),
        ContactRemove {
            number: "09171234567".into(),
        }
        .into(),
        GroupSave {
            name: "best".into(),
            tags: vec!["vip".into()],
        }
        .into(),
        ConsentGet {
            number: "09171234567".into(),
        }
        .into(),
        ConsentRecordRequest {
            number: "09171234567".into(),
            action: "grant".into(),
            topic: Some("promo".into()),
            source: Some("in_store".into()),
            evidence: None,
            text_shown: Some("Yes to offers".into()),
            actor: None,
        }
        .into(),
        SubjectExport {
            number: "09171234567".into(),
        }
        .into(),
        SubjectErase {
            number: "09171234567".into(),
        }
        .into(),
        SetClock {
            now: "2026-12-02T21:05:00+08:00".into(),
        }
        .into(),
        WebSetup {}.into(),
        TemplateSave {
            name: "ready".into(),
            text: "Hi {{name|there}}".into(),
            class: None,
            topic: None,
        }
        .into(),
        TemplateGet {
            name: "ready".into(),
        }
        .into(),
        Templates {}.into(),
        TemplateRemove {
            name: "ready".into(),
        }
        .into(),
        PreviewCampaign(CampaignRequest {
            name: "December".into(),
            template: Some("ready".into()),
            tags: vec!["vip".into()],
            ..CampaignRequest::default()
        })
        .into(),
        StartCampaign(CampaignRequest {
            name: "December".into(),
            text: Some("Sale".into()),
            group: Some("best".into()),
            confirm: true,
            ..CampaignRequest::default()
        })
        .into(),
        Campaigns { campaign: Some(3) }.into(),
        CampaignCancel { campaign: 3 }.into(),
        ThreadsRequest {
            all: true,
            limit: None,
        }
        .into(),
        ThreadRequest {
            number: "09171234567".into(),
            limit: Some(50),
        }
        .into(),
        ReplyRequest {
            to: "09171234567".into(),
            text: "See you at 5".into(),
        }
        .into(),
        ThreadStateRequest {
            number: "09171234567".into(),
            open: false,
        }
        .into(),
        Scheduled { limit: None }.into(),
        Edit {
            message: 12,
            text: Some("moved".into()),
            not_before: None,
        }
        .into(),
        ExportRequest {
            from: "2026-12-01".into(),
            to: "2026-12-31".into(),
            number: None,
        }
        .into(),
        ContactsImport {
            rows: vec![ImportRowWire {
                line: 2,
                number: "09171234567".into(),
                consent: Some(true),
                ..ImportRowWire::default()
            }],
            tag: Some("list".into()),
            text_shown: Some("Yes to offers".into()),
            dry_run: true,
            ..ContactsImport::default()
        }
        .into(),
        SurveySave {
            name: "visit".into(),
            question: "How was it? 1-5".into(),
            kind: "rating".into(),
            scale: Some(5),
            ..SurveySave::default()
        }
        .into(),
        SurveyResultsRequest {
            name: "visit".into(),
        }
        .into(),
    ];
    for request in requests {
        let line = RequestLine {
            id: json!(7),
            request: request.clone(),
        };
        let wire = round_trip(line);
        assert_eq!(wire["op"], request.name(), "{wire}");
        assert_eq!(wire["id"], 7);
    }
    // `to` may be one number, and `modems` needs nothing but its op.
    let one: RequestLine =
        serde_json::from_str(r#"{"id":1,"op":"send","to":"09171234567","text":"hi"}"#).unwrap();
    let Request::Send(s) = one.request else {
        panic!()
    };
    assert_eq!(s.to.list(), vec!["09171234567"]);
    let bare: RequestLine = serde_json::from_str(r#"{"op":"modems"}"#).unwrap();
    assert_eq!(bare.request, Request::Modems(Modems {}));
    assert_eq!(bare.id, Value::Null);
    assert!(serde_json::from_str::<RequestLine>(r#"{"id":4,"op":"explode"}"#).is_err());
}

#[test]
fn every_reply_round_trips() {
    let event = Event {
        id: 121,
        at: "2026-11-23T02:15:00Z".into(),
        kind: "received".into(),
        message_id: None,
        inbox_id: Some(4),
        detail: "1 part(s)".into(),
        from: Some("+639171234567".into()),
        text: Some("Thanks!".into()),
        complete: Some(true),
    };
    round_trip(Queued {
        messages: vec![QueuedMessage {
            id: 12,
            to: "+639171234567".into(),
            parts: 1,
            new: true,
            state: MessageState::Held,
            held_until: Some("2026-11-23T23:00:00Z".into()),
            refused: None,
            warning: None,
        }],
    });
    let detail = round_trip(MessageDetail {
        id: 12,
        to: "+639171234567".into(),
        text: "Your order is ready.".into(),
        encoding: "gsm7".into(),
        state: MessageState::Delivered,
        parts_total: 1,
        attempts: 0,
        priority: 0,
        client_ref: None,
        last_error: None,
        modem: Some("modem0".into()),
        created_at: "2026-11-23T02:15:00Z".into(),
        updated_at: "2026-11-23T02:15:03Z".into(),
        next_attempt_at: "2026-11-23T02:15:00Z".into(),
        class: "transactional".into(),
        topic: None,
        parts: vec![PartDetail {
            part: 1,
            state: PartState::Delivered,
            message_ref: Some(7),
            modem: Some("modem0".into()),
            sent_at: Some("2026-11-23T02:15:01Z".into()),
            report_status: Some(0),
        }],
        history: vec![event.clone()],
    });
    assert_eq!(detail["state"], "delivered");
    assert_eq!(detail["parts"][0]["state"], "delivered");
    assert_eq!(detail["client_ref"], Value::Null, "absent values are null");
    let inbox = round_trip(Listing::Inbox(vec![InboxEntry {
        id: 4,
        from: "+639171234567".into(),
        text: Some("Thanks!".into()),
        data_hex: None,
        parts: 1,
        complete: true,
        modem: Some("modem0".into()),
        sent_at: None,
        received_at: "2026-11-23T02:15:00Z".into(),
        in_reply_to: Some(12),
        reply_guess: Some("the latest text to this number within 72 h".into()),
    }]));
    assert_eq!(inbox["inbox"][0]["from"], "+639171234567");
    let outbox = round_trip(Listing::Outbox(vec![OutboxEntry {
        id: 12,
        to: "+639171234567".into(),
        text: "hi".into(),
        state: MessageState::Unknown,
        parts: 1,
        attempts: 1,
        last_error: Some("timeout after hand-over".into()),
        modem: None,
        created_at: "2026-11-23T02:15:00Z".into(),
        updated_at: "2026-11-23T02:15:00Z".into(),
        class: "marketing".into(),
        topic: Some("promo".into()),
        template: Some("weekend".into()),
        campaign: Some(3),
        not_before: None,
        operator: Some(1000),
    }]));
    assert_eq!(outbox["outbox"][0]["state"], "unknown");
    round_trip(StateChanged {
        id: 13,
        state: MessageState::Cancelled,
    });
    round_trip(ModemList {
        modems: vec![ModemInfo {
            id: "globe".into(),
            state: "ready".into(),
            reason: None,
            operator: Some("Globe Telecom".into()),
            signal_dbm: Some(-71),
            registration: Some("registered (home)".into()),
            registered: true,
            manufacturer: None,
            model: None,
            imei: None,
            imsi: None,
            iccid: None,
            smsc: None,
            storage: Some(Storage { used: 1, total: 50 }),
            queue_depth: 0,
            sent_today: 4,
            store_error: None,
            pin_attempts_left: None,
        }],
    });
    round_trip(HostList {
        this_host: "branch-1".into(),
        hosts: vec![HostInfo {
            name: "branch-1".into(),
            version: "0.1.0".into(),
            state: "alive".into(),
            started_at: "2026-12-01T08:00:00Z".into(),
            heartbeat_age_ms: 1200,
            lease_left_ms: 28_800,
            modems: vec![HostModemInfo {
                id: "globe".into(),
                healthy: true,
                prefixes: vec!["+63917".into()],
            }],
        }],
    });
    round_trip(StatsReply {
        database: DatabaseInfo {
            size_bytes: 4096,
            free_bytes: 0,
            schema: 3,
        },
        rows: [("outbox".to_string(), 2)].into_iter().collect(),
        retention: Retention {
            texts: Some("30d".into()),
            messages: None,
            events: None,
        },
        callbacks: CallbackInfo {
            pending: 2,
            given_up: 1,
        },
    });
    round_trip(UssdReply {
        modem: "modem0".into(),
        answer: "Your balance is P10.50".into(),
    });
    round_trip(EstimateReply {
        encoding: "ucs2".into(),
        parts: 1,
        units: 6,
        units_per_part: 70,
        units_left: 64,
        forced_ucs2_by: vec![CharacterAt {
            character: "ś".into(),
            position: 4,
        }],
    });
    let plain = round_trip(Subscribed {
        subscribed: true,
        replayed: None,
    });
    assert_eq!(plain, json!({"subscribed": true}));
    // Pushed lines: an event, and the notice to a subscriber that lagged.
    let pushed = round_trip(Pushed::Event(event));
    assert_eq!(pushed["text"], "Thanks!");
    let lagged = round_trip(Pushed::Lagged(Lagged {
        kind: "lagged".into(),
        missed: 12,
        resume_from: 120,
    }));
    assert_eq!(lagged["resume_from"], 120);
    let sent: Pushed = serde_json::from_value(json!({"id": 5, "at": "2026-11-23T02:15:00Z",
        "kind": "sent", "message_id": 12, "inbox_id": null, "detail": "all parts accepted"}))
    .unwrap();
    assert!(matches!(sent, Pushed::Event(e) if e.from.is_none() && e.message_id == Some(12)));
}

#[test]
fn error_codes_are_stable_names_and_unknown_ones_survive() {
    for code in ErrorCode::ALL {
        assert_eq!(ErrorCode::parse(code.as_str()), *code);
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
    let reply: Reply<Value> = serde_json::from_str(
        r#"{"id":11,"ok":false,"error":{"code":"rate_limited","message":"later"}}"#,
    )
    .unwrap();
    let error = reply.error.unwrap();
    assert_eq!(error.code, ErrorCode::Other("rate_limited".into()));
    assert_eq!(error.code, "rate_limited");
}

/// The README's protocol section: each request line is a typed request, each complete reply
/// line a typed reply, and its list of error codes is the server's.
#[test]
fn the_readme_examples_are_typed_values() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## The socket protocol").unwrap()..];
    let block = &section[section.find("```text").unwrap() + 7..];
    let block = &block[..block.find("```").unwrap()];
    // Lines continue (indented) until the next arrow.
    let mut lines: Vec<(char, String)> = Vec::new();
    for line in block.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix('→') {
            lines.push(('→', rest.trim().to_string()));
        } else if let Some(rest) = trimmed.strip_prefix('←') {
            lines.push(('←', rest.trim().to_string()));
        } else if let Some(last) = lines.last_mut() {
            last.1.push_str(trimmed);
        }
    }
    let mut requests = 0;
    let mut replies = 0;
    for (arrow, text) in &lines {
        if *arrow == '→' {
            let r: RequestLine =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_ne!(r.id, Value::Null, "{text}");
            requests += 1;
        } else if !text.contains("...") {
            let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let typed_ok = match v["id"].as_i64() {
                Some(1) => serde_json::from_value::<Reply<Queued>>(v.clone()).is_ok(),
                Some(8) => serde_json::from_value::<Reply<UssdReply>>(v.clone()).is_ok(),
                Some(10) => serde_json::from_value::<Reply<Subscribed>>(v.clone()).is_ok(),
                _ => serde_json::from_value::<Reply<Value>>(v.clone()).is_ok_and(|r| {
                    r.error
                        .is_some_and(|e| !matches!(e.code, ErrorCode::Other(_)))
                }),
            };
            assert!(typed_ok, "{text}");
            replies += 1;
        }
    }
    assert_eq!(requests, 10, "{lines:?}");
    assert!(replies >= 3, "{lines:?}");
    // The codes listed before the example.
    let listed = &section[..section.find("```text").unwrap()];
    for code in ErrorCode::ALL {
        assert!(
            listed.contains(&format!("`{code}`")),
            "{code} missing from the README"
        );
    }
}
