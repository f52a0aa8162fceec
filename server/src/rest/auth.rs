//! `POST /api/v1/auth/token` and `GET /api/v1/me`.
use app::backend::sessions::SessionUser;
use app::backend::{self, accounts, AppState};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::{OpenApi, ToSchema};

use super::{request_meta, ApiError, ApiJson};
use crate::state::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/auth/token", post(issue_token))
        .route("/api/v1/me", get(get_me))
}

#[derive(OpenApi)]
#[openapi(paths(issue_token, get_me))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until it expires (900).
    expires_in: i64,
}

/// The user a credential stands for.
#[derive(Serialize, ToSchema)]
pub struct MeOut {
    id: app::model::UserId,
    email: String,
    name: String,
}

/// Email + password → a 15-minute bearer token bound to a new session
/// that ends with it (revoking the session revokes the token).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    summary = "Trade a password for an access token",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A 15-minute bearer token.", body = TokenResponse),
        (status = 401, description = "Email or password is incorrect.", body = super::ErrorBody),
        (status = 423, description = "The account is locked after too many failed log-ins.", body = super::ErrorBody),
    ),
)]
async fn issue_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let meta = request_meta(&state, &headers, peer);
    let lifetime = backend::sessions::Lifetime::AccessToken;
    let signed_in = accounts::log_in(&state, &input.email, &input.password, lifetime, meta).await?;
    let session = backend::sessions::authenticate(&state.pool, &signed_in.token)
        .await?
        .ok_or(backend::Error::Unauthenticated)?;
    let (access_token, expires_in) = state.jwt.issue(session.user_id, session.session_id)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
    }))
}

/// The user a bearer token stands for (the same extractor resolves the
/// caller of server functions).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "Who the credential stands for",
    responses((status = 200, description = "The signed-in user.", body = MeOut)),
)]
async fn get_me(user: SessionUser) -> Json<MeOut> {
    Json(MeOut {
        id: user.user_id,
        email: user.email,
        name: user.name,
    })
}
