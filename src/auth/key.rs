//! DKIM keys: RSA (PKCS#1 and PKCS#8 PEM) and Ed25519 (RFC 8463: PKCS#8 PEM or the bare
//! base64 seed of RFC 8463's examples and dkimpy's key files), generation, and the TXT
//! record that publishes the public half (RFC 6376 §3.6.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use mail_auth::common::crypto::{DkimKey as SigningKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::generate::DkimKeyPair;
use ring::signature::KeyPair;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

use super::Error;

/// The smallest RSA key ring signs with.
pub const RSA_MIN_SIGNING_BITS: usize = 2048;
/// Smaller RSA keys are refused even for verifying (RFC 8301 §3.2: 1024 bits at least).
pub const RSA_MIN_BITS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ed25519,
}

impl KeyKind {
    /// `k=` of the key record.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa => "rsa",
            KeyKind::Ed25519 => "ed25519",
        }
    }

    /// `a=` of the signatures it makes.
    pub fn algorithm(self) -> &'static str {
        match self {
            KeyKind::Rsa => "rsa-sha256",
            KeyKind::Ed25519 => "ed25519-sha256",
        }
    }
}

enum Private {
    /// PKCS#1 DER.
    Rsa(Vec<u8>),
    /// The 32-byte seed.
    Ed25519([u8; 32]),
}

/// A DKIM private key with its public half.
pub struct DkimKey {
    kind: KeyKind,
    bits: usize,
    private: Private,
    /// `p=`: SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for Ed25519 (RFC 8463 §4.2).
    public: Vec<u8>,
    /// `None` for RSA keys ring will not sign with.
    signer: Option<SigningKey>,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("DkimKey")
            .field("kind", &self.kind)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

fn key_error(e: impl std::fmt::Display) -> Error {
    Error::Key(e.to_string())
}

impl DkimKey {
    /// A new key: RSA of `bits` (2048 when `None`), or Ed25519.
    pub fn generate(kind: KeyKind, bits: Option<usize>) -> Result<DkimKey, Error> {
        match kind {
            KeyKind::Rsa => {
                let bits = bits.unwrap_or(RSA_MIN_SIGNING_BITS);
                if !(RSA_MIN_SIGNING_BITS..=8192).contains(&bits) {
                    return Err(Error::Key(format!(
                        "RSA keys are generated with 2048 to 8192 bits, not {bits} (ring signs \
                         only with 2048 bits or more)"
                    )));
                }
                let pair = DkimKeyPair::generate_rsa(bits).map_err(key_error)?;
                Self::from_rsa(
                    rsa::RsaPrivateKey::from_pkcs1_der(pair.private_key()).map_err(key_error)?,
                )
            }
            KeyKind::Ed25519 => {
                if bits.is_some_and(|b| b != 256) {
                    return Err(Error::Key("Ed25519 keys have no size to choose".into()));
                }
                let pkcs8 = Ed25519Key::generate_pkcs8().map_err(key_error)?;
                Self::from_ed25519_pkcs8(&pkcs8)
            }
        }
    }

    /// Read a private key: PEM (`RSA PRIVATE KEY`, or `PRIVATE KEY` holding RSA or Ed25519),
    /// or the base64 of a 32-byte Ed25519 seed (RFC 8463 Appendix A, dkimpy's key files).
    pub fn load(data: &[u8]) -> Result<DkimKey, Error> {
        let text = std::str::from_utf8(data)
            .map_err(|_| Error::Key("not a PEM file or a base64 Ed25519 seed".into()))?
            .trim();
        if text.contains("-----BEGIN") {
            if text.contains("ENCRYPTED PRIVATE KEY") {
                return Err(Error::Key(
                    "encrypted private keys are not supported".into(),
                ));
            }
            let der = PrivateKeyDer::from_pem_slice(text.as_bytes())
                .map_err(|e| Error::Key(format!("no private key in the PEM data ({e})")))?;
            return match der {
                PrivateKeyDer::Pkcs1(k) => Self::from_rsa(
                    rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der()).map_err(key_error)?,
                ),
                PrivateKeyDer::Pkcs8(k) => {
                    let der = k.secret_pkcs8_der();
                    match rsa::RsaPrivateKey::from_pkcs8_der(der) {
                        Ok(rsa_key) => Self::from_rsa(rsa_key),
                        Err(_) => Self::from_ed25519_pkcs8(der).map_err(|_| {
                            Error::Key("the PKCS#8 key is neither RSA nor Ed25519".into())
                        }),
                    }
                }
                _ => Err(Error::Key(
                    "only RSA and Ed25519 keys sign DKIM (this is an EC key)".into(),
                )),
            };
        }
        let compact: String = text.split_ascii_whitespace().collect();
        match B64.decode(compact.as_bytes()) {
            Ok(seed) if seed.len() == 32 => {
                let mut s = [0u8; 32];
                s.copy_from_slice(&seed);
                Self::from_ed25519_seed(s)
            }
            _ => Err(Error::Key(
                "not a PEM private key or the base64 of a 32-byte Ed25519 seed".into(),
            )),
        }
    }

    fn from_rsa(key: rsa::RsaPrivateKey) -> Result<DkimKey, Error> {
        let bits = key.n().bits();
        if bits < RSA_MIN_BITS {
            return Err(Error::Key(format!(
                "a {bits}-bit RSA key is too small for DKIM (RFC 8301: 1024 bits at least)"
            )));
        }
        let pkcs1 = key.to_pkcs1_der().map_err(key_error)?.as_bytes().to_vec();
        let public = key
            .to_public_key()
            .to_public_key_der()
            .map_err(key_error)?
            .as_bytes()
            .to_vec();
        let signer = if bits >= RSA_MIN_SIGNING_BITS {
            let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
                pkcs1.as_slice(),
            )))
            .map_err(key_error)?;
            Some(SigningKey::Rsa(k))
        } else {
            None
        };
        Ok(DkimKey {
            kind: KeyKind::Rsa,
            bits,
            private: Private::Rsa(pkcs1),
            public,
            signer,
        })
    }

    fn from_ed25519_pkcs8(der: &[u8]) -> Result<DkimKey, Error> {
        let pair =
            ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(key_error)?;
        // The seed is the OCTET STRING inside the privateKey OCTET STRING (RFC 8410 §7):
        // 04 22 04 20 <32 bytes>, in both PKCS#8 v1 and v2.
        let at = der
            .windows(4)
            .position(|w| w == [0x04, 0x22, 0x04, 0x20])
            .ok_or_else(|| Error::Key("no Ed25519 seed in the PKCS#8 data".into()))?;
        let seed: [u8; 32] = der
            .get(at + 4..at + 36)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::Key("truncated Ed25519 PKCS#8 data".into()))?;
        let key = Self::from_ed25519_seed(seed)?;
        if key.public != pair.public_key().as_ref() {
            return Err(Error::Key(
                "the Ed25519 public key does not match the seed".into(),
            ));
        }
        Ok(key)
    }

    fn from_ed25519_seed(seed: [u8; 32]) -> Result<DkimKey, Error> {
        let pair =
            ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(key_error)?;
        let public = pair.public_key().as_ref().to_vec();
        let signer = Ed25519Key::from_seed_and_public_key(&seed, &public).map_err(key_error)?;
        Ok(DkimKey {
            kind: KeyKind::Ed25519,
            bits: 256,
            private: Private::Ed25519(seed),
            public,
            signer: Some(SigningKey::Ed25519(signer)),
        })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// RSA modulus size; 256 for Ed25519.
    pub fn bits(&self) -> usize {
        self.bits
    }

    pub fn can_sign(&self) -> bool {
        self.signer.is_some()
    }

    /// The public key as published in `p=`.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub(crate) fn signer(&self) -> Result<&SigningKey, Error> {
        self.signer.as_ref().ok_or_else(|| {
            Error::CannotSign(format!(
                "this {}-bit RSA key can be published and verified but not sign: ring signs \
                 RSA only with keys of {RSA_MIN_SIGNING_BITS} bits or more (generate a new one)",
                self.bits
            ))
        })
    }

    /// The TXT record value: `v=DKIM1; k=rsa; p=...`.
    pub fn txt_value(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.kind.name(),
            B64.encode(&self.public)
        )
    }

    /// The record in zone-file form, the value cut into strings of at most 255 characters
    /// (RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 joins them back).
    pub fn dns_record(&self, selector: &str, domain: &str) -> String {
        let name = format!(
            "{}._domainkey.{}.",
            selector.trim_end_matches('.'),
            domain.trim_end_matches('.')
        );
        let value = self.txt_value();
        let pieces: Vec<String> = value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        if pieces.len() == 1 {
            format!("{name} IN TXT {}", pieces[0])
        } else {
            format!("{name} IN TXT ( {} )", pieces.join(" "))
        }
    }

    /// The private key as PEM: PKCS#1 (`RSA PRIVATE KEY`, what OpenDKIM and dkimpy read) for
    /// RSA, PKCS#8 (`PRIVATE KEY`, RFC 8410) for Ed25519.
    pub fn private_pem(&self) -> Result<String, Error> {
        match &self.private {
            Private::Rsa(der) => {
                let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(key_error)?;
                Ok(key
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(key_error)?
                    .to_string())
            }
            Private::Ed25519(seed) => {
                // PKCS#8 v1 of RFC 8410 §7: a fixed prefix and the seed.
                let mut der = vec![
                    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
                    0x22, 0x04, 0x20,
                ];
                der.extend_from_slice(seed);
                Ok(pem("PRIVATE KEY", &der))
            }
        }
    }

    /// The Ed25519 seed in base64 (the key file form of RFC 8463 and dkimpy); `None` for RSA.
    pub fn ed25519_seed(&self) -> Option<String> {
        match &self.private {
            Private::Ed25519(seed) => Some(B64.encode(seed)),
            Private::Rsa(_) => None,
        }
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
