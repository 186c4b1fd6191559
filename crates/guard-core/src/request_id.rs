//! One id per request, for logs and for the client: taken from a well-formed `X-Request-Id`
//! (set by a proxy in front) or generated, left for the guards inside and the handler, sent back
//! in the response, and logged once per request with the method, path, status and duration.
//!
//! Whose incoming id is kept: by default anyone's, but only a short, plain one (1 to 64 of
//! `A-Z a-z 0-9 - _ . :`), so it cannot forge log lines. A client may still pick the id of its
//! own request, say to make it look like another's in the logs; behind a proxy that sets the
//! header, keep only the proxy's with
//! [`trust_incoming_from`](RequestIdGuard::trust_incoming_from) (what the reference API does
//! with its `TRUSTED_PROXIES`), or always generate with
//! [`trust_incoming(false)`](RequestIdGuard::trust_incoming).
//!
//! Put it outermost, so that its one line per request sees every early answer and the final
//! status; guards and handlers inside can read the [`RequestId`] from the extensions:
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead, RequestId,
//!                  RequestIdGuard, ResponseHead};
//! use http::{Request, StatusCode};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let guard = RequestIdGuard::default();
//! let (parts, ()) = Request::get("/").header("x-request-id", "abc-123").body(()).unwrap().into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let mut req = GuardRequest::new(&head);
//! let Decision::Continue(state) = guard.check(&mut req).await else { unreachable!() };
//! assert_eq!(req.extensions().get::<RequestId>().unwrap().as_str(), "abc-123");
//! let mut res = GuardResponse::new(StatusCode::OK);
//! guard.respond(state, &mut res);
//! assert_eq!(res.headers()["x-request-id"], "abc-123");
//! # });
//! ```

use std::future::{Future, ready};
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderName, HeaderValue, Method};

use crate::client_ip::TrustedProxies;
use crate::guard::{Decision, Guard};
use crate::header::HeaderKey;
use crate::request::GuardRequest;
use crate::response::ResponseHead;

/// The id of the current request, left in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Gives every request an id and logs each one once (`info` for 2xx-4xx, `warn` for 5xx, target
/// `guard::request`).
#[derive(Debug, Clone)]
pub struct RequestIdGuard {
    header: HeaderKey,
    trust: Trust,
}

/// Whose incoming id is kept (when well-formed).
#[derive(Debug, Clone)]
enum Trust {
    Anyone,
    Nobody,
    Proxies(TrustedProxies),
}

impl Default for RequestIdGuard {
    /// `X-Request-Id`, an incoming well-formed id is kept.
    fn default() -> Self {
        Self { header: HeaderKey::from_static("x-request-id"), trust: Trust::Anyone }
    }
}

impl RequestIdGuard {
    /// Uses `header` instead of `X-Request-Id`.
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = HeaderKey::new(header);
        self
    }

    /// Whether to keep a well-formed incoming id (default true); false always generates one.
    pub fn trust_incoming(mut self, trust: bool) -> Self {
        self.trust = if trust { Trust::Anyone } else { Trust::Nobody };
        self
    }

    /// Keeps a well-formed incoming id only when the request comes straight from one of
    /// `proxies` (the peer address), so that clients cannot choose their ids; with no proxies,
    /// every id is generated.
    pub fn trust_incoming_from(mut self, proxies: TrustedProxies) -> Self {
        self.trust = Trust::Proxies(proxies);
        self
    }

    fn trusts(&self, req: &GuardRequest<'_>) -> bool {
        match &self.trust {
            Trust::Anyone => true,
            Trust::Nobody => false,
            Trust::Proxies(proxies) => {
                req.head().peer_addr().is_some_and(|peer| proxies.is_trusted(peer.ip()))
            }
        }
    }
}

/// The span an adapter runs each request in, so that every log line of the request (the guards'
/// refusals, the handler's own) is inside it; [`RequestIdGuard`] fills in its `request_id`.
/// Both adapters call this: the field's name is written once, here.
///
/// ```
/// let span = guard_core::request_span();
/// let _in_request = span.enter();
/// tracing::info!("this line names the request once RequestIdGuard ran");
/// ```
pub fn request_span() -> tracing::Span {
    tracing::info_span!("request", request_id = tracing::field::Empty)
}

/// Records `id` in the current request span (made by [`request_span`]).
fn record_in_span(id: &RequestId) {
    tracing::Span::current().record("request_id", id.as_str());
}

/// What the response step needs: the id and what to log.
#[derive(Debug)]
pub struct RequestIdState {
    id: RequestId,
    method: Method,
    path: String,
    started: Instant,
}

/// An incoming id is kept only if it is short and plain, so it cannot forge log lines.
fn well_formed(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn generate() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Guard for RequestIdGuard {
    type State = RequestIdState;

    fn check(
        &self,
        req: &mut GuardRequest<'_>,
    ) -> impl Future<Output = Decision<RequestIdState>> + Send {
        let incoming = req
            .header(self.header.name())
            .filter(|id| well_formed(id) && self.trusts(req))
            .and_then(|id| std::str::from_utf8(id).ok());
        let id = RequestId(match incoming {
            Some(id) => id.into(),
            None => generate().into(),
        });
        req.extensions_mut().insert(id.clone());
        // Every later log line of the request (refusals, handlers) names it.
        record_in_span(&id);
        let state = RequestIdState {
            id,
            method: req.method().clone(),
            path: req.path().to_owned(),
            started: Instant::now(),
        };
        ready(Decision::Continue(state))
    }

    fn respond(&self, state: RequestIdState, res: &mut dyn ResponseHead) {
        if let Ok(value) = HeaderValue::from_str(state.id.as_str()) {
            res.set_value(&self.header, value);
        }
        let status = res.status().as_u16();
        let elapsed_ms = state.started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(target: "guard::request", request_id = %state.id, method = %state.method,
                path = %state.path, status, elapsed_ms, "request");
        } else {
            tracing::info!(target: "guard::request", request_id = %state.id, method = %state.method,
                path = %state.path, status, elapsed_ms, "request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_guard;
    use http::{Request, StatusCode};

    /// The id `guard` leaves for the handler and the one it sends back, for a request from
    /// `peer` carrying `incoming`.
    async fn id_for(
        guard: &RequestIdGuard,
        peer: Option<&str>,
        incoming: Option<&str>,
    ) -> (String, String) {
        let mut b = Request::get("/x");
        if let Some(id) = incoming {
            b = b.header("x-request-id", id);
        }
        let (left, res) = run_guard(guard, b.body(()).unwrap(), peer, StatusCode::OK).await;
        let left = left.expect("the guard lets every request through");
        let sent = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        (left.get::<RequestId>().unwrap().to_string(), sent)
    }

    #[tokio::test]
    async fn keeps_plain_incoming_ids_and_replaces_forged_ones() {
        let g = RequestIdGuard::default();
        assert_eq!(
            id_for(&g, None, Some("req-1.a_b:2")).await,
            ("req-1.a_b:2".into(), "req-1.a_b:2".into())
        );
        for forged in ["a b", "x\ty", &"z".repeat(65), "naïve"] {
            let (left, sent) = id_for(&g, None, Some(forged)).await;
            assert_eq!(left, sent);
            assert_eq!(left.len(), 32, "{forged:?} replaced by a generated id");
        }
        let (a, _) = id_for(&g, None, None).await;
        let (b, _) = id_for(&g, None, None).await;
        assert_ne!(a, b);
        let (c, _) = id_for(&g.clone().trust_incoming(false), None, Some("req-1")).await;
        assert_ne!(c, "req-1");
    }

    #[tokio::test]
    async fn from_trusted_proxies_only_when_so_configured() {
        let g = RequestIdGuard::default()
            .trust_incoming_from(TrustedProxies::parse("10.0.0.0/8").unwrap());
        for (peer, kept) in [("10.1.2.3:5000", true), ("203.0.113.9:5000", false)] {
            let (id, _) = id_for(&g, Some(peer), Some("from-proxy")).await;
            assert_eq!(id == "from-proxy", kept, "{peer}");
        }
    }
}
