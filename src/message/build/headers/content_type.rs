//! Media types and the `Content-Type` field (RFC 2045 §5.1, RFC 2231 parameters).

use std::fmt;

use super::text::encoded_words;
use super::{Folder, MIN_WORD, split_ws};
use crate::codec::params;
use crate::message::build::error::{BuildError, Result, check_line};

/// A MIME type with parameters (RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub maintype: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !params::is_tspecial(b))
}

impl MediaType {
    /// Parse `type/subtype; name=value...`. Multipart types are refused: the builder makes
    /// its own multiparts.
    pub fn parse(text: &str) -> Result<MediaType> {
        check_line("Content-Type", text)?;
        let bad = |reason: String| BuildError::InvalidValue {
            field: "Content-Type".into(),
            reason,
        };
        let parsed = params::parse(text);
        let (maintype, subtype) = parsed
            .value
            .split_once('/')
            .filter(|(t, s)| is_token(t) && is_token(s))
            .ok_or_else(|| bad(format!("{text:?} is not type/subtype")))?;
        let maintype = maintype.to_ascii_lowercase();
        if maintype == "multipart" {
            return Err(bad(
                "multipart types are made by the builder from the text, HTML and attachments"
                    .into(),
            ));
        }
        Ok(MediaType {
            maintype,
            subtype: subtype.to_ascii_lowercase(),
            params: parsed.params,
        })
    }

    pub fn new(maintype: &str, subtype: &str) -> MediaType {
        MediaType {
            maintype: maintype.into(),
            subtype: subtype.into(),
            params: Vec::new(),
        }
    }

    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.maintype, self.subtype)
    }

    pub(in crate::message::build) fn set_param(&mut self, name: &str, value: &str) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.params.push((name.to_owned(), value.to_owned()));
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.maintype, self.subtype)?;
        for (n, v) in &self.params {
            match params::encode(n, v, "utf-8") {
                Ok(p) => write!(f, "; {p}")?,
                Err(_) => write!(f, "; {n}={v:?}")?,
            }
        }
        Ok(())
    }
}

/// Write `Content-Type: type/subtype; params; name="..."`, the name RFC 2047-encoded when
/// it is not plain ASCII (what clients that ignore RFC 2231 read).
pub(in crate::message::build) fn write_content_type(
    out: &mut Vec<u8>,
    mt: &MediaType,
    name: Option<&str>,
    utf8: bool,
) -> Result<()> {
    let mut f = Folder::new(out, "Content-Type");
    let mut tokens: Vec<String> = vec![mt.essence()];
    for (n, v) in &mt.params {
        if n.eq_ignore_ascii_case("name") && name.is_some() {
            continue;
        }
        let p = params::encode(n, v, "utf-8").map_err(|e| BuildError::InvalidValue {
            field: "Content-Type".into(),
            reason: e.to_string(),
        })?;
        tokens.extend(p.split("; ").map(str::to_owned));
    }
    let last = tokens.len() - 1;
    for (i, t) in tokens.iter().enumerate() {
        let sep = if i < last || name.is_some() { ";" } else { "" };
        f.word(" ", &format!("{t}{sep}"));
    }
    if let Some(name) = name {
        let plain = name.len() <= 60
            && (name.is_ascii() || utf8)
            && !name.chars().any(char::is_control)
            && !name.contains("=?");
        if plain {
            let quoted = crate::message::address::quoted_string(name);
            for (i, (ws, word)) in split_ws(&format!("name={quoted}")).into_iter().enumerate() {
                f.word(if i == 0 { " " } else { ws }, word);
            }
        } else {
            // `name="` and the closing quote take 7 of the first word's columns.
            let first = f.first_word_room().saturating_sub(7).max(MIN_WORD);
            let words = encoded_words(name, first);
            let n = words.len();
            for (i, w) in words.iter().enumerate() {
                let open = if i == 0 { "name=\"" } else { "" };
                let close = if i + 1 == n { "\"" } else { "" };
                f.word(" ", &format!("{open}{w}{close}"));
            }
        }
    }
    f.finish();
    Ok(())
}
