//! `Attachment`: a file, an inline part or an attached message, and what the builder and
//! the editor accept in its place.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::message::build::{self, Attachment, Content, MediaType};
use crate::python::buffer::BytesLike;
use crate::python::message::{PyMessage, read_path};
use crate::python::types;
use crate::python::values::type_error;

use super::{err, items};

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
    pub(super) fn core<'a>(&'a self, py: Python<'_>) -> Attachment<'a> {
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

    pub(super) fn size(&self, py: Python<'_>) -> usize {
        self.data.as_bytes(py).len()
    }
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
        let (p, data) = read_path(py, path, "Attachment.from_path()")?;
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
pub(super) fn attachment_item(
    py: Python<'_>,
    item: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAttachment>> {
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

pub(super) fn attachment_list(
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
