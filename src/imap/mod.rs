//! IMAP (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1) with CONDSTORE (RFC 7162), UIDPLUS (RFC
//! 4315), MOVE (RFC 6851), LITERAL+/LITERAL- (RFC 7888), IDLE (RFC 2177), ESEARCH (RFC
//! 4731), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154), UTF8=ACCEPT (RFC 6855), ID (RFC
//! 2971), ENABLE (RFC 5161) and SASL-IR (RFC 4959). No pyo3.
//!
//! Layers, bottom up, each usable alone (the server reuses the lower ones):
//! - [`lex`]: character classes and a cursor over one frame (atoms, strings, literals,
//!   numbers, flags, dates, sequence sets); [`encode`]: writing strings safely.
//! - [`frame`]: where a response (or command) ends in a byte stream, literals included,
//!   incrementally and in linear time.
//! - [`response`], [`fetch`]: typed server responses; [`types`]: the values they carry.
//! - [`command`], [`search`]: commands that cannot be made to inject CRLF or another
//!   command; [`sequence`]: sequence sets; [`utf7`]: modified UTF-7 mailbox names.
//! - [`client`]: the async client on tokio over [`crate::net`].
//! - [`server`]: the server over a [`crate::store::MaildirStore`] (command parser, session
//!   state machine, mailboxes shared by sessions, Dovecot-compatible Maildir++ storage).

pub mod client;
pub mod command;
pub mod encode;
pub mod fetch;
pub mod frame;
pub mod lex;
pub mod response;
pub mod search;
pub mod sequence;
pub mod server;
pub mod types;
pub mod utf7;

use std::fmt;

use crate::net::NetError;

pub use client::{
    ClientConfig, Connection, FetchMessages, FlagSets, IdleEvent, LoginMethod, SessionState,
    StoreOperation, StoreResult, TlsMode,
};
pub use command::{FetchAttribute, StatusItem};
pub use lex::ParseError;
pub use response::{Response, Untagged};
pub use search::SearchKey;
pub use sequence::SequenceSet;
pub use types::*;

/// Everything that can go wrong on the client side of an IMAP session.
#[derive(Debug)]
pub enum Error {
    /// Connection, TLS or timeout trouble below IMAP.
    Net(NetError),
    /// The server answered NO or BAD: status, response code and text.
    Response(StatusResponse),
    /// The server said BYE and closed the connection.
    Bye(StatusResponse),
    /// The server broke the protocol: a response that does not parse, or that makes no sense
    /// at this point.
    Protocol(String),
    /// The command cannot be sent: a bad argument (a flag with a space, a NUL in a string),
    /// or a state that does not allow it.
    Usage(String),
    /// The server lacks something the call needs (UIDPLUS for UID EXPUNGE, a SASL mechanism).
    NotSupported(String),
    /// A password would be sent over an unencrypted connection.
    InsecureAuth,
    /// The connection was closed by `logout()` or an earlier fatal error.
    Closed,
}

impl Error {
    /// The server's status response (NO, BAD or BYE), if that is what this is.
    pub fn status(&self) -> Option<&StatusResponse> {
        match self {
            Error::Response(s) | Error::Bye(s) => Some(s),
            _ => None,
        }
    }

    /// The response code of a NO, BAD or BYE (`TRYCREATE`, `AUTHENTICATIONFAILED`, ...).
    pub fn code(&self) -> Option<&ResponseCode> {
        self.status().and_then(|s| s.code.as_ref())
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Net(NetError::Timeout { .. }))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(e) => write!(f, "{e}"),
            Error::Response(s) => write!(f, "{s}"),
            Error::Bye(s) => write!(f, "server closed the connection: {s}"),
            Error::Protocol(m) => write!(f, "IMAP protocol error: {m}"),
            Error::Usage(m) | Error::NotSupported(m) => write!(f, "{m}"),
            Error::InsecureAuth => write!(
                f,
                "refusing to send a password over an unencrypted connection; use TLS \
                 (tls=\"starttls\" or \"implicit\") or allow_insecure_auth=True"
            ),
            Error::Closed => write!(f, "the IMAP connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Net(e) => Some(e),
            _ => None,
        }
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        Error::Net(e)
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Protocol(e.to_string())
    }
}
