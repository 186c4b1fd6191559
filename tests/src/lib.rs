//! Helpers for the cross-crate tests: running the example servers as real processes.

pub mod harness;
pub mod logs;
pub mod proxy;
pub mod redis_server;

/// Every README's Rust examples, compiled (and run, unless marked `no_run` because they serve)
/// as doctests of this crate, which depends on every guard crate and both frameworks: what a
/// new user pastes from a README must build as it is.
#[cfg(doctest)]
pub mod readmes {
    #[doc = include_str!("../../README.md")]
    pub struct Workspace;
    #[doc = include_str!("../../crates/guard-core/README.md")]
    pub struct GuardCore;
    #[doc = include_str!("../../crates/guard-headers/README.md")]
    pub struct GuardHeaders;
    #[doc = include_str!("../../crates/guard-cors/README.md")]
    pub struct GuardCors;
    #[doc = include_str!("../../crates/guard-jwt/README.md")]
    pub struct GuardJwt;
    #[doc = include_str!("../../crates/guard-ratelimit/README.md")]
    pub struct GuardRatelimit;
    #[doc = include_str!("../../crates/guard-validate/README.md")]
    pub struct GuardValidate;
    #[doc = include_str!("../../crates/guard-actix/README.md")]
    pub struct GuardActix;
    #[doc = include_str!("../../crates/guard-tower/README.md")]
    pub struct GuardTower;
}

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The example server binaries, one per framework: every behaviour test runs against both.
pub const EXAMPLES: [&str; 2] = ["actix-api", "axum-api"];

// `VARIABLES`: every variable the example servers read (one list, shared with the servers and
// `cargo xtask bench`).
include!("../../examples/reference-api/src/variables.rs");

/// The path of an example binary, built once per test process with the same cargo and profile
/// that runs the tests (so it is up to date with the code under test).
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let profile = if cfg!(debug_assertions) { "dev" } else { "release" };
    built_binary(&BUILT, profile, name)
}

/// The cargo profile of the example servers that load and fault tests run: what users deploy,
/// not a debug build. Building both servers in release costs about 3.5 minutes on the 2-core CI
/// machine, once per CI run (measured), which the 40-minute budget affords.
pub const LOAD_TEST_PROFILE: &str = "release";

/// The path of an example binary built with [`LOAD_TEST_PROFILE`], once per test process.
pub fn optimized_example_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    built_binary(&BUILT, LOAD_TEST_PROFILE, name)
}

fn built_binary(built: &OnceLock<Result<(), String>>, profile: &str, name: &str) -> PathBuf {
    let built = built.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "--locked", "--profile", profile]);
        for example in EXAMPLES {
            cmd.args(["-p", example]);
        }
        match cmd.status() {
            Ok(status) if status.success() => Ok(()),
            other => Err(format!("building the example servers ({profile}) failed: {other:?}")),
        }
    });
    if let Err(err) = built {
        panic!("{err}");
    }
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile dir>/deps/<test> -> target/<dir of `profile`>/<name>
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .and_then(|dir| dir.parent())
        .expect("test binary in target/<profile>/deps");
    let dir = match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    };
    target.join(dir).join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The Redis the tests share (`REDIS_URL`, set by `cargo xtask ci`), never emptied: give every
/// test a key prefix of its own ([`unique`]).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A name no other call in any test process returns: `tag`, then letters and digits, at most 20
/// characters in all (a valid username and Redis key prefix).
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let id = format!(
        "{tag}{:x}{:x}{}",
        std::process::id() % 4096,
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    );
    id.chars().take(20).collect()
}

/// A free TCP port on the loopback interface (released before returning, so there is a small
/// race, which retrying start-up covers).
pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("a bound socket has an address")
}

/// Starts example `name` with only `env` (as [`ExampleServer::start`] does, but the caller chooses
/// `GUARD_ADDR` too), expecting start-up to fail: asserts that it exits with code 2, the code of
/// a configuration error, and returns what it printed on stderr.
pub fn failed_start_up(name: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(example_binary(name));
    for var in VARIABLES {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap_or_else(|e| panic!("start {name}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    stderr
}

/// An example server running as a child process, killed when dropped.
#[derive(Debug)]
pub struct ExampleServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Which example it is.
    pub name: &'static str,
    /// Where its stderr (the logs) goes.
    pub log: PathBuf,
}

impl ExampleServer {
    /// Starts example `name` with `env` on a free port and waits until `/health` answers.
    pub async fn start(name: &'static str, env: &[(&str, &str)]) -> Self {
        Self::start_binary(example_binary(name), name, env).await
    }

    /// Starts example `name` built with [`LOAD_TEST_PROFILE`] (for load and fault tests).
    pub async fn start_optimized(name: &'static str, env: &[(&str, &str)]) -> Self {
        Self::start_binary(optimized_example_binary(name), name, env).await
    }

    /// Starts `bin` (example `name`) with `env` on a free port and waits until `/health` answers.
    pub async fn start_binary(bin: PathBuf, name: &'static str, env: &[(&str, &str)]) -> Self {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let addr = free_addr();
            let log = std::env::temp_dir().join(format!(
                "guard-{name}-{}-{}.log",
                std::process::id(),
                addr.port()
            ));
            let stderr = std::fs::File::create(&log).expect("create the server's log file");
            let mut cmd = Command::new(&bin);
            // Only what the test passes: the test process's own environment (CI exports
            // REDIS_URL for the tests) must not turn a memory-mode server into a Redis one.
            for var in VARIABLES {
                cmd.env_remove(var);
            }
            cmd.env("GUARD_ADDR", addr.to_string())
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
            let mut server = Self { child, addr, name, log };
            match server.wait_healthy(Duration::from_secs(20)).await {
                Ok(()) => return server,
                Err(err) => last_err = err,
            }
        }
        panic!("{name} did not become healthy: {last_err}")
    }

    /// What the server logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most `within`) for the process to exit; its exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `http://<addr>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn wait_healthy(&mut self, within: Duration) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if let Ok(res) = client.get(self.url("/health")).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("no healthy answer in time".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
