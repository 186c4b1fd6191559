//! Typed values for the security headers that have a fixed vocabulary.
//!
//! Each is a small type whose builder calls read as the header does; the
//! [`HeadersPolicy`](crate::HeadersPolicy) methods of the same names set them. Any header can also
//! be set from a plain string with [`HeadersPolicy::set`](crate::HeadersPolicy::set).
//!
//! ```
//! use guard_headers::{FrameOptions, PermissionsPolicy, ReferrerPolicy, StrictTransportSecurity};
//!
//! assert_eq!(FrameOptions::Deny.as_str(), "DENY");
//! assert_eq!(ReferrerPolicy::StrictOriginWhenCrossOrigin.to_string(), "strict-origin-when-cross-origin");
//! assert_eq!(
//!     StrictTransportSecurity::new(StrictTransportSecurity::ONE_YEAR).preload(true).to_string(),
//!     "max-age=31536000; includeSubDomains; preload",
//! );
//! assert_eq!(
//!     PermissionsPolicy::new().deny("camera").allow_self("fullscreen").to_string(),
//!     "camera=(), fullscreen=(self)",
//! );
//! ```

use std::fmt;

use serde::Deserialize;

/// `Strict-Transport-Security`: browsers use HTTPS only, for `max_age` seconds.
///
/// In a configuration file: `{"max_age": 600, "include_subdomains": true, "preload": true}`,
/// every field optional, the missing ones taken from [`Default`] (two years, subdomains included,
/// no preload). Submitting a domain to the browsers' preload lists requires a `max_age` of at
/// least [`ONE_YEAR`](Self::ONE_YEAR) and `include_subdomains`; `preload` is opt-in because
/// leaving those lists takes months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrictTransportSecurity {
    max_age: u64,
    include_subdomains: bool,
    preload: bool,
}

impl StrictTransportSecurity {
    /// One year in seconds: helmet's `max-age`, and the preload lists' minimum.
    pub const ONE_YEAR: u64 = 31_536_000;
    /// Two years in seconds: the OWASP recommendation, and the [`api`](crate::api) preset's.
    pub const TWO_YEARS: u64 = 63_072_000;

    /// HTTPS only for `max_age` seconds, on subdomains too, without `preload`.
    pub fn new(max_age: u64) -> Self {
        Self { max_age, include_subdomains: true, preload: false }
    }

    flag_setters! {
        /// Whether the policy covers subdomains (`includeSubDomains`).
        include_subdomains(include) => include_subdomains;
        /// Whether to ask for inclusion in the browsers' preload lists (`preload`).
        preload(preload) => preload;
    }
}

impl Default for StrictTransportSecurity {
    /// `max-age=63072000; includeSubDomains`.
    fn default() -> Self {
        Self::new(Self::TWO_YEARS)
    }
}

impl fmt::Display for StrictTransportSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "max-age={}", self.max_age)?;
        if self.include_subdomains {
            f.write_str("; includeSubDomains")?;
        }
        if self.preload {
            f.write_str("; preload")?;
        }
        Ok(())
    }
}

macro_rules! header_value_enum {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$variant_doc:meta])* $variant:ident => $value:literal,)* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)*
        }

        impl $name {
            /// The header value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

header_value_enum! {
    /// `X-Frame-Options`: who may show the response in a frame (for browsers that predate
    /// CSP's `frame-ancestors`).
    FrameOptions {
        /// `DENY`: nobody.
        Deny => "DENY",
        /// `SAMEORIGIN`: pages of the same origin.
        SameOrigin => "SAMEORIGIN",
    }
}

header_value_enum! {
    /// `Referrer-Policy`: how much of the page's URL is sent along with its requests.
    ReferrerPolicy {
        /// `no-referrer`: nothing.
        NoReferrer => "no-referrer",
        /// `no-referrer-when-downgrade`: everything, except from HTTPS to HTTP.
        NoReferrerWhenDowngrade => "no-referrer-when-downgrade",
        /// `origin`: the origin only.
        Origin => "origin",
        /// `origin-when-cross-origin`: the full URL to the same origin, the origin elsewhere.
        OriginWhenCrossOrigin => "origin-when-cross-origin",
        /// `same-origin`: the full URL to the same origin, nothing elsewhere.
        SameOrigin => "same-origin",
        /// `strict-origin`: the origin, and nothing from HTTPS to HTTP.
        StrictOrigin => "strict-origin",
        /// `strict-origin-when-cross-origin`: the browsers' default.
        StrictOriginWhenCrossOrigin => "strict-origin-when-cross-origin",
        /// `unsafe-url`: the full URL everywhere.
        UnsafeUrl => "unsafe-url",
    }
}

header_value_enum! {
    /// `Cross-Origin-Opener-Policy`: whether windows of other origins share a browsing context
    /// group with this one.
    CrossOriginOpenerPolicy {
        /// `same-origin`: isolate from every other origin.
        SameOrigin => "same-origin",
        /// `same-origin-allow-popups`: keep references to popups this page opens.
        SameOriginAllowPopups => "same-origin-allow-popups",
        /// `noopener-allow-popups`: always open in a new group, allow popups.
        NoopenerAllowPopups => "noopener-allow-popups",
        /// `unsafe-none`: no isolation (the browsers' default).
        UnsafeNone => "unsafe-none",
    }
}

header_value_enum! {
    /// `Cross-Origin-Resource-Policy`: which sites may load the response as a subresource.
    CrossOriginResourcePolicy {
        /// `same-origin`: this origin only.
        SameOrigin => "same-origin",
        /// `same-site`: this site (registrable domain) only.
        SameSite => "same-site",
        /// `cross-origin`: anyone.
        CrossOrigin => "cross-origin",
    }
}

header_value_enum! {
    /// `Cross-Origin-Embedder-Policy`: which cross-origin subresources the page may load. Off in
    /// both presets, as in helmet (`require-corp` breaks many pages).
    CrossOriginEmbedderPolicy {
        /// `require-corp`: only resources that opt in with CORP or CORS.
        RequireCorp => "require-corp",
        /// `credentialless`: cross-origin requests without credentials.
        Credentialless => "credentialless",
        /// `unsafe-none`: no restriction (the browsers' default).
        UnsafeNone => "unsafe-none",
    }
}

/// The features that [`PermissionsPolicy::deny_all`] denies: those of the OWASP Secure Headers
/// Project's proposed `Permissions-Policy` (`ci/headers_add.json`, 2024-09), in its order.
pub const DENIED_FEATURES: &[&str] = &[
    "accelerometer",
    "autoplay",
    "camera",
    "cross-origin-isolated",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "geolocation",
    "gyroscope",
    "keyboard-map",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "sync-xhr",
    "usb",
    "web-share",
    "xr-spatial-tracking",
    "clipboard-read",
    "clipboard-write",
    "gamepad",
    "hid",
    "idle-detection",
    "interest-cohort",
    "serial",
    "unload",
];

/// `Permissions-Policy`: which powerful browser features the page and its frames may use.
///
/// Features keep the order they were first named; naming one again changes its allowlist in
/// place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PermissionsPolicy {
    features: Vec<(String, String)>,
}

impl PermissionsPolicy {
    /// A policy that names no feature (every feature keeps the browser's default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every feature of [`DENIED_FEATURES`] denied (`feature=()`): what an API needs, since its
    /// responses are never pages. OWASP's proposal allows `sync-xhr=(self)`; this denies it too.
    pub fn deny_all() -> Self {
        DENIED_FEATURES.iter().fold(Self::new(), |policy, feature| policy.deny(*feature))
    }

    /// Denies `feature` everywhere: `feature=()`.
    pub fn deny(self, feature: impl Into<String>) -> Self {
        self.allow(feature, "()")
    }

    /// Allows `feature` for this origin only: `feature=(self)`.
    pub fn allow_self(self, feature: impl Into<String>) -> Self {
        self.allow(feature, "(self)")
    }

    /// Sets `feature`'s allowlist as written, such as `(self "https://pay.example")` or `*`.
    pub fn allow(mut self, feature: impl Into<String>, allowlist: impl Into<String>) -> Self {
        let (feature, allowlist) = (feature.into(), allowlist.into());
        match self.features.iter_mut().find(|(name, _)| *name == feature) {
            Some((_, existing)) => *existing = allowlist,
            None => self.features.push((feature, allowlist)),
        }
        self
    }
}

impl fmt::Display for PermissionsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (feature, allowlist)) in self.features.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{feature}={allowlist}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_serializes_like_helmet_and_owasp() {
        assert_eq!(
            StrictTransportSecurity::new(StrictTransportSecurity::ONE_YEAR).to_string(),
            "max-age=31536000; includeSubDomains"
        );
        assert_eq!(
            StrictTransportSecurity::default().to_string(),
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(
            StrictTransportSecurity::new(600).include_subdomains(false).preload(true).to_string(),
            "max-age=600; preload"
        );
    }

    #[test]
    fn hsts_config_fills_missing_fields_from_the_default() {
        let h: StrictTransportSecurity =
            serde_json::from_str(r#"{"max_age": 600, "preload": true}"#).unwrap();
        assert_eq!(h.to_string(), "max-age=600; includeSubDomains; preload");
        let h: StrictTransportSecurity = serde_json::from_str("{}").unwrap();
        assert_eq!(h, StrictTransportSecurity::default());
        assert!(serde_json::from_str::<StrictTransportSecurity>(r#"{"maxAge": 1}"#).is_err());
    }

    #[test]
    fn deny_all_is_the_pinned_owasp_feature_set() {
        assert_eq!(
            PermissionsPolicy::deny_all().to_string(),
            "accelerometer=(), autoplay=(), camera=(), cross-origin-isolated=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), keyboard-map=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), web-share=(), xr-spatial-tracking=(), clipboard-read=(), clipboard-write=(), gamepad=(), hid=(), idle-detection=(), interest-cohort=(), serial=(), unload=()"
        );
    }

    #[test]
    fn renaming_a_feature_changes_it_in_place() {
        let p = PermissionsPolicy::new()
            .deny("camera")
            .deny("fullscreen")
            .allow("camera", r#"(self "https://meet.example")"#);
        assert_eq!(p.to_string(), r#"camera=(self "https://meet.example"), fullscreen=()"#);
        assert_eq!(PermissionsPolicy::new().to_string(), "");
    }

    #[test]
    fn enum_values_are_the_header_tokens() {
        assert_eq!(FrameOptions::SameOrigin.to_string(), "SAMEORIGIN");
        assert_eq!(ReferrerPolicy::NoReferrer.as_str(), "no-referrer");
        assert_eq!(
            CrossOriginOpenerPolicy::SameOriginAllowPopups.as_str(),
            "same-origin-allow-popups"
        );
        assert_eq!(CrossOriginResourcePolicy::CrossOrigin.as_str(), "cross-origin");
        assert_eq!(CrossOriginEmbedderPolicy::Credentialless.as_str(), "credentialless");
    }
}
