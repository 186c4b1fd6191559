//! The registered claims, read from the raw claims JSON with strict types (RFC 7519 §4.1), and
//! checked against the clock and the policy.
//!
//! A registered claim of the wrong type is refused, never ignored: `exp: "99999999999"` is not
//! a missing `exp` (a bug of jsonwebtoken < 10.3) but a malformed token. NumericDates must be
//! non-negative JSON numbers (fractions allowed, as RFC 7519 §2 permits) up to year 9999.
//!
//! Sub-second issue time: [`TokenIssuer`](crate::TokenIssuer) adds the private claim
//! [`IAT_MS`] (`iat_ms`, integer milliseconds since the epoch) next to the whole-second `iat`.
//! When present it must fall inside the second `iat` names, and it is the token's issue time
//! for revocation marks; tokens without it count as issued at the start of their `iat` second,
//! which errs on the side of refusing them.

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::error::TokenError;

/// The private claim carrying the issue time in milliseconds since the Unix epoch.
pub const IAT_MS: &str = "iat_ms";

/// Longest `sub` and `jti` accepted (OpenID Connect caps `sub` at 255 ASCII characters).
pub(crate) const MAX_ID_BYTES: usize = 255;

/// 9999-12-31T23:59:59Z: NumericDates beyond are refused.
const MAX_NUMERIC_DATE_SECS: u64 = 253_402_300_799;

/// The registered claims and header facts of a verified token, for handlers and revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// `jti`: the token's unique id.
    pub jti: Option<String>,
    /// `sub`: whom the token is about.
    pub sub: Option<String>,
    /// When the token was issued, in milliseconds since the epoch: `iat_ms` when present,
    /// otherwise `iat` (whole seconds) times 1000.
    pub issued_at_ms: Option<u64>,
    /// `nbf`, in milliseconds since the epoch.
    pub not_before_ms: Option<u64>,
    /// `exp`, in milliseconds since the epoch.
    pub expires_at_ms: u64,
    /// `kid` of the header, if any.
    pub kid: Option<String>,
    /// The algorithm the signature was verified with.
    pub algorithm: Algorithm,
}

impl TokenInfo {
    /// `iat` in whole seconds.
    pub fn iat(&self) -> Option<u64> {
        self.issued_at_ms.map(|ms| ms / 1000)
    }

    /// `exp` in whole seconds.
    pub fn exp(&self) -> u64 {
        self.expires_at_ms / 1000
    }
}

/// What the policy says about claims, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimRules {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in milliseconds.
    pub leeway_ms: u64,
    /// Accepted `iss` values; empty means `iss` is not checked (only its type).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (any one suffices); empty means a token must carry no `aud`.
    pub audiences: Vec<String>,
}

/// Reads and checks the registered claims; `kid` and `algorithm` come from the header.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    rules: &ClaimRules,
    now_ms: u64,
    kid: Option<String>,
    algorithm: Algorithm,
) -> Result<TokenInfo, TokenError> {
    let expires_at_ms = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    let not_before_ms = numeric_date(claims, "nbf")?;
    let iat_ms = numeric_date(claims, "iat")?;
    let precise_iat = match claims.get(IAT_MS) {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(TokenError::ClaimType(IAT_MS))?),
    };
    let issued_at_ms = match (iat_ms, precise_iat) {
        (Some(iat), Some(precise)) if iat / 1000 != precise / 1000 => {
            return Err(TokenError::InconsistentIssuedAt);
        }
        (_, Some(precise)) => Some(precise),
        (iat, None) => iat.map(|ms| ms - ms % 1000),
    };
    let sub = id_claim(claims, "sub")?;
    let jti = id_claim(claims, "jti")?;

    let leeway = rules.leeway_ms;
    if now_ms >= expires_at_ms.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if not_before_ms.is_some_and(|nbf| nbf > now_ms.saturating_add(leeway)) {
        return Err(TokenError::NotYetValid);
    }
    if issued_at_ms.is_some_and(|iat| iat > now_ms.saturating_add(leeway)) {
        return Err(TokenError::IssuedInFuture);
    }

    match claims.get("iss") {
        None if rules.issuers.is_empty() => {}
        None => return Err(TokenError::Issuer),
        Some(Value::String(iss)) => {
            if !rules.issuers.is_empty() && !rules.issuers.iter().any(|i| i == iss) {
                return Err(TokenError::Issuer);
            }
        }
        Some(_) => return Err(TokenError::ClaimType("iss")),
    }
    check_audience(claims.get("aud"), &rules.audiences)?;

    Ok(TokenInfo { jti, sub, issued_at_ms, not_before_ms, expires_at_ms, kid, algorithm })
}

/// RFC 7519 §4.1.3: a token naming audiences must name one of ours; with no audience
/// configured, a token that names any is refused.
fn check_audience(aud: Option<&Value>, accepted: &[String]) -> Result<(), TokenError> {
    let named: Vec<&str> = match aud {
        None => {
            return if accepted.is_empty() { Ok(()) } else { Err(TokenError::Audience) };
        }
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|v| v.as_str().ok_or(TokenError::ClaimType("aud")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenError::ClaimType("aud")),
    };
    if named.iter().any(|a| accepted.iter().any(|b| b == a)) {
        Ok(())
    } else {
        Err(TokenError::Audience)
    }
}

fn id_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<String>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_ID_BYTES => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(TokenError::ClaimTooLong(name)),
        Some(_) => Err(TokenError::ClaimType(name)),
    }
}

/// A NumericDate claim in milliseconds (fractions below a millisecond dropped).
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, TokenError> {
    let Some(value) = claims.get(name) else { return Ok(None) };
    let Value::Number(n) = value else { return Err(TokenError::ClaimType(name)) };
    let ms = if let Some(secs) = n.as_u64() {
        (secs <= MAX_NUMERIC_DATE_SECS).then(|| secs * 1000)
    } else {
        n.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f <= MAX_NUMERIC_DATE_SECS as f64)
            // In range by the filter: at most 2.6e14, exactly representable.
            .map(|f| (f * 1000.0).floor() as u64)
    };
    ms.map(Some).ok_or(TokenError::ClaimType(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000_500;

    fn run(v: Value, rules: &ClaimRules) -> Result<TokenInfo, TokenError> {
        check_claims(v.as_object().unwrap(), rules, NOW, None, Algorithm::HS256)
    }

    fn plain(v: Value) -> Result<TokenInfo, TokenError> {
        run(v, &ClaimRules::default())
    }

    #[test]
    fn registered_claims_are_read() {
        let info = plain(json!({
            "sub": "u1", "jti": "j1", "iat": 1_700_000_000u64, "iat_ms": 1_700_000_000_250u64,
            "nbf": 1_700_000_000u64, "exp": 1_700_000_900u64
        }))
        .unwrap();
        assert_eq!(info.sub.as_deref(), Some("u1"));
        assert_eq!(info.jti.as_deref(), Some("j1"));
        assert_eq!(info.issued_at_ms, Some(1_700_000_000_250));
        assert_eq!(info.iat(), Some(1_700_000_000));
        assert_eq!(info.exp(), 1_700_000_900);
    }

    #[test]
    fn exp_is_required_and_typed() {
        assert_eq!(plain(json!({})), Err(TokenError::MissingClaim("exp")));
        for bad in
            [json!("1800000000"), json!(null), json!(true), json!(-5), json!([1]), json!(1e300)]
        {
            assert_eq!(plain(json!({ "exp": bad })), Err(TokenError::ClaimType("exp")), "{bad}");
        }
        // A fraction is a valid NumericDate.
        assert!(plain(json!({"exp": 1_700_000_900.5})).is_ok());
    }

    #[test]
    fn other_registered_claims_are_typed_too() {
        let exp = 1_700_000_900u64;
        assert_eq!(plain(json!({"exp": exp, "nbf": "0"})), Err(TokenError::ClaimType("nbf")));
        assert_eq!(plain(json!({"exp": exp, "iat": "0"})), Err(TokenError::ClaimType("iat")));
        assert_eq!(plain(json!({"exp": exp, "sub": 5})), Err(TokenError::ClaimType("sub")));
        assert_eq!(plain(json!({"exp": exp, "jti": {}})), Err(TokenError::ClaimType("jti")));
        assert_eq!(plain(json!({"exp": exp, "iss": 1})), Err(TokenError::ClaimType("iss")));
        assert_eq!(plain(json!({"exp": exp, "iat_ms": 1.5})), Err(TokenError::ClaimType("iat_ms")));
        assert_eq!(
            plain(json!({"exp": exp, "sub": "x".repeat(256)})),
            Err(TokenError::ClaimTooLong("sub"))
        );
    }

    #[test]
    fn time_claims_use_the_leeway() {
        let rules = ClaimRules { leeway_ms: 30_000, ..Default::default() };
        let secs = NOW / 1000;
        assert!(run(json!({"exp": secs - 29}), &rules).is_ok());
        assert_eq!(run(json!({"exp": secs - 31}), &rules), Err(TokenError::Expired));
        assert_eq!(plain(json!({"exp": secs})), Err(TokenError::Expired));
        assert!(run(json!({"exp": secs + 60, "nbf": secs + 30}), &rules).is_ok());
        assert_eq!(
            run(json!({"exp": secs + 90, "nbf": secs + 31}), &rules),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            run(json!({"exp": secs + 90, "iat": secs + 31}), &rules),
            Err(TokenError::IssuedInFuture)
        );
    }

    #[test]
    fn iat_ms_must_agree_with_iat() {
        let exp = 1_700_000_900u64;
        assert_eq!(
            plain(json!({"exp": exp, "iat": 1_700_000_000u64, "iat_ms": 1_700_000_001_000u64})),
            Err(TokenError::InconsistentIssuedAt)
        );
        // Without iat_ms, the start of the iat second counts.
        let info = plain(json!({"exp": exp, "iat": 1_699_999_999.75})).unwrap();
        assert_eq!(info.issued_at_ms, Some(1_699_999_999_000));
    }

    #[test]
    fn issuer_and_audience() {
        let exp = 1_700_000_900u64;
        let rules = ClaimRules {
            issuers: vec!["https://id.example".into()],
            audiences: vec!["api".into(), "admin".into()],
            ..Default::default()
        };
        let ok = json!({"exp": exp, "iss": "https://id.example", "aud": ["other", "admin"]});
        assert!(run(ok, &rules).is_ok());
        assert!(
            run(json!({"exp": exp, "iss": "https://id.example", "aud": "api"}), &rules).is_ok()
        );
        assert_eq!(
            run(json!({"exp": exp, "iss": "https://evil.example", "aud": "api"}), &rules),
            Err(TokenError::Issuer)
        );
        assert_eq!(run(json!({"exp": exp, "aud": "api"}), &rules), Err(TokenError::Issuer));
        assert_eq!(
            run(json!({"exp": exp, "iss": "https://id.example", "aud": "web"}), &rules),
            Err(TokenError::Audience)
        );
        assert_eq!(
            run(json!({"exp": exp, "iss": "https://id.example", "aud": [1]}), &rules),
            Err(TokenError::ClaimType("aud"))
        );
        // With no audience configured, a token addressed to someone is not for us.
        assert_eq!(plain(json!({"exp": exp, "aud": "api"})), Err(TokenError::Audience));
    }
}
