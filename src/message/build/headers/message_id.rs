//! msg-id lists (RFC 5322 §3.6.4) and new, unique msg-ids.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use mail_builder::headers::Header;
use mail_builder::headers::message_id::MessageId;

use crate::message::build::error::{BuildError, Result};
use crate::message::build::fields::check_id;

/// 128 unpredictable bits from the kernel (one `getrandom` call). Should that ever fail,
/// SipHash keyed from the OS's random source once per thread (`RandomState`) of a
/// process-wide counter and the time: a msg-id or boundary needs uniqueness, not secrecy.
pub fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_ok() {
        return u128::from_le_bytes(bytes);
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = std::hash::RandomState::new();
    let tick = (
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    u128::from(state.hash_one(tick)) << 64 | u128::from(state.hash_one((tick, 1u8)))
}

/// A new msg-id (without brackets) at `domain`: time and 128 random bits.
pub fn new_message_id(domain: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:x}.{:032x}@{domain}", random_u128())
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
