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

/// A preflight's request headers from [`APP`], asking for `method` and the request `headers`.
pub(super) fn asking<'a>(method: &'a str, headers: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("origin", APP),
        ("access-control-request-method", method),
        ("access-control-request-headers", headers),
    ]
}

/// The handler's response to an actual request, amended by the guard; `handler` sets headers.
pub(super) async fn actual_with(
    cors: &Cors,
    method: &str,
    headers: &[(&str, &str)],
    handler: &[(&str, &str)],
) -> GuardResponse {
    respond_to(cors, &parts(method, headers), handler).await
}

/// The handler's response to the actual request `parts`, amended by the guard.
pub(super) async fn respond_to(
    cors: &Cors,
    parts: &http::request::Parts,
    handler: &[(&str, &str)],
) -> GuardResponse {
    let state = match check(cors, parts).await {
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

/// Asserts that `res` carries exactly the headers of `expected`, which is sorted.
pub(super) fn assert_headers(res: &GuardResponse, expected: &[(&str, &str)]) {
    let mut all: Vec<(&str, &str)> = res
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    all.sort();
    assert_eq!(all, expected);
}

/// Asserts that `origin` is allowed: echoed byte for byte to an actual request and a preflight.
pub(super) async fn assert_echoed(cors: &Cors, origin: &str) {
    let res = actual(cors, "GET", &[("origin", origin)]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
    let res =
        preflight(cors, &[("origin", origin), ("access-control-request-method", "GET")]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
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
