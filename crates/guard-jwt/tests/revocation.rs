//! Revocation: one suite run against the memory store and against Redis, the sub-second
//! password-change boundary, two instances sharing a Redis, and the breaker with a Redis that is
//! killed and restarted mid-test.
//!
//! The shared Redis (`REDIS_URL`, default 127.0.0.1:6379) is never flushed: every test uses its
//! own key prefix, and every key has a TTL. The outage test starts its own `redis-server`
//! (`GUARD_REDIS_SERVER` may name the binary) on a free port.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use guard_core::{
    BreakerConfig, BreakerState, Decision, Guard, GuardRequest, HttpRequestHead, ProblemType,
};
use guard_jwt::{
    Clock, FailurePolicy, Jwt, JwtPolicy, ManualClock, MemoryRevocationStore, RedisRevocationStore,
    Rejection, RevocationPolicy, RevocationStore, RevokeError, TokenError, TokenIssuer,
};
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

/// The default policy, with the default 20 ms store deadline: what the outage test measures.
fn default_policy() -> JwtPolicy {
    JwtPolicy { realm: "guard".into(), ..JwtPolicy::hs256(SECRET) }
}

/// For the functional tests, a deadline that a busy CI machine cannot miss by accident.
fn policy() -> JwtPolicy {
    let breaker = BreakerConfig { deadline: Duration::from_secs(2), ..BreakerConfig::default() };
    JwtPolicy {
        revocation: RevocationPolicy { breaker, ..RevocationPolicy::default() },
        ..default_policy()
    }
}

fn guard_with(store: impl RevocationStore, clock: &ManualClock) -> Jwt<Claims> {
    policy().build::<Claims>().unwrap().with_revocation_store(store).with_clock(clock.clone())
}

fn issuer(clock: &ManualClock) -> TokenIssuer {
    TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().with_clock(clock.clone())
}

fn refused(r: Result<impl Sized, Rejection>) -> bool {
    matches!(r, Err(Rejection::Invalid(TokenError::Revoked)))
}

/// The behaviour every store must have. `clock` drives tokens, guard and (for memory) expiry;
/// it starts at the current time so that Redis TTLs (real time) stay meaningful.
async fn suite(store: impl RevocationStore, clock: ManualClock) {
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
    let back = ManualClock::new(older);
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
    let clock = ManualClock::starting_now();
    suite(MemoryRevocationStore::new(1000).with_clock(clock.clone()), clock).await;
}

#[tokio::test]
async fn the_suite_on_redis() {
    let store = RedisRevocationStore::connect(&redis_url(), prefix("suite")).await.unwrap();
    suite(store, ManualClock::starting_now()).await;
}

#[tokio::test]
async fn redis_entries_live_as_long_as_they_must() {
    let conn = guard_core::redis::connect(&redis_url()).await.unwrap();
    let store = RedisRevocationStore::new(conn.clone(), prefix("ttl"));
    let clock = ManualClock::starting_now();
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
async fn a_revocation_through_one_instance_is_refused_by_another_at_once() {
    let prefix = prefix("instances");
    // Two instances: two connections, two guards, one Redis.
    let one: Jwt<Claims> = policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis_url(), prefix.clone()).await.unwrap(),
    );
    let two: Jwt<Claims> = policy()
        .build()
        .unwrap()
        .with_revocation_store(RedisRevocationStore::connect(&redis_url(), prefix).await.unwrap());
    let issue = TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap();
    let token = issue.issue("frank").unwrap().token;
    let info = two.authenticate(&token).await.unwrap().token;
    one.revoke(&info).await.unwrap();
    let revoked_at = Instant::now();
    assert!(refused(two.authenticate(&token).await));
    assert!(revoked_at.elapsed() < Duration::from_secs(1));

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
    let jwt: Jwt<Claims> = policy().build().unwrap().with_revocation_store(
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

/// A private `redis-server` on a fixed port, killed on drop (its directory removed).
struct PrivateRedis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
    extra: Vec<String>,
}

fn redis_server_binary() -> String {
    std::env::var("GUARD_REDIS_SERVER")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "redis-server".into())
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("guard-jwt-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server =
            Self { child: None, port, dir, extra: extra.iter().map(|s| s.to_string()).collect() };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = redis_server_binary();
        let child = Command::new(&binary)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{binary}` (set GUARD_REDIS_SERVER): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(Instant::now() < deadline, "redis-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-cli` next to the server binary, else on `PATH`.
fn redis_cli() -> std::path::PathBuf {
    let server = std::path::PathBuf::from(redis_server_binary());
    let sibling = server.with_file_name("redis-cli");
    if sibling.is_file() { sibling } else { "redis-cli".into() }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free port whose cluster bus port (port + 10000) is free and valid too.
fn free_cluster_port() -> u16 {
    for _ in 0..1000 {
        let port = free_port();
        if port <= 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

async fn status_of(jwt: &Jwt<Claims>, token: &str) -> (u16, Option<String>, String) {
    let (parts, ()) = http::Request::get("/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts();
    let head = HttpRequestHead::new(&parts, None);
    let mut req = GuardRequest::new(&head);
    match jwt.check(&mut req).await {
        Decision::Continue(()) => (200, None, String::new()),
        Decision::Respond(res) => (
            res.status().as_u16(),
            res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()),
            String::from_utf8_lossy(res.body()).into_owned(),
        ),
    }
}

#[tokio::test]
async fn a_killed_redis_costs_one_timeout_then_recovers_by_itself() {
    let mut redis = PrivateRedis::start(free_port());
    let closed: Jwt<Claims> = default_policy().build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis.url(), "outage").await.unwrap(),
    );
    let open_policy = JwtPolicy {
        revocation: RevocationPolicy {
            on_store_failure: FailurePolicy::Open,
            ..RevocationPolicy::default()
        },
        ..default_policy()
    };
    let open: Jwt<Claims> = open_policy.build().unwrap().with_revocation_store(
        RedisRevocationStore::connect(&redis.url(), "outage").await.unwrap(),
    );
    let token =
        TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().issue("heidi").unwrap().token;
    // Healthy (a first call may miss 20 ms on a busy machine; the breaker then retries in 1 s).
    for jwt in [&closed, &open] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while status_of(jwt, &token).await.0 != 200 {
            assert!(Instant::now() < deadline, "a healthy store must answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    redis.kill();
    // Fail closed: 503 with Retry-After, as problem+json, fast.
    let started = Instant::now();
    let (status, retry_after, body) = status_of(&closed, &token).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some_and(|r| r.parse::<u64>().unwrap() >= 1));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["type"], ProblemType::STORE_UNAVAILABLE.uri);
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    // The breaker is open: the following requests do not even try.
    assert_eq!(closed.revocation_breaker(), Some(BreakerState::Open));
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(status_of(&closed, &token).await.0, 503);
    }
    assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    // A logout during the outage is a 503 for the client, not a silent success.
    let info = open.authenticate(&token).await.unwrap().token;
    let err = closed.revoke(&info).await.unwrap_err();
    assert!(matches!(err, RevokeError::Unavailable { .. }), "{err}");
    assert_eq!(err.to_problem().status, 503);
    // Fail open: the token passes unchecked.
    assert_eq!(status_of(&open, &token).await.0, 200);

    // Redis comes back on the same port: the same guard recovers without any restart.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match status_of(&closed, &token).await.0 {
            200 => break,
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("no recovery: {other}"),
        }
    }
    assert_eq!(closed.revocation_breaker(), Some(BreakerState::Closed));
    // Writes work again too (retried: one call may miss 20 ms on a busy machine).
    let mut written = false;
    for _ in 0..5 {
        if closed.revoke(&info).await.is_ok() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert!(written, "the revocation was not written after recovery");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(open.authenticate(&token).await) {
        assert!(Instant::now() < deadline, "the revoked token still passes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_suite_on_a_redis_cluster() {
    let nodes: Vec<PrivateRedis> = (0..3)
        .map(|_| {
            PrivateRedis::start_with(
                free_cluster_port(),
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
        })
        .collect();
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let created = Command::new(redis_cli())
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stdout));
    let deadline = Instant::now() + Duration::from_secs(20);
    for node in &nodes {
        loop {
            let info = Command::new(redis_cli())
                .args(["-p", &node.port.to_string(), "cluster", "info"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let url = format!("redis+cluster://{}", addrs.join(","));
    let conn = guard_core::redis::connect(&url).await.unwrap();
    assert!(conn.is_cluster());
    // Subjects land on different nodes; each check is one MGET within one slot.
    suite(RedisRevocationStore::new(conn, "cluster"), ManualClock::starting_now()).await;
}
