//! Unstructured text (RFC 5322 §3.2.5) and RFC 2047 encoded words.

use super::{Folder, MAX_WORD, WORD_OVERHEAD, split_ws};
use crate::codec::{base64, quoted_printable};
use crate::message::build::{FOLD, MAX_RUN};

/// RFC 2047 encoded words for `text` in UTF-8, B or Q (whichever is shorter for the whole
/// text), split between characters: the first is at most `first` characters long, the
/// others at most 75. Q words use only the characters allowed in a phrase (§5 rule 3), so
/// the words serve display names too.
pub(super) fn encoded_words(text: &str, first: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let use_b = bytes.len().div_ceil(3) * 4 < quoted_printable::encoded_header_len(bytes);
    let make = |data: &[u8]| {
        let (kind, body) = if use_b {
            ('B', base64::encode(data, None))
        } else {
            ('Q', quoted_printable::encode_header(data))
        };
        // Both encoders write ASCII.
        format!("=?utf-8?{kind}?{}?=", String::from_utf8_lossy(&body))
    };
    let mut words = Vec::new();
    let mut room = first.min(MAX_WORD);
    let mut start = 0;
    let mut q_len = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let char_q = quoted_printable::encoded_header_len(&bytes[i..end]);
        let len = if use_b {
            (end - start).div_ceil(3) * 4
        } else {
            q_len + char_q
        };
        if WORD_OVERHEAD + len > room && i > start {
            words.push(make(&bytes[start..i]));
            start = i;
            room = MAX_WORD;
            q_len = char_q;
        } else {
            q_len = len;
        }
    }
    if start < bytes.len() || words.is_empty() {
        words.push(make(&bytes[start..]));
    }
    words
}

pub(super) fn write_encoded(f: &mut Folder<'_>, text: &str, tail: &str) {
    let mut words = encoded_words(text, f.first_word_room());
    if let Some(last) = words.last_mut() {
        last.push_str(tail);
    }
    for w in &words {
        f.word(" ", w);
    }
}

/// Must unstructured text go out as encoded words? Non-ASCII (without UTF-8 output),
/// control characters, whitespace at either end (unfolding would lose it), text that looks
/// like an encoded word (a reader would decode it), or a run too long for one line.
fn text_needs_words(text: &str, utf8: bool) -> bool {
    (!utf8 && !text.is_ascii())
        || text.chars().any(|c| c.is_control() && c != '\t')
        || text.starts_with([' ', '\t'])
        || text.ends_with([' ', '\t'])
        || text.contains("=?")
        || text.split([' ', '\t']).any(|w| w.len() > MAX_RUN - FOLD)
}

pub(super) fn write_text(out: &mut Vec<u8>, name: &str, text: &str, utf8: bool) {
    let mut f = Folder::new(out, name);
    if text.is_empty() {
    } else if text_needs_words(text, utf8) {
        write_encoded(&mut f, text, "");
    } else {
        for (i, (ws, word)) in split_ws(text).into_iter().enumerate() {
            f.word(if i == 0 { " " } else { ws }, word);
        }
    }
    f.finish();
}
