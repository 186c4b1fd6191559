//! [`ValidJson<T>`]: a JSON body read under the route's [`JsonLimits`], checked and validated
//! by `guard-validate`, refused as RFC 9457 problem+json.
//!
//! The limits come from `app_data`: a [`JsonLimits`] (or `web::Data<JsonLimits>`) on the
//! resource or scope wins over one on the app, and without any the defaults apply (16 KiB,
//! 32 levels). A type whose garde rules take a context finds it in `app_data` too (its
//! `T::Context`, plain or in `web::Data`).
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use guard_actix::{JsonLimits, ValidJson};
//!
//! #[derive(serde::Deserialize, garde::Validate)]
//! struct Register {
//!     #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
//!     username: String,
//!     #[garde(email)]
//!     email: String,
//!     #[garde(length(chars, min = 12))]
//!     password: String,
//! }
//!
//! async fn register(body: ValidJson<Register>) -> HttpResponse {
//!     HttpResponse::Created().body(body.username.clone())
//! }
//!
//! let app = App::new()
//!     // Every route of the app...
//!     .app_data(JsonLimits::default())
//!     // ...but this one takes only 2 KiB, 4 levels deep.
//!     .service(
//!         web::resource("/v1/auth/register")
//!             .app_data(JsonLimits::new(2048, 4).unwrap())
//!             .route(web::post().to(register)),
//!     );
//! ```

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{InternalError, PayloadError};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use guard_validate::JsonBody;
use guard_validate::garde::Validate;
use serde::de::DeserializeOwned;

pub use guard_validate::{AllowUnknownKeys, JsonLimits, JsonRejection};

/// Extracts a `T` from a JSON body that passed every check of `guard-validate`: media type,
/// size, syntax, shape (strict keys at every depth) and `T`'s garde rules.
///
/// Any failure answers at once with the problem for it (415, 413, 400 or 422, listing every
/// failing field); the handler never runs. The error is an `actix_web::Error` made from an
/// `InternalError<JsonRejection>`, so middleware can still tell what was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidJson<T>(pub T);

guard_validate::__transparent_wrapper!(ValidJson, "The validated value.");

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validate + 'static,
    T::Context: 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limits = app_data::<JsonLimits>(req).copied().unwrap_or_default();
        let headers = req.headers();
        let started = JsonBody::start(
            &limits,
            headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            headers.get(CONTENT_LENGTH).map(|v| v.as_bytes()),
        );
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            let mut body = started.map_err(reject)?;
            let read = async {
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|err| match err {
                        PayloadError::Overflow => {
                            JsonRejection::TooLarge { max_bytes: limits.max_bytes() }
                        }
                        _ => JsonRejection::Unreadable,
                    })?;
                    body.push(&chunk)?;
                }
                Ok(())
            };
            // The whole body within the read timeout: a client trickling it is answered 408.
            tokio::time::timeout(limits.read_timeout(), read)
                .await
                .unwrap_or(Err(JsonRejection::Timeout { after: limits.read_timeout() }))
                .map_err(reject)?;
            let context = app_data::<T::Context>(&req);
            body.finish_with_route_context::<T>(context).map(ValidJson).map_err(reject)
        })
    }
}

/// A value configured with `app_data`, plain or in `web::Data`.
fn app_data<C: 'static>(req: &HttpRequest) -> Option<&C> {
    req.app_data::<C>().or_else(|| req.app_data::<web::Data<C>>().map(|data| data.get_ref()))
}

/// The problem response for a refused body, keeping the rejection as the error's cause.
fn reject(rejection: JsonRejection) -> actix_web::Error {
    let response = crate::problem(rejection.to_problem());
    rejection.report();
    InternalError::from_response(rejection, response).into()
}
