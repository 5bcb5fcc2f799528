use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in the mail store.
///
/// Operating-system failures keep the `io::Error` (and so its errno) and the path involved, so
/// the Python layer can raise the matching `OSError` subclass and a server can choose its reply
/// (a full disk is a temporary 452 in SMTP, RFC 5321 §4.2.5; most other failures are 451).
#[derive(Debug)]
pub enum StoreError {
    /// A system call failed: `op` says which step, `path` on what.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// No message with this key in the mailbox (or the key cannot name one).
    NoSuchMessage { key: String },
    /// Someone else holds the lock (RFC 3206 `IN-USE` for a POP3 maildrop).
    Locked {
        path: PathBuf,
        holder: Option<String>,
    },
    /// A user or alias name that cannot be used (path traversal, control characters...).
    InvalidName { name: String, reason: &'static str },
    /// An account-level refusal: the name exists already, is unknown, or is still in use.
    Account { name: String, reason: String },
    /// Maildir flags or info that are not letters.
    InvalidFlags { flags: String, reason: &'static str },
    /// A users file that cannot be read; `line` is 1-based.
    UsersFile {
        path: Option<PathBuf>,
        line: usize,
        text: String,
        reason: String,
    },
    /// A password could not be hashed.
    Password { reason: String },
}

impl StoreError {
    #[cold]
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    #[cold]
    pub fn no_such_message(key: &str) -> Self {
        Self::NoSuchMessage {
            key: key.to_owned(),
        }
    }

    #[cold]
    pub fn account(name: &str, reason: impl Into<String>) -> Self {
        Self::Account {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The OS error number, when the failure came from the OS.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The disk or the user's quota is full (`ENOSPC`, `EDQUOT`): SMTP answers 452, not 451.
    pub fn is_storage_full(&self) -> bool {
        // Unix errno values; elsewhere the error kinds below carry the meaning.
        #[cfg(unix)]
        let by_errno = matches!(self.errno(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
        #[cfg(not(unix))]
        let by_errno = false;
        by_errno
            || matches!(self, Self::Io { source, .. }
                if matches!(source.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded))
    }

    /// The message is larger than the system lets one file be (`EFBIG`, a resource limit):
    /// SMTP answers 552 (RFC 5321 §4.5.3.1.10).
    pub fn is_too_large(&self) -> bool {
        self.errno() == Some(libc::EFBIG)
            || matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::FileTooLarge)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            Self::NoSuchMessage { key } => write!(f, "no message with key {key:?}"),
            Self::Locked { path, holder } => {
                write!(f, "mailbox is locked: {}", path.display())?;
                if let Some(h) = holder {
                    write!(f, " (held by {h})")?;
                }
                Ok(())
            }
            Self::InvalidName { name, reason } => write!(f, "invalid user name {name:?}: {reason}"),
            Self::Account { name, reason } => write!(f, "{name:?}: {reason}"),
            Self::InvalidFlags { flags, reason } => {
                write!(f, "invalid Maildir flags {flags:?}: {reason}")
            }
            Self::UsersFile {
                path,
                line,
                text,
                reason,
            } => {
                match path {
                    Some(p) => write!(f, "{}:{line}: ", p.display())?,
                    None => write!(f, "line {line}: ")?,
                }
                write!(f, "{reason}: {text:?}")
            }
            Self::Password { reason } => write!(f, "password hashing failed: {reason}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Attach the step and path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError::io(op, path, e))
    }
}
