//! One source expression of a directive: parsed, printed and checked.

use std::fmt;

use super::error::CspError;
use crate::nonce::CspNonce;

/// The keywords that mean something only between single quotes (helmet's list).
pub(super) const KEYWORDS: [&str; 8] = [
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

/// One source expression of a directive: a keyword, a nonce or hash, or a host or scheme.
///
/// Strings convert with [`From`]: quoted keywords (`"'self'"`) become their variant, anything else
/// is kept as written ([`Source::Raw`]) and checked by
/// [`ContentSecurityPolicy::build`](crate::ContentSecurityPolicy::build), which refuses unquoted
/// keywords such as `"self"`. A string holding several sources separated by spaces
/// (`"'self' data:"`) is split by `build`.
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
    pub(super) fn parse(s: &str) -> Self {
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

/// `base64-value = 1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" )*2( "=" )` (CSP 3).
fn is_base64_value(value: &str) -> bool {
    let body = value.trim_end_matches('=');
    !body.is_empty()
        && value.len() - body.len() <= 2
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// Checks one source of `directive`: nonces and hashes must be base64, other sources visible
/// ASCII without `;` or `,`, and keywords, nonces and hashes single-quoted.
pub(super) fn check_source(directive: &str, source: &Source) -> Result<(), CspError> {
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
