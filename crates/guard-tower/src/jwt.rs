//! [`Claims<C>`]: the verified JWT claims that `guard_jwt::Jwt<C>` left for the handler.
//!
//! The guard puts a `guard_jwt::VerifiedClaims<C>` into the request extensions, so axum's
//! `Extension<VerifiedClaims<C>>` reads it too; [`Claims<C>`] is the dedicated extractor (the
//! same name as in guard-actix), which answers a problem rather than a plain-text 500 when the
//! guard did not run.
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use guard_jwt::{JwtPolicy, VerifiedClaims};
//! use guard_tower::{Claims, GuardLayer};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct AccessClaims {
//!     sub: String,
//! }
//!
//! async fn me(claims: Claims<AccessClaims>) -> String {
//!     format!("{} (token {:?})", claims.sub, claims.token().jti)
//! }
//!
//! async fn me_too(Extension(claims): Extension<VerifiedClaims<AccessClaims>>) -> String {
//!     claims.sub.clone()
//! }
//!
//! let jwt = JwtPolicy::hs256("a secret of at least 32 bytes, from JWT_SECRET")
//!     .build::<AccessClaims>()
//!     .unwrap();
//! let app: Router = Router::new()
//!     .route("/v1/me", get(me))
//!     .route("/v1/me-too", get(me_too))
//!     .layer(GuardLayer::new(jwt));
//! ```

use guard_jwt::{TokenInfo, VerifiedClaims};

/// Extracts the claims of the request's verified token, typed with the application's claims
/// struct `C`; dereferences to `C`.
///
/// On a route where no `guard_jwt::Jwt<C>` ran (a wiring mistake) it answers 401 problem+json
/// with a `Bearer` challenge, so such a route fails closed. `Option<Claims<C>>` makes it
/// optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims<C>(pub VerifiedClaims<C>);

impl<C> Claims<C> {
    /// `jti`, `sub`, issue and expiry times of the token: what `Jwt::revoke` takes.
    pub fn token(&self) -> &TokenInfo {
        &self.0.token
    }

    /// The verified claims with their token facts.
    pub fn into_inner(self) -> VerifiedClaims<C> {
        self.0
    }

    /// The claims left in `extensions` by the guard, if it ran (for plain Tower services).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self>
    where
        C: Clone + Send + Sync + 'static,
    {
        extensions.get::<VerifiedClaims<C>>().cloned().map(Claims)
    }
}

impl<C> std::ops::Deref for Claims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0.claims
    }
}

crate::extract::extract_left_by_guard!(Claims<C>, guard_jwt::missing_claims_problem());

#[cfg(feature = "axum")]
impl<S, C> axum::extract::OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}
