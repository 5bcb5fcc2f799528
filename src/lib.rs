//! mailprims: Internet mail primitives.
//!
//! The core (`codec`, and later `message`, `smtp`, `pop3`, `store`, `net`) is plain Rust with no
//! pyo3, so `cargo test` runs without Python. Every binding lives in `python/`, compiled only
//! with the `python` feature that maturin enables.

#[cfg(feature = "archive")]
pub mod archive;
pub mod auth;
pub mod codec;
pub mod imap;
pub mod mem;
pub mod message;
pub mod net;
pub mod pool;
pub mod pop3;
pub mod smtp;
pub mod store;
pub mod sys;
#[cfg(test)]
mod testing;
pub mod web;

#[cfg(feature = "python")]
mod python;
