//! `ValidJson<T>` through both adapters: every status and error kind, written once and run
//! through actix-web and axum in-process, with the same problem bodies from both.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here
#![allow(dead_code)] // the schemas are deserialized and compared, not all of their fields read

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::extract::Extension;
use axum::routing::post;
use garde::Validate;
use guard_core::ProblemType;
use guard_tests::harness::{Answer, ENDLESS_CHUNK, Payload, Req, call_actix, call_axum};
use guard_validate::{AllowUnknownKeys, JsonLimits};
use serde::Deserialize;
use serde_json::{Value, json};

// `Register`, `Order` (`Customer`, `Address`, `Item`, `Meta`): the schemas of guard-validate's
// own tests, so that both suites check the same types.
include!("../../crates/guard-validate/src/tests/schemas.rs");

/// A body whose rule needs the app's policy.
#[derive(Debug, Deserialize, Validate)]
#[garde(context(Policy))]
struct Quota {
    #[garde(custom(within_policy))]
    n: u32,
}

#[derive(Debug, Clone)]
struct Policy {
    max: u32,
}

fn within_policy(n: &u32, policy: &Policy) -> garde::Result {
    if *n > policy.max { Err(garde::Error::new("is above the allowed maximum")) } else { Ok(()) }
}

/// The `/small` route's limits: 64 bytes, 4 levels.
fn small() -> JsonLimits {
    JsonLimits::new(64, 4).unwrap()
}

/// How a body is sent.
/// A POST of `payload` to `path`, with `content_type` if any.
fn body_req(path: &str, content_type: Option<&str>, payload: Payload) -> Req {
    let r = Req::post(path).payload(payload);
    match content_type {
        Some(ct) => r.header("content-type", ct),
        None => r,
    }
}

fn json_req(path: &str, body: &str) -> Req {
    Req::post(path).json(body)
}

async fn via_actix(r: &Req) -> Answer {
    async fn register(body: ValidJson<Register>) -> HttpResponse {
        HttpResponse::Created().body(body.into_inner().username)
    }
    use guard_actix::ValidJson;
    let app = actix_test::init_service(
        App::new()
            .app_data(JsonLimits::default())
            .app_data(web::Data::new(Policy { max: 5 }))
            .route("/register", web::post().to(register))
            .service(web::resource("/small").app_data(small()).route(web::post().to(register)))
            .route(
                "/orders",
                web::post().to(|body: ValidJson<Order>| async move {
                    HttpResponse::Created().body(body.items.len().to_string())
                }),
            )
            .route(
                "/quota",
                web::post().to(|body: ValidJson<Quota>| async move {
                    HttpResponse::Created().body(body.n.to_string())
                }),
            ),
    )
    .await;
    call_actix(&app, r).await
}

async fn via_axum(r: &Req) -> Answer {
    use axum::http::StatusCode;
    use guard_tower::ValidJson;
    async fn register(ValidJson(body): ValidJson<Register>) -> (StatusCode, String) {
        (StatusCode::CREATED, body.username)
    }
    let app: Router = Router::new()
        .route("/register", post(register))
        .route("/small", post(register).layer(Extension(small())))
        .route(
            "/orders",
            post(|ValidJson(body): ValidJson<Order>| async move {
                (StatusCode::CREATED, body.items.len().to_string())
            }),
        )
        .route(
            "/quota",
            post(|ValidJson(body): ValidJson<Quota>| async move {
                (StatusCode::CREATED, body.n.to_string())
            }),
        )
        .layer(Extension(JsonLimits::default()))
        .layer(Extension(Policy { max: 5 }));
    call_axum(app, r).await
}

/// Runs `r` through both adapters; both must give the same status and the same body.
async fn both(r: Req) -> Answer {
    let actix = via_actix(&r).await;
    let axum = via_axum(&r).await;
    assert_eq!(actix.status, axum.status, "actix {actix:?} / axum {axum:?}");
    assert_eq!(actix.body, axum.body);
    if actix.status >= 400 {
        assert_eq!(actix.content_type(), axum.content_type());
    }
    actix
}

/// The problem of `r` (through both adapters), checked to be of `kind`.
async fn problem(r: Req, kind: ProblemType) -> Value {
    let answer = both(r).await;
    assert_eq!(answer.status, kind.status.as_u16(), "{answer:?}");
    let problem = answer.problem();
    assert_eq!(problem["type"], kind.uri);
    assert_eq!(problem["status"], kind.status.as_u16());
    problem
}

const REGISTER: &str =
    r#"{"username": "ada99", "email": "ada@example.com", "password": "twelve chars"}"#;

#[actix_web::test]
async fn a_valid_body_reaches_the_handler() {
    let answer = both(json_req("/register", REGISTER)).await;
    assert_eq!((answer.status, answer.body.as_str()), (201, "ada99"));
    let answer = both(json_req(
        "/small",
        r#"{"username":"bob","email":"b@b.io","password":"123456789012"}"#,
    ))
    .await;
    assert_eq!(answer.status, 201);
}

#[actix_web::test]
async fn only_json_media_types_are_accepted() {
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let r = body_req("/register", content_type, Payload::Sized(REGISTER.into()));
        let p = problem(r, ProblemType::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(p["detail"].as_str().unwrap().contains("application/json"));
    }
    for content_type in ["application/json; charset=utf-8", "application/problem+json"] {
        let r = body_req("/register", Some(content_type), Payload::Sized(REGISTER.into()));
        assert_eq!(both(r).await.status, 201);
    }
}

#[actix_web::test]
async fn a_body_over_the_route_limit_is_413_by_content_length() {
    let body = format!("{}{REGISTER}", " ".repeat(64 - REGISTER.len().min(64) + 1));
    let p = problem(json_req("/small", &body), ProblemType::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["max_bytes"], 64);
    // The app's default limit still lets it through elsewhere.
    assert_eq!(both(json_req("/register", &body)).await.status, 201);
}

#[actix_web::test]
async fn a_chunked_body_is_counted_while_streaming() {
    // Under the limit, without Content-Length: read whole.
    let chunks = vec![
        &br#"{"username": "ada99","#[..],
        br#" "email": "ada@example.com","#,
        br#" "password": "twelve chars"}"#,
    ];
    let r = body_req("/register", Some("application/json"), Payload::Chunked(chunks));
    assert_eq!(both(r).await.status, 201);
    // Over the limit, without Content-Length: refused at the chunk that crosses it.
    let chunks = vec![&br#"{"username": "ada99", "#[..], &[b' '; 40], br#""email": "a@b.io"}"#];
    let r = body_req("/small", Some("application/json"), Payload::Chunked(chunks));
    let p = problem(r, ProblemType::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["max_bytes"], 64);
}

#[actix_web::test]
async fn an_endless_body_is_cut_off_just_past_the_limit() {
    let max_chunks = JsonLimits::DEFAULT_MAX_BYTES / ENDLESS_CHUNK + 1;
    for on_axum in [false, true] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let r = body_req("/register", Some("application/json"), Payload::Endless(pulled.clone()));
        let answer = if on_axum { via_axum(&r).await } else { via_actix(&r).await };
        assert_eq!(answer.status, 413);
        assert_eq!(answer.problem()["max_bytes"], JsonLimits::DEFAULT_MAX_BYTES);
        assert_eq!(pulled.load(Ordering::SeqCst), max_chunks, "read past the limit");
    }
}

#[actix_web::test]
async fn malformed_json_is_400_with_line_and_column() {
    let p = problem(
        json_req("/register", "{\n  \"username\": \"ada\",,\n}"),
        ProblemType::MALFORMED_BODY,
    )
    .await;
    // The second comma.
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(2), Some(21)));
    assert_eq!(p["detail"], "The body is not valid JSON: key must be a string.");
    let p = problem(json_req("/register", ""), ProblemType::MALFORMED_BODY).await;
    assert_eq!(p["detail"], "The body is not valid JSON: EOF while parsing a value.");
}

#[actix_web::test]
async fn invalid_utf8_is_400() {
    let r = body_req(
        "/register",
        Some("application/json"),
        Payload::Sized(b"{\"username\": \"\xc3\x28\"}".to_vec()),
    );
    let p = problem(r, ProblemType::MALFORMED_BODY).await;
    assert_eq!(p["detail"], "The body is not valid JSON: the body is not valid UTF-8.");
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(1), Some(15)));
}

#[actix_web::test]
async fn duplicate_keys_are_400_at_any_depth() {
    let p = problem(
        json_req("/register", r#"{"username": "a", "username": "b"}"#),
        ProblemType::MALFORMED_BODY,
    )
    .await;
    assert_eq!(p["detail"], "The body is not valid JSON: duplicate key \"username\".");
    let nested = "{\"customer\": {\"address\": {\n \"zip\": 1, \"zip\": 2}}}";
    let p = problem(json_req("/orders", nested), ProblemType::MALFORMED_BODY).await;
    assert_eq!(p["detail"], "The body is not valid JSON: duplicate key \"zip\".");
    assert_eq!(p["line"], 2);
}

#[actix_web::test]
async fn nesting_past_the_route_limit_is_400() {
    let p = problem(json_req("/small", r#"{"username": [[[[1]]]]}"#), ProblemType::MALFORMED_BODY)
        .await;
    assert_eq!(p["detail"], "The body is not valid JSON: nesting deeper than 4 levels.");
    // The fifth `[`.
    assert_eq!((p["line"].as_u64(), p["column"].as_u64()), (Some(1), Some(17)));
    // The same depth is fine under the app's default (and then the wrong shape).
    let p = problem(
        json_req("/register", r#"{"username": [[[[1]]]]}"#),
        ProblemType::VALIDATION_FAILED,
    )
    .await;
    assert_eq!(p["errors"][0], json!({"pointer": "/username", "detail": "expected a string"}));
}

#[actix_web::test]
async fn every_shape_error_is_422_at_once_at_every_depth() {
    let body = r#"{
        "id": "o-1",
        "customer": {"name": 7, "address": {"city": "Paris", "zip": "75001", "floor": 3}},
        "items": [{"name": "pen", "qty": 1}, ["ink", 2], {"name": "x", "qty": 1, "price": 9}, {"qty": 1}],
        "meta": {"source": "app", "anything": "goes"},
        "admin": true
    }"#;
    let p = problem(json_req("/orders", body), ProblemType::VALIDATION_FAILED).await;
    assert_eq!(p["detail"], "7 fields of the body are invalid.");
    let errors: Vec<(String, String)> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["pointer"].as_str().unwrap().to_owned(), e["detail"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("/customer/name", "expected a string"),
            ("/customer/address/zip", "expected an integer between 0 and 4294967295"),
            ("/customer/address/floor", "is not allowed"),
            ("/items/1", "expected an object"),
            ("/items/2/price", "is not allowed"),
            ("/items/3/name", "is required"),
            ("/admin", "is not allowed"),
        ]
        .map(|(p, d)| (p.to_owned(), d.to_owned()))
    );
}

#[actix_web::test]
async fn an_array_for_the_whole_body_is_422() {
    let p =
        problem(json_req("/register", &format!("[{REGISTER}]")), ProblemType::VALIDATION_FAILED)
            .await;
    assert_eq!(p["errors"], json!([{"pointer": "", "detail": "expected an object"}]));
}

#[actix_web::test]
async fn rule_failures_are_422_with_every_pointer() {
    let body = r#"{"username": "a!", "email": "nope", "password": "short"}"#;
    let p = problem(json_req("/register", body), ProblemType::VALIDATION_FAILED).await;
    let pointers: Vec<&str> =
        p["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/username", "/username", "/email", "/password"]);
    let body = r#"{"id": "o-1",
                   "customer": {"name": "Ada", "address": {"city": "P", "zip": 75001}},
                   "items": [{"name": "pen", "qty": 1}, {"name": "", "qty": 0}]}"#;
    let p = problem(json_req("/orders", body), ProblemType::VALIDATION_FAILED).await;
    assert_eq!(
        p["errors"],
        json!([
            {"pointer": "/customer/address/city", "detail": "length is lower than 2"},
            {"pointer": "/items/1/name", "detail": "length is lower than 1"},
            {"pointer": "/items/1/qty", "detail": "lower than 1"},
        ])
    );
}

#[actix_web::test]
async fn the_rules_context_is_configured_per_app() {
    assert_eq!(both(json_req("/quota", r#"{"n": 5}"#)).await.status, 201);
    let p = problem(json_req("/quota", r#"{"n": 6}"#), ProblemType::VALIDATION_FAILED).await;
    assert_eq!(p["errors"], json!([{"pointer": "/n", "detail": "is above the allowed maximum"}]));
}

#[actix_web::test]
async fn a_missing_rules_context_is_a_server_problem() {
    use guard_actix::ValidJson;
    let app = actix_test::init_service(App::new().route(
        "/quota",
        web::post().to(|body: ValidJson<Quota>| async move { body.n.to_string() }),
    ))
    .await;
    let axum: Router = Router::new().route(
        "/quota",
        post(|guard_tower::ValidJson(body): guard_tower::ValidJson<Quota>| async move {
            body.n.to_string()
        }),
    );
    let r = json_req("/quota", r#"{"n": 1}"#);
    for res in [call_actix(&app, &r).await, call_axum(axum, &r).await] {
        assert_eq!(res.status, 500, "{res:?}");
        assert_eq!(res.problem()["type"], "about:blank");
    }
}

#[actix_web::test]
async fn a_handler_can_take_the_rejection_itself() {
    let app: Router =
        Router::new().route(
            "/register",
            post(
                |body: Result<
                    guard_tower::ValidJson<Register>,
                    guard_tower::ValidJsonRejection,
                >| async move {
                    match body {
                        Ok(_) => "ok".to_owned(),
                        Err(rejection) => format!("refused: {}", rejection.0.problem_type().status),
                    }
                },
            ),
        );
    let res = call_axum(app, &Req::post("/register").payload(Payload::Sized(b"{}".to_vec()))).await;
    assert_eq!(res.body, "refused: 415 Unsupported Media Type");
}
