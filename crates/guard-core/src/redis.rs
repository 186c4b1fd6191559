//! Shared Redis connection setup for the guards that keep state there (revocations, rate-limit
//! counters): one multiplexed connection per process, standalone or Redis Cluster, chosen by URL.
//!
//! - `redis://host:6379/0` (or `redis+unix://`; `rediss://` once the application turns on one of
//!   the `redis` crate's TLS features, which guard does not): one server, through redis-rs's
//!   `ConnectionManager`, which multiplexes every request over one socket and reconnects by
//!   itself. A pool (deadpool-redis) would add a PING per checkout: one more round trip than a
//!   decision should cost.
//! - `redis+cluster://host1:7000,host2:7001` or a comma-separated list of `redis://` URLs: a
//!   Redis Cluster, with slot routing and MOVED/ASK handling.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut conn = guard_core::redis::connect("redis://127.0.0.1:6379").await?;
//! let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
//! assert_eq!(pong, "PONG");
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use serde::{Deserialize, Serialize};

use crate::breaker::StoreFailure;

/// A connection to a standalone Redis or a Redis Cluster; cheap to clone, one per process.
///
/// For a Cluster it also knows which master serves which slot (learned when connecting and
/// refreshed every two seconds), so that [`node_of`](Self::node_of) can name the node behind a
/// key and the guards judge each master apart ([`StoreBreakers`](crate::StoreBreakers)).
#[derive(Clone)]
pub struct RedisConnection {
    conn: Conn,
    topology: Option<Arc<Topology>>,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Which master serves which slots.
#[derive(Debug, Default)]
struct Topology {
    ranges: RwLock<Arc<[SlotRange]>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SlotRange {
    start: u16,
    end: u16,
    node: Arc<str>,
}

impl Topology {
    fn node_of(&self, slot: u16) -> Option<Arc<str>> {
        let ranges = self.ranges.read().unwrap_or_else(PoisonError::into_inner).clone();
        let i = ranges.partition_point(|r| r.end < slot);
        ranges.get(i).filter(|r| r.start <= slot).map(|r| r.node.clone())
    }

    fn set(&self, mut ranges: Vec<SlotRange>) {
        ranges.sort_by_key(|r| r.start);
        *self.ranges.write().unwrap_or_else(PoisonError::into_inner) = ranges.into();
    }
}

/// How often a Cluster's slot map is read again (a failover moves slots to another node).
const TOPOLOGY_REFRESH: Duration = Duration::from_secs(2);

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.conn {
            Conn::Single(_) => "RedisConnection::Single",
            Conn::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl RedisConnection {
    /// Whether this is a cluster connection (keys must then share a hash slot per script call).
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// The node (`host:port`) that serves `key` on a Cluster, `None` on a single server (or
    /// before the slot map is known): what [`StoreBreakers::node`](crate::StoreBreakers::node)
    /// takes, so that a lost master stops only its own keys.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = guard_core::redis::connect("redis+cluster://127.0.0.1:7000").await?;
    /// println!("{:?}", conn.node_of("rl:{203.0.113.9}:auth")); // Some("127.0.0.1:7001")
    /// # Ok(()) }
    /// ```
    pub fn node_of(&self, key: &str) -> Option<Arc<str>> {
        self.topology.as_ref()?.node_of(crate::keys::key_slot(key.as_bytes()))
    }

    /// Loads the Lua script `code` on the server (on a Cluster, on every master), so that the
    /// first request after start-up pays no `NOSCRIPT` round trip: part of warming up before
    /// listening. `redis::Script::new(code)` then finds it loaded.
    pub async fn load_script(&self, code: &str) -> RedisResult<()> {
        let mut conn = self.clone();
        let _: Value = redis::cmd("SCRIPT").arg("LOAD").arg(code).query_async(&mut conn).await?;
        Ok(())
    }

    /// `PING` (on a Cluster, every master): whether the store answers now.
    pub async fn ping(&self) -> RedisResult<()> {
        let mut conn = self.clone();
        let _: Value = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

impl StoreFailure for RedisError {
    /// Nothing accepts connections, or the Cluster refuses every slot: an outage. A connection
    /// that dropped is not by itself one (a restart, an idle connection closed by a proxy): the
    /// stores try once more, and only if that finds nobody listening is the store unreachable.
    fn is_unreachable(&self) -> bool {
        self.is_connection_refusal()
            || self.kind() == ErrorKind::Server(redis::ServerErrorKind::ClusterDown)
    }
}

/// Runs `call`, and once more if its connection was lost or could not be made: the connection
/// reconnects by itself, so the second attempt meets a fresh connection (redis-rs answers the
/// first call after an outage with the error of its last failed reconnection). The second
/// attempt either succeeds or finds nobody listening: an outage, which opens the breaker at
/// once. Only for calls that may run twice.
pub async fn retry_reconnected<T, F, Fut>(mut call: F) -> RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    match call().await {
        Err(err) if err.is_connection_dropped() || err.is_connection_refusal() => call().await,
        other => other,
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.conn {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.conn {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.conn {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// How to reach Redis; deserializes from configuration. Its `Debug` hides the URL's password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://…`, `redis+cluster://a:7000,b:7001`, or a comma-separated list of nodes.
    pub url: String,
    /// Limit for establishing a connection (default 1 s).
    #[serde(with = "crate::millis")]
    pub connect_timeout: Duration,
    /// Limit for one response at the connection level (default 1 s); the guards' own deadlines
    /// are much shorter and apply on top.
    #[serde(with = "crate::millis")]
    pub response_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl RedisSettings {
    /// Default settings for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// The cluster's seed nodes when the URL names a cluster, `None` for one server.
    pub fn cluster_nodes(&self) -> Option<Vec<String>> {
        let url = self.url.trim();
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            return Some(rest.split(',').map(|n| format!("redis://{}", n.trim())).collect());
        }
        if let Some(rest) = url.strip_prefix("rediss+cluster://") {
            return Some(rest.split(',').map(|n| format!("rediss://{}", n.trim())).collect());
        }
        url.contains(',').then(|| url.split(',').map(|n| n.trim().to_owned()).collect())
    }
}

/// `url` with any password (and user name) replaced by `***`, for messages and logs: a Redis
/// URL's userinfo is a secret. Works on any text holding such URLs (an error message that quotes
/// one).
///
/// ```
/// use guard_core::redis::redact_url;
/// assert_eq!(redact_url("redis://default:s3cret@db:6379/0"), "redis://***@db:6379/0");
/// assert_eq!(redact_url("redis+cluster://:pw@a:7000,b:7001"), "redis+cluster://***@a:7000,b:7001");
/// assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
/// ```
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The URL ends at whitespace or a quote; its userinfo ends at the last '@' in it (a
        // password may hold '/', ':' or '@' unencoded, and a Redis URL's path never holds '@').
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | ')' | '>'))
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match url.rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                out.push_str(&url[userinfo_end..]);
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Redis could not be set up. The URL in the message has its password replaced by `***`
/// ([`redact_url`]), so the error can be logged or shown as it is.
#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL `{}`: {}", redact_url(url), redact_url(&source.to_string()))]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// The first connection failed.
    #[error("cannot connect to Redis at `{}`: {}", redact_url(url), redact_url(&source.to_string()))]
    Connect {
        /// The URL as given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
}

/// Connects with default settings; fails if the server does not answer now.
pub async fn connect(url: &str) -> Result<RedisConnection, RedisSetupError> {
    connect_with(&RedisSettings::new(url)).await
}

/// Connects with `settings`; fails if the server (or no cluster node) answers now. Once
/// connected, the connection reconnects by itself after an outage.
///
/// On a Cluster the slot map is learned before this returns, and read again every two seconds.
pub async fn connect_with(settings: &RedisSettings) -> Result<RedisConnection, RedisSetupError> {
    let url = settings.url.clone();
    if let Some(nodes) = settings.cluster_nodes() {
        let client = redis::cluster::ClusterClient::builder(nodes)
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.response_timeout)
            // One retry (a MOVED or ASK redirect, a reconnection) instead of redis-rs's sixteen:
            // a lost master must fail fast, as a refused connection the breaker of that node
            // opens on, rather than as retries that outlive the guards' deadline.
            .retries(1)
            .build()
            .map_err(|source| RedisSetupError::InvalidUrl { url: url.clone(), source })?;
        let mut conn = client
            .get_async_connection()
            .await
            .map_err(|source| RedisSetupError::Connect { url: url.clone(), source })?;
        let topology = Arc::new(Topology::default());
        let ranges = cluster_slots(&mut conn)
            .await
            .map_err(|source| RedisSetupError::Connect { url, source })?;
        topology.set(ranges);
        tokio::spawn(refresh_topology(Arc::downgrade(&topology), conn.clone()));
        return Ok(RedisConnection { conn: Conn::Cluster(conn), topology: Some(topology) });
    }
    let client = redis::Client::open(settings.url.as_str())
        .map_err(|source| RedisSetupError::InvalidUrl { url: url.clone(), source })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.response_timeout))
        // Reconnect quickly and give up quickly: a server that refuses connections should be
        // known as down within milliseconds (the breaker then answers at once), not after
        // redis-rs's default backoff of 100 ms, 200 ms, 400 ms...
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(100));
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|source| RedisSetupError::Connect { url, source })?;
    Ok(RedisConnection { conn: Conn::Single(conn), topology: None })
}

/// Reads the slot map again every [`TOPOLOGY_REFRESH`] until every connection is dropped; a
/// failed read keeps the map it had.
async fn refresh_topology(topology: Weak<Topology>, mut conn: ClusterConnection) {
    loop {
        tokio::time::sleep(TOPOLOGY_REFRESH).await;
        let Some(topology) = topology.upgrade() else { return };
        if let Ok(Ok(ranges)) =
            tokio::time::timeout(Duration::from_secs(1), cluster_slots(&mut conn)).await
            && !ranges.is_empty()
        {
            topology.set(ranges);
        }
    }
}

/// `CLUSTER SLOTS`: each range of slots and the address of the master serving it.
async fn cluster_slots(conn: &mut ClusterConnection) -> RedisResult<Vec<SlotRange>> {
    let reply: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
    Ok(parse_cluster_slots(&reply))
}

fn parse_cluster_slots(reply: &Value) -> Vec<SlotRange> {
    let Value::Array(entries) = reply else { return Vec::new() };
    entries
        .iter()
        .filter_map(|entry| {
            let Value::Array(fields) = entry else { return None };
            let int = |v: &Value| match v {
                Value::Int(n) => u16::try_from(*n).ok(),
                _ => None,
            };
            let start = int(fields.first()?)?;
            let end = int(fields.get(1)?)?;
            let Value::Array(master) = fields.get(2)? else { return None };
            let host = match master.first()? {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                Value::SimpleString(s) => s.clone(),
                _ => return None,
            };
            let port = int(master.get(1)?)?;
            Some(SlotRange { start, end, node: Arc::from(format!("{host}:{port}")) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    #[tokio::test]
    async fn talks_to_a_real_redis() {
        let mut conn = connect(&redis_url()).await.unwrap();
        assert!(!conn.is_cluster());
        let key = format!("guard-core-test:{}:{}", std::process::id(), line!());
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .arg("EX")
            .arg(10)
            .query_async(&mut conn)
            .await
            .unwrap();
        let got: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
        assert_eq!(got, "v");
        let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();
    }

    #[tokio::test]
    async fn bad_urls_and_dead_servers_are_typed_errors() {
        assert!(matches!(connect("http://nope").await, Err(RedisSetupError::InvalidUrl { .. })));
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = connect(&format!("redis://127.0.0.1:{port}")).await.unwrap_err();
        assert!(matches!(err, RedisSetupError::Connect { .. }), "{err}");
    }

    #[test]
    fn the_slot_map_is_read_and_searched() {
        let node = |host: &str, port: i64| {
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(5461), Value::Int(10922), node("10.0.0.2", 7001)]),
            Value::Array(vec![Value::Int(0), Value::Int(5460), node("10.0.0.1", 7000)]),
            Value::Array(vec![Value::Int(10923), Value::Int(16383), node("10.0.0.3", 7002)]),
            Value::Int(7),
        ]);
        let topology = Topology::default();
        topology.set(parse_cluster_slots(&reply));
        assert_eq!(topology.node_of(0).as_deref(), Some("10.0.0.1:7000"));
        assert_eq!(topology.node_of(5460).as_deref(), Some("10.0.0.1:7000"));
        assert_eq!(topology.node_of(5461).as_deref(), Some("10.0.0.2:7001"));
        assert_eq!(topology.node_of(16383).as_deref(), Some("10.0.0.3:7002"));
        // A hole in the map (slots being moved) names no node.
        topology.set(parse_cluster_slots(&Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(99),
            node("h", 1),
        ])])));
        assert_eq!(topology.node_of(100), None);
    }

    #[test]
    fn only_refused_connections_and_a_down_cluster_are_unreachable() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(refused.is_unreachable());
        let reset = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!reset.is_unreachable(), "a dropped connection is retried first");
        let script = RedisError::from((ErrorKind::UnexpectedReturnType, "bad reply"));
        assert!(!script.is_unreachable());
    }

    #[tokio::test]
    async fn a_lost_connection_is_retried_once_and_other_errors_are_not() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let calls = AtomicU32::new(0);
        for kind in [std::io::ErrorKind::ConnectionReset, std::io::ErrorKind::ConnectionRefused] {
            calls.store(0, Ordering::SeqCst);
            let r: RedisResult<u32> = retry_reconnected(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(RedisError::from(std::io::Error::from(kind))),
                    _ => Ok(5),
                }
            })
            .await;
            assert_eq!(r.unwrap(), 5, "{kind:?}");
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        }
        calls.store(0, Ordering::SeqCst);
        let r: RedisResult<u32> = retry_reconnected(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(RedisError::from((ErrorKind::UnexpectedReturnType, "bad reply")))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn scripts_load_ahead_of_use_and_ping_answers() {
        let conn = connect(&redis_url()).await.unwrap();
        conn.ping().await.unwrap();
        let code = format!("return {}", std::process::id());
        conn.load_script(&code).await.unwrap();
        let sha = redis::Script::new(&code).get_hash().to_owned();
        let exists: Vec<i64> = redis::cmd("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        assert_eq!(exists, [1]);
        assert_eq!(conn.node_of("any"), None, "one server: one node");
    }

    #[tokio::test]
    async fn no_password_reaches_an_error_message() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        for url in [
            format!("redis://default:s3cret@127.0.0.1:{port}"),
            format!("redis+cluster://:s3cret@127.0.0.1:{port}"),
            "redis://user:s3cret@[::1".to_owned(),
        ] {
            let err = connect(&url).await.unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("***@"), "{err}");
        }
        assert_eq!(
            redact_url("see redis://a:b@h:1/0 and rediss://c@h"),
            "see redis://***@h:1/0 and rediss://***@h"
        );
    }

    #[test]
    fn cluster_urls_are_recognised() {
        let s = RedisSettings::new("redis+cluster://a:7000, b:7001");
        assert_eq!(s.cluster_nodes().unwrap(), ["redis://a:7000", "redis://b:7001"]);
        let s = RedisSettings::new("redis://a:7000,redis://b:7001");
        assert_eq!(s.cluster_nodes().unwrap(), ["redis://a:7000", "redis://b:7001"]);
        assert_eq!(RedisSettings::new("redis://a:6379/2").cluster_nodes(), None);
    }
}
