//! Binding for the IMAP server (`crate::imap::server`): it serves a `MaildirStore` to the
//! accounts of a `Users`, with the life cycle every server binding shares (`ServerHandle`).

use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::client::seconds;
use super::errors::net_error;
use super::events::PyEventLog;
use super::server::{ServerHandle, server_pymethods};
use super::store::{PyMaildirStore, PyUsers};
use crate::imap::server::{self, Backend, ServerConfig};
use crate::net::tls;

/// The core of `ImapServer`: the configured server and, once started, its accept loop.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct ImapServerCore {
    backend: Arc<Backend>,
    config: Arc<ServerConfig>,
    handle: ServerHandle,
}

fn positive(value: f64, what: &str) -> PyResult<Duration> {
    seconds(Some(value), what)?.ok_or_else(|| PyValueError::new_err(format!("{what} is required")))
}

server_pymethods! {
impl ImapServerCore {
    #[new]
    #[pyo3(signature = (host, port, *, store, users, hostname, tls_cert=None, tls_key=None,
        implicit_tls=false, allow_insecure_auth=false, timeout=1800.0, login_timeout=60.0,
        auth_failure_delay=2.0, max_auth_failures=3, max_errors=20, max_connections=1000,
        max_line=65536, max_literal=65536, max_message_size=67108864, special_folders=true,
        check_interval=2.0, shutdown_grace=30.0, on_event=None))]
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
        login_timeout: f64,
        auth_failure_delay: f64,
        max_auth_failures: u32,
        max_errors: u32,
        max_connections: usize,
        max_line: usize,
        max_literal: u64,
        max_message_size: u64,
        special_folders: bool,
        check_interval: f64,
        shutdown_grace: f64,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let store = store
            .cast::<PyMaildirStore>()
            .map_err(|_| PyTypeError::new_err("store must be a mailprims.MaildirStore"))?
            .get()
            .store()
            .clone();
        let users = users
            .cast::<PyUsers>()
            .map_err(|_| PyTypeError::new_err("users must be a mailprims.Users"))?
            .get()
            .shared();
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => {
                Some(tls::server_config(&cert, &key).map_err(|e| net_error(py, e))?)
            }
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "tls_cert and tls_key must be given together",
                ));
            }
        };
        if implicit_tls && tls.is_none() {
            return Err(PyValueError::new_err(
                "implicit_tls needs tls_cert and tls_key",
            ));
        }
        if max_auth_failures == 0 || max_errors == 0 || max_connections == 0 {
            return Err(PyValueError::new_err(
                "max_auth_failures, max_errors and max_connections must be at least 1",
            ));
        }
        if max_line < 1024 || max_literal < 1024 || max_message_size < 1024 {
            return Err(PyValueError::new_err(
                "max_line, max_literal and max_message_size must be at least 1024",
            ));
        }
        let auth_failure_delay = if auth_failure_delay == 0.0 {
            Duration::ZERO
        } else {
            positive(auth_failure_delay, "auth_failure_delay")?
        };
        let events = on_event.map(PyEventLog::start);
        let config = ServerConfig {
            hostname,
            tls,
            implicit_tls,
            allow_insecure_auth,
            login_timeout: positive(login_timeout, "login_timeout")?,
            idle_timeout: positive(timeout, "timeout")?,
            auth_failure_delay,
            max_auth_failures,
            max_errors,
            max_connections,
            max_line,
            max_literal,
            max_message_size,
            special_folders,
            check_interval: positive(check_interval, "check_interval")?,
            shutdown_grace: positive(shutdown_grace, "shutdown_grace")?,
            events: events
                .clone()
                .map(|e| e as Arc<dyn crate::net::events::EventLog>),
            ..ServerConfig::default()
        };
        Ok(Self {
            backend: Arc::new(Backend::new(store, users)),
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

    /// Mailboxes held in memory (selected by a session, or recently).
    #[getter]
    fn loaded_mailboxes(&self) -> usize {
        self.backend.registry.len()
    }
}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ImapServerCore>()?;
    Ok(())
}
