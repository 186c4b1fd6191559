//! The reference API on actix-web; `docs/reference-api.md` is the contract and
//! `reference_api` holds everything that is not actix-web wiring.
//!
//! The guards are wired as one stack per route group, each applied with one `.wrap`:
//! the security stack on the whole app, the per-IP limit on the `/v1/auth` scope, the bearer
//! token on its logout and password routes, and the bearer token plus the per-user limit on the
//! other `/v1` routes.

use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use guard_actix::{Claims, GuardMiddleware, ValidJson};
use reference_api::api::{AccessClaims, ChangePassword, Login, Register};
use reference_api::{Api, Config, HEALTH_BODY};

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(HEALTH_BODY)
}

async fn register(api: web::Data<Api>, body: ValidJson<Register>) -> HttpResponse {
    guard_actix::into_response(api.register(body.into_inner()).await)
}

async fn login(api: web::Data<Api>, body: ValidJson<Login>) -> HttpResponse {
    guard_actix::into_response(api.login(body.into_inner()).await)
}

async fn logout(api: web::Data<Api>, claims: Claims<AccessClaims>) -> HttpResponse {
    guard_actix::into_response(api.logout(&claims.0).await)
}

async fn password(
    api: web::Data<Api>,
    claims: Claims<AccessClaims>,
    body: ValidJson<ChangePassword>,
) -> HttpResponse {
    guard_actix::into_response(api.change_password(&claims.0, body.into_inner()).await)
}

async fn me(api: web::Data<Api>, claims: Claims<AccessClaims>) -> HttpResponse {
    guard_actix::into_response(api.me(&claims.0).await)
}

fn main() -> std::io::Result<()> {
    reference_api::init_tracing();
    let config = Config::from_env_or_exit();
    actix_web::rt::System::new().block_on(async move {
        let built = reference_api::build(&config)
            .await
            .unwrap_or_else(|err| reference_api::exit_on_startup_error(err));
        let api = web::Data::new(built.api);
        let security = Arc::new(built.security);
        let auth = Arc::new(built.auth);
        let bearer = Arc::new(built.bearer);
        let user = Arc::new(built.user);
        let server = HttpServer::new(move || {
            let bearer = GuardMiddleware::from_shared(bearer.clone());
            let user = GuardMiddleware::from_shared(user.clone());
            App::new()
                .app_data(api.clone())
                .wrap(GuardMiddleware::from_shared(security.clone()))
                .service(
                    web::resource("/health")
                        .route(web::get().to(health))
                        .route(web::head().to(health))
                        .default_service(guard_actix::method_not_allowed("GET,HEAD")),
                )
                .service(
                    web::scope("/v1/auth")
                        .wrap(GuardMiddleware::from_shared(auth.clone()))
                        .service(
                            web::resource("/register")
                                .route(web::post().to(register))
                                .default_service(guard_actix::method_not_allowed("POST")),
                        )
                        .service(
                            web::resource("/login")
                                .route(web::post().to(login))
                                .default_service(guard_actix::method_not_allowed("POST")),
                        )
                        .service(
                            web::resource("/logout")
                                .route(web::post().to(logout).wrap(bearer.clone()))
                                .default_service(guard_actix::method_not_allowed("POST")),
                        )
                        .service(
                            web::resource("/password")
                                .route(web::post().to(password).wrap(bearer))
                                .default_service(guard_actix::method_not_allowed("POST")),
                        )
                        .default_service(web::to(guard_actix::not_found)),
                )
                .service(
                    web::resource("/v1/me")
                        .route(web::get().to(me).wrap(user.clone()))
                        .route(web::head().to(me).wrap(user))
                        .default_service(guard_actix::method_not_allowed("GET,HEAD")),
                )
                .default_service(web::to(guard_actix::not_found))
        })
        .bind(config.addr)?;
        tracing::info!(addr = %config.addr, "actix-api listening");
        // actix-web drains in-flight requests on SIGTERM and SIGINT by itself.
        server.run().await?;
        tracing::info!("actix-api stopped");
        Ok(())
    })
}
