//! SMTP replies (RFC 5321 §4.2, RFC 3463 enhanced codes): any lines a server sends are read
//! without a panic, and an EHLO reply's extensions are read from whatever it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::smtp::reply::{self, Extensions, Reply};

fuzz_target!(|data: &[u8]| {
    let lines: Vec<Vec<u8>> = data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .take(reply::MAX_REPLY_LINES)
        .collect();
    for l in &lines {
        if let Ok((code, _last, _text)) = reply::parse_line(l) {
            let _ = reply::split_enhanced(code, &String::from_utf8_lossy(l));
        }
    }
    if let Ok(r) = Reply::from_lines(&lines) {
        assert_eq!(r.lines.len(), lines.len());
        let _ = (r.text(), r.to_string(), r.is_positive(), r.is_permanent());
        let ext = Extensions::from_ehlo(&r);
        let _ = (
            ext.size_limit(),
            ext.auth_mechanisms(),
            ext.has("PIPELINING"),
        );
        for (k, v) in ext.iter() {
            let _ = (k, v, ext.params(k));
        }
    }
});
