//! The SMTP client: one `Connection` is one session (greeting, EHLO, STARTTLS, AUTH, then any
//! number of transactions); a `Pool` shares connections between concurrent sends and replaces
//! those the server closed while idle. The sync and async Python clients both drive `Pool`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use super::Error;
use super::command::{self, check_param, envelope_address, xtext};
use super::message::{self, canonical, dot_stuffed};
use super::reply::{Extensions, MAX_REPLY_LINES, Reply, parse_line};
use crate::auth::DkimSigner;
use crate::net::transcript::{Direction, REDACTED};
use crate::net::{Endpoint, LineReader, NetError, Stream, TlsMode};

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512; real servers exceed it).
const MAX_REPLY_LINE: usize = 8192;

/// SASL mechanisms the client speaks (RFC 4954).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    XOAuth2,
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            "XOAUTH2" => Some(Mechanism::XOAuth2),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }
}

/// Credentials: a password (PLAIN/LOGIN) or an OAuth 2 bearer token (XOAUTH2).
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Password {
        username: String,
        password: String,
        mechanism: Option<Mechanism>,
    },
    OAuth2 {
        username: String,
        token: String,
    },
}

/// Where and how to connect, and how to behave there. Shared by every connection of a pool.
pub struct ClientConfig {
    pub endpoint: Endpoint,
    /// The EHLO argument; an address literal of our side of the connection when `None`.
    pub local_hostname: Option<String>,
    pub auth: Auth,
    /// The whole of one send, connection set-up included.
    pub transaction_timeout: Option<Duration>,
    pub use_pipelining: bool,
    pub use_chunking: bool,
    /// DKIM signers: every message sent is signed by each (the first one's field on top),
    /// as it will be transmitted (Bcc removed).
    pub dkim: Vec<DkimSigner>,
}

impl ClientConfig {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let mut endpoint = Endpoint::new(host, port);
        endpoint.connect_timeout = Some(Duration::from_secs(30));
        ClientConfig::with_endpoint(endpoint)
    }

    pub fn with_endpoint(endpoint: Endpoint) -> Self {
        ClientConfig {
            endpoint,
            local_hostname: None,
            auth: Auth::None,
            transaction_timeout: None,
            use_pipelining: true,
            use_chunking: true,
            dkim: Vec::new(),
        }
    }

    /// A copy aimed at another host (MX delivery), with its own TLS name.
    pub fn for_host(&self, connect_to: &str, tls_name: &str, port: u16) -> ClientConfig {
        ClientConfig {
            endpoint: self.endpoint.for_host(connect_to, tls_name, port),
            local_hostname: self.local_hostname.clone(),
            auth: self.auth.clone(),
            transaction_timeout: self.transaction_timeout,
            use_pipelining: self.use_pipelining,
            use_chunking: self.use_chunking,
            dkim: self.dkim.clone(),
        }
    }

    /// Check what can be checked before connecting.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(name) = &self.local_hostname {
            command::check_client_name(name)?;
        }
        let has_auth = !matches!(self.auth, Auth::None);
        if has_auth && self.endpoint.tls == TlsMode::None && !self.endpoint.allow_insecure_auth {
            return Err(Error::InsecureAuth);
        }
        Ok(())
    }
}

/// A message ready to send: envelope checked, content in transmission form.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub sender: String,
    pub recipients: Vec<String>,
    /// CRLF line ends, Bcc removed, not dot-stuffed.
    pub content: Vec<u8>,
    /// Non-ASCII addresses or headers: needs SMTPUTF8 (RFC 6531).
    pub needs_smtputf8: bool,
    /// 8-bit body: needs 8BITMIME (RFC 6152).
    pub needs_8bitmime: bool,
}

impl Prepared {
    /// The envelope defaults to the message's own (Sender or From; To, Cc, Bcc), and the Bcc
    /// and Resent-Bcc fields are removed in any case.
    pub fn new(
        raw: &[u8],
        sender: Option<&str>,
        recipients: Option<&[String]>,
    ) -> Result<Prepared, Error> {
        let info = message::inspect(raw);
        let sender = match sender {
            Some(s) => envelope_address(s, true)?,
            None => match &info.sender {
                Some(s) => envelope_address(s, true)?,
                None => {
                    return Err(Error::InvalidArgument(
                        "the message has no Sender or From address: pass sender=".into(),
                    ));
                }
            },
        };
        let recipients = match recipients {
            Some(r) => message::dedup(r.to_vec()),
            None => info.recipients.clone(),
        };
        if recipients.is_empty() {
            return Err(Error::InvalidArgument(
                "no recipients: the message has no To, Cc or Bcc address; pass recipients=".into(),
            ));
        }
        let recipients = recipients
            .iter()
            .map(|r| envelope_address(r, false))
            .collect::<Result<Vec<_>, _>>()?;
        let content = canonical(raw, &info.hidden);
        let body_offset = info
            .body_offset
            .saturating_sub(info.hidden.iter().map(|r| r.end - r.start).sum::<usize>());
        let (headers_8bit, body_8bit) = message::eight_bit(&content, body_offset);
        // UTF-8 header fields are RFC 6532 internationalized mail and need SMTPUTF8; other
        // 8-bit header bytes are legacy raw charsets, which travel as 8BITMIME like a body.
        let utf8_headers =
            headers_8bit && std::str::from_utf8(&content[..body_offset.min(content.len())]).is_ok();
        let needs_smtputf8 =
            utf8_headers || !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        Ok(Prepared {
            sender,
            recipients,
            content,
            needs_smtputf8,
            needs_8bitmime: body_8bit || (headers_8bit && !utf8_headers),
        })
    }
}

impl Prepared {
    /// This message signed by `signers` (RFC 6376; the first one's DKIM-Signature on top),
    /// or itself when there are none. The signatures cover the content as transmitted:
    /// Bcc fields are already gone, line ends are CRLF. Signatures add only ASCII header
    /// lines, so the extensions the message needs stay the same.
    pub fn signed(&self, signers: &[DkimSigner]) -> Result<Cow<'_, Prepared>, Error> {
        if signers.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        let content = crate::auth::sign_all(signers, &self.content)
            .map_err(|e| Error::InvalidArgument(format!("DKIM signing: {e}")))?;
        Ok(Cow::Owned(Prepared {
            content,
            ..self.clone()
        }))
    }
}

/// DSN (RFC 3461) and raw ESMTP parameters for one send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// NOTIFY: "NEVER" or any of "SUCCESS", "FAILURE", "DELAY".
    pub dsn_notify: Option<Vec<String>>,
    /// RET: "FULL" or "HDRS".
    pub dsn_return: Option<String>,
    /// ENVID.
    pub dsn_envelope_id: Option<String>,
    pub mail_params: Vec<String>,
    pub rcpt_params: Vec<String>,
}

impl SendOptions {
    pub fn wants_dsn(&self) -> bool {
        self.dsn_notify.is_some() || self.dsn_return.is_some() || self.dsn_envelope_id.is_some()
    }

    pub fn validate(&self) -> Result<(), Error> {
        if let Some(notify) = &self.dsn_notify {
            let upper: Vec<String> = notify.iter().map(|n| n.to_ascii_uppercase()).collect();
            let ok = !upper.is_empty()
                && upper
                    .iter()
                    .all(|n| matches!(n.as_str(), "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"))
                && (!upper.iter().any(|n| n == "NEVER") || upper.len() == 1);
            if !ok {
                return Err(Error::InvalidArgument(format!(
                    "dsn_notify must be NEVER, or some of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1), \
                     not {notify:?}"
                )));
            }
        }
        if let Some(ret) = &self.dsn_return
            && !matches!(ret.to_ascii_uppercase().as_str(), "FULL" | "HDRS")
        {
            return Err(Error::InvalidArgument(format!(
                "dsn_return must be FULL or HDRS (RFC 3461 §4.3), not {ret:?}"
            )));
        }
        if let Some(id) = &self.dsn_envelope_id
            && (id.is_empty() || id.len() > 100 || !id.is_ascii())
        {
            return Err(Error::InvalidArgument(
                "dsn_envelope_id must be 1 to 100 ASCII characters (RFC 3461 §4.4)".into(),
            ));
        }
        for p in self.mail_params.iter().chain(&self.rcpt_params) {
            check_param(p, true)?;
        }
        Ok(())
    }
}

/// What the server said about one message.
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
    busy: bool,
    /// The server has answered a command of the current transaction (so a retry elsewhere
    /// could duplicate the message).
    committed: bool,
}

async fn timed<T>(
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

/// Connections shared by concurrent sends: at most `max` open at once; idle ones are checked
/// before reuse and replaced when the server has closed them.
pub struct Pool {
    config: Arc<ClientConfig>,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    closed: AtomicBool,
    last_info: Mutex<Option<SessionInfo>>,
}

impl Pool {
    pub fn new(config: ClientConfig, max_connections: usize) -> Result<Pool, Error> {
        config.validate()?;
        Ok(Pool {
            config: Arc::new(config),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_connections.max(1)),
            closed: AtomicBool::new(false),
            last_info: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn put_idle(&self, conn: Connection) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    /// Idle connections (open, not in use).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// What the most recently opened connection learned about the server.
    pub fn last_info(&self) -> Option<SessionInfo> {
        self.last_info.lock().ok()?.clone()
    }

    async fn open(&self) -> Result<Connection, Error> {
        let conn = Connection::open(self.config.clone()).await?;
        if let Ok(mut last) = self.last_info.lock() {
            *last = Some(conn.info().clone());
        }
        Ok(conn)
    }

    /// A usable connection: an idle one that is still open, or a new one. The bool says
    /// whether it was reused.
    async fn checkout(&self) -> Result<(Connection, bool), Error> {
        while let Some(mut conn) = self.take_idle() {
            if conn.is_reusable().await {
                return Ok((conn, true));
            }
        }
        Ok((self.open().await?, false))
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.closed.load(Ordering::SeqCst) {
            Err(Error::ClientClosed)
        } else {
            Ok(())
        }
    }

    /// Make sure one connection is open (to report connection problems early).
    pub async fn connect(&self) -> Result<SessionInfo, Error> {
        self.check_open()?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::ClientClosed)?;
        let (conn, _) = timed(
            self.config.endpoint.connect_timeout.map(|t| t * 2),
            "connecting",
            async { self.checkout().await },
        )
        .await?;
        let info = conn.info().clone();
        self.put_idle(conn);
        Ok(info)
    }

    pub async fn send(&self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        self.check_open()?;
        opts.validate()?;
        let msg = msg.signed(&self.config.dkim)?;
        let msg = msg.as_ref();
        timed(
            self.config.transaction_timeout,
            "sending the message (transaction timeout)",
            self.send_inner(msg, opts),
        )
        .await
    }

    async fn send_inner(&self, msg: &Prepared, opts: &SendOptions) -> Result<Outcome, Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::ClientClosed)?;
        let (mut conn, reused) = self.checkout().await?;
        let result = conn.send(msg, opts).await;
        let result = match result {
            // The server dropped a reused connection before answering anything of this
            // transaction: nothing was accepted, so one retry on a new connection is safe.
            Err(e) if reused && e.is_connection_lost() && !conn.committed => {
                conn = self.open().await?;
                conn.send(msg, opts).await
            }
            other => other,
        };
        if !conn.busy {
            self.put_idle(conn);
        }
        result
    }

    pub async fn noop(&self) -> Result<Reply, Error> {
        self.check_open()?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::ClientClosed)?;
        let (mut conn, _) = self.checkout().await?;
        let reply = conn.noop().await;
        if !conn.busy {
            self.put_idle(conn);
        }
        reply
    }

    /// QUIT every idle connection and refuse further use. Connections in use are closed when
    /// their send finishes.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let conns: Vec<Connection> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for conn in conns {
            conn.quit().await;
        }
    }

    /// Close idle connections without refusing further use.
    pub async fn disconnect(&self) {
        let conns: Vec<Connection> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for conn in conns {
            conn.quit().await;
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_envelope_and_extension_needs() {
        let p = Prepared::new(
            b"From: a@x.example\r\nTo: b@y.example\r\n\r\nhi\r\n",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (p.sender.as_str(), p.recipients.as_slice()),
            ("a@x.example", &["b@y.example".to_owned()][..])
        );
        assert!(!p.needs_smtputf8 && !p.needs_8bitmime);
        // RFC 6532 UTF-8 header: SMTPUTF8
        let p = Prepared::new(
            "Subject: é\r\n\r\nhi\r\n".as_bytes(),
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(p.needs_smtputf8);
        // legacy Latin-1 header bytes: plain 8-bit, like a body (RFC 6152)
        let p = Prepared::new(
            b"Subject: \xe9\r\n\r\nhi\r\n",
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(!p.needs_smtputf8 && p.needs_8bitmime);
        let p = Prepared::new(
            b"Subject: x\r\n\r\n\xe9\r\n",
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(!p.needs_smtputf8 && p.needs_8bitmime);
        assert!(matches!(
            Prepared::new(b"Subject: x\r\n\r\n", None, Some(&["b@y".into()])),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn dsn_options_are_checked() {
        let mut o = SendOptions {
            dsn_notify: Some(vec!["NEVER".into(), "SUCCESS".into()]),
            ..SendOptions::default()
        };
        assert!(o.validate().is_err());
        o.dsn_notify = Some(vec!["success".into(), "delay".into()]);
        o.validate().unwrap();
        o.dsn_return = Some("ALL".into());
        assert!(o.validate().is_err());
    }
}

#[cfg(test)]
mod session_tests {
    //! The client against scripted servers on loopback: exact bytes both ways.
    use super::*;
    use crate::net::transcript::Transcript;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serve `steps` (expected client bytes, reply) on one connection; return all bytes read.
    async fn scripted(
        greeting: &'static [u8],
        steps: Vec<(&'static [u8], &'static [u8])>,
    ) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.write_all(greeting).await.unwrap();
            let mut got = Vec::new();
            for (expected, reply) in steps {
                let want = got.len() + expected.len();
                while got.len() < want {
                    let mut buf = [0u8; 4096];
                    let n = sock.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return got;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                if reply.is_empty() {
                    return got;
                }
                sock.write_all(reply).await.unwrap();
            }
            got
        });
        (port, task)
    }

    fn config(port: u16) -> ClientConfig {
        let mut c = ClientConfig::new("127.0.0.1", port);
        c.endpoint.tls = TlsMode::None;
        c.local_hostname = Some("mta.example.org".into());
        c.endpoint.io_timeout = Some(Duration::from_secs(5));
        c
    }

    #[tokio::test]
    async fn seed_chapter_session() {
        let (port, server) = scripted(
            b"220 smtp.example.com ESMTP MTA information\r\n",
            vec![
                (
                    b"EHLO mta.example.org\r\n",
                    b"250 Hello mta.example.org, glad to meet you\r\n",
                ),
                (b"MAIL FROM:<alice@example.org>\r\n", b"250 Ok\r\n"),
                (b"RCPT TO:<bob@example.com>\r\n", b"250 Ok\r\n"),
                (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
                (
                    b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\nHello Bob\r\n.\r\n",
                    b"250 Ok: queued as 12345\r\n",
                ),
                (b"QUIT\r\n", b"221 Bye\r\n"),
            ],
        )
        .await;
        let mut conn = Connection::open(Arc::new(config(port))).await.unwrap();
        let msg = Prepared::new(
            b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\nHello Bob\r\n",
            None,
            None,
        )
        .unwrap();
        let outcome = conn.send(&msg, &SendOptions::default()).await.unwrap();
        assert_eq!(outcome.data_reply.text(), "Ok: queued as 12345");
        assert_eq!(outcome.recipients[0].1.code, 250);
        conn.quit().await;
        let got = server.await.unwrap();
        assert!(got.starts_with(b"EHLO mta.example.org\r\nMAIL FROM:<alice@example.org>\r\n"));
        assert!(got.ends_with(b"Hello Bob\r\n.\r\nQUIT\r\n"));
    }

    #[tokio::test]
    async fn transcript_records_both_sides_and_redacts_credentials() {
        let (port, server) = scripted(
            b"220 smtp.example.com ESMTP\r\n",
            vec![
                (
                    b"EHLO mta.example.org\r\n",
                    b"250-smtp.example.com\r\n250 AUTH PLAIN LOGIN\r\n",
                ),
                (
                    b"AUTH PLAIN AGFsaWNlADEyMzQ1cGFzcw==\r\n",
                    b"235 2.7.0 OK\r\n",
                ),
                (b"MAIL FROM:<alice@example.org>\r\n", b"250 Ok\r\n"),
                (b"RCPT TO:<bob@example.com>\r\n", b"250 Ok\r\n"),
                (b"DATA\r\n", b"354 go ahead\r\n"),
                (
                    b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\n..dot\r\n.\r\n",
                    b"250 Ok: queued as 12345\r\n",
                ),
                (b"QUIT\r\n", b"221 Bye\r\n"),
            ],
        )
        .await;
        let transcript = Arc::new(Transcript::new());
        let mut cfg = config(port);
        cfg.auth = Auth::Password {
            username: "alice".into(),
            password: "12345pass".into(),
            mechanism: None,
        };
        cfg.endpoint.allow_insecure_auth = true;
        cfg.endpoint.transcript = Some(transcript.clone());
        let mut conn = Connection::open(Arc::new(cfg)).await.unwrap();
        let msg = Prepared::new(
            b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\n.dot\r\n",
            None,
            None,
        )
        .unwrap();
        conn.send(&msg, &SendOptions::default()).await.unwrap();
        conn.quit().await;
        server.await.unwrap();
        let lines: Vec<String> = transcript
            .lines()
            .into_iter()
            .map(|(d, l)| format!("{}: {l}", d.label()))
            .collect();
        // RFC 5321 order (MAIL before RCPT), data lines as sent (dot-stuffed, RFC 5321
        // §4.5.2), and the AUTH PLAIN response (RFC 4616) never recorded.
        assert_eq!(
            lines,
            [
                "S: 220 smtp.example.com ESMTP",
                "C: EHLO mta.example.org",
                "S: 250-smtp.example.com",
                "S: 250 AUTH PLAIN LOGIN",
                "C: AUTH PLAIN ********",
                "S: 235 2.7.0 OK",
                "C: MAIL FROM:<alice@example.org>",
                "S: 250 Ok",
                "C: RCPT TO:<bob@example.com>",
                "S: 250 Ok",
                "C: DATA",
                "S: 354 go ahead",
                "C: From: alice@example.org",
                "C: To: bob@example.com",
                "C: ",
                "C: ..dot",
                "C: .",
                "S: 250 Ok: queued as 12345",
                "C: QUIT",
                "S: 221 Bye",
            ]
        );
    }

    #[tokio::test]
    async fn idle_connection_the_server_gave_up_is_not_reused() {
        // RFC 5321 §4.5.3.2.7: a server may send 421 and close an idle connection.
        let (port, first) = scripted(
            b"220 one\r\n",
            vec![
                (
                    b"EHLO mta.example.org\r\n",
                    b"250 hi\r\n421 4.4.2 idle timeout\r\n",
                ),
                (b"", b""),
            ],
        )
        .await;
        let pool = Pool::new(config(port), 1).unwrap();
        pool.connect().await.unwrap();
        first.await.unwrap();
        let mut conn = pool.take_idle().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!conn.is_reusable().await);
    }
}
