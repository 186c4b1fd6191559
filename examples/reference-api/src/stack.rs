//! The guard stack both servers install on every route.

use guard_core::{AllowedMethods, GuardExt, RequestIdGuard, Stack};
use guard_cors::Cors;
use guard_headers::SecureHeaders;

use crate::Config;

/// The request id outermost (every later log line can name the request, and the one log line per
/// request sees the final status); security headers next, so that every answer (the handler's and
/// every early answer of the guards inside) carries them; CORS next, so that browsers may read the
/// early answers of the guards inside it (a 405, a 401, a 429); then the method filter.
pub type SecurityStack = Stack<Stack<Stack<RequestIdGuard, SecureHeaders>, Cors>, AllowedMethods>;

/// A guard of the stack was configured wrongly.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The security headers policy is invalid.
    #[error("security headers: {0}")]
    Headers(#[from] guard_headers::HeadersError),
}

/// Builds the stack: OWASP API headers (`guard_headers::api()`), the configured CORS allowlist,
/// `TRACE`/`CONNECT` refused.
pub fn security_stack(config: &Config) -> Result<SecurityStack, StackError> {
    Ok(RequestIdGuard::default()
        .then(guard_headers::api().build()?)
        .then(config.cors.clone())
        .then(AllowedMethods::default()))
}
