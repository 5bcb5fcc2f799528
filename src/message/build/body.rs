//! Bodies: what a part holds, its canonical line breaks, and its transfer encoding.

use std::borrow::Cow;

use super::error::{Result, check_line};
use super::fields::check_id;
use super::headers::content_type::MediaType;
use super::output::Output;
use super::{FOLD, MAX_LINE};
use crate::codec::{base64, quoted_printable};

/// What the output may contain besides 7-bit ASCII.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// UTF-8 in header fields and addresses (RFC 6532; sent with SMTPUTF8). Implies
    /// `eight_bit`.
    pub utf8: bool,
    /// 8-bit text bodies (`Content-Transfer-Encoding: 8bit`; sent with 8BITMIME).
    pub eight_bit: bool,
    /// Every text and binary body in Base64, whose lines never start with `--`: the editor
    /// asks for it when new content would hold a delimiter line of the multipart it goes
    /// into.
    pub force_base64: bool,
}

impl Options {
    fn eight_bit(&self) -> bool {
        self.eight_bit || self.utf8
    }
}

/// A part's content.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    /// Bytes, sent exactly as they are (Base64 unless they are 7-bit text).
    Bytes(Cow<'a, [u8]>),
    /// Text: sent as UTF-8 with its line breaks made CRLF.
    Text(Cow<'a, str>),
    /// A message (`message/rfc822`), kept as it is: 7bit or 8bit, never encoded (RFC 2046
    /// §5.2.1).
    Message(Cow<'a, [u8]>),
}

/// An attachment, an inline part (an image an HTML body shows by Content-ID), or an
/// attached message.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    pub content: Content<'a>,
    pub media_type: MediaType,
    pub filename: Option<String>,
    /// `Content-Disposition: inline` rather than `attachment`.
    pub inline: bool,
    /// Content-ID, without angle brackets.
    pub content_id: Option<String>,
}

impl Attachment<'_> {
    /// Check what the caller gave.
    pub fn check(&self) -> Result<()> {
        if let Some(f) = &self.filename {
            check_line("the attachment file name", f)?;
        }
        if let Some(cid) = &self.content_id {
            check_id("Content-ID", cid)?;
        }
        for (n, v) in &self.media_type.params {
            check_line("a Content-Type parameter", n)?;
            check_line("a Content-Type parameter", v)?;
        }
        Ok(())
    }
}

/// Text with every line break (CRLF, bare CR, bare LF) made CRLF, as MIME's canonical
/// text form wants (RFC 2046 §4.1.1); the stdlib splits lines the same way.
pub fn crlf_text(text: &str) -> Cow<'_, str> {
    let data = text.as_bytes();
    let mut breaks = memchr::memchr2_iter(b'\r', b'\n', data).peekable();
    let mut clean = true;
    while let Some(i) = breaks.next() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            breaks.next();
        } else {
            clean = false;
            break;
        }
    }
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut last = 0;
    let mut breaks = memchr::memchr2_iter(b'\r', b'\n', data).peekable();
    while let Some(i) = breaks.next() {
        out.extend_from_slice(&data[last..i]);
        out.extend_from_slice(b"\r\n");
        last = i + 1;
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            breaks.next();
            last = i + 2;
        }
    }
    out.extend_from_slice(&data[last..]);
    // Only ASCII line breaks were replaced, so the bytes are still UTF-8.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Bare LFs made CRLF (a message read from a Unix file, say); CRLFs kept.
pub fn crlf_bytes(data: &[u8]) -> Cow<'_, [u8]> {
    let bare = memchr::memchr_iter(b'\n', data).any(|i| i == 0 || data[i - 1] != b'\r');
    if !bare {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        if i == 0 || data[i - 1] != b'\r' {
            out.extend_from_slice(&data[last..i]);
            out.extend_from_slice(b"\r\n");
            last = i + 1;
        }
    }
    out.extend_from_slice(&data[last..]);
    Cow::Owned(out)
}

/// What a CRLF-text body holds: longest line, any 8-bit byte, any NUL, any bare CR or LF.
struct Shape {
    longest: usize,
    eight_bit: bool,
    nul: bool,
    bare_break: bool,
}

fn shape(data: &[u8]) -> Shape {
    let mut s = Shape {
        longest: 0,
        eight_bit: !data.is_ascii(),
        nul: memchr::memchr(0, data).is_some(),
        bare_break: false,
    };
    let mut start = 0;
    for i in memchr::memchr2_iter(b'\r', b'\n', data) {
        if data[i] == b'\r' {
            if data.get(i + 1) != Some(&b'\n') {
                s.bare_break = true;
            }
            continue;
        }
        if i == 0 || data[i - 1] != b'\r' {
            s.bare_break = true;
            s.longest = s.longest.max(i - start);
        } else {
            s.longest = s.longest.max(i - 1 - start);
        }
        start = i + 1;
    }
    s.longest = s.longest.max(data.len() - start);
    s
}

/// How a leaf's body goes out.
pub(super) enum LeafBody<'b> {
    /// As it is: 7bit or 8bit text, an attached message.
    Verbatim(Cow<'b, [u8]>),
    /// Base64 in 76-character lines, encoded straight into the output.
    Base64(Cow<'b, [u8]>),
    /// Already encoded (quoted-printable).
    Encoded(Vec<u8>),
}

impl LeafBody<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            LeafBody::Verbatim(b) => b.len(),
            LeafBody::Base64(b) => base64::encoded_len(b.len(), Some(76)),
            LeafBody::Encoded(v) => v.len(),
        }
    }

    pub(super) fn write(&self, out: &mut impl Output) {
        match self {
            LeafBody::Verbatim(b) => out.put(b),
            LeafBody::Encoded(v) => out.put(v),
            LeafBody::Base64(b) => out.put_base64(b),
        }
    }

    /// Content that goes out as it is, where a boundary could appear. Base64 and
    /// quoted-printable output cannot hold `=_`, which every boundary starts with.
    pub(super) fn verbatim(&self) -> Option<&[u8]> {
        match self {
            LeafBody::Verbatim(b) => Some(b),
            _ => None,
        }
    }
}

/// Quoted-printable or Base64 for `data`, whichever comes out shorter.
fn qp_or_base64(data: Cow<'_, [u8]>, binary: bool) -> (&'static str, LeafBody<'_>) {
    let line_break = |b: u8| !binary && (b == b'\r' || b == b'\n');
    let escaped = data
        .iter()
        .filter(|&&b| {
            !(b == b' ' || b == b'\t' || (33..=126).contains(&b) || line_break(b)) || b == b'='
        })
        .count();
    let qp_estimate = data.len() + 2 * escaped + data.len() / 25;
    let b64_estimate = base64::encoded_len(data.len(), Some(76));
    if qp_estimate <= b64_estimate {
        (
            "quoted-printable",
            LeafBody::Encoded(quoted_printable::encode(&data, binary)),
        )
    } else {
        ("base64", LeafBody::Base64(data))
    }
}

pub(super) fn bytes_of(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// A text body's transfer encoding and body. `data` has CRLF line breaks.
pub(super) fn encode_text<'d>(data: Cow<'d, [u8]>, opts: &Options) -> (&'static str, LeafBody<'d>) {
    if opts.force_base64 {
        return ("base64", LeafBody::Base64(data));
    }
    let s = shape(&data);
    if !s.nul && !s.bare_break {
        if !s.eight_bit && s.longest <= FOLD {
            return ("7bit", LeafBody::Verbatim(data));
        }
        if opts.eight_bit() && s.longest <= MAX_LINE {
            let cte = if s.eight_bit { "8bit" } else { "7bit" };
            return (cte, LeafBody::Verbatim(data));
        }
    }
    qp_or_base64(data, false)
}

/// Bytes' transfer encoding: 7bit when they are short-lined CRLF ASCII text already (for
/// `text/*`), else Base64, so that they come back exactly.
pub(super) fn encode_bytes<'d>(
    data: &'d [u8],
    textual: bool,
    opts: &Options,
) -> (&'static str, LeafBody<'d>) {
    if textual && !opts.force_base64 {
        let s = shape(data);
        if !s.nul && !s.bare_break && !s.eight_bit && s.longest <= FOLD {
            return ("7bit", LeafBody::Verbatim(Cow::Borrowed(data)));
        }
    }
    ("base64", LeafBody::Base64(Cow::Borrowed(data)))
}
