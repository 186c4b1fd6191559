//! The in-process store: for one instance, for tests, and as the local fallback while Redis is
//! down. Sharded and bounded.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use crate::algorithm::{Algorithm, Cell, Evaluation, Limits, evaluate};
use guard_core::{Clock, MonotonicClock};

/// A concurrent map with a bound on its number of keys and expiry-first eviction.
pub(crate) struct BoundedMap<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    hasher: RandomState,
    per_shard: usize,
}

struct Shard<V> {
    map: HashMap<Box<str>, Slot<V>>,
    /// The most keys this shard ever held (for the bound tests).
    peak: usize,
}

struct Slot<V> {
    value: V,
    /// The clock reading from which the value no longer matters.
    expires: u64,
}

impl<V> BoundedMap<V> {
    /// A map holding at most `max_keys` keys (at least 1).
    pub(crate) fn new(max_keys: usize) -> Self {
        let max_keys = max_keys.max(1);
        let cores = std::thread::available_parallelism().map_or(4, usize::from);
        let shards = (cores * 4).next_power_of_two().clamp(1, 64).min(prev_power_of_two(max_keys));
        let per_shard = max_keys / shards;
        let shards = (0..shards)
            .map(|_| Mutex::new(Shard { map: HashMap::new(), peak: 0 }))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Self { shards, hasher: RandomState::new(), per_shard }
    }

    /// The bound: the most keys the map can ever hold.
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// Keys held now, expired ones included until they are swept.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    fn shard(&self, key: &str) -> &Mutex<Shard<V>> {
        let hash = self.hasher.hash_one(key);
        // The high bits: the map inside the shard uses its own hasher anyway.
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Calls `decide` with the live value of `key` (none when absent or expired at `now`) and
    /// stores what it returns, with its expiry, if anything.
    pub(crate) fn update<R>(
        &self,
        key: &str,
        now: u64,
        decide: impl FnOnce(Option<&V>) -> (R, Option<(V, u64)>),
    ) -> R {
        let mut shard = lock(self.shard(key));
        if let Some(slot) = shard.map.get_mut(key) {
            let live = (slot.expires > now).then_some(&slot.value);
            let (result, store) = decide(live);
            if let Some((value, expires)) = store {
                *slot = Slot { value, expires };
            }
            return result;
        }
        let (result, store) = decide(None);
        if let Some((value, expires)) = store {
            if shard.map.len() >= self.per_shard {
                shard.make_room(now, self.per_shard);
            }
            shard.map.insert(key.into(), Slot { value, expires });
            shard.peak = shard.peak.max(shard.map.len());
        }
        result
    }

    /// Reads the live value of `key`.
    #[cfg(feature = "redis")]
    pub(crate) fn get<R>(&self, key: &str, now: u64, read: impl FnOnce(&V) -> R) -> Option<R> {
        let shard = lock(self.shard(key));
        shard.map.get(key).filter(|slot| slot.expires > now).map(|slot| read(&slot.value))
    }

    /// Forgets `key`.
    #[cfg(all(test, feature = "redis"))]
    pub(crate) fn remove(&self, key: &str) {
        lock(self.shard(key)).map.remove(key);
    }

    #[cfg(test)]
    fn shard_peaks(&self) -> Vec<usize> {
        self.shards.iter().map(|s| lock(s).peak).collect()
    }
}

fn prev_power_of_two(n: usize) -> usize {
    if n.is_power_of_two() { n } else { n.next_power_of_two() / 2 }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard cannot leave a half-written entry (every write is one
    // assignment), so a poisoned shard is still sound.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<V> Shard<V> {
    /// Frees at least a quarter of the shard, soonest expiry first: every expired key, and if
    /// that is less than a quarter, the live keys closest to expiry. Two passes over the shard,
    /// paid once per quarter of a shard of new keys.
    fn make_room(&mut self, now: u64, per_shard: usize) {
        let mut expiries: Vec<u64> = self.map.values().map(|slot| slot.expires).collect();
        let expired = expiries.iter().filter(|&&e| e <= now).count();
        let evict = expired.max(per_shard / 4).clamp(1, expiries.len().max(1));
        let (_, &mut threshold, _) = expiries.select_nth_unstable(evict - 1);
        // Everything expiring before the threshold goes (fewer than `evict`), then as many
        // expiring at it as there is room for.
        let below = expiries.iter().filter(|&&e| e < threshold).count();
        let mut ties = evict - below;
        self.map.retain(|_, slot| {
            if slot.expires < threshold {
                return false;
            }
            let gone = ties > 0 && slot.expires == threshold;
            ties -= usize::from(gone);
            !gone
        });
    }
}

/// The in-process store: exact for one instance, bounded in memory, on any [`Clock`].
///
/// Keys are spread over shards (a power of two, about four per core) by a keyed hash, each
/// behind its own `std::sync::Mutex` held only for one decision's arithmetic, never across an
/// `await`. Each shard holds at most `max_keys / shards` keys. When a new key finds its shard
/// full, the shard first drops every expired key (a key expires when its state would read as
/// fresh anyway, so nothing is lost); if none had expired, it evicts the quarter of its keys that
/// expire soonest (expiry-first: the state closest to worthless goes first). The two passes that
/// find them are paid once per quarter of a shard of new keys, so a client spraying distinct keys
/// costs a constant amount of work per request and can never grow the store past its bound. A
/// refused request stores nothing at all.
///
/// Cheap to clone; clones share their state, so one store can back several limiters (their
/// prefixes keep them apart).
///
/// ```
/// use guard_ratelimit::{FakeClock, MemoryStore};
///
/// let store = MemoryStore::with_clock(10_000, FakeClock::new(0));
/// assert!(store.capacity() <= 10_000);
/// assert!(store.is_empty());
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<MemoryInner>,
}

struct MemoryInner {
    map: BoundedMap<Vec<Cell>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity())
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_KEYS)
    }
}

impl MemoryStore {
    /// The default bound on the number of keys.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// A store holding at most `max_keys` keys, on the monotonic clock.
    pub fn new(max_keys: usize) -> Self {
        Self::with_clock(max_keys, MonotonicClock::new())
    }

    /// A store holding at most `max_keys` keys, on `clock` (a [`FakeClock`](crate::FakeClock) in
    /// tests).
    pub fn with_clock(max_keys: usize, clock: impl Clock) -> Self {
        Self {
            inner: Arc::new(MemoryInner { map: BoundedMap::new(max_keys), clock: Arc::new(clock) }),
        }
    }

    /// The most keys the store can ever hold (`max_keys` rounded down to a multiple of the
    /// shard count).
    pub fn capacity(&self) -> usize {
        self.inner.map.capacity()
    }

    /// Keys held now (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides `cost` units for `key` against every quota, atomically.
    pub(crate) fn decide(
        &self,
        key: &str,
        alg: Algorithm,
        quotas: &[Limits],
        cost: u64,
    ) -> Evaluation {
        let now = self.inner.clock.now_ms();
        self.inner.map.update(key, now, |cells| {
            let stored: Vec<Option<Cell>> = match cells {
                Some(cells) if cells.len() == quotas.len() => {
                    cells.iter().copied().map(Some).collect()
                }
                _ => vec![None; quotas.len()],
            };
            let mut ev = evaluate(alg, &stored, now, quotas, cost);
            let write = ev.write.take().map(|(cells, ttl)| (cells, now.saturating_add(ttl)));
            (ev, write)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::FakeClock;
    use std::time::{Duration, Instant};

    fn q(limit: u64, window: u64) -> Limits {
        Limits { limit, window }
    }

    #[test]
    fn keys_are_independent_and_expire() {
        let clock = FakeClock::new(0);
        let store = MemoryStore::with_clock(100, clock.clone());
        let quotas = [q(1, 1000)];
        assert!(store.decide("a", Algorithm::Gcra, &quotas, 1).admitted);
        assert!(!store.decide("a", Algorithm::Gcra, &quotas, 1).admitted);
        assert!(store.decide("b", Algorithm::Gcra, &quotas, 1).admitted);
        clock.advance(Duration::from_millis(1000));
        assert!(store.decide("a", Algorithm::Gcra, &quotas, 1).admitted);
    }

    #[test]
    fn a_refused_new_key_stores_nothing() {
        let store = MemoryStore::with_clock(100, FakeClock::new(0));
        assert!(!store.decide("big", Algorithm::Gcra, &[q(2, 1000)], 3).admitted);
        assert!(store.is_empty());
    }

    #[test]
    fn expired_keys_make_room_before_live_ones_are_evicted() {
        let mut shard: Shard<u32> = Shard { map: HashMap::new(), peak: 0 };
        for i in 0..16u64 {
            // k3 and k9 have expired at time 50; the others are live.
            let expires = if i == 3 || i == 9 { 40 } else { 1000 - i };
            shard.map.insert(format!("k{i}").into(), Slot { value: 0, expires });
        }
        shard.make_room(50, 16);
        // A quarter goes: the two expired keys first, then the two live ones expiring soonest.
        assert_eq!(shard.map.len(), 12);
        for gone in ["k3", "k9", "k15", "k14"] {
            assert!(!shard.map.contains_key(gone), "{gone}");
        }
        // When more than a quarter has expired, all of it goes, and no live key.
        let mut shard: Shard<u32> = Shard { map: HashMap::new(), peak: 0 };
        for i in 0..16u64 {
            shard.map.insert(format!("k{i}").into(), Slot { value: 0, expires: 10 + i * 10 });
        }
        shard.make_room(100, 16);
        assert_eq!(shard.map.len(), 6, "k0..k9 expired at 100, k10.. live");
    }

    #[test]
    fn a_full_shard_evicts_the_soonest_to_expire_first() {
        let mut shard: Shard<u32> = Shard { map: HashMap::new(), peak: 0 };
        for i in 0..16u64 {
            shard.map.insert(format!("k{i}").into(), Slot { value: 0, expires: 100 + i });
        }
        shard.make_room(0, 16);
        // 16 / 4 = 4 evicted: the four expiring soonest.
        assert_eq!(shard.map.len(), 12);
        assert!((0..4).all(|i| !shard.map.contains_key(format!("k{i}").as_str())));
        assert!(shard.map.contains_key("k4"));
        // Ties at the threshold are evicted only as far as the batch goes.
        let mut shard: Shard<u32> = Shard { map: HashMap::new(), peak: 0 };
        for i in 0..16u64 {
            shard.map.insert(format!("k{i}").into(), Slot { value: 0, expires: 100 + i / 8 });
        }
        shard.make_room(0, 16);
        assert_eq!(shard.map.len(), 12);
    }

    /// A client spraying a million distinct keys never grows the store past its bound, and
    /// costs a constant amount of work per request.
    #[test]
    fn a_million_distinct_keys_stay_within_the_bound() {
        let clock = FakeClock::new(0);
        let store = MemoryStore::with_clock(10_000, clock.clone());
        let bound = store.capacity();
        assert!((5_000..=10_000).contains(&bound), "{bound}");
        let quotas = [q(10, 60_000)];
        let started = Instant::now();
        let threads = 2;
        let per_thread = 500_000;
        std::thread::scope(|s| {
            for t in 0..threads {
                let store = &store;
                let clock = &clock;
                s.spawn(move || {
                    let mut key = String::with_capacity(16);
                    for i in 0..per_thread {
                        use std::fmt::Write;
                        key.clear();
                        let _ = write!(key, "{t}:{i}");
                        assert!(store.decide(&key, Algorithm::Gcra, &quotas, 1).admitted);
                        if i % 100_000 == 0 {
                            // Entries live 6 s: older ones expire, and the sweep of expired
                            // keys takes turns with expiry-first eviction.
                            clock.advance(Duration::from_secs(2));
                            assert!(store.len() <= bound);
                        }
                    }
                });
            }
        });
        // Each shard's high-water mark respected its share, so the total never exceeded the
        // bound at any instant.
        let peaks = store.inner.map.shard_peaks();
        assert!(peaks.iter().all(|&p| p <= store.inner.map.per_shard), "{peaks:?}");
        assert!(peaks.iter().sum::<usize>() <= bound);
        assert!(store.len() <= bound);
        eprintln!("sprayed 1,000,000 keys in {:?}", started.elapsed());
    }
}
