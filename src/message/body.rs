//! Payload decoding: Content-Transfer-Encoding (RFC 2045 §6) and charsets (RFC 2046 §4.1.2).

use std::borrow::Cow;

use super::parse::FieldRange;
use crate::codec::{base64, charset, quoted_printable};

/// A part's Content-Transfer-Encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferEncoding {
    /// 7bit, 8bit, binary, or no header: the body is the payload.
    Identity,
    Base64,
    QuotedPrintable,
    /// `x-uuencode` and its aliases, which the stdlib also decodes.
    Uuencode,
    /// Anything else: passed through, with a defect.
    Unknown,
}

impl TransferEncoding {
    /// The encoding a header section declares (the first Content-Transfer-Encoding field).
    pub fn of(raw: &[u8], headers: &[FieldRange]) -> Self {
        match headers
            .iter()
            .find(|f| f.is(raw, "Content-Transfer-Encoding"))
        {
            Some(f) => Self::parse(&raw[f.colon + 1..f.end]),
            None => TransferEncoding::Identity,
        }
    }

    /// Read a header value (comments and whitespace tolerated, case-insensitive).
    pub fn parse(value: &[u8]) -> Self {
        let token = token(value);
        let t = token.to_ascii_lowercase();
        match t.as_slice() {
            b"" | b"7bit" | b"8bit" | b"binary" => TransferEncoding::Identity,
            b"base64" => TransferEncoding::Base64,
            b"quoted-printable" => TransferEncoding::QuotedPrintable,
            b"x-uuencode" | b"uuencode" | b"x-uue" | b"uue" => TransferEncoding::Uuencode,
            _ => TransferEncoding::Unknown,
        }
    }

    pub fn is_encoded(self) -> bool {
        matches!(
            self,
            TransferEncoding::Base64 | TransferEncoding::QuotedPrintable
        )
    }

    /// The decoded size, when it is cheap to predict: exact for the identity encodings,
    /// a guess from the line layout for base64 (exact for well-formed MIME). Callers
    /// decode straight into a buffer of that size with `decode_into`.
    pub fn decoded_len_guess(self, body: &[u8]) -> Option<usize> {
        match self {
            TransferEncoding::Identity | TransferEncoding::Unknown => Some(body.len()),
            TransferEncoding::Base64 => Some(base64::decoded_len_guess(body)),
            TransferEncoding::QuotedPrintable | TransferEncoding::Uuencode => None,
        }
    }

    /// A size the decoded payload never exceeds (for when a guess was too small).
    pub fn decoded_len_bound(self, body: &[u8]) -> Option<usize> {
        match self {
            TransferEncoding::Identity | TransferEncoding::Unknown => Some(body.len()),
            TransferEncoding::Base64 => Some(base64::decoded_len_upper_bound(body)),
            TransferEncoding::QuotedPrintable | TransferEncoding::Uuencode => None,
        }
    }

    /// Decode into `out`: the number of bytes written, or `None` when `out` is too small.
    pub fn decode_into(self, body: &[u8], out: &mut [u8]) -> Option<usize> {
        match self {
            TransferEncoding::Base64 => base64::decode_lenient_into_checked(body, out),
            _ => {
                let n = body.len();
                out.get_mut(..n)?.copy_from_slice(body);
                Some(n)
            }
        }
    }

    /// Decode the body (borrowed when there is nothing to decode).
    pub fn decode(self, body: &[u8]) -> Cow<'_, [u8]> {
        match self {
            TransferEncoding::Identity | TransferEncoding::Unknown => Cow::Borrowed(body),
            TransferEncoding::Base64 => Cow::Owned(base64::decode_lenient(body)),
            TransferEncoding::QuotedPrintable => Cow::Owned(quoted_printable::decode(body, false)),
            TransferEncoding::Uuencode => Cow::Owned(uudecode(body)),
        }
    }
}

/// The first token of a header value, skipping whitespace and RFC 5322 comments.
fn token(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    for &b in value {
        match b {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b' ' | b'\t' | b'\r' | b'\n' | b'"' => {
                if !out.is_empty() {
                    break;
                }
            }
            _ => out.push(b),
        }
    }
    out
}

/// Decode uuencoded data (POSIX `uuencode`): the lines between `begin` and `end`. Without
/// a `begin` line every line is decoded; malformed lines are decoded as far as they go.
pub fn uudecode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let has_begin = body
        .split(|&b| b == b'\n')
        .any(|l| l.starts_with(b"begin "));
    if has_begin {
        for l in lines.by_ref() {
            if l.starts_with(b"begin ") {
                break;
            }
        }
    }
    for line in lines {
        if line == b"end" || line.is_empty() {
            if line == b"end" {
                break;
            }
            continue;
        }
        let n = (line[0].wrapping_sub(b' ') & 0x3f) as usize;
        if n == 0 {
            continue;
        }
        let chars = &line[1..];
        let mut got = 0;
        for group in chars.chunks(4) {
            let v = |i: usize| -> u32 {
                (group.get(i).copied().unwrap_or(b' ').wrapping_sub(b' ') & 0x3f) as u32
            };
            let w = (v(0) << 18) | (v(1) << 12) | (v(2) << 6) | v(3);
            for shift in [16u32, 8, 0] {
                if got < n {
                    out.push((w >> shift) as u8);
                    got += 1;
                }
            }
        }
    }
    out
}

/// Decode text in its declared charset; `None` as the second value when the charset is
/// unknown (the text is then read as undeclared: UTF-8, or windows-1252 if not UTF-8).
///
/// No charset, `us-ascii` and `ascii` are read as undeclared text: mail that declares ASCII
/// but carries 8-bit bytes is nearly always UTF-8 or Latin-1, and this reads both.
pub fn decode_text(payload: &[u8], declared: Option<&str>) -> (String, bool) {
    let Some(label) = declared.map(str::trim).filter(|l| !l.is_empty()) else {
        return (charset::decode_undeclared(payload), true);
    };
    let lower = label.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "us-ascii" | "ascii" | "unknown-8bit" | "x-unknown"
    ) {
        return (charset::decode_undeclared(payload), true);
    }
    // Also the charsets WHATWG leaves out but mail still uses (UTF-7, UTF-16...).
    if let Some(text) = charset::decode(payload, label) {
        return (text, true);
    }
    (charset::decode_undeclared(payload), false)
}

/// Is `label` a charset that `decode_text` knows?
pub fn charset_known(label: &str) -> bool {
    let lower = label.trim().to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "us-ascii" | "ascii" | "unknown-8bit" | "x-unknown"
    ) || charset::known(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(
            TransferEncoding::parse(b" Base64\r\n"),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::parse(b" quoted-printable (comment)\r\n"),
            TransferEncoding::QuotedPrintable
        );
        assert_eq!(
            TransferEncoding::parse(b" 7BIT"),
            TransferEncoding::Identity
        );
        assert_eq!(
            TransferEncoding::parse(b" x-gzip"),
            TransferEncoding::Unknown
        );
        assert_eq!(
            TransferEncoding::parse(b" \"base64\""),
            TransferEncoding::Base64
        );
    }

    #[test]
    fn uuencode() {
        // `uuencode` of "Cat\n" (POSIX example format).
        let body = b"begin 644 cat.txt\n$0V%T\"@``\n`\nend\n";
        assert_eq!(uudecode(body), b"Cat\n");
    }

    #[test]
    fn text() {
        assert_eq!(decode_text(b"caf\xe9", Some("iso-8859-1")).0, "café");
        assert_eq!(decode_text("café".as_bytes(), Some("us-ascii")).0, "café");
        assert_eq!(decode_text(b"caf\xe9", None).0, "café");
        let (t, known) = decode_text(b"abc", Some("x-nonsense"));
        assert_eq!((t.as_str(), known), ("abc", false));
        assert_eq!(
            decode_text(b"+ZYeB9FH6ckh5Pg-", Some("utf-7")).0,
            "文致出版社"
        );
    }
}
