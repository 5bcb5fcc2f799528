//! The mailbox commands: SELECT/EXAMINE, CLOSE/UNSELECT, CREATE, DELETE, RENAME,
//! SUBSCRIBE/UNSUBSCRIBE, LIST (with LIST-EXTENDED, LIST-STATUS and SPECIAL-USE), LSUB and
//! STATUS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::command::ListOptions;
use super::control;
use super::folders::{self, Folder, FolderError, SEPARATOR};
use super::mailbox::{DELETED, Mailbox};
use super::selected::{Selected, write_flag_list, write_mailbox};
use super::session::{Reply, Session, blocking, no, ok, ok_code, store_failure};
use crate::imap::command::StatusItem;
use crate::imap::types::ResponseCode;
use crate::net::NetError;
use crate::store::Maildir;

fn folder_error(e: FolderError) -> Reply {
    match e {
        FolderError::BadName(why) | FolderError::Cannot(why) => no(Some(ResponseCode::Cannot), why),
        FolderError::NotFound => no(Some(ResponseCode::NonExistent), "Mailbox doesn't exist."),
        FolderError::Exists => no(Some(ResponseCode::AlreadyExists), "Mailbox already exists."),
        FolderError::Store(e) => store_failure(&e),
    }
}

fn internal() -> Reply {
    no(Some(ResponseCode::ServerBug), "Internal error.")
}

/// What a session needs to open one of its user's mailboxes on the blocking pool.
pub(crate) struct Opener {
    pub backend: Arc<super::Backend>,
    pub name: String,
    pub path: PathBuf,
    pub root: PathBuf,
    pub inbox: Option<Maildir>,
    pub runtime: tokio::runtime::Handle,
}

impl Opener {
    /// The mailbox, loaded (or found loaded) and up to date (blocking).
    pub fn open(&self) -> Result<Arc<Mailbox>, Reply> {
        if !self.path.join("cur").is_dir() {
            return Err(no(
                Some(ResponseCode::NonExistent),
                "Mailbox doesn't exist.",
            ));
        }
        let watch = self.inbox.as_ref().map(|m| (m, self.runtime.clone()));
        self.backend
            .registry
            .open(&self.name, &self.path, &self.root, watch)
            .map_err(|e| store_failure(&e))
    }
}

impl Session {
    /// An opener for the (canonical) mailbox `name`.
    pub(crate) fn opener(&self, name: &str) -> Option<Opener> {
        let user = self.user.as_ref()?;
        Some(Opener {
            backend: self.backend.clone(),
            name: name.to_owned(),
            path: user.folders.path(name),
            root: user.folders.root().to_path_buf(),
            inbox: (name == "INBOX").then(|| user.inbox.clone()),
            runtime: self.runtime.clone(),
        })
    }

    pub(crate) async fn select(&mut self, raw: &[u8], read_only: bool) -> Reply {
        if self.selected.take().is_some() {
            // RFC 9051 §6.3.2: the previous mailbox is closed (without expunging).
            self.line("* OK [CLOSED] Previous mailbox closed.");
        }
        let name = match self.mailbox_name(raw) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(opener) = self.opener(&name) else {
            return internal();
        };
        let opened = blocking(move || {
            let mb = opener.open()?;
            let state = mb.lock();
            let selected = Selected::new(mb.clone(), read_only, &state);
            let (exists, _, _, first_unseen) = state.counts();
            let keywords: Vec<String> = state.keyword_names().map(str::to_owned).collect();
            let full = state.keywords_full();
            let info = (
                exists,
                first_unseen,
                state.uid_validity,
                state.next_uid,
                keywords,
                full,
            );
            drop(state);
            Ok::<_, Reply>((selected, info))
        })
        .await;
        let (selected, (exists, first_unseen, uid_validity, next_uid, keywords, full)) =
            match opened {
                Some(Ok(v)) => v,
                Some(Err(r)) => return r,
                None => return internal(),
            };
        let out = &mut self.conn.out;
        write_flag_list(out, &keywords, None);
        if read_only {
            out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
        } else {
            write_flag_list(out, &keywords, Some(!full));
        }
        self.line(&format!("* {exists} EXISTS"));
        if !self.rev2 {
            self.line("* 0 RECENT");
            if let Some(i) = first_unseen {
                self.line(&format!("* OK [UNSEEN {}] First unseen.", i + 1));
            }
        }
        self.line(&format!("* OK [UIDVALIDITY {uid_validity}] UIDs valid"));
        self.line(&format!("* OK [UIDNEXT {next_uid}] Predicted next UID"));
        if self.rev2 {
            let mut out = b"* LIST () \"/\" ".to_vec();
            write_mailbox(&mut out, &name, true);
            out.extend_from_slice(b"\r\n");
            self.conn.out.extend_from_slice(&out);
        }
        self.selected = Some(selected);
        if read_only {
            ok_code(ResponseCode::ReadOnly, "Examine completed.")
        } else {
            ok_code(ResponseCode::ReadWrite, "Select completed.")
        }
    }

    /// CLOSE (with `expunge`, silently removing `\Deleted` messages) or UNSELECT.
    pub(crate) async fn unselect(&mut self, expunge: bool) {
        let Some(sel) = self.selected.take() else {
            return;
        };
        if !expunge || sel.read_only {
            return;
        }
        let view = sel.view;
        let mb = sel.mailbox;
        blocking(move || {
            let mut state = mb.lock();
            let doomed: Vec<u32> = view
                .iter()
                .filter(|uid| state.by_uid(**uid).is_some_and(|m| m.flags.has(DELETED)))
                .copied()
                .collect();
            if !doomed.is_empty() {
                let _ = state.expunge(&mb.path, &doomed);
                mb.notify(&state);
            }
        })
        .await;
    }

    fn folders(&self) -> Option<folders::Folders> {
        self.user.as_ref().map(|u| u.folders.clone())
    }

    pub(crate) async fn create(&mut self, raw: &[u8]) -> Reply {
        let name = match self.mailbox_name(raw) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(f) = self.folders() else {
            return internal();
        };
        match blocking(move || f.create(&name)).await {
            Some(Ok(())) => ok("Create completed."),
            Some(Err(e)) => folder_error(e),
            None => internal(),
        }
    }

    pub(crate) async fn delete(&mut self, raw: &[u8]) -> Reply {
        let name = match self.mailbox_name(raw) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(f) = self.folders() else {
            return internal();
        };
        let path = f.path(&name);
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.mailbox.path == path)
        {
            self.selected = None;
        }
        let backend = self.backend.clone();
        match blocking(move || {
            f.delete(&name)?;
            backend.registry.forget(&path);
            Ok(())
        })
        .await
        {
            Some(Ok(())) => ok("Delete completed."),
            Some(Err(e)) => folder_error(e),
            None => internal(),
        }
    }

    pub(crate) async fn rename(&mut self, from: &[u8], to: &[u8]) -> Reply {
        let (from, to) = match (self.mailbox_name(from), self.mailbox_name(to)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let Some(f) = self.folders() else {
            return internal();
        };
        if from == "INBOX" {
            return self.rename_inbox(&to).await;
        }
        let old = f.path(&from);
        if self
            .selected
            .as_ref()
            .is_some_and(|s| s.mailbox.path == old || is_child_path(&s.mailbox.path, &old))
        {
            self.selected = None;
        }
        let backend = self.backend.clone();
        match blocking(move || {
            f.rename(&from, &to)?;
            backend
                .registry
                .forget_where(|p| p == old || is_child_path(p, &old));
            Ok(())
        })
        .await
        {
            Some(Ok(())) => ok("Rename completed."),
            Some(Err(e)) => folder_error(e),
            None => internal(),
        }
    }

    /// RENAME INBOX (RFC 9051 §6.3.6): its messages move to the new mailbox, INBOX stays,
    /// empty.
    async fn rename_inbox(&mut self, to: &str) -> Reply {
        let (Some(f), Some(inbox)) = (self.folders(), self.opener("INBOX")) else {
            return internal();
        };
        let to = to.to_owned();
        let result = blocking(move || -> Result<(), Reply> {
            f.create(&to).map_err(folder_error)?;
            let target = f.path(&to);
            let mb = inbox.open()?;
            let mut state = mb.lock();
            // The keyword letters keep their meaning in the new mailbox.
            let keywords = mb.path.join(control::KEYWORDS);
            if keywords.exists() {
                std::fs::copy(&keywords, target.join(control::KEYWORDS))
                    .map_err(|e| no(Some(ResponseCode::ServerBug), &e.to_string()))?;
            }
            let mut moved = Vec::new();
            for m in &state.messages {
                // A name that could not be read (see `NameBlock`) names no file.
                if m.file.is_empty() {
                    continue;
                }
                let from = mb.path.join(m.sub.as_str()).join(&*m.file);
                let dest = target.join(m.sub.as_str()).join(&*m.file);
                if std::fs::rename(&from, &dest).is_ok() {
                    moved.push(m.uid);
                }
            }
            state.forget(&moved);
            mb.notify(&state);
            Ok(())
        })
        .await;
        match result {
            Some(Ok(())) => ok("Rename completed."),
            Some(Err(r)) => r,
            None => internal(),
        }
    }

    pub(crate) async fn subscribe(&mut self, raw: &[u8], on: bool) -> Reply {
        let name = match self.mailbox_name(raw) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let Some(f) = self.folders() else {
            return internal();
        };
        let done = blocking(move || {
            control::edit_subscriptions(f.root(), SEPARATOR, |subs| {
                subs.retain(|s| *s != name);
                if on {
                    subs.push(name);
                }
            })
        })
        .await;
        match done {
            Some(Ok(())) if on => ok("Subscribe completed."),
            Some(Ok(())) => ok("Unsubscribe completed."),
            Some(Err(e)) => store_failure(&e),
            None => internal(),
        }
    }

    /// A pattern from a command, as text (modified UTF-7 or UTF-8 decoded).
    fn pattern(&self, raw: &[u8]) -> String {
        if self.utf8() {
            String::from_utf8_lossy(raw).into_owned()
        } else {
            crate::imap::utf7::decode_mailbox(raw, false)
        }
    }

    pub(crate) async fn list(
        &mut self,
        reference: &[u8],
        patterns: &[Vec<u8>],
        options: &ListOptions,
    ) -> Result<Reply, NetError> {
        let reference = self.pattern(reference);
        let patterns: Vec<String> = patterns
            .iter()
            .map(|p| folders::join_reference(&reference, &self.pattern(p)))
            .collect();
        if patterns.iter().all(String::is_empty) {
            // RFC 9051 §6.3.9: the hierarchy delimiter and root.
            self.line("* LIST (\\Noselect) \"/\" \"\"");
            return Ok(ok("List completed."));
        }
        let Some(f) = self.folders() else {
            return Ok(internal());
        };
        let need_subs = options.subscribed || options.return_subscribed;
        let listed = blocking(move || {
            let folders = f.list()?;
            let subs = if need_subs {
                control::read_subscriptions(f.root(), SEPARATOR).map_err(FolderError::Store)?
            } else {
                Vec::new()
            };
            Ok::<_, FolderError>((folders, subs))
        })
        .await;
        let (folders, subs) = match listed {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Ok(folder_error(e)),
            None => return Ok(internal()),
        };
        let matching = |name: &str| {
            patterns
                .iter()
                .any(|p| folders::matches_inbox_case(p, name))
        };
        let extended = options.extended || self.rev2;
        let mut entries: Vec<(Folder, bool, bool)> = Vec::new(); // folder, subscribed, childinfo
        if options.subscribed {
            for name in &subs {
                let folder = folders
                    .iter()
                    .find(|f| f.name == *name)
                    .cloned()
                    .unwrap_or(Folder {
                        name: name.clone(),
                        selectable: false,
                        virtual_parent: true,
                        has_children: false,
                        special_use: None,
                    });
                if matching(name) {
                    entries.push((folder, true, false));
                }
            }
            if options.recursive_match {
                for folder in &folders {
                    let prefix = format!("{}{SEPARATOR}", folder.name);
                    if !subs.contains(&folder.name)
                        && matching(&folder.name)
                        && subs.iter().any(|s| s.starts_with(&prefix))
                    {
                        entries.push((folder.clone(), false, true));
                    }
                }
            }
        } else {
            for folder in folders {
                if matching(&folder.name) {
                    let subscribed = subs.contains(&folder.name);
                    entries.push((folder, subscribed, false));
                }
            }
        }
        if options.special_use {
            entries.retain(|(f, _, _)| f.special_use.is_some());
        }
        for (folder, subscribed, childinfo) in &entries {
            let mut attrs: Vec<&str> = Vec::new();
            if folder.virtual_parent {
                attrs.push(if extended {
                    "\\NonExistent"
                } else {
                    "\\Noselect"
                });
            } else if !folder.selectable {
                attrs.push("\\Noselect");
            }
            attrs.push(if folder.has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            });
            if *subscribed && (options.return_subscribed || options.subscribed) {
                attrs.push("\\Subscribed");
            }
            if let Some(u) = folder.special_use {
                attrs.push(u);
            }
            let mut out = format!("* LIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
            write_mailbox(&mut out, &folder.name, self.utf8());
            if *childinfo {
                out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            out.extend_from_slice(b"\r\n");
            self.conn.out.extend_from_slice(&out);
            if let Some(items) = &options.return_status
                && folder.selectable
            {
                // A folder that vanished meanwhile has no STATUS; its LIST stands.
                let _ = self.status_of(&folder.name, items).await;
                self.conn.maybe_flush().await?;
            }
        }
        Ok(ok("List completed."))
    }

    pub(crate) async fn lsub(&mut self, reference: &[u8], pattern: &[u8]) -> Reply {
        let pattern = folders::join_reference(&self.pattern(reference), &self.pattern(pattern));
        let Some(f) = self.folders() else {
            return internal();
        };
        let listed = blocking(move || {
            let subs = control::read_subscriptions(f.root(), SEPARATOR)?;
            let existing: Vec<bool> = subs.iter().map(|s| f.exists(s)).collect();
            Ok::<_, crate::store::StoreError>((subs, existing))
        })
        .await;
        let (subs, existing) = match listed {
            Some(Ok(v)) => v,
            Some(Err(e)) => return store_failure(&e),
            None => return internal(),
        };
        for (name, exists) in subs.iter().zip(existing) {
            if folders::matches_inbox_case(&pattern, name) {
                let attrs = if exists { "" } else { "\\Noselect" };
                let mut out = format!("* LSUB ({attrs}) \"/\" ").into_bytes();
                write_mailbox(&mut out, name, self.utf8());
                out.extend_from_slice(b"\r\n");
                self.conn.out.extend_from_slice(&out);
            }
        }
        ok("Lsub completed.")
    }

    pub(crate) async fn status(&mut self, raw: &[u8], items: &[StatusItem]) -> Reply {
        let name = match self.mailbox_name(raw) {
            Ok(n) => n,
            Err(r) => return r,
        };
        match self.status_of(&name, items).await {
            None => ok("Status completed."),
            Some(r) => r,
        }
    }

    /// Write `* STATUS name (...)`; `Some(reply)` when it cannot.
    async fn status_of(&mut self, name: &str, items: &[StatusItem]) -> Option<Reply> {
        let opener = self.opener(name)?;
        let items = items.to_vec();
        let counted = blocking(move || {
            let mb = opener.open()?;
            let mut state = mb.lock();
            let (messages, unseen, deleted, _) = state.counts();
            let mut parts = Vec::new();
            for item in &items {
                let value = match item {
                    StatusItem::Messages => u64::from(messages),
                    StatusItem::Recent => 0,
                    StatusItem::UidNext => u64::from(state.next_uid),
                    StatusItem::UidValidity => u64::from(state.uid_validity),
                    StatusItem::Unseen => u64::from(unseen),
                    StatusItem::Deleted => u64::from(deleted),
                    StatusItem::Size => (0..state.messages.len())
                        .map(|i| state.size(&mb.path, i).unwrap_or(0))
                        .sum(),
                    StatusItem::HighestModSeq => continue,
                };
                parts.push(format!("{} {value}", item.as_str()));
            }
            Ok::<_, Reply>(parts.join(" "))
        })
        .await;
        match counted {
            Some(Ok(text)) => {
                let mut out = b"* STATUS ".to_vec();
                write_mailbox(&mut out, name, self.utf8());
                out.extend_from_slice(format!(" ({text})\r\n").as_bytes());
                self.conn.out.extend_from_slice(&out);
                None
            }
            Some(Err(r)) => Some(r),
            None => Some(internal()),
        }
    }
}

/// Whether `path` is the Maildir++ folder of a child of the folder at `parent`
/// (`.A.x` of `.A`).
pub(crate) fn is_child_path(path: &Path, parent: &Path) -> bool {
    match (path.to_str(), parent.to_str()) {
        (Some(p), Some(q)) => {
            p.len() > q.len() + 1 && p.starts_with(q) && p.as_bytes()[q.len()] == b'.'
        }
        _ => false,
    }
}
