//! Refusing request methods an API never serves (`TRACE`, `CONNECT`, made-up ones) before any
//! routing, with one 405 problem for all of them.
//!
//! `TRACE` echoes the request, cookies and credentials included, back to the caller (cross-site
//! tracing); OWASP advises disabling it. Most routers would answer these with 404 or 405 anyway,
//! but each in its own format; this guard answers early, in the toolkit's one format, and tells the
//! client what is allowed.
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead, AllowedMethods};
//! use http::{Method, Request, StatusCode};
//!
//! let guard = AllowedMethods::default();
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (parts, ()) = Request::builder().method(Method::TRACE).uri("/").body(()).unwrap().into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let Decision::Respond(res) = guard.check(&mut GuardRequest::new(&head)).await else { panic!() };
//! assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
//! # });
//! ```

use std::future::{Future, ready};

use http::{HeaderValue, Method, header};
use serde::{Deserialize, Serialize};

use crate::guard::{Decision, Guard};
use crate::problem::{Problem, ProblemType};
use crate::request::GuardRequest;
use crate::response::{GuardResponse, ResponseHead};

/// The methods an API serves; every other method is refused with 405 before routing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct AllowedMethods {
    methods: Vec<Method>,
    allow: HeaderValue,
}

/// A method list that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllowedMethodsError {
    /// Not a method token.
    #[error("`{0}` is not an HTTP method")]
    InvalidMethod(String),
    /// An empty list would refuse every request.
    #[error("the list of allowed methods is empty")]
    Empty,
}

impl AllowedMethods {
    /// Allows exactly `methods`.
    pub fn new(methods: impl IntoIterator<Item = Method>) -> Result<Self, AllowedMethodsError> {
        let mut list: Vec<Method> = Vec::new();
        for m in methods {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        if list.is_empty() {
            return Err(AllowedMethodsError::Empty);
        }
        let joined = list.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        // Method tokens are visible ASCII, so the joined list is always a valid header value.
        let allow = HeaderValue::from_str(&joined)
            .map_err(|_| AllowedMethodsError::InvalidMethod(joined.clone()))?;
        Ok(Self { methods: list, allow })
    }

    /// Whether `method` is allowed.
    pub fn allows(&self, method: &Method) -> bool {
        self.methods.contains(method)
    }
}

/// `GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`: everything a JSON API uses, and no `TRACE` or
/// `CONNECT`.
impl Default for AllowedMethods {
    fn default() -> Self {
        Self {
            methods: vec![
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ],
            allow: HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        }
    }
}

impl TryFrom<Vec<String>> for AllowedMethods {
    type Error = AllowedMethodsError;

    fn try_from(names: Vec<String>) -> Result<Self, Self::Error> {
        // Methods are case-sensitive, and every registered one is upper-case: `get` in a config
        // file means GET, not an extension method no client sends (CORS reads it the same way).
        let methods = names
            .iter()
            .map(|n| {
                Method::from_bytes(n.trim().to_ascii_uppercase().as_bytes())
                    .map_err(|_| AllowedMethodsError::InvalidMethod(n.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(methods)
    }
}

impl From<AllowedMethods> for Vec<String> {
    fn from(a: AllowedMethods) -> Self {
        a.methods.iter().map(|m| m.as_str().to_owned()).collect()
    }
}

impl Guard for AllowedMethods {
    type State = ();

    fn check(&self, req: &mut GuardRequest<'_>) -> impl Future<Output = Decision<()>> + Send {
        ready(if self.allows(req.method()) {
            Decision::Continue(())
        } else {
            crate::observe::refused(
                "methods",
                "allowed-methods",
                "method not allowed",
                http::StatusCode::METHOD_NOT_ALLOWED,
            );
            let res: GuardResponse = Problem::new(ProblemType::METHOD_NOT_ALLOWED)
                .with_detail(format!("{} is not served here", req.method()))
                .with_header(header::ALLOW, self.allow.clone())
                .into();
            Decision::Respond(res)
        })
    }

    fn respond(&self, _state: (), _res: &mut dyn ResponseHead) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_guard;
    use http::{Request, StatusCode};

    /// The status of the guard's own answer to `method`; `None` when it lets the request through.
    async fn status_for(guard: &AllowedMethods, method: &str) -> Option<u16> {
        let request = Request::builder().method(method).uri("/").body(()).unwrap();
        let (passed, res) = run_guard(guard, request, None, StatusCode::OK).await;
        passed.is_none().then(|| res.status().as_u16())
    }

    #[tokio::test]
    async fn refuses_trace_connect_and_unknown_methods_only() {
        let guard = AllowedMethods::default();
        for ok in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert_eq!(status_for(&guard, ok).await, None, "{ok}");
        }
        for refused in ["TRACE", "CONNECT", "PROPFIND", "BREW"] {
            assert_eq!(status_for(&guard, refused).await, Some(405), "{refused}");
        }
    }

    #[tokio::test]
    async fn a_configured_list_replaces_the_default() {
        let guard: AllowedMethods = serde_json::from_str(r#"["GET", "get", "GET"]"#).unwrap();
        assert_eq!(status_for(&guard, "POST").await, Some(405));
        assert_eq!(status_for(&guard, "GET").await, None);
        assert_eq!(Vec::<String>::from(guard), ["GET"]);
        assert_eq!(
            serde_json::from_str::<AllowedMethods>(r#"["G ET"]"#).unwrap_err().to_string(),
            "`G ET` is not an HTTP method"
        );
        assert_eq!(AllowedMethods::new([]).unwrap_err(), AllowedMethodsError::Empty);
    }
}
