//! 422 for the shape: wrong types, missing and unknown keys, every one with its pointer.

use guard_core::ProblemType;
use guard_core::http::StatusCode;
use serde_json::json;

use super::{Order, Register, errors, order, pairs, parse, parse_value};

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
