use super::source::KEYWORDS;
use super::*;
use crate::test_support::readme_words;

const HELMET: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

fn built(policy: &ContentSecurityPolicy) -> String {
    policy.build().unwrap().as_str().to_owned()
}

#[test]
fn helmet_policy_is_byte_for_byte_helmets() {
    assert_eq!(built(&ContentSecurityPolicy::helmet()), HELMET);
    // And reading helmet's string back gives the same policy and the same bytes.
    assert_eq!(built(&ContentSecurityPolicy::from(HELMET)), HELMET);
}

#[test]
fn api_policy_is_spaced() {
    assert_eq!(built(&ContentSecurityPolicy::api()), "default-src 'none'; frame-ancestors 'none'");
}

#[test]
fn builder_reads_well_and_serializes_in_order() {
    let csp = ContentSecurityPolicy::new()
        .default_src([Source::None])
        .directive("img-src", ["'self'", "data:"])
        .script_src([Source::SelfOrigin, Source::Sha256("abc+/=".into())])
        .connect_src([Source::host("https://api.example.com")])
        .report_to("csp");
    assert_eq!(
        built(&csp),
        "default-src 'none'; img-src 'self' data:; script-src 'self' 'sha256-abc+/='; connect-src https://api.example.com; report-to csp"
    );
    let compact = csp.clone().separator(CspSeparator::Compact);
    assert!(built(&compact).starts_with("default-src 'none';img-src"));
}

#[test]
fn strings_holding_several_sources_are_split_and_keywords_normalized() {
    let csp = ContentSecurityPolicy::new().default_src(["'SELF'  data:", "'nonce-YWJj'"]);
    let compiled = csp.build().unwrap();
    assert_eq!(compiled.as_str(), "default-src 'self' data: 'nonce-YWJj'");
}

#[test]
fn presets_can_be_adapted() {
    let csp = ContentSecurityPolicy::helmet()
        .add_sources("script-src", ["https://cdn.example.com"])
        .add_sources("connect-src", [Source::SelfOrigin])
        .remove_directive("upgrade-insecure-requests");
    let s = built(&csp);
    assert!(s.contains(";script-src 'self' https://cdn.example.com;"));
    assert!(s.ends_with(";connect-src 'self'"));
    assert!(!s.contains("upgrade-insecure-requests"));
    assert_eq!(csp.get("SCRIPT-SRC").map(<[Source]>::len), Some(2));
}

#[test]
fn bad_directive_names_are_refused() {
    for name in ["Default-src", "img-src-", "-img", "img src", "img_src", "", "1x", "é"] {
        let err = ContentSecurityPolicy::api().directive(name, ["'self'"]).build().unwrap_err();
        assert_eq!(err, CspError::InvalidDirectiveName(name.to_owned()), "{name:?}");
    }
    // Upper case is allowed after the first letter, as in helmet's rule.
    assert!(ContentSecurityPolicy::api().directive("x-fooBar9", ["a"]).build().is_ok());
}

#[test]
fn duplicate_directives_are_refused_ignoring_case() {
    let err = ContentSecurityPolicy::api().directive("frame-Ancestors", ["'self'"]);
    assert_eq!(err.build(), Err(CspError::DuplicateDirective("frame-Ancestors".into())));
    let err = ContentSecurityPolicy::api().frame_ancestors(["'self'"]).build().unwrap_err();
    assert_eq!(err, CspError::DuplicateDirective("frame-ancestors".into()));
    let err = ContentSecurityPolicy::from("default-src 'self'; img-src a; img-src b")
        .build()
        .unwrap_err();
    assert_eq!(err, CspError::DuplicateDirective("img-src".into()));
}

#[test]
fn unquoted_keywords_are_refused() {
    // The keywords as the README lists them.
    let keywords = readme_words("The keywords", " and");
    assert_eq!(KEYWORDS[..], keywords);
    for value in keywords.into_iter().chain(["SELF", "nonce-abc", "sha256-abc", "SHA512-x"]) {
        let err = ContentSecurityPolicy::new().default_src([value]).build().unwrap_err();
        assert_eq!(
            err,
            CspError::UnquotedKeyword { directive: "default-src".into(), value: value.into() }
        );
    }
    // Hosts that merely start like a keyword are fine.
    assert!(ContentSecurityPolicy::new().default_src(["selfish.example"]).build().is_ok());
}

#[test]
fn separators_and_invisible_characters_in_values_are_refused() {
    for value in ["a;b", "a,b", "https://x.example/,", "caf\u{e9}.example", "a\u{7f}"] {
        let err = ContentSecurityPolicy::new().default_src([value]).build().unwrap_err();
        assert_eq!(
            err,
            CspError::InvalidValue { directive: "default-src".into(), value: value.into() }
        );
    }
    let err = ContentSecurityPolicy::from("default-src 'self', img-src *").build().unwrap_err();
    assert!(matches!(err, CspError::InvalidValue { value, .. } if value == "'self',"));
}

#[test]
fn nonces_and_hashes_must_be_base64() {
    for source in [
        Source::Nonce(String::new()),
        Source::Nonce("a b".into()),
        Source::Sha256("abc===".into()),
        Source::Sha384("ab'c".into()),
        Source::Sha512("=".into()),
    ] {
        let err = ContentSecurityPolicy::new().default_src([source.clone()]).build();
        assert_eq!(
            err,
            Err(CspError::InvalidNonceOrHash {
                directive: "default-src".into(),
                value: source.to_string()
            })
        );
    }
    let ok = [Source::Sha256("q1w2-_+/==".into()), Source::Nonce("YWJj".into())];
    assert!(ContentSecurityPolicy::new().default_src(ok).build().is_ok());
}

#[test]
fn a_policy_needs_default_src() {
    let err = ContentSecurityPolicy::new().frame_ancestors([Source::None]).build();
    assert_eq!(err, Err(CspError::MissingDefaultSrc));
    assert_eq!(ContentSecurityPolicy::new().build(), Err(CspError::MissingDefaultSrc));
    assert!(ContentSecurityPolicy::from("DEFAULT-SRC 'self'").build().is_err());
}

#[test]
fn errors_read_well() {
    let err = CspError::UnquotedKeyword { directive: "script-src".into(), value: "self".into() };
    assert_eq!(err.to_string(), "`self` in `script-src` must be single-quoted: 'self'");
}

#[test]
fn string_form_keeps_its_separator_style() {
    let spaced = ContentSecurityPolicy::from("default-src 'none'; frame-ancestors 'none'");
    assert_eq!(spaced, ContentSecurityPolicy::api());
    let single = ContentSecurityPolicy::from("default-src 'none'");
    assert_eq!(built(&single), "default-src 'none'");
    let trailing = ContentSecurityPolicy::from(" default-src  'none' ;; ");
    assert_eq!(built(&trailing), "default-src 'none'");
}

#[test]
fn nonce_goes_into_script_and_style_sources() {
    let nonce = CspNonce::from_bytes([0; 16]);
    let n = "'nonce-AAAAAAAAAAAAAAAAAAAAAA=='";
    // Present directives get it appended; absent ones are derived from default-src.
    let csp = ContentSecurityPolicy::helmet().build().unwrap();
    let with = csp.with_nonce(&nonce);
    assert!(with.contains(&format!(";script-src 'self' {n};")));
    // 'unsafe-inline' is dropped where the nonce goes: browsers would ignore it anyway.
    assert!(with.contains(&format!(";style-src 'self' https: {n};")), "{with}");
    assert!(!with.contains("unsafe-inline"), "{with}");
    assert!(with.contains(";script-src-attr 'none';"), "attributes never take nonces");
    // Only where the nonce goes: other directives keep 'unsafe-inline' as configured.
    let csp = ContentSecurityPolicy::from(
        "default-src 'self'; script-src 'self' 'unsafe-inline'; script-src-attr 'unsafe-inline'",
    )
    .build()
    .unwrap();
    assert_eq!(
        csp.with_nonce(&nonce),
        format!(
            "default-src 'self'; script-src 'self' {n}; script-src-attr 'unsafe-inline'; style-src 'self' {n}"
        )
    );
    let csp = ContentSecurityPolicy::new()
        .default_src([Source::SelfOrigin, Source::scheme("https")])
        .directive("script-src-elem", [Source::None])
        .build()
        .unwrap();
    assert_eq!(
        csp.with_nonce(&nonce),
        format!(
            "default-src 'self' https:; script-src-elem {n}; script-src 'self' https: {n}; style-src 'self' https: {n}"
        )
    );
    // 'none' would make browsers ignore the nonce, so it is dropped where the nonce goes.
    let api = ContentSecurityPolicy::api().build().unwrap();
    assert_eq!(
        api.with_nonce(&nonce),
        format!("default-src 'none'; frame-ancestors 'none'; script-src {n}; style-src {n}")
    );
}

#[test]
fn config_accepts_strings_lists_and_flags_in_order() {
    let csp: ContentSecurityPolicy = serde_json::from_str(
        r#"{"default-src": "'self' https:", "img-src": ["'self'", "data:"],
            "sandbox": true, "block-all-mixed-content": false}"#,
    )
    .unwrap();
    assert_eq!(built(&csp), "default-src 'self' https:; img-src 'self' data:; sandbox");
    let dup: ContentSecurityPolicy =
        serde_json::from_str(r#"{"default-src": "'self'", "default-src": "'none'"}"#).unwrap();
    assert_eq!(dup.build(), Err(CspError::DuplicateDirective("default-src".into())));
    assert!(serde_json::from_str::<ContentSecurityPolicy>("42").is_err());
    assert!(serde_json::from_str::<ContentSecurityPolicy>(r#"{"img-src": 1}"#).is_err());
}
