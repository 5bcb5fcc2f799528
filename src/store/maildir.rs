//! One Maildir: `tmp/`, `new/`, `cur/`, one file per message (cr.yp.to/proto/maildir.html),
//! written and read the way Dovecot and Python's `mailbox.Maildir` do.
//!
//! A message's key is its file name up to the `:` (the unique part, with Dovecot's `,S=` and
//! `,W=` size fields when we wrote it); it never changes when the message moves from `new/` to
//! `cur/` or its flags change, so it doubles as the POP3 `UIDL`. The handle caches where each
//! key was last seen and looks again whenever a file is not where the cache says, so other
//! processes (Dovecot, mutt, Python) can work on the same Maildir at the same time.

use crate::sys::CreateMode;
use std::collections::HashMap;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::delivery::Delivery;
use super::durable::DirSync;
use super::error::{IoContext, Result, StoreError};
use super::lock::{DotLock, DotLockOptions};
use super::name;

/// The two directories messages live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subdir {
    /// Delivered, not yet seen by a mail client.
    New,
    /// Seen by a client; the file name carries the info (`:2,<flags>`).
    Cur,
}

impl Subdir {
    pub fn as_str(self) -> &'static str {
        match self {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        }
    }
}

/// What a listing knows about one message without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirEntry {
    /// The stable key (file name before `:`).
    pub key: String,
    pub subdir: Subdir,
    /// The full file name, info included.
    pub file_name: String,
    /// Size in bytes: the `,S=` field when present, else from `stat`.
    pub size: u64,
    /// Size with every line ending as CRLF (the `,W=` field), what POP3 `LIST` reports
    /// (RFC 1939 §11); `None` when the name does not carry it (see [`Maildir::crlf_size`]).
    pub crlf_size: Option<u64>,
}

impl MaildirEntry {
    /// The info part after `:`, if any.
    pub fn info(&self) -> Option<&str> {
        name::split(&self.file_name).1
    }

    /// The flags (letters after `:2,`).
    pub fn flags(&self) -> &str {
        name::flags_of(self.info())
    }
}

/// Options for [`Maildir::add_with`] and [`Maildir::begin`].
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// fsync the file and the directory before returning (default). `false` is for bulk
    /// imports that sync once at the end. (Python's `mailbox` fsyncs the file but not `new/`.)
    pub durable: bool,
    /// Deliver straight into `cur/` with these flags (as when copying mail that was already
    /// read); `None` delivers into `new/`.
    pub flags: Option<String>,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self {
            durable: true,
            flags: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) tmp: PathBuf,
    new: PathBuf,
    cur: PathBuf,
    new_sync: Arc<DirSync>,
    cur_sync: Arc<DirSync>,
    /// key -> where it was last seen (a hint, re-checked on use).
    toc: Mutex<HashMap<String, (Subdir, String)>>,
    /// Told of every message placed or renamed through this handle (see
    /// [`Maildir::add_change_hook`]).
    hooks: Mutex<Vec<(u64, ChangeHook)>>,
}

/// Called with `(key, subdir, file name)` of a message just delivered (once durable) or
/// renamed (flags changed) through a [`Maildir`] handle or a clone of it.
pub type ChangeHook = Arc<dyn Fn(&str, Subdir, &str) + Send + Sync>;

/// A handle on one Maildir. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Maildir {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Maildir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Maildir").field(&self.inner.path).finish()
    }
}

/// The name of the POP3 maildrop lock: the dot-lock Dovecot's own POP3 server holds for a
/// session when `pop3_lock_session = yes` (same name, same `<pid>:<host>` content), so a
/// mailprims POP3 session and a Dovecot one exclude each other.
pub const MAILDROP_LOCK: &str = "dovecot-pop3-session.lock";

impl Maildir {
    /// Open the Maildir at `path`; with `create`, make it (mode 0700, like Dovecot and Python)
    /// and any missing sub-directory. Without `create`, a missing directory is `NotFound`.
    pub fn open(path: impl AsRef<Path>, create: bool) -> Result<Maildir> {
        let path = path.as_ref().to_path_buf();
        if cfg!(windows) {
            return Err(StoreError::io(
                "open Maildir",
                &path,
                crate::sys::no_maildir(),
            ));
        }
        let (tmp, new, cur) = (path.join("tmp"), path.join("new"), path.join("cur"));
        if create {
            DirBuilder::new()
                .recursive(true)
                .create_mode(0o700)
                .create(&path)
                .ctx("create Maildir", &path)?;
            for dir in [&tmp, &new, &cur] {
                match DirBuilder::new().create_mode(0o700).create(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(StoreError::io("create Maildir", dir, e)),
                }
            }
        }
        for dir in [&path, &tmp, &new, &cur] {
            let meta = fs::metadata(dir).ctx("open Maildir", dir)?;
            if !meta.is_dir() {
                return Err(StoreError::io(
                    "open Maildir",
                    dir,
                    io::Error::from_raw_os_error(libc::ENOTDIR),
                ));
            }
        }
        let new_sync = DirSync::for_dir(&new).ctx("open Maildir", &new)?;
        let cur_sync = DirSync::for_dir(&cur).ctx("open Maildir", &cur)?;
        Ok(Maildir {
            inner: Arc::new(Inner {
                path,
                tmp,
                new,
                cur,
                new_sync,
                cur_sync,
                toc: Mutex::new(HashMap::new()),
                hooks: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn dir(&self, sub: Subdir) -> &Path {
        match sub {
            Subdir::New => &self.inner.new,
            Subdir::Cur => &self.inner.cur,
        }
    }

    pub(crate) fn syncer(&self, sub: Subdir) -> &Arc<DirSync> {
        match sub {
            Subdir::New => &self.inner.new_sync,
            Subdir::Cur => &self.inner.cur_sync,
        }
    }

    fn toc(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Subdir, String)>> {
        self.inner.toc.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remember(&self, key: &str, sub: Subdir, file_name: String) {
        let hooks: Vec<ChangeHook> = {
            let hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
            hooks.iter().map(|(_, h)| h.clone()).collect()
        };
        for hook in &hooks {
            hook(key, sub, &file_name);
        }
        self.toc().insert(key.to_owned(), (sub, file_name));
    }

    /// Call `hook` for every message this handle (or a clone: the SMTP server and the IMAP
    /// server share the store's handle of a user's Maildir) delivers or renames, on the thread
    /// doing it, once the change is on disk. It must return at once. Changes made by other
    /// processes or other handles are not reported. Returns an id for
    /// [`Maildir::remove_change_hook`].
    pub fn add_change_hook(&self, hook: ChangeHook) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.push((id, hook));
        id
    }

    /// Stop calling the hook [`Maildir::add_change_hook`] returned `id` for.
    pub fn remove_change_hook(&self, id: u64) {
        let mut hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.retain(|(i, _)| *i != id);
    }

    // ---- delivery ------------------------------------------------------------------------

    /// Deliver a message durably: write it to `tmp/`, fsync it, move it into `new/` (never
    /// replacing a file), fsync `new/`. Returns the key. On any failure nothing is left in
    /// `new/` or `tmp/`.
    pub fn add(&self, data: &[u8]) -> Result<String> {
        self.add_with(data, &AddOptions::default())
    }

    /// [`Maildir::add`] with options.
    pub fn add_with(&self, data: &[u8], options: &AddOptions) -> Result<String> {
        let mut delivery = self.begin(options)?;
        delivery.write(data)?;
        let mut keys = delivery.commit()?;
        keys.pop()
            .ok_or_else(|| StoreError::io("deliver", self.path(), io::ErrorKind::Other.into()))
    }

    /// Start a streaming delivery (write the message in pieces as it arrives, then
    /// [`Delivery::commit`]); dropping it uncommitted removes the temporary file.
    pub fn begin(&self, options: &AddOptions) -> Result<Delivery> {
        Delivery::new(vec![self.clone()], options)
    }

    // ---- listing -------------------------------------------------------------------------

    /// Read `new/` then `cur/`. A message moved from `new/` to `cur/` while we read is seen
    /// in both (never in neither): the `cur/` entry wins.
    fn scan(&self) -> Result<HashMap<String, (Subdir, String)>> {
        let mut found: HashMap<String, (Subdir, String)> = HashMap::new();
        for sub in [Subdir::New, Subdir::Cur] {
            let dir = self.dir(sub);
            for entry in fs::read_dir(dir).ctx("list Maildir", dir)? {
                let entry = entry.ctx("list Maildir", dir)?;
                let Ok(file_name) = entry.file_name().into_string() else {
                    continue; // not a name any Maildir writer makes
                };
                if file_name.starts_with('.') {
                    continue;
                }
                // d_type from readdir; only unknown types cost a stat.
                match entry.file_type() {
                    Ok(t) if t.is_dir() => continue,
                    Ok(_) => {}
                    Err(_) => continue, // vanished meanwhile
                }
                let key = name::split(&file_name).0.to_owned();
                found.insert(key, (sub, file_name));
            }
        }
        *self.toc() = found.clone();
        Ok(found)
    }

    /// The keys in delivery order (the time in the name, then the name), as Dovecot sorts.
    pub fn keys(&self) -> Result<Vec<String>> {
        let found = self.scan()?;
        let mut names: Vec<(&String, &String)> =
            found.iter().map(|(k, (_, name))| (k, name)).collect();
        names.sort_by(|a, b| name::sort_key(a.1).cmp(&name::sort_key(b.1)));
        Ok(names.into_iter().map(|(k, _)| k.clone()).collect())
    }

    /// Every message with its size, in delivery order, without reading any message: sizes come
    /// from the `,S=`/`,W=` fields, and only names without `,S=` cost a `stat`.
    pub fn list(&self) -> Result<Vec<MaildirEntry>> {
        let found = self.scan()?;
        let mut out = Vec::with_capacity(found.len());
        for (key, (sub, file_name)) in found {
            let size = match name::size_field(&file_name, b'S') {
                Some(s) => s,
                None => match fs::metadata(self.dir(sub).join(&file_name)) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io("stat", self.dir(sub).join(file_name), e)),
                },
            };
            let crlf_size = name::size_field(&file_name, b'W');
            out.push(MaildirEntry {
                key,
                subdir: sub,
                file_name,
                size,
                crlf_size,
            });
        }
        out.sort_by(|a, b| name::sort_key(&a.file_name).cmp(&name::sort_key(&b.file_name)));
        Ok(out)
    }

    /// Number of messages in `new/` and `cur/`.
    pub fn len(&self) -> Result<usize> {
        Ok(self.scan()?.len())
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    pub fn contains(&self, key: &str) -> Result<bool> {
        match self.locate(key) {
            Ok(_) => Ok(true),
            Err(StoreError::NoSuchMessage { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ---- lookup --------------------------------------------------------------------------

    /// Where `key` is now: the cached place if the file is still there, else a fresh scan.
    fn locate(&self, key: &str) -> Result<(Subdir, String)> {
        if !name::valid_key(key) {
            return Err(StoreError::no_such_message(key));
        }
        let cached = self.toc().get(key).cloned();
        if let Some((sub, file_name)) = cached
            && fs::symlink_metadata(self.dir(sub).join(&file_name)).is_ok()
        {
            return Ok((sub, file_name));
        }
        self.scan()?
            .remove(key)
            .ok_or_else(|| StoreError::no_such_message(key))
    }

    /// Run `f` on the message file, looking again if it moved meanwhile (another process
    /// marking it seen renames it).
    fn with_file<T>(
        &self,
        key: &str,
        op: &'static str,
        mut f: impl FnMut(&Path) -> io::Result<T>,
    ) -> Result<T> {
        if !name::valid_key(key) {
            return Err(StoreError::no_such_message(key));
        }
        for attempt in 0..4 {
            let (sub, file_name) = if attempt == 0 {
                let cached = self.toc().get(key).cloned();
                match cached {
                    Some(place) => place,
                    None => self.locate(key)?,
                }
            } else {
                self.scan()?
                    .remove(key)
                    .ok_or_else(|| StoreError::no_such_message(key))?
            };
            let path = self.dir(sub).join(&file_name);
            match f(&path) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(op, path, e)),
            }
        }
        Err(StoreError::no_such_message(key))
    }

    /// The current path of a message file.
    pub fn path_of(&self, key: &str) -> Result<PathBuf> {
        let (sub, file_name) = self.locate(key)?;
        Ok(self.dir(sub).join(file_name))
    }

    /// Where the message is and its full file name.
    pub fn location(&self, key: &str) -> Result<(Subdir, String)> {
        self.locate(key)
    }

    /// The message's bytes, exactly as stored.
    pub fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.with_file(key, "read message", |p| fs::read(p))
    }

    /// An open file on the message.
    pub fn open_file(&self, key: &str) -> Result<File> {
        self.with_file(key, "open message", |p| File::open(p))
    }

    /// Size in bytes (the `,S=` field, else `stat`).
    pub fn size(&self, key: &str) -> Result<u64> {
        let (_, file_name) = self.locate(key)?;
        if let Some(s) = name::size_field(&file_name, b'S') {
            return Ok(s);
        }
        self.with_file(key, "stat message", |p| fs::metadata(p).map(|m| m.len()))
    }

    /// Size with CRLF line endings, what POP3 `LIST` and `RETR` count (RFC 1939 §11): the
    /// `,W=` field, else computed by reading the message once.
    pub fn crlf_size(&self, key: &str) -> Result<u64> {
        let (_, file_name) = self.locate(key)?;
        if let Some(w) = name::size_field(&file_name, b'W') {
            return Ok(w);
        }
        self.with_file(key, "read message", |p| {
            let mut counter = CrlfCounter::default();
            let mut file = File::open(p)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(counter.crlf_size);
                }
                counter.feed(&buf[..n]);
            }
        })
    }

    /// When the message was delivered: the file's modification time (Dovecot and Python's
    /// `MaildirMessage` use it as the received date).
    pub fn mtime(&self, key: &str) -> Result<SystemTime> {
        self.with_file(key, "stat message", |p| fs::metadata(p)?.modified())
    }

    // ---- removal -------------------------------------------------------------------------

    /// Delete a message.
    pub fn remove(&self, key: &str) -> Result<()> {
        self.with_file(key, "remove message", |p| fs::remove_file(p))?;
        self.toc().remove(key);
        Ok(())
    }

    /// Delete a message if it exists; `Ok(false)` if it did not.
    pub fn discard(&self, key: &str) -> Result<bool> {
        match self.remove(key) {
            Ok(()) => Ok(true),
            Err(StoreError::NoSuchMessage { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Delete several messages and make the deletions durable with one fsync per directory
    /// (POP3's UPDATE state, RFC 1939 §6). Messages already gone are skipped; every removal is
    /// attempted and the first error is returned. Returns how many were removed.
    pub fn remove_many<S: AsRef<str>>(&self, keys: &[S]) -> Result<usize> {
        let mut removed = 0;
        let mut first_error = None;
        for key in keys {
            match self.remove(key.as_ref()) {
                Ok(()) => removed += 1,
                Err(StoreError::NoSuchMessage { .. }) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if removed > 0 {
            for sub in [Subdir::New, Subdir::Cur] {
                if let Err(e) = self.syncer(sub).commit() {
                    first_error.get_or_insert(StoreError::io("sync", self.dir(sub), e));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Remove files left in `tmp/` by interrupted deliveries: those not accessed for
    /// `max_age` (the spec and Python use 36 hours). Returns how many were removed.
    pub fn clean(&self, max_age: Duration) -> Result<usize> {
        let tmp = &self.inner.tmp;
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in fs::read_dir(tmp).ctx("list Maildir", tmp)? {
            let entry = entry.ctx("list Maildir", tmp)?;
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            // Unknown access time (a file system without it): not old enough to remove.
            let accessed = meta.accessed().unwrap_or(now);
            if now.duration_since(accessed).unwrap_or_default() > max_age {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("remove", entry.path(), e)),
                }
            }
        }
        Ok(removed)
    }

    // ---- info and flags ------------------------------------------------------------------

    /// The info part of the file name (after `:`), `""` when there is none.
    pub fn info(&self, key: &str) -> Result<String> {
        let (_, file_name) = self.locate(key)?;
        Ok(name::split(&file_name).1.unwrap_or("").to_owned())
    }

    /// The flags, in ASCII order.
    pub fn flags(&self, key: &str) -> Result<String> {
        let (_, file_name) = self.locate(key)?;
        Ok(name::flags_of(name::split(&file_name).1).to_owned())
    }

    /// Rename the message to carry `info`; a non-empty info moves it to `cur/` (the spec: a
    /// file in `new/` has no info).
    pub fn set_info(&self, key: &str, info: &str) -> Result<()> {
        name::check_info(info)?;
        self.rename_with(key, |_| Some(info.to_owned()))
    }

    /// Replace the flags (moves the message to `cur/`).
    pub fn set_flags(&self, key: &str, flags: &str) -> Result<()> {
        let flags = name::normalize_flags(flags)?;
        self.rename_with(key, |_| Some(format!("2,{flags}")))
    }

    /// Add flags to those the message has.
    pub fn add_flags(&self, key: &str, flags: &str) -> Result<()> {
        name::normalize_flags(flags)?;
        self.rename_with(key, |current| {
            // Keep only letters from names other writers made.
            let merged: String = current
                .chars()
                .filter(char::is_ascii_alphabetic)
                .chain(flags.chars())
                .collect();
            name::normalize_flags(&merged)
                .ok()
                .map(|f| format!("2,{f}"))
        })
    }

    /// Remove flags from those the message has.
    pub fn remove_flags(&self, key: &str, flags: &str) -> Result<()> {
        name::normalize_flags(flags)?;
        self.rename_with(key, |current| {
            let kept: String = current.chars().filter(|c| !flags.contains(*c)).collect();
            Some(format!("2,{kept}"))
        })
    }

    /// Mark a message seen: move it from `new/` to `cur/` with the `S` flag, as Dovecot does
    /// when a POP3 client retrieves it.
    pub fn mark_seen(&self, key: &str) -> Result<()> {
        self.add_flags(key, "S")
    }

    /// Rename a message to `key:info` where `info = make(current flags)`, retrying if another
    /// process renamed it meanwhile.
    fn rename_with(&self, key: &str, make: impl Fn(&str) -> Option<String>) -> Result<()> {
        for attempt in 0..4 {
            let (sub, file_name) = if attempt == 0 {
                self.locate(key)?
            } else {
                self.scan()?
                    .remove(key)
                    .ok_or_else(|| StoreError::no_such_message(key))?
            };
            let current = name::flags_of(name::split(&file_name).1);
            let Some(info) = make(current) else {
                return Ok(());
            };
            let (target_sub, target_name) = if info.is_empty() {
                (sub, key.to_owned())
            } else {
                (Subdir::Cur, format!("{key}:{info}"))
            };
            if target_sub == sub && target_name == file_name {
                return Ok(());
            }
            let from = self.dir(sub).join(&file_name);
            let to = self.dir(target_sub).join(&target_name);
            match fs::rename(&from, &to) {
                Ok(()) => {
                    self.remember(key, target_sub, target_name);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("rename message", from, e)),
            }
        }
        Err(StoreError::no_such_message(key))
    }

    // ---- locking -------------------------------------------------------------------------

    /// Take the exclusive maildrop lock a POP3 session holds (RFC 1939 §8: "the POP3 server
    /// then acquires an exclusive-access lock on the maildrop"; RFC 3206 `IN-USE` when it
    /// cannot). Fails at once with [`StoreError::Locked`] if a live holder has it. A lock
    /// left by a dead process on this host, or not refreshed for `stale_after`, is broken.
    pub fn lock_maildrop(&self, stale_after: Duration) -> Result<DotLock> {
        DotLock::acquire(
            &self.inner.path.join(MAILDROP_LOCK),
            &DotLockOptions {
                timeout: Duration::ZERO,
                stale_after,
            },
        )
    }
}

/// Counts the size a message has once every bare LF becomes CRLF.
#[derive(Debug, Default, Clone)]
pub(crate) struct CrlfCounter {
    pub(crate) size: u64,
    pub(crate) crlf_size: u64,
    prev_cr: bool,
}

impl CrlfCounter {
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let mut bare_lf = 0u64;
        for pos in memchr::memchr_iter(b'\n', chunk) {
            let preceded = if pos == 0 {
                self.prev_cr
            } else {
                chunk[pos - 1] == b'\r'
            };
            if !preceded {
                bare_lf += 1;
            }
        }
        self.prev_cr = chunk[chunk.len() - 1] == b'\r';
        self.size += chunk.len() as u64;
        self.crlf_size += chunk.len() as u64 + bare_lf;
    }
}

/// The size of `data` with CRLF line endings.
pub fn crlf_size(data: &[u8]) -> u64 {
    let mut c = CrlfCounter::default();
    c.feed(data);
    c.crlf_size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::{FAULT, Fault};

    fn maildir() -> (tempfile::TempDir, Maildir) {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::open(dir.path().join("Maildir"), true).unwrap();
        (dir, md)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn layout_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, md) = maildir();
        for sub in ["tmp", "new", "cur"] {
            let meta = fs::metadata(md.path().join(sub)).unwrap();
            assert!(meta.is_dir());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        }
        let key = md.add(b"Subject: x\n\nbody\n").unwrap();
        let meta = fs::metadata(md.path_of(&key).unwrap()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn open_without_create_reports_not_found() {
        let dir = tempfile::tempdir().unwrap();
        match Maildir::open(dir.path().join("nope"), false) {
            Err(StoreError::Io { source, .. }) => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn add_names_the_file_with_sizes_and_reads_back() {
        let (_d, md) = maildir();
        let data = b"Subject: hi\n\nline one\nline two\r\n";
        let key = md.add(data).unwrap();
        assert!(key.ends_with(&format!(",S={},W={}", data.len(), data.len() + 3)));
        assert_eq!(entries(&md.path().join("new")), vec![key.clone()]);
        assert!(entries(&md.path().join("tmp")).is_empty());
        assert_eq!(md.read(&key).unwrap(), data);
        assert_eq!(md.size(&key).unwrap(), data.len() as u64);
        assert_eq!(md.crlf_size(&key).unwrap(), data.len() as u64 + 3);
        assert_eq!(md.keys().unwrap(), vec![key.clone()]);
        assert!(md.contains(&key).unwrap());
        assert!(!md.contains("nope").unwrap());
        assert!(!md.contains("../etc/passwd").unwrap());
    }

    #[test]
    fn flags_move_to_cur_sorted() {
        let (_d, md) = maildir();
        let key = md.add(b"x\n").unwrap();
        md.set_flags(&key, "SRF").unwrap();
        assert_eq!(
            entries(&md.path().join("cur")),
            vec![format!("{key}:2,FRS")]
        );
        assert!(entries(&md.path().join("new")).is_empty());
        md.remove_flags(&key, "R").unwrap();
        assert_eq!(md.flags(&key).unwrap(), "FS");
        md.add_flags(&key, "T").unwrap();
        assert_eq!(md.info(&key).unwrap(), "2,FST");
        assert!(md.set_flags(&key, "S!").is_err());
        md.set_flags(&key, "").unwrap();
        assert_eq!(entries(&md.path().join("cur")), vec![format!("{key}:2,")]);
    }

    #[test]
    fn mark_seen_moves_new_to_cur() {
        let (_d, md) = maildir();
        let key = md.add(b"x\n").unwrap();
        md.mark_seen(&key).unwrap();
        assert_eq!(entries(&md.path().join("cur")), vec![format!("{key}:2,S")]);
        // Idempotent.
        md.mark_seen(&key).unwrap();
        assert_eq!(md.flags(&key).unwrap(), "S");
    }

    #[test]
    fn a_message_renamed_by_another_process_is_found_again() {
        let (_d, md) = maildir();
        let key = md.add(b"payload\n").unwrap();
        let other = Maildir::open(md.path(), false).unwrap();
        // Warm this handle's cache, then move the file behind its back.
        assert_eq!(md.read(&key).unwrap(), b"payload\n");
        other.mark_seen(&key).unwrap();
        assert_eq!(md.read(&key).unwrap(), b"payload\n");
        assert_eq!(md.flags(&key).unwrap(), "S");
    }

    #[test]
    fn remove_and_discard() {
        let (_d, md) = maildir();
        let a = md.add(b"a\n").unwrap();
        let b = md.add(b"b\n").unwrap();
        md.remove(&a).unwrap();
        assert!(matches!(
            md.remove(&a),
            Err(StoreError::NoSuchMessage { .. })
        ));
        assert!(!md.discard(&a).unwrap());
        assert_eq!(md.remove_many(&[a.as_str(), b.as_str()]).unwrap(), 1);
        assert_eq!(md.len().unwrap(), 0);
    }

    #[test]
    fn listing_order_is_delivery_order() {
        let (_d, md) = maildir();
        // Names from other writers: older qmail style, Python's, Dovecot's.
        for name in [
            "1700000002.M5P9.host,S=2",
            "1700000001.M999999P9Q1.host",
            "1700000001.M20P9.host:2,S",
            "1600000000.12345_1.host",
        ] {
            let sub = if name.contains(':') { "cur" } else { "new" };
            fs::write(md.path().join(sub).join(name), b"xy").unwrap();
        }
        let keys = md.keys().unwrap();
        assert_eq!(
            keys,
            [
                "1600000000.12345_1.host",
                "1700000001.M20P9.host",
                "1700000001.M999999P9Q1.host",
                "1700000002.M5P9.host,S=2",
            ]
        );
        let list = md.list().unwrap();
        assert_eq!(
            list.iter().map(|m| m.size).collect::<Vec<_>>(),
            [2, 2, 2, 2]
        );
        assert_eq!(list[1].flags(), "S");
        assert_eq!(list[1].subdir, Subdir::Cur);
        assert_eq!(list[0].crlf_size, None);
    }

    #[test]
    fn dot_files_and_directories_are_not_messages() {
        let (_d, md) = maildir();
        fs::write(md.path().join("new/.hidden"), b"x").unwrap();
        fs::create_dir(md.path().join("cur/subdir")).unwrap();
        assert_eq!(md.len().unwrap(), 0);
    }

    #[test]
    fn crlf_counter_across_chunks() {
        let mut c = CrlfCounter::default();
        c.feed(b"a\r");
        c.feed(b"\nb\n");
        c.feed(b"\n");
        assert_eq!(c.size, 6);
        assert_eq!(c.crlf_size, 8);
        assert_eq!(crlf_size(b""), 0);
        assert_eq!(crlf_size(b"\n\n"), 4);
    }

    fn assert_nothing_delivered(md: &Maildir) {
        assert!(entries(&md.path().join("new")).is_empty());
        assert!(entries(&md.path().join("cur")).is_empty());
        assert!(entries(&md.path().join("tmp")).is_empty());
    }

    #[test]
    fn failures_leave_nothing_behind() {
        for (point, errno) in [
            (Fault::Write, libc::ENOSPC),
            (Fault::SyncFile, libc::EIO),
            (Fault::Rename, libc::EDQUOT),
            (Fault::SyncDir, libc::EIO),
        ] {
            let (_d, md) = maildir();
            FAULT.with(|f| f.set(Some((point, errno))));
            let result = md.add(b"Subject: doomed\n\nbody\n");
            FAULT.with(|f| f.set(None));
            let err = result.unwrap_err();
            assert_eq!(err.errno(), Some(errno), "{point:?}");
            assert_eq!(err.is_storage_full(), errno != libc::EIO);
            assert_nothing_delivered(&md);
            // The Maildir still works afterwards.
            md.add(b"ok\n").unwrap();
        }
    }

    #[test]
    fn no_clobber_on_name_clash() {
        let (_d, md) = maildir();
        let mut d = md.begin(&AddOptions::default()).unwrap();
        d.write(b"new message\n").unwrap();
        // Another writer already used the name this delivery will take.
        let clash = d.final_name();
        fs::write(md.path().join("new").join(&clash), b"existing\n").unwrap();
        let key = d.commit().unwrap().pop().unwrap();
        assert_ne!(key, clash);
        assert_eq!(md.read(&clash).unwrap(), b"existing\n");
        assert_eq!(md.read(&key).unwrap(), b"new message\n");
    }

    #[test]
    fn clean_removes_only_old_tmp_files() {
        let (_d, md) = maildir();
        let old = md.path().join("tmp/old");
        fs::write(&old, b"x").unwrap();
        let past = SystemTime::now() - Duration::from_secs(40 * 3600);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_times(fs::FileTimes::new().set_accessed(past).set_modified(past))
            .unwrap();
        fs::write(md.path().join("tmp/fresh"), b"x").unwrap();
        assert_eq!(md.clean(Duration::from_secs(36 * 3600)).unwrap(), 1);
        assert_eq!(entries(&md.path().join("tmp")), vec!["fresh".to_owned()]);
    }

    #[test]
    fn concurrent_deliveries_all_arrive_with_distinct_names() {
        let (_d, md) = maildir();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let md = md.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .map(|i| md.add(format!("t{t} m{i}\n").as_bytes()).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut keys: Vec<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 200);
        assert_eq!(md.len().unwrap(), 200);
    }

    #[test]
    fn change_hooks_see_deliveries_and_renames_until_removed() {
        let (_d, md) = maildir();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let id = md.add_change_hook(Arc::new(move |key: &str, sub: Subdir, file: &str| {
            sink.lock()
                .unwrap()
                .push((key.to_owned(), sub, file.to_owned()));
        }));
        let key = md.clone().add(b"x\n").unwrap();
        md.add_flags(&key, "S").unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (key.clone(), Subdir::New, key.clone()),
                (key.clone(), Subdir::Cur, format!("{key}:2,S"))
            ]
        );
        md.remove_change_hook(id);
        md.add(b"y\n").unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn maildrop_lock_is_exclusive() {
        let (_d, md) = maildir();
        let lock = md.lock_maildrop(Duration::from_secs(600)).unwrap();
        assert!(matches!(
            md.lock_maildrop(Duration::from_secs(600)),
            Err(StoreError::Locked { .. })
        ));
        drop(lock);
        md.lock_maildrop(Duration::from_secs(600)).unwrap();
    }
}
