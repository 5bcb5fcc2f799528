//! POP3 command lines (RFC 1939, RFC 2449, RFC 5034): the server's parser reads any line
//! without a panic; the client's formatter never lets an argument end the line early.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::pop3::command::{Command, format};

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let _ = cmd.keyword();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let args: Vec<&str> = text.splitn(3, '\u{1}').collect();
        for last_may_have_spaces in [false, true] {
            if let Ok(line) = format("USER", &args, last_may_have_spaces) {
                // One line: the only line break is the final CRLF.
                assert!(line.ends_with(b"\r\n"));
                let body = &line[..line.len() - 2];
                assert!(!body.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)));
            }
        }
    }
});
