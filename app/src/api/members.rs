//! Members of the current organization: list, change role, remove, leave.
use crate::model::UserId;
use leptos::prelude::*;

use crate::model::members::{MemberOut, MembersPage};
use crate::model::{AppError, Role};

#[server(endpoint = "members/list")]
pub async fn list_members() -> Result<MembersPage, AppError> {
    use crate::backend::members;
    super::server::in_org(async |ctx, state| members::page(ctx, state).await).await
}

#[server(endpoint = "members/change_role")]
pub async fn change_member_role(user_id: UserId, role: Role) -> Result<MemberOut, AppError> {
    use crate::backend::members;
    super::server::in_org(async |ctx, state| members::change_role(ctx, state, user_id, role).await)
        .await
}

#[server(endpoint = "members/remove")]
pub async fn remove_member(user_id: UserId) -> Result<(), AppError> {
    use crate::backend::members;
    super::server::in_org(async |ctx, state| members::remove(ctx, state, user_id).await).await
}

/// Leaves the current organization (refused for its last owner).
#[server(endpoint = "members/leave")]
pub async fn leave_organization() -> Result<(), AppError> {
    use crate::backend::members;
    super::server::in_org(async |ctx, state| members::leave(ctx, state).await).await?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}
