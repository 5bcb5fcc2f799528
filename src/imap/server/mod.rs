//! The IMAP server (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1) over a `MaildirStore`.

pub mod command;
pub mod control;
pub mod folders;
pub mod mailbox;
pub mod search;
pub mod structure;
