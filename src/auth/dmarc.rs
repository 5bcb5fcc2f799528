//! DMARC (RFC 7489): policy discovery at the From domain then its organizational domain
//! (§6.6.3, the public suffix list compiled into the `psl` crate), identifier alignment
//! (§3.1), and the disposition the domain asks for, sampled by `pct` (§6.6.4).
//!
//! mail-auth 0.13 implements DMARCbis (a DNS tree walk instead of the public suffix list,
//! no `pct`), so RFC 7489 is evaluated here.

use super::dns::{LookupError, Resolver};
use super::report::{DkimCheck, DmarcCheck, Outcome, SpfCheck};
use crate::message::tag_list;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    fn parse(v: &str) -> Option<DmarcPolicy> {
        match v.trim().to_ascii_lowercase().as_str() {
            "none" => Some(DmarcPolicy::None),
            "quarantine" => Some(DmarcPolicy::Quarantine),
            "reject" => Some(DmarcPolicy::Reject),
            _ => None,
        }
    }
}

/// What the From domain asks the receiver to do with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    None,
    Quarantine,
    Reject,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }
}

/// A parsed `v=DMARC1` record (§6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub p: DmarcPolicy,
    pub sp: Option<DmarcPolicy>,
    pub strict_dkim: bool,
    pub strict_spf: bool,
    pub pct: u8,
}

/// Read a record; `None` when it is not a usable DMARC record.
pub fn parse_record(text: &str) -> Option<Record> {
    let list = tag_list::parse(text);
    // §6.3: v=DMARC1 must be the first tag.
    let first = list.tags.first()?;
    if first.name != "v" || first.value != "DMARC1" {
        return None;
    }
    let p = match list.get("p").and_then(DmarcPolicy::parse) {
        Some(p) => p,
        // §6.6.3: no valid p=, but a valid rua=: treat as p=none.
        None if list
            .get("rua")
            .is_some_and(|r| r.trim().starts_with("mailto:")) =>
        {
            DmarcPolicy::None
        }
        None => return None,
    };
    let strict = |tag: &str| {
        list.get(tag)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("s"))
    };
    let pct = list
        .get("pct")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(100, |v| v.min(100) as u8);
    Some(Record {
        p,
        sp: list.get("sp").and_then(DmarcPolicy::parse),
        strict_dkim: strict("adkim"),
        strict_spf: strict("aspf"),
        pct,
    })
}

/// The organizational domain (§3.2): the public suffix plus one label.
pub fn organizational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain(d.as_bytes()) {
        Some(org) => String::from_utf8_lossy(org.as_bytes()).into_owned(),
        None => d,
    }
}

fn aligned(a: &str, from: &str, strict: bool) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let from = from.trim_end_matches('.').to_ascii_lowercase();
    if strict {
        a == from
    } else {
        a == from || organizational_domain(&a) == organizational_domain(&from)
    }
}

enum Found {
    Record(String, Record),
    None,
    Temp(String),
}

async fn lookup(resolver: &Resolver, domain: &str) -> Found {
    match resolver.txt(&format!("_dmarc.{domain}")).await {
        Ok(records) => {
            let valid: Vec<Record> = records
                .iter()
                .filter(|r| r.starts_with(b"v=DMARC1"))
                .filter_map(|r| parse_record(&String::from_utf8_lossy(r)))
                .collect();
            // §6.6.3: several records, or none, and DMARC does not apply.
            if valid.len() == 1 {
                let record = valid.into_iter().next();
                match record {
                    Some(r) => Found::Record(domain.to_owned(), r),
                    None => Found::None,
                }
            } else {
                Found::None
            }
        }
        Err(LookupError::NotFound) => Found::None,
        Err(LookupError::Temporary(e)) => Found::Temp(e),
    }
}

/// The random draw of `pct` (§6.6.4): `true` when the policy applies to this message.
fn sampled(pct: u8) -> bool {
    if pct >= 100 {
        return true;
    }
    if pct == 0 {
        return false;
    }
    let mut byte = [0u8; 4];
    let rng = ring::rand::SystemRandom::new();
    if ring::rand::SecureRandom::fill(&rng, &mut byte).is_err() {
        return true;
    }
    u32::from_le_bytes(byte) % 100 < u32::from(pct)
}

/// Evaluate DMARC for a message whose From field holds `from_domains`.
pub async fn check(
    resolver: &Resolver,
    from_domains: &[String],
    dkim: &[DkimCheck],
    spf: Option<&SpfCheck>,
) -> DmarcCheck {
    let mut domains: Vec<String> = from_domains
        .iter()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    domains.dedup();
    let from = match domains.as_slice() {
        [] => {
            return DmarcCheck::none(None, Some("no From address with a domain".into()));
        }
        [one] => one.clone(),
        _ => {
            // §6.6.1: several author domains; DMARC does not apply.
            return DmarcCheck::none(None, Some("the From field names several domains".into()));
        }
    };
    let org = organizational_domain(&from);
    let mut found = lookup(resolver, &from).await;
    if matches!(found, Found::None) && org != from {
        found = lookup(resolver, &org).await;
    }
    let (record_domain, record) = match found {
        Found::Record(d, r) => (d, r),
        Found::None => return DmarcCheck::none(Some(from), None),
        Found::Temp(e) => {
            let mut c = DmarcCheck::none(Some(from), Some(format!("DNS: {e}")));
            c.result = Outcome::TempError;
            return c;
        }
    };
    let applied = if record_domain != from {
        record.sp.unwrap_or(record.p)
    } else {
        record.p
    };
    let dkim_aligned = dkim.iter().any(|d| {
        d.result == Outcome::Pass
            && d.domain
                .as_deref()
                .is_some_and(|dd| aligned(dd, &from, record.strict_dkim))
    });
    let spf_aligned = spf
        .is_some_and(|s| s.result == Outcome::Pass && aligned(&s.domain, &from, record.strict_spf));
    let temp = !dkim_aligned
        && !spf_aligned
        && (dkim.iter().any(|d| {
            d.result == Outcome::TempError
                && d.domain
                    .as_deref()
                    .is_some_and(|dd| aligned(dd, &from, record.strict_dkim))
        }) || spf.is_some_and(|s| {
            s.result == Outcome::TempError && aligned(&s.domain, &from, record.strict_spf)
        }));
    let result = if dkim_aligned || spf_aligned {
        Outcome::Pass
    } else if temp {
        Outcome::TempError
    } else {
        Outcome::Fail
    };
    let disposition = if result != Outcome::Fail {
        Disposition::None
    } else {
        let full = match applied {
            DmarcPolicy::None => Disposition::None,
            DmarcPolicy::Quarantine => Disposition::Quarantine,
            DmarcPolicy::Reject => Disposition::Reject,
        };
        if sampled(record.pct) {
            full
        } else {
            // §6.6.4: not selected: the next less severe treatment.
            match full {
                Disposition::Reject => Disposition::Quarantine,
                _ => Disposition::None,
            }
        }
    };
    let reason = match result {
        Outcome::Fail => Some("neither DKIM nor SPF passed for an aligned domain".to_owned()),
        Outcome::TempError => Some("an aligned check met a DNS error".to_owned()),
        _ => None,
    };
    DmarcCheck {
        result,
        domain: Some(from),
        record_domain: Some(record_domain),
        policy: Some(record.p),
        applied_policy: Some(applied),
        pct: record.pct,
        disposition,
        dkim_aligned,
        spf_aligned,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains_from_the_public_suffix_list() {
        assert_eq!(organizational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("a.b.example.com"), "example.com");
        assert_eq!(organizational_domain("example.com."), "example.com");
        assert!(aligned("news.example.com", "example.com", false));
        assert!(!aligned("news.example.com", "example.com", true));
        assert!(!aligned("example.co.uk", "other.co.uk", false));
    }

    #[test]
    fn records() {
        let r = parse_record("v=DMARC1; p=reject; sp=none; adkim=s; pct=25").unwrap();
        assert_eq!(
            (r.p, r.sp, r.strict_dkim, r.strict_spf, r.pct),
            (
                DmarcPolicy::Reject,
                Some(DmarcPolicy::None),
                true,
                false,
                25
            )
        );
        // v= must come first; a missing p= without rua= is no record; with rua=, p=none.
        assert!(parse_record("p=reject; v=DMARC1").is_none());
        assert!(parse_record("v=DMARC1; adkim=s").is_none());
        assert_eq!(
            parse_record("v=DMARC1; p=bogus; rua=mailto:d@example.com").map(|r| r.p),
            Some(DmarcPolicy::None)
        );
        assert_eq!(
            parse_record("v=DMARC1; p=none; pct=500").map(|r| r.pct),
            Some(100)
        );
        assert!(sampled(100) && !sampled(0));
    }
}
