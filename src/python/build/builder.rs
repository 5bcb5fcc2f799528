//! `MessageBuilder` and `Message.build`.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::message::build::{self, Builder, Kind, Options, SliceOutput, Value};
use crate::python::buffer::{DETACH_THRESHOLD, new_bytes};
use crate::python::message::{PyMessage, message_from_bytes};
use crate::python::values::PyAddress;

use super::attachment::{PyAttachment, attachment_item, attachment_list};
use super::{err, header_pairs, value_from};

/// Build the message into a `bytes` object of its size (no intermediate buffer), with the
/// GIL released when it is large.
fn build_bytes<'py>(
    py: Python<'py>,
    builder: &Builder<'_>,
    size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let rendered = if size >= DETACH_THRESHOLD {
        py.detach(|| builder.render())
    } else {
        builder.render()
    }
    .map_err(err(py))?;
    let mut exact = false;
    let bytes = new_bytes(py, rendered.len(), |buf| {
        let mut sink = SliceOutput::new(buf);
        rendered.write(&mut sink);
        exact = sink.is_exact();
    })?;
    if exact {
        return Ok(bytes);
    }
    // ok: `len()` and `write()` agree (tested); should they not, a growing buffer is right.
    debug_assert!(false, "rendered length does not match what was written");
    let mut out = Vec::with_capacity(rendered.len());
    rendered.write(&mut out);
    Ok(PyBytes::new(py, &out))
}

pub(super) fn built<'py>(
    py: Python<'py>,
    builder: &Builder<'_>,
    size: usize,
) -> PyResult<Bound<'py, PyMessage>> {
    let bytes = build_bytes(py, builder, size)?;
    message_from_bytes(py, &bytes)
}

/// The arguments `Message.build` and `MessageBuilder` share.
pub struct BuildArgs<'a, 'py> {
    pub from_: Option<&'a Bound<'py, PyAny>>,
    pub to: Option<&'a Bound<'py, PyAny>>,
    pub cc: Option<&'a Bound<'py, PyAny>>,
    pub bcc: Option<&'a Bound<'py, PyAny>>,
    pub reply_to: Option<&'a Bound<'py, PyAny>>,
    pub sender: Option<&'a Bound<'py, PyAny>>,
    pub subject: Option<&'a Bound<'py, PyAny>>,
    pub date: Option<&'a Bound<'py, PyAny>>,
    pub message_id: Option<&'a Bound<'py, PyAny>>,
    pub in_reply_to: Option<&'a Bound<'py, PyAny>>,
    pub references: Option<&'a Bound<'py, PyAny>>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Option<&'a Bound<'py, PyAny>>,
    pub headers: Option<&'a Bound<'py, PyAny>>,
    pub options: Options,
}

/// A message under construction, for full control over what ``Message.build`` does: set,
/// add and remove header fields (custom and ``X-`` fields included), set the bodies, add
/// attachments, inline images and attached messages, then :meth:`build`.
///
/// Keyword arguments are those of ``Message.build`` plus ``sender``, ``date``,
/// ``message_id``, ``in_reply_to`` and ``references``. ``utf8=True`` writes UTF-8 header
/// text and addresses (RFC 6532, for servers with SMTPUTF8); ``eight_bit=True`` sends text
/// bodies as 8bit (for 8BITMIME). By default the output is 7-bit ASCII.
#[pyclass(module = "mailprims", name = "MessageBuilder")]
pub struct PyMessageBuilder {
    core: Builder<'static>,
    attachments: Vec<Py<PyAttachment>>,
}

impl PyMessageBuilder {
    pub fn from_args(py: Python<'_>, a: BuildArgs<'_, '_>) -> PyResult<Self> {
        let mut b = PyMessageBuilder {
            core: Builder::new(),
            attachments: attachment_list(py, a.attachments)?,
        };
        b.core.options = a.options;
        let fields = [
            ("From", a.from_),
            ("Sender", a.sender),
            ("To", a.to),
            ("Cc", a.cc),
            ("Bcc", a.bcc),
            ("Reply-To", a.reply_to),
            ("Subject", a.subject),
            ("Date", a.date),
            ("Message-ID", a.message_id),
            ("In-Reply-To", a.in_reply_to),
            ("References", a.references),
        ];
        for (name, value) in fields {
            let Some(value) = value.filter(|v| !v.is_none()) else {
                continue;
            };
            // An empty list of recipients is no field, not an error.
            if build::kind_of(name) == Kind::Addresses
                && !value.is_instance_of::<PyString>()
                && !value.is_instance_of::<PyAddress>()
                && value.len().is_ok_and(|n| n == 0)
            {
                continue;
            }
            b.set(py, name, value)?;
        }
        if let Some(h) = a.headers.filter(|h| !h.is_none()) {
            for (name, value) in header_pairs(h)? {
                b.set(py, &name, &value)?;
            }
        }
        b.core.text = a.text.map(Cow::Owned);
        b.core.html = a.html.map(Cow::Owned);
        Ok(b)
    }

    fn set(&mut self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        build::check_name(name).map_err(err(py))?;
        let v = value_from(py, name, value)?;
        self.core.set(name, v).map_err(err(py))
    }

    /// The message as a `bytes` object.
    pub fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let atts: Vec<&PyAttachment> = self.attachments.iter().map(|a| a.get()).collect();
        let size: usize = atts.iter().map(|a| a.size(py)).sum::<usize>()
            + self.core.text.as_ref().map_or(0, |t| t.len())
            + self.core.html.as_ref().map_or(0, |t| t.len());
        let builder = Builder {
            fields: self.core.fields.clone(),
            text: self.core.text.as_deref().map(Cow::Borrowed),
            html: self.core.html.as_deref().map(Cow::Borrowed),
            attachments: atts.iter().map(|a| a.core(py)).collect(),
            options: self.core.options,
        };
        build_bytes(py, &builder, size)
    }
}

#[pymethods]
impl PyMessageBuilder {
    #[new]
    #[pyo3(signature = (
        *, from_ = None, to = None, cc = None, bcc = None, reply_to = None, sender = None,
        subject = None, date = None, message_id = None, in_reply_to = None, references = None,
        text = None, html = None, attachments = None, headers = None, utf8 = false,
        eight_bit = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        from_: Option<&Bound<'_, PyAny>>,
        to: Option<&Bound<'_, PyAny>>,
        cc: Option<&Bound<'_, PyAny>>,
        bcc: Option<&Bound<'_, PyAny>>,
        reply_to: Option<&Bound<'_, PyAny>>,
        sender: Option<&Bound<'_, PyAny>>,
        subject: Option<&Bound<'_, PyAny>>,
        date: Option<&Bound<'_, PyAny>>,
        message_id: Option<&Bound<'_, PyAny>>,
        in_reply_to: Option<&Bound<'_, PyAny>>,
        references: Option<&Bound<'_, PyAny>>,
        text: Option<String>,
        html: Option<String>,
        attachments: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        utf8: bool,
        eight_bit: bool,
    ) -> PyResult<Self> {
        Self::from_args(
            py,
            BuildArgs {
                from_,
                to,
                cc,
                bcc,
                reply_to,
                sender,
                subject,
                date,
                message_id,
                in_reply_to,
                references,
                text,
                html,
                attachments,
                headers,
                options: Options {
                    utf8,
                    eight_bit,
                    force_base64: false,
                },
            },
        )
    }

    /// Set the field ``name``, replacing any there is (at the first one's place).
    fn set_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.set(py, name, value)?;
        Ok(slf)
    }

    /// Add a field after the others (fields RFC 5322 allows once cannot be added twice).
    fn add_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        build::check_name(name).map_err(err(py))?;
        let v = value_from(py, name, value)?;
        slf.core.add(name, v).map_err(err(py))?;
        Ok(slf)
    }

    /// Remove every field ``name``.
    fn remove_header<'py>(mut slf: PyRefMut<'py, Self>, name: &str) -> PyRefMut<'py, Self> {
        slf.core.remove(name);
        slf
    }

    /// The fields set so far, ``(name, value)`` as they will be written (unfolded, not
    /// encoded); Date and Message-ID are added by :meth:`build` when missing.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.core
            .fields
            .iter()
            .map(|(n, v)| {
                let text = match v {
                    Value::Text(t) | Value::Date(t) => t.clone(),
                    Value::Addresses(l) => l
                        .iter()
                        .map(|a| crate::message::address::format(&a.name, &a.email))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Value::Ids(ids) => ids
                        .iter()
                        .map(|i| format!("<{i}>"))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                (n.clone(), text)
            })
            .collect()
    }

    /// The plain-text body.
    #[getter]
    fn get_text(&self) -> Option<&str> {
        self.core.text.as_deref()
    }

    #[setter]
    fn set_text(&mut self, text: Option<String>) {
        self.core.text = text.map(Cow::Owned);
    }

    /// The HTML body (sent with the text as multipart/alternative).
    #[getter]
    fn get_html(&self) -> Option<&str> {
        self.core.html.as_deref()
    }

    #[setter]
    fn set_html(&mut self, html: Option<String>) {
        self.core.html = html.map(Cow::Owned);
    }

    /// Write UTF-8 header fields and addresses (RFC 6532, SMTPUTF8).
    #[getter]
    fn get_utf8(&self) -> bool {
        self.core.options.utf8
    }

    #[setter]
    fn set_utf8(&mut self, value: bool) {
        self.core.options.utf8 = value;
    }

    /// Send text bodies as 8bit (8BITMIME).
    #[getter]
    fn get_eight_bit(&self) -> bool {
        self.core.options.eight_bit
    }

    #[setter]
    fn set_eight_bit(&mut self, value: bool) {
        self.core.options.eight_bit = value;
    }

    /// The attachments so far.
    #[getter]
    fn attachments(&self, py: Python<'_>) -> Vec<Py<PyAttachment>> {
        self.attachments.iter().map(|a| a.clone_ref(py)).collect()
    }

    /// Add an attachment: an :class:`Attachment`, a ``(filename, data)`` pair, a path, or a
    /// :class:`Message` (attached as ``message/rfc822``). Inline attachments with a
    /// ``content_id`` go into a multipart/related with the HTML body.
    fn add_attachment<'py>(
        mut slf: PyRefMut<'py, Self>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let a = attachment_item(slf.py(), item)?;
        slf.attachments.push(a);
        Ok(slf)
    }

    /// The message, as a parsed :class:`Message`.
    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyMessage>> {
        message_from_bytes(py, &self.to_bytes(py)?)
    }

    /// The message's bytes.
    fn as_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.to_bytes(py)
    }

    fn __repr__(&self) -> String {
        let from = match self.core.get("From") {
            Some(Value::Addresses(l)) => l
                .iter()
                .map(|a| a.email.clone())
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        format!(
            "<MessageBuilder from={from:?} fields={} attachments={}>",
            self.core.fields.len(),
            self.attachments.len()
        )
    }
}

/// `Message.build(...)`.
pub fn build_message<'py>(
    py: Python<'py>,
    args: BuildArgs<'_, '_>,
) -> PyResult<Bound<'py, PyMessage>> {
    let b = PyMessageBuilder::from_args(py, args)?;
    message_from_bytes(py, &b.to_bytes(py)?)
}
