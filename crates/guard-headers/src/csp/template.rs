//! The nonce template: a policy cut where the per-request nonce goes.

use super::directive::{CspSeparator, Directive, serialize};
use super::source::Source;
use crate::nonce::CspNonce;

/// The directives that receive the per-request nonce; `script-src` and `style-src` are added,
/// from `default-src`, when the policy lacks them.
const NONCED_DIRECTIVES: [&str; 4] =
    ["script-src", "style-src", "script-src-elem", "style-src-elem"];

/// Stands for the nonce source while a nonce template is serialized; a line feed can never occur
/// in a validated policy, so splitting on it finds exactly the nonce positions.
const NONCE_MARK: char = '\n';

/// A serialized policy cut where the nonce source goes; rendering it is the one allocation per
/// response that nonce mode costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NonceTemplate {
    pieces: Vec<String>,
}

impl NonceTemplate {
    /// The policy with a place for the nonce in every directive that receives it: `script-src`
    /// and `style-src` (taking `default-src`'s sources when absent, since that is what they fall
    /// back to), and `script-src-elem` and `style-src-elem` when present. `'none'` is dropped
    /// from those directives, as it would make browsers ignore the nonce; so is
    /// `'unsafe-inline'`, which browsers ignore once a nonce is present: the header then says
    /// what browsers do (inline scripts and styles need the nonce) instead of seeming to allow
    /// them.
    pub(super) fn new(directives: &[Directive], separator: CspSeparator) -> Self {
        let mark = Source::Raw(NONCE_MARK.to_string());
        let default_sources = directives
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case("default-src"))
            .map(|d| &d.sources[..])
            .unwrap_or_default();
        let with_nonce = |sources: &[Source]| {
            let mut sources: Vec<Source> = sources
                .iter()
                .filter(|s| !matches!(s, Source::None | Source::UnsafeInline))
                .cloned()
                .collect();
            sources.push(mark.clone());
            sources
        };
        let mut directives: Vec<Directive> = directives
            .iter()
            .map(|d| {
                if NONCED_DIRECTIVES.iter().any(|n| d.name.eq_ignore_ascii_case(n)) {
                    Directive { name: d.name.clone(), sources: with_nonce(&d.sources) }
                } else {
                    d.clone()
                }
            })
            .collect();
        for name in ["script-src", "style-src"] {
            if !directives.iter().any(|d| d.name.eq_ignore_ascii_case(name)) {
                directives.push(Directive {
                    name: name.to_owned(),
                    sources: with_nonce(default_sources),
                });
            }
        }
        let serialized = serialize(&directives, separator);
        Self { pieces: serialized.split(NONCE_MARK).map(str::to_owned).collect() }
    }

    /// The policy with `'nonce-<nonce>'` in every marked place.
    pub(crate) fn render(&self, nonce: &CspNonce) -> String {
        const QUOTE_OPEN: &str = "'nonce-";
        let nonce = nonce.as_str();
        let marks = self.pieces.len().saturating_sub(1);
        let len = self.pieces.iter().map(String::len).sum::<usize>()
            + marks * (QUOTE_OPEN.len() + nonce.len() + 1);
        let mut out = String::with_capacity(len);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(QUOTE_OPEN);
                out.push_str(nonce);
                out.push('\'');
            }
            out.push_str(piece);
        }
        out
    }
}
