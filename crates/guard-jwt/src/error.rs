//! What can go wrong: at start-up ([`JwtError`]), with a token a client sent ([`TokenError`],
//! [`Rejection`]), and when revoking ([`RevokeError`], [`IssueError`]).

use std::time::Duration;

use guard_core::{Problem, ProblemType};
use http::{HeaderValue, header};
use jsonwebtoken::Algorithm;

/// Why a token that came was refused. Every message is short, fixed text, safe to send back to
/// the client as the RFC 6750 `error_description` (it never echoes the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The `Authorization` header is not `Bearer <one token>`.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// More than one `Authorization` header came.
    #[error("several Authorization headers")]
    SeveralAuthorizations,
    /// More than one token cookie came.
    #[error("several token cookies")]
    SeveralCookies,
    /// The token is longer than the policy's `max_token_bytes`.
    #[error("token too large")]
    TooLarge,
    /// Not three base64url segments (or an empty signature).
    #[error("malformed token")]
    Malformed,
    /// The header segment is not a JSON object of the expected member types, or repeats a member.
    #[error("malformed token header")]
    MalformedHeader,
    /// `alg` is `none` (in any spelling), unknown, or not allowed for the selected key.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header carries a parameter that is never honoured (`jku`, `x5u`, `x5c`, `jwk`, `b64`).
    #[error("header parameter {0} not allowed")]
    ForbiddenHeaderParameter(&'static str),
    /// `crit` lists a parameter that the policy does not declare understood.
    #[error("critical header parameter not understood")]
    UnknownCritical,
    /// `cty` says the payload is itself a JWT (nested tokens are not accepted).
    #[error("nested tokens not accepted")]
    NestedToken,
    /// `typ` is missing or differs from the policy's.
    #[error("wrong token type")]
    WrongType,
    /// The policy requires a `kid` and the token has none.
    #[error("key id required")]
    KeyIdRequired,
    /// No key of the key set has this `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify with the selected key(s).
    #[error("invalid signature")]
    BadSignature,
    /// The claims segment is not a JSON object, or repeats a member.
    #[error("malformed claims")]
    MalformedClaims,
    /// A claim the policy needs is absent.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A registered claim has the wrong JSON type (a string `exp`, a numeric `sub`, ...).
    #[error("claim {0} has the wrong type")]
    ClaimType(&'static str),
    /// `sub` or `jti` is longer than 255 bytes.
    #[error("claim {0} too long")]
    ClaimTooLong(&'static str),
    /// `iat_ms` does not fall within the second given by `iat`.
    #[error("claims iat and iat_ms disagree")]
    InconsistentIssuedAt,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` has not come yet (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not one of the accepted issuers.
    #[error("issuer not accepted")]
    Issuer,
    /// `aud` names none of the accepted audiences, or is present when none is configured.
    #[error("audience not accepted")]
    Audience,
    /// `exp - iat` exceeds the revocation policy's `max_token_lifetime`.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// The claims do not deserialize into the application's claims type.
    #[error("claims do not have the expected shape")]
    ClaimsShape,
    /// The token, or every token of its subject issued before a mark, was revoked.
    #[error("token revoked")]
    Revoked,
}

/// Why a request was not authenticated: what the guard answers instead of the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No bearer credentials came: 401 with a bare `Bearer realm=".."` challenge.
    Missing,
    /// A token came and was refused: 401 with `error="invalid_token"`.
    Invalid(TokenError),
    /// A valid token that the route's claims check refused: 403 with `error="insufficient_scope"`.
    InsufficientScope,
    /// A store or key source the decision needs is down and the policy says fail closed: 503
    /// with `Retry-After`.
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Missing => f.write_str("no bearer credentials"),
            Rejection::Invalid(err) => write!(f, "invalid token: {err}"),
            Rejection::InsufficientScope => f.write_str("the token does not allow this request"),
            Rejection::Unavailable { retry_after } => {
                write!(f, "a store the check needs is unavailable; retry in {retry_after:?}")
            }
        }
    }
}

/// So that `jwt.authenticate(token).await?` works in a function returning
/// `Box<dyn std::error::Error>`.
impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Invalid(err) => Some(err),
            _ => None,
        }
    }
}

impl TokenError {
    /// A short, fixed reason for logs and metrics (`guard_core::observe`).
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::MalformedAuthorization => "malformed authorization",
            TokenError::SeveralAuthorizations => "several authorizations",
            TokenError::SeveralCookies => "several cookies",
            TokenError::TooLarge => "token too large",
            TokenError::Malformed => "malformed token",
            TokenError::MalformedHeader => "malformed header",
            TokenError::AlgorithmNotAllowed => "algorithm not allowed",
            TokenError::ForbiddenHeaderParameter(_) => "forbidden header parameter",
            TokenError::UnknownCritical => "unknown critical parameter",
            TokenError::NestedToken => "nested token",
            TokenError::WrongType => "wrong typ",
            TokenError::KeyIdRequired => "kid required",
            TokenError::UnknownKey => "unknown key",
            TokenError::BadSignature => "bad signature",
            TokenError::MalformedClaims => "malformed claims",
            TokenError::MissingClaim(_) => "missing claim",
            TokenError::ClaimType(_) => "claim of wrong type",
            TokenError::ClaimTooLong(_) => "claim too long",
            TokenError::InconsistentIssuedAt => "inconsistent issued-at",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not yet valid",
            TokenError::IssuedInFuture => "issued in the future",
            TokenError::Issuer => "wrong issuer",
            TokenError::Audience => "wrong audience",
            TokenError::LifetimeTooLong => "lifetime too long",
            TokenError::ClaimsShape => "claims shape",
            TokenError::Revoked => "revoked",
        }
    }
}

impl Rejection {
    /// A short, fixed reason for logs and metrics (`guard_core::observe`).
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Missing => "no credentials",
            Rejection::Invalid(err) => err.reason(),
            Rejection::InsufficientScope => "insufficient scope",
            Rejection::Unavailable { .. } => "store unavailable",
        }
    }
}

impl From<TokenError> for Rejection {
    fn from(err: TokenError) -> Self {
        Rejection::Invalid(err)
    }
}

impl Rejection {
    /// The `application/problem+json` answer, with the RFC 6750 challenge for `realm` (which
    /// must be a valid quoted-string body; [`Jwt`](crate::Jwt) validates its realm at build).
    pub fn to_problem(&self, realm: &str) -> Problem {
        let challenge = |params: &str| {
            HeaderValue::from_str(&format!(r#"Bearer realm="{realm}"{params}"#))
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
        };
        match self {
            Rejection::Missing => Problem::new(ProblemType::UNAUTHORIZED)
                .with_detail("a bearer token is required")
                .with_header(header::WWW_AUTHENTICATE, challenge("")),
            Rejection::Invalid(err) => {
                Problem::new(ProblemType::INVALID_TOKEN).with_detail(err.to_string()).with_header(
                    header::WWW_AUTHENTICATE,
                    challenge(&format!(r#", error="invalid_token", error_description="{err}""#)),
                )
            }
            Rejection::InsufficientScope => Problem::new(ProblemType::FORBIDDEN)
                .with_detail("the token does not grant access to this resource")
                .with_header(
                    header::WWW_AUTHENTICATE,
                    challenge(r#", error="insufficient_scope""#),
                ),
            Rejection::Unavailable { retry_after } => Problem::store_unavailable(*retry_after),
        }
    }
}

/// The answer for a handler that asks for verified claims on a route where no [`Jwt`](crate::Jwt)
/// guard ran (a wiring mistake): 401 problem+json with a bare `Bearer` challenge, so the route
/// fails closed rather than serving an anonymous request. Both adapters' `Claims` extractors
/// answer with it.
pub fn missing_claims_problem() -> Problem {
    Problem::new(ProblemType::UNAUTHORIZED)
        .with_detail("a bearer token is required")
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

/// A policy that cannot work, found by `build()` at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Neither static keys nor a JWKS source are configured.
    #[error("no verification key configured (set `keys` or `jwks`)")]
    NoKeys,
    /// A key has an empty algorithm allowlist.
    #[error("key {key}: no algorithm allowed (set `algorithms`)")]
    NoAlgorithms {
        /// The key's `kid`, or its position as `#n`.
        key: String,
    },
    /// A key's allowlist spans several algorithm families (HS and RS, ...).
    #[error("key {key}: algorithms {algorithms:?} mix families; one key serves one family")]
    MixedFamilies {
        /// The key's `kid`, or its position as `#n`.
        key: String,
        /// The allowlist as configured.
        algorithms: Vec<Algorithm>,
    },
    /// An HMAC secret shorter than its algorithm's hash (RFC 7518 §3.2; at least 32 bytes).
    #[error("key {key}: HMAC secret of {len} bytes is too short for {algorithm:?} (needs {min})")]
    SecretTooShort {
        /// The key's `kid`, or its position as `#n`.
        key: String,
        /// Its length in bytes.
        len: usize,
        /// The algorithm that needs more.
        algorithm: Algorithm,
        /// The minimum for that algorithm.
        min: usize,
    },
    /// Key material that does not load or does not fit its algorithms.
    #[error("key {key}: {reason}")]
    InvalidKey {
        /// The key's `kid`, or its position as `#n`.
        key: String,
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// Two keys share one `kid`.
    #[error("key id `{kid}` is used by more than one key")]
    DuplicateKid {
        /// The repeated `kid`.
        kid: String,
    },
    /// A policy value that cannot work.
    #[error("invalid `{field}`: {reason}")]
    InvalidPolicy {
        /// The policy field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The policy names a JWKS URL but the `jwks` feature of guard-jwt is off.
    #[error("JWKS sources need the `jwks` feature of guard-jwt")]
    JwksFeatureDisabled,
    /// A JWKS source that cannot work.
    #[error("JWKS source `{url}`: {reason}")]
    InvalidJwks {
        /// The URL as configured.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// jsonwebtoken's crypto backend does not work in this build: usually both of its backend
    /// features (`rust_crypto` and `aws_lc_rs`) got enabled by Cargo feature unification, and
    /// another crate used jsonwebtoken before guard-jwt could install its own provider.
    #[error(
        "jsonwebtoken's crypto backend is unusable ({0}); enable exactly one of its features \
         `rust_crypto` / `aws_lc_rs` (guard-jwt uses `rust_crypto`), or call \
         `jsonwebtoken::crypto::CryptoProvider::install_default` before any JWT is decoded"
    )]
    CryptoBackend(String),
}

/// Why a token could not be revoked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    /// The guard has no revocation store.
    #[error("no revocation store configured")]
    NoStore,
    /// The token lacks a claim that revocation needs (`jti`, `sub`).
    #[error("the token has no {0} claim, so it cannot be revoked")]
    MissingClaim(&'static str),
    /// The store did not take the revocation (down, slow, or the breaker is open).
    #[error("revocation store unavailable: {message}")]
    Unavailable {
        /// What the store said.
        message: String,
        /// When to try again.
        retry_after: Duration,
    },
}

impl RevokeError {
    /// The answer for the client: 503 with `Retry-After` when the store is down, otherwise a
    /// 500 (a server wiring problem, not the client's).
    pub fn to_problem(&self) -> Problem {
        match self {
            RevokeError::Unavailable { retry_after, .. } => {
                Problem::store_unavailable(*retry_after)
            }
            RevokeError::NoStore | RevokeError::MissingClaim(_) => {
                Problem::new(ProblemType::INTERNAL)
            }
        }
    }
}

impl From<RevokeError> for Problem {
    fn from(err: RevokeError) -> Self {
        err.to_problem()
    }
}

/// Why [`Jwt::change_credentials`](crate::Jwt::change_credentials) did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialChangeError<E> {
    /// The subject's tokens could not be revoked, so the credential was not changed either.
    #[error("credential not changed: {0}")]
    NotRevoked(RevokeError),
    /// Storing the new credential failed; the tokens issued before the attempt stay revoked.
    #[error("credential not changed: {0}")]
    Change(E),
    /// The new credential is stored, but the mark after it was not: a login racing the change
    /// may hold a token obtained with the old credential. Answer 503, so the client retries the
    /// change (or logs everyone out again).
    #[error("credential changed, but logins racing it may keep tokens: {0}")]
    Unconfirmed(RevokeError),
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The extra claims are not a JSON object, or try to set a claim the issuer owns.
    #[error("extra claims: {0}")]
    ExtraClaims(String),
    /// The operating system's random generator failed.
    #[error("no randomness for the token id: {0}")]
    Random(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<IssueError> for Problem {
    fn from(_: IssueError) -> Self {
        Problem::new(ProblemType::INTERNAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_safe_inside_a_quoted_string() {
        let all = [
            TokenError::MalformedAuthorization,
            TokenError::ForbiddenHeaderParameter("jku"),
            TokenError::MissingClaim("exp"),
            TokenError::ClaimType("exp"),
            TokenError::Revoked,
        ];
        for err in all {
            let text = err.to_string();
            assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        }
    }

    #[test]
    fn rejections_become_rfc_6750_problems() {
        let p = Rejection::Missing.to_problem("api");
        assert_eq!(p.status, 401);
        assert_eq!(p.headers[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
        let p = Rejection::Invalid(TokenError::Expired).to_problem("api");
        assert_eq!(p.type_uri, "tag:guard.rs,2026:problem:invalid-token");
        assert_eq!(
            p.headers[header::WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
        );
        let p = Rejection::InsufficientScope.to_problem("api");
        assert_eq!(p.status, 403);
        assert!(
            p.headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .ends_with(r#"error="insufficient_scope""#)
        );
        let p = Rejection::Unavailable { retry_after: Duration::from_secs(2) }.to_problem("api");
        assert_eq!(p.status, 503);
        assert_eq!(p.headers[header::RETRY_AFTER], "2");
    }
}
