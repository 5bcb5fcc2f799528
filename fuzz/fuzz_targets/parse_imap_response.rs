//! Any byte stream read as IMAP server responses must frame and parse without a panic, the
//! same fed whole or piecewise, and every structure written back must read the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailprims::imap::response::exercise(data);
});
