//! 400: bodies that are not well-formed JSON, repeat a key or nest too deep.

use guard_core::ProblemType;
use guard_core::http::StatusCode;

use super::{JSON, Order};
use crate::{JsonLimits, JsonRejection, parse_json};

fn malformed(body: &[u8], limits: &JsonLimits) -> (String, usize, usize) {
    match parse_json::<Order>(limits, JSON, body) {
        Err(JsonRejection::Malformed { detail, line, column }) => (detail, line, column),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn malformed_json_has_a_line_and_a_column() {
    let limits = JsonLimits::default();
    let (detail, line, column) =
        malformed(b"{\n  \"id\": \"o-1\",\n  \"items\": [1,,]\n}", &limits);
    assert_eq!((detail.as_str(), line, column), ("expected value", 3, 15));
    let problem = parse_json::<Order>(&limits, JSON, b"{\"id\" 1}").unwrap_err().to_problem();
    assert_eq!(problem.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem.type_uri, ProblemType::MALFORMED_BODY.uri);
    assert_eq!(problem.detail.as_deref(), Some("The body is not valid JSON: expected `:`."));
    assert_eq!(
        (problem.extensions["line"].as_u64(), problem.extensions["column"].as_u64()),
        (Some(1), Some(7))
    );
    assert_eq!(malformed(b"", &limits).0, "EOF while parsing a value");
    assert_eq!(malformed(b"{} {}", &limits).0, "trailing characters");
    assert_eq!(malformed(b"{\"id\": 'x'}", &limits).0, "expected value");
}

#[test]
fn invalid_utf8_is_malformed() {
    let (detail, line, column) = malformed(b"{\"id\": \"caf\xe9\"}", &JsonLimits::default());
    assert_eq!((detail.as_str(), line, column), ("the body is not valid UTF-8", 1, 12));
    // A lone surrogate escape is not a character either.
    let (_, line, column) = malformed(br#"{"id": "\ud800"}"#, &JsonLimits::default());
    assert_eq!((line, column), (1, 15));
}

#[test]
fn repeated_keys_are_malformed_at_any_depth() {
    let limits = JsonLimits::default();
    let (detail, line, _) = malformed(br#"{"id": "a", "id": "b"}"#, &limits);
    assert_eq!((detail.as_str(), line), ("duplicate key \"id\"", 1));
    let nested = br#"{"id": "a", "customer": {"name": "x",
        "address": {"city": "P", "zip": 1, "zip": 2}}}"#;
    let (detail, line, column) = malformed(nested, &limits);
    assert_eq!((detail.as_str(), line), ("duplicate key \"zip\"", 2));
    assert!(column > 30, "{column}");
}

#[test]
fn nesting_deeper_than_the_limit_is_malformed() {
    let limits = JsonLimits::new(1024, 4).unwrap();
    let (detail, line, column) = malformed(b"{\"a\": [[[{}]]]}", &limits);
    assert_eq!((detail.as_str(), line, column), ("nesting deeper than 4 levels", 1, 11));
    let default = JsonLimits::default();
    let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
    assert_eq!(malformed(deep.as_bytes(), &default).0, "nesting deeper than 32 levels");
    // 32 levels are fine syntactically (and then the wrong shape for an order).
    let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
    assert!(matches!(
        parse_json::<Order>(&default, JSON, ok.as_bytes()),
        Err(JsonRejection::Invalid { .. })
    ));
}
