//! Invitations: invite, list, resend, revoke, and the link's accept page.
use crate::model::InvitationId;
use leptos::prelude::*;

use crate::model::members::{InvitationOut, InvitationPreview};
use crate::model::{AppError, Role};

#[server(endpoint = "invitations/list")]
pub async fn list_invitations() -> Result<Vec<InvitationOut>, AppError> {
    use crate::backend::invitations;
    use crate::model::Permission;
    super::server::in_org(async |ctx, state| {
        // The members page loads this for everyone and shows it only to
        // those who may invite: the others get nothing, not a refusal to
        // record in the audit log on every visit.
        if !ctx.grant.can(Permission::InviteMembers) {
            return Ok(Vec::new());
        }
        invitations::list(ctx, state).await
    })
    .await
}

#[server(endpoint = "invitations/create")]
pub async fn invite_member(email: String, role: Role) -> Result<InvitationOut, AppError> {
    use crate::backend::invitations;
    use crate::model::flash::typed;
    let invited = super::server::in_org(async |ctx, state| {
        invitations::invite(ctx, state, &email, role).await
    })
    .await;
    let invited = super::server::keep_typed_on_error(invited, "/members", || {
        typed([
            ("email", Some(email)),
            ("role", Some(role.as_str().to_owned())),
        ])
    })?;
    say_sent(&invited, "Invitation sent to");
    Ok(invited)
}

/// Sends a browser back to the members page, which says where it went.
#[cfg(feature = "ssr")]
fn say_sent(invitation: &InvitationOut, what: &str) {
    use crate::model::flash::Flash;
    let notice = format!("{what} {}.", invitation.email);
    super::server::redirect_with_flash("/members", Flash::Notice(notice));
}

#[server(endpoint = "invitations/resend")]
pub async fn resend_invitation(id: InvitationId) -> Result<InvitationOut, AppError> {
    use crate::backend::invitations;
    let resent =
        super::server::in_org(async |ctx, state| invitations::resend(ctx, state, id).await).await?;
    say_sent(&resent, "Invitation sent again to");
    Ok(resent)
}

#[server(endpoint = "invitations/revoke")]
pub async fn revoke_invitation(id: InvitationId) -> Result<(), AppError> {
    use crate::backend::invitations;
    super::server::in_org(async |ctx, state| invitations::revoke(ctx, state, id).await).await
}

#[server(endpoint = "invitations/preview")]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, AppError> {
    use super::server::{fail, session_user, state};

    let state = state()?;
    let user = session_user().await?;
    crate::backend::invitations::preview(&state, &token, user.as_ref())
        .await
        .map_err(fail)
}

/// Accepts as the signed-in user, or, with nobody signed in, with a new
/// account for the invited address (name and password).
#[server(endpoint = "invitations/accept")]
pub async fn accept_invitation(
    token: String,
    #[server(default)] name: Option<String>,
    #[server(default)] password: Option<String>,
) -> Result<(), AppError> {
    use super::server::{fail, request_meta, session_user, start_session, state};
    use crate::backend::invitations::{self, Acceptor};

    let state = state()?;
    let acceptor = match session_user().await? {
        Some(user) => Acceptor::SignedIn(user),
        None => Acceptor::NewAccount {
            name: name.unwrap_or_default(),
            password: password.unwrap_or_default(),
        },
    };
    let signed_in = invitations::accept(&state, &token, acceptor, request_meta())
        .await
        .map_err(fail)?;
    if let Some(signed_in) = signed_in {
        start_session(&state, &signed_in);
    }
    leptos_axum::redirect("/dashboard");
    Ok(())
}
