//! Any input must parse, and every field, part, payload and attached message must read,
//! without a panic (a panic would reach Python as PanicException).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailprims::message::exercise(data);
});
