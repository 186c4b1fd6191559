//! The per-type opt-out of strict keys.

use std::fmt;
use std::marker::PhantomData;

use garde::Validate;
use garde::error::Path;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::shape::ALLOW_UNKNOWN_KEYS;

/// Lets the object of one struct carry keys its type does not declare: they are ignored
/// instead of refused.
///
/// By default every object of the body, at every depth, may hold only the keys its struct
/// declares. Wrap a struct type in `AllowUnknownKeys` where its objects come from a source that
/// adds keys of its own (a client's metadata, a webhook's payload). Only that struct's own
/// object is lenient: structs inside it are strict again unless wrapped too. It is
/// transparent otherwise: it serializes, validates and (with any other deserializer)
/// deserializes as the type it wraps, and derefs to it.
///
/// ```
/// use guard_validate::{AllowUnknownKeys, JsonLimits, parse_json};
///
/// #[derive(Debug, serde::Deserialize, garde::Validate)]
/// struct Event {
///     #[garde(length(min = 1))]
///     kind: String,
///     #[garde(dive)]
///     source: AllowUnknownKeys<Source>,
/// }
///
/// #[derive(Debug, serde::Deserialize, garde::Validate)]
/// struct Source {
///     #[garde(length(min = 1))]
///     name: String,
/// }
///
/// let body = br#"{"kind": "push", "source": {"name": "ci", "build": 7}}"#;
/// let event: Event = parse_json(&JsonLimits::default(), Some(b"application/json"), body).unwrap();
/// assert_eq!(event.source.name, "ci");
///
/// let body = br#"{"kind": "push", "source": {"name": "ci"}, "build": 7}"#;
/// let refused = parse_json::<Event>(&JsonLimits::default(), Some(b"application/json"), body);
/// assert_eq!(refused.unwrap_err().field_errors()[0].pointer, "/build");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowUnknownKeys<T>(pub T);

crate::__transparent_wrapper!(AllowUnknownKeys, "The wrapped value.");

impl<'de, T: Deserialize<'de>> Deserialize<'de> for AllowUnknownKeys<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Asks for a newtype of a name guard-validate's deserializer recognizes; any other
        // deserializer hands over the inner value as it does for every newtype.
        deserializer.deserialize_newtype_struct(ALLOW_UNKNOWN_KEYS, Lenient(PhantomData))
    }
}

struct Lenient<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Lenient<T> {
    type Value = AllowUnknownKeys<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize(d).map(AllowUnknownKeys)
    }

    // Self-describing formats that do not know newtypes hand over the value itself.
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(AllowUnknownKeys)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(AllowUnknownKeys)
    }
}

impl<T: Serialize> Serialize for AllowUnknownKeys<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: Validate> Validate for AllowUnknownKeys<T> {
    type Context = T::Context;

    fn validate_into(
        &self,
        ctx: &Self::Context,
        parent: &mut dyn FnMut() -> Path,
        report: &mut garde::Report,
    ) {
        self.0.validate_into(ctx, parent, report)
    }
}
