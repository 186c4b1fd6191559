//! Several example-server processes sharing one Redis (or one Redis Cluster) behave as one API:
//! a logout or a password change on one instance is seen by the others within a second, and a
//! rate limit holds exactly across all of them, whatever the client claims in X-Forwarded-For.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::time::{Duration, Instant};

use guard_tests::redis_server::RedisCluster;
use guard_tests::{ExampleServer, redis_url, unique};
use serde_json::{Value, json};

const SECRET: &str = "instances-test-secret-that-is-long-enough-0123456789";
const PASSWORD: &str = "correct horse battery";

/// `names` started on one store, sharing the JWT secret and the key prefix.
async fn cluster_of(
    names: &[&'static str],
    redis: &str,
    extra: &[(&str, &str)],
) -> Vec<ExampleServer> {
    let prefix = unique("inst");
    // The default store deadline and breaker: what users run.
    let mut env =
        vec![("REDIS_URL", redis), ("REDIS_PREFIX", prefix.as_str()), ("JWT_SECRET", SECRET)];
    env.extend_from_slice(extra);
    let mut servers = Vec::new();
    for name in names {
        servers.push(ExampleServer::start(name, &env).await);
    }
    servers
}

async fn post(
    server: &ExampleServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(server.url(path)).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn me(server: &ExampleServer, token: &str) -> u16 {
    let res =
        reqwest::Client::new().get(server.url("/v1/me")).bearer_auth(token).send().await.unwrap();
    res.status().as_u16()
}

async fn login(server: &ExampleServer, username: &str, password: &str) -> String {
    let (status, body) =
        post(server, "/v1/auth/login", None, json!({"username": username, "password": password}))
            .await;
    assert_eq!(status, 200, "{}: {body}", server.name);
    body["access_token"].as_str().unwrap().to_owned()
}

/// Polls `me` on `server` until it answers `expected`; how long that took.
async fn until_me(
    server: &ExampleServer,
    token: &str,
    expected: u16,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        if me(server, token).await == expected {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{}: not {expected} within {within:?}", server.name);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn logout_and_password_change_reach_every_instance_within_a_second() {
    let url = redis_url();
    let servers = cluster_of(&["actix-api", "axum-api", "actix-api"], &url, &[]).await;
    let (a, b, c) = (&servers[0], &servers[1], &servers[2]);
    let username = unique("m");
    let (status, _) = post(
        a,
        "/v1/auth/register",
        None,
        json!({"username": username, "email": "m@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 201);

    // Register on A, log in on B; the token works everywhere.
    let token = login(b, &username, PASSWORD).await;
    for server in &servers {
        assert_eq!(me(server, &token).await, 200, "{}", server.name);
    }
    // Log out on A: refused on C within 1 s.
    let (status, _) = post(a, "/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    until_me(c, &token, 401, Duration::from_secs(1)).await;
    assert_eq!(me(b, &token).await, 401);

    // Two live tokens; change the password on C: both refused on A within 1 s, a new login works.
    let old_1 = login(a, &username, PASSWORD).await;
    let old_2 = login(b, &username, PASSWORD).await;
    let change = json!({"current_password": PASSWORD, "new_password": "another long password"});
    let (status, _) = post(c, "/v1/auth/password", Some(&old_1), change).await;
    assert_eq!(status, 204);
    until_me(a, &old_1, 401, Duration::from_secs(1)).await;
    until_me(a, &old_2, 401, Duration::from_secs(1)).await;
    let fresh = login(b, &username, "another long password").await;
    assert_eq!(me(a, &fresh).await, 200);
}

/// 200 concurrent requests from one client IP to five instances: the statuses the limiter let
/// through.
async fn admitted_of_200(servers: &[ExampleServer], spoof: bool) -> usize {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let url = servers[i % servers.len()].url("/v1/auth/login");
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).header("content-type", "application/json").body("{}");
            if spoof {
                // Every request claims another client address.
                req = req.header("x-forwarded-for", format!("203.0.113.{}", i % 250));
            }
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let logs: Vec<String> = servers.iter().map(|s| s.logs()).collect();
    assert!(statuses.iter().all(|s| *s == 422 || *s == 429), "{statuses:?}\n{logs:#?}");
    statuses.iter().filter(|s| **s == 422).count()
}

const FIVE: [&str; 5] = ["actix-api", "axum-api", "actix-api", "axum-api", "actix-api"];

#[tokio::test]
async fn a_limit_of_7_holds_exactly_across_five_instances_on_one_redis() {
    let url = redis_url();
    let servers = cluster_of(&FIVE, &url, &[("AUTH_RATE_LIMIT", "7/60s")]).await;
    assert_eq!(admitted_of_200(&servers, false).await, 7);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_buys_no_quota() {
    let url = redis_url();
    let servers = cluster_of(&FIVE, &url, &[("AUTH_RATE_LIMIT", "7/60s")]).await;
    assert_eq!(admitted_of_200(&servers, true).await, 7);
    // The control: behind a trusted proxy (here, the loopback), the header names the client, so
    // the same traffic comes from 200 different clients, each well within its own limit.
    let trusted = cluster_of(
        &FIVE,
        &url,
        &[("AUTH_RATE_LIMIT", "7/60s"), ("TRUSTED_PROXIES", "127.0.0.1/32")],
    )
    .await;
    assert_eq!(admitted_of_200(&trusted, true).await, 200);
}

#[tokio::test]
async fn a_limit_of_7_holds_exactly_across_five_instances_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let servers = cluster_of(&FIVE, &cluster.url(), &[("AUTH_RATE_LIMIT", "7/60s")]).await;
    assert_eq!(admitted_of_200(&servers, false).await, 7);
    // The whole flow works on the cluster too: users, tokens and revocations across instances.
    let servers = cluster_of(&["axum-api", "actix-api"], &cluster.url(), &[]).await;
    let username = unique("c");
    let body = json!({"username": username, "email": "c@example.com", "password": PASSWORD});
    assert_eq!(post(&servers[0], "/v1/auth/register", None, body).await.0, 201);
    let token = login(&servers[1], &username, PASSWORD).await;
    assert_eq!(me(&servers[0], &token).await, 200);
    assert_eq!(post(&servers[1], "/v1/auth/logout", Some(&token), json!({})).await.0, 204);
    until_me(&servers[0], &token, 401, Duration::from_secs(1)).await;
}
