//! The lexical layer of IMAP (RFC 9051 §9, "Formal Syntax"): character classes and a cursor
//! that reads atoms, astrings, quoted strings, literals (`{n}`, `{n+}`, `~{n}`), numbers,
//! flags, dates and sequence sets from one complete frame (see [`super::frame`]).
//!
//! The client's response parser and the server's command parser are both written on this
//! cursor. It works on byte slices and never reads past its input; every error says where it
//! happened. Nesting is bounded so a hostile `((((...` cannot overflow the stack.
//!
//! Lenient where real servers are sloppy and nothing is ambiguous: several spaces where one
//! is required, a bare LF for CRLF, 8-bit octets in atoms, `\` before any character in a
//! quoted string, and a line folded inside a parenthesised list (the frame scanner joins
//! such lines; here the CRLF counts as a space).

use std::borrow::Cow;
use std::fmt;

use super::frame::FrameError;
use super::sequence::SequenceSet;
use super::types::DateTime;

/// Deepest nesting of parenthesised lists accepted (BODYSTRUCTURE, extension data).
pub const MAX_DEPTH: usize = 64;

/// Why a frame could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// More input is needed (only from the streaming entry points, never for a whole frame).
    Incomplete,
    /// The input does not follow the grammar: `expected` at offset `at`.
    Syntax { at: usize, expected: &'static str },
    /// Lists nested deeper than [`MAX_DEPTH`].
    TooDeep { at: usize },
    /// The framing failed (line or literal over the limits).
    Frame(FrameError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Incomplete => f.write_str("incomplete response"),
            ParseError::Syntax { at, expected } => {
                write!(f, "expected {expected} at offset {at}")
            }
            ParseError::TooDeep { at } => {
                write!(f, "lists nested deeper than {MAX_DEPTH} at offset {at}")
            }
            ParseError::Frame(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<FrameError> for ParseError {
    fn from(e: FrameError) -> Self {
        ParseError::Frame(e)
    }
}

pub type Result<T> = std::result::Result<T, ParseError>;

/// `CTL`: %x00-1F / %x7F.
pub fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR`: any CHAR except atom-specials (`(`, `)`, `{`, SP, CTL, `%`, `*`, `"`, `\`,
/// `]`). 8-bit octets are accepted (servers send raw UTF-8 names as atoms).
pub fn is_atom_char(b: u8) -> bool {
    !matches!(
        b,
        b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
    ) && !is_ctl(b)
}

/// `ASTRING-CHAR`: ATOM-CHAR or `]`.
pub fn is_astring_char(b: u8) -> bool {
    b == b']' || is_atom_char(b)
}

/// A tag's characters: ASTRING-CHAR except `+`.
pub fn is_tag_char(b: u8) -> bool {
    b != b'+' && is_astring_char(b)
}

/// `list-char`: ATOM-CHAR, the wildcards `%` and `*`, or `]` (a LIST pattern as an atom).
pub fn is_list_char(b: u8) -> bool {
    matches!(b, b'%' | b'*') || is_astring_char(b)
}

/// Characters of a sequence set on the wire.
pub fn is_sequence_char(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b':' | b',' | b'*')
}

/// A literal's header as it appears at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralHeader {
    pub size: u64,
    /// `{n}`: the sender waits for a continuation (`+`) before the data. `{n+}` (LITERAL+,
    /// LITERAL-, RFC 7888) does not. Literals from a server never wait.
    pub synchronizing: bool,
    /// `~{n}`: literal8 (RFC 3516), which may carry NUL.
    pub binary: bool,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC",
];

/// Month number (1-12) of an IMAP month name, any case.
pub fn month_number(name: &[u8]) -> Option<u8> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u8 + 1)
}

/// The three-letter English month name (`Jan`) of month 1-12.
pub fn month_name(month: u8) -> &'static str {
    crate::message::date::MONTH_NAMES[usize::from(month.clamp(1, 12) - 1)]
}

/// A reading position in one frame. Literal data the frame reader took out of line (see
/// [`super::frame`]) is handed in with [`Cursor::with_detached`], keyed by the offset where
/// it would have started; the cursor then moves it into the parsed value without a copy.
pub struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    detached: Vec<(usize, Vec<u8>)>,
    next_detached: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self::with_detached(input, Vec::new())
    }

    /// A cursor over `input` whose literals at the given offsets (ascending) were kept apart.
    pub fn with_detached(input: &'a [u8], detached: Vec<(usize, Vec<u8>)>) -> Self {
        Cursor {
            input,
            pos: 0,
            detached,
            next_detached: 0,
            depth: 0,
        }
    }

    pub fn input(&self) -> &'a [u8] {
        self.input
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Go back to `pos` (from [`Cursor::pos`]) to try another reading. Not across a literal
    /// taken out of line: it was moved into the value already.
    pub fn restore(&mut self, pos: usize) {
        self.pos = pos.min(self.input.len());
    }

    /// Skip `n` octets (at most to the end).
    pub fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.input.len());
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub fn peek_at(&self, k: usize) -> Option<u8> {
        self.input.get(self.pos + k).copied()
    }

    #[cold]
    pub fn error<T>(&self, expected: &'static str) -> Result<T> {
        Err(ParseError::Syntax {
            at: self.pos,
            expected,
        })
    }

    /// Consume `b` if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, b: u8, what: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            self.error(what)
        }
    }

    /// Consume `word` (any case) if it is next and not followed by another atom character.
    pub fn eat_keyword(&mut self, word: &str) -> bool {
        let w = word.as_bytes();
        let end = self.pos + w.len();
        if self.input.len() >= end
            && self.input[self.pos..end].eq_ignore_ascii_case(w)
            && !self.input.get(end).is_some_and(|&b| is_astring_char(b))
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// A line break that folds a list onto the next line (not the frame's final one).
    fn fold_len(&self) -> usize {
        let n = match self.rest() {
            [b'\r', b'\n', ..] => 2,
            [b'\n', ..] => 1,
            _ => return 0,
        };
        if self.pos + n < self.input.len() {
            n
        } else {
            0
        }
    }

    /// The next octet after any spaces (nothing consumed).
    pub fn peek_past_space(&self) -> Option<u8> {
        self.rest()
            .iter()
            .copied()
            .find(|&b| b != b' ' && b != b'\t')
    }

    /// Skip spaces, tabs and folds; whether anything was skipped.
    pub fn skip_space(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                _ => {
                    let n = self.fold_len();
                    if n == 0 {
                        break;
                    }
                    self.pos += n;
                }
            }
        }
        self.pos > start
    }

    /// `SP` (one or more, or a fold).
    pub fn sp(&mut self) -> Result<()> {
        if self.skip_space() {
            Ok(())
        } else {
            self.error("a space")
        }
    }

    /// The frame's end: CRLF (or LF) and nothing after.
    pub fn end(&mut self) -> Result<()> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.eat(b'\r');
        self.expect(b'\n', "the end of the line")?;
        if self.at_end() {
            Ok(())
        } else {
            self.error("the end of the response")
        }
    }

    /// Whether the line (or frame) ends here.
    pub fn at_line_end(&self) -> bool {
        matches!(self.rest(), [] | [b'\r', b'\n', ..] | [b'\n', ..])
    }

    /// Enter a nested list (bounded depth).
    pub fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::TooDeep { at: self.pos });
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `(`, with optional space after it.
    pub fn open(&mut self) -> Result<()> {
        self.expect(b'(', "'('")?;
        self.enter()?;
        self.skip_space();
        Ok(())
    }

    /// `)` after optional space; whether the list closed.
    pub fn close(&mut self) -> bool {
        let save = self.pos;
        self.skip_space();
        if self.eat(b')') {
            self.leave();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Run `item` for each element of a parenthesised, space-separated list.
    pub fn list(&mut self, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.open()?;
        if self.close() {
            return Ok(());
        }
        loop {
            item(self)?;
            if self.close() {
                return Ok(());
            }
            self.sp()?;
        }
    }

    /// `NIL` (no items) or a parenthesised list of items that each start with `(` (spaces
    /// between them allowed): `item` reads one after its opening parenthesis.
    pub fn nil_or_groups<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        if self.nil() {
            return Ok(out);
        }
        self.open()?;
        while !self.close() {
            self.skip_space();
            self.open()?;
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Octets while `pred` holds (possibly none).
    pub fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// `atom`: 1*ATOM-CHAR.
    pub fn atom(&mut self) -> Result<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            self.error("an atom")
        } else {
            Ok(a)
        }
    }

    /// An atom as an upper-case string (keywords, capability names).
    pub fn keyword(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.atom()?).to_ascii_uppercase())
    }

    /// A tag (ASTRING-CHAR except `+`).
    pub fn tag(&mut self) -> Result<&'a [u8]> {
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            self.error("a tag")
        } else {
            Ok(t)
        }
    }

    /// Whether `NIL` is next (not consumed).
    pub fn peek_nil(&self) -> bool {
        let r = self.rest();
        r.len() >= 3
            && r[..3].eq_ignore_ascii_case(b"NIL")
            && !r.get(3).is_some_and(|&b| is_astring_char(b))
    }

    /// Consume `NIL` if next.
    pub fn nil(&mut self) -> bool {
        if self.peek_nil() {
            self.pos += 3;
            true
        } else {
            false
        }
    }

    /// `number` (32-bit).
    pub fn number(&mut self) -> Result<u32> {
        let at = self.pos;
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| ParseError::Syntax {
            at,
            expected: "a 32-bit number",
        })
    }

    /// `nz-number`.
    pub fn nz_number(&mut self) -> Result<u32> {
        let at = self.pos;
        match self.number()? {
            0 => Err(ParseError::Syntax {
                at,
                expected: "a non-zero number",
            }),
            n => Ok(n),
        }
    }

    /// `number64` (RFC 9051: sizes and mod-sequences up to 2^63-1).
    pub fn number64(&mut self) -> Result<u64> {
        let at = self.pos;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return self.error("a number");
        }
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(ParseError::Syntax {
                    at,
                    expected: "a number below 2^64",
                })?;
        }
        Ok(n)
    }

    /// `quoted`: the content, unescaped (borrowed when there was nothing to unescape).
    pub fn quoted(&mut self) -> Result<Cow<'a, [u8]>> {
        self.expect(b'"', "a quoted string")?;
        let start = self.pos;
        let rest = self.rest();
        let Some(end) = memchr::memchr3(b'"', b'\\', b'\n', rest) else {
            return self.error("the closing quote");
        };
        if rest[end] == b'"' {
            self.pos += end + 1;
            return Ok(Cow::Borrowed(&self.input[start..start + end]));
        }
        let mut out = rest[..end].to_vec();
        self.pos += end;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\r' | b'\n') | None => return self.error("an escaped character"),
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Some(b'\r' | b'\n') | None => return self.error("the closing quote"),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A literal's header (`{n}`, `{n+}`, `~{n}`) and its line end, if one is next.
    pub fn literal_header(&mut self) -> Result<Option<LiteralHeader>> {
        let binary = self.peek() == Some(b'~');
        let brace = if binary { 1 } else { 0 };
        if self.peek_at(brace) != Some(b'{') {
            return Ok(None);
        }
        self.pos += brace + 1;
        let size = self.number64()?;
        let synchronizing = !self.eat(b'+');
        self.expect(b'}', "'}' closing the literal's size")?;
        self.eat(b'\r');
        self.expect(b'\n', "a line end after the literal's size")?;
        Ok(Some(LiteralHeader {
            size,
            synchronizing,
            binary,
        }))
    }

    /// The data of a literal whose header was just read.
    pub fn literal_data(&mut self, size: u64) -> Result<Cow<'a, [u8]>> {
        if let Some((at, _)) = self.detached.get(self.next_detached)
            && *at == self.pos
        {
            let data = std::mem::take(&mut self.detached[self.next_detached].1);
            self.next_detached += 1;
            if data.len() as u64 != size {
                return self.error("a literal of the announced size");
            }
            return Ok(Cow::Owned(data));
        }
        let n = usize::try_from(size).unwrap_or(usize::MAX);
        if self.input.len() - self.pos < n {
            return self.error("the literal's data");
        }
        let data = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(Cow::Borrowed(data))
    }

    /// `literal` or `literal8`.
    pub fn literal(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.literal_header()? {
            Some(h) => self.literal_data(h.size),
            None => self.error("a literal"),
        }
    }

    /// Whether a string (quoted, literal or literal8) starts here; `~` alone is an atom
    /// character.
    pub fn at_string(&self) -> bool {
        matches!(self.rest(), [b'"' | b'{', ..] | [b'~', b'{', ..])
    }

    /// `string`: quoted or literal (literal8 accepted too).
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{' | b'~') => self.literal(),
            _ => self.error("a string"),
        }
    }

    /// `nstring`: NIL or a string.
    pub fn nstring(&mut self) -> Result<Option<Cow<'a, [u8]>>> {
        if self.nil() {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// `astring`: 1*ASTRING-CHAR or a string.
    pub fn astring(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.at_string() {
            true => self.string(),
            false => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    self.error("an atom or string")
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// `nstring` or an atom, as servers sometimes send atoms where strings are due.
    pub fn nastring(&mut self) -> Result<Option<Cow<'a, [u8]>>> {
        if self.nil() {
            Ok(None)
        } else {
            self.astring().map(Some)
        }
    }

    /// A LIST pattern or mailbox: astring, or 1*list-char.
    pub fn list_mailbox(&mut self) -> Result<Cow<'a, [u8]>> {
        match self.at_string() {
            true => self.string(),
            false => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    self.error("a mailbox pattern")
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// `flag` (or `flag-perm` `\*`, or `\Recent` as in FETCH): `\` atom, or a keyword atom.
    pub fn flag(&mut self) -> Result<String> {
        let start = self.pos;
        // `\*` alone; otherwise an atom, after a backslash or not.
        if !(self.eat(b'\\') && self.eat(b'*')) {
            self.atom()?;
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    /// `flag-list`: `(` flags `)`.
    pub fn flag_list(&mut self) -> Result<Vec<String>> {
        let mut flags = Vec::new();
        self.list(|c| {
            flags.push(c.flag()?);
            Ok(())
        })?;
        Ok(flags)
    }

    /// `sequence-set` (or `*` alone, or `$` of SEARCHRES, which is refused here).
    pub fn sequence_set(&mut self) -> Result<SequenceSet> {
        let at = self.pos;
        let text = self.take_while(is_sequence_char);
        SequenceSet::parse(text).map_err(|_| ParseError::Syntax {
            at,
            expected: "a sequence set",
        })
    }

    /// Text to the end of the line (not consumed: the line end).
    pub fn text(&mut self) -> &'a [u8] {
        self.take_while(|b| b != b'\r' && b != b'\n')
    }

    /// `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, day of one or two digits (with a
    /// leading space when fixed-width).
    pub fn date_time(&mut self) -> Result<DateTime> {
        let at = self.pos;
        let q = self.quoted()?;
        parse_date_time(&q).ok_or(ParseError::Syntax {
            at,
            expected: "a date-time \"dd-Mon-yyyy hh:mm:ss +zzzz\"",
        })
    }
}

/// The inside of a `date-time` (without quotes).
pub fn parse_date_time(s: &[u8]) -> Option<DateTime> {
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let mut parts = s.split(|&b| b == b' ');
    let date = parts.next()?;
    let time = parts.next()?;
    let zone = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let mut d = date.split(|&b| b == b'-');
    let day = small_number(d.next()?, 1, 2)?;
    let month = month_number(d.next()?)?;
    let year = small_number(d.next()?, 4, 4)?;
    if d.next().is_some() {
        return None;
    }
    let mut t = time.split(|&b| b == b':');
    let hour = small_number(t.next()?, 2, 2)?;
    let minute = small_number(t.next()?, 2, 2)?;
    let second = small_number(t.next()?, 2, 2)?;
    if t.next().is_some() || zone.len() != 5 {
        return None;
    }
    let sign: i16 = match zone[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh = small_number(&zone[1..3], 2, 2)?;
    let zm = small_number(&zone[3..5], 2, 2)?;
    let dt = DateTime {
        year: year as u16,
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        offset_minutes: sign * (zh as i16 * 60 + zm as i16),
    };
    dt.is_valid().then_some(dt)
}

fn small_number(s: &[u8], min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_classes() {
        for b in b"()%*\"\\] {\x00\x1f\x7f" {
            assert!(!is_atom_char(*b), "{b}");
        }
        assert!(is_astring_char(b']') && !is_tag_char(b'+') && is_atom_char(b'+'));
        assert!(is_list_char(b'%') && is_list_char(b'*') && !is_list_char(b'('));
        assert!(is_atom_char(0xc3));
    }

    #[test]
    fn strings() {
        let mut c =
            Cursor::new(b"\"a\\\"b\\\\c\" \"plain\" {3}\r\nx\"y NIL foo]bar ~{2}\r\n\0\x01");
        assert_eq!(c.string().unwrap().as_ref(), b"a\"b\\c");
        c.sp().unwrap();
        assert!(matches!(c.string().unwrap(), Cow::Borrowed(b"plain")));
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap().as_ref(), b"x\"y");
        c.sp().unwrap();
        assert_eq!(c.nstring().unwrap(), None);
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap().as_ref(), b"foo]bar");
        c.sp().unwrap();
        assert_eq!(c.string().unwrap().as_ref(), b"\0\x01");
        assert!(c.at_end());
    }

    #[test]
    fn literal_edges() {
        // {0}: an empty literal; a literal that claims more than the frame holds is an error.
        let mut c = Cursor::new(b"{0}\r\n {5}\r\nab");
        assert_eq!(c.string().unwrap().as_ref(), b"");
        c.sp().unwrap();
        assert!(matches!(c.string(), Err(ParseError::Syntax { at: 11, .. })));
        let mut c = Cursor::new(b"{99999999999999999999999}\r\n");
        assert!(c.string().is_err());
        let mut c = Cursor::new(b"\"unterminated\r\n");
        assert!(c.string().is_err());
        // A detached literal is moved, not copied, and must have the announced size.
        let mut c = Cursor::with_detached(
            b"{4}\r\n{4}\r\n",
            vec![(5, b"abcd".to_vec()), (10, b"x".to_vec())],
        );
        assert!(matches!(c.string().unwrap(), Cow::Owned(v) if v == b"abcd"));
        assert!(c.string().is_err());
    }

    #[test]
    fn numbers_and_nil() {
        let mut c = Cursor::new(b"4294967295 4294967296 0 18446744073709551615 nil NILS");
        assert_eq!(c.number().unwrap(), u32::MAX);
        c.sp().unwrap();
        assert!(c.number().is_err());
        c.take_while(|b| b != b' ');
        c.sp().unwrap();
        assert!(c.nz_number().is_err());
        c.sp().unwrap();
        assert_eq!(c.number64().unwrap(), u64::MAX);
        c.sp().unwrap();
        assert!(c.nil());
        c.sp().unwrap();
        assert!(!c.nil());
        assert_eq!(c.astring().unwrap().as_ref(), b"NILS");
    }

    #[test]
    fn flags_and_lists() {
        let mut c = Cursor::new(b"(\\Seen \\* $Junk  \\Answered)");
        assert_eq!(
            c.flag_list().unwrap(),
            ["\\Seen", "\\*", "$Junk", "\\Answered"]
        );
        let mut c = Cursor::new(b"()");
        assert!(c.flag_list().unwrap().is_empty());
        let mut c = Cursor::new(b"(\\Seen");
        assert!(c.flag_list().is_err());
        let deep = [b"(".repeat(100), b")".repeat(100)].concat();
        let mut c = Cursor::new(&deep);
        fn nest(c: &mut Cursor) -> Result<()> {
            c.list(|c| nest(c))
        }
        assert!(matches!(nest(&mut c), Err(ParseError::TooDeep { .. })));
    }

    #[test]
    fn date_time() {
        // RFC 9051 §9 date-time, with the fixed-width day ("SP DIGIT").
        let mut c = Cursor::new(b"\"17-Jul-1996 02:44:25 -0700\" \" 1-Feb-2024 23:59:60 +0530\"");
        let d = c.date_time().unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.offset_minutes),
            (1996, 7, 17, 2, -420)
        );
        assert_eq!(d.timestamp(), 837_596_665);
        c.sp().unwrap();
        let d = c.date_time().unwrap();
        assert_eq!(
            (d.day, d.month, d.second, d.offset_minutes),
            (1, 2, 60, 330)
        );
        for bad in [
            &b"\"31-Feb-2024 00:00:00 +0000\""[..],
            b"\"1-Foo-2024 00:00:00 +0000\"",
            b"\"1-Jan-2024 00:00 +0000\"",
            b"\"1-Jan-2024 00:00:00 0000\"",
        ] {
            assert!(Cursor::new(bad).date_time().is_err());
        }
    }

    #[test]
    fn folded_lines_are_spaces() {
        let mut c = Cursor::new(b"(\\Seen\r\n \\Draft)\r\n");
        assert_eq!(c.flag_list().unwrap(), ["\\Seen", "\\Draft"]);
        c.end().unwrap();
        // The final CRLF is not a fold.
        let mut c = Cursor::new(b"a\r\n");
        c.atom().unwrap();
        assert!(!c.skip_space());
    }
}
