//! Reading what guards left for the handler.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use guard_core::Problem;

/// Everything the guards of every [`GuardMiddleware`](crate::GuardMiddleware) on the way left for
/// the handler, kept as one request extension (actix-web has its own extension map type).
#[derive(Debug, Default)]
pub struct GuardExtensions(pub http::Extensions);

/// Extracts a value that a guard left for the handler (a CSP nonce, verified claims, ...).
///
/// ```
/// use guard_actix::GuardData;
///
/// #[derive(Clone)]
/// struct Nonce(String);
///
/// async fn page(nonce: GuardData<Nonce>) -> String {
///     format!("<script nonce=\"{}\"></script>", nonce.0.0)
/// }
/// # let _ = actix_web::web::get().to(page);
/// ```
///
/// When no guard left a `T`, the guard that should have is not installed on this route: a
/// server misconfiguration, answered with a 500 problem.
#[derive(Debug, Clone)]
pub struct GuardData<T>(pub T);

impl<T> std::ops::Deref for GuardData<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone + Send + Sync + 'static> FromRequest for GuardData<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<GuardExtensions>().and_then(|e| e.0.get::<T>().cloned());
        ready(found.map(GuardData).ok_or_else(|| {
            let problem = Problem::missing_guard_data(std::any::type_name::<T>());
            actix_web::error::InternalError::from_response(
                "a guard's data was requested but no guard left it",
                crate::problem(problem),
            )
            .into()
        }))
    }
}
