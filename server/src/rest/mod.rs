//! The REST API under /api/v1, one module per resource. Each module gives
//! its routes (`router`) and its part of the OpenAPI document (`openapi`),
//! both from the same handlers: `#[utoipa::path]` on every one. Handlers
//! take the caller's `OrgContext` and call the same backend services the
//! server functions call; nothing here decides a rule.
//!
//! Errors are always `{"error": {code, message, details}}` with the status
//! of their code: the extractors here reject in that shape, and
//! `json_errors` turns whatever axum itself answers (404 for an unknown
//! path, 405 for a wrong method) into it too.
use app::backend::AppState;
use app::model::{AppError, ErrorCode};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use utoipa::openapi::{self};

use crate::state::ServerState;

mod document;
mod error;
mod extract;

pub use document::openapi;
pub use error::{ApiError, ErrorBody, ErrorDetail, ErrorDetails};
pub use extract::{
    json_object, json_with, location, request_meta, ApiBytes, ApiJson, ApiPath, ApiQuery,
};

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod codes;
pub mod comments;
pub mod exports;
pub mod imports;
pub mod invitations;
pub mod members;
pub mod reference;
pub mod releases;
pub mod webhooks;

/// A resource of the API: its routes and its part of the document.
struct Resource {
    router: fn() -> Router<ServerState>,
    openapi: fn() -> openapi::OpenApi,
}

/// Every resource; a new one (audit, API keys) is one line here.
const RESOURCES: &[Resource] = &[
    Resource {
        router: auth::router,
        openapi: auth::openapi,
    },
    Resource {
        router: codes::router,
        openapi: codes::openapi,
    },
    Resource {
        router: comments::router,
        openapi: comments::openapi,
    },
    Resource {
        router: changes::router,
        openapi: changes::openapi,
    },
    Resource {
        router: imports::router,
        openapi: imports::openapi,
    },
    Resource {
        router: exports::router,
        openapi: exports::openapi,
    },
    Resource {
        router: releases::router,
        openapi: releases::openapi,
    },
    Resource {
        router: members::router,
        openapi: members::openapi,
    },
    Resource {
        router: invitations::router,
        openapi: invitations::openapi,
    },
    Resource {
        router: webhooks::router,
        openapi: webhooks::openapi,
    },
    Resource {
        router: audit::router,
        openapi: audit::openapi,
    },
];

/// The whole API: every resource, the document, the reference page, and
/// JSON 404/405 for anything else under /api/v1.
pub fn router(state: &AppState) -> Router<ServerState> {
    let api = RESOURCES
        .iter()
        .fold(Router::new(), |api, resource| {
            api.merge((resource.router)())
        })
        .route("/api/v1/openapi.json", get(document::openapi_json))
        .route("/api/v1", any(not_found))
        .route("/api/v1/", any(not_found))
        .route("/api/v1/{*rest}", any(not_found))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api_keys::authenticate,
        ));
    api.route("/docs/api", get(reference::page))
}

/// The largest body a request to the API may have, but the import's.
pub const MAX_BODY_BYTES: usize = crate::body_limit::MAX_BODY_BYTES;
/// The largest CSV file `POST /api/v1/codes/import` takes.
pub const MAX_IMPORT_BYTES: usize = crate::body_limit::UPLOAD_BODY_BYTES;

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "There is no such route in this API; see /api/v1/openapi.json.",
    )
}

/// Any error under /api/v1 that is not already JSON (axum's own 405 with
/// its `Allow` header, a panic's 500) becomes the uniform body, keeping
/// the response's headers.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "This route does not take this method; `Allow` lists those it takes.",
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "Not found."),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "The request is too large."),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "Authentication required."),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "Forbidden."),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "Too many requests."),
        s if s.is_server_error() => (ErrorCode::Internal, "Something went wrong."),
        _ => (ErrorCode::BadRequest, "The request is malformed."),
    };
    let (parts, _) = response.into_parts();
    let mut json = ApiError::with_status(status, AppError::new(code, message)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}
