//! actix-web adapter for every guard.
//!
//! [`GuardMiddleware`] applies any [`Guard`](guard_core::Guard), usually an ordered stack built
//! with [`GuardExt::then`](guard_core::GuardExt::then), to an actix-web `App`, scope or resource
//! with one `.wrap(..)`. The adapter only translates between actix-web's `http` 0.2 types and the
//! core's `http` 1.x view: the request head is lent to the guards without copying its header map,
//! prepared headers are applied from their pre-encoded `http` 0.2 form, what guards leave for
//! handlers is read with the [`GuardData`] extractor, and early answers become responses.
//!
//! ```
//! use actix_web::{App, web};
//! use guard_actix::GuardMiddleware;
//! use guard_core::GuardExt;
//!
//! # fn security_headers() -> impl guard_core::Guard { () }
//! # fn cors() -> impl guard_core::Guard { () }
//! let app = App::new()
//!     .wrap(GuardMiddleware::new(security_headers().then(cors())))
//!     .route("/health", web::get().to(|| async { "ok" }));
//! ```

mod convert;
mod extract;
#[cfg(feature = "jwt")]
mod jwt;
mod middleware;
mod request;
mod response;
#[cfg(feature = "validate")]
mod validate;

pub use convert::{into_response, method_not_allowed, not_found, problem};

pub use extract::{GuardData, GuardExtensions};
/// The `http` crate (1.x) that guards and problems speak. actix-web itself is built on `http`
/// 0.2, so `actix_web::http::StatusCode` is another type: where a guard, a [`Problem`](guard_core::Problem)
/// or a header value is built, use these (`guard_actix::http::StatusCode`,
/// `guard_actix::http::HeaderValue`).
pub use guard_core::http;
#[cfg(feature = "jwt")]
pub use jwt::Claims;
pub use middleware::{GuardMiddleware, GuardService};
#[cfg(feature = "validate")]
pub use validate::{AllowUnknownKeys, JsonLimits, JsonRejection, ValidJson};
