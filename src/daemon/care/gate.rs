//! The one gate every outgoing text passes, at submission and again in the transaction that
//! hands its first part to a modem: [`may_send`]. It is pure: the store gathers the facts
//! ([`Facts`]) about the recipient inside that transaction, the policy comes from the
//! configuration, and the answer is a [`Verdict`].

use jiff::tz::TimeZone;

use super::quiet::{QuietHours, recipient_zone};

/// What kind of text a message is; it decides which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Something the customer is waiting for: an order ready, an appointment.
    Transactional,
    /// A person answering a customer.
    Reply,
    /// A promotion: needs consent, waits for decent hours, counts toward the caps.
    Marketing,
    /// A survey: treated like marketing.
    Survey,
    /// smsq's own confirmations (of STOP, START, HELP). Clients cannot send this class.
    System,
}

impl Class {
    pub const ALL: [Self; 5] = [
        Self::Transactional,
        Self::Reply,
        Self::Marketing,
        Self::Survey,
        Self::System,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transactional => "transactional",
            Self::Reply => "reply",
            Self::Marketing => "marketing",
            Self::Survey => "survey",
            Self::System => "system",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Marketing and surveys: consent, quiet hours, caps, the shop's name and the opt-out
    /// footer.
    pub const fn is_promotional(self) -> bool {
        matches!(self, Self::Marketing | Self::Survey)
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest entry of the consent ledger that decides a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Nothing recorded.
    None,
    Granted,
    /// Granted through a web form or an import, waiting for the customer's confirmation
    /// (double opt-in): no marketing yet.
    Pending,
    Revoked,
}

/// What the store knows about a recipient when the gate asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The number was erased at the customer's request: only its suppression row is left.
    pub suppressed: bool,
    /// The latest entry for "all texts" (topic `""`): STOP, START, a general grant.
    pub everything: Consent,
    /// The latest entry for the message's topic, or for "all texts" if that is later.
    pub topic: Consent,
    /// Marketing and survey texts to this number in the last 24 hours and 30 days, this
    /// message not counted.
    pub promotional_last_day: i64,
    pub promotional_last_30_days: i64,
    /// The contact's time zone, if one is recorded.
    pub contact_zone: Option<String>,
}

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

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Outside the recipient's window: kept `held` until this time (Unix ms).
    Hold {
        until: i64,
    },
    Refuse {
        why: Refusal,
        reason: String,
    },
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

/// Whether a text of `class` may go to `number` (E.164) now, must wait, or must not go.
pub fn may_send(policy: &Policy, number: &str, class: Class, facts: &Facts, now: i64) -> Verdict {
    let refuse = |why, reason: &str| Verdict::Refuse {
        why,
        reason: reason.to_string(),
    };
    // smsq's own confirmations answer something the customer just did (a STOP above all):
    // they are the one text an opted-out number still gets.
    if class == Class::System {
        return Verdict::Send;
    }
    if facts.suppressed {
        return refuse(
            Refusal::OptedOut,
            "this number was erased at the customer's request and is never texted again",
        );
    }
    if facts.everything == Consent::Revoked {
        return refuse(Refusal::OptedOut, "the customer replied STOP");
    }
    if class.is_promotional() {
        match facts.topic {
            Consent::Revoked => {
                return refuse(Refusal::OptedOut, "the customer opted out of this topic");
            }
            Consent::None => {
                return refuse(
                    Refusal::NoConsent,
                    "no record that the customer agreed to marketing texts",
                );
            }
            Consent::Pending => {
                return refuse(
                    Refusal::NoConsent,
                    "the customer has not yet confirmed the sign-up (double opt-in)",
                );
            }
            Consent::Granted => {}
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
        let country = crate::phone::country_of(number);
        let zone = recipient_zone(
            facts.contact_zone.as_deref(),
            country.as_deref(),
            &policy.shop_zone,
        );
        let window = policy.quiet_hours.window(country.as_deref());
        if let Some(until) = policy.quiet_hours.next_open(&window, &zone, now) {
            return Verdict::Hold { until };
        }
    }
    Verdict::Send
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            suppressed: false,
            everything: Consent::None,
            topic: Consent::Granted,
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

    const PH: &str = "+639171234567";
    /// 10:00 in Manila.
    const MORNING: &str = "2026-12-02T02:00:00Z";
    /// 23:00 in Manila.
    const NIGHT: &str = "2026-12-02T15:00:00Z";

    #[test]
    fn an_opted_out_number_gets_nothing_but_the_confirmation() {
        let f = Facts {
            everything: Consent::Revoked,
            ..facts()
        };
        for class in [
            Class::Transactional,
            Class::Reply,
            Class::Marketing,
            Class::Survey,
        ] {
            assert!(
                matches!(
                    may_send(&policy(), PH, class, &f, at(MORNING)),
                    Verdict::Refuse {
                        why: Refusal::OptedOut,
                        ..
                    }
                ),
                "{class}"
            );
        }
        assert_eq!(
            may_send(&policy(), PH, Class::System, &f, at(NIGHT)),
            Verdict::Send
        );
    }

    #[test]
    fn marketing_needs_a_confirmed_grant_and_transactional_does_not() {
        for (consent, want) in [
            (Consent::None, Some(Refusal::NoConsent)),
            (Consent::Pending, Some(Refusal::NoConsent)),
            (Consent::Revoked, Some(Refusal::OptedOut)),
            (Consent::Granted, None),
        ] {
            let f = Facts {
                topic: consent,
                ..facts()
            };
            let got = may_send(&policy(), PH, Class::Marketing, &f, at(MORNING));
            match want {
                Some(why) => assert!(
                    matches!(got, Verdict::Refuse { why: w, .. } if w == why),
                    "{consent:?}"
                ),
                None => assert_eq!(got, Verdict::Send),
            }
            assert_eq!(
                may_send(&policy(), PH, Class::Transactional, &f, at(MORNING)),
                Verdict::Send
            );
        }
    }

    #[test]
    fn caps_count_promotions_only() {
        let busy = Facts {
            promotional_last_30_days: 4,
            ..facts()
        };
        assert!(matches!(
            may_send(&policy(), PH, Class::Marketing, &busy, at(MORNING)),
            Verdict::Refuse {
                why: Refusal::FrequencyCap,
                ..
            }
        ));
        assert_eq!(
            may_send(&policy(), PH, Class::Transactional, &busy, at(MORNING)),
            Verdict::Send
        );
        let today = Facts {
            promotional_last_day: 1,
            ..facts()
        };
        assert!(matches!(
            may_send(&policy(), PH, Class::Survey, &today, at(MORNING)),
            Verdict::Refuse {
                why: Refusal::FrequencyCap,
                ..
            }
        ));
    }

    #[test]
    fn promotions_wait_for_the_morning_and_order_ready_texts_do_not() {
        let got = may_send(&policy(), PH, Class::Marketing, &facts(), at(NIGHT));
        assert_eq!(
            got,
            Verdict::Hold {
                until: at("2026-12-02T23:00:00Z")
            }
        );
        assert_eq!(
            may_send(&policy(), PH, Class::Transactional, &facts(), at(NIGHT)),
            Verdict::Send
        );
        assert_eq!(
            may_send(&policy(), PH, Class::Reply, &facts(), at(NIGHT)),
            Verdict::Send
        );
        let strict = Policy {
            hold_transactional: true,
            ..policy()
        };
        assert!(matches!(
            may_send(&strict, PH, Class::Transactional, &facts(), at(NIGHT)),
            Verdict::Hold { .. }
        ));
    }
}
