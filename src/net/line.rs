//! Buffered reading of CRLF-terminated protocol lines, with a length limit, over any stream.
//!
//! The buffer is visible (`buffer`, `consume`) so a server can tell whether the client
//! pipelined more commands, and so that STARTTLS can refuse to carry plaintext that arrived
//! before the handshake into the encrypted session (the CVE-2011-0411 class of injection).

use tokio::io::{AsyncRead, AsyncReadExt};

use super::NetError;

const READ_CHUNK: usize = 16 * 1024;

/// Where a line ends in the buffer: `content` bytes of text, `total` including the line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSpan {
    pub content: usize,
    pub total: usize,
    /// The line ended in CRLF (false: a bare LF).
    pub crlf: bool,
}

pub struct LineReader<S> {
    inner: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<S: AsyncRead + Unpin> LineReader<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }

    /// A reader whose buffer starts at `capacity` bytes (it grows as lines need): servers
    /// holding many idle connections start small.
    pub fn with_capacity(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            buf: vec![0; capacity.max(64)],
            start: 0,
            end: 0,
        }
    }

    /// Grow the buffer to at least `capacity` bytes (before bulk data such as a message body,
    /// so reads are not limited by a small initial buffer).
    pub fn reserve(&mut self, capacity: usize) {
        if self.buf.len() < capacity {
            self.buf.resize(capacity, 0);
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drop everything buffered (returns how much there was).
    pub fn discard_buffer(&mut self) -> usize {
        let n = self.end - self.start;
        self.start = 0;
        self.end = 0;
        n
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The stream, for a TLS upgrade. Fails if unread bytes are buffered: a peer that sends
    /// data before the handshake is injecting it (RFC 3207 §4, RFC 2595 §4).
    pub fn into_inner(self) -> Result<S, (S, usize)> {
        let pending = self.end - self.start;
        if pending > 0 {
            Err((self.inner, pending))
        } else {
            Ok(self.inner)
        }
    }

    /// Read more bytes into the buffer; returns how many (0 at end of stream).
    pub async fn fill(&mut self) -> Result<usize, NetError> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grow = self.buf.len().max(READ_CHUNK);
                self.buf.resize(self.buf.len() + grow, 0);
            }
        }
        let n = self
            .inner
            .read(&mut self.buf[self.end..])
            .await
            .map_err(NetError::from)?;
        self.end += n;
        Ok(n)
    }

    /// Find the next line, reading as needed. Lines longer than `limit` octets (line end
    /// included) give `LineTooLong` without consuming anything (`skip_line` drops it); end of
    /// stream before a line end gives `Closed`.
    pub async fn peek_line(&mut self, limit: usize) -> Result<LineSpan, NetError> {
        let mut scanned = 0;
        loop {
            let avail = self.buffer();
            if let Some(i) = memchr::memchr(b'\n', &avail[scanned..]) {
                let lf = scanned + i;
                if lf + 1 > limit {
                    return Err(NetError::LineTooLong { limit });
                }
                let crlf = lf > 0 && avail[lf - 1] == b'\r';
                return Ok(LineSpan {
                    content: if crlf { lf - 1 } else { lf },
                    total: lf + 1,
                    crlf,
                });
            }
            scanned = avail.len();
            if scanned >= limit {
                return Err(NetError::LineTooLong { limit });
            }
            if self.fill().await? == 0 {
                return Err(NetError::Closed);
            }
        }
    }

    /// The next line's content (without its line end), consumed.
    pub async fn read_line(&mut self, limit: usize) -> Result<Vec<u8>, NetError> {
        let span = self.peek_line(limit).await?;
        let line = self.buffer()[..span.content].to_vec();
        self.consume(span.total);
        Ok(line)
    }

    /// Discard input up to and including the next LF, however long the line is; memory stays
    /// bounded by the read chunk.
    pub async fn skip_line(&mut self) -> Result<(), NetError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.buffer()) {
                self.consume(i + 1);
                return Ok(());
            }
            self.discard_buffer();
            if self.fill().await? == 0 {
                return Err(NetError::Closed);
            }
        }
    }

    /// Exactly `n` bytes (BDAT chunks, POP3 octet counts), passed to `sink` piece by piece as
    /// they arrive, so a large chunk never needs one big buffer.
    pub async fn read_exact_with(
        &mut self,
        mut n: usize,
        mut sink: impl FnMut(&[u8]) -> Result<(), NetError>,
    ) -> Result<(), NetError> {
        while n > 0 {
            if self.buffer().is_empty() && self.fill().await? == 0 {
                return Err(NetError::Closed);
            }
            let take = n.min(self.buffer().len());
            sink(&self.buffer()[..take])?;
            self.consume(take);
            n -= take;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn reader(data: &'static [u8]) -> LineReader<&'static [u8]> {
        LineReader::new(data)
    }

    #[tokio::test]
    async fn lines_and_endings() {
        let mut r = reader(b"EHLO a\r\nMAIL FROM:<x>\nQUIT\r\n").await;
        assert_eq!(r.read_line(100).await.unwrap(), b"EHLO a");
        let span = r.peek_line(100).await.unwrap();
        assert!(!span.crlf);
        assert_eq!(r.read_line(100).await.unwrap(), b"MAIL FROM:<x>");
        assert_eq!(r.buffer(), b"QUIT\r\n");
        assert_eq!(r.read_line(100).await.unwrap(), b"QUIT");
        assert!(matches!(r.read_line(100).await, Err(NetError::Closed)));
    }

    #[tokio::test]
    async fn limits() {
        let mut r = reader(b"0123456789\r\nok\r\n").await;
        assert!(matches!(
            r.peek_line(8).await,
            Err(NetError::LineTooLong { limit: 8 })
        ));
        r.skip_line().await.unwrap();
        assert_eq!(r.read_line(8).await.unwrap(), b"ok");
        // exactly at the limit, line end included (RFC 5321 §4.5.3.1.6: 1000 with CRLF)
        let mut r = reader(b"12345\r\n").await;
        assert_eq!(r.read_line(7).await.unwrap(), b"12345");
    }

    #[tokio::test]
    async fn exact_reads_span_buffers() {
        let mut r = reader(b"abcdefghij").await;
        let mut got = Vec::new();
        r.read_exact_with(7, |b| {
            got.extend_from_slice(b);
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(got, b"abcdefg");
        assert_eq!(r.buffer(), b"hij");
    }

    /// A stream that never sends a line end.
    struct Endless;

    impl AsyncRead for Endless {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = buf.remaining();
            buf.put_slice(&vec![b'x'; n]);
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn an_endless_line_is_never_buffered_whole() {
        // Every reader of protocol lines stops at its limit; skipping the rest of such a line
        // reads it in pieces. A peer that never ends a line costs the limit, not its output.
        let mut r = LineReader::with_capacity(Endless, 1024);
        assert!(matches!(
            r.peek_line(12_288).await,
            Err(NetError::LineTooLong { limit: 12_288 })
        ));
        assert!(r.buf.len() <= 2 * 12_288 + READ_CHUNK, "{}", r.buf.len());
        let mut r = LineReader::new(Endless);
        for _ in 0..100 {
            r.discard_buffer();
            r.fill().await.unwrap();
        }
        assert!(r.buf.len() <= 2 * READ_CHUNK);
    }
}
