//! Parsing command lines (RFC 5321 §4.1) on byte slices, separate from any I/O.

/// Addresses are read with the message grammar's `domain_of`, as the client reads them.
pub use crate::message::address::domain_of;

/// A command line, parsed. Borrowed from the line buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Helo(&'a str),
    Ehlo(&'a str),
    Mail {
        path: &'a str,
        params: &'a str,
    },
    Rcpt {
        path: &'a str,
        params: &'a str,
    },
    Data(&'a str),
    Bdat(&'a str),
    Rset(&'a str),
    Noop,
    Quit(&'a str),
    Vrfy(&'a str),
    Expn,
    Help(&'a str),
    StartTls(&'a str),
    Auth(&'a str),
    /// A verb this server does not know (500).
    Unknown(&'a str),
    /// MAIL/RCPT without the `FROM:`/`TO:` part (501).
    Malformed(&'static str),
}

/// Split a command line into its verb and argument. `None` when the line is not UTF-8 (SMTP
/// commands are ASCII, or UTF-8 under SMTPUTF8, RFC 6531 §3.3).
pub fn parse(line: &[u8]) -> Option<Command<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    let (verb, arg) = match line.find(' ') {
        Some(i) => (&line[..i], line[i + 1..].trim_matches(' ')),
        None => (line, ""),
    };
    let upper = |s: &str| s.eq_ignore_ascii_case(verb);
    Some(if upper("HELO") {
        Command::Helo(arg)
    } else if upper("EHLO") {
        Command::Ehlo(arg)
    } else if upper("MAIL") {
        match strip_prefix_ci(arg, "FROM:") {
            Some(rest) => split_path(rest).map_or(
                Command::Malformed("MAIL FROM:<address>"),
                |(path, params)| Command::Mail { path, params },
            ),
            None => Command::Malformed("MAIL FROM:<address>"),
        }
    } else if upper("RCPT") {
        match strip_prefix_ci(arg, "TO:") {
            Some(rest) => split_path(rest)
                .map_or(Command::Malformed("RCPT TO:<address>"), |(path, params)| {
                    Command::Rcpt { path, params }
                }),
            None => Command::Malformed("RCPT TO:<address>"),
        }
    } else if upper("DATA") {
        Command::Data(arg)
    } else if upper("BDAT") {
        Command::Bdat(arg)
    } else if upper("RSET") {
        Command::Rset(arg)
    } else if upper("NOOP") {
        // RFC 5321 §4.1.1.9: a parameter is allowed and ignored.
        Command::Noop
    } else if upper("QUIT") {
        Command::Quit(arg)
    } else if upper("VRFY") {
        Command::Vrfy(arg)
    } else if upper("EXPN") {
        Command::Expn
    } else if upper("HELP") {
        Command::Help(arg)
    } else if upper("STARTTLS") {
        Command::StartTls(arg)
    } else if upper("AUTH") {
        Command::Auth(arg)
    } else {
        Command::Unknown(verb)
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    // Postel: some clients put a space after the colon.
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start_matches(' '))
}

/// `<path> params` → (the text inside the brackets, the parameter string). Quoted local parts
/// may contain `>`.
fn split_path(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('<')?;
    let mut quotes = crate::smtp::command::Quotes::default();
    for (i, c) in rest.char_indices() {
        // Every character goes through `outside`, which follows the quotes.
        if quotes.outside(c) && c == '>' {
            let params = &rest[i + 1..];
            if !params.is_empty() && !params.starts_with(' ') {
                return None;
            }
            return Some((&rest[..i], params.trim_matches(' ')));
        }
    }
    None
}

/// ESMTP parameters `KEY[=VALUE]` (RFC 5321 §4.1.2 `esmtp-param`); keys are returned upper-case.
pub fn params(s: &str) -> Result<Vec<(String, Option<&str>)>, String> {
    let mut out = Vec::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let key_ok = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !key_ok
            || value.is_some_and(|v| v.is_empty() || v.bytes().any(|b| b <= b' ' || b == b'='))
        {
            return Err(format!("bad parameter {word:?}"));
        }
        out.push((key.to_ascii_uppercase(), value));
    }
    Ok(out)
}

/// Check an envelope address (the inside of `<...>`). Returns the address with any source
/// route removed (RFC 5321 §4.1.1.3 and Appendix C: accepted, then ignored).
pub fn mailbox(path: &str, allow_no_domain: bool) -> Result<&str, &'static str> {
    let path = if path.starts_with('@') {
        match path.find(':') {
            Some(i) => &path[i + 1..],
            None => return Err("bad source route"),
        }
    } else {
        path
    };
    if path.len() > 320 {
        return Err("address too long");
    }
    let at = match local_part_end(path) {
        Some(i) => i,
        None => return Err("bad local part"),
    };
    if at == path.len() {
        return if allow_no_domain && !path.is_empty() {
            Ok(path)
        } else {
            Err("address must have a domain")
        };
    }
    let domain = &path[at + 1..];
    if !valid_domain(domain) {
        return Err("bad domain");
    }
    Ok(path)
}

/// Byte index of the `@` after a valid local part (or the end when there is no `@`).
fn local_part_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() == Some(&b'"') {
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'\\' if i + 1 < b.len() => i += 2,
                b'"' => {
                    return match b.get(i + 1) {
                        Some(b'@') => Some(i + 1),
                        None => Some(i + 1),
                        _ => None,
                    };
                }
                c if c < b' ' || c == 0x7f => return None,
                _ => i += 1,
            }
        }
        return None;
    }
    let end = s.find('@').unwrap_or(s.len());
    let local = &s[..end];
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return None;
    }
    // atext (RFC 5322 §3.2.3), plus UTF-8 (RFC 6531); the session checks SMTPUTF8.
    let ok = local
        .chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    ok.then_some(end)
}

fn valid_domain(d: &str) -> bool {
    if let Some(lit) = d.strip_prefix('[') {
        return lit.strip_suffix(']').is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b > b' ' && b < 0x7f && !matches!(b, b'[' | b']' | b'\\'))
        });
    }
    !d.is_empty()
        && d.len() <= 255
        && d.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The local part of an address.
pub fn local_part_of(address: &str) -> &str {
    match local_part_end(address) {
        Some(at) => &address[..at],
        None => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(parse(b"ehlo x.org"), Some(Command::Ehlo("x.org")));
        assert_eq!(
            parse(b"mail from:<a@b.c> SIZE=10"),
            Some(Command::Mail {
                path: "a@b.c",
                params: "SIZE=10"
            })
        );
        assert_eq!(
            parse(b"MAIL FROM: <>"),
            Some(Command::Mail {
                path: "",
                params: ""
            })
        );
        assert_eq!(
            parse(b"MAIL FROM:a@b.c"),
            Some(Command::Malformed("MAIL FROM:<address>"))
        );
        assert_eq!(
            parse(b"RCPT TO:<\"a>b\"@c.d>"),
            Some(Command::Rcpt {
                path: "\"a>b\"@c.d",
                params: ""
            })
        );
        assert_eq!(parse(b"XYZZY"), Some(Command::Unknown("XYZZY")));
        assert_eq!(parse(b"\xff"), None);
    }

    #[test]
    fn mailboxes() {
        assert_eq!(mailbox("a@b.c", false), Ok("a@b.c"));
        assert_eq!(mailbox("@r1,@r2:a@b.c", false), Ok("a@b.c"));
        assert_eq!(mailbox("Postmaster", true), Ok("Postmaster"));
        assert!(mailbox("Postmaster", false).is_err());
        assert!(mailbox("a b@c.d", false).is_err());
        assert!(mailbox("a@", false).is_err());
        assert!(mailbox("a..b@c", false).is_err());
        assert_eq!(
            mailbox("\"a b\"@[127.0.0.1]", false),
            Ok("\"a b\"@[127.0.0.1]")
        );
        assert_eq!(mailbox("jöran@例え.jp", false), Ok("jöran@例え.jp"));
        assert_eq!(domain_of("A@Example.ORG").as_deref(), Some("example.org"));
        assert_eq!(local_part_of("A@Example.ORG"), "A");
    }

    #[test]
    fn esmtp_params() {
        let p = params("size=100 BODY=8BITMIME SMTPUTF8").unwrap();
        assert_eq!(p[0], ("SIZE".into(), Some("100")));
        assert_eq!(p[2], ("SMTPUTF8".into(), None));
        assert!(params("=x").is_err());
        assert!(params("SIZE=").is_err());
    }
}
