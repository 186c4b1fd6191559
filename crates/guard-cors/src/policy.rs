//! The CORS policy as plain data: what a config file holds, what the builder methods fill in, and
//! what [`CorsPolicy::build`] validates and compiles into the [`Cors`] guard.

use std::time::Duration;

use guard_core::{PreparedHeader, RequestHead};
use http::Method;
use http::header::{self, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::{CorsError, NotAnOrigin};
use crate::guard::{AllowedOrigins, AllowedRequestHeaders, CompiledParts, Cors};
use crate::origin::{
    ANY, OriginAllowlist, OriginPredicate, is_null, parse_origin, parse_subdomain_pattern,
};

/// A CORS policy: which origins may read the API's responses from a browser, with which methods,
/// request headers and credentials, and which response headers they may see.
///
/// Plain data, deserializable from a config file (see [below](#from-a-config-file)) or filled in
/// with builder methods; each builder method sets its field, replacing what was there. Nothing is
/// checked until [`build`](Self::build), which returns every mistake as a [`CorsError`].
///
/// Defaults ([`CorsPolicy::new`]): no origin (so `build` fails until some are allowed); methods
/// `GET, HEAD, POST, PUT, PATCH, DELETE`; request headers `authorization, content-type`; no
/// exposed headers; no credentials; `Access-Control-Max-Age: 600`; disallowed origins pass without
/// CORS headers; no Private Network Access.
///
/// # From a config file
///
/// Every field has a serde name equal to its builder method, and every field may be left out of a
/// config file, taking the default of [`CorsPolicy::new`]. Unknown fields are refused, so a typo
/// (`allow_origin`) is an error at start-up rather than a policy that silently allows nothing.
///
/// ```
/// use guard_cors::CorsPolicy;
///
/// let policy: CorsPolicy = serde_json::from_str(r#"{
///     "allow_origins": ["https://app.example.com"],
///     "allow_subdomains_of": ["https://*.example.com"],
///     "allow_methods": ["GET", "POST"],
///     "allow_headers": ["authorization", "content-type"],
///     "expose_headers": ["ratelimit"],
///     "allow_credentials": true,
///     "max_age": 600,
///     "block_disallowed": false,
///     "allow_private_network": false
/// }"#)?;
/// let cors = policy.build()?;
/// # let _ = cors;
///
/// // The same policy, from code:
/// use std::time::Duration;
/// let same = CorsPolicy::new()
///     .allow_origins(["https://app.example.com"])
///     .allow_subdomains_of(["https://*.example.com"])
///     .allow_methods(["GET", "POST"])
///     .expose_headers(["ratelimit"])
///     .allow_credentials(true)
///     .max_age(Duration::from_secs(600));
/// assert_eq!(format!("{same:?}"), format!("{policy:?}"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsPolicy {
    /// Exact origins (`https://app.example.com`, `http://localhost:3000`), normalised at build
    /// time; or the single entry `*` for any origin (then no credentials). `null` needs
    /// [`allow_null_origin`](Self::allow_null_origin).
    pub allow_origins: Vec<String>,
    /// Subdomain patterns (`https://*.example.com`): every subdomain of the domain, at any depth,
    /// with that scheme and port; not the domain itself.
    pub allow_subdomains_of: Vec<String>,
    /// A predicate for origins that no list describes; not part of a config file.
    #[serde(skip)]
    allow_origin_fn: Option<OriginPredicate>,
    /// Echo every well-formed request origin back (never with credentials). Browsers treat it
    /// like `*`, except that responses vary by `Origin`; prefer an allowlist.
    pub mirror_request_origin: bool,
    /// Allow `Origin: null` (sandboxed iframes, `file:` pages, cross-origin redirects): any site
    /// can produce it, so it is refused unless enabled here, and never with credentials.
    pub allow_null_origin: bool,
    /// Methods a preflight may ask for, upper-cased at build time; `*` is refused.
    pub allow_methods: Vec<String>,
    /// Request headers a preflight may ask for (case-insensitive), or `*` for any header but
    /// `Authorization`, which `*` never covers (then no credentials).
    pub allow_headers: Vec<String>,
    /// Response headers that scripts may read beyond the CORS-safelisted ones, or `*` (then no
    /// credentials).
    pub expose_headers: Vec<String>,
    /// Let browsers send cookies and HTTP authentication, and read the responses
    /// (`Access-Control-Allow-Credentials: true`).
    pub allow_credentials: bool,
    /// How long, in seconds, browsers may cache a preflight answer (`Access-Control-Max-Age`);
    /// browsers cap it (Chromium at 2 hours, Firefox at 24).
    pub max_age: u64,
    /// Refuse requests from disallowed origins with 403 instead of answering them without CORS
    /// headers. Only requests that carry an `Origin` are refused, and never those that the
    /// browser marks `Sec-Fetch-Site: same-origin`.
    pub block_disallowed: bool,
    /// Answer preflights that carry `Access-Control-Request-Private-Network: true` with
    /// `Access-Control-Allow-Private-Network: true` (Private Network Access, deprecated by
    /// browsers: opt-in).
    pub allow_private_network: bool,
}

impl Default for CorsPolicy {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_subdomains_of: Vec::new(),
            allow_origin_fn: None,
            mirror_request_origin: false,
            allow_null_origin: false,
            allow_methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .into(),
            allow_headers: ["authorization", "content-type"].map(String::from).into(),
            expose_headers: Vec::new(),
            allow_credentials: false,
            max_age: 600,
            block_disallowed: false,
            allow_private_network: false,
        }
    }
}

/// Builder methods that only replace their field with the argument, a list of strings or a flag:
/// written once so that they cannot drift apart, each with its own docs.
macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident($arg:ident: strings);)+) => {$(
        $(#[$doc])*
        pub fn $field<I>(mut self, $arg: I) -> Self
        where
            I: IntoIterator,
            I::Item: AsRef<str>,
        {
            self.$field = $arg.into_iter().map(|s| s.as_ref().to_owned()).collect();
            self
        }
    )+};
    ($($(#[$doc:meta])* $field:ident($arg:ident: bool);)+) => {$(
        $(#[$doc])*
        pub fn $field(mut self, $arg: bool) -> Self {
            self.$field = $arg;
            self
        }
    )+};
}

impl CorsPolicy {
    /// The default policy, which allows no origin yet.
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// Allows exactly these origins (`https://app.example.com`), compared after normalisation
        /// (case of scheme and host, default ports).
        allow_origins(origins: strings);
    }

    /// Allows any origin with `Access-Control-Allow-Origin: *` (sets `allow_origins` to `["*"]`);
    /// responses then do not vary by `Origin`. Cannot be combined with credentials.
    pub fn allow_any_origin(mut self) -> Self {
        self.allow_origins = vec![ANY.to_owned()];
        self
    }

    setters! {
        /// Allows every subdomain of these domains, at any depth: `https://*.example.com` allows
        /// `https://a.example.com` and `https://a.b.example.com`, but not `https://example.com`,
        /// `http://a.example.com` or `https://a.example.com:8443`.
        allow_subdomains_of(patterns: strings);
    }

    /// Allows, besides the lists, every origin for which `predicate` returns `true`. It receives
    /// the request's origin in normal form (only well-formed origins, never `null`) and the
    /// request head. It is code, so it is not part of a config file; with credentials, the
    /// predicate decides who can read the API with the user's cookies: keep it strict.
    ///
    /// ```
    /// # use guard_cors::CorsPolicy;
    /// let cors = CorsPolicy::new()
    ///     .allow_origin_fn(|origin, _head| {
    ///         origin.starts_with("https://pr-") && origin.ends_with(".preview.example.com")
    ///     })
    ///     .build()?;
    /// # let _ = cors;
    /// # Ok::<(), guard_cors::CorsError>(())
    /// ```
    pub fn allow_origin_fn<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&str, &dyn RequestHead) -> bool + Send + Sync + 'static,
    {
        self.allow_origin_fn = Some(OriginPredicate::new(predicate));
        self
    }

    /// Sets the allowed origins from one comma-separated list, as kept in an environment
    /// variable (`CORS_ORIGINS=https://app.example.com, https://*.example.com`): `*` allows any
    /// origin, `scheme://*.domain` entries go to [`allow_subdomains_of`](Self::allow_subdomains_of)
    /// and the others to [`allow_origins`](Self::allow_origins), replacing both. Empty entries are
    /// skipped. Each entry is checked now, and the error names the first bad one.
    ///
    /// ```
    /// use guard_cors::{CorsError, CorsPolicy, NotAnOrigin};
    ///
    /// let policy = CorsPolicy::new()
    ///     .allow_origin_list("https://app.example.com, https://*.example.com,")?;
    /// assert_eq!(policy.allow_origins, ["https://app.example.com"]);
    /// assert_eq!(policy.allow_subdomains_of, ["https://*.example.com"]);
    ///
    /// let err = CorsPolicy::new().allow_origin_list("https://a.com,b.com").unwrap_err();
    /// assert_eq!(
    ///     err,
    ///     CorsError::InvalidOrigin { entry: "b.com".into(), reason: NotAnOrigin::MissingScheme }
    /// );
    /// # Ok::<(), CorsError>(())
    /// ```
    pub fn allow_origin_list(mut self, list: &str) -> Result<Self, CorsError> {
        let mut origins = Vec::new();
        let mut patterns = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == ANY || is_null(entry) {
                // Whether these are allowed here depends on other settings: `build` decides.
                origins.push(entry.to_owned());
            } else if entry.split_once("://").is_some_and(|(_, rest)| rest.starts_with('*')) {
                parse_subdomain_pattern(entry).map_err(|reason| {
                    CorsError::InvalidSubdomainPattern { entry: entry.to_owned(), reason }
                })?;
                patterns.push(entry.to_owned());
            } else {
                parse_origin(entry).map_err(|reason| CorsError::InvalidOrigin {
                    entry: entry.to_owned(),
                    reason,
                })?;
                origins.push(entry.to_owned());
            }
        }
        self.allow_origins = origins;
        self.allow_subdomains_of = patterns;
        Ok(self)
    }

    setters! {
        /// Echoes every well-formed request origin back (see
        /// [`mirror_request_origin`](Self#structfield.mirror_request_origin)); never with
        /// credentials.
        mirror_request_origin(mirror: bool);
        /// Allows `Origin: null` (see [`allow_null_origin`](Self#structfield.allow_null_origin)).
        allow_null_origin(allow: bool);
    }

    setters! {
        /// The methods a preflight may ask for (`["GET", "POST"]`, or [`http::Method`]s), replacing
        /// the default `GET, HEAD, POST, PUT, PATCH, DELETE`.
        allow_methods(methods: strings);
        /// The request headers a preflight may ask for, replacing the default
        /// `authorization, content-type`; `*` allows any header except `Authorization`, which must
        /// be named.
        allow_headers(headers: strings);
        /// The response headers scripts may read (`Access-Control-Expose-Headers`).
        expose_headers(headers: strings);
    }

    setters! {
        /// Whether browsers may send credentials (cookies, HTTP authentication) and read the
        /// answer.
        allow_credentials(allow: bool);
    }

    /// How long browsers may cache a preflight answer, in whole seconds (default 10 minutes).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age.as_secs();
        self
    }

    setters! {
        /// Whether requests from disallowed origins are refused with 403 (see
        /// [`block_disallowed`](Self#structfield.block_disallowed)).
        block_disallowed(block: bool);
        /// Whether preflights asking for Private Network Access are granted it.
        allow_private_network(allow: bool);
    }

    /// The predicate set with [`allow_origin_fn`](Self::allow_origin_fn), for [`build`].
    pub(crate) fn origin_predicate(&self) -> Option<&OriginPredicate> {
        self.allow_origin_fn.as_ref()
    }

    /// Validates the policy and compiles it into the guard: origins parsed and normalised into
    /// a hash set, headers encoded once. Every mistake is a [`CorsError`]; this never panics.
    pub fn build(&self) -> Result<Cors, CorsError> {
        // Origins: syntax first, then what credentials forbid, then whether anything is allowed.
        let any = any_origin(&self.allow_origins)?;
        let mut null = self.allow_null_origin;
        let mut exact = Vec::with_capacity(self.allow_origins.len());
        for entry in &self.allow_origins {
            if any {
                break;
            }
            if is_null(entry) {
                if !self.allow_null_origin {
                    return Err(CorsError::NullOriginNotEnabled);
                }
                null = true;
            } else {
                exact.push(entry.as_str());
            }
        }
        let allowlist = OriginAllowlist::new(exact, &self.allow_subdomains_of)?;
        let predicate = self.origin_predicate().cloned();
        let credentials = self.allow_credentials;
        if credentials {
            if any {
                return Err(CorsError::CredentialsWithAnyOrigin);
            }
            if self.mirror_request_origin {
                return Err(CorsError::CredentialsWithMirroredOrigin);
            }
            if null {
                return Err(CorsError::CredentialsWithNullOrigin);
            }
        }
        if !any
            && !null
            && !self.mirror_request_origin
            && predicate.is_none()
            && allowlist.is_empty()
        {
            return Err(CorsError::NoOriginAllowed);
        }

        // Methods: upper case, as servers route them; `*` refused.
        let mut methods: Vec<Method> = Vec::new();
        for entry in &self.allow_methods {
            let upper = entry.trim().to_ascii_uppercase();
            if upper == ANY {
                return Err(CorsError::InvalidMethod(entry.clone()));
            }
            let method = Method::from_bytes(upper.as_bytes())
                .map_err(|_| CorsError::InvalidMethod(entry.clone()))?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        if methods.is_empty() {
            return Err(CorsError::NoMethodAllowed);
        }

        let (allow_names, any_header) = header_names(&self.allow_headers)?;
        if credentials && any_header {
            return Err(CorsError::CredentialsWithAnyHeader);
        }
        let (expose_names, any_exposed) = header_names(&self.expose_headers)?;
        if credentials && any_exposed {
            return Err(CorsError::CredentialsWithAnyExposedHeader);
        }

        let method_strs: Vec<&str> = methods.iter().map(Method::as_str).collect();
        let allow_strs: Vec<&str> = allow_names.iter().map(HeaderName::as_str).collect();
        let expose_strs: Vec<&str> = expose_names.iter().map(HeaderName::as_str).collect();
        let allow_methods = list_line(&header::ACCESS_CONTROL_ALLOW_METHODS, &method_strs, false)?
            .ok_or(CorsError::NoMethodAllowed)?;
        let allow_headers =
            list_line(&header::ACCESS_CONTROL_ALLOW_HEADERS, &allow_strs, any_header)?;
        let expose_headers =
            list_line(&header::ACCESS_CONTROL_EXPOSE_HEADERS, &expose_strs, any_exposed)?;

        let mut listed = Vec::with_capacity(allowlist.origins().len());
        for origin in allowlist.origins() {
            // A normalised origin is visible ASCII, always a valid header value.
            let value = HeaderValue::from_str(origin).map_err(|_| CorsError::InvalidOrigin {
                entry: origin.to_owned(),
                reason: NotAnOrigin::InvalidHost,
            })?;
            listed.push(PreparedHeader::new(header::ACCESS_CONTROL_ALLOW_ORIGIN, value));
        }

        let private_network = self.allow_private_network;
        let mut vary_preflight = String::new();
        if !any {
            vary_preflight.push_str("Origin, ");
        }
        vary_preflight.push_str("Access-Control-Request-Method, Access-Control-Request-Headers");
        if private_network {
            vary_preflight.push_str(", Access-Control-Request-Private-Network");
        }
        let vary_preflight = HeaderValue::from_str(&vary_preflight)
            .map_err(|_| CorsError::InvalidHeaderName(vary_preflight.clone()))?;

        Ok(Cors::new(CompiledParts {
            origins: AllowedOrigins {
                any,
                mirror: self.mirror_request_origin,
                null,
                allowlist,
                listed,
                predicate,
            },
            methods,
            headers: AllowedRequestHeaders { names: allow_names, any: any_header },
            credentials,
            block_disallowed: self.block_disallowed,
            private_network,
            allow_methods,
            allow_headers,
            expose_headers,
            max_age: PreparedHeader::new(header::ACCESS_CONTROL_MAX_AGE, self.max_age.into()),
            vary_preflight: PreparedHeader::new(header::VARY, vary_preflight),
        }))
    }
}

impl TryFrom<CorsPolicy> for Cors {
    type Error = CorsError;

    fn try_from(policy: CorsPolicy) -> Result<Self, Self::Error> {
        policy.build()
    }
}

impl TryFrom<&CorsPolicy> for Cors {
    type Error = CorsError;

    fn try_from(policy: &CorsPolicy) -> Result<Self, Self::Error> {
        policy.build()
    }
}

/// The `*` entry of `allow_origins`, which must stand alone.
fn any_origin(allow_origins: &[String]) -> Result<bool, CorsError> {
    let any = allow_origins.iter().any(|o| o.trim() == ANY);
    if any && allow_origins.len() > 1 {
        return Err(CorsError::InvalidOrigin {
            entry: ANY.to_owned(),
            reason: NotAnOrigin::Wildcard,
        });
    }
    Ok(any)
}

/// Parses header names, `*` apart; returns the names, deduplicated, and whether `*` was there.
fn header_names(entries: &[String]) -> Result<(Vec<HeaderName>, bool), CorsError> {
    let mut names: Vec<HeaderName> = Vec::new();
    let mut any = false;
    for entry in entries {
        let trimmed = entry.trim();
        if trimmed == ANY {
            any = true;
            continue;
        }
        let name = HeaderName::from_bytes(trimmed.as_bytes())
            .map_err(|_| CorsError::InvalidHeaderName(entry.clone()))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok((names, any))
}

/// `a, b, c` (with `*` last when `any`), or `None` for an empty list.
fn list_line(
    key: &HeaderName,
    names: &[&str],
    any: bool,
) -> Result<Option<PreparedHeader>, CorsError> {
    let mut items: Vec<&str> = names.to_vec();
    if any {
        items.push(ANY);
    }
    if items.is_empty() {
        return Ok(None);
    }
    let joined = items.join(", ");
    // Tokens joined by ", " always make a valid header value.
    let value =
        HeaderValue::from_str(&joined).map_err(|_| CorsError::InvalidHeaderName(joined.clone()))?;
    Ok(Some(PreparedHeader::new(key.clone(), value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NotASubdomainPattern;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = CorsPolicy::new();
        assert!(p.allow_origins.is_empty());
        assert_eq!(p.allow_methods, ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);
        assert_eq!(p.allow_headers, ["authorization", "content-type"]);
        assert!(p.expose_headers.is_empty());
        assert!(!p.allow_credentials);
        assert_eq!(p.max_age, 600);
        assert!(!p.block_disallowed && !p.allow_private_network);
        assert!(!p.mirror_request_origin && !p.allow_null_origin);
        assert!(p.origin_predicate().is_none());
    }

    #[test]
    fn a_config_file_fills_the_same_fields_as_the_builder() {
        let from_json: CorsPolicy = serde_json::from_str(
            r#"{"allow_origins": ["https://a.com"], "allow_subdomains_of": ["https://*.example.com"],
                "allow_methods": ["GET","POST"], "allow_headers": ["authorization","content-type"],
                "expose_headers": ["ratelimit"], "allow_credentials": true, "max_age": 600,
                "block_disallowed": false, "allow_private_network": false}"#,
        )
        .unwrap();
        let built = CorsPolicy::new()
            .allow_origins(["https://a.com"])
            .allow_subdomains_of(["https://*.example.com"])
            .allow_methods([http::Method::GET, http::Method::POST])
            .expose_headers(["ratelimit"])
            .allow_credentials(true);
        assert_eq!(format!("{from_json:?}"), format!("{built:?}"));
        assert!(from_json.build().is_ok());
    }

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_refused() {
        let p: CorsPolicy =
            serde_json::from_str(r#"{"allow_origins": ["https://a.com"]}"#).unwrap();
        assert_eq!(p.max_age, 600);
        assert_eq!(p.allow_methods.len(), 6);
        let err = serde_json::from_str::<CorsPolicy>(r#"{"allow_origin": ["https://a.com"]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `allow_origin`"), "{err}");
        let err = serde_json::from_str::<CorsPolicy>(r#"{"allow_origin_fn": true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn a_config_is_validated_by_build_not_by_serde() {
        let p: CorsPolicy = serde_json::from_str(
            r#"{"allow_origins": ["https://a.com/"], "allow_credentials": true}"#,
        )
        .unwrap();
        assert_eq!(
            p.build().unwrap_err(),
            CorsError::InvalidOrigin {
                entry: "https://a.com/".into(),
                reason: NotAnOrigin::TrailingSlash
            }
        );
    }

    #[test]
    fn the_policy_serializes_without_the_predicate_and_round_trips() {
        let p = CorsPolicy::new()
            .allow_origins(["https://a.com"])
            .allow_origin_fn(|_, _| true)
            .max_age(Duration::from_secs(60));
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("allow_origin_fn").is_none());
        assert_eq!(json["max_age"], 60);
        let back: CorsPolicy = serde_json::from_value(json).unwrap();
        assert!(back.origin_predicate().is_none());
        assert_eq!(back.allow_origins, ["https://a.com"]);
        assert!(format!("{p:?}").contains(r#"allow_origin_fn: Some("<fn>")"#));
    }

    #[test]
    fn an_origin_list_splits_origins_patterns_and_wildcard() {
        let p = CorsPolicy::new()
            .allow_subdomains_of(["https://*.old.example"])
            .allow_origin_list(" https://a.com ,, http://*.dev.example:8080 ,HTTPS://B.com:443 ")
            .unwrap();
        assert_eq!(p.allow_origins, ["https://a.com", "HTTPS://B.com:443"]);
        assert_eq!(p.allow_subdomains_of, ["http://*.dev.example:8080"]);
        let any = CorsPolicy::new().allow_origin_list("*").unwrap();
        assert_eq!(any.allow_origins, ["*"]);
        assert!(any.build().is_ok());
        let empty = CorsPolicy::new().allow_origin_list(" , ").unwrap();
        assert_eq!(empty.build().unwrap_err(), CorsError::NoOriginAllowed);
    }

    #[test]
    fn an_origin_list_names_the_bad_entry() {
        assert_eq!(
            CorsPolicy::new().allow_origin_list("https://a.com, https://b.com/app").unwrap_err(),
            CorsError::InvalidOrigin {
                entry: "https://b.com/app".into(),
                reason: NotAnOrigin::HasPath
            }
        );
        assert_eq!(
            CorsPolicy::new().allow_origin_list("https://*.com").unwrap_err(),
            CorsError::InvalidSubdomainPattern {
                entry: "https://*.com".into(),
                reason: NotASubdomainPattern::TooBroad
            }
        );
        assert_eq!(
            CorsPolicy::new().allow_origin_list("https://a.com,null").unwrap().build().unwrap_err(),
            CorsError::NullOriginNotEnabled
        );
        assert!(
            CorsPolicy::new()
                .allow_null_origin(true)
                .allow_origin_list("https://a.com,null")
                .unwrap()
                .build()
                .is_ok()
        );
    }
}
