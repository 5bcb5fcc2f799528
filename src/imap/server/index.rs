//! `mailprims.index`: a cache of one Maildir folder's state, kept beside its
//! `dovecot-uidlist`, so a server started afresh opens a large mailbox without listing
//! `new/` and `cur/` (what Dovecot's own index does for it).
//!
//! It holds what [`super::mailbox::State`] needs (UIDVALIDITY, the next UID, and per message
//! its UID, directory, file name, flags and the uidlist's extension fields) and what that
//! was read from: the inode and change time (ns) of `new/` and `cur/` as they were before the
//! scan it records, the time that scan began, and the uidlist's inode, size, change time and
//! header. It is used only when all of these are as recorded. A directory's change time
//! moves with every file created, renamed (a flag change) or removed in it, by any process,
//! so a delivery by Dovecot, Python's `mailbox` or another server makes the index stale and
//! the next load scans the directories (and writes the index again).
//!
//! Change times come from the kernel's coarse clock: a change within the same tick as the
//! recorded stat could leave the time as it was. So an index is trusted only when both
//! directories had last changed at least [`STABLE_NS`] before its scan began (a later change
//! then carries a later time); one written by a scan right after a delivery is not used,
//! and the next scan, once the directories are quiet, writes one that is. Like Dovecot's
//! index, this trusts the clock not to step back by more than that margin.
//!
//! A cache: deleting it is always safe. A file that is truncated, corrupt (CRC-32 at the
//! end), of another version or inconsistent is ignored and replaced after a full scan.
//! Dovecot and Python's `mailbox` ignore it (a plain file without a leading dot is neither
//! a message nor a folder). Written to `mailprims.index.tmp` and renamed, so a reader sees
//! the old file or the new one; not fsynced (a crash may leave garbage, which the checksum
//! catches).
//!
//! Layout (integers little-endian): the magic `mpindex\n`, version, scan start (i128 ns),
//! the next UID, for `new/` then `cur/` (device, inode, change time), the uidlist
//! (UIDVALIDITY, next UID, inode, size, change time, octets read, GUID), the message count
//! and the byte lengths of the two text blocks, and the names' own CRC-32; then every
//! extension field (one run of bytes), then one fixed-size record per message in UID order,
//! then every file name (one run); then the CRC-32 of all that. A load checks the names as
//! they stream past and keeps none: they are read into one block, shared by the messages,
//! when a command first needs one (a SELECT does not).

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::control::{FileSig, UidList};
use super::mailbox::{Extra, FileName, Flags, Msg, NameBlock};
use crate::store::Subdir;
use crate::sys::{self, CreateMode};

/// The file's name in the folder.
pub const INDEX: &str = "mailprims.index";
const TMP: &str = "mailprims.index.tmp";
const MAGIC: &[u8; 8] = b"mpindex\n";
const VERSION: u32 = 1;
/// How long before a scan the directories must have last changed for its index to be
/// trusted (covers the coarse clock's tick, and two-second file system time stamps).
pub const STABLE_NS: i128 = 2_000_000_000;
/// A writer's leftover temporary file older than this is from a crash: removed.
const TMP_STALE: Duration = Duration::from_secs(60);
/// Bytes per message record: uid, name length, ext length, subdir, system flags, keywords,
/// other flags.
const RECORD: usize = 4 + 2 + 2 + 1 + 1 + 4 + 4;
/// Bytes of the header up to the GUID (after it: message count, the lengths of the names
/// and of the extension fields, the names' CRC-32): magic, version, scan start, next UID, two
/// directories, the uidlist's UIDVALIDITY, next UID, inode, size, time, octets read, and the
/// GUID's length.
const HEAD: usize = 8 + 4 + 16 + 4 + 2 * (8 + 8 + 16) + 4 + 4 + 8 + 8 + 16 + 8 + 1;

/// A directory as the index saw it: which one (device, inode) and its change time in ns (all
/// 0 when it is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirStamp {
    pub dev: u64,
    pub ino: u64,
    pub mtime: i128,
}

impl DirStamp {
    /// The directory at `path` now.
    pub fn of(path: &Path) -> DirStamp {
        match fs::metadata(path) {
            Ok(m) => {
                let (dev, ino) = sys::dev_ino(&m);
                DirStamp {
                    dev,
                    ino,
                    mtime: sys::mtime_ns(&m),
                }
            }
            Err(_) => DirStamp::default(),
        }
    }
}

/// What an index records besides the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// `new/` and `cur/` before the scan.
    pub dirs: [DirStamp; 2],
    /// When the scan began (ns since the epoch).
    pub scanned_at: i128,
}

impl Basis {
    /// Whether both directories had been quiet for [`STABLE_NS`] when the scan began: only
    /// then does an unchanged time prove that nothing changed since.
    pub fn stable(&self) -> bool {
        self.dirs
            .iter()
            .all(|d| d.mtime != 0 && d.mtime < self.scanned_at - STABLE_NS)
    }
}

/// A parsed index.
#[derive(Debug)]
pub struct Loaded {
    pub basis: Basis,
    /// The mailbox's next UID.
    pub next_uid: u32,
    /// The block the messages' names are read into when first needed.
    pub names: Option<Arc<NameBlock>>,
    /// The uidlist's header and identity (no records).
    pub uidlist: UidList,
    pub messages: Vec<Msg>,
}

/// The index to write: the state after a full scan made at `basis`.
pub fn encode(
    basis: &Basis,
    uidlist: &UidList,
    next_uid: u32,
    messages: &[Msg],
) -> Option<Vec<u8>> {
    let sig = uidlist.sig?;
    let guid = uidlist.guid.as_bytes();
    let names: usize = messages.iter().map(|m| m.file.len()).sum();
    let exts: usize = messages.iter().map(|m| m.ext().map_or(0, str::len)).sum();
    let mut out = Vec::with_capacity(HEAD + 300 + messages.len() * RECORD + names + exts);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&basis.scanned_at.to_le_bytes());
    out.extend_from_slice(&next_uid.to_le_bytes());
    for d in &basis.dirs {
        out.extend_from_slice(&d.dev.to_le_bytes());
        out.extend_from_slice(&d.ino.to_le_bytes());
        out.extend_from_slice(&d.mtime.to_le_bytes());
    }
    out.extend_from_slice(&uidlist.uid_validity.to_le_bytes());
    out.extend_from_slice(&uidlist.next_uid.to_le_bytes());
    out.extend_from_slice(&sig.ino.to_le_bytes());
    out.extend_from_slice(&sig.size.to_le_bytes());
    out.extend_from_slice(&sig.mtime_ns.to_le_bytes());
    out.extend_from_slice(&uidlist.read_len.to_le_bytes());
    out.push(u8::try_from(guid.len()).ok()?);
    out.extend_from_slice(guid);
    out.extend_from_slice(&u32::try_from(messages.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&u32::try_from(names).ok()?.to_le_bytes());
    out.extend_from_slice(&u32::try_from(exts).ok()?.to_le_bytes());
    let mut names_crc = crc32fast::Hasher::new();
    for m in messages {
        names_crc.update(m.file.as_bytes());
    }
    out.extend_from_slice(&names_crc.finalize().to_le_bytes());
    for m in messages {
        out.extend_from_slice(m.ext().unwrap_or("").as_bytes());
    }
    for m in messages {
        out.extend_from_slice(&m.uid.to_le_bytes());
        out.extend_from_slice(&u16::try_from(m.file.len()).ok()?.to_le_bytes());
        let ext = m.ext().unwrap_or("");
        out.extend_from_slice(&u16::try_from(ext.len()).ok()?.to_le_bytes());
        out.push(u8::from(m.sub == Subdir::Cur));
        out.push(m.flags.system);
        out.extend_from_slice(&m.flags.keywords.to_le_bytes());
        out.extend_from_slice(&m.flags.other.to_le_bytes());
    }
    for m in messages {
        out.extend_from_slice(m.file.as_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// Write the index of the folder at `dir` (atomically: a temporary file, then a rename).
/// Another writer at work (its temporary file is there) wins: this one gives up.
pub fn write(dir: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(TMP);
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .create_mode(0o600)
            .open(&tmp)
    };
    let mut f = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let stale = fs::metadata(&tmp)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > TMP_STALE);
            if !stale {
                return Ok(());
            }
            let _ = fs::remove_file(&tmp);
            open()?
        }
        Err(e) => return Err(e),
    };
    let done = f
        .write_all(data)
        .and_then(|()| fs::rename(&tmp, dir.join(INDEX)));
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    done
}

/// Reads little-endian fields off the front of a slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn i128(&mut self) -> Option<i128> {
        Some(i128::from_le_bytes(self.array()?))
    }
}

/// `n` bytes of `r`, added to the checksum.
fn read_n(r: &mut impl Read, crc: &mut crc32fast::Hasher, n: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf).ok()?;
    if buf.len() != n {
        return None;
    }
    crc.update(&buf);
    Some(buf)
}

/// Check that `piece`, after the bytes of a character cut at the end of the previous piece
/// (`carry`), is UTF-8; a character cut at its end is left in `carry`.
fn utf8_piece(carry: &mut Vec<u8>, mut piece: &[u8]) -> Option<()> {
    if let Some(&lead) = carry.first() {
        let width = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        let need = (width - carry.len()).min(piece.len());
        carry.extend_from_slice(&piece[..need]);
        piece = &piece[need..];
        if carry.len() < width {
            return Some(());
        }
        std::str::from_utf8(carry).ok()?;
        carry.clear();
    }
    match std::str::from_utf8(piece) {
        Ok(_) => Some(()),
        Err(e) if e.error_len().is_none() => {
            carry.extend_from_slice(&piece[e.valid_up_to()..]);
            Some(())
        }
        Err(_) => None,
    }
}

/// Parse the index in `file` (`len` bytes); `None` when it is not a complete, intact index
/// of this version whose records make sense (UIDs ascending and below the next UID, names
/// that are plain file names). The names are checked as they stream past, not kept: the
/// messages' names are read again from the (open) file when first needed.
pub fn parse(file: fs::File, len: u64) -> Option<Loaded> {
    let mut r = io::BufReader::with_capacity(1 << 16, file);
    let mut crc = crc32fast::Hasher::new();
    let head = read_n(&mut r, &mut crc, HEAD)?;
    let mut c = Cursor(&head);
    if c.take(MAGIC.len())? != MAGIC || c.u32()? != VERSION {
        return None;
    }
    let scanned_at = c.i128()?;
    let next_uid = c.u32()?;
    let mut dirs = [DirStamp::default(); 2];
    for d in &mut dirs {
        *d = DirStamp {
            dev: c.u64()?,
            ino: c.u64()?,
            mtime: c.i128()?,
        };
    }
    let uid_validity = c.u32()?;
    let list_next_uid = c.u32()?;
    let sig = FileSig {
        ino: c.u64()?,
        size: c.u64()?,
        mtime_ns: c.i128()?,
    };
    let read_len = c.u64()?;
    let guid_len = usize::from(c.u8()?);
    let rest = read_n(&mut r, &mut crc, guid_len + 16)?;
    let mut c = Cursor(&rest);
    let guid = String::from_utf8(c.take(guid_len)?.to_vec()).ok()?;
    let count = c.u32()? as usize;
    let names_len = c.u32()? as usize;
    let exts_len = c.u32()? as usize;
    let names_crc = c.u32()?;
    // The sizes must add up to the file's before anything is allocated for them.
    let head_len = (HEAD + guid_len + 16) as u64;
    let body = (count as u64) * RECORD as u64 + names_len as u64 + exts_len as u64;
    if head_len + body + 4 != len || uid_validity == 0 || next_uid == 0 || list_next_uid > next_uid
    {
        return None;
    }
    let exts = String::from_utf8(read_n(&mut r, &mut crc, exts_len)?).ok()?;
    let names_at = head_len + exts_len as u64 + (count * RECORD) as u64;
    let block = Arc::new(NameBlock::deferred(names_at, names_len, names_crc));
    let mut messages = Vec::with_capacity(count);
    // Where each name starts, to check below that it starts a character (and not a dot).
    let mut starts = Vec::with_capacity(count);
    let (mut name_at, mut ext_at) = (0usize, 0usize);
    let mut last_uid = 0u32;
    let mut chunk = vec![0u8; RECORD * 4096];
    let mut left = count;
    while left > 0 {
        let n = left.min(4096);
        let buf = &mut chunk[..n * RECORD];
        r.read_exact(buf).ok()?;
        crc.update(buf);
        left -= n;
        for rec in buf.chunks_exact(RECORD) {
            let mut f = Cursor(rec);
            let uid = f.u32()?;
            let name_len = usize::from(u16::from_le_bytes(f.array()?));
            let ext_len = usize::from(u16::from_le_bytes(f.array()?));
            let sub = match f.u8()? {
                0 => Subdir::New,
                1 => Subdir::Cur,
                _ => return None,
            };
            let flags = Flags {
                system: f.u8()?,
                keywords: f.u32()?,
                other: f.u32()?,
            };
            if uid <= last_uid || uid >= next_uid || name_len == 0 {
                return None;
            }
            last_uid = uid;
            starts.push(name_at as u32);
            let file = FileName::shared(&block, name_at, name_len)?;
            name_at += name_len;
            let ext = exts.get(ext_at..ext_at + ext_len)?;
            ext_at += ext_len;
            messages.push(Msg {
                uid,
                flags,
                modseq: 1,
                sub,
                file,
                extra: Extra::with_ext(ext),
            });
        }
    }
    if name_at != names_len || ext_at != exts_len {
        return None;
    }
    // The names: UTF-8 without `/` or NUL (none may leave its directory), each one starting
    // a character, none a dot file; streamed through the reader's buffer.
    let mut names_check = crc32fast::Hasher::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut done = 0usize;
    let mut next_start = starts.iter().peekable();
    while done < names_len {
        let avail = r.fill_buf().ok()?;
        let take = avail.len().min(names_len - done);
        if take == 0 {
            return None;
        }
        let piece = &avail[..take];
        crc.update(piece);
        names_check.update(piece);
        if memchr::memchr2(b'/', 0, piece).is_some() {
            return None;
        }
        while let Some(&&at) = next_start.peek() {
            let at = at as usize;
            if at >= done + take {
                break;
            }
            let b = piece[at - done];
            if b == b'.' || (0x80..0xc0).contains(&b) {
                return None;
            }
            next_start.next();
        }
        utf8_piece(&mut carry, piece)?;
        r.consume(take);
        done += take;
    }
    let mut end = [0u8; 4];
    r.read_exact(&mut end).ok()?;
    if !carry.is_empty()
        || names_check.finalize() != names_crc
        || crc.finalize().to_le_bytes() != end
    {
        return None;
    }
    block.set_source(r.into_inner());
    Some(Loaded {
        basis: Basis { dirs, scanned_at },
        next_uid,
        names: Some(block),
        uidlist: UidList {
            uid_validity,
            next_uid: list_next_uid,
            guid,
            records: Vec::new(),
            sig: Some(sig),
            read_len,
            broken: 0,
        },
        messages,
    })
}

/// The index of the folder at `dir` if it is intact and still true: the directories and
/// the uidlist are as it recorded them, and its scan was made when they were quiet.
pub fn load(dir: &Path) -> Option<Loaded> {
    let f = fs::File::open(dir.join(INDEX)).ok()?;
    let len = f.metadata().ok()?.len();
    let loaded = parse(f, len)?;
    if !loaded.basis.stable()
        || DirStamp::of(&dir.join("new")) != loaded.basis.dirs[0]
        || DirStamp::of(&dir.join("cur")) != loaded.basis.dirs[1]
    {
        return None;
    }
    // The uidlist: the same file, unchanged (an append grows it, a rewrite is a new inode),
    // with the UIDVALIDITY and GUID the index recorded. (Its next UID can be behind: appends
    // do not rewrite the header.)
    let path = dir.join(super::control::UIDLIST);
    let mut f = fs::File::open(&path).ok()?;
    let meta = f.metadata().ok()?;
    if Some(FileSig::of(&meta)) != loaded.uidlist.sig {
        return None;
    }
    let mut head = [0u8; 256];
    let n = io::Read::read(&mut f, &mut head).ok()?;
    let line_end = memchr::memchr(b'\n', &head[..n])?;
    let header = UidList::parse(&head[..=line_end])?;
    let u = &loaded.uidlist;
    if (header.uid_validity, header.guid.as_str()) != (u.uid_validity, u.guid.as_str()) {
        return None;
    }
    Some(loaded)
}
