//! Small immutable value classes of the message API: `Address`, `ContentType`, `Received`,
//! `Defect`, and the conversion of parsed dates to `datetime`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::buffer::BytesLike;
use super::errors::address_error;
use super::types;
use crate::message::{self, address, received};

// ---------------------------------------------------------------------------------------
// datetime

/// A timezone-aware `datetime` (UTC for `-0000`, whose local zone is unknown).
pub fn to_datetime<'py>(py: Python<'py>, d: &message::Date) -> PyResult<Bound<'py, PyAny>> {
    let tz = if d.offset == 0 {
        types::TIMEZONE.get(py)?.getattr("utc")?
    } else {
        let delta = types::TIMEDELTA.get(py)?.call1((0, d.offset))?;
        types::TIMEZONE.get(py)?.call1((delta,))?
    };
    let kw = PyDict::new(py);
    kw.set_item("tzinfo", tz)?;
    // A leap second (`:60`) has no datetime; the stdlib reads it as :59 too.
    types::DATETIME.get(py)?.call(
        (d.year, d.month, d.day, d.hour, d.minute, d.second.min(59)),
        Some(&kw),
    )
}

fn opt_repr(py: Python<'_>, v: &Option<String>) -> PyResult<String> {
    Ok(match v {
        Some(s) => s.into_pyobject(py)?.repr()?.to_string(),
        None => "None".into(),
    })
}

// ---------------------------------------------------------------------------------------
// Address

/// An e-mail address with its display name (RFC 5322 §3.4).
///
/// ``name`` is the decoded display name (``""`` when there is none), ``email`` the address
/// (``local@domain``) and ``group`` the name of the group it was listed in, if any.
#[pyclass(frozen, eq, hash, module = "mailprims", name = "Address")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyAddress {
    inner: address::Address,
}

impl PyAddress {
    pub fn from_core(inner: address::Address) -> Self {
        PyAddress { inner }
    }

    pub fn core(&self) -> &address::Address {
        &self.inner
    }
}

fn text_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    let data = BytesLike::text_or_bytes(value, what)?;
    Ok(data.as_bytes().to_vec())
}

#[pymethods]
impl PyAddress {
    #[new]
    #[pyo3(
        signature = (name = String::new(), email = String::new(), group = None),
        text_signature = "(name='', email='', group=None)"
    )]
    fn new(name: String, email: String, group: Option<String>) -> Self {
        PyAddress {
            inner: address::Address { name, email, group },
        }
    }

    /// Parse one address, such as ``'"Bob Smith" <bob@example.com>'`` or
    /// ``'bob@example.com (Bob Smith)'``. Raises :class:`AddressError` unless the text holds
    /// exactly one address.
    #[staticmethod]
    fn parse(s: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = s.py();
        let raw = text_arg(s, "Address.parse()")?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut list = address::parse_list(&raw);
        match list.len() {
            1 if !list[0].email.is_empty() => Ok(PyAddress {
                inner: list.remove(0),
            }),
            0 | 1 => Err(address_error(
                py,
                format!("no e-mail address in {text:?}"),
                &text,
            )),
            n => Err(address_error(
                py,
                format!("{n} addresses in {text:?}; use Address.parse_list()"),
                &text,
            )),
        }
    }

    /// Parse an address list (a To or Cc value). Group members keep the group name in
    /// ``group``. Never raises for malformed text: what cannot be read is left out.
    #[staticmethod]
    fn parse_list(s: &Bound<'_, PyAny>) -> PyResult<Vec<Self>> {
        let raw = text_arg(s, "Address.parse_list()")?;
        Ok(address::parse_list(&raw)
            .into_iter()
            .map(|inner| PyAddress { inner })
            .collect())
    }

    /// The display name, decoded (``''`` when there is none).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address itself, ``local@domain``.
    #[getter]
    fn email(&self) -> &str {
        &self.inner.email
    }

    /// The name of the RFC 5322 group the address is listed in, or ``None``.
    #[getter]
    fn group(&self) -> Option<&str> {
        self.inner.group.as_deref()
    }

    /// The part of ``email`` before the last ``@``.
    #[getter]
    fn username(&self) -> &str {
        self.inner
            .email
            .rsplit_once('@')
            .map_or(self.inner.email.as_str(), |(u, _)| u)
    }

    /// The part of ``email`` after the last ``@`` (``""`` without one).
    #[getter]
    fn domain(&self) -> &str {
        self.inner.email.rsplit_once('@').map_or("", |(_, d)| d)
    }

    fn __str__(&self) -> String {
        address::format(&self.inner.name, &self.inner.email)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!(
            "Address(name={}, email={}",
            self.inner.name.as_str().into_pyobject(py)?.repr()?,
            self.inner.email.as_str().into_pyobject(py)?.repr()?
        );
        if self.inner.group.is_some() {
            s += &format!(", group={}", opt_repr(py, &self.inner.group)?);
        }
        s.push(')');
        Ok(s)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.get();
        let args = (
            me.inner.name.clone(),
            me.inner.email.clone(),
            me.inner.group.clone(),
        );
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------
// ContentType

/// A MIME content type (RFC 2045 §5): ``type``, ``subtype`` and ``params`` (names lowercase,
/// RFC 2231 and RFC 2047 decoded).
#[pyclass(frozen, eq, module = "mailprims", name = "ContentType")]
#[derive(Clone, PartialEq, Eq)]
pub struct PyContentType {
    maintype: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl PyContentType {
    pub fn new_core(maintype: String, subtype: String, params: Vec<(String, String)>) -> Self {
        PyContentType {
            maintype,
            subtype,
            params,
        }
    }
}

#[pymethods]
impl PyContentType {
    #[new]
    #[pyo3(signature = (maintype, subtype, params = None))]
    fn new(
        maintype: String,
        subtype: String,
        params: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut p = Vec::new();
        if let Some(d) = params {
            for (k, v) in d.iter() {
                p.push((
                    k.extract::<String>()?.to_ascii_lowercase(),
                    v.extract::<String>()?,
                ));
            }
        }
        Ok(PyContentType {
            maintype: maintype.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params: p,
        })
    }

    /// The main type (``"text"``, ``"multipart"``...).
    #[getter]
    #[pyo3(name = "type")]
    fn maintype(&self) -> &str {
        &self.maintype
    }

    /// The subtype (``"plain"``, ``"mixed"``...).
    #[getter]
    fn subtype(&self) -> &str {
        &self.subtype
    }

    /// ``type/subtype``.
    #[getter]
    fn mime_type(&self) -> String {
        format!("{}/{}", self.maintype, self.subtype)
    }

    /// The parameters, as a new dict.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.params {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// The ``charset`` parameter, lowercase, or ``None``.
    #[getter]
    fn charset(&self) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == "charset")
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    }

    fn __str__(&self) -> String {
        let mut s = self.mime_type();
        for (k, v) in &self.params {
            s.push_str("; ");
            s.push_str(
                &crate::codec::params::encode(k, v, "utf-8")
                    .unwrap_or_else(|_| format!("{k}={v:?}")),
            );
        }
        s
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let t = self.maintype.as_str().into_pyobject(py)?.repr()?;
        let s = self.subtype.as_str().into_pyobject(py)?.repr()?;
        if self.params.is_empty() {
            return Ok(format!("ContentType({t}, {s})"));
        }
        Ok(format!(
            "ContentType({t}, {s}, {})",
            self.params(py)?.repr()?
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.get();
        let args = (me.maintype.clone(), me.subtype.clone(), me.params(py)?);
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------
// Received

/// One hop of a message's trace: a parsed ``Received`` header (RFC 5321 §4.4).
///
/// Every attribute is ``None`` when the hop does not record it. ``date`` is timezone-aware.
#[pyclass(frozen, module = "mailprims", name = "Received")]
pub struct PyReceived {
    fields: [Option<String>; 11],
    date: Option<Py<PyAny>>,
}

const RECEIVED_FIELDS: [&str; 11] = [
    "from_host",
    "from_ip",
    "from_rdns",
    "by_host",
    "via",
    "protocol",
    "id",
    "for_",
    "tls",
    "tls_version",
    "tls_cipher",
];

impl PyReceived {
    pub fn from_core(py: Python<'_>, r: received::Received) -> PyResult<Self> {
        let date = match &r.date {
            Some(d) => Some(to_datetime(py, d)?.unbind()),
            None => None,
        };
        Ok(PyReceived {
            fields: [
                r.from_host,
                r.from_ip,
                r.from_rdns,
                r.by_host,
                r.via,
                r.protocol,
                r.id,
                r.for_,
                r.tls,
                r.tls_version,
                r.tls_cipher,
            ],
            date,
        })
    }
}

// The attribute names mirror the Received grammar (`from`, `by`, `for` clauses).
#[allow(clippy::wrong_self_convention)]
#[pymethods]
impl PyReceived {
    #[new]
    #[pyo3(signature = (from_host=None, from_ip=None, from_rdns=None, by_host=None, via=None, protocol=None, id=None, for_=None, tls=None, tls_version=None, tls_cipher=None, date=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        from_host: Option<String>,
        from_ip: Option<String>,
        from_rdns: Option<String>,
        by_host: Option<String>,
        via: Option<String>,
        protocol: Option<String>,
        id: Option<String>,
        for_: Option<String>,
        tls: Option<String>,
        tls_version: Option<String>,
        tls_cipher: Option<String>,
        date: Option<Py<PyAny>>,
    ) -> Self {
        PyReceived {
            fields: [
                from_host,
                from_ip,
                from_rdns,
                by_host,
                via,
                protocol,
                id,
                for_,
                tls,
                tls_version,
                tls_cipher,
            ],
            date,
        }
    }

    /// The sending host as the ``from`` clause names it (EHLO name or ``[address]``).
    #[getter]
    fn from_host(&self) -> Option<&str> {
        self.fields[0].as_deref()
    }
    /// The sending host's IP address.
    #[getter]
    fn from_ip(&self) -> Option<&str> {
        self.fields[1].as_deref()
    }
    /// The sending host's name as the receiver looked it up.
    #[getter]
    fn from_rdns(&self) -> Option<&str> {
        self.fields[2].as_deref()
    }
    /// The receiving host.
    #[getter]
    fn by_host(&self) -> Option<&str> {
        self.fields[3].as_deref()
    }
    /// The ``via`` clause (the link type, rarely written), or ``None``.
    #[getter]
    fn via(&self) -> Option<&str> {
        self.fields[4].as_deref()
    }
    /// The ``with`` protocol as written (``ESMTP``, ``ESMTPS``, ``LMTP``...).
    #[getter]
    fn protocol(&self) -> Option<&str> {
        self.fields[5].as_deref()
    }
    /// The receiver's id for the message (queue id), without angle brackets.
    #[getter]
    fn id(&self) -> Option<&str> {
        self.fields[6].as_deref()
    }
    /// The recipient the hop was for, without angle brackets.
    #[getter]
    fn for_(&self) -> Option<&str> {
        self.fields[7].as_deref()
    }
    /// The TLS details as the receiver wrote them.
    #[getter]
    fn tls(&self) -> Option<&str> {
        self.fields[8].as_deref()
    }
    /// The TLS version the receiver recorded (``TLSv1.3``...), or ``None``.
    #[getter]
    fn tls_version(&self) -> Option<&str> {
        self.fields[9].as_deref()
    }
    /// The TLS cipher suite the receiver recorded, or ``None``.
    #[getter]
    fn tls_cipher(&self) -> Option<&str> {
        self.fields[10].as_deref()
    }
    /// When the hop received the message (timezone-aware), or ``None``.
    #[getter]
    fn date(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.date.as_ref().map(|d| d.clone_ref(py))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<PyReceived>() else {
            return Ok(false);
        };
        let other = other.get();
        if self.fields != other.fields {
            return Ok(false);
        }
        match (&self.date, &other.date) {
            (None, None) => Ok(true),
            (Some(a), Some(b)) => a.bind(py).eq(b.bind(py)),
            _ => Ok(false),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = Vec::new();
        for (name, v) in RECEIVED_FIELDS.iter().zip(&self.fields) {
            if v.is_some() {
                parts.push(format!("{name}={}", opt_repr(py, v)?));
            }
        }
        if let Some(d) = &self.date {
            parts.push(format!("date={}", d.bind(py).repr()?));
        }
        Ok(format!("Received({})", parts.join(", ")))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.get();
        let mut args: Vec<Bound<'py, PyAny>> = Vec::new();
        for f in &me.fields {
            args.push(f.clone().into_pyobject(py)?.into_any());
        }
        args.push(match &me.date {
            Some(d) => d.bind(py).clone(),
            None => py.None().into_bound(py),
        });
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                PyTuple::new(py, args)?.into_any(),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------
// Defect

/// Something malformed in a message and how it was read anyway: ``kind`` is a stable name
/// (such as ``"close-boundary-not-found"``), ``message`` says what was found and done,
/// ``offset`` is the byte offset in the message where it was found (or ``None``).
#[pyclass(frozen, eq, hash, module = "mailprims", name = "Defect")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDefect {
    kind: String,
    message: String,
    offset: Option<usize>,
}

impl PyDefect {
    pub fn from_core(d: message::Defect) -> Self {
        PyDefect {
            kind: d.kind.as_str().to_owned(),
            message: d.message,
            offset: d.offset,
        }
    }
}

#[pymethods]
impl PyDefect {
    #[new]
    #[pyo3(signature = (kind, message, offset = None))]
    fn new(kind: String, message: String, offset: Option<usize>) -> Self {
        PyDefect {
            kind,
            message,
            offset,
        }
    }

    /// What was wrong, as a short name (``close-boundary-not-found``...).
    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    /// What was wrong and how it was read, in words.
    #[getter]
    fn message(&self) -> &str {
        &self.message
    }

    /// Where in the message, in bytes, when known.
    #[getter]
    fn offset(&self) -> Option<usize> {
        self.offset
    }

    fn __str__(&self) -> String {
        format!("{}: {}", self.kind, self.message)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Defect({}, {}, offset={})",
            self.kind.as_str().into_pyobject(py)?.repr()?,
            self.message.as_str().into_pyobject(py)?.repr()?,
            self.offset.map_or("None".to_string(), |o| o.to_string())
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let me = slf.get();
        let args = (me.kind.clone(), me.message.clone(), me.offset);
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }
}

/// `TypeError` for a value of the wrong type.
pub fn type_error(what: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} expects {expected}, not '{}'",
        got.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    ))
}
