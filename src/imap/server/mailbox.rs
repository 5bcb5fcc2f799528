//! One mailbox (a Maildir) as every session of this server sees it: the messages with their
//! UIDs and flags, kept in step with the files, and the changes sessions must be told about.
//!
//! The truth is on disk: a message is a file, its flags are the letters after `:2,` in the
//! file name (`S` seen, `R` answered, `F` flagged, `T` deleted, `D` draft, `a`-`z` keywords
//! from `dovecot-keywords`), its UID is in `dovecot-uidlist`. A flag change is one rename,
//! so a crash leaves the message under its old name or its new one, never neither; an
//! EXPUNGE unlinks. [`State`] is the in-memory picture, changed only under the mailbox's
//! lock and only after the disk changed; every change bumps [`State::version`] and wakes
//! the sessions that have the mailbox selected, which then work out what to report.
//!
//! Where changes come from: this server's sessions (they update the state themselves),
//! deliveries through the store's handle of the user's Maildir (the SMTP server, reported by
//! a [`crate::store::ChangeHook`] at once), and anything else (Dovecot, a MUA, another
//! process), seen when the `new/` or `cur/` directory's change time moves. All methods block
//! on the file system: sessions call them on the blocking pool.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::control::{self, Ctx, FileSig, Record, UidList};
use super::index::{self, Basis, DirStamp};
use crate::store::{Maildir, StoreError, Subdir, name};

pub type Result<T> = std::result::Result<T, StoreError>;

/// The system flags as bits of [`Flags::system`].
pub const SEEN: u8 = 1;
pub const ANSWERED: u8 = 2;
pub const FLAGGED: u8 = 4;
pub const DELETED: u8 = 8;
pub const DRAFT: u8 = 16;

/// The system flags: bit, IMAP name, Maildir letter.
pub const SYSTEM_FLAGS: [(u8, &str, char); 5] = [
    (ANSWERED, "\\Answered", 'R'),
    (FLAGGED, "\\Flagged", 'F'),
    (DELETED, "\\Deleted", 'T'),
    (SEEN, "\\Seen", 'S'),
    (DRAFT, "\\Draft", 'D'),
];

/// A message's flags: the system flags, the keyword letters (bit 0 is `a`), and any other
/// upper-case letters other software put in the name (`P`, passed), kept as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    pub system: u8,
    pub keywords: u32,
    pub other: u32,
}

impl Flags {
    /// The flags of a file name's info (`2,FRS`).
    pub fn from_info(info: Option<&str>) -> Flags {
        let mut f = Flags::default();
        for c in name::flags_of(info).chars() {
            match c {
                'a'..='z' => f.keywords |= 1 << (c as u32 - 'a' as u32),
                'A'..='Z' => match SYSTEM_FLAGS.iter().find(|(_, _, l)| *l == c) {
                    Some((bit, _, _)) => f.system |= bit,
                    None => f.other |= 1 << (c as u32 - 'A' as u32),
                },
                _ => {}
            }
        }
        f
    }

    /// The letters after `:2,`, in ASCII order as the Maildir specification asks.
    pub fn letters(&self) -> String {
        let mut out = String::new();
        for c in 'A'..='Z' {
            let bit = 1u32 << (c as u32 - 'A' as u32);
            let system = SYSTEM_FLAGS
                .iter()
                .any(|(b, _, l)| *l == c && self.system & b != 0);
            if system || self.other & bit != 0 {
                out.push(c);
            }
        }
        for c in 'a'..='z' {
            if self.keywords & (1 << (c as u32 - 'a' as u32)) != 0 {
                out.push(c);
            }
        }
        out
    }

    pub fn has(&self, bit: u8) -> bool {
        self.system & bit != 0
    }
}

/// The file names of messages, one block for many: a mailbox loaded from its index shares
/// one for all of them, read from the index file only when a name is first needed (a
/// SELECT needs none); a name made later (a flag change, a delivery) has its own.
pub struct NameBlock {
    text: OnceLock<String>,
    /// The index file (kept open: a newer index renamed over it does not matter), the
    /// offset and length of the names in it, and their CRC-32 as checked at load.
    source: Mutex<Option<std::fs::File>>,
    offset: u64,
    len: usize,
    crc: u32,
}

impl NameBlock {
    /// Names held in memory.
    pub fn loaded(text: String) -> NameBlock {
        let len = text.len();
        NameBlock {
            text: OnceLock::from(text),
            source: Mutex::new(None),
            offset: 0,
            len,
            crc: 0,
        }
    }

    /// Names to be read from `file` when first needed (`set_source` gives the file).
    pub fn deferred(offset: u64, len: usize, crc: u32) -> NameBlock {
        NameBlock {
            text: OnceLock::new(),
            source: Mutex::new(None),
            offset,
            len,
            crc,
        }
    }

    pub fn set_source(&self, file: std::fs::File) {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    }

    /// The names, read now if they have not been. Empty if they cannot be read as they were
    /// at load (the file changed in place since, or failed): see [`NameBlock::intact`].
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| self.read().unwrap_or_default())
    }

    fn read(&self) -> Option<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self
            .source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        file.seek(SeekFrom::Start(self.offset)).ok()?;
        let mut buf = Vec::with_capacity(self.len);
        file.take(self.len as u64).read_to_end(&mut buf).ok()?;
        if buf.len() != self.len || crc32fast::hash(&buf) != self.crc {
            return None;
        }
        String::from_utf8(buf).ok()
    }

    /// Whether the names are all there (read if needed).
    pub fn intact(&self) -> bool {
        self.text().len() == self.len
    }
}

impl std::fmt::Debug for NameBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameBlock")
            .field("len", &self.len)
            .field("read", &self.text.get().is_some())
            .finish()
    }
}

/// A message's file name: a range of a [`NameBlock`] (16 bytes a message).
#[derive(Clone)]
pub struct FileName {
    block: Arc<NameBlock>,
    at: u32,
    len: u32,
}

impl FileName {
    /// `len` bytes of `block` from `at` (checked by the caller: a range of whole characters).
    pub fn shared(block: &Arc<NameBlock>, at: usize, len: usize) -> Option<FileName> {
        Some(FileName {
            block: block.clone(),
            at: u32::try_from(at).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }
}

impl std::ops::Deref for FileName {
    type Target = str;
    fn deref(&self) -> &str {
        let at = self.at as usize;
        self.block
            .text()
            .get(at..at + self.len as usize)
            .unwrap_or("")
    }
}

impl From<String> for FileName {
    fn from(s: String) -> FileName {
        let len = u32::try_from(s.len()).unwrap_or(0);
        FileName {
            block: Arc::new(NameBlock::loaded(s)),
            at: 0,
            len,
        }
    }
}

impl From<&str> for FileName {
    fn from(s: &str) -> FileName {
        FileName::from(s.to_owned())
    }
}

impl std::fmt::Debug for FileName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// One message.
#[derive(Debug, Clone)]
pub struct Msg {
    pub uid: u32,
    pub flags: Flags,
    /// The [`State::version`] of its last flag change.
    pub modseq: u64,
    pub sub: Subdir,
    /// The file name in `new/` or `cur/`.
    pub file: FileName,
    /// What few messages carry or only some commands ask for, behind one pointer: a
    /// 100,000-message mailbox is 100,000 of these structures (56 bytes each).
    pub extra: Option<Box<Extra>>,
}

/// The rarer parts of a [`Msg`].
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Size with CRLF line ends (RFC822.SIZE), once known.
    pub size: Option<u64>,
    /// INTERNALDATE: the file's modification time (as Dovecot and Python's `mailbox` read
    /// it), once known.
    pub internal_date: Option<i64>,
    /// Dovecot's extension fields from the uidlist, kept for rewrites.
    pub ext: Option<Box<str>>,
}

impl Extra {
    /// The extra part of a message whose uidlist record had `ext` (none when empty).
    pub fn with_ext(ext: &str) -> Option<Box<Extra>> {
        (!ext.is_empty()).then(|| {
            Box::new(Extra {
                ext: Some(ext.into()),
                ..Extra::default()
            })
        })
    }
}

impl Msg {
    /// Dovecot's extension fields from the uidlist, if any.
    pub fn ext(&self) -> Option<&str> {
        self.extra.as_ref()?.ext.as_deref()
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub fn key(&self) -> &str {
        name::split(&self.file).0
    }

    /// The size field of the name (`,W=`, what Dovecot and we write), if present.
    fn size_from_name(&self) -> Option<u64> {
        name::size_field(&self.file, b'W')
    }
}

/// What a rescan found of one file.
type Found = HashMap<String, (Subdir, String)>;

/// The mailbox as this server knows it.
pub struct State {
    pub uid_validity: u32,
    pub next_uid: u32,
    /// Ascending UIDs.
    pub messages: Vec<Msg>,
    /// Key -> UID, built when first needed (a mailbox loaded from its index and only read
    /// never needs it).
    by_key: OnceCell<HashMap<Box<str>, u32>>,
    /// Bumped by every change sessions may need to hear of.
    pub version: u64,
    /// The [`State::version`] when the keyword list last grew (sessions send `* FLAGS`).
    pub keywords_version: u64,
    /// Keywords by letter (0 is `a`).
    pub keywords: Vec<Option<String>>,
    /// The mailbox was deleted or renamed, or its UIDVALIDITY changed under us: sessions
    /// that have it selected must end (`* BYE`).
    pub gone: bool,
    uidlist: UidList,
    /// The directories (`new/`, `cur/`) at the last scan, and whether a change could have
    /// been missed (the change time is as coarse as the kernel's clock tick).
    dirs: [DirStamp; 2],
    dirs_dirty: bool,
    /// What the index file on disk was made from (directories, uidlist), when it is known
    /// to match the state: it is not written again for nothing.
    indexed: Option<([DirStamp; 2], Option<FileSig>)>,
    /// Read from the index file (no scan).
    pub from_index: bool,
    /// The names block of a load from the index, until its names were found intact.
    names: Option<Arc<NameBlock>>,
}

/// `new/` and `cur/` now.
fn dir_stamps(path: &Path) -> [DirStamp; 2] {
    [
        DirStamp::of(&path.join("new")),
        DirStamp::of(&path.join("cur")),
    ]
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// List `new/` and `cur/`: key -> (subdir, file name). A message moved from `new/` to `cur/`
/// while we read is seen in both; `cur/` wins.
fn scan_dirs(path: &Path) -> Result<Found> {
    let mut found: Found = HashMap::new();
    for sub in [Subdir::New, Subdir::Cur] {
        let dir = path.join(sub.as_str());
        for entry in fs::read_dir(&dir).ctx("list Maildir", &dir)? {
            let entry = entry.ctx("list Maildir", &dir)?;
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let key = name::split(&file).0.to_owned();
            if sub == Subdir::New && found.contains_key(&key) {
                continue;
            }
            found.insert(key, (sub, file));
        }
    }
    Ok(found)
}

impl State {
    /// Read a Maildir: from its index file when that is still true, else its uidlist and
    /// its files, with UIDs for files that have none (written to the uidlist before this
    /// returns) and the index written again.
    pub fn load(path: &Path, user_root: &Path) -> Result<State> {
        if let Some(state) = State::from_index(path)? {
            return Ok(state);
        }
        let started = now_ns();
        let dirs = dir_stamps(path);
        let found = scan_dirs(path)?;
        let keywords = control::read_keywords(path)?;
        let uidlist = control::read_uidlist(path)?.unwrap_or_default();
        let mut state = State {
            uid_validity: uidlist.uid_validity,
            next_uid: uidlist.next_uid.max(1),
            messages: Vec::with_capacity(found.len()),
            by_key: OnceCell::new(),
            version: 1,
            keywords_version: 1,
            keywords,
            gone: false,
            uidlist,
            dirs,
            dirs_dirty: false,
            indexed: None,
            from_index: false,
            names: None,
        };
        state.dirs_dirty = state.recent_dirs(started);
        let records = std::mem::take(&mut state.uidlist.records);
        let mut found = found;
        for r in records {
            if let Some((sub, file)) = found.remove(&r.name) {
                state.push(Msg {
                    uid: r.uid,
                    flags: Flags::from_info(name::split(&file).1),
                    modseq: 1,
                    sub,
                    file: file.into(),
                    extra: Extra::with_ext(&r.ext),
                });
            }
        }
        let stale = state.uidlist.broken;
        state.assign(path, user_root, found)?;
        if stale > 0 {
            // Out-of-order or unreadable records: write the file again, cleanly.
            let _lock = control::lock(&path.join(control::UIDLIST))?;
            state.rewrite_uidlist(path)?;
        }
        state.save_index(
            path,
            Basis {
                dirs,
                scanned_at: started,
            },
        );
        Ok(state)
    }

    /// The state as the folder's index file recorded it, if that is intact and still true.
    fn from_index(path: &Path) -> Result<Option<State>> {
        let Some(loaded) = index::load(path) else {
            return Ok(None);
        };
        let keywords = control::read_keywords(path)?;
        let dirs = loaded.basis.dirs;
        let sig = loaded.uidlist.sig;
        Ok(Some(State {
            uid_validity: loaded.uidlist.uid_validity,
            next_uid: loaded.next_uid,
            messages: loaded.messages,
            by_key: OnceCell::new(),
            version: 1,
            keywords_version: 1,
            keywords,
            gone: false,
            uidlist: loaded.uidlist,
            dirs,
            dirs_dirty: false,
            indexed: Some((dirs, sig)),
            from_index: true,
            names: loaded.names,
        }))
    }

    /// Write the index file after a full scan made at `basis`, if the directories were quiet
    /// then (else a change could hide behind an unchanged time: a later scan writes it) and
    /// the file on disk is not this one already. A cache: failing to write it (a read-only
    /// Maildir, say) only costs the next load a scan.
    fn save_index(&mut self, path: &Path, basis: Basis) {
        let made_from = (basis.dirs, self.uidlist.sig);
        if self.gone || !basis.stable() || self.indexed == Some(made_from) {
            return;
        }
        if let Some(data) = index::encode(&basis, &self.uidlist, self.next_uid, &self.messages)
            && index::write(path, &data).is_ok()
        {
            self.indexed = Some(made_from);
        }
    }

    /// Whether the names of a load from the index could be read as they were checked at
    /// load. They cannot only if the index file was changed in place since (not by us: we
    /// replace it) or failed: then nothing that goes by names (a sync, an expunge) may go
    /// on, and the mailbox is marked gone so that it is loaded again by a scan.
    fn names_intact(&mut self) -> bool {
        let intact = self.names.as_ref().is_none_or(|b| b.intact());
        if intact {
            self.names = None;
        } else if !self.gone {
            self.gone = true;
            self.version += 1;
        }
        intact
    }

    fn names_failed(&self, path: &Path) -> StoreError {
        StoreError::io(
            "read message names",
            path.join(index::INDEX),
            io::Error::other("the index file changed after it was read"),
        )
    }

    /// Whether a directory changed so recently that a change in the same clock tick could
    /// be missed by comparing times.
    fn recent_dirs(&self, scan_started: i128) -> bool {
        let since = scan_started - index::STABLE_NS;
        self.dirs.iter().any(|d| d.mtime >= since)
    }

    /// Key -> UID (built on first use).
    fn keys(&self) -> &HashMap<Box<str>, u32> {
        self.by_key.get_or_init(|| {
            self.messages
                .iter()
                .map(|m| (Box::from(m.key()), m.uid))
                .collect()
        })
    }

    fn push(&mut self, msg: Msg) {
        if let Some(keys) = self.by_key.get_mut() {
            keys.insert(msg.key().into(), msg.uid);
        }
        self.messages.push(msg);
    }

    /// The position of `uid` in `messages`.
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    pub fn by_uid(&self, uid: u32) -> Option<&Msg> {
        self.position(uid).map(|i| &self.messages[i])
    }

    pub fn uid_of_key(&self, key: &str) -> Option<u32> {
        self.keys().get(key).copied()
    }

    /// Give UIDs to files that have none, in delivery order, under the uidlist lock: what
    /// another process (Dovecot) gave them meanwhile is taken as it is.
    fn assign(&mut self, path: &Path, user_root: &Path, mut new: Found) -> Result<bool> {
        if new.is_empty() && self.uidlist.uid_validity != 0 {
            return Ok(false);
        }
        let _lock = control::lock(&path.join(control::UIDLIST))?;
        control::refresh_uidlist(path, &mut self.uidlist)?;
        if self.uidlist.uid_validity == 0 {
            // No uidlist yet: a new mailbox as far as UIDs go.
            self.uidlist = UidList::new(control::next_uid_validity(user_root)?);
            self.uid_validity = self.uidlist.uid_validity;
            self.uidlist.next_uid = self.next_uid.max(1);
        } else if self.uidlist.uid_validity != self.uid_validity {
            // Someone started the mailbox's UIDs over: sessions cannot follow that.
            self.gone = true;
            return Ok(true);
        }
        // Records others appended: their files get those UIDs.
        let mut known = Vec::new();
        for r in std::mem::take(&mut self.uidlist.records) {
            if let Some((sub, file)) = new.remove(&r.name) {
                known.push((r.uid, sub, file, r.ext));
            }
        }
        let mut fresh: Vec<(String, Subdir, String)> = new
            .into_iter()
            .map(|(key, (sub, file))| (key, sub, file))
            .collect();
        fresh.sort_by(|a, b| name::sort_key(&a.2).cmp(&name::sort_key(&b.2)));
        let mut next = self.uidlist.next_uid.max(self.next_uid).max(1);
        let mut records = Vec::with_capacity(fresh.len());
        for (key, sub, file) in fresh {
            records.push(Record {
                uid: next,
                name: key,
                ext: String::new(),
            });
            known.push((next, sub, file, String::new()));
            next += 1;
        }
        if self.uidlist.sig.is_none() {
            // The file did not exist: write every record.
            self.uidlist.next_uid = next;
            let mut all = self.records();
            all.extend(records);
            all.sort_by_key(|r| r.uid);
            self.uidlist.records = all;
            control::write_uidlist(path, &mut self.uidlist)?;
            self.uidlist.records.clear();
        } else {
            self.uidlist.next_uid = next;
            control::append_uidlist(path, &mut self.uidlist, records)?;
            self.uidlist.records.clear();
        }
        self.next_uid = next.max(self.uidlist.next_uid);
        if known.is_empty() {
            return Ok(false);
        }
        known.sort_by_key(|k| k.0);
        let version = self.version + 1;
        let appended_in_order = known[0].0 > self.messages.last().map_or(0, |m| m.uid);
        for (uid, sub, file, ext) in known {
            let msg = Msg {
                uid,
                flags: Flags::from_info(name::split(&file).1),
                modseq: version,
                sub,
                file: file.into(),
                extra: Extra::with_ext(&ext),
            };
            if appended_in_order {
                self.push(msg);
            } else {
                // A UID below ours (another process assigned it before our last read).
                let at = self.messages.partition_point(|m| m.uid < uid);
                if let Some(keys) = self.by_key.get_mut() {
                    keys.insert(msg.key().into(), uid);
                }
                self.messages.insert(at, msg);
            }
        }
        self.version = version;
        Ok(true)
    }

    /// The uidlist records of the live messages.
    fn records(&self) -> Vec<Record> {
        self.messages
            .iter()
            .map(|m| Record {
                uid: m.uid,
                name: m.key().to_owned(),
                ext: m.ext().unwrap_or("").to_owned(),
            })
            .collect()
    }

    /// Write the uidlist again from the live messages (the caller holds its lock).
    fn rewrite_uidlist(&mut self, path: &Path) -> Result<()> {
        control::refresh_uidlist(path, &mut self.uidlist)?;
        self.uidlist.records = self.records();
        self.uidlist.next_uid = self.uidlist.next_uid.max(self.next_uid);
        let result = control::write_uidlist(path, &mut self.uidlist);
        self.uidlist.records.clear();
        result
    }

    /// Bring the state up to date with the files: a rescan when the directories changed (or
    /// `force`), plus what `changes` reports (the change hook). Returns whether anything
    /// changed.
    pub fn sync(
        &mut self,
        path: &Path,
        user_root: &Path,
        changes: Vec<(String, Subdir, String)>,
        force: bool,
    ) -> Result<bool> {
        if self.gone {
            return Ok(false);
        }
        if !self.names_intact() {
            return Ok(true);
        }
        let started = now_ns();
        let dirs = dir_stamps(path);
        if dirs.iter().all(|d| d.mtime == 0) && !path.join("cur").exists() {
            // The Maildir is gone (deleted or renamed by someone).
            self.gone = true;
            return Ok(true);
        }
        let rescan = force || self.dirs_dirty || dirs != self.dirs;
        let mut changed = false;
        let version = self.version + 1;
        let mut new: Found = HashMap::new();
        if rescan {
            let mut found = scan_dirs(path)?;
            self.dirs = dirs;
            self.dirs_dirty = self.recent_dirs(started);
            // Files gone: expunged by someone else.
            let before = self.messages.len();
            let mut renamed = Vec::new();
            self.messages.retain(|m| match found.remove(m.key()) {
                Some((sub, file)) => {
                    if *m.file != *file || m.sub != sub {
                        renamed.push((m.uid, sub, file));
                    }
                    true
                }
                None => false,
            });
            if self.messages.len() != before {
                if let Some(keys) = self.by_key.get_mut() {
                    let live: std::collections::HashSet<u32> =
                        self.messages.iter().map(|m| m.uid).collect();
                    keys.retain(|_, uid| live.contains(uid));
                }
                changed = true;
            }
            for (uid, sub, file) in renamed {
                changed |= self.renamed(uid, sub, &file, version);
            }
            new = found;
        }
        for (key, sub, file) in changes {
            match self.uid_of_key(&key) {
                Some(uid) => changed |= self.renamed(uid, sub, &file, version),
                None if !rescan => {
                    new.insert(key, (sub, file));
                }
                None => {}
            }
        }
        if changed {
            self.version = version;
        }
        let assigned = self.assign(path, user_root, new)?;
        if rescan {
            self.save_index(
                path,
                Basis {
                    dirs,
                    scanned_at: started,
                },
            );
        }
        Ok(changed || assigned)
    }

    /// A message's file has a new name: take its flags from it.
    fn renamed(&mut self, uid: u32, sub: Subdir, file: &str, version: u64) -> bool {
        let Some(i) = self.position(uid) else {
            return false;
        };
        let m = &mut self.messages[i];
        if *m.file == *file && m.sub == sub {
            return false;
        }
        let flags = Flags::from_info(name::split(file).1);
        m.sub = sub;
        m.file = file.into();
        if flags != m.flags {
            m.flags = flags;
            m.modseq = version;
        }
        true
    }

    /// The letter index of `keyword` (any case, as IMAP compares keywords... Dovecot keeps the
    /// first spelling), defining it in `dovecot-keywords` when `create` and there is room.
    pub fn keyword_index(
        &mut self,
        path: &Path,
        keyword: &str,
        create: bool,
    ) -> Result<Option<usize>> {
        let find = |list: &[Option<String>]| {
            list.iter().position(|k| {
                k.as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
            })
        };
        if let Some(i) = find(&self.keywords) {
            return Ok(Some(i));
        }
        if !create {
            return Ok(None);
        }
        let file = path.join(control::KEYWORDS);
        let _lock = control::lock(&file)?;
        // Another process may have defined keywords since we read them.
        let mut current = control::read_keywords(path)?;
        for (i, k) in self.keywords.iter().enumerate() {
            if let Some(k) = k
                && current.get(i).is_none_or(Option::is_none)
            {
                if current.len() <= i {
                    current.resize(i + 1, None);
                }
                current[i] = Some(k.clone());
            }
        }
        let index = match find(&current) {
            Some(i) => i,
            None => {
                let Some(free) = (0..control::MAX_KEYWORDS)
                    .find(|&i| current.get(i).is_none_or(Option::is_none))
                else {
                    self.keywords = current;
                    return Ok(None);
                };
                if current.len() <= free {
                    current.resize(free + 1, None);
                }
                current[free] = Some(keyword.to_owned());
                control::replace(&file, &keywords_text(&current))?;
                free
            }
        };
        self.keywords = current;
        self.version += 1;
        self.keywords_version = self.version;
        Ok(Some(index))
    }

    /// The defined keywords.
    pub fn keyword_names(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().filter_map(|k| k.as_deref())
    }

    /// Whether another keyword can still be defined.
    pub fn keywords_full(&self) -> bool {
        self.keyword_names().count() >= control::MAX_KEYWORDS
    }

    /// Give the messages at `positions` new flags (a rename each). Messages whose file
    /// vanished are skipped (expunged meanwhile). Returns the positions changed.
    pub fn set_flags(&mut self, path: &Path, changes: &[(usize, Flags)]) -> Result<Vec<usize>> {
        if !self.names_intact() {
            return Err(self.names_failed(path));
        }
        let version = self.version + 1;
        let mut done = Vec::with_capacity(changes.len());
        let mut first_error = None;
        for &(i, flags) in changes {
            let Some(m) = self.messages.get(i) else {
                continue;
            };
            if m.flags == flags {
                continue;
            }
            let target = format!("{}:2,{}", m.key(), flags.letters());
            let from = path.join(m.sub.as_str()).join(&*m.file);
            let to = path.join("cur").join(&target);
            match fs::rename(&from, &to) {
                Ok(()) => {
                    let m = &mut self.messages[i];
                    m.sub = Subdir::Cur;
                    m.file = target.into();
                    m.flags = flags;
                    m.modseq = version;
                    done.push(i);
                }
                // Renamed or removed by someone else: the next sync sorts it out.
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.dirs_dirty = true,
                Err(e) => {
                    first_error.get_or_insert(StoreError::io("rename message", from, e));
                }
            }
        }
        if !done.is_empty() {
            self.version = version;
        }
        match first_error {
            Some(e) if done.is_empty() => Err(e),
            _ => Ok(done),
        }
    }

    /// Remove the messages with these UIDs: unlink each file, then sync the directories once.
    /// Returns the UIDs removed (including files someone else removed first).
    pub fn expunge(&mut self, path: &Path, uids: &[u32]) -> Result<Vec<u32>> {
        if !self.names_intact() {
            return Err(self.names_failed(path));
        }
        let mut removed = Vec::with_capacity(uids.len());
        let mut first_error = None;
        let mut dirs = [false, false];
        for &uid in uids {
            let Some(i) = self.position(uid) else {
                continue;
            };
            let m = &self.messages[i];
            let file = path.join(m.sub.as_str()).join(&*m.file);
            match fs::remove_file(&file) {
                Ok(()) => {
                    dirs[usize::from(m.sub == Subdir::Cur)] = true;
                    removed.push(uid);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Renamed meanwhile (flags) or gone: find it by its key.
                    match self.relocate(path, i) {
                        Some(p) => match fs::remove_file(&p) {
                            Ok(()) => {
                                dirs = [true, true];
                                removed.push(uid);
                            }
                            Err(e) if e.kind() == io::ErrorKind::NotFound => removed.push(uid),
                            Err(e) => {
                                first_error.get_or_insert(StoreError::io("expunge", p, e));
                            }
                        },
                        None => removed.push(uid),
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(StoreError::io("expunge", file, e));
                }
            }
        }
        for (i, sub) in ["new", "cur"].iter().enumerate() {
            if dirs[i] {
                let dir = path.join(sub);
                if let Err(e) = crate::store::durable::sync_dir(&dir) {
                    first_error.get_or_insert(StoreError::io("fsync", dir, e));
                }
            }
        }
        self.forget(&removed);
        match first_error {
            Some(e) if removed.is_empty() => Err(e),
            _ => Ok(removed),
        }
    }

    /// Drop messages from the state (their files were removed or moved away).
    pub fn forget(&mut self, uids: &[u32]) {
        if uids.is_empty() {
            return;
        }
        let gone: std::collections::HashSet<u32> = uids.iter().copied().collect();
        self.messages.retain(|m| !gone.contains(&m.uid));
        if let Some(keys) = self.by_key.get_mut() {
            keys.retain(|_, uid| !gone.contains(uid));
        }
        self.version += 1;
    }

    /// Where the file of message `i` is now, looked up by its key.
    fn relocate(&mut self, path: &Path, i: usize) -> Option<PathBuf> {
        let key = self.messages[i].key().to_owned();
        for sub in [Subdir::Cur, Subdir::New] {
            let dir = path.join(sub.as_str());
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(file) = e.file_name().into_string()
                    && name::split(&file).0 == key
                {
                    let m = &mut self.messages[i];
                    m.sub = sub;
                    m.file = file.into();
                    return Some(e.path());
                }
            }
        }
        None
    }

    /// Files of messages delivered here by this server (APPEND, COPY, MOVE): their UIDs,
    /// given now (or found, when the change hook was quicker), in the order given.
    pub fn register(
        &mut self,
        path: &Path,
        user_root: &Path,
        files: Vec<(String, Subdir, String)>,
    ) -> Result<Vec<u32>> {
        if !self.names_intact() {
            return Err(self.names_failed(path));
        }
        let keys: Vec<String> = files.iter().map(|(k, _, _)| k.clone()).collect();
        let new: Found = files
            .into_iter()
            .filter(|(k, _, _)| self.uid_of_key(k).is_none())
            .map(|(k, s, f)| (k, (s, f)))
            .collect();
        // Registered one by one so UIDs follow the order given (COPYUID pairs them up).
        let mut by_order: Vec<(String, (Subdir, String))> = new.into_iter().collect();
        by_order.sort_by_key(|(k, _)| keys.iter().position(|x| x == k));
        for (k, v) in by_order {
            let mut one = HashMap::new();
            one.insert(k, v);
            self.assign(path, user_root, one)?;
        }
        Ok(keys.iter().filter_map(|k| self.uid_of_key(k)).collect())
    }

    /// RFC822.SIZE of message `i`: from the file name, else counted once.
    pub fn size(&mut self, path: &Path, i: usize) -> Option<u64> {
        let m = self.messages.get(i)?;
        let known = m.extra.as_ref().and_then(|e| e.size);
        if let Some(s) = known.or_else(|| m.size_from_name()) {
            return Some(s);
        }
        let file = path.join(m.sub.as_str()).join(&*m.file);
        let data = fs::read(file).ok()?;
        let size = crate::store::crlf_size(&data);
        self.messages[i].extra_mut().size = Some(size);
        Some(size)
    }

    /// INTERNALDATE of message `i` (seconds since the epoch).
    pub fn internal_date(&mut self, path: &Path, i: usize) -> Option<i64> {
        let m = self.messages.get(i)?;
        if let Some(d) = m.extra.as_ref().and_then(|e| e.internal_date) {
            return Some(d);
        }
        let file = path.join(m.sub.as_str()).join(&*m.file);
        let date = crate::sys::mtime(&fs::metadata(file).ok()?).0;
        self.messages[i].extra_mut().internal_date = Some(date);
        Some(date)
    }

    /// Counts for STATUS and SELECT: (messages, unseen, deleted, first unseen's position).
    pub fn counts(&self) -> (u32, u32, u32, Option<usize>) {
        let mut unseen = 0;
        let mut deleted = 0;
        let mut first_unseen = None;
        for (i, m) in self.messages.iter().enumerate() {
            if !m.flags.has(SEEN) {
                unseen += 1;
                first_unseen.get_or_insert(i);
            }
            if m.flags.has(DELETED) {
                deleted += 1;
            }
        }
        (self.messages.len() as u32, unseen, deleted, first_unseen)
    }

    /// The uidlist is worth rewriting (many records of messages that are gone).
    pub fn uidlist_bloated(&self) -> bool {
        false
    }
}

fn keywords_text(list: &[Option<String>]) -> Vec<u8> {
    let mut out = String::new();
    for (i, k) in list.iter().enumerate() {
        if let Some(k) = k {
            out.push_str(&format!("{i} {k}\n"));
        }
    }
    out.into_bytes()
}

// ---- the shared mailbox ----------------------------------------------------------------------

/// One mailbox shared by every session that has it selected (and kept a while after).
pub struct Mailbox {
    /// Canonical name.
    pub name: String,
    pub path: PathBuf,
    /// The user's Maildir (where `dovecot-uidvalidity` is).
    pub user_root: PathBuf,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    /// Changes the store's change hook reported, not yet applied.
    pending: Mutex<Vec<(String, Subdir, String)>>,
    pending_scheduled: AtomicBool,
    /// When the directories were last looked at for changes by other processes.
    last_check: Mutex<Instant>,
    hook: Mutex<Option<(Maildir, u64)>>,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").field("path", &self.path).finish()
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        if let Some((md, id)) = self.hook.get_mut().ok().and_then(Option::take) {
            md.remove_change_hook(id);
        }
    }
}

impl Mailbox {
    /// Load the mailbox at `path` (blocking).
    pub fn load(name: &str, path: &Path, user_root: &Path) -> Result<Arc<Mailbox>> {
        let state = State::load(path, user_root)?;
        let (changed, _) = watch::channel(state.version);
        Ok(Arc::new(Mailbox {
            name: name.to_owned(),
            path: path.to_path_buf(),
            user_root: user_root.to_path_buf(),
            state: Mutex::new(state),
            changed,
            pending: Mutex::new(Vec::new()),
            pending_scheduled: AtomicBool::new(false),
            last_check: Mutex::new(Instant::now()),
            hook: Mutex::new(None),
        }))
    }

    /// Hear of deliveries and renames made through `maildir` (the store's handle, which
    /// the SMTP server delivers through) at once; they are applied on `runtime`'s blocking
    /// pool.
    pub fn watch(self: &Arc<Self>, maildir: &Maildir, runtime: tokio::runtime::Handle) {
        let weak: Weak<Mailbox> = Arc::downgrade(self);
        let id = maildir.add_change_hook(Arc::new(move |key: &str, sub: Subdir, file: &str| {
            let Some(mb) = weak.upgrade() else {
                return;
            };
            mb.pending.lock().unwrap_or_else(|e| e.into_inner()).push((
                key.to_owned(),
                sub,
                file.to_owned(),
            ));
            if !mb.pending_scheduled.swap(true, Ordering::AcqRel) {
                runtime.spawn_blocking(move || {
                    mb.pending_scheduled.store(false, Ordering::Release);
                    let _ = mb.sync(false);
                });
            }
        }));
        if let Ok(mut hook) = self.hook.lock() {
            *hook = Some((maildir.clone(), id));
        }
    }

    /// The state, locked (blocking: only on the blocking pool, never across an await).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, if nobody holds its lock now (for the async side, which must not wait).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// The keyword table (locks briefly).
    pub fn lock_keywords(&self) -> Vec<Option<String>> {
        self.lock().keywords.clone()
    }

    /// Wake the sessions: the state changed.
    pub fn notify(&self, state: &State) {
        self.changed.send_if_modified(|v| {
            let changed = *v != state.version || state.gone;
            *v = state.version;
            changed
        });
    }

    /// Sessions wait on this for changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Apply pending hook reports, and rescan if the directories changed (or `force`).
    pub fn sync(&self, force: bool) -> Result<bool> {
        let mut state = self.lock();
        self.sync_locked(&mut state, force)
    }

    /// [`Mailbox::sync`] with the state already locked.
    pub fn sync_locked(&self, state: &mut State, force: bool) -> Result<bool> {
        let changes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if let Ok(mut t) = self.last_check.lock() {
            *t = Instant::now();
        }
        let changed = state.sync(&self.path, &self.user_root, changes, force)?;
        if changed {
            self.notify(state);
        }
        Ok(changed)
    }

    /// Whether the directories are due for a look (at most every `interval`).
    pub fn check_due(&self, interval: Duration) -> bool {
        self.last_check
            .lock()
            .map(|t| t.elapsed() >= interval)
            .unwrap_or(true)
    }

    /// Mark the mailbox gone (deleted or renamed): sessions with it selected end.
    pub fn mark_gone(&self) {
        let mut state = self.lock();
        state.gone = true;
        state.version += 1;
        self.notify(&state);
    }
}

/// The mailboxes loaded by one server, by path: sessions on the same mailbox share one.
/// A mailbox nobody has selected stays loaded for a while (a client that reconnects finds it
/// ready) and is dropped after `keep`, or sooner when more than `max_idle` are unused.
pub struct Registry {
    map: Mutex<HashMap<PathBuf, (Arc<Mailbox>, Instant)>>,
    keep: Duration,
    max_idle: usize,
}

impl Registry {
    pub fn new(keep: Duration, max_idle: usize) -> Registry {
        Registry {
            map: Mutex::new(HashMap::new()),
            keep,
            max_idle,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<PathBuf, (Arc<Mailbox>, Instant)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mailbox at `path`, loaded if needed (blocking), brought up to date with the disk.
    /// `watch`: the store's handle of this Maildir and the runtime, to hear of deliveries.
    pub fn open(
        &self,
        name: &str,
        path: &Path,
        user_root: &Path,
        watch: Option<(&Maildir, tokio::runtime::Handle)>,
    ) -> Result<Arc<Mailbox>> {
        let existing = {
            let mut map = self.map();
            self.sweep(&mut map);
            match map.get_mut(path) {
                Some((mb, used)) if !mb.lock().gone => {
                    *used = Instant::now();
                    Some(mb.clone())
                }
                Some(_) => {
                    map.remove(path);
                    None
                }
                None => None,
            }
        };
        if let Some(mb) = existing {
            mb.sync(false)?;
            if !mb.lock().gone {
                return Ok(mb);
            }
            self.forget(path);
        }
        let mb = Mailbox::load(name, path, user_root)?;
        if let Some((md, runtime)) = watch {
            mb.watch(md, runtime);
        }
        let mut map = self.map();
        // Someone loaded it meanwhile: use theirs.
        if let Some((other, used)) = map.get_mut(path)
            && !other.lock().gone
        {
            *used = Instant::now();
            return Ok(other.clone());
        }
        map.insert(path.to_path_buf(), (mb.clone(), Instant::now()));
        Ok(mb)
    }

    /// A loaded mailbox, if any (for STATUS without loading).
    pub fn get(&self, path: &Path) -> Option<Arc<Mailbox>> {
        self.map().get(path).map(|(mb, _)| mb.clone())
    }

    /// Drop a mailbox (deleted or renamed), telling its sessions.
    pub fn forget(&self, path: &Path) {
        let removed = self.map().remove(path);
        if let Some((mb, _)) = removed {
            mb.mark_gone();
        }
    }

    /// Drop every mailbox whose path `pred` picks (a folder and its children after RENAME).
    pub fn forget_where(&self, pred: impl Fn(&Path) -> bool) {
        let gone: Vec<PathBuf> = self.map().keys().filter(|p| pred(p)).cloned().collect();
        for p in gone {
            self.forget(&p);
        }
    }

    fn sweep(&self, map: &mut HashMap<PathBuf, (Arc<Mailbox>, Instant)>) {
        let idle = map
            .values()
            .filter(|(mb, _)| Arc::strong_count(mb) == 1)
            .count();
        if idle == 0 {
            return;
        }
        let keep = self.keep;
        map.retain(|_, (mb, used)| Arc::strong_count(mb) > 1 || used.elapsed() < keep);
        let mut idle: Vec<(PathBuf, Instant)> = map
            .iter()
            .filter(|(_, (mb, _))| Arc::strong_count(mb) == 1)
            .map(|(p, (_, used))| (p.clone(), *used))
            .collect();
        if idle.len() > self.max_idle {
            idle.sort_by_key(|(_, used)| *used);
            for (p, _) in &idle[..idle.len() - self.max_idle] {
                map.remove(p);
            }
        }
    }

    /// Loaded mailboxes (for tests and statistics).
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(p.join(sub)).unwrap();
        }
        (dir, p)
    }

    fn put(p: &Path, sub: &str, name: &str) {
        fs::write(p.join(sub).join(name), b"Subject: x\r\n\r\nbody\r\n").unwrap();
    }

    #[test]
    fn flags_letters_round_trip() {
        let f = Flags::from_info(Some("2,DFPRSTac"));
        assert_eq!(f.system, SEEN | ANSWERED | FLAGGED | DELETED | DRAFT);
        assert_eq!(f.keywords, 0b101);
        assert_eq!(f.letters(), "DFPRSTac");
        assert_eq!(Flags::from_info(Some("1,S")), Flags::default());
        assert_eq!(Flags::from_info(None).letters(), "");
    }

    #[test]
    fn uids_are_given_in_delivery_order_and_kept() {
        let (_d, p) = maildir();
        put(&p, "new", "1700000002.M1P1.h");
        put(&p, "cur", "1700000001.M1P1.h:2,S");
        let s = State::load(&p, &p).unwrap();
        let files: Vec<(u32, &str)> = s.messages.iter().map(|m| (m.uid, &*m.file)).collect();
        assert_eq!(
            files,
            [(1, "1700000001.M1P1.h:2,S"), (2, "1700000002.M1P1.h")]
        );
        assert!(s.messages[0].flags.has(SEEN));
        let text = fs::read_to_string(p.join(control::UIDLIST)).unwrap();
        assert!(
            text.starts_with(&format!("3 V{} N3 G", s.uid_validity)),
            "{text}"
        );
        assert!(text.ends_with("1 :1700000001.M1P1.h\n2 :1700000002.M1P1.h\n"));
        // Reloaded (a restart): the same UIDs and UIDVALIDITY; a new file gets the next UID.
        put(&p, "new", "1600000000.M1P1.h");
        let again = State::load(&p, &p).unwrap();
        assert_eq!(again.uid_validity, s.uid_validity);
        let uids: Vec<(u32, &str)> = again.messages.iter().map(|m| (m.uid, m.key())).collect();
        assert_eq!(
            uids,
            [
                (1, "1700000001.M1P1.h"),
                (2, "1700000002.M1P1.h"),
                (3, "1600000000.M1P1.h")
            ]
        );
    }

    #[test]
    fn sync_sees_other_writers() {
        let (_d, p) = maildir();
        put(&p, "new", "1.M1P1.h");
        put(&p, "new", "2.M1P1.h");
        let mut s = State::load(&p, &p).unwrap();
        let v = s.version;
        // Another process: marks one seen, removes the other, delivers a third.
        fs::rename(p.join("new/1.M1P1.h"), p.join("cur/1.M1P1.h:2,S")).unwrap();
        fs::remove_file(p.join("new/2.M1P1.h")).unwrap();
        put(&p, "new", "3.M1P1.h");
        assert!(s.sync(&p, &p, Vec::new(), true).unwrap());
        assert!(s.version > v);
        let now: Vec<(u32, bool)> = s
            .messages
            .iter()
            .map(|m| (m.uid, m.flags.has(SEEN)))
            .collect();
        assert_eq!(now, [(1, true), (3, false)]);
        assert!(s.messages[0].modseq > v);
        // Nothing changed: nothing to report.
        let v = s.version;
        assert!(!s.sync(&p, &p, Vec::new(), true).unwrap());
        assert_eq!(s.version, v);
    }

    #[test]
    fn flags_rename_files_and_expunge_unlinks() {
        let (_d, p) = maildir();
        put(&p, "new", "1.M1P1.h");
        put(&p, "new", "2.M1P1.h");
        let mut s = State::load(&p, &p).unwrap();
        let k = s.keyword_index(&p, "$Label1", true).unwrap().unwrap();
        assert_eq!(k, 0);
        assert_eq!(s.keyword_index(&p, "$label1", true).unwrap(), Some(0));
        let flags = Flags {
            system: SEEN | DELETED,
            keywords: 1,
            other: 0,
        };
        assert_eq!(s.set_flags(&p, &[(0, flags)]).unwrap(), [0]);
        assert!(p.join("cur/1.M1P1.h:2,STa").exists());
        assert_eq!(
            fs::read_to_string(p.join(control::KEYWORDS)).unwrap(),
            "0 $Label1\n"
        );
        assert_eq!(s.expunge(&p, &[1]).unwrap(), [1]);
        assert!(!p.join("cur/1.M1P1.h:2,STa").exists());
        assert_eq!(s.messages.len(), 1);
        assert_eq!(s.uid_of_key("1.M1P1.h"), None);
        // A file renamed behind our back is still found and removed.
        fs::rename(p.join("new/2.M1P1.h"), p.join("cur/2.M1P1.h:2,F")).unwrap();
        assert_eq!(s.expunge(&p, &[2]).unwrap(), [2]);
        assert_eq!(fs::read_dir(p.join("cur")).unwrap().count(), 0);
    }

    #[test]
    fn keywords_run_out_after_26() {
        let (_d, p) = maildir();
        let mut s = State::load(&p, &p).unwrap();
        for i in 0..26 {
            assert_eq!(
                s.keyword_index(&p, &format!("k{i}"), true).unwrap(),
                Some(i)
            );
        }
        assert!(s.keywords_full());
        assert_eq!(s.keyword_index(&p, "one-more", true).unwrap(), None);
        assert_eq!(s.keyword_index(&p, "K3", false).unwrap(), Some(3));
    }

    /// Set `new/` and `cur/` back `secs` seconds (mail delivered a while ago).
    fn age(p: &Path, secs: u64) {
        let t = SystemTime::now() - Duration::from_secs(secs);
        for sub in ["new", "cur"] {
            fs::File::open(p.join(sub))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    }

    /// Set a directory's change time to exactly `ns` (a change in the same clock tick).
    fn set_mtime_ns(dir: &Path, ns: i128) {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(ns as u64);
        fs::File::open(dir).unwrap().set_modified(t).unwrap();
    }

    fn summary(s: &State) -> Vec<(u32, Subdir, String, Flags, Option<String>)> {
        s.messages
            .iter()
            .map(|m| {
                (
                    m.uid,
                    m.sub,
                    m.file.to_string(),
                    m.flags,
                    m.ext().map(str::to_owned),
                )
            })
            .collect()
    }

    fn from_index(s: &State) -> bool {
        // No scan, so no key map was built either.
        s.from_index && s.by_key.get().is_none()
    }

    #[test]
    fn a_message_stays_small() {
        // 100,000 of them are built on every load of a large mailbox: fresh memory is the
        // cost of a SELECT after a restart.
        assert_eq!(std::mem::size_of::<Msg>(), 56);
    }

    #[test]
    fn index_is_written_when_quiet_and_used_until_the_directories_change() {
        let (_d, p) = maildir();
        put(&p, "new", "1.M1P1.h");
        put(&p, "cur", "2.M1P1.h:2,S");
        put(&p, "cur", "3.M1P1.h:2,FRa");
        // Just delivered: a change in the same clock tick could hide: no index yet.
        let first = State::load(&p, &p).unwrap();
        assert!(!p.join(index::INDEX).exists());
        assert!(!from_index(&first));
        age(&p, 10);
        let full = State::load(&p, &p).unwrap();
        assert!(p.join(index::INDEX).exists());
        assert!(!from_index(&full));
        let cached = State::load(&p, &p).unwrap();
        assert!(from_index(&cached));
        assert_eq!(summary(&cached), summary(&full));
        assert_eq!(summary(&cached), summary(&first));
        assert_eq!(
            (cached.uid_validity, cached.next_uid),
            (full.uid_validity, full.next_uid)
        );
        assert_eq!(cached.uidlist, full.uidlist);
        assert_eq!(cached.uid_of_key("3.M1P1.h"), Some(3));
        // Another process delivers (Python's mailbox writes into new/): the time moved, so
        // the next load scans, sees it and gives it the next UID.
        put(&p, "new", "4.M1P1.h");
        let s = State::load(&p, &p).unwrap();
        assert!(!from_index(&s));
        assert_eq!(
            s.messages.last().map(|m| (m.uid, m.key())),
            Some((4, "4.M1P1.h"))
        );
        // ... and a flag rename, and a removal.
        age(&p, 8);
        assert!(!from_index(&State::load(&p, &p).unwrap()));
        assert!(from_index(&State::load(&p, &p).unwrap()));
        fs::rename(p.join("new/1.M1P1.h"), p.join("cur/1.M1P1.h:2,FS")).unwrap();
        fs::remove_file(p.join("cur/2.M1P1.h:2,S")).unwrap();
        let s = State::load(&p, &p).unwrap();
        assert!(!from_index(&s));
        let now: Vec<(u32, String)> = s
            .messages
            .iter()
            .map(|m| (m.uid, m.flags.letters()))
            .collect();
        assert_eq!(
            now,
            [(1, "FS".into()), (3, "FRa".into()), (4, String::new())]
        );
        // A session's sync after a load from the index sees other writers too.
        age(&p, 6);
        State::load(&p, &p).unwrap();
        let mut s = State::load(&p, &p).unwrap();
        assert!(from_index(&s));
        put(&p, "new", "5.M1P1.h");
        assert!(s.sync(&p, &p, Vec::new(), false).unwrap());
        assert_eq!(s.messages.last().map(|m| m.uid), Some(5));
        // A new UIDVALIDITY (someone started the UIDs over): the index is stale.
        age(&p, 4);
        State::load(&p, &p).unwrap();
        let mut list = control::read_uidlist(&p).unwrap().unwrap();
        list.uid_validity += 7;
        control::write_uidlist(&p, &mut list).unwrap();
        let s = State::load(&p, &p).unwrap();
        assert!(!from_index(&s));
        assert_eq!(s.uid_validity, list.uid_validity);
    }

    #[test]
    fn an_index_from_a_scan_in_the_same_tick_as_a_change_is_not_trusted() {
        let (_d, p) = maildir();
        put(&p, "cur", "1.M1P1.h:2,S");
        age(&p, 10);
        let s = State::load(&p, &p).unwrap();
        // What a writer without the margin would leave: a scan that began right after the
        // directories' last change...
        let dirs = dir_stamps(&p);
        let basis = Basis {
            dirs,
            scanned_at: dirs[0].mtime.max(dirs[1].mtime) + 1_000_000,
        };
        let data = index::encode(&basis, &s.uidlist, s.next_uid, &s.messages).unwrap();
        index::write(&p, &data).unwrap();
        // ... then a delivery within the same clock tick, which leaves new/'s time as it was.
        put(&p, "new", "2.M1P1.h");
        set_mtime_ns(&p.join("new"), dirs[0].mtime);
        assert_eq!(dir_stamps(&p), dirs);
        let again = State::load(&p, &p).unwrap();
        assert!(!from_index(&again));
        assert_eq!(again.messages.len(), 2);
        // The same index from a quiet scan is trusted: equal times are all it has to go on.
        let quiet = Basis {
            dirs: dir_stamps(&p),
            scanned_at: now_ns(),
        };
        let data = index::encode(&quiet, &again.uidlist, again.next_uid, &again.messages);
        index::write(&p, &data.unwrap()).unwrap();
        assert!(from_index(&State::load(&p, &p).unwrap()));
    }

    #[test]
    fn names_changed_in_place_after_a_load_end_the_mailbox() {
        use std::io::{Seek, SeekFrom, Write};
        let (_d, p) = maildir();
        put(&p, "cur", "1.M1P1.h:2,S");
        age(&p, 10);
        State::load(&p, &p).unwrap();
        let mut s = State::load(&p, &p).unwrap();
        assert!(from_index(&s));
        // Someone writes into the index file in place (a name): the names no longer check,
        // and nothing that goes by them may run on.
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(p.join(index::INDEX))
            .unwrap();
        let len = f.metadata().unwrap().len();
        f.seek(SeekFrom::Start(len - 6)).unwrap();
        f.write_all(b"X").unwrap();
        assert!(s.expunge(&p, &[1]).is_err());
        assert!(s.gone);
        assert!(p.join("cur/1.M1P1.h:2,S").exists());
        // Loaded again: by a scan (the index is corrupt now), with the same UID.
        let again = State::load(&p, &p).unwrap();
        assert!(!from_index(&again));
        assert_eq!(again.messages[0].uid, 1);
        assert_eq!(&*again.messages[0].file, "1.M1P1.h:2,S");
    }

    #[test]
    fn a_corrupt_or_foreign_index_is_ignored_and_rebuilt() {
        let (_d, p) = maildir();
        put(&p, "new", "1.M1P1.h");
        put(&p, "cur", "2.M1P1.h:2,RS");
        age(&p, 10);
        let full = State::load(&p, &p).unwrap();
        let good = fs::read(p.join(index::INDEX)).unwrap();
        let scratch = p.join("scratch");
        let parse = |b: &[u8]| {
            fs::write(&scratch, b).unwrap();
            index::parse(fs::File::open(&scratch).unwrap(), b.len() as u64)
        };
        assert!(parse(&good).is_some());
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0x20;
        let mut other_version = good.clone();
        other_version[8] = 99;
        let n = other_version.len() - 4;
        let crc = crc32fast::hash(&other_version[..n]);
        other_version[n..].copy_from_slice(&crc.to_le_bytes());
        // A checksummed index whose name leaves the Maildir.
        let mut evil = full.messages.clone();
        evil[0].file = "../../etc/passwd".into();
        let basis = Basis {
            dirs: dir_stamps(&p),
            scanned_at: now_ns(),
        };
        let evil = index::encode(&basis, &full.uidlist, full.next_uid, &evil).unwrap();
        assert!(parse(&evil).is_none());
        let broken: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"garbage".to_vec(),
            good[..good.len() / 2].to_vec(),
            good[..good.len() - 1].to_vec(),
            flipped,
            other_version,
            evil,
        ];
        for bad in broken {
            fs::write(p.join(index::INDEX), &bad).unwrap();
            let s = State::load(&p, &p).unwrap();
            assert!(!from_index(&s));
            assert_eq!(summary(&s), summary(&full));
            // Rebuilt by the scan.
            assert!(parse(&fs::read(p.join(index::INDEX)).unwrap()).is_some());
            let cached = State::load(&p, &p).unwrap();
            assert!(from_index(&cached));
            assert_eq!(summary(&cached), summary(&full));
        }
        // Deleting it is always safe.
        fs::remove_file(p.join(index::INDEX)).unwrap();
        assert_eq!(summary(&State::load(&p, &p).unwrap()), summary(&full));
    }

    #[test]
    fn register_keeps_order_and_is_idempotent() {
        let (_d, p) = maildir();
        let mut s = State::load(&p, &p).unwrap();
        put(&p, "cur", "9.M1P1.h:2,S");
        put(&p, "new", "1.M1P1.h");
        let uids = s
            .register(
                &p,
                &p,
                vec![
                    ("9.M1P1.h".into(), Subdir::Cur, "9.M1P1.h:2,S".into()),
                    ("1.M1P1.h".into(), Subdir::New, "1.M1P1.h".into()),
                ],
            )
            .unwrap();
        assert_eq!(uids, [1, 2]);
        let again = s
            .register(
                &p,
                &p,
                vec![("1.M1P1.h".into(), Subdir::New, "1.M1P1.h".into())],
            )
            .unwrap();
        assert_eq!(again, [2]);
        assert_eq!(s.next_uid, 3);
    }
}
