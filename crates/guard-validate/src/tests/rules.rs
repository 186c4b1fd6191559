//! 422 for the rules: garde's failures, with serialized names in their pointers, and the
//! context a route hands to them.

use std::collections::HashMap;

use garde::Validate;
use guard_core::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{Address, Item, JSON, Order, Register, errors, order, pairs, parse, parse_value};
use crate::{JsonBody, JsonLimits, JsonRejection};

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
