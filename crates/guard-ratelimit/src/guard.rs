//! The compiled limiter, [`RateLimiter`]: a [`Guard`] and a plain async API.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use guard_core::keys::hash_tagged;
use guard_core::observe;
use guard_core::{
    BreakerState, Decision, Guard, GuardRequest, Problem, ProblemType, ResponseHead, TrustedProxies,
};
use http::{HeaderValue, StatusCode};

use crate::algorithm::{Algorithm, Evaluation, Limits, PolicyStatus};
use crate::headers::RateLimitHeaders;
use crate::key::{Key, KeySource, MissingKey};
use crate::store::MemoryStore;
#[cfg(feature = "redis")]
use crate::{
    block_cache::BlockCache,
    store::{OnStoreFailure, RedisStore},
};
#[cfg(feature = "redis")]
use guard_core::StoreBreakers;

/// The `guard` label of this crate's decisions in logs and metrics ([`observe`]); the `policy`
/// label is the limiter's prefix.
const GUARD: &str = "ratelimit";

/// A rate limiter compiled from a [`RateLimitPolicy`](crate::RateLimitPolicy): the guard to put
/// in front of the limited routes, and [`check_key`](Self::check_key) for limiting anything else.
///
/// Cheap to clone; clones share the counters, the breaker and the block cache.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    parts: Parts,
    /// Whether the misconfiguration of a missing server-side key was logged already.
    missing_logged: AtomicBool,
}

/// The parts of a [`RateLimiter`], each compiled already (by
/// [`RateLimitPolicy::build`](crate::RateLimitPolicy::build)).
pub(crate) struct Parts {
    pub(crate) prefix: String,
    pub(crate) algorithm: Algorithm,
    /// Each policy's limits, in the order of the policy.
    pub(crate) limits: Vec<Limits>,
    pub(crate) headers: RateLimitHeaders,
    pub(crate) key: Key,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) missing_key: MissingKey,
    pub(crate) cost: u32,
    pub(crate) cost_fn: Option<CostFn>,
    pub(crate) backend: Backend,
}

/// A request's cost computed from its head.
#[derive(Clone)]
pub(crate) struct CostFn(
    pub(crate) Arc<dyn for<'a, 'r> Fn(&'a GuardRequest<'r>) -> u32 + Send + Sync>,
);

impl fmt::Debug for CostFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CostFn(..)")
    }
}

/// Where the limiter decides.
pub(crate) enum Backend {
    /// In memory: exact, never fails.
    Memory(MemoryStore),
    /// In a shared store, with its safety net.
    #[cfg(feature = "redis")]
    Shared(Box<Shared>),
}

/// A shared store with its breakers, its local fallback and its block cache.
#[cfg(feature = "redis")]
pub(crate) struct Shared {
    pub(crate) store: RedisStore,
    /// Each policy's suffix of its store key, in the order of the policy.
    pub(crate) suffixes: Vec<String>,
    /// One breaker per Redis node (per master of a Cluster).
    pub(crate) breakers: StoreBreakers,
    pub(crate) on_failure: OnStoreFailure,
    /// The local limiter: decides a request whose store call failed while the store is judged
    /// healthy (a blip), and every request during an outage under [`OnStoreFailure::Local`].
    /// Each quota is divided by the number of instances the policy names (1 otherwise).
    pub(crate) local: MemoryStore,
    pub(crate) local_limits: Vec<Limits>,
    pub(crate) blocks: Option<BlockCache>,
}

/// Who decided a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The limiter's store (memory or Redis).
    Store,
    /// The block cache: the shared store had refused this key until later.
    BlockCache,
    /// The local limiter: for one request whose store call failed while the store is judged
    /// healthy, or for every request while it is down under
    /// [`OnStoreFailure::Local`](crate::OnStoreFailure::Local).
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

    /// Each policy's status, in the order of the limiter's [`RateLimitPolicy`](crate::RateLimitPolicy).
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
    /// The shared store is down and the policy is
    /// [`OnStoreFailure::FailOpen`](crate::OnStoreFailure::FailOpen): admitted, uncounted.
    FailedOpen,
    /// The shared store is down and the policy is
    /// [`OnStoreFailure::FailClosed`](crate::OnStoreFailure::FailClosed).
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
        let i = &self.inner.parts;
        f.debug_struct("RateLimiter")
            .field("prefix", &i.prefix)
            .field("algorithm", &i.algorithm)
            .field("policy", i.headers.policy())
            .field("key", &i.key)
            .field(
                "store",
                &match &i.backend {
                    Backend::Memory(_) => "memory",
                    #[cfg(feature = "redis")]
                    Backend::Shared(_) => "redis",
                },
            )
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// The limiter made of `parts`.
    pub(crate) fn new(parts: Parts) -> Self {
        Self { inner: Arc::new(Inner { parts, missing_logged: AtomicBool::new(false) }) }
    }

    /// The `RateLimit-Policy` value this limiter sends, e.g. `"burst";q=10;w=1, "daily";q=1000;w=86400`.
    pub fn policy_header(&self) -> &HeaderValue {
        self.inner.parts.headers.policy()
    }

    /// The state of the breakers around the shared store, the worst node's (`None` for a memory
    /// store).
    pub fn breaker_state(&self) -> Option<BreakerState> {
        match &self.inner.parts.backend {
            Backend::Memory(_) => None,
            #[cfg(feature = "redis")]
            Backend::Shared(shared) => Some(shared.breakers.state()),
        }
    }

    /// Prepares the shared store before the first request: loads the decision script (on every
    /// master of a Cluster), so that a burst right after start-up meets a ready connection and
    /// pays no `NOSCRIPT` round trip. Nothing to do for a memory store. Feature `redis`.
    #[cfg(feature = "redis")]
    pub async fn warm_up(&self) -> Result<(), redis::RedisError> {
        match &self.inner.parts.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Shared(shared) => shared.store.warm_up().await,
        }
    }

    /// Decides a request of `cost` units for `key` (not yet prefixed: the limiter adds its
    /// prefix and hash tag), counting it if admitted.
    pub async fn check_key(&self, key: &str, cost: u32) -> Verdict {
        let inner = &self.inner.parts;
        let base = hash_tagged(&inner.prefix, key);
        let cost = u64::from(cost);
        match &inner.backend {
            Backend::Memory(store) => {
                let ev = store.decide(&base, inner.algorithm, &inner.limits, cost);
                Verdict::Decided(outcome(ev, DecidedBy::Store))
            }
            #[cfg(feature = "redis")]
            Backend::Shared(shared) => {
                shared.decide(inner.algorithm, &inner.limits, &base, cost).await
            }
        }
    }

    fn missing(&self) -> Decision<RateLimitState> {
        let Inner { parts: inner, missing_logged } = &*self.inner;
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
                if !missing_logged.swap(true, Ordering::Relaxed) {
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
}

fn outcome(ev: Evaluation, decided_by: DecidedBy) -> RateLimitOutcome {
    RateLimitOutcome { admitted: ev.admitted, policies: ev.policies, decided_by }
}

impl Guard for RateLimiter {
    type State = RateLimitState;

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<RateLimitState> {
        let inner = &self.inner.parts;
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
                let retry_after = outcome.retry_after_secs().unwrap_or(1);
                Decision::Respond(inner.headers.too_many(&outcome.policies, retry_after))
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
                inner.headers.write(None, &mut res);
                Decision::Respond(res)
            }
        }
    }

    fn respond(&self, state: RateLimitState, res: &mut dyn ResponseHead) {
        match &state.0 {
            StateKind::Unlimited => {}
            StateKind::Uncounted => self.inner.parts.headers.write(None, res),
            StateKind::Counted(outcome) => {
                self.inner.parts.headers.write(Some(&outcome.policies), res)
            }
        }
    }
}

#[cfg(feature = "redis")]
impl Shared {
    /// Decides a request of `cost` units for the key whose tagged base is `base`: from the
    /// block cache, else in the store behind its breaker, else in the local fallback or by
    /// [`OnStoreFailure`].
    async fn decide(
        &self,
        algorithm: Algorithm,
        limits: &[Limits],
        base: &str,
        cost: u64,
    ) -> Verdict {
        if let Some(policies) = self.blocks.as_ref().and_then(|b| b.refused(base, cost)) {
            return Verdict::Decided(RateLimitOutcome {
                admitted: false,
                policies,
                decided_by: DecidedBy::BlockCache,
            });
        }
        let request_id = self.store.next_request_id();
        let breaker = self.breakers.node(self.store.connection().node_of(base).as_deref());
        // Idempotent: a retry carries the same request id, and the script answers an admission
        // it already counted from its replay record.
        let decided = breaker
            .call_idempotent(|| {
                self.store.decide(base, algorithm, limits, &self.suffixes, cost, &request_id)
            })
            .await;
        match decided {
            Ok(reply) => {
                let outcome = outcome(reply.evaluation, DecidedBy::Store);
                if let (false, Some(blocks)) = (outcome.admitted, &self.blocks) {
                    blocks.remember(base, cost, &outcome.policies);
                }
                Verdict::Decided(outcome)
            }
            // A blip of a store judged healthy: this request is decided locally.
            Err(err) if !err.is_outage() => self.decide_locally(algorithm, base, cost),
            Err(err) => match self.on_failure {
                OnStoreFailure::FailOpen => Verdict::FailedOpen,
                OnStoreFailure::Local { .. } => self.decide_locally(algorithm, base, cost),
                OnStoreFailure::FailClosed => {
                    Verdict::Unavailable { retry_after: err.retry_after() }
                }
            },
        }
    }

    /// Decides in the local fallback.
    fn decide_locally(&self, algorithm: Algorithm, base: &str, cost: u64) -> Verdict {
        let ev = self.local.decide(base, algorithm, &self.local_limits, cost);
        Verdict::Decided(outcome(ev, DecidedBy::LocalFallback))
    }
}

#[cfg(all(test, feature = "redis"))]
impl RateLimiter {
    /// Forgets the block cache's entry for `key` (tests).
    pub(crate) fn forget_block(&self, key: &str) {
        if let Backend::Shared(shared) = &self.inner.parts.backend
            && let Some(blocks) = &shared.blocks
        {
            blocks.forget(&hash_tagged(&self.inner.parts.prefix, key));
        }
    }
}
