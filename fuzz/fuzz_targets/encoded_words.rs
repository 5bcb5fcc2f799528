//! RFC 2047 encoded words: any header bytes decode without a panic, and any text encodes
//! into words that decode back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailprims::codec::encoded_word;

fuzz_target!(|data: &[u8]| {
    let _ = encoded_word::decode_bytes(data);
    let _ = encoded_word::unknown_charset(data);
    let escaped = encoded_word::escape_raw_bytes(data);
    assert!(escaped.len() >= data.len());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = encoded_word::decode(text);
        // Encoding: the first character picks a charset, the rest is the text.
        let mut chars = text.chars();
        let first = chars.next().map_or(0, |c| c as u32);
        let rest = chars.as_str();
        let (label, text) = match first % 4 {
            1 => ("iso-8859-1", rest),
            2 => ("koi8-r", rest),
            3 => ("iso-2022-jp", rest),
            _ => ("utf-8", text),
        };
        if let Ok(words) = encoded_word::encode(text, label) {
            for w in words.split(' ') {
                assert!(w.len() <= encoded_word::MAX_WORD, "{w}");
                assert!(w.bytes().all(|b| b.is_ascii_graphic()), "{w}");
            }
            assert_eq!(encoded_word::decode(&words), text, "{words}");
        }
    }
});
