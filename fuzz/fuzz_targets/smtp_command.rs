//! SMTP command lines (RFC 5321 §4.1): the server's parser reads any line without a panic,
//! and what the client writes into a command never carries a line break (no injection).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::smtp::{command as client, server::command as server};

fuzz_target!(|data: &[u8]| {
    if let Some(cmd) = server::parse(data) {
        if let server::Command::Mail { path, params } | server::Command::Rcpt { path, params } = cmd
        {
            let _ = server::params(params);
            for allow in [false, true] {
                if let Ok(mailbox) = server::mailbox(path, allow) {
                    let _ = (server::domain_of(mailbox), server::local_part_of(mailbox));
                }
            }
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let no_break = |s: &str| !s.contains(['\r', '\n', '\0']);
    for allow_null in [false, true] {
        if let Ok(addr) = client::envelope_address(text, allow_null) {
            assert!(no_break(&addr), "{addr:?}");
            let line = client::mail_from(&addr, &[]);
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        }
    }
    for utf8 in [false, true] {
        if client::check_param(text, utf8).is_ok() {
            assert!(no_break(text) && !text.contains(' '), "{text:?}");
        }
    }
    let x = client::xtext(text);
    assert!(x.bytes().all(|b| (33..=126).contains(&b)));
    let _ = mailprims::message::address::domain_of(text);
});
