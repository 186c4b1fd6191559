//! How much a JSON body may hold (its size and its nesting) and how long it may take to arrive,
//! configured once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The limits of one route's (or the whole app's) JSON bodies, checked before and while parsing.
///
/// Plain data: deserialize it from configuration
/// (`{"max_bytes": 16384, "max_depth": 32, "read_timeout": 10000}`, all optional, the timeout in
/// milliseconds) or build it with [`JsonLimits::new`]; either way it is validated once.
///
/// The read timeout bounds the whole body: a client that sends it a byte a second (a slow-body
/// attack, holding a connection and a task for hours) is answered 408 when it runs out, and the
/// connection is closed.
///
/// ```
/// use std::time::Duration;
/// use guard_validate::JsonLimits;
///
/// let login: JsonLimits = serde_json::from_str(r#"{"max_bytes": 2048}"#).unwrap();
/// assert_eq!((login.max_bytes(), login.max_depth()), (2048, 32));
/// assert_eq!(login.read_timeout(), Duration::from_secs(10));
/// assert!(serde_json::from_str::<JsonLimits>(r#"{"max_depth": 0}"#).is_err());
/// let quick = JsonLimits::default().with_read_timeout(Duration::from_secs(2)).unwrap();
/// assert_eq!(quick.read_timeout(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JsonLimitsConfig", into = "JsonLimitsConfig")]
pub struct JsonLimits {
    max_bytes: usize,
    max_depth: usize,
    read_timeout: Duration,
}

/// A [`JsonLimits`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonLimitsError {
    /// A body limit of zero bytes would refuse every body, `{}` included.
    #[error("max_bytes must be at least 1")]
    ZeroBytes,
    /// The nesting limit is outside `1..=100` (the JSON parser stops at 127 levels).
    #[error("max_depth must be between 1 and 100, not {0}")]
    DepthOutOfRange(usize),
    /// A read timeout of zero would refuse every body.
    #[error("read_timeout must be at least 1 ms")]
    ZeroTimeout,
}

/// The serialized form, with the defaults filled in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLimitsConfig {
    #[serde(default = "default_max_bytes")]
    max_bytes: usize,
    #[serde(default = "default_max_depth")]
    max_depth: usize,
    /// Milliseconds.
    #[serde(default = "default_read_timeout")]
    read_timeout: u64,
}

fn default_read_timeout() -> u64 {
    JsonLimits::DEFAULT_READ_TIMEOUT.as_millis() as u64
}

fn default_max_bytes() -> usize {
    JsonLimits::DEFAULT_MAX_BYTES
}

fn default_max_depth() -> usize {
    JsonLimits::DEFAULT_MAX_DEPTH
}

impl TryFrom<JsonLimitsConfig> for JsonLimits {
    type Error = JsonLimitsError;

    fn try_from(config: JsonLimitsConfig) -> Result<Self, Self::Error> {
        Self::new(config.max_bytes, config.max_depth)?
            .with_read_timeout(Duration::from_millis(config.read_timeout))
    }
}

impl From<JsonLimits> for JsonLimitsConfig {
    fn from(limits: JsonLimits) -> Self {
        Self {
            max_bytes: limits.max_bytes,
            max_depth: limits.max_depth,
            read_timeout: u64::try_from(limits.read_timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl JsonLimits {
    /// The default body limit: 16 KiB, plenty for a form-sized API request.
    pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;
    /// The default nesting limit: 32 levels of objects and arrays.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// The deepest nesting limit that can be configured.
    pub const MAX_DEPTH_CEILING: usize = 100;
    /// The default time a whole body may take to arrive: 10 s, which a 16 KiB body sent over a
    /// poor mobile link (50 kbit/s) needs less than a third of.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

    /// Limits of `max_bytes` per body and `max_depth` levels of nested objects and arrays
    /// (`{"a": [1]}` is two levels deep).
    pub fn new(max_bytes: usize, max_depth: usize) -> Result<Self, JsonLimitsError> {
        if max_bytes == 0 {
            return Err(JsonLimitsError::ZeroBytes);
        }
        if !(1..=Self::MAX_DEPTH_CEILING).contains(&max_depth) {
            return Err(JsonLimitsError::DepthOutOfRange(max_depth));
        }
        Ok(Self { max_bytes, max_depth, read_timeout: Self::DEFAULT_READ_TIMEOUT })
    }

    /// The same limits with another read timeout (at least 1 ms).
    pub fn with_read_timeout(self, read_timeout: Duration) -> Result<Self, JsonLimitsError> {
        if read_timeout.is_zero() {
            return Err(JsonLimitsError::ZeroTimeout);
        }
        Ok(Self { read_timeout, ..self })
    }

    /// How long the whole body may take to arrive.
    pub fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    /// The largest body accepted, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The deepest nesting of objects and arrays accepted.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
}

impl Default for JsonLimits {
    /// 16 KiB, 32 levels, 10 s.
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_validated_however_they_are_made() {
        assert_eq!(JsonLimits::new(0, 8), Err(JsonLimitsError::ZeroBytes));
        assert_eq!(JsonLimits::new(8, 0), Err(JsonLimitsError::DepthOutOfRange(0)));
        assert_eq!(JsonLimits::new(8, 101), Err(JsonLimitsError::DepthOutOfRange(101)));
        assert!(serde_json::from_str::<JsonLimits>(r#"{"max_bytes": 0}"#).is_err());
        assert!(serde_json::from_str::<JsonLimits>(r#"{"max_byte": 10}"#).is_err());
        let limits: JsonLimits = serde_json::from_str("{}").unwrap();
        assert_eq!(limits, JsonLimits::default());
        let back: JsonLimits =
            serde_json::from_str(&serde_json::to_string(&JsonLimits::new(10, 3).unwrap()).unwrap())
                .unwrap();
        assert_eq!((back.max_bytes(), back.max_depth()), (10, 3));
        let slow: JsonLimits = serde_json::from_str(r#"{"read_timeout": 2500}"#).unwrap();
        assert_eq!(slow.read_timeout(), Duration::from_millis(2500));
        assert!(serde_json::from_str::<JsonLimits>(r#"{"read_timeout": 0}"#).is_err());
        assert_eq!(
            JsonLimits::default().with_read_timeout(Duration::ZERO),
            Err(JsonLimitsError::ZeroTimeout)
        );
    }
}
