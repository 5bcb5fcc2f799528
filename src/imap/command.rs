//! Commands (RFC 9051 §6), built so that no argument can end the line or start another
//! command: every user value goes through a writer that picks an atom, a quoted string or a
//! literal, and refuses what no form can carry (NUL outside literal8). Literals are
//! non-synchronising (`{n+}`) when the server has LITERAL+ (or LITERAL- and the literal is at
//! most 4096 octets, RFC 7888); otherwise the command is cut after each `{n}` and the client
//! waits for the server's `+` before sending the rest.

use std::fmt;
use std::str::FromStr;

use super::Error;
use super::encode::{is_astring_atom, quotable, write_literal_header, write_quoted};
use super::fetch::canonical_section;
use super::lex::{is_atom_char, is_list_char};
use super::sequence::SequenceSet;
use super::types::{Capabilities, DateTime};
use super::utf7::encode_mailbox;
use crate::net::transcript::REDACTED;

/// LITERAL- (RFC 7888 §4): non-synchronising literals only up to this size.
pub const LITERAL_MINUS_MAX: usize = 4096;
/// Literal data longer than this is shown in transcripts by its size only.
pub const TRANSCRIPT_LITERAL_MAX: usize = 1024;

/// How literals are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralMode {
    /// `{n}`, and wait for `+` (every server).
    Synchronizing,
    /// LITERAL+: `{n+}` always.
    NonSync,
    /// LITERAL-: `{n+}` up to 4096 octets, `{n}` above.
    NonSyncSmall,
}

/// What the session allows when writing arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub literals: LiteralMode,
    /// UTF8=ACCEPT or IMAP4rev2 enabled: UTF-8 in quoted strings, mailbox names in UTF-8.
    pub utf8: bool,
    /// BINARY (RFC 3516): `~{n}` literal8 for data with NUL (APPEND).
    pub binary: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            literals: LiteralMode::Synchronizing,
            utf8: false,
            binary: false,
        }
    }
}

impl Dialect {
    /// The dialect for a server with these capabilities, with UTF-8 enabled or not.
    pub fn for_server(caps: &Capabilities, utf8: bool) -> Dialect {
        let literals = if caps.has("LITERAL+") {
            LiteralMode::NonSync
        } else if caps.has("LITERAL-") || caps.has("IMAP4rev2") {
            // RFC 9051 §2.2.2: IMAP4rev2 includes LITERAL-.
            LiteralMode::NonSyncSmall
        } else {
            LiteralMode::Synchronizing
        };
        Dialect {
            literals,
            utf8,
            binary: caps.has("BINARY"),
        }
    }
}

/// A command ready to send, without its tag. Each part but the last ends with a
/// synchronising literal's header: after it the client waits for `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command's name, for messages (`UID FETCH`).
    pub name: String,
    pub parts: Vec<Vec<u8>>,
    /// The command as a transcript shows it: credentials redacted, long literals elided.
    pub shown: String,
}

impl Command {
    /// The whole command as one byte string (all literals in line), after `tag` and a space.
    pub fn to_bytes(&self, tag: &str) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(tag.len() + 1 + self.parts.iter().map(Vec::len).sum::<usize>());
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Builds one command, argument by argument.
pub struct CommandBuilder {
    dialect: Dialect,
    name: String,
    parts: Vec<Vec<u8>>,
    current: Vec<u8>,
    shown: Vec<u8>,
}

impl CommandBuilder {
    /// Start a command; `name` is written as given (a fixed keyword, never user input).
    pub fn new(name: &str, dialect: Dialect) -> Self {
        CommandBuilder {
            dialect,
            name: name.to_owned(),
            parts: Vec::new(),
            current: name.as_bytes().to_vec(),
            shown: name.as_bytes().to_vec(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn push(&mut self, bytes: &[u8]) {
        self.current.extend_from_slice(bytes);
        self.shown.extend_from_slice(bytes);
    }

    /// A space.
    pub fn sp(&mut self) -> &mut Self {
        self.push(b" ");
        self
    }

    /// Fixed protocol text (keywords, parentheses): never user input.
    pub fn keyword(&mut self, text: &'static str) -> &mut Self {
        self.push(text.as_bytes());
        self
    }

    /// A number.
    pub fn number(&mut self, n: u64) -> &mut Self {
        self.push(n.to_string().as_bytes());
        self
    }

    /// An atom from a caller (a capability name, a SEARCH RETURN option): 1*ATOM-CHAR, 7-bit.
    pub fn atom(&mut self, atom: &str) -> Result<&mut Self, Error> {
        if atom.is_empty() || !atom.bytes().all(|b| b < 0x80 && is_atom_char(b)) {
            return Err(usage(format!("{atom:?} is not an IMAP atom")));
        }
        self.push(atom.as_bytes());
        Ok(self)
    }

    /// A sequence set.
    pub fn sequence_set(&mut self, set: &SequenceSet) -> &mut Self {
        self.push(set.to_string().as_bytes());
        self
    }

    /// A date-time, quoted.
    pub fn date_time(&mut self, dt: &DateTime) -> &mut Self {
        self.push(format!("\"{dt}\"").as_bytes());
        self
    }

    fn literal_inner(&mut self, data: &[u8], binary: bool, secret: bool) {
        let non_sync = match self.dialect.literals {
            LiteralMode::NonSync => true,
            LiteralMode::NonSyncSmall => data.len() <= LITERAL_MINUS_MAX,
            LiteralMode::Synchronizing => false,
        };
        let mut header = Vec::new();
        write_literal_header(&mut header, data.len(), non_sync, binary);
        self.push(&header);
        if !non_sync {
            self.parts.push(std::mem::take(&mut self.current));
        }
        self.current.extend_from_slice(data);
        if secret {
            self.shown.extend_from_slice(REDACTED.as_bytes());
        } else if data.len() > TRANSCRIPT_LITERAL_MAX {
            self.shown
                .extend_from_slice(format!("[{} octets]", data.len()).as_bytes());
        } else {
            self.shown.extend_from_slice(data);
        }
    }

    /// A literal (literal8 with `binary`, which needs the BINARY capability).
    pub fn literal(&mut self, data: &[u8], binary: bool) -> Result<&mut Self, Error> {
        if binary && !self.dialect.binary {
            return Err(Error::NotSupported(
                "data with NUL octets needs the server's BINARY extension".into(),
            ));
        }
        if !binary && data.contains(&0) {
            return Err(usage("a literal cannot carry NUL octets"));
        }
        self.literal_inner(data, binary, false);
        Ok(self)
    }

    fn string_inner(&mut self, s: &[u8], secret: bool) -> Result<&mut Self, Error> {
        if s.contains(&0) {
            return Err(usage("an IMAP string cannot contain NUL"));
        }
        if quotable(s, self.dialect.utf8) {
            let mut q = Vec::new();
            write_quoted(&mut q, s);
            self.current.extend_from_slice(&q);
            if secret {
                self.shown.extend_from_slice(REDACTED.as_bytes());
            } else {
                self.shown.extend_from_slice(&q);
            }
        } else {
            self.literal_inner(s, false, secret);
        }
        Ok(self)
    }

    /// A string: quoted when it can be, else a literal.
    pub fn string(&mut self, s: &[u8]) -> Result<&mut Self, Error> {
        self.string_inner(s, false)
    }

    /// An astring: an atom when it is one, else a string.
    pub fn astring(&mut self, s: &[u8]) -> Result<&mut Self, Error> {
        if is_astring_atom(s) {
            self.push(s);
            Ok(self)
        } else {
            self.string_inner(s, false)
        }
    }

    /// An astring carrying a credential: sent as needed, shown redacted.
    pub fn secret(&mut self, s: &[u8]) -> Result<&mut Self, Error> {
        if is_astring_atom(s) {
            self.current.extend_from_slice(s);
            self.shown.extend_from_slice(REDACTED.as_bytes());
            Ok(self)
        } else {
            self.string_inner(s, true)
        }
    }

    /// Raw octets carrying a credential (a SASL initial response, already base64).
    pub fn secret_atom(&mut self, s: &str) -> Result<&mut Self, Error> {
        if s.is_empty() || !s.bytes().all(|b| b < 0x80 && is_atom_char(b)) {
            return Err(usage("bad SASL response"));
        }
        self.current.extend_from_slice(s.as_bytes());
        self.shown.extend_from_slice(REDACTED.as_bytes());
        Ok(self)
    }

    /// A mailbox name (modified UTF-7 or UTF-8 by the dialect). `INBOX` in any case is
    /// sent as `INBOX` (RFC 9051 §5.1: it is case-insensitive).
    pub fn mailbox(&mut self, name: &str) -> Result<&mut Self, Error> {
        if name.is_empty() {
            return Err(usage("a mailbox name cannot be empty"));
        }
        if name.eq_ignore_ascii_case("INBOX") {
            self.push(b"INBOX");
            return Ok(self);
        }
        let wire = encode_mailbox(name, self.dialect.utf8);
        self.astring(&wire)
    }

    /// A LIST pattern (`%` and `*` are wildcards).
    pub fn list_pattern(&mut self, pattern: &str) -> Result<&mut Self, Error> {
        let wire = encode_mailbox(pattern, self.dialect.utf8);
        if !wire.is_empty() && wire.iter().all(|&b| b < 0x80 && is_list_char(b)) {
            self.push(&wire);
            Ok(self)
        } else {
            self.string(&wire)
        }
    }

    /// `(flag flag ...)`, each checked to be a flag (`\Seen`) or a keyword atom (`$Junk`).
    pub fn flag_list(&mut self, flags: &[&str]) -> Result<&mut Self, Error> {
        for f in flags {
            check_flag(f)?;
        }
        self.push(b"(");
        self.push(flags.join(" ").as_bytes());
        self.push(b")");
        Ok(self)
    }

    /// Octets already checked by the caller to be safe protocol text (a search criterion
    /// given as a string; see [`super::search`]).
    pub(crate) fn checked_text(&mut self, text: &[u8]) -> &mut Self {
        self.push(text);
        self
    }

    pub fn build(mut self) -> Command {
        self.current.extend_from_slice(b"\r\n");
        self.parts.push(self.current);
        Command {
            name: self.name,
            parts: self.parts,
            shown: String::from_utf8_lossy(&self.shown).into_owned(),
        }
    }
}

/// A flag or keyword that can go in a flag list: `\` and an atom, or an atom.
pub fn check_flag(flag: &str) -> Result<(), Error> {
    let atom = flag.strip_prefix('\\').unwrap_or(flag);
    if atom.is_empty() || !atom.bytes().all(|b| b < 0x80 && is_atom_char(b)) {
        return Err(usage(format!("{flag:?} is not an IMAP flag or keyword")));
    }
    Ok(())
}

/// A FETCH data item to ask for (RFC 9051 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    Uid,
    Flags,
    InternalDate,
    /// RFC822.SIZE.
    Size,
    Envelope,
    BodyStructure,
    /// BODY: the body structure without extension data.
    Body,
    /// MODSEQ (CONDSTORE).
    ModSeq,
    /// `BODY[section]<start.length>`, or `BODY.PEEK[...]` (which leaves `\Seen` alone).
    Section {
        section: String,
        peek: bool,
        partial: Option<(u32, u32)>,
    },
    /// `BINARY[section]<start.length>` (RFC 3516): decoded content.
    Binary {
        section: String,
        peek: bool,
        partial: Option<(u32, u32)>,
    },
    /// `BINARY.SIZE[section]`.
    BinarySize(String),
    /// Any other item by name (`EMAILID`, `X-GM-LABELS`, `PREVIEW`): one atom.
    Other(String),
}

impl FetchAttribute {
    /// `BODY.PEEK[]`: the whole message, without setting `\Seen`.
    pub fn whole_message() -> Self {
        FetchAttribute::Section {
            section: String::new(),
            peek: true,
            partial: None,
        }
    }

    /// The FETCH macros ALL, FAST, FULL (RFC 9051 §6.4.5).
    pub fn macro_items(name: &str) -> Option<Vec<FetchAttribute>> {
        use FetchAttribute::*;
        let fast = vec![Flags, InternalDate, Size];
        Some(match name.to_ascii_uppercase().as_str() {
            "FAST" => fast,
            "ALL" => [fast, vec![Envelope]].concat(),
            "FULL" => [fast, vec![Envelope, Body]].concat(),
            _ => return None,
        })
    }

    /// Whether the server's responses will carry a body section literal.
    pub fn is_section(&self) -> bool {
        matches!(
            self,
            FetchAttribute::Section { .. } | FetchAttribute::Binary { .. }
        )
    }
}

impl fmt::Display for FetchAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FetchAttribute::*;
        let sectioned = |f: &mut fmt::Formatter<'_>,
                         name: &str,
                         section: &str,
                         peek: bool,
                         partial: &Option<(u32, u32)>| {
            write!(f, "{name}{}[{section}]", if peek { ".PEEK" } else { "" })?;
            if let Some((start, len)) = partial {
                write!(f, "<{start}.{len}>")?;
            }
            Ok(())
        };
        match self {
            Uid => f.write_str("UID"),
            Flags => f.write_str("FLAGS"),
            InternalDate => f.write_str("INTERNALDATE"),
            Size => f.write_str("RFC822.SIZE"),
            Envelope => f.write_str("ENVELOPE"),
            BodyStructure => f.write_str("BODYSTRUCTURE"),
            Body => f.write_str("BODY"),
            ModSeq => f.write_str("MODSEQ"),
            Section {
                section,
                peek,
                partial,
            } => sectioned(f, "BODY", section, *peek, partial),
            Binary {
                section,
                peek,
                partial,
            } => sectioned(f, "BINARY", section, *peek, partial),
            BinarySize(section) => write!(f, "BINARY.SIZE[{section}]"),
            Other(name) => f.write_str(name),
        }
    }
}

/// Parse an item as written in a FETCH command: `FLAGS`, `BODY.PEEK[HEADER]<0.100>`,
/// `rfc822.size`. The section is checked and put in canonical form, so nothing but a valid
/// item can reach the wire.
impl FromStr for FetchAttribute {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        use FetchAttribute::*;
        let bad = || usage(format!("{s:?} is not a FETCH item"));
        let (head, bracket) = match s.find('[') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let head_upper = head.to_ascii_uppercase();
        let Some(rest) = bracket else {
            return Ok(match head_upper.as_str() {
                "UID" => Uid,
                "FLAGS" => Flags,
                "INTERNALDATE" => InternalDate,
                "RFC822.SIZE" => Size,
                "ENVELOPE" => Envelope,
                "BODYSTRUCTURE" => BodyStructure,
                "BODY" => Body,
                "MODSEQ" => ModSeq,
                "RFC822" => Section {
                    section: String::new(),
                    peek: false,
                    partial: None,
                },
                "RFC822.HEADER" => Section {
                    section: "HEADER".into(),
                    peek: true,
                    partial: None,
                },
                "RFC822.TEXT" => Section {
                    section: "TEXT".into(),
                    peek: false,
                    partial: None,
                },
                _ if !head.is_empty() && head.bytes().all(|b| b < 0x80 && is_atom_char(b)) => {
                    Other(head_upper)
                }
                _ => return Err(bad()),
            });
        };
        let close = rest.rfind(']').ok_or_else(bad)?;
        let section = canonical_section(&rest[..close]).map_err(|_| bad())?;
        let tail = &rest[close + 1..];
        let partial = if tail.is_empty() {
            None
        } else {
            let inner = tail
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .ok_or_else(bad)?;
            let (a, b) = inner.split_once('.').ok_or_else(bad)?;
            let start: u32 = a.parse().map_err(|_| bad())?;
            let len: u32 = b.parse().map_err(|_| bad())?;
            if len == 0
                || !a.bytes().all(|c| c.is_ascii_digit())
                || !b.bytes().all(|c| c.is_ascii_digit())
            {
                return Err(bad());
            }
            Some((start, len))
        };
        Ok(match head_upper.as_str() {
            "BODY" => Section {
                section,
                peek: false,
                partial,
            },
            "BODY.PEEK" => Section {
                section,
                peek: true,
                partial,
            },
            "BINARY" => Binary {
                section,
                peek: false,
                partial,
            },
            "BINARY.PEEK" => Binary {
                section,
                peek: true,
                partial,
            },
            "BINARY.SIZE" if partial.is_none() => BinarySize(section),
            _ => return Err(bad()),
        })
    }
}

/// `(item item ...)` for a FETCH command.
pub fn fetch_items(b: &mut CommandBuilder, items: &[FetchAttribute]) -> Result<(), Error> {
    if items.is_empty() {
        return Err(usage("FETCH needs at least one item"));
    }
    let text: Vec<String> = items.iter().map(ToString::to_string).collect();
    let joined = text.join(" ");
    if joined.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(usage("bad FETCH item"));
    }
    b.keyword("(").checked_text(joined.as_bytes()).keyword(")");
    Ok(())
}

/// STATUS data items (RFC 9051 §6.3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    /// IMAP4rev1 only.
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// IMAP4rev2.
    Deleted,
    /// IMAP4rev2, or STATUS=SIZE.
    Size,
    /// CONDSTORE.
    HighestModSeq,
}

impl StatusItem {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
        }
    }
}

impl FromStr for StatusItem {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        [
            StatusItem::Messages,
            StatusItem::Recent,
            StatusItem::UidNext,
            StatusItem::UidValidity,
            StatusItem::Unseen,
            StatusItem::Deleted,
            StatusItem::Size,
            StatusItem::HighestModSeq,
        ]
        .into_iter()
        .find(|i| i.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| usage(format!("{s:?} is not a STATUS item")))
    }
}

/// `(item item ...)` of STATUS.
pub fn status_items(b: &mut CommandBuilder, items: &[StatusItem]) {
    b.keyword("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            b.sp();
        }
        b.keyword(item.as_str());
    }
    b.keyword(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialect(literals: LiteralMode) -> Dialect {
        Dialect {
            literals,
            utf8: false,
            binary: false,
        }
    }

    #[test]
    fn login_arguments_cannot_inject() {
        // A password with CRLF and a second command: it must go as a literal, never a line.
        let mut b = CommandBuilder::new("LOGIN", dialect(LiteralMode::Synchronizing));
        b.sp()
            .astring(b"fred")
            .unwrap()
            .sp()
            .secret(b"x\r\nA2 DELETE INBOX")
            .unwrap();
        let cmd = b.build();
        assert_eq!(
            cmd.parts,
            vec![
                b"LOGIN fred {18}\r\n".to_vec(),
                b"x\r\nA2 DELETE INBOX\r\n".to_vec()
            ]
        );
        assert_eq!(cmd.shown, "LOGIN fred {18}\r\n********");
        let mut b = CommandBuilder::new("LOGIN", dialect(LiteralMode::NonSync));
        b.sp()
            .astring(b"fred smith")
            .unwrap()
            .sp()
            .secret(b"p\"w")
            .unwrap();
        let cmd = b.build();
        assert_eq!(
            cmd.to_bytes("A1"),
            b"A1 LOGIN \"fred smith\" \"p\\\"w\"\r\n"
        );
        assert_eq!(cmd.shown, "LOGIN \"fred smith\" ********");
        let mut b = CommandBuilder::new("LOGIN", dialect(LiteralMode::NonSync));
        assert!(b.astring(b"a\0b").is_err());
    }

    #[test]
    fn literal_modes() {
        let big = vec![b'x'; 5000];
        let mut b = CommandBuilder::new("APPEND", dialect(LiteralMode::NonSyncSmall));
        b.sp()
            .mailbox("INBOX")
            .unwrap()
            .sp()
            .literal(b"small", false)
            .unwrap();
        assert_eq!(
            b.build().parts,
            vec![b"APPEND INBOX {5+}\r\nsmall\r\n".to_vec()]
        );
        let mut b = CommandBuilder::new("APPEND", dialect(LiteralMode::NonSyncSmall));
        b.sp()
            .mailbox("INBOX")
            .unwrap()
            .sp()
            .literal(&big, false)
            .unwrap();
        let cmd = b.build();
        assert_eq!(cmd.parts.len(), 2);
        assert_eq!(cmd.parts[0], b"APPEND INBOX {5000}\r\n");
        assert_eq!(cmd.shown, "APPEND INBOX {5000}\r\n[5000 octets]");
        let mut b = CommandBuilder::new("APPEND", dialect(LiteralMode::NonSync));
        assert!(matches!(
            b.literal(b"a\0", true),
            Err(Error::NotSupported(_))
        ));
        assert!(matches!(b.literal(b"a\0", false), Err(Error::Usage(_))));
        let mut b = CommandBuilder::new(
            "APPEND",
            Dialect {
                binary: true,
                ..dialect(LiteralMode::NonSync)
            },
        );
        b.sp().literal(b"a\0", true).unwrap();
        assert_eq!(b.build().parts, vec![b"APPEND ~{2+}\r\na\0\r\n".to_vec()]);
    }

    #[test]
    fn mailboxes_and_patterns() {
        let mut b = CommandBuilder::new("SELECT", dialect(LiteralMode::NonSync));
        b.sp()
            .mailbox("inbox")
            .unwrap()
            .sp()
            .mailbox("Entw\u{fc}rfe")
            .unwrap()
            .sp()
            .mailbox("a b")
            .unwrap();
        assert_eq!(b.build().parts[0], b"SELECT INBOX Entw&APw-rfe \"a b\"\r\n");
        let mut b = CommandBuilder::new(
            "SELECT",
            Dialect {
                utf8: true,
                ..dialect(LiteralMode::NonSync)
            },
        );
        b.sp().mailbox("Entw\u{fc}rfe").unwrap();
        assert_eq!(
            b.build().parts[0],
            "SELECT \"Entw\u{fc}rfe\"\r\n".as_bytes()
        );
        let mut b = CommandBuilder::new("LIST", dialect(LiteralMode::NonSync));
        b.sp()
            .string(b"")
            .unwrap()
            .sp()
            .list_pattern("%/Sent*")
            .unwrap()
            .sp()
            .list_pattern("a b*")
            .unwrap();
        assert_eq!(b.build().parts[0], b"LIST \"\" %/Sent* \"a b*\"\r\n");
        assert!(
            CommandBuilder::new("X", Dialect::default())
                .mailbox("")
                .is_err()
        );
    }

    #[test]
    fn flags_are_checked() {
        let mut b = CommandBuilder::new("STORE", Dialect::default());
        b.sp().flag_list(&["\\Seen", "$Junk"]).unwrap();
        assert_eq!(b.build().parts[0], b"STORE (\\Seen $Junk)\r\n");
        for bad in [
            "",
            "\\",
            "a b",
            "x)",
            "\\Seen\r\nA2 LOGOUT",
            "a\"",
            "caf\u{e9}",
        ] {
            assert!(check_flag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fetch_attributes() {
        for (given, wire) in [
            ("flags", "FLAGS"),
            ("BODY.PEEK[]", "BODY.PEEK[]"),
            (
                "body.peek[header.fields (subject from)]<0.100>",
                "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.100>",
            ),
            ("BINARY[1.2]", "BINARY[1.2]"),
            ("BINARY.SIZE[1]", "BINARY.SIZE[1]"),
            ("rfc822.size", "RFC822.SIZE"),
            ("x-gm-labels", "X-GM-LABELS"),
            ("RFC822.HEADER", "BODY.PEEK[HEADER]"),
        ] {
            assert_eq!(
                given.parse::<FetchAttribute>().unwrap().to_string(),
                wire,
                "{given}"
            );
        }
        for bad in [
            "",
            "BODY[",
            "BODY[]<1>",
            "BODY[]<0.0>",
            "BODY[HEADER\r\n]",
            "FLAGS)",
            "BODY[1]x",
            "FOO BAR",
            "BINARY.SIZE[1]<0.1>",
        ] {
            assert!(bad.parse::<FetchAttribute>().is_err(), "{bad:?}");
        }
        let mut b = CommandBuilder::new("UID FETCH", Dialect::default());
        b.sp().sequence_set(&"1:*".parse().unwrap()).sp();
        fetch_items(&mut b, &FetchAttribute::macro_items("all").unwrap()).unwrap();
        assert_eq!(
            b.build().parts[0],
            b"UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\r\n"
        );
    }

    #[test]
    fn dialect_from_capabilities() {
        let caps = |s: &str| Capabilities::new(s.split(' ').map(String::from));
        assert_eq!(
            Dialect::for_server(&caps("IMAP4rev1 LITERAL+"), false).literals,
            LiteralMode::NonSync
        );
        assert_eq!(
            Dialect::for_server(&caps("IMAP4rev1 LITERAL-"), false).literals,
            LiteralMode::NonSyncSmall
        );
        assert_eq!(
            Dialect::for_server(&caps("IMAP4rev2"), false).literals,
            LiteralMode::NonSyncSmall
        );
        assert_eq!(
            Dialect::for_server(&caps("IMAP4rev1"), false).literals,
            LiteralMode::Synchronizing
        );
    }
}
