//! Address lists and groups (RFC 5322 §3.4), display names as phrases.

use std::borrow::Cow;

use super::Folder;
use super::split_ws;
use super::text::write_encoded;
use crate::message::address::{self, Address};
use crate::message::build::error::{BuildError, Result};
use crate::message::build::fields::{check_address, is_atext};
use crate::message::build::{FOLD, MAX_RUN};

/// A display name (or group name) as an RFC 5322 phrase: atoms as they are, a quoted
/// string when it holds specials or runs of whitespace, encoded words when it must.
fn write_phrase(f: &mut Folder<'_>, name: &str, utf8: bool, tail: &str) {
    let needs_words = (!utf8 && !name.is_ascii())
        || name.chars().any(|c| c.is_control() && c != '\t')
        || name.contains("=?")
        || name.split(' ').any(|w| w.len() > MAX_RUN - FOLD);
    if needs_words {
        return write_encoded(f, name, tail);
    }
    let plain = !name.is_empty()
        && name
            .split(' ')
            .all(|w| !w.is_empty() && w.chars().all(is_atext));
    let display: Cow<'_, str> = if plain {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(address::quoted_string(name))
    };
    let words = split_ws(&display);
    let last = words.len().saturating_sub(1);
    for (i, (ws, word)) in words.into_iter().enumerate() {
        let ws = if i == 0 { " " } else { ws };
        if i == last {
            f.word(ws, &format!("{word}{tail}"));
        } else {
            f.word(ws, word);
        }
    }
}

fn write_mailbox(f: &mut Folder<'_>, a: &Address, utf8: bool, tail: &str) {
    if a.name.is_empty() {
        f.word(" ", &format!("{}{tail}", a.email));
    } else {
        write_phrase(f, &a.name, utf8, "");
        f.word(" ", &format!("<{}>{tail}", a.email));
    }
}

pub(super) fn write_addresses(
    out: &mut Vec<u8>,
    name: &str,
    list: &[Address],
    utf8: bool,
) -> Result<()> {
    for a in list {
        check_address(a)?;
        if !utf8 && !a.email.is_ascii() {
            return Err(BuildError::InvalidAddress {
                text: address::format(&a.name, &a.email),
                reason: "a non-ASCII address needs UTF-8 output (utf8=True, SMTPUTF8, RFC 6531)"
                    .into(),
            });
        }
    }
    let mut f = Folder::new(out, name);
    let mut i = 0;
    while i < list.len() {
        let more_after = |j: usize| j < list.len();
        match list[i].group.as_deref().filter(|g| !g.is_empty()) {
            Some(group) => {
                let mut j = i;
                while j < list.len() && list[j].group.as_deref() == Some(group) {
                    j += 1;
                }
                write_phrase(&mut f, group, utf8, ":");
                for (k, member) in list[i..j].iter().enumerate() {
                    let tail = match (i + k + 1 < j, more_after(j)) {
                        (true, _) => ",",
                        (false, true) => ";,",
                        (false, false) => ";",
                    };
                    write_mailbox(&mut f, member, utf8, tail);
                }
                i = j;
            }
            None => {
                let tail = if more_after(i + 1) { "," } else { "" };
                write_mailbox(&mut f, &list[i], utf8, tail);
                i += 1;
            }
        }
    }
    f.finish();
    Ok(())
}
