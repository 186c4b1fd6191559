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

/// A problem as an `application/problem+json` response, e.g. for an app's default service:
///
/// ```
/// use actix_web::{App, web};
/// use guard_core::Problem;
/// use http::StatusCode;
///
/// let app = App::new().default_service(web::to(|| async {
///     guard_actix::problem(Problem::from_status(StatusCode::NOT_FOUND))
/// }));
/// ```
pub fn problem(problem: Problem) -> HttpResponse {
    into_response(problem.to_response())
}
