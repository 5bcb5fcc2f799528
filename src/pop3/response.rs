//! POP3 responses: status lines with RFC 2449 response codes, and multi-line bodies with
//! dot-stuffing (RFC 1939 §3), both directions.

use std::time::Duration;

use tokio::io::AsyncRead;

use crate::net::{LineReader, NetError, with_timeout};

/// A status line: `+OK` or `-ERR`, an optional response code (RFC 2449 §8), and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    /// The response code without brackets, e.g. `IN-USE` or `SYS/TEMP`.
    pub code: Option<String>,
    pub text: String,
}

impl Status {
    /// Parse a status line (without its line end). Status indicators are accepted in any
    /// case, as RFC 1939 §3 asks servers to send them in upper case but clients to be lenient.
    pub fn parse(line: &[u8]) -> Result<Status, String> {
        let (ok, rest) = if let Some(rest) = strip_indicator(line, b"+OK") {
            (true, rest)
        } else if let Some(rest) = strip_indicator(line, b"-ERR") {
            (false, rest)
        } else {
            return Err(format!(
                "expected +OK or -ERR, got {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ));
        };
        let text = String::from_utf8_lossy(rest).into_owned();
        let (code, text) = split_code(&text);
        Ok(Status { ok, code, text })
    }
}

fn strip_indicator<'a>(line: &'a [u8], indicator: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..indicator.len())?;
    if !head.eq_ignore_ascii_case(indicator) {
        return None;
    }
    match &line[indicator.len()..] {
        [] => Some(&[]),
        [b' ', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// `[CODE/SUB] text` -> (Some("CODE/SUB"), "text"); a bracket that is not a well-formed code
/// stays in the text.
fn split_code(text: &str) -> (Option<String>, String) {
    if let Some(inner) = text.strip_prefix('[')
        && let Some(end) = inner.find(']')
    {
        let code = &inner[..end];
        let well_formed = !code.is_empty()
            && code.split('/').all(|level| {
                !level.is_empty()
                    && level
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'[' && b != b']')
            });
        if well_formed {
            let rest = inner[end + 1..].trim_start();
            return (Some(code.to_ascii_uppercase()), rest.to_owned());
        }
    }
    (None, text.to_owned())
}

/// A SASL continuation (`+ <base64>`, RFC 5034 §4): the challenge text, if this is one.
pub fn continuation(line: &[u8]) -> Option<&[u8]> {
    match line {
        [b'+'] => Some(&[]),
        [b'+', b' ', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// Read a multi-line body up to its terminating `.` line, removing byte-stuffed dots. The
/// body is appended to `out` with its line ends as sent (the terminator is not included).
/// There is no line-length limit, only an optional limit on the whole body: real mail has
/// lines far longer than any protocol line.
pub async fn read_multiline<S: AsyncRead + Unpin>(
    reader: &mut LineReader<S>,
    limit: Option<usize>,
    out: &mut Vec<u8>,
    read_timeout: Option<Duration>,
) -> Result<(), NetError> {
    let start_len = out.len();
    let mut at_line_start = true;
    loop {
        if reader.buffer().is_empty() && fill(reader, read_timeout).await? == 0 {
            return Err(NetError::Closed);
        }
        let buf = reader.buffer();
        if at_line_start && buf[0] == b'.' {
            match buf {
                [b'.', b'\n', ..] => {
                    reader.consume(2);
                    return Ok(());
                }
                [b'.', b'\r', b'\n', ..] => {
                    reader.consume(3);
                    return Ok(());
                }
                [b'.'] | [b'.', b'\r'] => {
                    // Undecided until the next byte arrives.
                    if fill(reader, read_timeout).await? == 0 {
                        return Err(NetError::Closed);
                    }
                    continue;
                }
                _ => {
                    // A stuffed dot: drop it, keep the rest of the line.
                    reader.consume(1);
                    at_line_start = false;
                    continue;
                }
            }
        }
        // Everything up to the next line that starts with a dot is plain data.
        let (take, next_at_start) = match memchr::memmem::find(buf, b"\n.") {
            Some(i) => (i + 1, true),
            None => (buf.len(), buf.last() == Some(&b'\n')),
        };
        out.extend_from_slice(&buf[..take]);
        reader.consume(take);
        at_line_start = next_at_start;
        if let Some(limit) = limit
            && out.len() - start_len > limit
        {
            return Err(NetError::LineTooLong { limit });
        }
    }
}

async fn fill<S: AsyncRead + Unpin>(
    reader: &mut LineReader<S>,
    read_timeout: Option<Duration>,
) -> Result<usize, NetError> {
    with_timeout(read_timeout, "reading a multi-line response", reader.fill()).await
}

/// Writes a message as a multi-line body: every bare LF becomes CRLF (RFC 1939 §3 counts and
/// sends messages in their CRLF form), lines starting with `.` get a second one, and the body
/// ends with a line end. Works chunk by chunk, so a message can be streamed from disk.
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    at_line_start: bool,
    prev_cr: bool,
}

impl Default for BodyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyEncoder {
    pub fn new() -> Self {
        Self {
            at_line_start: true,
            prev_cr: false,
        }
    }

    /// Append the encoded form of `chunk` to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 32 + 8);
        let mut pos = 0;
        while pos < chunk.len() {
            if self.at_line_start && chunk[pos] == b'.' {
                out.push(b'.');
            }
            match memchr::memchr(b'\n', &chunk[pos..]) {
                Some(i) => {
                    let lf = pos + i;
                    let has_cr = if lf == pos {
                        self.prev_cr
                    } else {
                        chunk[lf - 1] == b'\r'
                    };
                    if has_cr {
                        out.extend_from_slice(&chunk[pos..=lf]);
                    } else {
                        out.extend_from_slice(&chunk[pos..lf]);
                        out.extend_from_slice(b"\r\n");
                    }
                    self.at_line_start = true;
                    self.prev_cr = false;
                    pos = lf + 1;
                }
                None => {
                    out.extend_from_slice(&chunk[pos..]);
                    self.at_line_start = false;
                    self.prev_cr = chunk.last() == Some(&b'\r');
                    pos = chunk.len();
                }
            }
        }
    }

    /// End the body: complete a last line that has no line end, then the `.` terminator.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(if self.prev_cr { b"\n" } else { b"\r\n" });
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// The multi-line form of `data` (see [`BodyEncoder`]), appended to `out`.
pub fn encode_body(data: &[u8], out: &mut Vec<u8>) {
    let mut enc = BodyEncoder::new();
    enc.feed(data, out);
    enc.finish(out);
}

/// The size of `data` with every bare LF as CRLF: the octet count `LIST`, `STAT` and `RETR`
/// report (RFC 1939 §11).
pub fn crlf_size(data: &[u8]) -> u64 {
    let mut bare_lf = 0u64;
    for lf in memchr::memchr_iter(b'\n', data) {
        if lf == 0 || data[lf - 1] != b'\r' {
            bare_lf += 1;
        }
    }
    data.len() as u64 + bare_lf
}

/// The part of a message `TOP msg n` sends (RFC 1939 §7): the header section, the blank line
/// that ends it, and the first `lines` lines of the body.
pub fn top(data: &[u8], lines: u64) -> &[u8] {
    // The header ends at the first empty line (LF or CRLF ends).
    let mut pos = 0;
    let body_start = loop {
        match memchr::memchr(b'\n', &data[pos..]) {
            None => return data,
            Some(i) => {
                let line = &data[pos..pos + i];
                pos += i + 1;
                if line.is_empty() || line == b"\r" {
                    break pos;
                }
            }
        }
    };
    let mut end = body_start;
    for _ in 0..lines {
        match memchr::memchr(b'\n', &data[end..]) {
            Some(i) => end += i + 1,
            None => return data,
        }
    }
    &data[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let s = Status::parse(b"+OK 2 320").unwrap();
        assert!(s.ok);
        assert_eq!(s.code, None);
        assert_eq!(s.text, "2 320");
        // RFC 3206 §4 example
        let s = Status::parse(b"-ERR [IN-USE] Do you have another POP session running?").unwrap();
        assert!(!s.ok);
        assert_eq!(s.code.as_deref(), Some("IN-USE"));
        assert_eq!(s.text, "Do you have another POP session running?");
        let s = Status::parse(b"-ERR [SYS/TEMP] try later").unwrap();
        assert_eq!(s.code.as_deref(), Some("SYS/TEMP"));
        let s = Status::parse(b"+OK").unwrap();
        assert!(s.ok && s.text.is_empty());
        let s = Status::parse(b"+ok lenient").unwrap();
        assert!(s.ok);
        // not a response code: stays in the text
        let s = Status::parse(b"-ERR [not a code] x").unwrap();
        assert_eq!(s.code, None);
        assert_eq!(s.text, "[not a code] x");
        assert!(Status::parse(b"+OKAY").is_err());
        assert!(Status::parse(b"220 smtp").is_err());
        assert!(Status::parse(b"").is_err());
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(continuation(b"+ "), Some(&b""[..]));
        assert_eq!(continuation(b"+"), Some(&b""[..]));
        assert_eq!(continuation(b"+ Z2V0"), Some(&b"Z2V0"[..]));
        assert_eq!(continuation(b"+OK"), None);
    }

    fn encoded(chunks: &[&[u8]]) -> Vec<u8> {
        let mut enc = BodyEncoder::new();
        let mut out = Vec::new();
        for c in chunks {
            enc.feed(c, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    #[test]
    fn encoding_stuffs_dots_and_makes_crlf() {
        // RFC 1939 §3: lines beginning with the termination octet are byte-stuffed
        assert_eq!(
            encoded(&[b"a\n.b\n..c\r\n.\nend"]),
            b"a\r\n..b\r\n...c\r\n..\r\nend\r\n.\r\n"
        );
        // the same split at awkward places: between CR and LF, before a dot
        assert_eq!(
            encoded(&[b"a\r", b"\n", b".b\n.", b".c\r\n", b".", b"\n", b"end"]),
            b"a\r\n..b\r\n...c\r\n..\r\nend\r\n.\r\n"
        );
        assert_eq!(encoded(&[]), b".\r\n");
        assert_eq!(encoded(&[b"x\r"]), b"x\r\n.\r\n");
        // bare CR inside a line is data
        assert_eq!(encoded(&[b"a\rb\n"]), b"a\rb\r\n.\r\n");
    }

    #[test]
    fn crlf_sizes() {
        assert_eq!(crlf_size(b"a\nb\r\n"), 6);
        assert_eq!(crlf_size(b"\n"), 2);
        assert_eq!(crlf_size(b""), 0);
        for msg in [&b"a\n.b\nc"[..], b"x\r\ny\n", b"\n\n"] {
            let mut out = Vec::new();
            encode_body(msg, &mut out);
            let unstuffed: usize = out
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b".."))
                .count();
            // the body minus stuffing and terminator is exactly the CRLF size (+2 if no final LF)
            let extra = if msg.ends_with(b"\n") { 0 } else { 2 };
            assert_eq!(out.len() - unstuffed - 3, crlf_size(msg) as usize + extra);
        }
    }

    #[test]
    fn top_lines() {
        let msg = b"Subject: x\r\nFrom: a\r\n\r\nline1\r\nline2\r\nline3\r\n";
        assert_eq!(top(msg, 0), b"Subject: x\r\nFrom: a\r\n\r\n");
        assert_eq!(
            top(msg, 2),
            b"Subject: x\r\nFrom: a\r\n\r\nline1\r\nline2\r\n"
        );
        assert_eq!(top(msg, 99), msg);
        let lf = b"A: b\n\nbody\nmore\n";
        assert_eq!(top(lf, 1), b"A: b\n\nbody\n");
        // no body at all
        assert_eq!(top(b"A: b\r\n", 3), b"A: b\r\n");
    }

    async fn decode(wire: &'static [u8]) -> (Result<(), NetError>, Vec<u8>, Vec<u8>) {
        let mut r = LineReader::new(wire);
        let mut out = Vec::new();
        let res = read_multiline(&mut r, None, &mut out, None).await;
        let rest = r.buffer().to_vec();
        (res, out, rest)
    }

    #[tokio::test]
    async fn decoding_unstuffs() {
        let (res, body, rest) = decode(b"a\r\n..b\r\n...c\r\n..\r\nend\r\n.\r\n+OK next\r\n").await;
        res.unwrap();
        assert_eq!(body, b"a\r\n.b\r\n..c\r\n.\r\nend\r\n");
        assert_eq!(rest, b"+OK next\r\n");
        let (res, body, _) = decode(b".\r\n").await;
        res.unwrap();
        assert!(body.is_empty());
        // a dot inside a line is not special
        let (res, body, _) = decode(b"a.b\r\n\r\n.\r\n").await;
        res.unwrap();
        assert_eq!(body, b"a.b\r\n\r\n");
        // a truncated body is an error, not a short message
        let (res, _, _) = decode(b"a\r\nb\r\n").await;
        assert!(matches!(res, Err(NetError::Closed)));
        let (res, _, _) = decode(b"a\r\n.").await;
        assert!(matches!(res, Err(NetError::Closed)));
    }

    #[tokio::test]
    async fn round_trip_long_lines() {
        // poplib gives up on lines over 2048 octets; a body line of 10,000 must pass
        let mut msg = b"Subject: long\r\n\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'x', 10_000));
        msg.extend_from_slice(b"\r\n.leading dot\r\n");
        let mut wire = Vec::new();
        encode_body(&msg, &mut wire);
        let wire: &'static [u8] = Box::leak(wire.into_boxed_slice());
        let (res, body, _) = decode(wire).await;
        res.unwrap();
        assert_eq!(body, msg);
    }
}
