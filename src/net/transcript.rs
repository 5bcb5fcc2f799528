//! A client's protocol dialogue, line by line: what `smtplib`'s `set_debuglevel` prints, kept
//! as data. Recording happens in the client core as lines are written and read, so it costs
//! no call into Python per line; Python reads the lines when asked.
//!
//! Credentials never enter a transcript: the clients record AUTH responses and passwords as
//! [`REDACTED`].

use std::sync::Mutex;

/// What a redacted credential is recorded as.
pub const REDACTED: &str = "********";

/// Lines kept at most; later ones are counted, not stored (a transcript is for reading, and a
/// bulk transfer recorded by mistake must not exhaust memory).
pub const MAX_LINES: usize = 100_000;

/// Which side sent a line (the `C:` and `S:` of RFC transcripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Client,
    Server,
}

impl Direction {
    /// `"C"` or `"S"`.
    pub fn label(self) -> &'static str {
        match self {
            Direction::Client => "C",
            Direction::Server => "S",
        }
    }
}

#[derive(Default)]
struct Lines {
    lines: Vec<(Direction, String)>,
    dropped: usize,
}

/// The recorded lines of one client (every connection it opens).
#[derive(Default)]
pub struct Transcript {
    inner: Mutex<Lines>,
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record the lines of `data`, as sent or received: split after each LF, without the line
    /// end; a last line without one is recorded too. Invalid UTF-8 is replaced (U+FFFD).
    pub fn record(&self, direction: Direction, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            inner.push(direction, String::from_utf8_lossy(line).into_owned());
        }
    }

    /// Record one line as given (for lines carrying a secret, recorded redacted).
    pub fn record_line(&self, direction: Direction, line: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.push(direction, line.to_owned());
        }
    }

    /// Every line recorded so far (with a final note if some were not kept).
    pub fn lines(&self) -> Vec<(Direction, String)> {
        let Ok(inner) = self.inner.lock() else {
            return Vec::new();
        };
        let mut out = inner.lines.clone();
        if inner.dropped > 0 {
            out.push((
                Direction::Client,
                format!(
                    "[transcript full: {} more lines not recorded]",
                    inner.dropped
                ),
            ));
        }
        out
    }

    /// Forget the lines recorded so far.
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = Lines::default();
        }
    }
}

impl Lines {
    fn push(&mut self, direction: Direction, line: String) {
        if self.lines.len() < MAX_LINES {
            self.lines.push((direction, line));
        } else {
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_strips_line_ends() {
        let t = Transcript::new();
        t.record(Direction::Client, b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n");
        t.record(Direction::Server, b"250 OK\r\n");
        t.record(Direction::Server, b"bare LF\nno end");
        t.record(Direction::Client, b"\r\n");
        let got: Vec<(&str, String)> = t.lines().into_iter().map(|(d, l)| (d.label(), l)).collect();
        assert_eq!(
            got,
            vec![
                ("C", "MAIL FROM:<a@x>".to_owned()),
                ("C", "RCPT TO:<b@y>".to_owned()),
                ("S", "250 OK".to_owned()),
                ("S", "bare LF".to_owned()),
                ("S", "no end".to_owned()),
                ("C", String::new()),
            ]
        );
        t.clear();
        assert!(t.lines().is_empty());
    }

    #[test]
    fn bounded() {
        let t = Transcript::new();
        for _ in 0..MAX_LINES + 3 {
            t.record(Direction::Server, b"x\r\n");
        }
        let lines = t.lines();
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert!(lines[MAX_LINES].1.contains("3 more lines"));
    }
}
