//! Other kinds of allowed origins: subdomain patterns, `null`, a mirrored origin, a predicate.

use http::{Request, StatusCode};

use super::helpers::{actual, app, assert_echoed, cors_headers, preflight, respond_to, vary};
use crate::CorsPolicy;

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
        assert_echoed(&cors, yes).await;
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
    let res = respond_to(&cors, &p, &[]).await;
    assert_eq!(cors_headers(res.headers()), []);
}
