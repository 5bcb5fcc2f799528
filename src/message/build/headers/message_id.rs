//! msg-id lists (RFC 5322 §3.6.4) and new, unique msg-ids.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use mail_builder::headers::Header;
use mail_builder::headers::message_id::MessageId;

use crate::message::build::error::{BuildError, Result};
use crate::message::build::fields::check_id;

/// 64 unpredictable bits: SipHash, keyed from the OS's random source once per thread
/// (`RandomState`), of a process-wide counter and the time.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// A new msg-id (without brackets) at `domain`: time and 128 random bits.
pub fn new_message_id(domain: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{secs:x}.{:016x}{:016x}@{domain}",
        random_u64(),
        random_u64()
    )
}

pub(super) fn write_ids(out: &mut Vec<u8>, name: &str, ids: &[String], utf8: bool) -> Result<()> {
    for id in ids {
        check_id(name, id)?;
        if !utf8 && !id.is_ascii() {
            return Err(BuildError::InvalidValue {
                field: name.to_owned(),
                reason: "a non-ASCII msg-id needs UTF-8 output (utf8=True)".into(),
            });
        }
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    MessageId::new_list(ids.iter().map(String::as_str)).write_header(out, name.len() + 2);
    Ok(())
}
