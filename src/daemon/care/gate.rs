//! The one gate every outgoing text passes, at submission and again in the transaction that
//! hands its first part to a modem: [`may_send`]. It is pure: the store gathers the facts
//! ([`SendFacts`]) about the recipient inside that transaction, the policy comes from the
//! configuration, and the answer is a [`Decision`] the store applies in that transaction.

use jiff::tz::TimeZone;

use super::quiet::{QuietHours, Window, recipient_zone};

pub use crate::store::{Class, ConsentState, Decision, SendFacts};

/// Why the gate refused a text. The codes are stable: interfaces show them as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The customer said STOP (to everything, or to this topic), or was erased.
    OptedOut,
    /// Marketing or a survey without a current grant.
    NoConsent,
    /// Over the per-customer cap of marketing and surveys.
    FrequencyCap,
}

impl Refusal {
    pub const fn code(self) -> &'static str {
        match self {
            Self::OptedOut => "opted_out",
            Self::NoConsent => "no_consent",
            Self::FrequencyCap => "frequency_cap",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::OptedOut, Self::NoConsent, Self::FrequencyCap]
            .into_iter()
            .find(|r| r.code() == code)
    }
}

/// The rules in force (from the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub quiet_hours: QuietHours,
    /// Whether transactional texts and replies wait for the window too (default: no).
    pub hold_transactional: bool,
    /// Most marketing and survey texts per number per rolling 24 hours and 30 days.
    pub cap_per_day: i64,
    pub cap_per_30_days: i64,
    pub shop_zone: TimeZone,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            quiet_hours: QuietHours::default(),
            hold_transactional: false,
            cap_per_day: 1,
            cap_per_30_days: 4,
            shop_zone: TimeZone::system(),
        }
    }
}

/// Whether a text may go to its recipient now, must wait, or must not go.
pub fn may_send(policy: &Policy, facts: &SendFacts, now: i64) -> Decision {
    let refuse = |why: Refusal, reason: &str| Decision::Refuse {
        code: why.code(),
        reason: reason.to_string(),
    };
    let class = facts.class;
    // smsq's own confirmations answer something the customer just did (a STOP above all):
    // they are the one text an opted-out number still gets.
    if class == Class::System {
        return Decision::Send;
    }
    if facts.suppressed {
        return refuse(
            Refusal::OptedOut,
            "this number was erased at the customer's request and is never texted again",
        );
    }
    if facts.everything == Some(ConsentState::Revoked) {
        return refuse(
            Refusal::OptedOut,
            "the customer opted out (a STOP, or recorded by the shop)",
        );
    }
    if class.is_promotional() {
        match facts.topic_state {
            Some(ConsentState::Revoked) => {
                return refuse(Refusal::OptedOut, "the customer opted out of this topic");
            }
            None => {
                return refuse(
                    Refusal::NoConsent,
                    "no record that the customer agreed to marketing texts",
                );
            }
            Some(ConsentState::Pending) => {
                return refuse(
                    Refusal::NoConsent,
                    "the customer has not yet confirmed the sign-up (double opt-in)",
                );
            }
            Some(ConsentState::Granted) => {}
        }
        if facts.promotional_last_day >= policy.cap_per_day {
            return refuse(
                Refusal::FrequencyCap,
                &format!(
                    "already {} marketing or survey text(s) to this number in 24 hours (cap {})",
                    facts.promotional_last_day, policy.cap_per_day
                ),
            );
        }
        if facts.promotional_last_30_days >= policy.cap_per_30_days {
            return refuse(
                Refusal::FrequencyCap,
                &format!(
                    "already {} marketing or survey texts to this number in 30 days (cap {})",
                    facts.promotional_last_30_days, policy.cap_per_30_days
                ),
            );
        }
    }
    if class.is_promotional() || policy.hold_transactional {
        if let Some(until) =
            policy.next_window(&facts.recipient, facts.contact_zone.as_deref(), now)
        {
            return Decision::Hold { until };
        }
    }
    Decision::Send
}

impl Policy {
    /// For a text that goes now whatever the hour (an order ready, a reply): a note for the
    /// person sending it when the recipient's local time is outside their window (CC-2.7:
    /// a warning, not a block).
    pub fn late_hour_note(
        &self,
        number: &str,
        contact_zone: Option<&str>,
        now: i64,
    ) -> Option<String> {
        let (zone, window) = self.recipient_window(number, contact_zone);
        self.quiet_hours.next_open(&window, &zone, now)?;
        let local = jiff::Timestamp::from_millisecond(now)
            .ok()?
            .to_zoned_datetime(zone.clone());
        Some(format!(
            "it is {} ({}) for this customer, outside {window}; it goes now",
            local.strftime("%a %H:%M"),
            zone.iana_name().unwrap_or("their time"),
        ))
    }

    /// The recipient's time zone and window (contact, country, shop).
    fn recipient_window(&self, number: &str, contact_zone: Option<&str>) -> (TimeZone, Window) {
        let country = crate::phone::country_of(number);
        let zone = recipient_zone(contact_zone, country.as_deref(), &self.shop_zone);
        (zone, self.quiet_hours.window(country.as_deref()))
    }

    /// When the recipient's window next opens, or `None` while it is open.
    pub fn next_window(&self, number: &str, contact_zone: Option<&str>, now: i64) -> Option<i64> {
        let (zone, window) = self.recipient_window(number, contact_zone);
        self.quiet_hours.next_open(&window, &zone, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PH: &str = "+639171234567";
    /// 10:00 in Manila.
    const MORNING: &str = "2026-12-02T02:00:00Z";
    /// 23:00 in Manila.
    const NIGHT: &str = "2026-12-02T15:00:00Z";

    fn facts(class: Class) -> SendFacts {
        SendFacts {
            recipient: PH.into(),
            class,
            topic: None,
            suppressed: false,
            everything: None,
            topic_state: Some(ConsentState::Granted),
            promotional_last_day: 0,
            promotional_last_30_days: 0,
            contact_zone: None,
        }
    }

    fn policy() -> Policy {
        Policy {
            shop_zone: TimeZone::get("Asia/Manila").unwrap(),
            ..Policy::default()
        }
    }

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn refused(d: &Decision) -> Option<&'static str> {
        match d {
            Decision::Refuse { code, .. } => Some(code),
            _ => None,
        }
    }

    #[test]
    fn an_opted_out_number_gets_nothing_but_the_confirmation() {
        for class in [
            Class::Transactional,
            Class::Reply,
            Class::Marketing,
            Class::Survey,
        ] {
            let f = SendFacts {
                everything: Some(ConsentState::Revoked),
                ..facts(class)
            };
            assert_eq!(
                refused(&may_send(&policy(), &f, at(MORNING))),
                Some("opted_out"),
                "{class}"
            );
        }
        let f = SendFacts {
            everything: Some(ConsentState::Revoked),
            ..facts(Class::System)
        };
        assert_eq!(may_send(&policy(), &f, at(NIGHT)), Decision::Send);
        let erased = SendFacts {
            suppressed: true,
            ..facts(Class::Transactional)
        };
        assert_eq!(
            refused(&may_send(&policy(), &erased, at(MORNING))),
            Some("opted_out")
        );
    }

    #[test]
    fn marketing_needs_a_confirmed_grant_and_transactional_does_not() {
        for (consent, want) in [
            (None, Some("no_consent")),
            (Some(ConsentState::Pending), Some("no_consent")),
            (Some(ConsentState::Revoked), Some("opted_out")),
            (Some(ConsentState::Granted), None),
        ] {
            let f = SendFacts {
                topic_state: consent,
                ..facts(Class::Marketing)
            };
            assert_eq!(
                refused(&may_send(&policy(), &f, at(MORNING))),
                want,
                "{consent:?}"
            );
            let f = SendFacts {
                topic_state: consent,
                ..facts(Class::Transactional)
            };
            assert_eq!(may_send(&policy(), &f, at(MORNING)), Decision::Send);
        }
    }

    #[test]
    fn caps_count_promotions_only() {
        let busy = |class| SendFacts {
            promotional_last_30_days: 4,
            ..facts(class)
        };
        assert_eq!(
            refused(&may_send(&policy(), &busy(Class::Marketing), at(MORNING))),
            Some("frequency_cap")
        );
        assert_eq!(
            may_send(&policy(), &busy(Class::Transactional), at(MORNING)),
            Decision::Send
        );
        let today = SendFacts {
            promotional_last_day: 1,
            ..facts(Class::Survey)
        };
        assert_eq!(
            refused(&may_send(&policy(), &today, at(MORNING))),
            Some("frequency_cap")
        );
    }

    #[test]
    fn a_late_order_text_goes_with_a_note_for_the_sender() {
        let note = policy().late_hour_note(PH, None, at(NIGHT)).unwrap();
        assert!(note.starts_with("it is Wed 23:00 (Asia/Manila)"), "{note}");
        assert_eq!(policy().late_hour_note(PH, None, at(MORNING)), None);
    }

    #[test]
    fn promotions_wait_for_the_morning_and_order_ready_texts_do_not() {
        let got = may_send(&policy(), &facts(Class::Marketing), at(NIGHT));
        assert_eq!(
            got,
            Decision::Hold {
                until: at("2026-12-02T23:00:00Z")
            }
        );
        for class in [Class::Transactional, Class::Reply] {
            assert_eq!(
                may_send(&policy(), &facts(class), at(NIGHT)),
                Decision::Send
            );
        }
        let strict = Policy {
            hold_transactional: true,
            ..policy()
        };
        assert!(matches!(
            may_send(&strict, &facts(Class::Transactional), at(NIGHT)),
            Decision::Hold { .. }
        ));
    }
}
