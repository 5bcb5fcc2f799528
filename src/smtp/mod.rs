//! SMTP (RFC 5321) on tokio: reply parsing, command formatting, message preparation, the
//! client with its extensions (STARTTLS, AUTH, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, DSN,
//! CHUNKING), a connection pool, and delivery through MX records. No pyo3.

pub mod client;
pub mod command;
pub mod message;
pub mod mx;
pub mod reply;
pub mod server;

use std::fmt;

use crate::net::NetError;
pub use client::{ClientConfig, Connection, Outcome, Pool, Prepared, SendOptions};
pub use reply::{Extensions, Reply};

/// Everything that can go wrong while sending mail.
#[derive(Debug)]
pub enum Error {
    /// Connection, TLS or timeout trouble below SMTP.
    Net(NetError),
    /// The server refused a step with a 4xx/5xx reply, or answered something unexpected.
    Reply { reply: Reply, during: &'static str },
    /// The server broke the protocol (malformed reply).
    Protocol(String),
    /// No recipient was accepted; each one's reply.
    RecipientsRefused(Vec<(String, Reply)>),
    /// The message or the options need an extension the server does not offer.
    NotSupported(String),
    /// An envelope address that cannot be sent (control characters, brackets...).
    InvalidAddress { address: String, reason: String },
    /// A bad option or parameter.
    InvalidArgument(String),
    /// The message is larger than the server's SIZE limit (RFC 1870).
    TooLarge { size: u64, limit: u64 },
    /// Credentials would be sent over an unencrypted connection.
    InsecureAuth,
    /// DNS lookup failed; `permanent` for a domain that does not exist or takes no mail.
    Dns {
        domain: String,
        reason: String,
        permanent: bool,
    },
    /// The client was closed.
    ClientClosed,
}

impl Error {
    /// A lost connection (as opposed to a refusal): worth retrying on a fresh connection.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, Error::Net(NetError::Closed | NetError::Io(_)))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(e) => write!(f, "{e}"),
            Error::Reply { reply, during } => write!(f, "{during}: {reply}"),
            Error::Protocol(m) => write!(f, "SMTP protocol error: {m}"),
            Error::RecipientsRefused(r) => {
                write!(f, "all recipients were refused: ")?;
                for (i, (addr, reply)) in r.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{addr}: {reply}")?;
                }
                Ok(())
            }
            Error::NotSupported(m) => write!(f, "{m}"),
            Error::InvalidAddress { address, reason } => {
                write!(f, "invalid envelope address {address:?}: {reason}")
            }
            Error::InvalidArgument(m) => write!(f, "{m}"),
            Error::TooLarge { size, limit } => write!(
                f,
                "message of {size} octets exceeds the server's SIZE limit of {limit} octets"
            ),
            Error::InsecureAuth => write!(
                f,
                "refusing to send credentials over an unencrypted connection; use TLS \
                 (tls=\"starttls\" or \"implicit\") or allow it explicitly"
            ),
            Error::Dns { domain, reason, .. } => write!(f, "DNS lookup for {domain}: {reason}"),
            Error::ClientClosed => write!(f, "the SMTP client is closed"),
        }
    }
}

impl std::error::Error for Error {}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        Error::Net(e)
    }
}
