//! The reference API's users, kept in process memory or in Redis (shared by every instance), with
//! passwords stored as Argon2id hashes computed off the async threads.
//!
//! Logging in as a user that does not exist verifies the password against a dummy hash, so that
//! the answer and its timing are the same as for a wrong password: no username enumeration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use guard_core::redis::{RedisConnection, retry_reconnected};
use guard_core::{BreakerConfig, Problem, ProblemType, StoreBreakers, StoreError};
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};

/// A registered user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Random 128-bit id, hex.
    pub id: String,
    /// As registered (unique regardless of case).
    pub username: String,
    /// As registered.
    pub email: String,
    password_hash: String,
}

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Registration with a username that exists (any case).
    #[error("username taken")]
    Taken,
    /// Unknown user or wrong password: deliberately one answer.
    #[error("invalid username or password")]
    BadCredentials,
    /// The in-memory store is at its capacity.
    #[error("user store full")]
    Full,
    /// The store failed (Redis down).
    #[error("user store unavailable: {0}")]
    Store(String),
}

impl From<UserError> for Problem {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Taken => Problem::new(ProblemType::CONFLICT).with_detail("username taken"),
            UserError::BadCredentials => Problem::new(ProblemType::UNAUTHORIZED)
                .with_detail("invalid username or password")
                .with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="guard""#),
                ),
            UserError::Full | UserError::Store(_) => {
                Problem::store_unavailable(std::time::Duration::from_secs(1))
            }
        }
    }
}

/// Users in memory, found by (lower-case) name and by id alike without a scan: `/v1/me` looks
/// a user up by id on every request.
#[derive(Default)]
struct MemoryUsers {
    by_name: HashMap<String, User>,
    name_by_id: HashMap<String, String>,
}

enum Backend {
    Memory { users: Mutex<MemoryUsers>, capacity: usize },
    Redis(RedisUsers),
}

/// Users in Redis, every call under the same deadline and per-node breakers as the guards'.
struct RedisUsers {
    conn: RedisConnection,
    prefix: String,
    breakers: StoreBreakers,
}

impl RedisUsers {
    /// Runs `cmd` on the node serving `key`; with `idempotent`, a blip gets one more attempt
    /// (and a dropped connection one reconnection).
    async fn query<T: redis::FromRedisValue>(
        &self,
        key: &str,
        cmd: &redis::Cmd,
        idempotent: bool,
    ) -> Result<T, UserError> {
        let breaker = self.breakers.node(self.conn.node_of(key).as_deref());
        let call = || {
            let mut conn = self.conn.clone();
            async move { cmd.query_async::<T>(&mut conn).await }
        };
        let result = if idempotent {
            breaker.call_idempotent(|| retry_reconnected(call)).await
        } else {
            breaker.call(call()).await
        };
        result.map_err(|err| match err {
            // The breaker logged the outage once; a blip is worth a line of its own.
            StoreError::Unavailable { .. } => UserError::Store(err.to_string()),
            other => {
                tracing::warn!(error = %other, "user store call failed");
                UserError::Store(other.to_string())
            }
        })
    }
}

/// A store failure, with its cause for the logs.
fn store_err(err: impl std::fmt::Display) -> UserError {
    UserError::Store(err.to_string())
}

/// Where users live; cheap to clone.
#[derive(Clone)]
pub struct UserStore {
    backend: Arc<Backend>,
    dummy_hash: Arc<str>,
    /// Password verifications run (what makes an unknown user cost what a known one does).
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match *self.backend {
            Backend::Memory { .. } => "UserStore::Memory",
            Backend::Redis(_) => "UserStore::Redis",
        })
    }
}

/// Hashes off the async threads: Argon2id costs tens of milliseconds of CPU by design.
async fn hash(password: String) -> Result<String, UserError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(store_err)?
}

fn hash_now(password: &str) -> Result<String, UserError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(store_err)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(store_err)
}

async fn verify(password: String, stored: Arc<str>) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl UserStore {
    fn new(backend: Backend) -> Self {
        // Any valid hash of the same parameters gives unknown users the same verification cost.
        let dummy = hash_now("no user has this password, it only costs time").unwrap_or_default();
        Self { backend: Arc::new(backend), dummy_hash: dummy.into(), verifications: Arc::default() }
    }

    /// Users in this process only, at most `capacity` of them.
    pub fn memory(capacity: usize) -> Self {
        Self::new(Backend::Memory { users: Mutex::default(), capacity })
    }

    /// Users in Redis under `prefix`, shared by every instance, each call with `breaker`'s
    /// deadline and circuit breakers (one per Redis node).
    pub fn redis(conn: RedisConnection, prefix: impl Into<String>, breaker: BreakerConfig) -> Self {
        Self::new(Backend::Redis(RedisUsers {
            conn,
            prefix: prefix.into(),
            breakers: StoreBreakers::new("users", breaker),
        }))
    }

    /// Registers a user; the username is unique regardless of case.
    pub async fn create(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<User, UserError> {
        let user = User {
            id: random_id(),
            username: username.to_owned(),
            email: email.to_owned(),
            password_hash: hash(password.to_owned()).await?,
        };
        let key = username.to_ascii_lowercase();
        match &*self.backend {
            Backend::Memory { users, capacity } => {
                let mut users = users.lock().unwrap_or_else(PoisonError::into_inner);
                if users.by_name.contains_key(&key) {
                    return Err(UserError::Taken);
                }
                if users.by_name.len() >= *capacity {
                    return Err(UserError::Full);
                }
                users.name_by_id.insert(user.id.clone(), key.clone());
                users.by_name.insert(key, user.clone());
            }
            Backend::Redis(redis) => {
                if !put(redis, &key, &user, true).await? {
                    return Err(UserError::Taken);
                }
                let uid = format!("{}:uid:{}", redis.prefix, user.id);
                let mut cmd = redis::cmd("SET");
                cmd.arg(&uid).arg(&key);
                redis.query::<()>(&uid, &cmd, true).await?;
            }
        }
        Ok(user)
    }

    async fn by_name(&self, key: &str) -> Result<Option<User>, UserError> {
        match &*self.backend {
            Backend::Memory { users, .. } => {
                Ok(users.lock().unwrap_or_else(PoisonError::into_inner).by_name.get(key).cloned())
            }
            Backend::Redis(redis) => {
                let user_key = format!("{}:user:{key}", redis.prefix);
                let json: Option<String> =
                    redis.query(&user_key, redis::cmd("GET").arg(&user_key), true).await?;
                json.map(|j| serde_json::from_str(&j).map_err(store_err)).transpose()
            }
        }
    }

    /// The user with `id`, if any.
    pub async fn by_id(&self, id: &str) -> Result<Option<User>, UserError> {
        match &*self.backend {
            Backend::Memory { users, .. } => {
                let users = users.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(users.name_by_id.get(id).and_then(|key| users.by_name.get(key)).cloned())
            }
            Backend::Redis(redis) => {
                let uid = format!("{}:uid:{id}", redis.prefix);
                let key: Option<String> =
                    redis.query(&uid, redis::cmd("GET").arg(&uid), true).await?;
                match key {
                    Some(key) => self.by_name(&key).await,
                    None => Ok(None),
                }
            }
        }
    }

    /// The user if `password` is theirs; one answer, at one cost, for an unknown user and a
    /// wrong password.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<User, UserError> {
        let user = self.by_name(&username.to_ascii_lowercase()).await?;
        self.verified(user, password).await
    }

    /// The user `id` if `password` is theirs (one answer for an unknown id and a wrong password).
    pub async fn check_password(&self, id: &str, password: &str) -> Result<User, UserError> {
        let user = self.by_id(id).await?;
        self.verified(user, password).await
    }

    /// `user` if `password` is theirs; an unknown user costs one verification too.
    async fn verified(&self, user: Option<User>, password: &str) -> Result<User, UserError> {
        let stored: Arc<str> = match &user {
            Some(u) => u.password_hash.as_str().into(),
            None => self.dummy_hash.clone(),
        };
        self.verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let matches = verify(password.to_owned(), stored).await;
        match user {
            Some(user) if matches => Ok(user),
            _ => Err(UserError::BadCredentials),
        }
    }

    /// Stores a new password for `user`.
    pub async fn set_password(&self, user: User, new: &str) -> Result<User, UserError> {
        let updated = User { password_hash: hash(new.to_owned()).await?, ..user };
        let key = updated.username.to_ascii_lowercase();
        match &*self.backend {
            Backend::Memory { users, .. } => {
                let mut users = users.lock().unwrap_or_else(PoisonError::into_inner);
                users.by_name.insert(key, updated.clone());
            }
            Backend::Redis(redis) => {
                put(redis, &key, &updated, false).await?;
            }
        }
        Ok(updated)
    }
}

/// Writes `user` under its (lower-case) name; with `only_new`, only if the name is free (not
/// retried: a second `SET NX` would find the first one's user and answer "taken").
/// Whether it was written.
async fn put(
    redis: &RedisUsers,
    key: &str,
    user: &User,
    only_new: bool,
) -> Result<bool, UserError> {
    let json = serde_json::to_string(user).map_err(store_err)?;
    let user_key = format!("{}:user:{key}", redis.prefix);
    let mut cmd = redis::cmd("SET");
    cmd.arg(&user_key).arg(json);
    if only_new {
        cmd.arg("NX");
    }
    let written: Option<String> = redis.query(&user_key, &cmd, !only_new).await?;
    Ok(written.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifications(store: &UserStore) -> u64 {
        store.verifications.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn suite(store: UserStore, name: &str) {
        let user = store.create(name, "a@example.com", "correct horse battery").await.unwrap();
        assert!(matches!(
            store.create(&name.to_uppercase(), "b@example.com", "another password!").await,
            Err(UserError::Taken)
        ));
        assert_eq!(store.authenticate(name, "correct horse battery").await.unwrap(), user);
        // A wrong password and an unknown user cost the same: one Argon2 verification each
        // (the unknown one against a dummy hash), so neither answer nor timing tells them apart.
        let before = verifications(&store);
        assert!(matches!(store.authenticate(name, "wrong").await, Err(UserError::BadCredentials)));
        assert_eq!(verifications(&store), before + 1);
        assert!(matches!(
            store.authenticate("nobody-here", "wrong").await,
            Err(UserError::BadCredentials)
        ));
        assert_eq!(verifications(&store), before + 2);
        assert_eq!(store.by_id(&user.id).await.unwrap().unwrap().username, name);
        assert!(matches!(
            store.check_password(&user.id, "wrong").await,
            Err(UserError::BadCredentials)
        ));
        let checked = store.check_password(&user.id, "correct horse battery").await.unwrap();
        store.set_password(checked, "new password 123").await.unwrap();
        assert!(store.authenticate(name, "correct horse battery").await.is_err());
        assert!(store.authenticate(name, "new password 123").await.is_ok());
    }

    #[tokio::test]
    async fn memory_store() {
        suite(UserStore::memory(10), "alice").await;
        let full = UserStore::memory(1);
        full.create("one", "a@example.com", "password password").await.unwrap();
        assert!(matches!(
            full.create("two", "b@example.com", "password password").await,
            Err(UserError::Full)
        ));
    }

    #[tokio::test]
    async fn redis_store() {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let conn = guard_core::redis::connect(&url).await.unwrap();
        let prefix = format!("reference-api-test:{}:{}", std::process::id(), random_id());
        suite(UserStore::redis(conn, prefix, BreakerConfig::default()), "bob").await;
    }
}
