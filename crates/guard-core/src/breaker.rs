//! A deadline and a circuit breaker around every call to a remote store (Redis), so that an
//! outage costs one timeout rather than one per request, and recovery needs nobody.
//!
//! Each call gets a short deadline (default 20 ms). After `failure_threshold` consecutive failures
//! (default 1: with a 20 ms deadline a single timeout is already a strong signal) the breaker
//! opens: calls fail at once, without touching the store, for `open_for` (default 1 s). Then one
//! call is let through as a probe; its success closes the breaker, its failure opens it again.
//! Each change of state is logged once (`warn` on opening, `info` on recovery), never per request.
//!
//! ```
//! use std::time::Duration;
//! use guard_core::{CircuitBreaker, BreakerConfig, StoreError};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let breaker = CircuitBreaker::new("revocations", BreakerConfig::default());
//! let ok: Result<u32, StoreError<std::io::Error>> = breaker.call(async { Ok(7) }).await;
//! assert_eq!(ok.unwrap(), 7);
//! let slow = breaker.call(async {
//!     tokio::time::sleep(Duration::from_secs(1)).await;
//!     Ok::<_, std::io::Error>(0)
//! }).await;
//! assert!(matches!(slow, Err(StoreError::Timeout(_))));
//! // Open now: the next call fails at once and the store is not touched.
//! let fast = breaker.call(async { Ok::<_, std::io::Error>(1) }).await;
//! assert!(matches!(fast, Err(StoreError::Unavailable { .. })));
//! # });
//! ```

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How long a store call may take and how the breaker opens and recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Deadline of one call (default 20 ms).
    #[serde(with = "crate::millis")]
    pub deadline: Duration,
    /// Consecutive failures that open the breaker (default 1).
    pub failure_threshold: u32,
    /// How long the breaker stays open before a probe (default 1 s).
    #[serde(with = "crate::millis")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(20),
            failure_threshold: 1,
            open_for: Duration::from_secs(1),
        }
    }
}

/// Why a store call produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError<E> {
    /// The store answered with an error.
    #[error("store error: {0}")]
    Failed(E),
    /// The store did not answer within the deadline.
    #[error("store did not answer within {0:?}")]
    Timeout(Duration),
    /// The breaker is open: the store was not called.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; everyone else fails fast until it answers.
    Probing,
}

/// The state of a [`CircuitBreaker`], for health checks and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go to the store.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe is testing the store.
    Probing,
}

/// A deadline and circuit breaker for one store, shared by every request.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    config: BreakerConfig,
    state: Mutex<State>,
}

/// Reopens the breaker if a probe is dropped before it answered (the request was cancelled), so
/// that the breaker can never stay stuck in `Probing`.
struct ProbeGuard<'a> {
    breaker: &'a CircuitBreaker,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.breaker.set(State::Open { until: Instant::now() });
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker for the store called `name` (used in log lines).
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self { name: name.into(), config, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        match self.get() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::Probing => BreakerState::Probing,
        }
    }

    fn get(&self) -> State {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, state: State) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Runs `call` against the store, within the deadline, unless the breaker is open.
    pub async fn call<T, E, F>(&self, call: F) -> Result<T, StoreError<E>>
    where
        F: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let probing = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            match *state {
                State::Closed { .. } => false,
                State::Open { until } if now < until => {
                    return Err(StoreError::Unavailable { retry_after: until - now });
                }
                State::Open { .. } => {
                    *state = State::Probing;
                    true
                }
                State::Probing => {
                    return Err(StoreError::Unavailable { retry_after: Duration::ZERO });
                }
            }
        };
        let mut guard = ProbeGuard { breaker: self, armed: probing };
        let outcome = match tokio::time::timeout(self.config.deadline, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StoreError::Failed(err)),
            Err(_) => Err(StoreError::Timeout(self.config.deadline)),
        };
        guard.armed = false;
        match &outcome {
            Ok(_) => self.record_success(),
            Err(err) => self.record_failure(err),
        }
        outcome
    }

    fn record_success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if *state != (State::Closed { failures: 0 }) {
            if !matches!(*state, State::Closed { .. }) {
                tracing::info!(store = %self.name, "store answers again; circuit closed");
            }
            *state = State::Closed { failures: 0 };
        }
    }

    fn record_failure<E: std::fmt::Display>(&self, err: &StoreError<E>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = Instant::now() + self.config.open_for;
        match *state {
            State::Closed { failures } => {
                let failures = failures + 1;
                if failures >= self.config.failure_threshold {
                    tracing::warn!(
                        store = %self.name, error = %err, open_for = ?self.config.open_for,
                        "store failing; circuit open"
                    );
                    *state = State::Open { until };
                } else {
                    tracing::warn!(store = %self.name, error = %err, failures, "store call failed");
                    *state = State::Closed { failures };
                }
            }
            // The probe failed: stay open, quietly (the opening was logged).
            State::Probing | State::Open { .. } => *state = State::Open { until },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    type R = Result<u32, StoreError<&'static str>>;

    async fn fail(b: &CircuitBreaker) -> R {
        b.call(async { Err::<u32, _>("down") }).await
    }

    async fn ok(b: &CircuitBreaker, calls: &AtomicU32) -> R {
        b.call(async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &'static str>(1)
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_fails_fast_then_probes_and_recovers() {
        let cfg = BreakerConfig { failure_threshold: 2, ..BreakerConfig::default() };
        let b = CircuitBreaker::new("test", cfg);
        let calls = AtomicU32::new(0);
        assert!(matches!(fail(&b).await, Err(StoreError::Failed("down"))));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(matches!(fail(&b).await, Err(StoreError::Failed("down"))));
        assert_eq!(b.state(), BreakerState::Open);
        // Open: the store is not called.
        let r = ok(&b, &calls).await;
        assert!(
            matches!(r, Err(StoreError::Unavailable { retry_after }) if retry_after == Duration::from_secs(1))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        tokio::time::advance(Duration::from_millis(1001)).await;
        // A probe goes through and closes the breaker.
        assert_eq!(ok(&b, &calls).await.unwrap(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_and_a_success_resets_the_count() {
        let b = CircuitBreaker::new(
            "test",
            BreakerConfig { failure_threshold: 2, ..Default::default() },
        );
        let calls = AtomicU32::new(0);
        let _ = fail(&b).await;
        ok(&b, &calls).await.unwrap();
        let _ = fail(&b).await;
        assert_eq!(b.state(), BreakerState::Closed, "the success reset the count");
        let _ = fail(&b).await;
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(matches!(fail(&b).await, Err(StoreError::Failed(_))));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(matches!(ok(&b, &calls).await, Err(StoreError::Unavailable { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_store_times_out_at_the_deadline() {
        let b = CircuitBreaker::new("test", BreakerConfig::default());
        let started = Instant::now();
        let r: R = b
            .call(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(1)
            })
            .await;
        assert!(matches!(r, Err(StoreError::Timeout(d)) if d == Duration::from_millis(20)));
        assert_eq!(started.elapsed(), Duration::from_millis(20));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn only_one_probe_at_a_time_and_a_cancelled_probe_does_not_wedge_it() {
        let b = CircuitBreaker::new("test", BreakerConfig::default());
        let calls = AtomicU32::new(0);
        let _ = fail(&b).await;
        tokio::time::advance(Duration::from_secs(2)).await;
        {
            // A probe that hangs, then is cancelled (its request went away).
            let probe = b.call(async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<u32, &'static str>(1)
            });
            tokio::pin!(probe);
            assert!(futures_poll_once(probe.as_mut()).await.is_none());
            assert_eq!(b.state(), BreakerState::Probing);
            assert!(matches!(ok(&b, &calls).await, Err(StoreError::Unavailable { .. })));
        }
        // Dropped: the next call may probe again.
        assert_eq!(ok(&b, &calls).await.unwrap(), 1);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await
    }

    #[test]
    fn config_deserializes_in_milliseconds() {
        let c: BreakerConfig = serde_json::from_str(r#"{"deadline": 50}"#).unwrap();
        assert_eq!(c.deadline, Duration::from_millis(50));
        assert_eq!(c.open_for, Duration::from_secs(1));
    }
}
