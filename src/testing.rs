//! What the unit tests of several modules share: the message corpus, reproducible
//! pseudo-random numbers and the mutations of the bounded fuzz tests (deterministic cousins
//! of the libFuzzer targets in `fuzz/`).

/// Every message of `tests/corpus/` (one folder per kind of message).
pub fn corpus_messages() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out = Vec::new();
    for kind in std::fs::read_dir(&dir).unwrap() {
        let kind = kind.unwrap().path();
        if kind.is_dir() {
            for f in std::fs::read_dir(kind).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "eml") {
                    out.push(std::fs::read(f).unwrap());
                }
            }
        }
    }
    out
}

/// xorshift64: the same numbers on every run, from a fixed non-zero seed.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

/// One random edit of `data`: a byte overwritten, one of `pieces` inserted, the rest cut off,
/// or up to `max_cut` bytes removed.
pub fn mutate(data: &mut Vec<u8>, pieces: &[&[u8]], max_cut: usize, rng: &mut XorShift) {
    let at = rng.next() % (data.len() + 1);
    match rng.next() % 4 {
        0 if !data.is_empty() => {
            let i = at.min(data.len() - 1);
            data[i] = rng.next() as u8;
        }
        1 => {
            let p = pieces[rng.next() % pieces.len()];
            data.splice(at..at, p.iter().copied());
        }
        2 => data.truncate(at),
        _ => {
            let end = (at + rng.next() % max_cut).min(data.len());
            data.drain(at..end);
        }
    }
}
