//! Customer care: the rules every outgoing text obeys and what a customer's reply asks for.
//!
//! - [`gate`]: the one gate ([`gate::may_send`]), its refusals and holds.
//! - [`quiet`]: quiet hours in the recipient's own time zone.
//! - [`keywords`]: STOP, START, HELP and the texts a person should read.
//! - [`reactions`]: what a keyword makes smsq do (the ledger's entry and the one
//!   confirmation), decided inside the transaction that stores the reply.

pub mod gate;
pub mod keywords;
pub mod quiet;
pub mod reactions;

use std::time::Duration;

pub use gate::{Policy, Refusal};
pub use keywords::Keywords;

/// The customer-care part of the configuration.
#[derive(Debug, Clone)]
pub struct CareSettings {
    /// How the shop names itself in confirmations and in front of marketing texts.
    pub shop_name: String,
    pub policy: Policy,
    pub keywords: Keywords,
    /// Topics a customer can opt out of on their own (`STOP PROMO`), lower case.
    pub topics: Vec<String>,
    /// Topics whose web-form and imported sign-ups wait for the customer's YES.
    pub double_opt_in: Vec<String>,
    /// Answers; `{shop}` is replaced by the shop's name.
    pub stop_text: String,
    pub start_text: String,
    pub help_text: String,
    /// Put after marketing and survey texts.
    pub footer: String,
    /// Requests to more recipients than this need `confirm_bulk`.
    pub bulk_limit: usize,
    /// A confirmation not sent within this time is dropped (`expired`), never sent late.
    pub confirmation_window: Duration,
    /// What one part costs the shop, for campaign previews (`None`: not shown).
    pub price_per_part: Option<f64>,
    /// How far back a reply looks for the text it answers.
    pub reply_window: Duration,
    /// Automatic answers to replies, in order (the first that matches is the one).
    pub auto_replies: Vec<reactions::AutoReply>,
    /// The shop's opening hours, in its own zone (for `hours = "open"` or `"closed"` rules).
    pub business_hours: quiet::Window,
    /// Countries whose numbers may get automatic answers (ISO codes; empty: any).
    pub auto_reply_countries: Vec<String>,
}

impl Default for CareSettings {
    fn default() -> Self {
        Self {
            shop_name: "The shop".into(),
            policy: Policy::default(),
            keywords: Keywords::new(&[keywords::english()], &[]),
            topics: Vec::new(),
            double_opt_in: Vec::new(),
            stop_text: DEFAULT_STOP_TEXT.into(),
            start_text: DEFAULT_START_TEXT.into(),
            help_text: DEFAULT_HELP_TEXT.into(),
            footer: "Reply STOP to opt out".into(),
            bulk_limit: 50,
            confirmation_window: Duration::from_secs(300),
            price_per_part: None,
            reply_window: Duration::from_secs(72 * 3600),
            auto_replies: Vec::new(),
            business_hours: quiet::Window::parse("09:00-18:00 weekdays")
                .expect("the built-in window parses"),
            auto_reply_countries: Vec::new(),
        }
    }
}

pub const DEFAULT_STOP_TEXT: &str =
    "{shop}: you will get no more texts from us. Reply START to get them again.";
pub const DEFAULT_START_TEXT: &str =
    "{shop}: you will get our texts again. Reply STOP to opt out, HELP for help.";
pub const DEFAULT_HELP_TEXT: &str =
    "{shop}: texts about your orders and, if you agreed, our offers. Reply STOP to opt out.";

impl CareSettings {
    /// `template` with the shop's name in place of `{shop}`.
    pub fn words(&self, template: &str) -> String {
        template.replace("{shop}", &self.shop_name)
    }

    /// A marketing or survey text as it goes out: the shop's name in front (unless the
    /// text already starts with it) and the opt-out footer after (unless already there).
    pub fn promotional_text(&self, text: &str) -> String {
        let mut out =
            String::with_capacity(text.len() + self.shop_name.len() + self.footer.len() + 4);
        if !self.shop_name.is_empty() && !text.starts_with(&self.shop_name) {
            out.push_str(&self.shop_name);
            out.push_str(": ");
        }
        out.push_str(text);
        if !self.footer.is_empty() && !text.contains(&self.footer) {
            out.push('\n');
            out.push_str(&self.footer);
        }
        out
    }
}

/// Whether a text holds something that looks like a link (a scheme, `www.`, or a domain
/// name such as `shop.ph/promo`): Philippine carriers block texts with links (CC-2.6).
pub fn has_link(text: &str) -> bool {
    let lower = text.to_lowercase();
    if lower.contains("http://") || lower.contains("https://") || lower.contains("www.") {
        return true;
    }
    const ENDINGS: &[&str] = &[
        "com", "ph", "net", "org", "pl", "io", "co", "me", "ly", "info", "shop", "store", "app",
        "link", "site", "online", "xyz",
    ];
    lower
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | '"' | '\''))
        .any(|word| {
            let host = word.split('/').next().unwrap_or("");
            let host = host.trim_end_matches(['.', ',', '!', '?', ':', ';']);
            let mut labels = host.split('.');
            let first = labels.next().unwrap_or("");
            let rest: Vec<&str> = labels.collect();
            !first.is_empty()
                && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && rest.last().is_some_and(|tld| ENDINGS.contains(tld))
                && rest.iter().all(|l| !l.is_empty())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_recognised_and_prices_are_not() {
        for text in [
            "see shop.ph/promo",
            "https://x.example",
            "www.anas-print.com",
            "Visit anas.shop!",
            "Promo at bit.ly/abc",
        ] {
            assert!(has_link(text), "{text}");
        }
        for text in [
            "Your documents are ready.",
            "Total: 1.50 PHP",
            "Open 9.30-18.00",
            "e.g. now",
        ] {
            assert!(!has_link(text), "{text}");
        }
    }

    #[test]
    fn promotions_carry_the_shop_name_and_the_footer_once() {
        let care = CareSettings {
            shop_name: "Ana's Print".into(),
            ..CareSettings::default()
        };
        assert_eq!(
            care.promotional_text("20% off prints today"),
            "Ana's Print: 20% off prints today\nReply STOP to opt out"
        );
        let again = care.promotional_text(&care.promotional_text("x"));
        assert_eq!(again, care.promotional_text("x"));
    }
}
