//! The platform admins' Organizations page.
use crate::model::OrgId;
use leptos::prelude::*;

use crate::model::orgs::Plan;
use crate::model::platform::OrgAdminPage;
use crate::model::AppError;

#[cfg(feature = "ssr")]
async fn platform_admin<T>(
    work: impl AsyncFnOnce(&crate::backend::platform::PlatformAdmin<'_>) -> crate::backend::Result<T>,
) -> Result<T, AppError> {
    use super::server::{fail, request_meta, require_user, state};
    use crate::backend::platform::PlatformAdmin;

    let state = state()?;
    let user = require_user().await?;
    let admin = PlatformAdmin::new(&state.pool, &user, request_meta()).map_err(fail)?;
    work(&admin).await.map_err(fail)
}

#[server(endpoint = "platform/organizations")]
pub async fn platform_organizations(q: String, page: u32) -> Result<OrgAdminPage, AppError> {
    platform_admin(async |admin| admin.list(&q, page).await).await
}

/// Security events that belong to no organization (log-ins with unknown
/// emails), newest first, older than `before` (an id).
#[server(endpoint = "platform/security_events")]
pub async fn platform_security_events(
    #[server(default)] before: Option<i64>,
) -> Result<crate::model::audit::SecurityEventPage, AppError> {
    use crate::backend::audit::security;
    use crate::model::audit::SECURITY_PAGE_SIZE;
    platform_admin(async |admin| security::list(admin, before, SECURITY_PAGE_SIZE).await).await
}

#[server(endpoint = "platform/set_active")]
pub async fn set_organization_active(organization_id: OrgId, active: bool) -> Result<(), AppError> {
    platform_admin(async |admin| admin.set_active(organization_id, active).await).await?;
    // A deactivated organization's keys stop at once in this process.
    super::server::state()?.api_keys.forget();
    Ok(())
}

#[server(endpoint = "platform/set_plan")]
pub async fn set_organization_plan(organization_id: OrgId, plan: Plan) -> Result<(), AppError> {
    platform_admin(async |admin| admin.set_plan(organization_id, plan).await).await
}

/// Limit overrides; an empty field means "the plan's limit".
#[server(endpoint = "platform/set_limits")]
pub async fn set_organization_limits(
    organization_id: OrgId,
    #[server(default)] max_members: Option<String>,
    #[server(default)] max_codes: Option<String>,
    #[server(default)] max_webhooks: Option<String>,
    #[server(default)] max_api_keys: Option<String>,
) -> Result<(), AppError> {
    use crate::model::platform::LimitOverrides;

    fn number(field: &str, raw: Option<String>) -> Result<Option<i32>, AppError> {
        match raw.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    AppError::validation(
                        field,
                        "Use a whole number of 0 or more, or leave it empty.",
                    )
                }),
        }
    }
    let limits = LimitOverrides {
        max_members: number("max_members", max_members)?,
        max_codes: number("max_codes", max_codes)?,
        max_webhooks: number("max_webhooks", max_webhooks)?,
        max_api_keys: number("max_api_keys", max_api_keys)?,
    };
    platform_admin(async |admin| admin.set_limits(organization_id, limits).await).await
}
