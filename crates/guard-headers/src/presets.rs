//! The presets a headers policy starts from: the headers of [`api`](crate::api) (OWASP's
//! recommendations for JSON APIs) and of [`helmet`](crate::helmet) (helmet 8's defaults), and the
//! headers they remove.

use serde::Deserialize;

use crate::csp::ContentSecurityPolicy;
use crate::values::{
    CrossOriginOpenerPolicy, CrossOriginResourcePolicy, FrameOptions, PermissionsPolicy,
    ReferrerPolicy, StrictTransportSecurity,
};

/// Response headers that name the software behind the server and its version, which only help an
/// attacker pick exploits. The product and version disclosures of the OWASP Secure Headers
/// Project's list of headers to remove (`ci/headers_remove.json`, 2024-09), plus Rails'
/// `X-Runtime` and Drupal's cache headers. The [`api`](crate::api) preset removes them all;
/// [`HeadersPolicy::remove_fingerprinting_headers`](crate::HeadersPolicy::remove_fingerprinting_headers)
/// adds them to any preset.
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
    pub(crate) fn rules(self) -> Vec<(&'static str, Rule)> {
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

/// What a preset, and then a policy, does with one header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    /// Sets this value.
    Set(String),
    /// Sets this Content-Security-Policy (checked and, with nonces, templated at build time).
    Csp(ContentSecurityPolicy),
    /// Removes the header from every response.
    Remove,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{handle, readme_words};
    use crate::{HeadersPolicy, SecureHeaders, api, helmet};

    const HELMET_CSP: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

    const HELMET_HEADERS: [(&str, &str); 12] = [
        ("content-security-policy", HELMET_CSP),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("origin-agent-cluster", "?1"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("x-dns-prefetch-control", "off"),
        ("x-download-options", "noopen"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-permitted-cross-domain-policies", "none"),
        ("x-xss-protection", "0"),
    ];

    const API_PERMISSIONS: &str = "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), gamepad=(), hid=(), idle-detection=(), interest-cohort=(), serial=(), unload=()";

    const API_HEADERS: [(&str, &str); 11] = [
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=63072000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("x-dns-prefetch-control", "off"),
        ("x-frame-options", "DENY"),
        ("x-permitted-cross-domain-policies", "none"),
        ("cache-control", "no-store"),
        ("permissions-policy", API_PERMISSIONS),
    ];

    fn pairs<'a>(
        it: impl Iterator<Item = (&'a http::HeaderName, &'a http::HeaderValue)>,
    ) -> Vec<(String, String)> {
        it.map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    /// Runs `guard` over a response that already carries `headers`, returning every header of
    /// the result, sorted.
    async fn apply(guard: &SecureHeaders, headers: &[(&str, &str)]) -> Vec<(String, String)> {
        sorted(pairs(handle(guard, headers).await.headers().iter()))
    }

    /// What `api()` removes, as the README lists it: the fingerprinting headers, then the
    /// obsolete ones.
    fn removed_by_api() -> Vec<&'static str> {
        let fingerprinting = readme_words("`FINGERPRINTING_HEADERS` (", ")");
        assert_eq!(fingerprinting.len(), 33, "the README says 33 names");
        let obsolete = readme_words("`OBSOLETE_HEADERS` (", ")");
        fingerprinting.into_iter().chain(obsolete).collect()
    }

    fn sorted(mut list: Vec<(String, String)>) -> Vec<(String, String)> {
        list.sort();
        list
    }

    #[test]
    fn helmet_preset_is_pinned_header_by_header() {
        let guard = helmet().build().unwrap();
        assert_eq!(pairs(guard.headers()), owned(&HELMET_HEADERS));
        assert_eq!(
            guard.removed_headers().map(|n| n.as_str()).collect::<Vec<_>>(),
            ["x-powered-by"]
        );
        assert!(!guard.uses_nonce() && !guard.keeps_handler_values());
    }

    #[test]
    fn api_preset_is_pinned_header_by_header() {
        let guard = api().build().unwrap();
        assert_eq!(pairs(guard.headers()), owned(&API_HEADERS));
        let removed: Vec<&str> = guard.removed_headers().map(|n| n.as_str()).collect();
        assert_eq!(removed, removed_by_api());
        for name in [
            "server",
            "x-powered-by",
            "x-aspnet-version",
            "x-aspnetmvc-version",
            "x-runtime",
            "x-generator",
            "x-drupal-cache",
        ] {
            assert!(removed.contains(&name), "{name}");
        }
    }

    #[tokio::test]
    async fn helmet_responses_carry_exactly_helmets_headers() {
        let guard = helmet().build().unwrap();
        let out = apply(&guard, &[("x-powered-by", "Express"), ("server", "nginx")]).await;
        // helmet removes X-Powered-By only.
        let mut expected = owned(&HELMET_HEADERS);
        expected.push(("server".into(), "nginx".into()));
        assert_eq!(out, sorted(expected));
    }

    #[tokio::test]
    async fn api_responses_carry_exactly_the_api_headers_and_no_fingerprint() {
        let guard = api().build().unwrap();
        let mut handler: Vec<(&str, &str)> =
            removed_by_api().into_iter().map(|name| (name, "leak/1.0")).collect();
        handler.push(("content-type", "application/json"));
        let out = apply(&guard, &handler).await;
        let mut expected = owned(&API_HEADERS);
        expected.push(("content-type".into(), "application/json".into()));
        assert_eq!(out, sorted(expected));
    }

    #[tokio::test]
    async fn api_hsts_preload_is_opt_in() {
        let guard = api().hsts(StrictTransportSecurity::default().preload(true)).build().unwrap();
        let out = apply(&guard, &[]).await;
        assert!(out.contains(&(
            "strict-transport-security".into(),
            "max-age=63072000; includeSubDomains; preload".into()
        )));
        assert_eq!(out.len(), API_HEADERS.len());
    }

    #[test]
    fn the_empty_preset_sends_nothing() {
        let guard = HeadersPolicy::new(Preset::None).build().unwrap();
        assert_eq!(guard.headers().count() + guard.removed_headers().count(), 0);
    }
}
