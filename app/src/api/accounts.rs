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
    use super::server::{fail, request_meta, set_cookie, state};
    use crate::backend::{accounts, sessions};

    let state = state()?;
    let input = accounts::SignUpInput {
        name,
        email,
        password,
        organization,
    };
    let signed_in = accounts::sign_up(&state, input, request_meta())
        .await
        .map_err(fail)?;
    set_cookie(&sessions::session_cookie(
        &signed_in.token,
        signed_in.remember,
        state.secure_cookies(),
    ));
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(endpoint = "accounts/log_in")]
pub async fn log_in(
    email: String,
    password: String,
    #[server(default)] remember: Option<String>,
) -> Result<(), AppError> {
    use super::server::{fail, request_meta, set_cookie, state};
    use crate::backend::{accounts, sessions};

    let state = state()?;
    let remember = remember.is_some_and(|v| v == "on" || v == "true");
    let signed_in = accounts::log_in(&state, &email, &password, remember, request_meta())
        .await
        .map_err(fail)?;
    set_cookie(&sessions::session_cookie(
        &signed_in.token,
        signed_in.remember,
        state.secure_cookies(),
    ));
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
    use super::server::{request_meta, session_user, state};
    use crate::backend::OrgContext;
    use crate::model::accounts::CurrentOrganization;

    let state = state()?;
    let Some(user) = session_user().await? else {
        return Ok(None);
    };
    // An inactive or missing organization does not sign the user out; the
    // pages that need one say why they cannot show it.
    let organization = OrgContext::resolve(&state.pool, user.clone(), request_meta())
        .await
        .ok()
        .map(|ctx| CurrentOrganization {
            id: ctx.org_id,
            name: ctx.org_name,
            slug: ctx.org_slug,
            role: ctx.role,
        });
    Ok(Some(CurrentUser {
        id: user.user_id,
        name: user.name,
        email: user.email,
        is_platform_admin: user.is_platform_admin,
        organization,
    }))
}
