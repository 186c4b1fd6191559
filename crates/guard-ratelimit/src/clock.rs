//! Where the in-process parts (the memory store, the block cache) read the time: a monotonic
//! clock in production, a [`FakeClock`] that tests move by hand.
//!
//! The Redis store never reads these: its script takes the time from the Redis server
//! (`TIME`), so every instance decides on one clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of milliseconds that never goes backwards.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since an arbitrary, fixed origin.
    fn now_ms(&self) -> u64;
}

/// The process's monotonic clock, in milliseconds since the clock was made.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A clock that moves only when told to; clones share one time. For deterministic tests.
///
/// ```
/// use std::time::Duration;
/// use guard_ratelimit::{Clock, FakeClock};
///
/// let clock = FakeClock::new(1_000);
/// let same = clock.clone();
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(same.now_ms(), 1_250);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    now: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self { now: Arc::new(AtomicU64::new(start_ms)) }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock (tests may also move it backwards, to see that nothing breaks).
    pub fn set(&self, now_ms: u64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_starts_near_zero_and_moves_forward() {
        let c = MonotonicClock::new();
        let a = c.now_ms();
        std::thread::sleep(Duration::from_millis(3));
        assert!(c.now_ms() >= a + 2);
        assert!(a < 1000);
    }

    #[test]
    fn fake_clocks_share_their_time() {
        let c = FakeClock::new(5);
        let d: Arc<dyn Clock> = Arc::new(c.clone());
        c.set(100);
        c.advance(Duration::from_secs(1));
        assert_eq!(d.now_ms(), 1100);
    }
}
