//! The JOSE header, checked by guard-jwt itself before any key or signature is looked at
//! (RFC 8725 §3.1, RFC 7515 §4.1).
//!
//! - `alg` must be one of jsonwebtoken's algorithm names, spelled exactly; `none` in any
//!   spelling is refused here already (whether the selected key allows `alg` is checked when
//!   the key is chosen).
//! - `jku`, `x5u`, `x5c` and `jwk` would tell the verifier where to find a key: they are never
//!   followed, and a token carrying one is refused outright. `b64` other than `true` (RFC 7797
//!   unencoded payloads) is refused too.
//! - `crit` must be a non-empty list of extension parameters that are present in the header and
//!   that the policy declares understood; anything else is refused (RFC 7515 §4.1.11).
//! - `kid` is only ever a key into the key set (never a path, URL or query), at most 256 bytes.
//! - `typ`, when the policy names one, must match case-insensitively, with or without the
//!   `application/` prefix (RFC 7515 §4.1.9); `cty: JWT` (a nested token) is refused.

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::error::TokenError;

/// Header parameters that would point the verifier at a key or a different payload encoding.
const NEVER_HONOURED: [&str; 4] = ["jku", "x5u", "x5c", "jwk"];

/// Parameters registered by RFC 7515/7516/7518 that `crit` must not list.
pub(crate) const REGISTERED: [&str; 20] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
    "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// Longest `kid` accepted.
pub(crate) const MAX_KID_BYTES: usize = 256;

/// What the policy says about headers, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderRules {
    /// The required `typ`, normalized by [`normalize_typ`].
    pub typ: Option<String>,
    /// Extension parameters that `crit` may list.
    pub understood_critical: Vec<String>,
}

/// The parts of a checked header that verification uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoseHeader {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// `typ` compared case-insensitively and without `application/` (RFC 7515 §4.1.9).
pub(crate) fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// An algorithm name exactly as RFC 7518 spells it; `none`, `None`, `NONE`, unknown names and
/// non-strings give `None`.
pub(crate) fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Checks the decoded header object.
pub(crate) fn check_header(
    header: &Map<String, Value>,
    rules: &HeaderRules,
) -> Result<JoseHeader, TokenError> {
    let alg = match header.get("alg") {
        Some(Value::String(name)) => {
            parse_algorithm(name).ok_or(TokenError::AlgorithmNotAllowed)?
        }
        Some(_) => return Err(TokenError::MalformedHeader),
        None => return Err(TokenError::AlgorithmNotAllowed),
    };
    if let Some(name) = NEVER_HONOURED.iter().find(|name| header.contains_key(**name)) {
        return Err(TokenError::ForbiddenHeaderParameter(name));
    }
    match header.get("b64") {
        None | Some(Value::Bool(true)) => {}
        Some(_) => return Err(TokenError::ForbiddenHeaderParameter("b64")),
    }
    if let Some(crit) = header.get("crit") {
        check_crit(crit, header, rules)?;
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_KID_BYTES => Some(kid.clone()),
        Some(_) => return Err(TokenError::MalformedHeader),
    };
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(typ)) => Some(typ),
        Some(_) => return Err(TokenError::MalformedHeader),
    };
    if let Some(required) = &rules.typ {
        match typ {
            Some(typ) if normalize_typ(typ) == *required => {}
            _ => return Err(TokenError::WrongType),
        }
    }
    match header.get("cty") {
        None => {}
        Some(Value::String(cty)) if normalize_typ(cty) == "jwt" => {
            return Err(TokenError::NestedToken);
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(TokenError::MalformedHeader),
    }
    Ok(JoseHeader { alg, kid })
}

fn check_crit(
    crit: &Value,
    header: &Map<String, Value>,
    rules: &HeaderRules,
) -> Result<(), TokenError> {
    let Value::Array(names) = crit else { return Err(TokenError::MalformedHeader) };
    if names.is_empty() {
        return Err(TokenError::MalformedHeader);
    }
    for name in names {
        let Value::String(name) = name else { return Err(TokenError::MalformedHeader) };
        let understood = rules.understood_critical.iter().any(|u| u == name);
        if !understood || REGISTERED.contains(&name.as_str()) || !header.contains_key(name) {
            return Err(TokenError::UnknownCritical);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<JoseHeader, TokenError> {
        check_header(v.as_object().unwrap(), &HeaderRules::default())
    }

    #[test]
    fn a_plain_header_passes() {
        let h = check(json!({"alg": "HS256", "typ": "JWT", "kid": "k1"})).unwrap();
        assert_eq!(h, JoseHeader { alg: Algorithm::HS256, kid: Some("k1".into()) });
    }

    #[test]
    fn none_in_any_spelling_and_unknown_names_are_refused() {
        for alg in ["none", "None", "NONE", "nOnE", "hs256", "HS256 ", "ES512", ""] {
            assert_eq!(check(json!({"alg": alg})), Err(TokenError::AlgorithmNotAllowed), "{alg}");
        }
        assert_eq!(check(json!({"typ": "JWT"})), Err(TokenError::AlgorithmNotAllowed));
        assert_eq!(check(json!({"alg": null})), Err(TokenError::MalformedHeader));
        assert_eq!(check(json!({"alg": ["HS256"]})), Err(TokenError::MalformedHeader));
    }

    #[test]
    fn key_pointers_are_never_followed() {
        // The parameters the README and SECURITY.md name, spelled out: not read from the list
        // under test.
        for p in ["jku", "x5u", "x5c", "jwk"] {
            let mut h = json!({"alg": "RS256"});
            h[p] = json!("https://evil.example/k");
            assert_eq!(check(h), Err(TokenError::ForbiddenHeaderParameter(p)));
        }
        assert_eq!(
            check(json!({"alg": "HS256", "b64": false})),
            Err(TokenError::ForbiddenHeaderParameter("b64"))
        );
    }

    #[test]
    fn crit_must_be_understood_present_and_not_registered() {
        let rules = HeaderRules { understood_critical: vec!["exp-v".into()], ..Default::default() };
        let run = |v: Value| check_header(v.as_object().unwrap(), &rules);
        assert!(run(json!({"alg": "HS256", "crit": ["exp-v"], "exp-v": 1})).is_ok());
        assert_eq!(
            run(json!({"alg": "HS256", "crit": ["other"], "other": 1})),
            Err(TokenError::UnknownCritical)
        );
        assert_eq!(
            run(json!({"alg": "HS256", "crit": ["exp-v"]})),
            Err(TokenError::UnknownCritical)
        );
        assert_eq!(run(json!({"alg": "HS256", "crit": []})), Err(TokenError::MalformedHeader));
        assert_eq!(run(json!({"alg": "HS256", "crit": "exp-v"})), Err(TokenError::MalformedHeader));
        assert_eq!(
            check(json!({"alg": "HS256", "crit": ["alg"]})),
            Err(TokenError::UnknownCritical)
        );
    }

    #[test]
    fn kid_is_a_bounded_string() {
        assert_eq!(check(json!({"alg": "HS256", "kid": 7})), Err(TokenError::MalformedHeader));
        assert!(check(json!({"alg": "HS256", "kid": "k".repeat(256)})).is_ok());
        let long = "k".repeat(257);
        assert_eq!(check(json!({"alg": "HS256", "kid": long})), Err(TokenError::MalformedHeader));
        // A traversal is just an unknown name: the key set decides, nothing is opened.
        assert!(check(json!({"alg": "HS256", "kid": "../../dev/null"})).is_ok());
    }

    #[test]
    fn typ_is_compared_as_rfc_7515_says() {
        let rules = HeaderRules { typ: Some(normalize_typ("at+jwt")), ..Default::default() };
        let run = |v: Value| check_header(v.as_object().unwrap(), &rules);
        assert!(run(json!({"alg": "HS256", "typ": "at+JWT"})).is_ok());
        assert!(run(json!({"alg": "HS256", "typ": "application/at+jwt"})).is_ok());
        assert_eq!(run(json!({"alg": "HS256", "typ": "JWT"})), Err(TokenError::WrongType));
        assert_eq!(run(json!({"alg": "HS256"})), Err(TokenError::WrongType));
        assert_eq!(check(json!({"alg": "HS256", "typ": 1})), Err(TokenError::MalformedHeader));
        assert_eq!(check(json!({"alg": "HS256", "cty": "JWT"})), Err(TokenError::NestedToken));
    }
}
