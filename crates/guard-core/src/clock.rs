//! Where every guard reads the time: one [`Clock`] trait, with the system's wall clock, a
//! monotonic clock, and a [`FakeClock`] that tests move by hand, so that a token can expire, a
//! limit refill or a revocation mark pass exactly one millisecond later without sleeping.
//!
//! Which clock a guard needs depends on what its times are compared with: JWT claims and
//! revocation marks are wall-clock times shared between instances ([`SystemClock`]); in-process
//! rate-limit state only needs a time that never goes backwards ([`MonotonicClock`]).
//!
//! ```
//! use std::time::Duration;
//! use guard_core::{Clock, FakeClock};
//!
//! let clock = FakeClock::new(1_700_000_000_000);
//! let same = clock.clone();
//! clock.advance(Duration::from_millis(1500));
//! assert_eq!(same.now_ms(), 1_700_000_001_500);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of milliseconds since a fixed origin (the Unix epoch for [`SystemClock`], the
/// clock's creation for [`MonotonicClock`]).
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the clock's origin.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock: milliseconds since 1970-01-01T00:00:00Z (0 for a clock set before
/// that). Instances that compare each other's times (revocation marks) must keep their clocks
/// in sync (NTP).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(saturating_ms).unwrap_or(0)
    }
}

/// The process's monotonic clock: milliseconds since the clock was made, never backwards.
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
        saturating_ms(self.origin.elapsed())
    }
}

/// A clock that moves only when told to; clones share one time. For deterministic tests.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    now: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self { now: Arc::new(AtomicU64::new(now_ms)) }
    }

    /// A clock reading the system's time now, then moving only when told to (for tests whose
    /// times meet a real store's, such as Redis expiries).
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward, saturating.
    pub fn advance(&self, by: Duration) {
        let by = saturating_ms(by);
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| Some(t.saturating_add(by)));
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

fn saturating_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
    fn the_system_clock_is_wall_time() {
        // 2026-01-01 and 2100-01-01: a clock in between reads epoch milliseconds.
        let now = SystemClock.now_ms();
        assert!((1_767_225_600_000..4_102_444_800_000).contains(&now), "{now}");
    }

    #[test]
    fn fake_clocks_share_their_time_and_saturate() {
        let c = FakeClock::new(5);
        let d: Arc<dyn Clock> = Arc::new(c.clone());
        c.set(100);
        c.advance(Duration::from_secs(1));
        assert_eq!(d.now_ms(), 1100);
        c.set(u64::MAX - 1);
        c.advance(Duration::from_secs(1));
        assert_eq!(d.now_ms(), u64::MAX);
        let near = FakeClock::starting_now().now_ms().abs_diff(SystemClock.now_ms());
        assert!(near < 1000);
    }
}
