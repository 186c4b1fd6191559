//! JWKS sources against a tiny HTTP server started in the test on 127.0.0.1:0, which serves a
//! key set that the test swaps and counts the requests it gets.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use guard_jwt::{
    Algorithm, JwksConfig, Jwt, JwtError, JwtPolicy, KeyConfig, Rejection, TokenError,
};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `(status, body)` to every request; counts the requests.
struct JwksServer {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(body: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new((200, body.to_string())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (answer.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (a, h) = (a.clone(), h.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024
                    {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = a.lock().unwrap().clone();
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, answer, hits }
    }

    fn serve(&self, status: u16, body: Value) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The public JWK of a P-256 private key, with `kid`.
fn public_jwk(private_pem: &str, kid: &str) -> Value {
    let key = EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.into());
    serde_json::to_value(jwk).unwrap()
}

fn es256(private_pem: &str, kid: Option<&str>) -> String {
    let mut header = json!({"alg": "ES256"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    forge(
        header,
        good_claims(),
        &EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        Algorithm::ES256,
    )
}

fn source(url: &str, cooldown: Duration, refresh_every: Duration) -> JwksConfig {
    JwksConfig {
        unknown_kid_cooldown: cooldown,
        refresh_every,
        fetch_timeout: Duration::from_secs(2),
        ..JwksConfig::new(url, [Algorithm::ES256, Algorithm::RS256])
    }
}

fn guard(config: JwksConfig) -> Jwt<Claims> {
    JwtPolicy { jwks: vec![config], ..JwtPolicy::default() }.build().unwrap()
}

fn invalid(reason: TokenError) -> Rejection {
    Rejection::Invalid(reason)
}

#[tokio::test]
async fn keys_are_fetched_cached_refetched_on_unknown_kids_at_most_once_per_cooldown() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]})).await;
    let jwt = guard(source(&server.url, Duration::from_millis(400), Duration::from_secs(3600)));
    // The first request waits for the first fetch (started by build); one fetch only.
    assert!(jwt.authenticate(&es256(EC256_PRIVATE, Some("k1"))).await.is_ok());
    for _ in 0..5 {
        assert!(jwt.authenticate(&es256(EC256_PRIVATE, Some("k1"))).await.is_ok());
    }
    assert_eq!(server.hits(), 1, "cached");

    // An unknown kid: within the cooldown of the first fetch, no fetch at all.
    assert_eq!(
        jwt.authenticate(&es256(EC256B_PRIVATE, Some("k9"))).await.unwrap_err(),
        invalid(TokenError::UnknownKey)
    );
    assert_eq!(server.hits(), 1);
    // After the cooldown, one fetch; a flood of made-up kids right after costs nothing more.
    tokio::time::sleep(Duration::from_millis(450)).await;
    for i in 0..20 {
        let kid = format!("made-up-{i}");
        assert_eq!(
            jwt.authenticate(&es256(EC256B_PRIVATE, Some(&kid))).await.unwrap_err(),
            invalid(TokenError::UnknownKey)
        );
    }
    assert_eq!(server.hits(), 2);

    // Rotation: the new key is found on the first token naming it (after the cooldown).
    server.serve(200, json!({"keys": [public_jwk(EC256B_PRIVATE, "k2")]}));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
    assert_eq!(server.hits(), 3);
    // The old key left the set, so its tokens are refused now.
    assert_eq!(
        jwt.authenticate(&es256(EC256_PRIVATE, Some("k1"))).await.unwrap_err(),
        invalid(TokenError::UnknownKey)
    );

    // The source fails: the current keys stay in use.
    server.serve(500, json!({"error": "down"}));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        jwt.authenticate(&es256(EC256_PRIVATE, Some("k3"))).await.unwrap_err(),
        invalid(TokenError::UnknownKey)
    );
    assert_eq!(server.hits(), 4);
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
    // A set without usable keys (only an HMAC secret, refused from a JWKS) also keeps them.
    server.serve(200, json!({"keys": [{"kty": "oct", "kid": "k2", "k": b64(SECRET)}]}));
    assert!(jwt.refresh_keys().await.is_err());
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
}

#[tokio::test]
async fn the_set_is_refreshed_in_the_background() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]})).await;
    let jwt = guard(source(&server.url, Duration::from_millis(50), Duration::from_millis(200)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.hits(), 1, "fetched at build");
    server.serve(200, json!({"keys": [public_jwk(EC256B_PRIVATE, "k2")]}));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(server.hits() >= 3, "{}", server.hits());
    // The background refresh brought k2 without any request asking for it.
    let hits = server.hits();
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
    assert!(server.hits() <= hits + 1);
    drop(jwt);
    // The refresh task ends with the last guard.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_drop = server.hits();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(server.hits(), after_drop);
}

#[tokio::test]
async fn tokens_without_kid_try_the_keys_of_their_algorithm_and_static_keys_come_first() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]})).await;
    let jwt: Jwt<Claims> = JwtPolicy {
        keys: vec![KeyConfig::hs256(SECRET).with_kid("local")],
        jwks: vec![source(&server.url, Duration::from_millis(100), Duration::from_secs(3600))],
        ..JwtPolicy::default()
    }
    .build()
    .unwrap();
    assert_eq!(jwt.refresh_keys().await.unwrap(), 1);
    assert!(jwt.authenticate(&es256(EC256_PRIVATE, None)).await.is_ok());
    assert!(jwt.authenticate(&hs256(good_claims())).await.is_ok());
    assert_eq!(
        jwt.authenticate(&es256(EC256B_PRIVATE, None)).await.unwrap_err(),
        invalid(TokenError::BadSignature)
    );
    // The kid of a JWKS key with the algorithm of another family: refused.
    let confused =
        forge(json!({"alg": "HS256", "kid": "k1"}), good_claims(), &hs(SECRET), Algorithm::HS256);
    assert_eq!(
        jwt.authenticate(&confused).await.unwrap_err(),
        invalid(TokenError::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn a_source_never_reached_is_a_503_not_a_401() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let jwt = guard(source(
        &format!("http://127.0.0.1:{port}/jwks"),
        Duration::from_millis(100),
        Duration::from_secs(3600),
    ));
    let err = jwt.authenticate(&es256(EC256_PRIVATE, Some("k1"))).await.unwrap_err();
    assert!(matches!(err, Rejection::Unavailable { .. }), "{err:?}");
    assert_eq!(jwt.problem(&err).status, 503);
    assert!(jwt.refresh_keys().await.is_err());
}

#[tokio::test]
async fn sources_that_cannot_work_are_refused_at_build() {
    let build = |config: JwksConfig| {
        JwtPolicy { jwks: vec![config], ..JwtPolicy::default() }.build::<Claims>()
    };
    let algs = [Algorithm::ES256];
    let https = build(JwksConfig::new("https://id.example/jwks", algs));
    if cfg!(feature = "jwks-rustls") {
        assert!(https.is_ok());
    } else {
        assert!(matches!(https, Err(JwtError::InvalidJwks { .. })), "https needs the TLS feature");
    }
    let err = build(JwksConfig::new("http://id.example/jwks", algs)).unwrap_err();
    assert!(matches!(err, JwtError::InvalidJwks { .. }), "clear text to a remote host: {err}");
    assert!(
        build(JwksConfig {
            allow_insecure_http: true,
            ..JwksConfig::new("http://id.example/jwks", algs)
        })
        .is_ok()
    );
    assert!(build(JwksConfig::new("http://[::1]:9/jwks", algs)).is_ok());
    assert!(build(JwksConfig::new("http://localhost:9/jwks", algs)).is_ok());
    assert!(matches!(
        build(JwksConfig::new("http://localhost:9/jwks", [Algorithm::HS256])),
        Err(JwtError::InvalidJwks { .. })
    ));
    assert!(matches!(
        build(JwksConfig::new("http://localhost:9/jwks", [])),
        Err(JwtError::InvalidJwks { .. })
    ));
    assert!(matches!(
        build(JwksConfig::new("file:///etc/passwd", algs)),
        Err(JwtError::InvalidJwks { .. })
    ));
}
