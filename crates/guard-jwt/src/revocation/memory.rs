//! Revocations in this process's memory: bounded, sharded, lock-light.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{RevocationStatus, RevocationStore, StoreFuture};
use crate::clock::{Clock, SharedClock, SystemClock, millis};

const SHARDS: usize = 16;

/// Revocations kept in memory, for a single instance (or tests).
///
/// Bounded: at most `max_entries` entries (deny-listed tokens plus subject marks), split over
/// 16 shards, each behind its own short-held mutex. When a shard is full, its expired entries go
/// first; if it is still full, the entry closest to expiry is evicted (that token becomes usable
/// again for the little life it has left) and a warning is logged. Size it above the number of
/// revocations expected within one maximum token lifetime.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use guard_jwt::{MemoryRevocationStore, RevocationStore};
///
/// let store = MemoryRevocationStore::new(10_000);
/// store.revoke_token("user-1", "jti-1", Duration::from_secs(60)).await.unwrap();
/// assert!(store.status("user-1", "jti-1").await.unwrap().token_revoked);
/// assert!(!store.status("user-1", "jti-2").await.unwrap().token_revoked);
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryRevocationStore {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    hasher: RandomState,
    clock: SharedClock,
    evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct Shard {
    /// This shard's share of the bound (the shares add up to it exactly).
    capacity: usize,
    entries: HashMap<Arc<str>, Entry>,
    /// Entries ordered by expiry, for purging and eviction.
    by_expiry: BTreeSet<(u64, Arc<str>)>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    expires_ms: u64,
    /// 1 for a deny-listed token; the mark (ms) for a subject.
    value: u64,
}

impl Shard {
    fn purge_expired(&mut self, now_ms: u64) {
        while let Some((expires, _)) = self.by_expiry.first()
            && *expires <= now_ms
        {
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    fn get(&self, key: &str, now_ms: u64) -> Option<u64> {
        self.entries.get(key).filter(|e| e.expires_ms > now_ms).map(|e| e.value)
    }
}

impl Default for MemoryRevocationStore {
    /// Room for 100 000 entries.
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryRevocationStore {
    /// A store holding at most `max_entries` entries (at least one).
    pub fn new(max_entries: usize) -> Self {
        let max_entries = max_entries.max(1);
        let shards = SHARDS.min(max_entries);
        let (base, extra) = (max_entries / shards, max_entries % shards);
        Self {
            shards: (0..shards)
                .map(|i| {
                    Mutex::new(Shard {
                        capacity: base + usize::from(i < extra),
                        ..Shard::default()
                    })
                })
                .collect(),
            capacity: max_entries,
            hasher: RandomState::new(),
            clock: Arc::new(SystemClock),
            evicted: AtomicU64::new(0),
        }
    }

    /// Uses `clock` for expiry (tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Entries held now (expired ones not yet purged included); never above the bound.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).entries.len())
            .sum()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries this store holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many unexpired entries were evicted to stay within the bound.
    pub fn evictions(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        let index = self.hasher.hash_one(key) as usize % self.shards.len();
        &self.shards[index]
    }

    fn token_key(subject: &str, jti: &str) -> String {
        // Length-prefixed, so no (subject, jti) pair can spell another's key.
        format!("t{}:{subject}{jti}", subject.len())
    }

    fn subject_key(subject: &str) -> String {
        format!("s:{subject}")
    }

    /// Inserts or raises an entry (value and expiry only ever grow).
    fn put(&self, key: String, value: u64, ttl: Duration) {
        let now = self.clock.now_ms();
        let expires_ms = now.saturating_add(millis(ttl));
        let mut shard = self.shard(&key).lock().unwrap_or_else(PoisonError::into_inner);
        shard.purge_expired(now);
        if let Some((key, old)) =
            shard.entries.get_key_value(key.as_str()).map(|(k, e)| (k.clone(), *e))
        {
            let new =
                Entry { expires_ms: old.expires_ms.max(expires_ms), value: old.value.max(value) };
            shard.by_expiry.remove(&(old.expires_ms, key.clone()));
            shard.by_expiry.insert((new.expires_ms, key.clone()));
            shard.entries.insert(key, new);
            return;
        }
        while shard.entries.len() >= shard.capacity {
            let Some((_, victim)) = shard.by_expiry.pop_first() else { break };
            shard.entries.remove(&victim);
            let n = self.evicted.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(10_000) {
                tracing::warn!(
                    evicted = n,
                    capacity = self.capacity(),
                    "memory revocation store full; evicting the entries closest to expiry"
                );
            }
        }
        let key: Arc<str> = key.into();
        shard.by_expiry.insert((expires_ms, key.clone()));
        shard.entries.insert(key, Entry { expires_ms, value });
    }

    fn get(&self, key: &str) -> Option<u64> {
        let now = self.clock.now_ms();
        self.shard(key).lock().unwrap_or_else(PoisonError::into_inner).get(key, now)
    }
}

impl RevocationStore for MemoryRevocationStore {
    fn revoke_token<'a>(
        &'a self,
        subject: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        self.put(Self::token_key(subject, jti), 1, ttl);
        Box::pin(std::future::ready(Ok(())))
    }

    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        issued_through_ms: u64,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        self.put(Self::subject_key(subject), issued_through_ms, ttl);
        Box::pin(std::future::ready(Ok(())))
    }

    fn status<'a>(&'a self, subject: &'a str, jti: &'a str) -> StoreFuture<'a, RevocationStatus> {
        let status = RevocationStatus {
            token_revoked: self.get(&Self::token_key(subject, jti)).is_some(),
            subject_revoked_through_ms: self.get(&Self::subject_key(subject)),
        };
        Box::pin(std::future::ready(Ok(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    /// The memory store answers at once: poll its future one time.
    fn block<T>(mut f: StoreFuture<'_, T>) -> T {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r.unwrap(),
            std::task::Poll::Pending => panic!("the memory store never waits"),
        }
    }

    #[test]
    fn entries_expire_with_their_ttl() {
        let clock = FakeClock::new(1_000_000);
        let store = MemoryRevocationStore::new(100).with_clock(clock.clone());
        block(store.revoke_token("u", "j", Duration::from_secs(10)));
        block(store.revoke_subject("u", 999, Duration::from_secs(20)));
        let s = block(store.status("u", "j"));
        assert!(s.token_revoked);
        assert_eq!(s.subject_revoked_through_ms, Some(999));
        clock.advance(Duration::from_secs(10));
        let s = block(store.status("u", "j"));
        assert!(!s.token_revoked);
        assert_eq!(s.subject_revoked_through_ms, Some(999));
        clock.advance(Duration::from_secs(10));
        assert_eq!(block(store.status("u", "j")), RevocationStatus::default());
    }

    #[test]
    fn subject_marks_never_move_back() {
        let store = MemoryRevocationStore::new(100);
        block(store.revoke_subject("u", 2000, Duration::from_secs(60)));
        block(store.revoke_subject("u", 1000, Duration::from_secs(60)));
        assert_eq!(block(store.status("u", "x")).subject_revoked_through_ms, Some(2000));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn keys_do_not_collide_across_subject_and_jti() {
        let store = MemoryRevocationStore::new(100);
        block(store.revoke_token("ab", "c", Duration::from_secs(60)));
        assert!(!block(store.status("a", "bc")).token_revoked);
    }

    #[test]
    fn a_flood_stays_within_the_bound_expired_first_then_closest_to_expiry() {
        let clock = FakeClock::new(1_000_000);
        let store = MemoryRevocationStore::new(1000).with_clock(clock.clone());
        assert_eq!(store.capacity(), 1000);
        // Short-lived entries fill the store, then expire: they make room without evictions.
        for i in 0..1000 {
            block(store.revoke_token("short", &i.to_string(), Duration::from_secs(1)));
        }
        clock.advance(Duration::from_secs(2));
        for i in 0..20_000 {
            let ttl = Duration::from_secs(60 + i % 600);
            block(store.revoke_token("flood", &i.to_string(), ttl));
            assert!(store.len() <= 1000);
        }
        assert!(store.len() <= 1000 && store.len() > 950, "{}", store.len());
        assert!(store.evictions() >= 19_000);
        // Eviction takes the entries closest to expiry: the survivors are mostly long-lived
        // (the flood's TTLs average 360 s).
        let kept: Vec<u64> = (0..20_000u64)
            .filter(|i| block(store.status("flood", &i.to_string())).token_revoked)
            .map(|i| 60 + i % 600)
            .collect();
        let mean = kept.iter().sum::<u64>() / kept.len() as u64;
        assert!(mean > 550, "mean survivor ttl {mean}");
    }

    #[test]
    fn concurrent_floods_stay_bounded() {
        let store = Arc::new(MemoryRevocationStore::new(500));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        block(store.revoke_token(
                            &format!("u{t}"),
                            &i.to_string(),
                            Duration::from_secs(600),
                        ));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(store.len() <= 500);
    }
}
