//! `MessageEditor`: `Message.edit`.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::message::build::{self, BuildError, Options};
use crate::message::{Document, PartId, edit};
use crate::python::errors::build_error;
use crate::python::message::{PyMessage, PyPart, message_from_vec};
use crate::python::values::type_error;

use super::attachment::attachment_item;
use super::{err, value_from};

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

    /// One edit: `change` makes the new message from the current one's document; the editor
    /// takes it as its message and is returned, so calls chain.
    fn edited<'py>(
        mut slf: PyRefMut<'py, Self>,
        change: impl FnOnce(Python<'py>, &Self, &Arc<Document>) -> PyResult<Vec<u8>>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let doc = slf.doc(py);
        let out = change(py, &slf, &doc)?;
        slf.current = message_from_vec(py, out)?.unbind();
        Ok(slf)
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
        slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            Ok(edit::set_field(doc, name, ed.field_line(py, name, value)?))
        })
    }

    /// Add a header field after the last one (fields RFC 5322 allows once cannot be added
    /// when present).
    fn add_header<'py>(
        slf: PyRefMut<'py, Self>,
        name: &str,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            let line = ed.field_line(py, name, value)?;
            if build::is_once(name) && doc.root().field(name).is_some() {
                return Err(build_error(
                    py,
                    BuildError::Duplicate {
                        field: name.to_owned(),
                    },
                ));
            }
            Ok(edit::add_field(doc, line))
        })
    }

    /// Remove every header field ``name``.
    fn remove_header<'py>(slf: PyRefMut<'py, Self>, name: &str) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, _, doc| {
            build::check_name(name).map_err(err(py))?;
            Ok(edit::remove_field(doc, name))
        })
    }

    /// Replace the plain-text body (or add one, next to the HTML body in a
    /// multipart/alternative).
    fn set_text<'py>(slf: PyRefMut<'py, Self>, text: &str) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            edit::set_body(doc, "plain", text, &ed.options).map_err(err(py))
        })
    }

    /// Replace the HTML body (or add one, next to the plain text in a
    /// multipart/alternative).
    fn set_html<'py>(slf: PyRefMut<'py, Self>, html: &str) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            edit::set_body(doc, "html", html, &ed.options).map_err(err(py))
        })
    }

    /// Add an attachment (what ``MessageBuilder.add_attachment`` takes) as the last part of
    /// the message's multipart/mixed, which is made around the content when there is none.
    fn add_attachment<'py>(
        slf: PyRefMut<'py, Self>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            let a = attachment_item(py, item)?;
            edit::add_attachment(doc, &a.get().core(py), &ed.options).map_err(err(py))
        })
    }

    /// Remove an attachment, given as a :class:`Part` of the message being edited, an index
    /// into its ``attachments``, or a file name.
    fn remove_attachment<'py>(
        slf: PyRefMut<'py, Self>,
        which: &Bound<'py, PyAny>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        Self::edited(slf, |py, ed, doc| {
            let id = ed.resolve(py, doc, which)?;
            edit::remove_part(doc, id).map_err(err(py))
        })
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
