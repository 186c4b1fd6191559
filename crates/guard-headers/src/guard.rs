//! The compiled policy: a [`Guard`] that amends every response head with prepared headers.
//!
//! [`SecureHeaders`] never answers a request itself. Its `check` only draws the CSP nonce when
//! nonces are on; its `respond` sets, replaces and removes headers using values encoded at
//! start-up, which allocates nothing beyond what the response's header map itself needs.
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead, ResponseHead};
//! use http::{Request, StatusCode};
//!
//! let guard = guard_headers::api().build()?;
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let (parts, ()) = Request::get("/").body(())?.into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let mut req = GuardRequest::new(&head);
//! let Decision::Continue(state) = guard.check(&mut req).await else { unreachable!() };
//!
//! let mut res = GuardResponse::new(StatusCode::OK)
//!     .with_header(http::header::SERVER, "nginx/1.2.3".parse()?);
//! guard.respond(state, &mut res);
//! assert_eq!(res.headers()["x-frame-options"], "DENY");
//! assert!(res.headers().get("server").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::{Future, ready};

use guard_core::{Decision, Guard, GuardRequest, HeaderKey, PreparedHeader, ResponseHead};
use http::{HeaderName, HeaderValue};

use crate::csp::NonceTemplate;
use crate::nonce::CspNonce;

/// One header of a compiled policy.
#[derive(Debug, Clone)]
pub(crate) enum CompiledRule {
    /// Set this header.
    Set(PreparedHeader),
    /// Set this Content-Security-Policy; with nonces on, rendered per response from the template.
    Csp {
        /// The policy without a nonce.
        header: PreparedHeader,
        /// Where the nonce goes, when nonces are on.
        nonce_template: Option<NonceTemplate>,
    },
    /// Remove this header.
    Remove(HeaderKey),
}

/// The security-headers guard, built by [`HeadersPolicy::build`](crate::HeadersPolicy::build).
///
/// Its state is the request's [`CspNonce`] when nonces are on, `None` otherwise. Put it
/// outermost in a guard stack so that early answers of the guards inside (a 401, a 429) carry the
/// headers too. Cloning it copies reference-counted header values, not their bytes.
#[derive(Debug, Clone)]
pub struct SecureHeaders {
    rules: Box<[CompiledRule]>,
    keep_handler_values: bool,
    nonce: bool,
}

impl SecureHeaders {
    pub(crate) fn new(rules: Vec<CompiledRule>, keep_handler_values: bool, nonce: bool) -> Self {
        Self { rules: rules.into_boxed_slice(), keep_handler_values, nonce }
    }

    /// The headers this guard sets, in the order it sets them, with their values (the
    /// Content-Security-Policy as sent without a nonce).
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.rules.iter().filter_map(|rule| match rule {
            CompiledRule::Set(header) | CompiledRule::Csp { header, .. } => {
                Some((header.name(), header.value()))
            }
            CompiledRule::Remove(_) => None,
        })
    }

    /// The headers this guard removes from every response.
    pub fn removed_headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.rules.iter().filter_map(|rule| match rule {
            CompiledRule::Remove(key) => Some(key.name()),
            _ => None,
        })
    }

    /// Whether every request gets a fresh [`CspNonce`].
    pub fn uses_nonce(&self) -> bool {
        self.nonce
    }

    /// Whether values set by the handler win over the policy's.
    pub fn keeps_handler_values(&self) -> bool {
        self.keep_handler_values
    }

    /// Whether the policy's value for `header` should be left out because the handler set one.
    fn handler_wins(&self, res: &dyn ResponseHead, header: &PreparedHeader) -> bool {
        self.keep_handler_values && res.header(header.name()).is_some()
    }
}

impl Guard for SecureHeaders {
    type State = Option<CspNonce>;

    /// Always lets the request through; with nonces on, leaves the request's [`CspNonce`] in its
    /// extensions.
    fn check(
        &self,
        req: &mut GuardRequest<'_>,
    ) -> impl Future<Output = Decision<Self::State>> + Send {
        let nonce = self.nonce.then(|| match req.extensions().get::<CspNonce>() {
            // An outer guard drew one already: the handler must see the nonce of every header.
            Some(nonce) => *nonce,
            None => {
                let nonce = CspNonce::generate();
                req.extensions_mut().insert(nonce);
                nonce
            }
        });
        ready(Decision::Continue(nonce))
    }

    /// Sets, replaces and removes the policy's headers; never panics.
    fn respond(&self, nonce: Self::State, res: &mut dyn ResponseHead) {
        for rule in &*self.rules {
            match rule {
                CompiledRule::Remove(key) => res.remove(key),
                CompiledRule::Set(header) => {
                    if !self.handler_wins(res, header) {
                        res.set(header);
                    }
                }
                CompiledRule::Csp { header, nonce_template } => {
                    if self.handler_wins(res, header) {
                        continue;
                    }
                    let nonced = match (nonce_template, &nonce) {
                        (Some(template), Some(nonce)) => {
                            HeaderValue::try_from(template.render(nonce)).ok()
                        }
                        _ => None,
                    };
                    match nonced {
                        Some(value) => res.set_value(header.key(), value),
                        // Without a nonce (or, impossibly, with an unencodable one) the
                        // policy goes out as compiled.
                        None => res.set(header),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use base64::Engine as _;
    use guard_core::{GuardExt, GuardResponse, HttpRequestHead};
    use http::{HeaderMap, Request, StatusCode, header};

    use super::*;
    use crate::test_support::{check, handle, response};
    use crate::{ContentSecurityPolicy, FrameOptions, api, helmet};

    fn values<'a>(res: &'a GuardResponse, name: &str) -> Vec<&'a str> {
        res.headers().get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
    }

    /// Polls a future that must be ready at once, without a runtime (and without allocating).
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the headers guard never waits"),
        }
    }

    #[tokio::test]
    async fn the_guard_never_answers_early() {
        for guard in [
            api().build().unwrap(),
            helmet().csp_nonce(true).build().unwrap(),
            crate::HeadersPolicy::new(crate::Preset::None).build().unwrap(),
        ] {
            for method in ["GET", "POST", "OPTIONS", "TRACE"] {
                let (parts, ()) = Request::builder()
                    .method(method)
                    .uri("/x?y")
                    .header("content-security-policy", "nonsense")
                    .body(())
                    .unwrap()
                    .into_parts();
                let head = HttpRequestHead::new(&parts, None);
                let mut req = GuardRequest::new(&head);
                assert!(matches!(guard.check(&mut req).await, Decision::Continue(_)));
            }
        }
    }

    #[tokio::test]
    async fn the_policy_value_replaces_the_handlers_so_nothing_is_sent_twice() {
        let guard = api().build().unwrap();
        let mut res = handle(
            &guard,
            &[
                ("x-frame-options", "SAMEORIGIN"),
                ("x-frame-options", "ALLOWALL"),
                ("content-security-policy", "default-src *"),
                ("cache-control", "public, max-age=60"),
                ("content-type", "application/json"),
            ],
        )
        .await;
        assert_eq!(values(&res, "x-frame-options"), ["DENY"]);
        assert_eq!(
            values(&res, "content-security-policy"),
            ["default-src 'none'; frame-ancestors 'none'"]
        );
        assert_eq!(values(&res, "cache-control"), ["no-store"]);
        assert_eq!(values(&res, "content-type"), ["application/json"], "unmanaged: untouched");
        // Applying twice (an outer stack re-running it) changes nothing.
        let before = res.headers().clone();
        guard.respond(None, &mut res);
        assert_eq!(*res.headers(), before);
        for (name, _) in guard.headers() {
            assert_eq!(res.headers().get_all(name).iter().count(), 1, "{name}");
        }
    }

    #[tokio::test]
    async fn with_keep_handler_values_the_handler_wins_and_the_policy_fills_in() {
        let guard = api().keep_handler_values(true).build().unwrap();
        assert!(guard.keeps_handler_values());
        let res = handle(
            &guard,
            &[
                ("x-frame-options", "SAMEORIGIN"),
                ("content-security-policy", "default-src 'self'"),
                ("server", "nginx"),
            ],
        )
        .await;
        assert_eq!(values(&res, "x-frame-options"), ["SAMEORIGIN"]);
        assert_eq!(values(&res, "content-security-policy"), ["default-src 'self'"]);
        assert_eq!(values(&res, "referrer-policy"), ["no-referrer"]);
        assert!(res.headers().get("server").is_none(), "removals always apply");
    }

    #[tokio::test]
    async fn overrides_and_removals_apply() {
        let guard = api()
            .frame_options(FrameOptions::SameOrigin)
            .set("X-Custom-Policy", "on")
            .remove("cache-control")
            .pass_through("referrer-policy")
            .build()
            .unwrap();
        let res =
            handle(&guard, &[("cache-control", "public"), ("referrer-policy", "origin")]).await;
        assert_eq!(values(&res, "x-frame-options"), ["SAMEORIGIN"]);
        assert_eq!(values(&res, "x-custom-policy"), ["on"]);
        assert!(res.headers().get("cache-control").is_none());
        assert_eq!(
            values(&res, "referrer-policy"),
            ["origin"],
            "passed through as the handler set it"
        );
        let mut bare = response(&[]);
        guard.respond(None, &mut bare);
        assert!(bare.headers().get("referrer-policy").is_none());
    }

    #[tokio::test]
    async fn report_only_sends_the_policy_under_the_report_only_name() {
        let guard = api().report_only(true).build().unwrap();
        let res = handle(&guard, &[("content-security-policy", "default-src 'self'")]).await;
        assert_eq!(
            values(&res, "content-security-policy-report-only"),
            ["default-src 'none'; frame-ancestors 'none'"]
        );
        // The enforcing header is no longer the policy's: the handler's own goes out unchanged.
        assert_eq!(values(&res, "content-security-policy"), ["default-src 'self'"]);

        // Both at once: enforce one policy, try a stricter one.
        let guard = helmet()
            .content_security_policy_report_only(ContentSecurityPolicy::api())
            .build()
            .unwrap();
        let mut res = response(&[]);
        guard.respond(None, &mut res);
        assert_eq!(values(&res, "content-security-policy").len(), 1);
        assert_eq!(
            values(&res, "content-security-policy-report-only"),
            ["default-src 'none'; frame-ancestors 'none'"]
        );
    }

    #[tokio::test]
    async fn each_request_gets_its_own_nonce_and_the_handler_sees_the_sent_one() {
        let guard = helmet().csp_nonce(true).build().unwrap();
        assert!(guard.uses_nonce());
        let mut sent = Vec::new();
        for _ in 0..2 {
            let (state, for_handler) = check(&guard).await;
            assert_eq!(state, for_handler);
            let nonce = state.unwrap();
            assert_eq!(
                base64::engine::general_purpose::STANDARD.decode(nonce.as_str()).unwrap().len(),
                16
            );
            let mut res = response(&[]);
            guard.respond(state, &mut res);
            let csp = values(&res, "content-security-policy")[0].to_owned();
            let source = format!("'nonce-{nonce}'");
            assert!(csp.contains(&format!(";script-src 'self' {source};")), "{csp}");
            assert!(csp.contains(&format!(";style-src 'self' https: {source};")), "{csp}");
            assert_eq!(csp.matches(&source).count(), 2);
            sent.push(nonce);
        }
        assert_ne!(sent[0], sent[1]);
    }

    #[tokio::test]
    async fn nonces_go_into_the_report_only_policy_too_and_are_shared_along_a_stack() {
        let inner = api().report_only(true).csp_nonce(true).build().unwrap();
        let outer = helmet().csp_nonce(true).build().unwrap();
        let stack = outer.then(inner);
        let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        let mut req = GuardRequest::new(&head);
        let Decision::Continue(state) = stack.check(&mut req).await else { panic!() };
        let nonce = *req.extensions().get::<CspNonce>().unwrap();
        let mut res = response(&[]);
        stack.respond(state, &mut res);
        let source = format!("'nonce-{nonce}'");
        assert!(values(&res, "content-security-policy")[0].contains(&source));
        assert_eq!(
            values(&res, "content-security-policy-report-only"),
            [format!(
                "default-src 'none'; frame-ancestors 'none'; script-src {source}; style-src {source}"
            )]
        );
    }

    #[tokio::test]
    async fn without_nonces_no_nonce_is_drawn() {
        let guard = api().build().unwrap();
        assert_eq!(check(&guard).await, (None, None));
        // And a nonce-enabled guard given no nonce sends the policy as compiled.
        let guard = api().csp_nonce(true).build().unwrap();
        let mut res = response(&[]);
        guard.respond(None, &mut res);
        assert_eq!(
            values(&res, "content-security-policy"),
            ["default-src 'none'; frame-ancestors 'none'"]
        );
    }

    #[test]
    fn applying_the_policy_allocates_nothing() {
        for guard in [
            api().build().unwrap(),
            helmet().remove_fingerprinting_headers().build().unwrap(),
            api().keep_handler_values(true).report_only(true).build().unwrap(),
        ] {
            let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
            let head = HttpRequestHead::new(&parts, None);

            // On `http` response parts whose map has room for every header...
            let mut res = http::Response::new(()).into_parts().0;
            res.headers = HeaderMap::with_capacity(64);
            res.headers.insert(header::SERVER, "nginx/1.25".parse().unwrap());
            res.headers.insert(header::X_FRAME_OPTIONS, "ALLOWALL".parse().unwrap());
            res.headers.append(header::X_FRAME_OPTIONS, "SAMEORIGIN".parse().unwrap());
            let mut req = GuardRequest::new(&head);
            let info = allocation_counter::measure(|| {
                let Decision::Continue(state) = now(guard.check(&mut req)) else { panic!() };
                guard.respond(state, &mut res);
            });
            assert_eq!(info.count_total, 0, "{info:?}");
            assert!(res.headers.get(header::SERVER).is_none());
            let handler_values = if guard.keeps_handler_values() { 2 } else { 1 };
            assert_eq!(res.headers.get_all(header::X_FRAME_OPTIONS).iter().count(), handler_values);

            // ...and on a guard's early answer.
            let mut answer = GuardResponse::new(StatusCode::TOO_MANY_REQUESTS);
            answer.headers_mut().reserve(64);
            let info = allocation_counter::measure(|| guard.respond(None, &mut answer));
            assert_eq!(info.count_total, 0, "{info:?}");
            assert!(answer.headers().len() >= 10);
        }
    }

    #[test]
    fn only_nonce_mode_allocates_and_only_a_little() {
        let guard = helmet().csp_nonce(true).build().unwrap();
        let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        let mut req = GuardRequest::new(&head);
        let mut res = GuardResponse::new(StatusCode::OK);
        res.headers_mut().reserve(64);
        let mut state = None;
        let checked = allocation_counter::measure(|| {
            let Decision::Continue(s) = now(guard.check(&mut req)) else { panic!() };
            state = s;
        });
        let responded = allocation_counter::measure(|| guard.respond(state, &mut res));
        // The extension map and its entry; the rendered policy.
        assert!(checked.count_total <= 4, "{checked:?}");
        assert!((1..=2).contains(&responded.count_total), "{responded:?}");
    }
}
