//! Bindings for the SMTP client (`crate::smtp`). One core object per Python client wraps a
//! connection `Pool`; the sync and async clients drive the same core, made in either `Mode`
//! (the pattern of `client.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::auth::PyDkimSigner;
use super::buffer::{BytesLike, run};
use super::client::{ClientOptions, Converted, Mode, not_one_of, seconds};
use super::errors::{smtp_error, smtp_reply};
use super::transcript::ClientTranscript;
use super::types;
use crate::smtp::client::{Auth, Mechanism, SessionInfo};
use crate::smtp::mx::{self, DnsConfig, DomainDelivery};
use crate::smtp::{ClientConfig, Error, Outcome, Pool, Prepared, Reply, SendOptions};

fn reply_to_py(py: Python<'_>, reply: Reply) -> PyResult<Bound<'_, PyAny>> {
    smtp_reply(py, &reply)
}

/// `mailprims.SendResult`, built by field name.
fn send_result(py: Python<'_>, o: Outcome) -> PyResult<Bound<'_, PyAny>> {
    let recipients = PyDict::new(py);
    for (addr, reply) in &o.recipients {
        recipients.set_item(addr, smtp_reply(py, reply)?)?;
    }
    types::SEND_RESULT.call_kw(py, |kw| {
        kw.set_item("sender", &o.sender)?;
        kw.set_item("recipients", recipients)?;
        kw.set_item("reply", smtp_reply(py, &o.data_reply)?)?;
        kw.set_item("host", &o.host)
    })
}

/// What the most recent connection learned about its server (`SmtpClient.extensions`,
/// `.greeting`, `.tls_version`...).
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
pub struct SmtpSessionInfo {
    /// The 220 greeting, a `mailprims.SmtpReply`.
    greeting: Py<PyAny>,
    /// EHLO keywords (lower case) to their parameters.
    extensions: Py<PyDict>,
    /// Whether the server took EHLO (false after a HELO fallback).
    esmtp: bool,
    tls_version: Option<String>,
    tls_cipher: Option<String>,
    authenticated: bool,
}

impl SmtpSessionInfo {
    fn new(py: Python<'_>, info: &SessionInfo) -> PyResult<Self> {
        let extensions = PyDict::new(py);
        for (k, v) in info.extensions.iter() {
            extensions.set_item(k.to_ascii_lowercase(), v)?;
        }
        Ok(SmtpSessionInfo {
            greeting: smtp_reply(py, &info.greeting)?.unbind(),
            extensions: extensions.unbind(),
            esmtp: info.esmtp,
            tls_version: info.tls.as_ref().map(|t| t.version.clone()),
            tls_cipher: info.tls.as_ref().map(|t| t.cipher.clone()),
            authenticated: info.authenticated,
        })
    }
}

fn info_to_py(py: Python<'_>, info: SessionInfo) -> PyResult<Bound<'_, PyAny>> {
    Ok(Bound::new(py, SmtpSessionInfo::new(py, &info)?)?.into_any())
}

/// What MX delivery did: `{domain: SendResult or the exception that ended the attempt}`.
fn deliveries_to_py(py: Python<'_>, list: Vec<DomainDelivery>) -> PyResult<Bound<'_, PyAny>> {
    let out = PyDict::new(py);
    for d in list {
        let result = match d.result {
            Ok(o) => send_result(py, o)?,
            Err(e) => smtp_error(py, e).into_value(py).into_bound(py).into_any(),
        };
        out.set_item(d.domain, result)?;
    }
    Ok(out.into_any())
}

/// The SMTP-only options of `mailprims.smtp._SmtpOptions` (beside `ClientOptions`).
#[derive(FromPyObject)]
struct SmtpOptions {
    local_hostname: Option<String>,
    username: Option<String>,
    password: Option<String>,
    oauth2_token: Option<String>,
    auth_mechanism: Option<String>,
    transaction_timeout: Option<f64>,
    pipelining: bool,
    chunking: bool,
    max_connections: usize,
    /// `mailprims.auth.DkimSigner`s: every message is signed by each.
    dkim: Vec<Py<PyDkimSigner>>,
}

impl SmtpOptions {
    fn auth(&mut self) -> PyResult<Auth> {
        Ok(
            match (
                self.username.take(),
                self.password.take(),
                self.oauth2_token.take(),
            ) {
                (None, None, None) => Auth::None,
                (Some(username), None, Some(token)) => Auth::OAuth2 { username, token },
                (Some(username), Some(password), None) => Auth::Password {
                    username,
                    password,
                    mechanism: match &self.auth_mechanism {
                        None => None,
                        Some(m) => Some(Mechanism::parse(m).ok_or_else(|| {
                            not_one_of("auth_mechanism", &["PLAIN", "LOGIN", "XOAUTH2"], m)
                        })?),
                    },
                },
                _ => {
                    return Err(PyValueError::new_err(
                        "give username with either password or oauth2_token",
                    ));
                }
            },
        )
    }
}

/// The core of `SmtpClient` and `AsyncSmtpClient`: a pool of SMTP connections.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct SmtpClientCore {
    pool: Arc<Pool>,
    mode: Mode,
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
    /// `options`: a `mailprims.smtp._SmtpOptions`; `blocking`: the sync client's core.
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyAny>, blocking: bool) -> PyResult<Self> {
        let endpoint = options.extract::<ClientOptions>()?.endpoint()?;
        let mut smtp: SmtpOptions = options.extract()?;
        if smtp.max_connections == 0 {
            return Err(PyValueError::new_err("max_connections must be at least 1"));
        }
        let mut config = ClientConfig::with_endpoint(endpoint);
        config.auth = smtp.auth()?;
        config.local_hostname = smtp.local_hostname.take();
        config.transaction_timeout = seconds(smtp.transaction_timeout, "transaction_timeout")?;
        config.use_pipelining = smtp.pipelining;
        config.use_chunking = smtp.chunking;
        config.dkim = smtp.dkim.iter().map(|s| s.get().core().clone()).collect();
        let pool = Pool::new(config, smtp.max_connections).map_err(|e| smtp_error(py, e))?;
        Ok(SmtpClientCore {
            pool: Arc::new(pool),
            mode: Mode::new(blocking),
        })
    }

    /// Send a message; a `SendResult`.
    #[pyo3(signature = (data, sender=None, recipients=None, dsn_notify=None, dsn_return=None,
        dsn_envelope_id=None, mail_options=vec![], rcpt_options=vec![]))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        sender: Option<String>,
        recipients: Option<Vec<String>>,
        dsn_notify: Option<Vec<String>>,
        dsn_return: Option<String>,
        dsn_envelope_id: Option<String>,
        mail_options: Vec<String>,
        rcpt_options: Vec<String>,
    ) -> PyResult<Py<PyAny>> {
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
        self.mode.run(py, async move {
            pool.send(&msg, &opts)
                .await
                .map(|o| Converted(o, send_result))
        })
    }

    /// Open a connection now (greeting, EHLO, STARTTLS, AUTH); an `SmtpSessionInfo`.
    fn connect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let pool = self.pool.clone();
        self.mode.run(py, async move {
            pool.connect().await.map(|i| Converted(i, info_to_py))
        })
    }

    /// NOOP; the server's `SmtpReply`.
    fn noop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let pool = self.pool.clone();
        self.mode.run(py, async move {
            pool.noop().await.map(|r| Converted(r, reply_to_py))
        })
    }

    /// QUIT idle connections; `final_` also refuses further use.
    #[pyo3(signature = (final_=true))]
    fn close(&self, py: Python<'_>, final_: bool) -> PyResult<Py<PyAny>> {
        let pool = self.pool.clone();
        self.mode.run(py, async move {
            if final_ {
                pool.close().await
            } else {
                pool.disconnect().await
            }
            Ok::<(), Error>(())
        })
    }

    /// What the most recent connection learned (None before the first).
    fn session_info(&self, py: Python<'_>) -> PyResult<Option<SmtpSessionInfo>> {
        self.pool
            .last_info()
            .map(|i| SmtpSessionInfo::new(py, &i))
            .transpose()
    }

    /// The lines recorded with `transcript=True`.
    #[getter]
    fn transcript(&self) -> ClientTranscript {
        ClientTranscript::new(self.pool.config().endpoint.transcript.as_ref())
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

/// MX records of `domain`, most preferred first, as `mailprims.MxRecord`s.
#[pyfunction]
#[pyo3(signature = (domain, nameserver=None, timeout=None))]
fn smtp_resolve_mx<'py>(
    py: Python<'py>,
    domain: String,
    nameserver: Option<(String, u16)>,
    timeout: Option<f64>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let dns = dns_config(nameserver, timeout)?;
    let records = super::runtime::block_on(py, async move { mx::resolve_mx(&domain, &dns).await })?
        .map_err(|e| smtp_error(py, e))?;
    records
        .iter()
        .map(|r| {
            types::MX_RECORD.call_kw(py, |kw| {
                kw.set_item("preference", r.preference)?;
                kw.set_item("exchange", &r.exchange)
            })
        })
        .collect()
}

/// Deliver to the recipients' MX hosts with `client`'s options, in its mode:
/// `{domain: SendResult or exception}`.
#[pyfunction]
#[pyo3(signature = (client, data, sender=None, recipients=None, nameserver=None,
    dns_timeout=None))]
fn smtp_deliver(
    py: Python<'_>,
    client: &SmtpClientCore,
    data: &Bound<'_, PyAny>,
    sender: Option<String>,
    recipients: Option<Vec<String>>,
    nameserver: Option<(String, u16)>,
    dns_timeout: Option<f64>,
) -> PyResult<Py<PyAny>> {
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
    client.mode.run(py, async move {
        mx::deliver(pool.config(), &msg, &opts, &dns)
            .await
            .map(|d| Converted(d, deliveries_to_py))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SmtpClientCore>()?;
    m.add_class::<SmtpSessionInfo>()?;
    m.add_function(wrap_pyfunction!(smtp_resolve_mx, m)?)?;
    m.add_function(wrap_pyfunction!(smtp_deliver, m)?)?;
    Ok(())
}
