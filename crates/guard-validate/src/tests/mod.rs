//! The whole pipeline, one status and error kind at a time: the schemas and helpers every
//! theme shares, and one file per theme.

// The test schemas are deserialized and compared, not all of their fields read.
#![allow(dead_code)]

mod kinds;
mod malformed;
mod media_and_size;
mod robustness;
mod rules;
mod shape;
mod strictness;

use garde::Validate;
use serde_json::json;

use crate::{AllowUnknownKeys, JsonLimits, JsonRejection, parse_json};

const JSON: Option<&[u8]> = Some(b"application/json");

// `Register`, `Order` (`Customer`, `Address`, `Item`, `Meta`): shared with the adapters' tests.
include!("schemas.rs");

/// A valid [`Order`].
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
