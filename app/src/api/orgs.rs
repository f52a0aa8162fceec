//! The current organization.
use leptos::prelude::*;

use uuid::Uuid;

use crate::model::orgs::{Dashboard, MyOrganization, OrgOut};
use crate::model::AppError;

/// The current organization and its members.
#[server(endpoint = "orgs/dashboard")]
pub async fn get_dashboard() -> Result<Dashboard, AppError> {
    use super::server::{fail, org_context, state};
    use crate::backend::{members, orgs};
    use crate::model::Permission;

    let state = state()?;
    let ctx = org_context().await?;
    ctx.require(Permission::ReadMembers).map_err(fail)?;
    let load = async {
        let mut tx = ctx.begin(&state.pool).await?;
        let organization = orgs::get(&mut tx).await?;
        let members = members::list(&mut tx).await?;
        let usage = orgs::usage(&mut tx).await?;
        tx.commit().await?;
        Ok::<_, crate::backend::Error>(Dashboard {
            organization,
            role: ctx.role,
            members,
            usage,
        })
    };
    load.await.map_err(fail)
}

/// The signed-in user's organizations, for the switcher.
#[server(endpoint = "orgs/mine")]
pub async fn my_organizations() -> Result<Vec<MyOrganization>, AppError> {
    use super::server::{fail, require_user, state};

    let state = state()?;
    let user = require_user().await?;
    crate::backend::orgs::list_for_user(&state.pool, user.user_id)
        .await
        .map_err(fail)
}

/// Makes another of the user's organizations the current one.
#[server(endpoint = "orgs/switch")]
pub async fn switch_organization(organization_id: Uuid) -> Result<(), AppError> {
    use super::server::{fail, require_user, state};

    let state = state()?;
    let user = require_user().await?;
    crate::backend::orgs::switch(&state.pool, &user, organization_id)
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}

/// A new organization, owned by the caller, made current.
#[server(endpoint = "orgs/create")]
pub async fn create_organization(name: String) -> Result<OrgOut, AppError> {
    use super::server::{fail, request_meta, require_user, state};

    let state = state()?;
    let user = require_user().await?;
    let org = crate::backend::orgs::create_for_user(&state.pool, &user, &name, request_meta())
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/dashboard");
    Ok(org)
}

#[server(endpoint = "orgs/update")]
pub async fn update_organization(name: String, slug: String) -> Result<OrgOut, AppError> {
    use super::server::{fail, org_context, state};

    let state = state()?;
    let ctx = org_context().await?;
    crate::backend::orgs::update(&ctx, &state.pool, &name, &slug)
        .await
        .map_err(fail)
}

/// Deletes the current organization; `confirmation` must be its slug.
#[server(endpoint = "orgs/delete")]
pub async fn delete_organization(confirmation: String) -> Result<(), AppError> {
    use super::server::{fail, org_context, state};

    let state = state()?;
    let ctx = org_context().await?;
    crate::backend::orgs::delete(&ctx, &state.pool, &confirmation)
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}
