//! Whole-server tests on loopback, without Python: exact bytes in, exact replies out.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Config, Domains, Server, Sink};

struct Client {
    tcp: TcpStream,
}

impl Client {
    async fn connect(port: u16) -> Self {
        Self {
            tcp: TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
        }
    }

    async fn expect(&mut self, send: &[u8], want: &[u8]) {
        if !send.is_empty() {
            self.tcp.write_all(send).await.unwrap();
        }
        let mut got = vec![0; want.len()];
        tokio::time::timeout(Duration::from_secs(10), self.tcp.read_exact(&mut got))
            .await
            .expect("reply in time")
            .expect("reply");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "after sending {:?}",
            String::from_utf8_lossy(send)
        );
    }

    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.tcp.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn config() -> Config {
    Config {
        hostname: "mx.test".into(),
        ..Config::default()
    }
}

async fn start(config: Config, directory: Option<Domains>) -> (super::Running, Arc<Sink>) {
    let sink = Arc::new(Sink::new(None));
    let mut server = Server::new(config);
    server.deliverer = Some(sink.clone());
    server.directory = directory.map(|d| Arc::new(d) as _);
    let running = Arc::new(server).start("127.0.0.1", 0).await.unwrap();
    (running, sink)
}

const GREETING: &[u8] = b"220 mx.test ESMTP mailprims\r\n";

#[tokio::test]
async fn transaction_and_trace_fields() {
    let (running, sink) = start(config(), None).await;
    let mut c = Client::connect(running.local_addr.port()).await;
    c.expect(b"", GREETING).await;
    c.expect(b"HELO client.test\r\n", b"250 mx.test\r\n").await;
    c.expect(
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
        b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    )
    .await;
    c.tcp
        .write_all(b"Subject: x\r\n\r\n..y\r\n.\r\n")
        .await
        .unwrap();
    let mut reply = [0u8; 24];
    c.tcp.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"250 2.0.0 OK: queued as ");
    let messages = sink.messages();
    let env = &messages[0].envelope;
    assert_eq!(env.original_content(), b"Subject: x\r\n\r\n.y\r\n");
    assert!(env.content.starts_with(b"Return-Path: <a@example.org>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby mx.test (mailprims) with SMTP id "));
    running.stop().await;
}

#[tokio::test]
async fn relay_control_with_local_domains() {
    // RFC 5068 §3: unauthenticated clients may only reach local domains
    let (running, _sink) = start(config(), Some(Domains(vec!["example.org".into()]))).await;
    let mut c = Client::connect(running.local_addr.port()).await;
    c.expect(b"", GREETING).await;
    c.expect(
        b"EHLO c\r\nMAIL FROM:<>\r\n",
        b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n\
          250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 HELP\r\n\
          250 2.1.0 Sender OK\r\n",
    )
    .await;
    c.expect(
        b"RCPT TO:<u@Example.ORG>\r\n",
        b"250 2.1.5 Recipient OK\r\n",
    )
    .await;
    c.expect(
        b"RCPT TO:<u@elsewhere.test>\r\n",
        b"550 5.7.1 <u@elsewhere.test>: Relay access denied\r\n",
    )
    .await;
    // a transaction in flight holds `stop` (up to the grace period) until it ends
    c.expect(b"QUIT\r\n", b"221 2.0.0 Bye\r\n").await;
    running.stop().await;
}

#[tokio::test]
async fn connection_limit_and_shutdown() {
    let (running, _sink) = start(
        Config {
            max_connections: 1,
            ..config()
        },
        None,
    )
    .await;
    let port = running.local_addr.port();
    let mut first = Client::connect(port).await;
    first.expect(b"", GREETING).await;
    let mut second = Client::connect(port).await;
    second
        .expect(
            b"",
            b"421 4.3.2 mx.test Too many connections, try again later\r\n",
        )
        .await;
    assert!(second.closed().await);
    running.stop().await;
    first
        .expect(
            b"",
            b"421 4.3.2 mx.test Service shutting down, closing transmission channel\r\n",
        )
        .await;
    assert!(first.closed().await);
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn idle_timeout() {
    // RFC 5321 §4.5.3.2.7 server timeout (shortened)
    let (running, _sink) = start(
        Config {
            timeout: Duration::from_millis(200),
            ..config()
        },
        None,
    )
    .await;
    let mut c = Client::connect(running.local_addr.port()).await;
    c.expect(b"", GREETING).await;
    c.expect(b"", b"421 4.4.2 mx.test Error: timeout exceeded\r\n")
        .await;
    assert!(c.closed().await);
    running.stop().await;
}

#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<crate::net::events::ServerEvent>>);

impl crate::net::events::EventLog for Collect {
    fn event(&self, event: crate::net::events::ServerEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn accepted_messages_are_reported_to_the_event_log() {
    let log = Arc::new(Collect::default());
    let sink = Arc::new(Sink::new(None));
    let mut server = Server::new(config());
    server.deliverer = Some(sink.clone());
    server.events = Some(log.clone());
    let running = Arc::new(server).start("127.0.0.1", 0).await.unwrap();
    let mut c = Client::connect(running.local_addr.port()).await;
    c.expect(b"", GREETING).await;
    c.expect(b"HELO client.test\r\n", b"250 mx.test\r\n").await;
    // A refused transaction is not reported: no recipient, so DATA fails (RFC 5321 §3.3).
    c.expect(
        b"MAIL FROM:<a@example.org>\r\nDATA\r\n",
        b"250 2.1.0 Sender OK\r\n503 5.5.1 Error: need RCPT command\r\n",
    )
    .await;
    c.expect(
        b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
        b"250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    )
    .await;
    c.tcp
        .write_all(b"Subject: x\r\n\r\n..y\r\n.\r\n")
        .await
        .unwrap();
    c.expect(b"", b"250 2.0.0 OK: queued as ").await;
    running.stop().await;
    let events = log.0.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.kind.name(), "delivered");
    assert_eq!(e.sender.as_deref(), Some("a@example.org"));
    assert_eq!(e.recipients, ["b@example.org", "c@example.org"]);
    // the data as sent, dot-unstuffed, without the server's trace fields
    assert_eq!(e.size, b"Subject: x\r\n\r\n.y\r\n".len() as u64);
    assert_eq!(e.id, Some(sink.messages()[0].envelope.id.clone()));
    assert!(e.peer.ip().is_loopback() && !e.tls && e.user.is_none());
}

// ---- hostile clients (issue 12) -------------------------------------------------------------

#[tokio::test]
async fn connections_per_client_address() {
    // Postfix's smtpd_client_connection_count_limit: one address cannot take every slot.
    let (running, _sink) = start(
        Config {
            max_connections_per_address: Some(2),
            ..config()
        },
        None,
    )
    .await;
    let port = running.local_addr.port();
    let mut a = Client::connect(port).await;
    a.expect(b"", GREETING).await;
    let mut b = Client::connect(port).await;
    b.expect(b"", GREETING).await;
    let mut c = Client::connect(port).await;
    c.expect(
        b"",
        b"421 4.7.0 mx.test Error: too many connections from 127.0.0.1\r\n",
    )
    .await;
    assert!(c.closed().await);
    a.expect(b"QUIT\r\n", b"221 2.0.0 Bye\r\n").await;
    assert!(a.closed().await);
    // The slot is free again (the session task may take a moment to end).
    let mut greeted = false;
    for _ in 0..50 {
        let mut d = Client::connect(port).await;
        let mut got = [0u8; 4];
        d.tcp.read_exact(&mut got).await.unwrap();
        if &got == b"220 " {
            greeted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(greeted);
    drop(b);
    running.stop().await;
}

#[tokio::test]
async fn junk_commands_count_as_errors_past_the_limit() {
    // Postfix's smtpd_junk_command_limit: NOOP, RSET, VRFY and HELP beyond the limit each
    // count as an error, so a client repeating them forever is closed at max_errors.
    let (running, _sink) = start(
        Config {
            max_junk_commands: Some(3),
            max_errors: 2,
            ..config()
        },
        None,
    )
    .await;
    let mut c = Client::connect(running.local_addr.port()).await;
    c.expect(b"", GREETING).await;
    c.expect(b"HELO c\r\n", b"250 mx.test\r\n").await;
    // A message accepted starts the count again.
    c.expect(
        b"NOOP\r\nRSET\r\nNOOP\r\n",
        b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n",
    )
    .await;
    c.expect(
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
        b"250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    )
    .await;
    c.tcp
        .write_all(b"Subject: x\r\n\r\ny\r\n.\r\n")
        .await
        .unwrap();
    c.expect(b"", b"250 2.0.0 OK: queued as ").await;
    let mut rest = vec![0u8; 64];
    let n = c.tcp.read(&mut rest).await.unwrap();
    assert!(rest[..n].ends_with(b"\r\n"));
    c.expect(
        b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n",
        b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n\
          250 2.0.0 OK\r\n421 4.7.0 Error: too many errors\r\n",
    )
    .await;
    assert!(c.closed().await);
    running.stop().await;
}

/// Send `byte` every `gap` until the server closes; what it said last.
async fn trickle(c: &mut Client, gap: Duration, limit: Duration) -> Vec<u8> {
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < limit {
        if c.tcp.write_all(b"x").await.is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(gap, c.tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    got
}

#[tokio::test]
async fn a_transaction_has_a_deadline_however_the_data_is_paced() {
    // data_timeout bounds each wait: one byte every 100 ms never trips a 5 s data_timeout,
    // and used to hold the connection for ever. The whole transaction now has a deadline.
    let (running, sink) = start(
        Config {
            data_timeout: Duration::from_secs(5),
            transaction_timeout: Some(Duration::from_millis(800)),
            ..config()
        },
        None,
    )
    .await;
    let port = running.local_addr.port();
    // DATA, then BDAT chunks (the commands between MAIL and the data count too).
    let paced: [(&[u8], &[u8]); 2] = [
        (
            b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
            b"250 mx.test\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n\
              354 End data with <CR><LF>.<CR><LF>\r\n",
        ),
        (
            b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n\
              BDAT 100000 LAST\r\n",
            b"250-mx.test\r\n250-PIPELINING\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n\
              250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 HELP\r\n\
              250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n",
        ),
    ];
    for (commands, replies) in paced {
        let mut c = Client::connect(port).await;
        c.expect(b"", GREETING).await;
        c.expect(commands, replies).await;
        let said = trickle(&mut c, Duration::from_millis(100), Duration::from_secs(20)).await;
        assert_eq!(
            String::from_utf8_lossy(&said),
            "421 4.4.2 mx.test Error: transaction time limit exceeded\r\n"
        );
    }
    let mut c = Client::connect(port).await;
    c.expect(b"", GREETING).await;
    c.expect(
        b"HELO c\r\nMAIL FROM:<a@example.org>\r\n",
        b"250 mx.test\r\n250 2.1.0 Sender OK\r\n",
    )
    .await;
    c.expect(
        b"",
        b"421 4.4.2 mx.test Error: transaction time limit exceeded\r\n",
    )
    .await;
    assert!(c.closed().await);
    assert_eq!(sink.count(), 0);
    running.stop().await;
}

/// Accepts one password, counting the checks.
struct OnePassword(std::sync::atomic::AtomicUsize);

impl super::Authenticator for OnePassword {
    fn authenticate<'a>(
        &'a self,
        _mechanism: &'a str,
        _username: &'a str,
        password: &'a str,
    ) -> super::BoxFuture<'a, Result<bool, String>> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ok = password == "right";
        Box::pin(async move { Ok(ok) })
    }
}

fn plain(password: &str) -> Vec<u8> {
    let mut line = b"AUTH PLAIN ".to_vec();
    line.extend(crate::codec::base64::encode(
        format!("\0u\0{password}").as_bytes(),
        None,
    ));
    line.extend_from_slice(b"\r\n");
    line
}

async fn ehlo(c: &mut Client) {
    c.tcp.write_all(b"EHLO c\r\n").await.unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"250 HELP\r\n") {
        let mut b = [0u8; 512];
        let n = c.tcp.read(&mut b).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&b[..n]);
    }
}

#[tokio::test]
async fn failed_auth_waits_and_an_address_has_a_budget() {
    let checks = Arc::new(OnePassword(Default::default()));
    let mut server = Server::new(Config {
        auth_require_tls: false,
        auth_failure_delay: Duration::from_millis(300),
        auth_budget: crate::net::limits::AuthBudget {
            failures: Some(3),
            window: Duration::from_secs(600),
        },
        ..config()
    });
    server.deliverer = Some(Arc::new(Sink::new(None)));
    server.authenticator = Some(checks.clone());
    let running = Arc::new(server).start("127.0.0.1", 0).await.unwrap();
    let port = running.local_addr.port();
    for attempt in 0..3 {
        let mut c = Client::connect(port).await;
        c.expect(b"", GREETING).await;
        ehlo(&mut c).await;
        let start = std::time::Instant::now();
        c.expect(
            &plain(&format!("wrong{attempt}")),
            b"535 5.7.8 Authentication credentials invalid\r\n",
        )
        .await;
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "the failure delay"
        );
    }
    // A fresh connection starts nothing fresh: the address has used its budget, and the
    // password (even the right one) is not checked.
    let mut c = Client::connect(port).await;
    c.expect(b"", GREETING).await;
    ehlo(&mut c).await;
    c.expect(
        &plain("right"),
        b"421 4.7.0 mx.test Error: too many failed authentications from 127.0.0.1, try again later\r\n",
    )
    .await;
    assert!(c.closed().await);
    assert_eq!(checks.0.load(std::sync::atomic::Ordering::SeqCst), 3);
    running.stop().await;
}
