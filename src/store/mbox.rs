//! The mbox format (RFC 4155) as Python's `mailbox.mbox`, Postfix's `local` and Dovecot write
//! it: each message starts with a `From <sender> <asctime date>` line and ends with an empty
//! line; lines of the message that would look like a `From ` line are quoted with `>`.
//!
//! - Reading finds messages exactly as Python's `mailbox.mbox._generate_toc` does: every line
//!   starting `From ` begins a message, and the empty line before it (if any) is the separator,
//!   not content. The file is scanned in 1 MiB pieces, never loaded whole, and messages are
//!   read one at a time with positioned reads, so a 10 GB mbox iterates in constant memory.
//! - Quoting is *mboxrd*: writing adds one `>` to every line matching `>*From `, reading removes
//!   one. Unlike the older *mboxo* (Python, Postfix: only `From ` is quoted, nothing is
//!   unquoted) this round-trips every message. Reading an mboxo file gives back `From ` lines
//!   its writer quoted; a line that was `>From ` before an mboxo writer saw it loses its `>`
//!   (mboxo cannot tell the two apart).
//! - Appending takes the locks Python's `mailbox.mbox.lock()`, Postfix and Dovecot use: an
//!   exclusive `fcntl` lock on the file and the dot-lock `<path>.lock` (skipped, as Python does,
//!   when the directory is not writable), writes the message in one `write` at the end, and
//!   truncates back to the old size if that fails, so a full disk leaves no partial message.

use crate::sys::{self, CreateMode};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use memchr::memmem;

use super::durable;
use super::error::{IoContext, Result, StoreError};
use super::lock::{self, DotLock, DotLockOptions};
use crate::message::date;

/// Where one message lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MboxEntry {
    /// Offset of its `From ` line.
    pub start: u64,
    /// Offset of the message itself (after the `From ` line).
    pub body_start: u64,
    /// End of the message (before the separating empty line).
    pub end: u64,
}

const CHUNK: usize = 1 << 20;
/// Bytes of the previous chunk kept in view: a separator `\nFrom ` is 6 bytes, and the byte
/// before it decides whether an empty line precedes it.
const KEEP: usize = 7;

/// Finds message boundaries in a stream, a chunk at a time.
pub struct Scanner<R> {
    reader: R,
    window: Vec<u8>,
    /// Stream offset of `window[0]`.
    base: u64,
    /// Separators whose `\n` lies before this offset have been handled.
    searched: u64,
    /// The message being read: its start and, once its `From ` line has ended, its body start.
    current: Option<(u64, Option<u64>)>,
    started: bool,
    eof: bool,
    ready: VecDeque<MboxEntry>,
}

impl<R: Read> Scanner<R> {
    pub fn new(reader: R) -> Self {
        Scanner {
            reader,
            window: Vec::new(),
            base: 0,
            searched: 0,
            current: None,
            started: false,
            eof: false,
            ready: VecDeque::new(),
        }
    }

    /// The next message's position, or `None` at the end of the stream.
    pub fn next_entry(&mut self) -> io::Result<Option<MboxEntry>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Ok(Some(e));
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
            self.process();
        }
    }

    /// Read the next chunk, keeping the tail of the previous one in view.
    fn fill(&mut self) -> io::Result<()> {
        let keep = self.window.len().min(KEEP);
        let drop_n = self.window.len() - keep;
        self.window.drain(..drop_n);
        self.base += drop_n as u64;
        let old = self.window.len();
        self.window.resize(old + CHUNK, 0);
        let mut filled = old;
        // Fill the whole chunk (short reads happen on pipes) so tiny reads cost no extra passes.
        while filled < self.window.len() {
            match self.reader.read(&mut self.window[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.window.truncate(filled);
                    return Err(e);
                }
            }
        }
        self.window.truncate(filled);
        Ok(())
    }

    fn process(&mut self) {
        let w = &self.window;
        let base = self.base;
        if !self.started {
            if w.len() < 5 && !self.eof {
                return; // need more to see whether the file starts with "From "
            }
            self.started = true;
            if w.starts_with(b"From ") {
                self.current = Some((0, None));
            }
        }
        let finder = memmem::Finder::new(b"\nFrom ");
        let mut pos = (self.searched.max(base) - base) as usize;
        loop {
            // The current message's `From ` line ends at the first newline after its start;
            // no separator can come before that newline.
            if let Some((start, None)) = self.current {
                let from = (start.max(base) - base) as usize;
                match memchr::memchr(b'\n', &w[from.min(w.len())..]) {
                    Some(i) => self.current = Some((start, Some(base + (from + i) as u64 + 1))),
                    None => break,
                }
            }
            let Some(i) = finder.find(&w[pos.min(w.len())..]) else {
                break;
            };
            let j = pos + i;
            let sep = base + j as u64;
            if let Some((start, Some(body))) = self.current {
                let end = if sep + 1 == body {
                    body // a `From ` line right after a `From ` line: empty message
                } else if j > 0 && w[j - 1] == b'\n' {
                    sep // the empty line before the next `From ` is the separator
                } else {
                    sep + 1
                };
                self.ready.push_back(MboxEntry {
                    start,
                    body_start: body,
                    end,
                });
            }
            self.current = Some((sep + 1, None));
            pos = j + 1;
        }
        self.searched = base + pos.max(w.len().saturating_sub(5)) as u64;
        if self.eof {
            let n = base + w.len() as u64;
            match self.current.take() {
                Some((start, None)) => self.ready.push_back(MboxEntry {
                    start,
                    body_start: n,
                    end: n,
                }),
                Some((start, Some(body))) => {
                    let at = |off: u64| {
                        off.checked_sub(base)
                            .and_then(|i| w.get(i as usize))
                            .copied()
                    };
                    let nl = Some(b'\n');
                    let end = if n > body && at(n - 1) == nl && at(n - 2) == nl {
                        n - 1
                    } else {
                        n
                    };
                    self.ready.push_back(MboxEntry {
                        start,
                        body_start: body,
                        end,
                    });
                }
                None => {}
            }
        }
    }
}

/// Add one `>` to every line matching `>*From ` (mboxrd quoting).
pub fn quote(body: &[u8]) -> Cow<'_, [u8]> {
    requote(body, true)
}

/// Remove one `>` from every line matching `>+From ` (mboxrd unquoting).
pub fn unquote(body: &[u8]) -> Cow<'_, [u8]> {
    requote(body, false)
}

fn requote(body: &[u8], add: bool) -> Cow<'_, [u8]> {
    let mut edits = Vec::new();
    for p in memmem::find_iter(body, b"From ") {
        let mut q = p;
        while q > 0 && body[q - 1] == b'>' {
            q -= 1;
        }
        if (q == 0 || body[q - 1] == b'\n') && (add || q < p) {
            edits.push(q);
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + if add { edits.len() } else { 0 });
    let mut last = 0;
    for q in edits {
        out.extend_from_slice(&body[last..q]);
        if add {
            out.push(b'>');
            last = q;
        } else {
            last = q + 1;
        }
    }
    out.extend_from_slice(&body[last..]);
    Cow::Owned(out)
}

/// `time.asctime()` of a UTC time: `Thu Nov  2 07:28:00 2023`, the date form of `From ` lines.
pub fn asctime(t: SystemTime) -> String {
    let t = date::utc(t);
    let (month, weekday) = date::names(t.date());
    format!(
        "{weekday} {month} {:2} {:02}:{:02}:{:02} {}",
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// The envelope sender as a `From ` line can carry it: no angle brackets, no spaces or
/// control characters (they would break the line), `MAILER-DAEMON` for the null sender.
fn envelope_sender(sender: Option<&str>) -> String {
    let s = sender
        .unwrap_or("")
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    if s.is_empty() {
        return "MAILER-DAEMON".to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Options for [`Mbox::add_with`].
#[derive(Debug, Clone)]
pub struct MboxAddOptions {
    /// Envelope sender for the `From ` line (`None`: `MAILER-DAEMON`, as Python writes).
    pub sender: Option<String>,
    /// Date for the `From ` line (`None`: now).
    pub date: Option<SystemTime>,
    /// fsync the file before returning (default).
    pub durable: bool,
    /// How long to wait for another writer's lock.
    pub lock_timeout: Duration,
}

impl Default for MboxAddOptions {
    fn default() -> Self {
        Self {
            sender: None,
            date: None,
            durable: true,
            lock_timeout: Duration::from_secs(10),
        }
    }
}

struct Toc {
    id: (u64, u64, u64, i64, i64),
    entries: Vec<MboxEntry>,
}

/// The locks of an mbox held by this handle.
struct Held {
    file: File,
    _dot: Option<DotLock>,
}

/// One mbox file.
pub struct Mbox {
    path: PathBuf,
    toc: Mutex<Option<Toc>>,
    held: Mutex<Option<Held>>,
}

impl std::fmt::Debug for Mbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Mbox").field(&self.path).finish()
    }
}

fn file_state(meta: &fs::Metadata) -> (u64, u64, u64, i64, i64) {
    let ((dev, ino), (mtime, mtime_nsec)) = (sys::dev_ino(meta), sys::mtime(meta));
    (dev, ino, meta.len(), mtime, mtime_nsec)
}

/// The `From ` line of a message, or a new one, and the message after it.
fn split_from_line<'a>(data: &'a [u8], options: &MboxAddOptions) -> (Vec<u8>, &'a [u8]) {
    if data.starts_with(b"From ") {
        // Like Python's mailbox: a message that starts with a From line keeps it.
        let (line, rest) = match memchr::memchr(b'\n', data) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[data.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        return (line.to_vec(), rest);
    }
    let line = format!(
        "From {} {}",
        envelope_sender(options.sender.as_deref()),
        asctime(options.date.unwrap_or_else(SystemTime::now))
    );
    (line.into_bytes(), data)
}

impl Mbox {
    /// Open the mbox at `path`; with `create`, an empty one (mode 0600) is made if missing.
    pub fn open(path: impl AsRef<Path>, create: bool) -> Result<Mbox> {
        let path = path.as_ref().to_path_buf();
        if create {
            OpenOptions::new()
                .append(true)
                .create(true)
                .create_mode(0o600)
                .open(&path)
                .ctx("create mbox", &path)?;
        }
        let meta = fs::metadata(&path).ctx("open mbox", &path)?;
        if meta.is_dir() {
            return Err(StoreError::io(
                "open mbox",
                &path,
                io::Error::from_raw_os_error(libc::EISDIR),
            ));
        }
        Ok(Mbox {
            path,
            toc: Mutex::new(None),
            held: Mutex::new(None),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every message's position, from a cache that is rebuilt whenever the file changed.
    pub fn entries(&self) -> Result<Vec<MboxEntry>> {
        let file = File::open(&self.path).ctx("open mbox", &self.path)?;
        let meta = file.metadata().ctx("stat mbox", &self.path)?;
        let id = file_state(&meta);
        let mut toc = self.toc.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = toc.as_ref()
            && t.id == id
        {
            return Ok(t.entries.clone());
        }
        let mut scanner = Scanner::new(file.take(meta.len()));
        let mut entries = Vec::new();
        while let Some(e) = scanner.next_entry().ctx("read mbox", &self.path)? {
            entries.push(e);
        }
        *toc = Some(Toc {
            id,
            entries: entries.clone(),
        });
        Ok(entries)
    }

    pub fn len(&self) -> Result<usize> {
        Ok(self.entries()?.len())
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    fn entry(&self, index: usize) -> Result<MboxEntry> {
        self.entries()?
            .get(index)
            .copied()
            .ok_or_else(|| StoreError::no_such_message(&index.to_string()))
    }

    /// Message `index` (0-based), unquoted, without its `From ` line.
    pub fn get(&self, index: usize) -> Result<Vec<u8>> {
        let e = self.entry(index)?;
        let file = File::open(&self.path).ctx("open mbox", &self.path)?;
        read_message(&file, &e).ctx("read mbox", &self.path)
    }

    /// The `From ` line of message `index`, without `From ` and the line ending.
    pub fn from_line(&self, index: usize) -> Result<Vec<u8>> {
        let e = self.entry(index)?;
        let file = File::open(&self.path).ctx("open mbox", &self.path)?;
        let mut line = vec![0u8; (e.body_start - e.start) as usize];
        sys::read_exact_at(&file, &mut line, e.start).ctx("read mbox", &self.path)?;
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(line.strip_prefix(b"From ").unwrap_or(line).to_vec())
    }

    /// Iterate over the messages, reading the file as it goes.
    pub fn iter(&self) -> Result<MboxIter> {
        let file = File::open(&self.path).ctx("open mbox", &self.path)?;
        let len = file.metadata().ctx("stat mbox", &self.path)?.len();
        let reader = file.try_clone().ctx("open mbox", &self.path)?;
        Ok(MboxIter {
            path: self.path.clone(),
            file,
            scanner: Scanner::new(reader.take(len)),
            index: 0,
        })
    }

    fn take_locks(&self, timeout: Duration) -> Result<Held> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .create_mode(0o600)
            .open(&self.path)
            .ctx("open mbox", &self.path)?;
        let start = std::time::Instant::now();
        if !lock::lock_file(&file, timeout).ctx("lock mbox", &self.path)? {
            return Err(StoreError::Locked {
                path: self.path.clone(),
                holder: None,
            });
        }
        let mut dot_path = self.path.clone().into_os_string();
        dot_path.push(".lock");
        let dot = match DotLock::acquire(
            Path::new(&dot_path),
            &DotLockOptions {
                timeout: timeout.saturating_sub(start.elapsed()),
                // Postfix's stale_lock_time.
                stale_after: Duration::from_secs(500),
            },
        ) {
            Ok(d) => Some(d),
            // Without write access to the directory, do without (as Python's mailbox does).
            Err(StoreError::Io { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM)
                ) =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(Held { file, _dot: dot })
    }

    /// Hold the mbox locks until [`Mbox::unlock`] (Python's `mailbox.mbox.lock()`); `add`
    /// works under them.
    pub fn lock(&self, timeout: Duration) -> Result<()> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_none() {
            *held = Some(self.take_locks(timeout)?);
        }
        Ok(())
    }

    pub fn unlock(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn is_locked(&self) -> bool {
        self.held.lock().map(|h| h.is_some()).unwrap_or(false)
    }

    /// Append a message; returns its index.
    pub fn add(&self, data: &[u8]) -> Result<usize> {
        self.add_with(data, &MboxAddOptions::default())
    }

    /// [`Mbox::add`] with options.
    pub fn add_with(&self, data: &[u8], options: &MboxAddOptions) -> Result<usize> {
        let (from_line, body) = split_from_line(data, options);
        let quoted = quote(body);
        let mut record = Vec::with_capacity(from_line.len() + quoted.len() + 4);
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let own = match held.as_ref() {
            Some(_) => None,
            None => Some(self.take_locks(options.lock_timeout)?),
        };
        let Some(locks) = own.as_ref().or(held.as_ref()) else {
            return Err(StoreError::io(
                "lock mbox",
                &self.path,
                io::ErrorKind::Other.into(),
            ));
        };
        let file = &locks.file;
        let old_meta = file.metadata().ctx("stat mbox", &self.path)?;
        let old_len = old_meta.len();
        // Make sure the previous message ends with a newline and an empty line.
        let mut tail = [0u8; 2];
        let tail_len = old_len.min(2) as usize;
        if tail_len > 0 {
            sys::read_exact_at(file, &mut tail[..tail_len], old_len - tail_len as u64)
                .ctx("read mbox", &self.path)?;
        }
        match &tail[..tail_len] {
            [] | [b'\n', b'\n'] => {}
            [.., b'\n'] => record.push(b'\n'),
            _ => record.extend_from_slice(b"\n\n"),
        }
        let prefix_len = record.len() as u64;
        record.extend_from_slice(&from_line);
        record.push(b'\n');
        record.extend_from_slice(&quoted);
        if !quoted.is_empty() && !quoted.ends_with(b"\n") {
            record.push(b'\n');
        }
        record.push(b'\n');
        let result = durable::fault(durable::Fault::Write)
            .and_then(|()| (&*file).write_all(&record))
            .and_then(|()| {
                if options.durable {
                    durable::sync_file(file)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = result {
            // Leave no partial message behind (Python's mailbox does the same).
            let _ = file.set_len(old_len);
            return Err(StoreError::io("append to mbox", &self.path, e));
        }
        let new_meta = file.metadata().ctx("stat mbox", &self.path)?;
        let start = old_len + prefix_len;
        let entry = MboxEntry {
            start,
            body_start: start + from_line.len() as u64 + 1,
            end: new_meta.len().saturating_sub(1),
        };
        let mut toc = self.toc.lock().unwrap_or_else(|e| e.into_inner());
        match toc.as_mut() {
            // The cache described the file just before this append: extend it.
            Some(t)
                if t.id == file_state(&old_meta)
                    && new_meta.len() == old_len + record.len() as u64 =>
            {
                if prefix_len == 2
                    && let Some(last) = t.entries.last_mut()
                {
                    last.end = old_len + 1; // its last line got its newline
                }
                t.entries.push(entry);
                t.id = file_state(&new_meta);
                Ok(t.entries.len() - 1)
            }
            _ => {
                drop(toc);
                let entries = self.entries()?;
                Ok(entries
                    .iter()
                    .position(|e| e.start == start)
                    .unwrap_or(entries.len().saturating_sub(1)))
            }
        }
    }
}

fn read_message(file: &File, e: &MboxEntry) -> io::Result<Vec<u8>> {
    let len = usize::try_from(e.end.saturating_sub(e.body_start))
        .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut buf = crate::mem::zeroed(len);
    sys::read_exact_at(file, &mut buf, e.body_start)?;
    Ok(match unquote(&buf) {
        Cow::Borrowed(_) => buf,
        Cow::Owned(v) => v,
    })
}

/// Messages of an mbox in order, each read when reached.
pub struct MboxIter {
    path: PathBuf,
    file: File,
    scanner: Scanner<io::Take<File>>,
    index: usize,
}

impl Iterator for MboxIter {
    /// (index, message) or the error that stopped the iteration.
    type Item = Result<(usize, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.scanner.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => return None,
            Err(e) => return Some(Err(StoreError::io("read mbox", &self.path, e))),
        };
        let i = self.index;
        self.index += 1;
        Some(
            read_message(&self.file, &entry)
                .map(|m| (i, m))
                .map_err(|e| StoreError::io("read mbox", &self.path, e)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn scan(data: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut s = Scanner::new(data);
        let mut out = Vec::new();
        while let Some(e) = s.next_entry().unwrap() {
            out.push((
                data[e.start as usize..e.body_start as usize].to_vec(),
                data[e.body_start as usize..e.end as usize].to_vec(),
            ));
        }
        out
    }

    fn bodies(data: &[u8]) -> Vec<Vec<u8>> {
        scan(data).into_iter().map(|(_, b)| b).collect()
    }

    #[test]
    fn boundaries_as_python_mailbox_finds_them() {
        // Cases checked against mailbox.mbox._generate_toc (Python 3.11).
        let data = b"From a Mon Jan  1 00:00:00 2024\nSubject: 1\n\nbody\n\nFrom b Mon Jan  1 00:00:00 2024\nx\nFrom c\n\n";
        let got = scan(data);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, b"From a Mon Jan  1 00:00:00 2024\n");
        assert_eq!(got[0].1, b"Subject: 1\n\nbody\n");
        // No empty line before the next From: the line is still content.
        assert_eq!(got[1].1, b"x\n");
        // A message whose body is one empty line is empty.
        assert_eq!(got[2].1, b"");
        assert_eq!(bodies(b""), Vec::<Vec<u8>>::new());
        // Text before the first From line is not a message.
        assert_eq!(bodies(b"junk\nFrom a\nx\n"), vec![b"x\n".to_vec()]);
        // A From line right after a From line.
        assert_eq!(
            bodies(b"From a\nFrom b\nx"),
            vec![b"".to_vec(), b"x".to_vec()]
        );
        // A From line without a newline at the end of the file.
        assert_eq!(
            bodies(b"From a\nx\n\nFrom b"),
            vec![b"x\n".to_vec(), b"".to_vec()]
        );
        // A message that ends in an empty line keeps it (the separator is the extra one).
        assert_eq!(bodies(b"From a\nx\n\n\n"), vec![b"x\n\n".to_vec()]);
        assert_eq!(bodies(b"From a\n"), vec![b"".to_vec()]);
        // Quoted lines are not separators.
        assert_eq!(bodies(b"From a\n>From x\n"), vec![b">From x\n".to_vec()]);
    }

    #[test]
    fn boundaries_across_chunks() {
        // Put separators across every chunk boundary position.
        for shift in 0..12 {
            let mut data = b"From a\n".to_vec();
            data.resize(CHUNK - shift, b'x');
            data.extend_from_slice(b"\n\nFrom b\nsecond\n\nFrom c\nthird\n");
            let got = bodies(&data);
            assert_eq!(got.len(), 3, "shift {shift}");
            assert_eq!(got[0].len(), CHUNK - shift - 7 + 1);
            assert_eq!(got[1], b"second\n");
            assert_eq!(got[2], b"third\n");
        }
    }

    #[test]
    fn end_of_file_rule_across_chunks() {
        // The final empty line (the separator) straddling a chunk boundary, or in the last
        // chunk alone.
        for total in [
            CHUNK - 2,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            CHUNK + 2,
            2 * CHUNK + 1,
        ] {
            let mut data = b"From a\n".to_vec();
            data.resize(total - 2, b'x');
            data.extend_from_slice(b"\n\n");
            let got = bodies(&data);
            assert_eq!(got.len(), 1, "{total}");
            assert_eq!(got[0].len(), total - 7 - 1, "{total}");
            assert!(got[0].ends_with(b"x\n"));
        }
    }

    #[test]
    fn mboxrd_quoting_round_trips() {
        let body = b"From me\n>From you\nnot From here\n>>From deep\n>not from\n";
        let q = quote(body);
        assert_eq!(
            &q[..],
            b">From me\n>>From you\nnot From here\n>>>From deep\n>not from\n"
        );
        assert_eq!(&unquote(&q)[..], body);
        assert!(matches!(quote(b"plain\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn asctime_matches_python() {
        // time.asctime(time.gmtime(0)), time.asctime(time.gmtime(1700000000)),
        // time.asctime(time.gmtime(951782400)) (a leap day).
        let at = |s: u64| asctime(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(at(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        assert_eq!(at(951_782_400), "Tue Feb 29 00:00:00 2000");
    }

    #[test]
    fn add_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mb = Mbox::open(dir.path().join("inbox"), true).unwrap();
        let msgs: [&[u8]; 4] = [
            b"Subject: one\n\nFrom the start\n",
            b"Subject: two\n\nno newline",
            b"From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: three\n\n>From x\n",
            b"",
        ];
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(mb.add(m).unwrap(), i);
        }
        assert_eq!(mb.len().unwrap(), 4);
        assert_eq!(mb.get(0).unwrap(), msgs[0]);
        assert_eq!(mb.get(1).unwrap(), b"Subject: two\n\nno newline\n");
        assert_eq!(mb.get(2).unwrap(), b"Subject: three\n\n>From x\n");
        assert_eq!(
            mb.from_line(2).unwrap(),
            b"alice@example.org Mon Jan  1 00:00:00 2024"
        );
        assert!(mb.from_line(0).unwrap().starts_with(b"MAILER-DAEMON "));
        assert_eq!(mb.get(3).unwrap(), b"");
        let all: Vec<_> = mb.iter().unwrap().map(|r| r.unwrap().1).collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[2], b"Subject: three\n\n>From x\n");
        assert!(matches!(mb.get(4), Err(StoreError::NoSuchMessage { .. })));
        assert!(!Path::new(&format!("{}.lock", mb.path().display())).exists());
    }

    #[test]
    fn a_failed_append_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mb = Mbox::open(dir.path().join("inbox"), true).unwrap();
        mb.add(b"Subject: kept\n\n").unwrap();
        let before = fs::read(mb.path()).unwrap();
        durable::FAULT.with(|f| f.set(Some((durable::Fault::Write, libc::ENOSPC))));
        let err = mb.add(b"Subject: lost\n\n").unwrap_err();
        durable::FAULT.with(|f| f.set(None));
        assert!(err.is_storage_full());
        assert_eq!(fs::read(mb.path()).unwrap(), before);
    }

    #[test]
    fn appending_after_a_file_without_separator() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox");
        fs::write(&path, b"From a\nlast line").unwrap();
        let mb = Mbox::open(&path, false).unwrap();
        assert_eq!(mb.add(b"x\n").unwrap(), 1);
        assert_eq!(mb.get(0).unwrap(), b"last line\n");
        assert_eq!(mb.get(1).unwrap(), b"x\n");
    }

    #[test]
    fn held_lock_blocks_other_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox");
        let a = Mbox::open(&path, true).unwrap();
        let b = Mbox::open(&path, false).unwrap();
        a.lock(Duration::ZERO).unwrap();
        a.add(b"under the lock\n").unwrap();
        let opts = MboxAddOptions {
            lock_timeout: Duration::from_millis(50),
            ..Default::default()
        };
        assert!(matches!(
            b.add_with(b"x\n", &opts),
            Err(StoreError::Locked { .. })
        ));
        a.unlock();
        assert_eq!(b.add_with(b"x\n", &opts).unwrap(), 1);
    }
}
