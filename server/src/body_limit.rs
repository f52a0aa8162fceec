//! Request bodies are read whole, once, here, up to a limit, before any
//! handler sees them: server functions read their body into memory with
//! no limit of ours, and a chunked body announces no length to check.
use app::model::{AppError, ErrorCode};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, request::Parts, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt as _;
use std::time::Duration;

use crate::security::edge_error;

/// Every body but an upload's: forms and JSON of server functions and the
/// REST API are a few KiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The CSV upload route (bulk import of an organization's codes, ~74k rows
/// ≈ 6 MB plain): the one place a large body is right.
pub const UPLOAD_BODY_BYTES: usize = app::backend::codes::import::MAX_UPLOAD_BYTES;

/// Paths that take `UPLOAD_BODY_BYTES`; nothing else belongs here.
const UPLOAD_ROUTES: &[&str] = &["/codes/import", "/api/v1/codes/import"];

/// The limit for a request to `path`.
pub fn body_limit(path: &str) -> usize {
    if UPLOAD_ROUTES.contains(&path) {
        UPLOAD_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// After a body is refused, at most this much more of it is read and
/// dropped, for at most `DRAIN_TIME`: a client still sending would
/// otherwise see the connection reset instead of our 413.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Buffers the body up to its limit and hands it on; 413 beyond it, whether
/// the client announced its length or streamed it in chunks.
pub async fn limit_body(request: Request, next: Next) -> Response {
    let (parts, mut body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let limit = body_limit(&path);
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        drain(&mut body).await;
        return too_large(&path, limit);
    }
    let bytes = match read_up_to(&mut body, limit).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            drain(&mut body).await;
            return too_large(&path, limit);
        }
        Err(BodyError::Unreadable(e)) => {
            tracing::info!(error = %e, "request body could not be read");
            return bad_request(&path, "The request body could not be read.");
        }
    };
    if carries_nul(&parts, &bytes) {
        return bad_request(
            &path,
            "The request contains a NUL character, which no field accepts.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

enum BodyError {
    TooLarge,
    Unreadable(axum::Error),
}

async fn read_up_to(body: &mut Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Unreadable)?;
        if let Some(data) = frame.data_ref() {
            if bytes.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(data);
        }
    }
    Ok(bytes)
}

async fn drain(body: &mut Body) {
    let read_and_drop = async {
        let mut dropped = 0;
        while let Some(Ok(frame)) = body.frame().await {
            dropped += frame.data_ref().map_or(0, |d| d.len());
            if dropped > DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read_and_drop).await;
}

fn too_large(path: &str, limit: usize) -> Response {
    edge_error(
        path,
        StatusCode::PAYLOAD_TOO_LARGE,
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("The request is larger than {} KiB.", limit / 1024),
        ),
    )
}

fn bad_request(path: &str, message: &str) -> Response {
    edge_error(
        path,
        StatusCode::BAD_REQUEST,
        AppError::new(ErrorCode::BadRequest, message),
    )
}

/// Whether a form, JSON body or query string holds a NUL character, which
/// PostgreSQL cannot store in text: refused here rather than failing as a
/// database error (500) in whichever query it reaches.
fn carries_nul(parts: &Parts, body: &[u8]) -> bool {
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    let query = parts.uri.query().unwrap_or("").as_bytes();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    contains(query, b"%00")
        || (content_type.starts_with("application/x-www-form-urlencoded")
            && (contains(body, b"%00") || body.contains(&0)))
        || (content_type.starts_with("application/json")
            && (contains(body, br"\u0000") || body.contains(&0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, content_type: &str) -> Parts {
        Request::builder()
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn every_route_but_an_upload_has_the_small_limit() {
        assert_eq!(body_limit("/api/accounts/log_in"), MAX_BODY_BYTES);
        assert_eq!(body_limit("/api/v1/auth/token"), MAX_BODY_BYTES);
        assert_eq!(body_limit("/api/v1/codes/import"), UPLOAD_BODY_BYTES);
        const { assert!(MAX_BODY_BYTES >= 64 * 1024 && MAX_BODY_BYTES <= 1024 * 1024) };
        const { assert!(UPLOAD_BODY_BYTES > MAX_BODY_BYTES) };
    }

    #[test]
    fn a_nul_is_found_in_forms_json_and_query_strings() {
        let form = parts("/api/x", "application/x-www-form-urlencoded");
        assert!(carries_nul(&form, b"name=a%00b"));
        assert!(!carries_nul(&form, b"name=a%2500b"));
        let json = parts("/api/v1/x", "application/json");
        assert!(carries_nul(&json, br#"{"name": "a\u0000b"}"#));
        assert!(!carries_nul(&json, br#"{"name": "ab"}"#));
        assert!(carries_nul(&parts("/api/x?q=%00", "text/plain"), b""));
        assert!(!carries_nul(
            &parts("/api/x", "application/octet-stream"),
            b"\0"
        ));
    }
}
