//! The reference API on axum; `docs/reference-api.md` is the contract and `reference_api`
//! holds everything that is not axum wiring.
//!
//! The guards are wired as one stack per route group, each applied with one layer: the
//! security stack on the whole router, the per-IP limit on the `/v1/auth` router, the bearer
//! token on its logout and password routes, and the bearer token plus the per-user limit on the
//! other `/v1` routes. `route_layer` keeps a wrong method a 405 rather than a 401.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use guard_tower::serve::ServeLimits;
use guard_tower::{Claims, GuardLayer, ValidJson};
use http::header;
use reference_api::api::{AccessClaims, ChangePassword, Login, Register};
use reference_api::{Api, Config, HEALTH_BODY};

async fn health() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], HEALTH_BODY)
}

async fn register(
    State(api): State<Api>,
    ValidJson(body): ValidJson<Register>,
) -> impl IntoResponse {
    guard_tower::into_response(api.register(body).await)
}

async fn login(State(api): State<Api>, ValidJson(body): ValidJson<Login>) -> impl IntoResponse {
    guard_tower::into_response(api.login(body).await)
}

async fn logout(State(api): State<Api>, claims: Claims<AccessClaims>) -> impl IntoResponse {
    guard_tower::into_response(api.logout(&claims.0).await)
}

async fn password(
    State(api): State<Api>,
    claims: Claims<AccessClaims>,
    ValidJson(body): ValidJson<ChangePassword>,
) -> impl IntoResponse {
    guard_tower::into_response(api.change_password(&claims.0, body).await)
}

async fn me(State(api): State<Api>, claims: Claims<AccessClaims>) -> impl IntoResponse {
    guard_tower::into_response(api.me(&claims.0).await)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    reference_api::init_tracing();
    let config = Config::from_env_or_exit();
    let built = reference_api::build(&config)
        .await
        .unwrap_or_else(|err| reference_api::exit_on_startup_error(err));
    let bearer = GuardLayer::new(built.bearer);
    let auth = Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/logout", post(logout).route_layer(bearer.clone()))
        .route("/password", post(password).route_layer(bearer))
        .layer(GuardLayer::new(built.auth));
    let app = Router::new()
        .route("/health", get(health))
        .nest("/v1/auth", auth)
        .route("/v1/me", get(me).route_layer(GuardLayer::new(built.user)))
        .fallback(guard_tower::not_found)
        .method_not_allowed_fallback(guard_tower::method_not_allowed)
        .with_state(built.api)
        .layer(GuardLayer::new(built.security));
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    tracing::info!(addr = %config.addr, "axum-api listening");
    // Not `axum::serve`: it runs hyper without a timer, so a client trickling its request head
    // or idling on a kept-alive connection would hold it forever (slowloris).
    guard_tower::serve::serve(listener, app, ServeLimits::default(), shutdown_signal()).await?;
    tracing::info!("axum-api stopped");
    Ok(())
}

/// SIGTERM or SIGINT: stop accepting, let in-flight requests finish (actix-web does the same by
/// itself).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for SIGTERM; only SIGINT stops the server");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: draining in-flight requests");
}
