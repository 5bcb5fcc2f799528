//! Framing: where one IMAP response (or command) ends in a byte stream, before any parsing.
//!
//! A frame is a line, plus, whenever a line ends in a literal's header (`{n}`, `~{n}`,
//! `{n+}`), the literal's `n` octets and the line that continues after them. The scanner is
//! fed the receive buffer again and again as it grows and resumes where it stopped, so
//! finding the end of a frame is linear in its size however it arrives (the mini-redis
//! pattern: `Incomplete` until a frame is whole, then it is parsed in one pass).
//!
//! At each literal the scanner stops and reports it, so the reader can choose: leave the data
//! in the buffer (small literals), or take it out of line into its own allocation (a message
//! body: it is then moved into the result, never copied again, and never makes the buffer
//! grow). A server uses the same stop to send its `+` continuation for a synchronising
//! literal.
//!
//! Reading responses (a client), literals are only recognised in data responses (`* 3
//! FETCH`, `* LIST`, ...): status responses (`OK`, `NO`, `BAD`, `BYE`, `PREAUTH`, tagged
//! responses and `+` continuations) end with free text, where `{5}` is just text. Some
//! servers fold long data responses onto several lines; a data response whose parentheses
//! are still open at the end of a line continues on the next, unless that line plainly starts
//! a new response.

use std::fmt;

use super::lex::{LiteralHeader, is_tag_char};

/// Which side's frames are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A client reading server responses.
    Responses,
    /// A server reading client commands (literals anywhere, never folded).
    Commands,
}

/// Size limits; exceeding one is an error, never unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Longest line (each line of a frame separately), line end included.
    pub max_line: usize,
    /// Largest literal.
    pub max_literal: u64,
    /// Most octets of one frame kept in line: its lines and the literals left in the buffer.
    pub max_frame: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            // A SEARCH of millions of UIDs is one line.
            max_line: 64 << 20,
            max_literal: 1 << 30,
            max_frame: 256 << 20,
        }
    }
}

/// A frame that breaks the limits or the literal syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    LineTooLong {
        limit: usize,
    },
    LiteralTooLarge {
        size: u64,
        limit: u64,
    },
    FrameTooLarge {
        limit: usize,
    },
    /// `{` digits `}` whose number does not fit in 64 bits.
    BadLiteral,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::LineTooLong { limit } => write!(f, "line longer than {limit} octets"),
            FrameError::LiteralTooLarge { size, limit } => {
                write!(f, "literal of {size} octets is over the limit of {limit}")
            }
            FrameError::FrameTooLarge { limit } => {
                write!(f, "response longer than {limit} octets")
            }
            FrameError::BadLiteral => f.write_str("literal size does not fit in 64 bits"),
        }
    }
}

impl std::error::Error for FrameError {}

/// What the scanner found in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The frame is not complete: read more and scan again.
    Incomplete,
    /// A literal's header ends just before `data_start` (line end consumed). Scanning again
    /// skips the data in the buffer; or the caller removes `buffer[..data_start]` and the
    /// data, and calls [`FrameScanner::literal_taken`].
    Literal {
        header: LiteralHeader,
        data_start: usize,
    },
    /// The frame is `buffer[..end]`, final line end included.
    Complete { end: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// First line not seen yet.
    Unknown,
    /// A line of free text: no literals, no folding.
    Plain,
    /// Literals (commands, data responses); `fold`: data responses.
    Structured { fold: bool },
}

/// Incremental framing over a buffer that starts with the frame and only grows at the end
/// (until the frame is complete and the caller consumes it; then [`FrameScanner::reset`]).
#[derive(Debug, Clone)]
pub struct FrameScanner {
    side: Side,
    limits: FrameLimits,
    /// Next octet to look at.
    pos: usize,
    /// Start of the current line (the part after the last literal).
    line_start: usize,
    kind: Kind,
    /// Open parentheses so far (data responses).
    depth: i64,
    /// Literal octets still to skip in the buffer (the literal being passed over).
    skip: Option<u64>,
    /// A literal was reported and the caller has not said what it did with it.
    reported: Option<u64>,
    /// A line ended with open parentheses: where the next line starts.
    fold_at: Option<usize>,
    /// Octets of this frame the caller already took out of the buffer (and keeps).
    taken: usize,
}

impl FrameScanner {
    pub fn new(side: Side, limits: FrameLimits) -> Self {
        FrameScanner {
            side,
            limits,
            pos: 0,
            line_start: 0,
            kind: Kind::Unknown,
            depth: 0,
            skip: None,
            reported: None,
            fold_at: None,
            taken: 0,
        }
    }

    pub fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// Start over for the next frame (after the caller consumed a complete one).
    pub fn reset(&mut self) {
        *self = FrameScanner::new(self.side, self.limits);
    }

    /// Whether scanning has started on a frame.
    pub fn in_progress(&self) -> bool {
        self.pos > 0 || self.taken > 0 || self.reported.is_some() || self.skip.is_some()
    }

    /// The caller removed from the buffer the frame so far, up to the reported literal's
    /// data, and the literal's data too (read elsewhere): scanning goes on from the start of
    /// the buffer, the rest of the line after the literal.
    pub fn literal_taken(&mut self) {
        self.reported = None;
        self.skip = None;
        self.taken += self.pos;
        self.pos = 0;
        self.line_start = 0;
    }

    fn check_frame(&self, upto: usize) -> Result<(), FrameError> {
        if self.taken + upto > self.limits.max_frame {
            Err(FrameError::FrameTooLarge {
                limit: self.limits.max_frame,
            })
        } else {
            Ok(())
        }
    }

    /// Look at `buf` (which starts where the frame starts, or where the caller's last
    /// [`literal_taken`](Self::literal_taken) left it).
    pub fn scan(&mut self, buf: &[u8]) -> Result<Scan, FrameError> {
        loop {
            if let Some(size) = self.reported.take() {
                self.skip = Some(size);
            }
            if let Some(left) = self.skip {
                let avail = (buf.len() - self.pos) as u64;
                let n = avail.min(left);
                self.pos += n as usize;
                self.check_frame(self.pos)?;
                if n < left {
                    self.skip = Some(left - n);
                    return Ok(Scan::Incomplete);
                }
                // The line goes on after the literal's data.
                self.skip = None;
                self.line_start = self.pos;
            }
            if let Some(next) = self.fold_at {
                match continues(&buf[next..]) {
                    None => {
                        self.check_frame(buf.len())?;
                        if buf.len() - next > self.limits.max_line {
                            return Err(FrameError::LineTooLong {
                                limit: self.limits.max_line,
                            });
                        }
                        return Ok(Scan::Incomplete);
                    }
                    Some(false) => {
                        // The parentheses stay open: the parser will say so.
                        self.fold_at = None;
                        return Ok(Scan::Complete { end: next });
                    }
                    Some(true) => {
                        self.fold_at = None;
                        self.line_start = next;
                        self.pos = next;
                    }
                }
            }
            let Some(i) = memchr::memchr(b'\n', &buf[self.pos..]) else {
                self.pos = buf.len();
                if self.pos - self.line_start > self.limits.max_line {
                    return Err(FrameError::LineTooLong {
                        limit: self.limits.max_line,
                    });
                }
                self.check_frame(self.pos)?;
                return Ok(Scan::Incomplete);
            };
            let lf = self.pos + i;
            if lf + 1 - self.line_start > self.limits.max_line {
                return Err(FrameError::LineTooLong {
                    limit: self.limits.max_line,
                });
            }
            self.check_frame(lf + 1)?;
            let content_end = if lf > self.line_start && buf[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            let line = &buf[self.line_start..content_end];
            if self.kind == Kind::Unknown {
                self.kind = classify(self.side, line);
            }
            self.pos = lf + 1;
            let Kind::Structured { fold } = self.kind else {
                return Ok(Scan::Complete { end: self.pos });
            };
            if let Some((header, header_start)) = literal_at_end(line)? {
                if header.size > self.limits.max_literal {
                    return Err(FrameError::LiteralTooLarge {
                        size: header.size,
                        limit: self.limits.max_literal,
                    });
                }
                if fold {
                    self.depth += paren_balance(&line[..header_start]);
                }
                self.reported = Some(header.size);
                return Ok(Scan::Literal {
                    header,
                    data_start: self.pos,
                });
            }
            if fold {
                self.depth += paren_balance(line);
                if self.depth > 0 {
                    self.fold_at = Some(self.pos);
                    continue;
                }
            }
            return Ok(Scan::Complete { end: self.pos });
        }
    }
}

fn is_status_word(w: &[u8]) -> bool {
    [&b"OK"[..], b"NO", b"BAD", b"BYE", b"PREAUTH"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(w))
}

/// The first word of `line` and what follows it.
fn first_word(line: &[u8]) -> (&[u8], &[u8]) {
    let end = line
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
        .unwrap_or(line.len());
    line.split_at(end)
}

fn classify(side: Side, line: &[u8]) -> Kind {
    if side == Side::Commands {
        return Kind::Structured { fold: false };
    }
    match line {
        [b'*', b' ', rest @ ..] => {
            let (word, _) = first_word(rest);
            if is_status_word(word) {
                Kind::Plain
            } else {
                Kind::Structured { fold: true }
            }
        }
        _ => Kind::Plain,
    }
}

/// How far into the next line [`continues`] looks: a tag and a status word fit, and a
/// decision never rescans a long line as it grows.
const LOOKAHEAD: usize = 64;

/// Whether the line at the start of `next` continues a folded response (`None`: cannot tell
/// yet). It does unless it starts like a response of its own: `*`, `+`, or a tag and a
/// status word.
fn continues(next: &[u8]) -> Option<bool> {
    let first = *next.first()?;
    match first {
        b'*' | b'+' => return Some(false),
        b' ' | b'\t' => return Some(true),
        _ => {}
    }
    let window = &next[..next.len().min(LOOKAHEAD)];
    let line_end = memchr::memchr(b'\n', window);
    // Whether more octets could still change the answer.
    let open = line_end.is_none() && window.len() < LOOKAHEAD;
    let line = &window[..line_end.unwrap_or(window.len())];
    let tag_len = line.iter().take_while(|&&b| is_tag_char(b)).count();
    if tag_len == line.len() {
        return if open { None } else { Some(true) };
    }
    if line[tag_len] != b' ' || tag_len == 0 {
        return Some(true);
    }
    let (word, after) = first_word(&line[tag_len + 1..]);
    if after.is_empty() && open {
        return None;
    }
    Some(!is_status_word(word))
}

/// Parentheses opened minus closed, outside quoted strings.
fn paren_balance(line: &[u8]) -> i64 {
    let mut depth = 0;
    let mut quoted = false;
    let mut escaped = false;
    for &b in line {
        if quoted {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                quoted = false;
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// A literal header at the end of a line (without its line end), and where it starts.
fn literal_at_end(line: &[u8]) -> Result<Option<(LiteralHeader, usize)>, FrameError> {
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let (inner, synchronizing) = match inner.strip_suffix(b"+") {
        Some(i) => (i, false),
        None => (inner, true),
    };
    let digits = inner
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let brace = inner.len() - digits;
    if digits == 0 || brace == 0 || inner[brace - 1] != b'{' {
        return Ok(None);
    }
    let mut size: u64 = 0;
    for &d in &inner[brace..] {
        size = size
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(FrameError::BadLiteral)?;
    }
    let mut start = brace - 1;
    let binary = start > 0 && line[start - 1] == b'~';
    if binary {
        start -= 1;
    }
    Ok(Some((
        LiteralHeader {
            size,
            synchronizing,
            binary,
        },
        start,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scanner() -> FrameScanner {
        FrameScanner::new(Side::Responses, FrameLimits::default())
    }

    /// Scan `data` fed one octet at a time, skipping literals in line; the frame ends.
    fn frame_end_bytewise(data: &[u8]) -> Option<usize> {
        let mut s = scanner();
        for n in 1..=data.len() {
            loop {
                match s.scan(&data[..n]).unwrap() {
                    Scan::Incomplete => break,
                    Scan::Literal { .. } => continue,
                    Scan::Complete { end } => return Some(end),
                }
            }
        }
        None
    }

    #[test]
    fn lines_and_literals() {
        let data = b"* 1 FETCH (BODY[] {5}\r\nab)\r\n FLAGS ())\r\n* 2 EXISTS\r\n";
        let mut s = scanner();
        let Scan::Literal { header, data_start } = s.scan(data).unwrap() else {
            panic!()
        };
        assert_eq!(
            (header.size, header.synchronizing, header.binary),
            (5, true, false)
        );
        assert_eq!(&data[data_start..data_start + 5], b"ab)\r\n");
        assert_eq!(s.scan(data).unwrap(), Scan::Complete { end: 40 });
        assert_eq!(frame_end_bytewise(data), Some(40));
        assert_eq!(frame_end_bytewise(b"* 2 EXISTS\r\n"), Some(12));
        assert_eq!(frame_end_bytewise(b"* 2 EXISTS"), None);
    }

    #[test]
    fn status_text_has_no_literals() {
        // resp-text is free text: "{5}" at its end is not a literal.
        assert_eq!(frame_end_bytewise(b"a1 NO [ALERT] bad {5}\r\nxx"), Some(23));
        assert_eq!(frame_end_bytewise(b"* OK see (this\r\nxx"), Some(16));
        assert_eq!(frame_end_bytewise(b"+ {5}\r\n"), Some(7));
    }

    #[test]
    fn empty_and_binary_literals() {
        assert_eq!(
            frame_end_bytewise(b"* 1 FETCH (BODY[] {0}\r\n)\r\n"),
            Some(26)
        );
        let data = b"* 1 FETCH (BINARY[] ~{3}\r\n\0\r\n)\r\n";
        let mut s = scanner();
        let Scan::Literal { header, .. } = s.scan(data).unwrap() else {
            panic!()
        };
        assert!(header.binary);
        assert_eq!(s.scan(data).unwrap(), Scan::Complete { end: data.len() });
    }

    #[test]
    fn folded_data_responses() {
        // Parentheses open at the end of a line: the response goes on.
        let data = b"* 1 FETCH (UID 5\r\n FLAGS (\\Seen))\r\nA1 OK done\r\n";
        assert_eq!(frame_end_bytewise(data), Some(35));
        // ... but not into a line that starts a response of its own.
        let data = b"* 1 FETCH (UID 5\r\nA1 OK done\r\n";
        assert_eq!(frame_end_bytewise(data), Some(18));
        let data = b"* LIST (\\Noselect\r\n* 2 EXISTS\r\n";
        assert_eq!(frame_end_bytewise(data), Some(19));
        // A long next line is decided on its first octets.
        let mut data = b"* 1 FETCH (UID 5\r\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 10_000));
        assert_eq!(continues(&data[18..]), Some(true));
        assert_eq!(continues(b"A0001 O"), None);
        assert_eq!(continues(b"A0001 OK"), None);
        assert_eq!(continues(b"A0001 OK "), Some(false));
        assert_eq!(continues(b"A0001 OKAY "), Some(true));
        // Parentheses inside quoted strings do not count.
        assert_eq!(frame_end_bytewise(b"* LIST () \"/\" \"a(b\"\r\n"), Some(21));
    }

    #[test]
    fn commands_have_literals_anywhere() {
        let mut s = FrameScanner::new(Side::Commands, FrameLimits::default());
        let data = b"A1 LOGIN {4+}\r\nuser {8}\r\npassword\r\n";
        let Scan::Literal { header, .. } = s.scan(data).unwrap() else {
            panic!()
        };
        assert!(!header.synchronizing);
        let Scan::Literal { header, .. } = s.scan(data).unwrap() else {
            panic!()
        };
        assert!(header.synchronizing && header.size == 8);
        assert_eq!(s.scan(data).unwrap(), Scan::Complete { end: data.len() });
    }

    #[test]
    fn limits() {
        let limits = FrameLimits {
            max_line: 16,
            max_literal: 10,
            max_frame: 40,
        };
        let mut s = FrameScanner::new(Side::Responses, limits);
        assert_eq!(
            s.scan(b"* 1 FETCH (0123456789"),
            Err(FrameError::LineTooLong { limit: 16 })
        );
        let mut s = FrameScanner::new(Side::Responses, limits);
        assert_eq!(
            s.scan(b"* 1 FETCH {11}\r\n"),
            Err(FrameError::LiteralTooLarge {
                size: 11,
                limit: 10
            })
        );
        let mut s = FrameScanner::new(Side::Responses, limits);
        let data = b"* 1 X {9}\r\n123456789 {9}\r\n123456789 {9}\r\n123456789";
        let err = loop {
            match s.scan(data) {
                Ok(Scan::Literal { .. }) => continue,
                other => break other,
            }
        };
        assert_eq!(err, Err(FrameError::FrameTooLarge { limit: 40 }));
        let mut s = scanner();
        assert_eq!(
            s.scan(b"* 1 X {99999999999999999999999}\r\n"),
            Err(FrameError::BadLiteral)
        );
    }

    #[test]
    fn literal_taken_out_of_line() {
        let data = b"* 1 FETCH (BODY[] {5}\r\nhello UID 3)\r\n";
        let mut s = scanner();
        let Scan::Literal { data_start, header } = s.scan(data).unwrap() else {
            panic!()
        };
        let consumed = data_start + header.size as usize;
        s.literal_taken();
        let rest = &data[consumed..];
        assert_eq!(s.scan(rest).unwrap(), Scan::Complete { end: rest.len() });
    }
}
