//! Requests built and answers read the same way by every theme.

use guard_core::ProblemType;
use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead, PROBLEM_JSON};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, StatusCode};

use crate::{Cors, CorsPolicy};

pub(super) const APP: &str = "https://app.example.com";

/// Request parts with `headers`.
pub(super) fn parts(method: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().method(method).uri("/v1/items");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

pub(super) async fn check<G: Guard>(guard: &G, parts: &http::request::Parts) -> Decision<G::State> {
    let head = HttpRequestHead::new(parts, None);
    let mut req = GuardRequest::new(&head);
    guard.check(&mut req).await
}

/// A preflight's answer (the guard must answer it itself).
pub(super) async fn preflight(cors: &Cors, headers: &[(&str, &str)]) -> GuardResponse {
    match check(cors, &parts("OPTIONS", headers)).await {
        Decision::Respond(res) => res,
        Decision::Continue(_) => panic!("a preflight must be answered by the guard"),
    }
}

/// The handler's response to an actual request, amended by the guard; `handler` sets headers.
pub(super) async fn actual_with(
    cors: &Cors,
    method: &str,
    headers: &[(&str, &str)],
    handler: &[(&str, &str)],
) -> GuardResponse {
    let state = match check(cors, &parts(method, headers)).await {
        Decision::Continue(state) => state,
        Decision::Respond(res) => panic!("an actual request was answered early: {res:?}"),
    };
    let mut res = GuardResponse::new(StatusCode::OK);
    for (name, value) in handler {
        res.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    cors.respond(state, &mut res);
    res
}

pub(super) async fn actual(cors: &Cors, method: &str, headers: &[(&str, &str)]) -> GuardResponse {
    actual_with(cors, method, headers, &[]).await
}

pub(super) fn cors_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect()
}

pub(super) fn all_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut all: Vec<_> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    all.sort();
    all
}

pub(super) fn vary(headers: &HeaderMap) -> Vec<&str> {
    headers.get_all(header::VARY).iter().map(|v| v.to_str().unwrap()).collect()
}

pub(super) fn app() -> CorsPolicy {
    CorsPolicy::new().allow_origins([APP])
}

pub(super) fn assert_refused(res: &GuardResponse, detail_part: &str) {
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(cors_headers(res.headers()), []);
    let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["type"], ProblemType::CORS_REJECTED.uri);
    assert_eq!(body["status"], 403);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(detail_part), "{detail:?} lacks {detail_part:?}");
}

pub(super) const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
