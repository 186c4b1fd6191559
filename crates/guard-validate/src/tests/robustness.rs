//! The search under stress: the deepest nesting, a body full of errors, and arbitrary bytes
//! and JSON, which never give a server error.

use std::collections::HashMap;

use garde::Validate;
use proptest::prelude::*;
use serde::Deserialize;

use super::{Customer, JSON, Order, Register, errors, order, parse};
use crate::{AllowUnknownKeys, JsonLimits, JsonRejection, parse_json};

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
