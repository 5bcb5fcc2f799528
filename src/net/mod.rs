//! Networking shared by the SMTP and POP3 clients and servers: connections that can switch to
//! TLS mid-stream (STARTTLS/STLS), a line reader with limits, TLS configuration on rustls,
//! graceful shutdown, limits per client address and bounded pools for blocking work. Plain
//! Rust on tokio; no pyo3.

pub mod blocking;
pub mod client;
mod error;
pub mod events;
pub mod limits;
pub mod line;
pub mod sasl;
pub mod shutdown;
pub mod stream;
pub mod tls;
pub mod transcript;

pub use client::{Endpoint, TlsMode};
pub use error::{NetError, TlsFailure, with_timeout};
pub use line::LineReader;
pub use stream::Stream;
