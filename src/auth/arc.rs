//! ARC sealing for forwarders and mailing lists (RFC 8617 §5.1): what this host found when
//! the message arrived (ARC-Authentication-Results), a signature over the message
//! (ARC-Message-Signature) and a seal over the chain (ARC-Seal).

use std::sync::Arc;

use mail_auth::common::crypto::{Algorithm, CryptoError, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults};

use super::key::KeyKind;
use super::{DkimKey, Error};

/// The fields the ARC-Message-Signature covers when present.
pub const ARC_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "DKIM-Signature",
];

/// A key shared between signers, as mail-auth's signing trait wants it.
#[derive(Clone)]
struct SharedKey(Arc<DkimKey>);

impl SigningKey for SharedKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let key = self
            .0
            .signer()
            .map_err(|e| mail_auth::Error::Crypto(CryptoError::Library(e.to_string())))?;
        key.sign(input)
    }

    fn algorithm(&self) -> Algorithm {
        match self.0.kind() {
            KeyKind::Rsa => Algorithm::RsaSha256,
            KeyKind::Ed25519 => Algorithm::Ed25519Sha256,
        }
    }
}

/// Adds ARC sets for one sealing domain.
#[derive(Clone)]
pub struct ArcSealer {
    domain: String,
    selector: String,
    key: Arc<DkimKey>,
    headers: Vec<String>,
}

impl std::fmt::Debug for ArcSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArcSealer")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl ArcSealer {
    pub fn new(
        domain: &str,
        selector: &str,
        key: Arc<DkimKey>,
        headers: Option<Vec<String>>,
    ) -> Result<ArcSealer, Error> {
        // The same checks as a DKIM signer's.
        let probe = super::DkimSigner::new(domain, selector, key.clone(), Default::default())?;
        let headers =
            headers.unwrap_or_else(|| ARC_HEADERS.iter().map(|s| s.to_string()).collect());
        Ok(ArcSealer {
            domain: probe.domain().to_owned(),
            selector: probe.selector().to_owned(),
            key,
            headers,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    pub fn key(&self) -> &Arc<DkimKey> {
        &self.key
    }

    /// The message with a new ARC set on top. `results` is the AAR content after `i=N; `:
    /// the authserv-id and the results, on one line.
    pub(crate) fn seal(
        &self,
        message: &AuthenticatedMessage<'_>,
        chain: &ArcOutput<'_>,
        results: &str,
    ) -> Result<Vec<u8>, Error> {
        if !chain.can_be_sealed() {
            return Err(Error::Sign(
                "the ARC chain already failed (cv=fail): RFC 8617 §5.1.2 says not to seal it"
                    .into(),
            ));
        }
        // Only present fields: mail-auth signs the absence of any listed name.
        let headers: Vec<String> = self
            .headers
            .iter()
            .filter(|h| {
                message
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(h.as_bytes()))
            })
            .cloned()
            .collect();
        if headers.is_empty() {
            return Err(Error::Sign(
                "the message has none of the fields ARC signs".into(),
            ));
        }
        let sealer = mail_auth::arc::ArcSealer::from_key(SharedKey(self.key.clone()))
            .domain(self.domain.clone())
            .selector(self.selector.clone())
            .headers(headers);
        let aar = AuthenticationResults::new(results);
        let set = sealer
            .seal(message, &aar, chain)
            .map_err(|e| Error::Sign(format!("ARC sealing failed: {e}")))?;
        let mut out = set.to_header().into_bytes();
        out.extend_from_slice(message.raw_message);
        Ok(out)
    }
}
