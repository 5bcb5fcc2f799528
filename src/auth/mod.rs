//! E-mail authentication: DKIM signing and verification (RFC 6376, Ed25519 by RFC 8463),
//! ARC (RFC 8617), SPF (RFC 7208), DMARC (RFC 7489), and the Authentication-Results field
//! that reports them (RFC 8601).
//!
//! The cryptography, the DKIM and ARC canonicalization and the record parsers are Stalwart's
//! `mail-auth` (with ring). This module adds what a mail system needs around them: keys in
//! the PEM forms people have, a signer with the recommended header list and oversigning, a
//! verifier with a cap on signatures, a time bound against silent DNS servers, a TTL cache,
//! SPF with the void-lookup limit, DMARC with `pct` and the public suffix list, and results
//! as plain data. Nothing here knows about Python: the SMTP client and server call
//! [`DkimSigner::sign`] and [`Verifier::verify`] directly.

mod arc;
mod dmarc;
mod dns;
mod error;
mod key;
mod report;
mod sign;
mod spf;
mod spf_syntax;
mod verify;

pub use arc::ArcSealer;
pub use dmarc::{Disposition, DmarcPolicy};
pub use dns::{DnsOptions, Resolver};
pub use error::Error;
pub use key::{DkimKey, KeyKind};
pub use report::{ArcCheck, AuthReport, DkimCheck, DmarcCheck, Outcome, SpfCheck};
pub use sign::{Canonicalization, DkimSigner, SignerOptions, sign_all};
pub use spf::SpfIdentity;
pub use verify::{Envelope, Verifier, VerifierOptions};

/// Bare LF line ends become CRLF: DKIM hashes the message as SMTP carries it, and a message
/// read from a Unix file has LF ends. Borrowed when there is nothing to change.
pub fn wire_form(message: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = memchr::memchr_iter(b'\n', message).any(|i| i == 0 || message[i - 1] != b'\r');
    if !bare {
        return std::borrow::Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len() + message.len() / 32);
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    std::borrow::Cow::Owned(out)
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
