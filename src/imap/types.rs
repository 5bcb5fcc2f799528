//! The values IMAP responses carry, as plain Rust types: what the client returns and what the
//! Python layer turns into classes one for one. Octet strings a server may send in any
//! charset (envelope fields) stay bytes; names and flags are `String`.

use std::fmt;

use super::lex::month_name;
use super::sequence::SequenceSet;
use crate::message::date::{civil_from_timestamp, days_in_month, unix_time};

/// An IMAP `date-time` (INTERNALDATE, APPEND): local time and its offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    /// 0-60 (a leap second is accepted).
    pub second: u8,
    /// East of UTC, in minutes (`-0700` is -420).
    pub offset_minutes: i16,
}

impl DateTime {
    /// Whether the fields make a real date and time.
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(i32::from(self.year), self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.offset_minutes.abs() < 100 * 60
    }

    /// Seconds since the Unix epoch (UTC).
    pub fn timestamp(&self) -> i64 {
        let (date, time) = ((self.year, self.month, self.day), (self.hour, self.minute));
        unix_time(date, time, self.second, i32::from(self.offset_minutes) * 60)
    }

    /// The date-time of a Unix timestamp, shown at `offset_minutes` east of UTC.
    pub fn from_timestamp(seconds: i64, offset_minutes: i16) -> Option<DateTime> {
        let local = civil_from_timestamp(seconds, i32::from(offset_minutes) * 60)?;
        let dt = DateTime {
            year: u16::try_from(local.year())
                .ok()
                .filter(|y| (1..=9999).contains(y))?,
            month: u8::from(local.month()),
            day: local.day(),
            hour: local.hour(),
            minute: local.minute(),
            second: local.second(),
            offset_minutes,
        };
        dt.is_valid().then_some(dt)
    }
}

/// The wire form without quotes: `17-Jul-1996 02:44:25 -0700` (day as two characters, the
/// fixed-width form).
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{:2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            self.day,
            month_name(self.month),
            self.year,
            self.hour,
            self.minute,
            self.second,
            sign,
            off / 60,
            off % 60
        )
    }
}

/// A calendar date for SEARCH (`BEFORE`, `SINCE`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(i32::from(year), month))
            .then_some(Date { year, month, day })
    }
}

/// `1-Feb-2024`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.day, month_name(self.month), self.year)
    }
}

/// A status response's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }

    pub fn parse(word: &[u8]) -> Option<Status> {
        [
            Status::Ok,
            Status::No,
            Status::Bad,
            Status::PreAuth,
            Status::Bye,
        ]
        .into_iter()
        .find(|s| s.as_str().as_bytes().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `OK`/`NO`/`BAD`/`PREAUTH`/`BYE` with its optional response code and human-readable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    pub status: Status,
    pub code: Option<ResponseCode>,
    pub text: String,
}

impl fmt::Display for StatusResponse {
    /// `NO [TRYCREATE] No such mailbox`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

/// `[APPENDUID uidvalidity uids]` (RFC 4315): where APPEND put the message(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendUid {
    pub uid_validity: u32,
    pub uids: SequenceSet,
}

/// `[COPYUID uidvalidity source destination]` (RFC 4315): the UIDs that COPY or MOVE gave
/// the copies, in the order of the source UIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyUid {
    pub uid_validity: u32,
    pub source: SequenceSet,
    pub destination: SequenceSet,
}

impl CopyUid {
    /// (source UID, destination UID) pairs; `None` if the sets differ in length or are
    /// larger than `limit`.
    pub fn pairs(&self, limit: usize) -> Option<Vec<(u32, u32)>> {
        let src = self.source.expand(0, limit).ok()?;
        let dst = self.destination.expand(0, limit).ok()?;
        (src.len() == dst.len()).then(|| src.into_iter().zip(dst).collect())
    }
}

/// A response code (RFC 9051 §7.1, RFC 5530, RFC 4315, RFC 7162) in brackets after the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    Alert,
    AlreadyExists,
    AppendUid(AppendUid),
    AuthenticationFailed,
    AuthorizationFailed,
    BadCharset(Vec<String>),
    Cannot,
    Capability(Vec<String>),
    ClientBug,
    Closed,
    ContactAdmin,
    CopyUid(CopyUid),
    Corruption,
    Expired,
    ExpungeIssued,
    HasChildren,
    HighestModSeq(u64),
    InUse,
    Limit,
    Modified(SequenceSet),
    NoModSeq,
    NonExistent,
    NoPerm,
    OverQuota,
    Parse,
    PermanentFlags(Vec<String>),
    PrivacyRequired,
    ReadOnly,
    ReadWrite,
    ServerBug,
    TryCreate,
    UidNext(u32),
    UidNotSticky,
    UidValidity(u32),
    Unavailable,
    UnknownCte,
    Unseen(u32),
    /// Any other code: its name (upper case) and the text after it, if any.
    Other {
        name: String,
        text: Option<String>,
    },
}

impl ResponseCode {
    /// Codes without arguments, by name.
    pub fn simple(name: &str) -> Option<ResponseCode> {
        use ResponseCode::*;
        Some(match name {
            "ALERT" => Alert,
            "ALREADYEXISTS" => AlreadyExists,
            "AUTHENTICATIONFAILED" => AuthenticationFailed,
            "AUTHORIZATIONFAILED" => AuthorizationFailed,
            "CANNOT" => Cannot,
            "CLIENTBUG" => ClientBug,
            "CLOSED" => Closed,
            "CONTACTADMIN" => ContactAdmin,
            "CORRUPTION" => Corruption,
            "EXPIRED" => Expired,
            "EXPUNGEISSUED" => ExpungeIssued,
            "HASCHILDREN" => HasChildren,
            "INUSE" => InUse,
            "LIMIT" => Limit,
            "NOMODSEQ" => NoModSeq,
            "NONEXISTENT" => NonExistent,
            "NOPERM" => NoPerm,
            "OVERQUOTA" => OverQuota,
            "PARSE" => Parse,
            "PRIVACYREQUIRED" => PrivacyRequired,
            "READ-ONLY" => ReadOnly,
            "READ-WRITE" => ReadWrite,
            "SERVERBUG" => ServerBug,
            "TRYCREATE" => TryCreate,
            "UIDNOTSTICKY" => UidNotSticky,
            "UNAVAILABLE" => Unavailable,
            "UNKNOWN-CTE" => UnknownCte,
            _ => return None,
        })
    }

    /// The code's name as on the wire (`TRYCREATE`, `UIDVALIDITY`, ...).
    pub fn name(&self) -> &str {
        use ResponseCode::*;
        match self {
            Alert => "ALERT",
            AlreadyExists => "ALREADYEXISTS",
            AppendUid(_) => "APPENDUID",
            AuthenticationFailed => "AUTHENTICATIONFAILED",
            AuthorizationFailed => "AUTHORIZATIONFAILED",
            BadCharset(_) => "BADCHARSET",
            Cannot => "CANNOT",
            Capability(_) => "CAPABILITY",
            ClientBug => "CLIENTBUG",
            Closed => "CLOSED",
            ContactAdmin => "CONTACTADMIN",
            CopyUid(_) => "COPYUID",
            Corruption => "CORRUPTION",
            Expired => "EXPIRED",
            ExpungeIssued => "EXPUNGEISSUED",
            HasChildren => "HASCHILDREN",
            HighestModSeq(_) => "HIGHESTMODSEQ",
            InUse => "INUSE",
            Limit => "LIMIT",
            Modified(_) => "MODIFIED",
            NoModSeq => "NOMODSEQ",
            NonExistent => "NONEXISTENT",
            NoPerm => "NOPERM",
            OverQuota => "OVERQUOTA",
            Parse => "PARSE",
            PermanentFlags(_) => "PERMANENTFLAGS",
            PrivacyRequired => "PRIVACYREQUIRED",
            ReadOnly => "READ-ONLY",
            ReadWrite => "READ-WRITE",
            ServerBug => "SERVERBUG",
            TryCreate => "TRYCREATE",
            UidNext(_) => "UIDNEXT",
            UidNotSticky => "UIDNOTSTICKY",
            UidValidity(_) => "UIDVALIDITY",
            Unavailable => "UNAVAILABLE",
            UnknownCte => "UNKNOWN-CTE",
            Unseen(_) => "UNSEEN",
            Other { name, .. } => name,
        }
    }
}

/// The wire form inside the brackets: `UIDVALIDITY 3857529045`, `PERMANENTFLAGS (\Seen \*)`.
impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseCode::*;
        f.write_str(self.name())?;
        match self {
            AppendUid(a) => write!(f, " {} {}", a.uid_validity, a.uids),
            CopyUid(c) => write!(f, " {} {} {}", c.uid_validity, c.source, c.destination),
            BadCharset(c) if !c.is_empty() => write!(f, " ({})", c.join(" ")),
            Capability(c) => c.iter().try_for_each(|c| write!(f, " {c}")),
            PermanentFlags(flags) => write!(f, " ({})", flags.join(" ")),
            HighestModSeq(n) => write!(f, " {n}"),
            UidNext(n) | UidValidity(n) | Unseen(n) => write!(f, " {n}"),
            Modified(set) => write!(f, " {set}"),
            Other {
                text: Some(text), ..
            } => write!(f, " {text}"),
            _ => Ok(()),
        }
    }
}

/// What a server says it supports: capability names in upper case, in the server's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(pub Vec<String>);

impl Capabilities {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        Capabilities(names.into_iter().map(|n| n.to_ascii_uppercase()).collect())
    }

    /// Whether `name` (any case) is offered.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether SASL mechanism `mechanism` is offered (`AUTH=PLAIN`).
    pub fn has_auth(&self, mechanism: &str) -> bool {
        self.0.iter().any(|c| {
            c.strip_prefix("AUTH=")
                .is_some_and(|m| m.eq_ignore_ascii_case(mechanism))
        })
    }

    /// The SASL mechanisms offered.
    pub fn auth_mechanisms(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// The fields of an ID response (RFC 2971): names and values (NIL as `None`).
pub type IdFields = Vec<(String, Option<String>)>;

/// A value of unknown meaning (extension data, unknown FETCH items, ID fields), kept as the
/// grammar's generic shape rather than dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Number(u64),
    /// A quoted string or literal.
    String(Vec<u8>),
    /// A bare atom.
    Atom(String),
    List(Vec<Value>),
}

/// One address of an envelope (RFC 9051 §7.5.2). A group is written as an address with
/// `host` NIL and `mailbox` the group's name, the group's members, and an address with both
/// NIL. Fields are the raw octets (RFC 2047 encoded words left as sent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub name: Option<Vec<u8>>,
    /// The source route (obsolete; almost always NIL).
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// `mailbox@host` when both are present.
    pub fn email(&self) -> Option<String> {
        let mailbox = String::from_utf8_lossy(self.mailbox.as_deref()?);
        let host = String::from_utf8_lossy(self.host.as_deref()?);
        Some(format!("{mailbox}@{host}"))
    }

    /// The start of a group (`mailbox` is its name) or, with `mailbox` NIL too, its end.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }
}

/// The ENVELOPE of a message: its main header fields, parsed by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

impl Envelope {
    /// The subject, RFC 2047 encoded words decoded.
    pub fn subject_text(&self) -> Option<String> {
        self.subject
            .as_deref()
            .map(crate::codec::encoded_word::decode_bytes)
    }
}

/// Which of the four body shapes of RFC 9051 §7.5.2 a body structure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// Any single part that is not text or an encapsulated message.
    Basic,
    /// `TEXT/*`: has a line count.
    Text,
    /// `MESSAGE/RFC822` (or `MESSAGE/GLOBAL`): has the encapsulated message's envelope,
    /// body structure and line count.
    Message,
    Multipart,
}

/// A part's Content-Disposition (`body-fld-dsp`): `("attachment" ("filename" "a.pdf"))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub kind: String,
    pub params: Vec<(String, String)>,
}

/// BODYSTRUCTURE (or BODY) of a message or part. Extension data (md5, disposition,
/// language, location, and anything later) is present only in BODYSTRUCTURE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStructure {
    pub kind: BodyKind,
    /// `TEXT`, `IMAGE`, `MULTIPART`, ... as the server wrote it.
    pub media_type: String,
    pub subtype: String,
    /// Content-Type parameters (for a multipart: from its extension data).
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Content-Transfer-Encoding (single parts).
    pub encoding: Option<String>,
    /// Size in octets, as encoded (single parts).
    pub size: Option<u64>,
    /// Lines of a text part or encapsulated message.
    pub lines: Option<u64>,
    /// The encapsulated message's envelope (MESSAGE/RFC822).
    pub envelope: Option<Box<Envelope>>,
    /// The encapsulated message's body (MESSAGE/RFC822).
    pub body: Option<Box<BodyStructure>>,
    /// A multipart's parts.
    pub parts: Vec<BodyStructure>,
    pub md5: Option<String>,
    pub disposition: Option<Disposition>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Extension data after the location, in the generic shape.
    pub extension: Vec<Value>,
}

impl BodyStructure {
    /// A body structure of `kind` with every optional field empty.
    pub fn new(kind: BodyKind, media_type: &str, subtype: &str) -> Self {
        BodyStructure {
            kind,
            media_type: media_type.to_owned(),
            subtype: subtype.to_owned(),
            params: Vec::new(),
            id: None,
            description: None,
            encoding: None,
            size: None,
            lines: None,
            envelope: None,
            body: None,
            parts: Vec::new(),
            md5: None,
            disposition: None,
            language: Vec::new(),
            location: None,
            extension: Vec::new(),
        }
    }

    /// `type/subtype` in lower case.
    pub fn mime_type(&self) -> String {
        format!("{}/{}", self.media_type, self.subtype).to_ascii_lowercase()
    }

    /// A Content-Type (or, for a multipart, extension) parameter, by name in any case.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every part with its section number for `BODY[...]` (RFC 9051 §6.4.5): the parts of a
    /// multipart are 1, 2, ...; a part inside an encapsulated message is numbered under it;
    /// a message that is not multipart has one part, "1". Multiparts are listed too (their
    /// number addresses their MIME header and text). The whole message is not listed.
    pub fn sections(&self) -> Vec<(String, &BodyStructure)> {
        let mut out = Vec::new();
        if self.kind == BodyKind::Multipart {
            walk_children(self, "", &mut out);
        } else {
            walk_part(self, "1".to_owned(), &mut out);
        }
        out
    }
}

fn walk_children<'a>(
    multipart: &'a BodyStructure,
    prefix: &str,
    out: &mut Vec<(String, &'a BodyStructure)>,
) {
    for (i, part) in multipart.parts.iter().enumerate() {
        let number = if prefix.is_empty() {
            (i + 1).to_string()
        } else {
            format!("{prefix}.{}", i + 1)
        };
        walk_part(part, number, out);
    }
}

fn walk_part<'a>(
    part: &'a BodyStructure,
    number: String,
    out: &mut Vec<(String, &'a BodyStructure)>,
) {
    out.push((number.clone(), part));
    match part.kind {
        BodyKind::Multipart => walk_children(part, &number, out),
        BodyKind::Message => {
            if let Some(body) = &part.body {
                if body.kind == BodyKind::Multipart {
                    walk_children(body, &number, out);
                } else {
                    walk_part(body, format!("{number}.1"), out);
                }
            }
        }
        _ => {}
    }
}

/// A `BODY[section]<origin>`, `BINARY[section]<origin>` (or `RFC822*`) item of a FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySection {
    /// The section in canonical form: upper case, `HEADER.FIELDS (SUBJECT FROM)`; empty for
    /// the whole message. `RFC822` is `""`, `RFC822.HEADER` is `HEADER`, `RFC822.TEXT` is
    /// `TEXT`.
    pub section: String,
    /// BINARY (RFC 3516): the content transfer encoding was removed by the server.
    pub binary: bool,
    /// `<origin>` of a partial fetch.
    pub origin: Option<u32>,
    /// NIL when the server has no such section.
    pub data: Option<Vec<u8>>,
}

/// One message's data from FETCH responses (several responses for one message are merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchResult {
    /// Message sequence number.
    pub seq: u32,
    pub uid: Option<u32>,
    pub flags: Option<Vec<String>>,
    pub internal_date: Option<DateTime>,
    /// RFC822.SIZE.
    pub size: Option<u64>,
    pub envelope: Option<Envelope>,
    /// BODYSTRUCTURE, or BODY (without extension data).
    pub body_structure: Option<BodyStructure>,
    /// MODSEQ (RFC 7162).
    pub modseq: Option<u64>,
    pub sections: Vec<BodySection>,
    /// BINARY.SIZE[section].
    pub binary_sizes: Vec<(String, u64)>,
    /// Items this parser does not know (EMAILID, X-GM-LABELS, PREVIEW, ...), by name.
    pub other: Vec<(String, Value)>,
}

impl FetchResult {
    /// The section named `section` (canonical form, any case); the first if fetched twice.
    pub fn section(&self, section: &str) -> Option<&BodySection> {
        self.sections
            .iter()
            .find(|s| s.section.eq_ignore_ascii_case(section))
    }

    /// The whole message (`BODY[]`, `BINARY[]` or `RFC822`), if fetched.
    pub fn body(&self) -> Option<&[u8]> {
        self.section("").and_then(|s| s.data.as_deref())
    }

    /// Take the whole message's octets out (no copy).
    pub fn take_body(&mut self) -> Option<Vec<u8>> {
        self.sections
            .iter_mut()
            .find(|s| s.section.is_empty())
            .and_then(|s| s.data.take())
    }

    /// Add the items of a later FETCH response for the same message.
    pub fn merge(&mut self, other: FetchResult) {
        self.uid = other.uid.or(self.uid);
        if other.flags.is_some() {
            self.flags = other.flags;
        }
        self.internal_date = other.internal_date.or(self.internal_date);
        self.size = other.size.or(self.size);
        if other.envelope.is_some() {
            self.envelope = other.envelope;
        }
        if other.body_structure.is_some() {
            self.body_structure = other.body_structure;
        }
        self.modseq = other.modseq.or(self.modseq);
        self.sections.extend(other.sections);
        self.binary_sizes.extend(other.binary_sizes);
        self.other.extend(other.other);
    }
}

/// What SELECT or EXAMINE found (RFC 9051 §6.3.2), kept up to date by later EXISTS and
/// EXPUNGE responses while the mailbox stays selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub name: String,
    pub read_only: bool,
    pub exists: u32,
    /// RECENT (IMAP4rev1 servers only).
    pub recent: Option<u32>,
    /// The first unseen message's sequence number (IMAP4rev1 `[UNSEEN n]`).
    pub unseen: Option<u32>,
    pub uid_validity: Option<u32>,
    pub uid_next: Option<u32>,
    pub flags: Vec<String>,
    /// Flags the client can change permanently; `\*` means new keywords may be created.
    pub permanent_flags: Vec<String>,
    /// RFC 7162 (CONDSTORE).
    pub highest_modseq: Option<u64>,
    /// `[NOMODSEQ]`: the mailbox does not keep mod-sequences.
    pub no_modseq: bool,
}

/// The items of a STATUS response (or of LIST-STATUS), those the server sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusItems {
    pub mailbox: String,
    pub messages: Option<u32>,
    pub recent: Option<u32>,
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
    pub unseen: Option<u32>,
    /// RFC 9051.
    pub deleted: Option<u32>,
    /// RFC 8438 / RFC 9051 (STATUS=SIZE).
    pub size: Option<u64>,
    pub highest_modseq: Option<u64>,
    /// Items this parser does not know, by name.
    pub other: Vec<(String, u64)>,
}

/// A mailbox from LIST or LSUB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListEntry {
    /// Decoded (modified UTF-7 or UTF-8, by the session's mode).
    pub name: String,
    pub delimiter: Option<char>,
    /// Name attributes as sent (`\HasNoChildren`, `\Noselect`, `\Sent`, ...).
    pub attributes: Vec<String>,
    /// CHILDINFO extended data (RFC 5258): `SUBSCRIBED`.
    pub child_info: Vec<String>,
    /// OLDNAME extended data (RFC 9051 §7.3.1).
    pub old_name: Option<String>,
    /// LIST-STATUS (RFC 5819) data, merged in by the client.
    pub status: Option<StatusItems>,
    /// Other extended data, by tag.
    pub extended: Vec<(String, Value)>,
}

impl ListEntry {
    /// Whether attribute `name` (any case, with its backslash) is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// The special-use attribute (RFC 6154): `\Sent`, `\Trash`, `\Drafts`, `\Junk`,
    /// `\Archive`, `\All`, `\Flagged`.
    pub fn special_use(&self) -> Option<&str> {
        const USES: [&str; 7] = [
            "\\All",
            "\\Archive",
            "\\Drafts",
            "\\Flagged",
            "\\Junk",
            "\\Sent",
            "\\Trash",
        ];
        self.attributes
            .iter()
            .find_map(|a| USES.iter().find(|u| u.eq_ignore_ascii_case(a)).copied())
    }

    /// Whether the mailbox can be selected (`\Noselect`, `\NonExistent` say not).
    pub fn is_selectable(&self) -> bool {
        !self.has_attribute("\\Noselect") && !self.has_attribute("\\NonExistent")
    }
}

/// One namespace (RFC 2342, RFC 9051 §7.3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
    /// Extension data: name and values.
    pub extensions: Vec<(String, Vec<String>)>,
}

/// The NAMESPACE response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub personal: Vec<Namespace>,
    pub other_users: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

/// An ESEARCH response (RFC 4731, RFC 9051 §7.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Esearch {
    /// The tag of the command it answers.
    pub tag: Option<String>,
    /// Numbers are UIDs.
    pub uid: bool,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub count: Option<u32>,
    pub all: Option<SequenceSet>,
    pub modseq: Option<u64>,
    /// Other return data, by name.
    pub other: Vec<(String, Value)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_round_trip() {
        let dt = DateTime {
            year: 1996,
            month: 7,
            day: 7,
            hour: 2,
            minute: 44,
            second: 25,
            offset_minutes: -420,
        };
        assert_eq!(dt.to_string(), " 7-Jul-1996 02:44:25 -0700");
        assert_eq!(DateTime::from_timestamp(dt.timestamp(), -420), Some(dt));
        let epoch = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(epoch.to_string(), " 1-Jan-1970 00:00:00 +0000");
        let leap = DateTime::from_timestamp(951_782_400, 60).unwrap();
        assert_eq!(
            (leap.year, leap.month, leap.day, leap.hour),
            (2000, 2, 29, 1)
        );
        assert_eq!(Date::new(2024, 2, 1).unwrap().to_string(), "1-Feb-2024");
        assert!(Date::new(2023, 2, 29).is_none());
    }

    #[test]
    fn response_code_wire_form() {
        let code = ResponseCode::CopyUid(CopyUid {
            uid_validity: 38505,
            source: "304,319:320".parse().unwrap(),
            destination: "3956:3958".parse().unwrap(),
        });
        assert_eq!(code.to_string(), "COPYUID 38505 304,319:320 3956:3958");
        let ResponseCode::CopyUid(c) = &code else {
            panic!()
        };
        assert_eq!(
            c.pairs(10).unwrap(),
            [(304, 3956), (319, 3957), (320, 3958)]
        );
        assert_eq!(
            ResponseCode::PermanentFlags(vec!["\\Seen".into(), "\\*".into()]).to_string(),
            "PERMANENTFLAGS (\\Seen \\*)"
        );
        assert_eq!(
            ResponseCode::simple("READ-ONLY"),
            Some(ResponseCode::ReadOnly)
        );
    }

    #[test]
    fn section_numbers() {
        // RFC 9051 §6.4.5's example message, reduced to its shape.
        let text = |sub: &str| BodyStructure::new(BodyKind::Text, "TEXT", sub);
        let mut inner = BodyStructure::new(BodyKind::Multipart, "MULTIPART", "MIXED");
        inner.parts = vec![
            text("PLAIN"),
            BodyStructure::new(BodyKind::Basic, "IMAGE", "GIF"),
        ];
        let mut msg = BodyStructure::new(BodyKind::Message, "MESSAGE", "RFC822");
        msg.body = Some(Box::new(inner));
        let mut alt = BodyStructure::new(BodyKind::Multipart, "MULTIPART", "ALTERNATIVE");
        alt.parts = vec![text("PLAIN"), text("HTML")];
        let mut root = BodyStructure::new(BodyKind::Multipart, "MULTIPART", "MIXED");
        root.parts = vec![
            text("PLAIN"),
            BodyStructure::new(BodyKind::Basic, "APPLICATION", "OCTET-STREAM"),
            msg,
            alt,
        ];
        let numbers: Vec<String> = root.sections().into_iter().map(|(n, _)| n).collect();
        assert_eq!(numbers, ["1", "2", "3", "3.1", "3.2", "4", "4.1", "4.2"]);
        let single = text("PLAIN");
        assert_eq!(single.sections()[0].0, "1");
    }
}
