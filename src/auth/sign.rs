//! DKIM signing (RFC 6376 §5): the recommended header list with oversigning, relaxed or
//! simple canonicalization, optional `l=` and `x=`.
//!
//! mail-auth's own signer counts `l=` in raw body octets and signs every name of its list
//! even when absent; RFC 6376 §3.5 counts `l=` in canonicalized octets, and only the
//! oversigned names should be signed when absent. So the signature is assembled here from
//! mail-auth's canonicalization, its `Signature` writer and its keys.

use std::sync::Arc;

use mail_auth::AuthenticatedMessage;
use mail_auth::common::crypto::{Algorithm, SigningKey as _};
use mail_auth::common::headers::{HeaderStream, HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization as Canon, Signature};

use super::{DkimKey, Error, wire_form};

/// The header fields signed by default (RFC 6376 §5.4.1), in this order. Those in
/// [`OVERSIGNED`] are also signed once more than they occur, so that nobody can add one.
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-ID",
    "Content-Description",
    "Resent-Date",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Message-ID",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
    "Sender",
    "Autocrypt",
    "Openpgp",
];

/// Signed even when absent (RFC 6376 §8.15, "oversigning"): a second From, Subject, To...
/// added in transit breaks the signature instead of being shown to the reader.
pub const OVERSIGNED: &[&str] = &[
    "From",
    "Subject",
    "To",
    "Cc",
    "Reply-To",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalization {
    Relaxed,
    Simple,
}

impl Canonicalization {
    fn inner(self) -> Canon {
        match self {
            Canonicalization::Relaxed => Canon::Relaxed,
            Canonicalization::Simple => Canon::Simple,
        }
    }

    /// `relaxed` or `simple`.
    pub fn parse(text: &str) -> Option<Canonicalization> {
        match text.trim().to_ascii_lowercase().as_str() {
            "relaxed" => Some(Canonicalization::Relaxed),
            "simple" => Some(Canonicalization::Simple),
            _ => None,
        }
    }

    /// `c=` as written: `relaxed/simple`, or `relaxed` alone (the body then is `simple`,
    /// RFC 6376 §3.5).
    pub fn parse_pair(text: &str) -> Option<(Canonicalization, Canonicalization)> {
        match text.split_once('/') {
            Some((h, b)) => Some((Self::parse(h)?, Self::parse(b)?)),
            None => Some((Self::parse(text)?, Canonicalization::Simple)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SignerOptions {
    /// Names to sign (case-insensitive); `None`: [`DEFAULT_HEADERS`].
    pub headers: Option<Vec<String>>,
    /// Names signed one more time than they occur; `None`: [`OVERSIGNED`] (those of
    /// `headers` that are in it).
    pub oversign: Option<Vec<String>>,
    pub header_canonicalization: Canonicalization,
    pub body_canonicalization: Canonicalization,
    /// Put `l=` (the canonicalized body length) in the signature. Risky (RFC 6376 §8.2):
    /// anyone may append to the body; verifiers here do not accept such additions.
    pub body_length: bool,
    /// Seconds the signature stays valid (`x=`).
    pub expiration: Option<u64>,
    /// `i=`: the user or agent signed for, in `domain` or a subdomain.
    pub identity: Option<String>,
}

impl Default for SignerOptions {
    fn default() -> Self {
        SignerOptions {
            headers: None,
            oversign: None,
            header_canonicalization: Canonicalization::Relaxed,
            body_canonicalization: Canonicalization::Relaxed,
            body_length: false,
            expiration: None,
            identity: None,
        }
    }
}

/// Signs messages for one domain and selector with one key.
#[derive(Debug, Clone)]
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: Arc<DkimKey>,
    /// Lowercase names, each once, in signing order.
    headers: Vec<String>,
    /// Lowercase names signed once more than they occur.
    oversign: Vec<String>,
    options: SignerOptions,
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl DkimSigner {
    pub fn new(
        domain: &str,
        selector: &str,
        key: Arc<DkimKey>,
        options: SignerOptions,
    ) -> Result<DkimSigner, Error> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(Error::Config(format!(
                "{domain:?} is not a domain name for d="
            )));
        }
        let selector = selector.trim().to_owned();
        if !valid_domain(&selector) {
            return Err(Error::Config(format!(
                "{selector:?} is not a selector for s="
            )));
        }
        key.signer()?;
        if let Some(i) = &options.identity {
            let Some((_, idomain)) = i.rsplit_once('@') else {
                return Err(Error::Config(format!("i={i:?} has no @domain")));
            };
            let idomain = idomain.to_ascii_lowercase();
            if idomain != domain && !idomain.ends_with(&format!(".{domain}")) {
                return Err(Error::Config(format!(
                    "i={i:?} must be in d={domain} or a subdomain (RFC 6376 §3.5)"
                )));
            }
            if i.bytes()
                .any(|b| b.is_ascii_control() || b == b';' || b == b' ')
            {
                return Err(Error::Config(format!(
                    "i={i:?} has characters i= cannot carry"
                )));
            }
        }
        let mut headers: Vec<String> = Vec::new();
        let names: Vec<String> = match &options.headers {
            Some(h) => h.clone(),
            None => DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect(),
        };
        for name in names {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(Error::Config(format!(
                    "{name:?} is not a header field name"
                )));
            }
            if name == "dkim-signature" {
                // Another signer's field may be added or removed in transit.
                continue;
            }
            if !headers.contains(&name) {
                headers.push(name);
            }
        }
        if !headers.iter().any(|h| h == "from") {
            return Err(Error::Config(
                "the signed header fields must include From (RFC 6376 §5.4)".into(),
            ));
        }
        let oversign = match &options.oversign {
            Some(o) => o.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
            None => OVERSIGNED
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .filter(|s| headers.contains(s))
                .collect(),
        };
        Ok(DkimSigner {
            domain,
            selector,
            key,
            headers,
            oversign,
            options,
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

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn oversigned(&self) -> &[String] {
        &self.oversign
    }

    pub fn options(&self) -> &SignerOptions {
        &self.options
    }

    /// The DKIM-Signature field (ending in CRLF) for `message` (in wire form: CRLF).
    pub fn signature_field(&self, message: &[u8], now: u64) -> Result<Vec<u8>, Error> {
        let key = self.key.signer()?;
        let (fields, body) = split(message)?;
        let present = |name: &str| {
            fields
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        };
        // mail-auth signs every occurrence of each name in `h`, bottom up, and lists once
        // more each entry of `h` it matched nothing to: so each present name goes in once,
        // an oversigned one a second time, and an absent oversigned one once.
        let mut h: Vec<String> = Vec::with_capacity(self.headers.len() + self.oversign.len());
        for name in &self.headers {
            let over = self.oversign.contains(name);
            if present(name) {
                h.push(name.clone());
                if over {
                    h.push(name.clone());
                }
            } else if over {
                h.push(name.clone());
            }
        }
        let template = Signature {
            v: 1,
            a: key.algorithm(),
            d: self.domain.clone(),
            s: self.selector.clone(),
            h,
            ch: self.options.header_canonicalization.inner(),
            cb: self.options.body_canonicalization.inner(),
            ..Default::default()
        };
        let stream = Fields {
            fields: fields.into_iter(),
            body,
        };
        let (_, canonical_headers, signed, canonical_body) = template.canonicalize(stream);
        if signed.is_empty() {
            return Err(Error::Sign(
                "the message has no header field to sign".into(),
            ));
        }
        let mut signature = template;
        signature.h = signed.into_iter().map(|n| display_name(&n)).collect();
        signature.t = now;
        if let Some(x) = self.options.expiration {
            signature.x = now.saturating_add(x.max(1));
        }
        if let Some(i) = &self.options.identity {
            signature.i = i.clone();
        }
        if self.options.body_length {
            let mut canonical = Vec::with_capacity(body.len());
            canonical_body.write(&mut canonical);
            signature.l = canonical.len() as u64;
            // (An empty canonical body gives l=0, which mail-auth writes as no l=: there is
            // nothing to append to then anyway, the body hash covers it all.)
            signature.bh = key.hash(canonical.as_slice()).as_ref().to_vec();
        } else {
            signature.bh = key.hash(canonical_body).as_ref().to_vec();
        }
        let mut data = Vec::with_capacity(1024);
        canonical_headers.write(&mut data);
        signature.write(&mut data, false);
        signature.b = key
            .sign(data.as_slice())
            .map_err(|e| Error::Sign(format!("signing failed: {e}")))?;
        if signature.a == Algorithm::Ed25519Sha256 && signature.b.len() != 64 {
            return Err(Error::Sign("Ed25519 produced a malformed signature".into()));
        }
        let mut field = Vec::with_capacity(512);
        signature.write_header(&mut field);
        // mail-auth may fold between the end of b= and its ";". Verifiers that delete b='s
        // value but not the folding after it (dkimpy) then hash "b= ;" where "b=;" was
        // signed: keep the ";" on the value's line.
        if field.ends_with(b"\r\n\t;\r\n") {
            let cut = field.len() - 6;
            field.truncate(cut);
            field.extend_from_slice(b";\r\n");
        }
        Ok(field)
    }

    /// `message` with this signer's DKIM-Signature prepended (line ends made CRLF).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        sign_all(std::slice::from_ref(self), message)
    }
}

/// Header names as people write them in `h=` (`Message-ID`, not `message-id`).
fn display_name(name: &str) -> String {
    DEFAULT_HEADERS
        .iter()
        .find(|d| d.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_owned(), |d| (*d).to_owned())
}

/// Sign `message` with every signer (an RSA and an Ed25519 signature, say): each signs the
/// message as given, and their fields are prepended in order, so the first signer's field
/// ends up on top.
pub fn sign_all(signers: &[DkimSigner], message: &[u8]) -> Result<Vec<u8>, Error> {
    let message = wire_form(message);
    let now = super::now();
    let mut fields = Vec::with_capacity(signers.len());
    for s in signers {
        fields.push(s.signature_field(&message, now)?);
    }
    let mut out = Vec::with_capacity(message.len() + fields.iter().map(Vec::len).sum::<usize>());
    for f in &fields {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(&message);
    Ok(out)
}

type Field<'a> = (&'a [u8], &'a [u8]);

/// The header fields (name, value with its CRLF) and the body, split the way mail-auth's
/// verifier splits them.
pub(crate) fn split(message: &[u8]) -> Result<(Vec<Field<'_>>, &[u8]), Error> {
    let end = header_end(message);
    let parsed = AuthenticatedMessage::parse_with_opts(&message[..end], None, false)
        .ok_or_else(|| Error::Sign("the message has no header section".into()))?;
    let offset = (parsed.body_offset as usize).min(end);
    let body = if offset < end {
        // Header lines after what mail-auth read as the end of the header section.
        &message[offset..]
    } else {
        &message[end..]
    };
    Ok((parsed.headers, body))
}

/// Where the body starts: after the first empty line, or the end.
pub(crate) fn header_end(message: &[u8]) -> usize {
    if message.starts_with(b"\r\n") {
        return 0;
    }
    memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |p| p + 4)
}

struct Fields<'x, I: Iterator<Item = Field<'x>>> {
    fields: I,
    body: &'x [u8],
}

impl<'x, I: Iterator<Item = Field<'x>>> HeaderStream<'x> for Fields<'x, I> {
    fn next_header(&mut self) -> Option<Field<'x>> {
        self.fields.next()
    }

    fn body(&mut self) -> &'x [u8] {
        self.body
    }
}
