//! Revocation: one suite run against the memory store and against Redis, the sub-second
//! password-change boundary, two instances sharing a Redis, and the breaker with a Redis that is
//! killed and restarted mid-test.
//!
//! The shared Redis (`REDIS_URL`, default 127.0.0.1:6379) is never flushed: every test uses its
//! own key prefix, and every key has a TTL. The outage test starts its own `redis-server`
//! (`GUARD_REDIS_SERVER` may name the binary) on a free port.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use guard_core::BreakerState;
use guard_jwt::{
    Clock, FakeClock, Jwt, JwtPolicy, MemoryRevocationStore, OnStoreFailure, RedisRevocationStore,
    Rejection, RevocationPolicy, RevocationStore, RevokeError, TokenError, TokenIssuer,
};
use guard_tests::proxy::{Fault, FaultProxy};
use guard_tests::redis_server::{RedisCluster, RedisServer};
use serde_json::json;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test (or test run) shares.
fn prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!(
        "guard-jwt-test:{}:{nanos}:{}:{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The default policy, with the default store deadline and breaker: what users run.
fn default_policy() -> JwtPolicy {
    JwtPolicy { realm: "guard".into(), ..JwtPolicy::hs256(SECRET) }
}

fn guard_with(store: impl RevocationStore, clock: &FakeClock) -> Jwt<Claims> {
    default_policy()
        .build::<Claims>()
        .unwrap()
        .with_revocation_store(store)
        .with_clock(clock.clone())
}

fn issuer(clock: &FakeClock) -> TokenIssuer {
    TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().with_clock(clock.clone())
}

fn refused(r: Result<impl Sized, Rejection>) -> bool {
    matches!(r, Err(Rejection::Invalid(TokenError::Revoked)))
}

/// The behaviour every store must have. `clock` drives tokens, guard and (for memory) expiry;
/// it starts at the current time so that Redis TTLs (real time) stay meaningful.
async fn suite(store: impl RevocationStore, clock: FakeClock) {
    // Start at .100 of a second, so the whole boundary scenario stays within one second.
    let now = clock.now_ms();
    clock.set(now - now % 1000 + 1100);
    let jwt = guard_with(store, &clock);
    let issue = issuer(&clock);

    // Logout revokes exactly the presented token.
    let a = issue.issue("alice").unwrap();
    let b = issue.issue("alice").unwrap();
    let bob = issue.issue("bob").unwrap();
    let verified = jwt.authenticate(&a.token).await.unwrap();
    jwt.revoke(&verified.token).await.unwrap();
    assert!(refused(jwt.authenticate(&a.token).await));
    assert!(jwt.authenticate(&b.token).await.is_ok());
    assert!(jwt.authenticate(&bob.token).await.is_ok());

    // Password change at T = .500: tokens issued up to T are refused, later ones work, all in
    // the same second (iat alone could not tell them apart).
    clock.advance(Duration::from_millis(399)); // .499
    let before = issue.issue("alice").unwrap();
    clock.advance(Duration::from_millis(1)); // .500
    jwt.revoke_all_for("alice").await.unwrap();
    let same_ms = issue.issue("alice").unwrap();
    clock.advance(Duration::from_millis(1)); // .501
    let after = issue.issue("alice").unwrap();
    assert_eq!(before.issued_at_ms / 1000, after.issued_at_ms / 1000, "one second");
    assert!(refused(jwt.authenticate(&before.token).await), "issued 1 ms before the change");
    assert!(refused(jwt.authenticate(&b.token).await));
    assert!(
        refused(jwt.authenticate(&same_ms.token).await),
        "the change's own millisecond counts as before"
    );
    assert!(jwt.authenticate(&after.token).await.is_ok(), "issued 1 ms after the change");
    assert!(jwt.authenticate(&bob.token).await.is_ok(), "other subjects are untouched");

    // A mark never moves back, whoever writes an older one.
    let mut older = clock.clone().now_ms();
    older -= 10_000;
    let back = FakeClock::new(older);
    let stale_writer = jwt.clone().with_clock(back);
    stale_writer.revoke_all_for("alice").await.unwrap();
    assert!(refused(jwt.authenticate(&before.token).await));
    assert!(jwt.authenticate(&after.token).await.is_ok());

    // Revoking a token that has already expired (beyond the leeway) is a no-op, not an error.
    let short =
        TokenIssuer::hs256(SECRET, Duration::from_secs(1)).unwrap().with_clock(clock.clone());
    let gone = short.issue("carol").unwrap();
    let info = jwt.authenticate(&gone.token).await.unwrap().token;
    clock.advance(Duration::from_secs(40));
    jwt.revoke(&info).await.unwrap();
    assert_eq!(
        jwt.authenticate(&gone.token).await.unwrap_err(),
        Rejection::Invalid(TokenError::Expired)
    );

    // With revocation on, tokens must be revocable and not outlive the subject marks.
    let no_jti = hs256(
        json!({"sub": "dave", "iat": clock.now_ms() / 1000, "exp": clock.now_ms() / 1000 + 60}),
    );
    assert_eq!(
        jwt.authenticate(&no_jti).await.unwrap_err(),
        Rejection::Invalid(TokenError::MissingClaim("jti"))
    );
    let long = TokenIssuer::hs256(SECRET, Duration::from_secs(2 * 86_400))
        .unwrap()
        .with_clock(clock.clone());
    assert_eq!(
        jwt.authenticate(&long.issue("dave").unwrap().token).await.unwrap_err(),
        Rejection::Invalid(TokenError::LifetimeTooLong)
    );
}

#[tokio::test]
async fn the_suite_on_the_memory_store() {
    let clock = FakeClock::starting_now();
    suite(MemoryRevocationStore::new(1000).with_clock(clock.clone()), clock).await;
}

#[tokio::test]
async fn the_suite_on_redis() {
    let store = RedisRevocationStore::connect(&redis_url(), prefix("suite")).await.unwrap();
    suite(store, FakeClock::starting_now()).await;
}

#[tokio::test]
async fn redis_entries_live_as_long_as_they_must() {
    let conn = guard_core::redis::connect(&redis_url()).await.unwrap();
    let store = RedisRevocationStore::new(conn.clone(), prefix("ttl"));
    let clock = FakeClock::starting_now();
    let jwt = guard_with(store.clone(), &clock);
    let issued = issuer(&clock).issue("erin").unwrap();
    let info = jwt.authenticate(&issued.token).await.unwrap().token;
    jwt.revoke(&info).await.unwrap();
    jwt.revoke_all_for("erin").await.unwrap();
    let mut c = conn.clone();
    let token_ttl: i64 = redis::cmd("PTTL")
        .arg(store.token_key("erin", &issued.jti))
        .query_async(&mut c)
        .await
        .unwrap();
    // 900 s of life + 30 s leeway.
    assert!((925_000..=930_000).contains(&token_ttl), "{token_ttl}");
    let mark_ttl: i64 =
        redis::cmd("PTTL").arg(store.subject_key("erin")).query_async(&mut c).await.unwrap();
    // A day + leeway + 1 s.
    assert!((86_425_000..=86_431_000).contains(&mark_ttl), "{mark_ttl}");
    let mark: u64 =
        redis::cmd("GET").arg(store.subject_key("erin")).query_async(&mut c).await.unwrap();
    assert_eq!(mark, clock.now_ms());
}

#[tokio::test]
async fn redis_keys_are_the_documented_ones_and_a_subjects_keys_share_one_slot() {
    use guard_core::keys::key_slot;

    let conn = guard_core::redis::connect(&redis_url()).await.unwrap();
    let store = RedisRevocationStore::new(conn, "p");
    assert_eq!(store.token_key("user-1", "abc"), "p:{user-1}:t:abc");
    assert_eq!(store.subject_key("user-1"), "p:{user-1}:all");
    // A `jti` over 64 bytes, or not plain ASCII, is replaced by its SHA-256 (first 128 bits).
    assert_eq!(
        store.token_key("user-1", &"j".repeat(65)),
        "p:{user-1}:t:#7d8531b950dcc0ef351c8e4d7e241e87"
    );
    assert_eq!(store.token_key("user-1", "a b"), "p:{user-1}:t:#c8687a08aa5d6ed2044328fa6a697ab8");
    // So is a long subject, inside its hash tag.
    let long = "u".repeat(65);
    assert_eq!(store.subject_key(&long), "p:{#f20e249d15fa4b9f44ba21d154f62e1e}:all");
    for (subject, jti) in [("user-1", "abc"), (long.as_str(), "a b"), ("user-2", &"j".repeat(65))] {
        let slot = key_slot(store.subject_key(subject).as_bytes());
        assert_eq!(key_slot(store.token_key(subject, jti).as_bytes()), slot, "{subject}");
    }
    assert_ne!(
        key_slot(store.subject_key("user-1").as_bytes()),
        key_slot(store.subject_key("user-2").as_bytes())
    );
}

#[tokio::test]
async fn a_revocation_through_one_instance_is_refused_by_another_at_once() {
    let prefix = prefix("instances");
    // Two instances: two connections, two guards, one Redis.
    let one: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis_url(), prefix.clone()).await.unwrap(),
    );
    let two: Jwt<Claims> = default_policy()
        .build()
        .unwrap()
        .with_revocation_store(RedisRevocationStore::connect(&redis_url(), prefix).await.unwrap());
    let issue = TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap();
    let token = issue.issue("frank").unwrap().token;
    let info = two.authenticate(&token).await.unwrap().token;
    one.revoke(&info).await.unwrap();
    // At once: the very next check on the other instance, with no wait and no retry.
    assert!(refused(two.authenticate(&token).await));

    // Logout everywhere through the second instance, seen by the first.
    let other = issue.issue("frank").unwrap().token;
    assert!(one.authenticate(&other).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2)).await;
    two.revoke_all_for("frank").await.unwrap();
    assert!(refused(one.authenticate(&other).await));
    tokio::time::sleep(Duration::from_millis(2)).await;
    let fresh = issue.issue("frank").unwrap().token;
    assert!(one.authenticate(&fresh).await.is_ok());
    assert!(two.authenticate(&fresh).await.is_ok());
}

#[tokio::test]
async fn a_password_change_with_the_real_clock_is_precise_below_a_second() {
    let jwt: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis_url(), prefix("realclock")).await.unwrap(),
    );
    let issue = TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap();
    // Start early in a second, so that everything below happens within it.
    while guard_jwt::SystemClock.now_ms() % 1000 > 700 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = issue.issue("grace").unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    jwt.revoke_all_for("grace").await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    let after = issue.issue("grace").unwrap();
    assert_eq!(before.issued_at_ms / 1000, after.issued_at_ms / 1000);
    assert!(refused(jwt.authenticate(&before.token).await));
    assert!(jwt.authenticate(&after.token).await.is_ok());
}

async fn status_of(jwt: &Jwt<Claims>, token: &str) -> (u16, Option<String>, String) {
    match guard_answer(jwt, bearer_request(token)).await {
        None => (200, None, String::new()),
        Some(res) => (
            res.status().as_u16(),
            res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()),
            String::from_utf8_lossy(res.body()).into_owned(),
        ),
    }
}

#[tokio::test]
async fn a_killed_redis_is_a_503_at_once_then_recovers_by_itself() {
    let mut redis = RedisServer::start();
    let closed: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis.url(), "outage").await.unwrap(),
    );
    let open_policy = JwtPolicy {
        revocation: RevocationPolicy {
            on_store_failure: OnStoreFailure::FailOpen,
            ..RevocationPolicy::default()
        },
        ..default_policy()
    };
    let open: Jwt<Claims> = open_policy.build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis.url(), "outage").await.unwrap(),
    );
    closed.warm_up().await.unwrap();
    let token =
        TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().issue("heidi").unwrap().token;
    for jwt in [&closed, &open] {
        assert_eq!(status_of(jwt, &token).await.0, 200, "a healthy store answers");
    }

    redis.kill();
    // Fail closed: 503 with Retry-After, as problem+json: a refused connection is an outage, not
    // a blip, so the breaker opens on this very request.
    let (status, retry_after, body) = status_of(&closed, &token).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["type"], "tag:guard.rs,2026:problem:store-unavailable");
    // The breaker is open: the following requests are answered without touching the store.
    assert_eq!(closed.revocation_breaker(), Some(BreakerState::Open));
    assert_eq!(status_of(&closed, &token).await.0, 503);
    // A logout during the outage is a 503 for the client, not a silent success.
    let info = open.authenticate(&token).await.unwrap().token;
    let err = closed.revoke(&info).await.unwrap_err();
    assert!(matches!(err, RevokeError::Unavailable { .. }), "{err}");
    assert_eq!(err.to_problem().status, 503);
    // Fail open: the token passes unchecked.
    assert_eq!(status_of(&open, &token).await.0, 200);

    // Redis comes back on the same port: the same guard recovers without any restart, within
    // the breaker's longest open time and its probes.
    redis.restart();
    let started = Instant::now();
    while closed.revocation_breaker() != Some(BreakerState::Closed) {
        assert!(started.elapsed() < Duration::from_secs(5), "no recovery within 5 s");
        let status = status_of(&closed, &token).await.0;
        assert!(status == 200 || status == 503, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of(&closed, &token).await.0, 200);
    closed.revoke(&info).await.unwrap();
    assert!(refused(open.authenticate(&token).await));
}

#[tokio::test]
async fn a_blip_costs_a_valid_token_no_503_and_never_lets_a_revoked_one_through() {
    let redis = RedisServer::start();
    let proxy = FaultProxy::start(redis.addr());
    let prefix = prefix("blip");
    let jwt: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&proxy.url(), prefix.as_str()).await.unwrap(),
    );
    let issue = TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap();
    let valid = issue.issue("ivan").unwrap().token;
    let revoked = issue.issue("ivan").unwrap().token;
    let info = jwt.authenticate(&revoked).await.unwrap().token;
    jwt.revoke(&info).await.unwrap();

    // A store that answers nothing for a while (paused): both attempts miss the deadline, so
    // there is no answer, and the revoked token is refused with 503 (fail closed), never
    // admitted. Two failures among few calls: the breaker stays closed.
    let paused_proxy = FaultProxy::start(redis.addr());
    let paused: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&paused_proxy.url(), prefix.as_str()).await.unwrap(),
    );
    paused_proxy.set(Fault::Delay(Duration::from_secs(2)));
    let (status, _, _) = status_of(&paused, &revoked).await;
    assert_eq!(status, 503, "an unanswered check never admits");
    assert_eq!(paused.revocation_breaker(), Some(BreakerState::Closed));

    // One slow answer (300 ms, past the 250 ms deadline): the retry finds the store healthy, so
    // the valid token passes and the revoked one is refused: no 503 for one slow call.
    let slow = jwt;
    proxy.set(Fault::DelayOnce(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(status_of(&slow, &valid).await.0, 200);
    assert!(started.elapsed() < Duration::from_millis(500), "two deadlines at most");
    proxy.set(Fault::DelayOnce(Duration::from_millis(300)));
    assert!(refused(slow.authenticate(&revoked).await));
    assert_eq!(slow.revocation_breaker(), Some(BreakerState::Closed));
}

#[tokio::test]
async fn the_suite_on_a_redis_cluster() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.unwrap();
    let conn = guard_core::redis::connect(&cluster.url()).await.unwrap();
    assert!(conn.is_cluster());
    // Subjects land on different nodes; each check is one MGET within one slot.
    suite(RedisRevocationStore::new(conn, "cluster"), FakeClock::starting_now()).await;
}

#[tokio::test]
async fn a_login_that_read_the_old_credential_is_revoked_by_the_change_it_raced() {
    let clock = FakeClock::starting_now();
    let jwt = guard_with(MemoryRevocationStore::new(100), &clock);
    let issue = issuer(&clock);
    // A login begins (its issue time is taken) and reads the old password hash...
    let racing = issue.begin_authentication();
    clock.advance(Duration::from_millis(3));
    // ...while the change marks the subject, writes the new hash (which takes a while), and
    // marks it again.
    let write = async {
        clock.advance(Duration::from_millis(40));
        Ok::<_, std::convert::Infallible>("stored")
    };
    assert_eq!(jwt.change_credentials("judy", write).await.unwrap(), "stored");
    // The login finishes its (old-password) check after the change: its token is revoked,
    // though minted after the first mark.
    clock.advance(Duration::from_millis(5));
    let raced = issue.issue_authenticated(racing, "judy").unwrap();
    assert!(refused(jwt.authenticate(&raced.token).await));
    // The same login minted the naive way (dated at minting) would have passed: what the
    // authentication start prevents.
    let naive = issue.issue("judy").unwrap();
    assert!(jwt.authenticate(&naive.token).await.is_ok());
    // A login that begins after the change works.
    clock.advance(Duration::from_millis(1));
    let fresh = issue.begin_authentication();
    let token = issue.issue_authenticated(fresh, "judy").unwrap();
    assert!(jwt.authenticate(&token.token).await.is_ok());
    // A failed write leaves the tokens before it revoked and reports the write's error.
    let before = issue.issue("judy").unwrap();
    clock.advance(Duration::from_millis(1));
    let failed = jwt.change_credentials("judy", async { Err::<(), _>("disk full") }).await;
    assert!(matches!(failed, Err(guard_jwt::CredentialChangeError::Change("disk full"))));
    assert!(refused(jwt.authenticate(&before.token).await));
}
