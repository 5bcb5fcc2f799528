//! Date-times (RFC 5322 §3.3).

use crate::message::build::error::{BuildError, Result};
use crate::message::date::names;

/// An RFC 5322 §3.3 date-time for a Unix time and a UTC offset in seconds:
/// `Mon, 8 Mar 2010 19:55:06 -0600`. Years before 1900 are refused (§3.3).
pub fn format_date(unix: i64, offset: i32) -> Result<String> {
    let offset_minutes = offset.div_euclid(60);
    if offset_minutes.abs() >= 100 * 60 {
        return Err(BuildError::InvalidValue {
            field: "Date".into(),
            reason: "the UTC offset is out of range".into(),
        });
    }
    let out_of_range = |year: String| BuildError::InvalidValue {
        field: "Date".into(),
        reason: format!("{year} is outside 1900-9999 (RFC 5322 §3.3)"),
    };
    // The calendar arithmetic is the `time` crate's; it knows years -9999 to 9999.
    let local = unix
        .checked_add(i64::from(offset_minutes) * 60)
        .and_then(|l| time::OffsetDateTime::from_unix_timestamp(l).ok())
        .ok_or_else(|| out_of_range("the year".into()))?;
    let year = local.year();
    if !(1900..=9999).contains(&year) {
        return Err(out_of_range(format!("year {year}")));
    }
    let (month, weekday) = names(local.date());
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    Ok(format!(
        "{}, {} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        weekday,
        local.day(),
        month,
        year,
        local.hour(),
        local.minute(),
        local.second(),
        sign,
        off / 60,
        off % 60
    ))
}

/// The current time with the local UTC offset.
pub fn now_local() -> (i64, i32) {
    let now = time::OffsetDateTime::now_utc();
    let offset = time::UtcOffset::local_offset_at(now).map_or(0, |o| o.whole_seconds());
    (now.unix_timestamp(), offset)
}
