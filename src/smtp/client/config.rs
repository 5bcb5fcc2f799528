//! Where and how to connect, and the credentials to present.

use std::time::Duration;

use crate::auth::DkimSigner;
use crate::net::{Endpoint, TlsMode};
use crate::smtp::Error;
use crate::smtp::command;

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

    pub(super) fn name(self) -> &'static str {
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
