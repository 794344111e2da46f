//! What smsq does when a customer's reply is a keyword. [`react`] runs on the store's thread
//! inside the transaction that stores the reply, so the ledger's entry, the one confirmation
//! and the reply itself commit together or not at all.
//!
//! | reply | ledger | answer (class `system`, at most one per kind per 24 h, sent within the confirmation window or never) |
//! |---|---|---|
//! | STOP-family | revoke every topic (unless already opted out) | the STOP confirmation |
//! | `STOP <topic>` | revoke that topic | the STOP confirmation |
//! | START, UNSTOP | grant every topic | the START confirmation |
//! | YES | confirms pending sign-ups (double opt-in); else, when opted out, as START | the START confirmation |
//! | HELP, INFO | — | the help text, except to an opted-out number |
//! | a text that mentions an opt-out word | — | none: flagged for a person |
//!
//! Only international numbers are answered or recorded: alphanumeric senders and short codes
//! are carriers' robots, and answering them can start a loop.

use super::CareSettings;
use super::keywords::Keyword;
use crate::pdu::{Address, PlanOptions, SubmitEncoder, SubmitOptions, SubmitPdus};
use crate::store::{
    Class, ConsentSource, ConsentState, InboundFacts, NewConsent, NewMessage, Reaction,
};

/// The kinds of answer, as recorded in their message's topic.
pub const STOP_CONFIRMATION: &str = "stop_confirmation";
pub const START_CONFIRMATION: &str = "start_confirmation";
pub const HELP_ANSWER: &str = "help";

/// What a received text makes smsq do.
pub fn react(
    care: &CareSettings,
    facts: &InboundFacts,
    status_reports: bool,
    now: i64,
) -> Reaction {
    let mut reaction = Reaction::default();
    let Some(text) = &facts.text else {
        return reaction;
    };
    if !is_customer_number(&facts.sender) {
        return reaction;
    }
    let keyword = care.keywords.classify(text);
    // An open survey takes an ordinary reply (or a YES) as its answer; STOP, START and HELP
    // keep their meaning (CC-1.2 comes first).
    if let Some(open) = &facts.open_survey
        && matches!(keyword, Keyword::Text | Keyword::GuardedOptIn)
    {
        let answer = survey_answer(&open.survey, text);
        let words = match &answer {
            Some(_) => Some(open.survey.thanks.clone()),
            // One invalid-answer reply at most: a second wrong answer gets silence.
            None if open.invalid_replies == 0 => Some(open.survey.invalid_reply.clone()),
            None => None,
        };
        if let Some(words) = words
            && !facts.opted_out
            && let Some(mut m) = confirmation(
                care,
                facts,
                "survey",
                &care.words(&words),
                status_reports,
                now,
            )
        {
            m.class = Class::Reply;
            m.topic = None;
            m.template = Some(format!("survey:{}", open.survey.name));
            m.not_after = Some(now + 3_600_000);
            reaction.send.push(m);
        }
        reaction.survey = Some((open.message_id, answer));
        return reaction;
    }
    let evidence = Some(format!("received message {}", facts.inbox_id));
    let entry = |topic: &str, state, text_shown: &str| NewConsent {
        number: facts.sender.clone(),
        topic: topic.to_string(),
        state,
        source: ConsentSource::Keyword,
        evidence: evidence.clone(),
        text_shown: Some(text_shown.to_string()),
        actor: Some("customer".into()),
        double_opt_in_confirmed_at: None,
    };
    let answer = |kind: &str, words: String, reaction: &mut Reaction| {
        if facts.recent_confirmations.iter().any(|k| k == kind) {
            return;
        }
        if let Some(m) = confirmation(care, facts, kind, &words, status_reports, now) {
            reaction.send.push(m);
        }
    };
    match keyword {
        Keyword::OptOut(None) => {
            let words = care.words(&care.stop_text);
            if !facts.opted_out {
                reaction
                    .consent
                    .push(entry("", ConsentState::Revoked, &words));
            }
            answer(STOP_CONFIRMATION, words, &mut reaction);
        }
        Keyword::OptOut(Some(topic)) => {
            let words = format!(
                "{}: you will get no more {topic} texts from us.",
                care.shop_name
            );
            reaction
                .consent
                .push(entry(&topic, ConsentState::Revoked, &words));
            answer(STOP_CONFIRMATION, words, &mut reaction);
        }
        Keyword::OptIn => {
            let words = care.words(&care.start_text);
            reaction
                .consent
                .push(entry("", ConsentState::Granted, &words));
            answer(START_CONFIRMATION, words, &mut reaction);
        }
        Keyword::GuardedOptIn if !facts.pending_topics.is_empty() => {
            let words = care.words(&care.start_text);
            for topic in &facts.pending_topics {
                let mut confirmed = entry(topic, ConsentState::Granted, &words);
                confirmed.double_opt_in_confirmed_at = Some(now);
                reaction.consent.push(confirmed);
            }
            answer(START_CONFIRMATION, words, &mut reaction);
        }
        // No survey exists yet that a YES could answer: an opted-out YES re-subscribes.
        Keyword::GuardedOptIn if facts.opted_out => {
            let words = care.words(&care.start_text);
            reaction
                .consent
                .push(entry("", ConsentState::Granted, &words));
            answer(START_CONFIRMATION, words, &mut reaction);
        }
        Keyword::Help if !facts.opted_out => {
            answer(HELP_ANSWER, care.words(&care.help_text), &mut reaction);
        }
        Keyword::PossibleOptOut => {
            reaction.flag = Some(
                "possible_opt_out: the reply mentions an opt-out word; a person should read it \
                 (nothing was changed)"
                    .into(),
            );
        }
        Keyword::GuardedOptIn | Keyword::Help => {}
        Keyword::Text => {
            if let Some((rule, message)) = auto_reply(care, facts, text, status_reports, now) {
                reaction.send.push(message);
                reaction.auto_reply = Some(rule);
            }
        }
    }
    reaction
}

/// Words that answer a yes/no question, in the languages smsq knows (English, Filipino,
/// Polish); the reply is normalised first.
const YES: &[&str] = &["yes", "y", "yeah", "yep", "oo", "opo", "oho", "tak"];
const NO: &[&str] = &["no", "n", "nope", "hindi", "ayaw", "nie"];

/// The answer a reply gives to `survey`, normalised (`"5"`, `"yes"`, the choice's text, the
/// free text), or `None` when it does not answer the question.
pub fn survey_answer(survey: &crate::store::Survey, text: &str) -> Option<String> {
    let t = super::keywords::normalise(text);
    if t.is_empty() {
        return None;
    }
    match survey.kind.as_str() {
        "rating" => {
            let n: i64 = t.parse().ok()?;
            (1..=survey.scale.unwrap_or(5))
                .contains(&n)
                .then(|| n.to_string())
        }
        "yes_no" => {
            if YES.contains(&t.as_str()) {
                Some("yes".into())
            } else if NO.contains(&t.as_str()) {
                Some("no".into())
            } else {
                None
            }
        }
        "choice" => {
            if let Ok(n) = t.parse::<usize>() {
                return survey.choices.get(n.checked_sub(1)?).cloned();
            }
            survey
                .choices
                .iter()
                .find(|c| super::keywords::normalise(c) == t)
                .cloned()
        }
        _ => Some(text.trim().to_string()),
    }
}

/// When an automatic answer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// The whole reply is the keyword.
    Exact,
    StartsWith,
    /// The keyword anywhere (an empty keyword: any reply).
    Contains,
}

/// Only while the shop is open, or only while it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hours {
    Open,
    Closed,
}

/// An automatic answer: `HOURS` → the opening hours; anything out of hours → "we'll answer
/// in the morning".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoReply {
    pub name: String,
    pub matching: Matching,
    /// Normalised like replies are.
    pub keyword: String,
    pub text: String,
    /// Only for contacts in this saved group.
    pub group: Option<String>,
    pub hours: Option<Hours>,
}

/// Answers a second gateway or a carrier's robot would loop on are never sent: at most one
/// per rule per number a day, and five per number in ten minutes.
const PER_RULE_PER_DAY: usize = 1;
const PER_NUMBER_IN_TEN_MINUTES: usize = 5;

/// The automatic answer a reply gets, if a rule matches and every guard allows it.
fn auto_reply(
    care: &CareSettings,
    facts: &InboundFacts,
    text: &str,
    status_reports: bool,
    now: i64,
) -> Option<(String, NewMessage)> {
    let normalised = super::keywords::normalise(text);
    let rule = care.auto_replies.iter().find(|r| {
        let matched = match r.matching {
            Matching::Exact => normalised == r.keyword,
            Matching::StartsWith => normalised.starts_with(&r.keyword),
            Matching::Contains => normalised.contains(&r.keyword),
        };
        let in_group = r.group.as_ref().is_none_or(|g| facts.groups.contains(g));
        let in_hours = r.hours.is_none_or(|h| {
            let open = care
                .policy
                .quiet_hours
                .next_open(&care.business_hours, &care.policy.shop_zone, now)
                .is_none();
            (h == Hours::Open) == open
        });
        matched && in_group && in_hours
    })?;
    if facts.opted_out || facts.suppressed {
        return None;
    }
    if !care.auto_reply_countries.is_empty() {
        let country = crate::phone::country_of(&facts.sender)?;
        if !care.auto_reply_countries.contains(&country) {
            return None;
        }
    }
    let same_rule = facts
        .recent_auto_replies
        .iter()
        .filter(|(name, _)| *name == rule.name)
        .count();
    let lately = facts
        .recent_auto_replies
        .iter()
        .filter(|(_, at)| *at >= now - 600_000)
        .count();
    if same_rule >= PER_RULE_PER_DAY || lately >= PER_NUMBER_IN_TEN_MINUTES {
        return None;
    }
    let words = care.words(&rule.text);
    let mut m = confirmation(care, facts, "auto", &words, status_reports, now)?;
    m.class = Class::Reply;
    m.topic = None;
    m.template = Some(format!("auto:{}", rule.name));
    m.priority = 50;
    m.not_after = Some(now + 3_600_000);
    Some((rule.name.clone(), m))
}

/// An international number (`+` and 8 to 15 digits): not a short code, not a name.
fn is_customer_number(sender: &str) -> bool {
    sender
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// smsq's own answer to `facts.sender`, sent first (priority) within the confirmation window.
fn confirmation(
    care: &CareSettings,
    facts: &InboundFacts,
    kind: &str,
    words: &str,
    status_reports: bool,
    now: i64,
) -> Option<NewMessage> {
    let address = Address::parse(&facts.sender).ok()?;
    let mut opts = SubmitOptions::new(address);
    opts.status_report = status_reports;
    opts.plan = PlanOptions {
        concat: crate::pdu::ConcatRef::Ref8(facts.concat_ref),
        ..PlanOptions::default()
    };
    let mut out = SubmitPdus::new();
    // The configured texts are checked to encode at start-up; a failure here leaves the
    // reply stored and the keyword applied, without an answer.
    SubmitEncoder::new()
        .encode_text(words, &opts, &mut out)
        .ok()?;
    let mut m = NewMessage::new(
        &facts.sender,
        words,
        out.iter()
            .map(|p| (p.tpdu_len, p.hex.to_string()))
            .collect(),
    );
    m.alphabet = out.alphabet().map_or("gsm7", |a| a.name()).to_string();
    m.concat_ref = u16::from(facts.concat_ref);
    m.status_report = status_reports;
    m.priority = 100;
    m.class = Class::System;
    m.topic = Some(kind.to_string());
    m.not_after = Some(now + care.confirmation_window.as_millis() as i64);
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> InboundFacts {
        InboundFacts {
            inbox_id: 7,
            sender: "+639171234567".into(),
            text: Some(text.into()),
            opted_out: false,
            pending_topics: vec![],
            recent_confirmations: vec![],
            concat_ref: 1,
            suppressed: false,
            recent_auto_replies: vec![],
            groups: vec![],
            open_survey: None,
        }
    }

    fn care() -> CareSettings {
        CareSettings {
            shop_name: "Ana's Print".into(),
            keywords: super::super::Keywords::new(
                &[super::super::keywords::english()],
                &["promo".into()],
            ),
            ..CareSettings::default()
        }
    }

    #[test]
    fn stop_revokes_everything_and_queues_one_confirmation() {
        let r = react(&care(), &facts("Stop."), true, 1_000);
        assert_eq!(r.consent.len(), 1);
        assert_eq!(r.consent[0].state, ConsentState::Revoked);
        assert_eq!(r.consent[0].topic, "");
        assert_eq!(r.consent[0].evidence.as_deref(), Some("received message 7"));
        assert_eq!(r.send.len(), 1);
        let m = &r.send[0];
        assert_eq!(m.class, Class::System);
        assert_eq!(m.not_after, Some(1_000 + 300_000));
        assert!(m.body.starts_with("Ana's Print: "), "{}", m.body);
        assert_eq!(r.consent[0].text_shown.as_deref(), Some(m.body.as_str()));
        // Sent already in the last day: nothing more; already opted out: no second entry.
        let again = InboundFacts {
            opted_out: true,
            recent_confirmations: vec![STOP_CONFIRMATION.into()],
            ..facts("STOP")
        };
        assert_eq!(react(&care(), &again, true, 2_000), Reaction::default());
    }

    #[test]
    fn every_shipped_answer_is_one_gsm7_part() {
        let care = CareSettings {
            shop_name: "A shop with a twenty-char".into(),
            ..CareSettings::default()
        };
        for text in [&care.stop_text, &care.start_text, &care.help_text] {
            let words = care.words(text);
            let e = crate::pdu::Planner::new()
                .estimate(&words, &PlanOptions::default())
                .unwrap();
            assert_eq!((e.parts, e.alphabet.name()), (1, "gsm7"), "{words}");
        }
    }

    #[test]
    fn help_start_yes_and_possible_opt_outs() {
        let help = react(&care(), &facts("help"), true, 0);
        assert_eq!(help.send.len(), 1);
        assert!(help.consent.is_empty());
        let opted_out = InboundFacts {
            opted_out: true,
            ..facts("HELP")
        };
        assert_eq!(react(&care(), &opted_out, true, 0), Reaction::default());
        let start = react(&care(), &facts("START"), true, 0);
        assert_eq!(start.consent[0].state, ConsentState::Granted);
        assert_eq!(start.send.len(), 1);
        // YES from someone not opted out and with nothing pending is an ordinary reply.
        assert_eq!(react(&care(), &facts("yes"), true, 0), Reaction::default());
        let pending = InboundFacts {
            pending_topics: vec!["promo".into()],
            ..facts("Yes!")
        };
        let confirmed = react(&care(), &pending, true, 5);
        assert_eq!(confirmed.consent[0].topic, "promo");
        assert_eq!(confirmed.consent[0].double_opt_in_confirmed_at, Some(5));
        let flagged = react(&care(), &facts("please stop texting me"), true, 0);
        assert!(flagged.flag.is_some() && flagged.consent.is_empty() && flagged.send.is_empty());
        let topic = react(&care(), &facts("STOP PROMO"), true, 0);
        assert_eq!(topic.consent[0].topic, "promo");
    }

    fn with_rules() -> CareSettings {
        let mut care = care();
        care.auto_replies = vec![AutoReply {
            name: "hours".into(),
            matching: Matching::Exact,
            keyword: "hours".into(),
            text: "{shop} is open 9-18, Mon-Sat.".into(),
            group: None,
            hours: None,
        }];
        care.auto_reply_countries = vec!["PH".into()];
        care
    }

    /// CC-3.5: a rule answers once; its guards stop loops and strangers.
    #[test]
    fn auto_replies_answer_once_and_guard_against_loops() {
        let r = react(&with_rules(), &facts("Hours?"), true, 0);
        assert_eq!(r.auto_reply.as_deref(), Some("hours"));
        assert_eq!(r.send[0].class, Class::Reply);
        assert_eq!(r.send[0].body, "Ana's Print is open 9-18, Mon-Sat.");
        let again = InboundFacts {
            recent_auto_replies: vec![("hours".into(), -1000)],
            ..facts("HOURS")
        };
        assert_eq!(
            react(&with_rules(), &again, true, 0),
            Reaction::default(),
            "one a day"
        );
        let busy = InboundFacts {
            recent_auto_replies: (0..5).map(|i| (format!("r{i}"), -i)).collect(),
            ..facts("hours")
        };
        assert_eq!(
            react(&with_rules(), &busy, true, 0),
            Reaction::default(),
            "five in ten minutes"
        );
        let abroad = InboundFacts {
            sender: "+48601234567".into(),
            ..facts("hours")
        };
        assert_eq!(
            react(&with_rules(), &abroad, true, 0),
            Reaction::default(),
            "outside the countries"
        );
        let stopped = InboundFacts {
            opted_out: true,
            ..facts("hours")
        };
        assert_eq!(react(&with_rules(), &stopped, true, 0), Reaction::default());
        assert!(
            react(&with_rules(), &facts("what are your hours"), true, 0)
                .send
                .is_empty(),
            "exact only"
        );
    }

    fn survey(kind: &str) -> crate::store::Survey {
        crate::store::Survey {
            name: "visit".into(),
            question: "How was your visit? Reply 1-5".into(),
            kind: kind.into(),
            scale: Some(5),
            choices: vec!["Prints".into(), "Repairs".into()],
            expiry_ms: 3 * 86_400_000,
            invalid_reply: "Please reply with a number from 1 to 5.".into(),
            thanks: "Thank you!".into(),
        }
    }

    /// CC-3.6's table.
    #[test]
    fn survey_answers_are_read_after_normalising() {
        let rating = survey("rating");
        for (text, want) in [
            ("5", Some("5")),
            ("5!", Some("5")),
            (" 5 ", Some("5")),
            ("7", None),
            ("five", None),
            ("0", None),
        ] {
            assert_eq!(survey_answer(&rating, text).as_deref(), want, "{text}");
        }
        let yes_no = survey("yes_no");
        for (text, want) in [
            ("Yes", Some("yes")),
            ("oo", Some("yes")),
            ("Tak!", Some("yes")),
            ("hindi", Some("no")),
            ("maybe", None),
        ] {
            assert_eq!(survey_answer(&yes_no, text).as_deref(), want, "{text}");
        }
        let choice = survey("choice");
        assert_eq!(survey_answer(&choice, "2").as_deref(), Some("Repairs"));
        assert_eq!(survey_answer(&choice, "prints.").as_deref(), Some("Prints"));
        assert_eq!(survey_answer(&choice, "3"), None);
        assert_eq!(
            survey_answer(&survey("free"), " Great service "),
            Some("Great service".into())
        );
    }

    /// CC-3.6 and CC-1.6: an open survey takes the answer; one invalid-answer reply; YES is
    /// an answer, not an opt-in; STOP still opts out.
    #[test]
    fn an_open_survey_takes_the_reply() {
        let open = |invalid_replies, kind: &str| InboundFacts {
            open_survey: Some(crate::store::OpenSurvey {
                message_id: 9,
                survey: survey(kind),
                invalid_replies,
            }),
            ..facts("")
        };
        let with = |f: InboundFacts, text: &str| InboundFacts {
            text: Some(text.into()),
            ..f
        };
        let r = react(&care(), &with(open(0, "rating"), "4"), true, 0);
        assert_eq!(r.survey, Some((9, Some("4".into()))));
        assert_eq!(r.send[0].body, "Thank you!");
        let r = react(&care(), &with(open(0, "rating"), "7"), true, 0);
        assert_eq!(r.survey, Some((9, None)));
        assert_eq!(r.send[0].body, "Please reply with a number from 1 to 5.");
        let r = react(&care(), &with(open(1, "rating"), "7"), true, 0);
        assert!(r.send.is_empty(), "a second invalid answer gets nothing");
        let opted_out = InboundFacts {
            opted_out: true,
            ..with(open(0, "yes_no"), "YES")
        };
        let r = react(&care(), &opted_out, true, 0);
        assert_eq!(r.survey, Some((9, Some("yes".into()))));
        assert!(
            r.consent.is_empty(),
            "YES answered the survey; consent unchanged"
        );
        let r = react(&care(), &with(open(0, "rating"), "STOP"), true, 0);
        assert_eq!(r.consent[0].state, ConsentState::Revoked);
        assert_eq!(r.survey, None);
    }

    #[test]
    fn robots_and_short_codes_get_nothing() {
        for sender in ["GLOBE", "2910", "+63"] {
            let f = InboundFacts {
                sender: sender.into(),
                ..facts("STOP")
            };
            assert_eq!(react(&care(), &f, true, 0), Reaction::default(), "{sender}");
        }
    }
}
