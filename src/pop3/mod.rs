//! POP3 (RFC 1939) with its extensions: CAPA and response codes (RFC 2449), STLS (RFC 2595),
//! AUTH (RFC 5034), IN-USE and SYS/AUTH codes (RFC 3206). Commands and responses are parsed
//! from byte buffers (`command`, `response`), separately from the I/O of the client and the
//! server. No pyo3.

pub mod client;
pub mod command;
pub mod maildrop;
pub mod response;
pub mod server;

use std::fmt;

use crate::net::NetError;
pub use client::{Capabilities, ClientConfig, Connection, LoginMethod};
pub use response::Status;

/// Everything that can go wrong on the client side of a POP3 session.
#[derive(Debug)]
pub enum Error {
    /// Connection, TLS or timeout trouble below POP3.
    Net(NetError),
    /// The server answered `-ERR`.
    Err(Status),
    /// The server broke the protocol (no status indicator, missing terminator, ...).
    Protocol(String),
    /// The command cannot be sent: a bad argument, a feature the server lacks, wrong state.
    Usage(String),
    /// The server lacks something the call needs (an APOP timestamp, a SASL mechanism).
    NotSupported(String),
    /// A password would be sent over an unencrypted connection.
    InsecureAuth,
    /// The connection was closed by `quit()` or an earlier fatal error.
    Closed,
    /// A command before the client ever connected (so before any login).
    NotConnected,
    /// The server refused a command of the transaction state (RFC 1939 §5) before login.
    NotLoggedIn(Status),
}

impl Error {
    /// The server's resp-code (RFC 2449 §8) of an `-ERR`, such as `IN-USE` or `AUTH`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Err(s) | Error::NotLoggedIn(s) => s.code.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(e) => write!(f, "{e}"),
            Error::Err(s) => {
                write!(f, "-ERR")?;
                if let Some(code) = &s.code {
                    write!(f, " [{code}]")?;
                }
                if !s.text.is_empty() {
                    write!(f, " {}", s.text)?;
                }
                Ok(())
            }
            Error::Protocol(m) => write!(f, "POP3 protocol error: {m}"),
            Error::Usage(m) | Error::NotSupported(m) => write!(f, "{m}"),
            Error::InsecureAuth => write!(
                f,
                "refusing to send a password over an unencrypted connection; use TLS \
                 (tls=\"starttls\" or \"implicit\"), APOP, or allow_insecure_auth=True"
            ),
            Error::Closed => write!(f, "the POP3 connection is closed"),
            Error::NotConnected => write!(
                f,
                "not logged in: the POP3 client has not connected yet; call login() or \
                 apop() first"
            ),
            Error::NotLoggedIn(s) => write!(
                f,
                "not logged in: log in with login() or apop() first (the server answered \
                 -ERR {})",
                s.text
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        Error::Net(e)
    }
}
