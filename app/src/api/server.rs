//! What every server function needs from the request it runs in.
use http::request::Parts;
use leptos::prelude::*;

use crate::backend::sessions::{SessionToken, SessionUser};
use crate::backend::{self, AppState, OrgContext, RequestMeta};
use crate::model::{AppError, ErrorCode};

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| fail(anyhow::anyhow!("AppState missing from context").into()))
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// Who is calling and from where: the client address (through trusted
/// proxies), a bounded user agent and the request id.
pub fn request_meta() -> RequestMeta {
    let Some(parts) = parts() else {
        return RequestMeta::default();
    };
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let trusted = use_context::<AppState>()
        .map(|state| state.trusted_proxies)
        .unwrap_or_default();
    RequestMeta::from_http(&parts.headers, peer, &trusted)
}

/// Maps a backend error to the wire, logging internal ones with the request
/// id, and sets the response status so a plain form post sees it too.
pub fn fail(error: backend::Error) -> AppError {
    let request_id = request_meta().request_id;
    let app_error = error.into_app_error(request_id.as_deref());
    set_response_status(app_error.code);
    app_error
}

/// Gives the server function's response the status of `code`.
pub(crate) fn set_response_status(code: ErrorCode) {
    // A plain form post (no JavaScript) must keep the redirect back to the
    // form, which carries the error; anyone else gets the real status.
    if accepts_html() {
        return;
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(code.http_status()) {
            response.set_status(status);
        }
    }
}

fn accepts_html() -> bool {
    parts()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)?
                .to_str()
                .ok()
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    let state = state()?;
    let cookie = backend::sessions::cookie_name(state.secure_cookies());
    let Some(token) = parts().and_then(|p| SessionToken::from_headers(&p.headers, cookie)) else {
        return Ok(None);
    };
    backend::sessions::authenticate(&state.pool, &token)
        .await
        .map_err(fail)
}

pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user()
        .await?
        .ok_or_else(|| fail(backend::Error::Unauthenticated))
}

/// The caller's current organization, read fresh from the database.
pub async fn org_context() -> Result<OrgContext, AppError> {
    let state = state()?;
    let user = require_user().await?;
    OrgContext::resolve(&state.pool, user, request_meta())
        .await
        .map_err(fail)
}

pub fn set_cookie(value: &str) {
    let response = expect_context::<leptos_axum::ResponseOptions>();
    if let Ok(value) = http::HeaderValue::from_str(value) {
        response.append_header(http::header::SET_COOKIE, value);
    }
}

/// Hands a new session to the browser.
pub fn start_session(state: &AppState, signed_in: &crate::backend::accounts::SignedIn) {
    set_cookie(&crate::backend::sessions::session_cookie(
        &signed_in.token,
        signed_in.remember,
        state.secure_cookies(),
    ));
}
