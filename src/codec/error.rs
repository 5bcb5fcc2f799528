use std::borrow::Cow;
use std::fmt;

/// A codec met input it will not accept: strict decoding of malformed data, or text that the
/// requested charset cannot represent.
///
/// `offset` and `byte` locate the problem in the input so the caller can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub codec: &'static str,
    pub reason: Cow<'static, str>,
    pub offset: Option<usize>,
    pub byte: Option<u8>,
}

impl CodecError {
    #[cold]
    pub fn at(codec: &'static str, reason: &'static str, offset: usize, byte: Option<u8>) -> Self {
        Self {
            codec,
            reason: Cow::Borrowed(reason),
            offset: Some(offset),
            byte,
        }
    }

    #[cold]
    pub fn other(codec: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            codec,
            reason: reason.into(),
            offset: None,
            byte: None,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.codec, self.reason)?;
        match self.byte {
            Some(b) if b.is_ascii_graphic() => write!(f, " {:?} (0x{:02x})", b as char, b)?,
            Some(b) => write!(f, " 0x{b:02x}")?,
            None => {}
        }
        if let Some(o) = self.offset {
            write!(f, " at offset {o}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CodecError {}
