//! Cost of applying the `api()` security headers to a response head, as a ratio against
//! baselines measured in the same group: one header inserted into an empty map, and a clone of
//! the handler's response head.

use std::hint::black_box;

use criterion::{BatchSize, Criterion};
use guard_core::HttpRequestHead;
use http::{HeaderMap, HeaderValue, Request, Response, header};

/// What a handler typically returns: a JSON response head with a framework `Server` header.
fn handler_response() -> http::response::Parts {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.insert(header::SERVER, HeaderValue::from_static("bench"));
    parts
}

fn headers(c: &mut Criterion) {
    let guard = guard_headers::api().build().expect("the api preset builds");
    let (request, ()) = Request::get("/v1/me").body(()).expect("a valid request").into_parts();
    let head = HttpRequestHead::new(&request, None);
    let template = handler_response();

    let mut group = c.benchmark_group("headers");
    group.bench_function("baseline_insert_one_header_into_empty_map", |b| {
        b.iter_batched_ref(
            HeaderMap::new,
            |map| {
                map.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("baseline_clone_response_parts", |b| {
        b.iter(|| black_box(&template).clone());
    });
    group.bench_function("api_check_and_respond", |b| {
        guard_bench::check_and_respond(b, &guard, &head, &template);
    });
    group.finish();
}

guard_bench::main!(headers);
