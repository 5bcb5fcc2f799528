//! A user's mailboxes as Maildir++ folders, the layout Dovecot and Courier use: INBOX is the
//! user's Maildir itself, every other mailbox a Maildir named `.` + its name, levels joined by
//! `.` (`Archive/2024` is `.Archive.2024`), each level in modified UTF-7 as Dovecot stores it
//! (`Entwürfe` is `.Entw&APw-rfe`). The IMAP hierarchy separator is `/`.
//!
//! Names are checked before they touch the file system: no `.` inside a level (it is the
//! separator on disk), no empty level (so no `..`), no `/` on disk, no NUL or other control
//! characters, no LIST wildcards, and short enough for one directory name. A name that passes
//! can only ever be one directory directly inside the user's Maildir.

use crate::sys::CreateMode;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::control::Ctx;
use crate::imap::utf7;
use crate::store::{StoreError, name};

/// The IMAP hierarchy separator.
pub const SEPARATOR: char = '/';

/// The folders a user gets on first login, with their SPECIAL-USE attributes (RFC 6154).
pub const SPECIAL: [(&str, &str); 5] = [
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

/// Longest mailbox name accepted, in octets.
pub const MAX_NAME: usize = 512;

/// What Dovecot leaves while it deletes a folder; never a mailbox.
const TRASHED: &str = "DOVECOT-TRASHED";

/// Why a mailbox operation failed.
#[derive(Debug)]
pub enum FolderError {
    /// The name cannot be a mailbox (RFC 5530 `CANNOT`).
    BadName(&'static str),
    /// No such mailbox (`NONEXISTENT`).
    NotFound,
    /// The name is taken (`ALREADYEXISTS`).
    Exists,
    /// Not allowed on INBOX, or some other refusal (`CANNOT`).
    Cannot(&'static str),
    /// The file system failed (`SERVERBUG`, or `OVERQUOTA` when the disk is full).
    Store(StoreError),
}

impl From<StoreError> for FolderError {
    fn from(e: StoreError) -> Self {
        FolderError::Store(e)
    }
}

impl std::fmt::Display for FolderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FolderError::BadName(why) | FolderError::Cannot(why) => f.write_str(why),
            FolderError::NotFound => f.write_str("Mailbox doesn't exist"),
            FolderError::Exists => f.write_str("Mailbox already exists"),
            FolderError::Store(e) => write!(f, "{e}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, FolderError>;

/// Whether `name` is INBOX (any case).
pub fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// Check a mailbox name and give its canonical form: `INBOX` in upper case as the first
/// level, a trailing separator (RFC 9051 §6.3.4: "create inferiors") removed.
pub fn canonical(name: &str) -> Result<String> {
    let name = name.strip_suffix(SEPARATOR).unwrap_or(name);
    if name.is_empty() {
        return Err(FolderError::BadName("Empty mailbox name"));
    }
    if name.len() > MAX_NAME {
        return Err(FolderError::BadName("Mailbox name too long"));
    }
    let mut out = String::with_capacity(name.len());
    for (i, level) in name.split(SEPARATOR).enumerate() {
        if level.is_empty() {
            return Err(FolderError::BadName(
                "Mailbox name has an empty level (two separators in a row)",
            ));
        }
        if level.contains('.') {
            return Err(FolderError::BadName(
                "Character not allowed in mailbox name: '.'",
            ));
        }
        if level
            .chars()
            .any(|c| c.is_control() || c == '*' || c == '%')
        {
            return Err(FolderError::BadName(
                "Mailbox name has a control character or wildcard",
            ));
        }
        if i > 0 {
            out.push(SEPARATOR);
        }
        if i == 0 && is_inbox(level) {
            out.push_str("INBOX");
        } else {
            out.push_str(level);
        }
    }
    if out != "INBOX" && disk_name(&out).len() > 255 {
        return Err(FolderError::BadName("Mailbox name too long"));
    }
    Ok(out)
}

/// The directory name of a (canonical, non-INBOX) mailbox: `.` and its levels in modified
/// UTF-7 joined by `.`.
fn disk_name(name: &str) -> String {
    let mut out = String::from(".");
    for (i, level) in name.split(SEPARATOR).enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&utf7::encode(level));
    }
    out
}

/// The mailbox a directory name stands for, if it is one.
pub fn name_of_dir(dir: &str) -> Option<String> {
    let rest = dir.strip_prefix('.')?;
    if rest.is_empty() || rest == "." || rest == TRASHED {
        return None;
    }
    let mut out = String::new();
    for (i, level) in rest.split('.').enumerate() {
        let level = utf7::decode(level.as_bytes()).ok()?;
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(&level);
    }
    // Only names that come back to the same directory (no aliases of one folder).
    let canon = canonical(&out).ok()?;
    (disk_name(&canon) == dir).then_some(canon)
}

/// The SPECIAL-USE attribute of a top-level folder by its name.
pub fn special_use(name: &str) -> Option<&'static str> {
    SPECIAL.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
}

/// One mailbox as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub name: String,
    /// A Maildir is there (`cur/` exists): it can be selected.
    pub selectable: bool,
    /// Not a directory at all, only the parent of others (`\NonExistent`).
    pub virtual_parent: bool,
    pub has_children: bool,
    pub special_use: Option<&'static str>,
}

/// The mailboxes of one user.
#[derive(Debug, Clone)]
pub struct Folders {
    root: PathBuf,
}

impl Folders {
    pub fn new(root: impl Into<PathBuf>) -> Folders {
        Folders { root: root.into() }
    }

    /// The user's Maildir (INBOX).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Maildir of a canonical mailbox name.
    pub fn path(&self, name: &str) -> PathBuf {
        if name == "INBOX" {
            self.root.clone()
        } else {
            self.root.join(disk_name(name))
        }
    }

    /// Whether the mailbox exists and can be selected.
    pub fn exists(&self, name: &str) -> bool {
        fs::symlink_metadata(self.path(name).join("cur")).is_ok_and(|m| m.is_dir())
    }

    /// Every mailbox, INBOX first, then by name, virtual parents included.
    pub fn list(&self) -> Result<Vec<Folder>> {
        let mut names: Vec<(String, bool)> = Vec::new();
        for entry in fs::read_dir(&self.root).ctx("list mailboxes", &self.root)? {
            let entry = entry.ctx("list mailboxes", &self.root)?;
            // Symbolic links are not followed: a folder is a real directory in the root.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(dir) = entry.file_name().into_string() else {
                continue;
            };
            let Some(name) = name_of_dir(&dir) else {
                continue;
            };
            let selectable = entry.path().join("cur").is_dir();
            names.push((name, selectable));
        }
        names.sort();
        let mut out: Vec<Folder> = Vec::with_capacity(names.len() + 1);
        out.push(Folder {
            name: "INBOX".into(),
            selectable: true,
            virtual_parent: false,
            has_children: false,
            special_use: None,
        });
        for (name, selectable) in &names {
            if name == "INBOX" {
                continue;
            }
            out.push(Folder {
                name: name.clone(),
                selectable: *selectable,
                virtual_parent: false,
                has_children: false,
                special_use: special_use(name),
            });
        }
        // Parents that are not folders themselves (`A/B` without `A`).
        let mut parents: Vec<String> = Vec::new();
        for f in &out {
            let mut at = 0;
            while let Some(i) = f.name[at..].find(SEPARATOR) {
                let parent = &f.name[..at + i];
                if !out.iter().any(|o| o.name == parent) && !parents.iter().any(|p| p == parent) {
                    parents.push(parent.to_owned());
                }
                at += i + 1;
            }
        }
        for p in parents {
            out.push(Folder {
                special_use: None,
                name: p,
                selectable: false,
                virtual_parent: true,
                has_children: true,
            });
        }
        let all: Vec<String> = out.iter().map(|f| f.name.clone()).collect();
        for f in &mut out {
            let prefix = format!("{}{SEPARATOR}", f.name);
            f.has_children = all.iter().any(|n| n.starts_with(&prefix));
        }
        out[1..].sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// CREATE: a new Maildir (and the `maildirfolder` marker Courier and Dovecot write).
    pub fn create(&self, name: &str) -> Result<()> {
        if name == "INBOX" {
            return Err(FolderError::Exists);
        }
        let path = self.path(name);
        if self.exists(name) {
            return Err(FolderError::Exists);
        }
        match fs::DirBuilder::new().create_mode(0o700).create(&path) {
            Ok(()) => {}
            // A directory without `cur/` (left half-made): complete it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    return Err(FolderError::Exists);
                }
            }
            Err(e) => return Err(StoreError::io("create mailbox", &path, e).into()),
        }
        for sub in ["tmp", "new", "cur"] {
            let p = path.join(sub);
            match fs::DirBuilder::new().create_mode(0o700).create(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("create mailbox", &p, e).into()),
            }
        }
        let marker = path.join("maildirfolder");
        fs::write(&marker, b"").ctx("create mailbox", &marker)?;
        Ok(())
    }

    /// DELETE: the folder's own Maildir goes (its children stay). It is first moved into
    /// the user's `tmp/`, so it disappears at once and whole, then removed.
    pub fn delete(&self, name: &str) -> Result<()> {
        if name == "INBOX" {
            return Err(FolderError::Cannot("INBOX can't be deleted."));
        }
        let path = self.path(name);
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            return Err(FolderError::NotFound);
        }
        let doomed = self
            .root
            .join("tmp")
            .join(format!(".deleted.{}", name::unique()));
        fs::rename(&path, &doomed).ctx("delete mailbox", &path)?;
        fs::remove_dir_all(&doomed).ctx("delete mailbox", &doomed)?;
        Ok(())
    }

    /// RENAME (not of INBOX): the folder and its children move to the new name.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        if from == "INBOX" || to == "INBOX" {
            return Err(FolderError::Cannot("Renaming INBOX is done by the session"));
        }
        if from == to {
            return Err(FolderError::Exists);
        }
        let children_of = |n: &str| format!("{n}{SEPARATOR}");
        if to.starts_with(&children_of(from)) {
            return Err(FolderError::Cannot(
                "Can't rename a mailbox to its own child",
            ));
        }
        let folders = self.list()?;
        let moving: Vec<&Folder> = folders
            .iter()
            .filter(|f| !f.virtual_parent)
            .filter(|f| f.name == from || f.name.starts_with(&children_of(from)))
            .collect();
        // A parent that is not a folder itself moves its children.
        if moving.is_empty() {
            return Err(FolderError::NotFound);
        }
        if fs::symlink_metadata(self.path(to)).is_ok() {
            return Err(FolderError::Exists);
        }
        for f in &moving {
            let target = format!("{to}{}", &f.name[from.len()..]);
            let target = canonical(&target)?;
            if fs::symlink_metadata(self.path(&target)).is_ok() {
                return Err(FolderError::Exists);
            }
        }
        for f in moving {
            let target = format!("{to}{}", &f.name[from.len()..]);
            let target = canonical(&target)?;
            let (a, b) = (self.path(&f.name), self.path(&target));
            crate::store::durable::rename_noreplace(&a, &b).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    FolderError::Exists
                } else {
                    FolderError::Store(StoreError::io("rename mailbox", &a, e))
                }
            })?;
        }
        Ok(())
    }

    /// Create the SPECIAL-USE folders that are missing; returns those created.
    pub fn create_special(&self) -> Result<Vec<&'static str>> {
        let mut made = Vec::new();
        for (name, _) in SPECIAL {
            if fs::symlink_metadata(self.path(name)).is_err() {
                match self.create(name) {
                    Ok(()) => made.push(name),
                    Err(FolderError::Exists) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(made)
    }
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
/// separator. Dynamic programming over (pattern, name): quadratic in the worst case, and both
/// are bounded in length.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if p.len() > 2 * MAX_NAME || n.len() > 2 * MAX_NAME {
        return false;
    }
    // row[j]: pattern[..i] matches name[..j].
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; n.len() + 1];
        match pc {
            '*' | '%' => {
                // next[j]: some k <= j has row[k], and name[k..j] may be skipped (for `%`:
                // holds no separator).
                let mut reach = false;
                for j in 0..=n.len() {
                    if pc == '%' && j > 0 && n[j - 1] == SEPARATOR {
                        reach = false;
                    }
                    reach = reach || row[j];
                    next[j] = reach;
                }
            }
            _ => {
                for j in 0..n.len() {
                    if row[j] && n[j] == pc {
                        next[j + 1] = true;
                    }
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

/// A reference and a pattern joined as RFC 9051 §6.3.9 describes (the reference is a prefix).
pub fn join_reference(reference: &str, pattern: &str) -> String {
    if reference.is_empty() || pattern.starts_with(SEPARATOR) {
        pattern.to_owned()
    } else if reference.ends_with(SEPARATOR) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{SEPARATOR}{pattern}")
    }
}

/// [`matches`], with `INBOX` at the start of the pattern in any case (RFC 9051 §5.1: the
/// name INBOX is case-insensitive).
pub fn matches_inbox_case(pattern: &str, name: &str) -> bool {
    if name == "INBOX" || name.starts_with("INBOX/") {
        let upper = match (pattern.get(..5), pattern.get(5..)) {
            (Some(head), Some(tail)) if head.eq_ignore_ascii_case("INBOX") => {
                format!("INBOX{tail}")
            }
            _ => pattern.to_owned(),
        };
        return matches(&upper, name);
    }
    matches(pattern, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_canonical() {
        assert_eq!(canonical("inbox").unwrap(), "INBOX");
        assert_eq!(canonical("Inbox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(canonical("Archive/2024/").unwrap(), "Archive/2024");
        assert_eq!(canonical("Entwürfe").unwrap(), "Entwürfe");
        for bad in [
            "",
            "/",
            "a//b",
            "/abs",
            "..",
            "../../etc",
            "a.b",
            "a\0b",
            "a\r\nb",
            "a*",
            "50%",
        ] {
            assert!(canonical(bad).is_err(), "{bad:?}");
        }
        assert!(canonical(&"x".repeat(300)).is_err());
    }

    #[test]
    fn disk_names_round_trip() {
        for (name, dir) in [
            ("Sent", ".Sent"),
            ("Archive/2024", ".Archive.2024"),
            ("Entwürfe", ".Entw&APw-rfe"),
            ("a&b", ".a&-b"),
            ("INBOX/x", ".INBOX.x"),
        ] {
            assert_eq!(disk_name(name), dir);
            assert_eq!(name_of_dir(dir).as_deref(), Some(name));
        }
        for not in [
            ".",
            "..",
            ".DOVECOT-TRASHED",
            "cur",
            ".a..b",
            ".a.",
            ".&AGE-",
        ] {
            assert_eq!(name_of_dir(not), None, "{not}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a*c", "a/b/c"));
        assert!(matches("%/%", "a/b"));
        assert!(!matches("a%c", "a/c"));
        assert!(matches("a%c", "abc"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("*b*", "aaa/b/ccc"));
        assert!(matches_inbox_case("inbox", "INBOX"));
        assert!(matches_inbox_case("Inbox/%", "INBOX/x"));
        assert!(!matches_inbox_case("Entwü*", "INBOX"));
        assert_eq!(join_reference("a", "b"), "a/b");
        assert_eq!(join_reference("a/", "b"), "a/b");
        assert_eq!(join_reference("", "b"), "b");
        // A pathological pattern stays cheap.
        let long = "%*".repeat(200);
        assert!(matches(&long, &"x/".repeat(200)));
        assert!(!matches(&"%/".repeat(300), &"x/".repeat(200)));
    }

    #[test]
    fn create_list_rename_delete() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let f = Folders::new(dir.path());
        f.create("Archive/2024").unwrap();
        f.create("Sent").unwrap();
        assert!(matches!(f.create("Sent"), Err(FolderError::Exists)));
        assert!(f.path("Sent").join("maildirfolder").exists());
        let list = f.list().unwrap();
        let names: Vec<_> = list.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["INBOX", "Archive", "Archive/2024", "Sent"]);
        assert!(list[1].virtual_parent && list[1].has_children && !list[1].selectable);
        assert_eq!(list[3].special_use, Some("\\Sent"));
        assert!(matches!(
            f.rename("Nothing", "Old"),
            Err(FolderError::NotFound)
        ));
        f.rename("Archive", "Old").unwrap();
        let names: Vec<_> = f.list().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "Old", "Old/2024", "Sent"]);
        assert!(matches!(f.rename("Old", "Sent"), Err(FolderError::Exists)));
        assert!(matches!(
            f.rename("Old", "Old/x"),
            Err(FolderError::Cannot(_))
        ));
        f.create("Old").unwrap();
        f.delete("Old").unwrap();
        assert!(matches!(f.delete("Old"), Err(FolderError::NotFound)));
        assert!(matches!(f.delete("INBOX"), Err(FolderError::Cannot(_))));
        let names: Vec<_> = f.list().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["INBOX", "Old", "Old/2024", "Sent"]);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(
            f.create_special().unwrap(),
            ["Drafts", "Trash", "Junk", "Archive"]
        );
    }
}
