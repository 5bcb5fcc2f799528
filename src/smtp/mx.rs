//! Finding a domain's mail servers (RFC 5321 §5.1) with hickory-resolver, and delivering a
//! message straight to them: MX records in preference order, the domain's own address when it
//! has no MX, no mail at all for a null MX (RFC 7505).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::Error;
use super::client::{ClientConfig, Connection, Outcome, Prepared, SendOptions};
use crate::message::address::domain_of;

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    pub preference: u16,
    /// Host name, without the trailing dot.
    pub exchange: String,
}

/// Which name server to ask: the system's (resolv.conf) by default.
#[derive(Debug, Clone, Default)]
pub struct DnsConfig {
    pub nameserver: Option<SocketAddr>,
    pub timeout: Option<Duration>,
}

fn dns_error(domain: &str, reason: impl Into<String>, permanent: bool) -> Error {
    Error::Dns {
        domain: domain.to_owned(),
        reason: reason.into(),
        permanent,
    }
}

fn resolver(cfg: &DnsConfig) -> Result<TokioResolver, Error> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match cfg.nameserver {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                provider,
            )
        }
        None => TokioResolver::builder(provider)
            .map_err(|e| dns_error("(system configuration)", e.to_string(), false))?,
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    if let Some(t) = cfg.timeout {
        opts.timeout = t;
    }
    opts.attempts = 2;
    // Names given here are absolute: no search-domain guessing.
    opts.ndots = 0;
    builder
        .build()
        .map_err(|e| dns_error("(resolver)", e.to_string(), false))
}

fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A domain's mail exchangers, most preferred first. With no MX record the domain itself is
/// the one (RFC 5321 §5.1 "implicit MX") if it has an address; a null MX gives an empty list.
pub async fn resolve_mx(domain: &str, cfg: &DnsConfig) -> Result<Vec<MxRecord>, Error> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() {
        return Err(dns_error(domain, "empty domain", true));
    }
    let resolver = resolver(cfg)?;
    match resolver.mx_lookup(absolute(domain)).await {
        Ok(lookup) => {
            let mut records: Vec<MxRecord> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some(MxRecord {
                        preference: mx.preference,
                        exchange: mx
                            .exchange
                            .to_utf8()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    }),
                    _ => None,
                })
                .collect();
            records.sort_by_key(|r| r.preference);
            // RFC 7505: a single "0 ." record says the domain takes no mail.
            if records.iter().any(|r| r.exchange.is_empty()) {
                return Ok(Vec::new());
            }
            if records.is_empty() {
                return implicit_mx(&resolver, domain).await;
            }
            Ok(records)
        }
        Err(e) if e.is_nx_domain() => Err(dns_error(domain, "the domain does not exist", true)),
        Err(e) if e.is_no_records_found() => implicit_mx(&resolver, domain).await,
        Err(e) => Err(dns_error(domain, e.to_string(), false)),
    }
}

async fn implicit_mx(resolver: &TokioResolver, domain: &str) -> Result<Vec<MxRecord>, Error> {
    match resolver.lookup_ip(absolute(domain)).await {
        Ok(ips) if ips.iter().next().is_some() => Ok(vec![MxRecord {
            preference: 0,
            exchange: domain.to_ascii_lowercase(),
        }]),
        Ok(_) => Err(dns_error(domain, "no MX and no address record", true)),
        Err(e) if e.is_nx_domain() => Err(dns_error(domain, "the domain does not exist", true)),
        Err(e) if e.is_no_records_found() => {
            Err(dns_error(domain, "no MX and no address record", true))
        }
        Err(e) => Err(dns_error(domain, e.to_string(), false)),
    }
}

/// A host's addresses (A and AAAA).
pub async fn resolve_addresses(host: &str, cfg: &DnsConfig) -> Result<Vec<IpAddr>, Error> {
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(vec![ip]);
    }
    let resolver = resolver(cfg)?;
    match resolver.lookup_ip(absolute(host)).await {
        Ok(ips) => Ok(ips.iter().collect()),
        Err(e) => {
            let permanent = e.is_nx_domain() || e.is_no_records_found();
            Err(dns_error(host, e.to_string(), permanent))
        }
    }
}

/// The outcome for one recipient domain.
pub struct DomainDelivery {
    pub domain: String,
    pub recipients: Vec<String>,
    pub result: Result<Outcome, Error>,
}

/// Deliver `msg` to each recipient domain's mail exchangers, trying them in preference order
/// (RFC 5321 §5.1) until one takes the message or refuses it; `template` gives port, TLS and
/// timeouts.
pub async fn deliver(
    template: &ClientConfig,
    msg: &Prepared,
    opts: &SendOptions,
    dns: &DnsConfig,
) -> Result<Vec<DomainDelivery>, Error> {
    opts.validate()?;
    // Signed once for every domain (each host gets a `Connection` of its own, which does
    // not sign, unlike `Pool::send`).
    let msg = msg.signed(&template.dkim)?;
    let msg = msg.as_ref();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for r in &msg.recipients {
        let domain = domain_of(r).ok_or_else(|| Error::InvalidAddress {
            address: r.clone(),
            reason: "no domain to deliver to".into(),
        })?;
        match groups.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, list)) => list.push(r.clone()),
            None => groups.push((domain, vec![r.clone()])),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (domain, recipients) in groups {
        let part = Prepared {
            recipients: recipients.clone(),
            ..msg.clone()
        };
        let result = deliver_domain(template, &domain, &part, opts, dns).await;
        out.push(DomainDelivery {
            domain,
            recipients,
            result,
        });
    }
    Ok(out)
}

async fn deliver_domain(
    template: &ClientConfig,
    domain: &str,
    msg: &Prepared,
    opts: &SendOptions,
    dns: &DnsConfig,
) -> Result<Outcome, Error> {
    // An address literal (RFC 5321 §4.1.3) names the host itself.
    let hosts = if domain.starts_with('[') {
        let literal = domain
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_start_matches("ipv6:");
        vec![MxRecord {
            preference: 0,
            exchange: literal.to_owned(),
        }]
    } else {
        resolve_mx(domain, dns).await?
    };
    if hosts.is_empty() {
        return Err(dns_error(
            domain,
            "the domain accepts no mail (null MX, RFC 7505)",
            true,
        ));
    }
    let mut last_error = None;
    for host in &hosts {
        let addresses = match resolve_addresses(&host.exchange, dns).await {
            Ok(a) => a,
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        for ip in addresses {
            let config = Arc::new(template.for_host(
                &ip.to_string(),
                &host.exchange,
                template.endpoint.port,
            ));
            let attempt = async {
                let mut conn = Connection::open(config).await?;
                let result = conn.send(msg, opts).await;
                conn.quit().await;
                result
            };
            let result = match template.transaction_timeout {
                Some(t) => tokio::time::timeout(t, attempt).await.unwrap_or({
                    Err(Error::Net(crate::net::NetError::Timeout {
                        during: "delivering the message (transaction timeout)",
                        after: t,
                    }))
                }),
                None => attempt.await,
            };
            match result {
                Ok(mut outcome) => {
                    outcome.host = host.exchange.clone();
                    return Ok(outcome);
                }
                // Unreachable, or the session failed before the server decided: next host.
                Err(e @ (Error::Net(_) | Error::Protocol(_))) => last_error = Some(e),
                Err(Error::Reply { reply, during })
                    if during == "connection refused by the server" || reply.is_transient() =>
                {
                    last_error = Some(Error::Reply { reply, during });
                }
                Err(e) => return Err(e),
            }
        }
    }
    Err(last_error.unwrap_or_else(|| dns_error(domain, "no usable mail exchanger", false)))
}
