//! The IMAP client against a scripted server on loopback: exact bytes both ways, replies
//! split across packets, literals of 0 octets and of 50 MiB, synchronising literals, a server
//! that never answers, BYE in the middle of a command, garbage, IDLE, pipelining, STARTTLS.

use std::sync::Arc;
use std::time::Duration;

use mailprims::imap::command::StatusItem;
use mailprims::imap::frame::FrameLimits;
use mailprims::imap::{
    ClientConfig, Connection, Error, FetchAttribute, IdleEvent, LoginMethod, ResponseCode,
    SearchKey, SequenceSet, Status, TlsMode,
};
use mailprims::net::tls::{Trust, self_signed, server_config};
use mailprims::net::transcript::Transcript;
use mailprims::net::{LineReader, Stream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One step of a server's script.
enum Step {
    /// Send these octets in one write.
    Send(Vec<u8>),
    /// Send in pieces of `n` octets, each flushed on its own (split across packets).
    Trickle(Vec<u8>, usize),
    /// Read one line and require it (without its CRLF).
    Expect(Vec<u8>),
    /// Read exactly these octets (literal data).
    ExpectRaw(Vec<u8>),
    /// Read a line starting with this (its rest is not checked).
    ExpectPrefix(Vec<u8>),
    /// Close the connection.
    Close,
    /// Wait for the client to go away, answering nothing.
    Silence,
    /// Pause (to let the client act in between).
    Pause(Duration),
    /// The server side of a TLS handshake.
    StartTls(Arc<rustls::ServerConfig>),
}

fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

fn expect(s: &str) -> Step {
    Step::Expect(s.as_bytes().to_vec())
}

/// Serve one connection by the script; the task's result says where the client strayed.
async fn scripted(steps: Vec<Step>) -> (u16, JoinHandle<Result<(), String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).ok();
        let mut lines = LineReader::new(Stream::Plain(tcp));
        for (i, step) in steps.into_iter().enumerate() {
            let fail = |what: String| format!("step {i}: {what}");
            match step {
                Step::Send(data) => {
                    let s = lines.get_mut();
                    s.write_all(&data).await.map_err(|e| fail(e.to_string()))?;
                    s.flush().await.map_err(|e| fail(e.to_string()))?;
                }
                Step::Trickle(data, n) => {
                    for piece in data.chunks(n) {
                        let s = lines.get_mut();
                        s.write_all(piece).await.map_err(|e| fail(e.to_string()))?;
                        s.flush().await.map_err(|e| fail(e.to_string()))?;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                Step::Expect(want) => {
                    let got = lines
                        .read_line(1 << 20)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    if got != want {
                        return Err(fail(format!(
                            "expected {:?}, got {:?}",
                            String::from_utf8_lossy(&want),
                            String::from_utf8_lossy(&got)
                        )));
                    }
                }
                Step::ExpectPrefix(want) => {
                    let got = lines
                        .read_line(1 << 20)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    if !got.starts_with(&want) {
                        return Err(fail(format!(
                            "expected {:?}..., got {:?}",
                            String::from_utf8_lossy(&want),
                            String::from_utf8_lossy(&got)
                        )));
                    }
                }
                Step::ExpectRaw(want) => {
                    let mut got = Vec::new();
                    lines
                        .read_exact_with(want.len(), |b| {
                            got.extend_from_slice(b);
                            Ok(())
                        })
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    if got != want {
                        return Err(fail(format!(
                            "literal differs: {:?}",
                            String::from_utf8_lossy(&got)
                        )));
                    }
                }
                Step::Close => return Ok(()),
                Step::Silence => {
                    while lines.fill().await.map(|n| n > 0).unwrap_or(false) {
                        lines.discard_buffer();
                    }
                    return Ok(());
                }
                Step::Pause(d) => tokio::time::sleep(d).await,
                Step::StartTls(config) => {
                    let stream = match lines.into_inner() {
                        Ok(s) => s,
                        Err(_) => return Err(fail("data before the handshake".into())),
                    };
                    let tls = stream
                        .start_tls_server(config, None)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    lines = LineReader::new(tls);
                }
            }
        }
        Ok(())
    });
    (port, task)
}

fn config(port: u16) -> ClientConfig {
    let mut c = ClientConfig::new("127.0.0.1", port);
    c.endpoint.tls = TlsMode::None;
    c.endpoint.allow_insecure_auth = true;
    c.endpoint.io_timeout = Some(Duration::from_secs(20));
    c
}

async fn connect(_port: u16, c: ClientConfig) -> Connection {
    Connection::connect(Arc::new(c)).await.unwrap()
}

async fn finish(task: JoinHandle<Result<(), String>>) {
    task.await.unwrap().unwrap();
}

const GREETING: &str = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+ IDLE UIDPLUS] ready\r\n";

fn login_steps() -> Vec<Step> {
    vec![
        send(GREETING),
        expect("A0001 LOGIN fred secret"),
        send("A0001 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS ESEARCH] Logged in\r\n"),
    ]
}

fn select_steps(tag: &str) -> Vec<Step> {
    vec![
        expect(&format!("{tag} SELECT INBOX")),
        Step::Trickle(
            format!(
                "* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] Message 12 is first unseen\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [UIDNEXT 4392] Predicted next UID\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n{tag} OK [READ-WRITE] SELECT completed\r\n"
            )
            .into_bytes(),
            3,
        ),
    ]
}

#[tokio::test]
async fn login_and_select_with_replies_split_across_packets() {
    let mut steps = vec![Step::Trickle(GREETING.as_bytes().to_vec(), 1)];
    steps.extend([
        expect("A0001 LOGIN fred secret"),
        Step::Trickle(
            b"A0001 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS] Logged in\r\n".to_vec(),
            2,
        ),
    ]);
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 LOGOUT"),
        send("* BYE bye\r\nA0003 OK done\r\n"),
        Step::Close,
    ]);
    let (port, task) = scripted(steps).await;
    let transcript = Arc::new(Transcript::new());
    let mut c = config(port);
    c.endpoint.transcript = Some(transcript.clone());
    let mut conn = connect(port, c).await;
    assert_eq!(conn.greeting().text, "ready");
    assert!(conn.cached_capabilities().unwrap().has("IDLE"));
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    let s = conn.select("inbox").await.unwrap();
    assert_eq!((s.exists, s.recent, s.unseen), (172, Some(1), Some(12)));
    assert_eq!(
        (s.uid_validity, s.uid_next, s.read_only),
        (Some(3_857_529_045), Some(4392), false)
    );
    assert_eq!(s.flags.len(), 5);
    assert_eq!(s.permanent_flags, ["\\Deleted", "\\Seen", "\\*"]);
    conn.logout().await.unwrap();
    assert!(!conn.is_open());
    finish(task).await;
    let lines: Vec<String> = transcript
        .lines()
        .into_iter()
        .map(|(d, l)| format!("{}: {l}", d.label()))
        .collect();
    assert!(
        lines.contains(&"C: A0001 LOGIN fred ********".to_owned()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("secret")));
    assert!(lines.contains(&"S: * 172 EXISTS".to_owned()));
}

#[tokio::test]
async fn synchronising_literals_wait_for_the_continuation() {
    // No LITERAL+: a password with a quote and CRLF goes as {n}, after the server's "+".
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
        expect("A0001 LOGIN fred {16}"),
        send("+ go ahead\r\n"),
        Step::ExpectRaw(b"pa\"ss\r\nA2 LOGOUT".to_vec()),
        expect(""),
        send("A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
        // The server refuses a literal instead of sending "+": the command fails, the
        // session goes on.
        expect("A0002 APPEND INBOX {5}"),
        send("A0002 NO [TOOBIG] message too large\r\n"),
        expect("A0003 NOOP"),
        send("A0003 OK done\r\n"),
    ];
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "pa\"ss\r\nA2 LOGOUT", LoginMethod::Login)
        .await
        .unwrap();
    let err = conn.append("INBOX", b"hello", &[], None).await.unwrap_err();
    let Error::Response(status) = &err else {
        panic!("{err}")
    };
    assert_eq!(status.status, Status::No);
    assert_eq!(status.code.as_ref().unwrap().name(), "TOOBIG");
    conn.noop().await.unwrap();
    finish(task).await;
}

#[tokio::test]
async fn literal_plus_append_and_uidplus_results() {
    let mut steps = login_steps();
    steps.extend([
        expect("A0002 APPEND Drafts (\\Seen $Draft) \" 7-Jul-1996 02:44:25 -0700\" {7+}"),
        Step::ExpectRaw(b"Hi\r\nyou".to_vec()),
        expect(""),
        send("A0002 OK [APPENDUID 38505 3955] APPEND completed\r\n"),
    ]);
    steps.extend(select_steps("A0003"));
    steps.extend([
        expect("A0004 UID COPY 304,319:320 Archive"),
        send("A0004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"),
        // No MOVE: COPY, STORE \Deleted, UID EXPUNGE (UIDPLUS).
        expect("A0005 UID COPY 7 Trash"),
        send("A0005 OK [COPYUID 38505 7 99] Done\r\n"),
        expect("A0006 UID STORE 7 +FLAGS.SILENT (\\Deleted)"),
        send("A0006 OK Store completed\r\n"),
        expect("A0007 UID EXPUNGE 7"),
        send("* 3 EXPUNGE\r\nA0007 OK Expunged\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    let date = mailprims::imap::DateTime {
        year: 1996,
        month: 7,
        day: 7,
        hour: 2,
        minute: 44,
        second: 25,
        offset_minutes: -420,
    };
    let a = conn
        .append("Drafts", b"Hi\r\nyou", &["\\Seen", "$Draft"], Some(&date))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.uid_validity, a.uids.to_string()),
        (38505, "3955".to_owned())
    );
    conn.select("INBOX").await.unwrap();
    let set: SequenceSet = "304,319:320".parse().unwrap();
    let c = conn.copy(&set, "Archive").await.unwrap().unwrap();
    assert_eq!(c.destination.to_string(), "3956:3958");
    let m = conn
        .move_messages(&SequenceSet::single(7).unwrap(), "Trash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.destination.to_string(), "99");
    assert_eq!(conn.selected().unwrap().exists, 171);
    finish(task).await;
}

#[tokio::test]
async fn literals_of_zero_and_fifty_mebibytes() {
    let big: Vec<u8> = (0..50u32 << 20)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\r\n"[(i % 28) as usize])
        .collect();
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    let mut reply = b"* 1 FETCH (UID 10 BODY[] {0}\r\n)\r\n* 2 FETCH (UID 11 FLAGS (\\Seen) BODY[] {52428800}\r\n".to_vec();
    reply.extend_from_slice(&big);
    reply.extend_from_slice(b" MODSEQ (5))\r\nA0003 OK done\r\n");
    steps.extend([
        expect("A0003 UID FETCH 10:11 (UID BODY.PEEK[])"),
        Step::Send(reply.clone()),
    ]);
    // The same through the streaming API.
    let mut streamed =
        b"* 1 FETCH (UID 10 BODY[] {0}\r\n)\r\n* 2 FETCH (UID 11 BODY[] {52428800}\r\n".to_vec();
    streamed.extend_from_slice(&big);
    streamed.extend_from_slice(b")\r\nA0004 OK done\r\n");
    steps.extend([
        expect("A0004 UID FETCH 10:11 (UID BODY.PEEK[])"),
        Step::Send(streamed),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let set: SequenceSet = "10:11".parse().unwrap();
    let got = conn
        .fetch(
            &set,
            &[FetchAttribute::Uid, FetchAttribute::whole_message()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].uid, got[0].body()), (Some(10), Some(&b""[..])));
    assert_eq!((got[1].uid, got[1].modseq), (Some(11), Some(5)));
    assert!(got[1].body() == Some(&big[..]));
    let mut stream = conn.fetch_messages(&[10, 11]).await.unwrap();
    let (uid, body) = stream.next(&mut conn).await.unwrap().unwrap();
    assert_eq!((uid, body.len()), (10, 0));
    let (uid, body) = stream.next(&mut conn).await.unwrap().unwrap();
    assert_eq!(uid, 11);
    assert!(body == big);
    // Read into a buffer of the exact size, not a doubled one.
    assert_eq!(body.capacity(), big.len());
    assert!(stream.next(&mut conn).await.unwrap().is_none());
    finish(task).await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (port, task) = scripted(vec![send(GREETING), Step::Silence]).await;
    let mut c = config(port);
    c.endpoint.io_timeout = Some(Duration::from_millis(300));
    let mut conn = connect(port, c).await;
    let err = conn.noop().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(!conn.is_open());
    assert!(matches!(conn.noop().await, Err(Error::Closed)));
    drop(conn);
    finish(task).await;
    // No greeting at all.
    let (port, task) = scripted(vec![Step::Silence]).await;
    let mut c = config(port);
    c.endpoint.io_timeout = Some(Duration::from_millis(300));
    let err = Connection::connect(Arc::new(c)).await.err().unwrap();
    assert!(err.is_timeout(), "{err}");
    finish(task).await;
}

#[tokio::test]
async fn bye_in_the_middle_of_a_command() {
    let mut steps = login_steps();
    steps.extend([
        expect("A0002 LIST \"\" *"),
        send("* LIST () \"/\" INBOX\r\n* BYE [UNAVAILABLE] shutting down\r\n"),
        Step::Close,
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    let err = conn.list("", "*").await.unwrap_err();
    let Error::Bye(status) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (status.code.clone(), status.text.as_str()),
        (Some(ResponseCode::Unavailable), "shutting down")
    );
    assert!(matches!(conn.noop().await, Err(Error::Bye(_))));
    finish(task).await;
    // BYE as the greeting.
    let (port, task) = scripted(vec![send("* BYE too busy\r\n"), Step::Close]).await;
    let err = Connection::connect(Arc::new(config(port)))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::Bye(ref s) if s.text == "too busy"),
        "{err}"
    );
    finish(task).await;
}

#[tokio::test]
async fn garbage_is_a_typed_error() {
    // As the greeting.
    let (port, task) = scripted(vec![
        Step::Send(b"\x00\x01garbage \xff\r\n".to_vec()),
        Step::Silence,
    ])
    .await;
    let err = Connection::connect(Arc::new(config(port)))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    finish(task).await;
    // Inside a command: the response that does not parse fails the command, the session
    // stays in step.
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID FETCH 1 (FLAGS)"),
        send("* 1 FETCH (UID 1 FLAGS (\\Seen) ((((\r\n* 2 FETCH (UID x)\r\nA0003 OK done\r\n"),
        expect("A0004 NOOP"),
        send("A0004 OK fine\r\n"),
        // A line over the limit closes the connection.
        expect("A0005 NOOP"),
        Step::Send([b"* OK ".to_vec(), vec![b'x'; 5000], b"\r\n".to_vec()].concat()),
        Step::Silence,
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.limits = FrameLimits {
        max_line: 4096,
        ..FrameLimits::default()
    };
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let err = conn
        .fetch(
            &SequenceSet::single(1).unwrap(),
            &[FetchAttribute::Flags],
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    conn.noop().await.unwrap();
    let err = conn.noop().await.unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("4096")),
        "{err}"
    );
    assert!(!conn.is_open());
    drop(conn);
    finish(task).await;
}

#[tokio::test]
async fn literal_over_the_limit_is_refused() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
        send("* 1 FETCH (UID 1 BODY[] {99999999999}\r\n"),
        Step::Silence,
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.limits = FrameLimits {
        max_literal: 1 << 20,
        ..FrameLimits::default()
    };
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let err = conn
        .fetch(
            &SequenceSet::single(1).unwrap(),
            &[FetchAttribute::Uid, FetchAttribute::whole_message()],
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("99999999999")),
        "{err}"
    );
    drop(conn);
    finish(task).await;
}

#[tokio::test]
async fn literals_of_one_response_are_bounded_together() {
    // Two literals each under the limit, together over it.
    let piece = vec![b'x'; 600 << 10];
    let mut reply = b"* 1 FETCH (UID 1 BODY[1] {614400}\r\n".to_vec();
    reply.extend_from_slice(&piece);
    reply.extend_from_slice(b" BODY[2] {614400}\r\n");
    reply.extend_from_slice(&piece);
    reply.extend_from_slice(b")\r\nA0003 OK done\r\n");
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID FETCH 1 (BODY.PEEK[1] BODY.PEEK[2])"),
        Step::Send(reply),
        Step::Silence,
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.limits = FrameLimits {
        max_literal: 1 << 20,
        ..FrameLimits::default()
    };
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let items = [
        "BODY.PEEK[1]".parse().unwrap(),
        "BODY.PEEK[2]".parse().unwrap(),
    ];
    let err = conn
        .fetch(&SequenceSet::single(1).unwrap(), &items, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("1228800")),
        "{err}"
    );
    drop(conn);
    finish(task).await;
}

#[tokio::test]
async fn utf8_accept_and_modified_utf7() {
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT AUTH=PLAIN SASL-IR] ready\r\n"),
        // AUTHENTICATE PLAIN with SASL-IR; then ENABLE UTF8=ACCEPT as both sides offer it.
        expect("A0001 AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0"),
        send("A0001 OK [CAPABILITY IMAP4rev1 ENABLE UTF8=ACCEPT] Logged in\r\n"),
        expect("A0002 ENABLE UTF8=ACCEPT"),
        send("* ENABLED UTF8=ACCEPT\r\nA0002 OK enabled\r\n"),
        expect("A0003 CREATE \"Entw\u{fc}rfe\""),
        send("A0003 OK created\r\n"),
        expect("A0004 LIST \"\" *"),
        send("* LIST () \"/\" \"Entw\u{fc}rfe &-\"\r\nA0004 OK done\r\n"),
    ];
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Auto)
        .await
        .unwrap();
    assert!(conn.utf8_enabled());
    conn.create("Entw\u{fc}rfe").await.unwrap();
    let list = conn.list("", "*").await.unwrap();
    assert_eq!(list[0].name, "Entw\u{fc}rfe &-");
    finish(task).await;
    // Without UTF8=ACCEPT: modified UTF-7 both ways.
    let mut steps = login_steps();
    steps.extend([
        expect("A0002 CREATE Entw&APw-rfe"),
        send("A0002 OK created\r\n"),
        expect("A0003 LIST \"\" %"),
        send("* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\nA0003 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    assert!(!conn.utf8_enabled());
    conn.create("Entw\u{fc}rfe").await.unwrap();
    assert_eq!(conn.list("", "%").await.unwrap()[0].name, "Entw\u{fc}rfe");
    finish(task).await;
}

#[tokio::test]
async fn search_esearch_charset_and_status() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID SEARCH RETURN (ALL) CHARSET UTF-8 UNSEEN SUBJECT {5+}"),
        Step::ExpectRaw("caf\u{e9}".as_bytes().to_vec()),
        expect(""),
        send("* ESEARCH (TAG \"A0003\") UID ALL 4:6,9\r\nA0003 OK done\r\n"),
        expect("A0004 UID SEARCH RETURN (MIN MAX COUNT) ALL"),
        send("* ESEARCH (TAG \"A0004\") UID MIN 4 MAX 9 COUNT 4\r\nA0004 OK done\r\n"),
        // A server that answers a huge range where the mailbox is small is refused.
        expect("A0005 UID SEARCH RETURN (ALL) ALL"),
        send("* ESEARCH (TAG \"A0005\") UID ALL 1:4294967295\r\nA0005 OK done\r\n"),
        expect("A0006 STATUS Sent (MESSAGES UIDNEXT)"),
        send("* STATUS Sent (MESSAGES 3 UIDNEXT 10)\r\nA0006 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.max_search_results = 1000;
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let uids = conn
        .search(&[SearchKey::Unseen, SearchKey::Subject("caf\u{e9}".into())])
        .await
        .unwrap();
    assert_eq!(uids, [4, 5, 6, 9]);
    let e = conn
        .search_extended(&[SearchKey::All], &["MIN", "MAX", "COUNT"])
        .await
        .unwrap();
    assert_eq!((e.min, e.max, e.count), (Some(4), Some(9), Some(4)));
    let err = conn.search(&[]).await.unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    let s = conn
        .status("Sent", &[StatusItem::Messages, StatusItem::UidNext])
        .await
        .unwrap();
    assert_eq!((s.messages, s.uid_next), (Some(3), Some(10)));
    finish(task).await;
}

#[tokio::test]
async fn unsolicited_responses_between_and_during_commands() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID STORE 5 +FLAGS (\\Flagged)"),
        // Another session's change arrives in the middle; ours comes with a UID.
        send("* 9 FETCH (FLAGS (\\Seen))\r\n* 173 EXISTS\r\n* 2 FETCH (UID 5 FLAGS (\\Flagged))\r\nA0003 OK done\r\n* 3 EXPUNGE\r\n"),
        expect("A0004 NOOP"),
        send("* 4 FETCH (FLAGS () MODSEQ (12))\r\nA0004 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let r = conn
        .store(
            &SequenceSet::single(5).unwrap(),
            mailprims::imap::StoreOperation::Add,
            &["\\Flagged"],
            false,
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.updated.len(), 1);
    assert_eq!(r.updated[0].flags.as_deref().unwrap(), ["\\Flagged"]);
    let events = conn.noop().await.unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(matches!(&events[0], IdleEvent::Fetch(f) if f.seq == 9));
    assert_eq!(events[1], IdleEvent::Exists(173));
    assert_eq!(events[2], IdleEvent::Expunge(3));
    assert!(matches!(&events[3], IdleEvent::Fetch(f) if f.modseq == Some(12)));
    assert_eq!(conn.selected().unwrap().exists, 172);
    finish(task).await;
}

#[tokio::test]
async fn fetch_flags_folds_answers_and_keeps_interleaved_news() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 UID FETCH 4:7,9 (UID FLAGS)"),
        // RFC 9051 §7.5.2: untagged EXISTS, EXPUNGE and another session's FETCH (no UID) may
        // arrive among the answers; a message's items may come in two responses.
        send(concat!(
            "* 1 FETCH (UID 4 FLAGS (\\Seen $Work))\r\n",
            "* 173 EXISTS\r\n",
            "* 2 FETCH (FLAGS (\\Deleted))\r\n",
            "* 2 FETCH (UID 5 FLAGS ())\r\n",
            "* 3 EXPUNGE\r\n",
            "* 3 FETCH (UID 7 MODSEQ (12))\r\n",
            "* 3 FETCH (UID 7 FLAGS (\\Seen $Work))\r\n",
            "* 4 FETCH (UID 9 FLAGS (\\Answered))\r\n",
            "* 4 FETCH (UID 9 FLAGS (\\Answered \\Flagged))\r\n",
            "A0003 OK done\r\n",
        )),
        expect("A0004 UID FETCH 100:* (UID FLAGS)"),
        send("A0004 OK nothing there\r\n"),
        expect("A0005 UID FETCH 1 (UID FLAGS)"),
        send("* 1 FETCH (UID 1 FLAGS (\\Seen)\r\nA0005 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let set = SequenceSet::from_numbers(&[4, 5, 6, 7, 9]).unwrap();
    let flags = conn.fetch_flags(&set).await.unwrap();
    assert_eq!(
        flags.sets,
        [
            vec!["\\Seen".to_owned(), "$Work".to_owned()],
            vec![],
            vec!["\\Answered".to_owned()],
            vec!["\\Answered".to_owned(), "\\Flagged".to_owned()],
        ]
    );
    assert_eq!(flags.messages, [(4, 0), (5, 1), (7, 0), (9, 2), (9, 3)]);
    assert_eq!(flags.get(9).unwrap(), ["\\Answered", "\\Flagged"]);
    assert_eq!(flags.get(6), None);
    // The news came through, in order, and the mailbox's size followed it.
    let events = conn.take_events();
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0], IdleEvent::Exists(173));
    assert!(matches!(&events[1], IdleEvent::Fetch(f) if f.seq == 2 && f.uid.is_none()));
    assert_eq!(events[2], IdleEvent::Expunge(3));
    assert!(matches!(&events[3], IdleEvent::Fetch(f) if f.modseq == Some(12)));
    assert_eq!(conn.selected().unwrap().exists, 172);
    let none = conn
        .fetch_flags(&SequenceSet::parse(b"100:*").unwrap())
        .await
        .unwrap();
    assert!(none.is_empty());
    // A malformed answer fails the command, typed; the session stays in step.
    let err = conn
        .fetch_flags(&SequenceSet::single(1).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    finish(task).await;
}

#[tokio::test]
async fn idle_events_renewal_and_done() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 IDLE"),
        send("+ idling\r\n* 173 EXISTS\r\n* OK Still here\r\n* 3 EXPUNGE\r\n"),
        // Half a response, then a pause longer than the client waits: nothing is lost.
        send("* 7 FET"),
        Step::Pause(Duration::from_millis(400)),
        send("CH (FLAGS (\\Seen))\r\n"),
        // Renewal: DONE, completion, IDLE again.
        expect("DONE"),
        send("A0003 OK IDLE terminated\r\n"),
        expect("A0004 IDLE"),
        send("+ idling\r\n* 174 EXISTS\r\n"),
        expect("DONE"),
        send("A0004 OK IDLE terminated\r\n"),
        expect("A0005 NOOP"),
        send("A0005 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.idle_renewal = Duration::from_millis(1500);
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    conn.idle_start().await.unwrap();
    let wait = Some(Duration::from_secs(10));
    assert_eq!(
        conn.idle_wait(wait).await.unwrap(),
        Some(IdleEvent::Exists(173))
    );
    assert_eq!(
        conn.idle_wait(wait).await.unwrap(),
        Some(IdleEvent::Expunge(3))
    );
    assert_eq!(
        conn.idle_wait(Some(Duration::from_millis(100)))
            .await
            .unwrap(),
        None
    );
    let Some(IdleEvent::Fetch(f)) = conn.idle_wait(wait).await.unwrap() else {
        panic!()
    };
    assert_eq!((f.seq, f.flags.unwrap()), (7, vec!["\\Seen".to_owned()]));
    // Waiting past the renewal time renews IDLE, then the next event comes.
    assert_eq!(
        conn.idle_wait(wait).await.unwrap(),
        Some(IdleEvent::Exists(174))
    );
    // A command while idling ends IDLE first.
    conn.noop().await.unwrap();
    assert!(!conn.is_idle());
    finish(task).await;
}

#[tokio::test]
async fn a_cancelled_idle_is_ended_before_the_next_command() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    steps.extend([
        expect("A0003 IDLE"),
        send("+ idling\r\n"),
        expect("DONE"),
        send("* 180 EXISTS\r\nA0003 OK IDLE terminated\r\n"),
        expect("A0004 NOOP"),
        send("A0004 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    conn.idle_start().await.unwrap();
    // The caller gives up on the wait (a cancelled task drops the future).
    let _ = tokio::time::timeout(Duration::from_millis(50), conn.idle_wait(None)).await;
    let events = conn.noop().await.unwrap();
    assert_eq!(events, [IdleEvent::Exists(180)]);
    finish(task).await;
}

#[tokio::test]
async fn fetch_messages_is_pipelined_and_an_abandoned_stream_is_finished() {
    let mut steps = login_steps();
    steps.extend(select_steps("A0002"));
    // Both batches arrive before the first is answered.
    steps.extend([
        expect("A0003 UID FETCH 1:2 (UID BODY.PEEK[])"),
        expect("A0004 UID FETCH 3:4 (UID BODY.PEEK[])"),
        send("* 1 FETCH (UID 1 BODY[] {3}\r\none)\r\n* 2 FETCH (UID 2 BODY[] {3}\r\ntwo)\r\nA0003 OK done\r\n"),
        expect("A0005 UID FETCH 5 (UID BODY.PEEK[])"),
        send("* 3 FETCH (UID 3 BODY[] {5}\r\nthree)\r\n* 4 FETCH (UID 4 BODY[] NIL)\r\nA0004 NO [EXPUNGEISSUED] some messages were expunged\r\n"),
        send("* 5 FETCH (UID 5 BODY[] {4}\r\nfive)\r\nA0005 OK done\r\n"),
        // Abandoned after one message: the next command finishes it first.
        expect("A0006 UID FETCH 1:2 (UID BODY.PEEK[])"),
        send("* 1 FETCH (UID 1 BODY[] {3}\r\none)\r\n"),
        Step::Pause(Duration::from_millis(50)),
        send("* 2 FETCH (UID 2 BODY[] {3}\r\ntwo)\r\nA0006 OK done\r\n"),
        expect("A0007 NOOP"),
        send("A0007 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.fetch_batch = 2;
    c.fetch_pipeline = 2;
    let mut conn = connect(port, c).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.select("INBOX").await.unwrap();
    let mut stream = conn.fetch_messages(&[1, 2, 3, 4, 5]).await.unwrap();
    let mut got = Vec::new();
    let err = loop {
        match stream.next(&mut conn).await {
            Ok(Some((uid, body))) => got.push((uid, String::from_utf8(body).unwrap())),
            Ok(None) => panic!("the NO must be reported"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        got,
        [
            (1, "one".into()),
            (2, "two".into()),
            (3, "three".into()),
            (5, "five".into())
        ]
    );
    assert_eq!(err.code(), Some(&ResponseCode::ExpungeIssued));
    let mut stream = conn.fetch_messages(&[1, 2]).await.unwrap();
    let (uid, _) = stream.next(&mut conn).await.unwrap().unwrap();
    assert_eq!(uid, 1);
    let events = conn.noop().await.unwrap();
    assert!(
        events.is_empty(),
        "an abandoned stream's messages are dropped, not queued"
    );
    assert!(matches!(stream.next(&mut conn).await, Err(Error::Usage(_))));
    finish(task).await;
}

#[tokio::test]
async fn xoauth2_failure_carries_the_servers_reason() {
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready\r\n"),
        Step::ExpectPrefix(
            b"A0001 AUTHENTICATE XOAUTH2 dXNlcj1mcmVkAWF1dGg9QmVhcmVyIHRva2VuAQE=".to_vec(),
        ),
        send("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
        expect(""),
        send("A0001 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
    ];
    let (port, task) = scripted(steps).await;
    let transcript = Arc::new(Transcript::new());
    let mut c = config(port);
    c.endpoint.transcript = Some(transcript.clone());
    let mut conn = connect(port, c).await;
    let err = conn
        .authenticate_xoauth2("fred", "token")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&ResponseCode::AuthenticationFailed));
    assert!(err.to_string().contains("{\"status\":\"401\"}"), "{err}");
    finish(task).await;
    let lines: Vec<String> = transcript.lines().into_iter().map(|(_, l)| l).collect();
    assert!(
        lines.contains(&"A0001 AUTHENTICATE XOAUTH2 ********".to_owned()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("dXNlcj1")));
}

#[tokio::test]
async fn authenticate_plain_without_sasl_ir_waits_for_the_challenge() {
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
        expect("A0001 AUTHENTICATE PLAIN"),
        send("+ \r\n"),
        expect("AGZyZWQAc2VjcmV0"),
        send("A0001 OK Logged in\r\n"),
        expect("A0002 CAPABILITY"),
        send("* CAPABILITY IMAP4rev1 IDLE\r\nA0002 OK done\r\n"),
    ];
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Auto)
        .await
        .unwrap();
    assert!(conn.cached_capabilities().unwrap().has("IDLE"));
    finish(task).await;
}

#[tokio::test]
async fn passwords_need_tls_unless_allowed() {
    let (port, task) = scripted(vec![send(GREETING), Step::Silence]).await;
    let mut c = config(port);
    c.endpoint.allow_insecure_auth = false;
    let mut conn = connect(port, c).await;
    assert!(matches!(
        conn.login("a", "b", LoginMethod::Login).await,
        Err(Error::InsecureAuth)
    ));
    drop(conn);
    finish(task).await;
}

#[tokio::test]
async fn starttls_then_capability_again() {
    let (cert, key) = self_signed(&["localhost".into()]).unwrap();
    let tls = server_config(cert.as_bytes(), key.as_bytes()).unwrap();
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
        expect("A0001 STARTTLS"),
        send("A0001 OK Begin TLS negotiation now\r\n"),
        Step::StartTls(tls.clone()),
        expect("A0002 CAPABILITY"),
        send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n"),
        expect("A0003 LOGIN fred secret"),
        send("A0003 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
    ];
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.endpoint.tls = TlsMode::StartTls;
    c.endpoint.allow_insecure_auth = false;
    c.endpoint.trust = Trust::CaPem(cert.clone().into_bytes());
    c.endpoint.tls_name = Some("localhost".into());
    let mut conn = connect(port, c).await;
    assert!(conn.is_tls());
    assert!(conn.cached_capabilities().unwrap().has_auth("PLAIN"));
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    finish(task).await;
    // Data the server sends after its OK, before the handshake, is an injection: refused.
    let steps = vec![
        send("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
        expect("A0001 STARTTLS"),
        send("A0001 OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"),
        Step::Silence,
    ];
    let (port, task) = scripted(steps).await;
    let mut c = config(port);
    c.endpoint.tls = TlsMode::StartTls;
    c.endpoint.trust = Trust::CaPem(cert.into_bytes());
    let err = Connection::connect(Arc::new(c)).await.err().unwrap();
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("after the STARTTLS")),
        "{err}"
    );
    finish(task).await;
    // PREAUTH leaves no room for STARTTLS: refused when TLS is required.
    let (port, task) = scripted(vec![
        send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
        Step::Silence,
    ])
    .await;
    let mut c = config(port);
    c.endpoint.tls = TlsMode::StartTls;
    let err = Connection::connect(Arc::new(c)).await.err().unwrap();
    assert!(matches!(err, Error::Net(_)), "{err}");
    finish(task).await;
}

#[tokio::test]
async fn raw_commands_and_id() {
    let mut steps = login_steps();
    steps.extend([
        expect("A0002 ID (\"name\" \"mailprims\" \"version\" NIL)"),
        send("* ID (\"name\" \"Dovecot\")\r\nA0002 OK done\r\n"),
        expect("A0003 GETQUOTAROOT INBOX"),
        send("* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 10 512)\r\nA0003 OK done\r\n"),
    ]);
    let (port, task) = scripted(steps).await;
    let mut conn = connect(port, config(port)).await;
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    let id = conn
        .id(Some(&[("name", Some("mailprims")), ("version", None)]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, [("name".to_owned(), Some("Dovecot".to_owned()))]);
    let (untagged, status) = conn.raw_command("GETQUOTAROOT INBOX").await.unwrap();
    assert_eq!((untagged.len(), status.status), (2, Status::Ok));
    for bad in ["NOOP\r\nA9 LOGOUT", "APPEND INBOX {5}", ""] {
        assert!(
            matches!(conn.raw_command(bad).await, Err(Error::Usage(_))),
            "{bad:?}"
        );
    }
    finish(task).await;
}
