//! The verifier: DKIM (capped), ARC, SPF and DMARC of one message within a time bound.
//!
//! Nothing here returns an error or panics on what a message or a DNS server says: every
//! problem is a result. DNS trouble, and the time limit, give `temperror`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mail_auth::common::crypto::HashAlgorithm;
use mail_auth::common::headers::Writable;
use mail_auth::dkim::Canonicalization as Canon;
use mail_auth::{AuthenticatedMessage, DkimResult, Error as MaError, Parameters};
use tokio::time::{Instant, timeout_at};

use super::dns::{DnsOptions, Resolver};
use super::report::{ArcCheck, AuthReport, DkimCheck, DmarcCheck, Outcome, SpfCheck};
use super::sign::header_end;
use super::{ArcSealer, Error, dmarc, spf, wire_form};

#[derive(Debug, Clone)]
pub struct VerifierOptions {
    pub dns: DnsOptions,
    /// The whole verification of one message ends within this; what is not done by then
    /// is `temperror`.
    pub timeout: Duration,
    /// DKIM-Signature fields checked per message (the rest are counted, not checked).
    pub max_signatures: usize,
    /// This host's name, for SPF's `%{r}` macro.
    pub receiver: String,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            dns: DnsOptions::default(),
            timeout: Duration::from_secs(10),
            max_signatures: 5,
            receiver: "unknown".into(),
        }
    }
}

/// What the SMTP session knew about the message.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// The client's address: SPF is checked only when it is known.
    pub ip: Option<IpAddr>,
    pub helo: Option<String>,
    /// The reverse path; empty or `None` for a bounce (SPF then checks the HELO name).
    pub mail_from: Option<String>,
}

/// Checks messages. One per process is plenty: it holds the DNS resolver and the caches.
pub struct Verifier {
    pub(crate) resolver: Resolver,
    options: VerifierOptions,
}

/// ARC allows at most 50 sets (RFC 8617 §4.2.1).
const ARC_MAX_SETS: usize = 50;

impl Verifier {
    pub fn new(options: VerifierOptions) -> Result<Verifier, Error> {
        Ok(Verifier {
            resolver: Resolver::new(&options.dns)?,
            options,
        })
    }

    pub fn options(&self) -> &VerifierOptions {
        &self.options
    }

    /// Parsed TXT records in the cache (DKIM keys...).
    pub fn cached_records(&self) -> usize {
        self.resolver.txt_cache.len()
    }

    /// Check `message` as received with `envelope`.
    pub async fn verify(&self, message: &[u8], envelope: &Envelope) -> AuthReport {
        self.run(message, envelope, None).await.0
    }

    /// [`Verifier::verify`] as its own task: a panic in a dependency becomes a `temperror`
    /// report instead of unwinding into the caller (the SMTP server, a Python thread).
    pub async fn verify_owned(self: Arc<Self>, message: Vec<u8>, envelope: Envelope) -> AuthReport {
        let has_ip = envelope.ip;
        let task = tokio::spawn(async move { self.verify(&message, &envelope).await });
        match task.await {
            Ok(report) => report,
            Err(e) => failed_report(&format!("internal error: {e}"), has_ip),
        }
    }

    /// Verify `message`, then add an ARC set for it (RFC 8617 §5.1): returns the report and
    /// the message with ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results
    /// prepended (the AAR carries the report as `authserv_id` wrote it).
    pub async fn verify_and_seal(
        &self,
        message: &[u8],
        envelope: &Envelope,
        sealer: &ArcSealer,
        authserv_id: &str,
    ) -> Result<(AuthReport, Vec<u8>), Error> {
        let (report, sealed) = self
            .run(message, envelope, Some((sealer, authserv_id)))
            .await;
        Ok((
            report,
            sealed.unwrap_or_else(|| Err(Error::Sign("nothing to seal".into())))?,
        ))
    }

    /// Seal `message` as it leaves (after a mailing list's changes, say) with what `report`
    /// found when it arrived: the AAR carries `report`, and the seal's `cv=` is the arrival
    /// verdict on the chain (RFC 8617 §5.1).
    pub async fn seal(
        &self,
        message: &[u8],
        report: &AuthReport,
        sealer: &ArcSealer,
        authserv_id: &str,
    ) -> Result<Vec<u8>, Error> {
        let deadline = Instant::now() + self.options.timeout;
        let verdict = match report.arc.result {
            Outcome::Pass => DkimResult::Pass,
            Outcome::None => DkimResult::None,
            Outcome::TempError => {
                return Err(Error::Sign(
                    "the ARC chain could not be checked on arrival, so it cannot be sealed".into(),
                ));
            }
            _ => DkimResult::Fail(MaError::Arc(mail_auth::arc::ArcError::BrokenChain)),
        };
        let raw = wire_form(message);
        let prepared = prepare(&raw, self.options.max_signatures)
            .ok_or_else(|| Error::Sign("the message has no header section".into()))?;
        let am = &prepared.am;
        let params = Parameters::new(am).with_txt_cache(&self.resolver.txt_cache);
        // The chain's sets as they are in the outgoing message; their verdict is the one
        // from arrival (changes since then break the old signatures, by design).
        let chain = timeout_at(deadline, self.resolver.authenticator.verify_arc(params))
            .await
            .map_err(|_| Error::Sign("time limit reached reading the ARC chain".into()))?;
        if chain.sets().len() != report.arc.instances as usize {
            return Err(Error::Sign(format!(
                "the report saw {} ARC set(s), the message has {}: seal the message the \
                 report is about",
                report.arc.instances,
                chain.sets().len()
            )));
        }
        let chain = chain.with_result(verdict);
        sealer.seal(am, &chain, &report.one_line(authserv_id))
    }

    /// SPF alone (RFC 7208 `check_host`), within the time bound.
    pub async fn check_spf(
        &self,
        ip: IpAddr,
        helo: Option<&str>,
        mail_from: Option<&str>,
    ) -> SpfCheck {
        let deadline = Instant::now() + self.options.timeout;
        self.spf(deadline, ip, helo, mail_from).await
    }

    async fn spf(
        &self,
        deadline: Instant,
        ip: IpAddr,
        helo: Option<&str>,
        mail_from: Option<&str>,
    ) -> SpfCheck {
        let check = spf::check(&self.resolver, ip, helo, mail_from, &self.options.receiver);
        match timeout_at(deadline, check).await {
            Ok(c) => c,
            Err(_) => {
                let mut c = spf::check_skeleton(ip, helo, mail_from);
                c.result = Outcome::TempError;
                c.reason = Some("time limit reached".into());
                c
            }
        }
    }

    /// SPF for the session the message came in, when the envelope has the client's address.
    async fn envelope_spf(&self, deadline: Instant, envelope: &Envelope) -> Option<SpfCheck> {
        let ip = envelope.ip?;
        let (helo, mail_from) = (envelope.helo.as_deref(), envelope.mail_from.as_deref());
        Some(self.spf(deadline, ip, helo, mail_from).await)
    }

    async fn run(
        &self,
        message: &[u8],
        envelope: &Envelope,
        seal: Option<(&ArcSealer, &str)>,
    ) -> (AuthReport, Option<Result<Vec<u8>, Error>>) {
        let deadline = Instant::now() + self.options.timeout;
        let raw = wire_form(message);
        let raw: &[u8] = &raw;
        let Some(Prepared {
            am,
            malformed,
            skipped,
            canonical,
        }) = prepare(raw, self.options.max_signatures)
        else {
            let mut report = failed_report("", None);
            report.dkim.clear();
            report.arc.reason = None;
            report.arc.result = Outcome::None;
            report.dmarc = DmarcCheck::none(None, Some("the message has no header section".into()));
            report.spf = self.envelope_spf(deadline, envelope).await;
            let sealed = seal.map(|_| Err(Error::Sign("the message has no header section".into())));
            return (report, sealed);
        };
        let canonical_len = |cb: Canon| canonical.get(&CanonKey::from(cb)).map_or(0, Vec::len);

        let params = || Parameters::new(&am).with_txt_cache(&self.resolver.txt_cache);
        let dkim_fut = timeout_at(deadline, self.resolver.authenticator.verify_dkim(params()));
        let arc_fut = timeout_at(deadline, self.resolver.authenticator.verify_arc(params()));
        let spf_fut = self.envelope_spf(deadline, envelope);
        let (dkim_out, arc_out, spf_check) = tokio::join!(dkim_fut, arc_fut, spf_fut);

        let mut dkim: Vec<DkimCheck> = malformed
            .iter()
            .map(|(v, e)| malformed_check(v, e))
            .collect();
        dkim.extend::<Vec<DkimCheck>>(match &dkim_out {
            Ok(outputs) => outputs
                .iter()
                .map(|o| dkim_check(o.result(), o.signature(), &canonical_len))
                .collect(),
            Err(_) => am
                .dkim_headers
                .iter()
                .map(|h| {
                    let mut c = dkim_check(&DkimResult::None, Some(&h.header), &canonical_len);
                    c.result = Outcome::TempError;
                    c.reason = Some("time limit reached".into());
                    c
                })
                .collect(),
        });
        let arc = match &arc_out {
            Ok(output) => arc_check(output.result(), &am),
            Err(_) => ArcCheck {
                result: Outcome::TempError,
                instances: am.as_headers.len() as u32,
                sealers: sealers(&am),
                reason: Some("time limit reached".into()),
            },
        };
        let from_domains: Vec<String> = am
            .from
            .iter()
            .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_owned()))
            .collect();
        let dmarc = match timeout_at(
            deadline,
            dmarc::check(&self.resolver, &from_domains, &dkim, spf_check.as_ref()),
        )
        .await
        {
            Ok(d) => d,
            Err(_) => {
                let mut d = DmarcCheck::none(
                    from_domains.first().map(|d| d.to_ascii_lowercase()),
                    Some("time limit reached".into()),
                );
                d.result = Outcome::TempError;
                d
            }
        };
        let report = AuthReport {
            dkim,
            dkim_skipped: skipped,
            arc,
            spf: spf_check,
            dmarc,
        };
        let sealed = seal.map(|(sealer, authserv_id)| match &arc_out {
            Ok(output) => sealer.seal(&am, output, &report.one_line(authserv_id)),
            Err(_) => Err(Error::Sign(
                "the ARC chain could not be checked in time, so it cannot be sealed".into(),
            )),
        });
        (report, sealed)
    }
}

/// A message parsed for mail-auth: header-only parse (so nothing is hashed for fields past
/// the cap), at most `cap` DKIM-Signature fields kept, body hashes made here.
struct Prepared<'a> {
    am: AuthenticatedMessage<'a>,
    /// DKIM-Signature fields that do not parse: (value, why).
    malformed: Vec<(String, String)>,
    skipped: usize,
    canonical: HashMap<CanonKey, Vec<u8>>,
}

fn prepare(raw: &[u8], cap: usize) -> Option<Prepared<'_>> {
    let end = header_end(raw);
    let mut am = AuthenticatedMessage::parse_with_opts(&raw[..end], None, false)?;
    am.raw_message = raw;
    am.body_offset = am.body_offset.min(end as u32);
    let body = &raw[am.body_offset as usize..];

    // The cap: at most `cap` DKIM-Signature fields (malformed ones included) are looked
    // at, and only their body hashes are computed. mail-auth reports only some malformed
    // fields (and without d= or s=): they are taken out and reported here, as neutral.
    let is_dkim = |name: &[u8]| name.eq_ignore_ascii_case(b"DKIM-Signature");
    let malformed_all: Vec<(String, String)> = am
        .errors
        .iter()
        .filter(|e| is_dkim(e.name))
        .map(|e| {
            (
                String::from_utf8_lossy(e.value).into_owned(),
                e.header.to_string(),
            )
        })
        .collect();
    am.errors.retain(|e| !is_dkim(e.name));
    am.has_dkim_errors = false;
    let total = am.dkim_headers.len() + malformed_all.len();
    am.dkim_headers.truncate(cap);
    let room = cap - am.dkim_headers.len();
    let malformed: Vec<(String, String)> = malformed_all.into_iter().take(room).collect();
    let skipped = total.saturating_sub(cap);

    // Body hashes, each canonical body made once. RFC 6376 §3.5 counts l= in
    // canonicalized octets (mail-auth counts raw ones), so the hashes are made here.
    let mut canonical: HashMap<CanonKey, Vec<u8>> = HashMap::new();
    let mut combos: Vec<(Canon, HashAlgorithm, u64)> = Vec::new();
    for s in am.dkim_headers.iter().map(|h| &h.header) {
        combos.push((s.cb, HashAlgorithm::from(s.a), s.l));
    }
    let arc_ok = am.ams_headers.len() <= ARC_MAX_SETS;
    for s in am.ams_headers.iter().map(|h| &h.header) {
        combos.push((s.cb, HashAlgorithm::from(s.a), s.l));
    }
    am.body_hashes.clear();
    for (cb, ha, l) in combos {
        if am
            .body_hashes
            .iter()
            .any(|(c, h, len, _)| *c == cb && *h == ha && *len == l)
        {
            continue;
        }
        let hash = if arc_ok
            || am
                .dkim_headers
                .iter()
                .any(|h| h.header.cb == cb && h.header.l == l)
        {
            let body = canonical
                .entry(CanonKey::from(cb))
                .or_insert_with(|| canonical_body(cb, body));
            let upto = if l == 0 {
                body.len()
            } else {
                (l as usize).min(body.len())
            };
            ha.hash(&body[..upto]).as_ref().to_vec()
        } else {
            // A chain over 50 sets fails before any hash is compared.
            Vec::new()
        };
        am.body_hashes.push((cb, ha, l, hash));
    }
    Some(Prepared {
        am,
        malformed,
        skipped,
        canonical,
    })
}

/// `Canon` is not `Hash`.
#[derive(Hash, PartialEq, Eq)]
enum CanonKey {
    Relaxed,
    Simple,
}

impl From<Canon> for CanonKey {
    fn from(c: Canon) -> Self {
        match c {
            Canon::Relaxed => CanonKey::Relaxed,
            Canon::Simple => CanonKey::Simple,
        }
    }
}

fn canonical_body(cb: Canon, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    cb.canonical_body(body, 0).write(&mut out);
    out
}

/// A report where nothing could be checked (an internal failure).
fn failed_report(reason: &str, ip: Option<IpAddr>) -> AuthReport {
    let reason = (!reason.is_empty()).then(|| reason.to_owned());
    let mut dmarc = DmarcCheck::none(None, reason.clone());
    dmarc.result = Outcome::TempError;
    AuthReport {
        dkim: vec![DkimCheck {
            result: Outcome::TempError,
            domain: None,
            selector: None,
            algorithm: None,
            identity: None,
            signature_prefix: None,
            body_length: None,
            reason: reason.clone(),
        }],
        dkim_skipped: 0,
        arc: ArcCheck {
            result: Outcome::TempError,
            instances: 0,
            sealers: Vec::new(),
            reason: reason.clone(),
        },
        spf: ip.map(|ip| {
            let mut c = spf::check_skeleton(ip, None, None);
            c.result = Outcome::TempError;
            c.reason = reason.clone();
            c
        }),
        dmarc,
    }
}

fn algorithm_name(a: mail_auth::common::crypto::Algorithm) -> &'static str {
    use mail_auth::common::crypto::Algorithm;
    match a {
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

fn dkim_check(
    result: &DkimResult,
    signature: Option<&mail_auth::dkim::Signature>,
    canonical_len: &dyn Fn(Canon) -> usize,
) -> DkimCheck {
    use mail_auth::common::crypto::CryptoError;
    use mail_auth::dkim::DkimError;
    let (mut outcome, err) = match result {
        DkimResult::Pass => (Outcome::Pass, None),
        // mail-auth says neutral for a body hash mismatch and an expired signature: both
        // are failures in RFC 6376 §6.1 terms. Unparseable fields stay neutral.
        DkimResult::Neutral(e @ MaError::Dkim(DkimError::FailedBodyHashMatch))
        | DkimResult::Neutral(e @ MaError::Dkim(DkimError::SignatureExpired)) => {
            (Outcome::Fail, Some(e))
        }
        DkimResult::Neutral(e) => (Outcome::Neutral, Some(e)),
        // A key of another kind than the signature (RFC 6376 §6.1.2: "inappropriate key
        // algorithm") is a problem of the key record: permerror, as a bad record is.
        DkimResult::Fail(e @ MaError::Crypto(CryptoError::IncompatibleAlgorithms)) => {
            (Outcome::PermError, Some(e))
        }
        DkimResult::Fail(e) => (Outcome::Fail, Some(e)),
        DkimResult::PermError(e) => (Outcome::PermError, Some(e)),
        DkimResult::TempError(e) => (Outcome::TempError, Some(e)),
        DkimResult::None => (Outcome::None, None),
    };
    let mut reason = err.map(reason_text);
    if let Some(s) = signature
        && outcome == Outcome::Pass
        && s.l > 0
    {
        let full = canonical_len(s.cb) as u64;
        if s.l < full {
            // RFC 6376 §8.2: content after l= is unsigned; accepting it lets anyone append.
            outcome = Outcome::Policy;
            reason = Some(format!(
                "l={} signs only part of the {full}-octet body; the rest is unsigned",
                s.l
            ));
        }
    }
    DkimCheck {
        result: outcome,
        domain: signature.map(|s| s.d.to_ascii_lowercase()),
        selector: signature.map(|s| s.s.clone()),
        algorithm: signature.map(|s| algorithm_name(s.a).to_owned()),
        identity: signature.and_then(|s| (!s.i.is_empty()).then(|| s.i.clone())),
        signature_prefix: signature.map(|s| {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(&s.b);
            b.chars().take(12).collect()
        }),
        body_length: signature.and_then(|s| (s.l > 0).then_some(s.l)),
        reason,
    }
}

/// A DKIM-Signature field that does not parse: neutral (RFC 8601 §2.7.1), with what can
/// be read of it.
fn malformed_check(value: &str, error: &str) -> DkimCheck {
    let tags = crate::message::tag_list::parse(value);
    let tag = |n: &str| {
        tags.get(n)
            .map(|v| v.split_whitespace().collect::<String>())
    };
    DkimCheck {
        result: Outcome::Neutral,
        domain: tag("d").map(|d| d.to_ascii_lowercase()),
        selector: tag("s"),
        algorithm: tag("a"),
        identity: tag("i"),
        signature_prefix: tag("b").map(|b| b.chars().take(12).collect()),
        body_length: None,
        reason: Some(format!("the DKIM-Signature field does not parse ({error})")),
    }
}

fn reason_text(e: &MaError) -> String {
    use mail_auth::DnsError;
    use mail_auth::common::crypto::CryptoError;
    match e {
        MaError::Dns(DnsError::RecordNotFound(_)) => "no key record in DNS".into(),
        MaError::Dns(DnsError::InvalidRecordType) | MaError::ParseError => {
            "the key record does not parse".into()
        }
        MaError::Dns(DnsError::Resolver(m)) => format!("DNS: {m}"),
        MaError::Crypto(CryptoError::FailedVerification) => "signature did not verify".into(),
        MaError::Crypto(CryptoError::IncompatibleAlgorithms) => {
            "the key record is for another algorithm".into()
        }
        MaError::Dkim(mail_auth::dkim::DkimError::FailedBodyHashMatch) => {
            "body hash did not verify".into()
        }
        other => other.to_string(),
    }
}

fn sealers(am: &AuthenticatedMessage<'_>) -> Vec<String> {
    am.as_headers.iter().map(|h| h.header.d.clone()).collect()
}

fn arc_check(result: &DkimResult, am: &AuthenticatedMessage<'_>) -> ArcCheck {
    let (outcome, reason) = match result {
        DkimResult::Pass => (Outcome::Pass, None),
        DkimResult::None => (Outcome::None, None),
        DkimResult::TempError(e) => (Outcome::TempError, Some(reason_text(e))),
        // RFC 8617 §5.2 knows none, pass and fail.
        DkimResult::Neutral(e) | DkimResult::Fail(e) | DkimResult::PermError(e) => {
            (Outcome::Fail, Some(reason_text(e)))
        }
    };
    ArcCheck {
        result: outcome,
        instances: am.as_headers.len() as u32,
        sealers: sealers(am),
        reason,
    }
}
