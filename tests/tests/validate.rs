//! `ValidJson<T>` through both adapters: every status and error kind, written once and run
//! through actix-web and axum in-process, with the same problem bodies from both.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::extract::Extension;
use axum::routing::post;
use bytes::Bytes;
use garde::Validate;
use guard_core::ProblemType;
use guard_validate::{AllowUnknownKeys, JsonLimits};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The registration body of the example servers.
#[derive(Debug, Deserialize, Validate)]
struct Register {
    #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
    username: String,
    #[garde(email)]
    email: String,
    #[garde(length(chars, min = 12))]
    password: String,
}

/// Three levels of objects, and an array of them.
#[derive(Debug, Deserialize, Validate)]
struct Order {
    #[garde(dive)]
    customer: Customer,
    #[garde(dive)]
    items: Vec<Item>,
    #[garde(skip)]
    #[allow(dead_code)] // only deserialized
    meta: Option<AllowUnknownKeys<Meta>>,
}

#[derive(Debug, Deserialize, Validate)]
struct Customer {
    #[garde(length(min = 1))]
    name: String,
    #[garde(dive)]
    address: Address,
}

#[derive(Debug, Deserialize, Validate)]
struct Address {
    #[garde(length(min = 2))]
    city: String,
    #[garde(range(min = 1000))]
    zip: u32,
}

#[derive(Debug, Deserialize, Validate)]
struct Item {
    #[garde(length(min = 1))]
    name: String,
    #[garde(range(min = 1))]
    qty: u8,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[allow(dead_code)] // only deserialized
    source: String,
}

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
#[derive(Clone)]
enum Payload {
    /// In one piece, with `Content-Length`.
    Sized(Vec<u8>),
    /// In these chunks, without `Content-Length` (chunked transfer).
    Chunked(Vec<&'static [u8]>),
    /// 1 KiB chunks of spaces without end; `pulled` counts how many were read.
    Endless(Arc<AtomicUsize>),
}

struct Req {
    path: &'static str,
    content_type: Option<&'static str>,
    payload: Payload,
}

fn json_req(path: &'static str, body: &str) -> Req {
    Req { path, content_type: Some("application/json"), payload: Payload::Sized(body.into()) }
}

/// An actix-web request body stream.
type ActixStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
>;

const CHUNK: usize = 1024;

fn endless_chunk(pulled: &AtomicUsize) -> Bytes {
    pulled.fetch_add(1, Ordering::SeqCst);
    Bytes::from_static(&[b' '; CHUNK])
}

/// A response reduced to what both frameworks can be compared on.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn problem(&self) -> Value {
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        serde_json::from_str(&self.body).unwrap()
    }
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
    let mut t = actix_test::TestRequest::post().uri(r.path);
    if let Some(ct) = r.content_type {
        t = t.insert_header(("content-type", ct));
    }
    let request = match &r.payload {
        Payload::Sized(bytes) => t.set_payload(bytes.clone()).to_request(),
        Payload::Chunked(chunks) => {
            let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> =
                chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
            let stream: ActixStream = Box::pin(futures_util::stream::iter(chunks));
            t.to_request().replace_payload(actix_web::dev::Payload::from(stream)).0
        }
        Payload::Endless(pulled) => {
            let pulled = pulled.clone();
            let stream: ActixStream =
                Box::pin(futures_util::stream::repeat_with(move || Ok(endless_chunk(&pulled))));
            t.to_request().replace_payload(actix_web::dev::Payload::from(stream)).0
        }
    };
    let sized = matches!(r.payload, Payload::Sized(_));
    assert_eq!(request.head().headers.get("content-length").is_some(), sized);
    let res = actix_test::call_service(&app, request).await;
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = actix_test::read_body(res).await;
    Answer { status, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
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
    let mut b = http::Request::builder().method("POST").uri(r.path);
    if let Some(ct) = r.content_type {
        b = b.header("content-type", ct);
    }
    let body = match &r.payload {
        Payload::Sized(bytes) => {
            b = b.header("content-length", bytes.len());
            axum::body::Body::from(bytes.clone())
        }
        Payload::Chunked(chunks) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
            axum::body::Body::from_stream(futures_util::stream::iter(chunks))
        }
        Payload::Endless(pulled) => {
            let pulled = pulled.clone();
            axum::body::Body::from_stream(futures_util::stream::repeat_with(move || {
                Ok::<_, std::io::Error>(endless_chunk(&pulled))
            }))
        }
    };
    let res = app.oneshot(b.body(body).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer { status, content_type, body: String::from_utf8(body.to_vec()).unwrap() }
}

/// Runs `r` through both adapters; both must give the same status and the same body.
async fn both(r: Req) -> Answer {
    let actix = via_actix(&r).await;
    let axum = via_axum(&r).await;
    assert_eq!(actix.status, axum.status, "actix {actix:?} / axum {axum:?}");
    assert_eq!(actix.body, axum.body);
    if actix.status >= 400 {
        assert_eq!(actix.content_type, axum.content_type);
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
        let r = Req { content_type, ..json_req("/register", REGISTER) };
        let p = problem(r, ProblemType::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(p["detail"].as_str().unwrap().contains("application/json"));
    }
    for content_type in ["application/json; charset=utf-8", "application/problem+json"] {
        let r = Req { content_type: Some(content_type), ..json_req("/register", REGISTER) };
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
    let r = Req {
        path: "/register",
        content_type: Some("application/json"),
        payload: Payload::Chunked(chunks),
    };
    assert_eq!(both(r).await.status, 201);
    // Over the limit, without Content-Length: refused at the chunk that crosses it.
    let chunks = vec![&br#"{"username": "ada99", "#[..], &[b' '; 40], br#""email": "a@b.io"}"#];
    let r = Req {
        path: "/small",
        content_type: Some("application/json"),
        payload: Payload::Chunked(chunks),
    };
    let p = problem(r, ProblemType::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["max_bytes"], 64);
}

#[actix_web::test]
async fn an_endless_body_is_cut_off_just_past_the_limit() {
    let max_chunks = JsonLimits::DEFAULT_MAX_BYTES / CHUNK + 1;
    for on_axum in [false, true] {
        let pulled = Arc::new(AtomicUsize::new(0));
        let r = Req {
            path: "/register",
            content_type: Some("application/json"),
            payload: Payload::Endless(pulled.clone()),
        };
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
    let r = Req {
        payload: Payload::Sized(b"{\"username\": \"\xc3\x28\"}".to_vec()),
        ..json_req("/register", "")
    };
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
    let body = r#"{"customer": {"name": "Ada", "address": {"city": "P", "zip": 75001}},
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
    let req = actix_test::TestRequest::post()
        .uri("/quota")
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"n": 1}"#)
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 500);

    let app: Router = Router::new().route(
        "/quota",
        post(|guard_tower::ValidJson(body): guard_tower::ValidJson<Quota>| async move {
            body.n.to_string()
        }),
    );
    let req = http::Request::post("/quota")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"n": 1}"#))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
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
    let req = http::Request::post("/register").body(axum::body::Body::from("{}")).unwrap();
    let res = app.oneshot(req).await.unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "refused: 415 Unsupported Media Type");
}
