//! `MessageBuilder`, `Attachment` and `MessageEditor`, and the work behind `Message.build`,
//! `Message.reply`, `Message.forward` and `Message.edit`: the Python face of
//! `crate::message::{build, edit, reply}`.
//!
//! Python values become core values here (addresses, msg-ids, dates, attachments); the core
//! writes the bytes, and the result is parsed into a `Message` like any other, so every
//! accessor works on a built message.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use super::buffer::{BytesLike, DETACH_THRESHOLD, new_bytes};
use super::errors::build_error;
use super::message::{PyMessage, PyPart, message_from_bytes, message_from_vec};
use super::types;
use super::values::{PyAddress, type_error};
use crate::message::address::Address;
use crate::message::build::{
    self, Attachment, BuildError, Builder, Content, Kind, MediaType, Options, SliceSink, Value,
};
use crate::message::{Document, PartId, edit, reply};

fn err(py: Python<'_>) -> impl Fn(BuildError) -> PyErr + '_ {
    move |e| build_error(py, e)
}

// ---------------------------------------------------------------------------------------
// Python values to field values

/// A `datetime` as an RFC 5322 date-time; a naive one is local time.
fn date_from(py: Python<'_>, dt: &Bound<'_, PyAny>) -> PyResult<String> {
    let aware = if dt.call_method0("utcoffset")?.is_none() {
        dt.call_method0("astimezone")?
    } else {
        dt.clone()
    };
    let ts: f64 = aware.call_method0("timestamp")?.extract()?;
    let offset: f64 = aware
        .call_method0("utcoffset")?
        .call_method0("total_seconds")?
        .extract()?;
    build::format_date(ts.floor() as i64, offset as i32).map_err(err(py))
}

/// Items of an argument that may be one value or an iterable of them.
fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    obj.try_iter()?.collect()
}

/// Addresses from `str` (one or a comma-separated list), `Address`, or an iterable of those.
fn addresses_from(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<Address>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return build::parse_addresses(s.to_str()?).map_err(err(py));
    }
    if let Ok(a) = obj.cast::<PyAddress>() {
        let a = a.get().core().clone();
        build::check_address(&a).map_err(err(py))?;
        return Ok(vec![a]);
    }
    if obj.is_instance_of::<PyBytes>() {
        return Err(type_error("an address", "str or Address", obj));
    }
    let mut out = Vec::new();
    for item in items(obj).map_err(|_| type_error("an address", "str, Address or a list", obj))? {
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyAddress>() {
            out.extend(addresses_from(py, &item)?);
        } else {
            return Err(type_error("an address list", "str or Address items", &item));
        }
    }
    Ok(out)
}

/// The value for the field `name` from a Python object: addresses for address fields,
/// `str` or a list of `str` for msg-id fields, `datetime` or `str` for dates, `str` for the
/// rest.
fn value_from(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let kind = build::kind_of(name);
    if let Ok(s) = obj.cast::<PyString>()
        && kind != Kind::Addresses
    {
        return Value::parse(name, s.to_str()?).map_err(err(py));
    }
    match kind {
        Kind::Addresses => {
            let list = addresses_from(py, obj)?;
            if list.is_empty() {
                return Err(PyValueError::new_err(format!("{name}: no address given")));
            }
            Ok(Value::Addresses(list))
        }
        Kind::Ids => {
            let mut ids = Vec::new();
            for item in items(obj).map_err(|_| type_error(name, "str or a list of str", obj))? {
                let s: String = item
                    .extract()
                    .map_err(|_| type_error(name, "str items", &item))?;
                ids.extend(build::parse_ids(name, &s).map_err(err(py))?);
            }
            if ids.is_empty() {
                return Err(PyValueError::new_err(format!("{name}: no msg-id given")));
            }
            Ok(Value::Ids(ids))
        }
        Kind::Date if obj.is_instance(types::DATETIME.get(py)?)? => {
            Ok(Value::Date(date_from(py, obj)?))
        }
        Kind::Date => Err(type_error(name, "a datetime or str", obj)),
        Kind::Text => Err(type_error(name, "str", obj)),
    }
}

/// `(name, value)` pairs from a mapping or an iterable of pairs.
fn header_pairs<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Bound<'py, PyAny>)>> {
    let pairs: Bound<'py, PyAny> = if obj.hasattr("items")? {
        obj.call_method0("items")?
    } else {
        obj.clone()
    };
    let mut out = Vec::new();
    for item in
        items(&pairs).map_err(|_| type_error("headers", "a mapping or (name, value) pairs", obj))?
    {
        let (name, value): (String, Bound<'py, PyAny>) = item
            .extract()
            .map_err(|_| type_error("headers", "(name, value) pairs", &item))?;
        out.push((name, value));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Attachment

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataKind {
    Bytes,
    Text,
    Message,
}

/// A file to attach, an inline part (an image an HTML body shows as ``cid:...``), or a
/// message to attach as ``message/rfc822``.
///
/// ``data`` is bytes-like (sent exactly as given), ``str`` (sent as UTF-8 text) or a
/// :class:`Message`. Without ``content_type`` the type is guessed from ``filename`` with
/// :mod:`mimetypes` (``application/octet-stream`` when unknown or compressed).
#[pyclass(frozen, module = "mailprims", name = "Attachment")]
pub struct PyAttachment {
    data: Py<PyBytes>,
    kind: DataKind,
    filename: Option<String>,
    media_type: MediaType,
    inline: bool,
    content_id: Option<String>,
}

/// `mimetypes.guess_type(filename)`, or `application/octet-stream` (also for compressed
/// files, whose type says nothing of their content, as the stdlib's examples do).
fn guess_type(py: Python<'_>, filename: Option<&str>) -> PyResult<String> {
    if let Some(name) = filename {
        let (ctype, encoding): (Option<String>, Option<String>) =
            types::GUESS_MIME_TYPE.get(py)?.call1((name,))?.extract()?;
        if let (Some(t), None) = (ctype, encoding) {
            return Ok(t);
        }
    }
    Ok("application/octet-stream".into())
}

impl PyAttachment {
    fn make(
        py: Python<'_>,
        filename: Option<String>,
        data: &Bound<'_, PyAny>,
        content_type: Option<&str>,
        inline: bool,
        content_id: Option<String>,
    ) -> PyResult<Self> {
        let filename = filename.filter(|f| !f.is_empty());
        if let Some(f) = &filename {
            build::check_line("the attachment file name", f).map_err(err(py))?;
        }
        let content_id = match content_id {
            Some(cid) => {
                let cid = cid.trim();
                let cid = cid
                    .strip_prefix('<')
                    .and_then(|c| c.strip_suffix('>'))
                    .unwrap_or(cid);
                build::check_id("Content-ID", cid).map_err(err(py))?;
                Some(cid.to_owned())
            }
            None => None,
        };
        let (bytes, mut kind, default_type) = if let Ok(m) = data.cast::<PyMessage>() {
            (
                m.get().bytes_object(py)?,
                DataKind::Message,
                "message/rfc822".to_owned(),
            )
        } else if let Ok(s) = data.cast::<PyString>() {
            let encoded = s
                .call_method1("encode", ("utf-8",))?
                .cast_into::<PyBytes>()?;
            let guessed = guess_type(py, filename.as_deref())?;
            let t = if guessed.starts_with("text/") {
                guessed
            } else {
                "text/plain".into()
            };
            (encoded, DataKind::Text, t)
        } else if let Ok(b) = data.cast::<PyBytes>() {
            (
                b.clone(),
                DataKind::Bytes,
                guess_type(py, filename.as_deref())?,
            )
        } else {
            let copied = BytesLike::bytes_only(data, "Attachment data").map_err(|_| {
                type_error("Attachment()", "bytes-like data, str or a Message", data)
            })?;
            (
                PyBytes::new(py, copied.as_bytes()),
                DataKind::Bytes,
                guess_type(py, filename.as_deref())?,
            )
        };
        let media_type =
            MediaType::parse(content_type.unwrap_or(&default_type)).map_err(err(py))?;
        if kind == DataKind::Bytes
            && media_type.maintype == "message"
            && matches!(media_type.subtype.as_str(), "rfc822" | "global")
        {
            kind = DataKind::Message;
        }
        Ok(PyAttachment {
            data: bytes.unbind(),
            kind,
            filename,
            media_type,
            inline,
            content_id,
        })
    }

    /// The core attachment, borrowing the data.
    fn core<'a>(&'a self, py: Python<'_>) -> Attachment<'a> {
        let data = self.data.as_bytes(py);
        let content = match self.kind {
            DataKind::Bytes => Content::Bytes(Cow::Borrowed(data)),
            // ok: the bytes were encoded from a `str` as UTF-8.
            DataKind::Text => Content::Text(String::from_utf8_lossy(data)),
            DataKind::Message => Content::Message(Cow::Borrowed(data)),
        };
        Attachment {
            content,
            media_type: self.media_type.clone(),
            filename: self.filename.clone(),
            inline: self.inline,
            content_id: self.content_id.clone(),
        }
    }

    fn size(&self, py: Python<'_>) -> usize {
        self.data.as_bytes(py).len()
    }
}

fn read_path(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<(PathBuf, Vec<u8>)> {
    let fspath = types::OS_FSPATH.get(py)?.call1((path,))?;
    let p: PathBuf = fspath
        .extract()
        .map_err(|_| type_error("Attachment.from_path()", "a str or path-like object", path))?;
    let data = py.detach(|| std::fs::read(&p)).map_err(|e| {
        let code = e.raw_os_error().unwrap_or(0);
        pyo3::exceptions::PyOSError::new_err((code, e.to_string(), fspath.clone().unbind()))
    })?;
    Ok((p, data))
}

#[pymethods]
impl PyAttachment {
    #[new]
    #[pyo3(signature = (filename, data, content_type = None, *, inline = false, content_id = None))]
    fn new(
        py: Python<'_>,
        filename: Option<String>,
        data: &Bound<'_, PyAny>,
        content_type: Option<&str>,
        inline: bool,
        content_id: Option<String>,
    ) -> PyResult<Self> {
        Self::make(py, filename, data, content_type, inline, content_id)
    }

    /// An attachment read from a file; ``filename`` defaults to the file's name.
    #[staticmethod]
    #[pyo3(signature = (path, *, filename = None, content_type = None, inline = false, content_id = None))]
    fn from_path(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        filename: Option<String>,
        content_type: Option<&str>,
        inline: bool,
        content_id: Option<String>,
    ) -> PyResult<Self> {
        let (p, data) = read_path(py, path)?;
        let filename = filename.or_else(|| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        let data = PyBytes::new(py, &data);
        Self::make(
            py,
            filename,
            data.as_any(),
            content_type,
            inline,
            content_id,
        )
    }

    /// The file name, or ``None``.
    #[getter]
    fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The MIME type with its parameters, as it will be written.
    #[getter]
    fn content_type(&self) -> String {
        self.media_type.to_string()
    }

    /// The content (UTF-8 for text given as ``str``).
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyBytes> {
        self.data.clone_ref(py)
    }

    /// ``Content-Disposition: inline`` rather than ``attachment``.
    #[getter]
    fn inline(&self) -> bool {
        self.inline
    }

    /// Content-ID, without angle brackets.
    #[getter]
    fn content_id(&self) -> Option<&str> {
        self.content_id.as_deref()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let name = match &self.filename {
            Some(f) => f.as_str().into_pyobject(py)?.repr()?.to_string(),
            None => "None".into(),
        };
        let mut s = format!(
            "<Attachment {name} {} {} bytes",
            self.media_type.essence(),
            self.size(py)
        );
        if self.inline {
            s.push_str(" inline");
        }
        if let Some(cid) = &self.content_id {
            s.push_str(&format!(" cid={cid}"));
        }
        s.push('>');
        Ok(s)
    }
}

/// An attachment from what `attachments=` and `add_attachment()` take: an `Attachment`, a
/// `(filename, data)` pair, a path, or a `Message` (attached as message/rfc822).
fn attachment_item(py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<Py<PyAttachment>> {
    if let Ok(a) = item.cast::<PyAttachment>() {
        return Ok(a.clone().unbind());
    }
    if item.is_instance_of::<PyMessage>() {
        return Py::new(py, PyAttachment::make(py, None, item, None, false, None)?);
    }
    if let Ok(t) = item.cast::<PyTuple>()
        && t.len() == 2
    {
        let first = t.get_item(0)?;
        let filename: Option<String> = first
            .extract()
            .map_err(|_| type_error("an attachment pair", "a str file name", &first))?;
        let data = t.get_item(1)?;
        return Py::new(
            py,
            PyAttachment::make(py, filename, &data, None, false, None)?,
        );
    }
    if item.is_instance_of::<PyString>() || item.is_instance(types::OS_PATHLIKE.get(py)?)? {
        return Py::new(
            py,
            PyAttachment::from_path(py, item, None, None, false, None)?,
        );
    }
    Err(PyTypeError::new_err(format!(
        "an attachment is an Attachment, a (filename, data) pair, a path or a Message, not '{}'",
        item.get_type().name()?
    )))
}

fn attachment_list(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<Py<PyAttachment>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Vec::new());
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(type_error("attachments", "a list of attachments", obj));
    }
    if obj.is_instance_of::<PyTuple>()
        && obj.len()? == 2
        && obj.get_item(0)?.is_instance_of::<PyString>()
        && !obj.get_item(1)?.is_instance_of::<PyString>()
    {
        return Err(PyTypeError::new_err(
            "attachments is a list of attachments: put the (filename, data) pair in a list",
        ));
    }
    items(obj)
        .map_err(|_| type_error("attachments", "a list", obj))?
        .iter()
        .map(|i| attachment_item(py, i))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Builder

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
        let mut sink = SliceSink::new(buf);
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

fn built<'py>(
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

// ---------------------------------------------------------------------------------------
// Reply and forward

/// The replier: `from_`, or the parent's first recipient.
fn replier(
    py: Python<'_>,
    parent: &crate::message::MessageView<'_>,
    from_: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Vec<Address>> {
    match from_.filter(|f| !f.is_none()) {
        Some(f) => addresses_from(py, f),
        None => {
            let first = parent
                .addresses("To")
                .into_iter()
                .chain(parent.addresses("Cc"))
                .find(|a| build::check_address(a).is_ok())
                .map(|a| Address { group: None, ..a });
            first.map(|a| vec![a]).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{what} needs from_=: the message has no recipient address to send it from"
                ))
            })
        }
    }
}

/// Fill `b` from the common keyword arguments of reply() and forward().
fn apply_extras<'a>(
    py: Python<'_>,
    b: &mut Builder<'a>,
    headers: Option<&Bound<'_, PyAny>>,
    atts: &'a [Py<PyAttachment>],
) -> PyResult<()> {
    if let Some(h) = headers.filter(|h| !h.is_none()) {
        for (name, value) in header_pairs(h)? {
            build::check_name(&name).map_err(err(py))?;
            let v = value_from(py, &name, &value)?;
            b.set(&name, v).map_err(err(py))?;
        }
    }
    b.attachments.extend(atts.iter().map(|a| a.get().core(py)));
    Ok(())
}

/// Keep addresses the builder accepts (a parent may hold malformed ones).
fn valid(list: Vec<Address>) -> Vec<Address> {
    list.into_iter()
        .filter(|a| build::check_address(a).is_ok())
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn reply<'py>(
    py: Python<'py>,
    msg: &PyMessage,
    text: Option<String>,
    html: Option<String>,
    from_: Option<&Bound<'_, PyAny>>,
    reply_all: bool,
    quote: bool,
    attachments: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    options: Options,
) -> PyResult<Bound<'py, PyMessage>> {
    let parent = msg.view();
    let me = replier(py, &parent, from_, "reply()")?;
    let (to, cc) = reply::reply_recipients(&parent, reply_all, &me);
    let (to, cc) = (valid(to), valid(cc));
    if to.is_empty() {
        return Err(PyValueError::new_err(
            "the message has no Reply-To or From address to reply to",
        ));
    }
    let (id, refs) = reply::thread_ids(&parent);
    let ok_id = |i: &String| build::check_id("References", i).is_ok();
    let mut b = Builder::new();
    b.options = options;
    let e = err(py);
    b.set("From", Value::Addresses(me)).map_err(&e)?;
    b.set("To", Value::Addresses(to)).map_err(&e)?;
    if !cc.is_empty() {
        b.set("Cc", Value::Addresses(cc)).map_err(&e)?;
    }
    let subject = reply::reply_subject(parent.subject().as_deref());
    b.set("Subject", Value::Text(subject)).map_err(&e)?;
    if let Some(id) = id.filter(ok_id) {
        b.set("In-Reply-To", Value::Ids(vec![id])).map_err(&e)?;
    }
    let refs: Vec<String> = refs.into_iter().filter(ok_id).collect();
    if !refs.is_empty() {
        b.set("References", Value::Ids(refs)).map_err(&e)?;
    }
    let mut body = text;
    if quote {
        let s = parent.body_structure();
        let original = s
            .text
            .iter()
            .filter_map(|&id| msg.document().0.part(id))
            .filter(|p| p.mime_type() == "text/plain")
            .filter_map(|p| p.text())
            .next();
        if let Some(original) = original {
            let quoted = reply::quote(&parent, &original);
            body = Some(match body {
                Some(t) if !t.is_empty() => {
                    format!("{}\n\n{quoted}", t.trim_end_matches(['\r', '\n']))
                }
                _ => quoted,
            });
        }
    }
    b.text = body.map(Cow::Owned);
    b.html = html.map(Cow::Owned);
    let atts = attachment_list(py, attachments)?;
    apply_extras(py, &mut b, headers, &atts)?;
    let size = b
        .attachments
        .iter()
        .map(|a| match &a.content {
            Content::Bytes(d) | Content::Message(d) => d.len(),
            Content::Text(t) => t.len(),
        })
        .sum();
    built(py, &b, size)
}

#[allow(clippy::too_many_arguments)]
pub fn forward<'py>(
    py: Python<'py>,
    msg: &PyMessage,
    to: Option<&Bound<'_, PyAny>>,
    from_: Option<&Bound<'_, PyAny>>,
    cc: Option<&Bound<'_, PyAny>>,
    bcc: Option<&Bound<'_, PyAny>>,
    text: Option<String>,
    html: Option<String>,
    subject: Option<String>,
    attachments: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    options: Options,
) -> PyResult<Bound<'py, PyMessage>> {
    let parent = msg.view();
    let me = replier(py, &parent, from_, "forward()")?;
    let mut b = Builder::new();
    b.options = options;
    let e = err(py);
    b.set("From", Value::Addresses(me)).map_err(&e)?;
    for (name, value) in [("To", to), ("Cc", cc), ("Bcc", bcc)] {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            let list = addresses_from(py, v)?;
            if !list.is_empty() {
                b.set(name, Value::Addresses(list)).map_err(&e)?;
            }
        }
    }
    let original_subject = parent.subject();
    let subject = subject.unwrap_or_else(|| reply::forward_subject(original_subject.as_deref()));
    b.set("Subject", Value::Text(subject)).map_err(&e)?;
    b.text = text.map(Cow::Owned);
    b.html = html.map(Cow::Owned);
    let original = parent.bytes();
    b.attachments.push(Attachment {
        content: Content::Message(Cow::Borrowed(original)),
        media_type: MediaType::new("message", "rfc822"),
        filename: Some(reply::message_filename(original_subject.as_deref())),
        inline: false,
        content_id: None,
    });
    let atts = attachment_list(py, attachments)?;
    apply_extras(py, &mut b, headers, &atts)?;
    let size = original.len() + atts.iter().map(|a| a.get().size(py)).sum::<usize>();
    built(py, &b, size)
}

// ---------------------------------------------------------------------------------------
// Editor

/// Changes to a parsed message that leave everything else byte for byte as it was.
///
/// Made by ``Message.edit()``. Each method changes the message at once and returns the
/// editor, so calls chain; :meth:`build` returns the edited :class:`Message`. Header
/// fields that are not set, added or removed keep their exact bytes (folding, encoding,
/// line endings); parts that are not replaced or removed are not re-encoded; new content
/// uses the message's line ending. The MIME structure fields (``Content-*``,
/// ``MIME-Version``) are the editor's to write: change the bodies and attachments instead.
#[pyclass(module = "mailprims", name = "MessageEditor")]
pub struct PyMessageEditor {
    current: Py<PyMessage>,
    options: Options,
}

impl PyMessageEditor {
    pub fn new(py: Python<'_>, msg: &Bound<'_, PyMessage>, options: Options) -> PyResult<Self> {
        let (_, id) = msg.get().document();
        let current = if id == 0 {
            msg.clone().unbind()
        } else {
            // An attached message is edited as a message of its own.
            message_from_vec(py, msg.get().view().bytes().to_vec())?.unbind()
        };
        Ok(PyMessageEditor { current, options })
    }

    fn doc(&self, py: Python<'_>) -> Arc<Document> {
        self.current.bind(py).get().document().0.clone()
    }

    fn replace(&mut self, py: Python<'_>, data: Vec<u8>) -> PyResult<()> {
        self.current = message_from_vec(py, data)?.unbind();
        Ok(())
    }

    fn field_line(
        &self,
        py: Python<'_>,
        name: &str,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<u8>> {
        build::check_name(name).map_err(err(py))?;
        let v = value_from(py, name, value)?;
        let mut line = Vec::new();
        build::write_field(&mut line, name, &v, self.options.utf8).map_err(err(py))?;
        Ok(line)
    }

    /// The part to remove: a `Part` of the current message, an index into its attachments,
    /// or an attachment's file name.
    fn resolve(
        &self,
        py: Python<'_>,
        doc: &Arc<Document>,
        which: &Bound<'_, PyAny>,
    ) -> PyResult<PartId> {
        let attachments = doc.root().body_structure().attachments;
        if let Ok(p) = which.cast::<PyPart>() {
            let (pdoc, id) = p.get().location();
            if !Arc::ptr_eq(pdoc, doc) {
                return Err(PyValueError::new_err(
                    "the part is not from the message being edited (after an edit, take parts from editor.build())",
                ));
            }
            return Ok(id);
        }
        if let Ok(i) = which.extract::<isize>() {
            let n = attachments.len() as isize;
            let k = if i < 0 { i + n } else { i };
            return usize::try_from(k)
                .ok()
                .and_then(|k| attachments.get(k).copied())
                .ok_or_else(|| {
                    pyo3::exceptions::PyIndexError::new_err(format!(
                        "attachment index {i} out of range ({n} attachments)"
                    ))
                });
        }
        if let Ok(name) = which.extract::<String>() {
            return attachments
                .iter()
                .copied()
                .find(|&id| {
                    doc.part(id).and_then(|p| p.filename()).as_deref() == Some(name.as_str())
                })
                .ok_or_else(|| PyValueError::new_err(format!("no attachment named {name:?}")));
        }
        let _ = py;
        Err(type_error(
            "remove_attachment()",
            "a Part, an index or a file name",
            which,
        ))
    }
}

#[pymethods]
impl PyMessageEditor {
    /// Set the header field ``name``: the first field of that name is replaced where it
    /// is (the others removed), or the field is added after the last one.
    fn set_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let line = slf.field_line(py, name, value)?;
        let out = edit::set_field(&slf.doc(py), name, line);
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Add a header field after the last one (fields RFC 5322 allows once cannot be added
    /// when present).
    fn add_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let line = slf.field_line(py, name, value)?;
        let doc = slf.doc(py);
        if build::is_once(name) && doc.root().field(name).is_some() {
            return Err(build_error(
                py,
                BuildError::Duplicate {
                    field: name.to_owned(),
                },
            ));
        }
        let out = edit::add_field(&doc, line);
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Remove every header field ``name``.
    fn remove_header<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        build::check_name(name).map_err(err(py))?;
        let out = edit::remove_field(&slf.doc(py), name);
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Replace the plain-text body (or add one, next to the HTML body in a
    /// multipart/alternative).
    fn set_text<'py>(mut slf: PyRefMut<'py, Self>, text: &str) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let out = edit::set_body(&slf.doc(py), "plain", text, &slf.options).map_err(err(py))?;
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Replace the HTML body (or add one, next to the plain text in a
    /// multipart/alternative).
    fn set_html<'py>(mut slf: PyRefMut<'py, Self>, html: &str) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let out = edit::set_body(&slf.doc(py), "html", html, &slf.options).map_err(err(py))?;
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Add an attachment (what ``MessageBuilder.add_attachment`` takes) as the last part of
    /// the message's multipart/mixed, which is made around the content when there is none.
    fn add_attachment<'py>(
        mut slf: PyRefMut<'py, Self>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let a = attachment_item(py, item)?;
        let out =
            edit::add_attachment(&slf.doc(py), &a.get().core(py), &slf.options).map_err(err(py))?;
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// Remove an attachment, given as a :class:`Part` of the message being edited, an index
    /// into its ``attachments``, or a file name.
    fn remove_attachment<'py>(
        mut slf: PyRefMut<'py, Self>,
        which: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let doc = slf.doc(py);
        let id = slf.resolve(py, &doc, which)?;
        let out = edit::remove_part(&doc, id).map_err(err(py))?;
        slf.replace(py, out)?;
        Ok(slf)
    }

    /// The edited message.
    fn build(&self, py: Python<'_>) -> Py<PyMessage> {
        self.current.clone_ref(py)
    }

    /// The edited message's bytes.
    fn as_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.current.bind(py).get().bytes_object(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<MessageEditor {}>", self.current.bind(py).repr()?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAttachment>()?;
    m.add_class::<PyMessageBuilder>()?;
    m.add_class::<PyMessageEditor>()?;
    Ok(())
}
