//! The REST API under /api/v1. Errors are `{"error": {code, message,
//! details}}` with the status of their code.
use app::backend::sessions::SessionUser;
use app::backend::{self, accounts, AppState, RequestMeta};
use app::model::AppError;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::SocketAddr;

use crate::startup::ServerState;

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/api/v1/auth/token", post(issue_token))
        .route("/api/v1/me", get(me))
}

/// An error on its way out as the uniform JSON error.
pub struct ApiError(AppError);

impl From<backend::Error> for ApiError {
    fn from(e: backend::Error) -> Self {
        // The request id is in the log line of the request's span.
        ApiError(e.into_app_error(None))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

fn request_meta(headers: &HeaderMap, peer: SocketAddr) -> RequestMeta {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestMeta {
        ip: Some(peer.ip()),
        user_agent: header("user-agent"),
        request_id: header(app::api_request_id_header()),
    }
}

#[derive(Deserialize)]
pub struct TokenRequest {
    email: String,
    password: String,
}

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
}

/// Email + password → a 15-minute bearer token bound to a new session.
async fn issue_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let meta = request_meta(&headers, peer);
    let signed_in = accounts::log_in(&state, &input.email, &input.password, false, meta).await?;
    let session = backend::sessions::authenticate(&state.pool, &signed_in.token)
        .await?
        .ok_or(backend::Error::Unauthenticated)?;
    let (access_token, expires_in) = state.jwt.issue(session.user_id, session.session_id)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
    }))
}

/// The user a bearer token stands for (the same extractor resolves the
/// caller of server functions).
async fn me(user: SessionUser) -> Json<serde_json::Value> {
    Json(json!({"id": user.user_id, "email": user.email, "name": user.name}))
}
