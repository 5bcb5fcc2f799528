//! RFC 2047 encoded words in header values: `=?charset?B|Q?text?=`.

use super::{CodecError, base64, charset, quoted_printable};

/// Decode every encoded word in a header value, leaving the rest as it is.
///
/// Whitespace between adjacent encoded words is dropped (RFC 2047 §6.2), and adjacent words in
/// the same charset are decoded together so a character split across two words survives.
/// Words in an unknown charset, or malformed ones, stay as their raw text; this never fails.
pub fn decode(input: &str) -> String {
    if !input.contains("=?") {
        return input.to_owned();
    }
    let mut out = String::with_capacity(input.len());
    let mut pending: Option<(&str, Vec<u8>)> = None;
    let mut last_was_word = false;
    let mut i = 0;
    let finder = memchr::memmem::Finder::new(b"=?");
    let bytes = input.as_bytes();
    while let Some(k) = finder.find(&bytes[i..]) {
        let at = i + k;
        let between = &input[i..at];
        let Some(word) = parse_word(input, at) else {
            flush(&mut pending, &mut out);
            out.push_str(&input[i..at + 2]);
            i = at + 2;
            last_was_word = false;
            continue;
        };
        if !(last_was_word && between.bytes().all(|b| b.is_ascii_whitespace())) {
            flush(&mut pending, &mut out);
            out.push_str(between);
        }
        if !charset::known(word.charset) {
            flush(&mut pending, &mut out);
            out.push_str(&input[at..word.end]);
            i = word.end;
            last_was_word = false;
            continue;
        }
        let data = if word.base64 {
            base64::decode_lenient(word.text.as_bytes())
        } else {
            quoted_printable::decode(word.text.as_bytes(), true)
        };
        match &mut pending {
            // Joined bytes let a character split across words decode; stateful charsets
            // cannot be joined (WHATWG rejects back-to-back escape sequences).
            Some((cs, buf)) if cs.eq_ignore_ascii_case(word.charset) && !is_stateful_label(cs) => {
                buf.extend_from_slice(&data)
            }
            _ => {
                flush(&mut pending, &mut out);
                pending = Some((word.charset, data));
            }
        }
        i = word.end;
        last_was_word = true;
    }
    flush(&mut pending, &mut out);
    out.push_str(&input[i..]);
    out
}

/// Decode raw header bytes: undeclared 8-bit text as UTF-8 (windows-1252 when it is not
/// UTF-8), then the encoded words in it. Raw 8-bit bytes inside an encoded word are bytes
/// of the word's charset (as the stdlib and mail clients read them), not undeclared text.
pub fn decode_bytes(input: &[u8]) -> String {
    decode(&charset::decode_undeclared(&escape_raw_bytes(input)))
}

/// The charset of the first encoded word in `input` that [`decode`] leaves undecoded
/// because nobody knows its charset (a defect worth reporting: the reader sees `=?...?=`).
pub fn unknown_charset(input: &[u8]) -> Option<String> {
    let finder = memchr::memmem::Finder::new(b"=?");
    let mut i = 0;
    while let Some(k) = finder.find(&input[i..]) {
        let at = i + k;
        match parse_word_bytes(input, at) {
            Some(w) => {
                let label = String::from_utf8_lossy(&input[at + 2..w.charset_end]);
                if !charset::known(&label) {
                    return Some(label.into_owned());
                }
                i = w.text_end + 2;
            }
            None => i = at + 2,
        }
    }
    None
}

/// Raw 8-bit bytes inside Q encoded words, written as `=XX` so that they survive the
/// undeclared-text decoding of the whole value and are decoded once, in the word's charset
/// (an unescaped `=?iso-8859-1?Q?caf\xe9?=` would otherwise read as windows-1252 text "é",
/// then as its UTF-8 bytes in Latin-1: "Ã©"). Other bytes are unchanged; ASCII input is
/// borrowed. B words with raw 8-bit bytes are not base64 and stay as they are.
pub fn escape_raw_bytes(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if input.is_ascii() {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out: Vec<u8> = Vec::with_capacity(input.len() + 16);
    let mut i = 0;
    let finder = memchr::memmem::Finder::new(b"=?");
    while let Some(k) = finder.find(&input[i..]) {
        let at = i + k;
        let Some(word) = parse_word_bytes(input, at) else {
            out.extend_from_slice(&input[i..at + 2]);
            i = at + 2;
            continue;
        };
        out.extend_from_slice(&input[i..word.text_start]);
        let text = &input[word.text_start..word.text_end];
        if word.base64 {
            out.extend_from_slice(text);
        } else {
            for &b in text {
                if b >= 0x80 {
                    out.extend_from_slice(format!("={b:02X}").as_bytes());
                } else {
                    out.push(b);
                }
            }
        }
        i = word.text_end;
    }
    out.extend_from_slice(&input[i..]);
    std::borrow::Cow::Owned(out)
}

fn flush(pending: &mut Option<(&str, Vec<u8>)>, out: &mut String) {
    if let Some((cs, data)) = pending.take() {
        // The charset was looked up when the word was parsed.
        out.push_str(&charset::decode(&data, cs).unwrap_or_default());
    }
}

struct Word<'a> {
    charset: &'a str,
    base64: bool,
    text: &'a str,
    end: usize,
}

fn parse_word(input: &str, at: usize) -> Option<Word<'_>> {
    let w = parse_word_bytes(input.as_bytes(), at)?;
    // The delimiters are ASCII, so these are character boundaries.
    Some(Word {
        charset: input.get(at + 2..w.charset_end)?,
        base64: w.base64,
        text: input.get(w.text_start..w.text_end)?,
        end: w.text_end + 2,
    })
}

/// Where the pieces of the encoded word starting at `at` are.
struct WordBytes {
    charset_end: usize,
    base64: bool,
    text_start: usize,
    text_end: usize,
}

fn parse_word_bytes(input: &[u8], at: usize) -> Option<WordBytes> {
    let start = at + 2;
    let rest = input.get(start..)?;
    let q1 = memchr::memchr(b'?', rest)?;
    let charset = &rest[..q1];
    if charset.is_empty()
        || charset.len() > 64
        || charset
            .iter()
            .any(|&b| b.is_ascii_whitespace() || b == b'=' || !b.is_ascii())
    {
        return None;
    }
    let base64 = match rest.get(q1 + 1)? {
        b'B' | b'b' => true,
        b'Q' | b'q' => false,
        _ => return None,
    };
    if *rest.get(q1 + 2)? != b'?' {
        return None;
    }
    let text_start = start + q1 + 3;
    let close = memchr::memmem::find(&input[text_start..], b"?=")?;
    let text = &input[text_start..text_start + close];
    // A word never spans a line; anything else here is text that happens to contain "=?".
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        return None;
    }
    Some(WordBytes {
        charset_end: start + q1,
        base64,
        text_start,
        text_end: text_start + close,
    })
}

/// RFC 2047 §2: an encoded word is at most 75 characters.
pub const MAX_WORD: usize = 75;

/// Encode `text` as encoded words in `charset`, separated by single spaces (the header writer
/// folds there). B or Q is chosen by which is shorter; words are split on character
/// boundaries and never exceed 75 characters.
pub fn encode(text: &str, charset_label: &str) -> Result<String, CodecError> {
    let label = charset_label.trim();
    let enc = charset::lookup(label)
        .ok_or_else(|| CodecError::other("encoded-word", format!("unknown charset {label:?}")))?;
    if enc.output_encoding() != enc
        || label
            .bytes()
            .any(|b| !(b.is_ascii_graphic()) || matches!(b, b'?' | b'=' | b'*'))
    {
        return Err(CodecError::other(
            "encoded-word",
            format!("charset {label:?} cannot be used in an encoded word"),
        ));
    }
    let chunks = char_bytes(text, label, enc)?;
    let total: Vec<u8> = chunks.iter().flatten().copied().collect();
    let q_len = quoted_printable::encoded_header_len(&total);
    let b_len = total.len().div_ceil(3) * 4;
    let use_b = b_len < q_len;
    let budget = MAX_WORD
        .checked_sub(7 + label.len())
        .filter(|&b| b >= 12)
        .ok_or_else(|| CodecError::other("encoded-word", "charset name too long"))?;

    let mut words: Vec<String> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut start = 0; // char index of the first char in `current`, for stateful charsets
    let char_starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let stateless = enc == encoding_rs::UTF_8 || !is_stateful(enc);
    let mut idx = 0;
    while idx < chunks.len() {
        let candidate: Vec<u8> = if stateless {
            let mut c = current.clone();
            c.extend_from_slice(&chunks[idx]);
            c
        } else {
            let end = char_starts.get(idx + 1).copied().unwrap_or(text.len());
            encode_str(&text[char_starts[start]..end], label, enc)?
        };
        if cost(&candidate, use_b) <= budget {
            current = candidate;
            idx += 1;
            continue;
        }
        if current.is_empty() {
            return Err(CodecError::other(
                "encoded-word",
                "character too long for one word",
            ));
        }
        words.push(make_word(label, &current, use_b));
        current.clear();
        start = idx;
    }
    if !current.is_empty() || words.is_empty() {
        words.push(make_word(label, &current, use_b));
    }
    Ok(words.join(" "))
}

fn cost(data: &[u8], use_b: bool) -> usize {
    if use_b {
        data.len().div_ceil(3) * 4
    } else {
        quoted_printable::encoded_header_len(data)
    }
}

fn make_word(label: &str, data: &[u8], use_b: bool) -> String {
    let (kind, body) = if use_b {
        ('B', base64::encode(data, None))
    } else {
        ('Q', quoted_printable::encode_header(data))
    };
    // Both encoders emit ASCII only.
    format!("=?{label}?{kind}?{}?=", String::from_utf8_lossy(&body))
}

fn is_stateful(enc: &'static encoding_rs::Encoding) -> bool {
    enc == encoding_rs::ISO_2022_JP
}

/// Charsets whose bytes cannot be joined across words: ISO-2022-JP (WHATWG rejects
/// back-to-back escape sequences) and UTF-7 (a word may end inside a base64 run).
fn is_stateful_label(label: &str) -> bool {
    charset::lookup(label).is_some_and(is_stateful) || {
        let l = label.split('*').next().unwrap_or(label).trim();
        l.eq_ignore_ascii_case("utf-7") || l.eq_ignore_ascii_case("utf7")
    }
}

/// The bytes of each character of `text` in the charset.
fn char_bytes(
    text: &str,
    label: &str,
    enc: &'static encoding_rs::Encoding,
) -> Result<Vec<Vec<u8>>, CodecError> {
    let mut buf = [0u8; 4];
    text.chars()
        .map(|c| {
            if enc == encoding_rs::UTF_8 {
                Ok(c.encode_utf8(&mut buf).as_bytes().to_vec())
            } else {
                encode_str(c.encode_utf8(&mut buf), label, enc)
            }
        })
        .collect()
}

fn encode_str(
    s: &str,
    label: &str,
    enc: &'static encoding_rs::Encoding,
) -> Result<Vec<u8>, CodecError> {
    // WHATWG maps these labels to windows-1252; hold them to their real repertoire.
    let limit = match label.to_ascii_lowercase().as_str() {
        "us-ascii" | "ascii" => Some(0x7f),
        "iso-8859-1" | "iso8859-1" | "latin1" | "l1" => Some(0xff),
        _ => None,
    };
    if let Some(max) = limit
        && let Some(c) = s.chars().find(|&c| c as u32 > max)
    {
        return Err(unmappable(c, label));
    }
    let (bytes, _, had_unmappable) = enc.encode(s);
    if had_unmappable {
        let c = s.chars().next().unwrap_or('\u{fffd}');
        return Err(unmappable(c, label));
    }
    Ok(bytes.into_owned())
}

#[cold]
fn unmappable(c: char, label: &str) -> CodecError {
    CodecError::other(
        "encoded-word",
        format!(
            "character {c:?} (U+{:04X}) cannot be encoded in {label}",
            c as u32
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_section8_examples() {
        assert_eq!(decode("=?ISO-8859-1?Q?a?="), "a");
        assert_eq!(decode("=?ISO-8859-1?Q?a?= b"), "a b");
        assert_eq!(decode("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
        assert_eq!(decode("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?="), "ab");
        assert_eq!(decode("=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?="), "ab");
        assert_eq!(decode("=?ISO-8859-1?Q?a_b?="), "a b");
        assert_eq!(decode("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?="), "a b");
        assert_eq!(
            decode("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"),
            "Keith Moore <moore@cs.utk.edu>"
        );
        assert_eq!(decode("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
        assert_eq!(
            decode(
                "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="
            ),
            "If you can read this you understand the example."
        );
        assert_eq!(decode("=?US-ASCII*EN?Q?Keith?="), "Keith");
    }

    #[test]
    fn split_character_and_unknowns() {
        // "é" split across two words
        assert_eq!(
            decode("=?utf-8?B?w6k=?= =?utf-8?Q?=C3?= =?utf-8?Q?=A9?="),
            "éé"
        );
        assert_eq!(decode("=?x-unknown?Q?abc?= z"), "=?x-unknown?Q?abc?= z");
        assert_eq!(decode("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
        assert_eq!(decode("price =? 3"), "price =? 3");
        assert_eq!(decode("=?koi8-r?B?8NLJ18XU?="), "Привет");
        assert_eq!(decode("=?utf-8?q?a?==?utf-8?q?b?="), "ab");
    }

    #[test]
    fn utf7_words() {
        // Issue 12 item 4: UTF-7 words decode (the stdlib reads them), one at a time.
        assert_eq!(decode("=?utf-7?B?SGkgK0FPay0=?="), "Hi é");
        assert_eq!(decode("=?UTF-7?Q?Hi_+AOk-?="), "Hi é");
        assert_eq!(decode("=?utf-7?Q?+AOk-?= =?utf-7?Q?+AOk-a?="), "ééa");
    }

    #[test]
    fn unknown_charsets_are_found() {
        assert_eq!(
            unknown_charset(b"a =?utf-7?Q?x?= =?x-nope?Q?y?=").as_deref(),
            Some("x-nope")
        );
        assert_eq!(unknown_charset(b"=?utf-8?Q?x?= =? plain"), None);
    }

    #[test]
    fn raw_8bit_inside_words() {
        // Issue 12 item 3: raw bytes in a word are bytes of the word's charset, decoded once.
        assert_eq!(decode_bytes(b"=?iso-8859-1?Q?caf\xe9?="), "café");
        assert_eq!(decode_bytes(b"=?koi8-r?Q?\xf0\xd2\xc9?= x"), "При x");
        assert_eq!(decode_bytes("=?utf-8?Q?café?=".as_bytes()), "café");
        // Outside words, undeclared 8-bit text is read as before.
        assert_eq!(decode_bytes(b"caf\xe9 =?utf-8?Q?=C3=A9?="), "café é");
        assert_eq!(
            escape_raw_bytes(b"=?x?Q?\xe9?= \xe9"),
            &b"=?x?Q?=E9?= \xe9"[..]
        );
    }

    #[test]
    fn encode_round_trip() {
        for s in [
            "",
            "Hello",
            "café",
            "Привет, мир",
            "日本語のテキスト",
            &"é".repeat(100),
            "a b_c?=d",
        ] {
            let e = encode(s, "utf-8").unwrap();
            for w in e.split(' ') {
                assert!(w.len() <= MAX_WORD, "{w}");
            }
            assert_eq!(decode(&e), s, "{e}");
        }
        assert_eq!(
            encode("café au lait", "utf-8").unwrap(),
            "=?utf-8?Q?caf=C3=A9_au_lait?="
        );
        assert_eq!(encode("café", "utf-8").unwrap(), "=?utf-8?B?Y2Fmw6k=?=");
        assert_eq!(
            encode("Привет", "utf-8").unwrap(),
            "=?utf-8?B?0J/RgNC40LLQtdGC?="
        );
        let e = encode("Привет мир", "koi8-r").unwrap();
        assert_eq!(decode(&e), "Привет мир");
        let e = encode(&"日本語".repeat(20), "iso-2022-jp").unwrap();
        assert_eq!(decode(&e), "日本語".repeat(20));
        assert!(encode("€", "iso-8859-1").is_err());
        assert!(encode("x", "no-such").is_err());
    }
}
