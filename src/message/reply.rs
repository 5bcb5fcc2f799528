//! Replies and forwards: who a reply goes to, its subject and thread fields
//! (RFC 5322 §3.6.3, §3.6.4), and the quoted original.

use super::MessageView;
use super::address::Address;

/// Reply prefixes that are not stacked: `Re`, and the German, Scandinavian, Dutch and Polish
/// forms mail clients write.
const REPLY_PREFIXES: [&str; 5] = ["re", "aw", "sv", "antw", "odp"];
const FORWARD_PREFIXES: [&str; 3] = ["fwd", "fw", "wg"];

/// Remove leading `prefix:` (also `Re[2]:` and `Re^2:`) for any of `prefixes`.
fn strip_prefixes<'s>(mut s: &'s str, prefixes: &[&str]) -> &'s str {
    loop {
        s = s.trim_start();
        let Some(colon) = s.find(':').filter(|&c| c <= 12) else {
            return s;
        };
        let word = s[..colon].trim_end();
        let word = match word.find(['[', '^']) {
            Some(k)
                if word[k + 1..]
                    .trim_end_matches(']')
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
            {
                &word[..k]
            }
            _ => word,
        };
        if !prefixes.iter().any(|p| p.eq_ignore_ascii_case(word)) {
            return s;
        }
        s = &s[colon + 1..];
    }
}

/// `Re: subject`, without stacking reply prefixes (`Re: Re:`, `RE:`, `Aw:`).
pub fn reply_subject(subject: Option<&str>) -> String {
    let rest = strip_prefixes(subject.unwrap_or(""), &REPLY_PREFIXES);
    if rest.is_empty() {
        "Re:".into()
    } else {
        format!("Re: {rest}")
    }
}

/// `Fwd: subject`, without stacking forward prefixes.
pub fn forward_subject(subject: Option<&str>) -> String {
    let rest = strip_prefixes(subject.unwrap_or(""), &FORWARD_PREFIXES);
    if rest.is_empty() {
        "Fwd:".into()
    } else {
        format!("Fwd: {rest}")
    }
}

/// A reply's `In-Reply-To` and `References` (RFC 5322 §3.6.4): the parent's Message-ID,
/// and the parent's References (or its single In-Reply-To id when it has no References)
/// followed by the parent's Message-ID.
pub fn thread_ids(parent: &MessageView<'_>) -> (Option<String>, Vec<String>) {
    let id = parent.message_id();
    let mut refs = parent.ids("References");
    if refs.is_empty() {
        let in_reply_to = parent.ids("In-Reply-To");
        if in_reply_to.len() == 1 {
            refs = in_reply_to;
        }
    }
    if let Some(id) = &id
        && refs.last() != Some(id)
    {
        refs.push(id.clone());
    }
    (id, refs)
}

fn same(a: &Address, b: &Address) -> bool {
    a.email.eq_ignore_ascii_case(&b.email)
}

/// A reply's To and Cc (RFC 5322 §3.6.3): the parent's Reply-To, or else its From; with
/// `reply_all`, also the parent's To (added to To) and Cc, without `me` and without
/// duplicates.
pub fn reply_recipients(
    parent: &MessageView<'_>,
    reply_all: bool,
    me: &[Address],
) -> (Vec<Address>, Vec<Address>) {
    let real = |list: Vec<Address>| -> Vec<Address> {
        list.into_iter()
            .filter(|a| !a.email.is_empty())
            .map(|a| Address { group: None, ..a })
            .collect()
    };
    let reply_to = real(parent.addresses("Reply-To"));
    let primary = if reply_to.is_empty() {
        real(parent.addresses("From"))
    } else {
        reply_to
    };
    if !reply_all {
        return (primary, Vec::new());
    }
    let mut seen: Vec<Address> = me.to_vec();
    let mut keep = |list: Vec<Address>| -> Vec<Address> {
        let mut out = Vec::new();
        for a in list {
            if !seen.iter().any(|s| same(s, &a)) {
                seen.push(a.clone());
                out.push(a);
            }
        }
        out
    };
    let mut to = keep(primary.clone());
    to.extend(keep(real(parent.addresses("To"))));
    let mut cc = keep(real(parent.addresses("Cc")));
    if to.is_empty() {
        // A reply to one's own message goes to its recipients.
        if cc.is_empty() {
            to = primary;
        } else {
            to = std::mem::take(&mut cc);
        }
    }
    (to, cc)
}

/// The parent's text quoted below an attribution line (`On <date>, <name> wrote:`), each
/// line prefixed with `> ` (`>` before lines already quoted, RFC 3676 §4.5).
pub fn quote(parent: &MessageView<'_>, text: &str) -> String {
    let who = parent
        .addresses("From")
        .into_iter()
        .next()
        .map(|a| if a.name.is_empty() { a.email } else { a.name })
        .unwrap_or_else(|| "someone".into());
    let when = parent
        .field("Date")
        .map(|f| f.unfolded())
        .filter(|d| !d.is_empty());
    let mut out = match when {
        Some(d) => format!("On {d}, {who} wrote:\n"),
        None => format!("{who} wrote:\n"),
    };
    for line in text.trim_end_matches(['\r', '\n']).lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('>') {
            out.push('>');
        } else {
            out.push_str("> ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A file name for an attached message: its subject, without characters file systems
/// refuse, and `.eml`.
pub fn message_filename(subject: Option<&str>) -> String {
    let clean: String = subject
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let clean = clean.trim();
    let clean: String = clean.chars().take(100).collect();
    if clean.is_empty() {
        "forwarded message.eml".into()
    } else {
        format!("{clean}.eml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Document;

    #[test]
    fn subjects_do_not_stack() {
        assert_eq!(reply_subject(Some("Hello")), "Re: Hello");
        assert_eq!(reply_subject(Some("Re: Hello")), "Re: Hello");
        assert_eq!(reply_subject(Some("RE: re:Hello")), "Re: Hello");
        assert_eq!(reply_subject(Some("Aw: SV: Hello")), "Re: Hello");
        assert_eq!(reply_subject(Some("Re[2]: Hello")), "Re: Hello");
        assert_eq!(reply_subject(Some("Fwd: Hello")), "Re: Fwd: Hello");
        assert_eq!(reply_subject(Some("Note: Hello")), "Re: Note: Hello");
        assert_eq!(reply_subject(None), "Re:");
        assert_eq!(forward_subject(Some("Fwd: FW: Hello")), "Fwd: Hello");
        assert_eq!(forward_subject(Some("Re: Hello")), "Fwd: Re: Hello");
    }

    #[test]
    fn rfc5322_a2_threading() {
        // RFC 5322 Appendix A.2: the reply, then the reply to the reply.
        let parent = Document::from_vec(
            b"From: John Doe <jdoe@machine.example>\r\n\
To: Mary Smith <mary@example.net>\r\n\
Subject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <1234@local.machine.example>\r\n\r\nThis is a message just to say hello.\r\n"
                .to_vec(),
        );
        let (id, refs) = thread_ids(&parent.root());
        assert_eq!(id.as_deref(), Some("1234@local.machine.example"));
        assert_eq!(refs, ["1234@local.machine.example"]);
        let reply = Document::from_vec(
            b"From: Mary Smith <mary@example.net>\r\n\
To: John Doe <jdoe@machine.example>\r\n\
Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>\r\n\
Message-ID: <3456@example.net>\r\n\
In-Reply-To: <1234@local.machine.example>\r\n\
References: <1234@local.machine.example>\r\n\r\nThis is a reply to your hello.\r\n"
                .to_vec(),
        );
        let (_, refs) = thread_ids(&reply.root());
        assert_eq!(refs, ["1234@local.machine.example", "3456@example.net"]);
        let (to, cc) = reply_recipients(&reply.root(), false, &[]);
        assert_eq!(to[0].email, "smith@home.example");
        assert!(cc.is_empty());
        // No References: the single In-Reply-To id starts the list.
        let only_irt =
            Document::from_vec(b"Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n\r\n".to_vec());
        assert_eq!(thread_ids(&only_irt.root()).1, ["a@x", "b@x"]);
    }

    #[test]
    fn reply_all_drops_me_and_duplicates() {
        let m = Document::from_vec(
            b"From: a@x.test\r\nTo: me@x.test, b@x.test, A@x.test\r\nCc: c@x.test, b@x.test\r\n\r\n"
                .to_vec(),
        );
        let me = [Address {
            email: "ME@x.test".into(),
            ..Default::default()
        }];
        let (to, cc) = reply_recipients(&m.root(), true, &me);
        let emails = |l: &[Address]| l.iter().map(|a| a.email.clone()).collect::<Vec<_>>();
        assert_eq!(emails(&to), ["a@x.test", "b@x.test"]);
        assert_eq!(emails(&cc), ["c@x.test"]);
    }

    #[test]
    fn quoting() {
        let m = Document::from_vec(
            b"From: Bob <b@x.test>\r\nDate: Mon, 8 Mar 2010 19:55:06 -0600\r\n\r\n".to_vec(),
        );
        assert_eq!(
            quote(&m.root(), "hi\r\n> old\r\n\r\nbye\r\n"),
            "On Mon, 8 Mar 2010 19:55:06 -0600, Bob wrote:\n> hi\n>> old\n>\n> bye\n"
        );
        assert_eq!(message_filename(Some("a/b: c")), "a_b_ c.eml");
        assert_eq!(message_filename(None), "forwarded message.eml");
    }
}
