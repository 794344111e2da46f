//! Which modems may send a message: pure, so every rule is tested without ports or clocks.
//! Every idle modem asks this of the due messages in order and claims the first it may send
//! (the store makes the claim exclusive), so several modems send at the same time and none
//! waits for a busy one.
//!
//! 1. A message that a modem owns (claimed it, or sent a part of it) goes through that modem
//!    only, while it can send; if it cannot, the message waits for it (the parts share a
//!    concatenation reference that only makes sense from one sender). A claim without a
//!    part sent is let go when the message goes back to the queue.
//! 2. Otherwise, among modems that can send now (ready, registered, under their daily cap),
//!    the ones with the longest prefix matching the recipient (a carrier's numbers from that
//!    carrier's SIM, where texting is cheap or free); with no matching prefix, any of them.
//!
//! With several hosts on one database, the other hosts' modems are in the list too (their
//! health as their last heartbeat said): a host whose own modems match a number less well
//! than a healthy modem elsewhere leaves the message to that host.

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
    /// Parts sent in the last hour (read only when an hourly cap is set).
    pub sent_last_hour: i64,
    /// None: no cap.
    pub hourly_cap: Option<i64>,
}

impl ModemView {
    pub fn usable(&self) -> bool {
        self.healthy
            && self.daily_cap.is_none_or(|cap| self.sent_today < cap)
            && self.hourly_cap.is_none_or(|cap| self.sent_last_hour < cap)
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

/// Whether modem `k` (an index into `modems`) may send to `recipient` now; `owner` is the
/// modem that owns the message, if one does.
pub fn may_send(k: usize, recipient: &str, owner: Option<&str>, modems: &[ModemView]) -> bool {
    let Some(me) = modems.get(k).filter(|m| m.usable()) else {
        return false;
    };
    if let Some(id) = owner {
        return me.id == id;
    }
    let best = modems
        .iter()
        .filter(|m| m.usable())
        .map(|m| m.match_len(recipient))
        .max()
        .unwrap_or(0);
    me.match_len(recipient) == best
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
            sent_last_hour: 0,
            hourly_cap: None,
        }
    }

    /// The modems (indices) that may send to `to`.
    fn senders(to: &str, owner: Option<&str>, modems: &[ModemView]) -> Vec<usize> {
        (0..modems.len())
            .filter(|&k| may_send(k, to, owner, modems))
            .collect()
    }

    #[test]
    fn prefix_rules_then_any_modem() {
        let modems = vec![
            modem("globe", &["+63917", "+63905"], 50),
            modem("smart", &["+63918", "+63920"], 10),
            modem("any", &[], 5),
        ];
        assert_eq!(senders("+639171234567", None, &modems), vec![0]);
        assert_eq!(senders("+639181234567", None, &modems), vec![1]);
        // No prefix matches: any modem, whichever is idle first; how busy a modem was today
        // does not keep an idle one waiting.
        assert_eq!(senders("+48601234567", None, &modems), vec![0, 1, 2]);
    }

    #[test]
    fn longest_prefix_wins() {
        let modems = vec![modem("a", &["+63"], 0), modem("b", &["+63917"], 100)];
        assert_eq!(senders("+639171234567", None, &modems), vec![1]);
        assert_eq!(senders("+639991234567", None, &modems), vec![0]);
    }

    #[test]
    fn failover_skips_unhealthy_and_capped_modems() {
        let mut modems = vec![modem("globe", &["+63917"], 0), modem("smart", &[], 0)];
        modems[0].healthy = false;
        assert_eq!(
            senders("+639171234567", None, &modems),
            vec![1],
            "work moves to another modem"
        );
        modems[0].healthy = true;
        modems[0].daily_cap = Some(100);
        modems[0].sent_today = 100;
        assert_eq!(
            senders("+639171234567", None, &modems),
            vec![1],
            "a capped SIM rests"
        );
        modems[0].sent_today = 0;
        modems[0].hourly_cap = Some(30);
        modems[0].sent_last_hour = 30;
        assert_eq!(
            senders("+639171234567", None, &modems),
            vec![1],
            "a SIM over its hourly cap rests too"
        );
        modems[1].healthy = false;
        assert!(
            senders("+639171234567", None, &modems).is_empty(),
            "nothing can send: wait"
        );
    }

    #[test]
    fn an_owned_message_stays_on_its_modem() {
        let mut modems = vec![modem("globe", &[], 0), modem("smart", &["+63917"], 0)];
        assert_eq!(senders("+639171234567", Some("globe"), &modems), vec![0]);
        modems[0].healthy = false;
        assert!(senders("+639171234567", Some("globe"), &modems).is_empty());
    }
}
