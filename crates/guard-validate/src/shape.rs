//! Step two: the JSON tree as a `T`, collecting every shape error on the way.
//!
//! serde's derive stops at the first error. This deserializer does not let it: it knows the
//! JSON Pointer of every value it hands out, and when a value does not fit (a string where a
//! number is wanted, an array where an object is), it records the error at that pointer and
//! hands the type a stand-in of the kind it asked for, so its siblings are still checked.
//! Keys that a struct does not declare are recorded (and never fed to it), at every depth.
//!
//! Some failures cannot be answered with a stand-in: serde's derive reports a missing field
//! only once it has read the whole object, and a type's own checks (a `NonZeroU32` given 0, a
//! `try_from` conversion) fail after the value was handed out. Those abort the pass; what was
//! learned from them (this struct type requires this field; the value at this pointer is
//! invalid; this stand-in was refused) is fed into the next pass, which then records the error
//! and goes on past it. The passes are bounded ([`MAX_PASSES`]) and the body is bounded, so
//! the whole search stays cheap; the errors of the last pass, plus any that only an earlier
//! pass reached, are the answer.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::Number;

use crate::pointer::{join, push_segment};
use crate::rejection::FieldError;
use crate::tree::Node;

/// How many passes over one body at most.
pub(crate) const MAX_PASSES: usize = 64;

/// The newtype name by which [`AllowUnknownKeys`](crate::AllowUnknownKeys) asks for leniency.
pub(crate) const ALLOW_UNKNOWN_KEYS: &str = "$guard_validate::AllowUnknownKeys";

/// How many different stand-ins are tried at one pointer.
const MAX_STAND_IN_TRIES: usize = STRING_STAND_INS.len();

/// Stand-ins for strings, in the order they are tried: the empty string first, then values
/// that the usual string-parsed types (UUIDs, dates, addresses, URLs) accept.
const STRING_STAND_INS: [&str; 8] = [
    "",
    "0",
    "00000000-0000-0000-0000-000000000000",
    "1970-01-01T00:00:00Z",
    "1970-01-01",
    "127.0.0.1",
    "http://localhost/",
    "a",
];

/// Deserializes `T` from `root`, or lists every shape error found.
pub(crate) fn deserialize<T: DeserializeOwned>(root: &Node) -> Result<T, ShapeErrors<T>> {
    let mut known = Knowledge::default();
    let mut earlier: Vec<FieldError> = Vec::new();
    for _ in 0..MAX_PASSES {
        let pass = Pass::new(&known, false);
        let value = match T::deserialize(Value::root(root, &pass)) {
            Ok(value) => Some(value),
            Err(err) => {
                pass.fail(&Spot::root(root, &pass), err);
                None
            }
        };
        let (errors, findings) = pass.into_parts();
        let learned = known.learn(findings);
        match value {
            Some(value) if errors.is_empty() && earlier.is_empty() => return Ok(value),
            Some(value) => {
                return Err(ShapeErrors { errors: merge(errors, earlier), partial: Some(value) });
            }
            None if learned => earlier = merge(errors, earlier),
            None => {
                return Err(ShapeErrors {
                    errors: non_empty(merge(errors, earlier)),
                    partial: None,
                });
            }
        }
    }
    Err(ShapeErrors { errors: non_empty(earlier), partial: None })
}

/// A body whose shape is wrong: every shape error, and the value as far as it could be built
/// (placeholders where the body was wrong), so that the rules can still be checked on the rest.
pub(crate) struct ShapeErrors<T> {
    pub(crate) errors: Vec<FieldError>,
    pub(crate) partial: Option<T>,
}

/// The serialized field names of every struct of a body that `T` accepts, by pointer.
pub(crate) fn struct_fields<T: DeserializeOwned>(
    root: &Node,
) -> HashMap<String, &'static [&'static str]> {
    let known = Knowledge::default();
    let pass = Pass::new(&known, true);
    // The body was accepted before; only what the pass saw matters here.
    let _ = T::deserialize(Value::root(root, &pass));
    pass.fields.map(RefCell::into_inner).unwrap_or_default()
}

/// The last pass's errors, then those that only earlier passes reached.
fn merge(mut last: Vec<FieldError>, earlier: Vec<FieldError>) -> Vec<FieldError> {
    let seen: HashSet<FieldError> = last.iter().cloned().collect();
    last.extend(earlier.into_iter().filter(|e| !seen.contains(e)));
    last
}

fn non_empty(errors: Vec<FieldError>) -> Vec<FieldError> {
    if errors.is_empty() { vec![FieldError::new("", "is invalid")] } else { errors }
}

/// A struct type as serde describes it to a deserializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct StructKind {
    name: &'static str,
    fields: &'static [&'static str],
}

/// What the passes so far have learned about the body and its types.
#[derive(Debug, Default)]
struct Knowledge {
    /// Fields that a struct type requires (serde reported them missing).
    required: HashSet<(StructKind, &'static str)>,
    /// Keys of a struct type that name a field another key already names (serde aliases);
    /// left out when the struct is stood in for.
    aliases: HashSet<(StructKind, &'static str)>,
    /// Values to stand in for, with the error to report for each.
    invalid: HashMap<String, Option<FieldError>>,
    /// How many stand-ins were refused at a pointer.
    refused: HashMap<String, usize>,
    /// Every prefix of the pointers above, so that only values on their way compute theirs.
    prefixes: HashSet<String>,
}

/// One thing learned in a pass.
#[derive(Debug)]
enum Finding {
    Required(StructKind, &'static str),
    Alias(StructKind, &'static str),
    Invalid(String, Option<FieldError>),
    Refused(String),
}

impl Knowledge {
    /// Takes in a pass's findings; whether anything was new.
    fn learn(&mut self, findings: Vec<Finding>) -> bool {
        let mut learned = false;
        for finding in findings {
            learned |= match finding {
                Finding::Required(kind, field) => self.required.insert((kind, field)),
                Finding::Alias(kind, key) => self.aliases.insert((kind, key)),
                Finding::Invalid(at, report) => {
                    let new = !self.invalid.contains_key(&at);
                    if new {
                        self.track(&at);
                        self.invalid.insert(at, report);
                    }
                    new
                }
                Finding::Refused(at) => {
                    let tries = self.refused.entry(at.clone()).or_insert(0);
                    let new = *tries < MAX_STAND_IN_TRIES;
                    if new {
                        *tries += 1;
                        self.track(&at);
                    }
                    new
                }
            };
        }
        learned
    }

    fn track(&mut self, pointer: &str) {
        for (i, _) in pointer.match_indices('/') {
            self.prefixes.insert(pointer[..i].to_owned());
        }
        self.prefixes.insert(pointer.to_owned());
    }
}

/// One pass over the body.
struct Pass<'k> {
    known: &'k Knowledge,
    errors: RefCell<Vec<FieldError>>,
    recorded: RefCell<HashSet<FieldError>>,
    findings: RefCell<Vec<Finding>>,
    /// When asked for: the serialized field names of each struct, by pointer.
    fields: Option<RefCell<HashMap<String, &'static [&'static str]>>>,
}

impl<'k> Pass<'k> {
    fn new(known: &'k Knowledge, collect_fields: bool) -> Self {
        Self {
            known,
            errors: RefCell::default(),
            recorded: RefCell::default(),
            findings: RefCell::default(),
            fields: collect_fields.then(RefCell::default),
        }
    }

    fn into_parts(self) -> (Vec<FieldError>, Vec<Finding>) {
        (self.errors.into_inner(), self.findings.into_inner())
    }

    fn record(&self, error: FieldError) {
        if self.recorded.borrow_mut().insert(error.clone()) {
            self.errors.borrow_mut().push(error);
        }
    }

    fn find(&self, finding: Finding) {
        self.findings.borrow_mut().push(finding);
    }

    /// A type refused the value at `spot` with `err`: record it, and learn how to get past it
    /// in the next pass. Always ends this pass.
    fn fail(&self, spot: &Spot<'_>, err: Error) -> Error {
        if matches!(err, Error::Abort) {
            return Error::Abort;
        }
        let at = spot.pointer();
        let stood_in = !matches!(spot.src, Src::Node(_))
            || self.errors.borrow().iter().any(|e| e.pointer == at);
        if stood_in {
            // The type refused a stand-in given after an error already recorded here: try
            // another one next time.
            self.find(Finding::Refused(at));
        } else {
            let report = err.report(&at);
            self.record(report.clone());
            self.find(Finding::Invalid(at, Some(report)));
        }
        Error::Abort
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy)]
enum Src<'a> {
    /// The body.
    Node(&'a Node),
    /// Nothing: a required field the body left out. Reported as such, then stood in for.
    Absent,
    /// A stand-in for a value already reported.
    StandIn,
}

/// One step of a JSON Pointer.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

/// The way from the root to a value, kept as borrowed links and written out only on demand.
#[derive(Debug, Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl Path<'_> {
    fn pointer(&self) -> String {
        let mut segs = Vec::new();
        let mut path = Some(self);
        while let Some(p) = path {
            segs.push(p.seg);
            path = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Key(key) => push_segment(&mut out, key),
                Seg::Index(i) => push_segment(&mut out, &i.to_string()),
            }
        }
        out
    }
}

/// A value of the body being deserialized: where it is and where it comes from.
#[derive(Clone)]
struct Spot<'a> {
    path: Path<'a>,
    /// The pointer, written out only for values on the way to something already learned.
    tracked: Option<String>,
    src: Src<'a>,
    pass: &'a Pass<'a>,
}

impl<'a> Spot<'a> {
    fn root(node: &'a Node, pass: &'a Pass<'a>) -> Self {
        let tracked = pass.known.prefixes.contains("").then(String::new);
        Self { path: Path { parent: None, seg: Seg::Root }, tracked, src: Src::Node(node), pass }
            .checked()
    }

    fn child<'c>(&'c self, seg: Seg<'c>, src: Src<'c>) -> Spot<'c> {
        let tracked = self.tracked.as_deref().and_then(|parent| {
            let pointer = match seg {
                Seg::Root => parent.to_owned(),
                Seg::Key(key) => join(parent, key),
                Seg::Index(i) => join(parent, &i.to_string()),
            };
            self.pass.known.prefixes.contains(&pointer).then_some(pointer)
        });
        Spot { path: Path { parent: Some(&self.path), seg }, tracked, src, pass: self.pass }
            .checked()
    }

    /// Stands in for a value already known to be invalid, reporting it again.
    fn checked(mut self) -> Self {
        if let Some(at) = &self.tracked
            && let Some(report) = self.pass.known.invalid.get(at)
        {
            if let (Some(report), Src::Node(_)) = (report, self.src) {
                self.pass.record(report.clone());
            }
            self.src = Src::StandIn;
        }
        self
    }

    fn pointer(&self) -> String {
        self.tracked.clone().unwrap_or_else(|| self.path.pointer())
    }

    /// How many stand-ins were refused here in earlier passes: which one to try now.
    fn tries(&self) -> usize {
        self.tracked.as_ref().and_then(|at| self.pass.known.refused.get(at)).copied().unwrap_or(0)
    }

    /// The value is not what the type asked for: record why (unless it is itself a stand-in).
    fn refuse(&self, expected: impl fmt::Display) {
        let detail = match self.src {
            Src::Node(_) => expected.to_string(),
            Src::Absent => "is required".to_owned(),
            Src::StandIn => return,
        };
        self.pass.record(FieldError::new(self.pointer(), detail));
    }

    fn record_at(&self, key: &str, detail: &str) {
        self.pass.record(FieldError::new(join(&self.pointer(), key), detail));
    }
}

/// The deserializer of one value.
struct Value<'a> {
    spot: Spot<'a>,
    /// Unknown keys of this value's object are ignored rather than refused.
    lenient: bool,
}

impl<'a> Value<'a> {
    fn root(node: &'a Node, pass: &'a Pass<'a>) -> Self {
        Self { spot: Spot::root(node, pass), lenient: false }
    }

    fn node(&self) -> Option<&'a Node> {
        match self.spot.src {
            Src::Node(node) => Some(node),
            Src::Absent | Src::StandIn => None,
        }
    }

    fn string_stand_in(&self) -> &'static str {
        STRING_STAND_INS[self.spot.tries() % STRING_STAND_INS.len()]
    }

    fn sequence<'de, V: Visitor<'de>>(
        &self,
        nodes: &[Node],
        stand_ins: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_seq(Items { parent: &self.spot, nodes, stand_ins, next: 0 })
    }

    fn whole_object<'de, V: Visitor<'de>>(
        &self,
        entries: &[(String, Node)],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries: Vec<Entry<'_>> = entries
            .iter()
            .map(|(key, node)| Entry { key, src: Src::Node(node), unknown: false, fed: true })
            .collect();
        let last = Cell::new(None);
        visitor.visit_map(Entries { parent: &self.spot, entries: &entries, next: 0, last: &last })
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
            visitor.$visit(if self.spot.tries().is_multiple_of(2) { 0 } else { 1 })
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
                visitor.visit_bool(!self.spot.tries().is_multiple_of(2))
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
                visitor.visit_f64(if self.spot.tries().is_multiple_of(2) { 0.0 } else { 1.0 })
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
        visitor.visit_char(if self.spot.tries().is_multiple_of(2) { 'a' } else { '0' })
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node() {
            Some(Node::String(s)) => visitor.visit_str(s),
            _ => {
                self.spot.refuse("expected a string");
                visitor.visit_str(self.string_stand_in())
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
                        entries.push(Entry {
                            key: field,
                            src: Src::Absent,
                            unknown: false,
                            fed: true,
                        });
                    }
                }
            }
        } else {
            // Not an object (an array included): say so, and stand in for every field.
            self.spot.refuse("expected an object");
            for field in fields {
                if !known.aliases.contains(&(kind, *field)) {
                    entries.push(Entry {
                        key: field,
                        src: Src::StandIn,
                        unknown: false,
                        fed: true,
                    });
                }
            }
        }
        let last = Cell::new(None);
        let result = visitor.visit_map(Entries {
            parent: &self.spot,
            entries: &entries,
            next: 0,
            last: &last,
        });
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
                let alias = last.get().and_then(|i| entries.get(i));
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

/// `must be one of: "a", "b"` (the serialized variant names, never Rust's).
fn one_of(variants: &[&str]) -> String {
    let names: Vec<String> =
        variants.iter().map(|v| serde_json::to_string(v).unwrap_or_default()).collect();
    format!("must be one of: {}", names.join(", "))
}

/// One key of an object and its value.
struct Entry<'a> {
    key: &'a str,
    src: Src<'a>,
    /// Reported as not allowed, never fed.
    unknown: bool,
    /// Fed to the type (ignored otherwise: an unknown key of a lenient struct).
    fed: bool,
}

/// The entries of one object, fed to a struct or map.
struct Entries<'c> {
    parent: &'c Spot<'c>,
    entries: &'c [Entry<'c>],
    next: usize,
    /// The index of the entry fed last.
    last: &'c Cell<Option<usize>>,
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
        let spot = self.parent.child(Seg::Key(entry.key), entry.src);
        seed.deserialize(Value { spot: spot.clone(), lenient: false })
            .map_err(|err| spot.pass.fail(&spot, err))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries[self.next.min(self.entries.len())..].iter().filter(|e| e.fed).count())
    }
}

/// The items of one array (and stand-ins after them, for a tuple too short).
struct Items<'c> {
    parent: &'c Spot<'c>,
    nodes: &'c [Node],
    stand_ins: usize,
    next: usize,
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
        let spot = self.parent.child(Seg::Index(index), src);
        seed.deserialize(Value { spot: spot.clone(), lenient: false })
            .map(Some)
            .map_err(|err| spot.pass.fail(&spot, err))
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.nodes.len() + self.stand_ins).saturating_sub(self.next))
    }
}

/// An enum value: its variant's name and, in the `{"variant": content}` form, its content.
struct Variant<'c> {
    parent: &'c Spot<'c>,
    variant: &'static str,
    content: Option<Src<'c>>,
}

impl Variant<'_> {
    /// The content's deserializer; when the body gave only the name, a stand-in after an error.
    fn content<T>(&self, with: impl FnOnce(Value<'_>) -> Result<T, Error>) -> Result<T, Error> {
        let src = self.content.unwrap_or_else(|| {
            self.parent.refuse(format_args!(
                "expected an object with the key {}",
                serde_json::to_string(self.variant).unwrap_or_default()
            ));
            Src::StandIn
        });
        let spot = self.parent.child(Seg::Key(self.variant), src);
        with(Value { spot: spot.clone(), lenient: false }).map_err(|err| spot.pass.fail(&spot, err))
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
        self.content(|value| seed.deserialize(value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        self.content(|value| de::Deserializer::deserialize_tuple(value, len, visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // A struct variant is known by its variant name and its fields.
        let name = self.variant;
        self.content(|value| de::Deserializer::deserialize_struct(value, name, fields, visitor))
    }
}

/// An object key (or an enum's variant name), parsed as the type's keys are.
struct Key<'c> {
    key: &'c str,
    /// The entry the key belongs to, where a key that does not parse is reported.
    spot: &'c Spot<'c>,
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

/// Why deserialization stopped. Messages are written here, never taken from a type, so that
/// no Rust type name or serde internal reaches the client.
#[derive(Debug)]
pub(crate) enum Error {
    /// An error already recorded; the pass ends.
    Abort,
    /// serde's derive found a required field missing.
    MissingField(&'static str),
    /// serde's derive found one field given twice (under two aliases).
    DuplicateField(&'static str),
    /// A type refused a key.
    UnknownField(String),
    /// A type refused a value; the message is safe to show.
    Message(String),
}

impl Error {
    /// The error to report for a value at `at`.
    fn report(&self, at: &str) -> FieldError {
        match self {
            Self::MissingField(field) => FieldError::new(join(at, field), "is required"),
            Self::UnknownField(key) => FieldError::new(join(at, key), "is not allowed"),
            Self::DuplicateField(_) => {
                FieldError::new(at, "gives the same field twice under different names")
            }
            Self::Message(message) => FieldError::new(at, message.as_str()),
            Self::Abort => FieldError::new(at, "is invalid"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report("").detail)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    /// A type's own message may name types or internals: it is not passed on.
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Self::Message("is invalid".into())
    }

    fn invalid_type(_unexpected: de::Unexpected<'_>, _expected: &dyn de::Expected) -> Self {
        Self::Message("has the wrong type".into())
    }

    fn invalid_value(_unexpected: de::Unexpected<'_>, _expected: &dyn de::Expected) -> Self {
        Self::Message("has an invalid value".into())
    }

    fn invalid_length(_len: usize, _expected: &dyn de::Expected) -> Self {
        Self::Message("has the wrong number of elements".into())
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::Message(one_of(expected))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::UnknownField(field.to_owned())
    }

    fn missing_field(field: &'static str) -> Self {
        Self::MissingField(field)
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::DuplicateField(field)
    }
}
