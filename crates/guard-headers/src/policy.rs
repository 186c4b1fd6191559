//! The headers policy: plain data, read from code or from a configuration file, compiled once.
//!
//! A [`HeadersPolicy`] starts from a [`Preset`] and lists changes to it: headers to set, to
//! remove from every response, or to leave to the handler, and the typed Content-Security-Policy
//! and Strict-Transport-Security. [`HeadersPolicy::build`] checks all of it and encodes every
//! header once into a [`SecureHeaders`] guard; a mistake is a [`HeadersError`] at start-up.
//!
//! ```
//! use guard_headers::{FrameOptions, HeadersPolicy, StrictTransportSecurity};
//!
//! // In code: the API preset, framable by the same origin, HSTS preloaded, caching left to handlers.
//! let from_code = guard_headers::api()
//!     .frame_options(FrameOptions::SameOrigin)
//!     .hsts(StrictTransportSecurity::default().preload(true))
//!     .pass_through("cache-control");
//!
//! // The same from a configuration file.
//! let from_config: HeadersPolicy = serde_json::from_str(r#"{
//!     "preset": "api",
//!     "set": {"x-frame-options": "SAMEORIGIN"},
//!     "hsts": {"preload": true},
//!     "pass_through": ["cache-control"]
//! }"#)?;
//!
//! let (a, b) = (from_code.build()?, from_config.build()?);
//! assert!(a.headers().eq(b.headers()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use guard_core::{HeaderKey, PreparedHeader};
use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY, STRICT_TRANSPORT_SECURITY,
};
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::csp::{ContentSecurityPolicy, CspError};
use crate::guard::{CompiledRule, SecureHeaders};
use crate::values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions,
    PermissionsPolicy, ReferrerPolicy, StrictTransportSecurity,
};

/// Response headers that name the software behind the server and its version, which only help an
/// attacker pick exploits. The product and version disclosures of the OWASP Secure Headers
/// Project's list of headers to remove (`ci/headers_remove.json`, 2024-09), plus Rails'
/// `X-Runtime` and Drupal's cache headers. The [`api`](crate::api) preset removes them all;
/// [`HeadersPolicy::remove_fingerprinting_headers`] adds them to any preset.
///
/// A header that the server itself adds after the guards ran (some servers add `Server` while
/// writing the response) is out of the guard's reach: turn it off in the server.
pub const FINGERPRINTING_HEADERS: &[&str] = &[
    "server",
    "x-powered-by",
    "powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-runtime",
    "x-generator",
    "x-generated-by",
    "x-drupal-cache",
    "x-drupal-dynamic-cache",
    "x-powered-cms",
    "x-powered-by-plesk",
    "x-server-powered-by",
    "x-cf-powered-by",
    "x-turbo-charged-by",
    "x-php-version",
    "x-redirect-by",
    "x-cms",
    "x-framework",
    "x-joomla-version",
    "x-umbraco-version",
    "x-owa-version",
    "x-cocoon-version",
    "x-jitsi-release",
    "x-mod-pagespeed",
    "x-page-speed",
    "x-varnish-backend",
    "x-varnish-server",
    "x-beserver",
    "x-feserver",
    "x-sourcefiles",
    "liferay-portal",
    "oraclecommercecloud-version",
];

/// Obsolete security headers that the OWASP Secure Headers Project wants absent: superseded
/// (`Feature-Policy` by `Permissions-Policy`) or withdrawn because they did harm (`Expect-CT`,
/// HTTP public key pinning). The [`api`](crate::api) preset removes them.
pub const OBSOLETE_HEADERS: &[&str] =
    &["expect-ct", "public-key-pins", "public-key-pins-report-only", "feature-policy"];

/// Headers that frame the HTTP message; they are the server's, and a policy naming them is
/// refused.
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The set of headers a policy starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// For JSON APIs (the [`api`](crate::api) function documents the exact headers).
    Api,
    /// helmet 8's defaults, byte for byte (the [`helmet`](crate::helmet) function documents
    /// them).
    Helmet,
    /// Nothing: every header comes from the policy's own settings.
    None,
}

impl Preset {
    /// The preset's headers, in the order they are applied.
    fn rules(self) -> Vec<(&'static str, Rule)> {
        let set = |value: &str| Rule::Set(value.to_owned());
        match self {
            Self::Helmet => vec![
                ("content-security-policy", Rule::Csp(ContentSecurityPolicy::helmet())),
                ("cross-origin-opener-policy", set(CrossOriginOpenerPolicy::SameOrigin.as_str())),
                (
                    "cross-origin-resource-policy",
                    set(CrossOriginResourcePolicy::SameOrigin.as_str()),
                ),
                ("origin-agent-cluster", set("?1")),
                ("referrer-policy", set(ReferrerPolicy::NoReferrer.as_str())),
                (
                    "strict-transport-security",
                    Rule::Set(
                        StrictTransportSecurity::new(StrictTransportSecurity::ONE_YEAR).to_string(),
                    ),
                ),
                ("x-content-type-options", set("nosniff")),
                ("x-dns-prefetch-control", set("off")),
                ("x-download-options", set("noopen")),
                ("x-frame-options", set(FrameOptions::SameOrigin.as_str())),
                ("x-permitted-cross-domain-policies", set("none")),
                ("x-xss-protection", set("0")),
                ("x-powered-by", Rule::Remove),
            ],
            Self::Api => {
                let mut rules = vec![
                    ("content-security-policy", Rule::Csp(ContentSecurityPolicy::api())),
                    (
                        "cross-origin-opener-policy",
                        set(CrossOriginOpenerPolicy::SameOrigin.as_str()),
                    ),
                    (
                        "cross-origin-resource-policy",
                        set(CrossOriginResourcePolicy::SameOrigin.as_str()),
                    ),
                    ("referrer-policy", set(ReferrerPolicy::NoReferrer.as_str())),
                    (
                        "strict-transport-security",
                        Rule::Set(StrictTransportSecurity::default().to_string()),
                    ),
                    ("x-content-type-options", set("nosniff")),
                    ("x-dns-prefetch-control", set("off")),
                    ("x-frame-options", set(FrameOptions::Deny.as_str())),
                    ("x-permitted-cross-domain-policies", set("none")),
                    ("cache-control", set("no-store")),
                    ("permissions-policy", Rule::Set(PermissionsPolicy::deny_all().to_string())),
                ];
                rules.extend(
                    FINGERPRINTING_HEADERS
                        .iter()
                        .chain(OBSOLETE_HEADERS)
                        .map(|n| (*n, Rule::Remove)),
                );
                rules
            }
            Self::None => Vec::new(),
        }
    }
}

/// A policy that [`HeadersPolicy::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadersError {
    /// A Content-Security-Policy (enforcing or report-only) is invalid.
    #[error("invalid Content-Security-Policy: {0}")]
    Csp(#[from] CspError),
    /// A header name is not a valid HTTP field name.
    #[error("`{0}` is not a valid header name")]
    InvalidHeaderName(String),
    /// A header value contains characters that HTTP does not allow (control characters, line
    /// breaks, non-ASCII).
    #[error("the value {value:?} of `{name}` is not a valid header value")]
    InvalidHeaderValue {
        /// The header.
        name: String,
        /// The refused value.
        value: String,
    },
    /// A configuration names one header in more than one place (`csp`, `csp_report_only`,
    /// `hsts`, `set`, `remove`, `pass_through`, or `report_only` next to `csp_report_only`), so
    /// it is unclear which was meant.
    #[error(
        "`{0}` is configured more than once (in csp, csp_report_only, report_only, hsts, set, remove or pass_through)"
    )]
    Conflict(String),
    /// The policy names a header that frames the HTTP message (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`, ...): those are the server's.
    #[error(
        "`{0}` frames the HTTP message and belongs to the server; a headers policy may not name it"
    )]
    FramingHeader(String),
    /// `report_only` is on but no enforcing Content-Security-Policy is left to send as
    /// report-only.
    #[error("report_only is on but the policy has no Content-Security-Policy")]
    ReportOnlyWithoutCsp,
    /// Nonces are on but the policy sends no Content-Security-Policy to put them in.
    #[error("nonce is on but the policy sends no Content-Security-Policy")]
    NonceWithoutCsp,
}

/// What a policy does with one header.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Sets this value.
    Set(String),
    /// Sets this Content-Security-Policy (checked and, with nonces, templated at build time).
    Csp(ContentSecurityPolicy),
    /// Removes the header from every response.
    Remove,
}

/// The rules of a policy being compiled, one per header, in order.
#[derive(Default)]
struct Rules(Vec<(HeaderName, Rule)>);

impl Rules {
    /// Sets the rule for `name`, in place when it has one.
    fn put(&mut self, name: HeaderName, rule: Rule) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = rule,
            None => self.0.push((name, rule)),
        }
    }

    fn forget(&mut self, name: &HeaderName) {
        self.0.retain(|(n, _)| n != name);
    }
}

/// Which security headers every response gets, plain data until [`build`](Self::build).
///
/// Built from a [`Preset`] ([`api`](crate::api), [`helmet`](crate::helmet), or
/// `HeadersPolicy::new(Preset::None)`) and adapted with the builder methods, or read from a
/// configuration file with serde:
///
/// ```json
/// {
///   "preset": "api",
///   "csp": "default-src 'self'; img-src 'self' data:",
///   "report_only": true,
///   "nonce": true,
///   "hsts": {"max_age": 600, "preload": true},
///   "set": {"x-frame-options": "SAMEORIGIN"},
///   "remove": ["x-request-id"],
///   "pass_through": ["cache-control"],
///   "remove_fingerprinting_headers": true,
///   "keep_handler_values": false
/// }
/// ```
///
/// Only `preset` is required; unknown fields are refused. `csp` and `csp_report_only` are a
/// policy string or a directive map (see [`ContentSecurityPolicy`]); `hsts` is a
/// [`StrictTransportSecurity`]. A configuration may name each header only once across `csp`,
/// `csp_report_only`, `hsts`, `set`, `remove` and `pass_through` ([`HeadersError::Conflict`]
/// otherwise). The builder methods instead let the later call win: each first forgets what the
/// policy said about its header.
///
/// # Who wins, the policy or the handler
///
/// For a header the policy sets, the policy's value replaces the handler's by default, so the
/// response carries exactly one value whatever the handler did. With
/// [`keep_handler_values`](Self::keep_handler_values) a value the handler set is kept instead,
/// and the policy's value only fills in where the handler set none. Either way the header is
/// never sent twice by the policy. Removed headers are always removed; headers passed through
/// are left exactly as the handler set them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersPolicy {
    preset: Preset,
    #[serde(default)]
    csp: Option<ContentSecurityPolicy>,
    #[serde(default)]
    csp_report_only: Option<ContentSecurityPolicy>,
    #[serde(default)]
    report_only: bool,
    #[serde(default)]
    nonce: bool,
    #[serde(default)]
    hsts: Option<StrictTransportSecurity>,
    #[serde(default, deserialize_with = "ordered_pairs")]
    set: Vec<(String, String)>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    pass_through: Vec<String>,
    #[serde(default)]
    remove_fingerprinting_headers: bool,
    #[serde(default)]
    keep_handler_values: bool,
}

impl From<Preset> for HeadersPolicy {
    fn from(preset: Preset) -> Self {
        Self::new(preset)
    }
}

impl HeadersPolicy {
    /// The policy of `preset`, unchanged.
    pub fn new(preset: Preset) -> Self {
        Self {
            preset,
            csp: None,
            csp_report_only: None,
            report_only: false,
            nonce: false,
            hsts: None,
            set: Vec::new(),
            remove: Vec::new(),
            pass_through: Vec::new(),
            remove_fingerprinting_headers: false,
            keep_handler_values: false,
        }
    }

    /// The preset this policy starts from.
    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// Forgets whatever the policy's own settings say about `name`.
    fn forget(&mut self, name: &str) {
        let other = |n: &String| !n.eq_ignore_ascii_case(name);
        self.set.retain(|(n, _)| other(n));
        self.remove.retain(other);
        self.pass_through.retain(other);
        if name.eq_ignore_ascii_case(CONTENT_SECURITY_POLICY.as_str()) {
            self.csp = None;
        }
        if name.eq_ignore_ascii_case(CONTENT_SECURITY_POLICY_REPORT_ONLY.as_str()) {
            self.csp_report_only = None;
        }
        if name.eq_ignore_ascii_case(STRICT_TRANSPORT_SECURITY.as_str()) {
            self.hsts = None;
        }
    }

    /// Sends `csp` as the Content-Security-Policy, instead of the preset's. A string is read as
    /// a header value (`"default-src 'none'; frame-ancestors 'none'"`); `build` checks it.
    pub fn content_security_policy(mut self, csp: impl Into<ContentSecurityPolicy>) -> Self {
        self.forget(CONTENT_SECURITY_POLICY.as_str());
        self.csp = Some(csp.into());
        self
    }

    /// Also sends `csp` as `Content-Security-Policy-Report-Only`, next to the enforcing policy:
    /// how a stricter policy is tried out before it is enforced.
    pub fn content_security_policy_report_only(
        mut self,
        csp: impl Into<ContentSecurityPolicy>,
    ) -> Self {
        self.forget(CONTENT_SECURITY_POLICY_REPORT_ONLY.as_str());
        self.csp_report_only = Some(csp.into());
        self
    }

    /// Sends the Content-Security-Policy as `Content-Security-Policy-Report-Only`: browsers
    /// report violations but block nothing. Cannot be combined with a separate
    /// [`content_security_policy_report_only`](Self::content_security_policy_report_only).
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// Draws a fresh nonce for every request.
    ///
    /// The guard's `check` stores a [`CspNonce`](crate::CspNonce) in the request extensions for
    /// the handler (reusing one that an outer guard already stored), and `respond` sends the
    /// Content-Security-Policy (and the report-only one) with `'nonce-…'` appended to
    /// `script-src` and `style-src`, and to `script-src-elem` and `style-src-elem` when present.
    /// When the policy has no `script-src` (or `style-src`), one is added with `default-src`'s
    /// sources plus the nonce, since `default-src` is what it fell back to. `'none'` is dropped
    /// from a directive that receives a nonce, and so is `'unsafe-inline'`: browsers ignore it
    /// once a nonce is present, so keeping it would only make the header seem to allow inline
    /// scripts and styles that browsers refuse. With nonces on, every inline `<script>` and
    /// `<style>` needs `nonce="…"` (helmet's `style-src 'unsafe-inline'` included). Rendering that
    /// header is the only per-response allocation of the guard.
    pub fn csp_nonce(mut self, nonce: bool) -> Self {
        self.nonce = nonce;
        self
    }

    /// Sets `Strict-Transport-Security`.
    pub fn hsts(mut self, hsts: StrictTransportSecurity) -> Self {
        self.forget(STRICT_TRANSPORT_SECURITY.as_str());
        self.hsts = Some(hsts);
        self
    }

    /// Sets `X-Frame-Options`.
    pub fn frame_options(self, value: FrameOptions) -> Self {
        self.set("x-frame-options", value.as_str())
    }

    /// Sets `Referrer-Policy`.
    pub fn referrer_policy(self, value: ReferrerPolicy) -> Self {
        self.set("referrer-policy", value.as_str())
    }

    /// Sets `Cross-Origin-Opener-Policy`.
    pub fn cross_origin_opener_policy(self, value: CrossOriginOpenerPolicy) -> Self {
        self.set("cross-origin-opener-policy", value.as_str())
    }

    /// Sets `Cross-Origin-Resource-Policy`.
    pub fn cross_origin_resource_policy(self, value: CrossOriginResourcePolicy) -> Self {
        self.set("cross-origin-resource-policy", value.as_str())
    }

    /// Sets `Cross-Origin-Embedder-Policy` (no preset sends it).
    pub fn cross_origin_embedder_policy(self, value: CrossOriginEmbedderPolicy) -> Self {
        self.set("cross-origin-embedder-policy", value.as_str())
    }

    /// Sets `Permissions-Policy`.
    pub fn permissions_policy(self, value: PermissionsPolicy) -> Self {
        self.set("permissions-policy", value.to_string())
    }

    /// Sets header `name` (any case) to `value` on every response, replacing the preset's value.
    ///
    /// `Content-Security-Policy` and `Content-Security-Policy-Report-Only` values are read as
    /// policies, as by [`content_security_policy`](Self::content_security_policy), so they are
    /// checked and take nonces. Names and values are checked by `build`.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if name.eq_ignore_ascii_case(CONTENT_SECURITY_POLICY.as_str()) {
            return self.content_security_policy(value);
        }
        if name.eq_ignore_ascii_case(CONTENT_SECURITY_POLICY_REPORT_ONLY.as_str()) {
            return self.content_security_policy_report_only(value);
        }
        self.forget(&name);
        self.set.push((name, value));
        self
    }

    /// Removes header `name` from every response, whoever set it.
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.forget(&name);
        self.remove.push(name);
        self
    }

    /// Leaves header `name` alone: the preset neither sets nor removes it, and whatever the
    /// handler set goes out unchanged.
    pub fn pass_through(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.forget(&name);
        self.pass_through.push(name);
        self
    }

    /// Also removes every header of [`FINGERPRINTING_HEADERS`] (the `api` preset already
    /// does). A header the policy sets or passes through is exempt.
    pub fn remove_fingerprinting_headers(mut self) -> Self {
        self.remove_fingerprinting_headers = true;
        self
    }

    /// Whether a value the handler set wins over the policy's (off by default: the policy wins).
    /// See [Who wins](Self#who-wins-the-policy-or-the-handler).
    pub fn keep_handler_values(mut self, keep: bool) -> Self {
        self.keep_handler_values = keep;
        self
    }

    /// Checks the policy and encodes every header once into the guard.
    pub fn build(&self) -> Result<SecureHeaders, HeadersError> {
        let mut rules = Rules::default();
        for (name, rule) in self.preset.rules() {
            rules.put(header_name(name)?, rule);
        }
        if self.remove_fingerprinting_headers {
            for name in FINGERPRINTING_HEADERS {
                rules.put(header_name(name)?, Rule::Remove);
            }
        }

        // What the policy's own settings say about a header replaces what the preset says.
        let mut claimed = Vec::new();
        if let Some(csp) = &self.csp {
            rules.put(
                claim(&mut claimed, CONTENT_SECURITY_POLICY.as_str())?,
                Rule::Csp(csp.clone()),
            );
        }
        if let Some(csp) = &self.csp_report_only {
            let name = claim(&mut claimed, CONTENT_SECURITY_POLICY_REPORT_ONLY.as_str())?;
            rules.put(name, Rule::Csp(csp.clone()));
        }
        if let Some(hsts) = &self.hsts {
            let name = claim(&mut claimed, STRICT_TRANSPORT_SECURITY.as_str())?;
            rules.put(name, Rule::Set(hsts.to_string()));
        }
        for (name, value) in &self.set {
            let name = claim(&mut claimed, name)?;
            let rule =
                if name == CONTENT_SECURITY_POLICY || name == CONTENT_SECURITY_POLICY_REPORT_ONLY {
                    Rule::Csp(ContentSecurityPolicy::from(value))
                } else {
                    Rule::Set(value.clone())
                };
            rules.put(name, rule);
        }
        for name in &self.remove {
            rules.put(claim(&mut claimed, name)?, Rule::Remove);
        }
        for name in &self.pass_through {
            rules.forget(&claim(&mut claimed, name)?);
        }

        if self.report_only {
            let report_only = CONTENT_SECURITY_POLICY_REPORT_ONLY;
            if claimed.contains(&report_only) || rules.0.iter().any(|(n, _)| *n == report_only) {
                return Err(HeadersError::Conflict(report_only.as_str().to_owned()));
            }
            match rules.0.iter_mut().find(|(n, _)| *n == CONTENT_SECURITY_POLICY) {
                Some((name, Rule::Csp(_))) => *name = report_only,
                _ => return Err(HeadersError::ReportOnlyWithoutCsp),
            }
        }
        if self.nonce && !rules.0.iter().any(|(_, rule)| matches!(rule, Rule::Csp(_))) {
            return Err(HeadersError::NonceWithoutCsp);
        }

        let compiled = rules
            .0
            .into_iter()
            .map(|(name, rule)| {
                Ok(match rule {
                    Rule::Set(value) => CompiledRule::Set(prepare(name, &value)?),
                    Rule::Csp(csp) => {
                        let csp = csp.build()?;
                        CompiledRule::Csp {
                            header: prepare(name, csp.as_str())?,
                            nonce_template: self.nonce.then(|| csp.nonce_template()),
                        }
                    }
                    Rule::Remove => CompiledRule::Remove(HeaderKey::new(name)),
                })
            })
            .collect::<Result<Vec<_>, HeadersError>>()?;
        Ok(SecureHeaders::new(compiled, self.keep_handler_values, self.nonce))
    }
}

fn header_name(name: &str) -> Result<HeaderName, HeadersError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HeadersError::InvalidHeaderName(name.to_owned()))
}

/// Parses `name` for one of the policy's own settings, refusing a second setting for the same
/// header and the framing headers.
fn claim(claimed: &mut Vec<HeaderName>, name: &str) -> Result<HeaderName, HeadersError> {
    let name = header_name(name)?;
    if FRAMING_HEADERS.contains(&name.as_str()) {
        return Err(HeadersError::FramingHeader(name.as_str().to_owned()));
    }
    if claimed.contains(&name) {
        return Err(HeadersError::Conflict(name.as_str().to_owned()));
    }
    claimed.push(name.clone());
    Ok(name)
}

/// Encodes one header for good.
fn prepare(name: HeaderName, value: &str) -> Result<PreparedHeader, HeadersError> {
    let value = HeaderValue::from_str(value).map_err(|_| HeadersError::InvalidHeaderValue {
        name: name.as_str().to_owned(),
        value: value.to_owned(),
    })?;
    // `PreparedHeader::new` pays the first-clone allocation of the shared bytes at start-up.
    Ok(PreparedHeader::new(name, value))
}

/// Reads a map into `(key, value)` pairs in document order, duplicates included (so that
/// `build` can refuse them instead of serde silently keeping the last).
fn ordered_pairs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    struct PairsVisitor;

    impl<'de> Visitor<'de> for PairsVisitor {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map from header names to values")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(pair) = map.next_entry()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }

    deserializer.deserialize_map(PairsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContentSecurityPolicy, CspError, Source, api, helmet};

    fn header<'a>(guard: &'a SecureHeaders, name: &str) -> Option<&'a str> {
        guard.headers().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.to_str().unwrap())
    }

    fn removed(guard: &SecureHeaders, name: &str) -> bool {
        guard.removed_headers().any(|n| n == name)
    }

    fn config(json: &str) -> HeadersPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_full_config_builds_the_policy_it_describes() {
        let policy = config(
            r#"{
                "preset": "api",
                "set": {"x-frame-options": "SAMEORIGIN", "X-Api-Version": "2"},
                "remove": ["cache-control"],
                "pass_through": ["referrer-policy"],
                "hsts": {"max_age": 600, "preload": true},
                "csp": {"default-src": ["'self'"], "img-src": "'self' data:", "upgrade-insecure-requests": true},
                "report_only": true,
                "nonce": true,
                "keep_handler_values": true
            }"#,
        );
        let guard = policy.build().unwrap();
        assert_eq!(header(&guard, "x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(header(&guard, "x-api-version"), Some("2"));
        assert!(removed(&guard, "cache-control"));
        assert_eq!(header(&guard, "referrer-policy"), None);
        assert!(!removed(&guard, "referrer-policy"));
        assert_eq!(
            header(&guard, "strict-transport-security"),
            Some("max-age=600; includeSubDomains; preload")
        );
        assert_eq!(header(&guard, "content-security-policy"), None);
        assert_eq!(
            header(&guard, "content-security-policy-report-only"),
            Some("default-src 'self'; img-src 'self' data:; upgrade-insecure-requests")
        );
        assert!(guard.uses_nonce() && guard.keeps_handler_values());
        assert!(removed(&guard, "server"), "the rest of the preset stays");
    }

    #[test]
    fn config_and_builder_describe_the_same_policy() {
        let from_config = config(
            r#"{"preset": "helmet", "csp": "default-src 'none'", "set": {"x-frame-options": "DENY"},
                "remove_fingerprinting_headers": true, "pass_through": ["x-xss-protection"]}"#,
        )
        .build()
        .unwrap();
        let from_code = helmet()
            .content_security_policy(ContentSecurityPolicy::new().default_src([Source::None]))
            .frame_options(FrameOptions::Deny)
            .remove_fingerprinting_headers()
            .pass_through("X-XSS-Protection")
            .build()
            .unwrap();
        assert!(from_config.headers().eq(from_code.headers()));
        assert!(from_config.removed_headers().eq(from_code.removed_headers()));
        assert_eq!(header(&from_code, "content-security-policy"), Some("default-src 'none'"));
        assert_eq!(header(&from_code, "x-xss-protection"), None);
    }

    #[test]
    fn config_is_strict() {
        let err = |json: &str| serde_json::from_str::<HeadersPolicy>(json).unwrap_err().to_string();
        assert!(err(r#"{"set": {}}"#).contains("missing field `preset`"));
        assert!(err(r#"{"preset": "api", "sett": {}}"#).contains("unknown field `sett`"));
        assert!(err(r#"{"preset": "strict"}"#).contains("unknown variant"));
        assert!(err(r#"{"preset": "api", "hsts": {"max-age": 1}}"#).contains("unknown field"));
        assert!(err(r#"{"preset": "api", "set": {"x": 1}}"#).contains("invalid type"));
        assert_eq!(config(r#"{"preset": "none"}"#).preset(), Preset::None);
    }

    #[test]
    fn an_invalid_csp_in_a_config_is_refused_by_build() {
        let policy = config(r#"{"preset": "api", "csp": {"default-src": "self"}}"#);
        assert_eq!(
            policy.build().unwrap_err(),
            HeadersError::Csp(CspError::UnquotedKeyword {
                directive: "default-src".into(),
                value: "self".into()
            })
        );
        let policy =
            config(r#"{"preset": "api", "set": {"Content-Security-Policy": "img-src *"}}"#);
        assert_eq!(policy.build().unwrap_err(), HeadersError::Csp(CspError::MissingDefaultSrc));
        let policy = api().content_security_policy_report_only("default-src a; Img-src b");
        assert!(matches!(
            policy.build(),
            Err(HeadersError::Csp(CspError::InvalidDirectiveName(_)))
        ));
    }

    #[test]
    fn a_header_named_twice_in_a_config_is_a_conflict() {
        let conflict = |json: &str| config(json).build().unwrap_err();
        let c = |name: &str| HeadersError::Conflict(name.into());
        assert_eq!(
            conflict(
                r#"{"preset": "api", "set": {"X-Frame-Options": "DENY"}, "remove": ["x-frame-options"]}"#
            ),
            c("x-frame-options")
        );
        assert_eq!(conflict(r#"{"preset": "api", "set": {"a": "1", "A": "2"}}"#), c("a"));
        assert_eq!(
            conflict(
                r#"{"preset": "api", "csp": "default-src 'none'", "set": {"content-security-policy": "default-src 'self'"}}"#
            ),
            c("content-security-policy")
        );
        assert_eq!(
            conflict(
                r#"{"preset": "api", "hsts": {}, "pass_through": ["strict-transport-security"]}"#
            ),
            c("strict-transport-security")
        );
        assert_eq!(
            conflict(
                r#"{"preset": "api", "report_only": true, "csp_report_only": "default-src 'none'"}"#
            ),
            c("content-security-policy-report-only")
        );
        assert_eq!(conflict(r#"{"preset": "api", "remove": ["server", "server"]}"#), c("server"));
    }

    #[test]
    fn builder_calls_let_the_later_one_win() {
        let guard = api()
            .remove("x-frame-options")
            .frame_options(FrameOptions::SameOrigin)
            .set("x-dns-prefetch-control", "on")
            .remove("X-DNS-Prefetch-Control")
            .hsts(StrictTransportSecurity::new(1))
            .set("strict-transport-security", "max-age=2")
            .set("content-security-policy", "default-src 'self'")
            .pass_through("cache-control")
            .set("cache-control", "no-cache")
            .build()
            .unwrap();
        assert_eq!(header(&guard, "x-frame-options"), Some("SAMEORIGIN"));
        assert!(removed(&guard, "x-dns-prefetch-control"));
        assert_eq!(header(&guard, "strict-transport-security"), Some("max-age=2"));
        assert_eq!(header(&guard, "content-security-policy"), Some("default-src 'self'"));
        assert_eq!(header(&guard, "cache-control"), Some("no-cache"));
        // Each header once, whatever the calls said before.
        let names: Vec<_> =
            guard.headers().map(|(n, _)| n).chain(guard.removed_headers()).collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(names.len(), unique.len());
    }

    #[test]
    fn removing_the_csp_removes_it_and_typed_setters_write_their_headers() {
        let guard = helmet()
            .remove("content-security-policy")
            .referrer_policy(crate::ReferrerPolicy::StrictOrigin)
            .cross_origin_opener_policy(crate::CrossOriginOpenerPolicy::SameOriginAllowPopups)
            .cross_origin_resource_policy(crate::CrossOriginResourcePolicy::SameSite)
            .cross_origin_embedder_policy(crate::CrossOriginEmbedderPolicy::RequireCorp)
            .permissions_policy(PermissionsPolicy::new().deny("camera"))
            .build()
            .unwrap();
        assert!(removed(&guard, "content-security-policy"));
        assert_eq!(header(&guard, "referrer-policy"), Some("strict-origin"));
        assert_eq!(header(&guard, "cross-origin-opener-policy"), Some("same-origin-allow-popups"));
        assert_eq!(header(&guard, "cross-origin-resource-policy"), Some("same-site"));
        assert_eq!(header(&guard, "cross-origin-embedder-policy"), Some("require-corp"));
        assert_eq!(header(&guard, "permissions-policy"), Some("camera=()"));
    }

    #[test]
    fn fingerprint_removal_spares_headers_the_policy_sets() {
        let guard =
            helmet().remove_fingerprinting_headers().set("server", "guard").build().unwrap();
        assert_eq!(header(&guard, "server"), Some("guard"));
        assert!(!removed(&guard, "server"));
        assert!(removed(&guard, "x-aspnet-version") && removed(&guard, "x-powered-by"));
    }

    #[test]
    fn bad_names_values_and_framing_headers_are_refused() {
        assert_eq!(
            api().set("x frame", "DENY").build().unwrap_err(),
            HeadersError::InvalidHeaderName("x frame".into())
        );
        assert_eq!(
            api().remove("").build().unwrap_err(),
            HeadersError::InvalidHeaderName(String::new())
        );
        assert_eq!(
            api().set("x-frame-options", "DENY\r\nSet-Cookie: a=b").build().unwrap_err(),
            HeadersError::InvalidHeaderValue {
                name: "x-frame-options".into(),
                value: "DENY\r\nSet-Cookie: a=b".into()
            }
        );
        for name in ["Content-Length", "transfer-encoding", "connection"] {
            assert_eq!(
                api().remove(name).build().unwrap_err(),
                HeadersError::FramingHeader(name.to_ascii_lowercase())
            );
        }
    }

    #[test]
    fn nonce_and_report_only_need_a_csp() {
        let bare = HeadersPolicy::new(Preset::None);
        assert_eq!(
            bare.clone().csp_nonce(true).build().unwrap_err(),
            HeadersError::NonceWithoutCsp
        );
        assert_eq!(
            api().pass_through("content-security-policy").csp_nonce(true).build().unwrap_err(),
            HeadersError::NonceWithoutCsp
        );
        assert_eq!(bare.report_only(true).build().unwrap_err(), HeadersError::ReportOnlyWithoutCsp);
        assert_eq!(
            api().remove("content-security-policy").report_only(true).build().unwrap_err(),
            HeadersError::ReportOnlyWithoutCsp
        );
        // A report-only policy alone is enough for nonces.
        let guard = HeadersPolicy::new(Preset::None)
            .content_security_policy_report_only(ContentSecurityPolicy::api())
            .csp_nonce(true)
            .build()
            .unwrap();
        assert!(guard.uses_nonce());
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            HeadersError::Csp(CspError::MissingDefaultSrc).to_string(),
            "invalid Content-Security-Policy: a Content-Security-Policy needs a `default-src` directive"
        );
        assert_eq!(
            HeadersError::FramingHeader("content-length".into()).to_string(),
            "`content-length` frames the HTTP message and belongs to the server; a headers policy may not name it"
        );
    }
}
