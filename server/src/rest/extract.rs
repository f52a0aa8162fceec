//! Extractors that refuse in the API's error shape, and small helpers for
//! answers.
use app::backend::{AppState, RequestMeta};
use app::model::ErrorCode;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::ApiError;

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
