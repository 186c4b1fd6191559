//! Start-up configuration from environment variables; a bad value stops start-up with a message
//! naming the variable and exit code 2.

use std::net::SocketAddr;

use guard_cors::{Cors, CorsPolicy};
use http::header::{HeaderName, RETRY_AFTER};

/// The servers' configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `GUARD_ADDR`: where to listen (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `CORS_ORIGINS`: the comma-separated origin allowlist (default `http://localhost:3000`),
    /// validated into the CORS guard at start-up.
    pub cors: Cors,
    /// `REDIS_URL`: where users, revocations and rate-limit state live, shared by every
    /// instance (default: in process memory).
    pub redis_url: Option<String>,
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
        Self::from_env().unwrap_or_else(|err| {
            eprintln!("error: {err}");
            std::process::exit(2)
        })
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
        Ok(Self { addr, cors, redis_url })
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
    fn defaults_and_errors_name_the_variable() {
        assert_eq!(Config::from_vars(|_| None).unwrap().addr, "127.0.0.1:8080".parse().unwrap());
        let err = Config::from_vars(|_| Some("localhost".into())).unwrap_err();
        assert_eq!(err.variable, "GUARD_ADDR");
        assert!(err.to_string().starts_with("GUARD_ADDR: "), "{err}");
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
