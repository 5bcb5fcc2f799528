//! The IMAP client against Dovecot's imapd (Debian `dovecot-imapd`), started as a throw-away
//! process with its own configuration in a temporary directory (as `tests/_dovecot.py` runs
//! it for POP3): plain, STARTTLS and implicit TLS; every mailbox and message command;
//! CONDSTORE, MOVE, UIDPLUS, LIST-STATUS, SPECIAL-USE, ESEARCH; IDLE seeing a message
//! delivered into the Maildir by another process. Skipped (with a note) when Dovecot is not
//! installed; `make peers` installs it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailprims::imap::command::StatusItem;
use mailprims::imap::{
    BodyKind, ClientConfig, Connection, DateTime, Error, FetchAttribute, IdleEvent, LoginMethod,
    ResponseCode, SearchKey, SequenceSet, Status, StoreOperation, TlsMode,
};
use mailprims::net::tls::{Trust, self_signed};

const DOVECOT: &str = "/usr/sbin/dovecot";

fn available() -> bool {
    Path::new(DOVECOT).exists() && Path::new("/usr/lib/dovecot/imap").exists()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A Dovecot instance with one user, `fred` / `secret`.
struct Dovecot {
    root: tempfile::TempDir,
    child: Child,
    port: u16,
    imaps_port: u16,
    cert: String,
    uid: u32,
    gid: u32,
}

impl Dovecot {
    fn start() -> Option<Dovecot> {
        if !available() {
            eprintln!("dovecot-imapd is not installed: skipped (make peers installs it)");
            return None;
        }
        let root = tempfile::Builder::new()
            .prefix("mailprims-imap-dovecot-")
            .tempdir()
            .unwrap();
        let r = root.path();
        std::fs::set_permissions(r, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (cert, key) = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        std::fs::write(r.join("cert.pem"), &cert).unwrap();
        std::fs::write(r.join("key.pem"), &key).unwrap();
        // Dovecot refuses mail access as root: mail processes run as nobody then.
        let root_user = unsafe { libc::geteuid() } == 0;
        let (uid, gid) = if root_user {
            (65534, 65534)
        } else {
            unsafe { (libc::getuid(), libc::getgid()) }
        };
        let port = free_port();
        let imaps_port = free_port();
        let d = r.display();
        let mut conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = yes\n\
             ssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\n\
             disable_plaintext_auth = no\nauth_mechanisms = plain\nauth_failure_delay = 0\n\
             mail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 1\n\
             mailbox_idle_check_interval = 1 secs\n\
             namespace inbox {{\n  inbox = yes\n  separator = /\n\
             \x20 mailbox Sent {{\n    special_use = \\Sent\n    auto = subscribe\n  }}\n\
             \x20 mailbox Trash {{\n    special_use = \\Trash\n    auto = create\n  }}\n\
             \x20 mailbox Drafts {{\n    special_use = \\Drafts\n    auto = subscribe\n  }}\n}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = username_format=%u {d}/passwd\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n\
             \x20 inet_listener imaps {{\n    port = {imaps_port}\n    ssl = yes\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n\
             \x20 inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n{}}}\n",
            if root_user { "" } else { "  chroot =\n" }
        );
        if !root_user {
            let name = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            conf.push_str(&format!(
                "default_internal_user = {name}\ndefault_internal_group = {name}\n\
                 default_login_user = {name}\nservice imap-login {{\n  chroot =\n}}\n"
            ));
        }
        std::fs::write(r.join("dovecot.conf"), conf).unwrap();
        std::fs::write(
            r.join("passwd"),
            format!("fred:{{PLAIN}}secret:{uid}:{gid}::{d}/mail/fred::nodelay=y\n"),
        )
        .unwrap();
        for sub in [
            "run",
            "state",
            "mail/fred/new",
            "mail/fred/cur",
            "mail/fred/tmp",
        ] {
            std::fs::create_dir_all(r.join(sub)).unwrap();
        }
        let dovecot = Dovecot {
            child: Command::new(DOVECOT)
                .arg("-F")
                .arg("-c")
                .arg(r.join("dovecot.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            root,
            port,
            imaps_port,
            cert,
            uid,
            gid,
        };
        dovecot.hand_over();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = [0u8; 4];
                if s.read_exact(&mut buf).is_ok() && &buf == b"* OK" {
                    return Some(dovecot);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dovecot did not start:\n{}", dovecot.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("dovecot.log")).unwrap_or_default()
    }

    fn maildir(&self) -> PathBuf {
        self.root.path().join("mail/fred")
    }

    /// Give the Maildir to the mail user (files written by this process as root).
    fn hand_over(&self) {
        fn walk(p: &Path, uid: u32, gid: u32) {
            chown(p, Some(uid), Some(gid)).unwrap();
            if p.is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path(), uid, gid);
                }
            }
        }
        walk(&self.root.path().join("mail"), self.uid, self.gid);
    }

    /// Deliver a message the Maildir way (tmp, then rename into new), as an MDA in another
    /// process would.
    fn deliver(&self, name: &str, data: &[u8]) {
        let tmp = self.maildir().join("tmp").join(name);
        std::fs::write(&tmp, data).unwrap();
        chown(&tmp, Some(self.uid), Some(self.gid)).unwrap();
        std::fs::rename(&tmp, self.maildir().join("new").join(name)).unwrap();
    }

    fn config(&self, tls: TlsMode) -> ClientConfig {
        let port = if tls == TlsMode::Implicit {
            self.imaps_port
        } else {
            self.port
        };
        let mut c = ClientConfig::new("127.0.0.1", port);
        c.endpoint.tls = tls;
        c.endpoint.trust = Trust::CaPem(self.cert.clone().into_bytes());
        c.endpoint.tls_name = Some("localhost".into());
        c.endpoint.allow_insecure_auth = tls == TlsMode::None;
        c.endpoint.io_timeout = Some(Duration::from_secs(30));
        c
    }

    async fn login(&self, c: ClientConfig) -> Connection {
        let mut conn = Connection::connect(Arc::new(c)).await.unwrap();
        conn.login("fred", "secret", LoginMethod::Auto)
            .await
            .unwrap();
        conn
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it does not.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PLAIN: &[u8] = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>, undisclosed:;\r\nSubject: =?utf-8?q?caf=C3=A9_au_lait?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello Bob\r\n";

const MULTIPART: &[u8] = b"From: Carol <carol@example.org>\r\nTo: bob@example.org\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSee attached =E2=80=94 thanks\r\n--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: dave@example.org\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\n";

#[tokio::test]
async fn plain_starttls_and_implicit_tls() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    for tls in [TlsMode::None, TlsMode::StartTls, TlsMode::Implicit] {
        let mut conn = Connection::connect(Arc::new(dovecot.config(tls)))
            .await
            .unwrap();
        assert_eq!(conn.is_tls(), tls != TlsMode::None, "{tls:?}");
        let before = conn.capabilities().await.unwrap();
        assert!(before.has("IMAP4rev1") && !before.has("MOVE"), "{before:?}");
        if tls == TlsMode::StartTls {
            assert!(!before.has("STARTTLS"), "capabilities refreshed after TLS");
        }
        conn.login("fred", "secret", LoginMethod::Auto)
            .await
            .unwrap();
        // Refreshed after login: Dovecot lists more.
        let after = conn.capabilities().await.unwrap();
        assert!(after.has("MOVE") && after.has("CONDSTORE"), "{after:?}");
        assert!(conn.is_enabled("CONDSTORE"));
        let s = conn.examine("INBOX").await.unwrap();
        assert!(s.read_only && s.uid_validity.is_some());
        conn.logout().await.unwrap();
    }
    // LOGIN, and a wrong password as a NO with its response code.
    let mut conn = Connection::connect(Arc::new(dovecot.config(TlsMode::StartTls)))
        .await
        .unwrap();
    let err = conn
        .login("fred", "wrong", LoginMethod::Login)
        .await
        .unwrap_err();
    let Error::Response(status) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (status.status, status.code.clone()),
        (Status::No, Some(ResponseCode::AuthenticationFailed))
    );
    conn.login("fred", "secret", LoginMethod::Login)
        .await
        .unwrap();
    conn.logout().await.unwrap();
}

#[tokio::test]
async fn mailboxes() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut conn = dovecot.login(dovecot.config(TlsMode::StartTls)).await;
    // Dovecot 2.3 offers neither UTF8=ACCEPT nor IMAP4rev2: names go as modified UTF-7.
    assert!(!conn.utf8_enabled());
    let id = conn
        .id(Some(&[("name", Some("mailprims"))]))
        .await
        .unwrap()
        .unwrap();
    assert!(
        id.iter()
            .any(|(k, v)| k == "name" && v.as_deref() == Some("Dovecot")),
        "{id:?}"
    );
    let ns = conn.namespace().await.unwrap();
    assert_eq!(
        (ns.personal[0].prefix.as_str(), ns.personal[0].delimiter),
        ("", Some('/'))
    );
    let list = conn.list("", "*").await.unwrap();
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    for n in ["INBOX", "Sent", "Trash", "Drafts"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let sent = list.iter().find(|e| e.name == "Sent").unwrap();
    assert_eq!(
        (sent.special_use(), sent.delimiter),
        (Some("\\Sent"), Some('/'))
    );
    conn.create("Entw\u{fc}rfe").await.unwrap();
    conn.create("Entw\u{fc}rfe/2024 & later").await.unwrap();
    conn.subscribe("Entw\u{fc}rfe/2024 & later").await.unwrap();
    let list = conn.list("", "Entw\u{fc}rfe*").await.unwrap();
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Entw\u{fc}rfe", "Entw\u{fc}rfe/2024 & later"]);
    let subscribed = conn.lsub("", "*").await.unwrap();
    assert!(
        subscribed
            .iter()
            .any(|e| e.name == "Entw\u{fc}rfe/2024 & later")
    );
    assert!(subscribed.iter().any(|e| e.name == "Sent"));
    conn.append("Entw\u{fc}rfe", PLAIN, &[], None)
        .await
        .unwrap();
    let with_status = conn.list_status("", "*", &[]).await.unwrap();
    let e = with_status
        .iter()
        .find(|e| e.name == "Entw\u{fc}rfe")
        .unwrap();
    let s = e.status.as_ref().unwrap();
    assert_eq!((s.messages, s.unseen), (Some(1), Some(1)));
    assert!(s.highest_modseq.is_some() && s.uid_validity.is_some());
    let s = conn
        .status("Entw\u{fc}rfe", &[StatusItem::Messages, StatusItem::Size])
        .await
        .unwrap();
    assert_eq!((s.messages, s.size), (Some(1), Some(PLAIN.len() as u64)));
    conn.unsubscribe("Entw\u{fc}rfe/2024 & later")
        .await
        .unwrap();
    conn.rename("Entw\u{fc}rfe", "Brouillons \u{e9}t\u{e9}")
        .await
        .unwrap();
    let s = conn.status("Brouillons \u{e9}t\u{e9}", &[]).await.unwrap();
    assert_eq!(s.messages, Some(1));
    conn.delete("Brouillons \u{e9}t\u{e9}/2024 & later")
        .await
        .unwrap();
    conn.delete("Brouillons \u{e9}t\u{e9}").await.unwrap();
    // NO: a mailbox that does not exist (Dovecot 2.3 gives no response code here).
    let err = conn.select("Nope").await.unwrap_err();
    assert_eq!(err.status().map(|s| s.status), Some(Status::No));
    assert!(err.to_string().contains("doesn't exist"), "{err}");
    assert!(conn.selected().is_none());
    conn.logout().await.unwrap();
}

#[tokio::test]
async fn messages_condstore_move_uidplus() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut conn = dovecot.login(dovecot.config(TlsMode::Implicit)).await;
    let date = DateTime {
        year: 2024,
        month: 1,
        day: 2,
        hour: 3,
        minute: 4,
        second: 5,
        offset_minutes: 60,
    };
    let a1 = conn
        .append("INBOX", PLAIN, &["\\Seen"], Some(&date))
        .await
        .unwrap()
        .unwrap();
    let a2 = conn
        .append("INBOX", MULTIPART, &["$Report"], None)
        .await
        .unwrap()
        .unwrap();
    let s = conn.select("INBOX").await.unwrap();
    assert_eq!((s.exists, s.read_only), (2, false));
    assert_eq!(s.uid_validity, Some(a1.uid_validity));
    assert!(s.highest_modseq.is_some(), "CONDSTORE: {s:?}");
    assert!(s.permanent_flags.iter().any(|f| f == "\\*"));
    let (u1, u2) = (
        a1.uids.expand(0, 1).unwrap()[0],
        a2.uids.expand(0, 1).unwrap()[0],
    );

    // SEARCH (ESEARCH), with a non-ASCII string (CHARSET UTF-8, as a literal).
    assert_eq!(conn.search(&[SearchKey::All]).await.unwrap(), [u1, u2]);
    assert_eq!(conn.search(&[SearchKey::Unseen]).await.unwrap(), [u2]);
    assert_eq!(
        conn.search(&[SearchKey::Subject("caf\u{e9}".into())])
            .await
            .unwrap(),
        [u1]
    );
    assert_eq!(
        conn.search(&[SearchKey::raw("FROM \"carol\"").unwrap()])
            .await
            .unwrap(),
        [u2]
    );
    assert_eq!(
        conn.search(&[SearchKey::Keyword("$Report".into())])
            .await
            .unwrap(),
        [u2]
    );
    let e = conn
        .search_extended(&[SearchKey::All], &["COUNT", "MAX"])
        .await
        .unwrap();
    assert_eq!((e.count, e.max), (Some(2), Some(u2)));

    // FETCH of every kind of item.
    let items: Vec<FetchAttribute> = [
        "UID",
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "MODSEQ",
        "BODY.PEEK[HEADER.FIELDS (SUBJECT)]",
        "BODY.PEEK[]<0.10>",
        "BODY.PEEK[1]",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let all = SequenceSet::all();
    let got = conn.fetch(&all, &items, None).await.unwrap();
    assert_eq!(got.len(), 2);
    let (f1, f2) = (&got[0], &got[1]);
    assert_eq!((f1.uid, f2.uid), (Some(u1), Some(u2)));
    // \Recent too: IMAP4rev1.
    assert!(
        f1.flags.as_ref().unwrap().contains(&"\\Seen".to_owned()),
        "{f1:?}"
    );
    assert_eq!(f1.internal_date.unwrap().timestamp(), date.timestamp());
    assert_eq!(
        (f1.size, f2.size),
        (Some(PLAIN.len() as u64), Some(MULTIPART.len() as u64))
    );
    assert!(f1.modseq.is_some());
    let env = f1.envelope.as_ref().unwrap();
    assert_eq!(env.subject_text().as_deref(), Some("caf\u{e9} au lait"));
    assert_eq!(env.from[0].email().as_deref(), Some("alice@example.org"));
    assert_eq!(env.from[0].name.as_deref(), Some(&b"Alice"[..]));
    assert!(env.to.iter().any(|a| a.is_group_marker()), "{:?}", env.to);
    assert_eq!(env.message_id.as_deref(), Some(&b"<1@example.org>"[..]));
    let b = f2.body_structure.as_ref().unwrap();
    assert_eq!(
        (
            b.kind,
            b.subtype.to_ascii_lowercase().as_str(),
            b.param("boundary")
        ),
        (BodyKind::Multipart, "mixed", Some("b1"))
    );
    assert_eq!(b.parts.len(), 3);
    assert_eq!(
        (
            b.parts[0].kind,
            b.parts[0].encoding.as_deref().map(str::to_ascii_lowercase)
        ),
        (BodyKind::Text, Some("quoted-printable".into()))
    );
    let pdf = &b.parts[1];
    assert_eq!(pdf.mime_type(), "application/pdf");
    let d = pdf.disposition.as_ref().unwrap();
    assert_eq!(
        (d.kind.to_ascii_lowercase().as_str(), d.params[0].1.as_str()),
        ("attachment", "a.pdf")
    );
    let inner = &b.parts[2];
    assert_eq!(inner.kind, BodyKind::Message);
    assert_eq!(
        inner.envelope.as_ref().unwrap().subject.as_deref(),
        Some(&b"inner"[..])
    );
    let numbers: Vec<String> = b.sections().into_iter().map(|(n, _)| n).collect();
    assert_eq!(numbers, ["1", "2", "3", "3.1"]);
    assert_eq!(
        f1.section("HEADER.FIELDS (SUBJECT)")
            .unwrap()
            .data
            .as_deref(),
        Some(&b"Subject: =?utf-8?q?caf=C3=A9_au_lait?=\r\n\r\n"[..])
    );
    let partial = f1.section("").unwrap();
    assert_eq!(
        (partial.origin, partial.data.as_deref()),
        (Some(0), Some(&PLAIN[..10]))
    );
    assert_eq!(
        f2.section("1").unwrap().data.as_deref(),
        Some(&b"See attached =E2=80=94 thanks"[..])
    );
    let bin = conn
        .fetch(
            &SequenceSet::single(u2).unwrap(),
            &[
                "BINARY.PEEK[2]".parse().unwrap(),
                "BINARY.SIZE[2]".parse().unwrap(),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(bin[0].binary_sizes, [("2".to_owned(), 15)]);
    let binary = bin[0].sections.iter().find(|s| s.binary).unwrap();
    assert_eq!(
        binary.data.as_deref(),
        Some(&b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n"[..])
    );
    // BODY.PEEK left \Seen alone.
    assert_eq!(conn.search(&[SearchKey::Unseen]).await.unwrap(), [u2]);

    // Whole messages, streamed in pipelined batches.
    let mut bodies = Vec::new();
    for i in 0..40 {
        let msg = format!("Subject: bulk {i}\r\n\r\n{}\r\n", "x".repeat(i * 100));
        conn.append("INBOX", msg.as_bytes(), &[], None)
            .await
            .unwrap();
        bodies.push(msg.into_bytes());
    }
    conn.noop().await.unwrap();
    let uids = conn
        .search(&[SearchKey::Subject("bulk".into())])
        .await
        .unwrap();
    assert_eq!(uids.len(), 40);
    let mut stream = conn.fetch_messages(&uids).await.unwrap();
    let mut streamed = Vec::new();
    while let Some((uid, body)) = stream.next(&mut conn).await.unwrap() {
        streamed.push((uid, body));
    }
    assert_eq!(streamed.len(), 40);
    for (i, (uid, body)) in streamed.iter().enumerate() {
        assert_eq!((*uid, body), (uids[i], &bodies[i]));
    }
    assert_eq!(conn.selected().unwrap().exists, 42);

    // STORE, and CONDSTORE: UNCHANGEDSINCE refuses a message changed after that mod-sequence.
    let one = SequenceSet::single(u1).unwrap();
    let r = conn
        .store(
            &one,
            StoreOperation::Add,
            &["\\Flagged", "$Custom"],
            false,
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.updated.len(), 1);
    let flags = r.updated[0].flags.clone().unwrap();
    assert!(flags.contains(&"\\Flagged".to_owned()) && flags.contains(&"$Custom".to_owned()));
    let modseq = r.updated[0].modseq.unwrap();
    let r = conn
        .store(
            &one,
            StoreOperation::Remove,
            &["$Custom"],
            true,
            Some(modseq - 1),
        )
        .await
        .unwrap();
    assert_eq!(r.modified.map(|m| m.to_string()), Some(u1.to_string()));
    let changed = conn
        .fetch(&all, &[FetchAttribute::Flags], Some(modseq - 1))
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|f| f.uid.unwrap()).collect::<Vec<_>>(),
        [u1]
    );

    // COPY and MOVE with COPYUID; UID EXPUNGE (UIDPLUS); EXPUNGE.
    let copied = conn.copy(&one, "Sent").await.unwrap().unwrap();
    assert_eq!(copied.source.to_string(), u1.to_string());
    let moved = conn
        .move_messages(&SequenceSet::single(u2).unwrap(), "Trash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.source.to_string(), u2.to_string());
    assert_eq!(conn.selected().unwrap().exists, 41);
    let err = conn.copy(&one, "Nowhere").await.unwrap_err();
    assert_eq!(err.code(), Some(&ResponseCode::TryCreate), "{err}");
    conn.add_flags(
        &SequenceSet::from_numbers(&uids[..2]).unwrap(),
        &["\\Deleted"],
    )
    .await
    .unwrap();
    conn.add_flags(&one, &["\\Deleted"]).await.unwrap();
    let expunged = conn.uid_expunge(&one).await.unwrap();
    assert_eq!(expunged, [1]);
    let expunged = conn.expunge().await.unwrap();
    assert_eq!(expunged.len(), 2);
    assert_eq!(conn.selected().unwrap().exists, 38);
    let trash = conn.status("Trash", &[StatusItem::Messages]).await.unwrap();
    assert_eq!(trash.messages, Some(1));
    conn.unselect().await.unwrap();
    conn.logout().await.unwrap();
    assert!(dovecot.log().contains("Login: user=<fred>"));
}

#[tokio::test]
async fn idle_sees_a_message_delivered_by_another_process() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut conn = dovecot.login(dovecot.config(TlsMode::StartTls)).await;
    conn.append("INBOX", PLAIN, &[], None).await.unwrap();
    let s = conn.select("INBOX").await.unwrap();
    assert_eq!(s.exists, 1);
    conn.idle_start().await.unwrap();
    dovecot.deliver("1700000000.M1P1.test", MULTIPART);
    dovecot.hand_over();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match conn.idle_wait(Some(Duration::from_secs(30))).await.unwrap() {
            Some(IdleEvent::Exists(n)) => {
                seen.push(IdleEvent::Exists(n));
                break;
            }
            Some(e) => seen.push(e),
            None => break,
        }
    }
    assert!(seen.contains(&IdleEvent::Exists(2)), "{seen:?}");
    conn.idle_done().await.unwrap();
    assert_eq!(conn.selected().unwrap().exists, 2);
    let uids = conn.search(&[SearchKey::All]).await.unwrap();
    let mut stream = conn.fetch_messages(&uids[1..]).await.unwrap();
    let (_, body) = stream.next(&mut conn).await.unwrap().unwrap();
    assert_eq!(body, MULTIPART);
    assert!(stream.next(&mut conn).await.unwrap().is_none());
    conn.logout().await.unwrap();
}
