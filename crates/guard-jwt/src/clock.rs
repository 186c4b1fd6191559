//! Where "now" comes from: guard-core's clocks, the system's wall clock in production and a
//! [`FakeClock`](guard_core::FakeClock) in tests.
//!
//! Verification (`exp`, `nbf`, `iat`), token minting and revocation marks all read the time
//! through [`Clock`], so tests can put a token exactly one millisecond before or after a password
//! change without sleeping.

use std::sync::Arc;
use std::time::Duration;

pub use guard_core::{Clock, FakeClock, SystemClock};

/// A clock shared by the clones of a guard.
pub(crate) type SharedClock = Arc<dyn Clock>;

/// Durations as milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Durations written as whole seconds in configuration (`#[serde(with = "...::secs")]`).
pub(crate) mod secs {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
