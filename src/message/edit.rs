//! Editing a parsed message without disturbing it: every change is a splice of the
//! original bytes, so header fields and parts that are not edited stay byte for byte as
//! they were (folding, line endings, encodings, preamble and epilogue included).
//!
//! Each function takes a parsed [`Document`] and returns the edited bytes; the caller
//! parses them again before the next edit (parsing costs little next to the edit), so edits
//! compose without tracking shifted offsets. New content is written by
//! [`super::build`] with CRLF line endings and converted to the message's own line ending.

use std::ops::Range;

use memchr::memmem;

use super::build::{self, BuildError, Options};
use super::parse::FieldRange;
use super::{Body, Document, PartId};

type Result<T> = std::result::Result<T, BuildError>;

/// The message's line ending: that of its first line (CRLF when it has none).
pub fn line_ending(doc: &Document) -> &'static [u8] {
    let raw = doc.bytes();
    match memchr::memchr(b'\n', raw) {
        Some(i) if i > 0 && raw[i - 1] == b'\r' => b"\r\n",
        Some(_) => b"\n",
        None => b"\r\n",
    }
}

/// CRLF-terminated lines made to end with `eol`.
fn with_eol(data: Vec<u8>, eol: &[u8]) -> Vec<u8> {
    if eol == b"\r\n" {
        return data;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut last = 0;
    for i in memmem::find_iter(&data, b"\r\n") {
        out.extend_from_slice(&data[last..i]);
        out.extend_from_slice(eol);
        last = i + 2;
    }
    out.extend_from_slice(&data[last..]);
    out
}

/// Apply non-overlapping replacements; insertions at one place keep their order.
fn splice(raw: &[u8], mut edits: Vec<(Range<usize>, Vec<u8>)>) -> Vec<u8> {
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let added: usize = edits.iter().map(|(_, b)| b.len()).sum();
    let mut out = Vec::with_capacity(raw.len() + added);
    let mut at = 0;
    for (r, bytes) in edits {
        let start = r.start.max(at);
        out.extend_from_slice(&raw[at..start]);
        out.extend_from_slice(&bytes);
        at = r.end.max(start);
    }
    out.extend_from_slice(&raw[at.min(raw.len())..]);
    out
}

fn fields(doc: &Document) -> &[FieldRange] {
    doc.tree().headers(0)
}

fn is_content_field(raw: &[u8], f: &FieldRange) -> bool {
    let name = f.name(raw);
    name.len() >= 8 && name[..8].eq_ignore_ascii_case(b"content-")
}

/// A header field line (`build::write_field`'s CRLF form) for this message: its line
/// ending made the message's.
fn field_line(line: Vec<u8>, eol: &[u8]) -> Vec<u8> {
    with_eol(line, eol)
}

/// Where a new header field goes (after the last one), and what must come before and
/// after it there: a line break when the last field ends the input without one, an empty
/// line when the message has no header section at all.
fn insertion(doc: &Document, line: Vec<u8>) -> (Range<usize>, Vec<u8>) {
    let raw = doc.bytes();
    let eol = line_ending(doc);
    let root = &doc.tree().parts[0];
    let at = fields(doc).last().map_or(root.header_start, |f| f.end);
    let mut bytes = Vec::with_capacity(line.len() + 4);
    if at > 0 && raw[at - 1] != b'\n' {
        bytes.extend_from_slice(eol);
    }
    bytes.extend_from_slice(&field_line(line, eol));
    if fields(doc).is_empty() && root.body_start == root.header_start {
        bytes.extend_from_slice(eol);
    }
    (at..at, bytes)
}

/// The line ending a field already has (so that a replacement keeps it).
fn eol_of(raw: &[u8], f: &FieldRange, fallback: &'static [u8]) -> &'static [u8] {
    if raw[..f.end].ends_with(b"\r\n") {
        b"\r\n"
    } else if raw[..f.end].ends_with(b"\n") {
        b"\n"
    } else {
        fallback
    }
}

/// Set a top-level field: the first field of that name is replaced where it is, the others
/// removed; without one, the field is added after the last field. `line` is the whole
/// field, CRLF-terminated.
pub fn set_field(doc: &Document, name: &str, line: Vec<u8>) -> Vec<u8> {
    let raw = doc.bytes();
    let same: Vec<&FieldRange> = fields(doc).iter().filter(|f| f.is(raw, name)).collect();
    let Some(first) = same.first() else {
        return splice(raw, vec![insertion(doc, line)]);
    };
    let eol = eol_of(raw, first, line_ending(doc));
    let mut edits = vec![(first.start..first.end, field_line(line, eol))];
    edits.extend(same[1..].iter().map(|f| (f.start..f.end, Vec::new())));
    splice(raw, edits)
}

/// Add a top-level field after the last one.
pub fn add_field(doc: &Document, line: Vec<u8>) -> Vec<u8> {
    splice(doc.bytes(), vec![insertion(doc, line)])
}

/// Remove every top-level field `name`.
pub fn remove_field(doc: &Document, name: &str) -> Vec<u8> {
    let raw = doc.bytes();
    let edits = fields(doc)
        .iter()
        .filter(|f| f.is(raw, name))
        .map(|f| (f.start..f.end, Vec::new()))
        .collect();
    splice(raw, edits)
}

/// Split a leaf written by `build` into its header lines and its body.
fn split_leaf(leaf: &[u8]) -> (&[u8], &[u8]) {
    match memmem::find(leaf, b"\r\n\r\n") {
        Some(i) => (&leaf[..i + 2], &leaf[i + 4..]),
        None => (leaf, b""),
    }
}

/// Replace the top-level entity's content: the `Content-*` fields (new ones go where the
/// first old one was), `MIME-Version` added when missing, and the whole body. Both are in
/// the message's line ending already.
fn replace_root(doc: &Document, content_fields: &[u8], body: &[u8]) -> Vec<u8> {
    let raw = doc.bytes();
    let eol = line_ending(doc);
    let root = &doc.tree().parts[0];
    let mut new_fields = content_fields.to_vec();
    if !fields(doc).iter().any(|f| f.is(raw, "MIME-Version")) {
        new_fields.extend_from_slice(b"MIME-Version: 1.0");
        new_fields.extend_from_slice(eol);
    }
    let content: Vec<&FieldRange> = fields(doc)
        .iter()
        .filter(|f| is_content_field(raw, f))
        .collect();
    let header_end = fields(doc).last().map_or(root.header_start, |f| f.end);
    let mut edits = Vec::new();
    let (at, end) = match content.first() {
        Some(first) => (first.start, first.end),
        None => (header_end, header_end),
    };
    let mut bytes = Vec::new();
    if at > 0 && raw[at - 1] != b'\n' {
        // The last field ends the input without a line break.
        bytes.extend_from_slice(eol);
    }
    bytes.extend_from_slice(&new_fields);
    edits.push((at..end, bytes));
    edits.extend(content.iter().skip(1).map(|f| (f.start..f.end, Vec::new())));
    // The body follows an empty line; a message without one (only header fields, or a
    // body right after them) gets one.
    let mut new_body = Vec::with_capacity(body.len() + 2);
    if root.body_start <= header_end {
        new_body.extend_from_slice(eol);
    }
    new_body.extend_from_slice(body);
    edits.push((root.body_start.max(header_end)..raw.len(), new_body));
    splice(raw, edits)
}

/// The boundaries of `part` (when it is a multipart) and of the multiparts around it.
fn enclosing_boundaries(doc: &Document, part: Option<PartId>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = part;
    while let Some(id) = at {
        let Some(p) = doc.part(id) else { break };
        if p.is_multipart()
            && let Some(b) = p.param("boundary")
        {
            out.push(b.into_bytes());
        }
        at = p.node().parent;
    }
    out
}

/// Make new content for a place inside the multiparts `bounds`: if it would hold one of
/// their delimiter lines, make it again with every body in Base64.
fn content_for(
    bounds: &[Vec<u8>],
    opts: &Options,
    make: &dyn Fn(&Options) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let clashes = |data: &[u8]| bounds.iter().any(|b| build::has_delimiter_line(data, b));
    let data = make(opts)?;
    if !clashes(&data) {
        return Ok(data);
    }
    let forced = Options {
        force_base64: true,
        ..*opts
    };
    let data = make(&forced)?;
    if clashes(&data) {
        return Err(BuildError::InvalidEdit(
            "the new part holds a delimiter line of the multipart it goes into".into(),
        ));
    }
    Ok(data)
}

/// The header field and body of a multipart of two children, in the line ending `eol`
/// (the children are already in it and go in unchanged).
fn two_parts(
    subtype: &str,
    first: &[u8],
    second: &[u8],
    avoid: &[&[u8]],
    eol: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let boundary = build::fresh_boundary(|b| avoid.iter().any(|d| memmem::find(d, b).is_some()));
    let header = with_eol(build::multipart_header(subtype, &boundary), eol);
    let mut body = Vec::with_capacity(first.len() + second.len() + 3 * boundary.len() + 16);
    for (i, child) in [first, second].into_iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(eol);
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(eol);
        body.extend_from_slice(child);
    }
    body.extend_from_slice(eol);
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--");
    (header, body)
}

/// Put `part` and the new entity (CRLF lines) together in a new `multipart/<subtype>`
/// where `part` was; `part`'s bytes go in unchanged.
fn wrap(doc: &Document, part: PartId, subtype: &str, new: Vec<u8>, new_first: bool) -> Vec<u8> {
    let raw = doc.bytes();
    let eol = line_ending(doc);
    let new = with_eol(new, eol);
    let order = |orig: &'_ [u8]| -> (Vec<u8>, Vec<u8>) {
        let (first, second) = if new_first {
            (new.as_slice(), orig)
        } else {
            (orig, new.as_slice())
        };
        two_parts(subtype, first, second, &[raw, &new], eol)
    };
    if part == 0 {
        // The top-level entity: its Content-* fields go into the first child with its
        // body; the message's other fields stay.
        let root = &doc.tree().parts[0];
        let mut orig = Vec::new();
        for f in fields(doc).iter().filter(|f| is_content_field(raw, f)) {
            orig.extend_from_slice(&raw[f.start..f.end]);
            if orig.last() != Some(&b'\n') {
                orig.extend_from_slice(eol);
            }
        }
        orig.extend_from_slice(eol);
        let header_end = fields(doc).last().map_or(root.header_start, |f| f.end);
        orig.extend_from_slice(&raw[root.body_start.max(header_end)..]);
        let (header, mut body) = order(&orig);
        body.extend_from_slice(eol);
        return replace_root(doc, &header, &body);
    }
    let p = &doc.tree().parts[part as usize];
    let (mut entity, body) = order(&raw[p.header_start..p.body_end]);
    entity.extend_from_slice(eol);
    entity.extend_from_slice(&body);
    splice(raw, vec![(p.header_start..p.body_end, entity)])
}

/// Replace a part (header section and body) with a new entity.
fn replace(doc: &Document, part: PartId, entity: Vec<u8>) -> Vec<u8> {
    let eol = line_ending(doc);
    if part == 0 {
        let (head, body) = split_leaf(&entity);
        return replace_root(
            doc,
            &with_eol(head.to_vec(), eol),
            &with_eol(body.to_vec(), eol),
        );
    }
    let p = &doc.tree().parts[part as usize];
    splice(
        doc.bytes(),
        vec![(p.header_start..p.body_end, with_eol(entity, eol))],
    )
}

/// Add an entity to a multipart, as its first or last part.
fn insert_child(
    doc: &Document,
    multipart: PartId,
    entity: Vec<u8>,
    first: bool,
) -> Result<Vec<u8>> {
    let tree = doc.tree();
    let children = match &tree.parts[multipart as usize].body {
        Body::Multipart { children } if !children.is_empty() => children,
        _ => {
            return Err(BuildError::InvalidEdit(
                "the multipart has no parts to add to".into(),
            ));
        }
    };
    let boundary = doc
        .part(multipart)
        .and_then(|p| p.param("boundary"))
        .unwrap_or_default();
    let eol = line_ending(doc);
    let entity = with_eol(entity, eol);
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary.as_bytes());
    let (at, bytes) = if first {
        let at = tree.parts[children[0] as usize].header_start;
        (at, [entity.as_slice(), eol, &delimiter, eol].concat())
    } else {
        let last = children[children.len() - 1];
        let at = tree.parts[last as usize].body_end;
        (at, [eol, delimiter.as_slice(), eol, &entity].concat())
    };
    Ok(splice(doc.bytes(), vec![(at..at, bytes)]))
}

fn is_type(doc: &Document, id: PartId, t: &str, s: &str) -> bool {
    doc.part(id)
        .is_some_and(|p| p.mime_type_pair() == (t.to_owned(), s.to_owned()))
}

fn parent_of(doc: &Document, id: PartId) -> Option<PartId> {
    doc.part(id).and_then(|p| p.node().parent)
}

/// The first body part of this type (not an attachment) in the top-level message.
fn body_part(doc: &Document, list: &[PartId], subtype: &str) -> Option<PartId> {
    list.iter().copied().find(|&id| {
        is_type(doc, id, "text", subtype)
            && doc
                .part(id)
                .is_some_and(|p| p.disposition().as_deref() != Some("attachment"))
    })
}

/// Add an entity next to `part` in the multipart/<subtype> around it, or wrap `part` in
/// a new one.
fn beside(
    doc: &Document,
    part: PartId,
    subtype: &str,
    opts: &Options,
    first: bool,
    make: &dyn Fn(&Options) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    match parent_of(doc, part) {
        Some(parent) if is_type(doc, parent, "multipart", subtype) => {
            let entity = content_for(&enclosing_boundaries(doc, Some(parent)), opts, make)?;
            insert_child(doc, parent, entity, first)
        }
        parent => {
            let entity = content_for(&enclosing_boundaries(doc, parent), opts, make)?;
            Ok(wrap(doc, part, subtype, entity, first))
        }
    }
}

/// Set the plain-text (`subtype` `plain`) or HTML body: the existing body part is replaced;
/// without one, the new part goes into a `multipart/alternative` with the other body, or
/// else first into the message's `multipart/mixed` (made if needed).
pub fn set_body(doc: &Document, subtype: &str, text: &str, opts: &Options) -> Result<Vec<u8>> {
    let make = |o: &Options| Ok(build::write_text_leaf(text, subtype, o));
    let s = doc.root().body_structure();
    let plain = subtype == "plain";
    let (same, other, other_subtype) = if plain {
        (&s.text, &s.html, "html")
    } else {
        (&s.html, &s.text, "plain")
    };
    if let Some(id) = body_part(doc, same, subtype) {
        let entity = content_for(&enclosing_boundaries(doc, parent_of(doc, id)), opts, &make)?;
        return Ok(replace(doc, id, entity));
    }
    if let Some(id) = body_part(doc, other, other_subtype) {
        return beside(doc, id, "alternative", opts, plain, &make);
    }
    add_to_root(doc, opts, true, &make)
}

/// Add a part to the message's `multipart/mixed` (wrapping the message's content in one
/// first if it is not one).
fn add_to_root(
    doc: &Document,
    opts: &Options,
    first: bool,
    make: &dyn Fn(&Options) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    if is_type(doc, 0, "multipart", "mixed") && doc.root().root().is_multipart() {
        let entity = content_for(&enclosing_boundaries(doc, Some(0)), opts, make)?;
        return insert_child(doc, 0, entity, first);
    }
    let entity = make(opts)?;
    Ok(wrap(doc, 0, "mixed", entity, first))
}

/// Add an attachment: an inline part with a Content-ID goes into a `multipart/related`
/// with the HTML body; others go last into the message's `multipart/mixed`.
pub fn add_attachment(
    doc: &Document,
    att: &build::Attachment<'_>,
    opts: &Options,
) -> Result<Vec<u8>> {
    let make = |o: &Options| build::write_leaf(att, o);
    if att.inline && att.content_id.is_some() {
        let s = doc.root().body_structure();
        if let Some(html) = body_part(doc, &s.html, "html") {
            return beside(doc, html, "related", opts, false, &make);
        }
    }
    add_to_root(doc, opts, false, &make)
}

/// Remove a part of a multipart of the top-level message, with its delimiter line.
pub fn remove_part(doc: &Document, part: PartId) -> Result<Vec<u8>> {
    let tree = doc.tree();
    let bad = |m: &str| Err(BuildError::InvalidEdit(m.into()));
    let Some(node) = tree.parts.get(part as usize) else {
        return bad("no such part");
    };
    if node.message != 0 {
        return bad("the part belongs to an attached message; edit that message instead");
    }
    let Some(parent) = node.parent else {
        return bad("the message's own content cannot be removed");
    };
    let Body::Multipart { children } = &tree.parts[parent as usize].body else {
        return bad("only parts of a multipart can be removed");
    };
    let Some(i) = children.iter().position(|&c| c == part) else {
        return bad("no such part");
    };
    if children.len() == 1 {
        return bad("the part is the only one of its multipart (RFC 2046 §5.1.1 needs one)");
    }
    let range = if i > 0 {
        tree.parts[children[i - 1] as usize].body_end..node.body_end
    } else {
        node.header_start..tree.parts[children[1] as usize].header_start
    };
    Ok(splice(doc.bytes(), vec![(range, Vec::new())]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::build::{Attachment, Content, MediaType, Value, write_field};
    use std::borrow::Cow;

    fn line(name: &str, value: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_field(&mut out, name, &Value::parse(name, value).unwrap(), false).unwrap();
        out
    }

    fn doc(b: &[u8]) -> Document {
        Document::from_vec(b.to_vec())
    }

    const SIMPLE: &[u8] = b"From: a@x.test\nSubject: hi\n  there\nTo: b@x.test\n\nbody\n";

    #[test]
    fn header_edits_touch_only_their_lines() {
        let d = doc(SIMPLE);
        assert_eq!(
            set_field(&d, "subject", line("Subject", "new")),
            b"From: a@x.test\nSubject: new\nTo: b@x.test\n\nbody\n"
        );
        assert_eq!(
            add_field(&d, line("X-Tag", "1")),
            b"From: a@x.test\nSubject: hi\n  there\nTo: b@x.test\nX-Tag: 1\n\nbody\n"
        );
        assert_eq!(
            remove_field(&d, "To"),
            b"From: a@x.test\nSubject: hi\n  there\n\nbody\n"
        );
        // No header section, or one that ends the input without a line break.
        assert_eq!(
            add_field(&doc(b"just a body\n"), line("Subject", "s")),
            b"Subject: s\n\njust a body\n"
        );
        assert_eq!(
            add_field(&doc(b"Subject: s"), line("To", "b@x.test")),
            b"Subject: s\r\nTo: b@x.test\r\n"
        );
    }

    #[test]
    fn body_edits() {
        let d = doc(SIMPLE);
        let out = set_body(&d, "plain", "new text", &Options::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("From: a@x.test\nSubject: hi\n  there\nTo: b@x.test\n"));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\nMIME-Version: 1.0\n\nnew text"));
        // Adding HTML next to the plain text keeps the original text part byte for byte.
        let out = set_body(&d, "html", "<p>x</p>", &Options::default()).unwrap();
        let e = Document::from_vec(out.clone());
        assert_eq!(e.root().root().mime_type(), "multipart/alternative");
        let s = e.root().body_structure();
        assert_eq!(e.part(s.text[0]).unwrap().text().unwrap(), "body\n");
        // The new text ends with a line break, in the message's own line ending.
        assert_eq!(e.part(s.html[0]).unwrap().text().unwrap(), "<p>x</p>\n");
        let structural: Vec<_> = e
            .root()
            .defects()
            .into_iter()
            .filter(|d| d.kind != crate::message::DefectKind::MissingRequiredHeader)
            .collect();
        assert!(structural.is_empty(), "{structural:?}");
        // An attachment wraps it all in multipart/mixed.
        let att = Attachment {
            content: Content::Bytes(Cow::Borrowed(b"\x00\x01")),
            media_type: MediaType::parse("application/octet-stream").unwrap(),
            filename: Some("a.bin".into()),
            inline: false,
            content_id: None,
        };
        let out = add_attachment(&e, &att, &Options::default()).unwrap();
        let f = Document::from_vec(out);
        assert_eq!(f.root().root().mime_type(), "multipart/mixed");
        let s = f.root().body_structure();
        assert_eq!(&*f.part(s.attachments[0]).unwrap().payload(), b"\x00\x01");
        let alt = f.part(f.root().root().children()[0]).unwrap();
        let old_alt = e.root().root();
        assert_eq!(
            &alt.bytes()[alt.bytes().len() - old_alt.raw_body().len()..],
            old_alt.raw_body()
        );
        // And removing it leaves a mixed of one part.
        let g = Document::from_vec(remove_part(&f, s.attachments[0]).unwrap());
        assert!(g.root().body_structure().attachments.is_empty());
        assert!(remove_part(&g, 0).is_err());
    }

    #[test]
    fn wrapping_keeps_mixed_line_endings_of_the_original() {
        // A message with LF headers and a CRLF body: the body goes into the new
        // multipart byte for byte, CRs included; only new lines use the message's LF.
        let d = doc(b"From: a@x.test\nContent-Type: text/plain\n\nline one\r\nline two\r\n");
        let att = Attachment {
            content: Content::Bytes(Cow::Borrowed(b"x")),
            media_type: MediaType::parse("application/octet-stream").unwrap(),
            filename: Some("x".into()),
            inline: false,
            content_id: None,
        };
        let out = add_attachment(&d, &att, &Options::default()).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("Content-Type: text/plain\n\nline one\r\nline two\r\n\n--=_"));
        assert!(!text.contains("--\r\n"));
        let e = Document::from_vec(out);
        let s = e.root().body_structure();
        assert_eq!(
            e.part(s.text[0]).unwrap().text().unwrap(),
            "line one\r\nline two\r\n"
        );
    }

    #[test]
    fn new_content_never_holds_an_outer_delimiter() {
        let d = doc(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n--b--\r\n");
        let out = set_body(&d, "html", "--b\r\nsneaky", &Options::default()).unwrap();
        let e = Document::from_vec(out);
        let s = e.root().body_structure();
        assert_eq!(
            e.part(s.html[0]).unwrap().text().unwrap(),
            "--b\r\nsneaky\r\n"
        );
        assert_eq!(e.part(s.text[0]).unwrap().text().unwrap(), "hi");
    }
}
