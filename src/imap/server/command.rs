//! Client commands (RFC 9051 §6, with RFC 3501's IMAP4rev1 forms) parsed from one complete
//! frame (see [`crate::imap::frame`], `Side::Commands`): no I/O here. The cursor bounds list
//! nesting; SEARCH's `NOT`/`OR` recursion is bounded too, so no input can exhaust the stack.

use std::borrow::Cow;

use super::search::{self, Key};
use crate::imap::command::StatusItem;
use crate::imap::fetch::section_spec;
use crate::imap::lex::{Cursor, ParseError, is_atom_char};
use crate::imap::response::id_params;
use crate::imap::sequence::SequenceSet;
use crate::imap::types::{DateTime, IdFields};

/// A sequence set as a command gives it: numbers, or `$` (the saved SEARCH result, RFC 5182).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeqArg {
    Set(SequenceSet),
    Saved,
}

/// A body section (RFC 9051 §6.4.5): part numbers, then what of the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: SectionText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// The whole part (or message).
    Full,
    Header,
    /// `HEADER.FIELDS` (`not`: `.NOT`), names in upper case.
    Fields {
        not: bool,
        names: Vec<String>,
    },
    Text,
    Mime,
}

impl Section {
    /// Read the canonical form [`section_spec`] gives.
    fn from_canonical(spec: &str) -> Section {
        let mut part = Vec::new();
        let mut rest = spec;
        loop {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                break;
            }
            part.push(rest[..digits].parse().unwrap_or(u32::MAX));
            rest = &rest[digits..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        let text = if rest.is_empty() {
            SectionText::Full
        } else if rest == "HEADER" {
            SectionText::Header
        } else if rest == "TEXT" {
            SectionText::Text
        } else if rest == "MIME" {
            SectionText::Mime
        } else {
            let not = rest.starts_with("HEADER.FIELDS.NOT");
            let names = rest
                .split_once('(')
                .map(|(_, n)| n.trim_end_matches(')'))
                .unwrap_or("")
                .split(' ')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            SectionText::Fields { not, names }
        };
        Section { part, text }
    }
}

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Uid,
    Flags,
    InternalDate,
    Rfc822Size,
    Envelope,
    /// BODY (no extension data).
    Body,
    BodyStructure,
    /// `BODY[...]`, `BINARY[...]`, and the RFC822 forms.
    Section {
        section: Section,
        /// The name in the response: `BODY[HEADER]`, `RFC822.TEXT`, `BINARY[1]`.
        label: String,
        peek: bool,
        binary: bool,
        /// `<start.length>`.
        partial: Option<(u32, u32)>,
    },
    BinarySize {
        section: Section,
        label: String,
    },
}

/// LIST selection and return options (RFC 5258, RFC 5819, RFC 6154).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub extended: bool,
    pub subscribed: bool,
    pub recursive_match: bool,
    pub special_use: bool,
    pub return_subscribed: bool,
    pub return_children: bool,
    pub return_special_use: bool,
    pub return_status: Option<Vec<StatusItem>>,
}

/// `+FLAGS`, `-FLAGS` or `FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// ESEARCH return options (RFC 4731, RFC 5182).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

/// A command without its tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Capability,
    Noop,
    Logout,
    StartTls,
    Authenticate {
        mechanism: String,
        /// The initial response (SASL-IR), base64 as sent (`=` for empty).
        initial: Option<Vec<u8>>,
    },
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
    },
    Enable(Vec<String>),
    Id(Option<IdFields>),
    Select {
        mailbox: Vec<u8>,
        read_only: bool,
    },
    Create(Vec<u8>),
    Delete(Vec<u8>),
    Rename {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Subscribe(Vec<u8>),
    Unsubscribe(Vec<u8>),
    List {
        reference: Vec<u8>,
        patterns: Vec<Vec<u8>>,
        options: ListOptions,
    },
    Lsub {
        reference: Vec<u8>,
        pattern: Vec<u8>,
    },
    Namespace,
    Status {
        mailbox: Vec<u8>,
        items: Vec<StatusItem>,
    },
    /// APPEND whose message is in the frame (the session streams large ones itself).
    Append {
        mailbox: Vec<u8>,
        flags: Vec<String>,
        date: Option<DateTime>,
        message: Vec<u8>,
    },
    Idle,
    Check,
    Close,
    Unselect,
    Expunge {
        uids: Option<SeqArg>,
    },
    Search {
        uid: bool,
        charset: Option<String>,
        keys: Vec<Key>,
        returns: Option<SearchReturn>,
    },
    Fetch {
        uid: bool,
        set: SeqArg,
        items: Vec<FetchItem>,
        /// Any item reads a body section without `.PEEK` (so `\Seen` is set).
        sets_seen: bool,
    },
    Store {
        uid: bool,
        set: SeqArg,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    },
    Copy {
        uid: bool,
        set: SeqArg,
        mailbox: Vec<u8>,
    },
    Move {
        uid: bool,
        set: SeqArg,
        mailbox: Vec<u8>,
    },
}

impl Command {
    /// The name, for messages.
    pub fn name(&self) -> &'static str {
        use Command::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Enable(_) => "ENABLE",
            Id(_) => "ID",
            Select {
                read_only: false, ..
            } => "SELECT",
            Select { .. } => "EXAMINE",
            Create(_) => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List { .. } => "LIST",
            Lsub { .. } => "LSUB",
            Namespace => "NAMESPACE",
            Status { .. } => "STATUS",
            Append { .. } => "APPEND",
            Idle => "IDLE",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            Expunge { .. } => "EXPUNGE",
            Search { .. } => "SEARCH",
            Fetch { .. } => "FETCH",
            Store { .. } => "STORE",
            Copy { .. } => "COPY",
            Move { .. } => "MOVE",
        }
    }
}

/// A command that could not be parsed: the tag if it was readable (then the answer is a
/// tagged BAD, else `* BAD`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCommand {
    pub tag: Option<String>,
    pub text: String,
}

/// Parse one complete command frame (line end included).
pub fn parse(frame: &[u8]) -> Result<(String, Command), BadCommand> {
    let mut c = Cursor::new(frame);
    let tag = match c.tag() {
        Ok(t) if c.peek() == Some(b' ') => String::from_utf8_lossy(t).into_owned(),
        _ => {
            return Err(BadCommand {
                tag: None,
                text: "Error in IMAP command received by server.".into(),
            });
        }
    };
    let bad = |e: ParseError| BadCommand {
        tag: Some(tag.clone()),
        text: match e {
            ParseError::Syntax { expected, .. } => {
                format!("Error in IMAP command: expected {expected}")
            }
            other => format!("Error in IMAP command: {other}"),
        },
    };
    let command = command(&mut c).map_err(bad)?;
    c.end().map_err(bad)?;
    Ok((tag, command))
}

/// The tag of a frame, if one can be read (for answers to frames that are too big to parse).
pub fn tag_of(frame: &[u8]) -> Option<String> {
    let mut c = Cursor::new(frame);
    let t = c.tag().ok()?;
    (c.peek() == Some(b' ')).then(|| String::from_utf8_lossy(t).into_owned())
}

/// What precedes an APPEND's message literal: `tag APPEND mailbox [flags] [date-time] {n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendHead {
    pub tag: String,
    pub mailbox: Vec<u8>,
    pub flags: Vec<String>,
    pub date: Option<DateTime>,
}

/// Read the start of an APPEND up to and including its literal's header (`None` if the
/// frame is not an APPEND whose next item is the message). The session streams the message.
pub fn append_head(head: &[u8]) -> Option<Result<AppendHead, BadCommand>> {
    let mut c = Cursor::new(head);
    let tag = c.tag().ok()?;
    let tag = String::from_utf8_lossy(tag).into_owned();
    c.sp().ok()?;
    if !c.eat_keyword("APPEND") {
        return None;
    }
    let result = (|| {
        let (mailbox, flags, date) = append_args(&mut c)?;
        // The message: the literal's header ends the head.
        if c.literal_header()?.is_none() || !c.at_end() {
            return c.error("the message as a literal");
        }
        Ok(AppendHead {
            tag: tag.clone(),
            mailbox,
            flags,
            date,
        })
    })();
    Some(result.map_err(|e: ParseError| BadCommand {
        tag: Some(tag.clone()),
        text: format!("Error in IMAP command APPEND: {e}"),
    }))
}

fn mailbox(c: &mut Cursor<'_>) -> Result<Vec<u8>, ParseError> {
    Ok(c.astring()?.into_owned())
}

/// An APPEND's mailbox, flags and date.
type AppendArgs = (Vec<u8>, Vec<String>, Option<DateTime>);

/// What APPEND gives before its message, with the spaces around: ` mailbox [flags] [date] `.
fn append_args(c: &mut Cursor<'_>) -> Result<AppendArgs, ParseError> {
    c.sp()?;
    let mailbox = mailbox(c)?;
    c.sp()?;
    let mut flags = Vec::new();
    if c.peek() == Some(b'(') {
        flags = c.flag_list()?;
        c.sp()?;
    }
    let mut date = None;
    if c.peek() == Some(b'"') {
        date = Some(c.date_time()?);
        c.sp()?;
    }
    Ok((mailbox, flags, date))
}

fn command(c: &mut Cursor<'_>) -> Result<Command, ParseError> {
    c.sp()?;
    let word = c.take_while(|b| is_atom_char(b) && b != b'[');
    let word = String::from_utf8_lossy(word).to_ascii_uppercase();
    let uid = word == "UID";
    let word = if uid {
        c.sp()?;
        let w = c.take_while(is_atom_char);
        String::from_utf8_lossy(w).to_ascii_uppercase()
    } else {
        word
    };
    if uid
        && !matches!(
            word.as_str(),
            "FETCH" | "STORE" | "SEARCH" | "COPY" | "MOVE" | "EXPUNGE"
        )
    {
        return c.error("FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE after UID");
    }
    Ok(match word.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring()?.into_owned();
            c.sp()?;
            let password = c.astring()?.into_owned();
            Command::Login { user, password }
        }
        "AUTHENTICATE" => {
            c.sp()?;
            let mechanism = c.keyword()?;
            let initial = if c.peek() == Some(b' ') && c.peek_past_space() != Some(b'\r') {
                c.sp()?;
                let ir = c.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                if ir.is_empty() {
                    return c.error("a base64 initial response");
                }
                Some(ir.to_vec())
            } else {
                None
            };
            Command::Authenticate { mechanism, initial }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.peek() == Some(b' ') {
                c.sp()?;
                if c.at_line_end() {
                    break;
                }
                caps.push(c.keyword()?);
            }
            if caps.is_empty() {
                return c.error("a capability to enable");
            }
            Command::Enable(caps)
        }
        "ID" => {
            c.sp()?;
            Command::Id(id_params(c)?)
        }
        "SELECT" | "EXAMINE" => {
            c.sp()?;
            let mailbox = mailbox(c)?;
            if c.peek() == Some(b' ') && c.peek_past_space() == Some(b'(') {
                c.sp()?;
                // Select parameters (CONDSTORE, QRESYNC): none are supported.
                let mut any = false;
                c.list(|c| {
                    c.atom()?;
                    any = true;
                    Ok(())
                })?;
                if any {
                    return c.error("no SELECT parameters (none are supported)");
                }
            }
            Command::Select {
                mailbox,
                read_only: word == "EXAMINE",
            }
        }
        "CREATE" => {
            c.sp()?;
            let m = mailbox(c)?;
            if c.peek() == Some(b' ') && c.peek_past_space() == Some(b'(') {
                // CREATE-SPECIAL-USE parameters: accepted and ignored (the names decide).
                c.sp()?;
                crate::imap::fetch::value(c)?;
            }
            Command::Create(m)
        }
        "DELETE" => {
            c.sp()?;
            Command::Delete(mailbox(c)?)
        }
        "SUBSCRIBE" => {
            c.sp()?;
            Command::Subscribe(mailbox(c)?)
        }
        "UNSUBSCRIBE" => {
            c.sp()?;
            Command::Unsubscribe(mailbox(c)?)
        }
        "RENAME" => {
            c.sp()?;
            let from = mailbox(c)?;
            c.sp()?;
            let to = mailbox(c)?;
            Command::Rename { from, to }
        }
        "LIST" => list(c)?,
        "LSUB" => {
            c.sp()?;
            let reference = mailbox(c)?;
            c.sp()?;
            let pattern = c.list_mailbox()?.into_owned();
            Command::Lsub { reference, pattern }
        }
        "STATUS" => {
            c.sp()?;
            let mailbox = mailbox(c)?;
            c.sp()?;
            let items = status_items(c)?;
            Command::Status { mailbox, items }
        }
        "APPEND" => {
            let (mailbox, flags, date) = append_args(c)?;
            if !matches!(c.peek(), Some(b'{' | b'~')) {
                return c.error("the message as a literal");
            }
            let message = c.literal()?.into_owned();
            Command::Append {
                mailbox,
                flags,
                date,
                message,
            }
        }
        "EXPUNGE" if uid => {
            c.sp()?;
            Command::Expunge {
                uids: Some(seq_arg(c)?),
            }
        }
        "EXPUNGE" => Command::Expunge { uids: None },
        "SEARCH" => {
            let (charset, keys, returns) = search_args(c)?;
            Command::Search {
                uid,
                charset,
                keys,
                returns,
            }
        }
        "FETCH" => {
            c.sp()?;
            let set = seq_arg(c)?;
            c.sp()?;
            let items = fetch_items(c)?;
            let sets_seen = items
                .iter()
                .any(|i| matches!(i, FetchItem::Section { peek: false, .. }));
            Command::Fetch {
                uid,
                set,
                items,
                sets_seen,
            }
        }
        "STORE" => {
            c.sp()?;
            let set = seq_arg(c)?;
            c.sp()?;
            let item = c.atom()?.to_ascii_uppercase();
            let (mode, rest) = match item.first() {
                Some(b'+') => (StoreMode::Add, &item[1..]),
                Some(b'-') => (StoreMode::Remove, &item[1..]),
                _ => (StoreMode::Replace, &item[..]),
            };
            let silent = match rest {
                b"FLAGS" => false,
                b"FLAGS.SILENT" => true,
                _ => return c.error("FLAGS, +FLAGS or -FLAGS (.SILENT)"),
            };
            c.sp()?;
            let flags = if c.peek() == Some(b'(') {
                c.flag_list()?
            } else {
                // RFC 3501 allows flags without parentheses.
                let mut flags = vec![c.flag()?];
                while c.peek() == Some(b' ') && !c.at_line_end() {
                    c.sp()?;
                    if c.at_line_end() {
                        break;
                    }
                    flags.push(c.flag()?);
                }
                flags
            };
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
            }
        }
        "COPY" | "MOVE" => {
            c.sp()?;
            let set = seq_arg(c)?;
            c.sp()?;
            let mailbox = mailbox(c)?;
            if word == "COPY" {
                Command::Copy { uid, set, mailbox }
            } else {
                Command::Move { uid, set, mailbox }
            }
        }
        "" => return c.error("a command name"),
        _ => return c.error("a known command"),
    })
}

/// A sequence set or `$`.
pub fn seq_arg(c: &mut Cursor<'_>) -> Result<SeqArg, ParseError> {
    if c.eat(b'$') {
        return Ok(SeqArg::Saved);
    }
    Ok(SeqArg::Set(c.sequence_set()?))
}

fn status_items(c: &mut Cursor<'_>) -> Result<Vec<StatusItem>, ParseError> {
    let mut items = Vec::new();
    c.list(|c| {
        let at = c.pos();
        let word = c.keyword()?;
        let item = match word.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            _ => {
                c.restore(at);
                return c.error("a STATUS item");
            }
        };
        if !items.contains(&item) {
            items.push(item);
        }
        Ok(())
    })?;
    if items.is_empty() {
        return c.error("at least one STATUS item");
    }
    Ok(items)
}

fn list(c: &mut Cursor<'_>) -> Result<Command, ParseError> {
    let mut options = ListOptions::default();
    c.sp()?;
    if c.peek() == Some(b'(') {
        options.extended = true;
        c.list(|c| {
            let word = c.keyword()?;
            match word.as_str() {
                "SUBSCRIBED" => options.subscribed = true,
                "REMOTE" => {}
                "RECURSIVEMATCH" => options.recursive_match = true,
                "SPECIAL-USE" => options.special_use = true,
                _ => return c.error("SUBSCRIBED, REMOTE, RECURSIVEMATCH or SPECIAL-USE"),
            }
            Ok(())
        })?;
        if options.recursive_match && !options.subscribed {
            // RFC 5258 §3: RECURSIVEMATCH needs another selection option.
            return c.error("RECURSIVEMATCH together with SUBSCRIBED");
        }
        c.sp()?;
    }
    let reference = mailbox(c)?;
    c.sp()?;
    let mut patterns = Vec::new();
    if c.peek() == Some(b'(') {
        options.extended = true;
        c.list(|c| {
            patterns.push(c.list_mailbox()?.into_owned());
            Ok(())
        })?;
    } else {
        patterns.push(c.list_mailbox()?.into_owned());
    }
    if c.peek() == Some(b' ') && !c.at_line_end() {
        c.sp()?;
        if !c.eat_keyword("RETURN") {
            return c.error("RETURN");
        }
        options.extended = true;
        c.sp()?;
        c.list(|c| {
            let word = c.keyword()?;
            match word.as_str() {
                "SUBSCRIBED" => options.return_subscribed = true,
                "CHILDREN" => options.return_children = true,
                "SPECIAL-USE" => options.return_special_use = true,
                "STATUS" => {
                    c.sp()?;
                    options.return_status = Some(status_items(c)?);
                }
                _ => return c.error("SUBSCRIBED, CHILDREN, STATUS or SPECIAL-USE"),
            }
            Ok(())
        })?;
    }
    Ok(Command::List {
        reference,
        patterns,
        options,
    })
}

type SearchArgs = (Option<String>, Vec<Key>, Option<SearchReturn>);

fn search_args(c: &mut Cursor<'_>) -> Result<SearchArgs, ParseError> {
    let mut returns = None;
    let mut charset = None;
    c.sp()?;
    if c.eat_keyword("RETURN") {
        c.sp()?;
        let mut r = SearchReturn::default();
        let mut any = false;
        c.list(|c| {
            match c.keyword()?.as_str() {
                "MIN" => r.min = true,
                "MAX" => r.max = true,
                "ALL" => r.all = true,
                "COUNT" => r.count = true,
                "SAVE" => r.save = true,
                _ => return c.error("MIN, MAX, ALL, COUNT or SAVE"),
            }
            any = true;
            Ok(())
        })?;
        if !any {
            // RFC 4731 §3.1: RETURN () is RETURN (ALL).
            r.all = true;
        }
        returns = Some(r);
        c.sp()?;
    }
    if c.eat_keyword("CHARSET") {
        c.sp()?;
        charset = Some(String::from_utf8_lossy(&c.astring()?).to_ascii_uppercase());
        c.sp()?;
    }
    let mut keys = vec![search::key(c, 0)?];
    while c.peek() == Some(b' ') && !matches!(c.peek_past_space(), Some(b'\r' | b'\n')) {
        c.sp()?;
        keys.push(search::key(c, 0)?);
    }
    Ok((charset, keys, returns))
}

fn fetch_items(c: &mut Cursor<'_>) -> Result<Vec<FetchItem>, ParseError> {
    let mut items = Vec::new();
    if c.peek() == Some(b'(') {
        c.list(|c| {
            items.push(fetch_item(c)?);
            Ok(())
        })?;
        if items.is_empty() {
            return c.error("at least one FETCH item");
        }
        return Ok(items);
    }
    let at = c.pos();
    let word = c.take_while(|b| is_atom_char(b) && b != b'[');
    let word = String::from_utf8_lossy(word).to_ascii_uppercase();
    // The macros (RFC 9051 §6.4.5).
    let base = [
        FetchItem::Flags,
        FetchItem::InternalDate,
        FetchItem::Rfc822Size,
    ];
    match word.as_str() {
        "ALL" => {
            items.extend(base);
            items.push(FetchItem::Envelope);
        }
        "FAST" => items.extend(base),
        "FULL" => {
            items.extend(base);
            items.push(FetchItem::Envelope);
            items.push(FetchItem::Body);
        }
        _ => {
            c.restore(at);
            items.push(fetch_item(c)?);
        }
    }
    Ok(items)
}

fn partial(c: &mut Cursor<'_>) -> Result<Option<(u32, u32)>, ParseError> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let start = c.number()?;
    c.expect(b'.', "'.' in <start.length>")?;
    let len = c.nz_number()?;
    c.expect(b'>', "'>'")?;
    Ok(Some((start, len)))
}

fn fetch_item(c: &mut Cursor<'_>) -> Result<FetchItem, ParseError> {
    let at = c.pos();
    let word = c.take_while(|b| is_atom_char(b) && b != b'[');
    let word = String::from_utf8_lossy(word).to_ascii_uppercase();
    let section = |c: &mut Cursor<'_>| -> Result<(Section, String), ParseError> {
        c.expect(b'[', "'['")?;
        let spec = section_spec(c)?;
        c.expect(b']', "']'")?;
        Ok((Section::from_canonical(&spec), spec))
    };
    Ok(match word.as_str() {
        "UID" => FetchItem::Uid,
        "FLAGS" => FetchItem::Flags,
        "INTERNALDATE" => FetchItem::InternalDate,
        "RFC822.SIZE" => FetchItem::Rfc822Size,
        "ENVELOPE" => FetchItem::Envelope,
        "BODYSTRUCTURE" => FetchItem::BodyStructure,
        "BODY" if c.peek() != Some(b'[') => FetchItem::Body,
        "BODY" | "BODY.PEEK" | "BINARY" | "BINARY.PEEK" => {
            let binary = word.starts_with("BINARY");
            let (section, spec) = section(c)?;
            if binary && !matches!(section.text, SectionText::Full) {
                c.restore(at);
                return c.error("BINARY of a part (no HEADER, TEXT or MIME)");
            }
            let partial = partial(c)?;
            let name = if binary { "BINARY" } else { "BODY" };
            let label = match partial {
                Some((start, _)) => format!("{name}[{spec}]<{start}>"),
                None => format!("{name}[{spec}]"),
            };
            FetchItem::Section {
                section,
                label,
                peek: word.ends_with(".PEEK"),
                binary,
                partial,
            }
        }
        "BINARY.SIZE" => {
            let (section, spec) = section(c)?;
            if !matches!(section.text, SectionText::Full) {
                c.restore(at);
                return c.error("BINARY.SIZE of a part");
            }
            FetchItem::BinarySize {
                section,
                label: format!("BINARY.SIZE[{spec}]"),
            }
        }
        "RFC822" | "RFC822.HEADER" | "RFC822.TEXT" => {
            let text = match word.as_str() {
                "RFC822.HEADER" => SectionText::Header,
                "RFC822.TEXT" => SectionText::Text,
                _ => SectionText::Full,
            };
            FetchItem::Section {
                section: Section {
                    part: Vec::new(),
                    text,
                },
                // RFC822.HEADER is BODY.PEEK[HEADER]; the others set \Seen.
                peek: word == "RFC822.HEADER",
                label: word.clone(),
                binary: false,
                partial: None,
            }
        }
        _ => {
            c.restore(at);
            return c.error("a FETCH item");
        }
    })
}

/// A string argument as text (for SEARCH): UTF-8, with anything else read as Latin-1.
pub fn text_of(s: Cow<'_, [u8]>) -> String {
    match String::from_utf8(s.into_owned()) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Command {
        let (tag, cmd) = parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        assert_eq!(tag, "a1");
        cmd
    }

    fn bad(s: &str) -> BadCommand {
        parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn simple_commands() {
        assert_eq!(p("a1 CAPABILITY\r\n"), Command::Capability);
        assert_eq!(p("a1 noop\r\n"), Command::Noop);
        assert_eq!(
            p("a1 LOGIN fred \"se cret\"\r\n"),
            Command::Login {
                user: b"fred".to_vec(),
                password: b"se cret".to_vec()
            }
        );
        assert_eq!(
            p("a1 LOGIN {4}\r\nfred {2+}\r\npw\r\n"),
            Command::Login {
                user: b"fred".to_vec(),
                password: b"pw".to_vec()
            }
        );
        assert_eq!(
            p("a1 AUTHENTICATE PLAIN AGZyZWQAcHc=\r\n"),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some(b"AGZyZWQAcHc=".to_vec())
            }
        );
        assert_eq!(
            p("a1 AUTHENTICATE plain\r\n"),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: None
            }
        );
        assert_eq!(
            p("a1 ENABLE IMAP4rev2 utf8=accept\r\n"),
            Command::Enable(vec!["IMAP4REV2".into(), "UTF8=ACCEPT".into()])
        );
        assert_eq!(
            p("a1 ID (\"name\" \"x\" \"version\" NIL)\r\n"),
            Command::Id(Some(vec![
                ("name".into(), Some("x".into())),
                ("version".into(), None)
            ]))
        );
        assert_eq!(p("a1 ID NIL\r\n"), Command::Id(None));
        assert_eq!(
            p("a1 EXAMINE \"Sent Items\"\r\n"),
            Command::Select {
                mailbox: b"Sent Items".to_vec(),
                read_only: true
            }
        );
        assert_eq!(
            p("a1 UID EXPUNGE 1:3\r\n"),
            Command::Expunge {
                uids: Some(SeqArg::Set("1:3".parse().unwrap()))
            }
        );
    }

    #[test]
    fn errors_keep_the_tag() {
        assert_eq!(bad("a1 FOO\r\n").tag.as_deref(), Some("a1"));
        assert_eq!(bad("a1 LOGIN x\r\n").tag.as_deref(), Some("a1"));
        assert_eq!(bad("a1 UID NOOP\r\n").tag.as_deref(), Some("a1"));
        assert_eq!(bad("\r\n").tag, None);
        assert_eq!(bad("+tag NOOP\r\n").tag, None);
        assert_eq!(bad("a1 NOOP extra\r\n").tag.as_deref(), Some("a1"));
        assert_eq!(
            bad("a1 SELECT INBOX (CONDSTORE)\r\n").tag.as_deref(),
            Some("a1")
        );
        assert_eq!(tag_of(b"x9 APPEND"), Some("x9".into()));
    }

    #[test]
    fn list_forms() {
        assert_eq!(
            p("a1 LIST \"\" *\r\n"),
            Command::List {
                reference: vec![],
                patterns: vec![b"*".to_vec()],
                options: ListOptions::default()
            }
        );
        let Command::List {
            patterns, options, ..
        } = p(
            "a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %/x) RETURN (CHILDREN STATUS (MESSAGES UNSEEN) SPECIAL-USE)\r\n",
        )
        else {
            panic!()
        };
        assert_eq!(patterns, [b"INBOX".to_vec(), b"%/x".to_vec()]);
        assert!(options.subscribed && options.recursive_match && options.return_children);
        assert_eq!(
            options.return_status,
            Some(vec![StatusItem::Messages, StatusItem::Unseen])
        );
        assert!(bad("a1 LIST (RECURSIVEMATCH) \"\" *\r\n").tag.is_some());
    }

    #[test]
    fn fetch_items_and_sections() {
        let Command::Fetch {
            uid,
            items,
            set,
            sets_seen,
        } = p(
            "a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject From)] BODY[1.2.MIME]<0.100> BINARY.PEEK[1] BINARY.SIZE[2] RFC822.HEADER BODYSTRUCTURE)\r\n",
        )
        else {
            panic!()
        };
        assert!(uid && sets_seen);
        assert_eq!(set, SeqArg::Set("1:*".parse().unwrap()));
        assert_eq!(items[0], FetchItem::Flags);
        let FetchItem::Section {
            section,
            label,
            peek,
            ..
        } = &items[1]
        else {
            panic!()
        };
        assert_eq!(label, "BODY[HEADER.FIELDS (SUBJECT FROM)]");
        assert!(*peek);
        assert_eq!(
            section.text,
            SectionText::Fields {
                not: false,
                names: vec!["SUBJECT".into(), "FROM".into()]
            }
        );
        let FetchItem::Section {
            section,
            label,
            partial,
            ..
        } = &items[2]
        else {
            panic!()
        };
        assert_eq!(
            (
                section.part.as_slice(),
                &section.text,
                label.as_str(),
                *partial
            ),
            (
                &[1, 2][..],
                &SectionText::Mime,
                "BODY[1.2.MIME]<0>",
                Some((0, 100))
            )
        );
        assert!(matches!(
            &items[3],
            FetchItem::Section {
                binary: true,
                peek: true,
                ..
            }
        ));
        assert!(
            matches!(&items[4], FetchItem::BinarySize { label, .. } if label == "BINARY.SIZE[2]")
        );
        assert!(
            matches!(&items[5], FetchItem::Section { peek: true, label, .. } if label == "RFC822.HEADER")
        );
        let Command::Fetch {
            items, sets_seen, ..
        } = p("a1 FETCH 2 fast\r\n")
        else {
            panic!()
        };
        assert_eq!(items.len(), 3);
        assert!(!sets_seen);
        assert!(bad("a1 FETCH 1 BINARY[1.TEXT]\r\n").tag.is_some());
        assert!(bad("a1 FETCH 1 (BODY[]<0.0>)\r\n").tag.is_some());
        assert!(bad("a1 FETCH 0 FLAGS\r\n").tag.is_some());
        assert_eq!(
            p("a1 FETCH $ (UID)\r\n"),
            Command::Fetch {
                uid: false,
                set: SeqArg::Saved,
                items: vec![FetchItem::Uid],
                sets_seen: false
            }
        );
    }

    #[test]
    fn store_and_copy() {
        assert_eq!(
            p("a1 UID STORE 5 +FLAGS.SILENT (\\Seen $Label)\r\n"),
            Command::Store {
                uid: true,
                set: SeqArg::Set("5".parse().unwrap()),
                mode: StoreMode::Add,
                silent: true,
                flags: vec!["\\Seen".into(), "$Label".into()]
            }
        );
        assert_eq!(
            p("a1 STORE 1 FLAGS \\Deleted\r\n"),
            Command::Store {
                uid: false,
                set: SeqArg::Set("1".parse().unwrap()),
                mode: StoreMode::Replace,
                silent: false,
                flags: vec!["\\Deleted".into()]
            }
        );
        assert_eq!(
            p("a1 MOVE 1:2 Archive\r\n"),
            Command::Move {
                uid: false,
                set: SeqArg::Set("1:2".parse().unwrap()),
                mailbox: b"Archive".to_vec()
            }
        );
    }

    #[test]
    fn append_forms() {
        assert_eq!(
            p("a1 APPEND Drafts (\\Draft) \" 7-Feb-2024 10:00:00 +0100\" {3+}\r\nabc\r\n"),
            Command::Append {
                mailbox: b"Drafts".to_vec(),
                flags: vec!["\\Draft".into()],
                date: crate::imap::lex::parse_date_time(b"7-Feb-2024 10:00:00 +0100"),
                message: b"abc".to_vec()
            }
        );
        let head = append_head(b"a1 APPEND INBOX {310}\r\n").unwrap().unwrap();
        assert_eq!(head.mailbox, b"INBOX");
        assert!(append_head(b"a1 LOGIN {3}\r\n").is_none());
        assert!(
            append_head(b"a1 APPEND INBOX (\\Seen {3}\r\n")
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn search_args() {
        let Command::Search {
            charset,
            keys,
            returns,
            uid,
        } = p(
            "a1 UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 UNSEEN FROM \"alice\" OR 1:3 NOT DELETED\r\n",
        )
        else {
            panic!()
        };
        assert!(uid);
        assert_eq!(charset.as_deref(), Some("UTF-8"));
        assert_eq!(keys.len(), 3);
        let r = returns.unwrap();
        assert!(r.min && r.count && !r.all);
        let Command::Search { returns, .. } = p("a1 SEARCH RETURN () ALL\r\n") else {
            panic!()
        };
        assert!(returns.unwrap().all);
        // Deep nesting is refused, not a stack overflow.
        let deep = format!("a1 SEARCH {}ALL\r\n", "NOT ".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_err());
        let deep = format!(
            "a1 SEARCH {}ALL{}\r\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert!(parse(deep.as_bytes()).is_err());
    }
}
