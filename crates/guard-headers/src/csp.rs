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

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::nonce::CspNonce;

/// The keywords that mean something only between single quotes (helmet's list).
const KEYWORDS: [&str; 8] = [
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "strict-dynamic",
    "report-sample",
    "unsafe-hashes",
    "wasm-unsafe-eval",
];

/// The prefixes of nonce and hash sources, which must be single-quoted too.
const QUOTED_PREFIXES: [&str; 4] = ["nonce-", "sha256-", "sha384-", "sha512-"];

/// The directives that receive the per-request nonce; `script-src` and `style-src` are added,
/// from `default-src`, when the policy lacks them.
const NONCED_DIRECTIVES: [&str; 4] =
    ["script-src", "style-src", "script-src-elem", "style-src-elem"];

/// Stands for the nonce source while a nonce template is serialized; a line feed can never occur
/// in a validated policy, so splitting on it finds exactly the nonce positions.
const NONCE_MARK: char = '\n';

/// One source expression of a directive: a keyword, a nonce or hash, or a host or scheme.
///
/// Strings convert with [`From`]: quoted keywords (`"'self'"`) become their variant, anything else
/// is kept as written ([`Source::Raw`]) and checked by [`ContentSecurityPolicy::build`], which
/// refuses unquoted keywords such as `"self"`. A string holding several sources separated by
/// spaces (`"'self' data:"`) is split by `build`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// `'none'`: nothing matches.
    None,
    /// `'self'`: the document's own origin.
    SelfOrigin,
    /// `'unsafe-inline'`: inline scripts or styles.
    UnsafeInline,
    /// `'unsafe-eval'`: `eval()` and friends.
    UnsafeEval,
    /// `'strict-dynamic'`: trust scripts loaded by already-trusted scripts.
    StrictDynamic,
    /// `'report-sample'`: include a sample of the violating code in reports.
    ReportSample,
    /// `'unsafe-hashes'`: let hashes match event-handler attributes.
    UnsafeHashes,
    /// `'wasm-unsafe-eval'`: WebAssembly compilation.
    WasmUnsafeEval,
    /// `'nonce-<base64>'`, holding the base64 value. Per-request nonces come from
    /// [`HeadersPolicy::csp_nonce`](crate::HeadersPolicy::csp_nonce) rather than from here.
    Nonce(String),
    /// `'sha256-<base64>'`, holding the base64 digest.
    Sha256(String),
    /// `'sha384-<base64>'`, holding the base64 digest.
    Sha384(String),
    /// `'sha512-<base64>'`, holding the base64 digest.
    Sha512(String),
    /// A host (`cdn.example.com`, `https://*.example.com`), a scheme (`data:`) or any other
    /// expression, as written.
    Raw(String),
}

impl Source {
    /// A scheme source: `Source::scheme("https")` is `https:`.
    pub fn scheme(scheme: &str) -> Self {
        Self::Raw(format!("{}:", scheme.trim_end_matches(':')))
    }

    /// A host source such as `cdn.example.com` or `https://*.example.com`.
    pub fn host(host: impl Into<String>) -> Self {
        Self::Raw(host.into())
    }

    /// Parses one quoted or unquoted source expression; unknown ones are kept as written.
    fn parse(s: &str) -> Self {
        let s = s.trim();
        let Some(inner) = s.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) else {
            return Self::Raw(s.to_owned());
        };
        let lower = inner.to_ascii_lowercase();
        match lower.as_str() {
            "none" => return Self::None,
            "self" => return Self::SelfOrigin,
            "unsafe-inline" => return Self::UnsafeInline,
            "unsafe-eval" => return Self::UnsafeEval,
            "strict-dynamic" => return Self::StrictDynamic,
            "report-sample" => return Self::ReportSample,
            "unsafe-hashes" => return Self::UnsafeHashes,
            "wasm-unsafe-eval" => return Self::WasmUnsafeEval,
            _ => {}
        }
        // The prefixes are ASCII, so the lower-cased copy has the same byte offsets.
        let value = |prefix: &str| inner[prefix.len()..].to_owned();
        if lower.starts_with("nonce-") {
            Self::Nonce(value("nonce-"))
        } else if lower.starts_with("sha256-") {
            Self::Sha256(value("sha256-"))
        } else if lower.starts_with("sha384-") {
            Self::Sha384(value("sha384-"))
        } else if lower.starts_with("sha512-") {
            Self::Sha512(value("sha512-"))
        } else {
            Self::Raw(s.to_owned())
        }
    }
}

impl From<&str> for Source {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

impl From<String> for Source {
    fn from(s: String) -> Self {
        Self::parse(&s)
    }
}

impl From<&String> for Source {
    fn from(s: &String) -> Self {
        Self::parse(s)
    }
}

impl From<CspNonce> for Source {
    fn from(nonce: CspNonce) -> Self {
        Self::Nonce(nonce.as_str().to_owned())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("'none'"),
            Self::SelfOrigin => f.write_str("'self'"),
            Self::UnsafeInline => f.write_str("'unsafe-inline'"),
            Self::UnsafeEval => f.write_str("'unsafe-eval'"),
            Self::StrictDynamic => f.write_str("'strict-dynamic'"),
            Self::ReportSample => f.write_str("'report-sample'"),
            Self::UnsafeHashes => f.write_str("'unsafe-hashes'"),
            Self::WasmUnsafeEval => f.write_str("'wasm-unsafe-eval'"),
            Self::Nonce(v) => write!(f, "'nonce-{v}'"),
            Self::Sha256(v) => write!(f, "'sha256-{v}'"),
            Self::Sha384(v) => write!(f, "'sha384-{v}'"),
            Self::Sha512(v) => write!(f, "'sha512-{v}'"),
            Self::Raw(v) => f.write_str(v),
        }
    }
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

/// A policy that [`ContentSecurityPolicy::build`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CspError {
    /// A directive name is not lower-case letters, digits and inner dashes
    /// (`^[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`, helmet's rule).
    #[error("`{0}` is not a valid directive name")]
    InvalidDirectiveName(String),
    /// The same directive appears twice; browsers would silently ignore the second one.
    #[error("directive `{0}` appears more than once")]
    DuplicateDirective(String),
    /// A keyword, nonce or hash source is not single-quoted, so browsers would read it as a host.
    #[error("`{value}` in `{directive}` must be single-quoted: '{value}'")]
    UnquotedKeyword {
        /// The directive holding the source.
        directive: String,
        /// The unquoted source.
        value: String,
    },
    /// A source contains `;` or `,` (which would end the directive or the policy) or a character
    /// that is not visible ASCII.
    #[error(
        "`{value}` in `{directive}` contains `;`, `,` or a character that is not visible ASCII"
    )]
    InvalidValue {
        /// The directive holding the source.
        directive: String,
        /// The offending source.
        value: String,
    },
    /// A nonce or hash source whose value is empty or not base64.
    #[error("`{value}` in `{directive}` is not a valid nonce or hash (base64 expected)")]
    InvalidNonceOrHash {
        /// The directive holding the source.
        directive: String,
        /// The offending source, as it would be serialized.
        value: String,
    },
    /// The policy has no `default-src`, so every directive it does not name allows everything.
    #[error("a Content-Security-Policy needs a `default-src` directive")]
    MissingDefaultSrc,
}

/// One directive: its name as written and its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directive {
    name: String,
    sources: Vec<Source>,
}

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

/// `^[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`
fn is_directive_name(name: &str) -> bool {
    match name.as_bytes() {
        [first, rest @ ..] => {
            first.is_ascii_lowercase()
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && rest.last().is_none_or(|b| *b != b'-')
        }
        [] => false,
    }
}

/// `base64-value = 1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" )*2( "=" )` (CSP 3).
fn is_base64_value(value: &str) -> bool {
    let body = value.trim_end_matches('=');
    !body.is_empty()
        && value.len() - body.len() <= 2
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

fn check_source(directive: &str, source: &Source) -> Result<(), CspError> {
    let value = match source {
        Source::Nonce(v) | Source::Sha256(v) | Source::Sha384(v) | Source::Sha512(v) => {
            if is_base64_value(v) {
                return Ok(());
            }
            return Err(CspError::InvalidNonceOrHash {
                directive: directive.to_owned(),
                value: source.to_string(),
            });
        }
        Source::Raw(v) => v,
        _ => return Ok(()),
    };
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',') {
        return Err(CspError::InvalidValue {
            directive: directive.to_owned(),
            value: value.clone(),
        });
    }
    let lower = value.to_ascii_lowercase();
    if KEYWORDS.contains(&lower.as_str()) || QUOTED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Err(CspError::UnquotedKeyword {
            directive: directive.to_owned(),
            value: value.clone(),
        });
    }
    Ok(())
}

fn serialize(directives: &[Directive], separator: CspSeparator) -> String {
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

    /// The policy with a place for the nonce in every directive that receives it: `script-src`
    /// and `style-src` (taking `default-src`'s sources when absent, since that is what they fall
    /// back to), and `script-src-elem` and `style-src-elem` when present. `'none'` is dropped
    /// from those directives, as it would make browsers ignore the nonce; so is
    /// `'unsafe-inline'`, which browsers ignore once a nonce is present: the header then says
    /// what browsers do (inline scripts and styles need the nonce) instead of seeming to allow
    /// them.
    pub(crate) fn nonce_template(&self) -> NonceTemplate {
        let mark = Source::Raw(NONCE_MARK.to_string());
        let default_sources = self
            .directives
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
        let mut directives: Vec<Directive> = self
            .directives
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
        let serialized = serialize(&directives, self.separator);
        NonceTemplate { pieces: serialized.split(NONCE_MARK).map(str::to_owned).collect() }
    }
}

impl fmt::Display for CompiledCsp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// A serialized policy cut where the nonce source goes; rendering it is the one allocation per
/// response that nonce mode costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NonceTemplate {
    pieces: Vec<String>,
}

impl NonceTemplate {
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

#[cfg(test)]
mod tests {
    use super::*;

    const HELMET: &str = "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

    fn built(policy: &ContentSecurityPolicy) -> String {
        policy.build().unwrap().as_str().to_owned()
    }

    #[test]
    fn helmet_policy_is_byte_for_byte_helmets() {
        assert_eq!(built(&ContentSecurityPolicy::helmet()), HELMET);
        // And reading helmet's string back gives the same policy and the same bytes.
        assert_eq!(built(&ContentSecurityPolicy::from(HELMET)), HELMET);
    }

    #[test]
    fn api_policy_is_spaced() {
        assert_eq!(
            built(&ContentSecurityPolicy::api()),
            "default-src 'none'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn builder_reads_well_and_serializes_in_order() {
        let csp = ContentSecurityPolicy::new()
            .default_src([Source::None])
            .directive("img-src", ["'self'", "data:"])
            .script_src([Source::SelfOrigin, Source::Sha256("abc+/=".into())])
            .connect_src([Source::host("https://api.example.com")])
            .report_to("csp");
        assert_eq!(
            built(&csp),
            "default-src 'none'; img-src 'self' data:; script-src 'self' 'sha256-abc+/='; connect-src https://api.example.com; report-to csp"
        );
        let compact = csp.clone().separator(CspSeparator::Compact);
        assert!(built(&compact).starts_with("default-src 'none';img-src"));
    }

    #[test]
    fn strings_holding_several_sources_are_split_and_keywords_normalized() {
        let csp = ContentSecurityPolicy::new().default_src(["'SELF'  data:", "'nonce-YWJj'"]);
        let compiled = csp.build().unwrap();
        assert_eq!(compiled.as_str(), "default-src 'self' data: 'nonce-YWJj'");
    }

    #[test]
    fn presets_can_be_adapted() {
        let csp = ContentSecurityPolicy::helmet()
            .add_sources("script-src", ["https://cdn.example.com"])
            .add_sources("connect-src", [Source::SelfOrigin])
            .remove_directive("upgrade-insecure-requests");
        let s = built(&csp);
        assert!(s.contains(";script-src 'self' https://cdn.example.com;"));
        assert!(s.ends_with(";connect-src 'self'"));
        assert!(!s.contains("upgrade-insecure-requests"));
        assert_eq!(csp.get("SCRIPT-SRC").map(<[Source]>::len), Some(2));
    }

    #[test]
    fn bad_directive_names_are_refused() {
        for name in ["Default-src", "img-src-", "-img", "img src", "img_src", "", "1x", "é"] {
            let err = ContentSecurityPolicy::api().directive(name, ["'self'"]).build().unwrap_err();
            assert_eq!(err, CspError::InvalidDirectiveName(name.to_owned()), "{name:?}");
        }
        // Upper case is allowed after the first letter, as in helmet's rule.
        assert!(ContentSecurityPolicy::api().directive("x-fooBar9", ["a"]).build().is_ok());
    }

    #[test]
    fn duplicate_directives_are_refused_ignoring_case() {
        let err = ContentSecurityPolicy::api().directive("frame-Ancestors", ["'self'"]);
        assert_eq!(err.build(), Err(CspError::DuplicateDirective("frame-Ancestors".into())));
        let err = ContentSecurityPolicy::api().frame_ancestors(["'self'"]).build().unwrap_err();
        assert_eq!(err, CspError::DuplicateDirective("frame-ancestors".into()));
        let err = ContentSecurityPolicy::from("default-src 'self'; img-src a; img-src b")
            .build()
            .unwrap_err();
        assert_eq!(err, CspError::DuplicateDirective("img-src".into()));
    }

    #[test]
    fn unquoted_keywords_are_refused() {
        for value in KEYWORDS.into_iter().chain(["SELF", "nonce-abc", "sha256-abc", "SHA512-x"]) {
            let err = ContentSecurityPolicy::new().default_src([value]).build().unwrap_err();
            assert_eq!(
                err,
                CspError::UnquotedKeyword { directive: "default-src".into(), value: value.into() }
            );
        }
        // Hosts that merely start like a keyword are fine.
        assert!(ContentSecurityPolicy::new().default_src(["selfish.example"]).build().is_ok());
    }

    #[test]
    fn separators_and_invisible_characters_in_values_are_refused() {
        for value in ["a;b", "a,b", "https://x.example/,", "caf\u{e9}.example", "a\u{7f}"] {
            let err = ContentSecurityPolicy::new().default_src([value]).build().unwrap_err();
            assert_eq!(
                err,
                CspError::InvalidValue { directive: "default-src".into(), value: value.into() }
            );
        }
        let err = ContentSecurityPolicy::from("default-src 'self', img-src *").build().unwrap_err();
        assert!(matches!(err, CspError::InvalidValue { value, .. } if value == "'self',"));
    }

    #[test]
    fn nonces_and_hashes_must_be_base64() {
        for source in [
            Source::Nonce(String::new()),
            Source::Nonce("a b".into()),
            Source::Sha256("abc===".into()),
            Source::Sha384("ab'c".into()),
            Source::Sha512("=".into()),
        ] {
            let err = ContentSecurityPolicy::new().default_src([source.clone()]).build();
            assert_eq!(
                err,
                Err(CspError::InvalidNonceOrHash {
                    directive: "default-src".into(),
                    value: source.to_string()
                })
            );
        }
        let ok = [Source::Sha256("q1w2-_+/==".into()), Source::Nonce("YWJj".into())];
        assert!(ContentSecurityPolicy::new().default_src(ok).build().is_ok());
    }

    #[test]
    fn a_policy_needs_default_src() {
        let err = ContentSecurityPolicy::new().frame_ancestors([Source::None]).build();
        assert_eq!(err, Err(CspError::MissingDefaultSrc));
        assert_eq!(ContentSecurityPolicy::new().build(), Err(CspError::MissingDefaultSrc));
        assert!(ContentSecurityPolicy::from("DEFAULT-SRC 'self'").build().is_err());
    }

    #[test]
    fn errors_read_well() {
        let err =
            CspError::UnquotedKeyword { directive: "script-src".into(), value: "self".into() };
        assert_eq!(err.to_string(), "`self` in `script-src` must be single-quoted: 'self'");
    }

    #[test]
    fn string_form_keeps_its_separator_style() {
        let spaced = ContentSecurityPolicy::from("default-src 'none'; frame-ancestors 'none'");
        assert_eq!(spaced, ContentSecurityPolicy::api());
        let single = ContentSecurityPolicy::from("default-src 'none'");
        assert_eq!(built(&single), "default-src 'none'");
        let trailing = ContentSecurityPolicy::from(" default-src  'none' ;; ");
        assert_eq!(built(&trailing), "default-src 'none'");
    }

    #[test]
    fn nonce_goes_into_script_and_style_sources() {
        let nonce = CspNonce::from_bytes([0; 16]);
        let n = "'nonce-AAAAAAAAAAAAAAAAAAAAAA=='";
        // Present directives get it appended; absent ones are derived from default-src.
        let csp = ContentSecurityPolicy::helmet().build().unwrap();
        let with = csp.with_nonce(&nonce);
        assert!(with.contains(&format!(";script-src 'self' {n};")));
        // 'unsafe-inline' is dropped where the nonce goes: browsers would ignore it anyway.
        assert!(with.contains(&format!(";style-src 'self' https: {n};")), "{with}");
        assert!(!with.contains("unsafe-inline"), "{with}");
        assert!(with.contains(";script-src-attr 'none';"), "attributes never take nonces");
        // Only where the nonce goes: other directives keep 'unsafe-inline' as configured.
        let csp = ContentSecurityPolicy::from(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; script-src-attr 'unsafe-inline'",
        )
        .build()
        .unwrap();
        assert_eq!(
            csp.with_nonce(&nonce),
            format!(
                "default-src 'self'; script-src 'self' {n}; script-src-attr 'unsafe-inline'; style-src 'self' {n}"
            )
        );
        let csp = ContentSecurityPolicy::new()
            .default_src([Source::SelfOrigin, Source::scheme("https")])
            .directive("script-src-elem", [Source::None])
            .build()
            .unwrap();
        assert_eq!(
            csp.with_nonce(&nonce),
            format!(
                "default-src 'self' https:; script-src-elem {n}; script-src 'self' https: {n}; style-src 'self' https: {n}"
            )
        );
        // 'none' would make browsers ignore the nonce, so it is dropped where the nonce goes.
        let api = ContentSecurityPolicy::api().build().unwrap();
        assert_eq!(
            api.with_nonce(&nonce),
            format!("default-src 'none'; frame-ancestors 'none'; script-src {n}; style-src {n}")
        );
    }

    #[test]
    fn config_accepts_strings_lists_and_flags_in_order() {
        let csp: ContentSecurityPolicy = serde_json::from_str(
            r#"{"default-src": "'self' https:", "img-src": ["'self'", "data:"],
                "sandbox": true, "block-all-mixed-content": false}"#,
        )
        .unwrap();
        assert_eq!(built(&csp), "default-src 'self' https:; img-src 'self' data:; sandbox");
        let dup: ContentSecurityPolicy =
            serde_json::from_str(r#"{"default-src": "'self'", "default-src": "'none'"}"#).unwrap();
        assert_eq!(dup.build(), Err(CspError::DuplicateDirective("default-src".into())));
        assert!(serde_json::from_str::<ContentSecurityPolicy>("42").is_err());
        assert!(serde_json::from_str::<ContentSecurityPolicy>(r#"{"img-src": 1}"#).is_err());
    }
}
