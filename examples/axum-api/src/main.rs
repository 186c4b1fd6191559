//! The reference API on axum. `GUARD_ADDR` sets the listen address (default 127.0.0.1:8080);
//! see `shared/REFERENCE-API.md` for the contract.

use std::net::SocketAddr;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use guard_tower::GuardLayer;
use http::header;
use reference_api::{Config, HEALTH_BODY};

async fn health() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], HEALTH_BODY)
}

async fn not_found() -> impl IntoResponse {
    guard_tower::problem(reference_api::not_found())
}

/// axum adds `Allow` to this answer by itself.
async fn method_not_allowed() -> impl IntoResponse {
    guard_tower::problem(reference_api::method_not_allowed())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    reference_api::init_tracing();
    let config = Config::from_env_or_exit();
    let stack = match reference_api::security_stack(&config) {
        Ok(stack) => stack,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(2)
        }
    };
    let app = Router::new()
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(GuardLayer::new(stack));
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    tracing::info!(addr = %config.addr, "axum-api listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}
