//! Every Python object the Rust side looks up, in one table (as pyca/cryptography's
//! `src/rust/src/types.rs`): the package's exception classes and value classes, the helper
//! modules it hands presentation to, and the stdlib names it uses. Each is imported on first
//! use and kept for the life of the interpreter; a renamed class shows up here, once.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

/// `module.name` (or the module itself when `name` is empty), imported once.
pub struct LazyPyImport {
    module: &'static str,
    name: &'static str,
    value: PyOnceLock<Py<PyAny>>,
}

impl LazyPyImport {
    pub const fn new(module: &'static str, name: &'static str) -> Self {
        LazyPyImport {
            module,
            name,
            value: PyOnceLock::new(),
        }
    }

    pub fn get<'a, 'py>(&'a self, py: Python<'py>) -> PyResult<&'a Bound<'py, PyAny>> {
        self.value
            .get_or_try_init(py, || {
                let module = py.import(self.module)?.into_any();
                if self.name.is_empty() {
                    return Ok(module.unbind());
                }
                module.getattr(self.name).map(Bound::unbind)
            })
            .map(|v| v.bind(py))
    }

    /// `value(**kwargs)`: for the value classes, built by field name so that no field can
    /// shift.
    pub fn call_kw<'py>(
        &self,
        py: Python<'py>,
        fields: impl FnOnce(&Bound<'py, PyDict>) -> PyResult<()>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kw = PyDict::new(py);
        fields(&kw)?;
        self.get(py)?.call((), Some(&kw))
    }
}

// ---- the package's exceptions (mailprims/exceptions.py) -----------------------------------

pub static CODEC_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "CodecError");
pub static MAIL_CONNECTION_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "MailConnectionError");
pub static MAIL_TIMEOUT_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "MailTimeoutError");
pub static TLS_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "TlsError");
pub static CONFIG_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "ConfigError");
pub static PROTOCOL_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "ProtocolError");
pub static POP3_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "Pop3Error");
pub static STORE_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "StoreError");
pub static MAILBOX_LOCKED_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "MailboxLockedError");
pub static MESSAGE_NOT_FOUND_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "MessageNotFoundError");
pub static ACCOUNT_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "AccountError");
pub static USERS_FILE_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "UsersFileError");
pub static SMTP_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "SmtpError");
pub static SMTP_TEMPORARY_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "SmtpTemporaryError");
pub static SMTP_PERMANENT_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "SmtpPermanentError");
pub static SMTP_RECIPIENTS_REFUSED: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "SmtpRecipientsRefused");
pub static SMTP_NOT_SUPPORTED_ERROR: LazyPyImport =
    LazyPyImport::new("mailprims.exceptions", "SmtpNotSupportedError");
pub static ADDRESS_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "AddressError");
pub static DNS_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "DnsError");
pub static AUTH_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "AuthError");

// The IMAP client (issue 15).
pub static IMAP_ERROR: LazyPyImport = LazyPyImport::new("mailprims.exceptions", "ImapError");

// ---- the package's value classes ----------------------------------------------------------

pub static SMTP_REPLY: LazyPyImport = LazyPyImport::new("mailprims.smtp", "SmtpReply");
pub static SEND_RESULT: LazyPyImport = LazyPyImport::new("mailprims.smtp", "SendResult");
pub static MX_RECORD: LazyPyImport = LazyPyImport::new("mailprims.smtp", "MxRecord");
pub static SERVER_EVENT: LazyPyImport = LazyPyImport::new("mailprims.events", "ServerEvent");

// The IMAP client's values (mailprims/imap.py).
pub static MAILBOX_STATUS: LazyPyImport = LazyPyImport::new("mailprims.imap", "MailboxStatus");
pub static STATUS_RESULT: LazyPyImport = LazyPyImport::new("mailprims.imap", "StatusResult");
pub static IMAP_MAILBOX: LazyPyImport = LazyPyImport::new("mailprims.imap", "Mailbox");
pub static IMAP_NAMESPACE: LazyPyImport = LazyPyImport::new("mailprims.imap", "Namespace");
pub static IMAP_NAMESPACES: LazyPyImport = LazyPyImport::new("mailprims.imap", "Namespaces");
pub static IMAP_ADDRESS: LazyPyImport = LazyPyImport::new("mailprims.imap", "ImapAddress");
pub static IMAP_ENVELOPE: LazyPyImport = LazyPyImport::new("mailprims.imap", "ImapEnvelope");
pub static BODY_STRUCTURE: LazyPyImport = LazyPyImport::new("mailprims.imap", "BodyStructure");
pub static FETCH_RESULT: LazyPyImport = LazyPyImport::new("mailprims.imap", "FetchResult");
pub static STORE_RESULT: LazyPyImport = LazyPyImport::new("mailprims.imap", "StoreResult");
pub static COPY_RESULT: LazyPyImport = LazyPyImport::new("mailprims.imap", "CopyResult");
pub static APPEND_RESULT: LazyPyImport = LazyPyImport::new("mailprims.imap", "AppendResult");
pub static IDLE_EVENT: LazyPyImport = LazyPyImport::new("mailprims.imap", "IdleEvent");

// ---- the package's presentation helpers ---------------------------------------------------

/// The `_repr_html_` renderers.
pub static DISPLAY_MODULE: LazyPyImport = LazyPyImport::new("mailprims._display", "");
/// Authentication-Results, DKIM, ARC and List-* as dataclasses.
pub static FIELDS_MODULE: LazyPyImport = LazyPyImport::new("mailprims.fields", "");
/// The Received hops table.
pub static TRACE_MODULE: LazyPyImport = LazyPyImport::new("mailprims.trace", "");
/// `mailprims.auth._report_html`: an AuthReport's Jupyter table.
pub static AUTH_REPORT_HTML: LazyPyImport = LazyPyImport::new("mailprims.auth", "_report_html");

// ---- the standard library -----------------------------------------------------------------

pub static DATETIME: LazyPyImport = LazyPyImport::new("datetime", "datetime");
pub static TIMEZONE: LazyPyImport = LazyPyImport::new("datetime", "timezone");
pub static TIMEDELTA: LazyPyImport = LazyPyImport::new("datetime", "timedelta");
pub static EMAIL_MESSAGE_FROM_BYTES: LazyPyImport =
    LazyPyImport::new("email", "message_from_bytes");
pub static EMAIL_MESSAGE_CLASS: LazyPyImport = LazyPyImport::new("email.message", "Message");
pub static EMAIL_POLICY_DEFAULT: LazyPyImport = LazyPyImport::new("email.policy", "default");
pub static GUESS_MIME_TYPE: LazyPyImport = LazyPyImport::new("mimetypes", "guess_type");
pub static OS_FSPATH: LazyPyImport = LazyPyImport::new("os", "fspath");
pub static OS_PATHLIKE: LazyPyImport = LazyPyImport::new("os", "PathLike");
// The runtime's per-loop completion queues (Unix only).
#[cfg(unix)]
pub static WEAK_KEY_DICTIONARY: LazyPyImport = LazyPyImport::new("weakref", "WeakKeyDictionary");
pub static ATEXIT_REGISTER: LazyPyImport = LazyPyImport::new("atexit", "register");
