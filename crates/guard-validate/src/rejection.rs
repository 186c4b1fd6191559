//! Why a body was refused, and the RFC 9457 problem each refusal becomes.

use std::collections::HashSet;

use guard_core::{Problem, ProblemType};
use serde::{Deserialize, Serialize};

/// One failing field of a well-formed body: where it is and what is wrong with it.
///
/// `pointer` is an RFC 6901 JSON Pointer into the request body (`""` is the whole body,
/// `/items/0/name` the `name` of the first item; `~` and `/` in keys are written `~0` and `~1`).
/// `detail` is safe to show to the client: it never names a Rust type or a serde internal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    /// Where in the body, as a JSON Pointer.
    pub pointer: String,
    /// What is wrong there ("expected a string", "is required", "is not allowed", ...).
    pub detail: String,
}

impl FieldError {
    /// An error at `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

/// Why a JSON body was refused. Each kind becomes a problem with its own stable `type` URI
/// ([`JsonRejection::to_problem`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonRejection {
    /// 415: the `Content-Type` is missing or is not `application/json` / `application/*+json`.
    #[error("the body must be sent as application/json")]
    UnsupportedMediaType,
    /// 413: the body (announced by `Content-Length` or counted while streaming) is larger than
    /// the limit.
    #[error("the body is larger than {max_bytes} bytes")]
    TooLarge {
        /// The limit that was passed.
        max_bytes: usize,
    },
    /// 408: the body did not arrive within [`JsonLimits::read_timeout`](crate::JsonLimits::read_timeout)
    /// (a client sending it too slowly); the connection should be closed.
    #[error("the body did not arrive within {} ms", after.as_millis())]
    Timeout {
        /// The timeout that ran out.
        after: std::time::Duration,
    },
    /// 400: the body could not be read to its end (the client broke off, or the transport
    /// failed).
    #[error("the body could not be read")]
    Unreadable,
    /// 400: the body is not well-formed JSON, is not UTF-8, repeats a key or nests too deep.
    #[error("{detail} at line {line} column {column}")]
    Malformed {
        /// What is wrong, without the position.
        detail: String,
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error in bytes, from 1 (0 when the body ended before it).
        column: usize,
    },
    /// 422: the body is well-formed JSON but has the wrong shape (wrong types, missing or
    /// unknown keys) or breaks the type's validation rules. Lists every failing field (a field
    /// may fail more than one rule); `detail` counts the fields.
    #[error("the body has {} error(s)", errors.len())]
    Invalid {
        /// Every failing field, in the order of the body.
        errors: Vec<FieldError>,
    },
    /// 500: the type's validation context was not configured on this route; a server fault.
    #[error("the validation context of this route is not configured")]
    MissingContext,
}

impl JsonRejection {
    /// The problem kind (and so the status) of this rejection.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            Self::UnsupportedMediaType => ProblemType::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge { .. } => ProblemType::PAYLOAD_TOO_LARGE,
            Self::Timeout { .. } => ProblemType::REQUEST_TIMEOUT,
            Self::Unreadable | Self::Malformed { .. } => ProblemType::MALFORMED_BODY,
            Self::Invalid { .. } => ProblemType::VALIDATION_FAILED,
            Self::MissingContext => ProblemType::INTERNAL,
        }
    }

    /// A short, fixed reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType => "unsupported media type",
            Self::TooLarge { .. } => "body too large",
            Self::Timeout { .. } => "body too slow",
            Self::Unreadable => "body unreadable",
            Self::Malformed { .. } => "malformed json",
            Self::Invalid { .. } => "invalid fields",
            Self::MissingContext => "missing rules context",
        }
    }

    /// Logs the refusal once and counts it (see `guard_core::observe`): what the adapters call
    /// when they answer with this rejection.
    pub fn report(&self) {
        let status = self.problem_type().status;
        guard_core::observe::refused("validate", "json-body", self.reason(), status);
    }

    /// The RFC 9457 problem: `detail` says what went wrong, plus the members `max_bytes` (413),
    /// `line` and `column` (400), or `errors: [{"pointer", "detail"}]` (422).
    pub fn to_problem(&self) -> Problem {
        let problem = Problem::new(self.problem_type());
        match self {
            Self::UnsupportedMediaType => {
                problem.with_detail("The body must be sent with Content-Type: application/json.")
            }
            Self::TooLarge { max_bytes } => problem
                .with_detail(format!("The body is larger than the limit of {max_bytes} bytes."))
                .with_extension("max_bytes", *max_bytes),
            Self::Timeout { after } => problem
                .with_detail(format!(
                    "The body did not arrive within {} seconds.",
                    after.as_secs_f64()
                ))
                .with_header(
                    guard_core::http::header::CONNECTION,
                    guard_core::http::HeaderValue::from_static("close"),
                ),
            Self::Unreadable => problem.with_detail("The body could not be read to its end."),
            Self::Malformed { detail, line, column } => problem
                .with_detail(format!("The body is not valid JSON: {detail}."))
                .with_extension("line", *line)
                .with_extension("column", *column),
            Self::Invalid { errors } => {
                let count = errors.iter().map(|e| &e.pointer).collect::<HashSet<_>>().len();
                let detail = if count == 1 {
                    "1 field of the body is invalid.".to_owned()
                } else {
                    format!("{count} fields of the body are invalid.")
                };
                let errors = errors
                    .iter()
                    .map(|e| serde_json::json!({"pointer": e.pointer, "detail": e.detail}))
                    .collect::<Vec<_>>();
                problem.with_detail(detail).with_extension("errors", errors)
            }
            // A server fault: say nothing about the configuration to the client.
            Self::MissingContext => problem,
        }
    }

    /// The field errors of a 422, empty for the other kinds.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid { errors } => errors,
            _ => &[],
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        rejection.to_problem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::http::StatusCode;

    #[test]
    fn each_kind_has_its_status_and_members() {
        let p = JsonRejection::TooLarge { max_bytes: 10 }.to_problem();
        assert_eq!(p.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(p.extensions["max_bytes"], 10);
        let p =
            JsonRejection::Malformed { detail: "trailing characters".into(), line: 2, column: 3 }
                .to_problem();
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            (p.extensions["line"].as_u64(), p.extensions["column"].as_u64()),
            (Some(2), Some(3))
        );
        let p = JsonRejection::Invalid { errors: vec![FieldError::new("/a~1b", "is required")] }
            .to_problem();
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            p.extensions["errors"],
            serde_json::json!([{"pointer": "/a~1b", "detail": "is required"}])
        );
        assert_eq!(
            JsonRejection::UnsupportedMediaType.to_problem().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let p = JsonRejection::Timeout { after: std::time::Duration::from_secs(10) }.to_problem();
        assert_eq!(p.status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(p.type_uri, "tag:guard.rs,2026:problem:request-timeout");
        assert_eq!(p.headers["connection"], "close");
        let p = JsonRejection::MissingContext.to_problem();
        assert_eq!((p.status, p.detail), (StatusCode::INTERNAL_SERVER_ERROR, None));
    }
}
