//! Each kind of value: numbers, tuples, enums, optional fields, types that refuse a value
//! after reading it, and what goes through serde's own buffering.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use garde::Validate;
use serde::Deserialize;
use serde_json::json;

use super::{errors, pairs, parse, parse_value};

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
