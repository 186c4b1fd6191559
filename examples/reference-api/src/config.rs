//! Start-up configuration from environment variables; a bad value stops start-up with a message
//! naming the variable and exit code 2.

use std::net::SocketAddr;

/// The servers' configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `GUARD_ADDR`: where to listen (default `127.0.0.1:8080`).
    pub addr: SocketAddr,
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
        Ok(Self { addr })
    }
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
}
