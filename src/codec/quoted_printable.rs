//! Quoted-printable, RFC 2045 §6.7 (bodies) and the RFC 2047 §4.2 "Q" variant (headers).

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters, soft break included.
pub const MAX_LINE: usize = 76;

const SAFE: u8 = 0; // printable ASCII other than '=' (rule 2)
const WS: u8 = 1; // space and tab: literal unless they would end a line (rule 3)
const ENC: u8 = 2; // everything else is =XX

static CLASS: [u8; 256] = {
    let mut t = [ENC; 256];
    let mut b = 33;
    while b <= 126 {
        t[b] = SAFE;
        b += 1;
    }
    t[b'=' as usize] = ENC;
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t
};

// RFC 2047 §5 (3): the characters an encoded word may carry literally in any header position.
static HEADER_SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'!' | b'*' | b'+' | b'-' | b'/');
        b += 1;
    }
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Does any byte of `x` equal `b`? (exact; bit tricks from "Bit Twiddling Hacks")
#[inline(always)]
fn has_byte(x: u64, b: u8) -> bool {
    let v = x ^ (LO * b as u64);
    v.wrapping_sub(LO) & !v & HI != 0
}

#[inline(always)]
fn word(s: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Are all 8 bytes printable ASCII (0x20..=0x7e) other than '='? Then they are literal in a
/// quoted-printable body (space included: only a line's last byte matters for rule 3).
#[inline(always)]
fn all_literal(x: u64) -> bool {
    let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
    let above_tilde = (x.wrapping_add(LO) | x) & HI;
    below_space | above_tilde == 0 && !has_byte(x, b'=')
}

#[inline]
fn push_hex(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

/// Encode a body. In text mode (`binary == false`) CRLF and LF are hard line breaks and come
/// out as CRLF; in binary mode every CR and LF byte is encoded, so any bytes round-trip.
pub fn encode(input: &[u8], binary: bool) -> Vec<u8> {
    let mut out = crate::mem::vec_with_capacity(input.len() + input.len() / 4 + 16);
    if binary {
        encode_line(input, &mut out);
        return out;
    }
    let mut pos = 0;
    while pos < input.len() {
        let Some(k) = memchr::memchr(b'\n', &input[pos..]) else {
            encode_line(&input[pos..], &mut out);
            break;
        };
        let mut content = &input[pos..pos + k];
        if let Some(c) = content.strip_suffix(b"\r") {
            content = c;
        }
        encode_line(content, &mut out);
        out.extend_from_slice(b"\r\n");
        pos += k + 1;
    }
    out
}

/// Encode one line's content (no line break in it, or binary data), with soft breaks.
fn encode_line(line: &[u8], out: &mut Vec<u8>) {
    let n = line.len();
    if line == b"." {
        // A line holding only "." would end an SMTP DATA section that was not dot-stuffed.
        out.extend_from_slice(b"=2E");
        return;
    }
    // Rule 3: a line may not end in whitespace, so its last byte is encoded if it is one.
    let ws_tail = if n > 0 && CLASS[line[n - 1] as usize] == WS {
        n - 1
    } else {
        n
    };
    let mut col = 0usize;
    let mut i = 0;
    while i < n {
        // A run of bytes that stay literal.
        let mut j = i;
        while j + 8 <= ws_tail && all_literal(word(line, j)) {
            j += 8;
        }
        while j < ws_tail && CLASS[line[j] as usize] != ENC {
            j += 1;
        }
        while i < j {
            // Non-final content may use 75 columns, leaving one for the soft break; the
            // line's last character may take the 76th.
            let room = MAX_LINE - 1 - col;
            let take = j - i;
            if take <= room || (j == n && take == room + 1) {
                out.extend_from_slice(&line[i..j]);
                col += take;
                i = j;
            } else {
                out.extend_from_slice(&line[i..i + room]);
                out.extend_from_slice(b"=\r\n");
                col = 0;
                i += room;
            }
        }
        if i == n {
            break;
        }
        let limit = if i + 1 == n { MAX_LINE } else { MAX_LINE - 1 };
        if col + 3 > limit {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        push_hex(out, line[i]);
        col += 3;
        i += 1;
    }
}

/// The RFC 2047 "Q" encoding: space as `_`, only `A-Za-z0-9!*+-/` literal, no line breaks.
pub fn encode_header(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 3 / 2);
    for &b in input {
        if b == b' ' {
            out.push(b'_');
        } else if HEADER_SAFE[b as usize] {
            out.push(b);
        } else {
            push_hex(&mut out, b);
        }
    }
    out
}

/// Length of `encode_header(input)` without building it.
pub fn encoded_header_len(input: &[u8]) -> usize {
    input
        .iter()
        .map(|&b| {
            if b == b' ' || HEADER_SAFE[b as usize] {
                1
            } else {
                3
            }
        })
        .sum()
}

/// Decode. Lenient as mail needs: malformed `=` sequences stay literal, lowercase hex is
/// accepted, a soft break may carry trailing whitespace, and trailing whitespace on a line is
/// dropped (RFC 2045 §6.7 rule 3: transports add it). Line endings are kept as they are.
/// With `header`, `_` is a space (RFC 2047 §4.2).
pub fn decode(input: &[u8], header: bool) -> Vec<u8> {
    let mut out = crate::mem::zeroed(input.len());
    let n = decode_into(input, header, &mut out);
    out.truncate(n);
    out
}

// 0xff: not a hex digit. Lowercase is not RFC 2045 but common; decoders must accept it.
static HEX_VAL: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const D_PLAIN: u8 = 0;
const D_EQ: u8 = 1;
const D_LF: u8 = 2;
const D_UNDERSCORE: u8 = 3;

static DEC_CLASS: [u8; 256] = {
    let mut t = [D_PLAIN; 256];
    t[b'=' as usize] = D_EQ;
    t[b'\n' as usize] = D_LF;
    t[b'_' as usize] = D_UNDERSCORE;
    t
};

/// Number of spaces and tabs that end `s`.
#[inline]
fn trailing_ws(s: &[u8]) -> usize {
    s.iter()
        .rev()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// Decode into `out` (at least `input.len()` bytes; decoding never grows); returns the length.
///
/// Spaces are copied as they come and taken back when a line end shows they were trailing,
/// which keeps the loop free of look-ahead for the common case.
pub fn decode_into(input: &[u8], header: bool, out: &mut [u8]) -> usize {
    let n = input.len();
    let out = &mut out[..n];
    let mut w = 0;
    let mut i = 0;
    while i < n {
        // Plain bytes: eight at a time while no byte needs a look, then one at a time.
        while i + 8 <= n {
            let x = word(input, i);
            if has_byte(x, b'=') || has_byte(x, b'\n') || has_byte(x, b'_') {
                break;
            }
            out[w..w + 8].copy_from_slice(&input[i..i + 8]);
            w += 8;
            i += 8;
        }
        while i < n && DEC_CLASS[input[i] as usize] == D_PLAIN {
            out[w] = input[i];
            w += 1;
            i += 1;
        }
        if i == n {
            break;
        }
        match DEC_CLASS[input[i] as usize] {
            D_EQ => {
                let hi = input.get(i + 1).map_or(0xff, |&c| HEX_VAL[c as usize]);
                let lo = input.get(i + 2).map_or(0xff, |&c| HEX_VAL[c as usize]);
                if hi | lo != 0xff && hi < 16 && lo < 16 {
                    out[w] = (hi << 4) | lo;
                    w += 1;
                    i += 3;
                    continue;
                }
                // "=" then optional padding then a line end (or the end): a soft break.
                let after = i
                    + 1
                    + input[i + 1..]
                        .iter()
                        .take_while(|&&c| c == b' ' || c == b'\t')
                        .count();
                match input.get(after) {
                    // Everything after was consumed, so nothing trailing to take back.
                    None => return w,
                    Some(b'\n') => i = after + 1,
                    Some(b'\r') if input.get(after + 1) == Some(&b'\n') => i = after + 2,
                    _ => {
                        out[w] = b'=';
                        w += 1;
                        i += 1;
                    }
                }
            }
            D_LF => {
                // RFC 2045 §6.7 rule 3: whitespace ending a line was added in transport.
                let line = &input[..i];
                if line.last() == Some(&b'\r') {
                    w -= trailing_ws(&line[..i - 1]).min(w.saturating_sub(1));
                    out[w - 1] = b'\r';
                } else {
                    w -= trailing_ws(line).min(w);
                }
                out[w] = b'\n';
                w += 1;
                i += 1;
            }
            _ => {
                out[w] = if header { b' ' } else { b'_' };
                w += 1;
                i += 1;
            }
        }
    }
    w - trailing_ws(input).min(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> Vec<u8> {
        encode(s, false)
    }

    #[test]
    fn rules() {
        assert_eq!(enc(b"a=b"), b"a=3Db");
        assert_eq!(enc(b"caf\xc3\xa9"), b"caf=C3=A9");
        assert_eq!(enc(b"hello  \r\nworld "), b"hello =20\r\nworld=20");
        assert_eq!(enc(b"tab\t\nx"), b"tab=09\r\nx");
        assert_eq!(enc(b"."), b"=2E");
        assert_eq!(enc(b"a.\n.\nb"), b"a.\r\n=2E\r\nb");
        assert_eq!(enc(b"a\rb"), b"a=0Db");
        assert_eq!(encode(b"a\r\nb\n", true), b"a=0D=0Ab=0A");
    }

    #[test]
    fn line_length() {
        let long = vec![b'x'; 200];
        let e = enc(&long);
        for l in e.split(|&b| b == b'\n') {
            assert!(l.len() <= MAX_LINE + 1);
        }
        assert_eq!(&e[..78], [&[b'x'; 75][..], b"=\r\n"].concat());
        // exactly 76 characters before a hard break need no soft break
        let e = enc(&[b'y'; 76]);
        assert_eq!(e, vec![b'y'; 76]);
        // encoded triplets are never split
        let e = enc(&[0xffu8; 30]);
        for l in e.split(|&b| b == b'\n') {
            assert!(l.len() <= MAX_LINE + 1);
        }
        assert_eq!(decode(&e, false), vec![0xffu8; 30]);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(b"abc=\r\ndef", false), b"abcdef");
        assert_eq!(decode(b"abc=  \r\ndef", false), b"abcdef");
        assert_eq!(decode(b"a=3d=3Db", false), b"a==b");
        assert_eq!(decode(b"a=ZZb", false), b"a=ZZb");
        assert_eq!(decode(b"a=3", false), b"a=3");
        assert_eq!(decode(b"a=", false), b"a");
        assert_eq!(decode(b"abc   \r\ndef", false), b"abc\r\ndef");
        assert_eq!(decode(b"a\nb", false), b"a\nb");
        assert_eq!(decode(b"a_b", true), b"a b");
        assert_eq!(decode(b"a_b", false), b"a_b");
        assert_eq!(decode(b"=41=4", false), b"A=4");
        assert_eq!(decode(b"x= ", false), b"x");
        assert_eq!(decode(b"x=20 ", false), b"x ");
        assert_eq!(decode(b"  \r\n\t\n", false), b"\r\n\n");
        assert_eq!(decode(b"a \r b\n", false), b"a \r b\n");
        assert_eq!(decode(b"a=\r\n  \nb", false), b"a\nb");
    }

    #[test]
    fn header_variant() {
        assert_eq!(encode_header(b"a b_c=d?"), b"a_b=5Fc=3Dd=3F");
        assert_eq!(encoded_header_len(b"a b_c=d?"), 14);
        assert_eq!(decode(b"a_b=5Fc=3Dd=3F", true), b"a b_c=d?");
    }

    #[test]
    fn round_trip_all_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert_eq!(decode(&encode(&data, true), false), data);
        assert_eq!(decode(&encode_header(&data), true), data);
    }
}
