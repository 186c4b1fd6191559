//! Behaviour both adapters must share, written once and run through actix-web and axum.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test here

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::response::IntoResponse;
use guard_actix::{GuardData, GuardMiddleware};
use guard_core::{
    Decision, Guard, GuardExt, GuardRequest, HeaderKey, PreparedHeader, Problem, ProblemType,
    ResponseHead,
};
use guard_tests::harness::{Answer, Req, call_actix, call_axum, same};
use guard_tower::{GuardData as TowerData, GuardLayer};
use http::HeaderValue;

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

const PEER: &str = "198.51.100.7:5000";

fn req(method: &'static str, uri: &str) -> Req {
    Req::new(method, uri).peer(PEER)
}

/// The guarded echo app on each framework, with a problem fallback and a leaky `Server` header.
async fn both(r: Req) -> [Answer; 2] {
    let actix = actix_test::init_service(
        App::new()
            .wrap(GuardMiddleware::new(stack()))
            .route(
                "/echo",
                web::get().to(|seen: GuardData<Seen>| async move {
                    HttpResponse::Ok().insert_header(("server", "leaky/1.0")).body(seen.0.0)
                }),
            )
            .default_service(web::to(guard_actix::not_found)),
    )
    .await;
    let axum: Router = Router::new()
        .route(
            "/echo",
            axum::routing::get(|TowerData(seen): TowerData<Seen>| async move {
                ([("server", "leaky/1.0")], seen.0).into_response()
            }),
        )
        .fallback(guard_tower::not_found)
        .layer(GuardLayer::new(stack()));
    [call_actix(&actix, &r).await, call_axum(axum, &r).await]
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
    let [actix, axum] = both(req("GET", "/echo").header("x-answer", "1")).await;
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
    same(&actix, &axum);
}

#[actix_web::test]
async fn the_fallback_answer_is_a_problem_and_is_amended_too() {
    let [actix, axum] = both(req("GET", "/nowhere")).await;
    for res in [&actix, &axum] {
        assert_eq!(res.status, 404);
        assert_eq!(res.header("content-type"), ["application/problem+json"]);
        assert_eq!(res.header("x-seen"), ["GET /nowhere  peer=198.51.100.7"]);
    }
    same(&actix, &axum);
}

#[actix_web::test]
async fn a_missing_guard_datum_is_a_server_problem_not_a_panic_in_both() {
    // Nothing leaves a `Seen` on these apps: both extractors answer the same 500 problem.
    let actix = actix_test::init_service(
        App::new().route("/echo", web::get().to(|seen: GuardData<Seen>| async move { seen.0.0 })),
    )
    .await;
    let axum: Router = Router::new().route(
        "/echo",
        axum::routing::get(|TowerData(seen): TowerData<Seen>| async move { seen.0 }),
    );
    let r = Req::get("/echo");
    let [actix, axum] = [call_actix(&actix, &r).await, call_axum(axum, &r).await];
    for res in [&actix, &axum] {
        assert_eq!(res.status, 500);
        assert_eq!(res.problem()["type"], "about:blank");
        assert!(!res.body.contains("Seen"), "no internals for the client: {res:?}");
    }
    same(&actix, &axum);
}

#[actix_web::test]
async fn guard_data_of_nested_actix_middlewares_is_merged() {
    /// Leaves a number for the handler.
    #[derive(Clone)]
    struct Leaves(u8);
    impl Guard for Leaves {
        type State = ();
        async fn check(&self, req: &mut GuardRequest<'_>) -> Decision<()> {
            if self.0 == 1 {
                req.extensions_mut().insert(1u8);
            } else {
                req.extensions_mut().insert(u16::from(self.0));
            }
            Decision::Continue(())
        }
        fn respond(&self, (): (), _: &mut dyn ResponseHead) {}
    }
    let app = actix_test::init_service(App::new().wrap(GuardMiddleware::new(Leaves(1))).service(
        web::scope("/inner").wrap(GuardMiddleware::new(Leaves(2))).route(
            "",
            web::get().to(|a: GuardData<u8>, b: GuardData<u16>| async move {
                format!("{} {}", a.0, b.0)
            }),
        ),
    ))
    .await;
    let res = call_actix(&app, &Req::get("/inner")).await;
    assert_eq!((res.status, res.body.as_str()), (200, "1 2"), "the outer middleware's data kept");
}

#[actix_web::test]
async fn a_closure_guard_and_a_boxed_stack_work_through_both() {
    let versioned = guard_core::guard_fn(|req| {
        if req.header(&http::HeaderName::from_static("x-api-version")).is_some() {
            Decision::Continue(())
        } else {
            Decision::Respond(
                Problem::new(ProblemType::BAD_REQUEST)
                    .with_detail("X-Api-Version is required")
                    .into(),
            )
        }
    });
    let boxed = Outer.then(versioned).boxed();
    let actix = actix_test::init_service(
        App::new()
            .wrap(GuardMiddleware::new(boxed.clone()))
            .route("/", web::get().to(|| async { "through" })),
    )
    .await;
    let axum: Router = Router::new()
        .route("/", axum::routing::get(|| async { "through" }))
        .layer(GuardLayer::new(boxed));
    for (r, status) in [(Req::get("/"), 400), (Req::get("/").header("x-api-version", "2"), 200)] {
        let [a, b] = [call_actix(&actix, &r).await, call_axum(axum.clone(), &r).await];
        for res in [&a, &b] {
            assert_eq!(res.status, status, "{res:?}");
            assert_eq!(res.header("x-outer"), ["1"], "the outer guard amends both answers");
        }
        same(&a, &b);
    }
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
