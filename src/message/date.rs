//! Dates (RFC 5322 §3.3, obsolete forms §4.3), read with mail-parser's date grammar.

use mail_parser::{HeaderValue, parsers::MessageStream};

/// A calendar date and time with its UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in seconds (east positive).
    pub offset: i32,
    /// The zone was `-0000` or an obsolete military zone: the time is UTC but the sender's
    /// local zone is unknown (RFC 5322 §3.3, §4.3).
    pub zone_unknown: bool,
}

/// Parse a date-time header value; `None` when it is not a valid date.
pub fn parse(value: &[u8]) -> Option<Date> {
    let mut input = normalize(value);
    input.push(b'\n');
    let HeaderValue::DateTime(dt) = MessageStream::new(&input).parse_date() else {
        return None;
    };
    let offset = (dt.tz_hour as i32 * 3600 + dt.tz_minute as i32 * 60)
        * if dt.tz_before_gmt { -1 } else { 1 };
    let date = Date {
        year: dt.year,
        month: dt.month,
        day: dt.day,
        hour: dt.hour,
        minute: dt.minute,
        second: dt.second,
        offset,
        zone_unknown: offset == 0 && dt.tz_before_gmt,
    };
    date.is_valid().then_some(date)
}

/// Remove comments and line breaks, and the whitespace around `:` that RFC 5322 §4.3
/// allows (`09(comment):   55  :  06`), which mail-parser's grammar does not expect.
fn normalize(value: &[u8]) -> Vec<u8> {
    let mut flat = Vec::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for &b in value {
        if depth > 0 {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                flat.push(b' ');
            }
            continue;
        }
        match b {
            b'(' => depth = 1,
            b'\r' | b'\n' => flat.push(b' '),
            _ => flat.push(b),
        }
    }
    let mut out = Vec::with_capacity(flat.len());
    let mut i = 0;
    while i < flat.len() {
        if flat[i] == b':' {
            while out.last().is_some_and(|&c| c == b' ' || c == b'\t') {
                out.pop();
            }
            out.push(b':');
            i += 1;
            while i < flat.len() && (flat[i] == b' ' || flat[i] == b'\t') {
                i += 1;
            }
            continue;
        }
        out.push(flat[i]);
        i += 1;
    }
    out
}

impl Date {
    /// A real calendar date with a time of day (a leap second reads as second 59) and an
    /// offset under 24 hours.
    pub fn is_valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.offset.abs() < 24 * 3600
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5322_forms() {
        // RFC 5322 Appendix A.1.1.
        let d = parse(b" Fri, 21 Nov 1997 09:55:06 -0600").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second, d.offset),
            (1997, 11, 21, 9, 55, 6, -6 * 3600)
        );
        assert!(!d.zone_unknown);
        // The seed chapter's example.
        let d = parse(b"Mon, 8 Mar 2010 19:55:06 -0600").unwrap();
        assert_eq!((d.day, d.offset), (8, -21600));
        // -0000: UTC, local zone unknown (§3.3).
        let d = parse(b"Thu, 13 Feb 1969 23:32:54 -0000").unwrap();
        assert!(d.zone_unknown);
        assert_eq!(d.offset, 0);
        // §4.3 obsolete zones and two-digit years.
        let d = parse(b"21 Nov 97 09:55:06 GMT").unwrap();
        assert_eq!((d.year, d.offset), (1997, 0));
        let d = parse(b"Fri, 21 Nov 1997 09:55:06 PST").unwrap();
        assert_eq!(d.offset, -8 * 3600);
        let d = parse(b"Fri, 21 Nov 1997 09:55:06 EDT (comment)").unwrap();
        assert_eq!(d.offset, -4 * 3600);
        // Appendix A.6.3: comments and folding inside the time.
        let d = parse(b" Fri, 21\r\n Nov 1997 09(comment):   55  :  06 -0600").unwrap();
        assert_eq!((d.hour, d.minute, d.second, d.offset), (9, 55, 6, -21600));
        // Appendix A.5.
        let d = parse(b" Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)").unwrap();
        assert_eq!(
            (d.year, d.day, d.hour, d.minute, d.offset),
            (1969, 13, 23, 32, -12600)
        );
    }

    #[test]
    fn invalid() {
        assert_eq!(parse(b"not a date"), None);
        assert_eq!(parse(b"31 Feb 2020 10:00:00 +0000"), None);
        assert_eq!(parse(b""), None);
    }
}
