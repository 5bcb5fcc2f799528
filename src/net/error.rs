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
    /// A client's TLS handshake failed for a reason the user can act on (`failure`);
    /// `detail` is rustls's own text.
    Handshake { failure: TlsFailure, detail: String },
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
            NetError::Handshake { failure, detail } => match failure.hint() {
                Some(hint) => write!(f, "TLS: {detail}: {hint}"),
                None => write!(f, "TLS: {detail}"),
            },
            NetError::Config(msg) => write!(f, "{msg}"),
        }
    }
}

/// Why a client's TLS handshake failed, as far as it tells the user what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The certificate chain ends at a CA the client does not trust (self-signed, private CA).
    UnknownIssuer,
    /// The certificate is not for the name the client connected to.
    WrongName,
    /// The certificate has expired or is not valid yet.
    Expired,
    /// Implicit TLS, and the server answered in plain text or hung up: it may want STARTTLS.
    NotTls,
    /// Anything else.
    Other,
}

impl TlsFailure {
    /// The name Python sees as `TlsError.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsFailure::UnknownIssuer => "unknown_issuer",
            TlsFailure::WrongName => "wrong_name",
            TlsFailure::Expired => "expired",
            TlsFailure::NotTls => "not_tls",
            TlsFailure::Other => "other",
        }
    }

    /// What to do next, in the Python API's words (the command line rewords it).
    pub fn hint(self) -> Option<&'static str> {
        Some(match self {
            TlsFailure::UnknownIssuer => {
                "the server's certificate is not signed by a CA this client trusts \
                 (a self-signed or private-CA certificate?); pass cafile= with that CA's \
                 PEM file (for a self-signed certificate, the certificate itself), or \
                 verify=False for a throwaway test server"
            }
            TlsFailure::WrongName => {
                "the certificate is not valid for the host name connected to; connect by \
                 the name it was issued for, or pass tls_hostname= with that name"
            }
            TlsFailure::Expired => {
                "the certificate has expired or is not valid yet (or this machine's clock \
                 is wrong)"
            }
            TlsFailure::NotTls => {
                "the server did not answer TLS; it may expect STARTTLS on this port: use \
                 tls='starttls' (or tls='auto'), or the implicit-TLS port (465, 993, 995)"
            }
            TlsFailure::Other => return None,
        })
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
