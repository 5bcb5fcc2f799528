//! Durable delivery of one message to one or more Maildirs.
//!
//! The message is streamed into one file in the first Maildir's `tmp/` (so an SMTP server can
//! write DATA as it arrives and never holds a whole message in memory), then [`Delivery::commit`]:
//!
//! 1. `fdatasync` the file, close it (reporting `close` errors);
//! 2. hard-link it into each other recipient's `new/` and rename it into the last one's, each
//!    time refusing to replace an existing name (a clash takes a fresh name, never a message);
//! 3. fsync each `new/` directory, shared with concurrent deliveries (group commit).
//!
//! Only then are the keys returned, so an SMTP server that replies 250 after `commit` has the
//! message on disk in every mailbox. On any failure every link already made is removed again
//! (nothing half-written or half-delivered stays in `new/`) and the error says which step
//! failed. Dropping an uncommitted delivery (client gone mid-DATA, server stopping) removes the
//! temporary file: nothing is delivered.

use crate::sys::CreateMode;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::durable::{self, DirSync, Fault, fault};
use super::error::{Result, StoreError};
use super::maildir::{AddOptions, CrlfCounter, Maildir, Subdir};
use super::name;

/// A message being written; see the module documentation.
pub struct Delivery {
    targets: Vec<Maildir>,
    durable: bool,
    flags: Option<String>,
    writer: Option<BufWriter<File>>,
    tmp_path: PathBuf,
    unique: String,
    counter: CrlfCounter,
    finished: bool,
}

/// Create a new file in `dir` with a fresh unique name (mode 0600, never an existing file).
fn create_tmp(dir: &Path) -> Result<(File, PathBuf, String)> {
    let mut last_err = None;
    for _ in 0..16 {
        let unique = name::unique();
        let path = dir.join(&unique);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .create_mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((f, path, unique)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(StoreError::io("create temporary file", &path, e)),
        }
    }
    Err(StoreError::io(
        "create temporary file",
        dir,
        last_err.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()),
    ))
}

impl Delivery {
    /// Start delivering one message to `targets` (duplicates are delivered once).
    pub fn new(mut targets: Vec<Maildir>, options: &AddOptions) -> Result<Delivery> {
        let mut seen = std::collections::HashSet::new();
        targets.retain(|t| seen.insert(t.path().to_path_buf()));
        let Some(first) = targets.first() else {
            return Err(StoreError::io(
                "deliver",
                "",
                io::Error::new(io::ErrorKind::InvalidInput, "no mailbox to deliver to"),
            ));
        };
        let flags = options
            .flags
            .as_deref()
            .map(name::normalize_flags)
            .transpose()?;
        let (file, tmp_path, unique) = create_tmp(&first.inner.tmp)?;
        Ok(Delivery {
            targets,
            durable: options.durable,
            flags,
            writer: Some(BufWriter::with_capacity(64 * 1024, file)),
            tmp_path,
            unique,
            counter: CrlfCounter::default(),
            finished: false,
        })
    }

    /// Append the next piece of the message.
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let path = &self.tmp_path;
        let writer = self.writer.as_mut().ok_or_else(|| {
            StoreError::io("write message", path, io::ErrorKind::BrokenPipe.into())
        })?;
        fault(Fault::Write)
            .and_then(|()| writer.write_all(data))
            .map_err(|e| StoreError::io("write message", path, e))?;
        self.counter.feed(data);
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.counter.size
    }

    /// The file name (without info) the message would get in `new/` now.
    pub fn final_name(&self) -> String {
        name::with_sizes(&self.unique, self.counter.size, self.counter.crlf_size)
    }

    /// Make the message durable in every target; returns one key per target (in order).
    pub fn commit(self) -> Result<Vec<String>> {
        let placed = self.place()?;
        for (syncer, dir) in placed.directories() {
            if let Err(e) = syncer.commit() {
                return Err(placed.fail(StoreError::io("fsync", dir, e)));
            }
        }
        Ok(placed.finish())
    }

    /// Steps 1 and 2 of [`Delivery::commit`]: the data durable and closed, the message in every
    /// target's `new/`. What remains is step 3, the directories' fsyncs
    /// ([`Placed::directories`]), which a caller may share with other deliveries' as it likes
    /// (the servers await them without holding a thread), then [`Placed::finish`].
    pub(crate) fn place(mut self) -> Result<Placed> {
        let writer = self.writer.take().ok_or_else(|| {
            StoreError::io("deliver", &self.tmp_path, io::ErrorKind::BrokenPipe.into())
        })?;
        let file = writer
            .into_inner()
            .map_err(|e| StoreError::io("write message", &self.tmp_path, e.into_error()))?;
        if self.durable {
            durable::sync_file(&file).map_err(|e| StoreError::io("fsync", &self.tmp_path, e))?;
        }
        durable::close(file).map_err(|e| StoreError::io("close", &self.tmp_path, e))?;

        let (sub, suffix) = match &self.flags {
            Some(f) => (Subdir::Cur, format!(":2,{f}")),
            None => (Subdir::New, String::new()),
        };
        let mut placed: Vec<(Maildir, String, PathBuf)> = Vec::with_capacity(self.targets.len());
        let n = self.targets.len();
        for (i, target) in self.targets.iter().enumerate() {
            let last = i + 1 == n;
            let mut key = self.final_name();
            let mut clashes = 0;
            loop {
                let dest = target.dir(sub).join(format!("{key}{suffix}"));
                let moved = if last {
                    durable::rename_noreplace(&self.tmp_path, &dest)
                } else {
                    durable::link(&self.tmp_path, &dest)
                };
                let moved = match moved {
                    Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                        copy_across(&self.tmp_path, target, &dest, self.durable)
                    }
                    other => other,
                };
                match moved {
                    Ok(()) => {
                        placed.push((target.clone(), key, dest));
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && clashes < 8 => {
                        clashes += 1;
                        key = name::with_sizes(
                            &name::unique(),
                            self.counter.size,
                            self.counter.crlf_size,
                        );
                    }
                    Err(e) => {
                        rollback(&placed);
                        return Err(StoreError::io("deliver", dest, e));
                    }
                }
            }
        }
        // Gone already unless the last target needed a copy.
        let _ = std::fs::remove_file(&self.tmp_path);
        self.finished = true;
        Ok(Placed {
            placed,
            sub,
            durable: self.durable,
            done: false,
        })
    }

    /// Give up: remove the temporary file (also what dropping does).
    pub fn abort(self) {}
}

impl Write for Delivery {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Delivery::write(self, buf).map_err(|e| match e {
            StoreError::Io { source, .. } => source,
            other => io::Error::other(other.to_string()),
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.finished {
            drop(self.writer.take());
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// A message in every target's `new/` (or `cur/`), not yet acknowledged: until
/// [`Placed::finish`], dropping it (or [`Placed::fail`]) removes it again, so nothing stays
/// that was not reported delivered.
pub(crate) struct Placed {
    placed: Vec<(Maildir, String, PathBuf)>,
    sub: Subdir,
    durable: bool,
    done: bool,
}

impl Placed {
    /// The directories to fsync (each with the group-commit syncer it shares with other
    /// deliveries), once each; none when the delivery is not durable.
    pub fn directories(&self) -> Vec<(Arc<DirSync>, PathBuf)> {
        let mut out: Vec<(Arc<DirSync>, PathBuf)> = Vec::new();
        if !self.durable {
            return out;
        }
        for (target, _, _) in &self.placed {
            let s = target.syncer(self.sub);
            if !out.iter().any(|(x, _)| Arc::ptr_eq(x, s)) {
                out.push((s.clone(), target.dir(self.sub).to_path_buf()));
            }
        }
        out
    }

    /// The directories are synced: the message is delivered. One key per target, in order.
    pub fn finish(mut self) -> Vec<String> {
        self.done = true;
        let sub = self.sub;
        std::mem::take(&mut self.placed)
            .into_iter()
            .map(|(target, key, dest)| {
                if let Some(file_name) = dest.file_name().and_then(|n| n.to_str()) {
                    target.remember(&key, sub, file_name.to_owned());
                }
                key
            })
            .collect()
    }

    /// A directory could not be synced: undo the delivery and return `error`.
    pub fn fail(mut self, error: StoreError) -> StoreError {
        self.done = true;
        rollback(&self.placed);
        error
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        if !self.done {
            rollback(&self.placed);
        }
    }
}

/// A recipient's Maildir on another file system: copy through its own `tmp/`.
fn copy_across(src: &Path, target: &Maildir, dest: &Path, durable: bool) -> io::Result<()> {
    let (mut out, tmp, _) = create_tmp(&target.inner.tmp).map_err(|e| match e {
        StoreError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })?;
    let result = (|| {
        let mut input = File::open(src)?;
        io::copy(&mut input, &mut out)?;
        if durable {
            durable::sync_file(&out)?;
        }
        durable::rename_noreplace(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Undo the deliveries made so far (the message was not acknowledged).
fn rollback(placed: &[(Maildir, String, PathBuf)]) {
    for (_, _, dest) in placed {
        let _ = std::fs::remove_file(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::FAULT;

    #[test]
    fn one_message_to_several_maildirs_shares_one_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let boxes: Vec<Maildir> = ["a", "b", "c"]
            .iter()
            .map(|u| Maildir::open(dir.path().join(u), true).unwrap())
            .collect();
        let mut d = Delivery::new(boxes.clone(), &AddOptions::default()).unwrap();
        d.write(b"Subject: to all\n\n").unwrap();
        d.write(b"hello\n").unwrap();
        let keys = d.commit().unwrap();
        assert_eq!(keys.len(), 3);
        let inodes: Vec<u64> = boxes
            .iter()
            .zip(&keys)
            .map(|(b, k)| {
                assert_eq!(b.read(k).unwrap(), b"Subject: to all\n\nhello\n");
                std::fs::metadata(b.path_of(k).unwrap()).unwrap().ino()
            })
            .collect();
        assert!(inodes.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn duplicate_targets_get_one_copy() {
        let dir = tempfile::tempdir().unwrap();
        let a = Maildir::open(dir.path().join("a"), true).unwrap();
        let again = Maildir::open(dir.path().join("a"), false).unwrap();
        let mut d = Delivery::new(vec![a.clone(), again], &AddOptions::default()).unwrap();
        d.write(b"x\n").unwrap();
        assert_eq!(d.commit().unwrap().len(), 1);
        assert_eq!(a.len().unwrap(), 1);
    }

    #[test]
    fn dropped_delivery_delivers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let a = Maildir::open(dir.path().join("a"), true).unwrap();
        let mut d = a.begin(&AddOptions::default()).unwrap();
        d.write(b"half a mess").unwrap();
        drop(d);
        assert_eq!(a.len().unwrap(), 0);
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_failure_for_one_recipient_undoes_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let boxes: Vec<Maildir> = ["a", "b"]
            .iter()
            .map(|u| Maildir::open(dir.path().join(u), true).unwrap())
            .collect();
        let mut d = Delivery::new(boxes.clone(), &AddOptions::default()).unwrap();
        d.write(b"x\n").unwrap();
        FAULT.with(|f| f.set(Some((Fault::SyncDir, libc::EIO))));
        let err = d.commit().unwrap_err();
        FAULT.with(|f| f.set(None));
        assert_eq!(err.errno(), Some(libc::EIO));
        for b in &boxes {
            assert_eq!(b.len().unwrap(), 0);
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn flags_deliver_into_cur() {
        let dir = tempfile::tempdir().unwrap();
        let a = Maildir::open(dir.path().join("a"), true).unwrap();
        let key = a
            .add_with(
                b"x\n",
                &AddOptions {
                    durable: false,
                    flags: Some("SF".into()),
                },
            )
            .unwrap();
        let (sub, file_name) = a.location(&key).unwrap();
        assert_eq!(sub, Subdir::Cur);
        assert_eq!(file_name, format!("{key}:2,FS"));
    }

    #[test]
    fn streaming_through_io_write() {
        let dir = tempfile::tempdir().unwrap();
        let a = Maildir::open(dir.path().join("a"), true).unwrap();
        let mut d = a.begin(&AddOptions::default()).unwrap();
        let body = vec![b'z'; 300_000];
        io::copy(&mut &body[..], &mut d).unwrap();
        assert_eq!(d.size(), 300_000);
        let key = d.commit().unwrap().pop().unwrap();
        assert_eq!(a.read(&key).unwrap(), body);
    }
}
