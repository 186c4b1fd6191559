//! The Content-Security-Policy builder, validated once at start-up.
//!
//! A [`ContentSecurityPolicy`] is plain data: a list of directives, each with its sources, and the
//! separator written between directives. [`ContentSecurityPolicy::build`] checks it the way helmet
//! does and serializes it once into a [`CompiledCsp`]; every mistake is a [`CspError`], never a
//! policy that browsers would read differently from what was meant.
//!
//! ```
//! use guard_headers::{ContentSecurityPolicy, CspError, Source};
//!
//! let csp = ContentSecurityPolicy::new()
//!     .default_src([Source::None])
//!     .directive("img-src", ["'self'", "data:"])
//!     .frame_ancestors([Source::None])
//!     .build()?;
//! assert_eq!(csp.as_str(), "default-src 'none'; img-src 'self' data:; frame-ancestors 'none'");
//!
//! // Keywords must be quoted: unquoted, `self` would be a host named "self".
//! let err = ContentSecurityPolicy::new().default_src(["self"]).build().unwrap_err();
//! assert!(matches!(err, CspError::UnquotedKeyword { .. }));
//! # Ok::<(), CspError>(())
//! ```

mod directive;
mod error;
mod source;
mod template;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

pub use self::directive::CspSeparator;
use self::directive::{Directive, is_directive_name, serialize};
pub use self::error::CspError;
pub use self::source::Source;
use self::source::check_source;
pub(crate) use self::template::NonceTemplate;
use crate::nonce::CspNonce;

/// A Content-Security-Policy under construction: plain data, checked by
/// [`build`](Self::build).
///
/// Directives are kept in the order they were added. [`directive`](Self::directive) always adds
/// (a second directive of the same name is refused by `build`, which catches a policy that sets
/// `script-src` twice by mistake); [`add_sources`](Self::add_sources) extends an existing
/// directive and [`remove_directive`](Self::remove_directive) drops one, to adapt a preset.
///
/// A string converts into a policy (`"default-src 'none'; frame-ancestors 'none'"`), keeping the
/// string's separator style: [`CspSeparator::Compact`] when no `;` in it is followed by a space.
/// In a configuration file a policy is either such a string or a map from directive names to
/// their sources (a string, a list of strings, or `true` for a directive without sources):
///
/// ```
/// use guard_headers::ContentSecurityPolicy;
///
/// let from_map: ContentSecurityPolicy = serde_json::from_str(
///     r#"{"default-src": "'self'", "img-src": ["'self'", "data:"], "upgrade-insecure-requests": true}"#,
/// )?;
/// let from_string: ContentSecurityPolicy =
///     serde_json::from_str(r#""default-src 'self'; img-src 'self' data:; upgrade-insecure-requests""#)?;
/// assert_eq!(from_map.build()?, from_string.build()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentSecurityPolicy {
    directives: Vec<Directive>,
    separator: CspSeparator,
}

macro_rules! directive_shortcuts {
    ($($(#[$doc:meta])* $method:ident => $name:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $method<S: Into<Source>>(self, sources: impl IntoIterator<Item = S>) -> Self {
                self.directive($name, sources)
            }
        )*
    };
}

impl ContentSecurityPolicy {
    /// An empty policy (which `build` refuses until it has a `default-src`), joined with `"; "`.
    pub fn new() -> Self {
        Self::default()
    }

    /// helmet 8's default policy, byte for byte:
    /// `default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests`.
    pub fn helmet() -> Self {
        let https = || Source::scheme("https");
        let data = || Source::scheme("data");
        Self::new()
            .separator(CspSeparator::Compact)
            .default_src([Source::SelfOrigin])
            .base_uri([Source::SelfOrigin])
            .font_src([Source::SelfOrigin, https(), data()])
            .form_action([Source::SelfOrigin])
            .frame_ancestors([Source::SelfOrigin])
            .img_src([Source::SelfOrigin, data()])
            .object_src([Source::None])
            .script_src([Source::SelfOrigin])
            .directive("script-src-attr", [Source::None])
            .style_src([Source::SelfOrigin, https(), Source::UnsafeInline])
            .upgrade_insecure_requests()
    }

    /// The policy for API responses (OWASP REST cheat sheet): nothing may load, nothing may frame
    /// the response. `default-src 'none'; frame-ancestors 'none'`.
    pub fn api() -> Self {
        Self::new().default_src([Source::None]).frame_ancestors([Source::None])
    }

    /// Chooses what is written between directives.
    pub fn separator(mut self, separator: CspSeparator) -> Self {
        self.separator = separator;
        self
    }

    /// Adds a directive with its sources (strings or [`Source`]s).
    pub fn directive<S: Into<Source>>(
        mut self,
        name: impl Into<String>,
        sources: impl IntoIterator<Item = S>,
    ) -> Self {
        self.directives.push(Directive {
            name: name.into(),
            sources: sources.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Adds a directive that takes no sources, such as `upgrade-insecure-requests` or a bare
    /// `sandbox`.
    pub fn directive_without_sources(self, name: impl Into<String>) -> Self {
        self.directive(name, std::iter::empty::<Source>())
    }

    /// Appends sources to the directive `name` (compared ignoring case), adding the directive at
    /// the end when the policy lacks it.
    pub fn add_sources<S: Into<Source>>(
        mut self,
        name: &str,
        sources: impl IntoIterator<Item = S>,
    ) -> Self {
        let sources = sources.into_iter().map(Into::into);
        match self.directives.iter_mut().find(|d| d.name.eq_ignore_ascii_case(name)) {
            Some(directive) => directive.sources.extend(sources),
            None => self
                .directives
                .push(Directive { name: name.to_owned(), sources: sources.collect() }),
        }
        self
    }

    /// Removes every directive called `name` (compared ignoring case).
    pub fn remove_directive(mut self, name: &str) -> Self {
        self.directives.retain(|d| !d.name.eq_ignore_ascii_case(name));
        self
    }

    /// The sources of the directive `name` (compared ignoring case), as they were given.
    pub fn get(&self, name: &str) -> Option<&[Source]> {
        self.directives.iter().find(|d| d.name.eq_ignore_ascii_case(name)).map(|d| &d.sources[..])
    }

    directive_shortcuts! {
        /// Adds `default-src`: the fallback for every fetch directive the policy does not name.
        default_src => "default-src";
        /// Adds `script-src`.
        script_src => "script-src";
        /// Adds `style-src`.
        style_src => "style-src";
        /// Adds `img-src`.
        img_src => "img-src";
        /// Adds `connect-src` (fetch, XHR, WebSocket, EventSource).
        connect_src => "connect-src";
        /// Adds `font-src`.
        font_src => "font-src";
        /// Adds `object-src` (`<object>`, `<embed>`).
        object_src => "object-src";
        /// Adds `media-src` (`<audio>`, `<video>`).
        media_src => "media-src";
        /// Adds `frame-src` (what this document may frame).
        frame_src => "frame-src";
        /// Adds `worker-src`.
        worker_src => "worker-src";
        /// Adds `base-uri` (what `<base href>` may point to).
        base_uri => "base-uri";
        /// Adds `form-action` (where forms may submit).
        form_action => "form-action";
        /// Adds `frame-ancestors` (who may frame this document; supersedes `X-Frame-Options`).
        frame_ancestors => "frame-ancestors";
    }

    /// Adds `upgrade-insecure-requests`.
    pub fn upgrade_insecure_requests(self) -> Self {
        self.directive_without_sources("upgrade-insecure-requests")
    }

    /// Adds `report-to <group>`: violations go to the `Reporting-Endpoints` entry `group`.
    pub fn report_to(self, group: impl Into<String>) -> Self {
        self.directive("report-to", [Source::Raw(group.into())])
    }

    /// Checks the policy and serializes it once.
    ///
    /// Refuses, with the first problem found: directive names that do not match
    /// `^[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`, a directive given twice (ignoring case), the
    /// keywords `self none unsafe-inline unsafe-eval strict-dynamic report-sample unsafe-hashes
    /// wasm-unsafe-eval` and `nonce-`/`sha256-`/`sha384-`/`sha512-` sources without single
    /// quotes, sources containing `;`, `,` or anything but visible ASCII, nonces and hashes that
    /// are not base64, and a policy without `default-src`.
    pub fn build(&self) -> Result<CompiledCsp, CspError> {
        let mut directives: Vec<Directive> = Vec::with_capacity(self.directives.len());
        for directive in &self.directives {
            let name = &directive.name;
            if !is_directive_name(name) {
                return Err(CspError::InvalidDirectiveName(name.clone()));
            }
            if directives.iter().any(|d| d.name.eq_ignore_ascii_case(name)) {
                return Err(CspError::DuplicateDirective(name.clone()));
            }
            let mut sources = Vec::with_capacity(directive.sources.len());
            for source in &directive.sources {
                match source {
                    // One string may hold several sources; check each on its own.
                    Source::Raw(raw) => {
                        for token in raw.split_ascii_whitespace() {
                            let source = Source::parse(token);
                            check_source(name, &source)?;
                            sources.push(source);
                        }
                    }
                    other => {
                        check_source(name, other)?;
                        sources.push(other.clone());
                    }
                }
            }
            directives.push(Directive { name: name.clone(), sources });
        }
        if !directives.iter().any(|d| d.name.eq_ignore_ascii_case("default-src")) {
            return Err(CspError::MissingDefaultSrc);
        }
        let value = serialize(&directives, self.separator);
        Ok(CompiledCsp { value, directives, separator: self.separator })
    }
}

impl From<&str> for ContentSecurityPolicy {
    /// Reads a header value such as `default-src 'none'; frame-ancestors 'none'`; `build` checks
    /// it.
    fn from(value: &str) -> Self {
        let parts: Vec<&str> = value.split(';').collect();
        let spaced = parts.iter().skip(1).any(|part| part.starts_with(char::is_whitespace));
        let separator =
            if parts.len() > 1 && !spaced { CspSeparator::Compact } else { CspSeparator::Spaced };
        let directives = parts
            .iter()
            .filter_map(|part| {
                let mut tokens = part.split_ascii_whitespace();
                let name = tokens.next()?;
                Some(Directive {
                    name: name.to_owned(),
                    sources: tokens.map(Source::parse).collect(),
                })
            })
            .collect();
        Self { directives, separator }
    }
}

impl From<String> for ContentSecurityPolicy {
    fn from(value: String) -> Self {
        Self::from(value.as_str())
    }
}

impl From<&String> for ContentSecurityPolicy {
    fn from(value: &String) -> Self {
        Self::from(value.as_str())
    }
}

/// A checked Content-Security-Policy, serialized once; what [`ContentSecurityPolicy::build`]
/// returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledCsp {
    value: String,
    directives: Vec<Directive>,
    separator: CspSeparator,
}

impl CompiledCsp {
    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The header value with `'nonce-…'` added as described at
    /// [`HeadersPolicy::csp_nonce`](crate::HeadersPolicy::csp_nonce), for a handler that writes
    /// its own policy.
    pub fn with_nonce(&self, nonce: &CspNonce) -> String {
        self.nonce_template().render(nonce)
    }

    /// The policy with a place for the nonce in every directive that receives it (see
    /// [`NonceTemplate::new`]).
    pub(crate) fn nonce_template(&self) -> NonceTemplate {
        NonceTemplate::new(&self.directives, self.separator)
    }
}

impl fmt::Display for CompiledCsp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// The sources of one directive in a configuration map.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum DirectiveValue {
    /// `true`: a directive without sources; `false`: leave the directive out.
    Flag(bool),
    /// Sources separated by spaces.
    Text(String),
    /// One source (or several separated by spaces) per element.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for ContentSecurityPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PolicyVisitor;

        impl<'de> Visitor<'de> for PolicyVisitor {
            type Value = ContentSecurityPolicy;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a policy string or a map from directive names to sources")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(ContentSecurityPolicy::from(value))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Kept in document order, duplicates included: `build` refuses those.
                let mut policy = ContentSecurityPolicy::new();
                while let Some((name, value)) = map.next_entry::<String, DirectiveValue>()? {
                    policy = match value {
                        DirectiveValue::Flag(true) => policy.directive_without_sources(name),
                        DirectiveValue::Flag(false) => policy,
                        DirectiveValue::Text(text) => policy.directive(name, [text]),
                        DirectiveValue::List(list) => policy.directive(name, list),
                    };
                }
                Ok(policy)
            }
        }

        deserializer.deserialize_any(PolicyVisitor)
    }
}
