//! [`ValidJson<T>`]: an axum extractor for a JSON body read under the route's [`JsonLimits`],
//! checked and validated by `guard-validate`, refused as RFC 9457 problem+json.
//!
//! The limits are a request extension, set with axum's `Extension` layer: on the router for
//! every route, on one method router for that route (the inner layer wins). Without one the
//! defaults apply (16 KiB, 32 levels). A type whose garde rules take a context finds it the
//! same way (an `Extension` of its `T::Context`).
//!
//! ```
//! use axum::{Extension, Router, http::StatusCode, routing::post};
//! use guard_tower::{JsonLimits, ValidJson};
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
//! async fn register(ValidJson(body): ValidJson<Register>) -> (StatusCode, String) {
//!     (StatusCode::CREATED, body.username)
//! }
//!
//! let app: Router = Router::new()
//!     // This route takes only 2 KiB, 4 levels deep...
//!     .route(
//!         "/v1/auth/register",
//!         post(register).layer(Extension(JsonLimits::new(2048, 4).unwrap())),
//!     )
//!     // ...every other one the app's limits.
//!     .layer(Extension(JsonLimits::default()));
//! ```

use std::fmt;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use guard_validate::JsonBody;
use guard_validate::garde::Validate;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, LengthLimitError};
use serde::de::DeserializeOwned;

pub use guard_validate::{AllowUnknownKeys, JsonLimits, JsonRejection};

/// Extracts a `T` from a JSON body that passed every check of `guard-validate`: media type,
/// size, syntax, shape (strict keys at every depth) and `T`'s garde rules.
///
/// Any failure answers at once with the problem for it (415, 413, 400 or 422, listing every
/// failing field); the handler never runs. Take `Result<ValidJson<T>, ValidJsonRejection>` to
/// handle a refusal yourself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidJson<T>(pub T);

guard_validate::__transparent_wrapper!(ValidJson, "The validated value.");

/// Why [`ValidJson`] refused a body; answers as the problem+json for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidJsonRejection(pub JsonRejection);

impl From<JsonRejection> for ValidJsonRejection {
    fn from(rejection: JsonRejection) -> Self {
        Self(rejection)
    }
}

impl fmt::Display for ValidJsonRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ValidJsonRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for ValidJsonRejection {
    fn into_response(self) -> Response {
        self.0.report();
        crate::problem(self.0.to_problem()).into_response()
    }
}

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate + Send,
    T::Context: Send + Sync + 'static,
{
    type Rejection = ValidJsonRejection;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, mut body) = req.into_parts();
        let limits = parts.extensions.get::<JsonLimits>().copied().unwrap_or_default();
        let mut reader = JsonBody::start(
            &limits,
            parts.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            parts.headers.get(CONTENT_LENGTH).map(|v| v.as_bytes()),
        )?;
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|err| unreadable(&err, &limits))?;
                if let Some(chunk) = frame.data_ref() {
                    reader.push(chunk)?;
                }
            }
            Ok::<_, ValidJsonRejection>(())
        };
        // The whole body within the read timeout: a client trickling it is answered 408.
        tokio::time::timeout(limits.read_timeout(), read)
            .await
            .map_err(|_| JsonRejection::Timeout { after: limits.read_timeout() })??;
        let context = parts.extensions.get::<T::Context>();
        Ok(ValidJson(reader.finish_with_route_context::<T>(context)?))
    }
}

/// A body that failed while streaming: too large when a body limit of another layer cut it
/// off, unreadable otherwise.
fn unreadable(err: &axum::Error, limits: &JsonLimits) -> ValidJsonRejection {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return JsonRejection::TooLarge { max_bytes: limits.max_bytes() }.into();
        }
        cause = e.source();
    }
    JsonRejection::Unreadable.into()
}
