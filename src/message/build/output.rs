//! Where a message is written.

use crate::codec::base64;

/// Where a message is written: a growing `Vec`, or a buffer already of the message's size
/// (the Python layer writes straight into a `bytes` object).
pub trait Output {
    fn put(&mut self, data: &[u8]);
    /// `data` Base64-encoded in 76-character lines, CRLF between them.
    fn put_base64(&mut self, data: &[u8]);
}

impl Output for Vec<u8> {
    fn put(&mut self, data: &[u8]) {
        self.extend_from_slice(data);
    }

    fn put_base64(&mut self, data: &[u8]) {
        let start = self.len();
        self.resize(start + base64::encoded_len(data.len(), Some(76)), 0);
        base64::encode_into(data, Some(76), &mut self[start..]);
    }
}

/// A buffer of a known size, filled from the start.
pub struct SliceOutput<'s> {
    buf: &'s mut [u8],
    at: usize,
    overflow: bool,
}

impl<'s> SliceOutput<'s> {
    pub fn new(buf: &'s mut [u8]) -> Self {
        SliceOutput {
            buf,
            at: 0,
            overflow: false,
        }
    }

    /// Was the buffer filled exactly?
    pub fn is_exact(&self) -> bool {
        !self.overflow && self.at == self.buf.len()
    }

    fn take(&mut self, n: usize) -> Option<&mut [u8]> {
        let end = self.at.checked_add(n)?;
        let Some(dst) = self.buf.get_mut(self.at..end) else {
            self.overflow = true;
            return None;
        };
        self.at = end;
        Some(dst)
    }
}

impl Output for SliceOutput<'_> {
    fn put(&mut self, data: &[u8]) {
        if let Some(dst) = self.take(data.len()) {
            dst.copy_from_slice(data);
        }
    }

    fn put_base64(&mut self, data: &[u8]) {
        if let Some(dst) = self.take(base64::encoded_len(data.len(), Some(76))) {
            base64::encode_into(data, Some(76), dst);
        }
    }
}
