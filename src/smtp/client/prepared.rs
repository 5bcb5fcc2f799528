//! A message ready to send (envelope checked, content in transmission form) and the DSN and
//! ESMTP options of one send.

use std::borrow::Cow;

use crate::auth::DkimSigner;
use crate::smtp::Error;
use crate::smtp::command::{check_param, envelope_address};
use crate::smtp::message::{self, canonical};

/// A message ready to send: envelope checked, content in transmission form.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub sender: String,
    pub recipients: Vec<String>,
    /// CRLF line ends, Bcc removed, not dot-stuffed.
    pub content: Vec<u8>,
    /// Non-ASCII addresses or headers: needs SMTPUTF8 (RFC 6531).
    pub needs_smtputf8: bool,
    /// 8-bit body: needs 8BITMIME (RFC 6152).
    pub needs_8bitmime: bool,
}

impl Prepared {
    /// The envelope defaults to the message's own (Sender or From; To, Cc, Bcc), and the Bcc
    /// and Resent-Bcc fields are removed in any case.
    pub fn new(
        raw: &[u8],
        sender: Option<&str>,
        recipients: Option<&[String]>,
    ) -> Result<Prepared, Error> {
        let info = message::inspect(raw);
        let sender = match sender {
            Some(s) => envelope_address(s, true)?,
            None => match &info.sender {
                Some(s) => envelope_address(s, true)?,
                None => {
                    return Err(Error::InvalidArgument(
                        "the message has no Sender or From address: pass sender=".into(),
                    ));
                }
            },
        };
        let recipients = match recipients {
            Some(r) => message::dedup(r.to_vec()),
            None => info.recipients.clone(),
        };
        if recipients.is_empty() {
            return Err(Error::InvalidArgument(
                "no recipients: the message has no To, Cc or Bcc address; pass recipients=".into(),
            ));
        }
        let recipients = recipients
            .iter()
            .map(|r| envelope_address(r, false))
            .collect::<Result<Vec<_>, _>>()?;
        let content = canonical(raw, &info.hidden);
        let body_offset = info
            .body_offset
            .saturating_sub(info.hidden.iter().map(|r| r.end - r.start).sum::<usize>());
        let (headers_8bit, body_8bit) = message::eight_bit(&content, body_offset);
        // UTF-8 header fields are RFC 6532 internationalized mail and need SMTPUTF8; other
        // 8-bit header bytes are legacy raw charsets, which travel as 8BITMIME like a body.
        let utf8_headers =
            headers_8bit && std::str::from_utf8(&content[..body_offset.min(content.len())]).is_ok();
        let needs_smtputf8 =
            utf8_headers || !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        Ok(Prepared {
            sender,
            recipients,
            content,
            needs_smtputf8,
            needs_8bitmime: body_8bit || (headers_8bit && !utf8_headers),
        })
    }
}

impl Prepared {
    /// This message signed by `signers` (RFC 6376; the first one's DKIM-Signature on top),
    /// or itself when there are none. The signatures cover the content as transmitted:
    /// Bcc fields are already gone, line ends are CRLF. Signatures add only ASCII header
    /// lines, so the extensions the message needs stay the same.
    pub fn signed(&self, signers: &[DkimSigner]) -> Result<Cow<'_, Prepared>, Error> {
        if signers.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        let content = crate::auth::sign_all(signers, &self.content)
            .map_err(|e| Error::InvalidArgument(format!("DKIM signing: {e}")))?;
        Ok(Cow::Owned(Prepared {
            content,
            ..self.clone()
        }))
    }
}

/// DSN (RFC 3461) and raw ESMTP parameters for one send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// NOTIFY: "NEVER" or any of "SUCCESS", "FAILURE", "DELAY".
    pub dsn_notify: Option<Vec<String>>,
    /// RET: "FULL" or "HDRS".
    pub dsn_return: Option<String>,
    /// ENVID.
    pub dsn_envelope_id: Option<String>,
    pub mail_params: Vec<String>,
    pub rcpt_params: Vec<String>,
}

impl SendOptions {
    pub fn wants_dsn(&self) -> bool {
        self.dsn_notify.is_some() || self.dsn_return.is_some() || self.dsn_envelope_id.is_some()
    }

    pub fn validate(&self) -> Result<(), Error> {
        if let Some(notify) = &self.dsn_notify {
            let upper: Vec<String> = notify.iter().map(|n| n.to_ascii_uppercase()).collect();
            let ok = !upper.is_empty()
                && upper
                    .iter()
                    .all(|n| matches!(n.as_str(), "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"))
                && (!upper.iter().any(|n| n == "NEVER") || upper.len() == 1);
            if !ok {
                return Err(Error::InvalidArgument(format!(
                    "dsn_notify must be NEVER, or some of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1), \
                     not {notify:?}"
                )));
            }
        }
        if let Some(ret) = &self.dsn_return
            && !matches!(ret.to_ascii_uppercase().as_str(), "FULL" | "HDRS")
        {
            return Err(Error::InvalidArgument(format!(
                "dsn_return must be FULL or HDRS (RFC 3461 §4.3), not {ret:?}"
            )));
        }
        if let Some(id) = &self.dsn_envelope_id
            && (id.is_empty() || id.len() > 100 || !id.is_ascii())
        {
            return Err(Error::InvalidArgument(
                "dsn_envelope_id must be 1 to 100 ASCII characters (RFC 3461 §4.4)".into(),
            ));
        }
        for p in self.mail_params.iter().chain(&self.rcpt_params) {
            check_param(p, true)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_envelope_and_extension_needs() {
        let p = Prepared::new(
            b"From: a@x.example\r\nTo: b@y.example\r\n\r\nhi\r\n",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (p.sender.as_str(), p.recipients.as_slice()),
            ("a@x.example", &["b@y.example".to_owned()][..])
        );
        assert!(!p.needs_smtputf8 && !p.needs_8bitmime);
        // RFC 6532 UTF-8 header: SMTPUTF8
        let p = Prepared::new(
            "Subject: é\r\n\r\nhi\r\n".as_bytes(),
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(p.needs_smtputf8);
        // legacy Latin-1 header bytes: plain 8-bit, like a body (RFC 6152)
        let p = Prepared::new(
            b"Subject: \xe9\r\n\r\nhi\r\n",
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(!p.needs_smtputf8 && p.needs_8bitmime);
        let p = Prepared::new(
            b"Subject: x\r\n\r\n\xe9\r\n",
            Some("a@x"),
            Some(&["b@y".into()]),
        )
        .unwrap();
        assert!(!p.needs_smtputf8 && p.needs_8bitmime);
        assert!(matches!(
            Prepared::new(b"Subject: x\r\n\r\n", None, Some(&["b@y".into()])),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn dsn_options_are_checked() {
        let mut o = SendOptions {
            dsn_notify: Some(vec!["NEVER".into(), "SUCCESS".into()]),
            ..SendOptions::default()
        };
        assert!(o.validate().is_err());
        o.dsn_notify = Some(vec!["success".into(), "delay".into()]);
        o.validate().unwrap();
        o.dsn_return = Some("ALL".into());
        assert!(o.validate().is_err());
    }
}
