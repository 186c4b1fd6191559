//! Where a value of the body is (its JSON Pointer, written out only on demand) and where it
//! comes from (the body, a stand-in, or nothing); recording errors there.

use std::fmt;

use serde::de::{DeserializeSeed, IntoDeserializer};

use crate::pointer::{join, push_segment};
use crate::rejection::FieldError;
use crate::tree::Node;

use super::error::Error;
use super::pass::{Finding, Pass};

/// Where a value comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Src<'a> {
    /// The body.
    Node(&'a Node),
    /// Nothing: a required field the body left out. Reported as such, then stood in for.
    Absent,
    /// A stand-in for a value already reported.
    StandIn,
}

/// One step of a JSON Pointer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seg<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl Seg<'_> {
    /// Appends this step to `pointer`.
    fn push_to(self, pointer: &mut String) {
        match self {
            Seg::Root => {}
            Seg::Key(key) => push_segment(pointer, key),
            Seg::Index(i) => push_segment(pointer, &i.to_string()),
        }
    }
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
        for seg in segs.into_iter().rev() {
            seg.push_to(&mut out);
        }
        out
    }
}

/// A value of the body being deserialized: where it is and where it comes from.
#[derive(Clone)]
pub(super) struct Spot<'a> {
    path: Path<'a>,
    /// The pointer, written out only for values on the way to something already learned.
    tracked: Option<String>,
    pub(super) src: Src<'a>,
    pub(super) pass: &'a Pass<'a>,
}

impl<'a> Spot<'a> {
    pub(super) fn root(node: &'a Node, pass: &'a Pass<'a>) -> Self {
        let tracked = pass.known.prefixes.contains("").then(String::new);
        Self { path: Path { parent: None, seg: Seg::Root }, tracked, src: Src::Node(node), pass }
            .checked()
    }

    pub(super) fn child<'c>(&'c self, seg: Seg<'c>, src: Src<'c>) -> Spot<'c> {
        let tracked = self.tracked.as_deref().and_then(|parent| {
            let mut pointer = parent.to_owned();
            seg.push_to(&mut pointer);
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

    pub(super) fn pointer(&self) -> String {
        self.tracked.clone().unwrap_or_else(|| self.path.pointer())
    }

    /// How many stand-ins were refused here in earlier passes: which one to try now.
    pub(super) fn tries(&self) -> usize {
        self.tracked.as_ref().and_then(|at| self.pass.known.refused.get(at)).copied().unwrap_or(0)
    }

    /// Of the stand-ins `choices`, the one to try now: each in turn, pass after pass, as
    /// earlier ones are refused.
    pub(super) fn stand_in<T: Copy>(&self, choices: &[T]) -> T {
        choices[self.tries() % choices.len()]
    }

    /// The value is not what the type asked for: record why (unless it is itself a stand-in).
    pub(super) fn refuse(&self, expected: impl fmt::Display) {
        let detail = match self.src {
            Src::Node(_) => expected.to_string(),
            Src::Absent => "is required".to_owned(),
            Src::StandIn => return,
        };
        self.pass.record(FieldError::new(self.pointer(), detail));
    }

    pub(super) fn record_at(&self, key: &str, detail: &str) {
        self.pass.record(FieldError::new(join(&self.pointer(), key), detail));
    }

    /// Deserializes the value here with `seed`; a refusal ends the pass ([`Self::fail`]).
    pub(super) fn deserialize<'de, S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Error> {
        self.read(|spot| seed.deserialize(IntoDeserializer::<'de, Error>::into_deserializer(spot)))
    }

    /// Reads the value here with `read`, handed this spot; a refusal ends the pass
    /// ([`Self::fail`]).
    pub(super) fn read<T>(self, read: impl FnOnce(Self) -> Result<T, Error>) -> Result<T, Error> {
        read(self.clone()).map_err(|err| self.fail(err))
    }

    /// A type refused the value here with `err`: record it, and learn how to get past it in
    /// the next pass. Always ends this pass.
    pub(super) fn fail(&self, err: Error) -> Error {
        if matches!(err, Error::Abort) {
            return Error::Abort;
        }
        let at = self.pointer();
        let stood_in = !matches!(self.src, Src::Node(_)) || self.pass.recorded_at(&at);
        if stood_in {
            // The type refused a stand-in given after an error already recorded here: try
            // another one next time.
            self.pass.find(Finding::Refused(at));
        } else {
            let report = err.report(&at);
            self.pass.record(report.clone());
            self.pass.find(Finding::Invalid(at, Some(report)));
        }
        Error::Abort
    }
}
