//! Graceful shutdown for servers: a signal every connection task watches, and a count of tasks
//! still running so `stop()` can wait for transactions in flight. [`listen`] and [`Running`]
//! are the start and stop that the servers share, [`accept`] and [`join_or_cut`] the two ends
//! of their accept loops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::NetError;

/// The owner side: trigger once, then wait for tasks to finish.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

/// What each task holds: it can ask whether shutdown started and await it.
#[derive(Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

/// Held by a running task; the count drops when it is dropped.
pub struct TaskGuard {
    active: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, _rx) = watch::channel(false);
        Self {
            tx: Arc::new(tx),
            active: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
        }
    }

    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
        }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Register a running task.
    pub fn task(&self) -> TaskGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        TaskGuard {
            active: self.active.clone(),
            idle: self.idle.clone(),
        }
    }

    pub fn active_tasks(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Wait until no task is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl ShutdownSignal {
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has been triggered (immediately if it already was).
    pub async fn wait(&mut self) {
        // An error means the owner is gone, which is a shutdown too.
        let _ = self.rx.wait_for(|&v| v).await;
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// A server accepting connections (see [`listen`]).
pub struct Running {
    pub local_addr: SocketAddr,
    shutdown: Shutdown,
    hard: Shutdown,
    grace: Duration,
}

impl Running {
    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Open connections, plus one for the accept loop while it runs.
    pub fn active_tasks(&self) -> usize {
        self.shutdown.active_tasks()
    }

    /// Stop accepting. Sessions waiting for a command are told (SMTP 421, POP3 `-ERR`) and
    /// closed; work in flight (an SMTP transaction, a RETR being sent, a QUIT's UPDATE) may
    /// finish within the grace period, after which the remaining connections are cut:
    /// nothing is delivered, nor deleted, for a session cut short.
    pub async fn stop(&self) {
        self.shutdown.trigger();
        if tokio::time::timeout(self.grace, self.shutdown.wait_idle())
            .await
            .is_err()
        {
            self.hard.trigger();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.shutdown.wait_idle()).await;
        }
    }

    /// Resolves once `stop` has been called (by anyone).
    pub async fn stopped(&self) {
        self.shutdown.signal().wait().await;
    }
}

/// Bind `host:port` (port 0: any free port; `[v6]` brackets allowed) and run
/// `accept(listener, shutdown, hard)` as a task of the current runtime: `shutdown` asks
/// sessions to finish, `hard` (after `grace`) to stop at once. The listen queue is sized for
/// the servers' default of 1,000 connections; a server with its own limit uses
/// [`listen_with_backlog`].
pub async fn listen<F, Fut>(
    host: &str,
    port: u16,
    grace: Duration,
    accept: F,
) -> Result<Running, NetError>
where
    F: FnOnce(TcpListener, Shutdown, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let backlog = super::limits::listen_backlog(1000);
    listen_with_backlog(host, port, grace, backlog, accept).await
}

/// [`listen`] with a listen queue of `backlog` connections (see
/// [`super::limits::listen_backlog`], which sizes it from a connection limit).
pub async fn listen_with_backlog<F, Fut>(
    host: &str,
    port: u16,
    grace: Duration,
    backlog: u32,
    accept: F,
) -> Result<Running, NetError>
where
    F: FnOnce(TcpListener, Shutdown, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let listener = bind(host, port, backlog)
        .await
        .map_err(|source| NetError::Listen {
            target: format!("{host}:{port}"),
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let shutdown = Shutdown::new();
    let hard = Shutdown::new();
    let guard = shutdown.task();
    let accept = accept(listener, shutdown.clone(), hard.clone());
    tokio::spawn(async move {
        let _guard = guard;
        accept.await;
    });
    Ok(Running {
        local_addr,
        shutdown,
        hard,
        grace,
    })
}

/// The next connection (with TCP_NODELAY), or `None` once `signal` fires. Accept errors
/// (out of file descriptors and the like) back off briefly instead of spinning.
pub async fn accept(
    listener: &TcpListener,
    signal: &mut ShutdownSignal,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = signal.wait() => return None,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, peer)) => {
                tcp.set_nodelay(true).ok();
                return Some((tcp, peer));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// After the accept loop: wait for the session tasks to finish, or abort them all once `hard`
/// fires (the grace period is over).
pub async fn join_or_cut(mut tasks: JoinSet<()>, hard: &Shutdown) {
    let mut cut = hard.signal();
    loop {
        tokio::select! {
            biased;
            _ = cut.wait() => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                return;
            }
            next = tasks.join_next() => if next.is_none() { return },
        }
    }
}

/// `TcpListener::bind` with our backlog instead of the fixed 128 tokio (mio) passes to
/// `listen(2)`; the first address `host` resolves to that binds wins.
async fn bind(host: &str, port: u16, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        };
        let bound = socket.and_then(|s| {
            // As std and mio do on Unix: a restarted server can bind while old connections
            // linger in TIME_WAIT.
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(backlog)
        });
        match bound {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_tasks() {
        let shutdown = Shutdown::new();
        let mut signal = shutdown.signal();
        let guard = shutdown.task();
        let s2 = shutdown.clone();
        let waiter = tokio::spawn(async move { s2.wait_idle().await });
        shutdown.trigger();
        signal.wait().await;
        assert!(signal.is_triggered());
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(shutdown.active_tasks(), 0);
    }

    /// The accept queue limit of a listening socket: Linux reports it in `tcpi_sacked` of
    /// TCP_INFO for sockets in the LISTEN state (what `ss -lt` shows as Send-Q).
    #[cfg(target_os = "linux")]
    fn accept_queue_limit(listener: &TcpListener) -> u32 {
        // rustix has no TCP_INFO socket option, so this test helper stays on libc.
        use std::os::fd::AsRawFd;
        // SAFETY: tcp_info is plain integers; all zeroes is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: a valid descriptor, and `info` with its true size in `len` for the kernel to
        // fill.
        let rc = unsafe {
            libc::getsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        info.tcpi_sacked
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn backlog_is_the_one_asked_for() {
        // tokio's TcpListener::bind listens with a backlog of 128 whatever the server's
        // connection limit; a burst of 1,000 clients then overflows the accept queue.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let running = listen_with_backlog(
            "127.0.0.1",
            0,
            Duration::from_secs(1),
            1000,
            |listener, s, _| async move {
                let _ = tx.send(accept_queue_limit(&listener));
                s.signal().wait().await;
            },
        )
        .await
        .unwrap();
        let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(4096);
        assert_eq!(rx.await.unwrap(), 1000.min(cap));
        running.stop().await;
    }
}
