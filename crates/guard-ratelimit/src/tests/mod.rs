//! Tests across modules: one suite run by every algorithm against both stores, the Redis
//! store's own guarantees (replays, `SCRIPT FLUSH`, outages, Cluster, exactness across
//! instances), and the guard's HTTP behaviour.

mod guard;
mod redis;
mod suite;

use crate::{Algorithm, OnStoreFailure, RateLimitPolicy, Verdict};
use std::sync::atomic::{AtomicU32, Ordering};

/// A prefix no other test of this process uses.
fn unique_prefix(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t{}-{tag}", N.fetch_add(1, Ordering::Relaxed))
}

/// A policy for the tests: `quotas` as `(name, "n/window")`, fail closed, the default breaker
/// (what users run: a test that needs a longer deadline would hide a bad default).
fn policy(alg: Algorithm, quotas: &[(&str, &str)]) -> RateLimitPolicy {
    let mut policy = RateLimitPolicy::new(unique_prefix(alg.code()))
        .algorithm(alg)
        .on_store_failure(OnStoreFailure::FailClosed);
    for (name, quota) in quotas {
        policy = policy.quota(*name, quota.parse().expect("a valid quota"));
    }
    policy
}

const ALGORITHMS: [Algorithm; 3] =
    [Algorithm::Gcra, Algorithm::SlidingWindow, Algorithm::FixedWindow];

/// The outcome of a decided verdict, or a failed test.
fn decided(verdict: Verdict) -> crate::RateLimitOutcome {
    match verdict {
        Verdict::Decided(outcome) => outcome,
        other => panic!("expected a decision, got {other:?}"),
    }
}
