//! What the unit tests of this crate share: a guard run the way an adapter runs it.

use http::{Extensions, Request, StatusCode};

use crate::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};

/// Runs `guard` on `request` from `peer` (`"10.0.0.1:443"`) as an adapter does: its check, then,
/// when it lets the request through, its response step on the handler's answer of `status`.
/// What it left in the extensions (`None`: it answered itself) and the response.
pub(crate) async fn run_guard<G: Guard>(
    guard: &G,
    request: Request<()>,
    peer: Option<&str>,
    status: StatusCode,
) -> (Option<Extensions>, GuardResponse) {
    let (parts, ()) = request.into_parts();
    let head = HttpRequestHead::new(&parts, peer.map(|p| p.parse().expect("a socket address")));
    let mut req = GuardRequest::new(&head);
    match guard.check(&mut req).await {
        Decision::Continue(state) => {
            let mut res = GuardResponse::new(status);
            guard.respond(state, &mut res);
            (Some(req.into_extensions()), res)
        }
        Decision::Respond(res) => (None, res),
    }
}
