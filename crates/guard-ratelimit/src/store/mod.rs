//! Where a limiter keeps its counters, [`Store`]: in this process ([`MemoryStore`]) or, with the
//! feature `redis`, in Redis (`RedisStore`); and what it does while a shared store is down,
//! [`OnStoreFailure`]. Named by the policy, used by the compiled guard.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::num::NonZeroU32;

#[cfg(feature = "redis")]
use guard_core::redis::RedisConnection;
use serde::{Deserialize, Serialize};

#[cfg(feature = "redis")]
pub(crate) use memory::BoundedMap;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// Where a limiter keeps its counters.
///
/// Non-exhaustive: the Redis variant exists only with the feature `redis`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Store {
    /// In this process: exact for one instance.
    Memory(MemoryStore),
    /// In Redis: one global limit across every instance (feature `redis`).
    #[cfg(feature = "redis")]
    Redis(RedisStore),
}

impl From<MemoryStore> for Store {
    fn from(store: MemoryStore) -> Self {
        Store::Memory(store)
    }
}

/// Feature `redis`.
#[cfg(feature = "redis")]
impl From<RedisStore> for Store {
    fn from(store: RedisStore) -> Self {
        Store::Redis(store)
    }
}

/// Feature `redis`: a [`RedisStore`] on the connection.
#[cfg(feature = "redis")]
impl From<RedisConnection> for Store {
    fn from(conn: RedisConnection) -> Self {
        Store::Redis(RedisStore::new(conn))
    }
}

/// What a limiter with a shared store does while the store is down (unreachable, slower than
/// the breaker's deadline, or failing). Decided per limiter: a login route may fail closed while
/// the rest of the API falls back to local limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum OnStoreFailure {
    /// Admit every request, uncounted, with `RateLimit-Policy` but no `RateLimit` header.
    FailOpen,
    /// Refuse every request with 503 problem+json and `Retry-After` (until the breaker's next
    /// probe, at least 1 s).
    FailClosed,
    /// Decide in a per-instance memory store, each quota divided by `instances` (the number of
    /// instances sharing the limit), so that together they stay near the global limit.
    Local {
        /// How many instances share the limit (at least 1).
        instances: NonZeroU32,
    },
}

impl Default for OnStoreFailure {
    /// [`Local`](Self::Local) with one instance: every instance keeps enforcing the full quota
    /// on its own, neither blocking everybody nor letting everybody through.
    fn default() -> Self {
        Self::Local { instances: NonZeroU32::MIN }
    }
}

impl OnStoreFailure {
    /// The local fallback for `instances` instances (0 counts as 1).
    pub fn local(instances: u32) -> Self {
        Self::Local { instances: NonZeroU32::new(instances).unwrap_or(NonZeroU32::MIN) }
    }
}
