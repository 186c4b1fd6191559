//! The routes' logic, framework-neutral: each takes already-validated input and returns the
//! complete answer as a [`GuardResponse`], which each server turns into its framework's
//! response unchanged, so both answer byte for byte alike.

use garde::Validate;
use guard_core::{GuardResponse, Problem};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::users::{User, UserStore};

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
    /// At least 12 characters.
    #[garde(length(chars, min = 12))]
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

/// What the routes share: the user store.
#[derive(Debug, Clone)]
pub struct Api {
    users: UserStore,
}

impl Api {
    /// The API over `users`.
    pub fn new(users: UserStore) -> Self {
        Self { users }
    }

    /// The user store.
    pub fn users(&self) -> &UserStore {
        &self.users
    }

    /// `POST /v1/auth/register`: 201 with the new user, 409 when the username is taken.
    pub async fn register(&self, input: Register) -> GuardResponse {
        match self.users.create(&input.username, &input.email, &input.password).await {
            Ok(user) => json(StatusCode::CREATED, &PublicUser::from(&user)),
            Err(err) => {
                tracing::info!(guard = "register", reason = %err, "registration refused");
                Problem::from(err).to_response()
            }
        }
    }
}
