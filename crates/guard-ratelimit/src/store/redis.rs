//! The shared store: one Lua script on Redis (standalone or Cluster) decides each request in one
//! round trip, on the server's clock, for every instance alike.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use guard_core::redis::{RedisConnection, RedisSetupError};
use redis::{ErrorKind, RedisError};

use crate::algorithm::{Algorithm, Evaluation, Limits, PolicyStatus};
use crate::quota::QuotaPolicy;

const SCRIPT_CODE: &str = include_str!("script.lua");

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SCRIPT_CODE));

/// The Redis store (feature `redis`): one global limit for every instance that shares the Redis.
///
/// # The script
/// `EVALSHA` of `script.lua` (redis-rs's `Script` sends `SCRIPT LOAD` and retries when the
/// server answers `NOSCRIPT`, so it survives `SCRIPT FLUSH` and restarts; on a Cluster the load
/// goes to every node). It reads the state of every policy of the key, decides all of them
/// together (all admit and all consume, or nothing is written), and returns each policy's
/// remaining units and waits. Its time is the server's `TIME`, in milliseconds, so instances
/// with skewed clocks still share one limit.
///
/// # Keys
/// With `base = hash_tagged(prefix, key)` (`rl:{203.0.113.9}`, or `rl:{#<sha256>}` for long or
/// unusual keys):
/// - `base:<policy>:<algorithm>:<limit>:<window ms>`, one per policy: three integers with a
///   time to live that ends when the state would read as fresh anyway. The quota is part of the
///   name, so a changed quota starts afresh instead of misreading old state.
/// - `base:r:<request id>`: the replay record of one admitted decision (see below).
///
/// Every key of a decision shares the hash tag `{…}`, hence one Cluster slot: the script may
/// touch them all.
///
/// # Retries count once
/// Each decision carries a request id unique to the process and the call. When the connection
/// drops before the answer arrives, the store sends the same call again (within the same
/// deadline); if the first one had been executed, the script finds its replay record and
/// returns the earlier result instead of counting the request a second time. Records live for
/// the replay window (default 5 s) and are written for admissions only: a refusal wrote
/// nothing, so deciding it again is harmless.
///
/// Cheap to clone; clones share the connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use guard_ratelimit::RedisStore;
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379").await?;
/// let cluster = RedisStore::connect("redis+cluster://10.0.0.1:7000,10.0.0.2:7000").await?;
/// # let _ = (store, cluster);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisStore {
    conn: RedisConnection,
    replay_window: Duration,
    ids: Arc<RequestIds>,
    /// Tests only: a clock whose reading replaces the server's `TIME`.
    #[cfg(test)]
    script_clock: Option<guard_core::FakeClock>,
}

/// Request ids: a random instance id and a counter.
#[derive(Debug)]
struct RequestIds {
    instance: u64,
    counter: AtomicU64,
}

/// What the script answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptReply {
    pub evaluation: Evaluation,
    /// The answer is the replay of an earlier call with the same request id.
    pub replayed: bool,
}

impl RedisStore {
    /// The default replay window: how long a retried request id is recognised.
    pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(5);

    /// A store on `conn` (from [`guard_core::redis::connect`]).
    pub fn new(conn: RedisConnection) -> Self {
        Self {
            conn,
            replay_window: Self::DEFAULT_REPLAY_WINDOW,
            ids: Arc::new(RequestIds { instance: rand::random(), counter: AtomicU64::new(0) }),
            #[cfg(test)]
            script_clock: None,
        }
    }

    /// Connects to `url` (`redis://…`, or `redis+cluster://a:7000,b:7000` for a Cluster).
    pub async fn connect(url: &str) -> Result<Self, RedisSetupError> {
        guard_core::redis::connect(url).await.map(Self::new)
    }

    /// How long a retried request id is recognised (at least 1 ms).
    pub fn with_replay_window(mut self, window: Duration) -> Self {
        self.replay_window = window.max(Duration::from_millis(1));
        self
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.conn
    }

    /// Makes the script read `clock` instead of the server's time (tests only).
    #[cfg(test)]
    pub(crate) fn with_script_clock(mut self, clock: guard_core::FakeClock) -> Self {
        self.script_clock = Some(clock);
        self
    }

    fn now_override(&self) -> String {
        #[cfg(test)]
        if let Some(clock) = &self.script_clock {
            use guard_core::Clock;
            return clock.now_ms().to_string();
        }
        String::new()
    }

    /// Loads the decision script (on every master of a Cluster) before the first request.
    pub async fn warm_up(&self) -> Result<(), RedisError> {
        self.conn.load_script(SCRIPT_CODE).await
    }

    /// The suffix of each policy's state key, `:<policy>:<algorithm>:<limit>:<window ms>` (see
    /// [Keys](Self#keys)), in the order of `policies`.
    pub(crate) fn key_suffixes(alg: Algorithm, policies: &[QuotaPolicy]) -> Vec<String> {
        policies
            .iter()
            .map(|p| {
                format!(":{}:{}:{}:{}", p.name, alg.code(), p.quota.limit(), p.quota.window_ms())
            })
            .collect()
    }

    /// A request id no other call of any instance uses.
    pub(crate) fn next_request_id(&self) -> String {
        let n = self.ids.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:x}", self.ids.instance)
    }

    /// Decides `cost` units for the key whose tagged base is `base`, in one round trip (two
    /// when the connection dropped and the call is repeated with the same `request_id`).
    pub(crate) async fn decide(
        &self,
        base: &str,
        alg: Algorithm,
        quotas: &[Limits],
        suffixes: &[String],
        cost: u64,
        request_id: &str,
    ) -> Result<ScriptReply, RedisError> {
        let mut call = SCRIPT.prepare_invoke();
        call.key(format!("{base}:r:{request_id}"));
        for suffix in suffixes {
            call.key(format!("{base}{suffix}"));
        }
        let replay_ms = u64::try_from(self.replay_window.as_millis()).unwrap_or(u64::MAX);
        call.arg(alg.code()).arg(cost).arg(self.now_override()).arg(replay_ms);
        for q in quotas {
            call.arg(q.limit).arg(q.window);
        }
        let reply: Vec<i64> = guard_core::redis::retry_reconnected(|| {
            let mut conn = self.conn.clone();
            let call = &call;
            async move { call.invoke_async(&mut conn).await }
        })
        .await?;
        decode(&reply, quotas)
    }
}

fn decode(reply: &[i64], quotas: &[Limits]) -> Result<ScriptReply, RedisError> {
    if reply.len() != 2 + 5 * quotas.len() {
        return Err(RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "rate-limit script answered with the wrong number of values",
            format!("{} values for {} policies", reply.len(), quotas.len()),
        )));
    }
    let policies = reply[2..]
        .chunks_exact(5)
        .zip(quotas)
        .map(|(v, q)| PolicyStatus::from_script([v[0], v[1], v[2], v[3], v[4]], q.window))
        .collect();
    Ok(ScriptReply {
        evaluation: Evaluation { admitted: reply[1] != 0, policies, write: None },
        replayed: reply[0] != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_replies_are_errors() {
        let q = [Limits { limit: 1, window: 1000 }];
        assert!(decode(&[0, 1, 0, 0, 0, 0], &q).is_err());
        let ok = decode(&[1, 1, 0, 0, 1000, 0, 0], &q).unwrap();
        assert!(ok.replayed && ok.evaluation.admitted);
        assert_eq!(ok.evaluation.policies[0].remaining(), 0);
    }
}
