//! The framework-neutral half of the reference API served by `actix-api` and `axum-api`: the
//! start-up configuration and the guard stack. Each server adds only its framework's wiring, so
//! the two behave identically by construction.
//!
//! ```
//! let config = reference_api::Config::from_vars(|name| match name {
//!     "GUARD_ADDR" => Some("127.0.0.1:9000".into()),
//!     _ => None,
//! }).unwrap();
//! assert_eq!(config.addr.port(), 9000);
//! let _stack = reference_api::security_stack(&config).unwrap();
//! ```

pub mod api;
mod config;
mod stack;
pub mod users;
mod variables;

pub use api::Api;
pub use config::{Config, ConfigError};
pub use stack::{
    AuthStack, BearerStack, SecurityStack, StackError, UserStack, auth_stack, security_stack,
    user_stack,
};
pub use variables::VARIABLES;

/// Sends logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (tests) keeps the first subscriber.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Everything a server needs, built from the configuration: the routes' state and one guard
/// stack per route group.
#[derive(Debug)]
pub struct ReferenceApi {
    /// The routes' state.
    pub api: Api,
    /// On every route.
    pub security: SecurityStack,
    /// On `/v1/auth/*`.
    pub auth: AuthStack,
    /// On `/v1/auth/logout` and `/v1/auth/password`, inside `auth`.
    pub bearer: BearerStack,
    /// On the other `/v1` routes.
    pub user: UserStack,
}

/// The server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A variable has a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A guard refused its configuration.
    #[error(transparent)]
    Stack(#[from] StackError),
}

/// Builds the server from its configuration. With `REDIS_URL`, users and rate-limit state live in
/// Redis, shared by every instance (the connection is made now, so a wrong URL stops start-up);
/// else in process memory.
pub async fn build(config: &Config) -> Result<ReferenceApi, StartupError> {
    let redis = match &config.redis_url {
        Some(url) => Some(guard_core::redis::connect(url).await.map_err(|err| ConfigError {
            variable: "REDIS_URL",
            value: guard_core::redis::redact_url(url),
            reason: guard_core::redis::redact_url(&err.to_string()),
        })?),
        None => None,
    };
    let secret = config.jwt_secret.clone().unwrap_or_else(|| {
        tracing::warn!(
            "JWT_SECRET is not set: using a random key for this process; tokens will not survive \
             a restart and other instances will refuse them"
        );
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let policy = guard_jwt::JwtPolicy {
        realm: "guard".into(),
        // RFC 8725 §3.8-3.9: tokens name who issued them and for whom, and both are required.
        issuers: vec![TOKEN_ISSUER.into()],
        audiences: vec![TOKEN_AUDIENCE.into()],
        revocation: guard_jwt::RevocationPolicy {
            max_token_lifetime: config.token_ttl,
            breaker: stack::breaker(config),
            ..guard_jwt::RevocationPolicy::default()
        },
        ..guard_jwt::JwtPolicy::hs256(secret.clone())
    };
    let jwt = policy.build::<api::AccessClaims>().map_err(StackError::from)?;
    let issuer = guard_jwt::TokenIssuer::new(
        &guard_jwt::IssuerPolicy {
            lifetime: config.token_ttl,
            issuer: Some(TOKEN_ISSUER.into()),
            audiences: vec![TOKEN_AUDIENCE.into()],
            ..guard_jwt::IssuerPolicy::default()
        },
        &guard_jwt::SigningKey::Secret(secret),
    )
    .map_err(StackError::from)?;
    let prefix = &config.redis_prefix;
    let (users, jwt, store): (users::UserStore, _, guard_ratelimit::Store) = match redis {
        Some(conn) => (
            users::UserStore::redis(
                conn.clone(),
                format!("{prefix}:users"),
                stack::breaker(config),
            ),
            jwt.with_revocation_store(guard_jwt::RedisRevocationStore::new(
                conn.clone(),
                format!("{prefix}:revoked"),
            )),
            conn.into(),
        ),
        None => (
            users::UserStore::memory(100_000),
            jwt.with_revocation_store(guard_jwt::MemoryRevocationStore::new(100_000)),
            guard_ratelimit::MemoryStore::default().into(),
        ),
    };
    let auth = stack::auth_stack(config, store.clone())?;
    // Warm start: the scripts are loaded (on every master of a Cluster, whose slot map the
    // connection already knows) before the server listens, so the first burst after a deploy
    // meets a ready store rather than NOSCRIPT round trips on a cold connection.
    if let Some(url) = &config.redis_url {
        let warm = async {
            auth.warm_up().await.map_err(|e| e.to_string())?;
            jwt.warm_up().await.map_err(|e| e.to_string())
        };
        warm.await.map_err(|reason| ConfigError {
            variable: "REDIS_URL",
            value: guard_core::redis::redact_url(url),
            reason: format!("cannot prepare the store: {reason}"),
        })?;
    }
    Ok(ReferenceApi {
        api: Api::new(users, jwt.clone(), issuer),
        security: security_stack(config)?,
        auth,
        bearer: jwt.clone(),
        user: stack::user_stack(config, jwt, store)?,
    })
}

/// Stops start-up: prints why on stderr and exits with status 2 (the contract's code for a
/// configuration the server cannot start with).
pub fn exit_on_startup_error(err: impl std::fmt::Display) -> ! {
    eprintln!("error: {err}");
    std::process::exit(2)
}

/// The `iss` of the tokens the servers issue, and the only one they accept.
pub const TOKEN_ISSUER: &str = "guard-reference-api";

/// The `aud` of the tokens the servers issue, and the only one they accept.
pub const TOKEN_AUDIENCE: &str = "guard-reference-api:v1";

/// The body of `GET /health`.
pub const HEALTH_BODY: &str = r#"{"status":"ok"}"#;
