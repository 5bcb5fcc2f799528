//! Connections shared by concurrent sends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, SemaphorePermit};

use super::config::ClientConfig;
use super::connection::{Connection, Outcome, SessionInfo, timed};
use super::prepared::{Prepared, SendOptions};
use crate::smtp::Error;
use crate::smtp::reply::Reply;

/// Connections shared by concurrent sends: at most `max` open at once; idle ones are checked
/// before reuse and replaced when the server has closed them.
pub struct Pool {
    config: Arc<ClientConfig>,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    closed: AtomicBool,
    last_info: Mutex<Option<SessionInfo>>,
}

impl Pool {
    pub fn new(config: ClientConfig, max_connections: usize) -> Result<Pool, Error> {
        config.validate()?;
        Ok(Pool {
            config: Arc::new(config),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1)),
            closed: AtomicBool::new(false),
            last_info: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(super) fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn put_idle(&self, conn: Connection) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    /// Idle connections (open, not in use).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// What the most recently opened connection learned about the server.
    pub fn last_info(&self) -> Option<SessionInfo> {
        self.last_info.lock().ok()?.clone()
    }

    async fn open(&self) -> Result<Connection, Error> {
        let conn = Connection::open(self.config.clone()).await?;
        if let Ok(mut last) = self.last_info.lock() {
            *last = Some(conn.info().clone());
        }
        Ok(conn)
    }

    /// A usable connection: an idle one that is still open, or a new one. The bool says
    /// whether it was reused.
    async fn checkout(&self) -> Result<(Connection, bool), Error> {
        while let Some(mut conn) = self.take_idle() {
            if conn.is_reusable().await {
                return Ok((conn, true));
            }
        }
        Ok((self.open().await?, false))
    }

    /// A turn among the `max` connections that may be in use at once.
    async fn permit(&self) -> Result<SemaphorePermit<'_>, Error> {
        self.permits
            .acquire()
            .await
            .map_err(|_| Error::ClientClosed)
    }

    /// Back to the idle ones, unless it is in no state for another command.
    fn check_in(&self, conn: Connection) {
        if !conn.busy {
            self.put_idle(conn);
        }
    }

    /// QUIT every idle connection.
    async fn quit_idle(&self) {
        let conns: Vec<Connection> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for conn in conns {
            conn.quit().await;
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed.load(Ordering::SeqCst) {
            Err(Error::ClientClosed)
        } else {
            Ok(())
        }
    }

    /// Make sure one connection is open (to report connection problems early).
    pub async fn connect(&self) -> Result<SessionInfo, Error> {
        self.check_open()?;
        let _permit = self.permit().await?;
        let (conn, _) = timed(
            self.config.endpoint.connect_timeout.map(|t| t * 2),
            "connecting",
            async { self.checkout().await },
        )
        .await?;
        let info = conn.info().clone();
        self.put_idle(conn);
        Ok(info)
    }

    pub async fn send(&self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        self.check_open()?;
        opts.validate()?;
        let msg = msg.signed(&self.config.dkim)?;
        let msg = msg.as_ref();
        timed(
            self.config.transaction_timeout,
            "sending the message (transaction timeout)",
            self.send_inner(msg, opts),
        )
        .await
    }

    async fn send_inner(&self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        let _permit = self.permit().await?;
        let (mut conn, reused) = self.checkout().await?;
        let result = conn.send(msg, opts).await;
        let result = match result {
            // The server dropped a reused connection before answering anything of this
            // transaction: nothing was accepted, so one retry on a new connection is safe.
            Err(e) if reused && e.is_connection_lost() && !conn.committed => {
                conn = self.open().await?;
                conn.send(msg, opts).await
            }
            other => other,
        };
        self.check_in(conn);
        result
    }

    pub async fn noop(&self) -> Result<Reply, Error> {
        self.check_open()?;
        let _permit = self.permit().await?;
        let (mut conn, _) = self.checkout().await?;
        let reply = conn.noop().await;
        self.check_in(conn);
        reply
    }

    /// QUIT every idle connection and refuse further use. Connections in use are closed when
    /// their send finishes.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.quit_idle().await;
    }

    /// Close idle connections without refusing further use.
    pub async fn disconnect(&self) {
        self.quit_idle().await;
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
