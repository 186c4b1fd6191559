//! Tower and axum adapter for every guard.
//!
//! [`GuardLayer`] applies any [`Guard`](guard_core::Guard), usually an ordered stack built with
//! [`GuardExt::then`](guard_core::GuardExt::then), to a Tower service or an axum router with one
//! call. The adapter only translates: the request head is lent to the guards as it is (no copy),
//! what guards leave for handlers lands in the request's extensions (read it with axum's
//! `Extension<T>`), early answers become responses, and the response step runs on every response
//! the inner service gives.
//!
//! ```
//! use axum::{Router, routing::get};
//! use guard_core::GuardExt;
//! use guard_tower::GuardLayer;
//!
//! # fn security_headers() -> impl guard_core::Guard { () }
//! # fn cors() -> impl guard_core::Guard { () }
//! let app: Router = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(GuardLayer::new(security_headers().then(cors())));
//! ```
//!
//! The peer address, which client-IP resolution starts from, is read from axum's
//! `ConnectInfo<SocketAddr>` (serve with `into_make_service_with_connect_info::<SocketAddr>()`)
//! or from a plain `SocketAddr` request extension.

mod extract;
mod future;
#[cfg(feature = "jwt")]
mod jwt;
mod layer;
mod response;
#[cfg(feature = "serve")]
pub mod serve;
mod service;
#[cfg(feature = "validate")]
mod validate;

pub use extract::GuardData;
pub use future::ResponseFuture;
#[cfg(feature = "jwt")]
pub use jwt::Claims;
pub use layer::GuardLayer;
pub use response::{GuardBody, into_response, method_not_allowed, not_found, problem};

/// The `http` crate (1.x) that guards and problems speak, the same as axum's.
pub use guard_core::http;
pub use service::GuardService;
#[cfg(feature = "validate")]
pub use validate::{AllowUnknownKeys, JsonLimits, JsonRejection, ValidJson, ValidJsonRejection};
