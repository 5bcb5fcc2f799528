//! Formatting SMTP commands (RFC 5321 §4.1) from validated parts.
//!
//! Everything that goes into a command line is checked first: a CR, LF or NUL in an address,
//! a parameter or the EHLO name would let the caller (or whoever supplied the address) inject
//! commands of their own into the session.

use super::Error;

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets; we allow some slack for quoting.
const MAX_ADDRESS: usize = 512;

/// Where an address's characters stand: in a quoted string or not (a `\\` pair inside one
/// escapes the next character), fed one character at a time.
#[derive(Default)]
pub(crate) struct Quotes {
    /// Inside a quoted string (at the end: one left open).
    pub quoted: bool,
    escaped: bool,
}

impl Quotes {
    /// Whether `c`, the next character, stands outside quotes (a quote mark or an escaped
    /// character does not).
    pub fn outside(&mut self, c: char) -> bool {
        if self.escaped {
            self.escaped = false;
            return false;
        }
        match c {
            '\\' if self.quoted => {
                self.escaped = true;
                false
            }
            '"' => {
                self.quoted = !self.quoted;
                false
            }
            _ => !self.quoted,
        }
    }
}

/// An envelope address ready for `MAIL FROM:<...>` / `RCPT TO:<...>`: surrounding angle
/// brackets and whitespace are removed, and control characters, brackets and unquoted
/// spaces are refused. The empty string is the null reverse-path (`<>`, for bounces) and only
/// allowed where `allow_null` is true.
pub fn envelope_address(addr: &str, allow_null: bool) -> Result<String, Error> {
    let trimmed = addr.trim();
    let inner = match trimmed.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        Some(inner) => inner,
        None => trimmed,
    };
    let bad = |why: &str| Error::InvalidAddress {
        address: addr.to_owned(),
        reason: why.to_owned(),
    };
    if inner.is_empty() {
        return if allow_null {
            Ok(String::new())
        } else {
            Err(bad("empty address"))
        };
    }
    if inner.len() > MAX_ADDRESS {
        return Err(bad("address too long"));
    }
    let mut quotes = Quotes::default();
    for c in inner.chars() {
        if c.is_control() {
            return Err(bad("control character (CR, LF, NUL...) in address"));
        }
        if quotes.outside(c) {
            match c {
                '<' | '>' => return Err(bad("angle bracket in address")),
                ' ' => return Err(bad("space outside quotes in address")),
                _ => {}
            }
        }
    }
    if quotes.quoted {
        return Err(bad("unterminated quoted string in address"));
    }
    if !inner.contains('@') && !inner.eq_ignore_ascii_case("postmaster") {
        return Err(bad("no @ in address"));
    }
    Ok(inner.to_owned())
}

/// An ESMTP parameter `keyword[=value]` (RFC 5321 §4.1.2 `esmtp-param`). `utf8` allows
/// non-ASCII in values, as RFC 6531 §3.3 does once SMTPUTF8 is in use.
pub fn check_param(param: &str, utf8: bool) -> Result<(), Error> {
    let bad = || Error::InvalidArgument(format!("invalid ESMTP parameter {param:?}"));
    let (keyword, value) = match param.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (param, None),
    };
    let kw = keyword.as_bytes();
    if kw.is_empty()
        || !kw[0].is_ascii_alphanumeric()
        || !kw.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return Err(bad());
    }
    if let Some(v) = value
        && (v.is_empty()
            || !v.chars().all(|c| {
                (c.is_ascii_graphic() && c != '=') || (utf8 && !c.is_ascii() && !c.is_control())
            }))
    {
        return Err(bad());
    }
    Ok(())
}

/// The EHLO/HELO argument: a domain or an address literal, nothing that breaks the line.
pub fn check_client_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 255 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidArgument(format!(
            "invalid local host name {name:?} for EHLO"
        )));
    }
    Ok(())
}

fn with_params(mut line: Vec<u8>, params: &[String]) -> Vec<u8> {
    for p in params {
        line.push(b' ');
        line.extend_from_slice(p.as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

pub fn mail_from(address: &str, params: &[String]) -> Vec<u8> {
    with_params(format!("MAIL FROM:<{address}>").into_bytes(), params)
}

pub fn rcpt_to(address: &str, params: &[String]) -> Vec<u8> {
    with_params(format!("RCPT TO:<{address}>").into_bytes(), params)
}

/// RFC 3461 §4: xtext, for ENVID and ORCPT values. '+', '=' and anything outside 33..=126
/// become "+HH".
pub fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated() {
        assert_eq!(
            envelope_address("<a@b.example>", false).unwrap(),
            "a@b.example"
        );
        assert_eq!(
            envelope_address(" a@b.example ", false).unwrap(),
            "a@b.example"
        );
        assert_eq!(envelope_address("<>", true).unwrap(), "");
        assert!(envelope_address("", false).is_err());
        assert_eq!(envelope_address("Postmaster", false).unwrap(), "Postmaster");
        assert_eq!(
            envelope_address("\"john doe\"@example.com", false).unwrap(),
            "\"john doe\"@example.com"
        );
        assert_eq!(
            envelope_address("δοκιμή@παράδειγμα.δοκιμή", false).unwrap(),
            "δοκιμή@παράδειγμα.δοκιμή"
        );
        // command injection attempts (CRLF in the path smuggles a second command)
        for evil in [
            "a@b\r\nRCPT TO:<c@d>",
            "a@b\nDATA",
            "a@b\0",
            "a@b> SIZE=1",
            "a b@c",
            "\"a@b",
        ] {
            assert!(envelope_address(evil, false).is_err(), "{evil:?}");
        }
    }

    #[test]
    fn params_are_validated() {
        check_param("SIZE=1000", false).unwrap();
        check_param("SMTPUTF8", false).unwrap();
        check_param("NOTIFY=SUCCESS,FAILURE", false).unwrap();
        assert!(check_param("SIZE=1\r\nRSET", false).is_err());
        assert!(check_param("X=a b", false).is_err());
        assert!(check_param("=x", false).is_err());
        assert!(check_param("X=", false).is_err());
        assert!(check_param("ORCPT=rfc822;é", false).is_err());
        check_param("ORCPT=utf-8;é", true).unwrap();
        assert!(check_client_name("mta.example.org").is_ok());
        assert!(check_client_name("[192.0.2.1]").is_ok());
        assert!(check_client_name("a b").is_err());
    }

    #[test]
    fn xtext_rfc3461() {
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        assert_eq!(xtext("QQ314159"), "QQ314159");
        assert_eq!(
            String::from_utf8(mail_from("a@b", &["BODY=8BITMIME".into()])).unwrap(),
            "MAIL FROM:<a@b> BODY=8BITMIME\r\n"
        );
        assert_eq!(
            String::from_utf8(rcpt_to("x@y", &[])).unwrap(),
            "RCPT TO:<x@y>\r\n"
        );
    }
}
