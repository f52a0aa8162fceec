//! The status of a server function's error. Leptos answers 500 to any
//! error the server-function machinery makes itself (arguments that do not
//! decode, say), whatever the error says; this layer reads the `AppError`
//! in such an answer and gives the response the status of its code, so a
//! malformed request gets 400 like everywhere else. Errors of our own code
//! already carry their status (`api::server`).
use app::model::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// An error's body is a few hundred bytes; anything larger is not one.
const MAX_ERROR_BYTES: usize = 64 * 1024;

fn is_server_function(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

pub async fn fix_status(request: Request, next: Next) -> Response {
    let server_function = is_server_function(request.uri().path());
    let response = next.run(request).await;
    if !server_function || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.code.http_status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::is_server_function;

    #[test]
    fn only_server_functions_are_looked_at() {
        assert!(is_server_function("/api/codes/list"));
        assert!(!is_server_function("/api/v1/codes"));
        assert!(!is_server_function("/codes"));
    }
}
