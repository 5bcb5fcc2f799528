//! Server replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, RFC 2034).

use std::fmt::Write as _;

/// One reply: a code and one or more lines of text (the enhanced status code, when there is
/// one, is part of each line's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self {
            code,
            lines: vec![text.into()],
        }
    }

    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        Self { code, lines }
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// Parse the reply a Python hook returned (`"250 OK"`, `"550 5.1.1 no such user"`, or
    /// several lines, each optionally prefixed with `NNN-`/`NNN `).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim_end_matches(['\r', '\n']);
        let b = text.as_bytes();
        if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
            return Err(format!("a reply must start with a code 200-599: {text:?}"));
        }
        if b.len() > 3 && b[3] != b' ' && b[3] != b'-' {
            return Err(format!(
                "a reply code must be followed by a space: {text:?}"
            ));
        }
        let code: u16 = text[..3]
            .parse()
            .map_err(|_| format!("bad code in {text:?}"))?;
        let mut lines = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let line = line.trim_end_matches('\r');
            let rest = if i == 0 {
                line.get(4..).unwrap_or("")
            } else if line.len() >= 4
                && line.as_bytes()[..3] == b[..3]
                && matches!(line.as_bytes()[3], b' ' | b'-')
            {
                &line[4..]
            } else {
                line
            };
            if rest.bytes().any(|c| c == b'\r' || c == 0) {
                return Err(format!("control characters in reply {text:?}"));
            }
            lines.push(rest.to_owned());
        }
        Ok(Self { code, lines })
    }

    /// Append the wire form (`NNN-line` ... `NNN line`, CRLF each) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut s = String::new();
        let last = self.lines.len().saturating_sub(1);
        if self.lines.is_empty() {
            let _ = write!(s, "{}\r\n", self.code);
        }
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            let _ = write!(s, "{}{sep}{line}\r\n", self.code);
        }
        out.extend_from_slice(s.as_bytes());
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// The fixed replies of the protocol, in one place so wording stays consistent.
pub mod std_replies {
    use super::Reply;

    pub fn ok() -> Reply {
        Reply::new(250, "2.0.0 OK")
    }
    pub fn bad_sequence(what: &str) -> Reply {
        Reply::new(503, format!("5.5.1 Error: {what}"))
    }
    pub fn syntax(usage: &str) -> Reply {
        Reply::new(501, format!("5.5.4 Syntax: {usage}"))
    }
    pub fn line_too_long() -> Reply {
        Reply::new(500, "5.5.2 Error: line too long")
    }
    pub fn local_error() -> Reply {
        Reply::new(451, "4.3.0 Error: local error in processing")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let r = Reply::parse("550 5.1.1 no such user").unwrap();
        assert_eq!(r, Reply::new(550, "5.1.1 no such user"));
        assert_eq!(r.to_wire(), b"550 5.1.1 no such user\r\n");
        let r = Reply::parse("250-first\r\n250 second").unwrap();
        assert_eq!(r.to_wire(), b"250-first\r\n250 second\r\n");
        assert_eq!(Reply::parse("250").unwrap().to_wire(), b"250 \r\n");
        assert!(Reply::parse("OK").is_err());
        assert!(Reply::parse("199 no").is_err());
        assert!(Reply::parse("2500 x").is_err());
    }
}
