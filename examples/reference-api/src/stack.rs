//! The guard stacks, one per route group, written once for both servers: the security stack on
//! every route, the strict per-IP limit on `/v1/auth/*`, the bearer token (and on `/v1` routes
//! outside `/v1/auth`, the per-user limit) on the authenticated routes.

use guard_core::{AllowedMethods, GuardExt, RequestIdGuard, Stack};
use guard_cors::Cors;
use guard_headers::SecureHeaders;
use guard_jwt::Jwt;
use guard_ratelimit::{Key, OnStoreFailure, RateLimitPolicy, RateLimiter, Store};

use crate::Config;
use crate::api::AccessClaims;

/// The request id outermost (its one log line per request sees every early answer and the final
/// status); security headers next, so that every answer (the handler's and
/// every early answer of the guards inside) carries them; CORS next, so that browsers may read the
/// early answers of the guards inside it (a 405, a 401, a 429); then the method filter.
pub type SecurityStack = Stack<Stack<Stack<RequestIdGuard, SecureHeaders>, Cors>, AllowedMethods>;

/// A guard of the stack was configured wrongly.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The security headers policy is invalid.
    #[error("security headers: {0}")]
    Headers(#[from] guard_headers::HeadersError),
    /// The JWT policy is invalid.
    #[error("jwt: {0}")]
    Jwt(#[from] guard_jwt::JwtError),
    /// A rate limit is invalid.
    #[error("rate limit: {0}")]
    RateLimit(#[from] guard_ratelimit::RateLimitError),
}

/// `/v1/auth/*`: `AUTH_RATE_LIMIT` per client IP (behind `TRUSTED_PROXIES`), failing closed
/// (503) while a shared store is down: login is where guessing happens (OWASP API2).
pub type AuthStack = RateLimiter;

/// Builds the `/v1/auth/*` stack on `store`.
pub fn auth_stack(config: &Config, store: Store) -> Result<AuthStack, StackError> {
    Ok(RateLimitPolicy::new(format!("{}:rl:auth", config.redis_prefix))
        .quota("auth", config.auth_rate_limit)
        .key(Key::client_ip())
        .trusted_proxies(config.trusted_proxies.clone())
        .on_store_failure(OnStoreFailure::FailClosed)
        .breaker(breaker(config))
        .build(store)?)
}

/// The deadline and circuit breaker around every Redis call of the servers' guards.
pub(crate) fn breaker(config: &Config) -> guard_core::BreakerConfig {
    guard_core::BreakerConfig { deadline: config.store_deadline, ..Default::default() }
}

/// Builds the stack: OWASP API headers (`guard_headers::api()`), the configured CORS allowlist,
/// `TRACE`/`CONNECT` refused.
pub fn security_stack(config: &Config) -> Result<SecurityStack, StackError> {
    // A client's own X-Request-Id is kept only from the trusted proxies: nobody else picks
    // the id that names their request in the logs.
    Ok(RequestIdGuard::default()
        .trust_incoming_from(config.trusted_proxies.clone())
        .then(guard_headers::api().build()?)
        .then(config.cors.clone())
        .then(AllowedMethods::default()))
}

/// `/v1/auth/logout` and `/v1/auth/password`: a bearer token (inside the per-IP limit of their
/// group).
pub type BearerStack = Jwt<AccessClaims>;

/// The other `/v1` routes: a bearer token, then `API_RATE_LIMIT` per user (the token's subject,
/// which the JWT guard leaves for the limiter).
pub type UserStack = Stack<Jwt<AccessClaims>, RateLimiter>;

/// Builds the `/v1` (outside `/v1/auth`) stack on `store`.
pub fn user_stack(
    config: &Config,
    jwt: Jwt<AccessClaims>,
    store: Store,
) -> Result<UserStack, StackError> {
    let per_user = RateLimitPolicy::new(format!("{}:rl:api", config.redis_prefix))
        .quota("api", config.api_rate_limit)
        .key(Key::subject())
        .trusted_proxies(config.trusted_proxies.clone())
        .on_store_failure(OnStoreFailure::FailClosed)
        .breaker(breaker(config))
        .build(store)?;
    Ok(jwt.then(per_user))
}
