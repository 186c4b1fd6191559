//! What a black-box probe of the servers found, each as the attack that found it, through both
//! servers: logins racing a password change, slow clients (headers, idle connections, bodies),
//! secrets in start-up errors, password rules that disagree between routes.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use guard_tests::{EXAMPLES, ExampleServer, failed_start_up, redis_url, unique};
use serde_json::{Value, json};

const SECRET: &str = "security-test-secret-that-is-long-enough-0123456789";
const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "another long password";

async fn post(
    client: &reqwest::Client,
    server: &ExampleServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut req = client.post(server.url(path)).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, serde_json::from_str(&res.text().await.unwrap()).unwrap_or(Value::Null))
}

async fn me(client: &reqwest::Client, server: &ExampleServer, token: &str) -> u16 {
    client.get(server.url("/v1/me")).bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// Logins with the old password, started every few milliseconds around a password change on
/// `changer`, sent to `login_on`: how many of the tokens they got still work after the change
/// answered 204.
async fn race_round(login_on: &ExampleServer, changer: &ExampleServer) -> (usize, usize) {
    let client = reqwest::Client::new();
    let username = unique("r");
    let body = json!({"username": username, "email": "r@example.com", "password": PASSWORD});
    assert_eq!(post(&client, changer, "/v1/auth/register", None, body).await.0, 201);
    let login = json!({"username": username, "password": PASSWORD});
    let (status, body) = post(&client, changer, "/v1/auth/login", None, login.clone()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let mut logins = tokio::task::JoinSet::new();
    for i in 0..12u64 {
        let (client, url, login) = (client.clone(), login_on.url("/v1/auth/login"), login.clone());
        logins.spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 8)).await;
            let res = client.post(url).json(&login).send().await.unwrap();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            body["access_token"].as_str().map(str::to_owned)
        });
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let change = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let (status, body) = post(&client, changer, "/v1/auth/password", Some(&token), change).await;
    assert_eq!(status, 204, "{body}");
    let tokens: Vec<String> = logins.join_all().await.into_iter().flatten().collect();
    let mut survivors = 0;
    for t in &tokens {
        if me(&client, login_on, t).await == 200 {
            survivors += 1;
        }
    }
    (tokens.len(), survivors)
}

async fn no_old_password_token_survives(login_on: &ExampleServer, changer: &ExampleServer) {
    let (mut issued, mut survived) = (0, 0);
    for _ in 0..4 {
        let (i, s) = race_round(login_on, changer).await;
        issued += i;
        survived += s;
    }
    assert!(issued > 0, "{}: no login raced the change", login_on.name);
    assert_eq!(
        survived, 0,
        "{}: {survived} of {issued} old-password tokens survived",
        login_on.name
    );
}

#[tokio::test]
async fn logins_racing_a_password_change_keep_no_token_on_one_instance() {
    for name in EXAMPLES {
        let server = ExampleServer::start_optimized(
            name,
            &[("JWT_SECRET", SECRET), ("AUTH_RATE_LIMIT", "1000/60s")],
        )
        .await;
        no_old_password_token_survives(&server, &server).await;
    }
}

#[tokio::test]
async fn logins_racing_a_password_change_keep_no_token_across_two_instances() {
    let url = redis_url();
    let prefix = unique("race");
    let env = [
        ("JWT_SECRET", SECRET),
        ("AUTH_RATE_LIMIT", "1000/60s"),
        ("REDIS_URL", url.as_str()),
        ("REDIS_PREFIX", prefix.as_str()),
    ];
    let a = ExampleServer::start_optimized(EXAMPLES[0], &env).await;
    let b = ExampleServer::start_optimized(EXAMPLES[1], &env).await;
    no_old_password_token_survives(&a, &b).await;
    no_old_password_token_survives(&b, &a).await;
}

/// Opens a raw connection to `server`, sends `first`, then `trickle` every `every`, reading what
/// comes back, until the server closes the connection or `give_up` passes: how long the server
/// kept it open (`None`: still open when the test gave up), and what it sent.
fn held_open(
    server: std::net::SocketAddr,
    first: &[u8],
    trickle: &[u8],
    every: Duration,
    give_up: Duration,
) -> (Option<Duration>, String) {
    let mut stream = TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    stream.write_all(first).unwrap();
    let mut received = Vec::new();
    let mut next_write = started + every;
    let mut buf = [0u8; 4096];
    while started.elapsed() < give_up {
        match stream.read(&mut buf) {
            Ok(0) => return (Some(started.elapsed()), String::from_utf8_lossy(&received).into()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (Some(started.elapsed()), String::from_utf8_lossy(&received).into()),
        }
        if !trickle.is_empty() && Instant::now() >= next_write {
            if stream.write_all(trickle).is_err() {
                return (Some(started.elapsed()), String::from_utf8_lossy(&received).into());
            }
            next_write += every;
        }
    }
    (None, String::from_utf8_lossy(&received).into())
}

/// A slow client of [`held_open`], and what a server must do with it.
struct SlowClient {
    what: &'static str,
    first: &'static [u8],
    trickle: &'static [u8],
    every: Duration,
    give_up: Duration,
    /// When the server must have closed the connection.
    closed: std::ops::Range<Duration>,
    /// What the server's answer must start with (`""`: anything, or nothing) and contain.
    answer: &'static str,
    answer_contains: &'static [&'static str],
}

const SLOW_CLIENTS: [SlowClient; 3] = [
    // A head trickled one header line a second (slowloris): closed at the 5 s head deadline.
    SlowClient {
        what: "a trickled head",
        first: b"GET /health HTTP/1.1\r\nHost: a\r\n",
        trickle: b"X-Slow: 1\r\n",
        every: Duration::from_secs(1),
        give_up: Duration::from_secs(12),
        closed: Duration::from_secs(4)..Duration::from_secs(8),
        answer: "",
        answer_contains: &[],
    },
    // A kept-alive connection that idles after its response: closed within the idle limit.
    SlowClient {
        what: "an idle connection",
        first: b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
        trickle: b"",
        every: Duration::from_secs(1),
        give_up: Duration::from_secs(12),
        closed: Duration::ZERO..Duration::from_secs(8),
        answer: "HTTP/1.1 200",
        answer_contains: &[],
    },
    // A 16,000-byte body sent five bytes a second: 408 problem+json at the 10 s body deadline,
    // and the connection closed.
    SlowClient {
        what: "a trickled body",
        first: b"POST /v1/auth/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 16000\r\n\r\n{",
        trickle: b" ",
        every: Duration::from_millis(200),
        give_up: Duration::from_secs(16),
        closed: Duration::from_secs(9)..Duration::from_secs(14),
        answer: "HTTP/1.1 408",
        answer_contains: &["application/problem+json", "tag:guard.rs,2026:problem:request-timeout"],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_by_both_servers() {
    let mut servers = Vec::new();
    for name in EXAMPLES {
        servers.push(ExampleServer::start(name, &[("AUTH_RATE_LIMIT", "1000/60s")]).await);
    }
    let mut checks = Vec::new();
    for server in &servers {
        for client in &SLOW_CLIENTS {
            let (name, addr) = (server.name, server.addr);
            checks.push(std::thread::spawn(move || {
                let (closed, received) =
                    held_open(addr, client.first, client.trickle, client.every, client.give_up);
                let what = client.what;
                assert!(received.starts_with(client.answer), "{name}, {what}: {received}");
                for part in client.answer_contains {
                    assert!(received.contains(part), "{name}, {what}: {received}");
                }
                let closed = closed.unwrap_or_else(|| panic!("{name}: {what} is held open"));
                assert!(client.closed.contains(&closed), "{name}, {what}: {closed:?}");
            }));
        }
    }
    for check in checks {
        check.join().unwrap();
    }
}

#[tokio::test]
async fn no_secret_is_printed_when_start_up_fails() {
    let port = guard_tests::free_addr().port();
    let redis = format!("redis://default:s3cret-pw@127.0.0.1:{port}");
    for name in EXAMPLES {
        let addr = guard_tests::free_addr().to_string();
        let stderr = failed_start_up(
            name,
            &[
                ("GUARD_ADDR", &addr),
                ("REDIS_URL", &redis),
                ("JWT_SECRET", "jwt-secret-that-is-long-enough-0123456789"),
            ],
        );
        assert!(
            stderr.contains("REDIS_URL") && stderr.contains("***@127.0.0.1"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("s3cret-pw"), "{name}: the Redis password is printed: {stderr}");
        assert!(!stderr.contains("jwt-secret-that"), "{name}: the JWT secret is printed: {stderr}");
    }
}

#[tokio::test]
async fn every_password_field_counts_one_maximum_the_same_way() {
    let client = reqwest::Client::new();
    for name in EXAMPLES {
        let server = ExampleServer::start(name, &[("AUTH_RATE_LIMIT", "1000/60s")]).await;
        // 600 characters of two bytes each: within the limit everywhere.
        let accented = "é".repeat(600);
        let username = unique("p");
        let body = json!({"username": username, "email": "p@example.com", "password": accented});
        assert_eq!(post(&client, &server, "/v1/auth/register", None, body).await.0, 201, "{name}");
        let login = json!({"username": username, "password": accented});
        let (status, body) = post(&client, &server, "/v1/auth/login", None, login).await;
        assert_eq!(status, 200, "{name}: a registered password logs in: {body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        // One character past the limit: refused by every field, as 422 naming the field.
        let long = "é".repeat(1025);
        let refused = [
            (
                "/v1/auth/register",
                None,
                json!({"username": unique("q"), "email": "q@example.com", "password": long}),
                "/password",
            ),
            ("/v1/auth/login", None, json!({"username": username, "password": long}), "/password"),
            (
                "/v1/auth/password",
                Some(token.as_str()),
                json!({"current_password": long, "new_password": "a fine new password"}),
                "/current_password",
            ),
            (
                "/v1/auth/password",
                Some(token.as_str()),
                json!({"current_password": accented, "new_password": long}),
                "/new_password",
            ),
        ];
        for (path, token, body, pointer) in refused {
            let (status, problem) = post(&client, &server, path, token, body).await;
            assert_eq!(status, 422, "{name} {path}: {problem}");
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{name} {path}: {problem}");
        }
    }
}
