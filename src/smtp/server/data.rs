//! Reading message data after DATA (RFC 5321 §4.1.1.4, §4.5.2) and BDAT chunks (RFC 3030).
//!
//! Only `CRLF . CRLF` ends DATA. A line ends at CRLF only, so a dot after a bare LF or a bare
//! CR is data, never a terminator, and never unstuffed: the SMTP smuggling attacks (SEC
//! Consult, December 2023; CVE-2023-51764/51765/51766) rely on a receiver that ends DATA at
//! `LF . LF` or `LF . CRLF` where the sender did not. Limits are applied while reading: past
//! the size limit nothing more is kept, and an over-long line is never buffered whole.

use std::time::Duration;

use tokio::time::Instant;

use tokio::io::AsyncRead;

use crate::net::{LineReader, NetError, with_timeout};

/// How long reading may wait: `each` for every read, and everything before `deadline` (the
/// whole transaction's), whichever ends first. A timeout of the deadline is reported as
/// `NetError::Timeout { during: deadline_name, .. }`.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub each: Duration,
    pub deadline: Option<Instant>,
    pub deadline_name: &'static str,
}

impl Wait {
    /// Only a limit per read.
    pub fn each(each: Duration) -> Self {
        Wait {
            each,
            deadline: None,
            deadline_name: "",
        }
    }

    async fn fill<S: AsyncRead + Unpin>(
        &self,
        lines: &mut LineReader<S>,
        during: &'static str,
    ) -> Result<usize, NetError> {
        let (limit, during) = match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left < self.each {
                    (left, self.deadline_name)
                } else {
                    (self.each, during)
                }
            }
            None => (self.each, during),
        };
        with_timeout(Some(limit), during, lines.fill()).await
    }
}

/// How a message's data ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataEnd {
    Complete,
    /// Larger than the limit: nothing kept (552).
    TooBig,
    /// A line longer than the limit (500).
    LineTooLong,
}

/// Read dot-stuffed data up to `CRLF.CRLF`, appending the unstuffed bytes to `content`.
/// `max_size` bounds the bytes appended by this call.
pub async fn read_data<S: AsyncRead + Unpin>(
    lines: &mut LineReader<S>,
    content: &mut Vec<u8>,
    max_size: Option<u64>,
    max_line: usize,
    wait: Wait,
) -> Result<DataEnd, NetError> {
    let base = content.len();
    let limit = max_size.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let mut size = 0usize;
    let mut status = DataEnd::Complete;
    // The previous CRLF ended a line, so the next byte starts one.
    let mut at_line_start = true;
    // Bytes of the current line already consumed (a long line read in pieces).
    let mut line_len = 0usize;
    // The last byte consumed of that partial line was CR.
    let mut prev_cr = false;

    let mut append = |bytes: &[u8], status: &mut DataEnd, content: &mut Vec<u8>| {
        size = size.saturating_add(bytes.len());
        if *status == DataEnd::Complete {
            if size > limit {
                *status = DataEnd::TooBig;
                content.truncate(base);
                content.shrink_to(base + 4096);
            } else {
                content.extend_from_slice(bytes);
            }
        }
    };

    loop {
        let buf = lines.buffer();
        let mut pos = 0;
        let mut run_start = 0;
        let mut finished = None;
        while let Some(off) = memchr::memchr(b'\n', &buf[pos..]) {
            let lf = pos + off;
            let line = &buf[pos..=lf];
            if at_line_start && line_len == 0 && line[0] == b'.' {
                append(&buf[run_start..pos], &mut status, content);
                if line == b".\r\n" {
                    finished = Some(lf + 1);
                    break;
                }
                run_start = pos + 1; // drop the stuffed dot
            }
            if line_len + line.len() > max_line && status == DataEnd::Complete {
                status = DataEnd::LineTooLong;
                content.truncate(base);
            }
            at_line_start = if lf > pos {
                buf[lf - 1] == b'\r'
            } else {
                line_len > 0 && prev_cr
            };
            line_len = 0;
            prev_cr = false;
            pos = lf + 1;
        }
        if let Some(end) = finished {
            lines.consume(end);
            return Ok(status);
        }
        append(&buf[run_start..pos], &mut status, content);
        let rest = &buf[pos..];
        if rest.len() >= max_line {
            // A line already too long: keep reading it in pieces, without buffering it.
            let skip = usize::from(at_line_start && line_len == 0 && rest[0] == b'.');
            append(&rest[skip..], &mut status, content);
            if status == DataEnd::Complete {
                status = DataEnd::LineTooLong;
                content.truncate(base);
            }
            line_len += rest.len();
            prev_cr = rest.last() == Some(&b'\r');
            let all = buf.len();
            lines.consume(all);
        } else {
            lines.consume(pos);
        }
        if wait.fill(lines, "receiving message data").await? == 0 {
            return Err(NetError::Closed);
        }
    }
}

/// Read a BDAT chunk of exactly `n` octets, appending it to `content` unless that would pass
/// `limit` total bytes in `content` (then it is read and dropped; returns false).
pub async fn read_chunk<S: AsyncRead + Unpin>(
    lines: &mut LineReader<S>,
    content: &mut Vec<u8>,
    mut n: u64,
    keep: bool,
    wait: Wait,
) -> Result<(), NetError> {
    while n > 0 {
        if lines.buffer().is_empty() && wait.fill(lines, "receiving a BDAT chunk").await? == 0 {
            return Err(NetError::Closed);
        }
        let avail = lines.buffer();
        let take = usize::try_from(n).unwrap_or(usize::MAX).min(avail.len());
        if keep {
            content.extend_from_slice(&avail[..take]);
        }
        lines.consume(take);
        n -= take as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(
        input: &'static [u8],
        max: Option<u64>,
    ) -> (Result<DataEnd, NetError>, Vec<u8>, Vec<u8>) {
        let mut r = LineReader::new(input);
        let mut content = Vec::new();
        let end = read_data(
            &mut r,
            &mut content,
            max,
            1000,
            Wait::each(Duration::from_secs(5)),
        )
        .await;
        let rest = r.buffer().to_vec();
        (end, content, rest)
    }

    #[tokio::test]
    async fn unstuffing_and_end() {
        let (end, content, rest) = read(b"a\r\n..b\r\n.\r\nQUIT\r\n", None).await;
        assert_eq!(end.unwrap(), DataEnd::Complete);
        assert_eq!(content, b"a\r\n.b\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        let (end, content, _) = read(b".\r\n", None).await;
        assert_eq!(end.unwrap(), DataEnd::Complete);
        assert!(content.is_empty());
    }

    #[tokio::test]
    async fn bare_lf_and_cr_dots_are_data() {
        // SMTP smuggling vectors: none of these end the data.
        for input in [
            &b"a\n.\nMAIL FROM:<x>\r\n.\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x>\r\n.\r\n",
            b"a\r\n.\nMAIL FROM:<x>\r\n.\r\n",
            b"a\r.\r\nMAIL FROM:<x>\r\n.\r\n",
            b"a\r\n.\rMAIL FROM:<x>\r\n.\r\n",
        ] {
            let mut r = LineReader::new(input);
            let mut content = Vec::new();
            let end = read_data(
                &mut r,
                &mut content,
                None,
                1000,
                Wait::each(Duration::from_secs(5)),
            )
            .await
            .unwrap();
            assert_eq!(end, DataEnd::Complete);
            assert!(r.buffer().is_empty(), "{input:?}");
            assert!(content.ends_with(b"MAIL FROM:<x>\r\n"), "{input:?}");
        }
    }

    #[tokio::test]
    async fn limits_apply_while_reading() {
        let (end, content, rest) =
            read(b"0123456789\r\n0123456789\r\n.\r\nNOOP\r\n", Some(15)).await;
        assert_eq!(end.unwrap(), DataEnd::TooBig);
        assert!(content.is_empty());
        assert_eq!(rest, b"NOOP\r\n");
        let long: &'static [u8] = Box::leak(
            [vec![b'x'; 5000], b"\r\n.\r\nNOOP\r\n".to_vec()]
                .concat()
                .into_boxed_slice(),
        );
        let (end, _, rest) = read(long, None).await;
        assert_eq!(end.unwrap(), DataEnd::LineTooLong);
        assert_eq!(rest, b"NOOP\r\n");
        // a long line ending in a bare LF does not make the next ".\r\n" a terminator
        let tricky: &'static [u8] = Box::leak(
            [vec![b'x'; 5000], b"\n.\r\nX\r\n.\r\n".to_vec()]
                .concat()
                .into_boxed_slice(),
        );
        let (end, _, rest) = read(tricky, None).await;
        assert_eq!(end.unwrap(), DataEnd::LineTooLong);
        assert!(rest.is_empty());
        let (end, _, _) = read(b"abc\r\n", None).await;
        assert!(matches!(end, Err(NetError::Closed)));
    }

    /// A reader that yields one byte at a time, each after `gap`.
    struct Trickle {
        gap: Duration,
        sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let gap = self.gap;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
            if sleep.as_mut().poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
            self.sleep = None;
            buf.put_slice(b"x");
            std::task::Poll::Ready(Ok(()))
        }
    }

    use std::future::Future;

    #[tokio::test]
    async fn a_deadline_for_the_whole_message() {
        // One byte every 20 ms never trips a 2 s wait per read: only the deadline ends it.
        let mut r = LineReader::new(Trickle {
            gap: Duration::from_millis(20),
            sleep: None,
        });
        let mut content = Vec::new();
        let start = Instant::now();
        let wait = Wait {
            each: Duration::from_secs(2),
            deadline: Some(start + Duration::from_millis(600)),
            deadline_name: "the transaction",
        };
        let end = read_data(&mut r, &mut content, None, 1000, wait).await;
        assert!(
            matches!(
                end,
                Err(NetError::Timeout {
                    during: "the transaction",
                    ..
                })
            ),
            "{end:?}"
        );
        assert!(start.elapsed() >= Duration::from_millis(600));
        assert!(
            r.buffer().len() > 5,
            "the bytes arrived (a partial line waits in the buffer)"
        );
        // BDAT chunks too.
        let mut content = Vec::new();
        let wait = Wait {
            deadline: Some(Instant::now() + Duration::from_millis(300)),
            ..wait
        };
        let end = read_chunk(&mut r, &mut content, 100_000, true, wait).await;
        assert!(matches!(
            end,
            Err(NetError::Timeout {
                during: "the transaction",
                ..
            })
        ));
        // Without a deadline only each wait is bounded, and a trickle goes on.
        let mut content = Vec::new();
        let wait = Wait::each(Duration::from_secs(2));
        read_chunk(&mut r, &mut content, 20, true, wait)
            .await
            .unwrap();
        assert_eq!(content.len(), 20);
    }
}
