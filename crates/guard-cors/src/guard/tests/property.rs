//! Property: nothing outside the allowlist is ever echoed.

use guard_core::{Decision, Guard, GuardResponse};
use http::StatusCode;
use http::header::{self, HeaderValue};
use proptest::prelude::*;

use super::helpers::{APP, check, cors_headers, parts, vary};
use crate::{Cors, CorsPolicy};

const LISTED: [&str; 3] = [APP, "http://localhost:3000", "https://api.example.com:8443"];
const PATTERN_DOMAIN: &str = "example.org";

/// An independent statement of the policy below: after lower-casing and dropping the default
/// port, one of `LISTED`, or `https://<labels>.example.org`.
fn oracle_allows(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some((scheme, rest)) = lower.split_once("://") else { return false };
    let default = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return false,
    };
    // A host never holds a `:` (no IPv6 in this policy), so the first one starts the port.
    let (host, port) = match rest.split_once(':') {
        None => (rest, None),
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            match port.parse::<u32>() {
                Ok(p) if p <= 65535 => (host, (p != default).then_some(p)),
                _ => return false,
            }
        }
    };
    let normal = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    if LISTED.contains(&normal.as_str()) {
        return true;
    }
    let Some(sub) = host.strip_suffix(PATTERN_DOMAIN).and_then(|h| h.strip_suffix('.')) else {
        return false;
    };
    scheme == "https"
        && port.is_none()
        && sub.split('.').all(|l| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Origins near the allowed ones: case changes, edits, suffixes, ports, schemes, label games.
fn near_miss() -> impl Strategy<Value = String> {
    let bases = prop::sample::select(vec![
        APP,
        "http://localhost:3000",
        "https://api.example.com:8443",
        "https://x.example.org",
        "https://a.b.example.org",
        "https://example.org",
    ]);
    (bases, 0..12u8, any::<prop::sample::Index>(), "[ -~]{0,6}", prop::bool::ANY).prop_map(
        |(base, op, index, junk, flag)| {
            let mut s = base.to_owned();
            let at = index.index(s.len() + 1);
            let boundary =
                |s: &str, i: usize| (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0);
            match op {
                0 => s.push_str(&junk),
                1 => s.insert_str(0, &junk),
                2 => s.insert_str(boundary(&s, at), &junk),
                3 => {
                    let i = boundary(&s, at.min(s.len().saturating_sub(1)));
                    if i < s.len() {
                        s.remove(i);
                    }
                }
                4 => s = s.to_ascii_uppercase(),
                5 => s.push_str([":443", ":80", ":0443", ":", ":8443", ":3000"][at % 6]),
                6 => {
                    s = s.replacen("https://", "http://", 1).replacen(
                        "http://",
                        if flag { "https://" } else { "http://" },
                        1,
                    )
                }
                7 => s = s.replacen("://", if flag { "://evil-" } else { "://evil." }, 1),
                8 => s.push_str(if flag { ".evil.com" } else { "-evil.com" }),
                9 => s = s.replace("example", if flag { "examp1e" } else { "exampleX" }),
                10 => s.push('/'),
                _ => s = format!("https://{}{junk}", &s[s.find("://").map_or(0, |i| i + 3)..]),
            }
            s
        },
    )
}

fn any_origin_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => near_miss(),
        1 => "[ -~]{0,40}",
        1 => "(https?|HTTPS?|ftp|ws)://[a-zA-Z0-9.*_@-]{0,24}(:[0-9]{0,6})?",
        1 => "https://[a-z]{1,5}\\.example\\.org(:[0-9]{1,4})?",
        1 => "\\PC{0,16}",
    ]
}

fn property_policy() -> Cors {
    CorsPolicy::new()
        .allow_origins(LISTED)
        .allow_subdomains_of([format!("https://*.{PATTERN_DOMAIN}")])
        .allow_credentials(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_origin_outside_the_allowlist_is_ever_echoed(origin in any_origin_string()) {
        let Ok(value) = HeaderValue::from_str(&origin) else { return Ok(()) };
        let cors = property_policy();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let allowed = oracle_allows(&origin);

        // Preflight.
        let mut p = parts("OPTIONS", &[("access-control-request-method", "GET")]);
        p.headers.insert(header::ORIGIN, value.clone());
        let res = match runtime.block_on(check(&cors, &p)) {
            Decision::Respond(res) => res,
            Decision::Continue(_) => panic!("a preflight goes on"),
        };
        let acao = res.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
        prop_assert_eq!(acao.is_some(), allowed, "preflight for {:?}", origin);
        if let Some(acao) = acao {
            prop_assert_eq!(acao.as_bytes(), origin.as_bytes());
        } else {
            prop_assert_eq!(cors_headers(res.headers()), vec![]);
        }

        // Actual request, with a handler that (wrongly) echoes every origin itself.
        let mut p = parts("GET", &[]);
        p.headers.insert(header::ORIGIN, value.clone());
        let Decision::Continue(state) = runtime.block_on(check(&cors, &p)) else {
            panic!("no block mode")
        };
        let mut res = GuardResponse::new(StatusCode::OK)
            .with_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        cors.respond(state, &mut res);
        let acao: Vec<_> = res.headers().get_all(header::ACCESS_CONTROL_ALLOW_ORIGIN).iter().collect();
        if allowed {
            prop_assert_eq!(acao.len(), 1);
            prop_assert_eq!(acao[0].as_bytes(), origin.as_bytes());
        } else {
            prop_assert!(acao.is_empty(), "{:?} was echoed", origin);
            prop_assert_eq!(cors_headers(res.headers()), vec![]);
        }
        prop_assert_eq!(vary(res.headers()), vec!["Origin"]);
    }
}

#[test]
fn the_oracle_agrees_on_known_cases() {
    for yes in [
        APP,
        "HTTPS://APP.EXAMPLE.COM:443",
        "https://api.example.com:8443",
        "https://x.y.example.org",
    ] {
        assert!(oracle_allows(yes), "{yes}");
    }
    for no in [
        "https://example.org",
        "https://evil-example.org",
        "http://x.example.org",
        "https://api.example.com",
    ] {
        assert!(!oracle_allows(no), "{no}");
    }
}
