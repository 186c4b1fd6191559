//! `cargo xtask stress [runs]`: the burst test of `tests/tests/burst.rs`, repeated (20 runs by
//! default) with the store latency measured: five release-built processes of each example server
//! on one Redis and on a 3-master Cluster, 200 concurrent logins against a limit of 7. It prints
//! each run's admitted count and 503 count, and the p50/p99/p99.9 of the servers' store calls:
//! the measurement behind the default store deadline. CI runs the same test 3 times.

use std::process::{Command, ExitCode};

use crate::redis;

/// Runs the burst test `runs` times per case.
pub fn run(runs: Option<&str>) -> ExitCode {
    let runs = match runs.map(str::parse::<u32>) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("error: `stress` takes a positive number of runs");
            return ExitCode::from(2);
        }
    };
    let test_redis = match redis::ensure() {
        Ok(redis) => redis,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--locked", "-p", "guard-tests", "--test", "burst", "--"])
        .args(["--nocapture", "--test-threads=1"])
        .env("BURST_RUNS", runs.to_string())
        .env("BURST_STORE_LATENCY", "1")
        .env("REDIS_URL", &test_redis.url);
    if let Some(server) = &test_redis.server {
        cmd.env("GUARD_REDIS_SERVER", server);
    }
    match cmd.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: could not run cargo test: {err}");
            ExitCode::FAILURE
        }
    }
}
