//! One suite, every algorithm, both stores: the memory store on a [`FakeClock`], the Redis store
//! with the same fake clock's reading passed to the script in place of the server's `TIME` (a
//! test-only argument production never sets), so every expectation is exact to the millisecond
//! on both. A differential property test then holds the two stores to identical answers on
//! random traffic.

use std::time::Duration;

use guard_tests::redis_server::RedisServer;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use super::{ALGORITHMS, decided, policy};
use crate::{Algorithm, FakeClock, MemoryStore, RateLimitOutcome, RateLimiter, RedisStore, Store};

/// Aligned on every window the suite uses, so sliding windows start at a known point.
const START_MS: u64 = 1_700_000_000_000;

/// A store under test and the clock it decides on.
struct Rig {
    clock: FakeClock,
    store: Store,
}

impl Rig {
    fn memory(clock: FakeClock) -> Self {
        Self { store: MemoryStore::with_clock(10_000, clock.clone()).into(), clock }
    }

    async fn redis(server: &RedisServer, clock: FakeClock) -> Self {
        let store = RedisStore::connect(&server.url())
            .await
            .expect("connect to the test Redis")
            .with_script_clock(clock.clone());
        Self { store: store.into(), clock }
    }

    /// A limiter with a fresh prefix; no block cache, so every decision is the store's.
    fn limiter(&self, alg: Algorithm, quotas: &[(&str, &str)]) -> RateLimiter {
        policy(alg, quotas)
            .block_cache_keys(0)
            .clock(self.clock.clone())
            .build(self.store.clone())
            .expect("a valid limiter")
    }

    fn advance(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }
}

async fn hit(limiter: &RateLimiter, key: &str, cost: u32) -> RateLimitOutcome {
    decided(limiter.check_key(key, cost).await)
}

fn remaining(o: &RateLimitOutcome) -> Vec<u64> {
    o.policies().iter().map(|p| p.remaining()).collect()
}

/// The whole suite for one algorithm on one store.
async fn suite(rig: &Rig, alg: Algorithm) {
    exhausts_then_admits_exactly_at_retry_after(rig, alg).await;
    policies_admit_together_or_not_at_all(rig, alg).await;
    requests_may_cost_more_than_one(rig, alg).await;
    refusals_write_nothing_and_keys_are_independent(rig, alg).await;
    headers_values_on_admission(rig, alg).await;
}

async fn exhausts_then_admits_exactly_at_retry_after(rig: &Rig, alg: Algorithm) {
    let limiter = rig.limiter(alg, &[("q", "5/10s")]);
    for expected in (0..5).rev() {
        let o = hit(&limiter, "k", 1).await;
        assert!(o.admitted(), "{alg:?}");
        assert_eq!(remaining(&o), [expected], "{alg:?}");
    }
    let refused = hit(&limiter, "k", 1).await;
    assert!(!refused.admitted());
    let retry = refused.retry_after().expect("a refusal says when");
    let expected = match alg {
        // One unit drains every 10 s / 5.
        Algorithm::Gcra => 2_000,
        Algorithm::FixedWindow => 10_000,
        // The 5 weigh 5 × (1 − e/W) in the next window: 4 (room for 1) once e = 2 s.
        Algorithm::SlidingWindow => 12_000,
    };
    assert_eq!(retry, Duration::from_millis(expected), "{alg:?}");
    assert_eq!(refused.retry_after_secs(), Some(expected.div_ceil(1000)));
    rig.advance(expected - 1);
    assert!(!hit(&limiter, "k", 1).await.admitted(), "{alg:?}: admitted before Retry-After");
    rig.advance(1);
    assert!(hit(&limiter, "k", 1).await.admitted(), "{alg:?}: refused at Retry-After");
}

async fn policies_admit_together_or_not_at_all(rig: &Rig, alg: Algorithm) {
    let limiter = rig.limiter(alg, &[("burst", "2/1s"), ("hourly", "3/1h")]);
    assert_eq!(remaining(&hit(&limiter, "k", 1).await), [1, 2]);
    assert_eq!(remaining(&hit(&limiter, "k", 1).await), [0, 1]);
    // Refused by the burst policy alone: the hourly one is not charged.
    let o = hit(&limiter, "k", 1).await;
    assert!(!o.admitted());
    let refused: Vec<bool> = o.policies().iter().map(|p| p.refused()).collect();
    assert_eq!(refused, [true, false], "{alg:?}");
    assert_eq!(remaining(&o), [0, 1], "{alg:?}");
    rig.advance(2_000);
    assert_eq!(remaining(&hit(&limiter, "k", 1).await), [1, 0], "{alg:?}");
    // Now the hourly policy refuses, and the burst policy is not charged either.
    let o = hit(&limiter, "k", 1).await;
    assert!(!o.admitted());
    let refused: Vec<bool> = o.policies().iter().map(|p| p.refused()).collect();
    assert_eq!(refused, [false, true], "{alg:?}");
    assert_eq!(remaining(&o), [1, 0], "{alg:?}");
}

async fn requests_may_cost_more_than_one(rig: &Rig, alg: Algorithm) {
    let limiter = rig.limiter(alg, &[("q", "10/10s")]);
    assert_eq!(remaining(&hit(&limiter, "k", 4).await), [6]);
    assert_eq!(remaining(&hit(&limiter, "k", 4).await), [2]);
    let o = hit(&limiter, "k", 4).await;
    assert!(!o.admitted());
    assert_eq!(remaining(&o), [2], "{alg:?}: a refusal charged nothing");
    assert_eq!(remaining(&hit(&limiter, "k", 2).await), [0]);
    // A cost above the limit can never pass; its Retry-After is one window.
    let o = hit(&limiter, "other", 11).await;
    assert!(!o.admitted());
    assert_eq!(o.retry_after(), Some(Duration::from_secs(10)));
}

async fn refusals_write_nothing_and_keys_are_independent(rig: &Rig, alg: Algorithm) {
    let limiter = rig.limiter(alg, &[("q", "3/10s")]);
    for _ in 0..3 {
        assert!(hit(&limiter, "hammered", 1).await.admitted());
        assert!(hit(&limiter, "quiet", 1).await.admitted());
    }
    for _ in 0..5 {
        assert!(!hit(&limiter, "hammered", 1).await.admitted());
    }
    // The refusals left no trace: both keys answer alike from here on.
    for step in [500, 1_500, 2_000, 3_333, 5_000, 10_000] {
        rig.advance(step);
        let a = hit(&limiter, "hammered", 1).await;
        let b = hit(&limiter, "quiet", 1).await;
        assert_eq!(a, b, "{alg:?} after {step} ms");
    }
    assert!(hit(&limiter, "untouched", 1).await.admitted());
}

async fn headers_values_on_admission(rig: &Rig, alg: Algorithm) {
    // At the start of an aligned 10 s window.
    let now = clock_now(&rig.clock);
    rig.advance(10_000 - now % 10_000);
    let limiter = rig.limiter(alg, &[("q", "5/10s")]);
    let o = hit(&limiter, "k", 1).await;
    let p = o.policies()[0];
    let expected_t = match alg {
        // The one unit drains in 2 s.
        Algorithm::Gcra => 2,
        Algorithm::FixedWindow => 10,
        // The request weighs on the sliding window until the end of the next window.
        Algorithm::SlidingWindow => 20,
    };
    assert_eq!((p.remaining(), p.reset_secs()), (4, expected_t), "{alg:?}");
    // Exhausted: t is when the next unit is back.
    for _ in 0..4 {
        hit(&limiter, "k", 1).await;
    }
    let p = hit(&limiter, "k", 1).await.policies()[0];
    let expected_t = match alg {
        Algorithm::Gcra => 2,
        Algorithm::FixedWindow => 10,
        Algorithm::SlidingWindow => 12,
    };
    assert_eq!((p.refused(), p.remaining(), p.reset_secs()), (true, 0, expected_t), "{alg:?}");
}

#[tokio::test]
async fn gcra_in_memory() {
    suite(&Rig::memory(FakeClock::new(START_MS)), Algorithm::Gcra).await;
}

#[tokio::test]
async fn sliding_window_in_memory() {
    suite(&Rig::memory(FakeClock::new(START_MS)), Algorithm::SlidingWindow).await;
}

#[tokio::test]
async fn fixed_window_in_memory() {
    suite(&Rig::memory(FakeClock::new(START_MS)), Algorithm::FixedWindow).await;
}

#[tokio::test]
async fn gcra_on_redis() {
    let server = RedisServer::start();
    suite(&Rig::redis(&server, FakeClock::new(START_MS)).await, Algorithm::Gcra).await;
}

#[tokio::test]
async fn sliding_window_on_redis() {
    let server = RedisServer::start();
    suite(&Rig::redis(&server, FakeClock::new(START_MS)).await, Algorithm::SlidingWindow).await;
}

#[tokio::test]
async fn fixed_window_on_redis() {
    let server = RedisServer::start();
    suite(&Rig::redis(&server, FakeClock::new(START_MS)).await, Algorithm::FixedWindow).await;
}

/// Random traffic (several keys, costs, one or two policies, gaps, a clock that sometimes steps
/// back) gets the very same answers, field for field, from the memory store and from Redis.
#[test]
fn memory_and_redis_decide_identically() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let clock = FakeClock::new(START_MS);
    let memory = Rig::memory(clock.clone());
    let redis = rt.block_on(Rig::redis(&server, clock.clone()));
    let alg = prop_oneof![
        Just(Algorithm::Gcra),
        Just(Algorithm::SlidingWindow),
        Just(Algorithm::FixedWindow)
    ];
    let quota = (1u64..8, 1u64..40).prop_map(|(n, w)| format!("{n}/{}ms", w * 50));
    let quotas = proptest::collection::vec(quota, 1..3);
    let steps = proptest::collection::vec((0u64..1_500, 0usize..3, 1u32..4, 0u8..20), 1..40);
    let mut runner = TestRunner::new(ProptestConfig { cases: 48, ..ProptestConfig::default() });
    runner
        .run(&(alg, quotas, steps), |(alg, quotas, steps)| {
            let named: Vec<(String, String)> =
                quotas.iter().enumerate().map(|(i, q)| (format!("p{i}"), q.clone())).collect();
            let named: Vec<(&str, &str)> =
                named.iter().map(|(n, q)| (n.as_str(), q.as_str())).collect();
            let on_memory = memory.limiter(alg, &named);
            let on_redis = redis.limiter(alg, &named);
            for (gap, key, cost, backwards) in steps {
                if backwards == 0 {
                    clock.set(clock_now(&clock).saturating_sub(gap));
                } else {
                    clock.advance(Duration::from_millis(gap));
                }
                let key = ["a", "b", "c"][key];
                let m = rt.block_on(on_memory.check_key(key, cost));
                let r = rt.block_on(on_redis.check_key(key, cost));
                prop_assert_eq!(m, r);
            }
            Ok(())
        })
        .unwrap_or_else(|err| panic!("{err}"));
    let _ = ALGORITHMS;
}

fn clock_now(clock: &FakeClock) -> u64 {
    use crate::Clock;
    clock.now_ms()
}
