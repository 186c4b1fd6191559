//! The one interface every guard implements, and how guards compose.

use std::future::Future;
use std::sync::Arc;

use crate::request::GuardRequest;
use crate::response::{GuardResponse, ResponseHead};

/// What a guard decided about a request before the handler.
#[derive(Debug)]
pub enum Decision<S> {
    /// Let the request through; `S` is carried to [`Guard::respond`] for the response step.
    Continue(S),
    /// Answer at once (a preflight, a 401, a 429) without calling the handler. Guards outside
    /// this one still run their response step on this answer.
    Respond(GuardResponse),
}

/// A guard: a check before the handler and an amendment of the response head afterwards.
///
/// A guard's policy is compiled once at start-up; `check` and `respond` are then cheap. Guards
/// that need I/O (Redis) do it in `check`, which is async. A guard never sees a web framework:
/// the adapters hand it a [`GuardRequest`] and a [`ResponseHead`].
///
/// `respond` runs for every request that this guard let through, both on the handler's response
/// and on an early answer given by a guard inside this one, so that a 429 from the rate limiter
/// still carries the CORS and security headers of the guards around it. A guard's own early
/// answer is complete as it is: its `respond` is not called on it.
pub trait Guard: Send + Sync + 'static {
    /// What `check` hands to `respond` for one request (the allowed origin, the rate-limit
    /// counters, ...). `()` for guards that need nothing.
    type State: Send + 'static;

    /// Looks at the request head before the handler. Data for the handler goes into
    /// [`GuardRequest::extensions_mut`].
    fn check(
        &self,
        req: &mut GuardRequest<'_>,
    ) -> impl Future<Output = Decision<Self::State>> + Send;

    /// Amends the response head after the handler (or after an inner guard's early answer).
    fn respond(&self, state: Self::State, res: &mut dyn ResponseHead);
}

/// Two guards run in order: `outer` checks first and amends the response last.
///
/// Built with [`GuardExt::then`]; a longer chain nests, `a.then(b).then(c)`.
#[derive(Debug, Clone)]
pub struct Stack<Outer, Inner> {
    outer: Outer,
    inner: Inner,
}

impl<Outer, Inner> Stack<Outer, Inner> {
    /// Stacks `inner` inside `outer`.
    pub fn new(outer: Outer, inner: Inner) -> Self {
        Self { outer, inner }
    }
}

impl<Outer: Guard, Inner: Guard> Guard for Stack<Outer, Inner> {
    type State = (Outer::State, Inner::State);

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<Self::State> {
        let outer = match self.outer.check(req).await {
            Decision::Continue(state) => state,
            Decision::Respond(res) => return Decision::Respond(res),
        };
        match self.inner.check(req).await {
            Decision::Continue(inner) => Decision::Continue((outer, inner)),
            Decision::Respond(mut res) => {
                self.outer.respond(outer, &mut res);
                Decision::Respond(res)
            }
        }
    }

    fn respond(&self, (outer, inner): Self::State, res: &mut dyn ResponseHead) {
        self.inner.respond(inner, res);
        self.outer.respond(outer, res);
    }
}

/// Builder methods for every [`Guard`].
pub trait GuardExt: Guard + Sized {
    /// Runs `inner` after this guard; this guard sees `inner`'s early answers and the handler's
    /// response last, so put the security headers outermost.
    ///
    /// ```
    /// # use guard_core::{Decision, Guard, GuardExt, GuardRequest, ResponseHead};
    /// # struct A; struct B;
    /// # impl Guard for A { type State = (); async fn check(&self, _: &mut GuardRequest<'_>) -> Decision<()> { Decision::Continue(()) } fn respond(&self, _: (), _: &mut dyn ResponseHead) {} }
    /// # impl Guard for B { type State = (); async fn check(&self, _: &mut GuardRequest<'_>) -> Decision<()> { Decision::Continue(()) } fn respond(&self, _: (), _: &mut dyn ResponseHead) {} }
    /// let stack = A.then(B);
    /// # fn is_guard<G: Guard>(_: &G) {} is_guard(&stack);
    /// ```
    fn then<Inner: Guard>(self, inner: Inner) -> Stack<Self, Inner> {
        Stack::new(self, inner)
    }

    /// This guard with its type erased, so that a stack can be stored or named without
    /// spelling out `Stack<Stack<…>>` (one allocation per request for the check's future and
    /// one for its state).
    fn boxed(self) -> crate::BoxGuard {
        crate::BoxGuard::new(self)
    }
}

impl<G: Guard> GuardExt for G {}

/// A shared guard, so one compiled policy can serve several scopes.
impl<G: Guard> Guard for Arc<G> {
    type State = G::State;

    fn check(
        &self,
        req: &mut GuardRequest<'_>,
    ) -> impl Future<Output = Decision<Self::State>> + Send {
        (**self).check(req)
    }

    fn respond(&self, state: Self::State, res: &mut dyn ResponseHead) {
        (**self).respond(state, res)
    }
}

/// An optional guard (configured at start-up): `None` lets everything through untouched.
impl<G: Guard> Guard for Option<G> {
    type State = Option<G::State>;

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<Self::State> {
        match self {
            Some(guard) => match guard.check(req).await {
                Decision::Continue(state) => Decision::Continue(Some(state)),
                Decision::Respond(res) => Decision::Respond(res),
            },
            None => Decision::Continue(None),
        }
    }

    fn respond(&self, state: Self::State, res: &mut dyn ResponseHead) {
        if let (Some(guard), Some(state)) = (self, state) {
            guard.respond(state, res);
        }
    }
}

/// The empty guard: lets everything through and changes nothing.
impl Guard for () {
    type State = ();

    fn check(&self, _req: &mut GuardRequest<'_>) -> impl Future<Output = Decision<()>> + Send {
        std::future::ready(Decision::Continue(()))
    }

    fn respond(&self, _state: (), _res: &mut dyn ResponseHead) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::HeaderKey;
    use crate::request::HttpRequestHead;
    use http::{HeaderValue, Request, StatusCode};
    use std::sync::Mutex;

    /// Records the order of its calls, and answers early when told to.
    struct Probe {
        name: &'static str,
        answer: Option<StatusCode>,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Guard for Probe {
        type State = &'static str;

        async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<&'static str> {
            self.log.lock().unwrap().push(format!("check {}", self.name));
            req.extensions_mut().insert(self.name);
            match self.answer {
                Some(status) => Decision::Respond(GuardResponse::new(status)),
                None => Decision::Continue(self.name),
            }
        }

        fn respond(&self, state: &'static str, res: &mut dyn ResponseHead) {
            self.log.lock().unwrap().push(format!("respond {state}"));
            res.append_value(&HeaderKey::from_static("x-probe"), HeaderValue::from_static(state));
        }
    }

    fn probe(
        name: &'static str,
        answer: Option<StatusCode>,
        log: &Arc<Mutex<Vec<String>>>,
    ) -> Probe {
        Probe { name, answer, log: log.clone() }
    }

    async fn run<G: Guard>(guard: &G) -> (Decision<G::State>, Vec<&'static str>) {
        let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        let mut req = GuardRequest::new(&head);
        let decision = guard.check(&mut req).await;
        let seen = req.extensions().get::<&'static str>().copied().into_iter().collect();
        (decision, seen)
    }

    #[tokio::test]
    async fn stack_checks_outer_first_and_responds_inner_first() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stack =
            probe("a", None, &log).then(probe("b", None, &log)).then(probe("c", None, &log));
        let (decision, _) = run(&stack).await;
        let Decision::Continue(state) = decision else { panic!("expected Continue") };
        let mut res = GuardResponse::new(StatusCode::OK);
        stack.respond(state, &mut res);
        assert_eq!(
            *log.lock().unwrap(),
            ["check a", "check b", "check c", "respond c", "respond b", "respond a"]
        );
        let order: Vec<_> = res.headers().get_all("x-probe").iter().collect();
        assert_eq!(order, ["c", "b", "a"]);
    }

    #[tokio::test]
    async fn an_early_answer_passes_the_outer_response_steps_only() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stack = probe("a", None, &log)
            .then(probe("b", Some(StatusCode::TOO_MANY_REQUESTS), &log))
            .then(probe("c", None, &log));
        let (decision, _) = run(&stack).await;
        let Decision::Respond(res) = decision else { panic!("expected an early answer") };
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        // c never ran; b built its own answer; a amended it.
        assert_eq!(*log.lock().unwrap(), ["check a", "check b", "respond a"]);
        let probes: Vec<_> = res.headers().get_all("x-probe").iter().collect();
        assert_eq!(probes, ["a"]);
    }

    #[tokio::test]
    async fn guards_leave_data_for_later_guards_and_the_handler() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stack = probe("first", None, &log).then(probe("second", None, &log));
        let (_, seen) = run(&stack).await;
        // The later guard's insert replaced the earlier one of the same type.
        assert_eq!(seen, ["second"]);
    }

    #[tokio::test]
    async fn option_and_unit_guards_pass_through() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let absent: Option<Probe> = None;
        let (decision, _) = run(&absent.then(())).await;
        assert!(matches!(decision, Decision::Continue((None, ()))));
        let present = Some(probe("p", Some(StatusCode::FORBIDDEN), &log));
        let (decision, _) = run(&Arc::new(present)).await;
        assert!(matches!(decision, Decision::Respond(r) if r.status() == StatusCode::FORBIDDEN));
    }
}
