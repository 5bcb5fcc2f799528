//! Writing IMAP strings: the shortest safe form of each value (atom, quoted string or
//! literal), never one that lets a value end the line or start another command.
//!
//! These are the server's writers (literals as `{n}`, which a client never acknowledges) and
//! the pieces under the client's command builder ([`super::command`]), which adds the
//! synchronising-literal dance.

use super::lex::is_astring_char;
use super::types::Value;

/// Longest string written quoted; longer ones go as literals (short lines are kinder to
/// servers with line limits, and escapes cost nothing then).
pub const MAX_QUOTED: usize = 1024;

/// Whether `s` can be a quoted string: no CR, LF or NUL; 8-bit only as valid UTF-8 and only
/// when `utf8` (IMAP4rev2 and UTF8=ACCEPT allow UTF-8 in quoted strings; IMAP4rev1 does not).
pub fn quotable(s: &[u8], utf8: bool) -> bool {
    s.len() <= MAX_QUOTED
        && !s.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        && (s.is_ascii() || (utf8 && std::str::from_utf8(s).is_ok()))
}

/// Whether `s` can be written as an atom in an astring position.
pub fn is_astring_atom(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b < 0x80 && is_astring_char(b))
}

/// `"..."` with `"` and `\` escaped. The caller checked [`quotable`].
pub fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A literal's header: `{n}`, `{n+}` (non-synchronising), `~{n}` (literal8), and CRLF.
pub fn write_literal_header(out: &mut Vec<u8>, size: usize, non_sync: bool, binary: bool) {
    if binary {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{size}").as_bytes());
    if non_sync {
        out.push(b'+');
    }
    out.extend_from_slice(b"}\r\n");
}

/// A string from a server: quoted when it can be, else a literal (literal8 if it has NUL).
pub fn write_string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if quotable(s, utf8) {
        write_quoted(out, s);
    } else {
        write_literal_header(out, s.len(), false, s.contains(&0));
        out.extend_from_slice(s);
    }
}

/// `NIL` or a string.
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>, utf8: bool) {
    match s {
        Some(s) => write_string(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// An astring: an atom when it is one (and not `NIL`, which readers of nstrings would take
/// for nothing), else a string.
pub fn write_astring(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if is_astring_atom(s) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        write_string(out, s, utf8);
    }
}

/// A generic value (extension data).
pub fn write_value(out: &mut Vec<u8>, v: &Value, utf8: bool) {
    match v {
        Value::Nil => out.extend_from_slice(b"NIL"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s, utf8),
        Value::Atom(a) => out.extend_from_slice(a.as_bytes()),
        Value::List(items) => {
            out.push(b'(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_value(out, item, utf8);
            }
            out.push(b')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn shortest_safe_forms() {
        assert_eq!(w(|o| write_astring(o, b"INBOX", false)), b"INBOX");
        assert_eq!(w(|o| write_astring(o, b"a]b", false)), b"a]b");
        assert_eq!(w(|o| write_astring(o, b"", false)), b"\"\"");
        assert_eq!(w(|o| write_astring(o, b"nil", false)), b"\"nil\"");
        assert_eq!(
            w(|o| write_astring(o, b"two words", false)),
            b"\"two words\""
        );
        assert_eq!(
            w(|o| write_astring(o, b"a\"b\\c", false)),
            b"\"a\\\"b\\\\c\""
        );
        assert_eq!(w(|o| write_astring(o, b"a%b", false)), b"\"a%b\"");
        // CR or LF can never be inside a quoted string: a literal.
        assert_eq!(
            w(|o| write_astring(o, b"x\r\nA2 DELETE INBOX", false)),
            b"{18}\r\nx\r\nA2 DELETE INBOX"
        );
        assert_eq!(
            w(|o| write_string(o, "\u{e9}".as_bytes(), false)),
            b"{2}\r\n\xc3\xa9"
        );
        assert_eq!(
            w(|o| write_string(o, "\u{e9}".as_bytes(), true)),
            b"\"\xc3\xa9\""
        );
        assert_eq!(w(|o| write_string(o, b"\0", true)), b"~{1}\r\n\0");
        assert_eq!(w(|o| write_nstring(o, None, false)), b"NIL");
        let long = vec![b'a'; MAX_QUOTED + 1];
        assert!(w(|o| write_string(o, &long, false)).starts_with(b"{1025}\r\n"));
    }

    #[test]
    fn values() {
        let v = Value::List(vec![
            Value::Nil,
            Value::Number(7),
            Value::String(b"x y".to_vec()),
            Value::Atom("\\Seen".into()),
            Value::List(vec![]),
        ]);
        assert_eq!(
            w(|o| write_value(o, &v, false)),
            b"(NIL 7 \"x y\" \\Seen ())"
        );
    }
}
