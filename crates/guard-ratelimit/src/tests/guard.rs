//! The guard as a client sees it: headers on admitted and refused responses, keys, costs and the
//! missing-key policy, called directly. (Through the Tower/axum adapter: `tests/tests/ratelimit.rs`
//! of guard-tests.)

use std::time::Duration;

use guard_core::{
    Decision, Guard, GuardExt, GuardRequest, GuardResponse, HttpRequestHead, ResponseHead,
    TrustedProxies,
};
use http::{Request, StatusCode};

use super::policy;
use crate::{Algorithm, FakeClock, Key, MemoryStore, MissingKey, RateLimitPolicy, RateLimiter};

/// `policy` built on a memory store, and the store's clock (starting at 0).
fn in_memory(policy: RateLimitPolicy) -> (RateLimiter, FakeClock) {
    let clock = FakeClock::new(0);
    (policy.build(MemoryStore::with_clock(1_000, clock.clone())).unwrap(), clock)
}

/// Runs the guard on a request from `peer` with `headers`; for an admitted request, runs its
/// response step on a 200 and returns that.
async fn call<G: Guard>(guard: &G, peer: &str, headers: &[(&str, &str)]) -> GuardResponse {
    let mut builder = Request::get("/v1/thing");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    let head = HttpRequestHead::new(&parts, Some(peer.parse().unwrap()));
    let mut req = GuardRequest::new(&head);
    match guard.check(&mut req).await {
        Decision::Continue(state) => {
            let mut res = GuardResponse::new(StatusCode::OK);
            guard.respond(state, &mut res);
            res
        }
        Decision::Respond(res) => res,
    }
}

fn header(res: &GuardResponse, name: &str) -> Option<String> {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn every_response_carries_both_headers_and_a_refusal_says_when_to_return() {
    let (limiter, clock) =
        in_memory(policy(Algorithm::Gcra, &[("burst", "2/1s"), ("daily", "1000/1d")]));
    let policy = r#""burst";q=2;w=1, "daily";q=1000;w=86400"#;
    let first = call(&limiter, "203.0.113.9:1", &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "ratelimit-policy").as_deref(), Some(policy));
    // GCRA: one burst unit drains in 500 ms; one daily unit in 86.4 s.
    assert_eq!(
        header(&first, "ratelimit").as_deref(),
        Some(r#""burst";r=1;t=1, "daily";r=999;t=87"#)
    );
    assert!(header(&first, "x-ratelimit-limit").is_none(), "legacy headers are opt-in");
    call(&limiter, "203.0.113.9:1", &[]).await;

    let refused = call(&limiter, "203.0.113.9:1", &[]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "content-type").as_deref(), Some("application/problem+json"));
    assert_eq!(header(&refused, "ratelimit-policy").as_deref(), Some(policy));
    assert_eq!(
        header(&refused, "ratelimit").as_deref(),
        Some(r#""burst";r=0;t=1, "daily";r=998;t=173"#)
    );
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("1"));
    let body: serde_json::Value = serde_json::from_slice(refused.body()).unwrap();
    assert_eq!(body["type"], "tag:guard.rs,2026:problem:rate-limited");
    assert_eq!(body["status"], 429);
    assert_eq!(body["policies"], serde_json::json!(["burst"]));

    // Retry-After is not early: 1 ms before the 500 ms wait is over, still refused; after the
    // announced second, admitted.
    clock.advance(Duration::from_millis(499));
    assert_eq!(call(&limiter, "203.0.113.9:1", &[]).await.status(), StatusCode::TOO_MANY_REQUESTS);
    clock.advance(Duration::from_millis(501));
    assert_eq!(call(&limiter, "203.0.113.9:1", &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn retry_after_is_the_largest_wait_of_the_refusing_policies_rounded_up() {
    let (limiter, clock) =
        in_memory(policy(Algorithm::FixedWindow, &[("a", "1/1500ms"), ("b", "1/2500ms")]));
    call(&limiter, "198.51.100.1:1", &[]).await;
    clock.advance(Duration::from_millis(100));
    let refused = call(&limiter, "198.51.100.1:1", &[]).await;
    // a: 1.4 s → 2; b: 2.4 s → 3.
    assert_eq!(header(&refused, "ratelimit").as_deref(), Some(r#""a";r=0;t=2, "b";r=0;t=3"#));
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("3"));
    assert_eq!(
        header(&refused, "ratelimit-policy").as_deref(),
        Some(r#""a";q=1;w=2, "b";q=1;w=3"#)
    );
}

#[tokio::test]
async fn legacy_headers_describe_the_most_constrained_policy() {
    let (limiter, _) = in_memory(
        policy(Algorithm::FixedWindow, &[("minute", "10/60s"), ("second", "3/1s")])
            .legacy_headers(true),
    );
    let res = call(&limiter, "198.51.100.1:1", &[]).await;
    assert_eq!(header(&res, "x-ratelimit-limit").as_deref(), Some("3"));
    assert_eq!(header(&res, "x-ratelimit-remaining").as_deref(), Some("2"));
    let reset: u64 = header(&res, "x-ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 1..=now + 2).contains(&reset), "{reset} vs {now}");
}

#[tokio::test]
async fn clients_are_counted_by_ip_behind_trusted_proxies_ipv6_by_prefix() {
    let (limiter, _) = in_memory(
        policy(Algorithm::Gcra, &[("q", "1/60s")])
            .trusted_proxies(TrustedProxies::parse("10.0.0.0/8").unwrap()),
    );
    let ok = |res: GuardResponse| res.status() == StatusCode::OK;
    assert!(ok(call(&limiter, "203.0.113.1:1", &[]).await));
    assert!(!ok(call(&limiter, "203.0.113.1:2", &[]).await));
    // The same client behind the trusted proxy, whatever it writes on the left.
    let xff = [("x-forwarded-for", "6.6.6.6, 203.0.113.1")];
    assert!(!ok(call(&limiter, "10.0.0.5:1", &xff).await));
    // An untrusted peer's header is ignored: the peer itself is the client.
    assert!(ok(call(&limiter, "198.51.100.7:1", &[("x-forwarded-for", "203.0.113.99")]).await));
    // IPv6: one /64 is one client.
    assert!(ok(call(&limiter, "[2001:db8:0:1::1]:1", &[]).await));
    assert!(!ok(call(&limiter, "[2001:db8:0:1:ffff::2]:1", &[]).await));
    assert!(ok(call(&limiter, "[2001:db8:0:2::1]:1", &[]).await));
}

/// What an authentication guard leaves for later guards.
#[derive(Clone)]
struct Claims {
    sub: String,
}

/// Authenticates by `x-user`, as a stand-in for a JWT guard.
struct FakeAuth;

impl Guard for FakeAuth {
    type State = ();
    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<()> {
        let user = req.header(&http::HeaderName::from_static("x-user")).map(|v| v.to_vec());
        if let Some(user) = user {
            req.extensions_mut().insert(Claims { sub: String::from_utf8_lossy(&user).into() });
        }
        Decision::Continue(())
    }
    fn respond(&self, _: (), _: &mut dyn ResponseHead) {}
}

#[tokio::test]
async fn users_are_counted_by_subject_and_requests_without_one_follow_the_policy() {
    let per_user = |missing| {
        let policy = policy(Algorithm::Gcra, &[("q", "1/60s")])
            .key(Key::from_extension(|c: &Claims| c.sub.clone()))
            .missing_key(missing);
        in_memory(policy).0
    };
    let skip = FakeAuth.then(per_user(MissingKey::Skip));
    let alice = [("x-user", "alice")];
    assert_eq!(call(&skip, "203.0.113.1:1", &alice).await.status(), StatusCode::OK);
    // Alice from another address is still Alice.
    let res = call(&skip, "198.51.100.2:1", &alice).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(call(&skip, "203.0.113.1:1", &[("x-user", "bob")]).await.status(), StatusCode::OK);
    // No subject, skipped: through, unlimited and without headers.
    for _ in 0..3 {
        let res = call(&skip, "203.0.113.1:1", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(header(&res, "ratelimit").is_none() && header(&res, "ratelimit-policy").is_none());
    }
    // Refused (the default): an extension no guard left is the server's wiring, a 500...
    let refuse = FakeAuth.then(per_user(MissingKey::default()));
    let res = call(&refuse, "203.0.113.1:1", &[]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(header(&res, "content-type").as_deref(), Some("application/problem+json"));
    // ...while a header the client did not send is the client's: a 403.
    let (per_key, _) = in_memory(
        policy(Algorithm::Gcra, &[("q", "1/60s")]).key(http::HeaderName::from_static("x-api-key")),
    );
    let res = call(&per_key, "203.0.113.1:1", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&res, "content-type").as_deref(), Some("application/problem+json"));
}

#[tokio::test]
async fn costs_come_from_the_request_when_asked() {
    let (limiter, _) = in_memory(
        policy(Algorithm::FixedWindow, &[("q", "10/60s")])
            .key(http::HeaderName::from_static("x-api-key"))
            .cost_fn(|req| if req.query() == Some("export") { 6 } else { 1 }),
    );
    let key = [("x-api-key", "k1")];
    let res = call(&limiter, "203.0.113.1:1", &key).await;
    assert_eq!(header(&res, "ratelimit").as_deref(), Some(r#""q";r=9;t=60"#));
    // Without the header there is no key: refused (403), without the RateLimit header.
    assert!(header(&call(&limiter, "203.0.113.1:1", &[]).await, "ratelimit").is_none());

    let export = |limiter: RateLimiter| async move {
        let (parts, ()) =
            Request::get("/v1/x?export").header("x-api-key", "k1").body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        let mut req = GuardRequest::new(&head);
        matches!(limiter.check(&mut req).await, Decision::Continue(_))
    };
    assert!(export(limiter.clone()).await, "1 + 6 ≤ 10");
    assert!(!export(limiter.clone()).await, "7 + 6 > 10");
}

#[tokio::test]
async fn each_refusal_is_reported_once_through_the_core() {
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || Sink(sink.clone())).with_ansi(false).finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let (limiter, _) = in_memory(policy(Algorithm::Gcra, &[("q", "1/60s")]));
    for _ in 0..3 {
        call(&limiter, "203.0.113.1:1", &[]).await;
    }
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("request refused").count(), 2, "{text}");
    assert!(text.contains("quota exhausted") && text.contains("ratelimit"), "{text}");
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
