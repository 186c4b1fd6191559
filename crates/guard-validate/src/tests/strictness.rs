//! Unknown keys are refused at every depth, and `AllowUnknownKeys` opts one struct out.

use garde::Validate;
use serde::Deserialize;
use serde_json::json;

use super::{errors, pairs, parse_value};
use crate::AllowUnknownKeys;

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
