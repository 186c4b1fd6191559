//! One token through every check, in the order RFC 8725 asks for: size, shape, header, key
//! selection, signature (jsonwebtoken's crypto), then claims.

use std::sync::Arc;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::claims::{ClaimRules, TokenInfo, check_claims};
use crate::error::{Rejection, TokenError};
use crate::header::{HeaderRules, JoseHeader, check_header};
use crate::json::{is_base64url, object_segment};
use crate::keys::{KeySet, VerifyingKey};

/// Without `kid`, at most this many candidate keys are tried (bounding the work a token costs).
pub const MAX_KEYS_WITHOUT_KID: usize = 4;

/// The compiled verification policy.
#[derive(Debug)]
pub(crate) struct Verifier {
    pub keys: KeySet,
    #[cfg(feature = "jwks")]
    pub remote: Vec<Arc<crate::jwks::RemoteKeySet>>,
    pub header: HeaderRules,
    pub claims: ClaimRules,
    pub max_token_bytes: usize,
    pub require_kid: bool,
}

/// A token whose signature and registered claims passed.
#[derive(Debug)]
pub(crate) struct Verified {
    pub info: TokenInfo,
    pub claims: Map<String, Value>,
}

impl Verifier {
    /// Starts the background refresh of every remote key set, if a Tokio runtime is at hand.
    pub(crate) fn start_refreshers(&self) {
        #[cfg(feature = "jwks")]
        for remote in &self.remote {
            remote.start_refresher();
        }
    }

    /// Verifies `token` as of `now_ms`.
    pub(crate) async fn verify(&self, token: &str, now_ms: u64) -> Result<Verified, Rejection> {
        if token.len() > self.max_token_bytes {
            return Err(TokenError::TooLarge.into());
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed.into());
        };
        // An empty (or missing) signature is malformed: a JWS always has one.
        if ![header, payload, signature].iter().all(|s| is_base64url(s)) {
            return Err(TokenError::Malformed.into());
        }
        let header_json = object_segment(header).ok_or(TokenError::MalformedHeader)?;
        let jose = check_header(&header_json, &self.header)?;
        let message = &token[..header.len() + 1 + payload.len()];
        self.check_signature(&jose, message, signature).await?;
        let claims = object_segment(payload).ok_or(TokenError::MalformedClaims)?;
        let info = check_claims(&claims, &self.claims, now_ms, jose.kid, jose.alg)?;
        Ok(Verified { info, claims })
    }

    async fn check_signature(
        &self,
        jose: &JoseHeader,
        message: &str,
        signature: &str,
    ) -> Result<(), Rejection> {
        match &jose.kid {
            Some(kid) => {
                let key = self.key_by_id(kid).await?;
                if !key.allows(jose.alg) {
                    return Err(TokenError::AlgorithmNotAllowed.into());
                }
                if signature_ok(&key, jose.alg, message, signature) {
                    Ok(())
                } else {
                    Err(TokenError::BadSignature.into())
                }
            }
            None if self.require_kid => Err(TokenError::KeyIdRequired.into()),
            None => {
                let candidates = self.keys_for(jose.alg).await?;
                if candidates.is_empty() {
                    return Err(TokenError::AlgorithmNotAllowed.into());
                }
                let ok = candidates
                    .iter()
                    .take(MAX_KEYS_WITHOUT_KID)
                    .any(|key| signature_ok(key, jose.alg, message, signature));
                if ok { Ok(()) } else { Err(TokenError::BadSignature.into()) }
            }
        }
    }

    /// The key named `kid`: static keys first, then the remote sets (refreshed once per
    /// cooldown when the `kid` is unknown).
    async fn key_by_id(&self, kid: &str) -> Result<Arc<VerifyingKey>, Rejection> {
        if let Some(key) = self.keys.get(kid) {
            return Ok(key.clone());
        }
        #[cfg(feature = "jwks")]
        if !self.remote.is_empty() {
            let find = || self.remote.iter().find_map(|r| r.current().get(kid).cloned());
            if let Some(key) = find() {
                return Ok(key);
            }
            for remote in &self.remote {
                remote.refresh_for_unknown_key().await;
            }
            if let Some(key) = find() {
                return Ok(key);
            }
            if let Some(retry_after) = self.remote.iter().find_map(|r| r.unavailable()) {
                return Err(Rejection::Unavailable { retry_after });
            }
        }
        Err(TokenError::UnknownKey.into())
    }

    /// The keys that may verify `alg`, for a token without `kid`.
    async fn keys_for(&self, alg: Algorithm) -> Result<Vec<Arc<VerifyingKey>>, Rejection> {
        #[cfg_attr(not(feature = "jwks"), allow(unused_mut))]
        let mut keys: Vec<_> = self.keys.for_algorithm(alg).cloned().collect();
        #[cfg(feature = "jwks")]
        if !self.remote.is_empty() {
            let remote_keys = || -> Vec<Arc<VerifyingKey>> {
                self.remote
                    .iter()
                    .flat_map(|r| r.current().for_algorithm(alg).cloned().collect::<Vec<_>>())
                    .collect()
            };
            let mut found = remote_keys();
            if found.is_empty() && keys.is_empty() {
                for remote in &self.remote {
                    remote.refresh_for_unknown_key().await;
                }
                found = remote_keys();
                if found.is_empty()
                    && let Some(retry_after) = self.remote.iter().find_map(|r| r.unavailable())
                {
                    return Err(Rejection::Unavailable { retry_after });
                }
            }
            keys.extend(found);
        }
        Ok(keys)
    }
}

/// Whether `signature` verifies `message` under `key` for `alg` (jsonwebtoken's crypto; any
/// error, such as an ECDSA signature with r = s = 0, is a failed verification).
fn signature_ok(key: &VerifyingKey, alg: Algorithm, message: &str, signature: &str) -> bool {
    key.allows(alg)
        && jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, alg)
            .unwrap_or(false)
}
