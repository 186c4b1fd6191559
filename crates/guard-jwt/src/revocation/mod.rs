//! Revocation that every instance sees at once: a deny-list of token ids and a per-subject
//! "refuse tokens issued up to T" mark, consulted on every authenticated request after the
//! signature and claims checks.
//!
//! - [`Jwt::revoke`](crate::Jwt::revoke) (logout) deny-lists the presented token's `jti` until
//!   the token could no longer pass anyway (`exp` + leeway).
//! - [`Jwt::revoke_all_for`](crate::Jwt::revoke_all_for) (password change, logout everywhere)
//!   marks the subject with the current time T in milliseconds: every token of that subject
//!   issued at or before T is refused, tokens issued after T pass. The mark lives as long as
//!   the longest token may ([`RevocationPolicy::max_token_lifetime`], plus leeway); tokens
//!   living longer are refused outright when revocation is on, so no token can outlive the
//!   mark that should stop it. Marks only ever move forward.
//!
//! Issue times are compared in milliseconds: tokens minted by
//! [`TokenIssuer`](crate::TokenIssuer) carry [`iat_ms`](crate::IAT_MS), so a token minted a
//! millisecond after a password change works and one minted a millisecond before does not.
//! Instances must keep their clocks in sync (NTP) for the boundary to hold across them.
//!
//! With revocation on, a token must carry `jti`, `sub` and `iat`; tokens without them are
//! refused as `invalid_token` (they could not be revoked).
//!
//! The check is one store round trip, bounded by a deadline (250 ms by default) and guard-core's
//! circuit breakers (one per Redis node). What happens when the store does not answer:
//!
//! | the store | a revoked token | a valid token |
//! |---|---|---|
//! | answers | refused (401) | passes |
//! | misses one call (a blip: a timeout or an error while the breaker judges it healthy) | the check is asked once more; refused if that answers, else as below | passes if the second call answers |
//! | is judged down (breaker open), or both calls failed | [`OnStoreFailure::FailClosed`] (default): 503 with `Retry-After`; [`OnStoreFailure::FailOpen`]: passes unchecked, logged at most once a second | the same |
//!
//! So a revoked token never passes under the default policy, and one slow call costs a valid
//! token a second deadline at most, not a 503. The breaker makes an outage cost a few timeouts
//! rather than one per request, and the guard recovers by itself when the store answers again.
//!
//! Two stores ship: [`MemoryRevocationStore`] (one process, bounded) and, with the feature
//! `redis`, `RedisRevocationStore` (shared by every instance).

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use guard_core::{BreakerConfig, BreakerState, StoreBreakers, StoreError, StoreFailure};
use serde::Deserialize;

use crate::claims::TokenInfo;
use crate::clock::millis;
use crate::error::{Rejection, RevokeError, TokenError};

pub use memory::MemoryRevocationStore;
#[cfg(feature = "redis")]
pub use redis::RedisRevocationStore;

/// The future a [`RevocationStore`] returns (boxed, so stores can be chosen at run time).
pub type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RevocationStoreError>> + Send + 'a>>;

/// What a store knows about one token, read in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationStatus {
    /// The token's `jti` is deny-listed.
    pub token_revoked: bool,
    /// The subject's mark: tokens issued at or before this time (ms since the epoch) are refused.
    pub subject_revoked_through_ms: Option<u64>,
}

/// Where revocations live. Implementations must make a revocation visible to every instance
/// that shares the store as soon as the write returns.
///
/// Keys are per subject, so a store may keep a subject's entries together (the Redis store
/// puts them in one Cluster hash slot, so that [`status`](Self::status) is one command).
pub trait RevocationStore: Send + Sync + 'static {
    /// Deny-lists token `jti` of `subject` for `ttl`.
    fn revoke_token<'a>(
        &'a self,
        subject: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Marks `subject`: tokens issued at or before `issued_through_ms` are refused; the mark
    /// expires after `ttl`. A mark never moves backwards (a later, lower T is ignored).
    fn revoke_subject<'a>(
        &'a self,
        subject: &'a str,
        issued_through_ms: u64,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Whether token `jti` of `subject` is deny-listed, and the subject's mark, in one round trip.
    fn status<'a>(&'a self, subject: &'a str, jti: &'a str) -> StoreFuture<'a, RevocationStatus>;

    /// The node of the store that keeps `subject`'s entries (a Redis Cluster master), so that
    /// the guard judges each node apart; `None` (the default) for a store with one node.
    fn node_of(&self, subject: &str) -> Option<Arc<str>> {
        let _ = subject;
        None
    }

    /// Prepares the store before the first request (loads scripts); the default does nothing.
    fn warm_up(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationStoreError {
    /// Redis answered with an error (or the connection failed).
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// An entry that is not what this crate writes.
    #[error("unexpected entry: {0}")]
    Corrupt(String),
    /// Any other store's failure.
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreFailure for RevocationStoreError {
    fn is_unreachable(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            RevocationStoreError::Redis(err) => err.is_unreachable(),
            _ => false,
        }
    }
}

/// What to do when the revocation store cannot answer in time: `"fail-closed"` (the default)
/// or `"fail-open"` in configuration, the words guard-ratelimit's `OnStoreFailure` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnStoreFailure {
    /// Refuse the request with 503 and `Retry-After` (a revoked token must never pass).
    #[default]
    FailClosed,
    /// Let the token through unchecked and log (availability over revocation).
    FailOpen,
}

/// How revocation behaves; used when a store is attached with
/// [`Jwt::with_revocation_store`](crate::Jwt::with_revocation_store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RevocationPolicy {
    /// What to do when the store fails (default: fail closed).
    pub on_store_failure: OnStoreFailure,
    /// The longest token lifetime (`exp - iat`) accepted while revocation is on, in seconds
    /// (default 86400, one day); also how long subject marks are kept.
    #[serde(with = "crate::clock::secs")]
    pub max_token_lifetime: Duration,
    /// Deadline and circuit breakers around every store call, one breaker per store node
    /// (default: [`BreakerConfig::default`], a 250 ms deadline, opening on a failure rate or an
    /// unreachable store, never on one slow call).
    pub breaker: BreakerConfig,
}

impl Default for RevocationPolicy {
    fn default() -> Self {
        Self {
            on_store_failure: OnStoreFailure::FailClosed,
            max_token_lifetime: Duration::from_secs(86_400),
            breaker: BreakerConfig::default(),
        }
    }
}

/// A store with its policy and breaker: what [`Jwt`](crate::Jwt) consults.
pub(crate) struct Revocations {
    store: Box<dyn RevocationStore>,
    breakers: StoreBreakers,
    policy: RevocationPolicy,
    /// When fail-open last logged (ms since the epoch), so an outage logs once a second.
    last_open_log_ms: AtomicU64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("policy", &self.policy)
            .field("breaker", &self.breakers.state())
            .finish_non_exhaustive()
    }
}

impl Revocations {
    pub(crate) fn new(store: Box<dyn RevocationStore>, policy: RevocationPolicy) -> Self {
        Self {
            store,
            breakers: StoreBreakers::new("jwt-revocations", policy.breaker),
            policy,
            last_open_log_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn breaker_state(&self) -> BreakerState {
        self.breakers.state()
    }

    pub(crate) async fn warm_up(&self) -> Result<(), RevocationStoreError> {
        self.store.warm_up().await
    }

    /// Refuses a revoked token; the store's failure follows the policy.
    pub(crate) async fn check(&self, token: &TokenInfo, now_ms: u64) -> Result<(), Rejection> {
        let jti = token.jti.as_deref().ok_or(TokenError::MissingClaim("jti"))?;
        let sub = token.sub.as_deref().ok_or(TokenError::MissingClaim("sub"))?;
        let issued = token.issued_at_ms.ok_or(TokenError::MissingClaim("iat"))?;
        if token.expires_at_ms.saturating_sub(issued) > millis(self.policy.max_token_lifetime) {
            return Err(TokenError::LifetimeTooLong.into());
        }
        let breaker = self.breakers.node(self.store.node_of(sub).as_deref());
        // A read: a blip is asked once more before the failure policy decides.
        match breaker.call_idempotent(|| self.store.status(sub, jti)).await {
            Ok(status) => {
                let marked = status.subject_revoked_through_ms.is_some_and(|t| issued <= t);
                if status.token_revoked || marked {
                    Err(TokenError::Revoked.into())
                } else {
                    Ok(())
                }
            }
            Err(err) => match self.policy.on_store_failure {
                OnStoreFailure::FailClosed => {
                    Err(Rejection::Unavailable { retry_after: err.retry_after() })
                }
                OnStoreFailure::FailOpen => {
                    self.log_fail_open(&err, now_ms);
                    Ok(())
                }
            },
        }
    }

    fn log_fail_open(&self, err: &StoreError<RevocationStoreError>, now_ms: u64) {
        let last = self.last_open_log_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= 1000
            && self
                .last_open_log_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(error = %err, "revocation store unavailable; tokens pass unchecked (fail open)");
        }
    }

    /// Deny-lists `token` until it could no longer pass (`exp` + leeway).
    pub(crate) async fn revoke(
        &self,
        token: &TokenInfo,
        now_ms: u64,
        leeway: Duration,
    ) -> Result<(), RevokeError> {
        let jti = token.jti.as_deref().ok_or(RevokeError::MissingClaim("jti"))?;
        let sub = token.sub.as_deref().ok_or(RevokeError::MissingClaim("sub"))?;
        let dead_at = token.expires_at_ms.saturating_add(millis(leeway));
        let ttl = dead_at.saturating_sub(now_ms);
        if ttl == 0 {
            return Ok(());
        }
        let ttl = Duration::from_millis(ttl);
        self.write(sub, || self.store.revoke_token(sub, jti, ttl)).await
    }

    /// Marks `subject`: every token issued at or before `now_ms` is refused.
    pub(crate) async fn revoke_all_for(
        &self,
        subject: &str,
        now_ms: u64,
        leeway: Duration,
    ) -> Result<(), RevokeError> {
        // One extra second for the rounding of whole-second `exp` claims.
        let ttl = self.policy.max_token_lifetime + leeway + Duration::from_secs(1);
        self.write(subject, || self.store.revoke_subject(subject, now_ms, ttl)).await
    }

    /// Both writes may run twice (a deny-list entry, a mark that only moves forward): a blip is
    /// retried once.
    async fn write<'a>(
        &'a self,
        subject: &str,
        call: impl FnMut() -> StoreFuture<'a, ()>,
    ) -> Result<(), RevokeError> {
        let breaker = self.breakers.node(self.store.node_of(subject).as_deref());
        breaker.call_idempotent(call).await.map_err(|err| RevokeError::Unavailable {
            message: err.to_string(),
            retry_after: err.retry_after(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_deserializes_with_defaults() {
        let p: RevocationPolicy =
            serde_json::from_str(r#"{"on_store_failure": "fail-open", "max_token_lifetime": 900}"#)
                .unwrap();
        assert_eq!(p.on_store_failure, OnStoreFailure::FailOpen);
        assert_eq!(p.max_token_lifetime, Duration::from_secs(900));
        assert_eq!(p.breaker.deadline, Duration::from_millis(250));
        assert!(serde_json::from_str::<RevocationPolicy>(r#"{"fail": "open"}"#).is_err());
    }

    #[test]
    fn the_store_failure_setting_has_the_words_of_guard_ratelimit() {
        let read = |json: &str| serde_json::from_str::<OnStoreFailure>(json);
        assert_eq!(read(r#""fail-closed""#).unwrap(), OnStoreFailure::FailClosed);
        assert_eq!(read(r#""fail-open""#).unwrap(), OnStoreFailure::FailOpen);
        for other in [r#""closed""#, r#""open""#, r#""fail_open""#, r#""FailOpen""#] {
            assert!(read(other).is_err(), "{other}");
        }
        assert_eq!(OnStoreFailure::default(), OnStoreFailure::FailClosed);
        assert_eq!(RevocationPolicy::default().on_store_failure, OnStoreFailure::FailClosed);
    }
}
