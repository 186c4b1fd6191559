//! How much a JSON body may hold: its size and its nesting, configured once.

use serde::{Deserialize, Serialize};

/// The limits of one route's (or the whole app's) JSON bodies, checked before and while parsing.
///
/// Plain data: deserialize it from configuration (`{"max_bytes": 16384, "max_depth": 32}`,
/// both optional) or build it with [`JsonLimits::new`]; either way it is validated once.
///
/// ```
/// use guard_validate::JsonLimits;
///
/// let login: JsonLimits = serde_json::from_str(r#"{"max_bytes": 2048}"#).unwrap();
/// assert_eq!((login.max_bytes(), login.max_depth()), (2048, 32));
/// assert!(serde_json::from_str::<JsonLimits>(r#"{"max_depth": 0}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JsonLimitsConfig", into = "JsonLimitsConfig")]
pub struct JsonLimits {
    max_bytes: usize,
    max_depth: usize,
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
}

/// The serialized form, with the defaults filled in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLimitsConfig {
    #[serde(default = "default_max_bytes")]
    max_bytes: usize,
    #[serde(default = "default_max_depth")]
    max_depth: usize,
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
        Self::new(config.max_bytes, config.max_depth)
    }
}

impl From<JsonLimits> for JsonLimitsConfig {
    fn from(limits: JsonLimits) -> Self {
        Self { max_bytes: limits.max_bytes, max_depth: limits.max_depth }
    }
}

impl JsonLimits {
    /// The default body limit: 16 KiB, plenty for a form-sized API request.
    pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;
    /// The default nesting limit: 32 levels of objects and arrays.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// The deepest nesting limit that can be configured.
    pub const MAX_DEPTH_CEILING: usize = 100;

    /// Limits of `max_bytes` per body and `max_depth` levels of nested objects and arrays
    /// (`{"a": [1]}` is two levels deep).
    pub fn new(max_bytes: usize, max_depth: usize) -> Result<Self, JsonLimitsError> {
        if max_bytes == 0 {
            return Err(JsonLimitsError::ZeroBytes);
        }
        if !(1..=Self::MAX_DEPTH_CEILING).contains(&max_depth) {
            return Err(JsonLimitsError::DepthOutOfRange(max_depth));
        }
        Ok(Self { max_bytes, max_depth })
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
    /// 16 KiB and 32 levels.
    fn default() -> Self {
        Self { max_bytes: Self::DEFAULT_MAX_BYTES, max_depth: Self::DEFAULT_MAX_DEPTH }
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
    }
}
