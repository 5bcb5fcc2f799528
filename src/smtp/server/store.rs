//! The server on the mail store: durable delivery into `MaildirStore` and recipient and
//! credential checks against `UserDb` (RFC 5321 §4.5.1: postmaster always exists).

use std::sync::{Arc, RwLock};

use super::{
    Authenticator, BoxFuture, Deliverer, Directory, Envelope, RecipientStatus, Reply, Session,
    command,
};
use crate::net::blocking;
use crate::store::users::verify_password_hash_pooled;
use crate::store::{MaildirStore, Placed, StoreError, UserDb, validate_name};

const POSTMASTER: &str = "postmaster";

/// Who owns an address.
#[derive(Clone)]
pub enum Accounts {
    /// A users file: accounts, aliases and local domains, plus any `domains` given to the
    /// server. With no domain configured anywhere, every domain is local.
    Users {
        db: Arc<RwLock<UserDb>>,
        domains: Vec<String>,
    },
    /// No users file: the Maildirs that exist in the store are the accounts; `domains` are
    /// the local domains (`None`: every domain).
    Store {
        store: MaildirStore,
        domains: Option<Vec<String>>,
    },
}

impl Accounts {
    /// The account that receives mail for a local address, or why not.
    pub fn account(&self, address: &str) -> Result<String, RecipientStatus> {
        let domain = command::domain_of(address);
        let local = command::local_part_of(address);
        match self {
            Accounts::Users { db, domains } => {
                let db = db.read().unwrap_or_else(|e| e.into_inner());
                let known = |d: &str| domains.iter().any(|l| l.eq_ignore_ascii_case(d));
                let anywhere = db.domains().is_empty() && domains.is_empty();
                if let Some(d) = &domain
                    && !(anywhere || db.is_local_domain(d) || known(d))
                {
                    return Err(RecipientStatus::Remote);
                }
                if local.eq_ignore_ascii_case(POSTMASTER) {
                    return Ok(db.postmaster());
                }
                // The users file resolves addresses in its own domains, bare names otherwise.
                let found = match (&domain, db.domains().first()) {
                    (Some(d), _) if db.is_local_domain(d) => db.resolve(address),
                    (_, Some(first)) => db.resolve(&format!("{local}@{first}")),
                    (_, None) => db.resolve(local),
                };
                found.ok_or(RecipientStatus::Unknown)
            }
            Accounts::Store { store, domains } => {
                if let (Some(d), Some(list)) = (&domain, domains)
                    && !list.iter().any(|l| l.eq_ignore_ascii_case(d))
                {
                    return Err(RecipientStatus::Remote);
                }
                let name = local.to_lowercase();
                if name == POSTMASTER {
                    return Ok(name);
                }
                if validate_name(&name).is_err() {
                    return Err(RecipientStatus::Unknown);
                }
                // The store's existing Maildirs are its accounts.
                if store.root().join(&name).join("new").is_dir() {
                    Ok(name)
                } else {
                    Err(RecipientStatus::Unknown)
                }
            }
        }
    }
}

impl Directory for Accounts {
    fn recipient(&self, address: &str) -> RecipientStatus {
        match self.account(address) {
            Ok(_) => RecipientStatus::Local,
            Err(status) => status,
        }
    }
}

impl Authenticator for Accounts {
    fn authenticate<'a>(
        &'a self,
        _mechanism: &'a str,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        let hash = match self {
            Accounts::Users { db, .. } => {
                let db = db.read().unwrap_or_else(|e| e.into_inner());
                db.account_name(username)
                    .and_then(|name| db.password_hash(name))
                    .map(str::to_owned)
            }
            Accounts::Store { .. } => None,
        };
        let password = password.to_owned();
        Box::pin(async move {
            // The slow hash (Argon2id, 19 MiB) runs on the small pool of password threads, one
            // per core, the others waiting their turn; an unknown user is checked against a
            // dummy hash, which takes as long and fails.
            blocking::passwords()
                .run(move || verify_password_hash_pooled(hash.as_deref(), &password))
                .await
                .ok_or_else(|| "password check failed".to_owned())
        })
    }
}

/// Delivery into one Maildir per local recipient's account: 250 only once the message is in
/// every `new/`, file and directories fsynced. The file work runs on the bounded pool of
/// file-system threads ([`blocking::files`]); the directory fsyncs of concurrent deliveries
/// are shared (group commit) and awaited without holding a thread, so a thousand deliveries
/// at once queue for a few threads instead of starting a thousand.
pub struct StoreDelivery {
    pub store: MaildirStore,
    pub accounts: Accounts,
}

fn store_error_reply(e: &StoreError) -> Reply {
    if e.is_storage_full() {
        Reply::new(452, "4.3.1 Insufficient system storage")
    } else if e.is_too_large() {
        Reply::new(552, "5.3.4 Message too big for the mailbox")
    } else {
        Reply::new(451, "4.3.0 Error: local error in processing (storage)")
    }
}

impl Deliverer for StoreDelivery {
    fn deliver<'a>(
        &'a self,
        _session: &'a Session,
        envelope: &'a mut Envelope,
    ) -> BoxFuture<'a, Result<(), Reply>> {
        let mut users: Vec<String> = envelope
            .rcpt_tos
            .iter()
            .filter_map(|r| self.accounts.account(r).ok())
            .collect();
        users.sort();
        users.dedup();
        let data = std::mem::take(&mut envelope.content);
        let store = self.store.clone();
        Box::pin(async move {
            if users.is_empty() {
                return Ok(());
            }
            // A task of its own: once the message is in `new/` the delivery is finished (or
            // undone) even if the connection is cut meanwhile, as a blocking call would be.
            let joined = tokio::spawn(deliver_durably(store, data, users)).await;
            match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(store_error_reply(&e)),
                Err(_) => Err(Reply::new(451, "4.3.0 Error: local error in processing")),
            }
        })
    }
}

/// Write the message into every user's Maildir (on the file-system pool), then wait for the
/// shared fsyncs of the `new/` directories.
async fn deliver_durably(
    store: MaildirStore,
    data: Vec<u8>,
    users: Vec<String>,
) -> Result<(), StoreError> {
    let placed = blocking::files()
        .run(move || -> Result<Placed, StoreError> {
            let mut delivery = store.begin_delivery(&users)?;
            delivery.write(&data)?;
            drop(data);
            delivery.place()
        })
        .await
        .ok_or_else(pool_failed)??;
    for (syncer, dir) in placed.directories() {
        if let Err(e) = syncer.commit_async().await {
            // Undoing removes files: on the pool too.
            let error = StoreError::io("fsync", dir, e);
            return Err(blocking::files()
                .run(move || placed.fail(error))
                .await
                .unwrap_or_else(pool_failed));
        }
    }
    placed.finish();
    Ok(())
}

fn pool_failed() -> StoreError {
    StoreError::io(
        "deliver",
        "",
        std::io::Error::other("the file-system pool failed"),
    )
}
