//! Binding for the web inbox (`crate::web`): `WebInboxCore`, the core of `mailprims.WebInbox`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use super::runtime::block_on;
use super::server::{ServerHandle, at_least, maildir_store, server_pymethods, users_arg};
use super::store::PyUsers;
use crate::store::MaildirStore;
use crate::web::{self, Index, WebConfig};

/// The core of `WebInbox`: the configured inbox and, once started, its server and index.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct WebInboxCore {
    store: MaildirStore,
    config: WebConfig,
    handle: ServerHandle,
    index: Arc<Mutex<Option<Arc<Index>>>>,
}

fn seconds(value: f64, what: &str, allow_zero: bool) -> PyResult<Duration> {
    super::client::checked_seconds(value, allow_zero).ok_or_else(|| {
        PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, not {value}"
        ))
    })
}

impl WebInboxCore {
    fn index(&self) -> PyResult<Arc<Index>> {
        self.index
            .lock()
            .map_err(|_| PyRuntimeError::new_err("web inbox state poisoned"))?
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the web inbox is not started"))
    }
}

server_pymethods! {
impl WebInboxCore {
    #[new]
    #[pyo3(signature = (store, host, port, *, users=None, max_connections=256,
        auth_failure_delay=2.0, session_ttl=43200.0, shutdown_grace=5.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: &Bound<'_, PyAny>,
        host: String,
        port: u16,
        users: Option<&Bound<'_, PyAny>>,
        max_connections: usize,
        auth_failure_delay: f64,
        session_ttl: f64,
        shutdown_grace: f64,
    ) -> PyResult<Self> {
        let store = maildir_store(store)?;
        let users = users
            .map(|u| users_arg(u, "a mailprims.Users or None").map(PyUsers::shared))
            .transpose()?;
        at_least(1, "must be at least 1", &[("max_connections", max_connections as u64)])?;
        let config = WebConfig {
            users,
            max_connections,
            auth_failure_delay: seconds(auth_failure_delay, "auth_failure_delay", true)?,
            session_ttl: seconds(session_ttl, "session_ttl", false)?,
            shutdown_grace: seconds(shutdown_grace, "shutdown_grace", false)?,
        };
        Ok(WebInboxCore {
            store,
            config,
            handle: ServerHandle::new(host, port, None),
            index: Arc::new(Mutex::new(None)),
        })
    }

    /// Bind and start serving; returns the port.
    fn start(&self, py: Python<'_>) -> PyResult<u16> {
        let (store, config, slot) = (self.store.clone(), self.config.clone(), self.index.clone());
        self.handle.start(py, |host, port| async move {
            let (running, index) = web::start(store, &host, port, config).await?;
            if let Ok(mut s) = slot.lock() {
                *s = Some(index);
            }
            Ok(running)
        })
    }

    /// Wait (at most `timeout` seconds) until the first scan of the store is done; returns
    /// whether it is.
    fn wait_ready(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let index = self.index()?;
        let limit = seconds(timeout, "timeout", true)?;
        block_on(py, async move {
            tokio::time::timeout(limit, index.wait_ready())
                .await
                .is_ok()
        })
    }

    /// Messages in the index.
    #[getter]
    fn indexed(&self) -> PyResult<usize> {
        Ok(self.index()?.len())
    }
}
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WebInboxCore>()?;
    Ok(())
}
