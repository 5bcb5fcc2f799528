//! `root/<user>/`: one Maildir per user, what the SMTP server delivers to and the POP3 server
//! serves.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::delivery::Delivery;
use super::error::{IoContext, Result, StoreError};
use super::maildir::{AddOptions, Maildir};
use super::users::validate_name;

struct Inner {
    root: PathBuf,
    boxes: Mutex<HashMap<String, Maildir>>,
    hooks: Mutex<Vec<(u64, DeliveryHook)>>,
    next_hook: AtomicU64,
}

/// A message [`MaildirStore::deliver`] has just made durable: whose, under which key, and
/// its bytes.
pub struct Delivered<'a> {
    pub user: &'a str,
    pub key: &'a str,
    pub data: &'a [u8],
}

/// Called after every delivery through the store (see [`MaildirStore::add_delivery_hook`]).
pub type DeliveryHook = Arc<dyn Fn(&Delivered<'_>) + Send + Sync>;

/// The Maildirs of all users under one root directory. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct MaildirStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MaildirStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MaildirStore")
            .field(&self.inner.root)
            .finish()
    }
}

impl MaildirStore {
    /// Open the store at `root`, creating the directory (mode 0700) with `create`.
    pub fn open(root: impl AsRef<Path>, create: bool) -> Result<MaildirStore> {
        let root = root.as_ref().to_path_buf();
        if cfg!(windows) {
            return Err(StoreError::io(
                "open store",
                &root,
                crate::sys::no_maildir(),
            ));
        }
        if create {
            use crate::sys::CreateMode;
            fs::DirBuilder::new()
                .recursive(true)
                .create_mode(0o700)
                .create(&root)
                .ctx("create store", &root)?;
        }
        let meta = fs::metadata(&root).ctx("open store", &root)?;
        if !meta.is_dir() {
            return Err(StoreError::io(
                "open store",
                &root,
                io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        Ok(MaildirStore {
            inner: Arc::new(Inner {
                root,
                boxes: Mutex::new(HashMap::new()),
                hooks: Mutex::new(Vec::new()),
                next_hook: AtomicU64::new(1),
            }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where `user`'s Maildir is (the name is validated: no path traversal).
    pub fn path_for(&self, user: &str) -> Result<PathBuf> {
        validate_name(user)?;
        Ok(self.inner.root.join(user))
    }

    /// `user`'s Maildir, created on first use when `create`.
    pub fn mailbox(&self, user: &str, create: bool) -> Result<Maildir> {
        let path = self.path_for(user)?;
        let mut boxes = self.inner.boxes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(md) = boxes.get(user)
            && md.path().join("new").is_dir()
        {
            return Ok(md.clone());
        }
        let md = Maildir::open(&path, create)?;
        boxes.insert(user.to_owned(), md.clone());
        Ok(md)
    }

    /// Whether `user` has a Maildir.
    pub fn exists(&self, user: &str) -> bool {
        self.path_for(user)
            .map(|p| p.join("new").is_dir())
            .unwrap_or(false)
    }

    /// The users that have a Maildir, sorted.
    pub fn users(&self) -> Result<Vec<String>> {
        let root = &self.inner.root;
        let mut out = Vec::new();
        for entry in fs::read_dir(root).ctx("list store", root)? {
            let entry = entry.ctx("list store", root)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if validate_name(&name).is_ok() && entry.path().join("new").is_dir() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Call `hook` after each delivery made through [`MaildirStore::deliver`] (what the SMTP
    /// server uses), on the delivering thread, once the message is durable and before the
    /// delivery returns: the web inbox indexes new mail this way, so what SMTP acknowledged
    /// is listed at once. Deliveries by other processes or straight into a [`Maildir`] are
    /// not reported. Returns an id for [`MaildirStore::remove_delivery_hook`].
    pub fn add_delivery_hook(&self, hook: DeliveryHook) -> u64 {
        let id = self.inner.next_hook.fetch_add(1, Ordering::Relaxed);
        let mut hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.push((id, hook));
        id
    }

    /// Stop calling the hook `add_delivery_hook` returned `id` for.
    pub fn remove_delivery_hook(&self, id: u64) {
        let mut hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
        hooks.retain(|(i, _)| *i != id);
    }

    fn notify(&self, data: &[u8], delivered: &[(String, String)]) {
        let hooks: Vec<DeliveryHook> = {
            let hooks = self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner());
            if hooks.is_empty() {
                return;
            }
            hooks.iter().map(|(_, h)| h.clone()).collect()
        };
        for (user, key) in delivered {
            let event = Delivered { user, key, data };
            for hook in &hooks {
                hook(&event);
            }
        }
    }

    /// Start delivering one message to several users (each named once; duplicates are
    /// delivered once). See [`Delivery`].
    pub fn begin_delivery<S: AsRef<str>>(&self, users: &[S]) -> Result<Delivery> {
        self.begin_delivery_with(users, &AddOptions::default())
    }

    /// [`MaildirStore::begin_delivery`] with options.
    pub fn begin_delivery_with<S: AsRef<str>>(
        &self,
        users: &[S],
        options: &AddOptions,
    ) -> Result<Delivery> {
        let targets = self.targets(users)?;
        Delivery::new(targets.into_iter().map(|(_, m)| m).collect(), options)
    }

    fn targets<S: AsRef<str>>(&self, users: &[S]) -> Result<Vec<(String, Maildir)>> {
        let mut seen = Vec::<String>::new();
        let mut out = Vec::new();
        for u in users {
            let u = u.as_ref();
            if seen.iter().any(|s| s == u) {
                continue;
            }
            seen.push(u.to_owned());
            out.push((u.to_owned(), self.mailbox(u, true)?));
        }
        Ok(out)
    }

    /// Deliver a message held in memory to `users`; returns `(user, key)` for each distinct
    /// user, once the message is durable in all their Maildirs.
    pub fn deliver<S: AsRef<str>>(
        &self,
        data: &[u8],
        users: &[S],
    ) -> Result<Vec<(String, String)>> {
        self.deliver_with(data, users, &AddOptions::default())
    }

    /// [`MaildirStore::deliver`] with options.
    pub fn deliver_with<S: AsRef<str>>(
        &self,
        data: &[u8],
        users: &[S],
        options: &AddOptions,
    ) -> Result<Vec<(String, String)>> {
        let targets = self.targets(users)?;
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = targets.iter().map(|(u, _)| u.clone()).collect();
        let mut d = Delivery::new(targets.into_iter().map(|(_, m)| m).collect(), options)?;
        d.write(data)?;
        let keys = d.commit()?;
        let delivered: Vec<(String, String)> = names.into_iter().zip(keys).collect();
        self.notify(data, &delivered);
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_traversal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(dir.path().join("mail"), true).unwrap();
        for bad in [
            "../escape",
            "/etc",
            "a/../../b",
            ".",
            "..",
            "a\0",
            ".dovecot",
        ] {
            assert!(
                matches!(
                    store.mailbox(bad, true),
                    Err(StoreError::InvalidName { .. })
                ),
                "{bad:?}"
            );
            assert!(store.deliver(b"x\n", &[bad]).is_err());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(store.users().unwrap().is_empty());
    }

    #[test]
    fn deliver_to_several_users() {
        let dir = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(dir.path(), true).unwrap();
        let got = store
            .deliver(b"Subject: hi\n\n", &["alice", "bob", "alice"])
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(store.users().unwrap(), ["alice", "bob"]);
        for (user, key) in got {
            let md = store.mailbox(&user, false).unwrap();
            assert_eq!(md.read(&key).unwrap(), b"Subject: hi\n\n");
        }
        assert!(store.exists("alice"));
        assert!(store.deliver(b"x\n", &[] as &[&str]).unwrap().is_empty());
        assert!(!store.exists("carol"));
        assert!(store.mailbox("carol", false).is_err());
    }

    #[test]
    fn delivery_hooks_see_each_recipient_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(dir.path(), true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let id = store.add_delivery_hook(Arc::new(move |d: &Delivered<'_>| {
            sink.lock()
                .unwrap()
                .push((d.user.to_owned(), d.key.to_owned(), d.data.to_vec()));
        }));
        let got = store
            .clone()
            .deliver(b"Subject: a\n\n", &["bob", "alice"])
            .unwrap();
        let expected: Vec<_> = got
            .iter()
            .map(|(u, k)| (u.clone(), k.clone(), b"Subject: a\n\n".to_vec()))
            .collect();
        assert_eq!(*seen.lock().unwrap(), expected);
        store.remove_delivery_hook(id);
        store.deliver(b"x\n", &["bob"]).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
    }
}
