//! What every mail client (SMTP, POP3, IMAP) shares below its protocol: where it connects,
//! how the connection is secured, its timeouts and its transcript. A protocol's client
//! configuration holds an [`Endpoint`] and adds its own settings; its connection opens with
//! [`Endpoint::connect`] and upgrades with [`Endpoint::start_tls`] after the protocol's own
//! STARTTLS (SMTP, IMAP) or STLS (POP3) command.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::tls::{Trust, client_config};
use super::transcript::Transcript;
use super::{NetError, Stream};

/// How a client secures its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never TLS.
    None,
    /// Upgrade (STARTTLS/STLS) when the server offers it, plaintext otherwise.
    Opportunistic,
    /// Upgrade, and fail if the server does not offer it (RFC 3207 §4, RFC 2595 §2.2,
    /// RFC 9051 §6.2.1).
    StartTls,
    /// TLS from the first byte (RFC 8314: ports 465, 993, 995).
    Implicit,
}

impl TlsMode {
    /// The name `FromStr` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`TlsMode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTlsMode(pub String);

impl fmt::Display for UnknownTlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLS mode must be 'none', 'opportunistic', 'starttls' or 'implicit', not {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownTlsMode {}

impl FromStr for TlsMode {
    type Err = UnknownTlsMode;

    fn from_str(s: &str) -> Result<TlsMode, UnknownTlsMode> {
        [
            TlsMode::None,
            TlsMode::Opportunistic,
            TlsMode::StartTls,
            TlsMode::Implicit,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or_else(|| UnknownTlsMode(s.to_owned()))
    }
}

/// Where a client connects and how: shared by every connection a client opens.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub trust: Trust,
    /// The name the certificate must carry; `host` when `None` (set for MX hosts reached by
    /// address).
    pub tls_name: Option<String>,
    /// Allow credentials over an unencrypted connection.
    pub allow_insecure_auth: bool,
    /// Connecting, the TLS handshake included.
    pub connect_timeout: Option<Duration>,
    /// Each network read or write.
    pub io_timeout: Option<Duration>,
    /// Record every line sent and received here (credentials redacted).
    pub transcript: Option<Arc<Transcript>>,
    tls_config: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl Endpoint {
    /// `host:port`, STARTTLS when offered, the system's roots, 60-second timeouts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            host: host.into(),
            port,
            tls: TlsMode::Opportunistic,
            trust: Trust::System,
            tls_name: None,
            allow_insecure_auth: false,
            connect_timeout: Some(Duration::from_secs(60)),
            io_timeout: Some(Duration::from_secs(60)),
            transcript: None,
            tls_config: OnceLock::new(),
        }
    }

    /// A copy aimed at another host (MX delivery), with its own TLS name.
    pub fn for_host(&self, connect_to: &str, tls_name: &str, port: u16) -> Endpoint {
        Endpoint {
            host: connect_to.to_owned(),
            port,
            tls: self.tls,
            trust: self.trust.clone(),
            tls_name: Some(tls_name.to_owned()),
            allow_insecure_auth: self.allow_insecure_auth,
            connect_timeout: self.connect_timeout,
            io_timeout: self.io_timeout,
            transcript: self.transcript.clone(),
            tls_config: OnceLock::new(),
        }
    }

    /// The name the server's certificate is checked against.
    pub fn tls_name(&self) -> &str {
        self.tls_name.as_deref().unwrap_or(&self.host)
    }

    /// The rustls configuration, built on first use and shared by every connection.
    pub fn rustls(&self) -> Result<Arc<rustls::ClientConfig>, NetError> {
        self.tls_config
            .get_or_init(|| client_config(&self.trust).map_err(|e| e.to_string()))
            .clone()
            .map_err(NetError::Config)
    }

    /// Connect over TCP, and in implicit mode do the TLS handshake before anything else.
    pub async fn connect(&self) -> Result<Stream, NetError> {
        let stream = Stream::connect(&self.host, self.port, self.connect_timeout).await?;
        if self.tls == TlsMode::Implicit {
            return stream
                .start_tls_client(self.rustls()?, self.tls_name(), self.connect_timeout)
                .await;
        }
        Ok(stream)
    }

    /// The TLS handshake on a plain connection, after the server agreed to STARTTLS/STLS.
    pub async fn start_tls(
        &self,
        stream: Stream,
        timeout: Option<Duration>,
    ) -> Result<Stream, NetError> {
        // Plain text after the server agreed to STARTTLS is a broken server, not a port that
        // wants STARTTLS: that hint is for implicit TLS only.
        match stream
            .start_tls_client(self.rustls()?, self.tls_name(), timeout)
            .await
        {
            Err(NetError::Handshake {
                failure: super::TlsFailure::NotTls,
                detail,
            }) => Err(NetError::Handshake {
                failure: super::TlsFailure::Other,
                detail,
            }),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_mode_names_round_trip() {
        for mode in [
            TlsMode::None,
            TlsMode::Opportunistic,
            TlsMode::StartTls,
            TlsMode::Implicit,
        ] {
            assert_eq!(mode.to_string().parse::<TlsMode>(), Ok(mode));
        }
        let err = "auto".parse::<TlsMode>().unwrap_err();
        // The message names exactly the values the parser takes.
        assert_eq!(
            err.to_string(),
            "TLS mode must be 'none', 'opportunistic', 'starttls' or 'implicit', not \"auto\""
        );
        assert!("STARTTLS".parse::<TlsMode>().is_err());
    }
}
