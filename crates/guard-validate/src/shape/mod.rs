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
//!
//! This module runs the passes. The pieces, each using only those listed after it:
//!
//! - [`value`]: the deserializer of one value ([`value::Value`]), stand-ins included;
//! - [`access`]: the entries of an object, the items of an array, an enum's variant;
//! - [`key`]: object keys and variant names, parsed as the type's keys are;
//! - [`spot`]: where a value is (its pointer) and where it comes from;
//! - [`pass`]: what one pass records and what the passes so far have learned;
//! - [`error`]: why deserialization stopped, and the messages a client is shown.

mod access;
mod error;
mod key;
mod pass;
mod spot;
mod value;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::rejection::FieldError;
use crate::tree::Node;

use self::pass::{Knowledge, Pass};
use self::spot::Spot;

pub(crate) use self::value::ALLOW_UNKNOWN_KEYS;

/// How many passes over one body at most.
pub(crate) const MAX_PASSES: usize = 64;

/// Deserializes `T` from `root`, or lists every shape error found.
pub(crate) fn deserialize<T: DeserializeOwned>(root: &Node) -> Result<T, ShapeErrors<T>> {
    let mut known = Knowledge::default();
    let mut earlier: Vec<FieldError> = Vec::new();
    for _ in 0..MAX_PASSES {
        let pass = Pass::new(&known, false);
        let value = Spot::root(root, &pass).deserialize(PhantomData::<T>).ok();
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
    let _ = T::deserialize(Spot::root(root, &pass).into_deserializer());
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
