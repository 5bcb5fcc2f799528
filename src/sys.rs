//! What differs between Unix and other systems, in one place.
//!
//! The stores are written for Unix file systems (Maildir, mbox and Dovecot's files, with the
//! permission bits, inode identities, `fcntl` locks and directory fsyncs other mail software
//! relies on). The release wheels are also built for Windows, where each function here says
//! what it does instead; on macOS and the BSDs the Unix paths apply.

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;

/// Permission bits for a file or directory a store creates (0o600, 0o700: mail is private).
/// Off Unix there are no mode bits: the new entry inherits its parent directory's ACL.
pub trait CreateMode {
    /// Set the mode the entry is created with (Unix only).
    fn create_mode(&mut self, mode: u32) -> &mut Self;
}

impl CreateMode for OpenOptions {
    fn create_mode(&mut self, mode: u32) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(self, mode);
        #[cfg(not(unix))]
        let _ = mode;
        self
    }
}

impl CreateMode for DirBuilder {
    fn create_mode(&mut self, mode: u32) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(self, mode);
        #[cfg(not(unix))]
        let _ = mode;
        self
    }
}

/// (device, inode): which file this is, whatever its name. Off Unix stable Rust has no file
/// index, so (0, 0): callers that key on it also key on the path, or compare times as well.
pub fn dev_ino(meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// Last modification time as (seconds, nanoseconds) since the epoch.
pub fn mtime(meta: &Metadata) -> (i64, i64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.mtime(), meta.mtime_nsec())
    }
    #[cfg(not(unix))]
    {
        system_time(meta.modified().ok())
    }
}

/// Last modification time in nanoseconds since the epoch (one number to compare and store).
pub fn mtime_ns(meta: &Metadata) -> i128 {
    let (secs, nanos) = mtime(meta);
    i128::from(secs) * 1_000_000_000 + i128::from(nanos)
}

/// Last status change (ctime) as (seconds, nanoseconds); off Unix, the creation time (a file
/// replaced under the same name is a new file there too).
pub fn ctime(meta: &Metadata) -> (i64, i64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.ctime(), meta.ctime_nsec())
    }
    #[cfg(not(unix))]
    {
        system_time(meta.created().or_else(|_| meta.modified()).ok())
    }
}

#[cfg(not(unix))]
fn system_time(t: Option<std::time::SystemTime>) -> (i64, i64) {
    match t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
        Some(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
        None => (0, 0),
    }
}

/// Read exactly `buf.len()` bytes at `offset`, without moving a shared file position (on
/// Windows `seek_read` moves the handle's position, which nothing here relies on).
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One positional read (`pread`).
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

/// Flush a directory's entries (renames, new names) to disk. Windows cannot open a directory
/// as a `File`, and NTFS journals its metadata itself: nothing to do there.
pub fn sync_dir(path: &std::path::Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Whether process `pid` may still be alive (a dot-lock's holder). Off Unix a pid in a lock
/// file cannot be checked, so it is taken as alive and the lock goes stale only by age.
pub fn process_alive(pid: i32) -> bool {
    #[cfg(unix)]
    {
        // Signal 0 only checks that the process exists and may be signalled.
        let Some(pid) = rustix::process::Pid::from_raw(pid) else {
            return true;
        };
        !matches!(
            rustix::process::test_kill_process(pid),
            Err(e) if e == rustix::io::Errno::SRCH
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Why there is no Maildir on Windows: its file names carry flags after a ':' (`<unique>:2,S`),
/// which Windows does not allow (NTFS would write an alternate data stream instead).
pub fn no_maildir() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "Maildir needs a POSIX file system (its file names contain ':')",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn positional_reads_and_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        File::create(&path)
            .unwrap()
            .write_all(b"0123456789")
            .unwrap();
        let file = File::open(&path).unwrap();
        let mut buf = [0u8; 4];
        read_exact_at(&file, &mut buf, 3).unwrap();
        assert_eq!(&buf, b"3456");
        let err = read_exact_at(&file, &mut buf, 8).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(read_at(&file, &mut buf, 10).unwrap(), 0);
    }

    #[test]
    fn identity_and_times_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        File::create(&a).unwrap();
        let before = fs_meta(&a);
        std::fs::rename(&a, &b).unwrap();
        let after = fs_meta(&b);
        assert_eq!(dev_ino(&before), dev_ino(&after));
        assert_eq!(mtime(&before), mtime(&after));
        assert!(mtime(&after).0 > 1_600_000_000);
        sync_dir(dir.path()).unwrap();
    }

    fn fs_meta(p: &std::path::Path) -> Metadata {
        std::fs::metadata(p).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn created_files_and_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (f, d) = (dir.path().join("f"), dir.path().join("d"));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .create_mode(0o600)
            .open(&f)
            .unwrap();
        DirBuilder::new().create_mode(0o700).create(&d).unwrap();
        assert_eq!(fs_meta(&f).permissions().mode() & 0o777, 0o600);
        assert_eq!(fs_meta(&d).permissions().mode() & 0o777, 0o700);
        assert!(process_alive(std::process::id() as i32));
    }
}
