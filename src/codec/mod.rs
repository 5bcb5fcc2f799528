//! Content and header codecs: Base64 (RFC 4648/2045), quoted-printable (RFC 2045 §6.7),
//! encoded words (RFC 2047) and MIME parameter values (RFC 2231).
//!
//! Pure Rust, no pyo3: the Python layer lives in `crate::python`.

pub mod base64;
pub mod charset;
pub mod encoded_word;
mod error;
pub mod params;
pub mod quoted_printable;

pub use error::CodecError;
