//! The shared-store promise under load, with the settings users run: five optimized processes of
//! one example server on one Redis (and on a 3-master Redis Cluster), freshly started, then 200
//! concurrent logins from one client against a limit of 7 per minute: exactly 7 admitted, the rest
//! 429, and never a 503 while Redis is healthy.
//!
//! `BURST_RUNS` (default 3) sets how many bursts each case runs; `cargo xtask stress` runs 20
//! and prints each run's counts. With `BURST_STORE_LATENCY=1` the servers also log every store
//! call (`trace`), and each run prints the p50, p99, p99.9 and maximum of their durations: the
//! measurement behind the default store deadline.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::collections::BTreeMap;

use guard_tests::redis_server::RedisCluster;
use guard_tests::{ExampleServer, redis_url, unique};
use serde_json::json;

const SECRET: &str = "burst-test-secret-that-is-long-enough-0123456789";
const PASSWORD: &str = "correct horse battery";
const LIMIT: usize = 7;
const REQUESTS: usize = 200;

fn runs() -> usize {
    std::env::var("BURST_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(3)
}

fn measure_latency() -> bool {
    std::env::var_os("BURST_STORE_LATENCY").is_some_and(|v| v == "1")
}

/// The store call durations (µs) the servers logged at `trace`.
fn store_calls(logs: &str) -> Vec<u64> {
    logs.lines()
        .filter(|l| l.contains("store call"))
        .filter_map(|l| l.split("elapsed_us=").nth(1)?.split_whitespace().next()?.parse().ok())
        .collect()
}

/// `p50 / p99 / p99.9 / max` of `values`, in milliseconds.
fn percentiles(mut values: Vec<u64>) -> String {
    if values.is_empty() {
        return "no store calls logged".into();
    }
    values.sort_unstable();
    let at = |q: f64| {
        let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
        values[i] as f64 / 1000.0
    };
    format!(
        "{} store calls: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        values.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

/// One burst on five fresh processes of `name` on `redis`: the count of each status.
async fn burst(name: &'static str, redis: &str) -> BTreeMap<u16, usize> {
    let prefix = unique("burst");
    let log = if measure_latency() { "warn,guard_core::breaker=trace" } else { "warn" };
    // Behind a proxy (the loopback): the registration and the burst come from two clients, so
    // the burst has the whole limit to itself.
    let env = [
        ("REDIS_URL", redis),
        ("REDIS_PREFIX", prefix.as_str()),
        ("JWT_SECRET", SECRET),
        ("AUTH_RATE_LIMIT", "7/60s"),
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ("RUST_LOG", log),
    ];
    let mut servers = Vec::new();
    for _ in 0..5 {
        servers.push(ExampleServer::start_optimized(name, &env).await);
    }
    let client = reqwest::Client::new();
    let username = unique("b");
    let registered = client
        .post(servers[0].url("/v1/auth/register"))
        .header("x-forwarded-for", "198.51.100.1")
        .json(&json!({"username": username, "email": "b@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201, "{name}");

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let url = servers[i % servers.len()].url("/v1/auth/login");
        let client = client.clone();
        let body = json!({"username": username, "password": PASSWORD});
        tasks.spawn(async move {
            let res = client
                .post(url)
                .header("x-forwarded-for", "203.0.113.7")
                .json(&body)
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        });
    }
    let mut counts = BTreeMap::new();
    while let Some(status) = tasks.join_next().await {
        *counts.entry(status.unwrap()).or_insert(0) += 1;
    }
    if measure_latency() {
        let calls = servers.iter().flat_map(|s| store_calls(&s.logs())).collect();
        println!("  {name}: {}", percentiles(calls));
    }
    if counts.contains_key(&503) {
        for server in &servers {
            let logs = server.logs();
            let unusual: Vec<&str> = logs.lines().filter(|l| !l.contains("store call")).collect();
            eprintln!("--- {} log ---\n{}", server.name, unusual.join("\n"));
        }
    }
    counts
}

/// One burst at a time on this 2-core machine: what is measured is each burst, not two at once.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs [`burst`] `runs()` times for each server, printing each run; then checks them all.
async fn bursts(store: &str, redis: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut failures = Vec::new();
    for name in guard_tests::EXAMPLES {
        for run in 1..=runs() {
            let counts = burst(name, redis).await;
            let admitted = counts.get(&200).copied().unwrap_or(0);
            let unavailable = counts.get(&503).copied().unwrap_or(0);
            println!(
                "burst {name} on {store}, run {run}: {admitted} admitted, {unavailable} x 503, all {counts:?}"
            );
            let expected = BTreeMap::from([(200, LIMIT), (429, REQUESTS - LIMIT)]);
            if counts != expected {
                failures.push(format!("{name} run {run}: {counts:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "expected exactly {LIMIT} x 200 and the rest 429: {failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_on_one_redis_admits_exactly_the_limit_and_no_503() {
    bursts("one Redis", &redis_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_on_a_redis_cluster_admits_exactly_the_limit_and_no_503() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.unwrap();
    bursts("a 3-master Cluster", &cluster.url()).await;
}
