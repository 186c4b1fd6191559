//! Rate limits that could not find their key, through both adapters: they refuse and say why,
//! instead of silently letting every request through (what a new user met by serving axum the
//! documented way, or by keying on a type no guard inserts).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use guard_core::{Guard, GuardExt};
use guard_ratelimit::{Key, MemoryStore, RateLimitConfig, RateLimiter};
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Log lines, collected.
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
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

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
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        let _log = tracing::subscriber::set_default(subscriber);
        let mut answers = Vec::new();
        if framework == "actix-web" {
            let app = actix_test::init_service(
                App::new()
                    .wrap(guard_actix::GuardMiddleware::new(guard()))
                    .route("/", web::get().to(|| async { HttpResponse::Ok().body("handler") })),
            )
            .await;
            for _ in 0..3 {
                let mut req = actix_test::TestRequest::get().uri("/");
                for (name, value) in headers {
                    req = req.insert_header((*name, *value));
                }
                let res = actix_test::call_service(&app, req.to_request()).await;
                let status = res.status().as_u16();
                let content_type = res
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&actix_test::read_body(res).await).into_owned();
                answers.push((status, content_type, body));
            }
        } else {
            let app = Router::new()
                .route("/", axum::routing::get(|| async { "handler" }))
                .layer(guard_tower::GuardLayer::new(guard()));
            for _ in 0..3 {
                let mut req = http::Request::get("/");
                for (name, value) in headers {
                    req = req.header(*name, *value);
                }
                let res = app
                    .clone()
                    .oneshot(req.body(axum::body::Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let content_type = res
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                answers.push((status, content_type, String::from_utf8_lossy(&body).into_owned()));
            }
        }
        seen.push((framework.to_owned(), answers, logs.text()));
    }
    seen
}

fn limiter(key: Key) -> RateLimiter {
    RateLimitConfig::new("limits-test")
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
