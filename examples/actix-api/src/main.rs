//! The reference API on actix-web. `GUARD_ADDR` sets the listen address (default
//! 127.0.0.1:8080); see `shared/REFERENCE-API.md` for the contract.

use actix_web::{App, HttpResponse, HttpServer, web};
use guard_actix::GuardMiddleware;
use guard_core::Problem;
use http::StatusCode;
use reference_api::{Config, HEALTH_BODY};

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(HEALTH_BODY)
}

async fn not_found() -> HttpResponse {
    guard_actix::problem(Problem::from_status(StatusCode::NOT_FOUND))
}

fn main() -> std::io::Result<()> {
    reference_api::init_tracing();
    let config = Config::from_env_or_exit();
    let stack = match reference_api::security_stack() {
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
                .route("/health", web::get().to(health))
                .default_service(web::to(not_found))
        })
        .bind(config.addr)?;
        tracing::info!(addr = %config.addr, "actix-api listening");
        server.run().await
    })
}
