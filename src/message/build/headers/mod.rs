//! Writing header fields, folded at 78 columns (one file per kind of value, as in
//! mail-builder's `headers/`).

use super::FOLD;
use super::error::{Result, check_line};
use super::fields::Value;

mod address;
pub mod content_type;
pub mod date;
pub mod message_id;
mod text;

use address::write_addresses;
use message_id::write_ids;
use text::write_text;

/// RFC 2047 §2: an encoded word is at most 75 characters.
const MAX_WORD: usize = 75;
/// `=?utf-8?B?` and `?=`.
const WORD_OVERHEAD: usize = 12;
/// Room for an encoded word holding one 4-byte character in Q form.
const MIN_WORD: usize = WORD_OVERHEAD + 12;

/// Writes one header field, folding before whitespace when a line would pass 78 columns.
struct Folder<'o> {
    out: &'o mut Vec<u8>,
    col: usize,
    started: bool,
}

impl<'o> Folder<'o> {
    fn new(out: &'o mut Vec<u8>, name: &str) -> Self {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        Folder {
            out,
            col: name.len() + 1,
            started: false,
        }
    }

    /// Write `ws` (whitespace the value has at this point; empty to glue) and `word`. The
    /// first word is never folded onto a line of its own.
    fn word(&mut self, ws: &str, word: &str) {
        if self.started && !ws.is_empty() && self.col + ws.len() + word.len() > FOLD {
            self.out.extend_from_slice(b"\r\n");
            self.col = 0;
        }
        self.out.extend_from_slice(ws.as_bytes());
        self.out.extend_from_slice(word.as_bytes());
        self.col += ws.len() + word.len();
        self.started = true;
    }

    /// Columns left on this line after a separating space.
    fn room(&self) -> usize {
        FOLD.saturating_sub(self.col + 1)
    }

    /// Room for the first of a run of encoded words.
    fn first_word_room(&self) -> usize {
        let room = self.room().min(MAX_WORD);
        if room >= MIN_WORD {
            room
        } else if self.started {
            MAX_WORD // it folds onto a new line, which has 77 columns after the space
        } else {
            MIN_WORD // a long field name: the first line runs over rather than fold empty
        }
    }

    fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// The value split at whitespace: `(whitespace before, word)`, whitespace runs kept as they
/// are so that unfolding gives the value back.
fn split_ws(text: &str) -> Vec<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let ws_start = i;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let word_start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        if word_start == i {
            // Trailing whitespace stays with the last word: a fold there would leave a
            // line of whitespace only.
            if let Some(last) = spans.last_mut() {
                last.2 = i;
            }
            break;
        }
        spans.push((ws_start, word_start, i));
    }
    spans
        .into_iter()
        .map(|(a, b, c)| (&text[a..b], &text[b..c]))
        .collect()
}

/// Write the header field `name: value` (CRLF-terminated, folded).
pub fn write_field(out: &mut Vec<u8>, name: &str, value: &Value, utf8: bool) -> Result<()> {
    match value {
        Value::Text(t) => {
            check_line(name, t)?;
            write_text(out, name, t, utf8);
            Ok(())
        }
        Value::Addresses(list) => write_addresses(out, name, list, utf8),
        Value::Ids(ids) => write_ids(out, name, ids, utf8),
        Value::Date(d) => {
            check_line(name, d)?;
            let mut f = Folder::new(out, name);
            for (i, (ws, word)) in split_ws(d).into_iter().enumerate() {
                f.word(if i == 0 { " " } else { ws }, word);
            }
            f.finish();
            Ok(())
        }
    }
}
