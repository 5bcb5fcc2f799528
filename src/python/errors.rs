//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in Python (`mailprims/exceptions.py`) so they can inherit
//! from both `MailError` and the stdlib class whose meaning they share (`ValueError`,
//! `TimeoutError`, `ConnectionError`); Rust looks each one up once, in `types`.
//!
//! `IntoPyErr` is how generic code (the client plumbing in `client.rs`) turns a core error into
//! its exception where the GIL is held.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::types;
use crate::codec::CodecError;
use crate::net::NetError;
use crate::smtp::{Error as SmtpError, Reply};

/// `a, b and c` (`last` = `"and"`) or `a, b or c`: the names an error message lists.
pub fn listed<S: AsRef<str>>(names: &[S], last: &str) -> String {
    match names.split_last() {
        Some((end, rest)) if !rest.is_empty() => {
            let rest: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
            format!("{} {last} {}", rest.join(", "), end.as_ref())
        }
        _ => names.iter().map(AsRef::as_ref).collect(),
    }
}

/// A core error that becomes a Python exception (called with the GIL held).
pub trait IntoPyErr: Send + 'static {
    fn into_py_err(self, py: Python<'_>) -> PyErr;
}

impl IntoPyErr for PyErr {
    fn into_py_err(self, _py: Python<'_>) -> PyErr {
        self
    }
}

impl IntoPyErr for NetError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        net_error(py, self)
    }
}

impl IntoPyErr for SmtpError {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        smtp_error(py, self)
    }
}

impl IntoPyErr for crate::pop3::Error {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        pop3_error(py, self)
    }
}

impl IntoPyErr for crate::imap::Error {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        imap_error(py, self)
    }
}

/// Instantiate `cls(message, **kwargs)` as a `PyErr`; a failure to build it is the error.
pub fn instantiate(
    py: Python<'_>,
    cls: PyResult<&Bound<'_, PyAny>>,
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
    instantiate(py, types::CODEC_ERROR.get(py), e.to_string(), |kw| {
        kw.set_item("codec", e.codec)?;
        kw.set_item("reason", e.reason.as_ref())?;
        kw.set_item("offset", e.offset)?;
        kw.set_item("byte", e.byte)
    })
}

/// Network errors: connection problems are `ConnectionError`s, timeouts `TimeoutError`s.
#[cold]
pub fn net_error(py: Python<'_>, e: NetError) -> PyErr {
    let message = e.to_string();
    let cls = match &e {
        NetError::Connect { .. } | NetError::Listen { .. } | NetError::Closed | NetError::Io(_) => {
            types::MAIL_CONNECTION_ERROR.get(py)
        }
        NetError::Timeout { .. } => types::MAIL_TIMEOUT_ERROR.get(py),
        NetError::Tls(_) | NetError::Handshake { .. } => types::TLS_ERROR.get(py),
        NetError::Config(_) => types::CONFIG_ERROR.get(py),
        NetError::LineTooLong { .. } => types::PROTOCOL_ERROR.get(py),
    };
    let err = instantiate(py, cls, message, |kw| match &e {
        NetError::Handshake { failure, .. } => kw.set_item("reason", failure.as_str()),
        _ => Ok(()),
    });
    if let NetError::Connect { source, .. }
    | NetError::Listen { source, .. }
    | NetError::Io(source) = e
    {
        err.set_cause(py, Some(os_error_with_errno(source)));
    }
    err
}

/// An `OSError` carrying the system's `errno` when there is one (`OSError(errno, strerror)`
/// picks the matching subclass, such as `ConnectionRefusedError`), so callers can tell an
/// address in use from a permission problem.
fn os_error_with_errno(e: std::io::Error) -> PyErr {
    match e.raw_os_error() {
        Some(code) => pyo3::exceptions::PyOSError::new_err((code, os_message(&e))),
        None => PyErr::from(e),
    }
}

/// POP3 errors: `-ERR` replies are `Pop3Error` with the server's `text` and RFC 2449 `code`;
/// below POP3, the network mapping of `net_error`.
#[cold]
pub fn pop3_error(py: Python<'_>, e: crate::pop3::Error) -> PyErr {
    use crate::pop3::Error;
    let message = e.to_string();
    match e {
        Error::Net(n) => net_error(py, n),
        Error::Err(status) => instantiate(py, types::POP3_ERROR.get(py), message, |kw| {
            kw.set_item("text", status.text)?;
            kw.set_item("code", status.code)
        }),
        Error::NotSupported(_) => instantiate(py, types::POP3_ERROR.get(py), message, |_| Ok(())),
        Error::Protocol(_) => instantiate(py, types::PROTOCOL_ERROR.get(py), message, |_| Ok(())),
        Error::Usage(_) | Error::InsecureAuth => {
            instantiate(py, types::CONFIG_ERROR.get(py), message, |_| Ok(()))
        }
        Error::NotLoggedIn(status) => instantiate(py, types::POP3_ERROR.get(py), message, |kw| {
            kw.set_item("text", status.text)?;
            kw.set_item("code", status.code)
        }),
        Error::Closed | Error::NotConnected => instantiate(
            py,
            types::MAIL_CONNECTION_ERROR.get(py),
            message,
            |_| Ok(()),
        ),
    }
}

// ---- the mail store ------------------------------------------------------------------------

use std::io;

use pyo3::exceptions::{
    PyBlockingIOError, PyBrokenPipeError, PyConnectionAbortedError, PyConnectionRefusedError,
    PyConnectionResetError, PyFileExistsError, PyFileNotFoundError, PyInterruptedError,
    PyIsADirectoryError, PyNotADirectoryError, PyPermissionError, PyTimeoutError, PyValueError,
};

use crate::store::StoreError;

/// `cls(errno, strerror, filename, **kwargs)`, the `OSError` constructor form.
fn os_error(
    py: Python<'_>,
    cls: PyResult<Bound<'_, PyAny>>,
    errno: Option<i32>,
    strerror: String,
    filename: &std::path::Path,
    fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kw = PyDict::new(py);
        fill(&kw)?;
        let cls = cls?;
        let exc = match errno {
            Some(n) => cls.call((n, strerror, filename.as_os_str()), Some(&kw))?,
            None => cls.call((format!("{strerror}: {}", filename.display()),), Some(&kw))?,
        };
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// The OS's message for an error, without Rust's " (os error N)" suffix.
fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// An `io::Error` as the Python exception `open()` would raise for it, chosen by kind
/// (polars-style: every kind that has a built-in `OSError` subclass maps to it); failures with
/// no better class (a full disk, an I/O error, a read-only file system) are
/// `mailprims.StoreError`, itself an `OSError`. `errno`, `strerror` and `filename` are set.
#[cold]
fn io_error(py: Python<'_>, op: &str, path: &std::path::Path, e: io::Error) -> PyErr {
    use io::ErrorKind as K;
    fn builtin<T: pyo3::PyTypeInfo>(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(py.get_type::<T>().into_any())
    }
    let cls = match e.kind() {
        // What this platform cannot do (src/sys.rs, Maildir off Unix): not an I/O failure.
        K::Unsupported => {
            return pyo3::exceptions::PyNotImplementedError::new_err(format!(
                "{e} ({op}: {})",
                path.display()
            ));
        }
        K::NotFound => builtin::<PyFileNotFoundError>(py),
        K::PermissionDenied => builtin::<PyPermissionError>(py),
        K::AlreadyExists => builtin::<PyFileExistsError>(py),
        K::WouldBlock => builtin::<PyBlockingIOError>(py),
        K::Interrupted => builtin::<PyInterruptedError>(py),
        K::TimedOut => builtin::<PyTimeoutError>(py),
        K::IsADirectory => builtin::<PyIsADirectoryError>(py),
        K::NotADirectory => builtin::<PyNotADirectoryError>(py),
        K::BrokenPipe => builtin::<PyBrokenPipeError>(py),
        K::ConnectionRefused => builtin::<PyConnectionRefusedError>(py),
        K::ConnectionReset => builtin::<PyConnectionResetError>(py),
        K::ConnectionAborted => builtin::<PyConnectionAbortedError>(py),
        // StorageFull, QuotaExceeded, FileTooLarge, ReadOnlyFilesystem, Other, ...
        _ => types::STORE_ERROR.get(py).cloned(),
    };
    os_error(
        py,
        cls,
        e.raw_os_error(),
        format!("{} ({op})", os_message(&e)),
        path,
        |_| Ok(()),
    )
}

/// Every `StoreError` variant to its Python exception.
#[cold]
pub fn store_error(py: Python<'_>, e: StoreError) -> PyErr {
    let message = e.to_string();
    match e {
        StoreError::Io { op, path, source } => io_error(py, op, &path, source),
        StoreError::NoSuchMessage { key } => {
            instantiate(py, types::MESSAGE_NOT_FOUND_ERROR.get(py), message, |kw| {
                kw.set_item("key", key)
            })
        }
        StoreError::Locked { path, holder } => os_error(
            py,
            types::MAILBOX_LOCKED_ERROR.get(py).cloned(),
            Some(libc::EAGAIN),
            match &holder {
                Some(h) => format!("mailbox is locked (held by {h})"),
                None => "mailbox is locked".to_owned(),
            },
            &path,
            |kw| kw.set_item("holder", holder),
        ),
        StoreError::InvalidName { name, reason } => {
            instantiate(py, types::ACCOUNT_ERROR.get(py), message, |kw| {
                kw.set_item("name", name)?;
                kw.set_item("reason", reason)
            })
        }
        StoreError::Account { name, reason } => {
            instantiate(py, types::ACCOUNT_ERROR.get(py), message, |kw| {
                kw.set_item("name", name)?;
                kw.set_item("reason", reason)
            })
        }
        StoreError::InvalidFlags { .. } | StoreError::Password { .. } => {
            PyValueError::new_err(message)
        }
        StoreError::UsersFile {
            path,
            line,
            text,
            reason,
        } => instantiate(py, types::USERS_FILE_ERROR.get(py), message, |kw| {
            kw.set_item("path", path.map(|p| p.to_string_lossy().into_owned()))?;
            kw.set_item("lineno", line)?;
            kw.set_item("line", text)?;
            kw.set_item("reason", reason)
        }),
    }
}

// ---- SMTP ---------------------------------------------------------------------------------

/// `mailprims.SmtpReply(code, enhanced_code, text)`. Positional, unlike the other value
/// classes: it is a NamedTuple, whose field order is its public definition (users unpack it
/// too), and one is made per recipient and per message, where keywords cost.
pub fn smtp_reply<'py>(py: Python<'py>, reply: &Reply) -> PyResult<Bound<'py, PyAny>> {
    types::SMTP_REPLY
        .get(py)?
        .call1((reply.code, reply.enhanced.as_deref(), reply.text()))
}

/// SMTP errors: 4xx replies are `SmtpTemporaryError`, 5xx `SmtpPermanentError`, both with
/// `code`, `enhanced_code` and `text`; below SMTP, the network mapping of `net_error`.
#[cold]
pub fn smtp_error(py: Python<'_>, e: SmtpError) -> PyErr {
    let message = e.to_string();
    let with_reply = |reply: &Reply| {
        let code = reply.code;
        let enhanced = reply.enhanced.clone();
        let text = reply.text();
        move |kw: &Bound<'_, PyDict>| -> PyResult<()> {
            kw.set_item("code", code)?;
            kw.set_item("enhanced_code", enhanced)?;
            kw.set_item("text", text)
        }
    };
    match e {
        SmtpError::Net(n) => net_error(py, n),
        SmtpError::Reply { reply, .. } => {
            let cls = if reply.is_transient() {
                types::SMTP_TEMPORARY_ERROR.get(py)
            } else if reply.is_permanent() {
                types::SMTP_PERMANENT_ERROR.get(py)
            } else {
                types::SMTP_ERROR.get(py)
            };
            instantiate(py, cls, message, with_reply(&reply))
        }
        SmtpError::RecipientsRefused(list) => {
            let first = list.first().map(|(_, r)| r.clone());
            instantiate(py, types::SMTP_RECIPIENTS_REFUSED.get(py), message, |kw| {
                let recipients = PyDict::new(py);
                for (addr, reply) in &list {
                    recipients.set_item(addr, smtp_reply(py, reply)?)?;
                }
                kw.set_item("recipients", recipients)?;
                if let Some(r) = &first {
                    with_reply(r)(kw)?;
                }
                Ok(())
            })
        }
        SmtpError::NotSupported(_) => {
            instantiate(py, types::SMTP_NOT_SUPPORTED_ERROR.get(py), message, |_| {
                Ok(())
            })
        }
        SmtpError::TooLarge { .. } => {
            // RFC 3463 5.3.4 "message too big for system", decided before sending.
            instantiate(
                py,
                types::SMTP_PERMANENT_ERROR.get(py),
                message.clone(),
                |kw| {
                    kw.set_item("enhanced_code", "5.3.4")?;
                    kw.set_item("text", message)
                },
            )
        }
        SmtpError::Protocol(_) => {
            instantiate(py, types::PROTOCOL_ERROR.get(py), message, |_| Ok(()))
        }
        SmtpError::InvalidAddress { address, .. } => {
            instantiate(py, types::ADDRESS_ERROR.get(py), message, |kw| {
                kw.set_item("text", address)
            })
        }
        SmtpError::InvalidArgument(_) | SmtpError::InsecureAuth => {
            instantiate(py, types::CONFIG_ERROR.get(py), message, |_| Ok(()))
        }
        SmtpError::Dns {
            domain, permanent, ..
        } => instantiate(py, types::DNS_ERROR.get(py), message, |kw| {
            kw.set_item("domain", domain)?;
            kw.set_item("permanent", permanent)
        }),
        SmtpError::ClientClosed => instantiate(
            py,
            types::MAIL_CONNECTION_ERROR.get(py),
            message,
            |_| Ok(()),
        ),
    }
}

/// `AddressError(message, text=...)`.
#[cold]
pub fn address_error(py: Python<'_>, message: String, text: &str) -> PyErr {
    instantiate(py, types::ADDRESS_ERROR.get(py), message, |kw| {
        kw.set_item("text", text)
    })
}

// ---- building and editing messages ---------------------------------------------------------

/// Invalid addresses are `AddressError` (with the offending `text`); every other refusal
/// (header injection, a bad field name or value, an impossible edit) is a `ValueError`.
#[cold]
pub fn build_error(py: Python<'_>, e: crate::message::build::BuildError) -> PyErr {
    use crate::message::build::BuildError;
    let message = e.to_string();
    match e {
        BuildError::InvalidAddress { text, .. } => address_error(py, message, &text),
        _ => PyValueError::new_err(message),
    }
}

// ---- IMAP ---------------------------------------------------------------------------------

/// IMAP errors: NO, BAD and BYE are `ImapError` with the `status`, the response `code`'s name
/// and the server's `text`; a missing extension is an `ImapError` without status; below IMAP,
/// the network mapping of `net_error`.
#[cold]
pub fn imap_error(py: Python<'_>, e: crate::imap::Error) -> PyErr {
    use crate::imap::Error;
    let message = e.to_string();
    match e {
        Error::Net(n) => net_error(py, n),
        Error::Response(s) | Error::Bye(s) => {
            instantiate(py, types::IMAP_ERROR.get(py), message, |kw| {
                kw.set_item("status", s.status.as_str())?;
                kw.set_item("text", s.text)?;
                kw.set_item("code", s.code.as_ref().map(|c| c.name().to_owned()))
            })
        }
        Error::NotSupported(_) => instantiate(py, types::IMAP_ERROR.get(py), message, |_| Ok(())),
        Error::Protocol(_) => instantiate(py, types::PROTOCOL_ERROR.get(py), message, |_| Ok(())),
        Error::Usage(_) | Error::InsecureAuth => {
            instantiate(py, types::CONFIG_ERROR.get(py), message, |_| Ok(()))
        }
        Error::Closed => instantiate(
            py,
            types::MAIL_CONNECTION_ERROR.get(py),
            message,
            |_| Ok(()),
        ),
    }
}
