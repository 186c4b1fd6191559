//! JWKS sources against a tiny HTTP server started in the test on 127.0.0.1:0, which serves a
//! key set that the test swaps and counts the requests it gets.
//!
//! The tests that wait for cooldowns and refresh periods run on a paused Tokio clock (the
//! crate measures them with `tokio::time::Instant`) and move it with `tokio::time::advance`, so
//! they take no real time for those waits. Fetches still go over real sockets: the server runs
//! as a blocking task, and while one runs the paused clock does not auto-advance (see
//! `tokio::time::pause`), so no timer fires behind the test's back while a fetch is in flight.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use guard_jwt::{
    Algorithm, JwksConfig, Jwt, JwtError, JwtPolicy, KeyConfig, Rejection, TokenError,
};
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Value, json};

/// Serves `(status, body)` to every request and counts the requests, one connection at a time,
/// on a blocking task of the test's runtime; stops when dropped.
struct JwksServer {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl JwksServer {
    fn start(body: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new((200, body.to_string())));
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, h, s) = (answer.clone(), hits.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((socket, _)) => answer_one(socket, &a, &h),
                    Err(err) if err.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(err) => panic!("accept: {err}"),
                }
            }
        });
        Self { url, answer, hits, stop }
    }

    fn serve(&self, status: u16, body: Value) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits, in real time (5 s at most), until `n` requests in all have come.
    async fn wait_for_hits(&self, n: usize) {
        let started = Instant::now();
        while self.hits() < n {
            assert!(started.elapsed() < Duration::from_secs(5), "{} of {n} requests", self.hits());
            real_time(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request head and answers it, then closes the connection.
fn answer_one(mut socket: TcpStream, answer: &Mutex<(u16, String)>, hits: &AtomicUsize) {
    socket.set_nonblocking(false).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let (status, body) = answer.lock().unwrap().clone();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes());
    let _ = socket.write_all(body.as_bytes());
    let _ = socket.shutdown(Shutdown::Write);
}

/// Lets `duration` of real time pass while the runtime goes on with its tasks and sockets (the
/// paused clock stands still meanwhile).
async fn real_time(duration: Duration) {
    tokio::task::spawn_blocking(move || std::thread::sleep(duration)).await.unwrap();
}

/// Waits until the fetch in flight (one whose request came, so within its cooldown) is done: a
/// token with an unknown `kid` waits for it, and fetches nothing itself within the cooldown.
async fn fetch_done(jwt: &Jwt<Claims>, server: &JwksServer) {
    let hits = server.hits();
    assert_eq!(
        jwt.authenticate(&es256(EC256B_PRIVATE, Some("no-such-kid"))).await.unwrap_err(),
        invalid(TokenError::UnknownKey)
    );
    assert_eq!(server.hits(), hits, "no fetch within the cooldown");
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

#[tokio::test(start_paused = true)]
async fn keys_are_fetched_cached_refetched_on_unknown_kids_at_most_once_per_cooldown() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]}));
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
    tokio::time::advance(Duration::from_millis(450)).await;
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
    tokio::time::advance(Duration::from_millis(450)).await;
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
    assert_eq!(server.hits(), 3);
    // The old key left the set, so its tokens are refused now.
    assert_eq!(
        jwt.authenticate(&es256(EC256_PRIVATE, Some("k1"))).await.unwrap_err(),
        invalid(TokenError::UnknownKey)
    );

    // The source fails: the current keys stay in use.
    server.serve(500, json!({"error": "down"}));
    tokio::time::advance(Duration::from_millis(450)).await;
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

#[tokio::test(start_paused = true)]
async fn the_set_is_refreshed_in_the_background() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]}));
    let jwt = guard(source(&server.url, Duration::from_millis(50), Duration::from_millis(200)));
    // Build started the first fetch, without any request asking for it.
    server.wait_for_hits(1).await;
    fetch_done(&jwt, &server).await;
    tokio::time::advance(Duration::from_millis(100)).await;
    real_time(Duration::from_millis(50)).await;
    assert_eq!(server.hits(), 1, "fetched at build");
    server.serve(200, json!({"keys": [public_jwk(EC256B_PRIVATE, "k2")]}));
    // One fetch every refresh period.
    for hits in 2..=4 {
        tokio::time::advance(Duration::from_millis(200)).await;
        server.wait_for_hits(hits).await;
        fetch_done(&jwt, &server).await;
    }
    tokio::time::advance(Duration::from_millis(100)).await; // 700 ms after the swap
    real_time(Duration::from_millis(50)).await;
    assert_eq!(server.hits(), 4);
    // The background refresh brought k2 without any request asking for it.
    let hits = server.hits();
    assert!(jwt.authenticate(&es256(EC256B_PRIVATE, Some("k2"))).await.is_ok());
    assert_eq!(server.hits(), hits);
    drop(jwt);
    // The refresh task ends with the last guard: its next periods fetch nothing.
    for _ in 0..3 {
        tokio::time::advance(Duration::from_millis(200)).await;
        real_time(Duration::from_millis(50)).await;
        assert_eq!(server.hits(), hits);
    }
}

#[tokio::test]
async fn tokens_without_kid_try_the_keys_of_their_algorithm_and_static_keys_come_first() {
    let server = JwksServer::start(json!({"keys": [public_jwk(EC256_PRIVATE, "k1")]}));
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
