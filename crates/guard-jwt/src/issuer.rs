//! Minting tokens, for servers that issue their own (a login route).
//!
//! # Logins racing a password change
//! A login that checks a password and then mints a token must date the token from *before* it
//! read the credentials: [`TokenIssuer::begin_authentication`] captures that moment, and
//! [`TokenIssuer::issue_authenticated`] mints with it. Paired with
//! [`Jwt::change_credentials`](crate::Jwt::change_credentials), which marks the subject again
//! after the new credential is stored, no token obtained with the old password survives the
//! change, however the requests interleave: a login that read the old credential began before
//! it was replaced, hence before the final mark.
//!
//! ```
//! # use std::time::Duration;
//! # use guard_jwt::TokenIssuer;
//! # let issuer = TokenIssuer::hs256("0123456789abcdef0123456789abcdef", Duration::from_secs(900)).unwrap();
//! # fn password_matches() -> bool { true }
//! let started = issuer.begin_authentication(); // before the credentials are read
//! if password_matches() {
//!     let token = issuer.issue_authenticated(started, "user-42").unwrap();
//!     assert_eq!(token.issued_at_ms, started.at_ms());
//! }
//! ```
//!
//! Every token gets `sub`, a random 128-bit `jti` (base64url, 22 characters, from the operating
//! system's generator), `iat` and `nbf` (now, whole seconds), `exp` (`iat` + lifetime), the
//! private claim `iat_ms` (now, milliseconds: what makes revocation marks precise below one
//! second), and `iss` / `aud` when configured. Extra claims from the application are merged in,
//! but may not replace any of these.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey, Header};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::claims::IAT_MS;
use crate::clock::{Clock, SharedClock, SystemClock, millis};
use crate::error::{IssueError, JwtError};
use crate::keys::{check_secret, decode_base64_secret};

/// Claims the issuer owns; extra claims may not set them.
const OWNED: [&str; 8] = ["sub", "jti", "iat", "nbf", "exp", "iss", "aud", IAT_MS];

/// How tokens are minted. Deserializes from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuerPolicy {
    /// The signing algorithm (default HS256).
    pub algorithm: Algorithm,
    /// The `kid` put in the header (default none).
    pub kid: Option<String>,
    /// Token lifetime in seconds (default 900).
    #[serde(with = "crate::clock::secs")]
    pub lifetime: Duration,
    /// `iss` (default none).
    pub issuer: Option<String>,
    /// `aud`: one value is written as a string, several as an array (default none).
    pub audiences: Vec<String>,
}

impl Default for IssuerPolicy {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::HS256,
            kid: None,
            lifetime: Duration::from_secs(900),
            issuer: None,
            audiences: Vec::new(),
        }
    }
}

/// The key tokens are signed with.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SigningKey {
    /// An HMAC secret: the UTF-8 bytes of this text (at least 32 bytes for HS256).
    Secret(String),
    /// An HMAC secret in base64.
    SecretBase64(String),
    /// A private key in PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 EC (P-256/P-384) or Ed25519.
    Pem(String),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// A freshly minted token and what the login answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `jti`.
    pub jti: String,
    /// Its issue time, in milliseconds since the epoch (`iat_ms`).
    pub issued_at_ms: u64,
    /// Its `exp`, in seconds since the epoch.
    pub expires_at: u64,
    /// Its lifetime in seconds: the `expires_in` of an OAuth token response.
    pub expires_in: u64,
}

/// The moment an authentication began, taken before the credentials are read: the issue time of
/// the token it may lead to (see [`TokenIssuer::begin_authentication`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticationStart {
    at_ms: u64,
}

impl AuthenticationStart {
    /// When, in milliseconds since the epoch.
    pub fn at_ms(&self) -> u64 {
        self.at_ms
    }
}

/// Mints tokens with one signing key; cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use guard_jwt::TokenIssuer;
///
/// let issuer = TokenIssuer::hs256("0123456789abcdef0123456789abcdef", Duration::from_secs(900)).unwrap();
/// let issued = issuer.issue("user-42").unwrap();
/// assert_eq!(issued.expires_in, 900);
/// assert_eq!(issued.jti.len(), 22);
/// assert_eq!(issued.token.split('.').count(), 3);
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    key: Arc<EncodingKey>,
    header: Header,
    policy: IssuerPolicy,
    clock: SharedClock,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `key` as `policy` says; the key is loaded and test-signed here.
    pub fn new(policy: &IssuerPolicy, key: &SigningKey) -> Result<Self, JwtError> {
        crate::crypto::ensure_backend()?;
        let alg = policy.algorithm;
        let label = policy.kid.clone().unwrap_or_else(|| "signing key".into());
        let invalid = |reason: String| JwtError::InvalidKey { key: label.clone(), reason };
        let key = match (key, alg.family()) {
            (SigningKey::Secret(text), AlgorithmFamily::Hmac) => {
                check_secret(&label, text.as_bytes(), &[alg])?;
                EncodingKey::from_secret(text.as_bytes())
            }
            (SigningKey::SecretBase64(text), AlgorithmFamily::Hmac) => {
                let secret = decode_base64_secret(text)
                    .ok_or_else(|| invalid("secret_base64 is not base64".into()))?;
                check_secret(&label, &secret, &[alg])?;
                EncodingKey::from_secret(&secret)
            }
            (SigningKey::Pem(pem), AlgorithmFamily::Rsa) => {
                EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| invalid(format!("not an RSA private key: {e}")))?
            }
            (SigningKey::Pem(pem), AlgorithmFamily::Ec) => EncodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|e| invalid(format!("not a PKCS#8 EC private key: {e}")))?,
            (SigningKey::Pem(pem), AlgorithmFamily::Ed) => EncodingKey::from_ed_pem(pem.as_bytes())
                .map_err(|e| invalid(format!("not a PKCS#8 Ed25519 private key: {e}")))?,
            (_, family) => {
                return Err(invalid(format!("this key cannot sign {family:?} algorithms")));
            }
        };
        // A probe signature catches keys of the wrong curve or size now rather than at login.
        jsonwebtoken::crypto::sign(b"guard-jwt signing probe", &key, alg)
            .map_err(|e| invalid(format!("cannot sign {alg:?}: {e}")))?;
        if policy.lifetime < Duration::from_secs(1) {
            return Err(JwtError::InvalidPolicy {
                field: "lifetime",
                reason: "at least one second".into(),
            });
        }
        let mut header = Header::new(alg);
        header.kid = policy.kid.clone();
        Ok(Self {
            key: Arc::new(key),
            header,
            policy: policy.clone(),
            clock: Arc::new(SystemClock),
        })
    }

    /// An HS256 issuer with `secret` (at least 32 bytes) and `lifetime`: what the reference
    /// API uses.
    pub fn hs256(secret: impl Into<String>, lifetime: Duration) -> Result<Self, JwtError> {
        Self::new(
            &IssuerPolicy { lifetime, ..IssuerPolicy::default() },
            &SigningKey::Secret(secret.into()),
        )
    }

    /// Reads the time from `clock` (tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The configured token lifetime.
    pub fn lifetime(&self) -> Duration {
        self.policy.lifetime
    }

    /// Mints a token for `subject`, issued now. After checking a password, use
    /// [`begin_authentication`](Self::begin_authentication) and
    /// [`issue_authenticated`](Self::issue_authenticated) instead, so that a password change
    /// racing the login revokes the token.
    pub fn issue(&self, subject: &str) -> Result<IssuedToken, IssueError> {
        self.issue_with(subject, &Map::new())
    }

    /// Mints a token for `subject` with extra claims (a struct or map serializing to a JSON
    /// object, e.g. `{"scope": "read write"}`), issued now.
    pub fn issue_with<T: Serialize + ?Sized>(
        &self,
        subject: &str,
        extra: &T,
    ) -> Result<IssuedToken, IssueError> {
        self.mint(subject, extra, self.clock.now_ms())
    }

    /// Captures the start of an authentication: call it before reading the credentials, and
    /// mint with [`issue_authenticated`](Self::issue_authenticated) once they are checked.
    pub fn begin_authentication(&self) -> AuthenticationStart {
        AuthenticationStart { at_ms: self.clock.now_ms() }
    }

    /// Mints a token for `subject` dated from `started`: a credential change that completes
    /// after `started` revokes it.
    pub fn issue_authenticated(
        &self,
        started: AuthenticationStart,
        subject: &str,
    ) -> Result<IssuedToken, IssueError> {
        self.mint(subject, &Map::new(), started.at_ms)
    }

    /// [`issue_authenticated`](Self::issue_authenticated) with extra claims.
    pub fn issue_authenticated_with<T: Serialize + ?Sized>(
        &self,
        started: AuthenticationStart,
        subject: &str,
        extra: &T,
    ) -> Result<IssuedToken, IssueError> {
        self.mint(subject, extra, started.at_ms)
    }

    fn mint<T: Serialize + ?Sized>(
        &self,
        subject: &str,
        extra: &T,
        now_ms: u64,
    ) -> Result<IssuedToken, IssueError> {
        let Value::Object(mut claims) =
            serde_json::to_value(extra).map_err(|e| IssueError::ExtraClaims(e.to_string()))?
        else {
            return Err(IssueError::ExtraClaims("not a JSON object".into()));
        };
        if let Some(owned) = OWNED.iter().find(|c| claims.contains_key(**c)) {
            return Err(IssueError::ExtraClaims(format!("`{owned}` is set by the issuer")));
        }
        let mut id = [0u8; 16];
        rand::rngs::OsRng.try_fill_bytes(&mut id).map_err(|e| IssueError::Random(e.to_string()))?;
        let jti = URL_SAFE_NO_PAD.encode(id);
        let iat = now_ms / 1000;
        let lifetime = millis(self.policy.lifetime) / 1000;
        let exp = iat.saturating_add(lifetime);
        claims.insert("sub".into(), json!(subject));
        claims.insert("jti".into(), json!(jti));
        claims.insert("iat".into(), json!(iat));
        claims.insert("nbf".into(), json!(iat));
        claims.insert("exp".into(), json!(exp));
        claims.insert(IAT_MS.into(), json!(now_ms));
        if let Some(iss) = &self.policy.issuer {
            claims.insert("iss".into(), json!(iss));
        }
        match self.policy.audiences.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), json!(one));
            }
            many => {
                claims.insert("aud".into(), json!(many));
            }
        }
        let token = jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| IssueError::Signing(e.to_string()))?;
        Ok(IssuedToken { token, jti, issued_at_ms: now_ms, expires_at: exp, expires_in: lifetime })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::json::object_segment;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_carry_the_registered_claims_and_iat_ms() {
        let clock = FakeClock::new(1_700_000_000_123);
        let issuer =
            TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().with_clock(clock);
        let issued = issuer.issue_with("u1", &json!({"scope": "read"})).unwrap();
        let payload = issued.token.split('.').nth(1).unwrap();
        let claims = object_segment(payload).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["jti"], issued.jti.as_str());
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_900u64);
        assert_eq!(claims["iat_ms"], 1_700_000_000_123u64);
        assert_eq!(claims["scope"], "read");
        assert_eq!(issued.expires_at, 1_700_000_900);
        let header = object_segment(issued.token.split('.').next().unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
    }

    #[test]
    fn an_authenticated_token_is_dated_from_the_start_of_the_authentication() {
        let clock = FakeClock::new(1_700_000_000_123);
        let issuer =
            TokenIssuer::hs256(SECRET, Duration::from_secs(900)).unwrap().with_clock(clock.clone());
        let started = issuer.begin_authentication();
        clock.advance(Duration::from_millis(2_500)); // Argon2, a slow store...
        let issued = issuer.issue_authenticated(started, "u1").unwrap();
        assert_eq!(issued.issued_at_ms, 1_700_000_000_123);
        let claims = object_segment(issued.token.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(claims["iat_ms"], 1_700_000_000_123u64);
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_900u64);
        let now = issuer.issue("u1").unwrap();
        assert_eq!(now.issued_at_ms, 1_700_000_002_623, "a plain issue is dated now");
    }

    #[test]
    fn token_ids_are_random_128_bit() {
        let issuer = TokenIssuer::hs256(SECRET, Duration::from_secs(60)).unwrap();
        let a = issuer.issue("u").unwrap().jti;
        let b = issuer.issue("u").unwrap().jti;
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
    }

    #[test]
    fn extra_claims_cannot_override_owned_ones() {
        let issuer = TokenIssuer::hs256(SECRET, Duration::from_secs(60)).unwrap();
        assert!(matches!(
            issuer.issue_with("u", &json!({"exp": 1})),
            Err(IssueError::ExtraClaims(_))
        ));
        assert!(matches!(issuer.issue_with("u", &json!([1])), Err(IssueError::ExtraClaims(_))));
    }

    #[test]
    fn keys_are_checked_at_construction() {
        assert!(matches!(
            TokenIssuer::hs256("short", Duration::from_secs(60)),
            Err(JwtError::SecretTooShort { .. })
        ));
        let es384_with_p256 =
            IssuerPolicy { algorithm: Algorithm::ES384, ..IssuerPolicy::default() };
        let pem = SigningKey::Pem(include_str!("../testdata/ec256-private.pem").into());
        assert!(TokenIssuer::new(&es384_with_p256, &pem).is_err());
        let es256 = IssuerPolicy { algorithm: Algorithm::ES256, ..IssuerPolicy::default() };
        assert!(TokenIssuer::new(&es256, &pem).is_ok());
        let hs_with_pem = IssuerPolicy::default();
        assert!(TokenIssuer::new(&hs_with_pem, &pem).is_err());
    }
}
