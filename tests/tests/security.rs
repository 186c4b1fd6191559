//! What a black-box probe of the servers found, each as the attack that found it, through both
//! servers: logins racing a password change, slow clients (headers, idle connections, bodies),
//! secrets in start-up errors, password rules that disagree between routes.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use guard_tests::{EXAMPLES, ExampleServer, redis_url, unique};
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
