//! The reference API on actix-web. `GUARD_ADDR` sets the listen address (default
//! 127.0.0.1:8080); see `shared/REFERENCE-API.md` for the contract.

use actix_web::{App, HttpResponse, HttpServer, Route, web};
use guard_actix::GuardMiddleware;
use http::{HeaderValue, header};
use reference_api::{Config, HEALTH_BODY};

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(HEALTH_BODY)
}

async fn not_found() -> HttpResponse {
    guard_actix::problem(reference_api::not_found())
}

/// The 405 answer of a resource serving `allow` (`GET,HEAD`: the format axum uses, so that
/// both servers answer byte for byte alike).
fn method_not_allowed(allow: &'static str) -> Route {
    web::to(move || async move {
        let problem = reference_api::method_not_allowed()
            .with_header(header::ALLOW, HeaderValue::from_static(allow));
        guard_actix::problem(problem)
    })
}

fn main() -> std::io::Result<()> {
    reference_api::init_tracing();
    let config = Config::from_env_or_exit();
    let stack = match reference_api::security_stack(&config) {
        Ok(stack) => std::sync::Arc::new(stack),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2)
        }
    };
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .wrap(GuardMiddleware::from_shared(stack.clone()))
                .service(
                    web::resource("/health")
                        .route(web::get().to(health))
                        .route(web::head().to(health))
                        .default_service(method_not_allowed("GET,HEAD")),
                )
                .default_service(web::to(not_found))
        })
        .bind(config.addr)?;
        tracing::info!(addr = %config.addr, "actix-api listening");
        server.run().await
    })
}
