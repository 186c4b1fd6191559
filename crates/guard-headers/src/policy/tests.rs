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
    let policy = config(r#"{"preset": "api", "set": {"Content-Security-Policy": "img-src *"}}"#);
    assert_eq!(policy.build().unwrap_err(), HeadersError::Csp(CspError::MissingDefaultSrc));
    let policy = api().content_security_policy_report_only("default-src a; Img-src b");
    assert!(matches!(policy.build(), Err(HeadersError::Csp(CspError::InvalidDirectiveName(_)))));
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
        conflict(r#"{"preset": "api", "hsts": {}, "pass_through": ["strict-transport-security"]}"#),
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
    let names: Vec<_> = guard.headers().map(|(n, _)| n).chain(guard.removed_headers()).collect();
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
    let guard = helmet().remove_fingerprinting_headers().set("server", "guard").build().unwrap();
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
    assert_eq!(bare.clone().csp_nonce(true).build().unwrap_err(), HeadersError::NonceWithoutCsp);
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
