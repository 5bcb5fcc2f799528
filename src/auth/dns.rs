//! The DNS side of verification: one hickory resolver (hickory caches answers for their TTL)
//! shared by DKIM, ARC, SPF and DMARC, and a TTL cache of parsed TXT records (DKIM keys),
//! so a key is decoded once, not once per message.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use mail_auth::{MessageAuthenticator, ResolverCache, Txt};

use super::Error;

#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// Name servers to ask (port 53 unless given); empty: the system's (resolv.conf).
    pub nameservers: Vec<SocketAddr>,
    /// How long one query waits for an answer.
    pub timeout: Duration,
    /// How often a query is sent before it counts as failed.
    pub attempts: usize,
    /// Parsed TXT records kept (DKIM keys, SPF and DMARC records).
    pub cache_size: usize,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            cache_size: 1024,
        }
    }
}

/// Why a lookup found nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// NXDOMAIN, or the name exists without records of the type ("void", RFC 7208 §4.6.4).
    NotFound,
    /// Time-out, SERVFAIL, refused, network trouble: try again later.
    Temporary(String),
}

/// A resolver for the checks.
pub struct Resolver {
    pub(crate) authenticator: MessageAuthenticator,
    pub(crate) txt_cache: TtlCache<Box<str>, Txt>,
}

impl Resolver {
    pub fn new(options: &DnsOptions) -> Result<Resolver, Error> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if options.nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| {
                Error::Config(format!("cannot read the system's DNS configuration: {e}"))
            })?
        } else {
            let servers = options
                .nameservers
                .iter()
                .map(|addr| {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    ns
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = options.timeout;
        opts.attempts = options.attempts.max(1);
        // Names here are absolute: no search-domain guessing.
        opts.ndots = 0;
        let resolver = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot make a DNS resolver: {e}")))?;
        Ok(Resolver {
            authenticator: MessageAuthenticator(resolver),
            txt_cache: TtlCache::new(options.cache_size),
        })
    }

    fn hickory(&self) -> &TokioResolver {
        self.authenticator.resolver()
    }

    /// TXT records at `name`, each one's strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    pub async fn txt(&self, name: &str) -> Result<Vec<Vec<u8>>, LookupError> {
        let lookup = self
            .hickory()
            .txt_lookup(fqdn(name)?)
            .await
            .map_err(classify)?;
        let records: Vec<Vec<u8>> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(LookupError::NotFound);
        }
        Ok(records)
    }

    pub async fn ipv4(&self, name: &str) -> Result<Vec<Ipv4Addr>, LookupError> {
        let lookup = self
            .hickory()
            .ipv4_lookup(fqdn(name)?)
            .await
            .map_err(classify)?;
        let ips: Vec<Ipv4Addr> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            return Err(LookupError::NotFound);
        }
        Ok(ips)
    }

    pub async fn ipv6(&self, name: &str) -> Result<Vec<Ipv6Addr>, LookupError> {
        let lookup = self
            .hickory()
            .ipv6_lookup(fqdn(name)?)
            .await
            .map_err(classify)?;
        let ips: Vec<Ipv6Addr> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect();
        if ips.is_empty() {
            return Err(LookupError::NotFound);
        }
        Ok(ips)
    }

    /// Addresses of the client's family (A for IPv4, AAAA for IPv6).
    pub async fn addresses(&self, name: &str, like: IpAddr) -> Result<Vec<IpAddr>, LookupError> {
        Ok(match like {
            IpAddr::V4(_) => self.ipv4(name).await?.into_iter().map(IpAddr::V4).collect(),
            IpAddr::V6(_) => self.ipv6(name).await?.into_iter().map(IpAddr::V6).collect(),
        })
    }

    /// MX exchanges, most preferred first, without the trailing dot.
    pub async fn mx(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let lookup = self
            .hickory()
            .mx_lookup(fqdn(name)?)
            .await
            .map_err(classify)?;
        let mut mx: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                )),
                _ => None,
            })
            .collect();
        if mx.is_empty() {
            return Err(LookupError::NotFound);
        }
        mx.sort_by_key(|m| m.0);
        Ok(mx.into_iter().map(|m| m.1).collect())
    }

    /// PTR names of `ip`, without the trailing dot.
    pub async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, LookupError> {
        let lookup = self.hickory().reverse_lookup(ip).await.map_err(classify)?;
        let names: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_ascii().trim_end_matches('.').to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err(LookupError::NotFound);
        }
        Ok(names)
    }
}

/// A name from its labels as they are: SPF macros can make labels with spaces, "%", ":"
/// or "/" (RFC 7208 §7.1), which DNS carries (RFC 2181 §11) but name parsers refuse.
fn fqdn(name: &str) -> Result<Name, LookupError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut n =
        Name::from_labels(name.split('.').map(str::as_bytes)).map_err(|_| LookupError::NotFound)?;
    n.set_fqdn(true);
    Ok(n)
}

fn classify(e: hickory_resolver::net::NetError) -> LookupError {
    if e.is_nx_domain() || e.is_no_records_found() {
        LookupError::NotFound
    } else {
        LookupError::Temporary(e.to_string())
    }
}

/// A size-bounded map whose entries expire. Enough for a verifier's working set of keys and
/// policies; when full, expired entries go first, then the oldest half.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant, u64)>>,
    capacity: usize,
    clock: Mutex<u64>,
}

/// Entries never live longer than this, whatever the TTL said.
const MAX_TTL: Duration = Duration::from_secs(3600);

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
            clock: Mutex::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(name) {
            Some((v, until, _)) if *until > Instant::now() => Some(v.clone()),
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.lock().ok()?.remove(name).map(|e| e.0)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        if self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let until = valid_until.min(now + MAX_TTL);
        if until <= now {
            return;
        }
        let stamp = match self.clock.lock() {
            Ok(mut c) => {
                *c += 1;
                *c
            }
            Err(_) => return,
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.1 > now);
            if entries.len() >= self.capacity {
                let mut stamps: Vec<u64> = entries.values().map(|e| e.2).collect();
                stamps.sort_unstable();
                let cut = stamps[stamps.len() / 2];
                entries.retain(|_, e| e.2 > cut);
            }
        }
        entries.insert(key, (value, until, stamp));
    }
}
