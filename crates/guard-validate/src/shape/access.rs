//! What a struct, map, sequence or enum visitor reads through: the entries of an object, the
//! items of an array, an enum's variant. Each value they hand out is read by the deserializer
//! a [`Spot`] turns into (`IntoDeserializer`), and a refusal there ends the pass.

use std::cell::Cell;

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use crate::tree::Node;

use super::error::Error;
use super::key::Key;
use super::spot::{Seg, Spot, Src};

/// One key of an object and its value.
pub(super) struct Entry<'a> {
    pub(super) key: &'a str,
    pub(super) src: Src<'a>,
    /// Reported as not allowed, never fed.
    pub(super) unknown: bool,
    /// Fed to the type (ignored otherwise: an unknown key of a lenient struct).
    pub(super) fed: bool,
}

impl<'a> Entry<'a> {
    /// A key fed to the type, with its value from `src`.
    pub(super) fn new(key: &'a str, src: Src<'a>) -> Self {
        Self { key, src, unknown: false, fed: true }
    }
}

/// The entries of one object, fed to a struct or map.
pub(super) struct Entries<'c> {
    parent: &'c Spot<'c>,
    entries: &'c [Entry<'c>],
    next: usize,
    /// The index of the entry fed last.
    last: &'c Cell<Option<usize>>,
}

impl Entries<'_> {
    /// Feeds `entries`, the object at `parent`, to `visitor`; also tells which entry it was fed
    /// last (when it stopped).
    pub(super) fn visit<'de, V: Visitor<'de>>(
        parent: &Spot<'_>,
        entries: &[Entry<'_>],
        visitor: V,
    ) -> (Result<V::Value, Error>, Option<usize>) {
        let last = Cell::new(None);
        let result = visitor.visit_map(Entries { parent, entries, next: 0, last: &last });
        (result, last.get())
    }
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        while let Some(entry) = self.entries.get(self.next) {
            let index = self.next;
            self.next += 1;
            if entry.unknown {
                self.parent.record_at(entry.key, "is not allowed");
            }
            if entry.fed {
                self.last.set(Some(index));
                let spot = self.parent.child(Seg::Key(entry.key), entry.src);
                return seed.deserialize(Key { key: entry.key, spot: &spot }).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let Some(entry) = self.last.get().and_then(|i| self.entries.get(i)) else {
            return Err(Error::Abort);
        };
        self.parent.child(Seg::Key(entry.key), entry.src).deserialize(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries[self.next.min(self.entries.len())..].iter().filter(|e| e.fed).count())
    }
}

/// The items of one array (and stand-ins after them, for a tuple too short).
pub(super) struct Items<'c> {
    parent: &'c Spot<'c>,
    nodes: &'c [Node],
    stand_ins: usize,
    next: usize,
}

impl<'c> Items<'c> {
    /// The items `nodes` of the array at `parent`, then `stand_ins` stand-ins.
    pub(super) fn new(parent: &'c Spot<'c>, nodes: &'c [Node], stand_ins: usize) -> Self {
        Self { parent, nodes, stand_ins, next: 0 }
    }
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let index = self.next;
        let src = match self.nodes.get(index) {
            Some(node) => Src::Node(node),
            None if index < self.nodes.len() + self.stand_ins => Src::StandIn,
            None => return Ok(None),
        };
        self.next += 1;
        self.parent.child(Seg::Index(index), src).deserialize(seed).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.nodes.len() + self.stand_ins).saturating_sub(self.next))
    }
}

/// An enum value: its variant's name and, in the `{"variant": content}` form, its content.
pub(super) struct Variant<'c> {
    pub(super) parent: &'c Spot<'c>,
    pub(super) variant: &'static str,
    pub(super) content: Option<Src<'c>>,
}

impl<'c> Variant<'c> {
    /// Where the content is; when the body gave only the name, a stand-in after an error.
    fn content(&self) -> Spot<'c> {
        let src = self.content.unwrap_or_else(|| {
            self.parent.refuse(format_args!(
                "expected an object with the key {}",
                serde_json::to_string(self.variant).unwrap_or_default()
            ));
            Src::StandIn
        });
        self.parent.child(Seg::Key(self.variant), src)
    }
}

impl<'de, 'c> EnumAccess<'de> for Variant<'c> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let value = seed.deserialize(Key { key: self.variant, spot: self.parent })?;
        Ok((value, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if let Some(src @ Src::Node(node)) = self.content
            && !matches!(node, Node::Null)
        {
            self.parent.child(Seg::Key(self.variant), src).refuse("expected null");
        }
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        self.content().deserialize(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        self.content().read(|spot| {
            de::Deserializer::deserialize_tuple(spot.into_deserializer(), len, visitor)
        })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // A struct variant is known by its variant name and its fields.
        let name = self.variant;
        self.content().read(|spot| {
            de::Deserializer::deserialize_struct(spot.into_deserializer(), name, fields, visitor)
        })
    }
}
