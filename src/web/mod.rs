//! The web inbox: a web UI and a JSON API over a [`MaildirStore`], served with axum on the
//! tokio runtime the other servers use, its pages built into the library
//! ([`assets`]: hand-written HTML, CSS and JavaScript, nothing to download).
//!
//! - [`index`]: every message's summary in memory, kept current by the store's delivery hook
//!   and inotify ([`watch`]), so listing and searching 100,000 messages stays fast.
//! - [`http`]: routes, limits, the accept loop; [`auth`]: logins, sessions, CSRF and Host
//!   checks; [`detail`]: a message as JSON (headers, trace, MIME tree, authentication
//!   results); [`html`]: the sandboxed, sanitised HTML preview; [`query`]: the search syntax.

pub mod arena;
pub mod assets;
pub mod auth;
pub mod detail;
pub mod html;
pub mod http;
pub mod index;
pub mod query;
pub mod summary;
// inotify is Linux's; elsewhere the index is kept by a scan at start and the delivery hook.
#[cfg(target_os = "linux")]
pub mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::net::NetError;
use crate::net::shutdown::{Running, Shutdown, ShutdownSignal, listen};
use crate::store::{Delivered, MaildirStore, UserDb};

pub use index::Index;

/// How the web inbox runs.
#[derive(Clone)]
pub struct WebConfig {
    /// Accounts that may log in (each sees its own mailbox); `None`: no login, every mailbox
    /// and the combined view are open to whoever reaches the port.
    pub users: Option<Arc<RwLock<UserDb>>>,
    pub max_connections: usize,
    pub auth_failure_delay: Duration,
    /// How long an unused session stays logged in.
    pub session_ttl: Duration,
    pub shutdown_grace: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            users: None,
            max_connections: 256,
            auth_failure_delay: Duration::from_secs(2),
            session_ttl: Duration::from_secs(12 * 3600),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What every request handler shares.
pub struct App {
    pub index: Arc<Index>,
    pub users: Option<Arc<RwLock<UserDb>>>,
    pub sessions: auth::Sessions,
    /// The CSRF token of an inbox without logins (one for all its pages).
    pub csrf: String,
    /// Bound to loopback: answer loopback `Host`s only.
    pub loopback_only: bool,
    pub auth_failure_delay: Duration,
    shutdown: OnceLock<ShutdownSignal>,
}

impl App {
    /// Resolves when the server stops (ends `wait` and the live-update streams).
    fn stopping(&self) -> ShutdownSignal {
        match self.shutdown.get() {
            Some(s) => s.clone(),
            None => Shutdown::new().signal(),
        }
    }
}

/// Start the web inbox on `host:port`; returns the running server and its index.
pub async fn start(
    store: MaildirStore,
    host: &str,
    port: u16,
    config: WebConfig,
) -> Result<(Running, Arc<Index>), NetError> {
    let index = Index::new(store.clone());
    let app = Arc::new(App {
        index: index.clone(),
        users: config.users.clone(),
        sessions: auth::Sessions::new(config.session_ttl),
        csrf: auth::random_token(),
        loopback_only: auth::is_loopback(host),
        auth_failure_delay: config.auth_failure_delay,
        shutdown: OnceLock::new(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (idx, flag, max) = (index.clone(), stop.clone(), config.max_connections.max(1));
    let running = listen(
        host,
        port,
        config.shutdown_grace,
        move |listener, shutdown, hard| {
            // The hook holds the index weakly: the store must not keep a stopped inbox alive.
            let weak = Arc::downgrade(&idx);
            let hook = store.add_delivery_hook(Arc::new(move |d: &Delivered<'_>| {
                if let Some(index) = weak.upgrade() {
                    index.delivered(d.user, d.key, d.data);
                }
            }));
            #[cfg(target_os = "linux")]
            let watcher = watch::spawn(idx.clone(), flag.clone());
            #[cfg(not(target_os = "linux"))]
            let watcher: std::io::Result<()> = Err(std::io::ErrorKind::Unsupported.into());
            if watcher.is_err() {
                // No inotify (limits reached, or not Linux): a scan now, and the delivery hook
                // from then on (changes made by other processes are not seen).
                let i = idx.clone();
                std::thread::spawn(move || {
                    i.sync_all(&mut |_| {});
                    i.set_ready();
                });
            }
            async move {
                http::accept_loop(app, listener, shutdown, hard, max).await;
                flag.store(true, Ordering::Release);
                store.remove_delivery_hook(hook);
            }
        },
    )
    .await?;
    Ok((running, index))
}
