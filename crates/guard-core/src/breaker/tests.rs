use super::nodes::MAX_NODES;
use super::*;
use std::sync::Arc;
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

async fn slow_ok(b: &CircuitBreaker, took: Duration) -> R {
    b.call(async move {
        tokio::time::sleep(took).await;
        Ok::<_, &'static str>(1)
    })
    .await
}

async fn refused(b: &CircuitBreaker) -> Result<u32, StoreError<std::io::Error>> {
    b.call(async { Err::<u32, _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)) })
        .await
}

/// A breaker of the default configuration after `n` successful calls, and the count of calls
/// that reached the store.
async fn healthy(n: u32) -> (CircuitBreaker, AtomicU32) {
    let b = CircuitBreaker::new("test", BreakerConfig::default());
    let calls = AtomicU32::new(0);
    for _ in 0..n {
        ok(&b, &calls).await.unwrap();
    }
    (b, calls)
}

/// `n` failed calls, each a blip: not enough evidence of an outage.
async fn blips(b: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        assert!(!fail(b).await.unwrap_err().is_outage());
    }
}

/// Drives a breaker from closed to open by a refused connection.
async fn opened(config: BreakerConfig) -> CircuitBreaker {
    let b = CircuitBreaker::new("test", config);
    assert!(refused(&b).await.unwrap_err().is_outage());
    assert_eq!(b.state(), BreakerState::Open);
    b
}

#[tokio::test(start_paused = true)]
async fn one_timeout_among_healthy_calls_is_a_blip_not_an_outage() {
    let (b, calls) = healthy(30).await;
    let started = Instant::now();
    let r = slow_ok(&b, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(StoreError::Timeout(d)) if d == Duration::from_millis(250)), "{r:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(250), "cut at the deadline");
    assert!(!r.unwrap_err().is_outage());
    assert_eq!(b.state(), BreakerState::Closed);
    // A plain error is a blip too.
    assert!(matches!(fail(&b).await, Err(StoreError::Failed("down"))));
    assert_eq!(b.state(), BreakerState::Closed);
    ok(&b, &calls).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_fresh_breaker_needs_the_minimum_number_of_calls_before_a_rate_opens_it() {
    // The first calls of a process fail (a cold connection): not enough evidence to open.
    let (b, _) = healthy(0).await;
    blips(&b, 19).await;
    assert_eq!(b.state(), BreakerState::Closed);
    // The 20th call makes the window big enough, and 100% failed: open.
    assert!(fail(&b).await.unwrap_err().is_outage());
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn the_failure_rate_opens_it_at_the_threshold_and_not_below() {
    let (b, _) = healthy(11).await;
    blips(&b, 9).await;
    assert_eq!(b.state(), BreakerState::Closed, "9 of 20 failed: 45%");
    assert!(!fail(&b).await.unwrap_err().is_outage(), "10 of 21: 47.6%");
    assert!(fail(&b).await.unwrap_err().is_outage(), "11 of 22: 50%");
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn failures_leave_the_window_as_it_slides() {
    let (b, calls) = healthy(0).await;
    blips(&b, 15).await;
    // Three seconds later those failures are out of the 2 s window.
    tokio::time::advance(Duration::from_secs(3)).await;
    for _ in 0..10 {
        ok(&b, &calls).await.unwrap();
    }
    blips(&b, 9).await;
    assert_eq!(b.state(), BreakerState::Closed, "9 of 19 in the window");
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_store_opens_it_at_once() {
    let (b, calls) = healthy(100).await;
    let r = refused(&b).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable { retry_after }) if retry_after == Duration::from_millis(500))
    );
    assert_eq!(b.state(), BreakerState::Open);
    // Open: the store is not called.
    assert!(matches!(ok(&b, &calls).await, Err(StoreError::Unavailable { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

/// `n` calls of `took` at once; how many answered.
async fn concurrent_slow(b: &Arc<CircuitBreaker>, n: usize, took: Duration) -> usize {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let b = b.clone();
        calls.spawn(async move { slow_ok(&b, took).await });
    }
    calls.join_all().await.iter().filter(|r| r.is_ok()).count()
}

#[tokio::test(start_paused = true)]
async fn a_store_slow_on_every_call_opens_it_and_occasional_slowness_does_not() {
    let b = Arc::new(healthy(1).await.0);
    assert_eq!(concurrent_slow(&b, 40, Duration::from_millis(200)).await, 40);
    assert_eq!(b.state(), BreakerState::Closed, "one fast call in the window: not every call slow");
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(concurrent_slow(&b, 19, Duration::from_millis(200)).await, 19);
    assert_eq!(b.state(), BreakerState::Closed, "fewer calls than the minimum");
    // The answer itself still reaches the caller; the breaker opens for the next ones.
    assert_eq!(slow_ok(&b, Duration::from_millis(200)).await.unwrap(), 1);
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_busy_store_that_turns_slow_is_judged_within_the_window() {
    // Thousands of fast calls, then every call times out; failures come only as fast as the
    // deadline lets them, yet within two windows the old successes have left and it opens.
    let b = Arc::new(healthy(3000).await.0);
    let started = Instant::now();
    while b.state() == BreakerState::Closed {
        let mut attempts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let b = b.clone();
            attempts.spawn(async move { slow_ok(&b, Duration::from_secs(5)).await });
        }
        attempts.join_all().await;
        assert!(
            started.elapsed() <= Duration::from_secs(4),
            "still closed after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn half_open_lets_a_few_probes_through_and_closes_when_all_succeed() {
    let b = opened(BreakerConfig::default()).await;
    let calls = AtomicU32::new(0);
    tokio::time::advance(Duration::from_millis(500)).await;
    // Three probes in flight at once; a fourth call fails fast.
    let probes: Vec<_> = (0..3).map(|_| Box::pin(slow_ok(&b, Duration::from_millis(5)))).collect();
    let mut probes = probes;
    for p in &mut probes {
        assert!(poll_once(p.as_mut()).await.is_none());
    }
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(matches!(ok(&b, &calls).await, Err(StoreError::Unavailable { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    for p in probes {
        assert_eq!(p.await.unwrap(), 1);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    ok(&b, &calls).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_it_for_longer_up_to_the_cap() {
    let b = opened(BreakerConfig::default()).await;
    let calls = AtomicU32::new(0);
    // 500 ms, then 1 s, 2 s, 4 s, and 4 s again.
    for expected_ms in [1000, 2000, 4000, 4000] {
        tokio::time::advance(Duration::from_secs(5)).await;
        let r = refused(&b).await;
        assert!(
            matches!(r, Err(StoreError::Unavailable { retry_after }) if retry_after == Duration::from_millis(expected_ms)),
            "{r:?}"
        );
    }
    // A success after the store returns: three probes, then closed, and the open time is back
    // to its start.
    tokio::time::advance(Duration::from_secs(4)).await;
    for _ in 0..3 {
        ok(&b, &calls).await.unwrap();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let r = refused(&b).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable { retry_after }) if retry_after == Duration::from_millis(500))
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_place_back() {
    let b = opened(BreakerConfig { half_open_probes: 1, ..BreakerConfig::default() }).await;
    let calls = AtomicU32::new(0);
    tokio::time::advance(Duration::from_secs(1)).await;
    {
        // A probe that hangs, then is cancelled (its request went away).
        let mut probe = Box::pin(slow_ok(&b, Duration::from_millis(10)));
        assert!(poll_once(probe.as_mut()).await.is_none());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(matches!(ok(&b, &calls).await, Err(StoreError::Unavailable { .. })));
    }
    // Dropped: the next call may probe.
    assert_eq!(ok(&b, &calls).await.unwrap(), 1);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_call_is_retried_once_after_a_blip_and_never_during_an_outage() {
    let b = CircuitBreaker::new("test", BreakerConfig::default());
    let attempts = AtomicU32::new(0);
    let r: R = b
        .call_idempotent(|| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move { if n == 0 { Err("blip") } else { Ok(9) } }
        })
        .await;
    assert_eq!(r.unwrap(), 9);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    // Twice failing: two attempts, the second's error.
    attempts.store(0, Ordering::SeqCst);
    let r: R = b
        .call_idempotent(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err("still") }
        })
        .await;
    assert!(matches!(r, Err(StoreError::Failed("still"))));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    // An outage: one attempt only.
    let b = opened(BreakerConfig::default()).await;
    attempts.store(0, Ordering::SeqCst);
    let r: R = b
        .call_idempotent(|| async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Ok(1)
        })
        .await;
    assert!(r.unwrap_err().is_outage());
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn nodes_are_judged_apart() {
    let breakers = StoreBreakers::new("store", BreakerConfig::default());
    let down = breakers.node(Some("10.0.0.1:7000"));
    let up = breakers.node(Some("10.0.0.2:7000"));
    assert!(Arc::ptr_eq(&down, &breakers.node(Some("10.0.0.1:7000"))));
    assert!(refused(&down).await.unwrap_err().is_outage());
    let calls = AtomicU32::new(0);
    ok(&up, &calls).await.unwrap();
    assert_eq!(up.state(), BreakerState::Closed);
    assert_eq!(breakers.state(), BreakerState::Open, "the worst node");
    assert_eq!(down.name(), "store @ 10.0.0.1:7000");
    let mut states = breakers.states();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        [
            (None, BreakerState::Closed),
            (Some("10.0.0.1:7000".to_owned()), BreakerState::Open),
            (Some("10.0.0.2:7000".to_owned()), BreakerState::Closed),
        ]
    );
    // Bounded: past MAX_NODES, new names share the default breaker.
    for i in 0..MAX_NODES {
        breakers.node(Some(&format!("n{i}")));
    }
    assert!(Arc::ptr_eq(&breakers.node(Some("one-too-many")), &breakers.node(None)));
}

#[test]
fn config_deserializes_in_milliseconds_and_is_checked() {
    let c: BreakerConfig = serde_json::from_str(r#"{"deadline": 50, "minimum_calls": 5}"#).unwrap();
    assert_eq!(c.deadline, Duration::from_millis(50));
    assert_eq!(c.minimum_calls, 5);
    assert_eq!(c.open_for, Duration::from_millis(500));
    assert_eq!(c.check(), Ok(()));
    assert!(serde_json::from_str::<BreakerConfig>(r#"{"failure_threshold": 1}"#).is_err());
    let bad = |c: BreakerConfig| c.check().unwrap_err();
    let d = BreakerConfig::default();
    assert_eq!(
        bad(BreakerConfig { deadline: Duration::ZERO, ..d }),
        BreakerConfigError::Zero("deadline")
    );
    assert_eq!(
        bad(BreakerConfig { minimum_calls: 0, ..d }),
        BreakerConfigError::Zero("minimum_calls")
    );
    assert_eq!(
        bad(BreakerConfig { failure_rate: 101, ..d }),
        BreakerConfigError::Percentage("failure_rate")
    );
    assert_eq!(
        bad(BreakerConfig { max_open_for: Duration::from_millis(100), ..d }),
        BreakerConfigError::OpenTimes
    );
    assert_eq!(
        BreakerConfig::default().with_deadline(Duration::from_secs(1)).deadline,
        Duration::from_secs(1)
    );
}

#[test]
fn io_errors_of_a_lost_connection_are_unreachable_and_others_are_not() {
    use std::io::{Error, ErrorKind};
    for kind in [ErrorKind::ConnectionRefused, ErrorKind::ConnectionReset, ErrorKind::BrokenPipe] {
        assert!(Error::from(kind).is_unreachable(), "{kind:?}");
    }
    for kind in [ErrorKind::TimedOut, ErrorKind::InvalidData, ErrorKind::Other] {
        assert!(!Error::from(kind).is_unreachable(), "{kind:?}");
    }
}

async fn poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut f).poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}
