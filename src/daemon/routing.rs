//! Which modem sends a message: pure, so every rule is tested without ports or clocks.
//!
//! 1. A message that already started keeps its modem (all parts through one SIM), while that
//!    modem can send; if it cannot, the message waits for it (the parts share a
//!    concatenation reference that only makes sense from one sender).
//! 2. Otherwise, among modems that can send now (ready, registered, under their daily cap),
//!    the ones with the longest prefix matching the recipient (a carrier's numbers from that
//!    carrier's SIM, where texting is cheap or free).
//! 3. If no usable modem has a matching prefix, the least busy usable modem (fewest parts
//!    sent today, then fewest in flight).

/// What routing needs to know about one modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemView {
    pub id: String,
    /// Ready and registered.
    pub healthy: bool,
    /// Recipient prefixes this modem is preferred for (`+63917`, `+48`).
    pub prefixes: Vec<String>,
    pub sent_today: i64,
    /// None: no cap.
    pub daily_cap: Option<i64>,
    pub in_flight: i64,
}

impl ModemView {
    pub fn usable(&self) -> bool {
        self.healthy && self.daily_cap.is_none_or(|cap| self.sent_today < cap)
    }

    fn match_len(&self, recipient: &str) -> usize {
        self.prefixes
            .iter()
            .filter(|p| recipient.starts_with(p.as_str()))
            .map(String::len)
            .max()
            .unwrap_or(0)
    }
}

/// The modem (index into `modems`) that should send to `recipient` now, or `None` to wait.
pub fn route(recipient: &str, started_on: Option<&str>, modems: &[ModemView]) -> Option<usize> {
    if let Some(id) = started_on {
        return modems.iter().position(|m| m.id == id && m.usable());
    }
    let usable = || modems.iter().enumerate().filter(|(_, m)| m.usable());
    let best = usable().map(|(_, m)| m.match_len(recipient)).max()?;
    usable()
        .filter(|(_, m)| m.match_len(recipient) == best)
        .min_by_key(|(_, m)| (m.sent_today, m.in_flight))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem(id: &str, prefixes: &[&str], sent_today: i64) -> ModemView {
        ModemView {
            id: id.into(),
            healthy: true,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            sent_today,
            daily_cap: None,
            in_flight: 0,
        }
    }

    #[test]
    fn prefix_rules_then_least_busy() {
        let modems = vec![
            modem("globe", &["+63917", "+63905"], 50),
            modem("smart", &["+63918", "+63920"], 10),
            modem("any", &[], 5),
        ];
        assert_eq!(route("+639171234567", None, &modems), Some(0));
        assert_eq!(route("+639181234567", None, &modems), Some(1));
        // No prefix matches: the least busy of all.
        assert_eq!(route("+48601234567", None, &modems), Some(2));
    }

    #[test]
    fn longest_prefix_wins() {
        let modems = vec![modem("a", &["+63"], 0), modem("b", &["+63917"], 100)];
        assert_eq!(route("+639171234567", None, &modems), Some(1));
        assert_eq!(route("+639991234567", None, &modems), Some(0));
    }

    #[test]
    fn failover_skips_unhealthy_and_capped_modems() {
        let mut modems = vec![modem("globe", &["+63917"], 0), modem("smart", &[], 0)];
        modems[0].healthy = false;
        assert_eq!(
            route("+639171234567", None, &modems),
            Some(1),
            "work moves to another modem"
        );
        modems[0].healthy = true;
        modems[0].daily_cap = Some(100);
        modems[0].sent_today = 100;
        assert_eq!(
            route("+639171234567", None, &modems),
            Some(1),
            "a capped SIM rests"
        );
        modems[1].healthy = false;
        assert_eq!(
            route("+639171234567", None, &modems),
            None,
            "nothing can send: wait"
        );
    }

    #[test]
    fn a_started_message_stays_on_its_modem() {
        let mut modems = vec![modem("globe", &[], 0), modem("smart", &["+63917"], 0)];
        assert_eq!(route("+639171234567", Some("globe"), &modems), Some(0));
        modems[0].healthy = false;
        assert_eq!(route("+639171234567", Some("globe"), &modems), None);
    }
}
