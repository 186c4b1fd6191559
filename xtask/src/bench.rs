//! `cargo xtask bench`: both example servers under load, as ratios against a baseline.
//!
//! Builds `actix-api` and `axum-api` in release, starts each on a free loopback port (memory
//! stores, rate limits out of reach) and drives a fixed number of requests per scenario over
//! keep-alive connections, one thread each:
//!
//! - `GET /health`: the security stack only (headers, CORS, request id, methods);
//! - `GET /v1/me` with a bearer token (a user registered and logged in first): the stack plus
//!   JWT verification, the revocation check and the per-user rate limit.
//!
//! The baseline of the same run is a trivial std-only server inside this process answering a
//! fixed `200 {"status":"ok"}`, driven by the same load generator with the same request bytes.
//! Each server and scenario is reported as requests per second, the ratio to the baseline's,
//! and p50/p99 latency. Absolute numbers depend on the machine; the ratios are what to compare
//! between runs.
//!
//! Each run is bounded in requests and in time and stops by itself; only loopback is used.
//! The exit status is non-zero only when a server fails to start or answers an unexpected
//! status (or the connection breaks): never because of timings. `GUARD_BENCH_REQUESTS`
//! overrides the number of measured requests per scenario (default 50000).

use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use crate::load::{CONNECTIONS, Conn, IO_TIMEOUT, Reply, Run, drive, fill, find, request_bytes};
use std::time::{Duration, Instant};

/// The example servers, in the order they are reported.
const SERVERS: [&str; 2] = ["actix-api", "axum-api"];

/// Measured requests per scenario and target, unless `GUARD_BENCH_REQUESTS` says otherwise.
const DEFAULT_REQUESTS: usize = 50_000;

/// Requests sent before each measurement and not counted (connections, caches, allocators).
const WARM_UP_REQUESTS: usize = 1_000;

/// How long a server may take to answer `/health` after it was started.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// The baseline's one answer, the same bytes for every request.
const BASELINE_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
content-length: 15\r\n\r\n{\"status\":\"ok\"}";

// `VARIABLES`: every variable the example servers read (one list, shared with the servers and
// the tests), removed before a server starts so that the caller's environment (a `REDIS_URL`
// exported for the tests, say) cannot change what is measured.
include!("../../examples/reference-api/src/variables.rs");

/// A scenario: its name, and its request given the server's access token.
type Scenario = (&'static str, fn(&str) -> Vec<u8>);

/// What is measured, in order.
const SCENARIOS: [Scenario; 2] = [("GET /health", health_request), ("GET /v1/me", me_request)];

/// `GET /health`: through the security stack only.
fn health_request(_token: &str) -> Vec<u8> {
    request_bytes("GET", "/health", &[], b"")
}

/// `GET /v1/me` with the bearer token: JWT, revocation check and per-user rate limit too.
fn me_request(token: &str) -> Vec<u8> {
    request_bytes("GET", "/v1/me", &[("Authorization", &format!("Bearer {token}"))], b"")
}

/// The password of the benchmark user (at least 12 characters, as the API requires).
const PASSWORD: &str = "a benchmark password";

/// Runs the load benchmark and prints the table.
pub fn run() -> ExitCode {
    match bench() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: some requests were answered with an unexpected status (see above)");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything but the exit status: `Ok(false)` when some answer was unexpected.
fn bench() -> Result<bool, String> {
    let requests = match std::env::var("GUARD_BENCH_REQUESTS") {
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("GUARD_BENCH_REQUESTS: `{value}` is not a positive number")),
        },
        Err(_) => DEFAULT_REQUESTS,
    };
    let root = crate::ci::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    build_servers(&cargo, &root)?;
    let release_dir = target_dir(&cargo, &root)?.join("release");

    let baseline = BaselineServer::start().map_err(|e| format!("baseline server: {e}"))?;
    let mut servers = Vec::new();
    for name in SERVERS {
        let bin = release_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        eprintln!("==> starting {name}");
        let server = Server::start(name, &bin)?;
        let token = server.log_in()?;
        servers.push((server, token));
    }

    let mut rows = Vec::new();
    let mut all_expected = true;
    for (scenario, request) in SCENARIOS {
        // The baseline ignores the request; it gets the same bytes as the first server.
        let baseline_request = request(&servers[0].1);
        let base = measure(scenario, "baseline", baseline.addr, &baseline_request, requests)?;
        let base_rps = base.per_second();
        all_expected &= base.report_unexpected(scenario, "baseline");
        rows.push(Row::new(scenario, "baseline", &base, base_rps));
        for (server, token) in &mut servers {
            let run = measure(scenario, server.name, server.addr, &request(token), requests)?;
            all_expected &= run.report_unexpected(scenario, server.name);
            rows.push(Row::new(scenario, server.name, &run, base_rps));
            if let Some(status) = server.exited() {
                return Err(format!("{} exited during the run ({status})", server.name));
            }
        }
    }
    print_table(&rows, requests);
    drop(servers);
    drop(baseline);
    Ok(all_expected)
}

/// `cargo build --release -p actix-api -p axum-api`.
fn build_servers(cargo: &OsString, root: &Path) -> Result<(), String> {
    let mut args = vec!["build", "--release"];
    for name in SERVERS {
        args.extend(["-p", name]);
    }
    let shown = format!("cargo {}", args.join(" "));
    eprintln!("==> {shown}");
    let status = Command::new(cargo)
        .args(&args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
}

/// The workspace's target directory, as cargo resolves it (`CARGO_TARGET_DIR`, config, ...).
fn target_dir(cargo: &OsString, root: &Path) -> Result<PathBuf, String> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`cargo metadata` failed ({})", out.status));
    }
    let json = String::from_utf8_lossy(&out.stdout);
    json_string(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` printed no target_directory".into())
}

/// The string value of the first `"key":"..."` in `json`, unescaped (enough for paths and
/// tokens: `\"`, `\\`, `\/`; anything else is kept as written).
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                escaped @ ('"' | '\\' | '/') => value.push(escaped),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            c => value.push(c),
        }
    }
    None
}

/// Warms up, then measures `requests` requests of `request` against `addr`.
fn measure(
    scenario: &str,
    target: &str,
    addr: SocketAddr,
    request: &[u8],
    requests: usize,
) -> Result<Run, String> {
    eprintln!("==> {target}: {scenario} ({requests} requests, {CONNECTIONS} connections)");
    let warm_up = drive(addr, request, WARM_UP_REQUESTS.min(requests));
    if !warm_up.report_unexpected(scenario, &format!("{target} (warm-up)")) {
        return Err(format!("{target} answered {scenario} unexpectedly during the warm-up"));
    }
    Ok(drive(addr, request, requests))
}

/// The baseline: a std-only keep-alive server answering every request with the same bytes,
/// one thread per connection.
struct BaselineServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl BaselineServer {
    fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let acceptor = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    thread::spawn(move || serve_baseline(stream));
                }
            }
        });
        Ok(Self { addr, stop, acceptor: Some(acceptor) })
    }
}

impl Drop for BaselineServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the blocked `accept`, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Answers each complete request head on `stream` with [`BASELINE_RESPONSE`] until the client
/// closes (requests without bodies only: what the load generator sends).
fn serve_baseline(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() || stream.set_read_timeout(Some(IO_TIMEOUT)).is_err() {
        return;
    }
    let mut buf = Vec::with_capacity(4096);
    loop {
        while let Some(pos) = find(&buf, b"\r\n\r\n") {
            buf.drain(..pos + 4);
            if stream.write_all(BASELINE_RESPONSE).is_err() {
                return;
            }
        }
        if fill(&mut stream, &mut buf).is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// An example server running as a child process, killed when dropped.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `bin` on a free port and waits until `/health` answers 200; a few attempts, as
    /// the free port may be taken between finding and binding it.
    fn start(name: &'static str, bin: &Path) -> Result<Self, String> {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let addr = free_addr().map_err(|e| format!("no free port: {e}"))?;
            let log = std::env::temp_dir().join(format!(
                "guard-bench-{name}-{}-{}.log",
                std::process::id(),
                addr.port()
            ));
            let stderr = std::fs::File::create(&log)
                .map_err(|e| format!("create {}: {e}", log.display()))?;
            let mut cmd = Command::new(bin);
            for var in VARIABLES {
                cmd.env_remove(var);
            }
            cmd.env("GUARD_ADDR", addr.to_string())
                .env("AUTH_RATE_LIMIT", "1000000/1s")
                .env("API_RATE_LIMIT", "1000000/1s")
                .env("JWT_SECRET", "a fixed benchmark secret, 32 bytes or more")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            let child = cmd.spawn().map_err(|e| format!("start {}: {e}", bin.display()))?;
            let mut server = Self { name, addr, child, log };
            match server.wait_healthy() {
                Ok(()) => return Ok(server),
                Err(err) => {
                    last_err = format!("{err}\n--- its log ---\n{}", server.log_tail());
                }
            }
        }
        Err(format!("{name} did not start: {last_err}"))
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        let health = request_bytes("GET", "/health", &[], b"");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if let Ok(reply) = Conn::new(self.addr).send(&health)
                && reply.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no 200 from /health within {START_DEADLINE:?}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Registers a user and logs in; the access token.
    fn log_in(&self) -> Result<String, String> {
        let username = format!("bench{}", std::process::id());
        let json = [("Content-Type", "application/json")];
        let mut conn = Conn::new(self.addr);
        let register = format!(
            r#"{{"username":"{username}","email":"{username}@example.com","password":"{PASSWORD}"}}"#
        );
        let reply = conn
            .send(&request_bytes("POST", "/v1/auth/register", &json, register.as_bytes()))
            .map_err(|e| format!("{}: register: {e}", self.name))?;
        self.expect("register", 201, &reply)?;
        let login = format!(r#"{{"username":"{username}","password":"{PASSWORD}"}}"#);
        let reply = conn
            .send(&request_bytes("POST", "/v1/auth/login", &json, login.as_bytes()))
            .map_err(|e| format!("{}: login: {e}", self.name))?;
        self.expect("login", 200, &reply)?;
        json_string(&String::from_utf8_lossy(&reply.body), "access_token")
            .ok_or_else(|| format!("{}: login answered no access_token", self.name))
    }

    fn expect(&self, what: &str, status: u16, reply: &Reply) -> Result<(), String> {
        if reply.status == status {
            return Ok(());
        }
        let body = String::from_utf8_lossy(&reply.body);
        Err(format!(
            "{}: {what} answered {} (expected {status}): {body:.300}",
            self.name, reply.status
        ))
    }

    /// The exit status, if the server is no longer running.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A free TCP port on the loopback interface (released before returning).
fn free_addr() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// One line of the table.
struct Row {
    scenario: &'static str,
    target: &'static str,
    done: usize,
    per_second: f64,
    ratio: f64,
    p50: Duration,
    p99: Duration,
}

impl Row {
    fn new(scenario: &'static str, target: &'static str, run: &Run, baseline: f64) -> Self {
        let per_second = run.per_second();
        Self {
            scenario,
            target,
            done: run.done,
            per_second,
            ratio: per_second / baseline.max(f64::MIN_POSITIVE),
            p50: run.percentile(50),
            p99: run.percentile(99),
        }
    }
}

fn print_table(rows: &[Row], requests: usize) {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "{requests} requests per row over {CONNECTIONS} keep-alive connections, after \
         {WARM_UP_REQUESTS} warm-up requests; {cores} cores; baseline: a std-only server answering \
         fixed bytes, same run"
    );
    println!(
        "{:<12} {:<10} {:>9} {:>10} {:>12} {:>9} {:>9}",
        "scenario", "server", "requests", "req/s", "vs baseline", "p50 ms", "p99 ms"
    );
    for row in rows {
        println!(
            "{:<12} {:<10} {:>9} {:>10.0} {:>12.3} {:>9.3} {:>9.3}",
            row.scenario,
            row.target,
            row.done,
            row.per_second,
            row.ratio,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_reads_and_unescapes_a_value() {
        let json = r#"{"a":1,"target_directory":"C:\\t\/x \"y\"","b":"c"}"#;
        assert_eq!(json_string(json, "target_directory").as_deref(), Some(r#"C:\t/x "y""#));
        assert_eq!(json_string(json, "missing"), None);
    }

    #[test]
    fn the_load_generator_drives_the_baseline_and_reads_every_answer() {
        let baseline = BaselineServer::start().expect("the baseline starts");
        let run = drive(baseline.addr, &request_bytes("GET", "/health", &[], b""), 200);
        assert_eq!(run.done, 200);
        assert_eq!(run.unexpected, 0);
        assert!(run.samples.is_empty(), "{:?}", run.samples);
        assert_eq!(run.latencies.len(), 200, "one latency per answer");
        let mut conn = Conn::new(baseline.addr);
        for _ in 0..3 {
            let reply = conn.send(&request_bytes("GET", "/", &[], b"")).expect("an answer");
            assert_eq!((reply.status, reply.body.as_slice()), (200, &b"{\"status\":\"ok\"}"[..]));
            assert!(conn.stream.is_some(), "the connection is kept alive");
        }
    }
}
