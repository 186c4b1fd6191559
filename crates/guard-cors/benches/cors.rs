//! Cost of the CORS guard per request, as a ratio against a baseline measured in the same
//! group: a `HashSet<String>` lookup of the origin string.

use std::collections::HashSet;
use std::hint::black_box;

use criterion::Criterion;
use guard_bench::now;
use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};
use guard_cors::CorsPolicy;
use http::{Request, Response, StatusCode};

const ORIGIN: &str = "https://app.example.com";

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
        guard_bench::check_and_respond(b, &cors, &actual, &Response::new(()).into_parts().0);
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

guard_bench::main!(cors);
