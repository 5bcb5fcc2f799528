//! FETCH data (RFC 9051 §7.5.2): the message attributes of `* n FETCH (...)`, with the
//! ENVELOPE and BODYSTRUCTURE grammars, both read and written (the server writes what the
//! client reads, and the tests check one against the other).

use std::borrow::Cow;

use super::encode::{write_nstring, write_quoted, write_string, write_value};
use super::lex::{Cursor, ParseError, Result, is_astring_char, is_atom_char};
use super::types::{
    Address, BodyKind, BodySection, BodyStructure, Disposition, Envelope, FetchResult, Value,
};

fn text(s: Cow<'_, [u8]>) -> String {
    match s {
        Cow::Borrowed(b) => String::from_utf8_lossy(b).into_owned(),
        Cow::Owned(v) => String::from_utf8(v)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn opt_text(s: Option<Cow<'_, [u8]>>) -> Option<String> {
    s.map(text)
}

/// `msg-att` list after `* n FETCH `.
pub fn msg_atts(c: &mut Cursor<'_>, seq: u32) -> Result<FetchResult> {
    let mut r = FetchResult {
        seq,
        ..FetchResult::default()
    };
    c.list(|c| msg_att(c, &mut r))?;
    Ok(r)
}

fn msg_att(c: &mut Cursor<'_>, r: &mut FetchResult) -> Result<()> {
    let name = c.take_while(|b| is_atom_char(b) && b != b'[');
    if name.is_empty() {
        return c.error("a FETCH item name");
    }
    let name = String::from_utf8_lossy(name).to_ascii_uppercase();
    let section = if c.peek() == Some(b'[') {
        c.expect(b'[', "'['")?;
        let s = section_spec(c)?;
        c.expect(b']', "']' closing the section")?;
        Some(s)
    } else {
        None
    };
    let origin = if section.is_some() && c.eat(b'<') {
        let n = c.number()?;
        c.expect(b'>', "'>' closing the origin")?;
        Some(n)
    } else {
        None
    };
    c.sp()?;
    match (name.as_str(), section) {
        ("BODY" | "BINARY", Some(section)) => {
            let data = c.nstring()?.map(Cow::into_owned);
            r.sections.push(BodySection {
                section,
                binary: name == "BINARY",
                origin,
                data,
            });
        }
        ("BINARY.SIZE", Some(section)) => {
            let n = c.number64()?;
            r.binary_sizes.push((section, n));
        }
        ("UID", None) => r.uid = Some(c.number()?),
        ("FLAGS", None) => r.flags = Some(c.flag_list()?),
        ("INTERNALDATE", None) => r.internal_date = Some(c.date_time()?),
        ("RFC822.SIZE", None) => r.size = Some(c.number64()?),
        ("ENVELOPE", None) => r.envelope = Some(envelope(c)?),
        ("BODYSTRUCTURE" | "BODY", None) => r.body_structure = Some(body(c)?),
        ("MODSEQ", None) => {
            c.open()?;
            r.modseq = Some(c.number64()?);
            if !c.close() {
                return c.error("')' after MODSEQ");
            }
        }
        ("RFC822" | "RFC822.HEADER" | "RFC822.TEXT", None) => {
            let section = match name.as_str() {
                "RFC822.HEADER" => "HEADER",
                "RFC822.TEXT" => "TEXT",
                _ => "",
            };
            let data = c.nstring()?.map(Cow::into_owned);
            r.sections.push(BodySection {
                section: section.to_owned(),
                binary: false,
                origin: None,
                data,
            });
        }
        (_, section) => {
            let v = value(c)?;
            let name = match section {
                Some(s) => format!("{name}[{s}]"),
                None => name,
            };
            r.other.push((name, v));
        }
    }
    Ok(())
}

/// `section-spec` between the brackets, in canonical form: part numbers, then `HEADER`,
/// `HEADER.FIELDS[.NOT] (NAMES)`, `TEXT` or `MIME`, upper case, names unquoted.
pub fn section_spec(c: &mut Cursor<'_>) -> Result<String> {
    let mut out = String::new();
    loop {
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            break;
        }
        if digits[0] == b'0' {
            return c.error("a part number above zero");
        }
        out.push_str(&String::from_utf8_lossy(digits));
        if c.peek() == Some(b'.') && c.peek_at(1).is_some_and(|b| b.is_ascii_alphanumeric()) {
            c.eat(b'.');
            if c.peek().is_some_and(|b| b.is_ascii_digit()) {
                out.push('.');
                continue;
            }
            out.push('.');
        }
        break;
    }
    let word = c.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
    let word = String::from_utf8_lossy(word).to_ascii_uppercase();
    match word.as_str() {
        "" => {
            if out.ends_with('.') {
                return c.error("a section name after '.'");
            }
        }
        "HEADER" | "TEXT" => out.push_str(&word),
        "MIME" if !out.is_empty() => out.push_str(&word),
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            out.push_str(&word);
            out.push_str(" (");
            c.sp()?;
            let mut first = true;
            c.list(|c| {
                let at = c.pos();
                let name = c.astring()?;
                if name.is_empty() || !name.iter().all(|&b| b > b' ' && b < 0x7f && b != b':') {
                    return Err(ParseError::Syntax {
                        at,
                        expected: "a header field name",
                    });
                }
                if !first {
                    out.push(' ');
                }
                first = false;
                out.push_str(&String::from_utf8_lossy(&name).to_ascii_uppercase());
                Ok(())
            })?;
            if first {
                return c.error("at least one header field name");
            }
            out.push(')');
        }
        _ => return c.error("HEADER, HEADER.FIELDS, TEXT or MIME"),
    }
    Ok(out)
}

/// Validate and canonicalise a section given by a user (`"1.2.header.fields (subject)"`).
pub fn canonical_section(section: &str) -> Result<String> {
    if let Some(at) = section.bytes().position(|b| b < b' ' || b == 0x7f) {
        return Err(ParseError::Syntax {
            at,
            expected: "no control characters in a section",
        });
    }
    let mut c = Cursor::new(section.as_bytes());
    let s = section_spec(&mut c)?;
    if !c.at_end() {
        return c.error("the end of the section");
    }
    Ok(s)
}

/// A generic value: NIL, number, string, atom (flags and bracketed names included) or list.
pub fn value(c: &mut Cursor<'_>) -> Result<Value> {
    if c.at_string() {
        return Ok(Value::String(c.string()?.into_owned()));
    }
    match c.peek() {
        Some(b'(') => {
            let mut items = Vec::new();
            c.list(|c| {
                items.push(value(c)?);
                Ok(())
            })?;
            Ok(Value::List(items))
        }
        _ if c.nil() => Ok(Value::Nil),
        _ => {
            let start = c.pos();
            let atom = c.take_while(|b| is_astring_char(b) || b == b'\\' || b == b'%' || b == b'*');
            if atom.is_empty() {
                return c.error("a value");
            }
            if atom.iter().all(u8::is_ascii_digit) {
                let mut n = Cursor::new(atom);
                if let Ok(v) = n.number64() {
                    return Ok(Value::Number(v));
                }
                return Err(ParseError::Syntax {
                    at: start,
                    expected: "a number below 2^64",
                });
            }
            Ok(Value::Atom(String::from_utf8_lossy(atom).into_owned()))
        }
    }
}

fn address_list(c: &mut Cursor<'_>) -> Result<Vec<Address>> {
    c.nil_or_groups(|c| {
        let name = c.nstring()?.map(Cow::into_owned);
        c.sp()?;
        let adl = c.nstring()?.map(Cow::into_owned);
        c.sp()?;
        let mailbox = c.nstring()?.map(Cow::into_owned);
        c.sp()?;
        let host = c.nstring()?.map(Cow::into_owned);
        if !c.close() {
            return c.error("')' closing an address");
        }
        Ok(Address {
            name,
            adl,
            mailbox,
            host,
        })
    })
}

/// `envelope`.
pub fn envelope(c: &mut Cursor<'_>) -> Result<Envelope> {
    c.open()?;
    let date = c.nstring()?.map(Cow::into_owned);
    c.sp()?;
    let subject = c.nstring()?.map(Cow::into_owned);
    let mut lists: [Vec<Address>; 6] = Default::default();
    for list in &mut lists {
        c.sp()?;
        *list = address_list(c)?;
    }
    c.sp()?;
    let in_reply_to = c.nstring()?.map(Cow::into_owned);
    c.sp()?;
    let message_id = c.nstring()?.map(Cow::into_owned);
    if !c.close() {
        return c.error("')' closing the envelope");
    }
    let [from, sender, reply_to, to, cc, bcc] = lists;
    Ok(Envelope {
        date,
        subject,
        from,
        sender,
        reply_to,
        to,
        cc,
        bcc,
        in_reply_to,
        message_id,
    })
}

/// `body-fld-param`: NIL or `(name value ...)`.
fn params(c: &mut Cursor<'_>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if c.nil() {
        return Ok(out);
    }
    c.list(|c| {
        let k = text(c.string()?);
        c.sp()?;
        // Some servers send NIL for an empty value.
        let v = c.nstring()?.map(text).unwrap_or_default();
        out.push((k, v));
        Ok(())
    })?;
    Ok(out)
}

fn disposition(c: &mut Cursor<'_>) -> Result<Option<Disposition>> {
    if c.nil() {
        return Ok(None);
    }
    c.open()?;
    let kind = text(c.string()?);
    c.sp()?;
    let params = params(c)?;
    if !c.close() {
        return c.error("')' closing the disposition");
    }
    Ok(Some(Disposition { kind, params }))
}

fn language(c: &mut Cursor<'_>) -> Result<Vec<String>> {
    if c.peek() == Some(b'(') {
        let mut out = Vec::new();
        c.list(|c| {
            out.push(text(c.string()?));
            Ok(())
        })?;
        Ok(out)
    } else {
        Ok(c.nstring()?.map(text).into_iter().collect())
    }
}

/// Disposition, language, location and later extension data, each optional in turn.
fn extension_tail(c: &mut Cursor<'_>, b: &mut BodyStructure) -> Result<()> {
    if c.close() {
        return Ok(());
    }
    c.sp()?;
    b.disposition = disposition(c)?;
    if c.close() {
        return Ok(());
    }
    c.sp()?;
    b.language = language(c)?;
    if c.close() {
        return Ok(());
    }
    c.sp()?;
    b.location = opt_text(c.nstring()?);
    while !c.close() {
        c.sp()?;
        b.extension.push(value(c)?);
    }
    Ok(())
}

/// `body`: BODYSTRUCTURE or BODY.
pub fn body(c: &mut Cursor<'_>) -> Result<BodyStructure> {
    c.open()?;
    if c.peek() == Some(b'(') {
        let mut parts = Vec::new();
        while c.peek() == Some(b'(') {
            parts.push(body(c)?);
            c.skip_space();
        }
        let subtype = text(c.string()?);
        let mut b = BodyStructure::new(BodyKind::Multipart, "MULTIPART", &subtype);
        b.parts = parts;
        if c.close() {
            return Ok(b);
        }
        c.sp()?;
        b.params = params(c)?;
        extension_tail(c, &mut b)?;
        return Ok(b);
    }
    let media_type = text(c.string()?);
    c.sp()?;
    let subtype = text(c.string()?);
    c.sp()?;
    let params = params(c)?;
    c.sp()?;
    let id = opt_text(c.nstring()?);
    c.sp()?;
    let description = opt_text(c.nstring()?);
    c.sp()?;
    let encoding = text(c.string()?);
    c.sp()?;
    let size = c.number64()?;
    let is_text = media_type.eq_ignore_ascii_case("TEXT");
    let is_message = media_type.eq_ignore_ascii_case("MESSAGE")
        && (subtype.eq_ignore_ascii_case("RFC822") || subtype.eq_ignore_ascii_case("GLOBAL"));
    let kind = if is_text {
        BodyKind::Text
    } else if is_message {
        // A server that sends MESSAGE/RFC822 without the envelope and body is describing a
        // basic part; take it as one.
        if c.peek_past_space() == Some(b'(') {
            BodyKind::Message
        } else {
            BodyKind::Basic
        }
    } else {
        BodyKind::Basic
    };
    let mut b = BodyStructure::new(kind, &media_type, &subtype);
    b.params = params;
    b.id = id;
    b.description = description;
    b.encoding = Some(encoding);
    b.size = Some(size);
    match kind {
        BodyKind::Text => {
            c.sp()?;
            b.lines = Some(c.number64()?);
        }
        BodyKind::Message => {
            c.sp()?;
            b.envelope = Some(Box::new(envelope(c)?));
            c.sp()?;
            b.body = Some(Box::new(body(c)?));
            c.sp()?;
            b.lines = Some(c.number64()?);
        }
        _ => {}
    }
    if c.close() {
        return Ok(b);
    }
    c.sp()?;
    b.md5 = opt_text(c.nstring()?);
    extension_tail(c, &mut b)?;
    Ok(b)
}

fn write_opt(out: &mut Vec<u8>, s: &Option<String>, utf8: bool) {
    write_nstring(out, s.as_deref().map(str::as_bytes), utf8);
}

fn write_params(out: &mut Vec<u8>, params: &[(String, String)], utf8: bool) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(out, k.as_bytes(), utf8);
        out.push(b' ');
        write_string(out, v.as_bytes(), utf8);
    }
    out.push(b')');
}

fn write_addresses(out: &mut Vec<u8>, list: &[Address], utf8: bool) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        write_nstring(out, a.name.as_deref(), utf8);
        out.push(b' ');
        write_nstring(out, a.adl.as_deref(), utf8);
        out.push(b' ');
        write_nstring(out, a.mailbox.as_deref(), utf8);
        out.push(b' ');
        write_nstring(out, a.host.as_deref(), utf8);
        out.push(b')');
    }
    out.push(b')');
}

/// Write an envelope in the wire form [`envelope`] reads.
pub fn write_envelope(out: &mut Vec<u8>, e: &Envelope, utf8: bool) {
    out.push(b'(');
    write_nstring(out, e.date.as_deref(), utf8);
    out.push(b' ');
    write_nstring(out, e.subject.as_deref(), utf8);
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        write_addresses(out, list, utf8);
    }
    out.push(b' ');
    write_nstring(out, e.in_reply_to.as_deref(), utf8);
    out.push(b' ');
    write_nstring(out, e.message_id.as_deref(), utf8);
    out.push(b')');
}

fn write_extension_tail(out: &mut Vec<u8>, b: &BodyStructure, utf8: bool) {
    out.push(b' ');
    match &b.disposition {
        Some(d) => {
            out.push(b'(');
            write_string(out, d.kind.as_bytes(), utf8);
            out.push(b' ');
            write_params(out, &d.params, utf8);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match b.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => write_string(out, one.as_bytes(), utf8),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_string(out, l.as_bytes(), utf8);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    write_opt(out, &b.location, utf8);
    for v in &b.extension {
        out.push(b' ');
        write_value(out, v, utf8);
    }
}

/// Write a body structure: BODYSTRUCTURE with `extended`, BODY without.
pub fn write_body(out: &mut Vec<u8>, b: &BodyStructure, extended: bool, utf8: bool) {
    out.push(b'(');
    if b.kind == BodyKind::Multipart {
        for p in &b.parts {
            write_body(out, p, extended, utf8);
        }
        out.push(b' ');
        write_string(out, b.subtype.as_bytes(), utf8);
        if extended {
            out.push(b' ');
            write_params(out, &b.params, utf8);
            write_extension_tail(out, b, utf8);
        }
        out.push(b')');
        return;
    }
    write_quoted_or_string(out, &b.media_type, utf8);
    out.push(b' ');
    write_quoted_or_string(out, &b.subtype, utf8);
    out.push(b' ');
    write_params(out, &b.params, utf8);
    out.push(b' ');
    write_opt(out, &b.id, utf8);
    out.push(b' ');
    write_opt(out, &b.description, utf8);
    out.push(b' ');
    write_quoted_or_string(out, b.encoding.as_deref().unwrap_or("7BIT"), utf8);
    out.push(b' ');
    out.extend_from_slice(b.size.unwrap_or(0).to_string().as_bytes());
    match b.kind {
        BodyKind::Text => {
            out.push(b' ');
            out.extend_from_slice(b.lines.unwrap_or(0).to_string().as_bytes());
        }
        BodyKind::Message => {
            out.push(b' ');
            write_envelope(
                out,
                b.envelope.as_deref().unwrap_or(&Envelope::default()),
                utf8,
            );
            out.push(b' ');
            match &b.body {
                Some(inner) => write_body(out, inner, extended, utf8),
                None => write_body(
                    out,
                    &BodyStructure::new(BodyKind::Text, "TEXT", "PLAIN"),
                    extended,
                    utf8,
                ),
            }
            out.push(b' ');
            out.extend_from_slice(b.lines.unwrap_or(0).to_string().as_bytes());
        }
        _ => {}
    }
    if extended {
        out.push(b' ');
        write_opt(out, &b.md5, utf8);
        write_extension_tail(out, b, utf8);
    }
    out.push(b')');
}

fn write_quoted_or_string(out: &mut Vec<u8>, s: &str, utf8: bool) {
    if s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        write_quoted(out, s.as_bytes());
    } else {
        write_string(out, s.as_bytes(), utf8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_body(s: &[u8]) -> BodyStructure {
        let mut c = Cursor::new(s);
        let b = body(&mut c).unwrap();
        assert!(c.at_end(), "left: {:?}", String::from_utf8_lossy(c.rest()));
        b
    }

    #[test]
    fn rfc_body_structure_example() {
        // RFC 3501 §7.4.2 (BODYSTRUCTURE example).
        let b = parse_body(
            b"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")",
        );
        assert_eq!(b.kind, BodyKind::Multipart);
        assert_eq!(b.subtype, "MIXED");
        assert_eq!(b.parts.len(), 2);
        let p = &b.parts[1];
        assert_eq!(
            (p.kind, p.mime_type()),
            (BodyKind::Text, "text/plain".to_owned())
        );
        assert_eq!(p.param("name"), Some("cc.diff"));
        assert_eq!(
            p.id.as_deref(),
            Some("<960723163407.20117h@cac.washington.edu>")
        );
        assert_eq!(p.description.as_deref(), Some("Compiler diff"));
        assert_eq!(
            (p.encoding.as_deref(), p.size, p.lines),
            (Some("BASE64"), Some(4554), Some(73))
        );
    }

    #[test]
    fn extension_data_and_message_parts() {
        let raw = b"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 12 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 300 (\"Mon, 1 Jan 2024 00:00:00 +0000\" \"inner\" ((\"A\" NIL \"a\" \"x.org\")) NIL NIL NIL NIL NIL NIL \"<i@x>\") (\"text\" \"plain\" NIL NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL) 10 NIL (\"attachment\" (\"filename\" \"m.eml\")) (\"en\" \"de\") \"loc\" 42 (x \"y\"))(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"base64\" 100 \"md5sum\" (\"inline\" NIL) \"fr\" NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)";
        let b = parse_body(raw);
        assert_eq!(b.param("boundary"), Some("b1"));
        let m = &b.parts[1];
        assert_eq!(m.kind, BodyKind::Message);
        let env = m.envelope.as_ref().unwrap();
        assert_eq!(env.subject.as_deref(), Some(&b"inner"[..]));
        assert_eq!(env.from[0].email().as_deref(), Some("a@x.org"));
        assert_eq!(m.body.as_ref().unwrap().mime_type(), "text/plain");
        assert_eq!(m.lines, Some(10));
        let d = m.disposition.as_ref().unwrap();
        assert_eq!(
            (d.kind.as_str(), d.params[0].1.as_str()),
            ("attachment", "m.eml")
        );
        assert_eq!(m.language, ["en", "de"]);
        assert_eq!(m.location.as_deref(), Some("loc"));
        assert_eq!(
            m.extension,
            [
                Value::Number(42),
                Value::List(vec![Value::Atom("x".into()), Value::String(b"y".to_vec())])
            ]
        );
        let pdf = &b.parts[2];
        assert_eq!(
            (pdf.kind, pdf.md5.as_deref()),
            (BodyKind::Basic, Some("md5sum"))
        );
        assert_eq!(pdf.language, ["fr"]);
        assert!(pdf.disposition.as_ref().unwrap().params.is_empty());
        // Written back and read again: the same structure.
        let mut out = Vec::new();
        write_body(&mut out, &b, true, false);
        assert_eq!(parse_body(&out), b);
        // BODY (no extension data).
        let mut plain = Vec::new();
        write_body(&mut plain, &b, false, false);
        let nb = parse_body(&plain);
        assert_eq!(nb.parts[1].body.as_ref().unwrap().mime_type(), "text/plain");
        assert!(nb.parts[2].md5.is_none() && nb.params.is_empty());
    }

    #[test]
    fn envelope_rfc_example_and_groups() {
        // RFC 3501 §8 sample FETCH ENVELOPE (abridged), plus a group.
        let raw = b"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) ((NIL NIL \"undisclosed\" NIL) (NIL NIL NIL NIL)) NIL \"<B27397-0100000@cac.washington.edu>\")";
        let mut c = Cursor::new(raw);
        let e = envelope(&mut c).unwrap();
        assert_eq!(e.from[0].name.as_deref(), Some(&b"Terry Gray"[..]));
        assert_eq!(e.cc.len(), 2);
        assert_eq!(e.cc[1].email().as_deref(), Some("KLENSIN@MIT.EDU"));
        assert!(e.bcc[0].is_group_marker() && e.bcc[1].mailbox.is_none());
        assert_eq!(e.in_reply_to, None);
        let mut out = Vec::new();
        write_envelope(&mut out, &e, false);
        assert_eq!(envelope(&mut Cursor::new(&out)).unwrap(), e);
    }

    #[test]
    fn sections() {
        for (given, canonical) in [
            ("", ""),
            ("header", "HEADER"),
            ("1.2.TEXT", "1.2.TEXT"),
            ("3", "3"),
            ("4.2.mime", "4.2.MIME"),
            (
                "HEADER.FIELDS (subject \"From\")",
                "HEADER.FIELDS (SUBJECT FROM)",
            ),
            ("2.HEADER.FIELDS.NOT (X-A)", "2.HEADER.FIELDS.NOT (X-A)"),
        ] {
            assert_eq!(canonical_section(given).unwrap(), canonical, "{given}");
        }
        for bad in [
            "MIME",
            "0",
            "1.",
            "HEADER.FIELDS ()",
            "TEXT]",
            "1 TEXT",
            "HEADER.FIELDS (A\r\nB)",
            "BOGUS",
        ] {
            assert!(canonical_section(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fetch_items() {
        let raw = b"(UID 7 FLAGS (\\Seen $Label) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 MODSEQ (12121231000) BODY[HEADER.FIELDS (\"SUBJECT\")] {10}\r\nSubject: x BODY[]<0> \"\" BINARY[1] ~{2}\r\n\0\x01 BINARY.SIZE[1] 2 RFC822.TEXT NIL X-GM-LABELS (\\Inbox \"a b\") EMAILID (M1))";
        let mut c = Cursor::new(raw);
        let r = msg_atts(&mut c, 3).unwrap();
        assert!(c.at_end());
        assert_eq!(
            (r.seq, r.uid, r.size, r.modseq),
            (3, Some(7), Some(4286), Some(12_121_231_000))
        );
        assert_eq!(r.flags.as_deref().unwrap(), ["\\Seen", "$Label"]);
        assert_eq!(r.internal_date.unwrap().day, 17);
        assert_eq!(
            r.section("header.fields (subject)")
                .unwrap()
                .data
                .as_deref(),
            Some(&b"Subject: x"[..])
        );
        let whole = r.section("").unwrap();
        assert_eq!(
            (whole.origin, whole.data.as_deref()),
            (Some(0), Some(&b""[..]))
        );
        let bin = &r.sections[2];
        assert!(bin.binary && bin.data.as_deref() == Some(&b"\0\x01"[..]));
        assert_eq!(r.binary_sizes, [("1".to_owned(), 2)]);
        assert_eq!(r.section("TEXT").unwrap().data, None);
        assert_eq!(r.other[0].0, "X-GM-LABELS");
        assert_eq!(
            r.other[1],
            (
                "EMAILID".to_owned(),
                Value::List(vec![Value::Atom("M1".into())])
            )
        );
    }
}
