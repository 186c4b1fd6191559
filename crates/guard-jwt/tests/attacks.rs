//! Every known JWT attack (RFC 8725's and the peers' mistakes SECURITY.md lists), forged by hand, refused through the public API and as an
//! RFC 6750 problem from the guard; plus the positive controls that show each forgery differs
//! from a valid token only by the attack.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

mod common;

use common::*;
use guard_jwt::{
    Algorithm, Jwt, JwtPolicy, KeyConfig, Rejection, SigningKey, TokenError, TokenIssuer,
};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

/// A guard with an HMAC key, an RSA key and a P-256 key, each bound to its algorithm.
fn guard() -> Jwt<Claims> {
    three_keys().build().unwrap()
}

fn attacks() -> Vec<(&'static str, String, TokenError)> {
    let good = good_claims();
    let now = now_secs();
    let valid = hs256(good.clone());
    let (h, _, s) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let mut list = vec![];
    for alg in ["none", "None", "NONE", "nOnE"] {
        list.push((
            "alg none, empty signature",
            unsigned(json!({"alg": alg}), good.clone(), ""),
            TokenError::Malformed,
        ));
        list.push((
            "alg none, any signature",
            unsigned(json!({"alg": alg}), good.clone(), &s),
            TokenError::AlgorithmNotAllowed,
        ));
    }
    list.extend([
        ("empty signature", format!("{h}.{}.", b64(good.to_string())), TokenError::Malformed),
        (
            "missing signature segment",
            format!("{h}.{}", b64(good.to_string())),
            TokenError::Malformed,
        ),
        (
            "null signature",
            unsigned(json!({"alg": "HS256"}), good.clone(), "null"),
            TokenError::BadSignature,
        ),
        ("four segments", format!("{valid}.x"), TokenError::Malformed),
        (
            "tampered payload",
            format!("{h}.{}.{s}", b64(claims_with(json!({"sub": "admin"})).to_string())),
            TokenError::BadSignature,
        ),
        (
            "wrong key",
            forge(json!({"alg": "HS256"}), good.clone(), &hs(OTHER_SECRET), Algorithm::HS256),
            TokenError::BadSignature,
        ),
        (
            "HS256 signed with the RSA public key as secret, kid of the RSA key",
            forge(
                json!({"alg": "HS256", "kid": "rs"}),
                good.clone(),
                &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
                Algorithm::HS256,
            ),
            TokenError::AlgorithmNotAllowed,
        ),
        (
            "HS256 signed with the RSA public key as secret, no kid",
            forge(
                json!({"alg": "HS256"}),
                good.clone(),
                &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
                Algorithm::HS256,
            ),
            TokenError::BadSignature,
        ),
        (
            "kid path traversal, signed with an empty key",
            forge(
                json!({"alg": "HS256", "kid": "../../dev/null"}),
                good.clone(),
                &EncodingKey::from_secret(b""),
                Algorithm::HS256,
            ),
            TokenError::UnknownKey,
        ),
        (
            "expired",
            hs256(claims_with(json!({"exp": now - 3600, "iat": now - 4000, "nbf": now - 4000}))),
            TokenError::Expired,
        ),
        (
            "not yet valid",
            hs256(claims_with(json!({"nbf": now + 3600, "exp": now + 7200}))),
            TokenError::NotYetValid,
        ),
        ("missing exp", hs256(claims_with(json!({"exp": null}))), TokenError::MissingClaim("exp")),
        (
            "string exp",
            hs256(claims_with(json!({"exp": (now + 600).to_string()}))),
            TokenError::ClaimType("exp"),
        ),
        ("negative exp", hs256(claims_with(json!({"exp": -1}))), TokenError::ClaimType("exp")),
        (
            "ECDSA r = s = 0 (CVE-2022-21449)",
            unsigned(json!({"alg": "ES256", "kid": "es"}), good.clone(), &b64([0u8; 64])),
            TokenError::BadSignature,
        ),
        ("oversize", hs256(claims_with(json!({"pad": "x".repeat(9000)}))), TokenError::TooLarge),
        (
            "unknown crit",
            forge(
                json!({"alg": "HS256", "crit": ["exp-v"], "exp-v": 1}),
                good.clone(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            TokenError::UnknownCritical,
        ),
        (
            "duplicate alg member",
            forge_raw(
                r#"{"alg":"HS256","alg":"none"}"#,
                &good.to_string(),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            TokenError::MalformedHeader,
        ),
        (
            "duplicate exp member",
            forge_raw(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"sub":"u","exp":1,"exp":{}}}"#, now + 600),
                &hs(SECRET),
                Algorithm::HS256,
            ),
            TokenError::MalformedClaims,
        ),
        ("not base64url", format!("{h}.{}+.{s}", b64(good.to_string())), TokenError::Malformed),
    ]);
    // Header parameters that point at a key of the sender's choosing: an embedded jwk (the
    // token signed with it), a URL to fetch the key from, a certificate or its URL.
    let jwk = json!({"kty": "oct", "k": b64(OTHER_SECRET)});
    for (param, header, secret) in [
        ("jwk", json!({"alg": "HS256", "jwk": jwk}), OTHER_SECRET),
        ("jku", json!({"alg": "HS256", "jku": "https://evil.example/jwks"}), SECRET),
        ("x5u", json!({"alg": "RS256", "x5u": "https://evil.example/cert"}), SECRET),
        ("x5c", json!({"alg": "RS256", "x5c": ["MIIB"]}), SECRET),
    ] {
        let token = forge(header, good.clone(), &hs(secret), Algorithm::HS256);
        list.push((param, token, TokenError::ForbiddenHeaderParameter(param)));
    }
    list
}

#[tokio::test]
async fn positive_controls_pass() {
    let jwt = guard();
    let good = good_claims();
    assert_eq!(jwt.authenticate(&hs256(good.clone())).await.unwrap().sub, "user-1");
    let with_kid =
        forge(json!({"alg": "HS256", "kid": "hs"}), good.clone(), &hs(SECRET), Algorithm::HS256);
    assert!(jwt.authenticate(&with_kid).await.is_ok());
    let es = forge(
        json!({"alg": "ES256", "kid": "es"}),
        good.clone(),
        &EncodingKey::from_ec_pem(EC256_PRIVATE.as_bytes()).unwrap(),
        Algorithm::ES256,
    );
    assert!(jwt.authenticate(&es).await.is_ok());
    let rs = forge(
        json!({"alg": "RS256", "kid": "rs"}),
        good,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    assert!(jwt.authenticate(&rs).await.is_ok());
}

#[tokio::test]
async fn every_attack_is_refused_with_its_reason() {
    let jwt = guard();
    for (name, token, reason) in attacks() {
        assert_eq!(
            jwt.authenticate(&token).await.unwrap_err(),
            Rejection::Invalid(reason),
            "{name}"
        );
    }
}

#[tokio::test]
async fn every_attack_is_an_rfc_6750_invalid_token_problem() {
    let jwt = guard();
    for (name, token, reason) in attacks() {
        let Some(res) = guard_answer(&jwt, bearer_request(&token)).await else {
            panic!("{name}: let through")
        };
        assert_eq!(res.status(), 401, "{name}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{name}");
        assert_eq!(
            res.headers()["www-authenticate"],
            format!(r#"Bearer realm="guard", error="invalid_token", error_description="{reason}""#)
                .as_str(),
            "{name}"
        );
        let body: Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(body["type"], "tag:guard.rs,2026:problem:invalid-token", "{name}");
        assert_eq!(body["detail"], reason.to_string(), "{name}");
        // Nothing of the token is echoed.
        let sig = token.rsplit('.').next().unwrap();
        assert!(sig.len() < 8 || !String::from_utf8_lossy(res.body()).contains(sig), "{name}");
    }
}

#[tokio::test]
async fn a_verifier_with_only_an_rsa_key_never_accepts_hmac() {
    let jwt: Jwt<Claims> = JwtPolicy {
        keys: vec![KeyConfig::public_pem([Algorithm::RS256], RSA_PUBLIC)],
        ..JwtPolicy::default()
    }
    .build()
    .unwrap();
    let confused = forge(
        json!({"alg": "HS256"}),
        good_claims(),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    assert_eq!(
        jwt.authenticate(&confused).await.unwrap_err(),
        Rejection::Invalid(TokenError::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn the_crypto_backend_decodes_every_family_without_panicking() {
    let hmac = (Algorithm::HS256, KeyConfig::hs256(SECRET), SigningKey::Secret(SECRET.into()));
    // Each asymmetric family: the algorithm, its public key and its private key in PEM.
    let pem = [
        (Algorithm::RS256, RSA_PUBLIC, RSA_PRIVATE),
        (Algorithm::PS256, RSA_PUBLIC, RSA_PRIVATE),
        (Algorithm::ES256, EC256_PUBLIC, EC256_PRIVATE),
        (Algorithm::ES384, EC384_PUBLIC, EC384_PRIVATE),
        (Algorithm::EdDSA, ED_PUBLIC, ED_PRIVATE),
    ]
    .map(|(alg, public, private)| {
        (alg, KeyConfig::public_pem([alg], public), SigningKey::Pem(private.into()))
    });
    for (alg, key, signing) in std::iter::once(hmac).chain(pem) {
        let jwt: Jwt<Claims> =
            JwtPolicy { keys: vec![key], ..JwtPolicy::default() }.build().unwrap();
        let issuer = TokenIssuer::new(
            &guard_jwt::IssuerPolicy { algorithm: alg, ..Default::default() },
            &signing,
        )
        .unwrap();
        let token = issuer.issue("u-7").unwrap().token;
        let verified = jwt.authenticate(&token).await.unwrap();
        assert_eq!(verified.sub, "u-7", "{alg:?}");
        assert_eq!(verified.token.algorithm, alg);
    }
}

#[tokio::test]
async fn claims_of_the_wrong_shape_and_failed_claims_checks() {
    let jwt = guard();
    let no_sub = hs256(json!({"exp": now_secs() + 60}));
    assert_eq!(
        jwt.authenticate(&no_sub).await.unwrap_err(),
        Rejection::Invalid(TokenError::ClaimsShape)
    );
    let admin_only = jwt.require(|c| c.scope.split(' ').any(|s| s == "admin"));
    let reader = hs256(json!({"sub": "u", "scope": "read", "exp": now_secs() + 60}));
    assert_eq!(admin_only.authenticate(&reader).await.unwrap_err(), Rejection::InsufficientScope);
    let admin = hs256(json!({"sub": "u", "scope": "read admin", "exp": now_secs() + 60}));
    assert!(admin_only.authenticate(&admin).await.is_ok());
    let p = admin_only.problem(&Rejection::InsufficientScope);
    assert_eq!(p.status, 403);
    assert_eq!(
        p.headers["www-authenticate"],
        r#"Bearer realm="guard", error="insufficient_scope""#
    );
}

#[tokio::test]
async fn issuer_audience_and_type_policies() {
    let jwt: Jwt<Claims> = JwtPolicy {
        issuers: vec!["https://auth.example".into()],
        audiences: vec!["api".into(), "admin".into()],
        typ: Some("at+jwt".into()),
        ..JwtPolicy::hs256(SECRET)
    }
    .build()
    .unwrap();
    let mut claims = good_claims();
    claims["iss"] = json!("https://auth.example");
    claims["aud"] = json!(["web", "admin"]);
    let token = |typ: &str, claims: &Value| {
        forge(json!({"alg": "HS256", "typ": typ}), claims.clone(), &hs(SECRET), Algorithm::HS256)
    };
    assert!(jwt.authenticate(&token("application/at+jwt", &claims)).await.is_ok());
    assert_eq!(
        jwt.authenticate(&token("JWT", &claims)).await.unwrap_err(),
        Rejection::Invalid(TokenError::WrongType)
    );
    let mut other = claims.clone();
    other["aud"] = json!("web");
    assert_eq!(
        jwt.authenticate(&token("at+jwt", &other)).await.unwrap_err(),
        Rejection::Invalid(TokenError::Audience)
    );
    other = claims.clone();
    other["iss"] = json!("https://evil.example");
    assert_eq!(
        jwt.authenticate(&token("at+jwt", &other)).await.unwrap_err(),
        Rejection::Invalid(TokenError::Issuer)
    );
}

#[tokio::test]
async fn without_kid_only_matching_keys_are_tried_and_require_kid_refuses() {
    let two_secrets: Jwt<Claims> = JwtPolicy {
        keys: vec![
            KeyConfig::hs256(OTHER_SECRET).with_kid("old"),
            KeyConfig::hs256(SECRET).with_kid("new"),
        ],
        ..JwtPolicy::default()
    }
    .build()
    .unwrap();
    // Rotation without kid: both secrets are tried.
    assert!(two_secrets.authenticate(&hs256(good_claims())).await.is_ok());
    let strict: Jwt<Claims> =
        JwtPolicy { require_kid: true, ..JwtPolicy::hs256(SECRET) }.build().unwrap();
    assert_eq!(
        strict.authenticate(&hs256(good_claims())).await.unwrap_err(),
        Rejection::Invalid(TokenError::KeyIdRequired)
    );
}

#[tokio::test]
async fn a_token_without_kid_tries_at_most_four_keys() {
    // The bound SECURITY.md documents, spelled out.
    assert_eq!(guard_jwt::MAX_KEYS_WITHOUT_KID, 4);
    let secrets: Vec<String> =
        (0..5).map(|i| format!("secret number {i}, at least 32 bytes long")).collect();
    let jwt: Jwt<Claims> = JwtPolicy {
        keys: secrets
            .iter()
            .enumerate()
            .map(|(i, secret)| KeyConfig::hs256(secret.as_str()).with_kid(format!("k{i}")))
            .collect(),
        ..JwtPolicy::default()
    }
    .build()
    .unwrap();
    let signed_with =
        |i: usize, header: Value| forge(header, good_claims(), &hs(&secrets[i]), Algorithm::HS256);
    assert!(jwt.authenticate(&signed_with(3, json!({"alg": "HS256"}))).await.is_ok());
    assert_eq!(
        jwt.authenticate(&signed_with(4, json!({"alg": "HS256"}))).await.unwrap_err(),
        Rejection::Invalid(TokenError::BadSignature),
        "the fifth key is not tried"
    );
    assert!(jwt.authenticate(&signed_with(4, json!({"alg": "HS256", "kid": "k4"}))).await.is_ok());
}

#[tokio::test]
async fn the_token_may_come_from_a_cookie_but_never_from_the_query() {
    let jwt: Jwt<Claims> =
        JwtPolicy { cookie: Some("access_token".into()), ..JwtPolicy::hs256(SECRET) }
            .build()
            .unwrap();
    let token = hs256(good_claims());
    let run = async |req: http::Request<()>| {
        guard_answer(&jwt, req).await.map_or(200, |res| res.status().as_u16())
    };
    let cookie = http::Request::get("/")
        .header("cookie", format!("a=b; access_token={token}"))
        .body(())
        .unwrap();
    assert_eq!(run(cookie).await, 200);
    let query = http::Request::get(format!("/?access_token={token}")).body(()).unwrap();
    assert_eq!(run(query).await, 401);
}
