//! The plain-data description of a limiter, [`RateLimitPolicy`], checked and compiled once by
//! [`RateLimitPolicy::build`] into the [`RateLimiter`] guard.

use std::fmt;
use std::sync::Arc;

use guard_core::{BreakerConfig, BreakerConfigError, Clock, GuardRequest, TrustedProxies};
use serde::Deserialize;

use crate::algorithm::{Algorithm, Limits};
use crate::guard::{Backend, CostFn, Parts, RateLimiter};
use crate::headers::RateLimitHeaders;
use crate::key::{Key, MissingKey};
use crate::quota::{Quota, QuotaPolicy};
use crate::store::{MemoryStore, OnStoreFailure, Store};
#[cfg(feature = "redis")]
use crate::{block_cache::BlockCache, guard::Shared, store::RedisStore};
#[cfg(feature = "redis")]
use guard_core::{MonotonicClock, StoreBreakers};

/// How to limit one group of routes: plain data, from code or from a configuration file, turned
/// into a [`RateLimiter`] guard by [`build`](Self::build).
///
/// ```
/// use guard_ratelimit::{Algorithm, Key, MemoryStore, OnStoreFailure, RateLimitPolicy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limiter = RateLimitPolicy::new("auth")
///     .quota("burst", "10/1s".parse()?)
///     .quota("daily", "1000/1d".parse()?)
///     .key(Key::client_ip())
///     .on_store_failure(OnStoreFailure::FailClosed)
///     .build(MemoryStore::default())?;
/// # let _ = limiter;
///
/// let policy: RateLimitPolicy = serde_json::from_str(r#"{
///     "prefix": "api",
///     "algorithm": "sliding-window",
///     "quotas": [{"name": "minute", "quota": "100/60s"}],
///     "key": {"client-ip": {"ipv6-prefix": 56}},
///     "trusted_proxies": {"networks": ["10.0.0.0/8"]},
///     "on_store_failure": {"local": {"instances": 3}},
///     "legacy_headers": true
/// }"#)?;
/// assert_eq!(policy.algorithm, Algorithm::SlidingWindow);
/// let limiter = policy.build(MemoryStore::default())?;
/// # let _ = limiter;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitPolicy {
    /// Starts every store key of this limiter; must differ between limiters sharing a store.
    /// 1 to 64 ASCII letters, digits, `-`, `_`, `.` or `:` (default `rl`).
    pub prefix: String,
    /// How requests are counted (default GCRA).
    pub algorithm: Algorithm,
    /// The named quotas, all decided together; at least one.
    pub quotas: Vec<QuotaPolicy>,
    /// Whom to count (default: the client IP, IPv6 grouped by /64).
    pub key: Key,
    /// Which proxies' forwarding headers to believe for [`Key::client_ip`] (default none).
    pub trusted_proxies: TrustedProxies,
    /// A request without a key: refuse (default: a 500 for a misconfiguration, a 403 for a key
    /// the client did not send) or skip.
    pub missing_key: MissingKey,
    /// What each request costs (default 1); see also [`cost_fn`](Self::cost_fn).
    pub cost: u32,
    /// What to do while a shared store is down (default: local limits, one instance).
    pub on_store_failure: OnStoreFailure,
    /// The deadline and circuit breakers around each shared-store call, one breaker per Redis
    /// node (default: [`BreakerConfig::default`], a 250 ms deadline and a breaker that opens on a
    /// failure rate or an unreachable store, never on one slow call). A call that fails while
    /// the store is judged healthy is retried once with the same request id (counted once), then
    /// decided by the local limiter; [`on_store_failure`](Self::on_store_failure) applies only
    /// while the breaker judges the store down.
    pub breaker: BreakerConfig,
    /// How many refused keys the block cache remembers (default 10 000; 0 turns it off): a key
    /// that the shared store refused until `T` is refused locally until `T`, without a round
    /// trip. Memory stores need no such cache.
    pub block_cache_keys: usize,
    /// Keys of the local fallback's memory store (default 100 000).
    pub fallback_max_keys: usize,
    /// Also send `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix
    /// time in seconds) for the most constrained policy (default off).
    pub legacy_headers: bool,
    #[serde(skip)]
    pub(crate) cost_fn: Option<CostFn>,
    /// Read by a shared store's block cache and local fallback only.
    #[serde(skip)]
    pub(crate) clock: Option<ClockHandle>,
}

/// The clock of the block cache and the local fallback.
#[derive(Clone)]
pub(crate) struct ClockHandle(pub(crate) Arc<dyn Clock>);

impl fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            prefix: "rl".into(),
            algorithm: Algorithm::default(),
            quotas: Vec::new(),
            key: Key::default(),
            trusted_proxies: TrustedProxies::none(),
            missing_key: MissingKey::default(),
            cost: 1,
            on_store_failure: OnStoreFailure::default(),
            breaker: BreakerConfig::default(),
            block_cache_keys: 10_000,
            fallback_max_keys: MemoryStore::DEFAULT_MAX_KEYS,
            legacy_headers: false,
            cost_fn: None,
            clock: None,
        }
    }
}

/// A limiter that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// No quota was given.
    #[error("a rate limiter needs at least one quota")]
    NoQuotas,
    /// A policy name is empty, too long or has characters headers and keys cannot carry.
    #[error("policy name `{0}` must be 1 to 32 ASCII letters, digits, `-`, `_` or `.`")]
    InvalidPolicyName(String),
    /// Two policies share a name.
    #[error("policy name `{0}` is used twice")]
    DuplicatePolicyName(String),
    /// The prefix is empty, too long or has characters keys cannot carry.
    #[error("prefix `{0}` must be 1 to 64 ASCII letters, digits, `-`, `_`, `.` or `:`")]
    InvalidPrefix(String),
    /// The fixed cost is 0 or above a quota's limit (no request could ever pass).
    #[error(
        "a request's cost ({cost}) must be at least 1 and at most the smallest limit ({limit})"
    )]
    InvalidCost {
        /// The cost.
        cost: u32,
        /// The smallest limit.
        limit: u64,
    },
    /// The breaker configuration cannot work.
    #[error("breaker: {0}")]
    Breaker(#[from] BreakerConfigError),
    /// The IPv6 grouping prefix is longer than 128 bits.
    #[error("the IPv6 prefix of the client-IP key must be at most 128 bits, not {0}")]
    InvalidIpv6Prefix(u8),
}

/// Builder methods that each set the field of their name: `field(value)` sets `self.field`.
macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
}

impl RateLimitPolicy {
    /// The defaults under `prefix`; add quotas with [`quota`](Self::quota).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), ..Self::default() }
    }

    /// Adds the named quota `name`.
    pub fn quota(mut self, name: impl Into<String>, quota: Quota) -> Self {
        self.quotas.push(QuotaPolicy::new(name, quota));
        self
    }

    /// Sets whom to count.
    pub fn key(mut self, key: impl Into<Key>) -> Self {
        self.key = key.into();
        self
    }

    /// Computes each request's cost from its head (an export costs 10, a read 1). A cost above
    /// a quota's limit is refused, with `Retry-After` of one window; a cost of 0 is admitted
    /// without counting.
    pub fn cost_fn(
        mut self,
        cost: impl for<'a, 'r> Fn(&'a GuardRequest<'r>) -> u32 + Send + Sync + 'static,
    ) -> Self {
        self.cost_fn = Some(CostFn(Arc::new(cost)));
        self
    }

    /// The clock of the block cache and of the local fallback (a
    /// [`FakeClock`](crate::FakeClock) in tests; the default is monotonic).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(ClockHandle(Arc::new(clock)));
        self
    }

    setters! {
        /// Sets the algorithm.
        algorithm: Algorithm;
        /// Sets the proxies whose forwarding headers are believed.
        trusted_proxies: TrustedProxies;
        /// Sets what happens to requests without a key.
        missing_key: MissingKey;
        /// Sets a fixed cost per request.
        cost: u32;
        /// Sets the failure policy.
        on_store_failure: OnStoreFailure;
        /// Sets the deadline and breaker around shared-store calls.
        breaker: BreakerConfig;
        /// Sets the size of the block cache (0 turns it off).
        block_cache_keys: usize;
        /// Also sends the legacy `X-RateLimit-*` headers.
        legacy_headers: bool;
    }

    /// Checks the policy and compiles it into a guard on `store`.
    pub fn build(&self, store: impl Into<Store>) -> Result<RateLimiter, RateLimitError> {
        self.validate()?;
        Ok(self.compile(store.into()))
    }

    /// Compiles a checked policy: the limits, the headers encoded once, and the store.
    fn compile(&self, store: Store) -> RateLimiter {
        let backend = match store {
            Store::Memory(memory) => Backend::Memory(memory),
            #[cfg(feature = "redis")]
            Store::Redis(store) => Backend::Shared(Box::new(self.compile_shared(store))),
        };
        RateLimiter::new(Parts {
            prefix: self.prefix.clone(),
            algorithm: self.algorithm,
            limits: self.quotas.iter().map(|p| Limits::from(p.quota)).collect(),
            headers: RateLimitHeaders::new(self.quotas.clone(), self.legacy_headers),
            key: self.key.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            missing_key: self.missing_key,
            cost: self.cost,
            cost_fn: self.cost_fn.clone(),
            backend,
        })
    }

    /// Compiles the shared `store` with its breakers, its local fallback and its block cache.
    #[cfg(feature = "redis")]
    fn compile_shared(&self, store: RedisStore) -> Shared {
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(handle) => handle.0.clone(),
            None => Arc::new(MonotonicClock::new()),
        };
        let instances = match self.on_store_failure {
            OnStoreFailure::Local { instances } => instances.get(),
            OnStoreFailure::FailOpen | OnStoreFailure::FailClosed => 1,
        };
        Shared {
            store,
            suffixes: RedisStore::key_suffixes(self.algorithm, &self.quotas),
            breakers: StoreBreakers::new(format!("rate limit `{}`", self.prefix), self.breaker),
            on_failure: self.on_store_failure,
            local: MemoryStore::with_clock(self.fallback_max_keys, clock.clone()),
            local_limits: self
                .quotas
                .iter()
                .map(|p| Limits::from(p.quota.divided(instances)))
                .collect(),
            blocks: (self.block_cache_keys > 0)
                .then(|| BlockCache::new(self.block_cache_keys, clock)),
        }
    }

    fn validate(&self) -> Result<(), RateLimitError> {
        let prefix_ok = (1..=64).contains(&self.prefix.len())
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !prefix_ok {
            return Err(RateLimitError::InvalidPrefix(self.prefix.clone()));
        }
        if self.quotas.is_empty() {
            return Err(RateLimitError::NoQuotas);
        }
        for (i, policy) in self.quotas.iter().enumerate() {
            if !QuotaPolicy::name_is_valid(&policy.name) {
                return Err(RateLimitError::InvalidPolicyName(policy.name.clone()));
            }
            if self.quotas[..i].iter().any(|p| p.name == policy.name) {
                return Err(RateLimitError::DuplicatePolicyName(policy.name.clone()));
            }
        }
        let smallest = self.quotas.iter().map(|p| p.quota.limit()).min().unwrap_or(1);
        if self.cost == 0 || u64::from(self.cost) > smallest {
            return Err(RateLimitError::InvalidCost { cost: self.cost, limit: smallest });
        }
        if let Some(bits) = self.key.ipv6_prefix().filter(|b| *b > 128) {
            return Err(RateLimitError::InvalidIpv6Prefix(bits));
        }
        self.breaker.check()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RateLimitPolicy {
        RateLimitPolicy::new("t").quota("a", "5/1s".parse().unwrap())
    }

    fn err(policy: RateLimitPolicy) -> RateLimitError {
        policy.build(MemoryStore::new(10)).unwrap_err()
    }

    #[test]
    fn mistakes_are_typed_errors() {
        assert_eq!(err(RateLimitPolicy::new("t")), RateLimitError::NoQuotas);
        assert_eq!(
            err(base().quota("a", "1/1s".parse().unwrap())),
            RateLimitError::DuplicatePolicyName("a".into())
        );
        assert_eq!(
            err(base().quota("b c", "1/1s".parse().unwrap())),
            RateLimitError::InvalidPolicyName("b c".into())
        );
        for prefix in ["", "a{b}", "a b", &"p".repeat(65)] {
            let mut c = base();
            c.prefix = prefix.into();
            assert_eq!(err(c), RateLimitError::InvalidPrefix(prefix.into()));
        }
        assert_eq!(err(base().cost(6)), RateLimitError::InvalidCost { cost: 6, limit: 5 });
        assert_eq!(err(base().cost(0)), RateLimitError::InvalidCost { cost: 0, limit: 5 });
        assert_eq!(
            err(base().key(Key::client_ip_grouped(129))),
            RateLimitError::InvalidIpv6Prefix(129)
        );
        let mut c = base();
        c.breaker.minimum_calls = 0;
        assert_eq!(err(c), RateLimitError::Breaker(BreakerConfigError::Zero("minimum_calls")));
        assert!(
            base().cost(5).key(Key::client_ip_grouped(128)).build(MemoryStore::new(10)).is_ok()
        );
    }

    #[test]
    fn configuration_files_deserialize_with_defaults() {
        let c: RateLimitPolicy =
            serde_json::from_str(r#"{"quotas": [{"name": "auth", "quota": "10/60s"}]}"#).unwrap();
        assert_eq!(c.prefix, "rl");
        assert_eq!(c.algorithm, Algorithm::Gcra);
        assert_eq!(c.on_store_failure, OnStoreFailure::local(1));
        assert_eq!(c.missing_key, MissingKey::Refuse);
        assert_eq!(c.cost, 1);
        assert_eq!(c.block_cache_keys, 10_000);
        assert!(!c.legacy_headers);
        let c: RateLimitPolicy = serde_json::from_str(
            r#"{"quotas": [], "on_store_failure": "fail-closed", "missing_key": "refuse",
                "algorithm": "fixed-window", "breaker": {"deadline": 50}}"#,
        )
        .unwrap();
        assert_eq!(c.on_store_failure, OnStoreFailure::FailClosed);
        assert_eq!(c.breaker.deadline, std::time::Duration::from_millis(50));
        assert_eq!(c.algorithm, Algorithm::FixedWindow);
        assert!(serde_json::from_str::<RateLimitPolicy>(r#"{"quota": []}"#).is_err());
        let local: OnStoreFailure = serde_json::from_str(r#"{"local": {"instances": 4}}"#).unwrap();
        assert_eq!(local, OnStoreFailure::local(4));
        assert!(serde_json::from_str::<OnStoreFailure>(r#"{"local": {"instances": 0}}"#).is_err());
        assert_eq!(OnStoreFailure::local(0), OnStoreFailure::local(1));
    }
}
