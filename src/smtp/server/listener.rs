//! The accept loop: connection limits (in all and per client address), one task per
//! connection, graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::session::{Connection, new_session, refuse};
use super::{Authenticator, Config, Deliverer, Directory, Hooks, Verification};
use crate::net::events::EventLog;
use crate::net::limits::{AuthFailures, ConnectionsPerAddress, listen_backlog};
pub use crate::net::shutdown::Running;
use crate::net::shutdown::{Shutdown, accept, listen_with_backlog};
use crate::net::{NetError, Stream};

/// A configured server: the protocol settings and what it delivers to.
pub struct Server {
    pub config: Config,
    pub hooks: Option<Arc<dyn Hooks>>,
    pub deliverer: Option<Arc<dyn Deliverer>>,
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Local domains and users; `None`: every domain is local, every user exists.
    pub directory: Option<Arc<dyn Directory>>,
    /// Whether authenticated clients may give non-local recipients (something must carry
    /// them on: a handler's DATA hook).
    pub relay_allowed: bool,
    /// Where accepted messages are reported, for logs.
    pub events: Option<Arc<dyn EventLog>>,
    /// Failed AUTH per client address: share one table between servers checking the same
    /// accounts (a POP3 server too) so guesses count wherever they are made.
    pub auth_failures: Arc<AuthFailures>,
    /// DKIM, ARC, SPF and DMARC checks of every message, recorded in an
    /// Authentication-Results field before hooks and delivery see it.
    pub verification: Option<Verification>,
    next_session: AtomicU64,
}

impl Server {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            hooks: None,
            deliverer: None,
            authenticator: None,
            directory: None,
            relay_allowed: true,
            events: None,
            auth_failures: AuthFailures::new(),
            verification: None,
            next_session: AtomicU64::new(1),
        }
    }

    /// Bind `host:port` (port 0: any free port) and start accepting on the current runtime.
    pub async fn start(self: Arc<Self>, host: &str, port: u16) -> Result<Running, NetError> {
        let grace = self.config.shutdown_grace;
        let backlog = listen_backlog(self.config.max_connections);
        if self.authenticator.is_some() {
            // Off the runtime's threads, like every hash.
            crate::net::blocking::passwords()
                .run(crate::store::users::prepare_dummy_hash)
                .await;
        }
        listen_with_backlog(host, port, grace, backlog, |listener, shutdown, hard| {
            accept_loop(self, listener, shutdown, hard)
        })
        .await
    }
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    shutdown: Shutdown,
    hard: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(server.config.max_connections.max(1)));
    let per_address = ConnectionsPerAddress::new(server.config.max_connections_per_address);
    // Refusals are answered by tasks of their own, a few seconds at most each; past this
    // many at once a refused connection is simply closed.
    let refusing = Arc::new(Semaphore::new(
        server.config.max_connections.clamp(16, 1024),
    ));
    let mut stop = shutdown.signal();
    while let Some((tcp, peer)) = accept(&listener, &mut stop).await {
        let stream = Stream::Plain(tcp);
        let guard = shutdown.task();
        let hostname = &server.config.hostname;
        let admitted = match permits.clone().try_acquire_owned() {
            Ok(permit) => match per_address.try_acquire(peer.ip()) {
                Some(slot) => Ok((permit, slot)),
                None => Err(format!(
                    "4.7.0 {hostname} Error: too many connections from {}",
                    peer.ip()
                )),
            },
            Err(_) => Err(format!(
                "4.3.2 {hostname} Too many connections, try again later"
            )),
        };
        match admitted {
            Ok((permit, slot)) => {
                let id = server.next_session.fetch_add(1, Ordering::Relaxed);
                let Some(session) = new_session(id, &stream) else {
                    continue;
                };
                let conn = Connection::new(
                    server.clone(),
                    stream,
                    session,
                    shutdown.signal(),
                    hard.signal(),
                );
                tokio::spawn(async move {
                    let _guard = guard;
                    let _permit = permit;
                    let _slot = slot;
                    conn.run().await;
                });
            }
            Err(text) => {
                let Ok(refusal) = refusing.clone().try_acquire_owned() else {
                    continue;
                };
                tokio::spawn(async move {
                    let _guard = guard;
                    let _refusal = refusal;
                    refuse(stream, &text).await;
                });
            }
        }
    }
}
