//! The IMAP client core: one connection on tokio over [`crate::net`] (plain, STARTTLS or
//! implicit TLS with rustls), every command of the issue, IDLE, and a pipelined message
//! stream. No pyo3: the Python classes drive this.
//!
//! Every method takes `&mut self`. A NO or BAD leaves the connection usable
//! ([`Error::Response`]); a network failure, a timeout, a malformed frame or a BYE closes it.
//! Untagged responses that belong to no command (a new message arriving, another session's
//! flag change) are kept, in order and bounded, and come out of [`Connection::take_events`],
//! [`Connection::noop`] and IDLE.
//!
//! Futures are cancel-safe where it matters: a read dropped half-way keeps what it read; a
//! command whose completion was not read yet is finished (and its data dropped) before the
//! next command; an IDLE left running is ended with DONE. A command dropped while it was
//! being written cannot be finished: the connection is then closed.

mod auth;
mod idle;
mod mailbox;
mod message;
mod reader;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

pub use idle::IdleEvent;
pub use message::{FetchMessages, FlagSets, StoreOperation, StoreResult};
pub use reader::DETACH_AT;

use super::Error;
use super::command::{Command, CommandBuilder, Dialect};
use super::frame::FrameLimits;
use super::response::{self, ParseOptions, Response, Untagged};
use super::types::{Capabilities, IdFields, MailboxStatus, ResponseCode, Status, StatusResponse};
use crate::net::stream::TlsInfo;
use crate::net::transcript::Direction;
use crate::net::{Endpoint, LineReader, NetError, Stream, with_timeout};
use reader::{FrameReader, ReadError};

/// How the connection is secured: the one type every client shares.
pub use crate::net::TlsMode;

/// Read buffer size: responses carry whole messages.
const READ_BUFFER: usize = 256 * 1024;
/// Unsolicited responses kept at most; older ones are dropped (and counted).
const MAX_EVENTS: usize = 100_000;
/// ALERT texts kept at most.
const MAX_ALERTS: usize = 100;

/// How `login` authenticates with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// AUTHENTICATE PLAIN when the server offers it, else LOGIN.
    Auto,
    /// LOGIN (RFC 9051 §6.2.3).
    Login,
    /// AUTHENTICATE PLAIN (RFC 4616), with SASL-IR when offered.
    Plain,
}

/// Where and how to connect (the endpoint every client has), and the session's limits.
pub struct ClientConfig {
    pub endpoint: Endpoint,
    /// Line, literal and response size limits.
    pub limits: FrameLimits,
    /// Extensions to ENABLE after login when the server offers them.
    pub enable: Vec<String>,
    /// IDLE is ended and started again after this long (RFC 2177: before 29 minutes).
    pub idle_renewal: Duration,
    /// UIDs per UID FETCH of `fetch_messages`.
    pub fetch_batch: usize,
    /// UID FETCH commands of `fetch_messages` in flight at once.
    pub fetch_pipeline: usize,
    /// Most UIDs a search may return (an ESEARCH `ALL 1:4294967295` must not exhaust memory).
    pub max_search_results: usize,
}

impl ClientConfig {
    /// Defaults: implicit TLS on port 993, STARTTLS when offered elsewhere; 60 s timeouts;
    /// ENABLE of UTF8=ACCEPT, IMAP4rev2 and CONDSTORE; IDLE renewed every 28 minutes.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let mut endpoint = Endpoint::new(host, port);
        if port == 993 {
            endpoint.tls = TlsMode::Implicit;
        }
        ClientConfig::with_endpoint(endpoint)
    }

    /// The defaults above, on `endpoint`.
    pub fn with_endpoint(endpoint: Endpoint) -> Self {
        ClientConfig {
            endpoint,
            limits: FrameLimits::default(),
            enable: vec!["UTF8=ACCEPT".into(), "IMAP4REV2".into(), "CONDSTORE".into()],
            idle_renewal: Duration::from_secs(28 * 60),
            fetch_batch: 128,
            fetch_pipeline: 2,
            max_search_results: 16 << 20,
        }
    }
}

/// The session's state (RFC 9051 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

/// A completed command: the untagged responses it brought and its tagged OK.
pub(crate) struct Completion {
    pub untagged: Vec<Untagged>,
    pub status: StatusResponse,
}

pub(crate) struct IdleState {
    tag: String,
    since: Instant,
}

/// One IMAP session.
pub struct Connection {
    io: Option<LineReader<Stream>>,
    reader: FrameReader,
    config: Arc<ClientConfig>,
    greeting: StatusResponse,
    caps: Option<Capabilities>,
    enabled: Vec<String>,
    state: SessionState,
    selected: Option<MailboxStatus>,
    tag_counter: u32,
    /// Commands sent whose completion was not read yet, oldest first.
    outstanding: VecDeque<String>,
    idle: Option<IdleState>,
    /// A command is being written; if this is still set when the next begins, the write
    /// was abandoned half-way and the connection cannot be trusted.
    sending: bool,
    /// Untagged responses seen while waiting for a continuation.
    early: Vec<Untagged>,
    events: VecDeque<Untagged>,
    events_dropped: u64,
    alerts: Vec<String>,
    bye: Option<StatusResponse>,
    /// The first untagged response of the current command that did not parse.
    parse_error: Option<String>,
    /// Bumped when a command finishes others' outstanding commands (a message stream
    /// abandoned half-way).
    generation: u64,
}

impl Connection {
    /// Connect, read the greeting and secure the session as `config.endpoint.tls` says.
    pub async fn connect(config: Arc<ClientConfig>) -> Result<Connection, Error> {
        let stream = config.endpoint.connect().await?;
        let mut conn = Connection {
            io: Some(LineReader::with_capacity(stream, READ_BUFFER)),
            reader: FrameReader::new(config.limits),
            config,
            greeting: StatusResponse {
                status: Status::Ok,
                code: None,
                text: String::new(),
            },
            caps: None,
            enabled: Vec::new(),
            state: SessionState::NotAuthenticated,
            selected: None,
            tag_counter: 0,
            outstanding: VecDeque::new(),
            idle: None,
            sending: false,
            early: Vec::new(),
            events: VecDeque::new(),
            events_dropped: 0,
            alerts: Vec::new(),
            bye: None,
            parse_error: None,
            generation: 0,
        };
        let greeting = match conn.read_response(conn.config.endpoint.io_timeout).await? {
            Response::Untagged(Untagged::Status(s)) => s,
            other => {
                conn.io = None;
                return Err(Error::Protocol(format!(
                    "expected a greeting, got {other:?}"
                )));
            }
        };
        match greeting.status {
            Status::Ok => {}
            Status::PreAuth => conn.state = SessionState::Authenticated,
            Status::Bye => {
                conn.io = None;
                return Err(Error::Bye(greeting));
            }
            _ => {
                conn.io = None;
                return Err(Error::Protocol(format!("bad greeting: {greeting}")));
            }
        }
        conn.greeting = greeting;
        let preauth = conn.state == SessionState::Authenticated;
        let tls = conn.config.endpoint.tls;
        match tls {
            TlsMode::StartTls => {
                if preauth {
                    // A PREAUTH greeting leaves no moment for STARTTLS: the session would be
                    // in clear (the PREAUTH downgrade, RFC 9051 §11.1).
                    conn.io = None;
                    return Err(Error::Net(NetError::Tls(
                        "the server sent PREAUTH, so STARTTLS is impossible".into(),
                    )));
                }
                if !conn.capabilities().await?.has("STARTTLS") {
                    conn.io = None;
                    return Err(Error::Net(NetError::Tls(
                        "the server does not offer STARTTLS".into(),
                    )));
                }
                conn.starttls().await?;
            }
            TlsMode::Opportunistic if !preauth && conn.capabilities().await?.has("STARTTLS") => {
                conn.starttls().await?;
            }
            _ => {}
        }
        if preauth {
            conn.after_auth(None).await?;
        }
        Ok(conn)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The greeting.
    pub fn greeting(&self) -> &StatusResponse {
        &self.greeting
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn is_open(&self) -> bool {
        self.io.is_some()
    }

    pub fn is_tls(&self) -> bool {
        self.io.as_ref().is_some_and(|l| l.get_ref().is_tls())
    }

    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.io.as_ref().and_then(|l| l.get_ref().tls_info())
    }

    /// Extensions in force after ENABLE (upper case).
    pub fn enabled(&self) -> &[String] {
        &self.enabled
    }

    /// Whether `name` was enabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|e| e.eq_ignore_ascii_case(name))
    }

    /// Whether names and strings travel as UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled).
    pub fn utf8_enabled(&self) -> bool {
        self.is_enabled("UTF8=ACCEPT") || self.is_enabled("IMAP4REV2")
    }

    /// The selected mailbox, kept up to date by EXISTS and EXPUNGE responses.
    pub fn selected(&self) -> Option<&MailboxStatus> {
        self.selected.as_ref()
    }

    /// ALERT texts the server sent (RFC 9051 §7.1: the user must see them), taken.
    pub fn take_alerts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.alerts)
    }

    /// The capabilities known without asking (`None` after TLS or login until refreshed).
    pub fn cached_capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// How many unsolicited responses were dropped because nobody took them.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    fn has(&self, name: &str) -> bool {
        self.caps.as_ref().is_some_and(|c| c.has(name))
    }

    /// Whether the server speaks IMAP4rev2 here (enabled), which includes ESEARCH, MOVE,
    /// UIDPLUS, UNSELECT, LIST-EXTENDED, LIST-STATUS, NAMESPACE, SPECIAL-USE.
    fn rev2(&self) -> bool {
        self.is_enabled("IMAP4REV2")
    }

    /// Whether an extension is available (offered, or part of enabled IMAP4rev2).
    pub(crate) fn offers(&self, name: &str) -> bool {
        self.has(name)
            || (self.rev2() && REV2_INCLUDES.iter().any(|e| e.eq_ignore_ascii_case(name)))
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match &self.caps {
            Some(c) => Dialect::for_server(c, self.utf8_enabled()),
            None => Dialect {
                utf8: self.utf8_enabled(),
                ..Dialect::default()
            },
        }
    }

    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            utf8: self.utf8_enabled(),
        }
    }

    fn closed_error(&self) -> Error {
        match &self.bye {
            Some(b) => Error::Bye(b.clone()),
            None => Error::Closed,
        }
    }

    fn close_now(&mut self) {
        self.io = None;
        self.idle = None;
        self.outstanding.clear();
        self.selected = None;
        self.state = SessionState::Logout;
    }

    fn fail_net(&mut self, e: NetError) -> Error {
        self.close_now();
        match (e, &self.bye) {
            (NetError::Closed, Some(b)) => Error::Bye(b.clone()),
            (e, _) => Error::Net(e),
        }
    }

    fn fail_protocol(&mut self, message: String) -> Error {
        self.close_now();
        Error::Protocol(message)
    }

    fn next_tag(&mut self) -> String {
        self.tag_counter = self.tag_counter.wrapping_add(1);
        format!("A{:04}", self.tag_counter)
    }

    // ---- I/O ---------------------------------------------------------------------------

    async fn write_raw(&mut self, data: &[u8]) -> Result<(), Error> {
        let timeout = self.config.endpoint.io_timeout;
        let Some(lines) = self.io.as_mut() else {
            return Err(self.closed_error());
        };
        let s = lines.get_mut();
        let result = with_timeout(timeout, "sending a command", async {
            s.write_all(data).await?;
            s.flush().await?;
            Ok(())
        })
        .await;
        result.map_err(|e| self.fail_net(e))
    }

    fn record_frame(&self, frame: &reader::Frame) {
        let Some(t) = &self.config.endpoint.transcript else {
            return;
        };
        let mut last = 0;
        for (at, data) in &frame.detached {
            t.record(Direction::Server, &frame.text[last..*at]);
            t.record_line(Direction::Server, &format!("[{} octets]", data.len()));
            last = *at;
        }
        t.record(Direction::Server, &frame.text[last..]);
    }

    /// The next response, after the session's bookkeeping (capabilities, selected mailbox,
    /// alerts, BYE). An untagged response that does not parse is skipped and remembered; the
    /// command it came with then fails with [`Error::Protocol`], the connection stays usable.
    pub(crate) async fn read_response(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Response, Error> {
        loop {
            let Some(lines) = self.io.as_mut() else {
                return Err(self.closed_error());
            };
            let frame = match self.reader.read(lines, timeout).await {
                Ok(f) => f,
                Err(ReadError::Net(e)) => return Err(self.fail_net(e)),
                Err(ReadError::Frame(e)) => return Err(self.fail_protocol(e.to_string())),
            };
            self.record_frame(&frame);
            let text = frame.text;
            match response::parse_with(&text, frame.detached, self.parse_options()) {
                Ok(r) => {
                    self.observe(&r);
                    return Ok(r);
                }
                Err(e) => {
                    let shown = String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned();
                    let message = format!("{e} in {shown:?}");
                    match tag_of(&text) {
                        Some(tag) => {
                            // A completion we cannot read: the command fails, the session
                            // stays in step.
                            self.parse_error.get_or_insert(message.clone());
                            return Ok(Response::Tagged {
                                tag,
                                status: StatusResponse {
                                    status: Status::Bad,
                                    code: None,
                                    text: message,
                                },
                            });
                        }
                        None if text.starts_with(b"* ") => {
                            // An untagged response we cannot read: skipped, remembered.
                            self.parse_error.get_or_insert(message);
                        }
                        None => return Err(self.fail_protocol(message)),
                    }
                }
            }
        }
    }

    /// Bookkeeping every response gets, whoever reads it.
    fn observe(&mut self, r: &Response) {
        let code = match r {
            Response::Tagged { status, .. } => status.code.as_ref().map(|c| (c, &status.text)),
            Response::Untagged(Untagged::Status(s)) => {
                if s.status == Status::Bye {
                    self.bye = Some(s.clone());
                }
                s.code.as_ref().map(|c| (c, &s.text))
            }
            Response::Untagged(Untagged::Capability(c)) => {
                self.caps = Some(c.clone());
                None
            }
            Response::Untagged(Untagged::Enabled(list)) => {
                for e in list {
                    if !self.is_enabled(e) {
                        self.enabled.push(e.to_ascii_uppercase());
                    }
                }
                None
            }
            Response::Untagged(u) => {
                if let Some(sel) = &mut self.selected {
                    match u {
                        Untagged::Exists(n) => sel.exists = *n,
                        Untagged::Recent(n) => sel.recent = Some(*n),
                        Untagged::Expunge(_) => sel.exists = sel.exists.saturating_sub(1),
                        Untagged::Vanished {
                            earlier: false,
                            uids,
                        } => {
                            let n = uids.count(u32::MAX).min(u64::from(u32::MAX)) as u32;
                            sel.exists = sel.exists.saturating_sub(n);
                        }
                        Untagged::Flags(f) => sel.flags = f.clone(),
                        _ => {}
                    }
                }
                None
            }
            Response::Continuation(_) => None,
        };
        if let Some((code, text)) = code {
            match code {
                ResponseCode::Capability(c) => self.caps = Some(Capabilities::new(c.clone())),
                ResponseCode::Alert if self.alerts.len() < MAX_ALERTS => {
                    self.alerts.push(text.clone())
                }
                _ => {}
            }
            if let Some(sel) = &mut self.selected {
                match code {
                    ResponseCode::UidNext(n) => sel.uid_next = Some(*n),
                    ResponseCode::HighestModSeq(n) => sel.highest_modseq = Some(*n),
                    ResponseCode::PermanentFlags(f) => sel.permanent_flags = f.clone(),
                    _ => {}
                }
            }
        }
    }

    /// Keep the unsolicited responses among `untagged` for [`Connection::take_events`].
    pub(crate) fn keep_events(&mut self, untagged: Vec<Untagged>) {
        for u in untagged {
            let keep = matches!(
                u,
                Untagged::Exists(_)
                    | Untagged::Expunge(_)
                    | Untagged::Recent(_)
                    | Untagged::Fetch(_)
                    | Untagged::Vanished { .. }
                    | Untagged::Flags(_)
            );
            if keep {
                if self.events.len() >= MAX_EVENTS {
                    self.events.pop_front();
                    self.events_dropped += 1;
                }
                self.events.push_back(u);
            }
        }
    }

    /// Unsolicited changes seen so far (new messages, expunges, flag changes), taken.
    pub fn take_events(&mut self) -> Vec<IdleEvent> {
        self.events
            .drain(..)
            .filter_map(IdleEvent::from_untagged)
            .collect()
    }

    /// Send a command (waiting for `+` at each synchronising literal); its tag.
    pub(crate) async fn send(&mut self, cmd: &Command) -> Result<String, Error> {
        let tag = self.next_tag();
        if let Some(t) = &self.config.endpoint.transcript {
            t.record(Direction::Client, format!("{tag} {}", cmd.shown).as_bytes());
        }
        self.sending = true;
        let last = cmd.parts.len().saturating_sub(1);
        for (i, part) in cmd.parts.iter().enumerate() {
            if i == 0 {
                let mut first = Vec::with_capacity(tag.len() + 1 + part.len());
                first.extend_from_slice(tag.as_bytes());
                first.push(b' ');
                first.extend_from_slice(part);
                self.write_raw(&first).await?;
            } else {
                self.write_raw(part).await?;
            }
            if i < last {
                loop {
                    match self.read_response(self.config.endpoint.io_timeout).await? {
                        Response::Continuation(_) => break,
                        Response::Untagged(u) => self.early.push(u),
                        Response::Tagged { tag: t, status } if t == tag => {
                            // Refused before the literal was sent: nothing more goes out.
                            self.sending = false;
                            self.parse_error = None;
                            let early = std::mem::take(&mut self.early);
                            self.keep_events(early);
                            return Err(if status.status == Status::Ok {
                                Error::Protocol(format!(
                                    "{} completed before its literal was sent",
                                    cmd.name
                                ))
                            } else {
                                Error::Response(status)
                            });
                        }
                        Response::Tagged { tag: t, .. } => {
                            return Err(self.fail_protocol(format!(
                                "completion for an unknown command {t:?}"
                            )));
                        }
                    }
                }
            }
        }
        self.sending = false;
        self.outstanding.push_back(tag.clone());
        Ok(tag)
    }

    /// Write `DONE` to end IDLE.
    async fn send_done(&mut self) -> Result<(), Error> {
        if let Some(t) = &self.config.endpoint.transcript {
            t.record_line(Direction::Client, "DONE");
        }
        self.sending = true;
        self.write_raw(b"DONE\r\n").await?;
        self.sending = false;
        Ok(())
    }

    /// Before a command: end IDLE, and finish every command still outstanding.
    pub(crate) async fn ready(&mut self) -> Result<(), Error> {
        if self.io.is_none() {
            return Err(self.closed_error());
        }
        if self.sending {
            return Err(self.fail_protocol(
                "a command was abandoned while being sent; the connection was closed".into(),
            ));
        }
        if self.idle.take().is_some() {
            self.send_done().await?;
        }
        if !self.outstanding.is_empty() {
            self.generation += 1;
        }
        while !self.outstanding.is_empty() {
            match self.read_response(self.config.endpoint.io_timeout).await? {
                Response::Tagged { tag, .. } => {
                    let before = self.outstanding.len();
                    self.outstanding.retain(|t| *t != tag);
                    if self.outstanding.len() == before {
                        return Err(self
                            .fail_protocol(format!("completion for an unknown command {tag:?}")));
                    }
                }
                // The bodies of an abandoned message stream are dropped, not queued.
                Response::Untagged(Untagged::Fetch(f)) if !f.sections.is_empty() => {}
                Response::Untagged(u) => self.keep_events(vec![u]),
                Response::Continuation(_) => {}
            }
        }
        self.parse_error = None;
        Ok(())
    }

    /// Run one command to its completion. NO and BAD are [`Error::Response`].
    pub(crate) async fn execute(&mut self, cmd: Command) -> Result<Completion, Error> {
        self.execute_with(cmd, Some).await
    }

    /// [`Connection::execute`], each untagged response first offered to `take`, which
    /// consumes it (`None`) or gives it back (`Some`) for the completion: a command with
    /// 100,000 answers is folded as they arrive instead of held as 100,000 responses.
    pub(crate) async fn execute_with(
        &mut self,
        cmd: Command,
        mut take: impl FnMut(Untagged) -> Option<Untagged>,
    ) -> Result<Completion, Error> {
        self.ready().await?;
        let tag = self.send(&cmd).await?;
        let mut untagged: Vec<Untagged> = std::mem::take(&mut self.early)
            .into_iter()
            .filter_map(&mut take)
            .collect();
        loop {
            match self.read_response(self.config.endpoint.io_timeout).await? {
                Response::Untagged(u) => untagged.extend(take(u)),
                Response::Tagged { tag: t, status } if t == tag => {
                    self.outstanding.retain(|x| *x != t);
                    if let Some(message) = self.parse_error.take() {
                        self.keep_events(untagged);
                        return Err(Error::Protocol(message));
                    }
                    if status.status != Status::Ok {
                        self.keep_events(untagged);
                        return Err(Error::Response(status));
                    }
                    return Ok(Completion { untagged, status });
                }
                Response::Tagged { tag: t, .. } => {
                    return Err(
                        self.fail_protocol(format!("completion for an unknown command {t:?}"))
                    );
                }
                Response::Continuation(_) => {
                    return Err(self.fail_protocol(format!(
                        "unexpected continuation request during {}",
                        cmd.name
                    )));
                }
            }
        }
    }

    /// Run a command given as text (`"GETQUOTAROOT INBOX"`): its untagged responses and
    /// completion. The text is refused if it holds CR, LF or NUL, or ends in a literal's
    /// header; arguments needing literals cannot be given this way.
    pub async fn raw_command(
        &mut self,
        text: &str,
    ) -> Result<(Vec<Untagged>, StatusResponse), Error> {
        let t = text.trim_end();
        if t.is_empty()
            || text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
            || t.ends_with('}')
        {
            return Err(Error::Usage(format!(
                "{text:?} cannot be sent as a command line"
            )));
        }
        let mut b = CommandBuilder::new("", self.dialect());
        b.checked_text(text.as_bytes());
        let mut cmd = b.build();
        cmd.name = t.split(' ').next().unwrap_or("").to_owned();
        let done = self.execute(cmd).await?;
        Ok((done.untagged, done.status))
    }

    fn builder(&self, name: &str) -> CommandBuilder {
        CommandBuilder::new(name, self.dialect())
    }

    // ---- capabilities, TLS, authentication ------------------------------------------

    /// The capabilities, asking the server (CAPABILITY) if they are not known in this
    /// state (RFC 9051 §6.1.1: they change after STARTTLS and login).
    pub async fn capabilities(&mut self) -> Result<Capabilities, Error> {
        if let Some(c) = &self.caps {
            return Ok(c.clone());
        }
        self.capability().await
    }

    /// CAPABILITY, always asking.
    pub async fn capability(&mut self) -> Result<Capabilities, Error> {
        let done = self.execute(self.builder("CAPABILITY").build()).await?;
        let caps = done.untagged.into_iter().find_map(|u| match u {
            Untagged::Capability(c) => Some(c),
            _ => None,
        });
        match caps {
            Some(c) => Ok(c),
            None => Err(Error::Protocol(
                "CAPABILITY without a CAPABILITY response".into(),
            )),
        }
    }

    /// ID (RFC 2971): send ours (or NIL), get the server's.
    pub async fn id(
        &mut self,
        fields: Option<&[(&str, Option<&str>)]>,
    ) -> Result<Option<IdFields>, Error> {
        let mut b = self.builder("ID");
        b.sp();
        match fields {
            None => {
                b.keyword("NIL");
            }
            Some(fields) => {
                if fields.len() > 30 {
                    return Err(Error::Usage("ID allows at most 30 fields".into()));
                }
                b.keyword("(");
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        b.sp();
                    }
                    b.string(k.as_bytes())?.sp();
                    match v {
                        Some(v) => {
                            b.string(v.as_bytes())?;
                        }
                        None => {
                            b.keyword("NIL");
                        }
                    }
                }
                b.keyword(")");
            }
        }
        let done = self.execute(b.build()).await?;
        let mut found = None;
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Id(v) => found = v,
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        Ok(found)
    }

    /// NOOP: the unsolicited changes so far (and those the NOOP brought).
    pub async fn noop(&mut self) -> Result<Vec<IdleEvent>, Error> {
        let done = self.execute(self.builder("NOOP").build()).await?;
        self.keep_events(done.untagged);
        Ok(self.take_events())
    }

    /// LOGOUT, then close the connection. A server that closes right after its BYE is fine.
    pub async fn logout(&mut self) -> Result<(), Error> {
        if self.io.is_none() {
            return Ok(());
        }
        let result = self.execute(self.builder("LOGOUT").build()).await;
        if let Some(mut lines) = self.io.take() {
            // The server closes too; a failed shutdown changes nothing for us.
            let _ = tokio::time::timeout(Duration::from_secs(5), lines.get_mut().shutdown()).await;
        }
        self.close_now();
        match result {
            Ok(_) | Err(Error::Bye(_)) => Ok(()),
            Err(Error::Net(NetError::Closed)) if self.bye.is_some() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Close the connection without LOGOUT.
    pub fn abort(&mut self) {
        self.close_now();
    }

    pub(crate) fn require_selected(&self) -> Result<(), Error> {
        if self.selected.is_none() {
            return Err(Error::Usage("no mailbox is selected".into()));
        }
        Ok(())
    }
}

/// Extensions that IMAP4rev2 (RFC 9051 §1) includes.
const REV2_INCLUDES: [&str; 12] = [
    "ESEARCH",
    "MOVE",
    "UIDPLUS",
    "UNSELECT",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "NAMESPACE",
    "SPECIAL-USE",
    "ENABLE",
    "IDLE",
    "SASL-IR",
    "LITERAL-",
];

/// The tag of a tagged frame that did not parse.
fn tag_of(text: &[u8]) -> Option<String> {
    if matches!(text.first(), Some(b'*' | b'+') | None) {
        return None;
    }
    let end = text.iter().position(|&b| !super::lex::is_tag_char(b))?;
    (end > 0 && text[end] == b' ').then(|| String::from_utf8_lossy(&text[..end]).into_owned())
}
