//! The current organization, and the user's other organizations.
use crate::model::OrgId;
use leptos::prelude::*;

use crate::model::orgs::{Dashboard, MyOrganization, OrgOut};
use crate::model::AppError;

/// The current organization, its members and usage.
#[server(endpoint = "orgs/dashboard")]
pub async fn get_dashboard() -> Result<Dashboard, AppError> {
    use crate::backend::orgs;
    super::server::in_org(async |ctx, state| orgs::dashboard(ctx, state).await).await
}

/// The signed-in user's organizations, for the switcher.
#[server(endpoint = "orgs/mine")]
pub async fn my_organizations() -> Result<Vec<MyOrganization>, AppError> {
    let memberships = super::server::my_memberships().await?;
    Ok(memberships.into_iter().map(|m| m.organization).collect())
}

/// Makes another of the user's organizations the current one.
#[server(endpoint = "orgs/switch")]
pub async fn switch_organization(organization_id: OrgId) -> Result<(), AppError> {
    use crate::backend::orgs;
    super::server::as_user(async |user, state| {
        orgs::switch(&state.pool, user, organization_id).await
    })
    .await?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}

/// A new organization, owned by the caller, made current.
#[server(endpoint = "orgs/create")]
pub async fn create_organization(name: String) -> Result<OrgOut, AppError> {
    use super::server::request_meta;
    use crate::backend::orgs;
    let meta = request_meta();
    let org = super::server::as_user(async |user, state| {
        orgs::create_for_user(&state.pool, user, &name, meta).await
    })
    .await?;
    leptos_axum::redirect("/dashboard");
    Ok(org)
}

#[server(endpoint = "orgs/update")]
pub async fn update_organization(name: String, slug: String) -> Result<OrgOut, AppError> {
    use crate::backend::orgs;
    let updated =
        super::server::in_org(async |ctx, state| orgs::update(ctx, state, &name, &slug).await)
            .await?;
    super::server::redirect_with_notice("/settings", "Settings saved.");
    Ok(updated)
}

/// Deletes the current organization; `confirmation` must be its slug.
#[server(endpoint = "orgs/delete")]
pub async fn delete_organization(confirmation: String) -> Result<(), AppError> {
    use crate::backend::orgs;
    super::server::in_org(async |ctx, state| orgs::delete(ctx, state, &confirmation).await).await?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}
