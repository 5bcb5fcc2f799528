//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in Python (`mailprims/exceptions.py`) so they can inherit
//! from both `MailError` and the stdlib class whose meaning they share (`ValueError`,
//! `TimeoutError`, `ConnectionError`); Rust looks each one up once and caches it.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::codec::CodecError;

macro_rules! exception_type {
    ($fn_name:ident, $name:literal) => {
        pub fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            TYPE.import(py, "mailprims.exceptions", $name)
        }
    };
}

exception_type!(codec_error_type, "CodecError");

/// Instantiate `cls(message, **kwargs)` as a `PyErr`; a failure to build it is the error.
pub fn instantiate(
    py: Python<'_>,
    cls: PyResult<&Bound<'_, PyType>>,
    message: String,
    fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kw = PyDict::new(py);
        fill(&kw)?;
        let exc = cls?.call((message,), Some(&kw))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

#[cold]
pub fn codec_error(py: Python<'_>, e: CodecError) -> PyErr {
    instantiate(py, codec_error_type(py), e.to_string(), |kw| {
        kw.set_item("codec", e.codec)?;
        kw.set_item("reason", e.reason.as_ref())?;
        kw.set_item("offset", e.offset)?;
        kw.set_item("byte", e.byte)
    })
}

exception_type!(address_error_type, "AddressError");

/// `AddressError(message, text=...)`.
#[cold]
pub fn address_error(py: Python<'_>, message: String, text: &str) -> PyErr {
    instantiate(py, address_error_type(py), message, |kw| {
        kw.set_item("text", text)
    })
}
