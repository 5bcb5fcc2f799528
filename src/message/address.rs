//! Mailboxes and groups (RFC 5322 §3.4, obsolete forms §4.4).
//!
//! A tokenizer (atoms, quoted strings, nested comments, domain literals, specials) and a
//! lenient reader over its tokens. Comments are semantically invisible (§3.2.2) except in the
//! legacy `address (Full Name)` form, where every mail client shows the comment as the name
//! (as `email.utils.parseaddr` does). mail-parser 0.11's address grammar folds comments into
//! display names and mis-reads the Appendix A.5 examples, so this one is ours.

use crate::codec::{charset, encoded_word};

/// One mailbox: display name (RFC 2047 decoded, `""` when absent), address (`""` when the
/// entry has none), and the group it was listed in (RFC 5322 §3.4 `group`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Address {
    pub name: String,
    pub email: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A run of atext and dots (dot-atom, obs-phrase words, obs-local-part pieces); 8-bit
    /// characters count as atext (RFC 6532).
    Atom(String),
    Quoted(String),
    Comment(String),
    Literal(String),
    Special(char),
}

fn is_special(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '<' | '>' | '[' | ']' | ':' | ';' | '@' | '\\' | ',' | '"'
    )
}

fn tokenize(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '"' => {
                let mut text = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    // Folding inside a quoted string is whitespace (RFC 5322 §3.2.4).
                    if chars[i] != '\r' && chars[i] != '\n' {
                        text.push(chars[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(text));
            }
            '(' => {
                let mut text = String::new();
                let mut depth = 0usize;
                while i < chars.len() {
                    let ch = chars[i];
                    match ch {
                        '\\' if i + 1 < chars.len() => {
                            i += 1;
                            text.push(chars[i]);
                        }
                        '(' => {
                            if depth > 0 {
                                text.push(ch);
                            }
                            depth += 1;
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(ch);
                        }
                        '\r' | '\n' => {}
                        _ => text.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Comment(text));
            }
            '[' => {
                let mut text = String::from("[");
                i += 1;
                while i < chars.len() && chars[i] != ']' {
                    if !chars[i].is_whitespace() {
                        text.push(chars[i]);
                    }
                    i += 1;
                }
                text.push(']');
                i += 1;
                out.push(Token::Literal(text));
            }
            _ if is_special(c) => {
                out.push(Token::Special(c));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
                    i += 1;
                }
                out.push(Token::Atom(chars[start..i].iter().collect()));
            }
        }
    }
    out
}

/// The tokens of one list entry, as they are read.
#[derive(Default)]
struct Entry {
    /// Words before any `<` (a display name, or an addr-spec without brackets).
    words: Vec<Token>,
    /// The tokens between `<` and `>`.
    angle: Option<Vec<Token>>,
    comments: Vec<String>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.angle.is_none()
    }
}

/// A phrase (display name or group name): words separated by single spaces, quoted strings
/// unquoted, RFC 2047 encoded words decoded.
fn phrase(words: &[Token]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for w in words {
        match w {
            Token::Atom(a) => parts.push(a.clone()),
            Token::Quoted(q) => parts.push(q.clone()),
            Token::Literal(l) => parts.push(l.clone()),
            Token::Special(c) => parts.push(c.to_string()),
            Token::Comment(_) => {}
        }
    }
    encoded_word::decode(&parts.join(" ")).trim().to_owned()
}

/// An addr-spec from its tokens: CFWS removed (obsolete forms allow it around dots and `@`),
/// a quoted local part kept quoted only when it needs to be.
fn addr_spec(tokens: &[Token]) -> String {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Atom(a) => out.push_str(a),
            Token::Quoted(q) => {
                let plain = !q.is_empty()
                    && q.chars().all(|c| {
                        c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
                    });
                if plain {
                    out.push_str(q);
                } else {
                    out.push('"');
                    for c in q.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
            Token::Literal(l) => out.push_str(l),
            Token::Special(c) => out.push(*c),
            Token::Comment(_) => {}
        }
    }
    out
}

fn finish(entry: Entry, group: &Option<String>, out: &mut Vec<Address>) {
    if entry.is_empty() {
        return;
    }
    let comment_name = || {
        entry
            .comments
            .iter()
            .map(|c| encoded_word::decode(c.trim()))
            .filter(|c| !c.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let address = if let Some(angle) = &entry.angle {
        // obs-route (`<@a.test,@b.test:user@c.test>`): the route goes.
        let spec: &[Token] = match angle.iter().rposition(|t| *t == Token::Special(':')) {
            Some(k) if angle[..k].contains(&Token::Special('@')) => &angle[k + 1..],
            _ => angle,
        };
        let mut name = phrase(&entry.words);
        if name.is_empty() {
            name = comment_name();
        }
        Address {
            name,
            email: addr_spec(spec),
            group: group.clone(),
        }
    } else if entry.words.contains(&Token::Special('@')) {
        Address {
            name: comment_name(),
            email: addr_spec(&entry.words),
            group: group.clone(),
        }
    } else if let [Token::Atom(a)] = entry.words.as_slice() {
        // A lone word is an unqualified local address (`From: root`), not a name.
        Address {
            name: comment_name(),
            email: a.clone(),
            group: group.clone(),
        }
    } else {
        Address {
            name: phrase(&entry.words),
            email: String::new(),
            group: group.clone(),
        }
    };
    out.push(address);
}

/// Parse an address list (the value of From, To, Cc...). Groups are flattened: each member
/// keeps the group's name. Never fails; empty entries and what cannot be read are left out.
pub fn parse_list(value: &[u8]) -> Vec<Address> {
    let text = charset::decode_undeclared(value);
    let mut out = Vec::new();
    let mut group: Option<String> = None;
    let mut entry = Entry::default();
    let mut tokens = tokenize(&text).into_iter();
    while let Some(t) = tokens.next() {
        match t {
            Token::Special(',') => finish(std::mem::take(&mut entry), &group, &mut out),
            Token::Special(':') if group.is_none() && entry.angle.is_none() => {
                group = Some(phrase(&entry.words));
                entry = Entry::default();
            }
            Token::Special(';') => {
                finish(std::mem::take(&mut entry), &group, &mut out);
                group = None;
            }
            Token::Special('<') => {
                let mut angle = Vec::new();
                for t in tokens.by_ref() {
                    if t == Token::Special('>') {
                        break;
                    }
                    angle.push(t);
                }
                // A second `<...>` in one entry keeps the first.
                entry.angle.get_or_insert(angle);
            }
            Token::Comment(c) => entry.comments.push(c),
            Token::Special('>') => {}
            t if entry.angle.is_none() => entry.words.push(t),
            // Words after `<...>` in the same entry are junk; ignore them.
            _ => {}
        }
    }
    finish(entry, &group, &mut out);
    out
}

/// Format a mailbox as `Name <email>`, quoting the name when RFC 5322 §3.2.3 requires it
/// (non-ASCII names are left as text, RFC 6532). Without a name, just the address.
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

/// The domain of an addr-spec (`user@example.org`), lower-cased; `None` without one. The
/// last `@` separates it: a quoted local part may hold `@`, a domain cannot (RFC 5322
/// §3.4.1). One function for the SMTP client (recipients grouped by MX) and server (local
/// domains).
pub fn domain_of(addr_spec: &str) -> Option<String> {
    let (_, domain) = addr_spec.rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_lowercase())
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
    fn rfc5322_appendix_a1() {
        // A.1.2.
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
        assert_eq!(
            parse_list(b"<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>"),
            vec![
                a("", "boss@nil.test", None),
                a("Giant; \"Big\" Box", "sysservices@example.net", None)
            ]
        );
        // A.1.3: groups keep their name; an empty group adds nothing.
        assert_eq!(
            parse_list(b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            vec![
                a("Ed Jones", "c@a.test", Some("A Group")),
                a("", "joe@where.test", Some("A Group")),
                a("John", "jdoe@one.test", Some("A Group"))
            ]
        );
        assert_eq!(parse_list(b"Undisclosed recipients:;"), vec![]);
    }

    #[test]
    fn rfc5322_appendix_a5_comments() {
        assert_eq!(
            parse_list(b"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            vec![a("Pete", "pete@silly.test", None)]
        );
        assert_eq!(
            parse_list(
                b"A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)"
            ),
            vec![
                a("Chris Jones", "c@public.example", Some("A Group")),
                a("", "joe@example.org", Some("A Group")),
                a("John", "jdoe@one.test", Some("A Group"))
            ]
        );
        assert_eq!(
            parse_list(b"(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;"),
            vec![]
        );
    }

    #[test]
    fn rfc5322_appendix_a6_obsolete() {
        // A.6.1: a route, an empty list element, CFWS around dots.
        assert_eq!(
            parse_list(b"Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
            vec![
                a("Mary Smith", "mary@example.net", None),
                a("", "jdoe@test.example", None)
            ]
        );
        // A.6.3.
        assert_eq!(
            parse_list(b"John Doe <jdoe@machine(comment).  example>"),
            vec![a("John Doe", "jdoe@machine.example", None)]
        );
        assert_eq!(
            parse_list(b"Joe Q. Public <john.q.public@example.com>"),
            vec![a("Joe Q. Public", "john.q.public@example.com", None)]
        );
    }

    #[test]
    fn legacy_comment_names_and_local_addresses() {
        // CPython test_email/data/msg_01.txt and msg_05.txt.
        assert_eq!(
            parse_list(b"bbb@ddd.com (John X. Doe)"),
            vec![a("John X. Doe", "bbb@ddd.com", None)]
        );
        assert_eq!(parse_list(b"foo"), vec![a("", "foo", None)]);
        assert_eq!(
            parse_list(b"Undisclosed recipients"),
            vec![a("Undisclosed recipients", "", None)]
        );
        assert_eq!(
            parse_list(b"\"john doe\"@example.com"),
            vec![a("", "\"john doe\"@example.com", None)]
        );
        assert_eq!(
            parse_list(b"MAILER DAEMON <>"),
            vec![a("MAILER DAEMON", "", None)]
        );
    }

    #[test]
    fn encoded_and_8bit_names() {
        assert_eq!(
            parse_list(b"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            vec![a("André Pirard", "PIRARD@vm1.ulg.ac.be", None)]
        );
        assert_eq!(
            parse_list(b"=?utf-8?B?SsO8cmdlbg==?= =?utf-8?B?IEdyb8Of?= <j@x.test>"),
            vec![a("Jürgen Groß", "j@x.test", None)]
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
    fn garbage_never_panics() {
        for s in [
            &b""[..],
            b"<",
            b">",
            b"\"",
            b"(",
            b")",
            b"\\",
            b"@",
            b":",
            b";",
            b"a:b:c;;",
            b"<<>>",
            b"(((",
            b"\"\\",
            b"[",
            b"a@[1.2.3.4",
            b"=?x?q?",
            b",,,,",
        ] {
            let _ = parse_list(s);
        }
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

    #[test]
    fn domains() {
        assert_eq!(domain_of("Bob@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(domain_of("\"a@b\"@例え.JP").as_deref(), Some("例え.jp"));
        assert_eq!(domain_of("postmaster"), None);
        assert_eq!(domain_of("a@"), None);
    }
}
