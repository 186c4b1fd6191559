//! Shared Redis connection setup for the guards that keep state there (revocations, rate-limit
//! counters): one multiplexed connection per process, standalone or Redis Cluster, chosen by URL.
//!
//! - `redis://host:6379/0` (or `rediss://`, `redis+unix://`): one server, through redis-rs's
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

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use serde::{Deserialize, Serialize};

/// A connection to a standalone Redis or a Redis Cluster; cheap to clone, one per process.
#[derive(Clone)]
pub enum RedisConnection {
    /// One server.
    Single(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisConnection::Single(_) => "RedisConnection::Single",
            RedisConnection::Cluster(_) => "RedisConnection::Cluster",
        })
    }
}

impl RedisConnection {
    /// Whether this is a cluster connection (keys must then share a hash slot per script call).
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConnection::Cluster(_))
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(c) => c.req_packed_command(cmd),
            RedisConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(c) => c.get_db(),
            RedisConnection::Cluster(c) => c.get_db(),
        }
    }
}

/// How to reach Redis; deserializes from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Redis could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL `{url}`: {source}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// The first connection failed.
    #[error("cannot connect to Redis at `{url}`: {source}")]
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
pub async fn connect_with(settings: &RedisSettings) -> Result<RedisConnection, RedisSetupError> {
    let url = settings.url.clone();
    if let Some(nodes) = settings.cluster_nodes() {
        let client = redis::cluster::ClusterClient::builder(nodes)
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.response_timeout)
            .build()
            .map_err(|source| RedisSetupError::InvalidUrl { url: url.clone(), source })?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|source| RedisSetupError::Connect { url, source })?;
        return Ok(RedisConnection::Cluster(conn));
    }
    let client = redis::Client::open(settings.url.as_str())
        .map_err(|source| RedisSetupError::InvalidUrl { url: url.clone(), source })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.response_timeout))
        .set_number_of_retries(2);
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|source| RedisSetupError::Connect { url, source })?;
    Ok(RedisConnection::Single(conn))
}

/// A Redis hash tag (`{…}`) for `key`, so that every key of one decision lands on one Cluster
/// slot; long or binary keys are hashed to a bounded length first.
///
/// ```
/// assert_eq!(guard_core::redis::hash_tagged("rl", "1.2.3.4"), "rl:{1.2.3.4}");
/// let long = guard_core::redis::hash_tagged("rl", &"x".repeat(500));
/// assert!(long.len() < 80 && long.starts_with("rl:{#"));
/// ```
pub fn hash_tagged(prefix: &str, key: &str) -> String {
    format!("{prefix}:{{{}}}", bounded_key(key))
}

/// `key` as it is when short, printable ASCII without braces (so it can neither break out of a
/// hash tag nor make keys unbounded), else `#` and the first 128 bits of its SHA-256 in hex:
/// collision-resistant, so nobody can craft a key that shares another client's state.
///
/// ```
/// use guard_core::redis::bounded_key;
/// assert_eq!(bounded_key("user-1"), "user-1");
/// assert_eq!(bounded_key(&"x".repeat(65)).len(), 33);
/// assert!(bounded_key("a{b}").starts_with('#'));
/// ```
pub fn bounded_key(key: &str) -> std::borrow::Cow<'_, str> {
    const MAX_PLAIN: usize = 64;
    let plain = key.len() <= MAX_PLAIN
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}');
    if plain {
        std::borrow::Cow::Borrowed(key)
    } else {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        std::borrow::Cow::Owned(format!("#{hex}"))
    }
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
    fn cluster_urls_are_recognised() {
        let s = RedisSettings::new("redis+cluster://a:7000, b:7001");
        assert_eq!(s.cluster_nodes().unwrap(), ["redis://a:7000", "redis://b:7001"]);
        let s = RedisSettings::new("redis://a:7000,redis://b:7001");
        assert_eq!(s.cluster_nodes().unwrap(), ["redis://a:7000", "redis://b:7001"]);
        assert_eq!(RedisSettings::new("redis://a:6379/2").cluster_nodes(), None);
    }

    #[test]
    fn hash_tags_are_bounded_and_never_nest() {
        assert_eq!(hash_tagged("p", "user-1"), "p:{user-1}");
        let braces = hash_tagged("p", "a}b{c");
        assert_eq!(braces.matches('{').count(), 1);
        assert_eq!(hash_tagged("p", "a}b{c"), braces, "stable");
        assert_ne!(hash_tagged("p", &"x".repeat(65)), hash_tagged("p", &"x".repeat(66)));
    }
}
