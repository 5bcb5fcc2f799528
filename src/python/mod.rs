//! The `mailprims._mailprims` extension module. Every pyo3 line of the crate lives in this
//! folder; the core modules know nothing about Python.

/// `dict[name] = value.name` for each named field: the result classes' `to_dict` and the
/// keyword arguments of the dataclasses the IMAP client returns. A `PyResult<()>`.
/// (A macro defined before the modules, so all of them see it.)
macro_rules! set_fields {
    ($dict:expr, $value:expr; $($field:ident),+) => {{
        $($dict.set_item(stringify!($field), &$value.$field)?;)+
        Ok::<(), ::pyo3::PyErr>(())
    }};
}

mod archive;
mod auth;
mod buffer;
mod build;
mod client;
mod codec;
mod errors;
mod events;
mod fields;
mod headers;
mod imap_client;
mod imap_server;
mod message;
mod pop3;
mod runtime;
mod server;
mod smtp_client;
mod smtp_server;
mod store;
mod tls;
mod transcript;
mod types;
mod values;
mod web;

use pyo3::prelude::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule(gil_used = false)]
fn _mailprims(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    codec::register(m)?;
    runtime::register(m)?;
    tls::register(m)?;
    pop3::register(m)?;
    imap_server::register(m)?;
    smtp_server::register(m)?;
    store::register(m)?;
    smtp_client::register(m)?;
    message::register(m)?;
    fields::register(m)?;
    build::register(m)?;
    transcript::register(m)?;
    archive::register(m)?;
    // E-mail authentication (issue 17).
    auth::register(m)?;
    web::register(m)?;
    // The IMAP client (issue 15).
    imap_client::register(m)?;
    Ok(())
}
