//! SMTP replies (RFC 5321 §4.2): three-digit codes, multi-line replies, and the enhanced
//! status codes of RFC 3463 that servers offering ENHANCEDSTATUSCODES (RFC 2034) put at the
//! start of each line's text.

use std::fmt;

use super::Error;

/// The most lines one reply may have: a bound on memory, far above any real EHLO list.
pub const MAX_REPLY_LINES: usize = 512;

/// One complete reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 200..=599 in practice.
    pub code: u16,
    /// The RFC 3463 status code ("5.1.1"), when the server sent one.
    pub enhanced: Option<String>,
    /// The text of each line, without code, separator or enhanced status code.
    pub lines: Vec<String>,
}

impl Reply {
    /// A reply from its lines as received (without line ends).
    pub fn from_lines(raw: &[Vec<u8>]) -> Result<Reply, Error> {
        let mut code = None;
        let mut lines = Vec::with_capacity(raw.len());
        let mut enhanced = None;
        for (i, line) in raw.iter().enumerate() {
            let (c, last, text) = parse_line(line)?;
            match code {
                None => code = Some(c),
                Some(first) if first != c => {
                    return Err(Error::Protocol(format!(
                        "reply lines with different codes ({first} then {c})"
                    )));
                }
                Some(_) => {}
            }
            if last != (i + 1 == raw.len()) {
                return Err(Error::Protocol("malformed multi-line reply".into()));
            }
            let text = String::from_utf8_lossy(text);
            match split_enhanced(c, &text) {
                Some((status, rest)) => {
                    if enhanced.is_none() && i == 0 {
                        enhanced = Some(status.to_owned());
                    }
                    lines.push(rest.to_owned());
                }
                None => lines.push(text.into_owned()),
            }
        }
        let code = code.ok_or_else(|| Error::Protocol("empty reply".into()))?;
        Ok(Reply {
            code,
            enhanced,
            lines,
        })
    }

    /// The text of all lines, joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = &self.enhanced {
            write!(f, " {e}")?;
        }
        let text = self.text();
        if !text.is_empty() {
            write!(f, " {}", text.replace('\n', " / "))?;
        }
        Ok(())
    }
}

/// One reply line: its code, whether it is the last line, and its text.
///
/// RFC 5321 §4.2: `Reply-code [ SP textstring ] CRLF` for the last line and
/// `Reply-code "-" [ textstring ] CRLF` before it. A bare code ("250") is accepted as a last
/// line, as several servers send it.
pub fn parse_line(line: &[u8]) -> Result<(u16, bool, &[u8]), Error> {
    let bad = || {
        Error::Protocol(format!(
            "malformed reply line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        ))
    };
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    if !(200..600).contains(&code) {
        return Err(bad());
    }
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// Split "5.1.1 text" into ("5.1.1", "text") when the text starts with an RFC 3463 status
/// code whose class matches the reply code's first digit (RFC 2034 §4).
pub fn split_enhanced(code: u16, text: &str) -> Option<(&str, &str)> {
    let end = text.find(' ').unwrap_or(text.len());
    let candidate = &text[..end];
    let mut parts = candidate.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let class_ok =
        matches!(class, "2" | "4" | "5") && u16::from(class.as_bytes()[0] - b'0') == code / 100;
    if class_ok && digits(subject, 3) && digits(detail, 3) {
        Some((candidate, text[end..].trim_start_matches(' ')))
    } else {
        None
    }
}

/// The extensions a server announced in its EHLO reply (RFC 5321 §4.1.1.1): keyword in upper
/// case, and its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    entries: Vec<(String, String)>,
}

impl Extensions {
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut entries: Vec<(String, String)> = Vec::new();
        // The first line is the server's greeting; each later line is one extension.
        for line in reply.lines.iter().skip(1) {
            let line = line.trim();
            let (keyword, params) = match line.find([' ', '=']) {
                // "AUTH=LOGIN PLAIN" is what some old servers send for broken clients.
                Some(i) => (&line[..i], line[i + 1..].trim()),
                None => (line, ""),
            };
            if keyword.is_empty()
                || !keyword
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                continue;
            }
            let keyword = keyword.to_ascii_uppercase();
            match entries.iter_mut().find(|(k, _)| *k == keyword) {
                // AUTH may be listed twice (AUTH and AUTH=): merge the mechanisms.
                Some((_, existing)) if !params.is_empty() => {
                    if !existing.is_empty() {
                        existing.push(' ');
                    }
                    existing.push_str(params);
                }
                Some(_) => {}
                None => entries.push((keyword, params.to_owned())),
            }
        }
        Extensions { entries }
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }

    pub fn params(&self, keyword: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v.as_str())
    }

    /// The SIZE limit (RFC 1870), if the server declared a non-zero one.
    pub fn size_limit(&self) -> Option<u64> {
        self.params("SIZE")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
            .filter(|&n| n > 0)
    }

    /// AUTH mechanisms offered, in upper case.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.params("AUTH")
            .map(|p| p.split_whitespace().map(str::to_ascii_uppercase).collect())
            .unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Result<Reply, Error> {
        let raw: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        Reply::from_lines(&raw)
    }

    #[test]
    fn single_and_multi_line() {
        // the seed chapter's session, and RFC 5321 §4.2.1's multi-line form
        let r = reply(&["250 Ok: queued as 12345"]).unwrap();
        assert_eq!((r.code, r.text().as_str()), (250, "Ok: queued as 12345"));
        let r = reply(&["250-smtp.example.com", "250-PIPELINING", "250 SIZE 1000"]).unwrap();
        assert_eq!(r.lines, ["smtp.example.com", "PIPELINING", "SIZE 1000"]);
        let r = reply(&["250"]).unwrap();
        assert_eq!(r.text(), "");
    }

    #[test]
    fn malformed_replies() {
        assert!(reply(&["25 x"]).is_err());
        assert!(reply(&["abc x"]).is_err());
        assert!(reply(&["250x"]).is_err());
        assert!(reply(&["150 x"]).is_err());
        assert!(reply(&["250-a", "251 b"]).is_err());
        assert!(reply(&["250-a", "250-b"]).is_err());
        assert!(reply(&["250 a", "250 b"]).is_err());
    }

    #[test]
    fn enhanced_status_codes_rfc3463() {
        let r = reply(&["550-5.1.1 No such user", "550 5.1.1 here"]).unwrap();
        assert_eq!(r.enhanced.as_deref(), Some("5.1.1"));
        assert_eq!(r.lines, ["No such user", "here"]);
        // class must match the reply code (RFC 2034 §4); version numbers are not codes
        let r = reply(&["250 1.2.3 is a version"]).unwrap();
        assert_eq!(r.enhanced, None);
        let r = reply(&["250 4.0.0 odd"]).unwrap();
        assert_eq!(r.enhanced, None);
        let r = reply(&["452 4.5.3 Too many recipients"]).unwrap();
        assert_eq!(r.enhanced.as_deref(), Some("4.5.3"));
        assert_eq!(split_enhanced(250, "2.0.0"), Some(("2.0.0", "")));
        assert_eq!(split_enhanced(250, "2.0.0000 x"), None);
    }

    #[test]
    fn extensions_from_ehlo() {
        let r = reply(&[
            "250-mail.example.com Hello",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-auth PLAIN LOGIN",
            "250-AUTH=LOGIN XOAUTH2",
            "250-8BITMIME",
            "250 SMTPUTF8",
        ])
        .unwrap();
        let e = Extensions::from_ehlo(&r);
        assert!(e.has("pipelining") && e.has("8BITMIME") && e.has("SMTPUTF8"));
        assert!(!e.has("mail.example.com"));
        assert_eq!(e.size_limit(), Some(10_240_000));
        assert_eq!(e.auth_mechanisms(), ["PLAIN", "LOGIN", "LOGIN", "XOAUTH2"]);
        let none = Extensions::from_ehlo(&reply(&["250-x", "250 SIZE 0"]).unwrap());
        assert_eq!(none.size_limit(), None);
    }
}
