//! What a customer's reply asks for: STOP, START, HELP, or nothing smsq acts on by itself.
//!
//! The text is normalised first (Unicode NFKC so that full-width `ＳＴＯＰ` is `stop`; line
//! breaks and runs of spaces made one space; punctuation, symbols and emoji at either end
//! removed; lower case), then the **whole** remaining text is compared with the lists. A
//! keyword inside a longer text ("please stop texting me", "don't stop") is never acted on:
//! it is flagged for a person, because a reasonable reader might take it as an opt-out, and
//! a wrong automatic opt-out (or a missed one) is worse than a person reading it.

use unicode_normalization::UnicodeNormalization;

/// The lists one language contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeywordList {
    pub opt_out: Vec<String>,
    pub opt_in: Vec<String>,
    /// Re-subscribes only a number that is opted out and has no open survey.
    pub guarded_opt_in: Vec<String>,
    pub help: Vec<String>,
}

/// The English defaults (CTIA's and the carriers' standard words).
pub fn english() -> KeywordList {
    let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect();
    KeywordList {
        opt_out: words(&[
            "STOP",
            "STOPALL",
            "STOP ALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
            "OPT-OUT",
            "OPT OUT",
            "UNSUB",
        ]),
        opt_in: words(&["START", "UNSTOP"]),
        guarded_opt_in: words(&["YES"]),
        help: words(&["HELP", "INFO"]),
    }
}

/// The lists for a language code. Filipino (`fil`) and Polish (`pl`) ship empty: no source
/// lists the words customers use to opt out in them, and a wrong word would either ignore a
/// customer or opt one out who did not ask. The candidates a shop can confirm and add in its
/// configuration (`[care.keywords]`) are in the README: fil `HINTO`, `TIGIL`, `AYOKO NA`;
/// pl `STOP` is already English, `REZYGNUJĘ`, `NIE`, `WYPISZ`, `KONIEC`.
pub fn language(code: &str) -> Option<KeywordList> {
    match code {
        "en" => Some(english()),
        "fil" | "pl" => Some(KeywordList::default()),
        _ => None,
    }
}

/// A text as keywords are compared: NFKC, one space between words, no punctuation, symbols
/// or emoji at the ends, lower case.
pub fn normalise(text: &str) -> String {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    let words: Vec<&str> = folded.split_whitespace().collect();
    let joined = words.join(" ");
    joined
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_string()
}

/// What a reply asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyword {
    /// Stop everything (`None`) or one topic.
    OptOut(Option<String>),
    OptIn,
    /// `YES`: an opt-in only for a number that is opted out and has no open survey.
    GuardedOptIn,
    Help,
    /// Not a keyword, but it holds an opt-out word: a person should read it.
    PossibleOptOut,
    /// Anything else: an ordinary reply.
    Text,
}

/// The keywords in force: the configured languages' lists and the shop's topics.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
    guarded_opt_in: Vec<String>,
    help: Vec<String>,
    /// Topic keywords for `STOP <topic>`, normalised.
    topics: Vec<String>,
}

impl Keywords {
    pub fn new(lists: &[KeywordList], topics: &[String]) -> Self {
        let mut k = Self::default();
        let add = |into: &mut Vec<String>, from: &[String]| {
            for w in from {
                let w = normalise(w);
                if !w.is_empty() && !into.contains(&w) {
                    into.push(w);
                }
            }
        };
        for l in lists {
            add(&mut k.opt_out, &l.opt_out);
            add(&mut k.opt_in, &l.opt_in);
            add(&mut k.guarded_opt_in, &l.guarded_opt_in);
            add(&mut k.help, &l.help);
        }
        add(&mut k.topics, topics);
        k
    }

    /// What `text` asks for.
    pub fn classify(&self, text: &str) -> Keyword {
        let t = normalise(text);
        if t.is_empty() {
            return Keyword::Text;
        }
        if self.opt_out.contains(&t) {
            return Keyword::OptOut(None);
        }
        // `STOP <topic>`: an opt-out word, one space, a configured topic.
        for word in &self.opt_out {
            if let Some(rest) = t
                .strip_prefix(word.as_str())
                .and_then(|r| r.strip_prefix(' '))
                && let Some(topic) = self.topics.iter().find(|topic| **topic == rest)
            {
                return Keyword::OptOut(Some(topic.clone()));
            }
        }
        if self.opt_in.contains(&t) {
            return Keyword::OptIn;
        }
        if self.guarded_opt_in.contains(&t) {
            return Keyword::GuardedOptIn;
        }
        if self.help.contains(&t) {
            return Keyword::Help;
        }
        if self.mentions_opt_out(&t) {
            return Keyword::PossibleOptOut;
        }
        Keyword::Text
    }

    /// Whether an opt-out word appears in the text as a word (or the text starts with one:
    /// `stopall`-like run-ons are caught by the exact list).
    fn mentions_opt_out(&self, normalised: &str) -> bool {
        let words: Vec<&str> = normalised
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| !w.is_empty())
            .collect();
        self.opt_out.iter().any(|entry| {
            let entry_words: Vec<&str> = entry.split(' ').collect();
            words
                .windows(entry_words.len())
                .any(|w| w == entry_words.as_slice())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keywords() -> Keywords {
        Keywords::new(&[english()], &["promo".into(), "events".into()])
    }

    /// CC-1.2's table.
    #[test]
    fn the_research_table() {
        let k = keywords();
        for text in [
            "stop",
            " STOP\n",
            "Stop.",
            "STOP!!",
            "ＳＴＯＰ",
            "STOPALL",
            "stop all",
            "STOP   ALL",
            "🛑 stop 🛑",
            "Unsubscribe",
            "opt-out",
        ] {
            assert_eq!(k.classify(text), Keyword::OptOut(None), "{text:?}");
        }
        assert_eq!(
            k.classify("STOP PROMO"),
            Keyword::OptOut(Some("promo".into()))
        );
        assert_eq!(
            k.classify("stop events!"),
            Keyword::OptOut(Some("events".into()))
        );
        for text in [
            "stop it!",
            "don't stop",
            "STOP 12345",
            "please stop texting me",
        ] {
            assert_eq!(k.classify(text), Keyword::PossibleOptOut, "{text:?}");
        }
        assert_eq!(k.classify("Start"), Keyword::OptIn);
        assert_eq!(k.classify("unstop"), Keyword::OptIn);
        assert_eq!(k.classify("yes!"), Keyword::GuardedOptIn);
        assert_eq!(k.classify("HELP?"), Keyword::Help);
        assert_eq!(k.classify("info"), Keyword::Help);
        for text in ["Is my laptop ready?", "", "!!!", "Stopover in Cebu", "5"] {
            assert_eq!(k.classify(text), Keyword::Text, "{text:?}");
        }
    }

    #[test]
    fn shipped_filipino_and_polish_lists_act_on_nothing_until_a_shop_fills_them() {
        let k = Keywords::new(&[language("fil").unwrap(), language("pl").unwrap()], &[]);
        assert_eq!(k.classify("STOP"), Keyword::Text);
        assert_eq!(k.classify("tigil"), Keyword::Text);
        let own = KeywordList {
            opt_out: vec!["Tigil".into(), "Ayoko na".into()],
            ..KeywordList::default()
        };
        let k = Keywords::new(&[own], &[]);
        assert_eq!(k.classify("TIGIL!"), Keyword::OptOut(None));
        assert_eq!(k.classify("ayoko   na"), Keyword::OptOut(None));
        assert_eq!(k.classify("ayoko na po talaga"), Keyword::PossibleOptOut);
    }

    proptest! {
        /// Normalising twice changes nothing, and what is left has no space or symbol at
        /// either end and no run of spaces.
        #[test]
        fn normalising_is_idempotent_and_trimmed(text in "\\PC{0,40}") {
            let once = normalise(&text);
            prop_assert_eq!(normalise(&once), once.clone());
            prop_assert!(!once.contains("  "));
            if let Some(c) = once.chars().next() {
                prop_assert!(c.is_alphanumeric());
            }
            if let Some(c) = once.chars().last() {
                prop_assert!(c.is_alphanumeric());
            }
        }

        /// A keyword wrapped in any spaces, line breaks, punctuation or emoji, in any case,
        /// is the keyword.
        #[test]
        fn stop_survives_any_wrapping(
            before in "[ \\n\\t.!?,;:🛑🙏]{0,5}",
            after in "[ \\n\\t.!?,;:🛑🙏]{0,5}",
            upper in proptest::collection::vec(any::<bool>(), 4),
        ) {
            let word: String = "stop"
                .chars()
                .zip(upper)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            let text = format!("{before}{word}{after}");
            prop_assert_eq!(keywords().classify(&text), Keyword::OptOut(None));
        }

        /// A text that does not mention an opt-out word is never an opt-out of any kind.
        #[test]
        fn texts_without_an_opt_out_word_never_opt_out(text in "[a-z ]{0,30}") {
            let k = keywords();
            let mentions = normalise(&text).split(' ').any(|w| {
                ["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke",
                 "optout", "opt-out", "opt", "unsub"].contains(&w)
            });
            prop_assume!(!mentions);
            let got = k.classify(&text);
            prop_assert!(!matches!(got, Keyword::OptOut(_) | Keyword::PossibleOptOut));
        }
    }
}
