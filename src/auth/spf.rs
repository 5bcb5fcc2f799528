//! SPF (RFC 7208): `check_host()` with its processing limits — at most 10 DNS-querying terms
//! (§4.6.4), at most 2 void lookups, at most 10 MX or PTR names per term — record selection
//! (exactly one `v=spf1` record, §4.5), `exp=` explanations (§6.2).
//!
//! The record and macro parsers are mail-auth's; the evaluation is here, because mail-auth's
//! has no void-lookup limit and takes the first of several records instead of failing.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::{Macro, Mechanism, Qualifier, Spf, Variables};

use super::dns::{LookupError, Resolver};
use super::report::{Outcome, SpfCheck};

/// Which identity SPF authorized (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfIdentity {
    MailFrom,
    Helo,
}

impl SpfIdentity {
    pub fn as_str(self) -> &'static str {
        match self {
            SpfIdentity::MailFrom => "mailfrom",
            SpfIdentity::Helo => "helo",
        }
    }
}

const LOOKUP_LIMIT: u32 = 10;
const VOID_LIMIT: u32 = 2;
const NAMES_LIMIT: usize = 10;

struct Ctx<'a> {
    resolver: &'a Resolver,
    ip: IpAddr,
    sender: String,
    helo: String,
    receiver: String,
    lookups: u32,
    voids: u32,
    /// `%{p}`: the validated name of the client, looked up when a macro asks for it.
    validated: Option<String>,
}

/// How `check_host` ended; `Err` carries the reason for an error result.
type Verdict = (Outcome, Option<String>, Option<String>);

/// Check whether `ip` may send for `mail_from` (or, with an empty MAIL FROM, for the HELO
/// name): RFC 7208 §2.3 and §2.4.
pub async fn check(
    resolver: &Resolver,
    ip: IpAddr,
    helo: Option<&str>,
    mail_from: Option<&str>,
    receiver: &str,
) -> SpfCheck {
    let skeleton = check_skeleton(ip, helo, mail_from);
    let mut ctx = Ctx {
        resolver,
        ip: skeleton.ip,
        sender: skeleton.sender.clone(),
        helo: helo.unwrap_or("").trim().trim_end_matches('.').to_owned(),
        receiver: receiver.to_owned(),
        lookups: 0,
        voids: 0,
        validated: None,
    };
    let domain = skeleton.domain.clone();
    let (result, explanation, reason) = if !valid_domain(&domain) {
        // §4.3: a malformed or single-label domain: "none".
        (
            Outcome::None,
            None,
            Some(format!("{domain:?} is not a domain name")),
        )
    } else {
        check_host(&mut ctx, domain.to_ascii_lowercase(), 0).await
    };
    SpfCheck {
        result,
        explanation,
        reason,
        ..skeleton
    }
}

/// The identity an SPF check of this envelope authorizes, before any DNS (result `none`).
pub fn check_skeleton(ip: IpAddr, helo: Option<&str>, mail_from: Option<&str>) -> SpfCheck {
    // An IPv4-mapped IPv6 client is its IPv4 address (RFC 7208 §5).
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let helo_name = helo.unwrap_or("").trim().trim_end_matches('.').to_owned();
    let mail_from = mail_from
        .unwrap_or("")
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let (identity, sender, domain) = if mail_from.is_empty() {
        (
            SpfIdentity::Helo,
            format!("postmaster@{helo_name}"),
            helo_name.clone(),
        )
    } else {
        match mail_from.rsplit_once('@') {
            Some((local, d)) => {
                let local = if local.is_empty() {
                    "postmaster"
                } else {
                    local
                };
                (
                    SpfIdentity::MailFrom,
                    format!("{local}@{d}"),
                    d.trim_end_matches('.').to_owned(),
                )
            }
            // RFC 7208 §4.3: a MAIL FROM without "@" is the local part of postmaster@helo.
            None => (
                SpfIdentity::MailFrom,
                format!("postmaster@{mail_from}"),
                mail_from.clone(),
            ),
        }
    };
    SpfCheck {
        result: Outcome::None,
        identity,
        domain,
        sender,
        ip,
        helo: helo.map(str::to_owned),
        explanation: None,
        reason: None,
    }
}
/// A multi-label domain name with labels of 1 to 63 characters (RFC 7208 §4.3).
fn valid_domain(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && !d.starts_with('[')
}

fn check_host<'a>(
    ctx: &'a mut Ctx<'_>,
    domain: String,
    depth: u32,
) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
    Box::pin(async move {
        // Each include or redirect counts against the 10 lookups, so depth stays below it;
        // this guards the recursion all the same.
        if depth > LOOKUP_LIMIT + 1 {
            return (
                Outcome::PermError,
                None,
                Some("include/redirect loop".into()),
            );
        }
        let record = match ctx.resolver.txt(&domain).await {
            Ok(records) => {
                let spf: Vec<Vec<u8>> = records.into_iter().filter(|r| is_spf1(r)).collect();
                match spf.len() {
                    0 => {
                        return (
                            Outcome::None,
                            None,
                            Some(format!("no SPF record at {domain}")),
                        );
                    }
                    1 => spf.into_iter().next().unwrap_or_default(),
                    n => {
                        return (
                            Outcome::PermError,
                            None,
                            Some(format!("{n} SPF records at {domain} (RFC 7208 §4.5)")),
                        );
                    }
                }
            }
            Err(LookupError::NotFound) => {
                return (
                    Outcome::None,
                    None,
                    Some(format!("no SPF record at {domain}")),
                );
            }
            Err(LookupError::Temporary(e)) => {
                return (Outcome::TempError, None, Some(format!("DNS: {e}")));
            }
        };
        if !record.is_ascii() || record.iter().any(|b| b.is_ascii_control()) {
            return (
                Outcome::PermError,
                None,
                Some(format!(
                    "the SPF record of {domain} is not 7-bit printable text"
                )),
            );
        }
        let record = match super::spf_syntax::check(&String::from_utf8_lossy(&record)) {
            Ok(r) => r,
            Err(e) => {
                return (
                    Outcome::PermError,
                    None,
                    Some(format!("the SPF record of {domain}: {e}")),
                );
            }
        };
        let spf = match Spf::parse(record.as_bytes()) {
            Ok(spf) => spf,
            Err(_) => {
                return (
                    Outcome::PermError,
                    None,
                    Some(format!("the SPF record of {domain} does not parse")),
                );
            }
        };
        evaluate(ctx, &spf, domain, depth).await
    })
}

/// `v=spf1` followed by a space or the end (RFC 7208 §4.5), case-insensitive.
fn is_spf1(record: &[u8]) -> bool {
    record.len() >= 6
        && record[..6].eq_ignore_ascii_case(b"v=spf1")
        && record.get(6).is_none_or(|b| *b == b' ')
}

/// Counts one DNS-querying term; `false` past the limit.
fn count_lookup(ctx: &mut Ctx<'_>) -> bool {
    ctx.lookups += 1;
    ctx.lookups <= LOOKUP_LIMIT
}

fn too_many(what: &str) -> Verdict {
    (
        Outcome::PermError,
        None,
        Some(format!("{what} (RFC 7208 §4.6.4)")),
    )
}

/// A void lookup (NXDOMAIN or no answer); `false` past the limit of 2.
fn count_void(ctx: &mut Ctx<'_>) -> bool {
    ctx.voids += 1;
    ctx.voids <= VOID_LIMIT
}

/// A void lookup's effect on a term: past the limit of void lookups a permerror ends the
/// check, else the term goes on to `then`.
fn void_lookup(ctx: &mut Ctx<'_>, then: Match) -> Match {
    if count_void(ctx) {
        then
    } else {
        Match::Stop(too_many("more than 2 void lookups"))
    }
}

enum Match {
    Yes,
    No,
    Stop(Verdict),
}

async fn evaluate(ctx: &mut Ctx<'_>, spf: &Spf, domain: String, depth: u32) -> Verdict {
    for directive in spf.directives.iter() {
        let m = match &directive.mechanism {
            Mechanism::All => Match::Yes,
            Mechanism::Ip4 { addr, mask } => match ctx.ip {
                IpAddr::V4(ip) => bool_match(u32::from(ip) & mask == u32::from(*addr) & mask),
                IpAddr::V6(_) => Match::No,
            },
            Mechanism::Ip6 { addr, mask } => match ctx.ip {
                IpAddr::V6(ip) => bool_match(u128::from(ip) & mask == u128::from(*addr) & mask),
                IpAddr::V4(_) => Match::No,
            },
            Mechanism::A {
                macro_string,
                ip4_mask,
                ip6_mask,
            } => {
                if !count_lookup(ctx) {
                    return too_many("more than 10 DNS-querying terms");
                }
                let Some(target) = expand(ctx, macro_string, &domain).await else {
                    continue;
                };
                match ctx.resolver.addresses(&target, ctx.ip).await {
                    Ok(ips) => bool_match(
                        ips.iter()
                            .any(|a| masked_eq(ctx.ip, *a, *ip4_mask, *ip6_mask)),
                    ),
                    Err(LookupError::NotFound) => void_lookup(ctx, Match::No),
                    Err(LookupError::Temporary(e)) => temp(e),
                }
            }
            Mechanism::Mx {
                macro_string,
                ip4_mask,
                ip6_mask,
            } => {
                if !count_lookup(ctx) {
                    return too_many("more than 10 DNS-querying terms");
                }
                let Some(target) = expand(ctx, macro_string, &domain).await else {
                    continue;
                };
                match ctx.resolver.mx(&target).await {
                    Ok(hosts) => {
                        if hosts.len() > NAMES_LIMIT {
                            return too_many("more than 10 MX names");
                        }
                        let mut found = Match::No;
                        for host in hosts {
                            match ctx.resolver.addresses(&host, ctx.ip).await {
                                Ok(ips) => {
                                    if ips
                                        .iter()
                                        .any(|a| masked_eq(ctx.ip, *a, *ip4_mask, *ip6_mask))
                                    {
                                        found = Match::Yes;
                                        break;
                                    }
                                }
                                Err(LookupError::NotFound) => {}
                                Err(LookupError::Temporary(e)) => {
                                    found = temp(e);
                                    break;
                                }
                            }
                        }
                        found
                    }
                    Err(LookupError::NotFound) => void_lookup(ctx, Match::No),
                    Err(LookupError::Temporary(e)) => temp(e),
                }
            }
            Mechanism::Ptr { macro_string } => {
                if !count_lookup(ctx) {
                    return too_many("more than 10 DNS-querying terms");
                }
                let Some(target) = expand(ctx, macro_string, &domain).await else {
                    continue;
                };
                let target = target.to_ascii_lowercase();
                match validated_names(ctx).await {
                    Ok(names) => bool_match(
                        names
                            .iter()
                            .any(|n| n == &target || n.ends_with(&format!(".{target}"))),
                    ),
                    // §5.5: PTR trouble is no match, not an error.
                    Err(_) => Match::No,
                }
            }
            Mechanism::Exists { macro_string } => {
                if !count_lookup(ctx) {
                    return too_many("more than 10 DNS-querying terms");
                }
                let Some(target) = expand(ctx, macro_string, &domain).await else {
                    continue;
                };
                // §5.7: always an A query, whatever the client's address family.
                match ctx.resolver.ipv4(&target).await {
                    Ok(_) => Match::Yes,
                    Err(LookupError::NotFound) => void_lookup(ctx, Match::No),
                    Err(LookupError::Temporary(e)) => temp(e),
                }
            }
            Mechanism::Include { macro_string } => {
                let (r, _, reason) =
                    match other_policy(ctx, macro_string, &domain, depth, INCLUDE).await {
                        Ok(verdict) => verdict,
                        Err(verdict) => return verdict,
                    };
                // §5.2: what an included policy's result means for the including one.
                match r {
                    Outcome::Pass => Match::Yes,
                    Outcome::Fail | Outcome::SoftFail | Outcome::Neutral => Match::No,
                    Outcome::TempError => Match::Stop((Outcome::TempError, None, reason)),
                    _ => Match::Stop((Outcome::PermError, None, reason)),
                }
            }
        };
        match m {
            Match::Yes => {
                let result = match directive.qualifier {
                    Qualifier::Pass => Outcome::Pass,
                    Qualifier::Fail => Outcome::Fail,
                    Qualifier::SoftFail => Outcome::SoftFail,
                    Qualifier::Neutral => Outcome::Neutral,
                };
                let explanation = if result == Outcome::Fail {
                    explain(ctx, spf, &domain).await
                } else {
                    None
                };
                return (result, explanation, None);
            }
            Match::No => {}
            Match::Stop(v) => return v,
        }
    }
    if let Some(redirect) = &spf.redirect {
        return match other_policy(ctx, redirect, &domain, depth, REDIRECT).await {
            Ok(verdict) | Err(verdict) => verdict,
        };
    }
    (Outcome::Neutral, None, None)
}

/// `include:` or `redirect=`, as [`other_policy`] names it in its permerrors.
struct OtherPolicy {
    term: &'static str,
    invalid: &'static str,
}

const INCLUDE: OtherPolicy = OtherPolicy {
    term: "include:",
    invalid: "include: of an invalid domain",
};
const REDIRECT: OtherPolicy = OtherPolicy {
    term: "redirect=",
    invalid: "redirect= to an invalid domain",
};

/// The policy of the domain an `include:` or `redirect=` names (§5.2, §6.1), a DNS-querying
/// term. `Err`: the permerror that ends the check (past a limit, an invalid domain, a domain
/// with no SPF record).
async fn other_policy(
    ctx: &mut Ctx<'_>,
    spec: &Macro,
    domain: &str,
    depth: u32,
    kind: OtherPolicy,
) -> Result<Verdict, Verdict> {
    if !count_lookup(ctx) {
        return Err(too_many("more than 10 DNS-querying terms"));
    }
    let Some(target) = expand(ctx, spec, domain).await else {
        return Err((Outcome::PermError, None, Some(kind.invalid.into())));
    };
    let verdict = check_host(ctx, target.clone(), depth + 1).await;
    if verdict.0 != Outcome::None {
        return Ok(verdict);
    }
    // §5.2, §6.1: a domain without a record is a permerror (and a void lookup).
    if !count_void(ctx) {
        return Err(too_many("more than 2 void lookups"));
    }
    Err((
        Outcome::PermError,
        None,
        Some(format!("{}{target} has no SPF record", kind.term)),
    ))
}

fn bool_match(b: bool) -> Match {
    if b { Match::Yes } else { Match::No }
}

fn temp(e: String) -> Match {
    Match::Stop((Outcome::TempError, None, Some(format!("DNS: {e}"))))
}

fn masked_eq(client: IpAddr, addr: IpAddr, mask4: u32, mask6: u128) -> bool {
    match (client, addr) {
        (IpAddr::V4(c), IpAddr::V4(a)) => u32::from(c) & mask4 == u32::from(a) & mask4,
        (IpAddr::V6(c), IpAddr::V6(a)) => u128::from(c) & mask6 == u128::from(a) & mask6,
        _ => false,
    }
}

/// The client's names that resolve back to it (§5.5), at most 10 tried.
async fn validated_names(ctx: &mut Ctx<'_>) -> Result<Vec<String>, LookupError> {
    let names = ctx.resolver.ptr(ctx.ip).await?;
    let mut out = Vec::new();
    for name in names.into_iter().take(NAMES_LIMIT) {
        if let Ok(ips) = ctx.resolver.addresses(&name, ctx.ip).await
            && ips.contains(&ctx.ip)
        {
            out.push(name);
        }
    }
    Ok(out)
}

fn variables<'v>(ctx: &Ctx<'_>, domain: &str, validated: &str) -> Variables<'v> {
    let mut vars = Variables::new();
    vars.set_ip(&ctx.ip);
    vars.set_sender(ctx.sender.clone().into_bytes());
    vars.set_domain(domain.as_bytes().to_vec());
    vars.set_helo_domain(ctx.helo.clone().into_bytes());
    vars.set_host_domain(ctx.receiver.clone().into_bytes());
    vars.set_validated_domain(validated.as_bytes().to_vec());
    vars
}

/// A domain-spec expanded (§7), truncated to 253 characters from the left (§4.8/5 of the
/// 7208 errata: drop leading labels), or `None` when the result is not a queryable name
/// (an empty or over-long label: no match, §4.3).
async fn expand(ctx: &mut Ctx<'_>, spec: &Macro, domain: &str) -> Option<String> {
    let validated = if spec.needs_ptr() {
        validated_domain(ctx).await
    } else {
        String::new()
    };
    let vars = variables(ctx, domain, &validated);
    let mut name = spec.eval(&vars, domain, false).into_owned();
    while name.ends_with('.') {
        name.pop();
    }
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest.to_owned(),
            None => return None,
        }
    }
    if name.is_empty() || name.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    Some(name)
}

/// `%{p}` (§7.3): a validated name of the client, preferring one in the domain; "unknown".
async fn validated_domain(ctx: &mut Ctx<'_>) -> String {
    if let Some(v) = &ctx.validated {
        return v.clone();
    }
    let v = validated_names(ctx)
        .await
        .ok()
        .and_then(|n| n.into_iter().next())
        .unwrap_or_else(|| "unknown".to_owned());
    ctx.validated = Some(v.clone());
    v
}

/// The `exp=` explanation of a fail (§6.2); any trouble means none.
async fn explain(ctx: &mut Ctx<'_>, spf: &Spf, domain: &str) -> Option<String> {
    let exp = spf.exp.as_ref()?;
    let target = expand(ctx, exp, domain).await?;
    let records = ctx.resolver.txt(&target).await.ok()?;
    if records.len() != 1 {
        return None;
    }
    let raw = String::from_utf8_lossy(&records[0]);
    super::spf_syntax::macro_string(&raw, true).ok()?;
    let text = Macro::parse(raw.as_bytes()).ok()?;
    let validated = if text.needs_ptr() {
        validated_domain(ctx).await
    } else {
        String::new()
    };
    let vars = variables(ctx, domain, &validated);
    let out = text.eval(&vars, domain, false).into_owned();
    out.is_ascii().then_some(out)
}
