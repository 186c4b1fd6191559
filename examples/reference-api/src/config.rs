//! Start-up configuration from environment variables; a bad value stops start-up with a message
//! naming the variable and exit code 2.

use std::net::SocketAddr;

use guard_core::TrustedProxies;
use guard_cors::{Cors, CorsPolicy};
use guard_ratelimit::Quota;
use http::header::{HeaderName, RETRY_AFTER};

/// The servers' configuration. Its `Debug` hides the JWT secret and the Redis password.
#[derive(Clone)]
pub struct Config {
    /// `GUARD_ADDR`: where to listen (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `CORS_ORIGINS`: the comma-separated origin allowlist (default `http://localhost:3000`),
    /// validated into the CORS guard at start-up.
    pub cors: Cors,
    /// `REDIS_URL`: where users, revocations and rate-limit state live, shared by every
    /// instance (default: in process memory).
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX`: the namespace of every key this server writes to Redis (default `guard`),
    /// so that several deployments (or test runs) can share one Redis.
    pub redis_prefix: String,
    /// `AUTH_RATE_LIMIT`: per client IP on `/v1/auth/*` (default `10/60s`).
    pub auth_rate_limit: Quota,
    /// `API_RATE_LIMIT`: per user on the other `/v1` routes (default `100/60s`).
    pub api_rate_limit: Quota,
    /// `TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed (default none).
    pub trusted_proxies: TrustedProxies,
    /// `JWT_SECRET`: the HS256 key, at least 32 bytes (default: random per process, with a logged
    /// warning, so tokens do not survive a restart and instances do not accept each other's).
    pub jwt_secret: Option<String>,
    /// `TOKEN_TTL`: access-token lifetime in seconds (default 900, at most one day).
    pub token_ttl: std::time::Duration,
    /// `STORE_DEADLINE_MS`: how long one call to Redis may take before it counts as failed
    /// (default 250 ms, [`guard_core::BreakerConfig`]'s measured default). A call that misses it
    /// is retried once or answered by the guard's fallback; only a failure rate over many calls,
    /// or a refused connection, opens the circuit breaker. Raise it for a Redis across a slow
    /// network.
    pub store_deadline: std::time::Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("cors", &self.cors)
            .field("redis_url", &self.redis_url.as_deref().map(guard_core::redis::redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("auth_rate_limit", &self.auth_rate_limit)
            .field("api_rate_limit", &self.api_rate_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "(hidden)"))
            .field("token_ttl", &self.token_ttl)
            .field("store_deadline", &self.store_deadline)
            .finish()
    }
}

/// `var`, or `default` when unset or empty.
fn or_default(var: &impl Fn(&str) -> Option<String>, name: &str, default: &str) -> String {
    var(name).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Parses `name`'s value (or `default`) with `parse`, naming the variable on failure.
fn parsed<T, E: std::fmt::Display>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    let value = or_default(var, name, default);
    parse(value.trim()).map_err(|err| ConfigError {
        variable: name,
        reason: err.to_string(),
        value,
    })
}

/// A variable with a value the server cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {reason} (got `{value}`)")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration, or prints why not and exits with status 2.
    pub fn from_env_or_exit() -> Self {
        Self::from_env().unwrap_or_else(|err| crate::exit_on_startup_error(err))
    }

    /// Reads the configuration through `var` (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let addr = match var("GUARD_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(value) => value.parse().map_err(|_| ConfigError {
                variable: "GUARD_ADDR",
                reason: "expected an IP address and port such as 127.0.0.1:8080".into(),
                value,
            })?,
        };
        let origins = var("CORS_ORIGINS").unwrap_or_else(|| "http://localhost:3000".into());
        let cors = cors_policy(&origins).map_err(|reason| ConfigError {
            variable: "CORS_ORIGINS",
            value: origins.clone(),
            reason,
        })?;
        let redis_url = var("REDIS_URL").filter(|url| !url.trim().is_empty());
        let redis_prefix = parsed(&var, "REDIS_PREFIX", "guard", |p| {
            let plain = p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
            if plain && !p.is_empty() && p.len() <= 64 {
                Ok(p.to_owned())
            } else {
                Err("expected 1 to 64 letters, digits, '-', '_', ':' or '.'")
            }
        })?;
        let auth_rate_limit = parsed(&var, "AUTH_RATE_LIMIT", "10/60s", str::parse::<Quota>)?;
        let api_rate_limit = parsed(&var, "API_RATE_LIMIT", "100/60s", str::parse::<Quota>)?;
        let trusted_proxies = parsed(&var, "TRUSTED_PROXIES", "", TrustedProxies::parse)?;
        let jwt_secret = match var("JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError {
                    variable: "JWT_SECRET",
                    value: "(hidden)".into(),
                    reason: format!("must be at least 32 bytes, got {}", secret.len()),
                });
            }
            other => other,
        };
        let token_ttl = parsed(&var, "TOKEN_TTL", "900", |v| match v.parse::<u64>() {
            Ok(secs) if (1..=86_400).contains(&secs) => Ok(std::time::Duration::from_secs(secs)),
            _ => Err("expected whole seconds from 1 to 86400"),
        })?;
        let default_deadline =
            guard_core::BreakerConfig::default().deadline.as_millis().to_string();
        let store_deadline =
            parsed(&var, "STORE_DEADLINE_MS", &default_deadline, |v| match v.parse::<u64>() {
                Ok(ms) if (1..=10_000).contains(&ms) => Ok(std::time::Duration::from_millis(ms)),
                _ => Err("expected whole milliseconds from 1 to 10000"),
            })?;
        Ok(Self {
            addr,
            cors,
            redis_url,
            redis_prefix,
            auth_rate_limit,
            api_rate_limit,
            trusted_proxies,
            jwt_secret,
            token_ttl,
            store_deadline,
        })
    }
}

/// Browsers may send credentials and read the rate-limit and retry headers; `Authorization` and
/// `Content-Type` are allowed request headers (the CORS defaults).
fn cors_policy(origins: &str) -> Result<Cors, String> {
    CorsPolicy::new()
        .allow_origin_list(origins)
        .and_then(|policy| {
            policy
                .allow_credentials(true)
                .expose_headers([
                    HeaderName::from_static("ratelimit"),
                    HeaderName::from_static("ratelimit-policy"),
                    RETRY_AFTER,
                ])
                .build()
        })
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_read_exactly_the_listed_variables() {
        let asked = std::sync::Mutex::new(Vec::new());
        Config::from_vars(|name| {
            asked.lock().unwrap().push(name.to_owned());
            None
        })
        .unwrap();
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        asked.dedup();
        // RUST_LOG is read by the log filter (`init_tracing`), not by `Config`.
        let mut listed: Vec<String> =
            crate::VARIABLES.iter().filter(|v| **v != "RUST_LOG").map(|v| v.to_string()).collect();
        listed.sort();
        assert_eq!(asked, listed);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = Config::from_vars(|name| match name {
            "REDIS_URL" => Some("redis://default:s3cret@db:6379".into()),
            "JWT_SECRET" => Some("a-jwt-secret-of-at-least-32-bytes!!".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("a-jwt-secret"), "{shown}");
        assert!(shown.contains("redis://***@db:6379"), "{shown}");
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        assert_eq!(Config::from_vars(|_| None).unwrap().addr, "127.0.0.1:8080".parse().unwrap());
        let err = Config::from_vars(|_| Some("localhost".into())).unwrap_err();
        assert_eq!(err.variable, "GUARD_ADDR");
        assert!(err.to_string().starts_with("GUARD_ADDR: "), "{err}");
    }

    #[test]
    fn limits_proxies_and_prefix_are_validated_at_start_up() {
        let with = |name: &'static str, value: &'static str| {
            Config::from_vars(move |n| (n == name).then(|| value.to_owned()))
        };
        assert_eq!(
            with("AUTH_RATE_LIMIT", "7/1s").unwrap().auth_rate_limit,
            "7/1s".parse().unwrap()
        );
        for (name, bad) in [
            ("AUTH_RATE_LIMIT", "ten per minute"),
            ("API_RATE_LIMIT", "0/60s"),
            ("TRUSTED_PROXIES", "10.0.0.0/8,not-a-net"),
            ("REDIS_PREFIX", "a b"),
            ("JWT_SECRET", "too short"),
            ("TOKEN_TTL", "0"),
            ("TOKEN_TTL", "15m"),
            ("STORE_DEADLINE_MS", "0"),
        ] {
            assert_eq!(with(name, bad).unwrap_err().variable, name, "{bad}");
        }
    }

    #[test]
    fn cors_origins_are_validated_at_start_up() {
        let with = |origins: &'static str| {
            Config::from_vars(move |name| (name == "CORS_ORIGINS").then(|| origins.to_owned()))
        };
        assert!(with("https://app.example.com, http://localhost:3000").is_ok());
        for bad in ["https://app.example.com/", "*", "app.example.com", "null"] {
            let err = with(bad).unwrap_err();
            assert_eq!(err.variable, "CORS_ORIGINS", "{bad}");
        }
    }
}
