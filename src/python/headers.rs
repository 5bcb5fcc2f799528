//! `Headers` (the header section of a message or part) and `Header` (one field).

use std::sync::Arc;

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use super::fields::{Helper, call_python};
use crate::message::{Document, Field, PartId};

/// The header section of a message or part: every field in order, looked up by name without
/// regard to case, repeated fields kept.
///
/// ``headers["Subject"]`` is the first field's decoded value (``KeyError`` when there is
/// none), ``get_all("Received")`` every value, ``fields()`` the :class:`Header` objects with
/// their raw bytes. Iterating gives the field names in order, like ``email.message``.
#[pyclass(frozen, module = "mailprims", name = "Headers")]
pub struct PyHeaders {
    doc: Arc<Document>,
    part: PartId,
}

impl PyHeaders {
    pub fn new(doc: Arc<Document>, part: PartId) -> Self {
        PyHeaders { doc, part }
    }

    /// The decoded value of the first field named `name` (any case).
    pub fn first(&self, name: &str) -> Option<String> {
        self.fields()
            .iter()
            .find(|f| f.is(name))
            .map(Field::decoded)
    }

    /// The decoded values of every field named `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields()
            .iter()
            .filter(|f| f.is(name))
            .map(Field::decoded)
            .collect()
    }

    /// The field names, in order.
    pub fn names(&self) -> Vec<String> {
        self.fields().iter().map(Field::name_str).collect()
    }

    fn fields(&self) -> Vec<Field<'_>> {
        self.doc
            .part(self.part)
            .map(|p| p.fields().collect())
            .unwrap_or_default()
    }
}

fn header_object(py: Python<'_>, f: &Field<'_>) -> PyResult<Py<PyHeader>> {
    Py::new(
        py,
        PyHeader {
            name: f.name_str(),
            value: f.decoded(),
            raw: PyBytes::new(py, f.line).unbind(),
            raw_value: PyBytes::new(py, f.value).unbind(),
            offset: f.offset,
        },
    )
}

#[pymethods]
impl PyHeaders {
    fn __len__(&self) -> usize {
        self.doc
            .part(self.part)
            .map_or(0, |p| p.tree.headers(p.id).len())
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        let Ok(name) = name.extract::<&str>() else {
            return false;
        };
        self.fields().iter().any(|f| f.is(name))
    }

    /// The field names, in order (repeated names repeated).
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.fields().iter().map(Field::name_str))?
            .into_any()
            .try_iter()
            .map(Bound::into_any)
    }

    /// The decoded value of the first field named ``name``.
    fn __getitem__(&self, name: &str) -> PyResult<String> {
        self.fields()
            .iter()
            .find(|f| f.is(name))
            .map(Field::decoded)
            .ok_or_else(|| PyKeyError::new_err(name.to_owned()))
    }

    /// The decoded value of the first field named ``name``, or ``default``.
    #[pyo3(signature = (name, default = None))]
    fn get(&self, py: Python<'_>, name: &str, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        match self.fields().iter().find(|f| f.is(name)) {
            Some(f) => Ok(PyString::new(py, &f.decoded()).into_any().unbind()),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    /// The decoded values of every field named ``name``, in order (``[]`` when none).
    fn get_all(&self, name: &str) -> Vec<String> {
        self.fields()
            .iter()
            .filter(|f| f.is(name))
            .map(Field::decoded)
            .collect()
    }

    /// The raw value (bytes after the colon, folding kept) of the first field named
    /// ``name``, or ``None``.
    fn get_raw<'py>(&self, py: Python<'py>, name: &str) -> Option<Bound<'py, PyBytes>> {
        self.fields()
            .iter()
            .find(|f| f.is(name))
            .map(|f| PyBytes::new(py, f.value))
    }

    /// The field names, in order.
    fn keys(&self) -> Vec<String> {
        self.fields().iter().map(Field::name_str).collect()
    }

    /// The decoded values, in order.
    fn values(&self) -> Vec<String> {
        self.fields().iter().map(Field::decoded).collect()
    }

    /// ``(name, decoded value)`` pairs, in order.
    fn items(&self) -> Vec<(String, String)> {
        self.fields()
            .iter()
            .map(|f| (f.name_str(), f.decoded()))
            .collect()
    }

    /// The fields as :class:`Header` objects, all of them or those named ``name``.
    #[pyo3(name = "fields", signature = (name = None))]
    fn fields_list(&self, py: Python<'_>, name: Option<&str>) -> PyResult<Vec<Py<PyHeader>>> {
        self.fields()
            .iter()
            .filter(|f| name.is_none_or(|n| f.is(n)))
            .map(|f| header_object(py, f))
            .collect()
    }

    /// HTML for Jupyter: a table of the fields (escaped).
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Display, "headers_html")
    }

    fn __repr__(&self) -> String {
        let names = self.keys();
        let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
        let more = if names.len() > 8 { ", ..." } else { "" };
        format!(
            "<Headers: {} fields: {}{more}>",
            names.len(),
            shown.join(", ")
        )
    }
}

/// One header field: ``name`` as written, ``value`` unfolded with RFC 2047 encoded words
/// decoded, ``raw`` the whole field exactly as in the message (name, colon, value, line
/// break), ``raw_value`` the bytes after the colon, and ``offset`` where the field starts in
/// the bytes it was parsed from.
#[pyclass(frozen, module = "mailprims", name = "Header")]
pub struct PyHeader {
    name: String,
    value: String,
    raw: Py<PyBytes>,
    raw_value: Py<PyBytes>,
    offset: usize,
}

#[pymethods]
impl PyHeader {
    /// The field name as written (``Subject``).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The value unfolded and RFC 2047-decoded.
    #[getter]
    fn value(&self) -> &str {
        &self.value
    }

    /// The whole field as it is in the message: name, colon, value, folds and line end.
    #[getter]
    fn raw(&self, py: Python<'_>) -> Py<PyBytes> {
        self.raw.clone_ref(py)
    }

    /// The value's raw bytes (after the colon), folds included, not decoded.
    #[getter]
    fn raw_value(&self, py: Python<'_>) -> Py<PyBytes> {
        self.raw_value.clone_ref(py)
    }

    /// Where the field starts in the message, in bytes.
    #[getter]
    fn offset(&self) -> usize {
        self.offset
    }

    fn __str__(&self) -> String {
        format!("{}: {}", self.name, self.value)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        let Ok(other) = other.cast::<PyHeader>() else {
            return false;
        };
        self.raw.bind(py).as_bytes() == other.get().raw.bind(py).as_bytes()
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.raw.bind(py).hash()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Header({}, {})",
            self.name.as_str().into_pyobject(py)?.repr()?,
            self.value.as_str().into_pyobject(py)?.repr()?
        ))
    }
}
