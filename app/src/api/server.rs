//! What every server function needs from the request it runs in.
use http::request::Parts;
use leptos::prelude::*;

use crate::backend::sessions::{SessionToken, SessionUser};
use crate::backend::{self, AppState, OrgContext, RequestMeta};
use crate::model::AppError;

use crate::api_request_id_header;

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| fail(anyhow::anyhow!("AppState missing from context").into()))
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

pub fn request_meta() -> RequestMeta {
    let Some(parts) = parts() else {
        return RequestMeta::default();
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    RequestMeta {
        ip: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip()),
        user_agent: header("user-agent"),
        request_id: header(api_request_id_header()),
    }
}

/// Maps a backend error to the wire, logging internal ones with the request
/// id, and sets the response status so a plain form post sees it too.
pub fn fail(error: backend::Error) -> AppError {
    let request_id = request_meta().request_id;
    let app_error = error.into_app_error(request_id.as_deref());
    // A plain form post (no JavaScript) must keep the redirect back to the
    // form, which carries the error; anyone else gets the real status.
    if !accepts_html() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(app_error.code.http_status()) {
                response.set_status(status);
            }
        }
    }
    app_error
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
    let Some(token) = parts().and_then(|p| SessionToken::from_headers(&p.headers)) else {
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
