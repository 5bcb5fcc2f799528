//! What FETCH reads out of a message (RFC 9051 §7.5.2): BODYSTRUCTURE, ENVELOPE, body
//! sections (`BODY[1.2.HEADER.FIELDS (...)]`), and BINARY's decoded content, computed from
//! the parsed message (`crate::message`).
//!
//! Everything works on the message with CRLF line ends, as IMAP sends it: a file stored with
//! bare LFs (Python's `mailbox` writes them) is converted once when read, so the sizes and
//! line counts in BODYSTRUCTURE are those of the octets a client receives, as Dovecot counts
//! them. Values are what the header fields say, unfolded but not decoded: RFC 2047 words
//! and RFC 2231 parameters reach the client as written, as in Dovecot.

use std::borrow::Cow;

use super::command::{Section, SectionText};
use crate::imap::types::{Address, BodyKind, BodyStructure, Disposition, Envelope};
use crate::message::body::TransferEncoding;
use crate::message::parse::Body;
use crate::message::{Document, MessageView, PartId};

/// `data` with every bare LF (and lone CR) as CRLF; borrowed when it already is.
pub fn to_crlf(data: &[u8]) -> Cow<'_, [u8]> {
    let mut bare = false;
    for i in memchr::memchr2_iter(b'\r', b'\n', data) {
        let ok = match data[i] {
            b'\n' => i > 0 && data[i - 1] == b'\r',
            _ => data.get(i + 1) == Some(&b'\n'),
        };
        if !ok {
            bare = true;
            break;
        }
    }
    if !bare {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

// ---- header values -----------------------------------------------------------------------

/// A header value with its line breaks removed and surrounding whitespace trimmed, as
/// Dovecot puts it in ENVELOPE and BODYSTRUCTURE.
fn nolf(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let end = out
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    out.truncate(end);
    let start = out
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(out.len());
    out.drain(..start);
    out
}

/// The last field of this name (Dovecot's choice when a message repeats Subject or Date).
fn field_value(m: &MessageView<'_>, name: &str) -> Option<Vec<u8>> {
    m.fields()
        .filter(|f| f.is(name))
        .last()
        .map(|f| nolf(f.value))
}

fn part_field(doc: &Document, id: PartId, name: &str) -> Option<Vec<u8>> {
    doc.part(id)?.field(name).map(|f| nolf(f.value))
}

/// Tokens of a structured header value (RFC 5322 §3.2): atoms, quoted strings, comments,
/// domain literals and specials, over raw octets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Atom(Vec<u8>),
    Quoted(Vec<u8>),
    Comment(Vec<u8>),
    Literal(Vec<u8>),
    Special(u8),
}

fn tokenize(v: &[u8], specials: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    if v[i] != b'\r' && v[i] != b'\n' {
                        s.push(v[i]);
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'(' => {
                let mut s = Vec::new();
                let mut depth = 0usize;
                while i < v.len() {
                    match v[i] {
                        b'\\' if i + 1 < v.len() => {
                            i += 1;
                            s.push(v[i]);
                        }
                        b'(' => {
                            if depth > 0 {
                                s.push(b'(');
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            s.push(b')');
                        }
                        b'\r' | b'\n' => {}
                        c => s.push(c),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Comment(s));
            }
            b'[' => {
                let start = i;
                while i < v.len() && v[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(v.len());
                out.push(Token::Literal(v[start..i].to_vec()));
            }
            _ if specials.contains(&b) => {
                out.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while i < v.len()
                    && !matches!(v[i], b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'(' | b'[')
                    && !specials.contains(&v[i])
                {
                    i += 1;
                }
                out.push(Token::Atom(v[start..i].to_vec()));
            }
        }
    }
    out
}

// ---- ENVELOPE ------------------------------------------------------------------------------

const ADDRESS_SPECIALS: &[u8] = b"<>:;@,";

/// Words of a phrase joined by single spaces (quoted strings unquoted, comments dropped).
fn phrase(tokens: &[Token]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for t in tokens {
        let w: &[u8] = match t {
            Token::Atom(a) | Token::Quoted(a) | Token::Literal(a) => a,
            Token::Special(b'.') => b".",
            Token::Special(_) | Token::Comment(_) => continue,
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    (!out.is_empty()).then_some(out)
}

/// `local@domain` tokens: the local part (quoted parts unquoted) and the domain.
fn addr_spec(tokens: &[Token]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let at = tokens.iter().rposition(|t| *t == Token::Special(b'@'));
    let join = |ts: &[Token]| -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for t in ts {
            match t {
                Token::Atom(a) | Token::Quoted(a) | Token::Literal(a) => out.extend_from_slice(a),
                _ => {}
            }
        }
        (!out.is_empty()).then_some(out)
    };
    match at {
        Some(i) => (join(&tokens[..i]), join(&tokens[i + 1..])),
        None => (join(tokens), None),
    }
}

fn mailbox(tokens: &[Token]) -> Option<Address> {
    let words: Vec<Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .cloned()
        .collect();
    if words.is_empty() {
        return None;
    }
    let (name, adl, spec) = match words.iter().position(|t| *t == Token::Special(b'<')) {
        Some(lt) => {
            let end = words[lt..]
                .iter()
                .position(|t| *t == Token::Special(b'>'))
                .map_or(words.len(), |e| lt + e);
            let inner = &words[lt + 1..end];
            // obs-route: `<@a,@b:user@host>`.
            let (adl, spec) = match inner.iter().position(|t| *t == Token::Special(b':')) {
                Some(colon) if inner.first() == Some(&Token::Special(b'@')) => {
                    let mut route = Vec::new();
                    for t in &inner[..colon] {
                        match t {
                            Token::Special(b'@') => route.push(b'@'),
                            Token::Special(b',') => route.push(b','),
                            Token::Atom(a) | Token::Literal(a) => route.extend_from_slice(a),
                            _ => {}
                        }
                    }
                    (Some(route), &inner[colon + 1..])
                }
                _ => (None, inner),
            };
            (phrase(&words[..lt]), adl, spec.to_vec())
        }
        // Words with no `@` and no `<...>`: one word is a local address (`To: root`), more
        // are a name without an address (`To: Undisclosed recipients`), as the message parser
        // and Dovecot read them; never glued into one local part.
        None if !words.contains(&Token::Special(b'@'))
            && words
                .iter()
                .filter(|t| matches!(t, Token::Atom(_) | Token::Quoted(_)))
                .count()
                > 1 =>
        {
            (phrase(&words), None, Vec::new())
        }
        None => (None, None, words),
    };
    let (local, domain) = addr_spec(&spec);
    Some(Address {
        name,
        adl,
        // Host NIL marks a group in ENVELOPE, so a missing part is spelled out (Dovecot's
        // placeholders).
        mailbox: Some(local.unwrap_or_else(|| b"MISSING_MAILBOX".to_vec())),
        host: Some(domain.unwrap_or_else(|| b"MISSING_DOMAIN".to_vec())),
    })
}

/// An address list with groups (`name: a, b;` becomes a start marker, the members, and an
/// end marker).
pub fn address_list(value: &[u8]) -> Vec<Address> {
    let tokens = tokenize(value, ADDRESS_SPECIALS);
    let mut out = Vec::new();
    let mut entry: Vec<Token> = Vec::new();
    let mut in_group = false;
    let mut in_angle = false;
    for t in tokens {
        match t {
            Token::Special(b'<') => {
                in_angle = true;
                entry.push(t);
            }
            Token::Special(b'>') => {
                in_angle = false;
                entry.push(t);
            }
            Token::Special(b',') if !in_angle => {
                out.extend(mailbox(&entry));
                entry.clear();
            }
            Token::Special(b':') if !in_angle && !in_group => {
                in_group = true;
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(phrase(&entry).unwrap_or_default()),
                    host: None,
                });
                entry.clear();
            }
            Token::Special(b';') if !in_angle && in_group => {
                out.extend(mailbox(&entry));
                entry.clear();
                in_group = false;
                out.push(Address::default());
            }
            t => entry.push(t),
        }
    }
    out.extend(mailbox(&entry));
    if in_group {
        out.push(Address::default());
    }
    out
}

/// The addresses of every field of this name, in order (repeated From fields are merged, as
/// Dovecot merges them).
fn addresses(m: &MessageView<'_>, name: &str) -> Vec<Address> {
    m.fields()
        .filter(|f| f.is(name))
        .flat_map(|f| address_list(f.value))
        .collect()
}

/// The ENVELOPE of a message (RFC 9051 §7.5.2): Sender and Reply-To default to From.
pub fn envelope(m: &MessageView<'_>) -> Envelope {
    let from = addresses(m, "From");
    let mut sender = addresses(m, "Sender");
    if sender.is_empty() {
        sender = from.clone();
    }
    let mut reply_to = addresses(m, "Reply-To");
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    Envelope {
        date: field_value(m, "Date"),
        subject: field_value(m, "Subject"),
        from,
        sender,
        reply_to,
        to: addresses(m, "To"),
        cc: addresses(m, "Cc"),
        bcc: addresses(m, "Bcc"),
        in_reply_to: field_value(m, "In-Reply-To"),
        message_id: field_value(m, "Message-ID"),
    }
}

// ---- BODYSTRUCTURE -------------------------------------------------------------------------

const PARAM_SPECIALS: &[u8] = b"()<>@,;:\\/[]?=";

/// The type (or disposition), the subtype, and the parameters of a content field.
type ContentValue = (Vec<u8>, Option<Vec<u8>>, Vec<(String, String)>);

/// A Content-Type or Content-Disposition value: its first token(s) and its parameters, with
/// RFC 2231 continuations joined as Dovecot joins them (`name*0`, `name*1*` become `name*`,
/// the plain pieces percent-encoded).
fn content_value(value: &[u8], with_subtype: bool) -> ContentValue {
    let tokens: Vec<Token> = tokenize(value, PARAM_SPECIALS)
        .into_iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let mut i = 0;
    let word = |t: Option<&Token>| match t {
        Some(Token::Atom(a)) | Some(Token::Quoted(a)) => a.clone(),
        _ => Vec::new(),
    };
    let main = word(tokens.first());
    i += 1;
    let mut sub = None;
    if with_subtype && tokens.get(i) == Some(&Token::Special(b'/')) {
        sub = Some(word(tokens.get(i + 1)));
        i += 2;
    }
    let mut raw: Vec<(String, Vec<u8>)> = Vec::new();
    while i < tokens.len() {
        if tokens[i] != Token::Special(b';') {
            i += 1;
            continue;
        }
        i += 1;
        let (Some(Token::Atom(name)), Some(Token::Special(b'='))) =
            (tokens.get(i), tokens.get(i + 1))
        else {
            continue;
        };
        let v = match tokens.get(i + 2) {
            Some(Token::Atom(v)) | Some(Token::Quoted(v)) => v.clone(),
            _ => Vec::new(),
        };
        raw.push((String::from_utf8_lossy(name).to_ascii_lowercase(), v));
        i += 3;
    }
    (main, sub, join_rfc2231(raw))
}

fn join_rfc2231(raw: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    // name -> pieces (index, extended, value)
    type Pieces = Vec<(u32, bool, Vec<u8>)>;
    let mut continued: Vec<(String, Pieces)> = Vec::new();
    for (name, value) in raw {
        let (base, rest) = match name.split_once('*') {
            Some((b, r)) => (b.to_owned(), Some(r.to_owned())),
            None => (name.clone(), None),
        };
        match rest.as_deref() {
            None | Some("") => {
                let key = if rest.is_some() {
                    format!("{base}*")
                } else {
                    base
                };
                out.push((key, String::from_utf8_lossy(&value).into_owned()));
            }
            Some(r) => {
                let (num, ext) = match r.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (r, false),
                };
                let Ok(n) = num.parse::<u32>() else {
                    out.push((name, String::from_utf8_lossy(&value).into_owned()));
                    continue;
                };
                match continued.iter_mut().find(|(b, _)| *b == base) {
                    Some((_, pieces)) => pieces.push((n, ext, value)),
                    None => continued.push((base, vec![(n, ext, value)])),
                }
            }
        }
    }
    for (base, mut pieces) in continued {
        pieces.sort_by_key(|p| p.0);
        let extended = pieces.iter().any(|p| p.1);
        let mut value = Vec::new();
        for (_, ext, v) in pieces {
            if extended && !ext {
                for &b in &v {
                    if b.is_ascii_alphanumeric() || b"-._~!$&'+".contains(&b) {
                        value.push(b);
                    } else {
                        value.extend_from_slice(format!("%{b:02X}").as_bytes());
                    }
                }
            } else {
                value.extend_from_slice(&v);
            }
        }
        let key = if extended { format!("{base}*") } else { base };
        out.push((key, String::from_utf8_lossy(&value).into_owned()));
    }
    out
}

fn text(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn lines(body: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', body).count() as u64
}

/// Disposition, language and location of a part (extension data).
fn extension(doc: &Document, id: PartId, b: &mut BodyStructure) {
    if let Some(v) = part_field(doc, id, "Content-Disposition") {
        let (kind, _, params) = content_value(&v, false);
        if !kind.is_empty() {
            b.disposition = Some(Disposition {
                kind: text(kind),
                params,
            });
        }
    }
    if let Some(v) = part_field(doc, id, "Content-Language") {
        b.language = tokenize(&v, b",")
            .into_iter()
            .filter_map(|t| match t {
                Token::Atom(a) | Token::Quoted(a) => Some(text(a)),
                _ => None,
            })
            .collect();
    }
    b.location = part_field(doc, id, "Content-Location").map(text);
}

/// The BODYSTRUCTURE of the message `m` of `doc`.
pub fn body_structure(doc: &Document, m: &MessageView<'_>) -> BodyStructure {
    part_structure(doc, m.root().id, 0)
}

fn part_structure(doc: &Document, id: PartId, depth: usize) -> BodyStructure {
    let Some(part) = doc.part(id) else {
        return BodyStructure::new(BodyKind::Text, "text", "plain");
    };
    let node = part.node();
    let raw = doc.bytes();
    let ct = part_field(doc, id, "Content-Type");
    let parsed = ct.as_deref().map(|v| content_value(v, true));
    if let Body::Multipart { children } = &node.body {
        let parts = if depth < crate::imap::lex::MAX_DEPTH - 4 {
            children
                .iter()
                .map(|&c| part_structure(doc, c, depth + 1))
                .collect()
        } else {
            Vec::new()
        };
        return multipart_structure(doc, id, parsed, parts);
    }
    if parsed
        .as_ref()
        .is_some_and(|p| p.0.eq_ignore_ascii_case(b"multipart"))
        && matches!(node.body, Body::Leaf)
    {
        // A multipart whose boundary is missing or never appears: one empty text part, as
        // Dovecot shows it (a single part typed multipart would be no IMAP body at all);
        // `resolve` gives BODY[1] the same empty part.
        return multipart_structure(doc, id, parsed, Vec::new());
    }
    let (media, subtype) = match &parsed {
        Some((t, Some(s), _)) if !t.is_empty() && !s.is_empty() => {
            (text(t.clone()), text(s.clone()))
        }
        _ if node.in_digest => ("message".to_owned(), "rfc822".to_owned()),
        _ => ("text".to_owned(), "plain".to_owned()),
    };
    let inner = match node.body {
        Body::Message { message } => doc.message(message),
        _ => None,
    };
    let encapsulated = media.eq_ignore_ascii_case("message")
        && (subtype.eq_ignore_ascii_case("rfc822") || subtype.eq_ignore_ascii_case("global"));
    let kind = if inner.is_some() || encapsulated {
        BodyKind::Message
    } else if media.eq_ignore_ascii_case("text") {
        BodyKind::Text
    } else {
        BodyKind::Basic
    };
    let mut b = BodyStructure::new(kind, &media, &subtype);
    b.params = parsed.map(|p| p.2).unwrap_or_default();
    if kind == BodyKind::Text && !b.params.iter().any(|(k, _)| k == "charset") {
        // RFC 2045 §5.2's default, stated as Dovecot states it.
        b.params.push(("charset".into(), "us-ascii".into()));
    }
    b.id = part_field(doc, id, "Content-ID").map(text);
    b.description = part_field(doc, id, "Content-Description").map(text);
    b.encoding = Some(
        part_field(doc, id, "Content-Transfer-Encoding")
            .map(text)
            .unwrap_or_else(|| "7bit".into()),
    );
    let body = &raw[node.body_start.min(node.body_end)..node.body_end];
    b.size = Some(body.len() as u64);
    match kind {
        BodyKind::Text => b.lines = Some(lines(body)),
        BodyKind::Message => {
            match inner {
                Some(inner) => {
                    b.envelope = Some(Box::new(envelope(&inner)));
                    b.body = Some(Box::new(part_structure(doc, inner.root().id, depth + 1)));
                }
                None => {
                    // Transfer-encoded, so not readable as a message: no envelope, no body
                    // (Dovecot's answer).
                    b.envelope = Some(Box::default());
                    b.body = Some(Box::new(empty_text()));
                }
            }
            b.lines = Some(lines(body));
        }
        _ => {}
    }
    b.md5 = part_field(doc, id, "Content-MD5").map(text);
    extension(doc, id, &mut b);
    b
}

/// An empty `text/plain` part.
/// A multipart's structure from its parsed Content-Type and its parts' (an empty text part
/// when there are none: a multipart must have a part, RFC 9051 §9 `body-type-mpart`).
fn multipart_structure(
    doc: &Document,
    id: PartId,
    parsed: Option<ContentValue>,
    mut parts: Vec<BodyStructure>,
) -> BodyStructure {
    let subtype = parsed
        .as_ref()
        .and_then(|p| p.1.clone())
        .map(text)
        .unwrap_or_else(|| "mixed".into());
    let mut b = BodyStructure::new(BodyKind::Multipart, "multipart", &subtype);
    if parts.is_empty() {
        parts.push(empty_text());
    }
    b.parts = parts;
    b.params = parsed.map(|p| p.2).unwrap_or_default();
    extension(doc, id, &mut b);
    b
}

fn empty_text() -> BodyStructure {
    let mut empty = BodyStructure::new(BodyKind::Text, "text", "plain");
    empty.params = vec![("charset".into(), "us-ascii".into())];
    empty.encoding = Some("7bit".into());
    empty.size = Some(0);
    empty.lines = Some(0);
    empty
}

// ---- sections ------------------------------------------------------------------------------

/// Where a section's part numbers lead.
enum Target {
    /// A message (the top-level one, or one inside a message/rfc822 part).
    Message(u32),
    Part(PartId),
    /// The empty text part that BODYSTRUCTURE shows in a multipart without a boundary.
    Empty,
}

/// A part typed multipart that the parser read as a leaf (its boundary is missing or never
/// appears): BODYSTRUCTURE shows it as a multipart of one empty text part.
fn boundaryless_multipart(doc: &Document, id: PartId) -> bool {
    matches!(doc.part(id).map(|p| &p.node().body), Some(Body::Leaf))
        && part_field(doc, id, "Content-Type").is_some_and(|v| {
            content_value(&v, false)
                .0
                .eq_ignore_ascii_case(b"multipart")
        })
}

fn resolve(doc: &Document, numbers: &[u32]) -> Option<Target> {
    let mut cur = Target::Message(0);
    for &n in numbers {
        let index = n.checked_sub(1)? as usize;
        let container = match cur {
            Target::Message(m) => doc.message(m)?.root().id,
            Target::Part(p) => match &doc.part(p)?.node().body {
                Body::Message { message } => doc.message(*message)?.root().id,
                _ => p,
            },
            Target::Empty => return None,
        };
        let node = doc.part(container)?.node();
        cur = match &node.body {
            Body::Multipart { children } => Target::Part(*children.get(index)?),
            _ if boundaryless_multipart(doc, container) => match index {
                0 => Target::Empty,
                _ => return None,
            },
            _ if index == 0 => match cur {
                // Part 1 of a message that is not multipart is its body.
                Target::Message(_) => Target::Part(container),
                Target::Part(p) if matches!(doc.part(p)?.node().body, Body::Message { .. }) => {
                    Target::Part(container)
                }
                Target::Part(_) | Target::Empty => return None,
            },
            _ => return None,
        };
    }
    Some(cur)
}

/// The message a part holds (for `HEADER` and `TEXT` of a message/rfc822 part).
fn message_of(doc: &Document, t: &Target) -> Option<u32> {
    match t {
        Target::Message(m) => Some(*m),
        Target::Part(p) => match doc.part(*p)?.node().body {
            Body::Message { message } => Some(message),
            _ => None,
        },
        Target::Empty => None,
    }
}

/// The octets of `section` (`None`: no such part).
pub fn section<'d>(doc: &'d Document, s: &Section) -> Option<Cow<'d, [u8]>> {
    let raw = doc.bytes();
    let target = resolve(doc, &s.part)?;
    match &s.text {
        SectionText::Full => match target {
            Target::Message(m) => Some(Cow::Borrowed(doc.message(m)?.bytes())),
            Target::Part(p) => {
                let n = doc.part(p)?.node();
                Some(Cow::Borrowed(
                    &raw[n.body_start.min(n.body_end)..n.body_end],
                ))
            }
            Target::Empty => Some(Cow::Borrowed(b"")),
        },
        SectionText::Mime => match target {
            Target::Part(p) => {
                let n = doc.part(p)?.node();
                let mut header = &raw[n.header_start..n.body_start.max(n.header_start)];
                // A part that ends right after its header (with or without the blank line):
                // the line break before the delimiter belongs to the delimiter (RFC 2046
                // §5.1.1), as it does for a body (Dovecot's answer too).
                if n.body_end <= n.body_start
                    && raw
                        .get(n.body_start..)
                        .is_some_and(|r| r.starts_with(b"--"))
                {
                    header = header
                        .strip_suffix(b"\r\n")
                        .or_else(|| header.strip_suffix(b"\n"))
                        .unwrap_or(header);
                }
                Some(Cow::Borrowed(header))
            }
            Target::Empty => Some(Cow::Borrowed(b"")),
            Target::Message(_) => None,
        },
        SectionText::Header | SectionText::Fields { .. } | SectionText::Text => {
            let Some(m) = message_of(doc, &target) else {
                // HEADER or TEXT of a part that is not a message: empty (Dovecot's answer).
                return Some(Cow::Borrowed(b""));
            };
            let msg = doc.message(m)?;
            let root = msg.root().node();
            let end = msg.offset() + msg.bytes().len();
            match &s.text {
                SectionText::Text => Some(Cow::Borrowed(&raw[root.body_start.min(end)..end])),
                SectionText::Header => {
                    Some(Cow::Borrowed(&raw[root.header_start..root.body_start]))
                }
                SectionText::Fields { not, names } => {
                    let mut out = Vec::new();
                    for f in msg.fields() {
                        let listed = names.iter().any(|n| f.is(n));
                        if listed != *not {
                            out.extend_from_slice(f.line);
                        }
                    }
                    out.extend_from_slice(b"\r\n");
                    Some(Cow::Owned(out))
                }
                _ => None,
            }
        }
    }
}

/// The content transfer encoding of a part is one BINARY cannot undo (`NO [UNKNOWN-CTE]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCte;

/// BINARY (RFC 3516): the part's content with its transfer encoding undone.
pub fn binary<'d>(doc: &'d Document, s: &Section) -> Result<Option<Cow<'d, [u8]>>, UnknownCte> {
    if s.part.is_empty() {
        return Ok(section(doc, s));
    }
    let p = match resolve(doc, &s.part) {
        Some(Target::Part(p)) => p,
        Some(Target::Empty) => return Ok(Some(Cow::Borrowed(b""))),
        _ => return Ok(None),
    };
    let Some(part) = doc.part(p) else {
        return Ok(None);
    };
    let node = part.node();
    let raw = doc.bytes();
    let body = &raw[node.body_start.min(node.body_end)..node.body_end];
    if !matches!(node.body, Body::Leaf) {
        return Ok(Some(Cow::Borrowed(body)));
    }
    let cte = TransferEncoding::of(raw, doc.tree().headers(p));
    match cte {
        TransferEncoding::Unknown | TransferEncoding::Uuencode => Err(UnknownCte),
        other => Ok(Some(other.decode(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::fetch::{write_body, write_envelope};

    fn sec(part: &[u32], text: SectionText) -> Section {
        Section {
            part: part.to_vec(),
            text,
        }
    }

    const NESTED: &[u8] = b"From: \"Doe, Jane\" <jane@example.org>\r\n\
To: undisclosed-recipients:;\r\n\
Cc: a@b.c, Bob <bob@x.y>\r\n\
Subject: =?utf-8?q?hi?=\r\n\
Message-ID: <1@x>\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello\r\n\
world\r\n\
--b1\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: root\r\n\
\r\n\
inner body\r\n\
--b1\r\n\
Content-Type: application/octet-stream; name*0=\"a b\"; name*1*=%C3%A4.bin\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=x.bin\r\n\
Content-Language: en, de\r\n\
\r\n\
AAEC\r\n\
--b1--\r\n";

    #[test]
    fn crlf_conversion() {
        assert!(matches!(to_crlf(b"a\r\nb\r\n"), Cow::Borrowed(_)));
        assert_eq!(to_crlf(b"a\nb\r\nc\rd"), &b"a\r\nb\r\nc\r\nd"[..]);
    }

    #[test]
    fn envelope_fields_and_groups() {
        let doc = Document::from_vec(NESTED.to_vec());
        let e = envelope(&doc.root());
        assert_eq!(e.subject.as_deref(), Some(&b"=?utf-8?q?hi?="[..]));
        assert_eq!(e.from[0].name.as_deref(), Some(&b"Doe, Jane"[..]));
        assert_eq!(e.from[0].email().as_deref(), Some("jane@example.org"));
        assert_eq!(e.sender, e.from);
        assert_eq!(e.reply_to, e.from);
        assert_eq!(e.to.len(), 2);
        assert!(
            e.to[0].is_group_marker()
                && e.to[0].mailbox.as_deref() == Some(&b"undisclosed-recipients"[..])
        );
        assert_eq!(e.to[1], Address::default());
        assert_eq!(e.cc.len(), 2);
        assert_eq!(e.message_id.as_deref(), Some(&b"<1@x>"[..]));
        let mut out = Vec::new();
        write_envelope(&mut out, &e, false);
        assert!(out.starts_with(
            b"(NIL \"=?utf-8?q?hi?=\" ((\"Doe, Jane\" NIL \"jane\" \"example.org\"))"
        ));
        let inner = address_list(b"root");
        assert_eq!(inner[0].host.as_deref(), Some(&b"MISSING_DOMAIN"[..]));
        // Words with no address and no colon: a name, not a glued local part or a group.
        let named = address_list(b"Undisclosed recipients");
        assert_eq!(named.len(), 1);
        assert_eq!(
            named[0].name.as_deref(),
            Some(&b"Undisclosed recipients"[..])
        );
        assert_eq!(named[0].mailbox.as_deref(), Some(&b"MISSING_MAILBOX"[..]));
        assert_eq!(named[0].host.as_deref(), Some(&b"MISSING_DOMAIN"[..]));
        let routed = address_list(b"<@a.x,@b.y:joe@c.z> (comment)");
        assert_eq!(routed[0].adl.as_deref(), Some(&b"@a.x,@b.y"[..]));
        assert_eq!(routed[0].email().as_deref(), Some("joe@c.z"));
    }

    #[test]
    fn body_structure_of_nested_message() {
        let doc = Document::from_vec(NESTED.to_vec());
        let b = body_structure(&doc, &doc.root());
        let mut out = Vec::new();
        write_body(&mut out, &b, true, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 40 (NIL \"inner\" ((NIL NIL \"root\" \"MISSING_DOMAIN\"))"), "{text}");
        assert!(text.contains("(\"application\" \"octet-stream\" (\"name*\" \"a%20b%C3%A4.bin\") NIL NIL \"base64\" 4 NIL (\"attachment\" (\"filename\" \"x.bin\")) (\"en\" \"de\") NIL)"), "{text}");
        assert!(
            text.ends_with(" \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)"),
            "{text}"
        );
    }

    #[test]
    fn sections_by_number() {
        let doc = Document::from_vec(NESTED.to_vec());
        let get =
            |part: &[u32], t: SectionText| section(&doc, &sec(part, t)).map(|c| c.into_owned());
        // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
        assert_eq!(get(&[1], SectionText::Full).unwrap(), b"Hello\r\nworld");
        assert_eq!(
            get(&[1], SectionText::Mime).unwrap(),
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        assert_eq!(
            get(&[2], SectionText::Header).unwrap(),
            b"Subject: inner\r\nFrom: root\r\n\r\n"
        );
        assert_eq!(get(&[2], SectionText::Text).unwrap(), b"inner body");
        assert_eq!(get(&[2, 1], SectionText::Full).unwrap(), b"inner body");
        assert_eq!(get(&[1, 1], SectionText::Full), None);
        assert_eq!(get(&[9], SectionText::Full), None);
        assert_eq!(
            get(
                &[],
                SectionText::Fields {
                    not: false,
                    names: vec!["SUBJECT".into(), "CC".into()]
                }
            )
            .unwrap(),
            b"Cc: a@b.c, Bob <bob@x.y>\r\nSubject: =?utf-8?q?hi?=\r\n\r\n"
        );
        let whole = get(&[], SectionText::Full).unwrap();
        assert_eq!(whole, NESTED);
        assert!(
            get(&[], SectionText::Text)
                .unwrap()
                .starts_with(b"preamble\r\n")
        );
        let bin = binary(&doc, &sec(&[3], SectionText::Full))
            .unwrap()
            .unwrap();
        assert_eq!(bin.as_ref(), &[0u8, 1, 2]);
        // A single-part message's part 1 is its body.
        let single = Document::from_vec(b"Subject: s\r\n\r\nbody\r\n".to_vec());
        assert_eq!(
            section(&single, &sec(&[1], SectionText::Full))
                .unwrap()
                .as_ref(),
            b"body\r\n"
        );
        let b = body_structure(&single, &single.root());
        assert_eq!(
            (b.mime_type(), b.size, b.lines),
            ("text/plain".to_owned(), Some(6), Some(1))
        );
        assert_eq!(b.params, [("charset".to_owned(), "us-ascii".to_owned())]);
    }

    #[test]
    fn mime_header_cut_by_a_delimiter_leaves_the_line_break_to_it() {
        let doc = Document::from_vec(
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
                .to_vec(),
        );
        let get =
            |part: &[u32], t: SectionText| section(&doc, &sec(part, t)).map(|c| c.into_owned());
        assert_eq!(
            get(&[1], SectionText::Mime).unwrap(),
            b"Content-Type: text/plain"
        );
        assert_eq!(get(&[1], SectionText::Full).unwrap(), b"");
        // With a blank line and no body, that line break is the delimiter's.
        assert_eq!(
            get(&[2], SectionText::Mime).unwrap(),
            b"Content-Type: text/plain\r\n"
        );
        assert_eq!(get(&[3], SectionText::Mime).unwrap(), b"\r\n");
    }

    #[test]
    fn multipart_without_boundary_has_an_empty_part_one() {
        // BODYSTRUCTURE shows one empty text part; BODY[1] and BODY[1.MIME] agree with it
        // (Dovecot's answers), instead of handing out the unsplit text as part 1.
        for raw in [
            &b"Content-Type: multipart/mixed\r\n\r\nJust text.\r\n"[..],
            b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--y\r\n\r\nt\r\n--y--\r\n",
        ] {
            let doc = Document::from_vec(raw.to_vec());
            let b = body_structure(&doc, &doc.root());
            assert_eq!(b.parts.len(), 1);
            assert_eq!(b.parts[0].size, Some(0));
            let get =
                |part: &[u32], t: SectionText| section(&doc, &sec(part, t)).map(|c| c.into_owned());
            assert_eq!(get(&[1], SectionText::Full).unwrap(), b"");
            assert_eq!(get(&[1], SectionText::Mime).unwrap(), b"");
            assert_eq!(get(&[1], SectionText::Text).unwrap(), b"");
            assert_eq!(get(&[2], SectionText::Full), None);
            assert_eq!(get(&[1, 1], SectionText::Full), None);
            let bin = binary(&doc, &sec(&[1], SectionText::Full))
                .unwrap()
                .unwrap();
            assert!(bin.is_empty());
            // The whole message is still all there.
            assert_eq!(get(&[], SectionText::Full).unwrap(), raw);
        }
    }
}
