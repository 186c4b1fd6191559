//! Helpers shared by the integration tests: tokens forged by hand, keys, requests through the
//! guard.
#![allow(dead_code)] // each test file uses a different part

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
use guard_jwt::{Algorithm, Jwt};
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
