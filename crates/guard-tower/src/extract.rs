//! Reading what guards left for the handler, as axum's `Extension<T>` does, but answering like
//! the guards when it is missing.

/// Extracts a value that a guard left for the handler (a CSP nonce, the request id, verified
/// claims), like actix-web's `guard_actix::GuardData`.
///
/// When no guard left a `T`, the guard that should have is not installed on this route: a
/// server misconfiguration, answered with a 500 problem and logged as an error naming `T`
/// (axum's own `Extension<T>` answers a plain-text 500 instead).
///
/// ```
/// use axum::{Router, routing::get};
/// use guard_core::{RequestId, RequestIdGuard};
/// use guard_tower::{GuardData, GuardLayer};
///
/// async fn handler(GuardData(id): GuardData<RequestId>) -> String {
///     format!("request {id}")
/// }
///
/// let app: Router = Router::new()
///     .route("/", get(handler))
///     .layer(GuardLayer::new(RequestIdGuard::default()));
/// ```
#[derive(Debug, Clone)]
pub struct GuardData<T>(pub T);

impl<T> std::ops::Deref for GuardData<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone + Send + Sync + 'static> GuardData<T> {
    /// The value left in `extensions`, if a guard left one (for plain Tower services).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self> {
        extensions.get::<T>().cloned().map(GuardData)
    }
}

/// The axum extractor of `$ty<$t>`, a value a guard left for the handler: its
/// `from_extensions`, or `$missing` (the [`Problem`](guard_core::Problem) for a route where no
/// guard left one) answered as problem+json.
macro_rules! extract_left_by_guard {
    ($ty:ident<$t:ident>, $missing:expr) => {
        #[cfg(feature = "axum")]
        impl<S, $t> axum::extract::FromRequestParts<S> for $ty<$t>
        where
            S: Send + Sync,
            $t: Clone + Send + Sync + 'static,
        {
            type Rejection = http::Response<http_body_util::Full<bytes::Bytes>>;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                Self::from_extensions(&parts.extensions).ok_or_else(|| crate::problem($missing))
            }
        }
    };
}
#[cfg(feature = "jwt")]
pub(crate) use extract_left_by_guard;

extract_left_by_guard!(
    GuardData<T>,
    guard_core::Problem::missing_guard_data(std::any::type_name::<T>())
);
