//! The guard: token from the request, verification, revocation, the route's claims check, and
//! the verified claims left for the handler.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use guard_core::{BreakerState, Decision, Guard, GuardRequest, Problem, ResponseHead};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::claims::TokenInfo;
use crate::clock::{Clock, SharedClock};
use crate::error::{CredentialChangeError, Rejection, RevokeError, TokenError};
use crate::extract::bearer_token;
use crate::revocation::{RevocationPolicy, RevocationStore, RevocationStoreError, Revocations};
use crate::verify::Verifier;

/// The verified claims of the request's token, left in the request extensions by [`Jwt`] for
/// the handler: the application's own claims type `C` plus the registered claims in [`TokenInfo`].
///
/// Read it with the adapters' `Claims<C>` extractors, or in axum with
/// `Extension<VerifiedClaims<C>>`. It dereferences to `C`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedClaims<C> {
    /// The claims as the application's type.
    pub claims: C,
    /// `jti`, `sub`, issue and expiry times, `kid` and algorithm: what revocation needs.
    pub token: TokenInfo,
}

impl<C> std::ops::Deref for VerifiedClaims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.claims
    }
}

/// What every clone of a [`Jwt`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub verifier: Verifier,
    pub realm: String,
    pub cookie: Option<String>,
    pub leeway: Duration,
    pub revocation_policy: RevocationPolicy,
}

type ClaimsCheck<C> = Arc<dyn Fn(&VerifiedClaims<C>) -> bool + Send + Sync>;

/// The JWT bearer guard for claims type `C`, built by [`JwtPolicy::build`](crate::JwtPolicy::build).
///
/// Per request: takes the token from `Authorization: Bearer` (or the policy's cookie), verifies
/// it, checks revocation (when a store is attached) and the route's claims check (when set),
/// and leaves [`VerifiedClaims<C>`] for the handler. Otherwise it answers at once with an
/// RFC 6750 challenge as problem+json: 401 without an error code when no token came, 401
/// `invalid_token` for a refused token, 403 `insufficient_scope` when the claims check says no,
/// 503 with `Retry-After` when the revocation store is down (fail closed).
///
/// Cheap to clone: clones share keys, store and breaker. Handlers keep a clone to call
/// [`revoke`](Self::revoke) and [`revoke_all_for`](Self::revoke_all_for).
pub struct Jwt<C> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) revocations: Option<Arc<Revocations>>,
    pub(crate) clock: SharedClock,
    pub(crate) require: Option<ClaimsCheck<C>>,
    pub(crate) _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for Jwt<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            revocations: self.revocations.clone(),
            clock: self.clock.clone(),
            require: self.require.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> std::fmt::Debug for Jwt<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("realm", &self.shared.realm)
            .field("revocations", &self.revocations)
            .field("claims_check", &self.require.is_some())
            .finish_non_exhaustive()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Jwt<C> {
    /// Checks every authenticated request against `store` (see [`crate::revocation`]), with the
    /// policy's [`RevocationPolicy`]. Tokens must then carry `jti`, `sub` and `iat`.
    pub fn with_revocation_store(mut self, store: impl RevocationStore) -> Self {
        let policy = self.shared.revocation_policy;
        self.revocations = Some(Arc::new(Revocations::new(Box::new(store), policy)));
        self
    }

    /// Reads the time from `clock` (tests); the system clock otherwise.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a claims check for the routes this guard protects: a verified token for which
    /// `check` returns false is answered 403 `insufficient_scope`.
    ///
    /// ```
    /// # #[derive(Clone, serde::Deserialize)] struct Claims { scope: String }
    /// # let jwt = guard_jwt::JwtPolicy::hs256("0123456789abcdef0123456789abcdef").build::<Claims>().unwrap();
    /// let admin_only = jwt.clone().require(|c| c.scope.split(' ').any(|s| s == "admin"));
    /// ```
    pub fn require(
        mut self,
        check: impl Fn(&VerifiedClaims<C>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.require = Some(Arc::new(check));
        self
    }

    /// The realm of the challenges.
    pub fn realm(&self) -> &str {
        &self.shared.realm
    }

    /// The answer for `rejection`, with this guard's realm.
    pub fn problem(&self, rejection: &Rejection) -> Problem {
        rejection.to_problem(&self.shared.realm)
    }

    /// The state of the revocation store's circuit breaker (`None` without a store), for
    /// health checks.
    pub fn revocation_breaker(&self) -> Option<BreakerState> {
        self.revocations.as_ref().map(|r| r.breaker_state())
    }

    /// Prepares the revocation store before the first request (loads its scripts on every
    /// Redis node), so that a burst right after start-up meets a ready store.
    pub async fn warm_up(&self) -> Result<(), RevocationStoreError> {
        match &self.revocations {
            Some(revocations) => revocations.warm_up().await,
            None => Ok(()),
        }
    }

    /// Runs a token (without the `Bearer ` prefix) through verification, revocation and the
    /// claims check, outside any web framework (WebSocket handshakes, tests).
    pub async fn authenticate(&self, token: &str) -> Result<VerifiedClaims<C>, Rejection> {
        let now_ms = self.clock.now_ms();
        let verified = self.shared.verifier.verify(token, now_ms).await?;
        if let Some(revocations) = &self.revocations {
            revocations.check(&verified.info, now_ms).await?;
        }
        let claims: C = serde_json::from_value(Value::Object(verified.claims))
            .map_err(|_| TokenError::ClaimsShape)?;
        let verified = VerifiedClaims { claims, token: verified.info };
        match &self.require {
            Some(check) if !check(&verified) => Err(Rejection::InsufficientScope),
            _ => Ok(verified),
        }
    }

    /// Revokes one token (logout): from now on every instance sharing the store refuses it.
    /// The entry lives until the token could no longer pass anyway.
    pub async fn revoke(&self, token: &TokenInfo) -> Result<(), RevokeError> {
        let revocations = self.revocations.as_ref().ok_or(RevokeError::NoStore)?;
        revocations.revoke(token, self.clock.now_ms(), self.shared.leeway).await
    }

    /// Revokes every token of `subject` issued up to now, to the millisecond (logout
    /// everywhere); tokens issued afterwards work. To change a password, use
    /// [`change_credentials`](Self::change_credentials), which also revokes the tokens of logins
    /// racing the change.
    pub async fn revoke_all_for(&self, subject: &str) -> Result<(), RevokeError> {
        let revocations = self.revocations.as_ref().ok_or(RevokeError::NoStore)?;
        revocations.revoke_all_for(subject, self.clock.now_ms(), self.shared.leeway).await
    }

    /// Changes `subject`'s credential with `change` (the write of the new password hash) and
    /// revokes every token issued before the change completed, including those of logins that
    /// read the old credential while it ran, provided they mint with
    /// [`TokenIssuer::issue_authenticated`](crate::TokenIssuer::issue_authenticated).
    ///
    /// The subject is marked before the write (so a failed write leaves no old token alive
    /// either), the write runs, and the subject is marked again once it is stored: a login that
    /// read the old credential began before the write ended, so its token is dated before the
    /// second mark. Instances must keep their clocks in sync (NTP) for this to hold across them.
    ///
    /// ```
    /// # async fn demo(jwt: guard_jwt::Jwt<serde_json::Value>) {
    /// # async fn store_new_hash() -> Result<(), std::io::Error> { Ok(()) }
    /// match jwt.change_credentials("user-42", store_new_hash()).await {
    ///     Ok(()) => { /* 204 */ }
    ///     Err(err) => eprintln!("{err}"), // 503 (store) or the write's own error
    /// }
    /// # }
    /// ```
    pub async fn change_credentials<T, E>(
        &self,
        subject: &str,
        change: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, CredentialChangeError<E>> {
        use CredentialChangeError as Failed;
        self.revoke_all_for(subject).await.map_err(Failed::NotRevoked)?;
        let changed = change.await.map_err(Failed::Change)?;
        self.revoke_all_for(subject).await.map_err(|err| {
            tracing::error!(
                error = %err,
                "credential changed but not marked after the write: logins racing the change \
                 may keep tokens"
            );
            Failed::Unconfirmed(err)
        })?;
        Ok(changed)
    }

    /// Fetches every JWKS source now (start-up readiness); returns how many keys they hold.
    #[cfg(feature = "jwks")]
    pub async fn refresh_keys(&self) -> Result<usize, crate::jwks::JwksError> {
        let mut total = 0;
        for remote in &self.shared.verifier.remote {
            total += remote.refresh_now().await?;
        }
        Ok(total)
    }
}

impl<C: DeserializeOwned + Clone + Send + Sync + 'static> Guard for Jwt<C> {
    type State = ();

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<()> {
        let head = req.head();
        let max = self.shared.verifier.max_token_bytes;
        let outcome = match bearer_token(head, self.shared.cookie.as_deref(), max) {
            Ok(Some(token)) => self.authenticate(token).await,
            Ok(None) => Err(Rejection::Missing),
            Err(err) => Err(Rejection::Invalid(err)),
        };
        match outcome {
            Ok(verified) => {
                guard_core::observe::admitted("jwt", "bearer");
                // The subject, for what counts or logs per user without knowing `C`.
                if let Some(sub) = verified.token.sub.as_deref() {
                    req.extensions_mut().insert(guard_core::Subject::new(sub));
                }
                req.extensions_mut().insert(verified);
                Decision::Continue(())
            }
            Err(rejection) => {
                let problem = self.problem(&rejection);
                guard_core::observe::refused("jwt", "bearer", rejection.reason(), problem.status);
                Decision::Respond(problem.into())
            }
        }
    }

    fn respond(&self, _state: (), _res: &mut dyn ResponseHead) {}
}
