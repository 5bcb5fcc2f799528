//! The client against scripted servers on loopback: exact bytes both ways.
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::net::TlsMode;
use crate::net::transcript::Transcript;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve `steps` (expected client bytes, reply) on one connection; return all bytes read.
async fn scripted(
    greeting: &'static [u8],
    steps: Vec<(&'static [u8], &'static [u8])>,
) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(greeting).await.unwrap();
        let mut got = Vec::new();
        for (expected, reply) in steps {
            let want = got.len() + expected.len();
            while got.len() < want {
                let mut buf = [0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if reply.is_empty() {
                return got;
            }
            sock.write_all(reply).await.unwrap();
        }
        got
    });
    (port, task)
}

fn config(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new("127.0.0.1", port);
    c.endpoint.tls = TlsMode::None;
    c.local_hostname = Some("mta.example.org".into());
    c.endpoint.io_timeout = Some(Duration::from_secs(5));
    c
}

#[tokio::test]
async fn seed_chapter_session() {
    let (port, server) = scripted(
        b"220 smtp.example.com ESMTP MTA information\r\n",
        vec![
            (
                b"EHLO mta.example.org\r\n",
                b"250 Hello mta.example.org, glad to meet you\r\n",
            ),
            (b"MAIL FROM:<alice@example.org>\r\n", b"250 Ok\r\n"),
            (b"RCPT TO:<bob@example.com>\r\n", b"250 Ok\r\n"),
            (b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            (
                b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\nHello Bob\r\n.\r\n",
                b"250 Ok: queued as 12345\r\n",
            ),
            (b"QUIT\r\n", b"221 Bye\r\n"),
        ],
    )
    .await;
    let mut conn = Connection::open(Arc::new(config(port))).await.unwrap();
    let msg = Prepared::new(
        b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\nHello Bob\r\n",
        None,
        None,
    )
    .unwrap();
    let outcome = conn.send(&msg, &SendOptions::default()).await.unwrap();
    assert_eq!(outcome.data_reply.text(), "Ok: queued as 12345");
    assert_eq!(outcome.recipients[0].1.code, 250);
    conn.quit().await;
    let got = server.await.unwrap();
    assert!(got.starts_with(b"EHLO mta.example.org\r\nMAIL FROM:<alice@example.org>\r\n"));
    assert!(got.ends_with(b"Hello Bob\r\n.\r\nQUIT\r\n"));
}

#[tokio::test]
async fn transcript_records_both_sides_and_redacts_credentials() {
    let (port, server) = scripted(
        b"220 smtp.example.com ESMTP\r\n",
        vec![
            (
                b"EHLO mta.example.org\r\n",
                b"250-smtp.example.com\r\n250 AUTH PLAIN LOGIN\r\n",
            ),
            (
                b"AUTH PLAIN AGFsaWNlADEyMzQ1cGFzcw==\r\n",
                b"235 2.7.0 OK\r\n",
            ),
            (b"MAIL FROM:<alice@example.org>\r\n", b"250 Ok\r\n"),
            (b"RCPT TO:<bob@example.com>\r\n", b"250 Ok\r\n"),
            (b"DATA\r\n", b"354 go ahead\r\n"),
            (
                b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\n..dot\r\n.\r\n",
                b"250 Ok: queued as 12345\r\n",
            ),
            (b"QUIT\r\n", b"221 Bye\r\n"),
        ],
    )
    .await;
    let transcript = Arc::new(Transcript::new());
    let mut cfg = config(port);
    cfg.auth = Auth::Password {
        username: "alice".into(),
        password: "12345pass".into(),
        mechanism: None,
    };
    cfg.endpoint.allow_insecure_auth = true;
    cfg.endpoint.transcript = Some(transcript.clone());
    let mut conn = Connection::open(Arc::new(cfg)).await.unwrap();
    let msg = Prepared::new(
        b"From: alice@example.org\r\nTo: bob@example.com\r\n\r\n.dot\r\n",
        None,
        None,
    )
    .unwrap();
    conn.send(&msg, &SendOptions::default()).await.unwrap();
    conn.quit().await;
    server.await.unwrap();
    let lines: Vec<String> = transcript
        .lines()
        .into_iter()
        .map(|(d, l)| format!("{}: {l}", d.label()))
        .collect();
    // RFC 5321 order (MAIL before RCPT), data lines as sent (dot-stuffed, RFC 5321
    // §4.5.2), and the AUTH PLAIN response (RFC 4616) never recorded.
    assert_eq!(
        lines,
        [
            "S: 220 smtp.example.com ESMTP",
            "C: EHLO mta.example.org",
            "S: 250-smtp.example.com",
            "S: 250 AUTH PLAIN LOGIN",
            "C: AUTH PLAIN ********",
            "S: 235 2.7.0 OK",
            "C: MAIL FROM:<alice@example.org>",
            "S: 250 Ok",
            "C: RCPT TO:<bob@example.com>",
            "S: 250 Ok",
            "C: DATA",
            "S: 354 go ahead",
            "C: From: alice@example.org",
            "C: To: bob@example.com",
            "C: ",
            "C: ..dot",
            "C: .",
            "S: 250 Ok: queued as 12345",
            "C: QUIT",
            "S: 221 Bye",
        ]
    );
}

#[tokio::test]
async fn idle_connection_the_server_gave_up_is_not_reused() {
    // RFC 5321 §4.5.3.2.7: a server may send 421 and close an idle connection.
    let (port, first) = scripted(
        b"220 one\r\n",
        vec![
            (
                b"EHLO mta.example.org\r\n",
                b"250 hi\r\n421 4.4.2 idle timeout\r\n",
            ),
            (b"", b""),
        ],
    )
    .await;
    let pool = Pool::new(config(port), 1).unwrap();
    pool.connect().await.unwrap();
    first.await.unwrap();
    let mut conn = pool.take_idle().unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!conn.is_reusable().await);
}
