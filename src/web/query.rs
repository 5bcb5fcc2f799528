//! Search queries: `from:alice subject:"big sale" has:attachment after:2026-01-01 words`.
//!
//! Terms are ANDed; matching is case-insensitive substring matching. A bare word matches the
//! subject, the sender, the recipients or the text. `after:`/`before:` (also `since:`/
//! `until:`) take `YYYY-MM-DD` or seconds since the epoch and compare the Date field (the
//! delivery time when there is none); `before:` is exclusive. `is:unread`, `is:read`,
//! `is:flagged`, `has:attachment`, `mailbox:NAME`, `text:` (the text parts only).

use memchr::memmem::Finder;

use super::arena::{Arena, DocSet, Field};
use super::index::Entry;
use super::summary::parse_day;

/// A lowercase substring to look for, with its searcher built once per query (SIMD, so a
/// scan of the whole index's text stays within the latency budget).
#[derive(Debug, Clone)]
pub struct Term {
    pub text: String,
    finder: Finder<'static>,
}

impl Term {
    pub fn new(text: &str) -> Term {
        // Control characters separate fields in the arena: never part of a term.
        let text: String = text
            .to_lowercase()
            .chars()
            .map(|c| if c < ' ' { ' ' } else { c })
            .collect();
        Term {
            finder: Finder::new(text.as_bytes()).into_owned(),
            text,
        }
    }

    fn found_in(&self, haystack: &[u8]) -> bool {
        self.finder.find(haystack).is_some()
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        self.text == other.text
    }
}

impl Eq for Term {}

impl PartialEq<&str> for Term {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub from: Vec<Term>,
    pub to: Vec<Term>,
    pub subject: Vec<Term>,
    pub text: Vec<Term>,
    pub words: Vec<Term>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub has_attachment: Option<bool>,
    pub seen: Option<bool>,
    pub flagged: Option<bool>,
    pub mailbox: Option<String>,
}

/// A query that could not be read, with the reason (a 400 reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

/// Most terms one query may have (each costs a pass over the candidates).
const MAX_TERMS: usize = 32;

fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

impl Query {
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        let mut out = Query::default();
        let tokens = tokens(q);
        if tokens.len() > MAX_TERMS {
            return Err(QueryError(format!("at most {MAX_TERMS} search terms")));
        }
        for tok in tokens {
            let Some((field, value)) = tok.split_once(':').filter(|(f, v)| {
                !v.is_empty()
                    && f.chars()
                        .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
                    && !f.is_empty()
            }) else {
                if !tok.is_empty() {
                    out.words.push(Term::new(&tok));
                }
                continue;
            };
            out.add(&field.to_ascii_lowercase(), value)?;
        }
        Ok(out)
    }

    /// Add one `field:value` term.
    pub fn add(&mut self, field: &str, value: &str) -> Result<(), QueryError> {
        let lc = value.to_lowercase();
        let term = Term::new(value);
        let day = |v: &str| {
            parse_day(v).ok_or_else(|| {
                QueryError(format!("{field}: wants YYYY-MM-DD or seconds, not {v:?}"))
            })
        };
        match field {
            "from" => self.from.push(term),
            "to" => self.to.push(term),
            "subject" => self.subject.push(term),
            "text" | "body" => self.text.push(term),
            "after" | "since" => self.after = Some(day(value)?),
            "before" | "until" => self.before = Some(day(value)?),
            "mailbox" | "user" => self.mailbox = Some(value.to_owned()),
            "has" if lc == "attachment" || lc == "attachments" => self.has_attachment = Some(true),
            "is" | "has" => match lc.as_str() {
                "unread" | "new" => self.seen = Some(false),
                "read" | "seen" => self.seen = Some(true),
                "flagged" | "starred" => self.flagged = Some(true),
                _ => return Err(QueryError(format!("unknown {field}:{value}"))),
            },
            "attachment" | "has_attachment" => {
                self.has_attachment = Some(matches!(lc.as_str(), "1" | "true" | "yes"))
            }
            // A term we do not know is searched for as written (a URL, a time of day...).
            _ => self.words.push(Term::new(&format!("{field}:{lc}"))),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == Query::default()
    }

    fn has_terms(&self) -> bool {
        !(self.from.is_empty()
            && self.to.is_empty()
            && self.subject.is_empty()
            && self.text.is_empty()
            && self.words.is_empty())
    }

    /// The docs that match every text term, from scans of the arena; `None` when the query
    /// has no text term (every message is a candidate).
    pub fn candidates(&self, arena: &Arena) -> Option<DocSet> {
        if !self.has_terms() {
            return None;
        }
        let fields = [
            (&self.from, Field::From),
            (&self.to, Field::To),
            (&self.subject, Field::Subject),
        ];
        let mut sets = Vec::new();
        for (terms, field) in fields {
            for t in terms {
                sets.push(arena.scan_meta(&t.finder, Some(field)));
            }
        }
        for t in &self.text {
            sets.push(arena.scan_text(&t.finder));
        }
        for t in &self.words {
            let mut any = arena.scan_meta(&t.finder, None);
            any.union(&arena.scan_text(&t.finder));
            sets.push(any);
        }
        let mut out = sets.pop()?;
        for s in &sets {
            out.intersect(s);
        }
        Some(out)
    }

    /// The docs of every live message that matches, below sequence number `before`.
    pub fn select(&self, arena: &Arena, before: Option<u64>) -> DocSet {
        let mut set = match self.candidates(arena) {
            Some(mut c) => {
                c.intersect(&arena.live);
                c
            }
            None => arena.live.clone(),
        };
        if let Some(b) = before {
            set.truncate(arena.docs.partition_point(|d| d.seq < b));
        }
        for (want, column) in [
            (self.seen, &arena.seen),
            (self.flagged, &arena.flagged),
            (self.has_attachment, &arena.attachments),
        ] {
            match want {
                Some(true) => set.intersect(column),
                Some(false) => set.subtract(column),
                None => {}
            }
        }
        let mailbox = match &self.mailbox {
            Some(m) => match arena.mailbox_id(m) {
                Some(id) => Some(id),
                None => return DocSet::default(),
            },
            None => None,
        };
        if mailbox.is_some() || self.after.is_some() || self.before.is_some() {
            let (after, before) = (
                self.after.unwrap_or(i64::MIN),
                self.before.unwrap_or(i64::MAX),
            );
            let drop: Vec<usize> = set
                .iter_rev()
                .filter(|&i| {
                    mailbox.is_some_and(|m| arena.mailbox[i] != m)
                        || arena.when[i] < after
                        || arena.when[i] >= before
                })
                .collect();
            for i in drop {
                set.set(i, false);
            }
        }
        set
    }

    /// The conditions on the entry itself: mailbox, flags, attachments, dates.
    pub fn matches_flags(&self, e: &Entry) -> bool {
        let s = &e.summary;
        if let Some(m) = &self.mailbox
            && *e.user != **m
        {
            return false;
        }
        if let Some(want) = self.seen
            && e.seen() != want
        {
            return false;
        }
        if let Some(want) = self.flagged
            && e.flags().contains('F') != want
        {
            return false;
        }
        if let Some(want) = self.has_attachment
            && s.has_attachments != want
        {
            return false;
        }
        let when = s.date.unwrap_or(e.received);
        !(self.after.is_some_and(|a| when < a) || self.before.is_some_and(|b| when >= b))
    }

    /// Whether one entry matches (its text read from the arena).
    pub fn matches(&self, e: &Entry, arena: &Arena) -> bool {
        let (subject, from, to, text) = (
            arena.field(e.doc, Field::Subject),
            arena.field(e.doc, Field::From),
            arena.field(e.doc, Field::To),
            arena.text(e.doc),
        );
        self.matches_flags(e)
            && self.from.iter().all(|w| w.found_in(from))
            && self.to.iter().all(|w| w.found_in(to))
            && self.subject.iter().all(|w| w.found_in(subject))
            && self.text.iter().all(|w| w.found_in(text))
            && self.words.iter().all(|w| {
                w.found_in(subject) || w.found_in(from) || w.found_in(to) || w.found_in(text)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        let q = Query::parse(r#"from:Alice subject:"Big Sale" has:attachment is:unread Hello after:2026-01-02 before:1800000000 url:x"#)
            .unwrap();
        assert_eq!(q.from, ["alice"]);
        assert_eq!(q.subject, ["big sale"]);
        assert_eq!(q.has_attachment, Some(true));
        assert_eq!(q.seen, Some(false));
        assert_eq!(q.words, ["hello", "url:x"]);
        assert_eq!(q.after, Some(1_767_312_000));
        assert_eq!(q.before, Some(1_800_000_000));
        assert!(Query::parse("").unwrap().is_empty());
        assert!(Query::parse("after:yesterday").is_err());
        assert!(Query::parse("is:purple").is_err());
        assert_eq!(Query::parse("a: b").unwrap().words, ["a:", "b"]);
    }
}
