//! The mail store: Maildirs (one per user), mbox files, and the accounts that own them.
//!
//! Pure Rust with no pyo3 and no async runtime: every call blocks on the file system, so async
//! servers run them on a bounded pool of threads ([`crate::net::blocking::files`]); the one
//! async piece, [`durable::DirSync::commit_async`], lets deliveries wait for a shared directory
//! fsync without holding a thread. All handles are `Clone + Send + Sync`.
//!
//! What the servers use:
//!
//! - SMTP (RFC 5321 §4.2.5: reply 250 only once the message is safe):
//!   [`MaildirStore::begin_delivery`] → [`Delivery::write`] for each DATA/BDAT chunk →
//!   [`Delivery::commit`] (fsync file, rename into every `new/`, group-committed fsync of the
//!   directories; the SMTP server splits it into `Delivery::place` on the pool and the
//!   directories' `commit_async`) → 250; an error is 452 when [`StoreError::is_storage_full`], 552 when
//!   [`StoreError::is_too_large`], else 451. Dropping the `Delivery` (client gone, server
//!   stopping) delivers nothing. [`MaildirStore::deliver`] does it in one call for a message
//!   already in memory.
//! - POP3 (RFC 1939): [`Maildir::lock_maildrop`] (the exclusive lock; `Locked` is `-ERR
//!   [IN-USE]`, RFC 3206) → [`Maildir::list`] (keys with sizes, and CRLF sizes for `LIST`,
//!   from file names: nothing is read) → [`Maildir::open_file`] / [`Maildir::read`] for `RETR`
//!   and `TOP` → [`Maildir::mark_seen`] after `RETR` → [`Maildir::remove_many`] at `QUIT` →
//!   release the lock. [`name::uidl`] turns a key into a `UIDL` id.
//! - Accounts: [`UserDb::resolve`] for `RCPT TO`, [`verify_password_hash`] for logins (slow;
//!   copy the hash out of the shared `UserDb` first), [`UserDb::apop_secret`] for `APOP`.

mod delivery;
pub(crate) mod durable;
mod error;
mod lock;
mod maildir;
mod maildir_store;
pub mod mbox;
pub mod name;
pub mod users;

pub use delivery::Delivery;
pub(crate) use delivery::Placed;
pub use error::{Result, StoreError};
pub use lock::{DotLock, DotLockOptions};
pub use maildir::{AddOptions, MAILDROP_LOCK, Maildir, MaildirEntry, Subdir, crlf_size};
pub use maildir_store::{Delivered, DeliveryHook, MaildirStore};
pub use mbox::{Mbox, MboxAddOptions, MboxEntry, MboxIter};
pub use users::{UserDb, hash_password, validate_name, verify_password_hash};
// The IMAP server's way to hear of deliveries into a Maildir it serves.
pub use maildir::ChangeHook;

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers move these into `spawn_blocking` closures and share them across tasks.
    #[test]
    fn handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Maildir>();
        send_sync::<MaildirStore>();
        send_sync::<Delivery>();
        send_sync::<Mbox>();
        send_sync::<UserDb>();
        send_sync::<DotLock>();
        send_sync::<StoreError>();
    }
}
