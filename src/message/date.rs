//! Dates (RFC 5322 §3.3, obsolete forms §4.3), and the calendar the crate shares.

use std::time::{SystemTime, UNIX_EPOCH};

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
///
/// RFC 5322 §3.3 with the obsolete forms of §4.3 (two- and three-digit years, zone names in
/// any case, comments and folding anywhere), read as the stdlib's `parsedate_tz` reads mail:
/// the day of the week is optional and unchecked, `Jun 10 14:00:00 2024` (asctime) and
/// `21-Nov-97` are accepted, seconds are optional. A missing zone, a military zone and a
/// zone name nobody defines are all "UTC, local zone unknown" (§4.3: "-0000").
pub fn parse(value: &[u8]) -> Option<Date> {
    let flat = normalize(value);
    let text = String::from_utf8_lossy(&flat);
    let mut words: Vec<&str> = Vec::with_capacity(8);
    for w in text.split(|c: char| c.is_whitespace() || c == ',') {
        if w.is_empty() {
            continue;
        }
        // `21-Nov-97`: three pieces around a month name.
        let dashed: Vec<&str> = w.split('-').collect();
        if dashed.len() == 3 && month(dashed[1]).is_some() && !w.starts_with('-') {
            words.extend(dashed);
        } else {
            words.push(w);
        }
        if words.len() > 12 {
            // No date has this many words; a long value is not a date (and costs nothing).
            return None;
        }
    }
    let (mut day, mut mon, mut year, mut time, mut zone) = (None, None, None, None, None);
    for w in words {
        let digits = w.bytes().all(|b| b.is_ascii_digit());
        if time.is_none() && w.contains(':') && !w.starts_with(['+', '-']) {
            // `00:01+0000`: a zone glued to the time.
            let (t, z) = w.split_at(
                w.find(|c: char| !(c.is_ascii_digit() || c == ':'))
                    .unwrap_or(w.len()),
            );
            time = Some(parse_time(t)?);
            if !z.is_empty() {
                zone = Some(parse_zone(z));
            }
        } else if digits && w.len() <= 2 && day.is_none() && time.is_none() {
            day = w.parse::<u8>().ok();
        } else if digits && w.len() <= 4 && year.is_none() {
            let y: u16 = w.parse().ok()?;
            year = Some(match w.len() {
                1 | 2 if y < 50 => y + 2000,
                1 | 2 => y + 1900,
                3 => y + 1900,
                _ => y,
            });
        } else if mon.is_none() && time.is_none() && month(w).is_some() {
            mon = month(w);
        } else if time.is_some() && zone.is_none() {
            zone = Some(parse_zone(w));
        }
        // Anything else (a day name, a stray word) is skipped.
    }
    let (hour, minute, second) = time?;
    let (offset, zone_unknown) = zone.flatten().unwrap_or((0, true));
    let date = Date {
        year: year?,
        month: mon?,
        day: day?,
        hour,
        minute,
        second,
        offset,
        zone_unknown,
    };
    date.is_valid().then_some(date)
}

/// A month name (English, any case, three letters or the full name).
fn month(w: &str) -> Option<u8> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = w.trim_end_matches('.');
    if w.len() < 3 || !w.is_ascii() || w.len() > 9 {
        return None;
    }
    let lower = w.to_ascii_lowercase();
    let k = NAMES.iter().position(|m| lower.starts_with(m))?;
    // "June", "Sept" and "September" are fine; "Junk" is not.
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (FULL[k].starts_with(&lower)).then_some(k as u8 + 1)
}

/// `hh:mm` or `hh:mm:ss`.
fn parse_time(w: &str) -> Option<(u8, u8, u8)> {
    let mut it = w.split(':');
    let num = |s: Option<&str>| -> Option<u8> {
        let s = s?;
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (h, m) = (num(it.next())?, num(it.next())?);
    let s = match it.next() {
        None => 0,
        Some(x) => num(Some(x))?,
    };
    if it.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// A zone: `Some((offset seconds, zone_unknown))`, or `None` for a word that is not a zone
/// (the zone is then unknown, as when it is missing).
fn parse_zone(w: &str) -> Option<(i32, bool)> {
    let upper = w.to_ascii_uppercase();
    // `GMT+0200`, `UTC-5`: the name of UTC before a numeric offset.
    let numeric = ["UTC", "GMT", "UT"]
        .iter()
        .find_map(|p| upper.strip_prefix(p).filter(|r| r.starts_with(['+', '-'])))
        .unwrap_or(&upper);
    if let Some(rest) = numeric.strip_prefix(['+', '-']) {
        let sign = if numeric.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|&c| c != ':').collect();
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i32 = digits.parse().ok()?;
        // Four digits are hhmm (RFC 5322); one or two are hours.
        let secs = if digits.len() > 2 {
            (n / 100) * 3600 + (n % 100) * 60
        } else {
            n * 3600
        };
        // -0000: UTC, local zone unknown (§3.3).
        return Some((sign * secs, sign < 0 && secs == 0));
    }
    if !upper.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    // RFC 5322 §4.3, in any case (RFC 5322 §1.2.2: names are case-insensitive).
    let hours = match upper.as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        // Military zones and names nobody defines: "-0000" (§4.3).
        _ => return Some((0, true)),
    };
    Some((hours * 3600, false))
}

/// Remove comments and line breaks, and the whitespace around `:` that RFC 5322 §4.3
/// allows (`09(comment):   55  :  06`), so that a time is one word.
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
            && self.day <= days_in_month(i32::from(self.year), self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && self.offset.abs() < 24 * 3600
    }
}

impl Date {
    /// Seconds since the Unix epoch (UTC); a leap second counts as the next second's start.
    pub fn timestamp(&self) -> i64 {
        let (date, time) = ((self.year, self.month, self.day), (self.hour, self.minute));
        unix_time(date, time, self.second, self.offset)
    }
}

/// Seconds since the Unix epoch of a local date and time `offset` seconds east of UTC. A date
/// that does not exist counts as the epoch's day (callers check validity where it matters).
pub fn unix_time(date: (u16, u8, u8), hour_minute: (u8, u8), second: u8, offset: i32) -> i64 {
    let (year, month, day) = date;
    let days = days_from_civil(i32::from(year), month, day).unwrap_or(0);
    days * 86_400
        + i64::from(hour_minute.0) * 3600
        + i64::from(hour_minute.1) * 60
        + i64::from(second)
        - i64::from(offset)
}

// The crate's one calendar (SMTP trace fields, IMAP dates, the archive and the web inbox use
// it): the `time` crate's proleptic Gregorian arithmetic, years -9999 to 9999.

/// English month abbreviations, January first (RFC 5322 §3.3 `month`, asctime, IMAP
/// `date-month`).
pub const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// English day abbreviations, Sunday first (RFC 5322 §3.3 `day-name`, asctime).
pub const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The abbreviations of a date's month and day of the week.
pub fn names(date: time::Date) -> (&'static str, &'static str) {
    (
        MONTH_NAMES[usize::from(u8::from(date.month()) - 1)],
        DAY_NAMES[usize::from(date.weekday().number_days_from_sunday())],
    )
}

/// A clock reading as a UTC date-time; before 1970 or after 9999 it reads as the epoch.
pub fn utc(t: SystemTime) -> time::OffsetDateTime {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Days in `month` (1-12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    time::Month::try_from(month).map_or(0, |m| m.length(year))
}

/// Days since 1970-01-01 of a date; `None` when there is no such date.
pub fn days_from_civil(year: i32, month: u8, day: u8) -> Option<i64> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(i64::from(
        date.to_julian_day() - time::OffsetDateTime::UNIX_EPOCH.date().to_julian_day(),
    ))
}

/// The date and time of day of `unix` seconds shown at `offset` seconds east of UTC; `None`
/// outside the calendar's years.
pub fn civil_from_timestamp(unix: i64, offset: i32) -> Option<time::PrimitiveDateTime> {
    let local = unix.checked_add(i64::from(offset))?;
    let t = time::OffsetDateTime::from_unix_timestamp(local).ok()?;
    Some(time::PrimitiveDateTime::new(t.date(), t.time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2024, 13, 1), None);
        assert_eq!((days_in_month(2024, 2), days_in_month(1900, 2)), (29, 28));
        assert_eq!((days_in_month(2000, 2), days_in_month(2024, 0)), (29, 0));
        let t = civil_from_timestamp(1_268_099_706, -6 * 3600).unwrap();
        assert_eq!(
            (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute()),
            (2010, 3, 8, 19, 55)
        );
        assert_eq!(civil_from_timestamp(i64::MAX, 0), None);
        let d = parse(b"Mon, 8 Mar 2010 19:55:06 -0600").unwrap();
        assert_eq!(d.timestamp(), 1_268_099_706);
    }

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
    fn zone_names_in_any_case() {
        // Issue 12 item 6: RFC 5322 §4.3 names are case-insensitive (the stdlib reads them so).
        for (zone, hours) in [
            ("EST", -5),
            ("est", -5),
            ("Est", -5),
            ("edt", -4),
            ("cst", -6),
            ("Cdt", -5),
            ("mst", -7),
            ("mdt", -6),
            ("pst", -8),
            ("pdt", -7),
            ("gmt", 0),
            ("ut", 0),
            ("UTC", 0),
        ] {
            let d = parse(format!("Fri, 21 Nov 1997 09:55:06 {zone}").as_bytes()).unwrap();
            assert_eq!((d.offset, d.zone_unknown), (hours * 3600, false), "{zone}");
        }
        // Military and unknown names, and no zone: UTC, local zone unknown (§4.3).
        for zone in ["a", "Q", "CEST", ""] {
            let d = parse(format!("Fri, 21 Nov 1997 09:55:06 {zone}").as_bytes()).unwrap();
            assert_eq!((d.offset, d.zone_unknown), (0, true), "{zone}");
        }
    }

    #[test]
    fn other_layouts() {
        // asctime, as mbox From_ lines and some mailers write it.
        let d = parse(b"Mon Jun 10 14:00:00 2024").unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2024, 6, 10, 14));
        let d = parse(b"21-Nov-97 09:55 +0100").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.second, d.offset),
            (1997, 11, 21, 0, 3600)
        );
        let d = parse(b"Sat, 1 January 2000 00:00:00 GMT+0200").unwrap();
        assert_eq!((d.month, d.offset), (1, 7200));
        let d = parse(b"Tue, 1 Jul 2003 10:52:37 +02:00").unwrap();
        assert_eq!(d.offset, 7200);
        // CPython's msg_47.txt: the zone glued to the time.
        let d = parse(b"01 Jan 2001 00:01+0000").unwrap();
        assert_eq!(
            (d.hour, d.minute, d.offset, d.zone_unknown),
            (0, 1, 0, false)
        );
        // Three-digit year (§4.3: add 1900).
        assert_eq!(parse(b"1 Jan 103 00:00 +0000").unwrap().year, 2003);
    }

    #[test]
    fn invalid() {
        assert_eq!(parse(b"not a date"), None);
        assert_eq!(parse(b"31 Feb 2020 10:00:00 +0000"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"Fri, 21 Junk 1997 09:55:06 +0000"), None);
        assert_eq!(parse(b"Fri, 21 Nov 1997 25:55:06 +0000"), None);
        assert_eq!(parse(b"Fri, 21 Nov 1997 09:55:06 +2500"), None);
        assert_eq!(parse(b"21 Nov 1997"), None);
        assert_eq!(parse("1 2 3 4 5 6 7 8 9 10 11 12 13 14".as_bytes()), None);
    }
}
