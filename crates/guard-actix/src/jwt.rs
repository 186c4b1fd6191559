//! [`Claims<C>`]: the verified JWT claims that `guard_jwt::Jwt<C>` left for the handler.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use guard_actix::{Claims, GuardMiddleware};
//! use guard_jwt::JwtPolicy;
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct AccessClaims {
//!     sub: String,
//! }
//!
//! async fn me(claims: Claims<AccessClaims>) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("{} (token {:?})", claims.sub, claims.token().jti))
//! }
//!
//! let jwt = JwtPolicy::hs256("a secret of at least 32 bytes, from JWT_SECRET")
//!     .build::<AccessClaims>()
//!     .unwrap();
//! let app = App::new().service(
//!     web::scope("/v1").wrap(GuardMiddleware::new(jwt)).route("/me", web::get().to(me)),
//! );
//! ```

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use guard_jwt::{TokenInfo, VerifiedClaims};

use crate::extract::GuardExtensions;

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
}

impl<C> std::ops::Deref for Claims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0.claims
    }
}

impl<C: Clone + Send + Sync + 'static> FromRequest for Claims<C> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req
            .extensions()
            .get::<GuardExtensions>()
            .and_then(|e| e.0.get::<VerifiedClaims<C>>().cloned());
        ready(found.map(Claims).ok_or_else(|| {
            actix_web::error::InternalError::from_response(
                "verified claims were requested but no JWT guard ran",
                crate::problem(guard_jwt::missing_claims_problem()),
            )
            .into()
        }))
    }
}
