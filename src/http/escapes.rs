//! Kannel's URL escape codes (`%p`, `%d`, `%a`, …), expanded into the URLs of delivery
//! reports (`dlr-url`) and pushed messages (`sms-service` `get-url`). Pure.
//!
//! Codes follow the Kannel 1.4.5 user's guide (table "Parameters (escape codes)") and the
//! behaviour of `gw/urltrans.c`: every value is URL-encoded except `%S` and the numbers;
//! `%p` is the customer's handset and `%P` our own number, for reports and received
//! messages alike. An unknown code is kept as written, as Kannel does.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but letters, digits and `-_.~` (RFC 3986 unreserved) is encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A value as it goes into a URL.
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, VALUE).to_string()
}

/// What the codes of one URL stand for; `None` or empty values expand to nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// `%d`: the report's type (a `dlr-mask` bit).
    pub dlr: Option<u32>,
    /// `%A`: the report's text from the network (or smsq's words for it).
    pub dlr_text: String,
    /// `%F`: the network's reference of the message (TP-MR).
    pub foreign_id: String,
    /// `%p`: the customer's number (E.164).
    pub handset: String,
    /// `%P`: the shop's own number, when the SIM knows it.
    pub ours: String,
    /// `%t`, `%T`: when (Unix ms).
    pub at_ms: i64,
    /// `%i`: the modem's id.
    pub modem: String,
    /// `%I`: smsq's id of the message.
    pub id: String,
    /// `%n`: the account or service name.
    pub account_name: String,
    /// `%b`, `%a`, `%k`, `%s`, `%S`, `%r`, `%e`: the text.
    pub text: String,
    /// `%c`: 0 for GSM 7-bit, 2 for UCS-2.
    pub coding: u8,
    /// `%m`: the message class, if any.
    pub mclass: Option<u8>,
    /// `%o`: the client's accounting tag.
    pub account_tag: String,
    /// `%D`: the client's meta-data.
    pub meta_data: String,
    /// `%R`: the report URL asked for.
    pub dlr_url: String,
}

/// Expands `template`'s codes with `values`.
pub fn expand(template: &str, v: &Values) -> String {
    let words: Vec<&str> = v.text.split_whitespace().collect();
    let mut next_word = 1; // `%s` takes the words after the keyword, one at a time
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else {
            out.push('%');
            break;
        };
        match code {
            '%' => out.push('%'),
            'd' => {
                if let Some(d) = v.dlr {
                    out.push_str(&d.to_string())
                }
            }
            'A' => out.push_str(&encode(&v.dlr_text)),
            'F' => out.push_str(&encode(&v.foreign_id)),
            'p' | 'q' => out.push_str(&encode(&v.handset)),
            'P' | 'Q' => out.push_str(&encode(&v.ours)),
            't' => out.push_str(&encode(&kannel_time(v.at_ms))),
            'T' => out.push_str(&(v.at_ms.div_euclid(1000)).to_string()),
            'i' | 'f' => out.push_str(&encode(&v.modem)),
            'I' => out.push_str(&encode(&v.id)),
            'n' => out.push_str(&encode(&v.account_name)),
            'b' => out.push_str(&encode(&v.text)),
            'e' => {
                for b in v.text.as_bytes() {
                    out.push_str(&format!("{b:02x}"));
                }
            }
            'a' => out.push_str(
                &words
                    .iter()
                    .map(|w| encode(w))
                    .collect::<Vec<_>>()
                    .join("+"),
            ),
            'k' => out.push_str(&encode(words.first().copied().unwrap_or(""))),
            's' => {
                if let Some(w) = words.get(next_word) {
                    out.push_str(&encode(w));
                }
                next_word += 1;
            }
            'S' => {
                if let Some(w) = words.get(next_word) {
                    out.push_str(&w.replace('*', "~"));
                }
                next_word += 1;
            }
            'r' => {
                let rest: Vec<String> = words.iter().skip(next_word).map(|w| encode(w)).collect();
                out.push_str(&rest.join("+"));
            }
            'c' => out.push_str(&v.coding.to_string()),
            'C' => out.push_str("UTF-8"),
            'm' => {
                if let Some(m) = v.mclass {
                    out.push_str(&m.to_string())
                }
            }
            'o' => out.push_str(&encode(&v.account_tag)),
            'D' => out.push_str(&encode(&v.meta_data)),
            'R' => out.push_str(&encode(&v.dlr_url)),
            // Codes for things a GSM modem does not have (UDH, MWI, billing, DCS, validity
            // as the SMSC saw it): empty, as Kannel gives them for an AT SMSC.
            'u' | 'M' | 'B' | 'O' | 'v' | 'V' | 'N' => {}
            other => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM` in UTC, as Kannel's `%t`.
fn kannel_time(at_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(at_ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => String::new(),
    }
}

/// The host of `url`, for logs and events (its path and query may carry secrets).
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Credentials in the authority never reach a log.
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            dlr: Some(8),
            dlr_text: "ACK/".into(),
            foreign_id: "17".into(),
            handset: "+639171234567".into(),
            ours: "+639998887777".into(),
            at_ms: 1_767_225_600_000, // 2026-01-01 00:00 UTC
            modem: "globe".into(),
            id: "42".into(),
            account_name: "playsms".into(),
            text: "ORDER 2 pizza*large & coke".into(),
            coding: 0,
            mclass: Some(1),
            account_tag: "shop#1".into(),
            meta_data: "?smpp?a=b".into(),
            dlr_url: "http://x/y?z=1".into(),
        }
    }

    #[test]
    fn playsms_dlr_url_gets_the_type() {
        let url = "http://127.0.0.1/playsms/index.php?app=call&cat=gateway&plugin=kannel&access=dlr&type=%d&slid=12&uid=1";
        assert_eq!(
            expand(url, &values()),
            "http://127.0.0.1/playsms/index.php?app=call&cat=gateway&plugin=kannel&access=dlr&type=8&slid=12&uid=1"
        );
    }

    #[test]
    fn playsms_geturl_gets_time_numbers_words_and_modem() {
        let url = "http://h/index.php?access=geturl&t=%t&q=%q&a=%a&Q=%Q&smsc=%i";
        assert_eq!(
            expand(url, &values()),
            "http://h/index.php?access=geturl&t=2026-01-01%2000%3A00&q=%2B639171234567\
             &a=ORDER+2+pizza%2Alarge+%26+coke&Q=%2B639998887777&smsc=globe"
        );
    }

    #[test]
    fn words_are_taken_one_at_a_time() {
        let v = values();
        assert_eq!(expand("%k/%s/%s/%r", &v), "ORDER/2/pizza%2Alarge/%26+coke");
        assert_eq!(expand("%S|%S", &v), "2|pizza~large");
        assert_eq!(expand("%b", &v), "ORDER%202%20pizza%2Alarge%20%26%20coke");
    }

    #[test]
    fn every_value_is_url_encoded_so_none_can_add_a_parameter() {
        let mut v = values();
        v.text = "x&dlr-url=http://evil/?a=1#frag".into();
        v.dlr_text = "a&b=c".into();
        let url = expand("http://h/r?text=%b&a=%a&k=%k&A=%A", &v);
        assert_eq!(url.matches('&').count(), 3, "{url}");
        assert!(!url.contains('#') && !url.contains("//evil"), "{url}");
    }

    #[test]
    fn the_rest_of_the_codes() {
        let v = values();
        assert_eq!(expand("%T", &v), "1767225600");
        assert_eq!(
            expand("%F %I %n %c %C %m %o", &v),
            "17 42 playsms 0 UTF-8 1 shop%231"
        );
        assert_eq!(
            expand("%D|%R", &v),
            "%3Fsmpp%3Fa%3Db|http%3A%2F%2Fx%2Fy%3Fz%3D1"
        );
        assert_eq!(
            expand(
                "%e",
                &Values {
                    text: "A b".into(),
                    ..v.clone()
                }
            ),
            "412062"
        );
        assert_eq!(expand("100%% %u%M%B%O%v%V %z", &v), "100%  %z");
        assert_eq!(expand("end%", &v), "end%");
    }

    #[test]
    fn hosts_for_logs_leave_out_paths_queries_and_credentials() {
        assert_eq!(
            host_of("http://user:pw@h.example:8080/a?pw=1"),
            "h.example:8080"
        );
        assert_eq!(host_of("https://h.example?x"), "h.example");
        assert_eq!(host_of("h.example/p"), "h.example");
    }
}
