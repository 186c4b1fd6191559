//! The whole pipeline, one status and error kind at a time.

// The test schemas are deserialized and compared, not all of their fields read.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

use garde::Validate;
use guard_core::ProblemType;
use guard_core::http::StatusCode;
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::{AllowUnknownKeys, FieldError, JsonBody, JsonLimits, JsonRejection, parse_json};

const JSON: Option<&[u8]> = Some(b"application/json");

/// The registration body of the example servers.
#[derive(Debug, Deserialize, Validate)]
struct Register {
    #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
    username: String,
    #[garde(email)]
    email: String,
    #[garde(length(chars, min = 12))]
    password: String,
}

/// Three levels of structs, an array of them, optional and defaulted fields.
#[derive(Debug, Deserialize, Validate)]
struct Order {
    #[garde(length(min = 1))]
    id: String,
    #[garde(dive)]
    customer: Customer,
    #[garde(dive, length(min = 1))]
    items: Vec<Item>,
    #[garde(skip)]
    note: Option<String>,
    #[serde(default)]
    #[garde(skip)]
    gift: bool,
}

#[derive(Debug, Deserialize, Validate)]
struct Customer {
    #[garde(length(min = 1))]
    name: String,
    #[garde(dive)]
    address: Address,
}

#[derive(Debug, Deserialize, Validate)]
struct Address {
    #[garde(length(min = 2))]
    city: String,
    #[garde(range(min = 1000, max = 99999))]
    zip: u32,
}

#[derive(Debug, Deserialize, Validate)]
struct Item {
    #[garde(length(min = 1, max = 10))]
    name: String,
    #[garde(range(min = 1))]
    qty: u8,
}

fn order() -> serde_json::Value {
    json!({
        "id": "o-1",
        "customer": {"name": "Ada", "address": {"city": "Paris", "zip": 75001}},
        "items": [{"name": "pen", "qty": 2}, {"name": "ink", "qty": 1}],
    })
}

/// Parses a body written out (so that its keys keep their order).
fn parse<T>(body: &str) -> Result<T, JsonRejection>
where
    T: serde::de::DeserializeOwned + Validate<Context = ()>,
{
    parse_json(&JsonLimits::default(), JSON, body.as_bytes())
}

/// Parses a body built with `json!` (whose keys come out sorted).
fn parse_value<T>(body: &serde_json::Value) -> Result<T, JsonRejection>
where
    T: serde::de::DeserializeOwned + Validate<Context = ()>,
{
    parse(&body.to_string())
}

/// The `(pointer, detail)` pairs of a 422.
fn errors(rejection: JsonRejection) -> Vec<(String, String)> {
    match rejection {
        JsonRejection::Invalid { errors } => {
            errors.into_iter().map(|e| (e.pointer, e.detail)).collect()
        }
        other => panic!("expected a 422, got {other:?}"),
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(p, d)| ((*p).to_owned(), (*d).to_owned())).collect()
}

fn malformed(body: &[u8], limits: &JsonLimits) -> (String, usize, usize) {
    match parse_json::<Order>(limits, JSON, body) {
        Err(JsonRejection::Malformed { detail, line, column }) => (detail, line, column),
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn a_valid_body_passes() {
    let o: Order = parse_value(&order()).unwrap();
    assert_eq!((o.items.len(), o.note, o.gift), (2, None, false));
    let r: Register = parse_value(&json!({
        "username": "ada99", "email": "ada@example.com", "password": "twelve chars"
    }))
    .unwrap();
    assert_eq!(r.username, "ada99");
}

// 415

#[test]
fn only_json_media_types_are_accepted() {
    let body = order().to_string();
    let limits = JsonLimits::default();
    for refused in [None, Some(&b"text/plain"[..]), Some(b"application/x-www-form-urlencoded")] {
        let err = parse_json::<Order>(&limits, refused, body.as_bytes()).unwrap_err();
        assert_eq!(err, JsonRejection::UnsupportedMediaType);
        let problem = err.to_problem();
        assert_eq!(problem.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(problem.type_uri, ProblemType::UNSUPPORTED_MEDIA_TYPE.uri);
    }
    for accepted in
        ["application/json; charset=utf-8", "application/problem+json", "APPLICATION/JSON"]
    {
        parse_json::<Order>(&limits, Some(accepted.as_bytes()), body.as_bytes()).unwrap();
    }
}

// 413

#[test]
fn content_length_over_the_limit_is_refused_before_reading() {
    let limits = JsonLimits::new(100, 8).unwrap();
    let err = JsonBody::start(&limits, JSON, Some(b"101")).unwrap_err();
    assert_eq!(err, JsonRejection::TooLarge { max_bytes: 100 });
    let problem = err.to_problem();
    assert_eq!(problem.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem.extensions["max_bytes"], 100);
    assert!(JsonBody::start(&limits, JSON, Some(b"100")).is_ok());
    let huge = JsonBody::start(&limits, JSON, Some(b"99999999999999999999999999"));
    assert_eq!(huge.unwrap_err(), JsonRejection::TooLarge { max_bytes: 100 });
    // The media type is checked first.
    let wrong = JsonBody::start(&limits, Some(b"text/plain"), Some(b"101"));
    assert_eq!(wrong.unwrap_err(), JsonRejection::UnsupportedMediaType);
}

#[test]
fn a_streamed_body_is_counted_whatever_content_length_said() {
    let limits = JsonLimits::new(10, 8).unwrap();
    // No Content-Length (chunked), and a lying one.
    for announced in [None, Some(&b"4"[..])] {
        let mut body = JsonBody::start(&limits, JSON, announced).unwrap();
        body.push(b"[1, 2,").unwrap();
        body.push(b" 3,").unwrap();
        assert_eq!(body.len(), 9);
        assert_eq!(body.push(b" 4]"), Err(JsonRejection::TooLarge { max_bytes: 10 }));
        // Nothing of the chunk that crossed the limit was kept.
        assert_eq!(body.len(), 9);
    }
    #[derive(Debug, Deserialize, Validate)]
    struct Bytes(#[garde(skip)] Vec<u8>);
    let mut exact = JsonBody::start(&limits, JSON, None).unwrap();
    exact.push(b"[1,2,300]").unwrap();
    assert_eq!(
        exact.finish::<Bytes>().unwrap_err(),
        JsonRejection::Invalid {
            errors: vec![FieldError::new("/2", "expected an integer between 0 and 255")]
        }
    );
    let body = order().to_string();
    let err = parse_json::<Order>(&limits, JSON, body.as_bytes()).unwrap_err();
    assert_eq!(err, JsonRejection::TooLarge { max_bytes: 10 });
}

// 400

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

// 422: shape

#[test]
fn every_shape_error_is_listed_at_once_with_its_pointer() {
    let body = r#"{
        "id": 5,
        "customer": {"name": "Ada", "address": {"city": ["P"], "zip": "75001", "planet": "Earth"}},
        "items": [
            {"name": "pen", "qty": -1},
            {"name": "ink", "qty": 2, "colour": "blue"},
            {"qty": 300},
            "pencil"
        ],
        "note": 1,
        "admin": true
    }"#;
    assert_eq!(
        errors(parse::<Order>(body).unwrap_err()),
        pairs(&[
            ("/id", "expected a string"),
            ("/customer/address/city", "expected a string"),
            ("/customer/address/zip", "expected an integer between 0 and 4294967295"),
            ("/customer/address/planet", "is not allowed"),
            ("/items/0/qty", "expected an integer between 0 and 255"),
            ("/items/1/colour", "is not allowed"),
            ("/items/2/qty", "expected an integer between 0 and 255"),
            ("/items/2/name", "is required"),
            ("/items/3", "expected an object"),
            ("/note", "expected a string"),
            ("/admin", "is not allowed"),
        ])
    );
}

#[test]
fn missing_fields_are_found_at_every_depth_and_in_every_item() {
    let body = r#"{
        "customer": {"address": {"city": "Paris"}},
        "items": [{"name": "a"}, {"qty": 1}, {}, {"name": "d", "qty": 1}]
    }"#;
    assert_eq!(
        errors(parse::<Order>(body).unwrap_err()),
        pairs(&[
            ("/customer/address/zip", "is required"),
            ("/customer/name", "is required"),
            ("/items/0/qty", "is required"),
            ("/items/1/name", "is required"),
            ("/items/2/name", "is required"),
            ("/items/2/qty", "is required"),
            ("/id", "is required"),
        ])
    );
}

#[test]
fn an_array_is_not_an_object() {
    let at_root = errors(parse_value::<Order>(&json!([order()])).unwrap_err());
    assert_eq!(at_root, pairs(&[("", "expected an object")]));
    let mut body = order();
    body["customer"]["address"] = json!(["Paris", 75001]);
    let nested = errors(parse_value::<Order>(&body).unwrap_err());
    assert_eq!(nested, pairs(&[("/customer/address", "expected an object")]));
    assert_eq!(
        errors(parse_value::<Order>(&json!("x")).unwrap_err()),
        pairs(&[("", "expected an object")])
    );
}

#[test]
fn keys_in_pointers_are_escaped() {
    let mut body = order();
    body["customer"]["a/b~c"] = json!(1);
    assert_eq!(
        errors(parse_value::<Order>(&body).unwrap_err()),
        pairs(&[("/customer/a~1b~0c", "is not allowed")])
    );
}

#[test]
fn shape_errors_and_rule_failures_are_listed_together() {
    // `name` breaks a rule and `qty` has the wrong type: both are reported, in body order.
    let mut body = order();
    body["items"][0] = json!({"name": "", "qty": "2"});
    body["surprise"] = json!(true);
    assert_eq!(
        errors(parse_value::<Order>(&body).unwrap_err()),
        pairs(&[
            ("/items/0/name", "length is lower than 1"),
            ("/items/0/qty", "expected an integer between 0 and 255"),
            ("/surprise", "is not allowed"),
        ])
    );
}

#[test]
fn a_field_with_a_shape_error_is_not_also_blamed_for_its_placeholder() {
    // A missing or mistyped field holds a placeholder that breaks its rules: only the shape
    // error is reported for it.
    let mut body = order();
    body["id"] = json!(7);
    body["customer"]["address"] = json!({"city": "Paris"});
    assert_eq!(
        errors(parse_value::<Order>(&body).unwrap_err()),
        pairs(&[("/customer/address/zip", "is required"), ("/id", "expected a string")])
    );
}

#[test]
fn the_422_problem_carries_every_error() {
    let problem = parse::<Register>(r#"{"username": 1, "pass": "x"}"#).unwrap_err().to_problem();
    assert_eq!(problem.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem.type_uri, ProblemType::VALIDATION_FAILED.uri);
    assert_eq!(problem.detail.as_deref(), Some("4 fields of the body are invalid."));
    assert_eq!(
        problem.extensions["errors"],
        json!([
            {"pointer": "/username", "detail": "expected a string"},
            {"pointer": "/pass", "detail": "is not allowed"},
            {"pointer": "/email", "detail": "is required"},
            {"pointer": "/password", "detail": "is required"},
        ])
    );
}

// 422: rules

#[test]
fn every_rule_failure_is_listed_with_its_pointer() {
    let body = r#"{
        "id": "",
        "customer": {"name": "Ada", "address": {"city": "Paris", "zip": 12}},
        "items": [{"name": "pen", "qty": 2}, {"qty": 0, "name": "far too long a name"}]
    }"#;
    assert_eq!(
        errors(parse::<Order>(body).unwrap_err()),
        pairs(&[
            ("/id", "length is lower than 1"),
            ("/customer/address/zip", "lower than 1000"),
            ("/items/1/qty", "lower than 1"),
            ("/items/1/name", "length is greater than 10"),
        ])
    );
}

#[test]
fn the_register_schema_refuses_what_the_seed_refuses() {
    let ok = |u: &str, e: &str, p: &str| {
        parse_value::<Register>(&json!({"username": u, "email": e, "password": p})).map(|_| ())
    };
    ok("abc", "a@b.co", "123456789012").unwrap();
    ok("A1b2C3d4E5f6G7h8I9j0", "a@b.co", "ünïcödé pässwörd").unwrap();
    for (u, e, p, pointer) in [
        ("ab", "a@b.co", "123456789012", "/username"),
        ("abcdefghijklmnopqrstu", "a@b.co", "123456789012", "/username"),
        ("ab_c", "a@b.co", "123456789012", "/username"),
        ("éclair", "a@b.co", "123456789012", "/username"),
        ("abc", "not-an-email", "123456789012", "/email"),
        ("abc", "a@b.co", "12345678901", "/password"),
    ] {
        let failed = errors(ok(u, e, p).unwrap_err());
        assert!(failed.iter().all(|(at, _)| at == pointer), "{u} {e} {p}: {failed:?}");
    }
    let extra =
        json!({"username": "abc", "email": "a@b.co", "password": "123456789012", "role": "admin"});
    assert_eq!(
        errors(parse_value::<Register>(&extra).unwrap_err()),
        pairs(&[("/role", "is not allowed")])
    );
}

#[test]
fn renamed_fields_are_reported_by_their_serialized_names() {
    #[derive(Debug, Deserialize, Validate)]
    #[serde(rename_all = "camelCase")]
    struct Profile {
        #[garde(length(min = 3))]
        display_name: String,
        #[garde(dive)]
        home_address: Address,
        /// Renamed on its own: rule errors name the Rust field (documented).
        #[serde(rename = "mail")]
        #[garde(email)]
        email_address: String,
    }
    let body = json!({"displayName": "x", "homeAddress": {"city": "P", "zip": 1}, "mail": "no"});
    let pointers: Vec<String> =
        errors(parse_value::<Profile>(&body).unwrap_err()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        pointers,
        ["/displayName", "/homeAddress/city", "/homeAddress/zip", "/email_address"]
    );
    let shape = errors(parse_value::<Profile>(&json!({"display_name": "xyz"})).unwrap_err());
    assert_eq!(shape[0], ("/display_name".to_owned(), "is not allowed".to_owned()));
}

#[test]
fn rules_see_into_maps_and_options() {
    #[derive(Debug, Deserialize, Validate)]
    struct Inventory {
        #[garde(dive)]
        stock: HashMap<String, Item>,
        #[garde(dive)]
        featured: Option<Item>,
    }
    let body =
        json!({"featured": {"name": "x", "qty": 0}, "stock": {"a/b": {"name": "", "qty": 1}}});
    assert_eq!(
        errors(parse_value::<Inventory>(&body).unwrap_err()),
        pairs(&[("/featured/qty", "lower than 1"), ("/stock/a~1b/name", "length is lower than 1")])
    );
    let body = json!({"stock": {"k": {"name": 1, "qty": 1, "x": 0}}, "featured": null});
    assert_eq!(
        errors(parse_value::<Inventory>(&body).unwrap_err()),
        pairs(&[("/stock/k/name", "expected a string"), ("/stock/k/x", "is not allowed")])
    );
}

// Strictness and its opt-out

#[test]
fn unknown_keys_are_refused_at_depth_three_unless_the_type_allows_them() {
    #[derive(Debug, Deserialize, Validate)]
    struct Outer {
        #[garde(dive)]
        middle: Middle,
    }
    #[derive(Debug, Deserialize, Validate)]
    struct Middle {
        #[garde(dive)]
        inner: Inner,
        #[garde(dive)]
        open: AllowUnknownKeys<Middle2>,
    }
    #[derive(Debug, Deserialize, Validate)]
    struct Middle2 {
        #[garde(dive)]
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize, Validate)]
    struct Inner {
        #[garde(range(min = 1))]
        n: u8,
    }
    let body = json!({"middle": {"inner": {"n": 1, "deep": 1}, "open": {"extra": 1}}});
    assert_eq!(
        errors(parse_value::<Outer>(&body).unwrap_err()),
        pairs(&[("/middle/inner/deep", "is not allowed")])
    );
    // The lenient object ignores its extra keys; the struct inside it is strict again.
    let body =
        json!({"middle": {"inner": {"n": 1}, "open": {"extra": 1, "inner": {"n": 1, "x": 2}}}});
    assert_eq!(
        errors(parse_value::<Outer>(&body).unwrap_err()),
        pairs(&[("/middle/open/inner/x", "is not allowed")])
    );
    let body = json!({"middle": {"inner": {"n": 1}, "open": {"extra": 1, "inner": {"n": 0}}}});
    assert_eq!(
        errors(parse_value::<Outer>(&body).unwrap_err()),
        pairs(&[("/middle/open/inner/n", "lower than 1")])
    );
    let ok: Outer =
        parse_value(&json!({"middle": {"inner": {"n": 1}, "open": {"extra": [1]}}})).unwrap();
    assert!(ok.middle.open.inner.is_none());
    // A whole lenient body.
    let ok: AllowUnknownKeys<Inner> = parse_value(&json!({"n": 3, "more": true})).unwrap();
    assert_eq!(ok.n, 3);
}

// Kinds of values

#[test]
fn numbers_are_checked_against_their_type() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Numbers {
        small: u8,
        signed: i16,
        big: u64,
        real: f64,
        flag: bool,
        letter: char,
    }
    let body =
        r#"{"small": 256, "signed": 1.5, "big": -1, "real": "1", "flag": 0, "letter": "ab"}"#;
    assert_eq!(
        errors(parse::<Numbers>(body).unwrap_err()),
        pairs(&[
            ("/small", "expected an integer between 0 and 255"),
            ("/signed", "expected an integer between -32768 and 32767"),
            ("/big", "expected a non-negative integer"),
            ("/real", "expected a number"),
            ("/flag", "expected a boolean"),
            ("/letter", "expected a single character"),
        ])
    );
    let ok: Numbers =
        parse_value(&json!({"small": 255, "signed": -32768, "big": 18446744073709551615u64, "real": 2, "flag": true, "letter": "é"}))
            .unwrap();
    assert_eq!((ok.small, ok.signed, ok.real, ok.letter), (255, -32768, 2.0, 'é'));
}

#[test]
fn tuples_and_fixed_arrays_have_a_length() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Shapes {
        point: (i32, i32),
        rgb: [u8; 3],
    }
    let body = json!({"point": [1], "rgb": [1, 2, "x", 4]});
    assert_eq!(
        errors(parse_value::<Shapes>(&body).unwrap_err()),
        pairs(&[
            ("/point", "expected an array of 2 elements"),
            ("/rgb", "expected an array of 3 elements"),
            ("/rgb/2", "expected an integer between 0 and 255"),
        ])
    );
}

#[test]
fn enums_name_their_variants_never_their_types() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Payment {
        method: Method,
        status: Status,
        then: u8,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Method {
        Card { last4: String },
        BankTransfer(String),
        Cash,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Paid,
        Open,
    }
    let body = r#"{"method": {"card": {"last4": 1234, "cvv": 1}}, "status": "PAID", "then": "x"}"#;
    assert_eq!(
        errors(parse::<Payment>(body).unwrap_err()),
        pairs(&[
            ("/method/card/last4", "expected a string"),
            ("/method/card/cvv", "is not allowed"),
            ("/status", "must be one of: \"paid\", \"open\""),
            ("/then", "expected an integer between 0 and 255"),
        ])
    );
    let body = json!({"method": "bank_transfer", "status": ["open"], "then": 1});
    assert_eq!(
        errors(parse_value::<Payment>(&body).unwrap_err()),
        pairs(&[
            ("/method", "expected an object with the key \"bank_transfer\""),
            ("/status", "must be one of: \"paid\", \"open\""),
        ])
    );
    let ok: Payment = parse_value(&json!({"method": "cash", "status": "open", "then": 1})).unwrap();
    assert!(matches!((ok.method, ok.status), (Method::Cash, Status::Open)));
}

#[test]
fn values_a_type_refuses_after_reading_are_reported_and_the_search_goes_on() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Ticket {
        seat: NonZeroU32,
        row: NonZeroU32,
        code: Code,
        after: Vec<u8>,
        last: String,
    }
    /// A string-parsed type whose own error message must not reach the client.
    #[derive(Debug, Deserialize)]
    #[serde(try_from = "String")]
    struct Code(String);
    impl TryFrom<String> for Code {
        type Error = String;
        fn try_from(s: String) -> Result<Self, String> {
            if s.len() == 36 {
                Ok(Code(s))
            } else {
                Err(format!("Code::try_from: bad length {}", s.len()))
            }
        }
    }
    // `seat` is zero (refused by NonZeroU32), `row` is a string (and the stand-in 0 is refused
    // too), `code` is missing (and the stand-in "" is refused); errors after them still count.
    let body = r#"{"seat": 0, "row": "1", "after": [1, "x"], "last": 5}"#;
    assert_eq!(
        errors(parse::<Ticket>(body).unwrap_err()),
        pairs(&[
            ("/seat", "has an invalid value"),
            ("/row", "expected an integer between 0 and 4294967295"),
            ("/after/1", "expected an integer between 0 and 255"),
            ("/last", "expected a string"),
            ("/code", "is required"),
        ])
    );
    let body = json!({"seat": 1, "row": 1, "code": "short", "after": [], "last": ""});
    assert_eq!(
        errors(parse_value::<Ticket>(&body).unwrap_err()),
        pairs(&[("/code", "is invalid")])
    );
}

#[test]
fn optional_and_defaulted_fields_may_be_left_out_but_not_mistyped() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Settings {
        theme: Option<String>,
        #[serde(default)]
        size: u8,
        tags: BTreeMap<String, u8>,
        anything: serde_json::Value,
    }
    let ok: Settings =
        parse_value(&json!({"theme": null, "tags": {}, "anything": [1, {"a": null}]})).unwrap();
    assert_eq!((ok.theme, ok.size), (None, 0));
    let body = r#"{"theme": 1, "size": null, "tags": {"a": "1", "b": 2}}"#;
    assert_eq!(
        errors(parse::<Settings>(body).unwrap_err()),
        pairs(&[
            ("/theme", "expected a string"),
            ("/size", "expected an integer between 0 and 255"),
            ("/tags/a", "expected an integer between 0 and 255"),
            ("/anything", "is required"),
        ])
    );
}

#[test]
fn untagged_enums_and_flatten_fail_as_a_whole_without_leaking_serde_messages() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Wrapper {
        either: Either,
        #[serde(flatten)]
        rest: Rest,
        after: bool,
    }
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u8),
        Text(String),
    }
    #[derive(Debug, Deserialize)]
    struct Rest {
        extra: u8,
    }
    let body = json!({"either": [1], "extra": 1, "after": true});
    assert_eq!(
        errors(parse_value::<Wrapper>(&body).unwrap_err()),
        pairs(&[("/either", "is invalid")])
    );
    let body = json!({"either": 1, "extra": "x", "after": true});
    assert_eq!(
        errors(parse_value::<Wrapper>(&body).unwrap_err()),
        pairs(&[("", "has the wrong type")])
    );
    let body = json!({"either": "x", "after": true});
    assert_eq!(
        errors(parse_value::<Wrapper>(&body).unwrap_err()),
        pairs(&[("/extra", "is required")])
    );
    let ok: Wrapper = parse_value(&json!({"either": "x", "extra": 1, "after": true})).unwrap();
    assert!(matches!(ok.either, Either::Text(_)));
}

#[test]
fn a_context_is_handed_to_the_rules() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(context(Policy))]
    struct Limited {
        #[garde(custom(at_most_policy))]
        n: u32,
    }
    struct Policy {
        max: u32,
    }
    fn at_most_policy(n: &u32, policy: &Policy) -> garde::Result {
        if *n > policy.max {
            Err(garde::Error::new("is above the policy's maximum"))
        } else {
            Ok(())
        }
    }
    let read = |n: u32| {
        let mut body = JsonBody::start(&JsonLimits::default(), JSON, None).unwrap();
        body.push(json!({"n": n}).to_string().as_bytes()).unwrap();
        body
    };
    let policy = Policy { max: 5 };
    assert_eq!(read(5).finish_with_route_context::<Limited>(Some(&policy)).unwrap().n, 5);
    assert_eq!(
        errors(read(6).finish_with_route_context::<Limited>(Some(&policy)).unwrap_err()),
        pairs(&[("/n", "is above the policy's maximum")])
    );
    let missing = read(1).finish_with_route_context::<Limited>(None).unwrap_err();
    assert_eq!(missing, JsonRejection::MissingContext);
    assert_eq!(missing.to_problem().status, StatusCode::INTERNAL_SERVER_ERROR);
    // A type without a context needs none configured.
    let mut body = JsonBody::start(&JsonLimits::default(), JSON, None).unwrap();
    body.push(order().to_string().as_bytes()).unwrap();
    assert!(body.finish_with_route_context::<Order>(None).is_ok());
}

#[test]
fn messages_never_name_rust_types() {
    let body = json!({
        "id": {"x": 1}, "customer": [], "items": {"a": 1}, "note": [null], "gift": "yes", "z": 1
    });
    for (_, detail) in errors(parse_value::<Order>(&body).unwrap_err()) {
        for leak in ["Order", "Customer", "Item", "struct", "::", "Vec", "String", "`"] {
            assert!(!detail.contains(leak), "{detail} names {leak}");
        }
    }
}

#[test]
fn the_deepest_nesting_allowed_fits_a_small_stack() {
    #[derive(Debug, Deserialize, Validate)]
    #[garde(allow_unvalidated)]
    struct Tree {
        c: Vec<Tree>,
    }
    let limits = JsonLimits::new(1 << 16, JsonLimits::MAX_DEPTH_CEILING).unwrap();
    // 100 levels: 50 objects, each holding an array; the last one also a wrong item.
    let fine = format!("{}{{\"c\":[]}}{}", r#"{"c":["#.repeat(49), "]}".repeat(49));
    let wrong = format!("{}{{\"c\":[1]}}{}", r#"{"c":["#.repeat(49), "]}".repeat(49));
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let fine = parse_json::<Tree>(&limits, JSON, fine.as_bytes()).map(|_| ());
            let wrong = parse_json::<Tree>(&limits, JSON, wrong.as_bytes()).map(|_| ());
            (fine, wrong)
        })
        .unwrap();
    let (fine, wrong) = worker.join().unwrap();
    fine.unwrap();
    let deepest = format!("{}/c/0", "/c/0".repeat(49));
    assert_eq!(errors(wrong.unwrap_err()), vec![(deepest, "expected an object".to_owned())]);
}

#[test]
fn a_field_missing_from_every_item_is_reported_for_every_item() {
    let items = vec![r#"{"qty": 1}"#; 300].join(",");
    let body = format!(
        r#"{{"id": "o", "customer": {{"name": "A", "address": {{"city": "P", "zip": 1000}}}}, "items": [{items}]}}"#
    );
    let found = errors(parse::<Order>(&body).unwrap_err());
    // Every item's missing name, and the city that breaks its rule.
    assert_eq!(found.len(), 301);
    assert_eq!(
        found[0],
        ("/customer/address/city".to_owned(), "length is lower than 2".to_owned())
    );
    assert_eq!(found[300], ("/items/299/name".to_owned(), "is required".to_owned()));
}

/// Any JSON value, of bounded size.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        prop_oneof![
            "[a-z]{0,6}",
            Just("id".to_owned()),
            Just("qty".to_owned()),
            Just("name".to_owned())
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        let key = prop_oneof![
            Just("id"),
            Just("customer"),
            Just("items"),
            Just("name"),
            Just("qty"),
            Just("address"),
            Just("city"),
            Just("zip"),
            Just("note"),
            Just("gift"),
            Just("x~/"),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every kind of value a schema may hold.
#[derive(Debug, Deserialize, Validate)]
#[garde(allow_unvalidated)]
struct Anything {
    id: Option<u64>,
    name: Option<Vec<(String, bool)>>,
    items: Option<HashMap<String, serde_json::Value>>,
    #[serde(default)]
    customer: Option<AllowUnknownKeys<Customer>>,
    qty: Option<Box<[f32; 2]>>,
}

fn never_a_server_error(body: &[u8]) -> Result<(), TestCaseError> {
    let limits = JsonLimits::new(4096, 8).unwrap();
    for result in [
        parse_json::<Order>(&limits, JSON, body).map(|_| ()),
        parse_json::<Register>(&limits, JSON, body).map(|_| ()),
        parse_json::<Anything>(&limits, JSON, body).map(|_| ()),
    ] {
        if let Err(rejection) = result {
            let problem = rejection.to_problem();
            prop_assert!(problem.status.is_client_error(), "{rejection:?}");
            for e in rejection.field_errors() {
                prop_assert!(e.pointer.is_empty() || e.pointer.starts_with('/'));
            }
        }
    }
    Ok(())
}

/// Replaces the value found by following `path` (an index into each object's values or
/// array's items, wrapped around) with `replacement`.
fn replace_at(value: &mut serde_json::Value, path: &[usize], replacement: serde_json::Value) {
    let Some((step, rest)) = path.split_first() else {
        *value = replacement;
        return;
    };
    let next = match value {
        serde_json::Value::Object(map) => {
            let len = map.len().max(1);
            map.values_mut().nth(step % len)
        }
        serde_json::Value::Array(items) => {
            let len = items.len().max(1);
            items.get_mut(step % len)
        }
        _ => None,
    };
    match next {
        Some(next) => replace_at(next, rest, replacement),
        None => *value = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Whatever the bytes, the answer is a value or a 4xx, never a panic or a 5xx.
    #[test]
    fn arbitrary_bytes_never_give_a_server_error(body in prop::collection::vec(any::<u8>(), 0..256)) {
        never_a_server_error(&body)?;
    }

    /// Whatever the JSON, likewise; and a refused well-formed body is a 422 with errors.
    #[test]
    fn arbitrary_json_never_gives_a_server_error(value in any_json()) {
        let body = value.to_string();
        never_a_server_error(body.as_bytes())?;
        let limits = JsonLimits::new(4096, 8).unwrap();
        if let Err(JsonRejection::Invalid { errors }) = parse_json::<Order>(&limits, JSON, body.as_bytes()) {
            prop_assert!(!errors.is_empty());
        }
    }

    /// A valid order with keys mangled and values swapped stays a 4xx with pointers inside it.
    #[test]
    fn mutated_orders_are_client_errors(path in prop::collection::vec(0usize..6, 1..4), replacement in any_json()) {
        let mut value = order();
        replace_at(&mut value, &path, replacement);
        never_a_server_error(value.to_string().as_bytes())?;
    }
}
