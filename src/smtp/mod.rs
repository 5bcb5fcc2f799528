//! SMTP (RFC 5321).

pub mod server;
