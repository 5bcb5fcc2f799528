//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII stands for itself,
//! `&` is written `&-`, and every other run of characters is `&`, the modified base64 (`,`
//! for `/`, no padding) of its UTF-16BE code units, and `-`.
//!
//! IMAP4rev2 (RFC 9051 §5.1) and UTF8=ACCEPT (RFC 6855 §3) send names as UTF-8 instead; the
//! client picks the form with [`encode_mailbox`] and [`decode_mailbox`].

use base64::Engine;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};

const ENGINE: GeneralPurpose = GeneralPurpose::new(&IMAP_MUTF7, NO_PAD);

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf7Error {
    /// Offset of the offending byte or shift sequence.
    pub at: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid modified UTF-7 at octet {}: {}",
            self.at, self.reason
        )
    }
}

impl std::error::Error for Utf7Error {}

fn printable(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encode `name` in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        if units.is_empty() {
            return;
        }
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        ENGINE.encode_string(&bytes, out);
        out.push('-');
        units.clear();
    };
    for c in name.chars() {
        if printable(c) {
            flush(&mut units, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

/// Decode a modified UTF-7 name. Strict, as RFC 3501 requires of the encoder: only printable
/// US-ASCII outside shifts, no base64 for what could be written directly, no empty or
/// adjacent shifts, zero padding bits, well-formed UTF-16.
pub fn decode(raw: &[u8]) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut last_shift_end = None;
    while i < raw.len() {
        let b = raw[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(Utf7Error {
                    at: i,
                    reason: "octet outside printable US-ASCII",
                });
            }
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i;
        let Some(len) = memchr::memchr(b'-', &raw[i + 1..]) else {
            return Err(Utf7Error {
                at: start,
                reason: "unterminated shift",
            });
        };
        let b64 = &raw[i + 1..i + 1 + len];
        i += len + 2;
        if b64.is_empty() {
            out.push('&');
            continue;
        }
        if last_shift_end == Some(start) {
            return Err(Utf7Error {
                at: start,
                reason: "adjacent shift sequences",
            });
        }
        last_shift_end = Some(i);
        let bad = |reason| Utf7Error { at: start, reason };
        let bytes = ENGINE.decode(b64).map_err(|_| bad("bad modified base64"))?;
        if bytes.len() % 2 != 0 {
            return Err(bad("odd number of UTF-16 octets"));
        }
        let units = bytes
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        for c in char::decode_utf16(units) {
            let c = c.map_err(|_| bad("unpaired UTF-16 surrogate"))?;
            if printable(c) {
                return Err(bad("printable character encoded in base64"));
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// A mailbox name as it goes on the wire: UTF-8 when the session has UTF8=ACCEPT or
/// IMAP4rev2 enabled, modified UTF-7 otherwise.
pub fn encode_mailbox(name: &str, utf8: bool) -> Vec<u8> {
    if utf8 {
        name.as_bytes().to_vec()
    } else {
        encode(name).into_bytes()
    }
}

/// A mailbox name as a server sent it, for the user. In UTF-8 mode it is UTF-8; otherwise
/// modified UTF-7. A name that is neither (a server that sends raw 8-bit names) is taken as
/// UTF-8, with invalid sequences replaced: it is shown, though it may not round-trip.
pub fn decode_mailbox(raw: &[u8], utf8: bool) -> String {
    if !utf8 && let Ok(s) = decode(raw) {
        return s;
    }
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語"
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
    }

    #[test]
    fn ampersand_and_ascii() {
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode(b"Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn astral_plane_and_mixed() {
        let name = "Entw\u{fc}rfe \u{1f600}&x";
        let wire = encode(name);
        assert_eq!(wire, "Entw&APw-rfe &2D3eAA-&-x");
        assert_eq!(decode(wire.as_bytes()).unwrap(), name);
        // Control characters are not printable: they are shifted too.
        assert_eq!(encode("a\tb"), "a&AAk-b");
        assert_eq!(decode(b"a&AAk-b").unwrap(), "a\tb");
    }

    #[test]
    fn strict_decoding() {
        for bad in [
            &b"&"[..],
            b"&U,BTFw",
            b"\xc3\xa9",
            b"&AGE-",              // 'a' in base64
            b"&U,BTFw-&ZeVnLIqe-", // adjacent shifts
            b"&2D0-",              // lone high surrogate
            b"&AP-",               // odd length / bad padding bits
            b"&A!-",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mailbox_modes() {
        assert_eq!(
            encode_mailbox("\u{e9}t\u{e9}", true),
            "\u{e9}t\u{e9}".as_bytes()
        );
        assert_eq!(encode_mailbox("\u{e9}t\u{e9}", false), b"&AOk-t&AOk-");
        assert_eq!(decode_mailbox(b"&AOk-t&AOk-", false), "\u{e9}t\u{e9}");
        // In UTF-8 mode "&-" is two characters, not an escaped '&'.
        assert_eq!(decode_mailbox(b"a&-b", true), "a&-b");
        assert_eq!(decode_mailbox("\u{e9}".as_bytes(), false), "\u{e9}");
    }
}
