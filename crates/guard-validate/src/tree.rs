//! Step one: the body's bytes as a JSON tree, refusing what serde_json alone would accept.
//!
//! serde_json keeps the last of two equal keys and nests up to 128 levels; here a repeated key
//! (at any depth) and nesting past the configured limit are syntax errors with a line and a
//! column, like any other.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// A parsed JSON value. Objects keep their keys in the order of the body, so that errors are
/// reported in that order too.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// Where the value at `pointer` (RFC 6901) comes in the body, as the positions of the
    /// entries and items on the way to it; a key the body lacks comes after all the others.
    pub(crate) fn document_order(&self, pointer: &str) -> Vec<usize> {
        let mut order = Vec::new();
        let mut node = Some(self);
        for raw in pointer.split('/').skip(1) {
            let step = raw.replace("~1", "/").replace("~0", "~");
            let found = match node {
                Some(Node::Object(entries)) => entries.iter().position(|(k, _)| *k == step),
                Some(Node::Array(items)) => step.parse::<usize>().ok().filter(|i| *i < items.len()),
                _ => None,
            };
            order.push(found.unwrap_or(usize::MAX));
            node = match (node, found) {
                (Some(Node::Object(entries)), Some(i)) => entries.get(i).map(|(_, n)| n),
                (Some(Node::Array(items)), Some(i)) => items.get(i),
                _ => None,
            };
        }
        order
    }
}

/// A syntax error: what, and where (line and column from 1; column 0 at the end of input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) detail: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// Parses `bytes` as one JSON value nested at most `max_depth` levels deep.
pub(crate) fn parse(bytes: &[u8], max_depth: usize) -> Result<Node, SyntaxError> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let (line, column) = position(bytes, err.valid_up_to());
        SyntaxError { detail: "the body is not valid UTF-8".into(), line, column }
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let node = NodeSeed { depth: 0, max_depth }.deserialize(&mut de).and_then(|node| {
        de.end()?;
        Ok(node)
    });
    node.map_err(|err| {
        let (line, column) = (err.line(), err.column());
        // serde_json appends " at line L column C" to its message; the position goes apart.
        let message = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let detail = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
        SyntaxError { detail, line, column }
    })
}

/// The line and column (both from 1, column in bytes) of byte `offset`.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

/// Builds a [`Node`] at nesting `depth`, refusing to open a container past `max_depth`.
#[derive(Clone, Copy)]
struct NodeSeed {
    depth: usize,
    max_depth: usize,
}

impl NodeSeed {
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(format_args!("nesting deeper than {} levels", self.max_depth)));
        }
        Ok(Self { depth: self.depth + 1, ..self })
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Past this many keys an object's keys are looked up in a set rather than scanned.
const SCAN_KEYS: usize = 16;

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v).map(Node::Number).ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let inner = self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let inner = self.enter()?;
        let mut entries: Vec<(String, Node)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if entries.len() < SCAN_KEYS {
                entries.iter().any(|(k, _)| *k == key)
            } else {
                if seen.is_empty() {
                    seen.extend(entries.iter().map(|(k, _)| k.clone()));
                }
                !seen.insert(key.clone())
            };
            if repeated {
                let quoted = serde_json::to_string(&key).unwrap_or_default();
                return Err(de::Error::custom(format_args!("duplicate key {quoted}")));
            }
            let value = map.next_value_seed(inner)?;
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str, depth: usize) -> SyntaxError {
        parse(body.as_bytes(), depth).unwrap_err()
    }

    #[test]
    fn keeps_order_and_values() {
        let node = parse(br#"{"b": [1, -2, 1.5, "x", null, true], "a": {}}"#, 32).unwrap();
        let Node::Object(entries) = node else { panic!("an object") };
        assert_eq!(entries[0].0, "b");
        assert_eq!(entries[1], ("a".to_owned(), Node::Object(vec![])));
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth_with_a_position() {
        let e = err("{\"a\": 1,\n \"a\": 2}", 32);
        assert_eq!((e.detail.as_str(), e.line), ("duplicate key \"a\"", 2));
        let e = err(r#"{"x": [{"k": 1, "k": 1}]}"#, 32);
        assert_eq!(e.detail, "duplicate key \"k\"");
        assert!(e.column > 15, "{e:?}");
        // Past the scanning threshold too.
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let body = format!("{{{}, \"k39\": 0}}", keys.join(", "));
        assert_eq!(err(&body, 32).detail, "duplicate key \"k39\"");
    }

    #[test]
    fn document_order_follows_the_body() {
        let node = parse(br#"{"b": [{"x/y": 1}, 2], "a~": 1}"#, 32).unwrap();
        assert_eq!(node.document_order(""), Vec::<usize>::new());
        assert_eq!(node.document_order("/b/0/x~1y"), [0, 0, 0]);
        assert_eq!(node.document_order("/a~0"), [1]);
        assert_eq!(node.document_order("/zzz/1"), [usize::MAX, usize::MAX]);
    }

    #[test]
    fn nesting_is_limited() {
        assert!(parse(b"[[[1]]]", 3).is_ok());
        let e = err("[[[[1]]]]", 3);
        assert_eq!((e.detail.as_str(), e.line, e.column), ("nesting deeper than 3 levels", 1, 4));
        let e = err(r#"{"a": {"b": {}}}"#, 2);
        assert_eq!(e.detail, "nesting deeper than 2 levels");
    }

    #[test]
    fn syntax_errors_and_bad_utf8_have_positions() {
        let e = err("{\n  \"a\": trux}", 32);
        assert_eq!(e.line, 2);
        assert!(!e.detail.contains("line"), "{e:?}");
        let e = parse(b"{\"a\":\n \"\xff\"}", 32).unwrap_err();
        assert_eq!((e.detail.as_str(), e.line, e.column), ("the body is not valid UTF-8", 2, 3));
        assert_eq!(err("", 32).detail, "EOF while parsing a value");
        assert_eq!(err("{} x", 32).detail, "trailing characters");
    }
}
