//! Why a CORS policy cannot be built: one typed error per mistake, found at start-up.

/// A configuration that cannot become a [`Cors`](crate::Cors) guard.
///
/// [`CorsPolicy::build`](crate::CorsPolicy::build) never panics; every configuration that a
/// browser would read differently from what was meant, or that opens the API to every site, is a
/// [`CorsError`] naming the offending entry.
///
/// ```
/// use guard_cors::{CorsError, CorsPolicy, NotAnOrigin};
///
/// let err = CorsPolicy::new().allow_origins(["https://app.example.com/"]).build().unwrap_err();
/// assert_eq!(
///     err,
///     CorsError::InvalidOrigin {
///         entry: "https://app.example.com/".into(),
///         reason: NotAnOrigin::TrailingSlash,
///     }
/// );
/// assert_eq!(
///     err.to_string(),
///     "`https://app.example.com/` is not an origin: an origin has no trailing slash"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// An entry of the origin allowlist is not a serialized origin (`scheme://host[:port]`).
    #[error("`{entry}` is not an origin: {reason}")]
    InvalidOrigin {
        /// The entry as configured.
        entry: String,
        /// What is wrong with it.
        reason: NotAnOrigin,
    },
    /// An entry of `allow_subdomains_of` is not a pattern `scheme://*.domain[:port]`.
    #[error("`{entry}` is not a subdomain pattern: {reason}")]
    InvalidSubdomainPattern {
        /// The entry as configured.
        entry: String,
        /// What is wrong with it.
        reason: NotASubdomainPattern,
    },
    /// `null` is in the allowlist without `allow_null_origin(true)`.
    #[error(
        "the `null` origin (sent by sandboxed iframes, local files and after cross-origin \
         redirects) is allowed only with allow_null_origin(true)"
    )]
    NullOriginNotEnabled,
    /// Nothing is allowed: no origin, no subdomain pattern, no predicate, no wildcard.
    #[error(
        "no origin is allowed: set allow_origins, allow_subdomains_of, allow_origin_fn or \
         allow_any_origin"
    )]
    NoOriginAllowed,
    /// Credentials with any origin (`*`): browsers refuse `*` on credentialed requests.
    #[error("allow_credentials cannot be combined with any origin (`*`): list the origins instead")]
    CredentialsWithAnyOrigin,
    /// Credentials with the request's origin mirrored back: every site could read the API with
    /// the user's cookies.
    #[error(
        "allow_credentials cannot be combined with mirror_request_origin: every site could read \
         responses with the user's credentials; list the origins instead"
    )]
    CredentialsWithMirroredOrigin,
    /// Credentials with the `null` origin: any page can produce `null` from a sandboxed iframe.
    #[error(
        "allow_credentials cannot be combined with allow_null_origin: any site can send \
         `Origin: null` from a sandboxed iframe"
    )]
    CredentialsWithNullOrigin,
    /// Credentials with `*` in the allowed request headers: browsers read `*` literally then.
    #[error(
        "allow_credentials cannot be combined with `*` in allow_headers: with credentials \
         browsers read `*` as a header name; list the headers instead"
    )]
    CredentialsWithAnyHeader,
    /// Credentials with `*` in the exposed response headers: browsers read `*` literally then.
    #[error(
        "allow_credentials cannot be combined with `*` in expose_headers: with credentials \
         browsers read `*` as a header name; list the headers instead"
    )]
    CredentialsWithAnyExposedHeader,
    /// An entry of `allow_methods` is not an HTTP method (`*` included: list methods by name).
    #[error("`{0}` is not an HTTP method that a policy can allow (list methods by name)")]
    InvalidMethod(String),
    /// `allow_methods` is empty, so every preflight would fail.
    #[error("allow_methods is empty: every preflight would be refused")]
    NoMethodAllowed,
    /// An entry of `allow_headers` or `expose_headers` is not a header name.
    #[error("`{0}` is not a header name")]
    InvalidHeaderName(String),
}

/// Why a string is not a serialized origin (`scheme://host[:port]`, as browsers send in `Origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotAnOrigin {
    /// Nothing there.
    #[error("it is empty")]
    Empty,
    /// No `scheme://` in front.
    #[error("it lacks the scheme (`https://`)")]
    MissingScheme,
    /// A scheme other than `http` or `https`.
    #[error("only http and https origins can make CORS requests")]
    UnsupportedScheme,
    /// A `/` after the host and nothing else.
    #[error("an origin has no trailing slash")]
    TrailingSlash,
    /// A path after the host.
    #[error("an origin has no path")]
    HasPath,
    /// A `?query` after the host.
    #[error("an origin has no query")]
    HasQuery,
    /// A `#fragment` after the host.
    #[error("an origin has no fragment")]
    HasFragment,
    /// `user:password@` before the host.
    #[error("an origin has no user information (`user@`)")]
    HasUserinfo,
    /// `://` followed by no host.
    #[error("the host is empty")]
    EmptyHost,
    /// A host with characters outside `a-z`, `0-9`, `-`, `_`, `.`, or with an empty label.
    #[error("the host is not a valid domain name or IP address")]
    InvalidHost,
    /// A host with non-ASCII characters: browsers send the punycode (`xn--`) form.
    #[error("the host is not ASCII: write its punycode (`xn--`) form, which browsers send")]
    NonAsciiHost,
    /// A `*` in an exact origin.
    #[error(
        "`*` is allowed alone (any origin) or in allow_subdomains_of (`https://*.example.com`)"
    )]
    Wildcard,
    /// A port that is not a number from 0 to 65535.
    #[error("the port is not a number from 0 to 65535")]
    InvalidPort,
}

/// Why a string is not a subdomain pattern (`scheme://*.domain[:port]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotASubdomainPattern {
    /// The host does not start with `*.`, or has a `*` elsewhere.
    #[error("the host must be `*.` followed by a domain, with no other `*`")]
    MissingWildcard,
    /// What follows `*.` is not a valid origin.
    #[error("{0}")]
    Base(NotAnOrigin),
    /// The domain is an IP address, which has no subdomains.
    #[error("an IP address has no subdomains")]
    IpAddress,
    /// The domain has a single label (`*.com`), which would allow a whole top-level domain.
    #[error("the domain after `*.` needs at least two labels (`*.example.com`, not `*.com`)")]
    TooBroad,
}
