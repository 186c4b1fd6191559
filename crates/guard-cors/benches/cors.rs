//! Cost of the CORS guard per request, as a ratio against a baseline measured in the same
//! group: a `HashSet<String>` lookup of the origin string.

use std::collections::HashSet;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};
use guard_cors::CorsPolicy;
use http::{Request, Response, StatusCode};

const ORIGIN: &str = "https://app.example.com";

/// Polls a future that is ready at once (the CORS guard never waits), without a runtime.
fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the CORS guard never waits"),
    }
}

fn cors(c: &mut Criterion) {
    let allowlist = [ORIGIN, "https://admin.example.com", "http://localhost:3000"];
    let cors = CorsPolicy::new()
        .allow_origins(allowlist)
        .allow_methods(["GET", "POST", "DELETE"])
        .allow_headers(["authorization", "content-type"])
        .expose_headers(["ratelimit", "ratelimit-policy"])
        .allow_credentials(true)
        .build()
        .expect("a valid CORS policy");
    let set: HashSet<String> = allowlist.iter().map(|o| (*o).to_owned()).collect();

    let (actual, ()) = Request::get("/v1/me")
        .header("origin", ORIGIN)
        .body(())
        .expect("a valid request")
        .into_parts();
    let actual = HttpRequestHead::new(&actual, None);
    let (preflight, ()) = Request::options("/v1/me")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "authorization")
        .body(())
        .expect("a valid request")
        .into_parts();
    let preflight = HttpRequestHead::new(&preflight, None);

    let mut group = c.benchmark_group("cors");
    group.bench_function("baseline_hashset_origin_lookup", |b| {
        b.iter(|| set.contains(black_box(ORIGIN)));
    });
    group.bench_function("allowed_actual_request_check_and_respond", |b| {
        b.iter_batched_ref(
            || Response::new(()).into_parts().0,
            |res| {
                let mut req = GuardRequest::new(black_box(&actual));
                let Decision::Continue(state) = now(cors.check(&mut req)) else {
                    panic!("an actual request goes to the handler")
                };
                cors.respond(state, res);
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("allowed_preflight", |b| {
        b.iter(|| {
            let mut req = GuardRequest::new(black_box(&preflight));
            match now(cors.check(&mut req)) {
                Decision::Respond(answer) if answer.status() == StatusCode::NO_CONTENT => answer,
                _ => panic!("an allowed preflight is answered 204"),
            }
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = cors
}
criterion_main!(benches);
