//! Rate limiting that holds one global limit across any number of instances (Redis, one atomic
//! round trip per decision) or in memory on one instance, with the IETF `RateLimit` headers.
//!
//! A [`RateLimitPolicy`] says what to limit: one or more named quotas ([`QuotaPolicy`],
//! `"burst"` 10/1s and `"daily"` 1000/1d), an [`Algorithm`], whom to count ([`Key`]: the client
//! IP behind trusted proxies, the authenticated subject, a header, or anything computed), and
//! what to do when the shared store is down ([`OnStoreFailure`]). [`RateLimitPolicy::build`]
//! checks it once (a typed [`RateLimitError`]) and compiles it onto a [`Store`] into a
//! [`RateLimiter`], which is a [`guard_core::Guard`] for `guard-actix` and `guard-tower`.
//!
//! # What a client sees
//! - On every response of a limited route, admitted or refused, `RateLimit-Policy` and
//!   `RateLimit` in the syntax of the IETF draft, listing every policy:
//!   `RateLimit-Policy: "burst";q=10;w=1, "daily";q=1000;w=86400` and
//!   `RateLimit: "burst";r=9;t=1, "daily";r=999;t=87` (`r` remaining units, `t` seconds until the
//!   policy stops standing in the way: see [`PolicyStatus::reset`]).
//! - When refused: 429 `application/problem+json`
//!   (`tag:guard.rs,2026:problem:rate-limited`) with `Retry-After` in whole seconds, rounded up,
//!   never earlier than the moment the request would be admitted, and equal to the largest `t`
//!   of the refusing policies.
//! - Optionally the legacy `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
//! - When the shared store is down and the policy says fail closed: 503 problem+json with
//!   `Retry-After`.
//!
//! # Algorithms
//! [`Algorithm::Gcra`] (the default), [`Algorithm::SlidingWindow`] (two weighted buckets) and
//! [`Algorithm::FixedWindow`]; each is exact integer arithmetic, identical in memory and in the
//! Redis script:
//!
//! - **GCRA**: emission interval `T = window / limit`, burst tolerance `window − T` (a full
//!   `limit` may pass at once after a quiet period, then one per `T`); the level is kept scaled
//!   by `limit` so that `T` need not be a whole number of milliseconds. Smooth, no window edges,
//!   and a refusal writes nothing.
//! - **Sliding window**: the previous aligned window's count weighted by how much of it still
//!   overlaps the sliding window, plus the current window's count; constant memory per key.
//! - **Fixed window**: starts at a key's first request; simplest, allows up to twice the limit
//!   across a window's end.
//!
//! With several policies, a request is admitted only if every policy admits it, and then it
//! counts against all of them; if any refuses, none is charged. A request may cost more than 1
//! ([`RateLimitPolicy::cost`], [`RateLimitPolicy::cost_fn`]).
//!
//! # Stores
//! - [`MemoryStore`]: sharded, lock-light, bounded in keys with expiry-first eviction; exact on
//!   one instance. Also the local fallback when Redis is down.
//! - `RedisStore` (feature `redis`): one Lua script per decision (`EVALSHA`, reloaded after
//!   `NOSCRIPT`), on the Redis server's clock, standalone or Cluster (every key of a decision
//!   shares one hash tag). A retried call carries the same request id and is never counted
//!   twice. A key that Redis refused until `T` is refused locally until `T` without a round trip
//!   (the block cache). Each call has a deadline (250 ms) and circuit breakers (one per Redis
//!   node, [`guard_core::StoreBreakers`]), which open on evidence of an outage, never on one slow
//!   call, and log once per change of state, never per request.
//!
//! # When the shared store fails
//!
//! | the store | what a request gets |
//! |---|---|
//! | misses one call (a blip: timeout or error while judged healthy) | asked once more with the same request id (counted once); if that misses too, the local limiter decides this request |
//! | is judged down (refused connections, or a failure rate over the breaker's window) | [`OnStoreFailure`]: `FailOpen` admits uncounted, `FailClosed` answers 503 + `Retry-After` at once, `Local` (the default) decides in the local limiter |
//! | comes back | probes close the breaker within its open time (at most 4 s) and Redis decides again |
//!
//! `RateLimiter::warm_up` loads the script (on every master of a Cluster) before the server
//! listens, so the first burst after a deploy pays no `NOSCRIPT` round trip.
//!
//! # Features
//!
//! - `redis` (off by default): `RedisStore`, `Store::Redis`,
//!   `From<RedisConnection> for Store` and `RateLimiter::warm_up`: one limit shared by every
//!   instance, standalone or Cluster. Without it the crate has the memory store only.
//!
//! # Example
//!
//! ```
//! use guard_core::{Decision, Guard, GuardRequest, GuardResponse, HttpRequestHead};
//! use guard_ratelimit::{Key, MemoryStore, RateLimitPolicy};
//! use http::{Request, StatusCode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 2 requests per minute per client IP, in memory (use a `RedisStore` to share the limit).
//! let limiter = RateLimitPolicy::new("auth")
//!     .quota("auth", "2/60s".parse()?)
//!     .key(Key::client_ip())
//!     .build(MemoryStore::default())?;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let (parts, ()) = Request::post("/v1/auth/login").body(())?.into_parts();
//! let head = HttpRequestHead::new(&parts, Some("203.0.113.9:50000".parse()?));
//! // GCRA: a burst of 2, then one request per 30 s.
//! for expected_remaining in [1, 0] {
//!     let mut req = GuardRequest::new(&head);
//!     let Decision::Continue(state) = limiter.check(&mut req).await else { panic!("refused") };
//!     // ...the handler runs; then the guard adds the headers to its response.
//!     let mut res = GuardResponse::new(StatusCode::OK);
//!     limiter.respond(state, &mut res);
//!     assert_eq!(res.headers()["ratelimit-policy"], r#""auth";q=2;w=60"#);
//!     let expected = format!(r#""auth";r={expected_remaining};t=30"#);
//!     assert_eq!(res.headers()["ratelimit"], expected.as_str());
//! }
//!
//! // The third request is refused with a 429 that says when to come back.
//! let mut req = GuardRequest::new(&head);
//! let Decision::Respond(res) = limiter.check(&mut req).await else { panic!("admitted") };
//! assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(res.headers()["retry-after"], "30");
//! assert_eq!(res.headers()["ratelimit"], r#""auth";r=0;t=30"#);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok(())
//! # }
//! ```
//!
//! With Redis (feature `redis`), shared by every instance, failing closed while Redis is down:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use guard_ratelimit::{OnStoreFailure, RateLimitPolicy, RedisStore};
//!
//! let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
//! let limiter = RateLimitPolicy::new("auth")
//!     .quota("burst", "10/1s".parse()?)
//!     .quota("daily", "1000/86400s".parse()?)
//!     .on_store_failure(OnStoreFailure::FailClosed)
//!     .build(store)?;
//! # let _ = limiter;
//! # Ok(()) }
//! ```
//!
//! # Wiring a server from its environment
//!
//! Per client IP on the login routes, per authenticated user elsewhere; in Redis (feature
//! `redis`) when `REDIS_URL` is set (one connection shared with the server's other stores), else
//! in memory:
//!
//! ```no_run
//! use guard_core::TrustedProxies;
//! use guard_ratelimit::{
//!     Key, MemoryStore, OnStoreFailure, Quota, RateLimitPolicy, RateLimiter, Store,
//! };
//!
//! async fn rate_limiters(
//!     redis: Option<guard_core::redis::RedisConnection>,
//! ) -> Result<(RateLimiter, RateLimiter), Box<dyn std::error::Error>> {
//!     let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
//!     let auth: Quota = var("AUTH_RATE_LIMIT", "10/60s").parse()?;
//!     let api: Quota = var("API_RATE_LIMIT", "100/60s").parse()?;
//!     let proxies = TrustedProxies::parse(&var("TRUSTED_PROXIES", ""))?;
//!     let store: Store = match redis {
//!         Some(conn) => conn.into(),
//!         None => MemoryStore::default().into(),
//!     };
//!     let per_ip = RateLimitPolicy::new("rl:auth")
//!         .quota("auth", auth)
//!         .key(Key::client_ip())
//!         .trusted_proxies(proxies.clone())
//!         .on_store_failure(OnStoreFailure::FailClosed)
//!         .build(store.clone())?;
//!     let per_user = RateLimitPolicy::new("rl:api")
//!         .quota("api", api)
//!         .key(Key::subject()) // behind the JWT guard, which leaves the subject
//!         .trusted_proxies(proxies)
//!         .build(store)?;
//!     Ok((per_ip, per_user))
//! }
//! ```

mod algorithm;
#[cfg(feature = "redis")]
mod block_cache;
mod guard;
mod headers;
mod key;
mod policy;
mod quota;
mod store;
#[cfg(test)]
mod tests;

pub use algorithm::{Algorithm, PolicyStatus};
pub use guard::{DecidedBy, RateLimitOutcome, RateLimitState, RateLimiter, Verdict};
/// The clocks, from guard-core: the memory store and the block cache read a [`MonotonicClock`];
/// tests move a [`FakeClock`].
pub use guard_core::{Clock, FakeClock, MonotonicClock};
pub use key::{Key, MissingKey};
pub use policy::{RateLimitError, RateLimitPolicy};
pub use quota::{MAX_LIMIT_TIMES_WINDOW_MS, Quota, QuotaError, QuotaPolicy};
#[cfg(feature = "redis")]
pub use store::RedisStore;
pub use store::{MemoryStore, OnStoreFailure, Store};
