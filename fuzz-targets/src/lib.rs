//! The bodies of guard's fuzz targets: each takes arbitrary bytes, feeds them to a parser that
//! meets client input (or configuration), and checks the invariants that must hold whatever the
//! input. A panic is a finding.
//!
//! Two drivers run the same bodies:
//! - `fuzz/` (cargo-fuzz, libFuzzer, nightly): `cargo xtask fuzz [seconds]`;
//! - `tests/fallback.rs` (stable, in every `cargo test`): the committed seed corpora under
//!   `corpus/<target>/`, then proptest's arbitrary and mutated inputs.
//!
//! ```
//! guard_fuzz_targets::forwarded(b"203.0.113.7, 10.0.0.2\xff for=\"[2001:db8::1]:4711\"");
//! ```

use std::net::SocketAddr;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard_core::{
    Decision, ForwardedHeader, Guard, GuardRequest, GuardResponse, HttpRequestHead, TrustedProxies,
};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use serde_json::Value;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by name: what the drivers iterate over.
pub const TARGETS: &[(&str, Target)] = &[
    ("jwt_token", jwt_token),
    ("jwt_claims", jwt_claims),
    ("cors_request", cors_request),
    ("forwarded", forwarded),
    ("ratelimit_key", ratelimit_key),
    ("json_body", json_body),
    ("policies", policies),
];

/// A runtime for the guards' async checks (their timers need one).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|rt| rt.block_on(future))
}

/// Splits `data` at the first `0xff` bytes into up to `N` parts (missing parts are empty).
fn parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&[][..]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i == N - 1 {
            *slot = rest;
            break;
        }
        match rest.iter().position(|b| *b == 0xff) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &[];
            }
        }
    }
    out
}

const SECRET: &str = "fuzz-secret-that-is-long-enough-0123456789";
const ISSUER: &str = "https://id.example";
const AUDIENCE: &str = "api";

static JWT: LazyLock<guard_jwt::Jwt<Value>> = LazyLock::new(|| {
    guard_jwt::JwtPolicy {
        issuers: vec![ISSUER.into()],
        audiences: vec![AUDIENCE.into()],
        ..guard_jwt::JwtPolicy::hs256(SECRET)
    }
    .build::<Value>()
    .expect("a valid policy")
    .with_revocation_store(guard_jwt::MemoryRevocationStore::new(1024))
});

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token as a client sends it: through the `Authorization` header and the bearer parser, then
/// `authenticate`. Random bytes never pass the signature: an accepted token is a finding.
pub fn jwt_token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let direct = block_on(JWT.authenticate(&text));
    assert!(direct.is_err(), "a token never signed with the key was accepted: {text:?}");
    let mut header = b"Bearer ".to_vec();
    header.extend_from_slice(data);
    for value in [data, &header[..]] {
        let Ok(value) = HeaderValue::from_bytes(value) else { continue };
        let (parts, ()) = Request::get("/")
            .header("authorization", value)
            .body(())
            .expect("request")
            .into_parts();
        let head = HttpRequestHead::new(&parts, None);
        let mut req = GuardRequest::new(&head);
        match block_on(JWT.check(&mut req)) {
            Decision::Continue(()) => panic!("an unsigned token passed the guard: {text:?}"),
            Decision::Respond(res) => assert_eq!(res.status(), StatusCode::UNAUTHORIZED),
        }
    }
}

/// A header and claims of the attacker's choosing, *validly signed* with the key (as if the key
/// had signed anything it was given): what reaches the header and claims checks. Whatever passes
/// must satisfy the policy: HS256, this issuer and audience, a live `exp`, a `jti`, `sub`, `iat`.
pub fn jwt_claims(data: &[u8]) {
    let [header, claims] = parts::<2>(data);
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let Ok(signature) =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
    else {
        return;
    };
    let token = format!("{message}.{signature}");
    let Ok(verified) = block_on(JWT.authenticate(&token)) else { return };
    let header: Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(header["alg"], "HS256", "{header}");
    let claims: Value = serde_json::from_slice(claims).expect("accepted claims are JSON");
    assert_eq!(claims["iss"], ISSUER, "{claims}");
    let aud_ok = claims["aud"] == AUDIENCE
        || claims["aud"].as_array().is_some_and(|a| a.iter().any(|v| v == AUDIENCE));
    assert!(aud_ok, "{claims}");
    let exp = claims["exp"].as_f64().expect("an accepted exp is a number");
    assert!(exp + 31.0 >= now_secs() as f64, "expired token accepted: {claims}");
    assert!(verified.token.jti.is_some() && verified.token.sub.is_some(), "{claims}");
}

static CORS: LazyLock<guard_cors::Cors> = LazyLock::new(|| {
    guard_cors::CorsPolicy::new()
        .allow_origins(["https://app.example.com", "http://localhost:3000"])
        .allow_subdomains_of(["https://*.example.org"])
        .allow_credentials(true)
        .build()
        .expect("a valid policy")
});

/// A cross-origin request (simple or preflight) with an arbitrary `Origin`, method, requested
/// method and requested headers. Whatever is allowed is allowed exactly: the allowed origin is
/// the request's own and on the allowlist, never `*` with credentials.
pub fn cors_request(data: &[u8]) {
    let [method, origin, wanted_method, wanted_headers] = parts::<4>(data);
    let method = match method.first() {
        Some(b) if b % 3 == 0 => Method::OPTIONS,
        Some(b) if b % 3 == 1 => Method::POST,
        _ => Method::GET,
    };
    let mut builder = Request::builder().method(method).uri("/v1/me");
    for (name, value) in [
        ("origin", origin),
        ("access-control-request-method", wanted_method),
        ("access-control-request-headers", wanted_headers),
    ] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(()) else { return };
    let (parts, ()) = request.into_parts();
    let head = HttpRequestHead::new(&parts, None);
    let mut req = GuardRequest::new(&head);
    let res = match block_on(CORS.check(&mut req)) {
        Decision::Respond(res) => res,
        Decision::Continue(state) => {
            let mut res = GuardResponse::new(StatusCode::OK);
            CORS.respond(state, &mut res);
            res
        }
    };
    if let Some(allowed) = res.headers().get("access-control-allow-origin") {
        assert_ne!(allowed, "*", "a wildcard with credentials");
        assert_eq!(Some(allowed), parts.headers.get("origin"), "not the request's own origin");
        // Origins match in their normal form (lower case, no default port), as browsers send
        // them; a client that spells one otherwise gets its own spelling back, harmlessly.
        let allowed = allowed.to_str().expect("an allowed origin is text").to_ascii_lowercase();
        let allowed = match allowed.strip_suffix(":443") {
            Some(a) if a.starts_with("https://") => a,
            _ => allowed.as_str(),
        };
        let allowed = match allowed.strip_suffix(":80") {
            Some(a) if a.starts_with("http://") => a,
            _ => allowed,
        };
        let listed = ["https://app.example.com", "http://localhost:3000"].contains(&allowed)
            || allowed.strip_prefix("https://").is_some_and(|host| {
                host.ends_with(".example.org") && !host.contains(['/', '@', ':'])
            });
        assert!(listed, "allowed an origin off the allowlist: {allowed:?}");
    }
}

static PROXIES: LazyLock<[TrustedProxies; 2]> = LazyLock::new(|| {
    let networks = TrustedProxies::parse("10.0.0.0/8, 2001:db8::/32").expect("valid networks");
    [networks.clone(), networks.with_header(ForwardedHeader::Forwarded)]
});

/// `X-Forwarded-For` and `Forwarded` from a trusted peer, and from an untrusted one. The client
/// is the peer itself unless the peer is trusted, and never an address the headers do not name.
pub fn forwarded(data: &[u8]) {
    let [xff, fwd] = parts::<2>(data);
    let mut builder = Request::get("/");
    for (name, value) in [("x-forwarded-for", xff), ("forwarded", fwd)] {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(()) else { return };
    let (parts, ()) = request.into_parts();
    let text = format!("{},{}", String::from_utf8_lossy(xff), String::from_utf8_lossy(fwd))
        .to_ascii_lowercase();
    for peer in ["10.0.0.1:443", "203.0.113.9:50000"] {
        let peer: SocketAddr = peer.parse().expect("an address");
        let head = HttpRequestHead::new(&parts, Some(peer));
        for proxies in PROXIES.iter() {
            let client = proxies.client_ip(&head).expect("a peer address gives a client");
            if !proxies.is_trusted(peer.ip()) {
                assert_eq!(client, peer.ip(), "an untrusted peer's header was believed");
            } else if client != peer.ip() {
                // The address must be one the headers name (IPv4-mapped ones unwrapped).
                assert!(named_in(&text).contains(&client), "{client} is named nowhere in {text:?}");
            }
        }
    }
}

/// Every address written in `text`, bare, with a port or in brackets, IPv4-mapped ones also as
/// IPv4.
fn named_in(text: &str) -> Vec<std::net::IpAddr> {
    let mut named = Vec::new();
    for token in text.split([',', ';', ' ', '\t', '"', '=']) {
        let token = token.trim();
        // Bare, `v4:port`, `[v6]`, `[v6]:port`, and the lenient spellings the parser accepts
        // (a bracket left open): try the token without brackets, then without a port.
        let unbracketed: String = token.chars().filter(|c| !matches!(c, '[' | ']')).collect();
        let candidates = [
            token.parse::<std::net::IpAddr>().ok(),
            token.parse::<SocketAddr>().ok().map(|a| a.ip()),
            unbracketed.parse().ok(),
            unbracketed.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()),
            token.split_once('[').and_then(|(_, r)| r.split_once(']')?.0.parse().ok()),
            token.split_once(':').and_then(|(v4, _)| v4.parse().ok()),
        ];
        for ip in candidates.into_iter().flatten() {
            named.push(ip);
            if let std::net::IpAddr::V6(v6) = ip
                && let Some(v4) = v6.to_ipv4_mapped()
            {
                named.push(std::net::IpAddr::V4(v4));
            }
        }
    }
    named
}

static LIMITER: LazyLock<guard_ratelimit::RateLimiter> = LazyLock::new(|| {
    guard_ratelimit::RateLimitPolicy::new("fz")
        .quota("q", "1000000/60s".parse().expect("a quota"))
        .key(guard_ratelimit::Key::header(HeaderName::from_static("x-api-key")))
        .build(guard_ratelimit::MemoryStore::new(10_000))
        .expect("a valid limiter")
});

/// A rate-limit key of the client's choosing: it becomes one Redis hash tag, bounded in length,
/// unable to break out of its braces or share another key's state, and a limiter keyed on it
/// decides without panicking.
pub fn ratelimit_key(data: &[u8]) {
    let key = String::from_utf8_lossy(data);
    let tagged = guard_core::keys::hash_tagged("rl:api", &key);
    assert_eq!(tagged.matches('{').count(), 1, "{tagged}");
    assert_eq!(tagged.matches('}').count(), 1, "{tagged}");
    assert!(tagged.ends_with('}') && tagged.len() <= "rl:api:{}".len() + 64, "{tagged}");
    let bounded = guard_core::keys::bounded_key(&key);
    assert_eq!(
        guard_core::keys::key_slot(tagged.as_bytes()),
        guard_core::keys::key_slot(bounded.as_bytes()),
        "one slot per key"
    );
    if bounded != key {
        assert!(bounded.starts_with('#') && bounded.len() == 33, "{bounded}");
    }
    // Two different keys never share state: their bounded forms differ too.
    let [a, b] = parts::<2>(data);
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    if a != b {
        let (a_bounded, b_bounded) =
            (guard_core::keys::bounded_key(&a), guard_core::keys::bounded_key(&b));
        assert_ne!(a_bounded, b_bounded, "{a:?} and {b:?} share a key");
    }
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    let (parts, ()) =
        Request::get("/").header("x-api-key", value).body(()).expect("request").into_parts();
    let head = HttpRequestHead::new(&parts, None);
    let mut req = GuardRequest::new(&head);
    if let Decision::Respond(res) = block_on(LIMITER.check(&mut req)) {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
}

/// A body with every kind of field the validator handles.
#[derive(Debug, serde::Deserialize, garde::Validate)]
#[allow(dead_code)] // read through Debug only: the fuzz target checks that parsing survives
struct Sample {
    #[garde(length(chars, min = 1, max = 20), alphanumeric)]
    name: String,
    #[garde(email)]
    email: String,
    #[garde(range(min = 0, max = 150))]
    age: Option<u8>,
    #[garde(length(max = 5), inner(length(max = 10)))]
    tags: Vec<String>,
    #[garde(dive)]
    address: Option<Address>,
    #[garde(skip)]
    kind: Option<Kind>,
}

#[derive(Debug, serde::Deserialize, garde::Validate)]
#[allow(dead_code)]
struct Address {
    #[garde(length(min = 1))]
    city: String,
    #[garde(range(min = -90.0, max = 90.0))]
    lat: f64,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
enum Kind {
    Person,
    Robot { serial: u32 },
}

static SMALL: LazyLock<guard_validate::JsonLimits> =
    LazyLock::new(|| guard_validate::JsonLimits::new(2048, 8).expect("valid limits"));

/// A JSON body in arbitrary chunks, with an arbitrary content type: every refusal is a 4xx
/// problem with its JSON Pointers well-formed, never a panic or a 5xx.
pub fn json_body(data: &[u8]) {
    let [content_type, body] = parts::<2>(data);
    let content_type: &[u8] = if content_type.first().is_some_and(|b| b % 2 == 0) {
        b"application/json"
    } else {
        content_type
    };
    let result =
        guard_validate::JsonBody::start(&SMALL, Some(content_type), None).and_then(|mut reader| {
            // Chunks cut where the body says, so chunk boundaries fall everywhere.
            let cut = body.first().map_or(1, |b| usize::from(*b % 16) + 1);
            for chunk in body.chunks(cut) {
                reader.push(chunk)?;
            }
            reader.finish::<Sample>()
        });
    if let Err(rejection) = result {
        let problem = rejection.to_problem();
        assert!(problem.status.is_client_error(), "{rejection:?} is a {}", problem.status);
        for error in rejection.field_errors() {
            assert!(
                error.pointer.is_empty() || error.pointer.starts_with('/'),
                "{:?}",
                error.pointer
            );
        }
    }
    let _ = guard_validate::parse_json::<Sample>(&SMALL, Some(content_type), body);
}

/// Configuration from a file: a headers policy (CSP included), a CORS policy, a rate-limit quota,
/// trusted proxies and JSON limits, from arbitrary JSON. A policy either fails with a typed
/// error or compiles into headers that are all valid to send.
pub fn policies(data: &[u8]) {
    let [which, text] = parts::<2>(data);
    match which.first().map(|b| b % 5) {
        Some(0) => {
            if let Ok(policy) = serde_json::from_slice::<guard_headers::HeadersPolicy>(text)
                && let Ok(headers) = policy.build()
            {
                let (parts, ()) = Request::get("/").body(()).expect("request").into_parts();
                let head = HttpRequestHead::new(&parts, None);
                let mut req = GuardRequest::new(&head);
                let Decision::Continue(state) = block_on(headers.check(&mut req)) else {
                    panic!("the headers guard never answers early")
                };
                let mut res = GuardResponse::new(StatusCode::OK);
                headers.respond(state, &mut res);
                for (name, value) in res.headers() {
                    assert!(!value.as_bytes().contains(&b'\n'), "{name}: {value:?}");
                }
            }
        }
        Some(1) => {
            if let Ok(policy) = serde_json::from_slice::<guard_cors::CorsPolicy>(text) {
                let _ = policy.build();
            }
        }
        Some(2) => {
            let text = String::from_utf8_lossy(text);
            if let Ok(quota) = text.parse::<guard_ratelimit::Quota>() {
                assert!(quota.limit() > 0 && !quota.window().is_zero(), "{text:?}");
            }
        }
        Some(3) => {
            let _ = TrustedProxies::parse(&String::from_utf8_lossy(text));
        }
        _ => {
            let _ = serde_json::from_slice::<guard_validate::JsonLimits>(text);
            let _ = serde_json::from_slice::<guard_core::BreakerConfig>(text).map(|c| c.check());
        }
    }
}
