//! Why deserialization stopped, and the message each stop reports to the client.

use std::fmt;

use serde::de;

use crate::pointer::join;
use crate::rejection::FieldError;

/// Why deserialization stopped. Messages are written here, never taken from a type, so that
/// no Rust type name or serde internal reaches the client.
#[derive(Debug)]
pub(super) enum Error {
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
    pub(super) fn report(&self, at: &str) -> FieldError {
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

/// `must be one of: "a", "b"` (the serialized variant names, never Rust's).
pub(super) fn one_of(variants: &[&str]) -> String {
    let names: Vec<String> =
        variants.iter().map(|v| serde_json::to_string(v).unwrap_or_default()).collect();
    format!("must be one of: {}", names.join(", "))
}
