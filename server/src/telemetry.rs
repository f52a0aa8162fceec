use app::backend::request::is_acceptable_request_id;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::borrow::Cow;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Structured logs to stdout; `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The span every request's log lines belong to. The path is logged with
/// the secret of a reset or invitation link cut out.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(app::api_request_id_header())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %redacted_path(request.uri().path()),
        request_id = %id
    )
}

/// Pages whose last path segment is a secret token.
const TOKEN_PAGES: &[&str] = &["/reset-password/", "/invite/"];

/// `path` with the token of a reset or invitation link replaced.
pub fn redacted_path(path: &str) -> Cow<'_, str> {
    for prefix in TOKEN_PAGES {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return Cow::Owned(format!("{prefix}[redacted]"));
            }
        }
    }
    Cow::Borrowed(path)
}

/// Drops a client-given request id that is too long or has characters
/// beyond `[A-Za-z0-9._-]`, so the request-id layer gives the request a
/// fresh one: ids end up in every log line and audit entry.
pub async fn drop_unacceptable_request_id(mut request: Request, next: Next) -> Response {
    let name = app::api_request_id_header();
    let acceptable = request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().is_ok_and(is_acceptable_request_id))
        .collect::<Vec<_>>();
    if !acceptable.is_empty() && acceptable != [true] {
        request.headers_mut().remove(name);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_reset_and_invitation_links_are_not_logged() {
        assert_eq!(
            redacted_path("/reset-password/Zm9vYmFyc2VjcmV0"),
            "/reset-password/[redacted]"
        );
        assert_eq!(redacted_path("/invite/abc_DEF-123"), "/invite/[redacted]");
        assert_eq!(redacted_path("/invite/abc/extra"), "/invite/[redacted]");
        assert_eq!(redacted_path("/dashboard"), "/dashboard");
        assert_eq!(
            redacted_path("/api/invitations/accept"),
            "/api/invitations/accept"
        );
    }
}
