//! Verification keys: configured as data ([`KeyConfig`]), loaded and validated once at build
//! into a [`KeySet`], looked up by `kid` per request.
//!
//! One key serves one algorithm family, and only the algorithms its allowlist names: an RSA
//! public key can never be used as an HMAC secret (the HS/RS confusion attack), because an
//! `HS256` header never selects it. Checked at load:
//! - HMAC secrets at least as long as the hash (32 bytes for HS256, 48 for HS384, 64 for HS512,
//!   RFC 7518 §3.2); a PEM or asymmetric JWK can never serve HMAC algorithms;
//! - RSA moduli of 2048 to 4096 bits;
//! - EC keys on P-256 (ES256 only) or P-384 (ES384 only), points on the curve;
//! - Ed25519 keys of 32 bytes (EdDSA only).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::error::JwtError;
use crate::header::MAX_KID_BYTES;

/// One verification key: its id, the algorithms it may verify, and its material.
///
/// As configuration (JSON shown; any serde format works):
///
/// ```
/// use guard_jwt::KeyConfig;
///
/// let keys: Vec<KeyConfig> = serde_json::from_str(r#"[
///     {"kid": "hs-2026", "algorithms": ["HS256"], "secret": "0123456789abcdef0123456789abcdef"},
///     {"kid": "rs-1", "algorithms": ["RS256", "PS256"], "pem": "-----BEGIN PUBLIC KEY-----\n..."},
///     {"kid": "ec-1", "algorithms": ["ES256"], "jwk": {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."}}
/// ]"#).unwrap();
/// assert_eq!(keys.len(), 3);
/// ```
///
/// Its `Debug` shows no secret: [`KeyMaterial`]'s redacts the material.
#[derive(Clone, Debug, Deserialize)]
pub struct KeyConfig {
    /// The `kid` tokens name this key by. A JWK's own `kid` is used when this is absent.
    #[serde(default)]
    pub kid: Option<String>,
    /// The explicit allowlist: every algorithm this key may verify, all of one family.
    pub algorithms: Vec<Algorithm>,
    /// The key material.
    #[serde(flatten)]
    pub material: KeyMaterial,
}

/// Where a verification key comes from.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyMaterial {
    /// An HMAC secret: the UTF-8 bytes of this text.
    Secret(String),
    /// An HMAC secret in base64 (standard or URL-safe alphabet, padding optional).
    SecretBase64(String),
    /// A public key in PEM: `BEGIN PUBLIC KEY` (RSA, EC, Ed25519) or `BEGIN RSA PUBLIC KEY`.
    Pem(String),
    /// A key as a JWK (RFC 7517) object: RSA, EC, OKP (Ed25519) or oct (an HMAC secret).
    Jwk(serde_json::Value),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyMaterial::Secret(_) => f.write_str("Secret([redacted])"),
            KeyMaterial::SecretBase64(_) => f.write_str("SecretBase64([redacted])"),
            KeyMaterial::Pem(_) => f.write_str("Pem(..)"),
            KeyMaterial::Jwk(_) => f.write_str("Jwk([redacted])"),
        }
    }
}

impl KeyConfig {
    /// An HS256 secret (UTF-8 text, at least 32 bytes), without a `kid`.
    pub fn hs256(secret: impl Into<String>) -> Self {
        Self {
            kid: None,
            algorithms: vec![Algorithm::HS256],
            material: KeyMaterial::Secret(secret.into()),
        }
    }

    /// A public key in PEM for `algorithms` (all of one family: RS*/PS*, ES256, ES384 or EdDSA).
    pub fn public_pem(algorithms: impl Into<Vec<Algorithm>>, pem: impl Into<String>) -> Self {
        Self { kid: None, algorithms: algorithms.into(), material: KeyMaterial::Pem(pem.into()) }
    }

    /// A key given as a JWK object, for `algorithms`.
    pub fn jwk(algorithms: impl Into<Vec<Algorithm>>, jwk: serde_json::Value) -> Self {
        Self { kid: None, algorithms: algorithms.into(), material: KeyMaterial::Jwk(jwk) }
    }

    /// Sets the `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }
}

/// A loaded key, ready to verify.
pub(crate) struct VerifyingKey {
    /// The `kid`, or `#n` for the n-th configured key, for messages.
    pub label: String,
    pub kid: Option<String>,
    pub algorithms: Vec<Algorithm>,
    pub key: DecodingKey,
}

impl VerifyingKey {
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("label", &self.label)
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// Every key of one source, by `kid`, immutable once built.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    by_kid: HashMap<String, Arc<VerifyingKey>>,
}

impl KeySet {
    /// A set of `keys`; refuses two keys with one `kid`.
    pub(crate) fn new(keys: Vec<VerifyingKey>) -> Result<Self, JwtError> {
        let mut set = KeySet::default();
        for key in keys {
            let key = Arc::new(key);
            if let Some(kid) = &key.kid
                && set.by_kid.insert(kid.clone(), key.clone()).is_some()
            {
                return Err(JwtError::DuplicateKid { kid: kid.clone() });
            }
            set.keys.push(key);
        }
        Ok(set)
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.by_kid.get(kid)
    }

    /// The keys that may verify `alg`, in configuration order.
    pub(crate) fn for_algorithm(&self, alg: Algorithm) -> impl Iterator<Item = &Arc<VerifyingKey>> {
        self.keys.iter().filter(move |k| k.allows(alg))
    }

    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn invalid(label: &str, reason: impl Into<String>) -> JwtError {
    JwtError::InvalidKey { key: label.to_owned(), reason: reason.into() }
}

/// The minimum HMAC secret length for `alg` (RFC 7518 §3.2).
pub(crate) fn min_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// Checks that `algorithms` is non-empty and of one family; returns the family.
pub(crate) fn one_family(
    label: &str,
    algorithms: &[Algorithm],
) -> Result<AlgorithmFamily, JwtError> {
    let first =
        algorithms.first().ok_or_else(|| JwtError::NoAlgorithms { key: label.to_owned() })?;
    if algorithms.iter().any(|a| a.family() != first.family()) {
        return Err(JwtError::MixedFamilies {
            key: label.to_owned(),
            algorithms: algorithms.to_vec(),
        });
    }
    Ok(first.family())
}

/// Decodes a base64 secret in any common alphabet and padding.
pub(crate) fn decode_base64_secret(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// Checks an HMAC secret's length against every algorithm it may serve.
pub(crate) fn check_secret(
    label: &str,
    secret: &[u8],
    algorithms: &[Algorithm],
) -> Result<(), JwtError> {
    for &alg in algorithms {
        let min = min_secret_len(alg);
        if secret.len() < min {
            return Err(JwtError::SecretTooShort {
                key: label.to_owned(),
                len: secret.len(),
                algorithm: alg,
                min,
            });
        }
    }
    Ok(())
}

/// Loads the `index`-th configured key.
pub(crate) fn load(config: &KeyConfig, index: usize) -> Result<VerifyingKey, JwtError> {
    let label = config.kid.clone().unwrap_or_else(|| format!("#{index}"));
    if let Some(kid) = &config.kid {
        check_kid(&label, kid)?;
    }
    let family = one_family(&label, &config.algorithms)?;
    let (key, algorithms, jwk_kid) = match &config.material {
        KeyMaterial::Secret(text) => (
            hmac_key(&label, family, text.as_bytes(), &config.algorithms)?,
            config.algorithms.clone(),
            None,
        ),
        KeyMaterial::SecretBase64(text) => {
            let secret = decode_base64_secret(text)
                .ok_or_else(|| invalid(&label, "secret_base64 is not base64"))?;
            (
                hmac_key(&label, family, &secret, &config.algorithms)?,
                config.algorithms.clone(),
                None,
            )
        }
        KeyMaterial::Pem(pem) => {
            let pem = pem.as_bytes();
            let key = match family {
                AlgorithmFamily::Hmac => {
                    return Err(invalid(&label, "a PEM key cannot serve HMAC algorithms"));
                }
                AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
                AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
                AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
            }
            .map_err(|e| {
                invalid(&label, format!("PEM does not hold a public key for {family:?}: {e}"))
            })?;
            (key, config.algorithms.clone(), None)
        }
        KeyMaterial::Jwk(value) => {
            let loaded = load_jwk(value, &config.algorithms, &label, JwkSource::Configured)?;
            (loaded.key, loaded.algorithms, loaded.kid)
        }
    };
    validate(&label, &key, &algorithms)?;
    Ok(VerifyingKey { label, kid: config.kid.clone().or(jwk_kid), algorithms, key })
}

fn check_kid(label: &str, kid: &str) -> Result<(), JwtError> {
    if kid.is_empty() || kid.len() > MAX_KID_BYTES {
        return Err(invalid(label, format!("kid must be 1 to {MAX_KID_BYTES} bytes")));
    }
    Ok(())
}

fn hmac_key(
    label: &str,
    family: AlgorithmFamily,
    secret: &[u8],
    algorithms: &[Algorithm],
) -> Result<DecodingKey, JwtError> {
    if family != AlgorithmFamily::Hmac {
        return Err(invalid(label, format!("an HMAC secret cannot serve {family:?} algorithms")));
    }
    check_secret(label, secret, algorithms)?;
    Ok(DecodingKey::from_secret(secret))
}

/// Where a JWK comes from: configuration must fit its allowlist exactly; a JWKS key takes the
/// part of the source's allowlist that fits it, and may not be a symmetric secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwkSource {
    Configured,
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    Fetched,
}

pub(crate) struct LoadedJwk {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
    pub kid: Option<String>,
}

/// Loads a JWK for the algorithms it fits among `allowed`.
pub(crate) fn load_jwk(
    value: &serde_json::Value,
    allowed: &[Algorithm],
    label: &str,
    source: JwkSource,
) -> Result<LoadedJwk, JwtError> {
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|e| invalid(label, format!("not a JWK: {e}")))?;
    if let Some(usage) = &jwk.common.public_key_use
        && *usage != PublicKeyUse::Signature
    {
        return Err(invalid(label, "the JWK is not for signatures (`use`)"));
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err(invalid(label, "the JWK does not allow `verify` (`key_ops`)"));
    }
    if let Some(kid) = &jwk.common.key_id {
        check_kid(label, kid)?;
    }
    let key =
        DecodingKey::from_jwk(&jwk).map_err(|e| invalid(label, format!("unsupported JWK: {e}")))?;
    let family = key.family();
    if family == AlgorithmFamily::Hmac && source == JwkSource::Fetched {
        return Err(invalid(label, "symmetric keys are not accepted from a JWKS"));
    }
    // The algorithms this material can serve at all.
    let fits: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err(invalid(label, "unsupported elliptic curve (P-256 and P-384 only)")),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            _ => return Err(invalid(label, "unsupported OKP curve (Ed25519 only)")),
        },
        _ => family.algorithms().to_vec(),
    };
    let declared = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => Some(
            Algorithm::try_from(alg)
                .map_err(|_| invalid(label, format!("unsupported JWK alg {alg}")))?,
        ),
    };
    let algorithms: Vec<Algorithm> = match source {
        JwkSource::Configured => {
            if let Some(bad) = allowed.iter().find(|a| !fits.contains(a)) {
                return Err(invalid(label, format!("{bad:?} does not fit this {family:?} key")));
            }
            if let Some(declared) = declared
                && allowed.iter().any(|a| *a != declared)
            {
                return Err(invalid(label, format!("the JWK declares alg {declared:?} only")));
            }
            allowed.to_vec()
        }
        JwkSource::Fetched => allowed
            .iter()
            .copied()
            .filter(|a| fits.contains(a) && declared.is_none_or(|d| d == *a))
            .collect(),
    };
    if algorithms.is_empty() {
        return Err(invalid(label, "no allowed algorithm fits this key"));
    }
    if family == AlgorithmFamily::Hmac {
        let secret = key.try_get_as_bytes().map_err(|e| invalid(label, e.to_string()))?;
        check_secret(label, secret, &algorithms)?;
    }
    Ok(LoadedJwk { key, algorithms, kid: jwk.common.key_id })
}

/// Checks the material itself: sizes, curves, and that jsonwebtoken accepts it for every
/// allowed algorithm.
pub(crate) fn validate(
    label: &str,
    key: &DecodingKey,
    algorithms: &[Algorithm],
) -> Result<(), JwtError> {
    match key.family() {
        AlgorithmFamily::Hmac => {}
        AlgorithmFamily::Rsa => {
            let jwk = Jwk::from_decoding_key(key, None)
                .map_err(|e| invalid(label, format!("invalid RSA key: {e}")))?;
            let AlgorithmParameters::RSA(params) = jwk.algorithm else {
                return Err(invalid(label, "invalid RSA key"));
            };
            let n = URL_SAFE_NO_PAD
                .decode(&params.n)
                .map_err(|_| invalid(label, "invalid RSA modulus"))?;
            let e = URL_SAFE_NO_PAD
                .decode(&params.e)
                .map_err(|_| invalid(label, "invalid RSA exponent"))?;
            let n = strip_zeros(&n);
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if !(2048..=4096).contains(&bits) {
                return Err(invalid(
                    label,
                    format!("RSA modulus of {bits} bits (2048 to 4096 accepted)"),
                ));
            }
            let e = strip_zeros(&e);
            let odd = e.last().is_some_and(|b| b & 1 == 1);
            if e.len() > 4 || !odd || e == [1] {
                return Err(invalid(
                    label,
                    "RSA public exponent must be odd, at least 3, below 2^32",
                ));
            }
        }
        AlgorithmFamily::Ec => {
            let jwk = Jwk::from_decoding_key(key, None).map_err(|e| {
                invalid(
                    label,
                    format!("invalid EC key (uncompressed P-256 or P-384 point expected): {e}"),
                )
            })?;
            let AlgorithmParameters::EllipticCurve(params) = jwk.algorithm else {
                return Err(invalid(label, "invalid EC key"));
            };
            let only = if params.curve == EllipticCurve::P384 {
                Algorithm::ES384
            } else {
                Algorithm::ES256
            };
            if let Some(bad) = algorithms.iter().find(|a| **a != only) {
                return Err(invalid(
                    label,
                    format!("a {:?} key serves {only:?} only, not {bad:?}", params.curve),
                ));
            }
        }
        AlgorithmFamily::Ed => {
            let bytes = key.try_get_as_bytes().map_err(|e| invalid(label, e.to_string()))?;
            if bytes.len() != 32 {
                return Err(invalid(label, "an Ed25519 public key has 32 bytes"));
            }
        }
    }
    for &alg in algorithms {
        // A wrong signature on a fixed message: `Ok(false)` for a usable key, `Err` for
        // material the algorithm's verifier refuses (an EC point off the curve, ...).
        jsonwebtoken::crypto::verify("AAAA", b"guard-jwt key probe", key, alg)
            .map_err(|e| invalid(label, format!("unusable for {alg:?}: {e}")))?;
    }
    Ok(())
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_PUB: &str = include_str!("../testdata/rsa-public.pem");
    const EC256_PUB: &str = include_str!("../testdata/ec256-public.pem");
    const EC384_PUB: &str = include_str!("../testdata/ec384-public.pem");
    const ED_PUB: &str = include_str!("../testdata/ed25519-public.pem");
    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn load_one(cfg: KeyConfig) -> Result<VerifyingKey, JwtError> {
        crate::crypto::ensure_backend().unwrap();
        load(&cfg, 0)
    }

    #[test]
    fn configuration_deserializes() {
        let keys: Vec<KeyConfig> = serde_json::from_value(json!([
            {"kid": "a", "algorithms": ["HS256"], "secret": SECRET},
            {"algorithms": ["RS256"], "pem": RSA_PUB},
            {"algorithms": ["HS512"], "secret_base64": "AAAA"},
        ]))
        .unwrap();
        assert!(matches!(keys[0].material, KeyMaterial::Secret(_)));
        assert!(matches!(keys[1].material, KeyMaterial::Pem(_)));
        assert!(!format!("{:?}", keys[0]).contains(SECRET), "secrets never reach logs");
        assert!(serde_json::from_value::<KeyConfig>(json!({"algorithms": ["HS256"]})).is_err());
        assert!(
            serde_json::from_value::<KeyConfig>(json!({"algorithms": ["none"], "secret": SECRET}))
                .is_err()
        );
    }

    #[test]
    fn every_supported_key_kind_loads() {
        load_one(KeyConfig::hs256(SECRET)).unwrap();
        load_one(KeyConfig::public_pem([Algorithm::RS256, Algorithm::PS256], RSA_PUB)).unwrap();
        load_one(KeyConfig::public_pem([Algorithm::ES256], EC256_PUB)).unwrap();
        load_one(KeyConfig::public_pem([Algorithm::ES384], EC384_PUB)).unwrap();
        load_one(KeyConfig::public_pem([Algorithm::EdDSA], ED_PUB)).unwrap();
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = load_one(KeyConfig::hs256("x".repeat(31))).unwrap_err();
        assert!(matches!(err, JwtError::SecretTooShort { len: 31, min: 32, .. }), "{err}");
        let hs512 = KeyConfig { algorithms: vec![Algorithm::HS512], ..KeyConfig::hs256(SECRET) };
        assert!(matches!(load_one(hs512), Err(JwtError::SecretTooShort { min: 64, .. })));
    }

    #[test]
    fn one_key_serves_one_family() {
        let mixed = KeyConfig {
            algorithms: vec![Algorithm::HS256, Algorithm::RS256],
            ..KeyConfig::hs256(SECRET)
        };
        assert!(matches!(load_one(mixed), Err(JwtError::MixedFamilies { .. })));
        // The RSA public key as an HMAC secret: refused at configuration already.
        let confused = KeyConfig::public_pem([Algorithm::HS256], RSA_PUB);
        assert!(matches!(load_one(confused), Err(JwtError::InvalidKey { .. })));
        let none = KeyConfig { algorithms: vec![], ..KeyConfig::hs256(SECRET) };
        assert!(matches!(load_one(none), Err(JwtError::NoAlgorithms { .. })));
    }

    #[test]
    fn curves_bind_their_algorithm() {
        let wrong = KeyConfig::public_pem([Algorithm::ES384], EC256_PUB);
        assert!(matches!(load_one(wrong), Err(JwtError::InvalidKey { .. })));
        let rsa_as_ec = KeyConfig::public_pem([Algorithm::ES256], RSA_PUB);
        assert!(matches!(load_one(rsa_as_ec), Err(JwtError::InvalidKey { .. })));
    }

    #[test]
    fn jwks_keys_are_checked() {
        // A P-256 JWK with a point off the curve.
        let off_curve = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])});
        assert!(load_one(KeyConfig::jwk([Algorithm::ES256], off_curve)).is_err());
        // A short Ed25519 key must be refused, not panic later.
        let short_ed =
            json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([9u8; 16])});
        assert!(load_one(KeyConfig::jwk([Algorithm::EdDSA], short_ed)).is_err());
        let enc = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "use": "enc"});
        assert!(load_one(KeyConfig::jwk([Algorithm::HS256], enc)).is_err());
        let oct = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "kid": "o1"});
        let key = load_one(KeyConfig::jwk([Algorithm::HS256], oct.clone())).unwrap();
        assert_eq!(key.kid.as_deref(), Some("o1"));
        assert!(load_jwk(&oct, &[Algorithm::HS256], "x", JwkSource::Fetched).is_err());
        let small_rsa =
            json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"});
        assert!(load_one(KeyConfig::jwk([Algorithm::RS256], small_rsa)).is_err());
    }

    #[test]
    fn duplicate_kids_are_refused() {
        crate::crypto::ensure_backend().unwrap();
        let a = load(&KeyConfig::hs256(SECRET).with_kid("k"), 0).unwrap();
        let b = load(&KeyConfig::hs256(SECRET).with_kid("k"), 1).unwrap();
        assert!(matches!(KeySet::new(vec![a, b]), Err(JwtError::DuplicateKid { .. })));
    }
}
