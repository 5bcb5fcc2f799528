use std::fmt;
use std::io;
use std::time::Duration;

/// What can go wrong below the mail protocols.
#[derive(Debug)]
pub enum NetError {
    /// No connection could be made to `target`.
    Connect { target: String, source: io::Error },
    /// A server could not listen on `target` (the port is in use, or not ours to take).
    Listen { target: String, source: io::Error },
    /// An operation did not complete in time.
    Timeout {
        during: &'static str,
        after: Duration,
    },
    /// The peer closed the connection.
    Closed,
    /// Any other I/O failure on an established connection.
    Io(io::Error),
    /// A line longer than the protocol allows.
    LineTooLong { limit: usize },
    /// TLS handshake or certificate verification failed.
    Tls(String),
    /// Bad configuration: unreadable certificate, key without certificate, and the like.
    Config(String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Connect { target, source } => {
                write!(f, "cannot connect to {target}: {source}")
            }
            NetError::Listen { target, source } => {
                write!(f, "cannot listen on {target}: {source}")
            }
            NetError::Timeout { during, after } => {
                write!(f, "timed out after {:.1} s {during}", after.as_secs_f64())
            }
            NetError::Closed => write!(f, "connection closed by peer"),
            NetError::Io(e) => write!(f, "{e}"),
            NetError::LineTooLong { limit } => write!(f, "line longer than {limit} octets"),
            NetError::Tls(msg) => write!(f, "TLS: {msg}"),
            NetError::Config(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetError::Connect { source, .. } | NetError::Listen { source, .. } => Some(source),
            NetError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for NetError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => NetError::Closed,
            // rustls reports handshake and certificate problems as InvalidData
            io::ErrorKind::InvalidData if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => {
                NetError::Tls(e.to_string())
            }
            _ => NetError::Io(e),
        }
    }
}

/// Run `fut` with a deadline, naming what timed out.
pub async fn with_timeout<T>(
    after: Option<Duration>,
    during: &'static str,
    fut: impl Future<Output = Result<T, NetError>>,
) -> Result<T, NetError> {
    match after {
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(NetError::Timeout { during, after: d }),
        },
        None => fut.await,
    }
}
