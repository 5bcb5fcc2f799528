use super::*;
use std::borrow::Cow;

use super::body::{encode_bytes, encode_text};
use crate::message::Document;
use crate::message::address::Address;

fn addr(name: &str, email: &str) -> Address {
    Address {
        name: name.into(),
        email: email.into(),
        group: None,
    }
}

fn field(name: &str, value: &Value) -> String {
    let mut out = Vec::new();
    write_field(&mut out, name, value, false).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn seed_chapter_hello_world_headers() {
    // The seed chapter's first message, field by field.
    let to = Value::parse(
        "To",
        "Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>",
    )
    .unwrap();
    assert_eq!(
        field("To", &to),
        "To: Alice Doe <alice@example.net>, Alice Smith <Alice@machine.example>\r\n"
    );
    assert_eq!(
        field(
            "From",
            &Value::Addresses(vec![addr("Bob Smith", "Bob@machine.example")])
        ),
        "From: Bob Smith <Bob@machine.example>\r\n"
    );
    assert_eq!(
        format_date(1_268_099_706, -6 * 3600).unwrap(),
        "Mon, 8 Mar 2010 19:55:06 -0600"
    );
}

#[test]
fn dates() {
    assert_eq!(format_date(0, 0).unwrap(), "Thu, 1 Jan 1970 00:00:00 +0000");
    // RFC 5322 Appendix A.1.1's date.
    assert_eq!(
        format_date(848_309_640, -(6 * 3600)).unwrap(),
        "Mon, 18 Nov 1996 03:34:00 -0600"
    );
    assert_eq!(
        format_date(951_782_400, 5 * 3600 + 1800).unwrap(),
        "Tue, 29 Feb 2000 05:30:00 +0530"
    );
    assert!(format_date(-3_000_000_000, 0).is_err());
    for (t, o) in [(1_700_000_000, 3600), (1_234_567_890, -12 * 3600)] {
        let d = format_date(t, o).unwrap();
        let parsed = super::super::date::parse(d.as_bytes()).unwrap();
        assert_eq!(parsed.offset, o, "{d}");
    }
}

#[test]
fn injection_is_refused() {
    for bad in ["a\r\nBcc: x@y", "a\rb", "a\nb", "a\0b"] {
        assert!(matches!(
            Value::parse("Subject", bad),
            Err(BuildError::LineBreak { .. })
        ));
        assert!(matches!(
            Value::parse("To", &format!("{bad}@example.com")),
            Err(BuildError::InvalidAddress { .. })
        ));
        assert!(check_address(&addr(bad, "a@example.com")).is_err());
        assert!(parse_ids("Message-ID", &format!("<{bad}@x>")).is_err());
        assert!(MediaType::parse(&format!("text/plain; name=\"{bad}\"")).is_err());
    }
    assert!(check_name("X-Bad Name").is_err());
    assert!(check_name("X:y").is_err());
    assert!(check_name("content-type").is_err());
    assert!(check_name("X-Mailer").is_ok());
}

#[test]
fn addresses_are_validated() {
    for bad in [
        "bob",
        "bob@",
        "@x.org",
        "a..b@x.org",
        "a b@x.org",
        "a@x..org",
        "a@[1.2",
    ] {
        assert!(parse_addresses(bad).is_err(), "{bad}");
    }
    for good in [
        "bob@example.com",
        "\"john doe\"@example.com",
        "a.b+c@sub.example.org",
        "x@[192.0.2.1]",
        "Zoë <zoe@example.com>",
    ] {
        assert!(parse_addresses(good).is_ok(), "{good}");
    }
}

#[test]
fn folding_and_encoding() {
    let long = "word ".repeat(40);
    let f = field("Subject", &Value::Text(long.trim_end().into()));
    assert!(f.split("\r\n").all(|l| l.len() <= FOLD), "{f}");
    assert!(!f.contains("=?"));
    let f = field(
        "Subject",
        &Value::Text("Réunion à 15h, très importante ".repeat(5)),
    );
    assert!(f.split("\r\n").all(|l| l.len() <= FOLD), "{f}");
    let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
    assert_eq!(
        doc.root().subject().unwrap(),
        "Réunion à 15h, très importante ".repeat(5)
    );
    // Encoded-word look-alikes are encoded so they read back as written.
    let f = field("Subject", &Value::Text("=?utf-8?q?x?=".into()));
    let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
    assert_eq!(doc.root().subject().unwrap(), "=?utf-8?q?x?=");
    // Display names: atoms plain, specials quoted, non-ASCII encoded.
    let v = Value::Addresses(vec![
        addr("Smith, Bob", "b@x.org"),
        addr("Jürgen Groß", "j@x.org"),
        addr("", "c@x.org"),
    ]);
    let f = field("To", &v);
    assert!(
        f.starts_with("To: \"Smith, Bob\" <b@x.org>, =?utf-8?"),
        "{f}"
    );
    let doc = Document::from_vec(format!("{f}\r\n").into_bytes());
    assert_eq!(
        doc.root().addresses("To"),
        match v {
            Value::Addresses(l) => l,
            _ => unreachable!(),
        }
    );
}

#[test]
fn groups() {
    let v = Value::parse(
        "To",
        "A Group:Ed Jones <c@a.test>,joe@where.test;, x@y.test",
    )
    .unwrap();
    assert_eq!(
        field("To", &v),
        "To: A Group: Ed Jones <c@a.test>, joe@where.test;, x@y.test\r\n"
    );
}

#[test]
fn transfer_encodings() {
    let o = Options::default();
    assert_eq!(encode_text(Cow::Borrowed(b"hello\r\n"), &o).0, "7bit");
    assert_eq!(
        encode_text(Cow::Borrowed("héllo\r\n".as_bytes()), &o).0,
        "quoted-printable"
    );
    assert_eq!(
        encode_text(Cow::Borrowed("日本語のテキスト".as_bytes()), &o).0,
        "base64"
    );
    assert_eq!(
        encode_text(Cow::Borrowed(b"nul\0\r\n"), &o).0,
        "quoted-printable"
    );
    assert_eq!(
        encode_text(Cow::Borrowed("x".repeat(100).as_bytes()), &o).0,
        "quoted-printable"
    );
    let eight = Options {
        eight_bit: true,
        ..Options::default()
    };
    assert_eq!(
        encode_text(Cow::Borrowed("héllo\r\n".as_bytes()), &eight).0,
        "8bit"
    );
    assert_eq!(
        encode_text(Cow::Borrowed("x".repeat(100).as_bytes()), &eight).0,
        "7bit"
    );
    assert_eq!(
        encode_text(Cow::Borrowed("x".repeat(1000).as_bytes()), &eight).0,
        "quoted-printable"
    );
    assert_eq!(encode_bytes(b"a\nb", true, &o).0, "base64");
    assert_eq!(encode_bytes(b"a\r\nb", true, &o).0, "7bit");
    assert_eq!(encode_bytes(b"a\r\nb", false, &o).0, "base64");
    assert_eq!(crlf_text("a\rb\nc\r\nd"), "a\r\nb\r\nc\r\nd");
    assert_eq!(&*crlf_bytes(b"a\nb\r\nc"), b"a\r\nb\r\nc");
}

#[test]
fn build_and_parse() {
    let mut b = Builder::new();
    b.set(
        "From",
        Value::parse("From", "Bob Smith <Bob@machine.example>").unwrap(),
    )
    .unwrap();
    b.set("To", Value::parse("To", "alice@example.net").unwrap())
        .unwrap();
    b.set("Subject", Value::Text("Hello".into())).unwrap();
    b.text = Some("Hi\nthere".into());
    b.html = Some("<p>Hi</p>".into());
    b.attachments.push(Attachment {
        content: Content::Bytes(Cow::Owned((0..=255u8).collect())),
        media_type: MediaType::parse("application/octet-stream").unwrap(),
        filename: Some("Größe — report.bin".into()),
        inline: false,
        content_id: None,
    });
    let bytes = b.to_bytes().unwrap();
    assert!(bytes.is_ascii());
    assert!(
        longest_line(&bytes) <= FOLD,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(memchr::memchr_iter(b'\n', &bytes).all(|i| i > 0 && bytes[i - 1] == b'\r'));
    let doc = Document::from_vec(bytes);
    let m = doc.root();
    assert!(m.defects().is_empty(), "{:?}", m.defects());
    assert_eq!(m.subject().as_deref(), Some("Hello"));
    assert!(m.message_id().unwrap().ends_with("@machine.example"));
    let s = m.body_structure();
    let att = doc.part(s.attachments[0]).unwrap();
    assert_eq!(att.filename().as_deref(), Some("Größe — report.bin"));
    assert_eq!(&*att.payload(), (0..=255u8).collect::<Vec<_>>().as_slice());
    // A text without a final line break gets one, as the stdlib's set_content gives it.
    assert_eq!(
        doc.part(s.text[0]).unwrap().text().unwrap(),
        "Hi\r\nthere\r\n"
    );
    assert!(matches!(
        Builder::new().to_bytes(),
        Err(BuildError::MissingFrom)
    ));
}

#[test]
fn rendered_size_is_exact() {
    // The Python layer writes into a buffer of `len()` bytes: every kind of part must
    // write exactly what it announced.
    let mut b = Builder::new();
    b.set("From", Value::parse("From", "a@example.com").unwrap())
        .unwrap();
    b.text = Some("plain\nsecond line é\n".into());
    b.html = Some(format!("<p>{}</p>", "long line ".repeat(50)).into());
    for (content, mt, inline) in [
        (
            Content::Bytes(Cow::Owned(vec![0u8; 1000])),
            "application/pdf",
            false,
        ),
        (Content::Bytes(Cow::Borrowed(b"a,b\r\n")), "text/csv", false),
        (Content::Text(Cow::Borrowed("x\ny")), "text/plain", false),
        (
            Content::Message(Cow::Borrowed(b"Subject: s\n\nbody\n")),
            "message/rfc822",
            false,
        ),
        (Content::Bytes(Cow::Borrowed(b"\x89PNG")), "image/png", true),
    ] {
        b.attachments.push(Attachment {
            content,
            media_type: MediaType::parse(mt).unwrap(),
            filename: Some("f".into()),
            inline,
            content_id: inline.then(|| "c@x".to_string()),
        });
    }
    let r = b.render().unwrap();
    let mut buf = vec![0u8; r.len()];
    let mut sink = SliceOutput::new(&mut buf);
    r.write(&mut sink);
    assert!(sink.is_exact());
    let mut grown = Vec::new();
    r.write(&mut grown);
    assert_eq!(buf, grown);
    assert!(Document::from_vec(grown).root().defects().is_empty());
    let mut short = vec![0u8; r.len() - 1];
    let mut sink = SliceOutput::new(&mut short);
    r.write(&mut sink);
    assert!(!sink.is_exact());
}

#[test]
fn boundaries_avoid_content() {
    let mut calls = 0;
    let b = fresh_boundary(|_| {
        calls += 1;
        calls < 3
    });
    assert!(b.starts_with("=_") && b.len() == 34);
    let _ = calls;
}
