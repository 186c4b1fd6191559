use std::sync::Arc;
use std::time::Duration;

use guard_core::{GuardExt, HttpRequestHead, PROBLEM_JSON};
use http::{HeaderMap, Request};
use proptest::prelude::*;

use super::*;
use crate::error::{NotASubdomainPattern, NotAnOrigin};

const APP: &str = "https://app.example.com";

/// Request parts with `headers`.
fn parts(method: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = Request::builder().method(method).uri("/v1/items");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

async fn check<G: Guard>(guard: &G, parts: &http::request::Parts) -> Decision<G::State> {
    let head = HttpRequestHead::new(parts, None);
    let mut req = GuardRequest::new(&head);
    guard.check(&mut req).await
}

/// A preflight's answer (the guard must answer it itself).
async fn preflight(cors: &Cors, headers: &[(&str, &str)]) -> GuardResponse {
    match check(cors, &parts("OPTIONS", headers)).await {
        Decision::Respond(res) => res,
        Decision::Continue(_) => panic!("a preflight must be answered by the guard"),
    }
}

/// The handler's response to an actual request, amended by the guard; `handler` sets headers.
async fn actual_with(
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

async fn actual(cors: &Cors, method: &str, headers: &[(&str, &str)]) -> GuardResponse {
    actual_with(cors, method, headers, &[]).await
}

fn cors_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect()
}

fn all_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut all: Vec<_> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    all.sort();
    all
}

fn vary(headers: &HeaderMap) -> Vec<&str> {
    headers.get_all(header::VARY).iter().map(|v| v.to_str().unwrap()).collect()
}

fn app() -> CorsPolicy {
    CorsPolicy::new().allow_origins([APP])
}

fn assert_refused(res: &GuardResponse, detail_part: &str) {
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(cors_headers(res.headers()), []);
    let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
    assert_eq!(body["type"], ProblemType::CORS_REJECTED.uri);
    assert_eq!(body["status"], 403);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(detail_part), "{detail:?} lacks {detail_part:?}");
}

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

// --- Preflight or not ---------------------------------------------------------------------------

#[tokio::test]
async fn only_options_with_a_request_method_is_a_preflight() {
    let cors = app().build().unwrap();
    // OPTIONS without Access-Control-Request-Method: the handler's, with the actual-request headers.
    let res = actual(&cors, "OPTIONS", &[("origin", APP)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert!(res.headers().get("access-control-allow-methods").is_none());
    let res = actual(&cors, "OPTIONS", &[]).await;
    assert_eq!(cors_headers(res.headers()), []);
    // Even Access-Control-Request-Headers alone does not make a preflight.
    let res =
        actual(&cors, "OPTIONS", &[("origin", APP), ("access-control-request-headers", "x")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A request method header on another method is not a preflight either.
    let res =
        actual(&cors, "POST", &[("origin", APP), ("access-control-request-method", "PUT")]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    // With it, the guard answers.
    let res = preflight(&cors, &[("origin", APP), ("access-control-request-method", "POST")]).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_allowed_preflight_gets_exactly_the_cors_headers() {
    let cors = app()
        .allow_methods(["GET", "POST", "DELETE"])
        .allow_headers(["Authorization", "content-type", "X-Request-Id"])
        .expose_headers(["ratelimit"])
        .allow_credentials(true)
        .build()
        .unwrap();
    let res = preflight(
        &cors,
        &[
            ("origin", APP),
            ("access-control-request-method", "DELETE"),
            ("access-control-request-headers", "authorization,x-request-id"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.body().is_empty());
    let expected = [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-headers", "authorization, content-type, x-request-id"),
        ("access-control-allow-methods", "GET, POST, DELETE"),
        ("access-control-allow-origin", APP),
        ("access-control-max-age", "600"),
        ("vary", PREFLIGHT_VARY),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(all_headers(res.headers()), expected);
}

#[tokio::test]
async fn a_preflight_without_credentials_lists_the_defaults() {
    let cors = app().max_age(Duration::from_secs(7200)).build().unwrap();
    let res =
        preflight(&cors, &[("origin", APP), ("access-control-request-method", "PATCH")]).await;
    let expected = [
        ("access-control-allow-headers", "authorization, content-type"),
        ("access-control-allow-methods", "GET, HEAD, POST, PUT, PATCH, DELETE"),
        ("access-control-allow-origin", APP),
        ("access-control-max-age", "7200"),
        ("vary", PREFLIGHT_VARY),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(all_headers(res.headers()), expected);
}

#[tokio::test]
async fn no_allowed_headers_means_no_allow_headers_line() {
    let cors = app().allow_headers(std::iter::empty::<&str>()).build().unwrap();
    let res = preflight(&cors, &[("origin", APP), ("access-control-request-method", "GET")]).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("access-control-allow-headers").is_none());
    let res = preflight(
        &cors,
        &[
            ("origin", APP),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert_refused(&res, "content-type");
}

#[tokio::test]
async fn a_preflight_from_a_disallowed_origin_gets_403_without_cors_headers() {
    let cors = app().allow_credentials(true).build().unwrap();
    for origin in ["https://evil.com", "http://app.example.com", "https://app.example.com.evil.com"]
    {
        let res =
            preflight(&cors, &[("origin", origin), ("access-control-request-method", "GET")]).await;
        assert_refused(&res, "is not allowed");
        assert_eq!(vary(res.headers()), [PREFLIGHT_VARY]);
    }
    for (origin, detail) in
        [("https://app.example.com/", "not a serialized origin"), ("null", "null origin")]
    {
        let res =
            preflight(&cors, &[("origin", origin), ("access-control-request-method", "GET")]).await;
        assert_refused(&res, detail);
    }
    // No Origin at all: not a browser's preflight.
    let res = preflight(&cors, &[("access-control-request-method", "GET")]).await;
    assert_refused(&res, "must carry an Origin");
    assert_eq!(vary(res.headers()), [PREFLIGHT_VARY]);
}

#[tokio::test]
async fn a_preflight_for_a_method_not_allowed_is_refused() {
    let cors = app().allow_methods(["get", "Post"]).build().unwrap();
    let ok = |m: &'static str| [("origin", APP), ("access-control-request-method", m)];
    assert_eq!(preflight(&cors, &ok("GET")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight(&cors, &ok("POST")).await.status(), StatusCode::NO_CONTENT);
    assert_refused(&preflight(&cors, &ok("PATCH")).await, "method PATCH");
    assert_refused(&preflight(&cors, &ok("DELETE")).await, "method DELETE");
    // Methods are case-sensitive in Fetch: `fetch` sends `patch` as written, which is not PATCH.
    let cors = app().build().unwrap();
    assert_eq!(preflight(&cors, &ok("PATCH")).await.status(), StatusCode::NO_CONTENT);
    assert_refused(&preflight(&cors, &ok("patch")).await, "method patch");
    assert_refused(&preflight(&cors, &ok("")).await, "not a method");
    assert_refused(&preflight(&cors, &ok("G T")).await, "not a method");
}

#[tokio::test]
async fn requested_headers_are_compared_without_regard_to_case() {
    let cors = app().allow_headers(["Content-Type", "authorization", "x-trace"]).build().unwrap();
    let ask = |h: &'static str| {
        [
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", h),
        ]
    };
    for allowed in [
        "content-type",
        "Content-Type,AUTHORIZATION",
        " authorization , x-TRACE ",
        "",
        ",,content-type,",
    ] {
        let res = preflight(&cors, &ask(allowed)).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{allowed:?}");
    }
    for (refused, detail) in [
        ("x-custom", "header x-custom"),
        ("content-type,X-Other", "header x-other"),
        ("content-type-x", "header content-type-x"),
        ("content type", "not a header name"),
    ] {
        assert_refused(&preflight(&cors, &ask(refused)).await, detail);
    }
    // Several header lines are one list.
    let res = preflight(
        &cors,
        &[
            ("origin", APP),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
            ("access-control-request-headers", "x-evil"),
        ],
    )
    .await;
    assert_refused(&res, "x-evil");
}

#[tokio::test]
async fn a_wildcard_header_never_covers_authorization() {
    let cors = app().allow_headers(["*"]).build().unwrap();
    let ask = |h: &'static str| {
        [
            ("origin", APP),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", h),
        ]
    };
    let res = preflight(&cors, &ask("x-anything,content-type")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-headers"], "*");
    assert_refused(&preflight(&cors, &ask("x-a,authorization")).await, "header authorization");

    let cors = app().allow_headers(["*", "Authorization"]).build().unwrap();
    let res = preflight(&cors, &ask("x-a,authorization")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-headers"], "authorization, *");
}

// --- Actual requests ------------------------------------------------------------------------------

#[tokio::test]
async fn an_actual_request_from_an_allowed_origin_gets_its_origin_echoed() {
    let cors = app()
        .expose_headers(["RateLimit", "ratelimit-policy"])
        .allow_credentials(true)
        .build()
        .unwrap();
    let res = actual(&cors, "GET", &[("origin", APP)]).await;
    let expected = [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-origin", APP),
        ("access-control-expose-headers", "ratelimit, ratelimit-policy"),
        ("vary", "Origin"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(all_headers(res.headers()), expected);

    // Without credentials and exposed headers, just the origin.
    let cors = app().build().unwrap();
    let res = actual(&cors, "POST", &[("origin", APP)]).await;
    let expected = [("access-control-allow-origin", APP), ("vary", "Origin")]
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
    assert_eq!(all_headers(res.headers()), expected);
}

#[tokio::test]
async fn the_echo_is_the_request_origin_byte_for_byte() {
    let cors = CorsPolicy::new().allow_origins(["HTTPS://App.Example.com:443"]).build().unwrap();
    for sent in [
        APP,
        "https://APP.example.com",
        "https://app.example.com:443",
        "HTTPS://app.example.com:0443",
    ] {
        let res = actual(&cors, "GET", &[("origin", sent)]).await;
        assert_eq!(res.headers()["access-control-allow-origin"], sent);
        let res =
            preflight(&cors, &[("origin", sent), ("access-control-request-method", "GET")]).await;
        assert_eq!(res.headers()["access-control-allow-origin"], sent);
    }
    for other in
        ["https://app.example.com:8443", "http://app.example.com", "http://app.example.com:443"]
    {
        let res = actual(&cors, "GET", &[("origin", other)]).await;
        assert_eq!(cors_headers(res.headers()), [], "{other}");
    }
}

#[tokio::test]
async fn other_origins_get_no_cors_headers_but_vary() {
    let cors = app().allow_credentials(true).expose_headers(["ratelimit"]).build().unwrap();
    for origin in ["https://evil.com", "https://app.example.com/", "null", "app.example.com", ""] {
        let res = actual(&cors, "GET", &[("origin", origin)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(cors_headers(res.headers()), [], "{origin:?}");
        assert_eq!(vary(res.headers()), ["Origin"]);
    }
    // An Origin that is not even UTF-8.
    let mut p = parts("GET", &[]);
    p.headers.insert(header::ORIGIN, HeaderValue::from_bytes(b"https://\xffx.com").unwrap());
    let Decision::Continue(state) = check(&cors, &p).await else { panic!() };
    let mut res = GuardResponse::new(StatusCode::OK);
    cors.respond(state, &mut res);
    assert_eq!(cors_headers(res.headers()), []);
}

#[tokio::test]
async fn a_handler_cannot_grant_what_the_policy_refuses() {
    let cors = app().build().unwrap();
    let handler = [
        ("access-control-allow-origin", "https://evil.com"),
        ("access-control-allow-credentials", "true"),
        ("access-control-expose-headers", "x-secret"),
    ];
    let res = actual_with(&cors, "GET", &[("origin", "https://evil.com")], &handler).await;
    assert_eq!(cors_headers(res.headers()), []);
    let res = actual_with(&cors, "GET", &[], &handler).await;
    assert_eq!(cors_headers(res.headers()), []);
    // For an allowed origin the policy's values replace the handler's.
    let res = actual_with(&cors, "GET", &[("origin", APP)], &handler).await;
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    assert!(res.headers().get("access-control-allow-credentials").is_none());
    assert_eq!(res.headers()["access-control-expose-headers"], "x-secret");
}

#[tokio::test]
async fn block_mode_refuses_disallowed_origins_only() {
    let cors = app().block_disallowed(true).build().unwrap();
    for origin in ["https://evil.com", "not an origin", "null"] {
        let Decision::Respond(res) = check(&cors, &parts("POST", &[("origin", origin)])).await
        else {
            panic!("{origin} must be refused");
        };
        assert_refused(&res, "");
        assert_eq!(vary(res.headers()), ["Origin"]);
    }
    let res = match check(&cors, &parts("GET", &[("origin", "https://evil.com")])).await {
        Decision::Respond(res) => res,
        Decision::Continue(_) => panic!(),
    };
    assert_refused(&res, "the origin https://evil.com is not allowed");
    // Allowed origins, requests without Origin (curl, same-origin GET) and requests the browser
    // marks same-origin pass.
    let res = actual(&cors, "POST", &[("origin", APP)]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
    let res = actual(&cors, "POST", &[]).await;
    assert_eq!(cors_headers(res.headers()), []);
    assert_eq!(vary(res.headers()), ["Origin"]);
    let res = actual(
        &cors,
        "POST",
        &[("origin", "https://api.example.com"), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(cors_headers(res.headers()), []);
    // A cross-site request cannot claim to be same-origin with another value.
    let refused = check(
        &cors,
        &parts("POST", &[("origin", "https://evil.com"), ("sec-fetch-site", "same-site")]),
    )
    .await;
    assert!(matches!(refused, Decision::Respond(_)));
    // Without block mode the same request passes, without CORS headers.
    let cors = app().build().unwrap();
    let res = actual(&cors, "POST", &[("origin", "https://evil.com")]).await;
    assert_eq!(cors_headers(res.headers()), []);
}

// --- Vary -------------------------------------------------------------------------------------------

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

// --- Other origin kinds ---------------------------------------------------------------------------

#[tokio::test]
async fn subdomain_patterns_through_the_guard() {
    let cors = CorsPolicy::new()
        .allow_subdomains_of(["https://*.example.com", "http://*.local.test:8080"])
        .build()
        .unwrap();
    for yes in [
        "https://a.example.com",
        "https://a.b.example.com",
        "https://A.Example.COM",
        "https://a.example.com:443",
        "http://dev.local.test:8080",
    ] {
        let res = actual(&cors, "GET", &[("origin", yes)]).await;
        assert_eq!(res.headers()["access-control-allow-origin"], yes);
        let res =
            preflight(&cors, &[("origin", yes), ("access-control-request-method", "GET")]).await;
        assert_eq!(res.headers()["access-control-allow-origin"], yes);
    }
    for no in [
        "https://example.com",
        "https://evil-example.com",
        "https://example.com.evil.com",
        "https://a.example.com.evil.com",
        "http://a.example.com",
        "https://a.example.com:8443",
        "https://a.example.com:80",
        "http://dev.local.test",
        "https://dev.local.test:8080",
        "https://a.example.com/",
        "https://user@a.example.com",
    ] {
        let res = actual(&cors, "GET", &[("origin", no)]).await;
        assert_eq!(cors_headers(res.headers()), [], "{no}");
        let res =
            preflight(&cors, &[("origin", no), ("access-control-request-method", "GET")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{no}");
    }
}

#[tokio::test]
async fn the_null_origin_needs_opting_in() {
    // A predicate that allows everything still never sees `null`.
    let cors = app().allow_origin_fn(|_, _| true).build().unwrap();
    let res = actual(&cors, "GET", &[("origin", "null")]).await;
    assert_eq!(cors_headers(res.headers()), []);
    let cors = app().allow_null_origin(true).build().unwrap();
    let res = actual(&cors, "GET", &[("origin", "null")]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], "null");
    assert_eq!(vary(res.headers()), ["Origin"]);
    // Listing it works as well, once enabled; `NULL` is not how browsers send it.
    let cors = CorsPolicy::new().allow_origins(["null"]).allow_null_origin(true).build().unwrap();
    let res =
        preflight(&cors, &[("origin", "null"), ("access-control-request-method", "GET")]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], "null");
    let res = actual(&cors, "GET", &[("origin", "NULL")]).await;
    assert_eq!(cors_headers(res.headers()), []);
}

#[tokio::test]
async fn a_mirrored_origin_is_any_well_formed_origin_but_null() {
    let cors = CorsPolicy::new().mirror_request_origin(true).build().unwrap();
    let res = actual(&cors, "GET", &[("origin", "https://whoever.example")]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], "https://whoever.example");
    assert_eq!(vary(res.headers()), ["Origin"]);
    for no in ["null", "https://whoever.example/", "javascript:alert(1)"] {
        let res = actual(&cors, "GET", &[("origin", no)]).await;
        assert_eq!(cors_headers(res.headers()), [], "{no}");
    }
}

#[tokio::test]
async fn the_predicate_sees_the_normal_form_and_the_request() {
    let cors = CorsPolicy::new()
        .allow_origin_fn(|origin, head| {
            origin.starts_with("https://pr-")
                && origin.ends_with(".preview.example.com")
                && head.path().starts_with("/v1/")
        })
        .allow_credentials(true)
        .build()
        .unwrap();
    let sent = "https://PR-7.preview.example.com:443";
    let res = actual(&cors, "GET", &[("origin", sent)]).await;
    assert_eq!(res.headers()["access-control-allow-origin"], sent);
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res =
        actual(&cors, "GET", &[("origin", "https://pr-7.preview.example.com.evil.com")]).await;
    assert_eq!(cors_headers(res.headers()), []);
    let (p, ()) = Request::get("/admin")
        .header("origin", "https://pr-7.preview.example.com")
        .body(())
        .unwrap()
        .into_parts();
    let Decision::Continue(state) = check(&cors, &p).await else { panic!() };
    let mut res = GuardResponse::new(StatusCode::OK);
    cors.respond(state, &mut res);
    assert_eq!(cors_headers(res.headers()), []);
}

// --- Private Network Access -------------------------------------------------------------------------

#[tokio::test]
async fn private_network_access_is_opt_in() {
    let asking = [
        ("origin", APP),
        ("access-control-request-method", "GET"),
        ("access-control-request-private-network", "true"),
    ];
    let cors = app().build().unwrap();
    let res = preflight(&cors, &asking).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("access-control-allow-private-network").is_none());

    let cors = app().allow_private_network(true).build().unwrap();
    let res = preflight(&cors, &asking).await;
    assert_eq!(res.headers()["access-control-allow-private-network"], "true");
    assert_eq!(
        vary(res.headers()),
        [format!("{PREFLIGHT_VARY}, Access-Control-Request-Private-Network")]
    );
    let res = preflight(&cors, &asking[..2]).await;
    assert!(res.headers().get("access-control-allow-private-network").is_none());
    // A disallowed origin gets nothing, PNA included.
    let res = preflight(
        &cors,
        &[
            ("origin", "https://evil.com"),
            ("access-control-request-method", "GET"),
            ("access-control-request-private-network", "true"),
        ],
    )
    .await;
    assert_refused(&res, "https://evil.com");
}

// --- Build errors -----------------------------------------------------------------------------------

#[test]
fn every_build_error() {
    let err = |p: CorsPolicy| p.build().unwrap_err();
    assert_eq!(
        err(CorsPolicy::new().allow_origins(["https://a.com", "https://b.com/api"])),
        CorsError::InvalidOrigin {
            entry: "https://b.com/api".into(),
            reason: NotAnOrigin::HasPath
        }
    );
    for (entry, reason) in [
        ("https://a.com/", NotAnOrigin::TrailingSlash),
        ("a.com", NotAnOrigin::MissingScheme),
        ("https://user:pw@a.com", NotAnOrigin::HasUserinfo),
        ("https://a.com?x", NotAnOrigin::HasQuery),
        ("https://a.com#x", NotAnOrigin::HasFragment),
        ("ftp://a.com", NotAnOrigin::UnsupportedScheme),
        ("https://*.a.com", NotAnOrigin::Wildcard),
    ] {
        assert_eq!(
            err(CorsPolicy::new().allow_origins([entry])),
            CorsError::InvalidOrigin { entry: entry.into(), reason }
        );
    }
    assert_eq!(
        err(CorsPolicy::new().allow_origins(["*", "https://a.com"])),
        CorsError::InvalidOrigin { entry: "*".into(), reason: NotAnOrigin::Wildcard }
    );
    assert_eq!(
        err(CorsPolicy::new().allow_subdomains_of(["https://*.com"])),
        CorsError::InvalidSubdomainPattern {
            entry: "https://*.com".into(),
            reason: NotASubdomainPattern::TooBroad
        }
    );
    assert_eq!(err(CorsPolicy::new().allow_origins(["null"])), CorsError::NullOriginNotEnabled);
    assert_eq!(err(CorsPolicy::new()), CorsError::NoOriginAllowed);
    assert_eq!(
        err(CorsPolicy::new().allow_origins(std::iter::empty::<&str>()).allow_credentials(true)),
        CorsError::NoOriginAllowed
    );
    assert_eq!(
        err(CorsPolicy::new().allow_any_origin().allow_credentials(true)),
        CorsError::CredentialsWithAnyOrigin
    );
    assert_eq!(
        err(CorsPolicy::new().mirror_request_origin(true).allow_credentials(true)),
        CorsError::CredentialsWithMirroredOrigin
    );
    assert_eq!(
        err(app().allow_null_origin(true).allow_credentials(true)),
        CorsError::CredentialsWithNullOrigin
    );
    assert_eq!(
        err(app().allow_headers(["content-type", "*"]).allow_credentials(true)),
        CorsError::CredentialsWithAnyHeader
    );
    assert_eq!(
        err(app().expose_headers(["*"]).allow_credentials(true)),
        CorsError::CredentialsWithAnyExposedHeader
    );
    for bad in ["*", "GE T", "", "GET,POST"] {
        assert_eq!(
            err(app().allow_methods([bad])),
            CorsError::InvalidMethod(bad.into()),
            "{bad:?}"
        );
    }
    assert_eq!(err(app().allow_methods(std::iter::empty::<&str>())), CorsError::NoMethodAllowed);
    assert_eq!(
        err(app().allow_headers(["content type"])),
        CorsError::InvalidHeaderName("content type".into())
    );
    assert_eq!(
        err(app().expose_headers(["x-ok", "bad:name"])),
        CorsError::InvalidHeaderName("bad:name".into())
    );
    // Errors say what to do.
    assert_eq!(
        CorsError::CredentialsWithAnyOrigin.to_string(),
        "allow_credentials cannot be combined with any origin (`*`): list the origins instead"
    );
}

#[test]
fn valid_policies_build() {
    for policy in [
        app(),
        CorsPolicy::new().allow_any_origin(),
        CorsPolicy::new().allow_subdomains_of(["https://*.example.com"]).allow_credentials(true),
        CorsPolicy::new().allow_origin_fn(|_, _| false).allow_credentials(true),
        CorsPolicy::new().allow_null_origin(true),
        CorsPolicy::new().mirror_request_origin(true),
        app().allow_headers(["*"]).expose_headers(["*"]),
        app().allow_methods(["get", " PROPFIND "]).max_age(Duration::ZERO),
    ] {
        let built = policy.build();
        assert!(built.is_ok(), "{policy:?}: {built:?}");
    }
    let cors = Cors::try_from(app().allow_methods(["get", "GET", "Get"])).unwrap();
    assert_eq!(cors.methods, [Method::GET]);
    assert!(format!("{cors:?}").starts_with("Cors {"));
}

#[tokio::test]
async fn a_shared_guard_behaves_the_same() {
    let cors = Arc::new(app().build().unwrap());
    let Decision::Continue(state) = check(&cors, &parts("GET", &[("origin", APP)])).await else {
        panic!()
    };
    let mut res = GuardResponse::new(StatusCode::OK);
    cors.respond(state, &mut res);
    assert_eq!(res.headers()["access-control-allow-origin"], APP);
}

// --- Property: nothing outside the allowlist is ever echoed ---------------------------------------

const LISTED: [&str; 3] = [APP, "http://localhost:3000", "https://api.example.com:8443"];
const PATTERN_DOMAIN: &str = "example.org";

/// An independent statement of the policy below: after lower-casing and dropping the default
/// port, one of `LISTED`, or `https://<labels>.example.org`.
fn oracle_allows(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else { return false };
    let default = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return false,
    };
    // A host never holds a `:` (no IPv6 in this policy), so the first one starts the port.
    let (host, port) = match rest.split_once(':') {
        None => (rest, None),
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            match port.parse::<u32>() {
                Ok(p) if p <= 65535 => (host, (p != default).then_some(p)),
                _ => return false,
            }
        }
    };
    let normal = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    if LISTED.contains(&normal.as_str()) {
        return true;
    }
    let Some(sub) = host.strip_suffix(PATTERN_DOMAIN).and_then(|h| h.strip_suffix('.')) else {
        return false;
    };
    scheme == "https"
        && port.is_none()
        && sub.split('.').all(|l| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Origins near the allowed ones: case changes, edits, suffixes, ports, schemes, label games.
fn near_miss() -> impl Strategy<Value = String> {
    let bases = prop::sample::select(vec![
        APP,
        "http://localhost:3000",
        "https://api.example.com:8443",
        "https://x.example.org",
        "https://a.b.example.org",
        "https://example.org",
    ]);
    (bases, 0..12u8, any::<prop::sample::Index>(), "[ -~]{0,6}", prop::bool::ANY).prop_map(
        |(base, op, index, junk, flag)| {
            let mut s = base.to_owned();
            let at = index.index(s.len() + 1);
            let boundary =
                |s: &str, i: usize| (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0);
            match op {
                0 => s.push_str(&junk),
                1 => s.insert_str(0, &junk),
                2 => s.insert_str(boundary(&s, at), &junk),
                3 => {
                    let i = boundary(&s, at.min(s.len().saturating_sub(1)));
                    if i < s.len() {
                        s.remove(i);
                    }
                }
                4 => s = s.to_ascii_uppercase(),
                5 => s.push_str([":443", ":80", ":0443", ":", ":8443", ":3000"][at % 6]),
                6 => {
                    s = s.replacen("https://", "http://", 1).replacen(
                        "http://",
                        if flag { "https://" } else { "http://" },
                        1,
                    )
                }
                7 => s = s.replacen("://", if flag { "://evil-" } else { "://evil." }, 1),
                8 => s.push_str(if flag { ".evil.com" } else { "-evil.com" }),
                9 => s = s.replace("example", if flag { "examp1e" } else { "exampleX" }),
                10 => s.push('/'),
                _ => s = format!("https://{}{junk}", &s[s.find("://").map_or(0, |i| i + 3)..]),
            }
            s
        },
    )
}

fn any_origin_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => near_miss(),
        1 => "[ -~]{0,40}",
        1 => "(https?|HTTPS?|ftp|ws)://[a-zA-Z0-9.*_@-]{0,24}(:[0-9]{0,6})?",
        1 => "https://[a-z]{1,5}\\.example\\.org(:[0-9]{1,4})?",
        1 => "\\PC{0,16}",
    ]
}

fn property_policy() -> Cors {
    CorsPolicy::new()
        .allow_origins(LISTED)
        .allow_subdomains_of([format!("https://*.{PATTERN_DOMAIN}")])
        .allow_credentials(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_origin_outside_the_allowlist_is_ever_echoed(origin in any_origin_string()) {
        let Ok(value) = HeaderValue::from_str(&origin) else { return Ok(()) };
        let cors = property_policy();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let allowed = oracle_allows(&origin);

        // Preflight.
        let mut p = parts("OPTIONS", &[("access-control-request-method", "GET")]);
        p.headers.insert(header::ORIGIN, value.clone());
        let res = match runtime.block_on(check(&cors, &p)) {
            Decision::Respond(res) => res,
            Decision::Continue(_) => panic!("a preflight goes on"),
        };
        let acao = res.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        prop_assert_eq!(acao.is_some(), allowed, "preflight for {:?}", origin);
        if let Some(acao) = acao {
            prop_assert_eq!(acao.as_bytes(), origin.as_bytes());
        } else {
            prop_assert_eq!(cors_headers(res.headers()), vec![]);
        }

        // Actual request, with a handler that (wrongly) echoes every origin itself.
        let mut p = parts("GET", &[]);
        p.headers.insert(header::ORIGIN, value.clone());
        let Decision::Continue(state) = runtime.block_on(check(&cors, &p)) else {
            panic!("no block mode")
        };
        let mut res = GuardResponse::new(StatusCode::OK)
            .with_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        cors.respond(state, &mut res);
        let acao: Vec<_> = res.headers().get_all(header::ACCESS_CONTROL_ALLOW_ORIGIN).iter().collect();
        if allowed {
            prop_assert_eq!(acao.len(), 1);
            prop_assert_eq!(acao[0].as_bytes(), origin.as_bytes());
        } else {
            prop_assert!(acao.is_empty(), "{:?} was echoed", origin);
            prop_assert_eq!(cors_headers(res.headers()), vec![]);
        }
        prop_assert_eq!(vary(res.headers()), vec!["Origin"]);
    }
}

#[test]
fn the_oracle_agrees_on_known_cases() {
    for yes in [
        APP,
        "HTTPS://APP.EXAMPLE.COM:443",
        "https://api.example.com:8443",
        "https://x.y.example.org",
    ] {
        assert!(oracle_allows(yes), "{yes}");
    }
    for no in [
        "https://example.org",
        "https://evil-example.org",
        "http://x.example.org",
        "https://api.example.com",
    ] {
        assert!(!oracle_allows(no), "{no}");
    }
}
