/// Every environment variable the example servers read, as `docs/reference-api.md` lists them.
/// One list, included by the tests and by `cargo xtask bench` (which clear them all before
/// starting a server, so that the caller's environment cannot change what is tested or measured);
/// `Config`'s test checks that it reads exactly these.
pub const VARIABLES: &[&str] = &[
    "GUARD_ADDR",
    "REDIS_URL",
    "REDIS_PREFIX",
    "JWT_SECRET",
    "TOKEN_TTL",
    "CORS_ORIGINS",
    "AUTH_RATE_LIMIT",
    "API_RATE_LIMIT",
    "TRUSTED_PROXIES",
    "STORE_DEADLINE_MS",
    "RUST_LOG",
];
