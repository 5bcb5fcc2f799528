//! What the index keeps of each message: the fields the list shows and searches, read once
//! when the message arrives, and the lowercase text the full-text search scans.

use crate::message::date::days_from_civil;
use crate::message::{Address, Date, Document, MessageView};

/// At most this much text of a message's text parts is kept for full-text search (the
/// start of the text; the rest is not searched).
pub const MAX_INDEXED_TEXT: usize = 32 * 1024;

/// How much of the text the list shows under the subject.
const SNIPPET_CHARS: usize = 140;

/// The parsed part of an index entry; shared (`Arc`) between the index and readers.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub subject: String,
    pub from: String,
    /// To and Cc, as "Name <address>" joined by ", ".
    pub to: String,
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub has_attachments: bool,
    pub snippet: String,
}

/// The lowercase text the search compares with; it goes into the index's arena
/// (`super::arena`), not into the summary.
#[derive(Debug, Clone, Default)]
pub struct SearchText {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub text: String,
}

/// `Name <address>`, or just the address (or the name when there is no address).
pub fn address_label(a: &Address) -> String {
    match (a.name.is_empty(), a.email.is_empty()) {
        (false, false) => format!("{} <{}>", a.name, a.email),
        (true, _) => a.email.clone(),
        (false, true) => a.name.clone(),
    }
}

fn join(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(address_label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds since the Unix epoch (UTC).
pub fn timestamp(d: &Date) -> i64 {
    d.timestamp()
}

/// `YYYY-MM-DD` (UTC midnight) or a number of seconds since the epoch.
pub fn parse_day(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let mut it = s.splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    // A day that does not exist (30 February) reads as the epoch, as it always has.
    let days = days_from_civil(y, m, d).unwrap_or(0);
    Some(days * 86_400)
}

/// Text for searching: tags of HTML parts skipped (the search only needs the words; what is
/// shown is never made this way), lowercase, at most `limit` bytes.
fn push_search_text(out: &mut String, text: &str, html: bool, limit: usize) {
    let mut in_tag = false;
    for c in text.chars() {
        if out.len() >= limit {
            return;
        }
        if html {
            match c {
                '<' => {
                    in_tag = true;
                    continue;
                }
                '>' if in_tag => {
                    in_tag = false;
                    out.push(' ');
                    continue;
                }
                _ if in_tag => continue,
                _ => {}
            }
        }
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
}

fn snippet_of(text: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.chars() {
        if out.chars().count() >= SNIPPET_CHARS {
            out.push('…');
            break;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// The summary of one message and its search text (never fails: malformed mail gives what
/// can be read).
pub fn summarize(data: Vec<u8>) -> (Summary, SearchText) {
    let doc = Document::from_vec(data);
    let m = doc.root();
    summarize_view(&m)
}

fn summarize_view(m: &MessageView<'_>) -> (Summary, SearchText) {
    let subject = m.subject().unwrap_or_default();
    let from = join(&m.addresses("From"));
    let mut recipients = m.addresses("To");
    recipients.extend(m.addresses("Cc"));
    let to = join(&recipients);
    let structure = m.body_structure();
    let mut text = String::new();
    let mut plain_snippet = None;
    for &id in &structure.text {
        let Some(part) = m
            .tree
            .parts
            .get(id as usize)
            .map(|_| crate::message::PartView { tree: m.tree, id })
        else {
            continue;
        };
        let (t, sub) = part.mime_type_pair();
        if t != "text" {
            continue;
        }
        if let Some(body) = part.text() {
            if plain_snippet.is_none() && sub == "plain" {
                plain_snippet = Some(snippet_of(&body));
            }
            push_search_text(&mut text, &body, sub == "html", MAX_INDEXED_TEXT);
            text.push('\n');
        }
    }
    let snippet = plain_snippet.unwrap_or_else(|| snippet_of(&text));
    let search = SearchText {
        subject: subject.to_lowercase(),
        from: from.to_lowercase(),
        to: to.to_lowercase(),
        text,
    };
    let summary = Summary {
        subject,
        from,
        to,
        date: m.date().as_ref().map(timestamp),
        message_id: m.message_id(),
        has_attachments: !structure.attachments.is_empty(),
        snippet,
    };
    (summary, search)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_arithmetic() {
        assert_eq!(parse_day("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_day("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_day("2024-13-01"), None);
        let d = crate::message::date::parse(b"Tue, 1 Jul 2003 10:52:37 +0200\n").unwrap();
        assert_eq!(timestamp(&d), 1_057_049_557);
    }

    #[test]
    fn summary_of_a_multipart_message() {
        let (s, t) = summarize(
            b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: \"C\" <c@x.org>\r\n\
Subject: =?utf-8?q?R=C3=A9union?=\r\nDate: Thu, 1 Jan 2026 10:00:00 +0000\r\n\
Message-ID: <id@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
Hello   World\r\nline two\r\n--b\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=a.pdf\r\n\r\nxx\r\n--b--\r\n"
                .to_vec(),
        );
        assert_eq!(s.subject, "Réunion");
        assert_eq!(t.subject, "réunion");
        assert_eq!(s.from, "Alice <alice@example.org>");
        assert_eq!(s.to, "bob@example.org, C <c@x.org>");
        assert_eq!(s.date, Some(1_767_261_600));
        assert_eq!(s.message_id.as_deref(), Some("id@x"));
        assert!(s.has_attachments);
        assert_eq!(s.snippet, "Hello World line two");
        assert!(t.text.contains("hello   world"));
    }

    #[test]
    fn html_only_text_is_searchable_without_tags() {
        let (s, t) = summarize(
            b"Subject: x\r\nContent-Type: text/html\r\n\r\n<p>Big <b>Sale</b></p><script>x</script>"
                .to_vec(),
        );
        assert!(t.text.contains("big  sale"), "{:?}", t.text);
        assert!(!t.text.contains("<b>"));
        assert!(!s.has_attachments);
    }
}
