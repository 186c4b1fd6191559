//! The compiled limiter, [`RateLimiter`]: a [`Guard`] and a plain async API.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use guard_core::observe;
use guard_core::redis::hash_tagged;
use guard_core::{
    BreakerState, Decision, Guard, GuardRequest, GuardResponse, HeaderKey, PreparedHeader, Problem,
    ProblemType, ResponseHead, StoreBreakers, TrustedProxies,
};
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::algorithm::{Algorithm, Evaluation, Limits, PolicyStatus};
use crate::config::{CostFn, OnStoreFailure, RateLimitConfig, Store};
use crate::key::{Key, KeySource, MissingKey};
use crate::memory::{BoundedMap, MemoryStore};
use crate::quota::Quota;
use crate::redis_store::RedisStore;
use guard_core::{Clock, MonotonicClock};

/// The `guard` label of this crate's decisions in logs and metrics ([`observe`]); the `policy`
/// label is the limiter's prefix.
const GUARD: &str = "ratelimit";

/// A rate limiter compiled from a [`RateLimitConfig`]: the guard to put in front of the limited
/// routes, and [`check_key`](Self::check_key) for limiting anything else.
///
/// Cheap to clone; clones share the counters, the breaker and the block cache.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    algorithm: Algorithm,
    policies: Vec<Policy>,
    limits: Vec<Limits>,
    suffixes: Vec<String>,
    key: Key,
    trusted_proxies: TrustedProxies,
    missing_key: MissingKey,
    /// Whether the misconfiguration of a missing server-side key was logged already.
    missing_logged: std::sync::atomic::AtomicBool,
    cost: u32,
    cost_fn: Option<CostFn>,
    legacy_headers: bool,
    headers: Headers,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

struct Policy {
    name: String,
    quota: Quota,
}

struct Headers {
    policy: PreparedHeader,
    ratelimit: HeaderKey,
    legacy_limit: HeaderKey,
    legacy_remaining: HeaderKey,
    legacy_reset: HeaderKey,
}

enum Backend {
    Memory(MemoryStore),
    Shared(Box<Shared>),
}

struct Shared {
    store: RedisStore,
    /// One breaker per Redis node (per master of a Cluster).
    breakers: StoreBreakers,
    on_failure: OnStoreFailure,
    /// The local limiter: decides a request whose store call failed while the store is judged
    /// healthy (a blip), and every request during an outage under [`OnStoreFailure::Local`].
    /// Each quota is divided by the number of instances the policy names (1 otherwise).
    local: MemoryStore,
    local_limits: Vec<Limits>,
    blocks: Option<BoundedMap<Block>>,
}

/// A key the shared store refused: requests of the same cost are refused locally until `until`.
struct Block {
    cost: u64,
    until: u64,
    received: u64,
    policies: Vec<PolicyStatus>,
}

/// Who decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The limiter's store (memory or Redis).
    Store,
    /// The block cache: the shared store had refused this key until later.
    BlockCache,
    /// The local limiter: for one request whose store call failed while the store is judged
    /// healthy, or for every request while it is down under [`OnStoreFailure::Local`].
    LocalFallback,
}

/// The decision over every policy of a limiter for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitOutcome {
    admitted: bool,
    policies: Vec<PolicyStatus>,
    decided_by: DecidedBy,
}

impl RateLimitOutcome {
    /// Whether the request was admitted (and counted against every policy).
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// Each policy's status, in the order of the configuration.
    pub fn policies(&self) -> &[PolicyStatus] {
        &self.policies
    }

    /// Who decided.
    pub fn decided_by(&self) -> DecidedBy {
        self.decided_by
    }

    /// For a refusal: when the request will fit every policy that refused it.
    pub fn retry_after(&self) -> Option<Duration> {
        self.policies.iter().filter_map(PolicyStatus::retry_after).max()
    }

    /// `Retry-After` in whole seconds: the largest `t` of the refusing policies, at least 1.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.policies.iter().filter(|p| p.refused()).map(|p| p.reset_secs().max(1)).max()
    }
}

/// What a limiter decided for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted or refused by the store, the block cache or the local fallback.
    Decided(RateLimitOutcome),
    /// The shared store is down and the policy is [`OnStoreFailure::FailOpen`]: admitted,
    /// uncounted.
    FailedOpen,
    /// The shared store is down and the policy is [`OnStoreFailure::FailClosed`].
    Unavailable {
        /// When to try again (until the breaker's next probe, at least 1 s).
        retry_after: Duration,
    },
}

impl Verdict {
    /// Whether the request may go on.
    pub fn admitted(&self) -> bool {
        match self {
            Verdict::Decided(outcome) => outcome.admitted,
            Verdict::FailedOpen => true,
            Verdict::Unavailable { .. } => false,
        }
    }

    /// The outcome, when the request was counted.
    pub fn outcome(&self) -> Option<&RateLimitOutcome> {
        match self {
            Verdict::Decided(outcome) => Some(outcome),
            _ => None,
        }
    }
}

/// What the limiter's check hands to its response step.
#[derive(Debug, Clone)]
pub struct RateLimitState(StateKind);

#[derive(Debug, Clone)]
enum StateKind {
    /// No key and [`MissingKey::Skip`]: not limited, no headers.
    Unlimited,
    /// Failed open: only `RateLimit-Policy`.
    Uncounted,
    Counted(RateLimitOutcome),
}

impl RateLimitState {
    /// The outcome, when the request was counted.
    pub fn outcome(&self) -> Option<&RateLimitOutcome> {
        match &self.0 {
            StateKind::Counted(outcome) => Some(outcome),
            _ => None,
        }
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("RateLimiter")
            .field("prefix", &i.prefix)
            .field("algorithm", &i.algorithm)
            .field("policy", i.headers.policy.value())
            .field("key", &i.key)
            .field(
                "store",
                &match &i.backend {
                    Backend::Memory(_) => "memory",
                    Backend::Shared(_) => "redis",
                },
            )
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub(crate) fn compile(config: &RateLimitConfig, store: Store) -> Self {
        let alg = config.algorithm;
        let policies: Vec<Policy> =
            config.quotas.iter().map(|p| Policy { name: p.name.clone(), quota: p.quota }).collect();
        let limits: Vec<Limits> = policies.iter().map(|p| Limits::from(p.quota)).collect();
        let suffixes = policies
            .iter()
            .map(|p| {
                format!(":{}:{}:{}:{}", p.name, alg.code(), p.quota.limit(), p.quota.window_ms())
            })
            .collect();
        let policy_value = policies
            .iter()
            .map(|p| format!("\"{}\";q={};w={}", p.name, p.quota.limit(), p.quota.window_secs()))
            .collect::<Vec<_>>()
            .join(", ");
        // Names were checked to be tokens, so the value is always valid.
        let policy_value =
            HeaderValue::from_str(&policy_value).unwrap_or_else(|_| HeaderValue::from_static(""));
        let headers = Headers {
            policy: PreparedHeader::new(HeaderName::from_static("ratelimit-policy"), policy_value),
            ratelimit: HeaderKey::from_static("ratelimit"),
            legacy_limit: HeaderKey::from_static("x-ratelimit-limit"),
            legacy_remaining: HeaderKey::from_static("x-ratelimit-remaining"),
            legacy_reset: HeaderKey::from_static("x-ratelimit-reset"),
        };
        let clock: Arc<dyn Clock> = match &config.clock {
            Some(handle) => handle.0.clone(),
            None => Arc::new(MonotonicClock::new()),
        };
        let backend = match store {
            Store::Memory(memory) => Backend::Memory(memory),
            Store::Redis(store) => {
                let instances = match config.on_store_failure {
                    OnStoreFailure::Local { instances } => instances.get(),
                    OnStoreFailure::FailOpen | OnStoreFailure::FailClosed => 1,
                };
                Backend::Shared(Box::new(Shared {
                    store,
                    breakers: StoreBreakers::new(
                        format!("rate limit `{}`", config.prefix),
                        config.breaker,
                    ),
                    on_failure: config.on_store_failure,
                    local: MemoryStore::with_clock(config.fallback_max_keys, clock.clone()),
                    local_limits: policies
                        .iter()
                        .map(|p| Limits::from(p.quota.divided(instances)))
                        .collect(),
                    blocks: (config.block_cache_keys > 0)
                        .then(|| BoundedMap::new(config.block_cache_keys)),
                }))
            }
        };
        Self {
            inner: Arc::new(Inner {
                prefix: config.prefix.clone(),
                algorithm: alg,
                policies,
                limits,
                suffixes,
                key: config.key.clone(),
                trusted_proxies: config.trusted_proxies.clone(),
                missing_key: config.missing_key,
                missing_logged: std::sync::atomic::AtomicBool::new(false),
                cost: config.cost,
                cost_fn: config.cost_fn.clone(),
                legacy_headers: config.legacy_headers,
                headers,
                backend,
                clock,
            }),
        }
    }

    /// The `RateLimit-Policy` value this limiter sends, e.g. `"burst";q=10;w=1, "daily";q=1000;w=86400`.
    pub fn policy_header(&self) -> &HeaderValue {
        self.inner.headers.policy.value()
    }

    /// The state of the breakers around the shared store, the worst node's (`None` for a memory
    /// store).
    pub fn breaker_state(&self) -> Option<BreakerState> {
        match &self.inner.backend {
            Backend::Memory(_) => None,
            Backend::Shared(shared) => Some(shared.breakers.state()),
        }
    }

    /// Prepares the shared store before the first request: loads the decision script (on every
    /// master of a Cluster), so that a burst right after start-up meets a ready connection and
    /// pays no `NOSCRIPT` round trip. Nothing to do for a memory store.
    pub async fn warm_up(&self) -> Result<(), redis::RedisError> {
        match &self.inner.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Shared(shared) => shared.store.warm_up().await,
        }
    }

    /// Decides a request of `cost` units for `key` (not yet prefixed: the limiter adds its
    /// prefix and hash tag), counting it if admitted.
    pub async fn check_key(&self, key: &str, cost: u32) -> Verdict {
        let inner = &*self.inner;
        let base = hash_tagged(&inner.prefix, key);
        let cost = u64::from(cost);
        match &inner.backend {
            Backend::Memory(store) => {
                let ev = store.decide(&base, inner.algorithm, &inner.limits, cost);
                Verdict::Decided(outcome(ev, DecidedBy::Store))
            }
            Backend::Shared(shared) => self.check_shared(shared, &base, cost).await,
        }
    }

    async fn check_shared(&self, shared: &Shared, base: &str, cost: u64) -> Verdict {
        let inner = &*self.inner;
        if let Some(blocks) = &shared.blocks {
            let now = inner.clock.now_ms();
            let blocked = blocks.get(base, now, |block| {
                (block.cost == cost && now < block.until).then(|| {
                    let age = now.saturating_sub(block.received);
                    block.policies.iter().map(|p| p.aged(age)).collect::<Vec<_>>()
                })
            });
            if let Some(Some(policies)) = blocked {
                return Verdict::Decided(RateLimitOutcome {
                    admitted: false,
                    policies,
                    decided_by: DecidedBy::BlockCache,
                });
            }
        }
        let request_id = shared.store.next_request_id();
        let breaker = shared.breakers.node(shared.store.connection().node_of(base).as_deref());
        // Idempotent: a retry carries the same request id, and the script answers an admission
        // it already counted from its replay record.
        let decided = breaker
            .call_idempotent(|| {
                shared.store.decide(
                    base,
                    inner.algorithm,
                    &inner.limits,
                    &inner.suffixes,
                    cost,
                    &request_id,
                )
            })
            .await;
        match decided {
            Ok(reply) => {
                let outcome = outcome(reply.evaluation, DecidedBy::Store);
                if let (false, Some(blocks)) = (outcome.admitted, &shared.blocks) {
                    remember_block(blocks, inner.clock.now_ms(), base, cost, &outcome);
                }
                Verdict::Decided(outcome)
            }
            // A blip of a store judged healthy: this request is decided locally.
            Err(err) if !err.is_outage() => self.decide_locally(shared, base, cost),
            Err(err) => match shared.on_failure {
                OnStoreFailure::FailOpen => Verdict::FailedOpen,
                OnStoreFailure::Local { .. } => self.decide_locally(shared, base, cost),
                OnStoreFailure::FailClosed => {
                    Verdict::Unavailable { retry_after: err.retry_after() }
                }
            },
        }
    }

    fn decide_locally(&self, shared: &Shared, base: &str, cost: u64) -> Verdict {
        let ev = shared.local.decide(base, self.inner.algorithm, &shared.local_limits, cost);
        Verdict::Decided(outcome(ev, DecidedBy::LocalFallback))
    }

    fn missing(&self) -> Decision<RateLimitState> {
        let inner = &*self.inner;
        match (inner.missing_key, inner.key.source()) {
            (MissingKey::Skip, _) => Decision::Continue(RateLimitState(StateKind::Unlimited)),
            (MissingKey::Refuse, KeySource::Client) => {
                observe::refused(GUARD, &inner.prefix, "no key", StatusCode::FORBIDDEN);
                Decision::Respond(
                    Problem::new(ProblemType::FORBIDDEN)
                        .with_detail(
                            "this route is rate limited and the request carries nothing to count \
                             it by",
                        )
                        .into(),
                )
            }
            (MissingKey::Refuse, KeySource::Server) => {
                // A wiring mistake, not the client's: said once, loudly, with the fix.
                if !inner.missing_logged.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::error!(
                        limiter = %inner.prefix,
                        key = ?inner.key,
                        "rate limit refuses every request it cannot count: {}; or choose \
                         `MissingKey::Skip` to admit such requests unlimited",
                        inner.key.missing_cause()
                    );
                }
                observe::refused(
                    GUARD,
                    &inner.prefix,
                    "no key (misconfiguration)",
                    StatusCode::INTERNAL_SERVER_ERROR,
                );
                Decision::Respond(
                    Problem::new(ProblemType::INTERNAL)
                        .with_detail("the server cannot count this request for its rate limit")
                        .into(),
                )
            }
        }
    }

    /// The 429 answer: problem+json, `Retry-After` and the RateLimit headers.
    fn too_many(&self, outcome: &RateLimitOutcome) -> GuardResponse {
        let retry_after = outcome.retry_after_secs().unwrap_or(1);
        let refused: Vec<&str> = self
            .inner
            .policies
            .iter()
            .zip(&outcome.policies)
            .filter(|(_, status)| status.refused())
            .map(|(policy, _)| policy.name.as_str())
            .collect();
        let mut res = Problem::new(ProblemType::RATE_LIMITED)
            .with_detail(format!(
                "rate limit exceeded ({}); retry in {retry_after} s",
                refused.join(", ")
            ))
            .with_extension("policies", refused)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
            .to_response();
        self.write_headers(Some(outcome), &mut res);
        res
    }

    fn write_headers(&self, outcome: Option<&RateLimitOutcome>, res: &mut dyn ResponseHead) {
        let inner = &*self.inner;
        res.set(&inner.headers.policy);
        let Some(outcome) = outcome else { return };
        let mut value = String::with_capacity(24 * outcome.policies.len());
        for (i, (policy, status)) in inner.policies.iter().zip(&outcome.policies).enumerate() {
            use std::fmt::Write;
            if i > 0 {
                value.push_str(", ");
            }
            let _ = write!(
                value,
                "\"{}\";r={};t={}",
                policy.name,
                status.remaining(),
                status.reset_secs()
            );
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            res.set_value(&inner.headers.ratelimit, value);
        }
        if inner.legacy_headers {
            self.write_legacy(outcome, res);
        }
    }

    /// `X-RateLimit-*` for the most constrained policy: the fewest remaining, then the
    /// latest reset.
    fn write_legacy(&self, outcome: &RateLimitOutcome, res: &mut dyn ResponseHead) {
        let inner = &*self.inner;
        let Some((policy, status)) = inner
            .policies
            .iter()
            .zip(&outcome.policies)
            .min_by_key(|(_, s)| (s.remaining(), std::cmp::Reverse(s.reset())))
        else {
            return;
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let reset_at = (now + status.reset()).as_millis().div_ceil(1000);
        let reset_at = u64::try_from(reset_at).unwrap_or(u64::MAX);
        res.set_value(&inner.headers.legacy_limit, HeaderValue::from(policy.quota.limit()));
        res.set_value(&inner.headers.legacy_remaining, HeaderValue::from(status.remaining()));
        res.set_value(&inner.headers.legacy_reset, HeaderValue::from(reset_at));
    }
}

fn outcome(ev: Evaluation, decided_by: DecidedBy) -> RateLimitOutcome {
    RateLimitOutcome { admitted: ev.admitted, policies: ev.policies, decided_by }
}

/// Remembers a refusal until the refusing policies let a request of this cost through.
fn remember_block(
    blocks: &BoundedMap<Block>,
    received: u64,
    base: &str,
    cost: u64,
    outcome: &RateLimitOutcome,
) {
    let mut wait = 0;
    for status in outcome.policies.iter().filter(|p| p.refused()) {
        match status.retry_after() {
            // A cost above the limit: such requests are refused anyway, nothing to gain.
            Some(_) if status.retry_ms == crate::algorithm::NEVER => return,
            Some(d) => wait = wait.max(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => {}
        }
    }
    if wait == 0 {
        return;
    }
    let until = received.saturating_add(wait);
    blocks.update(base, received, |_| {
        let block = Block { cost, until, received, policies: outcome.policies.clone() };
        ((), Some((block, until)))
    });
}

impl Guard for RateLimiter {
    type State = RateLimitState;

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<RateLimitState> {
        let inner = &*self.inner;
        let key = inner.key.extract(req, &inner.trusted_proxies);
        let cost = match &inner.cost_fn {
            Some(cost) => (cost.0)(req),
            None => inner.cost,
        };
        let Some(key) = key else { return self.missing() };
        match self.check_key(&key, cost).await {
            Verdict::Decided(outcome) if outcome.admitted => {
                observe::admitted(GUARD, &inner.prefix);
                Decision::Continue(RateLimitState(StateKind::Counted(outcome)))
            }
            Verdict::Decided(outcome) => {
                let reason = match outcome.decided_by {
                    DecidedBy::BlockCache => "quota exhausted (block cache)",
                    DecidedBy::LocalFallback => "quota exhausted (local fallback)",
                    DecidedBy::Store => "quota exhausted",
                };
                observe::refused(GUARD, &inner.prefix, reason, StatusCode::TOO_MANY_REQUESTS);
                Decision::Respond(self.too_many(&outcome))
            }
            Verdict::FailedOpen => {
                observe::admitted(GUARD, &inner.prefix);
                Decision::Continue(RateLimitState(StateKind::Uncounted))
            }
            Verdict::Unavailable { retry_after } => {
                observe::refused(
                    GUARD,
                    &inner.prefix,
                    "store unavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                );
                let mut res = Problem::store_unavailable(retry_after).to_response();
                self.write_headers(None, &mut res);
                Decision::Respond(res)
            }
        }
    }

    fn respond(&self, state: RateLimitState, res: &mut dyn ResponseHead) {
        match &state.0 {
            StateKind::Unlimited => {}
            StateKind::Uncounted => self.write_headers(None, res),
            StateKind::Counted(outcome) => self.write_headers(Some(outcome), res),
        }
    }
}

impl Shared {
    /// Forgets a block (tests).
    #[cfg(test)]
    pub(crate) fn forget_block(&self, base: &str) {
        if let Some(blocks) = &self.blocks {
            blocks.remove(base);
        }
    }
}

#[cfg(test)]
impl RateLimiter {
    /// Forgets the block cache's entry for `key` (tests).
    pub(crate) fn forget_block(&self, key: &str) {
        if let Backend::Shared(shared) = &self.inner.backend {
            shared.forget_block(&hash_tagged(&self.inner.prefix, key));
        }
    }
}
