//! Fetch-standard CORS with a strict origin allowlist, as a [`guard_core::Guard`].
//!
//! A [`CorsPolicy`] is plain data (deserializable from a config file, or filled in with builder
//! methods) compiled once by [`CorsPolicy::build`] into the [`Cors`] guard. Building refuses, with
//! a typed [`CorsError`] and never a panic, what peers accept and browsers then read differently
//! or dangerously: `*` or a mirrored origin with credentials, `null` unless explicitly enabled,
//! allowlist entries that are not origins (`https://a.com/`, `a.com`, `user@host`), invalid
//! methods and header names.
//!
//! Per request the guard:
//! - answers **preflights** (`OPTIONS` *with* `Access-Control-Request-Method`; any other `OPTIONS`
//!   goes to the handler) with 204 and the allowed origin, methods, headers, max-age and
//!   credentials, or with a 403 `application/problem+json` carrying no `Access-Control-*` header;
//! - adds `Access-Control-Allow-Origin` (the request's `Origin`, echoed byte for byte),
//!   `Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers` to responses for
//!   allowed origins, and nothing for other origins (or refuses them, with
//!   [`block_disallowed`](CorsPolicy::block_disallowed));
//! - puts `Vary: Origin` on every response whose CORS answer depends on the origin, including
//!   those without CORS headers and inner guards' early answers, extending an existing `Vary`.
//!
//! Origins are matched exactly after normalisation, in a hash set ([`OriginAllowlist`]), or by
//! opt-in subdomain patterns matched on whole host labels (`https://*.example.com`), or by a
//! predicate ([`CorsPolicy::allow_origin_fn`]).
//!
//! # Example
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
//! use guard_cors::{CorsError, CorsPolicy};
//! use http::{Request, StatusCode};
//!
//! let cors = CorsPolicy::new()
//!     .allow_origins(["https://app.example.com"])
//!     .allow_subdomains_of(["https://*.preview.example.com"])
//!     .allow_methods(["GET", "POST", "DELETE"])
//!     .allow_headers(["authorization", "content-type"])
//!     .expose_headers(["ratelimit"])
//!     .allow_credentials(true)
//!     .build()?;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A preflight from an allowed origin is answered at once.
//! let (parts, ()) = Request::options("/v1/items")
//!     .header("origin", "https://app.example.com")
//!     .header("access-control-request-method", "DELETE")
//!     .header("access-control-request-headers", "authorization")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let Decision::Respond(answer) = cors.check(&mut GuardRequest::new(&head)).await else {
//!     panic!("a preflight is answered by the guard");
//! };
//! assert_eq!(answer.status(), StatusCode::NO_CONTENT);
//! let h = answer.headers();
//! assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
//! assert_eq!(h["access-control-allow-methods"], "GET, POST, DELETE");
//! assert_eq!(h["access-control-allow-headers"], "authorization, content-type");
//! assert_eq!(h["access-control-allow-credentials"], "true");
//! assert_eq!(h["access-control-max-age"], "600");
//! assert_eq!(h["vary"], "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
//!
//! // The actual request reaches the handler; the guard amends the response.
//! let (parts, ()) = Request::delete("/v1/items/7")
//!     .header("origin", "https://pr-42.preview.example.com")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let Decision::Continue(state) = cors.check(&mut GuardRequest::new(&head)).await else {
//!     panic!("an actual request goes to the handler");
//! };
//! let mut response = GuardResponse::new(StatusCode::NO_CONTENT);
//! cors.respond(state, &mut response);
//! let h = response.headers();
//! assert_eq!(h["access-control-allow-origin"], "https://pr-42.preview.example.com");
//! assert_eq!(h["access-control-expose-headers"], "ratelimit");
//! assert_eq!(h["vary"], "Origin");
//!
//! // A preflight from any other origin is refused, without CORS headers.
//! let (parts, ()) = Request::options("/v1/items")
//!     .header("origin", "https://evil-example.com")
//!     .header("access-control-request-method", "DELETE")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let Decision::Respond(answer) = cors.check(&mut GuardRequest::new(&head)).await else {
//!     panic!("a preflight is answered by the guard");
//! };
//! assert_eq!(answer.status(), StatusCode::FORBIDDEN);
//! assert_eq!(answer.headers()["content-type"], "application/problem+json");
//! assert!(answer.headers().get("access-control-allow-origin").is_none());
//! # });
//!
//! // Mistakes are errors at start-up, not panics or open doors.
//! let err = CorsPolicy::new().allow_any_origin().allow_credentials(true).build().unwrap_err();
//! assert_eq!(err, CorsError::CredentialsWithAnyOrigin);
//! # Ok::<(), CorsError>(())
//! ```

mod error;
mod guard;
mod origin;
mod policy;

pub use error::{CorsError, NotASubdomainPattern, NotAnOrigin};
pub use guard::{Cors, CorsState};
pub use origin::OriginAllowlist;
pub use policy::CorsPolicy;
