//! JWT bearer authentication for guard: verification per RFC 8725, RFC 6750 challenges, and
//! revocation that every instance sees at once.
//!
//! The pieces are separate, as in governor: the **algorithm** (jsonwebtoken's crypto, behind a
//! key set with an explicit allowlist per key: [`JwtPolicy::keys`], [`JwtPolicy::jwks`]), the
//! **clock** ([`Clock`]), and the **storage** of revocations ([`RevocationStore`]). A [`JwtPolicy`] is plain data
//! (serde); [`JwtPolicy::build`] loads and checks every key once and yields the guard
//! [`Jwt<C>`], typed with the application's own claims struct `C`. The guard leaves
//! [`VerifiedClaims<C>`] in the request extensions; `guard_actix::Claims<C>` and
//! `guard_tower::Claims<C>` (feature `jwt` of the adapters) extract it in handlers.
//! [`TokenIssuer`] mints tokens for servers that issue their own.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};
//! use guard_jwt::{JwtPolicy, MemoryRevocationStore, Rejection, TokenError, TokenIssuer, VerifiedClaims};
//!
//! /// The application's claims: whatever the tokens carry that handlers need.
//! #[derive(Debug, Clone, serde::Deserialize)]
//! struct Claims {
//!     sub: String,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let secret = "a secret of at least 32 bytes, from JWT_SECRET";
//! let jwt = JwtPolicy { realm: "guard".into(), ..JwtPolicy::hs256(secret) }
//!     .build::<Claims>()?
//!     .with_revocation_store(MemoryRevocationStore::new(100_000));
//! let issuer = TokenIssuer::hs256(secret, Duration::from_secs(900))?;
//!
//! // Login: mint a token.
//! let issued = issuer.issue("user-42")?;
//!
//! // A request carrying it passes the guard, which leaves the claims for the handler.
//! let (parts, ()) = http::Request::get("/v1/me")
//!     .header("authorization", format!("Bearer {}", issued.token))
//!     .body(())?
//!     .into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let mut req = GuardRequest::new(&head);
//! assert!(matches!(jwt.check(&mut req).await, Decision::Continue(())));
//! let claims = req.extensions().get::<VerifiedClaims<Claims>>().unwrap().clone();
//! assert_eq!(claims.sub, "user-42");
//!
//! // Logout: revoke this very token; every instance sharing the store refuses it from now on.
//! jwt.revoke(&claims.token).await?;
//! assert_eq!(jwt.authenticate(&issued.token).await.unwrap_err(), Rejection::Invalid(TokenError::Revoked));
//!
//! // Without a token: 401 with a bare challenge, as problem+json.
//! let (parts, ()) = http::Request::get("/v1/me").body(())?.into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let Decision::Respond(res) = jwt.check(&mut GuardRequest::new(&head)).await else { panic!() };
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="guard""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What is checked, and the decisions behind it
//!
//! - **Size first**: a token over [`JwtPolicy::max_token_bytes`] (default 8 KiB) is refused
//!   before any decoding.
//! - **Header, by guard-jwt itself** before jsonwebtoken sees anything (see `header` rules in
//!   [`TokenError`]): strict base64url and JSON with unique members; `alg` from the allowlist
//!   of the selected key (`none` in any spelling never is); `jku`, `x5u`, `x5c`, `jwk` refused,
//!   never followed; `crit` refused unless every listed parameter is declared in
//!   [`JwtPolicy::understood_critical`]; `kid` only a map key (a `../../dev/null` is just an
//!   unknown key); optional `typ` check.
//! - **Keys**: one key serves one algorithm family, so HS/RS confusion is impossible. A token
//!   with `kid` uses exactly that key. A token without `kid` tries the keys whose allowlist
//!   contains its `alg`, in configuration order, at most [`MAX_KEYS_WITHOUT_KID`] (set
//!   [`JwtPolicy::require_kid`] to refuse such tokens instead). JWKS sources (feature `jwks`)
//!   are cached, refreshed in the background and on an unknown `kid` at most once per
//!   cooldown, old keys kept until a new set arrives: see [`JwksConfig`].
//! - **Signature**: jsonwebtoken's crypto (`jsonwebtoken::crypto::verify`). ECDSA signatures with
//!   r = s = 0 (CVE-2022-21449) fail there.
//! - **Claims, by guard-jwt itself** with strict types ([`claims`]): `exp` required, a string or
//!   negative `exp` refused; `nbf` and `iat` checked when present; `iss` against
//!   [`JwtPolicy::issuers`]; `aud` against [`JwtPolicy::audiences`] (any one suffices). The
//!   **leeway defaults to 30 s** (configurable, at most 300 s), applied to `exp`, `nbf`, `iat`.
//! - **Revocation** ([`revocation`]) after the signature, one store round trip, under a 250 ms
//!   deadline and circuit breakers (one per Redis node); a blip is asked once more, an outage
//!   fails closed (503 + `Retry-After`) by default ([`OnStoreFailure`]).
//! - **Claims check** of the route ([`Jwt::require`]): 403 `insufficient_scope`.
//!
//! Tokens come from `Authorization: Bearer` (scheme case-insensitive, exactly one token) or
//! an optional cookie ([`JwtPolicy::cookie`]), never from the query string.
//!
//! # Crypto backend
//!
//! jsonwebtoken 11 needs exactly one of its features `rust_crypto` / `aws_lc_rs`, or it panics at
//! the first signature. guard-jwt uses **`rust_crypto`** (pure Rust: builds without cmake or a
//! C toolchain for assembly, which `aws_lc_rs` needs). **Do not enable `aws_lc_rs` on
//! jsonwebtoken elsewhere in the same build**: Cargo unifies features, and both on means no
//! automatic backend. guard-jwt defends against it: `build()` installs the `rust_crypto`
//! provider explicitly as the process default and verifies a known token (catching a panic),
//! so a broken backend is a [`JwtError::CryptoBackend`] at start-up, never a panic on a request.
//!
//! # Features
//!
//! - `redis`: `RedisRevocationStore`, revocations shared by every instance (standalone or
//!   Cluster).
//! - `jwks`: [`JwksConfig`] sources fetched over plain HTTP (loopback, or with
//!   `allow_insecure_http`); `jwks-rustls` adds TLS for https URLs.

pub mod claims;
mod clock;
mod crypto;
mod error;
mod extract;
mod guard;
mod header;
mod issuer;
mod json;
#[cfg(feature = "jwks")]
mod jwks;
mod keys;
mod policy;
pub mod revocation;
mod verify;

pub use claims::{IAT_MS, TokenInfo};
pub use clock::{Clock, FakeClock, SystemClock};
pub use error::{
    CredentialChangeError, IssueError, JwtError, Rejection, RevokeError, TokenError,
    missing_claims_problem,
};
pub use guard::{Jwt, VerifiedClaims};
pub use issuer::{AuthenticationStart, IssuedToken, IssuerPolicy, SigningKey, TokenIssuer};
#[cfg(feature = "jwks")]
pub use jwks::JwksError;
pub use keys::{KeyConfig, KeyMaterial};
pub use policy::{JwksConfig, JwtPolicy};
#[cfg(feature = "redis")]
pub use revocation::RedisRevocationStore;
pub use revocation::{
    MemoryRevocationStore, OnStoreFailure, RevocationPolicy, RevocationStatus, RevocationStore,
    RevocationStoreError, StoreFuture,
};
pub use verify::MAX_KEYS_WITHOUT_KID;

/// Re-exported so that policies name the same algorithm type.
pub use jsonwebtoken::Algorithm;
