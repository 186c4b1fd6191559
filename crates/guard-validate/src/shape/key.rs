//! Object keys and enum variant names, parsed as the type's keys are (a map with integer keys
//! gets integers); a key that does not parse is reported at its entry and stood in for.

use serde::de::{self, IntoDeserializer, Visitor};

use crate::rejection::FieldError;

use super::error::{Error, one_of};
use super::spot::{Spot, Src};

/// An object key (or an enum's variant name), parsed as the type's keys are.
pub(super) struct Key<'c> {
    pub(super) key: &'c str,
    /// The entry the key belongs to, where a key that does not parse is reported.
    pub(super) spot: &'c Spot<'c>,
}

impl Key<'_> {
    fn refuse(&self, expected: &str) {
        if matches!(self.spot.src, Src::Node(_)) {
            self.spot.pass.record(FieldError::new(
                self.spot.pointer(),
                format!("has an invalid key: {expected}"),
            ));
        }
    }
}

macro_rules! deserialize_parsed_key {
    ($($method:ident => $visit:ident($ty:ty, $expected:literal, $stand_in:expr),)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.key.parse::<$ty>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => {
                    self.refuse($expected);
                    visitor.$visit($stand_in)
                }
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Key<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.key)
    }

    deserialize_parsed_key! {
        deserialize_bool => visit_bool(bool, "expected true or false", false),
        deserialize_i8 => visit_i8(i8, "expected an integer", 0),
        deserialize_i16 => visit_i16(i16, "expected an integer", 0),
        deserialize_i32 => visit_i32(i32, "expected an integer", 0),
        deserialize_i64 => visit_i64(i64, "expected an integer", 0),
        deserialize_i128 => visit_i128(i128, "expected an integer", 0),
        deserialize_u8 => visit_u8(u8, "expected an integer", 0),
        deserialize_u16 => visit_u16(u16, "expected an integer", 0),
        deserialize_u32 => visit_u32(u32, "expected an integer", 0),
        deserialize_u64 => visit_u64(u64, "expected an integer", 0),
        deserialize_u128 => visit_u128(u128, "expected an integer", 0),
        deserialize_f32 => visit_f32(f32, "expected a number", 0.0),
        deserialize_f64 => visit_f64(f64, "expected a number", 0.0),
        deserialize_char => visit_char(char, "expected a single character", 'a'),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if variants.contains(&self.key) {
            return visitor.visit_enum(self.key.into_deserializer());
        }
        self.refuse(&one_of(variants));
        match variants.first() {
            Some(first) => visitor.visit_enum((*first).into_deserializer()),
            None => Err(Error::Message("is invalid".into())),
        }
    }

    serde::forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
