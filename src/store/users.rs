//! Mail accounts: names, password hashes, APOP secrets, aliases and local domains.
//!
//! Passwords are stored as Argon2id PHC strings (RFC 9106; `$argon2id$v=19$m=19456,t=2,p=1$...`,
//! the RustCrypto `argon2` defaults, which follow the OWASP recommendation). Verification runs
//! the full hash even for unknown names and disabled accounts, and compares in constant time,
//! so neither the answer nor its timing tells whether an account exists.
//!
//! An APOP secret (RFC 1939 §7) has to be kept recoverably, since the server computes
//! `MD5(timestamp + secret)` itself; accounts have one only when they opt in.
//!
//! `postmaster` always resolves (RFC 5321 §4.5.1): to the target of a `postmaster` alias when
//! there is one, else to the account (or receive-only mailbox) named `postmaster`.
//!
//! # The users file
//!
//! UTF-8 text, one entry per line; `#` starts a comment line, blank lines are ignored:
//!
//! ```text
//! domain example.org                    a local domain (any number of these lines)
//! alice:$argon2id$v=19$...              an account and its password hash
//! bob:$argon2id$v=19$...:apop=s%3Acret  ... with an APOP secret (%XX escapes ':', '%', etc.)
//! noreply:!                             an account that receives mail but cannot log in
//! postmaster: alice                     an alias (note the space after the colon)
//! ```
//!
//! Names are matched case-insensitively and keep the case they were given.

use crate::sys::CreateMode;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::RwLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};

use super::durable;
use super::error::{IoContext, Result, StoreError};

/// The reserved name every mail domain must accept (RFC 5321 §4.5.1).
pub const POSTMASTER: &str = "postmaster";

/// Stored instead of a hash for an account that cannot log in.
const DISABLED: &str = "!";

/// Check a user or alias name: it becomes a directory name under the store root and a field
/// of the users file, so no path tricks and nothing the file format uses.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(StoreError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 255 {
        return bad("longer than 255 bytes");
    }
    if name.starts_with('.') {
        return bad("starts with a dot");
    }
    if name.contains("..") {
        return bad("contains '..'");
    }
    for c in name.chars() {
        match c {
            '/' | '\\' => return bad("contains a path separator"),
            '\0' => return bad("contains a NUL character"),
            ':' => return bad("contains ':'"),
            '@' => return bad("contains '@'"),
            c if c.is_control() => return bad("contains a control character"),
            c if c.is_whitespace() => return bad("contains white space"),
            _ => {}
        }
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    if d.is_empty()
        || d.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '/')
    {
        return Err(StoreError::InvalidName {
            name: domain.to_owned(),
            reason: "not a domain name",
        });
    }
    Ok(d)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    name: String,
    /// PHC string, or `!` for no login.
    hash: String,
    apop: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Alias {
    name: String,
    target: String,
}

/// The account database. Plain data: share it behind a lock (`Arc<RwLock<UserDb>>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    accounts: BTreeMap<String, Account>,
    aliases: BTreeMap<String, Alias>,
    domains: Vec<String>,
}

fn fold(name: &str) -> String {
    name.to_lowercase()
}

fn random_salt() -> Result<SaltString> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Password {
        reason: format!("no random salt: {e}"),
    })?;
    SaltString::encode_b64(&bytes).map_err(|e| StoreError::Password {
        reason: e.to_string(),
    })
}

/// Hash a password as an Argon2id PHC string with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = random_salt()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Password {
            reason: e.to_string(),
        })
}

/// A hash of a password nobody has, with the default parameters: verified against when the
/// account does not exist, so that case costs the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"mailprims-dummy!").ok();
        salt.and_then(|s| {
            Argon2::default()
                .hash_password(b"\x00no such account\x00", &s)
                .ok()
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
    })
}

/// Argon2 over `password` with the parameters and salt of the PHC string `hash`, compared with
/// its output in constant time. `memory` is the working memory (`m` KiB, 19 MiB with the
/// defaults), grown as needed and kept by the caller for the next check.
fn verify_hash(hash: &str, password: &str, memory: &mut Vec<argon2::Block>) -> bool {
    #[cfg(test)]
    HASHES_RUN.with(|n| n.set(n.get() + 1));
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if params.block_count() > MAX_HASH_BLOCKS {
        return false;
    }
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
        .is_ok()
        // `Output`'s equality is constant-time.
        && argon2::password_hash::Output::new(out).is_ok_and(|o| o == expected)
}

/// Working memory of a password check larger than this (4 GiB, far beyond any sane `m`) is
/// refused rather than allocated.
const MAX_HASH_BLOCKS: usize = 4 << 20;

#[cfg(test)]
thread_local! {
    /// Argon2 computations run on this thread (tests check unknown users cost one too).
    pub(crate) static HASHES_RUN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn check_hash(hash: &str) -> std::result::Result<(), String> {
    if hash == DISABLED {
        return Ok(());
    }
    let parsed = PasswordHash::new(hash).map_err(|e| format!("bad password hash ({e})"))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => Ok(()),
        other => Err(format!("unsupported password hash scheme {other:?}")),
    }
}

/// `%XX`-escape what the file format reserves: `%`, `:`, white space, control characters and
/// non-ASCII bytes.
fn escape_field(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b == b'%' || b == b':' || !(0x21..=0x7e).contains(&b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b as char);
        }
    }
    out
}

fn unescape_field(value: &str) -> std::result::Result<String, String> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape at column {}", i + 1))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "escaped value is not UTF-8".to_owned())
}

impl UserDb {
    pub fn new() -> Self {
        Self::default()
    }

    // ---- domains --------------------------------------------------------------------------

    /// Add a local domain (case-insensitive; a trailing dot is ignored).
    pub fn add_domain(&mut self, domain: &str) -> Result<()> {
        let d = validate_domain(domain)?;
        if !self.domains.contains(&d) {
            self.domains.push(d);
        }
        Ok(())
    }

    pub fn remove_domain(&mut self, domain: &str) -> bool {
        let d = domain.trim().trim_end_matches('.').to_lowercase();
        let before = self.domains.len();
        self.domains.retain(|x| *x != d);
        before != self.domains.len()
    }

    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        let d = domain.trim_end_matches('.').to_lowercase();
        self.domains.contains(&d)
    }

    // ---- accounts -------------------------------------------------------------------------

    /// Add an account. `password: None` makes a mailbox that receives mail but cannot log in.
    pub fn add(&mut self, name: &str, password: Option<&str>, apop: Option<&str>) -> Result<()> {
        validate_name(name)?;
        let key = fold(name);
        if self.accounts.contains_key(&key) {
            return Err(StoreError::account(name, "account exists already"));
        }
        if self.aliases.contains_key(&key) {
            return Err(StoreError::account(name, "an alias has this name"));
        }
        let hash = match password {
            Some(p) => hash_password(p)?,
            None => DISABLED.to_owned(),
        };
        self.accounts.insert(
            key,
            Account {
                name: name.to_owned(),
                hash,
                apop: apop.map(str::to_owned),
            },
        );
        Ok(())
    }

    fn account_mut(&mut self, name: &str) -> Result<&mut Account> {
        self.accounts
            .get_mut(&fold(name))
            .ok_or_else(|| StoreError::account(name, "no such account"))
    }

    /// Replace an account's password (`None`: no login).
    pub fn set_password(&mut self, name: &str, password: Option<&str>) -> Result<()> {
        let hash = match password {
            Some(p) => hash_password(p)?,
            None => DISABLED.to_owned(),
        };
        self.account_mut(name)?.hash = hash;
        Ok(())
    }

    /// Store an already computed hash (from [`hash_password`], or `!` for no login).
    pub fn set_password_hash(&mut self, name: &str, hash: String) -> Result<()> {
        check_hash(&hash).map_err(|reason| StoreError::Password { reason })?;
        self.account_mut(name)?.hash = hash;
        Ok(())
    }

    /// Set or clear an account's APOP secret.
    pub fn set_apop_secret(&mut self, name: &str, secret: Option<&str>) -> Result<()> {
        self.account_mut(name)?.apop = secret.map(str::to_owned);
        Ok(())
    }

    /// Remove an account or an alias. An account that aliases still point to is refused; the
    /// `postmaster` alias goes back to its default (the `postmaster` mailbox).
    pub fn remove(&mut self, name: &str) -> Result<()> {
        let key = fold(name);
        if self.aliases.remove(&key).is_some() {
            return Ok(());
        }
        if !self.accounts.contains_key(&key) {
            return Err(StoreError::account(name, "no such account or alias"));
        }
        let users: Vec<&str> = self
            .aliases
            .values()
            .filter(|a| fold(&a.target) == key)
            .map(|a| a.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(StoreError::account(
                name,
                format!("still the target of alias(es) {}", users.join(", ")),
            ));
        }
        self.accounts.remove(&key);
        Ok(())
    }

    /// The account's name as stored (case preserved), if it exists.
    pub fn account_name(&self, name: &str) -> Option<&str> {
        self.accounts.get(&fold(name)).map(|a| a.name.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.accounts.contains_key(&fold(name))
    }

    /// Account names, sorted case-insensitively.
    pub fn names(&self) -> Vec<String> {
        self.accounts.values().map(|a| a.name.clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The account's APOP secret, for accounts that opted in.
    pub fn apop_secret(&self, name: &str) -> Option<&str> {
        self.accounts.get(&fold(name))?.apop.as_deref()
    }

    /// The stored hash (PHC string, or `!`).
    pub fn password_hash(&self, name: &str) -> Option<&str> {
        self.accounts.get(&fold(name)).map(|a| a.hash.as_str())
    }

    /// Whether `password` is the account's password. Slow on purpose (Argon2id), the same
    /// for unknown names and accounts without login, and constant-time in its comparison.
    /// Call it without holding locks others wait on: clone the hash first
    /// ([`UserDb::password_hash`]) and use [`verify_password_hash`].
    pub fn verify(&self, name: &str, password: &str) -> bool {
        verify_password_hash(self.password_hash(name), password)
    }

    // ---- aliases --------------------------------------------------------------------------

    /// Make `alias` deliver to `target` (an account, or another alias).
    pub fn add_alias(&mut self, alias: &str, target: &str) -> Result<()> {
        validate_name(alias)?;
        validate_name(target)?;
        let key = fold(alias);
        if self.accounts.contains_key(&key) && key != POSTMASTER {
            return Err(StoreError::account(alias, "an account has this name"));
        }
        if self.aliases.contains_key(&key) {
            return Err(StoreError::account(alias, "alias exists already"));
        }
        let previous = self.aliases.insert(
            key.clone(),
            Alias {
                name: alias.to_owned(),
                target: target.to_owned(),
            },
        );
        if let Err(e) = self.resolve_name(alias).map(|_| ()) {
            match previous {
                Some(p) => self.aliases.insert(key, p),
                None => self.aliases.remove(&key),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Every alias and its target, sorted.
    pub fn aliases(&self) -> Vec<(String, String)> {
        self.aliases
            .values()
            .map(|a| (a.name.clone(), a.target.clone()))
            .collect()
    }

    /// Follow aliases from a local name to the account that receives its mail.
    fn resolve_name(&self, name: &str) -> Result<String> {
        let mut current = fold(name);
        for _ in 0..16 {
            if let Some(alias) = self.aliases.get(&current) {
                current = fold(&alias.target);
                continue;
            }
            if let Some(account) = self.accounts.get(&current) {
                return Ok(account.name.clone());
            }
            if current == POSTMASTER {
                return Ok(POSTMASTER.to_owned());
            }
            return Err(StoreError::account(name, "no such account"));
        }
        Err(StoreError::account(name, "alias loop"))
    }

    /// The account `postmaster` delivers to.
    pub fn postmaster(&self) -> String {
        self.resolve_name(POSTMASTER)
            .unwrap_or_else(|_| POSTMASTER.to_owned())
    }

    /// The account that receives mail for `address` (`user`, `user@domain`, `<user@domain>`,
    /// or a quoted local part), or `None` when it is not local. The domain must be one of the
    /// local domains (`postmaster` without a domain is always accepted, RFC 5321 §4.1.1.3).
    pub fn resolve(&self, address: &str) -> Option<String> {
        let a = address.trim();
        let a = a
            .strip_prefix('<')
            .and_then(|x| x.strip_suffix('>'))
            .unwrap_or(a);
        let (local, domain) = match a.rfind('@') {
            Some(i) => (&a[..i], Some(&a[i + 1..])),
            None => (a, None),
        };
        if let Some(d) = domain
            && !self.is_local_domain(d)
        {
            return None;
        }
        let local = unquote_local_part(local)?;
        if domain.is_none() && fold(&local) != POSTMASTER && !self.domains.is_empty() {
            // A bare name is only an address for postmaster; with no domains configured,
            // bare names are how accounts are addressed.
            return None;
        }
        if validate_name(&local).is_err() {
            return None;
        }
        self.resolve_name(&local).ok()
    }

    // ---- the file -------------------------------------------------------------------------

    /// The users file text (see the module documentation).
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# mailprims users file: `domain <name>`, `<user>:<argon2 hash>[:apop=<secret>]`,\n\
             # `<alias>: <user>`. See the mailprims README, \"Storing mail\".\n",
        );
        for d in &self.domains {
            let _ = writeln!(out, "domain {d}");
        }
        for a in self.accounts.values() {
            let _ = write!(out, "{}:{}", a.name, a.hash);
            if let Some(secret) = &a.apop {
                let _ = write!(out, ":apop={}", escape_field(secret));
            }
            out.push('\n');
        }
        for a in self.aliases.values() {
            let _ = writeln!(out, "{}: {}", a.name, a.target);
        }
        out
    }

    /// Parse a users file; `path` only labels errors.
    pub fn from_text(text: &str, path: Option<&Path>) -> Result<UserDb> {
        let mut db = UserDb::new();
        let mut alias_lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let lineno = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let err = |reason: String| StoreError::UsersFile {
                path: path.map(Path::to_path_buf),
                line: lineno,
                text: line.to_owned(),
                reason,
            };
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let sep = line.find(|c: char| c == ':' || c.is_whitespace());
            let Some(sep) = sep else {
                return Err(err(
                    "expected `name:hash`, `alias: user` or `domain name`".into()
                ));
            };
            let (head, rest) = line.split_at(sep);
            if !rest.starts_with(':') {
                if head == "domain" {
                    db.add_domain(rest.trim()).map_err(|e| err(e.to_string()))?;
                    continue;
                }
                return Err(err(format!("unknown directive {head:?}")));
            }
            let rest = &rest[1..];
            validate_name(head).map_err(|e| err(e.to_string()))?;
            let key = fold(head);
            if db.accounts.contains_key(&key) || db.aliases.contains_key(&key) {
                return Err(err(format!("{head:?} is defined twice")));
            }
            if rest.starts_with([' ', '\t']) {
                let target = rest.trim();
                validate_name(target).map_err(|e| err(e.to_string()))?;
                db.aliases.insert(
                    key,
                    Alias {
                        name: head.to_owned(),
                        target: target.to_owned(),
                    },
                );
                alias_lines.push((head.to_owned(), lineno, line.to_owned()));
                continue;
            }
            let mut fields = rest.split(':');
            let hash = fields.next().unwrap_or("").trim_end();
            check_hash(hash).map_err(err)?;
            let mut apop = None;
            for field in fields {
                let field = field.trim_end();
                match field.split_once('=') {
                    Some(("apop", v)) => apop = Some(unescape_field(v).map_err(err)?),
                    _ => return Err(err(format!("unknown field {field:?}"))),
                }
            }
            db.accounts.insert(
                key,
                Account {
                    name: head.to_owned(),
                    hash: hash.to_owned(),
                    apop,
                },
            );
        }
        for (alias, lineno, line) in alias_lines {
            if let Err(e) = db.resolve_name(&alias) {
                let reason = match e {
                    StoreError::Account { reason, .. } => format!("alias target: {reason}"),
                    other => other.to_string(),
                };
                return Err(StoreError::UsersFile {
                    path: path.map(Path::to_path_buf),
                    line: lineno,
                    text: line,
                    reason,
                });
            }
        }
        Ok(db)
    }

    /// Read a users file.
    pub fn load(path: &Path) -> Result<UserDb> {
        let bytes = fs::read(path).ctx("read users file", path)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            StoreError::UsersFile {
                path: Some(path.to_path_buf()),
                line,
                text: String::new(),
                reason: "not UTF-8".into(),
            }
        })?;
        Self::from_text(&text, Some(path))
    }

    /// Write the users file atomically: a new file (mode 0600) in the same directory, fsynced,
    /// renamed over the old one, and the directory fsynced.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "users".into());
        let tmp = dir.join(format!(".{file_name}.{}.tmp", super::name::unique()));
        let text = self.to_text();
        let result = (|| -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .create_mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            durable::sync_file(&f)?;
            durable::close(f)?;
            fs::rename(&tmp, path)?;
            durable::sync_dir(&dir)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("save users file", path, e));
        }
        Ok(())
    }
}

/// Verify `password` against a stored hash (`None`: no such account). Always does the full
/// Argon2 work; see [`UserDb::verify`]. The working memory is allocated for this call.
pub fn verify_password_hash(hash: Option<&str>, password: &str) -> bool {
    verify_with(hash, password, &mut Vec::new())
}

/// The account `user` logs in to if `password` is right, checked with
/// [`verify_password_hash_pooled`] (so on the servers' password threads). The name and hash
/// are copied under the read lock, released before the slow hash; unknown users take as long.
pub fn verify_login_pooled(users: &RwLock<UserDb>, user: &str, password: &str) -> Option<String> {
    let (account, hash) = {
        let db = users.read().unwrap_or_else(|e| e.into_inner());
        (
            db.account_name(user).map(str::to_owned),
            db.password_hash(user).map(str::to_owned),
        )
    };
    verify_password_hash_pooled(hash.as_deref(), password)
        .then_some(account)
        .flatten()
}

/// [`verify_password_hash`] keeping the working memory (19 MiB with the default parameters)
/// in the calling thread for its next check, instead of allocating and freeing it each time.
/// For a fixed pool of threads that checks passwords all day (the servers'
/// [`crate::net::blocking::passwords`]); any other thread would keep that memory for nothing.
pub fn verify_password_hash_pooled(hash: Option<&str>, password: &str) -> bool {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MEMORY.with(|m| match m.try_borrow_mut() {
        Ok(mut memory) => {
            let ok = verify_with(hash, password, &mut memory);
            // A hash with unusual parameters must not pin more than the usual amount.
            let usual = argon2::Params::DEFAULT_M_COST as usize;
            if memory.len() > usual {
                *memory = Vec::new();
            }
            ok
        }
        Err(_) => verify_with(hash, password, &mut Vec::new()),
    })
}

fn verify_with(hash: Option<&str>, password: &str, memory: &mut Vec<argon2::Block>) -> bool {
    match hash {
        Some(h) if h != DISABLED => verify_hash(h, password, memory),
        _ => {
            // An unknown name or an account without login costs the same work.
            let _ = verify_hash(dummy_hash(), password, memory);
            false
        }
    }
}

/// Compute the hash of the dummy account now, so the first unknown name does not cost more
/// than a known one (servers call it when they start).
pub fn prepare_dummy_hash() {
    let _ = dummy_hash();
}

/// The local part as a name: a quoted string (RFC 5321 §4.1.2) loses its quotes and escapes.
fn unquote_local_part(local: &str) -> Option<String> {
    let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return if local.is_empty() {
            None
        } else {
            Some(local.to_owned())
        };
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    fn db() -> UserDb {
        let mut db = UserDb::new();
        db.add_domain("Example.ORG").unwrap();
        db.add("Alice", Some("wonderland"), None).unwrap();
        db.add("bob", Some("builder"), Some("s3:cr%t")).unwrap();
        db.add_alias("abuse", "alice").unwrap();
        db
    }

    #[test]
    fn unknown_users_cost_one_hash_like_known_ones() {
        prepare_dummy_hash();
        let hash = hash_password("pw").unwrap();
        let before = HASHES_RUN.with(|n| n.get());
        assert!(verify_password_hash_pooled(Some(&hash), "pw"));
        assert!(!verify_password_hash_pooled(Some(&hash), "wrong"));
        assert!(!verify_password_hash_pooled(None, "pw"));
        assert!(!verify_password_hash_pooled(Some(DISABLED), "pw"));
        assert!(!verify_password_hash(None, "pw"));
        assert_eq!(HASHES_RUN.with(|n| n.get()) - before, 5);
    }

    #[test]
    fn reused_memory_verifies_as_argon2_does() {
        // Other parameters than ours (several lanes, Argon2i, v0x10), verified one after the
        // other with the same working memory, agree with the argon2 crate's own verifier.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let cases = [
            (
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                8192,
                1,
                2,
            ),
            (
                argon2::Algorithm::Argon2i,
                argon2::Version::V0x10,
                4096,
                2,
                1,
            ),
            (
                argon2::Algorithm::Argon2d,
                argon2::Version::V0x13,
                1024,
                1,
                4,
            ),
        ];
        for (alg, version, m, t, p) in cases {
            let params = argon2::Params::new(m, t, p, None).unwrap();
            let hash = Argon2::new(alg, version, params)
                .hash_password(b"secret", &salt)
                .unwrap()
                .to_string();
            for (password, expected) in [("secret", true), ("Secret", false), ("", false)] {
                let parsed = PasswordHash::new(&hash).unwrap();
                let theirs = Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(theirs, expected);
                assert_eq!(verify_password_hash_pooled(Some(&hash), password), expected);
                assert_eq!(verify_password_hash(Some(&hash), password), expected);
            }
        }
        assert!(!verify_password_hash_pooled(
            Some("$argon2id$v=19$m=8,t=1,p=1$bad"),
            "x"
        ));
    }

    #[test]
    fn names_that_could_escape_the_store_are_refused() {
        for bad in [
            "", ".", "..", "../etc", "a/b", "a\\b", ".hidden", "a\0b", "a\nb", "a\x7fb", "a b",
            "a:b", "a@b", "x..y",
        ] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        for good in ["alice", "Bob.Smith", "j_doe-1", "josé", "用户"] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn verify_passwords() {
        let db = db();
        assert!(db.verify("alice", "wonderland"));
        assert!(db.verify("ALICE", "wonderland"));
        assert!(!db.verify("alice", "Wonderland"));
        assert!(!db.verify("nobody", "wonderland"));
        let hash = db.password_hash("alice").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // A fresh salt each time.
        let mut again = UserDb::new();
        again.add("alice", Some("wonderland"), None).unwrap();
        assert_ne!(again.password_hash("alice").unwrap(), hash);
    }

    #[test]
    fn receive_only_accounts_cannot_log_in() {
        let mut db = UserDb::new();
        db.add("noreply", None, None).unwrap();
        assert!(!db.verify("noreply", ""));
        assert!(!db.verify("noreply", "!"));
        assert_eq!(db.resolve("noreply").as_deref(), Some("noreply"));
    }

    #[test]
    fn resolve_addresses() {
        let db = db();
        assert_eq!(db.resolve("alice@example.org").as_deref(), Some("Alice"));
        assert_eq!(db.resolve("<ALICE@EXAMPLE.ORG>").as_deref(), Some("Alice"));
        assert_eq!(
            db.resolve("\"alice\"@example.org").as_deref(),
            Some("Alice")
        );
        assert_eq!(db.resolve("abuse@example.org").as_deref(), Some("Alice"));
        assert_eq!(db.resolve("alice@example.org.").as_deref(), Some("Alice"));
        assert_eq!(db.resolve("alice@example.com"), None);
        assert_eq!(db.resolve("carol@example.org"), None);
        assert_eq!(db.resolve("alice"), None);
        assert_eq!(db.resolve("../x@example.org"), None);
        // RFC 5321 §4.5.1: postmaster always exists, in any case, with or without domain.
        assert_eq!(db.resolve("Postmaster").as_deref(), Some("postmaster"));
        assert_eq!(
            db.resolve("POSTMASTER@example.org").as_deref(),
            Some("postmaster")
        );
        let mut db = db;
        db.add_alias("postmaster", "bob").unwrap();
        assert_eq!(db.resolve("postmaster@example.org").as_deref(), Some("bob"));
        assert_eq!(db.postmaster(), "bob");
        db.remove("postmaster").unwrap();
        assert_eq!(db.postmaster(), "postmaster");
    }

    #[test]
    fn alias_rules() {
        let mut db = db();
        assert!(db.add_alias("carol", "nobody").is_err());
        assert!(db.add_alias("alice", "bob").is_err());
        db.add_alias("a1", "abuse").unwrap();
        assert_eq!(db.resolve("a1@example.org").as_deref(), Some("Alice"));
        assert!(db.remove("alice").is_err());
        db.remove("a1").unwrap();
        db.remove("abuse").unwrap();
        db.remove("alice").unwrap();
        assert!(!db.contains("alice"));
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let db = db();
        db.save(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("domain example.org\n"));
        assert!(text.contains(":apop=s3%3Acr%25t\n"));
        assert!(text.contains("abuse: alice\n"));
        let loaded = UserDb::load(&path).unwrap();
        assert_eq!(loaded, db);
        assert_eq!(loaded.apop_secret("bob"), Some("s3:cr%t"));
        assert!(loaded.verify("bob", "builder"));
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases: [(&str, usize, &str); 9] = [
            ("alice:plaintext\n", 1, "bad password hash"),
            (
                "# c\n\nalice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\nalice:!\n",
                4,
                "defined twice",
            ),
            ("bob:!:shell=/bin/sh\n", 1, "unknown field"),
            ("frobnicate example.org\n", 1, "unknown directive"),
            ("abuse: carol\n", 1, "alias target"),
            ("../x:!\n", 1, "invalid user name"),
            ("justaname\n", 1, "expected"),
            ("bob:!:apop=%zz\n", 1, "bad %-escape"),
            ("a: b\nb: a\n", 1, "alias loop"),
        ];
        for (text, line, reason) in cases {
            match UserDb::from_text(text, None) {
                Err(StoreError::UsersFile {
                    line: l, reason: r, ..
                }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
