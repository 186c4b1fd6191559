//! Actual requests: the allowed origin echoed, other origins given nothing, block mode.

use guard_core::Decision;
use http::StatusCode;
use http::header::{self, HeaderValue};

use super::helpers::{
    APP, actual, actual_with, app, assert_echoed, assert_headers, assert_refused, check,
    cors_headers, parts, respond_to, vary,
};
use crate::CorsPolicy;

#[tokio::test]
async fn an_actual_request_from_an_allowed_origin_gets_its_origin_echoed() {
    let cors = app()
        .expose_headers(["RateLimit", "ratelimit-policy"])
        .allow_credentials(true)
        .build()
        .unwrap();
    let res = actual(&cors, "GET", &[("origin", APP)]).await;
    assert_headers(
        &res,
        &[
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "ratelimit, ratelimit-policy"),
            ("vary", "Origin"),
        ],
    );

    // Without credentials and exposed headers, just the origin.
    let cors = app().build().unwrap();
    let res = actual(&cors, "POST", &[("origin", APP)]).await;
    assert_headers(&res, &[("access-control-allow-origin", APP), ("vary", "Origin")]);
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
        assert_echoed(&cors, sent).await;
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
    let res = respond_to(&cors, &p, &[]).await;
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
