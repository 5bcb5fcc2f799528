//! The SMTP client: one `Connection` is one session (greeting, EHLO, STARTTLS, AUTH, then any
//! number of transactions); a `Pool` shares connections between concurrent sends and replaces
//! those the server closed while idle. The sync and async Python clients both drive `Pool`.
//!
//! Cut as lettre's `transport/smtp` is: `config` (where and how to connect), `prepared` (a message
//! and its options ready to send), `connection` (one session), `pool` (connections shared).

mod config;
mod connection;
mod pool;
mod prepared;
#[cfg(test)]
mod tests;

pub use config::{Auth, ClientConfig, Mechanism};
pub use connection::{Connection, Outcome, SessionInfo};
pub use pool::Pool;
pub use prepared::{Prepared, SendOptions};
