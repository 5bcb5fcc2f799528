//! Server tests over loopback: raw-byte transcripts for the protocol rules, and the client
//! core against the server. The backend is an in-memory test double; the real Maildir store is
//! exercised from Python.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::net::TlsMode;
use crate::net::events::{EventLog, ServerEvent};
use crate::net::tls::{Trust, self_signed, server_config};
use crate::pop3::Error;
use crate::pop3::client::{ClientConfig, Connection, LoginMethod};

#[derive(Default)]
struct Mailbox {
    messages: Vec<(String, Vec<u8>)>,
    seen: HashSet<String>,
    locked: bool,
}

#[derive(Default)]
struct Memory {
    users: HashMap<String, (String, Option<String>)>,
    boxes: Arc<Mutex<HashMap<String, Mailbox>>>,
}

struct MemoryDrop {
    account: String,
    boxes: Arc<Mutex<HashMap<String, Mailbox>>>,
}

impl Drop for MemoryDrop {
    fn drop(&mut self) {
        if let Some(b) = self.boxes.lock().unwrap().get_mut(&self.account) {
            b.locked = false;
        }
    }
}

impl Maildrop for MemoryDrop {
    fn list(&self) -> Result<Vec<Entry>, MaildropError> {
        let boxes = self.boxes.lock().unwrap();
        Ok(boxes[&self.account]
            .messages
            .iter()
            .map(|(k, d)| Entry {
                key: k.clone(),
                uid: format!("uid-{k}"),
                size: crate::pop3::response::crlf_size(d),
            })
            .collect())
    }
    fn read(&self, key: &str) -> Result<Vec<u8>, MaildropError> {
        if key == "slow" {
            // a disk that takes its time (a message large enough for the blocking pool): for
            // the shutdown cut-off test
            std::thread::sleep(Duration::from_millis(1500));
        }
        let boxes = self.boxes.lock().unwrap();
        boxes[&self.account]
            .messages
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| MaildropError::temporary("gone"))
    }
    fn mark_seen(&self, keys: &[String]) -> Result<(), MaildropError> {
        let mut boxes = self.boxes.lock().unwrap();
        boxes
            .get_mut(&self.account)
            .unwrap()
            .seen
            .extend(keys.iter().cloned());
        Ok(())
    }
    fn remove(&self, keys: &[String]) -> Result<(), MaildropError> {
        let mut boxes = self.boxes.lock().unwrap();
        boxes
            .get_mut(&self.account)
            .unwrap()
            .messages
            .retain(|(k, _)| !keys.contains(k));
        Ok(())
    }
}

impl Backend for Memory {
    type Maildrop = MemoryDrop;
    fn verify_password(&self, user: &str, password: &str) -> Option<String> {
        match self.users.get(user) {
            Some((p, _)) if p == password => Some(user.to_owned()),
            _ => None,
        }
    }
    fn apop_secret(&self, user: &str) -> Option<(String, String)> {
        self.users
            .get(user)
            .and_then(|(_, s)| s.clone().map(|s| (user.to_owned(), s)))
    }
    fn open_maildrop(&self, account: &str) -> Result<MemoryDrop, MaildropError> {
        let mut boxes = self.boxes.lock().unwrap();
        let b = boxes.entry(account.to_owned()).or_default();
        if b.locked {
            return Err(MaildropError::InUse);
        }
        b.locked = true;
        Ok(MemoryDrop {
            account: account.to_owned(),
            boxes: self.boxes.clone(),
        })
    }
}

/// A message of exactly `size` octets in CRLF form (`lf`: stored with bare LF ends).
fn message(size: usize, subject: &str, lf: bool) -> Vec<u8> {
    let eol: &[u8] = if lf { b"\n" } else { b"\r\n" };
    let mut m = format!("Subject: {subject}").into_bytes();
    m.extend_from_slice(eol);
    m.extend_from_slice(eol);
    let mut crlf = crate::pop3::response::crlf_size(&m) as usize;
    while crlf + 2 < size {
        m.push(b'x');
        crlf += 1;
    }
    m.extend_from_slice(eol);
    assert_eq!(crate::pop3::response::crlf_size(&m) as usize, size);
    m
}

struct Started {
    port: u16,
    server: Running,
    boxes: Arc<Mutex<HashMap<String, Mailbox>>>,
}

impl Started {
    fn keys(&self, user: &str) -> Vec<String> {
        self.boxes.lock().unwrap()[user]
            .messages
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
    fn seen(&self, user: &str) -> HashSet<String> {
        self.boxes.lock().unwrap()[user].seen.clone()
    }
}

async fn start(config: ServerConfig) -> Started {
    let mut memory = Memory::default();
    memory.users.insert(
        "alice".into(),
        ("12345pass".into(), Some("tanstaaf".into())),
    );
    memory.users.insert("bob".into(), ("bobpw".into(), None));
    {
        let mut boxes = memory.boxes.lock().unwrap();
        boxes.insert(
            "alice".into(),
            Mailbox {
                messages: vec![
                    ("m1".into(), message(120, "first", true)),
                    ("m2".into(), message(500, "second", false)),
                ],
                ..Default::default()
            },
        );
        boxes.insert("bob".into(), Mailbox::default());
        memory
            .users
            .insert("carol".into(), ("carolpw".into(), None));
        boxes.insert(
            "carol".into(),
            Mailbox {
                messages: vec![("slow".into(), message(100_000, "slow", false))],
                ..Default::default()
            },
        );
    }
    let boxes = memory.boxes.clone();
    let server = super::start("127.0.0.1", 0, Arc::new(memory), Arc::new(config))
        .await
        .unwrap();
    Started {
        port: server.local_addr.port(),
        server,
        boxes,
    }
}

fn fast() -> ServerConfig {
    ServerConfig {
        auth_failure_delay: Duration::from_millis(10),
        ..ServerConfig::default()
    }
}

/// A raw client: sends lines, reads until a reply is complete.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(port: u16) -> (Raw, String) {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut raw = Raw {
            tcp,
            buf: Vec::new(),
        };
        let greeting = raw.line().await;
        (raw, greeting)
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(10), self.tcp.read(&mut chunk))
            .await
            .expect("server answered in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8(line[..i].to_vec()).unwrap();
            }
            if !self.fill().await {
                return String::new();
            }
        }
    }

    /// The lines of a multi-line response after its status line, terminator excluded.
    async fn body(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            if l == "." {
                return out;
            }
            out.push(l);
        }
    }

    async fn send(&mut self, data: &str) {
        self.tcp.write_all(data.as_bytes()).await.unwrap();
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.line().await
    }

    async fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill().await
    }
}

#[tokio::test]
async fn seed_chapter_session_transcript() {
    // The textbook's example session, byte for byte (its greeting plus an APOP timestamp).
    let srv = start(fast()).await;
    let (mut c, greeting) = Raw::connect(srv.port).await;
    assert!(
        greeting.starts_with("+OK POP3 server ready <"),
        "{greeting}"
    );
    assert!(greeting.ends_with('>'));
    assert_eq!(c.cmd("USER alice").await, "+OK");
    assert_eq!(
        c.cmd("PASS 12345pass").await,
        "+OK alice's maildrop has 2 messages (620 octets)"
    );
    assert_eq!(c.cmd("STAT").await, "+OK 2 620");
    assert_eq!(c.cmd("LIST").await, "+OK 2 messages (620 octets)");
    assert_eq!(c.body().await, ["1 120", "2 500"]);
    assert_eq!(c.cmd("RETR 1").await, "+OK 120 octets");
    let body = c.body().await.join("\r\n") + "\r\n";
    // stored with LF, sent with CRLF, and exactly as long as announced
    assert_eq!(body.len(), 120);
    assert!(body.starts_with("Subject: first\r\n\r\nxxx"));
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK POP3 server signing off (1 message left)"
    );
    assert!(c.closed().await);
    assert_eq!(srv.keys("alice"), ["m2"]);
    // RETR'd and not deleted would be marked seen; m1 was deleted, m2 never retrieved
    assert!(srv.seen("alice").is_empty());
}

#[tokio::test]
async fn deletions_only_at_quit() {
    let srv = start(fast()).await;
    // RFC 1939 §6: a session that ends without QUIT deletes nothing
    let (mut c, _) = Raw::connect(srv.port).await;
    c.cmd("USER alice").await;
    assert!(c.cmd("PASS 12345pass").await.starts_with("+OK"));
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(c.cmd("DELE 2").await, "+OK message 2 deleted");
    // deleted messages are hidden from later commands (RFC 1939 §5)
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
    assert_eq!(c.cmd("RETR 1").await, "-ERR Message 1 already deleted.");
    assert_eq!(c.cmd("LIST 2").await, "-ERR Message 2 already deleted.");
    assert_eq!(c.cmd("DELE 2").await, "-ERR Message 2 already deleted.");
    assert_eq!(c.cmd("LIST").await, "+OK 0 messages (0 octets)");
    assert!(c.body().await.is_empty());
    drop(c);
    // the lock is released once the server sees the connection gone
    let mut c = loop {
        let (mut c, _) = Raw::connect(srv.port).await;
        c.cmd("USER alice").await;
        let r = c.cmd("PASS 12345pass").await;
        if r.starts_with("+OK") {
            break c;
        }
        assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(srv.keys("alice"), ["m1", "m2"]);
    // RSET unmarks
    c.cmd("DELE 1").await;
    assert_eq!(
        c.cmd("RSET").await,
        "+OK maildrop has 2 messages (620 octets)"
    );
    assert_eq!(c.cmd("RETR 2").await, "+OK 500 octets");
    c.body().await;
    assert_eq!(c.cmd("DELE 1").await, "+OK message 1 deleted");
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK POP3 server signing off (1 message left)"
    );
    assert_eq!(srv.keys("alice"), ["m2"]);
    // retrieved messages are marked seen in the UPDATE state
    assert_eq!(srv.seen("alice"), HashSet::from(["m2".to_owned()]));
}

#[tokio::test]
async fn second_session_gets_in_use() {
    // RFC 3206 §4: IN-USE when the maildrop lock is held
    let srv = start(fast()).await;
    let (mut a, _) = Raw::connect(srv.port).await;
    a.cmd("USER alice").await;
    assert!(a.cmd("PASS 12345pass").await.starts_with("+OK"));
    let (mut b, _) = Raw::connect(srv.port).await;
    b.cmd("USER alice").await;
    assert_eq!(
        b.cmd("PASS 12345pass").await,
        "-ERR [IN-USE] Mailbox is locked by another POP3 session."
    );
    // still in AUTHORIZATION: it may try again after the first session quits
    assert_eq!(
        a.cmd("QUIT").await,
        "+OK POP3 server signing off (2 messages left)"
    );
    b.cmd("USER alice").await;
    assert!(b.cmd("PASS 12345pass").await.starts_with("+OK alice's"));
}

#[tokio::test]
async fn failed_logins_do_not_reveal_users() {
    let srv = start(fast()).await;
    let (mut c, _) = Raw::connect(srv.port).await;
    // USER is accepted for anyone (RFC 1939 §7 allows it): no user enumeration
    assert_eq!(c.cmd("USER nobody").await, "+OK");
    let unknown = c.cmd("PASS whatever").await;
    assert_eq!(c.cmd("USER alice").await, "+OK");
    let wrong = c.cmd("PASS wrong").await;
    assert_eq!(unknown, wrong);
    assert_eq!(unknown, "-ERR [AUTH] Authentication failed.");
    // the third failure ends the connection
    c.cmd("USER alice").await;
    assert_eq!(
        c.cmd("PASS again").await,
        "-ERR [AUTH] Authentication failed."
    );
    assert!(c.closed().await);
    // APOP: unknown user, user without APOP secret, bad digest: the same answer
    for line in [
        "APOP nobody c4c9334bac560ecc979e58001b3e22fb",
        "APOP bob c4c9334bac560ecc979e58001b3e22fb",
        "APOP alice c4c9334bac560ecc979e58001b3e22fb",
    ] {
        let (mut c, _) = Raw::connect(srv.port).await;
        assert_eq!(c.cmd(line).await, "-ERR [AUTH] Authentication failed.");
    }
}

#[tokio::test]
async fn apop_and_auth_plain() {
    let srv = start(fast()).await;
    let (mut c, greeting) = Raw::connect(srv.port).await;
    let ts = &greeting[greeting.find('<').unwrap()..];
    let digest = apop_digest(ts, "tanstaaf");
    assert_eq!(
        c.cmd(&format!("APOP alice {digest}")).await,
        "+OK alice's maildrop has 2 messages (620 octets)"
    );
    c.cmd("QUIT").await;
    // AUTH PLAIN with an initial response (RFC 5034 §4)
    let (mut c, _) = Raw::connect(srv.port).await;
    assert!(
        c.cmd("AUTH PLAIN AGFsaWNlADEyMzQ1cGFzcw==")
            .await
            .starts_with("+OK alice's")
    );
    c.cmd("QUIT").await;
    // ... and without one, and cancelled
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert_eq!(c.cmd("*").await, "-ERR Authentication cancelled.");
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(c.cmd("AHBvcAB4").await.starts_with("-ERR [AUTH]"));
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(
        c.cmd("YWxpY2UAYWxpY2UAMTIzNDVwYXNz")
            .await
            .starts_with("+OK alice's")
    );
    // AUTH with no mechanism lists them
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(c.cmd("AUTH").await, "+OK");
    assert_eq!(c.body().await, ["PLAIN"]);
    assert_eq!(
        c.cmd("AUTH CRAM-MD5").await,
        "-ERR Unsupported authentication mechanism."
    );
    // a proxy identity is refused
    assert!(
        c.cmd("AUTH PLAIN Ym9iAGFsaWNlADEyMzQ1cGFzcw==")
            .await
            .starts_with("-ERR")
    );
}

#[tokio::test]
async fn bad_input_gets_err_and_the_session_continues() {
    let srv = start(fast()).await;
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(c.cmd("XYZZY").await, "-ERR Unknown command: XYZZY");
    assert_eq!(
        c.cmd("STAT").await,
        "-ERR Not logged in: STAT needs USER/PASS, APOP or AUTH first."
    );
    assert_eq!(
        c.cmd("PASS x").await,
        "-ERR No user name given: USER first."
    );
    assert_eq!(c.cmd("").await, "-ERR Empty command.");
    let long = "USER ".to_owned() + &"a".repeat(5000);
    assert_eq!(c.cmd(&long).await, "-ERR Command line too long.");
    c.cmd("USER alice").await;
    c.cmd("PASS 12345pass").await;
    assert_eq!(c.cmd("RETR").await, "-ERR Syntax: RETR msg");
    assert_eq!(c.cmd("RETR x").await, "-ERR Syntax: RETR msg");
    assert_eq!(
        c.cmd("RETR 0").await,
        "-ERR No such message, only 2 in maildrop."
    );
    assert_eq!(
        c.cmd("RETR 3").await,
        "-ERR No such message, only 2 in maildrop."
    );
    assert_eq!(c.cmd("TOP 1").await, "-ERR Syntax: TOP msg n");
    assert_eq!(c.cmd("USER bob").await, "-ERR Already logged in.");
    assert_eq!(c.cmd("STLS").await, "-ERR STLS is only valid before login.");
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(
        c.cmd("QUIT").await,
        "+OK POP3 server signing off (2 messages left)"
    );
}

#[tokio::test]
async fn a_flood_of_bad_commands_ends_the_connection() {
    let srv = start(ServerConfig {
        max_errors: 5,
        ..fast()
    })
    .await;
    let (mut c, _) = Raw::connect(srv.port).await;
    // pipelined in one write: answered in order, then the connection closes
    c.send(&"BOGUS\r\n".repeat(50)).await;
    for _ in 0..5 {
        assert_eq!(c.line().await, "-ERR Unknown command: BOGUS");
    }
    assert_eq!(c.line().await, "-ERR Too many invalid commands, closing.");
    let mut rest = Vec::new();
    while c.fill().await {}
    rest.extend_from_slice(&c.buf);
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn capa_top_uidl_and_pipelining() {
    let srv = start(fast()).await;
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows");
    let caps = c.body().await;
    for cap in [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "PIPELINING",
        "USER",
        "SASL PLAIN",
        "EXPIRE NEVER",
    ] {
        assert!(caps.iter().any(|c| c == cap), "{cap} in {caps:?}");
    }
    // no certificate: no STLS
    assert!(!caps.iter().any(|c| c == "STLS"));
    // RFC 2449 §6.6: a pipelined batch is answered in order
    c.send("USER alice\r\nPASS 12345pass\r\nUIDL\r\nUIDL 2\r\nTOP 2 0\r\nLIST 1\r\n")
        .await;
    assert_eq!(c.line().await, "+OK");
    assert!(c.line().await.starts_with("+OK alice's"));
    assert_eq!(c.line().await, "+OK Unique-ID listing follows");
    assert_eq!(c.body().await, ["1 uid-m1", "2 uid-m2"]);
    assert_eq!(c.line().await, "+OK 2 uid-m2");
    assert_eq!(c.line().await, "+OK Top of message follows");
    assert_eq!(c.body().await, ["Subject: second", ""]);
    assert_eq!(c.line().await, "+OK 1 120");
    // after login, CAPA no longer offers login mechanisms
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows");
    let caps = c.body().await;
    assert!(!caps.iter().any(|c| c == "USER"));
}

#[tokio::test]
async fn idle_timeout_deletes_nothing() {
    let srv = start(ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..fast()
    })
    .await;
    let (mut c, _) = Raw::connect(srv.port).await;
    c.cmd("USER alice").await;
    c.cmd("PASS 12345pass").await;
    c.cmd("DELE 1").await;
    // RFC 1939 §3: the autologout timer closes the session without UPDATE
    assert_eq!(c.line().await, "-ERR Disconnected for inactivity.");
    assert!(c.closed().await);
    assert_eq!(srv.keys("alice"), ["m1", "m2"]);
}

#[tokio::test]
async fn shutdown_ends_idle_sessions_without_update() {
    let srv = start(fast()).await;
    let (mut c, _) = Raw::connect(srv.port).await;
    c.cmd("USER alice").await;
    c.cmd("PASS 12345pass").await;
    c.cmd("DELE 1").await;
    let stop = tokio::spawn(async move {
        srv.server.stop().await;
        srv
    });
    assert_eq!(c.line().await, "-ERR [SYS/TEMP] Server shutting down.");
    let srv = tokio::time::timeout(Duration::from_secs(10), stop)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(srv.server.active_tasks(), 0);
    assert_eq!(srv.keys("alice"), ["m1", "m2"]);
    // no longer accepting
    assert!(TcpStream::connect(("127.0.0.1", srv.port)).await.is_err());
}

#[tokio::test]
async fn stop_cuts_off_sessions_after_the_grace_period() {
    let srv = start(ServerConfig {
        shutdown_grace: Duration::from_millis(100),
        ..fast()
    })
    .await;
    let (mut c, _) = Raw::connect(srv.port).await;
    c.cmd("USER carol").await;
    assert!(c.cmd("PASS carolpw").await.starts_with("+OK"));
    c.cmd("DELE 1").await;
    assert!(c.cmd("RSET").await.starts_with("+OK"));
    c.send("RETR 1\r\n").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    srv.server.stop().await;
    // the slow RETR was cut off: stop did not wait for it
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    let rest = c.line().await;
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(srv.keys("carol"), ["slow"]);
}

#[tokio::test]
async fn plaintext_passwords_need_tls_from_other_hosts() {
    // Like Dovecot's disable_plaintext_auth: a client on another address may not send a
    // password in the clear. 127.0.0.2 is another address on the loopback interface.
    let srv = start(fast()).await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = sock
        .connect(format!("127.0.0.1:{}", srv.port).parse().unwrap())
        .await
        .unwrap();
    let mut c = Raw {
        tcp,
        buf: Vec::new(),
    };
    assert!(c.line().await.starts_with("+OK"));
    let refused =
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";
    assert_eq!(c.cmd("USER alice").await, refused);
    assert_eq!(c.cmd("AUTH PLAIN AGFsaWNlADEyMzQ1cGFzcw==").await, refused);
    assert_eq!(c.cmd("CAPA").await, "+OK Capability list follows");
    let caps = c.body().await;
    assert!(!caps.iter().any(|c| c == "USER" || c.starts_with("SASL")));
    // APOP sends no password: allowed
    let srv_greeting_ts = {
        // a fresh connection from the same foreign address to learn its timestamp
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let tcp = sock
            .connect(format!("127.0.0.1:{}", srv.port).parse().unwrap())
            .await
            .unwrap();
        let mut c2 = Raw {
            tcp,
            buf: Vec::new(),
        };
        let g = c2.line().await;
        (c2, g[g.find('<').unwrap()..].to_owned())
    };
    let (mut c2, ts) = srv_greeting_ts;
    let digest = apop_digest(&ts, "tanstaaf");
    assert!(
        c2.cmd(&format!("APOP alice {digest}"))
            .await
            .starts_with("+OK alice's")
    );
}

fn tls_config() -> (Arc<rustls::ServerConfig>, String) {
    let (cert, key) = self_signed(&["localhost".into()]).unwrap();
    (
        server_config(cert.as_bytes(), key.as_bytes()).unwrap(),
        cert,
    )
}

fn client(port: u16, tls: TlsMode, cert: &str) -> Arc<ClientConfig> {
    let mut cfg = ClientConfig::new("localhost", port);
    cfg.endpoint.tls = tls;
    cfg.endpoint.trust = Trust::CaPem(cert.as_bytes().to_vec());
    cfg.endpoint.io_timeout = Some(Duration::from_secs(10));
    Arc::new(cfg)
}

#[tokio::test]
async fn client_against_server_with_stls() {
    let (tls, cert) = tls_config();
    let srv = start(ServerConfig {
        tls: Some(tls),
        ..fast()
    })
    .await;
    let mut conn = Connection::connect(client(srv.port, TlsMode::StartTls, &cert))
        .await
        .unwrap();
    assert!(conn.is_tls());
    assert!(conn.apop_timestamp().is_some());
    // after STLS the capabilities are asked again and STLS is gone (RFC 2595 §4)
    let caps = conn.capa().await.unwrap();
    assert!(!caps.has("STLS") && caps.has_sasl("PLAIN"));
    conn.login("alice", "12345pass", LoginMethod::Auto)
        .await
        .unwrap();
    assert_eq!(conn.stat().await.unwrap(), (2, 620));
    assert_eq!(conn.list().await.unwrap(), vec![(1, 120), (2, 500)]);
    assert_eq!(conn.list_one(2).await.unwrap(), 500);
    assert_eq!(conn.uidl_one(1).await.unwrap(), "uid-m1");
    let all = conn.retr_many(&[1, 2], Some(&[120, 500])).await.unwrap();
    assert_eq!(all[0].len(), 120);
    assert_eq!(all[1], message(500, "second", false));
    assert_eq!(conn.top(1, 0).await.unwrap(), b"Subject: first\r\n\r\n");
    let err = conn.retr(9).await.unwrap_err();
    assert!(matches!(err, Error::Err(_)), "{err}");
    // an -ERR leaves the connection usable
    conn.dele(1).await.unwrap();
    conn.quit().await.unwrap();
    assert_eq!(srv.keys("alice"), ["m2"]);
}

#[tokio::test]
async fn client_refuses_plaintext_passwords_and_allows_apop() {
    let srv = start(fast()).await;
    let mut cfg = ClientConfig::new("127.0.0.1", srv.port);
    cfg.endpoint.tls = TlsMode::None;
    let mut conn = Connection::connect(Arc::new(cfg)).await.unwrap();
    let err = conn
        .login("alice", "12345pass", LoginMethod::UserPass)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsecureAuth));
    conn.apop("alice", "tanstaaf").await.unwrap();
    assert_eq!(conn.stat().await.unwrap(), (2, 620));
    conn.abort();
    assert!(matches!(conn.noop().await, Err(Error::Closed)));
}

#[tokio::test]
async fn stls_injection_is_refused() {
    // RFC 2595 §4 / CVE-2011-0411: a command sent with STLS in the same packet must not be
    // executed inside the TLS session. The server drops the connection.
    let (tls, _) = tls_config();
    let srv = start(ServerConfig {
        tls: Some(tls),
        ..fast()
    })
    .await;
    let (mut c, _) = Raw::connect(srv.port).await;
    c.send("STLS\r\nUSER alice\r\n").await;
    assert_eq!(c.line().await, "+OK Begin TLS negotiation now.");
    assert!(c.closed().await);
}

#[tokio::test]
async fn implicit_tls_and_connection_limit() {
    let (tls, cert) = tls_config();
    let srv = start(ServerConfig {
        tls: Some(tls),
        implicit_tls: true,
        max_connections: 1,
        ..fast()
    })
    .await;
    let mut conn = Connection::connect(client(srv.port, TlsMode::Implicit, &cert))
        .await
        .unwrap();
    assert!(conn.is_tls());
    // the second connection is over the limit
    let (mut c, line) = Raw::connect(srv.port).await;
    assert_eq!(
        line,
        "-ERR [SYS/TEMP] Too many connections, try again later."
    );
    assert!(c.closed().await);
    conn.login("bob", "bobpw", LoginMethod::UserPass)
        .await
        .unwrap();
    assert_eq!(conn.stat().await.unwrap(), (0, 0));
    conn.quit().await.unwrap();
}

/// A scripted server: answers each expected command line with the given reply, in order.
async fn scripted(
    script: Vec<(&'static str, &'static str)>,
) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut lines = LineReader::new(tcp);
        lines
            .get_mut()
            .write_all(b"+OK RFC 1939 only\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        for (_, reply) in script {
            let line = lines.read_line(1024).await.unwrap();
            seen.push(String::from_utf8(line).unwrap());
            lines.get_mut().write_all(reply.as_bytes()).await.unwrap();
        }
        seen
    });
    (port, task)
}

#[tokio::test]
async fn client_with_a_server_without_capa() {
    // RFC 2449 §5: a server without CAPA answers -ERR; the client then has no capabilities,
    // logs in with USER/PASS and does not pipeline.
    let (port, server) = scripted(vec![
        ("CAPA", "-ERR unknown command\r\n"),
        ("USER", "+OK\r\n"),
        ("PASS", "+OK 2 messages\r\n"),
        // Without size hints, LIST gives the sizes that bound each RETR.
        ("LIST", "+OK\r\n1 20\r\n2 30\r\n.\r\n"),
        ("CAPA", "-ERR unknown command\r\n"),
        ("RETR 1", "+OK\r\nSubject: a\r\n\r\n..dot\r\n.\r\n"),
        ("RETR 2", "-ERR no such message\r\n"),
        ("QUIT", "+OK bye\r\n"),
    ])
    .await;
    let mut cfg = ClientConfig::new("127.0.0.1", port);
    cfg.endpoint.tls = TlsMode::Opportunistic;
    cfg.endpoint.allow_insecure_auth = true;
    let mut conn = Connection::connect(Arc::new(cfg)).await.unwrap();
    assert!(!conn.is_tls());
    assert_eq!(conn.apop_timestamp(), None);
    assert!(matches!(
        conn.apop("a", "b").await,
        Err(Error::NotSupported(_))
    ));
    conn.login("alice", "pw", LoginMethod::Auto).await.unwrap();
    let err = conn.retr_many(&[1, 2], None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Err(s) if s.text == "no such message"),
        "{err}"
    );
    conn.quit().await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(
        seen,
        [
            "CAPA",
            "USER alice",
            "PASS pw",
            "LIST",
            "CAPA",
            "RETR 1",
            "RETR 2",
            "QUIT"
        ]
    );
}

#[derive(Default)]
struct Collect(Mutex<Vec<ServerEvent>>);

impl EventLog for Collect {
    fn event(&self, event: ServerEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn transcript_and_event_log_of_the_seed_session() {
    use crate::net::transcript::Transcript;
    let log = Arc::new(Collect::default());
    let srv = start(ServerConfig {
        events: Some(log.clone()),
        ..fast()
    })
    .await;
    let transcript = Arc::new(Transcript::new());
    let mut cfg = ClientConfig::new("127.0.0.1", srv.port);
    cfg.endpoint.tls = TlsMode::None;
    cfg.endpoint.allow_insecure_auth = true;
    cfg.endpoint.transcript = Some(transcript.clone());
    let mut conn = Connection::connect(Arc::new(cfg)).await.unwrap();
    let bad = conn.login("alice", "guess", LoginMethod::UserPass).await;
    assert!(matches!(bad, Err(Error::Err(_))));
    conn.login("alice", "12345pass", LoginMethod::UserPass)
        .await
        .unwrap();
    conn.stat().await.unwrap();
    conn.list().await.unwrap();
    let first = conn.retr(1).await.unwrap();
    conn.dele(1).await.unwrap();
    conn.quit().await.unwrap();

    let lines: Vec<String> = transcript
        .lines()
        .into_iter()
        .map(|(d, l)| format!("{}: {l}", d.label()))
        .collect();
    assert!(
        lines[0].starts_with("S: +OK POP3 server ready <"),
        "{lines:?}"
    );
    // CAPA is asked once to choose STLS; then the seed chapter's session (RFC 1939 §10).
    let from_login = lines.iter().position(|l| l == "C: USER alice").unwrap();
    let retr = lines.iter().position(|l| l == "C: RETR 1").unwrap();
    assert_eq!(
        lines[from_login..retr],
        [
            "C: USER alice",
            "S: +OK",
            "C: PASS ********",
            "S: -ERR [AUTH] Authentication failed.",
            "C: USER alice",
            "S: +OK",
            "C: PASS ********",
            "S: +OK alice's maildrop has 2 messages (620 octets)",
            "C: STAT",
            "S: +OK 2 620",
            "C: LIST",
            "S: +OK 2 messages (620 octets)",
            "S: 1 120",
            "S: 2 500",
            "S: .",
        ]
    );
    // RETR's data lines as sent, then the terminator; the password never appears.
    assert_eq!(lines[retr + 1], "S: +OK 120 octets");
    assert_eq!(lines[retr + 2], "S: Subject: first");
    let body_lines = first.split(|&b| b == b'\n').count() - 1;
    assert_eq!(lines[retr + 2 + body_lines], "S: .");
    assert_eq!(
        lines[retr + 3 + body_lines..],
        [
            "C: DELE 1",
            "S: +OK message 1 deleted",
            "C: QUIT",
            "S: +OK POP3 server signing off (1 message left)",
        ]
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("12345pass") || l.contains("guess"))
    );

    let events = log.0.lock().unwrap().clone();
    let summary: Vec<(&str, Option<&str>, Option<&str>, u64)> = events
        .iter()
        .map(|e| (e.kind.name(), e.user.as_deref(), e.id.as_deref(), e.size))
        .collect();
    assert_eq!(
        summary,
        [
            ("login_failed", Some("alice"), None, 0),
            ("login", Some("alice"), None, 0),
            ("retrieved", Some("alice"), Some("uid-m1"), 120),
            ("deleted", Some("alice"), Some("uid-m1"), 120),
        ]
    );
    assert_eq!(events[1].mechanism, Some("USER"));
    assert!(events.iter().all(|e| e.peer.ip().is_loopback() && !e.tls));
}

// ---- hostile clients and servers (issue 12) -------------------------------------------------

#[tokio::test]
async fn sessions_per_client_address() {
    let srv = start(ServerConfig {
        max_connections_per_address: Some(1),
        ..fast()
    })
    .await;
    let (mut first, greeting) = Raw::connect(srv.port).await;
    assert!(greeting.starts_with("+OK"));
    let (mut second, line) = Raw::connect(srv.port).await;
    assert_eq!(
        line,
        "-ERR [SYS/TEMP] Too many connections from your address."
    );
    assert!(second.closed().await);
    assert_eq!(first.cmd("QUIT").await, "+OK POP3 server signing off");
    srv.server.stop().await;
}

#[tokio::test]
async fn junk_commands_count_as_errors_past_the_limit() {
    let srv = start(ServerConfig {
        max_junk_commands: Some(2),
        max_errors: 2,
        ..fast()
    })
    .await;
    let (mut c, _) = Raw::connect(srv.port).await;
    assert_eq!(c.cmd("USER bob").await, "+OK");
    assert!(c.cmd("PASS bobpw").await.starts_with("+OK"));
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert!(c.cmd("RSET").await.starts_with("+OK"));
    // real work starts the count again
    assert!(c.cmd("DELE 1").await.starts_with("-ERR"));
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(c.cmd("NOOP").await, "+OK");
    assert_eq!(c.line().await, "-ERR Too many invalid commands, closing.");
    assert!(c.closed().await);
    // nothing changed: no UPDATE state
    srv.server.stop().await;
}

#[tokio::test]
async fn failed_logins_share_a_budget_per_address() {
    // Two servers on the same accounts share one table: a guesser neither reconnects nor
    // switches server to start afresh.
    let failures = AuthFailures::new();
    let config = || ServerConfig {
        auth_budget: AuthBudget {
            failures: Some(2),
            window: Duration::from_secs(600),
        },
        auth_failures: failures.clone(),
        ..fast()
    };
    let a = start(config()).await;
    let b = start(config()).await;
    for port in [a.port, b.port] {
        let (mut c, _) = Raw::connect(port).await;
        assert_eq!(c.cmd("USER alice").await, "+OK");
        assert_eq!(
            c.cmd("PASS guess").await,
            "-ERR [AUTH] Authentication failed."
        );
    }
    for port in [a.port, b.port] {
        let (mut c, _) = Raw::connect(port).await;
        assert_eq!(c.cmd("USER alice").await, "+OK");
        // the right password is not even checked
        assert_eq!(
            c.cmd("PASS 12345pass").await,
            "-ERR [SYS/TEMP] Too many failed logins from your address, try again later."
        );
        assert!(c.closed().await);
        let (mut c, _) = Raw::connect(port).await;
        assert_eq!(
            c.cmd("APOP alice c4c9334bac560ecc979e58001b3e22fb").await,
            "-ERR [SYS/TEMP] Too many failed logins from your address, try again later."
        );
    }
    a.server.stop().await;
    b.server.stop().await;
}

/// A server that answers LIST with `listed` octets for message 1, then sends a RETR response
/// that never ends; the client must stop reading. Returns how much it sent.
async fn endless_retr(listed: u64) -> (u16, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut lines = LineReader::new(tcp);
        if send(&mut lines, b"+OK hostile\r\n").await.is_err() {
            return 0;
        }
        let mut sent = 0;
        loop {
            let Ok(line) = lines.read_line(1024).await else {
                return sent;
            };
            let reply = match &line[..4.min(line.len())] {
                b"CAPA" => b"+OK\r\nUSER\r\n.\r\n".to_vec(),
                b"LIST" if line.len() > 4 => format!("+OK 1 {listed}\r\n").into_bytes(),
                b"LIST" => format!("+OK\r\n1 {listed}\r\n.\r\n").into_bytes(),
                b"RETR" | b"TOP " => {
                    if send(&mut lines, b"+OK\r\n").await.is_err() {
                        return sent;
                    }
                    let chunk = [b"y".repeat(998), b"\r\n".to_vec()].concat().repeat(64);
                    // Until the client hangs up, or 1 GiB: the test fails well before.
                    while sent < 1 << 30 {
                        if send(&mut lines, &chunk).await.is_err() {
                            return sent;
                        }
                        sent += chunk.len();
                    }
                    return sent;
                }
                _ => b"+OK\r\n".to_vec(),
            };
            if send(&mut lines, &reply).await.is_err() {
                return sent;
            }
        }
    });
    (port, task)
}

async fn send(lines: &mut LineReader<TcpStream>, data: &[u8]) -> std::io::Result<()> {
    lines.get_mut().write_all(data).await
}

#[tokio::test]
async fn retr_is_bounded_by_the_list_size() {
    // A hostile server's RETR that never ends used to be buffered until memory ran out.
    for how in ["retr", "listed first", "retr_many", "top"] {
        let (port, server) = endless_retr(5000).await;
        let mut cfg = ClientConfig::new("127.0.0.1", port);
        cfg.endpoint.tls = TlsMode::None;
        cfg.endpoint.allow_insecure_auth = true;
        let mut conn = Connection::connect(Arc::new(cfg)).await.unwrap();
        conn.login("u", "p", LoginMethod::UserPass).await.unwrap();
        let err = match how {
            "retr" => conn.retr(1).await.unwrap_err(),
            "listed first" => {
                assert_eq!(conn.list().await.unwrap(), [(1, 5000)]);
                conn.retr(1).await.unwrap_err()
            }
            "retr_many" => conn.retr_many(&[1], None).await.unwrap_err(),
            _ => conn.top(1, 10).await.unwrap_err(),
        };
        let limit = crate::pop3::client::retr_limit(5000);
        assert!(
            matches!(&err, Error::Protocol(m) if m.contains(&format!("more than {limit} octets")) && m.contains("LIST: 5000 octets")),
            "{how}: {err}"
        );
        drop(conn);
        let sent = server.await.unwrap();
        assert!(sent < 4 << 20, "{how}: the client read on ({sent} octets)");
    }
}
