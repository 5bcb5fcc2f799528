//! An SMTP server (RFC 5321) on tokio, with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
//! ENHANCEDSTATUSCODES, STARTTLS, AUTH PLAIN/LOGIN and CHUNKING.
//!
//! The protocol lives here; what happens to mail is decided through small traits so the server
//! knows nothing of Python or of the store: [`Hooks`] (per-command decisions, e.g. a Python
//! handler), [`Deliverer`] (where accepted messages go: the in-memory [`Sink`], a Maildir store),
//! [`Authenticator`] (AUTH) and [`Directory`] (local domains and users, for relay control and
//! RFC 5321 §4.5.1 `postmaster`).

pub mod auth;
pub mod command;
pub mod data;
pub mod listener;
pub mod params;
pub mod reply;
pub mod session;
pub mod sink;
pub mod store;
pub mod trace;
pub mod verify;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use listener::{Running, Server};
pub use reply::Reply;
pub use sink::{Sink, StoredMessage};
pub use verify::Verification;

use crate::net::limits::AuthBudget;
use crate::net::stream::TlsInfo;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Operator settings. Defaults follow RFC 5321 §4.5.3 (minimum limits, §4.5.3.2 timeouts).
#[derive(Clone)]
pub struct Config {
    /// The name the server gives in its greeting, EHLO reply and `Received:` fields.
    pub hostname: String,
    /// SIZE limit in octets of message content (RFC 1870); `None` for no limit.
    pub max_message_size: Option<u64>,
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100); more get 452.
    pub max_recipients: usize,
    /// Simultaneous connections; more are told 421 and closed.
    pub max_connections: usize,
    /// Longest command or text line, CRLF included (RFC 5321 §4.5.3.1.4-6: 512 and 1000).
    pub max_line_length: usize,
    /// How long the server waits for the next command (RFC 5321 §4.5.3.2.7: 5 minutes).
    pub timeout: Duration,
    /// How long it waits for each block of message data (RFC 5321 §4.5.3.2.5: 3 minutes).
    pub data_timeout: Duration,
    /// STARTTLS: the server identity, when TLS is offered.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse MAIL until STARTTLS (530 5.7.0).
    pub require_starttls: bool,
    /// Offer and accept AUTH only over TLS (RFC 4954 §4: 538 5.7.11 otherwise).
    pub auth_require_tls: bool,
    /// Message submission (RFC 6409, port 587): MAIL needs AUTH first (530 5.7.0).
    pub submission: bool,
    /// How long `stop` lets transactions in flight finish before cutting them off.
    pub shutdown_grace: Duration,
    /// Protocol errors tolerated on one connection before it is closed with 421.
    pub max_errors: usize,
    /// Connections one client address (IPv4, or IPv6 /64) may hold at once; more are told
    /// 421 and closed. Postfix's `smtpd_client_connection_count_limit` is 50. `None`: no limit.
    pub max_connections_per_address: Option<usize>,
    /// NOOP, RSET, VRFY and HELP commands answered before each further one counts as an error
    /// (so a client repeating them reaches `max_errors` and is closed), as Postfix's
    /// `smtpd_junk_command_limit` (100); the count starts again after each message accepted.
    /// `None`: no limit.
    pub max_junk_commands: Option<usize>,
    /// How long a transaction may take from MAIL until the last byte of its message (a
    /// deadline for the whole, where `data_timeout` bounds each wait): a client sending a
    /// byte now and then cannot hold a connection for ever. Past it: 421 and close. `None`:
    /// no deadline.
    pub transaction_timeout: Option<Duration>,
    /// How long a failed AUTH waits before its 535 (guessing gets slow; Dovecot waits 2 s).
    pub auth_failure_delay: Duration,
    /// Failed AUTH per client address within a window; past it, AUTH from that address is
    /// answered 421 without a password check until the window has passed.
    pub auth_budget: AuthBudget,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            max_message_size: Some(32 << 20),
            max_recipients: 100,
            max_connections: 1000,
            max_line_length: 1000,
            timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            tls: None,
            require_starttls: false,
            auth_require_tls: true,
            submission: false,
            shutdown_grace: Duration::from_secs(30),
            max_errors: 20,
            max_connections_per_address: Some(50),
            max_junk_commands: Some(100),
            transaction_timeout: Some(Duration::from_secs(1800)),
            auth_failure_delay: Duration::from_secs(2),
            auth_budget: AuthBudget::default(),
        }
    }
}

/// What the server knows about one connection.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The name given with HELO/EHLO.
    pub host_name: Option<String>,
    /// EHLO (as opposed to HELO) was used.
    pub extended: bool,
    pub tls: Option<TlsInfo>,
    /// The user AUTH succeeded for.
    pub auth_user: Option<String>,
}

/// One mail transaction.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// `None` before MAIL; `Some("")` for the null reverse-path `<>`.
    pub mail_from: Option<String>,
    pub mail_options: Vec<String>,
    /// MAIL carried SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    pub rcpt_tos: Vec<String>,
    pub rcpt_options: Vec<Vec<String>>,
    /// The message as delivered: the trace fields this server added, then the data received
    /// (dot-unstuffed).
    pub content: Vec<u8>,
    /// Length of the added trace fields at the start of `content`.
    pub trace_len: usize,
    /// The queue id named in the `Received:` field and the 250 reply.
    pub id: String,
    /// What verification found (`Server::verification`), once the data is in.
    pub auth: Option<Arc<crate::auth::AuthReport>>,
}

impl Envelope {
    /// The data as the client sent it, without the trace fields.
    pub fn original_content(&self) -> &[u8] {
        &self.content[self.trace_len.min(self.content.len())..]
    }
}

/// The commands a [`Hooks`] implementation can take part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
}

/// A hook invocation with its arguments.
#[derive(Debug)]
pub enum HookCall<'a> {
    Helo(&'a str),
    /// The host name and the EHLO lines the server would send (first the greeting line).
    Ehlo(&'a str, &'a [String]),
    Mail(&'a str, &'a [String]),
    Rcpt(&'a str, &'a [String]),
    Data,
    Rset,
    Noop(&'a str),
    Quit,
    Vrfy(&'a str),
}

impl HookCall<'_> {
    pub fn hook(&self) -> Hook {
        match self {
            HookCall::Helo(_) => Hook::Helo,
            HookCall::Ehlo(..) => Hook::Ehlo,
            HookCall::Mail(..) => Hook::Mail,
            HookCall::Rcpt(..) => Hook::Rcpt,
            HookCall::Data => Hook::Data,
            HookCall::Rset => Hook::Rset,
            HookCall::Noop(_) => Hook::Noop,
            HookCall::Quit => Hook::Quit,
            HookCall::Vrfy(_) => Hook::Vrfy,
        }
    }
}

/// What a hook decided.
#[derive(Debug, Clone)]
pub enum HookReply {
    /// No opinion: the server's own reply (and action) stands.
    Default,
    Reply(Reply),
    /// For EHLO: the lines to send instead (each without the `250-` prefix).
    EhloLines(Vec<String>),
}

/// Per-command decisions, e.g. by a Python handler object.
pub trait Hooks: Send + Sync {
    /// Whether the hook exists; the server skips the call (and its cost) otherwise.
    fn has(&self, hook: Hook) -> bool;
    fn call<'a>(
        &'a self,
        call: HookCall<'a>,
        session: &'a Session,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, HookReply>;
    /// The connection ended.
    fn closed(&self, _session: &Session) {}
}

/// Where accepted messages go. `deliver` returns only once the message is safe (RFC 5321
/// §4.2.5: the 250 reply to DATA is a promise); an `Err` is the reply to send instead (451,
/// 452, 552).
pub trait Deliverer: Send + Sync {
    fn deliver<'a>(
        &'a self,
        session: &'a Session,
        envelope: &'a mut Envelope,
    ) -> BoxFuture<'a, Result<(), Reply>>;
}

/// Checks AUTH credentials. `Err` is a temporary failure (454).
pub trait Authenticator: Send + Sync {
    fn authenticate<'a>(
        &'a self,
        mechanism: &'a str,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>>;
}

/// How a recipient relates to this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientStatus {
    /// A local mailbox (aliases resolved by the directory).
    Local,
    /// A local domain without such a user: 550 5.1.1.
    Unknown,
    /// Not a local domain: relaying, for authenticated clients only (RFC 5068).
    Remote,
}

/// Local domains and users.
pub trait Directory: Send + Sync {
    fn recipient(&self, address: &str) -> RecipientStatus;
}

/// A fixed list of local domains in which every user exists (the handler decides).
pub struct Domains(pub Vec<String>);

impl Directory for Domains {
    fn recipient(&self, address: &str) -> RecipientStatus {
        match command::domain_of(address) {
            None => RecipientStatus::Local,
            Some(d) if self.0.iter().any(|l| l.eq_ignore_ascii_case(&d)) => RecipientStatus::Local,
            Some(_) => RecipientStatus::Remote,
        }
    }
}
