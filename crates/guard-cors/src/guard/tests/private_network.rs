//! Private Network Access, opt-in.

use http::StatusCode;

use super::helpers::{APP, PREFLIGHT_VARY, app, assert_refused, preflight, vary};

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
    let res = preflight(&cors, &[("origin", "https://evil.com"), asking[1], asking[2]]).await;
    assert_refused(&res, "https://evil.com");
}
