//! Date-times (RFC 5322 §3.3).

use crate::message::build::error::{BuildError, Result};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Year, month, day of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

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
    let local = unix + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(1900..=9999).contains(&year) {
        return Err(BuildError::InvalidValue {
            field: "Date".into(),
            reason: format!("year {year} is outside 1900-9999 (RFC 5322 §3.3)"),
        });
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.abs();
    Ok(format!(
        "{}, {} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[(days + 4).rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        sign,
        off / 60,
        off % 60
    ))
}

/// The current time with the local UTC offset.
pub fn now_local() -> (i64, i32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut offset = 0;
    #[cfg(unix)]
    {
        let t = now as libc::time_t;
        // SAFETY: `localtime_r` only writes the `tm` it is given; a zeroed `tm` is a valid
        // value of that plain C struct.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if !libc::localtime_r(&t, &mut tm).is_null() {
                offset = tm.tm_gmtoff as i32;
            }
        }
    }
    (now, offset)
}
