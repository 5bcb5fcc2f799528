//! Finding the messages of the paths a caller names, and cutting them into [`Piece`]s.
//!
//! A path is an `.eml` file (any single message), an mbox file, a Maildir (`cur/` and `new/`,
//! with its Maildir++ folders `.Name/`), or a directory, walked recursively: each Maildir in
//! it is read as one, every other file as a message or an mbox. Which of the two a file is,
//! and whether it is gzip-compressed, is read from its first bytes (`From ` starts an mbox,
//! RFC 4155; `1f 8b` a gzip stream, RFC 1952), never from its name. Hidden entries (names
//! starting with `.`, other than Maildir++ folders) are skipped, as mail clients skip them.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::store::{StoreError, name};

/// One file holding one message (a Maildir file, an `.eml`), or a small mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub path: PathBuf,
    /// The mailbox it is in, relative to the path given (see [`plan`]).
    pub folder: Option<String>,
    /// A Maildir message file: one message, never read as an mbox; its flags are in its name.
    pub maildir: bool,
    /// Its size on disk, for cutting work into even pieces.
    pub size: u64,
}

/// A unit of work that one thread (or one Dask task) reads on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Small files, each read whole (and decompressed, and split when it is an mbox).
    Files(Vec<FileRef>),
    /// The messages of a plain mbox whose `From ` line starts in `start..end`; the last one
    /// is read past `end` to its end.
    Mbox {
        path: PathBuf,
        start: u64,
        end: u64,
        folder: Option<String>,
    },
    /// A large gzip-compressed file (an mbox, or one message), read as one stream: gzip
    /// cannot be entered in the middle.
    Stream {
        path: PathBuf,
        folder: Option<String>,
    },
}

impl Piece {
    /// Roughly how many bytes of input the piece covers (compressed size for a stream).
    pub fn size(&self) -> u64 {
        match self {
            Piece::Files(files) => files.iter().map(|f| f.size).sum(),
            Piece::Mbox { start, end, .. } => end - start,
            Piece::Stream { path, .. } => fs::metadata(path).map_or(0, |m| m.len()),
        }
    }
}

/// Directories nested deeper than this are not followed (a symbolic link loop ends here).
const MAX_DEPTH: usize = 64;
/// At most this many files go into one piece, whatever their size.
const MAX_FILES: usize = 4096;

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |e| StoreError::io(op, path, e)
}

/// What a file's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Gzip,
    Mbox,
    Message,
}

pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&[0x1f, 0x8b]) {
        Sniffed::Gzip
    } else if head.starts_with(b"From ") && !from_header(head) {
        Sniffed::Mbox
    } else {
        Sniffed::Message
    }
}

/// `From : ...`: a From header field with white space before its colon (RFC 5322 §4.5), not
/// an mbox `From ` line.
fn from_header(head: &[u8]) -> bool {
    head[4..]
        .iter()
        .find(|&&b| b != b' ' && b != b'\t')
        .is_some_and(|&b| b == b':')
}

fn sniff_file(path: &Path) -> Result<Sniffed, StoreError> {
    let mut head = [0u8; 64];
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io("read", path, e)),
        }
    }
    Ok(sniff(&head[..n]))
}

/// Is `dir` a Maildir (it has `cur/` and `new/`)? Dovecot makes `tmp/` only when it
/// delivers, so it is not required.
pub(crate) fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() && dir.join("new").is_dir()
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

struct Planner {
    blocksize: u64,
    pieces: Vec<Piece>,
    files: Vec<FileRef>,
    files_size: u64,
}

impl Planner {
    fn flush(&mut self) {
        if !self.files.is_empty() {
            self.pieces
                .push(Piece::Files(std::mem::take(&mut self.files)));
            self.files_size = 0;
        }
    }

    fn add_small(&mut self, file: FileRef) {
        self.files_size += file.size;
        self.files.push(file);
        if self.files_size >= self.blocksize || self.files.len() >= MAX_FILES {
            self.flush();
        }
    }

    fn add_file(
        &mut self,
        path: &Path,
        folder: Option<String>,
        size: u64,
    ) -> Result<(), StoreError> {
        if size <= self.blocksize {
            self.add_small(FileRef {
                path: path.to_path_buf(),
                folder,
                maildir: false,
                size,
            });
            return Ok(());
        }
        self.flush();
        match sniff_file(path)? {
            Sniffed::Gzip => self.pieces.push(Piece::Stream {
                path: path.to_path_buf(),
                folder,
            }),
            Sniffed::Mbox => {
                let mut start = 0;
                while start < size {
                    let end = size.min(start.saturating_add(self.blocksize));
                    self.pieces.push(Piece::Mbox {
                        path: path.to_path_buf(),
                        start,
                        end,
                        folder: folder.clone(),
                    });
                    start = end;
                }
            }
            Sniffed::Message => self.pieces.push(Piece::Files(vec![FileRef {
                path: path.to_path_buf(),
                folder,
                maildir: false,
                size,
            }])),
        }
        Ok(())
    }

    /// A Maildir's messages (`new/` then `cur/`, in delivery order), then its Maildir++
    /// folders by name. `folder` is the name of its INBOX.
    fn add_maildir(&mut self, dir: &Path, prefix: &str, folder: String) -> Result<(), StoreError> {
        self.add_maildir_files(dir, folder)?;
        let mut subfolders: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("list Maildir", dir))? {
            let entry = entry.map_err(io_err("list Maildir", dir))?;
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            // Maildir++: a folder is `.Name` (`.Parent.Child` for a sub-folder), itself a
            // Maildir, as Python's `mailbox.Maildir.list_folders` and Dovecot read it.
            if file_name.len() > 1 && file_name.starts_with('.') && is_maildir(&entry.path()) {
                subfolders.push((file_name[1..].to_owned(), entry.path()));
            }
        }
        subfolders.sort();
        for (name, path) in subfolders {
            self.add_maildir_files(&path, join(prefix, &name))?;
        }
        Ok(())
    }

    /// The messages of one Maildir (or Maildir++ folder), `new/` then `cur/`, in delivery
    /// order (as Dovecot sorts).
    fn add_maildir_files(&mut self, dir: &Path, folder: String) -> Result<(), StoreError> {
        // With the numeric part of each name's sort key, computed once (a comparison sort
        // calls the comparator n log n times; the plan of a 100,000-message Maildir spent
        // most of its time in `sort_key`).
        type Listed = ((u64, u64), String, PathBuf, Option<u64>);
        let mut found: Vec<Listed> = Vec::new();
        for sub in ["new", "cur"] {
            let d = dir.join(sub);
            for entry in fs::read_dir(&d).map_err(io_err("list Maildir", &d))? {
                let entry = entry.map_err(io_err("list Maildir", &d))?;
                let Ok(file_name) = entry.file_name().into_string() else {
                    continue; // not a name any Maildir writer makes
                };
                if file_name.starts_with('.') || entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let size = name::size_field(&file_name, b'S');
                let (secs, usecs, _) = name::sort_key(&file_name);
                found.push(((secs, usecs), file_name, entry.path(), size));
            }
        }
        // The order of `name::sort_key`: the time, then (rarely needed) the rest of the key.
        found.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| name::sort_key(&a.1).2.cmp(name::sort_key(&b.1).2))
        });
        for (_, _, path, size) in found {
            let size = match size {
                Some(s) => s,
                None => match fs::metadata(&path) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // moved meanwhile
                    Err(e) => return Err(StoreError::io("stat", &path, e)),
                },
            };
            self.add_small(FileRef {
                path,
                folder: Some(folder.clone()),
                maildir: true,
                size,
            });
        }
        Ok(())
    }

    fn walk(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), StoreError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err("list directory", dir))? {
            let entry = entry.map_err(io_err("list directory", dir))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') {
                continue;
            }
            entries.push((file_name, entry.path()));
        }
        entries.sort();
        for (file_name, path) in entries {
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // dangling link
                Err(e) => return Err(StoreError::io("stat", &path, e)),
            };
            let here = join(rel, &file_name);
            if meta.is_dir() {
                if is_maildir(&path) {
                    self.add_maildir(&path, &here, join(&here, "INBOX"))?;
                } else {
                    self.walk(&path, &here, depth + 1)?;
                }
            } else if meta.is_file() {
                let folder = if rel.is_empty() {
                    None
                } else {
                    Some(rel.to_owned())
                };
                self.add_file(&path, folder, meta.len())?;
            }
        }
        Ok(())
    }
}

/// The pieces of work for `paths`, in order, each covering about `blocksize` bytes.
///
/// A message's `folder` is the mailbox it is in, relative to the path given: `INBOX` for a
/// Maildir's own messages and the folder's name for a Maildir++ folder (`Sent`,
/// `Archive.2023`), prefixed by the Maildir's directory when it was found inside a walked
/// directory (`alice/INBOX`, `alice/Sent`); for other files found in a walk, the directory
/// they are in (`allen-p/inbox`); `None` for a file named directly or at the top of the walk.
pub fn plan(paths: &[PathBuf], blocksize: u64) -> Result<Vec<Piece>, StoreError> {
    let mut p = Planner {
        blocksize: blocksize.max(1),
        pieces: Vec::new(),
        files: Vec::new(),
        files_size: 0,
    };
    for path in paths {
        let meta = fs::metadata(path).map_err(io_err("open", path))?;
        if meta.is_dir() {
            if is_maildir(path) {
                p.add_maildir(path, "", "INBOX".to_owned())?;
            } else {
                p.walk(path, "", 0)?;
            }
        } else {
            p.add_file(path, None, meta.len())?;
        }
    }
    p.flush();
    Ok(p.pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, data: &[u8]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }

    #[test]
    fn finds_maildirs_folders_mboxes_and_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(&root.join("md/new/2.x"), b"Subject: 2\n\n");
        write(&root.join("md/cur/1.x:2,S"), b"Subject: 1\n\n");
        write(&root.join("md/.Sent/cur/3.x:2,"), b"Subject: 3\n\n");
        fs::create_dir_all(root.join("md/.Sent/new")).unwrap();
        write(&root.join("lists/a.mbox"), b"From a\nSubject: a\n\n");
        write(&root.join("top.eml"), b"Subject: t\n\n");
        write(&root.join(".hidden"), b"Subject: h\n\n");
        let pieces = plan(&[root.to_path_buf()], 1 << 20).unwrap();
        let Piece::Files(files) = &pieces[0] else {
            panic!("{pieces:?}")
        };
        let got: Vec<(String, Option<&str>, bool)> = files
            .iter()
            .map(|f| {
                (
                    f.path.strip_prefix(root).unwrap().display().to_string(),
                    f.folder.as_deref(),
                    f.maildir,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("lists/a.mbox".to_string(), Some("lists"), false),
                ("md/cur/1.x:2,S".to_string(), Some("md/INBOX"), true),
                ("md/new/2.x".to_string(), Some("md/INBOX"), true),
                ("md/.Sent/cur/3.x:2,".to_string(), Some("md/Sent"), true),
                ("top.eml".to_string(), None, false),
            ]
        );
    }

    #[test]
    fn large_mboxes_are_cut_into_ranges_and_gzip_streams_kept_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mbox = tmp.path().join("big.mbox");
        write(&mbox, &b"From a\nSubject: x\n\nbody\n\n".repeat(100));
        let pieces = plan(std::slice::from_ref(&mbox), 1000).unwrap();
        assert_eq!(pieces.len(), 3);
        assert!(matches!(
            pieces[2],
            Piece::Mbox {
                start: 2000,
                end: 2500,
                ..
            }
        ));
        let gz = tmp.path().join("big.mbox.gz");
        write(&gz, &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0].repeat(200));
        let pieces = plan(std::slice::from_ref(&gz), 1000).unwrap();
        assert!(matches!(pieces[..], [Piece::Stream { .. }]));
        assert!(plan(&[tmp.path().join("missing")], 1000).is_err());
        assert_eq!(
            sniff(b"From  : John Doe <jdoe@machine.example>"),
            Sniffed::Message
        );
        assert_eq!(sniff(b"From jdoe@machine.example Mon"), Sniffed::Mbox);
    }
}
