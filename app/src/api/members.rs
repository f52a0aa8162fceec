//! Members of the current organization: list, change role, remove, leave.
use leptos::prelude::*;
use uuid::Uuid;

use crate::model::members::{MemberOut, MembersPage};
use crate::model::{AppError, Role};

#[server(endpoint = "members/list")]
pub async fn list_members() -> Result<MembersPage, AppError> {
    use super::server::{fail, org_context, state};
    use crate::backend::members;
    use crate::model::Permission;

    let state = state()?;
    let ctx = org_context().await?;
    ctx.require(Permission::ReadMembers).map_err(fail)?;
    let load = async {
        let mut tx = ctx.begin(&state.pool).await?;
        let members = members::list(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, crate::backend::Error>(members)
    };
    let members = load.await.map_err(fail)?;
    Ok(MembersPage {
        members,
        my_role: ctx.role,
        my_user_id: ctx.user.user_id,
    })
}

#[server(endpoint = "members/change_role")]
pub async fn change_member_role(user_id: Uuid, role: Role) -> Result<MemberOut, AppError> {
    use super::server::{fail, org_context, state};

    let state = state()?;
    let ctx = org_context().await?;
    crate::backend::members::change_role(&ctx, &state.pool, user_id, role)
        .await
        .map_err(fail)
}

#[server(endpoint = "members/remove")]
pub async fn remove_member(user_id: Uuid) -> Result<(), AppError> {
    use super::server::{fail, org_context, state};

    let state = state()?;
    let ctx = org_context().await?;
    crate::backend::members::remove(&ctx, &state.pool, user_id)
        .await
        .map_err(fail)
}

/// Leaves the current organization (refused for its last owner).
#[server(endpoint = "members/leave")]
pub async fn leave_organization() -> Result<(), AppError> {
    use super::server::{fail, org_context, state};

    let state = state()?;
    let ctx = org_context().await?;
    crate::backend::members::remove(&ctx, &state.pool, ctx.user.user_id)
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}
