//! Bindings for `crate::store`: the base classes of `mailprims.Maildir`, `Mbox`,
//! `MaildirStore` and `Users` (the public classes subclass these in `mailprims/store.py`).
//! Every file-system call runs with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};

use super::buffer::{BytesLike, bytes_from};
use super::errors::store_error;
use crate::store::{
    self, AddOptions, DotLock, Maildir, MaildirEntry, MaildirStore, Mbox, MboxAddOptions, MboxIter,
    StoreError, UserDb,
};

type PyStoreResult<T> = Result<T, StoreError>;

fn wrap<T>(py: Python<'_>, r: PyStoreResult<T>) -> PyResult<T> {
    r.map_err(|e| store_error(py, e))
}

fn seconds(what: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        PyValueError::new_err(format!("{what} must be a non-negative number of seconds"))
    })
}

fn path_str(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

// ---- Maildir -------------------------------------------------------------------------------

/// One Maildir (base class of `mailprims.Maildir`).
#[pyclass(
    module = "mailprims._mailprims",
    name = "MaildirBase",
    subclass,
    frozen
)]
pub struct PyMaildir {
    md: Maildir,
}

impl PyMaildir {
    #[allow(dead_code)] // used by the POP3 server bindings
    pub(crate) fn maildir(&self) -> &Maildir {
        &self.md
    }
}

/// What a listing knows about one message, read from its file name.
#[pyclass(module = "mailprims", name = "MaildirEntry", frozen, get_all)]
pub struct PyMaildirEntry {
    /// The message key (file name before ``:``).
    key: String,
    /// ``"new"`` or ``"cur"``.
    subdir: &'static str,
    /// The full file name.
    name: String,
    /// Size in bytes.
    size: u64,
    /// Size with CRLF line endings (what POP3 counts), when the name records it.
    crlf_size: Option<u64>,
    /// Flags, in ASCII order.
    flags: String,
}

#[pymethods]
impl PyMaildirEntry {
    /// A POP3 unique-id for this message (RFC 1939 §7): the key, or a digest of long keys.
    #[getter]
    fn uidl(&self) -> String {
        store::name::uidl(&self.key)
    }

    fn __repr__(&self) -> String {
        format!(
            "MaildirEntry(key='{}', subdir='{}', size={}, flags='{}')",
            self.key, self.subdir, self.size, self.flags
        )
    }
}

impl From<MaildirEntry> for PyMaildirEntry {
    fn from(m: MaildirEntry) -> Self {
        let flags = m.flags().to_owned();
        PyMaildirEntry {
            key: m.key,
            subdir: m.subdir.as_str(),
            name: m.file_name,
            size: m.size,
            crlf_size: m.crlf_size,
            flags,
        }
    }
}

#[pymethods]
impl PyMaildir {
    #[new]
    #[pyo3(signature = (path, create=true))]
    fn new(py: Python<'_>, path: PathBuf, create: bool) -> PyResult<Self> {
        let md = wrap(py, py.detach(|| Maildir::open(&path, create)))?;
        Ok(PyMaildir { md })
    }

    /// The Maildir's directory.
    #[getter]
    fn path(&self) -> String {
        path_str(self.md.path())
    }

    /// Deliver a message; returns its key.
    #[pyo3(signature = (data, *, flags=None, sync=true))]
    fn add(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        flags: Option<String>,
        sync: bool,
    ) -> PyResult<String> {
        let data = BytesLike::bytes_only(data, "Maildir.add()")?;
        let bytes = data.as_bytes();
        let options = AddOptions {
            durable: sync,
            flags,
        };
        wrap(py, py.detach(|| self.md.add_with(bytes, &options)))
    }

    /// The message's bytes, exactly as stored.
    fn get_bytes<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyBytes>> {
        let data = wrap(py, py.detach(|| self.md.read(key)))?;
        bytes_from(py, &data)
    }

    /// The current path of the message's file (``Maildir.get_path``).
    fn _message_path(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        wrap(py, py.detach(|| self.md.path_of(key))).map(|p| path_str(&p))
    }

    /// An open descriptor on the message file (for ``get_file``).
    fn _open_fd(&self, py: Python<'_>, key: &str) -> PyResult<i32> {
        #[cfg(unix)]
        {
            use std::os::fd::IntoRawFd;
            wrap(py, py.detach(|| self.md.open_file(key))).map(|f| f.into_raw_fd())
        }
        // A Windows handle is not a C runtime descriptor `open()` accepts.
        #[cfg(not(unix))]
        {
            let _ = (py, key);
            Err(pyo3::exceptions::PyNotImplementedError::new_err(
                "Maildir.get_file needs a POSIX system",
            ))
        }
    }

    /// Delete a message (``MessageNotFoundError`` if there is none).
    fn remove(&self, py: Python<'_>, key: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.remove(key)))
    }

    /// Delete a message if it exists.
    fn discard(&self, py: Python<'_>, key: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.discard(key))).map(|_| ())
    }

    /// Delete several messages with one directory fsync (what a POP3 QUIT does); returns how
    /// many were removed.
    fn remove_many(&self, py: Python<'_>, keys: Vec<String>) -> PyResult<usize> {
        wrap(py, py.detach(|| self.md.remove_many(&keys)))
    }

    /// The keys, in delivery order.
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        wrap(py, py.detach(|| self.md.keys()))
    }

    /// Every message with its size and flags, in delivery order, without reading messages.
    fn entries(&self, py: Python<'_>) -> PyResult<Vec<PyMaildirEntry>> {
        let list = wrap(py, py.detach(|| self.md.list()))?;
        Ok(list.into_iter().map(PyMaildirEntry::from).collect())
    }

    /// ``(key, bytes)`` for every message, each read when reached.
    fn items_bytes(&self, py: Python<'_>) -> PyResult<PyMaildirItems> {
        let keys = wrap(py, py.detach(|| self.md.keys()))?;
        Ok(PyMaildirItems {
            md: self.md.clone(),
            keys: Mutex::new(keys.into_iter()),
        })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        wrap(py, py.detach(|| self.md.len()))
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(key) = key.extract::<String>() else {
            return Ok(false);
        };
        wrap(py, py.detach(|| self.md.contains(&key)))
    }

    /// Size in bytes (from the ``,S=`` field when present, else ``stat``).
    fn get_size(&self, py: Python<'_>, key: &str) -> PyResult<u64> {
        wrap(py, py.detach(|| self.md.size(key)))
    }

    /// Size with CRLF line endings, as POP3 counts (RFC 1939 §11).
    fn get_crlf_size(&self, py: Python<'_>, key: &str) -> PyResult<u64> {
        wrap(py, py.detach(|| self.md.crlf_size(key)))
    }

    /// Delivery time (the file's modification time) as a POSIX timestamp.
    fn get_date(&self, py: Python<'_>, key: &str) -> PyResult<f64> {
        let t = wrap(py, py.detach(|| self.md.mtime(key)))?;
        Ok(t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0))
    }

    /// The flags, in ASCII order (``"FS"`` for flagged and seen).
    fn get_flags(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        wrap(py, py.detach(|| self.md.flags(key)))
    }

    /// Replace the flags; moves the message to ``cur/``.
    fn set_flags(&self, py: Python<'_>, key: &str, flags: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.set_flags(key, flags)))
    }

    /// Add flags; moves the message to ``cur/``.
    fn add_flag(&self, py: Python<'_>, key: &str, flag: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.add_flags(key, flag)))
    }

    /// Remove flags.
    fn remove_flag(&self, py: Python<'_>, key: &str, flag: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.remove_flags(key, flag)))
    }

    /// Move a message from ``new/`` to ``cur/`` with the ``S`` (seen) flag.
    fn mark_seen(&self, py: Python<'_>, key: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.mark_seen(key)))
    }

    /// The info after ``:`` in the file name (``"2,FS"``), ``""`` without one.
    fn get_info(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        wrap(py, py.detach(|| self.md.info(key)))
    }

    /// Set the info; a non-empty info moves the message to ``cur/``.
    fn set_info(&self, py: Python<'_>, key: &str, info: &str) -> PyResult<()> {
        wrap(py, py.detach(|| self.md.set_info(key, info)))
    }

    /// Remove files left in ``tmp/`` by interrupted deliveries (not accessed for ``max_age``
    /// seconds; 36 hours as the Maildir spec says). Returns how many were removed.
    #[pyo3(signature = (max_age=129600.0))]
    fn clean(&self, py: Python<'_>, max_age: f64) -> PyResult<usize> {
        let max_age = seconds("max_age", max_age)?;
        wrap(py, py.detach(|| self.md.clean(max_age)))
    }

    /// Take the exclusive maildrop lock a POP3 session holds (RFC 1939 §8). Raises
    /// ``MailboxLockedError`` (RFC 3206 ``IN-USE``) when a live holder has it.
    #[pyo3(signature = (*, stale_after=1800.0))]
    fn lock(&self, py: Python<'_>, stale_after: f64) -> PyResult<PyMaildropLock> {
        let stale_after = seconds("stale_after", stale_after)?;
        let lock = wrap(py, py.detach(|| self.md.lock_maildrop(stale_after)))?;
        Ok(PyMaildropLock {
            path: path_str(lock.path()),
            lock: Mutex::new(Some(lock)),
        })
    }
}

/// Iterator of ``(key, bytes)`` over a Maildir; messages removed meanwhile are skipped.
#[pyclass(module = "mailprims._mailprims", name = "MaildirItems")]
pub struct PyMaildirItems {
    md: Maildir,
    keys: Mutex<std::vec::IntoIter<String>>,
}

#[pymethods]
impl PyMaildirItems {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        loop {
            let next = self.keys.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some(key) = next else {
                return Ok(None);
            };
            match py.detach(|| self.md.read(&key)) {
                Ok(data) => {
                    let data = bytes_from(py, &data)?;
                    return Ok(Some(PyTuple::new(
                        py,
                        [key.into_pyobject(py)?.into_any(), data.into_any()],
                    )?));
                }
                Err(StoreError::NoSuchMessage { .. }) => continue,
                Err(e) => return Err(store_error(py, e)),
            }
        }
    }
}

/// The POP3 maildrop lock of a Maildir; a context manager.
#[pyclass(module = "mailprims", name = "MaildropLock", frozen)]
pub struct PyMaildropLock {
    path: String,
    lock: Mutex<Option<DotLock>>,
}

#[pymethods]
impl PyMaildropLock {
    /// The lock file (``dovecot-pop3-session.lock``, the one Dovecot's POP3 server takes).
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// Whether the lock is still ours.
    #[getter]
    fn held(&self) -> bool {
        self.lock
            .lock()
            .map(|l| l.as_ref().is_some_and(DotLock::is_held))
            .unwrap_or(false)
    }

    /// Refresh the lock's time so it is not taken for abandoned.
    fn touch(&self, py: Python<'_>) -> PyResult<()> {
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(l) => wrap(py, l.touch()),
            None => Err(PyValueError::new_err("the lock was released")),
        }
    }

    /// Release the lock (idempotent).
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        match taken {
            Some(l) => wrap(py, l.release()),
            None => Ok(()),
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("<MaildropLock {:?} held={}>", self.path, self.held())
    }
}

// ---- mbox ----------------------------------------------------------------------------------

/// One mbox file (base class of `mailprims.Mbox`).
#[pyclass(module = "mailprims._mailprims", name = "MboxBase", subclass, frozen)]
pub struct PyMbox {
    mbox: Mbox,
}

impl PyMbox {
    fn index(&self, py: Python<'_>, i: isize) -> PyResult<usize> {
        if i >= 0 {
            return Ok(i as usize);
        }
        let n = wrap(py, py.detach(|| self.mbox.len()))? as isize;
        if i + n < 0 {
            return Err(PyIndexError::new_err("mbox index out of range"));
        }
        Ok((i + n) as usize)
    }
}

#[pymethods]
impl PyMbox {
    #[new]
    #[pyo3(signature = (path, create=true))]
    fn new(py: Python<'_>, path: PathBuf, create: bool) -> PyResult<Self> {
        let mbox = wrap(py, py.detach(|| Mbox::open(&path, create)))?;
        Ok(PyMbox { mbox })
    }

    /// The mbox file.
    #[getter]
    fn path(&self) -> String {
        path_str(self.mbox.path())
    }

    /// Append a message under the mbox locks; returns its index.
    #[pyo3(signature = (data, *, sender=None, date=None, sync=true, lock_timeout=10.0))]
    fn add(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        sender: Option<String>,
        date: Option<f64>,
        sync: bool,
        lock_timeout: f64,
    ) -> PyResult<usize> {
        let data = BytesLike::bytes_only(data, "Mbox.add()")?;
        let date = match date {
            Some(t) => Some(
                UNIX_EPOCH
                    .checked_add(seconds("date", t)?)
                    .unwrap_or(SystemTime::now()),
            ),
            None => None,
        };
        let options = MboxAddOptions {
            sender,
            date,
            durable: sync,
            lock_timeout: seconds("lock_timeout", lock_timeout)?,
        };
        let bytes = data.as_bytes();
        wrap(py, py.detach(|| self.mbox.add_with(bytes, &options)))
    }

    /// Message ``index`` without its ``From`` line, ``>From`` unquoted (mboxrd).
    fn get_bytes<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyBytes>> {
        let i = self.index(py, index)?;
        match py.detach(|| self.mbox.get(i)) {
            Ok(data) => bytes_from(py, &data),
            Err(StoreError::NoSuchMessage { .. }) => {
                Err(PyIndexError::new_err("mbox index out of range"))
            }
            Err(e) => Err(store_error(py, e)),
        }
    }

    /// The ``From`` line of message ``index`` without ``From `` (sender and date), as
    /// ``mailbox.mboxMessage.get_from()`` gives it.
    fn get_from(&self, py: Python<'_>, index: isize) -> PyResult<String> {
        let i = self.index(py, index)?;
        match py.detach(|| self.mbox.from_line(i)) {
            Ok(line) => Ok(String::from_utf8_lossy(&line).into_owned()),
            Err(StoreError::NoSuchMessage { .. }) => {
                Err(PyIndexError::new_err("mbox index out of range"))
            }
            Err(e) => Err(store_error(py, e)),
        }
    }

    /// ``(index, bytes)`` for every message, read from the file as the iteration goes.
    fn items_bytes(&self, py: Python<'_>) -> PyResult<PyMboxItems> {
        let it = wrap(py, py.detach(|| self.mbox.iter()))?;
        Ok(PyMboxItems { it: Mutex::new(it) })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        wrap(py, py.detach(|| self.mbox.len()))
    }

    /// Take the mbox locks (``fcntl`` and ``<path>.lock``, as ``mailbox.mbox.lock()``) and
    /// hold them until ``unlock()``; ``add`` works under them.
    #[pyo3(signature = (timeout=10.0))]
    fn lock(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        wrap(py, py.detach(|| self.mbox.lock(timeout)))
    }

    /// Release the locks taken by ``lock()``.
    fn unlock(&self, py: Python<'_>) {
        py.detach(|| self.mbox.unlock());
    }

    /// Whether this object holds the mbox locks.
    #[getter]
    fn locked(&self) -> bool {
        self.mbox.is_locked()
    }
}

/// Iterator of ``(index, bytes)`` over an mbox.
#[pyclass(module = "mailprims._mailprims", name = "MboxItems")]
pub struct PyMboxItems {
    it: Mutex<MboxIter>,
}

#[pymethods]
impl PyMboxItems {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let next = py.detach(|| self.it.lock().unwrap_or_else(|e| e.into_inner()).next());
        match next {
            None => Ok(None),
            Some(Ok((i, data))) => {
                let data = bytes_from(py, &data)?;
                Ok(Some(PyTuple::new(
                    py,
                    [i.into_pyobject(py)?.into_any(), data.into_any()],
                )?))
            }
            Some(Err(e)) => Err(store_error(py, e)),
        }
    }
}

// ---- MaildirStore --------------------------------------------------------------------------

/// One Maildir per user under a root (base class of `mailprims.MaildirStore`).
#[pyclass(
    module = "mailprims._mailprims",
    name = "MaildirStoreBase",
    subclass,
    frozen
)]
pub struct PyMaildirStore {
    store: MaildirStore,
}

impl PyMaildirStore {
    /// The store the servers deliver to and serve from.
    #[allow(dead_code)] // used by the SMTP and POP3 server bindings
    pub(crate) fn store(&self) -> &MaildirStore {
        &self.store
    }
}

#[pymethods]
impl PyMaildirStore {
    #[new]
    #[pyo3(signature = (root, create=true))]
    fn new(py: Python<'_>, root: PathBuf, create: bool) -> PyResult<Self> {
        let store = wrap(py, py.detach(|| MaildirStore::open(&root, create)))?;
        Ok(PyMaildirStore { store })
    }

    /// The root directory.
    #[getter]
    fn root(&self) -> String {
        path_str(self.store.root())
    }

    /// The directory of ``user``'s Maildir (validated; created with ``create``).
    #[pyo3(signature = (user, create=true))]
    fn _mailbox_path(&self, py: Python<'_>, user: &str, create: bool) -> PyResult<String> {
        wrap(py, py.detach(|| self.store.mailbox(user, create))).map(|m| path_str(m.path()))
    }

    /// Deliver one message durably to each of ``users``; returns ``{user: key}``.
    #[pyo3(signature = (data, users, *, sync=true))]
    fn deliver<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        users: &Bound<'py, PyAny>,
        sync: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        if users.is_instance_of::<pyo3::types::PyString>() {
            return Err(PyTypeError::new_err(
                "users must be a list of user names, not a str",
            ));
        }
        let users: Vec<String> = users.extract()?;
        let data = BytesLike::bytes_only(data, "MaildirStore.deliver()")?;
        let bytes = data.as_bytes();
        let options = AddOptions {
            durable: sync,
            flags: None,
        };
        let got = wrap(
            py,
            py.detach(|| self.store.deliver_with(bytes, &users, &options)),
        )?;
        let out = PyDict::new(py);
        for (user, key) in got {
            out.set_item(user, key)?;
        }
        Ok(out)
    }

    /// The users that have a Maildir, sorted.
    fn users(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        wrap(py, py.detach(|| self.store.users()))
    }

    fn __contains__(&self, py: Python<'_>, user: &Bound<'_, PyAny>) -> bool {
        match user.extract::<String>() {
            Ok(u) => py.detach(|| self.store.exists(&u)),
            Err(_) => false,
        }
    }
}

// ---- Users ---------------------------------------------------------------------------------

/// Accounts, aliases and local domains (base class of `mailprims.Users`).
#[pyclass(module = "mailprims._mailprims", name = "UsersBase", subclass, frozen)]
pub struct PyUsers {
    db: Arc<RwLock<UserDb>>,
    /// Failed logins per client address, counted by every server checking these accounts
    /// (SMTP AUTH and POP3 alike), so guesses add up across protocols and reconnects.
    auth_failures: Arc<crate::net::limits::AuthFailures>,
}

impl PyUsers {
    /// The shared database the servers read.
    #[allow(dead_code)] // used by the SMTP and POP3 server bindings
    pub(crate) fn shared(&self) -> Arc<RwLock<UserDb>> {
        self.db.clone()
    }

    /// The failed-login counts the servers given these accounts share.
    pub(crate) fn auth_failures(&self) -> Arc<crate::net::limits::AuthFailures> {
        self.auth_failures.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, UserDb> {
        self.db.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, UserDb> {
        self.db.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyUsers {
    #[new]
    #[pyo3(signature = (*, domains=Vec::new()))]
    fn new(py: Python<'_>, domains: Vec<String>) -> PyResult<Self> {
        let mut db = UserDb::new();
        for d in &domains {
            wrap(py, db.add_domain(d))?;
        }
        Ok(PyUsers {
            db: Arc::new(RwLock::new(db)),
            auth_failures: crate::net::limits::AuthFailures::new(),
        })
    }

    /// Add an account. ``password=None`` makes one that receives mail but cannot log in;
    /// ``apop_secret`` opts the account in to APOP (the secret is stored recoverably).
    #[pyo3(signature = (name, password, *, apop_secret=None))]
    fn add(
        &self,
        py: Python<'_>,
        name: &str,
        password: Option<&str>,
        apop_secret: Option<&str>,
    ) -> PyResult<()> {
        // Hash outside the lock (it is slow on purpose).
        let hash = match password {
            Some(p) => Some(wrap(py, py.detach(|| store::hash_password(p)))?),
            None => None,
        };
        let mut db = self.write();
        wrap(py, db.add(name, None, apop_secret))?;
        if let Some(h) = hash {
            wrap(py, db.set_password_hash(name, h))?;
        }
        Ok(())
    }

    /// Replace an account's password (``None``: no login).
    fn set_password(&self, py: Python<'_>, name: &str, password: Option<&str>) -> PyResult<()> {
        if !self.read().contains(name) {
            return wrap(py, Err(StoreError::account(name, "no such account")));
        }
        let hash = match password {
            Some(p) => wrap(py, py.detach(|| store::hash_password(p)))?,
            None => "!".to_owned(),
        };
        wrap(py, self.write().set_password_hash(name, hash))
    }

    /// Set or clear (``None``) an account's APOP secret.
    fn set_apop_secret(&self, py: Python<'_>, name: &str, secret: Option<&str>) -> PyResult<()> {
        wrap(py, self.write().set_apop_secret(name, secret))
    }

    /// Remove an account or an alias.
    fn remove(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        wrap(py, self.write().remove(name))
    }

    /// Make ``alias`` deliver to ``user`` (an account or another alias).
    fn add_alias(&self, py: Python<'_>, alias: &str, user: &str) -> PyResult<()> {
        wrap(py, self.write().add_alias(alias, user))
    }

    /// ``{alias: target}``.
    fn aliases<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (a, t) in self.read().aliases() {
            out.set_item(a, t)?;
        }
        Ok(out)
    }

    /// Add a local domain.
    fn add_domain(&self, py: Python<'_>, domain: &str) -> PyResult<()> {
        wrap(py, self.write().add_domain(domain))
    }

    /// Remove a local domain; returns whether it was one.
    fn remove_domain(&self, domain: &str) -> bool {
        self.write().remove_domain(domain)
    }

    /// The local domains (lower case).
    #[getter]
    fn domains(&self) -> Vec<String> {
        self.read().domains().to_vec()
    }

    /// Whether ``domain`` is local.
    fn is_local_domain(&self, domain: &str) -> bool {
        self.read().is_local_domain(domain)
    }

    /// Whether ``password`` is ``name``'s password (Argon2id; the same work and timing for
    /// unknown names; the GIL is released).
    fn verify(&self, py: Python<'_>, name: &str, password: &str) -> bool {
        let hash = self.read().password_hash(name).map(str::to_owned);
        py.detach(|| store::verify_password_hash(hash.as_deref(), password))
    }

    /// The account's APOP secret, or ``None`` when it has not opted in.
    fn apop_secret(&self, name: &str) -> Option<String> {
        self.read().apop_secret(name).map(str::to_owned)
    }

    /// The account that receives mail for ``address``, or ``None`` when it is not local.
    fn resolve(&self, address: &str) -> Option<String> {
        self.read().resolve(address)
    }

    /// The account ``postmaster`` delivers to.
    #[getter]
    fn postmaster(&self) -> String {
        self.read().postmaster()
    }

    /// Account names, sorted.
    fn names(&self) -> Vec<String> {
        self.read().names()
    }

    fn __len__(&self) -> usize {
        self.read().len()
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        name.extract::<String>()
            .is_ok_and(|n| self.read().contains(&n))
    }

    /// Write the users file (atomically, mode 0600).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let db = self.read().clone();
        wrap(py, py.detach(|| db.save(&path)))
    }

    /// The users file text that ``save`` writes.
    fn dumps(&self) -> String {
        self.read().to_text()
    }

    /// Read a users file.
    #[classmethod]
    fn load<'py>(cls: &Bound<'py, PyType>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let db = wrap(py, py.detach(|| UserDb::load(&path)))?;
        let obj = cls.call0()?;
        *obj.cast::<PyUsers>()?.get().write() = db;
        Ok(obj)
    }

    /// Replace the accounts, aliases and domains with those of the users file at ``path``, in
    /// place: servers given this object see the change at once. On error nothing changes.
    fn reload(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let db = wrap(py, py.detach(|| UserDb::load(&path)))?;
        *self.write() = db;
        Ok(())
    }

    /// Parse users file text.
    #[classmethod]
    fn loads<'py>(cls: &Bound<'py, PyType>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let db = wrap(py, UserDb::from_text(text, None))?;
        let obj = cls.call0()?;
        *obj.cast::<PyUsers>()?.get().write() = db;
        Ok(obj)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMaildir>()?;
    m.add_class::<PyMaildirEntry>()?;
    m.add_class::<PyMaildirItems>()?;
    m.add_class::<PyMaildropLock>()?;
    m.add_class::<PyMbox>()?;
    m.add_class::<PyMboxItems>()?;
    m.add_class::<PyMaildirStore>()?;
    m.add_class::<PyUsers>()?;
    Ok(())
}
