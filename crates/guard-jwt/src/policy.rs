//! The verification policy as plain data, compiled once by [`JwtPolicy::build`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::claims::ClaimRules;
use crate::clock::{SystemClock, millis, secs};
use crate::error::JwtError;
use crate::guard::{Jwt, Shared};
use crate::header::{HeaderRules, REGISTERED, normalize_typ};
#[cfg(feature = "jwks")]
use crate::jwks::{RemoteKeySet, RemoteSource, http_client, is_loopback};
use crate::keys::{self, KeyConfig, KeySet};
use crate::revocation::RevocationPolicy;
use crate::verify::Verifier;

/// How bearer tokens are verified. Deserializes from configuration; every field has a default
/// except the keys.
///
/// ```
/// use guard_jwt::JwtPolicy;
///
/// let policy: JwtPolicy = serde_json::from_str(r#"{
///     "realm": "guard",
///     "keys": [{"kid": "2026-01", "algorithms": ["HS256"], "secret": "0123456789abcdef0123456789abcdef"}],
///     "issuers": ["https://auth.example"],
///     "audiences": ["api"],
///     "leeway": 30,
///     "revocation": {"on_store_failure": "fail-closed", "max_token_lifetime": 3600}
/// }"#).unwrap();
/// assert_eq!(policy.max_token_bytes, 8192);
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtPolicy {
    /// The `realm` of the `WWW-Authenticate` challenge (default `api`): printable ASCII without
    /// `"` or `\`.
    pub realm: String,
    /// Static verification keys.
    pub keys: Vec<KeyConfig>,
    /// Key sets fetched from JWKS URLs (feature `jwks`).
    pub jwks: Vec<JwksConfig>,
    /// Refuse tokens without a `kid` (default false). Without `kid`, the keys whose allowlist
    /// contains the token's `alg` are tried in order, at most
    /// [`MAX_KEYS_WITHOUT_KID`](crate::verify::MAX_KEYS_WITHOUT_KID).
    pub require_kid: bool,
    /// Accepted `iss` values; empty (default) checks only that `iss`, if present, is a string.
    pub issuers: Vec<String>,
    /// Accepted `aud` values, any one suffices; empty (default) refuses tokens that carry `aud`.
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 30, at most 300).
    #[serde(with = "secs")]
    pub leeway: Duration,
    /// Required `typ` header (e.g. `JWT` or `at+jwt`); `None` (default) does not require one.
    pub typ: Option<String>,
    /// Extension header parameters the application declares understood, which a token may
    /// then list in `crit` (default none: any `crit` is refused).
    pub understood_critical: Vec<String>,
    /// Longest token accepted, in bytes (default 8192), refused before any decoding.
    pub max_token_bytes: usize,
    /// Also read the token from this cookie when no `Authorization: Bearer` came (default none).
    pub cookie: Option<String>,
    /// How revocation behaves once a store is attached.
    pub revocation: RevocationPolicy,
}

impl Default for JwtPolicy {
    fn default() -> Self {
        Self {
            realm: "api".into(),
            keys: Vec::new(),
            jwks: Vec::new(),
            require_kid: false,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            typ: None,
            understood_critical: Vec::new(),
            max_token_bytes: 8192,
            cookie: None,
            revocation: RevocationPolicy::default(),
        }
    }
}

/// A key set fetched from a JWKS URL (RFC 7517 §5): cached, refreshed in the background every
/// `refresh_every`, and on a token with an unknown `kid` at most once per
/// `unknown_kid_cooldown`. The current keys stay in use until a new set has been fetched and
/// holds at least one usable key.
///
/// Keys from the set are public keys only (symmetric `oct` keys are skipped), restricted to
/// `algorithms` and to what each key fits (its `alg`, its curve); keys for encryption
/// (`use: enc`) are skipped. The URL must be https (feature `jwks-rustls`) unless its host is a
/// loopback address or `allow_insecure_http` is set. Redirects are not followed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwksConfig {
    /// Where the key set is.
    pub url: String,
    /// The explicit allowlist for keys of this set (public-key algorithms only).
    pub algorithms: Vec<Algorithm>,
    /// Background refresh period, in seconds (default 300).
    #[serde(with = "secs")]
    pub refresh_every: Duration,
    /// Least time between two fetches, in seconds (default 30): a flood of tokens with made-up
    /// `kid`s costs at most one fetch per cooldown.
    #[serde(with = "secs")]
    pub unknown_kid_cooldown: Duration,
    /// Limit for one fetch, in seconds (default 5).
    #[serde(with = "secs")]
    pub fetch_timeout: Duration,
    /// Largest key set accepted, in bytes (default 262144).
    pub max_bytes: usize,
    /// Allow `http://` to hosts other than loopback (default false; keys fetched in clear can
    /// be replaced by anyone on the path).
    pub allow_insecure_http: bool,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            algorithms: Vec::new(),
            refresh_every: Duration::from_secs(300),
            unknown_kid_cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
            allow_insecure_http: false,
        }
    }
}

impl JwksConfig {
    /// A source at `url` for `algorithms`, other settings default.
    pub fn new(url: impl Into<String>, algorithms: impl Into<Vec<Algorithm>>) -> Self {
        Self { url: url.into(), algorithms: algorithms.into(), ..Self::default() }
    }

    /// Checks this source and compiles it into a key set with no keys yet; fetches nothing.
    #[cfg(feature = "jwks")]
    fn compile(&self) -> Result<RemoteKeySet, JwtError> {
        use jsonwebtoken::AlgorithmFamily;

        let invalid =
            |reason: &str| JwtError::InvalidJwks { url: self.url.clone(), reason: reason.into() };
        if self.algorithms.is_empty() {
            return Err(invalid("no algorithm allowed (set `algorithms`)"));
        }
        if self.algorithms.iter().any(|a| a.family() == AlgorithmFamily::Hmac) {
            return Err(invalid("a JWKS serves public keys: HMAC algorithms cannot be allowed"));
        }
        if self.refresh_every.is_zero() || self.fetch_timeout.is_zero() || self.max_bytes == 0 {
            return Err(invalid("refresh_every, fetch_timeout and max_bytes must be positive"));
        }
        let url =
            reqwest::Url::parse(&self.url).map_err(|e| invalid(&format!("not a URL: {e}")))?;
        match url.scheme() {
            "https" if cfg!(feature = "jwks-rustls") => {}
            "https" => {
                return Err(invalid("https URLs need the `jwks-rustls` feature of guard-jwt"));
            }
            "http" if self.allow_insecure_http || is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    "plain http only to loopback hosts (or set allow_insecure_http)",
                ));
            }
            _ => return Err(invalid("only http(s) URLs")),
        }
        let client =
            http_client(self.fetch_timeout).map_err(|e| invalid(&format!("HTTP client: {e}")))?;
        Ok(RemoteKeySet::new(RemoteSource {
            url,
            algorithms: self.algorithms.clone(),
            refresh_every: self.refresh_every,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            max_bytes: self.max_bytes,
            client,
        }))
    }
}

/// The remote key sets of a policy (feature `jwks`).
#[cfg(feature = "jwks")]
fn remote_sources(configs: &[JwksConfig]) -> Result<Vec<Arc<RemoteKeySet>>, JwtError> {
    configs.iter().map(|c| c.compile().map(Arc::new)).collect()
}

/// Without the `jwks` feature a policy naming JWKS sources cannot be built.
#[cfg(not(feature = "jwks"))]
fn remote_sources(configs: &[JwksConfig]) -> Result<(), JwtError> {
    if configs.is_empty() { Ok(()) } else { Err(JwtError::JwksFeatureDisabled) }
}

impl JwtPolicy {
    /// A policy with one HS256 secret (at least 32 bytes), other settings default: what the
    /// reference API uses.
    pub fn hs256(secret: impl Into<String>) -> Self {
        Self { keys: vec![KeyConfig::hs256(secret)], ..Self::default() }
    }

    /// Loads and validates every key and setting, and compiles the guard for claims type `C`.
    ///
    /// Fails with a typed error for anything that cannot work: a short secret, a key whose
    /// allowlist spans families, a malformed realm, a crypto backend that would panic, ...
    /// With JWKS sources, call this inside a Tokio runtime to start the background refresh
    /// now; otherwise it starts with the first request.
    pub fn build<C: DeserializeOwned + Send + Sync + 'static>(&self) -> Result<Jwt<C>, JwtError> {
        crate::crypto::ensure_backend()?;
        check_realm(&self.realm)?;
        if let Some(cookie) = &self.cookie {
            check_cookie_name(cookie)?;
        }
        if !(256..=1 << 20).contains(&self.max_token_bytes) {
            return Err(invalid("max_token_bytes", "must be between 256 and 1048576"));
        }
        if self.leeway > Duration::from_secs(300) {
            return Err(invalid("leeway", "at most 300 seconds"));
        }
        if let Some(name) = self
            .understood_critical
            .iter()
            .find(|n| REGISTERED.contains(&n.as_str()) || n.is_empty())
        {
            return Err(invalid(
                "understood_critical",
                format!("`{name}` is a registered header parameter"),
            ));
        }
        let typ = match &self.typ {
            Some(t) if t.trim().is_empty() => return Err(invalid("typ", "must not be empty")),
            Some(t) => Some(normalize_typ(t)),
            None => None,
        };
        if self.issuers.iter().chain(&self.audiences).any(String::is_empty) {
            return Err(invalid("issuers/audiences", "values must not be empty"));
        }
        self.revocation
            .breaker
            .check()
            .map_err(|err| invalid("revocation.breaker", err.to_string()))?;
        let loaded = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| keys::load(k, i))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = KeySet::new(loaded)?;
        #[cfg(feature = "jwks")]
        let remote = remote_sources(&self.jwks)?;
        #[cfg(not(feature = "jwks"))]
        remote_sources(&self.jwks)?;
        if keys.is_empty() && self.jwks.is_empty() {
            return Err(JwtError::NoKeys);
        }
        let verifier = Verifier {
            keys,
            #[cfg(feature = "jwks")]
            remote,
            header: HeaderRules { typ, understood_critical: self.understood_critical.clone() },
            claims: ClaimRules {
                leeway_ms: millis(self.leeway),
                issuers: self.issuers.clone(),
                audiences: self.audiences.clone(),
            },
            max_token_bytes: self.max_token_bytes,
            require_kid: self.require_kid,
        };
        verifier.start_refreshers();
        Ok(Jwt {
            shared: Arc::new(Shared {
                verifier,
                realm: self.realm.clone(),
                cookie: self.cookie.clone(),
                leeway: self.leeway,
                revocation_policy: self.revocation,
            }),
            revocations: None,
            clock: Arc::new(SystemClock),
            require: None,
            _claims: PhantomData,
        })
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> JwtError {
    JwtError::InvalidPolicy { field, reason: reason.into() }
}

fn check_realm(realm: &str) -> Result<(), JwtError> {
    let ok = !realm.is_empty()
        && realm.len() <= 128
        && realm.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(invalid("realm", "1 to 128 printable ASCII characters, without `\"` or `\\`"))
    }
}

fn check_cookie_name(name: &str) -> Result<(), JwtError> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
    if ok { Ok(()) } else { Err(invalid("cookie", "not a valid cookie name (RFC 6265 token)")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[derive(Debug, Clone, Deserialize)]
    struct Claims {}

    fn build(policy: JwtPolicy) -> Result<Jwt<Claims>, JwtError> {
        policy.build::<Claims>()
    }

    #[test]
    fn defaults_are_documented_values() {
        let p = JwtPolicy::default();
        assert_eq!(p.realm, "api");
        assert_eq!(p.leeway, Duration::from_secs(30));
        assert_eq!(p.max_token_bytes, 8192);
        assert!(p.cookie.is_none() && !p.require_kid);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<JwtPolicy>(r#"{"leway": 5}"#).is_err());
    }

    #[test]
    fn policies_that_cannot_work_are_typed_errors() {
        assert!(matches!(build(JwtPolicy::default()), Err(JwtError::NoKeys)));
        assert!(matches!(build(JwtPolicy::hs256("short")), Err(JwtError::SecretTooShort { .. })));
        let bad_realm = JwtPolicy { realm: "a\"b".into(), ..JwtPolicy::hs256(SECRET) };
        assert!(matches!(build(bad_realm), Err(JwtError::InvalidPolicy { field: "realm", .. })));
        let bad_cookie = JwtPolicy { cookie: Some("a b".into()), ..JwtPolicy::hs256(SECRET) };
        assert!(matches!(build(bad_cookie), Err(JwtError::InvalidPolicy { field: "cookie", .. })));
        let crit =
            JwtPolicy { understood_critical: vec!["alg".into()], ..JwtPolicy::hs256(SECRET) };
        assert!(matches!(build(crit), Err(JwtError::InvalidPolicy { .. })));
        let leeway = JwtPolicy { leeway: Duration::from_secs(3600), ..JwtPolicy::hs256(SECRET) };
        assert!(matches!(build(leeway), Err(JwtError::InvalidPolicy { field: "leeway", .. })));
        assert!(build(JwtPolicy::hs256(SECRET)).is_ok());
    }
}
