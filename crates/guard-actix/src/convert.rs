//! Turning guard answers and problems into actix-web responses.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use guard_core::{GuardResponse, Problem};

/// An early answer (or any [`GuardResponse`]) as an actix-web response.
pub fn into_response(res: GuardResponse) -> HttpResponse {
    let (status, headers, body) = res.into_parts();
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, body);
    let map = out.headers_mut();
    let mut last_name = None;
    for (name, value) in headers {
        // `HeaderMap`'s owned iterator names only the first of several values.
        if let Some(name) = name {
            last_name = http02::HeaderName::from_bytes(name.as_str().as_bytes()).ok();
        }
        let (Some(name), Ok(value)) =
            (last_name.as_ref(), http02::HeaderValue::from_bytes(value.as_bytes()))
        else {
            continue;
        };
        map.append(name.clone(), value);
    }
    out.map_into_boxed_body()
}

/// A problem as an `application/problem+json` response:
///
/// ```
/// use guard_actix::http::StatusCode;
/// use guard_core::Problem;
///
/// let res = guard_actix::problem(Problem::from_status(StatusCode::CONFLICT));
/// assert_eq!(res.status().as_u16(), 409);
/// ```
pub fn problem(problem: Problem) -> HttpResponse {
    into_response(problem.to_response())
}

/// The 404 problem, for an app's (or scope's) default service, so that unknown routes answer
/// problem+json like every other error (actix-web's own 404 is an empty body):
///
/// ```
/// use actix_web::{App, web};
///
/// let app = App::new()
///     .route("/health", web::get().to(|| async { "ok" }))
///     .default_service(web::to(guard_actix::not_found));
/// ```
pub async fn not_found() -> HttpResponse {
    problem(Problem::not_found())
}

/// A resource's default service answering the 405 problem with `Allow: allow` (actix-web's own
/// 405 is an empty body without `Allow`):
///
/// ```
/// use actix_web::{App, web};
///
/// let app = App::new().service(
///     web::resource("/v1/me")
///         .route(web::get().to(|| async { "me" }))
///         .default_service(guard_actix::method_not_allowed("GET, HEAD")),
/// );
/// ```
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move || async move {
        problem(Problem::method_not_allowed().with_header(
            guard_core::http::header::ALLOW,
            guard_core::http::HeaderValue::from_static(allow),
        ))
    })
}
