//! Server responses (RFC 9051 §7): tagged status, untagged data and status, and
//! continuation requests, parsed from one complete frame (see [`super::frame`]).
//!
//! [`parse`] takes a whole frame; [`Decoder`] is the streaming form on a growing buffer
//! (`Ok(None)` until a frame is complete, then the response and how many octets it took).
//! Unknown untagged responses are kept raw, not refused: servers add responses over time and
//! a client must skip what it does not know.

use std::borrow::Cow;

use super::fetch;
use super::frame::{FrameError, FrameLimits, FrameScanner, Scan, Side};
use super::lex::{Cursor, ParseError, Result};
use super::sequence::SequenceSet;
use super::types::{
    AppendUid, Capabilities, CopyUid, Esearch, FetchResult, IdFields, ListEntry, Namespace,
    Namespaces, ResponseCode, Status, StatusItems, StatusResponse, Value,
};
use super::utf7::decode_mailbox;

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The completion of the command with this tag.
    Tagged {
        tag: String,
        status: StatusResponse,
    },
    Untagged(Untagged),
    /// `+`: the server waits for more (a literal's data, a SASL response, IDLE's DONE).
    Continuation(Continuation),
}

/// A continuation request: a response code and text, or (during AUTHENTICATE) base64 data,
/// kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    pub code: Option<ResponseCode>,
    pub text: String,
}

/// Untagged responses (`* ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    /// `* OK`, `* NO`, `* BAD`, `* PREAUTH`, `* BYE`.
    Status(StatusResponse),
    Capability(Capabilities),
    /// ENABLED (RFC 5161): the extensions now in force.
    Enabled(Vec<String>),
    List(ListEntry),
    Lsub(ListEntry),
    /// STATUS.
    MailboxStatus(StatusItems),
    Namespace(Namespaces),
    Esearch(Esearch),
    /// SEARCH: numbers, and the highest mod-sequence with CONDSTORE.
    Search {
        ids: Vec<u32>,
        modseq: Option<u64>,
    },
    Flags(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    /// VANISHED (RFC 7162 QRESYNC): UIDs expunged.
    Vanished {
        earlier: bool,
        uids: SequenceSet,
    },
    Fetch(Box<FetchResult>),
    /// ID (RFC 2971): the server's fields, or NIL.
    Id(Option<IdFields>),
    /// A response this parser does not know: its name and the rest of the frame, raw.
    Other {
        name: String,
        data: Vec<u8>,
    },
}

/// How names are decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Mailbox names are UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled), not modified UTF-7.
    pub utf8: bool,
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Parse one complete frame (literals in line).
pub fn parse(frame: &[u8]) -> Result<Response> {
    parse_with(frame, Vec::new(), ParseOptions::default())
}

/// Parse one complete frame whose literals at the given offsets were taken out of line.
pub fn parse_with(
    frame: &[u8],
    detached: Vec<(usize, Vec<u8>)>,
    options: ParseOptions,
) -> Result<Response> {
    let mut c = Cursor::with_detached(frame, detached);
    let r = response(&mut c, options)?;
    Ok(r)
}

/// Streaming parse on a growing buffer (mini-redis style).
pub struct Decoder {
    scanner: FrameScanner,
    pub options: ParseOptions,
}

/// A frame [`Decoder::decode`] found: its length, and the response or why it did not parse
/// (the stream stays in step either way: the next frame starts after it).
pub type Decoded = (std::result::Result<Response, ParseError>, usize);

impl Decoder {
    pub fn new(limits: FrameLimits) -> Self {
        Decoder {
            scanner: FrameScanner::new(Side::Responses, limits),
            options: ParseOptions::default(),
        }
    }

    /// `Ok(None)`: `buf` does not hold a whole response yet (call again when it has grown;
    /// the scan resumes where it stopped). `Ok(Some((response, n)))`: the first `n` octets
    /// were one frame; the caller drops them from `buf`. `Err`: the stream broke a limit and
    /// cannot be read further.
    pub fn decode(&mut self, buf: &[u8]) -> std::result::Result<Option<Decoded>, FrameError> {
        loop {
            match self.scanner.scan(buf) {
                Err(e) => {
                    self.scanner.reset();
                    return Err(e);
                }
                Ok(Scan::Incomplete) => return Ok(None),
                Ok(Scan::Literal { .. }) => continue,
                Ok(Scan::Complete { end }) => {
                    self.scanner.reset();
                    let r = parse_with(&buf[..end], Vec::new(), self.options);
                    return Ok(Some((r, end)));
                }
            }
        }
    }
}

/// Read `data` as a server's byte stream, fed `step` octets at a time.
fn decode_stream(
    data: &[u8],
    limits: FrameLimits,
    step: usize,
) -> Vec<std::result::Result<Response, String>> {
    let mut decoder = Decoder::new(limits);
    let mut out = Vec::new();
    let mut start = 0;
    let mut fed = 0;
    loop {
        match decoder.decode(&data[start..fed]) {
            Ok(Some((r, n))) => {
                out.push(r.map_err(|e| e.to_string()));
                start += n;
            }
            Ok(None) if fed == data.len() => return out,
            Ok(None) => fed = (fed + step).min(data.len()),
            Err(e) => {
                out.push(Err(e.to_string()));
                return out;
            }
        }
    }
}

/// Check a parsed response against the writers: what is written reads back the same.
fn round_trip(r: &Response) {
    use super::encode::write_value;
    let mut codes = Vec::new();
    match r {
        Response::Untagged(Untagged::Fetch(f)) => {
            if let Some(b) = &f.body_structure {
                for extended in [true, false] {
                    let mut out = Vec::new();
                    fetch::write_body(&mut out, b, extended, false);
                    let back = fetch::body(&mut Cursor::new(&out));
                    assert!(
                        back.is_ok(),
                        "written BODYSTRUCTURE does not parse: {out:?}"
                    );
                    if extended {
                        assert_eq!(back.ok().as_ref(), Some(b));
                    }
                }
            }
            if let Some(e) = &f.envelope {
                let mut out = Vec::new();
                fetch::write_envelope(&mut out, e, false);
                assert_eq!(
                    fetch::envelope(&mut Cursor::new(&out)).ok().as_ref(),
                    Some(e)
                );
            }
            for (_, v) in &f.other {
                let mut out = Vec::new();
                write_value(&mut out, v, false);
                assert_eq!(fetch::value(&mut Cursor::new(&out)).ok().as_ref(), Some(v));
            }
        }
        Response::Tagged { status, .. } | Response::Untagged(Untagged::Status(status)) => {
            codes.extend(status.code.iter());
        }
        Response::Untagged(Untagged::Vanished { uids, .. }) => {
            assert_eq!(
                SequenceSet::parse(uids.to_string().as_bytes())
                    .ok()
                    .as_ref(),
                Some(uids)
            );
        }
        _ => {}
    }
    for code in codes {
        if matches!(
            code,
            ResponseCode::Other { .. } | ResponseCode::BadCharset(_)
        ) {
            continue;
        }
        let line = format!("* OK [{code}] x\r\n");
        match parse(line.as_bytes()) {
            Ok(Response::Untagged(Untagged::Status(s))) => assert_eq!(s.code.as_ref(), Some(code)),
            other => panic!("{line:?} reads back as {other:?}"),
        }
    }
}

/// Read `data` as a server's stream of responses, whole and in small pieces (which must
/// agree), and check every structure that has a writer against it. The fuzz target
/// (`fuzz/`) and the mutation tests call this; it must never panic.
pub fn exercise(data: &[u8]) {
    let limits = FrameLimits {
        max_line: 1 << 16,
        max_literal: 1 << 20,
        max_frame: 1 << 20,
    };
    let whole = decode_stream(data, limits, data.len().max(1));
    let pieces = decode_stream(data, limits, 7);
    assert_eq!(whole, pieces);
    for r in whole.iter().flatten() {
        round_trip(r);
    }
}

fn response(c: &mut Cursor<'_>, o: ParseOptions) -> Result<Response> {
    if c.eat(b'+') {
        c.eat(b' ');
        let (code, text) = resp_text(c)?;
        c.end()?;
        return Ok(Response::Continuation(Continuation { code, text }));
    }
    if c.eat(b'*') {
        c.sp()?;
        let u = untagged(c, o)?;
        c.end()?;
        return Ok(Response::Untagged(u));
    }
    let tag = lossy(c.tag()?);
    c.sp()?;
    let at = c.pos();
    let word = c.atom()?;
    let status = match Status::parse(word) {
        Some(s @ (Status::Ok | Status::No | Status::Bad)) => s,
        _ => {
            return Err(ParseError::Syntax {
                at,
                expected: "OK, NO or BAD after a tag",
            });
        }
    };
    let (code, text) = after_status(c)?;
    c.end()?;
    Ok(Response::Tagged {
        tag,
        status: StatusResponse { status, code, text },
    })
}

/// After a status word: nothing, or SP and resp-text.
fn after_status(c: &mut Cursor<'_>) -> Result<(Option<ResponseCode>, String)> {
    if c.at_line_end() {
        return Ok((None, String::new()));
    }
    if c.peek() != Some(b'[') {
        c.sp()?;
    }
    resp_text(c)
}

/// `resp-text`: an optional `[code]` and free text. A bracket that does not parse as a code
/// is text.
fn resp_text(c: &mut Cursor<'_>) -> Result<(Option<ResponseCode>, String)> {
    let mut code = None;
    if c.peek() == Some(b'[') {
        let start = c.pos();
        match resp_code(c) {
            Ok(parsed) => {
                code = Some(parsed);
                c.eat(b' ');
            }
            Err(_) => c.restore(start),
        }
    }
    Ok((code, lossy(c.text())))
}

fn atoms_until_bracket(c: &mut Cursor<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    while c.eat(b' ') {
        if c.peek() == Some(b']') {
            break;
        }
        out.push(c.keyword()?);
    }
    Ok(out)
}

/// `[` resp-text-code `]`.
fn resp_code(c: &mut Cursor<'_>) -> Result<ResponseCode> {
    c.expect(b'[', "'['")?;
    let name = c.take_while(|b| super::lex::is_atom_char(b) && b != b'[');
    if name.is_empty() {
        return c.error("a response code");
    }
    let name = lossy(name).to_ascii_uppercase();
    let after_name = c.pos();
    let code = match known_code(c, &name) {
        Ok(Some(code)) if c.peek() == Some(b']') => code,
        _ => {
            // Unknown, or known with arguments this parser cannot follow: kept as text.
            c.restore(after_name);
            c.eat(b' ');
            let text = c.take_while(|b| b != b']' && b != b'\r' && b != b'\n');
            let text = (!text.is_empty()).then(|| lossy(text));
            match ResponseCode::simple(&name) {
                Some(simple) if text.is_none() => simple,
                _ => ResponseCode::Other { name, text },
            }
        }
    };
    c.expect(b']', "']' closing the response code")?;
    Ok(code)
}

/// The arguments of the codes with arguments; `Ok(None)` for the rest.
fn known_code(c: &mut Cursor<'_>, name: &str) -> Result<Option<ResponseCode>> {
    Ok(Some(match name {
        "CAPABILITY" => ResponseCode::Capability(atoms_until_bracket(c)?),
        "PERMANENTFLAGS" => {
            c.sp()?;
            ResponseCode::PermanentFlags(c.flag_list()?)
        }
        "BADCHARSET" => {
            let mut sets = Vec::new();
            if c.eat(b' ') {
                c.list(|c| {
                    sets.push(lossy(&c.astring()?));
                    Ok(())
                })?;
            }
            ResponseCode::BadCharset(sets)
        }
        "UIDVALIDITY" | "UIDNEXT" | "UNSEEN" => {
            c.sp()?;
            let n = c.number()?;
            match name {
                "UIDVALIDITY" => ResponseCode::UidValidity(n),
                "UIDNEXT" => ResponseCode::UidNext(n),
                _ => ResponseCode::Unseen(n),
            }
        }
        "HIGHESTMODSEQ" => {
            c.sp()?;
            ResponseCode::HighestModSeq(c.number64()?)
        }
        "APPENDUID" => {
            c.sp()?;
            let uid_validity = c.number()?;
            c.sp()?;
            let uids = c.sequence_set()?;
            ResponseCode::AppendUid(AppendUid { uid_validity, uids })
        }
        "COPYUID" => {
            c.sp()?;
            let uid_validity = c.number()?;
            c.sp()?;
            let source = c.sequence_set()?;
            c.sp()?;
            let destination = c.sequence_set()?;
            ResponseCode::CopyUid(CopyUid {
                uid_validity,
                source,
                destination,
            })
        }
        "MODIFIED" => {
            c.sp()?;
            ResponseCode::Modified(c.sequence_set()?)
        }
        _ => return Ok(ResponseCode::simple(name)),
    }))
}

fn untagged(c: &mut Cursor<'_>, o: ParseOptions) -> Result<Untagged> {
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = c.number()?;
        c.sp()?;
        let name = c.keyword()?;
        return Ok(match name.as_str() {
            "EXISTS" => Untagged::Exists(n),
            "RECENT" => Untagged::Recent(n),
            "EXPUNGE" => Untagged::Expunge(n),
            "FETCH" => {
                c.sp()?;
                Untagged::Fetch(Box::new(fetch::msg_atts(c, n)?))
            }
            _ => other(c, format!("{n} {name}")),
        });
    }
    let name = c.keyword()?;
    if let Some(status) = Status::parse(name.as_bytes()) {
        let (code, text) = after_status(c)?;
        return Ok(Untagged::Status(StatusResponse { status, code, text }));
    }
    Ok(match name.as_str() {
        "CAPABILITY" => Untagged::Capability(Capabilities::new(atoms_to_end(c)?)),
        "ENABLED" => Untagged::Enabled(atoms_to_end(c)?),
        "FLAGS" => {
            c.sp()?;
            Untagged::Flags(c.flag_list()?)
        }
        "LIST" => {
            c.sp()?;
            Untagged::List(mailbox_list(c, o)?)
        }
        "LSUB" => {
            c.sp()?;
            Untagged::Lsub(mailbox_list(c, o)?)
        }
        "STATUS" => {
            c.sp()?;
            Untagged::MailboxStatus(status_data(c, o)?)
        }
        "SEARCH" => search(c)?,
        "ESEARCH" => Untagged::Esearch(esearch(c)?),
        "NAMESPACE" => Untagged::Namespace(namespaces(c, o)?),
        "VANISHED" => {
            c.sp()?;
            let mut earlier = false;
            if c.peek() == Some(b'(') {
                c.open()?;
                if !c.eat_keyword("EARLIER") {
                    return c.error("EARLIER");
                }
                if !c.close() {
                    return c.error("')' after EARLIER");
                }
                earlier = true;
                c.sp()?;
            }
            Untagged::Vanished {
                earlier,
                uids: c.sequence_set()?,
            }
        }
        "ID" => {
            c.sp()?;
            Untagged::Id(id_params(c)?)
        }
        _ => other(c, name),
    })
}

fn other(c: &mut Cursor<'_>, name: String) -> Untagged {
    c.eat(b' ');
    let rest = c.rest();
    let end = rest.len()
        - if rest.ends_with(b"\r\n") {
            2
        } else if rest.ends_with(b"\n") {
            1
        } else {
            0
        };
    let data = rest[..end].to_vec();
    c.advance(end);
    Untagged::Other { name, data }
}

/// `SP atom` until the end of the line (CAPABILITY, ENABLED).
fn atoms_to_end(c: &mut Cursor<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    loop {
        while c.eat(b' ') {}
        if c.at_line_end() {
            return Ok(out);
        }
        out.push(c.keyword()?);
    }
}

fn mailbox_name(c: &mut Cursor<'_>, o: ParseOptions) -> Result<String> {
    let raw = c.list_mailbox()?;
    Ok(decode_mailbox(&raw, o.utf8))
}

/// `mailbox-list`: `(attributes) delimiter name [extended data]`.
fn mailbox_list(c: &mut Cursor<'_>, o: ParseOptions) -> Result<ListEntry> {
    let mut entry = ListEntry {
        attributes: c.flag_list()?,
        ..ListEntry::default()
    };
    c.sp()?;
    entry.delimiter = if c.nil() {
        None
    } else {
        let d = c.quoted()?;
        match d.as_ref() {
            [b] => Some(char::from(*b)),
            _ => String::from_utf8_lossy(&d).chars().next(),
        }
    };
    c.sp()?;
    entry.name = mailbox_name(c, o)?;
    if c.skip_space() && c.peek() == Some(b'(') {
        c.list(|c| {
            let tag = lossy(&c.astring()?).to_ascii_uppercase();
            c.sp()?;
            match tag.as_str() {
                "CHILDINFO" => c.list(|c| {
                    entry
                        .child_info
                        .push(lossy(&c.astring()?).to_ascii_uppercase());
                    Ok(())
                })?,
                "OLDNAME" => {
                    c.open()?;
                    entry.old_name = Some(mailbox_name(c, o)?);
                    if !c.close() {
                        return c.error("')' after OLDNAME");
                    }
                }
                _ => {
                    let v = fetch::value(c)?;
                    entry.extended.push((tag, v));
                }
            }
            Ok(())
        })?;
    }
    Ok(entry)
}

/// `mailbox SP (status-att-val ...)`.
fn status_data(c: &mut Cursor<'_>, o: ParseOptions) -> Result<StatusItems> {
    let mut s = StatusItems {
        mailbox: mailbox_name(c, o)?,
        ..StatusItems::default()
    };
    c.sp()?;
    c.list(|c| {
        let name = c.keyword()?;
        c.sp()?;
        let at = c.pos();
        let n = c.number64()?;
        let small = || {
            u32::try_from(n).map_err(|_| ParseError::Syntax {
                at,
                expected: "a 32-bit number",
            })
        };
        match name.as_str() {
            "MESSAGES" => s.messages = Some(small()?),
            "RECENT" => s.recent = Some(small()?),
            "UIDNEXT" => s.uid_next = Some(small()?),
            "UIDVALIDITY" => s.uid_validity = Some(small()?),
            "UNSEEN" => s.unseen = Some(small()?),
            "DELETED" => s.deleted = Some(small()?),
            "SIZE" => s.size = Some(n),
            "HIGHESTMODSEQ" => s.highest_modseq = Some(n),
            _ => s.other.push((name, n)),
        }
        Ok(())
    })?;
    Ok(s)
}

fn search(c: &mut Cursor<'_>) -> Result<Untagged> {
    let mut ids = Vec::new();
    let mut modseq = None;
    loop {
        while c.eat(b' ') {}
        match c.peek() {
            Some(b'(') => {
                c.open()?;
                if !c.eat_keyword("MODSEQ") {
                    return c.error("MODSEQ");
                }
                c.sp()?;
                modseq = Some(c.number64()?);
                if !c.close() {
                    return c.error("')' after MODSEQ");
                }
            }
            Some(b) if b.is_ascii_digit() => ids.push(c.nz_number()?),
            _ => break,
        }
    }
    Ok(Untagged::Search { ids, modseq })
}

fn esearch(c: &mut Cursor<'_>) -> Result<Esearch> {
    let mut e = Esearch::default();
    if c.peek_past_space() == Some(b'(') {
        c.sp()?;
        c.open()?;
        if !c.eat_keyword("TAG") {
            return c.error("TAG");
        }
        c.sp()?;
        e.tag = Some(lossy(&c.string()?));
        if !c.close() {
            return c.error("')' after the tag");
        }
    }
    loop {
        while c.eat(b' ') {}
        if c.at_line_end() {
            return Ok(e);
        }
        let name = c.keyword()?;
        if name == "UID" {
            e.uid = true;
            continue;
        }
        c.sp()?;
        match name.as_str() {
            "MIN" => e.min = Some(c.nz_number()?),
            "MAX" => e.max = Some(c.nz_number()?),
            "COUNT" => e.count = Some(c.number()?),
            "ALL" => e.all = Some(c.sequence_set()?),
            "MODSEQ" => e.modseq = Some(c.number64()?),
            _ => {
                let v = fetch::value(c)?;
                e.other.push((name, v));
            }
        }
    }
}

fn namespace_list(c: &mut Cursor<'_>, o: ParseOptions) -> Result<Vec<Namespace>> {
    c.nil_or_groups(|c| {
        let prefix = mailbox_name_string(c, o)?;
        c.sp()?;
        let delimiter = if c.nil() {
            None
        } else {
            String::from_utf8_lossy(&c.quoted()?).chars().next()
        };
        let mut extensions = Vec::new();
        while !c.close() {
            c.sp()?;
            let name = lossy(&c.string()?);
            c.sp()?;
            let mut values = Vec::new();
            c.list(|c| {
                values.push(lossy(&c.string()?));
                Ok(())
            })?;
            extensions.push((name, values));
        }
        Ok(Namespace {
            prefix,
            delimiter,
            extensions,
        })
    })
}

fn mailbox_name_string(c: &mut Cursor<'_>, o: ParseOptions) -> Result<String> {
    let raw: Cow<'_, [u8]> = c.string()?;
    Ok(decode_mailbox(&raw, o.utf8))
}

fn namespaces(c: &mut Cursor<'_>, o: ParseOptions) -> Result<Namespaces> {
    c.sp()?;
    let personal = namespace_list(c, o)?;
    c.sp()?;
    let other_users = namespace_list(c, o)?;
    c.sp()?;
    let shared = namespace_list(c, o)?;
    Ok(Namespaces {
        personal,
        other_users,
        shared,
    })
}

/// `id-params-list`: NIL or `(name value ...)`.
pub fn id_params(c: &mut Cursor<'_>) -> Result<Option<IdFields>> {
    if c.nil() {
        return Ok(None);
    }
    let mut out = Vec::new();
    c.list(|c| {
        let k = lossy(&c.string()?);
        c.sp()?;
        let v = c.nstring()?.map(|v| lossy(&v));
        out.push((k, v));
        Ok(())
    })?;
    Ok(Some(out))
}

impl Untagged {
    /// The generic value form of an unknown response's data, if it parses as values.
    pub fn other_values(data: &[u8]) -> Option<Vec<Value>> {
        let mut c = Cursor::new(data);
        let mut out = Vec::new();
        while !c.at_end() {
            out.push(fetch::value(&mut c).ok()?);
            c.skip_space();
        }
        Some(out)
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
