//! Strict reading of a token segment: base64url without padding, then one JSON object whose
//! top-level members are unique (serde_json would otherwise keep the last of two `alg`s
//! silently, and two parsers could disagree on which one counts).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};
use serde_json::{Map, Value};

/// A segment's bytes, or `None` when it is not canonical unpadded base64url.
pub(crate) fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// The segment as a JSON object, or `None` when it is not one or repeats a member.
pub(crate) fn object_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = decode_segment(segment)?;
    serde_json::from_slice::<UniqueObject>(&bytes).ok().map(|o| o.0)
}

/// Whether `s` is non-empty and made only of the base64url alphabet.
pub(crate) fn is_base64url(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

struct UniqueObject(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UniqueObject;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with unique member names")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueObject, A::Error> {
                let mut out = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    if out.contains_key(&name) {
                        return Err(A::Error::custom("duplicate member"));
                    }
                    let value: Value = access.next_value()?;
                    out.insert(name, value);
                }
                Ok(UniqueObject(out))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn objects_with_unique_members_only() {
        assert!(object_segment(&enc(r#"{"alg":"HS256","typ":"JWT"}"#)).is_some());
        assert!(object_segment(&enc(r#"{"alg":"HS256","alg":"none"}"#)).is_none());
        assert!(object_segment(&enc(r#"["alg"]"#)).is_none());
        assert!(object_segment(&enc(r#"{"alg":"HS256"} x"#)).is_none());
        assert!(object_segment(&enc("null")).is_none());
    }

    #[test]
    fn padding_and_other_alphabets_are_refused() {
        assert!(decode_segment("YQ").is_some());
        assert!(decode_segment("YQ==").is_none());
        assert!(decode_segment("Y+/=").is_none());
        assert!(is_base64url("ab-_09"));
        assert!(!is_base64url(""));
        assert!(!is_base64url("ab+"));
    }
}
