//! The POP3 server's [`Backend`] on the mail store: accounts from a [`UserDb`], maildrops from
//! a [`MaildirStore`] with the exclusive lock Dovecot also takes (`dovecot-uidlist.lock`), so
//! a mailprims session and a Dovecot session on the same Maildir exclude each other.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::server::{Backend, Entry, Maildrop, MaildropError};
use crate::store::{
    DotLock, Maildir, MaildirStore, StoreError, UserDb, name, users::verify_login_pooled,
};

/// Accounts and their Maildirs.
pub struct StoreBackend {
    pub store: MaildirStore,
    pub users: Arc<RwLock<UserDb>>,
    /// A lock not refreshed for this long is taken for abandoned. Sessions refresh theirs
    /// about once a minute while commands arrive, so this must exceed the idle timeout.
    pub stale_after: Duration,
}

impl StoreBackend {
    fn db(&self) -> std::sync::RwLockReadGuard<'_, UserDb> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for StoreBackend {
    type Maildrop = StoreMaildrop;

    fn verify_password(&self, user: &str, password: &str) -> Option<String> {
        verify_login_pooled(&self.users, user, password)
    }

    fn apop_secret(&self, user: &str) -> Option<(String, String)> {
        let db = self.db();
        let account = db.account_name(user)?.to_owned();
        let secret = db.apop_secret(user)?.to_owned();
        Some((account, secret))
    }

    fn open_maildrop(&self, account: &str) -> Result<StoreMaildrop, MaildropError> {
        let maildir = self
            .store
            .mailbox(account, true)
            .map_err(MaildropError::temporary)?;
        let lock = maildir
            .lock_maildrop(self.stale_after)
            .map_err(|e| match e {
                StoreError::Locked { .. } => MaildropError::InUse,
                e => MaildropError::temporary(e),
            })?;
        Ok(StoreMaildrop { maildir, lock })
    }
}

/// One locked Maildir; the lock goes when this is dropped.
pub struct StoreMaildrop {
    maildir: Maildir,
    lock: DotLock,
}

impl Maildrop for StoreMaildrop {
    fn list(&self) -> Result<Vec<Entry>, MaildropError> {
        let infos = self.maildir.list().map_err(MaildropError::temporary)?;
        let mut entries = Vec::with_capacity(infos.len());
        for info in infos {
            // Names written by mailprims and Dovecot carry the CRLF size (`,W=`); others
            // are read once to count it.
            let size = match info.crlf_size {
                Some(w) => w,
                None => match self.maildir.crlf_size(&info.key) {
                    Ok(w) => w,
                    // Removed by someone else since the listing: not part of this session.
                    Err(StoreError::NoSuchMessage { .. }) => continue,
                    Err(e) => return Err(MaildropError::temporary(e)),
                },
            };
            entries.push(Entry {
                uid: name::uidl(&info.key),
                key: info.key,
                size,
            });
        }
        Ok(entries)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, MaildropError> {
        self.maildir.read(key).map_err(MaildropError::temporary)
    }

    fn mark_seen(&self, keys: &[String]) -> Result<(), MaildropError> {
        let mut first_error = None;
        for key in keys {
            match self.maildir.mark_seen(key) {
                Ok(()) | Err(StoreError::NoSuchMessage { .. }) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), |e| Err(MaildropError::temporary(e)))
    }

    fn remove(&self, keys: &[String]) -> Result<(), MaildropError> {
        self.maildir
            .remove_many(keys)
            .map(|_| ())
            .map_err(MaildropError::temporary)
    }

    fn touch(&self) {
        let _ = self.lock.touch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> (tempfile::TempDir, StoreBackend) {
        let dir = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(dir.path(), true).unwrap();
        let mut db = UserDb::new();
        db.add("Alice", Some("pw"), Some("tanstaaf")).unwrap();
        db.add("bob", Some("bobpw"), None).unwrap();
        let backend = StoreBackend {
            store,
            users: Arc::new(RwLock::new(db)),
            stale_after: Duration::from_secs(900),
        };
        (dir, backend)
    }

    #[test]
    fn accounts() {
        let (_dir, b) = backend();
        // names are case-insensitive; the account keeps its spelling
        assert_eq!(b.verify_password("alice", "pw").as_deref(), Some("Alice"));
        assert_eq!(b.verify_password("alice", "wrong"), None);
        assert_eq!(b.verify_password("nobody", "pw"), None);
        assert_eq!(
            b.apop_secret("ALICE"),
            Some(("Alice".to_owned(), "tanstaaf".to_owned()))
        );
        // APOP is opt-in
        assert_eq!(b.apop_secret("bob"), None);
        assert_eq!(b.apop_secret("nobody"), None);
    }

    #[test]
    fn maildrop_lock_list_and_update() {
        let (_dir, b) = backend();
        let md = b.store.mailbox("bob", true).unwrap();
        let k1 = md.add(b"Subject: one\n\nbody\n").unwrap();
        let k2 = md.add(b"Subject: two\r\n\r\nbody\r\n").unwrap();
        let drop1 = b.open_maildrop("bob").unwrap();
        // RFC 3206 IN-USE while the first session holds the lock
        assert!(matches!(b.open_maildrop("bob"), Err(MaildropError::InUse)));
        let entries = drop1.list().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].key, k1);
        // LF-stored message counted in CRLF form
        assert_eq!(entries[0].size, 22);
        assert_eq!(entries[1].size, 22);
        assert_eq!(entries[0].uid, name::uidl(&k1));
        drop1.mark_seen(std::slice::from_ref(&k2)).unwrap();
        drop1.remove(std::slice::from_ref(&k1)).unwrap();
        drop(drop1);
        assert_eq!(md.keys().unwrap(), vec![k2.clone()]);
        assert_eq!(md.flags(&k2).unwrap(), "S");
        // the lock was released with the maildrop
        let again = b.open_maildrop("bob").unwrap();
        assert_eq!(again.list().unwrap().len(), 1);
    }
}
