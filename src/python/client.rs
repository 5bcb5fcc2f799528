//! What every client binding (SMTP, POP3, and the next one) is assembled from; a new client
//! adds its own operations and copies none of this.
//!
//! **Options.** The Python wrapper builds one frozen options object
//! (`mailprims._client.ClientOptions`, or a protocol's subclass adding its own fields) and
//! passes it to the core's constructor. [`ClientOptions`] reads the fields every client has
//! (attribute by attribute: `#[derive(FromPyObject)]`) and makes the `net::Endpoint` of the
//! protocol's configuration; a protocol's own `#[derive(FromPyObject)]` struct reads its extra
//! fields from the same object.
//!
//! **Sync and async.** A core is made with `blocking` (true for `XClient`, false for
//! `AsyncXClient`) and keeps it as a [`Mode`]. Each operation is *one* `#[pymethods]` method:
//! it checks its arguments, builds a `Send + 'static` future that owns what it needs and
//! resolves to `Result<T, E>`, and returns `self.mode.run(py, future)`: the value itself for a
//! blocking core (the calling thread waits with the GIL released, Ctrl-C cancels), an asyncio
//! awaitable for an async one (cancelling it drops the future). `T: IntoPyObject` becomes the
//! Python value (a core type without that impl goes in a [`Converted`] with its conversion
//! function) and `E: IntoPyErr` the protocol's exception, both where the GIL is held: on the
//! calling thread, or on the event loop's thread for async calls. For example:
//!
//! ```ignore
//! fn noop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
//!     // the connection taken from `self.base.shared`, run through `self.base.mode`
//!     with_conn!(self, py, |c| c.noop().await)
//! }
//! ```
//!
//! **The core.** A protocol's `#[pyclass]` holds a [`ClientCore`] as `base` (its configuration,
//! the connection slot with the session view, the mode) and writes its methods inside
//! [`client_pymethods`], which adds `transcript`, `connect`, `info` and `close`; its
//! connection type gets [`ClientConnection`] from [`client_connection`].
//!
//! The two Python classes share a base holding `_core`, differing only in `_blocking` and
//! in `await`:
//!
//! ```python
//! class ImapClient(_ImapBase):          class AsyncImapClient(_ImapBase):
//!     _blocking = True                      _blocking = False
//!     def noop(self) -> str:                async def noop(self) -> str:
//!         return self._core.noop()              return await self._core.noop()
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::errors::{IntoPyErr, listed};
use super::runtime::{awaitable, block_on, runtime};
use super::transcript::ClientTranscript;
use crate::net::tls::Trust;
use crate::net::transcript::Transcript;
use crate::net::{Endpoint, TlsMode};

/// A duration given in seconds: finite and positive (or zero, where `allow_zero`).
pub fn checked_seconds(value: f64, allow_zero: bool) -> Option<Duration> {
    (value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0)))
        .then(|| Duration::from_secs_f64(value))
}

/// `None`, or a positive number of seconds.
pub fn seconds(value: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            checked_seconds(s, false).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{what} must be a positive number of seconds or None, not {s}"
                ))
            })
        })
        .transpose()
}

/// The choice named `value` among `choices` (an argument such as `method="plain"`).
pub fn one_of<T: Copy>(what: &str, value: &str, choices: &[(&str, T)]) -> PyResult<T> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, choice)| choice)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            not_one_of(what, &names, value)
        })
}

/// `ValueError: <what> must be 'a', 'b' or 'c', not 'd'`.
pub fn not_one_of(what: &str, names: &[&str], got: &str) -> PyErr {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let choices = listed(&quoted, "or");
    PyValueError::new_err(format!("{what} must be {choices}, not {got:?}"))
}

fn tls_mode(value: &Bound<'_, PyAny>) -> PyResult<TlsMode> {
    value
        .extract::<String>()?
        .parse()
        .map_err(|e: crate::net::client::UnknownTlsMode| PyValueError::new_err(e.to_string()))
}

/// The options every client takes (`mailprims._client.ClientOptions`), read by attribute name.
#[derive(FromPyObject)]
pub struct ClientOptions {
    host: String,
    port: u16,
    /// The core's mode: the wrapper has already resolved `"auto"` for its protocol's port.
    #[pyo3(from_py_with = tls_mode)]
    tls: TlsMode,
    /// PEM trust anchors, from `cafile=` or `cadata=`.
    cadata: Option<Vec<u8>>,
    verify: bool,
    tls_hostname: Option<String>,
    allow_insecure_auth: bool,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    transcript: bool,
}

impl ClientOptions {
    /// The endpoint these options describe (timeouts checked).
    pub fn endpoint(self) -> PyResult<Endpoint> {
        let mut endpoint = Endpoint::new(self.host, self.port);
        endpoint.tls = self.tls;
        endpoint.trust = match (self.verify, self.cadata) {
            (false, _) => Trust::Insecure,
            (true, Some(pem)) => Trust::CaPem(pem),
            (true, None) => Trust::System,
        };
        endpoint.tls_name = self.tls_hostname;
        endpoint.allow_insecure_auth = self.allow_insecure_auth;
        let timeout = seconds(self.timeout, "timeout")?;
        endpoint.io_timeout = timeout;
        endpoint.connect_timeout = seconds(self.connect_timeout, "connect_timeout")?.or(timeout);
        endpoint.transcript = self.transcript.then(|| Arc::new(Transcript::new()));
        Ok(endpoint)
    }
}

/// What a client core needs of its protocol's connection: how it is configured and opened,
/// whether it is still open, and its greeting.
pub trait ClientConnection: Sized + Send + 'static {
    /// The protocol's client configuration (an `Endpoint` and its own settings).
    type Config: Send + Sync + 'static;
    /// The protocol's error.
    type Error: IntoPyErr + Send + 'static;

    /// The configuration with the protocol's defaults around `endpoint`.
    fn config(endpoint: Endpoint) -> Self::Config;
    fn endpoint(config: &Self::Config) -> &Endpoint;
    fn connect(
        config: Arc<Self::Config>,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send + 'static;
    fn is_open(&self) -> bool;
    /// The greeting's text, which `connect` returns.
    fn greeting_text(&self) -> String;
    /// The error for `connect` on an open connection.
    fn already_connected() -> Self::Error;
}

/// `client_connection!(Connection, ClientConfig, Error)`: `impl ClientConnection` for a
/// protocol client whose `Connection` has `connect(Arc<ClientConfig>)`, `is_open()` and a
/// `greeting()` with a `text`, whose `ClientConfig` has `with_endpoint` and an `endpoint`,
/// and whose `Error` has `Usage` (POP3's and IMAP's have).
macro_rules! client_connection {
    ($conn:ident, $config:ident, $error:ident) => {
        impl $crate::python::client::ClientConnection for $conn {
            type Config = $config;
            type Error = $error;

            fn config(endpoint: $crate::net::Endpoint) -> $config {
                $config::with_endpoint(endpoint)
            }

            fn endpoint(config: &$config) -> &$crate::net::Endpoint {
                &config.endpoint
            }

            fn connect(
                config: ::std::sync::Arc<$config>,
            ) -> impl ::std::future::Future<Output = Result<$conn, $error>> + Send + 'static {
                $conn::connect(config)
            }

            fn is_open(&self) -> bool {
                $conn::is_open(self)
            }

            fn greeting_text(&self) -> String {
                self.greeting().text.clone()
            }

            fn already_connected() -> $error {
                $error::Usage("already connected".into())
            }
        }
    };
}
pub(crate) use client_connection;

/// What a client core shows of its session (`info()`, a frozen pyclass), made from the
/// connection after each operation.
pub trait SessionView: Default + Clone + Send + 'static {
    type Connection: ClientConnection<Error = Self::Error>;
    /// The protocol's error.
    type Error: IntoPyErr + Send + 'static;

    /// The error for an operation with no connection in the slot.
    fn no_connection(&self) -> Self::Error;

    /// The view of `conn`, or (no connection) of `previous` with `connected` false.
    fn of(conn: Option<&Self::Connection>, previous: &Self) -> Self;
}

/// A client core's one connection, in the slot operations take it out of (see
/// [`with_conn`]), and the session view last made of it, readable without waiting.
pub struct Shared<V: SessionView> {
    pub conn: tokio::sync::Mutex<Option<V::Connection>>,
    info: Mutex<V>,
}

impl<V: SessionView> Shared<V> {
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            conn: tokio::sync::Mutex::new(None),
            info: Mutex::new(V::default()),
        })
    }

    pub fn set_info(&self, conn: Option<&V::Connection>) {
        if let Ok(mut info) = self.info.lock() {
            *info = V::of(conn, &info);
        }
    }

    /// The error for an operation that finds no connection.
    pub fn missing(&self) -> V::Error {
        self.info().no_connection()
    }

    /// The session view, without waiting for a running operation.
    pub fn info(&self) -> V {
        self.info.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// Drop the connection without a goodbye. Never waits: while an operation runs, the
    /// connection goes when it finishes or fails.
    pub fn close(self: &Arc<Self>) {
        let taken = match self.conn.try_lock() {
            Ok(mut slot) => {
                slot.take();
                true
            }
            Err(_) => false,
        };
        if taken {
            self.set_info(None);
        } else {
            let shared = self.clone();
            runtime().spawn(async move {
                shared.conn.lock().await.take();
                shared.set_info(None);
            });
        }
    }
}

/// The configuration of a client core's connections.
pub type ConfigOf<V> = <<V as SessionView>::Connection as ClientConnection>::Config;

/// What every client core holds (the `base` field of `ImapClientCore`, `Pop3ClientCore`):
/// its configuration, its one connection with the session view, and its `Mode`; and the
/// operations every client has, which [`client_pymethods`] forwards here.
pub struct ClientCore<V: SessionView> {
    pub config: Arc<ConfigOf<V>>,
    pub shared: Arc<Shared<V>>,
    pub mode: Mode,
}

impl<V: SessionView> ClientCore<V> {
    /// A core from the wrapper's options object (see [`ClientOptions`]); `configure` reads
    /// the protocol's own fields into the configuration.
    pub fn new(
        options: &Bound<'_, PyAny>,
        blocking: bool,
        configure: impl FnOnce(&mut ConfigOf<V>) -> PyResult<()>,
    ) -> PyResult<Self> {
        let mut config = V::Connection::config(options.extract::<ClientOptions>()?.endpoint()?);
        configure(&mut config)?;
        Ok(ClientCore {
            config: Arc::new(config),
            shared: Shared::new(),
            mode: Mode::new(blocking),
        })
    }

    pub fn transcript(&self) -> ClientTranscript {
        ClientTranscript::new(V::Connection::endpoint(&self.config).transcript.as_ref())
    }

    /// Connect (and secure the session as configured); the greeting's text.
    pub fn connect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let shared = self.shared.clone();
        let config = self.config.clone();
        self.mode.run(py, async move {
            let mut slot = shared.conn.lock().await;
            if slot.as_ref().is_some_and(V::Connection::is_open) {
                return Err(V::Connection::already_connected());
            }
            let conn = V::Connection::connect(config).await?;
            let greeting = conn.greeting_text();
            shared.set_info(Some(&conn));
            *slot = Some(conn);
            Ok(greeting)
        })
    }
}

/// `client_pymethods! { impl Core(SessionInfo) { ... } }`: `#[pymethods] impl Core { ... }`
/// with the methods every client core forwards to its `base: ClientCore<SessionInfo>`
/// (transcript, connect, info, close) added after the protocol's own. A macro for the
/// reason of `server_pymethods`: a pyclass has one `#[pymethods]` block.
macro_rules! client_pymethods {
    (impl $core:ident($info:ty) { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $core {
            $($own)*

            /// The lines recorded with `transcript=True`.
            #[getter]
            fn transcript(&self) -> $crate::python::transcript::ClientTranscript {
                self.base.transcript()
            }

            /// Connect (and secure the session as configured); returns the greeting's text.
            fn connect(
                &self,
                py: ::pyo3::Python<'_>,
            ) -> ::pyo3::PyResult<::pyo3::Py<::pyo3::PyAny>> {
                self.base.connect(py)
            }

            /// Connection state, without waiting for a running operation.
            fn info(&self) -> $info {
                self.base.shared.info()
            }

            /// Close without the protocol's goodbye (nothing a POP3 QUIT would commit is
            /// committed, RFC 1939 §6). Never waits.
            fn close(&self) {
                self.base.shared.close();
            }
        }
    };
}
pub(crate) use client_pymethods;

/// `with_conn!(self, py, |c| body)`: run `body` (an `async` block's contents returning
/// `Result<T, Error>`, the protocol's error) with the connection
/// of `self.base.shared` taken out of its slot, through `self.base.mode`. A future dropped midway
/// (Ctrl-C, asyncio cancellation) takes the connection with it rather than leave it half-way
/// through a response; after a fatal error it is not put back either.
macro_rules! with_conn {
    ($self:ident, $py:ident, |$c:ident| $body:expr) => {{
        let shared = $self.base.shared.clone();
        $self.base.mode.run($py, async move {
            let mut slot = shared.conn.lock().await;
            let mut $c = slot.take().ok_or_else(|| shared.missing())?;
            let result = $body;
            shared.set_info(Some(&$c));
            if $c.is_open() {
                *slot = Some($c);
            }
            result
        })
    }};
}
pub(crate) use with_conn;

/// How a client core's operations return: the value, or an awaitable of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The sync client: wait here, with the GIL released.
    Blocking,
    /// The asyncio client: an awaitable on the running event loop.
    Async,
}

impl Mode {
    pub fn new(blocking: bool) -> Mode {
        if blocking {
            Mode::Blocking
        } else {
            Mode::Async
        }
    }

    /// Run one operation of a client core.
    pub fn run<T, E, F>(self, py: Python<'_>, operation: F) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: for<'py> IntoPyObject<'py> + Send + 'static,
        E: IntoPyErr,
    {
        match self {
            Mode::Blocking => Completed(block_on(py, operation)?).into_py_any(py),
            Mode::Async => {
                awaitable(py, async move { Ok(Completed(operation.await)) }).map(Bound::unbind)
            }
        }
    }
}

/// A core value and the function that makes its Python object, for core types that do not
/// implement `IntoPyObject` themselves: `future.await.map(|v| Converted(v, to_python))`.
pub struct Converted<T>(
    pub T,
    pub for<'py> fn(Python<'py>, T) -> PyResult<Bound<'py, PyAny>>,
);

impl<'py, T> IntoPyObject<'py> for Converted<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        (self.1)(py, self.0)
    }
}

/// A finished operation, converted to Python where the GIL is held.
struct Completed<T, E>(Result<T, E>);

impl<'py, T, E> IntoPyObject<'py> for Completed<T, E>
where
    T: IntoPyObject<'py>,
    E: IntoPyErr,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => value.into_bound_py_any(py),
            Err(e) => Err(e.into_py_err(py)),
        }
    }
}
