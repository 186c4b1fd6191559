//! The routes' logic, framework-neutral: each takes already-validated input and returns the
//! complete answer as a [`GuardResponse`], which each server turns into its framework's
//! response unchanged, so both answer byte for byte alike.

use garde::Validate;
use guard_core::{GuardResponse, Problem, ProblemType};
use guard_jwt::{CredentialChangeError, Jwt, TokenIssuer, VerifiedClaims};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::users::{User, UserError, UserStore};

/// The application's claims: the subject is the user id. Everything else (`jti`, `iat`, `exp`)
/// is in the verified token's `TokenInfo`.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
}

/// The verified claims as handlers receive them.
pub type Claims = VerifiedClaims<AccessClaims>;

/// The longest password, in characters (Unicode scalar values), on every password field alike:
/// a password that can be registered can always be used to log in, whatever its script. Long
/// enough for any passphrase (NIST SP 800-63B asks for at least 64), short enough to bound the
/// hashing input.
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// The shortest new password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;

/// `POST /v1/auth/login`. Deliberately loose rules: a login must not reveal the registration
/// rules, and every wrong answer is the same 401.
#[derive(Debug, Deserialize, Validate)]
pub struct Login {
    /// The username.
    #[garde(length(min = 1, max = 64))]
    pub username: String,
    /// The password.
    #[garde(length(chars, min = 1, max = PASSWORD_MAX_CHARS))]
    pub password: String,
}

/// `POST /v1/auth/password`.
#[derive(Debug, Deserialize, Validate)]
pub struct ChangePassword {
    /// The password now.
    #[garde(length(chars, min = 1, max = PASSWORD_MAX_CHARS))]
    pub current_password: String,
    /// The new password, at least 12 characters.
    #[garde(length(chars, min = PASSWORD_MIN_CHARS, max = PASSWORD_MAX_CHARS))]
    pub new_password: String,
}

/// The answer to a successful login.
#[derive(Debug, Serialize)]
struct TokenReply<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
}

/// `POST /v1/auth/register`: username 3-20 ASCII letters or digits, a valid email, a password of
/// at least 12 characters, and nothing else (unknown keys are refused by `ValidJson`).
#[derive(Debug, Deserialize, Validate)]
pub struct Register {
    /// 3 to 20 ASCII letters or digits.
    #[garde(ascii, alphanumeric, length(min = 3, max = 20))]
    pub username: String,
    /// A valid email address.
    #[garde(email)]
    pub email: String,
    /// At least 12 characters, at most [`PASSWORD_MAX_CHARS`].
    #[garde(length(chars, min = PASSWORD_MIN_CHARS, max = PASSWORD_MAX_CHARS))]
    pub password: String,
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize)]
struct PublicUser<'a> {
    id: &'a str,
    username: &'a str,
    email: &'a str,
}

impl<'a> From<&'a User> for PublicUser<'a> {
    fn from(u: &'a User) -> Self {
        Self { id: &u.id, username: &u.username, email: &u.email }
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &impl Serialize) -> GuardResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => GuardResponse::new(status)
            .with_header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .with_body(bytes),
        Err(_) => Problem::from_status(StatusCode::INTERNAL_SERVER_ERROR).to_response(),
    }
}

/// What the routes share: the user store, the token verifier (with its revocation store) and
/// the token issuer.
#[derive(Debug, Clone)]
pub struct Api {
    users: UserStore,
    jwt: Jwt<AccessClaims>,
    issuer: TokenIssuer,
}

impl Api {
    /// The API over `users`, verifying with `jwt` and minting with `issuer`.
    pub fn new(users: UserStore, jwt: Jwt<AccessClaims>, issuer: TokenIssuer) -> Self {
        Self { users, jwt, issuer }
    }

    /// The bearer-token guard of the authenticated routes.
    pub fn jwt(&self) -> &Jwt<AccessClaims> {
        &self.jwt
    }

    /// The user store.
    pub fn users(&self) -> &UserStore {
        &self.users
    }

    /// `POST /v1/auth/register`: 201 with the new user, 409 when the username is taken.
    pub async fn register(&self, input: Register) -> GuardResponse {
        match self.users.create(&input.username, &input.email, &input.password).await {
            Ok(user) => json(StatusCode::CREATED, &PublicUser::from(&user)),
            Err(err) => refused("register", err),
        }
    }

    /// `POST /v1/auth/login`: 200 with a bearer token; one 401 for an unknown user and a wrong
    /// password alike, in about the same time.
    pub async fn login(&self, input: Login) -> GuardResponse {
        // Dated before the password is read: a password change that completes while this login
        // runs revokes the token it gets.
        let started = self.issuer.begin_authentication();
        let user = match self.users.authenticate(&input.username, &input.password).await {
            Ok(user) => user,
            Err(err) => return refused("login", err),
        };
        match self.issuer.issue_authenticated(started, &user.id) {
            Ok(token) => json(
                StatusCode::OK,
                &TokenReply {
                    access_token: &token.token,
                    token_type: "Bearer",
                    expires_in: token.expires_in,
                },
            ),
            Err(err) => Problem::from(err).to_response(),
        }
    }

    /// `POST /v1/auth/logout`: 204; this token is refused from now on, by every instance that
    /// shares the revocation store.
    pub async fn logout(&self, claims: &Claims) -> GuardResponse {
        match self.jwt.revoke(&claims.token).await {
            Ok(()) => GuardResponse::new(StatusCode::NO_CONTENT),
            Err(err) => err.to_problem().to_response(),
        }
    }

    /// `POST /v1/auth/password`: 204; every token of this user issued before the new password
    /// was stored is refused everywhere, including those of logins with the old password that
    /// ran at the same time ([`Jwt::change_credentials`]).
    pub async fn change_password(&self, claims: &Claims, input: ChangePassword) -> GuardResponse {
        let user = match self.users.check_password(&claims.sub, &input.current_password).await {
            Ok(user) => user,
            Err(err) => return refused("password", err),
        };
        let change = self.users.set_password(user, &input.new_password);
        match self.jwt.change_credentials(&claims.sub, change).await {
            Ok(_) => GuardResponse::new(StatusCode::NO_CONTENT),
            Err(CredentialChangeError::Change(err)) => refused("password", err),
            Err(
                CredentialChangeError::NotRevoked(err) | CredentialChangeError::Unconfirmed(err),
            ) => err.to_problem().to_response(),
            Err(_) => Problem::from_status(StatusCode::INTERNAL_SERVER_ERROR).to_response(),
        }
    }

    /// `GET /v1/me`: the authenticated user.
    pub async fn me(&self, claims: &Claims) -> GuardResponse {
        match self.users.by_id(&claims.sub).await {
            Ok(Some(user)) => json(StatusCode::OK, &PublicUser::from(&user)),
            // A valid token for a user that no longer exists.
            Ok(None) => Problem::new(ProblemType::INVALID_TOKEN)
                .with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        r#"Bearer realm="guard", error="invalid_token", error_description="unknown subject""#,
                    ),
                )
                .to_response(),
            Err(err) => refused("me", err),
        }
    }
}

/// A refusal of a route's own (not a guard's): logged once like the guards' refusals.
fn refused(route: &'static str, err: UserError) -> GuardResponse {
    let problem = Problem::from(err);
    let reason = match problem.status {
        StatusCode::UNAUTHORIZED => "bad credentials",
        StatusCode::CONFLICT => "username taken",
        _ => "user store unavailable",
    };
    guard_core::observe::refused("route", route, reason, problem.status);
    problem.to_response()
}
