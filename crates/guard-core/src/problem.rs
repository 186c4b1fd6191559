//! RFC 9457 problem details: the one error format of every guard, extractor and example server.
//!
//! Each kind of problem has a stable `type` URI ([`ProblemType`]), so clients can branch on it
//! rather than on the human-readable `title` or `detail`.
//!
//! ```
//! use guard_core::{Problem, ProblemType};
//! use http::StatusCode;
//!
//! let res = Problem::new(ProblemType::VALIDATION_FAILED)
//!     .with_detail("2 fields are invalid")
//!     .with_extension("errors", serde_json::json!([{"pointer": "/age", "detail": "must be positive"}]))
//!     .to_response();
//! assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
//! assert_eq!(body["type"], "tag:guard.rs,2026:problem:validation-failed");
//! assert_eq!(body["errors"][0]["pointer"], "/age");
//! ```

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::response::GuardResponse;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A kind of problem: its stable `type` URI, a short title and its HTTP status.
///
/// Kinds without meaning beyond their status use `about:blank` (RFC 9457 §4.2.1), with the
/// status's reason phrase as title. Guard crates define their own kinds in the same namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The `type` member: a URI that identifies the kind and never changes.
    pub uri: &'static str,
    /// The `title` member: a short, human-readable summary that does not vary by occurrence.
    pub title: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
}

macro_rules! problem_types {
    ($($(#[$doc:meta])* $name:ident = ($uri:expr, $title:expr, $status:ident);)*) => {
        impl ProblemType {
            $($(#[$doc])* pub const $name: ProblemType =
                ProblemType { uri: $uri, title: $title, status: StatusCode::$status };)*
        }
    };
}

problem_types! {
    /// 400: the request could not be understood (malformed syntax).
    BAD_REQUEST = ("about:blank", "Bad Request", BAD_REQUEST);
    /// 400: the body is not well-formed JSON (or breaks the parser's limits).
    MALFORMED_BODY = ("tag:guard.rs,2026:problem:malformed-body", "Malformed request body", BAD_REQUEST);
    /// 401: credentials are missing or were refused.
    UNAUTHORIZED = ("tag:guard.rs,2026:problem:unauthorized", "Unauthorized", UNAUTHORIZED);
    /// 401: a bearer token came and was refused.
    INVALID_TOKEN = ("tag:guard.rs,2026:problem:invalid-token", "Invalid token", UNAUTHORIZED);
    /// 403: the credentials do not allow this request.
    FORBIDDEN = ("tag:guard.rs,2026:problem:forbidden", "Forbidden", FORBIDDEN);
    /// 403: a cross-origin request that the CORS policy does not allow.
    CORS_REJECTED = ("tag:guard.rs,2026:problem:cors-rejected", "Cross-origin request not allowed", FORBIDDEN);
    /// 404: no such resource.
    NOT_FOUND = ("about:blank", "Not Found", NOT_FOUND);
    /// 405: the resource exists but not with this method.
    METHOD_NOT_ALLOWED = ("about:blank", "Method Not Allowed", METHOD_NOT_ALLOWED);
    /// 408: the request (its body) did not arrive within the time allowed.
    REQUEST_TIMEOUT = ("tag:guard.rs,2026:problem:request-timeout", "Request timeout", REQUEST_TIMEOUT);
    /// 409: the request conflicts with the current state (a username taken).
    CONFLICT = ("tag:guard.rs,2026:problem:conflict", "Conflict", CONFLICT);
    /// 413: the body is larger than allowed.
    PAYLOAD_TOO_LARGE = ("tag:guard.rs,2026:problem:payload-too-large", "Request body too large", PAYLOAD_TOO_LARGE);
    /// 415: the body is not of a media type this endpoint accepts.
    UNSUPPORTED_MEDIA_TYPE = ("tag:guard.rs,2026:problem:unsupported-media-type", "Unsupported media type", UNSUPPORTED_MEDIA_TYPE);
    /// 422: the body is well-formed but fails the schema or the rules.
    VALIDATION_FAILED = ("tag:guard.rs,2026:problem:validation-failed", "Validation failed", UNPROCESSABLE_ENTITY);
    /// 429: a rate limit is exhausted.
    RATE_LIMITED = ("tag:guard.rs,2026:problem:rate-limited", "Too many requests", TOO_MANY_REQUESTS);
    /// 500: a fault of the server, never of the client.
    INTERNAL = ("about:blank", "Internal Server Error", INTERNAL_SERVER_ERROR);
    /// 503: a store the request needs is down and the policy says fail closed.
    STORE_UNAVAILABLE = ("tag:guard.rs,2026:problem:store-unavailable", "Service temporarily unavailable", SERVICE_UNAVAILABLE);
}

impl ProblemType {
    /// The plain `about:blank` kind for any status, titled with its reason phrase.
    pub fn from_status(status: StatusCode) -> Self {
        Self { uri: "about:blank", title: status.canonical_reason().unwrap_or("Error"), status }
    }
}

/// One occurrence of a problem: an RFC 9457 body plus the headers that go with it
/// (`WWW-Authenticate`, `Retry-After`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Problem {
    /// The kind's `type` URI.
    #[serde(rename = "type")]
    pub type_uri: Cow<'static, str>,
    /// The kind's title.
    pub title: Cow<'static, str>,
    /// The HTTP status, repeated in the body as RFC 9457 advises.
    #[serde(with = "status_code")]
    pub status: StatusCode,
    /// What went wrong in this occurrence, safe to show to the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A URI reference for this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members (`errors`, ...), serialized next to the standard ones.
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    /// Headers sent with the problem; not part of the body.
    #[serde(skip)]
    pub headers: HeaderMap,
}

impl Problem {
    /// A problem of `kind`.
    pub fn new(kind: ProblemType) -> Self {
        Self {
            type_uri: Cow::Borrowed(kind.uri),
            title: Cow::Borrowed(kind.title),
            status: kind.status,
            detail: None,
            instance: None,
            extensions: Map::new(),
            headers: HeaderMap::new(),
        }
    }

    /// The plain problem for `status` (`about:blank`).
    pub fn from_status(status: StatusCode) -> Self {
        Self::new(ProblemType::from_status(status))
    }

    /// Sets `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `instance`.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member. The standard members' names are refused silently in favour of
    /// the standard values, so an extension can never change `status` or `type`.
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if !matches!(name.as_str(), "type" | "title" | "status" | "detail" | "instance") {
            self.extensions.insert(name, value.into());
        }
        self
    }

    /// Adds a header sent with the problem.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// 404 for a route that does not exist: what a router's fallback answers, so that unknown
    /// routes get problem+json like everything else.
    pub fn not_found() -> Self {
        Self::new(ProblemType::NOT_FOUND).with_detail("there is no such resource")
    }

    /// 405 for a route that exists but not with the request's method (the framework or the
    /// caller adds `Allow`).
    pub fn method_not_allowed() -> Self {
        Self::new(ProblemType::METHOD_NOT_ALLOWED)
            .with_detail("this resource does not serve that method")
    }

    /// 500 for a handler that asked for data of type `type_name` that no guard left: the guard
    /// that should leave it is not installed on this route, a server misconfiguration. Logged
    /// as an error naming the type (the client sees no detail). What both adapters' `GuardData`
    /// extractors answer.
    pub fn missing_guard_data(type_name: &str) -> Self {
        tracing::error!(
            data = type_name,
            "a handler asked for data no guard left: install the guard that leaves it on this route"
        );
        Self::new(ProblemType::INTERNAL)
    }

    /// 503 for a store the request needs that is down (the policy said fail closed), with
    /// `Retry-After` in whole seconds, at least 1.
    pub fn store_unavailable(retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self::new(ProblemType::STORE_UNAVAILABLE)
            .with_detail("a store this request needs is unavailable; retry later")
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1)))
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        // Serializing strings, a status and a JSON map cannot fail; keep a valid body regardless.
        serde_json::to_vec(self).unwrap_or_else(|_| {
            format!(r#"{{"type":"about:blank","status":{}}}"#, self.status.as_u16()).into_bytes()
        })
    }

    /// The complete `application/problem+json` response.
    pub fn to_response(&self) -> GuardResponse {
        let mut res = GuardResponse::new(self.status).with_body(self.body());
        let headers = res.headers_mut();
        headers.extend(self.headers.clone());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        res
    }
}

impl From<ProblemType> for Problem {
    fn from(kind: ProblemType) -> Self {
        Self::new(kind)
    }
}

impl From<Problem> for GuardResponse {
    fn from(problem: Problem) -> Self {
        problem.to_response()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

mod status_code {
    use http::StatusCode;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(status.as_u16())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StatusCode, D::Error> {
        StatusCode::from_u16(u16::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_blank_problems_use_the_reason_phrase() {
        let body: Value =
            serde_json::from_slice(&Problem::from_status(StatusCode::NOT_FOUND).body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "about:blank", "title": "Not Found", "status": 404})
        );
    }

    #[test]
    fn extensions_cannot_override_standard_members() {
        let p = Problem::new(ProblemType::RATE_LIMITED)
            .with_extension("status", 200)
            .with_extension("policy", "burst");
        let body: Value = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(body["status"], 429);
        assert_eq!(body["policy"], "burst");
    }

    #[test]
    fn headers_travel_with_the_response_but_not_the_body() {
        let res = Problem::new(ProblemType::INVALID_TOKEN)
            .with_header(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="api""#),
            )
            .to_response();
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(!String::from_utf8_lossy(res.body()).contains("realm"));
    }

    #[test]
    fn store_unavailable_rounds_retry_after_up() {
        let res = Problem::store_unavailable(std::time::Duration::from_millis(1500)).to_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
        let res = Problem::store_unavailable(std::time::Duration::ZERO).to_response();
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_problem_round_trips_through_json() {
        let p = Problem::new(ProblemType::CONFLICT)
            .with_detail("username taken")
            .with_instance("/v1/x");
        let back: Problem = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(back, p);
    }

    /// The `type` URIs, titles and statuses are a public contract (clients match on them): each
    /// is written out here, so that a change to one fails this test instead of passing silently.
    #[test]
    fn every_kind_keeps_its_published_uri_title_and_status() {
        // One line a kind, as `problem_types!` defines them.
        #[rustfmt::skip]
        let published = [
            (ProblemType::BAD_REQUEST, "about:blank", "Bad Request", 400),
            (ProblemType::MALFORMED_BODY, "tag:guard.rs,2026:problem:malformed-body", "Malformed request body", 400),
            (ProblemType::UNAUTHORIZED, "tag:guard.rs,2026:problem:unauthorized", "Unauthorized", 401),
            (ProblemType::INVALID_TOKEN, "tag:guard.rs,2026:problem:invalid-token", "Invalid token", 401),
            (ProblemType::FORBIDDEN, "tag:guard.rs,2026:problem:forbidden", "Forbidden", 403),
            (ProblemType::CORS_REJECTED, "tag:guard.rs,2026:problem:cors-rejected", "Cross-origin request not allowed", 403),
            (ProblemType::NOT_FOUND, "about:blank", "Not Found", 404),
            (ProblemType::METHOD_NOT_ALLOWED, "about:blank", "Method Not Allowed", 405),
            (ProblemType::REQUEST_TIMEOUT, "tag:guard.rs,2026:problem:request-timeout", "Request timeout", 408),
            (ProblemType::CONFLICT, "tag:guard.rs,2026:problem:conflict", "Conflict", 409),
            (ProblemType::PAYLOAD_TOO_LARGE, "tag:guard.rs,2026:problem:payload-too-large", "Request body too large", 413),
            (ProblemType::UNSUPPORTED_MEDIA_TYPE, "tag:guard.rs,2026:problem:unsupported-media-type", "Unsupported media type", 415),
            (ProblemType::VALIDATION_FAILED, "tag:guard.rs,2026:problem:validation-failed", "Validation failed", 422),
            (ProblemType::RATE_LIMITED, "tag:guard.rs,2026:problem:rate-limited", "Too many requests", 429),
            (ProblemType::INTERNAL, "about:blank", "Internal Server Error", 500),
            (ProblemType::STORE_UNAVAILABLE, "tag:guard.rs,2026:problem:store-unavailable", "Service temporarily unavailable", 503),
        ];
        for (kind, uri, title, status) in published {
            assert_eq!((kind.uri, kind.title, kind.status.as_u16()), (uri, title, status));
        }
        // Distinct kinds never share a tag URI (about:blank is the generic, per-status kind).
        let tags: std::collections::HashSet<_> =
            published.iter().map(|p| p.1).filter(|u| *u != "about:blank").collect();
        assert_eq!(tags.len(), published.iter().filter(|p| p.1 != "about:blank").count());
    }
}
