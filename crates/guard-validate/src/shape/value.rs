//! The deserializer of one value of the body: hands the type what it asks for when the body
//! has it, and otherwise records the error and hands it a stand-in of the kind it asked for.

use std::fmt;

use serde::de::{self, IntoDeserializer, Visitor};
use serde_json::Number;

use crate::tree::Node;

use super::access::{Entries, Entry, Items, Variant};
use super::error::{Error, one_of};
use super::pass::{Finding, STRING_STAND_INS, StructKind};
use super::spot::{Spot, Src};

/// The newtype name by which [`AllowUnknownKeys`](crate::AllowUnknownKeys) asks for leniency.
pub(crate) const ALLOW_UNKNOWN_KEYS: &str = "$guard_validate::AllowUnknownKeys";

/// The deserializer of one value.
pub(super) struct Value<'a> {
    spot: Spot<'a>,
    /// Unknown keys of this value's object are ignored rather than refused.
    lenient: bool,
}

impl<'a> Value<'a> {
    fn node(&self) -> Option<&'a Node> {
        match self.spot.src {
            Src::Node(node) => Some(node),
            Src::Absent | Src::StandIn => None,
        }
    }

    fn sequence<'de, V: Visitor<'de>>(
        &self,
        nodes: &[Node],
        stand_ins: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_seq(Items::new(&self.spot, nodes, stand_ins))
    }

    fn whole_object<'de, V: Visitor<'de>>(
        &self,
        entries: &[(String, Node)],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries: Vec<Entry<'_>> =
            entries.iter().map(|(key, node)| Entry::new(key, Src::Node(node))).collect();
        Entries::visit(&self.spot, &entries, visitor).0
    }
}

/// The number as an integer type: `None` when it is not an integer, `Err` when out of range.
fn integer<T: TryFrom<u64> + TryFrom<i64>>(number: &Number) -> Option<Result<T, ()>> {
    if let Some(u) = number.as_u64() {
        Some(T::try_from(u).map_err(|_| ()))
    } else {
        number.as_i64().map(|i| T::try_from(i).map_err(|_| ()))
    }
}

/// What a client is told an integer type wants: its range, when that is a useful number.
fn integer_expectation<T: fmt::Display>(min: T, max: T, bits: u32) -> String {
    match (bits, min.to_string().as_str()) {
        (64.., "0") => "expected a non-negative integer".to_owned(),
        (64.., _) => "expected an integer".to_owned(),
        _ => format!("expected an integer between {min} and {max}"),
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident($ty:ty),)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if let Some(Node::Number(n)) = self.node() {
                if let Some(Ok(v)) = integer::<$ty>(n) {
                    return visitor.$visit(v);
                }
            }
            self.spot.refuse(integer_expectation(<$ty>::MIN, <$ty>::MAX, <$ty>::BITS));
            visitor.$visit(self.spot.stand_in(&[0, 1]))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Null) => visitor.visit_unit(),
            Some(Node::Bool(b)) => visitor.visit_bool(*b),
            Some(Node::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, f) => visitor.visit_f64(f.unwrap_or_default()),
            },
            Some(Node::String(s)) => visitor.visit_str(s),
            Some(Node::Array(items)) => self.sequence(items, 0, visitor),
            Some(Node::Object(entries)) => self.whole_object(entries, visitor),
            None => {
                self.spot.refuse("");
                match self.spot.tries() % 5 {
                    0 => visitor.visit_unit(),
                    1 => visitor.visit_str(""),
                    2 => visitor.visit_u64(0),
                    3 => visitor.visit_bool(false),
                    _ => self.whole_object(&[], visitor),
                }
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Bool(b)) => visitor.visit_bool(*b),
            _ => {
                self.spot.refuse("expected a boolean");
                visitor.visit_bool(self.spot.stand_in(&[false, true]))
            }
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Number(n)) => visitor.visit_f64(n.as_f64().unwrap_or_default()),
            _ => {
                self.spot.refuse("expected a number");
                visitor.visit_f64(self.spot.stand_in(&[0.0, 1.0]))
            }
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(Node::String(s)) = self.node() {
            let mut chars = s.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                return visitor.visit_char(c);
            }
        }
        self.spot.refuse("expected a single character");
        visitor.visit_char(self.spot.stand_in(&['a', '0']))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::String(s)) => visitor.visit_str(s),
            _ => {
                self.spot.refuse("expected a string");
                visitor.visit_str(self.spot.stand_in(&STRING_STAND_INS))
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::String(s)) => visitor.visit_bytes(s.as_bytes()),
            Some(Node::Array(items)) => self.sequence(items, 0, visitor),
            _ => {
                self.spot.refuse("expected a string");
                visitor.visit_bytes(b"")
            }
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Null) | None => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !matches!(self.node(), Some(Node::Null)) {
            self.spot.refuse("expected null");
        }
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let lenient = self.lenient || name == ALLOW_UNKNOWN_KEYS;
        visitor.visit_newtype_struct(Value { lenient, ..self })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Array(items)) => self.sequence(items, 0, visitor),
            _ => {
                self.spot.refuse("expected an array");
                self.sequence(&[], 0, visitor)
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let expected =
            || format!("expected an array of {len} element{}", if len == 1 { "" } else { "s" });
        match self.node() {
            Some(Node::Array(items)) if items.len() == len => self.sequence(items, 0, visitor),
            Some(Node::Array(items)) => {
                self.spot.refuse(expected());
                let given = &items[..items.len().min(len)];
                self.sequence(given, len - given.len(), visitor)
            }
            _ => {
                self.spot.refuse(expected());
                self.sequence(&[], len, visitor)
            }
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::Object(entries)) => self.whole_object(entries, visitor),
            _ => {
                self.spot.refuse("expected an object");
                self.whole_object(&[], visitor)
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let kind = StructKind { name, fields };
        let known = self.spot.pass.known;
        let object = match self.node() {
            Some(Node::Object(entries)) => Some(entries),
            _ => None,
        };
        let mut entries = Vec::new();
        if let Some(object) = object {
            if let Some(seen) = &self.spot.pass.fields {
                seen.borrow_mut().insert(self.spot.pointer(), fields);
            }
            for (key, node) in object {
                let declared = fields.contains(&key.as_str());
                entries.push(Entry {
                    key,
                    src: Src::Node(node),
                    unknown: !declared && !self.lenient,
                    fed: declared,
                });
            }
            if !known.required.is_empty() {
                for field in fields {
                    if known.required.contains(&(kind, *field))
                        && !object.iter().any(|(key, _)| key == field)
                    {
                        entries.push(Entry::new(field, Src::Absent));
                    }
                }
            }
        } else {
            // Not an object (an array included): say so, and stand in for every field.
            self.spot.refuse("expected an object");
            for field in fields {
                if !known.aliases.contains(&(kind, *field)) {
                    entries.push(Entry::new(field, Src::StandIn));
                }
            }
        }
        let (result, last) = Entries::visit(&self.spot, &entries, visitor);
        match result {
            Err(Error::MissingField(field)) => {
                self.spot.pass.find(Finding::Required(kind, field));
                if object.is_some() {
                    self.spot.record_at(field, "is required");
                }
                Err(Error::Abort)
            }
            Err(Error::DuplicateField(field)) => {
                // Two keys name one field (serde aliases): the one read last is an alias.
                let alias = last.and_then(|i| entries.get(i));
                if let Some(alias) = alias.and_then(|e| fields.iter().find(|f| **f == e.key)) {
                    self.spot.pass.find(Finding::Alias(kind, alias));
                }
                if object.is_some() { Err(Error::DuplicateField(field)) } else { Err(Error::Abort) }
            }
            other => other,
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let declared = |name: &str| variants.iter().find(|v| **v == name).copied();
        let given = match self.node() {
            Some(Node::String(s)) => declared(s).map(|variant| (variant, None)),
            Some(Node::Object(entries)) => match entries.as_slice() {
                [(key, node)] => declared(key).map(|variant| (variant, Some(Src::Node(node)))),
                _ => None,
            },
            _ => None,
        };
        let (variant, content) = match given {
            Some(given) => given,
            None => {
                self.spot.refuse(one_of(variants));
                match variants.get(self.spot.tries() % variants.len().max(1)) {
                    Some(variant) => (*variant, Some(Src::StandIn)),
                    None => return Err(Error::Message("is invalid".into())),
                }
            }
        };
        visitor.visit_enum(Variant { parent: &self.spot, variant, content })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// A value of the body is read by a strict [`Value`] (lenient only when the type asks).
impl<'de, 'a> IntoDeserializer<'de, Error> for Spot<'a> {
    type Deserializer = Value<'a>;

    fn into_deserializer(self) -> Value<'a> {
        Value { spot: self, lenient: false }
    }
}
