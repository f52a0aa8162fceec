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
use app::backend::{self, AppState, RequestMeta};
use app::model::{AppError, ErrorCode};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{self, RefOr};
use utoipa::{OpenApi, ToSchema};

use crate::startup::ServerState;

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod comments;
pub mod exports;
pub mod imports;
pub mod invitations;
pub mod members;
pub mod reference;
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
        router: imports::router,
        openapi: imports::openapi,
    },
    Resource {
        router: exports::router,
        openapi: exports::openapi,
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
        .route("/api/v1/openapi.json", get(openapi_json))
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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Codebook REST API",
        version = "1",
        description = "The REST API of Codebook: an organization's diagnostic codes under version \
control, their comments, import and export, members, invitations and webhooks.\n\n\
**Authentication**: `Authorization: Bearer <token>`, where the token is an access token from \
`POST /api/v1/auth/token` (15 minutes, bound to a session) or an API key of the organization \
(`cb_live_…`). Every call works on the caller's organization; another organization's ids are \
not found (404).\n\n\
**Errors** are always `{\"error\": {\"code\", \"message\", \"details\"}}` with the status of \
their code (`ErrorCode`); `details.field` names the input a `validation` error is about.\n\n\
**Concurrency**: a code's `ETag` is its current version (`\"3\"`); `PATCH /api/v1/codes/{code_id}` \
requires it in `If-Match` (428 without, 412 when the code has moved on, and nothing changes).\n\n\
**Pagination**: lists that page return `next_cursor`; pass it back as `cursor` for the next \
page (null on the last one).\n\n\
**Limits**: request bodies are capped at 256 KiB (413), but `POST /api/v1/codes/import`, which \
takes CSV files up to 64 MiB. Every response carries an `X-Request-Id` header (a client may \
send its own, up to 64 characters of `[A-Za-z0-9._-]`).\n\n\
**API keys** carry scopes (`codes:read`, `codes:write`, `members:read`, `invitations:manage`, \
`webhooks:manage`, `audit:read`); an operation outside them is 403. Each key has a rate limit \
per minute: its responses carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and \
`RateLimit-Policy`, and a request past the limit gets 429 with `Retry-After`. A revoked, expired \
or rotated-out key gets 401."
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorDetails, ErrorCode)),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Access tokens and the caller."),
        (name = "codes", description = "Diagnostic codes, their versions and diffs."),
        (name = "comments", description = "Comments on the versions of a code."),
        (name = "import and export", description = "Bulk CSV import (an upsert, all or nothing) and streamed CSV/JSON export."),
        (name = "members", description = "Members of the organization (read only)."),
        (name = "invitations", description = "Invitations to join the organization."),
        (name = "webhooks", description = "Webhook endpoints, their deliveries, replays and test sends."),
        (name = "audit", description = "The organization's tamper-evident audit log: browse, export, verify."),
    ),
    security(("bearer" = [])),
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of the whole API, built once.
pub fn openapi() -> &'static openapi::OpenApi {
    static DOC: OnceLock<openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        for resource in RESOURCES {
            doc.merge((resource.openapi)());
        }
        document_common_errors(&mut doc);
        doc
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "auth",
    operation_id = "get_openapi",
    summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| openapi().to_json().unwrap_or_default());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.as_str(),
    )
        .into_response()
}

/// The bearer scheme, and the document's own operation.
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "An access token from `POST /api/v1/auth/token` (a JWT) or an API key (`cb_live_…`)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let own: openapi::OpenApi = OwnDoc::openapi();
        doc.merge(own);
    }
}

#[derive(OpenApi)]
#[openapi(paths(openapi_json))]
struct OwnDoc;

/// The error responses every operation may give, added to each where it
/// applies unless the operation documents its own: 400 (undecodable
/// input), 401/403 (with a credential), 404 (with an id in the path),
/// 413/415/422 (with a body), 429 (rate limits), 503 (the database
/// unreachable).
fn document_common_errors(doc: &mut openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let public = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(is_empty_requirement));
            let has_body = operation.request_body.is_some();
            let mut add = |status: u16, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(error_response(status, description)));
            };
            add(400, "The request does not decode: a malformed id, query parameter, header or JSON body.");
            if !public {
                add(401, "No credential, or one that is invalid or expired.");
                add(403, "The caller's role or the key's scopes do not allow this, or the organization is deactivated.");
            }
            if has_id {
                add(
                    404,
                    "There is no such resource in the caller's organization.",
                );
            }
            if has_body {
                add(
                    413,
                    "The body is over the limit (256 KiB; 64 MiB for the import).",
                );
                add(415, "The body is not of the documented content type.");
                add(422, "The body is well-formed but a value is not acceptable; `details.field` names it.");
            }
            add(
                429,
                "Too many requests; `Retry-After` says when to try again.",
            );
            add(
                503,
                "The database could not be reached; `Retry-After` says when to try again.",
            );
        }
    }
}

fn is_empty_requirement(requirement: &openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

/// An error response of the uniform shape.
fn error_response(status: u16, description: &str) -> openapi::Response {
    let content = openapi::ContentBuilder::new()
        .schema(Some(openapi::Ref::from_schema_name("ErrorBody")))
        .build();
    let mut builder = openapi::ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if status == 429 || status == 503 {
        builder = builder.header(
            "Retry-After",
            openapi::HeaderBuilder::new()
                .schema(
                    openapi::ObjectBuilder::new()
                        .schema_type(openapi::schema::Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before trying again."))
                .build(),
        );
    }
    builder.build()
}

/// The body of every error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable: match on this.
    pub code: ErrorCode,
    /// For people; may change.
    pub message: String,
    /// Always present; null when there is nothing more to say.
    #[schema(required = true)]
    pub details: Option<ErrorDetails>,
}

/// What else is known about the error.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetails {
    /// The input field a `validation` or `conflict` error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The bad rows of an import, by line (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<app::model::codes::RowError>>,
}

/// An error on its way out as JSON, with the status of its code (or, for a
/// request refused before it is understood, the one HTTP prescribes, such
/// as 415 for a body that is not JSON).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: AppError,
    rows: Option<Vec<app::model::codes::RowError>>,
}

impl ApiError {
    pub fn with_status(status: StatusCode, error: AppError) -> Self {
        Self {
            status,
            error,
            rows: None,
        }
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::new(code, message).into()
    }

    /// 422 naming every bad row of an import.
    pub fn bad_rows(rows: Vec<app::model::codes::RowError>) -> Self {
        let mut error: Self = AppError::validation(
            "body",
            format!(
                "The file has {} bad row(s); nothing was imported.",
                rows.len()
            ),
        )
        .into();
        error.rows = Some(rows);
        error
    }

    /// A backend error whose field has another name in the API (the UI's
    /// `after` is the API's `cursor`).
    pub fn renamed(e: backend::Error, from: &str, to: &str) -> Self {
        let mut error: Self = e.into();
        if error.error.field.as_deref() == Some(from) {
            error.error.field = Some(to.to_owned());
        }
        error
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let status = StatusCode::from_u16(error.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::with_status(status, error)
    }
}

impl From<backend::Error> for ApiError {
    fn from(e: backend::Error) -> Self {
        // The request id is in the log line of the request's span.
        e.into_app_error(None).into()
    }
}

/// What a request is refused with before a handler runs: 400 for input that
/// does not decode, or the status axum gives (413, 415, 422), in the
/// uniform body.
fn rejection(status: StatusCode, message: String) -> ApiError {
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
    ApiError::with_status(status, AppError::new(code, message))
}

/// A body that is not the JSON a route expects: 400 for broken JSON, 415
/// without the JSON content type, 413 when too large, 422 for JSON of the
/// wrong shape.
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

/// A path segment that does not decode (a malformed UUID): 400.
impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        rejection(StatusCode::BAD_REQUEST, r.body_text())
    }
}

/// A query parameter that does not decode: 400.
impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        rejection(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        rejection(r.status(), r.body_text())
    }
}

/// A JSON object body of type `T`, refused as an `ApiError`: 415 without
/// the JSON content type, 400 when it does not parse, 422 when it is not
/// an object (serde would take an array for a struct) or not a `T`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<serde_json::Value>::from_request(request, state).await?;
        json_object(value).map(ApiJson)
    }
}

/// `value` as a `T`, if it is a JSON object of that shape.
pub fn json_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::Validation,
            format!("The JSON body does not have the expected shape: {e}"),
        )
    })
}

/// `axum::extract::Path` whose rejection is an `ApiError` (400).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` whose rejection is an `ApiError` (400).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The raw body, refused as an `ApiError`.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(ApiBytes)
            .map_err(ApiError::from)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Self {
            status,
            error,
            rows,
        } = self;
        let details = match (&error.field, &rows) {
            (None, None) => None,
            _ => Some(ErrorDetails {
                field: error.field.clone(),
                rows,
            }),
        };
        let body =
            json!({"error": {"code": error.code, "message": error.message, "details": details}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

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

/// The same facts a server function records, found the same way.
pub fn request_meta(
    state: &AppState,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
) -> RequestMeta {
    RequestMeta::from_http(headers, Some(peer.ip()), &state.trusted_proxies)
}

/// A JSON answer with `status` (200, 201…).
pub fn json_with<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

/// A `Location` header value for a path of ours.
pub fn location(path: String) -> (header::HeaderName, HeaderValue) {
    (
        header::LOCATION,
        HeaderValue::from_str(&path).unwrap_or_else(|_| HeaderValue::from_static("/api/v1")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation_named_and_its_errors() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}"));
                assert!(ids.insert(id.to_owned()), "operation id {id} twice");
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("400"), "{method} {path}");
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path}");
                }
            }
        }
        let patch = &doc["paths"]["/api/v1/codes/{code_id}"]["patch"]["responses"];
        assert!(patch.get("412").is_some() && patch.get("428").is_some());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
