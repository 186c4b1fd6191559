//! Which `Content-Type` values announce JSON.

/// Whether a `Content-Type` value is `application/json` or `application/*+json`
/// (`application/problem+json`, `application/merge-patch+json`, ...), in any letter case, with
/// optional parameters. A `charset` parameter, if given, must be UTF-8: JSON has no other
/// encoding (RFC 8259 §8.1).
///
/// ```
/// use guard_validate::is_json_content_type;
///
/// assert!(is_json_content_type(b"application/json; charset=utf-8"));
/// assert!(is_json_content_type(b"application/vnd.api+json"));
/// assert!(!is_json_content_type(b"text/plain"));
/// assert!(!is_json_content_type(b"application/json; charset=latin1"));
/// ```
pub fn is_json_content_type(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else { return false };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim_matches(is_ows).to_ascii_lowercase();
    let Some(("application", subtype)) = essence.split_once('/') else { return false };
    let json = subtype == "json"
        || subtype
            .strip_suffix("+json")
            .is_some_and(|prefix| !prefix.is_empty() && is_token(prefix));
    json && parts.all(|param| parameter_allows_json(param.trim_matches(is_ows)))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 `token` characters.
fn is_token(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parameter_allows_json(param: &str) -> bool {
    if param.is_empty() {
        return true;
    }
    let Some((name, value)) = param.split_once('=') else { return false };
    if !name.trim_end_matches(is_ows).eq_ignore_ascii_case("charset") {
        return true;
    }
    let value = value.trim_start_matches(is_ows);
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8")
}

#[cfg(test)]
mod tests {
    use super::is_json_content_type as json;

    #[test]
    fn json_and_structured_json_suffixes_are_json() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json;charset=utf-8",
            "application/json ; charset=\"UTF-8\"",
            "application/json; version=2",
            "application/problem+json",
            "application/merge-patch+json; charset=utf-8",
        ] {
            assert!(json(ok.as_bytes()), "{ok}");
        }
    }

    #[test]
    fn everything_else_is_not() {
        for refused in [
            "",
            "text/plain",
            "text/json",
            "application/jsonx",
            "application/+json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=iso-8859-1",
            "application/json; broken",
            "application / json",
            "*/*",
        ] {
            assert!(!json(refused.as_bytes()), "{refused}");
        }
        assert!(!json(b"application/json\xff"));
    }
}
