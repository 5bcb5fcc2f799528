//! One IMAP session: reading commands (literals included, large APPENDs streamed to disk),
//! the states of RFC 9051 §3 (not authenticated, authenticated, selected, logout), login,
//! STARTTLS, IDLE, and the reporting of other sessions' changes. The mailbox commands are in
//! [`super::mailboxes`], the message commands in [`super::messages`].
//!
//! Rules worth knowing:
//! - passwords are refused on unencrypted connections from other hosts (LOGINDISABLED), as
//!   Dovecot does; failed logins are answered after a delay, with one text whether or not the
//!   user exists, and too many end the connection, as do too many bad commands;
//! - a command line, a literal and a whole command are bounded; an APPEND's message goes to
//!   the Maildir's `tmp/` as it arrives, never whole into memory;
//! - commands sent after STARTTLS before the handshake end the connection (injection).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::command::{self, BadCommand, Command};
use super::conn::Conn;
use super::folders::{self, Folders};
use super::selected::{Selected, Updates, write_updates};
use super::{Backend, ServerConfig};
use crate::imap::frame::{FrameError, FrameLimits, FrameScanner, Scan, Side};
use crate::imap::lex::LiteralHeader;
use crate::imap::types::{ResponseCode, Status, StatusResponse};
use crate::imap::utf7;
use crate::net::events::{EventKind, ServerEvent};
use crate::net::shutdown::ShutdownSignal;
use crate::net::stream::{Accepted, SERVER_HANDSHAKE_TIMEOUT};
use crate::net::{NetError, Stream};
use crate::store::Maildir;

/// Longest SASL response line.
const MAX_SASL_LINE: usize = 8 * 1024;
/// A non-synchronising literal over the limits is read and dropped up to this size, so the
/// session can go on; beyond it the connection is closed.
const DISCARD_LIMIT: u64 = 1 << 30;

/// What the session does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    StartTls,
    Close,
}

/// The logged-in user.
pub(crate) struct User {
    pub name: String,
    pub folders: Folders,
    /// The store's handle of the user's Maildir (shared with the SMTP server, so its
    /// deliveries are heard at once).
    pub inbox: Maildir,
}

pub(crate) struct Session {
    pub backend: Arc<Backend>,
    pub config: Arc<ServerConfig>,
    pub conn: Conn,
    pub peer: SocketAddr,
    /// TLS, or a client on our own address: passwords may be sent.
    pub secure: bool,
    pub user: Option<User>,
    pub selected: Option<Selected>,
    pub errors: u32,
    auth_failures: u32,
    /// ENABLE IMAP4rev2: UTF-8 mailbox names, ESEARCH answers, no \Recent.
    pub rev2: bool,
    /// SEARCHRES (RFC 5182): the UIDs of the last `SEARCH RETURN (SAVE)`.
    pub saved: Vec<u32>,
    signal: ShutdownSignal,
    pub runtime: tokio::runtime::Handle,
}

/// Attempts to take a mailbox's state lock without a blocking thread: half yields to the
/// other tasks, half one-millisecond sleeps.
const QUICK_LOCK_TRIES: u32 = 16;

/// What arrived.
enum Incoming {
    Frame(Vec<u8>),
    /// Dealt with while reading (an APPEND, a literal that was refused).
    Handled,
    Closed,
    Idle,
    Shutdown,
}

/// A handler's tagged response.
pub(crate) type Reply = StatusResponse;

pub(crate) fn ok(text: &str) -> Reply {
    StatusResponse {
        status: Status::Ok,
        code: None,
        text: text.to_owned(),
    }
}

pub(crate) fn ok_code(code: ResponseCode, text: &str) -> Reply {
    StatusResponse {
        status: Status::Ok,
        code: Some(code),
        text: text.to_owned(),
    }
}

pub(crate) fn no(code: Option<ResponseCode>, text: &str) -> Reply {
    StatusResponse {
        status: Status::No,
        code,
        text: text.to_owned(),
    }
}

pub(crate) fn bad(text: &str) -> Reply {
    StatusResponse {
        status: Status::Bad,
        code: None,
        text: text.to_owned(),
    }
}

/// A store failure as a NO: a full disk is OVERQUOTA, anything else SERVERBUG.
pub(crate) fn store_failure(e: &crate::store::StoreError) -> Reply {
    if e.is_storage_full() {
        no(Some(ResponseCode::OverQuota), "Not enough disk space.")
    } else {
        no(
            Some(ResponseCode::ServerBug),
            &format!("Internal error: {}", one_line(&e.to_string())),
        )
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// Run `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Serve one connection until it ends.
pub async fn run(
    stream: Stream,
    peer: SocketAddr,
    backend: Arc<Backend>,
    config: Arc<ServerConfig>,
    signal: ShutdownSignal,
) -> Result<(), NetError> {
    let (tls, implicit) = (config.tls.as_ref(), config.implicit_tls);
    let Accepted { stream, secure } =
        Accepted::open(stream, tls, implicit, config.allow_insecure_auth).await?;
    let mut session = Session {
        conn: Conn::new(stream, config.idle_timeout),
        backend,
        config,
        peer,
        secure,
        user: None,
        selected: None,
        errors: 0,
        auth_failures: 0,
        rev2: false,
        saved: Vec::new(),
        signal,
        runtime: tokio::runtime::Handle::current(),
    };
    let caps = session.capabilities();
    session.line(&format!(
        "* OK [CAPABILITY {caps}] {} IMAP server ready.",
        session.config.hostname
    ));
    loop {
        match session.serve().await {
            Ok(Flow::StartTls) => session = session.start_tls().await?,
            Ok(_) => {
                session.conn.close().await;
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

impl Session {
    pub fn line(&mut self, text: &str) {
        self.conn.out.extend_from_slice(text.as_bytes());
        self.conn.out.extend_from_slice(b"\r\n");
    }

    pub fn utf8(&self) -> bool {
        self.rev2
    }

    /// The capabilities to announce now.
    pub fn capabilities(&self) -> String {
        let mut caps = String::from(
            "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS \
             MOVE CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE ESEARCH SEARCHRES BINARY \
             STATUS=SIZE",
        );
        if self.user.is_none() {
            if self.config.tls.is_some() && !self.conn.stream().is_tls() {
                caps.push_str(" STARTTLS");
            }
            if self.secure {
                caps.push_str(" AUTH=PLAIN");
            } else {
                caps.push_str(" LOGINDISABLED");
            }
        }
        caps
    }

    /// Report an event to the log.
    pub fn emit(&self, kind: EventKind, fill: impl FnOnce(&mut ServerEvent)) {
        let Some(log) = &self.config.events else {
            return;
        };
        let mut event = ServerEvent::new(kind, self.peer);
        event.user = self.user.as_ref().map(|u| u.name.clone());
        event.tls = self.conn.stream().is_tls();
        fill(&mut event);
        log.event(event);
    }

    fn timeout(&self) -> Duration {
        if self.user.is_some() {
            self.config.idle_timeout
        } else {
            self.config.login_timeout
        }
    }

    /// Read more input, or say why not.
    async fn wait_input(&mut self) -> Result<Option<Incoming>, NetError> {
        let limit = self.timeout();
        tokio::select! {
            biased;
            _ = self.signal.wait() => Ok(Some(Incoming::Shutdown)),
            r = tokio::time::timeout(limit, self.conn.fill()) => match r {
                Err(_) => Ok(Some(Incoming::Idle)),
                Ok(Ok(0)) => Ok(Some(Incoming::Closed)),
                Ok(Ok(_)) => Ok(None),
                Ok(Err(NetError::Closed)) => Ok(Some(Incoming::Closed)),
                Ok(Err(e)) => Err(e),
            }
        }
    }

    fn limits(&self) -> FrameLimits {
        FrameLimits {
            max_line: self.config.max_line,
            // Checked by the session at each literal (APPEND has its own limit).
            max_literal: u64::MAX,
            max_frame: self.config.max_line + self.config.max_literal as usize * 4,
        }
    }

    /// The next command frame (literals answered with `+` as they come).
    async fn next_frame(&mut self) -> Result<Incoming, NetError> {
        let mut scanner = FrameScanner::new(Side::Commands, self.limits());
        loop {
            let scanned = scanner.scan(self.conn.buffered());
            match scanned {
                Ok(Scan::Complete { end }) => {
                    let frame = self.conn.buffered()[..end].to_vec();
                    self.conn.consume(end);
                    return Ok(Incoming::Frame(frame));
                }
                Ok(Scan::Incomplete) => {
                    if !scanner.in_progress() {
                        // Nothing pending from the client: what is queued goes out now.
                        self.conn.flush().await?;
                    }
                    if let Some(stop) = self.wait_input().await? {
                        return Ok(stop);
                    }
                }
                Ok(Scan::Literal { header, data_start }) => {
                    let head = &self.conn.buffered()[..data_start];
                    if let Some(append) = command::append_head(head) {
                        self.conn.consume(data_start);
                        self.append_streamed(append, header).await?;
                        return Ok(Incoming::Handled);
                    }
                    if header.size > self.config.max_literal {
                        let tag = command::tag_of(head);
                        self.conn.consume(data_start);
                        return self.refuse_literal(tag, header).await;
                    }
                    if header.synchronizing {
                        self.line("+ Ready for literal data");
                        self.conn.flush().await?;
                    }
                }
                Err(FrameError::LineTooLong { .. }) | Err(FrameError::FrameTooLarge { .. }) => {
                    let tag = command::tag_of(self.conn.buffered());
                    self.skip_line().await?;
                    self.bad_response(tag, "Command line too long.");
                    return Ok(Incoming::Handled);
                }
                Err(e) => {
                    let tag = command::tag_of(self.conn.buffered());
                    self.skip_line().await?;
                    self.bad_response(tag, &format!("Error in IMAP command: {e}"));
                    return Ok(Incoming::Handled);
                }
            }
        }
    }

    /// Drop input up to the end of the current line.
    async fn skip_line(&mut self) -> Result<(), NetError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.conn.buffered()) {
                self.conn.consume(i + 1);
                return Ok(());
            }
            let n = self.conn.buffered().len();
            self.conn.consume(n);
            if self.wait_input().await?.is_some() {
                return Ok(());
            }
        }
    }

    /// Read and drop `n` octets (a literal that was refused but already sent).
    pub async fn discard(&mut self, mut n: u64) -> Result<bool, NetError> {
        while n > 0 {
            if self.conn.buffered().is_empty() && self.wait_input().await?.is_some() {
                return Ok(false);
            }
            let take = (self.conn.buffered().len() as u64).min(n) as usize;
            self.conn.consume(take);
            n -= take as u64;
        }
        Ok(true)
    }

    /// A literal over the limit: refused before its data (synchronising), or read and dropped
    /// with the rest of the command (non-synchronising), or the connection closed.
    async fn refuse_literal(
        &mut self,
        tag: Option<String>,
        header: LiteralHeader,
    ) -> Result<Incoming, NetError> {
        if !header.synchronizing {
            if header.size > DISCARD_LIMIT || !self.discard(header.size).await? {
                self.line("* BYE Literal too large.");
                return Ok(Incoming::Closed);
            }
            self.skip_line().await?;
        }
        let text = "[TOOBIG] Literal too large.";
        match tag {
            Some(t) => self.line(&format!("{t} NO {text}")),
            None => self.line(&format!("* BAD {text}")),
        }
        self.errors += 1;
        Ok(Incoming::Handled)
    }

    pub fn bad_response(&mut self, tag: Option<String>, text: &str) {
        self.errors += 1;
        match tag {
            Some(t) => self.line(&format!("{t} BAD {text}")),
            None => self.line(&format!("* BAD {text}")),
        }
    }

    /// Commands until the session ends (or STARTTLS needs the stream).
    async fn serve(&mut self) -> Result<Flow, NetError> {
        loop {
            if self.errors >= self.config.max_errors {
                self.line("* BYE Too many invalid IMAP commands.");
                return Ok(Flow::Close);
            }
            let frame = match self.next_frame().await? {
                Incoming::Frame(f) => f,
                Incoming::Handled => continue,
                Incoming::Closed => return Ok(Flow::Close),
                Incoming::Idle => {
                    self.line("* BYE Disconnected for inactivity.");
                    return Ok(Flow::Close);
                }
                Incoming::Shutdown => {
                    self.line("* BYE Server shutting down.");
                    return Ok(Flow::Close);
                }
            };
            let (tag, cmd) = match command::parse(&frame) {
                Ok(parsed) => parsed,
                Err(BadCommand { tag, text }) => {
                    self.bad_response(tag, &text);
                    continue;
                }
            };
            drop(frame);
            // Boxed: the session's own future stays small while it waits (IDLE).
            let flow = Box::pin(self.dispatch(&tag, cmd)).await?;
            if flow != Flow::Continue {
                return Ok(flow);
            }
        }
    }

    /// Run one command and send its tagged response.
    async fn dispatch(&mut self, tag: &str, cmd: Command) -> Result<Flow, NetError> {
        let name = cmd.name();
        // Sequence-number FETCH, STORE and SEARCH must not see EXPUNGE (RFC 9051 §7.5.1).
        let expunge_ok = !matches!(
            cmd,
            Command::Fetch { uid: false, .. }
                | Command::Store { uid: false, .. }
                | Command::Search { uid: false, .. }
        );
        let authenticated = self.user.is_some();
        let reply = match cmd {
            Command::Capability => {
                let caps = self.capabilities();
                self.line(&format!("* CAPABILITY {caps}"));
                ok("Capability completed.")
            }
            Command::Noop | Command::Check => {
                if self.selected.is_some() {
                    self.refresh(true).await;
                }
                ok(&format!("{name} completed."))
            }
            Command::Logout => {
                self.line("* BYE Logging out.");
                self.line(&format!("{tag} OK Logout completed."));
                return Ok(Flow::Close);
            }
            Command::Id(_) => {
                let (name, version) = self
                    .config
                    .implementation
                    .split_once(' ')
                    .unwrap_or((&self.config.implementation, ""));
                let mut out = b"* ID (\"name\" ".to_vec();
                crate::imap::encode::write_string(&mut out, name.as_bytes(), false);
                out.extend_from_slice(b" \"version\" ");
                crate::imap::encode::write_string(&mut out, version.as_bytes(), false);
                out.extend_from_slice(b")\r\n");
                self.conn.out.extend_from_slice(&out);
                ok("ID completed.")
            }
            Command::StartTls => return self.starttls(tag),
            Command::Login { user, password } if !authenticated => {
                let user = String::from_utf8_lossy(&user).into_owned();
                let password = String::from_utf8_lossy(&password).into_owned();
                return self.login(tag, user, password, "LOGIN").await;
            }
            Command::Authenticate { mechanism, initial } if !authenticated => {
                return self.authenticate(tag, &mechanism, initial).await;
            }
            Command::Login { .. } | Command::Authenticate { .. } => {
                self.errors += 1;
                bad("Already logged in.")
            }
            Command::Enable(caps) if authenticated => {
                let mut enabled = Vec::new();
                for c in caps {
                    if c == "IMAP4REV2" && !self.rev2 {
                        self.rev2 = true;
                        enabled.push("IMAP4rev2");
                    }
                }
                self.line(format!("* ENABLED {}", enabled.join(" ")).trim_end());
                ok("Enabled.")
            }
            Command::Idle if authenticated => return self.idle(tag).await,
            cmd if !authenticated => {
                self.errors += 1;
                bad(&format!("{} is not allowed before login.", cmd.name()))
            }
            cmd => Box::pin(self.authenticated(tag, cmd)).await?,
        };
        self.finish(tag, reply, expunge_ok).await
    }

    /// Report other sessions' changes, then the tagged response.
    pub async fn finish(
        &mut self,
        tag: &str,
        reply: Reply,
        expunge_ok: bool,
    ) -> Result<Flow, NetError> {
        if self.selected.is_some() && !self.report(expunge_ok).await {
            self.line("* BYE Selected mailbox was deleted, have to disconnect.");
            return Ok(Flow::Close);
        }
        if reply.status == Status::Bad {
            self.errors += 1;
        }
        self.line(&format!("{tag} {reply}"));
        self.conn.maybe_flush().await?;
        Ok(Flow::Continue)
    }

    /// The commands of the authenticated and selected states.
    async fn authenticated(&mut self, tag: &str, cmd: Command) -> Result<Reply, NetError> {
        use Command::*;
        Ok(match cmd {
            Select { mailbox, read_only } => self.select(&mailbox, read_only).await,
            Create(m) => self.create(&m).await,
            Delete(m) => self.delete(&m).await,
            Rename { from, to } => self.rename(&from, &to).await,
            Subscribe(m) => self.subscribe(&m, true).await,
            Unsubscribe(m) => self.subscribe(&m, false).await,
            List {
                reference,
                patterns,
                options,
            } => self.list(&reference, &patterns, &options).await?,
            Lsub { reference, pattern } => self.lsub(&reference, &pattern).await,
            Namespace => {
                self.line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                ok("Namespace completed.")
            }
            Status { mailbox, items } => self.status(&mailbox, &items).await,
            Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(&mailbox, &flags, date, message).await,
            cmd if self.selected.is_none() => {
                bad(&format!("{} needs a selected mailbox.", cmd.name()))
            }
            Close | Unselect => {
                let expunge = matches!(cmd, Close);
                self.unselect(expunge).await;
                ok(&format!("{} completed.", cmd.name()))
            }
            Expunge { uids } => self.expunge(tag, uids).await?,
            Search {
                uid,
                charset,
                keys,
                returns,
            } => self.search(tag, uid, charset, keys, returns).await?,
            Fetch {
                uid,
                set,
                items,
                sets_seen,
            } => self.fetch(uid, &set, &items, sets_seen).await?,
            Store {
                uid,
                set,
                mode,
                silent,
                flags,
            } => self.store(uid, &set, mode, silent, &flags).await,
            Copy { uid, set, mailbox } => self.copy(uid, &set, &mailbox, false).await?,
            Move { uid, set, mailbox } => self.copy(uid, &set, &mailbox, true).await?,
            other => bad(&format!("{} is not allowed now.", other.name())),
        })
    }

    // ---- login ------------------------------------------------------------------------------

    fn starttls(&mut self, tag: &str) -> Result<Flow, NetError> {
        let reply = if self.user.is_some() {
            bad("STARTTLS is only allowed before login.")
        } else if self.conn.stream().is_tls() {
            bad("TLS is already active.")
        } else if self.config.tls.is_none() {
            no(None, "TLS is not available.")
        } else {
            self.line(&format!("{tag} OK Begin TLS negotiation now."));
            return Ok(Flow::StartTls);
        };
        if reply.status == Status::Bad {
            self.errors += 1;
        }
        self.line(&format!("{tag} {reply}"));
        Ok(Flow::Continue)
    }

    async fn start_tls(mut self) -> Result<Session, NetError> {
        self.conn.flush().await?;
        let Some(tls) = self.config.tls.clone() else {
            return Err(NetError::Config("STARTTLS without a certificate".into()));
        };
        let timeout = self.config.idle_timeout;
        let stream = self.conn.into_stream().map_err(|n| {
            NetError::Io(std::io::Error::other(format!(
                "{n} bytes sent after STARTTLS before the handshake"
            )))
        })?;
        let stream = stream
            .start_tls_server(tls, Some(SERVER_HANDSHAKE_TIMEOUT))
            .await?;
        Ok(Session {
            conn: Conn::new(stream, timeout),
            secure: true,
            user: None,
            selected: None,
            ..self
        })
    }

    fn plaintext_refused(&mut self) -> Option<Reply> {
        (!self.secure).then(|| {
            no(
                Some(ResponseCode::PrivacyRequired),
                "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
            )
        })
    }

    async fn login(
        &mut self,
        tag: &str,
        user: String,
        password: String,
        mechanism: &'static str,
    ) -> Result<Flow, NetError> {
        if let Some(refused) = self.plaintext_refused() {
            self.line(&format!("{tag} {refused}"));
            return Ok(Flow::Continue);
        }
        let backend = self.backend.clone();
        let given = user.clone();
        // The servers' fixed pool: a burst of logins queues there instead of taking a
        // thread and the hash's 19 MiB each from tokio's pool of 512.
        let account = crate::net::blocking::passwords()
            .run(move || backend.verify_password(&user, &password))
            .await
            .flatten();
        let Some(account) = account else {
            self.emit(EventKind::LoginFailed, |e| {
                e.user = Some(given);
                e.mechanism = Some(mechanism);
            });
            self.auth_failures += 1;
            tokio::time::sleep(self.config.auth_failure_delay).await;
            self.line(&format!(
                "{tag} NO [AUTHENTICATIONFAILED] Authentication failed."
            ));
            if self.auth_failures >= self.config.max_auth_failures {
                self.line("* BYE Too many authentication failures.");
                return Ok(Flow::Close);
            }
            return Ok(Flow::Continue);
        };
        let backend = self.backend.clone();
        let special = self.config.special_folders;
        let name = account.clone();
        let opened = blocking(move || {
            let inbox = backend.store.mailbox(&name, true)?;
            let folders = Folders::new(inbox.path());
            if special {
                let made = folders.create_special().map_err(|e| {
                    crate::store::StoreError::io(
                        "create folders",
                        inbox.path(),
                        std::io::Error::other(e.to_string()),
                    )
                })?;
                if !made.is_empty() {
                    let names: Vec<String> = made.iter().map(|s| (*s).to_owned()).collect();
                    super::control::edit_subscriptions(
                        folders.root(),
                        folders::SEPARATOR,
                        |subs| {
                            for n in names {
                                if !subs.contains(&n) {
                                    subs.push(n);
                                }
                            }
                        },
                    )?;
                }
            }
            Ok::<_, crate::store::StoreError>((inbox, folders))
        })
        .await;
        match opened {
            Some(Ok((inbox, folders))) => {
                self.user = Some(User {
                    name: account.clone(),
                    folders,
                    inbox,
                });
                self.emit(EventKind::Login, |e| e.mechanism = Some(mechanism));
                let caps = self.capabilities();
                self.line(&format!("{tag} OK [CAPABILITY {caps}] Logged in"));
            }
            Some(Err(e)) => {
                let reply = no(
                    Some(ResponseCode::Unavailable),
                    &format!("Cannot open the mailbox: {}", one_line(&e.to_string())),
                );
                self.line(&format!("{tag} {reply}"));
            }
            None => self.line(&format!("{tag} NO [SERVERBUG] Internal error.")),
        }
        Ok(Flow::Continue)
    }

    /// AUTHENTICATE PLAIN (RFC 4616), with or without an initial response (RFC 4959).
    async fn authenticate(
        &mut self,
        tag: &str,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<Flow, NetError> {
        if mechanism != "PLAIN" {
            self.line(&format!("{tag} NO Unsupported authentication mechanism."));
            return Ok(Flow::Continue);
        }
        if let Some(refused) = self.plaintext_refused() {
            self.line(&format!("{tag} {refused}"));
            return Ok(Flow::Continue);
        }
        let response = match initial {
            Some(r) if r == b"=" => Vec::new(),
            Some(r) => r,
            None => {
                self.line("+ ");
                self.conn.flush().await?;
                match self.read_line(MAX_SASL_LINE).await? {
                    Some(line) => line,
                    None => return Ok(Flow::Close),
                }
            }
        };
        if response.trim_ascii() == b"*" {
            self.bad_response(Some(tag.to_owned()), "Authentication aborted by client.");
            return Ok(Flow::Continue);
        }
        let Some((user, password)) = crate::net::sasl::plain_base64(&response) else {
            self.bad_response(
                Some(tag.to_owned()),
                "Invalid base64 data in continued response.",
            );
            return Ok(Flow::Continue);
        };
        self.login(tag, user, password, "AUTHENTICATE PLAIN").await
    }

    /// One line from the client, without its line end (`None`: the session must end).
    async fn read_line(&mut self, limit: usize) -> Result<Option<Vec<u8>>, NetError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.conn.buffered()) {
                if i + 1 > limit {
                    self.conn.consume(i + 1);
                    return Ok(Some(b"*".to_vec()));
                }
                let mut line = self.conn.buffered()[..i].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.conn.consume(i + 1);
                return Ok(Some(line));
            }
            if self.conn.buffered().len() > limit {
                self.skip_line().await?;
                return Ok(Some(b"*".to_vec()));
            }
            if self.wait_input().await?.is_some() {
                return Ok(None);
            }
        }
    }

    // ---- IDLE -------------------------------------------------------------------------------

    /// IDLE (RFC 2177): changes are sent as they happen until the client says DONE.
    async fn idle(&mut self, tag: &str) -> Result<Flow, NetError> {
        self.line("+ idling");
        if self.selected.is_some() {
            self.refresh(false).await;
            if !self.report(true).await {
                self.line("* BYE Selected mailbox was deleted, have to disconnect.");
                return Ok(Flow::Close);
            }
        }
        self.conn.flush().await?;
        let deadline = tokio::time::Instant::now() + self.config.idle_timeout;
        let check = self.config.check_interval;
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.conn.buffered()) {
                let line = self.conn.buffered()[..i].trim_ascii().to_vec();
                self.conn.consume(i + 1);
                if line.eq_ignore_ascii_case(b"DONE") {
                    return self.finish(tag, ok("IDLE terminated."), true).await;
                }
                self.bad_response(Some(tag.to_owned()), "Expected DONE.");
                return Ok(Flow::Continue);
            }
            if self.conn.buffered().len() > 1024 {
                self.bad_response(Some(tag.to_owned()), "Expected DONE.");
                self.skip_line().await?;
                return Ok(Flow::Continue);
            }
            let changes = self.selected.as_mut().map(|s| &mut s.changes);
            let changed = async {
                match changes {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let tick = tokio::time::sleep(check);
            tokio::select! {
                biased;
                _ = self.signal.wait() => {
                    self.line("* BYE Server shutting down.");
                    return Ok(Flow::Close);
                }
                r = tokio::time::timeout_at(deadline, self.conn.fill()) => match r {
                    Err(_) => {
                        self.line("* BYE Disconnected for inactivity.");
                        return Ok(Flow::Close);
                    }
                    Ok(Ok(0)) | Ok(Err(NetError::Closed)) => return Ok(Flow::Close),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                },
                alive = changed => {
                    if !alive || !self.report(true).await {
                        self.line("* BYE Selected mailbox was deleted, have to disconnect.");
                        return Ok(Flow::Close);
                    }
                    self.conn.flush().await?;
                }
                _ = tick => {
                    // Changes by other processes (Dovecot, a MUA) show in the directories.
                    if let Some(sel) = &self.selected
                        && sel.mailbox.check_due(check)
                    {
                        let mb = sel.mailbox.clone();
                        blocking(move || mb.sync(false)).await;
                    }
                }
            }
        }
    }

    // ---- changes ----------------------------------------------------------------------------

    /// Look at the disk for changes by other processes (`force`: now; else if due).
    pub async fn refresh(&mut self, force: bool) {
        let Some(sel) = &self.selected else { return };
        if !force && !sel.mailbox.check_due(self.config.check_interval) {
            return;
        }
        let mb = sel.mailbox.clone();
        blocking(move || mb.sync(false)).await;
    }

    /// Send the selected mailbox's changes; `false` if the mailbox is gone.
    pub async fn report(&mut self, expunge: bool) -> bool {
        let Some(sel) = self.selected.as_mut() else {
            return true;
        };
        // The state's lock is held briefly by everyone, but a blocking thread may hold it
        // through file-system work: then wait for it on the blocking pool.
        // Sessions woken by one change (a thousand in IDLE) take the lock in turn for
        // microseconds each: let the others run and try again, for a few milliseconds at
        // most, before taking a blocking thread each.
        let mb = sel.mailbox.clone();
        let mut quick = None;
        for attempt in 0..QUICK_LOCK_TRIES {
            if let Some(state) = mb.try_lock() {
                let u = sel.collect(&state, expunge);
                let k = if u.flags.is_empty() {
                    Vec::new()
                } else {
                    state.keywords.clone()
                };
                quick = Some((u, k));
                break;
            }
            if attempt < QUICK_LOCK_TRIES / 2 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let (updates, keywords) = match quick {
            Some(v) => v,
            None => {
                let Some(mut taken) = self.selected.take() else {
                    return true;
                };
                let done = blocking(move || {
                    let mb = taken.mailbox.clone();
                    let state = mb.lock();
                    let u = taken.collect(&state, expunge);
                    let k = state.keywords.clone();
                    drop(state);
                    (taken, u, k)
                })
                .await;
                let Some((taken, u, k)) = done else {
                    return false;
                };
                self.selected = Some(taken);
                (u, k)
            }
        };
        if updates.gone {
            self.selected = None;
            return false;
        }
        if !updates.is_empty() {
            self.write_updates(&updates, &keywords);
        }
        true
    }

    pub fn write_updates(&mut self, updates: &Updates, keywords: &[Option<String>]) {
        write_updates(&mut self.conn.out, updates, keywords);
    }

    /// A mailbox name from a command, checked and in canonical form.
    pub fn mailbox_name(&self, raw: &[u8]) -> Result<String, Reply> {
        let name = if self.utf8() {
            String::from_utf8(raw.to_vec()).map_err(|_| bad("Mailbox name is not valid UTF-8."))?
        } else {
            match utf7::decode(raw) {
                Ok(n) => n,
                // Clients that send UTF-8 names without enabling it: taken as UTF-8, as
                // long as they are (Dovecot refuses them; being lenient harms nobody).
                Err(_) => match std::str::from_utf8(raw) {
                    Ok(n) if !n.is_ascii() => n.to_owned(),
                    _ => return Err(no(None, "Mailbox name is not valid mUTF-7.")),
                },
            }
        };
        folders::canonical(&name).map_err(|e| no(Some(ResponseCode::Cannot), &e.to_string()))
    }
}
