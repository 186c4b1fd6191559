//! `Vary: Origin` on every response that depends on the origin, inner guards' early answers
//! included.

use guard_core::{Decision, Guard, GuardExt, GuardRequest, Problem, ProblemType, ResponseHead};
use http::StatusCode;
use http::header::{self, HeaderValue};

use super::helpers::{
    APP, actual, actual_with, app, assert_refused, check, cors_headers, parts, preflight, vary,
};
use crate::CorsPolicy;

#[tokio::test]
async fn vary_origin_is_on_every_response_and_extended_not_duplicated() {
    let cors = app().build().unwrap();
    for origin in [Some(APP), Some("https://evil.com"), None] {
        let req: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let res = actual(&cors, "GET", &req).await;
        assert_eq!(vary(res.headers()), ["Origin"], "{origin:?}");
        let res = actual_with(&cors, "GET", &req, &[("vary", "Accept-Encoding")]).await;
        assert_eq!(vary(res.headers()), ["Accept-Encoding, Origin"]);
        let res =
            actual_with(&cors, "GET", &req, &[("vary", "accept-encoding"), ("vary", "Cookie ")])
                .await;
        assert_eq!(vary(res.headers()), ["accept-encoding, Cookie, Origin"]);
        for already in ["origin", "Accept, ORIGIN", "*", "accept, *"] {
            let res = actual_with(&cors, "GET", &req, &[("vary", already)]).await;
            assert_eq!(vary(res.headers()), [already]);
        }
        let res = actual_with(&cors, "GET", &req, &[("vary", "Accept"), ("vary", "Origin")]).await;
        assert_eq!(vary(res.headers()), ["Accept", "Origin"]);
        // Applying the guard twice (two stacks sharing a policy) still adds it once.
        let Decision::Continue(state) = check(&cors, &parts("GET", &req)).await else { panic!() };
        let mut res = actual_with(&cors, "GET", &req, &[("vary", "Accept")]).await;
        cors.respond(state, &mut res);
        assert_eq!(vary(res.headers()), ["Accept, Origin"]);
    }
}

/// An inner guard that answers early, like a rate limiter.
struct TooManyRequests;

impl Guard for TooManyRequests {
    type State = ();

    async fn check(&self, _req: &mut GuardRequest<'_>) -> Decision<()> {
        Decision::Respond(
            Problem::new(ProblemType::RATE_LIMITED)
                .with_header(header::VARY, HeaderValue::from_static("Accept"))
                .into(),
        )
    }

    fn respond(&self, _state: (), _res: &mut dyn ResponseHead) {}
}

#[tokio::test]
async fn early_answers_of_inner_guards_get_cors_headers_and_vary() {
    let stack = app().allow_credentials(true).build().unwrap().then(TooManyRequests);
    let Decision::Respond(res) = check(&stack, &parts("GET", &[("origin", APP)])).await else {
        panic!("the inner guard answers");
    };
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    assert_eq!(vary(res.headers()), ["Accept, Origin"]);
    for req in [vec![("origin", "https://evil.com")], vec![]] {
        let Decision::Respond(res) = check(&stack, &parts("GET", &req)).await else { panic!() };
        assert_eq!(cors_headers(res.headers()), []);
        assert_eq!(vary(res.headers()), ["Accept, Origin"]);
    }
    // Preflights never reach the inner guard.
    let Decision::Respond(res) = check(
        &stack,
        &parts("OPTIONS", &[("origin", APP), ("access-control-request-method", "GET")]),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn any_origin_is_a_constant_star_without_vary() {
    let cors = CorsPolicy::new().allow_any_origin().expose_headers(["*"]).build().unwrap();
    for req in [vec![("origin", "https://anything.example")], vec![("origin", "null")], vec![]] {
        let res = actual_with(&cors, "GET", &req, &[("vary", "Accept")]).await;
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert_eq!(res.headers()["access-control-expose-headers"], "*");
        assert!(res.headers().get("access-control-allow-credentials").is_none());
        assert_eq!(vary(res.headers()), ["Accept"]);
    }
    let res = preflight(
        &cors,
        &[("origin", "https://anything.example"), ("access-control-request-method", "PUT")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        vary(res.headers()),
        ["Access-Control-Request-Method, Access-Control-Request-Headers"]
    );
    let res = preflight(
        &cors,
        &[("origin", "https://anything.example"), ("access-control-request-method", "TRACE")],
    )
    .await;
    assert_refused(&res, "method TRACE");
}
