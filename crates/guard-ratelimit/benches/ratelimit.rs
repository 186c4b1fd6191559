//! Cost of one in-memory GCRA decision through the rate-limit guard, as a ratio against a
//! baseline measured in the same group: a `std::collections::HashMap` insert of the client key.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;

use criterion::Criterion;
use guard_bench::now;
use guard_core::{Decision, Guard, GuardRequest, HttpRequestHead};
use guard_ratelimit::{Key, MemoryStore, RateLimitPolicy};
use http::{Request, Response};

const CLIENT: &str = "203.0.113.9";

fn ratelimit(c: &mut Criterion) {
    // A limit no benchmark run can reach, so that every decision admits and counts.
    let limiter = RateLimitPolicy::new("bench")
        .quota("api", "1000000000/1s".parse().expect("a valid quota"))
        .key(Key::client_ip())
        .build(MemoryStore::default())
        .expect("a valid rate-limit policy");

    let (request, ()) = Request::get("/v1/me").body(()).expect("a valid request").into_parts();
    let peer: SocketAddr = format!("{CLIENT}:50000").parse().expect("a socket address");
    let head = HttpRequestHead::new(&request, Some(peer));
    // 1000 clients, one key each, taken in turn.
    let peers: Vec<SocketAddr> = (0..1000u32)
        .map(|i| SocketAddr::from(([198, 51, (i / 250) as u8, (i % 250) as u8], 50000)))
        .collect();
    let heads: Vec<HttpRequestHead<'_>> =
        peers.iter().map(|peer| HttpRequestHead::new(&request, Some(*peer))).collect();

    let mut group = c.benchmark_group("ratelimit");
    let mut map: HashMap<String, u64> = HashMap::new();
    let mut n = 0u64;
    group.bench_function("baseline_std_hashmap_insert", |b| {
        b.iter(|| {
            n += 1;
            map.insert(black_box(CLIENT).to_owned(), n)
        });
    });
    group.bench_function("gcra_memory_check_one_client", |b| {
        b.iter(|| {
            let mut req = GuardRequest::new(black_box(&head));
            match now(limiter.check(&mut req)) {
                Decision::Continue(state) => state,
                Decision::Respond(_) => panic!("the limit is never reached"),
            }
        });
    });
    let mut turn = 0usize;
    group.bench_function("gcra_memory_check_1000_clients", |b| {
        b.iter(|| {
            turn = (turn + 1) % heads.len();
            let mut req = GuardRequest::new(black_box(&heads[turn]));
            match now(limiter.check(&mut req)) {
                Decision::Continue(state) => state,
                Decision::Respond(_) => panic!("the limit is never reached"),
            }
        });
    });
    group.bench_function("gcra_memory_check_and_respond", |b| {
        guard_bench::check_and_respond(b, &limiter, &head, &Response::new(()).into_parts().0);
    });
    group.finish();
}

guard_bench::main!(ratelimit);
