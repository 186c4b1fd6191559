//! The service that runs a guard around an inner service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};
use http::{Request, Response};
use http_body_util::{Either, Full};
use tower_service::Service;
use tracing::Instrument;

use crate::future::ResponseFuture;
use crate::response::GuardBody;

/// Runs a guard's check before the inner service and its response step after it.
/// Made by [`GuardLayer`](crate::GuardLayer).
#[derive(Debug)]
pub struct GuardService<S, G> {
    inner: S,
    guard: Arc<G>,
}

impl<S, G> GuardService<S, G> {
    /// Wraps `inner` with `guard`.
    pub fn new(inner: S, guard: Arc<G>) -> Self {
        Self { inner, guard }
    }
}

impl<S: Clone, G> Clone for GuardService<S, G> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), guard: self.guard.clone() }
    }
}

impl<S, G, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S, G>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    G: Guard,
    ReqBody: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<GuardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready is the one to call; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        let span = guard_core::request_span();
        ResponseFuture {
            inner: Box::pin(
                async move {
                    // The body stays out of the guards' reach (and need not be Sync).
                    let (mut parts, body) = req.into_parts();
                    let peer = peer_addr(&parts.extensions);
                    let head = HttpRequestHead::new(&parts, peer);
                    let mut guarded = GuardRequest::new(&head);
                    let decision = guard.check(&mut guarded).await;
                    let left = guarded.into_extensions();
                    match decision {
                        Decision::Respond(early) => {
                            Ok(early.into_http().map(|b| Either::Right(Full::<Bytes>::new(b))))
                        }
                        Decision::Continue(state) => {
                            parts.extensions.extend(left);
                            let res = inner.call(Request::from_parts(parts, body)).await?;
                            let (mut head, body) = res.into_parts();
                            guard.respond(state, &mut head);
                            Ok(Response::from_parts(head, Either::Left(body)))
                        }
                    }
                }
                .instrument(span),
            ),
        }
    }
}

fn peer_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    extensions.get::<SocketAddr>().copied()
}
