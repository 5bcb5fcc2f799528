//! Sequence sets (RFC 9051 §9 `sequence-set`): message numbers or UIDs as ranges, with `*`
//! for the largest number in use. Commands write them, responses carry them (COPYUID,
//! APPENDUID, ESEARCH ALL, VANISHED, MODIFIED), and the server parses them from commands.

use std::fmt;
use std::str::FromStr;

/// One end of a range: a number, or `*` (the largest number in the mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    Value(u32),
    Largest,
}

impl SeqNumber {
    /// The number, with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(n) => n,
            SeqNumber::Largest => largest,
        }
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNumber::Value(n) => write!(f, "{n}"),
            SeqNumber::Largest => f.write_str("*"),
        }
    }
}

/// `start:end` (or a single number when both are equal). The order of the ends does not
/// matter (RFC 9051 §9: `4:2` is `2:4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    pub start: SeqNumber,
    pub end: SeqNumber,
}

impl SeqRange {
    /// The range's lowest and highest number, `*` standing for `largest`.
    pub fn bounds(&self, largest: u32) -> (u32, u32) {
        let a = self.start.resolve(largest);
        let b = self.end.resolve(largest);
        (a.min(b), a.max(b))
    }
}

/// A non-empty list of ranges, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet {
    ranges: Vec<SeqRange>,
}

/// Why a sequence set was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceError {
    /// Empty text, or a list of no numbers.
    Empty,
    /// Not `sequence-set` syntax; `at` is the offending offset.
    Syntax { at: usize },
    /// Zero is not a message number or UID.
    Zero,
    /// Expanding the set would give more than `limit` numbers.
    TooMany { limit: usize },
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceError::Empty => f.write_str("empty sequence set"),
            SequenceError::Syntax { at } => write!(f, "bad sequence set at offset {at}"),
            SequenceError::Zero => f.write_str("0 is not a valid message number or UID"),
            SequenceError::TooMany { limit } => {
                write!(f, "sequence set has more than {limit} numbers")
            }
        }
    }
}

impl std::error::Error for SequenceError {}

impl SequenceSet {
    /// A set of the given ranges (at least one).
    pub fn from_ranges(ranges: Vec<SeqRange>) -> Result<Self, SequenceError> {
        if ranges.is_empty() {
            return Err(SequenceError::Empty);
        }
        for r in &ranges {
            if r.start == SeqNumber::Value(0) || r.end == SeqNumber::Value(0) {
                return Err(SequenceError::Zero);
            }
        }
        Ok(SequenceSet { ranges })
    }

    /// `1:*`: every message.
    pub fn all() -> Self {
        SequenceSet {
            ranges: vec![SeqRange {
                start: SeqNumber::Value(1),
                end: SeqNumber::Largest,
            }],
        }
    }

    /// One number.
    pub fn single(n: u32) -> Result<Self, SequenceError> {
        Self::range(n, n)
    }

    /// `start:end`.
    pub fn range(start: u32, end: u32) -> Result<Self, SequenceError> {
        Self::from_ranges(vec![SeqRange {
            start: SeqNumber::Value(start),
            end: SeqNumber::Value(end),
        }])
    }

    /// The given numbers, consecutive runs written as ranges (`1,2,3,7` is `1:3,7`), in the
    /// order given; the wire form is the shortest for sorted input.
    pub fn from_numbers(numbers: &[u32]) -> Result<Self, SequenceError> {
        let mut ranges: Vec<SeqRange> = Vec::new();
        let mut run: Option<(u32, u32)> = None;
        for &n in numbers {
            if n == 0 {
                return Err(SequenceError::Zero);
            }
            run = match run {
                Some((a, b)) if b.checked_add(1) == Some(n) => Some((a, n)),
                Some((a, b)) => {
                    ranges.push(Self::span(a, b));
                    Some((n, n))
                }
                None => Some((n, n)),
            };
        }
        if let Some((a, b)) = run {
            ranges.push(Self::span(a, b));
        }
        Self::from_ranges(ranges)
    }

    fn span(a: u32, b: u32) -> SeqRange {
        SeqRange {
            start: SeqNumber::Value(a),
            end: SeqNumber::Value(b),
        }
    }

    pub fn ranges(&self) -> &[SeqRange] {
        &self.ranges
    }

    /// Whether `*` appears.
    pub fn has_largest(&self) -> bool {
        self.ranges
            .iter()
            .any(|r| r.start == SeqNumber::Largest || r.end == SeqNumber::Largest)
    }

    /// Whether `n` is in the set, `*` standing for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.ranges.iter().any(|r| {
            let (a, b) = r.bounds(largest);
            (a..=b).contains(&n)
        })
    }

    /// How many numbers the ranges cover (duplicates counted), `*` standing for `largest`.
    pub fn count(&self, largest: u32) -> u64 {
        self.ranges
            .iter()
            .map(|r| {
                let (a, b) = r.bounds(largest);
                u64::from(b - a) + 1
            })
            .sum()
    }

    /// Every number in order of the ranges, each range ascending, `*` standing for
    /// `largest`; refused if that would be more than `limit` numbers (a server's `1:4294967295`
    /// must not become sixteen gigabytes).
    pub fn expand(&self, largest: u32, limit: usize) -> Result<Vec<u32>, SequenceError> {
        let total = self.count(largest);
        if total > limit as u64 {
            return Err(SequenceError::TooMany { limit });
        }
        let mut out = Vec::with_capacity(total as usize);
        for r in &self.ranges {
            let (a, b) = r.bounds(largest);
            out.extend(a..=b);
        }
        Ok(out)
    }

    /// Parse the wire form. Strict: no spaces, no zero, no empty elements.
    pub fn parse(text: &[u8]) -> Result<Self, SequenceError> {
        if text.is_empty() {
            return Err(SequenceError::Empty);
        }
        let mut ranges = Vec::new();
        let mut pos = 0;
        let number = |pos: &mut usize| -> Result<SeqNumber, SequenceError> {
            if text.get(*pos) == Some(&b'*') {
                *pos += 1;
                return Ok(SeqNumber::Largest);
            }
            let start = *pos;
            let mut n: u32 = 0;
            while let Some(d) = text.get(*pos).filter(|b| b.is_ascii_digit()) {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u32::from(d - b'0')))
                    .ok_or(SequenceError::Syntax { at: start })?;
                *pos += 1;
            }
            if *pos == start {
                return Err(SequenceError::Syntax { at: start });
            }
            if n == 0 {
                return Err(SequenceError::Zero);
            }
            Ok(SeqNumber::Value(n))
        };
        loop {
            let start = number(&mut pos)?;
            let end = if text.get(pos) == Some(&b':') {
                pos += 1;
                number(&mut pos)?
            } else {
                start
            };
            ranges.push(SeqRange { start, end });
            match text.get(pos) {
                None => break,
                Some(b',') => pos += 1,
                Some(_) => return Err(SequenceError::Syntax { at: pos }),
            }
        }
        Ok(SequenceSet { ranges })
    }
}

impl FromStr for SequenceSet {
    type Err = SequenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SequenceSet::parse(s.as_bytes())
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if r.start == r.end {
                write!(f, "{}", r.start)?;
            } else {
                write!(f, "{}:{}", r.start, r.end)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for text in ["1", "1:*", "2,4:7,9,12:*", "*", "*:4", "4294967295"] {
            let set: SequenceSet = text.parse().unwrap();
            assert_eq!(set.to_string(), text);
        }
    }

    #[test]
    fn refused() {
        for (text, err) in [
            ("", SequenceError::Empty),
            ("0", SequenceError::Zero),
            ("1:0", SequenceError::Zero),
            ("1,", SequenceError::Syntax { at: 2 }),
            ("1 2", SequenceError::Syntax { at: 1 }),
            ("a", SequenceError::Syntax { at: 0 }),
            ("4294967296", SequenceError::Syntax { at: 0 }),
            ("1::2", SequenceError::Syntax { at: 2 }),
        ] {
            assert_eq!(text.parse::<SequenceSet>().unwrap_err(), err, "{text}");
        }
    }

    #[test]
    fn from_numbers_compresses_runs() {
        let set = SequenceSet::from_numbers(&[1, 2, 3, 7, 9, 10, 4]).unwrap();
        assert_eq!(set.to_string(), "1:3,7,9:10,4");
        assert_eq!(SequenceSet::from_numbers(&[]), Err(SequenceError::Empty));
        assert_eq!(SequenceSet::from_numbers(&[0]), Err(SequenceError::Zero));
        let max = SequenceSet::from_numbers(&[u32::MAX - 1, u32::MAX]).unwrap();
        assert_eq!(max.to_string(), "4294967294:4294967295");
    }

    #[test]
    fn expansion_is_bounded() {
        // RFC 9051 §9: "2:4" and "4:2" are the same; "*" is the largest number in use.
        let set: SequenceSet = "4:2,7,9:*".parse().unwrap();
        assert_eq!(set.expand(11, 100).unwrap(), vec![2, 3, 4, 7, 9, 10, 11]);
        assert!(set.contains(10, 11) && !set.contains(8, 11));
        let huge: SequenceSet = "1:4294967295".parse().unwrap();
        assert_eq!(huge.count(0), 4_294_967_295);
        assert_eq!(
            huge.expand(0, 1_000_000),
            Err(SequenceError::TooMany { limit: 1_000_000 })
        );
    }
}
