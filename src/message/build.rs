//! Building messages (RFC 5322, MIME): header fields checked, written and folded; bodies
//! given a transfer encoding; parts assembled into multiparts.
//!
//! Stalwart's mail-builder assembles the MIME tree (multipart framing, `Content-Type` with
//! its boundary, `Content-Disposition` with RFC 2231 file names, msg-id lists). The rest is
//! ours because mail-builder falls short of what mailprims promises: it quotes every display
//! name, RFC 2047-encodes any ASCII header longer than 77 characters (even structured ones),
//! sends text with NUL bytes or bare CRs as `7bit`, dates every message in UTC, and takes
//! the Message-ID domain from the local host name instead of the sender's address.
//!
//! Guarantees of [`Builder::to_bytes`]: CRLF line endings; no line longer than 998 octets,
//! header lines folded at 78 wherever there is whitespace to fold at; non-ASCII header text as
//! RFC 2047 encoded words and non-ASCII file names both as RFC 2231 (`filename*=`) and
//! RFC 2047 (`name="=?..."`); a transfer encoding per part so that the message is 7-bit
//! unless 8-bit or UTF-8 output is asked for; random boundaries checked against the content;
//! `From`, `Date`, `Message-ID` and `MIME-Version: 1.0` present. No user-given value can add
//! a header line: CR, LF and NUL are refused everywhere.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use mail_builder::headers::Header;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use memchr::memmem;

use super::address::{self, Address};
use crate::codec::{base64, params, quoted_printable};

/// RFC 5322 §2.1.1: header lines are folded to stay within 78 characters.
pub const FOLD: usize = 78;
/// RFC 5322 §2.1.1: no line may be longer than 998 characters.
pub const MAX_LINE: usize = 998;
/// RFC 2047 §2: an encoded word is at most 75 characters.
const MAX_WORD: usize = 75;
/// `=?utf-8?B?` and `?=`.
const WORD_OVERHEAD: usize = 12;
/// Room for an encoded word holding one 4-byte character in Q form.
const MIN_WORD: usize = WORD_OVERHEAD + 12;
/// A whitespace-free run longer than this cannot be written as it is (the header name and
/// the folding need room too), so the value goes out as encoded words.
const MAX_RUN: usize = 900;

// ---------------------------------------------------------------------------------------
// Errors

/// Why a message cannot be built or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A CR, LF or NUL in a header value or parameter: it would end the field and start
    /// another one (header injection).
    LineBreak { field: String },
    /// Not a valid field name (RFC 5322 §3.6.8: printable ASCII except `:`).
    InvalidName { name: String },
    /// An address that is not `local@domain`, or non-ASCII without UTF-8 output.
    InvalidAddress { text: String, reason: String },
    /// A value that does not fit its field (a date that does not parse, a bad msg-id).
    InvalidValue { field: String, reason: String },
    /// A field the builder writes itself (`Content-Type`, `MIME-Version`...).
    Reserved { field: String },
    /// A field RFC 5322 §3.6 allows once, added a second time.
    Duplicate { field: String },
    /// No `From` (RFC 5322 §3.6: required).
    MissingFrom,
    /// An edit that does not apply to this message.
    InvalidEdit(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::LineBreak { field } => write!(
                f,
                "{field} contains a CR, LF or NUL character (header injection is refused)"
            ),
            BuildError::InvalidName { name } => write!(
                f,
                "{name:?} is not a valid header field name (1 to 76 printable ASCII characters, no ':')"
            ),
            BuildError::InvalidAddress { text, reason } => {
                write!(f, "invalid address {text:?}: {reason}")
            }
            BuildError::InvalidValue { field, reason } => write!(f, "invalid {field}: {reason}"),
            BuildError::Reserved { field } => write!(
                f,
                "{field} is written by the builder from the body and attachments; it cannot be set"
            ),
            BuildError::Duplicate { field } => write!(
                f,
                "{field} may appear only once (RFC 5322 §3.6); use set_header() to replace it"
            ),
            BuildError::MissingFrom => write!(f, "a message needs a From address (RFC 5322 §3.6)"),
            BuildError::InvalidEdit(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for BuildError {}

type Result<T> = std::result::Result<T, BuildError>;

fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Refuse CR, LF and NUL in a value written into a header.
pub fn check_line(field: &str, value: &str) -> Result<()> {
    if has_line_break(value) {
        return Err(BuildError::LineBreak {
            field: field.to_owned(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Fields

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An address list (RFC 5322 §3.4).
    Addresses,
    /// msg-ids (RFC 5322 §3.6.4).
    Ids,
    /// A date-time (RFC 5322 §3.3).
    Date,
    /// Unstructured text (RFC 5322 §3.2.5), RFC 2047-encoded where needed.
    Text,
}

const ADDRESS_FIELDS: [&str; 14] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
    "Resent-Bcc",
    "Disposition-Notification-To",
    "Mail-Followup-To",
    "Mail-Reply-To",
];
const ID_FIELDS: [&str; 4] = [
    "Message-ID",
    "In-Reply-To",
    "References",
    "Resent-Message-ID",
];
const DATE_FIELDS: [&str; 2] = ["Date", "Resent-Date"];
/// The MIME structure is the builder's (and the editor's) to write.
const RESERVED: [&str; 5] = [
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-ID",
];

fn is_one_of(name: &str, list: &[&str]) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// How the field `name` is written.
pub fn kind_of(name: &str) -> Kind {
    if is_one_of(name, &ADDRESS_FIELDS) {
        Kind::Addresses
    } else if is_one_of(name, &ID_FIELDS) {
        Kind::Ids
    } else if is_one_of(name, &DATE_FIELDS) {
        Kind::Date
    } else {
        Kind::Text
    }
}

/// May this field appear only once (RFC 5322 §3.6)?
pub fn is_once(name: &str) -> bool {
    is_one_of(name, &super::ONCE)
}

/// Check a field name a user gives: RFC 5322 §3.6.8 `ftext`, and not one of the MIME
/// structure fields the builder writes.
pub fn check_name(name: &str) -> Result<()> {
    // A name longer than a folded line could not share the line with any value.
    if name.is_empty()
        || name.len() > FOLD - 2
        || name.bytes().any(|b| !(33..=126).contains(&b) || b == b':')
    {
        return Err(BuildError::InvalidName {
            name: name.to_owned(),
        });
    }
    if is_one_of(name, &RESERVED) {
        return Err(BuildError::Reserved {
            field: name.to_owned(),
        });
    }
    Ok(())
}

/// A field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Addresses(Vec<Address>),
    /// msg-ids without angle brackets.
    Ids(Vec<String>),
    /// A date-time as it is written.
    Date(String),
}

impl Value {
    /// Read a value given as text for the field `name`.
    pub fn parse(name: &str, text: &str) -> Result<Value> {
        match kind_of(name) {
            Kind::Addresses => parse_addresses(text).map(Value::Addresses),
            Kind::Ids => parse_ids(name, text).map(Value::Ids),
            Kind::Date => parse_date(name, text).map(Value::Date),
            Kind::Text => {
                check_line(name, text)?;
                Ok(Value::Text(text.to_owned()))
            }
        }
    }

    /// Check a value built by the caller (rather than parsed) for the field `name`.
    pub fn check(&self, name: &str) -> Result<()> {
        match (self, kind_of(name)) {
            (Value::Addresses(list), Kind::Addresses) => list.iter().try_for_each(check_address),
            (Value::Ids(ids), Kind::Ids) => ids.iter().try_for_each(|id| check_id(name, id)),
            (Value::Date(d), Kind::Date) => parse_date(name, d).map(|_| ()),
            (Value::Text(t), Kind::Text) => check_line(name, t),
            _ => Err(BuildError::InvalidValue {
                field: name.to_owned(),
                reason: "this kind of value does not belong in this field".into(),
            }),
        }
    }
}

/// Parse an address list given as text (`"Bob <bob@example.com>, carol@example.com"`).
pub fn parse_addresses(text: &str) -> Result<Vec<Address>> {
    if has_line_break(text) {
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "contains a CR, LF or NUL character".into(),
        });
    }
    let (list, repaired) = address::parse_list_checked(text.as_bytes());
    if repaired {
        // The reader splits `a@x b@y` and `Name a@x` leniently; a sender writes commas
        // and angle brackets.
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "addresses need a comma between them, and a name needs <> around its address"
                .into(),
        });
    }
    if list.is_empty() {
        return Err(BuildError::InvalidAddress {
            text: text.to_owned(),
            reason: "no address in it".into(),
        });
    }
    for a in &list {
        // The reader accepts obsolete forms (`a . b@x`, comments, routes) and normalises
        // them; a sender must not: what is sent is what was written.
        if !a.email.is_empty() && !text.contains(a.email.as_str()) && !text.contains('"') {
            return Err(BuildError::InvalidAddress {
                text: text.to_owned(),
                reason: format!("it is read as {:?} (obsolete or malformed syntax)", a.email),
            });
        }
        check_address(a).map_err(|e| match e {
            BuildError::InvalidAddress { reason, .. } => BuildError::InvalidAddress {
                text: text.to_owned(),
                reason,
            },
            e => e,
        })?;
    }
    Ok(list)
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Why `email` is not an RFC 5322 addr-spec, if it is not.
fn addr_spec_problem(email: &str) -> Option<&'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("it has no @domain");
    };
    if local.is_empty() {
        return Some("the part before @ is empty");
    }
    if domain.is_empty() {
        return Some("the domain is empty");
    }
    if email.len() > 254 {
        return Some("it is longer than 254 octets (RFC 5321 §4.5.3.1)");
    }
    if local.len() > 64 {
        return Some("the part before @ is longer than 64 octets (RFC 5321 §4.5.3.1)");
    }
    if let Some(inner) = local.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return Some("an unterminated quoted string");
        };
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.next().is_some() => {}
                '"' | '\\' => return Some("an unescaped quote or backslash"),
                c if c.is_control() => return Some("a control character"),
                _ => {}
            }
        }
    } else if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(is_atext))
    {
        return Some("the part before @ is not a dot-atom (RFC 5322 §3.4.1)");
    }
    if let Some(literal) = domain.strip_prefix('[') {
        let ok = literal.strip_suffix(']').is_some_and(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| (33..=126).contains(&b) && !b"[]\\".contains(&b))
        });
        if !ok {
            return Some("a malformed domain literal");
        }
    } else if domain.split('.').any(|label| {
        label.is_empty()
            || !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii())
    }) {
        return Some("the domain is not a host name");
    }
    None
}

/// Check an address given to the builder: no line breaks anywhere, a valid addr-spec.
pub fn check_address(a: &Address) -> Result<()> {
    let text = || address::format(&a.name, &a.email);
    let bad = |reason: &str| BuildError::InvalidAddress {
        text: text(),
        reason: reason.to_owned(),
    };
    if has_line_break(&a.name)
        || has_line_break(&a.email)
        || a.group.as_deref().is_some_and(has_line_break)
    {
        return Err(bad("contains a CR, LF or NUL character"));
    }
    if let Some(reason) = addr_spec_problem(&a.email) {
        return Err(bad(reason));
    }
    Ok(())
}

/// Check a msg-id (without angle brackets).
pub fn check_id(field: &str, id: &str) -> Result<()> {
    check_line(field, id)?;
    let reason = if id.is_empty() {
        "an empty msg-id"
    } else if id.len() > MAX_RUN {
        "a msg-id longer than 900 characters"
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        "a msg-id cannot hold whitespace, control characters or angle brackets"
    } else {
        return Ok(());
    };
    Err(BuildError::InvalidValue {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

/// msg-ids from text: `<a@b> <c@d>`, or a bare `a@b`.
pub fn parse_ids(field: &str, text: &str) -> Result<Vec<String>> {
    check_line(field, text)?;
    let ids: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .unwrap_or(s)
                .to_owned()
        })
        .collect();
    if ids.is_empty() {
        return Err(BuildError::InvalidValue {
            field: field.to_owned(),
            reason: "no msg-id in it".into(),
        });
    }
    for id in &ids {
        check_id(field, id)?;
    }
    Ok(ids)
}

fn parse_date(field: &str, text: &str) -> Result<String> {
    check_line(field, text)?;
    if text.len() > 200 || super::date::parse(text.as_bytes()).is_none() {
        return Err(BuildError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is not an RFC 5322 date-time"),
        });
    }
    Ok(text.trim().to_owned())
}

// ---------------------------------------------------------------------------------------
// Dates and unique strings

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Year, month, day of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An RFC 5322 §3.3 date-time for a Unix time and a UTC offset in seconds:
/// `Mon, 8 Mar 2010 19:55:06 -0600`. Years before 1900 are refused (§3.3).
pub fn format_date(unix: i64, offset: i32) -> Result<String> {
    let offset_minutes = offset.div_euclid(60);
    if offset_minutes.abs() >= 100 * 60 {
        return Err(BuildError::InvalidValue {
            field: "Date".into(),
            reason: "the UTC offset is out of range".into(),
        });
    }
    let local = unix + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(1900..=9999).contains(&year) {
        return Err(BuildError::InvalidValue {
            field: "Date".into(),
            reason: format!("year {year} is outside 1900-9999 (RFC 5322 §3.3)"),
        });
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    Ok(format!(
        "{}, {} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[(days + 4).rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        sign,
        off / 60,
        off % 60
    ))
}

/// The current time with the local UTC offset.
pub fn now_local() -> (i64, i32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut offset = 0;
    #[cfg(unix)]
    {
        let t = now as libc::time_t;
        // SAFETY: `localtime_r` only writes the `tm` it is given; a zeroed `tm` is a valid
        // value of that plain C struct.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if !libc::localtime_r(&t, &mut tm).is_null() {
                offset = tm.tm_gmtoff as i32;
            }
        }
    }
    (now, offset)
}

/// 64 unpredictable bits: SipHash, keyed from the OS's random source once per thread
/// (`RandomState`), of a process-wide counter and the time.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A new msg-id (without brackets) at `domain`: time and 128 random bits.
pub fn new_message_id(domain: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{secs:x}.{:016x}{:016x}@{domain}",
        random_u64(),
        random_u64()
    )
}

/// A random multipart boundary. It starts with `=_`, which neither quoted-printable (`=`
/// is always followed by two hex digits) nor Base64 can produce, so only unencoded parts
/// need checking.
fn new_boundary() -> String {
    format!("=_{:016x}{:016x}", random_u64(), random_u64())
}

// ---------------------------------------------------------------------------------------
// Header writing

/// Writes one header field, folding before whitespace when a line would pass 78 columns.
struct Folder<'o> {
    out: &'o mut Vec<u8>,
    col: usize,
    started: bool,
}

impl<'o> Folder<'o> {
    fn new(out: &'o mut Vec<u8>, name: &str) -> Self {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        Folder {
            out,
            col: name.len() + 1,
            started: false,
        }
    }

    /// Write `ws` (whitespace the value has at this point; empty to glue) and `word`. The
    /// first word is never folded onto a line of its own.
    fn word(&mut self, ws: &str, word: &str) {
        if self.started && !ws.is_empty() && self.col + ws.len() + word.len() > FOLD {
            self.out.extend_from_slice(b"\r\n");
            self.col = 0;
        }
        self.out.extend_from_slice(ws.as_bytes());
        self.out.extend_from_slice(word.as_bytes());
        self.col += ws.len() + word.len();
        self.started = true;
    }

    /// Columns left on this line after a separating space.
    fn room(&self) -> usize {
        FOLD.saturating_sub(self.col + 1)
    }

    /// Room for the first of a run of encoded words.
    fn first_word_room(&self) -> usize {
        let room = self.room().min(MAX_WORD);
        if room >= MIN_WORD {
            room
        } else if self.started {
            MAX_WORD // it folds onto a new line, which has 77 columns after the space
        } else {
            MIN_WORD // a long field name: the first line runs over rather than fold empty
        }
    }

    fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// The value split at whitespace: `(whitespace before, word)`, whitespace runs kept as they
/// are so that unfolding gives the value back.
fn split_ws(text: &str) -> Vec<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let ws_start = i;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let word_start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if word_start == i {
            // Trailing whitespace stays with the last word: a fold there would leave a
            // line of whitespace only.
            if let Some(last) = spans.last_mut() {
                last.2 = i;
            }
            break;
        }
        spans.push((ws_start, word_start, i));
    }
    spans
        .into_iter()
        .map(|(a, b, c)| (&text[a..b], &text[b..c]))
        .collect()
}

/// RFC 2047 encoded words for `text` in UTF-8, B or Q (whichever is shorter for the whole
/// text), split between characters: the first is at most `first` characters long, the
/// others at most 75. Q words use only the characters allowed in a phrase (§5 rule 3), so
/// the words serve display names too.
fn encoded_words(text: &str, first: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let use_b = bytes.len().div_ceil(3) * 4 < quoted_printable::encoded_header_len(bytes);
    let make = |data: &[u8]| {
        let (kind, body) = if use_b {
            ('B', base64::encode(data, None))
        } else {
            ('Q', quoted_printable::encode_header(data))
        };
        // Both encoders write ASCII.
        format!("=?utf-8?{kind}?{}?=", String::from_utf8_lossy(&body))
    };
    let mut words = Vec::new();
    let mut room = first.min(MAX_WORD);
    let mut start = 0;
    let mut q_len = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let char_q = quoted_printable::encoded_header_len(&bytes[i..end]);
        let len = if use_b {
            (end - start).div_ceil(3) * 4
        } else {
            q_len + char_q
        };
        if WORD_OVERHEAD + len > room && i > start {
            words.push(make(&bytes[start..i]));
            start = i;
            room = MAX_WORD;
            q_len = char_q;
        } else {
            q_len = len;
        }
    }
    if start < bytes.len() || words.is_empty() {
        words.push(make(&bytes[start..]));
    }
    words
}

fn write_encoded(f: &mut Folder<'_>, text: &str, tail: &str) {
    let mut words = encoded_words(text, f.first_word_room());
    if let Some(last) = words.last_mut() {
        last.push_str(tail);
    }
    for w in &words {
        f.word(" ", w);
    }
}

/// Must unstructured text go out as encoded words? Non-ASCII (without UTF-8 output),
/// control characters, whitespace at either end (unfolding would lose it), text that looks
/// like an encoded word (a reader would decode it), or a run too long for one line.
fn text_needs_words(text: &str, utf8: bool) -> bool {
    (!utf8 && !text.is_ascii())
        || text.chars().any(|c| c.is_control() && c != '\t')
        || text.starts_with([' ', '\t'])
        || text.ends_with([' ', '\t'])
        || text.contains("=?")
        || text.split([' ', '\t']).any(|w| w.len() > MAX_RUN - FOLD)
}

fn write_text(out: &mut Vec<u8>, name: &str, text: &str, utf8: bool) {
    let mut f = Folder::new(out, name);
    if text.is_empty() {
    } else if text_needs_words(text, utf8) {
        write_encoded(&mut f, text, "");
    } else {
        for (i, (ws, word)) in split_ws(text).into_iter().enumerate() {
            f.word(if i == 0 { " " } else { ws }, word);
        }
    }
    f.finish();
}

/// A display name (or group name) as an RFC 5322 phrase: atoms as they are, a quoted
/// string when it holds specials or runs of whitespace, encoded words when it must.
fn write_phrase(f: &mut Folder<'_>, name: &str, utf8: bool, tail: &str) {
    let needs_words = (!utf8 && !name.is_ascii())
        || name.chars().any(|c| c.is_control() && c != '\t')
        || name.contains("=?")
        || name.split(' ').any(|w| w.len() > MAX_RUN - FOLD);
    if needs_words {
        return write_encoded(f, name, tail);
    }
    let plain = !name.is_empty()
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.chars().all(is_atext));
    let display: Cow<'_, str> = if plain {
        Cow::Borrowed(name)
    } else {
        let mut q = String::with_capacity(name.len() + 2);
        q.push('"');
        for c in name.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        Cow::Owned(q)
    };
    let words = split_ws(&display);
    let last = words.len().saturating_sub(1);
    for (i, (ws, word)) in words.into_iter().enumerate() {
        let ws = if i == 0 { " " } else { ws };
        if i == last {
            f.word(ws, &format!("{word}{tail}"));
        } else {
            f.word(ws, word);
        }
    }
}

fn write_mailbox(f: &mut Folder<'_>, a: &Address, utf8: bool, tail: &str) {
    if a.name.is_empty() {
        f.word(" ", &format!("{}{tail}", a.email));
    } else {
        write_phrase(f, &a.name, utf8, "");
        f.word(" ", &format!("<{}>{tail}", a.email));
    }
}

fn write_addresses(out: &mut Vec<u8>, name: &str, list: &[Address], utf8: bool) -> Result<()> {
    for a in list {
        check_address(a)?;
        if !utf8 && !a.email.is_ascii() {
            return Err(BuildError::InvalidAddress {
                text: address::format(&a.name, &a.email),
                reason: "a non-ASCII address needs UTF-8 output (utf8=True, SMTPUTF8, RFC 6531)"
                    .into(),
            });
        }
    }
    let mut f = Folder::new(out, name);
    let mut i = 0;
    while i < list.len() {
        let more_after = |j: usize| j < list.len();
        match list[i].group.as_deref().filter(|g| !g.is_empty()) {
            Some(group) => {
                let mut j = i;
                while j < list.len() && list[j].group.as_deref() == Some(group) {
                    j += 1;
                }
                write_phrase(&mut f, group, utf8, ":");
                for (k, member) in list[i..j].iter().enumerate() {
                    let tail = match (i + k + 1 < j, more_after(j)) {
                        (true, _) => ",",
                        (false, true) => ";,",
                        (false, false) => ";",
                    };
                    write_mailbox(&mut f, member, utf8, tail);
                }
                i = j;
            }
            None => {
                let tail = if more_after(i + 1) { "," } else { "" };
                write_mailbox(&mut f, &list[i], utf8, tail);
                i += 1;
            }
        }
    }
    f.finish();
    Ok(())
}

fn write_ids(out: &mut Vec<u8>, name: &str, ids: &[String], utf8: bool) -> Result<()> {
    for id in ids {
        check_id(name, id)?;
        if !utf8 && !id.is_ascii() {
            return Err(BuildError::InvalidValue {
                field: name.to_owned(),
                reason: "a non-ASCII msg-id needs UTF-8 output (utf8=True)".into(),
            });
        }
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    MessageId::new_list(ids.iter().map(String::as_str)).write_header(out, name.len() + 2);
    Ok(())
}

/// Write the header field `name: value` (CRLF-terminated, folded).
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &Value, utf8: bool) -> Result<()> {
    match value {
        Value::Text(t) => {
            check_line(name, t)?;
            write_text(out, name, t, utf8);
            Ok(())
        }
        Value::Addresses(list) => write_addresses(out, name, list, utf8),
        Value::Ids(ids) => write_ids(out, name, ids, utf8),
        Value::Date(d) => {
            check_line(name, d)?;
            let mut f = Folder::new(out, name);
            for (i, (ws, word)) in split_ws(d).into_iter().enumerate() {
                f.word(if i == 0 { " " } else { ws }, word);
            }
            f.finish();
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Bodies

/// What the output may contain besides 7-bit ASCII.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// UTF-8 in header fields and addresses (RFC 6532; sent with SMTPUTF8). Implies
    /// `eight_bit`.
    pub utf8: bool,
    /// 8-bit text bodies (`Content-Transfer-Encoding: 8bit`; sent with 8BITMIME).
    pub eight_bit: bool,
    /// Every text and binary body in Base64, whose lines never start with `--`: the editor
    /// asks for it when new content would hold a delimiter line of the multipart it goes
    /// into.
    pub force_base64: bool,
}

impl Options {
    fn eight_bit(&self) -> bool {
        self.eight_bit || self.utf8
    }
}

/// A MIME type with parameters (RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub maintype: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

impl MediaType {
    /// Parse `type/subtype; name=value...`. Multipart types are refused: the builder makes
    /// its own multiparts.
    pub fn parse(text: &str) -> Result<MediaType> {
        check_line("Content-Type", text)?;
        let bad = |reason: String| BuildError::InvalidValue {
            field: "Content-Type".into(),
            reason,
        };
        let parsed = params::parse(text);
        let (maintype, subtype) = parsed
            .value
            .split_once('/')
            .filter(|(t, s)| is_token(t) && is_token(s))
            .ok_or_else(|| bad(format!("{text:?} is not type/subtype")))?;
        let maintype = maintype.to_ascii_lowercase();
        if maintype == "multipart" {
            return Err(bad(
                "multipart types are made by the builder from the text, HTML and attachments"
                    .into(),
            ));
        }
        Ok(MediaType {
            maintype,
            subtype: subtype.to_ascii_lowercase(),
            params: parsed.params,
        })
    }

    pub fn new(maintype: &str, subtype: &str) -> MediaType {
        MediaType {
            maintype: maintype.into(),
            subtype: subtype.into(),
            params: Vec::new(),
        }
    }

    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.maintype, self.subtype)
    }

    fn set_param(&mut self, name: &str, value: &str) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.params.push((name.to_owned(), value.to_owned()));
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.maintype, self.subtype)?;
        for (n, v) in &self.params {
            match params::encode(n, v, "utf-8") {
                Ok(p) => write!(f, "; {p}")?,
                Err(_) => write!(f, "; {n}={v:?}")?,
            }
        }
        Ok(())
    }
}

/// A part's content.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    /// Bytes, sent exactly as they are (Base64 unless they are 7-bit text).
    Bytes(Cow<'a, [u8]>),
    /// Text: sent as UTF-8 with its line breaks made CRLF.
    Text(Cow<'a, str>),
    /// A message (`message/rfc822`), kept as it is: 7bit or 8bit, never encoded (RFC 2046
    /// §5.2.1).
    Message(Cow<'a, [u8]>),
}

/// An attachment, an inline part (an image an HTML body shows by Content-ID), or an
/// attached message.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    pub content: Content<'a>,
    pub media_type: MediaType,
    pub filename: Option<String>,
    /// `Content-Disposition: inline` rather than `attachment`.
    pub inline: bool,
    /// Content-ID, without angle brackets.
    pub content_id: Option<String>,
}

impl Attachment<'_> {
    /// Check what the caller gave.
    pub fn check(&self) -> Result<()> {
        if let Some(f) = &self.filename {
            check_line("the attachment file name", f)?;
        }
        if let Some(cid) = &self.content_id {
            check_id("Content-ID", cid)?;
        }
        for (n, v) in &self.media_type.params {
            check_line("a Content-Type parameter", n)?;
            check_line("a Content-Type parameter", v)?;
        }
        Ok(())
    }
}

/// Text with every line break (CRLF, bare CR, bare LF) made CRLF, as MIME's canonical
/// text form wants (RFC 2046 §4.1.1); the stdlib splits lines the same way.
pub fn crlf_text(text: &str) -> Cow<'_, str> {
    let data = text.as_bytes();
    let mut breaks = memchr::memchr2_iter(b'\r', b'\n', data).peekable();
    let mut clean = true;
    while let Some(i) = breaks.next() {
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            breaks.next();
        } else {
            clean = false;
            break;
        }
    }
    if clean {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut last = 0;
    let mut breaks = memchr::memchr2_iter(b'\r', b'\n', data).peekable();
    while let Some(i) = breaks.next() {
        out.extend_from_slice(&data[last..i]);
        out.extend_from_slice(b"\r\n");
        last = i + 1;
        if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
            breaks.next();
            last = i + 2;
        }
    }
    out.extend_from_slice(&data[last..]);
    // Only ASCII line breaks were replaced, so the bytes are still UTF-8.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Bare LFs made CRLF (a message read from a Unix file, say); CRLFs kept.
pub fn crlf_bytes(data: &[u8]) -> Cow<'_, [u8]> {
    let bare = memchr::memchr_iter(b'\n', data).any(|i| i == 0 || data[i - 1] != b'\r');
    if !bare {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        if i == 0 || data[i - 1] != b'\r' {
            out.extend_from_slice(&data[last..i]);
            out.extend_from_slice(b"\r\n");
            last = i + 1;
        }
    }
    out.extend_from_slice(&data[last..]);
    Cow::Owned(out)
}

/// What a CRLF-text body holds: longest line, any 8-bit byte, any NUL, any bare CR or LF.
struct Shape {
    longest: usize,
    eight_bit: bool,
    nul: bool,
    bare_break: bool,
}

fn shape(data: &[u8]) -> Shape {
    let mut s = Shape {
        longest: 0,
        eight_bit: !data.is_ascii(),
        nul: memchr::memchr(0, data).is_some(),
        bare_break: false,
    };
    let mut start = 0;
    for i in memchr::memchr2_iter(b'\r', b'\n', data) {
        if data[i] == b'\r' {
            if data.get(i + 1) != Some(&b'\n') {
                s.bare_break = true;
            }
            continue;
        }
        if i == 0 || data[i - 1] != b'\r' {
            s.bare_break = true;
            s.longest = s.longest.max(i - start);
        } else {
            s.longest = s.longest.max(i - 1 - start);
        }
        start = i + 1;
    }
    s.longest = s.longest.max(data.len() - start);
    s
}

/// Where a message is written: a growing `Vec`, or a buffer already of the message's size
/// (the Python layer writes straight into a `bytes` object).
pub trait Sink {
    fn put(&mut self, data: &[u8]);
    /// `data` Base64-encoded in 76-character lines, CRLF between them.
    fn put_base64(&mut self, data: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }

    fn put_base64(&mut self, data: &[u8]) {
        let start = self.len();
        self.resize(start + base64::encoded_len(data.len(), Some(76)), 0);
        base64::encode_into(data, Some(76), &mut self[start..]);
    }
}

/// A buffer of a known size, filled from the start.
pub struct SliceSink<'s> {
    buf: &'s mut [u8],
    at: usize,
    overflow: bool,
}

impl<'s> SliceSink<'s> {
    pub fn new(buf: &'s mut [u8]) -> Self {
        SliceSink {
            buf,
            at: 0,
            overflow: false,
        }
    }

    /// Was the buffer filled exactly?
    pub fn is_exact(&self) -> bool {
        !self.overflow && self.at == self.buf.len()
    }

    fn take(&mut self, n: usize) -> Option<&mut [u8]> {
        let end = self.at.checked_add(n)?;
        let Some(dst) = self.buf.get_mut(self.at..end) else {
            self.overflow = true;
            return None;
        };
        self.at = end;
        Some(dst)
    }
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, data: &[u8]) {
        if let Some(dst) = self.take(data.len()) {
            dst.copy_from_slice(data);
        }
    }

    fn put_base64(&mut self, data: &[u8]) {
        if let Some(dst) = self.take(base64::encoded_len(data.len(), Some(76))) {
            base64::encode_into(data, Some(76), dst);
        }
    }
}

/// How a leaf's body goes out.
enum LeafBody<'b> {
    /// As it is: 7bit or 8bit text, an attached message.
    Verbatim(Cow<'b, [u8]>),
    /// Base64 in 76-character lines, encoded straight into the output.
    Base64(Cow<'b, [u8]>),
    /// Already encoded (quoted-printable).
    Encoded(Vec<u8>),
}

impl LeafBody<'_> {
    fn len(&self) -> usize {
        match self {
            LeafBody::Verbatim(b) => b.len(),
            LeafBody::Base64(b) => base64::encoded_len(b.len(), Some(76)),
            LeafBody::Encoded(v) => v.len(),
        }
    }

    fn write(&self, out: &mut impl Sink) {
        match self {
            LeafBody::Verbatim(b) => out.put(b),
            LeafBody::Encoded(v) => out.put(v),
            LeafBody::Base64(b) => out.put_base64(b),
        }
    }

    /// Content that goes out as it is, where a boundary could appear. Base64 and
    /// quoted-printable output cannot hold `=_`, which every boundary starts with.
    fn verbatim(&self) -> Option<&[u8]> {
        match self {
            LeafBody::Verbatim(b) => Some(b),
            _ => None,
        }
    }
}

/// Quoted-printable or Base64 for `data`, whichever comes out shorter.
fn qp_or_base64(data: Cow<'_, [u8]>, binary: bool) -> (&'static str, LeafBody<'_>) {
    let line_break = |b: u8| !binary && (b == b'\r' || b == b'\n');
    let escaped = data
        .iter()
        .filter(|&&b| {
            !(b == b' ' || b == b'\t' || (33..=126).contains(&b) || line_break(b)) || b == b'='
        })
        .count();
    let qp_estimate = data.len() + 2 * escaped + data.len() / 25;
    let b64_estimate = base64::encoded_len(data.len(), Some(76));
    if qp_estimate <= b64_estimate {
        (
            "quoted-printable",
            LeafBody::Encoded(quoted_printable::encode(&data, binary)),
        )
    } else {
        ("base64", LeafBody::Base64(data))
    }
}

fn bytes_of(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// A text body's transfer encoding and body. `data` has CRLF line breaks.
fn encode_text<'d>(data: Cow<'d, [u8]>, opts: &Options) -> (&'static str, LeafBody<'d>) {
    if opts.force_base64 {
        return ("base64", LeafBody::Base64(data));
    }
    let s = shape(&data);
    if !s.nul && !s.bare_break {
        if !s.eight_bit && s.longest <= FOLD {
            return ("7bit", LeafBody::Verbatim(data));
        }
        if opts.eight_bit() && s.longest <= MAX_LINE {
            let cte = if s.eight_bit { "8bit" } else { "7bit" };
            return (cte, LeafBody::Verbatim(data));
        }
    }
    qp_or_base64(data, false)
}

/// Bytes' transfer encoding: 7bit when they are short-lined CRLF ASCII text already (for
/// `text/*`), else Base64, so that they come back exactly.
fn encode_bytes<'d>(data: &'d [u8], textual: bool, opts: &Options) -> (&'static str, LeafBody<'d>) {
    if textual && !opts.force_base64 {
        let s = shape(data);
        if !s.nul && !s.bare_break && !s.eight_bit && s.longest <= FOLD {
            return ("7bit", LeafBody::Verbatim(Cow::Borrowed(data)));
        }
    }
    ("base64", LeafBody::Base64(Cow::Borrowed(data)))
}

/// Write `Content-Type: type/subtype; params; name="..."`, the name RFC 2047-encoded when
/// it is not plain ASCII (what clients that ignore RFC 2231 read).
fn write_content_type(
    out: &mut Vec<u8>,
    mt: &MediaType,
    name: Option<&str>,
    utf8: bool,
) -> Result<()> {
    let mut f = Folder::new(out, "Content-Type");
    let mut tokens: Vec<String> = vec![mt.essence()];
    for (n, v) in &mt.params {
        if n.eq_ignore_ascii_case("name") && name.is_some() {
            continue;
        }
        let p = params::encode(n, v, "utf-8").map_err(|e| BuildError::InvalidValue {
            field: "Content-Type".into(),
            reason: e.to_string(),
        })?;
        tokens.extend(p.split("; ").map(str::to_owned));
    }
    let last = tokens.len() - 1;
    for (i, t) in tokens.iter().enumerate() {
        let sep = if i < last || name.is_some() { ";" } else { "" };
        f.word(" ", &format!("{t}{sep}"));
    }
    if let Some(name) = name {
        let plain = name.len() <= 60
            && (name.is_ascii() || utf8)
            && !name.chars().any(char::is_control)
            && !name.contains("=?");
        if plain {
            let quoted = format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""));
            for (i, (ws, word)) in split_ws(&format!("name={quoted}")).into_iter().enumerate() {
                f.word(if i == 0 { " " } else { ws }, word);
            }
        } else {
            // `name="` and the closing quote take 7 of the first word's columns.
            let first = f.first_word_room().saturating_sub(7).max(MIN_WORD);
            let words = encoded_words(name, first);
            let n = words.len();
            for (i, w) in words.iter().enumerate() {
                let open = if i == 0 { "name=\"" } else { "" };
                let close = if i + 1 == n { "\"" } else { "" };
                f.word(" ", &format!("{open}{w}{close}"));
            }
        }
    }
    f.finish();
    Ok(())
}

/// A part ready to be written: its header lines, then its body.
pub struct Leaf<'b> {
    head: Vec<u8>,
    body: LeafBody<'b>,
}

impl Leaf<'_> {
    /// Its size once written.
    pub fn len(&self) -> usize {
        self.head.len() + 2 + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn write(&self, out: &mut impl Sink) {
        out.put(&self.head);
        out.put(b"\r\n");
        self.body.write(out);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write(&mut out);
        out
    }
}

fn head_end(head: &mut Vec<u8>, cte: &str) {
    head.extend_from_slice(b"Content-Transfer-Encoding: ");
    head.extend_from_slice(cte.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// An attachment (or inline part, or attached message) ready to be written.
pub fn prepare_leaf<'b>(att: &'b Attachment<'_>, opts: &Options) -> Result<Leaf<'b>> {
    att.check()?;
    let mut mt = att.media_type.clone();
    let filename = att.filename.as_deref().filter(|f| !f.is_empty());
    let (cte, body) = match &att.content {
        Content::Text(t) => {
            mt.set_param("charset", "utf-8");
            encode_text(bytes_of(crlf_text(t)), opts)
        }
        Content::Bytes(b) => encode_bytes(b, mt.maintype == "text", opts),
        Content::Message(m) => {
            let m = crlf_bytes(m);
            let cte = if m.is_ascii() { "7bit" } else { "8bit" };
            (cte, LeafBody::Verbatim(m))
        }
    };
    let mut head = Vec::with_capacity(256);
    write_content_type(&mut head, &mt, filename, opts.utf8)?;
    let disposition = if att.inline { "inline" } else { "attachment" };
    if filename.is_some() || att.inline || att.content_id.is_none() {
        let mut cd = ContentType::new(disposition);
        if let Some(f) = filename {
            cd = cd.attribute("filename", f);
        }
        head.extend_from_slice(b"Content-Disposition: ");
        cd.write_header(&mut head, "Content-Disposition: ".len());
    }
    if let Some(cid) = &att.content_id {
        head.extend_from_slice(b"Content-ID: ");
        MessageId::new(cid.as_str()).write_header(&mut head, "Content-ID: ".len());
    }
    head_end(&mut head, cte);
    Ok(Leaf { head, body })
}

/// A text body part (`text/plain` or `text/html`, UTF-8) ready to be written.
pub fn prepare_text<'b>(text: &'b str, subtype: &str, opts: &Options) -> Leaf<'b> {
    let (cte, body) = encode_text(bytes_of(crlf_text(text)), opts);
    let mut head = Vec::with_capacity(96);
    head.extend_from_slice(b"Content-Type: text/");
    head.extend_from_slice(subtype.as_bytes());
    head.extend_from_slice(b"; charset=utf-8\r\n");
    head_end(&mut head, cte);
    Leaf { head, body }
}

/// One leaf part, header lines and encoded body, as bytes (what the editor inserts).
pub fn write_leaf(att: &Attachment<'_>, opts: &Options) -> Result<Vec<u8>> {
    prepare_leaf(att, opts).map(|l| l.to_vec())
}

/// A text body part (`text/plain` or `text/html`, UTF-8), without Content-Disposition.
pub fn write_text_leaf(text: &str, subtype: &str, opts: &Options) -> Vec<u8> {
    prepare_text(text, subtype, opts).to_vec()
}

/// `Content-Type: multipart/<subtype>; boundary="..."` and its line break.
pub fn multipart_header(subtype: &str, boundary: &str) -> Vec<u8> {
    let mut out = b"Content-Type: ".to_vec();
    ContentType::new(format!("multipart/{subtype}"))
        .attribute("boundary", boundary)
        .write_header(&mut out, "Content-Type: ".len());
    out
}

/// A MIME tree ready to be written. Its size is known before it is written, so the message
/// is written into one buffer of the right size, each Base64 body encoded in place.
pub enum Node<'b> {
    Leaf(Leaf<'b>),
    Multipart {
        boundary: String,
        head: Vec<u8>,
        children: Vec<Node<'b>>,
    },
}

impl<'b> Node<'b> {
    /// A multipart of these parts, with a boundary that none of them holds.
    pub fn multipart(subtype: &str, children: Vec<Node<'b>>) -> Self {
        let boundary = fresh_boundary(|b| children.iter().any(|c| c.holds(b)));
        Node::Multipart {
            head: multipart_header(subtype, &boundary),
            boundary,
            children,
        }
    }

    fn holds(&self, needle: &[u8]) -> bool {
        match self {
            Node::Leaf(l) => l
                .body
                .verbatim()
                .is_some_and(|v| memmem::find(v, needle).is_some()),
            Node::Multipart {
                boundary, children, ..
            } => {
                memmem::find(boundary.as_bytes(), needle).is_some()
                    || children.iter().any(|c| c.holds(needle))
            }
        }
    }

    /// Its size once written.
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len(),
            Node::Multipart {
                boundary,
                head,
                children,
            } => {
                // `CRLF--b CRLF` before each part, `CRLF--b-- CRLF` after the last.
                head.len()
                    + children
                        .iter()
                        .map(|c| boundary.len() + 6 + c.len())
                        .sum::<usize>()
                    + boundary.len()
                    + 8
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write the part (its header fields and body).
    pub fn write(&self, out: &mut impl Sink) {
        match self {
            Node::Leaf(l) => l.write(out),
            Node::Multipart {
                boundary,
                head,
                children,
            } => {
                out.put(head);
                for c in children {
                    out.put(b"\r\n--");
                    out.put(boundary.as_bytes());
                    out.put(b"\r\n");
                    c.write(out);
                }
                out.put(b"\r\n--");
                out.put(boundary.as_bytes());
                out.put(b"--\r\n");
            }
        }
    }
}

/// Does `data` hold a line starting `--boundary` (a delimiter, RFC 2046 §5.1.1)?
pub fn has_delimiter_line(data: &[u8], boundary: &[u8]) -> bool {
    let mut needle = Vec::with_capacity(boundary.len() + 2);
    needle.extend_from_slice(b"--");
    needle.extend_from_slice(boundary);
    memmem::find_iter(data, &needle).any(|i| i == 0 || data[i - 1] == b'\n')
}

/// A random boundary that `taken` says is not in the content (RFC 2046 §5.1.1).
pub fn fresh_boundary(mut taken: impl FnMut(&[u8]) -> bool) -> String {
    loop {
        let b = new_boundary();
        if !taken(b.as_bytes()) {
            return b;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The builder

/// A message under construction: header fields in order, text and HTML bodies,
/// attachments (inline parts among them).
#[derive(Debug, Clone, Default)]
pub struct Builder<'a> {
    pub fields: Vec<(String, Value)>,
    pub text: Option<Cow<'a, str>>,
    pub html: Option<Cow<'a, str>>,
    pub attachments: Vec<Attachment<'a>>,
    pub options: Options,
}

impl<'a> Builder<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of the first field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name).map(|i| &self.fields[i].1)
    }

    /// Set the field `name`: it replaces every field of that name, at the first one's place.
    pub fn set(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        value.check(name)?;
        match self.position(name) {
            Some(i) => {
                self.fields[i] = (name.to_owned(), value);
                let mut k = 0;
                self.fields.retain(|(n, _)| {
                    k += 1;
                    k - 1 == i || !n.eq_ignore_ascii_case(name)
                });
            }
            None => self.fields.push((name.to_owned(), value)),
        }
        Ok(())
    }

    /// Add a field after the others; fields RFC 5322 allows once cannot be added twice.
    pub fn add(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        value.check(name)?;
        if is_once(name) && self.position(name).is_some() {
            return Err(BuildError::Duplicate {
                field: name.to_owned(),
            });
        }
        self.fields.push((name.to_owned(), value));
        Ok(())
    }

    /// Remove every field `name`.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The message's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let r = self.render()?;
        let mut out = Vec::with_capacity(r.len());
        r.write(&mut out);
        debug_assert_eq!(out.len(), r.len());
        Ok(out)
    }

    /// The message, ready to be written: header fields done, parts encoded or planned
    /// (Base64 is encoded while writing), its size known.
    pub fn render(&self) -> Result<Rendered<'_>> {
        let opts = self.options;
        let domain = match self.get("From") {
            Some(Value::Addresses(list)) if !list.is_empty() => list
                .iter()
                .find_map(|a| a.email.rsplit_once('@').map(|(_, d)| d.to_owned()))
                .unwrap_or_else(|| "localhost".into()),
            _ => return Err(BuildError::MissingFrom),
        };
        if let Some(Value::Addresses(from)) = self.get("From")
            && from.len() > 1
            && self.get("Sender").is_none()
        {
            return Err(BuildError::InvalidValue {
                field: "From".into(),
                reason: "a From with several addresses needs a Sender (RFC 5322 §3.6.2)".into(),
            });
        }
        let mut out = Vec::with_capacity(1024);
        for (name, value) in &self.fields {
            write_field(&mut out, name, value, opts.utf8)?;
        }
        if self.get("Date").is_none() {
            let (now, offset) = now_local();
            write_field(
                &mut out,
                "Date",
                &Value::Date(format_date(now, offset)?),
                false,
            )?;
        }
        if self.get("Message-ID").is_none() {
            let id = new_message_id(&domain);
            write_field(&mut out, "Message-ID", &Value::Ids(vec![id]), opts.utf8)?;
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        // Every line is now at most 998 octets, except inside an attached message, which
        // goes in as it is.
        Ok(Rendered {
            head: out,
            body: self.body()?,
        })
    }

    /// The MIME tree: `mixed` around the body and the attachments, `alternative` around
    /// text and HTML, `related` around the HTML and the inline parts it refers to.
    fn body(&self) -> Result<Node<'_>> {
        let opts = &self.options;
        let mut inline = Vec::new();
        let mut files = Vec::new();
        for a in &self.attachments {
            let leaf = Node::Leaf(prepare_leaf(a, opts)?);
            if a.inline && a.content_id.is_some() && self.html.is_some() {
                inline.push(leaf);
            } else {
                files.push(leaf);
            }
        }
        let html = self.html.as_deref().map(|h| {
            let leaf = Node::Leaf(prepare_text(h, "html", opts));
            if inline.is_empty() {
                leaf
            } else {
                let mut children = vec![leaf];
                children.append(&mut inline);
                Node::multipart("related", children)
            }
        });
        let text = self
            .text
            .as_deref()
            .map(|t| Node::Leaf(prepare_text(t, "plain", opts)));
        let body = match (text, html) {
            (Some(t), Some(h)) => Some(Node::multipart("alternative", vec![t, h])),
            (t, h) => t.or(h),
        };
        Ok(match (body, files.is_empty()) {
            (Some(b), true) => b,
            (Some(b), false) => {
                files.insert(0, b);
                Node::multipart("mixed", files)
            }
            (None, false) => Node::multipart("mixed", files),
            (None, true) => Node::Leaf(prepare_text("", "plain", opts)),
        })
    }
}

/// A message ready to be written (see [`Builder::render`]).
pub struct Rendered<'b> {
    head: Vec<u8>,
    body: Node<'b>,
}

impl Rendered<'_> {
    /// The size of the message.
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn write(&self, out: &mut impl Sink) {
        out.put(&self.head);
        self.body.write(out);
    }
}

/// The longest line of `data`, in octets, without its line break.
pub fn longest_line(data: &[u8]) -> usize {
    let mut longest = 0;
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', data) {
        let end = if i > 0 && data[i - 1] == b'\r' {
            i - 1
        } else {
            i
        };
        longest = longest.max(end.saturating_sub(start));
        start = i + 1;
    }
    longest.max(data.len() - start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Document;

    fn addr(name: &str, email: &str) -> Address {
        Address {
            name: name.into(),
            email: email.into(),
            group: None,
        }
    }

    fn field(name: &str, value: &Value) -> String {
        let mut out = Vec::new();
        write_field(&mut out, name, value, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn seed_chapter_hello_world_headers() {
        // The seed chapter's first message, field by field.
        let to = Value::parse(
            "To",
            "Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>",
        )
        .unwrap();
        assert_eq!(
            field("To", &to),
            "To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n"
        );
        assert_eq!(
            field(
                "From",
                &Value::Addresses(vec![addr("Bob Smith", "Bob@machine.example")])
            ),
            "From: Bob Smith <Bob@machine.example>\r\n"
        );
        assert_eq!(
            format_date(1_268_099_706, -6 * 3600).unwrap(),
            "Mon, 8 Mar 2010 19:55:06 -0600"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(format_date(0, 0).unwrap(), "Thu, 1 Jan 1970 00:00:00 +0000");
        // RFC 5322 Appendix A.1.1's date.
        assert_eq!(
            format_date(848_309_640, -(6 * 3600)).unwrap(),
            "Mon, 18 Nov 1996 03:34:00 -0600"
        );
        assert_eq!(
            format_date(951_782_400, 5 * 3600 + 1800).unwrap(),
            "Tue, 29 Feb 2000 05:30:00 +0530"
        );
        assert!(format_date(-3_000_000_000, 0).is_err());
        for (t, o) in [(1_700_000_000, 3600), (1_234_567_890, -12 * 3600)] {
            let d = format_date(t, o).unwrap();
            let parsed = super::super::date::parse(d.as_bytes()).unwrap();
            assert_eq!(parsed.offset, o, "{d}");
        }
    }

    #[test]
    fn injection_is_refused() {
        for bad in ["a\r\nBcc: x@y", "a\rb", "a\nb", "a\0b"] {
            assert!(matches!(
                Value::parse("Subject", bad),
                Err(BuildError::LineBreak { .. })
            ));
            assert!(matches!(
                Value::parse("To", &format!("{bad}@example.com")),
                Err(BuildError::InvalidAddress { .. })
            ));
            assert!(check_address(&addr(bad, "a@example.com")).is_err());
            assert!(parse_ids("Message-ID", &format!("<{bad}@x>")).is_err());
            assert!(MediaType::parse(&format!("text/plain; name=\"{bad}\"")).is_err());
        }
        assert!(check_name("X-Bad Name").is_err());
        assert!(check_name("X:y").is_err());
        assert!(check_name("content-type").is_err());
        assert!(check_name("X-Mailer").is_ok());
    }

    #[test]
    fn addresses_are_validated() {
        for bad in [
            "bob",
            "bob@",
            "@x.org",
            "a..b@x.org",
            "a b@x.org",
            "a@x..org",
            "a@[1.2",
        ] {
            assert!(parse_addresses(bad).is_err(), "{bad}");
        }
        for good in [
            "bob@example.com",
            "\"john doe\"@example.com",
            "a.b+c@sub.example.org",
            "x@[192.0.2.1]",
            "Zoë <zoe@example.com>",
        ] {
            assert!(parse_addresses(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn folding_and_encoding() {
        let long = "word ".repeat(40);
        let f = field("Subject", &Value::Text(long.trim_end().into()));
        assert!(f.split("\r\n").all(|l| l.len() <= FOLD), "{f}");
        assert!(!f.contains("=?"));
        let f = field(
            "Subject",
            &Value::Text("Réunion à 15h, très importante ".repeat(5)),
        );
        assert!(f.split("\r\n").all(|l| l.len() <= FOLD), "{f}");
        let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
        assert_eq!(
            doc.root().subject().unwrap(),
            "Réunion à 15h, très importante ".repeat(5)
        );
        // Encoded-word look-alikes are encoded so they read back as written.
        let f = field("Subject", &Value::Text("=?utf-8?q?x?=".into()));
        let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
        assert_eq!(doc.root().subject().unwrap(), "=?utf-8?q?x?=");
        // Display names: atoms plain, specials quoted, non-ASCII encoded.
        let v = Value::Addresses(vec![
            addr("Smith, Bob", "b@x.org"),
            addr("Jürgen Groß", "j@x.org"),
            addr("", "c@x.org"),
        ]);
        let f = field("To", &v);
        assert!(
            f.starts_with("To: \"Smith, Bob\" <b@x.org>, =?utf-8?"),
            "{f}"
        );
        let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
        assert_eq!(
            doc.root().addresses("To"),
            match v {
                Value::Addresses(l) => l,
                _ => unreachable!(),
            }
        );
    }

    #[test]
    fn groups() {
        let v = Value::parse(
            "To",
            "A Group:Ed Jones <c@a.test>,joe@where.test;, x@y.test",
        )
        .unwrap();
        assert_eq!(
            field("To", &v),
            "To: A Group: Ed Jones <c@a.test>, joe@where.test;, x@y.test\r\n"
        );
    }

    #[test]
    fn transfer_encodings() {
        let o = Options::default();
        assert_eq!(encode_text(Cow::Borrowed(b"hello\r\n"), &o).0, "7bit");
        assert_eq!(
            encode_text(Cow::Borrowed("héllo\r\n".as_bytes()), &o).0,
            "quoted-printable"
        );
        assert_eq!(
            encode_text(Cow::Borrowed("日本語のテキスト".as_bytes()), &o).0,
            "base64"
        );
        assert_eq!(
            encode_text(Cow::Borrowed(b"nul\0\r\n"), &o).0,
            "quoted-printable"
        );
        assert_eq!(
            encode_text(Cow::Borrowed("x".repeat(100).as_bytes()), &o).0,
            "quoted-printable"
        );
        let eight = Options {
            eight_bit: true,
            ..Options::default()
        };
        assert_eq!(
            encode_text(Cow::Borrowed("héllo\r\n".as_bytes()), &eight).0,
            "8bit"
        );
        assert_eq!(
            encode_text(Cow::Borrowed("x".repeat(100).as_bytes()), &eight).0,
            "7bit"
        );
        assert_eq!(
            encode_text(Cow::Borrowed("x".repeat(1000).as_bytes()), &eight).0,
            "quoted-printable"
        );
        assert_eq!(encode_bytes(b"a\nb", true, &o).0, "base64");
        assert_eq!(encode_bytes(b"a\r\nb", true, &o).0, "7bit");
        assert_eq!(encode_bytes(b"a\r\nb", false, &o).0, "base64");
        assert_eq!(crlf_text("a\rb\nc\r\nd"), "a\r\nb\r\nc\r\nd");
        assert_eq!(&*crlf_bytes(b"a\nb\r\nc"), b"a\r\nb\r\nc");
    }

    #[test]
    fn build_and_parse() {
        let mut b = Builder::new();
        b.set(
            "From",
            Value::parse("From", "Bob Smith <Bob@machine.example>").unwrap(),
        )
        .unwrap();
        b.set("To", Value::parse("To", "alice@example.net").unwrap())
            .unwrap();
        b.set("Subject", Value::Text("Hello".into())).unwrap();
        b.text = Some("Hi\nthere".into());
        b.html = Some("<p>Hi</p>".into());
        b.attachments.push(Attachment {
            content: Content::Bytes(Cow::Owned((0..=255u8).collect())),
            media_type: MediaType::parse("application/octet-stream").unwrap(),
            filename: Some("Größe — report.bin".into()),
            inline: false,
            content_id: None,
        });
        let bytes = b.to_bytes().unwrap();
        assert!(bytes.is_ascii());
        assert!(
            longest_line(&bytes) <= FOLD,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(memchr::memchr_iter(b'\n', &bytes).all(|i| i > 0 && bytes[i - 1] == b'\r'));
        let doc = Document::from_vec(bytes);
        let m = doc.root();
        assert!(m.defects().is_empty(), "{:?}", m.defects());
        assert_eq!(m.subject().as_deref(), Some("Hello"));
        assert!(m.message_id().unwrap().ends_with("@machine.example"));
        let s = m.body_structure();
        let att = doc.part(s.attachments[0]).unwrap();
        assert_eq!(att.filename().as_deref(), Some("Größe — report.bin"));
        assert_eq!(&*att.payload(), (0..=255u8).collect::<Vec<_>>().as_slice());
        assert_eq!(doc.part(s.text[0]).unwrap().text().unwrap(), "Hi\r\nthere");
        assert!(matches!(
            Builder::new().to_bytes(),
            Err(BuildError::MissingFrom)
        ));
    }

    #[test]
    fn rendered_size_is_exact() {
        // The Python layer writes into a buffer of `len()` bytes: every kind of part must
        // write exactly what it announced.
        let mut b = Builder::new();
        b.set("From", Value::parse("From", "a@example.com").unwrap())
            .unwrap();
        b.text = Some("plain\nsecond line é\n".into());
        b.html = Some(format!("<p>{}</p>", "long line ".repeat(50)).into());
        for (content, mt, inline) in [
            (
                Content::Bytes(Cow::Owned(vec![0u8; 1000])),
                "application/pdf",
                false,
            ),
            (Content::Bytes(Cow::Borrowed(b"a,b\r\n")), "text/csv", false),
            (Content::Text(Cow::Borrowed("x\ny")), "text/plain", false),
            (
                Content::Message(Cow::Borrowed(b"Subject: s\n\nbody\n")),
                "message/rfc822",
                false,
            ),
            (Content::Bytes(Cow::Borrowed(b"\x89PNG")), "image/png", true),
        ] {
            b.attachments.push(Attachment {
                content,
                media_type: MediaType::parse(mt).unwrap(),
                filename: Some("f".into()),
                inline,
                content_id: inline.then(|| "c@x".to_string()),
            });
        }
        let r = b.render().unwrap();
        let mut buf = vec![0u8; r.len()];
        let mut sink = SliceSink::new(&mut buf);
        r.write(&mut sink);
        assert!(sink.is_exact());
        let mut grown = Vec::new();
        r.write(&mut grown);
        assert_eq!(buf, grown);
        assert!(Document::from_vec(grown).root().defects().is_empty());
        let mut short = vec![0u8; r.len() - 1];
        let mut sink = SliceSink::new(&mut short);
        r.write(&mut sink);
        assert!(!sink.is_exact());
    }

    #[test]
    fn boundaries_avoid_content() {
        let mut calls = 0;
        let b = fresh_boundary(|_| {
            calls += 1;
            calls < 3
        });
        assert!(b.starts_with("=_") && b.len() == 34);
        let _ = calls;
    }
}
