//! One connection: the command loop and the transaction state machine (RFC 5321 §4.1.4).
//!
//! Replies are collected in a buffer and written when the client has no further command
//! buffered (RFC 2920 PIPELINING: one write per batch), before every wait for input.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::auth::{self, Response};
use super::command::{self, Command};
use super::data::{self, DataEnd};
use super::listener::Server;
use super::params::{self, MailRequest, Refusal};
use super::reply::{Reply, std_replies};
use super::trace::{self, TraceInfo};
use super::verify;
use super::{Envelope, HookCall, HookReply, RecipientStatus, Session};
use crate::net::events::{EventKind, ServerEvent};
use crate::net::shutdown::ShutdownSignal;
use crate::net::{LineReader, NetError, Stream, with_timeout};

/// Read buffer size while a message is being received.
const DATA_BUFFER: usize = 16 * 1024;

/// What `NetError::Timeout` says when the transaction deadline (not a single wait) passed.
const TRANSACTION_DEADLINE: &str = "the transaction";

static MESSAGE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn new_message_id() -> String {
    let n = MESSAGE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:X}{:X}{n:06X}", std::process::id() & 0xfff)
}

/// Why the command loop stopped.
enum Stop {
    /// QUIT, or a reply after which the server closes (421).
    Done,
}

enum Transfer {
    None,
    /// BDAT chunks are being received.
    Chunking,
    /// A BDAT chunk went wrong: the rest of the transaction is refused.
    ChunkingFailed,
}

pub(crate) struct Connection {
    server: Arc<Server>,
    lines: Option<LineReader<Stream>>,
    out: Vec<u8>,
    session: Session,
    env: Envelope,
    transfer: Transfer,
    errors: usize,
    /// NOOP, RSET, VRFY and HELP since the last message accepted.
    junk: usize,
    /// When the transaction in progress must be complete (`transaction_timeout`).
    deadline: Option<Instant>,
    graceful: ShutdownSignal,
    hard: ShutdownSignal,
}

impl Connection {
    pub(crate) fn new(
        server: Arc<Server>,
        stream: Stream,
        session: Session,
        graceful: ShutdownSignal,
        hard: ShutdownSignal,
    ) -> Self {
        Self {
            server,
            // Small until a message arrives: idle connections stay cheap.
            lines: Some(LineReader::with_capacity(stream, 1024)),
            out: Vec::new(),
            session,
            env: Envelope::default(),
            transfer: Transfer::None,
            errors: 0,
            junk: 0,
            deadline: None,
            graceful,
            hard,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut hard = self.hard.clone();
        tokio::select! {
            biased;
            _ = hard.wait() => {}
            _ = self.run_inner() => {}
        }
        if let Some(h) = &self.server.hooks {
            h.closed(&self.session);
        }
    }

    async fn run_inner(&mut self) {
        let greeting = Reply::new(
            220,
            format!("{} ESMTP mailprims", self.server.config.hostname),
        );
        self.push(greeting);
        let _ = self.command_loop().await;
        if let Some(lines) = self.lines.as_mut() {
            let _ = with_timeout(Some(std::time::Duration::from_secs(5)), "closing", async {
                lines.get_mut().shutdown().await.map_err(NetError::from)
            })
            .await;
        }
    }

    fn push(&mut self, reply: Reply) {
        reply.write_to(&mut self.out);
    }

    fn lines(&mut self) -> &mut LineReader<Stream> {
        // `lines` is only None for the instant of a TLS upgrade, which puts it back or ends
        // the connection.
        self.lines.as_mut().expect("connection stream present") // ok: see above
    }

    async fn flush(&mut self) -> Result<(), NetError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let timeout = self.server.config.timeout;
        let out = std::mem::take(&mut self.out);
        let lines = self.lines();
        let res = with_timeout(Some(timeout), "sending a reply", async {
            let s = lines.get_mut();
            s.write_all(&out).await?;
            s.flush().await?;
            Ok(())
        })
        .await;
        self.out = out;
        self.out.clear();
        res
    }

    fn in_transaction(&self) -> bool {
        self.env.mail_from.is_some()
    }

    fn reset_transaction(&mut self) {
        self.env = Envelope::default();
        self.transfer = Transfer::None;
        self.deadline = None;
    }

    /// How long the next wait for the client may last: `limit`, or less when the
    /// transaction's deadline comes sooner (then the timeout names the transaction).
    fn wait_limit(&self, limit: Duration) -> (Duration, &'static str) {
        match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left < limit {
                    (left, TRANSACTION_DEADLINE)
                } else {
                    (limit, "")
                }
            }
            None => (limit, ""),
        }
    }

    /// The 421 for a timeout: of one wait, or of the whole transaction.
    fn timeout_reply(&self, during: &str) -> Reply {
        let host = &self.server.config.hostname;
        if during == TRANSACTION_DEADLINE {
            Reply::new(
                421,
                format!("4.4.2 {host} Error: transaction time limit exceeded"),
            )
        } else {
            Reply::new(421, format!("4.4.2 {host} Error: timeout exceeded"))
        }
    }

    /// A NOOP, RSET, VRFY or HELP: past `max_junk_commands` each one counts as an error.
    fn count_junk(&mut self) {
        self.junk += 1;
        if self
            .server
            .config
            .max_junk_commands
            .is_some_and(|max| self.junk > max)
        {
            self.errors += 1;
        }
    }

    async fn command_loop(&mut self) -> Result<Stop, NetError> {
        let max_line = self.server.config.max_line_length;
        loop {
            if self.graceful.is_triggered() && !self.in_transaction() {
                self.push(Reply::new(
                    421,
                    format!(
                        "4.3.2 {} Service shutting down, closing transmission channel",
                        self.server.config.hostname
                    ),
                ));
                self.flush().await?;
                return Ok(Stop::Done);
            }
            if memchr::memchr(b'\n', self.lines().buffer()).is_none() {
                self.flush().await?;
            }
            let (timeout, during) = self.wait_limit(self.server.config.timeout);
            let during = if during.is_empty() {
                "waiting for a command"
            } else {
                during
            };
            let mut graceful = self.graceful.clone();
            let idle = !self.in_transaction();
            let span = {
                let lines = self.lines.as_mut().expect("connection stream present"); // ok: see lines()
                tokio::select! {
                    biased;
                    r = with_timeout(Some(timeout), during, lines.peek_line(max_line)) => r,
                    _ = graceful.wait(), if idle => continue,
                }
            };
            let span = match span {
                Ok(span) => span,
                Err(NetError::LineTooLong { .. }) => {
                    self.lines().skip_line().await?;
                    self.push(std_replies::line_too_long());
                    if self.count_error() {
                        return Ok(Stop::Done);
                    }
                    continue;
                }
                Err(NetError::Timeout { during, .. }) => {
                    self.push(self.timeout_reply(during));
                    self.flush().await?;
                    return Ok(Stop::Done);
                }
                Err(e) => return Err(e),
            };
            let line = self.lines().buffer()[..span.content].to_vec();
            self.lines().consume(span.total);
            match self.command(&line).await? {
                Some(stop) => {
                    self.flush().await?;
                    return Ok(stop);
                }
                None => {
                    if self.errors >= self.server.config.max_errors {
                        self.push(Reply::new(421, "4.7.0 Error: too many errors"));
                        self.flush().await?;
                        return Ok(Stop::Done);
                    }
                }
            }
        }
    }

    /// Count a client error; true when the connection should close.
    fn count_error(&mut self) -> bool {
        self.errors += 1;
        if self.errors >= self.server.config.max_errors {
            self.push(Reply::new(421, "4.7.0 Error: too many errors"));
            true
        } else {
            false
        }
    }

    fn error(&mut self, reply: Reply) {
        self.errors += 1;
        self.push(reply);
    }

    async fn hook(&self, call: HookCall<'_>) -> HookReply {
        match &self.server.hooks {
            Some(h) if h.has(call.hook()) => h.call(call, &self.session, &self.env).await,
            _ => HookReply::Default,
        }
    }

    /// Handle one command line. `Some` ends the connection.
    async fn command(&mut self, line: &[u8]) -> Result<Option<Stop>, NetError> {
        let Some(cmd) = command::parse(line) else {
            self.error(Reply::new(500, "5.5.2 Error: bad UTF-8 in command"));
            return Ok(None);
        };
        match cmd {
            Command::Helo(arg) | Command::Ehlo(arg) if arg.is_empty() || arg.contains(' ') => {
                let verb = if matches!(cmd, Command::Helo(_)) {
                    "HELO"
                } else {
                    "EHLO"
                };
                self.error(std_replies::syntax(&format!("{verb} hostname")));
            }
            Command::Helo(name) => self.helo(name.to_owned(), false).await,
            Command::Ehlo(name) => self.helo(name.to_owned(), true).await,
            Command::Mail { path, params } => self.mail(path, params).await,
            Command::Rcpt { path, params } => self.rcpt(path, params).await,
            Command::Data(arg) => return self.data(arg).await,
            Command::Bdat(arg) => return self.bdat(arg).await,
            Command::Rset(arg) => {
                self.count_junk();
                if !arg.is_empty() {
                    self.error(std_replies::syntax("RSET"));
                } else {
                    self.reset_transaction();
                    let reply = self.hook(HookCall::Rset).await;
                    self.push_hook_or(reply, std_replies::ok());
                }
            }
            Command::Noop => {
                self.count_junk();
                let reply = self.hook(HookCall::Noop("")).await;
                self.push_hook_or(reply, std_replies::ok());
            }
            Command::Quit(arg) => {
                if !arg.is_empty() {
                    self.error(std_replies::syntax("QUIT"));
                } else {
                    let reply = self.hook(HookCall::Quit).await;
                    self.push_hook_or(reply, Reply::new(221, "2.0.0 Bye"));
                    return Ok(Some(Stop::Done));
                }
            }
            Command::Vrfy(arg) => {
                self.count_junk();
                if arg.is_empty() {
                    self.error(std_replies::syntax("VRFY <address>"));
                } else {
                    let reply = self.hook(HookCall::Vrfy(arg)).await;
                    // RFC 5321 §3.5.3: 252 when the server will not say whether a user exists.
                    self.push_hook_or(
                        reply,
                        Reply::new(
                            252,
                            "2.5.2 Cannot VRFY user, but will accept message and attempt delivery",
                        ),
                    );
                }
            }
            Command::Expn => self.error(Reply::new(502, "5.5.1 Error: EXPN not supported")),
            Command::Help(_) => {
                self.count_junk();
                self.push(Reply::new(
                    214,
                    "2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
                ));
            }
            Command::StartTls(arg) => return self.starttls(arg).await,
            Command::Auth(arg) => return self.auth(arg.to_owned()).await,
            Command::Unknown(_) => {
                self.error(Reply::new(500, "5.5.2 Error: command not recognized"));
            }
            Command::Malformed(usage) => self.error(std_replies::syntax(usage)),
        }
        Ok(None)
    }

    fn push_hook_or(&mut self, reply: HookReply, default: Reply) {
        match reply {
            HookReply::Reply(r) => self.push(r),
            HookReply::Default | HookReply::EhloLines(_) => self.push(default),
        }
    }

    fn auth_offered(&self) -> bool {
        self.server.authenticator.is_some()
            && (self.session.tls.is_some() || !self.server.config.auth_require_tls)
    }

    async fn helo(&mut self, name: String, extended: bool) {
        self.reset_transaction();
        let cfg = &self.server.config;
        if !extended {
            self.session.host_name = Some(name.clone());
            self.session.extended = false;
            match self.hook(HookCall::Helo(&name)).await {
                HookReply::Reply(r) => {
                    if !r.is_positive() {
                        self.session.host_name = None;
                    }
                    self.push(r);
                }
                _ => self.push(Reply::new(250, cfg.hostname.clone())),
            }
            return;
        }
        let mut lines = vec![cfg.hostname.clone(), "PIPELINING".to_owned()];
        match cfg.max_message_size {
            Some(n) => lines.push(format!("SIZE {n}")),
            None => lines.push("SIZE".to_owned()),
        }
        lines
            .extend(["8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING"].map(str::to_owned));
        if cfg.tls.is_some() && self.session.tls.is_none() {
            lines.push("STARTTLS".to_owned());
        }
        if self.auth_offered() && self.session.auth_user.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        lines.push("HELP".to_owned());
        self.session.host_name = Some(name.clone());
        self.session.extended = true;
        match self.hook(HookCall::Ehlo(&name, &lines)).await {
            HookReply::Reply(r) => {
                if !r.is_positive() {
                    self.session.host_name = None;
                    self.session.extended = false;
                }
                self.push(r);
            }
            HookReply::EhloLines(l) => self.push(Reply::multi(250, l)),
            HookReply::Default => self.push(Reply::multi(250, lines)),
        }
    }

    /// Checks common to MAIL: greeting given, TLS and AUTH policy.
    fn mail_gate(&self) -> Option<Reply> {
        let cfg = &self.server.config;
        if self.session.host_name.is_none() {
            return Some(std_replies::bad_sequence("send HELO/EHLO first"));
        }
        if cfg.require_starttls && self.session.tls.is_none() {
            return Some(Reply::new(530, "5.7.0 Must issue a STARTTLS command first"));
        }
        if cfg.submission && self.session.auth_user.is_none() {
            return Some(Reply::new(530, "5.7.0 Authentication required"));
        }
        if self.in_transaction() {
            return Some(std_replies::bad_sequence("nested MAIL command"));
        }
        None
    }

    async fn mail(&mut self, path: &str, params: &str) {
        if let Some(r) = self.mail_gate() {
            self.error(r);
            return;
        }
        let max_size = self.server.config.max_message_size;
        let MailRequest {
            address,
            options,
            smtputf8,
        } = match params::check_mail(path, params, self.session.extended, max_size) {
            Ok(m) => m,
            Err(Refusal::Error(r)) => return self.error(r),
            Err(Refusal::Policy(r)) => return self.push(r),
        };
        let reply = self.hook(HookCall::Mail(&address, &options)).await;
        let reply = match reply {
            HookReply::Reply(r) => r,
            _ => Reply::new(250, "2.1.0 Sender OK"),
        };
        if reply.is_positive() {
            self.env.mail_from = Some(address);
            self.env.mail_options = options;
            self.env.smtputf8 = smtputf8;
            self.deadline = self
                .server
                .config
                .transaction_timeout
                .map(|t| Instant::now() + t);
            self.push(reply);
        } else {
            self.error(reply);
        }
    }

    async fn rcpt(&mut self, path: &str, params: &str) {
        if !self.in_transaction() {
            self.error(std_replies::bad_sequence("need MAIL command"));
            return;
        }
        if matches!(self.transfer, Transfer::Chunking | Transfer::ChunkingFailed) {
            self.error(std_replies::bad_sequence("RCPT after BDAT"));
            return;
        }
        let address = match params::check_rcpt(path, params, self.env.smtputf8) {
            Ok(a) => a,
            Err(r) => return self.error(r),
        };
        if self.env.rcpt_tos.len() >= self.server.config.max_recipients {
            // RFC 5321 §4.5.3.1.10
            self.push(Reply::new(452, "4.5.3 Error: too many recipients"));
            return;
        }
        let postmaster = command::local_part_of(&address).eq_ignore_ascii_case("postmaster");
        let status = match &self.server.directory {
            None => RecipientStatus::Local,
            Some(d) => d.recipient(&address),
        };
        match status {
            RecipientStatus::Local => {}
            RecipientStatus::Unknown if postmaster => {}
            RecipientStatus::Unknown => {
                self.error(Reply::new(
                    550,
                    format!("5.1.1 <{address}>: Recipient address rejected: User unknown"),
                ));
                return;
            }
            RecipientStatus::Remote => {
                if self.session.auth_user.is_none() {
                    // RFC 5068 §3: no relaying for unauthenticated clients.
                    self.error(Reply::new(
                        550,
                        format!("5.7.1 <{address}>: Relay access denied"),
                    ));
                    return;
                }
                if !self.server.relay_allowed {
                    self.error(Reply::new(
                        550,
                        format!("5.7.1 <{address}>: Relaying is not configured on this server"),
                    ));
                    return;
                }
            }
        }
        let options = Vec::new();
        let reply = self.hook(HookCall::Rcpt(&address, &options)).await;
        let reply = match reply {
            HookReply::Reply(r) => r,
            _ => Reply::new(250, "2.1.5 Recipient OK"),
        };
        if reply.is_positive() {
            self.env.rcpt_tos.push(address);
            self.env.rcpt_options.push(options);
            self.push(reply);
        } else {
            self.push(reply);
        }
    }

    fn data_gate(&self) -> Option<Reply> {
        if !self.in_transaction() {
            return Some(std_replies::bad_sequence("need MAIL command"));
        }
        if self.env.rcpt_tos.is_empty() {
            return Some(std_replies::bad_sequence("need RCPT command"));
        }
        None
    }

    /// Start the message content with the trace fields.
    fn begin_content(&mut self) {
        let id = new_message_id();
        let protocol = trace::protocol_name(
            self.session.extended,
            self.session.tls.is_some(),
            self.session.auth_user.is_some(),
            self.env.smtputf8,
        );
        let for_rcpt = (self.env.rcpt_tos.len() == 1).then(|| self.env.rcpt_tos[0].as_str());
        let headers = trace::trace_headers(
            self.env.mail_from.as_deref().unwrap_or(""),
            &TraceInfo {
                helo: self.session.host_name.as_deref(),
                peer_ip: self.session.peer.ip(),
                by_host: &self.server.config.hostname,
                protocol,
                id: &id,
                tls: self.session.tls.as_ref(),
                for_rcpt,
                when: SystemTime::now(),
            },
        );
        self.env.trace_len = headers.len();
        let mut content = Vec::with_capacity(headers.len() + 2048);
        content.extend_from_slice(&headers);
        self.env.content = content;
        self.env.id = id;
    }

    async fn data(&mut self, arg: &str) -> Result<Option<Stop>, NetError> {
        if !arg.is_empty() {
            self.error(std_replies::syntax("DATA"));
            return Ok(None);
        }
        if let Some(r) = self.data_gate() {
            self.error(r);
            return Ok(None);
        }
        if !matches!(self.transfer, Transfer::None) {
            self.error(std_replies::bad_sequence("DATA after BDAT"));
            return Ok(None);
        }
        self.push(Reply::new(354, "End data with <CR><LF>.<CR><LF>"));
        self.flush().await?;
        self.begin_content();
        let cfg = &self.server.config;
        let (max, max_line) = (cfg.max_message_size, cfg.max_line_length);
        let wait = data::Wait {
            each: cfg.data_timeout,
            deadline: self.deadline,
            deadline_name: TRANSACTION_DEADLINE,
        };
        self.lines().reserve(DATA_BUFFER);
        let mut content = std::mem::take(&mut self.env.content);
        let end = data::read_data(self.lines(), &mut content, max, max_line, wait).await;
        self.env.content = content;
        match end {
            Ok(DataEnd::Complete) => {
                let reply = self.finish_message().await;
                self.push(reply);
            }
            Ok(DataEnd::TooBig) => {
                self.push(Reply::new(
                    552,
                    "5.3.4 Message size exceeds fixed maximum message size",
                ));
            }
            Ok(DataEnd::LineTooLong) => self.push(std_replies::line_too_long()),
            Err(NetError::Timeout { during, .. }) => {
                self.push(self.timeout_reply(during));
                self.reset_transaction();
                return Ok(Some(Stop::Done));
            }
            // The client left mid-DATA: nothing is delivered.
            Err(e) => return Err(e),
        }
        self.reset_transaction();
        Ok(None)
    }

    async fn bdat(&mut self, arg: &str) -> Result<Option<Stop>, NetError> {
        let mut words = arg.split(' ').filter(|w| !w.is_empty());
        let size = words.next().and_then(|w| {
            (w.bytes().all(|b| b.is_ascii_digit()) && w.len() <= 19)
                .then(|| w.parse::<u64>().ok())
                .flatten()
        });
        let last = match words.next() {
            None => Some(false),
            Some(w) if w.eq_ignore_ascii_case("LAST") => Some(true),
            Some(_) => None,
        };
        let (Some(size), Some(last), None) = (size, last, words.next()) else {
            // The chunk's length is unknown, so its bytes cannot be skipped: close.
            self.push(std_replies::syntax("BDAT chunk-size [LAST]"));
            return Ok(Some(Stop::Done));
        };
        let wait = data::Wait {
            each: self.server.config.data_timeout,
            deadline: self.deadline,
            deadline_name: TRANSACTION_DEADLINE,
        };
        // RFC 3030 §2: the chunk is read even when the command is refused.
        let refusal = self.data_gate().or_else(|| {
            matches!(self.transfer, Transfer::ChunkingFailed)
                .then(|| std_replies::bad_sequence("transaction failed, send RSET"))
        });
        if let Some(r) = refusal {
            let mut discard = Vec::new();
            if let Err(e) = data::read_chunk(self.lines(), &mut discard, size, false, wait).await {
                return match e {
                    NetError::Timeout { during, .. } => {
                        self.push(self.timeout_reply(during));
                        Ok(Some(Stop::Done))
                    }
                    e => Err(e),
                };
            }
            self.error(r);
            return Ok(None);
        }
        if matches!(self.transfer, Transfer::None) {
            self.lines().reserve(DATA_BUFFER);
            self.begin_content();
            self.transfer = Transfer::Chunking;
        }
        let received = (self.env.content.len() - self.env.trace_len) as u64;
        let fits = self
            .server
            .config
            .max_message_size
            .is_none_or(|max| received.saturating_add(size) <= max);
        let mut content = std::mem::take(&mut self.env.content);
        let res = data::read_chunk(self.lines(), &mut content, size, fits, wait).await;
        self.env.content = content;
        if let Err(e) = res {
            if let NetError::Timeout { during, .. } = e {
                self.push(self.timeout_reply(during));
                return Ok(Some(Stop::Done));
            }
            return Err(e);
        }
        if !fits {
            self.env.content = Vec::new();
            self.transfer = Transfer::ChunkingFailed;
            self.push(Reply::new(
                552,
                "5.3.4 Message size exceeds fixed maximum message size",
            ));
            return Ok(None);
        }
        if last {
            let reply = self.finish_message().await;
            self.push(reply);
            self.reset_transaction();
        } else {
            self.push(Reply::new(250, format!("2.0.0 {size} octets received")));
        }
        Ok(None)
    }

    /// The whole message is in: verify it (when configured), let the hooks decide, then
    /// deliver.
    async fn finish_message(&mut self) -> Reply {
        let server = self.server.clone();
        if let Some(verification) = &server.verification
            && let Err(reply) = verify::verify(
                verification,
                &server.config.hostname,
                &self.session,
                &mut self.env,
            )
            .await
        {
            return reply;
        }
        let hook_reply = self.hook(HookCall::Data).await;
        let reply = match hook_reply {
            HookReply::Reply(r) if !r.is_positive() => return r,
            HookReply::Reply(r) => Some(r),
            _ => None,
        };
        let id = self.env.id.clone();
        // Taken before delivery: a deliverer may take the content.
        let event = self.server.events.as_ref().map(|_| self.delivered_event());
        if let Some(deliverer) = self.server.deliverer.clone()
            && let Err(r) = deliverer.deliver(&self.session, &mut self.env).await
        {
            return r;
        }
        if let (Some(log), Some(event)) = (&self.server.events, event) {
            log.event(event);
        }
        // Postfix too starts counting junk commands again once mail is delivered.
        self.junk = 0;
        reply.unwrap_or_else(|| Reply::new(250, format!("2.0.0 OK: queued as {id}")))
    }

    fn delivered_event(&self) -> ServerEvent {
        let mut event = ServerEvent::new(EventKind::Delivered, self.session.peer);
        event.user = self.session.auth_user.clone();
        event.id = Some(self.env.id.clone());
        event.sender = self.env.mail_from.clone();
        event.recipients = self.env.rcpt_tos.clone();
        event.size = self.env.original_content().len() as u64;
        event.tls = self.session.tls.is_some();
        event
    }

    async fn starttls(&mut self, arg: &str) -> Result<Option<Stop>, NetError> {
        let Some(tls) = self.server.config.tls.clone() else {
            self.error(Reply::new(502, "5.5.1 Error: STARTTLS not available"));
            return Ok(None);
        };
        if !arg.is_empty() {
            self.error(std_replies::syntax("STARTTLS"));
            return Ok(None);
        }
        if self.session.tls.is_some() {
            self.error(std_replies::bad_sequence("TLS already active"));
            return Ok(None);
        }
        self.push(Reply::new(220, "2.0.0 Ready to start TLS"));
        self.flush().await?;
        let Some(mut lines) = self.lines.take() else {
            return Err(NetError::Closed);
        };
        // RFC 3207 §4 / CVE-2011-0411: anything the client sent after STARTTLS, before the
        // handshake, is plaintext an attacker may have injected; it must not be carried into
        // the TLS session as if the client had sent it encrypted.
        lines.discard_buffer();
        let stream = match lines.into_inner() {
            Ok(s) => s,
            Err((s, _)) => s,
        };
        let tls_stream = stream
            .start_tls_server(tls, Some(self.server.config.timeout))
            .await?;
        self.session.tls = tls_stream.tls_info();
        self.lines = Some(LineReader::with_capacity(tls_stream, 1024));
        // RFC 3207 §4.2: forget everything learned before TLS.
        self.session.host_name = None;
        self.session.extended = false;
        self.session.auth_user = None;
        self.reset_transaction();
        Ok(None)
    }

    /// The client's address has used its failed-AUTH budget: no password is checked, however
    /// often it reconnects, until the window has passed.
    fn over_auth_budget(&mut self) -> Stop {
        let host = &self.server.config.hostname;
        let peer = self.session.peer.ip();
        self.push(Reply::new(
            421,
            format!(
                "4.7.0 {host} Error: too many failed authentications from {peer}, try again later"
            ),
        ));
        Stop::Done
    }

    /// Read one AUTH continuation line.
    async fn auth_line(&mut self, challenge: &str) -> Result<Result<Response, Reply>, NetError> {
        self.push(Reply::new(334, challenge));
        self.flush().await?;
        let timeout = self.server.config.timeout;
        let lines = self.lines();
        // RFC 4954 §4: responses may be longer than a command line.
        let line =
            match with_timeout(Some(timeout), "waiting for AUTH", lines.read_line(12288)).await {
                Ok(l) => l,
                Err(NetError::LineTooLong { .. }) => {
                    self.lines().skip_line().await?;
                    return Ok(Err(std_replies::line_too_long()));
                }
                Err(e) => return Err(e),
            };
        Ok(match auth::decode_response(&line) {
            Ok(r) => Ok(r),
            Err(why) => Err(Reply::new(501, format!("5.5.2 {why}"))),
        })
    }

    async fn auth(&mut self, arg: String) -> Result<Option<Stop>, NetError> {
        let Some(authenticator) = self.server.authenticator.clone() else {
            self.error(Reply::new(502, "5.5.1 Error: authentication not enabled"));
            return Ok(None);
        };
        if !self.session.extended {
            self.error(std_replies::bad_sequence("send EHLO first"));
            return Ok(None);
        }
        if self.session.auth_user.is_some() {
            self.error(std_replies::bad_sequence("already authenticated"));
            return Ok(None);
        }
        if self.in_transaction() {
            self.error(std_replies::bad_sequence("MAIL transaction in progress"));
            return Ok(None);
        }
        if !self.auth_offered() {
            self.error(Reply::new(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            ));
            return Ok(None);
        }
        let peer = self.session.peer.ip();
        let budget = self.server.config.auth_budget;
        if self.server.auth_failures.exhausted(peer, &budget) {
            return Ok(Some(self.over_auth_budget()));
        }
        let mut words = arg.split(' ').filter(|w| !w.is_empty());
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(|w| w.as_bytes().to_vec());
        if words.next().is_some() || mechanism.is_empty() {
            self.error(std_replies::syntax("AUTH mechanism [initial-response]"));
            return Ok(None);
        }
        let initial = match initial {
            None => None,
            Some(i) => match auth::decode_response(&i) {
                Ok(r) => Some(r),
                Err(why) => {
                    self.error(Reply::new(501, format!("5.5.2 {why}")));
                    return Ok(None);
                }
            },
        };
        let cancelled = || Reply::new(501, "5.7.0 Authentication cancelled");
        let credentials: Result<(String, String), Reply> = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(r) => Ok(r),
                    None => self.auth_line("").await?,
                };
                match response {
                    Ok(Response::Data(d)) => {
                        auth::plain(&d).map_err(|why| Reply::new(501, format!("5.5.2 {why}")))
                    }
                    Ok(Response::Cancel) => Err(cancelled()),
                    Err(r) => Err(r),
                }
            }
            "LOGIN" => {
                let user = match initial {
                    Some(r) => Ok(r),
                    None => self.auth_line("VXNlcm5hbWU6").await?,
                };
                match user {
                    Ok(Response::Data(u)) => match self.auth_line("UGFzc3dvcmQ6").await? {
                        Ok(Response::Data(p)) => auth::text(u)
                            .and_then(|u| Ok((u, auth::text(p)?)))
                            .map_err(|why| Reply::new(501, format!("5.5.2 {why}"))),
                        Ok(Response::Cancel) => Err(cancelled()),
                        Err(r) => Err(r),
                    },
                    Ok(Response::Cancel) => Err(cancelled()),
                    Err(r) => Err(r),
                }
            }
            _ => Err(Reply::new(504, "5.5.4 Unrecognized authentication type")),
        };
        let (user, password) = match credentials {
            Ok(c) => c,
            Err(r) => {
                self.error(r);
                return Ok(None);
            }
        };
        // Checks still running count against the budget, so parallel guesses cannot pass it.
        let Some(attempt) = self.server.auth_failures.begin(peer, &budget) else {
            return Ok(Some(self.over_auth_budget()));
        };
        match authenticator
            .authenticate(&mechanism, &user, &password)
            .await
        {
            Ok(true) => {
                drop(attempt);
                self.session.auth_user = Some(user);
                self.push(Reply::new(235, "2.7.0 Authentication successful"));
            }
            Ok(false) => {
                attempt.failed();
                // The same wait whether the user exists or not (both ran the hash).
                tokio::time::sleep(self.server.config.auth_failure_delay).await;
                self.error(Reply::new(535, "5.7.8 Authentication credentials invalid"));
            }
            Err(_) => {
                self.push(Reply::new(454, "4.7.0 Temporary authentication failure"));
            }
        }
        Ok(None)
    }
}

/// The session a new connection starts with.
pub(crate) fn new_session(id: u64, stream: &Stream) -> Option<Session> {
    Some(Session {
        id,
        peer: stream.peer_addr().ok()?,
        local: stream.local_addr().ok()?,
        host_name: None,
        extended: false,
        tls: None,
        auth_user: None,
    })
}

/// Used by the listener for connections over a limit: 421 with `text`, then close.
pub(crate) async fn refuse(mut stream: Stream, text: &str) {
    let reply = Reply::new(421, text);
    let _ = with_timeout(Some(std::time::Duration::from_secs(5)), "refusing", async {
        stream.write_all(&reply.to_wire()).await?;
        stream.shutdown().await?;
        Ok(())
    })
    .await;
}
