//! What a verification found, and the Authentication-Results field that says it (RFC 8601).

use std::net::IpAddr;

use super::dmarc::{Disposition, DmarcPolicy};
use super::spf::SpfIdentity;

/// A method's result, with the names of RFC 8601 §2.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
    /// Signed, but in a way this verifier does not accept (RFC 8601 §2.7.1): unsigned body
    /// content after `l=`, an expired signature.
    Policy,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::SoftFail => "softfail",
            Outcome::Neutral => "neutral",
            Outcome::None => "none",
            Outcome::TempError => "temperror",
            Outcome::PermError => "permerror",
            Outcome::Policy => "policy",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One DKIM-Signature's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimCheck {
    pub result: Outcome,
    /// `d=`, `s=`, `a=`, `i=` as the signature says (`None` when it could not be read).
    pub domain: Option<String>,
    pub selector: Option<String>,
    pub algorithm: Option<String>,
    pub identity: Option<String>,
    /// The first characters of `b=` (RFC 6008 `header.b`), to tell signatures apart.
    pub signature_prefix: Option<String>,
    /// `l=`, when the signature covers only part of the body.
    pub body_length: Option<u64>,
    /// Why it did not pass.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfCheck {
    pub result: Outcome,
    /// Which identity was checked: MAIL FROM, or HELO for a null reverse path.
    pub identity: SpfIdentity,
    /// The domain whose policy decided.
    pub domain: String,
    /// The MAIL FROM address (`postmaster@<helo>` for the HELO identity).
    pub sender: String,
    pub ip: IpAddr,
    pub helo: Option<String>,
    /// The domain's explanation (`exp=`) for a fail.
    pub explanation: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcCheck {
    pub result: Outcome,
    /// The RFC 5322.From domain.
    pub domain: Option<String>,
    /// Where the policy record was found (the From domain or its organizational domain).
    pub record_domain: Option<String>,
    /// `p=`, and the policy that applies to this domain (`sp=` for a subdomain).
    pub policy: Option<DmarcPolicy>,
    pub applied_policy: Option<DmarcPolicy>,
    pub pct: u8,
    /// What the domain asks be done with this message: its policy on a failure, scaled
    /// down when `pct` did not select it (RFC 7489 §6.6.4).
    pub disposition: Disposition,
    pub dkim_aligned: bool,
    pub spf_aligned: bool,
    pub reason: Option<String>,
}

impl DmarcCheck {
    pub fn none(domain: Option<String>, reason: Option<String>) -> DmarcCheck {
        DmarcCheck {
            result: Outcome::None,
            domain,
            record_domain: None,
            policy: None,
            applied_policy: None,
            pct: 100,
            disposition: Disposition::None,
            dkim_aligned: false,
            spf_aligned: false,
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcCheck {
    pub result: Outcome,
    /// ARC sets on the message.
    pub instances: u32,
    /// `d=` of each ARC-Seal, oldest first.
    pub sealers: Vec<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthReport {
    /// One entry per DKIM-Signature checked (at most the verifier's cap), top first.
    pub dkim: Vec<DkimCheck>,
    /// DKIM-Signature fields beyond the cap, not checked.
    pub dkim_skipped: usize,
    pub arc: ArcCheck,
    /// `None` when no client address was given.
    pub spf: Option<SpfCheck>,
    pub dmarc: DmarcCheck,
}

/// A `reason=` or comment text: printable ASCII, no quotes or backslashes, bounded.
fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .take(160)
        .collect();
    out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    out
}

/// A property value: a token as is, anything else as a quoted string (RFC 8601 §2.2).
fn pvalue(text: &str) -> String {
    // A pvalue is a token or an addr-spec (RFC 8601 §2.2); "/", "+" and "=" of base64
    // `header.b` values are written bare, as receivers do.
    let token = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>,;:\\\"[]?".contains(&b));
    if token {
        text.to_owned()
    } else {
        format!("\"{}\"", clean(text))
    }
}

impl AuthReport {
    /// The results as RFC 8601 resinfo clauses (`dkim=pass header.d=...`).
    pub fn clauses(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.dkim.is_empty() {
            out.push("dkim=none".to_owned());
        }
        for d in &self.dkim {
            let mut c = format!("dkim={}", d.result);
            if let Some(r) = &d.reason {
                c.push_str(&format!(" reason=\"{}\"", clean(r)));
            }
            if let Some(v) = &d.domain {
                c.push_str(&format!(" header.d={}", pvalue(v)));
            }
            if let Some(v) = &d.selector {
                c.push_str(&format!(" header.s={}", pvalue(v)));
            }
            if let Some(v) = &d.identity {
                c.push_str(&format!(" header.i={}", pvalue(v)));
            }
            if let Some(v) = &d.algorithm {
                c.push_str(&format!(" header.a={}", pvalue(v)));
            }
            if let Some(v) = &d.signature_prefix {
                c.push_str(&format!(" header.b={}", pvalue(v)));
            }
            out.push(c);
        }
        if let Some(s) = &self.spf {
            let mut c = format!("spf={}", s.result);
            if let Some(r) = &s.reason {
                c.push_str(&format!(" reason=\"{}\"", clean(r)));
            }
            match s.identity {
                SpfIdentity::MailFrom => {
                    c.push_str(&format!(" smtp.mailfrom={}", pvalue(&s.sender)));
                }
                SpfIdentity::Helo => {
                    c.push_str(&format!(" smtp.helo={}", pvalue(&s.domain)));
                }
            }
            out.push(c);
        }
        let d = &self.dmarc;
        let mut c = format!("dmarc={}", d.result);
        if let Some(p) = d.applied_policy {
            c.push_str(&format!(
                " (p={} dis={})",
                p.as_str(),
                d.disposition.as_str()
            ));
        }
        if let Some(r) = &d.reason {
            c.push_str(&format!(" reason=\"{}\"", clean(r)));
        }
        if let Some(v) = &d.domain {
            c.push_str(&format!(" header.from={}", pvalue(v)));
        }
        out.push(c);
        let a = &self.arc;
        let mut c = format!("arc={}", a.result);
        if a.instances > 0 {
            c.push_str(&format!(" (i={})", a.instances));
        }
        if let Some(r) = &a.reason {
            c.push_str(&format!(" reason=\"{}\"", clean(r)));
        }
        out.push(c);
        out
    }

    /// The Authentication-Results field, folded, without the final CRLF.
    pub fn header(&self, authserv_id: &str) -> String {
        let mut out = format!("Authentication-Results: {}", pvalue(authserv_id.trim()));
        for c in self.clauses() {
            out.push_str(";\r\n\t");
            out.push_str(&c);
        }
        out
    }

    /// The field value on one line (`authserv-id; clause; clause`), as ARC's
    /// ARC-Authentication-Results carries it.
    pub fn one_line(&self, authserv_id: &str) -> String {
        let mut out = pvalue(authserv_id.trim());
        for c in self.clauses() {
            out.push_str("; ");
            out.push_str(&c);
        }
        out
    }
}
