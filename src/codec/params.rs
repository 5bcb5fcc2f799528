//! MIME header values with parameters (`Content-Type`, `Content-Disposition`), including
//! RFC 2231 continuations, charsets and languages, and the RFC 2047 words that real clients
//! put in quoted parameters despite the RFCs.

use super::{CodecError, charset, encoded_word};

/// A header value split into its main value (`text/plain`, `attachment`) and its parameters,
/// names lowercased, in order of first appearance, the first of duplicate names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamValue {
    pub value: String,
    pub params: Vec<(String, String)>,
}

impl ParamValue {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Raw {
    name: String,
    section: Option<u32>,
    extended: bool,
    value: String,
}

/// Parse `value; name=val; name*=charset'lang'%xx; name*0*=...`. Never fails: malformed
/// pieces are skipped or kept as text, as mail clients do.
pub fn parse(input: &str) -> ParamValue {
    let mut parts = split_semicolons(input).into_iter();
    let value = parts
        .next()
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mut raws: Vec<Raw> = Vec::new();
    for part in parts {
        let Some(eq) = part.find('=') else { continue };
        let name = part[..eq].trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let val = unquote(part[eq + 1..].trim());
        let (base, section, extended) = split_name(&name);
        raws.push(Raw {
            name: base,
            section,
            extended,
            value: val,
        });
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for i in 0..raws.len() {
        let name = &raws[i].name;
        if done.contains(name) {
            continue;
        }
        done.push(name.clone());
        let mut pieces: Vec<&Raw> = raws.iter().filter(|r| &r.name == name).collect();
        let value = if pieces.iter().any(|r| r.section.is_some()) {
            pieces.retain(|r| r.section.is_some());
            pieces.sort_by_key(|r| r.section);
            pieces.dedup_by_key(|r| r.section);
            join_sections(&pieces)
        } else {
            // Prefer the RFC 2231 form when both `name` and `name*` are present.
            let r = pieces.iter().find(|r| r.extended).unwrap_or(&pieces[0]);
            if r.extended {
                decode_extended(&r.value, true).1
            } else {
                encoded_word::decode(&r.value)
            }
        };
        params.push((name.clone(), value));
    }
    ParamValue { value, params }
}

fn join_sections(pieces: &[&Raw]) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    let mut cs: Option<String> = None;
    for (k, r) in pieces.iter().enumerate() {
        if r.extended {
            let (label, _) = if k == 0 {
                decode_extended(&r.value, false)
            } else {
                (None, String::new())
            };
            if k == 0 {
                cs = label;
                let data = r.value.splitn(3, '\'').nth(2).unwrap_or(&r.value);
                bytes.extend(percent_decode(data));
            } else {
                bytes.extend(percent_decode(&r.value));
            }
        } else {
            bytes.extend_from_slice(r.value.as_bytes());
        }
    }
    match cs.as_deref().and_then(|c| charset::decode(&bytes, c)) {
        Some(s) => s,
        None => encoded_word::decode(&charset::decode_undeclared(&bytes)),
    }
}

/// `charset'lang'%xx..` → (charset, decoded text). With `decode_now` false only the charset is
/// returned (the caller concatenates continuation bytes first).
fn decode_extended(v: &str, decode_now: bool) -> (Option<String>, String) {
    let mut it = v.splitn(3, '\'');
    let (label, data) = match (it.next(), it.next(), it.next()) {
        (Some(cs), Some(_lang), Some(data)) => {
            (Some(cs.to_owned()).filter(|c| !c.is_empty()), data)
        }
        _ => (None, v),
    };
    if !decode_now {
        return (label, String::new());
    }
    let bytes = percent_decode(data);
    let text = label
        .as_deref()
        .and_then(|c| charset::decode(&bytes, c))
        .unwrap_or_else(|| charset::decode_undeclared(&bytes));
    (label, text)
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len() + 1
            && i + 2 <= b.len() - 1 + 1
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `filename*1*` → ("filename", Some(1), true).
fn split_name(name: &str) -> (String, Option<u32>, bool) {
    let (name, extended) = match name.strip_suffix('*') {
        Some(n) => (n, true),
        None => (name, false),
    };
    if let Some(star) = name.rfind('*')
        && let Ok(n) = name[star + 1..].parse::<u32>()
    {
        return (name[..star].to_owned(), Some(n), extended);
    }
    (name.to_owned(), None, extended)
}

fn split_semicolons(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quote = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            ';' if !in_quote => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_owned();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 2045 `tspecials`: a value containing any of these (or space, controls) must be quoted.
fn needs_quoting(v: &str) -> bool {
    v.is_empty()
        || v.bytes().any(|b| {
            b <= b' '
                || b >= 0x7f
                || matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                )
        })
}

// RFC 2231 §7 `attribute-char`: what may appear unescaped in an extended value.
fn attribute_char(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'*' | b'\''
                | b'%'
                | b'('
                | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

/// Format one parameter: `name=value`, `name="quoted value"`, or for non-ASCII values the
/// RFC 2231 form `name*=utf-8''%E2%82%AC`, split into `name*0*`, `name*1*` ... sections so no
/// section is longer than about 60 characters (headers fold at 78).
pub fn encode(name: &str, value: &str, charset_label: &str) -> Result<String, CodecError> {
    if name.is_empty() || name.bytes().any(|b| !attribute_char(b)) {
        return Err(CodecError::other(
            "params",
            format!("invalid parameter name {name:?}"),
        ));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(CodecError::other(
            "params",
            "parameter value contains CR, LF or NUL",
        ));
    }
    if value.is_ascii() {
        if !needs_quoting(value) {
            return Ok(format!("{name}={value}"));
        }
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        if escaped.len() + name.len() + 3 <= 76 {
            return Ok(format!("{name}=\"{escaped}\""));
        }
    }
    let enc = charset::lookup(charset_label)
        .ok_or_else(|| CodecError::other("params", format!("unknown charset {charset_label:?}")))?;
    let (bytes, _, unmappable) = enc.encode(value);
    if unmappable || enc.output_encoding() != enc {
        return Err(CodecError::other(
            "params",
            format!("value cannot be encoded in {charset_label}"),
        ));
    }
    let mut pieces: Vec<String> = Vec::new();
    let mut cur = String::new();
    // Sections split between characters only, so each can be read alone.
    let mut buf = [0u8; 4];
    for c in value.chars() {
        let cb: Vec<u8> = if enc == encoding_rs::UTF_8 {
            c.encode_utf8(&mut buf).as_bytes().to_vec()
        } else {
            enc.encode(c.encode_utf8(&mut buf)).0.into_owned()
        };
        let mut piece = String::new();
        for b in cb {
            if attribute_char(b) {
                piece.push(b as char);
            } else {
                piece.push_str(&format!("%{b:02X}"));
            }
        }
        if cur.len() + piece.len() > 60 && !cur.is_empty() {
            pieces.push(std::mem::take(&mut cur));
        }
        cur.push_str(&piece);
    }
    pieces.push(cur);
    let _ = bytes;
    let label = charset_label.trim();
    if pieces.len() == 1 {
        return Ok(format!("{name}*={label}''{}", pieces[0]));
    }
    Ok(pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                format!("{name}*0*={label}''{p}")
            } else {
                format!("{name}*{i}*={p}")
            }
        })
        .collect::<Vec<_>>()
        .join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let p = parse("text/plain; charset=\"us-ascii\"; format=flowed");
        assert_eq!(p.value, "text/plain");
        assert_eq!(p.get("charset"), Some("us-ascii"));
        assert_eq!(p.get("FORMAT"), Some("flowed"));
        let p = parse("multipart/mixed; boundary=\"simple boundary\"");
        assert_eq!(p.get("boundary"), Some("simple boundary"));
        let p = parse("attachment; filename=\"a;b \\\"c\\\".txt\"");
        assert_eq!(p.get("filename"), Some("a;b \"c\".txt"));
    }

    #[test]
    fn rfc2231_examples() {
        // RFC 2231 §3, §4, §4.1
        let p = parse(
            "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
        );
        assert_eq!(
            p.get("url"),
            Some("ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        );
        let p =
            parse("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
        assert_eq!(p.get("title"), Some("This is ***fun***"));
        let p = parse(
            "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"",
        );
        assert_eq!(
            p.get("title"),
            Some("This is even more ***fun*** isn't it!")
        );
    }

    #[test]
    fn real_world() {
        let p = parse("attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf");
        assert_eq!(p.get("filename"), Some("€ rates.pdf"));
        let p = parse("attachment; filename=\"=?utf-8?B?4oKsIHJhdGVzLnBkZg==?=\"");
        assert_eq!(p.get("filename"), Some("€ rates.pdf"));
        // Out-of-order sections, split UTF-8 sequence across sections
        let p = parse("attachment; filename*1*=%82%AC.txt; filename*0*=utf-8''%E2");
        assert_eq!(p.get("filename"), Some("€.txt"));
        let p = parse("inline; filename*=iso-8859-1'de'Stra%DFe.txt; filename=\"fallback\"");
        assert_eq!(p.get("filename"), Some("Straße.txt"));
    }

    #[test]
    fn encode_round_trip() {
        assert_eq!(
            encode("charset", "utf-8", "utf-8").unwrap(),
            "charset=utf-8"
        );
        assert_eq!(
            encode("filename", "a b.txt", "utf-8").unwrap(),
            "filename=\"a b.txt\""
        );
        let e = encode("filename", "€ rates.pdf", "utf-8").unwrap();
        assert_eq!(e, "filename*=utf-8''%E2%82%AC%20rates.pdf");
        let long = "Überweisung für das Jahr 2026 — Zusammenfassung und Anhänge.pdf";
        let e = encode("filename", long, "utf-8").unwrap();
        assert!(e.contains("filename*1*="));
        assert_eq!(
            parse(&format!("attachment; {e}")).get("filename"),
            Some(long)
        );
        assert!(encode("filename", "a\r\nb", "utf-8").is_err());
    }
}
