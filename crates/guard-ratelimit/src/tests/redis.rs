//! The Redis store's own guarantees, on private `redis-server` processes (and a private
//! 3-master Cluster) that the tests start, kill and restart.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guard_core::{BreakerConfig, BreakerState, Decision, Guard, GuardRequest, HttpRequestHead};
use guard_tests::redis_server::{RedisCluster, RedisServer, info_field};
use http::{Request, StatusCode};

use super::{ALGORITHMS, decided, policy};
use crate::algorithm::Limits;
use crate::{
    Algorithm, DecidedBy, FakeClock, OnStoreFailure, RateLimitPolicy, RateLimiter, RedisStore,
    Verdict,
};

async fn store(url: &str) -> RedisStore {
    RedisStore::connect(url).await.expect("connect to the test Redis")
}

/// How many times the server ran the script.
fn evalsha_calls(server: &RedisServer) -> u64 {
    let stats = server.command(&["INFO", "commandstats"]).expect("INFO commandstats");
    info_field(&stats, "cmdstat_evalsha")
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("calls=")?.parse().ok()))
        .unwrap_or(0)
}

#[tokio::test]
async fn the_script_survives_script_flush() {
    let server = RedisServer::start();
    let limiter =
        policy(Algorithm::Gcra, &[("q", "3/60s")]).build(store(&server.url()).await).unwrap();
    assert_eq!(decided(limiter.check_key("k", 1).await).policies()[0].remaining(), 2);
    assert_eq!(server.command(&["SCRIPT", "FLUSH"]).unwrap(), "OK");
    assert_eq!(server.command(&["SCRIPT", "EXISTS", "x"]).unwrap(), "0");
    // NOSCRIPT, reloaded, and the count goes on where it was.
    let o = decided(limiter.check_key("k", 1).await);
    assert!(o.admitted());
    assert_eq!(o.policies()[0].remaining(), 1);
}

#[tokio::test]
async fn a_decision_whose_answer_was_lost_is_retried_and_counted_once() {
    use guard_tests::proxy::{Fault, FaultProxy};
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    let limiter =
        policy(Algorithm::Gcra, &[("q", "3/60s")]).build(store(&proxy.url()).await).unwrap();
    limiter.warm_up().await.unwrap();
    assert_eq!(decided(limiter.check_key("k", 1).await).policies()[0].remaining(), 2);
    let calls = evalsha_calls(&server);
    // Redis runs the script, then the connection drops before the answer arrives: the limiter
    // reconnects and sends the same request id again, and the script answers from its replay
    // record instead of counting the request twice.
    proxy.set(Fault::LoseNextAnswer);
    let o = decided(limiter.check_key("k", 1).await);
    assert_eq!(
        (o.decided_by(), o.admitted(), o.policies()[0].remaining()),
        (DecidedBy::Store, true, 1)
    );
    assert_eq!(evalsha_calls(&server), calls + 2, "sent twice");
    assert!(proxy.connections() >= 2, "over a new connection");
    assert_eq!(
        decided(limiter.check_key("k", 1).await).policies()[0].remaining(),
        0,
        "counted once"
    );
}

#[tokio::test]
async fn the_script_is_loaded_again_on_a_server_that_lost_it() {
    // A failover or a restart: the new server has no scripts. The next decision loads it again,
    // as NOSCRIPT answers it, and decides.
    let mut server = RedisServer::start();
    let limiter =
        policy(Algorithm::Gcra, &[("q", "3/60s")]).build(store(&server.url()).await).unwrap();
    limiter.warm_up().await.unwrap();
    assert!(limiter.check_key("k", 1).await.admitted());
    server.restart();
    let sha = redis::Script::new(include_str!("../store/script.lua")).get_hash().to_owned();
    assert_eq!(server.command(&["SCRIPT", "EXISTS", &sha]).unwrap(), "0");
    let started = Instant::now();
    let o = loop {
        let verdict = limiter.check_key("k", 1).await;
        if let Verdict::Decided(o) = &verdict
            && o.decided_by() == DecidedBy::Store
        {
            break o.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never decided again: {verdict:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(o.policies()[0].remaining(), 2, "a fresh server counts afresh");
    assert_eq!(server.command(&["SCRIPT", "EXISTS", &sha]).unwrap(), "1");
}

#[tokio::test]
async fn a_repeated_request_id_is_counted_once() {
    let server = RedisServer::start();
    let store = store(&server.url()).await;
    let quotas = [Limits { limit: 3, window: 60_000 }];
    let suffixes = [":q:g:3:60000".to_owned()];
    let (quotas, suffixes) = (&quotas, &suffixes);
    let decide = |id: &'static str| {
        let store = store.clone();
        async move { store.decide("rp:{k}", Algorithm::Gcra, quotas, suffixes, 1, id).await.unwrap() }
    };
    let first = decide("id-1").await;
    assert!(first.evaluation.admitted && !first.replayed);
    assert_eq!(first.evaluation.policies[0].remaining(), 2);
    // The client lost the answer and sent the same call again: the earlier result, not a
    // second count.
    let again = decide("id-1").await;
    assert!(again.replayed);
    assert_eq!(again.evaluation, first.evaluation);
    let next = decide("id-2").await;
    assert_eq!(next.evaluation.policies[0].remaining(), 1, "counted once, not twice");
    // The record expires with the replay window.
    let ttl: i64 = server.command(&["PTTL", "rp:{k}:r:id-1"]).unwrap().parse().unwrap();
    assert!(ttl > 0 && ttl <= 5_000, "{ttl}");
    // Refusals are not recorded (they wrote nothing): a repeated refusal is decided anew.
    assert!(decide("id-3").await.evaluation.admitted);
    let refused = decide("id-4").await;
    assert!(!refused.evaluation.admitted && !refused.replayed);
    assert!(!decide("id-4").await.replayed);
    assert_eq!(server.command(&["EXISTS", "rp:{k}:r:id-4"]).unwrap(), "0");
}

#[tokio::test]
async fn keys_share_one_hash_tag_and_long_keys_are_bounded() {
    let server = RedisServer::start();
    let limiter = RateLimitPolicy::new("kt")
        .quota("burst", "5/1s".parse().unwrap())
        .quota("daily", "100/1d".parse().unwrap())
        .build(store(&server.url()).await)
        .unwrap();
    let long = "x".repeat(5_000);
    for key in ["203.0.113.9", "2001:db8::/64", long.as_str(), "a{b}c"] {
        assert!(limiter.check_key(key, 1).await.admitted());
    }
    let keys = server.command(&["KEYS", "*"]).unwrap();
    let keys: Vec<&str> = keys.lines().collect();
    // Per decision: two policy keys and one replay record.
    assert_eq!(keys.len(), 12, "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("kt:{"), "{key}");
        assert_eq!((key.matches('{').count(), key.matches('}').count()), (1, 1), "{key}");
        assert!(key.len() < 120, "{key}");
        let ttl: i64 = server.command(&["PTTL", key]).unwrap().parse().unwrap();
        assert!(ttl > 0, "{key} must expire");
    }
    assert!(keys.contains(&"kt:{203.0.113.9}:burst:g:5:1000"));
    assert!(keys.contains(&"kt:{203.0.113.9}:daily:g:100:86400000"));
    assert!(!keys.iter().any(|k| k.contains("xxxx")), "long keys are hashed");
}

#[tokio::test]
async fn the_block_cache_refuses_locally_until_the_reset() {
    let server = RedisServer::start();
    let clock = FakeClock::new(1_700_000_000_000);
    let store = store(&server.url()).await.with_script_clock(clock.clone());
    let limiter =
        policy(Algorithm::Gcra, &[("q", "2/60s")]).clock(clock.clone()).build(store).unwrap();
    assert!(limiter.check_key("k", 1).await.admitted());
    assert!(limiter.check_key("k", 1).await.admitted());
    let refused = decided(limiter.check_key("k", 1).await);
    assert_eq!(refused.decided_by(), DecidedBy::Store);
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(30)));

    let calls = evalsha_calls(&server);
    clock.advance(Duration::from_millis(10_000));
    for _ in 0..20 {
        let o = decided(limiter.check_key("k", 1).await);
        assert_eq!(o.decided_by(), DecidedBy::BlockCache);
        assert!(!o.admitted());
        // Aged by the 10 s that passed: still exactly when Redis will admit.
        assert_eq!(o.retry_after(), Some(Duration::from_secs(20)));
        assert_eq!(o.retry_after_secs(), Some(20));
    }
    assert_eq!(evalsha_calls(&server), calls, "no round trip for a blocked key");

    // Another key still asks Redis.
    assert!(limiter.check_key("other", 1).await.admitted());
    assert_eq!(evalsha_calls(&server), calls + 1);

    // One millisecond before the reset: still blocked locally; at the reset: Redis admits.
    clock.advance(Duration::from_millis(19_999));
    let o = decided(limiter.check_key("k", 1).await);
    assert_eq!(
        (o.decided_by(), o.retry_after()),
        (DecidedBy::BlockCache, Some(Duration::from_millis(1)))
    );
    clock.advance(Duration::from_millis(1));
    let o = decided(limiter.check_key("k", 1).await);
    assert!(o.admitted());
    assert_eq!(o.decided_by(), DecidedBy::Store);
    assert_eq!(evalsha_calls(&server), calls + 2);

    // A block holds for the refused cost only: another cost may fit sooner or later, so Redis
    // decides it.
    assert!(!limiter.check_key("k", 1).await.admitted());
    assert_eq!(evalsha_calls(&server), calls + 3);
    let o = decided(limiter.check_key("k", 2).await);
    assert_eq!((o.admitted(), o.decided_by()), (false, DecidedBy::Store));
    assert_eq!(evalsha_calls(&server), calls + 4);
    // The cost-2 refusal is now the key's block; once forgotten, Redis is asked again.
    assert_eq!(decided(limiter.check_key("k", 2).await).decided_by(), DecidedBy::BlockCache);
    limiter.forget_block("k");
    assert_eq!(decided(limiter.check_key("k", 2).await).decided_by(), DecidedBy::Store);
    assert_eq!(evalsha_calls(&server), calls + 5);
}

/// Collects log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap()).matches(needle).count()
    }
}

#[tokio::test]
async fn an_outage_falls_back_to_divided_local_limits_and_recovers() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _log = tracing::subscriber::set_default(subscriber);

    let mut server = RedisServer::start();
    // The default breaker: a refused connection opens it at once.
    let breaker = BreakerConfig::default();
    let limiter = policy(Algorithm::Gcra, &[("q", "6/60s")])
        .on_store_failure(OnStoreFailure::local(3))
        .breaker(breaker)
        .build(store(&server.url()).await)
        .unwrap();
    let o = decided(limiter.check_key("k", 1).await);
    assert_eq!((o.decided_by(), o.policies()[0].remaining()), (DecidedBy::Store, 5));

    server.kill();
    // 6 per minute shared by 3 instances: 2 each, locally.
    let mut local = Vec::new();
    for _ in 0..30 {
        let o = decided(limiter.check_key("k", 1).await);
        assert_eq!(o.decided_by(), DecidedBy::LocalFallback);
        local.push(o.admitted());
    }
    assert_eq!(local.iter().filter(|a| **a).count(), 2, "{local:?}");
    assert_eq!(limiter.breaker_state(), Some(BreakerState::Open));

    server.restart();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let o = decided(limiter.check_key("k", 1).await);
        if o.decided_by() == DecidedBy::Store {
            // The restarted server is empty: counting starts afresh.
            assert_eq!(o.policies()[0].remaining(), 5);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "not recovered within 5 s");
    }
    // That was the first of three probes; the next two close the breaker.
    assert_eq!(limiter.breaker_state(), Some(BreakerState::HalfOpen));
    for remaining in [4, 3] {
        let o = decided(limiter.check_key("k", 1).await);
        assert_eq!((o.decided_by(), o.policies()[0].remaining()), (DecidedBy::Store, remaining));
    }
    assert_eq!(limiter.breaker_state(), Some(BreakerState::Closed));
    // One line per change of state, not one per request.
    assert_eq!(
        logs.count("circuit open"),
        1,
        "{}",
        String::from_utf8_lossy(&logs.0.lock().unwrap())
    );
    assert_eq!(logs.count("circuit closed"), 1);
}

fn request() -> http::request::Parts {
    Request::get("/v1/x").body(()).expect("request").into_parts().0
}

#[tokio::test]
async fn fail_closed_answers_503_and_fail_open_admits_uncounted() {
    let mut server = RedisServer::start();
    let closed = policy(Algorithm::Gcra, &[("q", "5/60s")])
        .on_store_failure(OnStoreFailure::FailClosed)
        .build(store(&server.url()).await)
        .unwrap();
    let open = policy(Algorithm::Gcra, &[("q", "5/60s")])
        .on_store_failure(OnStoreFailure::FailOpen)
        .build(store(&server.url()).await)
        .unwrap();
    server.kill();

    let parts = request();
    let head = HttpRequestHead::new(&parts, Some("203.0.113.9:1".parse().unwrap()));
    let mut req = GuardRequest::new(&head);
    let Decision::Respond(res) = closed.check(&mut req).await else { panic!("admitted") };
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(res.headers()["ratelimit-policy"], r#""q";q=5;w=60"#);
    assert!(res.headers().get("ratelimit").is_none());
    assert!(matches!(closed.check_key("k", 1).await, Verdict::Unavailable { .. }));

    let mut req = GuardRequest::new(&head);
    let Decision::Continue(state) = open.check(&mut req).await else { panic!("refused") };
    assert!(state.outcome().is_none());
    let mut res = guard_core::GuardResponse::new(StatusCode::OK);
    open.respond(state, &mut res);
    assert_eq!(res.headers()["ratelimit-policy"], r#""q";q=5;w=60"#);
    assert!(res.headers().get("ratelimit").is_none());
    assert_eq!(open.check_key("k", 1).await, Verdict::FailedOpen);
}

/// `instances` limiters, each with its own connection, deciding `requests` concurrent requests
/// for one key: how many were admitted, and how many refused.
async fn race(url: &str, alg: Algorithm, instances: usize, requests: usize) -> (usize, usize) {
    let base = policy(alg, &[("q", "7/1h")]);
    let mut limiters: Vec<RateLimiter> = Vec::new();
    for _ in 0..instances {
        let conn = guard_core::redis::connect(url).await.expect("connect");
        limiters.push(base.build(conn).unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..requests {
        let limiter = limiters[i % instances].clone();
        tasks.spawn(async move { limiter.check_key("the-one-key", 1).await });
    }
    let (mut admitted, mut refused) = (0, 0);
    while let Some(verdict) = tasks.join_next().await {
        let outcome = decided(verdict.expect("task"));
        if outcome.admitted() {
            admitted += 1;
        } else {
            refused += 1;
        }
    }
    (admitted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_instances_admit_exactly_the_limit() {
    let server = RedisServer::start();
    for alg in ALGORITHMS {
        assert_eq!(race(&server.url(), alg, 5, 200).await, (7, 193), "{alg:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_holds_the_limit_exactly_and_survives_script_flush() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.expect("cluster");
    let url = cluster.url();
    for alg in ALGORITHMS {
        assert_eq!(race(&url, alg, 5, 200).await, (7, 193), "{alg:?}");
    }
    // Many keys, spread over the slots of every master, two policies each: each decision's
    // keys share one slot (a cross-slot script would fail).
    let limiter = policy(Algorithm::Gcra, &[("burst", "2/1s"), ("daily", "100/1d")])
        .build(store(&url).await)
        .unwrap();
    for i in 0..30 {
        let o = decided(limiter.check_key(&format!("user-{i}"), 1).await);
        assert!(o.admitted());
    }
    let per_node: Vec<u64> =
        cluster.nodes().iter().map(|n| n.command(&["DBSIZE"]).unwrap().parse().unwrap()).collect();
    assert!(per_node.iter().all(|n| *n > 0), "keys on every master: {per_node:?}");
    for node in cluster.nodes() {
        node.command(&["SCRIPT", "FLUSH"]).unwrap();
    }
    let o = decided(limiter.check_key("user-0", 1).await);
    assert_eq!(o.policies()[0].remaining(), 0, "reloaded after SCRIPT FLUSH, state kept");
}

#[tokio::test]
async fn one_slow_call_is_decided_locally_and_a_slow_store_opens_the_breaker_by_rate() {
    use guard_tests::proxy::{Fault, FaultProxy};
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr());
    // Fail closed, default breaker: a blip must still not be a 503.
    let limiter =
        policy(Algorithm::Gcra, &[("q", "100/60s")]).build(store(&proxy.url()).await).unwrap();
    limiter.warm_up().await.unwrap();
    for _ in 0..25 {
        assert_eq!(decided(limiter.check_key("k", 1).await).decided_by(), DecidedBy::Store);
    }
    // One request meets a store 400 ms late: both attempts miss the deadline, the local limiter
    // decides, the breaker stays closed.
    proxy.set(Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    let o = decided(limiter.check_key("k", 1).await);
    assert_eq!((o.decided_by(), o.admitted()), (DecidedBy::LocalFallback, true));
    assert!(started.elapsed() < Duration::from_millis(900), "two deadlines at most");
    assert_eq!(limiter.breaker_state(), Some(BreakerState::Closed));
    // The store stays slow under concurrent load: the failure rate over the breaker's 2 s window
    // opens it and fail-closed applies (503s at once, no waiting).
    let started = Instant::now();
    let mut unavailable = 0;
    while limiter.breaker_state() != Some(BreakerState::Open) {
        assert!(started.elapsed() < Duration::from_secs(5), "not open after 5 s of a slow store");
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let limiter = limiter.clone();
            requests.spawn(async move { limiter.check_key("k", 1).await });
        }
        unavailable += requests
            .join_all()
            .await
            .iter()
            .filter(|v| matches!(v, Verdict::Unavailable { .. }))
            .count();
    }
    let started = Instant::now();
    assert!(matches!(limiter.check_key("k", 1).await, Verdict::Unavailable { .. }));
    assert!(started.elapsed() < Duration::from_millis(50), "an open breaker answers at once");
    assert!(unavailable <= 8, "blips were decided locally until the breaker opened");
    // The delay goes: within the open time and three probes, the store decides again.
    proxy.set(Fault::None);
    let started = Instant::now();
    while limiter.breaker_state() != Some(BreakerState::Closed) {
        assert!(started.elapsed() < Duration::from_secs(5), "not closed within 5 s");
        let _ = limiter.check_key("k", 1).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(decided(limiter.check_key("k", 1).await).decided_by(), DecidedBy::Store);
}
