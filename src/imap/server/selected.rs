//! A session's view of its selected mailbox: the UIDs in the order of its message sequence
//! numbers, and what it has been told. Other sessions' changes reach it as untagged
//! responses when the rules of RFC 9051 §7.5.1 allow: new messages (EXISTS) and flag
//! changes (FETCH) with any command, expunges (EXPUNGE) only when no command that uses
//! sequence numbers (FETCH, STORE, SEARCH) is running; until then an expunged message keeps
//! its number.

use std::sync::Arc;

use tokio::sync::watch;

use super::mailbox::{Flags, Mailbox, SYSTEM_FLAGS, State};
use crate::imap::encode::write_astring;

pub struct Selected {
    pub mailbox: Arc<Mailbox>,
    pub read_only: bool,
    /// UIDs, ascending: message `n` is `view[n - 1]`.
    pub view: Vec<u32>,
    /// The state version reported so far.
    pub since: u64,
    /// The keyword list's version reported so far.
    pub keywords_since: u64,
    /// Messages of the view are gone from the state but not yet reported.
    pub expunges_pending: bool,
    pub changes: watch::Receiver<u64>,
}

/// What a session must be told.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Updates {
    /// Sequence numbers, each as it is when its EXPUNGE is sent.
    pub expunged: Vec<u32>,
    pub exists: Option<u32>,
    /// (sequence number, UID, flags).
    pub flags: Vec<(u32, u32, Flags)>,
    /// The keyword list grew: a new `* FLAGS`.
    pub keywords: Option<Vec<String>>,
    /// The mailbox went away: the session must end.
    pub gone: bool,
}

impl Updates {
    pub fn is_empty(&self) -> bool {
        *self == Updates::default()
    }
}

impl Selected {
    pub fn new(mailbox: Arc<Mailbox>, read_only: bool, state: &State) -> Selected {
        let changes = mailbox.subscribe();
        Selected {
            mailbox,
            read_only,
            view: state.messages.iter().map(|m| m.uid).collect(),
            since: state.version,
            keywords_since: state.keywords_version,
            expunges_pending: false,
            changes,
        }
    }

    /// Message number of a UID in the view.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.view.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    pub fn exists(&self) -> u32 {
        self.view.len() as u32
    }

    /// Work out what changed since the last report, and move the view on. `expunge`: EXPUNGE
    /// responses may be sent now.
    pub fn collect(&mut self, state: &State, expunge: bool) -> Updates {
        let mut u = Updates::default();
        if state.gone {
            u.gone = true;
            return u;
        }
        if state.version == self.since && !(expunge && self.expunges_pending) {
            return u;
        }
        // Expunges: UIDs of the view no longer in the state (both lists ascending).
        let mut kept: Vec<u32> = Vec::with_capacity(self.view.len());
        let mut gone_positions: Vec<usize> = Vec::new();
        {
            let mut j = 0;
            let msgs = &state.messages;
            for (i, &uid) in self.view.iter().enumerate() {
                while j < msgs.len() && msgs[j].uid < uid {
                    j += 1;
                }
                if j < msgs.len() && msgs[j].uid == uid {
                    kept.push(uid);
                } else {
                    gone_positions.push(i);
                }
            }
        }
        if !gone_positions.is_empty() {
            if expunge {
                // Each EXPUNGE renumbers the messages after it.
                u.expunged = gone_positions
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| (i - k + 1) as u32)
                    .collect();
                self.view = kept;
                self.expunges_pending = false;
            } else {
                self.expunges_pending = true;
            }
        } else {
            self.expunges_pending = false;
        }
        // New messages: UIDs above the view's last.
        let last = self.view.last().copied().unwrap_or(0);
        let start = state.messages.partition_point(|m| m.uid <= last);
        if start < state.messages.len() {
            self.view
                .extend(state.messages[start..].iter().map(|m| m.uid));
            u.exists = Some(self.view.len() as u32);
        }
        // Flag changes of messages the session knew.
        for m in &state.messages[..start] {
            if m.modseq > self.since
                && let Some(seq) = self.seq_of(m.uid)
            {
                u.flags.push((seq, m.uid, m.flags));
            }
        }
        if state.keywords_version > self.keywords_since {
            u.keywords = Some(state.keyword_names().map(str::to_owned).collect());
            self.keywords_since = state.keywords_version;
        }
        self.since = state.version;
        u
    }
}

/// The flag list of a message: `(\Seen \Flagged $Label)`.
pub fn write_flags(out: &mut Vec<u8>, flags: Flags, keywords: &[Option<String>]) {
    out.push(b'(');
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    for (bit, name, _) in SYSTEM_FLAGS {
        if flags.system & bit != 0 {
            sep(out);
            out.extend_from_slice(name.as_bytes());
        }
    }
    for (i, k) in keywords.iter().enumerate() {
        if flags.keywords & (1 << i) != 0
            && let Some(k) = k
        {
            sep(out);
            out.extend_from_slice(k.as_bytes());
        }
    }
    out.push(b')');
}

/// `* FLAGS (...)`: the system flags and the defined keywords.
pub fn write_flag_list(out: &mut Vec<u8>, keywords: &[String], permanent: Option<bool>) {
    let mut list = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for k in keywords {
        list.push(' ');
        list.push_str(k);
    }
    match permanent {
        None => out.extend_from_slice(format!("* FLAGS ({list})\r\n").as_bytes()),
        Some(may_create) => {
            if may_create {
                list.push_str(" \\*");
            }
            out.extend_from_slice(
                format!("* OK [PERMANENTFLAGS ({list})] Flags permitted.\r\n").as_bytes(),
            );
        }
    }
}

/// Write `updates` as untagged responses (not `gone`, which the session handles).
pub fn write_updates(out: &mut Vec<u8>, u: &Updates, state_keywords: &[Option<String>]) {
    for seq in &u.expunged {
        out.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
    }
    if let Some(k) = &u.keywords {
        write_flag_list(out, k, None);
    }
    if let Some(n) = u.exists {
        out.extend_from_slice(format!("* {n} EXISTS\r\n").as_bytes());
    }
    for (seq, uid, flags) in &u.flags {
        out.extend_from_slice(format!("* {seq} FETCH (UID {uid} FLAGS ").as_bytes());
        write_flags(out, *flags, state_keywords);
        out.extend_from_slice(b")\r\n");
    }
}

/// A mailbox name for a response: UTF-8 for IMAP4rev2 sessions, modified UTF-7 otherwise.
pub fn write_mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    let wire = crate::imap::utf7::encode_mailbox(name, utf8);
    if name == "INBOX" {
        out.extend_from_slice(b"INBOX");
    } else {
        write_astring(out, &wire, utf8);
    }
}

#[cfg(test)]
mod tests {
    use super::super::mailbox::{DELETED, SEEN};
    use super::*;

    #[test]
    fn flag_lists() {
        let mut out = Vec::new();
        let kw = vec![Some("$Label".to_owned()), None, Some("Junk".to_owned())];
        write_flags(
            &mut out,
            Flags {
                system: SEEN | DELETED,
                keywords: 0b101,
                other: 0,
            },
            &kw,
        );
        assert_eq!(out, b"(\\Deleted \\Seen $Label Junk)");
        let mut out = Vec::new();
        write_flag_list(&mut out, &["$Label".into()], Some(true));
        assert_eq!(
            out,
            b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label \\*)] Flags permitted.\r\n"
        );
        let mut out = Vec::new();
        write_mailbox(&mut out, "Entwürfe", false);
        write_mailbox(&mut out, "a b", true);
        assert_eq!(out, b"Entw&APw-rfe\"a b\"");
    }
}
