//! The message builder.

use std::borrow::Cow;

use super::body::{Attachment, Options};
use super::error::{BuildError, Result};
use super::fields::{Value, check_name, is_once};
use super::headers::date::{format_date, now_local};
use super::headers::message_id::new_message_id;
use super::headers::write_field;
use super::output::Output;
use super::part::{Node, prepare_leaf, prepare_text};

/// A message under construction: header fields in order, text and HTML bodies,
/// attachments (inline parts among them).
#[derive(Debug, Clone, Default)]
pub struct Builder<'a> {
    pub fields: Vec<(String, Value)>,
    pub text: Option<Cow<'a, str>>,
    pub html: Option<Cow<'a, str>>,
    pub attachments: Vec<Attachment<'a>>,
    pub options: Options,
}

impl<'a> Builder<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of the first field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|i| &self.fields[i].1)
    }

    /// Set the field `name`: it replaces every field of that name, at the first one's place.
    pub fn set(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        value.check(name)?;
        match self.position(name) {
            Some(i) => {
                self.fields[i] = (name.to_owned(), value);
                let mut k = 0;
                self.fields.retain(|(n, _)| {
                    k += 1;
                    k - 1 == i || !n.eq_ignore_ascii_case(name)
                });
            }
            None => self.fields.push((name.to_owned(), value)),
        }
        Ok(())
    }

    /// Add a field after the others; fields RFC 5322 allows once cannot be added twice.
    pub fn add(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        value.check(name)?;
        if is_once(name) && self.position(name).is_some() {
            return Err(BuildError::Duplicate {
                field: name.to_owned(),
            });
        }
        self.fields.push((name.to_owned(), value));
        Ok(())
    }

    /// Remove every field `name`.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let r = self.render()?;
        let mut out = Vec::with_capacity(r.len());
        r.write(&mut out);
        debug_assert_eq!(out.len(), r.len());
        Ok(out)
    }

    /// The message, ready to be written: header fields done, parts encoded or planned
    /// (Base64 is encoded while writing), its size known.
    pub fn render(&self) -> Result<Rendered<'_>> {
        let opts = self.options;
        let domain = match self.get("From") {
            Some(Value::Addresses(list)) if !list.is_empty() => list
                .iter()
                .find_map(|a| a.email.rsplit_once('@').map(|(_, d)| d.to_owned()))
                .unwrap_or_else(|| "localhost".into()),
            _ => return Err(BuildError::MissingFrom),
        };
        if let Some(Value::Addresses(from)) = self.get("From")
            && from.len() > 1
            && self.get("Sender").is_none()
        {
            return Err(BuildError::InvalidValue {
                field: "From".into(),
                reason: "a From with several addresses needs a Sender (RFC 5322 §3.6.2)".into(),
            });
        }
        let mut out = Vec::with_capacity(1024);
        for (name, value) in &self.fields {
            write_field(&mut out, name, value, opts.utf8)?;
        }
        if self.get("Date").is_none() {
            let (now, offset) = now_local();
            write_field(
                &mut out,
                "Date",
                &Value::Date(format_date(now, offset)?),
                false,
            )?;
        }
        if self.get("Message-ID").is_none() {
            let id = new_message_id(&domain);
            write_field(&mut out, "Message-ID", &Value::Ids(vec![id]), opts.utf8)?;
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        // Every line is now at most 998 octets, except inside an attached message, which
        // goes in as it is.
        Ok(Rendered {
            head: out,
            body: self.body()?,
        })
    }

    /// The MIME tree: `mixed` around the body and the attachments, `alternative` around
    /// text and HTML, `related` around the HTML and the inline parts it refers to.
    fn body(&self) -> Result<Node<'_>> {
        let opts = &self.options;
        let mut inline = Vec::new();
        let mut files = Vec::new();
        for a in &self.attachments {
            let leaf = Node::Leaf(prepare_leaf(a, opts)?);
            if a.inline && a.content_id.is_some() && self.html.is_some() {
                inline.push(leaf);
            } else {
                files.push(leaf);
            }
        }
        let html = self.html.as_deref().map(|h| {
            let leaf = Node::Leaf(prepare_text(h, "html", opts));
            if inline.is_empty() {
                leaf
            } else {
                let mut children = vec![leaf];
                children.append(&mut inline);
                Node::multipart("related", children)
            }
        });
        let text = self
            .text
            .as_deref()
            .map(|t| Node::Leaf(prepare_text(t, "plain", opts)));
        let body = match (text, html) {
            (Some(t), Some(h)) => Some(Node::multipart("alternative", vec![t, h])),
            (t, h) => t.or(h),
        };
        Ok(match (body, files.is_empty()) {
            (Some(b), true) => b,
            (Some(b), false) => {
                files.insert(0, b);
                Node::multipart("mixed", files)
            }
            (None, false) => Node::multipart("mixed", files),
            (None, true) => Node::Leaf(prepare_text("", "plain", opts)),
        })
    }
}

/// A message ready to be written (see [`Builder::render`]).
pub struct Rendered<'b> {
    head: Vec<u8>,
    body: Node<'b>,
}

impl Rendered<'_> {
    /// The size of the message.
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn write(&self, out: &mut impl Output) {
        out.put(&self.head);
        self.body.write(out);
    }
}

/// The longest line of `data`, in octets, without its line break.
pub fn longest_line(data: &[u8]) -> usize {
    let mut longest = 0;
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        let end = if i > 0 && data[i - 1] == b'\r' {
            i - 1
        } else {
            i
        };
        longest = longest.max(end.saturating_sub(start));
        start = i + 1;
    }
    longest.max(data.len() - start)
}
