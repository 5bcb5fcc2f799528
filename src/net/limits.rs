//! Limits per client address that the servers share: concurrent connections (Postfix's
//! `smtpd_client_connection_count_limit`, 50 by default), and failed logins within a time
//! window (Dovecot's auth penalty, Postfix's `smtpd_client_auth_rate_limit`), plus the listen
//! backlog sized from the configuration.
//!
//! A client address is an IPv4 address, or an IPv6 /64: one host is given a whole /64 and
//! could otherwise rotate through its 2^64 addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The address limits are kept for: IPv4 (also when mapped into IPv6) as is, IPv6 by /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Open connections per client address.
pub struct ConnectionsPerAddress {
    limit: Option<usize>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; dropping it gives the slot back.
pub struct AddressSlot {
    owner: Arc<ConnectionsPerAddress>,
    key: IpAddr,
}

impl ConnectionsPerAddress {
    /// `limit`: connections one address may hold at once (`None`: no limit).
    pub fn new(limit: Option<usize>) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when that address has its limit.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(key).or_insert(0);
        if self.limit.is_some_and(|limit| *n >= limit) {
            if *n == 0 {
                open.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            owner: self.clone(),
            key,
        })
    }

    /// Connections open from `ip` now.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&client_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self
            .owner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// How many failed logins an address may have within a window before its logins are refused
/// (without a password check) until the window has passed. Checks still running count as
/// failures until they succeed, so concurrent guesses cannot overshoot the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthBudget {
    /// `None`: no limit.
    pub failures: Option<u32>,
    pub window: Duration,
}

impl Default for AuthBudget {
    fn default() -> Self {
        Self {
            failures: Some(10),
            window: Duration::from_secs(300),
        }
    }
}

/// Failed logins per client address. Shared by every server checking the same accounts (the
/// bindings keep one per `Users`), so an address that guesses over SMTP is counted by POP3 as
/// well, and a reconnect starts nothing fresh.
pub struct AuthFailures {
    entries: Mutex<HashMap<IpAddr, Window>>,
    max_entries: usize,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    failures: u32,
    /// Checks begun and not yet ended.
    pending: u32,
}

/// A password check counted against its address's budget: [`AuthAttempt::failed`] records a
/// failure; dropping it (success, or no answer) only ends it.
pub struct AuthAttempt {
    table: Option<(Arc<AuthFailures>, IpAddr, AuthBudget)>,
}

impl AuthAttempt {
    /// The password was wrong.
    pub fn failed(mut self) {
        if let Some((table, ip, budget)) = self.table.take() {
            table.end(ip, &budget, true, Instant::now());
        }
    }
}

impl Drop for AuthAttempt {
    fn drop(&mut self) {
        if let Some((table, ip, budget)) = self.table.take() {
            table.end(ip, &budget, false, Instant::now());
        }
    }
}

/// Addresses remembered at most; past it, expired ones are forgotten first, then the oldest.
const MAX_TRACKED: usize = 100_000;

impl Default for AuthFailures {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries: MAX_TRACKED,
        }
    }
}

impl AuthFailures {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Whether `ip` has used up `budget` (its logins are then refused unchecked).
    pub fn exhausted(&self, ip: IpAddr, budget: &AuthBudget) -> bool {
        self.exhausted_at(ip, budget, Instant::now())
    }

    fn exhausted_at(&self, ip: IpAddr, budget: &AuthBudget, now: Instant) -> bool {
        let Some(limit) = budget.failures else {
            return false;
        };
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(&client_key(ip)).is_some_and(|w| {
            let failures = if now.saturating_duration_since(w.start) < budget.window {
                w.failures
            } else {
                0
            };
            failures.saturating_add(w.pending) >= limit
        })
    }

    /// Begin a password check for `ip`, or `None` when its budget is used up (failures in the
    /// window, plus checks still running).
    pub fn begin(self: &Arc<Self>, ip: IpAddr, budget: &AuthBudget) -> Option<AuthAttempt> {
        self.begin_at(ip, budget, Instant::now())
    }

    fn begin_at(
        self: &Arc<Self>,
        ip: IpAddr,
        budget: &AuthBudget,
        now: Instant,
    ) -> Option<AuthAttempt> {
        let Some(limit) = budget.failures else {
            return Some(AuthAttempt { table: None });
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let w = self.window(&mut entries, client_key(ip), budget, now);
        if w.failures.saturating_add(w.pending) >= limit {
            return None;
        }
        w.pending += 1;
        Some(AuthAttempt {
            table: Some((self.clone(), ip, *budget)),
        })
    }

    fn end(&self, ip: IpAddr, budget: &AuthBudget, failed: bool, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let w = self.window(&mut entries, client_key(ip), budget, now);
        w.pending = w.pending.saturating_sub(1);
        if failed {
            w.failures = w.failures.saturating_add(1);
        }
    }

    /// The window of `key`, started afresh when the last one has passed; the table is kept
    /// within its size by forgetting expired windows, then the oldest.
    fn window<'a>(
        &self,
        entries: &'a mut HashMap<IpAddr, Window>,
        key: IpAddr,
        budget: &AuthBudget,
        now: Instant,
    ) -> &'a mut Window {
        if !entries.contains_key(&key) && entries.len() >= self.max_entries {
            entries.retain(|_, w| {
                w.pending > 0 || now.saturating_duration_since(w.start) < budget.window
            });
            if entries.len() >= self.max_entries
                && let Some(oldest) = entries
                    .iter()
                    .filter(|(_, w)| w.pending == 0)
                    .min_by_key(|(_, w)| w.start)
                    .map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        let w = entries.entry(key).or_insert(Window {
            start: now,
            failures: 0,
            pending: 0,
        });
        if now.saturating_duration_since(w.start) >= budget.window {
            w.start = now;
            w.failures = 0;
        }
        w
    }
}

/// The listen backlog for a server taking `max_connections` at once: room for all of them to
/// arrive together (a burst beyond the backlog leaves clients connected in their own view but
/// never accepted, waiting for SYN-ACK retransmissions), at least 128 (the usual default),
/// and no more than the kernel takes (`net.core.somaxconn`).
pub fn listen_backlog(max_connections: usize) -> u32 {
    let wanted = u32::try_from(max_connections).unwrap_or(u32::MAX).max(128);
    match somaxconn() {
        Some(cap) => wanted.min(cap.max(1)),
        None => wanted.min(4096),
    }
}

fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_counts_by_slash_64() {
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn connections_per_address() {
        let limit = ConnectionsPerAddress::new(Some(2));
        let a = limit.try_acquire(ip("192.0.2.1")).unwrap();
        let b = limit.try_acquire(ip("192.0.2.1")).unwrap();
        assert!(limit.try_acquire(ip("192.0.2.1")).is_none());
        // another address has its own count; another host of the same /64 shares one
        let _c = limit.try_acquire(ip("192.0.2.2")).unwrap();
        let _d = limit.try_acquire(ip("2001:db8::1")).unwrap();
        let _e = limit.try_acquire(ip("2001:db8::2")).unwrap();
        assert!(limit.try_acquire(ip("2001:db8::3")).is_none());
        drop(a);
        assert_eq!(limit.open_from(ip("192.0.2.1")), 1);
        let _f = limit.try_acquire(ip("192.0.2.1")).unwrap();
        drop(b);
        let unlimited = ConnectionsPerAddress::new(None);
        let slots: Vec<_> = (0..500)
            .map(|_| unlimited.try_acquire(ip("192.0.2.9")).unwrap())
            .collect();
        assert_eq!(unlimited.open_from(ip("192.0.2.9")), 500);
        drop(slots);
        assert!(unlimited.open.lock().unwrap().is_empty());
    }

    #[test]
    fn failure_budget_per_window() {
        let failures = AuthFailures::new();
        let budget = AuthBudget {
            failures: Some(3),
            window: Duration::from_secs(60),
        };
        let a = ip("192.0.2.1");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!failures.exhausted_at(a, &budget, t0));
            failures.begin_at(a, &budget, t0).unwrap().failed();
        }
        assert!(failures.exhausted_at(a, &budget, t0 + Duration::from_secs(59)));
        assert!(failures.begin_at(a, &budget, t0).is_none());
        assert!(!failures.exhausted_at(ip("192.0.2.2"), &budget, t0));
        let later = t0 + Duration::from_secs(61);
        assert!(
            !failures.exhausted_at(a, &budget, later),
            "the window passed"
        );
        // a success counts nothing
        drop(failures.begin_at(a, &budget, later).unwrap());
        failures.begin_at(a, &budget, later).unwrap().failed();
        assert!(!failures.exhausted_at(a, &budget, later));
        let none = AuthBudget {
            failures: None,
            ..budget
        };
        for _ in 0..50 {
            failures.begin_at(a, &none, later).unwrap().failed();
        }
        assert!(!failures.exhausted_at(a, &none, later));
    }

    #[test]
    fn checks_in_flight_count_until_they_end() {
        // Concurrent guesses cannot overshoot: each running check holds a unit of the budget.
        let failures = AuthFailures::new();
        let budget = AuthBudget {
            failures: Some(3),
            window: Duration::from_secs(60),
        };
        let a = ip("2001:db8::1");
        let running: Vec<_> = (0..3)
            .map(|_| failures.begin(a, &budget).unwrap())
            .collect();
        assert!(
            failures.begin(ip("2001:db8::2"), &budget).is_none(),
            "same /64"
        );
        assert!(failures.exhausted(a, &budget));
        let mut running = running.into_iter();
        drop(running.next()); // succeeded
        running.next().unwrap().failed();
        let again = failures.begin(a, &budget).unwrap();
        assert!(failures.begin(a, &budget).is_none());
        drop(again);
        drop(running);
        assert!(failures.begin(a, &budget).is_some());
    }

    #[test]
    fn failure_table_is_bounded() {
        let failures = Arc::new(AuthFailures {
            entries: Mutex::new(HashMap::new()),
            max_entries: 100,
        });
        let budget = AuthBudget::default();
        for i in 0..1000u32 {
            failures
                .begin(IpAddr::from(i.to_be_bytes()), &budget)
                .unwrap()
                .failed();
        }
        assert!(failures.entries.lock().unwrap().len() <= 100);
    }

    #[test]
    fn backlog_from_configuration() {
        let cap = somaxconn().unwrap_or(4096);
        assert_eq!(listen_backlog(10), 128.min(cap));
        assert_eq!(listen_backlog(1000), 1000.min(cap));
        assert_eq!(listen_backlog(usize::MAX), cap);
    }
}
