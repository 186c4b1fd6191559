//! The reference API's contract (`docs/reference-api.md`), row by row, against each example
//! server started as a real process: the same list for both frameworks, in memory and with
//! Redis, and both frameworks must answer alike.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard_tests::redis_server::RedisServer;
use guard_tests::{EXAMPLES, ExampleServer, redis_url, unique};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "contract-test-secret-that-is-long-enough-0123456789";
const PASSWORD: &str = "correct horse battery";

/// What one row saw, reduced to what must be the same whichever framework answered.
type Transcript = Vec<(String, u16, Value)>;

struct Contract {
    server: ExampleServer,
    client: reqwest::Client,
    transcript: Transcript,
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn forge(header: Value, claims: Value) -> String {
    let b64 = |s: String| URL_SAFE_NO_PAD.encode(s);
    let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

/// Volatile values (ids, tokens, generated names) replaced, so two servers' answers compare.
fn normalized(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        for key in ["id", "access_token", "username"] {
            if object.contains_key(key) {
                object.insert(key.into(), Value::from("<volatile>"));
            }
        }
    }
    body
}

impl Contract {
    async fn start(name: &'static str, env: &[(&str, &str)]) -> Self {
        // The default store deadline and breaker: what users run.
        let mut all = vec![("JWT_SECRET", SECRET), ("AUTH_RATE_LIMIT", "100000/60s")];
        all.extend_from_slice(env);
        Self {
            server: ExampleServer::start(name, &all).await,
            client: reqwest::Client::new(),
            transcript: Vec::new(),
        }
    }

    /// Sends a request and checks what every answer must carry; records it in the transcript.
    async fn call(
        &mut self,
        label: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.request(method, self.server.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        self.read(label, res).await
    }

    async fn read(
        &mut self,
        label: &str,
        res: Response,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let status = res.status();
        let headers = res.headers().clone();
        let name = self.server.name;
        // Every answer: the security headers, a request id, and problem+json for every error.
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name} {label}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{name} {label}"
        );
        assert!(headers.contains_key("x-request-id"), "{name} {label}");
        let text = res.text().await.unwrap();
        let body: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(
                headers["content-type"], "application/problem+json",
                "{name} {label}: {text}"
            );
            assert_eq!(body["status"], status.as_u16(), "{name} {label}: {text}");
            assert!(
                body["type"].is_string() && body["title"].is_string(),
                "{name} {label}: {text}"
            );
        }
        let mut seen = normalized(body.clone());
        if let Some(www) = headers.get("www-authenticate") {
            seen = json!({"body": seen, "www-authenticate": www.to_str().unwrap()});
        }
        self.transcript.push((label.to_owned(), status.as_u16(), seen));
        (status, headers, body)
    }

    async fn register(&mut self, username: &str) -> Value {
        let body = json!({"username": username, "email": "user@example.com", "password": PASSWORD});
        let (status, _, body) =
            self.call("register", Method::POST, "/v1/auth/register", None, Some(body)).await;
        assert_eq!(status, 201, "{}: {body}", self.server.name);
        body
    }

    async fn login(&mut self, username: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({"username": username, "password": password});
        let (status, _, body) =
            self.call("login", Method::POST, "/v1/auth/login", None, Some(body)).await;
        (status, body)
    }

    async fn token(&mut self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, 200, "{}: {body}", self.server.name);
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Every row of the contract's route table and error list, in order, on one server.
async fn run_rows(c: &mut Contract) {
    let name = c.server.name;

    // GET /health
    let (status, _, body) = c.call("health", Method::GET, "/health", None, None).await;
    assert_eq!((status.as_u16(), body), (200, json!({"status": "ok"})), "{name}");

    // 404, 405
    let (status, _, _) = c.call("unknown route", Method::GET, "/v1/nowhere", None, None).await;
    assert_eq!(status, 404, "{name}");
    let (status, headers, _) =
        c.call("wrong method", Method::GET, "/v1/auth/login", None, None).await;
    assert_eq!(status, 405, "{name}");
    assert_eq!(headers["allow"], "POST", "{name}");

    // POST /v1/auth/register: 201, 409, 400, 413, 415, 422.
    let username = unique("u");
    let created = c.register(&username).await;
    assert_eq!(created["username"], username.as_str(), "{name}");
    assert_eq!(created["email"], "user@example.com", "{name}");
    assert_eq!(
        created.as_object().unwrap().len(),
        3,
        "{name}: only id, username, email: {created}"
    );
    let again = json!({"username": username.to_uppercase(), "email": "x@example.com", "password": PASSWORD});
    let (status, _, _) =
        c.call("register taken", Method::POST, "/v1/auth/register", None, Some(again)).await;
    assert_eq!(status, 409, "{name}");
    for (label, content_type, payload, expected) in [
        ("malformed json", "application/json", "{\"username\": ".to_owned(), 400),
        ("not json", "text/plain", "username=x".to_owned(), 415),
        (
            "too large",
            "application/json",
            format!("{{\"username\": \"{}\"}}", "x".repeat(16 * 1024 + 1)),
            413,
        ),
    ] {
        let res = c
            .client
            .post(c.server.url("/v1/auth/register"))
            .header("content-type", content_type)
            .body(payload)
            .send()
            .await
            .unwrap();
        let (status, _, _) = c.read(label, res).await;
        assert_eq!(status, expected, "{name} {label}");
    }
    let invalid =
        json!({"username": "x!", "email": "not-an-email", "password": "short", "role": "admin"});
    let (status, _, body) =
        c.call("register invalid", Method::POST, "/v1/auth/register", None, Some(invalid)).await;
    assert_eq!(status, 422, "{name}");
    let mut pointers: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    pointers.dedup();
    assert_eq!(
        pointers,
        ["/email", "/password", "/role", "/username"],
        "{name}: every failing field: {body}"
    );

    // POST /v1/auth/login: 200 with a bearer token; one 401 for a wrong password and an unknown
    // user.
    let (status, body) = c.login(&username, PASSWORD).await;
    assert_eq!(status, 200, "{name}");
    assert_eq!(body["token_type"], "Bearer", "{name}");
    assert_eq!(body["expires_in"], 900, "{name}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    // One answer for a wrong password and an unknown user. (That both cost one Argon2
    // verification, so their timing matches too, is counted in reference-api's user store test:
    // a wall-clock ratio here would flake on a loaded machine.)
    let (status, wrong) = c.login(&username, "wrong password!").await;
    assert_eq!(status, 401, "{name}");
    let (status, unknown) = c.login(&unique("nobody"), "wrong password!").await;
    assert_eq!(status, 401, "{name}");
    assert_eq!(wrong, unknown, "{name}: one answer for both");

    // GET /v1/me: 200 with the token; 401 with the bare challenge without one; 401
    // invalid_token for a malformed, forged, refused-algorithm, expired or not-yet-valid token.
    let (status, headers, me) = c.call("me", Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(status, 200, "{name}");
    assert_eq!(me, created, "{name}");
    assert!(
        headers.contains_key("ratelimit-policy") && headers.contains_key("ratelimit"),
        "{name}"
    );
    let (status, headers, _) = c.call("me without token", Method::GET, "/v1/me", None, None).await;
    assert_eq!(status, 401, "{name}");
    assert_eq!(headers["www-authenticate"], r#"Bearer realm="guard""#, "{name}");
    let sub = created["id"].as_str().unwrap();
    let t = now();
    let bad_tokens = [
        ("malformed", "not.a.token".to_owned()),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                URL_SAFE_NO_PAD.encode(json!({"sub": sub, "exp": t + 600}).to_string())
            ),
        ),
        (
            "expired",
            forge(
                json!({"alg": "HS256"}),
                json!({"sub": sub, "jti": "j1", "iat": t - 1200, "exp": t - 600}),
            ),
        ),
        (
            "not yet valid",
            forge(
                json!({"alg": "HS256"}),
                json!({"sub": sub, "jti": "j2", "iat": t, "nbf": t + 600, "exp": t + 900}),
            ),
        ),
        ("badly signed", format!("{}x", &token[..token.len() - 1])),
        // Well signed and current, but not issued for this API (RFC 8725 §3.8-3.9).
        (
            "no issuer or audience",
            forge(
                json!({"alg": "HS256"}),
                json!({"sub": sub, "jti": "j3", "iat": t, "iat_ms": t * 1000, "exp": t + 600}),
            ),
        ),
        (
            "another audience",
            forge(
                json!({"alg": "HS256"}),
                json!({"sub": sub, "jti": "j4", "iat": t, "iat_ms": t * 1000, "exp": t + 600,
                       "iss": "guard-reference-api", "aud": "some-other-api"}),
            ),
        ),
        (
            "another issuer",
            forge(
                json!({"alg": "HS256"}),
                json!({"sub": sub, "jti": "j5", "iat": t, "iat_ms": t * 1000, "exp": t + 600,
                       "iss": "https://evil.example", "aud": "guard-reference-api:v1"}),
            ),
        ),
    ];
    // The control: the same claims with this API's issuer and audience pass.
    let good = forge(
        json!({"alg": "HS256"}),
        json!({"sub": sub, "jti": "j6", "iat": t, "iat_ms": t * 1000, "exp": t + 600,
               "iss": "guard-reference-api", "aud": "guard-reference-api:v1"}),
    );
    assert_eq!(
        c.call("forged for this API", Method::GET, "/v1/me", Some(&good), None).await.0,
        200,
        "{name}"
    );
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some("guard-reference-api"), Some("guard-reference-api:v1")),
        "{name}"
    );
    for (label, bad) in bad_tokens {
        let (status, headers, _) = c.call(label, Method::GET, "/v1/me", Some(&bad), None).await;
        assert_eq!(status, 401, "{name} {label}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="guard", error="invalid_token""#),
            "{name} {label}: {challenge}"
        );
    }

    // POST /v1/auth/logout: 204, and the token is refused from now on.
    let (status, _, _) =
        c.call("logout", Method::POST, "/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, 204, "{name}");
    let (status, headers, _) =
        c.call("me after logout", Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(status, 401, "{name}");
    assert!(
        headers["www-authenticate"].to_str().unwrap().contains(r#"error="invalid_token""#),
        "{name}"
    );

    // POST /v1/auth/password: 401 for a wrong current password, 422 for a short new one, 204;
    // then every earlier token is refused and only the new password logs in.
    let first = c.token(&username, PASSWORD).await;
    let second = c.token(&username, PASSWORD).await;
    let wrong_current =
        json!({"current_password": "not it at all", "new_password": "a brand new password"});
    let (status, _, _) = c
        .call(
            "password wrong",
            Method::POST,
            "/v1/auth/password",
            Some(&first),
            Some(wrong_current),
        )
        .await;
    assert_eq!(status, 401, "{name}");
    let short = json!({"current_password": PASSWORD, "new_password": "short"});
    let (status, _, _) = c
        .call("password short", Method::POST, "/v1/auth/password", Some(&first), Some(short))
        .await;
    assert_eq!(status, 422, "{name}");
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new password"});
    let (status, _, _) =
        c.call("password", Method::POST, "/v1/auth/password", Some(&first), Some(change)).await;
    assert_eq!(status, 204, "{name}");
    for old in [&first, &second] {
        let (status, _, _) = c.call("old token", Method::GET, "/v1/me", Some(old), None).await;
        assert_eq!(status, 401, "{name}");
    }
    let (status, _) = c.login(&username, PASSWORD).await;
    assert_eq!(status, 401, "{name}");
    let fresh = c.token(&username, "a brand new password").await;
    let (status, _, _) =
        c.call("me with new token", Method::GET, "/v1/me", Some(&fresh), None).await;
    assert_eq!(status, 200, "{name}: a token issued right after the change works");
}

/// 429 on both limited groups: per client IP on /v1/auth, per user on /v1/me.
async fn run_limit_rows(c: &mut Contract) {
    let name = c.server.name;
    let username = unique("l");
    c.register(&username).await;
    let token = c.token(&username, PASSWORD).await;
    // The auth limit (3 here) is spent: register, login; one more, then 429.
    let (status, _) = c.login(&username, "wrong password!").await;
    assert_eq!(status, 401, "{name}");
    let (status, headers, _) =
        c.call("auth limited", Method::POST, "/v1/auth/login", None, Some(json!({}))).await;
    assert_eq!(status, 429, "{name}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{name}: {retry}");
    assert_eq!(headers["ratelimit-policy"], r#""auth";q=3;w=60"#, "{name}");
    // The per-user API limit (2 here).
    for _ in 0..2 {
        let (status, _, _) = c.call("me", Method::GET, "/v1/me", Some(&token), None).await;
        assert_eq!(status, 200, "{name}");
    }
    let (status, headers, _) =
        c.call("api limited", Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(status, 429, "{name}");
    assert!(headers.contains_key("retry-after") && headers.contains_key("ratelimit"), "{name}");
}

async fn contract(mode: &str) {
    let mut transcripts = Vec::new();
    for name in EXAMPLES {
        let url = redis_url();
        let prefix = unique("contract");
        let mut env = vec![];
        if mode == "redis" {
            env.extend([("REDIS_URL", url.as_str()), ("REDIS_PREFIX", prefix.as_str())]);
        }
        let mut c = Contract::start(name, &env).await;
        run_rows(&mut c).await;
        let mut limited_env = env.clone();
        limited_env.extend([("AUTH_RATE_LIMIT", "3/60s"), ("API_RATE_LIMIT", "2/60s")]);
        let limited_prefix = unique("limits");
        if mode == "redis" {
            limited_env.push(("REDIS_PREFIX", limited_prefix.as_str()));
        }
        let mut limited = Contract::start(name, &limited_env).await;
        run_limit_rows(&mut limited).await;
        c.transcript.extend(limited.transcript);
        transcripts.push(c.transcript);
    }
    let (actix, axum) = (&transcripts[0], &transcripts[1]);
    assert_eq!(actix.len(), axum.len());
    for (a, b) in actix.iter().zip(axum) {
        assert_eq!(a, b, "actix-api and axum-api answer differently");
    }
}

#[tokio::test]
async fn the_contract_holds_in_memory_on_both_frameworks() {
    contract("memory").await;
}

#[tokio::test]
async fn the_contract_holds_with_redis_on_both_frameworks() {
    contract("redis").await;
}

/// 503 with Retry-After when a store the request needs is down (the policies fail closed), and
/// recovery without a restart when it returns.
#[tokio::test]
async fn a_store_outage_is_a_503_and_heals_by_itself() {
    for name in EXAMPLES {
        let mut redis = RedisServer::start();
        let url = redis.url();
        let mut c = Contract::start(name, &[("REDIS_URL", &url)]).await;
        let username = unique("o");
        c.register(&username).await;
        let token = c.token(&username, PASSWORD).await;
        redis.kill();
        for (label, method, path, auth) in [
            ("me while down", Method::GET, "/v1/me", Some(token.as_str())),
            ("login while down", Method::POST, "/v1/auth/login", None),
        ] {
            let started = Instant::now();
            let (status, headers, _) = c.call(label, method, path, auth, Some(json!({}))).await;
            assert_eq!(status, 503, "{name} {label}");
            assert!(headers.contains_key("retry-after"), "{name} {label}");
            // A refused connection is an outage at once: no wait for the deadline, and far
            // below the Redis client's own 1 s timeouts that would bound it otherwise.
            assert!(
                started.elapsed() < Duration::from_millis(750),
                "{name} {label}: {:?}",
                started.elapsed()
            );
        }
        redis.restart();
        // The users were in the killed server; the token's revocation check and the limits work
        // again as soon as the breaker's probe succeeds.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (status, _, _) =
                c.call("me after recovery", Method::GET, "/v1/me", Some(&token), None).await;
            if status != 503 {
                // The user is gone with the data, so the token's subject is unknown: 401.
                assert_eq!(status, 401, "{name}");
                break;
            }
            assert!(Instant::now() < deadline, "{name}: no recovery within 5 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
