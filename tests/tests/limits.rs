//! Rate limits that could not find their key, through both adapters: they refuse and say why,
//! instead of silently letting every request through (what a new user met by serving axum the
//! documented way, or by keying on a type no guard inserts).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use guard_core::{Guard, GuardExt};
use guard_ratelimit::{Key, MemoryStore, RateLimitPolicy, RateLimiter};
use guard_tests::harness::{Req, call_actix, call_axum};
use guard_tests::logs::Logs;
use http::StatusCode;

/// One answer: status, content type, body.
type Answer = (u16, String, String);

/// What one framework answered, and what was logged meanwhile.
type Seen = (String, Vec<Answer>, String);

/// The status, content type and body of three requests through `guard` on each framework, and
/// what was logged; the peer address is unknown to both (no `ConnectInfo` for axum, none in
/// actix-web's test requests).
async fn through_both<G: Guard + Clone + Send + Sync + 'static>(
    guard: impl Fn() -> G,
    headers: &[(&'static str, &'static str)],
) -> Vec<Seen> {
    let mut seen = Vec::new();
    for framework in ["actix-web", "axum"] {
        let logs = Logs::default();
        let _log = logs.capture(tracing::Level::WARN);
        let mut r = Req::get("/");
        for (name, value) in headers {
            r = r.header(*name, *value);
        }
        let mut answers = Vec::new();
        if framework == "actix-web" {
            let app = actix_test::init_service(
                App::new()
                    .wrap(guard_actix::GuardMiddleware::new(guard()))
                    .route("/", web::get().to(|| async { HttpResponse::Ok().body("handler") })),
            )
            .await;
            for _ in 0..3 {
                let res = call_actix(&app, &r).await;
                answers.push((res.status, res.content_type().to_owned(), res.body));
            }
        } else {
            let app = Router::new()
                .route("/", axum::routing::get(|| async { "handler" }))
                .layer(guard_tower::GuardLayer::new(guard()));
            for _ in 0..3 {
                let res = call_axum(app.clone(), &r).await;
                answers.push((res.status, res.content_type().to_owned(), res.body));
            }
        }
        seen.push((framework.to_owned(), answers, logs.text()));
    }
    seen
}

fn limiter(key: Key) -> RateLimiter {
    RateLimitPolicy::new("limits-test")
        .quota("q", "2/60s".parse().unwrap())
        .key(key)
        .build(MemoryStore::default())
        .unwrap()
}

/// Every answer a 500 problem, not the handler; one error line naming `cause`.
fn refused_and_logged_once(seen: &[Seen], cause: &str) {
    for (framework, answers, logs) in seen {
        for (status, content_type, body) in answers {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR.as_u16(), "{framework}: {body}");
            assert_eq!(content_type, "application/problem+json", "{framework}");
            assert!(!body.contains("handler"), "{framework}: the limit let it through");
        }
        let errors: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{framework}: one error line, not one per request: {logs}");
        assert!(errors[0].contains(cause), "{framework}: {}", errors[0]);
        assert!(errors[0].contains("MissingKey::Skip"), "{framework}: names the explicit way out");
    }
}

#[tokio::test]
async fn a_client_ip_limit_without_a_peer_address_refuses_and_says_how_to_serve() {
    let seen = through_both(|| limiter(Key::client_ip()), &[]).await;
    refused_and_logged_once(&seen, "into_make_service_with_connect_info");
}

/// What a JWT guard leaves is `VerifiedClaims<C>`, not `C`: the easy confusion.
#[derive(Clone, serde::Deserialize)]
struct AccessClaims {
    #[allow(dead_code)]
    sub: String,
}

const SECRET: &str = "limits-test-secret-that-is-long-enough-012345";

#[tokio::test]
async fn a_limit_keyed_on_a_type_no_guard_inserts_refuses_and_names_the_type() {
    let token = guard_jwt::TokenIssuer::hs256(SECRET, std::time::Duration::from_secs(60))
        .unwrap()
        .issue("alice")
        .unwrap()
        .token;
    let bearer: &'static str = Box::leak(format!("Bearer {token}").into_boxed_str());
    let jwt = guard_jwt::JwtPolicy::hs256(SECRET).build::<AccessClaims>().unwrap();
    let wrong = jwt.clone();
    let seen = through_both(
        move || wrong.clone().then(limiter(Key::from_extension(|c: &AccessClaims| c.sub.clone()))),
        &[("authorization", bearer)],
    )
    .await;
    refused_and_logged_once(&seen, "AccessClaims");
    // The key that cannot name the wrong type counts alice: 2 admitted, then 429.
    let seen = through_both(
        move || jwt.clone().then(limiter(Key::subject())),
        &[("authorization", bearer)],
    )
    .await;
    for (framework, answers, _) in seen {
        let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
        assert_eq!(statuses, [200, 200, 429], "{framework}");
    }
}
