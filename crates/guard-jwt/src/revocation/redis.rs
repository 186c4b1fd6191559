//! Revocations in Redis, shared by every instance pointed at it (standalone or Cluster).
//!
//! Key layout, for a prefix `p` and a subject `s` (hash-tagged with guard-core's
//! [`hash_tagged`](guard_core::keys::hash_tagged), so long or odd subjects are hashed):
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `p:{s}:t:<jti>` | `1`: this token is revoked | the token's remaining life (`exp` + leeway − now) |
//! | `p:{s}:all` | T in ms: tokens of `s` issued at or before T are refused | the longest token lifetime + leeway |
//!
//! Both keys of a subject share the hash tag `{s}`, hence one Cluster slot, so the per-request
//! check is a single `MGET` on a standalone server and on a Cluster alike: one round trip.
//! A `jti` longer than 64 bytes or not plain ASCII is replaced by its SHA-256 in the key.
//! The mark is raised by a small Lua script (`EVALSHA`), so it never moves back when two
//! instances write it at once.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use guard_core::keys::{bounded_key, hash_tagged};
use guard_core::redis::{RedisConnection, RedisSetupError, retry_reconnected};
use redis::Script;

use super::{RevocationStatus, RevocationStore, RevocationStoreError, StoreFuture};
use crate::clock::millis;

/// Raises a subject's mark to ARGV[1] (never lowers it) and keeps it at least ARGV[2] ms.
const RAISE_MARK: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  local left = redis.call('PTTL', KEYS[1])
  if left >= 0 and left < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
end
return 1
";

static RAISE_MARK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RAISE_MARK));

/// Revocations in Redis: what makes a logout or a password change visible to every instance
/// at once.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use guard_jwt::RedisRevocationStore;
///
/// let conn = guard_core::redis::connect("redis://127.0.0.1:6379").await?;
/// let store = RedisRevocationStore::new(conn, "myapp:revoked");
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisRevocationStore {
    conn: RedisConnection,
    prefix: String,
}

impl RedisRevocationStore {
    /// A store on `conn` whose keys start with `prefix` (e.g. `myapp:revoked`).
    pub fn new(conn: RedisConnection, prefix: impl Into<String>) -> Self {
        Self { conn, prefix: prefix.into() }
    }

    /// Connects to `url` (standalone, or a Cluster with `redis+cluster://a:7000,b:7001`).
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, RedisSetupError> {
        Ok(Self::new(guard_core::redis::connect(url).await?, prefix))
    }

    /// The key that deny-lists token `jti` of `subject`.
    pub fn token_key(&self, subject: &str, jti: &str) -> String {
        format!("{}:t:{}", hash_tagged(&self.prefix, subject), bounded_key(jti))
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        cmd.query_async(&mut self.conn.clone()).await
    }

    /// The key that holds `subject`'s mark.
    pub fn subject_key(&self, subject: &str) -> String {
        format!("{}:all", hash_tagged(&self.prefix, subject))
    }
}

impl RevocationStore for RedisRevocationStore {
    fn revoke_token<'a>(
        &'a self,
        subject: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.token_key(subject, jti)).arg(1).arg("PX").arg(millis(ttl).max(1));
            retry_reconnected(|| self.query::<()>(&cmd)).await?;
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        issued_through_ms: u64,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut call = RAISE_MARK_SCRIPT.key(self.subject_key(subject));
            call.arg(issued_through_ms).arg(millis(ttl).max(1));
            let call = &call;
            retry_reconnected(|| {
                let mut conn = self.conn.clone();
                async move { call.invoke_async::<i64>(&mut conn).await }
            })
            .await?;
            Ok(())
        })
    }

    fn status<'a>(&'a self, subject: &'a str, jti: &'a str) -> StoreFuture<'a, RevocationStatus> {
        Box::pin(async move {
            let mut cmd = redis::cmd("MGET");
            cmd.arg(self.token_key(subject, jti)).arg(self.subject_key(subject));
            let (token, mark): (Option<String>, Option<String>) =
                retry_reconnected(|| self.query(&cmd)).await?;
            let subject_revoked_through_ms = match mark {
                None => None,
                Some(text) => Some(text.parse::<u64>().map_err(|_| {
                    RevocationStoreError::Corrupt(format!("subject mark `{text}` is not a number"))
                })?),
            };
            Ok(RevocationStatus { token_revoked: token.is_some(), subject_revoked_through_ms })
        })
    }

    fn node_of(&self, subject: &str) -> Option<Arc<str>> {
        self.conn.node_of(&self.subject_key(subject))
    }

    fn warm_up(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { Ok(self.conn.load_script(RAISE_MARK).await?) })
    }
}
