//! Helmet-grade secure response headers, with a stricter preset for JSON APIs.
//!
//! A [`HeadersPolicy`] says which security headers every response carries: it starts from a
//! preset, [`api()`] or [`helmet()`], and changes, adds or removes any header, from code or from a
//! configuration file. [`HeadersPolicy::build`] checks it once at start-up (a typed
//! [`HeadersError`], never a panic) and encodes every header into a [`SecureHeaders`] guard for
//! `guard-actix` or `guard-tower`. Per request the guard only copies reference-counted header
//! values into the response, allocating nothing of its own (nonce mode excepted: it renders one
//! Content-Security-Policy per response), and it never answers a request itself.
//!
//! - **Presets**: [`api()`] for API responses (OWASP), [`helmet()`] for helmet 8's defaults byte
//!   for byte.
//! - **Content-Security-Policy**: a typed builder, [`ContentSecurityPolicy`], that refuses what
//!   browsers would misread ([`CspError`]), a report-only mode ([`HeadersPolicy::report_only`]),
//!   and optional per-request nonces ([`HeadersPolicy::csp_nonce`], [`CspNonce`]).
//! - **No duplicates**: the policy's value replaces the handler's, so a header is sent once; or
//!   the handler's wins with [`HeadersPolicy::keep_handler_values`].
//! - **Fingerprinting headers** (`Server`, `X-Powered-By`, ...) removed: [`FINGERPRINTING_HEADERS`].
//!
//! # Example
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead, ResponseHead};
//! use guard_headers::{ContentSecurityPolicy, CspNonce, HeadersPolicy};
//! use http::{Request, StatusCode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // helmet's defaults, with a CDN allowed for scripts and a nonce for inline ones.
//! let guard = guard_headers::helmet()
//!     .content_security_policy(
//!         ContentSecurityPolicy::helmet().add_sources("script-src", ["https://cdn.example.com"]),
//!     )
//!     .csp_nonce(true)
//!     .build()?;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let (parts, ()) = Request::get("/").body(())?.into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let mut req = GuardRequest::new(&head);
//! let Decision::Continue(state) = guard.check(&mut req).await else { unreachable!() };
//!
//! // The handler writes the nonce into its page...
//! let nonce = *req.extensions().get::<CspNonce>().ok_or("no nonce")?;
//! let mut res = GuardResponse::new(StatusCode::OK)
//!     .with_header(http::header::X_FRAME_OPTIONS, "ALLOWALL".parse()?)
//!     .with_header("x-powered-by".parse()?, "Express".parse()?)
//!     .with_body(format!(r#"<script nonce="{nonce}">start()</script>"#));
//!
//! // ...and the response carries the same nonce, each header once, no fingerprint.
//! guard.respond(state, &mut res);
//! let csp = res.headers()["content-security-policy"].to_str()?;
//! assert!(csp.contains(&format!(
//!     ";script-src 'self' https://cdn.example.com 'nonce-{nonce}';"
//! )));
//! assert_eq!(res.headers().get_all("x-frame-options").iter().count(), 1);
//! assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
//! assert!(res.headers().get("x-powered-by").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//!
//! // The same policy from a configuration file, checked by the same `build`.
//! let policy: HeadersPolicy = serde_json::from_str(r#"{
//!     "preset": "api",
//!     "csp": {"default-src": "'none'", "frame-ancestors": "'none'", "report-to": "csp"},
//!     "report_only": true,
//!     "hsts": {"preload": true}
//! }"#)?;
//! let guard = policy.build()?;
//! assert!(guard.headers().any(|(name, value)| name == "content-security-policy-report-only"
//!     && value == "default-src 'none'; frame-ancestors 'none'; report-to csp"));
//!
//! // Mistakes are refused at start-up.
//! let unquoted = guard_headers::api()
//!     .content_security_policy(ContentSecurityPolicy::new().default_src(["self"]));
//! assert!(unquoted.build().is_err());
//! # Ok(())
//! # }
//! ```

/// Builder methods that only store a flag: written once so that they stay alike, each with its
/// own docs.
macro_rules! flag_setters {
    ($($(#[$doc:meta])* $method:ident($arg:ident) => $field:ident;)+) => {$(
        $(#[$doc])*
        pub fn $method(mut self, $arg: bool) -> Self {
            self.$field = $arg;
            self
        }
    )+};
}

mod csp;
mod guard;
mod nonce;
mod policy;
mod presets;
#[cfg(test)]
mod test_support;
mod values;

pub use csp::{CompiledCsp, ContentSecurityPolicy, CspError, CspSeparator, Source};
pub use guard::SecureHeaders;
pub use nonce::CspNonce;
pub use policy::{HeadersError, HeadersPolicy};
pub use presets::{FINGERPRINTING_HEADERS, OBSOLETE_HEADERS, Preset};
pub use values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, DENIED_FEATURES,
    FrameOptions, PermissionsPolicy, ReferrerPolicy, StrictTransportSecurity,
};

/// helmet 8's default headers, byte for byte, as a policy to adapt and [`build`](HeadersPolicy::build).
///
/// | header | value |
/// |---|---|
/// | `Content-Security-Policy` | `default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests` |
/// | `Cross-Origin-Opener-Policy` | `same-origin` |
/// | `Cross-Origin-Resource-Policy` | `same-origin` |
/// | `Origin-Agent-Cluster` | `?1` |
/// | `Referrer-Policy` | `no-referrer` |
/// | `Strict-Transport-Security` | `max-age=31536000; includeSubDomains` |
/// | `X-Content-Type-Options` | `nosniff` |
/// | `X-DNS-Prefetch-Control` | `off` |
/// | `X-Download-Options` | `noopen` |
/// | `X-Frame-Options` | `SAMEORIGIN` |
/// | `X-Permitted-Cross-Domain-Policies` | `none` |
/// | `X-XSS-Protection` | `0` |
/// | `X-Powered-By` | removed |
///
/// Like helmet it removes only `X-Powered-By`; add
/// [`remove_fingerprinting_headers`](HeadersPolicy::remove_fingerprinting_headers) to remove
/// `Server` and the rest of [`FINGERPRINTING_HEADERS`]. `Cross-Origin-Embedder-Policy` is off, as
/// in helmet.
pub fn helmet() -> HeadersPolicy {
    HeadersPolicy::new(Preset::Helmet)
}

/// The headers for JSON API responses (OWASP Secure Headers Project and REST cheat sheet), as a
/// policy to adapt and [`build`](HeadersPolicy::build).
///
/// | header | value |
/// |---|---|
/// | `Content-Security-Policy` | `default-src 'none'; frame-ancestors 'none'` |
/// | `Cross-Origin-Opener-Policy` | `same-origin` |
/// | `Cross-Origin-Resource-Policy` | `same-origin` |
/// | `Referrer-Policy` | `no-referrer` |
/// | `Strict-Transport-Security` | `max-age=63072000; includeSubDomains` (`; preload` with [`StrictTransportSecurity::preload`]) |
/// | `X-Content-Type-Options` | `nosniff` |
/// | `X-DNS-Prefetch-Control` | `off` |
/// | `X-Frame-Options` | `DENY` |
/// | `X-Permitted-Cross-Domain-Policies` | `none` |
/// | `Cache-Control` | `no-store` |
/// | `Permissions-Policy` | every feature of [`DENIED_FEATURES`] denied: `accelerometer=(), autoplay=(), camera=(), …, unload=()` |
/// | [`FINGERPRINTING_HEADERS`] (`Server`, `X-Powered-By`, `X-AspNet-Version`, …) | removed |
/// | [`OBSOLETE_HEADERS`] (`Expect-CT`, `Public-Key-Pins`, `Public-Key-Pins-Report-Only`, `Feature-Policy`) | removed |
///
/// `Cache-Control: no-store` replaces a handler's caching headers; to let handlers choose, use
/// `api().pass_through("cache-control")`.
pub fn api() -> HeadersPolicy {
    HeadersPolicy::new(Preset::Api)
}
