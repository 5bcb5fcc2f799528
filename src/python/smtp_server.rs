//! Bindings for the SMTP server: the server core, the in-memory sink, and the bridges that let
//! Python handler hooks and authenticators take part (called on tokio's blocking pool through
//! `runtime::attach`, never on a runtime worker).
//!
//! The public classes (`SmtpServer`, `Sink`, `Session`, `Envelope`) are thin Python wrappers in
//! `mailprims/smtp_server.py`; what crosses this boundary are the typed snapshots
//! `SmtpSessionState` and `SmtpEnvelopeState`, which those copy by field name.

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use super::auth::{PyAuthReport, PyVerifier, report_object};
use super::runtime::attach;
use super::server::{
    ServerHandle, at_least, event_log, needs_tls, non_negative_secs, positive_count,
    server_pymethods, server_tls,
};
use super::store::{PyMaildirStore, PyUsers};
use crate::net::limits::AuthBudget;
use crate::smtp::server::store::{Accounts, StoreDelivery};
use crate::smtp::server::{
    Authenticator, BoxFuture, Config, Domains, Envelope, Hook, HookCall, HookReply, Hooks, Reply,
    Server, Session, Sink, Verification,
};

/// What a Python handler hook sees of the session (`mailprims.Session` copies it).
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct SmtpSessionState {
    id: u64,
    peer_host: String,
    peer_port: u16,
    host_name: Option<String>,
    extended_smtp: bool,
    tls_version: Option<String>,
    tls_cipher: Option<String>,
    auth_user: Option<String>,
}

impl SmtpSessionState {
    fn new(s: &Session) -> Self {
        SmtpSessionState {
            id: s.id,
            peer_host: s.peer.ip().to_string(),
            peer_port: s.peer.port(),
            host_name: s.host_name.clone(),
            extended_smtp: s.extended,
            tls_version: s.tls.as_ref().map(|t| t.version.clone()),
            tls_cipher: s.tls.as_ref().map(|t| t.cipher.clone()),
            auth_user: s.auth_user.clone(),
        }
    }
}

/// What a Python handler hook sees of the transaction (`mailprims.Envelope` copies it).
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct SmtpEnvelopeState {
    mail_from: Option<String>,
    mail_options: Vec<String>,
    smtp_utf8: bool,
    rcpt_tos: Vec<String>,
    rcpt_options: Vec<Vec<String>>,
    /// The message as delivered (after DATA, else None).
    content: Option<Py<PyBytes>>,
    /// Octets of trace fields this server put at the start of `content`.
    trace_len: usize,
    id: String,
    /// What `verify=` found (a `mailprims.auth.AuthReport`), after DATA.
    auth: Option<Py<PyAuthReport>>,
}

impl SmtpEnvelopeState {
    fn new(py: Python<'_>, e: &Envelope, with_content: bool) -> PyResult<Self> {
        let content = if with_content {
            Some(super::buffer::bytes_from(py, &e.content)?.unbind())
        } else {
            None
        };
        Ok(SmtpEnvelopeState {
            mail_from: e.mail_from.clone(),
            mail_options: e.mail_options.clone(),
            smtp_utf8: e.smtputf8,
            rcpt_tos: e.rcpt_tos.clone(),
            rcpt_options: e.rcpt_options.clone(),
            content,
            trace_len: e.trace_len,
            id: e.id.clone(),
            auth: e
                .auth
                .as_ref()
                .map(|r| Py::new(py, report_object(py, (**r).clone())?))
                .transpose()?,
        })
    }
}

fn hook_name(h: Hook) -> &'static str {
    match h {
        Hook::Helo => "HELO",
        Hook::Ehlo => "EHLO",
        Hook::Mail => "MAIL",
        Hook::Rcpt => "RCPT",
        Hook::Data => "DATA",
        Hook::Rset => "RSET",
        Hook::Noop => "NOOP",
        Hook::Quit => "QUIT",
        Hook::Vrfy => "VRFY",
    }
}

const ALL_HOOKS: [Hook; 9] = [
    Hook::Helo,
    Hook::Ehlo,
    Hook::Mail,
    Hook::Rcpt,
    Hook::Data,
    Hook::Rset,
    Hook::Noop,
    Hook::Quit,
    Hook::Vrfy,
];

/// Hook arguments owned, so they can move to a blocking thread.
enum Args {
    None,
    Text(String),
    Ehlo(String, Vec<String>),
    Address(String, Vec<String>),
}

/// A Python handler, reached through the wrapper's `_dispatch(conn_id, hook, session,
/// envelope, args)` which returns a reply string, a list of EHLO lines, or None.
struct PyHooks {
    dispatch: Arc<Py<PyAny>>,
    present: Vec<Hook>,
}

fn local_error() -> HookReply {
    HookReply::Reply(Reply::new(451, "4.3.0 Error: local error in processing"))
}

impl Hooks for PyHooks {
    fn has(&self, hook: Hook) -> bool {
        self.present.contains(&hook)
    }

    fn call<'a>(
        &'a self,
        call: HookCall<'a>,
        session: &'a Session,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, HookReply> {
        let hook = call.hook();
        let args = match call {
            HookCall::Helo(h) => Args::Text(h.to_owned()),
            HookCall::Ehlo(h, lines) => Args::Ehlo(h.to_owned(), lines.to_vec()),
            HookCall::Mail(a, o) | HookCall::Rcpt(a, o) => Args::Address(a.to_owned(), o.to_vec()),
            HookCall::Noop(a) | HookCall::Vrfy(a) => Args::Text(a.to_owned()),
            HookCall::Data | HookCall::Rset | HookCall::Quit => Args::None,
        };
        let session = session.clone();
        // Only DATA needs the content (the one copy per message a Python handler costs).
        let envelope = if hook == Hook::Data {
            envelope.clone()
        } else {
            Envelope {
                content: Vec::new(),
                ..envelope.clone()
            }
        };
        let dispatch = self.dispatch.clone();
        Box::pin(async move {
            let joined = tokio::task::spawn_blocking(move || {
                attach(|py| call_dispatch(py, &dispatch, hook, &session, &envelope, args))
            })
            .await;
            match joined {
                Ok(Some(Ok(reply))) => reply,
                Ok(Some(Err(_))) => local_error(),
                // The interpreter is exiting, or the blocking task died.
                _ => local_error(),
            }
        })
    }

    fn closed(&self, session: &Session) {
        let dispatch = self.dispatch.clone();
        let id = session.id;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn_blocking(move || {
                attach(|py| {
                    let _ = dispatch.call1(py, (id, "_closed", py.None(), py.None(), ()));
                })
            });
        }
    }
}

fn call_dispatch(
    py: Python<'_>,
    dispatch: &Py<PyAny>,
    hook: Hook,
    session: &Session,
    envelope: &Envelope,
    args: Args,
) -> PyResult<HookReply> {
    let s = SmtpSessionState::new(session);
    let e = SmtpEnvelopeState::new(py, envelope, hook == Hook::Data)?;
    let args: Bound<'_, PyTuple> = match args {
        Args::None => PyTuple::empty(py),
        Args::Text(t) => (t,).into_pyobject(py)?,
        Args::Ehlo(h, lines) => {
            let last = lines.len().saturating_sub(1);
            let wire: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                .collect();
            (h, wire).into_pyobject(py)?
        }
        Args::Address(a, o) => (a, o).into_pyobject(py)?,
    };
    let result = dispatch.call1(py, (session.id, hook_name(hook), s, e, args))?;
    let result = result.bind(py);
    if result.is_none() {
        return Ok(HookReply::Default);
    }
    if let Ok(text) = result.cast::<PyString>() {
        return Reply::parse(&text.to_cow()?)
            .map(HookReply::Reply)
            .map_err(PyValueError::new_err);
    }
    if let Ok(list) = result.cast::<PyList>() {
        let mut lines = Vec::new();
        for item in list.iter() {
            let item: String = item.extract()?;
            let item = item.trim_end_matches(['\r', '\n']);
            let text = match item.get(..4) {
                Some("250-") | Some("250 ") => &item[4..],
                _ => item,
            };
            lines.push(text.to_owned());
        }
        if lines.is_empty() {
            return Err(PyValueError::new_err("handle_EHLO returned no lines"));
        }
        return Ok(HookReply::EhloLines(lines));
    }
    Err(PyValueError::new_err(
        "a handler hook must return a reply string, None, or (EHLO) a list of lines",
    ))
}

/// An authenticator: a Python callable `(username, password) -> bool` (run off the runtime).
struct PyAuthenticator {
    func: Arc<Py<PyAny>>,
}

impl Authenticator for PyAuthenticator {
    fn authenticate<'a>(
        &'a self,
        mechanism: &'a str,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        let func = self.func.clone();
        let _ = mechanism;
        let (u, p) = (username.to_owned(), password.to_owned());
        Box::pin(async move {
            let joined = tokio::task::spawn_blocking(move || {
                attach(|py| -> PyResult<bool> { func.call1(py, (u, p))?.bind(py).is_truthy() })
            })
            .await;
            match joined {
                Ok(Some(Ok(ok))) => Ok(ok),
                Ok(Some(Err(e))) => Err(e.to_string()),
                _ => Err("authenticator unavailable".into()),
            }
        })
    }
}

/// In-memory message store for tests (`mailprims.Sink` wraps it).
#[pyclass(module = "mailprims._mailprims", frozen)]
struct SmtpSink {
    inner: Arc<Sink>,
}

#[pymethods]
impl SmtpSink {
    #[new]
    #[pyo3(signature = (maxlen=None))]
    fn new(maxlen: Option<usize>) -> Self {
        Self {
            inner: Arc::new(Sink::new(maxlen)),
        }
    }

    /// `[(SmtpSessionState, SmtpEnvelopeState), ...]`, oldest first.
    fn messages(&self, py: Python<'_>) -> PyResult<Vec<(SmtpSessionState, SmtpEnvelopeState)>> {
        let stored = self.inner.messages();
        stored
            .iter()
            .map(|m| {
                Ok((
                    SmtpSessionState::new(&m.session),
                    SmtpEnvelopeState::new(py, &m.envelope, true)?,
                ))
            })
            .collect()
    }

    #[getter]
    fn count(&self) -> u64 {
        self.inner.count()
    }

    #[getter]
    fn maxlen(&self) -> Option<usize> {
        self.inner.maxlen()
    }

    fn clear(&self) {
        self.inner.clear();
    }
}

/// The server core (`mailprims.SmtpServer` wraps it).
#[pyclass(module = "mailprims._mailprims", frozen)]
struct SmtpServerCore {
    server: Arc<Server>,
    handle: ServerHandle,
}

fn secs(v: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            PyValueError::new_err(format!("{what} must be a positive number of seconds"))
        })
}

server_pymethods! {
impl SmtpServerCore {
    #[new]
    #[pyo3(signature = (
        host, port, *, hostname, max_message_size, max_recipients, max_connections,
        max_line_length, timeout, data_timeout, shutdown_grace, tls_cert=None, tls_key=None,
        require_starttls=false, auth_require_tls=true, submission=false, domains=None,
        sink=None, dispatch=None, hooks=Vec::new(), authenticator=None, store=None, users=None,
        on_event=None, max_connections_per_address=Some(50), max_junk_commands=Some(100),
        transaction_timeout=Some(1800.0), auth_failure_delay=2.0, auth_failure_limit=Some(10),
        auth_failure_window=300.0, max_errors=20, verify=None, dmarc_reject=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        hostname: String,
        max_message_size: Option<u64>,
        max_recipients: usize,
        max_connections: usize,
        max_line_length: usize,
        timeout: f64,
        data_timeout: f64,
        shutdown_grace: f64,
        tls_cert: Option<Vec<u8>>,
        tls_key: Option<Vec<u8>>,
        require_starttls: bool,
        auth_require_tls: bool,
        submission: bool,
        domains: Option<Vec<String>>,
        sink: Option<PyRef<'_, SmtpSink>>,
        dispatch: Option<Py<PyAny>>,
        hooks: Vec<String>,
        authenticator: Option<Py<PyAny>>,
        store: Option<PyRef<'_, PyMaildirStore>>,
        users: Option<PyRef<'_, PyUsers>>,
        on_event: Option<Py<PyAny>>,
        max_connections_per_address: Option<usize>,
        max_junk_commands: Option<usize>,
        transaction_timeout: Option<f64>,
        auth_failure_delay: f64,
        auth_failure_limit: Option<u32>,
        auth_failure_window: f64,
        max_errors: usize,
        verify: Option<PyRef<'_, PyVerifier>>,
        dmarc_reject: bool,
    ) -> PyResult<Self> {
        at_least(512, "must be at least 512 (RFC 5321 §4.5.3.1.4)", &[(
            "max_line_length",
            max_line_length as u64,
        )])?;
        at_least(1, "must be positive", &[
            ("max_recipients", max_recipients as u64),
            ("max_connections", max_connections as u64),
        ])?;
        let tls = server_tls(py, tls_cert, tls_key)?;
        needs_tls("require_starttls", require_starttls, &tls)?;
        let config = Config {
            hostname,
            max_message_size,
            max_recipients,
            max_connections,
            max_line_length,
            timeout: secs(timeout, "timeout")?,
            data_timeout: secs(data_timeout, "data_timeout")?,
            tls,
            require_starttls,
            auth_require_tls,
            submission,
            shutdown_grace: secs(shutdown_grace, "shutdown_grace")?,
            max_connections_per_address: positive_count(
                max_connections_per_address,
                "max_connections_per_address",
            )?,
            max_junk_commands,
            max_errors: max_errors.max(1),
            transaction_timeout: transaction_timeout
                .map(|t| secs(t, "transaction_timeout"))
                .transpose()?,
            auth_failure_delay: non_negative_secs(auth_failure_delay, "auth_failure_delay")?,
            auth_budget: AuthBudget {
                failures: positive_count(auth_failure_limit, "auth_failure_limit")?,
                window: secs(auth_failure_window, "auth_failure_window")?,
            },
        };
        if submission && authenticator.is_none() && users.is_none() {
            return Err(PyValueError::new_err(
                "submission mode needs an authenticator (or users=)",
            ));
        }
        if dmarc_reject && verify.is_none() {
            return Err(PyValueError::new_err(
                "dmarc_reject needs verify= (a mailprims.auth.Verifier)",
            ));
        }
        let mut server = Server::new(config);
        server.verification = verify.map(|v| Verification {
            verifier: v.core().clone(),
            dmarc_reject,
        });
        if let Some(u) = &users {
            // Guesses count against the address wherever these accounts are checked.
            server.auth_failures = u.auth_failures();
        }
        let has_sink = sink.is_some();
        if let Some(sink) = sink {
            server.deliverer = Some(sink.inner.clone());
        }
        let present: Vec<Hook> = ALL_HOOKS
            .into_iter()
            .filter(|h| hooks.iter().any(|n| n == hook_name(*h)))
            .collect();
        // Relayed mail needs something to carry it on: a DATA hook, or the test sink that
        // takes everything.
        server.relay_allowed = has_sink || present.contains(&Hook::Data);
        if let Some(dispatch) = dispatch {
            server.hooks = Some(Arc::new(PyHooks {
                dispatch: Arc::new(dispatch),
                present,
            }));
        }
        if let Some(func) = authenticator {
            server.authenticator = Some(Arc::new(PyAuthenticator {
                func: Arc::new(func),
            }));
        }
        let domains: Option<Vec<String>> =
            domains.map(|d| d.into_iter().map(|d| d.to_lowercase()).collect());
        let accounts = match (&users, &store) {
            (Some(u), _) => Some(Accounts::Users {
                db: u.shared(),
                domains: domains.clone().unwrap_or_default(),
            }),
            (None, Some(s)) => Some(Accounts::Store {
                store: s.store().clone(),
                domains: domains.clone(),
            }),
            (None, None) => None,
        };
        if let Some(accounts) = accounts {
            if let Some(s) = &store {
                if server.deliverer.is_some() {
                    return Err(PyValueError::new_err(
                        "give either a Sink handler or a store",
                    ));
                }
                server.deliverer = Some(Arc::new(StoreDelivery {
                    store: s.store().clone(),
                    accounts: accounts.clone(),
                }));
            }
            if users.is_some() && server.authenticator.is_none() {
                server.authenticator = Some(Arc::new(accounts.clone()));
            }
            server.directory = Some(Arc::new(accounts));
        } else if let Some(domains) = domains {
            server.directory = Some(Arc::new(Domains(domains)));
        }
        let (events, log) = event_log(on_event);
        server.events = log;
        Ok(Self {
            server: Arc::new(server),
            handle: ServerHandle::new(host, port, events),
        })
    }

    /// Bind and start accepting; returns the port.
    fn start(&self, py: Python<'_>) -> PyResult<u16> {
        let server = self.server.clone();
        self.handle.start(
            py,
            |host, port| async move { server.start(&host, port).await },
        )
    }
}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SmtpSessionState>()?;
    m.add_class::<SmtpEnvelopeState>()?;
    m.add_class::<SmtpSink>()?;
    m.add_class::<SmtpServerCore>()?;
    Ok(())
}
