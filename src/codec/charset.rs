//! Charset labels to decoders, through `encoding_rs` (the WHATWG Encoding Standard tables).

use encoding_rs::Encoding;

/// Look up a MIME charset label (case-insensitive, RFC 2231 `*language` suffix ignored).
///
/// `encoding_rs` follows WHATWG, so `us-ascii` and `iso-8859-1` map to windows-1252, a superset
/// that is what mail clients actually use for those labels.
pub fn lookup(label: &str) -> Option<&'static Encoding> {
    let label = label.split('*').next().unwrap_or(label).trim();
    if let Some(enc) = Encoding::for_label(label.as_bytes()) {
        return Some(enc);
    }
    // Labels seen in real mail that WHATWG does not list.
    let lower = label.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "utf8" | "utf_8" | "x-utf8" => "utf-8",
        "ascii" | "us_ascii" | "ansi_x3.4-1968" | "646" => "us-ascii",
        "cp1250" | "cp1251" | "cp1252" | "cp1253" | "cp1254" | "cp1255" | "cp1256" | "cp1257"
        | "cp1258" => return Encoding::for_label(lower.replace("cp", "windows-").as_bytes()),
        "cp932" | "ms932" | "windows-31j" => "shift_jis",
        "cp936" | "ms936" => "gbk",
        "cp949" | "ms949" | "uhc" => "euc-kr",
        "cp950" | "ms950" => "big5",
        _ => return None,
    };
    Encoding::for_label(alias.as_bytes())
}

/// Decode bytes in a charset; `None` when the charset is unknown.
///
/// Malformed sequences become U+FFFD, as every mail client shows them. Charsets that the
/// WHATWG tables leave out but mail still uses (UTF-7, RFC 2152; UTF-16 without a BOM...)
/// are read with mail-parser's decoders.
pub fn decode(bytes: &[u8], label: &str) -> Option<String> {
    if let Some(enc) = lookup(label) {
        let (text, _had_errors) = enc.decode_without_bom_handling(bytes);
        return Some(text.into_owned());
    }
    extra_decoder(label).map(|decode| decode(bytes))
}

/// Is `label` a charset that [`decode`] reads?
pub fn known(label: &str) -> bool {
    lookup(label).is_some() || extra_decoder(label).is_some()
}

/// A decoder for a charset outside the WHATWG tables.
fn extra_decoder(label: &str) -> Option<fn(&[u8]) -> String> {
    let label = label.split('*').next().unwrap_or(label).trim();
    if label.is_empty() || label.len() > 45 {
        return None;
    }
    mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes())
}

/// Decode 8-bit text whose charset nobody declared: UTF-8 when it is UTF-8 (even with a few
/// broken bytes, which become U+FFFD), else windows-1252.
pub fn decode_undeclared(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) if mostly_utf8(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
}

/// Bytes that are not valid UTF-8 but read as UTF-8 with a few errors: at least one valid
/// multi-byte sequence, and no more errors than valid sequences. Legacy 8-bit text
/// almost never forms a valid UTF-8 sequence (a lead byte 0xC2-0xF4 followed by the right
/// number of 0x80-0xBF bytes: "Ã©" in Latin-1), so a UTF-8 header damaged in one place
/// (a truncated character, a stray byte) stays UTF-8 with one U+FFFD, as the stdlib and mail
/// clients show it, instead of turning into mojibake from end to end.
pub fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                valid += s.bytes().filter(|&b| b >= 0xc0).count();
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                valid += good.iter().filter(|&&b| b >= 0xc0).count();
                // One error per U+FFFD that a lossy decode would write.
                let skip = e.error_len().unwrap_or(bad.len()).max(1);
                invalid += 1;
                rest = &bad[skip.min(bad.len())..];
                if rest.is_empty() {
                    break;
                }
            }
        }
    }
    valid > 0 && invalid <= valid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(lookup("UTF-8").map(|e| e.name()), Some("UTF-8"));
        assert_eq!(lookup("utf8").map(|e| e.name()), Some("UTF-8"));
        assert_eq!(lookup("iso-8859-1").map(|e| e.name()), Some("windows-1252"));
        assert_eq!(
            lookup("ISO-8859-15*en").map(|e| e.name()),
            Some("ISO-8859-15")
        );
        assert_eq!(lookup("cp1251").map(|e| e.name()), Some("windows-1251"));
        assert_eq!(lookup("koi8-r").map(|e| e.name()), Some("KOI8-R"));
        assert!(lookup("x-no-such-charset").is_none());
    }

    #[test]
    fn undeclared() {
        assert_eq!(decode_undeclared("é".as_bytes()), "é");
        assert_eq!(decode_undeclared(b"caf\xe9"), "café");
        // Issue 12 item 8: UTF-8 with one bad byte stays UTF-8, with one U+FFFD.
        assert_eq!(
            decode_undeclared(b"caf\xc3\xa9 na\xc3\xafve \xff x"),
            "café naïve \u{fffd} x"
        );
        assert_eq!(decode_undeclared(b"caf\xc3\xa9 \xe2\x82"), "café \u{fffd}");
        // Latin-1 with many 8-bit bytes and no UTF-8 sequence stays Latin-1.
        assert_eq!(decode_undeclared(b"\xe9t\xe9 \xe0 l'\xeele"), "été à l'île");
        // More broken bytes than characters: not UTF-8.
        assert_eq!(decode_undeclared(b"\xc3\xa9\xe9\xe8"), "Ã©éè");
    }

    #[test]
    fn outside_whatwg() {
        // Issue 12 item 4: UTF-7 (RFC 2152), which WHATWG leaves out.
        assert!(lookup("utf-7").is_none());
        assert!(known("UTF-7"));
        assert_eq!(decode(b"Hi +AOk-", "utf-7").as_deref(), Some("Hi é"));
        assert!(!known("x-no-such"));
    }
}
