//! Header names and values encoded once at start-up.
//!
//! A guard's policy turns its headers into [`PreparedHeader`]s when it is built; applying one to a
//! response is then a reference-count bump, on `http` 1.x and, with the `http02` feature that the
//! actix-web adapter turns on, on actix-web's `http` 0.2 types too.
//!
//! ```
//! use guard_core::{GuardResponse, PreparedHeader, ResponseHead};
//! use http::StatusCode;
//!
//! let nosniff = PreparedHeader::from_static("x-content-type-options", "nosniff");
//! let mut res = GuardResponse::new(StatusCode::OK);
//! res.set(&nosniff);
//! res.set(&nosniff);
//! assert_eq!(res.headers().get_all("x-content-type-options").iter().count(), 1);
//! ```

use http::{HeaderName, HeaderValue};

/// A header name usable on every framework's header map without re-parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderKey {
    name: HeaderName,
    #[cfg(feature = "http02")]
    name02: http02::HeaderName,
}

impl HeaderKey {
    /// Wraps an `http` 1.x header name.
    pub fn new(name: HeaderName) -> Self {
        Self {
            #[cfg(feature = "http02")]
            name02: http02::HeaderName::from_bytes(name.as_str().as_bytes())
                .expect("a valid http 1.x header name is a valid http 0.2 header name"),
            name,
        }
    }

    /// A name from a static lower-case string; panics on an invalid name, like
    /// [`HeaderName::from_static`], so use it only for constants.
    pub fn from_static(name: &'static str) -> Self {
        Self {
            name: HeaderName::from_static(name),
            #[cfg(feature = "http02")]
            name02: http02::HeaderName::from_static(name),
        }
    }

    /// The `http` 1.x name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The `http` 0.2 name (for the actix-web adapter).
    #[cfg(feature = "http02")]
    pub fn http02(&self) -> &http02::HeaderName {
        &self.name02
    }
}

impl From<HeaderName> for HeaderKey {
    fn from(name: HeaderName) -> Self {
        Self::new(name)
    }
}

/// A complete header line (name and value) encoded once, applied many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedHeader {
    key: HeaderKey,
    value: HeaderValue,
    #[cfg(feature = "http02")]
    value02: http02::HeaderValue,
}

impl PreparedHeader {
    /// Prepares `value` under `key`.
    pub fn new(key: impl Into<HeaderKey>, value: HeaderValue) -> Self {
        let prepared = Self {
            key: key.into(),
            #[cfg(feature = "http02")]
            value02: {
                let mut v = http02::HeaderValue::from_bytes(value.as_bytes())
                    .expect("a valid http 1.x header value is a valid http 0.2 header value");
                v.set_sensitive(value.is_sensitive());
                v
            },
            value,
        };
        // A `Bytes` made from a runtime string allocates its shared reference count on its first
        // clone: pay that here, at start-up, so that applying the header never allocates.
        drop(prepared.clone());
        prepared
    }

    /// A header from static strings; panics on invalid input, so use it only for constants.
    pub fn from_static(name: &'static str, value: &'static str) -> Self {
        Self {
            key: HeaderKey::from_static(name),
            value: HeaderValue::from_static(value),
            #[cfg(feature = "http02")]
            value02: http02::HeaderValue::from_static(value),
        }
    }

    /// The header's name.
    pub fn key(&self) -> &HeaderKey {
        &self.key
    }

    /// The `http` 1.x name.
    pub fn name(&self) -> &HeaderName {
        &self.key.name
    }

    /// The `http` 1.x value.
    pub fn value(&self) -> &HeaderValue {
        &self.value
    }

    /// The `http` 0.2 value (for the actix-web adapter).
    #[cfg(feature = "http02")]
    pub fn http02_value(&self) -> &http02::HeaderValue {
        &self.value02
    }
}

/// Every value of one header, in order, as raw bytes; no allocation for zero or one value.
#[derive(Debug, Clone, Default)]
pub struct HeaderValues<'a> {
    first: Option<&'a [u8]>,
    rest: std::vec::IntoIter<&'a [u8]>,
}

impl<'a> FromIterator<&'a [u8]> for HeaderValues<'a> {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut iter = iter.into_iter();
        let first = iter.next();
        let rest: Vec<&'a [u8]> = if first.is_some() { iter.collect() } else { Vec::new() };
        Self { first, rest: rest.into_iter() }
    }
}

impl<'a> Iterator for HeaderValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<Self::Item> {
        self.first.take().or_else(|| self.rest.next())
    }
}

/// Whether a `Vary` header's values already name `token` (case-insensitively), or are `*`.
///
/// ```
/// let values: [&[u8]; 2] = [b"Accept-Encoding", b"origin, Accept"];
/// assert!(guard_core::vary_contains(values, "Origin"));
/// assert!(!guard_core::vary_contains(values, "Cookie"));
/// ```
pub fn vary_contains<'a>(values: impl IntoIterator<Item = &'a [u8]>, token: &str) -> bool {
    values.into_iter().any(|value| {
        value
            .split(|&b| b == b',')
            .map(|t| t.trim_ascii())
            .any(|t| t == b"*" || t.eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_iterates_in_order() {
        let vals: HeaderValues<'_> = [&b"a"[..], b"b", b"c"].into_iter().collect();
        assert_eq!(vals.collect::<Vec<_>>(), [b"a", b"b", b"c"]);
        let none: HeaderValues<'_> = std::iter::empty().collect();
        assert_eq!(none.count(), 0);
    }

    #[test]
    fn prepared_header_keeps_name_and_value() {
        let h = PreparedHeader::new(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        );
        assert_eq!(h.name(), "x-frame-options");
        assert_eq!(h.value(), "DENY");
        assert_eq!(h, PreparedHeader::from_static("x-frame-options", "DENY"));
    }

    #[test]
    fn vary_star_covers_everything() {
        assert!(vary_contains([&b"*"[..]], "Origin"));
        assert!(!vary_contains([&b"Origins"[..]], "Origin"));
    }
}
