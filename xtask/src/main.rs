//! Project automation for guard, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`).
//!
//! CI logic lives here, in Rust, rather than in shell or CI YAML so that the
//! exact same checks run on a laptop and on the CI machine. The crate is
//! std-only on purpose: it has to compile in seconds on the 2-core CI machine
//! before any real work can start.

mod bench;
mod ci;
mod fuzz;
mod load;
mod redis;
mod stress;

use std::process::ExitCode;

/// Printed by `help` and, on stderr, after a usage error.
const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  ci      Run every CI check in order: fmt, clippy, tests (with a Redis), rustdoc
  bench   Load both example servers (release) and report req/s and latency against a baseline
  fuzz    [seconds]  Every fuzz target under libFuzzer (nightly, cargo-fuzz), 60 s each by default
  stress  [runs]  The login burst on five instances, on Redis and a Cluster, 20 times by
          default: each run's admitted and 503 counts and the store-call latency
  help    Show this message
";

fn main() -> ExitCode {
    let args: Vec<String> =
        std::env::args_os().skip(1).map(|arg| arg.to_string_lossy().into_owned()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    match args.as_slice() {
        ["ci"] => ci::run(),
        ["bench"] => bench::run(),
        ["fuzz"] => fuzz_command(None),
        ["fuzz", seconds] => fuzz_command(Some(seconds)),
        ["stress"] => stress::run(None),
        ["stress", runs] => stress::run(Some(runs)),
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        [] => usage_error("no command given"),
        [command @ ("ci" | "bench" | "fuzz" | "stress" | "help" | "--help" | "-h"), extra, ..] => {
            usage_error(&format!("`{command}` takes no arguments, got `{extra}`"))
        }
        [command, ..] => usage_error(&format!("unknown command `{command}`")),
    }
}

/// `cargo xtask fuzz [seconds]`.
fn fuzz_command(seconds: Option<&str>) -> ExitCode {
    let seconds = match seconds.map(str::parse::<u32>) {
        None => 60,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return usage_error("`fuzz` takes a positive number of seconds"),
    };
    match fuzz::run(&ci::workspace_root(), seconds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Reports a usage error. Exits 2, the conventional status for misuse, so a
/// script can tell "called wrongly" apart from "a check failed" (1).
fn usage_error(message: &str) -> ExitCode {
    eprint!("error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}
