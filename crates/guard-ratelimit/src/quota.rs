//! How many requests per how long: [`Quota`] (`"10/60s"`), and a named quota,
//! [`QuotaPolicy`] (`"burst"`), as the IETF RateLimit headers list them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The largest `limit × window in milliseconds`: every computation of the algorithms then stays
/// below 2^53, where the doubles of Redis's Lua are still exact integers, so the in-memory and
/// the Redis store decide bit for bit alike.
pub const MAX_LIMIT_TIMES_WINDOW_MS: u64 = 1 << 52;

/// `limit` requests (units of cost) per `window`.
///
/// Parses from `"<limit>/<window>"`, the window a number and a unit `ms`, `s`, `m`, `h` or `d`
/// (the number may be left out: `"100/m"` is 100 per minute):
///
/// ```
/// use std::time::Duration;
/// use guard_ratelimit::Quota;
///
/// let q: Quota = "10/60s".parse()?;
/// assert_eq!((q.limit(), q.window()), (10, Duration::from_secs(60)));
/// assert_eq!("1000/1d".parse::<Quota>()?, Quota::new(1000, Duration::from_secs(86_400))?);
/// assert_eq!("5/s".parse::<Quota>()?.to_string(), "5/1s");
/// assert!("0/60s".parse::<Quota>().is_err());
/// # Ok::<(), guard_ratelimit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: u64,
    window_ms: u64,
}

/// A quota that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// Not of the form `<limit>/<window>`.
    #[error(
        "`{0}` is not a quota: expected <limit>/<window> such as 10/60s (units ms, s, m, h, d)"
    )]
    Syntax(String),
    /// The limit is zero.
    #[error("a quota's limit must be at least 1")]
    ZeroLimit,
    /// The window is shorter than a millisecond.
    #[error("a quota's window must be at least 1 ms")]
    ZeroWindow,
    /// `limit × window` is too large to compute exactly.
    #[error("quota {limit}/{window_ms}ms is too large: limit × window in ms must not exceed 2^52")]
    TooLarge {
        /// The limit.
        limit: u64,
        /// The window in milliseconds.
        window_ms: u64,
    },
}

impl Quota {
    /// `limit` per `window` (millisecond precision).
    pub fn new(limit: u64, window: Duration) -> Result<Self, QuotaError> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if window_ms == 0 {
            return Err(QuotaError::ZeroWindow);
        }
        match limit.checked_mul(window_ms) {
            Some(product) if product <= MAX_LIMIT_TIMES_WINDOW_MS => Ok(Self { limit, window_ms }),
            _ => Err(QuotaError::TooLarge { limit, window_ms }),
        }
    }

    /// `limit` per second.
    pub fn per_second(limit: u64) -> Result<Self, QuotaError> {
        Self::new(limit, Duration::from_secs(1))
    }

    /// `limit` per minute.
    pub fn per_minute(limit: u64) -> Result<Self, QuotaError> {
        Self::new(limit, Duration::from_secs(60))
    }

    /// `limit` per hour.
    pub fn per_hour(limit: u64) -> Result<Self, QuotaError> {
        Self::new(limit, Duration::from_secs(3600))
    }

    /// `limit` per day.
    pub fn per_day(limit: u64) -> Result<Self, QuotaError> {
        Self::new(limit, Duration::from_secs(86_400))
    }

    /// How many units a window allows.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    pub(crate) fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// The window in whole seconds, rounded up (the `w` of `RateLimit-Policy`).
    pub fn window_secs(&self) -> u64 {
        self.window_ms.div_ceil(1000)
    }

    /// This quota shared by `instances` equal instances, each holding `limit / instances`
    /// (at least 1): the local fallback while the shared store is down.
    pub fn divided(&self, instances: u32) -> Self {
        let limit = (self.limit / u64::from(instances.max(1))).max(1);
        Self { limit, window_ms: self.window_ms }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.window_ms.is_multiple_of(1000) {
            write!(f, "{}/{}s", self.limit, self.window_ms / 1000)
        } else {
            write!(f, "{}/{}ms", self.limit, self.window_ms)
        }
    }
}

impl FromStr for Quota {
    type Err = QuotaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || QuotaError::Syntax(s.to_owned());
        let (limit, window) = s.trim().split_once('/').ok_or_else(syntax)?;
        let limit: u64 = limit.trim().parse().map_err(|_| syntax())?;
        let window = window.trim();
        let digits = window.find(|c: char| !c.is_ascii_digit()).ok_or_else(syntax)?;
        let (count, unit) = window.split_at(digits);
        let count: u64 = if count.is_empty() { 1 } else { count.parse().map_err(|_| syntax())? };
        let unit_ms: u64 = match unit.trim() {
            "ms" => 1,
            "s" | "sec" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(syntax()),
        };
        let window_ms = count
            .checked_mul(unit_ms)
            .ok_or(QuotaError::TooLarge { limit, window_ms: u64::MAX })?;
        Self::new(limit, Duration::from_millis(window_ms))
    }
}

impl TryFrom<&str> for Quota {
    type Error = QuotaError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A named quota: one entry of `RateLimit-Policy` (`"burst";q=10;w=1`).
///
/// Several policies on one limiter are decided together: a request is admitted only if every
/// policy admits it, and only then does it count against each of them.
///
/// ```
/// use guard_ratelimit::QuotaPolicy;
///
/// let burst = QuotaPolicy::new("burst", "10/1s".parse()?);
/// let daily: QuotaPolicy = serde_json::from_str(r#"{"name": "daily", "quota": "1000/1d"}"#)?;
/// assert_eq!(daily.quota.limit(), 1000);
/// # let _ = burst;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPolicy {
    /// The policy's name in the headers and in store keys: 1 to 32 characters out of ASCII
    /// letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// Its quota.
    pub quota: Quota,
}

impl QuotaPolicy {
    /// The quota `quota` under `name`.
    pub fn new(name: impl Into<String>, quota: Quota) -> Self {
        Self { name: name.into(), quota }
    }

    pub(crate) fn name_is_valid(name: &str) -> bool {
        (1..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }
}

impl From<(&str, Quota)> for QuotaPolicy {
    fn from((name, quota): (&str, Quota)) -> Self {
        Self::new(name, quota)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("10/60s", 10, 60_000),
            (" 10 / 60s ", 10, 60_000),
            ("3/500ms", 3, 500),
            ("100/m", 100, 60_000),
            ("100/2min", 100, 120_000),
            ("5/1h", 5, 3_600_000),
            ("1000/1d", 1000, 86_400_000),
            ("7/sec", 7, 1000),
        ];
        for (text, limit, window_ms) in cases {
            let q: Quota = text.parse().unwrap();
            assert_eq!((q.limit(), q.window_ms()), (limit, window_ms), "{text}");
        }
    }

    #[test]
    fn refuses_nonsense_with_typed_errors() {
        for bad in ["", "10", "10/", "/60s", "x/60s", "10/60", "10/60y", "10/-1s", "-1/60s"] {
            assert!(matches!(bad.parse::<Quota>(), Err(QuotaError::Syntax(_))), "{bad}");
        }
        assert_eq!("0/1s".parse::<Quota>(), Err(QuotaError::ZeroLimit));
        assert_eq!("1/0s".parse::<Quota>(), Err(QuotaError::ZeroWindow));
        assert!(matches!(
            "1000000000/1d".parse::<Quota>(),
            Err(QuotaError::TooLarge { limit: 1_000_000_000, .. })
        ));
        assert!(matches!(
            "1/99999999999999999d".parse::<Quota>(),
            Err(QuotaError::TooLarge { .. })
        ));
    }

    #[test]
    fn displays_round_trip_and_windows_round_up() {
        for text in ["10/60s", "3/500ms", "1/1s"] {
            let q: Quota = text.parse().unwrap();
            assert_eq!(q.to_string(), text);
            assert_eq!(q.to_string().parse::<Quota>().unwrap(), q);
        }
        assert_eq!("3/500ms".parse::<Quota>().unwrap().window_secs(), 1);
        assert_eq!("3/1500ms".parse::<Quota>().unwrap().window_secs(), 2);
    }

    #[test]
    fn divides_for_the_local_fallback() {
        let q: Quota = "10/60s".parse().unwrap();
        assert_eq!(q.divided(3).limit(), 3);
        assert_eq!(q.divided(0).limit(), 10);
        assert_eq!(q.divided(50).limit(), 1);
        assert_eq!(q.divided(3).window(), q.window());
    }

    #[test]
    fn serde_uses_the_text_form() {
        let p: QuotaPolicy =
            serde_json::from_str(r#"{"name": "burst", "quota": "10/1s"}"#).unwrap();
        assert_eq!(p, QuotaPolicy::new("burst", Quota::per_second(10).unwrap()));
        assert_eq!(serde_json::to_string(&p.quota).unwrap(), r#""10/1s""#);
        assert!(serde_json::from_str::<QuotaPolicy>(r#"{"name": "x", "quota": "10"}"#).is_err());
        assert!(QuotaPolicy::name_is_valid("daily-v2.1_x"));
        for bad in ["", "a b", "a\"b", "é", &"x".repeat(33)] {
            assert!(!QuotaPolicy::name_is_valid(bad), "{bad}");
        }
    }
}
