//! CORS as a real browser enforces it: headless Chromium loads a page from an allowed origin and
//! one from a disallowed origin, each page `fetch()`es every example server with credentials and
//! an `Authorization` header, and reports what the browser let it read.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use guard_tests::{EXAMPLES, ExampleServer, free_addr};
use serde_json::Value;
use tokio::sync::mpsc;

/// The page: fetches each target named in the URL fragment, then posts what it could read back
/// to its own origin.
const PAGE: &str = r#"<!doctype html>
<html><body><script>
(async () => {
  const targets = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const results = {};
  for (const [name, url] of Object.entries(targets)) {
    try {
      const res = await fetch(url, {
        method: "GET",
        credentials: "include",
        headers: { "Authorization": "Bearer not-a-real-token" },
      });
      results[name] = {
        readable: true,
        status: res.status,
        body: await res.text(),
        contentType: res.headers.get("content-type"),
      };
    } catch (err) {
      results[name] = { readable: false, error: String(err) };
    }
  }
  await fetch("/result", { method: "POST", body: JSON.stringify(results) });
})();
</script></body></html>"#;

/// Serves the page on `addr` and forwards each posted result.
async fn page_server(addr: SocketAddr, results: mpsc::Sender<Value>) {
    let app = Router::new()
        .route("/page.html", get(|| async { Html(PAGE) }))
        .route(
            "/result",
            post(|State(tx): State<mpsc::Sender<Value>>, body: String| async move {
                let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null)).await;
                "ok"
            }),
        )
        .with_state(results);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| {
        for candidate in ["chromium", "chromium-browser", "google-chrome"] {
            if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
                return candidate.to_owned();
            }
        }
        panic!("no Chromium found: install it (apt-get install chromium) or set CHROMIUM")
    })
}

/// Opens `url` in a fresh headless Chromium and returns what the page posted back.
async fn visit(url: &str, results: &mut mpsc::Receiver<Value>) -> Value {
    let profile = std::env::temp_dir().join(format!(
        "guard-chromium-{}-{}",
        std::process::id(),
        free_addr().port()
    ));
    let mut browser = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let got = tokio::time::timeout(Duration::from_secs(60), results.recv()).await;
    let _ = browser.kill();
    let _ = browser.wait();
    let _ = std::fs::remove_dir_all(&profile);
    got.expect("the page reported within 60 s").expect("result channel open")
}

#[tokio::test]
async fn the_browser_lets_only_the_allowed_origin_read_the_answers() {
    let allowed = free_addr();
    let denied = free_addr();
    let (tx, mut rx) = mpsc::channel(4);
    tokio::spawn(page_server(allowed, tx.clone()));
    tokio::spawn(page_server(denied, tx));

    let origins = format!("http://localhost:3000,http://{allowed}");
    let mut servers = Vec::new();
    for name in EXAMPLES {
        servers.push(ExampleServer::start(name, &[("CORS_ORIGINS", &origins)]).await);
    }
    let targets: serde_json::Map<String, Value> =
        servers.iter().map(|s| (s.name.to_owned(), Value::from(s.url("/health")))).collect();
    let fragment = serde_json::to_string(&targets).unwrap();
    let fragment: String = fragment.bytes().map(|b| format!("%{b:02X}")).collect();

    let from_allowed = visit(&format!("http://{allowed}/page.html#{fragment}"), &mut rx).await;
    for server in &servers {
        let seen = &from_allowed[server.name];
        assert_eq!(seen["readable"], true, "{}: {seen}", server.name);
        assert_eq!(seen["status"], 200, "{}: {seen}", server.name);
        assert_eq!(seen["body"], r#"{"status":"ok"}"#, "{}: {seen}", server.name);
        assert_eq!(seen["contentType"], "application/json", "{}: {seen}", server.name);
    }

    let from_denied = visit(&format!("http://{denied}/page.html#{fragment}"), &mut rx).await;
    for server in &servers {
        let seen = &from_denied[server.name];
        assert_eq!(seen["readable"], false, "{}: {seen}", server.name);
        assert!(
            seen["error"].as_str().unwrap().contains("Failed to fetch"),
            "{}: {seen}",
            server.name
        );
    }
}
