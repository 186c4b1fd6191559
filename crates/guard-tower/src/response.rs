//! Turning guard answers and problems into `http` 1.x responses.

use bytes::Bytes;
use guard_core::{GuardResponse, Problem};
use http_body_util::{Either, Full};

/// The body of a guarded response: the inner service's own body, or an early answer's.
pub type GuardBody<B> = Either<B, Full<Bytes>>;

/// An early answer (or any [`GuardResponse`]) as an `http` 1.x response; axum handlers can
/// return it as it is.
pub fn into_response(res: GuardResponse) -> http::Response<Full<Bytes>> {
    res.into_http().map(Full::new)
}

/// A problem as an `application/problem+json` response:
///
/// ```
/// use guard_core::Problem;
/// use guard_tower::http::StatusCode;
///
/// let res = guard_tower::problem(Problem::from_status(StatusCode::CONFLICT));
/// assert_eq!(res.status(), StatusCode::CONFLICT);
/// ```
pub fn problem(problem: Problem) -> http::Response<Full<Bytes>> {
    into_response(problem.to_response())
}

/// The 404 problem, for a router's fallback, so that unknown routes answer problem+json like
/// every other error (axum's own 404 is an empty body):
///
/// ```
/// use axum::{Router, routing::get};
///
/// let app: Router = Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .fallback(guard_tower::not_found)
///     .method_not_allowed_fallback(guard_tower::method_not_allowed);
/// ```
pub async fn not_found() -> http::Response<Full<Bytes>> {
    problem(Problem::not_found())
}

/// The 405 problem, for a router's `method_not_allowed_fallback` (axum adds `Allow` itself).
pub async fn method_not_allowed() -> http::Response<Full<Bytes>> {
    problem(Problem::method_not_allowed())
}
