//! The actix-web middleware that runs a guard around the wrapped service.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use guard_core::{Decision, Guard, GuardRequest, Problem, ProblemType};
use tracing::Instrument;

use crate::convert::into_response;
use crate::extract::GuardExtensions;
use crate::request::ActixRequestHead;
use crate::response::ActixResponseHead;

/// Applies a guard (or a stack of guards) to every request of an app, scope or resource.
///
/// The guard is compiled before it is handed over and shared by every worker thread.
#[derive(Debug)]
pub struct GuardMiddleware<G> {
    guard: Arc<G>,
}

impl<G> GuardMiddleware<G> {
    /// A middleware applying `guard`.
    pub fn new(guard: G) -> Self {
        Self { guard: Arc::new(guard) }
    }

    /// A middleware applying a guard that is already shared with other scopes.
    pub fn from_shared(guard: Arc<G>) -> Self {
        Self { guard }
    }
}

impl<G> Clone for GuardMiddleware<G> {
    fn clone(&self) -> Self {
        Self { guard: self.guard.clone() }
    }
}

/// Makes a [`GuardService`] around the wrapped service: whatever that serves, this serves.
impl<S, G> Transform<S, ServiceRequest> for GuardMiddleware<G>
where
    GuardService<S, G>: Service<ServiceRequest, Error = Error>,
{
    type Response = <GuardService<S, G> as Service<ServiceRequest>>::Response;
    type Error = Error;
    type Transform = GuardService<S, G>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GuardService { inner: Rc::new(service), guard: self.guard.clone() }))
    }
}

/// The service made by [`GuardMiddleware`].
#[derive(Debug)]
pub struct GuardService<S, G> {
    inner: Rc<S>,
    guard: Arc<G>,
}

impl<S, B, G> Service<ServiceRequest> for GuardService<S, G>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    G: Guard,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(inner);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let inner = self.inner.clone();
        let guard = self.guard.clone();
        let span = guard_core::request_span();
        Box::pin(
            async move {
                let Some(head) = ActixRequestHead::new(&req) else {
                    let bad = into_response(Problem::new(ProblemType::BAD_REQUEST).to_response());
                    return Ok(req.into_response(bad).map_into_right_body());
                };
                let mut guarded = GuardRequest::new(&head);
                let decision = guard.check(&mut guarded).await;
                let left = guarded.into_extensions();
                drop(head);
                let state = match decision {
                    Decision::Continue(state) => state,
                    Decision::Respond(early) => {
                        return Ok(req.into_response(into_response(early)).map_into_right_body());
                    }
                };
                if !left.is_empty() {
                    let mut extensions = req.extensions_mut();
                    match extensions.get_mut::<GuardExtensions>() {
                        // An outer middleware already left data: keep both.
                        Some(existing) => existing.0.extend(left),
                        None => {
                            extensions.insert(GuardExtensions(left));
                        }
                    }
                }
                match inner.call(req).await {
                    Ok(mut res) => {
                        let status = res.status();
                        guard
                            .respond(state, &mut ActixResponseHead::new(status, res.headers_mut()));
                        Ok(res.map_into_left_body())
                    }
                    // An error that escapes the inner service is rendered by actix-web after every
                    // middleware has run; render it now so that it gets the response step too, and
                    // pass it on carrying that rendering.
                    Err(err) => {
                        let mut rendered = err.error_response();
                        let status = rendered.status();
                        guard.respond(
                            state,
                            &mut ActixResponseHead::new(status, rendered.headers_mut()),
                        );
                        Err(actix_web::error::InternalError::from_response(err, rendered).into())
                    }
                }
            }
            .instrument(span),
        )
    }
}
