//! The JWT guard and the `Claims<C>` extractors through both adapters: one scenario list, run
//! in-process through actix-web (test utilities) and axum (`oneshot`), with the same answers
//! from both. One attack of each kind of rejection must come back as 401 `invalid_token`
//! problem+json from each framework (the whole list is `guard-jwt/tests/attacks.rs`).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

/// guard-jwt's own test helpers: its keys, claims and tokens forged by hand.
#[path = "../../crates/guard-jwt/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::extract::Extension;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::{
    Claims, RSA_PUBLIC, SECRET, b64, claims_with, forge, good_claims, hs, hs256, now_secs,
    three_keys, unsigned,
};
use guard_actix::{GuardData, GuardMiddleware};
use guard_core::ProblemType;
use guard_jwt::{
    Algorithm, Jwt, JwtPolicy, MemoryRevocationStore, RevocationStatus, RevocationStore,
    RevocationStoreError, StoreFuture, TokenIssuer, VerifiedClaims,
};
use guard_tests::harness::{Answer, Req, call_actix, call_axum, same};
use guard_tower::GuardLayer;
use jsonwebtoken::EncodingKey;
use serde_json::json;

/// The guard both frameworks use: an HS256 secret, an RSA and a P-256 key (each bound to its
/// algorithm), revocations in memory (shared by both apps, like two instances sharing Redis).
fn jwt() -> Jwt<Claims> {
    three_keys()
        .build::<Claims>()
        .unwrap()
        .with_revocation_store(MemoryRevocationStore::new(10_000))
}

fn admin_only(jwt: &Jwt<Claims>) -> Jwt<Claims> {
    jwt.clone().require(|c| c.scope.split(' ').any(|s| s == "admin"))
}

fn issuer() -> TokenIssuer {
    TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap()
}

// ---- the two apps -------------------------------------------------------------------------

async fn via_actix(jwt: &Jwt<Claims>, r: &Req) -> Answer {
    async fn me(claims: guard_actix::Claims<Claims>) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(claims.sub.clone())
    }
    async fn maybe(claims: Option<guard_actix::Claims<Claims>>) -> HttpResponse {
        let who = claims.map_or_else(|| "anonymous".to_owned(), |c| c.sub.clone());
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(who)
    }
    async fn me_ext(claims: GuardData<VerifiedClaims<Claims>>) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(claims.0.sub.clone())
    }
    async fn logout(
        claims: guard_actix::Claims<Claims>,
        jwt: web::Data<Jwt<Claims>>,
    ) -> HttpResponse {
        match jwt.revoke(claims.token()).await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(err) => guard_actix::problem(err.to_problem()),
        }
    }
    async fn password(
        claims: guard_actix::Claims<Claims>,
        jwt: web::Data<Jwt<Claims>>,
    ) -> HttpResponse {
        match jwt.revoke_all_for(&claims.sub).await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(err) => guard_actix::problem(err.to_problem()),
        }
    }
    let app = actix_test::init_service(
        App::new()
            .app_data(web::Data::new(jwt.clone()))
            .route(
                "/health",
                web::get().to(|| async {
                    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
                }),
            )
            .route("/unguarded/me", web::get().to(me))
            .route("/unguarded/maybe", web::get().to(maybe))
            .service(
                web::scope("/v1/admin")
                    .wrap(GuardMiddleware::new(admin_only(jwt)))
                    .route("", web::get().to(me)),
            )
            .service(
                web::scope("/v1")
                    .wrap(GuardMiddleware::new(jwt.clone()))
                    .route("/me", web::get().to(me))
                    .route("/me-ext", web::get().to(me_ext))
                    .route("/maybe", web::get().to(maybe))
                    .route("/auth/logout", web::post().to(logout))
                    .route("/auth/password", web::post().to(password)),
            ),
    )
    .await;
    call_actix(&app, r).await
}

async fn via_axum(jwt: &Jwt<Claims>, r: &Req) -> Answer {
    async fn me(claims: guard_tower::Claims<Claims>) -> String {
        claims.sub.clone()
    }
    async fn maybe(claims: Option<guard_tower::Claims<Claims>>) -> String {
        claims.map_or_else(|| "anonymous".to_owned(), |c| c.sub.clone())
    }
    async fn me_ext(Extension(claims): Extension<VerifiedClaims<Claims>>) -> String {
        claims.sub.clone()
    }
    async fn logout(
        Extension(jwt): Extension<Jwt<Claims>>,
        claims: guard_tower::Claims<Claims>,
    ) -> axum::response::Response {
        match jwt.revoke(claims.token()).await {
            Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
            Err(err) => guard_tower::problem(err.to_problem()).into_response(),
        }
    }
    async fn password(
        Extension(jwt): Extension<Jwt<Claims>>,
        claims: guard_tower::Claims<Claims>,
    ) -> axum::response::Response {
        match jwt.revoke_all_for(&claims.sub).await {
            Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
            Err(err) => guard_tower::problem(err.to_problem()).into_response(),
        }
    }
    let v1 = Router::new()
        .route("/me", get(me))
        .route("/me-ext", get(me_ext))
        .route("/maybe", get(maybe))
        .route("/auth/logout", post(logout))
        .route("/auth/password", post(password))
        .layer(GuardLayer::new(jwt.clone()));
    let admin = Router::new().route("/", get(me)).layer(GuardLayer::new(admin_only(jwt)));
    let app: Router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/unguarded/me", get(me))
        .route("/unguarded/maybe", get(maybe))
        .nest("/v1/admin", admin)
        .nest("/v1", v1)
        .layer(Extension(jwt.clone()));
    call_axum(app, r).await
}

// ---- requests and answers -----------------------------------------------------------------

fn get_with(uri: &str, token: Option<&str>) -> Req {
    match token {
        Some(t) => Req::get(uri).bearer(t),
        None => Req::get(uri),
    }
}

fn post_with(uri: &str, token: &str) -> Req {
    Req::post(uri).bearer(token)
}

/// Runs `r` through both frameworks with the same guard; both answers must be the same.
async fn both(jwt: &Jwt<Claims>, r: Req) -> Answer {
    let actix = via_actix(jwt, &r).await;
    let axum = via_axum(jwt, &r).await;
    same(&actix, &axum);
    actix
}

/// The one `WWW-Authenticate` challenge of an answer.
fn challenge(res: &Answer) -> &str {
    res.header("www-authenticate").first().copied().unwrap_or("")
}

// ---- tokens forged by hand (the helpers are guard-jwt's, `common`) ------------------------

/// One attack of each kind of rejection (the header, the signature, the key, the claims): every
/// known attack (SECURITY.md lists them) is forged against the library in `guard-jwt/tests/attacks.rs`;
/// here these prove that both adapters turn each kind into the same RFC 6750 answer.
fn attacks() -> Vec<(&'static str, String, &'static str)> {
    let good = good_claims();
    let now = now_secs();
    let valid = hs256(good.clone());
    let parts: Vec<&str> = valid.split('.').collect();
    let (h, s) = (parts[0].to_owned(), parts[2].to_owned());
    let rsa_as_secret = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    vec![
        ("alg none", unsigned(json!({"alg": "none"}), good.clone(), &s), "algorithm not allowed"),
        (
            "tampered payload",
            format!("{h}.{}.{s}", b64(claims_with(json!({"sub": "admin"})).to_string())),
            "invalid signature",
        ),
        (
            "HS256 with the RSA public key as secret",
            forge(
                json!({"alg": "HS256", "kid": "rs"}),
                good.clone(),
                &rsa_as_secret,
                Algorithm::HS256,
            ),
            "algorithm not allowed",
        ),
        (
            "jku",
            forge(
                json!({"alg": "HS256", "jku": "https://evil.example/k"}),
                good.clone(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            "header parameter jku not allowed",
        ),
        (
            "expired",
            hs256(claims_with(json!({"exp": now - 3600, "iat": now - 4000, "nbf": now - 4000}))),
            "token expired",
        ),
        ("oversize", hs256(claims_with(json!({"pad": "x".repeat(9000)}))), "token too large"),
    ]
}

// ---- the scenarios ------------------------------------------------------------------------

#[actix_web::test]
async fn every_attack_is_a_401_invalid_token_problem_from_both_frameworks() {
    let jwt = jwt();
    for (name, token, description) in attacks() {
        let res = both(&jwt, get_with("/v1/me", Some(&token))).await;
        assert_eq!(res.status, 401, "{name}");
        assert_eq!(
            challenge(&res),
            format!(
                r#"Bearer realm="guard", error="invalid_token", error_description="{description}""#
            ),
            "{name}"
        );
        let problem = res.problem();
        assert_eq!(problem["type"], ProblemType::INVALID_TOKEN.uri, "{name}");
        assert_eq!(problem["status"], 401, "{name}");
        assert_eq!(problem["detail"], description, "{name}");
    }
}

#[actix_web::test]
async fn no_credentials_get_the_bare_challenge() {
    let jwt = jwt();
    let basic = Req::get("/v1/me").header("authorization", "Basic dXNlcjpwYXNzd29yZA==");
    for req in [
        get_with("/v1/me", None),
        basic,
        get_with(&format!("/v1/me?access_token={}", hs256(good_claims())), None),
    ] {
        let res = both(&jwt, req).await;
        assert_eq!(res.status, 401);
        assert_eq!(challenge(&res), r#"Bearer realm="guard""#);
        assert_eq!(res.problem()["type"], ProblemType::UNAUTHORIZED.uri);
    }
    // A malformed Bearer header is a token that came: invalid_token.
    for bad in ["Bearer", "Bearer a.b.c extra", "bearer \"a.b.c\""] {
        let res = both(&jwt, Req::get("/v1/me").header("authorization", bad)).await;
        assert_eq!(res.status, 401, "{bad}");
        assert!(challenge(&res).contains(r#"error="invalid_token""#), "{bad}");
    }
}

#[actix_web::test]
async fn a_valid_token_reaches_the_handler_through_both_extractors() {
    let jwt = jwt();
    let token = issuer().issue("user-9").unwrap().token;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let req = Req::get("/v1/me").header("authorization", format!("{scheme} {token}"));
        let res = both(&jwt, req).await;
        assert_eq!((res.status, res.body.as_str()), (200, "user-9"));
    }
    // axum's Extension<VerifiedClaims<C>> and actix's GuardData<VerifiedClaims<C>> see it too.
    let res = both(&jwt, get_with("/v1/me-ext", Some(&token))).await;
    assert_eq!((res.status, res.body.as_str()), (200, "user-9"));
    // Routes outside the guarded scope need no token.
    assert_eq!(both(&jwt, get_with("/health", None)).await.status, 200);
}

#[actix_web::test]
async fn the_extractor_without_a_guard_fails_closed_with_a_problem() {
    let jwt = jwt();
    let token = issuer().issue("user-9").unwrap().token;
    let res = both(&jwt, get_with("/unguarded/me", Some(&token))).await;
    assert_eq!(res.status, 401);
    assert_eq!(challenge(&res), "Bearer");
    assert_eq!(res.problem()["type"], ProblemType::UNAUTHORIZED.uri);
}

#[actix_web::test]
async fn optional_claims_are_none_without_a_guard_and_the_claims_behind_one() {
    let jwt = jwt();
    let token = issuer().issue("user-3").unwrap().token;
    let res = both(&jwt, get_with("/unguarded/maybe", Some(&token))).await;
    assert_eq!((res.status, res.body.as_str()), (200, "anonymous"), "no guard ran: no claims");
    let res = both(&jwt, get_with("/v1/maybe", Some(&token))).await;
    assert_eq!((res.status, res.body.as_str()), (200, "user-3"));
}

#[actix_web::test]
async fn a_failed_claims_check_is_403_insufficient_scope() {
    let jwt = jwt();
    let issue = issuer();
    let reader = issue.issue_with("user-9", &json!({"scope": "read"})).unwrap().token;
    let res = both(&jwt, get_with("/v1/admin", Some(&reader))).await;
    assert_eq!(res.status, 403);
    assert_eq!(challenge(&res), r#"Bearer realm="guard", error="insufficient_scope""#);
    assert_eq!(res.problem()["type"], ProblemType::FORBIDDEN.uri);
    let admin = issue.issue_with("user-9", &json!({"scope": "read admin"})).unwrap().token;
    assert_eq!(both(&jwt, get_with("/v1/admin", Some(&admin))).await.status, 200);
}

#[actix_web::test]
async fn logout_in_one_framework_is_seen_by_the_other_and_password_change_by_both() {
    let jwt = jwt();
    let issue = issuer();
    let token = issue.issue("user-5").unwrap().token;
    let other = issue.issue("user-5").unwrap().token;
    // Logout through actix; axum refuses the token right after (and actix too).
    assert_eq!(via_actix(&jwt, &post_with("/v1/auth/logout", &token)).await.status, 204);
    let res = both(&jwt, get_with("/v1/me", Some(&token))).await;
    assert_eq!(res.status, 401);
    assert!(challenge(&res).ends_with(r#"error_description="token revoked""#));
    // The user's other token still works.
    assert_eq!(both(&jwt, get_with("/v1/me", Some(&other))).await.status, 200);

    // Password change through axum: every token issued up to now is refused by both...
    let before = issue.issue("user-5").unwrap().token;
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(via_axum(&jwt, &post_with("/v1/auth/password", &other)).await.status, 204);
    for t in [&other, &before] {
        assert_eq!(both(&jwt, get_with("/v1/me", Some(t))).await.status, 401);
    }
    // ...and a token issued right after works in both.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let after = issue.issue("user-5").unwrap().token;
    assert_eq!(both(&jwt, get_with("/v1/me", Some(&after))).await.status, 200);
}

/// A revocation store that is down.
struct DownStore;

impl RevocationStore for DownStore {
    fn revoke_token<'a>(&'a self, _: &'a str, _: &'a str, _: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(RevocationStoreError::Other("down".into())) })
    }
    fn revoke_subject<'a>(&'a self, _: &'a str, _: u64, _: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(RevocationStoreError::Other("down".into())) })
    }
    fn status<'a>(&'a self, _: &'a str, _: &'a str) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(async { Err(RevocationStoreError::Other("down".into())) })
    }
}

#[actix_web::test]
async fn a_store_outage_is_a_503_with_retry_after_from_both() {
    let jwt: Jwt<Claims> = JwtPolicy { realm: "guard".into(), ..JwtPolicy::hs256(SECRET) }
        .build::<Claims>()
        .unwrap()
        .with_revocation_store(DownStore);
    let token = issuer().issue("user-1").unwrap().token;
    let res = both(&jwt, get_with("/v1/me", Some(&token))).await;
    assert_eq!(res.status, 503);
    assert!(res.header("retry-after").first().is_some_and(|v| v.parse::<u64>().unwrap() >= 1));
    assert_eq!(res.problem()["type"], ProblemType::STORE_UNAVAILABLE.uri);
}
