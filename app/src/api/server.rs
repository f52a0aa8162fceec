//! What every server function needs from the request it runs in.
use axum::extract::FromRequestParts;
use http::request::Parts;
use leptos::prelude::*;

use crate::backend::caller::CallerWithMemberships;
use crate::backend::sessions::Membership;
use crate::backend::sessions::SessionUser;
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
    let state = use_context::<AppState>();
    let none = crate::backend::request::TrustedProxies::default();
    let trusted = state
        .as_deref()
        .map_or(&none, |state| &state.trusted_proxies);
    RequestMeta::from_http(&parts.headers, peer, trusted)
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
    // A page's plain form post must keep the redirect back to the form,
    // which carries the error; anyone else gets the real status.
    if accepts_html() {
        return;
    }
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(code.http_status()) {
            response.set_status(status);
        }
    }
}

/// A page's plain form post (no JavaScript, or a link the browser follows).
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

/// Runs one of the axum extractors REST handlers use, so a server function
/// resolves its caller exactly as REST does.
async fn extract<T>() -> Result<T, AppError>
where
    T: FromRequestParts<AppState, Rejection = backend::Error>,
{
    let state = state()?;
    let mut parts = parts()
        .ok_or_else(|| fail(anyhow::anyhow!("request parts missing from context").into()))?;
    T::from_request_parts(&mut parts, &state)
        .await
        .map_err(fail)
}

/// The caller of this request, looked up once: a page render runs several
/// server functions in-process, each of which would otherwise read the
/// session and the membership again. Provided per request (startup's
/// context); without it (a test calling a function directly) every call
/// looks the caller up.
#[derive(Clone, Default)]
pub struct CallerCache {
    user: std::sync::Arc<tokio::sync::OnceCell<Option<SessionUser>>>,
    memberships: std::sync::Arc<tokio::sync::OnceCell<Vec<Membership>>>,
    org: std::sync::Arc<tokio::sync::OnceCell<OrgContext>>,
}

pub async fn session_user() -> Result<Option<SessionUser>, AppError> {
    match use_context::<CallerCache>() {
        Some(cache) => cache
            .user
            .get_or_try_init(async || {
                // The memberships come with the session (one statement):
                // the page's organization and its switcher read them next.
                let caller = extract::<CallerWithMemberships>().await?;
                if let Some(memberships) = caller.memberships {
                    let _ = cache.memberships.set(memberships);
                }
                Ok(caller.user)
            })
            .await
            .cloned(),
        None => extract::<Option<SessionUser>>().await,
    }
}

pub async fn require_user() -> Result<SessionUser, AppError> {
    session_user()
        .await?
        .ok_or_else(|| fail(backend::Error::Unauthenticated))
}

/// The caller's memberships, read fresh from the database once per
/// request: the page's organization and its switcher both come from them.
pub async fn my_memberships() -> Result<Vec<Membership>, AppError> {
    // The user first: a session cookie's read brings the memberships
    // along (`session_user`), and they must be in the cache before this
    // looks.
    let user = require_user().await?;
    let read = async || {
        crate::backend::sessions::memberships(&state()?.pool, user.user_id)
            .await
            .map_err(fail)
    };
    match use_context::<CallerCache>() {
        Some(cache) => cache.memberships.get_or_try_init(read).await.cloned(),
        None => read().await,
    }
}

/// The caller's current organization, read fresh from the database once
/// per request.
pub async fn org_context() -> Result<OrgContext, AppError> {
    let resolve = async || {
        let state = state()?;
        let user = require_user().await?;
        let memberships = my_memberships().await?;
        OrgContext::among(&state.pool, user, &memberships, request_meta()).map_err(fail)
    };
    match use_context::<CallerCache>() {
        Some(cache) => cache.org.get_or_try_init(resolve).await.cloned(),
        None => resolve().await,
    }
}

/// The one shape of an organization-scoped server function: resolve the
/// caller's organization, then hand it to one service call, which checks
/// the permission and does its work in one `OrgTx`.
pub async fn in_org<T>(
    work: impl AsyncFnOnce(&OrgContext, &AppState) -> backend::Result<T>,
) -> Result<T, AppError> {
    let state = state()?;
    let ctx = org_context().await?;
    work(&ctx, &state).await.map_err(fail)
}

/// The same for what a signed-in user does outside any one organization
/// (their sessions, password, organizations).
pub async fn as_user<T>(
    work: impl AsyncFnOnce(&SessionUser, &AppState) -> backend::Result<T>,
) -> Result<T, AppError> {
    let state = state()?;
    let user = require_user().await?;
    work(&user, &state).await.map_err(fail)
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

/// Sends a browser's form post on to `page`, which shows `flash` once.
pub fn redirect_with_flash(page: &str, flash: crate::model::flash::Flash) {
    flash_to(page, flash);
    leptos_axum::redirect(page);
}

/// Sends a browser's form post on to `page`, which shows the new `secret`
/// once.
pub fn redirect_with_secret(page: &str, secret: &str) {
    redirect_with_flash(page, crate::model::flash::Flash::Secret(secret.to_owned()));
}

/// Sends a browser's form post on to `page`, which says `notice` once.
pub fn redirect_with_notice(page: &str, notice: impl Into<String>) {
    redirect_with_flash(page, crate::model::flash::Flash::Notice(notice.into()));
}

/// A call from the running app in a browser: browsers mark their own
/// requests with `Sec-Fetch-Site`, which a page's script cannot forge and
/// programs do not send.
fn from_browser() -> bool {
    parts().is_some_and(|p| {
        p.headers
            .get("sec-fetch-site")
            .is_some_and(|site| site == "same-origin")
    })
}

/// Hands `flash` to the next rendering of `page`, when a browser posted the
/// form, plainly or from the running app (an API client gets the answer
/// itself, and no cookie).
pub fn flash_to(page: &str, flash: crate::model::flash::Flash) {
    if !accepts_html() && !from_browser() {
        return;
    }
    set_flash_cookie(page, &flash);
}

fn set_flash_cookie(page: &str, flash: &crate::model::flash::Flash) {
    if let Ok(state) = state() {
        set_cookie(&crate::backend::flash::cookie_for(
            &state.flash_key,
            page,
            flash,
            state.secure_cookies(),
        ));
    }
}

/// `result`, and when it failed, what was typed (`flash`) handed back to
/// `page`, whose form shows it again. Only for a plain form post: the
/// running app keeps the form as it was typed, on the same page.
pub fn keep_typed_on_error<T>(
    result: Result<T, AppError>,
    page: &str,
    flash: impl FnOnce() -> crate::model::flash::Flash,
) -> Result<T, AppError> {
    if result.is_err() && accepts_html() {
        set_flash_cookie(page, &flash());
    }
    result
}

/// The flash for the page being rendered, if there is one, taken.
pub fn take_flash() -> Option<crate::model::flash::Flash> {
    take_flash_for(parts()?.uri.path())
}

/// The flash for the page at `path`, if the request carries one, taken:
/// the answer clears the cookie, so it shows once.
pub fn take_flash_for(path: &str) -> Option<crate::model::flash::Flash> {
    let parts = parts()?;
    let state = use_context::<AppState>()?;
    let secure = state.secure_cookies();
    let flash = crate::backend::flash::open(&state.flash_key, &parts.headers, path, secure)?;
    set_cookie(&crate::backend::flash::clear_cookie(secure));
    Some(flash)
}
