//! SEARCH criteria (RFC 9051 §6.4.4): a small builder, or a string the caller writes,
//! checked so that it cannot end the command line or announce a literal.

use super::Error;
use super::command::{CommandBuilder, check_flag};
use super::sequence::SequenceSet;
use super::types::Date;

/// `NOT key`: `!SearchKey::Seen`.
impl std::ops::Not for SearchKey {
    type Output = SearchKey;
    fn not(self) -> SearchKey {
        SearchKey::Not(Box::new(self))
    }
}

/// A search key. Several keys in a list all have to match (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    Seen,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    /// IMAP4rev1 only.
    New,
    /// IMAP4rev1 only.
    Old,
    /// IMAP4rev1 only.
    Recent,
    Keyword(String),
    Unkeyword(String),
    Bcc(String),
    Body(String),
    Cc(String),
    From(String),
    Subject(String),
    Text(String),
    To(String),
    /// A header field containing a string (an empty string: the field is present).
    Header(String, String),
    /// Internal date before, on, since.
    Before(Date),
    On(Date),
    Since(Date),
    /// Date: header before, on, since.
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Larger(u64),
    Smaller(u64),
    Uid(SequenceSet),
    /// Message sequence numbers.
    Sequence(SequenceSet),
    /// MODSEQ (CONDSTORE): changed at or after this mod-sequence.
    ModSeq(u64),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    /// Parenthesised: all must match.
    And(Vec<SearchKey>),
    /// Criteria as the caller wrote them (`UNSEEN FROM "alice"`), checked for line breaks
    /// and literal announcements but otherwise sent as given.
    Raw(String),
}

impl SearchKey {
    pub fn or(a: SearchKey, b: SearchKey) -> SearchKey {
        SearchKey::Or(Box::new(a), Box::new(b))
    }

    /// Criteria written as text: refused if they hold CR, LF or NUL, or end in what a server
    /// would take for a literal's header (`{5}`), which would make it wait for data that is
    /// the next command.
    pub fn raw(text: &str) -> Result<SearchKey, Error> {
        check_raw(text)?;
        Ok(SearchKey::Raw(text.to_owned()))
    }

    /// Whether a string in the key is not US-ASCII (then the command needs CHARSET UTF-8,
    /// unless UTF8=ACCEPT is enabled).
    pub fn needs_utf8(&self) -> bool {
        use SearchKey::*;
        match self {
            Keyword(s) | Unkeyword(s) | Bcc(s) | Body(s) | Cc(s) | From(s) | Subject(s)
            | Text(s) | To(s) | Raw(s) => !s.is_ascii(),
            Header(a, b) => !a.is_ascii() || !b.is_ascii(),
            Not(k) => k.needs_utf8(),
            Or(a, b) => a.needs_utf8() || b.needs_utf8(),
            And(keys) => keys.iter().any(SearchKey::needs_utf8),
            _ => false,
        }
    }

    /// Write the key into a command.
    pub fn write(&self, b: &mut CommandBuilder) -> Result<(), Error> {
        use SearchKey::*;
        let string = |b: &mut CommandBuilder, word: &'static str, s: &str| -> Result<(), Error> {
            b.keyword(word).sp().astring(s.as_bytes())?;
            Ok(())
        };
        match self {
            All => {
                b.keyword("ALL");
            }
            Answered => {
                b.keyword("ANSWERED");
            }
            Deleted => {
                b.keyword("DELETED");
            }
            Draft => {
                b.keyword("DRAFT");
            }
            Flagged => {
                b.keyword("FLAGGED");
            }
            Seen => {
                b.keyword("SEEN");
            }
            Unanswered => {
                b.keyword("UNANSWERED");
            }
            Undeleted => {
                b.keyword("UNDELETED");
            }
            Undraft => {
                b.keyword("UNDRAFT");
            }
            Unflagged => {
                b.keyword("UNFLAGGED");
            }
            Unseen => {
                b.keyword("UNSEEN");
            }
            New => {
                b.keyword("NEW");
            }
            Old => {
                b.keyword("OLD");
            }
            Recent => {
                b.keyword("RECENT");
            }
            Keyword(k) | Unkeyword(k) => {
                if k.starts_with('\\') {
                    return Err(Error::Usage(format!("{k:?}: a keyword has no backslash")));
                }
                check_flag(k)?;
                b.keyword(if matches!(self, Keyword(_)) {
                    "KEYWORD "
                } else {
                    "UNKEYWORD "
                });
                b.atom(k)?;
            }
            Bcc(s) => string(b, "BCC", s)?,
            Body(s) => string(b, "BODY", s)?,
            Cc(s) => string(b, "CC", s)?,
            From(s) => string(b, "FROM", s)?,
            Subject(s) => string(b, "SUBJECT", s)?,
            Text(s) => string(b, "TEXT", s)?,
            To(s) => string(b, "TO", s)?,
            Header(name, value) => {
                b.keyword("HEADER").sp().astring(name.as_bytes())?;
                b.sp().astring(value.as_bytes())?;
            }
            Before(d) | On(d) | Since(d) | SentBefore(d) | SentOn(d) | SentSince(d) => {
                let word = match self {
                    Before(_) => "BEFORE",
                    On(_) => "ON",
                    Since(_) => "SINCE",
                    SentBefore(_) => "SENTBEFORE",
                    SentOn(_) => "SENTON",
                    _ => "SENTSINCE",
                };
                b.keyword(word).sp().checked_text(d.to_string().as_bytes());
            }
            Larger(n) => {
                b.keyword("LARGER").sp().number(*n);
            }
            Smaller(n) => {
                b.keyword("SMALLER").sp().number(*n);
            }
            Uid(set) => {
                b.keyword("UID").sp().sequence_set(set);
            }
            Sequence(set) => {
                b.sequence_set(set);
            }
            ModSeq(n) => {
                b.keyword("MODSEQ").sp().number(*n);
            }
            Not(k) => {
                b.keyword("NOT").sp();
                k.write(b)?;
            }
            Or(x, y) => {
                b.keyword("OR").sp();
                x.write(b)?;
                b.sp();
                y.write(b)?;
            }
            And(keys) => {
                if keys.is_empty() {
                    b.keyword("ALL");
                    return Ok(());
                }
                b.keyword("(");
                write_all(b, keys)?;
                b.keyword(")");
            }
            Raw(text) => {
                check_raw(text)?;
                b.checked_text(text.as_bytes());
            }
        }
        Ok(())
    }
}

/// Keys separated by spaces (all must match).
pub fn write_all(b: &mut CommandBuilder, keys: &[SearchKey]) -> Result<(), Error> {
    if keys.is_empty() {
        b.keyword("ALL");
    }
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            b.sp();
        }
        k.write(b)?;
    }
    Ok(())
}

fn check_raw(text: &str) -> Result<(), Error> {
    let t = text.trim_end_matches([' ', '\t']);
    if t.is_empty() {
        return Err(Error::Usage("empty search criteria".into()));
    }
    if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::Usage(
            "search criteria cannot contain CR, LF or NUL".into(),
        ));
    }
    if t.ends_with('}') {
        return Err(Error::Usage(
            "search criteria cannot end in '}' (a literal's header); quote the string".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::command::{Dialect, LiteralMode};

    fn wire(keys: &[SearchKey], literals: LiteralMode) -> Vec<Vec<u8>> {
        let mut b = CommandBuilder::new(
            "UID SEARCH",
            Dialect {
                literals,
                utf8: false,
                binary: false,
            },
        );
        b.sp();
        write_all(&mut b, keys).unwrap();
        b.build().parts
    }

    #[test]
    fn builder() {
        let keys = [
            SearchKey::Unseen,
            SearchKey::From("alice@example.org".into()),
            SearchKey::or(
                SearchKey::Subject("two words".into()),
                !SearchKey::Keyword("$Junk".into()),
            ),
            SearchKey::Since(Date::new(2024, 2, 1).unwrap()),
            SearchKey::Uid("1:100".parse().unwrap()),
            SearchKey::And(vec![
                SearchKey::Larger(10),
                SearchKey::Header("X-Spam".into(), String::new()),
            ]),
        ];
        assert_eq!(
            wire(&keys, LiteralMode::NonSync),
            vec![b"UID SEARCH UNSEEN FROM alice@example.org OR SUBJECT \"two words\" NOT KEYWORD $Junk SINCE 1-Feb-2024 UID 1:100 (LARGER 10 HEADER X-Spam \"\")\r\n".to_vec()]
        );
        assert_eq!(
            wire(&[], LiteralMode::NonSync),
            vec![b"UID SEARCH ALL\r\n".to_vec()]
        );
    }

    #[test]
    fn non_ascii_goes_as_literal() {
        let key = SearchKey::Subject("caf\u{e9}".into());
        assert!(key.needs_utf8() && !SearchKey::Subject("cafe".into()).needs_utf8());
        assert_eq!(
            wire(std::slice::from_ref(&key), LiteralMode::Synchronizing),
            vec![
                b"UID SEARCH SUBJECT {5}\r\n".to_vec(),
                "caf\u{e9}\r\n".as_bytes().to_vec()
            ]
        );
        assert_eq!(
            wire(&[key], LiteralMode::NonSync),
            vec![
                "UID SEARCH SUBJECT {5+}\r\ncaf\u{e9}\r\n"
                    .as_bytes()
                    .to_vec()
            ]
        );
    }

    #[test]
    fn raw_criteria_are_checked() {
        assert!(SearchKey::raw("UNSEEN FROM \"x\"").is_ok());
        for bad in [
            "",
            "  ",
            "ALL\r\nA2 LOGOUT",
            "SUBJECT {5}",
            "SUBJECT {5+} ",
            "A\0",
        ] {
            assert!(SearchKey::raw(bad).is_err(), "{bad:?}");
        }
        assert!(
            SearchKey::Keyword("\\Seen".into())
                .write(&mut CommandBuilder::new("X", Dialect::default()))
                .is_err()
        );
        assert!(
            SearchKey::Keyword("a b".into())
                .write(&mut CommandBuilder::new("X", Dialect::default()))
                .is_err()
        );
    }
}
