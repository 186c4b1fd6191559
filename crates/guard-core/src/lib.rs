//! The framework-agnostic heart of guard.
//!
//! Every guard in the toolkit (secure headers, CORS, JWT, rate limiting, ...) implements one
//! interface, [`Guard`]: it looks at the request head before the handler runs, may answer at
//! once without calling the handler ([`Decision::Respond`]), may leave data for the handler in the
//! request's extensions, and amends the response head afterwards ([`Guard::respond`]). Guards
//! compose into one ordered stack with [`GuardExt::then`]; the adapters `guard-actix` and
//! `guard-tower` apply such a stack to an actix-web scope or a Tower/axum router with one call.
//!
//! The core also owns what every guard shares:
//! - [`Problem`]: RFC 9457 `application/problem+json` rejections, one error format across the
//!   toolkit, with a stable `type` URI per kind ([`ProblemType`]);
//! - [`TrustedProxies`]: client-IP resolution from the peer address and `X-Forwarded-For` /
//!   `Forwarded`, believed only from configured proxy networks;
//! - [`AllowedMethods`]: a small guard refusing `TRACE`, `CONNECT` and other methods an API
//!   never serves, with a 405 problem before routing;
//! - (feature `breaker`) `CircuitBreaker` and `StoreBreakers`: a deadline and circuit breaker
//!   around remote store calls (one per node of a Redis Cluster), opening on evidence of an
//!   outage rather than on one slow call, so that an outage costs a few timeouts rather than one
//!   per request and a blip costs nobody a refusal;
//! - (feature `redis`) the `redis` module: one shared connection setup, standalone or Redis Cluster;
//! - [`observe`]: one log line per refusal and `metrics` counters per guard, policy and outcome;
//! - [`Subject`]: who a request is on behalf of, left by an authentication guard for the guards
//!   after it (a per-user limit);
//! - [`RequestIdGuard`]: one id per request, kept from a proxy or generated, sent back and
//!   logged once with the method, path, status and duration;
//! - [`PreparedHeader`]: header names and values encoded once at start-up and applied without
//!   allocating per response, on `http` 1.x and (feature `http02`) on actix-web's `http` 0.2.
//!
//! # Example: a guard, run without any web framework
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead, Problem,
//!                  ProblemType, ResponseHead};
//! use http::{header, Request, StatusCode};
//!
//! /// Refuses requests without an `X-Api-Version` header.
//! struct RequireVersion;
//!
//! impl Guard for RequireVersion {
//!     type State = ();
//!     async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<()> {
//!         match req.header(&header::HeaderName::from_static("x-api-version")) {
//!             Some(_) => Decision::Continue(()),
//!             None => Decision::Respond(
//!                 Problem::new(ProblemType::BAD_REQUEST).with_detail("X-Api-Version is required").into(),
//!             ),
//!         }
//!     }
//!     fn respond(&self, _: (), _: &mut dyn ResponseHead) {}
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let mut req = GuardRequest::new(&head);
//! match RequireVersion.check(&mut req).await {
//!     Decision::Respond(res) => assert_eq!(res.status(), StatusCode::BAD_REQUEST),
//!     Decision::Continue(()) => unreachable!(),
//! }
//! # });
//! ```

#[cfg(feature = "breaker")]
mod breaker;
mod client_ip;
mod clock;
mod compose;
mod guard;
mod header;
pub mod keys;
mod methods;
#[cfg(feature = "breaker")]
mod millis;
pub mod observe;
mod problem;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
mod request_id;
mod response;
mod subject;
#[cfg(test)]
mod testing;

#[cfg(feature = "breaker")]
pub use breaker::{
    BreakerConfig, BreakerConfigError, BreakerState, CircuitBreaker, StoreBreakers, StoreError,
    StoreFailure,
};
pub use client_ip::{ForwardedHeader, TrustedProxies, TrustedProxiesError};
pub use clock::{Clock, FakeClock, MonotonicClock, SystemClock};
pub use compose::{BoxGuard, BoxState, GuardFn, guard_fn};
pub use guard::{Decision, Guard, GuardExt, Stack};
pub use header::{HeaderKey, HeaderValues, PreparedHeader, vary_contains};
pub use methods::{AllowedMethods, AllowedMethodsError};
pub use problem::{PROBLEM_JSON, Problem, ProblemType};
pub use request::{GuardRequest, HttpRequestHead, RequestHead};
pub use request_id::{RequestId, RequestIdGuard, RequestIdState, request_span};
pub use response::{GuardResponse, ResponseHead};
pub use subject::Subject;

/// Re-exported so that guards and adapters name the same `http` 1.x types.
pub use http;
#[cfg(feature = "http02")]
#[doc(hidden)]
pub use http02;
