//! The POP3 client core: one connection, every RFC 1939 command, APOP, AUTH PLAIN (RFC 5034),
//! STLS (RFC 2595) and implicit TLS (RFC 8314), and pipelined retrieval (RFC 2449 PIPELINING).

use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use super::Error;
use super::command;
use super::response::{Status, continuation, encode_body, read_multiline};
use crate::net::stream::TlsInfo;
use crate::net::transcript::{Direction, REDACTED};
use crate::net::{Endpoint, LineReader, NetError, Stream, TlsMode};

/// Longest status line accepted. RFC 2449 §4 allows 512 octets; be generous.
const MAX_STATUS_LINE: usize = 64 * 1024;
/// RFC 5034 §4: an AUTH command with its initial response must fit in 255 octets, else the
/// response goes on its own line after the server's `+` challenge.
const MAX_AUTH_LINE: usize = 255;
/// Commands sent ahead of the responses read when the server allows pipelining.
const PIPELINE_WINDOW: usize = 64;
/// Read size: responses carry whole messages.
const READ_BUFFER: usize = 256 * 1024;
/// Largest LIST or UIDL listing accepted (some four million messages).
const MAX_LISTING: usize = 64 << 20;

/// How much a RETR or TOP response may bring for a message LIST gave as `size` octets. RFC
/// 1939 §5 makes LIST sizes exact, but some servers count line ends as LF: twice the size plus
/// 64 KiB covers any honest count and still stops a server that never ends the response (which
/// would otherwise be buffered until memory runs out).
pub fn retr_limit(size: u64) -> usize {
    usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_mul(2)
        .saturating_add(64 * 1024)
}

/// How `login` authenticates with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// AUTH PLAIN when the server lists `SASL PLAIN`, else USER/PASS.
    Auto,
    /// USER and PASS (RFC 1939 §7).
    UserPass,
    /// AUTH PLAIN (RFC 5034, RFC 4616).
    Plain,
}

/// Where and how to connect, and what to accept.
pub struct ClientConfig {
    pub endpoint: Endpoint,
    /// Largest message `retr` accepts (`None`: no limit).
    pub max_message_size: Option<usize>,
}

impl ClientConfig {
    /// Implicit TLS on port 995, STLS when offered elsewhere.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let mut endpoint = Endpoint::new(host, port);
        if port == 995 {
            endpoint.tls = TlsMode::Implicit;
        }
        ClientConfig::with_endpoint(endpoint)
    }

    pub fn with_endpoint(endpoint: Endpoint) -> Self {
        ClientConfig {
            endpoint,
            max_message_size: None,
        }
    }
}

/// What the server said it supports (RFC 2449 CAPA): capability names in upper case, each
/// with its arguments, in the server's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(pub Vec<(String, Vec<String>)>);

impl Capabilities {
    fn parse(body: &[u8]) -> Capabilities {
        let text = String::from_utf8_lossy(body);
        let mut caps = Vec::new();
        for line in text.lines() {
            let mut words = line.split_ascii_whitespace();
            if let Some(name) = words.next() {
                caps.push((
                    name.to_ascii_uppercase(),
                    words.map(str::to_owned).collect(),
                ));
            }
        }
        Capabilities(caps)
    }

    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, args)| args.as_slice())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn has_sasl(&self, mechanism: &str) -> bool {
        self.get("SASL")
            .is_some_and(|m| m.iter().any(|x| x.eq_ignore_ascii_case(mechanism)))
    }
}

/// Whether `line` is a command of the TRANSACTION state (RFC 1939 §5), valid only after login.
fn is_transaction_command(line: &[u8]) -> bool {
    let verb = line
        .split(|&b| b == b' ' || b == b'\r')
        .next()
        .unwrap_or_default();
    [
        &b"STAT"[..],
        b"LIST",
        b"RETR",
        b"DELE",
        b"RSET",
        b"TOP",
        b"UIDL",
    ]
    .iter()
    .any(|v| verb.eq_ignore_ascii_case(v))
}

/// One POP3 session. Every method takes `&mut self`; after a network or protocol failure the
/// connection is unusable and methods return [`Error::Closed`]. An `-ERR` leaves it usable.
pub struct Connection {
    lines: Option<LineReader<Stream>>,
    config: Arc<ClientConfig>,
    greeting: Status,
    capabilities: Option<Capabilities>,
    authenticated: bool,
    /// Message sizes LIST gave in this session: they bound what RETR and TOP read.
    sizes: std::collections::HashMap<u32, u64>,
}

impl Connection {
    /// Connect, read the greeting and secure the session as `config.endpoint.tls` says.
    pub async fn connect(config: Arc<ClientConfig>) -> Result<Connection, Error> {
        let stream = config.endpoint.connect().await?;
        let mut conn = Connection {
            lines: Some(LineReader::with_capacity(stream, READ_BUFFER)),
            config,
            greeting: Status {
                ok: true,
                code: None,
                text: String::new(),
            },
            capabilities: None,
            authenticated: false,
            sizes: std::collections::HashMap::new(),
        };
        let greeting = conn.read_status_line().await?;
        if !greeting.ok {
            conn.lines = None;
            return Err(Error::Err(greeting));
        }
        conn.greeting = greeting;
        match conn.config.endpoint.tls {
            TlsMode::StartTls => {
                if !conn.capa().await?.has("STLS") {
                    return Err(Error::Net(NetError::Tls(
                        "the server does not offer STLS".into(),
                    )));
                }
                conn.stls().await?;
            }
            TlsMode::Opportunistic => {
                if conn.capa().await?.has("STLS") {
                    conn.stls().await?;
                }
            }
            TlsMode::None | TlsMode::Implicit => {}
        }
        Ok(conn)
    }

    /// The greeting's text.
    pub fn greeting(&self) -> &Status {
        &self.greeting
    }

    /// The APOP timestamp in the greeting (`<...>`, RFC 1939 §7), if the server sent one.
    pub fn apop_timestamp(&self) -> Option<&str> {
        let text = &self.greeting.text;
        let start = text.find('<')?;
        let end = start + text[start..].find('>')?;
        Some(&text[start..=end])
    }

    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.lines.as_ref().and_then(|l| l.get_ref().tls_info())
    }

    pub fn is_tls(&self) -> bool {
        self.lines.as_ref().is_some_and(|l| l.get_ref().is_tls())
    }

    pub fn is_open(&self) -> bool {
        self.lines.is_some()
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The capabilities, asking the server (CAPA) once per state: RFC 2449 §5 lets them change
    /// after login, and RFC 2595 §4 says to forget them after STLS. A server without CAPA has
    /// none.
    pub async fn capa(&mut self) -> Result<Capabilities, Error> {
        if let Some(c) = &self.capabilities {
            return Ok(c.clone());
        }
        self.send(b"CAPA\r\n").await?;
        let status = self.read_status_line().await?;
        let caps = if status.ok {
            let mut body = Vec::new();
            self.read_body(&mut body, Some(MAX_STATUS_LINE), "CAPA")
                .await?;
            Capabilities::parse(&body)
        } else {
            Capabilities::default()
        };
        self.capabilities = Some(caps.clone());
        Ok(caps)
    }

    /// Upgrade to TLS with STLS (RFC 2595 §4).
    pub async fn stls(&mut self) -> Result<Status, Error> {
        if self.is_tls() {
            return Err(Error::Usage("the connection is already encrypted".into()));
        }
        let status = self.simple(b"STLS\r\n").await?;
        let lines = self.lines.take().ok_or(Error::Closed)?;
        // Bytes the server sent after +OK, before the handshake, would be read as if they came
        // through TLS: refuse them (the STARTTLS injection class, CVE-2011-0411's mirror).
        let stream = lines.into_inner().map_err(|(_, n)| {
            Error::Protocol(format!("{n} unexpected bytes after the STLS response"))
        })?;
        let endpoint = &self.config.endpoint;
        let stream = endpoint.start_tls(stream, endpoint.io_timeout).await?;
        self.lines = Some(LineReader::with_capacity(stream, READ_BUFFER));
        self.capabilities = None;
        Ok(status)
    }

    fn check_password_allowed(&self) -> Result<(), Error> {
        if !self.is_tls() && !self.config.endpoint.allow_insecure_auth {
            return Err(Error::InsecureAuth);
        }
        Ok(())
    }

    /// Log in with a password: USER/PASS or AUTH PLAIN.
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
        method: LoginMethod,
    ) -> Result<Status, Error> {
        self.check_password_allowed()?;
        let method = match method {
            LoginMethod::Auto if self.capa().await?.has_sasl("PLAIN") => LoginMethod::Plain,
            LoginMethod::Auto => LoginMethod::UserPass,
            m => m,
        };
        let status = match method {
            LoginMethod::Plain => self.auth_plain(user, password, None).await?,
            _ => {
                let user_line = command::format("USER", &[user], false).map_err(Error::Usage)?;
                let pass_line = command::format("PASS", &[password], true).map_err(Error::Usage)?;
                self.simple(&user_line).await?;
                self.send_secret(&pass_line, &format!("PASS {REDACTED}"))
                    .await?;
                self.expect_ok().await?
            }
        };
        self.logged_in();
        Ok(status)
    }

    /// APOP (RFC 1939 §7): proves the shared secret without sending it.
    pub async fn apop(&mut self, user: &str, secret: &str) -> Result<Status, Error> {
        let timestamp = self.apop_timestamp().ok_or_else(|| {
            Error::NotSupported("the server's greeting has no APOP timestamp".into())
        })?;
        let digest = apop_digest(timestamp, secret);
        let line = command::format("APOP", &[user, &digest], false).map_err(Error::Usage)?;
        let status = self.simple(&line).await?;
        self.logged_in();
        Ok(status)
    }

    /// AUTH PLAIN (RFC 5034 with RFC 4616), with the initial response on the command line
    /// when it fits in 255 octets.
    pub async fn auth_plain(
        &mut self,
        user: &str,
        password: &str,
        authzid: Option<&str>,
    ) -> Result<Status, Error> {
        self.check_password_allowed()?;
        let token = crate::net::sasl::plain_token(authzid, user, password)
            .ok_or_else(|| Error::Usage("AUTH PLAIN: credentials contain NUL".into()))?;
        let inline = format!("AUTH PLAIN {token}\r\n");
        let status = if inline.len() <= MAX_AUTH_LINE {
            self.send_secret(inline.as_bytes(), &format!("AUTH PLAIN {REDACTED}"))
                .await?;
            self.expect_ok().await?
        } else {
            self.send(b"AUTH PLAIN\r\n").await?;
            let line = self.read_line().await?;
            if continuation(&line).is_none() {
                let status = self.parse_status(&line)?;
                return Err(if status.ok {
                    Error::Protocol("AUTH PLAIN: +OK before the credentials".into())
                } else {
                    Error::Err(status)
                });
            }
            self.send_secret(format!("{token}\r\n").as_bytes(), REDACTED)
                .await?;
            self.expect_ok().await?
        };
        self.logged_in();
        Ok(status)
    }

    fn logged_in(&mut self) {
        self.authenticated = true;
        self.capabilities = None;
    }

    /// STAT: (message count, size in octets).
    pub async fn stat(&mut self) -> Result<(u32, u64), Error> {
        let status = self.simple(b"STAT\r\n").await?;
        let mut it = status.text.split_ascii_whitespace();
        match (
            it.next().and_then(|n| n.parse().ok()),
            it.next().and_then(|s| s.parse().ok()),
        ) {
            (Some(n), Some(s)) => Ok((n, s)),
            _ => Err(Error::Protocol(format!(
                "bad STAT response {:?}",
                status.text
            ))),
        }
    }

    /// LIST: every message's number and size.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, Error> {
        let body = self.multi(b"LIST\r\n", Some(MAX_LISTING), "LIST").await?;
        let listing = scan_listing(&body, |s| s.parse::<u64>().ok())?;
        self.sizes.extend(listing.iter().copied());
        Ok(listing)
    }

    /// LIST n: one message's size.
    pub async fn list_one(&mut self, msg: u32) -> Result<u64, Error> {
        let status = self.simple(format!("LIST {msg}\r\n").as_bytes()).await?;
        let size = scan_one(&status.text, |s| s.parse::<u64>().ok())?;
        self.sizes.insert(msg, size);
        Ok(size)
    }

    /// UIDL: every message's number and unique id.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Error> {
        let body = self.multi(b"UIDL\r\n", Some(MAX_LISTING), "UIDL").await?;
        scan_listing(&body, |s| Some(s.to_owned()))
    }

    /// UIDL n: one message's unique id.
    pub async fn uidl_one(&mut self, msg: u32) -> Result<String, Error> {
        let status = self.simple(format!("UIDL {msg}\r\n").as_bytes()).await?;
        scan_one(&status.text, |s| Some(s.to_owned()))
    }

    /// RETR: the message, unstuffed, with its line ends as the server sent them (CRLF). At
    /// most [`retr_limit`] of its LIST size is read (asked with `LIST n` first unless LIST gave
    /// it already), and no more than `max_message_size`: past that, [`Error::Protocol`].
    pub async fn retr(&mut self, msg: u32) -> Result<Vec<u8>, Error> {
        let (limit, what) = self.body_limit(msg, "RETR").await?;
        self.multi(format!("RETR {msg}\r\n").as_bytes(), Some(limit), &what)
            .await
    }

    /// TOP: the header and the first `lines` lines of the body (bounded as RETR is).
    pub async fn top(&mut self, msg: u32, lines: u64) -> Result<Vec<u8>, Error> {
        let (limit, what) = self.body_limit(msg, "TOP").await?;
        self.multi(
            format!("TOP {msg} {lines}\r\n").as_bytes(),
            Some(limit),
            &what,
        )
        .await
    }

    /// The most a response for message `msg` may bring, and how to name it in the error.
    async fn body_limit(&mut self, msg: u32, verb: &str) -> Result<(usize, String), Error> {
        let size = match self.sizes.get(&msg) {
            Some(&size) => size,
            None => self.list_one(msg).await?,
        };
        Ok(self.limit_for(msg, size, verb))
    }

    fn limit_for(&self, msg: u32, size: u64, verb: &str) -> (usize, String) {
        let limit = retr_limit(size);
        match self.config.max_message_size {
            Some(max) if max < limit => (max, format!("{verb} {msg} (max_message_size)")),
            _ => (limit, format!("{verb} {msg} (LIST: {size} octets)")),
        }
    }

    /// RETR for each message in turn, pipelined when the server allows it (RFC 2449 §6.6).
    /// All responses are read even if one is `-ERR`; then the first error is returned.
    /// `size_hints` (the LIST sizes, in the same order) let each buffer be allocated once.
    pub async fn retr_many(
        &mut self,
        msgs: &[u32],
        size_hints: Option<&[u64]>,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let lines: Vec<Vec<u8>> = msgs
            .iter()
            .map(|n| format!("RETR {n}\r\n").into_bytes())
            .collect();
        // Each response is bounded by its message's LIST size: the hints, or LIST now.
        let sizes = match size_hints {
            Some(h) if h.len() >= msgs.len() => h.to_vec(),
            _ => {
                if msgs.iter().any(|m| !self.sizes.contains_key(m)) {
                    self.list().await?;
                }
                msgs.iter()
                    .map(|m| self.sizes.get(m).copied().unwrap_or(0))
                    .collect()
            }
        };
        let limits: Vec<(usize, String)> = msgs
            .iter()
            .zip(&sizes)
            .map(|(&m, &size)| self.limit_for(m, size, "RETR"))
            .collect();
        self.pipelined(&lines, Some(&limits), Some(&sizes)).await
    }

    /// DELE for each message, pipelined when the server allows it.
    pub async fn dele_many(&mut self, msgs: &[u32]) -> Result<(), Error> {
        let lines: Vec<Vec<u8>> = msgs
            .iter()
            .map(|n| format!("DELE {n}\r\n").into_bytes())
            .collect();
        self.pipelined(&lines, None, None).await.map(|_| ())
    }

    pub async fn dele(&mut self, msg: u32) -> Result<Status, Error> {
        self.simple(format!("DELE {msg}\r\n").as_bytes()).await
    }

    pub async fn rset(&mut self) -> Result<Status, Error> {
        self.simple(b"RSET\r\n").await
    }

    pub async fn noop(&mut self) -> Result<Status, Error> {
        self.simple(b"NOOP\r\n").await
    }

    /// QUIT: the server deletes the messages marked with DELE (UPDATE state, RFC 1939 §6)
    /// and closes the connection.
    pub async fn quit(&mut self) -> Result<Status, Error> {
        let result = self.simple(b"QUIT\r\n").await;
        if let Some(mut lines) = self.lines.take() {
            // The server closes too; a failed shutdown changes nothing for us.
            let _ = tokio::time::timeout(Duration::from_secs(5), lines.get_mut().shutdown()).await;
        }
        result
    }

    /// Close the connection without QUIT: the server must not delete anything (RFC 1939 §6).
    pub fn abort(&mut self) {
        self.lines = None;
    }

    /// Send any command line and read a single-line response.
    pub async fn command(&mut self, line: &str) -> Result<Status, Error> {
        let line = command::format(line, &[], false).map_err(Error::Usage)?;
        self.simple(&line).await
    }

    // ---- plumbing --------------------------------------------------------------------

    /// Send `lines`, pipelined when the server allows it, and read each response: with a
    /// body bounded by `limits[i]` when given (multi-line responses), else a status line.
    async fn pipelined(
        &mut self,
        lines: &[Vec<u8>],
        limits: Option<&[(usize, String)]>,
        size_hints: Option<&[u64]>,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let window = if self.capa().await?.has("PIPELINING") {
            PIPELINE_WINDOW
        } else {
            1
        };
        let mut results = Vec::with_capacity(lines.len());
        let mut first_error = None;
        let mut sent = 0;
        let mut batch = Vec::new();
        while results.len() < lines.len() {
            if sent < lines.len() && sent - results.len() < window.div_ceil(2).max(1) {
                batch.clear();
                while sent < lines.len() && sent - results.len() < window {
                    batch.extend_from_slice(&lines[sent]);
                    sent += 1;
                }
                self.send(&batch).await?;
            }
            let status = self.read_status_line().await?;
            if status.ok {
                let hint = size_hints
                    .and_then(|h| h.get(results.len()))
                    .map_or(0, |&n| usize::try_from(n).unwrap_or(0));
                // A hint is only a hint: a lying server costs a reallocation, not a crash.
                let mut body = Vec::with_capacity(hint.min(64 << 20) + 64);
                if let Some((limit, what)) = limits.and_then(|l| l.get(results.len())) {
                    self.read_body(&mut body, Some(*limit), what).await?;
                }
                results.push(body);
            } else {
                first_error.get_or_insert(Error::Err(status));
                results.push(Vec::new());
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    /// A command with a multi-line response: the body, at most `limit` octets.
    async fn multi(
        &mut self,
        line: &[u8],
        limit: Option<usize>,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        self.simple(line).await?;
        let mut body = Vec::new();
        self.read_body(&mut body, limit, what).await?;
        Ok(body)
    }

    /// A command with a single-line response: `+OK` or `Error::Err`.
    async fn simple(&mut self, line: &[u8]) -> Result<Status, Error> {
        self.send(line).await?;
        match self.expect_ok().await {
            // A transaction-state command refused before login: the server's text varies
            // ("Unknown command", "STAT is not valid..."); the cause does not.
            Err(Error::Err(status)) if !self.authenticated && is_transaction_command(line) => {
                Err(Error::NotLoggedIn(status))
            }
            other => other,
        }
    }

    async fn expect_ok(&mut self) -> Result<Status, Error> {
        let status = self.read_status_line().await?;
        if status.ok {
            Ok(status)
        } else {
            Err(Error::Err(status))
        }
    }

    /// Run an I/O step; a failure leaves the connection closed.
    async fn io<T>(
        &mut self,
        during: &'static str,
        f: impl AsyncFnOnce(&mut LineReader<Stream>) -> Result<T, NetError>,
    ) -> Result<T, Error> {
        let timeout = self.config.endpoint.io_timeout;
        let lines = self.lines.as_mut().ok_or(Error::Closed)?;
        let result = match timeout {
            Some(d) => match tokio::time::timeout(d, f(lines)).await {
                Ok(r) => r,
                Err(_) => Err(NetError::Timeout { during, after: d }),
            },
            None => f(lines).await,
        };
        result.map_err(|e| {
            self.lines = None;
            Error::Net(e)
        })
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if let Some(t) = &self.config.endpoint.transcript {
            t.record(Direction::Client, data);
        }
        self.write(data).await
    }

    /// Send a line carrying a credential: recorded as `shown` in the transcript.
    async fn send_secret(&mut self, data: &[u8], shown: &str) -> Result<(), Error> {
        if let Some(t) = &self.config.endpoint.transcript {
            t.record_line(Direction::Client, shown);
        }
        self.write(data).await
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.io("sending a command", async |l| {
            let s = l.get_mut();
            s.write_all(data).await?;
            s.flush().await?;
            Ok(())
        })
        .await
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, Error> {
        let line = self
            .io("waiting for the server's response", async |l| {
                l.read_line(MAX_STATUS_LINE).await
            })
            .await?;
        if let Some(t) = &self.config.endpoint.transcript {
            t.record(Direction::Server, &line);
        }
        Ok(line)
    }

    fn parse_status(&mut self, line: &[u8]) -> Result<Status, Error> {
        Status::parse(line).map_err(|e| {
            self.lines = None;
            Error::Protocol(e)
        })
    }

    async fn read_status_line(&mut self) -> Result<Status, Error> {
        let line = self.read_line().await?;
        self.parse_status(&line)
    }

    /// The body of a multi-line response; each network read gets the I/O timeout. A body
    /// longer than `limit` ends the connection with [`Error::Protocol`] naming `what`.
    async fn read_body(
        &mut self,
        out: &mut Vec<u8>,
        limit: Option<usize>,
        what: &str,
    ) -> Result<(), Error> {
        let timeout = self.config.endpoint.io_timeout;
        let start = out.len();
        let lines = self.lines.as_mut().ok_or(Error::Closed)?;
        let result = read_multiline(lines, limit, out, timeout).await;
        if let (Ok(()), Some(t)) = (&result, &self.config.endpoint.transcript) {
            // Recorded as it came over the wire: dot-stuffed, with the final ".".
            let mut wire = Vec::with_capacity(out.len() - start + 8);
            encode_body(&out[start..], &mut wire);
            t.record(Direction::Server, &wire);
        }
        result.map_err(|e| {
            self.lines = None;
            match e {
                NetError::LineTooLong { limit } => {
                    Error::Protocol(format!("{what}: the server sent more than {limit} octets"))
                }
                e => Error::Net(e),
            }
        })
    }
}

/// The APOP digest: MD5 of the timestamp followed by the secret, in lower-case hex.
pub fn apop_digest(timestamp: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Lines of `n value` (LIST, UIDL), ignoring anything after the value (RFC 1939 allows
/// extra text).
fn scan_listing<T>(body: &[u8], value: impl Fn(&str) -> Option<T>) -> Result<Vec<(u32, T)>, Error> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_ascii_whitespace();
            match (
                it.next().and_then(|n| n.parse().ok()),
                it.next().and_then(&value),
            ) {
                (Some(n), Some(v)) => Ok((n, v)),
                _ => Err(Error::Protocol(format!("bad listing line {l:?}"))),
            }
        })
        .collect()
}

fn scan_one<T>(text: &str, value: impl Fn(&str) -> Option<T>) -> Result<T, Error> {
    let mut it = text.split_ascii_whitespace();
    it.next();
    it.next()
        .and_then(value)
        .ok_or_else(|| Error::Protocol(format!("bad response {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_matches_rfc1939() {
        // RFC 1939 §7, the APOP example
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }

    #[test]
    fn capabilities() {
        let caps = Capabilities::parse(b"TOP\r\nUIDL\r\nSASL PLAIN LOGIN\r\nresp-codes\r\n");
        assert!(caps.has("TOP") && caps.has("RESP-CODES"));
        assert!(caps.has_sasl("plain") && !caps.has_sasl("CRAM-MD5"));
        assert!(!caps.has("STLS"));
    }

    #[test]
    fn listings() {
        assert_eq!(
            scan_listing(b"1 120\r\n2 500\r\n", |s| s.parse::<u64>().ok()).unwrap(),
            vec![(1, 120), (2, 500)]
        );
        assert!(scan_listing(b"1\r\n", |s| s.parse::<u64>().ok()).is_err());
        assert_eq!(
            scan_one("2 whqtswO00WBw418f9t5JxYwZ", |s| Some(s.to_owned())).unwrap(),
            "whqtswO00WBw418f9t5JxYwZ"
        );
    }
}
