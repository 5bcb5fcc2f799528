//! `Message`, `Part` and `parse_many`: the lazy Python face of `crate::message`.
//!
//! A `Message` holds the parsed `Document` (which owns the input `bytes` without copying it)
//! and converts each field to a Python object the first time it is read, caching it. Parts
//! share the document through an `Arc`, so no Python object refers back to another and
//! nothing needs the cycle collector.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::PyClass;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::buffer::{BytesLike, DETACH_THRESHOLD, new_bytes};
use super::fields::{Helper, call_python};
use super::headers::PyHeaders;
use super::types;
use super::values::{PyAddress, PyContentType, PyDefect, PyReceived, to_datetime, type_error};
use crate::message::{Body, Document, MessageId, PartId, Source};

/// A Python `bytes` object lent to a `Document`: bytes are immutable, so the document can
/// read them in place for as long as it holds a reference.
struct PyBytesSource {
    owner: Py<PyBytes>,
    ptr: *const u8,
    len: usize,
    /// The caller passed this very object, so `bytes(msg)` may return it.
    is_input: bool,
}

// SAFETY: the pointer is into an immutable `bytes` object kept alive by `owner`; it is only
// read. Dropping `Py` without the GIL defers the decref to pyo3's reference pool.
unsafe impl Send for PyBytesSource {}
unsafe impl Sync for PyBytesSource {}

impl Source for PyBytesSource {
    fn bytes(&self) -> &[u8] {
        // SAFETY: see above; `len` bytes at `ptr` stay valid and unchanged while `owner`
        // lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A parse input, taken from a Python argument with the GIL held and turned into a
/// document's source wherever the parse runs (a `parse_many` worker, say).
enum Input {
    /// A `bytes` object, read in place; the address is kept as an integer so the input can
    /// cross threads.
    Bytes {
        owner: Py<PyBytes>,
        addr: usize,
        len: usize,
        is_input: bool,
    },
    /// A copy (of a `bytearray`, `memoryview`, or of text encoded to UTF-8).
    Owned(Vec<u8>),
}

impl Input {
    fn len(&self) -> usize {
        match self {
            Input::Bytes { len, .. } => *len,
            Input::Owned(v) => v.len(),
        }
    }

    fn into_source(self) -> Box<dyn Source> {
        match self {
            Input::Bytes {
                owner,
                addr,
                len,
                is_input,
            } => Box::new(PyBytesSource {
                owner,
                ptr: addr as *const u8,
                len,
                is_input,
            }),
            Input::Owned(v) => Box::new(v),
        }
    }
}

fn bytes_input(b: &Bound<'_, PyBytes>, is_input: bool) -> Input {
    let data = b.as_bytes();
    Input::Bytes {
        owner: b.clone().unbind(),
        addr: data.as_ptr() as usize,
        len: data.len(),
        is_input,
    }
}

fn input_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Input> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(bytes_input(b, true));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        // Text becomes UTF-8 (RFC 6532); lone surrogates from a surrogateescape decode go
        // back to the bytes they came from.
        let encoded = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
        return Ok(bytes_input(encoded.cast::<PyBytes>()?, false));
    }
    // bytearray, memoryview and other buffers can change under us: copy them.
    let data = BytesLike::text_or_bytes(obj, what)?;
    Ok(Input::Owned(data.as_bytes().to_vec()))
}

fn parse_input(py: Python<'_>, input: Input) -> PyResult<Bound<'_, PyMessage>> {
    let doc = if input.len() >= DETACH_THRESHOLD {
        py.detach(|| Document::parse(input.into_source()))
    } else {
        Document::parse(input.into_source())
    };
    untracked(py, PyMessage::new(Arc::new(doc), 0))
}

/// A message from bytes made here (built or edited): they become a `bytes` object, parsed
/// in place, that `bytes(msg)` returns without another copy.
pub(super) fn message_from_vec(py: Python<'_>, data: Vec<u8>) -> PyResult<Bound<'_, PyMessage>> {
    let b = super::buffer::bytes_from(py, &data)?;
    drop(data);
    message_from_bytes(py, &b)
}

/// A new `Message` object that the cycle collector does not track: every `Message` is made
/// here. pyo3 makes every class GC-tracked, but a `Message` cannot be part of a reference cycle: it is frozen, has no
/// `__dict__`, and its cache holds only objects made from its document, none of which
/// refers back to it. Tracked, the messages of a large `parse_many` result were walked by
/// every collection (a tenth of the time, all of it under the GIL).
fn untracked<'py>(py: Python<'py>, m: PyMessage) -> PyResult<Bound<'py, PyMessage>> {
    let obj = Bound::new(py, m)?;
    // SAFETY: `obj` is a live object of a GC type; untracking is allowed at any time, and
    // the deallocator's own untrack is a no-op for an untracked object.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

/// Parse octets the caller owns, without copying them (off the GIL: a client's reader calls
/// this on its own thread); [`message_of_document`] makes the Python object.
pub(super) fn parse_owned(data: Vec<u8>) -> Arc<Document> {
    Arc::new(Document::parse(Input::Owned(data).into_source()))
}

/// The `Message` of a document [`parse_owned`] made.
pub(super) fn message_of_document(
    py: Python<'_>,
    doc: Arc<Document>,
) -> PyResult<Bound<'_, PyMessage>> {
    untracked(py, PyMessage::new(doc, 0))
}

/// A message parsed in place from a `bytes` object made here.
pub(super) fn message_from_bytes<'py>(
    py: Python<'py>,
    b: &Bound<'py, PyBytes>,
) -> PyResult<Bound<'py, PyMessage>> {
    parse_input(py, bytes_input(b, true))
}

/// An e-mail message (RFC 5322, MIME), parsed lazily.
///
/// ``Message.parse(data)`` never raises for malformed mail: it reads what it can and lists
/// what it repaired in ``defects``. Fields are decoded the first time they are read and then
/// cached; ``bytes(msg)`` is the input, byte for byte. Messages compare equal when their
/// bytes are equal, hash, and pickle.
#[pyclass(frozen, module = "mailprims", name = "Message")]
pub struct PyMessage {
    doc: Arc<Document>,
    id: MessageId,
    /// Converted fields, allocated on first access so that creating a message (thousands
    /// of them in `parse_many`) stays cheap.
    cache: PyOnceLock<Box<MessageCache>>,
}

struct MessageCache {
    subject: PyOnceLock<Option<Py<PyString>>>,
    addresses: [PyOnceLock<Py<PyTuple>>; 6],
    date: PyOnceLock<Py<PyAny>>,
    message_id: PyOnceLock<Option<String>>,
    in_reply_to: PyOnceLock<Vec<String>>,
    references: PyOnceLock<Vec<String>>,
    content_type: PyOnceLock<Py<PyContentType>>,
    headers: PyOnceLock<Py<PyHeaders>>,
    received: PyOnceLock<Py<PyTuple>>,
    parts: PyOnceLock<Py<PyTuple>>,
    structure: PyOnceLock<crate::message::BodyStructure>,
    text: PyOnceLock<Option<Py<PyString>>>,
    html: PyOnceLock<Option<Py<PyString>>>,
    defects: PyOnceLock<Py<PyTuple>>,
}

impl MessageCache {
    fn new() -> Self {
        MessageCache {
            subject: PyOnceLock::new(),
            addresses: std::array::from_fn(|_| PyOnceLock::new()),
            date: PyOnceLock::new(),
            message_id: PyOnceLock::new(),
            in_reply_to: PyOnceLock::new(),
            references: PyOnceLock::new(),
            content_type: PyOnceLock::new(),
            headers: PyOnceLock::new(),
            received: PyOnceLock::new(),
            parts: PyOnceLock::new(),
            structure: PyOnceLock::new(),
            text: PyOnceLock::new(),
            html: PyOnceLock::new(),
            defects: PyOnceLock::new(),
        }
    }
}

const ADDRESS_FIELDS: [&str; 6] = ["From", "Sender", "To", "Cc", "Bcc", "Reply-To"];

impl PyMessage {
    fn new(doc: Arc<Document>, id: MessageId) -> Self {
        PyMessage {
            doc,
            id,
            cache: PyOnceLock::new(),
        }
    }

    fn c(&self, py: Python<'_>) -> &MessageCache {
        self.cache.get_or_init(py, || Box::new(MessageCache::new()))
    }

    /// The document the message is in, and which message of it this is.
    pub(super) fn document(&self) -> (&Arc<Document>, MessageId) {
        (&self.doc, self.id)
    }

    pub(super) fn view(&self) -> crate::message::MessageView<'_> {
        // ok: `id` always names a message of `doc` (it came from the same tree).
        self.doc.message(self.id).unwrap_or_else(|| self.doc.root())
    }

    fn addresses_at<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        list_of(tuple_once(py, &self.c(py).addresses[i], || {
            let list = self.view().addresses(ADDRESS_FIELDS[i]);
            list.into_iter().map(|a| Ok(PyAddress::from_core(a)))
        })?)
    }

    /// Every part of the message in walk order, created once.
    fn part_objects<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyTuple>> {
        tuple_once(py, &self.c(py).parts, || {
            self.view()
                .walk()
                .map(|id| Ok(PyPart::new(self.doc.clone(), id)))
        })
    }

    fn part_object<'py>(&self, py: Python<'py>, id: PartId) -> PyResult<Bound<'py, PyAny>> {
        let root = self.view().root().id;
        self.part_objects(py)?.get_item((id - root) as usize)
    }

    /// The parts `ids` as a new list of the message's `Part` objects.
    fn part_list<'py>(&self, py: Python<'py>, ids: &[PartId]) -> PyResult<Bound<'py, PyAny>> {
        let objs: Vec<Bound<'py, PyAny>> = ids
            .iter()
            .map(|&id| self.part_object(py, id))
            .collect::<PyResult<_>>()?;
        Ok(PyList::new(py, objs)?.into_any())
    }

    fn structure(&self, py: Python<'_>) -> &crate::message::BodyStructure {
        self.c(py)
            .structure
            .get_or_init(py, || self.view().body_structure())
    }

    /// The `text` or the `html` body, converted once.
    fn body(&self, py: Python<'_>, html: bool) -> Option<Py<PyString>> {
        let c = self.c(py);
        let (cell, subtype) = if html {
            (&c.html, "html")
        } else {
            (&c.text, "plain")
        };
        cell.get_or_init(py, || {
            let s = self.structure(py);
            self.body_text(py, if html { &s.html } else { &s.text }, subtype)
        })
        .as_ref()
        .map(|s| s.clone_ref(py))
    }

    /// The text of the body parts of one type, joined, or None.
    fn body_text(&self, py: Python<'_>, ids: &[PartId], subtype: &str) -> Option<Py<PyString>> {
        let texts: Vec<String> = ids
            .iter()
            .filter_map(|&id| {
                let part = self.doc.part(id)?;
                (part.mime_type_pair() == ("text".to_string(), subtype.to_string()))
                    .then(|| part.text())
                    .flatten()
            })
            .collect();
        if texts.is_empty() {
            return None;
        }
        // Inline parts read one after another; each starts on a line of its own.
        let mut joined = String::new();
        for t in texts {
            if !joined.is_empty() && !joined.ends_with('\n') {
                joined.push('\n');
            }
            joined.push_str(&t);
        }
        Some(PyString::new(py, &joined).unbind())
    }

    pub(super) fn bytes_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        if self.id == 0
            && let Some(src) =
                (self.doc.source() as &dyn std::any::Any).downcast_ref::<PyBytesSource>()
            && src.is_input
        {
            return Ok(src.owner.bind(py).clone());
        }
        super::buffer::bytes_from(py, self.view().bytes())
    }
}

/// `Message.parse(path)`: a `TypeError` that names `parse_file`, for an `os.PathLike` or a
/// short one-line `str` naming an existing file (a stat only for such strings).
fn check_not_a_path(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
    let is_path = if let Ok(s) = data.cast::<PyString>() {
        match s.to_str() {
            Ok(t) if !t.is_empty() && t.len() <= 4096 && !t.contains(['\n', '\r', '\0']) => {
                std::path::Path::new(t).is_file()
            }
            _ => false,
        }
    } else {
        !data.is_instance_of::<PyBytes>() && data.is_instance(types::OS_PATHLIKE.get(py)?)?
    };
    if is_path {
        return Err(PyTypeError::new_err(format!(
            "Message.parse() takes the message itself (bytes or str), and {} is a file name: \
             read it with Message.parse_file({})",
            data.repr()?,
            data.repr()?
        )));
    }
    Ok(())
}

/// The file `path` (a `str` or path-like object) names, and its bytes, read with the GIL
/// released; `what` is the function named in the `TypeError`. A read error is an `OSError`
/// with the errno and the path.
pub(super) fn read_path(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<(PathBuf, Vec<u8>)> {
    let fspath = types::OS_FSPATH.get(py)?.call1((path,))?;
    let p: PathBuf = fspath
        .extract()
        .map_err(|_| type_error(what, "a str or path-like object", path))?;
    let data = py.detach(|| std::fs::read(&p)).map_err(|e| {
        let code = e.raw_os_error().unwrap_or(0);
        pyo3::exceptions::PyOSError::new_err((code, e.to_string(), fspath.clone().unbind()))
    })?;
    Ok((p, data))
}

/// A new list from a cached tuple (so callers cannot change the cache).
fn list_of<'py>(t: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyList::new(t.py(), t.iter())?.into_any())
}

/// The tuple in `cell`, made on first use from `items` (each as a new Python object): the
/// cache behind the list getters, which hand out copies with `list_of`.
fn tuple_once<'a, 'py, T, I>(
    py: Python<'py>,
    cell: &'a PyOnceLock<Py<PyTuple>>,
    items: impl FnOnce() -> I,
) -> PyResult<&'a Bound<'py, PyTuple>>
where
    T: PyClass + Into<PyClassInitializer<T>>,
    I: IntoIterator<Item = PyResult<T>>,
{
    let t = cell.get_or_try_init(py, || -> PyResult<_> {
        let objs: Vec<Py<T>> = items()
            .into_iter()
            .map(|item| Py::new(py, item?))
            .collect::<PyResult<_>>()?;
        Ok(PyTuple::new(py, objs)?.unbind())
    })?;
    Ok(t.bind(py))
}

#[pymethods]
impl PyMessage {
    /// Parse a message from ``bytes``, ``bytearray``, ``memoryview`` or ``str``.
    ///
    /// ``bytes`` are read in place, without a copy. Never raises for malformed mail (see
    /// ``defects``); raises ``TypeError`` for other argument types.
    ///
    /// A path (``os.PathLike``, or a one-line ``str`` naming an existing file) raises
    /// ``TypeError`` pointing to :meth:`parse_file`: ``Message.parse`` reads content, not
    /// file names (``email.message_from_string`` would silently make a body of the name).
    #[staticmethod]
    fn parse<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        check_not_a_path(py, data)?;
        parse_input(py, input_of(data, "Message.parse()")?)
    }

    /// Read and parse a message file (``str`` or path-like).
    #[staticmethod]
    fn parse_file<'py>(py: Python<'py>, path: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let (_, data) = read_path(py, path, "Message.parse_file()")?;
        parse_input(py, Input::Owned(data))
    }

    /// A message from a stdlib ``email.message.Message`` (through its bytes).
    #[staticmethod]
    fn from_email_message<'py>(
        py: Python<'py>,
        m: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        if !m.is_instance(types::EMAIL_MESSAGE_CLASS.get(py)?)? {
            return Err(type_error(
                "Message.from_email_message()",
                "an email.message.Message",
                m,
            ));
        }
        let data = m.call_method0("as_bytes")?;
        parse_input(py, input_of(&data, "Message.from_email_message()")?)
    }

    /// Build a message (RFC 5322, MIME) and return it parsed.
    ///
    /// Addresses are ``str`` (one, or a comma-separated list), :class:`Address` objects, or
    /// lists of them; invalid ones raise :class:`AddressError`. ``text`` and ``html`` are
    /// the bodies (both: multipart/alternative); ``attachments`` holds ``(filename, data)``
    /// pairs, paths, :class:`Attachment` or :class:`Message` objects; ``headers`` maps
    /// more field names (``X-...``, ``Date``, ``Message-ID``...) to values. Date and
    /// Message-ID are generated when not given. CR, LF or NUL in any value raise
    /// ``ValueError``. The output is 7-bit unless ``utf8`` (RFC 6532 header text, for
    /// SMTPUTF8) or ``eight_bit`` (8bit text bodies, for 8BITMIME) is set.
    #[staticmethod]
    #[pyo3(
        signature = (*, from_, to = None, cc = None, bcc = None, reply_to = None, subject = None,
                     text = None, html = None, attachments = None, headers = None, utf8 = false,
                     eight_bit = false),
        text_signature = "(*, from_, to=(), cc=(), bcc=(), reply_to=None, subject=None, text=None, html=None, attachments=(), headers=None, utf8=False, eight_bit=False)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn build<'py>(
        py: Python<'py>,
        from_: &Bound<'_, PyAny>,
        to: Option<&Bound<'_, PyAny>>,
        cc: Option<&Bound<'_, PyAny>>,
        bcc: Option<&Bound<'_, PyAny>>,
        reply_to: Option<&Bound<'_, PyAny>>,
        subject: Option<&Bound<'_, PyAny>>,
        text: Option<String>,
        html: Option<String>,
        attachments: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        utf8: bool,
        eight_bit: bool,
    ) -> PyResult<Bound<'py, PyMessage>> {
        super::build::build_message(
            py,
            super::build::BuildArgs {
                from_: Some(from_),
                to,
                cc,
                bcc,
                reply_to,
                sender: None,
                subject,
                date: None,
                message_id: None,
                in_reply_to: None,
                references: None,
                text,
                html,
                attachments,
                headers,
                options: crate::message::build::Options {
                    utf8,
                    eight_bit,
                    force_base64: false,
                },
            },
        )
    }

    /// A reply to this message (RFC 5322 §3.6.3, §3.6.4).
    ///
    /// To is the Reply-To address, or else From; with ``reply_all`` the original To and Cc
    /// recipients are added (without ``from_`` and without duplicates). The subject gets
    /// one ``Re:`` (reply prefixes are not stacked); In-Reply-To is this message's
    /// Message-ID and References its References (or In-Reply-To) plus its Message-ID.
    /// ``from_`` defaults to this message's first recipient; ``quote`` appends this
    /// message's text, quoted with ``>``, below ``text``.
    #[pyo3(signature = (text = None, *, html = None, from_ = None, reply_all = false, quote = false,
                        attachments = None, headers = None, utf8 = false, eight_bit = false))]
    #[allow(clippy::too_many_arguments)]
    fn reply<'py>(
        &self,
        py: Python<'py>,
        text: Option<String>,
        html: Option<String>,
        from_: Option<&Bound<'_, PyAny>>,
        reply_all: bool,
        quote: bool,
        attachments: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        utf8: bool,
        eight_bit: bool,
    ) -> PyResult<Bound<'py, PyMessage>> {
        super::build::reply(
            py,
            self,
            text,
            html,
            from_,
            reply_all,
            quote,
            attachments,
            headers,
            crate::message::build::Options {
                utf8,
                eight_bit,
                force_base64: false,
            },
        )
    }

    /// This message forwarded: a new message with ``Fwd:`` subject whose first attachment is
    /// this message as ``message/rfc822``, its bytes unchanged (RFC 2046 §5.2.1; a message
    /// with bare LF line endings gets CRLF). ``from_`` defaults to this message's first
    /// recipient.
    #[pyo3(signature = (to = None, *, from_ = None, cc = None, bcc = None, text = None, html = None,
                        subject = None, attachments = None, headers = None, utf8 = false,
                        eight_bit = false))]
    #[allow(clippy::too_many_arguments)]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        to: Option<&Bound<'_, PyAny>>,
        from_: Option<&Bound<'_, PyAny>>,
        cc: Option<&Bound<'_, PyAny>>,
        bcc: Option<&Bound<'_, PyAny>>,
        text: Option<String>,
        html: Option<String>,
        subject: Option<String>,
        attachments: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        utf8: bool,
        eight_bit: bool,
    ) -> PyResult<Bound<'py, PyMessage>> {
        super::build::forward(
            py,
            self,
            to,
            from_,
            cc,
            bcc,
            text,
            html,
            subject,
            attachments,
            headers,
            crate::message::build::Options {
                utf8,
                eight_bit,
                force_base64: false,
            },
        )
    }

    /// A :class:`MessageEditor` for this message: edits that keep every other header field
    /// and part byte for byte. ``utf8`` and ``eight_bit`` apply to new content.
    #[pyo3(signature = (*, utf8 = false, eight_bit = false))]
    fn edit(
        slf: &Bound<'_, Self>,
        utf8: bool,
        eight_bit: bool,
    ) -> PyResult<super::build::PyMessageEditor> {
        super::build::PyMessageEditor::new(
            slf.py(),
            slf,
            crate::message::build::Options {
                utf8,
                eight_bit,
                force_base64: false,
            },
        )
    }

    /// The message as a stdlib ``email.message.EmailMessage`` (``policy=email.policy.default``).
    fn to_email_message<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let kw = PyDict::new(py);
        kw.set_item("policy", types::EMAIL_POLICY_DEFAULT.get(py)?)?;
        types::EMAIL_MESSAGE_FROM_BYTES
            .get(py)?
            .call((self.bytes_object(py)?,), Some(&kw))
    }

    /// The message's bytes, exactly as parsed.
    fn as_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.bytes_object(py)
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.bytes_object(py)
    }

    /// Size of the message in bytes.
    #[getter]
    fn size(&self) -> usize {
        self.view().bytes().len()
    }

    /// The header section (:class:`Headers`).
    #[getter]
    fn headers(&self, py: Python<'_>) -> PyResult<Py<PyHeaders>> {
        self.c(py)
            .headers
            .get_or_try_init(py, || {
                Py::new(py, PyHeaders::new(self.doc.clone(), self.view().root().id))
            })
            .map(|h| h.clone_ref(py))
    }

    /// The decoded Subject, or ``None``.
    #[getter]
    fn subject(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.c(py)
            .subject
            .get_or_init(py, || {
                self.view()
                    .subject()
                    .map(|s| PyString::new(py, &s).unbind())
            })
            .as_ref()
            .map(|s| s.clone_ref(py))
    }

    /// The From addresses.
    #[getter]
    fn from_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 0)
    }

    /// The Sender addresses (RFC 5322 §3.6.2: who sent it for the author).
    #[getter]
    fn sender<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 1)
    }

    /// The To addresses.
    #[getter]
    fn to<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 2)
    }

    /// The Cc addresses.
    #[getter]
    fn cc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 3)
    }

    /// The Bcc addresses (present in drafts and sent copies only).
    #[getter]
    fn bcc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 4)
    }

    /// The Reply-To addresses.
    #[getter]
    fn reply_to<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.addresses_at(py, 5)
    }

    /// The Date as a timezone-aware ``datetime`` (UTC for ``-0000``), or ``None`` when it
    /// is missing or invalid.
    #[getter]
    fn date(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.c(py)
            .date
            .get_or_try_init(py, || match self.view().date() {
                Some(d) => Ok::<_, PyErr>(to_datetime(py, &d)?.unbind()),
                None => Ok(py.None()),
            })
            .map(|d| d.clone_ref(py))
    }

    /// The Message-ID without angle brackets, or ``None``.
    #[getter]
    fn message_id(&self, py: Python<'_>) -> Option<String> {
        self.c(py)
            .message_id
            .get_or_init(py, || self.view().message_id())
            .clone()
    }

    /// The msg-ids of In-Reply-To, without angle brackets.
    #[getter]
    fn in_reply_to(&self, py: Python<'_>) -> Vec<String> {
        self.c(py)
            .in_reply_to
            .get_or_init(py, || self.view().ids("In-Reply-To"))
            .clone()
    }

    /// The msg-ids of References, oldest first, without angle brackets.
    #[getter]
    fn references(&self, py: Python<'_>) -> Vec<String> {
        self.c(py)
            .references
            .get_or_init(py, || self.view().ids("References"))
            .clone()
    }

    /// MIME-Version without comments (``"1.0"``), or ``None``.
    #[getter]
    fn mime_version(&self) -> Option<String> {
        self.view().mime_version()
    }

    /// The Content-Type of the message's top-level entity.
    #[getter]
    fn content_type(&self, py: Python<'_>) -> PyResult<Py<PyContentType>> {
        self.c(py)
            .content_type
            .get_or_try_init(py, || Py::new(py, content_type_of(self.view().root())))
            .map(|c| c.clone_ref(py))
    }

    /// The Received trace, newest hop first.
    #[getter]
    fn received<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        list_of(tuple_once(py, &self.c(py).received, || {
            let hops = self.view().received();
            hops.into_iter().map(|r| PyReceived::from_core(py, r))
        })?)
    }

    /// The message's top-level entity as a :class:`Part`.
    #[getter]
    fn root<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.part_object(py, self.view().root().id)
    }

    /// The top-level MIME parts (the children of a multipart message; ``[]`` otherwise).
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.part_list(py, self.view().root().children())
    }

    /// Every part, depth first, starting with the top-level entity; parts of attached
    /// messages are included (as ``email.message.Message.walk`` does).
    fn walk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.part_objects(py)?.as_any().try_iter()?.into_any())
    }

    /// The plain-text body: the text of the ``text/plain`` body parts (RFC 8621 §4.1.4
    /// ``textBody``), or ``None``.
    #[getter]
    fn text(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.body(py, false)
    }

    /// The HTML body: the text of the ``text/html`` body parts (``htmlBody``), or ``None``.
    #[getter]
    fn html(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.body(py, true)
    }

    /// The parts that are not the message body (RFC 8621 §4.1.4 ``attachments``): files,
    /// attached messages, inline images of an HTML body.
    #[getter]
    fn attachments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.part_list(py, &self.structure(py).attachments)
    }

    /// What was malformed and how it was read (:class:`Defect` objects).
    #[getter]
    fn defects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        list_of(tuple_once(py, &self.c(py).defects, || {
            let view = self.view();
            let found = if view.bytes().len() >= DETACH_THRESHOLD {
                py.detach(|| view.defects())
            } else {
                view.defects()
            };
            found.into_iter().map(|d| Ok(PyDefect::from_core(d)))
        })?)
    }

    /// Every Authentication-Results result (RFC 8601), newest field first: a list of
    /// :class:`mailprims.fields.AuthResult`.
    #[getter]
    fn authentication_results<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Fields, "authentication_results_of")
    }

    /// The DKIM-Signature fields (RFC 6376), in order: :class:`mailprims.fields.DkimSignature`.
    #[getter]
    fn dkim_signatures<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Fields, "dkim_signatures_of")
    }

    /// The ARC sets (RFC 8617), by instance: :class:`mailprims.fields.ArcSet`.
    #[getter]
    fn arc_sets<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Fields, "arc_sets_of")
    }

    /// The mailing-list fields (RFC 2369, 2919, 8058) as :class:`mailprims.fields.ListInfo`,
    /// or ``None`` when the message has none.
    #[getter]
    fn list_info<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Fields, "list_info_of")
    }

    /// Check the message's DKIM signatures, ARC chain, SPF and DMARC with ``verifier`` (a
    /// :class:`mailprims.auth.Verifier`; a default one using the system's DNS when
    /// ``None``): an :class:`mailprims.auth.AuthReport`, shown as a table in Jupyter.
    /// ``ip``, ``helo`` and ``mail_from`` describe the SMTP session it arrived in.
    #[pyo3(signature = (verifier = None, **kwargs))]
    fn verify<'py>(
        slf: &Bound<'py, Self>,
        verifier: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let verify = py.import("mailprims.auth")?.getattr("_verify_message")?;
        verify.call((slf, verifier), kwargs)
    }

    /// The Received hops, oldest first, with delays: a :class:`mailprims.trace.Trace`.
    fn trace<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Trace, "trace_of")
    }

    /// HTML for Jupyter: summary, header table, MIME tree, trace, body preview (escaped).
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Display, "message_html")
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let Ok(other) = other.cast::<PyMessage>() else {
            return Ok(py.NotImplemented());
        };
        let eq = self.view().bytes() == other.get().view().bytes();
        Ok(pyo3::types::PyBool::new(py, eq)
            .to_owned()
            .into_any()
            .unbind())
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.bytes_object(py)?.hash()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let parse = py.get_type::<PyMessage>().getattr("parse")?;
        let args = PyTuple::new(py, [slf.get().bytes_object(py)?])?;
        PyTuple::new(py, [parse, args.into_any()])
    }

    /// ``Message()`` cannot be called: messages come from :meth:`parse`,
    /// :meth:`parse_file` or :meth:`build` (``TypeError`` saying so).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn py_new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Err(PyTypeError::new_err(
            "Message() cannot be created empty and filled in as email.message.EmailMessage \
             is: build one with Message.build(from_=..., to=..., subject=..., text=...), or \
             read one with Message.parse(data) or Message.parse_file(path)",
        ))
    }

    /// ``msg["Subject"]``: the decoded value of the first field so named (any case), or
    /// ``None`` when there is none, as ``email.message.EmailMessage`` gives it.
    fn __getitem__(&self, py: Python<'_>, name: &str) -> PyResult<Option<String>> {
        Ok(self.headers(py)?.get().first(name))
    }

    /// ``"To" in msg``: whether a field so named (any case) is present.
    fn __contains__(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(name) = name.extract::<&str>() else {
            return Ok(false);
        };
        Ok(self.headers(py)?.get().first(name).is_some())
    }

    /// The decoded value of the first field named ``name``, or ``failobj`` (as
    /// ``email.message.Message.get``).
    #[pyo3(signature = (name, failobj = None))]
    fn get(&self, py: Python<'_>, name: &str, failobj: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        Ok(match self.headers(py)?.get().first(name) {
            Some(v) => PyString::new(py, &v).into_any().unbind(),
            None => failobj.unwrap_or_else(|| py.None()),
        })
    }

    /// The decoded values of every field named ``name`` as a list, or ``failobj`` (``None``)
    /// when there is none (as ``email.message.Message.get_all``).
    #[pyo3(signature = (name, failobj = None))]
    fn get_all(
        &self,
        py: Python<'_>,
        name: &str,
        failobj: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let values = self.headers(py)?.get().all(name);
        if values.is_empty() {
            return Ok(failobj.unwrap_or_else(|| py.None()));
        }
        Ok(PyList::new(py, values)?.into_any().unbind())
    }

    /// The field names, in order (repeated names repeated), as ``email.message.Message.keys``.
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self.headers(py)?.get().names())
    }

    /// The message as text, as ``str(msg)`` gives it: its bytes decoded as UTF-8 (invalid
    /// bytes replaced), with ``\n`` line ends as ``email.message.EmailMessage.as_string``.
    fn as_string(&self) -> String {
        String::from_utf8_lossy(self.view().bytes()).replace("\r\n", "\n")
    }

    fn __str__(&self) -> String {
        self.as_string()
    }

    fn __setitem__(&self, name: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(format!(
            "a Message is immutable: to set {}, use msg.edit().set_header(...).build() (or \
             Message.build(headers=...) for a new message)",
            name.repr()?
        )))
    }

    fn __delitem__(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(format!(
            "a Message is immutable: to remove {}, use msg.edit().remove_header(...).build()",
            name.repr()?
        )))
    }

    fn __setattr__(&self, name: &str, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "a Message is immutable, {name:?} cannot be set: make a changed copy with \
             msg.edit() (a MessageEditor, then .build()), or a new message with Message.build()"
        )))
    }

    fn __delattr__(&self, name: &str) -> PyResult<()> {
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "a Message is immutable, {name:?} cannot be deleted: use msg.edit()"
        )))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let from = self.addresses_at(py, 0)?;
        let from: Vec<String> = from
            .try_iter()?
            .map(|a| a.and_then(|a| a.str().map(|s| s.to_string())))
            .collect::<PyResult<_>>()?;
        let subject = match self.subject(py) {
            Some(s) => s.bind(py).repr()?.to_string(),
            None => "None".into(),
        };
        let from = PyString::new(py, &from.join(", ")).repr()?.to_string();
        Ok(format!(
            "<Message from={from} subject={subject} type={} parts={} size={}>",
            self.view().root().mime_type(),
            self.view().walk().len(),
            self.view().bytes().len()
        ))
    }
}

fn content_type_of(part: crate::message::PartView<'_>) -> PyContentType {
    let (t, s) = part.mime_type_pair();
    PyContentType::new_core(t, s, part.params())
}

/// One MIME entity of a message: a leaf with a payload, a multipart with ``parts``, or an
/// attached message (``message``).
#[pyclass(frozen, module = "mailprims", name = "Part")]
pub struct PyPart {
    doc: Arc<Document>,
    id: PartId,
    // No payload cache: a payload is as large as the body (each message/rfc822 level's as
    // large as everything inside it), and a cache would keep every payload ever read alive
    // for the message's lifetime (3 GB for a 32 MB message nested 100 deep).
    text: PyOnceLock<Option<Py<PyString>>>,
    content_type: PyOnceLock<Py<PyContentType>>,
    message: PyOnceLock<Option<Py<PyMessage>>>,
    children: PyOnceLock<Py<PyTuple>>,
}

impl PyPart {
    /// The document the part is in, and its id there.
    pub(super) fn location(&self) -> (&Arc<Document>, PartId) {
        (&self.doc, self.id)
    }

    fn new(doc: Arc<Document>, id: PartId) -> Self {
        PyPart {
            doc,
            id,
            text: PyOnceLock::new(),
            content_type: PyOnceLock::new(),
            message: PyOnceLock::new(),
            children: PyOnceLock::new(),
        }
    }

    fn view(&self) -> crate::message::PartView<'_> {
        // ok: `id` always names a part of `doc`; the root part exists in every document.
        self.doc
            .part(self.id)
            .or_else(|| self.doc.part(0))
            .unwrap_or_else(|| self.doc.root().root())
    }

    fn decode_payload<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let part = self.view();
        if part.is_multipart() {
            // A multipart's body is its parts; copying it whole would double the memory
            // of a large message for nothing (`as_bytes()` has the raw bytes).
            return Ok(PyBytes::new(py, b""));
        }
        let enc = part.transfer_encoding();
        let body = part.raw_body();
        let big = body.len() >= DETACH_THRESHOLD;
        // Straight into the bytes object, no intermediate copy of large attachments: at
        // the size the line layout predicts, and only if that was short, at a bound.
        let sized = |size: usize| -> PyResult<Option<Bound<'py, PyBytes>>> {
            let mut written = None;
            let bytes = new_bytes(py, size, |out| written = enc.decode_into(body, out))?;
            Ok(match written {
                Some(n) if n == size => Some(bytes),
                // Malformed base64 decodes to less than predicted: keep what was written.
                Some(n) => Some(PyBytes::new(py, &bytes.as_bytes()[..n])),
                None => None,
            })
        };
        if let Some(guess) = enc.decoded_len_guess(body) {
            if let Some(bytes) = sized(guess)? {
                return Ok(bytes);
            }
            let bound = if big {
                py.detach(|| enc.decoded_len_bound(body))
            } else {
                enc.decoded_len_bound(body)
            };
            if let Some(bytes) = bound.map(sized).transpose()?.flatten() {
                return Ok(bytes);
            }
        }
        let decoded = if big {
            py.detach(|| enc.decode(body).into_owned())
        } else {
            enc.decode(body).into_owned()
        };
        super::buffer::bytes_from(py, &decoded)
    }
}

#[pymethods]
impl PyPart {
    /// The Content-Type (``text/plain`` when missing; ``message/rfc822`` in a digest).
    #[getter]
    fn content_type(&self, py: Python<'_>) -> PyResult<Py<PyContentType>> {
        self.content_type
            .get_or_try_init(py, || Py::new(py, content_type_of(self.view())))
            .map(|c| c.clone_ref(py))
    }

    /// The declared charset, lowercase, or ``None``.
    #[getter]
    fn charset(&self) -> Option<String> {
        self.view().charset()
    }

    /// The file name (Content-Disposition ``filename``, else Content-Type ``name``; RFC 2231
    /// and RFC 2047 decoded), or ``None``.
    #[getter]
    fn filename(&self) -> Option<String> {
        self.view().filename()
    }

    /// ``"inline"``, ``"attachment"``, or ``None`` without Content-Disposition.
    #[getter]
    fn disposition(&self) -> Option<String> {
        self.view().disposition()
    }

    /// Content-ID without angle brackets, or ``None``.
    #[getter]
    fn content_id(&self) -> Option<String> {
        self.view().content_id()
    }

    /// Content-Transfer-Encoding, lowercase, or ``None``.
    #[getter]
    fn transfer_encoding(&self) -> Option<String> {
        self.view().transfer_encoding_name()
    }

    /// The part's header section.
    #[getter]
    fn headers(&self) -> PyHeaders {
        PyHeaders::new(self.doc.clone(), self.id)
    }

    /// The body with its transfer encoding (base64, quoted-printable, x-uuencode) undone;
    /// ``b""`` for a multipart, whose content is its ``parts``. Decoded on each read and
    /// not kept by the part, so reading every payload of a large message holds one at a
    /// time.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.decode_payload(py)
    }

    /// For ``text/*`` parts, the payload decoded in its charset (undeclared or ASCII text as
    /// UTF-8, or windows-1252 when it is not UTF-8); ``None`` for other parts.
    #[getter]
    fn text(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.text
            .get_or_init(py, || {
                let part = self.view();
                let text = if part.raw_body().len() >= DETACH_THRESHOLD {
                    py.detach(|| part.text())
                } else {
                    part.text()
                };
                text.map(|t| PyString::new(py, &t).unbind())
            })
            .as_ref()
            .map(|s| s.clone_ref(py))
    }

    /// Whether the part is a multipart (its ``parts`` are the ones inside).
    #[getter]
    fn is_multipart(&self) -> bool {
        self.view().is_multipart()
    }

    /// The parts of a multipart (``[]`` for other parts).
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        list_of(tuple_once(py, &self.children, || {
            let children = self.view().children();
            children
                .iter()
                .map(|&id| Ok(PyPart::new(self.doc.clone(), id)))
        })?)
    }

    /// The attached message of a ``message/rfc822`` part, or ``None``.
    #[getter]
    fn message(&self, py: Python<'_>) -> PyResult<Option<Py<PyMessage>>> {
        self.message
            .get_or_try_init(py, || -> PyResult<_> {
                let part = self.view();
                if let Some(m) = part.message() {
                    let nested = untracked(py, PyMessage::new(self.doc.clone(), m))?;
                    return Ok(Some(nested.unbind()));
                }
                if !(part.is_message() && part.transfer_encoding().is_encoded()) {
                    return Ok(None);
                }
                // Encoded against RFC 2046 §5.2.1: decode, then parse on its own.
                let payload = self.decode_payload(py)?;
                let input = input_of(payload.as_any(), "Part.message")?;
                Ok(Some(parse_input(py, input)?.unbind()))
            })
            .map(|m| m.as_ref().map(|m| m.clone_ref(py)))
    }

    /// HTML for Jupyter: the part's type, headers, sub-parts and a preview (escaped).
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        call_python(slf.as_any(), Helper::Display, "part_html")
    }

    /// The part's bytes (header section and body), as in the message.
    fn as_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        super::buffer::bytes_from(py, self.view().bytes())
    }

    fn __repr__(&self) -> String {
        let part = self.view();
        let mut s = format!("<Part {}", part.mime_type());
        if let Some(cs) = part.charset() {
            s += &format!(" charset={cs}");
        }
        if let Some(f) = part.filename() {
            s += &format!(" filename={f:?}");
        }
        match &part.node().body {
            Body::Multipart { children } => s += &format!(" parts={}", children.len()),
            _ => s += &format!(" body={} bytes", part.raw_body().len()),
        }
        s.push('>');
        s
    }
}

/// Parse many messages in parallel, with the GIL released.
///
/// ``items`` is an iterable of bytes-like objects or ``str``; ``threads`` defaults to the
/// number of CPUs. Returns the messages in order.
#[pyfunction]
#[pyo3(signature = (items, *, threads = None))]
pub fn parse_many<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    if items.is_instance_of::<PyBytes>() || items.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "parse_many() expects an iterable of messages, not a single message",
        ));
    }
    let mut inputs = Vec::new();
    for item in items
        .try_iter()
        .map_err(|_| type_error("parse_many()", "an iterable", items))?
    {
        inputs.push(input_of(&item?, "parse_many()")?);
    }
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(inputs.len().div_ceil(CHUNK).max(1));
    if threads <= 1 {
        let docs = py.detach(|| parse_chunk(inputs));
        let objs = docs
            .into_iter()
            .map(|doc| untracked(py, PyMessage::new(doc, 0)))
            .collect::<PyResult<Vec<_>>>()?;
        return PyList::new(py, objs);
    }
    parse_pipelined(py, inputs, threads)
}

/// Messages per unit of work handed to a thread: small enough to balance, large enough
/// that taking one costs nothing next to parsing it.
const CHUNK: usize = 32;

type Parsed = Arc<Document>;

fn parse_shared(input: Input) -> Parsed {
    Arc::new(Document::parse(input.into_source()))
}

fn parse_chunk(chunk: Vec<Input>) -> Vec<Parsed> {
    chunk.into_iter().map(parse_shared).collect()
}

/// `threads - 1` pool threads and this one parse chunks without the GIL; this thread also
/// turns finished chunks into Python objects, which needs the GIL and costs about as much as
/// parsing a small message. It takes in finished chunks first and parses only when none is
/// waiting, so no more threads run than were asked for (see [`crate::pool::Chunked`]).
fn parse_pipelined<'py>(
    py: Python<'py>,
    inputs: Vec<Input>,
    threads: usize,
) -> PyResult<Bound<'py, PyList>> {
    let total = inputs.len();
    let pipe = crate::pool::Chunked::start(inputs, CHUNK, threads, parse_chunk);
    let out = PyList::new(py, (0..total).map(|_| py.None()))?;
    let place = |start: usize, parsed: Vec<Parsed>| -> PyResult<()> {
        for (i, doc) in parsed.into_iter().enumerate() {
            out.set_item(start + i, untracked(py, PyMessage::new(doc, 0))?)?;
        }
        Ok(())
    };
    let mut placed = 0;
    loop {
        let (start, parsed) = if let Some(ready) = pipe.ready() {
            ready
        } else if let Some((start, chunk)) = pipe.take() {
            (start, py.detach(|| parse_chunk(chunk)))
        } else {
            break;
        };
        place(start, parsed)?;
        placed += 1;
    }
    // Nothing left to take: wait for the chunks pool threads are still parsing.
    while placed < pipe.chunks() {
        let Some((start, parsed)) = py.detach(|| pipe.wait()) else {
            return Err(PyRuntimeError::new_err(
                "parse_many(): a worker thread stopped before finishing its messages",
            ));
        };
        place(start, parsed)?;
        placed += 1;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMessage>()?;
    m.add_class::<PyPart>()?;
    m.add_class::<PyHeaders>()?;
    m.add_class::<super::headers::PyHeader>()?;
    m.add_class::<PyAddress>()?;
    m.add_class::<PyContentType>()?;
    m.add_class::<PyReceived>()?;
    m.add_class::<PyDefect>()?;
    m.add_function(wrap_pyfunction!(parse_many, m)?)?;
    Ok(())
}
