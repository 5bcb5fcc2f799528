//! Base64 (RFC 4648 §4, standard alphabet with padding) as MIME uses it (RFC 2045 §6.8).
//!
//! Encoding and the strict decoder run on the `base64` crate's runtime-detected SIMD engine.
//! The lenient decoder is what a mail client needs: it skips line breaks, whitespace and
//! anything else outside the alphabet, accepts missing padding, and never fails.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::GeneralPurposeConfig;
use base64::engine::{DecodePaddingMode, Simd};

use super::CodecError;

/// RFC 2045 §6.8: encoded lines are at most 76 characters.
pub const MIME_LINE: usize = 76;

static STRICT: LazyLock<Simd> = LazyLock::new(|| Simd::standard(GeneralPurposeConfig::new()));

// Lenient engine for whole runs of alphabet characters: padding optional, stray low bits
// in the last symbol ignored (real encoders get this wrong).
static LENIENT: LazyLock<Simd> = LazyLock::new(|| {
    Simd::standard(
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
});

const INVALID: u8 = 0xff;
const PAD: u8 = 0xfe;

static DECODE_TABLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t[b'=' as usize] = PAD;
    t
};

/// Length of the encoding of `n` bytes, with CRLF between lines of `wrap` characters.
pub fn encoded_len(n: usize, wrap: Option<usize>) -> usize {
    let plain = n.div_ceil(3) * 4;
    match wrap {
        Some(w) if w > 0 && plain > 0 => plain + 2 * ((plain - 1) / w),
        _ => plain,
    }
}

/// Encode `input`, lines of `wrap` characters separated by CRLF (`None` or 0: one line).
pub fn encode(input: &[u8], wrap: Option<usize>) -> Vec<u8> {
    let mut out = crate::mem::zeroed(encoded_len(input.len(), wrap));
    encode_into(input, wrap, &mut out);
    out
}

/// Encode into `out`, which must be exactly `encoded_len(input.len(), wrap)` bytes long.
pub fn encode_into(input: &[u8], wrap: Option<usize>, out: &mut [u8]) {
    debug_assert_eq!(out.len(), encoded_len(input.len(), wrap));
    let wrap = match wrap {
        Some(w) if w > 0 && w < encoded_len(input.len(), None) => w,
        _ => {
            let n = encode_flat(input, out);
            debug_assert_eq!(n, out.len());
            return;
        }
    };
    if wrap % 4 == 0 {
        encode_wrapped_aligned(input, wrap, out);
    } else {
        // Lines that split a 4-character group: encode once, then cut into lines.
        let flat = encode(input, None);
        split_lines(&flat, wrap, out);
    }
}

/// Unwrapped encoding into a buffer sized by `encoded_len`, so it cannot run out of room.
fn encode_flat(input: &[u8], out: &mut [u8]) -> usize {
    STRICT.encode_slice(input, out).unwrap_or(0)
}

fn split_lines(flat: &[u8], wrap: usize, out: &mut [u8]) {
    let mut w = 0;
    for (i, line) in flat.chunks(wrap).enumerate() {
        if i > 0 {
            out[w..w + 2].copy_from_slice(b"\r\n");
            w += 2;
        }
        out[w..w + line.len()].copy_from_slice(line);
        w += line.len();
    }
}

/// Encode blocks of whole lines into a cache-sized scratch buffer with the SIMD engine, then
/// lay them out with CRLF: faster than encoding each 57-byte line on its own, which is too
/// short for the vector kernel.
fn encode_wrapped_aligned(input: &[u8], wrap: usize, out: &mut [u8]) {
    let line_in = wrap / 4 * 3;
    let lines_per_block = (4096 / wrap).max(1);
    let block_in = line_in * lines_per_block;
    let mut scratch = vec![0u8; block_in / 3 * 4];
    let mut w = 0;
    for block in input.chunks(block_in) {
        let n = encode_flat(block, &mut scratch[..block.len().div_ceil(3) * 4]);
        for line in scratch[..n].chunks(wrap) {
            if w > 0 {
                out[w..w + 2].copy_from_slice(b"\r\n");
                w += 2;
            }
            out[w..w + line.len()].copy_from_slice(line);
            w += line.len();
        }
    }
}

/// RFC 4648 decoding: only alphabet characters, canonical padding, no line breaks.
pub fn decode_strict(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    match STRICT.decode(input) {
        Ok(v) => Ok(v),
        Err(e) => Err(strict_error(input, e)),
    }
}

#[cold]
fn strict_error(input: &[u8], e: base64::DecodeError) -> CodecError {
    use base64::DecodeError as E;
    match e {
        E::InvalidByte(offset, byte) if byte == b'=' => {
            CodecError::at("base64", "misplaced padding", offset, Some(byte))
        }
        E::InvalidByte(offset, byte) => {
            CodecError::at("base64", "invalid character", offset, Some(byte))
        }
        E::InvalidLength(_) => CodecError::at(
            "base64",
            "input length is not a multiple of 4",
            input.len(),
            None,
        ),
        E::InvalidLastSymbol { offset, symbol, .. } => CodecError::at(
            "base64",
            "non-zero trailing bits in final symbol",
            offset,
            Some(symbol),
        ),
        E::InvalidPadding => {
            let offset = input.iter().position(|&b| b == b'=').unwrap_or(input.len());
            CodecError::at(
                "base64",
                "invalid padding",
                offset,
                input.get(offset).copied(),
            )
        }
    }
}

/// Upper bound of the decoded size of `n` input bytes.
pub fn decoded_len_estimate(n: usize) -> usize {
    n.div_ceil(4) * 3
}

/// Lenient decoding, never fails: skips everything outside the alphabet, stops after the
/// first complete padding (as `binascii.a2b_base64` does), tolerates missing padding and
/// drops a dangling single character.
pub fn decode_lenient(input: &[u8]) -> Vec<u8> {
    let mut out = crate::mem::zeroed(decoded_len_estimate(input.len()));
    let n = decode_lenient_into(input, &mut out);
    out.truncate(n);
    out
}

/// Is `b` one of the 64 alphabet characters? Branch-free, so loops over it vectorize.
#[inline]
fn is_symbol(b: u8) -> bool {
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26) | (b.wrapping_sub(b'0') < 10) | (b == b'+') | (b == b'/')
}

/// The number of bytes of `s` that are `wanted`, counted 32 byte-wide lanes at a time (about
/// 40 GB/s for line breaks; an iterator over `memchr` hits is several times slower at MIME
/// line lengths). Inlined, so each predicate gets its own vectorized loop.
#[inline(always)]
fn count_where(s: &[u8], wanted: impl Fn(u8) -> bool) -> usize {
    const LANES: usize = 32;
    let mut total = 0usize;
    // 255 rows at most, so no lane overflows.
    let mut blocks = s.chunks_exact(LANES * 255);
    for block in &mut blocks {
        let mut lanes = [0u8; LANES];
        for row in block.chunks_exact(LANES) {
            for (lane, &b) in lanes.iter_mut().zip(row) {
                *lane += u8::from(wanted(b));
            }
        }
        total += lanes.iter().map(|&n| usize::from(n)).sum::<usize>();
    }
    total + blocks.remainder().iter().filter(|&&b| wanted(b)).count()
}

/// The number of alphabet characters in `s`.
fn count_symbols(s: &[u8]) -> usize {
    count_where(s, is_symbol)
}

/// The number of CR and LF bytes in `s`.
fn count_line_breaks(s: &[u8]) -> usize {
    count_where(s, |b| (b == b'\r') | (b == b'\n'))
}

/// The exact length `decode_lenient` produces, without decoding: lets callers decode
/// straight into a buffer of the final size (such as a Python `bytes`).
pub fn decoded_len_lenient(input: &[u8]) -> usize {
    let mut n = 0usize;
    let mut pos = 0;
    loop {
        let eq = memchr::memchr(b'=', &input[pos..]).map_or(input.len(), |i| pos + i);
        n += count_symbols(&input[pos..eq]);
        if eq == input.len() {
            break;
        }
        if n % 4 >= 2 {
            return n / 4 * 3 + n % 4 - 1;
        }
        pos = eq + 1;
    }
    n / 4 * 3
        + match n % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// An upper bound of what `decode_lenient` produces, exact for well-formed MIME base64
/// (lines of symbols, final padding). It counts line breaks rather than symbols, which is
/// several times faster than `decoded_len_lenient`: callers decode into a buffer of this
/// size and keep the written prefix.
pub fn decoded_len_upper_bound(input: &[u8]) -> usize {
    let end = input
        .iter()
        .rposition(|&b| !matches!(b, b'=' | b'\r' | b'\n' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    let body = &input[..end];
    // Everything but CR and LF counts as a symbol, so this is never below the real count.
    let n = body.len() - count_line_breaks(body);
    n / 4 * 3
        + match n % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// Bytes gathered from lines before one call of the vector decoder (a multiple of 4;
/// small enough for the stack).
const RUN: usize = 8192;

/// How far `decode_chars` got.
#[derive(PartialEq, Eq)]
enum Flow {
    /// The input is used up; more may follow.
    More,
    /// Padding ended the data.
    End,
    /// `out` is full: the caller's size was too small.
    Full,
}

/// The one-character-at-a-time decoder that defines the lenient semantics: symbols fill
/// groups of four, padding after two or three symbols ends the data, anything else is
/// skipped.
fn decode_chars(
    input: &[u8],
    quad: &mut [u8; 4],
    qn: &mut usize,
    out: &mut [u8],
    w: &mut usize,
) -> Flow {
    for &b in input {
        let v = DECODE_TABLE[b as usize];
        if v < 64 {
            quad[*qn] = v;
            *qn += 1;
            if *qn == 4 {
                let Some(dst) = out.get_mut(*w..*w + 3) else {
                    return Flow::Full;
                };
                dst[0] = (quad[0] << 2) | (quad[1] >> 4);
                dst[1] = (quad[1] << 4) | (quad[2] >> 2);
                dst[2] = (quad[2] << 6) | quad[3];
                *w += 3;
                *qn = 0;
            }
        } else if v == PAD && *qn >= 2 {
            return match finish(quad, *qn, out, w) {
                true => Flow::End,
                false => Flow::Full,
            };
        }
    }
    Flow::More
}

/// Write the bytes of a partial group; `false` when `out` has no room for them.
fn finish(quad: &[u8; 4], qn: usize, out: &mut [u8], w: &mut usize) -> bool {
    let need = qn.saturating_sub(1);
    match out.get_mut(*w..*w + need) {
        Some(dst) => {
            *w += flush_partial(quad, qn, dst);
            true
        }
        None => false,
    }
}

/// Decode a run with the vector decoder when it is whole groups of symbols (final padding
/// allowed) and `out` has room to spare: the bytes written, and whether padding ended the
/// data. `None` otherwise (the caller then decodes it character by character).
fn decode_run(run: &[u8], out: &mut [u8]) -> Option<(usize, bool)> {
    if !run.len().is_multiple_of(4) || out.len() < run.len() / 4 * 3 + 16 {
        return None;
    }
    // The vector decoder rejects anything outside the alphabet and padding anywhere but at
    // the end, so success means the run decodes exactly as the character decoder would;
    // padding at the end ends the data for both.
    let n = LENIENT.decode_slice_unchecked(run, out).ok()?;
    Some((n, run.last() == Some(&b'=')))
}

/// Lenient decode into `out`, which holds at least `decoded_len_lenient(input)` bytes
/// (`decoded_len_estimate(input.len())` always suffices); returns the number of bytes
/// written.
pub fn decode_lenient_into(input: &[u8], out: &mut [u8]) -> usize {
    let n = decode_lenient_into_checked(input, out);
    debug_assert!(
        n.is_some(),
        "output buffer smaller than decoded_len_lenient"
    );
    n.unwrap_or(out.len())
}

/// Lenient decode into `out` of any size: the number of bytes written, or `None` when
/// `out` is too small (what it holds then is unspecified). Lets a caller try a size
/// guessed from the line layout (`decoded_len_guess`) before paying for an exact count.
///
/// Lines are gathered, without their line breaks and trailing whitespace, into runs of
/// several kilobytes for the vector decoder. The first run it refuses (padding, stray
/// characters, a group split by junk) and everything after it go through the character
/// decoder, which defines the semantics; dropping line ends changes nothing, since that
/// decoder skips them.
pub fn decode_lenient_into_checked(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut run = [0u8; RUN];
    let mut fill = 0usize;
    let mut w = 0usize;
    let mut pos = 0usize;
    let mut quad = [0u8; 4];
    let mut qn = 0usize;
    // MIME lines all have one length: guess where the next line ends before searching.
    // A wrong guess is harmless: a line break inside a run fails the vector decoder's
    // validation, and the character decoder skips line breaks anyway.
    let mut line_len = usize::MAX;
    while pos < input.len() {
        let guess = pos.saturating_add(line_len);
        let nl = match input.get(guess) {
            Some(b'\n') => guess,
            Some(b'\r') if input.get(guess + 1) == Some(&b'\n') => guess + 1,
            _ => {
                let nl = memchr::memchr(b'\n', &input[pos..]).map_or(input.len(), |i| pos + i);
                let content = if nl > pos && input[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                line_len = content - pos;
                nl
            }
        };
        let mut seg_end = nl;
        while seg_end > pos && matches!(input[seg_end - 1], b'\r' | b' ' | b'\t') {
            seg_end -= 1;
        }
        let mut rest = &input[pos..seg_end];
        pos = nl + 1;
        while !rest.is_empty() {
            // A long line (unwrapped base64) decodes where it is, without the copy.
            if fill == 0 && rest.len() >= RUN {
                let n = rest.len() / RUN * RUN;
                if let Some((k, end)) = decode_run(&rest[..n], &mut out[w..]) {
                    w += k;
                    if end {
                        return Some(w);
                    }
                    rest = &rest[n..];
                    continue;
                }
            }
            let take = (RUN - fill).min(rest.len());
            run[fill..fill + take].copy_from_slice(&rest[..take]);
            fill += take;
            rest = &rest[take..];
            if fill == RUN {
                if let Some((n, end)) = decode_run(&run, &mut out[w..]) {
                    w += n;
                    if end {
                        return Some(w);
                    }
                    fill = 0;
                    continue;
                }
                // From here on, one character at a time.
                let tail = input.get(pos..).unwrap_or_default();
                for piece in [&run[..], rest, tail] {
                    match decode_chars(piece, &mut quad, &mut qn, out, &mut w) {
                        Flow::More => {}
                        Flow::End => return Some(w),
                        Flow::Full => return None,
                    }
                }
                return finish(&quad, qn, out, &mut w).then_some(w);
            }
        }
    }
    let whole = fill / 4 * 4;
    let rest = match decode_run(&run[..whole], &mut out[w..]) {
        Some((n, end)) => {
            w += n;
            if end {
                return Some(w);
            }
            &run[whole..fill]
        }
        None => &run[..fill],
    };
    match decode_chars(rest, &mut quad, &mut qn, out, &mut w) {
        Flow::More => finish(&quad, qn, out, &mut w).then_some(w),
        Flow::End => Some(w),
        Flow::Full => None,
    }
}

/// The decoded size of `input` if it is laid out as MIME base64 usually is (lines of one
/// length, padding at the end), computed from the first line without reading the rest.
/// Only a guess: `decode_lenient_into_checked` says when it was too small.
pub fn decoded_len_guess(input: &[u8]) -> usize {
    let end = input
        .iter()
        .rposition(|&b| !matches!(b, b'=' | b'\r' | b'\n' | b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    let body = &input[..end];
    let n = match memchr::memchr(b'\n', body) {
        None => body.len(),
        Some(nl) => {
            let eol = if nl > 0 && body[nl - 1] == b'\r' {
                2
            } else {
                1
            };
            let stride = nl + 1;
            let line = stride - eol;
            body.len() / stride * line + (body.len() % stride).min(line)
        }
    };
    n / 4 * 3
        + match n % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

fn flush_partial(quad: &[u8; 4], qn: usize, out: &mut [u8]) -> usize {
    match qn {
        2 => {
            out[0] = (quad[0] << 2) | (quad[1] >> 4);
            1
        }
        3 => {
            out[0] = (quad[0] << 2) | (quad[1] >> 4);
            out[1] = (quad[1] << 4) | (quad[2] >> 2);
            2
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::XorShift;

    #[test]
    fn seed_examples() {
        // The textbook chapter's examples, from RFC 4648 §9.
        assert_eq!(
            encode(&[0x14, 0xfb, 0x9c, 0x03, 0xd9, 0x7e], None),
            b"FPucA9l+"
        );
        assert_eq!(encode(&[0x14], None), b"FA==");
        assert_eq!(encode(&[0x14, 0xfb], None), b"FPs=");
    }

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain, Some(76)), enc);
            assert_eq!(decode_strict(enc).unwrap(), plain);
            assert_eq!(decode_lenient(enc), plain);
        }
    }

    #[test]
    fn wrapping() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let out = encode(&data, Some(76));
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|l| l.len() == 77 && l.ends_with(b"\r"))
        );
        assert!(!out.ends_with(b"\r\n"));
        assert_eq!(decode_lenient(&out), data);
        for wrap in [1, 3, 4, 5, 64, 75, 76, 77, 1000, 2000] {
            let out = encode(&data, Some(wrap));
            assert_eq!(
                out.len(),
                encoded_len(data.len(), Some(wrap)),
                "wrap {wrap}"
            );
            assert!(
                out.split(|&b| b == b'\n').all(|l| l.len() <= wrap + 1),
                "wrap {wrap}"
            );
            assert_eq!(decode_lenient(&out), data, "wrap {wrap}");
        }
    }

    #[test]
    fn strict_errors_locate_the_byte() {
        let e = decode_strict(b"QUJD\r\nREVG").unwrap_err();
        assert_eq!((e.offset, e.byte), (Some(4), Some(b'\r')));
        let e = decode_strict(b"QUJ").unwrap_err();
        assert_eq!(e.offset, Some(3));
        let e = decode_strict(b"QR==").unwrap_err();
        assert_eq!((e.offset, e.byte), (Some(1), Some(b'R')));
        let e = decode_strict(b"Q=JD").unwrap_err();
        assert_eq!(e.byte, Some(b'='));
    }

    /// The lenient semantics, one character at a time: the reference for the fast paths.
    fn reference(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut quad = [0u8; 4];
        let mut qn = 0;
        for &b in input {
            let v = DECODE_TABLE[b as usize];
            if v < 64 {
                quad[qn] = v;
                qn += 1;
                if qn == 4 {
                    out.extend_from_slice(&[
                        (quad[0] << 2) | (quad[1] >> 4),
                        (quad[1] << 4) | (quad[2] >> 2),
                        (quad[2] << 6) | quad[3],
                    ]);
                    qn = 0;
                }
            } else if v == PAD && qn >= 2 {
                break;
            }
        }
        let mut tail = [0u8; 2];
        let n = flush_partial(&quad, qn, &mut tail);
        out.extend_from_slice(&tail[..n]);
        out
    }

    #[test]
    fn fast_paths_match_the_reference() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        let data: Vec<u8> = (0..40_000).map(|_| next() as u8).collect();
        let lines = encode(&data, Some(76));
        let one_line = encode(&data, None);
        // Clean input, then the same with damage at random places; MIME lines and one
        // long line (which takes the no-copy path).
        for round in 0..600 {
            let clean = if round % 2 == 0 { &lines } else { &one_line };
            let mut input = clean[..(next() % clean.len())].to_vec();
            if round > 1 {
                for _ in 0..(next() % 4) {
                    let at = next() % (input.len() + 1);
                    let junk = [b'=', b'!', b' ', b'\n', b'-', b'A'][next() % 6];
                    input.insert(at, junk);
                }
            }
            let want = reference(&input);
            assert_eq!(decode_lenient(&input), want, "round {round}");
            assert_eq!(decoded_len_lenient(&input), want.len(), "round {round}");
            let mut exact = vec![0u8; want.len()];
            assert_eq!(decode_lenient_into(&input, &mut exact), want.len());
            assert_eq!(exact, want, "round {round}");
            let bound = decoded_len_upper_bound(&input);
            assert!(bound >= want.len(), "round {round}");
            if round < 2 {
                assert_eq!(bound, want.len(), "clean input: the bound is exact");
            }
            let mut big = vec![0u8; bound];
            assert_eq!(decode_lenient_into(&input, &mut big), want.len());
            assert_eq!(&big[..want.len()], &want[..], "round {round}");
            // A buffer one byte short is refused, never overrun.
            if !want.is_empty() {
                let mut short = vec![0u8; want.len() - 1];
                assert_eq!(decode_lenient_into_checked(&input, &mut short), None);
            }
            let guess = decoded_len_guess(&input);
            if round < 2 {
                assert_eq!(guess, want.len(), "clean input: the guess is exact");
            }
            let mut guessed = vec![0u8; guess];
            match decode_lenient_into_checked(&input, &mut guessed) {
                Some(n) => assert_eq!(&guessed[..n], &want[..], "round {round}"),
                None => assert!(guess < want.len(), "round {round}"),
            }
        }
    }

    #[test]
    fn padding_at_the_end_of_a_run_ends_the_data() {
        // A vector-decoder run that ends in padding, with more data after it: the data
        // ends at the padding, as the character decoder says.
        for tail in [&b"QQ=="[..], b"QUI=", b"QQ=A", b"Q===", b"===="] {
            for lead in [RUN - 4, 2 * RUN - 4, RUN + 76 - 4] {
                let mut input = vec![b'A'; lead];
                input.extend_from_slice(tail);
                input.extend_from_slice(b"\nQUJD\n");
                let want = reference(&input);
                assert_eq!(decode_lenient(&input), want, "{lead} {tail:?}");
                let mut exact = vec![0u8; want.len()];
                assert_eq!(
                    decode_lenient_into_checked(&input, &mut exact),
                    Some(want.len())
                );
                assert_eq!(exact, want);
            }
        }
    }

    #[test]
    fn exact_length_matches_decoding() {
        // A fixed pseudo-random mix of alphabet, padding, line breaks and junk.
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let symbols = b"QUJDREVGabcz09+/====\r\n\n  \t!-*";
        for len in 0..600 {
            let input: Vec<u8> = (0..len)
                .map(|_| symbols[rng.next() % symbols.len()])
                .collect();
            let decoded = decode_lenient(&input);
            assert_eq!(decoded_len_lenient(&input), decoded.len(), "{input:?}");
            let mut exact = vec![0u8; decoded.len()];
            assert_eq!(decode_lenient_into(&input, &mut exact), decoded.len());
            assert_eq!(exact, decoded);
        }
        let mime = encode(&[7u8; 1000], Some(76));
        assert_eq!(decoded_len_lenient(&mime), 1000);
        let mut exact = vec![0u8; 1000];
        decode_lenient_into(&mime, &mut exact);
        assert_eq!(exact, vec![7u8; 1000]);
    }

    #[test]
    fn lenient() {
        assert_eq!(decode_lenient(b"QUJD\r\nREVG"), b"ABCDEF");
        assert_eq!(decode_lenient(b"QUJD \t\nRE VG\n"), b"ABCDEF");
        assert_eq!(decode_lenient(b"QQ==QQ=="), b"A");
        assert_eq!(decode_lenient(b"QQ="), b"A");
        assert_eq!(decode_lenient(b"QQ"), b"A");
        assert_eq!(decode_lenient(b"QUI"), b"AB");
        assert_eq!(decode_lenient(b"Q"), b"");
        assert_eq!(decode_lenient(b"Q!Q=="), b"A");
        assert_eq!(decode_lenient(b"=QQ=="), b"A");
        assert_eq!(decode_lenient(b"QR=="), b"A");
        assert_eq!(decode_lenient(b""), b"");
        assert_eq!(decode_lenient(b"\r\n\r\n"), b"");
    }
}
