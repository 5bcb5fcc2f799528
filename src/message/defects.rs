//! What was malformed in a message, and how it was read anyway.
//!
//! Parsing never fails: like every mail client, it repairs what it can and records a `Defect`
//! for each repair, so callers can tell clean mail from mail that was guessed at.

use std::fmt;

/// The kinds of malformation the parser recognises. `as_str` gives the stable name used in
/// Python (`Defect.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DefectKind {
    /// The input has no header section at all: it was read as a plain-text body.
    NoHeaders,
    /// A header section ended with a line that is not a header field instead of an empty
    /// line (RFC 5322 §2.1); that line starts the body.
    MissingHeaderBodySeparator,
    /// A line in a header section that is not a field was skipped (a continuation line
    /// with nothing to continue, or an mbox `From ` separator line).
    InvalidHeaderLine,
    /// A `multipart/*` part has no `boundary` parameter (RFC 2046 §5.1.1): read as text.
    MultipartWithoutBoundary,
    /// A multipart's boundary never appears: the body was read as one text part.
    StartBoundaryNotFound,
    /// A multipart has no closing delimiter (`--boundary--`): it ends where its parent or
    /// the message ends.
    CloseBoundaryNotFound,
    /// Parts nest deeper than the parser follows; deeper containers are kept as opaque
    /// bodies.
    NestingTooDeep,
    /// A `message/rfc822` part has a base64 or quoted-printable encoding, which RFC 2046
    /// §5.2.1 forbids; it is decoded before the inner message is read.
    EncodedMessage,
    /// A `Content-Transfer-Encoding` that is not 7bit, 8bit, binary, base64,
    /// quoted-printable or x-uuencode: the body is passed through as it is.
    UnknownTransferEncoding,
    /// A base64 body contains characters outside the alphabet or is cut short.
    InvalidBase64,
    /// A text part declares a charset nobody knows: it is read as UTF-8 (or windows-1252);
    /// or a header's RFC 2047 encoded word does, and is left as written.
    UnknownCharset,
    /// `From` or `Date` is missing (RFC 5322 §3.6: both are required).
    MissingRequiredHeader,
    /// A header that RFC 5322 §3.6 allows at most once appears more than once.
    DuplicateHeader,
    /// A `Content-Type` header could not be read; the default type applies.
    InvalidContentType,
    /// A `Date` header could not be read as a date.
    InvalidDate,
    /// An address header holds an entry without an address, or addresses without a comma
    /// between them (they are read apart).
    InvalidAddress,
    /// A header holds 8-bit bytes that are not UTF-8: read as UTF-8 with U+FFFD when it is
    /// UTF-8 with a few broken bytes, else as windows-1252.
    UndecodableHeader,
    /// A line is longer than the 998 characters RFC 5322 §2.1.1 allows.
    LineTooLong,
    /// Lines end with CRLF and with bare LF in the same message.
    MixedLineEndings,
    /// A MIME message (it has Content-* headers) lacks `MIME-Version` (RFC 2045 §4).
    MissingMimeVersion,
}

impl DefectKind {
    /// The stable, kebab-case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            DefectKind::NoHeaders => "no-headers",
            DefectKind::MissingHeaderBodySeparator => "missing-header-body-separator",
            DefectKind::InvalidHeaderLine => "invalid-header-line",
            DefectKind::MultipartWithoutBoundary => "multipart-without-boundary",
            DefectKind::StartBoundaryNotFound => "start-boundary-not-found",
            DefectKind::CloseBoundaryNotFound => "close-boundary-not-found",
            DefectKind::NestingTooDeep => "nesting-too-deep",
            DefectKind::EncodedMessage => "encoded-message",
            DefectKind::UnknownTransferEncoding => "unknown-transfer-encoding",
            DefectKind::InvalidBase64 => "invalid-base64",
            DefectKind::UnknownCharset => "unknown-charset",
            DefectKind::MissingRequiredHeader => "missing-required-header",
            DefectKind::DuplicateHeader => "duplicate-header",
            DefectKind::InvalidContentType => "invalid-content-type",
            DefectKind::InvalidDate => "invalid-date",
            DefectKind::InvalidAddress => "invalid-address",
            DefectKind::UndecodableHeader => "undecodable-header",
            DefectKind::LineTooLong => "line-too-long",
            DefectKind::MixedLineEndings => "mixed-line-endings",
            DefectKind::MissingMimeVersion => "missing-mime-version",
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One malformation: its kind, a sentence saying what was found and what was done, and the
/// byte offset (in the message's own bytes) where it was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Defect {
    pub kind: DefectKind,
    pub message: String,
    pub offset: Option<usize>,
}

impl Defect {
    pub fn new(kind: DefectKind, message: impl Into<String>, offset: Option<usize>) -> Self {
        Defect {
            kind,
            message: message.into(),
            offset,
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} at byte {o}: {}", self.kind, self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}
