//! Locks other mail software honours: dot-lock files and `fcntl` record locks.
//!
//! - [`DotLock`]: `<name>.lock` created exclusively, holding `<pid>:<host>` as Dovecot writes
//!   it (Python's `mailbox` and Postfix leave it empty; both kinds are understood). A lock is
//!   *stale* and broken when its holder is a dead process on this host, or when it has not been
//!   touched for `stale_after`; a live holder is never broken before that.
//! - [`lock_file`]: an exclusive `fcntl` lock on a whole file, what Python's `mailbox` (via
//!   `lockf`), Postfix and Dovecot take on an mbox. Linux's open-file-description locks are used
//!   where available: they conflict with the classic ones, but unlike them are not dropped when
//!   some unrelated descriptor of the same file in this process is closed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::error::{Result, StoreError};
use super::name::raw_hostname;
use crate::sys::{self, CreateMode};

/// How to take a [`DotLock`].
#[derive(Debug, Clone)]
pub struct DotLockOptions {
    /// How long to wait for a live holder; zero tries once.
    pub timeout: Duration,
    /// A lock not modified for this long is taken to be abandoned.
    pub stale_after: Duration,
}

/// A held dot-lock; released on drop.
#[derive(Debug)]
pub struct DotLock {
    path: PathBuf,
    /// Identity of our lock file. The inode alone is not enough: a file system reuses a freed
    /// inode number at once, so a lock that replaced ours after it was broken may have it.
    id: Mutex<FileId>,
    released: bool,
}

type FileId = (u64, u64, i64, i64);

/// What a lock file says about its holder, and whether that holder is known to be dead.
fn holder(path: &Path) -> (Option<String>, bool) {
    let mut text = String::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(256).read_to_string(&mut text);
    }
    let text = text.trim().to_owned();
    if text.is_empty() {
        return (None, false);
    }
    let dead = match text.split_once(':') {
        Some((pid, host)) => match pid.parse::<i32>() {
            Ok(pid) if pid > 0 && host == raw_hostname() => !sys::process_alive(pid),
            _ => false,
        },
        None => false,
    };
    (Some(text), dead)
}

fn file_id(meta: &fs::Metadata) -> FileId {
    let ((dev, ino), (ctime, ctime_nsec)) = (sys::dev_ino(meta), sys::ctime(meta));
    (dev, ino, ctime, ctime_nsec)
}

impl DotLock {
    /// Create `path` exclusively, waiting up to `timeout` for a live holder and breaking a
    /// stale lock. Fails with [`StoreError::Locked`] (naming the holder) when it cannot.
    pub fn acquire(path: &Path, options: &DotLockOptions) -> Result<DotLock> {
        let content = format!("{}:{}", std::process::id(), raw_hostname());
        let deadline = Instant::now() + options.timeout;
        let mut pause = Duration::from_millis(10);
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .create_mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    let written = f.write_all(content.as_bytes());
                    let meta = f.metadata();
                    match (written, meta) {
                        (Ok(()), Ok(meta)) => {
                            return Ok(DotLock {
                                path: path.to_path_buf(),
                                id: Mutex::new(file_id(&meta)),
                                released: false,
                            });
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = fs::remove_file(path);
                            return Err(StoreError::io("write lock", path, e));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("create lock", path, e)),
            }
            // Held by someone: stale?
            let meta = match fs::symlink_metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // just released
                Err(e) => return Err(StoreError::io("check lock", path, e)),
            };
            let (who, dead) = holder(path);
            let age = meta
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            if dead || age > options.stale_after {
                // Break it only if it is still the file we judged (not a fresh lock that
                // replaced it meanwhile).
                if let Ok(again) = fs::symlink_metadata(path)
                    && file_id(&again) == file_id(&meta)
                {
                    let _ = fs::remove_file(path);
                }
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Locked {
                    path: path.to_path_buf(),
                    holder: who,
                });
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn id(&self) -> FileId {
        *self.id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the lock file is still ours (nobody judged it stale and broke it).
    pub fn is_held(&self) -> bool {
        !self.released && fs::symlink_metadata(&self.path).is_ok_and(|m| file_id(&m) == self.id())
    }

    /// Refresh the lock's time so others do not take it for abandoned (a long POP3 session
    /// touches it as it goes). Fails with [`StoreError::Locked`] if it was broken.
    pub fn touch(&self) -> Result<()> {
        if !self.is_held() {
            return Err(StoreError::Locked {
                path: self.path.clone(),
                holder: holder(&self.path).0,
            });
        }
        let f = File::options()
            .write(true)
            .open(&self.path)
            .map_err(|e| StoreError::io("touch lock", &self.path, e))?;
        f.set_modified(SystemTime::now())
            .and_then(|()| f.metadata())
            .map(|m| *self.id.lock().unwrap_or_else(|e| e.into_inner()) = file_id(&m))
            .map_err(|e| StoreError::io("touch lock", &self.path, e))
    }

    /// Release the lock (only if it is still ours).
    pub fn release(mut self) -> Result<()> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        match fs::symlink_metadata(&self.path) {
            Ok(m) if file_id(&m) == self.id() => match fs::remove_file(&self.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::io("remove lock", &self.path, e)),
            },
            _ => Ok(()),
        }
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        let _ = self.release_inner();
    }
}

/// Take an exclusive `fcntl` lock on the whole of `file`, waiting up to `timeout`.
/// Returns `Ok(false)` if it is still held by another process (or descriptor) at the deadline.
/// The lock goes away when `file` is closed.
pub(crate) fn lock_file(file: &File, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if try_lock(file)? {
            return Ok(true);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(false);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Off Unix: the system's own whole-file lock (`LockFileEx` on Windows), which is what other
/// programs there honour.
#[cfg(not(unix))]
fn try_lock(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// An open-file-description lock (`F_OFD_SETLK`, Linux 3.15+): held by this open file, not
/// by the process, so two threads of this process exclude each other too; it conflicts with
/// the classic locks of other programs. `None`: the kernel has no OFD locks.
#[cfg(target_os = "linux")]
fn try_ofd_lock(file: &File) -> Option<io::Result<bool>> {
    // rustix's `fcntl_lock` makes only the classic, process-owned F_SETLK lock, so this one
    // call stays on libc.
    // SAFETY: an all-zero flock is a valid starting value; we set every field fcntl reads.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = 0;
    fl.l_len = 0; // the whole file, however long it grows
    // SAFETY: a valid descriptor (borrowed from `file`) and a valid flock for the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut fl) };
    if rc == 0 {
        return Some(Ok(true));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Some(Ok(false)),
        // Old kernel without OFD locks: the caller falls back to the classic lock.
        Some(libc::EINVAL) => None,
        _ => Some(Err(e)),
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use rustix::fs::{FlockOperation, fcntl_lock};
    use rustix::io::Errno;
    #[cfg(target_os = "linux")]
    if let Some(locked) = try_ofd_lock(file) {
        return locked;
    }
    // The classic fcntl lock, of the whole file however long it grows (what other systems,
    // and old Linux kernels, have).
    match fcntl_lock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == Errno::AGAIN || e == Errno::ACCESS => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(timeout_ms: u64) -> DotLockOptions {
        DotLockOptions {
            timeout: Duration::from_millis(timeout_ms),
            stale_after: Duration::from_secs(300),
        }
    }

    #[test]
    fn dotlock_excludes_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.lock");
        let lock = DotLock::acquire(&path, &opts(0)).unwrap();
        // Dovecot's format: "<pid>:<hostname>".
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(
            content,
            format!("{}:{}", std::process::id(), raw_hostname())
        );
        match DotLock::acquire(&path, &opts(50)) {
            Err(StoreError::Locked { holder, .. }) => assert_eq!(holder, Some(content)),
            other => panic!("{other:?}"),
        }
        assert!(lock.is_held());
        lock.touch().unwrap();
        assert!(lock.is_held());
        lock.release().unwrap();
        assert!(!path.exists());
        DotLock::acquire(&path, &opts(0)).unwrap();
    }

    #[test]
    fn a_dead_holders_lock_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.lock");
        // A child process that has exited: its pid is dead (and not yet reused).
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let mut child = child;
        child.wait().unwrap();
        fs::write(&path, format!("{pid}:{}", raw_hostname())).unwrap();
        let lock = DotLock::acquire(&path, &opts(0)).unwrap();
        assert!(lock.is_held());
    }

    #[test]
    fn an_old_lock_is_broken_a_fresh_empty_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.lock");
        // Python's mailbox and Postfix leave the lock file empty.
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            DotLock::acquire(&path, &opts(0)),
            Err(StoreError::Locked { holder: None, .. })
        ));
        let past = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(past)
            .unwrap();
        DotLock::acquire(&path, &opts(0)).unwrap();
    }

    #[test]
    fn a_broken_lock_is_not_removed_by_its_old_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.lock");
        let old = DotLock::acquire(&path, &opts(0)).unwrap();
        fs::remove_file(&path).unwrap(); // someone judged it stale
        let new = DotLock::acquire(&path, &opts(0)).unwrap();
        assert!(!old.is_held());
        assert!(old.touch().is_err());
        old.release().unwrap();
        assert!(new.is_held());
    }

    #[test]
    fn fcntl_lock_conflicts_between_descriptions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mbox");
        fs::write(&path, b"").unwrap();
        let a = File::options().read(true).write(true).open(&path).unwrap();
        let b = File::options().read(true).write(true).open(&path).unwrap();
        assert!(lock_file(&a, Duration::ZERO).unwrap());
        assert!(!lock_file(&b, Duration::from_millis(30)).unwrap());
        drop(a);
        assert!(lock_file(&b, Duration::ZERO).unwrap());
    }
}
