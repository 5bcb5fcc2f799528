//! Response parser tests: the examples of RFC 9051, RFC 3501 and the extension RFCs (each
//! named), the quirks of real servers, malformed input, and mutations of all of them.

use super::*;
use crate::imap::types::{BodyKind, Status};
use crate::testing::{XorShift, mutate};

fn one(line: &str) -> Response {
    parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

fn untagged(line: &str) -> Untagged {
    match one(line) {
        Response::Untagged(u) => u,
        other => panic!("{line:?}: not untagged: {other:?}"),
    }
}

fn status(line: &str) -> StatusResponse {
    match one(line) {
        Response::Untagged(Untagged::Status(s)) | Response::Tagged { status: s, .. } => s,
        other => panic!("{line:?}: no status: {other:?}"),
    }
}

#[test]
fn greeting_and_capabilities() {
    // RFC 9051 §7.1.1 and §6.1.1.
    let s =
        status("* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED] Server ready\r\n");
    assert_eq!(s.status, Status::Ok);
    assert_eq!(s.text, "Server ready");
    let Some(ResponseCode::Capability(caps)) = s.code else {
        panic!()
    };
    assert_eq!(
        caps,
        ["IMAP4REV2", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"]
    );
    let Untagged::Capability(caps) =
        untagged("* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI AUTH=PLAIN\r\n")
    else {
        panic!()
    };
    assert!(caps.has("imap4rev2") && caps.has_auth("plain") && !caps.has("IDLE"));
    assert_eq!(caps.auth_mechanisms(), ["GSSAPI", "PLAIN"]);
    assert_eq!(
        one("abcd OK CAPABILITY completed\r\n"),
        Response::Tagged {
            tag: "abcd".into(),
            status: StatusResponse {
                status: Status::Ok,
                code: None,
                text: "CAPABILITY completed".into()
            }
        }
    );
    let s = status("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as Smith\r\n");
    assert_eq!(s.status, Status::PreAuth);
    let s = status("* BYE IMAP4rev2 Server logging out\r\n");
    assert_eq!(
        (s.status, s.text.as_str()),
        (Status::Bye, "IMAP4rev2 Server logging out")
    );
    // No text at all, and a code with no text after it.
    assert_eq!(status("A1 OK\r\n").text, "");
    assert_eq!(
        status("A1 OK [READ-ONLY]\r\n").code,
        Some(ResponseCode::ReadOnly)
    );
}

#[test]
fn select_responses() {
    // RFC 9051 §6.3.2 (and RFC 3501's [UNSEEN] and RECENT).
    assert_eq!(untagged("* 172 EXISTS\r\n"), Untagged::Exists(172));
    assert_eq!(untagged("* 1 RECENT\r\n"), Untagged::Recent(1));
    assert_eq!(
        untagged("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"),
        Untagged::Flags(vec![
            "\\Answered".into(),
            "\\Flagged".into(),
            "\\Deleted".into(),
            "\\Seen".into(),
            "\\Draft".into()
        ])
    );
    assert_eq!(
        status("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n").code,
        Some(ResponseCode::UidValidity(3_857_529_045))
    );
    assert_eq!(
        status("* OK [UIDNEXT 4392] Predicted next UID\r\n").code,
        Some(ResponseCode::UidNext(4392))
    );
    assert_eq!(
        status("* OK [UNSEEN 12] Message 12 is first unseen\r\n").code,
        Some(ResponseCode::Unseen(12))
    );
    assert_eq!(
        status("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n").code,
        Some(ResponseCode::PermanentFlags(vec![
            "\\Deleted".into(),
            "\\Seen".into(),
            "\\*".into()
        ]))
    );
    let s = status("A142 OK [READ-WRITE] SELECT completed\r\n");
    assert_eq!(
        (s.code, s.text.as_str()),
        (Some(ResponseCode::ReadWrite), "SELECT completed")
    );
    // RFC 7162 §3.1.2.1, §3.1.2.2.
    assert_eq!(
        status("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n").code,
        Some(ResponseCode::HighestModSeq(715_194_045_007))
    );
    assert_eq!(
        status("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n").code,
        Some(ResponseCode::NoModSeq)
    );
    assert_eq!(
        status("* OK [CLOSED] Previous mailbox is now closed\r\n").code,
        Some(ResponseCode::Closed)
    );
}

#[test]
fn uidplus_and_error_codes() {
    // RFC 4315 §3 examples.
    let s = status("A003 OK [APPENDUID 38505 3955] APPEND completed\r\n");
    let Some(ResponseCode::AppendUid(a)) = s.code else {
        panic!()
    };
    assert_eq!(
        (a.uid_validity, a.uids.to_string()),
        (38505, "3955".to_owned())
    );
    let s = status("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
    let Some(ResponseCode::CopyUid(c)) = s.code else {
        panic!()
    };
    assert_eq!(
        c.pairs(100).unwrap(),
        [(304, 3956), (319, 3957), (320, 3958)]
    );
    assert_eq!(
        status("A005 NO [UIDNOTSTICKY] Non-persistent UIDs\r\n").code,
        Some(ResponseCode::UidNotSticky)
    );
    // RFC 9051 §7.1 and RFC 5530.
    let s = status("A003 NO [TRYCREATE] Mailbox doesn't exist: bar\r\n");
    assert_eq!(
        (s.status, s.code),
        (Status::No, Some(ResponseCode::TryCreate))
    );
    assert_eq!(
        status("a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n").code,
        Some(ResponseCode::AuthenticationFailed)
    );
    assert_eq!(
        status("* NO [ALERT] System shutdown in 10 minutes\r\n").code,
        Some(ResponseCode::Alert)
    );
    assert_eq!(
        status("a BAD [CLIENTBUG] x\r\n").code,
        Some(ResponseCode::ClientBug)
    );
    assert_eq!(
        status("A1 NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n").code,
        Some(ResponseCode::BadCharset(vec![
            "UTF-8".into(),
            "US-ASCII".into()
        ]))
    );
    // RFC 7162 §3.1.3: MODIFIED.
    assert_eq!(
        status("d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n").code,
        Some(ResponseCode::Modified("7,9".parse().unwrap()))
    );
    // Unknown codes, and known codes with arguments that do not parse, are kept as text.
    assert_eq!(
        status("* OK [XYZZY some thing] hi\r\n").code,
        Some(ResponseCode::Other {
            name: "XYZZY".into(),
            text: Some("some thing".into())
        })
    );
    assert_eq!(
        status("* OK [UIDVALIDITY abc] hi\r\n").code,
        Some(ResponseCode::Other {
            name: "UIDVALIDITY".into(),
            text: Some("abc".into())
        })
    );
    // A bracket that never closes is plain text.
    let s = status("* OK [ALERT no close\r\n");
    assert_eq!((s.code, s.text.as_str()), (None, "[ALERT no close"));
}

#[test]
fn continuation_requests() {
    assert_eq!(
        one("+ Ready for additional command text\r\n"),
        Response::Continuation(Continuation {
            code: None,
            text: "Ready for additional command text".into()
        })
    );
    // Empty SASL challenges, with and without the space (RFC 9051 §7.5).
    for line in ["+ \r\n", "+\r\n"] {
        assert_eq!(
            one(line),
            Response::Continuation(Continuation {
                code: None,
                text: String::new()
            })
        );
    }
    let Response::Continuation(c) = one("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n") else {
        panic!()
    };
    assert_eq!(c.text, "eyJzdGF0dXMiOiI0MDEifQ==");
}

#[test]
fn list_responses() {
    // RFC 9051 §7.3.1.
    let Untagged::List(e) = untagged("* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n") else {
        panic!()
    };
    assert_eq!(
        (e.name.as_str(), e.delimiter, e.is_selectable()),
        ("~/Mail/foo", Some('/'), false)
    );
    let Untagged::List(e) = untagged("* LIST () NIL inbox\r\n") else {
        panic!()
    };
    assert_eq!((e.name.as_str(), e.delimiter), ("inbox", None));
    // Escaped delimiter, SPECIAL-USE (RFC 6154 §5.1), a literal name.
    let Untagged::List(e) =
        untagged("* LIST (\\HasNoChildren \\Sent) \"\\\\\" {9}\r\nSent Mail\r\n")
    else {
        panic!()
    };
    assert_eq!(
        (e.name.as_str(), e.delimiter, e.special_use()),
        ("Sent Mail", Some('\\'), Some("\\Sent"))
    );
    // RFC 5258 §6 CHILDINFO; RFC 9051 §6.3.6 OLDNAME.
    let Untagged::List(e) =
        untagged("* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")
    else {
        panic!()
    };
    assert_eq!(e.child_info, ["SUBSCRIBED"]);
    let Untagged::List(e) =
        untagged("* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n")
    else {
        panic!()
    };
    assert_eq!(e.old_name.as_deref(), Some("OldMailbox"));
    let Untagged::List(e) = untagged("* LIST () \"/\" x (\"X-FOO\" (1 2))\r\n") else {
        panic!()
    };
    assert_eq!(e.extended[0].0, "X-FOO");
    // Modified UTF-7 names are decoded (RFC 3501 §5.1.3), or UTF-8 ones in UTF-8 mode.
    let Untagged::List(e) = untagged("* LIST () \"/\" \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"\r\n")
    else {
        panic!()
    };
    assert_eq!(
        e.name,
        "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}"
    );
    let utf8 = parse_with(
        "* LIST () \"/\" \"Entw\u{fc}rfe &-\"\r\n".as_bytes(),
        Vec::new(),
        ParseOptions { utf8: true },
    )
    .unwrap();
    let Response::Untagged(Untagged::List(e)) = utf8 else {
        panic!()
    };
    assert_eq!(e.name, "Entw\u{fc}rfe &-");
    let Untagged::Lsub(e) = untagged("* LSUB () \".\" #news.comp.mail.misc\r\n") else {
        panic!()
    };
    assert_eq!(e.name, "#news.comp.mail.misc");
}

#[test]
fn status_namespace_id_enabled() {
    // RFC 9051 §7.3.2.
    let Untagged::MailboxStatus(s) =
        untagged("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n")
    else {
        panic!()
    };
    assert_eq!(
        (s.mailbox.as_str(), s.messages, s.uid_next, s.unseen),
        ("blurdybloop", Some(231), Some(44292), None)
    );
    let Untagged::MailboxStatus(s) =
        untagged("* STATUS \"a b\" (SIZE 12345678901 DELETED 2 HIGHESTMODSEQ 7 X-NEW 5)\r\n")
    else {
        panic!()
    };
    assert_eq!(
        (s.size, s.deleted, s.highest_modseq),
        (Some(12_345_678_901), Some(2), Some(7))
    );
    assert_eq!(s.other, [("X-NEW".to_owned(), 5)]);
    // RFC 2342 §5 example 5.4 and an extension (RFC 9051 §7.3.5).
    let Untagged::Namespace(n) = untagged(
        "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
    ) else {
        panic!()
    };
    assert_eq!(
        (n.personal[0].prefix.as_str(), n.personal[0].delimiter),
        ("", Some('/'))
    );
    assert_eq!(n.other_users[0].prefix, "~");
    assert_eq!(n.shared.len(), 4);
    assert_eq!(n.shared[3].delimiter, Some('.'));
    let Untagged::Namespace(n) =
        untagged("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n")
    else {
        panic!()
    };
    assert_eq!(
        n.personal[0].extensions,
        [(
            "X-PARAM".to_owned(),
            vec!["FLAG1".to_owned(), "FLAG2".to_owned()]
        )]
    );
    assert!(n.other_users.is_empty() && n.shared.is_empty());
    // RFC 2971 §3.
    let Untagged::Id(Some(id)) = untagged(
        "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\" \"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n",
    ) else {
        panic!()
    };
    assert_eq!(id[0], ("name".to_owned(), Some("Cyrus".to_owned())));
    assert_eq!(id.len(), 5);
    assert_eq!(untagged("* ID NIL\r\n"), Untagged::Id(None));
    // RFC 5161 §4.
    assert_eq!(
        untagged("* ENABLED CONDSTORE QRESYNC\r\n"),
        Untagged::Enabled(vec!["CONDSTORE".into(), "QRESYNC".into()])
    );
    assert_eq!(untagged("* ENABLED\r\n"), Untagged::Enabled(vec![]));
}

#[test]
fn search_responses() {
    // RFC 9051 §7.3.4 (SEARCH in RFC 3501 §7.2.5), RFC 7162 §3.1.5, RFC 4731 §3.1.
    assert_eq!(
        untagged("* SEARCH 2 84 882\r\n"),
        Untagged::Search {
            ids: vec![2, 84, 882],
            modseq: None
        }
    );
    assert_eq!(
        untagged("* SEARCH\r\n"),
        Untagged::Search {
            ids: vec![],
            modseq: None
        }
    );
    assert_eq!(
        untagged("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n"),
        Untagged::Search {
            ids: vec![2, 5, 6, 7, 11, 12, 18, 19, 20, 23],
            modseq: Some(917_162_500)
        }
    );
    let Untagged::Esearch(e) = untagged("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n") else {
        panic!()
    };
    assert_eq!(
        (e.tag.as_deref(), e.min, e.count, e.uid),
        (Some("A282"), Some(2), Some(3), false)
    );
    let Untagged::Esearch(e) = untagged("* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n") else {
        panic!()
    };
    assert_eq!(e.all.unwrap().expand(0, 10).unwrap(), [2, 10, 11]);
    let Untagged::Esearch(e) = untagged("* ESEARCH (TAG \"A284\") UID MIN 7 MAX 3800\r\n") else {
        panic!()
    };
    assert_eq!((e.uid, e.min, e.max), (true, Some(7), Some(3800)));
    let Untagged::Esearch(e) = untagged("* ESEARCH (TAG \"h\") UID\r\n") else {
        panic!()
    };
    assert!(e.uid && e.all.is_none());
    let Untagged::Esearch(e) = untagged("* ESEARCH UID COUNT 5 X-EXT (1 2)\r\n") else {
        panic!()
    };
    assert_eq!((e.tag, e.count, e.other.len()), (None, Some(5), 1));
}

#[test]
fn expunge_and_vanished() {
    assert_eq!(untagged("* 23 EXPUNGE\r\n"), Untagged::Expunge(23));
    // RFC 7162 §3.2.10.
    assert_eq!(
        untagged("* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"),
        Untagged::Vanished {
            earlier: true,
            uids: "41,43:116,118,120:211,214:540".parse().unwrap()
        }
    );
    assert_eq!(
        untagged("* VANISHED 405,407\r\n"),
        Untagged::Vanished {
            earlier: false,
            uids: "405,407".parse().unwrap()
        }
    );
}

#[test]
fn fetch_rfc_example() {
    // RFC 3501 §8, the sample FETCH FULL response.
    let line = "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
    let Untagged::Fetch(f) = untagged(line) else {
        panic!()
    };
    assert_eq!(
        (f.seq, f.size, f.flags.as_deref()),
        (12, Some(4286), Some(&["\\Seen".to_owned()][..]))
    );
    let e = f.envelope.as_ref().unwrap();
    assert_eq!(
        e.subject_text().as_deref(),
        Some("IMAP4rev1 WG mtg summary and minutes")
    );
    assert_eq!(e.to[0].email().as_deref(), Some("imap@cac.washington.edu"));
    assert_eq!(
        e.message_id.as_deref(),
        Some(&b"<B27397-0100000@cac.washington.edu>"[..])
    );
    let b = f.body_structure.as_ref().unwrap();
    assert_eq!(
        (b.kind, b.lines, b.size),
        (BodyKind::Text, Some(92), Some(3028))
    );
    assert_eq!(f.internal_date.unwrap().timestamp(), 837_596_665);
    round_trip(&one(line));
}

#[test]
fn fetch_bodies_and_modseq() {
    // A literal body, an empty one ({0}), a NIL one; MODSEQ (RFC 7162 §3.1.4.1).
    let data = b"* 1 FETCH (UID 10 BODY[] {12}\r\nHello\r\nWorld MODSEQ (624140003))\r\n";
    let Response::Untagged(Untagged::Fetch(mut f)) = parse(data).unwrap() else {
        panic!()
    };
    assert_eq!((f.uid, f.modseq), (Some(10), Some(624_140_003)));
    assert_eq!(f.take_body().unwrap(), b"Hello\r\nWorld");
    let Untagged::Fetch(f) = untagged("* 2 FETCH (UID 11 BODY[] {0}\r\n)\r\n") else {
        panic!()
    };
    assert_eq!(f.body(), Some(&b""[..]));
    let Untagged::Fetch(f) = untagged("* 3 FETCH (UID 12 BODY[1.MIME] NIL BODY[]<100> \"xy\")\r\n")
    else {
        panic!()
    };
    assert_eq!(f.section("1.MIME").unwrap().data, None);
    assert_eq!(f.section("").unwrap().origin, Some(100));
    // The same frame with the literal taken out of line: moved into the result.
    let text = b"* 1 FETCH (UID 10 BODY[] {11}\r\n MODSEQ (1))\r\n";
    let r = parse_with(
        text,
        vec![(31, b"Hello\r\nWorld".to_vec())],
        ParseOptions::default(),
    );
    assert!(r.is_err(), "11 announced, 12 given");
    // A literal claiming more than the frame holds.
    assert!(parse(b"* 1 FETCH (UID 10 BODY[] {13}\r\nHello\r\nWorld MODSEQ (1))\r\n").is_err());
    let r = parse_with(
        text,
        vec![(31, b"Hello\r\nWorl".to_vec())],
        ParseOptions::default(),
    )
    .unwrap();
    let Response::Untagged(Untagged::Fetch(f)) = r else {
        panic!()
    };
    assert_eq!((f.body(), f.modseq), (Some(&b"Hello\r\nWorl"[..]), Some(1)));
}

#[test]
fn folded_fetch_response() {
    // Some servers break long data responses inside the parentheses.
    let data = b"* 1 FETCH (UID 5\r\n FLAGS (\\Seen\r\n \\Draft))\r\nA1 OK done\r\n";
    let mut d = Decoder::new(FrameLimits::default());
    let (r, n) = d.decode(data).unwrap().unwrap();
    let Response::Untagged(Untagged::Fetch(f)) = r.unwrap() else {
        panic!()
    };
    assert_eq!((f.uid, f.flags.unwrap().len()), (Some(5), 2));
    let (r, _) = d.decode(&data[n..]).unwrap().unwrap();
    assert!(matches!(r.unwrap(), Response::Tagged { .. }));
}

#[test]
fn unknown_responses_are_kept() {
    let Untagged::Other { name, data } = untagged("* QUOTA \"\" (STORAGE 10 512)\r\n") else {
        panic!()
    };
    assert_eq!(
        (name.as_str(), data.as_slice()),
        ("QUOTA", &b"\"\" (STORAGE 10 512)"[..])
    );
    assert_eq!(Untagged::other_values(&data).unwrap().len(), 2);
    let Untagged::Other { name, .. } = untagged("* 5 XNEW foo\r\n") else {
        panic!()
    };
    assert_eq!(name, "5 XNEW");
}

#[test]
fn malformed_responses_are_errors() {
    for bad in [
        &b"\r\n"[..],
        b"garbage\r\n",
        b"A1 FOO bar\r\n",
        b"* 4294967296 EXISTS\r\n",
        b"* 1 FETCH (UID)\r\n",
        b"* 1 FETCH (UID 1\r\n",
        b"* 1 FETCH (BODY[] {5}\r\nab)\r\n",
        b"* 1 FETCH (FLAGS (\\Seen) UID 2) trailing\r\n",
        b"* LIST (\\Noselect \"/\" foo\r\n",
        b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" x 1))\r\n",
        b"* 1 FETCH (INTERNALDATE \"31-Feb-2024 00:00:00 +0000\")\r\n",
        b"* STATUS x (MESSAGES 99999999999)\r\n",
        b"* SEARCH 0\r\n",
        b"* 1 FETCH (ENVELOPE (NIL NIL))\r\n",
        b"* 1 FETCH (BODY[HEADER.FIELDS ()] NIL)\r\n",
        b"* NAMESPACE ((\"\" \"/\")) NIL\r\n",
        b"* ID (\"a\")\r\n",
        b"* VANISHED (LATER) 1\r\n",
        b"* 1 FETCH (BODY[] ~{2}\r\n",
    ] {
        assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    let deep = format!(
        "* 1 FETCH (X-DEEP {}{})\r\n",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert!(matches!(
        parse(deep.as_bytes()),
        Err(ParseError::TooDeep { .. })
    ));
    let deep_body = format!("* 1 FETCH (BODYSTRUCTURE {})\r\n", "(".repeat(100_000));
    assert!(parse(deep_body.as_bytes()).is_err());
}

#[test]
fn big_responses_parse() {
    // A SEARCH of a million UIDs, and a FLAGS FETCH of many keywords, in one pass.
    let mut line = String::from("* SEARCH");
    for i in 1..=1_000_000u32 {
        line.push(' ');
        line.push_str(&i.to_string());
    }
    line.push_str("\r\n");
    let Untagged::Search { ids, .. } = untagged(&line) else {
        panic!()
    };
    assert_eq!((ids.len(), ids[999_999]), (1_000_000, 1_000_000));
    let flags: Vec<String> = (0..50_000).map(|i| format!("$k{i}")).collect();
    let Untagged::Fetch(f) = untagged(&format!("* 1 FETCH (FLAGS ({}))\r\n", flags.join(" ")))
    else {
        panic!()
    };
    assert_eq!(f.flags.unwrap().len(), 50_000);
}

/// A transcript of responses of every kind, for the streaming and mutation tests.
fn corpus() -> Vec<u8> {
    let mut all = Vec::new();
    for line in [
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] ready\r\n",
        "* 3 EXISTS\r\n",
        "* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n",
        "* LIST (\\HasNoChildren) \"/\" {5}\r\nInbox\r\n",
        "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)\r\n",
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n",
        "* ESEARCH (TAG \"A1\") UID ALL 1:3,7\r\n",
        "* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {12}\r\nSubject: x\r\n MODSEQ (3))\r\n",
        "* 2 FETCH (UID 2 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 9 (NIL \"s\" ((\"n\" NIL \"m\" \"h\")) NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"html\" NIL NIL NIL \"base64\" 4 1) 2 NIL (\"attachment\" (\"filename\" \"a\")) \"en\" NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL))\r\n",
        "* 3 FETCH (UID 3 ENVELOPE (\"d\" {3}\r\nsub ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL NIL \"<id>\") X-GM-LABELS (\\Inbox \"a b\"))\r\n",
        "* 1 FETCH (UID 1\r\n FLAGS ())\r\n",
        "* VANISHED (EARLIER) 1:2,5\r\n",
        "+ go ahead\r\n",
        "A1 OK [COPYUID 7 1:2 5:6] done\r\n",
        "A2 NO [TRYCREATE] no\r\n",
        "* BYE bye\r\n",
    ] {
        all.extend_from_slice(line.as_bytes());
    }
    all
}

#[test]
fn streaming_agrees_with_whole_frames() {
    let data = corpus();
    let whole = decode_stream(&data, FrameLimits::default(), data.len());
    assert_eq!(whole.len(), 16);
    assert!(whole.iter().all(|r| r.is_ok()), "{whole:?}");
    for step in [1, 2, 3, 5, 64] {
        assert_eq!(
            decode_stream(&data, FrameLimits::default(), step),
            whole,
            "step {step}"
        );
    }
    exercise(&data);
}

#[test]
fn every_prefix_is_incomplete_not_an_error() {
    let data = b"* 1 FETCH (UID 1 BODY[] {12}\r\nSubject: x\r\n MODSEQ (3))\r\n";
    for n in 0..data.len() {
        let mut d = Decoder::new(FrameLimits::default());
        assert!(matches!(d.decode(&data[..n]), Ok(None)), "prefix {n}");
    }
}

#[test]
fn mutated_corpus_never_panics() {
    // A bounded, deterministic cousin of the libFuzzer target in fuzz/.
    let seed = corpus();
    let lines: Vec<&[u8]> = seed.split_inclusive(|&b| b == b'\n').collect();
    let pieces: [&[u8]; 14] = [
        b"\r\n",
        b"\n",
        b"(",
        b")",
        b"\"",
        b"\\",
        b"{0}\r\n",
        b"{5}\r\n",
        b"~{2}\r\n",
        b" ",
        b"NIL",
        b"[",
        b"]",
        b"\xff",
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..20_000 {
        let mut data = if round % 3 == 0 {
            seed.clone()
        } else {
            lines[rng.next() % lines.len()].to_vec()
        };
        for _ in 0..(1 + rng.next() % 5) {
            mutate(&mut data, &pieces, 16, &mut rng);
        }
        exercise(&data);
    }
}
