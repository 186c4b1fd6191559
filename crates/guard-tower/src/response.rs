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

/// A problem as an `application/problem+json` response, e.g. for a router's fallback:
///
/// ```
/// use axum::Router;
/// use guard_core::Problem;
/// use http::StatusCode;
///
/// let app: Router = Router::new()
///     .fallback(|| async { guard_tower::problem(Problem::from_status(StatusCode::NOT_FOUND)) });
/// ```
pub fn problem(problem: Problem) -> http::Response<Full<Bytes>> {
    into_response(problem.to_response())
}
