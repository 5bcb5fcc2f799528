//! What the server bindings (SMTP, POP3, IMAP, the web inbox) share: where to listen, the
//! running server and its event log (each `#[pymethods]` block forwards its life-cycle methods
//! here), and the checks of their constructors' common arguments (store, users, TLS pair,
//! limits, durations), so each message is written once.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::client::seconds;
use super::errors::{listed, net_error};
use super::events::PyEventLog;
use super::runtime::{awaitable, block_on};
use super::store::{PyMaildirStore, PyUsers};
use crate::net::NetError;
use crate::net::events::EventLog;
use crate::net::shutdown::Running;
use crate::net::tls;
use crate::store::MaildirStore;

/// How long `stop` waits for the event log to reach Python.
const EVENT_FLUSH: Duration = Duration::from_secs(5);

pub struct ServerHandle {
    pub events: Option<Arc<PyEventLog>>,
    pub host: String,
    port: u16,
    running: Mutex<Option<Arc<Running>>>,
}

impl ServerHandle {
    pub fn new(host: String, port: u16, events: Option<Arc<PyEventLog>>) -> Self {
        ServerHandle {
            events,
            host,
            port,
            running: Mutex::new(None),
        }
    }

    fn current(&self) -> PyResult<Option<Arc<Running>>> {
        self.running
            .lock()
            .map(|r| r.clone())
            .map_err(|_| PyRuntimeError::new_err("server state poisoned"))
    }

    /// Bind with `start(host, port)` and start accepting; returns the port. Starting a
    /// running server returns its port; a stopped one cannot start again.
    pub fn start<F, Fut>(&self, py: Python<'_>, start: F) -> PyResult<u16>
    where
        F: FnOnce(String, u16) -> Fut,
        Fut: Future<Output = Result<Running, NetError>> + Send + 'static,
    {
        let mut running = self
            .running
            .lock()
            .map_err(|_| PyRuntimeError::new_err("server state poisoned"))?;
        if let Some(r) = running.as_ref() {
            if r.is_stopping() {
                return Err(PyRuntimeError::new_err(
                    "the server was stopped; create a new one",
                ));
            }
            return Ok(r.local_addr.port());
        }
        let started =
            block_on(py, start(self.host.clone(), self.port))?.map_err(|e| net_error(py, e))?;
        let port = started.local_addr.port();
        *running = Some(Arc::new(started));
        Ok(port)
    }

    /// Stop the server (if it runs), then wait for its event log.
    fn stopping(&self) -> PyResult<impl Future<Output = ()> + Send + 'static> {
        let (r, events) = (self.current()?, self.events.clone());
        Ok(async move {
            if let Some(r) = r {
                r.stop().await;
                if let Some(e) = events {
                    e.flush(EVENT_FLUSH).await;
                }
            }
        })
    }

    pub fn stop(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, self.stopping()?)
    }

    pub fn stop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stopping = self.stopping()?;
        awaitable(py, async move {
            stopping.await;
            Ok(())
        })
    }

    pub fn flush_events(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let Some(events) = self.events.clone() else {
            return Ok(());
        };
        let limit = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyValueError::new_err("timeout must be a non-negative number"))?;
        block_on(py, async move { events.flush(limit).await })
    }

    pub fn events_dropped(&self) -> u64 {
        self.events.as_ref().map_or(0, |e| e.dropped())
    }

    pub fn wait_stopped<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self
            .current()?
            .ok_or_else(|| PyRuntimeError::new_err("the server is not started"))?;
        awaitable(py, async move {
            r.stopped().await;
            Ok(())
        })
    }

    pub fn port(&self) -> PyResult<Option<u16>> {
        Ok(self.current()?.map(|r| r.local_addr.port()))
    }

    /// Open connections (the accept loop, counted as a task while it runs, is not one).
    pub fn active_connections(&self) -> PyResult<usize> {
        Ok(self.current()?.map_or(0, |r| {
            r.active_tasks()
                .saturating_sub(usize::from(!r.is_stopping()))
        }))
    }
}

/// Seconds that may be zero (no wait).
pub(crate) fn non_negative_secs(v: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        PyValueError::new_err(format!("{what} must be a non-negative number of seconds"))
    })
}

/// A limit that is a positive count, or None for no limit.
pub(crate) fn positive_count<T: PartialEq + Default>(
    v: Option<T>,
    what: &str,
) -> PyResult<Option<T>> {
    match v {
        Some(n) if n == T::default() => Err(PyValueError::new_err(format!(
            "{what} must be positive (None for no limit)"
        ))),
        other => Ok(other),
    }
}

/// The `store=` argument: a `mailprims.MaildirStore`.
pub(crate) fn maildir_store(store: &Bound<'_, PyAny>) -> PyResult<MaildirStore> {
    Ok(store
        .cast::<PyMaildirStore>()
        .map_err(|_| PyTypeError::new_err("store must be a mailprims.MaildirStore"))?
        .get()
        .store()
        .clone())
}

/// The `users=` argument: a `mailprims.Users` (`expected` says what else is accepted, for the
/// message: `"a mailprims.Users"`, `"a mailprims.Users or None"`).
pub(crate) fn users_arg<'a>(users: &'a Bound<'_, PyAny>, expected: &str) -> PyResult<&'a PyUsers> {
    Ok(users
        .cast::<PyUsers>()
        .map_err(|_| PyTypeError::new_err(format!("users must be {expected}")))?
        .get())
}

/// The server's TLS configuration: `tls_cert` and `tls_key` (PEM) given together, or neither.
pub(crate) fn server_tls(
    py: Python<'_>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
) -> PyResult<Option<Arc<rustls::ServerConfig>>> {
    match (cert, key) {
        (Some(cert), Some(key)) => tls::server_config(&cert, &key)
            .map(Some)
            .map_err(|e| net_error(py, e)),
        (None, None) => Ok(None),
        _ => Err(PyValueError::new_err(
            "tls_cert and tls_key must be given together",
        )),
    }
}

/// An option that is on (`implicit_tls`, `require_starttls`) needs the TLS pair.
pub(crate) fn needs_tls<T>(option: &str, on: bool, tls: &Option<T>) -> PyResult<()> {
    if on && tls.is_none() {
        return Err(PyValueError::new_err(format!(
            "{option} needs tls_cert and tls_key"
        )));
    }
    Ok(())
}

/// The TLS of a mailbox server (POP3, IMAP): the pair, which `implicit_tls` needs.
pub(crate) fn mailbox_tls(
    py: Python<'_>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    implicit_tls: bool,
) -> PyResult<Option<Arc<rustls::ServerConfig>>> {
    let tls = server_tls(py, cert, key)?;
    needs_tls("implicit_tls", implicit_tls, &tls)?;
    Ok(tls)
}

/// The limits of a mailbox server's (POP3, IMAP) sessions, each at least 1.
pub(crate) fn session_limits(
    max_auth_failures: u32,
    max_errors: u32,
    max_connections: usize,
) -> PyResult<()> {
    at_least(
        1,
        "must be at least 1",
        &[
            ("max_auth_failures", max_auth_failures.into()),
            ("max_errors", max_errors.into()),
            ("max_connections", max_connections as u64),
        ],
    )
}

/// Counts and sizes that must be at least `min`, refused together with one message naming
/// them all: `"a, b and c {requirement}"`.
pub(crate) fn at_least(min: u64, requirement: &str, limits: &[(&str, u64)]) -> PyResult<()> {
    if limits.iter().all(|&(_, value)| value >= min) {
        return Ok(());
    }
    let names: Vec<&str> = limits.iter().map(|&(name, _)| name).collect();
    Err(PyValueError::new_err(format!(
        "{} {requirement}",
        listed(&names, "and")
    )))
}

/// A required duration: a positive number of seconds.
pub(crate) fn required_secs(value: f64, what: &str) -> PyResult<Duration> {
    seconds(Some(value), what)?.ok_or_else(|| PyValueError::new_err(format!("{what} is required")))
}

/// A delay: zero (none) or a positive number of seconds.
pub(crate) fn delay_secs(value: f64, what: &str) -> PyResult<Duration> {
    if value == 0.0 {
        Ok(Duration::ZERO)
    } else {
        required_secs(value, what)
    }
}

/// The event log of `on_event=`: the handle's, and the core server's view of it.
pub(crate) fn event_log(
    on_event: Option<Py<PyAny>>,
) -> (Option<Arc<PyEventLog>>, Option<Arc<dyn EventLog>>) {
    let events = on_event.map(PyEventLog::start);
    let log = events.clone().map(|e| e as Arc<dyn EventLog>);
    (events, log)
}

/// `#[pymethods] impl $core { ... }` with the life-cycle methods every server binding forwards
/// to its `handle: ServerHandle` (stop, stop_async, flush_events, events_dropped,
/// wait_stopped, port, host, active_connections) added after the binding's own methods, so
/// the four servers write them once. A macro because a pyclass has one `#[pymethods]` block
/// (without pyo3's `multiple-pymethods` feature).
macro_rules! server_pymethods {
    (impl $core:ident { $($own:tt)* }) => {
        #[::pyo3::pymethods]
        impl $core {
            $($own)*

            /// Stop gracefully and wait (bounded by the grace period), then for the event log.
            fn stop(&self, py: ::pyo3::Python<'_>) -> ::pyo3::PyResult<()> {
                self.handle.stop(py)
            }

            /// Awaitable form of `stop`.
            fn stop_async<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.handle.stop_async(py)
            }

            /// Wait (at most `timeout` seconds) until the events reported so far reached
            /// `on_event`.
            #[pyo3(signature = (timeout=5.0))]
            fn flush_events(&self, py: ::pyo3::Python<'_>, timeout: f64) -> ::pyo3::PyResult<()> {
                self.handle.flush_events(py, timeout)
            }

            /// Events the log dropped because its callback could not keep up.
            #[getter]
            fn events_dropped(&self) -> u64 {
                self.handle.events_dropped()
            }

            /// Resolves when the server has been told to stop.
            fn wait_stopped<'py>(
                &self,
                py: ::pyo3::Python<'py>,
            ) -> ::pyo3::PyResult<::pyo3::Bound<'py, ::pyo3::PyAny>> {
                self.handle.wait_stopped(py)
            }

            #[getter]
            fn port(&self) -> ::pyo3::PyResult<Option<u16>> {
                self.handle.port()
            }

            #[getter]
            fn host(&self) -> &str {
                &self.handle.host
            }

            /// Open connections.
            #[getter]
            fn active_connections(&self) -> ::pyo3::PyResult<usize> {
                self.handle.active_connections()
            }
        }
    };
}
pub(crate) use server_pymethods;
