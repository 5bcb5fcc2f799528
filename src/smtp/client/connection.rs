//! One SMTP session: greeting, EHLO, STARTTLS, AUTH, then any number of transactions.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio::io::AsyncWriteExt;

use super::config::{Auth, ClientConfig, Mechanism};
use super::prepared::{Prepared, SendOptions};
use crate::net::transcript::{Direction, REDACTED};
use crate::net::{LineReader, NetError, Stream, TlsMode};
use crate::smtp::Error;
use crate::smtp::command::{self, check_param, xtext};
use crate::smtp::message::dot_stuffed;
use crate::smtp::reply::{Extensions, MAX_REPLY_LINES, Reply, parse_line};

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512; real servers exceed it).
const MAX_REPLY_LINE: usize = 8192;

#[derive(Debug, Clone)]
pub struct Outcome {
    pub sender: String,
    /// Every recipient's RCPT reply, in order.
    pub recipients: Vec<(String, Reply)>,
    /// The reply to the end of the message data.
    pub data_reply: Reply,
    /// Which host took it.
    pub host: String,
}

/// What a session learned about its server.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub greeting: Reply,
    pub extensions: Extensions,
    pub esmtp: bool,
    pub tls: Option<crate::net::stream::TlsInfo>,
    pub authenticated: bool,
}

/// One SMTP session.
pub struct Connection {
    lines: LineReader<Stream>,
    config: Arc<ClientConfig>,
    info: SessionInfo,
    /// An exchange is under way or was interrupted: the session state is unknown, so the
    /// connection must not be reused (set before every exchange, cleared after it completes).
    pub(super) busy: bool,
    /// The server has answered a command of the current transaction (so a retry elsewhere
    /// could duplicate the message).
    pub(super) committed: bool,
}

pub(super) async fn timed<T>(
    after: Option<Duration>,
    during: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match after {
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Net(NetError::Timeout { during, after: d })),
        },
        None => fut.await,
    }
}

fn refusal(reply: Reply, during: &'static str) -> Error {
    Error::Reply { reply, during }
}

impl Connection {
    /// Connect, read the greeting, EHLO (HELO if refused), STARTTLS and AUTH as configured.
    pub async fn open(config: Arc<ClientConfig>) -> Result<Connection, Error> {
        let stream = config.endpoint.connect().await?;
        let tls = stream.tls_info();
        let empty = Reply {
            code: 220,
            enhanced: None,
            lines: Vec::new(),
        };
        let mut conn = Connection {
            lines: LineReader::new(stream),
            config,
            info: SessionInfo {
                greeting: empty,
                extensions: Extensions::default(),
                esmtp: false,
                tls,
                authenticated: false,
            },
            busy: true,
            committed: false,
        };
        // RFC 5321 §4.3.1: 220 to proceed, 554 (or 421) to refuse the session.
        let greeting = conn.read_reply().await?;
        if greeting.code != 220 {
            return Err(if greeting.is_transient() || greeting.is_permanent() {
                refusal(greeting, "connection refused by the server")
            } else {
                Error::Protocol(format!("unexpected greeting {greeting}"))
            });
        }
        conn.info.greeting = greeting;
        conn.hello().await?;
        let starttls_offered = conn.info.extensions.has("STARTTLS");
        match conn.config.endpoint.tls {
            TlsMode::StartTls if !starttls_offered => {
                // Fail closed (RFC 3207 §4: a client that requires TLS must not continue).
                return Err(Error::Net(NetError::Tls(format!(
                    "{} does not offer STARTTLS",
                    conn.config.endpoint.host
                ))));
            }
            TlsMode::StartTls => conn = conn.starttls().await?,
            TlsMode::Opportunistic if starttls_offered => conn = conn.starttls().await?,
            _ => {}
        }
        conn.authenticate().await?;
        conn.busy = false;
        Ok(conn)
    }

    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Read one complete reply.
    async fn read_reply(&mut self) -> Result<Reply, Error> {
        let lines = &mut self.lines;
        let transcript = self.config.endpoint.transcript.as_deref();
        timed(
            self.config.endpoint.io_timeout,
            "waiting for the server's reply",
            async move {
                let mut raw = Vec::new();
                loop {
                    let line = lines.read_line(MAX_REPLY_LINE).await?;
                    if let Some(t) = transcript {
                        t.record(Direction::Server, &line);
                    }
                    let (_, last, _) = parse_line(&line)?;
                    raw.push(line);
                    if last {
                        return Reply::from_lines(&raw);
                    }
                    if raw.len() >= MAX_REPLY_LINES {
                        return Err(Error::Protocol("reply has too many lines".into()));
                    }
                }
            },
        )
        .await
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        let stream = self.lines.get_mut();
        timed(
            self.config.endpoint.io_timeout,
            "sending to the server",
            async move {
                stream.write_all(data).await.map_err(NetError::from)?;
                stream.flush().await.map_err(NetError::from)?;
                Ok(())
            },
        )
        .await
    }

    async fn command(&mut self, line: &[u8]) -> Result<Reply, Error> {
        self.note(line);
        self.write(line).await?;
        self.read_reply().await
    }

    /// A command carrying a credential: recorded as `shown` in the transcript.
    async fn secret_command(&mut self, line: &[u8], shown: &str) -> Result<Reply, Error> {
        if let Some(t) = &self.config.endpoint.transcript {
            t.record_line(Direction::Client, shown);
        }
        self.write(line).await?;
        self.read_reply().await
    }

    /// Record lines about to be sent, when a transcript is kept.
    fn note(&self, data: &[u8]) {
        if let Some(t) = &self.config.endpoint.transcript {
            t.record(Direction::Client, data);
        }
    }

    fn client_name(&self) -> String {
        if let Some(name) = &self.config.local_hostname {
            return name.clone();
        }
        // RFC 5321 §4.1.3: an address literal when we have no usable domain name.
        match self.lines.get_ref().local_addr().map(|a| a.ip()) {
            Ok(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            Ok(ip) => format!("[{ip}]"),
            Err(_) => "[127.0.0.1]".to_owned(),
        }
    }

    async fn hello(&mut self) -> Result<(), Error> {
        let name = self.client_name();
        let reply = self.command(format!("EHLO {name}\r\n").as_bytes()).await?;
        if reply.is_positive() {
            self.info.extensions = Extensions::from_ehlo(&reply);
            self.info.esmtp = true;
            return Ok(());
        }
        if reply.is_transient() {
            return Err(refusal(reply, "EHLO"));
        }
        // RFC 5321 §4.1.4 / §3.2: an old server that does not know EHLO gets HELO.
        let reply = self.command(format!("HELO {name}\r\n").as_bytes()).await?;
        if !reply.is_positive() {
            return Err(refusal(reply, "HELO"));
        }
        self.info.extensions = Extensions::default();
        self.info.esmtp = false;
        Ok(())
    }

    /// RFC 3207: STARTTLS, then a new EHLO over TLS.
    async fn starttls(mut self) -> Result<Connection, Error> {
        let reply = self.command(b"STARTTLS\r\n").await?;
        if reply.code != 220 {
            if self.config.endpoint.tls == TlsMode::Opportunistic && reply.is_transient() {
                return Ok(self);
            }
            return Err(refusal(reply, "STARTTLS"));
        }
        let Connection {
            lines,
            config,
            mut info,
            ..
        } = self;
        // Anything the server sent after its 220 arrived in plaintext and must not be read
        // as part of the TLS session (CVE-2011-0411, RFC 3207 §6).
        let stream = lines.into_inner().map_err(|(_, n)| {
            Error::Net(NetError::Tls(format!(
                "server sent {n} bytes after its STARTTLS reply, before the TLS handshake \
                 (response injection); connection dropped"
            )))
        })?;
        let stream = config
            .endpoint
            .start_tls(stream, config.endpoint.connect_timeout)
            .await?;
        info.tls = stream.tls_info();
        let mut conn = Connection {
            lines: LineReader::new(stream),
            config,
            info,
            busy: true,
            committed: false,
        };
        // What the server said before TLS is forgotten (RFC 3207 §4.2).
        conn.info.extensions = Extensions::default();
        conn.hello().await?;
        Ok(conn)
    }

    async fn authenticate(&mut self) -> Result<(), Error> {
        let auth = self.config.auth.clone();
        if matches!(auth, Auth::None) {
            return Ok(());
        }
        if !self.lines.get_ref().is_tls() && !self.config.endpoint.allow_insecure_auth {
            return Err(Error::InsecureAuth);
        }
        let offered = self.info.extensions.auth_mechanisms();
        if offered.is_empty() {
            // Servers commonly offer AUTH only after STARTTLS (RFC 4954 §4, Postfix's
            // smtpd_tls_auth_only): say so rather than "no AUTH".
            if !self.lines.get_ref().is_tls() && self.info.extensions.has("STARTTLS") {
                return Err(Error::NotSupported(format!(
                    "{} does not offer AUTH before STARTTLS: AUTH comes after STARTTLS here; \
                     use tls='starttls' (or tls='auto') to upgrade first",
                    self.config.endpoint.host
                )));
            }
            return Err(Error::NotSupported(format!(
                "{} does not offer AUTH (RFC 4954)",
                self.config.endpoint.host
            )));
        }
        let is_offered = |m: Mechanism| offered.iter().any(|o| o == m.name());
        let reply = match auth {
            Auth::None => return Ok(()),
            Auth::OAuth2 { username, token } => {
                if !is_offered(Mechanism::XOAuth2) {
                    return Err(Error::NotSupported(format!(
                        "{} does not offer AUTH XOAUTH2 (offers {})",
                        self.config.endpoint.host,
                        offered.join(" ")
                    )));
                }
                let blob = B64.encode(format!("user={username}\x01auth=Bearer {token}\x01\x01"));
                let mut reply = self
                    .secret_command(
                        format!("AUTH XOAUTH2 {blob}\r\n").as_bytes(),
                        &format!("AUTH XOAUTH2 {REDACTED}"),
                    )
                    .await?;
                if reply.code == 334 {
                    // The error details come base64-encoded in the 334; an empty line ends it.
                    reply = self.command(b"\r\n").await?;
                }
                reply
            }
            Auth::Password {
                username,
                password,
                mechanism,
            } => {
                let mech = match mechanism {
                    Some(m) if is_offered(m) => m,
                    Some(m) => {
                        return Err(Error::NotSupported(format!(
                            "{} does not offer AUTH {} (offers {})",
                            self.config.endpoint.host,
                            m.name(),
                            offered.join(" ")
                        )));
                    }
                    None if is_offered(Mechanism::Plain) => Mechanism::Plain,
                    None if is_offered(Mechanism::Login) => Mechanism::Login,
                    None => {
                        return Err(Error::NotSupported(format!(
                            "no common AUTH mechanism: {} offers {}, the client speaks PLAIN \
                             and LOGIN",
                            self.config.endpoint.host,
                            offered.join(" ")
                        )));
                    }
                };
                match mech {
                    Mechanism::Plain | Mechanism::XOAuth2 => {
                        let blob = B64.encode(format!("\0{username}\0{password}"));
                        let mut reply = self
                            .secret_command(
                                format!("AUTH PLAIN {blob}\r\n").as_bytes(),
                                &format!("AUTH PLAIN {REDACTED}"),
                            )
                            .await?;
                        if reply.code == 334 {
                            reply = self
                                .secret_command(format!("{blob}\r\n").as_bytes(), REDACTED)
                                .await?;
                        }
                        reply
                    }
                    Mechanism::Login => {
                        let mut reply = self.command(b"AUTH LOGIN\r\n").await?;
                        if reply.code == 334 {
                            let user = B64.encode(&username);
                            reply = self
                                .secret_command(format!("{user}\r\n").as_bytes(), REDACTED)
                                .await?;
                        }
                        if reply.code == 334 {
                            let pass = B64.encode(&password);
                            reply = self
                                .secret_command(format!("{pass}\r\n").as_bytes(), REDACTED)
                                .await?;
                        }
                        reply
                    }
                }
            }
        };
        if reply.code != 235 {
            if reply.code == 334 {
                // A server still asking for more: cancel the exchange (RFC 4954 §4).
                let _ = self.command(b"*\r\n").await?;
            }
            return Err(refusal(reply, "authentication failed"));
        }
        self.info.authenticated = true;
        Ok(())
    }

    /// Whether an idle connection can take another transaction: nothing interrupted, and the
    /// server has neither closed it nor sent anything unasked (such as a 421 at idle timeout).
    pub async fn is_reusable(&mut self) -> bool {
        if self.busy || !self.lines.buffer().is_empty() {
            return false;
        }
        // Poll a read exactly once (a zero timeout would wait for the next timer tick, about
        // a millisecond): pending means the connection is open and quiet.
        let mut cx = Context::from_waker(Waker::noop());
        let fill = std::pin::pin!(self.lines.fill());
        fill.poll(&mut cx).is_pending()
    }

    /// Send one message. Refusals leave the connection ready for the next one (after RSET).
    pub async fn send(&mut self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        if self.busy {
            return Err(Error::Net(NetError::Closed));
        }
        self.busy = true;
        self.committed = false;
        let result = self.transaction(msg, opts).await;
        match &result {
            Ok(_) => self.busy = false,
            // The replies were all read: the session is in step, reset the transaction
            // (RFC 5321 §4.1.1.5) so the next message starts clean.
            Err(
                Error::Reply { .. }
                | Error::RecipientsRefused(_)
                | Error::NotSupported(_)
                | Error::TooLarge { .. }
                | Error::InvalidArgument(_)
                | Error::InvalidAddress { .. },
            ) => {
                if !self.committed || self.rset().await.is_ok() {
                    self.busy = false;
                }
            }
            Err(_) => {}
        }
        result
    }

    async fn rset(&mut self) -> Result<Reply, Error> {
        let reply = self.command(b"RSET\r\n").await?;
        if !reply.is_positive() {
            return Err(refusal(reply, "RSET"));
        }
        Ok(reply)
    }

    /// NOOP (RFC 5321 §4.1.1.9): checks the connection.
    pub async fn noop(&mut self) -> Result<Reply, Error> {
        if self.busy {
            return Err(Error::Net(NetError::Closed));
        }
        self.busy = true;
        let reply = self.command(b"NOOP\r\n").await?;
        self.busy = false;
        if !reply.is_positive() {
            return Err(refusal(reply, "NOOP"));
        }
        Ok(reply)
    }

    /// QUIT (RFC 5321 §4.1.1.10) and close; errors do not matter any more.
    pub async fn quit(mut self) {
        if !self.busy {
            let _ = timed(Some(Duration::from_secs(5)), "QUIT", async {
                self.command(b"QUIT\r\n").await
            })
            .await;
        }
        let _ = self.lines.get_mut().shutdown().await;
    }

    fn mail_params(&self, msg: &Prepared, opts: &SendOptions) -> Result<Vec<String>, Error> {
        let ext = &self.info.extensions;
        let mut params = Vec::new();
        if msg.needs_smtputf8 && !ext.has("SMTPUTF8") {
            return Err(Error::NotSupported(format!(
                "the message needs SMTPUTF8 (non-ASCII addresses or headers, RFC 6531) but {} \
                 does not offer it",
                self.config.endpoint.host
            )));
        }
        if msg.needs_8bitmime && !ext.has("8BITMIME") {
            return Err(Error::NotSupported(format!(
                "the message body has 8-bit data but {} does not offer 8BITMIME (RFC 6152); \
                 encode it with quoted-printable or base64",
                self.config.endpoint.host
            )));
        }
        let size = msg.content.len() as u64;
        if let Some(limit) = ext.size_limit()
            && size > limit
        {
            return Err(Error::TooLarge { size, limit });
        }
        if ext.has("SIZE") {
            params.push(format!("SIZE={size}"));
        }
        if (msg.needs_8bitmime || msg.needs_smtputf8) && ext.has("8BITMIME") {
            params.push("BODY=8BITMIME".into());
        }
        if msg.needs_smtputf8 {
            params.push("SMTPUTF8".into());
        }
        if opts.wants_dsn() {
            if !ext.has("DSN") {
                return Err(Error::NotSupported(format!(
                    "DSN options were given but {} does not offer DSN (RFC 3461)",
                    self.config.endpoint.host
                )));
            }
            if let Some(ret) = &opts.dsn_return {
                params.push(format!("RET={}", ret.to_ascii_uppercase()));
            }
            if let Some(id) = &opts.dsn_envelope_id {
                params.push(format!("ENVID={}", xtext(id)));
            }
        }
        params.extend(opts.mail_params.iter().cloned());
        for p in &params {
            check_param(p, msg.needs_smtputf8)?;
        }
        Ok(params)
    }

    fn rcpt_params(&self, addr: &str, opts: &SendOptions) -> Vec<String> {
        let mut params = Vec::new();
        if let Some(notify) = &opts.dsn_notify {
            let list: Vec<String> = notify.iter().map(|n| n.to_ascii_uppercase()).collect();
            params.push(format!("NOTIFY={}", list.join(",")));
            // ORCPT (RFC 3461 §4.2) for ASCII addresses; RFC 6533's utf-8 form is optional.
            if addr.is_ascii() {
                params.push(format!("ORCPT=rfc822;{}", xtext(addr)));
            }
        }
        params.extend(opts.rcpt_params.iter().cloned());
        params
    }

    async fn transaction(&mut self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        let mail_params = self.mail_params(msg, opts)?;
        let ext = &self.info.extensions;
        let pipelining = self.config.use_pipelining && ext.has("PIPELINING");
        let chunking = self.config.use_chunking && ext.has("CHUNKING");
        let mail = command::mail_from(&msg.sender, &mail_params);
        let mut rcpts = Vec::with_capacity(msg.recipients.len());
        for r in &msg.recipients {
            rcpts.push(command::rcpt_to(r, &self.rcpt_params(r, opts)));
        }
        let bdat_header = format!("BDAT {} LAST\r\n", msg.content.len());

        let mut replies = Vec::with_capacity(msg.recipients.len());
        let data_reply;
        if pipelining {
            // RFC 2920 §3.1: MAIL, every RCPT and DATA (or the last BDAT, RFC 3030 §4.2) in
            // one flight; the replies come back in order.
            let mut flight = mail;
            rcpts.iter().for_each(|r| flight.extend_from_slice(r));
            if chunking {
                flight.extend_from_slice(bdat_header.as_bytes());
                flight.extend_from_slice(&msg.content);
            } else {
                flight.extend_from_slice(b"DATA\r\n");
            }
            self.note(&flight);
            self.write(&flight).await?;
            let mail_reply = self.read_reply().await?;
            self.committed = true;
            for r in &msg.recipients {
                replies.push((r.clone(), self.read_reply().await?));
            }
            data_reply = self.read_reply().await?;
            let accepted = replies.iter().any(|(_, r)| r.is_positive());
            if !mail_reply.is_positive() || !accepted {
                if !chunking && data_reply.code == 354 {
                    // The server took DATA although nothing was accepted: end it empty.
                    self.note(b".\r\n");
                    self.write(b".\r\n").await?;
                    self.read_reply().await?;
                }
                return Err(if mail_reply.is_positive() {
                    Error::RecipientsRefused(replies)
                } else {
                    refusal(mail_reply, "MAIL FROM refused")
                });
            }
        } else {
            let mail_reply = self.command(&mail).await?;
            self.committed = true;
            if !mail_reply.is_positive() {
                return Err(refusal(mail_reply, "MAIL FROM refused"));
            }
            for (addr, line) in msg.recipients.iter().zip(&rcpts) {
                let reply = self.command(line).await?;
                replies.push((addr.clone(), reply));
            }
            if !replies.iter().any(|(_, r)| r.is_positive()) {
                return Err(Error::RecipientsRefused(replies));
            }
            data_reply = if chunking {
                let mut chunk = bdat_header.into_bytes();
                chunk.extend_from_slice(&msg.content);
                self.command(&chunk).await?
            } else {
                self.command(b"DATA\r\n").await?
            };
        }
        let final_reply = if chunking {
            data_reply
        } else {
            if data_reply.code != 354 {
                return Err(refusal(data_reply, "DATA refused"));
            }
            let data = dot_stuffed(&msg.content);
            self.note(&data);
            self.write(&data).await?;
            self.read_reply().await?
        };
        if !final_reply.is_positive() {
            return Err(refusal(final_reply, "message refused"));
        }
        Ok(Outcome {
            sender: msg.sender.clone(),
            recipients: replies,
            data_reply: final_reply,
            host: self.config.endpoint.host.clone(),
        })
    }
}
