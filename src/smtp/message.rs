//! What the client needs from a message before sending it: the envelope its headers imply,
//! the Bcc lines that must not be transmitted, whether it needs 8BITMIME or SMTPUTF8, and
//! the bytes in transmission form (CRLF line ends, dot-stuffed for DATA).
//!
//! Headers are located with mail-parser, which gives each field's byte offsets, folded
//! continuation lines included.

use std::ops::Range;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};

use super::command::envelope_address;

/// The envelope implied by a message's headers, and what to cut out of it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// RFC 5322 §3.6.2: Sender if present, else the first From address (Resent-Sender /
    /// Resent-From for a resent message, §3.6.6).
    pub sender: Option<String>,
    /// To, Cc and Bcc (or the newest Resent-To/-Cc/-Bcc block), deduplicated in order.
    pub recipients: Vec<String>,
    /// Byte ranges of the Bcc and Resent-Bcc fields, folded lines included.
    pub hidden: Vec<Range<usize>>,
    /// Where the header section ends (the body starts).
    pub body_offset: usize,
}

fn is_resent(name: &HeaderName<'_>) -> bool {
    name.as_str()
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("resent-"))
}

fn push_addresses(value: &HeaderValue<'_>, out: &mut Vec<String>) {
    let HeaderValue::Address(address) = value else {
        return;
    };
    let mut push = |a: Option<&str>| {
        if let Some(a) = a.map(str::trim).filter(|a| !a.is_empty()) {
            out.push(a.to_owned());
        }
    };
    match address {
        Address::List(list) => list.iter().for_each(|a| push(a.address.as_deref())),
        Address::Group(groups) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .for_each(|a| push(a.address.as_deref())),
    }
}

fn first_address(value: &HeaderValue<'_>) -> Option<String> {
    let mut v = Vec::new();
    push_addresses(value, &mut v);
    v.into_iter().next()
}

/// Read the header section of `raw`.
pub fn inspect(raw: &[u8]) -> MessageInfo {
    let parser = MessageParser::new();
    let Some(message) = parser.parse_headers(raw) else {
        return MessageInfo::default();
    };
    let headers = message.headers();
    // parse_headers does not report where the body starts: it follows the blank line after
    // the last field.
    let headers_end = headers
        .last()
        .map_or(0, |h| (h.offset_end as usize).min(raw.len()));
    let body_offset = if raw[headers_end..].starts_with(b"\r\n") {
        headers_end + 2
    } else if raw[headers_end..].starts_with(b"\n") {
        headers_end + 1
    } else {
        headers_end
    };

    // The newest resent block is the first run of Resent-* fields (RFC 5322 §3.6.6: each
    // resend prepends its block).
    let resent_start = headers.iter().position(|h| is_resent(&h.name));
    let resent = resent_start.map(|start| {
        let len = headers[start..]
            .iter()
            .take_while(|h| is_resent(&h.name))
            .count();
        &headers[start..start + len]
    });

    let mut info = MessageInfo {
        body_offset,
        ..MessageInfo::default()
    };
    let mut recipients = Vec::new();
    match resent {
        Some(block) if block.iter().any(|h| h.name == HeaderName::ResentFrom) => {
            let find = |n: HeaderName<'_>| block.iter().find(|h| h.name == n);
            info.sender = find(HeaderName::ResentSender)
                .and_then(|h| first_address(&h.value))
                .or_else(|| find(HeaderName::ResentFrom).and_then(|h| first_address(&h.value)));
            for h in block {
                if matches!(
                    h.name,
                    HeaderName::ResentTo | HeaderName::ResentCc | HeaderName::ResentBcc
                ) {
                    push_addresses(&h.value, &mut recipients);
                }
            }
        }
        _ => {
            let find = |n: HeaderName<'_>| headers.iter().find(|h| h.name == n);
            info.sender = find(HeaderName::Sender)
                .and_then(|h| first_address(&h.value))
                .or_else(|| find(HeaderName::From).and_then(|h| first_address(&h.value)));
            for h in headers {
                if matches!(h.name, HeaderName::To | HeaderName::Cc | HeaderName::Bcc) {
                    push_addresses(&h.value, &mut recipients);
                }
            }
        }
    }
    info.recipients = dedup(recipients);
    for h in headers {
        if matches!(h.name, HeaderName::Bcc | HeaderName::ResentBcc) {
            let start = h.offset_field as usize;
            let end = (h.offset_end as usize).min(body_offset.max(start));
            if start < end {
                info.hidden.push(start..end);
            }
        }
    }
    info
}

/// Remove duplicates (addresses compared without case), keeping the first spelling.
pub fn dedup(addresses: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::with_capacity(addresses.len());
    let mut out = Vec::with_capacity(addresses.len());
    for a in addresses {
        let Ok(norm) = envelope_address(&a, false) else {
            // Keep it: the RCPT step reports the invalid address by name.
            out.push(a);
            continue;
        };
        let key = norm.to_lowercase();
        if !seen.contains(&key) {
            seen.push(key);
            out.push(norm);
        }
    }
    out
}

/// The message in transmission form: the hidden ranges cut out and every line ending in CRLF
/// (RFC 5321 §2.3.8 forbids bare CR and LF), ending with a line end.
pub fn canonical(raw: &[u8], hidden: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 2);
    let mut pos = 0;
    let mut pieces: Vec<&[u8]> = Vec::with_capacity(hidden.len() + 1);
    for r in hidden {
        if r.start >= pos && r.end <= raw.len() {
            pieces.push(&raw[pos..r.start]);
            pos = r.end;
        }
    }
    pieces.push(&raw[pos..]);
    let mut pending_cr = false;
    for piece in pieces {
        let mut rest = piece;
        while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
            if pending_cr && i == 0 && rest[0] == b'\n' {
                // The LF of a CRLF split across pieces: the CRLF was already written.
                pending_cr = false;
                rest = &rest[1..];
                continue;
            }
            pending_cr = false;
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"\r\n");
            if rest[i] == b'\r' {
                if rest.get(i + 1) == Some(&b'\n') {
                    rest = &rest[i + 2..];
                } else {
                    pending_cr = i + 1 == rest.len();
                    rest = &rest[i + 1..];
                }
            } else {
                rest = &rest[i + 1..];
            }
        }
        if !rest.is_empty() {
            pending_cr = false;
        }
        out.extend_from_slice(rest);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// DATA form (RFC 5321 §4.5.2): a dot doubled at the start of every line, then "." CRLF.
pub fn dot_stuffed(canonical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(canonical.len() + 16);
    let mut line_start = true;
    let mut rest = canonical;
    while !rest.is_empty() {
        if line_start && rest[0] == b'.' {
            out.push(b'.');
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
                line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                rest = &[];
            }
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Where 8-bit octets are: in the header section (needs SMTPUTF8, RFC 6532) and in the body
/// (needs 8BITMIME, RFC 6152).
pub fn eight_bit(data: &[u8], body_offset: usize) -> (bool, bool) {
    let split = body_offset.min(data.len());
    let (h, b) = data.split_at(split);
    (!h.is_ascii(), !b.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = b"From: \"Alice Doe\" <alice@example.org>\r\n\
To: Bob Smith <bob@example.com>\r\n\
Date: Mon, 9 Mar 2010 18:22:32 +0100\r\n\
Subject: Hello\r\n\
\r\n\
Hello Bob\r\n";

    #[test]
    fn envelope_from_headers() {
        let info = inspect(SEED);
        assert_eq!(info.sender.as_deref(), Some("alice@example.org"));
        assert_eq!(info.recipients, ["bob@example.com"]);
        assert!(info.hidden.is_empty());
        assert_eq!(&SEED[info.body_offset..], b"Hello Bob\r\n");
    }

    #[test]
    fn sender_wins_and_recipients_dedup() {
        let raw = b"From: a@x.example, b@x.example\r\nSender: s@x.example\r\n\
To: one@y.example, Two <two@y.example>\r\nCc: ONE@y.example, team: t1@y.example, t2@y.example;\r\n\
Bcc: hidden@z.example,\r\n  also@z.example\r\nSubject: s\r\n\r\nbody\r\n";
        let info = inspect(raw);
        assert_eq!(info.sender.as_deref(), Some("s@x.example"));
        assert_eq!(
            info.recipients,
            [
                "one@y.example",
                "two@y.example",
                "t1@y.example",
                "t2@y.example",
                "hidden@z.example",
                "also@z.example"
            ]
        );
        // RFC 5322 §3.6.3: Bcc, folded continuation included, is cut out
        let sent = canonical(raw, &info.hidden);
        let text = String::from_utf8(sent).unwrap();
        assert!(
            !text.contains("Bcc") && !text.contains("hidden@") && !text.contains("also@"),
            "{text}"
        );
        assert!(text.contains("Cc: ONE@y.example") && text.contains("Subject: s\r\n\r\nbody\r\n"));
    }

    #[test]
    fn resent_block_rfc5322_3_6_6() {
        let raw = b"Resent-From: fwd@r.example\r\nResent-To: new@r.example\r\nResent-Bcc: secret@r.example\r\n\
Resent-Date: Mon, 9 Mar 2010 18:22:32 +0100\r\nFrom: a@x.example\r\nTo: b@x.example\r\nBcc: c@x.example\r\n\r\nhi\r\n";
        let info = inspect(raw);
        assert_eq!(info.sender.as_deref(), Some("fwd@r.example"));
        assert_eq!(info.recipients, ["new@r.example", "secret@r.example"]);
        let text = String::from_utf8(canonical(raw, &info.hidden)).unwrap();
        assert!(
            !text.contains("secret@") && !text.contains("c@x.example"),
            "{text}"
        );
        assert!(
            text.starts_with(
                "Resent-From: fwd@r.example\r\nResent-To: new@r.example\r\nResent-Date:"
            )
        );
    }

    #[test]
    fn no_headers() {
        let info = inspect(b"just text, no header\r\n");
        assert_eq!(info.sender, None);
        assert!(info.recipients.is_empty());
    }

    #[test]
    fn line_ends_and_dot_stuffing_rfc5321_4_5_2() {
        assert_eq!(canonical(b"a\nb\rc\r\nd", &[]), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(canonical(b"", &[]), b"");
        // a CRLF split by a cut range stays one line end
        assert_eq!(
            canonical(b"a\rXX\nb", std::slice::from_ref(&(2..4))),
            b"a\r\nb\r\n"
        );
        assert_eq!(
            dot_stuffed(b".\r\n..x\r\ny.\r\n"),
            b"..\r\n...x\r\ny.\r\n.\r\n"
        );
        assert_eq!(dot_stuffed(b""), b".\r\n");
        assert_eq!(
            eight_bit("Subject: é\r\n\r\nx".as_bytes(), 14),
            (true, false)
        );
    }
}
