//! Why a message cannot be built, and the line-break check every header value passes.

use std::fmt;

/// Why a message cannot be built or edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A CR, LF or NUL in a header value or parameter: it would end the field and start
    /// another one (header injection).
    LineBreak { field: String },
    /// Not a valid field name (RFC 5322 §3.6.8: printable ASCII except `:`).
    InvalidName { name: String },
    /// An address that is not `local@domain`, or non-ASCII without UTF-8 output.
    InvalidAddress { text: String, reason: String },
    /// A value that does not fit its field (a date that does not parse, a bad msg-id).
    InvalidValue { field: String, reason: String },
    /// A field the builder writes itself (`Content-Type`, `MIME-Version`...).
    Reserved { field: String },
    /// A field RFC 5322 §3.6 allows once, added a second time.
    Duplicate { field: String },
    /// No `From` (RFC 5322 §3.6: required).
    MissingFrom,
    /// An edit that does not apply to this message.
    InvalidEdit(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::LineBreak { field } => write!(
                f,
                "{field} contains a CR, LF or NUL character (header injection is refused)"
            ),
            BuildError::InvalidName { name } => write!(
                f,
                "{name:?} is not a valid header field name (1 to 76 printable ASCII characters, no ':')"
            ),
            BuildError::InvalidAddress { text, reason } => {
                write!(f, "invalid address {text:?}: {reason}")
            }
            BuildError::InvalidValue { field, reason } => write!(f, "invalid {field}: {reason}"),
            BuildError::Reserved { field } => write!(
                f,
                "{field} is written by the builder from the body and attachments; it cannot be set"
            ),
            BuildError::Duplicate { field } => write!(
                f,
                "{field} may appear only once (RFC 5322 §3.6); use set_header() to replace it"
            ),
            BuildError::MissingFrom => write!(f, "a message needs a From address (RFC 5322 §3.6)"),
            BuildError::InvalidEdit(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for BuildError {}

pub(super) type Result<T> = std::result::Result<T, BuildError>;

pub(super) fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Refuse CR, LF and NUL in a value written into a header.
pub fn check_line(field: &str, value: &str) -> Result<()> {
    if has_line_break(value) {
        return Err(BuildError::LineBreak {
            field: field.to_owned(),
        });
    }
    Ok(())
}
