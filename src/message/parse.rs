//! The MIME structure of a message (RFC 2045, RFC 2046 §5), found in one pass.
//!
//! mail-parser's header tokenizer reads each header section (names, byte ranges, and the
//! `Content-Type`/`Content-Disposition` grammars); this module walks the bodies. It does not
//! decode anything: a part is a set of byte ranges into the input, and payloads are decoded
//! only when asked for. mail-parser's own `MessageParser::parse` would decode every body up
//! front (doubling memory for large attachments), matches boundaries in the middle of lines
//! and keeps byte offsets as `u32` in its parts, which is why the walk is ours.
//!
//! The walk is iterative (an explicit stack of open parts), so no input can exhaust the call
//! stack, and every step moves forward through the input, so it ends in linear time for a
//! bounded nesting depth.

use std::sync::LazyLock;

use mail_parser::parsers::MessageStream;

use crate::codec::params::{self, Params};
use memchr::memmem;
use smallvec::SmallVec;

use super::defects::{Defect, DefectKind};

/// Index of a part in `Tree::parts`.
pub type PartId = u32;
/// Index of a message: 0 is the top-level message, then `Tree::attached` in order.
pub type MessageId = u32;

/// Open containers (multiparts and attached messages) nested deeper than this are kept as
/// opaque leaves: real mail nests a handful of levels, and the bound keeps the boundary
/// check on each `--` line cheap.
pub const MAX_DEPTH: usize = 100;

/// What a part's body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A leaf: its payload is `body_start..body_end`, still transfer-encoded.
    Leaf,
    /// A multipart (RFC 2046 §5.1): the parts between its delimiters, in order.
    Multipart { children: Vec<PartId> },
    /// A `message/rfc822` or `message/global` part: the message it contains.
    Message { message: MessageId },
}

/// Where a header field is in the input: `Name: value` and its line break are
/// `start..end`, the colon is at `colon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRange {
    pub start: usize,
    pub colon: usize,
    pub end: usize,
}

impl FieldRange {
    /// The field name, without whitespace before the colon (RFC 5322 §4.5).
    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        let name = &raw[self.start..self.colon];
        let len = name
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |i| i + 1);
        &name[..len]
    }

    /// Is this the field `name` (ASCII case-insensitive)?
    pub fn is(&self, raw: &[u8], name: &str) -> bool {
        self.name(raw).eq_ignore_ascii_case(name.as_bytes())
    }

    /// Parse the value with one of mail-parser's field grammars.
    pub fn parse_with<'a, T>(
        &self,
        raw: &'a [u8],
        grammar: impl FnOnce(&mut MessageStream<'a>) -> T,
    ) -> T {
        let mut stream = MessageStream::new(&raw[..self.end]);
        stream.skip_bytes(self.colon + 1);
        grammar(&mut stream)
    }
}

/// One MIME entity: its header fields and where its pieces are in the input.
#[derive(Debug, Clone)]
pub struct PartNode<'a> {
    /// Its header fields, in order: `Tree::fields[headers]` (one vector holds every part's
    /// fields, so a part costs no allocation of its own). Values are read on demand.
    pub headers: std::ops::Range<usize>,
    /// The first Content-Type field (RFC 2045 §5.1, RFC 2231); `None` when absent or
    /// without a value.
    pub content_type: Option<Params<'a>>,
    /// The first Content-Disposition field (RFC 2183), likewise.
    pub disposition: Option<Params<'a>>,
    /// Where the header section starts (for an edit API: the part's bytes are
    /// `header_start..body_end`).
    pub header_start: usize,
    pub body_start: usize,
    /// The body ends here; a delimiter's leading CRLF is not part of the body (RFC 2046
    /// §5.1.1).
    pub body_end: usize,
    pub body: Body,
    pub parent: Option<PartId>,
    /// The message this part belongs to (see `Tree::message`).
    pub message: MessageId,
    /// This part and its descendants (also inside attached messages) are the parts
    /// `self..subtree_end`: the walk creates parts in document order.
    pub subtree_end: PartId,
    /// Without a Content-Type this part is `message/rfc822` (it is in a multipart/digest,
    /// RFC 2046 §5.1.5) rather than `text/plain`.
    pub in_digest: bool,
}

/// A message: the top-level one, or one attached as a `message/rfc822` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageNode {
    pub root: PartId,
    /// The `message/rfc822` part holding it (`None` for the top-level message).
    pub container: Option<PartId>,
    /// The message's own bytes are `start..end`.
    pub start: usize,
    pub end: usize,
}

/// The parsed structure of a message: parts and attached messages, as byte ranges into `raw`.
#[derive(Debug)]
pub struct Tree<'a> {
    pub raw: &'a [u8],
    pub parts: Vec<PartNode<'a>>,
    /// Every header field of every part, in document order.
    pub fields: SmallVec<[FieldRange; 24]>,
    /// The attached messages: message `m` (from 1) is `attached[m - 1]`. The top-level
    /// message is implicit, so a plain message allocates nothing here.
    pub attached: Vec<MessageNode>,
    /// Structural defects found during the walk, with the part each belongs to.
    pub defects: Vec<(PartId, Defect)>,
}

/// Where a line starting with `--` may be; built once (building it costs more than
/// parsing a small message).
static NEWLINE_DASH: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\n--"));

/// What kind of entity a header section announces.
enum Kind {
    Leaf,
    Multipart(Vec<u8>),
    Message,
}

/// A container on the path from the root to the entity being read.
struct Open {
    part: PartId,
    /// The multipart boundary while its delimiters are still expected.
    boundary: Option<Vec<u8>>,
    /// A delimiter of this multipart has been seen (the preamble is over).
    started: bool,
    digest: bool,
}

/// A delimiter line found in the input.
struct Delimiter {
    /// Index in the open stack of the multipart it belongs to.
    level: usize,
    line_start: usize,
    line_end: usize,
    close: bool,
}

/// Read a Content-Type or Content-Disposition field; `None` when it has no value.
fn read_content_type<'a>(raw: &'a [u8], f: &FieldRange) -> Option<Params<'a>> {
    let value = raw.get((f.colon + 1).min(f.end)..f.end)?;
    let p = params::parse_bytes(value);
    (!p.value.is_empty()).then_some(p)
}

/// Parse the structure of `raw`. Never fails; what had to be repaired is in `defects`.
pub fn build(raw: &[u8]) -> Tree<'_> {
    let mut walk = Walk {
        raw,
        tree: Tree {
            raw,
            // A typical header section fits inline (fields have no lifetime, so the inline
            // array keeps `Tree` covariant, as `self_cell` needs).
            parts: Vec::with_capacity(1),
            fields: SmallVec::new(),
            attached: Vec::new(),
            defects: Vec::new(),
        },
        open: Vec::new(),
    };
    walk.run();
    walk.tree
}

struct Walk<'a> {
    raw: &'a [u8],
    tree: Tree<'a>,
    open: Vec<Open>,
}

impl Tree<'_> {
    /// The number of messages (the top-level one and the attached ones).
    pub fn message_count(&self) -> usize {
        self.attached.len() + 1
    }

    /// A message node by id (0 is the top-level message).
    pub fn message(&self, id: MessageId) -> Option<MessageNode> {
        match id {
            0 => Some(MessageNode {
                root: 0,
                container: None,
                start: 0,
                end: self.raw.len(),
            }),
            _ => self.attached.get(id as usize - 1).cloned(),
        }
    }

    /// The header fields of a part.
    pub fn headers(&self, part: PartId) -> &[FieldRange] {
        self.parts
            .get(part as usize)
            .and_then(|p| self.fields.get(p.headers.clone()))
            .unwrap_or_default()
    }
}

impl<'a> Walk<'a> {
    fn defect(&mut self, part: PartId, kind: DefectKind, message: String, offset: usize) {
        self.tree
            .defects
            .push((part, Defect::new(kind, message, Some(offset))));
    }

    fn run(&mut self) {
        let raw = self.raw;
        // Where the next entity starts, the container it goes in and its message.
        let mut at = 0;
        let mut parent: Option<PartId> = None;
        let mut message: MessageId = 0;
        let mut in_digest = false;
        // The entity starts a message (the top-level one or an attached one).
        let mut message_root = true;
        'entity: loop {
            let id = self.tree.parts.len() as PartId;
            let (headers, header_start, body_start) = self.read_headers(id, at, message_root);
            message_root = false;
            let fields = &self.tree.fields[headers.clone()];
            let first = |name: &str| fields.iter().find(|f| f.is(raw, name));
            let content_type = first("Content-Type").and_then(|f| read_content_type(raw, f));
            let disposition = first("Content-Disposition").and_then(|f| read_content_type(raw, f));
            let node = PartNode {
                headers,
                content_type,
                disposition,
                header_start,
                body_start,
                body_end: body_start,
                body: Body::Leaf,
                parent,
                message,
                subtree_end: id + 1,
                in_digest,
            };
            let kind = self.classify(id, &node);
            self.tree.parts.push(node);
            if let Some(p) = parent
                && let Body::Multipart { children } = &mut self.tree.parts[p as usize].body
            {
                children.push(id);
            }
            let deep = self.open.len() >= MAX_DEPTH;
            if deep && !matches!(kind, Kind::Leaf) {
                self.defect(
                    id,
                    DefectKind::NestingTooDeep,
                    format!("parts nest more than {MAX_DEPTH} deep; this one is kept whole"),
                    header_start,
                );
            }
            let mut open = Open {
                part: id,
                boundary: None,
                started: false,
                digest: false,
            };
            match kind {
                Kind::Multipart(boundary) if !deep => {
                    open.digest = self.tree.parts[id as usize]
                        .content_type
                        .as_ref()
                        .and_then(|ct| ct.sub_type())
                        .is_some_and(|s| s.eq_ignore_ascii_case("digest"));
                    open.boundary = Some(boundary);
                    self.tree.parts[id as usize].body = Body::Multipart {
                        children: Vec::new(),
                    };
                    self.open.push(open);
                }
                Kind::Message if !deep => {
                    let m = self.tree.message_count() as MessageId;
                    self.tree.attached.push(MessageNode {
                        root: id + 1,
                        container: Some(id),
                        start: body_start,
                        end: raw.len(),
                    });
                    self.tree.parts[id as usize].body = Body::Message { message: m };
                    self.open.push(open);
                    // The attached message's header section starts right at the body.
                    at = body_start;
                    parent = Some(id);
                    message = m;
                    in_digest = false;
                    message_root = true;
                    continue 'entity;
                }
                _ => self.open.push(open),
            }
            // Read on to the next delimiter of any open multipart: it ends this part (and
            // every container inside that multipart).
            at = body_start;
            loop {
                let Some(mut d) = self.find_delimiter(at) else {
                    self.close_to(0, raw.len());
                    break 'entity;
                };
                let mut end = d.line_start;
                if end > 0 && raw[end - 1] == b'\n' {
                    end -= 1;
                    if end > 0 && raw[end - 1] == b'\r' {
                        end -= 1;
                    }
                }
                self.close_to(d.level + 1, end);
                // Delimiters with nothing between them count once (a body part needs the
                // CRLF that the first delimiter line consumed); the stdlib reads them so too.
                while !d.close
                    && let Some(next) = self.delimiter_at(d.line_end)
                    && next.level == d.level
                {
                    d.line_end = next.line_end;
                    d.close = next.close;
                }
                let Some(multipart) = self.open.last_mut() else {
                    break 'entity; // ok: `level` indexes `open`, so it is not empty
                };
                if d.close {
                    // The epilogue follows; it ends at a delimiter of an outer multipart.
                    let (part, started) = (multipart.part, multipart.started);
                    multipart.boundary = None;
                    if !started {
                        self.tree.parts[part as usize].body = Body::Leaf;
                        self.defect(
                            part,
                            DefectKind::StartBoundaryNotFound,
                            "a multipart closes before its first part; its body is read as text"
                                .into(),
                            d.line_start,
                        );
                    }
                    at = d.line_end;
                    continue;
                }
                multipart.started = true;
                parent = Some(multipart.part);
                in_digest = multipart.digest;
                message = self.tree.parts[multipart.part as usize].message;
                at = d.line_end;
                continue 'entity;
            }
        }
        // Attached messages end where their container parts end.
        for m in self.tree.attached.iter_mut() {
            if let Some(c) = m.container {
                m.end = self.tree.parts[c as usize].body_end;
            }
        }
    }

    /// Close the open containers from the innermost down to (and excluding) `keep`; their
    /// bodies end at `end`.
    fn close_to(&mut self, keep: usize, end: usize) {
        while self.open.len() > keep {
            let Some(o) = self.open.pop() else { break };
            let count = self.tree.parts.len() as PartId;
            let part = &mut self.tree.parts[o.part as usize];
            part.body_end = end.max(part.body_start);
            part.subtree_end = count;
            if let Some(boundary) = o.boundary {
                let b = String::from_utf8_lossy(&boundary).into_owned();
                if o.started {
                    self.defect(
                        o.part,
                        DefectKind::CloseBoundaryNotFound,
                        format!("multipart boundary {b:?} is never closed with \"--{b}--\""),
                        end,
                    );
                } else {
                    // No delimiter at all: RFC 2046 gives no structure, so the body is
                    // one piece of text, as the stdlib reads it.
                    part.body = Body::Leaf;
                    let at = part.body_start;
                    self.defect(
                        o.part,
                        DefectKind::StartBoundaryNotFound,
                        format!("multipart boundary {b:?} never appears; the body is read as text"),
                        at,
                    );
                }
            }
        }
    }

    /// Find the next delimiter line at or after `from` (a line start) for any open
    /// multipart, innermost first.
    fn find_delimiter(&self, from: usize) -> Option<Delimiter> {
        if !self.open.iter().any(|o| o.boundary.is_some()) {
            return None;
        }
        let raw = self.raw;
        let mut line = from;
        loop {
            if let Some(d) = self.delimiter_at(line) {
                return Some(d);
            }
            let k = NEWLINE_DASH.find(raw.get(line..)?)?;
            line += k + 1;
        }
    }

    /// Is the line at `line` (which starts with `--`) a delimiter of an open multipart?
    /// RFC 2046 §5.1.1: `--boundary`, then `--` for the close delimiter, then only
    /// whitespace to the end of the line.
    fn match_delimiter(&self, line: usize) -> Option<Delimiter> {
        let raw = self.raw;
        for (level, o) in self.open.iter().enumerate().rev() {
            let Some(b) = &o.boundary else { continue };
            let Some(rest) = raw.get(line + 2..) else {
                continue;
            };
            if !rest.starts_with(b) {
                continue;
            }
            let mut p = line + 2 + b.len();
            let close = raw.get(p..p + 2) == Some(b"--");
            if close {
                p += 2;
            }
            while p < raw.len() && matches!(raw[p], b' ' | b'\t') {
                p += 1;
            }
            let line_end = match raw.get(p) {
                None => raw.len(),
                Some(b'\n') => p + 1,
                Some(b'\r') if raw.get(p + 1) == Some(&b'\n') => p + 2,
                _ => continue,
            };
            return Some(Delimiter {
                level,
                line_start: line,
                line_end,
                close,
            });
        }
        None
    }

    fn delimiter_at(&self, line: usize) -> Option<Delimiter> {
        if self.raw.get(line..line + 2) == Some(b"--") {
            self.match_delimiter(line)
        } else {
            None
        }
    }

    fn is_delimiter_line(&self, line: usize) -> bool {
        self.delimiter_at(line).is_some()
    }

    /// Read the header section starting at `at`: returns the fields, where the section
    /// starts (after a skipped mbox `From ` line) and where the body starts.
    ///
    /// A section ends at an empty line (RFC 5322 §2.1), at a delimiter of an open multipart,
    /// or at the first line that is neither a field nor a continuation, which then starts
    /// the body (as the stdlib reads it).
    fn read_headers(
        &mut self,
        id: PartId,
        at: usize,
        message_root: bool,
    ) -> (std::ops::Range<usize>, usize, usize) {
        let raw = self.raw;
        let mut start = at;
        if message_root
            && raw[at..].starts_with(b"From ")
            && field_colon(trim_eol(&raw[at..next_line(raw, at)])).is_none()
        {
            // An mbox separator line left on the message (RFC 4155); on an attached message
            // too, where forwarding an mbox file puts it (the stdlib skips it there as well).
            start = next_line(raw, at);
            self.defect(
                id,
                DefectKind::InvalidHeaderLine,
                "an mbox \"From \" line precedes the headers; it is skipped".into(),
                at,
            );
        }
        let first_field = self.tree.fields.len();
        let mut p = start;
        let body_start = loop {
            if p >= raw.len() {
                break raw.len();
            }
            let next = next_line(raw, p);
            let line = trim_eol(&raw[p..next]);
            if line.is_empty() {
                break next;
            }
            if line.starts_with(b"--") && self.is_delimiter_line(p) {
                break p;
            }
            if matches!(line[0], b' ' | b'\t') {
                // Folded: it belongs to the field above (RFC 5322 §2.2.3).
                match self.tree.fields[first_field..].last_mut() {
                    Some(f) => f.end = next,
                    None => self.defect(
                        id,
                        DefectKind::InvalidHeaderLine,
                        "the header section starts with a continuation line; it is skipped".into(),
                        p,
                    ),
                }
                p = next;
                continue;
            }
            let Some(colon) = field_colon(line) else {
                let (kind, message) = if self.tree.fields.len() == first_field && id == 0 {
                    (
                        DefectKind::NoHeaders,
                        "the message has no header section; all of it is the body",
                    )
                } else {
                    (
                        DefectKind::MissingHeaderBodySeparator,
                        "a line that is not a header field ends the header section; the body starts there",
                    )
                };
                self.defect(id, kind, message.into(), p);
                break p;
            };
            self.tree.fields.push(FieldRange {
                start: p,
                colon: p + colon,
                end: next,
            });
            p = next;
        };
        (first_field..self.tree.fields.len(), start, body_start)
    }

    /// Decide what the entity is from its header fields.
    fn classify(&mut self, id: PartId, node: &PartNode<'a>) -> Kind {
        let ct_field = self.tree.fields[node.headers.clone()]
            .iter()
            .find(|f| f.is(self.raw, "Content-Type"));
        let ct = match (ct_field, &node.content_type) {
            (None, _) => None,
            (Some(_), Some(ct)) => Some(ct),
            (Some(f), None) => {
                self.defect(
                    id,
                    DefectKind::InvalidContentType,
                    "the Content-Type header cannot be read; text/plain is assumed".into(),
                    f.start,
                );
                None
            }
        };
        let ct = match ct {
            Some(c) if c.sub_type().is_none_or(str::is_empty) => {
                // RFC 2045 §5.2: an invalid Content-Type means text/plain (as the stdlib
                // reads it too).
                self.defect(
                    id,
                    DefectKind::InvalidContentType,
                    format!(
                        "Content-Type {:?} has no subtype; text/plain is assumed",
                        c.main_type()
                    ),
                    node.header_start,
                );
                return Kind::Leaf;
            }
            c => c,
        };
        let is_message = match ct {
            None => node.in_digest,
            Some(ct) => {
                ct.main_type().eq_ignore_ascii_case("message")
                    && ct.sub_type().is_some_and(|s| {
                        s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                    })
            }
        };
        if is_message {
            let encoded = super::body::TransferEncoding::of(
                self.raw,
                &self.tree.fields[node.headers.clone()],
            )
            .is_encoded();
            if encoded {
                // Decoded and parsed when the attached message is asked for.
                self.defect(
                    id,
                    DefectKind::EncodedMessage,
                    "an attached message is base64 or quoted-printable encoded (RFC 2046 §5.2.1 forbids it); it is decoded first".into(),
                    node.header_start,
                );
                return Kind::Leaf;
            }
            return Kind::Message;
        }
        let Some(ct) = ct else { return Kind::Leaf };
        if !ct.main_type().eq_ignore_ascii_case("multipart") {
            return Kind::Leaf;
        }
        match ct.get("boundary") {
            Some(b) if !b.is_empty() => Kind::Multipart(b.as_bytes().to_vec()),
            _ => {
                self.defect(
                    id,
                    DefectKind::MultipartWithoutBoundary,
                    "a multipart Content-Type has no boundary parameter; the body is read as text"
                        .into(),
                    node.header_start,
                );
                Kind::Leaf
            }
        }
    }
}

/// The start of the line after the one at `p` (or the end of the input).
pub fn next_line(raw: &[u8], p: usize) -> usize {
    match memchr::memchr(b'\n', &raw[p..]) {
        Some(k) => p + k + 1,
        None => raw.len(),
    }
}

/// A line without its CRLF or LF.
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The colon of a header field line: a name of printable ASCII other than `:`, optional
/// whitespace (RFC 5322 §4.5 obs-optional), then `:`. (A byte loop: names are short, and
/// this runs on every line of every header section.)
fn field_colon(line: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b':' => return (i > 0).then_some(i),
            0x21..=0x7e => i += 1,
            b' ' | b'\t' if i > 0 => {
                let mut j = i;
                while matches!(line.get(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                return (line.get(j) == Some(&b':')).then_some(j);
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves<'a>(t: &Tree<'a>) -> Vec<&'a [u8]> {
        t.parts
            .iter()
            .filter(|p| p.body == Body::Leaf)
            .map(|p| &t.raw[p.body_start..p.body_end])
            .collect()
    }

    #[test]
    fn rfc2046_example() {
        // RFC 2046 §5.1.1, the example the seed chapter copies.
        let raw = b"From: Nathaniel Borenstein <nsb@bellcore.com>\r\n\
To: Ned Freed <ned@innosoft.com>\r\n\
Subject: Sample message\r\n\
MIME-Version: 1.0\r\n\
Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n\
\r\n\
This is the preamble.  It is to be ignored, though it\r\n\
is a handy place for composition agents to include an\r\n\
explanatory note to non-MIME conformant readers.\r\n\
\r\n\
--simple boundary\r\n\
\r\n\
This is implicitly typed plain US-ASCII text.\r\n\
It does NOT end with a linebreak.\r\n\
--simple boundary\r\n\
Content-type: text/plain; charset=us-ascii\r\n\
\r\n\
This is explicitly typed plain US-ASCII text.\r\n\
It DOES end with a linebreak.\r\n\
\r\n\
--simple boundary--\r\n\
\r\n\
This is the epilogue.  It is also to be ignored.\r\n";
        let t = build(raw);
        assert_eq!(t.parts.len(), 3);
        assert_eq!(
            leaves(&t),
            vec![
                &b"This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak."[..],
                &b"This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n"[..],
            ]
        );
        assert!(t.defects.is_empty(), "{:?}", t.defects);
        assert_eq!(t.parts[0].body_end, raw.len());
        assert_eq!(t.parts[0].subtree_end, 3);
    }

    #[test]
    fn missing_close_delimiter() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n";
        let t = build(raw);
        assert_eq!(leaves(&t), vec![&b"one"[..], &b"two\n"[..]]);
        assert_eq!(t.defects.len(), 1);
        assert_eq!(t.defects[0].1.kind, DefectKind::CloseBoundaryNotFound);
    }

    #[test]
    fn boundary_never_found() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\nno parts here\n";
        let t = build(raw);
        assert_eq!(t.parts.len(), 1);
        assert_eq!(t.parts[0].body, Body::Leaf);
        assert_eq!(t.defects[0].1.kind, DefectKind::StartBoundaryNotFound);
    }

    #[test]
    fn delimiter_must_be_alone_on_its_line() {
        // "--b" inside a line, or followed by text, is content (RFC 2046 §5.1.1).
        let raw =
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx --b\n--bx\n--b--\nepilogue\n";
        let t = build(raw);
        assert_eq!(leaves(&t), vec![&b"x --b\n--bx"[..]]);
        assert!(t.defects.is_empty());
    }

    #[test]
    fn nested_message_and_outer_delimiter_closes_inner() {
        let raw = b"Content-Type: multipart/mixed; boundary=outer\n\n--outer\n\
Content-Type: message/rfc822\n\nSubject: inner\n\
Content-Type: multipart/alternative; boundary=inner\n\n--inner\n\nA\n--inner\n\nB\n\
--outer--\n";
        let t = build(raw);
        assert_eq!(t.message_count(), 2);
        assert_eq!(leaves(&t), vec![&b"A"[..], &b"B"[..]]);
        // The inner multipart was never closed.
        assert_eq!(t.defects.len(), 1);
        assert_eq!(t.defects[0].1.kind, DefectKind::CloseBoundaryNotFound);
        let inner = &t.attached[0];
        assert!(t.raw[inner.start..inner.end].starts_with(b"Subject: inner"));
        assert!(t.raw[inner.start..inner.end].ends_with(b"B"));
        assert_eq!(t.parts[0].subtree_end as usize, t.parts.len());
    }

    #[test]
    fn repeated_delimiters_count_once() {
        // CPython test_email/data/msg_37.txt.
        let raw = b"Content-Type: multipart/mixed; boundary=ABCDE\n\n--ABCDE\nContent-Type: text/x-one\n\nOne\n--ABCDE\n--ABCDE\n\nTwo\n--ABCDE\n--ABCDE\n--ABCDE\n\nThree\n--ABCDE--\n";
        let t = build(raw);
        assert_eq!(leaves(&t), vec![&b"One"[..], &b"Two"[..], &b"Three"[..]]);
    }

    #[test]
    fn close_before_first_part() {
        let raw = b"Content-Type: multipart/mixed; boundary=B\n\n--B--\n";
        let t = build(raw);
        assert_eq!(t.parts[0].body, Body::Leaf);
        assert_eq!(t.defects[0].1.kind, DefectKind::StartBoundaryNotFound);
    }

    #[test]
    fn same_boundary_nested_matches_innermost() {
        // CPython msg_39.txt's shape: an inner multipart reuses its parent's boundary.
        let raw = b"Content-Type: multipart/mixed; boundary=X\n\n--X\n\
Content-Type: multipart/alternative; boundary=X\n\n--X\n\na\n--X\n\nb\n--X--\n--X\n\nc\n--X--\n";
        let t = build(raw);
        assert_eq!(leaves(&t), vec![&b"a"[..], &b"b"[..], &b"c"[..]]);
        assert!(t.defects.is_empty());
    }

    #[test]
    fn mbox_from_line_on_an_attached_message() {
        // Issue 12 item 2: the inner message keeps its header section.
        let raw = b"Content-Type: message/rfc822\n\nFrom a@b.example Mon Jun 10 14:00:00 2024\n\
Subject: inner\nFrom: a@b.example\n\nbody\n";
        let t = build(raw);
        assert_eq!(t.message_count(), 2);
        assert_eq!(t.headers(1).len(), 2);
        assert_eq!(leaves(&t), vec![&b"body\n"[..]]);
        assert_eq!(t.defects.len(), 1);
        assert_eq!(t.defects[0].0, 1);
        assert_eq!(t.defects[0].1.kind, DefectKind::InvalidHeaderLine);
        // Not in a multipart's part, where it is body text after a missing blank line.
        let t = build(b"Content-Type: multipart/mixed; boundary=b\n\n--b\nFrom x\n--b--\n");
        assert_eq!(t.headers(1).len(), 0);
    }

    #[test]
    fn folded_boundary_parameter() {
        // Issue 12 item 1: the boundary folded right after `=`.
        let raw =
            b"Content-Type: multipart/mixed; boundary=\n \"b\"\n\n--b\n\none\n--b\n\ntwo\n--b--\n";
        let t = build(raw);
        assert_eq!(leaves(&t), vec![&b"one"[..], &b"two"[..]]);
    }

    #[test]
    fn field_lines() {
        assert_eq!(field_colon(b"Subject: x"), Some(7));
        assert_eq!(field_colon(b"From  : x"), Some(6));
        assert_eq!(field_colon(b"X-A:"), Some(3));
        assert_eq!(field_colon(b": x"), None);
        assert_eq!(field_colon(b"mal formed: x"), None);
        assert_eq!(field_colon(b"From x@y Mon Jun 10 14:00:00 2024"), None);
        assert_eq!(field_colon(b"no colon"), None);
        assert_eq!(field_colon(b"Caf\xc3\xa9: x"), None);
        assert_eq!(field_colon(b""), None);
    }

    #[test]
    fn header_section_ends_at_a_non_field_line() {
        let t = build(b"Subject: x\nthis is body\nKey: value\n");
        assert_eq!(t.headers(0).len(), 1);
        assert_eq!(leaves(&t), vec![&b"this is body\nKey: value\n"[..]]);
        assert_eq!(t.defects[0].1.kind, DefectKind::MissingHeaderBodySeparator);
    }

    #[test]
    fn no_headers_and_empty_input() {
        let t = build(b"just text\n");
        assert_eq!(t.defects[0].1.kind, DefectKind::NoHeaders);
        assert_eq!(leaves(&t), vec![&b"just text\n"[..]]);
        let t = build(b"");
        assert_eq!(t.parts.len(), 1);
        assert!(t.defects.is_empty());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut raw = Vec::new();
        for _ in 0..10_000 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        raw.extend_from_slice(b"Subject: bottom\n\nbody\n");
        let t = build(&raw);
        assert_eq!(t.message_count(), MAX_DEPTH + 1);
        assert!(
            t.defects
                .iter()
                .any(|(_, d)| d.kind == DefectKind::NestingTooDeep)
        );
    }
}
