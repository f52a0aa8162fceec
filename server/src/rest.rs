//! The REST API under /api/v1. Errors are `{"error": {code, message,
//! details}}` with the status of their code.
use app::backend::sessions::SessionUser;
use app::backend::{self, accounts, AppState, RequestMeta};
use app::model::{AppError, ErrorCode};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, State};
use axum::http::{header, HeaderMap, StatusCode};
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

/// An error on its way out as JSON, with the status of its code (or, for a
/// request refused before it is understood, the one HTTP prescribes, such
/// as 415 for a body that is not JSON).
pub struct ApiError {
    status: StatusCode,
    error: AppError,
}

impl ApiError {
    pub fn with_status(status: StatusCode, error: AppError) -> Self {
        Self { status, error }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, error }
    }
}

impl From<backend::Error> for ApiError {
    fn from(e: backend::Error) -> Self {
        // The request id is in the log line of the request's span.
        e.into_app_error(None).into()
    }
}

/// A body that is not the JSON a route expects: 400 for broken JSON, 415
/// without the JSON content type, 413 when too large, 422 for JSON of the
/// wrong shape, always in the uniform error body.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Validation,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            _ => ErrorCode::BadRequest,
        };
        let status = if status.is_server_error() {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        Self::with_status(status, AppError::new(code, rejection.body_text()))
    }
}

/// `axum::Json` whose rejection is an `ApiError`.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Self { status, error } = self;
        let details = error.field.as_ref().map(|f| json!({"field": f}));
        let body =
            json!({"error": {"code": error.code, "message": error.message, "details": details}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The same facts a server function records, found the same way.
fn request_meta(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> RequestMeta {
    RequestMeta::from_http(headers, Some(peer.ip()), &state.trusted_proxies)
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
    ApiJson(input): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let meta = request_meta(&state, &headers, peer);
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
