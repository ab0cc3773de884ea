//! Rate limits on the routes where guessing pays: login, signup, password reset, invitation
//! acceptance. Each is limited per client address ([`ClientAddr`]) AND per account (the email
//! being logged into, signed up or reset; for a token-only request, the token). A refused
//! request answers 429 `rate_limited` with `Retry-After` and costs nothing: the check comes
//! before any database lookup or argon2 hash, so a flood neither guesses nor starves real
//! logins of hashing time.
//!
//! And on a tenant route whose every call costs the shared database: `POST /v1/chatbot/ask`
//! (a full-text search, up to about half a second of a database core), limited per
//! organization ([`OrgThrottle`]), so that one organization's calls never spend another's
//! budget. Its check comes after the credential's (the transaction's first statement: the
//! organization is the one the database verified) and before the search.
//!
//! Wiring a new route (one line, after its body is parsed, before any lookup or hashing):
//! ```text
//! pub async fn accept(state: web::Data<AppState>, client: ClientAddr, body: crate::extract::Json<B>) -> .. {
//!     // ... parse the body ...
//!     state.throttles.invitation.check(&client, Some(token))?;
//! ```
//!
//! The limiter is [`governor`]'s GCRA (a leaky bucket without a timer), driven by the
//! application's clock ([`palisade_domain::Clock`]) so tests move time instead of sleeping.
//! State is per server instance (in memory); N instances allow up to N times the limits.
//!
//! Memory is bounded: account keys are SHA-256 digests (32 bytes whatever the input), IPv6
//! addresses are keyed by their /64, and each limiter forgets keys whose bucket has refilled
//! ([`governor::RateLimiter::retain_recent`]) at least once a minute of clock time (checked on
//! each request, no timer task). A key is remembered until its bucket has refilled and one more
//! interval has passed (plus up to that minute), and never more than `max_keys` keys at once
//! (default 100 000, a few MiB per limiter): a limiter
//! that is full even after forgetting refilled keys refuses every request of its kind (429)
//! until its keys age out, and says so in a warning, rather than grow.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use palisade_domain::{OrgId, SharedClock};
use sha2::{Digest, Sha256};

use crate::ApiError;
use crate::client_addr::ClientAddr;

/// [`governor`]'s clock over the application's: nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
pub struct GovernorClock(pub SharedClock);

impl governor::clock::Clock for GovernorClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let since_epoch = (self.0.now() - time::OffsetDateTime::UNIX_EPOCH).whole_nanoseconds();
        Nanos::new(u64::try_from(since_epoch.max(0)).unwrap_or(u64::MAX))
    }
}

/// A rate: `count` attempts per `period`, up to `burst` in a row. GCRA semantics: after the
/// burst is spent, one attempt is allowed every `period / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    count: NonZeroU32,
    period: Duration,
    burst: NonZeroU32,
}

impl Limit {
    /// Most attempts per period a limit may name (so `period / count` stays above a microsecond).
    pub const MAX_COUNT: u32 = 1_000_000;

    /// `count` per `period`, `burst` in a row; `None` for a zero, a period under a second or
    /// above a day, or a count above [`Limit::MAX_COUNT`].
    pub fn new(count: u32, period: Duration, burst: u32) -> Option<Self> {
        let ok_period = period >= Duration::from_secs(1) && period <= Duration::from_secs(86_400);
        if !ok_period || count > Self::MAX_COUNT || burst > Self::MAX_COUNT {
            return None;
        }
        Some(Self {
            count: NonZeroU32::new(count)?,
            period,
            burst: NonZeroU32::new(burst)?,
        })
    }

    /// Parses `N/UNIT` (a burst of N) or `N/UNIT,burst=B`; UNIT is `s`, `min` or `h`.
    /// Examples: `10/min`, `30/min,burst=10`, `5/h`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const HELP: &str = "a limit is N/s, N/min or N/h, optionally followed by ,burst=B \
                            (e.g. 10/min or 30/min,burst=10), with 1 <= N, B <= 1000000";
        let (rate, burst) = match s.split_once(',') {
            None => (s, None),
            Some((rate, extra)) => {
                let b = extra.trim().strip_prefix("burst=").ok_or(HELP)?;
                (rate, Some(b.trim().parse::<u32>().map_err(|_| HELP)?))
            }
        };
        let (count, unit) = rate.trim().split_once('/').ok_or(HELP)?;
        let count = count.trim().parse::<u32>().map_err(|_| HELP)?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(HELP),
        };
        Self::new(count, period, burst.unwrap_or(count)).ok_or(HELP)
    }

    fn quota(&self) -> Quota {
        let interval = self.period / self.count.get();
        Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.burst)
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s".to_owned(),
            60 => "min".to_owned(),
            3600 => "h".to_owned(),
            n => format!("{n}s"),
        };
        write!(f, "{}/{unit},burst={}", self.count, self.burst)
    }
}

/// The two limits of one throttled action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionLimits {
    /// Per client address (IPv6: per /64).
    pub per_address: Limit,
    /// Per account (the email, or the token of a token-only request).
    pub per_account: Limit,
}

/// Every limit, as configured (see `docs/security.md` for the defaults and variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// `POST /v1/auth/login`.
    pub login: ActionLimits,
    /// `POST /v1/auth/signup`.
    pub signup: ActionLimits,
    /// Password reset: the request and the confirmation share these.
    pub password_reset: ActionLimits,
    /// Accepting an invitation.
    pub invitation: ActionLimits,
    /// `POST /v1/chatbot/ask`, per organization.
    pub chatbot_ask: Limit,
    /// Most keys one limiter remembers at once.
    pub max_keys: usize,
}

fn limit(count: u32, period_secs: u64, burst: u32) -> Limit {
    // The arguments below are constants within Limit::new's bounds; the fallback is unreachable.
    Limit::new(count, Duration::from_secs(period_secs), burst).unwrap_or(Limit {
        count: NonZeroU32::MIN,
        period: Duration::from_secs(period_secs.max(1)),
        burst: NonZeroU32::MIN,
    })
}

impl Default for RateLimits {
    /// The documented defaults.
    fn default() -> Self {
        Self {
            login: ActionLimits {
                per_address: limit(30, 60, 30),
                per_account: limit(10, 60, 10),
            },
            signup: ActionLimits {
                per_address: limit(10, 3600, 10),
                per_account: limit(5, 3600, 5),
            },
            password_reset: ActionLimits {
                per_address: limit(30, 3600, 30),
                per_account: limit(5, 3600, 5),
            },
            invitation: ActionLimits {
                per_address: limit(30, 3600, 30),
                per_account: limit(10, 3600, 10),
            },
            chatbot_ask: limit(30, 60, 30),
            max_keys: 100_000,
        }
    }
}

impl RateLimits {
    /// Limits no test reaches by accident (a million a second): the test harness's default.
    pub fn generous() -> Self {
        let high = ActionLimits {
            per_address: limit(Limit::MAX_COUNT, 1, Limit::MAX_COUNT),
            per_account: limit(Limit::MAX_COUNT, 1, Limit::MAX_COUNT),
        };
        Self {
            login: high,
            signup: high,
            password_reset: high,
            invitation: high,
            chatbot_ask: high.per_account,
            max_keys: 100_000,
        }
    }
}

type Keyed<K> = RateLimiter<K, HashMapStateStore<K>, GovernorClock, NoOpMiddleware<Nanos>>;

/// One keyed limiter with its memory bound (see the module doc).
struct Bounded<K: Hash + Eq + Clone> {
    limiter: Keyed<K>,
    clock: GovernorClock,
    max_keys: usize,
    /// Clock time (ns since the epoch) of the last forgetting of refilled keys.
    last_cleanup: AtomicU64,
}

/// How often refilled keys are forgotten, at least.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);
/// How often a full limiter may try to make room (each try is a scan under its lock).
const FULL_RETRY: Duration = Duration::from_secs(1);

impl<K: Hash + Eq + Clone> Bounded<K> {
    fn new(limit: Limit, clock: GovernorClock, max_keys: usize) -> Self {
        let now = clock.now().as_u64();
        Self {
            limiter: RateLimiter::hashmap_with_clock(limit.quota(), clock.clone()),
            clock,
            max_keys: max_keys.max(1),
            last_cleanup: AtomicU64::new(now),
        }
    }

    /// Forgets refilled keys when `every` has passed since the last time (one caller wins).
    fn cleanup_if_due(&self, now: u64, every: Duration) {
        let last = self.last_cleanup.load(Ordering::Relaxed);
        let every = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX);
        if now.saturating_sub(last) >= every
            && self
                .last_cleanup
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }

    /// Admits one attempt for `key`, or says how long to wait.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let now = self.clock.now();
        self.cleanup_if_due(now.as_u64(), CLEANUP_EVERY);
        if self.limiter.len() >= self.max_keys {
            self.cleanup_if_due(now.as_u64(), FULL_RETRY);
            if self.limiter.len() >= self.max_keys {
                tracing::warn!(
                    max_keys = self.max_keys,
                    "rate limiter full: refusing new attempts until its keys age out"
                );
                return Err(FULL_RETRY);
            }
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The limits of one action, per address and per account.
pub struct Throttle {
    action: &'static str,
    per_address: Bounded<std::net::IpAddr>,
    per_account: Bounded<[u8; 32]>,
}

impl Throttle {
    fn new(action: &'static str, limits: ActionLimits, clock: &GovernorClock, max: usize) -> Self {
        Self {
            action,
            per_address: Bounded::new(limits.per_address, clock.clone(), max),
            per_account: Bounded::new(limits.per_account, clock.clone(), max),
        }
    }

    /// Admits one attempt from `client` at `account` (case and surrounding blanks ignored), or
    /// answers 429 `rate_limited` with `Retry-After`. The address is checked first; an attempt
    /// refused there does not count against the account.
    pub fn check(&self, client: &ClientAddr, account: Option<&str>) -> Result<(), ApiError> {
        let refused = |scope: &'static str, wait: Duration| {
            tracing::warn!(
                action = self.action,
                scope,
                client.address = %client,
                retry_after_ms = wait.as_millis() as u64,
                "attempt throttled"
            );
            ApiError::rate_limited(wait)
        };
        self.per_address
            .check(&client.limit_key())
            .map_err(|w| refused("address", w))?;
        if let Some(account) = account {
            self.per_account
                .check(&account_key(account))
                .map_err(|w| refused("account", w))?;
        }
        Ok(())
    }
}

/// One limit per organization, for a tenant route whose calls cost the shared database.
pub struct OrgThrottle {
    action: &'static str,
    per_organization: Bounded<OrgId>,
}

impl OrgThrottle {
    fn new(action: &'static str, limit: Limit, clock: &GovernorClock, max: usize) -> Self {
        Self {
            action,
            per_organization: Bounded::new(limit, clock.clone(), max),
        }
    }

    /// Admits one call of `org` (an organization the credential's check found, never one a
    /// client named), or answers 429 `rate_limited` with `Retry-After`.
    pub fn check(&self, org: OrgId) -> Result<(), ApiError> {
        self.per_organization.check(&org).map_err(|wait| {
            tracing::warn!(
                action = self.action,
                scope = "organization",
                org.id = %org,
                retry_after_ms = wait.as_millis() as u64,
                "call throttled"
            );
            ApiError::rate_limited(wait)
        })
    }
}

fn account_key(account: &str) -> [u8; 32] {
    Sha256::digest(account.trim().to_lowercase().as_bytes()).into()
}

/// Every throttled action's limiter. Shared by the handlers through [`crate::AppState`].
pub struct Throttles {
    /// `POST /v1/auth/login`.
    pub login: Throttle,
    /// `POST /v1/auth/signup`.
    pub signup: Throttle,
    /// Password reset, request and confirmation.
    pub password_reset: Throttle,
    /// Invitation acceptance.
    pub invitation: Throttle,
    /// `POST /v1/chatbot/ask`, per organization.
    pub chatbot_ask: OrgThrottle,
}

impl Throttles {
    /// Limiters for `limits`, on `clock`.
    pub fn new(limits: &RateLimits, clock: SharedClock) -> Self {
        let clock = GovernorClock(clock);
        let max = limits.max_keys;
        Self {
            login: Throttle::new("login", limits.login, &clock, max),
            signup: Throttle::new("signup", limits.signup, &clock, max),
            password_reset: Throttle::new("password_reset", limits.password_reset, &clock, max),
            invitation: Throttle::new("invitation", limits.invitation, &clock, max),
            chatbot_ask: OrgThrottle::new("chatbot_ask", limits.chatbot_ask, &clock, max),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use palisade_domain::ManualClock;
    use std::sync::Arc;

    fn clock() -> (ManualClock, GovernorClock) {
        let manual =
            ManualClock::new(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
        (manual.clone(), GovernorClock(Arc::new(manual)))
    }

    #[test]
    fn limits_parse_and_print() {
        let l = Limit::parse("10/min").unwrap();
        assert_eq!(l, Limit::new(10, Duration::from_secs(60), 10).unwrap());
        assert_eq!(l.to_string(), "10/min,burst=10");
        let l = Limit::parse(" 30/min, burst=5 ").unwrap();
        assert_eq!(l, Limit::new(30, Duration::from_secs(60), 5).unwrap());
        assert_eq!(Limit::parse("5/h").unwrap().to_string(), "5/h,burst=5");
        for bad in [
            "",
            "10",
            "10/day",
            "0/min",
            "10/min,burst=0",
            "10/min,b=3",
            "x/s",
            "2000000/s",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_then_one_per_interval_on_the_injected_clock() {
        let (manual, clock) = clock();
        let b = Bounded::new(Limit::parse("6/min,burst=3").unwrap(), clock, 100);
        for _ in 0..3 {
            assert!(b.check(&1u8).is_ok());
        }
        let wait = b.check(&1u8).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(10),
            "one attempt per 10 s after the burst"
        );
        assert!(b.check(&2u8).is_ok(), "another key has its own bucket");
        manual.advance(time::Duration::seconds(9));
        assert_eq!(b.check(&1u8).unwrap_err(), Duration::from_secs(1));
        manual.advance(time::Duration::seconds(1));
        assert!(b.check(&1u8).is_ok());
        assert!(b.check(&1u8).is_err());
    }

    #[test]
    fn refilled_keys_are_forgotten_and_a_full_limiter_refuses_rather_than_grows() {
        let (manual, clock) = clock();
        let b = Bounded::new(Limit::parse("1/min").unwrap(), clock, 50);
        for k in 0..50u32 {
            assert!(b.check(&k).is_ok());
        }
        assert_eq!(b.len(), 50);
        // Full, and nothing has refilled: a new key is refused, the map does not grow.
        assert_eq!(b.check(&1000).unwrap_err(), FULL_RETRY);
        assert_eq!(b.len(), 50);
        // Every bucket has refilled and one more interval passed: the periodic cleanup forgets
        // them all.
        manual.advance(time::Duration::seconds(121));
        assert!(b.check(&1000).is_ok());
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn the_account_key_ignores_case_and_blanks() {
        assert_eq!(
            account_key(" Ann@Example.com"),
            account_key("ann@example.com")
        );
        assert_ne!(
            account_key("ann@example.com"),
            account_key("bob@example.com")
        );
    }
}
