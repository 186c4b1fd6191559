//! Guards without a type of their own: [`guard_fn`] turns a closure into a guard, and
//! [`BoxGuard`] hides a stack's type, so that it can be stored, chosen at run time or named in
//! a signature without spelling out `Stack<Stack<Stack<…>>>`.
//!
//! ```
//! use guard_core::{BoxGuard, Decision, GuardExt, Problem, ProblemType, RequestIdGuard, guard_fn};
//! use http::HeaderName;
//!
//! // Refuses requests without an API version, like tower-http's `ValidateRequest` or
//! // actix-web's `from_fn`, but answering problem+json through every adapter.
//! let versioned = guard_fn(|req| {
//!     if req.header(&HeaderName::from_static("x-api-version")).is_some() {
//!         Decision::Continue(())
//!     } else {
//!         Decision::Respond(Problem::new(ProblemType::BAD_REQUEST)
//!             .with_detail("X-Api-Version is required").into())
//!     }
//! });
//! let stack: BoxGuard = RequestIdGuard::default().then(versioned).boxed();
//! # let _ = stack;
//! ```

use std::any::Any;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;

use crate::guard::{Decision, Guard};
use crate::request::GuardRequest;
use crate::response::ResponseHead;

/// A guard made of a closure that checks the request head ([`guard_fn`]); it has no response
/// step. For a guard that amends responses or keeps state, implement [`Guard`].
#[derive(Clone)]
pub struct GuardFn<F>(F);

impl<F> std::fmt::Debug for GuardFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardFn(..)")
    }
}

/// A guard that runs `check` on each request: [`Decision::Continue`] lets it through (data for
/// the handler goes into `req.extensions_mut()`), [`Decision::Respond`] answers at once.
pub fn guard_fn<F>(check: F) -> GuardFn<F>
where
    F: Fn(&mut GuardRequest<'_>) -> Decision<()> + Send + Sync + 'static,
{
    GuardFn(check)
}

impl<F> Guard for GuardFn<F>
where
    F: Fn(&mut GuardRequest<'_>) -> Decision<()> + Send + Sync + 'static,
{
    type State = ();

    fn check(&self, req: &mut GuardRequest<'_>) -> impl Future<Output = Decision<()>> + Send {
        ready((self.0)(req))
    }

    fn respond(&self, (): (), _: &mut dyn ResponseHead) {}
}

/// The state a [`BoxGuard`] carries from its check to its response step.
pub struct BoxState(Box<dyn Any + Send>);

impl std::fmt::Debug for BoxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxState(..)")
    }
}

/// The future of a boxed check.
type BoxCheck<'a> = Pin<Box<dyn Future<Output = Decision<BoxState>> + Send + 'a>>;

/// A guard with its type erased ([`GuardExt::boxed`](crate::GuardExt::boxed)); cheap to clone.
/// It costs one allocation per request for its future and one for its state.
#[derive(Clone)]
pub struct BoxGuard(Arc<dyn ErasedGuard>);

impl std::fmt::Debug for BoxGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxGuard(..)")
    }
}

impl BoxGuard {
    /// Erases `guard`'s type.
    pub fn new(guard: impl Guard) -> Self {
        Self(Arc::new(guard))
    }
}

trait ErasedGuard: Send + Sync + 'static {
    fn check_boxed<'a>(&'a self, req: &'a mut GuardRequest<'_>) -> BoxCheck<'a>;
    fn respond_boxed(&self, state: BoxState, res: &mut dyn ResponseHead);
}

impl<G: Guard> ErasedGuard for G {
    fn check_boxed<'a>(&'a self, req: &'a mut GuardRequest<'_>) -> BoxCheck<'a> {
        Box::pin(async move {
            match self.check(req).await {
                Decision::Continue(state) => Decision::Continue(BoxState(Box::new(state))),
                Decision::Respond(res) => Decision::Respond(res),
            }
        })
    }

    fn respond_boxed(&self, state: BoxState, res: &mut dyn ResponseHead) {
        // The state was made by this very guard's check, so it always has its type.
        if let Ok(state) = state.0.downcast::<G::State>() {
            self.respond(*state, res);
        }
    }
}

impl Guard for BoxGuard {
    type State = BoxState;

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<BoxState> {
        self.0.check_boxed(req).await
    }

    fn respond(&self, state: BoxState, res: &mut dyn ResponseHead) {
        self.0.respond_boxed(state, res);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_guard;
    use crate::{GuardExt, PreparedHeader, Problem, ProblemType};
    use http::{HeaderName, Request, StatusCode};

    /// Leaves a mark for the handler and sets a header on the response.
    struct Marker;

    impl Guard for Marker {
        type State = &'static str;
        async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<&'static str> {
            req.extensions_mut().insert(7u8);
            Decision::Continue("marked")
        }
        fn respond(&self, state: &'static str, res: &mut dyn ResponseHead) {
            res.set(&PreparedHeader::from_static("x-marker", state));
        }
    }

    async fn run(guard: &impl Guard, api_version: Option<&str>) -> (StatusCode, Option<u8>, bool) {
        let mut b = Request::get("/");
        if let Some(v) = api_version {
            b = b.header("x-api-version", v);
        }
        let (left, res) = run_guard(guard, b.body(()).unwrap(), None, StatusCode::OK).await;
        let left = left.and_then(|extensions| extensions.get::<u8>().copied());
        (res.status(), left, res.headers().contains_key("x-marker"))
    }

    #[tokio::test]
    async fn a_closure_guard_lets_through_or_answers_and_a_boxed_stack_keeps_every_step() {
        let versioned = guard_fn(|req| {
            if req.header(&HeaderName::from_static("x-api-version")).is_some() {
                Decision::Continue(())
            } else {
                Decision::Respond(Problem::new(ProblemType::BAD_REQUEST).into())
            }
        });
        let boxed: BoxGuard = Marker.then(versioned).boxed();
        // Through: the inner guard's data and the outer guard's response step both survive
        // the erased state.
        assert_eq!(run(&boxed, Some("1")).await, (StatusCode::OK, Some(7), true));
        // Refused by the closure: the outer guard still amends the early answer.
        assert_eq!(run(&boxed, None).await, (StatusCode::BAD_REQUEST, None, true));
        // Boxes nest and clone.
        let twice = boxed.clone().boxed();
        assert_eq!(run(&twice, Some("1")).await, (StatusCode::OK, Some(7), true));
    }
}
