//! Preflight or not: only `OPTIONS` with `Access-Control-Request-Method` is one, and how it is
//! answered.

use std::time::Duration;

use http::StatusCode;

use super::helpers::{
    APP, PREFLIGHT_VARY, actual, app, asking, assert_headers, assert_refused, cors_headers,
    preflight, vary,
};

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
    let res = preflight(&cors, &asking("DELETE", "authorization,x-request-id")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.body().is_empty());
    assert_headers(
        &res,
        &[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-headers", "authorization, content-type, x-request-id"),
            ("access-control-allow-methods", "GET, POST, DELETE"),
            ("access-control-allow-origin", APP),
            ("access-control-max-age", "600"),
            ("vary", PREFLIGHT_VARY),
        ],
    );
}

#[tokio::test]
async fn a_preflight_without_credentials_lists_the_defaults() {
    let cors = app().max_age(Duration::from_secs(7200)).build().unwrap();
    let res =
        preflight(&cors, &[("origin", APP), ("access-control-request-method", "PATCH")]).await;
    assert_headers(
        &res,
        &[
            ("access-control-allow-headers", "authorization, content-type"),
            ("access-control-allow-methods", "GET, HEAD, POST, PUT, PATCH, DELETE"),
            ("access-control-allow-origin", APP),
            ("access-control-max-age", "7200"),
            ("vary", PREFLIGHT_VARY),
        ],
    );
}

#[tokio::test]
async fn no_allowed_headers_means_no_allow_headers_line() {
    let cors = app().allow_headers(std::iter::empty::<&str>()).build().unwrap();
    let res = preflight(&cors, &[("origin", APP), ("access-control-request-method", "GET")]).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("access-control-allow-headers").is_none());
    let res = preflight(&cors, &asking("GET", "content-type")).await;
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
    let ask = |h| asking("PUT", h);
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
    let ask = |h| asking("GET", h);
    let res = preflight(&cors, &ask("x-anything,content-type")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-headers"], "*");
    assert_refused(&preflight(&cors, &ask("x-a,authorization")).await, "header authorization");

    let cors = app().allow_headers(["*", "Authorization"]).build().unwrap();
    let res = preflight(&cors, &ask("x-a,authorization")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-headers"], "authorization, *");
}
