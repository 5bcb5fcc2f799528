//! What can go wrong before a message is signed or checked. Verification itself never fails:
//! its problems are results (`temperror`, `permerror`, `fail`) in the report.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A key could not be read or generated.
    Key(String),
    /// The key cannot sign (an RSA key under 2048 bits: ring refuses to sign with it).
    CannotSign(String),
    /// The message cannot be signed (no header section, no header to sign...).
    Sign(String),
    /// Bad options: an empty domain, an unknown canonicalization, an i= outside d=...
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Key(m) => write!(f, "DKIM key: {m}"),
            Error::CannotSign(m) | Error::Sign(m) | Error::Config(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
