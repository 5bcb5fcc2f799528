//! Checking incoming mail (DKIM, ARC, SPF, DMARC) before it is handed on, and recording the
//! result in an Authentication-Results field (RFC 8601).
//!
//! The verifier runs on the server's runtime, bounded by its own time limit: DNS trouble
//! and the limit are `temperror` results, so a message is never refused or delayed past
//! that bound because a DNS server is silent. The field goes below this server's
//! `Received:` field, where receivers such as Gmail put theirs. Fields that claim to come
//! from this server's authserv-id but arrived with the message are removed (RFC 8601 §5):
//! readers trust that id.

use std::ops::Range;
use std::sync::Arc;

use crate::auth::{Disposition, Verifier};
use crate::message::authres;
use crate::message::parse;

use super::{Envelope, Reply, Session};

/// What `SmtpServer(verify=...)` does with each message.
#[derive(Clone)]
pub struct Verification {
    pub verifier: Arc<Verifier>,
    /// Refuse with 550 5.7.1 what the sender's domain asks to be rejected: DMARC failed and
    /// its disposition is `reject` (`p=reject`, or `sp=reject` for a subdomain, selected by
    /// `pct`). Authenticated clients are not refused: they submit their own mail.
    pub dmarc_reject: bool,
}

/// Where the header section ends: after the first empty line (CRLF or bare LF), or the end.
fn header_section_len(raw: &[u8]) -> usize {
    let mut pos = 0;
    while pos < raw.len() {
        let Some(off) = memchr::memchr(b'\n', &raw[pos..]) else {
            return raw.len();
        };
        let line = &raw[pos..pos + off];
        pos += off + 1;
        if line.is_empty() || line == b"\r" {
            return pos;
        }
    }
    raw.len()
}

/// The byte ranges of the Authentication-Results fields in `raw`'s header section whose
/// authserv-id is `authserv_id` (compared without case), folded lines included.
pub fn forged_results(raw: &[u8], authserv_id: &str) -> Vec<Range<usize>> {
    let head = &raw[..header_section_len(raw)];
    // A cheap test first: most messages carry no such field.
    if memchr::memmem::find(&head.to_ascii_lowercase(), b"authentication-results").is_none() {
        return Vec::new();
    }
    let tree = parse::build(head);
    tree.headers(0)
        .iter()
        .filter(|f| f.is(head, "Authentication-Results"))
        .filter(|f| {
            let value = String::from_utf8_lossy(&head[(f.colon + 1).min(f.end)..f.end]);
            authres::parse(&value)
                .authserv_id
                .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id.trim()))
        })
        .map(|f| f.start..f.end)
        .collect()
}

/// `raw` without `ranges` (sorted, not overlapping).
fn without(raw: &[u8], ranges: &[Range<usize>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for r in ranges {
        out.extend_from_slice(&raw[at..r.start]);
        at = r.end;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

/// Verify the message in `env.content` (after `env.trace_len` octets, the trace fields
/// this server added), as received in `session`. Sets `env.auth`, and puts the
/// Authentication-Results field after the trace fields (`env.trace_len` grows to cover it),
/// with forged ones removed. `Err` is the reply to give instead of going on: a DMARC
/// rejection, or a local failure.
pub async fn verify(
    verification: &Verification,
    authserv_id: &str,
    session: &Session,
    env: &mut Envelope,
) -> Result<(), Reply> {
    let trace_len = env.trace_len;
    let envelope = crate::auth::Envelope {
        ip: Some(session.peer.ip().to_canonical()),
        helo: session.host_name.clone(),
        mail_from: env.mail_from.clone().filter(|m| !m.is_empty()),
    };
    // The message moves into its own task and back: a panic in a dependency ends that task,
    // not the connection, and the content is not copied.
    let data = std::mem::take(&mut env.content);
    let verifier = verification.verifier.clone();
    let task = tokio::spawn(async move {
        let start = trace_len.min(data.len());
        let report = verifier.verify(&data[start..], &envelope).await;
        (report, data)
    });
    let (report, data) = match task.await {
        Ok(done) => done,
        Err(_) => {
            return Err(Reply::new(
                451,
                "4.3.0 Error: local error in processing (message verification)",
            ));
        }
    };
    let start = trace_len.min(data.len());
    let forged = forged_results(&data[start..], authserv_id);
    let field = format!("{}\r\n", report.header(authserv_id));
    env.content = if forged.is_empty() {
        let mut data = data;
        data.splice(start..start, field.bytes());
        data
    } else {
        let mut out = Vec::with_capacity(data.len() + field.len());
        out.extend_from_slice(&data[..start]);
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(&without(&data[start..], &forged));
        out
    };
    env.trace_len = start + field.len();
    let report = Arc::new(report);
    env.auth = Some(report.clone());
    if verification.dmarc_reject
        && session.auth_user.is_none()
        && report.dmarc.disposition == Disposition::Reject
    {
        let domain = report
            .dmarc
            .domain
            .as_deref()
            .unwrap_or("the sender's domain");
        return Err(Reply::new(
            550,
            format!(
                "5.7.1 Email rejected per DMARC policy for {}",
                domain
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(255)
                    .collect::<String>()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_forged_fields_are_found() {
        let raw =
            b"Authentication-Results: mx.example.org;\r\n\tdkim=pass header.d=bank.example\r\n\
Authentication-Results: other.example; spf=pass\r\n\
authentication-results:   MX.Example.Org 1; dmarc=pass\r\n\
Subject: Authentication-Results: mx.example.org\r\n\
\r\n\
Authentication-Results: mx.example.org; body, not a field\r\n";
        let found = forged_results(raw, "mx.example.org");
        assert_eq!(found.len(), 2);
        let kept = without(raw, &found);
        let text = String::from_utf8(kept).unwrap();
        assert!(text.starts_with("Authentication-Results: other.example; spf=pass\r\nSubject:"));
        assert!(text.ends_with("mx.example.org; body, not a field\r\n"));
        assert!(!text.contains("bank.example"));
        // Bare LF line ends too.
        let lf = b"Authentication-Results: mx.example.org; dkim=pass\nSubject: x\n\nbody\n";
        assert_eq!(forged_results(lf, "mx.example.org"), vec![0..50]);
        assert!(forged_results(b"Subject: x\r\n\r\n", "mx.example.org").is_empty());
    }

    #[test]
    fn header_section_ends_at_the_first_empty_line() {
        assert_eq!(header_section_len(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(header_section_len(b"A: b\n\nbody"), 6);
        assert_eq!(header_section_len(b"A: b\r\n"), 6);
        assert_eq!(header_section_len(b"\r\nbody"), 2);
    }
}
