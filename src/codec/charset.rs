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
/// Malformed sequences become U+FFFD, as every mail client shows them.
pub fn decode(bytes: &[u8], label: &str) -> Option<String> {
    let enc = lookup(label)?;
    let (text, _had_errors) = enc.decode_without_bom_handling(bytes);
    Some(text.into_owned())
}

/// Decode 8-bit text whose charset nobody declared: UTF-8 when it is valid, else windows-1252.
pub fn decode_undeclared(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
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
    }
}
