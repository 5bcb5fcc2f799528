//! What the client needs from a message before sending it: the envelope its headers imply,
//! the Bcc lines that must not be transmitted, whether it needs 8BITMIME or SMTPUTF8, and
//! the bytes in transmission form (CRLF line ends, dot-stuffed for DATA).
//!
//! Header fields are located by the message parser's own header reader and addresses read
//! with its address grammar (`crate::message::address`), so a field reads the same here as in
//! `Message.to`: an address the parser accepts is one the client sends to.

use std::ops::Range;

use super::command::envelope_address;
use crate::message::address;
use crate::message::parse::{self, FieldRange};

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

fn is_resent(raw: &[u8], field: &FieldRange) -> bool {
    field
        .name(raw)
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"resent-"))
}

/// The addresses of one field, in order (entries without an address left out).
fn push_addresses(raw: &[u8], field: &FieldRange, out: &mut Vec<String>) {
    let value = &raw[(field.colon + 1).min(field.end)..field.end];
    out.extend(
        address::parse_list(value)
            .into_iter()
            .map(|a| a.email)
            .filter(|e| !e.is_empty()),
    );
}

fn first_address(raw: &[u8], field: &FieldRange) -> Option<String> {
    let mut v = Vec::new();
    push_addresses(raw, field, &mut v);
    v.into_iter().next()
}

/// Read the header section of `raw`.
pub fn inspect(raw: &[u8]) -> MessageInfo {
    let tree = parse::build(raw);
    let headers = tree.headers(0);
    let body_offset = tree.parts.first().map_or(0, |p| p.body_start);
    let is = |f: &FieldRange, name: &str| f.is(raw, name);

    // The newest resent block is the first run of Resent-* fields (RFC 5322 §3.6.6: each
    // resend prepends its block).
    let resent_start = headers.iter().position(|h| is_resent(raw, h));
    let resent = resent_start.map(|start| {
        let len = headers[start..]
            .iter()
            .take_while(|h| is_resent(raw, h))
            .count();
        &headers[start..start + len]
    });

    let mut info = MessageInfo {
        body_offset,
        ..MessageInfo::default()
    };
    // Outside a resent block, the plain fields; inside, their Resent- forms.
    let (fields, prefix) = match resent {
        Some(block) if block.iter().any(|h| is(h, "Resent-From")) => (block, "Resent-"),
        _ => (headers, ""),
    };
    let named = |h: &FieldRange, name: &str| {
        let n = h.name(raw);
        n.len() == prefix.len() + name.len()
            && n[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            && n[prefix.len()..].eq_ignore_ascii_case(name.as_bytes())
    };
    let find = |name: &str| fields.iter().find(|h| named(h, name));
    info.sender = find("Sender")
        .and_then(|h| first_address(raw, h))
        .or_else(|| find("From").and_then(|h| first_address(raw, h)));
    let mut recipients = Vec::new();
    for h in fields {
        if ["To", "Cc", "Bcc"].iter().any(|n| named(h, n)) {
            push_addresses(raw, h, &mut recipients);
        }
    }
    info.recipients = dedup(recipients);
    for h in headers {
        if is(h, "Bcc") || is(h, "Resent-Bcc") {
            let start = h.start;
            let end = h.end.min(body_offset.max(start));
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
    fn same_address_grammar_as_messages_rfc5322_4_4() {
        // Obsolete syntax (RFC 5322 Appendix A.6.1): CFWS around the dot of the domain, a
        // route. `Message.to` reads these addresses, so the client must send to them too.
        let raw = b"From: Mary Smith <@node.test:mary@example.net>\r\n\
To: jdoe@test  . example, John Doe <jdoe@machine(comment).  example>\r\n\r\nhi\r\n";
        let info = inspect(raw);
        assert_eq!(info.sender.as_deref(), Some("mary@example.net"));
        assert_eq!(
            info.recipients,
            ["jdoe@test.example", "jdoe@machine.example"]
        );
        let parsed = crate::message::Document::from_vec(raw.to_vec());
        let to: Vec<String> = parsed
            .root()
            .addresses("To")
            .into_iter()
            .map(|a| a.email)
            .collect();
        assert_eq!(info.recipients, to);
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
