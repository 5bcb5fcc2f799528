//! The arguments of MAIL and RCPT checked: the path and the ESMTP parameters (SIZE, BODY,
//! SMTPUTF8, AUTH), as pure functions apart from the session's hooks, directory and I/O.
//!
//! What the server offers and accepts: SIZE (RFC 1870), BODY=7BIT/8BITMIME (RFC 6152),
//! SMTPUTF8 (RFC 6531) and AUTH= (RFC 4954 §5) on MAIL; no RCPT parameters (no DSN).

use super::command;
use super::reply::Reply;

/// Why a MAIL or RCPT command is refused before any hook is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A client error (syntax, a parameter not offered): counts toward the error limit.
    Error(Reply),
    /// A well-formed request the server will not take (a declared SIZE over the limit).
    Policy(Reply),
}

/// A MAIL command that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// The reverse-path; empty for the null sender `<>`.
    pub address: String,
    /// The parameters as the client wrote them, for the hooks.
    pub options: Vec<String>,
    /// SMTPUTF8 was given (RFC 6531 §3.4).
    pub smtputf8: bool,
}

fn not_implemented() -> Refusal {
    Refusal::Error(Reply::new(
        555,
        "5.5.4 MAIL FROM parameters not recognized or not implemented",
    ))
}

fn needs_smtputf8() -> Reply {
    Reply::new(
        553,
        "5.6.7 Non-ASCII addresses require the SMTPUTF8 parameter",
    )
}

/// Check `MAIL FROM:<path> params`. `extended` is true after EHLO (parameters are ESMTP only,
/// RFC 5321 §4.1.1.11); `max_size` is the advertised SIZE limit.
pub fn check_mail(
    path: &str,
    params: &str,
    extended: bool,
    max_size: Option<u64>,
) -> Result<MailRequest, Refusal> {
    let address = if path.is_empty() {
        ""
    } else {
        command::mailbox(path, false).map_err(|why| {
            Refusal::Error(Reply::new(
                501,
                format!("5.1.7 Bad sender address syntax: {why}"),
            ))
        })?
    };
    let parsed = command::params(params).map_err(|why| {
        Refusal::Error(Reply::new(
            501,
            format!("5.5.4 Syntax error in parameters: {why}"),
        ))
    })?;
    if !parsed.is_empty() && !extended {
        return Err(not_implemented());
    }
    let mut smtputf8 = false;
    for (key, value) in &parsed {
        match (key.as_str(), value) {
            ("SIZE", Some(v)) => {
                let Ok(size) = v.parse::<u64>() else {
                    return Err(Refusal::Error(Reply::new(
                        501,
                        "5.5.4 Syntax error in SIZE parameter",
                    )));
                };
                // RFC 1870 §6.1: refuse early what would be refused after the data.
                if max_size.is_some_and(|max| size > max) {
                    return Err(Refusal::Policy(Reply::new(
                        552,
                        "5.3.4 Message size exceeds fixed maximum message size",
                    )));
                }
            }
            ("BODY", Some(v))
                if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
            ("BODY", _) => {
                return Err(Refusal::Error(Reply::new(
                    501,
                    "5.5.4 Error: BODY can only be 7BIT or 8BITMIME",
                )));
            }
            ("SMTPUTF8", None) => smtputf8 = true,
            // RFC 4954 §5: accepted, and not trusted.
            ("AUTH", Some(_)) => {}
            _ => return Err(not_implemented()),
        }
    }
    if !smtputf8 && !address.is_ascii() {
        return Err(Refusal::Error(needs_smtputf8()));
    }
    let options = params
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(MailRequest {
        address: address.to_owned(),
        options,
        smtputf8,
    })
}

/// Check `RCPT TO:<path> params` in a transaction whose MAIL gave SMTPUTF8 or not; the
/// recipient address on success. Every refusal here is a client error.
pub fn check_rcpt(path: &str, params: &str, smtputf8: bool) -> Result<String, Reply> {
    // RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted.
    let is_bare_postmaster = path.eq_ignore_ascii_case("postmaster");
    let address = command::mailbox(path, is_bare_postmaster)
        .map_err(|why| Reply::new(501, format!("5.1.3 Bad recipient address syntax: {why}")))?;
    if !params.is_empty() {
        return Err(Reply::new(
            555,
            "5.5.4 RCPT TO parameters not recognized or not implemented",
        ));
    }
    if !smtputf8 && !address.is_ascii() {
        return Err(needs_smtputf8());
    }
    Ok(address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<MailRequest, Refusal>) -> (u16, bool) {
        match r {
            Ok(_) => (250, false),
            Err(Refusal::Error(r)) => (r.code, true),
            Err(Refusal::Policy(r)) => (r.code, false),
        }
    }

    #[test]
    fn mail_accepts_the_offered_parameters() {
        let m = check_mail(
            "a@b.example",
            "SIZE=1000 BODY=8bitmime AUTH=<> SMTPUTF8",
            true,
            Some(1000),
        )
        .unwrap();
        assert_eq!(m.address, "a@b.example");
        assert_eq!(
            m.options,
            ["SIZE=1000", "BODY=8bitmime", "AUTH=<>", "SMTPUTF8"]
        );
        assert!(m.smtputf8);
        let null = check_mail("", "", false, None).unwrap();
        assert_eq!((null.address.as_str(), null.smtputf8), ("", false));
        assert!(null.options.is_empty());
    }

    #[test]
    fn mail_refusals_and_their_kind() {
        // RFC 1870 §6.1: over the limit is a policy 552, not a client error.
        assert_eq!(
            code(check_mail("a@b", "SIZE=1001", true, Some(1000))),
            (552, false)
        );
        assert_eq!(
            code(check_mail("a@b", "SIZE=1001", true, None)),
            (250, false)
        );
        assert_eq!(code(check_mail("a@b", "SIZE=x", true, None)), (501, true));
        assert_eq!(code(check_mail("a@b", "SIZE", true, None)), (555, true));
        assert_eq!(
            code(check_mail("a@b", "BODY=BINARYMIME", true, None)),
            (501, true)
        );
        assert_eq!(
            code(check_mail("a@b", "SMTPUTF8=yes", true, None)),
            (555, true)
        );
        assert_eq!(code(check_mail("a@b", "RET=FULL", true, None)), (555, true));
        // RFC 5321 §4.1.1.11: parameters only after EHLO.
        assert_eq!(
            code(check_mail("a@b", "BODY=7BIT", false, None)),
            (555, true)
        );
        assert_eq!(code(check_mail("a b@c", "", true, None)), (501, true));
        assert_eq!(code(check_mail("a@b", "=x", true, None)), (501, true));
        // RFC 6531 §3.4: a UTF-8 reverse-path needs SMTPUTF8.
        assert_eq!(code(check_mail("jöran@b", "", true, None)), (553, true));
        assert_eq!(
            code(check_mail("jöran@b", "SMTPUTF8", true, None)),
            (250, false)
        );
    }

    #[test]
    fn rcpt_checks() {
        assert_eq!(check_rcpt("b@c.example", "", false).unwrap(), "b@c.example");
        // RFC 5321 §4.5.1
        assert_eq!(check_rcpt("Postmaster", "", false).unwrap(), "Postmaster");
        assert_eq!(check_rcpt("bob", "", false).unwrap_err().code, 501);
        assert_eq!(
            check_rcpt("b@c", "NOTIFY=NEVER", false).unwrap_err().code,
            555
        );
        assert_eq!(check_rcpt("jöran@b", "", false).unwrap_err().code, 553);
        assert_eq!(check_rcpt("jöran@b", "", true).unwrap(), "jöran@b");
    }
}
