//! `cargo xtask ci`: every check CI runs, in one command.
//!
//! Steps run in order, cheapest and most likely to fail first, and the run
//! stops at the first failure: fmt → clippy → features → redis → test → doc → fuzz. A summary
//! with each step's duration is printed at the end, whether the run passed or
//! not, so a CI log shows at a glance what failed and where the time went.
//!
//! No extra build flags are added: on a 2-core machine anything that changes
//! `RUSTFLAGS` between steps would rebuild the whole dependency tree again.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::redis;

/// Every step, in the order it runs; the summary lists the ones never reached
/// as skipped.
const PLAN: [&str; 7] = ["fmt", "clippy", "features", "redis", "test", "doc", "fuzz"];

/// Each library crate with each of its feature sets on its own: users pick only what they need,
/// so every crate must build without the features that the rest of the workspace turns on (a
/// workspace build unifies features and would hide a missing `cfg`).
const FEATURE_SETS: &[(&str, &str)] = &[
    ("guard-core", ""),
    ("guard-core", "http02"),
    ("guard-core", "breaker"),
    ("guard-core", "redis"),
    ("guard-headers", ""),
    ("guard-cors", ""),
    ("guard-validate", ""),
    ("guard-ratelimit", ""),
    ("guard-ratelimit", "redis"),
    ("guard-jwt", ""),
    ("guard-jwt", "redis"),
    ("guard-jwt", "jwks"),
    ("guard-actix", ""),
    ("guard-actix", "validate"),
    ("guard-actix", "jwt"),
    ("guard-tower", ""),
    ("guard-tower", "axum"),
    ("guard-tower", "validate"),
    ("guard-tower", "jwt"),
    ("guard-tower", "serve"),
];

/// Runs the whole pipeline and prints the summary.
pub fn run() -> ExitCode {
    let mut ci = Ci { root: workspace_root(), done: Vec::new() };
    let result = ci.run_steps();
    ci.print_summary();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// State of one `ci` run.
struct Ci {
    /// Directory every cargo command runs in.
    root: PathBuf,
    /// Finished steps: name, duration, passed.
    done: Vec<(&'static str, Duration, bool)>,
}

impl Ci {
    /// The steps themselves; `Err` carries the message naming the failed step.
    fn run_steps(&mut self) -> Result<(), String> {
        self.cargo("fmt", &["fmt", "--all", "--", "--check"], Vec::new())?;
        self.cargo(
            "clippy",
            &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"],
            Vec::new(),
        )?;

        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = self.root.clone();
        self.timed("features", || {
            for (krate, features) in FEATURE_SETS {
                let mut args =
                    vec!["check", "--locked", "--quiet", "-p", krate, "--no-default-features"];
                if !features.is_empty() {
                    args.extend(["--features", features]);
                }
                let shown = format!("cargo {}", args.join(" "));
                eprintln!("==> features: {shown}");
                let status = Command::new(&cargo)
                    .args(&args)
                    .current_dir(&root)
                    .status()
                    .map_err(|err| format!("could not run `{shown}`: {err}"))?;
                if !status.success() {
                    return Err(format!("`{shown}` failed ({status})"));
                }
            }
            Ok(())
        })?;

        // Only the tests need Redis, so it is looked for (or started) right
        // before them. `test_redis` owns any server we started: it is dropped
        // (and the server killed) when this function returns, on success and
        // on every `?` alike.
        let test_redis = self.timed("redis", redis::ensure)?;
        let mut test_env = vec![("REDIS_URL", OsString::from(&test_redis.url))];
        if let Some(server) = &test_redis.server {
            // Tests may start extra instances of their own from this binary.
            test_env.push(("GUARD_REDIS_SERVER", server.clone().into_os_string()));
        }
        // Plain `cargo test` runs unit, integration and doc tests in one go.
        // `--no-fail-fast` still fails the step, but only after every test
        // binary ran, so one slow CI round shows all failing crates at once.
        self.cargo("test", &["test", "--workspace", "--locked", "--no-fail-fast"], test_env)?;

        self.cargo(
            "doc",
            &["doc", "--workspace", "--no-deps", "--locked"],
            vec![("RUSTDOCFLAGS", deny_warnings(std::env::var_os("RUSTDOCFLAGS")))],
        )?;

        // Every fuzz target briefly under libFuzzer; the same bodies already ran on stable
        // (seeds and proptest) in the test step, so a machine without nightly loses only the
        // coverage-guided part, and says so.
        let root = self.root.clone();
        self.timed("fuzz", || match crate::fuzz::unavailable() {
            None => crate::fuzz::run(&root, crate::fuzz::CI_SECONDS),
            Some(why) => {
                eprintln!("==> fuzz: skipped: {why}; the stable fallback ran in the test step");
                Ok(())
            }
        })?;
        Ok(())
    }

    /// Runs `cargo <args>` with extra environment variables as step `name`.
    fn cargo(
        &mut self,
        name: &'static str,
        args: &[&str],
        env: Vec<(&str, OsString)>,
    ) -> Result<(), String> {
        // `CARGO` is set by `cargo run`: use the very same cargo (and thus
        // toolchain) that built xtask instead of whatever is first on PATH.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let shown = format!("cargo {}", args.join(" "));
        let root = self.root.clone();
        self.timed(name, || {
            eprintln!("\n==> {name}: {shown}");
            let status = Command::new(&cargo)
                .args(args)
                .envs(env)
                .current_dir(&root)
                .status()
                .map_err(|err| format!("could not run `{shown}`: {err}"))?;
            if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
        })
    }

    /// Runs `step`, records its duration and outcome, and prefixes an error
    /// with the step's name so the last line of a CI log says what broke.
    fn timed<T>(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        let start = Instant::now();
        let result = step();
        self.done.push((name, start.elapsed(), result.is_ok()));
        result.map_err(|err| format!("step `{name}` failed: {err}"))
    }

    /// Prints each step's outcome and duration, then the total.
    fn print_summary(&self) {
        eprintln!("\nci summary:");
        for (name, elapsed, ok) in &self.done {
            let outcome = if *ok { "ok" } else { "FAILED" };
            eprintln!("  {outcome:<8} {name:<7} {:>7.1}s", elapsed.as_secs_f64());
        }
        for name in PLAN.iter().skip(self.done.len()) {
            eprintln!("  {:<8} {name}", "skipped");
        }
        let total: Duration = self.done.iter().map(|(_, elapsed, _)| *elapsed).sum();
        eprintln!("  {:<16} {:>7.1}s", "total", total.as_secs_f64());
    }
}

/// The workspace root, so `cargo xtask ci` behaves the same from any
/// subdirectory. xtask always sits directly below it.
pub fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time too. Prefer that over
    // the compile-time value, which goes stale if the checkout is moved or
    // copied and cargo reuses the binary.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().map_or_else(|| manifest_dir.clone(), Path::to_path_buf)
}

/// `RUSTDOCFLAGS` with `-D warnings` added, keeping flags the caller set
/// rather than silently replacing them.
fn deny_warnings(existing: Option<OsString>) -> OsString {
    match existing {
        Some(mut flags) if !flags.is_empty() => {
            flags.push(" -D warnings");
            flags
        }
        _ => "-D warnings".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_warnings_keeps_existing_rustdocflags() {
        assert_eq!(deny_warnings(None), "-D warnings");
        assert_eq!(deny_warnings(Some("".into())), "-D warnings");
        assert_eq!(deny_warnings(Some("--cfg docsrs".into())), "--cfg docsrs -D warnings");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("xtask").is_dir());
    }
}
