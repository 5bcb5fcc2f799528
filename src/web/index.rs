//! The in-memory index of a `MaildirStore`: one [`Entry`] per message (where it is, its
//! flags, and the [`Summary`] the list shows and searches), so listing and searching 100,000
//! messages never touches the disk.
//!
//! It is kept up to date three ways: a full scan at start (and whenever inotify loses
//! track), the store's delivery hook (mail the SMTP server accepts is listed before the 250
//! goes out), and inotify on every `new/` and `cur/` (deliveries, flag changes and deletions
//! by other processes: Dovecot, mutt, a POP3 session). Every entry gets a sequence number
//! that only grows; it orders the list (newest first) and is the cursor of `wait`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};

use super::arena::{Arena, DocInfo};
use super::query::Query;
use super::summary::{SearchText, Summary, summarize};
use crate::store::{MaildirStore, Subdir, name};

/// Messages larger than this are indexed from their first this-many bytes.
const MAX_READ: u64 = 16 * 1024 * 1024;

/// A scan that finds more new messages than this tells the pages to reload instead of
/// sending one event per message.
const EVENTS_PER_SCAN: usize = 200;

/// One message in the index.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub user: Arc<str>,
    pub key: String,
    pub sub: Subdir,
    /// The file name with its info (`:2,<flags>`).
    pub file_name: String,
    pub size: u64,
    /// When it was delivered (the file's modification time), seconds since the epoch.
    pub received: i64,
    pub summary: Arc<Summary>,
    /// Its search text's place in the arena.
    pub doc: usize,
}

impl Entry {
    pub fn flags(&self) -> &str {
        name::flags_of(name::split(&self.file_name).1)
    }

    /// Seen as IMAP reads it: the `S` flag.
    pub fn seen(&self) -> bool {
        self.flags().contains('S')
    }

    /// The message's id in the API and the pages: `<mailbox>/<key>`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.user, self.key)
    }
}

/// What changed, for the pages' live updates.
#[derive(Debug, Clone)]
pub enum Event {
    Added(Arc<Entry>),
    Changed(Arc<Entry>),
    Removed {
        seq: u64,
        id: String,
    },
    /// Many changes at once: reload.
    Reset,
}

#[derive(Default)]
pub(crate) struct State {
    entries: BTreeMap<u64, Arc<Entry>>,
    /// user -> key -> seq.
    keys: HashMap<Arc<str>, HashMap<String, u64>>,
    next_seq: u64,
    pub(crate) arena: Arena,
}

/// Rebuild the arena once this many removed messages' text is in it (and they are at least
/// half of it).
const COMPACT_AFTER: usize = 4096;

impl State {
    fn compact(&mut self) {
        let (arena, moved) = self.arena.compact();
        for (seq, doc) in moved {
            if let Some(e) = self.entries.get_mut(&seq) {
                *e = Arc::new(Entry {
                    doc,
                    ..(**e).clone()
                });
            }
        }
        self.arena = arena;
    }
}

/// A mailbox and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxCount {
    pub name: String,
    pub total: usize,
    pub unread: usize,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// How many messages match in all.
    pub total: usize,
    pub entries: Vec<Arc<Entry>>,
}

pub struct Index {
    store: MaildirStore,
    state: RwLock<State>,
    events: broadcast::Sender<Event>,
    /// The newest sequence number; bumped on every change so `wait` wakes up.
    changed: watch::Sender<u64>,
    ready: AtomicBool,
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Read a message file for indexing: its bytes (at most `MAX_READ`) and modification time.
fn read_message(path: &std::path::Path) -> std::io::Result<(Vec<u8>, u64, i64)> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let mut data = Vec::with_capacity(meta.len().min(MAX_READ) as usize);
    file.take(MAX_READ).read_to_end(&mut data)?;
    Ok((data, meta.len(), mtime))
}

impl Index {
    pub fn new(store: MaildirStore) -> Arc<Index> {
        let (events, _) = broadcast::channel(1024);
        let (changed, _) = watch::channel(0);
        Arc::new(Index {
            store,
            state: RwLock::new(State {
                next_seq: 1,
                ..State::default()
            }),
            events,
            changed,
            ready: AtomicBool::new(false),
        })
    }

    pub fn store(&self) -> &MaildirStore {
        &self.store
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Whether the first full scan has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
        self.changed.send_modify(|_| {});
    }

    /// Resolves once the first full scan has finished.
    pub async fn wait_ready(&self) {
        let mut rx = self.changed.subscribe();
        while !self.is_ready() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest sequence number given so far (the cursor for "from now on").
    pub fn cursor(&self) -> u64 {
        self.read().next_seq - 1
    }

    fn emit(&self, event: Event) {
        // No receiver is fine: nobody has a page open.
        let _ = self.events.send(event);
    }

    fn bump(&self) {
        let seq = self.cursor();
        self.changed.send_replace(seq);
    }

    // ---- reading --------------------------------------------------------------------------

    pub fn get(&self, user: &str, key: &str) -> Option<Arc<Entry>> {
        let state = self.read();
        let seq = state.keys.get(user)?.get(key)?;
        state.entries.get(seq).cloned()
    }

    /// The mailboxes (users with a Maildir or indexed mail) and their counts.
    pub fn mailboxes(&self) -> Vec<MailboxCount> {
        let state = self.read();
        let mut counts: BTreeMap<String, MailboxCount> = BTreeMap::new();
        for user in self.store.users().unwrap_or_default() {
            counts.insert(
                user.clone(),
                MailboxCount {
                    name: user,
                    total: 0,
                    unread: 0,
                },
            );
        }
        for e in state.entries.values() {
            let c = counts
                .entry(e.user.to_string())
                .or_insert_with(|| MailboxCount {
                    name: e.user.to_string(),
                    total: 0,
                    unread: 0,
                });
            c.total += 1;
            c.unread += usize::from(!e.seen());
        }
        counts.into_values().collect()
    }

    /// Messages matching `query`, newest first: those with a sequence number below
    /// `before` (when given), skipping `offset`, at most `limit`.
    pub fn list(&self, query: &Query, offset: usize, limit: usize, before: Option<u64>) -> Page {
        let state = self.read();
        let mut page = Page::default();
        if query.is_empty() && before.is_none() {
            page.total = state.entries.len();
            page.entries = state
                .entries
                .values()
                .rev()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect();
            return page;
        }
        // Every condition as bit operations over the arena's columns, then one page of
        // entries looked up, newest (highest doc) first.
        let docs = query.select(&state.arena, before);
        page.total = docs.len();
        page.entries = docs
            .iter_rev()
            .skip(offset)
            .take(limit)
            .filter_map(|i| state.entries.get(&state.arena.docs[i].seq).cloned())
            .collect();
        page
    }

    /// The oldest message matching `query` with a sequence number above `after`.
    pub fn first_after(&self, query: &Query, after: u64) -> Option<Arc<Entry>> {
        let state = self.read();
        state
            .entries
            .range(after.saturating_add(1)..)
            .map(|(_, e)| e)
            .find(|e| query.matches(e, &state.arena))
            .cloned()
    }

    /// Wait (at most `timeout`) for a message matching `query` with a sequence number above
    /// `after`; one that is already there counts, so nothing that arrived after the cursor
    /// is missed however late the call comes.
    pub async fn wait(&self, query: &Query, after: u64, timeout: Duration) -> Option<Arc<Entry>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(e) = self.first_after(query, after) {
                return Some(e);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.first_after(query, after),
            }
        }
    }

    // ---- changing ---------------------------------------------------------------------------

    /// Add a message, or update where it is if it is known. Returns the event to send.
    fn upsert(
        state: &mut State,
        user: &str,
        key: &str,
        sub: Subdir,
        file_name: &str,
        make: impl FnOnce() -> Option<(u64, i64, (Summary, SearchText))>,
    ) -> Option<Event> {
        if let Some(&seq) = state.keys.get(user).and_then(|k| k.get(key)) {
            let e = state.entries.get(&seq)?;
            if e.sub == sub && e.file_name == file_name {
                return None;
            }
            let moved = Arc::new(Entry {
                sub,
                file_name: file_name.to_owned(),
                ..(**e).clone()
            });
            state
                .arena
                .set_flags(moved.doc, moved.seen(), moved.flags().contains('F'));
            state.entries.insert(seq, moved.clone());
            return Some(Event::Changed(moved));
        }
        let (size, received, (summary, search)) = make()?;
        let user: Arc<str> = match state.keys.get_key_value(user) {
            Some((u, _)) => u.clone(),
            None => Arc::from(user),
        };
        let seq = state.next_seq;
        state.next_seq += 1;
        let flags = name::flags_of(name::split(file_name).1);
        let info = DocInfo {
            mailbox: user.as_ref(),
            seen: flags.contains('S'),
            flagged: flags.contains('F'),
            attachments: summary.has_attachments,
            when: summary.date.unwrap_or(received),
        };
        let doc = state.arena.push(seq, &search, info);
        let entry = Arc::new(Entry {
            doc,
            seq,
            user: user.clone(),
            key: key.to_owned(),
            sub,
            file_name: file_name.to_owned(),
            size,
            received,
            summary: Arc::new(summary),
        });
        state.entries.insert(seq, entry.clone());
        state
            .keys
            .entry(user)
            .or_default()
            .insert(key.to_owned(), seq);
        Some(Event::Added(entry))
    }

    fn remove_locked(state: &mut State, user: &str, key: &str) -> Option<Event> {
        let seq = state.keys.get_mut(user)?.remove(key)?;
        let e = state.entries.remove(&seq)?;
        state.arena.kill(e.doc);
        if state.arena.dead >= COMPACT_AFTER && state.arena.dead * 2 >= state.arena.docs.len() {
            state.compact();
        }
        Some(Event::Removed { seq, id: e.id() })
    }

    /// The store's delivery hook: index the message from the bytes just written.
    pub fn delivered(&self, user: &str, key: &str, data: &[u8]) {
        let Ok(md) = self.store.mailbox(user, false) else {
            return;
        };
        let Ok((sub, file_name)) = md.location(key) else {
            return;
        };
        // Parsed before taking the lock: readers never wait for a parse.
        let summary = summarize(data.to_vec());
        let size = data.len() as u64;
        let event = {
            let mut state = self.write();
            Self::upsert(&mut state, user, key, sub, &file_name, || {
                Some((size, now_secs(), summary))
            })
        };
        if let Some(ev) = event {
            self.emit(ev);
            self.bump();
        }
    }

    /// A file appeared in `user`'s `sub` (inotify): index it, or note its new flags.
    pub fn file_arrived(&self, user: &str, sub: Subdir, file_name: &str) {
        if file_name.starts_with('.') {
            return;
        }
        let key = name::split(file_name).0;
        let known = {
            let state = self.read();
            state
                .keys
                .get(user)
                .and_then(|k| k.get(key))
                .and_then(|s| state.entries.get(s))
                .map(|e| e.sub == sub && e.file_name == file_name)
        };
        if known == Some(true) {
            return;
        }
        let path = self.file_path(user, sub, file_name);
        let parsed = if known.is_none() {
            match read_message(&path) {
                Ok((data, size, mtime)) => Some((size, mtime, summarize(data))),
                Err(_) => return, // gone again already
            }
        } else {
            if !path.exists() {
                return;
            }
            None
        };
        let event = {
            let mut state = self.write();
            Self::upsert(&mut state, user, key, sub, file_name, || parsed)
        };
        if let Some(ev) = event {
            self.emit(ev);
            self.bump();
        }
    }

    /// Where the file `file_name` of `user`'s `sub` is.
    fn file_path(&self, user: &str, sub: Subdir, file_name: &str) -> PathBuf {
        self.store
            .root()
            .join(user)
            .join(sub.as_str())
            .join(file_name)
    }

    /// A file left `user`'s `sub` (inotify): forget the message unless it is elsewhere now.
    pub fn file_left(&self, user: &str, sub: Subdir, file_name: &str) {
        let key = name::split(file_name).0;
        let here = self
            .get(user, key)
            .is_some_and(|e| e.sub == sub && e.file_name == file_name);
        if !here {
            return;
        }
        let path = self.file_path(user, sub, file_name);
        if path.exists() {
            return;
        }
        // Gone. A rename (a flag change) reports the new name in the same batch, handled
        // before this; one reported later comes back as a new entry. Looking for the key in
        // the directory instead would cost a full listing per deletion.
        self.removed(user, key);
    }

    /// Forget a message (deleted through the API, or gone from the disk).
    pub fn removed(&self, user: &str, key: &str) {
        let event = Self::remove_locked(&mut self.write(), user, key);
        if let Some(ev) = event {
            self.emit(ev);
            self.bump();
        }
    }

    /// Note where a message is now (after the API changed its flags).
    pub fn moved(&self, user: &str, key: &str) {
        if let Ok(md) = self.store.mailbox(user, false)
            && let Ok((sub, file_name)) = md.location(key)
        {
            self.file_arrived(user, sub, &file_name);
        }
    }

    /// Bring one user's entries in line with the disk.
    pub fn sync_user(&self, user: &str) {
        let root = self.store.root().join(user);
        let mut found: HashMap<String, (Subdir, String)> = HashMap::new();
        for sub in [Subdir::New, Subdir::Cur] {
            let Ok(dir) = std::fs::read_dir(root.join(sub.as_str())) else {
                continue;
            };
            for entry in dir.flatten() {
                let Ok(file_name) = entry.file_name().into_string() else {
                    continue;
                };
                if file_name.starts_with('.') || entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let key = name::split(&file_name).0.to_owned();
                found.insert(key, (sub, file_name));
            }
        }
        // Forget what is gone, note moves; list what is new.
        let mut events = Vec::new();
        let mut fresh: Vec<(String, Subdir, String)> = Vec::new();
        {
            let mut state = self.write();
            let gone: Vec<String> = state
                .keys
                .get(user)
                .map(|k| {
                    k.keys()
                        .filter(|key| !found.contains_key(*key))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for key in gone {
                events.extend(Self::remove_locked(&mut state, user, &key));
            }
            for (key, (sub, file_name)) in found {
                let known = state.keys.get(user).is_some_and(|k| k.contains_key(&key));
                if known {
                    events.extend(Self::upsert(
                        &mut state,
                        user,
                        &key,
                        sub,
                        &file_name,
                        || None,
                    ));
                } else {
                    fresh.push((key, sub, file_name));
                }
            }
        }
        fresh.sort_by(|a, b| name::sort_key(&a.2).cmp(&name::sort_key(&b.2)));
        let many = fresh.len() > EVENTS_PER_SCAN;
        // Parsed in batches, each added under one short lock, so the list fills as it goes.
        for batch in fresh.chunks(256) {
            let parsed: Vec<_> = batch
                .iter()
                .filter_map(|(key, sub, file_name)| {
                    let path = root.join(sub.as_str()).join(file_name);
                    let (data, size, mtime) = read_message(&path).ok()?;
                    Some((key, *sub, file_name, size, mtime, summarize(data)))
                })
                .collect();
            let mut state = self.write();
            for (key, sub, file_name, size, mtime, summary) in parsed {
                let ev = Self::upsert(&mut state, user, key, sub, file_name, || {
                    Some((size, mtime, summary))
                });
                if !many {
                    events.extend(ev);
                }
            }
            drop(state);
            self.bump();
        }
        if many {
            events.push(Event::Reset);
        }
        let changed = !events.is_empty();
        for ev in events {
            self.emit(ev);
        }
        if changed {
            self.bump();
        }
    }

    /// Bring every user's entries in line with the disk; users whose Maildir is gone are
    /// forgotten.
    pub fn sync_all(&self, before_each: &mut dyn FnMut(&str)) {
        let users = self.store.users().unwrap_or_default();
        let present: HashSet<&str> = users.iter().map(String::as_str).collect();
        let vanished: Vec<String> = self
            .read()
            .keys
            .keys()
            .filter(|u| !present.contains(&***u))
            .map(|u| u.to_string())
            .collect();
        for user in vanished {
            let keys: Vec<String> = self
                .read()
                .keys
                .get(user.as_str())
                .map(|k| k.keys().cloned().collect())
                .unwrap_or_default();
            for key in keys {
                self.removed(&user, &key);
            }
        }
        for user in &users {
            before_each(user);
            self.sync_user(user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, MaildirStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = MaildirStore::open(dir.path(), true).unwrap();
        (dir, store)
    }

    #[test]
    fn scan_hook_moves_and_removals() {
        let (_d, store) = store();
        let md = store.mailbox("alice", true).unwrap();
        let k1 = md.add(b"Subject: one\n\nfirst\n").unwrap();
        let k2 = md.add(b"Subject: two\n\nsecond\n").unwrap();
        let index = Index::new(store.clone());
        index.sync_all(&mut |_| {});
        let page = index.list(&Query::default(), 0, 10, None);
        assert_eq!(page.total, 2);
        assert_eq!(page.entries[0].key, k2, "newest first");
        assert_eq!(page.entries[1].summary.subject, "one");

        let mut rx = index.subscribe();
        let got = store
            .deliver(b"Subject: three\n\nthird\n", &["bob"])
            .unwrap();
        index.delivered("bob", &got[0].1, b"Subject: three\n\nthird\n");
        assert!(matches!(rx.try_recv().unwrap(), Event::Added(e) if e.summary.subject == "three"));
        assert_eq!(index.len(), 3);

        md.mark_seen(&k1).unwrap();
        md.remove(&k2).unwrap();
        index.sync_user("alice");
        assert!(index.get("alice", &k1).unwrap().seen());
        assert!(index.get("alice", &k2).is_none());
        let unread = index.list(&Query::parse("is:unread").unwrap(), 0, 10, None);
        assert_eq!(unread.total, 1);
        let counts = index.mailboxes();
        assert_eq!(
            counts[0],
            MailboxCount {
                name: "alice".into(),
                total: 1,
                unread: 0
            }
        );
        assert_eq!(counts[1].total, 1);
    }

    #[test]
    fn removals_compact_the_arena() {
        let mut state = State {
            next_seq: 1,
            ..State::default()
        };
        for i in 0..5000 {
            let search = SearchText {
                subject: format!("subject {i}"),
                text: format!("body {i}"),
                ..SearchText::default()
            };
            Index::upsert(
                &mut state,
                "u",
                &format!("k{i}"),
                Subdir::New,
                &format!("k{i}"),
                || Some((1, 0, (Summary::default(), search))),
            );
        }
        for i in 0..4500 {
            Index::remove_locked(&mut state, "u", &format!("k{i}"));
        }
        assert!(state.arena.docs.len() < 1000, "{}", state.arena.docs.len());
        let q = Query::parse("subject:4999 text:\"body 4999\"").unwrap();
        let docs = q.candidates(&state.arena).unwrap();
        let e = state
            .entries
            .values()
            .find(|e| docs.contains(e.doc))
            .unwrap();
        assert_eq!(e.key, "k4999");
        assert!(q.matches(e, &state.arena));
    }

    #[test]
    fn paging_and_cursor() {
        let (_d, store) = store();
        let md = store.mailbox("u", true).unwrap();
        for i in 0..25 {
            md.add(format!("Subject: m{i}\n\n").as_bytes()).unwrap();
        }
        let index = Index::new(store);
        index.sync_all(&mut |_| {});
        let q = Query::default();
        let p1 = index.list(&q, 0, 10, None);
        let p3 = index.list(&q, 20, 10, None);
        assert_eq!((p1.total, p1.entries.len(), p3.entries.len()), (25, 10, 5));
        assert_eq!(p3.entries[4].summary.subject, "m0");
        let before = index.list(&q, 0, 10, Some(p1.entries[9].seq));
        assert_eq!(before.entries[0].summary.subject, "m14");
        let m3 = Query::parse("subject:m3").unwrap();
        assert_eq!(index.first_after(&m3, 0).unwrap().summary.subject, "m3");
        assert!(index.first_after(&m3, index.cursor()).is_none());
    }

    #[tokio::test]
    async fn wait_counts_what_arrived_after_the_cursor() {
        let (_d, store) = store();
        let index = Index::new(store.clone());
        let cursor = index.cursor();
        let data = b"Subject: hello\n\n";
        let got = store.deliver(data, &["u"]).unwrap();
        index.delivered("u", &got[0].1, data);
        // Already there when the wait starts: found at once.
        let q = Query::parse("hello").unwrap();
        let e = index
            .wait(&q, cursor, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(e.summary.subject, "hello");
        // Nothing newer: times out.
        let none = index.wait(&q, e.seq, Duration::from_millis(50)).await;
        assert!(none.is_none());
        // Arriving while waiting.
        let index2 = index.clone();
        let waiter = tokio::spawn(async move {
            index2
                .wait(
                    &Query::parse("later").unwrap(),
                    e.seq,
                    Duration::from_secs(5),
                )
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let data = b"Subject: later\n\n";
        let got = store.deliver(data, &["u"]).unwrap();
        index.delivered("u", &got[0].1, data);
        assert_eq!(waiter.await.unwrap().unwrap().summary.subject, "later");
    }
}
