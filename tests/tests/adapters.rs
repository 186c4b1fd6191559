//! Behaviour both adapters must share, written once and run through actix-web and axum.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::extract::{ConnectInfo, Extension};
use axum::response::IntoResponse;
use guard_actix::{GuardData, GuardMiddleware};
use guard_core::{
    Decision, Guard, GuardExt, GuardRequest, HeaderKey, PreparedHeader, Problem, ProblemType,
    ResponseHead,
};
use guard_tower::GuardLayer;
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// What a guard left for the handler.
#[derive(Clone, Debug)]
struct Seen(String);

/// Leaves what it saw for the handler, answers early when asked to by `x-answer`, and marks
/// every response it passes.
struct Probe {
    mark: PreparedHeader,
}

impl Guard for Probe {
    type State = String;

    async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<String> {
        let query = req.query().unwrap_or("");
        let seen = format!(
            "{} {} {} peer={}",
            req.method(),
            req.path(),
            query,
            req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
        );
        if req.header(&http::HeaderName::from_static("x-answer")).is_some() {
            return Decision::Respond(
                Problem::new(ProblemType::RATE_LIMITED).with_detail(seen).into(),
            );
        }
        req.extensions_mut().insert(Seen(seen.clone()));
        Decision::Continue(seen)
    }

    fn respond(&self, state: String, res: &mut dyn ResponseHead) {
        res.set(&self.mark);
        res.remove(&HeaderKey::from_static("server"));
        let seen = HeaderValue::from_str(&state).unwrap_or(HeaderValue::from_static("?"));
        res.set_value(&HeaderKey::from_static("x-seen"), seen);
    }
}

/// An outer guard that only amends responses, to prove it sees inner early answers.
struct Outer;

impl Guard for Outer {
    type State = ();

    async fn check(&self, _req: &mut GuardRequest<'_>) -> Decision<()> {
        Decision::Continue(())
    }

    fn respond(&self, _: (), res: &mut dyn ResponseHead) {
        res.append(&PreparedHeader::from_static("vary", "origin"));
        res.set(&PreparedHeader::from_static("x-outer", "1"));
    }
}

fn stack() -> impl Guard {
    Outer.then(Probe { mark: PreparedHeader::from_static("x-guarded", "yes") })
}

/// A response reduced to what both frameworks can be compared on.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

struct Req {
    method: &'static str,
    uri: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

fn req(method: &'static str, uri: &'static str) -> Req {
    Req { method, uri, headers: vec![] }
}

const PEER: &str = "198.51.100.7:5000";

async fn via_actix(r: &Req) -> Answer {
    let app = actix_test::init_service(
        App::new()
            .wrap(GuardMiddleware::new(stack()))
            .route(
                "/echo",
                web::get().to(|seen: GuardData<Seen>| async move {
                    HttpResponse::Ok().insert_header(("server", "leaky/1.0")).body(seen.0.0)
                }),
            )
            .default_service(web::to(|| async {
                guard_actix::problem(Problem::from_status(StatusCode::NOT_FOUND))
            })),
    )
    .await;
    let mut t = actix_test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(r.method.as_bytes()).unwrap())
        .uri(r.uri)
        .peer_addr(PEER.parse().unwrap());
    for (k, v) in &r.headers {
        t = t.insert_header((*k, *v));
    }
    let res = actix_test::call_service(&app, t.to_request()).await;
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let body = actix_test::read_body(res).await;
    Answer { status, headers, body: String::from_utf8(body.to_vec()).unwrap() }
}

async fn via_axum(r: &Req) -> Answer {
    let app: Router = Router::new()
        .route(
            "/echo",
            axum::routing::get(|Extension(seen): Extension<Seen>| async move {
                ([("server", "leaky/1.0")], seen.0).into_response()
            }),
        )
        .fallback(|| async { guard_tower::problem(Problem::from_status(StatusCode::NOT_FOUND)) })
        .layer(GuardLayer::new(stack()));
    let mut b = http::Request::builder().method(r.method).uri(r.uri);
    for (k, v) in &r.headers {
        b = b.header(*k, *v);
    }
    let mut request = b.body(axum::body::Body::empty()).unwrap();
    let peer: SocketAddr = PEER.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let res = app.oneshot(request).await.unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<(String, String)> = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body: String::from_utf8(body.to_vec()).unwrap() }
}

/// Runs `r` through both adapters and returns both answers, after checking what any answer
/// must satisfy whichever framework gave it.
async fn both(r: Req) -> [Answer; 2] {
    [via_actix(&r).await, via_axum(&r).await]
}

/// Headers that differ by framework for reasons outside guard (framing).
fn comparable(s: &Answer) -> Vec<(String, String)> {
    s.headers.iter().filter(|(n, _)| n != "content-length" && n != "date").cloned().collect()
}

#[actix_web::test]
async fn the_handler_sees_the_head_and_the_guards_data_and_its_response_is_amended() {
    for res in both(req("GET", "/echo?x=1")).await {
        assert_eq!(res.status, 200);
        assert_eq!(res.body, "GET /echo x=1 peer=198.51.100.7");
        assert_eq!(res.header("x-guarded"), ["yes"]);
        assert_eq!(res.header("x-outer"), ["1"]);
        assert_eq!(res.header("x-seen"), ["GET /echo x=1 peer=198.51.100.7"]);
        assert!(res.header("server").is_empty(), "fingerprint left: {res:?}");
    }
}

#[actix_web::test]
async fn an_early_answer_skips_the_handler_and_passes_the_outer_response_step() {
    let mut r = req("GET", "/echo");
    r.headers.push(("x-answer", "1"));
    let [actix, axum] = both(r).await;
    for res in [&actix, &axum] {
        assert_eq!(res.status, 429);
        assert_eq!(res.header("content-type"), ["application/problem+json"]);
        let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        assert_eq!(body["type"], ProblemType::RATE_LIMITED.uri);
        assert_eq!(body["detail"], "GET /echo  peer=198.51.100.7");
        // The outer guard amended it; the answering guard's own response step did not run.
        assert_eq!(res.header("x-outer"), ["1"]);
        assert_eq!(res.header("vary"), ["origin"]);
        assert!(res.header("x-guarded").is_empty());
    }
    assert_eq!(comparable(&actix), comparable(&axum));
    assert_eq!(actix.body, axum.body);
}

#[actix_web::test]
async fn the_fallback_answer_is_a_problem_and_is_amended_too() {
    let [actix, axum] = both(req("GET", "/nowhere")).await;
    for res in [&actix, &axum] {
        assert_eq!(res.status, 404);
        assert_eq!(res.header("content-type"), ["application/problem+json"]);
        assert_eq!(res.header("x-seen"), ["GET /nowhere  peer=198.51.100.7"]);
    }
    assert_eq!(comparable(&actix), comparable(&axum));
    assert_eq!(actix.body, axum.body);
}

#[actix_web::test]
async fn a_missing_guard_datum_is_a_server_problem_not_a_panic() {
    // Nothing leaves a `Seen` on this app: the extractor must answer 500 problem+json.
    let app = actix_test::init_service(
        App::new().route("/echo", web::get().to(|seen: GuardData<Seen>| async move { seen.0.0 })),
    )
    .await;
    let res =
        actix_test::call_service(&app, actix_test::TestRequest::get().uri("/echo").to_request())
            .await;
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(res.headers().get("content-type").unwrap(), "application/problem+json");
}

#[actix_web::test]
async fn an_error_escaping_an_inner_actix_middleware_still_gets_the_response_step() {
    use actix_web::dev::Service as _;
    let app = actix_test::init_service(
        App::new()
            .wrap_fn(|req, srv| {
                let refuse = req.path() == "/refused";
                let fut = srv.call(req);
                async move {
                    if refuse {
                        return Err(actix_web::error::ErrorConflict("refused inside"));
                    }
                    fut.await
                }
            })
            .wrap(GuardMiddleware::new(stack()))
            .default_service(web::to(HttpResponse::Ok)),
    )
    .await;
    let req = actix_test::TestRequest::get().uri("/refused").to_request();
    let err = match app.call(req).await {
        Err(err) => err,
        Ok(res) => panic!("expected the error to pass through, got {}", res.status()),
    };
    let res = err.error_response();
    assert_eq!(res.status().as_u16(), 409);
    assert_eq!(res.headers().get("x-guarded").unwrap(), "yes");
    assert_eq!(res.headers().get("x-outer").unwrap(), "1");
}
