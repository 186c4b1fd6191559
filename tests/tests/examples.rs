//! Both example servers, run as real processes, answer with the same security headers.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::time::Duration;

use guard_tests::{EXAMPLES, ExampleServer, failed_start_up, redis_url, unique};
use reqwest::Method;

/// The security headers `guard_headers::api()` manages, plus those it must remove.
const SECURITY_HEADERS: &[&str] = &[
    "content-security-policy",
    "content-security-policy-report-only",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "cross-origin-embedder-policy",
    "origin-agent-cluster",
    "permissions-policy",
    "referrer-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-dns-prefetch-control",
    "x-download-options",
    "x-frame-options",
    "x-permitted-cross-domain-policies",
    "x-xss-protection",
    "cache-control",
    "server",
    "x-powered-by",
];

type Seen = Vec<(String, Vec<String>)>;

async fn security_headers_of(
    server: &ExampleServer,
    method: Method,
    path: &str,
) -> (u16, Seen, String, String) {
    let res = reqwest::Client::new().request(method, server.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = SECURITY_HEADERS
        .iter()
        .map(|name| {
            let values =
                res.headers().get_all(*name).iter().map(|v| v.to_str().unwrap().to_owned());
            (name.to_string(), values.collect())
        })
        .collect();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    (status, headers, content_type, body)
}

#[tokio::test]
async fn both_servers_send_identical_security_headers_on_success_not_found_and_early_answers() {
    let mut servers = Vec::new();
    for name in EXAMPLES {
        servers.push(ExampleServer::start(name, &[]).await);
    }
    let cases = [
        (Method::GET, "/health", 200, "application/json"),
        (Method::GET, "/no/such/route", 404, "application/problem+json"),
        (Method::DELETE, "/health", 405, "application/problem+json"),
        // Refused by a guard before routing: an early answer.
        (Method::TRACE, "/health", 405, "application/problem+json"),
    ];
    for (method, path, status, content_type) in cases {
        let mut answers = Vec::new();
        for server in &servers {
            let (got, headers, ct, body) = security_headers_of(server, method.clone(), path).await;
            assert_eq!(got, status, "{} {method} {path}", server.name);
            assert_eq!(ct, content_type, "{} {method} {path}", server.name);
            // The API preset's headers, once each.
            for (name, values) in &headers {
                let expected = match name.as_str() {
                    "content-security-policy" => vec!["default-src 'none'; frame-ancestors 'none'"],
                    "x-frame-options" => vec!["DENY"],
                    "strict-transport-security" => vec!["max-age=63072000; includeSubDomains"],
                    "cache-control" => vec!["no-store"],
                    "x-content-type-options" => vec!["nosniff"],
                    "referrer-policy" => vec!["no-referrer"],
                    "cross-origin-opener-policy" | "cross-origin-resource-policy" => {
                        vec!["same-origin"]
                    }
                    "x-permitted-cross-domain-policies" => vec!["none"],
                    "x-dns-prefetch-control" => vec!["off"],
                    "permissions-policy" => {
                        assert_eq!(values.len(), 1, "{} {name}", server.name);
                        assert!(
                            values[0].contains("camera=()"),
                            "{} {name}: {values:?}",
                            server.name
                        );
                        continue;
                    }
                    _ => continue,
                };
                assert_eq!(values, &expected, "{} {method} {path}: {name}", server.name);
            }
            assert!(headers.iter().any(|(n, v)| n == "server" && v.is_empty()));
            answers.push((headers, body));
        }
        assert_eq!(answers[0], answers[1], "{method} {path}: actix-api and axum-api differ");
    }
}

#[tokio::test]
async fn a_bad_listen_address_stops_start_up_with_exit_code_2() {
    for name in EXAMPLES {
        let stderr = failed_start_up(name, &[("GUARD_ADDR", "not-an-address")]);
        assert!(stderr.contains("GUARD_ADDR"), "{name}: {stderr}");
    }
}

/// Every header whose name starts with `access-control-` or is `vary`, in order, for comparing.
fn cors_headers(res: &reqwest::Response) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = res
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("access-control-") || n.as_str() == "vary")
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    seen.sort();
    seen
}

/// `method /health` on `server`, from `origin`, with `headers`.
async fn from_origin(
    client: &reqwest::Client,
    server: &ExampleServer,
    method: Method,
    origin: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client.request(method, server.url("/health")).header("origin", origin);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn both_servers_answer_cors_identically() {
    let env = [("CORS_ORIGINS", "https://app.example.com,http://localhost:3000")];
    let mut servers = Vec::new();
    for name in EXAMPLES {
        servers.push(ExampleServer::start(name, &env).await);
    }
    let client = reqwest::Client::new();
    let (app, evil) = ("https://app.example.com", "https://evil.example");
    let asks_get = ("access-control-request-method", "GET");
    let mut answers = Vec::new();
    for server in &servers {
        let mut per_server = Vec::new();
        // An allowed preflight: 204 with the explicit lists.
        let preflight = [asks_get, ("access-control-request-headers", "authorization")];
        let res = from_origin(&client, server, Method::OPTIONS, app, &preflight).await;
        assert_eq!(res.status(), 204, "{}", server.name);
        let h = cors_headers(&res);
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
        assert_eq!(get("access-control-allow-credentials").as_deref(), Some("true"));
        assert_eq!(get("access-control-max-age").as_deref(), Some("600"));
        assert!(get("access-control-allow-headers").unwrap().contains("authorization"));
        per_server.push((204, h));

        // A preflight from elsewhere: 403 problem, no CORS headers, still varies on Origin.
        let res = from_origin(&client, server, Method::OPTIONS, evil, &[asks_get]).await;
        assert_eq!(res.status(), 403, "{}", server.name);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let h = cors_headers(&res);
        assert!(h.iter().all(|(k, _)| k == "vary"), "{}: {h:?}", server.name);
        per_server.push((403, h));

        // A plain OPTIONS is not a preflight: it reaches routing (which serves only GET there).
        let res = from_origin(&client, server, Method::OPTIONS, app, &[]).await;
        assert_eq!(res.status(), 405, "{}", server.name);
        assert_eq!(res.headers()["allow"], "GET,HEAD", "{}", server.name);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        per_server.push((res.status().as_u16(), cors_headers(&res)));

        // An early answer of an inner guard is readable by the allowed origin.
        let res = from_origin(&client, server, Method::TRACE, app, &[]).await;
        assert_eq!(res.status(), 405);
        let h = cors_headers(&res);
        assert!(
            h.contains(&("access-control-allow-origin".into(), "https://app.example.com".into()))
        );
        per_server.push((405, h));

        // No Origin at all: no CORS headers, but the answer still varies on Origin.
        let res = client.get(server.url("/health")).send().await.unwrap();
        assert_eq!(
            cors_headers(&res),
            [("vary".to_owned(), "Origin".to_owned())],
            "{}",
            server.name
        );
        answers.push(per_server);
    }
    assert_eq!(answers[0], answers[1], "actix-api and axum-api differ");
}

#[tokio::test]
async fn a_bad_cors_origin_stops_start_up_with_exit_code_2() {
    for name in EXAMPLES {
        let stderr = failed_start_up(
            name,
            &[("CORS_ORIGINS", "https://ok.example,https://bad.example/path")],
        );
        assert!(
            stderr.contains("CORS_ORIGINS") && stderr.contains("bad.example"),
            "{name}: {stderr}"
        );
    }
}

/// The shared Redis for tests, and a key prefix of this test's own (the Redis is never emptied).
fn redis_env() -> (String, String) {
    (redis_url(), unique("test"))
}

/// `AUTH_RATE_LIMIT` per client IP on /v1/auth/*: RateLimit headers on every answer, a 429 with
/// Retry-After past the limit, and (with Redis) one limit for both servers together.
async fn auth_limit_scenario(shared: bool) {
    let (url, prefix) = redis_env();
    let mut env = vec![("AUTH_RATE_LIMIT", "3/60s")];
    if shared {
        env.extend([("REDIS_URL", url.as_str()), ("REDIS_PREFIX", prefix.as_str())]);
    }
    let mut servers = Vec::new();
    for name in EXAMPLES {
        servers.push(ExampleServer::start(name, &env).await);
    }
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    // Alternate between the servers: shared, they count together; alone, each counts its own.
    for i in 0..8 {
        let server = &servers[i % 2];
        let res = client
            .post(server.url("/v1/auth/register"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["ratelimit-policy"], r#""auth";q=3;w=60"#, "{}", server.name);
        assert!(res.headers().contains_key("ratelimit"), "{}", server.name);
        assert_eq!(
            res.headers()["x-frame-options"],
            "DENY",
            "{}: security headers on 429 too",
            server.name
        );
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
        statuses.push(res.status().as_u16());
    }
    let admitted = statuses.iter().filter(|s| **s == 422).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(admitted + refused, 8, "{statuses:?}");
    assert_eq!(admitted, if shared { 3 } else { 6 }, "{statuses:?}");
    // /health is not limited.
    let res = client.get(servers[0].url("/health")).send().await.unwrap();
    assert!(!res.headers().contains_key("ratelimit-policy"));
}

#[tokio::test]
async fn the_auth_limit_holds_per_instance_in_memory() {
    auth_limit_scenario(false).await;
}

#[tokio::test]
async fn the_auth_limit_is_one_limit_across_instances_with_redis() {
    auth_limit_scenario(true).await;
}

/// `GET url` carrying the request id `id`.
async fn get_with_id(client: &reqwest::Client, url: String, id: &str) -> reqwest::Response {
    client.get(url).header("x-request-id", id).send().await.unwrap()
}

#[tokio::test]
async fn every_request_gets_an_id_logged_once_and_sigterm_exits_cleanly() {
    for name in EXAMPLES {
        // Behind a trusted proxy (the loopback), the proxy's request id is kept...
        let env = [("RUST_LOG", "info"), ("TRUSTED_PROXIES", "127.0.0.1/32")];
        let mut server = ExampleServer::start(name, &env).await;
        let client = reqwest::Client::new();
        let res = get_with_id(&client, server.url("/health"), "trace-me-42").await;
        assert_eq!(res.headers()["x-request-id"], "trace-me-42", "{name}");
        // ...and a client's own is not, when no proxy is trusted.
        let direct = ExampleServer::start(name, &[]).await;
        let res = get_with_id(&client, direct.url("/health"), "chosen-by-client").await;
        let generated = res.headers()["x-request-id"].to_str().unwrap();
        assert!(generated != "chosen-by-client" && generated.len() == 32, "{name}: {generated}");
        // A refusal's log line names the request too (the guards log inside the request's span).
        let res = get_with_id(&client, server.url("/v1/me"), "refused-77").await;
        assert_eq!(res.status(), 401, "{name}");
        let res = client.get(server.url("/nowhere")).send().await.unwrap();
        let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(generated.len(), 32, "{name}");
        assert_eq!(server.terminate(Duration::from_secs(10)), Some(0), "{name} exits 0 on SIGTERM");
        let logs = server.logs();
        // One request line per request, naming its id: exactly once.
        let request_lines = |id: &str| -> Vec<&str> {
            logs.lines().filter(|l| l.contains("guard::request") && l.contains(id)).collect()
        };
        let lines = request_lines("trace-me-42");
        assert_eq!(lines.len(), 1, "{name}: {logs}");
        assert!(
            lines[0].contains("path=/health") && lines[0].contains("status=200"),
            "{name}: {}",
            lines[0]
        );
        let lines = request_lines(&generated);
        assert_eq!(lines.len(), 1, "{name}: {logs}");
        assert!(lines[0].contains("status=404"), "{name}: {}", lines[0]);
        let refusal = logs
            .lines()
            .find(|l| l.contains("request refused") && l.contains("guard=\"jwt\""))
            .unwrap_or_else(|| panic!("{name}: {logs}"));
        assert!(
            refusal.contains("refused-77") && refusal.contains("no credentials"),
            "{name}: {refusal}"
        );
    }
}
