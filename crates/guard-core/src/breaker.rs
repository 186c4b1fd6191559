//! A deadline and a circuit breaker around every call to a remote store (Redis), so that an
//! outage costs a few timeouts rather than one per request, one slow call costs nobody a refusal,
//! and recovery needs nobody.
//!
//! # How it judges the store
//! - **Each call has a deadline** ([`BreakerConfig::deadline`], default 250 ms). A call that
//!   misses it is a failure; a call that answers but took longer than
//!   [`slow_call`](BreakerConfig::slow_call) is *slow*.
//! - **Closed** (the store is trusted): outcomes are counted over a sliding time window
//!   ([`window`](BreakerConfig::window), 2 s). The breaker opens only on evidence: at least
//!   [`minimum_calls`](BreakerConfig::minimum_calls) calls in the window and a failure rate of
//!   [`failure_rate`](BreakerConfig::failure_rate) percent or more, or a slow-call rate of
//!   [`slow_call_rate`](BreakerConfig::slow_call_rate) percent or more. A call that could not
//!   reach the store at all (connection refused, reset or closed, see
//!   [`StoreFailure::is_unreachable`]) opens it at once: that is an outage, not a blip. One
//!   timeout among healthy calls opens nothing; the guard answers that request by its fallback.
//! - **Open**: calls fail at once without touching the store, for
//!   [`open_for`](BreakerConfig::open_for) (500 ms), doubled each time the store is still down,
//!   up to [`max_open_for`](BreakerConfig::max_open_for) (4 s): a store that stays down costs
//!   less and less, and one that returns is back in use within 4 s.
//! - **Half-open**: [`half_open_probes`](BreakerConfig::half_open_probes) (3) calls go through
//!   as probes, the others fail fast; when all of them succeed the breaker closes, when one fails
//!   it opens again for longer.
//!
//! Each change of state is logged once (`warn` on opening, `info` on closing), never per request,
//! and every call is measured (`guard_store_call_seconds`, see [`observe`](crate::observe)).
//!
//! [`StoreBreakers`] keeps one breaker per node of a store (per master of a Redis Cluster), so
//! that one lost node stops only the keys it served.
//!
//! ```
//! use std::time::Duration;
//! use guard_core::{BreakerConfig, CircuitBreaker, StoreError};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let breaker = CircuitBreaker::new("revocations", BreakerConfig::default());
//! let ok: Result<u32, StoreError<std::io::Error>> = breaker.call(async { Ok(7) }).await;
//! assert_eq!(ok.unwrap(), 7);
//!
//! // One slow call is a blip: the caller falls back for this request, the breaker stays closed.
//! let slow = breaker.call(async {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>(0)
//! }).await;
//! assert!(matches!(slow, Err(StoreError::Timeout(_))));
//! assert!(!slow.unwrap_err().is_outage());
//!
//! // A refused connection is an outage: the breaker opens and the next call fails at once.
//! let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
//! let down = breaker.call(async { Err::<u32, _>(refused) }).await;
//! assert!(down.unwrap_err().is_outage());
//! let fast = breaker.call(async { Ok::<_, std::io::Error>(1) }).await;
//! assert!(matches!(fast, Err(StoreError::Unavailable { .. })));
//! # });
//! ```

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How long a store call may take and how the breaker judges, opens and recovers.
///
/// Every field has a default chosen from measurement (see each field); a configuration file
/// names only what it changes, durations in milliseconds:
/// `{"deadline": 250, "minimum_calls": 20, "failure_rate": 50, "open_for": 500}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Deadline of one call (default 250 ms).
    ///
    /// Measured on a 2-core machine with release builds of the example servers on one Redis
    /// (`cargo xtask stress`, and `wrk` against three instances):
    /// - a burst of 200 logins on five fresh instances: p50 0.3-5 ms, worst call 23 ms;
    /// - steady overload (96 connections, both cores busy): p99 11-18 ms, p99.9 17-55 ms,
    ///   worst 36-91 ms;
    /// - logins whose Argon2 hashing saturates both cores: p99 64 ms, p99.9 107 ms, worst 148 ms.
    ///
    /// 250 ms is 1.7 times the worst call seen, and what a request waits at most per attempt
    /// while a store hangs (a blip gets one retry, then the guard's fallback). To tune it,
    /// measure your own p99.9 under load (the `guard_store_call_seconds` histogram, or the
    /// `trace` events of `guard_core::breaker`) and keep a margin of at least 1.5 times the worst
    /// call; raise it for a store across a slow network.
    #[serde(with = "crate::millis")]
    pub deadline: Duration,
    /// The sliding window over which outcomes are counted while closed (default 2 s).
    ///
    /// Short on purpose: when a store that served thousands of calls a second turns slow, its
    /// failures arrive far more slowly than its successes did (each waits for the deadline), so
    /// a long window would keep the old successes outweighing them for its whole length (with
    /// Hystrix's 10 s, a busy server kept waiting for a hung store for up to 10 s). A short
    /// stall, on the other hand, fails only the calls in flight, a small share of two seconds.
    #[serde(with = "crate::millis")]
    pub window: Duration,
    /// Calls the window must hold before rates can open the breaker (default 20): a handful of
    /// unlucky calls on a quiet server is not evidence of an outage.
    pub minimum_calls: u32,
    /// Percentage of failed calls (errors and timeouts) in the window that opens the breaker
    /// (default 50, as resilience4j and Hystrix).
    pub failure_rate: u8,
    /// A call that answers but takes longer than this is slow (default 150 ms).
    #[serde(with = "crate::millis")]
    pub slow_call: Duration,
    /// Percentage of slow calls in the window that opens the breaker (default 100: only a
    /// store that is slow for every call, so that a busy host's occasional pauses do not).
    pub slow_call_rate: u8,
    /// How long the breaker first stays open before probing (default 500 ms).
    #[serde(with = "crate::millis")]
    pub open_for: Duration,
    /// The longest open time: each failed round of probes doubles the open time up to this
    /// (default 4 s, so a store that returns is in use again within 4 s and some probes).
    #[serde(with = "crate::millis")]
    pub max_open_for: Duration,
    /// Calls let through as probes while half-open; all must succeed to close (default 3).
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(250),
            window: Duration::from_secs(2),
            minimum_calls: 20,
            failure_rate: 50,
            slow_call: Duration::from_millis(150),
            slow_call_rate: 100,
            open_for: Duration::from_millis(500),
            max_open_for: Duration::from_secs(4),
            half_open_probes: 3,
        }
    }
}

/// A [`BreakerConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerConfigError {
    /// A duration that must be positive is zero.
    #[error("`{0}` must be greater than zero")]
    Zero(&'static str),
    /// A percentage above 100 or of 0.
    #[error("`{0}` must be a percentage from 1 to 100")]
    Percentage(&'static str),
    /// `max_open_for` below `open_for`.
    #[error("`max_open_for` must be at least `open_for`")]
    OpenTimes,
}

impl BreakerConfig {
    /// The same configuration with another deadline (the setting most often tuned).
    pub fn with_deadline(self, deadline: Duration) -> Self {
        Self { deadline, ..self }
    }

    /// Checks that the configuration can work; the guards call this when they are built.
    pub fn check(&self) -> Result<(), BreakerConfigError> {
        for (name, d) in [
            ("deadline", self.deadline),
            ("window", self.window),
            ("open_for", self.open_for),
            ("slow_call", self.slow_call),
        ] {
            if d.is_zero() {
                return Err(BreakerConfigError::Zero(name));
            }
        }
        if self.minimum_calls == 0 {
            return Err(BreakerConfigError::Zero("minimum_calls"));
        }
        if self.half_open_probes == 0 {
            return Err(BreakerConfigError::Zero("half_open_probes"));
        }
        for (name, p) in
            [("failure_rate", self.failure_rate), ("slow_call_rate", self.slow_call_rate)]
        {
            if p == 0 || p > 100 {
                return Err(BreakerConfigError::Percentage(name));
            }
        }
        if self.max_open_for < self.open_for {
            return Err(BreakerConfigError::OpenTimes);
        }
        Ok(())
    }

    /// The configuration with every value brought into its working range (what
    /// [`CircuitBreaker::new`] uses, so that a breaker never misbehaves; [`check`](Self::check)
    /// reports the same mistakes as errors).
    fn clamped(mut self) -> Self {
        let min = Duration::from_millis(1);
        self.deadline = self.deadline.max(min);
        self.window = self.window.max(min);
        self.open_for = self.open_for.max(min);
        self.slow_call = self.slow_call.max(min);
        self.max_open_for = self.max_open_for.max(self.open_for);
        self.minimum_calls = self.minimum_calls.max(1);
        self.half_open_probes = self.half_open_probes.max(1);
        self.failure_rate = self.failure_rate.clamp(1, 100);
        self.slow_call_rate = self.slow_call_rate.clamp(1, 100);
        self
    }
}

/// What a store's error says about the store.
///
/// Implemented for the errors the toolkit's stores return; a store of your own implements it
/// for its error type (the default, "not unreachable", is always safe: the breaker then opens
/// by rate only).
pub trait StoreFailure: std::fmt::Display {
    /// The store could not be reached at all (connection refused, reset or closed): an outage,
    /// so the breaker opens at once instead of waiting for a rate.
    fn is_unreachable(&self) -> bool {
        false
    }
}

impl StoreFailure for std::io::Error {
    fn is_unreachable(&self) -> bool {
        use std::io::ErrorKind::*;
        matches!(
            self.kind(),
            ConnectionRefused
                | ConnectionReset
                | ConnectionAborted
                | NotConnected
                | BrokenPipe
                | UnexpectedEof
        )
    }
}

impl StoreFailure for &'static str {}
impl StoreFailure for String {}

/// Why a store call produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError<E> {
    /// The store answered with an error; the breaker is still closed (a blip: answer this request
    /// by the guard's fallback).
    #[error("store error: {0}")]
    Failed(E),
    /// The store did not answer within the deadline; the breaker is still closed (a blip).
    #[error("store did not answer within {0:?}")]
    Timeout(Duration),
    /// The breaker judges the store down (it was open, or this call's failure opened it): the
    /// guard's store-failure policy applies.
    #[error("store unavailable (circuit open), retry in {retry_after:?}")]
    Unavailable {
        /// When the breaker will let a probe through.
        retry_after: Duration,
    },
}

impl<E> StoreError<E> {
    /// A hint for `Retry-After`: until the breaker's next probe, at least one second.
    pub fn retry_after(&self) -> Duration {
        match self {
            StoreError::Unavailable { retry_after } => (*retry_after).max(Duration::from_secs(1)),
            _ => Duration::from_secs(1),
        }
    }

    /// Whether the breaker judges the store down, so the guard's store-failure policy applies;
    /// otherwise this was one failed call of a healthy store.
    pub fn is_outage(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// The state of a [`CircuitBreaker`], for readiness checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go to the store.
    Closed,
    /// Calls fail at once.
    Open,
    /// A few probes are testing the store; other calls fail at once.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `guard_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// How many buckets the window is cut into: outcomes leave the window a tenth of it at a time.
const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which slice of time (counted from the breaker's creation) the counts belong to.
    epoch: u64,
    calls: u32,
    failures: u32,
    slow: u32,
}

/// Outcomes over the last `window`, in [`BUCKETS`] slices.
#[derive(Debug)]
struct Window {
    origin: Instant,
    slice: Duration,
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn new(window: Duration) -> Self {
        let slice = (window / BUCKETS as u32).max(Duration::from_millis(1));
        Self { origin: Instant::now(), slice, buckets: [Bucket::default(); BUCKETS] }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slice.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    fn record(&mut self, now: Instant, failed: bool, slow: bool) {
        let epoch = self.epoch(now);
        let bucket = &mut self.buckets[(epoch % BUCKETS as u64) as usize];
        if bucket.epoch != epoch {
            *bucket = Bucket { epoch, ..Bucket::default() };
        }
        bucket.calls += 1;
        bucket.failures += u32::from(failed);
        bucket.slow += u32::from(slow);
    }

    /// Calls, failures and slow calls in the window ending now.
    fn totals(&self, now: Instant) -> (u32, u32, u32) {
        let epoch = self.epoch(now);
        self.buckets
            .iter()
            .filter(|b| b.calls > 0 && b.epoch + BUCKETS as u64 > epoch && b.epoch <= epoch)
            .fold((0, 0, 0), |(c, f, s), b| (c + b.calls, f + b.failures, s + b.slow))
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Incremented on every change of phase, so that a probe finishing late cannot act on a
    /// later round of probes.
    generation: u64,
    /// Openings since the breaker last closed: the open time doubles with each.
    openings: u32,
    window: Window,
}

/// A deadline and circuit breaker for one store (or one node of it), shared by every request.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// How a call went, for the judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success { slow: bool },
    Failure { unreachable: bool },
}

/// What a call was allowed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permit {
    Closed,
    Probe { generation: u64 },
}

/// Gives a probe's place back if its call is dropped before it answered (the request went
/// away), so the breaker can never stay half-open with no probe running.
struct ProbeSlot<'a> {
    breaker: &'a CircuitBreaker,
    generation: Option<u64>,
}

impl Drop for ProbeSlot<'_> {
    fn drop(&mut self) {
        if let Some(generation) = self.generation {
            let mut inner = self.breaker.lock();
            if let (true, Phase::HalfOpen { in_flight, successes }) =
                (inner.generation == generation, inner.phase)
            {
                inner.phase = Phase::HalfOpen { in_flight: in_flight.saturating_sub(1), successes };
            }
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker for the store called `name` (in log lines and as the `store` label of
    /// metrics). Values out of range are brought into range; [`BreakerConfig::check`] reports
    /// them as errors instead.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        let config = config.clamped();
        let name = name.into();
        crate::observe::breaker_state(&name, BreakerState::Closed);
        Self {
            name,
            config,
            inner: Mutex::new(Inner {
                phase: Phase::Closed,
                generation: 0,
                openings: 0,
                window: Window::new(config.window),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.lock().phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `call` against the store, within the deadline, unless the breaker is open.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, StoreError<E>>
    where
        F: Future<Output = Result<T, E>>,
        E: StoreFailure,
    {
        let permit = self.permit()?;
        let mut slot = ProbeSlot {
            breaker: self,
            generation: match permit {
                Permit::Probe { generation } => Some(generation),
                Permit::Closed => None,
            },
        };
        let started = Instant::now();
        let result = tokio::time::timeout(self.config.deadline, call).await;
        let elapsed = started.elapsed();
        slot.generation = None;
        let (outcome, label) = match &result {
            Ok(Ok(_)) => (Outcome::Success { slow: elapsed > self.config.slow_call }, "ok"),
            Ok(Err(err)) => (Outcome::Failure { unreachable: err.is_unreachable() }, "error"),
            Err(_) => (Outcome::Failure { unreachable: false }, "timeout"),
        };
        crate::observe::store_call(&self.name, label, elapsed);
        tracing::trace!(store = %self.name, outcome = label, elapsed_us = elapsed.as_micros() as u64, "store call");
        let error_text = match &result {
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {:?}", self.config.deadline)),
            Ok(Ok(_)) => None,
        };
        let open_now = self.record(permit, outcome, error_text.as_deref());
        match (result, open_now) {
            (Ok(Ok(value)), _) => Ok(value),
            (_, Some(retry_after)) => Err(StoreError::Unavailable { retry_after }),
            (Ok(Err(err)), None) => Err(StoreError::Failed(err)),
            (Err(_), None) => Err(StoreError::Timeout(self.config.deadline)),
        }
    }

    /// Runs a call that may safely run twice (a read, or a write that recognises its own
    /// retry): a blip ([`StoreError::Failed`] or [`StoreError::Timeout`] while the breaker stays
    /// closed) gets one more attempt, so one slow call costs the request a second deadline at
    /// most, not an answer. An outage is never retried.
    pub async fn call_idempotent<T, E, F, Fut>(&self, mut call: F) -> Result<T, StoreError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: StoreFailure,
    {
        match self.call(call()).await {
            Err(err) if !err.is_outage() => self.call(call()).await,
            other => other,
        }
    }

    /// May a call go to the store now, and as what.
    fn permit<E>(&self) -> Result<Permit, StoreError<E>> {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.phase {
            Phase::Closed => Ok(Permit::Closed),
            Phase::Open { until } if now < until => {
                Err(StoreError::Unavailable { retry_after: until - now })
            }
            Phase::Open { .. } => {
                inner.generation += 1;
                inner.phase = Phase::HalfOpen { in_flight: 1, successes: 0 };
                tracing::debug!(store = %self.name, "probing the store; circuit half-open");
                crate::observe::breaker_state(&self.name, BreakerState::HalfOpen);
                Ok(Permit::Probe { generation: inner.generation })
            }
            Phase::HalfOpen { in_flight, successes }
                if in_flight + successes < self.config.half_open_probes =>
            {
                inner.phase = Phase::HalfOpen { in_flight: in_flight + 1, successes };
                Ok(Permit::Probe { generation: inner.generation })
            }
            Phase::HalfOpen { .. } => Err(StoreError::Unavailable { retry_after: Duration::ZERO }),
        }
    }

    /// Judges one outcome; `Some(retry_after)` when the breaker is open afterwards.
    fn record(&self, permit: Permit, outcome: Outcome, error: Option<&str>) -> Option<Duration> {
        let mut inner = self.lock();
        let now = Instant::now();
        match (inner.phase, permit) {
            (Phase::Closed, _) => {
                let failed = matches!(outcome, Outcome::Failure { .. });
                let slow = matches!(outcome, Outcome::Success { slow: true });
                inner.window.record(now, failed, slow);
                let (calls, failures, slows) = inner.window.totals(now);
                let enough = calls >= self.config.minimum_calls;
                let by_rate = enough
                    && (u64::from(failures) * 100
                        >= u64::from(self.config.failure_rate) * u64::from(calls)
                        || u64::from(slows) * 100
                            >= u64::from(self.config.slow_call_rate) * u64::from(calls));
                let unreachable = matches!(outcome, Outcome::Failure { unreachable: true });
                if unreachable || by_rate {
                    let why = if unreachable { "unreachable" } else { "failure or slow-call rate" };
                    tracing::warn!(
                        store = %self.name,
                        error = error.unwrap_or("slow calls"),
                        calls, failures, slow = slows, reason = why,
                        "store failing; circuit open"
                    );
                    return Some(self.open(&mut inner, now));
                }
                if let Some(error) = error {
                    // One blip among healthy calls: worth a line, at debug (no flood under load).
                    tracing::debug!(store = %self.name, error, calls, failures, "store call failed");
                }
                None
            }
            (Phase::HalfOpen { in_flight, successes }, Permit::Probe { generation })
                if generation == inner.generation =>
            {
                match outcome {
                    Outcome::Success { .. } => {
                        let successes = successes + 1;
                        if successes >= self.config.half_open_probes {
                            tracing::info!(store = %self.name, "store answers again; circuit closed");
                            inner.generation += 1;
                            inner.phase = Phase::Closed;
                            inner.openings = 0;
                            inner.window.clear();
                            crate::observe::breaker_state(&self.name, BreakerState::Closed);
                        } else {
                            inner.phase = Phase::HalfOpen {
                                in_flight: in_flight.saturating_sub(1),
                                successes,
                            };
                        }
                        None
                    }
                    // A failed probe: open again, quietly (the opening was logged), for longer.
                    Outcome::Failure { .. } => Some(self.open(&mut inner, now)),
                }
            }
            (Phase::Open { until }, _) => Some(until.saturating_duration_since(now)),
            // A closed-time call finishing during a round of probes, or a probe of an earlier
            // round: the current round decides.
            (Phase::HalfOpen { .. }, _) => match outcome {
                Outcome::Success { .. } => None,
                Outcome::Failure { .. } => Some(Duration::ZERO),
            },
        }
    }

    /// Opens the breaker for the current open time and doubles the next one; how long it is open.
    fn open(&self, inner: &mut Inner, now: Instant) -> Duration {
        let factor = 1u32 << inner.openings.min(16);
        let open_for = self.config.open_for.saturating_mul(factor).min(self.config.max_open_for);
        inner.openings = inner.openings.saturating_add(1);
        inner.generation += 1;
        inner.phase = Phase::Open { until: now + open_for };
        inner.window.clear();
        crate::observe::breaker_state(&self.name, BreakerState::Open);
        open_for
    }
}

mod nodes;
pub use nodes::StoreBreakers;

#[cfg(test)]
mod tests;
