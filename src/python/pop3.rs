//! Bindings for POP3 (`crate::pop3`). The client core wraps one connection; the sync and
//! async clients drive the same core, made in either `Mode` (the pattern of `client.rs`). The
//! server core serves a `MaildirStore` to the accounts of a `Users`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::client::{
    ClientCore, SessionView, client_connection, client_pymethods, one_of, with_conn,
};
use super::server::{
    ServerHandle, delay_secs, event_log, mailbox_tls, maildir_store, positive_count, required_secs,
    server_pymethods, session_limits, users_arg,
};
use crate::pop3::client::{ClientConfig, Connection, LoginMethod};
use crate::pop3::maildrop::StoreBackend;
use crate::pop3::server::{self, ServerConfig};
use crate::pop3::{Error, Status};

/// What an operation gives Python.
enum Value {
    None,
    Text(String),
    Int(u64),
    Stat(u32, u64),
    Bytes(Vec<u8>),
    BytesList(Vec<Vec<u8>>),
    /// `{number: octets}`
    Sizes(Vec<(u32, u64)>),
    /// `{number: uid}`
    Uids(Vec<(u32, String)>),
    /// `{capability: arguments}`
    Caps(Vec<(String, Vec<String>)>),
}

impl<'py> IntoPyObject<'py> for Value {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Value::None => py.None().into_bound(py),
            Value::Text(t) => t.into_bound_py_any(py)?,
            Value::Int(n) => n.into_bound_py_any(py)?,
            Value::Stat(n, s) => (n, s).into_bound_py_any(py)?,
            Value::Bytes(b) => PyBytes::new(py, &b).into_any(),
            Value::BytesList(list) => {
                let out = PyList::empty(py);
                for b in list {
                    out.append(PyBytes::new(py, &b))?;
                }
                out.into_any()
            }
            Value::Sizes(v) => dict(py, v)?,
            Value::Uids(v) => dict(py, v)?,
            Value::Caps(v) => dict(py, v)?,
        })
    }
}

/// A dict in the server's order (a repeated key: the last wins, as `dict(pairs)` does).
fn dict<'py, K, V>(py: Python<'py>, pairs: Vec<(K, V)>) -> PyResult<Bound<'py, PyAny>>
where
    K: IntoPyObject<'py>,
    V: IntoPyObject<'py>,
{
    let out = PyDict::new(py);
    for (k, v) in pairs {
        out.set_item(k, v)?;
    }
    Ok(out.into_any())
}

/// What Python can ask about the connection without waiting for it (`Pop3Client.connected`,
/// `.welcome`, `.tls_version`...).
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
#[derive(Default, Clone)]
pub struct Pop3SessionInfo {
    connected: bool,
    /// The greeting's text (after `+OK`), None before connecting.
    greeting: Option<String>,
    /// The `<...>` timestamp of the greeting that APOP signs.
    apop_timestamp: Option<String>,
    tls_version: Option<String>,
    tls_cipher: Option<String>,
    authenticated: bool,
}

impl SessionView for Pop3SessionInfo {
    type Connection = Connection;
    type Error = Error;

    /// Never connected (so not logged in either), or closed since.
    fn no_connection(&self) -> Error {
        if self.greeting.is_none() {
            Error::NotConnected
        } else {
            Error::Closed
        }
    }

    fn of(conn: Option<&Connection>, previous: &Pop3SessionInfo) -> Pop3SessionInfo {
        match conn {
            Some(c) => {
                let tls = c.tls_info();
                Pop3SessionInfo {
                    connected: c.is_open(),
                    greeting: Some(c.greeting().text.clone()),
                    apop_timestamp: c.apop_timestamp().map(str::to_owned),
                    tls_version: tls.as_ref().map(|t| t.version.clone()),
                    tls_cipher: tls.map(|t| t.cipher),
                    authenticated: c.is_authenticated(),
                }
            }
            None => Pop3SessionInfo {
                connected: false,
                ..previous.clone()
            },
        }
    }
}

/// The core of `Pop3Client` and `AsyncPop3Client`: one POP3 connection.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct Pop3ClientCore {
    base: ClientCore<Pop3SessionInfo>,
}

client_connection!(Connection, ClientConfig, Error);

fn text(status: Status) -> Value {
    Value::Text(status.text)
}

client_pymethods! {
impl Pop3ClientCore(Pop3SessionInfo) {
    /// `options`: a `mailprims.pop3._Pop3Options`; `blocking`: the sync client's core.
    #[new]
    fn new(options: &Bound<'_, PyAny>, blocking: bool) -> PyResult<Self> {
        let base = ClientCore::new(options, blocking, |config: &mut ClientConfig| {
            config.max_message_size = options.getattr("max_message_size")?.extract()?;
            Ok(())
        })?;
        Ok(Pop3ClientCore { base })
    }

    fn capa(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.capa().await.map(|caps| Value::Caps(caps.0)))
    }

    fn stls(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.stls().await.map(text))
    }

    #[pyo3(signature = (user, password, method="auto"))]
    fn login(
        &self,
        py: Python<'_>,
        user: String,
        password: String,
        method: &str,
    ) -> PyResult<Py<PyAny>> {
        let method = one_of("mechanism", method, &[
            ("auto", LoginMethod::Auto),
            ("user", LoginMethod::UserPass),
            ("plain", LoginMethod::Plain),
        ])?;
        with_conn!(self, py, |c| c
            .login(&user, &password, method)
            .await
            .map(text))
    }

    fn apop(&self, py: Python<'_>, user: String, secret: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.apop(&user, &secret).await.map(text))
    }

    fn stat(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.stat().await.map(|(n, s)| Value::Stat(n, s)))
    }

    fn list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.list().await.map(Value::Sizes))
    }

    fn list_one(&self, py: Python<'_>, msg: u32) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.list_one(msg).await.map(Value::Int))
    }

    fn uidl(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.uidl().await.map(Value::Uids))
    }

    fn uidl_one(&self, py: Python<'_>, msg: u32) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.uidl_one(msg).await.map(Value::Text))
    }

    fn retr(&self, py: Python<'_>, msg: u32) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.retr(msg).await.map(Value::Bytes))
    }

    #[pyo3(signature = (msgs, size_hints=None))]
    fn retr_many(
        &self,
        py: Python<'_>,
        msgs: Vec<u32>,
        size_hints: Option<Vec<u64>>,
    ) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c
            .retr_many(&msgs, size_hints.as_deref())
            .await
            .map(Value::BytesList))
    }

    fn top(&self, py: Python<'_>, msg: u32, lines: u64) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.top(msg, lines).await.map(Value::Bytes))
    }

    fn dele(&self, py: Python<'_>, msg: u32) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.dele(msg).await.map(text))
    }

    fn dele_many(&self, py: Python<'_>, msgs: Vec<u32>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.dele_many(&msgs).await.map(|()| Value::None))
    }

    fn rset(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.rset().await.map(text))
    }

    fn noop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.noop().await.map(text))
    }

    fn quit(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.quit().await.map(text))
    }

}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pop3ClientCore>()?;
    m.add_class::<Pop3SessionInfo>()?;
    m.add_class::<Pop3ServerCore>()?;
    Ok(())
}

// ---- the server ----------------------------------------------------------------------------

/// The core of `Pop3Server`: the configured server and, once started, its accept loop.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct Pop3ServerCore {
    backend: Arc<StoreBackend>,
    config: Arc<ServerConfig>,
    handle: ServerHandle,
}

server_pymethods! {
impl Pop3ServerCore {
    #[new]
    #[pyo3(signature = (host, port, *, store, users, hostname, tls_cert=None, tls_key=None,
        implicit_tls=false, allow_insecure_auth=false, timeout=600.0, auth_failure_delay=2.0,
        max_auth_failures=3, max_errors=20, max_connections=1000, shutdown_grace=30.0,
        on_event=None, max_connections_per_address=Some(50), max_junk_commands=Some(100),
        auth_failure_limit=Some(10), auth_failure_window=300.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        store: &Bound<'_, PyAny>,
        users: &Bound<'_, PyAny>,
        hostname: String,
        tls_cert: Option<Vec<u8>>,
        tls_key: Option<Vec<u8>>,
        implicit_tls: bool,
        allow_insecure_auth: bool,
        timeout: f64,
        auth_failure_delay: f64,
        max_auth_failures: u32,
        max_errors: u32,
        max_connections: usize,
        shutdown_grace: f64,
        on_event: Option<Py<PyAny>>,
        max_connections_per_address: Option<usize>,
        max_junk_commands: Option<u32>,
        auth_failure_limit: Option<u32>,
        auth_failure_window: f64,
    ) -> PyResult<Self> {
        let store = maildir_store(store)?;
        let users = users_arg(users, "a mailprims.Users")?;
        // Guesses count against the address wherever these accounts are checked.
        let auth_failures = users.auth_failures();
        let users = users.shared();
        let tls = mailbox_tls(py, tls_cert, tls_key, implicit_tls)?;
        session_limits(max_auth_failures, max_errors, max_connections)?;
        let idle_timeout = required_secs(timeout, "timeout")?;
        let auth_failure_delay = delay_secs(auth_failure_delay, "auth_failure_delay")?;
        let config = ServerConfig {
            hostname,
            tls,
            implicit_tls,
            idle_timeout,
            auth_failure_delay,
            max_auth_failures,
            max_errors,
            max_connections,
            allow_insecure_auth,
            shutdown_grace: required_secs(shutdown_grace, "shutdown_grace")?,
            max_connections_per_address: positive_count(
                max_connections_per_address,
                "max_connections_per_address",
            )?,
            max_junk_commands,
            auth_budget: crate::net::limits::AuthBudget {
                failures: positive_count(auth_failure_limit, "auth_failure_limit")?,
                window: required_secs(auth_failure_window, "auth_failure_window")?,
            },
            auth_failures,
            ..ServerConfig::default()
        };
        let (events, log) = event_log(on_event);
        let config = ServerConfig {
            events: log,
            ..config
        };
        let backend = StoreBackend {
            store,
            users,
            // Idle sessions do not refresh their lock; it must outlive the idle timeout.
            stale_after: idle_timeout + Duration::from_secs(300),
        };
        Ok(Self {
            backend: Arc::new(backend),
            config: Arc::new(config),
            handle: ServerHandle::new(host, port, events),
        })
    }

    /// Bind and start accepting; returns the port.
    fn start(&self, py: Python<'_>) -> PyResult<u16> {
        let (backend, config) = (self.backend.clone(), self.config.clone());
        self.handle.start(py, |host, port| async move {
            server::start(&host, port, backend, config).await
        })
    }
}
}
