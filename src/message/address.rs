//! Mailboxes and groups (RFC 5322 §3.4), read with mail-parser's address grammar.

use std::borrow::Cow;

use mail_parser::{Addr, HeaderValue, parsers::MessageStream};

use crate::codec::charset;

/// One mailbox: display name (RFC 2047 decoded, `""` when absent), address (`""` when the
/// entry has none), and the group it was listed in (RFC 5322 §3.4 `group`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Address {
    pub name: String,
    pub email: String,
    pub group: Option<String>,
}

/// Parse an address list (the value of From, To, Cc...). Groups are flattened: each member
/// keeps the group's name. Never fails; what cannot be read is left out.
pub fn parse_list(value: &[u8]) -> Vec<Address> {
    // mail-parser reads tokens as UTF-8; give it windows-1252 text as UTF-8 instead of
    // letting it replace Latin-1 bytes.
    let text: Cow<'_, [u8]> = if value.is_ascii() || std::str::from_utf8(value).is_ok() {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(charset::decode_undeclared(value).into_bytes())
    };
    let mut input = text.into_owned();
    // The grammar stops at the end of the header line.
    if !input.ends_with(b"\n") {
        input.push(b'\n');
    }
    let mut out = Vec::new();
    match MessageStream::new(&input).parse_address() {
        HeaderValue::Address(mail_parser::Address::List(list)) => {
            out.extend(list.iter().map(|a| convert(a, None)));
        }
        HeaderValue::Address(mail_parser::Address::Group(groups)) => {
            for g in &groups {
                let name = g.name.as_deref().map(str::to_owned);
                out.extend(g.addresses.iter().map(|a| convert(a, name.clone())));
            }
        }
        _ => {}
    }
    out
}

fn convert(a: &Addr<'_>, group: Option<String>) -> Address {
    let name = a.name.as_deref().map(clean).unwrap_or_default();
    match a.address.as_deref() {
        Some(email) => Address {
            name,
            email: clean(email),
            group,
        },
        // A lone word is an unqualified local address (`From: root`), not a name.
        None if !name.is_empty() && !name.contains(char::is_whitespace) => Address {
            name: String::new(),
            email: name,
            group,
        },
        None => Address {
            name,
            email: String::new(),
            group,
        },
    }
}

fn clean(s: &str) -> String {
    s.trim().to_owned()
}

/// Format a mailbox as `Name <email>`, quoting the name when RFC 5322 §3.2.3 requires it
/// (non-ASCII names are left as text, RFC 6532).
pub fn format(name: &str, email: &str) -> String {
    if name.is_empty() {
        return email.to_owned();
    }
    let atext = |c: char| {
        c.is_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
    };
    let display = if name.chars().all(atext) && !name.starts_with(' ') && !name.ends_with(' ') {
        name.to_owned()
    } else {
        let mut q = String::with_capacity(name.len() + 2);
        q.push('"');
        for c in name.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    };
    if email.is_empty() {
        display
    } else {
        format!("{display} <{email}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: &str, email: &str, group: Option<&str>) -> Address {
        Address {
            name: name.into(),
            email: email.into(),
            group: group.map(Into::into),
        }
    }

    #[test]
    fn rfc5322_appendix_a() {
        // RFC 5322 Appendix A.1.2.
        assert_eq!(
            parse_list(b"\"Joe Q. Public\" <john.q.public@example.com>"),
            vec![a("Joe Q. Public", "john.q.public@example.com", None)]
        );
        assert_eq!(
            parse_list(b"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
            vec![
                a("Mary Smith", "mary@x.test", None),
                a("", "jdoe@example.org", None),
                a("Who?", "one@y.test", None)
            ]
        );
        // A.1.3: groups keep their name.
        assert_eq!(
            parse_list(b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            vec![
                a("Ed Jones", "c@a.test", Some("A Group")),
                a("", "joe@where.test", Some("A Group")),
                a("John", "jdoe@one.test", Some("A Group"))
            ]
        );
        assert_eq!(parse_list(b"Undisclosed recipients:;"), vec![]);
        // An unqualified local address (CPython msg_05.txt).
        assert_eq!(parse_list(b"foo"), vec![a("", "foo", None)]);
    }

    #[test]
    fn encoded_and_8bit_names() {
        assert_eq!(
            parse_list(b"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            vec![a("André Pirard", "PIRARD@vm1.ulg.ac.be", None)]
        );
        assert_eq!(
            parse_list(b"Andr\xe9 <a@b.test>"),
            vec![a("André", "a@b.test", None)]
        );
        assert_eq!(
            parse_list("Zoë <z@b.test>".as_bytes()),
            vec![a("Zoë", "z@b.test", None)]
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(format("Bob Smith", "bob@x.test"), "Bob Smith <bob@x.test>");
        assert_eq!(
            format("Smith, Bob", "b@x.test"),
            "\"Smith, Bob\" <b@x.test>"
        );
        assert_eq!(format("", "b@x.test"), "b@x.test");
        assert_eq!(format("a \"b\"", "c@d"), "\"a \\\"b\\\"\" <c@d>");
    }
}
