//! Failed sign-ins, in memory: a login is locked only for the address that failed on it,
//! an address is locked after failing on many logins, and a login that keeps failing is
//! slowed (a growing, capped delay) for everyone rather than refused.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a failed attempt counts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts allowed per (login, client address) within the window; the next one
/// from that address gets 429.
pub const MAX_FAILURES_PER_LOGIN: usize = 5;
/// Failed attempts allowed per client address, on any logins, within the window.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// The delay before checking a password doubles with each failure of the login (from any
/// address) past [`MAX_FAILURES_PER_LOGIN`], up to this many steps.
const MAX_DELAY_STEPS: u32 = 5;
/// The first delay by default: 250 ms, doubling to at most 8 s.
pub const DEFAULT_DELAY_STEP: Duration = Duration::from_millis(250);
/// Keys (logins, addresses, pairs) remembered at most; past this the oldest are forgotten.
const MAX_TRACKED: usize = 100_000;

/// Recent failures per key, oldest first.
struct Failures<K> {
    by_key: HashMap<K, VecDeque<Instant>>,
}

impl<K: Eq + Hash + Clone> Failures<K> {
    fn new() -> Self {
        Failures {
            by_key: HashMap::new(),
        }
    }

    /// The failures of `key` still in the window (forgetting the older ones).
    fn recent(&mut self, key: &K, now: Instant) -> usize {
        let Some(q) = self.by_key.get_mut(key) else {
            return 0;
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            q.pop_front();
        }
        if q.is_empty() {
            self.by_key.remove(key);
            return 0;
        }
        q.len()
    }

    /// Seconds until `key` may try again when it reached `limit`, or `None`.
    fn blocked_for(&mut self, key: &K, limit: usize, now: Instant) -> Option<u64> {
        let n = self.recent(key, now);
        if n < limit {
            return None;
        }
        // A slot frees when the failure that keeps the count at the limit ages out.
        let q = &self.by_key[key];
        let frees_at = q[n - limit] + FAILURE_WINDOW;
        let secs = frees_at.saturating_duration_since(now).as_secs_f64().ceil() as u64;
        Some(secs.max(1))
    }

    fn add(&mut self, key: &K, at: Instant) {
        if !self.by_key.contains_key(key) && self.by_key.len() >= MAX_TRACKED {
            self.evict(at);
        }
        self.by_key.entry(key.clone()).or_default().push_back(at);
    }

    /// Forgets expired keys; if none expired, the key whose last failure is the oldest.
    fn evict(&mut self, now: Instant) {
        self.by_key.retain(|_, q| {
            q.back()
                .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
        });
        if self.by_key.len() >= MAX_TRACKED {
            let oldest = self
                .by_key
                .iter()
                .min_by_key(|(_, q)| q.back().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.by_key.remove(&k);
            }
        }
    }

    fn remove_one(&mut self, key: &K, at: Instant) {
        if let Some(q) = self.by_key.get_mut(key) {
            if let Some(i) = q.iter().position(|t| *t == at) {
                q.remove(i);
            }
            if q.is_empty() {
                self.by_key.remove(key);
            }
        }
    }
}

struct LimiterState {
    pairs: Failures<(String, IpAddr)>,
    addresses: Failures<IpAddr>,
    logins: Failures<String>,
}

/// Failed sign-ins of the last 15 minutes. In memory: each server process counts its own
/// (several processes behind a balancer each allow as many attempts).
#[derive(Clone)]
pub struct LoginLimiter {
    state: Arc<Mutex<LimiterState>>,
    delay_step: Duration,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(DEFAULT_DELAY_STEP)
    }
}

/// One attempt in progress. It counts as a failure from the start, so concurrent
/// attempts cannot exceed the limits; a dropped attempt stays a failure.
pub(crate) struct Attempt {
    limiter: LoginLimiter,
    login: String,
    address: IpAddr,
    at: Instant,
    /// How long to wait before checking the password.
    pub delay: Duration,
}

impl LoginLimiter {
    /// A limiter whose first delay is `delay_step` (tests use a short one).
    pub fn new(delay_step: Duration) -> LoginLimiter {
        LoginLimiter {
            state: Arc::new(Mutex::new(LimiterState {
                pairs: Failures::new(),
                addresses: Failures::new(),
                logins: Failures::new(),
            })),
            delay_step,
        }
    }

    /// Starts an attempt, or gives the seconds to wait when this address is locked out of
    /// this login or out of every login.
    pub(crate) fn begin(&self, login: &str, address: Option<IpAddr>) -> Result<Attempt, u64> {
        let now = Instant::now();
        let address = address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let pair = (login.to_string(), address);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pair_wait = s.pairs.blocked_for(&pair, MAX_FAILURES_PER_LOGIN, now);
        let address_wait = s
            .addresses
            .blocked_for(&address, MAX_FAILURES_PER_ADDRESS, now);
        if let Some(wait) = pair_wait.into_iter().chain(address_wait).max() {
            return Err(wait);
        }
        let login_failures = s.logins.recent(&pair.0, now);
        s.pairs.add(&pair, now);
        s.addresses.add(&address, now);
        s.logins.add(&pair.0, now);
        Ok(Attempt {
            limiter: self.clone(),
            login: pair.0,
            address,
            at: now,
            delay: self.delay(login_failures),
        })
    }

    /// No delay below [`MAX_FAILURES_PER_LOGIN`] failures of the login; then one step,
    /// doubling with each further failure, capped at 2^[`MAX_DELAY_STEPS`] steps.
    fn delay(&self, login_failures: usize) -> Duration {
        let Some(past) = login_failures.checked_sub(MAX_FAILURES_PER_LOGIN) else {
            return Duration::ZERO;
        };
        let doublings = u32::try_from(past).unwrap_or(u32::MAX).min(MAX_DELAY_STEPS);
        self.delay_step * (1u32 << doublings)
    }
}

impl Attempt {
    /// The password was right: this address's failures on the login, and the login's
    /// slowdown, are forgiven; the address keeps the failures it made on other logins.
    pub(crate) fn succeeded(self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.pairs.by_key.remove(&(self.login.clone(), self.address));
        s.logins.by_key.remove(&self.login);
        s.addresses.remove_one(&self.address, self.at);
    }

    /// The attempt could not be judged (the database failed): it does not count.
    pub(crate) fn cancel(self) {
        let mut s = self.limiter.state.lock().unwrap_or_else(|p| p.into_inner());
        s.pairs
            .remove_one(&(self.login.clone(), self.address), self.at);
        s.logins.remove_one(&self.login, self.at);
        s.addresses.remove_one(&self.address, self.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_login_is_locked_only_for_the_address_that_failed_and_slowed_elsewhere() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_LOGIN {
            let a = limiter
                .begin("admin@shop-1", ip("192.0.2.1"))
                .expect("allowed");
            assert_eq!(a.delay, Duration::ZERO);
        }
        let wait = limiter
            .begin("admin@shop-1", ip("192.0.2.1"))
            .err()
            .expect("locked");
        assert!((890..=900).contains(&wait), "{wait}");
        let other = limiter
            .begin("admin@shop-1", ip("198.51.100.1"))
            .expect("another address");
        assert_eq!(other.delay, DEFAULT_DELAY_STEP);
        assert!(
            limiter.begin("admin@shop-2", ip("192.0.2.1")).is_ok(),
            "other logins"
        );
    }

    #[test]
    fn the_delay_doubles_and_is_capped() {
        let limiter = LoginLimiter::new(Duration::from_millis(10));
        let mut delays = Vec::new();
        for i in 0..20 {
            let a = limiter
                .begin("boss", ip(&format!("192.0.2.{i}")))
                .expect("allowed");
            delays.push(a.delay.as_millis());
        }
        assert_eq!(&delays[..5], [0, 0, 0, 0, 0]);
        assert_eq!(&delays[5..12], [10, 20, 40, 80, 160, 320, 320]);
        assert_eq!(delays[19], 320);
    }

    #[test]
    fn an_address_is_limited_across_logins_and_a_success_forgives_the_login() {
        let limiter = LoginLimiter::default();
        for i in 0..MAX_FAILURES_PER_ADDRESS {
            limiter
                .begin(&format!("user{i}"), ip("192.0.2.7"))
                .expect("allowed");
        }
        assert!(limiter.begin("someone", ip("192.0.2.7")).is_err());
        assert!(
            limiter.begin("someone", ip("192.0.2.8")).is_ok(),
            "other addresses"
        );

        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES_PER_LOGIN - 1 {
            limiter.begin("boss", None).expect("allowed");
        }
        limiter.begin("boss", None).expect("allowed").succeeded();
        for _ in 0..MAX_FAILURES_PER_LOGIN {
            let a = limiter.begin("boss", None).expect("forgiven");
            assert_eq!(a.delay, Duration::ZERO);
        }
        assert!(limiter.begin("boss", None).is_err());
    }

    #[test]
    fn a_cancelled_attempt_does_not_count() {
        let limiter = LoginLimiter::default();
        for _ in 0..10 {
            limiter.begin("boss", None).expect("allowed").cancel();
        }
        let a = limiter.begin("boss", None).expect("allowed");
        assert_eq!(a.delay, Duration::ZERO);
    }
}
