//! The current organization.
use leptos::prelude::*;

use crate::model::orgs::Dashboard;
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
        tx.commit().await?;
        Ok::<_, crate::backend::Error>(Dashboard { organization, role: ctx.role, members })
    };
    load.await.map_err(fail)
}
