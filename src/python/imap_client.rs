//! Bindings for the IMAP client (`crate::imap::client`): one core per connection, made in
//! either `Mode` (the pattern of `client.rs`), the message stream of `fetch_messages`, and the
//! conversion of the core's values into the classes of `mailprims/imap.py` (looked up in
//! `types`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::client::{
    ClientCore, Converted, Mode, SessionView, Shared, client_connection, client_pymethods,
    not_one_of, one_of, seconds, with_conn,
};
use super::message::{message_of_document, parse_owned};
use super::types;
use crate::imap::client::{
    ClientConfig, Connection, FetchMessages, FlagSets, IdleEvent, LoginMethod,
};
use crate::imap::types::{
    Address, AppendUid, BodyKind, BodyStructure, CopyUid, DateTime, Envelope, FetchResult,
    ListEntry, MailboxStatus, Namespace, Namespaces, StatusItems, Value,
};
use crate::imap::{Date, Error, FetchAttribute, SearchKey, SequenceSet, SessionState, StatusItem};
use crate::message::Document;

/// What Python can ask about the connection without waiting for a running operation.
#[pyclass(module = "mailprims._mailprims", frozen, get_all)]
#[derive(Default, Clone)]
pub struct ImapSessionInfo {
    connected: bool,
    /// The greeting's text, None before connecting.
    greeting: Option<String>,
    tls_version: Option<String>,
    tls_cipher: Option<String>,
    /// `"not authenticated"`, `"authenticated"`, `"selected"` or `"logout"`.
    state: String,
    /// The selected mailbox's name.
    selected: Option<String>,
    /// Extensions in force after ENABLE.
    enabled: Vec<String>,
    /// The capabilities known without asking (None after TLS or login until refreshed).
    capabilities: Option<Vec<String>>,
}

impl SessionView for ImapSessionInfo {
    type Connection = Connection;
    type Error = Error;

    fn no_connection(&self) -> Error {
        Error::Closed
    }

    fn of(conn: Option<&Connection>, previous: &ImapSessionInfo) -> ImapSessionInfo {
        let Some(c) = conn else {
            return ImapSessionInfo {
                connected: false,
                state: "logout".into(),
                selected: None,
                ..previous.clone()
            };
        };
        let tls = c.tls_info();
        ImapSessionInfo {
            connected: c.is_open(),
            greeting: Some(c.greeting().text.clone()),
            tls_version: tls.as_ref().map(|t| t.version.clone()),
            tls_cipher: tls.map(|t| t.cipher),
            state: match c.state() {
                SessionState::NotAuthenticated => "not authenticated",
                SessionState::Authenticated => "authenticated",
                SessionState::Selected => "selected",
                SessionState::Logout => "logout",
            }
            .into(),
            selected: c.selected().map(|s| s.name.clone()),
            enabled: c.enabled().to_vec(),
            capabilities: c.cached_capabilities().map(|caps| caps.0.clone()),
        }
    }
}

/// The core of `ImapClient` and `AsyncImapClient`: one IMAP connection.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct ImapClientCore {
    base: ClientCore<ImapSessionInfo>,
}

client_connection!(Connection, ClientConfig, Error);

/// The IMAP client's own options (`mailprims.imap._ImapOptions`).
#[derive(FromPyObject)]
struct ImapOptions {
    fetch_batch: usize,
}

fn usage(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// UIDs as Python gives them: a sequence-set string (`"1:*"`, `"4,7:9"`) or ints.
fn uid_set(obj: &Bound<'_, PyAny>) -> PyResult<SequenceSet> {
    if let Ok(s) = obj.cast::<PyString>() {
        return SequenceSet::parse(s.to_str()?.as_bytes()).map_err(usage);
    }
    let uids: Vec<u32> = obj
        .extract()
        .map_err(|_| PyTypeError::new_err("uids must be a sequence-set str or ints"))?;
    if uids.contains(&0) {
        return Err(PyValueError::new_err("UIDs start at 1"));
    }
    SequenceSet::from_numbers(&uids).map_err(usage)
}

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

fn date(obj: &Bound<'_, PyAny>) -> PyResult<Date> {
    let (y, m, d): (u16, u8, u8) = obj.extract()?;
    Date::new(y, m, d).ok_or_else(|| PyValueError::new_err(format!("invalid date {y}-{m}-{d}")))
}

/// A search key from `mailprims.imap.Search`'s tuples (`("SUBJECT", "x")`, `("NOT", k)`),
/// or criteria written as a string.
fn search_key(obj: &Bound<'_, PyAny>) -> PyResult<SearchKey> {
    use SearchKey as K;
    if let Ok(s) = obj.cast::<PyString>() {
        return SearchKey::raw(s.to_str()?).map_err(usage);
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list
            .iter()
            .map(|k| search_key(&k))
            .collect::<PyResult<_>>()
            .map(K::And);
    }
    let t = obj
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("search criteria must be a str or a Search"))?;
    let name: String = t.get_item(0)?.extract()?;
    let arg = |i: usize| t.get_item(i);
    let text = |i: usize| -> PyResult<String> { arg(i)?.extract() };
    Ok(match name.as_str() {
        "ALL" => K::All,
        "ANSWERED" => K::Answered,
        "DELETED" => K::Deleted,
        "DRAFT" => K::Draft,
        "FLAGGED" => K::Flagged,
        "SEEN" => K::Seen,
        "UNANSWERED" => K::Unanswered,
        "UNDELETED" => K::Undeleted,
        "UNDRAFT" => K::Undraft,
        "UNFLAGGED" => K::Unflagged,
        "UNSEEN" => K::Unseen,
        "NEW" => K::New,
        "OLD" => K::Old,
        "RECENT" => K::Recent,
        "KEYWORD" => K::Keyword(text(1)?),
        "UNKEYWORD" => K::Unkeyword(text(1)?),
        "BCC" => K::Bcc(text(1)?),
        "BODY" => K::Body(text(1)?),
        "CC" => K::Cc(text(1)?),
        "FROM" => K::From(text(1)?),
        "SUBJECT" => K::Subject(text(1)?),
        "TEXT" => K::Text(text(1)?),
        "TO" => K::To(text(1)?),
        "HEADER" => K::Header(text(1)?, text(2)?),
        "BEFORE" => K::Before(date(&arg(1)?)?),
        "ON" => K::On(date(&arg(1)?)?),
        "SINCE" => K::Since(date(&arg(1)?)?),
        "SENTBEFORE" => K::SentBefore(date(&arg(1)?)?),
        "SENTON" => K::SentOn(date(&arg(1)?)?),
        "SENTSINCE" => K::SentSince(date(&arg(1)?)?),
        "LARGER" => K::Larger(arg(1)?.extract()?),
        "SMALLER" => K::Smaller(arg(1)?.extract()?),
        "MODSEQ" => K::ModSeq(arg(1)?.extract()?),
        "UID" => K::Uid(uid_set(&arg(1)?)?),
        "NOT" => !search_key(&arg(1)?)?,
        "OR" => SearchKey::or(search_key(&arg(1)?)?, search_key(&arg(2)?)?),
        "AND" => search_key(&arg(1)?)?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown search key {other:?}"
            )));
        }
    })
}

fn login_method(method: &str) -> PyResult<LoginMethod> {
    one_of(
        "method",
        method,
        &[
            ("auto", LoginMethod::Auto),
            ("login", LoginMethod::Login),
            ("plain", LoginMethod::Plain),
        ],
    )
}

// ---- core values as Python objects -----------------------------------------------------

fn lossy(b: Option<Vec<u8>>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn py_value<'py>(py: Python<'py>, v: Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Nil => py.None().into_bound(py),
        Value::Number(n) => n.into_bound_py_any(py)?,
        Value::String(s) => PyBytes::new(py, &s).into_any(),
        Value::Atom(a) => a.into_bound_py_any(py)?,
        Value::List(items) => {
            let out = PyList::empty(py);
            for i in items {
                out.append(py_value(py, i)?)?;
            }
            out.into_any()
        }
    })
}

fn py_datetime<'py>(py: Python<'py>, dt: DateTime) -> PyResult<Bound<'py, PyAny>> {
    let offset = types::TIMEDELTA.get(py)?.call(
        (),
        Some(&[("minutes", dt.offset_minutes)].into_py_dict(py)?),
    )?;
    let tz = types::TIMEZONE.get(py)?.call1((offset,))?;
    let kw = PyDict::new(py);
    kw.set_item("tzinfo", tz)?;
    types::DATETIME.get(py)?.call(
        (
            dt.year,
            dt.month,
            dt.day,
            dt.hour,
            dt.minute,
            // A leap second has no datetime: the second before it.
            dt.second.min(59),
        ),
        Some(&kw),
    )
}

use pyo3::types::IntoPyDict;

fn py_params<'py>(py: Python<'py>, params: Vec<(String, String)>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in params {
        d.set_item(k.to_ascii_lowercase(), v)?;
    }
    Ok(d)
}

fn py_address<'py>(py: Python<'py>, a: Address) -> PyResult<Bound<'py, PyAny>> {
    types::IMAP_ADDRESS.call_kw(py, |kw| {
        kw.set_item(
            "name",
            a.name
                .as_deref()
                .map(crate::codec::encoded_word::decode_bytes),
        )?;
        kw.set_item("route", lossy(a.adl))?;
        kw.set_item("mailbox", lossy(a.mailbox))?;
        kw.set_item("host", lossy(a.host))
    })
}

fn py_addresses<'py>(py: Python<'py>, list: Vec<Address>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for a in list {
        out.append(py_address(py, a)?)?;
    }
    Ok(out)
}

fn py_envelope<'py>(py: Python<'py>, e: Envelope) -> PyResult<Bound<'py, PyAny>> {
    let subject = e.subject_text();
    types::IMAP_ENVELOPE.call_kw(py, |kw| {
        kw.set_item("date", lossy(e.date))?;
        kw.set_item("subject", subject)?;
        kw.set_item("from_", py_addresses(py, e.from)?)?;
        kw.set_item("sender", py_addresses(py, e.sender)?)?;
        kw.set_item("reply_to", py_addresses(py, e.reply_to)?)?;
        kw.set_item("to", py_addresses(py, e.to)?)?;
        kw.set_item("cc", py_addresses(py, e.cc)?)?;
        kw.set_item("bcc", py_addresses(py, e.bcc)?)?;
        kw.set_item("in_reply_to", lossy(e.in_reply_to))?;
        kw.set_item("message_id", lossy(e.message_id))
    })
}

fn py_body<'py>(py: Python<'py>, b: BodyStructure) -> PyResult<Bound<'py, PyAny>> {
    let parts = PyList::empty(py);
    for p in b.parts {
        parts.append(py_body(py, p)?)?;
    }
    let extension = PyList::empty(py);
    for v in b.extension {
        extension.append(py_value(py, v)?)?;
    }
    types::BODY_STRUCTURE.call_kw(py, |kw| {
        kw.set_item(
            "kind",
            match b.kind {
                BodyKind::Basic => "basic",
                BodyKind::Text => "text",
                BodyKind::Message => "message",
                BodyKind::Multipart => "multipart",
            },
        )?;
        kw.set_item("media_type", b.media_type.to_ascii_lowercase())?;
        kw.set_item("subtype", b.subtype.to_ascii_lowercase())?;
        kw.set_item("params", py_params(py, b.params)?)?;
        kw.set_item("id", b.id)?;
        kw.set_item("description", b.description)?;
        kw.set_item("encoding", b.encoding)?;
        kw.set_item("size", b.size)?;
        kw.set_item("lines", b.lines)?;
        kw.set_item(
            "envelope",
            b.envelope.map(|e| py_envelope(py, *e)).transpose()?,
        )?;
        kw.set_item("body", b.body.map(|inner| py_body(py, *inner)).transpose()?)?;
        kw.set_item("parts", parts)?;
        kw.set_item("md5", b.md5)?;
        match b.disposition {
            Some(d) => {
                kw.set_item("disposition", d.kind.to_ascii_lowercase())?;
                kw.set_item("disposition_params", py_params(py, d.params)?)?;
            }
            None => {
                kw.set_item("disposition", py.None())?;
                kw.set_item("disposition_params", PyDict::new(py))?;
            }
        }
        kw.set_item("language", b.language)?;
        kw.set_item("location", b.location)?;
        kw.set_item("extension", extension)
    })
}

fn py_fetch<'py>(py: Python<'py>, f: FetchResult) -> PyResult<Bound<'py, PyAny>> {
    let sections = PyDict::new(py);
    for s in f.sections {
        let mut key = format!(
            "{}[{}]",
            if s.binary { "BINARY" } else { "BODY" },
            s.section
        );
        if let Some(o) = s.origin {
            key.push_str(&format!("<{o}>"));
        }
        sections.set_item(key, s.data.map(|d| PyBytes::new(py, &d)))?;
    }
    let other = PyDict::new(py);
    for (name, v) in f.other {
        other.set_item(name, py_value(py, v)?)?;
    }
    for (section, size) in f.binary_sizes {
        other.set_item(format!("BINARY.SIZE[{section}]"), size)?;
    }
    types::FETCH_RESULT.call_kw(py, |kw| {
        kw.set_item("uid", f.uid)?;
        kw.set_item("seq", f.seq)?;
        kw.set_item("flags", f.flags)?;
        kw.set_item(
            "internal_date",
            f.internal_date.map(|d| py_datetime(py, d)).transpose()?,
        )?;
        kw.set_item("size", f.size)?;
        kw.set_item(
            "envelope",
            f.envelope.map(|e| py_envelope(py, e)).transpose()?,
        )?;
        kw.set_item(
            "body_structure",
            f.body_structure.map(|b| py_body(py, b)).transpose()?,
        )?;
        kw.set_item("modseq", f.modseq)?;
        kw.set_item("sections", sections)?;
        kw.set_item("other", other)
    })
}

fn py_fetch_map<'py>(py: Python<'py>, list: Vec<FetchResult>) -> PyResult<Bound<'py, PyAny>> {
    let out = PyDict::new(py);
    for f in list {
        let uid = f.uid;
        out.set_item(uid, py_fetch(py, f)?)?;
    }
    Ok(out.into_any())
}

/// `{uid: (flag, ...)}`: one tuple per distinct set of flags, shared by every message that
/// has it (tuples are immutable), and one `str` per distinct flag: a mailbox of 100,000
/// messages costs 100,000 dictionary entries and a handful of tuples.
fn py_flag_sets<'py>(py: Python<'py>, f: FlagSets) -> PyResult<Bound<'py, PyAny>> {
    let mut strings: HashMap<&str, Bound<'py, PyString>> = HashMap::new();
    let mut tuples = Vec::with_capacity(f.sets.len());
    for set in &f.sets {
        let items: Vec<Bound<'py, PyString>> = set
            .iter()
            .map(|flag| {
                strings
                    .entry(flag.as_str())
                    .or_insert_with(|| PyString::new(py, flag))
                    .clone()
            })
            .collect();
        tuples.push(PyTuple::new(py, items)?);
    }
    let out = PyDict::new(py);
    for &(uid, set) in &f.messages {
        out.set_item(uid, &tuples[set as usize])?;
    }
    Ok(out.into_any())
}

fn py_status_items<'py>(py: Python<'py>, s: StatusItems) -> PyResult<Bound<'py, PyAny>> {
    types::STATUS_RESULT.call_kw(py, |kw| {
        set_fields!(kw, s; mailbox, messages, recent, uid_next, uid_validity, unseen, deleted,
            size, highest_modseq)
    })
}

fn py_mailbox_status<'py>(py: Python<'py>, s: MailboxStatus) -> PyResult<Bound<'py, PyAny>> {
    types::MAILBOX_STATUS.call_kw(py, |kw| {
        set_fields!(kw, s; name, read_only, exists, recent, unseen, uid_validity, uid_next, flags,
            permanent_flags, highest_modseq, no_modseq)
    })
}

fn py_list_entries<'py>(py: Python<'py>, list: Vec<ListEntry>) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for e in list {
        let special = e.special_use().map(str::to_owned);
        let selectable = e.is_selectable();
        let status = e.status.map(|s| py_status_items(py, s)).transpose()?;
        out.append(types::IMAP_MAILBOX.call_kw(py, |kw| {
            kw.set_item("name", e.name)?;
            kw.set_item("delimiter", e.delimiter.map(String::from))?;
            kw.set_item("attributes", e.attributes)?;
            kw.set_item("special_use", special)?;
            kw.set_item("selectable", selectable)?;
            kw.set_item("status", status)
        })?)?;
    }
    Ok(out.into_any())
}

fn py_namespaces<'py>(py: Python<'py>, n: Namespaces) -> PyResult<Bound<'py, PyAny>> {
    let list = |spaces: Vec<Namespace>| -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for s in spaces {
            out.append(types::IMAP_NAMESPACE.call_kw(py, |kw| {
                kw.set_item("prefix", s.prefix)?;
                kw.set_item("delimiter", s.delimiter.map(String::from))
            })?)?;
        }
        Ok(out)
    };
    let (personal, other, shared) = (list(n.personal)?, list(n.other_users)?, list(n.shared)?);
    types::IMAP_NAMESPACES.call_kw(py, |kw| {
        kw.set_item("personal", personal)?;
        kw.set_item("other_users", other)?;
        kw.set_item("shared", shared)
    })
}

fn expand(set: &SequenceSet) -> Vec<u32> {
    // A UID set from the server names messages it has: bounded by what a mailbox holds.
    set.expand(0, 16 << 20).unwrap_or_default()
}

fn py_copy<'py>(py: Python<'py>, c: Option<CopyUid>) -> PyResult<Bound<'py, PyAny>> {
    let Some(c) = c else {
        return Ok(py.None().into_bound(py));
    };
    types::COPY_RESULT.call_kw(py, |kw| {
        kw.set_item("uid_validity", c.uid_validity)?;
        kw.set_item("source", expand(&c.source))?;
        kw.set_item("destination", expand(&c.destination))
    })
}

fn py_append<'py>(py: Python<'py>, a: Option<AppendUid>) -> PyResult<Bound<'py, PyAny>> {
    let Some(a) = a else {
        return Ok(py.None().into_bound(py));
    };
    types::APPEND_RESULT.call_kw(py, |kw| {
        kw.set_item("uid_validity", a.uid_validity)?;
        kw.set_item("uids", expand(&a.uids))
    })
}

fn py_event<'py>(py: Python<'py>, e: IdleEvent) -> PyResult<Bound<'py, PyAny>> {
    types::IDLE_EVENT.call_kw(py, |kw| match e {
        IdleEvent::Exists(n) => {
            kw.set_item("kind", "exists")?;
            kw.set_item("number", n)
        }
        IdleEvent::Expunge(n) => {
            kw.set_item("kind", "expunge")?;
            kw.set_item("number", n)
        }
        IdleEvent::Recent(n) => {
            kw.set_item("kind", "recent")?;
            kw.set_item("number", n)
        }
        IdleEvent::Fetch(f) => {
            kw.set_item("kind", "fetch")?;
            kw.set_item("number", f.seq)?;
            kw.set_item("uid", f.uid)?;
            kw.set_item("flags", f.flags)?;
            kw.set_item("modseq", f.modseq)
        }
        IdleEvent::Vanished { earlier, uids } => {
            kw.set_item(
                "kind",
                if earlier {
                    "vanished_earlier"
                } else {
                    "vanished"
                },
            )?;
            kw.set_item("uids", expand(&uids))
        }
        IdleEvent::Flags(f) => {
            kw.set_item("kind", "flags")?;
            kw.set_item("flags", f)
        }
    })
}

fn py_events<'py>(py: Python<'py>, events: Vec<IdleEvent>) -> PyResult<Bound<'py, PyAny>> {
    let out = PyList::empty(py);
    for e in events {
        out.append(py_event(py, e)?)?;
    }
    Ok(out.into_any())
}

fn py_opt_event<'py>(py: Python<'py>, e: Option<IdleEvent>) -> PyResult<Bound<'py, PyAny>> {
    match e {
        Some(e) => py_event(py, e),
        None => Ok(py.None().into_bound(py)),
    }
}

client_pymethods! {
impl ImapClientCore(ImapSessionInfo) {
    /// `options`: a `mailprims.imap._ImapOptions`; `blocking`: the sync client's core.
    #[new]
    fn new(options: &Bound<'_, PyAny>, blocking: bool) -> PyResult<Self> {
        let own: ImapOptions = options.extract()?;
        if own.fetch_batch == 0 {
            return Err(PyValueError::new_err("fetch_batch must be at least 1"));
        }
        let base = ClientCore::new(options, blocking, |config: &mut ClientConfig| {
            config.fetch_batch = own.fetch_batch;
            Ok(())
        })?;
        Ok(ImapClientCore { base })
    }

    /// The capabilities; `refresh` asks the server even when they are known.
    #[pyo3(signature = (refresh=false))]
    fn capabilities(&self, py: Python<'_>, refresh: bool) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| {
            let caps = if refresh {
                c.capability().await
            } else {
                c.capabilities().await
            };
            caps.map(|caps| caps.0)
        })
    }

    fn starttls(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.starttls().await)
    }

    #[pyo3(signature = (user, password, method="auto"))]
    fn login(
        &self,
        py: Python<'_>,
        user: String,
        password: String,
        method: &str,
    ) -> PyResult<Py<PyAny>> {
        let method = login_method(method)?;
        with_conn!(self, py, |c| c.login(&user, &password, method).await)
    }

    /// AUTHENTICATE `mechanism` (`PLAIN` or `XOAUTH2`).
    #[pyo3(signature = (mechanism, user, secret, authzid=None))]
    fn authenticate(
        &self,
        py: Python<'_>,
        mechanism: &str,
        user: String,
        secret: String,
        authzid: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => with_conn!(self, py, |c| c
                .authenticate_plain(&user, &secret, authzid.as_deref())
                .await),
            "XOAUTH2" => with_conn!(self, py, |c| c.authenticate_xoauth2(&user, &secret).await),
            other => Err(not_one_of("mechanism", &["PLAIN", "XOAUTH2"], other)),
        }
    }

    /// ID (RFC 2971): ours (None: NIL), the server's as a list of pairs or None.
    #[pyo3(signature = (fields=None))]
    fn id(
        &self,
        py: Python<'_>,
        fields: Option<Vec<(String, Option<String>)>>,
    ) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| {
            let borrowed: Option<Vec<(&str, Option<&str>)>> = fields
                .as_ref()
                .map(|f| f.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect());
            c.id(borrowed.as_deref()).await
        })
    }

    fn enable(&self, py: Python<'_>, names: Vec<String>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.enable(&strs(&names)).await)
    }

    fn noop(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c
            .noop()
            .await
            .map(|e| Converted(e, py_events)))
    }

    /// ALERT texts the server sent since the last call.
    fn take_alerts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| Ok::<_, Error>(c.take_alerts()))
    }

    fn logout(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.logout().await)
    }

    // ---- mailboxes ----

    /// LIST (with `status`: LIST-STATUS, or a STATUS per mailbox).
    #[pyo3(signature = (reference, pattern, status=false, items=Vec::new()))]
    fn list(
        &self,
        py: Python<'_>,
        reference: String,
        pattern: String,
        status: bool,
        items: Vec<String>,
    ) -> PyResult<Py<PyAny>> {
        let items = status_items(&items)?;
        with_conn!(self, py, |c| {
            let entries = if status {
                c.list_status(&reference, &pattern, &items).await
            } else {
                c.list(&reference, &pattern).await
            };
            entries.map(|e| Converted(e, py_list_entries))
        })
    }

    fn lsub(&self, py: Python<'_>, reference: String, pattern: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c
            .lsub(&reference, &pattern)
            .await
            .map(|e| Converted(e, py_list_entries)))
    }

    fn namespace(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c
            .namespace()
            .await
            .map(|n| Converted(n, py_namespaces)))
    }

    fn create(&self, py: Python<'_>, mailbox: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.create(&mailbox).await)
    }

    fn delete(&self, py: Python<'_>, mailbox: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.delete(&mailbox).await)
    }

    fn rename(&self, py: Python<'_>, old: String, new: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.rename(&old, &new).await)
    }

    fn subscribe(&self, py: Python<'_>, mailbox: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.subscribe(&mailbox).await)
    }

    fn unsubscribe(&self, py: Python<'_>, mailbox: String) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.unsubscribe(&mailbox).await)
    }

    #[pyo3(signature = (mailbox, items=Vec::new()))]
    fn status(&self, py: Python<'_>, mailbox: String, items: Vec<String>) -> PyResult<Py<PyAny>> {
        let items = status_items(&items)?;
        with_conn!(self, py, |c| c
            .status(&mailbox, &items)
            .await
            .map(|s| Converted(s, py_status_items)))
    }

    #[pyo3(signature = (mailbox, readonly=false))]
    fn select(&self, py: Python<'_>, mailbox: String, readonly: bool) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| {
            let status = if readonly {
                c.examine(&mailbox).await
            } else {
                c.select(&mailbox).await
            };
            status.map(|s| Converted(s, py_mailbox_status))
        })
    }

    fn close_mailbox(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.close().await)
    }

    fn unselect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.unselect().await)
    }

    // ---- messages ----

    /// UID SEARCH: the matching UIDs.
    fn search(&self, py: Python<'_>, criteria: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = search_key(criteria)?;
        let keys = match key {
            SearchKey::And(keys) if !keys.is_empty() => keys,
            SearchKey::And(_) => vec![SearchKey::All],
            k => vec![k],
        };
        with_conn!(self, py, |c| c.search(&keys).await)
    }

    /// UID FETCH of `items` (`"FLAGS"`, `"BODY.PEEK[HEADER]<0.100>"`, ...).
    #[pyo3(signature = (uids, items, changed_since=None))]
    fn fetch(
        &self,
        py: Python<'_>,
        uids: &Bound<'_, PyAny>,
        items: Vec<String>,
        changed_since: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        let set = uid_set(uids)?;
        let mut attrs = vec![FetchAttribute::Uid];
        for item in &items {
            match FetchAttribute::macro_items(item) {
                Some(m) => attrs.extend(m),
                None => attrs.push(item.parse::<FetchAttribute>().map_err(usage)?),
            }
        }
        with_conn!(self, py, |c| c
            .fetch(&set, &attrs, changed_since)
            .await
            .map(|r| Converted(r, py_fetch_map)))
    }

    /// UID FETCH (FLAGS) folded in the core: `{uid: (flag, ...)}`.
    fn get_flags(&self, py: Python<'_>, uids: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let set = uid_set(uids)?;
        with_conn!(self, py, |c| c
            .fetch_flags(&set)
            .await
            .map(|r| Converted(r, py_flag_sets)))
    }

    /// Start streaming whole messages; `parse`: as `Message` objects, else as bytes.
    fn fetch_messages(&self, uids: Vec<u32>, parse: bool) -> PyResult<ImapMessageStream> {
        if uids.contains(&0) {
            return Err(PyValueError::new_err("UIDs start at 1"));
        }
        Ok(ImapMessageStream {
            shared: self.base.shared.clone(),
            uids: Mutex::new(Some(uids)),
            stream: Arc::new(tokio::sync::Mutex::new(None)),
            parse,
            mode: self.base.mode,
        })
    }

    #[pyo3(signature = (uids, operation, flags, silent=true, unchanged_since=None))]
    fn store(
        &self,
        py: Python<'_>,
        uids: &Bound<'_, PyAny>,
        operation: &str,
        flags: Vec<String>,
        silent: bool,
        unchanged_since: Option<u64>,
    ) -> PyResult<Py<PyAny>> {
        use crate::imap::StoreOperation as Op;
        let set = uid_set(uids)?;
        let op = one_of("operation", operation, &[
            ("set", Op::Set),
            ("add", Op::Add),
            ("remove", Op::Remove),
        ])?;
        with_conn!(self, py, |c| c
            .store(&set, op, &strs(&flags), silent, unchanged_since)
            .await
            .map(|r| Converted(r, py_store)))
    }

    fn copy(
        &self,
        py: Python<'_>,
        uids: &Bound<'_, PyAny>,
        mailbox: String,
    ) -> PyResult<Py<PyAny>> {
        let set = uid_set(uids)?;
        with_conn!(self, py, |c| c
            .copy(&set, &mailbox)
            .await
            .map(|r| Converted(r, py_copy)))
    }

    #[pyo3(name = "move")]
    fn move_(
        &self,
        py: Python<'_>,
        uids: &Bound<'_, PyAny>,
        mailbox: String,
    ) -> PyResult<Py<PyAny>> {
        let set = uid_set(uids)?;
        with_conn!(self, py, |c| c
            .move_messages(&set, &mailbox)
            .await
            .map(|r| Converted(r, py_copy)))
    }

    /// APPEND; `date`: `(unix timestamp, minutes east of UTC)`.
    #[pyo3(signature = (mailbox, message, flags=Vec::new(), date=None))]
    fn append(
        &self,
        py: Python<'_>,
        mailbox: String,
        message: Vec<u8>,
        flags: Vec<String>,
        date: Option<(i64, i16)>,
    ) -> PyResult<Py<PyAny>> {
        let date = date
            .map(|(ts, off)| {
                DateTime::from_timestamp(ts, off)
                    .ok_or_else(|| PyValueError::new_err("date out of range"))
            })
            .transpose()?;
        with_conn!(self, py, |c| c
            .append(&mailbox, &message, &strs(&flags), date.as_ref())
            .await
            .map(|r| Converted(r, py_append)))
    }

    fn expunge(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.expunge().await)
    }

    fn uid_expunge(&self, py: Python<'_>, uids: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let set = uid_set(uids)?;
        with_conn!(self, py, |c| c.uid_expunge(&set).await)
    }

    // ---- IDLE ----

    fn idle_start(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c.idle_start().await)
    }

    /// The next event, or None after `timeout` seconds (None: wait as long as it takes).
    #[pyo3(signature = (timeout=None))]
    fn idle_wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout: Option<Duration> = seconds(timeout, "timeout")?;
        let shared = self.base.shared.clone();
        // In place, not taken out of the slot: waiting is cancel-safe, so a cancelled wait
        // (Ctrl-C, asyncio) leaves the session in IDLE, and the caller's DONE ends it.
        self.base.mode.run(py, async move {
            let mut slot = shared.conn.lock().await;
            let c = slot.as_mut().ok_or(Error::Closed)?;
            let result = c.idle_wait(timeout).await;
            shared.set_info(Some(c));
            if !c.is_open() {
                slot.take();
            }
            result.map(|e| Converted(e, py_opt_event))
        })
    }

    /// DONE: the events not yet taken. Nothing to do when IDLE is not running.
    fn idle_done(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        with_conn!(self, py, |c| c
            .idle_done()
            .await
            .map(|e| Converted(e, py_events)))
    }
}
}

fn status_items(items: &[String]) -> PyResult<Vec<StatusItem>> {
    items
        .iter()
        .map(|i| i.parse::<StatusItem>().map_err(usage))
        .collect()
}

fn py_store<'py>(py: Python<'py>, r: crate::imap::StoreResult) -> PyResult<Bound<'py, PyAny>> {
    let flags = PyDict::new(py);
    for f in r.updated {
        if let (Some(uid), Some(fl)) = (f.uid, f.flags) {
            flags.set_item(uid, fl)?;
        }
    }
    let modified = r.modified.map(|m| expand(&m));
    types::STORE_RESULT.call_kw(py, |kw| {
        kw.set_item("flags", flags)?;
        kw.set_item("modified", modified)
    })
}

/// Messages of `fetch_messages`, a batch at a time.
#[pyclass(module = "mailprims._mailprims", frozen)]
pub struct ImapMessageStream {
    shared: Arc<Shared<ImapSessionInfo>>,
    /// The UIDs until the first batch starts the stream.
    uids: Mutex<Option<Vec<u32>>>,
    stream: Arc<tokio::sync::Mutex<Option<FetchMessages>>>,
    parse: bool,
    mode: Mode,
}

/// A batch handed to Python: raw octets, or documents parsed off the GIL.
enum Batch {
    Bytes(Vec<(u32, Vec<u8>)>),
    Parsed(Vec<(u32, Arc<Document>)>),
}

impl<'py> IntoPyObject<'py> for Batch {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let out = PyList::empty(py);
        match self {
            Batch::Bytes(items) => {
                for (uid, data) in items {
                    out.append((uid, PyBytes::new(py, &data)))?;
                }
            }
            Batch::Parsed(items) => {
                for (uid, doc) in items {
                    out.append((uid, message_of_document(py, doc)?))?;
                }
            }
        }
        Ok(out.into_any())
    }
}

/// Octets a batch holds at most (beyond its first message): memory stays bounded whatever
/// the batch size asked for.
const BATCH_OCTETS: usize = 8 << 20;

#[pymethods]
impl ImapMessageStream {
    /// Up to `count` `(uid, message)` pairs; an empty list at the end.
    fn next_batch(&self, py: Python<'_>, count: usize) -> PyResult<Py<PyAny>> {
        let uids = self.uids.lock().ok().and_then(|mut u| u.take());
        let (shared, stream, parse) = (self.shared.clone(), self.stream.clone(), self.parse);
        let count = count.max(1);
        self.mode.run(py, async move {
            let mut state = stream.lock().await;
            let mut slot = shared.conn.lock().await;
            let mut conn = slot.take().ok_or(Error::Closed)?;
            let result = async {
                if let Some(uids) = uids {
                    *state = Some(conn.fetch_messages(&uids).await?);
                }
                let mut bytes = Vec::new();
                let mut parsed = Vec::new();
                let mut octets = 0;
                if let Some(s) = state.as_mut() {
                    while bytes.len() + parsed.len() < count && octets < BATCH_OCTETS {
                        let Some((uid, data)) = s.next(&mut conn).await? else {
                            break;
                        };
                        octets += data.len();
                        if parse {
                            parsed.push((uid, parse_owned(data)));
                        } else {
                            bytes.push((uid, data));
                        }
                    }
                }
                Ok::<_, Error>(if parse {
                    Batch::Parsed(parsed)
                } else {
                    Batch::Bytes(bytes)
                })
            }
            .await;
            shared.set_info(Some(&conn));
            if conn.is_open() {
                *slot = Some(conn);
            }
            result
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ImapClientCore>()?;
    m.add_class::<ImapSessionInfo>()?;
    m.add_class::<ImapMessageStream>()?;
    Ok(())
}
