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
use crate::presets::{FINGERPRINTING_HEADERS, Preset, Rule};
use crate::values::{
    CrossOriginEmbedderPolicy, CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions,
    PermissionsPolicy, ReferrerPolicy, StrictTransportSecurity,
};

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

/// The builder methods of the headers that take a typed value: each sets its header to the
/// value's text, as [`set`](HeadersPolicy::set) with that text would.
macro_rules! typed_setters {
    ($($(#[$doc:meta])* $method:ident($ty:ty) => $name:literal;)+) => {$(
        $(#[$doc])*
        pub fn $method(self, value: $ty) -> Self {
            self.set($name, value.to_string())
        }
    )+};
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

    flag_setters! {
        /// Sends the Content-Security-Policy as `Content-Security-Policy-Report-Only`: browsers
        /// report violations but block nothing. Cannot be combined with a separate
        /// [`content_security_policy_report_only`](Self::content_security_policy_report_only).
        report_only(report_only) => report_only;
        /// Draws a fresh nonce for every request.
        ///
        /// The guard's `check` stores a [`CspNonce`](crate::CspNonce) in the request extensions for
        /// the handler (reusing one that an outer guard already stored), and `respond` sends the
        /// Content-Security-Policy (and the report-only one) with `'nonce-…'` appended to
        /// `script-src` and `style-src`, and to `script-src-elem` and `style-src-elem` when
        /// present. When the policy has no `script-src` (or `style-src`), one is added with
        /// `default-src`'s sources plus the nonce, since `default-src` is what it fell back to.
        /// `'none'` is dropped from a directive that receives a nonce, and so is `'unsafe-inline'`:
        /// browsers ignore it once a nonce is present, so keeping it would only make the header
        /// seem to allow inline scripts and styles that browsers refuse. With nonces on, every
        /// inline `<script>` and `<style>` needs `nonce="…"` (helmet's `style-src 'unsafe-inline'`
        /// included). Rendering that header is the only per-response allocation of the guard.
        csp_nonce(nonce) => nonce;
    }

    /// Sets `Strict-Transport-Security`.
    pub fn hsts(mut self, hsts: StrictTransportSecurity) -> Self {
        self.forget(STRICT_TRANSPORT_SECURITY.as_str());
        self.hsts = Some(hsts);
        self
    }

    typed_setters! {
        /// Sets `X-Frame-Options`.
        frame_options(FrameOptions) => "x-frame-options";
        /// Sets `Referrer-Policy`.
        referrer_policy(ReferrerPolicy) => "referrer-policy";
        /// Sets `Cross-Origin-Opener-Policy`.
        cross_origin_opener_policy(CrossOriginOpenerPolicy) => "cross-origin-opener-policy";
        /// Sets `Cross-Origin-Resource-Policy`.
        cross_origin_resource_policy(CrossOriginResourcePolicy) => "cross-origin-resource-policy";
        /// Sets `Cross-Origin-Embedder-Policy` (no preset sends it).
        cross_origin_embedder_policy(CrossOriginEmbedderPolicy) => "cross-origin-embedder-policy";
        /// Sets `Permissions-Policy`.
        permissions_policy(PermissionsPolicy) => "permissions-policy";
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

    flag_setters! {
        /// Whether a value the handler set wins over the policy's (off by default: the policy
        /// wins). See [Who wins](Self#who-wins-the-policy-or-the-handler).
        keep_handler_values(keep) => keep_handler_values;
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
mod tests;
