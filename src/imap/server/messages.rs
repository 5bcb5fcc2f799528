//! The message commands: APPEND (streamed to the Maildir's `tmp/`), FETCH, STORE, SEARCH
//! (with ESEARCH and SEARCHRES), EXPUNGE and UID EXPUNGE, COPY and MOVE (with UIDPLUS's
//! APPENDUID and COPYUID).
//!
//! File-system work runs on the blocking pool with the mailbox's lock held only as long as
//! the state is read or changed; message files are read after the lock is released.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::command::{AppendHead, FetchItem, SearchReturn, SectionText, SeqArg, StoreMode};
use super::mailbox::{ANSWERED, DELETED, DRAFT, FLAGGED, Flags, Mailbox, SEEN, State};
use super::mailboxes::Opener;
use super::search::{Facts, Key, Plan, Ranges, Tri, View};
use super::selected::{Selected, Updates, write_flags};
use super::session::{Reply, Session, bad, blocking, no, ok, ok_code, store_failure};
use super::structure;
use crate::imap::encode::{write_literal_header, write_nstring};
use crate::imap::fetch::{write_body, write_envelope};
use crate::imap::lex::LiteralHeader;
use crate::imap::sequence::SequenceSet;
use crate::imap::types::{AppendUid, CopyUid, DateTime, ResponseCode};
use crate::message::Document;
use crate::net::NetError;
use crate::net::events::EventKind;
use crate::store::{AddOptions, Maildir, StoreError, Subdir, name};

/// Messages up to this size are read on the session's task (from the page cache this costs
/// less than a trip to the blocking pool).
const INLINE_READ: u64 = 256 * 1024;

fn internal() -> Reply {
    no(Some(ResponseCode::ServerBug), "Internal error.")
}

/// Flags named in a command: system bits and keywords.
struct FlagArgs {
    system: u8,
    keywords: Vec<String>,
}

fn parse_flags(flags: &[String]) -> Result<FlagArgs, Reply> {
    let mut out = FlagArgs {
        system: 0,
        keywords: Vec::new(),
    };
    for f in flags {
        if let Some(name) = f.strip_prefix('\\') {
            let bit = match name.to_ascii_lowercase().as_str() {
                "seen" => SEEN,
                "answered" => ANSWERED,
                "flagged" => FLAGGED,
                "deleted" => DELETED,
                "draft" => DRAFT,
                // \Recent cannot be changed by clients (RFC 3501 §2.3.2): ignored.
                "recent" => continue,
                _ => return Err(bad(&format!("Invalid system flag {f}"))),
            };
            out.system |= bit;
        } else if super::control::valid_keyword(f) {
            if !out.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)) {
                out.keywords.push(f.clone());
            }
        } else {
            return Err(bad(&format!("Invalid keyword {f}")));
        }
    }
    Ok(out)
}

/// The keyword bits of `names` in `state` (defining them when `create`); `Err` when the
/// mailbox has no room for another keyword.
fn keyword_bits(
    state: &mut State,
    mb: &Mailbox,
    names: &[String],
    create: bool,
) -> Result<u32, Reply> {
    let mut bits = 0;
    for k in names {
        match state.keyword_index(&mb.path, k, create) {
            Ok(Some(i)) => bits |= 1 << i,
            Ok(None) if !create => {}
            Ok(None) => {
                return Err(no(
                    Some(ResponseCode::Limit),
                    "Too many keywords in this mailbox (at most 26).",
                ));
            }
            Err(e) => return Err(store_failure(&e)),
        }
    }
    Ok(bits)
}

/// What FETCH knows of a message before reading it.
struct Meta {
    seq: u32,
    uid: u32,
    flags: Flags,
    path: PathBuf,
    size: Option<u64>,
    date: Option<i64>,
    /// FETCH set `\Seen` on it.
    seen_set: bool,
}

/// How one message's FETCH went.
enum Outcome {
    Sent,
    /// The file is gone (expunged by someone else).
    Missing,
    /// BINARY of a part whose encoding is unknown.
    UnknownCte,
}

/// The result of work done with the selected mailbox on the blocking pool.
struct Done<T> {
    selected: Selected,
    updates: Updates,
    keywords: Vec<Option<String>>,
    value: T,
}

impl Session {
    /// `(sequence number, UID)` of the messages a set names. Sequence numbers above the
    /// mailbox's count are an error (RFC 9051 §9 `seq-number`); UIDs that do not exist are
    /// skipped.
    fn targets(&self, uid: bool, set: &SeqArg) -> Result<Vec<(u32, u32)>, Reply> {
        let Some(sel) = &self.selected else {
            return Err(bad("No mailbox selected."));
        };
        let view = &sel.view;
        match set {
            SeqArg::Saved => {
                let saved = Ranges::of_sorted(&self.saved);
                Ok(view
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| saved.contains(**u))
                    .map(|(i, u)| (i as u32 + 1, *u))
                    .collect())
            }
            SeqArg::Set(s) if uid => {
                let ranges = Ranges::of(s, view.last().copied().unwrap_or(0));
                Ok(view
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| ranges.contains(**u))
                    .map(|(i, u)| (i as u32 + 1, *u))
                    .collect())
            }
            SeqArg::Set(s) => {
                let n = view.len() as u32;
                for r in s.ranges() {
                    for end in [r.start, r.end] {
                        if let crate::imap::sequence::SeqNumber::Value(v) = end
                            && v > n
                        {
                            return Err(bad("Error in IMAP command: Invalid messageset"));
                        }
                    }
                }
                let ranges = Ranges::of(s, n);
                Ok((1..=n)
                    .filter(|seq| ranges.contains(*seq))
                    .map(|seq| (seq, view[seq as usize - 1]))
                    .collect())
            }
        }
    }

    /// Run `work` on the blocking pool with the selected mailbox's state locked, after
    /// collecting what other sessions changed (`expunge`: EXPUNGE may be reported).
    async fn with_selected<T: Send + 'static>(
        &mut self,
        expunge: bool,
        work: impl FnOnce(&mut Selected, &mut State, &Arc<Mailbox>) -> T + Send + 'static,
    ) -> Option<T> {
        let selected = self.selected.take()?;
        let done = blocking(move || {
            let mut selected = selected;
            let mb = selected.mailbox.clone();
            let mut state = mb.lock();
            let updates = selected.collect(&state, expunge);
            let value = work(&mut selected, &mut state, &mb);
            // What this command changed is in its own responses.
            selected.since = selected.since.max(state.version);
            let keywords = state.keywords.clone();
            mb.notify(&state);
            drop(state);
            Done {
                selected,
                updates,
                keywords,
                value,
            }
        })
        .await?;
        if done.updates.gone {
            return None;
        }
        self.write_updates(&done.updates, &done.keywords);
        self.selected = Some(done.selected);
        Some(done.value)
    }

    // ---- FETCH ------------------------------------------------------------------------------

    pub(crate) async fn fetch(
        &mut self,
        uid: bool,
        set: &SeqArg,
        items: &[FetchItem],
        sets_seen: bool,
    ) -> Result<Reply, NetError> {
        let targets = match self.targets(uid, set) {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        let needs_size = items.iter().any(|i| matches!(i, FetchItem::Rfc822Size));
        let needs_date = items.iter().any(|i| matches!(i, FetchItem::InternalDate));
        let Some(read_only) = self.selected.as_ref().map(|s| s.read_only) else {
            return Ok(internal());
        };
        let set_seen = sets_seen && !read_only;
        let snapshot = self
            .with_selected(uid, move |sel, state, mb| {
                let mut seen_set = Vec::new();
                if set_seen {
                    let changes: Vec<(usize, Flags)> = targets
                        .iter()
                        .filter_map(|(_, u)| state.position(*u))
                        .filter(|&i| !state.messages[i].flags.has(SEEN))
                        .map(|i| {
                            let mut f = state.messages[i].flags;
                            f.system |= SEEN;
                            (i, f)
                        })
                        .collect();
                    if let Ok(done) = state.set_flags(&mb.path, &changes) {
                        seen_set = done.iter().map(|&i| state.messages[i].uid).collect();
                    }
                }
                let mut metas = Vec::with_capacity(targets.len());
                for (seq, uid) in targets {
                    // A UID command may have just reported expunges: numbers as they are now.
                    let seq = sel.seq_of(uid).unwrap_or(seq);
                    let Some(i) = state.position(uid) else {
                        metas.push(None);
                        continue;
                    };
                    let size = if needs_size {
                        state.size(&mb.path, i)
                    } else {
                        None
                    };
                    let date = if needs_date {
                        state.internal_date(&mb.path, i)
                    } else {
                        None
                    };
                    let m = &state.messages[i];
                    metas.push(Some(Meta {
                        seq,
                        uid,
                        flags: m.flags,
                        path: mb.path.join(m.sub.as_str()).join(&*m.file),
                        size: size.or_else(|| name::size_field(&m.file, b'W')),
                        date,
                        seen_set: seen_set.contains(&uid),
                    }));
                }
                metas
            })
            .await;
        let Some(metas) = snapshot else {
            return Ok(internal());
        };
        let keywords = self
            .selected
            .as_ref()
            .map(|s| s.mailbox.lock_keywords())
            .unwrap_or_default();
        let mut missing = false;
        let mut unknown_cte = false;
        for meta in metas {
            let Some(meta) = meta else {
                missing |= !uid;
                continue;
            };
            match self.fetch_one(uid, &meta, items, &keywords).await? {
                Outcome::Sent => {}
                Outcome::Missing => missing |= !uid,
                Outcome::UnknownCte => unknown_cte = true,
            }
            self.conn.maybe_flush().await?;
        }
        if unknown_cte {
            return Ok(no(
                Some(ResponseCode::UnknownCte),
                "Unknown Content-Transfer-Encoding.",
            ));
        }
        if missing {
            return Ok(no(
                Some(ResponseCode::ExpungeIssued),
                "Some messages were expunged by another session.",
            ));
        }
        Ok(ok("Fetch completed."))
    }

    /// Read a message file (the whole of it), converting line ends to CRLF.
    async fn read_message(&self, meta: &Meta) -> Option<Vec<u8>> {
        let path = meta.path.clone();
        let data = if meta.size.unwrap_or(0) <= INLINE_READ {
            std::fs::read(&path).ok()
        } else {
            blocking(move || std::fs::read(&path).ok()).await.flatten()
        };
        let data = match data {
            Some(d) => d,
            None => {
                // Renamed by another process (a flag change): look again once.
                let mb = self.selected.as_ref()?.mailbox.clone();
                let uid = meta.uid;
                blocking(move || {
                    let _ = mb.sync(true);
                    let state = mb.lock();
                    let m = state.by_uid(uid)?;
                    std::fs::read(mb.path.join(m.sub.as_str()).join(&*m.file)).ok()
                })
                .await
                .flatten()?
            }
        };
        Some(match structure::to_crlf(&data) {
            Cow::Borrowed(_) => data,
            Cow::Owned(v) => v,
        })
    }

    /// One `* n FETCH (...)`.
    async fn fetch_one(
        &mut self,
        uid_command: bool,
        meta: &Meta,
        items: &[FetchItem],
        keywords: &[Option<String>],
    ) -> Result<Outcome, NetError> {
        let mut outcome = Outcome::Sent;
        let needs_data = items.iter().any(|i| {
            matches!(
                i,
                FetchItem::Envelope
                    | FetchItem::Body
                    | FetchItem::BodyStructure
                    | FetchItem::Section { .. }
                    | FetchItem::BinarySize { .. }
            )
        });
        let needs_doc = items.iter().any(|i| match i {
            FetchItem::Envelope | FetchItem::Body | FetchItem::BodyStructure => true,
            FetchItem::Section {
                section, binary, ..
            } => !section.part.is_empty() || !matches!(section.text, SectionText::Full) || *binary,
            FetchItem::BinarySize { section, .. } => !section.part.is_empty(),
            _ => false,
        });
        let data = if needs_data {
            match self.read_message(meta).await {
                Some(d) => Some(d),
                None => return Ok(Outcome::Missing),
            }
        } else {
            None
        };
        let doc = match (&data, needs_doc) {
            (Some(d), true) => Some(Document::from_vec(d.clone())),
            _ => None,
        };
        let utf8 = self.utf8();
        let mut out = format!("* {} FETCH (", meta.seq).into_bytes();
        let mut first = true;
        let mut sep = |out: &mut Vec<u8>| {
            if !first {
                out.push(b' ');
            }
            first = false;
        };
        if uid_command && !items.contains(&FetchItem::Uid) {
            sep(&mut out);
            out.extend_from_slice(format!("UID {}", meta.uid).as_bytes());
        }
        if meta.seen_set && !items.contains(&FetchItem::Flags) {
            sep(&mut out);
            out.extend_from_slice(b"FLAGS ");
            write_flags(&mut out, meta.flags_after(), keywords);
        }
        let mut retrieved = None;
        for item in items {
            sep(&mut out);
            match item {
                FetchItem::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
                FetchItem::Flags => {
                    out.extend_from_slice(b"FLAGS ");
                    write_flags(&mut out, meta.flags_after(), keywords);
                }
                FetchItem::InternalDate => {
                    let dt = DateTime::from_timestamp(meta.date.unwrap_or(0), 0)
                        .or_else(|| DateTime::from_timestamp(0, 0));
                    let text = dt.map(|d| d.to_string()).unwrap_or_default();
                    out.extend_from_slice(format!("INTERNALDATE \"{text}\"").as_bytes());
                }
                FetchItem::Rfc822Size => out.extend_from_slice(
                    format!("RFC822.SIZE {}", meta.size.unwrap_or(0)).as_bytes(),
                ),
                FetchItem::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    if let Some(doc) = &doc {
                        write_envelope(&mut out, &structure::envelope(&doc.root()), utf8);
                    }
                }
                FetchItem::Body | FetchItem::BodyStructure => {
                    let extended = matches!(item, FetchItem::BodyStructure);
                    out.extend_from_slice(if extended {
                        b"BODYSTRUCTURE "
                    } else {
                        b"BODY "
                    });
                    if let Some(doc) = &doc {
                        write_body(
                            &mut out,
                            &structure::body_structure(doc, &doc.root()),
                            extended,
                            utf8,
                        );
                    }
                }
                FetchItem::Section {
                    section,
                    label,
                    binary,
                    partial,
                    ..
                } => {
                    out.extend_from_slice(label.as_bytes());
                    out.push(b' ');
                    let whole = section.part.is_empty() && section.text == SectionText::Full;
                    let content: Option<Cow<'_, [u8]>> = if whole && !*binary {
                        data.as_deref().map(Cow::Borrowed)
                    } else {
                        match (&doc, binary) {
                            (Some(doc), false) => structure::section(doc, section),
                            (Some(doc), true) => match structure::binary(doc, section) {
                                Ok(c) => c,
                                Err(structure::UnknownCte) => {
                                    // RFC 3516 §4.3: the encoding is unknown; NIL here,
                                    // NO [UNKNOWN-CTE] for the command.
                                    outcome = Outcome::UnknownCte;
                                    None
                                }
                            },
                            (None, _) => data.as_deref().map(Cow::Borrowed),
                        }
                    };
                    match content {
                        None => out.extend_from_slice(b"NIL"),
                        Some(c) => {
                            let slice: &[u8] = match partial {
                                Some((start, len)) => {
                                    let s = (*start as usize).min(c.len());
                                    let e = s.saturating_add(*len as usize).min(c.len());
                                    &c[s..e]
                                }
                                None => &c,
                            };
                            if whole {
                                retrieved = Some(slice.len() as u64);
                            }
                            write_literal_header(
                                &mut out,
                                slice.len(),
                                false,
                                *binary && slice.contains(&0),
                            );
                            if slice.len() > 16 * 1024 {
                                // Large: sent from where it is, not copied into the queue.
                                self.conn.out.extend_from_slice(&out);
                                out.clear();
                                self.conn.send(slice).await?;
                            } else {
                                out.extend_from_slice(slice);
                            }
                        }
                    }
                }
                FetchItem::BinarySize { section, label } => {
                    out.extend_from_slice(label.as_bytes());
                    out.push(b' ');
                    let size = match &doc {
                        Some(doc) => structure::binary(doc, section)
                            .ok()
                            .flatten()
                            .map(|c| c.len()),
                        None => data.as_ref().map(Vec::len),
                    };
                    match size {
                        Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                        None => write_nstring(&mut out, None, false),
                    }
                }
            }
        }
        out.extend_from_slice(b")\r\n");
        self.conn.out.extend_from_slice(&out);
        if let Some(size) = retrieved {
            let uid = meta.uid;
            self.emit(EventKind::Retrieved, |e| {
                e.id = Some(uid.to_string());
                e.size = size;
            });
        }
        Ok(outcome)
    }

    // ---- STORE ------------------------------------------------------------------------------

    pub(crate) async fn store(
        &mut self,
        uid: bool,
        set: &SeqArg,
        mode: StoreMode,
        silent: bool,
        flags: &[String],
    ) -> Reply {
        let targets = match self.targets(uid, set) {
            Ok(t) => t,
            Err(r) => return r,
        };
        let args = match parse_flags(flags) {
            Ok(a) => a,
            Err(r) => return r,
        };
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return no(Some(ResponseCode::Cannot), "Mailbox is read-only.");
        }
        let result = self
            .with_selected(uid, move |sel, state, mb| {
                let bits = keyword_bits(state, mb, &args.keywords, mode != StoreMode::Remove)?;
                let mut changes = Vec::new();
                for (_, u) in &targets {
                    let Some(i) = state.position(*u) else {
                        continue;
                    };
                    let old = state.messages[i].flags;
                    let mut f = old;
                    match mode {
                        StoreMode::Replace => {
                            f.system = args.system;
                            f.keywords = bits;
                        }
                        StoreMode::Add => {
                            f.system |= args.system;
                            f.keywords |= bits;
                        }
                        StoreMode::Remove => {
                            f.system &= !args.system;
                            f.keywords &= !bits;
                        }
                    }
                    if f != old {
                        changes.push((i, f));
                    }
                }
                if let Err(e) = state.set_flags(&mb.path, &changes) {
                    return Err(store_failure(&e));
                }
                let now: Vec<(u32, u32, Flags)> = targets
                    .iter()
                    .filter_map(|(seq, u)| {
                        let seq = sel.seq_of(*u).unwrap_or(*seq);
                        state.by_uid(*u).map(|m| (seq, *u, m.flags))
                    })
                    .collect();
                Ok(now)
            })
            .await;
        let now = match result {
            Some(Ok(now)) => now,
            Some(Err(r)) => return r,
            None => return internal(),
        };
        if !silent {
            let keywords = self
                .selected
                .as_ref()
                .map(|s| s.mailbox.lock_keywords())
                .unwrap_or_default();
            for (seq, u, f) in now {
                let mut out = format!("* {seq} FETCH (").into_bytes();
                if uid {
                    out.extend_from_slice(format!("UID {u} ").as_bytes());
                }
                out.extend_from_slice(b"FLAGS ");
                write_flags(&mut out, f, &keywords);
                out.extend_from_slice(b")\r\n");
                self.conn.out.extend_from_slice(&out);
            }
        }
        ok("Store completed.")
    }

    // ---- SEARCH -----------------------------------------------------------------------------

    pub(crate) async fn search(
        &mut self,
        tag: &str,
        uid: bool,
        charset: Option<String>,
        keys: Vec<Key>,
        returns: Option<SearchReturn>,
    ) -> Result<Reply, NetError> {
        if let Some(c) = &charset
            && !matches!(c.as_str(), "UTF-8" | "US-ASCII" | "UTF8")
        {
            return Ok(no(
                Some(ResponseCode::BadCharset(vec![
                    "UTF-8".into(),
                    "US-ASCII".into(),
                ])),
                "Unsupported charset.",
            ));
        }
        let saved = self.saved.clone();
        let found = self
            .with_selected(uid, move |sel, state, mb| {
                let keyword = |n: &str| {
                    state
                        .keywords
                        .iter()
                        .position(|k| k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(n)))
                };
                let view_uids = sel.view.clone();
                let seq_of = |u: u32| view_uids.binary_search(&u).ok().map(|i| i as u32 + 1);
                let view = View {
                    largest_seq: sel.view.len() as u32,
                    largest_uid: sel.view.last().copied().unwrap_or(0),
                    saved: &saved,
                    keyword: &keyword,
                    seq_of_uid: &seq_of,
                };
                let plan = Plan::new(&keys, &view);
                let mut hits = Vec::new();
                let mut unknown = Vec::new();
                for (i, &u) in sel.view.iter().enumerate() {
                    let Some(p) = state.position(u) else { continue };
                    let size = if plan.needs_size {
                        state.size(&mb.path, p).unwrap_or(0)
                    } else {
                        0
                    };
                    let date = if plan.needs_date {
                        state.internal_date(&mb.path, p).unwrap_or(0)
                    } else {
                        0
                    };
                    let m = &state.messages[p];
                    let facts = Facts {
                        seq: i as u32 + 1,
                        uid: u,
                        flags: m.flags,
                        size,
                        internal_date: date,
                        doc: None,
                    };
                    match plan.eval(&facts) {
                        Tri::Yes => hits.push((facts.seq, u)),
                        Tri::No => {}
                        Tri::Unknown => {
                            unknown.push((facts, mb.path.join(m.sub.as_str()).join(&*m.file)))
                        }
                    }
                }
                (plan, hits, unknown)
            })
            .await;
        let Some((plan, mut hits, unknown)) = found else {
            return Ok(internal());
        };
        if !unknown.is_empty() {
            // Messages the cheap keys could not decide: read and parse them (off the lock).
            let more = blocking(move || {
                let mut more = Vec::new();
                for (mut facts, path) in unknown {
                    let Ok(data) = std::fs::read(&path) else {
                        continue;
                    };
                    let doc = Document::from_vec(data);
                    facts.doc = Some(&doc);
                    if plan.eval(&facts) == Tri::Yes {
                        more.push((facts.seq, facts.uid));
                    }
                }
                more
            })
            .await
            .unwrap_or_default();
            hits.extend(more);
            hits.sort_unstable();
        }
        let numbers: Vec<u32> = hits
            .iter()
            .map(|(seq, u)| if uid { *u } else { *seq })
            .collect();
        let returns = returns.or(self.rev2.then(|| SearchReturn {
            all: true,
            ..SearchReturn::default()
        }));
        match returns {
            None => {
                let mut line = String::from("* SEARCH");
                for n in &numbers {
                    line.push(' ');
                    line.push_str(&n.to_string());
                }
                self.line(&line);
            }
            Some(r) => {
                if r.save {
                    self.saved = hits.iter().map(|(_, u)| *u).collect();
                    self.saved.sort_unstable();
                }
                let only_save = r.save && !(r.min || r.max || r.all || r.count);
                if !only_save {
                    let mut line = format!("* ESEARCH (TAG \"{tag}\")");
                    if uid {
                        line.push_str(" UID");
                    }
                    if !numbers.is_empty() {
                        if r.min {
                            line.push_str(&format!(" MIN {}", numbers.iter().min().unwrap_or(&0)));
                        }
                        if r.max {
                            line.push_str(&format!(" MAX {}", numbers.iter().max().unwrap_or(&0)));
                        }
                        if r.all {
                            let mut sorted = numbers.clone();
                            sorted.sort_unstable();
                            if let Ok(set) = SequenceSet::from_numbers(&sorted) {
                                line.push_str(&format!(" ALL {set}"));
                            }
                        }
                    }
                    if r.count {
                        line.push_str(&format!(" COUNT {}", numbers.len()));
                    }
                    self.line(&line);
                }
            }
        }
        Ok(ok("Search completed."))
    }

    // ---- EXPUNGE ----------------------------------------------------------------------------

    pub(crate) async fn expunge(
        &mut self,
        _tag: &str,
        uids: Option<SeqArg>,
    ) -> Result<Reply, NetError> {
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(no(Some(ResponseCode::Cannot), "Mailbox is read-only."));
        }
        let only = match &uids {
            Some(set) => match self.targets(true, set) {
                Ok(t) => Some(t.into_iter().map(|(_, u)| u).collect::<Vec<u32>>()),
                Err(r) => return Ok(r),
            },
            None => None,
        };
        let result = self
            .with_selected(true, move |sel, state, mb| {
                let doomed: Vec<u32> = sel
                    .view
                    .iter()
                    .copied()
                    .filter(|u| only.as_ref().is_none_or(|o| o.contains(u)))
                    .filter(|u| state.by_uid(*u).is_some_and(|m| m.flags.has(DELETED)))
                    .collect();
                let removed = match state.expunge(&mb.path, &doomed) {
                    Ok(r) => r,
                    Err(e) => return Err(store_failure(&e)),
                };
                Ok(remove_from_view(sel, &removed))
            })
            .await;
        let seqs = match result {
            Some(Ok(s)) => s,
            Some(Err(r)) => return Ok(r),
            None => return Ok(internal()),
        };
        for (seq, uid) in &seqs {
            self.line(&format!("* {seq} EXPUNGE"));
            let uid = *uid;
            self.emit(EventKind::Deleted, |e| e.id = Some(uid.to_string()));
        }
        Ok(ok("Expunge completed."))
    }

    // ---- COPY and MOVE ----------------------------------------------------------------------

    pub(crate) async fn copy(
        &mut self,
        uid: bool,
        set: &SeqArg,
        mailbox: &[u8],
        moving: bool,
    ) -> Result<Reply, NetError> {
        let name = match self.mailbox_name(mailbox) {
            Ok(n) => n,
            Err(r) => return Ok(r),
        };
        let targets = match self.targets(uid, set) {
            Ok(t) => t,
            Err(r) => return Ok(r),
        };
        if moving && self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(no(Some(ResponseCode::Cannot), "Mailbox is read-only."));
        }
        let Some(opener) = self.opener(&name) else {
            return Ok(internal());
        };
        if !opener.path.join("cur").is_dir() {
            return Ok(no(Some(ResponseCode::TryCreate), "Mailbox doesn't exist."));
        }
        // The source messages (under the source's lock, released before the target's).
        let sources = self
            .with_selected(uid || moving, move |_sel, state, mb| {
                targets
                    .iter()
                    .filter_map(|(_, u)| state.by_uid(*u))
                    // A name that could not be read (see `NameBlock`) names no file.
                    .filter(|m| !m.file.is_empty())
                    .map(|m| Source {
                        uid: m.uid,
                        path: mb.path.join(m.sub.as_str()).join(&*m.file),
                        key: m.key().to_owned(),
                        sub: m.sub,
                        flags: m.flags,
                        keywords: (0..26)
                            .filter(|i| m.flags.keywords & (1 << i) != 0)
                            .filter_map(|i| state.keywords.get(i).cloned().flatten())
                            .collect(),
                    })
                    .collect::<Vec<Source>>()
            })
            .await;
        let Some(sources) = sources else {
            return Ok(internal());
        };
        if sources.is_empty() {
            return Ok(ok(if moving {
                "Move completed."
            } else {
                "Copy completed."
            }));
        }
        let placed = blocking(move || place_copies(&opener, sources, moving)).await;
        let (uid_validity, pairs) = match placed {
            Some(Ok(v)) => v,
            Some(Err(r)) => return Ok(r),
            None => return Ok(internal()),
        };
        let (src, dst): (Vec<u32>, Vec<u32>) = pairs.iter().copied().unzip();
        let code = match (
            SequenceSet::from_numbers(&src),
            SequenceSet::from_numbers(&dst),
        ) {
            (Ok(source), Ok(destination)) => Some(ResponseCode::CopyUid(CopyUid {
                uid_validity,
                source,
                destination,
            })),
            _ => None,
        };
        if !moving {
            return Ok(match code {
                Some(c) => ok_code(c, "Copy completed."),
                None => ok("Copy completed."),
            });
        }
        // MOVE (RFC 6851 §4.3): COPYUID untagged, then the EXPUNGEs.
        if let Some(c) = code {
            self.line(&format!("* OK [{c}] Moved UIDs."));
        }
        let moved = src;
        let seqs = self
            .with_selected(true, move |sel, state, mb| {
                state.forget(&moved);
                let _ = crate::store::durable::sync_dir(&mb.path.join("cur"));
                remove_from_view(sel, &moved)
            })
            .await
            .unwrap_or_default();
        for (seq, _) in seqs {
            self.line(&format!("* {seq} EXPUNGE"));
        }
        Ok(ok("Move completed."))
    }

    // ---- APPEND -----------------------------------------------------------------------------

    /// APPEND with the message in the command frame.
    pub(crate) async fn append(
        &mut self,
        raw_name: &[u8],
        flags: &[String],
        date: Option<DateTime>,
        message: Vec<u8>,
    ) -> Reply {
        let prepared = match self
            .prepare_append(raw_name, flags, message.len() as u64)
            .await
        {
            Ok(p) => p,
            Err(r) => return r,
        };
        let done = blocking(move || {
            let mut d = prepared.maildir.begin(&prepared.options)?;
            d.write(&message)?;
            let size = d.size();
            let key = d.commit()?.pop().unwrap_or_default();
            Ok::<_, StoreError>((prepared, key, size))
        })
        .await;
        match done {
            Some(Ok((prepared, key, size))) => self.finish_append(prepared, key, date, size).await,
            Some(Err(e)) => store_failure(&e),
            None => internal(),
        }
    }

    /// Check an APPEND's target, flags and size before its message is sent.
    async fn prepare_append(
        &mut self,
        raw_name: &[u8],
        flags: &[String],
        size: u64,
    ) -> Result<Prepared, Reply> {
        if self.user.is_none() {
            return Err(bad("APPEND is not allowed before login."));
        }
        if size > self.config.max_message_size {
            return Err(no(
                Some(ResponseCode::Other {
                    name: "TOOBIG".into(),
                    text: None,
                }),
                "Message too large.",
            ));
        }
        let name = self.mailbox_name(raw_name)?;
        let args = parse_flags(flags)?;
        let opener = self.opener(&name).ok_or_else(internal)?;
        if !opener.path.join("cur").is_dir() {
            return Err(no(Some(ResponseCode::TryCreate), "Mailbox doesn't exist."));
        }
        let inbox = opener.inbox.clone();
        blocking(move || {
            let mb = opener.open()?;
            let mut state = mb.lock();
            let bits = keyword_bits(&mut state, &mb, &args.keywords, true)?;
            let uid_validity = state.uid_validity;
            drop(state);
            let flags = Flags {
                system: args.system,
                keywords: bits,
                other: 0,
            };
            let letters = flags.letters();
            let maildir = match inbox {
                Some(m) => m,
                None => Maildir::open(&mb.path, false).map_err(|e| store_failure(&e))?,
            };
            Ok(Prepared {
                mailbox: mb,
                maildir,
                uid_validity,
                options: AddOptions {
                    durable: true,
                    flags: (!letters.is_empty()).then_some(letters),
                },
            })
        })
        .await
        .unwrap_or_else(|| Err(internal()))
    }

    /// After the message is in the Maildir: its date, its UID, the answer.
    async fn finish_append(
        &mut self,
        prepared: Prepared,
        key: String,
        date: Option<DateTime>,
        size: u64,
    ) -> Reply {
        let registered = blocking(move || {
            let mb = prepared.mailbox;
            let (sub, file) = match &prepared.options.flags {
                Some(f) => (Subdir::Cur, format!("{key}:2,{f}")),
                None => (Subdir::New, key.clone()),
            };
            let path = mb.path.join(sub.as_str()).join(&file);
            if let Some(d) = date {
                let when = UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64);
                if let Ok(f) = std::fs::File::options().write(true).open(&path) {
                    let _ = f.set_modified(when);
                }
            }
            let mut state = mb.lock();
            let uids = state.register(&mb.path, &mb.user_root, vec![(key, sub, file)]);
            mb.notify(&state);
            uids.map(|u| {
                (
                    prepared.uid_validity.max(state.uid_validity),
                    u.first().copied(),
                )
            })
        })
        .await;
        match registered {
            Some(Ok((uid_validity, Some(uid)))) => {
                self.emit(EventKind::Appended, |e| {
                    e.id = Some(uid.to_string());
                    e.size = size;
                });
                match SequenceSet::single(uid) {
                    Ok(uids) => ok_code(
                        ResponseCode::AppendUid(AppendUid { uid_validity, uids }),
                        "Append completed.",
                    ),
                    Err(_) => ok("Append completed."),
                }
            }
            Some(Ok((_, None))) => ok("Append completed."),
            Some(Err(e)) => store_failure(&e),
            None => internal(),
        }
    }

    /// APPEND whose message literal is read straight into the Maildir's `tmp/`.
    pub(crate) async fn append_streamed(
        &mut self,
        head: Result<AppendHead, super::command::BadCommand>,
        header: LiteralHeader,
    ) -> Result<(), NetError> {
        let head = match head {
            Ok(h) => h,
            Err(b) => {
                if !header.synchronizing && !self.discard(header.size).await? {
                    return Ok(());
                }
                if !header.synchronizing {
                    self.skip_rest().await?;
                }
                self.bad_response(b.tag, &b.text);
                return Ok(());
            }
        };
        let tag = head.tag.clone();
        let prepared = self
            .prepare_append(&head.mailbox, &head.flags, header.size)
            .await;
        let prepared = match prepared {
            Ok(p) => p,
            Err(reply) => {
                if !header.synchronizing {
                    // Already on its way: read and drop it.
                    if header.size > (1 << 30) || !self.discard(header.size).await? {
                        self.line("* BYE Literal too large.");
                        return Err(NetError::Closed);
                    }
                    self.skip_rest().await?;
                }
                return self.finish(&tag, reply, true).await.map(|_| ());
            }
        };
        if header.synchronizing {
            self.line("+ Ready for literal data");
            self.conn.flush().await?;
        }
        let mut delivery = match prepared.maildir.begin(&prepared.options) {
            Ok(d) => Some(d),
            Err(e) => {
                let reply = store_failure(&e);
                if !self.discard(header.size).await? {
                    return Err(NetError::Closed);
                }
                self.skip_rest().await?;
                return self.finish(&tag, reply, true).await.map(|_| ());
            }
        };
        let mut write_error = None;
        let mut left = header.size;
        while left > 0 {
            if self.conn.buffered().is_empty() && self.conn.fill().await? == 0 {
                // The client went away: the temporary file goes with `delivery`.
                return Err(NetError::Closed);
            }
            let take = (self.conn.buffered().len() as u64).min(left) as usize;
            if let Some(d) = delivery.as_mut()
                && let Err(e) = d.write(&self.conn.buffered()[..take])
            {
                write_error = Some(e);
                delivery = None;
            }
            self.conn.consume(take);
            left -= take as u64;
        }
        if !self.skip_rest().await? {
            self.bad_response(Some(tag), "Unexpected data after the APPEND message.");
            return Ok(());
        }
        let reply = match (delivery, write_error) {
            (_, Some(e)) => store_failure(&e),
            (None, None) => internal(),
            (Some(d), None) => match blocking(move || d.commit()).await {
                Some(Ok(mut keys)) => {
                    let key = keys.pop().unwrap_or_default();
                    self.finish_append(prepared, key, head.date, header.size)
                        .await
                }
                Some(Err(e)) => store_failure(&e),
                None => internal(),
            },
        };
        self.finish(&tag, reply, true).await.map(|_| ())
    }

    /// Read the end of the command line after a literal; `false` if anything but spaces
    /// was there.
    async fn skip_rest(&mut self) -> Result<bool, NetError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.conn.buffered()) {
                let clean = self.conn.buffered()[..i]
                    .iter()
                    .all(|&b| b == b' ' || b == b'\r');
                self.conn.consume(i + 1);
                return Ok(clean);
            }
            if self.conn.buffered().len() > 1024 {
                let n = self.conn.buffered().len();
                self.conn.consume(n);
            }
            if self.conn.fill().await? == 0 {
                return Err(NetError::Closed);
            }
        }
    }
}

/// An APPEND's target, checked.
struct Prepared {
    mailbox: Arc<Mailbox>,
    maildir: Maildir,
    uid_validity: u32,
    options: AddOptions,
}

impl Meta {
    fn flags_after(&self) -> Flags {
        let mut f = self.flags;
        if self.seen_set {
            f.system |= SEEN;
        }
        f
    }
}

/// A message to copy or move.
struct Source {
    uid: u32,
    path: PathBuf,
    key: String,
    sub: Subdir,
    flags: Flags,
    keywords: Vec<String>,
}

/// Put copies of `sources` into the target mailbox (hard links; renames when `moving`), give
/// them UIDs, and return the target's UIDVALIDITY with (source UID, new UID) pairs.
fn place_copies(
    opener: &Opener,
    sources: Vec<Source>,
    moving: bool,
) -> Result<(u32, Vec<(u32, u32)>), Reply> {
    let target = opener.open()?;
    let mut placed: Vec<(u32, (String, Subdir, String))> = Vec::with_capacity(sources.len());
    let mut dirs = [false, false];
    {
        // The keywords' letters differ between mailboxes: translate by name.
        let mut state = target.lock();
        let mut files = Vec::with_capacity(sources.len());
        for s in &sources {
            let bits = keyword_bits(&mut state, &target, &s.keywords, true)?;
            let flags = Flags {
                keywords: bits,
                ..s.flags
            };
            files.push(flags.letters());
        }
        drop(state);
        for (s, letters) in sources.iter().zip(files) {
            let size = name::size_field(&s.key, b'S');
            let crlf = name::size_field(&s.key, b'W');
            let key = match (moving, size, crlf) {
                (true, _, _) => s.key.clone(),
                (false, Some(a), Some(b)) => name::with_sizes(&name::unique(), a, b),
                (false, _, _) => name::unique(),
            };
            let (sub, file) = if letters.is_empty() && s.sub == Subdir::New {
                (Subdir::New, key.clone())
            } else {
                (Subdir::Cur, format!("{key}:2,{letters}"))
            };
            let dest = target.path.join(sub.as_str()).join(&file);
            let result = if moving {
                crate::store::durable::rename_noreplace(&s.path, &dest)
            } else {
                crate::store::durable::link(&s.path, &dest)
                    .or_else(|_| std::fs::copy(&s.path, &dest).map(|_| ()))
            };
            match result {
                Ok(()) => {
                    dirs[usize::from(sub == Subdir::Cur)] = true;
                    placed.push((s.uid, (key, sub, file)));
                }
                // Gone meanwhile (expunged by someone else): not copied.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(store_failure(&StoreError::io("copy message", dest, e)));
                }
            }
        }
    }
    for (i, sub) in ["new", "cur"].iter().enumerate() {
        if dirs[i] {
            let dir = target.path.join(sub);
            if let Err(e) = crate::store::durable::sync_dir(&dir) {
                return Err(store_failure(&StoreError::io("fsync", dir, e)));
            }
        }
    }
    let mut state = target.lock();
    let files: Vec<(String, Subdir, String)> = placed.iter().map(|(_, f)| f.clone()).collect();
    let uids = state
        .register(&target.path, &target.user_root, files)
        .map_err(|e| store_failure(&e))?;
    target.notify(&state);
    let pairs = placed.iter().map(|(u, _)| *u).zip(uids).collect();
    Ok((state.uid_validity, pairs))
}

/// Take `removed` UIDs out of the view: (sequence number as sent, UID) for each EXPUNGE.
fn remove_from_view(sel: &mut Selected, removed: &[u32]) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(removed.len());
    let mut sorted = removed.to_vec();
    sorted.sort_unstable();
    let mut k = 0u32;
    let mut kept = Vec::with_capacity(sel.view.len());
    for (i, &u) in sel.view.iter().enumerate() {
        if sorted.binary_search(&u).is_ok() {
            out.push((i as u32 + 1 - k, u));
            k += 1;
        } else {
            kept.push(u);
        }
    }
    sel.view = kept;
    out
}
