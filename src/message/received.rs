//! Received trace fields (RFC 5321 §4.4 `Stamp`, RFC 5322 §3.6.7).
//!
//! The grammar is `from <host> (<tcp-info>) by <host> via <link> with <protocol> id <id>
//! for <path>; <date-time>`, but every MTA adds its own comments and variations: Postfix puts
//! TLS details in a comment after the `from` clause, Exim writes `(helo=...)` and
//! `(TLS1.2:cipher:bits)`, Sun Java System Messaging Server and amavisd nest product names in
//! comments, Microsoft's protocol is three words, sendmail writes `version=... cipher=...`.
//! This reader tokenizes the field (comments, `[literals]`, `<paths>`, words), splits it at
//! the last top-level `;` and reads each clause by its keyword, so it takes all of them.

use std::net::IpAddr;

use super::date::{self, Date};

/// One hop of the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Received {
    /// The sending host as the `from` clause names it (its EHLO name, or an address literal
    /// such as `[192.0.2.1]`).
    pub from_host: Option<String>,
    /// The sending host's IP address, from the TCP-info comment or an address literal.
    pub from_ip: Option<String>,
    /// The sending host's name as the receiver looked it up (the TCP-info comment).
    pub from_rdns: Option<String>,
    /// The receiving host (`by` clause).
    pub by_host: Option<String>,
    pub via: Option<String>,
    /// The `with` protocol as written (`ESMTP`, `ESMTPS`, `LMTP`, `Microsoft SMTP Server`...).
    pub protocol: Option<String>,
    /// The receiver's queue id, without angle brackets.
    pub id: Option<String>,
    /// The recipient the hop was for, without angle brackets.
    pub for_: Option<String>,
    pub date: Option<Date>,
    /// The TLS description as written (such as `using TLSv1.3 with cipher ...` or
    /// `version=TLS1_2, cipher=...`), when the hop records one.
    pub tls: Option<String>,
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Comment(&'a str),
    Literal(&'a str),
    Angle(&'a str),
    Quoted(&'a str),
    Semicolon,
}

fn tokenize(s: &str) -> Vec<(Token<'_>, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => i += 1,
            b';' => {
                out.push((Token::Semicolon, start));
                i += 1;
            }
            b'(' => {
                let mut depth = 0usize;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let end = i.min(b.len());
                out.push((Token::Comment(s.get(start + 1..end).unwrap_or("")), start));
                i = end + 1;
            }
            b'[' | b'<' | b'"' => {
                let close = match c {
                    b'[' => b']',
                    b'<' => b'>',
                    _ => b'"',
                };
                let end = memchr::memchr(close, &b[i + 1..]).map_or(b.len(), |k| i + 1 + k);
                let inner = s.get(start + 1..end).unwrap_or("");
                out.push((
                    match c {
                        b'[' => Token::Literal(inner),
                        b'<' => Token::Angle(inner),
                        _ => Token::Quoted(inner),
                    },
                    start,
                ));
                i = end + 1;
            }
            _ => {
                while i < b.len()
                    && !matches!(
                        b[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b'<' | b'"' | b','
                    )
                {
                    i += 1;
                }
                out.push((Token::Word(s.get(start..i).unwrap_or("")), start));
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Clause {
    From,
    By,
    Via,
    With,
    Id,
    For,
}

fn keyword(t: &Token<'_>) -> Option<Clause> {
    let Token::Word(w) = t else { return None };
    Some(match w.to_ascii_lowercase().as_str() {
        "from" => Clause::From,
        "by" => Clause::By,
        "via" => Clause::Via,
        "with" => Clause::With,
        "id" => Clause::Id,
        "for" => Clause::For,
        _ => return None,
    })
}

/// Read a Received field value (unfolded). Never fails: unknown parts are skipped.
pub fn parse(value: &str) -> Received {
    let tokens = tokenize(value);
    let mut r = Received::default();
    // The date follows the last top-level semicolon.
    let split = tokens.iter().rposition(|(t, _)| *t == Token::Semicolon);
    let (clauses, date_at) = match split {
        Some(k) => (&tokens[..k], tokens.get(k).map(|(_, at)| at + 1)),
        None => (&tokens[..], None),
    };
    if let Some(at) = date_at {
        r.date = date::parse(value.get(at..).unwrap_or("").as_bytes());
    }
    let mut clause: Option<Clause> = None;
    let mut fresh = false; // the token after the keyword is the clause value
    let mut with_words: Vec<&str> = Vec::new();
    let mut after_tls_word = false;
    // An address the receiver saw (TCP-info comment) beats one the sender claimed (an
    // address literal as its EHLO name), RFC 5321 §4.4.
    let mut seen_ip = false;
    for (t, _) in clauses {
        if let Token::Comment(c) = t {
            read_comment(&mut r, clause, c, &mut seen_ip);
            continue;
        }
        if let Some(k) = keyword(t) {
            clause = Some(k);
            fresh = true;
            continue;
        }
        let was_fresh = fresh;
        fresh = false;
        match (clause, t) {
            (Some(Clause::From), Token::Word(w)) if was_fresh => {
                r.from_host = Some(w.to_string());
                if let Some(ip) = ip(w) {
                    r.from_ip.get_or_insert(ip);
                }
            }
            (Some(Clause::From), Token::Literal(l)) => {
                if was_fresh {
                    r.from_host = Some(format!("[{l}]"));
                }
                if let Some(ip) = ip(l) {
                    r.from_ip.get_or_insert(ip);
                }
            }
            (Some(Clause::By), Token::Word(w) | Token::Literal(w)) if was_fresh => {
                r.by_host = Some(w.trim_end_matches('.').to_string());
            }
            (Some(Clause::Via), Token::Word(w)) if was_fresh => r.via = Some(w.to_string()),
            (Some(Clause::With), Token::Word(w)) => {
                if after_tls_word {
                    // Exim 4.9x: `with esmtps (TLS1.3) tls TLS_AES_256_GCM_SHA384`.
                    r.tls_cipher.get_or_insert_with(|| w.to_string());
                    r.tls.get_or_insert_with(|| format!("tls {w}"));
                    after_tls_word = false;
                } else if w.eq_ignore_ascii_case("tls") {
                    after_tls_word = true;
                } else {
                    with_words.push(w);
                }
            }
            (Some(Clause::Id), Token::Word(w) | Token::Angle(w) | Token::Quoted(w))
                if was_fresh =>
            {
                r.id = Some(w.to_string());
            }
            (Some(Clause::For), Token::Word(w) | Token::Angle(w)) if r.for_.is_none() => {
                r.for_ = Some(w.to_string());
            }
            _ => {}
        }
    }
    if !with_words.is_empty() {
        r.protocol = Some(with_words.join(" "));
    }
    r
}

/// Comments carry the TCP info of the `from` clause and, anywhere, TLS details.
fn read_comment(r: &mut Received, clause: Option<Clause>, c: &str, seen_ip: &mut bool) {
    if r.tls.is_none() && read_tls(r, c) {
        return;
    }
    if clause != Some(Clause::From) {
        return;
    }
    let mut saw = |r: &mut Received, ip: String| {
        if !*seen_ip {
            r.from_ip = Some(ip);
            *seen_ip = true;
        }
    };
    for (t, _) in tokenize(c) {
        match t {
            Token::Literal(l) => {
                if let Some(ip) = ip(l) {
                    saw(r, ip);
                }
            }
            Token::Word(w) => {
                if let Some(ip) = ip(w) {
                    // `(195.41.46.149)`, as LSMTP and qmail write it.
                    saw(r, ip);
                } else if let Some(rest) =
                    w.strip_prefix("helo=").or_else(|| w.strip_prefix("HELO="))
                {
                    let _ = rest; // Exim's EHLO name; the `from` host already names it.
                } else if r.from_rdns.is_none()
                    && looks_like_host(w)
                    && !w.eq_ignore_ascii_case("unknown")
                {
                    r.from_rdns = Some(w.trim_end_matches('.').to_string());
                }
            }
            // `(may be forged)` and similar notes: only TLS matters there.
            Token::Comment(inner) if r.tls.is_none() => {
                read_tls(r, inner);
            }
            _ => {}
        }
    }
}

/// A DNS name: dotted labels ending in an alphabetic top-level label (so version strings
/// such as `sims.3.5.2000.03.23.18.03.p10` in product comments are not taken), or localhost.
fn looks_like_host(w: &str) -> bool {
    if w.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let w = w.trim_end_matches('.');
    let Some((_, tld)) = w.rsplit_once('.') else {
        return false;
    };
    !w.contains('=')
        && !w.contains('@')
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
            || tld.to_ascii_lowercase().starts_with("xn--"))
}

/// Recognise the TLS notes of Postfix, sendmail, Exim and Microsoft.
fn read_tls(r: &mut Received, c: &str) -> bool {
    let text = c.trim();
    let words: Vec<&str> = text
        .split(|ch: char| ch.is_whitespace() || ch == ',')
        .filter(|w| !w.is_empty())
        .collect();
    // Postfix: `using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) ...`.
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("using"))
        && words.get(1).is_some_and(|w| is_tls_version(w))
    {
        r.tls = Some(text.to_string());
        r.tls_version = words.get(1).map(|w| w.to_string());
        if let Some(k) = words.iter().position(|w| w.eq_ignore_ascii_case("cipher")) {
            r.tls_cipher = words.get(k + 1).map(|w| w.to_string());
        }
        return true;
    }
    // sendmail `version=TLSv1.2 cipher=... bits=...`, Microsoft `version=TLS1_2, cipher=...`.
    let kv = |key: &str| {
        words.iter().find_map(|w| {
            let (k, v) = w.split_once('=')?;
            k.eq_ignore_ascii_case(key).then(|| v.to_string())
        })
    };
    if let Some(v) = kv("version").filter(|v| is_tls_version(v)) {
        r.tls = Some(text.to_string());
        r.tls_version = Some(v);
        r.tls_cipher = kv("cipher");
        return true;
    }
    // Exim: `(TLS1.2:ECDHE-RSA-AES128-GCM-SHA256:128)` or `(TLS1.3)`.
    if words.len() == 1 {
        let mut it = words[0].split(':');
        if let Some(v) = it.next().filter(|v| is_tls_version(v)) {
            r.tls = Some(text.to_string());
            r.tls_version = Some(v.to_string());
            r.tls_cipher = it.next().filter(|c| !c.is_empty()).map(str::to_string);
            return true;
        }
    }
    false
}

fn is_tls_version(w: &str) -> bool {
    let u = w.to_ascii_uppercase();
    (u.starts_with("TLS") || u.starts_with("SSL") || u.starts_with("DTLS"))
        && u.len() <= 12
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'V'))
}

/// An IP address from `1.2.3.4`, `IPv6:2001:db8::1` or `2001:db8::1`.
fn ip(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("IPv6:")
        .or_else(|| s.strip_prefix("ipv6:"))
        .unwrap_or(s);
    s.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_address_beats_claimed_literal() {
        let r = parse(
            "from [192.168.1.20] (host.example.net [203.0.113.9]) by mx.example.org with ESMTP id 1; Mon, 8 Mar 2010 11:37:17 +0100",
        );
        assert_eq!(r.from_host.as_deref(), Some("[192.168.1.20]"));
        assert_eq!(r.from_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(r.from_rdns.as_deref(), Some("host.example.net"));
        // With no TCP-info comment, the literal is all there is.
        let r = parse("from [192.0.2.7] by mx.example.org; Mon, 8 Mar 2010 11:37:17 +0100");
        assert_eq!(r.from_ip.as_deref(), Some("192.0.2.7"));
    }

    #[test]
    fn product_versions_are_not_host_names() {
        // CPython test_email msg_16.txt (Sun Internet Mail Server)
        let r = parse(
            "from cougar.noc.ucla.edu\r\n (Sun Internet Mail Server sims.3.5.2000.03.23.18.03.p10)\r\n id <0GK500B01D0B8X@cougar.noc.ucla.edu>; Sun, 23 Sep 2001 20:14:35 -0700 (PDT)",
        );
        assert_eq!(r.from_host.as_deref(), Some("cougar.noc.ucla.edu"));
        assert_eq!(r.from_rdns, None);
        assert_eq!(r.id.as_deref(), Some("0GK500B01D0B8X@cougar.noc.ucla.edu"));
    }

    fn p(s: &str) -> Received {
        parse(&s.replace("\r\n", "").replace('\n', ""))
    }

    #[test]
    fn seed_chapter_sun_java() {
        let r = p(
            "from smtp3.sgssi.ucl.ac.be (Unknown [10.1.5.3])\n  by mmp.sipr-dc.ucl.ac.be\n  (Sun Java(tm) System Messaging Server 7u3-15.01 64bit (built Feb 12 2010))\n  with ESMTTP id <0KYY00L85LI5JLE0@mmp.sipr-dc.ucl.ac.be>; Mon,\n  08 Mar 2010 11:37:17 +0100 (CET)",
        );
        assert_eq!(r.from_host.as_deref(), Some("smtp3.sgssi.ucl.ac.be"));
        assert_eq!(r.from_ip.as_deref(), Some("10.1.5.3"));
        assert_eq!(r.from_rdns, None);
        assert_eq!(r.by_host.as_deref(), Some("mmp.sipr-dc.ucl.ac.be"));
        assert_eq!(r.protocol.as_deref(), Some("ESMTTP"));
        assert_eq!(
            r.id.as_deref(),
            Some("0KYY00L85LI5JLE0@mmp.sipr-dc.ucl.ac.be")
        );
        let d = r.date.unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.offset),
            (2010, 3, 8, 11, 3600)
        );
    }

    #[test]
    fn seed_chapter_amavisd() {
        let r = p(
            "from mail.ietf.org ([64.170.98.32])\n by localhost (core3.amsl.com [127.0.0.1]) (amavisd-new, port 10024)\n with ESMTP id erw8ih2v8VQa for <rrg@core3.amsl.com>; Mon,\n 08 Mar 2010 02:36:36 -0800 (PST)",
        );
        assert_eq!(r.from_host.as_deref(), Some("mail.ietf.org"));
        assert_eq!(r.from_ip.as_deref(), Some("64.170.98.32"));
        assert_eq!(r.by_host.as_deref(), Some("localhost"));
        assert_eq!(r.protocol.as_deref(), Some("ESMTP"));
        assert_eq!(r.id.as_deref(), Some("erw8ih2v8VQa"));
        assert_eq!(r.for_.as_deref(), Some("rrg@core3.amsl.com"));
        assert_eq!(r.date.unwrap().offset, -8 * 3600);
    }

    #[test]
    fn postfix_with_tls() {
        let r = p(
            "from mail.example.com (mail.example.com [192.0.2.7]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256) (No client certificate requested) by mx.example.net (Postfix) with ESMTPS id 4Xyz1234; Tue, 1 Oct 2024 10:00:00 +0000 (UTC)",
        );
        assert_eq!(r.from_rdns.as_deref(), Some("mail.example.com"));
        assert_eq!(r.from_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(r.tls_cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        assert_eq!(r.by_host.as_deref(), Some("mx.example.net"));
        assert_eq!(r.protocol.as_deref(), Some("ESMTPS"));
        assert_eq!(r.id.as_deref(), Some("4Xyz1234"));
    }

    #[test]
    fn exim_sendmail_microsoft() {
        let r = p(
            "from [204.245.199.98] (helo=zinfandel.lacita.com) by www.linux.org.uk with esmtp (Exim 3.13 #1) id 14lYR6-0008Iv-00 for linuxuser-admin@www.linux.org.uk; Fri, 06 Apr 2001 16:46:09 +0100",
        );
        assert_eq!(r.from_host.as_deref(), Some("[204.245.199.98]"));
        assert_eq!(r.from_ip.as_deref(), Some("204.245.199.98"));
        assert_eq!(r.protocol.as_deref(), Some("esmtp"));
        assert_eq!(r.for_.as_deref(), Some("linuxuser-admin@www.linux.org.uk"));
        let r = p(
            "from a.example ([198.51.100.1]) by b.example with esmtps (TLS1.2:ECDHE-RSA-AES128-GCM-SHA256:128) (Exim 4.92) id 1abc; Mon, 1 Jan 2024 00:00:00 +0000",
        );
        assert_eq!(r.tls_version.as_deref(), Some("TLS1.2"));
        assert_eq!(r.tls_cipher.as_deref(), Some("ECDHE-RSA-AES128-GCM-SHA256"));
        let r = p(
            "from host.example (host.example [192.0.2.9]) by mx.example (8.14.4/8.14.4) with ESMTP id x1 (version=TLSv1/SSLv3 cipher=DHE-RSA-AES256-SHA bits=256 verify=NO) for <u@example.com>; Mon, 1 Jan 2024 00:00:00 +0000",
        );
        assert_eq!(r.tls_cipher.as_deref(), Some("DHE-RSA-AES256-SHA"));
        assert_eq!(r.for_.as_deref(), Some("u@example.com"));
        let r = p(
            "from DM6PR.namprd.prod.outlook.com (2603:10b6:5:1::1) by BN8PR.namprd.prod.outlook.com (2603:10b6:408:1::2) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.1234.5; Mon, 1 Jan 2024 00:00:00 +0000",
        );
        assert_eq!(r.protocol.as_deref(), Some("Microsoft SMTP Server"));
        assert_eq!(r.from_ip.as_deref(), Some("2603:10b6:5:1::1"));
        assert_eq!(r.tls_version.as_deref(), Some("TLS1_2"));
        assert_eq!(r.id.as_deref(), Some("15.20.1234.5"));
    }

    #[test]
    fn cpython_corpus_forms() {
        // test_email/data/msg_15.txt, msg_26.txt, msg_01.txt.
        let r = p(
            "from fepD.post.tele.dk (195.41.46.149) by mail.groupcare.dk (LSMTP for Windows NT v1.1b) with SMTP id <0.0014F8A2@mail.groupcare.dk>; Mon, 30 Apr 2001 12:17:50 +0200",
        );
        assert_eq!(r.from_ip.as_deref(), Some("195.41.46.149"));
        assert_eq!(r.id.as_deref(), Some("0.0014F8A2@mail.groupcare.dk"));
        let r = p(
            "from xcar [192.168.0.2] by jeeves.wooster.local\n  (SMTPD32-7.07 EVAL) id AFF92F0214; Sun, 12 May 2002 08:55:37 +0100",
        );
        assert_eq!(r.from_host.as_deref(), Some("xcar"));
        assert_eq!(r.from_ip.as_deref(), Some("192.168.0.2"));
        assert_eq!(r.by_host.as_deref(), Some("jeeves.wooster.local"));
        let r = p(
            "by mail.zzz.org (Postfix, from userid 889)\n\tid 27CEAD38CC; Fri,  4 May 2001 14:05:44 -0400 (EDT)",
        );
        assert_eq!(r.from_host, None);
        assert_eq!(r.by_host.as_deref(), Some("mail.zzz.org"));
        assert_eq!(r.id.as_deref(), Some("27CEAD38CC"));
        assert_eq!(r.date.unwrap().offset, -4 * 3600);
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "", ";", "(((", "from", "from [", "by <", "with tls", "; ; ;", "(\\",
        ] {
            let _ = parse(s);
        }
    }
}
