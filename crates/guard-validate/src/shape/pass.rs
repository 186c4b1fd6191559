//! What one pass records, and what the passes so far have learned about the body.
//!
//! A pass collects errors and [`Finding`]s; between passes the findings become [`Knowledge`],
//! which the next pass consults to go on past a failure that ended the one before.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::rejection::FieldError;

/// Stand-ins for strings, in the order they are tried: the empty string first, then values
/// that the usual string-parsed types (UUIDs, dates, addresses, URLs) accept.
pub(super) const STRING_STAND_INS: [&str; 8] = [
    "",
    "0",
    "00000000-0000-0000-0000-000000000000",
    "1970-01-01T00:00:00Z",
    "1970-01-01",
    "127.0.0.1",
    "http://localhost/",
    "a",
];

/// How many different stand-ins are tried at one pointer.
const MAX_STAND_IN_TRIES: usize = STRING_STAND_INS.len();

/// A struct type as serde describes it to a deserializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct StructKind {
    pub(super) name: &'static str,
    pub(super) fields: &'static [&'static str],
}

/// What the passes so far have learned about the body and its types.
#[derive(Debug, Default)]
pub(super) struct Knowledge {
    /// Fields that a struct type requires (serde reported them missing).
    pub(super) required: HashSet<(StructKind, &'static str)>,
    /// Keys of a struct type that name a field another key already names (serde aliases);
    /// left out when the struct is stood in for.
    pub(super) aliases: HashSet<(StructKind, &'static str)>,
    /// Values to stand in for, with the error to report for each.
    pub(super) invalid: HashMap<String, Option<FieldError>>,
    /// How many stand-ins were refused at a pointer.
    pub(super) refused: HashMap<String, usize>,
    /// Every prefix of the pointers above, so that only values on their way compute theirs.
    pub(super) prefixes: HashSet<String>,
}

/// One thing learned in a pass.
#[derive(Debug)]
pub(super) enum Finding {
    Required(StructKind, &'static str),
    Alias(StructKind, &'static str),
    Invalid(String, Option<FieldError>),
    Refused(String),
}

impl Knowledge {
    /// Takes in a pass's findings; whether anything was new.
    pub(super) fn learn(&mut self, findings: Vec<Finding>) -> bool {
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
pub(super) struct Pass<'k> {
    pub(super) known: &'k Knowledge,
    errors: RefCell<Vec<FieldError>>,
    recorded: RefCell<HashSet<FieldError>>,
    findings: RefCell<Vec<Finding>>,
    /// When asked for: the serialized field names of each struct, by pointer.
    pub(super) fields: Option<RefCell<HashMap<String, &'static [&'static str]>>>,
}

impl<'k> Pass<'k> {
    pub(super) fn new(known: &'k Knowledge, collect_fields: bool) -> Self {
        Self {
            known,
            errors: RefCell::default(),
            recorded: RefCell::default(),
            findings: RefCell::default(),
            fields: collect_fields.then(RefCell::default),
        }
    }

    pub(super) fn into_parts(self) -> (Vec<FieldError>, Vec<Finding>) {
        (self.errors.into_inner(), self.findings.into_inner())
    }

    pub(super) fn record(&self, error: FieldError) {
        if self.recorded.borrow_mut().insert(error.clone()) {
            self.errors.borrow_mut().push(error);
        }
    }

    pub(super) fn find(&self, finding: Finding) {
        self.findings.borrow_mut().push(finding);
    }

    /// Whether an error was recorded at `pointer` in this pass.
    pub(super) fn recorded_at(&self, pointer: &str) -> bool {
        self.errors.borrow().iter().any(|e| e.pointer == pointer)
    }
}
