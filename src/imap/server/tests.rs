//! The server over loopback sockets, with exact transcripts (the mini-redis way): a client
//! that sends raw lines and reads until the tagged response.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::store::{MaildirStore, UserDb};

struct Fixture {
    _dir: tempfile::TempDir,
    store: MaildirStore,
    running: Running,
    port: u16,
}

async fn fixture_with(config: ServerConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = MaildirStore::open(dir.path().join("mail"), true).unwrap();
    let mut db = UserDb::new();
    db.add("alice", Some("pw"), None).unwrap();
    db.add("bob", Some("bobpw"), None).unwrap();
    let backend = Arc::new(Backend::new(store.clone(), Arc::new(RwLock::new(db))));
    let config = ServerConfig {
        auth_failure_delay: Duration::ZERO,
        check_interval: Duration::from_millis(100),
        ..config
    };
    let running = start("127.0.0.1", 0, backend, Arc::new(config))
        .await
        .unwrap();
    let port = running.local_addr.port();
    Fixture {
        _dir: dir,
        store,
        running,
        port,
    }
}

async fn fixture() -> Fixture {
    fixture_with(ServerConfig::default()).await
}

struct Client {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut c = Client {
            tcp,
            buf: Vec::new(),
        };
        let greeting = c.line().await;
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 "),
            "{greeting}"
        );
        c
    }

    async fn login(port: u16, user: &str, pw: &str) -> Client {
        let mut c = Client::connect(port).await;
        let r = c.cmd(&format!("l LOGIN {user} {pw}")).await;
        assert!(r.last().unwrap().starts_with("l OK [CAPABILITY "), "{r:?}");
        c
    }

    async fn send(&mut self, data: &str) {
        self.tcp.write_all(data.as_bytes()).await.unwrap();
    }

    /// One line (without CRLF); literals come as their own lines.
    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return String::from_utf8_lossy(&line).trim_end().to_owned();
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(10), self.tcp.read(&mut chunk))
                .await
                .expect("server answered in time")
                .unwrap();
            if n == 0 {
                return String::from("<closed>");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Lines until the tagged response of `tag`.
    async fn until(&mut self, tag: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            let done = l.starts_with(&format!("{tag} ")) || l == "<closed>";
            out.push(l);
            if done {
                return out;
            }
        }
    }

    /// Send `tag command` and read to its tagged response.
    async fn cmd(&mut self, line: &str) -> Vec<String> {
        let tag = line.split(' ').next().unwrap().to_owned();
        self.send(&format!("{line}\r\n")).await;
        self.until(&tag).await
    }
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[tokio::test]
async fn login_select_append_fetch_store_search_expunge() {
    let f = fixture().await;
    let mut c = Client::connect(f.port).await;
    // Loopback counts as secure: AUTH=PLAIN offered, no LOGINDISABLED.
    let caps = c.cmd("a CAPABILITY").await;
    assert!(
        has(&caps, "AUTH=PLAIN") && !has(&caps, "LOGINDISABLED"),
        "{caps:?}"
    );
    let r = c.cmd("b LOGIN alice wrong").await;
    assert_eq!(r, ["b NO [AUTHENTICATIONFAILED] Authentication failed."]);
    let r = c.cmd("c LOGIN alice pw").await;
    assert!(r[0].starts_with("c OK [CAPABILITY IMAP4rev1"), "{r:?}");
    let r = c.cmd("d SELECT INBOX").await;
    assert!(
        has(&r, "* 0 EXISTS") && has(&r, "[UIDVALIDITY ") && has(&r, "[UIDNEXT 1]"),
        "{r:?}"
    );
    assert_eq!(r.last().unwrap(), "d OK [READ-WRITE] Select completed.");
    // APPEND with a synchronising literal: the server asks for the data.
    let msg = "Subject: hello\r\nFrom: Bob <bob@x.org>\r\n\r\nHello Alice\r\n";
    c.send(&format!(
        "e APPEND INBOX (\\Flagged $Work) {{{}}}\r\n",
        msg.len()
    ))
    .await;
    assert_eq!(c.line().await, "+ Ready for literal data");
    c.send(&format!("{msg}\r\n")).await;
    let r = c.until("e").await;
    assert!(r.last().unwrap().starts_with("e OK [APPENDUID "), "{r:?}");
    assert!(r.last().unwrap().contains(" 1] Append completed."), "{r:?}");
    assert!(has(&r, "* 1 EXISTS"), "{r:?}");
    // LITERAL+: no continuation.
    let msg2 = "Subject: second\r\n\r\nbody two\r\n";
    let r = c
        .cmd(&format!("f APPEND INBOX {{{}+}}\r\n{msg2}", msg2.len()))
        .await;
    assert!(r.last().unwrap().contains(" 2] Append completed."), "{r:?}");
    let r = c
        .cmd("g FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    assert_eq!(
        r[0],
        format!(
            "* 1 FETCH (UID 1 FLAGS (\\Flagged $Work) RFC822.SIZE {} BODY[HEADER.FIELDS (SUBJECT)] {{18}}",
            msg.len()
        )
    );
    assert_eq!(r[1], "Subject: hello");
    let r = c.cmd("h UID FETCH 2 BODY[TEXT]").await;
    assert_eq!(r[0], "* 2 FETCH (UID 2 FLAGS (\\Seen) BODY[TEXT] {10}");
    let r = c.cmd("i STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(r[0], "* 1 FETCH (FLAGS (\\Flagged \\Deleted $Work))");
    let r = c.cmd("j SEARCH DELETED").await;
    assert_eq!(r, ["* SEARCH 1", "j OK Search completed."]);
    let r = c
        .cmd("k UID SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT second")
        .await;
    assert_eq!(r[0], "* ESEARCH (TAG \"k\") UID MIN 2 MAX 2 ALL 2 COUNT 1");
    let r = c.cmd("l EXPUNGE").await;
    assert_eq!(r, ["* 1 EXPUNGE", "l OK Expunge completed."]);
    let r = c.cmd("m FETCH 1 (UID FLAGS)").await;
    assert_eq!(r[0], "* 1 FETCH (UID 2 FLAGS (\\Seen))");
    // The files: one message left, in cur/ with its seen flag in the name.
    let inbox = f.store.mailbox("alice", false).unwrap();
    let list = inbox.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].flags(), "S");
    let r = c.cmd("n LOGOUT").await;
    assert_eq!(r, ["* BYE Logging out.", "n OK Logout completed."]);
    f.running.stop().await;
}

#[tokio::test]
async fn deliveries_reach_idle_sessions_and_expunges_wait_for_their_turn() {
    let f = fixture().await;
    let mut a = Client::login(f.port, "alice", "pw").await;
    let mut b = Client::login(f.port, "alice", "pw").await;
    a.cmd("s SELECT INBOX").await;
    b.cmd("s SELECT INBOX").await;
    a.send("i IDLE\r\n").await;
    assert_eq!(a.line().await, "+ idling");
    // A delivery through the store (what the SMTP server does) is pushed at once.
    let store = f.store.clone();
    tokio::task::spawn_blocking(move || store.deliver(b"Subject: new\r\n\r\nx\r\n", &["alice"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.line().await, "* 1 EXISTS");
    a.send("DONE\r\n").await;
    assert_eq!(a.until("i").await, ["i OK IDLE terminated."]);
    // B sees it with its next command; B deletes and expunges it.
    let r = b.cmd("n NOOP").await;
    assert_eq!(r, ["* 1 EXISTS", "n OK NOOP completed."]);
    b.cmd("d STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert_eq!(
        b.cmd("e EXPUNGE").await,
        ["* 1 EXPUNGE", "e OK Expunge completed."]
    );
    // A: not during a FETCH by sequence number (RFC 9051 §7.5.1)...
    let r = a.cmd("f FETCH 1 FLAGS").await;
    assert!(!r.iter().any(|l| l.ends_with(" EXPUNGE")), "{r:?}");
    assert!(
        r.last().unwrap().starts_with("f NO [EXPUNGEISSUED]"),
        "{r:?}"
    );
    // ... but with the next NOOP.
    let r = a.cmd("g NOOP").await;
    assert_eq!(r, ["* 1 EXPUNGE", "g OK NOOP completed."]);
    f.running.stop().await;
}

#[tokio::test]
async fn mailboxes_list_create_rename_delete_status() {
    let f = fixture().await;
    let mut c = Client::login(f.port, "alice", "pw").await;
    let r = c.cmd("a LIST \"\" *").await;
    assert_eq!(
        r,
        [
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
            "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
            "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
            "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
            "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
            "a OK List completed."
        ]
    );
    assert_eq!(
        c.cmd("b CREATE Projects/2024/").await,
        ["b OK Create completed."]
    );
    assert_eq!(
        c.cmd("c CREATE &AMk-t&AOk-").await,
        ["c OK Create completed."]
    );
    let r = c.cmd("d LIST \"\" %").await;
    assert!(
        has(&r, "* LIST (\\NonExistent \\HasChildren) \"/\" Projects")
            || has(&r, "* LIST (\\Noselect \\HasChildren) \"/\" Projects"),
        "{r:?}"
    );
    assert!(has(&r, "\"/\" &AMk-t&AOk-"), "{r:?}");
    let root = f.store.path_for("alice").unwrap();
    assert!(root.join(".Projects.2024/cur").is_dir());
    assert!(root.join(".&AMk-t&AOk-/maildirfolder").exists());
    assert_eq!(
        c.cmd("e RENAME Projects/2024 Old/2024").await,
        ["e OK Rename completed."]
    );
    assert!(root.join(".Old.2024/cur").is_dir() && !root.join(".Projects.2024").exists());
    let r = c
        .cmd("f STATUS Old/2024 (MESSAGES UIDNEXT UNSEEN SIZE)")
        .await;
    assert_eq!(
        r[0],
        "* STATUS Old/2024 (MESSAGES 0 UIDNEXT 1 UNSEEN 0 SIZE 0)"
    );
    assert_eq!(c.cmd("g DELETE Old/2024").await, ["g OK Delete completed."]);
    assert!(!root.join(".Old.2024").exists());
    // Names that could leave the Maildir are refused before any file is touched.
    for (i, bad) in [
        "\"../x\"",
        "\"a/../../b\"",
        "\"a.b\"",
        "{3+}\r\na\0b",
        "\"\"",
        "\"/etc\"",
    ]
    .iter()
    .enumerate()
    {
        let r = c.cmd(&format!("x{i} CREATE {bad}")).await;
        assert!(
            r.last().unwrap().contains(" NO ") || r.last().unwrap().contains(" BAD "),
            "{bad}: {r:?}"
        );
    }
    let r = c.cmd("y SELECT \"../bob\"").await;
    assert!(r.last().unwrap().starts_with("y NO "), "{r:?}");
    let entries: Vec<String> = std::fs::read_dir(f.store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, ["alice"]);
    f.running.stop().await;
}

#[tokio::test]
async fn copy_and_move_give_copyuid() {
    let f = fixture().await;
    let mut c = Client::login(f.port, "alice", "pw").await;
    for i in 0..3 {
        let m = format!("Subject: m{i}\r\n\r\nbody\r\n");
        c.cmd(&format!(
            "a{i} APPEND INBOX (\\Seen $K{i}) {{{}+}}\r\n{m}",
            m.len()
        ))
        .await;
    }
    c.cmd("s SELECT INBOX").await;
    let r = c.cmd("c UID COPY 1:2 Archive").await;
    let last = r.last().unwrap();
    assert!(
        last.starts_with("c OK [COPYUID ") && last.ends_with(" 1:2 1:2] Copy completed."),
        "{r:?}"
    );
    let r = c.cmd("m MOVE 3 Archive").await;
    assert!(
        r[0].starts_with("* OK [COPYUID ") && r[0].ends_with(" 3 3] Moved UIDs."),
        "{r:?}"
    );
    assert_eq!(r[1], "* 3 EXPUNGE");
    let r = c.cmd("x SELECT Archive").await;
    assert!(has(&r, "* 3 EXISTS"), "{r:?}");
    // The keywords kept their names, though their letters may differ here.
    let r = c.cmd("y FETCH 1:3 FLAGS").await;
    assert_eq!(r[0], "* 1 FETCH (FLAGS (\\Seen $K0))");
    assert_eq!(r[2], "* 3 FETCH (FLAGS (\\Seen $K2))");
    let r = c.cmd("z COPY 1 Nowhere").await;
    assert_eq!(r, ["z NO [TRYCREATE] Mailbox doesn't exist."]);
    f.running.stop().await;
}

#[tokio::test]
async fn limits_and_bad_input() {
    let f = fixture_with(ServerConfig {
        max_errors: 5,
        max_line: 1024,
        max_literal: 100,
        max_message_size: 1000,
        ..ServerConfig::default()
    })
    .await;
    let mut c = Client::connect(f.port).await;
    assert_eq!(
        c.cmd("a SELECT INBOX").await,
        ["a BAD SELECT is not allowed before login."]
    );
    // A synchronising literal over the limit is refused before its data.
    c.send("b LOGIN {200}\r\n").await;
    assert_eq!(c.line().await, "b NO [TOOBIG] Literal too large.");
    // A line over the limit.
    let long = format!("c LOGIN {} x\r\n", "a".repeat(2000));
    c.send(&long).await;
    assert_eq!(c.line().await, "c BAD Command line too long.");
    let mut c = Client::login(f.port, "alice", "pw").await;
    c.send("d APPEND INBOX {5000}\r\n").await;
    assert_eq!(c.line().await, "d NO [TOOBIG] Message too large.");
    // Non-synchronising and too big: read, dropped, refused.
    let r = c
        .cmd(&format!("e APPEND INBOX {{1500+}}\r\n{}", "x".repeat(1500)))
        .await;
    assert_eq!(r, ["e NO [TOOBIG] Message too large."]);
    for i in 0..5 {
        let r = c.cmd(&format!("z{i} BOGUS")).await;
        assert_eq!(
            r,
            [format!(
                "z{i} BAD Error in IMAP command: expected a known command"
            )]
        );
    }
    assert_eq!(c.line().await, "* BYE Too many invalid IMAP commands.");
    assert_eq!(c.line().await, "<closed>");
    f.running.stop().await;
}

#[tokio::test]
async fn plaintext_logins_are_refused_off_loopback_unless_allowed() {
    // The session sees the client on its own address: secure. Checked here through the
    // capability list of a session told it is not (allow_insecure_auth off, implicit
    // loopback detection is what makes it secure).
    let f = fixture().await;
    let mut c = Client::connect(f.port).await;
    let r = c.cmd("a AUTHENTICATE PLAIN AGFsaWNlAHB3").await;
    assert!(r.last().unwrap().starts_with("a OK [CAPABILITY"), "{r:?}");
    let mut c = Client::connect(f.port).await;
    c.send("b AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+");
    c.send("*\r\n").await;
    assert_eq!(c.line().await, "b BAD Authentication aborted by client.");
    f.running.stop().await;
}
