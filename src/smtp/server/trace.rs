//! Trace fields added on receipt (RFC 5321 §4.4): `Return-Path` and `Received`.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::message::date;
use crate::net::stream::TlsInfo;

/// RFC 5322 §3.3 date-time in UTC, e.g. `Tue, 01 Jul 2025 10:00:00 +0000`.
pub fn rfc5322_date(t: SystemTime) -> String {
    let t = date::utc(t);
    let (month, weekday) = date::names(t.date());
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} +0000",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// What the `Received:` field says about the hop.
pub struct TraceInfo<'a> {
    pub helo: Option<&'a str>,
    pub peer_ip: IpAddr,
    pub by_host: &'a str,
    /// RFC 3848 / RFC 6531 `with` keyword: ESMTP, ESMTPS, ESMTPSA, UTF8SMTPS...
    pub protocol: String,
    pub id: &'a str,
    pub tls: Option<&'a TlsInfo>,
    /// Named only for a single recipient (several would disclose Bcc recipients).
    pub for_rcpt: Option<&'a str>,
    pub when: SystemTime,
}

/// The `with` protocol name (RFC 3848, RFC 6531 §3.7.3).
pub fn protocol_name(extended: bool, tls: bool, auth: bool, utf8: bool) -> String {
    let mut p = String::from(match (extended, utf8) {
        (_, true) => "UTF8SMTP",
        (true, false) => "ESMTP",
        (false, false) => "SMTP",
    });
    if extended || utf8 {
        if tls {
            p.push('S');
        }
        if auth {
            p.push('A');
        }
    }
    p
}

/// `Return-Path:` and `Received:` lines, CRLF-terminated, folded at 78 columns or so.
pub fn trace_headers(return_path: &str, info: &TraceInfo<'_>) -> Vec<u8> {
    let ip = match info.peer_ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("IPv6:{v6}"),
        },
    };
    let helo = info.helo.map_or_else(|| "unknown".to_owned(), sanitize);
    let mut s = format!("Return-Path: <{}>\r\n", sanitize(return_path));
    s.push_str(&format!("Received: from {helo} ([{ip}])\r\n"));
    s.push_str(&format!(
        "\tby {} (mailprims) with {} id {}\r\n",
        sanitize(info.by_host),
        info.protocol,
        info.id
    ));
    if let Some(tls) = info.tls {
        s.push_str(&format!(
            "\t(using {} with cipher {})\r\n",
            tls.version, tls.cipher
        ));
    }
    if let Some(rcpt) = info.for_rcpt {
        s.push_str(&format!("\tfor <{}>", sanitize(rcpt)));
        s.push_str(&format!("; {}\r\n", rfc5322_date(info.when)));
    } else {
        s.push_str(&format!("\t; {}\r\n", rfc5322_date(info.when)));
    }
    s.into_bytes()
}

/// Client-supplied text put in a header: no controls, no comment syntax breaking out.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '(' || c == ')' {
                '?'
            } else {
                c
            }
        })
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        // 2024-02-29 12:34:56 UTC (leap day)
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc5322_date(t), "Thu, 29 Feb 2024 12:34:56 +0000");
    }

    #[test]
    fn received_field() {
        let tls = TlsInfo {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
        };
        let h = trace_headers(
            "a@b.c",
            &TraceInfo {
                helo: Some("client.example"),
                peer_ip: "127.0.0.1".parse().unwrap(),
                by_host: "mx.example",
                protocol: protocol_name(true, true, false, false),
                id: "abc",
                tls: Some(&tls),
                for_rcpt: Some("u@mx.example"),
                when: UNIX_EPOCH,
            },
        );
        assert_eq!(
            String::from_utf8(h).unwrap(),
            "Return-Path: <a@b.c>\r\nReceived: from client.example ([127.0.0.1])\r\n\
             \tby mx.example (mailprims) with ESMTPS id abc\r\n\
             \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n\
             \tfor <u@mx.example>; Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_eq!(protocol_name(false, false, false, false), "SMTP");
        assert_eq!(protocol_name(true, true, true, true), "UTF8SMTPSA");
    }
}
