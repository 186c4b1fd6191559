//! The per-request CSP nonce that handlers put on their inline `<script>` and `<style>` tags.
//!
//! With [`HeadersPolicy::csp_nonce`](crate::HeadersPolicy::csp_nonce) on, the guard draws a
//! fresh [`CspNonce`] for every request, leaves it in the request's extensions for the handler,
//! and sends the same nonce in the response's Content-Security-Policy.
//!
//! ```
//! use guard_headers::CspNonce;
//!
//! let nonce = CspNonce::generate();
//! let tag = format!(r#"<script nonce="{nonce}">boot()</script>"#);
//! assert_eq!(nonce.as_str().len(), 24); // 16 random bytes, base64
//! assert!(tag.contains(nonce.as_str()));
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Length of a nonce: 16 random bytes encode to 24 base64 characters (with `==` padding).
const ENCODED_LEN: usize = 24;

/// A 128-bit random nonce for one response's Content-Security-Policy, in standard base64.
///
/// Handlers find it in the request extensions (`req.extensions().get::<CspNonce>()`) and write it
/// into `nonce="…"` attributes; [`Display`](fmt::Display) prints the bare base64 value. It is
/// `Copy` and lives inline, so drawing one allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CspNonce {
    encoded: [u8; ENCODED_LEN],
}

impl CspNonce {
    /// Draws a nonce from the thread-local cryptographically secure generator.
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// The nonce encoding `bytes`; for tests and for nonces drawn elsewhere.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut encoded = [b'A'; ENCODED_LEN];
        // 16 bytes always encode to exactly 24 characters, so this cannot fail; if it somehow
        // did, the nonce would stay a valid (if constant) base64 string rather than panic.
        let _ = STANDARD.encode_slice(bytes, &mut encoded);
        Self { encoded }
    }

    /// The base64 value, as it goes into `nonce="…"` and into `'nonce-…'`.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        std::str::from_utf8(&self.encoded).unwrap_or_default()
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CspNonce").field(&self.as_str()).finish()
    }
}

impl AsRef<str> for CspNonce {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_base64_of_16_random_bytes() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        for nonce in [a, b] {
            let raw = STANDARD.decode(nonce.as_str()).unwrap();
            assert_eq!(raw.len(), 16);
            assert_eq!(nonce.to_string(), nonce.as_str());
        }
    }

    #[test]
    fn known_bytes_encode_predictably() {
        let nonce = CspNonce::from_bytes(*b"0123456789abcdef");
        assert_eq!(nonce.as_str(), "MDEyMzQ1Njc4OWFiY2RlZg==");
        assert_eq!(format!("{nonce:?}"), r#"CspNonce("MDEyMzQ1Njc4OWFiY2RlZg==")"#);
        assert_eq!(nonce.as_ref(), nonce.as_str());
    }
}
