//! Mail archives as Arrow record batches: `.eml` files, directories of them, Maildirs (with
//! their Maildir++ folders) and mbox files, each possibly gzip-compressed, read in parallel
//! into one row per message.
//!
//! The work is cut into [`Piece`]s by [`plan`]: a batch of single-message files, a byte range
//! of a plain mbox (the messages whose `From ` line starts in it, as Hadoop splits text), or
//! a whole gzip stream (which cannot be split, so it is decompressed by one thread at a time
//! and cut at message boundaries as it goes). [`Reader`] runs the pieces on worker threads,
//! each turning its messages straight into Arrow arrays ([`columns`]), and hands the batches
//! back in plan order with a bounded number in flight, so memory stays bounded whatever the
//! archive's size. The same pieces are what a Dask partition reads on a worker.
//!
//! No pyo3 here: `crate::python::archive` exports the batches through the Arrow C Data
//! Interface.

pub mod columns;
pub mod plan;
pub mod reader;
mod source;

pub use columns::{Column, Columns};
pub use plan::{FileRef, Piece, plan};
pub use reader::Reader;
pub use source::{Format, MAX_MESSAGE, load};
