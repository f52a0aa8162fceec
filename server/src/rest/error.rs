//! The one error of the API: `{"error": {code, message, details}}` with
//! the status of its code, whatever refused the request.
use app::backend::{self};
use app::model::{AppError, ErrorCode};
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

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
    /// The codes that changed after an import and stop its undo (the
    /// first 100, in code order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<app::model::codes::ChangedSince>>,
}

/// An error on its way out as JSON, with the status of its code (or, for a
/// request refused before it is understood, the one HTTP prescribes, such
/// as 415 for a body that is not JSON).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: AppError,
    rows: Option<Vec<app::model::codes::RowError>>,
    codes: Option<Vec<app::model::codes::ChangedSince>>,
}

impl ApiError {
    pub fn with_status(status: StatusCode, error: AppError) -> Self {
        Self {
            status,
            error,
            rows: None,
            codes: None,
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
        let codes = match &e {
            backend::Error::ChangedSince { named, .. } => Some(named.clone()),
            _ => None,
        };
        // The request id is in the log line of the request's span.
        let mut error: Self = e.into_app_error(None).into();
        error.codes = codes;
        error
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Self {
            status,
            error,
            rows,
            codes,
        } = self;
        let details = match (&error.field, &rows, &codes) {
            (None, None, None) => None,
            _ => Some(ErrorDetails {
                field: error.field.clone(),
                rows,
                codes,
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
