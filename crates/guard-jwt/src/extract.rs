//! Where the token comes from: `Authorization: Bearer <token>` (RFC 6750 §2.1), or a named
//! cookie when the policy names one; never the query string (tokens in URLs end up in logs,
//! history and `Referer` headers).
//!
//! - The scheme is matched case-insensitively (RFC 7235); another scheme (`Basic ...`) counts as
//!   no bearer credentials, answered with the bare challenge.
//! - After `Bearer` and one or more spaces comes exactly one token of `b64token` characters;
//!   an empty token, a second word or any other character is a malformed header.
//! - Two `Authorization` headers, or two token cookies, are refused rather than guessed between.
//! - The header wins over the cookie when both came.

use guard_core::RequestHead;
use http::header::{AUTHORIZATION, COOKIE};

use crate::error::TokenError;

/// The token the request carries, `None` when it carries no bearer credentials.
pub(crate) fn bearer_token<'a>(
    head: &'a dyn RequestHead,
    cookie: Option<&str>,
    max_token_bytes: usize,
) -> Result<Option<&'a str>, TokenError> {
    let mut authorizations = head.header_all(&AUTHORIZATION);
    let first = authorizations.next();
    if authorizations.next().is_some() {
        return Err(TokenError::SeveralAuthorizations);
    }
    if let Some(value) = first
        && let Some(token) = parse_authorization(value, max_token_bytes)?
    {
        return Ok(Some(token));
    }
    match cookie {
        Some(name) => cookie_token(head, name, max_token_bytes),
        None => Ok(None),
    }
}

/// `Bearer <token>` → the token; another scheme → `None`.
pub(crate) fn parse_authorization(
    value: &[u8],
    max_token_bytes: usize,
) -> Result<Option<&str>, TokenError> {
    // Room for the scheme and a few spaces around the largest accepted token.
    if value.len() > max_token_bytes.saturating_add(64) {
        return Err(TokenError::TooLarge);
    }
    let value = std::str::from_utf8(value).map_err(|_| TokenError::MalformedAuthorization)?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(TokenError::MalformedAuthorization);
    }
    Ok(Some(token))
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn cookie_token<'a>(
    head: &'a dyn RequestHead,
    name: &str,
    max_token_bytes: usize,
) -> Result<Option<&'a str>, TokenError> {
    let mut found = None;
    for header in head.header_all(&COOKIE) {
        let Ok(header) = std::str::from_utf8(header) else { continue };
        for pair in header.split(';') {
            let Some((n, v)) = pair.trim().split_once('=') else { continue };
            if n.trim() != name {
                continue;
            }
            if found.is_some() {
                return Err(TokenError::SeveralCookies);
            }
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            if v.len() > max_token_bytes {
                return Err(TokenError::TooLarge);
            }
            found = Some(v);
        }
    }
    match found {
        Some("") => Ok(None),
        Some(token) if is_b64token(token) => Ok(Some(token)),
        Some(_) => Err(TokenError::Malformed),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::HttpRequestHead;
    use http::Request;

    fn extract(
        headers: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> Result<Option<String>, TokenError> {
        let mut b = Request::get("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (parts, ()) = b.body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        bearer_token(&head, cookie, 8192).map(|t| t.map(str::to_owned))
    }

    #[test]
    fn bearer_in_any_case() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let v = format!("{scheme} a.b.c");
            assert_eq!(extract(&[("authorization", &v)], None), Ok(Some("a.b.c".into())));
        }
        assert_eq!(
            extract(&[("authorization", "Bearer   a.b.c ")], None),
            Ok(Some("a.b.c".into()))
        );
    }

    #[test]
    fn no_or_other_credentials_are_none() {
        assert_eq!(extract(&[], None), Ok(None));
        assert_eq!(extract(&[("authorization", "Basic dXNlcjpwYXNz")], None), Ok(None));
        assert_eq!(extract(&[("authorization", "Bearerx a.b.c")], None), Ok(None));
    }

    #[test]
    fn malformed_bearer_headers() {
        for v in
            ["Bearer", "Bearer ", "Bearer a.b.c d", "Bearer a,b", "Bearer \"a.b.c\"", "Bearer ="]
        {
            assert_eq!(
                extract(&[("authorization", v)], None),
                Err(TokenError::MalformedAuthorization),
                "{v:?}"
            );
        }
        assert_eq!(
            extract(&[("authorization", "Bearer a.b.c"), ("authorization", "Bearer d.e.f")], None),
            Err(TokenError::SeveralAuthorizations)
        );
        let huge = format!("Bearer {}", "a".repeat(9000));
        assert_eq!(extract(&[("authorization", &huge)], None), Err(TokenError::TooLarge));
    }

    #[test]
    fn the_cookie_only_when_named_and_the_header_wins() {
        let cookie = [("cookie", "theme=dark; access_token=x.y.z")];
        assert_eq!(extract(&cookie, None), Ok(None));
        assert_eq!(extract(&cookie, Some("access_token")), Ok(Some("x.y.z".into())));
        let both = [("cookie", "access_token=x.y.z"), ("authorization", "Bearer a.b.c")];
        assert_eq!(extract(&both, Some("access_token")), Ok(Some("a.b.c".into())));
        let twice = [("cookie", "access_token=x.y.z; access_token=u.v.w")];
        assert_eq!(extract(&twice, Some("access_token")), Err(TokenError::SeveralCookies));
        let quoted = [("cookie", "access_token=\"x.y.z\"")];
        assert_eq!(extract(&quoted, Some("access_token")), Ok(Some("x.y.z".into())));
    }

    #[test]
    fn never_from_the_query() {
        let (parts, ()) = Request::get("/?access_token=a.b.c").body(()).unwrap().into_parts();
        let head = HttpRequestHead::new(&parts, None);
        assert_eq!(bearer_token(&head, Some("access_token"), 8192), Ok(None));
    }
}
