//! Building messages (RFC 5322, MIME): header fields checked, written and folded; bodies
//! given a transfer encoding; parts assembled into multiparts.
//!
//! Stalwart's mail-builder assembles the MIME tree (multipart framing, `Content-Type` with
//! its boundary, `Content-Disposition` with RFC 2231 file names, msg-id lists). The rest is
//! ours because mail-builder falls short of what mailprims promises: it quotes every display
//! name, RFC 2047-encodes any ASCII header longer than 77 characters (even structured ones),
//! sends text with NUL bytes or bare CRs as `7bit`, dates every message in UTC, and takes
//! the Message-ID domain from the local host name instead of the sender's address.
//!
//! Guarantees of [`Builder::to_bytes`]: CRLF line endings; no line longer than 998 octets,
//! header lines folded at 78 wherever there is whitespace to fold at; non-ASCII header text as
//! RFC 2047 encoded words and non-ASCII file names both as RFC 2231 (`filename*=`) and
//! RFC 2047 (`name="=?..."`); a transfer encoding per part so that the message is 7-bit
//! unless 8-bit or UTF-8 output is asked for; random boundaries checked against the content;
//! `From`, `Date`, `Message-ID` and `MIME-Version: 1.0` present. No user-given value can add
//! a header line: CR, LF and NUL are refused everywhere.

mod body;
mod builder;
mod error;
mod fields;
mod headers;
mod output;
mod part;
#[cfg(test)]
mod tests;

pub use body::{Attachment, Content, Options, crlf_bytes, crlf_text};
pub use builder::{Builder, Rendered, longest_line};
pub use error::{BuildError, check_line};
pub use fields::{
    Kind, Value, check_address, check_id, check_name, is_once, kind_of, parse_addresses, parse_ids,
};
pub use headers::content_type::MediaType;
pub use headers::date::{format_date, now_local};
pub use headers::message_id::{new_message_id, random_u128};
pub use headers::write_field;
pub use output::{Output, SliceOutput};
pub use part::{
    Leaf, Node, fresh_boundary, has_delimiter_line, multipart_header, prepare_leaf, prepare_text,
    write_leaf, write_text_leaf,
};

/// RFC 5322 §2.1.1: header lines are folded to stay within 78 characters.
pub const FOLD: usize = 78;
/// RFC 5322 §2.1.1: no line may be longer than 998 characters.
pub const MAX_LINE: usize = 998;

/// A whitespace-free run longer than this cannot be written as it is (the header name and
/// the folding need room too), so the value goes out as encoded words.
const MAX_RUN: usize = 900;
