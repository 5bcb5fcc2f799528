//! TLS configuration on rustls with the *ring* provider: client configurations that verify
//! against the system's roots or a CA the user gives, server configurations from PEM, and
//! self-signed certificates for tests and local servers.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use super::NetError;

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots, loaded once (it reads hundreds of files).
fn system_roots() -> Result<Arc<RootCertStore>, NetError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            let mut store = RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
            if added == 0 {
                let why = loaded
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(format!(
                    "no trusted root certificates found on this system{why}; pass a CA file"
                ));
            }
            Ok(Arc::new(store))
        })
        .clone()
        .map_err(NetError::Config)
}

/// Parse every certificate in a PEM document.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| NetError::Config(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(NetError::Config("no certificate found in PEM data".into()));
    }
    Ok(certs)
}

/// Where a client's trust comes from.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The operating system's roots (the default).
    #[default]
    System,
    /// Only these CA certificates (PEM).
    CaPem(Vec<u8>),
    /// No verification at all. For tests against throwaway certificates only.
    Insecure,
}

/// A client configuration for the given trust.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(e.to_string()))?;
    let config = match trust {
        Trust::System => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
        Trust::CaPem(pem) => {
            let mut store = RootCertStore::empty();
            for cert in certificates_from_pem(pem)? {
                store
                    .add(cert)
                    .map_err(|e| NetError::Config(format!("bad CA certificate: {e}")))?;
            }
            builder.with_root_certificates(store).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, NetError> {
    let certs = certificates_from_pem(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| NetError::Config(format!("bad private key PEM: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| NetError::Config(format!("certificate and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

/// The name to verify the server's certificate against (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>, NetError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|_| NetError::Config(format!("invalid TLS server name {host:?}")))
}

/// A self-signed certificate and its private key, both PEM, valid for the given host names
/// and IP addresses.
pub fn self_signed(names: &[String]) -> Result<(String, String), NetError> {
    let cert = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| NetError::Config(format!("cannot generate certificate: {e}")))?;
    Ok((cert.cert.pem(), cert.signing_key.serialize_pem()))
}

/// Accepts any certificate, still checking handshake signatures so the session is sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_round_trip() {
        let (cert, key) = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        server_config(cert.as_bytes(), key.as_bytes()).unwrap();
        client_config(&Trust::CaPem(cert.into_bytes())).unwrap();
        client_config(&Trust::Insecure).unwrap();
    }

    #[test]
    fn bad_pem_is_a_config_error() {
        assert!(matches!(
            server_config(b"nope", b"nope"),
            Err(NetError::Config(_))
        ));
        let (cert, _) = self_signed(&["localhost".into()]).unwrap();
        let (_, other_key) = self_signed(&["localhost".into()]).unwrap();
        assert!(matches!(
            server_config(cert.as_bytes(), other_key.as_bytes()),
            Err(NetError::Config(_))
        ));
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("mail.example.com").is_ok());
    }
}
