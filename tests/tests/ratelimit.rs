//! guard-ratelimit through the Tower/axum adapter: every response of a limited route carries the
//! RateLimit headers, and a refusal says when to come back. (The guard's own behaviour, called
//! directly, is tested in the crate.)

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use guard_ratelimit::{MemoryStore, RateLimitPolicy};
use guard_tower::GuardLayer;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[tokio::test]
async fn through_axum_every_response_is_labelled() {
    let limiter = RateLimitPolicy::new("axum")
        .quota("minute", "2/60s".parse().unwrap())
        .build(MemoryStore::default())
        .unwrap();
    let app: Router =
        Router::new().route("/v1/thing", get(|| async { "hello" })).layer(GuardLayer::new(limiter));
    let peer: SocketAddr = "203.0.113.50:4000".parse().unwrap();
    let send = |app: Router| async move {
        let mut req = Request::get("/v1/thing").body(axum::body::Body::empty()).unwrap();
        req.extensions_mut().insert(peer);
        app.oneshot(req).await.unwrap()
    };
    let res = send(app.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["ratelimit-policy"], r#""minute";q=2;w=60"#);
    assert_eq!(res.headers()["ratelimit"], r#""minute";r=1;t=30"#);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "hello");
    send(app.clone()).await;
    let res = send(app).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "30");
    assert_eq!(res.headers()["ratelimit"], r#""minute";r=0;t=30"#);
}
