//! Sign-up, log-in, log-out and who is signed in.
use leptos::prelude::*;

use crate::model::accounts::CurrentUser;
use crate::model::AppError;

#[server(endpoint = "accounts/sign_up")]
pub async fn sign_up(
    name: String,
    email: String,
    password: String,
    organization: String,
) -> Result<(), AppError> {
    use super::server::{fail, keep_typed_on_error, request_meta, start_session, state};
    use crate::backend::accounts;
    use crate::model::flash::typed;

    let state = state()?;
    let typed = typed([
        ("name", Some(name.clone())),
        ("email", Some(email.clone())),
        ("organization", Some(organization.clone())),
    ]);
    let input = accounts::SignUpInput {
        name,
        email,
        password,
        organization,
    };
    let signed_in = accounts::sign_up(&state, input, request_meta())
        .await
        .map_err(fail);
    let signed_in = keep_typed_on_error(signed_in, "/signup", || typed)?;
    start_session(&state, &signed_in);
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(endpoint = "accounts/log_in")]
pub async fn log_in(
    email: String,
    password: String,
    #[server(default)] remember: Option<String>,
) -> Result<(), AppError> {
    use super::server::{fail, keep_typed_on_error, request_meta, start_session, state};
    use crate::backend::accounts;
    use crate::model::flash::typed;

    let state = state()?;
    let remember = remember.is_some_and(|v| v == "on" || v == "true");
    let lifetime = crate::backend::sessions::Lifetime::of_sign_in(remember);
    let signed_in = accounts::log_in(&state, &email, &password, lifetime, request_meta())
        .await
        .map_err(fail);
    let signed_in = keep_typed_on_error(signed_in, "/login", || typed([("email", Some(email))]))?;
    start_session(&state, &signed_in);
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(endpoint = "accounts/log_out")]
pub async fn log_out() -> Result<(), AppError> {
    use super::server::{fail, request_meta, session_user, set_cookie, state};
    use crate::backend::{accounts, sessions};

    let state = state()?;
    if let Some(user) = session_user().await? {
        accounts::log_out(&state, &user, request_meta())
            .await
            .map_err(fail)?;
    }
    set_cookie(&sessions::clear_cookie(state.secure_cookies()));
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user and their current organization, or `None`.
#[server(endpoint = "accounts/current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    use super::server::{org_context, session_user};
    use crate::model::accounts::CurrentOrganization;

    let Some(user) = session_user().await? else {
        return Ok(None);
    };
    // An inactive or missing organization does not sign the user out; the
    // pages that need one say why they cannot show it. The organization is
    // the one the page's own server functions use (looked up once).
    let organization = org_context().await.ok().and_then(|ctx| {
        Some(CurrentOrganization {
            role: ctx.member_role().ok()?,
            id: ctx.org_id,
            name: ctx.org_name,
            slug: ctx.org_slug,
        })
    });
    Ok(Some(CurrentUser {
        id: user.user_id,
        name: user.name,
        email: user.email,
        is_platform_admin: user.is_platform_admin,
        organization,
    }))
}

#[server(endpoint = "accounts/sessions")]
pub async fn list_sessions() -> Result<Vec<crate::model::accounts::SessionOut>, AppError> {
    use crate::backend::accounts::security;
    super::server::as_user(async |user, state| security::list_sessions(&state.pool, user).await)
        .await
}

#[server(endpoint = "accounts/revoke_session")]
pub async fn revoke_session(id: crate::model::SessionId) -> Result<(), AppError> {
    use crate::backend::accounts::security;
    let meta = super::server::request_meta();
    super::server::as_user(async |user, state| {
        security::revoke_session(&state.pool, user, id, &meta).await
    })
    .await
}

/// Logs out every session but this one.
#[server(endpoint = "accounts/revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<u64, AppError> {
    use crate::backend::accounts::security;
    let meta = super::server::request_meta();
    super::server::as_user(async |user, state| {
        security::revoke_other_sessions(&state.pool, user, &meta).await
    })
    .await
}

#[server(endpoint = "accounts/change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    use crate::backend::accounts::security;
    let meta = super::server::request_meta();
    super::server::as_user(async |user, state| {
        security::change_password(state, user, &current_password, &new_password, &meta).await
    })
    .await?;
    super::server::redirect_with_notice(
        "/account",
        "Password changed. Your other sessions were logged out.",
    );
    Ok(())
}

/// Deletes the signed-in user's account after their password, signs them
/// out, and sends them to the sign-up page. Refused, naming the
/// organizations, while they are the last owner of one.
#[server(endpoint = "accounts/delete_account")]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use super::server::{request_meta, set_cookie, state};
    use crate::backend::{accounts::security, sessions};
    let meta = request_meta();
    super::server::as_user(async |user, state| {
        security::delete_account(state, user, &password, &meta).await
    })
    .await?;
    set_cookie(&sessions::clear_cookie(state()?.secure_cookies()));
    leptos_axum::redirect("/signup");
    Ok(())
}

/// Always answers the same, whether or not the address has an account.
#[server(endpoint = "accounts/forgot_password")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::server::{fail, request_meta, state};
    use crate::backend::{accounts::security, Error};

    let state = state()?;
    match security::request_reset(&state, &email, &request_meta()).await {
        Ok(()) => {}
        // A refused request is refused alike for every address.
        Err(e @ (Error::Validation { .. } | Error::RateLimited(_))) => return Err(fail(e)),
        // Nothing that happened to that address is told to the asker.
        Err(e) => {
            fail(e);
        }
    }
    super::server::redirect_with_notice("/forgot-password", RESET_SENT);
    Ok(())
}

/// What the forgot-password page says once the form is sent, whatever the
/// address.
pub const RESET_SENT: &str =
    "If that address has an account, a reset link is on its way. It works once, for one hour.";

#[server(endpoint = "accounts/reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use super::server::{fail, request_meta, state};

    let state = state()?;
    crate::backend::accounts::security::reset_password(&state, &token, &password, &request_meta())
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/login?reset=1");
    Ok(())
}
