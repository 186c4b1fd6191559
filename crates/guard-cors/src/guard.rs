//! The compiled CORS guard: preflights answered early, actual requests amended on the way out.

use std::fmt;
use std::future::{Future, ready};

use guard_core::{
    Decision, Guard, GuardRequest, GuardResponse, HeaderKey, PreparedHeader, Problem, ProblemType,
    RequestHead, ResponseHead, vary_contains,
};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::origin::{ANY, AllowlistMatch, OriginAllowlist, OriginPredicate, parse_origin};

/// `Access-Control-Request-Private-Network` (Private Network Access).
const REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
/// `Access-Control-Allow-Private-Network` (Private Network Access).
const ALLOW_PRIVATE_NETWORK: &str = "access-control-allow-private-network";
/// `Sec-Fetch-Site`, set by browsers and never by scripts.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The CORS guard, compiled from a [`CorsPolicy`](crate::CorsPolicy) by
/// [`CorsPolicy::build`](crate::CorsPolicy::build).
///
/// Use it like any [`Guard`]: alone, in a stack (outside the guards whose early answers should
/// carry CORS headers, such as authentication and rate limiting), through `guard-actix` or
/// `guard-tower`. It is cheap to share behind an `Arc`.
///
/// Per request it does one hash lookup of the `Origin` (plus one per host label when subdomain
/// patterns are configured) and applies headers encoded at build time:
///
/// - a **preflight** (`OPTIONS` with `Access-Control-Request-Method`) is answered at once: 204
///   with the CORS headers when the origin, the method and every requested header are allowed,
///   otherwise 403 `application/problem+json` with no `Access-Control-*` header at all. Any other
///   `OPTIONS` is an ordinary request for the handler;
/// - an **actual request** from an allowed origin reaches the handler, and its response gets
///   `Access-Control-Allow-Origin` (the request's `Origin`, byte for byte) and the credentials and
///   exposed-headers lines. Other origins get no CORS header, or a 403 with
///   [`block_disallowed`](crate::CorsPolicy::block_disallowed);
/// - `Vary: Origin` goes on every response whose CORS answer depends on the origin: the
///   handler's, those without CORS headers and the early answers of guards inside this one (a 401,
///   a 429), extending an existing `Vary` rather than duplicating it.
///
/// ```
/// use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
/// use guard_cors::CorsPolicy;
/// use http::{Request, StatusCode};
///
/// let cors = CorsPolicy::new().allow_origins(["https://app.example.com"]).build()?;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // A plain OPTIONS (no Access-Control-Request-Method) is not a preflight: it reaches the handler.
/// let (parts, ()) = Request::options("/v1/items")
///     .header("origin", "https://app.example.com")
///     .body(())
///     .unwrap()
///     .into_parts();
/// let head = HttpRequestHead::new(&parts, None);
/// let Decision::Continue(state) = cors.check(&mut GuardRequest::new(&head)).await else {
///     panic!("a plain OPTIONS is the handler's");
/// };
/// let mut res = GuardResponse::new(StatusCode::OK);
/// cors.respond(state, &mut res);
/// assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
/// assert_eq!(res.headers()["vary"], "Origin");
/// # });
/// # Ok::<(), guard_cors::CorsError>(())
/// ```
#[derive(Clone)]
pub struct Cors {
    origins: AllowedOrigins,
    methods: Vec<Method>,
    headers: AllowedRequestHeaders,
    credentials: bool,
    block_disallowed: bool,
    private_network: bool,
    lines: PreparedLines,
}

/// A policy checked and encoded by [`CorsPolicy::build`](crate::CorsPolicy::build): what
/// [`Cors::new`] makes the guard of.
pub(crate) struct CompiledParts {
    pub(crate) origins: AllowedOrigins,
    /// The methods a preflight may ask for, in upper case, without duplicates.
    pub(crate) methods: Vec<Method>,
    pub(crate) headers: AllowedRequestHeaders,
    pub(crate) credentials: bool,
    pub(crate) block_disallowed: bool,
    pub(crate) private_network: bool,
    /// `Access-Control-Allow-Methods`.
    pub(crate) allow_methods: PreparedHeader,
    /// `Access-Control-Allow-Headers`, when some header is allowed.
    pub(crate) allow_headers: Option<PreparedHeader>,
    /// `Access-Control-Expose-Headers`, when some header is exposed.
    pub(crate) expose_headers: Option<PreparedHeader>,
    /// `Access-Control-Max-Age`.
    pub(crate) max_age: PreparedHeader,
    /// `Vary` of preflight answers, 204 and 403 alike.
    pub(crate) vary_preflight: PreparedHeader,
}

/// Which origins the policy allows.
#[derive(Clone)]
pub(crate) struct AllowedOrigins {
    /// `*`: every origin, with a constant `Access-Control-Allow-Origin: *`.
    pub(crate) any: bool,
    pub(crate) mirror: bool,
    pub(crate) null: bool,
    pub(crate) allowlist: OriginAllowlist,
    /// `Access-Control-Allow-Origin` for each exact origin, by its index in the allowlist.
    pub(crate) listed: Vec<PreparedHeader>,
    pub(crate) predicate: Option<OriginPredicate>,
}

/// The request headers a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) struct AllowedRequestHeaders {
    pub(crate) names: Vec<HeaderName>,
    /// `*`: any name but `authorization`, unless that is named too.
    pub(crate) any: bool,
}

impl AllowedRequestHeaders {
    fn allows(&self, name: &[u8]) -> bool {
        self.names.iter().any(|n| n.as_str().as_bytes().eq_ignore_ascii_case(name))
            || (self.any && !name.eq_ignore_ascii_case(b"authorization"))
    }
}

/// Every header line the guard writes, encoded once.
#[derive(Debug, Clone)]
struct PreparedLines {
    allow_origin_key: HeaderKey,
    allow_credentials_key: HeaderKey,
    expose_headers_key: HeaderKey,
    vary_key: HeaderKey,
    allow_origin_any: PreparedHeader,
    allow_origin_null: PreparedHeader,
    allow_credentials: PreparedHeader,
    allow_methods: PreparedHeader,
    allow_headers: Option<PreparedHeader>,
    expose_headers: Option<PreparedHeader>,
    max_age: PreparedHeader,
    allow_private_network: PreparedHeader,
    /// `Vary` of preflight answers, 204 and 403 alike.
    vary_preflight: PreparedHeader,
    /// `Vary: Origin`.
    vary_origin: PreparedHeader,
}

/// What [`Cors::check`](Guard::check) decided about a request, for the response step.
#[derive(Debug)]
pub struct CorsState(Verdict);

/// What the policy says about a request's origin.
#[derive(Debug)]
enum Verdict {
    /// Any origin (`*`) is allowed, the request's included.
    Any,
    /// An exact origin of the allowlist, sent in normal form: its prepared header fits.
    Listed(usize),
    /// `Origin: null`, allowed.
    Null,
    /// An allowed origin whose bytes are echoed as sent.
    Echo(PreparedHeader),
    /// No `Origin`: a same-origin request, or not from a browser.
    NoOrigin,
    /// An `Origin` that the policy does not allow, or that is not an origin at all.
    Refused,
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("any_origin", &self.origins.any)
            .field("origins", &self.origins.allowlist)
            .field("mirror_request_origin", &self.origins.mirror)
            .field("null_origin", &self.origins.null)
            .field("origin_fn", &self.origins.predicate)
            .field("methods", &self.methods)
            .field("headers", &self.headers)
            .field("credentials", &self.credentials)
            .field("block_disallowed", &self.block_disallowed)
            .field("private_network", &self.private_network)
            .finish_non_exhaustive()
    }
}

impl Cors {
    /// The guard made of the parts that [`CorsPolicy::build`](crate::CorsPolicy::build) checked
    /// and encoded; adds the lines that every policy writes alike.
    pub(crate) fn new(parts: CompiledParts) -> Self {
        let CompiledParts {
            origins,
            methods,
            headers,
            credentials,
            block_disallowed,
            private_network,
            allow_methods,
            allow_headers,
            expose_headers,
            max_age,
            vary_preflight,
        } = parts;
        let allow_origin_key = HeaderKey::new(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        let lines = PreparedLines {
            allow_credentials_key: HeaderKey::new(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            expose_headers_key: HeaderKey::new(header::ACCESS_CONTROL_EXPOSE_HEADERS),
            vary_key: HeaderKey::new(header::VARY),
            allow_origin_any: PreparedHeader::new(
                allow_origin_key.clone(),
                HeaderValue::from_static(ANY),
            ),
            allow_origin_null: PreparedHeader::new(
                allow_origin_key.clone(),
                HeaderValue::from_static("null"),
            ),
            allow_origin_key,
            allow_credentials: PreparedHeader::new(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            ),
            allow_methods,
            allow_headers,
            expose_headers,
            max_age,
            allow_private_network: PreparedHeader::from_static(ALLOW_PRIVATE_NETWORK, "true"),
            vary_preflight,
            vary_origin: PreparedHeader::from_static("vary", "Origin"),
        };
        Self { origins, methods, headers, credentials, block_disallowed, private_network, lines }
    }

    /// Whether the answer depends on the request's origin, so responses need `Vary: Origin`:
    /// always, unless any origin is allowed with a constant `*`.
    fn varies_by_origin(&self) -> bool {
        !self.origins.any
    }

    /// What the policy says about the request's `Origin`.
    fn judge_origin(&self, head: &dyn RequestHead) -> Verdict {
        if self.origins.any {
            return Verdict::Any;
        }
        let Some(bytes) = head.header(&header::ORIGIN) else {
            return Verdict::NoOrigin;
        };
        let Ok(origin) = std::str::from_utf8(bytes) else {
            return Verdict::Refused;
        };
        if origin == "null" {
            return if self.origins.null { Verdict::Null } else { Verdict::Refused };
        }
        let Ok(parsed) = parse_origin(origin) else {
            return Verdict::Refused;
        };
        let allowed = match self.origins.allowlist.find(&parsed) {
            Some(AllowlistMatch::Exact { index, as_listed: true }) => {
                return Verdict::Listed(index);
            }
            Some(_) => true,
            None => {
                self.origins.mirror
                    || self
                        .origins
                        .predicate
                        .as_ref()
                        .is_some_and(|predicate| predicate.allows(&parsed.serialized, head))
            }
        };
        if !allowed {
            return Verdict::Refused;
        }
        match HeaderValue::from_bytes(bytes) {
            Ok(value) => {
                Verdict::Echo(PreparedHeader::new(self.lines.allow_origin_key.clone(), value))
            }
            Err(_) => Verdict::Refused,
        }
    }

    /// The `Access-Control-Allow-Origin` line for an allowed verdict.
    fn allow_origin_line<'a>(&'a self, verdict: &'a Verdict) -> Option<&'a PreparedHeader> {
        match verdict {
            Verdict::Any => Some(&self.lines.allow_origin_any),
            Verdict::Listed(index) => self.origins.listed.get(*index),
            Verdict::Null => Some(&self.lines.allow_origin_null),
            Verdict::Echo(line) => Some(line),
            Verdict::NoOrigin | Verdict::Refused => None,
        }
    }

    /// Answers a preflight: 204 with the CORS headers, or 403 without any.
    fn preflight(&self, verdict: Verdict, head: &dyn RequestHead) -> GuardResponse {
        let allow_origin = match self.allow_origin_line(&verdict) {
            Some(line) => line,
            None => {
                let detail = match verdict {
                    Verdict::NoOrigin => "a preflight request must carry an Origin".to_owned(),
                    _ => origin_refused(head),
                };
                return self.refuse_preflight("origin not allowed", detail);
            }
        };
        let method = head.header(&header::ACCESS_CONTROL_REQUEST_METHOD).unwrap_or_default();
        if !self.methods.iter().any(|m| m.as_str().as_bytes() == method) {
            let detail = match Method::from_bytes(method) {
                Ok(m) => format!("the method {m} is not allowed for cross-origin requests"),
                Err(_) => "Access-Control-Request-Method is not a method".to_owned(),
            };
            return self.refuse_preflight("method not allowed", detail);
        }
        for name in head
            .header_all(&header::ACCESS_CONTROL_REQUEST_HEADERS)
            .flat_map(|value| value.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|name| !name.is_empty())
        {
            if !self.headers.allows(name) {
                let detail = match HeaderName::from_bytes(name) {
                    Ok(n) => {
                        format!("the request header {n} is not allowed for cross-origin requests")
                    }
                    Err(_) => {
                        "Access-Control-Request-Headers lists something that is not a header name"
                            .to_owned()
                    }
                };
                return self.refuse_preflight("header not allowed", detail);
            }
        }
        guard_core::observe::admitted("cors", "preflight");

        let mut res = GuardResponse::new(StatusCode::NO_CONTENT);
        res.set(allow_origin);
        if self.credentials {
            res.set(&self.lines.allow_credentials);
        }
        res.set(&self.lines.allow_methods);
        if let Some(line) = &self.lines.allow_headers {
            res.set(line);
        }
        res.set(&self.lines.max_age);
        if self.private_network
            && head
                .header(&REQUEST_PRIVATE_NETWORK)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"true"))
        {
            res.set(&self.lines.allow_private_network);
        }
        res.set(&self.lines.vary_preflight);
        res
    }

    /// 403 for a preflight: problem+json, no `Access-Control-*`, the preflight `Vary`.
    fn refuse_preflight(&self, reason: &'static str, detail: String) -> GuardResponse {
        guard_core::observe::refused("cors", "preflight", reason, StatusCode::FORBIDDEN);
        let mut res: GuardResponse =
            Problem::new(ProblemType::CORS_REJECTED).with_detail(detail).into();
        res.set(&self.lines.vary_preflight);
        res
    }

    /// Adds `Origin` to the response's `Vary`, unless it is there already or `Vary` is `*`.
    fn vary_by_origin(&self, res: &mut dyn ResponseHead) {
        let mut values = res.header_all(&header::VARY).peekable();
        if values.peek().is_none() {
            res.set(&self.lines.vary_origin);
            return;
        }
        if vary_contains(values.clone(), "Origin") {
            return;
        }
        // One line: the existing tokens, then Origin.
        let mut joined: Vec<u8> = Vec::new();
        for value in values {
            let value = value.trim_ascii();
            if !value.is_empty() {
                joined.extend_from_slice(value);
                joined.extend_from_slice(b", ");
            }
        }
        joined.extend_from_slice(b"Origin");
        match HeaderValue::from_bytes(&joined) {
            Ok(value) => res.set_value(&self.lines.vary_key, value),
            // Cannot happen (the parts were valid values), but a second line means the same.
            Err(_) => res.append(&self.lines.vary_origin),
        }
    }
}

/// The detail of a 403 for an origin the policy does not allow.
fn origin_refused(head: &dyn RequestHead) -> String {
    let origin = head.header(&header::ORIGIN).and_then(|b| std::str::from_utf8(b).ok());
    match origin {
        Some("null") => "the null origin is not allowed to make cross-origin requests".to_owned(),
        Some(o) => match parse_origin(o) {
            Ok(parsed) => format!(
                "the origin {} is not allowed to make cross-origin requests",
                parsed.serialized
            ),
            Err(_) => "the Origin header is not a serialized origin".to_owned(),
        },
        None => "the Origin header is not a serialized origin".to_owned(),
    }
}

/// Whether the browser says the request comes from the same origin; scripts cannot set `Sec-*`.
fn same_origin_fetch(head: &dyn RequestHead) -> bool {
    head.header(&SEC_FETCH_SITE).is_some_and(|v| v == b"same-origin")
}

impl Guard for Cors {
    type State = CorsState;

    fn check(
        &self,
        req: &mut GuardRequest<'_>,
    ) -> impl Future<Output = Decision<CorsState>> + Send {
        let head = req.head();
        let verdict = self.judge_origin(head);
        let is_preflight = head.method() == Method::OPTIONS
            && head.header(&header::ACCESS_CONTROL_REQUEST_METHOD).is_some();
        ready(if is_preflight {
            Decision::Respond(self.preflight(verdict, head))
        } else if matches!(verdict, Verdict::Refused)
            && self.block_disallowed
            && !same_origin_fetch(head)
        {
            guard_core::observe::refused(
                "cors",
                "block-disallowed",
                "origin not allowed",
                StatusCode::FORBIDDEN,
            );
            let mut res: GuardResponse =
                Problem::new(ProblemType::CORS_REJECTED).with_detail(origin_refused(head)).into();
            self.vary_by_origin(&mut res);
            Decision::Respond(res)
        } else {
            // Counted for allowed cross-origin requests only: a request from another origin
            // passes through without CORS headers (the browser then withholds the answer), which
            // is not a refusal of this guard's.
            if !matches!(verdict, Verdict::NoOrigin | Verdict::Refused) {
                guard_core::observe::admitted("cors", "actual");
            }
            Decision::Continue(CorsState(verdict))
        })
    }

    fn respond(&self, CorsState(verdict): CorsState, res: &mut dyn ResponseHead) {
        let lines = &self.lines;
        match self.allow_origin_line(&verdict) {
            Some(line) => {
                res.set(line);
                if self.credentials {
                    res.set(&lines.allow_credentials);
                } else {
                    res.remove(&lines.allow_credentials_key);
                }
                if let Some(expose) = &lines.expose_headers {
                    res.set(expose);
                }
            }
            None => {
                // Nothing outside the policy is granted, whatever a handler set.
                res.remove(&lines.allow_origin_key);
                res.remove(&lines.allow_credentials_key);
                res.remove(&lines.expose_headers_key);
            }
        }
        if self.varies_by_origin() {
            self.vary_by_origin(res);
        }
    }
}

#[cfg(test)]
mod tests;
