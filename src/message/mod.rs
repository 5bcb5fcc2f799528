//! RFC 5322 / MIME messages: parse once into byte ranges, read fields when asked.
//!
//! A [`Document`] owns the message bytes and the [`Tree`] of parts that borrows from them
//! (`self_cell`, as pyca/cryptography does for certificates). Nothing is decoded during the
//! parse: header values, addresses, dates, the Received trace, payloads and texts are read
//! from their byte ranges when a caller asks, so reading one header of a large message costs
//! next to nothing. Header field grammars come from Stalwart's mail-parser; the MIME walk is
//! in [`parse`].
//!
//! No pyo3 here: `crate::python::message` wraps this for Python.

pub mod address;
pub mod authres;
pub mod body;
pub mod build;
pub mod date;
pub mod defects;
pub mod edit;
pub mod headers;
pub mod list_headers;
pub mod parse;
pub mod received;
pub mod reply;
pub mod tag_list;

use std::borrow::Cow;

use mail_parser::{HeaderValue, parsers::MessageStream};

pub use address::Address;
pub use body::TransferEncoding;
pub use date::Date;
pub use defects::{Defect, DefectKind};
pub use headers::Field;
pub use parse::{Body, MessageId, PartId, PartNode, Tree};
pub use received::Received;

/// Bytes a [`Document`] can own: a `Vec<u8>`, or (in the Python layer) a `bytes` object,
/// which that layer gets back with `Document::source` and a downcast.
pub trait Source: Send + Sync + std::any::Any {
    fn bytes(&self) -> &[u8];
}

impl Source for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

self_cell::self_cell!(
    struct Cell {
        owner: Box<dyn Source>,
        #[covariant]
        dependent: Tree,
    }
);

/// A parsed message: its bytes and their structure.
pub struct Document {
    cell: Cell,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("len", &self.bytes().len())
            .field("parts", &self.tree().parts.len())
            .finish()
    }
}

impl Document {
    /// Parse `source`. Never fails: malformed mail is read as well as it can be, with
    /// [`Defect`]s saying how.
    pub fn parse(source: Box<dyn Source>) -> Self {
        Document {
            cell: Cell::new(source, |s| parse::build(s.bytes())),
        }
    }

    pub fn from_vec(data: Vec<u8>) -> Self {
        Self::parse(Box::new(data))
    }

    /// What the document owns.
    pub fn source(&self) -> &dyn Source {
        &**self.cell.borrow_owner()
    }

    pub fn tree(&self) -> &Tree<'_> {
        self.cell.borrow_dependent()
    }

    pub fn bytes(&self) -> &[u8] {
        self.tree().raw
    }

    /// The top-level message.
    pub fn root(&self) -> MessageView<'_> {
        MessageView {
            tree: self.tree(),
            id: 0,
        }
    }

    pub fn message(&self, id: MessageId) -> Option<MessageView<'_>> {
        let tree = self.tree();
        ((id as usize) < tree.message_count()).then_some(MessageView { tree, id })
    }

    pub fn part(&self, id: PartId) -> Option<PartView<'_>> {
        let tree = self.tree();
        ((id as usize) < tree.parts.len()).then_some(PartView { tree, id })
    }
}

/// Header fields RFC 5322 §3.6 allows at most once.
const ONCE: [&str; 11] = [
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
];

/// The fields `defects` looks at: [`ONCE`] (at the same indexes), then the ones that tell a
/// MIME message.
const WATCHED: [&str; 14] = {
    let mime = ["MIME-Version", "Content-Type", "Content-Transfer-Encoding"];
    let mut all = [""; 14];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < ONCE.len() {
            ONCE[i]
        } else {
            mime[i - ONCE.len()]
        };
        i += 1;
    }
    all
};

/// What a caller of [`MessageView::defects_with`] has already parsed: the Date field (`None`
/// when not parsed, `Some(None)` when it is not a date) and the `parse_list_checked` result
/// of the first From, To and Cc fields, when there is such a field.
#[derive(Default, Clone, Copy)]
pub struct Parsed<'a> {
    pub date: Option<Option<Date>>,
    pub from: Option<(&'a [Address], bool)>,
    pub to: Option<(&'a [Address], bool)>,
    pub cc: Option<(&'a [Address], bool)>,
}

/// RFC 5322 §2.1.1: lines are at most 998 characters, excluding CRLF.
const MAX_LINE: usize = 998;

/// A message in a document (the top-level one or an attached one).
#[derive(Clone, Copy)]
pub struct MessageView<'d> {
    pub tree: &'d Tree<'d>,
    pub id: MessageId,
}

impl<'d> MessageView<'d> {
    fn node(&self) -> parse::MessageNode {
        // ok: views are only made for ids below `message_count()`.
        self.tree.message(self.id).unwrap_or(parse::MessageNode {
            root: 0,
            container: None,
            start: 0,
            end: self.tree.raw.len(),
        })
    }

    /// The message's root part (its top-level entity).
    pub fn root(&self) -> PartView<'d> {
        PartView {
            tree: self.tree,
            id: self.node().root,
        }
    }

    /// The message's own bytes, exactly as in the input.
    pub fn bytes(&self) -> &'d [u8] {
        let n = self.node();
        &self.tree.raw[n.start..n.end]
    }

    /// Where the message's bytes start in the document.
    pub fn offset(&self) -> usize {
        self.node().start
    }

    pub fn fields(&self) -> impl Iterator<Item = Field<'d>> + 'd {
        self.root().fields()
    }

    /// The first field with this name.
    pub fn field(&self, name: &str) -> Option<Field<'d>> {
        self.root().field(name)
    }

    pub fn subject(&self) -> Option<String> {
        self.field("Subject").map(|f| f.decoded())
    }

    /// The addresses of the first field with this name (From, To, Cc...).
    pub fn addresses(&self, name: &str) -> Vec<Address> {
        self.field(name)
            .map(|f| address::parse_list(f.value_eol))
            .unwrap_or_default()
    }

    /// The `Date` field; `None` when missing or not a valid date.
    pub fn date(&self) -> Option<Date> {
        self.field("Date").and_then(|f| date::parse(f.value_eol))
    }

    /// The msg-ids of the first field with this name, without angle brackets.
    pub fn ids(&self, name: &str) -> Vec<String> {
        let Some(f) = self.field(name) else {
            return Vec::new();
        };
        parse_ids(f.value_eol)
    }

    pub fn message_id(&self) -> Option<String> {
        self.ids("Message-ID").into_iter().next()
    }

    /// `MIME-Version` without comments (`1.0`).
    pub fn mime_version(&self) -> Option<String> {
        let f = self.field("MIME-Version")?;
        let v = f.unfolded();
        let mut out = String::new();
        let mut depth = 0usize;
        for c in v.chars() {
            match c {
                '(' => depth += 1,
                ')' if depth > 0 => depth -= 1,
                _ if depth == 0 && !c.is_whitespace() => out.push(c),
                _ => {}
            }
        }
        Some(out)
    }

    /// Every `Received` field, parsed, in header order (newest hop first).
    pub fn received(&self) -> Vec<Received> {
        self.fields()
            .filter(|f| f.is("Received"))
            .map(|f| received::parse(&f.unfolded()))
            .collect()
    }

    /// The parts of this message, depth first, starting with its root (attached messages'
    /// parts included).
    pub fn walk(&self) -> std::ops::Range<PartId> {
        let root = self.node().root;
        root..self.tree.parts[root as usize].subtree_end
    }

    /// The body parts and attachments, by the algorithm of RFC 8621 §4.1.4 (JMAP
    /// `textBody`, `htmlBody`, `attachments`).
    pub fn body_structure(&self) -> BodyStructure {
        let mut s = BodyStructure::default();
        let root = self.node().root;
        let (mut text, mut html) = (Vec::new(), Vec::new());
        self.classify(
            &[root],
            "mixed",
            false,
            Some(&mut html),
            Some(&mut text),
            &mut s.attachments,
        );
        s.text = text;
        s.html = html;
        s
    }

    fn classify(
        &self,
        parts: &[PartId],
        multipart_type: &str,
        in_alternative: bool,
        mut html: Option<&mut Vec<PartId>>,
        mut text: Option<&mut Vec<PartId>>,
        attachments: &mut Vec<PartId>,
    ) {
        let text_len = text.as_ref().map(|t| t.len());
        let html_len = html.as_ref().map(|h| h.len());
        for (i, &id) in parts.iter().enumerate() {
            let part = PartView {
                tree: self.tree,
                id,
            };
            let (t, sub) = part.mime_type_pair();
            let mime = format!("{t}/{sub}");
            let inline_media = matches!(t.as_str(), "image" | "audio" | "video");
            let is_inline = part.disposition().as_deref() != Some("attachment")
                && (mime == "text/plain" || mime == "text/html" || inline_media)
                && (i == 0
                    || (multipart_type != "related"
                        && (inline_media || part.filename().is_none())));
            if let Body::Multipart { children } = &part.node().body {
                self.classify(
                    children,
                    &sub,
                    in_alternative || sub == "alternative",
                    html.as_deref_mut(),
                    text.as_deref_mut(),
                    attachments,
                );
            } else if is_inline {
                if multipart_type == "alternative" {
                    let list = match mime.as_str() {
                        "text/plain" => text.as_deref_mut(),
                        "text/html" => html.as_deref_mut(),
                        _ => Some(&mut *attachments),
                    };
                    if let Some(v) = list {
                        v.push(id);
                    }
                    continue;
                } else if in_alternative {
                    if mime == "text/plain" {
                        html = None;
                    }
                    if mime == "text/html" {
                        text = None;
                    }
                }
                if let Some(v) = text.as_deref_mut() {
                    v.push(id);
                }
                if let Some(v) = html.as_deref_mut() {
                    v.push(id);
                }
                if (text.is_none() || html.is_none()) && inline_media {
                    attachments.push(id);
                }
            } else {
                attachments.push(id);
            }
        }
        if multipart_type == "alternative"
            && let (Some(text), Some(html), Some(tl), Some(hl)) = (text, html, text_len, html_len)
        {
            if tl == text.len() && hl != html.len() {
                text.extend_from_slice(&html[hl..]);
            } else if hl == html.len() && tl != text.len() {
                html.extend_from_slice(&text[tl..]);
            }
        }
    }

    /// What is malformed in this message (its header section, its parts, its lines); an
    /// attached message's own defects are reported by that message.
    pub fn defects(&self) -> Vec<Defect> {
        self.defects_with(&Parsed::default())
    }

    /// [`MessageView::defects`], reusing what the caller has already parsed (the archive
    /// reader parses Date, From, To and Cc for its columns; parsing them again was a fifth
    /// of its time).
    pub fn defects_with(&self, parsed: &Parsed) -> Vec<Defect> {
        let base = self.offset();
        let rel = |o: Option<usize>| o.map(|o| o.saturating_sub(base));
        let mut out: Vec<Defect> = self
            .tree
            .defects
            .iter()
            .filter(|(p, _)| self.tree.parts[*p as usize].message == self.id)
            .map(|(_, d)| Defect {
                offset: rel(d.offset),
                ..d.clone()
            })
            .collect();
        let root = self.root();
        // One pass over the header section: the first field of each name that matters here,
        // and where a second one of a name that may appear once starts.
        let mut first: [Option<Field<'d>>; WATCHED.len()] = [None; WATCHED.len()];
        let mut second: [Option<usize>; ONCE.len()] = [None; ONCE.len()];
        for f in root.fields() {
            let Some(i) = WATCHED.iter().position(|n| f.is(n)) else {
                continue;
            };
            if first[i].is_none() {
                first[i] = Some(f);
            } else if i < ONCE.len() && second[i].is_none() {
                second[i] = Some(f.offset);
            }
        }
        let field = |name: &str| {
            WATCHED
                .iter()
                .position(|n| *n == name)
                .and_then(|i| first[i])
        };
        let has_headers = !self.tree.headers(root.id).is_empty();
        if has_headers {
            for name in ["From", "Date"] {
                if field(name).is_none() {
                    out.push(Defect::new(
                        DefectKind::MissingRequiredHeader,
                        format!("the {name} header is missing (RFC 5322 §3.6)"),
                        None,
                    ));
                }
            }
        }
        for (name, second) in ONCE.iter().zip(second) {
            if let Some(offset) = second {
                out.push(Defect::new(
                    DefectKind::DuplicateHeader,
                    format!("{name} appears more than once; the first is used"),
                    rel(Some(offset)),
                ));
            }
        }
        if let Some(f) = field("Date")
            && parsed
                .date
                .unwrap_or_else(|| date::parse(f.value_eol))
                .is_none()
        {
            out.push(Defect::new(
                DefectKind::InvalidDate,
                format!("the Date header {:?} is not a valid date", f.unfolded()),
                rel(Some(f.offset)),
            ));
        }
        for name in ["From", "Sender", "Reply-To", "To", "Cc", "Bcc"] {
            let Some(f) = field(name) else { continue };
            let known = match name {
                "From" => parsed.from,
                "To" => parsed.to,
                "Cc" => parsed.cc,
                _ => None,
            };
            let owned;
            let (list, repaired) = match known {
                Some((list, repaired)) => (list, repaired),
                None => {
                    owned = address::parse_list_checked(f.value_eol);
                    (&owned.0[..], owned.1)
                }
            };
            if list
                .iter()
                .any(|a| a.email.is_empty() || !a.email.contains('@'))
            {
                out.push(Defect::new(
                    DefectKind::InvalidAddress,
                    format!("the {name} header has an entry without an address"),
                    rel(Some(f.offset)),
                ));
            }
            if repaired {
                out.push(Defect::new(
                    DefectKind::InvalidAddress,
                    format!(
                        "the {name} header lists addresses without a comma between them (RFC 5322 §3.4); they are read apart"
                    ),
                    rel(Some(f.offset)),
                ));
            }
        }
        if field("MIME-Version").is_none()
            && (field("Content-Type").is_some() || field("Content-Transfer-Encoding").is_some())
        {
            out.push(Defect::new(
                DefectKind::MissingMimeVersion,
                "Content-* headers without MIME-Version (RFC 2045 §4)",
                None,
            ));
        }
        for id in self.walk() {
            let part = PartView {
                tree: self.tree,
                id,
            };
            if part.node().message != self.id {
                continue;
            }
            for f in part.fields().filter(Field::is_undecodable) {
                let read_as = if crate::codec::charset::mostly_utf8(f.value) {
                    "read as UTF-8, the broken bytes as U+FFFD"
                } else {
                    "read as windows-1252"
                };
                out.push(Defect::new(
                    DefectKind::UndecodableHeader,
                    format!(
                        "the {} header has 8-bit bytes that are not UTF-8; {read_as}",
                        f.name_str()
                    ),
                    rel(Some(f.offset)),
                ));
            }
            for f in part.fields() {
                if let Some(cs) = crate::codec::encoded_word::unknown_charset(f.value) {
                    out.push(Defect::new(
                        DefectKind::UnknownCharset,
                        format!(
                            "the {} header has an encoded word in the unknown charset {cs:?}; it is left as written",
                            f.name_str()
                        ),
                        rel(Some(f.offset)),
                    ));
                }
            }
            part.body_defects(&mut out, base);
        }
        line_defects(self.bytes(), &mut out);
        out
    }
}

/// The msg-ids of a field value (RFC 5322 §3.6.4) without angle brackets, read with
/// mail-parser's grammar; the CFWS that the obsolete syntax allows inside an id is removed.
fn parse_ids(value: &[u8]) -> Vec<String> {
    // The grammar ends at a line break; a field at the very end of the input has none.
    let value: Cow<'_, [u8]> = if value.ends_with(b"\n") {
        Cow::Borrowed(value)
    } else {
        let mut v = value.to_vec();
        v.push(b'\n');
        Cow::Owned(v)
    };
    let ids: Vec<Cow<'_, str>> = match MessageStream::new(&value).parse_id() {
        HeaderValue::Text(t) => vec![t],
        HeaderValue::TextList(l) => l,
        _ => Vec::new(),
    };
    ids.into_iter()
        .map(|id| {
            let mut out = String::with_capacity(id.len());
            let mut depth = 0usize;
            for c in id.chars() {
                match c {
                    '(' => depth += 1,
                    ')' if depth > 0 => depth -= 1,
                    _ if depth > 0 || c.is_whitespace() => {}
                    _ => out.push(c),
                }
            }
            out
        })
        .filter(|id| !id.is_empty())
        .collect()
}

/// Long lines and mixed line endings in `bytes`.
fn line_defects(bytes: &[u8], out: &mut Vec<Defect>) {
    let (mut crlf, mut lf) = (0usize, 0usize);
    let mut long: Option<(usize, usize)> = None;
    let mut long_count = 0usize;
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let cr = nl > 0 && bytes[nl - 1] == b'\r';
        if cr {
            crlf += 1;
        } else {
            lf += 1;
        }
        let len = nl - start - usize::from(cr);
        if len > MAX_LINE {
            long_count += 1;
            long.get_or_insert((start, len));
        }
        start = nl + 1;
    }
    if bytes.len() - start > MAX_LINE {
        long_count += 1;
        long.get_or_insert((start, bytes.len() - start));
    }
    if let Some((at, len)) = long {
        out.push(Defect::new(
            DefectKind::LineTooLong,
            format!(
                "{long_count} line(s) longer than {MAX_LINE} characters (RFC 5322 §2.1.1); the first has {len}"
            ),
            Some(at),
        ));
    }
    if crlf > 0 && lf > 0 {
        out.push(Defect::new(
            DefectKind::MixedLineEndings,
            format!("{crlf} lines end with CRLF and {lf} with a bare LF"),
            None,
        ));
    }
}

/// Parts of a message by role (RFC 8621 §4.1.4).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyStructure {
    /// Parts to show as the plain-text body (may include HTML or images when the message
    /// has no plain-text alternative).
    pub text: Vec<PartId>,
    /// Parts to show as the HTML body.
    pub html: Vec<PartId>,
    pub attachments: Vec<PartId>,
}

/// A MIME part in a document.
#[derive(Clone, Copy)]
pub struct PartView<'d> {
    pub tree: &'d Tree<'d>,
    pub id: PartId,
}

impl<'d> PartView<'d> {
    pub fn node(&self) -> &'d PartNode<'d> {
        &self.tree.parts[self.id as usize]
    }

    pub fn fields(self) -> impl Iterator<Item = Field<'d>> + 'd {
        let raw = self.tree.raw;
        self.tree
            .headers(self.id)
            .iter()
            .map(move |h| Field::new(raw, h))
    }

    pub fn field(&self, name: &str) -> Option<Field<'d>> {
        self.fields().find(|f| f.is(name))
    }

    fn parsed_content_type(&self) -> Option<&'d crate::codec::params::Params<'d>> {
        self.node().content_type.as_ref()
    }

    /// Type and subtype, lowercase, with the RFC 2045 §5.2 / RFC 2046 §5.1.5 defaults.
    pub fn mime_type_pair(&self) -> (String, String) {
        match self.parsed_content_type() {
            Some(ct) if ct.sub_type().is_some_and(|s| !s.is_empty()) => (
                ct.main_type().to_ascii_lowercase(),
                ct.sub_type().unwrap_or_default().to_ascii_lowercase(),
            ),
            _ if self.node().in_digest && !self.has_content_type() => {
                ("message".into(), "rfc822".into())
            }
            _ => ("text".into(), "plain".into()),
        }
    }

    fn has_content_type(&self) -> bool {
        self.field("Content-Type").is_some()
    }

    /// `type/subtype`.
    pub fn mime_type(&self) -> String {
        let (t, s) = self.mime_type_pair();
        format!("{t}/{s}")
    }

    /// Content-Type parameters (names lowercase, RFC 2231 and RFC 2047 decoded).
    pub fn params(&self) -> Vec<(String, String)> {
        self.parsed_content_type()
            .map(|ct| {
                ct.params
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.parsed_content_type()
            .and_then(|ct| ct.get(name))
            .map(str::to_owned)
    }

    /// The declared charset, lowercase.
    pub fn charset(&self) -> Option<String> {
        self.param("charset")
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
    }

    fn disposition_header(&self) -> Option<&'d crate::codec::params::Params<'d>> {
        self.node().disposition.as_ref()
    }

    /// `inline`, `attachment` (lowercase), or `None` without Content-Disposition.
    pub fn disposition(&self) -> Option<String> {
        self.disposition_header()
            .map(|d| d.main_type().to_ascii_lowercase())
    }

    /// Content-Disposition parameters.
    pub fn disposition_params(&self) -> Vec<(String, String)> {
        self.disposition_header()
            .map(|ct| {
                ct.params
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The file name: Content-Disposition `filename`, else Content-Type `name` (RFC 2183,
    /// RFC 2231 and RFC 2047 decoded).
    pub fn filename(&self) -> Option<String> {
        self.disposition_header()
            .and_then(|d| d.get("filename"))
            .or_else(|| self.parsed_content_type().and_then(|c| c.get("name")))
            .map(|s| s.trim().to_owned())
    }

    /// Content-ID without angle brackets.
    pub fn content_id(&self) -> Option<String> {
        parse_ids(self.field("Content-ID")?.value_eol)
            .into_iter()
            .next()
    }

    pub fn transfer_encoding(&self) -> TransferEncoding {
        TransferEncoding::of(self.tree.raw, self.tree.headers(self.id))
    }

    /// The Content-Transfer-Encoding as written, lowercase (`None` without the header).
    pub fn transfer_encoding_name(&self) -> Option<String> {
        self.field("Content-Transfer-Encoding")
            .map(|f| f.unfolded().to_ascii_lowercase())
    }

    /// The body bytes, still transfer-encoded.
    pub fn raw_body(&self) -> &'d [u8] {
        let n = self.node();
        &self.tree.raw[n.body_start..n.body_end]
    }

    /// The whole part (header section and body), as in the input.
    pub fn bytes(&self) -> &'d [u8] {
        let n = self.node();
        &self.tree.raw[n.header_start..n.body_end]
    }

    /// The body with its Content-Transfer-Encoding undone.
    pub fn payload(&self) -> Cow<'d, [u8]> {
        self.transfer_encoding().decode(self.raw_body())
    }

    pub fn is_multipart(&self) -> bool {
        matches!(self.node().body, Body::Multipart { .. })
    }

    pub fn children(&self) -> &'d [PartId] {
        match &self.node().body {
            Body::Multipart { children } => children,
            _ => &[],
        }
    }

    /// The attached message (a `message/rfc822` part whose message was parsed in place).
    pub fn message(&self) -> Option<MessageId> {
        match self.node().body {
            Body::Message { message } => Some(message),
            _ => None,
        }
    }

    /// A `message/rfc822` or `message/global` part.
    pub fn is_message(&self) -> bool {
        let (t, s) = self.mime_type_pair();
        t == "message" && (s == "rfc822" || s == "global")
    }

    /// The payload decoded to text in its charset, for `text/*` parts.
    pub fn text(&self) -> Option<String> {
        let (t, _) = self.mime_type_pair();
        if t != "text" || self.is_multipart() {
            return None;
        }
        Some(body::decode_text(&self.payload(), self.charset().as_deref()).0)
    }

    fn body_defects(&self, out: &mut Vec<Defect>, base: usize) {
        let at = Some(self.node().header_start.saturating_sub(base));
        if self.is_multipart() {
            return;
        }
        match self.transfer_encoding() {
            TransferEncoding::Unknown => out.push(Defect::new(
                DefectKind::UnknownTransferEncoding,
                format!(
                    "unknown Content-Transfer-Encoding {:?}; the body is kept as it is",
                    self.transfer_encoding_name().unwrap_or_default()
                ),
                at,
            )),
            TransferEncoding::Base64 => {
                // One pass: a byte outside the alphabet, padding and line breaks, or a count
                // of symbols before the first `=` that no encoder makes.
                let (mut stray, mut symbols, mut padded) = (false, 0usize, false);
                for &b in self.raw_body() {
                    if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
                        symbols += usize::from(!padded);
                    } else if b == b'=' {
                        padded = true;
                    } else if !matches!(b, b'\r' | b'\n' | b' ' | b'\t') {
                        stray = true;
                        break;
                    }
                }
                if stray || symbols % 4 == 1 {
                    out.push(Defect::new(
                        DefectKind::InvalidBase64,
                        "the base64 body has characters outside the alphabet or is cut short; they are skipped",
                        at,
                    ));
                }
            }
            _ => {}
        }
        if let Some(cs) = self.charset()
            && self.mime_type_pair().0 == "text"
            && !body::charset_known(&cs)
        {
            out.push(Defect::new(
                DefectKind::UnknownCharset,
                format!("unknown charset {cs:?}; the text is read as UTF-8 (or windows-1252)"),
                at,
            ));
        }
    }
}

/// Parse `data` and read everything there is to read: every field of every message, every
/// part's payload and text, attached messages (also encoded ones). The fuzz target
/// (`fuzz/`) and the mutation tests call this; it must never panic.
#[doc(hidden)]
pub fn exercise(data: &[u8]) {
    exercise_document(&Document::from_vec(data.to_vec()), 0);
}

fn exercise_document(doc: &Document, depth: usize) {
    assert_eq!(doc.bytes().len(), doc.root().bytes().len());
    for id in 0..doc.tree().message_count() as MessageId {
        let Some(m) = doc.message(id) else { continue };
        let _ = (m.subject(), m.date(), m.message_id(), m.mime_version());
        for name in ["From", "To", "Cc", "Reply-To"] {
            let _ = m.addresses(name);
        }
        let _ = (
            m.ids("References"),
            m.received(),
            m.body_structure(),
            m.defects(),
        );
        for f in m.fields() {
            let _ = (f.decoded(), f.name_str());
            // The structured-field grammars, on every field (not only their own).
            let u = f.unfolded();
            let _ = (
                authres::parse(&u),
                authres::parse_arc(&u),
                tag_list::parse(&u),
            );
            let _ = (
                list_headers::parse_urls(&u),
                list_headers::parse_list_id(&u),
            );
        }
        for p in m.walk() {
            let Some(part) = doc.part(p) else { continue };
            assert!(part.node().body_start <= part.node().body_end);
            let _ = (
                part.mime_type(),
                part.params(),
                part.charset(),
                part.filename(),
            );
            let _ = (part.content_id(), part.disposition(), part.text());
            let payload = part.payload();
            if part.is_message() && part.message().is_none() && depth < 2 {
                exercise_document(&Document::from_vec(payload.into_owned()), depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{XorShift, corpus_messages, mutate};

    #[test]
    fn mutated_corpus_never_panics() {
        // A bounded, deterministic cousin of the libFuzzer target in fuzz/: mutations of
        // every corpus message.
        let seeds = corpus_messages();
        assert!(seeds.len() >= 40, "corpus missing");
        let pieces: [&[u8]; 12] = [
            b"\r\n",
            b"\n",
            b"--",
            b"--x\n",
            b"\n\n",
            b"Content-Type: multipart/mixed; boundary=x\n",
            b"Content-Type: message/rfc822\n",
            b"Content-Transfer-Encoding: base64\n",
            b"=?",
            b"(",
            b"\"",
            b"\xff",
        ];
        let mut rng = XorShift(0x853c_49e6_748f_ea9b);
        for round in 0..20_000 {
            let mut data = seeds[round % seeds.len()].clone();
            for _ in 0..(1 + rng.next() % 6) {
                mutate(&mut data, &pieces, 64, &mut rng);
            }
            exercise(&data);
        }
    }

    const SEED: &[u8] = b"From: Bob Smith <Bob@machine.example>\r\n\
To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n\
Subject: Hello\r\n\
Date: Mon, 8 Mar 2010 19:55:06 -0600\r\n\
\r\n\
This is the \"Hello world\" of email messages.\r\n\
This is the second line of the body\r\n";

    #[test]
    fn seed_chapter_hello_world() {
        let doc = Document::from_vec(SEED.to_vec());
        let m = doc.root();
        assert_eq!(m.subject().as_deref(), Some("Hello"));
        assert_eq!(m.addresses("from")[0].email, "Bob@machine.example");
        assert_eq!(m.addresses("TO").len(), 2);
        assert_eq!(m.date().unwrap().offset, -6 * 3600);
        assert_eq!(m.bytes(), SEED);
        let s = m.body_structure();
        assert_eq!(s.text, vec![0]);
        assert!(s.attachments.is_empty());
        assert_eq!(
            m.root().text().unwrap(),
            "This is the \"Hello world\" of email messages.\r\nThis is the second line of the body\r\n"
        );
        assert!(m.defects().is_empty(), "{:?}", m.defects());
    }
}
