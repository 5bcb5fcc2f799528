//! Message commands, always by UID: SEARCH (ESEARCH when offered), FETCH, the pipelined
//! message stream, STORE, COPY, MOVE (with a fallback), APPEND, EXPUNGE and UID EXPUNGE.

use std::collections::{HashMap, VecDeque};

use super::Connection;
use crate::imap::Error;
use crate::imap::command::{FetchAttribute, check_flag, fetch_items};
use crate::imap::response::{Response, Untagged};
use crate::imap::search::{SearchKey, write_all};
use crate::imap::sequence::SequenceSet;
use crate::imap::types::{
    AppendUid, CopyUid, DateTime, Esearch, FetchResult, ResponseCode, Status, StatusResponse,
};

/// How STORE changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOperation {
    /// `FLAGS`: replace.
    Set,
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
}

/// What STORE did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreResult {
    /// The messages' new flags (empty when `silent`, except for changes by others).
    pub updated: Vec<FetchResult>,
    /// UNCHANGEDSINCE (RFC 7162): messages not stored because they changed meanwhile.
    pub modified: Option<SequenceSet>,
}

/// The flags of many messages (see [`Connection::fetch_flags`]), each distinct set of flags
/// kept once: a mailbox of 100,000 messages has a handful of combinations, so the result
/// costs about 8 octets a message, and the bindings make one tuple per set, not per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagSets {
    /// The distinct sets of flags, in the order first seen, each as the server sent it.
    pub sets: Vec<Vec<String>>,
    /// `(uid, index into sets)` in the order the server answered. A message answered twice
    /// (its items split over two responses, or a change made meanwhile) is here twice, the
    /// later current.
    pub messages: Vec<(u32, u32)>,
    index: HashMap<Vec<String>, u32>,
}

impl FlagSets {
    fn add(&mut self, uid: u32, flags: Vec<String>) {
        let set = match self.index.get(flags.as_slice()) {
            Some(&i) => i,
            None => {
                let i = self.sets.len() as u32;
                self.sets.push(flags.clone());
                self.index.insert(flags, i);
                i
            }
        };
        self.messages.push((uid, set));
    }

    /// The current flags of `uid`, if the server sent them.
    pub fn get(&self, uid: u32) -> Option<&[String]> {
        self.messages
            .iter()
            .rev()
            .find(|(u, _)| *u == uid)
            .map(|&(_, i)| self.sets[i as usize].as_slice())
    }

    /// How many answers there are (a message answered twice counts twice).
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message was answered.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Results by UID, in the order the server sent them, several responses for one message
/// merged.
fn collect_by_uid(conn: &mut Connection, untagged: Vec<Untagged>) -> Vec<FetchResult> {
    let mut out: Vec<FetchResult> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut rest = Vec::new();
    for u in untagged {
        match u {
            Untagged::Fetch(f) if f.uid.is_some() => {
                let uid = f.uid.unwrap_or_default();
                match index.get(&uid) {
                    Some(&i) => out[i].merge(*f),
                    None => {
                        index.insert(uid, out.len());
                        out.push(*f);
                    }
                }
            }
            u => rest.push(u),
        }
    }
    conn.keep_events(rest);
    out
}

impl Connection {
    fn search_command(
        &mut self,
        criteria: &[SearchKey],
        returns: Option<&[&str]>,
    ) -> Result<crate::imap::command::Command, Error> {
        let mut b = self.builder("UID SEARCH");
        if let Some(returns) = returns {
            b.keyword(" RETURN (");
            for (i, r) in returns.iter().enumerate() {
                if i > 0 {
                    b.sp();
                }
                b.atom(r)?;
            }
            b.keyword(")");
        }
        if !self.utf8_enabled() && criteria.iter().any(SearchKey::needs_utf8) {
            b.keyword(" CHARSET UTF-8");
        }
        b.sp();
        write_all(&mut b, criteria)?;
        Ok(b.build())
    }

    /// UID SEARCH: the UIDs of the messages matching every key (with `CHARSET UTF-8` when a
    /// string is not ASCII; with `RETURN (ALL)` when the server has ESEARCH, which answers
    /// in ranges).
    pub async fn search(&mut self, criteria: &[SearchKey]) -> Result<Vec<u32>, Error> {
        self.require_selected()?;
        self.capabilities().await?;
        let esearch = self.offers("ESEARCH");
        let cmd = self.search_command(criteria, esearch.then_some(&["ALL"][..]))?;
        let done = self.execute(cmd).await?;
        let limit = self.config.max_search_results;
        let largest = self
            .selected
            .as_ref()
            .and_then(|s| s.uid_next)
            .map_or(u32::MAX, |n| n.saturating_sub(1));
        let mut uids = Vec::new();
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Search { ids, .. } => {
                    if uids.len() + ids.len() > limit {
                        return Err(Error::Protocol(format!("more than {limit} search results")));
                    }
                    uids.extend(ids);
                }
                Untagged::Esearch(e) => {
                    if let Some(all) = e.all {
                        let more = all
                            .expand(largest, limit.saturating_sub(uids.len()))
                            .map_err(|e| Error::Protocol(e.to_string()))?;
                        uids.extend(more);
                    }
                }
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        Ok(uids)
    }

    /// UID SEARCH RETURN (...) (ESEARCH, RFC 4731): `MIN`, `MAX`, `COUNT`, `ALL`.
    pub async fn search_extended(
        &mut self,
        criteria: &[SearchKey],
        returns: &[&str],
    ) -> Result<Esearch, Error> {
        self.require_selected()?;
        self.capabilities().await?;
        if !self.offers("ESEARCH") {
            return Err(Error::NotSupported(
                "the server does not offer ESEARCH".into(),
            ));
        }
        let cmd = self.search_command(criteria, Some(returns))?;
        let done = self.execute(cmd).await?;
        let mut found = None;
        let mut rest = Vec::new();
        for u in done.untagged {
            match u {
                Untagged::Esearch(e) if found.is_none() => found = Some(e),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        Ok(found.unwrap_or_else(|| Esearch {
            uid: true,
            ..Esearch::default()
        }))
    }

    /// UID FETCH of `items` for `uids`; with `changed_since` (CONDSTORE) only messages whose
    /// mod-sequence is higher.
    pub async fn fetch(
        &mut self,
        uids: &SequenceSet,
        items: &[FetchAttribute],
        changed_since: Option<u64>,
    ) -> Result<Vec<FetchResult>, Error> {
        self.require_selected()?;
        let mut b = self.builder("UID FETCH");
        b.sp().sequence_set(uids).sp();
        fetch_items(&mut b, items)?;
        if let Some(n) = changed_since {
            b.keyword(" (CHANGEDSINCE ").number(n).keyword(")");
        }
        let done = self.execute(b.build()).await?;
        Ok(collect_by_uid(self, done.untagged))
    }

    /// `UID FETCH <uids> (UID FLAGS)`, the flags folded as they arrive (no per-message result
    /// is held): what a client syncing a mailbox asks for every message. Responses without
    /// a UID, or with a UID but no FLAGS, are another session's news and are kept as events,
    /// as are EXISTS and EXPUNGE arriving meanwhile.
    pub async fn fetch_flags(&mut self, uids: &SequenceSet) -> Result<FlagSets, Error> {
        self.require_selected()?;
        let mut b = self.builder("UID FETCH");
        b.sp().sequence_set(uids).sp();
        fetch_items(&mut b, &[FetchAttribute::Uid, FetchAttribute::Flags])?;
        let mut out = FlagSets::default();
        let done = self
            .execute_with(b.build(), |u| match u {
                Untagged::Fetch(mut f) => match (f.uid, f.flags.take()) {
                    (Some(uid), Some(flags)) => {
                        out.add(uid, flags);
                        None
                    }
                    (_, flags) => {
                        f.flags = flags;
                        Some(Untagged::Fetch(f))
                    }
                },
                u => Some(u),
            })
            .await?;
        self.keep_events(done.untagged);
        Ok(out)
    }

    /// Stream whole messages (`BODY.PEEK[]`) for `uids`, in pipelined batches; see
    /// [`FetchMessages::next`].
    pub async fn fetch_messages(&mut self, uids: &[u32]) -> Result<FetchMessages, Error> {
        self.require_selected()?;
        self.ready().await?;
        let batch = self.config.fetch_batch.max(1);
        let mut batches = VecDeque::new();
        for chunk in uids.chunks(batch) {
            batches.push_back(
                SequenceSet::from_numbers(chunk).map_err(|e| Error::Usage(e.to_string()))?,
            );
        }
        Ok(FetchMessages {
            batches,
            in_flight: VecDeque::new(),
            generation: self.generation,
            error: None,
            depth: self.config.fetch_pipeline.max(1),
        })
    }

    /// UID STORE.
    pub async fn store(
        &mut self,
        uids: &SequenceSet,
        operation: StoreOperation,
        flags: &[&str],
        silent: bool,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, Error> {
        self.require_selected()?;
        let mut b = self.builder("UID STORE");
        b.sp().sequence_set(uids).sp();
        if let Some(n) = unchanged_since {
            b.keyword("(UNCHANGEDSINCE ").number(n).keyword(") ");
        }
        b.keyword(match operation {
            StoreOperation::Set => "FLAGS",
            StoreOperation::Add => "+FLAGS",
            StoreOperation::Remove => "-FLAGS",
        });
        if silent {
            b.keyword(".SILENT");
        }
        b.sp().flag_list(flags)?;
        let done = self.execute(b.build()).await?;
        let modified = match done.status.code {
            Some(ResponseCode::Modified(set)) => Some(set),
            _ => None,
        };
        Ok(StoreResult {
            updated: collect_by_uid(self, done.untagged),
            modified,
        })
    }

    /// Add flags (silently).
    pub async fn add_flags(&mut self, uids: &SequenceSet, flags: &[&str]) -> Result<(), Error> {
        self.store(uids, StoreOperation::Add, flags, true, None)
            .await
            .map(|_| ())
    }

    /// Remove flags (silently).
    pub async fn remove_flags(&mut self, uids: &SequenceSet, flags: &[&str]) -> Result<(), Error> {
        self.store(uids, StoreOperation::Remove, flags, true, None)
            .await
            .map(|_| ())
    }

    /// Replace the flags (silently).
    pub async fn set_flags(&mut self, uids: &SequenceSet, flags: &[&str]) -> Result<(), Error> {
        self.store(uids, StoreOperation::Set, flags, true, None)
            .await
            .map(|_| ())
    }

    /// UID COPY: the new UIDs when the server has UIDPLUS.
    pub async fn copy(
        &mut self,
        uids: &SequenceSet,
        mailbox: &str,
    ) -> Result<Option<CopyUid>, Error> {
        self.require_selected()?;
        let mut b = self.builder("UID COPY");
        b.sp().sequence_set(uids).sp().mailbox(mailbox)?;
        let done = self.execute(b.build()).await?;
        self.keep_events(done.untagged);
        Ok(match done.status.code {
            Some(ResponseCode::CopyUid(c)) => Some(c),
            _ => None,
        })
    }

    /// UID MOVE (RFC 6851). Without MOVE: UID COPY, STORE `\Deleted`, then UID EXPUNGE of
    /// those UIDs (UIDPLUS) or, without UIDPLUS, EXPUNGE, which also removes any other message
    /// already marked `\Deleted`.
    pub async fn move_messages(
        &mut self,
        uids: &SequenceSet,
        mailbox: &str,
    ) -> Result<Option<CopyUid>, Error> {
        self.require_selected()?;
        self.capabilities().await?;
        if !self.offers("MOVE") {
            let copied = self.copy(uids, mailbox).await?;
            self.add_flags(uids, &["\\Deleted"]).await?;
            if self.offers("UIDPLUS") {
                self.uid_expunge(uids).await?;
            } else {
                self.expunge().await?;
            }
            return Ok(copied);
        }
        let mut b = self.builder("UID MOVE");
        b.sp().sequence_set(uids).sp().mailbox(mailbox)?;
        let done = self.execute(b.build()).await?;
        // RFC 6851 §4.3: COPYUID comes in an untagged OK before the expunges.
        let mut copied = match done.status.code {
            Some(ResponseCode::CopyUid(c)) => Some(c),
            _ => None,
        };
        for u in done.untagged {
            match u {
                Untagged::Status(StatusResponse {
                    status: Status::Ok,
                    code: Some(ResponseCode::CopyUid(c)),
                    ..
                }) => copied = Some(c),
                // The moved messages' expunges: the caller made them.
                Untagged::Expunge(_) | Untagged::Vanished { .. } => {}
                u => self.keep_events(vec![u]),
            }
        }
        Ok(copied)
    }

    /// APPEND a message (as a literal; `LITERAL+` saves a round trip; literal8 if it holds
    /// NUL and the server has BINARY): the new UID when the server has UIDPLUS.
    pub async fn append(
        &mut self,
        mailbox: &str,
        message: &[u8],
        flags: &[&str],
        internal_date: Option<&DateTime>,
    ) -> Result<Option<AppendUid>, Error> {
        for f in flags {
            check_flag(f)?;
        }
        self.capabilities().await?;
        let mut b = self.builder("APPEND");
        b.sp().mailbox(mailbox)?;
        if !flags.is_empty() {
            b.sp().flag_list(flags)?;
        }
        if let Some(dt) = internal_date {
            if !dt.is_valid() {
                return Err(Error::Usage(format!("invalid date-time {dt:?}")));
            }
            b.sp().date_time(dt);
        }
        b.sp().literal(message, message.contains(&0))?;
        let done = self.execute(b.build()).await?;
        self.keep_events(done.untagged);
        Ok(match done.status.code {
            Some(ResponseCode::AppendUid(a)) => Some(a),
            _ => None,
        })
    }

    fn expunged(&mut self, untagged: Vec<Untagged>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for u in untagged {
            match u {
                Untagged::Expunge(n) => out.push(n),
                u => rest.push(u),
            }
        }
        self.keep_events(rest);
        out
    }

    /// EXPUNGE: remove every message marked `\Deleted`; their sequence numbers, as the
    /// server reported them (each relative to the mailbox after the ones before).
    pub async fn expunge(&mut self) -> Result<Vec<u32>, Error> {
        self.require_selected()?;
        let done = self.execute(self.builder("EXPUNGE").build()).await?;
        Ok(self.expunged(done.untagged))
    }

    /// UID EXPUNGE (UIDPLUS): remove only these messages, if marked `\Deleted`.
    pub async fn uid_expunge(&mut self, uids: &SequenceSet) -> Result<Vec<u32>, Error> {
        self.require_selected()?;
        self.capabilities().await?;
        if !self.offers("UIDPLUS") {
            return Err(Error::NotSupported(
                "UID EXPUNGE needs the server's UIDPLUS".into(),
            ));
        }
        let mut b = self.builder("UID EXPUNGE");
        b.sp().sequence_set(uids);
        let done = self.execute(b.build()).await?;
        Ok(self.expunged(done.untagged))
    }
}

/// Whole messages streamed from the selected mailbox: `UID FETCH <batch> (UID BODY.PEEK[])`
/// for a batch of UIDs at a time, the next batch sent before the current one is read, so the
/// server never waits for the client; each message is read into its own buffer and handed
/// over, so memory holds about one message (and the socket buffers), not the mailbox.
///
/// Another command on the connection while a stream is under way first finishes the
/// stream's commands (dropping their messages); the stream then fails with a usage error.
#[derive(Debug)]
pub struct FetchMessages {
    batches: VecDeque<SequenceSet>,
    in_flight: VecDeque<String>,
    generation: u64,
    error: Option<StatusResponse>,
    depth: usize,
}

impl FetchMessages {
    /// The next `(uid, message)`; `None` at the end. A NO for a batch (messages expunged
    /// meanwhile) does not stop the stream: the messages that came are given, then the NO.
    pub async fn next(&mut self, conn: &mut Connection) -> Result<Option<(u32, Vec<u8>)>, Error> {
        if conn.generation != self.generation {
            return Err(Error::Usage(
                "another command interrupted this fetch_messages stream".into(),
            ));
        }
        loop {
            while self.in_flight.len() < self.depth {
                let Some(set) = self.batches.pop_front() else {
                    break;
                };
                if self.in_flight.is_empty() {
                    // Nothing of ours outstanding: end an IDLE the caller started meanwhile.
                    conn.ready().await?;
                    self.generation = conn.generation;
                }
                let mut b = conn.builder("UID FETCH");
                b.sp().sequence_set(&set).sp();
                fetch_items(
                    &mut b,
                    &[FetchAttribute::Uid, FetchAttribute::whole_message()],
                )?;
                let tag = conn.send(&b.build()).await?;
                self.in_flight.push_back(tag);
            }
            if self.in_flight.is_empty() {
                return match self.error.take() {
                    Some(status) => Err(Error::Response(status)),
                    None => Ok(None),
                };
            }
            let response = conn.read_response(conn.config.endpoint.io_timeout).await?;
            if let Some(message) = conn.parse_error.take() {
                return Err(Error::Protocol(message));
            }
            match response {
                Response::Untagged(Untagged::Fetch(mut f)) => match (f.uid, f.take_body()) {
                    // The MODSEQ (CONDSTORE) or FLAGS that come along are not news.
                    (Some(uid), Some(body)) => return Ok(Some((uid, body))),
                    // Ours, for a message without a body (NIL: expunged meanwhile).
                    (Some(_), None) => {}
                    // Another session's change.
                    (None, _) => conn.keep_events(vec![Untagged::Fetch(f)]),
                },
                Response::Untagged(u) => conn.keep_events(vec![u]),
                Response::Tagged { tag, status } if self.in_flight.front() == Some(&tag) => {
                    self.in_flight.pop_front();
                    conn.outstanding.retain(|t| *t != tag);
                    if status.status != Status::Ok {
                        self.error.get_or_insert(status);
                    }
                }
                Response::Tagged { tag, .. } => {
                    return Err(
                        conn.fail_protocol(format!("completion for an unexpected command {tag:?}"))
                    );
                }
                Response::Continuation(_) => {
                    return Err(conn
                        .fail_protocol("unexpected continuation request during UID FETCH".into()));
                }
            }
        }
    }

    /// Whether every batch was sent and answered.
    pub fn is_done(&self) -> bool {
        self.batches.is_empty() && self.in_flight.is_empty()
    }
}
