//! Unit tests without a DNS server: key records are put in the verifier's cache, and the
//! name server is a closed local port (DMARC and SPF then see DNS errors).

use std::sync::Arc;
use std::time::Duration;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{ResolverCache, Txt};

use super::*;

const RFC8463_MESSAGE: &[u8] = include_bytes!("../../tests/data/auth/rfc8463-message.eml");
const RFC8463_RSA: &[u8] = include_bytes!("../../tests/data/auth/rfc8463-rsa-private.pem");
const RFC8463_SEED: &[u8] = include_bytes!("../../tests/data/auth/rfc8463-ed25519-seed.txt");
const RFC8463_ED_RECORD: &str =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

fn verifier() -> Verifier {
    let options = VerifierOptions {
        dns: DnsOptions {
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(200),
            attempts: 1,
            cache_size: 64,
        },
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    Verifier::new(options).unwrap()
}

fn publish(v: &Verifier, name: &str, record: &str) {
    let key = DomainKey::parse(record.as_bytes()).unwrap();
    v.resolver.txt_cache.insert(
        format!("{name}.").into_boxed_str(),
        Txt::DomainKey(Arc::new(key)),
        std::time::Instant::now() + Duration::from_secs(60),
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject:  Hello\r\n\tfolded\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHi Bob,\r\n\r\nsee you.\r\n\r\n\r\n";

#[test]
fn rfc8463_appendix_a_verifies() {
    let v = verifier();
    let rsa = DkimKey::load(RFC8463_RSA).unwrap();
    assert_eq!((rsa.bits(), rsa.can_sign()), (1024, false));
    publish(
        &v,
        "brisbane._domainkey.football.example.com",
        RFC8463_ED_RECORD,
    );
    publish(&v, "test._domainkey.football.example.com", &rsa.txt_value());
    let report = rt().block_on(v.verify(RFC8463_MESSAGE, &Envelope::default()));
    let got: Vec<_> = report
        .dkim
        .iter()
        .map(|d| {
            (
                d.result,
                d.selector.clone().unwrap(),
                d.algorithm.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Outcome::Pass, "brisbane".into(), "ed25519-sha256".into()),
            (Outcome::Pass, "test".into(), "rsa-sha256".into()),
        ]
    );
    // A changed body breaks both.
    let tampered = String::from_utf8_lossy(RFC8463_MESSAGE).replace("hungry", "thirsty");
    let report = rt().block_on(v.verify(tampered.as_bytes(), &Envelope::default()));
    assert!(
        report.dkim.iter().all(|d| d.result == Outcome::Fail),
        "{report:?}"
    );
}

#[test]
fn rfc8463_keys() {
    let ed = DkimKey::load(RFC8463_SEED).unwrap();
    assert_eq!(ed.txt_value(), RFC8463_ED_RECORD);
    // The PKCS#8 form reads back to the same key.
    let again = DkimKey::load(ed.private_pem().unwrap().as_bytes()).unwrap();
    assert_eq!(again.public_key(), ed.public_key());
    assert_eq!(
        again.ed25519_seed().unwrap(),
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
    );
    // ring does not sign with 1024-bit RSA: the error says so.
    let rsa = Arc::new(DkimKey::load(RFC8463_RSA).unwrap());
    let err = DkimSigner::new("example.org", "s", rsa, SignerOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::CannotSign(m) if m.contains("2048")),
        "{err}"
    );
    assert!(DkimKey::load(b"garbage").is_err());
    assert!(
        DkimKey::load(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
    );
}

fn roundtrip(kind: KeyKind, canon: Canonicalization) {
    let key = Arc::new(DkimKey::generate(kind, None).unwrap());
    let v = verifier();
    publish(&v, "sel._domainkey.example.org", &key.txt_value());
    let options = SignerOptions {
        header_canonicalization: canon,
        body_canonicalization: canon,
        ..Default::default()
    };
    let signer = DkimSigner::new("example.org", "sel", key, options).unwrap();
    let signed = signer.sign(MESSAGE).unwrap();
    let report = rt().block_on(v.verify(&signed, &Envelope::default()));
    assert_eq!(report.dkim.len(), 1);
    assert_eq!(report.dkim[0].result, Outcome::Pass, "{report:?}");
    assert_eq!(report.dkim[0].domain.as_deref(), Some("example.org"));
    // Oversigning: a second Subject added on top breaks the signature.
    let mut forged = b"Subject: forged\r\n".to_vec();
    forged.extend_from_slice(&signed);
    let report = rt().block_on(v.verify(&forged, &Envelope::default()));
    assert_eq!(report.dkim[0].result, Outcome::Fail);
}

#[test]
fn sign_and_verify_round_trips() {
    roundtrip(KeyKind::Ed25519, Canonicalization::Relaxed);
    roundtrip(KeyKind::Ed25519, Canonicalization::Simple);
    roundtrip(KeyKind::Rsa, Canonicalization::Relaxed);
}

#[test]
fn body_length_covers_the_canonical_body_and_additions_are_policy() {
    let key = Arc::new(DkimKey::generate(KeyKind::Ed25519, None).unwrap());
    let v = verifier();
    publish(&v, "sel._domainkey.example.org", &key.txt_value());
    let options = SignerOptions {
        body_length: true,
        ..Default::default()
    };
    let signer = DkimSigner::new("example.org", "sel", key, options).unwrap();
    let signed = signer.sign(MESSAGE).unwrap();
    let report = rt().block_on(v.verify(&signed, &Envelope::default()));
    // "Hi Bob,\r\n\r\nsee you.\r\n" relaxed: trailing empty lines removed.
    assert_eq!(report.dkim[0].body_length, Some(21));
    assert_eq!(report.dkim[0].result, Outcome::Pass);
    let mut extended = signed.clone();
    extended.extend_from_slice(b"Click here: http://evil.example/\r\n");
    let report = rt().block_on(v.verify(&extended, &Envelope::default()));
    assert_eq!(report.dkim[0].result, Outcome::Policy, "{report:?}");
}

#[test]
fn signatures_are_capped() {
    let key = Arc::new(DkimKey::generate(KeyKind::Ed25519, None).unwrap());
    let v = verifier();
    publish(&v, "sel._domainkey.example.org", &key.txt_value());
    let signer = DkimSigner::new("example.org", "sel", key, SignerOptions::default()).unwrap();
    let mut message = MESSAGE.to_vec();
    for _ in 0..100 {
        message = signer.sign(&message).unwrap();
    }
    let report = rt().block_on(v.verify(&message, &Envelope::default()));
    assert_eq!((report.dkim.len(), report.dkim_skipped), (5, 95));
    assert!(report.dkim.iter().all(|d| d.result == Outcome::Pass));
}

#[test]
fn header_names_the_results() {
    let key = Arc::new(DkimKey::generate(KeyKind::Ed25519, None).unwrap());
    let v = verifier();
    publish(&v, "sel._domainkey.example.org", &key.txt_value());
    let signer = DkimSigner::new("example.org", "sel", key, SignerOptions::default()).unwrap();
    let report = rt().block_on(v.verify(&signer.sign(MESSAGE).unwrap(), &Envelope::default()));
    let field = report.header("mx.example.com");
    assert!(field.starts_with("Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=example.org header.s=sel"), "{field}");
    // DMARC's DNS lookups failed: temperror, not an error.
    assert!(field.contains("dmarc=temperror"), "{field}");
}

#[test]
fn bare_lf_messages_are_signed_in_wire_form() {
    let key = Arc::new(DkimKey::generate(KeyKind::Ed25519, None).unwrap());
    let signer = DkimSigner::new("example.org", "sel", key, SignerOptions::default()).unwrap();
    let lf = String::from_utf8_lossy(MESSAGE).replace("\r\n", "\n");
    let signed = signer.sign(lf.as_bytes()).unwrap();
    assert!(!signed.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
    assert_eq!(wire_form(b"a\r\nb\nc\n").as_ref(), b"a\r\nb\r\nc\r\n");
}
