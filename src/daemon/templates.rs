//! Templates: a text with `{{field}}` and `{{field|default}}` placeholders filled from the
//! contact (`name`, `number`, custom fields) and the request's own fields. A placeholder with
//! no value and no default is an error naming it: a customer never gets "Hi , your order".

use std::collections::BTreeMap;

use super::Error;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Field {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Splits `body` into text and placeholders; refuses an unclosed `{{` or a bad name.
fn parse(body: &str) -> Result<Vec<Piece<'_>>, Error> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            Error::Template(format!(
                "a placeholder opened with {{{{ is not closed: {:?}",
                after.chars().take(30).collect::<String>()
            ))
        })?;
        let inner = &after[..close];
        let (name, default) = match inner.split_once('|') {
            Some((n, d)) => (n.trim(), Some(d)),
            None => (inner.trim(), None),
        };
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            return Err(Error::Template(format!(
                "{{{{{inner}}}}}: a field name is lower-case letters, digits, - or _"
            )));
        }
        out.push(Piece::Field { name, default });
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks a template's syntax (when it is saved).
pub fn check(body: &str) -> Result<Vec<String>, Error> {
    let mut fields: Vec<String> = parse(body)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field { name, .. } => Some(name.to_string()),
            Piece::Text(_) => None,
        })
        .collect();
    fields.dedup();
    Ok(fields)
}

/// `body` with every placeholder filled from `values`; an empty value counts as none.
pub fn render(body: &str, values: &BTreeMap<String, String>) -> Result<String, Error> {
    let mut out = String::with_capacity(body.len() + 16);
    for piece in parse(body)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field { name, default } => {
                match (values.get(name).filter(|v| !v.trim().is_empty()), default) {
                    (Some(v), _) => out.push_str(v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        return Err(Error::MissingField(name.to_string()));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The values a template sees for one recipient: the contact's (`name`, `number`, its own
/// fields), then the request's, which win.
pub fn values(
    number: &str,
    contact: Option<&crate::store::Contact>,
    request: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("number".to_string(), number.to_string());
    if let Some(c) = contact {
        if let Some(name) = &c.name {
            v.insert("name".into(), name.clone());
            if let Some(first) = name.split_whitespace().next() {
                v.insert("first_name".into(), first.to_string());
            }
        }
        for (k, value) in &c.fields {
            v.insert(k.clone(), value.clone());
        }
    }
    for (k, value) in request {
        v.insert(k.clone(), value.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fields_and_defaults_fill_in() {
        let body = "Hi {{name|there}}, your {{item}} is ready. {{note|}}";
        assert_eq!(
            render(body, &vals(&[("item", "laptop")])).unwrap(),
            "Hi there, your laptop is ready. "
        );
        assert_eq!(
            render(body, &vals(&[("name", "Ana"), ("item", "prints")])).unwrap(),
            "Hi Ana, your prints is ready. "
        );
        assert_eq!(check(body).unwrap(), ["name", "item", "note"]);
    }

    /// CC-3.1: an empty name with no default is an error naming the field.
    #[test]
    fn a_missing_field_is_named() {
        let e = render("Hi {{first_name}}!", &vals(&[("first_name", " ")])).unwrap_err();
        assert_eq!(e, Error::MissingField("first_name".into()));
        assert!(e.to_string().contains("first_name"));
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["Hi {{name", "Hi {{}}", "Hi {{Name}}", "{{a b}}"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert_eq!(
            render("no fields, {single} braces", &vals(&[])).unwrap(),
            "no fields, {single} braces"
        );
    }

    #[test]
    fn a_contacts_values_and_the_requests() {
        let contact = crate::store::Contact {
            name: Some("Ana Santos".into()),
            fields: vals(&[("city", "Cebu")]),
            ..Default::default()
        };
        let v = values(
            "+639171234567",
            Some(&contact),
            &vals(&[("city", "Manila")]),
        );
        assert_eq!(v["first_name"], "Ana");
        assert_eq!(v["city"], "Manila", "the request wins");
        assert_eq!(v["number"], "+639171234567");
    }
}
