//! Reading the messages of a piece: files (decompressed, split when they are mboxes), byte
//! ranges of a plain mbox, and chunks of a gzip stream; and reading one message back from
//! where a row says it is ([`load`]).
//!
//! Mbox messages are found exactly as the store's reader ([`crate::store::mbox::Scanner`],
//! which follows Python's `mailbox.mbox`) finds them, and unquoted the same way (mboxrd: one
//! `>` comes off every `>+From ` line).

use crate::sys::{read_at, read_exact_at};
use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use memchr::memmem;

use super::plan::{FileRef, Sniffed, sniff};
use crate::store::StoreError;
use crate::store::mbox::{Scanner, unquote};

/// A message longer than this is cut here (its row carries the `truncated` defect): the
/// read's memory must stay bounded whatever a hostile archive holds. Real mail is far
/// smaller (providers refuse messages over 25 to 150 MB).
pub const MAX_MESSAGE: u64 = 512 << 20;

/// How a message is stored, as the `source.format` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A file holding one message (`.eml`, possibly gzip-compressed).
    Eml,
    /// A Maildir message file.
    Maildir,
    /// A message of an mbox (its `From ` line not included, `>From ` unquoted).
    Mbox,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Eml => "eml",
            Format::Maildir => "maildir",
            Format::Mbox => "mbox",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "eml" => Format::Eml,
            "maildir" => Format::Maildir,
            "mbox" => Format::Mbox,
            _ => return None,
        })
    }
}

/// One message found in an archive, and where it is. Its bytes are borrowed (a read buffer
/// that the next file reuses, a chunk of an mbox): the row is built before the next message
/// is read.
pub struct Found<'a> {
    pub bytes: &'a [u8],
    pub path: &'a str,
    pub format: Format,
    /// Where the message's bytes start in the file (in the decompressed stream for gzip).
    pub offset: u64,
    /// How many bytes it takes there (before mbox unquoting).
    pub length: u64,
    pub folder: Option<&'a str>,
    /// Maildir flags (the letters after `:2,` in the file name).
    pub flags: Option<&'a str>,
    /// It was longer than [`MAX_MESSAGE`] and was cut.
    pub truncated: bool,
}

fn err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |e| StoreError::io(op, path, e)
}

/// Read at most `limit` bytes into `out` (emptied first); the flag says whether there was
/// more.
fn read_capped(r: impl Read, limit: u64, hint: usize, out: &mut Vec<u8>) -> io::Result<bool> {
    out.clear();
    out.reserve(hint.min(limit as usize).saturating_add(1));
    r.take(limit + 1).read_to_end(out)?;
    let cut = out.len() as u64 > limit;
    out.truncate(limit as usize);
    Ok(cut)
}

/// Buffers a thread reuses from one file to the next (no allocation per message).
#[derive(Default)]
pub struct FileBuffers {
    data: Vec<u8>,
    plain: Vec<u8>,
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The messages of one file (an `.eml`, a Maildir file, a small mbox; any of them gzip).
pub fn read_file(
    f: &FileRef,
    bufs: &mut FileBuffers,
    out: &mut dyn FnMut(Found<'_>),
) -> Result<(), StoreError> {
    let file = File::open(&f.path).map_err(err("open", &f.path))?;
    // `&File` reads straight into the buffer (no fstat: the plan knows the size).
    let mut cut = read_capped(&file, MAX_MESSAGE, f.size as usize, &mut bufs.data)
        .map_err(err("read", &f.path))?;
    drop(file);
    let mut data = &bufs.data;
    if sniff(data) == Sniffed::Gzip {
        let decoder = MultiGzDecoder::new(&data[..]);
        let hint = data.len() * 4;
        cut = read_capped(decoder, MAX_MESSAGE, hint, &mut bufs.plain)
            .map_err(err("gunzip", &f.path))?;
        data = &bufs.plain;
    }
    let path = f.path.to_string_lossy();
    let folder = f.folder.as_deref();
    if !f.maildir && sniff(data) == Sniffed::Mbox {
        split_mbox(data, 0, cut, &path, folder, out);
        return Ok(());
    }
    let flags = f
        .maildir
        .then(|| {
            let name = f.path.file_name()?.to_str()?;
            let (_, info) = crate::store::name::split(name);
            Some(crate::store::name::flags_of(info))
        })
        .flatten();
    let length = data.len() as u64;
    out(Found {
        bytes: data,
        path: &path,
        format: if f.maildir {
            Format::Maildir
        } else {
            Format::Eml
        },
        offset: 0,
        length,
        folder,
        flags,
        truncated: cut,
    });
    Ok(())
}

/// The messages in `data`, an mbox fragment that starts at `base` in its file; `cut` says
/// its last message was truncated.
pub fn split_mbox(
    data: &[u8],
    base: u64,
    cut: bool,
    path: &str,
    folder: Option<&str>,
    out: &mut dyn FnMut(Found<'_>),
) {
    let mut scanner = Scanner::new(data);
    let mut entries = Vec::new();
    // ok: reading from a slice cannot fail.
    while let Ok(Some(e)) = scanner.next_entry() {
        entries.push(e);
    }
    let last = entries.len().saturating_sub(1);
    for (i, e) in entries.into_iter().enumerate() {
        let (s, t) = (e.body_start as usize, e.end as usize);
        let body = data.get(s..t).unwrap_or_default();
        let bytes = unquote(body);
        out(Found {
            bytes: &bytes,
            path,
            format: Format::Mbox,
            offset: base + s as u64,
            length: (t - s) as u64,
            folder,
            flags: None,
            truncated: cut && i == last,
        });
    }
}

/// Where `From ` lines start: after a newline.
static FROM_LINE: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b"\nFrom "));

/// The messages of a plain mbox whose `From ` line starts in `start..end`.
pub fn read_mbox_range(
    path: &Path,
    start: u64,
    end: u64,
    folder: Option<&str>,
    out: &mut dyn FnMut(Found<'_>),
) -> Result<(), StoreError> {
    let file = File::open(path).map_err(err("open", path))?;
    let len = file.metadata().map_err(err("stat", path))?.len();
    let end = end.min(len);
    if start >= end {
        return Ok(());
    }
    // From one byte before `start` (a `From ` line starting right at `start` follows a
    // newline) to 5 bytes past `end` (a `From ` line starting just before `end`).
    let s0 = start.saturating_sub(1);
    let own = (end - s0) as usize;
    let mut buf = crate::mem::zeroed((end.saturating_add(5).min(len) - s0) as usize);
    read_exact_at(&file, &mut buf, s0).map_err(err("read mbox", path))?;
    let first = if start == 0 && buf.starts_with(b"From ") {
        Some(0)
    } else {
        FROM_LINE.find(&buf).map(|i| i + 1)
    };
    let Some(first) = first.filter(|&f| f < own) else {
        return Ok(()); // inside one long message that started before `start`
    };
    // Read on to where the next message begins: a `From ` line at `end` or after it.
    let mut search = own - 1;
    let mut piece = 64 << 10;
    let mut cut = false;
    let stop = loop {
        if let Some(i) = FROM_LINE.find(&buf[search..]) {
            break search + i + 1;
        }
        if (buf.len() - own) as u64 > MAX_MESSAGE {
            cut = true;
            break buf.len();
        }
        let at = s0 + buf.len() as u64;
        if at >= len {
            break buf.len();
        }
        let n = piece.min((len - at) as usize);
        let old = buf.len();
        buf.resize(old + n, 0);
        read_exact_at(&file, &mut buf[old..], at).map_err(err("read mbox", path))?;
        search = old.saturating_sub(5).max(search);
        piece = (piece * 2).min(8 << 20);
    };
    let path = path.to_string_lossy();
    let data = buf.get(first..stop).unwrap_or_default();
    split_mbox(data, s0 + first as u64, cut, &path, folder, out);
    Ok(())
}

/// A gzip-compressed file read as a stream and cut into chunks at message boundaries.
pub struct GzStream {
    path: PathBuf,
    folder: Option<String>,
    decoder: MultiGzDecoder<BufReader<File>>,
    pending: Vec<u8>,
    /// Offset of `pending[0]` in the decompressed stream.
    base: u64,
    eof: bool,
    kind: Option<Sniffed>,
}

/// A piece of a gzip stream: whole messages, and where they start.
pub struct Chunk {
    pub path: Arc<str>,
    pub folder: Option<Arc<str>>,
    pub base: u64,
    pub data: Vec<u8>,
    pub mbox: bool,
    pub cut: bool,
}

impl GzStream {
    pub fn open(path: &Path, folder: Option<String>) -> Result<GzStream, StoreError> {
        let file = File::open(path).map_err(err("open", path))?;
        Ok(GzStream {
            path: path.to_path_buf(),
            folder,
            decoder: MultiGzDecoder::new(BufReader::with_capacity(256 << 10, file)),
            pending: Vec::new(),
            base: 0,
            eof: false,
            kind: None,
        })
    }

    fn fill(&mut self, want: usize) -> Result<(), StoreError> {
        while !self.eof && self.pending.len() < want {
            let old = self.pending.len();
            let n = (want - old).clamp(64 << 10, 4 << 20);
            self.pending.resize(old + n, 0);
            match self.decoder.read(&mut self.pending[old..]) {
                Ok(k) => {
                    self.pending.truncate(old + k);
                    self.eof = k == 0;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.pending.truncate(old),
                Err(e) => {
                    self.pending.truncate(old);
                    return Err(StoreError::io("gunzip", &self.path, e));
                }
            }
        }
        Ok(())
    }

    /// The next chunk of about `target` bytes (more when a message is longer), `None` at the
    /// end of the stream.
    pub fn next_chunk(&mut self, target: usize) -> Result<Option<Chunk>, StoreError> {
        self.fill(target)?;
        if self.pending.is_empty() && self.eof {
            return Ok(None);
        }
        let kind = *self.kind.get_or_insert_with(|| match sniff(&self.pending) {
            Sniffed::Mbox => Sniffed::Mbox,
            _ => Sniffed::Message,
        });
        let limit = MAX_MESSAGE as usize;
        let (at, cut) = if kind == Sniffed::Mbox {
            // Cut before the last `From ` line seen, reading on while there is none.
            let mut searched_to = 0;
            loop {
                if let Some(i) = memmem::rfind(&self.pending[searched_to..], b"\nFrom ") {
                    break (searched_to + i + 1, false);
                }
                if self.eof {
                    break (self.pending.len(), false);
                }
                if self.pending.len() > target + limit {
                    break (self.pending.len(), true);
                }
                searched_to = self.pending.len().saturating_sub(5);
                let want = self.pending.len() + target.max(1 << 20);
                self.fill(want)?;
            }
        } else {
            // One message: all of it (up to the limit).
            self.fill(limit + 1)?;
            let cut = self.pending.len() > limit;
            (self.pending.len().min(limit), cut)
        };
        let rest = self.pending.split_off(at);
        let data = std::mem::replace(&mut self.pending, rest);
        let base = self.base;
        self.base += at as u64;
        if kind != Sniffed::Mbox {
            // The rest of an oversized message is dropped.
            self.pending.clear();
            self.eof = true;
        }
        Ok(Some(Chunk {
            path: Arc::from(path_str(&self.path)),
            folder: self.folder.as_deref().map(Arc::from),
            base,
            data,
            mbox: kind == Sniffed::Mbox,
            cut,
        }))
    }
}

/// The messages of a gzip chunk.
pub fn read_chunk(chunk: Chunk, out: &mut dyn FnMut(Found<'_>)) {
    let folder = chunk.folder.as_deref();
    if chunk.mbox {
        split_mbox(&chunk.data, chunk.base, chunk.cut, &chunk.path, folder, out);
    } else {
        let length = chunk.data.len() as u64;
        out(Found {
            bytes: &chunk.data,
            path: &chunk.path,
            format: Format::Eml,
            offset: chunk.base,
            length,
            folder,
            flags: None,
            truncated: chunk.cut,
        });
    }
}

/// A Maildir file that has moved since it was listed (flags changed, or `new/` to `cur/`):
/// the file with the same key in `new/` or `cur/`.
fn moved_maildir_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (key, _) = crate::store::name::split(name);
    let maildir = path.parent()?.parent()?;
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(maildir.join(sub)).ok()?.flatten() {
            let n = entry.file_name();
            let n = n.to_str()?;
            if crate::store::name::split(n).0 == key {
                return Some(entry.path());
            }
        }
    }
    None
}

/// The bytes of the message a row's `source` names: `length` bytes at `offset` of `path`
/// (of its decompressed stream when it is gzip), unquoted for an mbox.
pub fn load(path: &Path, offset: u64, length: u64, format: Format) -> Result<Vec<u8>, StoreError> {
    if length > MAX_MESSAGE {
        return Err(StoreError::io(
            "load",
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "length is larger than any message read",
            ),
        ));
    }
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && format == Format::Maildir => {
            match moved_maildir_file(path) {
                Some(p) => File::open(&p).map_err(err("open", &p))?,
                None => return Err(StoreError::io("open", path, e)),
            }
        }
        Err(e) => return Err(StoreError::io("open", path, e)),
    };
    let mut head = [0u8; 2];
    let gz = read_at(&file, &mut head, 0).map_err(err("read", path))? == 2
        && sniff(&head) == Sniffed::Gzip;
    let mut buf = crate::mem::zeroed(length as usize);
    if gz {
        let mut decoder = MultiGzDecoder::new(BufReader::new(&file));
        io::copy(&mut (&mut decoder).take(offset), &mut io::sink())
            .and_then(|_| decoder.read_exact(&mut buf))
            .map_err(err("gunzip", path))?;
    } else {
        read_exact_at(&file, &mut buf, offset).map_err(err("read", path))?;
    }
    Ok(match format {
        Format::Mbox => match unquote(&buf) {
            Cow::Borrowed(_) => buf,
            Cow::Owned(v) => v,
        },
        _ => buf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(f: impl FnOnce(&mut dyn FnMut(Found<'_>))) -> Vec<(Vec<u8>, u64, u64, bool)> {
        let mut v = Vec::new();
        f(&mut |m: Found<'_>| {
            v.push((m.bytes.to_vec(), m.offset, m.length, m.truncated));
        });
        v
    }

    const MBOX: &[u8] = b"From a Mon Jan  1 00:00:00 2024\nSubject: 1\n\n>From here\n\n\
From b Mon Jan  1 00:00:00 2024\nSubject: 2\n\nx\n\nFrom c Mon Jan  1 00:00:00 2024\n\
Subject: 3\n\nlast\n";

    #[test]
    fn mbox_ranges_split_anywhere_give_each_message_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m");
        fs::write(&path, MBOX).unwrap();
        let whole = collect(|out| read_mbox_range(&path, 0, 1 << 20, None, out).unwrap());
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].0, b"Subject: 1\n\nFrom here\n");
        assert_eq!(whole[2].0, b"Subject: 3\n\nlast\n");
        let len = MBOX.len() as u64;
        for step in 1..len {
            let mut got = Vec::new();
            let mut start = 0;
            while start < len {
                let end = (start + step).min(len);
                got.extend(collect(|out| {
                    read_mbox_range(&path, start, end, None, out).unwrap()
                }));
                start = end;
            }
            assert_eq!(got, whole, "step {step}");
        }
        // load() gets each one back from its offset and length.
        for (bytes, offset, length, _) in &whole {
            assert_eq!(&load(&path, *offset, *length, Format::Mbox).unwrap(), bytes);
        }
    }

    #[test]
    fn gzip_streams_cut_at_message_boundaries() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let plain = tmp.path().join("m");
        fs::write(&plain, MBOX.repeat(50)).unwrap();
        let expected = collect(|out| read_mbox_range(&plain, 0, 1 << 20, None, out).unwrap());
        let gz = tmp.path().join("m.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&MBOX.repeat(50)).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        for target in [1, 100, 1 << 20] {
            let mut s = GzStream::open(&gz, None).unwrap();
            let mut got = Vec::new();
            while let Some(c) = s.next_chunk(target).unwrap() {
                got.extend(collect(|out| read_chunk(c, out)));
            }
            assert_eq!(got.len(), expected.len(), "target {target}");
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g, e, "target {target} message {i}");
            }
        }
        let (b, o, l, _) = &expected[77];
        assert_eq!(&load(&gz, *o, *l, Format::Mbox).unwrap(), b);
    }

    #[test]
    fn files_are_read_whole_or_as_mboxes() {
        let tmp = tempfile::tempdir().unwrap();
        let eml = tmp.path().join("a.eml");
        fs::write(&eml, b"Subject: a\n\nbody\n").unwrap();
        let f = |path: &Path, maildir| FileRef {
            path: path.to_path_buf(),
            folder: None,
            maildir,
            size: 10,
        };
        let got =
            collect(|out| read_file(&f(&eml, false), &mut FileBuffers::default(), out).unwrap());
        assert_eq!(got, vec![(b"Subject: a\n\nbody\n".to_vec(), 0, 17, false)]);
        let mbox = tmp.path().join("b");
        fs::write(&mbox, MBOX).unwrap();
        assert_eq!(
            collect(|out| read_file(&f(&mbox, false), &mut FileBuffers::default(), out).unwrap())
                .len(),
            3
        );
        // A Maildir file is one message, whatever its first line.
        assert_eq!(
            collect(|out| read_file(&f(&mbox, true), &mut FileBuffers::default(), out).unwrap())
                .len(),
            1
        );
    }
}
