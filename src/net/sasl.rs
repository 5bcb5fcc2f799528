//! SASL PLAIN (RFC 4616): the message the clients send (POP3 AUTH, IMAP AUTHENTICATE) and
//! the servers' AUTH commands receive (SMTP, POP3, IMAP).

use base64::Engine;

/// PLAIN: `authzid NUL authcid NUL passwd` → (authcid, passwd). An authorization identity
/// other than the login itself (proxy authorization) is refused.
pub fn plain(message: &[u8]) -> Result<(String, String), &'static str> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("malformed PLAIN message");
    };
    let user = std::str::from_utf8(authcid).map_err(|_| "user name is not UTF-8")?;
    let pass = std::str::from_utf8(passwd).map_err(|_| "password is not UTF-8")?;
    if user.is_empty() {
        return Err("empty user name");
    }
    if !authzid.is_empty() && authzid != authcid {
        return Err("proxy authorization is not supported");
    }
    Ok((user.to_owned(), pass.to_owned()))
}

/// The base64 PLAIN message a client sends (`authzid NUL user NUL password`); None when a
/// field holds a NUL, which the message could not carry.
pub fn plain_token(authzid: Option<&str>, user: &str, password: &str) -> Option<String> {
    let fields = [authzid.unwrap_or(""), user, password];
    if fields.iter().any(|f| f.contains('\0')) {
        return None;
    }
    Some(base64::engine::general_purpose::STANDARD.encode(fields.join("\0")))
}

/// A PLAIN response in base64 (POP3 AUTH, IMAP AUTHENTICATE; white space around it ignored):
/// the user and password, or None for bad base64 or a refused message.
pub fn plain_base64(response: &[u8]) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(response.trim_ascii())
        .ok()?;
    plain(&raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tokens_round_trip() {
        let token = plain_token(None, "tim", "tanstaaftanstaaf").unwrap();
        assert_eq!(token, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert_eq!(
            plain_base64(token.as_bytes()),
            Some(("tim".into(), "tanstaaftanstaaf".into()))
        );
        assert_eq!(plain_token(Some("tim"), "tim", "pw\0"), None);
    }

    #[test]
    fn plain_base64_responses() {
        // RFC 4616 §4: "\0tim\0tanstaaftanstaaf", and with the authorization identity.
        let tim = Some(("tim".into(), "tanstaaftanstaaf".into()));
        assert_eq!(plain_base64(b" AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), tim);
        assert_eq!(plain_base64(b"dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm"), tim);
        // Proxy authorization ("Ursel" for "Kurt"), bad base64, no password field.
        assert_eq!(plain_base64(b"VXJzZWwAS3VydAB4aXBqM3BsbXE="), None);
        assert_eq!(plain_base64(b"AHRpbQ*"), None);
        assert_eq!(plain_base64(b"AHRpbQ=="), None);
    }
}
