//! Header fields (RFC 5322 §2.2): names, raw bytes, unfolding and decoded values.

use super::parse::FieldRange;
use crate::codec::{charset, encoded_word};

/// A header field's pieces in the message bytes.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    /// The field name as written (without the colon and any whitespace before it).
    pub name: &'a [u8],
    /// The raw value: everything after the colon, folding kept, final line break removed.
    pub value: &'a [u8],
    /// The raw value with its final line break, as mail-parser's field grammars expect.
    pub value_eol: &'a [u8],
    /// The whole field, `Name: value` and its final line break, exactly as in the message.
    pub line: &'a [u8],
    /// Byte offset of the field in the bytes it was parsed from.
    pub offset: usize,
}

impl<'a> Field<'a> {
    pub fn new(raw: &'a [u8], f: &FieldRange) -> Self {
        let end = f.end.min(raw.len());
        let value_start = (f.colon + 1).min(end);
        Field {
            name: f.name(raw),
            value: strip_eol(&raw[value_start..end]),
            value_eol: &raw[value_start..end],
            line: &raw[f.start..end],
            offset: f.start,
        }
    }

    /// Does the field have this name (ASCII case-insensitive)?
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The name as text (header names are ASCII; anything else is replaced).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(self.name).into_owned()
    }

    /// The value unfolded (RFC 5322 §2.2.3), RFC 2047 encoded words decoded, surrounding
    /// whitespace removed. 8-bit bytes are read as UTF-8 (RFC 6532), or windows-1252 when
    /// they are not UTF-8.
    pub fn decoded(&self) -> String {
        let unfolded = unfold(self.value);
        encoded_word::decode_bytes(trim(&unfolded))
    }

    /// The unfolded value as text, without decoding encoded words.
    pub fn unfolded(&self) -> String {
        charset::decode_undeclared(trim(&unfold(self.value)))
    }

    /// The value holds 8-bit bytes that are not UTF-8.
    pub fn is_undecodable(&self) -> bool {
        !self.value.is_ascii() && std::str::from_utf8(self.value).is_err()
    }
}

fn strip_eol(v: &[u8]) -> &[u8] {
    let v = v.strip_suffix(b"\n").unwrap_or(v);
    v.strip_suffix(b"\r").unwrap_or(v)
}

/// Remove the line breaks of folded lines (RFC 5322 §2.2.3): CRLF or LF followed by
/// whitespace. Stray line breaks go too, so the value is one line.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Trim ASCII whitespace from both ends.
pub fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolding() {
        // RFC 5322 §2.2.3.
        assert_eq!(
            unfold(b" This is a test\r\n of folding\r\n\tagain"),
            b" This is a test of folding\tagain"
        );
        assert_eq!(trim(b" \t x y \r\n"), b"x y");
    }
}
