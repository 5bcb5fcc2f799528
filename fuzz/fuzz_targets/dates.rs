//! Dates (RFC 5322 §3.3, §4.3): any bytes read without a panic; a date read is a real one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::message::date;

fuzz_target!(|data: &[u8]| {
    if let Some(d) = date::parse(data) {
        assert!(d.is_valid(), "{d:?}");
        // The same date written in RFC 5322 form reads back the same.
        let sign = if d.offset < 0 || d.zone_unknown {
            '-'
        } else {
            '+'
        };
        let off = d.offset.unsigned_abs();
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        if d.year >= 1000 {
            let text = format!(
                "{} {} {} {:02}:{:02}:{:02} {sign}{:02}{:02}",
                d.day,
                MONTHS[d.month as usize - 1],
                d.year,
                d.hour,
                d.minute,
                d.second,
                off / 3600,
                off % 3600 / 60
            );
            assert_eq!(date::parse(text.as_bytes()), Some(d), "{text}");
        }
    }
});
