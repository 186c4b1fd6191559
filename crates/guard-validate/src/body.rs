//! The whole check of one body: media type, size, syntax, shape, rules.

use std::any::Any;

use garde::Validate;
use serde::de::DeserializeOwned;

use crate::limits::JsonLimits;
use crate::media::is_json_content_type;
use crate::rejection::{FieldError, JsonRejection};
use crate::{pointer, shape, tree};

/// A JSON body being read, chunk by chunk, under a [`JsonLimits`]; then parsed and validated.
///
/// This is what the framework adapters drive: [`start`](Self::start) with the request head,
/// [`push`](Self::push) each chunk as it arrives (stop at the first error: the rest is never
/// read, and nothing past the limit is ever kept), then [`finish`](Self::finish).
///
/// ```
/// use guard_validate::{JsonBody, JsonLimits, JsonRejection};
///
/// #[derive(serde::Deserialize, garde::Validate)]
/// struct Ping {
///     #[garde(range(min = 1))]
///     seq: u32,
/// }
///
/// let limits = JsonLimits::new(32, 8).unwrap();
/// let mut body = JsonBody::start(&limits, Some(b"application/json"), None).unwrap();
/// body.push(br#"{"seq":"#).unwrap();
/// body.push(b" 7}").unwrap();
/// assert_eq!(body.finish::<Ping>().unwrap().seq, 7);
///
/// // Chunked past the limit: refused at the chunk that crosses it.
/// let mut body = JsonBody::start(&limits, Some(b"application/json"), None).unwrap();
/// body.push(&[b' '; 30]).unwrap();
/// assert_eq!(body.push(b"{}{}"), Err(JsonRejection::TooLarge { max_bytes: 32 }));
/// ```
#[derive(Debug, Clone)]
pub struct JsonBody {
    limits: JsonLimits,
    bytes: Vec<u8>,
}

impl JsonBody {
    /// Checks the request head: 415 unless `content_type` is JSON
    /// ([`is_json_content_type`]; a missing one is refused too), then 413 when `content_length`
    /// announces more than the limit.
    pub fn start(
        limits: &JsonLimits,
        content_type: Option<&[u8]>,
        content_length: Option<&[u8]>,
    ) -> Result<Self, JsonRejection> {
        if !content_type.is_some_and(is_json_content_type) {
            return Err(JsonRejection::UnsupportedMediaType);
        }
        let announced = content_length.and_then(parse_length);
        if announced.is_some_and(|len| len > limits.max_bytes()) {
            return Err(JsonRejection::TooLarge { max_bytes: limits.max_bytes() });
        }
        let capacity = announced.unwrap_or(0).min(limits.max_bytes());
        Ok(Self { limits: *limits, bytes: Vec::with_capacity(capacity) })
    }

    /// Adds the next chunk of the body; 413 (and nothing kept of the chunk) when the body would
    /// grow past the limit, whatever `Content-Length` said.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsonRejection> {
        if chunk.len() > self.limits.max_bytes() - self.bytes.len() {
            return Err(JsonRejection::TooLarge { max_bytes: self.limits.max_bytes() });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// How many bytes were read so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was read so far.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Parses and validates the body as a `T` whose rules need no context.
    pub fn finish<T>(self) -> Result<T, JsonRejection>
    where
        T: DeserializeOwned + Validate<Context = ()>,
    {
        decode(&self.bytes, &self.limits, &())
    }

    /// Parses and validates the body as a `T`, handing `context` to its garde rules.
    pub fn finish_with<T>(self, context: &T::Context) -> Result<T, JsonRejection>
    where
        T: DeserializeOwned + Validate,
    {
        decode(&self.bytes, &self.limits, context)
    }

    /// Parses and validates the body with the context a route configured, if any (what the
    /// adapters call). Without one, a type whose context is `()` validates as usual and any
    /// other type is a server misconfiguration: [`JsonRejection::MissingContext`].
    pub fn finish_with_route_context<T>(
        self,
        context: Option<&T::Context>,
    ) -> Result<T, JsonRejection>
    where
        T: DeserializeOwned + Validate,
        T::Context: 'static,
    {
        match context.or(unit_context::<T::Context>()) {
            Some(context) => self.finish_with(context),
            None => Err(JsonRejection::MissingContext),
        }
    }
}

/// `()` as a `C`, when `C` is `()`.
fn unit_context<C: 'static>() -> Option<&'static C> {
    static UNIT: () = ();
    (&UNIT as &dyn Any).downcast_ref::<C>()
}

/// A `Content-Length` value: ASCII digits only (anything else was refused by the server).
fn parse_length(value: &[u8]) -> Option<usize> {
    let digits = std::str::from_utf8(value).ok()?.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Too many digits for a usize is more than any limit.
    Some(digits.parse::<usize>().unwrap_or(usize::MAX))
}

/// Checks a complete body: the whole pipeline for a body already in memory.
///
/// `content_type` is the request's `Content-Type` value. The rejection tells what failed,
/// and becomes the RFC 9457 problem to answer with ([`JsonRejection::to_problem`]).
///
/// ```
/// use guard_validate::{JsonLimits, JsonRejection, parse_json};
///
/// #[derive(Debug, serde::Deserialize, garde::Validate)]
/// struct Rename {
///     #[garde(length(min = 1, max = 64))]
///     name: String,
/// }
///
/// let limits = JsonLimits::default();
/// let ok: Rename = parse_json(&limits, Some(b"application/json"), br#"{"name": "new"}"#).unwrap();
/// assert_eq!(ok.name, "new");
///
/// let err = parse_json::<Rename>(&limits, Some(b"text/plain"), b"{}").unwrap_err();
/// assert_eq!(err, JsonRejection::UnsupportedMediaType);
/// ```
pub fn parse_json<T>(
    limits: &JsonLimits,
    content_type: Option<&[u8]>,
    body: &[u8],
) -> Result<T, JsonRejection>
where
    T: DeserializeOwned + Validate<Context = ()>,
{
    parse_json_with(limits, content_type, body, &())
}

/// [`parse_json`] for a type whose garde rules take a context.
pub fn parse_json_with<T>(
    limits: &JsonLimits,
    content_type: Option<&[u8]>,
    body: &[u8],
    context: &T::Context,
) -> Result<T, JsonRejection>
where
    T: DeserializeOwned + Validate,
{
    let mut reader = JsonBody::start(limits, content_type, None)?;
    reader.push(body)?;
    reader.finish_with(context)
}

/// Syntax, then shape, then rules.
fn decode<T>(bytes: &[u8], limits: &JsonLimits, context: &T::Context) -> Result<T, JsonRejection>
where
    T: DeserializeOwned + Validate,
{
    let root = tree::parse(bytes, limits.max_depth()).map_err(|err| JsonRejection::Malformed {
        detail: err.detail,
        line: err.line,
        column: err.column,
    })?;
    // Every failing field at once: the shape errors, and the rule failures of the fields whose
    // shape was right (a field with a shape error holds a placeholder, so its rule failures
    // would only repeat that error).
    let (value, mut errors) = match shape::deserialize::<T>(&root) {
        Ok(value) => (value, Vec::new()),
        Err(shape::ShapeErrors { errors, partial: Some(partial) }) => (partial, errors),
        Err(shape::ShapeErrors { errors, partial: None }) => {
            return Err(JsonRejection::Invalid { errors });
        }
    };
    if let Err(report) = value.validate_with(context) {
        let fields = shape::struct_fields::<T>(&root);
        let shape_errors: Vec<String> = errors.iter().map(|e| e.pointer.clone()).collect();
        let covered = |pointer: &str| {
            shape_errors.iter().any(|p| {
                pointer == p || pointer.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with('/'))
            })
        };
        errors.extend(
            report
                .iter()
                .map(|(path, error)| {
                    FieldError::new(pointer::from_garde(path, &fields), error.message())
                })
                .filter(|e| !covered(&e.pointer)),
        );
    }
    if errors.is_empty() {
        return Ok(value);
    }
    // In the order of the body; one field's errors in the order found.
    errors.sort_by_cached_key(|e| root.document_order(&e.pointer));
    Err(JsonRejection::Invalid { errors })
}
