//! Cost of verifying an HS256 token through [`guard_jwt::Jwt::authenticate`], as a ratio against
//! a baseline measured in the same group: jsonwebtoken's own `decode` of the same token.

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use guard_bench::now;
use guard_jwt::{JwtPolicy, MemoryRevocationStore, TokenIssuer};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

const SECRET: &str = "a benchmark secret of at least 32 bytes";

/// The claims the reference API's tokens carry.
#[derive(Debug, Clone, serde::Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    jti: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

fn jwt(c: &mut Criterion) {
    // The revocation check runs under a deadline, a Tokio timer: enter a runtime for it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a Tokio runtime");
    let _entered = runtime.enter();

    let issuer =
        TokenIssuer::hs256(SECRET, Duration::from_secs(3600)).expect("a valid token issuer");
    let token = issuer.issue("user-42").expect("a token").token;
    let verify_only = JwtPolicy::hs256(SECRET).build::<Claims>().expect("a valid JWT policy");
    let with_revocation =
        verify_only.clone().with_revocation_store(MemoryRevocationStore::new(100_000));

    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "sub"]);

    // Each way must accept the token before it is timed.
    jsonwebtoken::decode::<Claims>(&token, &key, &validation).expect("jsonwebtoken accepts it");
    now(verify_only.authenticate(&token)).expect("the guard accepts it");
    now(with_revocation.authenticate(&token)).expect("the guard accepts it, not revoked");

    let mut group = c.benchmark_group("jwt_hs256");
    group.bench_function("baseline_jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&token), &key, &validation));
    });
    group.bench_function("jwt_authenticate", |b| {
        b.iter(|| now(verify_only.authenticate(black_box(&token))));
    });
    group.bench_function("jwt_authenticate_with_memory_revocation", |b| {
        b.iter(|| now(with_revocation.authenticate(black_box(&token))));
    });
    group.finish();
}

guard_bench::main!(jwt);
