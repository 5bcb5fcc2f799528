//! Bindings for the SMTP client (`crate::smtp`). One core object per Python client wraps a
//! connection `Pool`; the sync client waits for it with `block_on`, the async client gets
//! awaitables from `awaitable`. Same core, two ways to wait.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::buffer::{BytesLike, run};
use super::errors::{smtp_error, smtp_reply};
use super::runtime::{awaitable, block_on};
use crate::net::tls::Trust;
use crate::net::transcript::Transcript;
use crate::smtp::client::{Auth, Mechanism, SessionInfo};
use crate::smtp::mx::{self, DnsConfig, DomainDelivery};
use crate::smtp::{ClientConfig, Error, Outcome, Pool, Prepared, Reply, SendOptions, TlsMode};

fn seconds(value: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PyValueError::new_err(format!(
            "{what} must be a positive number of seconds or None, not {s}"
        ))),
    }
}

fn reply_tuple<'py>(py: Python<'py>, reply: &Reply) -> PyResult<Bound<'py, PyAny>> {
    smtp_reply(py, reply)
}

/// `(sender, [(recipient, SmtpReply)], SmtpReply, host)`, which Python wraps in `SendResult`.
fn outcome_to_py<'py>(py: Python<'py>, o: &Outcome) -> PyResult<Bound<'py, PyAny>> {
    let recipients = PyList::empty(py);
    for (addr, reply) in &o.recipients {
        recipients.append((addr, reply_tuple(py, reply)?))?;
    }
    let t = PyTuple::new(
        py,
        [
            o.sender.clone().into_pyobject(py)?.into_any(),
            recipients.into_any(),
            reply_tuple(py, &o.data_reply)?,
            o.host.clone().into_pyobject(py)?.into_any(),
        ],
    )?;
    Ok(t.into_any())
}

fn info_to_py<'py>(py: Python<'py>, info: &SessionInfo) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("greeting", reply_tuple(py, &info.greeting)?)?;
    let ext = PyDict::new(py);
    for (k, v) in info.extensions.iter() {
        ext.set_item(k.to_ascii_lowercase(), v)?;
    }
    d.set_item("extensions", ext)?;
    d.set_item("esmtp", info.esmtp)?;
    d.set_item(
        "tls",
        info.tls
            .as_ref()
            .map(|t| (t.version.clone(), t.cipher.clone())),
    )?;
    d.set_item("authenticated", info.authenticated)?;
    Ok(d.into_any())
}

/// Results converted to Python on the event loop thread; errors become exceptions there.
type ToPy<T> = for<'py> fn(Python<'py>, &T) -> PyResult<Bound<'py, PyAny>>;
struct Converted<T>(Result<T, Error>, ToPy<T>);

impl<'py, T> IntoPyObject<'py> for Converted<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(v) => (self.1)(py, &v),
            Err(e) => Err(smtp_error(py, e)),
        }
    }
}

fn reply_to_py<'py>(py: Python<'py>, r: &Reply) -> PyResult<Bound<'py, PyAny>> {
    reply_tuple(py, r)
}

fn none_to_py<'py>(py: Python<'py>, _: &()) -> PyResult<Bound<'py, PyAny>> {
    Ok(py.None().into_bound(py))
}

fn deliveries_to_py<'py>(
    py: Python<'py>,
    list: &Vec<DomainDelivery>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for d in list {
        let result = match &d.result {
            Ok(o) => outcome_to_py(py, o)?,
            Err(e) => smtp_error(py, clone_error(e))
                .into_value(py)
                .into_any()
                .into_bound(py),
        };
        out.append((d.domain.clone(), d.recipients.clone(), result))?;
    }
    Ok(out.into_any())
}

/// Errors are not `Clone` (they hold `io::Error`s); rebuild the parts Python sees.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Net(n) => Error::Net(match n {
            crate::net::NetError::Timeout { during, after } => crate::net::NetError::Timeout {
                during,
                after: *after,
            },
            crate::net::NetError::Closed => crate::net::NetError::Closed,
            crate::net::NetError::Tls(m) => crate::net::NetError::Tls(m.clone()),
            crate::net::NetError::Config(m) => crate::net::NetError::Config(m.clone()),
            crate::net::NetError::LineTooLong { limit } => {
                crate::net::NetError::LineTooLong { limit: *limit }
            }
            crate::net::NetError::Connect { target, source } => crate::net::NetError::Connect {
                target: target.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            crate::net::NetError::Listen { target, source } => crate::net::NetError::Listen {
                target: target.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            crate::net::NetError::Io(source) => {
                crate::net::NetError::Io(std::io::Error::new(source.kind(), source.to_string()))
            }
        }),
        Error::Reply { reply, during } => Error::Reply {
            reply: reply.clone(),
            during,
        },
        Error::Protocol(m) => Error::Protocol(m.clone()),
        Error::RecipientsRefused(r) => Error::RecipientsRefused(r.clone()),
        Error::NotSupported(m) => Error::NotSupported(m.clone()),
        Error::InvalidAddress { address, reason } => Error::InvalidAddress {
            address: address.clone(),
            reason: reason.clone(),
        },
        Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
        Error::TooLarge { size, limit } => Error::TooLarge {
            size: *size,
            limit: *limit,
        },
        Error::InsecureAuth => Error::InsecureAuth,
        Error::Dns {
            domain,
            reason,
            permanent,
        } => Error::Dns {
            domain: domain.clone(),
            reason: reason.clone(),
            permanent: *permanent,
        },
        Error::ClientClosed => Error::ClientClosed,
    }
}

#[allow(clippy::too_many_arguments)]
fn build_config(
    host: String,
    port: u16,
    tls: &str,
    cadata: Option<Vec<u8>>,
    verify: bool,
    tls_hostname: Option<String>,
    local_hostname: Option<String>,
    username: Option<String>,
    password: Option<String>,
    oauth2_token: Option<String>,
    auth_mechanism: Option<String>,
    allow_insecure_auth: bool,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    transaction_timeout: Option<f64>,
    pipelining: bool,
    chunking: bool,
    transcript: bool,
) -> PyResult<ClientConfig> {
    let mut config = ClientConfig::new(host, port);
    config.tls = match tls {
        "none" => TlsMode::None,
        "opportunistic" => TlsMode::Opportunistic,
        "starttls" => TlsMode::StartTls,
        "implicit" => TlsMode::Implicit,
        other => {
            return Err(PyValueError::new_err(format!(
                "tls must be 'auto', 'starttls', 'implicit' or 'none', not {other:?}"
            )));
        }
    };
    config.trust = match (verify, cadata) {
        (false, _) => Trust::Insecure,
        (true, Some(pem)) => Trust::CaPem(pem),
        (true, None) => Trust::System,
    };
    config.tls_name = tls_hostname;
    config.local_hostname = local_hostname;
    config.auth = match (username, password, oauth2_token) {
        (None, None, None) => Auth::None,
        (Some(username), None, Some(token)) => Auth::OAuth2 { username, token },
        (Some(username), Some(password), None) => Auth::Password {
            username,
            password,
            mechanism: match auth_mechanism {
                None => None,
                Some(m) => Some(Mechanism::parse(&m).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "auth_mechanism must be 'PLAIN', 'LOGIN' or 'XOAUTH2', not {m:?}"
                    ))
                })?),
            },
        },
        _ => {
            return Err(PyValueError::new_err(
                "give username with either password or oauth2_token",
            ));
        }
    };
    config.allow_insecure_auth = allow_insecure_auth;
    let timeout = seconds(timeout, "timeout")?;
    config.io_timeout = timeout;
    config.connect_timeout = seconds(connect_timeout, "connect_timeout")?.or(timeout);
    config.transaction_timeout = seconds(transaction_timeout, "transaction_timeout")?;
    config.use_pipelining = pipelining;
    config.use_chunking = chunking;
    config.transcript = transcript.then(|| Arc::new(Transcript::new()));
    Ok(config)
}

/// The core of `SmtpClient` and `AsyncSmtpClient`: a pool of SMTP connections.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct SmtpClientCore {
    pool: Arc<Pool>,
}

type SendArgs = (Prepared, SendOptions);

#[allow(clippy::too_many_arguments)]
fn prepare(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    sender: Option<String>,
    recipients: Option<Vec<String>>,
    dsn_notify: Option<Vec<String>>,
    dsn_return: Option<String>,
    dsn_envelope_id: Option<String>,
    mail_options: Vec<String>,
    rcpt_options: Vec<String>,
) -> PyResult<SendArgs> {
    let data = BytesLike::text_or_bytes(data, "send()")?;
    let raw = data.as_bytes();
    let prepared = run(py, raw, |raw| {
        Prepared::new(raw, sender.as_deref(), recipients.as_deref())
    })
    .map_err(|e| smtp_error(py, e))?;
    let opts = SendOptions {
        dsn_notify,
        dsn_return,
        dsn_envelope_id,
        mail_params: mail_options,
        rcpt_params: rcpt_options,
    };
    opts.validate().map_err(|e| smtp_error(py, e))?;
    Ok((prepared, opts))
}

#[pymethods]
impl SmtpClientCore {
    #[new]
    #[pyo3(signature = (host, port, *, tls, cadata=None, verify=true, tls_hostname=None,
        local_hostname=None, username=None, password=None, oauth2_token=None,
        auth_mechanism=None, allow_insecure_auth=false, timeout=None, connect_timeout=None,
        transaction_timeout=None, pipelining=true, chunking=true, max_connections=1,
        transcript=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: String,
        port: u16,
        tls: &str,
        cadata: Option<Vec<u8>>,
        verify: bool,
        tls_hostname: Option<String>,
        local_hostname: Option<String>,
        username: Option<String>,
        password: Option<String>,
        oauth2_token: Option<String>,
        auth_mechanism: Option<String>,
        allow_insecure_auth: bool,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        transaction_timeout: Option<f64>,
        pipelining: bool,
        chunking: bool,
        max_connections: usize,
        transcript: bool,
    ) -> PyResult<Self> {
        if max_connections == 0 {
            return Err(PyValueError::new_err("max_connections must be at least 1"));
        }
        let config = build_config(
            host,
            port,
            tls,
            cadata,
            verify,
            tls_hostname,
            local_hostname,
            username,
            password,
            oauth2_token,
            auth_mechanism,
            allow_insecure_auth,
            timeout,
            connect_timeout,
            transaction_timeout,
            pipelining,
            chunking,
            transcript,
        )?;
        let pool = Pool::new(config, max_connections).map_err(|e| smtp_error(py, e))?;
        Ok(SmtpClientCore {
            pool: Arc::new(pool),
        })
    }

    /// Send a message, waiting with the GIL released.
    #[pyo3(signature = (data, sender=None, recipients=None, dsn_notify=None, dsn_return=None,
        dsn_envelope_id=None, mail_options=vec![], rcpt_options=vec![]))]
    #[allow(clippy::too_many_arguments)]
    fn send_blocking<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        sender: Option<String>,
        recipients: Option<Vec<String>>,
        dsn_notify: Option<Vec<String>>,
        dsn_return: Option<String>,
        dsn_envelope_id: Option<String>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (msg, opts) = prepare(
            py,
            data,
            sender,
            recipients,
            dsn_notify,
            dsn_return,
            dsn_envelope_id,
            mail_options,
            rcpt_options,
        )?;
        let pool = self.pool.clone();
        let result = block_on(py, async move { pool.send(&msg, &opts).await })?;
        match result {
            Ok(o) => outcome_to_py(py, &o),
            Err(e) => Err(smtp_error(py, e)),
        }
    }

    /// Send a message; an awaitable.
    #[pyo3(signature = (data, sender=None, recipients=None, dsn_notify=None, dsn_return=None,
        dsn_envelope_id=None, mail_options=vec![], rcpt_options=vec![]))]
    #[allow(clippy::too_many_arguments)]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        sender: Option<String>,
        recipients: Option<Vec<String>>,
        dsn_notify: Option<Vec<String>>,
        dsn_return: Option<String>,
        dsn_envelope_id: Option<String>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (msg, opts) = prepare(
            py,
            data,
            sender,
            recipients,
            dsn_notify,
            dsn_return,
            dsn_envelope_id,
            mail_options,
            rcpt_options,
        )?;
        let pool = self.pool.clone();
        awaitable(py, async move {
            Ok(Converted(pool.send(&msg, &opts).await, outcome_to_py))
        })
    }

    /// Open a connection now (greeting, EHLO, STARTTLS, AUTH); returns what was learned.
    fn connect_blocking<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        match block_on(py, async move { pool.connect().await })? {
            Ok(info) => info_to_py(py, &info),
            Err(e) => Err(smtp_error(py, e)),
        }
    }

    fn connect_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        awaitable(py, async move {
            Ok(Converted(pool.connect().await, info_to_py))
        })
    }

    fn noop_blocking<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        match block_on(py, async move { pool.noop().await })? {
            Ok(r) => reply_tuple(py, &r),
            Err(e) => Err(smtp_error(py, e)),
        }
    }

    fn noop_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        awaitable(
            py,
            async move { Ok(Converted(pool.noop().await, reply_to_py)) },
        )
    }

    /// QUIT idle connections; `final_` also refuses further use.
    #[pyo3(signature = (final_=true))]
    fn close_blocking(&self, py: Python<'_>, final_: bool) -> PyResult<()> {
        let pool = self.pool.clone();
        block_on(py, async move {
            if final_ {
                pool.close().await
            } else {
                pool.disconnect().await
            }
        })
    }

    #[pyo3(signature = (final_=true))]
    fn close_async<'py>(&self, py: Python<'py>, final_: bool) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.pool.clone();
        awaitable(py, async move {
            if final_ {
                pool.close().await
            } else {
                pool.disconnect().await
            }
            Ok(Converted(Ok(()), none_to_py))
        })
    }

    /// What the most recent connection learned (None before the first).
    fn session_info<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.pool
            .last_info()
            .map(|i| info_to_py(py, &i))
            .transpose()
    }

    /// The lines recorded with `transcript=True`: `[(direction, line)]`.
    fn transcript<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        super::transcript::lines_to_py(py, self.pool.config().transcript.as_deref())
    }

    /// Forget the lines recorded so far.
    fn clear_transcript(&self) {
        if let Some(t) = &self.pool.config().transcript {
            t.clear();
        }
    }

    #[getter]
    fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.pool.is_closed()
    }
}

fn dns_config(nameserver: Option<(String, u16)>, timeout: Option<f64>) -> PyResult<DnsConfig> {
    let nameserver = match nameserver {
        None => None,
        Some((ip, port)) => Some(SocketAddr::new(
            ip.parse().map_err(|_| {
                PyValueError::new_err(format!("nameserver must be an IP address, not {ip:?}"))
            })?,
            port,
        )),
    };
    Ok(DnsConfig {
        nameserver,
        timeout: seconds(timeout, "timeout")?,
    })
}

fn mx_to_py<'py>(py: Python<'py>, records: &Vec<mx::MxRecord>) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for r in records {
        out.append((r.preference, r.exchange.clone()))?;
    }
    Ok(out.into_any())
}

/// MX records of `domain` as `[(preference, exchange)]`, most preferred first.
#[pyfunction]
#[pyo3(signature = (domain, nameserver=None, timeout=None))]
fn smtp_resolve_mx<'py>(
    py: Python<'py>,
    domain: String,
    nameserver: Option<(String, u16)>,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let dns = dns_config(nameserver, timeout)?;
    match block_on(py, async move { mx::resolve_mx(&domain, &dns).await })? {
        Ok(records) => mx_to_py(py, &records),
        Err(e) => Err(smtp_error(py, e)),
    }
}

/// Deliver to the recipients' MX hosts; `[(domain, recipients, result or exception)]`.
#[pyfunction]
#[pyo3(signature = (client, data, sender=None, recipients=None, nameserver=None,
    dns_timeout=None, asynchronous=false))]
#[allow(clippy::too_many_arguments)]
fn smtp_deliver<'py>(
    py: Python<'py>,
    client: &SmtpClientCore,
    data: &Bound<'py, PyAny>,
    sender: Option<String>,
    recipients: Option<Vec<String>>,
    nameserver: Option<(String, u16)>,
    dns_timeout: Option<f64>,
    asynchronous: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let (msg, opts) = prepare(
        py,
        data,
        sender,
        recipients,
        None,
        None,
        None,
        vec![],
        vec![],
    )?;
    let dns = dns_config(nameserver, dns_timeout)?;
    let pool = client.pool.clone();
    let fut = async move { mx::deliver(pool.config(), &msg, &opts, &dns).await };
    if asynchronous {
        awaitable(
            py,
            async move { Ok(Converted(fut.await, deliveries_to_py)) },
        )
    } else {
        match block_on(py, fut)? {
            Ok(list) => deliveries_to_py(py, &list),
            Err(e) => Err(smtp_error(py, e)),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SmtpClientCore>()?;
    m.add_function(wrap_pyfunction!(smtp_resolve_mx, m)?)?;
    m.add_function(wrap_pyfunction!(smtp_deliver, m)?)?;
    Ok(())
}
