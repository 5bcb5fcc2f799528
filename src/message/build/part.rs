//! MIME parts ready to be written: leaves (header lines and encoded body) and
//! multiparts with a boundary none of their parts holds.

use mail_builder::headers::Header;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use memchr::memmem;

use super::body::{
    Attachment, Content, LeafBody, Options, bytes_of, crlf_bytes, crlf_text, encode_bytes,
    encode_text,
};
use super::error::Result;
use super::headers::content_type::write_content_type;
use super::headers::message_id::random_u128;
use super::output::Output;

/// A random multipart boundary. It starts with `=_`, which neither quoted-printable (`=`
/// is always followed by two hex digits) nor Base64 can produce, so only unencoded parts
/// need checking.
fn new_boundary() -> String {
    format!("=_{:032x}", random_u128())
}

/// A part ready to be written: its header lines, then its body.
pub struct Leaf<'b> {
    head: Vec<u8>,
    body: LeafBody<'b>,
}

impl Leaf<'_> {
    /// Its size once written.
    pub fn len(&self) -> usize {
        self.head.len() + 2 + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn write(&self, out: &mut impl Output) {
        out.put(&self.head);
        out.put(b"\r\n");
        self.body.write(out);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write(&mut out);
        out
    }
}

fn head_end(head: &mut Vec<u8>, cte: &str) {
    head.extend_from_slice(b"Content-Transfer-Encoding: ");
    head.extend_from_slice(cte.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// An attachment (or inline part, or attached message) ready to be written.
pub fn prepare_leaf<'b>(att: &'b Attachment<'_>, opts: &Options) -> Result<Leaf<'b>> {
    att.check()?;
    let mut mt = att.media_type.clone();
    let filename = att.filename.as_deref().filter(|f| !f.is_empty());
    let (cte, body) = match &att.content {
        Content::Text(t) => {
            mt.set_param("charset", "utf-8");
            encode_text(bytes_of(crlf_text(t)), opts)
        }
        Content::Bytes(b) => encode_bytes(b, mt.maintype == "text", opts),
        Content::Message(m) => {
            let m = crlf_bytes(m);
            let cte = if m.is_ascii() { "7bit" } else { "8bit" };
            (cte, LeafBody::Verbatim(m))
        }
    };
    let mut head = Vec::with_capacity(256);
    write_content_type(&mut head, &mt, filename, opts.utf8)?;
    let disposition = if att.inline { "inline" } else { "attachment" };
    if filename.is_some() || att.inline || att.content_id.is_none() {
        let mut cd = ContentType::new(disposition);
        if let Some(f) = filename {
            cd = cd.attribute("filename", f);
        }
        head.extend_from_slice(b"Content-Disposition: ");
        cd.write_header(&mut head, "Content-Disposition: ".len());
    }
    if let Some(cid) = &att.content_id {
        head.extend_from_slice(b"Content-ID: ");
        MessageId::new(cid.as_str()).write_header(&mut head, "Content-ID: ".len());
    }
    head_end(&mut head, cte);
    Ok(Leaf { head, body })
}

/// A text body part (`text/plain` or `text/html`, UTF-8) ready to be written.
/// Text that does not end with a line break gets one, as the stdlib's `set_content` does:
/// a text body is lines, and tools that append to or concatenate it expect the last one ended.
pub fn prepare_text<'b>(text: &'b str, subtype: &str, opts: &Options) -> Leaf<'b> {
    let mut text = crlf_text(text);
    if !text.is_empty() && !text.ends_with('\n') {
        text.to_mut().push_str("\r\n");
    }
    let (cte, body) = encode_text(bytes_of(text), opts);
    let mut head = Vec::with_capacity(96);
    head.extend_from_slice(b"Content-Type: text/");
    head.extend_from_slice(subtype.as_bytes());
    head.extend_from_slice(b"; charset=utf-8\r\n");
    head_end(&mut head, cte);
    Leaf { head, body }
}

/// One leaf part, header lines and encoded body, as bytes (what the editor inserts).
pub fn write_leaf(att: &Attachment<'_>, opts: &Options) -> Result<Vec<u8>> {
    prepare_leaf(att, opts).map(|l| l.to_vec())
}

/// A text body part (`text/plain` or `text/html`, UTF-8), without Content-Disposition.
pub fn write_text_leaf(text: &str, subtype: &str, opts: &Options) -> Vec<u8> {
    prepare_text(text, subtype, opts).to_vec()
}

/// `Content-Type: multipart/<subtype>; boundary="..."` and its line break.
pub fn multipart_header(subtype: &str, boundary: &str) -> Vec<u8> {
    let mut out = b"Content-Type: ".to_vec();
    ContentType::new(format!("multipart/{subtype}"))
        .attribute("boundary", boundary)
        .write_header(&mut out, "Content-Type: ".len());
    out
}

/// A MIME tree ready to be written. Its size is known before it is written, so the message
/// is written into one buffer of the right size, each Base64 body encoded in place.
pub enum Node<'b> {
    Leaf(Leaf<'b>),
    Multipart {
        boundary: String,
        head: Vec<u8>,
        children: Vec<Node<'b>>,
    },
}

impl<'b> Node<'b> {
    /// A multipart of these parts, with a boundary that none of them holds.
    pub fn multipart(subtype: &str, children: Vec<Node<'b>>) -> Self {
        let boundary = fresh_boundary(|b| children.iter().any(|c| c.holds(b)));
        Node::Multipart {
            head: multipart_header(subtype, &boundary),
            boundary,
            children,
        }
    }

    fn holds(&self, needle: &[u8]) -> bool {
        match self {
            Node::Leaf(l) => l
                .body
                .verbatim()
                .is_some_and(|v| memmem::find(v, needle).is_some()),
            Node::Multipart {
                boundary, children, ..
            } => {
                memmem::find(boundary.as_bytes(), needle).is_some()
                    || children.iter().any(|c| c.holds(needle))
            }
        }
    }

    /// Its size once written.
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len(),
            Node::Multipart {
                boundary,
                head,
                children,
            } => {
                // `CRLF--b CRLF` before each part, `CRLF--b-- CRLF` after the last.
                head.len()
                    + children
                        .iter()
                        .map(|c| boundary.len() + 6 + c.len())
                        .sum::<usize>()
                    + boundary.len()
                    + 8
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write the part (its header fields and body).
    pub fn write(&self, out: &mut impl Output) {
        match self {
            Node::Leaf(l) => l.write(out),
            Node::Multipart {
                boundary,
                head,
                children,
            } => {
                out.put(head);
                for c in children {
                    out.put(b"\r\n--");
                    out.put(boundary.as_bytes());
                    out.put(b"\r\n");
                    c.write(out);
                }
                out.put(b"\r\n--");
                out.put(boundary.as_bytes());
                out.put(b"--\r\n");
            }
        }
    }
}

/// Does `data` hold a line starting `--boundary` (a delimiter, RFC 2046 §5.1.1)?
pub fn has_delimiter_line(data: &[u8], boundary: &[u8]) -> bool {
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    memmem::find_iter(data, &needle).any(|i| i == 0 || data[i - 1] == b'\n')
}

/// A random boundary that `taken` says is not in the content (RFC 2046 §5.1.1).
pub fn fresh_boundary(mut taken: impl FnMut(&[u8]) -> bool) -> String {
    loop {
        let b = new_boundary();
        if !taken(b.as_bytes()) {
            return b;
        }
    }
}
