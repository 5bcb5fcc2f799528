//! Authentication-Results (RFC 8601 §2.2) and ARC-Authentication-Results (RFC 8617 §4.1.1).
//!
//! ```text
//! authres-payload = [CFWS] authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS]
//! resinfo         = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec      = [CFWS] method [CFWS] "=" [CFWS] result     ; method = Keyword ["/" version]
//! reasonspec      = "reason" [CFWS] "=" [CFWS] value
//! propspec        = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! arc-info        = "i" [CFWS] "=" [CFWS] 1*DIGIT [CFWS] ";" authres-payload
//! ```
//!
//! Comments may stand between any two elements (Appendix B.7 puts one everywhere). The
//! reader is lenient the way receivers must be: Microsoft 365 omits the authserv-id,
//! some filters write `key=value` properties without a ptype (`action=none`), and a resinfo
//! it cannot read is skipped up to the next `;` instead of failing the whole field.
//! Keywords (method, result, ptype, property) are case-insensitive and come back lowercase;
//! values stay as written.

/// One `ptype.property=value` of a result (`smtp.mailfrom=example.net`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Property {
    /// `smtp`, `header`, `body`, `policy`... (lowercase); empty for a property written
    /// without a ptype.
    pub ptype: String,
    /// `mailfrom`, `d`, `i`, `from`... (lowercase).
    pub name: String,
    pub value: String,
}

/// One method's outcome (`dkim=pass header.d=example.com`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthResult {
    pub method: String,
    pub method_version: Option<String>,
    pub result: String,
    /// The `reason=` value (RFC 8601 §2.2), unquoted.
    pub reason: Option<String>,
    pub properties: Vec<Property>,
    /// Comments in the result, in order, without their parentheses (where receivers put
    /// their explanations: `(google.com: domain of ... designates ... as permitted sender)`).
    pub comments: Vec<String>,
}

/// A whole Authentication-Results (or ARC-Authentication-Results) field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// Who evaluated (`mx.google.com`); `None` when the field omits it.
    pub authserv_id: Option<String>,
    pub version: Option<String>,
    /// The ARC instance (`i=`) of an ARC-Authentication-Results field.
    pub instance: Option<u32>,
    pub results: Vec<AuthResult>,
}

/// Parse an Authentication-Results value (after the colon). Never fails.
pub fn parse(value: &str) -> AuthenticationResults {
    let mut p = Cursor::new(value);
    let mut out = AuthenticationResults::default();
    read_payload(&mut p, &mut out);
    out
}

/// Parse an ARC-Authentication-Results value: `i=<n>;` and then the same payload.
pub fn parse_arc(value: &str) -> AuthenticationResults {
    let mut p = Cursor::new(value);
    let mut out = AuthenticationResults::default();
    let start = p.pos;
    p.cfws(&mut Vec::new());
    if p.eat_ci("i") {
        p.cfws(&mut Vec::new());
        if p.eat(b'=') {
            p.cfws(&mut Vec::new());
            let digits = p.take_while(|b| b.is_ascii_digit());
            out.instance = digits.parse().ok();
            p.cfws(&mut Vec::new());
            p.eat(b';');
        } else {
            p.pos = start;
        }
    } else {
        p.pos = start;
    }
    read_payload(&mut p, &mut out);
    out
}

fn read_payload(p: &mut Cursor<'_>, out: &mut AuthenticationResults) {
    let mut ignored = Vec::new();
    p.cfws(&mut ignored);
    // The authserv-id, unless the field starts with a resinfo (Microsoft 365 writes
    // `spf=pass (sender IP is ...) smtp.mailfrom=...; dkim=...` with no id).
    let save = p.pos;
    let quoted = p.peek() == Some(b'"');
    let id = p.value();
    let after_id = p.pos;
    // A token cannot hold `=` (RFC 2045 tspecials): this is `method=result`.
    if !quoted && id.as_deref().is_some_and(|v| v.contains('=')) {
        p.pos = save;
        if let Some(r) = read_resinfo(p) {
            out.results.push(r);
        }
    } else {
        out.authserv_id = id.filter(|s| !s.is_empty());
        p.pos = after_id;
        p.cfws(&mut ignored);
        let version = p.take_while(|b| b.is_ascii_digit());
        if !version.is_empty() {
            out.version = Some(version.to_string());
        }
    }
    loop {
        p.cfws(&mut ignored);
        match p.peek() {
            None => break,
            Some(b';') => {
                p.pos += 1;
                if let Some(r) = read_resinfo(p) {
                    out.results.push(r);
                }
            }
            // Something the grammar has no place for: skip to the next resinfo.
            Some(_) => p.skip_to_semicolon(),
        }
    }
}

/// A resinfo after its `;`, up to (not including) the next top-level `;`. `None` for
/// `none` (no-result) and for one without a method.
fn read_resinfo(p: &mut Cursor<'_>) -> Option<AuthResult> {
    let mut r = AuthResult::default();
    p.cfws(&mut r.comments);
    let method = p.keyword();
    if method.is_empty() {
        p.skip_to_semicolon();
        return None;
    }
    r.method = method.to_ascii_lowercase();
    p.cfws(&mut r.comments);
    if p.eat(b'/') {
        p.cfws(&mut r.comments);
        let v = p.take_while(|b| b.is_ascii_digit());
        if !v.is_empty() {
            r.method_version = Some(v.to_string());
        }
        p.cfws(&mut r.comments);
    }
    if !p.eat(b'=') {
        // `none` (RFC 8601 §2.2 no-result) or garbage.
        p.skip_to_semicolon();
        return None;
    }
    p.cfws(&mut r.comments);
    r.result = p.keyword().to_ascii_lowercase();
    loop {
        p.cfws(&mut r.comments);
        match p.peek() {
            None | Some(b';') => break,
            _ => {}
        }
        let start = p.pos;
        let word = p.keyword();
        if word.is_empty() {
            // Not a keyword: step over one value so the loop always advances.
            if p.value().is_none() {
                p.advance_char();
            }
            continue;
        }
        p.cfws(&mut r.comments);
        if word.eq_ignore_ascii_case("reason") && p.peek() == Some(b'=') {
            p.pos += 1;
            p.cfws(&mut r.comments);
            r.reason = p.value();
            continue;
        }
        if p.eat(b'.') {
            p.cfws(&mut r.comments);
            let name = p.keyword().to_ascii_lowercase();
            p.cfws(&mut r.comments);
            if !name.is_empty() && p.eat(b'=') {
                p.cfws(&mut r.comments);
                let value = p.pvalue();
                r.properties.push(Property {
                    ptype: word.to_ascii_lowercase(),
                    name,
                    value,
                });
            }
            continue;
        }
        if p.eat(b'=') {
            // A property without a ptype (`action=none`, `compauth=pass`).
            p.cfws(&mut r.comments);
            let value = p.pvalue();
            r.properties.push(Property {
                ptype: String::new(),
                name: word.to_ascii_lowercase(),
                value,
            });
            continue;
        }
        if p.pos == start {
            p.advance_char();
        }
    }
    Some(r)
}

/// A position in a field value. Every delimiter the grammar uses is ASCII, so slicing at
/// positions found by scanning bytes keeps to UTF-8 character boundaries; `get` guards the
/// rest.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Cursor {
            s,
            b: s.as_bytes(),
            pos: 0,
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consume `word` (ASCII, any case) when it stands here as a whole keyword.
    pub fn eat_ci(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let matches = self
            .b
            .get(self.pos..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()));
        let boundary = !self.b.get(end).is_some_and(|&c| is_keyword_byte(c));
        if matches && boundary {
            self.pos = end;
        }
        matches && boundary
    }

    pub fn advance_char(&mut self) {
        let len = self
            .s
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
            .map_or(1, char::len_utf8);
        self.pos = (self.pos + len).min(self.b.len());
    }

    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        self.s.get(start..end.min(self.b.len())).unwrap_or("")
    }

    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Skip white space, line breaks and comments, collecting the comments' text.
    pub fn cfws(&mut self, comments: &mut Vec<String>) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'(') => {
                    let c = self.comment();
                    comments.push(c);
                }
                _ => return,
            }
        }
    }

    /// A comment at `(`, nested comments and quoted pairs included; returns its text with
    /// the outer parentheses removed and white space collapsed.
    fn comment(&mut self) -> String {
        let start = self.pos + 1;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        let text = self.slice(start, self.pos);
                        self.pos += 1;
                        return collapse(text);
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        // Unclosed: the rest of the field is the comment.
        self.pos = self.b.len();
        collapse(self.slice(start, self.b.len()))
    }

    /// An RFC 8601 Keyword (`ldh-str`; `_` too, which real methods such as `x-ms-exchange_...`
    /// use).
    pub fn keyword(&mut self) -> &'a str {
        self.take_while(is_keyword_byte)
    }

    /// A quoted string (unquoted, quoted pairs resolved) at `"`.
    fn quoted(&mut self) -> String {
        let mut out = String::new();
        self.pos += 1;
        let mut start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    out.push_str(self.slice(start, self.pos));
                    self.pos += 1;
                    return collapse_folds(&out);
                }
                b'\\' => {
                    out.push_str(self.slice(start, self.pos));
                    self.pos += 1;
                    start = self.pos;
                    self.advance_char();
                }
                _ => self.pos += 1,
            }
        }
        out.push_str(self.slice(start, self.b.len()));
        collapse_folds(&out)
    }

    /// A `value` (RFC 2045 token or quoted-string), read leniently: an unquoted value runs
    /// to white space, `;` or `(`. `None` when there is none here.
    pub fn value(&mut self) -> Option<String> {
        match self.peek() {
            None | Some(b';' | b'(' | b' ' | b'\t' | b'\r' | b'\n') => None,
            Some(b'"') => Some(self.quoted()),
            Some(_) => {
                let v =
                    self.take_while(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'('));
                Some(v.to_string())
            }
        }
    }

    /// A pvalue: a value, or `[local-part] "@" domain` whose local part may be quoted.
    fn pvalue(&mut self) -> String {
        let Some(v) = self.value() else {
            return String::new();
        };
        if self.peek() == Some(b'@') {
            // `"quoted local"@example.com`.
            let domain = self.value().unwrap_or_default();
            return format!("{v}{domain}");
        }
        v
    }

    fn skip_to_semicolon(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b';' => return,
                b'(' => {
                    self.comment();
                }
                b'"' => {
                    self.quoted();
                }
                _ => self.pos += 1,
            }
        }
    }
}

fn is_keyword_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// White space runs (folds included) become one space; the ends are trimmed.
fn collapse(s: &str) -> String {
    s.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// Folding inside a quoted string is removed (RFC 5322 §3.2.4: FWS there is unfolded).
fn collapse_folds(s: &str) -> String {
    s.replace("\r\n", "").replace('\n', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(p: &Property) -> (&str, &str, &str) {
        (&p.ptype, &p.name, &p.value)
    }

    fn summary(a: &AuthenticationResults) -> Vec<(String, String)> {
        a.results
            .iter()
            .map(|r| (r.method.clone(), r.result.clone()))
            .collect()
    }

    #[test]
    fn rfc8601_b2_no_result() {
        // RFC 8601 Appendix B.2: service provided, no authentication done.
        let a = parse(" example.org 1; none");
        assert_eq!(a.authserv_id.as_deref(), Some("example.org"));
        assert_eq!(a.version.as_deref(), Some("1"));
        assert!(a.results.is_empty());
    }

    #[test]
    fn rfc8601_b3_b4_b5() {
        // Appendix B.3.
        let a = parse(" example.com;\r\n                  spf=pass smtp.mailfrom=example.net");
        assert_eq!(a.authserv_id.as_deref(), Some("example.com"));
        assert_eq!(summary(&a), [("spf".into(), "pass".into())]);
        assert_eq!(
            prop(&a.results[0].properties[0]),
            ("smtp", "mailfrom", "example.net")
        );
        // Appendix B.4 (first field): a comment between the result and the property.
        let a = parse(
            " example.com;\r\n              auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n              spf=pass smtp.mailfrom=example.net",
        );
        assert_eq!(a.results.len(), 2);
        assert_eq!(a.results[0].comments, ["cram-md5"]);
        assert_eq!(
            prop(&a.results[0].properties[0]),
            ("smtp", "auth", "sender@example.net")
        );
        // Appendix B.4 (second field).
        let a = parse(" example.com; iprev=pass\r\n              policy.iprev=192.0.2.200");
        assert_eq!(
            prop(&a.results[0].properties[0]),
            ("policy", "iprev", "192.0.2.200")
        );
        // Appendix B.5.
        let a =
            parse(" example.com;\r\n              dkim=pass (good signature) header.d=example.com");
        assert_eq!(
            prop(&a.results[0].properties[0]),
            ("header", "d", "example.com")
        );
    }

    #[test]
    fn rfc8601_b6_reason() {
        // Appendix B.6: quoted reasons and header.i values starting with "@".
        let a = parse(
            " example.com;\r\n    dkim=pass reason=\"good signature\"\r\n      header.i=@mail-router.example.net;\r\n    dkim=fail reason=\"bad signature\"\r\n      header.i=@newyork.example.com",
        );
        assert_eq!(a.results.len(), 2);
        assert_eq!(a.results[0].reason.as_deref(), Some("good signature"));
        assert_eq!(a.results[1].result, "fail");
        assert_eq!(a.results[1].reason.as_deref(), Some("bad signature"));
        assert_eq!(a.results[1].properties[0].value, "@newyork.example.com");
    }

    #[test]
    fn rfc8601_b7_comment_heavy() {
        // Appendix B.7: a comment between every two elements.
        let a = parse(
            " foo.example.net (foobar) 1 (baz);\r\n    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      policy (A dot can go here) . (like that) expired\r\n      (this surprised me) = (as I wasn't expecting it) 1362471462",
        );
        assert_eq!(a.authserv_id.as_deref(), Some("foo.example.net"));
        assert_eq!(a.version.as_deref(), Some("1"));
        let r = &a.results[0];
        assert_eq!(
            (
                r.method.as_str(),
                r.method_version.as_deref(),
                r.result.as_str()
            ),
            ("dkim", Some("1"), "fail")
        );
        assert_eq!(r.properties.len(), 1);
        assert_eq!(prop(&r.properties[0]), ("policy", "expired", "1362471462"));
        assert_eq!(r.comments.len(), 7);
        assert_eq!(r.comments[0], "Because I like it");
    }

    #[test]
    fn rfc8617_arc_authentication_results() {
        // RFC 8617 Appendix B.1, the i=3 set: a comment with nested parentheses.
        let a = parse_arc(
            " i=3; clochette.example.org; spf=fail\r\n    smtp.from=jqd@d1.example; dkim=fail (512-bit key)\r\n    header.i=@d1.example; dmarc=fail; arc=pass (as.2.gmail.example=pass,\r\n    ams.2.gmail.example=pass, as.1.lists.example.org=pass,\r\n    ams.1.lists.example.org=fail (message has been altered))",
        );
        assert_eq!(a.instance, Some(3));
        assert_eq!(a.authserv_id.as_deref(), Some("clochette.example.org"));
        assert_eq!(
            summary(&a),
            [
                ("spf".into(), "fail".into()),
                ("dkim".into(), "fail".into()),
                ("dmarc".into(), "fail".into()),
                ("arc".into(), "pass".into())
            ]
        );
        assert!(a.results[3].comments[0].ends_with("(message has been altered)"));
        // Without i=, the payload still reads.
        assert_eq!(parse_arc(" example.org; none").instance, None);
    }

    #[test]
    fn real_world_forms() {
        // The form Gmail writes (hosts replaced by documentation values).
        let a = parse(
            " mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=\"AbC/dE+1\";\r\n       spf=pass (google.com: domain of alice@example.com designates 192.0.2.41 as permitted sender) smtp.mailfrom=alice@example.com;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com",
        );
        assert_eq!(a.results.len(), 3);
        assert_eq!(a.results[0].properties[2].value, "AbC/dE+1");
        assert_eq!(a.results[2].comments, ["p=NONE sp=NONE dis=NONE"]);
        // Microsoft 365: no authserv-id, properties without a ptype.
        let a = parse(
            " spf=pass (sender IP is 192.0.2.51)\r\n smtp.mailfrom=example.com; dkim=pass (signature was verified)\r\n header.d=example.com;dmarc=pass action=none\r\n header.from=example.com;compauth=pass reason=100",
        );
        assert_eq!(a.authserv_id, None);
        assert_eq!(a.results.len(), 4);
        assert_eq!(prop(&a.results[2].properties[0]), ("", "action", "none"));
        assert_eq!(a.results[3].reason.as_deref(), Some("100"));
        // OpenDKIM behind Postfix.
        let a = parse(
            " mail.example.net;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=mail header.b=AbCd1234",
        );
        assert_eq!(a.results[0].comments, ["2048-bit key; unprotected"]);
        assert_eq!(a.results[0].properties.len(), 5);
        // A quoted local part in a pvalue (RFC 8601 §2.2 pvalue).
        let a = parse(" x.example; auth=pass smtp.auth=\"john doe\"@example.com");
        assert_eq!(a.results[0].properties[0].value, "john doe@example.com");
        // A quoted authserv-id.
        let a = parse(" \"mx.example.com\"; spf=none");
        assert_eq!(a.authserv_id.as_deref(), Some("mx.example.com"));
    }

    #[test]
    fn malformed_never_panics() {
        for v in [
            "",
            ";",
            ";;;;",
            "(",
            "((((",
            "\"",
            "a; =",
            "a; dkim=",
            "a; dkim=pass header.",
            "a; dkim=pass header.d",
            "a; dkim=pass header.d=",
            "a; dkim / = pass",
            "é; ü=ß (ö) x.é=ä",
            "a; dkim=pass \\",
            "a; x=y \"unterminated",
            "\u{1F600}\u{1F600}; \u{1F600}=\u{1F600}",
        ] {
            let _ = parse(v);
            let _ = parse_arc(v);
        }
        // Unreadable resinfos are skipped, the readable ones kept.
        let a = parse("example.com; ??? ; spf=pass; @@@=x; dkim=fail");
        assert_eq!(
            summary(&a),
            [
                ("spf".into(), "pass".into()),
                ("dkim".into(), "fail".into())
            ]
        );
    }
}
