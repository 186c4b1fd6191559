//! Helpers shared by the integration tests: tokens forged by hand, keys, requests through the
//! guard. guard-tests' cross-adapter JWT test (`tests/tests/jwt.rs`) uses them too.
#![allow(dead_code)] // each test file uses a different part

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
use guard_jwt::{Algorithm, Jwt, JwtPolicy, KeyConfig};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

pub const SECRET: &str = "test secret of at least 32 bytes!!";
pub const OTHER_SECRET: &str = "another secret, also 32 bytes long";
pub const RSA_PRIVATE: &str = include_str!("../../testdata/rsa-private.pem");
pub const RSA_PUBLIC: &str = include_str!("../../testdata/rsa-public.pem");
pub const EC256_PRIVATE: &str = include_str!("../../testdata/ec256-private.pem");
pub const EC256_PUBLIC: &str = include_str!("../../testdata/ec256-public.pem");
pub const EC256B_PRIVATE: &str = include_str!("../../testdata/ec256b-private.pem");
pub const EC384_PRIVATE: &str = include_str!("../../testdata/ec384-private.pem");
pub const EC384_PUBLIC: &str = include_str!("../../testdata/ec384-public.pem");
pub const ED_PRIVATE: &str = include_str!("../../testdata/ed25519-private.pem");
pub const ED_PUBLIC: &str = include_str!("../../testdata/ed25519-public.pem");

/// The application's claims in the tests.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub scope: String,
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Claims valid for the next ten minutes.
pub fn good_claims() -> Value {
    let now = now_secs();
    json!({"sub": "user-1", "jti": "jti-1", "iat": now, "nbf": now, "exp": now + 600})
}

/// [`good_claims`] changed by `patch`: each member replaced, or removed where `patch` has null.
pub fn claims_with(patch: Value) -> Value {
    let mut claims = good_claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

/// A policy of realm `guard` with an HMAC key, an RSA key and a P-256 key (kids `hs`, `rs`,
/// `es`), each bound to its algorithm.
pub fn three_keys() -> JwtPolicy {
    JwtPolicy {
        realm: "guard".into(),
        keys: vec![
            KeyConfig::hs256(SECRET).with_kid("hs"),
            KeyConfig::public_pem([Algorithm::RS256], RSA_PUBLIC).with_kid("rs"),
            KeyConfig::public_pem([Algorithm::ES256], EC256_PUBLIC).with_kid("es"),
        ],
        ..JwtPolicy::default()
    }
}

/// `header.claims` signed with `key` for `alg`, both JSON texts exactly as given.
pub fn forge_raw(header: &str, claims: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

pub fn forge(header: Value, claims: Value, key: &EncodingKey, alg: Algorithm) -> String {
    forge_raw(&header.to_string(), &claims.to_string(), key, alg)
}

/// `header.claims.signature` with a signature given as is.
pub fn unsigned(header: Value, claims: Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(header.to_string()), b64(claims.to_string()))
}

pub fn hs(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes())
}

/// A valid HS256 token with the test secret.
pub fn hs256(claims: Value) -> String {
    forge(json!({"alg": "HS256", "typ": "JWT"}), claims, &hs(SECRET), Algorithm::HS256)
}

/// `GET /v1/me` with `Authorization: Bearer <token>`.
pub fn bearer_request(token: &str) -> http::Request<()> {
    http::Request::get("/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

/// What `jwt` does with `req` in front of a handler: `None` when it lets the request through,
/// else its own answer.
pub async fn guard_answer(jwt: &Jwt<Claims>, req: http::Request<()>) -> Option<GuardResponse> {
    let (parts, ()) = req.into_parts();
    let head = HttpRequestHead::new(&parts, None);
    match jwt.check(&mut GuardRequest::new(&head)).await {
        Decision::Continue(()) => None,
        Decision::Respond(res) => Some(res),
    }
}
