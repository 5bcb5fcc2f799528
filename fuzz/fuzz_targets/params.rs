//! MIME parameters (RFC 2045 §5.1, RFC 2231): any header bytes parse without a panic, and a
//! formatted parameter (RFC 2231 sections for long or non-ASCII values) parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::codec::params;

fuzz_target!(|data: &[u8]| {
    let p = params::parse_bytes(data);
    let _ = (p.main_type(), p.sub_type(), p.get("filename"));
    if let Ok(value) = std::str::from_utf8(data) {
        let _ = params::parse(value);
        if let Ok(formatted) = params::encode("filename", value, "utf-8") {
            assert!(!formatted.contains(['\r', '\n']));
            let back = params::parse(&format!("attachment; {formatted}"));
            assert_eq!(back.get("filename"), Some(value), "{formatted}");
        }
    }
});
