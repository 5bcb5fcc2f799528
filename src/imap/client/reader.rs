//! Reading whole response frames from the connection. Literals of [`DETACH_AT`] octets or
//! more (message bodies) are read into their own buffer of the exact size, which the parser
//! then moves into the result: a 50 MiB message is never copied out of a growing receive
//! buffer, and the receive buffer stays small.
//!
//! Cancel-safe: everything read so far is kept in the reader, so a read dropped half-way (a
//! timeout while idling, a cancelled task) resumes where it stopped.

use std::time::Duration;

use crate::imap::frame::{FrameError, FrameLimits, FrameScanner, Scan, Side};
use crate::net::{LineReader, NetError, Stream, with_timeout};

/// Literals this large or larger are read out of line.
pub const DETACH_AT: u64 = 1024;
/// First allocation for a literal out of line; larger ones grow as data arrives (a server
/// announcing a huge literal and sending nothing costs nothing).
const FIRST_ALLOCATION: u64 = 64 << 20;

/// One response: its text (literals under [`DETACH_AT`] in line) and the other literals,
/// each with the offset in `text` where its data would start.
#[derive(Debug, Default)]
pub struct Frame {
    pub text: Vec<u8>,
    pub detached: Vec<(usize, Vec<u8>)>,
}

struct Partial {
    at: usize,
    data: Vec<u8>,
    left: u64,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum ReadError {
    Net(NetError),
    Frame(FrameError),
}

impl From<NetError> for ReadError {
    fn from(e: NetError) -> Self {
        ReadError::Net(e)
    }
}

pub struct FrameReader {
    scanner: FrameScanner,
    text: Vec<u8>,
    detached: Vec<(usize, Vec<u8>)>,
    /// Octets of the literals of this frame read out of line (bounded by the literal limit:
    /// many literals in one response must not add up to more than one may be).
    detached_total: u64,
    partial: Option<Partial>,
}

impl FrameReader {
    pub fn new(limits: FrameLimits) -> Self {
        FrameReader {
            scanner: FrameScanner::new(Side::Responses, limits),
            text: Vec::new(),
            detached: Vec::new(),
            detached_total: 0,
            partial: None,
        }
    }

    /// Forget a partly read frame (after the connection is replaced, at STARTTLS).
    pub fn reset(&mut self) {
        self.scanner.reset();
        self.text.clear();
        self.detached.clear();
        self.detached_total = 0;
        self.partial = None;
    }

    async fn fill(
        lines: &mut LineReader<Stream>,
        timeout: Option<Duration>,
    ) -> Result<(), NetError> {
        let n = with_timeout(timeout, "waiting for the server's response", lines.fill()).await?;
        if n == 0 {
            return Err(NetError::Closed);
        }
        Ok(())
    }

    /// The next whole frame. `timeout` bounds each network read, not the whole frame.
    pub async fn read(
        &mut self,
        lines: &mut LineReader<Stream>,
        timeout: Option<Duration>,
    ) -> Result<Frame, ReadError> {
        loop {
            if let Some(p) = &mut self.partial {
                if lines.buffer().is_empty() {
                    Self::fill(lines, timeout).await?;
                    continue;
                }
                let buf = lines.buffer();
                let take = (buf.len() as u64).min(p.left) as usize;
                if p.data.capacity() - p.data.len() < take {
                    // Grow by what is left, at most doubling: amortised, and never more than
                    // the literal needs.
                    let grow = p.left.min(p.data.len().max(1 << 20) as u64) as usize;
                    p.data.reserve_exact(grow.max(take));
                }
                p.data.extend_from_slice(&buf[..take]);
                lines.consume(take);
                p.left -= take as u64;
                if p.left == 0 {
                    if let Some(p) = self.partial.take() {
                        self.detached.push((p.at, p.data));
                    }
                    self.scanner.literal_taken();
                }
                continue;
            }
            match self
                .scanner
                .scan(lines.buffer())
                .map_err(ReadError::Frame)?
            {
                Scan::Incomplete => Self::fill(lines, timeout).await?,
                Scan::Literal { header, data_start } if header.size >= DETACH_AT => {
                    let limit = self.scanner.limits().max_literal;
                    self.detached_total = self.detached_total.saturating_add(header.size);
                    if self.detached_total > limit {
                        return Err(ReadError::Frame(FrameError::LiteralTooLarge {
                            size: self.detached_total,
                            limit,
                        }));
                    }
                    self.text.extend_from_slice(&lines.buffer()[..data_start]);
                    lines.consume(data_start);
                    self.partial = Some(Partial {
                        at: self.text.len(),
                        data: Vec::with_capacity(header.size.min(FIRST_ALLOCATION) as usize),
                        left: header.size,
                    });
                }
                Scan::Literal { .. } => {}
                Scan::Complete { end } => {
                    self.text.extend_from_slice(&lines.buffer()[..end]);
                    lines.consume(end);
                    self.scanner.reset();
                    self.detached_total = 0;
                    return Ok(Frame {
                        text: std::mem::take(&mut self.text),
                        detached: std::mem::take(&mut self.detached),
                    });
                }
            }
        }
    }
}
