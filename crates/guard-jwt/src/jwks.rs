//! Key sets fetched from a JWKS URL (feature `jwks`): see [`JwksConfig`](crate::JwksConfig),
//! which [`JwtPolicy::build`](crate::JwtPolicy::build) checks and compiles into a [`RemoteSource`].
//!
//! One fetch at a time per source (later callers wait for it, then use its result). A fetch
//! happens at start-up, every `refresh_every` in the background, and when a token names an
//! unknown `kid`, but never twice within `unknown_kid_cooldown`, whatever asked for it (only
//! [`Jwt::refresh_keys`](crate::Jwt::refresh_keys) fetches regardless). A failed fetch, or a set with
//! no usable key, keeps the current keys. Before the first successful fetch, a token that
//! needs the set is answered 503 (the key source is down, not the client's fault).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;
use tokio::time::Instant;

use crate::keys::{JwkSource, KeySet, VerifyingKey, load_jwk, validate};

/// Why a JWKS fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// No answer (connection, timeout).
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The source.
        url: String,
        /// What failed.
        reason: String,
    },
    /// An answer other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The source.
        url: String,
        /// The status received.
        status: u16,
    },
    /// A body over `max_bytes`.
    #[error("{url}: key set larger than {max} bytes")]
    TooLarge {
        /// The source.
        url: String,
        /// The limit.
        max: usize,
    },
    /// Not a JWK set.
    #[error("{url}: not a JWK set: {reason}")]
    Parse {
        /// The source.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A JWK set without any key usable under the source's allowlist.
    #[error("{url}: no usable key in the set")]
    NoUsableKey {
        /// The source.
        url: String,
    },
}

/// A JWKS source as its configuration compiles: what fetching and caching need.
#[derive(Debug)]
pub(crate) struct RemoteSource {
    /// Where the key set is (http only to loopback hosts or when allowed, https with TLS).
    pub url: reqwest::Url,
    /// The allowlist for keys of this set (public-key algorithms only).
    pub algorithms: Vec<Algorithm>,
    /// Background refresh period (positive).
    pub refresh_every: Duration,
    /// Least time between two fetches.
    pub unknown_kid_cooldown: Duration,
    /// Largest key set accepted, in bytes (positive).
    pub max_bytes: usize,
    /// The client fetches go through: [`http_client`].
    pub client: reqwest::Client,
}

/// The HTTP client of a source: `fetch_timeout` for a whole fetch, no redirects.
pub(crate) fn http_client(fetch_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(fetch_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("guard-jwt/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Whether `url` names a loopback host (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One JWKS source: its current keys and how they are refreshed.
#[derive(Debug)]
pub(crate) struct RemoteKeySet {
    source: RemoteSource,
    keys: RwLock<Arc<KeySet>>,
    loaded: AtomicBool,
    last_failed: AtomicBool,
    last_attempt: Mutex<Option<Instant>>,
    fetch_lock: tokio::sync::Mutex<()>,
    refresher_started: AtomicBool,
}

impl RemoteKeySet {
    /// A set for `source`, with no keys yet; fetches nothing yet.
    pub(crate) fn new(source: RemoteSource) -> Self {
        Self {
            source,
            keys: RwLock::new(Arc::new(KeySet::default())),
            loaded: AtomicBool::new(false),
            last_failed: AtomicBool::new(false),
            last_attempt: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            refresher_started: AtomicBool::new(false),
        }
    }

    /// The keys in use now.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// `Some(retry_after)` while no set was ever loaded and the last fetch failed.
    pub(crate) fn unavailable(&self) -> Option<Duration> {
        if self.loaded.load(Ordering::Acquire) || !self.last_failed.load(Ordering::Acquire) {
            return None;
        }
        let left = self.cooldown_left().unwrap_or(Duration::ZERO);
        Some(left.max(Duration::from_secs(1)))
    }

    fn cooldown_left(&self) -> Option<Duration> {
        let last = (*self.last_attempt.lock().unwrap_or_else(PoisonError::into_inner))?;
        self.source.unknown_kid_cooldown.checked_sub(last.elapsed()).filter(|d| !d.is_zero())
    }

    /// Starts the background refresh (first fetch at once) if a Tokio runtime is at hand and it
    /// is not running yet. The task ends when the last guard holding this set is dropped.
    pub(crate) fn start_refresher(self: &Arc<Self>) {
        if self.refresher_started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.refresher_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                let wait = {
                    let Some(this) = weak.upgrade() else { break };
                    let ok = {
                        let _one_at_a_time = this.fetch_lock.lock().await;
                        // A fetch within the cooldown (a request's) stands for this one.
                        this.cooldown_left().is_some() || this.fetch_and_record().await.is_ok()
                    };
                    if ok {
                        this.source.refresh_every
                    } else {
                        this.source.unknown_kid_cooldown.min(this.source.refresh_every)
                    }
                };
                tokio::time::sleep(wait).await;
            }
        });
    }

    /// A token named a `kid` this set lacks: fetch again unless a fetch happened within the
    /// cooldown (waiting for one in flight).
    pub(crate) async fn refresh_for_unknown_key(self: &Arc<Self>) {
        self.start_refresher();
        let _one_at_a_time = self.fetch_lock.lock().await;
        if self.cooldown_left().is_some() {
            return;
        }
        let _ = self.fetch_and_record().await;
    }

    /// Fetches now, whatever the cooldown; the number of keys loaded.
    pub(crate) async fn refresh_now(self: &Arc<Self>) -> Result<usize, JwksError> {
        self.start_refresher();
        let _one_at_a_time = self.fetch_lock.lock().await;
        self.fetch_and_record().await
    }

    async fn fetch_and_record(&self) -> Result<usize, JwksError> {
        *self.last_attempt.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                let count = set.len();
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
                self.loaded.store(true, Ordering::Release);
                self.last_failed.store(false, Ordering::Release);
                tracing::debug!(url = %self.source.url, keys = count, "JWKS loaded");
                Ok(count)
            }
            Err(err) => {
                self.last_failed.store(true, Ordering::Release);
                tracing::warn!(error = %err, "JWKS fetch failed; keeping the current keys");
                Err(err)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, JwksError> {
        let url = self.source.url.to_string();
        let fetch_err =
            |e: reqwest::Error| JwksError::Fetch { url: url.clone(), reason: e.to_string() };
        let mut res = self
            .source
            .client
            .get(self.source.url.clone())
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(fetch_err)?;
        if res.status() != reqwest::StatusCode::OK {
            return Err(JwksError::Status { url, status: res.status().as_u16() });
        }
        let max = self.source.max_bytes;
        if res.content_length().is_some_and(|n| n > max as u64) {
            return Err(JwksError::TooLarge { url, max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(fetch_err)? {
            if body.len() + chunk.len() > max {
                return Err(JwksError::TooLarge { url, max });
            }
            body.extend_from_slice(&chunk);
        }
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|e| JwksError::Parse { url: url.clone(), reason: e.to_string() })?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err(JwksError::Parse { url, reason: "no `keys` array".into() });
        };
        let mut keys: Vec<VerifyingKey> = Vec::new();
        for (index, jwk) in entries.iter().enumerate() {
            let label = format!("{url}#{index}");
            let loaded = load_jwk(jwk, &self.source.algorithms, &label, JwkSource::Fetched)
                .and_then(|l| validate(&label, &l.key, &l.algorithms).map(|()| l));
            match loaded {
                Ok(l) if l.kid.is_some() && keys.iter().any(|k| k.kid == l.kid) => {
                    tracing::warn!(key = %label, "JWKS key with a repeated kid skipped");
                }
                Ok(l) => keys.push(VerifyingKey {
                    label,
                    kid: l.kid,
                    algorithms: l.algorithms,
                    key: l.key,
                }),
                Err(err) => tracing::debug!(error = %err, "JWKS key skipped"),
            }
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey { url });
        }
        KeySet::new(keys).map_err(|e| JwksError::Parse { url, reason: e.to_string() })
    }
}
