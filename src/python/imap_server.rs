//! Binding for the IMAP server (`crate::imap::server`): it serves a `MaildirStore` to the
//! accounts of a `Users`, with the life cycle every server binding shares (`ServerHandle`).

use std::sync::Arc;

use pyo3::prelude::*;

use super::server::{
    ServerHandle, at_least, delay_secs, event_log, mailbox_tls, maildir_store, required_secs,
    server_pymethods, session_limits, users_arg,
};
use crate::imap::server::{self, Backend, ServerConfig};

/// The core of `ImapServer`: the configured server and, once started, its accept loop.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct ImapServerCore {
    backend: Arc<Backend>,
    config: Arc<ServerConfig>,
    handle: ServerHandle,
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
        let store = maildir_store(store)?;
        let users = users_arg(users, "a mailprims.Users")?.shared();
        let tls = mailbox_tls(py, tls_cert, tls_key, implicit_tls)?;
        session_limits(max_auth_failures, max_errors, max_connections)?;
        at_least(1024, "must be at least 1024", &[
            ("max_line", max_line as u64),
            ("max_literal", max_literal),
            ("max_message_size", max_message_size),
        ])?;
        let auth_failure_delay = delay_secs(auth_failure_delay, "auth_failure_delay")?;
        let (events, log) = event_log(on_event);
        let config = ServerConfig {
            hostname,
            tls,
            implicit_tls,
            allow_insecure_auth,
            login_timeout: required_secs(login_timeout, "login_timeout")?,
            idle_timeout: required_secs(timeout, "timeout")?,
            auth_failure_delay,
            max_auth_failures,
            max_errors,
            max_connections,
            max_line,
            max_literal,
            max_message_size,
            special_folders,
            check_interval: required_secs(check_interval, "check_interval")?,
            shutdown_grace: required_secs(shutdown_grace, "shutdown_grace")?,
            events: log,
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
