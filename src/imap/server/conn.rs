//! One client connection's bytes: what was received and not yet used, and the responses
//! waiting to be sent. Both buffers start small and shrink back after a large command or
//! response, so an idle session (a thousand in IDLE) costs little memory.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{NetError, Stream, with_timeout};

/// Receive buffer capacity while idle.
const SMALL_IN: usize = 512;
/// Send buffer capacity kept after a flush.
const SMALL_OUT: usize = 1024;
/// Responses are sent once this much is queued, even mid-command.
pub const FLUSH_AT: usize = 64 * 1024;

pub struct Conn {
    stream: Stream,
    input: Vec<u8>,
    /// `input[..start]` was used.
    start: usize,
    pub out: Vec<u8>,
    /// Longest wait for the client to take a response.
    write_timeout: Duration,
}

impl Conn {
    pub fn new(stream: Stream, write_timeout: Duration) -> Conn {
        Conn {
            stream,
            input: Vec::with_capacity(SMALL_IN),
            start: 0,
            out: Vec::new(),
            write_timeout,
        }
    }

    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Received bytes not used yet.
    pub fn buffered(&self) -> &[u8] {
        &self.input[self.start..]
    }

    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.input.len());
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
            if self.input.capacity() > 4 * SMALL_IN {
                self.input = Vec::with_capacity(SMALL_IN);
            }
        }
    }

    /// Read more from the client (0: it closed the connection). The buffer grows as a frame
    /// needs; what limits a frame is the caller's scanner.
    pub async fn fill(&mut self) -> Result<usize, NetError> {
        if self.start > 0 && self.input.len() == self.input.capacity() {
            self.input.drain(..self.start);
            self.start = 0;
        }
        if self.input.len() == self.input.capacity() {
            let more = self.input.capacity().clamp(SMALL_IN, 64 * 1024);
            self.input.reserve(more);
        }
        let n = self
            .stream
            .read_buf(&mut self.input)
            .await
            .map_err(NetError::from)?;
        Ok(n)
    }

    /// Send what is queued.
    pub async fn flush(&mut self) -> Result<(), NetError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let stream = &mut self.stream;
        let out = &self.out;
        let write = async {
            stream.write_all(out).await?;
            stream.flush().await?;
            Ok::<_, NetError>(())
        };
        with_timeout(Some(self.write_timeout), "sending a response", write).await?;
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out = Vec::with_capacity(SMALL_OUT);
        } else if self.out.capacity() > SMALL_OUT * 8 {
            self.out.shrink_to(SMALL_OUT);
        }
        Ok(())
    }

    /// Send `data` after what is queued, without copying it into the queue when large.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), NetError> {
        if data.len() < 16 * 1024 {
            self.out.extend_from_slice(data);
            if self.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
            return Ok(());
        }
        self.flush().await?;
        let stream = &mut self.stream;
        with_timeout(Some(self.write_timeout), "sending a response", async {
            stream.write_all(data).await.map_err(NetError::from)
        })
        .await
    }

    /// Flush when a lot is queued.
    pub async fn maybe_flush(&mut self) -> Result<(), NetError> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// The stream for a TLS handshake; refused when the client sent more after STARTTLS
    /// (plaintext injected before the handshake: RFC 9051 §11.1, CVE-2011-0411).
    pub fn into_stream(self) -> Result<Stream, usize> {
        let pending = self.input.len() - self.start;
        if pending > 0 {
            Err(pending)
        } else {
            Ok(self.stream)
        }
    }

    /// Close the sending side and read (and drop) what the client still sends for a moment:
    /// closing with unread input makes the kernel send a reset, which can destroy the last
    /// responses before the client reads them.
    pub async fn close(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
        self.input.clear();
        self.start = 0;
        let drain = async {
            let mut total = 0usize;
            let mut scratch = [0u8; 4096];
            while total < (1 << 20) {
                match self.stream.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }
}
