//! Bindings for TLS helpers shared by the clients and servers.

use pyo3::prelude::*;

use super::errors::net_error;
use crate::net::tls;

/// A self-signed certificate and key (both PEM) for the given host names and IP addresses.
#[pyfunction]
fn tls_self_signed(py: Python<'_>, hostnames: Vec<String>) -> PyResult<(String, String)> {
    tls::self_signed(&hostnames).map_err(|e| net_error(py, e))
}

/// Check that a PEM certificate chain and key form a usable server identity.
#[pyfunction]
fn tls_check_server_identity(py: Python<'_>, cert_pem: &[u8], key_pem: &[u8]) -> PyResult<()> {
    tls::server_config(cert_pem, key_pem)
        .map(|_| ())
        .map_err(|e| net_error(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tls_self_signed, m)?)?;
    m.add_function(wrap_pyfunction!(tls_check_server_identity, m)?)?;
    Ok(())
}
