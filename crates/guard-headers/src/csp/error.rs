//! Why a Content-Security-Policy cannot be built.

/// A policy that [`ContentSecurityPolicy::build`](crate::ContentSecurityPolicy::build) refused.
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
