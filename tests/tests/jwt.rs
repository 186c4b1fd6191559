//! The JWT guard and the `Claims<C>` extractors through both adapters: one scenario list, run
//! in-process through actix-web (test utilities) and axum (`oneshot`), with the same answers
//! from both. Every attack of REFERENCE.md's list is forged by hand here again and must come
//! back as 401 `invalid_token` problem+json from each framework.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::time::Duration;

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::extract::Extension;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard_actix::{GuardData, GuardMiddleware};
use guard_core::ProblemType;
use guard_jwt::{
    Algorithm, Jwt, JwtPolicy, KeyConfig, MemoryRevocationStore, RevocationStatus, RevocationStore,
    RevocationStoreError, StoreFuture, TokenIssuer, VerifiedClaims,
};
use guard_tower::GuardLayer;
use http_body_util::BodyExt;
use jsonwebtoken::EncodingKey;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "cross-adapter test secret, 32+ bytes";
const RSA_PUBLIC: &str = include_str!("../../crates/guard-jwt/testdata/rsa-public.pem");
const EC256_PUBLIC: &str = include_str!("../../crates/guard-jwt/testdata/ec256-public.pem");

/// The application's claims.
#[derive(Debug, Clone, Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    scope: String,
}

/// The guard both frameworks use: an HS256 secret, an RSA and a P-256 key (each bound to its
/// algorithm), revocations in memory (shared by both apps, like two instances sharing Redis).
fn jwt() -> Jwt<AccessClaims> {
    JwtPolicy {
        realm: "guard".into(),
        keys: vec![
            KeyConfig::hs256(SECRET).with_kid("hs"),
            KeyConfig::public_pem([Algorithm::RS256], RSA_PUBLIC).with_kid("rs"),
            KeyConfig::public_pem([Algorithm::ES256], EC256_PUBLIC).with_kid("es"),
        ],
        ..JwtPolicy::default()
    }
    .build::<AccessClaims>()
    .unwrap()
    .with_revocation_store(MemoryRevocationStore::new(10_000))
}

fn admin_only(jwt: &Jwt<AccessClaims>) -> Jwt<AccessClaims> {
    jwt.clone().require(|c| c.scope.split(' ').any(|s| s == "admin"))
}

fn issuer() -> TokenIssuer {
    TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap()
}

// ---- the two apps -------------------------------------------------------------------------

async fn via_actix(jwt: &Jwt<AccessClaims>, r: &Req) -> Answer {
    async fn me(claims: guard_actix::Claims<AccessClaims>) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(claims.sub.clone())
    }
    async fn me_ext(claims: GuardData<VerifiedClaims<AccessClaims>>) -> HttpResponse {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(claims.0.sub.clone())
    }
    async fn logout(
        claims: guard_actix::Claims<AccessClaims>,
        jwt: web::Data<Jwt<AccessClaims>>,
    ) -> HttpResponse {
        match jwt.revoke(claims.token()).await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(err) => guard_actix::problem(err.to_problem()),
        }
    }
    async fn password(
        claims: guard_actix::Claims<AccessClaims>,
        jwt: web::Data<Jwt<AccessClaims>>,
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
                    .route("/auth/logout", web::post().to(logout))
                    .route("/auth/password", web::post().to(password)),
            ),
    )
    .await;
    let mut t = actix_test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(r.method.as_bytes()).unwrap())
        .uri(&r.uri);
    for (k, v) in &r.headers {
        t = t.insert_header((k.as_str(), v.as_str()));
    }
    let res = actix_test::call_service(&app, t.to_request()).await;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = actix_test::read_body(res).await;
    Answer::new(status, headers, body.to_vec())
}

async fn via_axum(jwt: &Jwt<AccessClaims>, r: &Req) -> Answer {
    async fn me(claims: guard_tower::Claims<AccessClaims>) -> String {
        claims.sub.clone()
    }
    async fn me_ext(Extension(claims): Extension<VerifiedClaims<AccessClaims>>) -> String {
        claims.sub.clone()
    }
    async fn logout(
        Extension(jwt): Extension<Jwt<AccessClaims>>,
        claims: guard_tower::Claims<AccessClaims>,
    ) -> axum::response::Response {
        match jwt.revoke(claims.token()).await {
            Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
            Err(err) => guard_tower::problem(err.to_problem()).into_response(),
        }
    }
    async fn password(
        Extension(jwt): Extension<Jwt<AccessClaims>>,
        claims: guard_tower::Claims<AccessClaims>,
    ) -> axum::response::Response {
        match jwt.revoke_all_for(&claims.sub).await {
            Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
            Err(err) => guard_tower::problem(err.to_problem()).into_response(),
        }
    }
    let v1 = Router::new()
        .route("/me", get(me))
        .route("/me-ext", get(me_ext))
        .route("/auth/logout", post(logout))
        .route("/auth/password", post(password))
        .layer(GuardLayer::new(jwt.clone()));
    let admin = Router::new().route("/", get(me)).layer(GuardLayer::new(admin_only(jwt)));
    let app: Router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/unguarded/me", get(me))
        .nest("/v1/admin", admin)
        .nest("/v1", v1)
        .layer(Extension(jwt.clone()));
    let mut b = http::Request::builder().method(r.method).uri(&r.uri);
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let res = app.oneshot(b.body(axum::body::Body::empty()).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer::new(status, headers, body.to_vec())
}

// ---- requests and answers -----------------------------------------------------------------

struct Req {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
}

fn get_with(uri: &str, token: Option<&str>) -> Req {
    let headers = token
        .map(|t| vec![("authorization".to_owned(), format!("Bearer {t}"))])
        .unwrap_or_default();
    Req { method: "GET", uri: uri.into(), headers }
}

fn post_with(uri: &str, token: &str) -> Req {
    Req { method: "POST", ..get_with(uri, Some(token)) }
}

/// A response reduced to what both frameworks can be compared on.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn new(status: u16, mut headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        // Framing headers differ by framework for reasons outside guard.
        headers.retain(|(n, _)| n != "content-length" && n != "date");
        headers.sort();
        Self { status, headers, body: String::from_utf8(body).unwrap() }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn problem(&self) -> Value {
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{self:?}");
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Runs `r` through both frameworks with the same guard; both answers must be the same.
async fn both(jwt: &Jwt<AccessClaims>, r: Req) -> Answer {
    let actix = via_actix(jwt, &r).await;
    let axum = via_axum(jwt, &r).await;
    assert_eq!(actix, axum, "{} {}", r.method, r.uri);
    actix
}

// ---- tokens forged by hand ------------------------------------------------------------------

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Value {
    let now = now();
    json!({"sub": "user-1", "jti": "j-1", "iat": now, "nbf": now, "exp": now + 600})
}

fn patched(patch: Value) -> Value {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn forge_raw(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn forge(header: Value, claims: Value, key: &EncodingKey, alg: Algorithm) -> String {
    forge_raw(&header.to_string(), &claims.to_string(), key, alg)
}

fn hs(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes())
}

fn hs256(claims: Value) -> String {
    forge(json!({"alg": "HS256", "typ": "JWT"}), claims, &hs(SECRET), Algorithm::HS256)
}

fn unsigned(header: Value, claims: Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header.to_string()), b64(claims.to_string()))
}

/// REFERENCE.md's attack list (and a few more), each with the description it must get.
fn attacks() -> Vec<(&'static str, String, &'static str)> {
    let good = claims();
    let now = now();
    let valid = hs256(good.clone());
    let parts: Vec<&str> = valid.split('.').collect();
    let (h, s) = (parts[0].to_owned(), parts[2].to_owned());
    let rsa_as_secret = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    let mut list = vec![];
    for alg in ["none", "None", "NONE"] {
        list.push((
            "alg none, no signature",
            unsigned(json!({"alg": alg}), good.clone(), ""),
            "malformed token",
        ));
        list.push((
            "alg none, a signature",
            unsigned(json!({"alg": alg}), good.clone(), &s),
            "algorithm not allowed",
        ));
    }
    list.extend([
        ("empty signature", format!("{h}.{}.", b64(good.to_string())), "malformed token"),
        ("missing signature segment", format!("{h}.{}", b64(good.to_string())), "malformed token"),
        (
            "null signature",
            unsigned(json!({"alg": "HS256"}), good.clone(), "null"),
            "invalid signature",
        ),
        (
            "tampered payload",
            format!("{h}.{}.{s}", b64(patched(json!({"sub": "admin"})).to_string())),
            "invalid signature",
        ),
        (
            "wrong key",
            forge(
                json!({"alg": "HS256"}),
                good.clone(),
                &hs("some other secret of 32 bytes!!!"),
                Algorithm::HS256,
            ),
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
            "embedded jwk",
            forge(
                json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64("x".repeat(32))}}),
                good.clone(),
                &hs(&"x".repeat(32)),
                Algorithm::HS256,
            ),
            "header parameter jwk not allowed",
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
            "x5u",
            forge(
                json!({"alg": "HS256", "x5u": "https://evil.example/c"}),
                good.clone(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            "header parameter x5u not allowed",
        ),
        (
            "kid path traversal",
            forge(
                json!({"alg": "HS256", "kid": "../../dev/null"}),
                good.clone(),
                &EncodingKey::from_secret(b""),
                Algorithm::HS256,
            ),
            "unknown signing key",
        ),
        (
            "expired",
            hs256(patched(json!({"exp": now - 3600, "iat": now - 4000, "nbf": now - 4000}))),
            "token expired",
        ),
        (
            "not yet valid",
            hs256(patched(json!({"nbf": now + 3600, "exp": now + 7200}))),
            "token not yet valid",
        ),
        ("missing exp", hs256(patched(json!({"exp": null}))), "missing claim exp"),
        (
            "string exp",
            hs256(patched(json!({"exp": (now + 600).to_string()}))),
            "claim exp has the wrong type",
        ),
        (
            "ECDSA r = s = 0",
            unsigned(json!({"alg": "ES256", "kid": "es"}), good.clone(), &b64([0u8; 64])),
            "invalid signature",
        ),
        ("oversize", hs256(patched(json!({"pad": "x".repeat(9000)}))), "token too large"),
        (
            "unknown crit",
            forge(
                json!({"alg": "HS256", "crit": ["exp-v"], "exp-v": 1}),
                good.clone(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            "critical header parameter not understood",
        ),
        (
            "duplicate alg",
            forge_raw(
                r#"{"alg":"HS256","alg":"none"}"#,
                &good.to_string(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            "malformed token header",
        ),
    ]);
    list
}

// ---- the scenarios ------------------------------------------------------------------------

#[actix_web::test]
async fn every_attack_is_a_401_invalid_token_problem_from_both_frameworks() {
    let jwt = jwt();
    for (name, token, description) in attacks() {
        let res = both(&jwt, get_with("/v1/me", Some(&token))).await;
        assert_eq!(res.status, 401, "{name}");
        assert_eq!(
            res.header("www-authenticate"),
            Some(format!(r#"Bearer realm="guard", error="invalid_token", error_description="{description}""#).as_str()),
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
    let basic = Req {
        method: "GET",
        uri: "/v1/me".into(),
        headers: vec![("authorization".into(), "Basic dXNlcjpwYXNzd29yZA==".into())],
    };
    for req in [
        get_with("/v1/me", None),
        basic,
        get_with(&format!("/v1/me?access_token={}", hs256(claims())), None),
    ] {
        let res = both(&jwt, req).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="guard""#));
        assert_eq!(res.problem()["type"], ProblemType::UNAUTHORIZED.uri);
    }
    // A malformed Bearer header is a token that came: invalid_token.
    for bad in ["Bearer", "Bearer a.b.c extra", "bearer \"a.b.c\""] {
        let req = Req {
            method: "GET",
            uri: "/v1/me".into(),
            headers: vec![("authorization".into(), bad.into())],
        };
        let res = both(&jwt, req).await;
        assert_eq!(res.status, 401, "{bad}");
        assert!(
            res.header("www-authenticate").unwrap().contains(r#"error="invalid_token""#),
            "{bad}"
        );
    }
}

#[actix_web::test]
async fn a_valid_token_reaches_the_handler_through_both_extractors() {
    let jwt = jwt();
    let token = issuer().issue("user-9").unwrap().token;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let req = Req {
            method: "GET",
            uri: "/v1/me".into(),
            headers: vec![("authorization".into(), format!("{scheme} {token}"))],
        };
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
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    assert_eq!(res.problem()["type"], ProblemType::UNAUTHORIZED.uri);
}

#[actix_web::test]
async fn a_failed_claims_check_is_403_insufficient_scope() {
    let jwt = jwt();
    let issue = issuer();
    let reader = issue.issue_with("user-9", &json!({"scope": "read"})).unwrap().token;
    let res = both(&jwt, get_with("/v1/admin", Some(&reader))).await;
    assert_eq!(res.status, 403);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Bearer realm="guard", error="insufficient_scope""#)
    );
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
    assert!(
        res.header("www-authenticate").unwrap().ends_with(r#"error_description="token revoked""#)
    );
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
    let jwt: Jwt<AccessClaims> = JwtPolicy { realm: "guard".into(), ..JwtPolicy::hs256(SECRET) }
        .build::<AccessClaims>()
        .unwrap()
        .with_revocation_store(DownStore);
    let token = issuer().issue("user-1").unwrap().token;
    let res = both(&jwt, get_with("/v1/me", Some(&token))).await;
    assert_eq!(res.status, 503);
    assert!(res.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() >= 1));
    assert_eq!(res.problem()["type"], ProblemType::STORE_UNAVAILABLE.uri);
}
