//! The shared store failing under load, with the settings users run, through optimized builds of
//! both example servers: Redis killed and restarted, Redis paused, latency injected on the way
//! to Redis, one master of a Cluster lost. Whatever happens, every request is answered within
//! the store deadline's bounds by its policy (here: the admitted request's 422 for its empty
//! body, or the fail-closed 503 of `/v1/auth`), never a 500, and the servers recover by
//! themselves within 5 s of the store returning.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use guard_tests::proxy::{Fault, FaultProxy};
use guard_tests::redis_server::{RedisCluster, RedisServer};
use guard_tests::{EXAMPLES, ExampleServer, unique};

/// What one request of the load saw.
#[derive(Debug, Clone)]
struct Answer {
    /// When it was sent, from the start of the load.
    at: Duration,
    took: Duration,
    status: u16,
    problem: bool,
}

/// Requests that keep `concurrency` logins (`{}`: admitted requests answer 422) in flight
/// against `server` until stopped; each client claims the address of its `forwarded_for`.
struct Load {
    stop: Arc<AtomicBool>,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<Vec<Answer>>>,
}

impl Load {
    fn start(server: &ExampleServer, concurrency: usize, forwarded_for: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let tasks = (0..concurrency)
            .map(|i| {
                let (stop, client, url) =
                    (stop.clone(), client.clone(), server.url("/v1/auth/login"));
                let ip = forwarded_for.get(i % forwarded_for.len().max(1)).cloned();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        let mut req =
                            client.post(&url).header("content-type", "application/json").body("{}");
                        if let Some(ip) = &ip {
                            req = req.header("x-forwarded-for", ip);
                        }
                        let res = req.send().await.unwrap();
                        let problem = res
                            .headers()
                            .get("content-type")
                            .is_some_and(|v| v == "application/problem+json");
                        answers.push(Answer {
                            at: sent - started,
                            took: sent.elapsed(),
                            status: res.status().as_u16(),
                            problem,
                        });
                        // Keep the load steady but bounded on a 2-core machine.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    answers
                })
            })
            .collect();
        Self { stop, started, tasks }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_by_key(|a| a.at);
        all
    }
}

/// Every answer is the admitted request's 422 or a fail-closed 503 problem, none took longer
/// than `bound`.
fn check_answers(name: &str, answers: &[Answer], bound: Duration) {
    assert!(!answers.is_empty(), "{name}: no request was answered");
    for a in answers {
        assert!(matches!(a.status, 422 | 503), "{name}: {a:?}");
        assert!(a.problem, "{name}: every answer here is problem+json: {a:?}");
        assert!(a.took < bound, "{name}: answered in {:?}, over {bound:?}: {a:?}", a.took);
    }
}

/// The servers recover by themselves: the first 422 sent `settle` or later after the store
/// returned (at `returned`) comes within 5 s of its return.
fn check_recovery(name: &str, answers: &[Answer], returned: Duration, settle: Duration) {
    let back = answers
        .iter()
        .find(|a| a.at >= returned + settle && a.status == 422)
        .map(|a| a.at)
        .unwrap_or_else(|| panic!("{name}: never recovered"));
    assert!(
        back - returned < Duration::from_secs(5),
        "{name}: recovered after {:?}",
        back - returned
    );
}

fn env<'a>(redis: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("REDIS_URL", redis),
        ("REDIS_PREFIX", prefix),
        ("JWT_SECRET", "faults-test-secret-that-is-long-enough-0123456789"),
        ("AUTH_RATE_LIMIT", "1000000/60s"),
    ]
}

/// The bound on any answer while the store fails: two attempts of the 250 ms deadline, and
/// slack for a loaded 2-core machine; well below the Redis client's own 1 s timeouts, which would
/// bound it if the deadline were not applied (a paused Redis would then cost 1 s and more).
const BOUND: Duration = Duration::from_millis(900);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_load_is_answered_by_policy_and_recovery_takes_under_5_s() {
    for name in EXAMPLES {
        let mut redis = RedisServer::start();
        let prefix = unique("kill");
        let server = ExampleServer::start_optimized(name, &env(&redis.url(), &prefix)).await;
        let load = Load::start(&server, 8, &[]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        redis.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.restart();
        let restarted = load.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let answers = load.stop().await;
        check_answers(name, &answers, BOUND);
        let down: Vec<&Answer> = answers
            .iter()
            .filter(|a| a.at > restarted - Duration::from_secs(1) && a.at < restarted)
            .collect();
        assert!(down.iter().all(|a| a.status == 503), "{name}: fail closed while down: {down:?}");
        check_recovery(name, &answers, restarted, Duration::ZERO);
    }
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_for_2_s_piles_nothing_up() {
    for name in EXAMPLES {
        let redis = RedisServer::start();
        let prefix = unique("pause");
        let server = ExampleServer::start_optimized(name, &env(&redis.url(), &prefix)).await;
        let load = Load::start(&server, 16, &[]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = rss_kib(server.pid());
        redis.pause();
        let paused = load.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let during = rss_kib(server.pid());
        redis.resume();
        let resumed = load.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = rss_kib(server.pid());
        let answers = load.stop().await;
        // No request waits for the paused store beyond the deadline: nothing piles up.
        check_answers(name, &answers, BOUND);
        let while_paused = answers.iter().filter(|a| a.at > paused && a.at < resumed).count();
        assert!(
            while_paused > 16,
            "{name}: requests kept being answered while paused: {while_paused}"
        );
        // Memory stays flat: no queue of waiting calls grows.
        for (when, rss) in [("during", during), ("after", after)] {
            assert!(
                rss < before + 16 * 1024,
                "{name}: RSS {when} the pause {rss} KiB, before {before} KiB"
            );
        }
        check_recovery(name, &answers, resumed, Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_on_the_way_to_redis_opens_the_breaker_by_rate_and_its_end_closes_it() {
    for name in EXAMPLES {
        let redis = RedisServer::start();
        let proxy = FaultProxy::start(redis.addr());
        let prefix = unique("slow");
        let url = proxy.url();
        let server = ExampleServer::start_optimized(name, &env(&url, &prefix)).await;
        let load = Load::start(&server, 8, &[]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.set(Fault::Delay(Duration::from_millis(400)));
        let slowed = load.elapsed();
        tokio::time::sleep(Duration::from_secs(3)).await;
        proxy.set(Fault::None);
        let healed = load.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let answers = load.stop().await;
        check_answers(name, &answers, BOUND);
        // Before the rate is reached, the blips are decided locally (422, slowly); once the
        // breaker is open, fail closed answers at once.
        let slow_phase: Vec<&Answer> =
            answers.iter().filter(|a| a.at > slowed && a.at < healed).collect();
        assert!(slow_phase.iter().any(|a| a.status == 422), "{name}: blips decided locally first");
        let open: Vec<&Answer> = slow_phase.iter().copied().filter(|a| a.status == 503).collect();
        assert!(!open.is_empty(), "{name}: the breaker never opened: {slow_phase:?}");
        assert!(
            open.iter().any(|a| a.took < Duration::from_millis(100)),
            "{name}: an open breaker answers without waiting"
        );
        check_recovery(name, &answers, healed, Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_cluster_master_stops_only_its_own_slots() {
    let mut cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.unwrap();
    // Client addresses (the rate-limit keys, behind a trusted proxy) on the victim master, and
    // on the two others.
    let victim = 0;
    let (mut lost, mut kept) = (Vec::new(), Vec::new());
    for i in 1..=250u8 {
        let ip = format!("203.0.113.{i}");
        let node = cluster.node_of_slot(guard_core::keys::key_slot(ip.as_bytes())).unwrap();
        if node == victim { lost.push(ip) } else { kept.push(ip) }
    }
    assert!(lost.len() >= 4 && kept.len() >= 4, "{lost:?} {kept:?}");
    let url = cluster.url();
    for name in EXAMPLES {
        let prefix = unique("node");
        let mut env = env(&url, &prefix);
        env.push(("TRUSTED_PROXIES", "127.0.0.1/32"));
        let server = ExampleServer::start_optimized(name, &env).await;
        let healthy = Load::start(&server, 4, &kept);
        let cut_off = Load::start(&server, 4, &lost);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = healthy.elapsed();
        if name == EXAMPLES[0] {
            cluster.node_mut(victim).kill();
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let healthy = healthy.stop().await;
        let cut_off = cut_off.stop().await;
        check_answers(name, &healthy, BOUND);
        check_answers(name, &cut_off, BOUND);
        // The healthy masters' keys keep being decided by Redis: every answer 422.
        assert!(
            healthy.iter().all(|a| a.status == 422),
            "{name}: {:?}",
            healthy.iter().filter(|a| a.status != 422).collect::<Vec<_>>()
        );
        // The lost master's keys follow their policy (fail closed) once it is judged gone (at
        // once when its connections are refused, within the breaker's window when they hang).
        let late: Vec<&Answer> =
            cut_off.iter().filter(|a| a.at > before + Duration::from_millis(2500)).collect();
        assert!(!late.is_empty() && late.iter().all(|a| a.status == 503), "{name}: {late:?}");
    }
}
