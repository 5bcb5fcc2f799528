//! POP3 responses (RFC 1939 §3, RFC 2449 §8): status lines read without a panic, and the
//! multi-line encoder writes exactly the byte-stuffed CRLF form of any message, however it is
//! cut into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::pop3::response::{self, BodyEncoder, Status};

/// The multi-line form, written plainly: bare LF to CRLF, a final line end, dots doubled at
/// line starts, the `.` terminator.
fn reference(data: &[u8]) -> Vec<u8> {
    let mut crlf = Vec::with_capacity(data.len() + 8);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    if !crlf.is_empty() && !crlf.ends_with(b"\n") {
        crlf.extend_from_slice(if crlf.ends_with(b"\r") {
            b"\n"
        } else {
            b"\r\n"
        });
    }
    let mut out = Vec::with_capacity(crlf.len() + 8);
    let mut at_start = true;
    for &b in &crlf {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

fuzz_target!(|data: &[u8]| {
    let _ = Status::parse(data);
    let _ = response::continuation(data);
    let first = data.first().copied().unwrap_or(0) as u64;
    let _ = response::top(data, first % 8);
    let bare_lf = data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || data[i - 1] != b'\r'))
        .count();
    assert_eq!(response::crlf_size(data), (data.len() + bare_lf) as u64);

    let expected = reference(data);
    let mut whole = Vec::new();
    response::encode_body(data, &mut whole);
    assert_eq!(whole, expected);
    // The same in chunks cut where the input says.
    let mut enc = BodyEncoder::new();
    let mut chunked = Vec::new();
    let mut rest = data;
    let mut step = 1 + first as usize % 7;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        enc.feed(&rest[..n], &mut chunked);
        rest = &rest[n..];
        step = step % 7 + 1;
    }
    enc.finish(&mut chunked);
    assert_eq!(chunked, expected);
});
