//! The accept loop: a connection limit, one task per connection, graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::session::{Connection, new_session, refuse_busy};
use super::{Authenticator, Config, Deliverer, Directory, Hooks};
use crate::net::events::EventLog;
pub use crate::net::shutdown::Running;
use crate::net::shutdown::{Shutdown, listen};
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
            next_session: AtomicU64::new(1),
        }
    }

    /// Bind `host:port` (port 0: any free port) and start accepting on the current runtime.
    pub async fn start(self: Arc<Self>, host: &str, port: u16) -> Result<Running, NetError> {
        let grace = self.config.shutdown_grace;
        listen(host, port, grace, |listener, shutdown, hard| {
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
    let mut stop = shutdown.signal();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait() => break,
            r = listener.accept() => r,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tcp.set_nodelay(true).ok();
        let stream = Stream::Plain(tcp);
        let guard = shutdown.task();
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
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
                    conn.run().await;
                });
            }
            Err(_) => {
                let hostname = server.config.hostname.clone();
                tokio::spawn(async move {
                    let _guard = guard;
                    refuse_busy(stream, &hostname).await;
                });
            }
        }
    }
}
