//! SEARCH (RFC 9051 §6.4.4): the keys parsed from a command, and their evaluation.
//!
//! Evaluation is three-valued: keys on flags, numbers, sizes and dates are decided from the
//! mailbox state, keys on header fields and text are `Unknown` until the message is read.
//! A message is read only when the cheap keys leave the answer open (`UNSEEN FROM x` reads
//! only unseen messages). Strings match as case-insensitive substrings of the decoded
//! text (RFC 2047 words, transfer encodings and charsets undone).

use super::command::{SeqArg, text_of};
use super::mailbox::{ANSWERED, DELETED, DRAFT, FLAGGED, Flags, SEEN};
use crate::imap::lex::{Cursor, ParseError, month_number};
use crate::imap::sequence::SequenceSet;
use crate::imap::types::{Date, DateTime};
use crate::message::{Document, MessageView};

/// Deepest nesting of NOT, OR and parentheses.
const MAX_DEPTH: usize = 32;

/// A search key as parsed; strings are lower-cased for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    All,
    /// A system flag set (or, `set: false`, not set).
    Flag {
        bit: u8,
        set: bool,
    },
    Keyword {
        name: String,
        set: bool,
    },
    /// IMAP4rev1's RECENT and NEW: no message is recent here.
    Never,
    /// A header field containing a string (empty: the field is present).
    Header {
        field: String,
        value: String,
    },
    Body(String),
    Text(String),
    /// BEFORE, ON, SINCE on the internal date; SENT* on the Date field. Days since the
    /// epoch.
    Date {
        sent: bool,
        cmp: DateCmp,
        day: i64,
    },
    Larger(u64),
    Smaller(u64),
    Uid(SeqArg),
    Seq(SeqArg),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateCmp {
    Before,
    On,
    Since,
}

fn string(c: &mut Cursor<'_>) -> Result<String, ParseError> {
    Ok(text_of(c.astring()?).to_lowercase())
}

fn date(c: &mut Cursor<'_>) -> Result<i64, ParseError> {
    let at = c.pos();
    let text = if c.peek() == Some(b'"') {
        c.quoted()?.into_owned()
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-')
            .to_vec()
    };
    let bad = ParseError::Syntax {
        at,
        expected: "a date (1-Feb-2024)",
    };
    let mut parts = text.split(|&b| b == b'-');
    let (Some(d), Some(m), Some(y), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let num = |s: &[u8], max_len: usize| -> Option<u32> {
        (!s.is_empty() && s.len() <= max_len && s.iter().all(u8::is_ascii_digit))
            .then(|| s.iter().fold(0u32, |n, &b| n * 10 + u32::from(b - b'0')))
    };
    let date = (|| {
        let day = num(d, 2)?;
        let month = month_number(m)?;
        let year = num(y, 4).filter(|_| y.len() == 4)?;
        Date::new(year as u16, month, day as u8)
    })()
    .ok_or(bad)?;
    Ok(day_number(date))
}

/// Days since 1970-01-01.
pub fn day_number(d: Date) -> i64 {
    DateTime {
        year: d.year,
        month: d.month,
        day: d.day,
        hour: 0,
        minute: 0,
        second: 0,
        offset_minutes: 0,
    }
    .timestamp()
    .div_euclid(86_400)
}

/// One search key (with its arguments); `depth` bounds the recursion.
pub fn key(c: &mut Cursor<'_>, depth: usize) -> Result<Key, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep { at: c.pos() });
    }
    if c.peek() == Some(b'(') {
        c.open()?;
        let mut keys = vec![key(c, depth + 1)?];
        loop {
            if c.close() {
                break;
            }
            c.sp()?;
            keys.push(key(c, depth + 1)?);
        }
        return Ok(if keys.len() == 1 {
            keys.remove(0)
        } else {
            Key::And(keys)
        });
    }
    if matches!(c.peek(), Some(b'0'..=b'9' | b'*' | b'$')) {
        return Ok(Key::Seq(super::command::seq_arg(c)?));
    }
    let at = c.pos();
    let word = c.keyword()?;
    let flag = |bit, set| Ok(Key::Flag { bit, set });
    let header = |c: &mut Cursor<'_>, field: &str| -> Result<Key, ParseError> {
        c.sp()?;
        Ok(Key::Header {
            field: field.to_owned(),
            value: string(c)?,
        })
    };
    let dated = |c: &mut Cursor<'_>, sent, cmp| -> Result<Key, ParseError> {
        c.sp()?;
        Ok(Key::Date {
            sent,
            cmp,
            day: date(c)?,
        })
    };
    match word.as_str() {
        "ALL" => Ok(Key::All),
        "ANSWERED" => flag(ANSWERED, true),
        "DELETED" => flag(DELETED, true),
        "DRAFT" => flag(DRAFT, true),
        "FLAGGED" => flag(FLAGGED, true),
        "SEEN" => flag(SEEN, true),
        "UNANSWERED" => flag(ANSWERED, false),
        "UNDELETED" => flag(DELETED, false),
        "UNDRAFT" => flag(DRAFT, false),
        "UNFLAGGED" => flag(FLAGGED, false),
        "UNSEEN" => flag(SEEN, false),
        "NEW" | "RECENT" => Ok(Key::Never),
        "OLD" => Ok(Key::All),
        "KEYWORD" | "UNKEYWORD" => {
            c.sp()?;
            let name = String::from_utf8_lossy(c.atom()?).into_owned();
            Ok(Key::Keyword {
                name,
                set: word == "KEYWORD",
            })
        }
        "BCC" => header(c, "bcc"),
        "CC" => header(c, "cc"),
        "FROM" => header(c, "from"),
        "TO" => header(c, "to"),
        "SUBJECT" => header(c, "subject"),
        "HEADER" => {
            c.sp()?;
            let field = String::from_utf8_lossy(&c.astring()?).to_ascii_lowercase();
            header(c, &field)
        }
        "BODY" => {
            c.sp()?;
            Ok(Key::Body(string(c)?))
        }
        "TEXT" => {
            c.sp()?;
            Ok(Key::Text(string(c)?))
        }
        "BEFORE" => dated(c, false, DateCmp::Before),
        "ON" => dated(c, false, DateCmp::On),
        "SINCE" => dated(c, false, DateCmp::Since),
        "SENTBEFORE" => dated(c, true, DateCmp::Before),
        "SENTON" => dated(c, true, DateCmp::On),
        "SENTSINCE" => dated(c, true, DateCmp::Since),
        "LARGER" => {
            c.sp()?;
            Ok(Key::Larger(c.number64()?))
        }
        "SMALLER" => {
            c.sp()?;
            Ok(Key::Smaller(c.number64()?))
        }
        "UID" => {
            c.sp()?;
            Ok(Key::Uid(super::command::seq_arg(c)?))
        }
        "NOT" => {
            c.sp()?;
            Ok(Key::Not(Box::new(key(c, depth + 1)?)))
        }
        "OR" => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            let b = key(c, depth + 1)?;
            Ok(Key::Or(Box::new(a), Box::new(b)))
        }
        _ => {
            c.restore(at);
            c.error("a search key")
        }
    }
}

/// Three-valued truth: `Unknown` until the message is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    No,
    Yes,
    Unknown,
}

impl Tri {
    fn of(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// Sorted, merged ranges: membership by binary search.
#[derive(Debug, Clone, Default)]
pub struct Ranges(Vec<(u32, u32)>);

impl Ranges {
    /// The ranges of `set` with `*` standing for `largest`.
    pub fn of(set: &SequenceSet, largest: u32) -> Ranges {
        let mut v: Vec<(u32, u32)> = set.ranges().iter().map(|r| r.bounds(largest)).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        Ranges(out)
    }

    /// Ranges of single numbers (a saved result, sorted UIDs).
    pub fn of_sorted(numbers: &[u32]) -> Ranges {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for &n in numbers {
            match out.last_mut() {
                Some(last) if n == last.1.saturating_add(1) => last.1 = n,
                Some(last) if n <= last.1 => {}
                _ => out.push((n, n)),
            }
        }
        Ranges(out)
    }

    pub fn contains(&self, n: u32) -> bool {
        let i = self.0.partition_point(|r| r.1 < n);
        self.0.get(i).is_some_and(|r| r.0 <= n)
    }
}

/// A key with its sequence sets resolved for one mailbox view.
#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    Flag(u8, bool),
    Keyword(Option<usize>, bool),
    Header(String, String),
    Body(String),
    Text(String),
    Date(bool, DateCmp, i64),
    Larger(u64),
    Smaller(u64),
    Uids(Ranges),
    Seqs(Ranges),
    Not(Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Vec<Node>),
}

/// What a message's evaluation may look at.
pub struct Facts<'a> {
    pub seq: u32,
    pub uid: u32,
    pub flags: Flags,
    pub size: u64,
    /// INTERNALDATE, seconds since the epoch.
    pub internal_date: i64,
    /// The parsed message, once read.
    pub doc: Option<&'a Document>,
}

/// Keys ready to run over one mailbox.
pub struct Plan {
    root: Node,
    pub needs_size: bool,
    pub needs_date: bool,
}

/// How the keys' sequence sets are read.
pub struct View<'a> {
    pub largest_seq: u32,
    pub largest_uid: u32,
    /// The saved result (`$`), as UIDs, sorted.
    pub saved: &'a [u32],
    /// Keyword letter of a keyword name, if defined.
    pub keyword: &'a dyn Fn(&str) -> Option<usize>,
    /// Sequence number of a UID (for `$` in a sequence-number key).
    pub seq_of_uid: &'a dyn Fn(u32) -> Option<u32>,
}

impl Plan {
    pub fn new(keys: &[Key], view: &View<'_>) -> Plan {
        let mut plan = Plan {
            root: Node::Const(true),
            needs_size: false,
            needs_date: false,
        };
        let nodes: Vec<Node> = keys.iter().map(|k| plan.node(k, view)).collect();
        plan.root = Node::And(nodes);
        plan
    }

    fn node(&mut self, key: &Key, view: &View<'_>) -> Node {
        match key {
            Key::All => Node::Const(true),
            Key::Never => Node::Const(false),
            Key::Flag { bit, set } => Node::Flag(*bit, *set),
            Key::Keyword { name, set } => Node::Keyword((view.keyword)(name), *set),
            Key::Header { field, value } => Node::Header(field.clone(), value.clone()),
            Key::Body(s) => Node::Body(s.clone()),
            Key::Text(s) => Node::Text(s.clone()),
            Key::Date { sent, cmp, day } => {
                self.needs_date |= !sent;
                Node::Date(*sent, *cmp, *day)
            }
            Key::Larger(n) => {
                self.needs_size = true;
                Node::Larger(*n)
            }
            Key::Smaller(n) => {
                self.needs_size = true;
                Node::Smaller(*n)
            }
            Key::Uid(SeqArg::Set(s)) => Node::Uids(Ranges::of(s, view.largest_uid)),
            Key::Seq(SeqArg::Set(s)) => Node::Seqs(Ranges::of(s, view.largest_seq)),
            Key::Uid(SeqArg::Saved) | Key::Seq(SeqArg::Saved) => {
                // `$` is the saved messages, whichever way it is written (RFC 5182 §2.1).
                let mut uids: Vec<u32> = view.saved.to_vec();
                uids.retain(|u| (view.seq_of_uid)(*u).is_some());
                Node::Uids(Ranges::of_sorted(&uids))
            }
            Key::Not(k) => Node::Not(Box::new(self.node(k, view))),
            Key::Or(a, b) => Node::Or(Box::new(self.node(a, view)), Box::new(self.node(b, view))),
            Key::And(keys) => Node::And(keys.iter().map(|k| self.node(k, view)).collect()),
        }
    }

    /// Whether the message matches (`Unknown` while `facts.doc` is `None` and a text key
    /// decides).
    pub fn eval(&self, facts: &Facts<'_>) -> Tri {
        eval(&self.root, facts)
    }
}

fn eval(node: &Node, f: &Facts<'_>) -> Tri {
    match node {
        Node::Const(b) => Tri::of(*b),
        Node::Flag(bit, set) => Tri::of(f.flags.has(*bit) == *set),
        Node::Keyword(index, set) => {
            let has = index.is_some_and(|i| f.flags.keywords & (1 << i) != 0);
            Tri::of(has == *set)
        }
        Node::Larger(n) => Tri::of(f.size > *n),
        Node::Smaller(n) => Tri::of(f.size < *n),
        Node::Uids(r) => Tri::of(r.contains(f.uid)),
        Node::Seqs(r) => Tri::of(r.contains(f.seq)),
        Node::Date(false, cmp, day) => {
            Tri::of(compare(f.internal_date.div_euclid(86_400), *cmp, *day))
        }
        Node::Date(true, cmp, day) => match f.doc {
            None => Tri::Unknown,
            Some(doc) => Tri::of(sent_day(&doc.root()).is_some_and(|d| compare(d, *cmp, *day))),
        },
        Node::Header(field, value) => match f.doc {
            None => Tri::Unknown,
            Some(doc) => Tri::of(header_matches(&doc.root(), field, value)),
        },
        Node::Body(s) => match f.doc {
            None => Tri::Unknown,
            Some(doc) => Tri::of(body_matches(doc, s)),
        },
        Node::Text(s) => match f.doc {
            None => Tri::Unknown,
            Some(doc) => {
                let root = doc.root();
                Tri::of(
                    root.fields()
                        .any(|fl| contains(&fl.decoded(), s) || contains(&fl.name_str(), s))
                        || body_matches(doc, s),
                )
            }
        },
        Node::Not(k) => eval(k, f).not(),
        Node::Or(a, b) => match (eval(a, f), eval(b, f)) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        },
        Node::And(keys) => {
            let mut out = Tri::Yes;
            for k in keys {
                match eval(k, f) {
                    Tri::No => return Tri::No,
                    Tri::Unknown => out = Tri::Unknown,
                    Tri::Yes => {}
                }
            }
            out
        }
    }
}

fn compare(d: i64, cmp: DateCmp, day: i64) -> bool {
    match cmp {
        DateCmp::Before => d < day,
        DateCmp::On => d == day,
        DateCmp::Since => d >= day,
    }
}

/// The day of the Date field, in its own time zone (RFC 9051: "disregarding time and
/// timezone").
fn sent_day(m: &MessageView<'_>) -> Option<i64> {
    let d = m.date()?;
    Some(day_number(Date::new(d.year, d.month, d.day)?))
}

fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty() || haystack.to_lowercase().contains(needle)
}

fn header_matches(m: &MessageView<'_>, field: &str, value: &str) -> bool {
    m.fields().filter(|f| f.is(field)).any(|f| {
        value.is_empty() || contains(&f.decoded(), value) || contains(&f.unfolded(), value)
    })
}

/// The decoded text of the message's text parts (attached messages' too).
fn body_matches(doc: &Document, needle: &str) -> bool {
    let root = doc.root();
    for id in root.walk() {
        let Some(part) = doc.part(id) else { continue };
        if part.is_multipart() || part.is_message() {
            continue;
        }
        let (t, _) = part.mime_type_pair();
        if t != "text" {
            continue;
        }
        if let Some(text) = part.text()
            && contains(&text, needle)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_keys(s: &str) -> Vec<Key> {
        let mut c = Cursor::new(s.as_bytes());
        let mut keys = vec![key(&mut c, 0).unwrap()];
        while c.skip_space() {
            keys.push(key(&mut c, 0).unwrap());
        }
        keys
    }

    fn run(keys: &str, facts: &Facts<'_>) -> Tri {
        let keyword = |n: &str| (n.eq_ignore_ascii_case("$label")).then_some(1);
        let seq_of = |u: u32| Some(u);
        let view = View {
            largest_seq: 10,
            largest_uid: 100,
            saved: &[7, 8],
            keyword: &keyword,
            seq_of_uid: &seq_of,
        };
        Plan::new(&parse_keys(keys), &view).eval(facts)
    }

    #[test]
    fn cheap_keys_and_three_valued_logic() {
        let doc = Document::from_vec(
            b"From: Alice <alice@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Tue, 6 Feb 2024 23:30:00 -0500\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nH=C3=A9llo world\r\n"
                .to_vec(),
        );
        let mut f = Facts {
            seq: 3,
            uid: 7,
            flags: Flags {
                system: SEEN,
                keywords: 2,
                other: 0,
            },
            size: 500,
            internal_date: 1_707_264_000, // 2024-02-07 00:00 UTC
            doc: None,
        };
        assert_eq!(run("SEEN", &f), Tri::Yes);
        assert_eq!(run("UNSEEN FROM alice", &f), Tri::No);
        assert_eq!(run("SEEN FROM alice", &f), Tri::Unknown);
        assert_eq!(run("OR UNSEEN FROM alice", &f), Tri::Unknown);
        assert_eq!(run("OR SEEN FROM alice", &f), Tri::Yes);
        assert_eq!(run("KEYWORD $Label LARGER 499 SMALLER 501", &f), Tri::Yes);
        assert_eq!(run("UNKEYWORD $label", &f), Tri::No);
        assert_eq!(run("KEYWORD other", &f), Tri::No);
        assert_eq!(run("3 UID 7 2:4,9", &f), Tri::Yes);
        assert_eq!(run("UID 1:6", &f), Tri::No);
        assert_eq!(run("UID $", &f), Tri::Yes);
        assert_eq!(
            run("ON 7-Feb-2024 SINCE \"7-Feb-2024\" BEFORE 8-Feb-2024", &f),
            Tri::Yes
        );
        assert_eq!(run("BEFORE 7-Feb-2024", &f), Tri::No);
        assert_eq!(run("NOT (SEEN DELETED)", &f), Tri::Yes);
        assert_eq!(run("RECENT", &f), Tri::No);
        f.doc = Some(&doc);
        assert_eq!(run("FROM ALICE@example", &f), Tri::Yes);
        assert_eq!(run("SUBJECT grüße", &f), Tri::Yes);
        assert_eq!(run("BODY héllo", &f), Tri::Yes);
        assert_eq!(run("BODY absent", &f), Tri::No);
        assert_eq!(run("TEXT alice BODY WORLD", &f), Tri::Yes);
        assert_eq!(run("HEADER Content-Type \"\"", &f), Tri::Yes);
        assert_eq!(run("HEADER X-None \"\"", &f), Tri::No);
        // Sent on the 6th in its own zone (the 7th in UTC).
        assert_eq!(run("SENTON 6-Feb-2024", &f), Tri::Yes);
        assert_eq!(run("SENTBEFORE 6-Feb-2024", &f), Tri::No);
    }

    #[test]
    fn bad_keys() {
        for bad in [
            "BEFORE 31-Feb-2024",
            "LARGER x",
            "KEYWORD",
            "FOO",
            "OR SEEN",
            "UID 0",
        ] {
            let mut c = Cursor::new(bad.as_bytes());
            let r = key(&mut c, 0).and_then(|k| if c.at_end() { Ok(k) } else { c.error("end") });
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let r = Ranges::of(&"5:3,1,9:*,4".parse().unwrap(), 12);
        assert_eq!(r.0, [(1, 1), (3, 5), (9, 12)]);
        assert!(r.contains(4) && r.contains(12) && !r.contains(2) && !r.contains(13));
        assert_eq!(
            Ranges::of_sorted(&[1, 2, 3, 7, 7, 9]).0,
            [(1, 3), (7, 7), (9, 9)]
        );
    }
}
