//! The POP3 server core (RFC 1939 with RFC 2449, RFC 2595, RFC 3206 and RFC 5034).
//!
//! The server knows nothing of files or password hashes: it works through [`Backend`] (who may
//! log in, and opening a user's maildrop with its exclusive lock) and [`Maildrop`] (listing,
//! reading, and the UPDATE state's changes). Both are blocking: password checks run on the
//! small pool of password threads, file work on the bounded pool of file-system threads
//! ([`crate::net::blocking`]), so many sessions make a queue, not many threads.
//!
//! Session rules worth knowing:
//! - deletions and seen flags are applied only at QUIT (the UPDATE state, RFC 1939 §6); a
//!   dropped connection, an idle timeout or a server shutdown changes nothing;
//! - failed logins are answered after a delay with one text whether or not the user exists,
//!   and count against the client address's budget (shared with the SMTP server checking the
//!   same accounts): past it, logins from that address are refused unchecked for a while;
//! - one client address may hold `max_connections_per_address` sessions;
//! - bad input gets `-ERR` and the session goes on, until too many errors end it; so do
//!   NOOP, RSET and CAPA repeated more than `max_junk_commands` times without real work.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::apop_digest;
use super::command::{Command, ParseError};
use super::response::{encode_body, top};
use crate::net::blocking;
use crate::net::events::{EventKind, EventLog, ServerEvent};
use crate::net::limits::{
    AuthAttempt, AuthBudget, AuthFailures, ConnectionsPerAddress, listen_backlog,
};
pub use crate::net::shutdown::Running;
use crate::net::shutdown::{Shutdown, ShutdownSignal, accept, join_or_cut, listen_with_backlog};
use crate::net::stream::{Accepted, SERVER_HANDSHAKE_TIMEOUT};
use crate::net::{LineReader, NetError, Stream, with_timeout};

/// One message as the maildrop lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the maildrop knows it by (a Maildir key).
    pub key: String,
    /// The UIDL id (RFC 1939 §7: 1 to 70 characters 0x21-0x7E, stable across sessions).
    pub uid: String,
    /// Size in octets with CRLF line ends, as `LIST` reports and `RETR` sends.
    pub size: u64,
}

/// A user's mail, opened and locked for one session. Dropping it releases the lock.
pub trait Maildrop: Send + Sync + 'static {
    /// Every message, in a stable order (delivery order).
    fn list(&self) -> Result<Vec<Entry>, MaildropError>;
    /// The message's bytes as stored (LF or CRLF line ends).
    fn read(&self, key: &str) -> Result<Vec<u8>, MaildropError>;
    /// UPDATE state: mark retrieved messages seen (Maildir: `new/` -> `cur/` with `S`).
    fn mark_seen(&self, keys: &[String]) -> Result<(), MaildropError>;
    /// UPDATE state: remove the deleted messages, durably and together where possible.
    fn remove(&self, keys: &[String]) -> Result<(), MaildropError>;
    /// Refresh the lock so other processes do not take it for stale; called about once a
    /// minute while a session is active.
    fn touch(&self) {}
}

/// Why a maildrop could not be opened or used.
#[derive(Debug)]
pub enum MaildropError {
    /// Another session holds the lock: `-ERR [IN-USE]` (RFC 3206 §4).
    InUse,
    /// The backend's own trouble (disk, a message gone): `-ERR [SYS/TEMP]` with its text.
    Temporary(Box<dyn std::error::Error + Send + Sync>),
    /// The blocking pool did not run the operation (it was shut down).
    Internal,
}

impl MaildropError {
    /// A backend error (or message) as a temporary failure.
    pub fn temporary(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        MaildropError::Temporary(e.into())
    }
}

impl std::fmt::Display for MaildropError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaildropError::InUse => f.write_str("the maildrop is locked by another session"),
            MaildropError::Temporary(e) => write!(f, "{e}"),
            MaildropError::Internal => f.write_str("internal error"),
        }
    }
}

impl std::error::Error for MaildropError {}

/// Who may log in, and their maildrops.
pub trait Backend: Send + Sync + 'static {
    type Maildrop: Maildrop;
    /// The account `user` logs in to if `password` is right. Must take as long for unknown
    /// users as for known ones. Runs on [`blocking::passwords`], a fixed set of threads (so
    /// it may keep working memory per thread, as `verify_password_hash_pooled` does).
    fn verify_password(&self, user: &str, password: &str) -> Option<String>;
    /// The account and shared APOP secret of `user`, if the account allows APOP.
    fn apop_secret(&self, user: &str) -> Option<(String, String)>;
    /// Open and lock an account's maildrop.
    fn open_maildrop(&self, account: &str) -> Result<Self::Maildrop, MaildropError>;
}

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Used in the APOP timestamp of the greeting.
    pub hostname: String,
    /// TLS identity, for STLS (or implicit TLS).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (port 995) instead of STLS.
    pub implicit_tls: bool,
    /// The autologout timer: RFC 1939 §3 asks for at least 10 minutes.
    pub idle_timeout: Duration,
    /// How long a failed login waits before its `-ERR`.
    pub auth_failure_delay: Duration,
    /// Failed logins after which the connection is closed.
    pub max_auth_failures: u32,
    /// Failed logins per client address within a window (counted in `auth_failures`); past
    /// it, logins from that address get `-ERR [SYS/TEMP]` unchecked, and the connection closes.
    pub auth_budget: AuthBudget,
    /// The failed-login counts, shared with other servers checking the same accounts.
    pub auth_failures: Arc<AuthFailures>,
    /// Bad commands (unknown, wrong state, bad arguments, overlong) after which the
    /// connection is closed.
    pub max_errors: u32,
    pub max_connections: usize,
    /// Sessions one client address (IPv4, or IPv6 /64) may hold at once (`None`: no limit).
    pub max_connections_per_address: Option<usize>,
    /// NOOP, RSET and CAPA answered before each further one counts as an error; the count
    /// starts again after RETR, TOP or DELE (`None`: no limit).
    pub max_junk_commands: Option<u32>,
    /// Allow USER/PASS and AUTH PLAIN without TLS from other hosts. Like Dovecot, a client on
    /// the server's own address counts as secure.
    pub allow_insecure_auth: bool,
    /// Sent with the IMPLEMENTATION capability.
    pub implementation: String,
    /// How long `Running::stop` lets commands in flight finish.
    pub shutdown_grace: Duration,
    /// Where logins, retrievals and deletions are reported, for logs.
    pub events: Option<Arc<dyn EventLog>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            tls: None,
            implicit_tls: false,
            idle_timeout: Duration::from_secs(600),
            auth_failure_delay: Duration::from_secs(2),
            max_auth_failures: 3,
            auth_budget: AuthBudget::default(),
            auth_failures: AuthFailures::new(),
            max_errors: 20,
            max_connections: 1000,
            max_connections_per_address: Some(50),
            max_junk_commands: Some(100),
            allow_insecure_auth: false,
            implementation: concat!("mailprims ", env!("CARGO_PKG_VERSION")).into(),
            shutdown_grace: Duration::from_secs(30),
            events: None,
        }
    }
}

/// Longest command line, CRLF included. RFC 2449 §4 says 255 octets; allow more for long
/// user names and passwords.
const MAX_COMMAND_LINE: usize = 1024;
/// Longest SASL response line (RFC 5034 §4 sets no limit for them).
const MAX_SASL_LINE: usize = 16 * 1024;
/// Output is flushed once this much is queued even if more pipelined commands are waiting.
const FLUSH_AT: usize = 256 * 1024;

/// Messages up to this size are read on the session's task rather than the blocking pool.
const INLINE_READ: u64 = 64 * 1024;

/// How often an active session refreshes its maildrop lock.
const LOCK_REFRESH: Duration = Duration::from_secs(60);

const AUTH_FAILED: &str = "-ERR [AUTH] Authentication failed.\r\n";

/// Bind `host:port` (port 0: any free port) and start serving on the current runtime.
pub async fn start<B: Backend>(
    host: &str,
    port: u16,
    backend: Arc<B>,
    config: Arc<ServerConfig>,
) -> Result<Running, NetError> {
    let grace = config.shutdown_grace;
    let backlog = listen_backlog(config.max_connections);
    // Off the runtime's threads, like every hash.
    blocking::passwords()
        .run(crate::store::users::prepare_dummy_hash)
        .await;
    listen_with_backlog(host, port, grace, backlog, |listener, shutdown, hard| {
        serve(listener, backend, config, shutdown, hard)
    })
    .await
}

/// Accept connections on `listener` until `shutdown` is triggered, each session in its own
/// task registered with `shutdown` (so the owner can wait for them); then wait for the
/// sessions, or cut them off when `hard` is triggered.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    backend: Arc<B>,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    hard: Shutdown,
) {
    let limit = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let per_address = ConnectionsPerAddress::new(config.max_connections_per_address);
    let mut signal = shutdown.signal();
    let mut tasks = JoinSet::new();
    while let Some((tcp, peer)) = accept(&listener, &mut signal).await {
        // Reap finished sessions so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        let guard = shutdown.task();
        let admitted = match limit.clone().try_acquire_owned() {
            Ok(permit) => match per_address.try_acquire(peer.ip()) {
                Some(slot) => Ok((permit, slot)),
                None => Err(&b"-ERR [SYS/TEMP] Too many connections from your address.\r\n"[..]),
            },
            Err(_) => Err(&b"-ERR [SYS/TEMP] Too many connections, try again later.\r\n"[..]),
        };
        let (permit, slot) = match admitted {
            Ok(admitted) => admitted,
            Err(text) => {
                tasks.spawn(async move {
                    let mut tcp = tcp;
                    let refuse = async {
                        tcp.write_all(text).await?;
                        tcp.shutdown().await
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(5), refuse).await;
                    drop(guard);
                });
                continue;
            }
        };
        let backend = backend.clone();
        let config = config.clone();
        let signal = shutdown.signal();
        tasks.spawn(async move {
            let _ = Session::run(Stream::Plain(tcp), backend, config, signal).await;
            drop(slot);
            drop(permit);
            drop(guard);
        });
    }
    drop(listener);
    // Cutting a session off drops its maildrop (and lock) without UPDATE.
    join_or_cut(tasks, &hard).await;
}

/// A message in the session's snapshot of the maildrop.
struct Slot {
    entry: Entry,
    deleted: bool,
    retrieved: bool,
}

enum State<M> {
    Authorization { user: Option<String> },
    Transaction { maildrop: Arc<M>, slots: Vec<Slot> },
}

/// What the loop does after a command.
enum Next {
    Continue,
    Close,
    StartTls,
}

struct Session<B: Backend> {
    backend: Arc<B>,
    config: Arc<ServerConfig>,
    lines: LineReader<Stream>,
    out: Vec<u8>,
    timestamp: String,
    state: State<B::Maildrop>,
    /// TLS, or a client on our own address: passwords may be sent.
    secure: bool,
    errors: u32,
    auth_failures: u32,
    /// NOOP, RSET and CAPA since the last command that did real work.
    junk: u32,
    last_touch: std::time::Instant,
    /// The client, for the event log.
    peer: Option<SocketAddr>,
    /// The account logged in to.
    account: Option<String>,
}

impl<B: Backend> Session<B> {
    async fn run(
        stream: Stream,
        backend: Arc<B>,
        config: Arc<ServerConfig>,
        mut signal: ShutdownSignal,
    ) -> Result<(), NetError> {
        let peer = stream.peer_addr().ok();
        let (tls, implicit) = (config.tls.as_ref(), config.implicit_tls);
        let Accepted { stream, secure } =
            Accepted::open(stream, tls, implicit, config.allow_insecure_auth).await?;
        let timestamp = new_timestamp(&config.hostname);
        let mut session = Session {
            backend,
            config,
            lines: LineReader::new(stream),
            out: Vec::with_capacity(4096),
            timestamp,
            state: State::Authorization { user: None },
            secure,
            errors: 0,
            auth_failures: 0,
            junk: 0,
            last_touch: std::time::Instant::now(),
            peer,
            account: None,
        };
        let greeting = format!("+OK POP3 server ready {}\r\n", session.timestamp);
        session.out.extend_from_slice(greeting.as_bytes());
        // Whatever happens, nothing is deleted unless QUIT ran the UPDATE state; dropping the
        // session drops its maildrop, which releases the lock.
        loop {
            match session.serve(&mut signal).await? {
                Next::StartTls => session = session.start_tls().await?,
                Next::Continue | Next::Close => return Ok(()),
            }
        }
    }

    /// Run commands until the session ends, or until STLS needs the stream.
    async fn serve(&mut self, signal: &mut ShutdownSignal) -> Result<Next, NetError> {
        loop {
            // Answer pipelined commands in one write: flush only when no complete command is
            // waiting, or when a lot is queued.
            let pending_line = memchr::memchr(b'\n', self.lines.buffer()).is_some();
            if !pending_line || self.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
            let idle = self.config.idle_timeout;
            let span = tokio::select! {
                biased;
                r = tokio::time::timeout(idle, self.lines.peek_line(MAX_COMMAND_LINE)) => match r {
                    Ok(r) => r,
                    Err(_) => {
                        // RFC 1939 §3: the autologout timer closes without entering UPDATE.
                        self.out.extend_from_slice(b"-ERR Disconnected for inactivity.\r\n");
                        self.flush().await?;
                        return Ok(Next::Close);
                    }
                },
                _ = signal.wait() => {
                    self.out.extend_from_slice(b"-ERR [SYS/TEMP] Server shutting down.\r\n");
                    self.flush().await?;
                    return Ok(Next::Close);
                }
            };
            let span = match span {
                Ok(span) => span,
                Err(NetError::LineTooLong { .. }) => {
                    self.lines.skip_line().await?;
                    self.bad("-ERR Command line too long.");
                    if self.errors >= self.config.max_errors {
                        return self.close_after_errors().await;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let parsed = Command::parse(&self.lines.buffer()[..span.content]);
            self.lines.consume(span.total);
            let next = match parsed {
                Ok(cmd) => self.dispatch(cmd).await?,
                Err(e) => {
                    let text = match e {
                        ParseError::Empty => "-ERR Empty command.".to_owned(),
                        ParseError::Unknown(k) => format!("-ERR Unknown command: {k}"),
                        ParseError::Syntax(usage) => format!("-ERR Syntax: {usage}"),
                    };
                    self.bad(&text);
                    Next::Continue
                }
            };
            match next {
                Next::Continue => {}
                Next::Close => {
                    self.close().await?;
                    return Ok(Next::Close);
                }
                Next::StartTls => {
                    self.flush().await?;
                    return Ok(Next::StartTls);
                }
            }
            if self.errors >= self.config.max_errors {
                return self.close_after_errors().await;
            }
        }
    }

    async fn close_after_errors(&mut self) -> Result<Next, NetError> {
        self.out
            .extend_from_slice(b"-ERR Too many invalid commands, closing.\r\n");
        self.close().await?;
        Ok(Next::Close)
    }

    /// Send what is queued and close. Input the client already sent is read and dropped for a
    /// moment first: closing a socket with unread input makes the kernel send a reset, which
    /// can destroy the last replies before the client reads them.
    async fn close(&mut self) -> Result<(), NetError> {
        self.flush().await?;
        let _ = self.lines.get_mut().shutdown().await;
        self.lines.discard_buffer();
        let drain = async {
            let mut total = 0usize;
            while total < (1 << 20) {
                match self.lines.fill().await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
                self.lines.discard_buffer();
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
        Ok(())
    }

    /// Queue an error reply for bad input, counted towards `max_errors`.
    /// Report an event (with the session's peer, account and TLS state) to the event log.
    fn emit(&self, kind: EventKind, fill: impl FnOnce(&mut ServerEvent)) {
        let (Some(log), Some(peer)) = (&self.config.events, self.peer) else {
            return;
        };
        let mut event = ServerEvent::new(kind, peer);
        event.user = self.account.clone();
        event.tls = self.lines.get_ref().is_tls();
        fill(&mut event);
        log.event(event);
    }

    fn bad(&mut self, text: &str) {
        self.errors += 1;
        self.reply(text);
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let stream = self.lines.get_mut();
        let write = async {
            stream.write_all(&out).await?;
            stream.flush().await?;
            Ok::<_, NetError>(())
        };
        with_timeout(Some(self.config.idle_timeout), "sending a response", write).await?;
        self.out = out;
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out = Vec::with_capacity(4096);
        }
        Ok(())
    }

    async fn dispatch(&mut self, cmd: Command) -> Result<Next, NetError> {
        // PASS must follow USER directly (RFC 1939 §7).
        let pending_user = match &mut self.state {
            State::Authorization { user } => user.take(),
            State::Transaction { .. } => None,
        };
        match cmd {
            Command::Noop | Command::Rset | Command::Capa => self.count_junk(),
            Command::Retr(_) | Command::Top { .. } | Command::Dele(_) => self.junk = 0,
            _ => {}
        }
        match cmd {
            Command::Capa => {
                self.capa();
                Ok(Next::Continue)
            }
            Command::Quit => {
                self.quit().await;
                Ok(Next::Close)
            }
            Command::Noop if self.in_transaction() => {
                self.reply("+OK");
                Ok(Next::Continue)
            }
            Command::Stls => Ok(self.stls()),
            Command::User(name) if !self.in_transaction() => {
                if self.plaintext_refused() {
                    return Ok(Next::Continue);
                }
                self.state = State::Authorization { user: Some(name) };
                self.reply("+OK");
                Ok(Next::Continue)
            }
            Command::Pass(password) if !self.in_transaction() => {
                let Some(user) = pending_user else {
                    self.bad("-ERR No user name given: USER first.");
                    return Ok(Next::Continue);
                };
                if self.plaintext_refused() {
                    return Ok(Next::Continue);
                }
                self.password_login(user, password, "USER").await
            }
            Command::Apop { name, digest } if !self.in_transaction() => {
                self.apop_login(name, digest).await
            }
            Command::Auth { mechanism, initial } if !self.in_transaction() => {
                self.auth(mechanism, initial).await
            }
            cmd if !self.in_transaction() => {
                let text = format!(
                    "-ERR Not logged in: {} needs USER/PASS, APOP or AUTH first.",
                    cmd.keyword()
                );
                Ok(self.bad_next(&text))
            }
            Command::User(_) | Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } => {
                Ok(self.bad_next("-ERR Already logged in."))
            }
            cmd => self.transaction(cmd).await,
        }
    }

    /// Past `max_junk_commands`, each NOOP, RSET or CAPA counts as an error.
    fn count_junk(&mut self) {
        self.junk = self.junk.saturating_add(1);
        if self
            .config
            .max_junk_commands
            .is_some_and(|max| self.junk > max)
        {
            self.errors += 1;
        }
    }

    fn bad_next(&mut self, text: &str) -> Next {
        self.bad(text);
        Next::Continue
    }

    fn in_transaction(&self) -> bool {
        matches!(self.state, State::Transaction { .. })
    }

    fn tls_available(&self) -> bool {
        self.config.tls.is_some() && !self.lines.get_ref().is_tls()
    }

    /// Refuse a cleartext password on an insecure connection (Dovecot's wording).
    fn plaintext_refused(&mut self) -> bool {
        if self.secure {
            return false;
        }
        self.bad(
            "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
        );
        true
    }

    fn capa(&mut self) {
        let mut caps = String::from(
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n",
        );
        if !self.in_transaction() {
            if self.secure {
                caps.push_str("USER\r\nSASL PLAIN\r\n");
            }
            if self.tls_available() {
                caps.push_str("STLS\r\n");
            }
        }
        let _ = write!(
            caps,
            "IMPLEMENTATION {}\r\n.\r\n",
            self.config.implementation
        );
        self.out.extend_from_slice(caps.as_bytes());
    }

    fn stls(&mut self) -> Next {
        if self.in_transaction() {
            return self.bad_next("-ERR STLS is only valid before login.");
        }
        if self.lines.get_ref().is_tls() {
            return self.bad_next("-ERR Already using TLS.");
        }
        if self.config.tls.is_none() {
            return self.bad_next("-ERR TLS is not available.");
        }
        self.reply("+OK Begin TLS negotiation now.");
        Next::StartTls
    }

    async fn start_tls(self) -> Result<Self, NetError> {
        let Some(tls) = self.config.tls.clone() else {
            return Err(NetError::Config("STLS without a certificate".into()));
        };
        // Commands pipelined after STLS arrived in plaintext: they must not run as if they came
        // over TLS (RFC 2595 §4, the CVE-2011-0411 injection). Drop the connection.
        let stream = self.lines.into_inner().map_err(|(_, n)| {
            NetError::Io(std::io::Error::other(format!(
                "{n} bytes sent after STLS before the handshake"
            )))
        })?;
        let stream = stream
            .start_tls_server(tls, Some(SERVER_HANDSHAKE_TIMEOUT))
            .await?;
        Ok(Session {
            lines: LineReader::new(stream),
            secure: true,
            state: State::Authorization { user: None },
            ..self
        })
    }

    async fn password_login(
        &mut self,
        user: String,
        password: String,
        mechanism: &'static str,
    ) -> Result<Next, NetError> {
        let Some(attempt) = self.begin_check() else {
            return Ok(self.over_budget());
        };
        let backend = self.backend.clone();
        let name = user.clone();
        let account = blocking::passwords()
            .run(move || backend.verify_password(&user, &password))
            .await
            .flatten();
        self.finish_login(name, account, mechanism, attempt).await
    }

    /// A password check counted against the client address's failed-login budget (checks
    /// still running count too), or `None` when the budget is used up.
    fn begin_check(&self) -> Option<Option<AuthAttempt>> {
        let Some(peer) = self.peer else {
            return Some(None);
        };
        self.config
            .auth_failures
            .begin(peer.ip(), &self.config.auth_budget)
            .map(Some)
    }

    /// The client's address has used up its failed-login budget: refused without a password
    /// check, and the connection closes.
    fn over_budget(&mut self) -> Next {
        self.reply("-ERR [SYS/TEMP] Too many failed logins from your address, try again later.");
        Next::Close
    }

    async fn apop_login(&mut self, name: String, digest: String) -> Result<Next, NetError> {
        let Some(attempt) = self.begin_check() else {
            return Ok(self.over_budget());
        };
        let backend = self.backend.clone();
        let timestamp = self.timestamp.clone();
        let given = name.clone();
        let account = blocking::passwords()
            .run(move || {
                // Compute a digest for unknown users too, so both paths take the same time.
                let (account, secret) = backend
                    .apop_secret(&name)
                    .map(|(a, s)| (Some(a), s))
                    .unwrap_or((None, String::from("\u{0}no such user")));
                let expected = apop_digest(&timestamp, &secret);
                account.filter(|_| bool::from(expected.as_bytes().ct_eq(digest.as_bytes())))
            })
            .await
            .flatten();
        self.finish_login(given, account, "APOP", attempt).await
    }

    /// AUTH (RFC 5034): with no mechanism, list them; PLAIN (RFC 4616) with or without an
    /// initial response.
    async fn auth(
        &mut self,
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> Result<Next, NetError> {
        let Some(mechanism) = mechanism else {
            self.out.extend_from_slice(if self.secure {
                b"+OK\r\nPLAIN\r\n.\r\n"
            } else {
                b"+OK\r\n.\r\n"
            });
            return Ok(Next::Continue);
        };
        if mechanism != "PLAIN" {
            return Ok(self.bad_next("-ERR Unsupported authentication mechanism."));
        }
        if self.plaintext_refused() {
            return Ok(Next::Continue);
        }
        let response = match initial {
            Some(r) if r == "=" => String::new(),
            Some(r) => r,
            None => {
                self.out.extend_from_slice(b"+ \r\n");
                self.flush().await?;
                let read = self.lines.read_line(MAX_SASL_LINE);
                let line = match tokio::time::timeout(self.config.idle_timeout, read).await {
                    Ok(Ok(line)) => line,
                    Ok(Err(NetError::LineTooLong { .. })) => {
                        self.lines.skip_line().await?;
                        return Ok(self.bad_next("-ERR Authentication response too long."));
                    }
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(Next::Close),
                };
                if line == b"*" {
                    // RFC 5034 §4: the client cancelled.
                    self.reply("-ERR Authentication cancelled.");
                    return Ok(Next::Continue);
                }
                String::from_utf8_lossy(&line).into_owned()
            }
        };
        let Some((user, password)) = crate::net::sasl::plain_base64(response.as_bytes()) else {
            return Ok(self.bad_next("-ERR Invalid AUTH PLAIN response."));
        };
        self.password_login(user, password, "AUTH PLAIN").await
    }

    /// After a credential check: open the maildrop, or a delayed, uniform `-ERR`.
    async fn finish_login(
        &mut self,
        given: String,
        account: Option<String>,
        mechanism: &'static str,
        attempt: Option<AuthAttempt>,
    ) -> Result<Next, NetError> {
        let Some(account) = account else {
            if let Some(attempt) = attempt {
                attempt.failed();
            }
            self.emit(EventKind::LoginFailed, |e| {
                e.user = Some(given);
                e.mechanism = Some(mechanism);
            });
            self.auth_failures += 1;
            tokio::time::sleep(self.config.auth_failure_delay).await;
            self.out.extend_from_slice(AUTH_FAILED.as_bytes());
            if self.auth_failures >= self.config.max_auth_failures {
                return Ok(Next::Close);
            }
            return Ok(Next::Continue);
        };
        let backend = self.backend.clone();
        let opened = {
            let account = account.clone();
            blocking::files()
                .run(move || {
                    let maildrop = backend.open_maildrop(&account)?;
                    let entries = maildrop.list()?;
                    Ok::<_, MaildropError>((maildrop, entries))
                })
                .await
                .unwrap_or(Err(MaildropError::Internal))
        };
        match opened {
            Ok((maildrop, entries)) => {
                let slots: Vec<Slot> = entries
                    .into_iter()
                    .map(|entry| Slot {
                        entry,
                        deleted: false,
                        retrieved: false,
                    })
                    .collect();
                let (n, size) = totals(&slots);
                let line = format!(
                    "+OK {account}'s maildrop has {n} {} ({size} octets)",
                    plural(n, "message")
                );
                self.reply(&line);
                self.state = State::Transaction {
                    maildrop: Arc::new(maildrop),
                    slots,
                };
                self.emit(EventKind::Login, |e| {
                    e.user = Some(account.clone());
                    e.mechanism = Some(mechanism);
                });
                self.account = Some(account);
            }
            Err(MaildropError::InUse) => {
                self.reply("-ERR [IN-USE] Mailbox is locked by another POP3 session.");
            }
            Err(why) => {
                let line = format!(
                    "-ERR [SYS/TEMP] Cannot open the mailbox: {}",
                    one_line(&why.to_string())
                );
                self.reply(&line);
            }
        }
        Ok(Next::Continue)
    }

    async fn transaction(&mut self, cmd: Command) -> Result<Next, NetError> {
        let State::Transaction {
            maildrop, slots, ..
        } = &mut self.state
        else {
            return Ok(Next::Continue);
        };
        if self.last_touch.elapsed() >= LOCK_REFRESH {
            self.last_touch = std::time::Instant::now();
            let md = maildrop.clone();
            // Fire and forget: a failed refresh only risks the lock being taken as stale.
            drop(tokio::spawn(blocking::files().run(move || md.touch())));
        }
        match cmd {
            Command::Stat => {
                let (n, size) = totals(slots);
                self.reply(&format!("+OK {n} {size}"));
            }
            Command::List(None) => {
                let (n, size) = totals(slots);
                let mut text = format!("+OK {n} {} ({size} octets)\r\n", plural(n, "message"));
                for (i, s) in slots.iter().enumerate().filter(|(_, s)| !s.deleted) {
                    let _ = write!(text, "{} {}\r\n", i + 1, s.entry.size);
                }
                text.push_str(".\r\n");
                self.out.extend_from_slice(text.as_bytes());
            }
            Command::Uidl(None) => {
                let mut text = String::from("+OK Unique-ID listing follows\r\n");
                for (i, s) in slots.iter().enumerate().filter(|(_, s)| !s.deleted) {
                    let _ = write!(text, "{} {}\r\n", i + 1, s.entry.uid);
                }
                text.push_str(".\r\n");
                self.out.extend_from_slice(text.as_bytes());
            }
            Command::List(Some(n)) => match live(slots, n) {
                Ok(s) => {
                    let line = format!("+OK {n} {}", s.entry.size);
                    self.reply(&line);
                }
                Err(e) => self.reply(&e),
            },
            Command::Uidl(Some(n)) => match live(slots, n) {
                Ok(s) => {
                    let line = format!("+OK {n} {}", s.entry.uid);
                    self.reply(&line);
                }
                Err(e) => self.reply(&e),
            },
            Command::Dele(n) => match live(slots, n) {
                Ok(_) => {
                    slots[n as usize - 1].deleted = true;
                    self.reply(&format!("+OK message {n} deleted"));
                }
                Err(e) => self.reply(&e),
            },
            Command::Rset => {
                for s in slots.iter_mut() {
                    s.deleted = false;
                }
                let (n, size) = totals(slots);
                self.reply(&format!(
                    "+OK maildrop has {n} {} ({size} octets)",
                    plural(n, "message")
                ));
            }
            Command::Noop => self.reply("+OK"),
            Command::Retr(n) | Command::Top { msg: n, .. } => {
                let lines = match cmd {
                    Command::Top { lines, .. } => Some(lines),
                    _ => None,
                };
                let key = match live(slots, n) {
                    Ok(s) => s.entry.key.clone(),
                    Err(e) => {
                        self.reply(&e);
                        return Ok(Next::Continue);
                    }
                };
                let size = slots[n as usize - 1].entry.size;
                let read = if size <= INLINE_READ {
                    // A small file is read in place: handing it to the blocking pool costs
                    // more than the read (tens of microseconds, from the page cache), and a
                    // client that waits for each RETR pays that per message.
                    maildrop.read(&key)
                } else {
                    let md = maildrop.clone();
                    blocking::files()
                        .run(move || md.read(&key))
                        .await
                        .unwrap_or(Err(MaildropError::Internal))
                };
                let data = match read {
                    Ok(d) => d,
                    Err(why) => {
                        let line = format!(
                            "-ERR [SYS/TEMP] Cannot read message {n}: {}",
                            one_line(&why.to_string())
                        );
                        self.reply(&line);
                        return Ok(Next::Continue);
                    }
                };
                match lines {
                    None => {
                        slots[n as usize - 1].retrieved = true;
                        let uid = slots[n as usize - 1].entry.uid.clone();
                        let _ = write!(StringSink(&mut self.out), "+OK {size} octets\r\n");
                        encode_body(&data, &mut self.out);
                        self.emit(EventKind::Retrieved, |e| {
                            e.id = Some(uid);
                            e.size = size;
                        });
                    }
                    Some(lines) => {
                        self.out
                            .extend_from_slice(b"+OK Top of message follows\r\n");
                        encode_body(top(&data, lines), &mut self.out);
                    }
                }
            }
            other => {
                let text = format!("-ERR {} is not valid after login.", other.keyword());
                return Ok(self.bad_next(&text));
            }
        }
        Ok(Next::Continue)
    }

    /// QUIT: in TRANSACTION, the UPDATE state (RFC 1939 §6) removes the deleted messages and
    /// marks the retrieved ones seen, then the lock is released.
    async fn quit(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        let State::Transaction {
            maildrop, slots, ..
        } = state
        else {
            self.reply("+OK POP3 server signing off");
            return;
        };
        let deleted: Vec<String> = slots
            .iter()
            .filter(|s| s.deleted)
            .map(|s| s.entry.key.clone())
            .collect();
        let deleted_entries: Vec<(String, u64)> = slots
            .iter()
            .filter(|s| s.deleted && self.config.events.is_some())
            .map(|s| (s.entry.uid.clone(), s.entry.size))
            .collect();
        let seen: Vec<String> = slots
            .iter()
            .filter(|s| s.retrieved && !s.deleted)
            .map(|s| s.entry.key.clone())
            .collect();
        let left = slots.iter().filter(|s| !s.deleted).count();
        let result = blocking::files()
            .run(move || {
                let removed = if deleted.is_empty() {
                    Ok(())
                } else {
                    maildrop.remove(&deleted)
                };
                // Seen flags matter less than deletions: a failure there is not reported.
                if !seen.is_empty() {
                    let _ = maildrop.mark_seen(&seen);
                }
                removed
                // `maildrop` drops here, on the pool: the lock is released.
            })
            .await
            .unwrap_or(Err(MaildropError::Internal));
        if result.is_ok() {
            for (uid, size) in deleted_entries {
                self.emit(EventKind::Deleted, |e| {
                    e.id = Some(uid);
                    e.size = size;
                });
            }
        }
        match result {
            Ok(()) if left == 0 => self.reply("+OK POP3 server signing off (maildrop empty)"),
            Ok(()) => {
                let line = format!(
                    "+OK POP3 server signing off ({left} {} left)",
                    plural(left, "message")
                );
                self.reply(&line);
            }
            Err(why) => {
                let line = format!(
                    "-ERR [SYS/TEMP] Some deleted messages were not removed: {}",
                    one_line(&why.to_string())
                );
                self.reply(&line);
            }
        }
    }
}

/// `write!` into a byte buffer.
struct StringSink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for StringSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn totals(slots: &[Slot]) -> (usize, u64) {
    slots
        .iter()
        .filter(|s| !s.deleted)
        .fold((0, 0), |(n, size), s| (n + 1, size + s.entry.size))
}

/// The slot for message number `n` unless it does not exist or is deleted (RFC 1939 §5:
/// commands on deleted messages are errors).
fn live(slots: &[Slot], n: u32) -> Result<&Slot, String> {
    match (n as usize).checked_sub(1).and_then(|i| slots.get(i)) {
        Some(s) if !s.deleted => Ok(s),
        Some(_) => Err(format!("-ERR Message {n} already deleted.")),
        None => Err(format!(
            "-ERR No such message, only {} in maildrop.",
            slots.len()
        )),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// An APOP timestamp (RFC 1939 §7: `<process-ID.clock@hostname>`), unique per session.
fn new_timestamp(hostname: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    format!(
        "<{}.{}.{}.{n}@{host}>",
        std::process::id(),
        now.as_secs(),
        now.subsec_nanos()
    )
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
