//! Private Redis servers and clusters for tests: real `redis-server` processes on free loopback
//! ports, without persistence, killed when dropped.
//!
//! The binary is `GUARD_REDIS_SERVER` when set, else `redis-server` on `PATH`; `redis-cli` (used
//! once, to create a cluster) is looked for next to it, then on `PATH`.
//!
//! ```no_run
//! use guard_tests::redis_server::{RedisCluster, RedisServer};
//!
//! let mut server = RedisServer::start();
//! assert_eq!(server.command(&["PING"]).unwrap(), "PONG");
//! server.kill(); // an outage...
//! server.restart(); // ...and recovery, on the same port
//!
//! let cluster = RedisCluster::start(3);
//! println!("{}", cluster.url()); // redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::free_addr;

/// How long a fresh server may take to answer `PING` (it normally takes milliseconds).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new cluster may take to agree that every slot is served.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);

/// The `redis-server` binary: `GUARD_REDIS_SERVER`, else the one on `PATH`.
pub fn redis_server_binary() -> PathBuf {
    std::env::var_os("GUARD_REDIS_SERVER")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| find_on_path("redis-server"))
        .unwrap_or_else(|| {
            panic!(
                "redis-server not found: install it (apt-get install redis-server) or set \
                 GUARD_REDIS_SERVER"
            )
        })
}

fn redis_cli_binary() -> PathBuf {
    let server = redis_server_binary();
    let sibling = server.with_file_name(format!("redis-cli{}", std::env::consts::EXE_SUFFIX));
    if sibling.is_file() {
        return sibling;
    }
    find_on_path("redis-cli").unwrap_or_else(|| panic!("redis-cli not found next to {server:?}"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
}

/// A directory under the system temp dir, removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "guard-redis-{tag}-{}-{n}-{}",
            std::process::id(),
            nanos()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {path:?}: {e}"));
        Self(path)
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A private `redis-server` on a free loopback port, without persistence; killed when dropped.
///
/// [`kill`](Self::kill) and [`restart`](Self::restart) simulate an outage and a recovery on the
/// same port, so clients configured with [`url`](Self::url) reconnect by themselves.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    addr: SocketAddr,
    extra_args: Vec<String>,
    dir: TempDir,
}

impl RedisServer {
    /// Starts a standalone server and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `["--cluster-enabled", "yes"]`);
    /// `{dir}` in an argument stands for the server's private data directory.
    pub fn start_with(extra_args: &[&str]) -> Self {
        let extra_args: Vec<String> = extra_args.iter().map(|s| (*s).to_owned()).collect();
        let mut last_err = String::new();
        // The free port is released before redis-server binds it: retry on the rare race.
        for _ in 0..5 {
            let dir = TempDir::new("node");
            let mut server =
                Self { child: None, addr: free_addr(), extra_args: extra_args.clone(), dir };
            match server.spawn() {
                Ok(()) => return server,
                Err(err) => last_err = err,
            }
        }
        panic!("redis-server did not start: {last_err}")
    }

    fn spawn(&mut self) -> Result<(), String> {
        let bin = redis_server_binary();
        let port = self.addr.port().to_string();
        let mut cmd = Command::new(&bin);
        cmd.args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .args(self.extra_args.iter().map(|a| a.replace("{dir}", &self.dir.0.to_string_lossy())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("redis-server on port {port} exited with {status}"));
            }
            if self.command(&["PING"]).is_ok_and(|r| r == "PONG") {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("redis-server on port {port} did not answer PING in time"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Whether the process is running (between [`kill`](Self::kill) and
    /// [`restart`](Self::restart) it is not).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server at once (SIGKILL, no goodbye to clients), like a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process where it is (SIGSTOP): connections stay open and accepted, nothing is
    /// answered, as a server stalled by its host.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`pause`](Self::pause)d server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill").args([signal, &child.id().to_string()]).status();
            assert!(status.is_ok_and(|s| s.success()), "kill {signal} redis-server");
        }
    }

    /// Starts the server again on the same port (with empty data), after [`kill`](Self::kill).
    pub fn restart(&mut self) {
        self.kill();
        let mut last_err = String::new();
        // The old socket may linger for a moment.
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return,
                Err(err) => last_err = err,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not restart on {}: {last_err}", self.addr)
    }

    /// Sends one command and returns its reply as text (see [`command`]).
    pub fn command(&self, args: &[&str]) -> Result<String, String> {
        command(self.addr, args)
    }

    /// One field of `INFO <section>`, e.g. `info("stats", "total_commands_processed")`.
    pub fn info(&self, section: &str, field: &str) -> Option<String> {
        info_field(&self.command(&["INFO", section]).ok()?, field)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Finds `field:value` in an `INFO` reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|line| {
        let (name, value) = line.trim_end().split_once(':')?;
        (name == field).then(|| value.to_owned())
    })
}

/// A Redis Cluster of `n` masters (no replicas) on free loopback ports, each a private
/// [`RedisServer`]; every node is killed when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `n` (at least 3) cluster-enabled servers, joins them with
    /// `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
    ///
    /// The nodes run with `cluster-require-full-coverage no`, as a cluster serving guards should:
    /// when a master is lost, the others keep serving their slots instead of refusing every key.
    pub fn start(n: usize) -> Self {
        assert!(n >= 3, "a Redis Cluster needs at least 3 masters");
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "{dir}/nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                    "--cluster-require-full-coverage",
                    "no",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
        let output = Command::new(redis_cli_binary())
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run redis-cli --cluster create: {e}"));
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes };
        cluster.wait_ok();
        cluster
    }

    fn wait_ok(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let all_ok = self.nodes.iter().all(|n| {
                n.command(&["CLUSTER", "INFO"])
                    .ok()
                    .and_then(|info| info_field(&info, "cluster_state"))
                    .is_some_and(|s| s == "ok")
            });
            if all_ok {
                return;
            }
            assert!(Instant::now() < deadline, "the cluster did not reach cluster_state:ok");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Node `i`, to kill, pause or restart it.
    pub fn node_mut(&mut self, i: usize) -> &mut RedisServer {
        &mut self.nodes[i]
    }

    /// The index of the node serving hash slot `slot` (from `CLUSTER NODES` on the first node
    /// that answers).
    pub fn node_of_slot(&self, slot: u16) -> Option<usize> {
        let listing = self.nodes.iter().find_map(|n| n.command(&["CLUSTER", "NODES"]).ok())?;
        listing.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let addr = fields.get(1)?.split('@').next()?;
            if !fields.get(2)?.contains("master") {
                return None;
            }
            let serves = fields.iter().skip(8).any(|range| {
                let (start, end) = range.split_once('-').unwrap_or((range, range));
                match (start.parse::<u16>(), end.parse::<u16>()) {
                    (Ok(start), Ok(end)) => (start..=end).contains(&slot),
                    _ => false,
                }
            });
            if !serves {
                return None;
            }
            self.nodes.iter().position(|n| n.addr.to_string() == addr)
        })
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`, for `guard_core::redis::connect`.
    pub fn url(&self) -> String {
        let addrs: Vec<String> = self.nodes.iter().map(|n| n.addr.to_string()).collect();
        format!("redis+cluster://{}", addrs.join(","))
    }
}

/// Sends one command to `addr` over a fresh connection and returns the reply as text: a simple
/// or bulk string as is, an integer in decimal, an array as its elements joined by newlines,
/// nil as an empty string; an error reply is `Err`.
pub fn command(addr: SocketAddr, args: &[&str]) -> Result<String, String> {
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    writer.write_all(&request).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader).map_err(|e| e.to_string())?
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<Result<String, String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line.split_at(line.len().min(1));
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad reply line `{line}`"));
    Ok(match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Err(rest.to_owned()),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                return Ok(Ok(String::new()));
            }
            let len = usize::try_from(len).map_err(|_| bad())?;
            let mut buf = vec![0; len + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(len);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            let mut parts = Vec::new();
            for _ in 0..n.max(0) {
                match read_reply(reader)? {
                    Ok(part) => parts.push(part),
                    Err(err) => parts.push(format!("(error) {err}")),
                }
            }
            Ok(parts.join("\n"))
        }
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reply_kinds() {
        let mut r = BufReader::new(&b"*3\r\n+OK\r\n:42\r\n$3\r\nabc\r\n"[..]);
        assert_eq!(read_reply(&mut r).unwrap().unwrap(), "OK\n42\nabc");
        let mut r = BufReader::new(&b"-ERR nope\r\n"[..]);
        assert_eq!(read_reply(&mut r).unwrap().unwrap_err(), "ERR nope");
        let mut r = BufReader::new(&b"$-1\r\n"[..]);
        assert_eq!(read_reply(&mut r).unwrap().unwrap(), "");
    }

    #[test]
    fn info_fields_are_found() {
        let info = "# Stats\r\ntotal_commands_processed:17\r\ncmdstat_x:calls=3\r\n";
        assert_eq!(info_field(info, "total_commands_processed").as_deref(), Some("17"));
        assert_eq!(info_field(info, "missing"), None);
    }
}
