//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in Python (`mailprims/exceptions.py`) so they can inherit
//! from both `MailError` and the stdlib class whose meaning they share (`ValueError`,
//! `TimeoutError`, `ConnectionError`); Rust looks each one up once and caches it.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::codec::CodecError;
use crate::net::NetError;

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

exception_type!(connection_error_type, "MailConnectionError");
exception_type!(timeout_error_type, "MailTimeoutError");
exception_type!(tls_error_type, "TlsError");
exception_type!(config_error_type, "ConfigError");
exception_type!(protocol_error_type, "ProtocolError");

/// Network errors: connection problems are `ConnectionError`s, timeouts `TimeoutError`s.
#[cold]
pub fn net_error(py: Python<'_>, e: NetError) -> PyErr {
    let message = e.to_string();
    let cls = match &e {
        NetError::Connect { .. } | NetError::Closed | NetError::Io(_) => connection_error_type(py),
        NetError::Timeout { .. } => timeout_error_type(py),
        NetError::Tls(_) => tls_error_type(py),
        NetError::Config(_) => config_error_type(py),
        NetError::LineTooLong { .. } => protocol_error_type(py),
    };
    let err = instantiate(py, cls, message, |_| Ok(()));
    if let NetError::Connect { source, .. } | NetError::Io(source) = e {
        err.set_cause(py, Some(PyErr::from(source)));
    }
    err
}

exception_type!(pop3_error_type, "Pop3Error");

/// POP3 errors: `-ERR` replies are `Pop3Error` with the server's `text` and RFC 2449 `code`;
/// below POP3, the network mapping of `net_error`.
#[cold]
pub fn pop3_error(py: Python<'_>, e: crate::pop3::Error) -> PyErr {
    use crate::pop3::Error;
    let message = e.to_string();
    match e {
        Error::Net(n) => net_error(py, n),
        Error::Err(status) => instantiate(py, pop3_error_type(py), message, |kw| {
            kw.set_item("text", status.text)?;
            kw.set_item("code", status.code)
        }),
        Error::NotSupported(_) => instantiate(py, pop3_error_type(py), message, |_| Ok(())),
        Error::Protocol(_) => instantiate(py, protocol_error_type(py), message, |_| Ok(())),
        Error::Usage(_) | Error::InsecureAuth => {
            instantiate(py, config_error_type(py), message, |_| Ok(()))
        }
        Error::Closed => instantiate(py, connection_error_type(py), message, |_| Ok(())),
    }
}
