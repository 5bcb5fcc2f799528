//! Maildir file names: `<key>[:2,<flags>]`, where a key we generate is
//! `<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<crlf size>`.
//!
//! - The unique part follows the Maildir spec (cr.yp.to/proto/maildir.html) and Python's
//!   `mailbox.Maildir`: delivery time, microseconds, process id, a per-process delivery
//!   counter, and the host name with `/` and `:` written as `\057` and `\072` (and `,`, which
//!   would start a Dovecot field, as `\054`).
//! - `,S=` is the file size and `,W=` the size with every line ending as CRLF, the two fields
//!   Dovecot writes and reads (`maildir_filename_get_size`), so a POP3 `LIST` needs no read.
//! - The info after `:` is `2,` and the flags in ASCII order (spec: "must be in ASCII order").

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{Result, StoreError};

/// The standard flags: Draft, Flagged, Passed (forwarded), Replied, Seen, Trashed.
/// Dovecot adds the lower-case letters `a`-`z` for keywords; both kinds are accepted.
pub const STANDARD_FLAGS: &str = "DFPRST";

/// The host name as it appears in file names.
pub fn hostname() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| escape_host(&raw_hostname()))
}

/// The host name as the system gives it (`uname`'s node name), `localhost` if it has none.
pub fn raw_hostname() -> String {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if name.is_empty() {
        "localhost".to_owned()
    } else {
        name
    }
}

/// Escape the characters that would break a Maildir name: `/` (a path), `:` (starts the info),
/// `,` (starts a Dovecot field), and anything that is not printable ASCII.
pub fn escape_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for b in host.bytes() {
        match b {
            b'/' => out.push_str("\\057"),
            b':' => out.push_str("\\072"),
            b',' => out.push_str("\\054"),
            b'!'..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// A name unique on this host: `<secs>.M<usecs>P<pid>Q<n>.<host>`.
///
/// The counter makes names from one process distinct even within a microsecond; the final
/// move into `new/` refuses to replace an existing file, so a clash can never lose a message.
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        hostname()
    )
}

/// `unique` with the Dovecot size fields appended.
pub fn with_sizes(unique: &str, size: u64, crlf_size: u64) -> String {
    format!("{unique},S={size},W={crlf_size}")
}

/// Split a file name into its key (before the first `:`) and info (after it).
pub fn split(file_name: &str) -> (&str, Option<&str>) {
    match file_name.split_once(':') {
        Some((key, info)) => (key, Some(info)),
        None => (file_name, None),
    }
}

/// The number after `,<field>=` in a key, as Dovecot reads it: digits followed by `,`, `:` or
/// the end of the name.
pub fn size_field(name: &str, field: u8) -> Option<u64> {
    let b = name.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b':' {
            return None;
        }
        if b[i] == b',' && b[i + 1] == field && b[i + 2] == b'=' {
            let start = i + 3;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || (end < b.len() && b[end] != b',' && b[end] != b':') {
                return None;
            }
            return name[start..end].parse().ok();
        }
        i += 1;
    }
    None
}

/// The flags in an info string: the letters after `2,`; experimental `1,` info has none.
pub fn flags_of(info: Option<&str>) -> &str {
    match info {
        Some(i) => i.strip_prefix("2,").unwrap_or(""),
        None => "",
    }
}

/// Flags as the spec wants them: letters only, each once, in ASCII order.
pub fn normalize_flags(flags: &str) -> Result<String> {
    let mut seen = [false; 128];
    for c in flags.chars() {
        if !c.is_ascii_alphabetic() {
            return Err(StoreError::InvalidFlags {
                flags: flags.to_owned(),
                reason: "flags are ASCII letters (D, F, P, R, S, T, or a-z for keywords)",
            });
        }
        seen[c as usize] = true;
    }
    Ok((0u8..128)
        .filter(|&b| seen[b as usize])
        .map(char::from)
        .collect())
}

/// An info string for `set_info`: printable ASCII without `/`.
pub fn check_info(info: &str) -> Result<()> {
    if info
        .bytes()
        .all(|b| (b'!'..=b'~').contains(&b) && b != b'/')
    {
        Ok(())
    } else {
        Err(StoreError::InvalidFlags {
            flags: info.to_owned(),
            reason: "info must be printable ASCII without '/'",
        })
    }
}

/// Whether a caller-supplied key can name a message file: no path separators, no info part,
/// not hidden, not empty.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.bytes().any(|b| b == b'/' || b == b':' || b == 0)
}

/// Delivery order, as Dovecot sorts (`maildir_filename_sort_cmp`): the leading seconds, then
/// the microseconds of an `M<usecs>` field when both names have one, then the name.
pub fn sort_key(name: &str) -> (u64, u64, &str) {
    let (key, _) = split(name);
    let b = key.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let secs = key[..digits].parse().unwrap_or(0);
    let mut usecs = 0;
    if b.get(digits) == Some(&b'.') {
        let rest = &b[digits + 1..];
        let field = &rest[..rest.iter().position(|&c| c == b'.').unwrap_or(rest.len())];
        if let Some(m) = field.iter().position(|&c| c == b'M') {
            usecs = field[m + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .fold(0u64, |acc, &c| {
                    acc.saturating_mul(10).saturating_add(u64::from(c - b'0'))
                });
        }
    }
    (secs, usecs, key)
}

/// A POP3 unique-id (RFC 1939 §7: 1 to 70 characters from 0x21 to 0x7E) for a key: the key
/// itself when it qualifies, else a stable 128-bit FNV-1a digest of it in hex.
pub fn uidl(key: &str) -> String {
    if !key.is_empty() && key.len() <= 70 && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return key.to_owned();
    }
    // FNV-1a (128-bit variant): fixed constants, so the id never changes between versions.
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    for &b in key.as_bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_escaping_matches_python_mailbox() {
        // Python's mailbox.Maildir._create_tmp: '/' -> '\057', ':' -> '\072'.
        assert_eq!(escape_host("a/b:c"), "a\\057b\\072c");
        assert_eq!(escape_host("mx,1"), "mx\\0541");
        assert_eq!(escape_host("h\u{e9}"), "h\\303\\251");
    }

    #[test]
    fn unique_names_are_distinct_and_well_formed() {
        let a = unique();
        let b = unique();
        assert_ne!(a, b);
        assert!(valid_key(&a));
        let (secs, _, _) = sort_key(&a);
        assert!(secs > 1_600_000_000);
        assert!(a.contains(&format!("P{}Q", std::process::id())));
    }

    #[test]
    fn dovecot_size_fields() {
        // Names as Dovecot writes them (maildir-filename.c).
        let n = "1234567890.M12P34.host,S=1024,W=1050:2,S";
        assert_eq!(size_field(n, b'S'), Some(1024));
        assert_eq!(size_field(n, b'W'), Some(1050));
        assert_eq!(size_field("1.M1P1.host:2,S", b'S'), None);
        assert_eq!(size_field("1.M1P1.host,S=12x", b'S'), None);
        assert_eq!(size_field("1.M1P1.host,S=", b'S'), None);
        // A ",S=" inside the info is not a size.
        assert_eq!(size_field("1.M1P1.host:2,S=5", b'S'), None);
    }

    #[test]
    fn flags_sorted_and_validated() {
        assert_eq!(normalize_flags("SFRS").unwrap(), "FRS");
        assert_eq!(normalize_flags("").unwrap(), "");
        assert_eq!(normalize_flags("aTD").unwrap(), "DTa");
        assert!(normalize_flags("S,").is_err());
        assert!(normalize_flags("é").is_err());
        assert_eq!(flags_of(Some("2,FS")), "FS");
        assert_eq!(flags_of(Some("1,xyz")), "");
        assert_eq!(flags_of(None), "");
    }

    #[test]
    fn keys_and_order() {
        assert!(!valid_key("../x"));
        assert!(!valid_key(".hidden"));
        assert!(!valid_key("a:2,S"));
        assert!(!valid_key(""));
        assert_eq!(split("k:2,S"), ("k", Some("2,S")));
        // Dovecot sorts by seconds, then microseconds, then name.
        let mut names = vec![
            "20.M5P1.h",
            "10.M900000P1.h",
            "10.M20P1.h:2,S",
            "9.qmail.h",
            "10.M20P0.h",
        ];
        names.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        assert_eq!(
            names,
            [
                "9.qmail.h",
                "10.M20P0.h",
                "10.M20P1.h:2,S",
                "10.M900000P1.h",
                "20.M5P1.h"
            ]
        );
    }

    #[test]
    fn uidl_is_a_valid_pop3_unique_id() {
        assert_eq!(uidl("1.M2P3Q4.h,S=5,W=6"), "1.M2P3Q4.h,S=5,W=6");
        let long = "x".repeat(71);
        let id = uidl(&long);
        assert_eq!(id.len(), 32);
        assert_eq!(id, uidl(&long));
        assert_ne!(id, uidl(&"y".repeat(71)));
        assert_eq!(uidl("a b").len(), 32);
    }
}
