//! Address lists (RFC 5322 §3.4, obsolete forms §4.4): any bytes read without a panic, and
//! what the reader gives back survives formatting and reading again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::message::address::{format, parse_list, parse_list_checked};

fuzz_target!(|data: &[u8]| {
    let (list, _) = parse_list_checked(data);
    for a in &list {
        // A mailbox the reader produced, written back as a sender writes it, reads back as
        // the same name and address when both are plain enough to need no repair.
        if a.email.is_empty() || a.group.is_some() || a.name.contains(['\r', '\n', '\\', '"']) {
            continue;
        }
        let simple = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || " .-_+".contains(c))
                && !s.starts_with(['.', ' '])
                && !s.ends_with(['.', ' '])
                && !s.contains("  ")
                && !s.contains("..")
        };
        let (local, domain) = a.email.rsplit_once('@').unwrap_or(("", ""));
        if simple(&a.name)
            && !local.is_empty()
            && !domain.is_empty()
            && simple(local)
            && simple(domain)
            && !a.email.contains(' ')
        {
            let again = parse_list(format(&a.name, &a.email).as_bytes());
            assert_eq!(again.len(), 1, "{a:?}");
            assert_eq!((&again[0].name, &again[0].email), (&a.name, &a.email));
        }
    }
});
