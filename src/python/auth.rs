//! `mailprims.auth`: DKIM keys and signers, the verifier, the ARC sealer, and the report
//! objects, over the pyo3-free core in `crate::auth`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::buffer::BytesLike;
use super::message::PyMessage;
use super::runtime::{awaitable, block_on, runtime};
use super::types;
use crate::auth::{
    self, ArcCheck, AuthReport, Canonicalization, DkimCheck, DkimKey, DkimSigner, DmarcCheck,
    DnsOptions, Envelope, KeyKind, SignerOptions, SpfCheck, Verifier, VerifierOptions,
};

// ---- errors ----------------------------------------------------------------------------

fn error_with(py: Python<'_>, kind: &str, message: String) -> PyErr {
    super::errors::instantiate(py, types::AUTH_ERROR.get(py), message, |kw| {
        kw.set_item("kind", kind)
    })
}

/// `AuthError` with `kind` naming the problem: `key`, `cannot_sign`, `sign`, `config`.
#[cold]
fn auth_error(py: Python<'_>, e: auth::Error) -> PyErr {
    let kind = match &e {
        auth::Error::Key(_) => "key",
        auth::Error::CannotSign(_) => "cannot_sign",
        auth::Error::Sign(_) => "sign",
        auth::Error::Config(_) => "config",
    };
    error_with(py, kind, e.to_string())
}

fn config_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    error_with(py, "config", message.into())
}

// ---- arguments -------------------------------------------------------------------------

/// The bytes of a message argument: a `Message`, bytes-like, or `str` (UTF-8).
fn message_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(m) = obj.cast::<PyMessage>() {
        return Ok(m.get().view().bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    BytesLike::text_or_bytes(obj, what)
        .map(|b| b.as_bytes().to_vec())
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} takes a Message, bytes or str, not {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string())
            ))
        })
}

fn to_message<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let bytes = PyBytes::new(py, data);
    py.get_type::<PyMessage>().call_method1("parse", (bytes,))
}

fn seconds(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    let value: f64 = if let Ok(v) = obj.extract::<f64>() {
        v
    } else if let Ok(td) = obj.call_method0("total_seconds") {
        td.extract()?
    } else {
        return Err(config_error(
            py,
            format!("{what} takes seconds or a timedelta"),
        ));
    };
    if !value.is_finite() || value <= 0.0 || value > 1e9 {
        return Err(config_error(
            py,
            format!("{what} must be a positive number of seconds"),
        ));
    }
    Ok(value)
}

fn ip_of(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<IpAddr>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    let text = obj.str()?.to_string();
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map(Some)
        .map_err(|_| config_error(py, format!("{text:?} is not an IP address")))
}

fn nameserver(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<SocketAddr> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        let (host, port): (String, u16) = t.extract()?;
        let ip: IpAddr = host
            .parse()
            .map_err(|_| config_error(py, format!("name server {host:?} is not an IP address")))?;
        return Ok(SocketAddr::new(ip, port));
    }
    let text: String = obj.str()?.to_string();
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            config_error(
                py,
                format!("name server {text:?} is not an address (\"192.0.2.1\", \"192.0.2.1:5353\", (host, port))"),
            )
        })
}

// ---- keys and signers ------------------------------------------------------------------

/// A DKIM private key (RSA or Ed25519) with its public half.
///
/// ``DkimKey.generate("rsa" | "ed25519")`` makes one; ``DkimKey.load(pem)`` reads a PEM
/// private key (PKCS#1 ``RSA PRIVATE KEY`` or PKCS#8 ``PRIVATE KEY``), the base64 Ed25519
/// seed of RFC 8463 and dkimpy key files, or a file (a path). ``dns_record(selector,
/// domain)`` is what to publish. RSA keys of 1024 bits load and publish, but cannot sign:
/// ring, the cryptography underneath, signs RSA only with 2048 bits or more.
#[pyclass(frozen, module = "mailprims.auth", name = "DkimKey")]
pub struct PyDkimKey {
    key: Arc<DkimKey>,
}

#[pymethods]
impl PyDkimKey {
    /// A new key: ``"rsa"`` (``bits``, 2048 by default, up to 8192) or ``"ed25519"``.
    #[staticmethod]
    #[pyo3(signature = (kind = "rsa", *, bits = None))]
    fn generate(py: Python<'_>, kind: &str, bits: Option<usize>) -> PyResult<Self> {
        let kind = match kind.to_ascii_lowercase().as_str() {
            "rsa" => KeyKind::Rsa,
            "ed25519" => KeyKind::Ed25519,
            other => {
                return Err(config_error(
                    py,
                    format!("key kind {other:?}: \"rsa\" or \"ed25519\""),
                ));
            }
        };
        let key = py
            .detach(|| DkimKey::generate(kind, bits))
            .map_err(|e| auth_error(py, e))?;
        Ok(PyDkimKey { key: Arc::new(key) })
    }

    /// Read a private key from PEM text (``str`` or ``bytes``), a base64 Ed25519 seed, or a
    /// file (``pathlib.Path`` or other path-like).
    #[staticmethod]
    fn load(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let bytes: Vec<u8> =
            if data.is_instance_of::<PyString>() || data.is_instance_of::<PyBytes>() {
                BytesLike::text_or_bytes(data, "DkimKey.load()")?
                    .as_bytes()
                    .to_vec()
            } else if data.hasattr("__fspath__")? {
                let path: std::path::PathBuf = py
                    .import("os")?
                    .call_method1("fspath", (data,))?
                    .extract()?;
                py.detach(|| std::fs::read(&path)).map_err(PyErr::from)?
            } else {
                BytesLike::text_or_bytes(data, "DkimKey.load()")?
                    .as_bytes()
                    .to_vec()
            };
        let key = DkimKey::load(&bytes).map_err(|e| auth_error(py, e))?;
        Ok(PyDkimKey { key: Arc::new(key) })
    }

    /// ``"rsa"`` or ``"ed25519"`` (the ``k=`` of the key record).
    #[getter]
    fn kind(&self) -> &'static str {
        self.key.kind().name()
    }

    /// ``"rsa-sha256"`` or ``"ed25519-sha256"`` (the ``a=`` of its signatures).
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.key.kind().algorithm()
    }

    /// The RSA modulus size in bits (256 for Ed25519).
    #[getter]
    fn bits(&self) -> usize {
        self.key.bits()
    }

    /// False for RSA keys under 2048 bits (they verify but ring will not sign with them).
    #[getter]
    fn can_sign(&self) -> bool {
        self.key.can_sign()
    }

    /// The public key as published in ``p=`` (SubjectPublicKeyInfo DER for RSA, the 32 raw
    /// bytes for Ed25519).
    #[getter]
    fn public_key<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.key.public_key())
    }

    /// The TXT record's text: ``v=DKIM1; k=rsa; p=...``.
    #[getter]
    fn txt_record(&self) -> String {
        self.key.txt_value()
    }

    /// The record to publish, in zone-file form:
    /// ``<selector>._domainkey.<domain>. IN TXT "v=DKIM1; k=...; p=..."`` (long values cut
    /// into strings of at most 255 characters).
    fn dns_record(&self, selector: &str, domain: &str) -> String {
        self.key.dns_record(selector, domain)
    }

    /// The private key as PEM: PKCS#1 for RSA (what OpenDKIM reads), PKCS#8 for Ed25519.
    fn private_pem(&self, py: Python<'_>) -> PyResult<String> {
        self.key.private_pem().map_err(|e| auth_error(py, e))
    }

    fn __repr__(&self) -> String {
        format!(
            "DkimKey(kind={}, bits={})",
            q(self.key.kind().name()),
            self.key.bits()
        )
    }
}

fn key_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Arc<DkimKey>> {
    if let Ok(k) = obj.cast::<PyDkimKey>() {
        return Ok(k.get().key.clone());
    }
    Ok(PyDkimKey::load(py, obj)?.key)
}

fn header_names(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyString>() => Ok(Some(
            o.extract::<String>()?
                .split(':')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )),
        Some(o) => Ok(Some(o.extract()?)),
    }
}

/// Signs messages for one domain (``d=``) and selector (``s=``) with one key.
///
/// ``headers`` are the field names to sign (default: RFC 6376 §5.4.1's recommended list,
/// signed when present); ``oversign`` names are signed once more than they occur, so that
/// none can be added in transit (default: From, Subject, To, Cc, Reply-To, Date,
/// Message-ID and the MIME fields). ``canonicalization`` is ``"relaxed/relaxed"`` (default),
/// ``"simple/simple"``, ``"relaxed/simple"``...; ``body_length=True`` adds ``l=`` (risky:
/// anyone can append to the body; mailprims' verifier reports such additions as
/// ``policy``); ``expires`` (seconds or ``timedelta``) adds ``x=``; ``identity`` is ``i=``.
/// ``sign(message)`` returns a new :class:`~mailprims.Message` with the DKIM-Signature on
/// top and CRLF line ends.
#[pyclass(frozen, module = "mailprims.auth", name = "DkimSigner")]
pub struct PyDkimSigner {
    signer: DkimSigner,
    key: Py<PyAny>,
}

impl PyDkimSigner {
    /// The Rust signer, for the SMTP client's `dkim=` (it signs without Python).
    pub fn core(&self) -> &DkimSigner {
        &self.signer
    }
}

fn canonicalization_name(c: Canonicalization) -> &'static str {
    match c {
        Canonicalization::Relaxed => "relaxed",
        Canonicalization::Simple => "simple",
    }
}

#[pymethods]
impl PyDkimSigner {
    #[new]
    #[pyo3(signature = (domain, selector, key, *, headers = None, oversign = None,
        canonicalization = "relaxed/relaxed", body_length = false, expires = None,
        identity = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        domain: &str,
        selector: &str,
        key: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
        oversign: Option<&Bound<'_, PyAny>>,
        canonicalization: &str,
        body_length: bool,
        expires: Option<&Bound<'_, PyAny>>,
        identity: Option<String>,
    ) -> PyResult<Self> {
        let k = key_of(py, key)?;
        let key_obj = if key.is_instance_of::<PyDkimKey>() {
            key.clone().unbind()
        } else {
            Py::new(py, PyDkimKey { key: k.clone() })?.into_any()
        };
        let (hc, bc) = Canonicalization::parse_pair(canonicalization).ok_or_else(|| {
            config_error(
                py,
                format!(
                    "canonicalization {canonicalization:?}: relaxed or simple, as \"header/body\""
                ),
            )
        })?;
        let expiration = match expires {
            Some(e) if !e.is_none() => Some(seconds(py, e, "expires")?.ceil() as u64),
            _ => None,
        };
        let options = SignerOptions {
            headers: header_names(headers)?,
            oversign: header_names(oversign)?,
            header_canonicalization: hc,
            body_canonicalization: bc,
            body_length,
            expiration,
            identity,
        };
        let signer =
            DkimSigner::new(domain, selector, k, options).map_err(|e| auth_error(py, e))?;
        Ok(PyDkimSigner {
            signer,
            key: key_obj,
        })
    }

    /// The message with this signer's DKIM-Signature on top: a new ``Message``.
    fn sign<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data = message_bytes(message, "DkimSigner.sign()")?;
        let signed = py
            .detach(|| self.signer.sign(&data))
            .map_err(|e| auth_error(py, e))?;
        to_message(py, &signed)
    }

    /// Only the DKIM-Signature field for ``message`` (``bytes``, ending in CRLF), for
    /// callers that prepend it themselves.
    fn signature<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = message_bytes(message, "DkimSigner.signature()")?;
        let field = py
            .detach(|| {
                let wire = auth::wire_form(&data);
                self.signer.signature_field(&wire, crate_now())
            })
            .map_err(|e| auth_error(py, e))?;
        Ok(PyBytes::new(py, &field))
    }

    /// The signing domain (``d=``).
    #[getter]
    fn domain(&self) -> &str {
        self.signer.domain()
    }

    /// The selector (``s=``): the key is published at ``<selector>._domainkey.<domain>``.
    #[getter]
    fn selector(&self) -> &str {
        self.signer.selector()
    }

    /// The :class:`DkimKey` that signs.
    #[getter]
    fn key(&self, py: Python<'_>) -> Py<PyAny> {
        self.key.clone_ref(py)
    }

    /// The field names signed when present (lowercase).
    #[getter]
    fn headers(&self) -> Vec<String> {
        self.signer.headers().to_vec()
    }

    /// The names signed once more than they occur (lowercase).
    #[getter]
    fn oversign(&self) -> Vec<String> {
        self.signer.oversigned().to_vec()
    }

    /// The ``c=`` tag: header and body canonicalization (``relaxed/relaxed``...).
    #[getter]
    fn canonicalization(&self) -> String {
        let o = self.signer.options();
        format!(
            "{}/{}",
            canonicalization_name(o.header_canonicalization),
            canonicalization_name(o.body_canonicalization)
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "DkimSigner(domain={}, selector={}, algorithm={}, canonicalization={})",
            q(self.signer.domain()),
            q(self.signer.selector()),
            q(self.signer.key().kind().algorithm()),
            q(&self.canonicalization())
        )
    }
}

/// A string as Python's repr shows it (single quotes).
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn crate_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sign ``message`` with several signers (an RSA and an Ed25519 key, say); the first
/// signer's field ends up on top.
#[pyfunction]
fn auth_sign_all<'py>(
    py: Python<'py>,
    message: &Bound<'py, PyAny>,
    signers: Vec<PyRef<'py, PyDkimSigner>>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = message_bytes(message, "sign()")?;
    let list: Vec<DkimSigner> = signers.iter().map(|s| s.signer.clone()).collect();
    if list.is_empty() {
        return Err(config_error(py, "sign() needs at least one DkimSigner"));
    }
    let signed = py
        .detach(|| auth::sign_all(&list, &data))
        .map_err(|e| auth_error(py, e))?;
    to_message(py, &signed)
}

// ---- results ---------------------------------------------------------------------------

/// One DKIM-Signature's result: ``result`` (``pass``, ``fail``, ``neutral``, ``policy``,
/// ``temperror``, ``permerror``, ``none``), what the signature says (``domain`` d=,
/// ``selector`` s=, ``algorithm`` a=, ``identity`` i=, ``body_length`` l=), the first
/// characters of ``b=`` (``signature_prefix``), and ``reason`` when it did not pass.
#[pyclass(frozen, get_all, module = "mailprims.auth", name = "DkimResult")]
pub struct PyDkimResult {
    /// ``pass``, ``fail``, ``neutral``, ``policy``, ``temperror``, ``permerror`` or ``none``.
    result: &'static str,
    /// The signing domain (``d=``).
    domain: Option<String>,
    /// The selector (``s=``).
    selector: Option<String>,
    /// The algorithm (``a=``: ``rsa-sha256``, ``ed25519-sha256``).
    algorithm: Option<String>,
    /// The agent or user identifier (``i=``), when given.
    identity: Option<String>,
    /// The first characters of the signature (``b=``), to tell signatures apart.
    signature_prefix: Option<String>,
    /// The body length limit (``l=``), when the signature has one.
    body_length: Option<u64>,
    /// Why the signature did not pass, or ``None``.
    reason: Option<String>,
}

impl From<&DkimCheck> for PyDkimResult {
    fn from(d: &DkimCheck) -> Self {
        PyDkimResult {
            result: d.result.as_str(),
            domain: d.domain.clone(),
            selector: d.selector.clone(),
            algorithm: d.algorithm.clone(),
            identity: d.identity.clone(),
            signature_prefix: d.signature_prefix.clone(),
            body_length: d.body_length,
            reason: d.reason.clone(),
        }
    }
}

#[pymethods]
impl PyDkimResult {
    /// The result as plain data (for JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        set_fields!(d, self; result, domain, selector, algorithm, identity, signature_prefix,
            body_length, reason)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let mut s = format!("<DkimResult {}", self.result);
        if let Some(d) = &self.domain {
            s.push_str(&format!(" d={d}"));
        }
        if let Some(sel) = &self.selector {
            s.push_str(&format!(" s={sel}"));
        }
        if let Some(r) = &self.reason {
            s.push_str(&format!(" ({r})"));
        }
        s.push('>');
        s
    }
}

/// The SPF result (RFC 7208): ``result`` (``pass``, ``fail``, ``softfail``, ``neutral``,
/// ``none``, ``temperror``, ``permerror``), the ``identity`` checked (``"mailfrom"``, or
/// ``"helo"`` for a null reverse path), the ``domain`` whose policy decided, ``sender``,
/// ``ip``, ``helo``, the domain's ``explanation`` of a fail, and ``reason``.
#[pyclass(frozen, get_all, module = "mailprims.auth", name = "SpfResult")]
pub struct PySpfResult {
    /// ``pass``, ``fail``, ``softfail``, ``neutral``, ``none``, ``temperror`` or ``permerror``.
    result: &'static str,
    /// What was checked: ``"mailfrom"``, or ``"helo"`` for a null reverse path.
    identity: &'static str,
    /// The domain whose SPF policy decided.
    domain: String,
    /// The envelope sender checked.
    sender: String,
    /// The client address checked.
    ip: String,
    /// The HELO/EHLO name, when given.
    helo: Option<String>,
    /// The domain's explanation of a fail (``exp=``), when it has one.
    explanation: Option<String>,
    /// Why the result is what it is, or ``None``.
    reason: Option<String>,
}

impl From<&SpfCheck> for PySpfResult {
    fn from(s: &SpfCheck) -> Self {
        PySpfResult {
            result: s.result.as_str(),
            identity: s.identity.as_str(),
            domain: s.domain.clone(),
            sender: s.sender.clone(),
            ip: s.ip.to_string(),
            helo: s.helo.clone(),
            explanation: s.explanation.clone(),
            reason: s.reason.clone(),
        }
    }
}

#[pymethods]
impl PySpfResult {
    /// The result as plain data (for JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        set_fields!(d, self; result, identity, domain, sender, ip, helo, explanation, reason)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "<SpfResult {} {}={} ip={}>",
            self.result,
            self.identity,
            if self.identity == "helo" {
                &self.domain
            } else {
                &self.sender
            },
            self.ip
        )
    }
}

/// The DMARC result (RFC 7489): ``result`` (``pass``, ``fail``, ``none``, ``temperror``),
/// the From ``domain``, where the record was found (``record_domain``), its ``policy``
/// (``p=``) and the ``applied_policy`` (``sp=`` for a subdomain), ``pct``, whether an
/// aligned DKIM signature or SPF result passed, and ``disposition``: what the domain asks
/// you to do with this message (``none``, ``quarantine``, ``reject``; ``pct`` applied).
#[pyclass(frozen, get_all, module = "mailprims.auth", name = "DmarcResult")]
pub struct PyDmarcResult {
    /// ``pass``, ``fail``, ``none`` or ``temperror``.
    result: &'static str,
    /// The From domain the policy is for.
    domain: Option<String>,
    /// Where the DMARC record was found (the From domain or its organizational domain).
    record_domain: Option<String>,
    /// The record's policy (``p=``: ``none``, ``quarantine``, ``reject``).
    policy: Option<&'static str>,
    /// The policy that applies to this domain (``sp=`` for a subdomain).
    applied_policy: Option<&'static str>,
    /// The percentage of failing mail the policy applies to (``pct=``).
    pct: u8,
    /// What the domain asks you to do with this message: ``none``, ``quarantine`` or ``reject`` (``pct`` applied).
    disposition: &'static str,
    /// Whether a DKIM signature aligned with the From domain passed.
    dkim_aligned: bool,
    /// Whether SPF passed for a domain aligned with the From domain.
    spf_aligned: bool,
    /// Why the result is what it is, or ``None``.
    reason: Option<String>,
}

impl From<&DmarcCheck> for PyDmarcResult {
    fn from(d: &DmarcCheck) -> Self {
        PyDmarcResult {
            result: d.result.as_str(),
            domain: d.domain.clone(),
            record_domain: d.record_domain.clone(),
            policy: d.policy.map(|p| p.as_str()),
            applied_policy: d.applied_policy.map(|p| p.as_str()),
            pct: d.pct,
            disposition: d.disposition.as_str(),
            dkim_aligned: d.dkim_aligned,
            spf_aligned: d.spf_aligned,
            reason: d.reason.clone(),
        }
    }
}

#[pymethods]
impl PyDmarcResult {
    /// The result as plain data (for JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        set_fields!(d, self; result, domain, record_domain, policy, applied_policy, pct,
            disposition, dkim_aligned, spf_aligned, reason)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let mut s = format!("<DmarcResult {}", self.result);
        if let Some(d) = &self.domain {
            s.push_str(&format!(" from={d}"));
        }
        if let Some(p) = self.applied_policy {
            s.push_str(&format!(" p={p} disposition={}", self.disposition));
        }
        s.push('>');
        s
    }
}

/// The ARC chain's result (RFC 8617): ``result`` (``pass``, ``fail``, ``none``,
/// ``temperror``), the number of ARC sets (``instances``), the sealing domains oldest first
/// (``sealers``), and ``reason``.
#[pyclass(frozen, get_all, module = "mailprims.auth", name = "ArcResult")]
pub struct PyArcResult {
    /// ``pass``, ``fail``, ``none`` or ``temperror``.
    result: &'static str,
    /// The number of ARC sets.
    instances: u32,
    /// The sealing domains, oldest first.
    sealers: Vec<String>,
    /// Why the chain did not pass, or ``None``.
    reason: Option<String>,
}

impl From<&ArcCheck> for PyArcResult {
    fn from(a: &ArcCheck) -> Self {
        PyArcResult {
            result: a.result.as_str(),
            instances: a.instances,
            sealers: a.sealers.clone(),
            reason: a.reason.clone(),
        }
    }
}

#[pymethods]
impl PyArcResult {
    /// The result as plain data (for JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        set_fields!(d, self; result, instances, sealers, reason)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("<ArcResult {} i={}>", self.result, self.instances)
    }
}

/// What :meth:`Verifier.verify` found: ``dkim`` (a :class:`DkimResult` per signature
/// checked, top first; ``dkim_skipped`` counts those beyond the verifier's cap), ``spf``
/// (:class:`SpfResult`, ``None`` without a client address), ``dmarc``
/// (:class:`DmarcResult`) and ``arc`` (:class:`ArcResult`). ``header(authserv_id)`` is the
/// RFC 8601 Authentication-Results field to prepend; in Jupyter the report shows as a table.
#[pyclass(frozen, module = "mailprims.auth", name = "AuthReport")]
pub struct PyAuthReport {
    report: AuthReport,
    /// A :class:`DkimResult` per signature checked, top first.
    #[pyo3(get)]
    dkim: Vec<Py<PyDkimResult>>,
    /// Signatures beyond the verifier's cap, not checked.
    #[pyo3(get)]
    dkim_skipped: usize,
    /// The :class:`SpfResult`, or ``None`` without a client address.
    #[pyo3(get)]
    spf: Option<Py<PySpfResult>>,
    /// The :class:`DmarcResult`.
    #[pyo3(get)]
    dmarc: Py<PyDmarcResult>,
    /// The :class:`ArcResult`.
    #[pyo3(get)]
    arc: Py<PyArcResult>,
}

pub(crate) fn report_object(py: Python<'_>, report: AuthReport) -> PyResult<PyAuthReport> {
    Ok(PyAuthReport {
        dkim: report
            .dkim
            .iter()
            .map(|d| Py::new(py, PyDkimResult::from(d)))
            .collect::<PyResult<_>>()?,
        dkim_skipped: report.dkim_skipped,
        spf: report
            .spf
            .as_ref()
            .map(|s| Py::new(py, PySpfResult::from(s)))
            .transpose()?,
        dmarc: Py::new(py, PyDmarcResult::from(&report.dmarc))?,
        arc: Py::new(py, PyArcResult::from(&report.arc))?,
        report,
    })
}

fn check_authserv_id(py: Python<'_>, id: &str) -> PyResult<()> {
    if id.trim().is_empty() || id.bytes().any(|b| b.is_ascii_control() || b == b';') {
        return Err(config_error(
            py,
            format!("authserv_id {id:?} is not a host name"),
        ));
    }
    Ok(())
}

#[pymethods]
impl PyAuthReport {
    /// The Authentication-Results field (RFC 8601) for these results, as ``authserv_id``
    /// (your host name) reports them: ``"Authentication-Results: mx.example.org;\r\n\t
    /// dkim=pass header.d=..."``, folded, without the final line break.
    fn header(&self, py: Python<'_>, authserv_id: &str) -> PyResult<String> {
        check_authserv_id(py, authserv_id)?;
        Ok(self.report.header(authserv_id))
    }

    /// True when DMARC passed, or, without a DMARC policy, when some DKIM signature passed.
    #[getter]
    fn passed(&self) -> bool {
        use crate::auth::Outcome;
        match self.report.dmarc.result {
            Outcome::Pass => true,
            Outcome::None => self.report.dkim.iter().any(|d| d.result == Outcome::Pass),
            _ => false,
        }
    }

    /// The report as plain data (for JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let dkim = PyList::empty(py);
        for r in &self.dkim {
            dkim.append(r.bind(py).get().to_dict(py)?)?;
        }
        d.set_item("dkim", dkim)?;
        d.set_item("dkim_skipped", self.dkim_skipped)?;
        match &self.spf {
            Some(s) => d.set_item("spf", s.bind(py).get().to_dict(py)?)?,
            None => d.set_item("spf", py.None())?,
        }
        d.set_item("dmarc", self.dmarc.bind(py).get().to_dict(py)?)?;
        d.set_item("arc", self.arc.bind(py).get().to_dict(py)?)?;
        Ok(d)
    }

    /// A table of the results for Jupyter.
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        types::AUTH_REPORT_HTML.get(slf.py())?.call1((slf,))
    }

    fn __repr__(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.report.dkim.is_empty() {
            parts.push("dkim=none".into());
        }
        for d in &self.report.dkim {
            parts.push(format!(
                "dkim={}{}",
                d.result,
                d.domain
                    .as_deref()
                    .map(|x| format!("({x})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(s) = &self.report.spf {
            parts.push(format!("spf={}", s.result));
        }
        parts.push(format!("dmarc={}", self.report.dmarc.result));
        parts.push(format!("arc={}", self.report.arc.result));
        format!("<AuthReport {}>", parts.join(" "))
    }
}

// ---- the verifier and the sealer ---------------------------------------------------------

/// Checks received messages: DKIM (every signature up to ``max_signatures``, 5 by default),
/// ARC, SPF (when the client's ``ip`` is given) and DMARC, in one call.
///
/// ``nameservers`` are the DNS servers to ask (``"192.0.2.53"``, ``"127.0.0.1:5353"`` or
/// ``(host, port)``; default: the system's). Each DNS query waits ``dns_timeout`` seconds,
/// and a whole verification ends within ``timeout`` seconds: what is unfinished is
/// ``temperror``. DNS failures are results (``temperror``), never exceptions. Parsed key
/// records are kept for their TTL (at most ``cache_size`` of them), so one verifier for the
/// whole program is best. ``receiver`` is this host's name, for SPF's ``%{r}`` macro.
#[pyclass(frozen, module = "mailprims.auth", name = "Verifier")]
pub struct PyVerifier {
    inner: Arc<Verifier>,
    nameservers: Vec<SocketAddr>,
}

struct Request {
    message: Vec<u8>,
    envelope: Envelope,
}

impl PyVerifier {
    fn request(
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        ip: Option<&Bound<'_, PyAny>>,
        helo: Option<String>,
        mail_from: Option<String>,
        what: &str,
    ) -> PyResult<Request> {
        Ok(Request {
            message: message_bytes(message, what)?,
            envelope: Envelope {
                ip: ip_of(py, ip)?,
                helo,
                mail_from,
            },
        })
    }

    /// The Rust verifier, for the SMTP server's `verify=` (it verifies without Python).
    pub fn core(&self) -> &Arc<Verifier> {
        &self.inner
    }
}

#[pymethods]
impl PyVerifier {
    #[new]
    #[pyo3(signature = (*, nameservers = None, timeout = 10.0, dns_timeout = 2.0,
        max_signatures = 5, cache_size = 1024, receiver = None))]
    fn new(
        py: Python<'_>,
        nameservers: Option<&Bound<'_, PyAny>>,
        timeout: f64,
        dns_timeout: f64,
        max_signatures: usize,
        cache_size: usize,
        receiver: Option<String>,
    ) -> PyResult<Self> {
        let mut servers = Vec::new();
        if let Some(ns) = nameservers.filter(|n| !n.is_none()) {
            if ns.is_instance_of::<PyString>() || ns.is_instance_of::<PyTuple>() {
                servers.push(nameserver(py, ns)?);
            } else {
                for item in ns.try_iter()? {
                    servers.push(nameserver(py, &item?)?);
                }
            }
        }
        for (name, v) in [("timeout", timeout), ("dns_timeout", dns_timeout)] {
            if !v.is_finite() || v <= 0.0 || v > 3600.0 {
                return Err(config_error(
                    py,
                    format!("{name} must be between 0 and 3600 seconds"),
                ));
            }
        }
        if max_signatures == 0 {
            return Err(config_error(py, "max_signatures must be at least 1"));
        }
        let options = VerifierOptions {
            dns: DnsOptions {
                nameservers: servers.clone(),
                timeout: Duration::from_secs_f64(dns_timeout),
                attempts: 2,
                cache_size,
            },
            timeout: Duration::from_secs_f64(timeout),
            max_signatures,
            receiver: receiver.unwrap_or_else(|| "unknown".into()),
        };
        // The resolver is made inside the runtime it will run on.
        let _guard = runtime().enter();
        let inner = Verifier::new(options).map_err(|e| auth_error(py, e))?;
        Ok(PyVerifier {
            inner: Arc::new(inner),
            nameservers: servers,
        })
    }

    /// Check ``message`` (a ``Message``, ``bytes`` or ``str``) as received from ``ip``
    /// (SPF is checked only with it) that said ``helo`` and ``MAIL FROM:<mail_from>``.
    /// Returns an :class:`AuthReport`; never raises for what the message or DNS says.
    #[pyo3(signature = (message, *, ip = None, helo = None, mail_from = None))]
    fn verify(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        ip: Option<&Bound<'_, PyAny>>,
        helo: Option<String>,
        mail_from: Option<String>,
    ) -> PyResult<PyAuthReport> {
        let req = Self::request(py, message, ip, helo, mail_from, "Verifier.verify()")?;
        let verifier = self.inner.clone();
        let report = block_on(py, verifier.verify_owned(req.message, req.envelope))?;
        report_object(py, report)
    }

    /// :meth:`verify` as an awaitable.
    #[pyo3(signature = (message, *, ip = None, helo = None, mail_from = None))]
    fn verify_async<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
        ip: Option<&Bound<'py, PyAny>>,
        helo: Option<String>,
        mail_from: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = Self::request(py, message, ip, helo, mail_from, "Verifier.verify_async()")?;
        let verifier = self.inner.clone();
        awaitable(py, async move {
            let report = verifier.verify_owned(req.message, req.envelope).await;
            Python::attach(|py| report_object(py, report))
        })
    }

    /// SPF alone (RFC 7208 ``check_host``): may ``ip`` send mail from ``mail_from`` (or,
    /// with an empty ``mail_from``, for the ``helo`` name)? An :class:`SpfResult`.
    #[pyo3(signature = (ip, *, mail_from = None, helo = None))]
    fn check_spf(
        &self,
        py: Python<'_>,
        ip: &Bound<'_, PyAny>,
        mail_from: Option<String>,
        helo: Option<String>,
    ) -> PyResult<PySpfResult> {
        let Some(ip) = ip_of(py, Some(ip))? else {
            return Err(config_error(
                py,
                "check_spf() needs the client's IP address",
            ));
        };
        let verifier = self.inner.clone();
        let check = block_on(py, async move {
            verifier
                .check_spf(ip, helo.as_deref(), mail_from.as_deref())
                .await
        })?;
        Ok(PySpfResult::from(&check))
    }

    /// Parsed DNS records (DKIM keys) in the cache.
    #[getter]
    fn cached_records(&self) -> usize {
        self.inner.cached_records()
    }

    fn __repr__(&self) -> String {
        let o = self.inner.options();
        let ns = if self.nameservers.is_empty() {
            "system".to_owned()
        } else {
            self.nameservers
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "Verifier(nameservers=[{ns}], timeout={}, max_signatures={})",
            o.timeout.as_secs_f64(),
            o.max_signatures
        )
    }
}

/// Adds ARC sets (RFC 8617) for a forwarder or mailing list: ``seal(message, verifier=...,
/// authserv_id=...)`` checks the message as received, then returns it with ARC-Seal,
/// ARC-Message-Signature and ARC-Authentication-Results on top. Sign after your own
/// changes (a list's footer, a Subject tag): the seal covers the message as it leaves.
/// Use an RSA key: ARC verifiers in the wild (dkimpy's among them) know ``rsa-sha256`` only.
#[pyclass(frozen, module = "mailprims.auth", name = "ArcSealer")]
pub struct PyArcSealer {
    sealer: auth::ArcSealer,
}

#[pymethods]
impl PyArcSealer {
    #[new]
    #[pyo3(signature = (domain, selector, key, *, headers = None))]
    fn new(
        py: Python<'_>,
        domain: &str,
        selector: &str,
        key: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let key = key_of(py, key)?;
        let sealer = auth::ArcSealer::new(domain, selector, key, header_names(headers)?)
            .map_err(|e| auth_error(py, e))?;
        Ok(PyArcSealer { sealer })
    }

    /// Verify ``message`` with ``verifier`` (as received from ``ip``...) and return it
    /// sealed: a new ``Message``. Raises :class:`~mailprims.AuthError` when the chain
    /// already failed (RFC 8617 says not to seal it) or could not be checked in time.
    ///
    /// A mailing list that changes messages verifies on arrival, changes, then seals with
    /// the arrival report: ``seal(changed, report=arrival_report, verifier=..., ...)``.
    #[pyo3(signature = (message, *, verifier, authserv_id, ip = None, helo = None, mail_from = None, report = None))]
    #[allow(clippy::too_many_arguments)]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
        verifier: PyRef<'py, PyVerifier>,
        authserv_id: &str,
        ip: Option<&Bound<'py, PyAny>>,
        helo: Option<String>,
        mail_from: Option<String>,
        report: Option<PyRef<'py, PyAuthReport>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_authserv_id(py, authserv_id)?;
        if let Some(report) = report {
            if ip.is_some_and(|i| !i.is_none()) || helo.is_some() || mail_from.is_some() {
                return Err(config_error(
                    py,
                    "seal(): give the envelope (ip, helo, mail_from) or an earlier report, not both",
                ));
            }
            let data = message_bytes(message, "ArcSealer.seal()")?;
            let v = verifier.inner.clone();
            let sealer = self.sealer.clone();
            let id = authserv_id.to_owned();
            let arrival = report.report.clone();
            let sealed = block_on(py, async move {
                let task = tokio::spawn(async move { v.seal(&data, &arrival, &sealer, &id).await });
                match task.await {
                    Ok(r) => r,
                    Err(e) => Err(auth::Error::Sign(format!("internal error: {e}"))),
                }
            })?
            .map_err(|e| auth_error(py, e))?;
            return to_message(py, &sealed);
        }
        let req = PyVerifier::request(py, message, ip, helo, mail_from, "ArcSealer.seal()")?;
        let v = verifier.inner.clone();
        let sealer = self.sealer.clone();
        let id = authserv_id.to_owned();
        let result = block_on(py, async move {
            let task = tokio::spawn(async move {
                v.verify_and_seal(&req.message, &req.envelope, &sealer, &id)
                    .await
            });
            match task.await {
                Ok(r) => r,
                Err(e) => Err(auth::Error::Sign(format!("internal error: {e}"))),
            }
        })?;
        let (_, sealed) = result.map_err(|e| auth_error(py, e))?;
        to_message(py, &sealed)
    }

    /// The sealing domain (``d=`` of the ARC-Seal and ARC-Message-Signature).
    #[getter]
    fn domain(&self) -> &str {
        self.sealer.domain()
    }

    /// The selector of the sealing key (``s=``).
    #[getter]
    fn selector(&self) -> &str {
        self.sealer.selector()
    }

    fn __repr__(&self) -> String {
        format!(
            "ArcSealer(domain={}, selector={})",
            q(self.sealer.domain()),
            q(self.sealer.selector())
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDkimKey>()?;
    m.add_class::<PyDkimSigner>()?;
    m.add_class::<PyVerifier>()?;
    m.add_class::<PyArcSealer>()?;
    m.add_class::<PyAuthReport>()?;
    m.add_class::<PyDkimResult>()?;
    m.add_class::<PySpfResult>()?;
    m.add_class::<PyDmarcResult>()?;
    m.add_class::<PyArcResult>()?;
    m.add_function(wrap_pyfunction!(auth_sign_all, m)?)?;
    Ok(())
}
