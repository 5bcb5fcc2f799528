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

/// A token and whether whitespace or a comment came before it (a display name keeps
/// `John@Home` together and `John @ Home` apart, as written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    t: Token,
    space: bool,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < chars.len() {
        let c = chars[i];
        let t = match c {
            _ if c.is_whitespace() => {
                i += 1;
                space = true;
                continue;
            }
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
                Token::Quoted(text)
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
                out.push(Tok {
                    t: Token::Comment(text),
                    space,
                });
                // A comment separates the words around it as whitespace does.
                space = true;
                continue;
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
                Token::Literal(text)
            }
            _ if is_special(c) => {
                i += 1;
                Token::Special(c)
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
                    i += 1;
                }
                Token::Atom(chars[start..i].iter().collect())
            }
        };
        out.push(Tok { t, space });
        space = false;
    }
    out
}

/// The tokens of one list entry, as they are read.
#[derive(Default)]
struct Entry {
    /// Words before any `<` (a display name, or an addr-spec without brackets).
    words: Vec<Tok>,
    /// The tokens between `<` and `>`.
    angle: Option<Vec<Tok>>,
    /// Words after `<...>`: junk, or the next address when a comma is missing.
    trailing: Vec<Tok>,
    comments: Vec<String>,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.angle.is_none()
    }
}

fn is_word(t: &Token) -> bool {
    matches!(t, Token::Atom(_) | Token::Quoted(_) | Token::Literal(_))
}

/// A phrase (display name or group name): quoted strings unquoted, RFC 2047 encoded words
/// decoded; words are separated by one space, and specials keep the spacing they were
/// written with (`John@Home`, `John @ Home`).
fn phrase(words: &[Tok]) -> String {
    let mut out = String::new();
    let mut prev_word = false;
    for w in words {
        let text: &str = match &w.t {
            Token::Atom(a) => a,
            Token::Quoted(q) => q,
            Token::Literal(l) => l,
            Token::Special(c) => {
                if w.space && !out.is_empty() {
                    out.push(' ');
                }
                out.push(*c);
                prev_word = false;
                continue;
            }
            Token::Comment(_) => continue,
        };
        if !out.is_empty() && (w.space || prev_word) {
            out.push(' ');
        }
        out.push_str(text);
        prev_word = true;
    }
    encoded_word::decode(&out).trim().to_owned()
}

/// An addr-spec from its tokens: CFWS removed (obsolete forms allow it around dots and `@`),
/// a quoted local part kept quoted only when it needs to be.
fn addr_spec(tokens: &[Tok]) -> String {
    let mut out = String::new();
    for t in tokens {
        match &t.t {
            Token::Atom(a) => out.push_str(a),
            Token::Quoted(q) => {
                let plain = !q.is_empty()
                    && q.chars().all(|c| {
                        c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
                    });
                if plain {
                    out.push_str(q);
                } else {
                    push_quoted(&mut out, q);
                }
            }
            Token::Literal(l) => out.push_str(l),
            Token::Special(c) => out.push(*c),
            Token::Comment(_) => {}
        }
    }
    out
}

/// Do two neighbouring tokens belong to one dotted run (`john.q`, obsolete `john . q`)?
fn dotted(a: &Token, b: &Token) -> bool {
    let ends = |t: &Token| matches!(t, Token::Atom(x) if x.ends_with('.'));
    let starts = |t: &Token| matches!(t, Token::Atom(x) if x.starts_with('.'));
    ends(a) || starts(b)
}

/// The addr-specs (`local@domain`) among a list entry's words, as index ranges, in order.
/// Each `@` takes the dotted run of words before it and after it; whitespace between two
/// runs starts a new address.
fn addr_spec_ranges(words: &[Tok]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut floor = 0;
    let mut i = 0;
    while i < words.len() {
        if words[i].t != Token::Special('@') {
            i += 1;
            continue;
        }
        let mut start = i;
        if start > floor && is_word(&words[start - 1].t) {
            start -= 1;
            while start > floor
                && is_word(&words[start - 1].t)
                && dotted(&words[start - 1].t, &words[start].t)
            {
                start -= 1;
            }
        }
        let mut end = i + 1;
        if end < words.len() && is_word(&words[end].t) {
            end += 1;
            while end < words.len()
                && is_word(&words[end].t)
                && dotted(&words[end - 1].t, &words[end].t)
            {
                end += 1;
            }
        }
        out.push(start..end);
        floor = end;
        i = end;
    }
    out
}

/// One entry's addresses, and whether reading them needed a repair (a missing comma).
fn finish(entry: Entry, group: &Option<String>, out: &mut Vec<Address>) -> bool {
    if entry.is_empty() {
        return false;
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
    let push = |out: &mut Vec<Address>, name: String, email: String| {
        out.push(Address {
            name,
            email,
            group: group.clone(),
        })
    };
    let mut repaired = false;
    if let Some(angle) = &entry.angle {
        // obs-route (`<@a.test,@b.test:user@c.test>`): the route goes.
        let spec: &[Tok] = match angle.iter().rposition(|t| t.t == Token::Special(':')) {
            Some(k) if angle[..k].iter().any(|t| t.t == Token::Special('@')) => &angle[k + 1..],
            _ => angle,
        };
        // Addresses before the name, with no comma (`a@b.example Bob <c@d.example>`): the
        // words after the last addr-spec are the name. Words that end with an addr-spec
        // are all name (`John@Home <john@example.com>`, as mail clients show it).
        let ranges = addr_spec_ranges(&entry.words);
        let name_from = match ranges.last() {
            Some(r) if r.end < entry.words.len() && ranges[0].start == 0 => r.end,
            _ => 0,
        };
        if name_from > 0 {
            repaired = true;
            bare(&entry.words[..name_from], group, out);
        }
        let mut name = phrase(&entry.words[name_from..]);
        if name.is_empty() {
            name = comment_name();
        }
        push(out, name, addr_spec(spec));
        // Addresses after `<...>` with no comma (`A <a@x> B <b@x>` is split where the
        // second `<` starts; words left after the last `>` are read here).
        if entry.trailing.iter().any(|t| t.t == Token::Special('@')) {
            repaired = true;
            bare(&entry.trailing, group, out);
        }
        return repaired;
    }
    let ranges = addr_spec_ranges(&entry.words);
    match ranges.as_slice() {
        [r] if *r == (0..entry.words.len()) => {
            push(out, comment_name(), addr_spec(&entry.words));
        }
        [] => {
            if let [
                Tok {
                    t: Token::Atom(a), ..
                },
            ] = entry.words.as_slice()
            {
                // A lone word is an unqualified local address (`From: root`), not a name.
                push(out, comment_name(), a.clone());
            } else {
                push(out, phrase(&entry.words), String::new());
            }
        }
        _ => {
            repaired = true;
            bare(&entry.words, group, out);
        }
    }
    repaired
}

/// Addresses written one after another without commas: each addr-spec takes the words
/// before it as its name (`John Smith john@x.example`); words after the last one are a name
/// without an address.
fn bare(words: &[Tok], group: &Option<String>, out: &mut Vec<Address>) {
    let mut at = 0;
    for r in addr_spec_ranges(words) {
        out.push(Address {
            name: phrase(&words[at..r.start]),
            email: addr_spec(&words[r.clone()]),
            group: group.clone(),
        });
        at = r.end;
    }
    if words[at..].iter().any(|t| is_word(&t.t)) {
        out.push(Address {
            name: phrase(&words[at..]),
            email: String::new(),
            group: group.clone(),
        });
    }
}

/// Parse an address list (the value of From, To, Cc...). Groups are flattened: each member
/// keeps the group's name. Never fails; empty entries and what cannot be read are left out.
pub fn parse_list(value: &[u8]) -> Vec<Address> {
    parse_list_checked(value).0
}

/// [`parse_list`], and whether the list needed a repair: addresses separated by whitespace
/// only (no comma, RFC 5322 §3.4), split as `email.utils.getaddresses` and mail clients
/// split them.
pub fn parse_list_checked(value: &[u8]) -> (Vec<Address>, bool) {
    let text = charset::decode_undeclared(&encoded_word::escape_raw_bytes(value));
    let mut out = Vec::new();
    let mut repaired = false;
    let mut group: Option<String> = None;
    let mut entry = Entry::default();
    let mut tokens = tokenize(&text).into_iter();
    while let Some(tok) = tokens.next() {
        match tok.t {
            Token::Special(',') => {
                repaired |= finish(std::mem::take(&mut entry), &group, &mut out);
            }
            Token::Special(':') if group.is_none() && entry.angle.is_none() => {
                group = Some(phrase(&entry.words));
                entry = Entry::default();
            }
            Token::Special(';') => {
                repaired |= finish(std::mem::take(&mut entry), &group, &mut out);
                group = None;
            }
            Token::Special('<') => {
                let mut angle = Vec::new();
                for t in tokens.by_ref() {
                    if t.t == Token::Special('>') {
                        break;
                    }
                    angle.push(t);
                }
                if entry.angle.is_some() {
                    // A second `<...>` in one entry: a comma is missing before the words
                    // that name it (`A <a@x> B <b@x>`).
                    let words = std::mem::take(&mut entry.trailing);
                    finish(std::mem::take(&mut entry), &group, &mut out);
                    repaired = true;
                    entry.words = words;
                }
                entry.angle = Some(angle);
            }
            Token::Comment(c) => entry.comments.push(c),
            Token::Special('>') => {}
            _ if entry.angle.is_none() => entry.words.push(tok),
            _ => entry.trailing.push(tok),
        }
    }
    repaired |= finish(entry, &group, &mut out);
    (out, repaired)
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
        quoted_string(name)
    };
    if email.is_empty() {
        display
    } else {
        format!("{display} <{email}>")
    }
}

/// `text` as an RFC 5322 quoted-string: in double quotes, `"` and `\` escaped.
pub fn quoted_string(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    push_quoted(&mut q, text);
    q
}

/// [`quoted_string`] appended to `out`.
pub fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
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
    fn missing_commas() {
        // Issue 12 item 5: addresses separated by whitespace only are split, and reported.
        let cases: [(&[u8], Vec<Address>); 6] = [
            (
                b"a@b.example c@d.example",
                vec![a("", "a@b.example", None), a("", "c@d.example", None)],
            ),
            (
                b"a@b.example Bob <c@d.example>",
                vec![a("", "a@b.example", None), a("Bob", "c@d.example", None)],
            ),
            (
                b"Ann Bee <a@b.example> Cy Dee <c@d.example>",
                vec![
                    a("Ann Bee", "a@b.example", None),
                    a("Cy Dee", "c@d.example", None),
                ],
            ),
            (
                b"<a@b.example> c@d.example",
                vec![a("", "a@b.example", None), a("", "c@d.example", None)],
            ),
            (
                b"John Smith john@x.example",
                vec![a("John Smith", "john@x.example", None)],
            ),
            (
                b"G: a@b.example c@d.example;",
                vec![
                    a("", "a@b.example", Some("G")),
                    a("", "c@d.example", Some("G")),
                ],
            ),
        ];
        for (input, expected) in cases {
            let (list, repaired) = parse_list_checked(input);
            assert_eq!(list, expected, "{}", String::from_utf8_lossy(input));
            assert!(repaired, "{}", String::from_utf8_lossy(input));
        }
        // Well-formed lists and the obsolete forms are not repairs.
        for input in [
            &b"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"[..],
            b"jdoe@test  . example",
            b"john . q . public @ example . com",
            b"bbb@ddd.com (John X. Doe)",
            b"Undisclosed recipients",
            b"John Q. Public <jqp@example.com> (comment)",
        ] {
            let (list, repaired) = parse_list_checked(input);
            assert!(!repaired, "{}", String::from_utf8_lossy(input));
            assert_eq!(list.len(), input.iter().filter(|&&b| b == b',').count() + 1);
        }
        assert_eq!(
            parse_list(b"john . q . public @ example . com")[0].email,
            "john.q.public@example.com"
        );
    }

    #[test]
    fn at_sign_in_display_name() {
        // Issue 12 item 7: the name keeps its spacing (mail clients show "John@Home").
        assert_eq!(
            parse_list(b"John@Home <john@example.com>"),
            vec![a("John@Home", "john@example.com", None)]
        );
        assert_eq!(
            parse_list(b"John @ Home <john@example.com>"),
            vec![a("John @ Home", "john@example.com", None)]
        );
        assert_eq!(
            parse_list(b"support@bank.example <x@evil.example>"),
            vec![a("support@bank.example", "x@evil.example", None)]
        );
        assert_eq!(
            parse_list(b"\"Joe\"Smith <j@x.example>"),
            vec![a("Joe Smith", "j@x.example", None)]
        );
    }

    #[test]
    fn raw_8bit_in_encoded_name() {
        // Issue 12 item 3, in an address: raw Latin-1 inside a Q word is decoded once.
        assert_eq!(
            parse_list(b"=?iso-8859-1?Q?Andr\xe9?= <a@b.test>"),
            vec![a("André", "a@b.test", None)]
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
