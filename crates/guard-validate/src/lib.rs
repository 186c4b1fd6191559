//! Strict JSON request bodies, validated with [`garde`], refused as RFC 9457 problems.
//!
//! A body is checked in a fixed order, and each failure has its own status and problem `type`
//! ([`guard_core::ProblemType`]):
//!
//! | check | refusal |
//! | --- | --- |
//! | `Content-Type` is `application/json` or `application/*+json` (parameters allowed; missing is refused) | 415 `unsupported-media-type` |
//! | size within [`JsonLimits::max_bytes`] (16 KiB by default): `Content-Length` first, then counted while streaming | 413 `payload-too-large` |
//! | well-formed UTF-8 JSON, no key repeated in an object (at any depth), nested at most [`JsonLimits::max_depth`] (32) levels | 400 `malformed-body`, with `line` and `column` |
//! | the shape of the type: right types, required fields present, no undeclared keys (at every depth), an object where a struct is expected (never an array) | 422 `validation-failed` |
//! | the type's garde rules | 422 `validation-failed` |
//!
//! A 422 lists every failing field at once, not only the first one serde meets, each with an
//! RFC 6901 JSON Pointer into the body and a message safe to show to the client:
//!
//! ```json
//! {
//!   "type": "tag:guard.rs,2026:problem:validation-failed",
//!   "title": "Validation failed",
//!   "status": 422,
//!   "detail": "3 fields of the body are invalid.",
//!   "errors": [
//!     {"pointer": "/items/0/qty", "detail": "expected an integer"},
//!     {"pointer": "/items/1/colour", "detail": "is not allowed"},
//!     {"pointer": "/address", "detail": "is required"}
//!   ]
//! }
//! ```
//!
//! Shape errors and rule failures are reported together, in body order: the rules run on the value
//! as far as it could be built, and a field that has a shape error (so holds a placeholder) is not
//! blamed again for breaking its rules.
//!
//! The framework extractors, `guard_actix::ValidJson<T>` and `guard_tower::ValidJson<T>`
//! (feature `validate` of each adapter), read the body under the route's [`JsonLimits`] and hand
//! it to this crate; [`parse_json`] and [`JsonBody`] do the same without a framework.
//!
//! # Example: the registration body
//!
//! ```
//! use guard_core::ProblemType;
//! use guard_validate::{JsonLimits, parse_json};
//!
//! /// `POST /v1/auth/register`.
//! #[derive(Debug, serde::Deserialize, garde::Validate)]
//! pub struct Register {
//!     /// 3 to 20 ASCII letters or digits.
//!     #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
//!     pub username: String,
//!     #[garde(email)]
//!     pub email: String,
//!     /// At least 12 characters (not bytes).
//!     #[garde(length(chars, min = 12))]
//!     pub password: String,
//! }
//!
//! let limits = JsonLimits::default();
//! let json = Some(&b"application/json"[..]);
//!
//! let ok: Register = parse_json(&limits, json,
//!     br#"{"username": "ada", "email": "ada@example.com", "password": "correct horse battery"}"#,
//! ).unwrap();
//! assert_eq!(ok.username, "ada");
//!
//! // Every shape error at once: a wrong type, a missing field, an unknown key.
//! let err = parse_json::<Register>(&limits, json,
//!     br#"{"username": 7, "email": "ada@example.com", "admin": true}"#,
//! ).unwrap_err();
//! let problem = err.to_problem();
//! assert_eq!(problem.type_uri, ProblemType::VALIDATION_FAILED.uri);
//! assert_eq!(problem.extensions["errors"], serde_json::json!([
//!     {"pointer": "/username", "detail": "expected a string"},
//!     {"pointer": "/admin", "detail": "is not allowed"},
//!     {"pointer": "/password", "detail": "is required"},
//! ]));
//!
//! // Well-shaped but breaking the rules: every rule failure at once.
//! let err = parse_json::<Register>(&limits, json,
//!     br#"{"username": "a!", "email": "nope", "password": "short"}"#,
//! ).unwrap_err();
//! let pointers: Vec<_> = err.field_errors().iter().map(|e| e.pointer.as_str()).collect();
//! assert_eq!(pointers, ["/username", "/username", "/email", "/password"]);
//! ```
//!
//! # What the checks rely on, and their limits
//!
//! - Unknown keys are refused at every depth; wrap a struct type in [`AllowUnknownKeys`] to let
//!   its own object carry keys it does not declare (they are ignored).
//! - A missing field is required unless serde would fill it: `Option<_>` fields and fields with
//!   `#[serde(default)]` may be left out.
//! - Field names in pointers are the serialized ones. For shape errors this is always so; for
//!   rule errors garde reports Rust field names, which are turned into the serialized ones when
//!   serde renamed them with `#[serde(rename_all = "...")]`. A field renamed on its own with
//!   `#[serde(rename = "x")]` keeps its Rust name in rule errors (garde 0.23 does not apply its
//!   own `rename`): name such a field as the client does, or rename the whole struct.
//! - Messages never come from a type: what serde or a custom `Deserialize` impl would say (and
//!   may name Rust types) is replaced by a neutral message such as "is invalid"; put rules
//!   meant for clients in garde.
//! - Enums are checked as a whole: an unknown variant is one error (`must be one of: "a",
//!   "b"`). Internally tagged and untagged enums and `#[serde(flatten)]` go through serde's own
//!   buffering, which does not refuse unknown keys inside them (unless the type says
//!   `#[serde(deny_unknown_fields)]`) and reports one error for the whole value.
//! - serde stops at the first missing field or refused value; the search goes on past each in a
//!   new pass (at most 64, over a body already bounded by the size limit), so even a body full
//!   of errors costs a few cheap passes.

mod body;
mod lenient;
mod limits;
mod media;
mod pointer;
mod rejection;
mod shape;
mod tree;
mod wrapper;

pub use body::{JsonBody, parse_json, parse_json_with};
pub use lenient::AllowUnknownKeys;
pub use limits::{JsonLimits, JsonLimitsError};
pub use media::is_json_content_type;
pub use rejection::{FieldError, JsonRejection};

/// Re-exported so that schemas and the adapters name the same garde.
pub use garde;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test here
mod tests;
