//! What the unit tests of several modules share.

use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
use http::{Request, StatusCode};

use crate::{CspNonce, SecureHeaders};

/// Runs `check` on a plain GET, returning the state and the nonce left for the handler.
pub(crate) async fn check(
    guard: &impl Guard<State = Option<CspNonce>>,
) -> (Option<CspNonce>, Option<CspNonce>) {
    let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
    let head = HttpRequestHead::new(&parts, None);
    let mut req = GuardRequest::new(&head);
    let Decision::Continue(state) = guard.check(&mut req).await else {
        panic!("the headers guard never answers early")
    };
    (state, req.extensions().get::<CspNonce>().copied())
}

/// A handler's response that already carries `headers`.
pub(crate) fn response(headers: &[(&str, &str)]) -> GuardResponse {
    headers.iter().fold(GuardResponse::new(StatusCode::OK), |res, (name, value)| {
        res.with_header(name.parse().unwrap(), value.parse().unwrap())
    })
}

/// Runs `guard` over a plain GET whose handler answers with `headers`: the response as sent.
pub(crate) async fn handle(guard: &SecureHeaders, headers: &[(&str, &str)]) -> GuardResponse {
    let (state, _) = check(guard).await;
    let mut res = response(headers);
    guard.respond(state, &mut res);
    res
}

/// The words of the code spans in the README between `from` and the next `to`: the lists that
/// the README promises, which the tests hold the code to.
pub(crate) fn readme_words(from: &str, to: &str) -> Vec<&'static str> {
    const README: &str = include_str!("../README.md");
    let start = README.find(from).unwrap_or_else(|| panic!("the README lacks {from:?}"));
    let rest = &README[start + from.len()..];
    let section = &rest[..rest.find(to).unwrap_or_else(|| panic!("no {to:?} after {from:?}"))];
    section.split('`').skip(1).step_by(2).flat_map(str::split_whitespace).collect()
}
