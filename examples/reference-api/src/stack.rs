//! The guard stack both servers install on every route.

use guard_core::{AllowedMethods, GuardExt, Stack};
use guard_headers::SecureHeaders;

/// Security headers outermost, so that every answer (the handler's and every early answer of
/// the guards inside) carries them; then the method filter.
pub type SecurityStack = Stack<SecureHeaders, AllowedMethods>;

/// A guard of the stack was configured wrongly.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The security headers policy is invalid.
    #[error("security headers: {0}")]
    Headers(#[from] guard_headers::HeadersError),
}

/// Builds the stack: OWASP API headers (`guard_headers::api()`), `TRACE`/`CONNECT` refused.
pub fn security_stack() -> Result<SecurityStack, StackError> {
    Ok(guard_headers::api().build()?.then(AllowedMethods::default()))
}
