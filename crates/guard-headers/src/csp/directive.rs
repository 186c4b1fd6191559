//! Directives: a name with its sources, and how a policy's directives are written out.

use super::source::Source;

/// One directive: its name as written and its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Directive {
    pub(super) name: String,
    pub(super) sources: Vec<Source>,
}

/// What is written between two directives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CspSeparator {
    /// `"; "`, as in the CSP specification's examples (the [`api`](crate::api) preset).
    #[default]
    Spaced,
    /// `";"`, as helmet writes it (the [`helmet`](crate::helmet) preset).
    Compact,
}

impl CspSeparator {
    /// The separator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spaced => "; ",
            Self::Compact => ";",
        }
    }
}

/// `^[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`
pub(super) fn is_directive_name(name: &str) -> bool {
    match name.as_bytes() {
        [first, rest @ ..] => {
            first.is_ascii_lowercase()
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && rest.last().is_none_or(|b| *b != b'-')
        }
        [] => false,
    }
}

/// The directives written out: each name followed by its sources, joined by `separator`.
pub(super) fn serialize(directives: &[Directive], separator: CspSeparator) -> String {
    let mut out = String::new();
    for (i, directive) in directives.iter().enumerate() {
        if i > 0 {
            out.push_str(separator.as_str());
        }
        out.push_str(&directive.name);
        for source in &directive.sources {
            out.push(' ');
            out.push_str(&source.to_string());
        }
    }
    out
}
