//! STARTTLS and authentication: LOGIN, AUTHENTICATE PLAIN and XOAUTH2 (with SASL-IR),
//! then fresh capabilities and the ENABLE of the configured extensions.

use base64::Engine;

use super::{Completion, Connection, LoginMethod, READ_BUFFER, SessionState};
use crate::imap::Error;
use crate::imap::response::{Response, Untagged};
use crate::imap::types::{ResponseCode, Status};
use crate::net::LineReader;
use crate::net::transcript::{Direction, REDACTED};

impl Connection {
    /// STARTTLS (RFC 9051 §6.2.1), then CAPABILITY again.
    pub async fn starttls(&mut self) -> Result<(), Error> {
        if self.is_tls() {
            return Err(Error::Usage("the connection is already encrypted".into()));
        }
        if self.state != SessionState::NotAuthenticated {
            return Err(Error::Usage(
                "STARTTLS is only possible before login".into(),
            ));
        }
        self.execute(self.builder("STARTTLS").build()).await?;
        let Some(lines) = self.io.take() else {
            return Err(self.closed_error());
        };
        // Bytes after the OK, before the handshake, would be taken as if they came through
        // TLS: refuse them (the STARTTLS command injection class, CVE-2011-0411's mirror).
        let stream = match lines.into_inner() {
            Ok(s) => s,
            Err((_, n)) => {
                return Err(self
                    .fail_protocol(format!("{n} unexpected octets after the STARTTLS response")));
            }
        };
        let endpoint = &self.config.endpoint;
        let stream = match endpoint.start_tls(stream, endpoint.io_timeout).await {
            Ok(s) => s,
            Err(e) => return Err(self.fail_net(e)),
        };
        self.io = Some(LineReader::with_capacity(stream, READ_BUFFER));
        self.reader.reset();
        self.caps = None;
        self.capability().await?;
        Ok(())
    }

    fn check_secret_allowed(&self) -> Result<(), Error> {
        if !self.is_tls() && !self.config.endpoint.allow_insecure_auth {
            return Err(Error::InsecureAuth);
        }
        if self.state != SessionState::NotAuthenticated {
            return Err(Error::Usage("already logged in".into()));
        }
        Ok(())
    }

    /// Log in with a password: LOGIN, or AUTHENTICATE PLAIN.
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
        method: LoginMethod,
    ) -> Result<(), Error> {
        self.check_secret_allowed()?;
        let caps = self.capabilities().await?;
        let method = match method {
            LoginMethod::Auto if caps.has_auth("PLAIN") => LoginMethod::Plain,
            LoginMethod::Auto => LoginMethod::Login,
            m => m,
        };
        if method == LoginMethod::Plain {
            return self.authenticate_plain(user, password, None).await;
        }
        if caps.has("LOGINDISABLED") {
            return Err(Error::NotSupported(
                "the server refuses LOGIN here (LOGINDISABLED)".into(),
            ));
        }
        let mut b = self.builder("LOGIN");
        b.sp()
            .astring(user.as_bytes())?
            .sp()
            .secret(password.as_bytes())?;
        let done = self.execute(b.build()).await?;
        self.after_auth(Some(done)).await
    }

    /// AUTHENTICATE PLAIN (RFC 4616), with the credentials on the command line when the
    /// server has SASL-IR (RFC 4959).
    pub async fn authenticate_plain(
        &mut self,
        user: &str,
        password: &str,
        authzid: Option<&str>,
    ) -> Result<(), Error> {
        self.check_secret_allowed()?;
        let token = crate::net::sasl::plain_token(authzid, user, password)
            .ok_or_else(|| Error::Usage("AUTHENTICATE PLAIN: credentials contain NUL".into()))?;
        self.authenticate("PLAIN", token, false).await
    }

    /// AUTHENTICATE XOAUTH2 (Google's and Microsoft's OAuth 2.0 bearer tokens).
    pub async fn authenticate_xoauth2(&mut self, user: &str, token: &str) -> Result<(), Error> {
        self.check_secret_allowed()?;
        if user.contains('\x01') || token.contains('\x01') {
            return Err(Error::Usage("XOAUTH2: user or token contains ^A".into()));
        }
        let raw = format!("user={user}\x01auth=Bearer {token}\x01\x01");
        let token = base64::engine::general_purpose::STANDARD.encode(raw);
        self.authenticate("XOAUTH2", token, true).await
    }

    /// AUTHENTICATE with one client response (base64). A further challenge is answered with
    /// an empty response when `answer_error` (XOAUTH2 sends its error that way, RFC 7628
    /// §3.2.3) and cancelled (`*`) otherwise.
    async fn authenticate(
        &mut self,
        mechanism: &'static str,
        response: String,
        answer_error: bool,
    ) -> Result<(), Error> {
        let caps = self.capabilities().await?;
        if !caps.has_auth(mechanism) {
            return Err(Error::NotSupported(format!(
                "the server does not offer AUTH={mechanism}"
            )));
        }
        let initial = if response.is_empty() {
            "=".to_owned()
        } else {
            response
        };
        let inline = caps.has("SASL-IR");
        let mut b = self.builder("AUTHENTICATE");
        b.sp().keyword(mechanism);
        if inline {
            b.sp().secret_atom(&initial)?;
        }
        self.ready().await?;
        let tag = self.send(&b.build()).await?;
        let mut pending = if inline { None } else { Some(initial) };
        let mut challenge_error = None;
        let mut untagged = std::mem::take(&mut self.early);
        loop {
            match self.read_response(self.config.endpoint.io_timeout).await? {
                Response::Continuation(c) => {
                    let (line, shown) = match pending.take() {
                        Some(r) => (format!("{r}\r\n"), REDACTED.to_owned()),
                        None if answer_error => {
                            challenge_error = base64::engine::general_purpose::STANDARD
                                .decode(c.text.trim())
                                .ok()
                                .map(|d| String::from_utf8_lossy(&d).into_owned());
                            ("\r\n".to_owned(), String::new())
                        }
                        None => ("*\r\n".to_owned(), "*".to_owned()),
                    };
                    if let Some(t) = &self.config.endpoint.transcript {
                        t.record_line(Direction::Client, &shown);
                    }
                    self.sending = true;
                    self.write_raw(line.as_bytes()).await?;
                    self.sending = false;
                }
                Response::Untagged(u) => untagged.push(u),
                Response::Tagged { tag: t, mut status } if t == tag => {
                    self.outstanding.retain(|x| *x != t);
                    self.parse_error = None;
                    if status.status != Status::Ok {
                        if let Some(detail) = challenge_error {
                            status.text = format!("{} ({detail})", status.text);
                        }
                        self.keep_events(untagged);
                        return Err(Error::Response(status));
                    }
                    return self.after_auth(Some(Completion { untagged, status })).await;
                }
                Response::Tagged { tag: t, .. } => {
                    return Err(
                        self.fail_protocol(format!("completion for an unknown command {t:?}"))
                    );
                }
            }
        }
    }

    /// After login: capabilities are refreshed (from the OK's CAPABILITY code when the server
    /// sent one), and the configured extensions enabled.
    pub(super) async fn after_auth(&mut self, done: Option<Completion>) -> Result<(), Error> {
        self.state = SessionState::Authenticated;
        if let Some(done) = done {
            let fresh = matches!(done.status.code, Some(ResponseCode::Capability(_)))
                || done
                    .untagged
                    .iter()
                    .any(|u| matches!(u, Untagged::Capability(_)));
            if !fresh {
                self.caps = None;
            }
            self.keep_events(done.untagged);
        }
        let caps = self.capabilities().await?;
        if !(caps.has("ENABLE") || caps.has("IMAP4REV2")) {
            return Ok(());
        }
        let wanted: Vec<String> = self
            .config
            .enable
            .iter()
            .filter(|e| caps.has(e) && !self.is_enabled(e))
            .cloned()
            .collect();
        if !wanted.is_empty() {
            let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
            self.enable(&names).await?;
        }
        Ok(())
    }

    /// ENABLE (RFC 5161): the extensions the server enabled.
    pub async fn enable(&mut self, names: &[&str]) -> Result<Vec<String>, Error> {
        if names.is_empty() {
            return Err(Error::Usage("ENABLE needs at least one extension".into()));
        }
        let mut b = self.builder("ENABLE");
        for n in names {
            b.sp().atom(n)?;
        }
        let done = self.execute(b.build()).await?;
        let mut enabled = Vec::new();
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Enabled(list) => enabled.extend(list),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        Ok(enabled)
    }
}
