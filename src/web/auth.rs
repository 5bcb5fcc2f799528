//! Who may use the web inbox, and protection against other sites.
//!
//! - Host check (DNS rebinding): bound to a loopback address, the inbox answers only requests
//!   whose `Host` is a loopback name or address, so a web page that points its own domain at
//!   127.0.0.1 cannot read the mail.
//! - CSRF: every state-changing request must carry the `X-CSRF-Token` header (a custom header
//!   other sites cannot send without a CORS preflight, which the inbox never grants) equal to
//!   the session's token, plus an `Origin` (when sent) equal to the inbox's own and no
//!   `Sec-Fetch-Site: cross-site`. Session cookies are `HttpOnly; SameSite=Strict`.
//! - With `users=`: a login checked against the same Argon2id hashes as POP3 and SMTP AUTH,
//!   answered after a fixed delay on failure, with at most a few hash checks at a time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mailprims_session";

/// Most sessions kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

/// A random token: 32 bytes from the kernel, in hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // getrandom cannot fail on Linux >= 3.17 short of a bad buffer; never hand out a
        // guessable token: abort instead.
        std::process::abort();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    expires: Instant,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Start a session for `user`; returns its cookie value and CSRF token.
    pub fn create(&self, user: &str) -> (String, String) {
        let token = random_token();
        let csrf = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires > now);
        }
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            token.clone(),
            Session {
                user: user.to_owned(),
                csrf: csrf.clone(),
                expires: now + self.ttl,
            },
        );
        (token, csrf)
    }

    /// The live session a request's cookie names (its expiry is pushed back).
    pub fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let s = map.get_mut(token.as_str())?;
        if s.expires <= now {
            map.remove(token.as_str());
            return None;
        }
        s.expires = now + self.ttl;
        Some(s.clone())
    }

    pub fn remove(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, SESSION_COOKIE) {
            self.map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(token.as_str());
        }
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// The host name of a `Host` value (port and IPv6 brackets removed), lowercase.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.to_ascii_lowercase()
}

/// Is `name` a loopback host name or address?
pub fn is_loopback(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the request's `Host` may be answered (see the module documentation).
pub fn host_allowed(headers: &HeaderMap, loopback_only: bool) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    !loopback_only || is_loopback(&host_name(host))
}

/// Whether a state-changing request comes from the inbox's own pages (or from a client that
/// is not a browser): `Origin`, when present, must be this host, and the browser must not
/// call it cross-site.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site == "cross-site"
    {
        return false;
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
        }),
    }
}

/// The CSRF check of a state-changing request against the expected token.
pub fn csrf_ok(headers: &HeaderMap, expected: &str) -> bool {
    same_origin(headers)
        && headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| same_token(t, expected))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hosts() {
        assert!(host_allowed(&headers(&[("host", "127.0.0.1:8025")]), true));
        assert!(host_allowed(&headers(&[("host", "localhost")]), true));
        assert!(host_allowed(&headers(&[("host", "[::1]:80")]), true));
        assert!(!host_allowed(
            &headers(&[("host", "evil.example:8025")]),
            true
        ));
        assert!(!host_allowed(
            &headers(&[("host", "127.0.0.1.evil.example")]),
            true
        ));
        assert!(host_allowed(&headers(&[("host", "mail.example")]), false));
        assert!(!host_allowed(&HeaderMap::new(), false));
    }

    #[test]
    fn origins_and_tokens() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        let ok = headers(&[
            ("host", "127.0.0.1:1"),
            ("origin", "http://127.0.0.1:1"),
            ("x-csrf-token", &t),
        ]);
        assert!(csrf_ok(&ok, &t));
        assert!(!csrf_ok(&ok, &random_token()));
        let other = headers(&[
            ("host", "127.0.0.1:1"),
            ("origin", "http://evil.example"),
            ("x-csrf-token", &t),
        ]);
        assert!(!csrf_ok(&other, &t));
        let cross = headers(&[
            ("host", "127.0.0.1:1"),
            ("sec-fetch-site", "cross-site"),
            ("x-csrf-token", &t),
        ]);
        assert!(!csrf_ok(&cross, &t));
        assert!(!csrf_ok(&headers(&[("host", "127.0.0.1:1")]), &t));
    }

    #[test]
    fn sessions_and_cookies() {
        let s = Sessions::new(Duration::from_secs(60));
        let (token, csrf) = s.create("alice");
        let h = headers(&[("cookie", &format!("a=b; {SESSION_COOKIE}={token}"))]);
        let got = s.get(&h).unwrap();
        assert_eq!(
            (got.user.as_str(), got.csrf.as_str()),
            ("alice", csrf.as_str())
        );
        s.remove(&h);
        assert!(s.get(&h).is_none());
        assert!(
            s.get(&headers(&[("cookie", "mailprims_session=forged")]))
                .is_none()
        );
    }
}
