//! The IMAP server (RFC 9051 IMAP4rev2, also RFC 3501 IMAP4rev1) over a [`MaildirStore`]
//! and the accounts of a [`UserDb`], with UIDPLUS, MOVE, LITERAL+, IDLE, ENABLE, ID,
//! NAMESPACE, UNSELECT, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, ESEARCH, SEARCHRES, BINARY,
//! STATUS=SIZE and SASL-IR.
//!
//! Layers: [`command`] parses one frame (no I/O); [`conn`] holds a connection's bytes;
//! [`session`] is the state machine (not authenticated, authenticated, selected, logout) with
//! the command handlers in [`mailboxes`] and [`messages`]; [`mailbox`] is a mailbox's state
//! shared by every session that selected it, [`selected`] one session's view of it;
//! [`folders`] and [`control`] are the Maildir++ layout and Dovecot's control files, so
//! Dovecot can serve the same Maildirs with the same UIDs; [`structure`] computes
//! BODYSTRUCTURE, ENVELOPE and body sections; [`search`] evaluates SEARCH.
//!
//! Sessions share a mailbox: a delivery through the store's handle of a user's Maildir (the
//! SMTP server's) is reported by a change hook and reaches every session that has INBOX
//! selected at once; changes by other processes are seen when the directories change
//! (looked at on NOOP, CHECK, IDLE every `check_interval`, and before each command).

pub mod command;
pub mod conn;
pub mod control;
pub mod folders;
pub mod index;
pub mod mailbox;
mod mailboxes;
mod messages;
pub mod search;
pub mod selected;
pub mod session;
pub mod structure;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::net::events::EventLog;
pub use crate::net::shutdown::Running;
use crate::net::shutdown::{Shutdown, accept, join_or_cut, listen};
use crate::net::{NetError, Stream};
use crate::store::users::verify_login_pooled;
use crate::store::{MaildirStore, UserDb};

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Named in the greeting.
    pub hostname: String,
    /// TLS identity, for STARTTLS (or implicit TLS).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (port 993) instead of STARTTLS.
    pub implicit_tls: bool,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS from other hosts. Like Dovecot, a
    /// client on the server's own address counts as secure.
    pub allow_insecure_auth: bool,
    /// Inactivity allowed before login.
    pub login_timeout: Duration,
    /// Inactivity allowed after login, IDLE included (RFC 9051 §5.4: at least 30 minutes).
    pub idle_timeout: Duration,
    /// How long a failed login waits before its NO.
    pub auth_failure_delay: Duration,
    /// Failed logins after which the connection is closed.
    pub max_auth_failures: u32,
    /// Bad commands (BAD responses) after which the connection is closed.
    pub max_errors: u32,
    pub max_connections: usize,
    /// Longest command line (each line of a command separately), line end included.
    pub max_line: usize,
    /// Largest literal in a command other than APPEND (a password, a search string).
    pub max_literal: u64,
    /// Largest message APPEND accepts.
    pub max_message_size: u64,
    /// Create Drafts, Sent, Trash, Junk and Archive (with SPECIAL-USE) at first login.
    pub special_folders: bool,
    /// How often a session in IDLE looks at the mailbox's directories for changes made by
    /// other processes (deliveries through the store are seen at once).
    pub check_interval: Duration,
    /// Sent in the ID response.
    pub implementation: String,
    /// How long `Running::stop` lets commands in flight finish.
    pub shutdown_grace: Duration,
    /// Where logins, appends, retrievals and expunges are reported.
    pub events: Option<Arc<dyn EventLog>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            hostname: "localhost".into(),
            tls: None,
            implicit_tls: false,
            allow_insecure_auth: false,
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            auth_failure_delay: Duration::from_secs(2),
            max_auth_failures: 3,
            max_errors: 20,
            max_connections: 1000,
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_message_size: 64 << 20,
            special_folders: true,
            check_interval: Duration::from_secs(2),
            implementation: concat!("mailprims ", env!("CARGO_PKG_VERSION")).into(),
            shutdown_grace: Duration::from_secs(30),
            events: None,
        }
    }
}

/// Accounts and their mail, shared by the sessions.
pub struct Backend {
    pub store: MaildirStore,
    pub users: Arc<RwLock<UserDb>>,
    /// The mailboxes loaded by this server.
    pub registry: mailbox::Registry,
}

impl Backend {
    pub fn new(store: MaildirStore, users: Arc<RwLock<UserDb>>) -> Backend {
        Backend {
            store,
            users,
            registry: mailbox::Registry::new(Duration::from_secs(600), 256),
        }
    }

    /// The account `user` logs in to if `password` is right (blocking: the hash is slow, and
    /// as slow for unknown users). Only on [`crate::net::blocking::passwords`], whose threads
    /// keep the hash's working memory between checks.
    pub fn verify_password(&self, user: &str, password: &str) -> Option<String> {
        verify_login_pooled(&self.users, user, password)
    }
}

/// Bind `host:port` (port 0: any free port) and start serving on the current runtime.
pub async fn start(
    host: &str,
    port: u16,
    backend: Arc<Backend>,
    config: Arc<ServerConfig>,
) -> Result<Running, NetError> {
    let grace = config.shutdown_grace;
    listen(host, port, grace, |listener, shutdown, hard| {
        serve(listener, backend, config, shutdown, hard)
    })
    .await
}

/// Accept connections until `shutdown`, each session in its own task; then wait for the
/// sessions, or cut them off when `hard` is triggered.
pub async fn serve(
    listener: TcpListener,
    backend: Arc<Backend>,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    hard: Shutdown,
) {
    let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut signal = shutdown.signal();
    let mut tasks = JoinSet::new();
    while let Some((tcp, peer)) = accept(&listener, &mut signal).await {
        // Reap finished sessions so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        let guard = shutdown.task();
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tasks.spawn(async move {
                let mut tcp = tcp;
                let _ = tcp
                    .write_all(b"* BYE [UNAVAILABLE] Too many connections, try again later.\r\n")
                    .await;
                drop(guard);
            });
            continue;
        };
        let backend = backend.clone();
        let config = config.clone();
        let signal = shutdown.signal();
        tasks.spawn(async move {
            // Boxed: the task holds a pointer, not the whole session future, until it runs.
            let _ = Box::pin(session::run(
                Stream::Plain(tcp),
                peer,
                backend,
                config,
                signal,
            ))
            .await;
            drop(permit);
            drop(guard);
        });
    }
    drop(listener);
    join_or_cut(tasks, &hard).await;
}

#[cfg(test)]
mod tests;
