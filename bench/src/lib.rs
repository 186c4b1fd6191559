//! What every guard crate's criterion benchmarks share, written once: polling a guard whose
//! check is ready at once without a runtime ([`now`]), the criterion settings every group uses
//! ([`criterion()`]), and the per-request loop of a guard ([`check_and_respond`]).
//!
//! ```
//! use guard_core::{GuardRequest, HttpRequestHead, RequestIdGuard};
//!
//! let (parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
//! let head = HttpRequestHead::new(&parts, None);
//! let guard = RequestIdGuard::default().trust_incoming(false);
//! let decision = guard_bench::now(guard_core::Guard::check(&guard, &mut GuardRequest::new(&head)));
//! assert!(matches!(decision, guard_core::Decision::Continue(_)));
//! ```

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Bencher, Criterion};
use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};

/// Polls a future that is ready at once (memory stores, header guards), without a runtime: what
/// a benchmark of the guard's own work measures, with no executor around it.
///
/// # Panics
/// When the future is not ready at once: that benchmark needs a runtime.
pub fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future waits: it needs a runtime"),
    }
}

/// The settings of every group: 20 samples, 0.5 s of warm-up, 2 s of measurement (short enough
/// for `cargo xtask bench` on a 2-core machine, long enough for stable medians).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// The `main` of a bench target: one criterion group of the given functions with
/// [`criterion()`]'s settings.
///
/// ```text
/// fn headers(c: &mut criterion::Criterion) { /* ... */ }
/// guard_bench::main!(headers);
/// ```
#[macro_export]
macro_rules! main {
    ($($target:path),+ $(,)?) => {
        criterion::criterion_group! {
            name = benches;
            config = $crate::criterion();
            targets = $($target),+
        }
        criterion::criterion_main!(benches);
    };
}

/// Times one request through `guard`: its check on `head`, then its response step on a fresh
/// copy of `response` (copying it is not timed). The guard must let the request through.
pub fn check_and_respond<G: Guard>(
    b: &mut Bencher<'_>,
    guard: &G,
    head: &HttpRequestHead<'_>,
    response: &http::response::Parts,
) {
    b.iter_batched_ref(
        || clone_parts(response),
        |res| {
            let mut req = GuardRequest::new(black_box(head));
            let Decision::Continue(state) = now(guard.check(&mut req)) else {
                panic!("the benchmarked request is refused");
            };
            guard.respond(state, res);
        },
        BatchSize::SmallInput,
    );
}

/// A copy of a response head (status and headers; the extensions stay behind).
pub fn clone_parts(parts: &http::response::Parts) -> http::response::Parts {
    let (mut copy, ()) = http::Response::new(()).into_parts();
    copy.status = parts.status;
    copy.version = parts.version;
    copy.headers = parts.headers.clone();
    copy
}
