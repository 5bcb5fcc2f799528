//! Mailing-list header fields: the URL lists of RFC 2369 (`List-Help`, `List-Subscribe`,
//! `List-Unsubscribe`, `List-Post`, `List-Owner`, `List-Archive`) and `List-Id` (RFC 2919).
//!
//! RFC 2369 §2: the value is a comma-separated list of `<URL>`s in order of preference, with
//! comments allowed anywhere; white space inside the brackets is to be ignored, and
//! `List-Post` may be `NO` (posting not allowed). Senders that leave out the brackets are
//! read too: a bare word with a scheme (`mailto:...`, `https://...`) counts as a URL.

use super::authres::Cursor;

/// The URLs of an RFC 2369 field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlList {
    /// In order of preference, white space removed.
    pub urls: Vec<String>,
    /// `List-Post: NO` (RFC 2369 §3.4).
    pub no: bool,
    pub comments: Vec<String>,
}

/// Parse an RFC 2369 URL list. Never fails.
pub fn parse_urls(value: &str) -> UrlList {
    let mut out = UrlList::default();
    let mut p = Cursor::new(value);
    loop {
        p.cfws(&mut out.comments);
        match p.peek() {
            None => break,
            Some(b',') => p.pos += 1,
            Some(b'<') => {
                let url = bracketed(&mut p);
                if !url.is_empty() {
                    out.urls.push(url);
                }
            }
            Some(_) => {
                let start = p.pos;
                while p.peek().is_some_and(|c| {
                    !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'(' | b'<')
                }) {
                    p.pos += 1;
                }
                if p.pos == start {
                    p.advance_char();
                    continue;
                }
                let word = p.slice(start, p.pos);
                if word.eq_ignore_ascii_case("NO") {
                    out.no = true;
                } else if has_scheme(word) {
                    out.urls.push(word.to_string());
                }
            }
        }
    }
    out
}

/// `scheme:` as RFC 3986 §3.1 spells it.
fn has_scheme(word: &str) -> bool {
    let Some((scheme, rest)) = word.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// A `List-Id` field (RFC 2919 §3): `[phrase] "<" list-id ">"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListId {
    /// The phrase (description), unquoted; `None` when there is none.
    pub description: Option<String>,
    /// The list identifier (`list-header.nisto.com`), without brackets.
    pub id: Option<String>,
}

/// Parse a List-Id value (RFC 2047 words already decoded). Never fails.
pub fn parse_list_id(value: &str) -> ListId {
    let mut out = ListId::default();
    // The identifier is in the last <...>; a phrase may itself hold angle brackets only
    // inside quotes, which the search below steps over.
    let mut p = Cursor::new(value);
    let mut phrase = String::new();
    let mut comments = Vec::new();
    loop {
        match p.peek() {
            None => break,
            Some(b'"') => {
                if let Some(q) = p.value() {
                    push_word(&mut phrase, &q);
                }
            }
            Some(b'(') => p.cfws(&mut comments),
            Some(b' ' | b'\t' | b'\r' | b'\n') => p.pos += 1,
            Some(b'<') => {
                let id = bracketed(&mut p);
                if !id.is_empty() {
                    out.id = Some(id);
                }
            }
            Some(_) => {
                let start = p.pos;
                while p.peek().is_some_and(|c| {
                    !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'(' | b'<')
                }) {
                    p.pos += 1;
                }
                if p.pos == start {
                    p.advance_char();
                } else {
                    push_word(&mut phrase, p.slice(start, p.pos));
                }
            }
        }
    }
    if out.id.is_none() && !phrase.contains(' ') && phrase.contains('.') {
        // `List-Id: list.example.org` without brackets.
        out.id = Some(std::mem::take(&mut phrase));
    }
    if !phrase.is_empty() {
        out.description = Some(phrase);
    }
    out
}

/// What stands between `<` (next) and `>` (or the end), white space removed: folding may
/// break a URL or a list-id anywhere.
fn bracketed(p: &mut Cursor<'_>) -> String {
    p.pos += 1;
    let start = p.pos;
    while p.peek().is_some_and(|c| c != b'>') {
        p.pos += 1;
    }
    let inside: String = p.slice(start, p.pos).split_ascii_whitespace().collect();
    p.eat(b'>');
    inside
}

fn push_word(phrase: &mut String, word: &str) {
    if !phrase.is_empty() {
        phrase.push(' ');
    }
    phrase.push_str(word);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2369_examples() {
        // RFC 2369 §3.1-3.6 examples.
        let u = parse_urls(" <mailto:list@host.com?subject=help> (List Instructions)");
        assert_eq!(u.urls, ["mailto:list@host.com?subject=help"]);
        assert_eq!(u.comments, ["List Instructions"]);
        let u = parse_urls(
            " (Use this command to get off the list)\r\n     <mailto:list-manager@host.com?body=unsubscribe%20list>",
        );
        assert_eq!(
            u.urls,
            ["mailto:list-manager@host.com?body=unsubscribe%20list"]
        );
        let u = parse_urls(
            " <ftp://ftp.host.com/list.txt> (FTP),\r\n     <mailto:list@host.com?subject=help>",
        );
        assert_eq!(
            u.urls,
            [
                "ftp://ftp.host.com/list.txt",
                "mailto:list@host.com?subject=help"
            ]
        );
        let u = parse_urls(" NO (posting not allowed on this list)");
        assert!(u.no);
        assert!(u.urls.is_empty());
        // §2: white space inside the brackets is ignored.
        let u = parse_urls(" <http://www.host.com/list/\r\n  archive/>");
        assert_eq!(u.urls, ["http://www.host.com/list/archive/"]);
    }

    #[test]
    fn rfc8058_and_bare_urls() {
        // RFC 8058 §8, the complex example's List-Unsubscribe.
        let u = parse_urls(
            " <mailto:listrequest@example.com?subject=unsubscribe>,\r\n    <https://example.com/unsubscribe.html?opaque=123456789>",
        );
        assert_eq!(
            u.urls,
            [
                "mailto:listrequest@example.com?subject=unsubscribe",
                "https://example.com/unsubscribe.html?opaque=123456789"
            ]
        );
        // Without brackets, as some bulk senders write it.
        let u = parse_urls(" mailto:off@example.com, https://example.com/u?x=1 junk");
        assert_eq!(
            u.urls,
            ["mailto:off@example.com", "https://example.com/u?x=1"]
        );
    }

    #[test]
    fn rfc2919_list_id() {
        // RFC 2919 §3 examples.
        let l = parse_list_id(" List Header Mailing List <list-header.nisto.com>");
        assert_eq!(l.description.as_deref(), Some("List Header Mailing List"));
        assert_eq!(l.id.as_deref(), Some("list-header.nisto.com"));
        let l = parse_list_id(" <commonspace-users.list-id.within.com>");
        assert_eq!(
            (l.description, l.id.as_deref()),
            (None, Some("commonspace-users.list-id.within.com"))
        );
        let l = parse_list_id(
            " \"Lena's Personal <Joke> List\"\r\n         <lenas-jokes.da39efc25c530ad145d41b86f7420c3b.021999.localhost>",
        );
        assert_eq!(
            l.description.as_deref(),
            Some("Lena's Personal <Joke> List")
        );
        assert_eq!(
            l.id.as_deref(),
            Some("lenas-jokes.da39efc25c530ad145d41b86f7420c3b.021999.localhost")
        );
        // CPython's msg_16.txt (Mailman).
        let l = parse_list_id("SoCal-Raves <scr.socal-raves.org>");
        assert_eq!(l.id.as_deref(), Some("scr.socal-raves.org"));
        // No brackets.
        assert_eq!(
            parse_list_id(" list.example.org").id.as_deref(),
            Some("list.example.org")
        );
    }

    #[test]
    fn malformed_never_panics() {
        for v in [
            "",
            "<",
            ">",
            "<<>>",
            "(",
            "\"",
            "NO NO",
            "é<ü>",
            ":",
            "a:",
            ",,,,",
            "<\u{1F600}",
        ] {
            let _ = parse_urls(v);
            let _ = parse_list_id(v);
        }
        assert!(parse_urls("<").urls.is_empty());
    }
}
