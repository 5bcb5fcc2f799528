//! Durable file-system steps: fsync of files and directories, a rename that never replaces,
//! and group commit of directory fsyncs.
//!
//! A message is safe once (1) its data is on disk (`fdatasync` of the file: the data and the
//! size needed to read it back) and (2) its directory entry in `new/` is on disk (`fsync` of
//! the directory after the rename). Step 2 costs one journal commit however many entries
//! changed, so concurrent deliveries share it: [`DirSync::commit`] returns only after an fsync
//! that *started after* the caller's rename has succeeded. [`DirSync::commit_async`] is the
//! same for async callers: waiting for someone else's fsync holds no thread, and the one
//! fsync a batch needs runs on a small pool of its own (it completes a whole batch, so it
//! does not queue behind other file work).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};

/// Steps where tests can inject a failure (thread-local, so parallel tests are unaffected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Fault {
    Write,
    SyncFile,
    Rename,
    SyncDir,
}

#[cfg(test)]
thread_local! {
    pub(crate) static FAULT: std::cell::Cell<Option<(Fault, i32)>> = const { std::cell::Cell::new(None) };
    /// When set, a directory fsync on this thread first waits for a message (to hold a batch
    /// open while other threads queue up).
    pub(crate) static SYNC_GATE: std::cell::RefCell<Option<std::sync::mpsc::Receiver<()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Fail with the injected errno at `point` (tests only; a no-op otherwise).
#[inline]
pub(crate) fn fault(point: Fault) -> io::Result<()> {
    #[cfg(test)]
    if let Some((p, errno)) = FAULT.with(|f| f.get())
        && p == point
    {
        return Err(io::Error::from_raw_os_error(errno));
    }
    let _ = point;
    Ok(())
}

/// Flush a file's data (and the metadata needed to read it: its size) to disk.
pub(crate) fn sync_file(file: &File) -> io::Result<()> {
    fault(Fault::SyncFile)?;
    file.sync_data()
}

/// Flush a directory's entries to disk.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(test)]
    SYNC_GATE.with(|g| {
        if let Some(rx) = g.borrow_mut().take() {
            let _ = rx.recv();
        }
    });
    fault(Fault::SyncDir)?;
    crate::sys::sync_dir(path)
}

/// Off Unix, dropping the handle is all there is (`CloseHandle` reports nothing useful).
#[cfg(not(unix))]
pub(crate) fn close(file: File) -> io::Result<()> {
    drop(file);
    Ok(())
}

/// Close a file and report the error `close` returns (NFS reports write errors there), which
/// dropping a `File` would ignore.
#[cfg(unix)]
pub(crate) fn close(file: File) -> io::Result<()> {
    use std::os::fd::IntoRawFd;
    let fd = file.into_raw_fd();
    // Dropping a File or an OwnedFd discards close's error, and rustix's `try_close`, which
    // returns it, is itself unsafe: libc it is.
    // SAFETY: we own `fd` (taken from the File) and close it exactly once.
    if unsafe { libc::close(fd) } != 0 {
        let e = io::Error::last_os_error();
        // EINTR: the descriptor is closed anyway on Linux; nothing to retry.
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(())
}

/// Move `from` to `to`, failing with `AlreadyExists` instead of replacing an existing `to`:
/// `renameat2(RENAME_NOREPLACE)` where the kernel and file system have it, else link + unlink
/// (what the Maildir spec and Python's mailbox do).
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fault(Fault::Rename)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::hard_link(from, to)?;
    // The message is in place; a leftover tmp/ name is removed by `clean` later.
    let _ = std::fs::remove_file(from);
    Ok(())
}

/// A hard link that is one of the deliveries of a multi-recipient message.
pub(crate) fn link(from: &Path, to: &Path) -> io::Result<()> {
    fault(Fault::Rename)?;
    std::fs::hard_link(from, to)
}

#[derive(Default)]
struct SyncState {
    /// Tickets handed out: one per change that needs the directory synced.
    issued: u64,
    /// Every ticket up to this one is covered by a successful fsync.
    synced: u64,
    /// Every ticket up to this one was covered by an fsync that failed (and by no later
    /// successful one when it was checked).
    failed: u64,
    failed_errno: i32,
    /// An fsync is running.
    busy: bool,
    /// fsyncs run so far.
    batches: u64,
}

/// Group commit of one directory's fsyncs.
pub struct DirSync {
    path: PathBuf,
    state: Mutex<SyncState>,
    /// Wakes blocking waiters ([`DirSync::commit`]) ...
    done: Condvar,
    /// ... and async ones ([`DirSync::commit_async`]) when an fsync ends.
    done_async: tokio::sync::Notify,
}

impl DirSync {
    /// The shared syncer of the directory at `path`: one per directory per process, so every
    /// handle on the same Maildir joins the same group. Keyed by the path *and* the inode, so a
    /// directory deleted and made again (possibly reusing the inode number) gets a new one.
    pub(crate) fn for_dir(path: &Path) -> io::Result<Arc<DirSync>> {
        type Registry = Mutex<HashMap<(PathBuf, u64, u64), Weak<DirSync>>>;
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        let meta = std::fs::metadata(path)?;
        let (dev, ino) = crate::sys::dev_ino(&meta);
        let id = (path.to_path_buf(), dev, ino);
        let mut map = REGISTRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = map.get(&id).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        if map.len() > 64 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let sync = Arc::new(DirSync {
            path: path.to_path_buf(),
            state: Mutex::new(SyncState::default()),
            done: Condvar::new(),
            done_async: tokio::sync::Notify::new(),
        });
        map.insert(id, Arc::downgrade(&sync));
        Ok(sync)
    }

    /// Make every entry change made in this directory *before the call* durable. Concurrent
    /// callers share fsyncs: one caller runs an fsync covering everyone who arrived before it
    /// started; callers who arrive during it wait and share the next one.
    pub fn commit(&self) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.issued += 1;
        let ticket = st.issued;
        loop {
            if st.synced >= ticket {
                return Ok(());
            }
            if st.failed >= ticket {
                return Err(io::Error::from_raw_os_error(st.failed_errno));
            }
            if st.busy {
                st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Lead a batch: everything issued so far happened before this fsync starts.
            st.busy = true;
            let target = st.issued;
            drop(st);
            let result = sync_dir(&self.path);
            self.batch_done(target, &result);
            return result;
        }
    }

    /// Record the outcome of the fsync that covered tickets up to `target`, and wake everyone
    /// waiting.
    fn batch_done(&self, target: u64, result: &io::Result<()>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.busy = false;
        st.batches += 1;
        match result {
            Ok(()) => st.synced = st.synced.max(target),
            Err(e) => {
                // After a failed fsync a retry may "succeed" without the data being safe (the
                // kernel clears the error), so the whole batch reports the failure.
                st.failed = st.failed.max(target);
                st.failed_errno = e.raw_os_error().unwrap_or(libc::EIO);
            }
        }
        drop(st);
        self.done.notify_all();
        self.done_async.notify_waiters();
    }

    /// [`DirSync::commit`] for async callers. Those who wait for a batch hold no thread; the
    /// leader's fsync runs on [`crate::net::blocking::directories`].
    pub async fn commit_async(self: &Arc<Self>) -> io::Result<()> {
        let ticket = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            st.issued += 1;
            st.issued
        };
        loop {
            let notified = self.done_async.notified();
            tokio::pin!(notified);
            let target = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.synced >= ticket {
                    return Ok(());
                }
                if st.failed >= ticket {
                    return Err(io::Error::from_raw_os_error(st.failed_errno));
                }
                if st.busy {
                    // Registered before the lock is released, so the wake-up cannot be missed.
                    notified.as_mut().enable();
                    None
                } else {
                    st.busy = true;
                    Some(st.issued)
                }
            };
            let Some(target) = target else {
                notified.await;
                continue;
            };
            // Lead a batch. Should this future be dropped while the fsync runs, the guard
            // still records its outcome, so the others are not left waiting.
            let mut guard = Leader {
                sync: self.clone(),
                target,
                armed: true,
            };
            let this = self.clone();
            let ran = crate::net::blocking::directories()
                .run(move || {
                    let result = sync_dir(&this.path);
                    this.batch_done(target, &result);
                    result
                })
                .await;
            return match ran {
                Some(result) => {
                    guard.armed = false;
                    result
                }
                // The job panicked: the guard reports the batch failed.
                None => Err(io::Error::other("directory fsync did not run")),
            };
        }
    }

    /// (commits requested, fsyncs run), for tests and figures of the batching.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        self.state
            .lock()
            .map(|s| (s.issued, s.batches))
            .unwrap_or((0, 0))
    }
}

/// Leading an async batch: if dropped before the fsync job reports (the job is then lost or
/// still queued), it releases the batch as failed so waiters retry rather than hang.
struct Leader {
    sync: Arc<DirSync>,
    target: u64,
    armed: bool,
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let st = self.sync.state.lock().unwrap_or_else(|e| e.into_inner());
        let reported = st.synced >= self.target || st.failed >= self.target || !st.busy;
        drop(st);
        if !reported {
            self.sync
                .batch_done(self.target, &Err(io::Error::other("fsync abandoned")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn rename_noreplace_refuses_to_replace() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let err = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        std::fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert!(!a.exists());
        assert_eq!(std::fs::read(&b).unwrap(), b"one");
    }

    #[test]
    fn one_syncer_per_directory() {
        let dir = tempfile::tempdir().unwrap();
        let s1 = DirSync::for_dir(dir.path()).unwrap();
        let s2 = DirSync::for_dir(dir.path()).unwrap();
        assert!(Arc::ptr_eq(&s1, &s2));
    }

    #[test]
    fn concurrent_commits_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DirSync::for_dir(dir.path()).unwrap();
        let n = 16;
        let barrier = Arc::new(Barrier::new(n));
        let ok = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (sync, barrier, ok, path) = (
                    sync.clone(),
                    barrier.clone(),
                    ok.clone(),
                    dir.path().to_path_buf(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    std::fs::write(path.join(format!("f{i}")), b"x").unwrap();
                    sync.commit().unwrap();
                    ok.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ok.load(Ordering::SeqCst), n);
        let (issued, batches) = sync.counts();
        assert_eq!(issued, n as u64);
        assert!((1..=n as u64).contains(&batches));
    }

    #[test]
    fn callers_arriving_during_an_fsync_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DirSync::for_dir(dir.path()).unwrap();
        let (release, gate) = std::sync::mpsc::channel();
        let leader = {
            let sync = sync.clone();
            std::thread::spawn(move || {
                SYNC_GATE.with(|g| *g.borrow_mut() = Some(gate));
                sync.commit().unwrap();
            })
        };
        // Wait until the leader's fsync is running (and held at the gate).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while sync.counts().0 < 1 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        let followers: Vec<_> = (0..5)
            .map(|_| {
                let sync = sync.clone();
                std::thread::spawn(move || sync.commit().unwrap())
            })
            .collect();
        while sync.counts().0 < 6 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        release.send(()).unwrap();
        leader.join().unwrap();
        for f in followers {
            f.join().unwrap();
        }
        // The leader's fsync could not cover the five (they arrived after it started); one
        // more fsync covers all five.
        assert_eq!(sync.counts(), (6, 2));
    }

    #[test]
    fn a_failed_directory_fsync_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DirSync::for_dir(dir.path()).unwrap();
        FAULT.with(|f| f.set(Some((Fault::SyncDir, libc::EIO))));
        let err = sync.commit().unwrap_err();
        FAULT.with(|f| f.set(None));
        assert_eq!(err.raw_os_error(), Some(libc::EIO));
        // A later change is covered by a new fsync, which succeeds.
        sync.commit().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn async_commits_share_fsyncs_without_a_thread_each() {
        let dir = tempfile::tempdir().unwrap();
        let sync = DirSync::for_dir(dir.path()).unwrap();
        let n = 200;
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (sync, path) = (sync.clone(), dir.path().to_path_buf());
                tokio::spawn(async move {
                    std::fs::write(path.join(format!("f{i}")), b"x").unwrap();
                    sync.commit_async().await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let (issued, batches) = sync.counts();
        assert_eq!(issued, n);
        assert!(batches < n, "{batches} fsyncs for {n} commits");
        // Blocking and async callers share the same batches.
        let blocking = {
            let sync = sync.clone();
            std::thread::spawn(move || sync.commit().unwrap())
        };
        sync.commit_async().await.unwrap();
        blocking.join().unwrap();
        assert!(crate::net::blocking::directories().threads() <= 4);
    }
}
