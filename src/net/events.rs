//! What the servers did, for an operator's log: messages accepted, POP3 logins, retrievals
//! and deletions. A server given an [`EventLog`] reports each event as it happens; the log
//! must not block (the Python binding queues events and calls Python from one task, in order).

use std::net::SocketAddr;

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// SMTP: a message was accepted (the server replied 250 to its data), after delivery to
    /// the store when there is one.
    Delivered,
    /// POP3, IMAP: a login succeeded.
    Login,
    /// POP3, IMAP: a login failed.
    LoginFailed,
    /// POP3: a message was retrieved (RETR); IMAP: a whole message was fetched.
    Retrieved,
    /// POP3: a message was removed at QUIT (the UPDATE state); IMAP: a message was
    /// expunged.
    Deleted,
    /// IMAP: a message was stored by APPEND.
    Appended,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Delivered => "delivered",
            EventKind::Login => "login",
            EventKind::LoginFailed => "login_failed",
            EventKind::Retrieved => "retrieved",
            EventKind::Deleted => "deleted",
            EventKind::Appended => "appended",
        }
    }
}

/// One event. Fields that do not apply to a kind are empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    pub kind: EventKind,
    /// The client.
    pub peer: SocketAddr,
    /// SMTP: the AUTH user, if any; POP3: the account (or, for a failed login, the name
    /// given).
    pub user: Option<String>,
    /// SMTP: the queue id; POP3: the message's UIDL.
    pub id: Option<String>,
    /// SMTP: the envelope sender (`""` for the null reverse-path).
    pub sender: Option<String>,
    /// SMTP: the envelope recipients.
    pub recipients: Vec<String>,
    /// Octets: SMTP, the message as the client sent it; POP3, as RETR sends it.
    pub size: u64,
    /// Whether the connection was encrypted.
    pub tls: bool,
    /// POP3 logins: "USER", "APOP" or "AUTH PLAIN".
    pub mechanism: Option<&'static str>,
}

impl ServerEvent {
    /// An event with only its kind and peer set.
    pub fn new(kind: EventKind, peer: SocketAddr) -> Self {
        ServerEvent {
            kind,
            peer,
            user: None,
            id: None,
            sender: None,
            recipients: Vec::new(),
            size: 0,
            tls: false,
            mechanism: None,
        }
    }
}

/// Where a server reports its events. `event` is called on a runtime thread and must return
/// at once.
pub trait EventLog: Send + Sync {
    fn event(&self, event: ServerEvent);
}
