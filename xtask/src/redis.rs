//! Finding, or else starting, the Redis that the tests talk to.
//!
//! In order of preference:
//! 1. `REDIS_URL` from the environment: whoever set it knows best.
//! 2. A server already answering on 127.0.0.1:6379, as on the CI machine,
//!    where Redis runs as a system service.
//! 3. A throwaway `redis-server` from PATH on a free port, without
//!    persistence, killed again when the run ends.
//!
//! Liveness is checked by speaking RESP over a plain `TcpStream`, which keeps
//! xtask free of a Redis client dependency.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// Where a system Redis listens by default.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 6379);

/// How long a freshly started redis-server may take to answer PING. It
/// normally takes a few milliseconds; the slack is for an overloaded machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Shown when no Redis can be found or started.
const INSTALL_HINT: &str = "no Redis available: REDIS_URL is not set, nothing answers PING on \
     127.0.0.1:6379, and redis-server is not on PATH. Install it (Debian/Ubuntu: \
     `apt-get install redis-server`, macOS: `brew install redis`), or set REDIS_URL";

/// The Redis chosen for this run.
pub struct Redis {
    /// URL handed to the tests as `REDIS_URL`.
    pub url: String,
    /// The redis-server binary, if any, handed to the tests as
    /// `GUARD_REDIS_SERVER` so they can start extra instances.
    pub server: Option<PathBuf>,
    /// The server we started ourselves, if any. Never read: it is held only
    /// so that dropping `Redis` stops that server.
    _started: Option<Started>,
}

/// Picks (or starts) a Redis as described in the module docs, printing which.
pub fn ensure() -> Result<Redis, String> {
    // An explicit GUARD_REDIS_SERVER wins over PATH, like REDIS_URL below.
    let server = env::var_os("GUARD_REDIS_SERVER")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .or_else(|| find_on_path("redis-server"));

    if let Some(url) = env::var("REDIS_URL").ok().filter(|url| !url.is_empty()) {
        eprintln!("redis: using REDIS_URL from the environment: {}", redact(&url));
        return Ok(Redis { url, server, _started: None });
    }

    match ping(DEFAULT_ADDR) {
        Ok(()) => {
            eprintln!("redis: using the server already running at {DEFAULT_ADDR}");
            let url = format!("redis://{DEFAULT_ADDR}");
            return Ok(Redis { url, server, _started: None });
        }
        Err(why) => eprintln!("redis: nothing usable at {DEFAULT_ADDR} ({why})"),
    }

    let Some(path) = server else { return Err(INSTALL_HINT.to_owned()) };
    let started = start(&path)?;
    eprintln!(
        "redis: started {} on 127.0.0.1:{} (pid {}); it is stopped when the run ends",
        path.display(),
        started.port,
        started.child.id()
    );
    let url = format!("redis://127.0.0.1:{}", started.port);
    Ok(Redis { url, server: Some(path), _started: Some(started) })
}

/// Sends `PING` to `addr` and expects `+PONG`.
///
/// `Err` says why not, e.g. "connection refused" or a `-NOAUTH` reply, which
/// ends up in the log when the default address is passed over.
pub fn ping(addr: SocketAddr) -> Result<(), String> {
    // Short timeouts: this runs in a polling loop, and a port that accepts but
    // never answers must not stall the run.
    let timeout = Duration::from_millis(500);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|err| err.to_string())?;
    let exchange = |stream: &mut TcpStream| -> io::Result<Vec<u8>> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        // PING as a RESP array of one bulk string.
        stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        // The reply is a single line, but TCP may deliver it in pieces: read
        // up to the CRLF, capped in case something chattier owns the port.
        let mut reply = Vec::new();
        let mut buf = [0; 64];
        while !reply.ends_with(b"\r\n") && reply.len() < 512 {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
        }
        Ok(reply)
    };
    let reply = exchange(&mut stream).map_err(|err| err.to_string())?;
    if reply.starts_with(b"+PONG\r\n") {
        Ok(())
    } else {
        Err(format!("unexpected reply {:?}", String::from_utf8_lossy(&reply)))
    }
}

/// Asks the OS for a TCP port on 127.0.0.1 that is free right now.
///
/// The port is released again before redis-server binds it, so another
/// process could take it in between; `start` copes by retrying.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A redis-server we started. Dropping it kills the server and removes its
/// directory.
struct Started {
    /// The running redis-server.
    child: Child,
    /// Port it listens on, on 127.0.0.1.
    port: u16,
    /// Its private working directory (also holds its log).
    dir: PathBuf,
}

impl Drop for Started {
    fn drop(&mut self) {
        // SIGKILL is fine: there is no persistence, so nothing to flush.
        // Waiting reaps the child, so no zombie outlives the run. If xtask
        // itself is interrupted with Ctrl-C, the server shares its process
        // group and gets the SIGINT too.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Started {
    /// The server's log, to explain a failed start.
    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// Starts `server` on a free port, retrying a couple of times in case the
/// port was taken between choosing and binding it.
fn start(server: &Path) -> Result<Started, String> {
    let mut last_error = String::new();
    for _ in 0..3 {
        match start_once(server) {
            Ok(started) => return Ok(started),
            Err(err) => {
                eprintln!("redis: {err}");
                last_error = err;
            }
        }
    }
    Err(format!("could not start {}: {last_error}", server.display()))
}

/// One attempt of `start`: spawn, then poll PING until it answers.
fn start_once(server: &Path) -> Result<Started, String> {
    let port = free_port().map_err(|err| format!("no free port: {err}"))?;
    // A private directory, so nothing touches the repository or a system
    // Redis's files, even though `--save ""` should mean nothing is written.
    let dir = env::temp_dir().join(format!("guard-xtask-redis-{}-{port}", std::process::id()));
    let log = fs::create_dir_all(&dir)
        .and_then(|()| fs::File::create(dir.join("redis.log")))
        .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    let log_err = log.try_clone().map_err(|err| err.to_string())?;

    let child = Command::new(server)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        // Logs go to a file rather than the CI log; shown only if start fails.
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|err| format!("cannot run {}: {err}", server.display()))?;
    // Owned by `Started` from here on, so every early return below kills it.
    let mut started = Started { child, port, dir };

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = started.child.try_wait() {
            return Err(format!(
                "redis-server exited at startup ({status}); its log:\n{}",
                started.log()
            ));
        }
        if ping(addr).is_ok() {
            return Ok(started);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "redis-server did not answer PING on {addr} within {STARTUP_TIMEOUT:?}; its log:\n{}",
                started.log()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The first executable called `name` on PATH, like `command -v`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

/// Whether `path` is a file we may execute.
#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whether `path` is a file we may execute.
#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// `url` with any credentials replaced by `***`, so they never reach a CI log.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::ToSocketAddrs;

    /// The Redis the tests rely on. Under `cargo xtask ci` it is whatever was
    /// chosen and passed in `REDIS_URL` (possibly one started on another
    /// port); under a plain `cargo test`, the usual local server.
    fn test_redis_addr() -> SocketAddr {
        env::var("REDIS_URL")
            .ok()
            .and_then(|url| {
                let host_port = url.strip_prefix("redis://")?.split('/').next()?.to_owned();
                host_port.to_socket_addrs().ok()?.next()
            })
            .unwrap_or(DEFAULT_ADDR)
    }

    #[test]
    fn ping_gets_pong_from_real_redis() {
        let addr = test_redis_addr();
        assert_eq!(ping(addr), Ok(()), "is Redis running at {addr}?");
    }

    #[test]
    fn ping_rejects_a_server_that_is_not_redis() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut request = [0; 14];
            conn.read_exact(&mut request).expect("read PING");
            assert_eq!(&request, b"*1\r\n$4\r\nPING\r\n");
            conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").expect("reply");
        });
        let err = ping(addr).expect_err("an HTTP reply is not +PONG");
        assert!(err.contains("HTTP/1.1 400"), "{err}");
        server.join().expect("fake server thread");
    }

    #[test]
    fn free_port_can_be_bound_and_nothing_answers_there() {
        let port = free_port().expect("free port");
        assert_ne!(port, 0);
        assert!(ping(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_err());
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("port should still be free");
    }

    #[test]
    fn started_server_answers_and_is_gone_after_drop() {
        // `.ci/run` installs redis-server: a machine without it fails here
        // rather than passing without having tested anything.
        let server = env::var_os("GUARD_REDIS_SERVER")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| find_on_path("redis-server"))
            .expect("redis-server is on PATH (apt-get install redis-server) or GUARD_REDIS_SERVER");
        let started = start(&server).expect("start redis-server");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, started.port));
        let dir = started.dir.clone();
        assert_eq!(ping(addr), Ok(()));
        drop(started);
        assert!(ping(addr).is_err(), "server still answers after drop");
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }

    #[test]
    fn redact_hides_credentials_only() {
        assert_eq!(redact("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact("redis://:secret@host:6379"), "redis://***@host:6379");
        assert_eq!(redact("rediss://user:p@ss@host/1"), "rediss://***@host/1");
        assert_eq!(redact("not a url"), "not a url");
    }
}
