//! Who a request is on behalf of, once an authentication guard has verified it: the [`Subject`]
//! it leaves in the request's extensions, for whatever counts or logs per user next (a per-user
//! rate limit with `guard_ratelimit::Key::subject()`), without knowing the claims type of the
//! guard that verified it.
//!
//! ```
//! use guard_core::Subject;
//!
//! let mut extensions = http::Extensions::new();
//! extensions.insert(Subject::new("user-42"));
//! assert_eq!(extensions.get::<Subject>().map(Subject::as_str), Some("user-42"));
//! ```

use std::sync::Arc;

/// The authenticated subject of a request (a JWT's `sub`), left in the request's extensions by
/// the authentication guard (`guard_jwt::Jwt` does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(Arc<str>);

impl Subject {
    /// The subject `id`.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The subject's id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
