//! Before parsing: the media type (415) and the size, announced or counted (413).

use garde::Validate;
use guard_core::ProblemType;
use guard_core::http::StatusCode;
use serde::Deserialize;

use super::{JSON, Order, order};
use crate::{FieldError, JsonBody, JsonLimits, JsonRejection, parse_json};

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
